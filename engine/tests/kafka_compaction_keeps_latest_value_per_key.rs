//! Kafka log compaction (cleanup_policy compact): the cleaner keeps the latest value per key with offsets preserved, a late consumer sees only the latest values, tombstones delete keys after `delete_retention_ms`, the active segment and young segments stay, and followers and new leaders step over the gaps.
//!
//! Every scenario is a controller, three brokers, one producer writing a
//! record every 2 ms over 10 keys to one partition (replication factor 3,
//! min ISR 2, acks=all, idempotent) until 6 s, a live consumer group that
//! reads everything as it is written, and a late consumer group (its only
//! member is down until `late_start_ms`) that reads from the start. Segments
//! hold 10 records (640 bytes), so the active segment never holds more.

mod common;

use faultline_engine::checkers::CheckStatus;
use faultline_engine::checkers::kafka::{AcknowledgedWrite, parse_write_ok};
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const KEYS: u32 = 10;
const RECORDS_PER_SEGMENT: usize = 10;

struct Config {
    topic: Value,
    tombstone_percent: u32,
    late_start_ms: u64,
    duration_ms: u64,
    timeline: Vec<Value>,
    seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            topic: json!({}),
            tombstone_percent: 0,
            late_start_ms: 10_000,
            duration_ms: 15_000,
            timeline: Vec::new(),
            seed: 1,
        }
    }
}

fn cluster(config: &Config) -> Scenario {
    let mut topic = json!({"name": "balances", "partitions": 1, "replication_factor": 3,
                           "min_insync_replicas": 2, "cleanup_policy": "compact",
                           "segment_bytes": 64 * RECORDS_PER_SEGMENT});
    if let (Some(topic), Some(extra)) = (topic.as_object_mut(), config.topic.as_object()) {
        topic.extend(extra.clone());
    }
    let mut nodes = vec![
        json!({"id": "ctl", "kind": "kafka_controller", "properties": {
        "brokers": ["b1", "b2", "b3"], "topics": [topic]}}),
    ];
    for broker in ["b1", "b2", "b3"] {
        nodes.push(json!({"id": broker, "kind": "kafka_broker",
                          "properties": {"replica_fetch_interval_ms": 5}}));
    }
    nodes.push(json!({"id": "p", "kind": "kafka_producer", "properties": {
        "controller": "ctl", "topic": "balances", "acks": "all", "enable_idempotence": true,
        "key_count": KEYS, "tombstone_percent": config.tombstone_percent,
        "inter_arrival": {"constant": {"value_ms": 2.0}}, "stop_ms": 6_000}}));
    for (id, group) in [("live", "ledger"), ("late", "rebuild")] {
        nodes.push(json!({"id": id, "kind": "kafka_consumer", "properties": {
            "controller": "ctl", "topic": "balances", "group_id": group,
            "commit_mode": "after_processing", "auto_offset_reset": "earliest",
            "processing_time": {"constant": {"value_ms": 0.1}}}}));
    }
    let mut timeline = vec![
        json!({"at_ms": 1, "action": {"crash": {"node": "late"}}}),
        json!({"at_ms": config.late_start_ms, "action": {"restart": {"node": "late"}}}),
    ];
    timeline.extend(config.timeline.iter().cloned());
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": nodes},
        "faults": {"timeline": timeline},
        "run": {"seed": config.seed, "duration_ms": config.duration_ms}
    }))
}

/// One record a consumer processed, from its `consumed` fact line.
#[derive(Clone, Debug)]
struct Consumed {
    offset: u64,
    key: u32,
    value: u64,
    tombstone: bool,
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

    fn metric(&self, node: &str, name: &str) -> f64 {
        self.summary[node].get(name).copied().unwrap_or(0.0)
    }

    fn removed_by_cleaners(&self) -> f64 {
        ["b1", "b2", "b3"]
            .iter()
            .map(|broker| self.metric(broker, "cleaner_removed_records"))
            .sum()
    }

