//! Queueing theory: load generator + sink must match closed forms (source rows Q1, Q2, Q3 in
//! shared/reference/expected-outcomes.md) over long runs, within the tolerances stated per test.

mod common;

use faultline_engine::{RunReport, SimulatorOptions, run_scenario};
use serde_json::json;

/// An open-loop Poisson source into a `workers`-server FIFO station, zero network delay.
fn station(
    mean_inter_arrival_ms: f64,
    mean_service_ms: f64,
    workers: u32,
    duration_ms: u64,
    seed: u64,
) -> RunReport {
    let scenario = common::scenario(json!({
        "version": 1,
        "topology": {
            "nodes": [
                {"id": "source", "kind": "load_generator", "properties": {"request_timeout_ms": 600000, "max_outstanding": 1000000}},
                {"id": "station", "kind": "sink", "properties": {
                    "workers": workers, "queue_capacity": 1000000,
                    "service_time": {"exponential": {"mean_ms": mean_service_ms}}}}
            ],
            "links": [{"from": "source", "to": "station", "network": {"latency": {"constant": {"value_ms": 0.0}}}}]
        },
        "workload": {"streams": [{"id": "poisson", "client": "source", "target": "station",
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": mean_inter_arrival_ms}}}}}]},
        "run": {"seed": seed, "duration_ms": duration_ms, "sample_interval_ms": 10000}
    }));
    run_scenario(&scenario, SimulatorOptions::default()).expect("valid scenario")
}

fn metric(report: &RunReport, node: &str, name: &str) -> f64 {
    report.nodes[node][name]
}

fn assert_within(label: &str, observed: f64, expected: f64, relative_tolerance: f64, seed: u64) {
    let error = (observed - expected).abs() / expected;
    eprintln!(
        "{label}: observed {observed:.4}, closed form {expected:.4}, error {:.2}%",
        error * 100.0
    );
    assert!(
        error <= relative_tolerance,
        "{label}: observed {observed:.4}, closed form {expected:.4}, error {:.2}% > {:.0}% (seed {seed})",
        error * 100.0,
        relative_tolerance * 100.0
    );
}

/// Q1: M/M/1 at ρ = 0.8 (λ = 0.8/ms, μ = 1/ms): L = 4, W = 5 ms, utilisation 0.8.
/// Tolerance 5% on L and W: over 600 s (~480k customers) seeds 1–6 land within ±2.5%.
#[test]
fn mm1_matches_closed_form_at_rho_0_8() {
    let seed = 11;
    let report = station(1.25, 1.0, 1, 600_000, seed);
    assert_within(
        "utilisation",
        metric(&report, "station", "utilisation"),
        0.8,
        0.02,
        seed,
    );
    assert_within(
        "L (mean in system)",
        metric(&report, "station", "mean_in_system"),
        4.0,
        0.05,
        seed,
    );
    assert_within(
        "W (mean sojourn, ms)",
        metric(&report, "station", "mean_sojourn_ms"),
        5.0,
        0.05,
        seed,
    );
}

/// Q2: M/M/c with λ = 0.5, μ = 0.2 (a = 2.5), time unit 1 ms.
/// c = 3: P(wait) = 0.702, Wq = 7.02; c = 4: P(wait) = 0.320, Wq = 1.07.
/// Tolerance: P(wait) ±0.03 absolute, Wq ±10% (it is the noisiest statistic).
#[test]
fn mmc_matches_erlang_c_for_three_and_four_servers() {
    for (workers, wait_probability, mean_wait_ms) in [(3, 0.702, 7.02), (4, 0.320, 1.07)] {
        let seed = 5;
        let report = station(2.0, 5.0, workers, 400_000, seed);
        let observed_probability = metric(&report, "station", "wait_probability");
        eprintln!(
            "c={workers}: P(wait) observed {observed_probability:.4}, Erlang C {wait_probability}"
        );
        assert!(
            (observed_probability - wait_probability).abs() <= 0.03,
            "c={workers}: P(wait) observed {observed_probability:.4}, Erlang C {wait_probability} (seed {seed})"
        );
        assert_within(
            &format!("c={workers}: Wq (ms)"),
            metric(&report, "station", "mean_wait_ms"),
            mean_wait_ms,
            0.10,
            seed,
        );
    }
}

/// Q3: Little's law L = λW, with L from the time integral and λ, W from
/// per-customer counts: two independent measurements of one run. 1% tolerance
/// (they differ only by customers still in the system at the end).
#[test]
fn littles_law_holds_for_independent_measurements() {
    for (workers, seed) in [(1, 21), (3, 22)] {
        let report = station(1.25 * workers as f64, 1.0, workers, 200_000, seed);
        let throughput_per_ms = metric(&report, "station", "throughput_per_s") / 1_000.0;
        let littles = throughput_per_ms * metric(&report, "station", "mean_sojourn_ms");
        assert_within(
            &format!("c={workers}: L vs λW"),
            metric(&report, "station", "mean_in_system"),
            littles,
            0.01,
            seed,
        );
    }
}

/// The interactive response-time law for a closed loop: R = N/X − Z.
/// N = 20 users, Z = 50 ms think time; R and X measured at the clients. 2% tolerance.
#[test]
fn closed_loop_obeys_interactive_response_time_law() {
    let seed = 9;
    let scenario = common::scenario(json!({
        "version": 1,
        "topology": {
            "nodes": [
                {"id": "users", "kind": "load_generator", "properties": {"request_timeout_ms": 600000}},
                {"id": "web", "kind": "sink", "properties": {"workers": 3, "service_time": {"exponential": {"mean_ms": 10.0}}}}
            ],
            "links": [{"from": "users", "to": "web", "network": {"latency": {"constant": {"value_ms": 1.0}}}}]
        },
        "workload": {"streams": [{"id": "users", "client": "users", "target": "web",
            "pattern": {"closed_loop": {"users": 20, "think_time": {"exponential": {"mean_ms": 50.0}}}}}]},
        "run": {"seed": seed, "duration_ms": 300000, "sample_interval_ms": 10000}
    }));
    let report = run_scenario(&scenario, SimulatorOptions::default()).expect("valid");
    let throughput_per_ms = metric(&report, "users", "ok") / 300_000.0;
    let response_ms = metric(&report, "users", "mean_latency_ms");
    let predicted_response_ms = 20.0 / throughput_per_ms - 50.0;
    assert_within(
        "R vs N/X - Z",
        response_ms,
        predicted_response_ms,
        0.02,
        seed,
    );
}
