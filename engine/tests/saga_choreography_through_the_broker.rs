//! Choreographed sagas whose events go through a RabbitMQ exchange: services publish
//! `<service>.done` / `<service>.undo` with publisher confirms and consume their own queue,
//! acknowledging a delivery only after its work ran. Under a crash nemesis (services and the
//! broker) the saga invariant holds when the services are idempotent, and redeliveries break
//! it when they are not.
//!
//! Issue 5 ("Saga by choreography: services react to events through the broker"); R1
//! (an unacknowledged delivery is redelivered after its connection dies).

mod common;

use faultline_engine::checkers::CheckStatus;
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};

const CHECKS: [&str; 3] = [
    "saga_eventually_terminates",
    "compensation_in_reverse_order",
    "no_partial_outcome_after_termination",
];

/// shop → orders → (broker) → inventory → (broker) → payments; payment declines 20%.
/// `idempotent` applies to every service; `faults` is the scenario's `faults` object.
pub fn brokered_choreography(idempotent: bool, faults: Value, seed: u64) -> Scenario {
    let chain = [
        ("orders", None, Some("inventory")),
        ("inventory", Some("orders"), Some("payments")),
        ("payments", Some("inventory"), None),
    ];
    let mut nodes = vec![
        json!({"id": "shop", "kind": "load_generator", "properties": {"request_timeout_ms": 60_000}}),
        json!({"id": "rabbit", "kind": "rabbit_broker", "properties": {
        "heartbeat_timeout_ms": 2_000,
        "exchanges": [{"name": "order-saga", "type": "direct"}],
        "queues": [{"name": "orders-events"}, {"name": "inventory-events"}, {"name": "payments-events"}],
        "bindings": [
            {"exchange": "order-saga", "queue": "inventory-events", "routing_key": "orders.done"},
            {"exchange": "order-saga", "queue": "payments-events", "routing_key": "inventory.done"},
            {"exchange": "order-saga", "queue": "inventory-events", "routing_key": "payments.undo"},
            {"exchange": "order-saga", "queue": "orders-events", "routing_key": "inventory.undo"}
        ]}}),
    ];
    for (id, previous, next) in chain {
        let mut properties = json!({
            "processing_time": {"constant": {"value_ms": 5.0}},
            "idempotent": idempotent,
            "choreography": {"previous": previous, "next": next,
                             "event_retry_interval_ms": 1_000, "max_event_attempts": 200,
                             "broker": {"broker": "rabbit", "exchange": "order-saga",
                                        "queue": format!("{id}-events"),
                                        "reconnect_delay_ms": 200}}});
        if id == "payments" {
            properties["action_failure_probability"] = json!(0.2);
        }
        nodes.push(json!({"id": id, "kind": "saga_service", "properties": properties}));
    }
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": nodes, "links": [],
                     "default_network": {"latency": {"constant": {"value_ms": 1.0}}}},
        "workload": {"streams": [{"id": "orders", "client": "shop", "target": "orders",
            "stop_ms": 15_000,
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": 50.0}}}}}]},
        "faults": faults,
        "run": {"seed": seed, "duration_ms": 40_000}
    }))
}

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

/// Crashes of each service and of the broker, at fixed times.
fn crashes() -> Value {
    let mut timeline = Vec::new();
    for (at_ms, node) in [
        (3_000, "inventory"),
        (6_000, "rabbit"),
        (9_000, "payments"),
        (12_000, "orders"),
    ] {
        timeline.push(json!({"at_ms": at_ms, "action": {"crash": {"node": node}}}));
        timeline.push(json!({"at_ms": at_ms + 1_500, "action": {"restart": {"node": node}}}));
    }
    json!({"timeline": timeline})
}

