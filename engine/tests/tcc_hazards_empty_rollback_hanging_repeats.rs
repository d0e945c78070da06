//! TCC (try/confirm/cancel) hazards: the empty rollback, the hanging try and repeated
//! confirms, each shown without its guard and prevented with it.
//!
//! Issue 5 (TCC: try reserves with a timeout, then confirm or cancel;
//! reservations expire). One `#[test]` per hazard, each comparing guard off
//! against guard on under the same seed and faults.

mod common;

use faultline_engine::checkers::CheckStatus;
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};

/// clients → coord (tcc) → p1, p2; `slow_p2` makes p2's tries take 3 s
/// (longer than the 1 s try timeout), so its cancel overtakes its try.
fn scenario(mut p2: Value, links: Value, slow_p2: bool, seed: u64) -> Scenario {
    // A try takes 3 ms of work; ×1000 while slow.
    p2["prepare_time"] = json!({"constant": {"value_ms": 3.0}});
    let mut timeline = Vec::new();
    if slow_p2 {
        timeline
            .push(json!({"at_ms": 2_000, "action": {"slow": {"node": "p2", "factor": 1_000.0}}}));
        timeline.push(json!({"at_ms": 2_500, "action": {"slow": {"node": "p2", "factor": 1.0}}}));
    }
    common::scenario(json!({
        "version": 1,
        "topology": {
            "nodes": [
                {"id": "clients", "kind": "load_generator", "properties": {"request_timeout_ms": 60_000}},
                {"id": "coord", "kind": "txn_coordinator", "properties": {
                    "protocol": "tcc", "participants": ["p1", "p2"], "units_per_transaction": 5,
                    "vote_timeout_ms": 1_000}},
                {"id": "p1", "kind": "txn_participant", "properties": {}},
                {"id": "p2", "kind": "txn_participant", "properties": p2}
            ],
            "links": links,
            "default_network": {"latency": {"constant": {"value_ms": 1.0}}}
        },
        "workload": {"streams": [{"id": "txns", "client": "clients", "target": "coord",
            "pattern": {"open_loop": {"inter_arrival": {"constant": {"value_ms": 100.0}}}}}]},
        "faults": {"timeline": timeline},
        "run": {"seed": seed, "duration_ms": 10_000}
    }))
}

fn checks(scenario: &Scenario) -> Vec<(String, CheckStatus, String)> {
    let mut simulator =
        Simulator::with_options(scenario, SimulatorOptions::default()).expect("valid");
    simulator.run_to_end();
    simulator
        .check_results()
        .into_iter()
        .map(|result| (result.name, result.status, result.detail))
        .collect()
}

fn status(checks: &[(String, CheckStatus, String)], name: &str) -> (CheckStatus, String) {
    checks
        .iter()
        .find(|(check, ..)| check == name)
        .map(|(_, status, detail)| (*status, detail.clone()))
        .unwrap_or_else(|| panic!("checker {name} registered"))
}

#[test]
fn cancel_without_a_try_releases_units_never_reserved_unless_guarded() {
    let seed = 1;
    let unguarded = checks(&scenario(
        json!({"guard_empty_rollback": false, "guard_hanging": false}),
        json!([]),
        true,
        seed,
    ));
    let (empty, detail) = status(&unguarded, "tcc_no_empty_rollback");
    println!("no empty-rollback guard: {detail}");
    assert_eq!(empty, CheckStatus::Fail, "seed {seed}");
    let guarded = checks(&scenario(
        json!({"guard_empty_rollback": true, "guard_hanging": true}),
        json!([]),
        true,
        seed,
    ));
    let (empty, detail) = status(&guarded, "tcc_no_empty_rollback");
    assert_eq!(empty, CheckStatus::Pass, "seed {seed}: {detail}");
}

#[test]
fn a_try_that_arrives_after_its_cancel_hangs_unless_guarded() {
    let seed = 2;
    let unguarded = checks(&scenario(
        json!({"guard_empty_rollback": true, "guard_hanging": false}),
        json!([]),
        true,
        seed,
    ));
    let (hanging, detail) = status(&unguarded, "tcc_no_hanging_try");
    println!("no hanging guard: {detail}");
    assert_eq!(hanging, CheckStatus::Fail, "seed {seed}");
    // The empty rollback itself was guarded: nothing was released.
    assert_eq!(
        status(&unguarded, "tcc_no_empty_rollback").0,
        CheckStatus::Pass
    );
    let guarded = checks(&scenario(
        json!({"guard_empty_rollback": true, "guard_hanging": true}),
        json!([]),
        true,
        seed,
    ));
    let (hanging, detail) = status(&guarded, "tcc_no_hanging_try");
    assert_eq!(hanging, CheckStatus::Pass, "seed {seed}: {detail}");
}

#[test]
fn a_duplicated_confirm_consumes_twice_unless_confirm_is_idempotent() {
    let seed = 3;
    // The link to p2 duplicates 30% of messages: some confirms arrive twice.
    let links = json!([{"from": "coord", "to": "p2",
        "network": {"latency": {"constant": {"value_ms": 1.0}}, "duplicate_probability": 0.3}}]);
    let naive = checks(&scenario(
        json!({"idempotent_decisions": false}),
        links.clone(),
        false,
        seed,
    ));
    let (once, detail) = status(&naive, "tcc_confirm_cancel_once");
    println!("confirm not idempotent: {detail}");
    assert_eq!(once, CheckStatus::Fail, "seed {seed}");
    let idempotent = checks(&scenario(
        json!({"idempotent_decisions": true}),
        links,
        false,
        seed,
    ));
    let (once, detail) = status(&idempotent, "tcc_confirm_cancel_once");
    assert_eq!(once, CheckStatus::Pass, "seed {seed}: {detail}");
    // Atomicity holds in both: every try was confirmed or cancelled everywhere.
    assert_eq!(status(&idempotent, "atomic_commit").0, CheckStatus::Pass);
}
