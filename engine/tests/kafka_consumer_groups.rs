//! Kafka consumer groups: delivery semantics of commit modes (K7), rebalances on crash, cooperative hand-over, and the consumer checkers.
//!
//! Row K7 of /work/shared/reference/expected-outcomes.md (Kafka consumer
//! docs: "delivery semantics"; KIP-62; KIP-429). Every scenario is a
//! controller, three brokers, one producer and a group of consumers reading
//! one topic with six partitions (replication factor 3, min ISR 2).

mod common;

use common::count;

use faultline_engine::checkers::{CheckResult, CheckStatus};
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};

struct Group {
    consumers: usize,
    commit_mode: &'static str,
    assignor: &'static str,
    processing_ms: f64,
    max_poll_records: u32,
    auto_offset_reset: &'static str,
    partitions: u32,
    duration_ms: u64,
    producer_stop_ms: u64,
    partitioner: &'static str,
}

impl Default for Group {
    fn default() -> Self {
        Group {
            consumers: 3,
            commit_mode: "after_processing",
            assignor: "range",
            processing_ms: 1.0,
            max_poll_records: 50,
            auto_offset_reset: "earliest",
            partitions: 6,
            duration_ms: 40_000,
            producer_stop_ms: 20_000,
            partitioner: "murmur2",
        }
    }
}

fn consumer_name(index: usize) -> String {
    format!("c{}", index + 1)
}

fn cluster(group: &Group, timeline: Value, seed: u64) -> Scenario {
    let mut nodes = vec![
        json!({"id": "ctl", "kind": "kafka_controller", "properties": {
        "brokers": ["b1", "b2", "b3"],
        "topics": [{"name": "orders", "partitions": group.partitions, "replication_factor": 3,
                    "min_insync_replicas": 2}]}}),
    ];
    for broker in ["b1", "b2", "b3"] {
        nodes.push(json!({"id": broker, "kind": "kafka_broker", "properties": {}}));
    }
    nodes.push(json!({"id": "p", "kind": "kafka_producer", "properties": {
        "controller": "ctl", "topic": "orders", "acks": "all", "enable_idempotence": true,
        "key_count": 24, "partitioner": group.partitioner,
        "inter_arrival": {"constant": {"value_ms": 10.0}},
        "stop_ms": group.producer_stop_ms}}));
    for index in 0..group.consumers {
        nodes.push(
            json!({"id": consumer_name(index), "kind": "kafka_consumer", "properties": {
            "controller": "ctl", "topic": "orders", "group_id": "billing",
            "commit_mode": group.commit_mode, "assignor": group.assignor,
            "auto_offset_reset": group.auto_offset_reset,
            "max_poll_records": group.max_poll_records,
            "processing_time": {"constant": {"value_ms": group.processing_ms}}}}),
        );
    }
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": nodes},
        "faults": {"timeline": timeline},
        "run": {"seed": seed, "duration_ms": group.duration_ms}
    }))
}

struct Outcome {
    lines: Vec<String>,
    checks: Vec<CheckResult>,
    summary: std::collections::BTreeMap<String, std::collections::BTreeMap<String, f64>>,
}

impl Outcome {
    fn check(&self, name: &str) -> (CheckStatus, String) {
        let result = self
            .checks
            .iter()
            .find(|result| result.name == name)
            .unwrap_or_else(|| panic!("checker {name} registered"));
        (result.status, result.detail.clone())
    }
}

fn run(scenario: &Scenario) -> Outcome {
    let mut simulator = Simulator::with_options(
        scenario,
        SimulatorOptions {
            record_full_trace: true,
            ..Default::default()
        },
    )
    .expect("valid");
    simulator.run_to_end();
    let report = faultline_engine::RunReport::from_simulator(&simulator);
    Outcome {
        checks: simulator.check_results(),
        lines: simulator.trace_mut().take_full_record().unwrap_or_default(),
        summary: report.nodes,
    }
}

fn crash_and_restart(node: &str, at_ms: u64, restart_ms: u64) -> Vec<Value> {
    vec![
        json!({"at_ms": at_ms, "action": {"crash": {"node": node}}}),
        json!({"at_ms": restart_ms, "action": {"restart": {"node": node}}}),
    ]
}

