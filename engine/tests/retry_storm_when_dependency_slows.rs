//! Retry storm: a dependency slows down, callers time out and retry, and the
//! retries multiply the load on the one thing that is already overloaded.
//!
//! Setup: 300 requests/s into `frontend`, which calls `backend` (2 instances ×
//! 4 workers, 10 ms exponential service: 800/s capacity, queue 200 each) with a
//! 100 ms timeout. Between 10 s and 20 s both instances run 4× slower (200/s).
//! A full queue means 200 × 10 ms / 4 = 500 ms of waiting, far longer than the
//! timeout, so once the queue is full nearly every attempt times out while the
//! backend still does its (wasted) work. With 4 attempts per call the offered
//! load is up to 1200/s even after the backend recovers, so the overload can
//! sustain itself (a metastable failure); a Finagle retry budget caps retries
//! at 20% of calls and the system recovers.

mod common;

use common::count;
use faultline_engine::{Simulator, SimulatorOptions};
use serde_json::{Value, json};

struct Figures {
    /// Backend attempts per client request, during the slowdown.
    amplification_during: f64,
    /// Backend attempts per client request, 5–20 s after it ended.
    amplification_after: f64,
    /// Share of client requests answered ok, by window.
    goodput_before: f64,
    goodput_during: f64,
    goodput_after: f64,
}

