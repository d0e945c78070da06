//! Kafka log retention by time (`retention_ms`) and size (`retention_bytes`): whole segments go from the front, the log start offset moves on, and a consumer that falls behind it loses records (offset out of range, reset to earliest).
//!
//! Every scenario is a controller, three brokers, one producer writing a
//! record every 2 ms to one partition (replication factor 3, min ISR 2) and
//! one consumer group of one member. Segments hold 100 records (6400 bytes).

mod common;

use faultline_engine::checkers::CheckStatus;
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SEGMENT_BYTES: u64 = 6_400;

fn cluster(retention: Value, processing_ms: f64, seed: u64) -> Scenario {
    let mut topic = json!({"name": "events", "partitions": 1, "replication_factor": 3,
                           "min_insync_replicas": 2, "segment_bytes": SEGMENT_BYTES});
    if let (Some(topic), Some(retention)) = (topic.as_object_mut(), retention.as_object()) {
        topic.extend(retention.clone());
    }
    let mut nodes = vec![
        json!({"id": "ctl", "kind": "kafka_controller", "properties": {
        "brokers": ["b1", "b2", "b3"], "topics": [topic]}}),
    ];
    for broker in ["b1", "b2", "b3"] {
        // Followers poll every 5 ms (Kafka long-polls), so acks=all keeps up
        // with 500 records/s.
        nodes.push(json!({"id": broker, "kind": "kafka_broker",
                          "properties": {"replica_fetch_interval_ms": 5}}));
    }
    nodes.push(json!({"id": "p", "kind": "kafka_producer", "properties": {
        "controller": "ctl", "topic": "events", "acks": "all", "enable_idempotence": true,
        "inter_arrival": {"constant": {"value_ms": 2.0}}, "stop_ms": 12_000}}));
    nodes.push(json!({"id": "c1", "kind": "kafka_consumer", "properties": {
        "controller": "ctl", "topic": "events", "group_id": "audit",
        "commit_mode": "after_processing", "auto_offset_reset": "earliest",
        "processing_time": {"constant": {"value_ms": processing_ms}}}}));
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": nodes},
        "run": {"seed": seed, "duration_ms": 15_000}
    }))
}

struct Outcome {
    lines: Vec<String>,
    checks: BTreeMap<String, (CheckStatus, String)>,
    summary: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Outcome {
    fn check(&self, name: &str) -> (CheckStatus, String) {
        self.checks
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("checker {name} registered"))
    }

    fn broker(&self, broker: &str, name: &str) -> f64 {
        self.summary[broker].get(name).copied().unwrap_or(0.0)
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
        checks: simulator
            .check_results()
            .into_iter()
            .map(|result| (result.name.clone(), (result.status, result.detail.clone())))
            .collect(),
        lines: simulator.trace_mut().take_full_record().unwrap_or_default(),
        summary: report.nodes,
    }
}

/// The log start offsets retention moved to on b1 (from its state lines).
fn log_starts(outcome: &Outcome, broker: &str) -> Vec<u64> {
    outcome
        .lines
        .iter()
        .filter(|line| line.contains(&format!(" {broker} ")) && line.contains("log start is now "))
        .filter_map(|line| line.split("log start is now ").nth(1)?.trim().parse().ok())
        .collect()
}