/// Consumers slower than the producer (40 ms per record against ~33
/// records/s per consumer), so a backlog builds, polls return full batches of
/// 50 and a crash lands mid-batch. The producer stops at 20 s; by 60 s the
/// group has caught up.
fn busy_group(commit_mode: &'static str) -> Group {
    Group {
        commit_mode,
        processing_ms: 40.0,
        duration_ms: 60_000,
        ..Default::default()
    }
}

fn assert_status(outcome: &Outcome, name: &str, expected: CheckStatus, seed: u64) {
    let (status, detail) = outcome.check(name);
    assert_eq!(status, expected, "seed {seed}: {name}: {detail}");
}

/// K7 (at-least-once): commitSync after processing. c3 (partitions 4 and 5,
/// the busiest: keys hash unevenly) crashes in the middle of a batch; what it processed but had not committed is processed again by
/// the member that takes its partitions over: duplicates, nothing skipped.
#[test]
fn consumer_crash_after_processing_before_commit_redelivers_duplicates() {
    let seed = 1;
    let outcome = run(&cluster(
        &busy_group("after_processing"),
        json!(crash_and_restart("c3", 8_000, 9_000)),
        seed,
    ));
    assert_status(
        &outcome,
        "kafka_no_duplicate_processing",
        CheckStatus::Fail,
        seed,
    );
    let (_, detail) = outcome.check("kafka_no_duplicate_processing");
    assert!(detail.contains("again"), "seed {seed}: {detail}");
    assert_status(
        &outcome,
        "kafka_group_no_skipped_offsets",
        CheckStatus::Pass,
        seed,
    );
    assert_status(
        &outcome,
        "kafka_acknowledged_writes_consumed",
        CheckStatus::Pass,
        seed,
    );
    assert_status(
        &outcome,
        "kafka_one_consumer_per_partition",
        CheckStatus::Pass,
        seed,
    );
    assert_status(
        &outcome,
        "kafka_consumer_offsets_in_order",
        CheckStatus::Pass,
        seed,
    );
    assert!(
        count(
            &outcome.lines,
            &["fact c3 revoked", "consumer crashed"],
            7.9..8.1
        ) == 1,
        "seed {seed}: the crash ends c3's ownership"
    );
}

/// K7 (at-most-once): commitSync right after poll, before processing. The
/// same crash skips the rest of c3's batch: committed, never processed.
#[test]
fn consumer_commit_before_processing_then_crash_skips_records() {
    let seed = 1;
    let outcome = run(&cluster(
        &busy_group("before_processing"),
        json!(crash_and_restart("c3", 8_000, 9_000)),
        seed,
    ));
    assert_status(
        &outcome,
        "kafka_group_no_skipped_offsets",
        CheckStatus::Fail,
        seed,
    );
    let (_, detail) = outcome.check("kafka_group_no_skipped_offsets");
    assert!(detail.contains("at-most-once"), "seed {seed}: {detail}");
    assert_status(
        &outcome,
        "kafka_acknowledged_writes_consumed",
        CheckStatus::Fail,
        seed,
    );
    assert_status(
        &outcome,
        "kafka_no_duplicate_processing",
        CheckStatus::Pass,
        seed,
    );
}

/// Without faults every commit mode delivers every acknowledged write exactly once.
#[test]
fn without_faults_every_commit_mode_processes_each_acknowledged_write_once() {
    for commit_mode in ["auto", "after_processing", "before_processing"] {
        for assignor in ["range", "round_robin", "cooperative_sticky"] {
            let seed = 3;
            let group = Group {
                commit_mode,
                assignor,
                duration_ms: 20_000,
                producer_stop_ms: 12_000,
                ..Default::default()
            };
            let outcome = run(&cluster(&group, json!([]), seed));
            for check in &outcome.checks {
                assert_eq!(
                    check.status,
                    CheckStatus::Pass,
                    "seed {seed} {commit_mode} {assignor}: {} {}",
                    check.name,
                    check.detail
                );
            }
            let consumed: f64 = (0..3)
                .map(|index| outcome.summary[&consumer_name(index)]["consumed"])
                .sum();
            let acknowledged = outcome.summary["p"]["acknowledged"];
            assert_eq!(
                consumed, acknowledged,
                "seed {seed} {commit_mode} {assignor}"
            );
        }
    }
}