    /// Records the group processed, first processing of each offset only.
    fn consumed(&self, group: &str) -> Vec<Consumed> {
        let needle = format!(" consumed {group} balances-0 ");
        let mut seen = std::collections::BTreeSet::new();
        self.lines
            .iter()
            .filter_map(|line| {
                let rest = line.split(&needle).nth(1)?;
                let field = |name: &str| -> Option<u64> {
                    rest.split(' ')
                        .find_map(|word| word.strip_prefix(name))?
                        .parse()
                        .ok()
                };
                Some(Consumed {
                    offset: field("offset=")?,
                    key: field("key=")? as u32,
                    value: field("value=")?,
                    tombstone: rest.ends_with(" tombstone"),
                })
            })
            .filter(|record| seen.insert(record.offset))
            .collect()
    }

    /// Every acknowledged write, in acknowledgement order.
    fn acknowledged(&self) -> Vec<AcknowledgedWrite> {
        self.lines
            .iter()
            .filter(|line| line.contains(" ok write "))
            .filter_map(|line| parse_write_ok(&line[line.find("write ")?..]))
            .collect()
    }

    /// Key → its latest acknowledged write (largest offset).
    fn latest_acknowledged(&self) -> BTreeMap<u32, AcknowledgedWrite> {
        let mut latest: BTreeMap<u32, AcknowledgedWrite> = BTreeMap::new();
        for write in self.acknowledged() {
            match latest.get(&write.key) {
                Some(known) if known.offset > write.offset => {}
                _ => {
                    latest.insert(write.key, write);
                }
            }
        }
        latest
    }

    fn assert_passes(&self, names: &[&str], seed: u64) {
        for name in names {
            let (status, detail) = self.check(name);
            assert_eq!(status, CheckStatus::Pass, "seed {seed}: {name}: {detail}");
        }
    }
}

fn run(scenario: &Scenario) -> Outcome {
    let outcome = run_quietly(scenario);
    if let Some(path) = std::env::var_os("DUMP_TRACE") {
        std::fs::write(path, outcome.lines.join("\n")).expect("trace dump written");
    }
    outcome
}

