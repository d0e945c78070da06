//! wasm32 half of the determinism proof: the examples' digests equal the golden (native) ones.
//! Run with `cargo test -p faultline-engine --target wasm32-unknown-unknown --test wasm_determinism`.
#![cfg(target_arch = "wasm32")]

mod common;

use common::{EXAMPLES, example_digest, golden_digest};
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
fn wasm_digests_match_native_golden_digests() {
    for (name, _) in EXAMPLES {
        let digest = example_digest(name, None);
        assert_eq!(
            Some(digest.as_str()),
            golden_digest(name),
            "{name}: wasm32 digest differs from the native golden digest"
        );
    }
}

#[wasm_bindgen_test]
fn wasm_same_seed_same_digest() {
    let (name, _) = EXAMPLES[2];
    assert_eq!(example_digest(name, Some(5)), example_digest(name, Some(5)));
}
