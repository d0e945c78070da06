//! Determinism: the same scenario and seed give the same trace digest; seeds matter; golden digests pin native = wasm32.

mod common;

use common::{EXAMPLES, example_digest, golden_digest};

#[test]
fn same_seed_gives_same_digest_twice() {
    for (name, _) in EXAMPLES {
        assert_eq!(
            example_digest(name, None),
            example_digest(name, None),
            "{name} is not deterministic"
        );
    }
}

#[test]
fn different_seeds_give_different_digests() {
    for (name, _) in EXAMPLES {
        let first = example_digest(name, Some(1));
        let second = example_digest(name, Some(2));
        assert_ne!(first, second, "{name}: seeds 1 and 2 gave the same run");
    }
}

/// The digests in `tests/golden/digests.txt` are checked here natively and in
/// `wasm_determinism.rs` on wasm32: both passing means both platforms agree.
/// After an intentional behaviour change, rerun with `UPDATE_GOLDEN=1`.
#[test]
fn native_digests_match_golden_file() {
    let mut lines = Vec::new();
    let mut mismatches = Vec::new();
    for (name, _) in EXAMPLES {
        let digest = example_digest(name, None);
        if golden_digest(name) != Some(digest.as_str()) {
            mismatches.push(format!(
                "{name}: golden {:?}, native {digest}",
                golden_digest(name)
            ));
        }
        lines.push(format!("{name} {digest}"));
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/digests.txt");
        std::fs::write(path, lines.join("\n") + "\n").expect("write golden digests");
        return;
    }
    assert!(
        mismatches.is_empty(),
        "digests changed (UPDATE_GOLDEN=1 to accept):\n{}",
        mismatches.join("\n")
    );
}
