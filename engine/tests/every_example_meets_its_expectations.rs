//! Every example in `public/scenarios/index.json` does what its description says: it parses, and every expectation it declares (checker verdicts, metric ranges) holds when it runs to the end with its own seed.

use faultline_engine::Simulator;
use faultline_engine::report::RunReport;
use faultline_engine::scenario::parse_scenario;
use std::path::PathBuf;

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../public/scenarios")
}

#[test]
fn every_listed_example_meets_its_expectations() {
    let index_text = std::fs::read_to_string(scenarios_dir().join("index.json")).expect("index");
    let index: Vec<serde_json::Value> = serde_json::from_str(&index_text).expect("index parses");
    assert!(index.len() >= 30, "only {} examples listed", index.len());
    let mut failures = Vec::new();
    let mut with_expectations = 0;
    for entry in &index {
        let file = entry["file"].as_str().expect("file");
        let text = std::fs::read_to_string(scenarios_dir().join(file))
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        let scenario = parse_scenario(&text)
            .unwrap_or_else(|problems| panic!("{file} is invalid:\n{problems}"));
        // An example without expectations could silently stop showing what
        // its description promises.
        if scenario.expectations.is_empty() {
            failures.push(format!("{file} declares no expectations"));
            continue;
        }
        with_expectations += 1;
        let mut simulator = Simulator::new(&scenario).expect("valid");
        simulator.run_to_end();
        let report = RunReport::from_simulator(&simulator);
        for result in report.expectations.iter().filter(|result| !result.met) {
            failures.push(format!(
                "{file}, seed {}: {} (actual {})",
                report.seed, result.expectation, result.actual
            ));
        }
    }
    assert!(
        with_expectations >= 20,
        "only {with_expectations} examples declare expectations"
    );
    assert!(
        failures.is_empty(),
        "unmet expectations:\n{}",
        failures.join("\n")
    );
}
