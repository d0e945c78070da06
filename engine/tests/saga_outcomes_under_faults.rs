//! Sagas under faults: orchestrated and choreographed order/stock/payment sagas complete or
//! compensate in reverse order; a forgotten saga log, a lost compensation without retries
//! and retries without idempotency each break a saga invariant, and the fixes restore it.
//!
//! Issue 5 (saga outcomes: completed, compensated, stuck; the saga invariant).
//! One `#[test]` per outcome; the sweep prints its table (`--nocapture`).

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

fn merge(target: &mut Value, extra: &Value) {
    if let (Some(target), Some(extra)) = (target.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            target.insert(key.clone(), value.clone());
        }
    }
}

const SERVICES: [&str; 3] = ["orders", "inventory", "payments"];

/// clients → orchestrator → orders, inventory, payments (payment declines 20%).
fn orchestrated(
    orchestrator: Value,
    service: Value,
    links: Value,
    faults: Value,
    seed: u64,
) -> Scenario {
    let mut orchestrator_properties = json!({"steps": [
        {"name": "create_order", "service": "orders"},
        {"name": "reserve_stock", "service": "inventory"},
        {"name": "charge_payment", "service": "payments"}
    ]});
    merge(&mut orchestrator_properties, &orchestrator);
    let mut nodes = vec![
        json!({"id": "clients", "kind": "load_generator", "properties": {"request_timeout_ms": 60_000}}),
        json!({"id": "orchestrator", "kind": "saga_orchestrator", "properties": orchestrator_properties}),
    ];
    for id in SERVICES {
        let mut properties = service.clone();
        if id == "payments" {
            merge(&mut properties, &json!({"action_failure_probability": 0.2}));
        }
        nodes.push(json!({"id": id, "kind": "saga_service", "properties": properties}));
    }
    build(nodes, links, "orchestrator", faults, seed)
}

/// clients → orders → inventory → payments by events (payment declines 20%).
fn choreographed(service: Value, links: Value, faults: Value, seed: u64) -> Scenario {
    let chain = [
        ("orders", None, Some("inventory")),
        ("inventory", Some("orders"), Some("payments")),
        ("payments", Some("inventory"), None),
    ];
    let mut nodes = vec![json!({"id": "clients", "kind": "load_generator",
                                "properties": {"request_timeout_ms": 60_000}})];
    for (id, previous, next) in chain {
        let mut properties = json!({"choreography": {"previous": previous, "next": next}});
        let mut extra = service.clone();
        if let Some(chain_extra) = service.get("choreography") {
            let mut choreography = properties["choreography"].clone();
            merge(&mut choreography, chain_extra);
            extra["choreography"] = choreography;
        }
        merge(&mut properties, &extra);
        if id == "payments" {
            merge(&mut properties, &json!({"action_failure_probability": 0.2}));
        }
        nodes.push(json!({"id": id, "kind": "saga_service", "properties": properties}));
    }
    build(nodes, links, "orders", faults, seed)
}

