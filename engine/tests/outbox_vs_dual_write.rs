//! Transactional outbox versus dual write under crashes: a dual write loses
//! events (commit, crash, no publish) or invents them (publish, crash, no
//! commit); the outbox loses none, but its relay re-publishes after a crash,
//! so only an idempotent consumer applies each event once.
//!
//! Issue 5 (transactional outbox for services that publish events).
//! One `#[test]` per outcome; the sweep prints its table (`--nocapture`).

mod common;

use faultline_engine::checkers::CheckStatus;
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};

const LOST: &str = "outbox_no_lost_events";
const PHANTOM: &str = "no_phantom_events";
const DUPLICATE: &str = "no_duplicate_event_effects";
const CHECKS: [&str; 3] = [LOST, PHANTOM, DUPLICATE];

struct Outcome {
    checks: Vec<(String, CheckStatus, u64, String)>,
    summaries: Vec<(String, Vec<(&'static str, f64)>)>,
}

impl Outcome {
    fn check(&self, name: &str) -> (CheckStatus, u64, String) {
        self.checks
            .iter()
            .find(|(check, ..)| check == name)
            .map(|(_, status, count, detail)| (*status, *count, detail.clone()))
            .unwrap_or_else(|| panic!("checker {name} registered"))
    }

    fn metric(&self, node: &str, name: &str) -> f64 {
        self.summaries
            .iter()
            .find(|(id, _)| id == node)
            .and_then(|(_, summary)| summary.iter().find(|(metric, _)| *metric == name))
            .map(|(_, value)| *value)
            .unwrap_or_else(|| panic!("{node}.{name} reported"))
    }
}

/// clients → service (dual write or outbox) → consumer, 200 requests/s for 8 s.
fn scenario(service: Value, consumer: Value, faults: Value, seed: u64) -> Scenario {
    let mut properties = json!({"consumer": "consumer"});
    if let (Some(target), Some(extra)) = (properties.as_object_mut(), service.as_object()) {
        for (key, value) in extra {
            target.insert(key.clone(), value.clone());
        }
    }
    common::scenario(json!({
        "version": 1,
        "topology": {
            "nodes": [
                {"id": "clients", "kind": "load_generator", "properties": {"request_timeout_ms": 5_000}},
                {"id": "service", "kind": "outbox_service", "properties": properties},
                {"id": "consumer", "kind": "event_consumer", "properties": consumer}
            ],
            "links": [],
            "default_network": {"latency": {"constant": {"value_ms": 1.0}}}
        },
        "workload": {"streams": [{"id": "orders", "client": "clients", "target": "service",
            "stop_ms": 8_000,
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": 5.0}}}}}]},
        "faults": faults,
        "run": {"seed": seed, "duration_ms": 12_000}
    }))
}

fn run(scenario: &Scenario) -> Outcome {
    let mut simulator =
        Simulator::with_options(scenario, SimulatorOptions::default()).expect("valid");
    simulator.run_to_end();
    let checks = simulator
        .check_results()
        .into_iter()
        .map(|result| (result.name, result.status, result.violations, result.detail))
        .collect();
    let summaries = scenario
        .topology
        .nodes
        .iter()
        .map(|node| {
            let id = simulator.node_id(&node.id).expect("node");
            (node.id.clone(), simulator.node_summary(id))
        })
        .collect();
    Outcome { checks, summaries }
}

/// The service crashes five times, for 300 ms each, at irregular moments
/// (a regular period would land at the same phase of the relay's poll).
fn service_crashes() -> Value {
    let mut timeline = Vec::new();
    for at_ms in [1_010u64, 2_215, 3_108, 4_350, 5_003] {
        timeline.push(json!({"at_ms": at_ms, "action": {"crash": {"node": "service"}}}));
        timeline.push(json!({"at_ms": at_ms + 300, "action": {"restart": {"node": "service"}}}));
    }
    json!({"timeline": timeline})
}

fn dual_write(order: &str) -> Value {
    json!({"mode": "dual_write", "dual_write_order": order,
           "db_write_latency_ms": 20, "publish_latency_ms": 20})
}

fn outbox() -> Value {
    json!({"mode": "transactional_outbox", "db_write_latency_ms": 20, "poll_interval_ms": 100})
}

#[test]
fn dual_write_loses_events_under_a_crash() {
    let seed = 11;
    let outcome = run(&scenario(
        dual_write("db_then_publish"),
        json!({}),
        service_crashes(),
        seed,
    ));
    let (status, count, detail) = outcome.check(LOST);
    println!("dual write, commit then publish: {count} lost events; first: {detail}");
    assert_eq!(
        status,
        CheckStatus::Fail,
        "seed {seed}: expected lost events"
    );
    assert!(
        detail.contains("never reached the consumer"),
        "seed {seed}: {detail}"
    );
    // Commit first cannot invent an event.
    assert_eq!(outcome.check(PHANTOM).0, CheckStatus::Pass, "seed {seed}");
}

#[test]
fn dual_write_publishes_phantom_events() {
    let seed = 12;
    let outcome = run(&scenario(
        dual_write("publish_then_db"),
        json!({}),
        service_crashes(),
        seed,
    ));
    let (status, count, detail) = outcome.check(PHANTOM);
    println!("dual write, publish then commit: {count} phantom events; first: {detail}");
    assert_eq!(
        status,
        CheckStatus::Fail,
        "seed {seed}: expected phantom events"
    );
    assert!(detail.contains("never committed"), "seed {seed}: {detail}");
    // Publish first commits only after the consumer has the event: none lost.
    assert_eq!(outcome.check(LOST).0, CheckStatus::Pass, "seed {seed}");
}

#[test]
fn transactional_outbox_loses_no_events_under_crashes() {
    let seed = 13;
    let outcome = run(&scenario(outbox(), json!({}), service_crashes(), seed));
    for name in CHECKS {
        let (status, count, detail) = outcome.check(name);
        assert_eq!(
            status,
            CheckStatus::Pass,
            "seed {seed}: {name} failed {count} times, first: {detail}"
        );
    }
    let rows = outcome.metric("service", "rows_committed");
    assert!(rows > 1_000.0, "seed {seed}: only {rows} rows committed");
    assert_eq!(outcome.metric("service", "outbox_rows"), 0.0, "seed {seed}");
    // Without durable storage the crash wipes the unsent outbox rows.
    let volatile = run(&scenario(
        json!({"mode": "transactional_outbox", "db_write_latency_ms": 20,
               "poll_interval_ms": 500, "durable_storage": false}),
        json!({}),
        service_crashes(),
        seed,
    ));
    let (status, count, _) = volatile.check(LOST);
    println!("outbox in memory: {count} lost events");
    assert_eq!(
        status,
        CheckStatus::Fail,
        "seed {seed}: expected lost events"
    );
}

#[test]
fn outbox_with_a_non_idempotent_consumer_applies_duplicates_after_a_relay_crash() {
    let seed = 14;
    let outcome = run(&scenario(
        outbox(),
        json!({"idempotent_consumer": false}),
        service_crashes(),
        seed,
    ));
    let (status, count, detail) = outcome.check(DUPLICATE);
    println!("outbox, consumer without dedup: {count} events applied twice; first: {detail}");
    assert_eq!(
        status,
        CheckStatus::Fail,
        "seed {seed}: expected duplicates"
    );
    assert!(
        outcome.metric("consumer", "duplicates_applied") > 0.0,
        "seed {seed}"
    );
    assert_eq!(outcome.check(LOST).0, CheckStatus::Pass, "seed {seed}");
}

#[test]
fn outbox_with_an_idempotent_consumer_applies_no_duplicates() {
    let seed = 14;
    let outcome = run(&scenario(
        outbox(),
        json!({"idempotent_consumer": true}),
        service_crashes(),
        seed,
    ));
    for name in CHECKS {
        let (status, count, detail) = outcome.check(name);
        assert_eq!(
            status,
            CheckStatus::Pass,
            "seed {seed}: {name} failed {count} times, first: {detail}"
        );
    }
    // The same redeliveries happened; deduplication absorbed them.
    let suppressed = outcome.metric("consumer", "duplicates_suppressed");
    println!("outbox, idempotent consumer: {suppressed} redeliveries suppressed");
    assert!(suppressed > 0.0, "seed {seed}: expected redeliveries");
}

/// A crash nemesis on the service and the consumer over `seeds` seeds:
/// (runs with a violation of each check, violations of each check).
fn sweep(service: &Value, consumer: &Value, seeds: u64) -> ([u64; 3], [u64; 3]) {
    let mut runs = [0; 3];
    let mut violations = [0; 3];
    for seed in 0..seeds {
        let faults = json!({"nemesis": {"faults_per_minute": 30.0, "mean_fault_duration_ms": 500.0,
                                        "kinds": ["crash"], "targets": ["service", "consumer"],
                                        "stop_ms": 8_000}});
        let outcome = run(&scenario(service.clone(), consumer.clone(), faults, seed));
        for (index, name) in CHECKS.iter().enumerate() {
            let (status, count, _) = outcome.check(name);
            if status == CheckStatus::Fail {
                runs[index] += 1;
                violations[index] += count;
            }
        }
    }
    (runs, violations)
}

#[test]
fn nemesis_sweep_dual_write_breaks_and_outbox_with_dedup_holds() {
    let seeds = 100;
    let configurations = [
        (
            "dual write, commit then publish",
            dual_write("db_then_publish"),
            json!({}),
        ),
        (
            "dual write, publish then commit",
            dual_write("publish_then_db"),
            json!({}),
        ),
        (
            "outbox, consumer without dedup",
            outbox(),
            json!({"idempotent_consumer": false}),
        ),
        ("outbox, idempotent consumer", outbox(), json!({})),
    ];
    println!(
        "{:<34} {:>5}  {:>14} {:>14} {:>14}",
        "configuration", "seeds", "lost runs/viol", "phantom r/v", "duplicate r/v"
    );
    let mut results = Vec::new();
    for (name, service, consumer) in &configurations {
        let (runs, violations) = sweep(service, consumer, seeds);
        println!(
            "{name:<34} {seeds:>5}  {:>6}/{:<7} {:>6}/{:<7} {:>6}/{:<7}",
            runs[0], violations[0], runs[1], violations[1], runs[2], violations[2]
        );
        results.push((runs, violations));
    }
    // Dual write: commit-then-publish loses, publish-then-commit invents.
    assert!(
        results[0].0[0] > 0,
        "commit-then-publish lost nothing in {seeds} seeds"
    );
    assert!(
        results[1].0[1] > 0,
        "publish-then-commit invented nothing in {seeds} seeds"
    );
    // The outbox never loses nor invents; without dedup it duplicates.
    for (runs, _) in &results[2..] {
        assert_eq!(runs[0] + runs[1], 0, "the outbox lost or invented events");
    }
    assert!(
        results[2].0[2] > 0,
        "no duplicates without dedup in {seeds} seeds"
    );
    assert_eq!(
        results[3].1,
        [0, 0, 0],
        "idempotent outbox consumer violated something"
    );
}
