//! KRaft: the Kafka controller as a Raft quorum of three voters — the active controller's crash hands over without losing metadata, and a broker cut off from the quorum is fenced and loses its leaderships.
//!
//! Every scenario: voters kc1..kc3 (`kafka_controller`, `mode: kraft`),
//! brokers b1..b3, topic `orders` with 3 partitions × 3 replicas
//! (min.insync.replicas 2, acks=all), and an idempotent producer writing every
//! 10 ms to controller kc1 (it fails over to the other voters by itself).
//! Links: 1–3 ms one way. Broker sessions 3 s (heartbeats every second).

mod common;

use faultline_engine::checkers::CheckStatus;
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, SimTime, Simulator};
use serde_json::{Value, json};

const VOTERS: [&str; 3] = ["kc1", "kc2", "kc3"];
const BROKERS: [&str; 3] = ["b1", "b2", "b3"];

fn cluster(timeline: Value, seed: u64) -> Scenario {
    let mut nodes: Vec<Value> = VOTERS
        .iter()
        .map(|id| {
            json!({"id": id, "kind": "kafka_controller", "properties": {
                "mode": "kraft", "quorum_voters": VOTERS,
                "brokers": BROKERS, "broker_session_timeout_ms": 3_000,
                "topics": [{"name": "orders", "partitions": 3, "replication_factor": 3,
                            "min_insync_replicas": 2}]}})
        })
        .collect();
    nodes.extend(
        BROKERS
            .iter()
            .map(|id| json!({"id": id, "kind": "kafka_broker", "properties": {}})),
    );
    nodes.push(json!({"id": "p", "kind": "kafka_producer", "properties": {
        "controller": "kc1", "topic": "orders", "acks": "all",
        "inter_arrival": {"constant": {"value_ms": 10.0}}, "stop_ms": 38_000}}));
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": nodes, "default_network": {
            "latency": {"uniform": {"low_ms": 1.0, "high_ms": 3.0}}}},
        "faults": {"timeline": timeline},
        "run": {"seed": seed, "duration_ms": 40_000}
    }))
}

fn simulator(scenario: &Scenario) -> Simulator {
    Simulator::with_options(
        scenario,
        SimulatorOptions {
            record_full_trace: true,
            ..Default::default()
        },
    )
    .expect("valid scenario")
}

fn metric(simulator: &Simulator, node: &str, name: &str) -> f64 {
    let id = simulator.node_id(node).expect("node exists");
    simulator
        .node_summary(id)
        .iter()
        .find(|(metric, _)| *metric == name)
        .map(|(_, value)| *value)
        .unwrap_or_else(|| panic!("{node}.{name} reported"))
}

/// The voters that currently believe they are the active controller.
fn active_voters(simulator: &Simulator) -> Vec<&'static str> {
    VOTERS
        .iter()
        .copied()
        .filter(|voter| metric(simulator, voter, "active") == 1.0)
        .collect()
}

fn check(simulator: &Simulator, name: &str) -> (CheckStatus, String) {
    simulator
        .check_results()
        .into_iter()
        .find(|result| result.name == name)
        .map(|result| (result.status, result.detail))
        .unwrap_or_else(|| panic!("checker {name} registered"))
}

/// Trace lines in [from_s, to_s) containing every needle.
fn count(lines: &[String], needles: &[&str], from_s: f64, to_s: f64) -> usize {
    common::count(lines, needles, from_s..to_s)
}