/// The seconds at which `consumer` was assigned partitions after `after_s`.
fn assignments_after(lines: &[String], consumer: &str, after_s: f64) -> Vec<(f64, String)> {
    lines
        .iter()
        .filter(|line| line.contains(&format!("fact {consumer} assigned")))
        .map(|line| (common::seconds(line), line.clone()))
        .filter(|(at, _)| *at > after_s)
        .collect()
}

/// A crashed consumer's partitions move to the survivors once the coordinator
/// expires it (session timeout 10 s) and the rebalance completes, well
/// within session timeout + one second; nothing is lost.
#[test]
fn consumer_crash_moves_its_partitions_to_survivors_within_session_timeout() {
    for assignor in ["range", "cooperative_sticky"] {
        let seed = 2;
        let group = Group {
            assignor,
            ..Default::default()
        };
        let outcome = run(&cluster(
            &group,
            json!([{"at_ms": 5_000, "action": {"crash": {"node": "c3"}}}]),
            seed,
        ));
        // Its last heartbeat was up to one interval (3 s) before the crash.
        let expired = count(
            &outcome.lines,
            &["state b", "(c3) expired: no heartbeat"],
            12.0..15.2,
        );
        assert_eq!(
            expired, 1,
            "seed {seed} {assignor}: c3 expires 10 s after its last heartbeat"
        );
        let moved: Vec<(f64, String)> = ["c1", "c2"]
            .iter()
            .flat_map(|consumer| assignments_after(&outcome.lines, consumer, 5.0))
            .collect();
        assert!(
            !moved.is_empty(),
            "seed {seed} {assignor}: partitions moved"
        );
        for (at, line) in &moved {
            assert!(
                *at < 5.0 + 10.0 + 1.0,
                "seed {seed} {assignor}: moved too late: {line}"
            );
        }
        let owned: f64 = ["c1", "c2"]
            .iter()
            .map(|consumer| outcome.summary[*consumer]["partitions_owned"])
            .sum();
        assert_eq!(
            owned, 6.0,
            "seed {seed} {assignor}: survivors own every partition"
        );
        assert_status(
            &outcome,
            "kafka_acknowledged_writes_consumed",
            CheckStatus::Pass,
            seed,
        );
        assert_status(
            &outcome,
            "kafka_one_consumer_per_partition",
            CheckStatus::Pass,
            seed,
        );
        let survivors_revoked = count(&outcome.lines, &["revoked billing"], 5.0..40.0)
            - count(&outcome.lines, &["fact c3 revoked"], 5.0..40.0);
        if assignor == "cooperative_sticky" {
            assert_eq!(
                survivors_revoked, 0,
                "seed {seed}: cooperative survivors keep their partitions throughout"
            );
        } else {
            assert!(
                survivors_revoked >= 2,
                "seed {seed}: eager survivors give everything back first"
            );
        }
    }
}

/// A member joining a cooperative group takes partitions over in two
/// rebalances: owners revoke first, the newcomer is assigned after, so no
/// partition is ever owned twice (swept over seeds with crash/restart).
#[test]
fn cooperative_rebalances_never_give_a_partition_to_two_consumers() {
    for seed in 0..12 {
        let mut rng = faultline_engine::rng::SimRng::for_stream(seed, 99);
        let victim = consumer_name(rng.below(3) as usize);
        let crash_ms = 3_000 + rng.below(10_000);
        // Back after it expired, so the survivors own everything and must
        // hand partitions over to it.
        let restart_ms = crash_ms + 11_000 + rng.below(5_000);
        let group = Group {
            assignor: "cooperative_sticky",
            processing_ms: 2.0,
            duration_ms: 50_000,
            producer_stop_ms: 30_000,
            ..Default::default()
        };
        let outcome = run(&cluster(
            &group,
            json!(crash_and_restart(&victim, crash_ms, restart_ms)),
            seed,
        ));
        assert_status(
            &outcome,
            "kafka_one_consumer_per_partition",
            CheckStatus::Pass,
            seed,
        );
        assert_status(
            &outcome,
            "kafka_consumer_offsets_in_order",
            CheckStatus::Pass,
            seed,
        );
        assert_status(
            &outcome,
            "kafka_group_no_skipped_offsets",
            CheckStatus::Pass,
            seed,
        );
        assert_status(
            &outcome,
            "kafka_acknowledged_writes_consumed",
            CheckStatus::Pass,
            seed,
        );
        assert_status(&outcome, "kafka_order_per_key", CheckStatus::Pass, seed);
        assert!(
            count(
                &outcome.lines,
                &["revoked by the cooperative rebalance"],
                0.0..50.0
            ) > 0,
            "seed {seed}: the restarted member got partitions by revocation first"
        );
    }
}

