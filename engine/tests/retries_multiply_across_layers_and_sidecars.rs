//! Retry amplification: when the last service of a chain fails, every layer's retries multiply. Three application retry layers (3 tries each) send 3 × 3 = 9 tries to the failing service per request through a two-hop chain; adding sidecar proxies that retry 3 times under each application (service-mesh mode) makes it 9 × 9 = 81.
//!
//! Issue 5 ("Sidecar/mesh mode: a per-instance proxy applies the resilience
//! policies, so retry amplification across layers becomes visible"). The
//! failing service answers every request with an error, so the counts are
//! exact: the arrivals at the bottom service per client request equal the
//! product of the tries per hop. The application's circuit breaker sees one
//! result per application attempt, not one per sidecar try.

mod common;

use faultline_engine::report::RunReport;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};

/// client → front → middle → bottom; bottom always answers with an error.
/// `policies` is merged into both callers' dependency entries.
fn chain(policies: Value, seed: u64) -> Scenario {
    let dependency = |service: &str| {
        // Long enough that no try times out: every failure is the bottom's error.
        let mut entry = json!({"service": service, "timeout_ms": 30_000});
        for (key, value) in policies.as_object().expect("object") {
            entry[key] = value.clone();
        }
        entry
    };
    let service = |id: &str, steps: Value, dependencies: Value, error_probability: f64| {
        json!({"id": id, "kind": "service", "properties": {
            "service_name": id, "workers": 1_000, "queue_capacity_requests": 10_000,
            "endpoints": [{"name": "work", "steps": steps, "error_probability": error_probability}],
            "dependencies": dependencies}})
    };
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": [
            {"id": "client", "kind": "load_generator", "properties": {"request_timeout_ms": 60_000}},
            service("front", json!([{"call": {"service": "middle"}}]), json!([dependency("middle")]), 0.0),
            service("middle", json!([{"call": {"service": "bottom"}}]), json!([dependency("bottom")]), 0.0),
            service("bottom", json!([{"compute": {"service_time": {"constant": {"value_ms": 1.0}}}}]), json!([]), 1.0)
        ], "default_network": {"latency": {"constant": {"value_ms": 1.0}}}},
        "workload": {"streams": [{"id": "requests", "client": "client", "target": "front", "stop_ms": 1_000,
            "pattern": {"open_loop": {"inter_arrival": {"constant": {"value_ms": 100.0}}}}}]},
        "run": {"seed": seed, "duration_ms": 60_000}
    }))
}

fn run(scenario: &Scenario) -> RunReport {
    let mut simulator = Simulator::new(scenario).expect("valid");
    simulator.run_to_end();
    RunReport::from_simulator(&simulator)
}

fn tries_at_bottom_per_request(report: &RunReport) -> f64 {
    let requests = report.nodes["client"]["sent"];
    assert!(requests >= 5.0, "only {requests} requests sent");
    report.nodes["bottom"]["arrivals"] / requests
}

#[test]
fn application_retries_multiply_per_hop() {
    let seed = 1;
    let none = run(&chain(json!({}), seed));
    assert_eq!(tries_at_bottom_per_request(&none), 1.0, "seed {seed}");
    let app = run(&chain(
        json!({"retry": {"max_attempts": 3, "base_ms": 10.0, "cap_ms": 100.0}}),
        seed,
    ));
    assert_eq!(
        tries_at_bottom_per_request(&app),
        9.0,
        "seed {seed}: 3 tries at each of two hops"
    );
    assert_eq!(app.nodes["client"]["ok"], 0.0, "seed {seed}");
}

#[test]
fn sidecar_retries_multiply_under_application_retries() {
    let seed = 1;
    let mesh = run(&chain(
        json!({"retry": {"max_attempts": 3, "base_ms": 10.0, "cap_ms": 100.0},
               "sidecar_retry": {"max_attempts": 3, "base_ms": 25.0, "cap_ms": 250.0}}),
        seed,
    ));
    assert_eq!(
        tries_at_bottom_per_request(&mesh),
        81.0,
        "seed {seed}: (3 application × 3 sidecar) tries at each of two hops"
    );
    // Every application attempt is 3 tries on the wire, 2 of them the sidecar's.
    let middle_attempts = mesh.nodes["middle"]["call_attempts"];
    assert_eq!(
        mesh.nodes["middle"]["sidecar_retries"],
        middle_attempts * 2.0 / 3.0,
        "seed {seed}"
    );
    let sidecar_only = run(&chain(
        json!({"sidecar_retry": {"max_attempts": 3, "base_ms": 25.0, "cap_ms": 250.0}}),
        seed,
    ));
    assert_eq!(
        tries_at_bottom_per_request(&sidecar_only),
        9.0,
        "seed {seed}"
    );
}

/// The application's breaker counts application attempts: with sidecar
/// retries below it, the same failures open it after the same number of
/// application calls, while the wire carries three times as many tries.
#[test]
fn the_application_breaker_sees_one_result_per_application_attempt() {
    let seed = 1;
    let breaker = json!({"custom": {"sliding_window": {"count_based": {"size_calls": 5}},
        "minimum_number_of_calls": 5, "failure_rate_threshold_percent": 50.0,
        "slow_call_rate_threshold_percent": 100.0, "permitted_number_of_calls_in_half_open_state": 1,
        "automatic_transition_from_open_to_half_open": false,
        "wait_duration_in_open_state_ms": 60_000}});
    let plain = run(&chain(json!({"circuit_breaker": breaker.clone()}), seed));
    let mesh = run(&chain(
        json!({"circuit_breaker": breaker,
               "sidecar_retry": {"max_attempts": 3, "base_ms": 25.0, "cap_ms": 250.0}}),
        seed,
    ));
    let passed = |report: &RunReport| {
        report.nodes["middle"]["calls"] - report.nodes["middle"]["short_circuited"]
    };
    assert_eq!(
        passed(&plain),
        5.0,
        "seed {seed}: the breaker opens after 5 calls"
    );
    assert_eq!(
        passed(&mesh),
        passed(&plain),
        "seed {seed}: sidecar tries must not count as breaker calls"
    );
    assert_eq!(
        mesh.nodes["bottom"]["arrivals"],
        3.0 * plain.nodes["bottom"]["arrivals"],
        "seed {seed}"
    );
}

#[test]
fn a_sidecar_retry_budget_is_refused_with_its_path() {
    let Err(problems) = faultline_engine::scenario::parse_scenario_value({
        let mut scenario = serde_json::to_value(chain(json!({}), 1)).expect("json");
        scenario["topology"]["nodes"][1]["properties"]["dependencies"][0]["sidecar_retry"] =
            json!({"max_attempts": 3, "budget": {"percent_can_retry": 20.0}});
        scenario
    }) else {
        panic!("a sidecar budget must be refused");
    };
    let text = problems.to_string();
    assert!(
        text.contains("topology.nodes[1].properties.dependencies[0].sidecar_retry.budget"),
        "{text}"
    );
}