/// b3 crashes at 3 s and is fenced through the log (its ISR memberships
/// go). At 12 s the active controller crashes: the remaining two voters
/// elect a new one, which has applied the same records — b3 still fenced,
/// the same partition epochs — and keeps deciding: b3 returns at 20 s and is
/// unfenced by the new active controller. No acknowledged write is lost and
/// the producer keeps writing after the handover.
#[test]
fn active_controller_crash_hands_over_without_losing_metadata() {
    for seed in 1..=3 {
        let mut sim = simulator(&cluster(
            json!([
                {"at_ms": 3_000, "action": {"crash": {"node": "b3"}}},
                {"at_ms": 20_000, "action": {"restart": {"node": "b3"}}}
            ]),
            seed,
        ));
        sim.run_until(SimTime::from_millis(11_900));
        let active = active_voters(&sim);
        assert_eq!(
            active.len(),
            1,
            "seed {seed}: one active controller, got {active:?}"
        );
        let old_active = active[0];
        assert_eq!(
            metric(&sim, old_active, "fenced_brokers"),
            1.0,
            "seed {seed}: b3 fenced before the handover"
        );
        let epochs_before = metric(&sim, old_active, "partition_epoch_sum");
        assert!(
            epochs_before > 0.0,
            "seed {seed}: ISR changes were committed"
        );
        sim.inject(faultline_engine::scenario::FaultAction::Crash {
            node: old_active.to_string(),
        })
        .expect("valid fault");
        sim.run_until(SimTime::from_millis(19_900));
        let active = active_voters(&sim);
        assert_eq!(
            active.len(),
            1,
            "seed {seed}: a new active controller, got {active:?}"
        );
        let new_active = active[0];
        assert_ne!(new_active, old_active, "seed {seed}");
        assert_eq!(
            metric(&sim, new_active, "fenced_brokers"),
            1.0,
            "seed {seed}: the new active controller must know b3 is fenced"
        );
        assert!(
            metric(&sim, new_active, "partition_epoch_sum") >= epochs_before,
            "seed {seed}: partition epochs went back ({} < {epochs_before})",
            metric(&sim, new_active, "partition_epoch_sum")
        );
        sim.run_to_end();
        let lines = sim.trace_mut().take_full_record().unwrap_or_default();
        assert!(
            count(
                &lines,
                &[new_active, "unfenced b3", "committed"],
                20.0,
                30.0
            ) >= 1,
            "seed {seed}: the new active controller {new_active} never unfenced b3"
        );
        let writes_after_handover = count(&lines, &["op p ", " ok "], 14.0, 19.0);
        assert!(
            writes_after_handover > 100,
            "seed {seed}: the producer stalled after the handover ({writes_after_handover} acks)"
        );
        let (status, detail) = check(&sim, "lost_acknowledged_writes");
        assert_eq!(status, CheckStatus::Pass, "seed {seed}: {detail}");
    }
}

/// b1 (the first leader of orders-0) is cut off from every other node at
/// 3 s. Its heartbeats (every second) stop reaching the quorum; 3 s after the
/// last one arrived (between 5 and 6.5 s) the
/// active controller commits FenceBroker(b1): b1 leaves every ISR and the
/// partitions it led get new leaders with higher leader epochs. After the
/// heal b1 heartbeats again and is unfenced.
#[test]
fn partitioned_broker_is_fenced_and_leadership_moves() {
    for seed in 1..=3 {
        let mut sim = simulator(&cluster(
            json!([
                {"at_ms": 3_000, "action": {"partition": {"groups": [["b1"]]}}},
                {"at_ms": 15_000, "action": {"heal": {}}}
            ]),
            seed,
        ));
        sim.run_to_end();
        let lines = sim.trace_mut().take_full_record().unwrap_or_default();
        assert!(
            count(&lines, &["fenced b1: no heartbeat", "committed"], 5.0, 6.5) >= 1,
            "seed {seed}: b1 was not fenced one session after its last heartbeat: {:#?}",
            lines
                .iter()
                .filter(|line| line.contains("state kc"))
                .take(40)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            count(&lines, &["fenced b1: no heartbeat", "committed"], 0.0, 5.0),
            0,
            "seed {seed}: b1 fenced before its session expired"
        );
        // orders-0 was led by b1 (first replica); it moves at the fencing.
        let moved = count(&lines, &["fact", "leader orders-0 leader=b"], 5.0, 6.5);
        assert!(
            moved >= 1 && count(&lines, &["fact", "leader orders-0 leader=b1"], 5.0, 15.0) == 0,
            "seed {seed}: orders-0's leadership did not move off b1"
        );
        assert!(
            count(&lines, &["unfenced b1", "committed"], 15.0, 25.0) >= 1,
            "seed {seed}: b1 was not unfenced after the heal"
        );
        let (status, detail) = check(&sim, "lost_acknowledged_writes");
        assert_eq!(status, CheckStatus::Pass, "seed {seed}: {detail}");
    }
}

/// A minority of voters cannot decide: with two of three voters down, a
/// crashed broker is never fenced (no FenceBroker commits) until a voter
/// returns, and then it is.
#[test]
fn without_a_voter_majority_no_broker_is_fenced() {
    let seed = 1;
    let mut sim = simulator(&cluster(
        json!([
            {"at_ms": 2_000, "action": {"crash": {"node": "kc2"}}},
            {"at_ms": 2_000, "action": {"crash": {"node": "kc3"}}},
            {"at_ms": 4_000, "action": {"crash": {"node": "b3"}}},
            {"at_ms": 15_000, "action": {"restart": {"node": "kc2"}}}
        ]),
        seed,
    ));
    sim.run_to_end();
    let lines = sim.trace_mut().take_full_record().unwrap_or_default();
    assert_eq!(
        count(&lines, &["fenced b3: no heartbeat", "committed"], 0.0, 15.0),
        0,
        "seed {seed}: a lone voter fenced b3"
    );
    assert!(
        count(
            &lines,
            &["fenced b3: no heartbeat", "committed"],
            15.0,
            25.0
        ) >= 1,
        "seed {seed}: b3 not fenced once two voters were back"
    );
}
