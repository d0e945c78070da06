//! The `faultline` binary: exit codes, the JSON report's fields, traces and the nemesis table.

use std::path::PathBuf;
use std::process::{Command, Output};

fn faultline(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(arguments)
        .output()
        .expect("faultline runs")
}

fn example(name: &str) -> String {
    format!(
        "{}/../public/scenarios/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn temporary(name: &str, contents: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("faultline-cli-test-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).expect("write temp file");
    path
}

#[test]
fn validate_accepts_every_example() {
    for name in [
        "mm1-queue",
        "mmc-erlang-c",
        "three-node-chain-partition",
        "closed-loop-nemesis",
    ] {
        let output = faultline(&["validate", &example(name)]);
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn validate_prints_every_problem_and_exits_2() {
    let broken = r#"{"version": 1, "topology": {"nodes": [{"id": "a", "kind": "sink", "properties": {"workers": 0, "service_time": {"constant": {"value_ms": 1}}}}],
        "links": [{"from": "a", "to": "b"}]}, "run": {"seed": 1, "duration_ms": 0}}"#;
    let path = temporary("broken.json", broken);
    let output = faultline(&["validate", path.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "run.duration_ms",
        "topology.nodes[0].properties.workers",
        "topology.links[0].to: no node \"b\"",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}

#[test]
fn run_json_report_has_the_documented_fields() {
    let output = faultline(&[
        "run",
        &example("three-node-chain-partition"),
        "--format",
        "json",
        "--until",
        "12s",
    ]);
    assert!(
        output.status.success() || output.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    for field in [
        "seed",
        "digest",
        "sim_time_us",
        "events",
        "wall_ms",
        "checks",
        "nodes",
    ] {
        assert!(report.get(field).is_some(), "report lacks {field}");
    }
    assert_eq!(report["sim_time_us"], 12_000_000);
    for check in report["checks"].as_array().expect("checks") {
        for field in ["name", "property", "status", "first_violation_us", "detail"] {
            assert!(check.get(field).is_some(), "check lacks {field}: {check}");
        }
    }
    assert!(report["nodes"]["api"]["mean_sojourn_ms"].is_number());
}

#[test]
fn run_exits_1_when_an_expectation_fails_and_names_the_seed() {
    // The partition example expects errors at the API; stopping at 5 s (before
    // the partition) leaves that expectation unmet.
    let output = faultline(&[
        "run",
        &example("three-node-chain-partition"),
        "--until",
        "5s",
        "--seed",
        "99",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--seed 99"),
        "the failure must print its seed: {stderr}"
    );
}

#[test]
fn seed_flag_changes_the_digest_and_trace_file_is_written() {
    let trace = std::env::temp_dir().join(format!(
        "faultline-cli-test-{}-trace.txt",
        std::process::id()
    ));
    let digest = |seed: &str| {
        let output = faultline(&[
            "run",
            &example("mm1-queue"),
            "--until",
            "1s",
            "--seed",
            seed,
            "--format",
            "json",
            "--trace",
            trace.to_str().expect("utf-8"),
        ]);
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("JSON report");
        report["digest"].as_str().expect("digest").to_string()
    };
    assert_ne!(digest("1"), digest("2"));
    assert_eq!(digest("3"), digest("3"));
    let lines = std::fs::read_to_string(&trace).expect("trace written");
    assert!(
        lines
            .lines()
            .next()
            .expect("a line")
            .starts_with("0.000000s #0 start ")
    );
}

#[test]
fn nemesis_sweep_prints_a_table_row_per_seed() {
    let output = faultline(&[
        "nemesis",
        &example("closed-loop-nemesis"),
        "--seeds",
        "1..3",
        "--format",
        "json",
    ]);
    let table: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON table");
    let rows = table.as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["seed"], 1);
    assert!(
        rows.iter().all(|row| row["violated"]
            .as_array()
            .is_some_and(|violated| violated.is_empty())),
        "{table}"
    );
    assert!(output.status.success());
}

#[test]
fn published_schema_matches_the_types() {
    let output = faultline(&["schema"]);
    let generated = String::from_utf8(output.stdout).expect("utf-8");
    let path = format!(
        "{}/../public/scenario.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
        return;
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == generated,
        "public/scenario.schema.json is stale; regenerate with UPDATE_GOLDEN=1 cargo test --test cli"
    );
}
