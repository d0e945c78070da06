//! Cascade failure: `edge -> orders -> inventory`. When `inventory` hangs (its
//! queue is deep, so it accepts work it will not finish in time), the
//! thread-per-request workers of `orders` all wait on it, its queue fills, and
//! `edge` fails too: one slow leaf takes the whole request path down. A tight
//! timeout plus a circuit breaker with a fallback on `orders -> inventory`
//! contains it: `orders` answers at once with a degraded response, and the
//! breaker walks closed → open → half-open → closed when `inventory` recovers.

mod common;

use faultline_engine::{Simulator, SimulatorOptions};
use serde_json::{Value, json};

struct Outcome {
    lines: Vec<String>,
    ok_before: f64,
    ok_during: f64,
    ok_after: f64,
    edge_rejected: f64,
    orders_fallbacks: f64,
    orders_short_circuited: f64,
}

fn run_cascade(inventory_policy: Value, seed: u64) -> Outcome {
    let service = |id: &str, workers: u32, queue: u32, steps: Value, dependencies: Value| {
        json!({"id": id, "kind": "service", "properties": {
            "workers": workers, "queue_capacity_requests": queue,
            "endpoints": [{"name": "handle", "steps": steps}],
            "dependencies": dependencies
        }})
    };
    let compute =
        |mean_ms: f64| json!({"compute": {"service_time": {"exponential": {"mean_ms": mean_ms}}}});
    let scenario = common::scenario(json!({
        "version": 1,
        "topology": {
            "nodes": [
                {"id": "client", "kind": "load_generator", "properties": {"request_timeout_ms": 10000, "max_outstanding": 100000}},
                service("edge", 40, 50, json!([compute(1.0), {"call": {"service": "orders"}}]),
                    json!([{"service": "orders", "timeout_ms": 5000}])),
                service("orders", 20, 50, json!([compute(2.0), {"call": {"service": "inventory"}}]),
                    json!([inventory_policy])),
                service("inventory", 20, 10000, json!([compute(5.0)]), json!([]))
            ],
            "default_network": {"latency": {"constant": {"value_ms": 0.5}}}
        },
        "workload": {"streams": [{"id": "load", "client": "client", "target": "edge",
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": 10.0}}}}}]},
        "faults": {"timeline": [
            {"at_ms": 5000, "action": {"slow": {"node": "inventory", "factor": 1000.0}}},
            {"at_ms": 15000, "action": {"slow": {"node": "inventory", "factor": 1.0}}}
        ]},
        "run": {"seed": seed, "duration_ms": 40000, "sample_interval_ms": 1000}
    }));
    let mut simulator = Simulator::with_options(
        &scenario,
        SimulatorOptions {
            record_full_trace: true,
            ..Default::default()
        },
    )
    .expect("valid");
    simulator.run_to_end();
    let report = faultline_engine::RunReport::from_simulator(&simulator);
    let lines = simulator.trace_mut().take_full_record().expect("recorded");
    let share_ok = |window: std::ops::Range<f64>| {
        let sent = common::count(&lines, &["send", "client->edge"], window.clone()) as f64;
        let ok = lines
            .iter()
            .filter(|line| {
                line.contains("deliver")
                    && line.contains("edge->client")
                    && line.ends_with(" ok")
                    && window.contains(&common::seconds(line))
            })
            .count() as f64;
        ok / sent
    };
    let orders = &report.nodes["orders"];
    Outcome {
        ok_before: share_ok(1.0..5.0),
        ok_during: share_ok(6.0..15.0),
        ok_after: share_ok(30.0..40.0),
        edge_rejected: report.nodes["edge"]["rejected"],
        orders_fallbacks: orders["fallbacks"],
        orders_short_circuited: orders["short_circuited"],
        lines,
    }
}

fn print(label: &str, outcome: &Outcome) {
    eprintln!(
        "{label:<34} ok before {:>5.1}%  during {:>5.1}%  after {:>5.1}%  edge rejected {:>6}  fallbacks {:>6}  short-circuited {:>6}",
        outcome.ok_before * 100.0,
        outcome.ok_during * 100.0,
        outcome.ok_after * 100.0,
        outcome.edge_rejected,
        outcome.orders_fallbacks,
        outcome.orders_short_circuited
    );
}

#[test]
fn a_hung_leaf_service_fails_every_request_through_two_healthy_tiers() {
    let seed = 31;
    let outcome = run_cascade(json!({"service": "inventory", "timeout_ms": 5000}), seed);
    print("no protection (5 s timeout)", &outcome);
    assert!(outcome.ok_before > 0.99, "healthy before (seed {seed})");
    assert!(
        outcome.ok_during < 0.2,
        "the hang cascades to the client, ok {:.1}% (seed {seed})",
        outcome.ok_during * 100.0
    );
    assert!(
        outcome.edge_rejected > 100.0,
        "the hang climbs two tiers: edge's workers all wait on orders, which waits on inventory, and edge's queue overflows (seed {seed})"
    );
}

#[test]
fn timeout_breaker_and_fallback_keep_the_path_up_and_the_breaker_cycles_back_to_closed() {
    let seed = 31;
    let protected = json!({
        "service": "inventory", "timeout_ms": 50,
        "circuit_breaker": {"custom": {
            "sliding_window": {"count_based": {"size_calls": 20}},
            "minimum_number_of_calls": 10,
            "failure_rate_threshold_percent": 50.0,
            "slow_call_rate_threshold_percent": 100.0,
            "wait_duration_in_open_state_ms": 2000,
            "permitted_number_of_calls_in_half_open_state": 3,
            "automatic_transition_from_open_to_half_open": false
        }},
        "fallback": "default_response"
    });
    let outcome = run_cascade(protected, seed);
    print("timeout 50 ms + breaker + fallback", &outcome);
    assert!(outcome.ok_before > 0.99, "healthy before (seed {seed})");
    assert!(
        outcome.ok_during > 0.95,
        "the client keeps getting (degraded) answers, ok {:.1}% (seed {seed})",
        outcome.ok_during * 100.0
    );
    assert!(outcome.ok_after > 0.99, "healthy after (seed {seed})");
    assert!(
        outcome.orders_short_circuited > 100.0 && outcome.orders_fallbacks > 100.0,
        "the open breaker short-circuits calls and the fallback answers them (seed {seed})"
    );
    let transitions: Vec<&String> = outcome
        .lines
        .iter()
        .filter(|line| line.contains("fact orders circuit_breaker inventory"))
        .collect();
    for line in &transitions {
        eprintln!("{line}");
    }
    let first = |needle: &str| {
        transitions
            .iter()
            .position(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} transition (seed {seed})"))
    };
    let opened = first("closed->open");
    let half_open = first("open->half_open");
    let closed_again = transitions
        .iter()
        .rposition(|line| line.contains("half_open->closed"))
        .unwrap_or_else(|| panic!("never closed again (seed {seed})"));
    assert!(opened < half_open && half_open < closed_again);
    assert!(
        common::seconds(transitions[opened]) < 6.0,
        "opens within a second of the hang (seed {seed})"
    );
    assert!(
        common::seconds(transitions[closed_again]) >= 15.0,
        "closes only after inventory recovered (seed {seed})"
    );
    assert!(
        transitions
            .last()
            .is_some_and(|line| line.contains("->closed")),
        "ends closed (seed {seed})"
    );
}

fn breaker_lines(outcome: &Outcome) -> Vec<&String> {
    outcome
        .lines
        .iter()
        .filter(|line| line.contains("fact orders circuit_breaker inventory"))
        .collect()
}

#[test]
fn automatic_transition_moves_to_half_open_exactly_when_the_wait_ends() {
    let seed = 32;
    let policy = json!({
        "service": "inventory", "timeout_ms": 50,
        "circuit_breaker": {"custom": {
            "sliding_window": {"count_based": {"size_calls": 20}},
            "minimum_number_of_calls": 10,
            "failure_rate_threshold_percent": 50.0,
            "slow_call_rate_threshold_percent": 100.0,
            "wait_duration_in_open_state_ms": 2000,
            "permitted_number_of_calls_in_half_open_state": 3,
            "automatic_transition_from_open_to_half_open": true
        }},
        "fallback": "default_response"
    });
    let outcome = run_cascade(policy, seed);
    let lines = breaker_lines(&outcome);
    let opened = lines
        .iter()
        .position(|line| line.contains("closed->open"))
        .unwrap_or_else(|| panic!("never opened (seed {seed})"));
    let next = lines[opened + 1];
    eprintln!("{}\n{next}", lines[opened]);
    assert!(next.contains("open->half_open (wait duration in open state elapsed)"));
    let waited = common::seconds(next) - common::seconds(lines[opened]);
    assert!(
        (waited - 2.0).abs() < 1e-6,
        "half-open after exactly 2 s by timer, found {waited} s (seed {seed})"
    );
}

#[test]
fn hystrix_preset_opens_only_once_20_requests_in_the_rolling_10_s_have_failed_half() {
    let seed = 33;
    let policy = json!({"service": "inventory", "timeout_ms": 50,
        "circuit_breaker": "hystrix_defaults", "fallback": "default_response"});
    let outcome = run_cascade(policy, seed);
    let lines = breaker_lines(&outcome);
    for line in &lines {
        eprintln!("{line}");
    }
    let first = lines
        .first()
        .unwrap_or_else(|| panic!("never opened (seed {seed})"));
    // Healthy calls before the hang fill the 10 s window, so it opens once
    // failures reach half of everything in the window: 5 s of ~100/s successes
    // need ~500 failures (~5 s of timeouts).
    assert!(first.contains("closed->open"));
    assert!(
        first.contains("failure rate 50.0%"),
        "opens at exactly the threshold: {first} (seed {seed})"
    );
    let opened_at = common::seconds(first);
    assert!(
        (9.0..11.0).contains(&opened_at),
        "opened at {opened_at} s (seed {seed})"
    );
    // Sleep window 5 s, one trial call.
    assert!(lines[1].contains("open->half_open"));
    assert!(common::seconds(lines[1]) - opened_at >= 5.0);
    assert!(
        lines[2].contains("over 1 calls"),
        "one trial call decides: {} (seed {seed})",
        lines[2]
    );
}

/// Sweep: the protected chain over 100 seeds. Run with `--ignored --nocapture`
/// to print the table; any seed where clients saw under 95% ok answers during
/// the hang, or where the breaker did not end closed, is a violation.
#[test]
#[ignore]
fn sweep_breaker_protection_holds_for_100_seeds() {
    let protected = json!({
        "service": "inventory", "timeout_ms": 50,
        "circuit_breaker": {"custom": {
            "sliding_window": {"count_based": {"size_calls": 20}},
            "minimum_number_of_calls": 10,
            "failure_rate_threshold_percent": 50.0,
            "slow_call_rate_threshold_percent": 100.0,
            "wait_duration_in_open_state_ms": 2000,
            "permitted_number_of_calls_in_half_open_state": 3
        }},
        "fallback": "default_response"
    });
    let mut violations = Vec::new();
    let mut worst_during: f64 = 1.0;
    for seed in 1..=100 {
        let outcome = run_cascade(protected.clone(), seed);
        let lines = breaker_lines(&outcome);
        let ends_closed = lines.last().is_some_and(|line| line.contains("->closed"));
        worst_during = worst_during.min(outcome.ok_during);
        if outcome.ok_during < 0.95 || !ends_closed {
            violations.push(seed);
        }
    }
    eprintln!(
        "timeout + breaker + fallback | seeds 1-100 | violations {} {violations:?} | worst ok during hang {:.1}%",
        violations.len(),
        worst_during * 100.0
    );
    assert!(violations.is_empty(), "violating seeds: {violations:?}");
}