fn run_quietly(scenario: &Scenario) -> Outcome {
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

/// The value a group saw last for each key (None: the key was deleted).
fn final_state(records: &[Consumed]) -> BTreeMap<u32, Option<u64>> {
    let mut state = BTreeMap::new();
    for record in records {
        state.insert(record.key, (!record.tombstone).then_some(record.value));
    }
    state
}

const CONSUMER_CHECKS: &[&str] = &[
    "kafka_compaction_latest_value_per_key",
    "kafka_compaction_tombstones_expire",
    "kafka_consumer_offsets_in_order",
    "kafka_group_no_skipped_offsets",
    "kafka_acknowledged_writes_consumed",
    "lost_acknowledged_writes",
    "no_duplicate_log_entries",
];

/// §4.8: "any consumer progressing from the start of the log will see at
/// least the final state of all records". A consumer group that starts at
/// 10 s, long after the cleaner has compacted the 3000 writes, reads about
/// one record per key (plus the active segment, never cleaned) and ends with
/// exactly the latest acknowledged value of every key, like the group that
/// read every write as it happened. The offsets it reads jump over the
/// compacted ones, and no checker calls that a skip.
#[test]
fn late_consumer_reading_from_the_start_sees_only_the_latest_value_per_key() {
    let seed = 1;
    let outcome = run(&cluster(&Config::default()));
    outcome.assert_passes(CONSUMER_CHECKS, seed);
    let acknowledged = outcome.acknowledged().len();
    assert!(
        acknowledged > 2_500,
        "seed {seed}: {acknowledged} acknowledged"
    );
    let live = outcome.consumed("ledger");
    let late = outcome.consumed("rebuild");
    println!(
        "acknowledged {acknowledged}; live group processed {}, late group {}; cleaners removed {}",
        live.len(),
        late.len(),
        outcome.removed_by_cleaners()
    );
    assert_eq!(
        live.len(),
        acknowledged,
        "seed {seed}: the live group read every write"
    );
    assert!(
        late.len() <= KEYS as usize + RECORDS_PER_SEGMENT,
        "seed {seed}: the late group read {} records: at most one per key plus the active segment",
        late.len()
    );
    let expected: BTreeMap<u32, Option<u64>> = outcome
        .latest_acknowledged()
        .into_iter()
        .map(|(key, write)| (key, Some(write.value)))
        .collect();
    assert_eq!(expected.len(), KEYS as usize, "seed {seed}");
    assert_eq!(
        final_state(&late),
        expected,
        "seed {seed}: late group's final state"
    );
    assert_eq!(
        final_state(&live),
        expected,
        "seed {seed}: live group's final state"
    );
    assert!(
        late.windows(2)
            .any(|pair| pair[1].offset > pair[0].offset + 1),
        "seed {seed}: the late group stepped over compacted offsets"
    );
}

/// Tombstones (null values) delete keys. The cleaner first drops every
/// older value of a deleted key and keeps the tombstone `delete_retention_ms`
/// (here 2 s) so that readers still see the delete; then the tombstone goes
/// too and the key disappears. A late consumer at 12 s never hears of keys
/// deleted in the cleaned part; with a 60 s `delete_retention_ms` it sees
/// their tombstones instead.
#[test]
fn tombstoned_keys_disappear_after_delete_retention_ms() {
    let seed = 3;
    let short = run(&cluster(&Config {
        topic: json!({"delete_retention_ms": 2_000}),
        tombstone_percent: 50,
        late_start_ms: 12_000,
        seed,
        ..Config::default()
    }));
    short.assert_passes(CONSUMER_CHECKS, seed);
    let expired: usize = short
        .lines
        .iter()
        .filter(|line| line.contains("log cleaner: balances-0"))
        .filter_map(|line| {
            let before = line.split(" expired tombstone(s)").next()?;
            before.rsplit(' ').next()?.parse::<usize>().ok()
        })
        .sum();
    let late = short.consumed("rebuild");
    let late_tombstones = late.iter().filter(|record| record.tombstone).count();
    println!(
        "delete_retention_ms 2000: cleaners dropped {expired} tombstone(s) in all; the late group read {} records, {late_tombstones} tombstone(s)",
        late.len()
    );
    assert!(expired > 0, "seed {seed}: tombstones expired");
    // The late group's view equals the live group's, deleted keys included.
    let live_state = final_state(&short.consumed("ledger"));
    let late_state = final_state(&late);
    let deleted: Vec<u32> = live_state
        .iter()
        .filter(|(_, value)| value.is_none())
        .map(|(key, _)| *key)
        .collect();
    assert!(!deleted.is_empty(), "seed {seed}: some key ends deleted");
    for key in &deleted {
        assert!(
            matches!(late_state.get(key), None | Some(None)),
            "seed {seed}: deleted key {key} must not come back with a value: {late_state:?}"
        );
    }
    for (key, value) in &live_state {
        if value.is_some() {
            assert_eq!(late_state.get(key), Some(value), "seed {seed}: key {key}");
        }
    }
    // Deleted keys whose tombstone was cleaned and expired left no trace.
    assert!(
        deleted.iter().any(|key| !late_state.contains_key(key)),
        "seed {seed}: some deleted key disappeared entirely: {late_state:?}"
    );

    let long = run(&cluster(&Config {
        topic: json!({"delete_retention_ms": 60_000}),
        tombstone_percent: 50,
        late_start_ms: 12_000,
        seed,
        ..Config::default()
    }));
    long.assert_passes(CONSUMER_CHECKS, seed);
    let late_state = final_state(&long.consumed("rebuild"));
    for key in &deleted {
        assert_eq!(
            late_state.get(key),
            Some(&None),
            "seed {seed}: within delete_retention_ms the late group sees key {key}'s delete"
        );
    }
}

/// The cleaner never touches the active segment: with Kafka's default
/// 1 GiB segments and no `segment_ms` the log never rolls and nothing is
/// compacted in a lesson. `segment_ms` rolls it by time, and
/// `min_compaction_lag_ms` keeps young segments (here: all of them) whole.
#[test]
fn active_segment_and_segments_younger_than_min_compaction_lag_are_never_cleaned() {
    let seed = 1;
    let unrolled = run(&cluster(&Config {
        topic: json!({"segment_bytes": 1_073_741_824}),
        seed,
        ..Config::default()
    }));
    unrolled.assert_passes(CONSUMER_CHECKS, seed);
    assert_eq!(unrolled.removed_by_cleaners(), 0.0, "seed {seed}");
    let acknowledged = unrolled.acknowledged().len();
    assert_eq!(
        unrolled.consumed("rebuild").len(),
        acknowledged,
        "seed {seed}: with nothing cleaned the late group reads every write"
    );

    let by_time = run(&cluster(&Config {
        topic: json!({"segment_bytes": 1_073_741_824, "segment_ms": 500}),
        seed,
        ..Config::default()
    }));
    by_time.assert_passes(CONSUMER_CHECKS, seed);
    let removed = by_time.removed_by_cleaners();
    println!("segment_ms 500: cleaners removed {removed} records");
    assert!(removed > 1_000.0, "seed {seed}: removed {removed}");
    // The active segment holds up to 500 ms of writes (about 250 records).
    assert!(
        by_time.consumed("rebuild").len() <= KEYS as usize + 260,
        "seed {seed}"
    );

    let lagging = run(&cluster(&Config {
        topic: json!({"min_compaction_lag_ms": 60_000}),
        seed,
        ..Config::default()
    }));
    lagging.assert_passes(CONSUMER_CHECKS, seed);
    assert_eq!(lagging.removed_by_cleaners(), 0.0, "seed {seed}");
}

/// Each broker compacts its own copy, and offsets survive compaction, so
/// replication works across the gaps. b3 is down from 1 s to 14 s: it
/// leaves the ISR after `replica_lag_time_max_ms` (10 s; acks=all writes
/// wait until then), the high watermark moves on and the leader compacts.
/// Back at 14 s, b3 catches up by fetching a log with gaps and rejoins the
/// ISR. Then the leader b1 crashes for good at 18 s: the new leader's
/// compacted copy still holds every key's latest acknowledged value, and
/// the late group, reading from it, ends with exactly those values.
#[test]
fn follower_catches_up_across_compaction_gaps_and_a_new_leader_serves_the_latest_values() {
    let seed = 2;
    let outcome = run(&cluster(&Config {
        timeline: vec![
            json!({"at_ms": 1_000, "action": {"crash": {"node": "b3"}}}),
            json!({"at_ms": 14_000, "action": {"restart": {"node": "b3"}}}),
            json!({"at_ms": 18_000, "action": {"crash": {"node": "b1"}}}),
        ],
        // After the new leader (and group coordinator) took over at about
        // 24 s: a join sent to the dead b1 would wait out request_timeout_ms.
        late_start_ms: 26_000,
        duration_ms: 35_000,
        seed,
        ..Config::default()
    }));
    outcome.assert_passes(CONSUMER_CHECKS, seed);
    // b3's appends after its restart: fetched from b1's compacted log.
    let b3_offsets: Vec<u64> = outcome
        .lines
        .iter()
        .filter(|line| common::seconds(line) >= 14.0)
        .filter_map(|line| line.split(" fact b3 append balances-0 offset=").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect();
    assert!(
        b3_offsets.windows(2).any(|pair| pair[1] > pair[0] + 1),
        "seed {seed}: b3 fetched across compaction gaps: {b3_offsets:?}"
    );
    let last_acknowledged = outcome
        .acknowledged()
        .iter()
        .map(|write| write.offset)
        .max()
        .unwrap_or(0);
    assert_eq!(
        b3_offsets.last().copied(),
        Some(last_acknowledged),
        "seed {seed}: b3 caught up to the last acknowledged write"
    );
    let rejoined = outcome.lines.iter().any(|line| {
        common::seconds(line) >= 14.0
            && line.contains("proposing isr balances-0")
            && line.contains("(caught up)")
    });
    assert!(rejoined, "seed {seed}: b3 rejoined the ISR");
    for broker in ["b1", "b2", "b3"] {
        assert!(
            outcome.metric(broker, "cleaner_removed_records") > 0.0,
            "seed {seed}: {broker} compacted its own copy"
        );
    }
    let expected: BTreeMap<u32, Option<u64>> = outcome
        .latest_acknowledged()
        .into_iter()
        .map(|(key, write)| (key, Some(write.value)))
        .collect();
    assert_eq!(
        final_state(&outcome.consumed("rebuild")),
        expected,
        "seed {seed}: the late group read the new leader's compacted log"
    );
}

/// Bad compaction settings are refused with their JSON path.
#[test]
fn bad_compaction_settings_name_their_json_path() {
    let scenario = json!({
        "version": 1,
        "topology": {"nodes": [
            {"id": "ctl", "kind": "kafka_controller", "properties": {
                "brokers": ["b1"],
                "topics": [{"name": "balances", "cleanup_policy": "compact",
                            "min_cleanable_dirty_ratio": 1.5, "segment_ms": 0,
                            "delete_retention_ms": 700_000_000, "retention_ms": 1_000}]}},
            {"id": "b1", "kind": "kafka_broker", "properties": {}},
            {"id": "p", "kind": "kafka_producer", "properties": {
                "controller": "ctl", "topic": "balances", "acks": "all",
                "keyless_percent": 5, "tombstone_percent": 101,
                "inter_arrival": {"constant": {"value_ms": 2.0}}}}
        ]},
        "run": {"seed": 1, "duration_ms": 1_000}
    });
    let problems = faultline_engine::scenario::parse_scenario_value(scenario)
        .expect_err("invalid")
        .to_string();
    for path in [
        "topology.nodes[0].properties.topics[0].min_cleanable_dirty_ratio",
        "topology.nodes[0].properties.topics[0].segment_ms",
        "topology.nodes[0].properties.topics[0].delete_retention_ms",
        "topology.nodes[0].properties.topics[0].retention_ms",
        "topology.nodes[2].properties.keyless_percent",
        "topology.nodes[2].properties.tombstone_percent",
    ] {
        assert!(problems.contains(path), "{path} missing from:\n{problems}");
    }
    let unknown_policy = json!({
        "version": 1,
        "topology": {"nodes": [
            {"id": "ctl", "kind": "kafka_controller", "properties": {
                "brokers": ["b1"], "topics": [{"name": "t", "cleanup_policy": "compacted"}]}},
            {"id": "b1", "kind": "kafka_broker", "properties": {}}
        ]},
        "run": {"seed": 1, "duration_ms": 1_000}
    });
    let problems = faultline_engine::scenario::parse_scenario_value(unknown_policy)
        .expect_err("invalid")
        .to_string();
    assert!(
        problems.contains("topology.nodes[0].properties.topics[0].cleanup_policy")
            && problems.contains("compact,delete")
            && !problems.contains("unknown node kind"),
        "{problems}"
    );
}

/// The shipped lesson keeps telling its story: every expectation is met,
/// and the late service rebuilds every open account from about one record
/// each.
#[test]
fn compacted_topic_example_meets_its_expectations() {
    let scenario = common::example("kafka-compacted-topic");
    let seed = scenario.run.seed;
    let report =
        faultline_engine::run_scenario(&scenario, SimulatorOptions::default()).expect("valid");
    for expectation in &report.expectations {
        println!(
            "{} -> {} ({})",
            expectation.expectation,
            expectation.actual,
            if expectation.met { "met" } else { "NOT met" }
        );
    }
    for expectation in &report.expectations {
        assert!(
            expectation.met,
            "seed {seed}: {} (actual {})",
            expectation.expectation, expectation.actual
        );
    }
    assert!(!report.expectations.is_empty());
    let processed = |node: &str| report.nodes[node].get("consumed").copied().unwrap_or(0.0);
    println!(
        "balance-view processed {}, statement-rebuild {}",
        processed("balance-view"),
        processed("statement-rebuild")
    );
    assert!(
        processed("statement-rebuild") * 10.0 < processed("balance-view"),
        "seed {seed}: the late rebuild reads a small fraction of the updates"
    );
}