/// A consumer cut off from its coordinator but not from the partition leaders
/// keeps processing after the group gave its partitions away: two members
/// own a partition at once (the zombie consumer Kafka fences only at commit).
#[test]
fn consumer_cut_off_from_coordinator_becomes_a_zombie_owner() {
    let seed = 1;
    let outcome = run(&cluster(
        &Group::default(),
        json!([
            {"at_ms": 5_000, "action": {"partition": {"groups": [["c1"], ["b1"]]}}},
            {"at_ms": 25_000, "action": {"heal": {}}}
        ]),
        seed,
    ));
    assert_status(
        &outcome,
        "kafka_one_consumer_per_partition",
        CheckStatus::Fail,
        seed,
    );
    let (_, detail) = outcome.check("kafka_one_consumer_per_partition");
    assert!(detail.contains("still owns"), "seed {seed}: {detail}");
}

/// The shipped lesson keeps telling its story: every expectation is met.
#[test]
fn consumer_group_rebalance_example_meets_its_expectations() {
    let scenario = common::example("kafka-consumer-group-rebalance");
    let seed = scenario.run.seed;
    let report =
        faultline_engine::run_scenario(&scenario, SimulatorOptions::default()).expect("valid");
    for expectation in &report.expectations {
        assert!(
            expectation.met,
            "seed {seed}: {} (actual {})",
            expectation.expectation, expectation.actual
        );
    }
    assert!(!report.expectations.is_empty());
}

/// Bad consumer properties are reported with their JSON paths.
#[test]
fn invalid_consumer_properties_are_reported_with_json_paths() {
    let mut document = serde_json::to_value(cluster(&Group::default(), json!([]), 1))
        .expect("scenario serialises");
    let consumer = &mut document["topology"]["nodes"][5]["properties"];
    consumer["heartbeat_interval_ms"] = json!(20_000);
    consumer["max_poll_records"] = json!(0);
    consumer["topic"] = json!("ordres");
    document["topology"]["nodes"][6]["properties"]["assignor"] = json!("cooperative_sticky");
    let problems = faultline_engine::scenario::parse_scenario_value(document)
        .expect_err("invalid")
        .to_string();
    for needle in [
        "topology.nodes[5].properties.heartbeat_interval_ms: expected less than session_timeout_ms (10000), found 20000",
        "topology.nodes[5].properties.max_poll_records: expected 1 to",
        "topology.nodes[5].properties.topic: controller \"ctl\" has no topic \"ordres\"",
        "topology.nodes[6].properties.assignor: group \"billing\" already uses \"range\"",
    ] {
        assert!(
            problems.contains(needle),
            "missing {needle:?} in:\n{problems}"
        );
    }
}

/// Per-key order holds because a key always lands on one partition (murmur2).
/// A round-robin partitioner spreads one key over every partition, consumers
/// read them in parallel, and a key's records reach the application out of
/// the order they were written.
#[test]
fn round_robin_partitioner_breaks_per_key_order_murmur2_keeps_it() {
    let seed = 4;
    let keyed = run(&cluster(&Group::default(), json!([]), seed));
    assert_status(&keyed, "kafka_order_per_key", CheckStatus::Pass, seed);
    let spread = run(&cluster(
        &Group {
            partitioner: "round_robin",
            processing_ms: 5.0,
            ..Default::default()
        },
        json!([]),
        seed,
    ));
    assert_status(&spread, "kafka_order_per_key", CheckStatus::Fail, seed);
    assert_status(
        &spread,
        "kafka_no_duplicate_processing",
        CheckStatus::Pass,
        seed,
    );
}

