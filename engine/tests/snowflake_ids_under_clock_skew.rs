//! Snowflake ids under a clock stepped backwards: with `unsafe_issue` the generator repeats ids it already handed out; `wait` and `refuse` never do, and the backwards step is visible as a fact either way.
//!
//! One load generator asks one `snowflake` generator for an id about every
//! millisecond; at 2 s the generator's clock is stepped back 300 ms (an NTP
//! correction, the `clock_skew` fault).

mod common;

use faultline_engine::checkers::{CheckResult, CheckStatus};
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::json;

fn scenario(policy: &str, skew_ms: f64) -> Scenario {
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": [
            {"id": "clients", "kind": "load_generator", "properties": {"max_outstanding": 10_000}},
            {"id": "ids", "kind": "snowflake", "properties": {"worker_id": 7, "on_clock_backwards": policy}}
        ], "default_network": {"latency": {"constant": {"value_ms": 0.5}}}},
        "workload": {"streams": [{"id": "ids", "client": "clients", "target": "ids",
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": 1.0}}}}}]},
        "faults": {"timeline": [{"at_ms": 2_000, "action": {"clock_skew": {"node": "ids", "offset_ms": skew_ms}}}]},
        "run": {"seed": 5, "duration_ms": 4_000}
    }))
}

struct Outcome {
    results: Vec<CheckResult>,
    lines: Vec<String>,
    summary: Vec<(&'static str, f64)>,
    seed: u64,
}

fn run(scenario: &Scenario) -> Outcome {
    let mut simulator = Simulator::with_options(
        scenario,
        SimulatorOptions {
            record_full_trace: true,
            ..Default::default()
        },
    )
    .expect("valid");
    simulator.run_to_end();
    let node = simulator.node_id("ids").expect("node");
    Outcome {
        results: simulator.check_results(),
        summary: simulator.node_summary(node),
        lines: simulator.trace_mut().take_full_record().unwrap_or_default(),
        seed: simulator.seed(),
    }
}

impl Outcome {
    fn status(&self, name: &str) -> (CheckStatus, String) {
        let result = self
            .results
            .iter()
            .find(|result| result.name == name)
            .unwrap_or_else(|| panic!("checker {name} registered"));
        (result.status, result.detail.clone())
    }
    fn summary(&self, name: &str) -> f64 {
        self.summary
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| *value)
            .unwrap_or_else(|| panic!("no summary {name}"))
    }
}

#[test]
fn clock_stepped_back_with_the_unsafe_policy_repeats_ids() {
    let outcome = run(&scenario("unsafe_issue", -300.0));
    let (status, detail) = outcome.status("unique_ids");
    assert_eq!(
        status,
        CheckStatus::Fail,
        "seed {}: no duplicate",
        outcome.seed
    );
    assert!(
        detail.contains("issued again"),
        "seed {}: {detail}",
        outcome.seed
    );
    assert_eq!(
        outcome.status("ids_monotonic_per_worker").0,
        CheckStatus::Fail,
        "seed {}",
        outcome.seed
    );
    assert_eq!(
        common::count(
            &outcome.lines,
            &["clock_backwards by=", "policy=unsafe_issue"],
            2.0..2.1
        ),
        1,
        "seed {}: the backwards step must be visible",
        outcome.seed
    );
}

#[test]
fn clock_stepped_back_with_wait_or_refuse_never_repeats_an_id() {
    for policy in ["wait", "refuse"] {
        let outcome = run(&scenario(policy, -300.0));
        for name in ["unique_ids", "ids_monotonic_per_worker"] {
            assert_eq!(
                outcome.status(name),
                (CheckStatus::Pass, String::new()),
                "seed {}: {policy}: {name}",
                outcome.seed
            );
        }
        assert_eq!(
            common::count(&outcome.lines, &["clock_backwards by="], 2.0..2.1),
            1,
            "seed {}: {policy}: the backwards step must be visible",
            outcome.seed
        );
        let refused = outcome.summary("requests_refused");
        if policy == "refuse" {
            // About 300 requests arrive while the clock is behind.
            assert!(
                (200.0..400.0).contains(&refused),
                "seed {}: {refused} refused",
                outcome.seed
            );
        } else {
            assert_eq!(refused, 0.0, "seed {}: wait refuses nothing", outcome.seed);
        }
        assert!(
            outcome.summary("ids_issued") > 3_000.0,
            "seed {}",
            outcome.seed
        );
    }
}

#[test]
fn clock_stepped_forward_is_harmless() {
    let outcome = run(&scenario("unsafe_issue", 300.0));
    for name in ["unique_ids", "ids_monotonic_per_worker"] {
        assert_eq!(
            outcome.status(name).0,
            CheckStatus::Pass,
            "seed {}: {name}",
            outcome.seed
        );
    }
}