fn build(nodes: Vec<Value>, links: Value, target: &str, faults: Value, seed: u64) -> Scenario {
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": nodes, "links": links,
                     "default_network": {"latency": {"constant": {"value_ms": 1.0}}}},
        "workload": {"streams": [{"id": "orders", "client": "clients", "target": target,
            "stop_ms": 20_000,
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": 50.0}}}}}]},
        "faults": faults,
        "run": {"seed": seed, "duration_ms": 30_000}
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

fn assert_all_pass(outcome: &Outcome, seed: u64, what: &str) {
    for name in CHECKS {
        let (status, count, detail) = outcome.check(name);
        assert_eq!(
            status,
            CheckStatus::Pass,
            "seed {seed} ({what}): {name} failed {count} times, first: {detail}"
        );
    }
}

/// Lossy links between the orchestrator and one service.
fn lossy(service: &str, loss: f64) -> Value {
    json!([{"from": "orchestrator", "to": service,
            "network": {"latency": {"constant": {"value_ms": 1.0}}, "loss_probability": loss}}])
}

#[test]
fn orchestrated_saga_completes_or_compensates_in_reverse_order() {
    let seed = 3;
    let outcome = run(&orchestrated(
        json!({}),
        json!({}),
        json!([]),
        json!({}),
        seed,
    ));
    assert_all_pass(&outcome, seed, "no faults");
    let completed = outcome.metric("orchestrator", "completed");
    let compensated = outcome.metric("orchestrator", "compensated");
    println!("no faults: {completed} completed, {compensated} compensated (payment declined)");
    assert!(completed > 100.0 && compensated > 20.0, "seed {seed}");
}

#[test]
fn orchestrator_without_a_durable_saga_log_leaves_stuck_sagas_after_a_crash() {
    let seed = 4;
    let faults = json!({"timeline": [
        {"at_ms": 5_000, "action": {"crash": {"node": "orchestrator"}}},
        {"at_ms": 6_000, "action": {"restart": {"node": "orchestrator"}}}
    ]});
    let forgetful = run(&orchestrated(
        json!({"durable_log": false}),
        json!({"processing_time": {"constant": {"value_ms": 20.0}}}),
        json!([]),
        faults.clone(),
        seed,
    ));
    let (status, count, detail) = forgetful.check("saga_eventually_terminates");
    println!("saga log in memory: {count} stuck sagas; first: {detail}");
    assert_eq!(
        status,
        CheckStatus::Fail,
        "seed {seed}: expected stuck sagas"
    );
    assert!(detail.contains("never completed"), "seed {seed}: {detail}");
    let durable = run(&orchestrated(
        json!({"durable_log": true}),
        json!({"processing_time": {"constant": {"value_ms": 20.0}}}),
        json!([]),
        faults,
        seed,
    ));
    assert_all_pass(&durable, seed, "durable saga log");
}

#[test]
fn a_lost_compensation_without_retries_gets_the_saga_stuck() {
    // 30% of messages between the orchestrator and inventory are lost; when
    // a payment is declined, the stock release must get through.
    let seed = 5;
    let once = run(&orchestrated(
        json!({"max_compensation_attempts": 1}),
        json!({}),
        lossy("inventory", 0.3),
        json!({}),
        seed,
    ));
    let (status, count, detail) = once.check("saga_eventually_terminates");
    println!("compensation sent once: {count} stuck sagas; first: {detail}");
    assert_eq!(
        status,
        CheckStatus::Fail,
        "seed {seed}: expected a stuck saga"
    );
    assert!(detail.contains("given up"), "seed {seed}: {detail}");
    // 20 attempts 0.7 s apart: all fail with probability 0.51^20 ≈ 1e-6.
    let retried = run(&orchestrated(
        json!({"max_compensation_attempts": 20, "retry_backoff_cap_ms": 200}),
        json!({}),
        lossy("inventory", 0.3),
        json!({}),
        seed,
    ));
    assert_all_pass(
        &retried,
        seed,
        "compensations retried with idempotency keys",
    );
}

#[test]
fn retries_without_idempotency_apply_an_action_twice_or_compensate_what_never_ran() {
    let seed = 6;
    let naive = run(&orchestrated(
        json!({}),
        json!({"idempotent": false}),
        lossy("payments", 0.3),
        json!({}),
        seed,
    ));
    let (partial, partial_count, partial_detail) =
        naive.check("no_partial_outcome_after_termination");
    let (order, order_count, order_detail) = naive.check("compensation_in_reverse_order");
    println!(
        "no idempotency: {partial_count} partial outcomes ({partial_detail}); {order_count} bad compensations ({order_detail})"
    );
    assert!(
        partial == CheckStatus::Fail || order == CheckStatus::Fail,
        "seed {seed}: expected a duplicate action or a compensation without its action"
    );
    let keyed = run(&orchestrated(
        json!({}),
        json!({"idempotent": true}),
        lossy("payments", 0.3),
        json!({}),
        seed,
    ));
    assert_all_pass(&keyed, seed, "idempotency keys");
    assert!(keyed.metric("payments", "duplicates_suppressed") > 0.0);
}

#[test]
fn choreographed_saga_compensates_backwards_by_events() {
    let seed = 8;
    let outcome = run(&choreographed(json!({}), json!([]), json!({}), seed));
    assert_all_pass(&outcome, seed, "choreography, no faults");
    assert!(outcome.metric("orders", "applied") > 100.0);
}

#[test]
fn choreographed_saga_with_fire_and_forget_events_gets_stuck_on_loss() {
    let seed = 9;
    let links = json!([{"from": "inventory", "to": "orders",
        "network": {"latency": {"constant": {"value_ms": 1.0}}, "loss_probability": 0.3}}]);
    let fire_and_forget = run(&choreographed(
        json!({"choreography": {"max_event_attempts": 1}}),
        links.clone(),
        json!({}),
        seed,
    ));
    let (status, count, detail) = fire_and_forget.check("saga_eventually_terminates");
    println!("events sent once: {count} stuck sagas; first: {detail}");
    assert_eq!(status, CheckStatus::Fail, "seed {seed}");
    let retried = run(&choreographed(json!({}), links, json!({}), seed));
    assert_all_pass(&retried, seed, "events retried until acknowledged");
}

/// Runs `seeds` and counts runs failing each of the three saga checks.
fn sweep(
    make: impl Fn(u64) -> Scenario,
    seeds: std::ops::Range<u64>,
) -> ([u64; 3], Option<String>) {
    let mut failing = [0u64; 3];
    let mut first = None;
    for seed in seeds {
        let outcome = run(&make(seed));
        for (index, name) in CHECKS.iter().enumerate() {
            let (status, _, detail) = outcome.check(name);
            if status == CheckStatus::Fail {
                failing[index] += 1;
                if first.is_none() {
                    first = Some(format!("seed {seed}: {name}: {detail}"));
                }
            }
        }
    }
    (failing, first)
}

#[test]
fn saga_nemesis_sweep_correct_configurations_hold_and_broken_ones_fail() {
    let nemesis = json!({"nemesis": {"faults_per_minute": 12.0, "mean_fault_duration_ms": 2_000.0,
                                      "kinds": ["crash", "partition", "loss", "pause"]}});
    let seeds = 1..101;
    let (correct, correct_first) = sweep(
        |seed| {
            orchestrated(
                json!({"durable_log": true}),
                json!({"idempotent": true}),
                json!([]),
                nemesis.clone(),
                seed,
            )
        },
        seeds.clone(),
    );
    let (broken, broken_first) = sweep(
        |seed| {
            orchestrated(
                json!({"durable_log": false, "max_compensation_attempts": 1}),
                json!({"idempotent": false}),
                json!([]),
                nemesis.clone(),
                seed,
            )
        },
        seeds.clone(),
    );
    let (chor_correct, chor_first) = sweep(
        |seed| {
            choreographed(
                json!({"choreography": {"max_event_attempts": 200}}),
                json!([]),
                nemesis.clone(),
                seed,
            )
        },
        seeds.clone(),
    );
    let (chor_broken, _) = sweep(
        |seed| {
            choreographed(
                json!({"idempotent": false, "choreography": {"max_event_attempts": 1}}),
                json!([]),
                nemesis.clone(),
                seed,
            )
        },
        seeds,
    );
    println!(
        "| configuration | seeds | runs failing saga_eventually_terminates | compensation_in_reverse_order | no_partial_outcome_after_termination |"
    );
    println!("|---|---|---|---|---|");
    for (name, row) in [
        ("orchestrated: durable log, idempotent, retries", correct),
        (
            "orchestrated: log in memory, no idempotency, 1 compensation attempt",
            broken,
        ),
        (
            "choreographed: idempotent, events retried (200 attempts)",
            chor_correct,
        ),
        (
            "choreographed: no idempotency, events sent once",
            chor_broken,
        ),
    ] {
        println!("| {name} | 100 | {} | {} | {} |", row[0], row[1], row[2]);
    }
    assert_eq!(correct, [0, 0, 0], "first: {correct_first:?}");
    assert_eq!(chor_correct, [0, 0, 0], "first: {chor_first:?}");
    assert!(broken.iter().sum::<u64>() > 0, "first: {broken_first:?}");
    assert!(chor_broken.iter().sum::<u64>() > 0);
}
