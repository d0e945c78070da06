//! Queueing theory through `service` nodes: a proxy with `c` workers in front of
//! `c` single-worker instances, balanced by least outstanding requests, is an
//! M/M/c station and must match Erlang C (row Q2); random balancing is not (it
//! is c separate M/M/1 queues); a closed loop obeys the interactive
//! response-time law R = N/X − Z.

mod common;

use faultline_engine::{RunReport, SimulatorOptions, run_scenario};
use serde_json::{Value, json};

fn exponential(mean_ms: f64) -> Value {
    json!({"exponential": {"mean_ms": mean_ms}})
}

/// `client -> proxy -> backend-1..c`, zero network delay. The proxy holds one
/// worker per in-flight call (`proxy_workers`) and queues the rest, like
/// HAProxy's per-server `maxconn` with a backend queue.
fn proxied_station(
    pattern: Value,
    instances: u32,
    proxy_workers: u32,
    balancer: &str,
    mean_service_ms: f64,
    duration_ms: u64,
    seed: u64,
) -> RunReport {
    let mut nodes = vec![
        json!({"id": "client", "kind": "load_generator", "properties": {"request_timeout_ms": 600000, "max_outstanding": 1000000}}),
        json!({"id": "proxy", "kind": "service", "properties": {
            "workers": proxy_workers, "queue_capacity_requests": 1000000,
            "endpoints": [{"name": "forward", "steps": [{"call": {"service": "backend"}}]}],
            "dependencies": [{"service": "backend", "load_balancer": balancer, "timeout_ms": 600000}]
        }}),
    ];
    for instance in 1..=instances {
        nodes.push(json!({"id": format!("backend-{instance}"), "kind": "service", "properties": {
            "service_name": "backend", "workers": 1, "queue_capacity_requests": 1000000,
            "endpoints": [{"name": "work", "steps": [{"compute": {"service_time": exponential(mean_service_ms)}}]}]
        }}));
    }
    let scenario = common::scenario(json!({
        "version": 1,
        "topology": {"nodes": nodes, "default_network": {"latency": {"constant": {"value_ms": 0.0}}}},
        "workload": {"streams": [{"id": "load", "client": "client", "target": "proxy", "pattern": pattern}]},
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

/// Q2 scaled from minutes to milliseconds: λ = 0.5/ms, μ = 0.2/ms (a = 2.5).
/// c = 3: P(wait) 0.702, Wq 7.02 ms; c = 4: 0.320, 1.07 ms. The wait happens
/// in the proxy's queue. Tolerances 5% (P) and 10% (Wq) over ~150k requests.
#[test]
fn least_outstanding_balancing_over_c_instances_matches_erlang_c() {
    let seed = 5;
    for (instances, wait_probability, mean_wait_ms) in [(3, 0.702, 7.02), (4, 0.320, 1.07)] {
        let pattern = json!({"open_loop": {"inter_arrival": exponential(2.0)}});
        let report = proxied_station(
            pattern,
            instances,
            instances,
            "least_outstanding",
            5.0,
            300_000,
            seed,
        );
        eprintln!("c = {instances}");
        assert_within(
            "P(wait)",
            metric(&report, "proxy", "wait_probability"),
            wait_probability,
            0.05,
            seed,
        );
        assert_within(
            "Wq (ms)",
            metric(&report, "proxy", "mean_wait_ms"),
            mean_wait_ms,
            0.10,
            seed,
        );
        for instance in 1..=instances {
            let backend_wait = metric(&report, &format!("backend-{instance}"), "mean_wait_ms");
            assert!(
                backend_wait < 1e-9,
                "an instance never queues behind least-outstanding with c proxy workers, found {backend_wait} ms (seed {seed})"
            );
        }
    }
}

/// Random balancing splits the stream into c independent M/M/1 queues at
/// ρ = 2.5/3: each has Wq = ρ/(μ − λ/c) = 25 ms, far above Erlang C's 7.02 ms.
#[test]
fn random_balancing_is_c_separate_queues_not_erlang_c() {
    let seed = 6;
    let pattern = json!({"open_loop": {"inter_arrival": exponential(2.0)}});
    let report = proxied_station(pattern, 3, 10_000, "random", 5.0, 300_000, seed);
    let mean_backend_wait: f64 = (1..=3)
        .map(|instance| metric(&report, &format!("backend-{instance}"), "mean_wait_ms"))
        .sum::<f64>()
        / 3.0;
    assert_within(
        "Wq per M/M/1 instance (ms)",
        mean_backend_wait,
        25.0,
        0.15,
        seed,
    );
    assert!(
        mean_backend_wait > 3.0 * 7.02,
        "random balancing should wait far longer than a shared queue (seed {seed})"
    );
}

/// Interactive response-time law: R = N/X − Z, with N users, think time Z
/// and throughput X, whatever the service distribution or balancing.
#[test]
fn closed_loop_through_a_balancer_obeys_the_response_time_law() {
    let seed = 7;
    let users = 20.0;
    let think_ms = 50.0;
    let pattern =
        json!({"closed_loop": {"users": users as u32, "think_time": exponential(think_ms)}});
    let report = proxied_station(pattern, 2, 1_000, "round_robin", 10.0, 200_000, seed);
    let throughput_per_ms = metric(&report, "proxy", "throughput_per_s") / 1_000.0;
    let response_ms = metric(&report, "client", "mean_latency_ms");
    let law_ms = users / throughput_per_ms - think_ms;
    eprintln!(
        "X = {:.2}/s, R = {response_ms:.3} ms, N/X − Z = {law_ms:.3} ms",
        throughput_per_ms * 1_000.0
    );
    assert_within("R against N/X − Z", response_ms, law_ms, 0.03, seed);
}