/// A consumer slower than the producer (10 ms a record against a record
/// every 2 ms) falls behind a 2-second retention: the segments it has not
/// read are deleted, its next fetch is out of range, it resets to the log
/// start and the records in between are never processed. The skipped-offset
/// checker reports it; a consumer that keeps up loses nothing.
#[test]
fn slow_consumer_loses_records_to_time_retention_and_the_checker_reports_skipped_offsets() {
    let seed = 1;
    let slow = run(&cluster(json!({"retention_ms": 2_000}), 10.0, seed));
    let deleted = slow.broker("b1", "retention_deleted_records");
    assert!(
        deleted >= 3_000.0,
        "seed {seed}: b1 deleted {deleted} records"
    );
    let (status, detail) = slow.check("kafka_group_no_skipped_offsets");
    println!("retention_ms 2000, consumer 10 ms/record: b1 deleted {deleted} records; {detail}");
    assert_eq!(status, CheckStatus::Fail, "seed {seed}: {detail}");
    assert!(
        detail.contains("lost to retention") && detail.contains("never processed"),
        "seed {seed}: {detail}"
    );
    assert!(
        slow.lines
            .iter()
            .any(|line| line.contains("out of range (deleted by retention")),
        "seed {seed}: the consumer was told its offset is gone"
    );
    // Retention deletes by policy: no acknowledged write counts as lost.
    let (lost, lost_detail) = slow.check("lost_acknowledged_writes");
    assert_eq!(lost, CheckStatus::Pass, "seed {seed}: {lost_detail}");

    let fast = run(&cluster(json!({"retention_ms": 2_000}), 0.1, seed));
    assert!(
        fast.broker("b1", "retention_deleted_records") >= 3_000.0,
        "seed {seed}: retention runs whether or not anyone is behind"
    );
    let (status, detail) = fast.check("kafka_group_no_skipped_offsets");
    assert_eq!(status, CheckStatus::Pass, "seed {seed}: {detail}");
    let (status, detail) = fast.check("kafka_acknowledged_writes_consumed");
    assert_eq!(status, CheckStatus::Pass, "seed {seed}: {detail}");
}

/// Size retention keeps the partition between `retention_bytes` and one
/// segment more, deleting whole segments only: the log start is always a
/// segment boundary.
#[test]
fn size_retention_deletes_whole_segments_and_bounds_the_log() {
    let seed = 2;
    // 500 records' worth: the log holds 500 to 600 records.
    let outcome = run(&cluster(json!({"retention_bytes": 32_000}), 0.1, seed));
    for broker in ["b1", "b2", "b3"] {
        let starts = log_starts(&outcome, broker);
        assert!(starts.len() >= 10, "seed {seed}: {broker}: {starts:?}");
        for start in &starts {
            assert_eq!(
                start % 100,
                0,
                "seed {seed}: {broker}: segment boundary {start}"
            );
        }
        let kept = outcome.broker(broker, "log_records");
        assert!(
            (500.0..=600.0).contains(&kept),
            "seed {seed}: {broker} keeps {kept} records"
        );
    }
    let (status, detail) = outcome.check("kafka_group_no_skipped_offsets");
    assert_eq!(status, CheckStatus::Pass, "seed {seed}: {detail}");
}

/// Without retention nothing is deleted (the default).
#[test]
fn without_retention_the_log_keeps_every_record() {
    let seed = 3;
    let outcome = run(&cluster(json!({}), 0.1, seed));
    assert_eq!(
        outcome.broker("b1", "retention_deleted_records"),
        0.0,
        "seed {seed}"
    );
    assert!(
        outcome.broker("b1", "log_records") >= 5_900.0,
        "seed {seed}"
    );
}

/// Every retention property is checked, with its JSON path.
#[test]
fn retention_properties_out_of_range_are_reported_with_their_paths() {
    let mut document = serde_json::to_value(cluster(json!({}), 1.0, 1)).expect("serialises");
    let topic = &mut document["topology"]["nodes"][0]["properties"]["topics"][0];
    topic["retention_ms"] = json!(0);
    topic["retention_bytes"] = json!(10);
    topic["segment_bytes"] = json!(2_000_000_000u64);
    let problems = faultline_engine::scenario::parse_scenario_value(document)
        .expect_err("invalid")
        .to_string();
    for needle in [
        "topology.nodes[0].properties.topics[0].retention_ms: expected 1 to",
        "topology.nodes[0].properties.topics[0].retention_bytes: expected at least 64 (one record), found 10",
        "topology.nodes[0].properties.topics[0].segment_bytes: expected 64 (one record) to 1073741824, found 2000000000",
    ] {
        assert!(
            problems.contains(needle),
            "missing {needle:?} in:\n{problems}"
        );
    }
}