/// The sweep table for the report: (commit mode, assignor) × 100 seeds, each
/// crashing one random consumer at a random moment and restarting it later
/// → runs in which each consumer property was violated.
/// Run by hand: `cargo test -p faultline-engine --test kafka_consumer_groups -- --ignored --nocapture`.
#[test]
#[ignore]
fn sweep_table_of_commit_modes_by_runs_with_violations() {
    let configurations = [
        ("auto", "cooperative_sticky"),
        ("after_processing", "cooperative_sticky"),
        ("before_processing", "cooperative_sticky"),
        ("after_processing", "range"),
    ];
    let properties = [
        "kafka_no_duplicate_processing",
        "kafka_group_no_skipped_offsets",
        "kafka_acknowledged_writes_consumed",
        "kafka_one_consumer_per_partition",
        "kafka_consumer_offsets_in_order",
        "kafka_order_per_key",
        "lost_acknowledged_writes",
    ];
    println!(
        "| commit mode | assignor | seeds | {} |",
        properties.join(" | ")
    );
    println!("|---|---|---|{}", "---|".repeat(properties.len()));
    for (commit_mode, assignor) in configurations {
        let mut failures = vec![0u32; properties.len()];
        for seed in 0..100 {
            let mut rng = faultline_engine::rng::SimRng::for_stream(seed, 1_234);
            let victim = consumer_name(rng.below(3) as usize);
            let crash_ms = 2_000 + rng.below(15_000);
            let restart_ms = crash_ms + 500 + rng.below(15_000);
            let group = Group {
                commit_mode,
                assignor,
                processing_ms: 40.0,
                duration_ms: 60_000,
                ..Default::default()
            };
            let outcome = run(&cluster(
                &group,
                json!(crash_and_restart(&victim, crash_ms, restart_ms)),
                seed,
            ));
            for (index, property) in properties.iter().enumerate() {
                if outcome.check(property).0 == CheckStatus::Fail {
                    failures[index] += 1;
                }
            }
        }
        let cells: Vec<String> = failures.iter().map(u32::to_string).collect();
        println!(
            "| {commit_mode} | {assignor} | 100 | {} |",
            cells.join(" | ")
        );
    }
}

/// The coordinator's broker crashes: the controller names the next live
/// broker, which has the group's committed offsets and stable membership
/// (copied to every broker, as `__consumer_offsets` holds both in Kafka), so
/// the members carry on there without a rebalance: nothing skipped, every
/// acknowledged write consumed, never two owners.
#[test]
fn coordinator_crash_moves_the_group_and_committed_offsets_survive() {
    let seed = 1;
    let outcome = run(&cluster(
        &Group::default(),
        json!(crash_and_restart("b1", 6_000, 20_000)),
        seed,
    ));
    assert!(
        count(
            &outcome.lines,
            &["group billing: coordinator is b2"],
            6.0..20.0
        ) >= 3,
        "seed {seed}: every member finds the new coordinator"
    );
    assert_eq!(
        count(
            &outcome.lines,
            &["state b2 group billing: loaded generation"],
            6.0..20.0
        ),
        1,
        "seed {seed}: b2 carries on with the copied group metadata"
    );
    assert_eq!(
        count(&outcome.lines, &["revoked billing"], 6.0..40.0),
        0,
        "seed {seed}: no rebalance: every member keeps its partitions"
    );
    assert_status(
        &outcome,
        "kafka_one_consumer_per_partition",
        CheckStatus::Pass,
        seed,
    );
    assert_status(
        &outcome,
        "kafka_group_no_skipped_offsets",
        CheckStatus::Pass,
        seed,
    );
    assert_status(
        &outcome,
        "kafka_acknowledged_writes_consumed",
        CheckStatus::Pass,
        seed,
    );
    assert_status(
        &outcome,
        "lost_acknowledged_writes",
        CheckStatus::Pass,
        seed,
    );
}