fn run_storm(retry: Value, seed: u64) -> Figures {
    let mut dependency =
        json!({"service": "backend", "load_balancer": "round_robin", "timeout_ms": 100});
    if !retry.is_null() {
        dependency["retry"] = retry;
    }
    let backend = |id: &str| {
        json!({"id": id, "kind": "service", "properties": {
            "service_name": "backend", "workers": 4, "queue_capacity_requests": 200,
            "endpoints": [{"name": "work", "steps": [{"compute": {"service_time": {"exponential": {"mean_ms": 10.0}}}}]}]
        }})
    };
    let scenario = common::scenario(json!({
        "version": 1,
        "topology": {
            "nodes": [
                {"id": "client", "kind": "load_generator", "properties": {"request_timeout_ms": 5000, "max_outstanding": 100000}},
                {"id": "frontend", "kind": "service", "properties": {
                    "workers": 5000, "queue_capacity_requests": 10000,
                    "endpoints": [{"name": "page", "steps": [{"call": {"service": "backend"}}]}],
                    "dependencies": [dependency]
                }},
                backend("backend-1"),
                backend("backend-2")
            ],
            "default_network": {"latency": {"constant": {"value_ms": 0.5}}}
        },
        "workload": {"streams": [{"id": "load", "client": "client", "target": "frontend",
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": 3.3333}}}}}]},
        "faults": {"timeline": [
            {"at_ms": 10000, "action": {"slow": {"node": "backend-1", "factor": 4.0}}},
            {"at_ms": 10000, "action": {"slow": {"node": "backend-2", "factor": 4.0}}},
            {"at_ms": 20000, "action": {"slow": {"node": "backend-1", "factor": 1.0}}},
            {"at_ms": 20000, "action": {"slow": {"node": "backend-2", "factor": 1.0}}}
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
    let lines = simulator.trace_mut().take_full_record().expect("recorded");
    let requests =
        |window: std::ops::Range<f64>| count(&lines, &["send", "client->frontend"], window) as f64;
    let attempts = |window: std::ops::Range<f64>| {
        count(&lines, &["send", "frontend->backend", " call "], window) as f64
    };
    let ok = |window: std::ops::Range<f64>| {
        lines
            .iter()
            .filter(|line| {
                line.contains("deliver")
                    && line.contains("frontend->client")
                    && line.ends_with(" ok")
                    && window.contains(&common::seconds(line))
            })
            .count() as f64
    };
    Figures {
        amplification_during: attempts(10.0..20.0) / requests(10.0..20.0),
        amplification_after: attempts(25.0..40.0) / requests(25.0..40.0),
        goodput_before: ok(2.0..10.0) / requests(2.0..10.0),
        goodput_during: ok(10.0..20.0) / requests(10.0..20.0),
        goodput_after: ok(25.0..40.0) / requests(25.0..40.0),
    }
}

fn retry(jitter: &str, budget: bool) -> Value {
    let mut retry = json!({"max_attempts": 4, "base_ms": 10.0, "cap_ms": 1000.0, "jitter": jitter});
    if budget {
        retry["budget"] =
            json!({"percent_can_retry": 20.0, "min_retries_per_second": 10.0, "ttl_ms": 10000});
    }
    retry
}

#[test]
fn retries_multiply_load_on_a_slow_dependency_and_a_retry_budget_contains_them() {
    let seed = 21;
    let configurations = [
        ("no retries", Value::Null),
        ("4 attempts, no jitter", retry("none", false)),
        ("4 attempts, full jitter", retry("full", false)),
        (
            "4 attempts, decorrelated jitter",
            retry("decorrelated", false),
        ),
        ("4 attempts, full jitter, budget 20%", retry("full", true)),
    ];
    eprintln!(
        "{:<38} {:>12} {:>12} {:>9} {:>9} {:>9}",
        "configuration", "ampl during", "ampl after", "ok before", "ok during", "ok after"
    );
    let mut figures = Vec::new();
    for (label, retry) in configurations {
        let result = run_storm(retry, seed);
        eprintln!(
            "{label:<38} {:>12.2} {:>12.2} {:>8.1}% {:>8.1}% {:>8.1}%",
            result.amplification_during,
            result.amplification_after,
            result.goodput_before * 100.0,
            result.goodput_during * 100.0,
            result.goodput_after * 100.0
        );
        figures.push((label, result));
    }
    let [none, no_jitter, full_jitter, decorrelated, budget] = &figures[..] else {
        unreachable!()
    };
    for (label, result) in &figures {
        assert!(
            result.goodput_before > 0.99,
            "{label}: healthy before the slowdown (seed {seed})"
        );
    }
    assert!(
        none.1.amplification_during < 1.01,
        "without retries every request is one attempt (seed {seed})"
    );
    for (label, result) in [no_jitter, full_jitter, decorrelated] {
        assert!(
            result.amplification_during > 2.5,
            "{label}: retries multiply the load during the slowdown, found {:.2} (seed {seed})",
            result.amplification_during
        );
    }
    assert!(
        budget.1.amplification_during < 1.4,
        "the budget caps retries near 20% of calls plus its 10/s reserve, found {:.2} (seed {seed})",
        budget.1.amplification_during
    );
    assert!(
        none.1.goodput_after > 0.99 && budget.1.goodput_after > 0.99,
        "without retries, or with a budget, the system recovers once the dependency does (seed {seed})"
    );
    assert!(
        no_jitter.1.goodput_after < 0.5,
        "unbudgeted retries keep the backend overloaded after it recovered (metastable), goodput {:.1}% (seed {seed})",
        no_jitter.1.goodput_after * 100.0
    );
}

/// Sweep over 20 seeds per configuration (`--ignored --nocapture` prints the
/// table): is the metastable outcome a property of the configuration, not of a seed?
#[test]
#[ignore]
fn sweep_retry_storm_outcome_over_20_seeds() {
    let configurations = [
        ("no retries", Value::Null),
        ("4 attempts, no jitter", retry("none", false)),
        ("4 attempts, full jitter", retry("full", false)),
        ("4 attempts, full jitter, budget 20%", retry("full", true)),
    ];
    eprintln!(
        "{:<38} {:>6} {:>10} {:>16} {:>16}",
        "configuration", "seeds", "recovered", "min ok after", "max ok after"
    );
    let mut table = Vec::new();
    for (label, retry) in configurations {
        let after: Vec<f64> = (1..=20)
            .map(|seed| run_storm(retry.clone(), seed).goodput_after)
            .collect();
        let recovered = after.iter().filter(|share| **share > 0.99).count();
        let min = after.iter().copied().fold(f64::INFINITY, f64::min);
        let max = after.iter().copied().fold(0.0, f64::max);
        eprintln!(
            "{label:<38} {:>6} {recovered:>10} {:>15.1}% {:>15.1}%",
            20,
            min * 100.0,
            max * 100.0
        );
        table.push((label, recovered));
    }
    assert_eq!(table[0].1, 20, "without retries every seed recovers");
    assert_eq!(table[3].1, 20, "with a budget every seed recovers");
    assert_eq!(table[1].1, 0, "unbudgeted retries never recover");
}