#[test]
fn choreography_events_travel_through_the_broker_and_every_saga_ends() {
    let seed = 5;
    let outcome = run(&brokered_choreography(true, json!({}), seed));
    for name in CHECKS {
        let (status, count, detail) = outcome.check(name);
        assert_eq!(
            status,
            CheckStatus::Pass,
            "seed {seed}: {name} failed {count} times: {detail}"
        );
    }
    // Every event went through the broker: orders' events (one per order)
    // reached inventory's queue, and nothing is owed at the end.
    let routed = outcome.metric("rabbit", "published");
    let applied: f64 = ["orders", "inventory", "payments"]
        .iter()
        .map(|node| outcome.metric(node, "applied"))
        .sum();
    assert!(
        routed > 200.0 && applied > 600.0,
        "seed {seed}: {routed} messages through the broker, {applied} steps applied"
    );
    for node in ["orders", "inventory", "payments"] {
        assert_eq!(
            outcome.metric(node, "owed_events"),
            0.0,
            "seed {seed}: {node} still owes events"
        );
    }
}

#[test]
fn crashes_of_services_and_broker_redeliver_and_idempotent_services_absorb_it() {
    let seed = 7;
    let outcome = run(&brokered_choreography(true, crashes(), seed));
    for name in CHECKS {
        let (status, count, detail) = outcome.check(name);
        assert_eq!(
            status,
            CheckStatus::Pass,
            "seed {seed}: {name} failed {count} times: {detail}"
        );
    }
    // Deliveries a crashed service had not acknowledged came again (R1).
    let redelivered = outcome.metric("rabbit", "redelivered");
    assert!(
        redelivered > 0.0,
        "seed {seed}: crashes before the ack must redeliver some events (R1)"
    );
}

/// Runs `seeds`; returns runs failing any saga check, and the first failing seed with its detail.
fn sweep(idempotent: bool, nemesis: &Value, seeds: std::ops::Range<u64>) -> (u64, Option<String>) {
    let mut failing = 0;
    let mut first = None;
    for seed in seeds {
        let outcome = run(&brokered_choreography(idempotent, nemesis.clone(), seed));
        let failed: Vec<(String, String)> = CHECKS
            .iter()
            .filter_map(|name| {
                let (status, _, detail) = outcome.check(name);
                (status == CheckStatus::Fail).then(|| (name.to_string(), detail))
            })
            .collect();
        if let Some((name, detail)) = failed.first() {
            failing += 1;
            first.get_or_insert_with(|| format!("seed {seed}: {name}: {detail}"));
        }
    }
    (failing, first)
}

/// Crashes only (services and broker): the broker is the path under test.
fn crash_nemesis() -> Value {
    json!({"nemesis": {"faults_per_minute": 12.0, "mean_fault_duration_ms": 1_500.0,
                       "kinds": ["crash"], "stop_ms": 15_000}})
}

/// The correct configuration over the sweep's 100 seeds, in every test run. Seeds 1 and 63 used
/// to leave sagas stuck: the service's consumer never re-registered on a
/// connection that a publish had reopened (seed 1), or its basic.consume was
/// lost while the broker was down and nothing noticed (seed 63).
#[test]
fn brokered_saga_under_crashes_always_terminates_with_idempotent_services() {
    let (failing, first) = sweep(true, &crash_nemesis(), 1..101);
    assert_eq!(failing, 0, "first: {first:?}");
}

/// The closing note's table: 100 seeds each way.
/// `cargo test --release -p faultline-engine --test saga_choreography_through_the_broker -- --ignored --nocapture`
#[test]
#[ignore]
fn brokered_saga_nemesis_sweep_idempotent_holds_and_non_idempotent_breaks() {
    let nemesis = crash_nemesis();
    let seeds = 1..101;
    let (correct, correct_first) = sweep(true, &nemesis, seeds.clone());
    let (broken, broken_first) = sweep(false, &nemesis, seeds);
    println!(
        "| configuration | seeds | runs violating the saga invariant | a seed that reproduces one |"
    );
    println!("|---|---|---|---|");
    for (name, failing, first) in [
        (
            "choreography through RabbitMQ, idempotent services",
            correct,
            &correct_first,
        ),
        (
            "choreography through RabbitMQ, no idempotency",
            broken,
            &broken_first,
        ),
    ] {
        println!(
            "| {name} | 100 | {failing} | {} |",
            first.as_deref().unwrap_or("—")
        );
    }
    assert_eq!(correct, 0, "first: {correct_first:?}");
    assert!(
        broken > 0,
        "redeliveries must break non-idempotent services"
    );
}
