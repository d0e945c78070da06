//! Kafka producer batching (`linger_ms`, `batch_size_bytes`) and the sticky partitioner for keyless records (KIP-480): fewer, fuller requests at the cost of latency; batches retried whole and deduplicated per batch.
//!
//! Every scenario is a controller, three brokers and one producer writing
//! about 500 records/s (a record every 2 ms) to a topic with replication
//! factor 3 and min ISR 2, acks=all.

mod common;

use common::count;

use faultline_engine::checkers::CheckStatus;
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};
use std::collections::BTreeMap;

struct Producer {
    linger_ms: u64,
    batch_size_bytes: u32,
    idempotent: bool,
    acks: &'static str,
    partitions: u32,
    partitioner: &'static str,
    keyless_percent: u32,
    inter_arrival_ms: f64,
    replica_fetch_interval_ms: u64,
}

impl Default for Producer {
    fn default() -> Self {
        Producer {
            linger_ms: 0,
            batch_size_bytes: 64,
            idempotent: true,
            acks: "all",
            partitions: 3,
            partitioner: "murmur2",
            keyless_percent: 0,
            inter_arrival_ms: 2.0,
            // Kafka followers long-poll, so an acks=all write commits within
            // a round trip or two; a 5 ms poll stands in for that.
            replica_fetch_interval_ms: 5,
        }
    }
}

const NODES: [&str; 5] = ["ctl", "b1", "b2", "b3", "p"];

fn cluster(producer: &Producer, timeline: Value, seed: u64) -> Scenario {
    let mut nodes = vec![
        json!({"id": "ctl", "kind": "kafka_controller", "properties": {
        "brokers": ["b1", "b2", "b3"],
        "topics": [{"name": "orders", "partitions": producer.partitions, "replication_factor": 3,
                    "min_insync_replicas": 2}]}}),
    ];
    for broker in ["b1", "b2", "b3"] {
        nodes.push(json!({"id": broker, "kind": "kafka_broker", "properties": {
            "replica_fetch_interval_ms": producer.replica_fetch_interval_ms}}));
    }
    nodes.push(json!({"id": "p", "kind": "kafka_producer", "properties": {
        "controller": "ctl", "topic": "orders", "acks": producer.acks,
        "enable_idempotence": producer.idempotent, "key_count": 24,
        "partitioner": producer.partitioner, "keyless_percent": producer.keyless_percent,
        "linger_ms": producer.linger_ms, "batch_size_bytes": producer.batch_size_bytes,
        "inter_arrival": {"constant": {"value_ms": producer.inter_arrival_ms}},
        "stop_ms": 8_000}}));
    let mut links = Vec::new();
    for (index, from) in NODES.iter().enumerate() {
        for to in &NODES[index + 1..] {
            links.push(json!({"from": from, "to": to}));
        }
    }
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": nodes, "links": links},
        "faults": {"timeline": timeline},
        "run": {"seed": seed, "duration_ms": 12_000}
    }))
}

struct Outcome {
    lines: Vec<String>,
    checks: BTreeMap<String, (CheckStatus, String)>,
    summary: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Outcome {
    fn producer(&self, name: &str) -> f64 {
        self.summary["p"].get(name).copied().unwrap_or(0.0)
    }

    /// Produce requests the brokers received.
    fn broker_produce_requests(&self) -> f64 {
        ["b1", "b2", "b3"]
            .iter()
            .map(|broker| {
                self.summary[*broker]
                    .get("produce_requests")
                    .copied()
                    .unwrap_or(0.0)
            })
            .sum()
    }

    fn check(&self, name: &str) -> (CheckStatus, String) {
        self.checks
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("checker {name} registered"))
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

fn assert_nothing_lost_or_doubled(outcome: &Outcome, seed: u64) {
    for name in ["lost_acknowledged_writes", "no_duplicate_log_entries"] {
        let (status, detail) = outcome.check(name);
        assert_eq!(status, CheckStatus::Pass, "seed {seed}: {name}: {detail}");
    }
}

/// `linger.ms` trades latency for fewer requests: at linger 0 with a
/// one-record batch size every record is its own request; at linger 20 ms
/// (batch size 16 KiB, Kafka's default) records of a partition wait for the
/// batch and go together. Prints the figures.
#[test]
fn linger_20_ms_sends_fewer_produce_requests_and_raises_record_latency() {
    let seed = 1;
    let configurations = [(0, 64), (0, 16_384), (20, 16_384)];
    let mut figures = Vec::new();
    println!(
        "linger_ms batch_size_bytes | requests records/request mean_record_latency_ms acknowledged"
    );
    for (linger_ms, batch_size_bytes) in configurations {
        let outcome = run(&cluster(
            &Producer {
                linger_ms,
                batch_size_bytes,
                ..Default::default()
            },
            json!([]),
            seed,
        ));
        assert_nothing_lost_or_doubled(&outcome, seed);
        let requests = outcome.broker_produce_requests();
        let latency = outcome.producer("mean_record_latency_ms");
        let acknowledged = outcome.producer("acknowledged");
        println!(
            "{linger_ms:>9} {batch_size_bytes:>16} | {requests:>8} {:>16.1} {latency:>22.2} {acknowledged:>12}",
            outcome.producer("mean_records_per_request")
        );
        assert_eq!(
            requests,
            outcome.producer("sent"),
            "seed {seed}: every request reaches a broker on a healthy network"
        );
        assert!(
            acknowledged >= 3_990.0,
            "seed {seed}: 4000 records written in 8 s, {acknowledged} acknowledged"
        );
        figures.push((requests, latency));
    }
    let (unbatched_requests, unbatched_latency) = figures[0];
    let (lingering_requests, lingering_latency) = figures[2];
    assert!(
        unbatched_requests >= 3_990.0,
        "seed {seed}: one request per record at linger 0, batch of one: {unbatched_requests}"
    );
    // 3 partitions, a batch per partition about every 20 ms: ~150/s for 8 s.
    assert!(
        lingering_requests < unbatched_requests / 3.0,
        "seed {seed}: linger 20 ms: {lingering_requests} requests against {unbatched_requests}"
    );
    // A record waits up to 20 ms (10 ms on average) for its batch to go.
    assert!(
        lingering_latency > unbatched_latency + 7.0,
        "seed {seed}: linger 20 ms: {lingering_latency:.2} ms against {unbatched_latency:.2} ms"
    );
}

/// A batch's records are acknowledged together, at consecutive offsets.
#[test]
fn batch_records_are_acknowledged_together_at_consecutive_offsets() {
    let seed = 2;
    let outcome = run(&cluster(
        &Producer {
            linger_ms: 20,
            batch_size_bytes: 16_384,
            partitions: 1,
            ..Default::default()
        },
        json!([]),
        seed,
    ));
    assert_nothing_lost_or_doubled(&outcome, seed);
    // Acknowledgements by time: one batch answer acknowledges many records.
    let mut offsets_by_time: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in &outcome.lines {
        if line.contains("op p") && line.contains(" ok write") {
            let time = line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            let offset = line
                .split("offset=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|text| text.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("seed {seed}: offset in {line}"));
            offsets_by_time.entry(time).or_default().push(offset);
        }
    }
    let acknowledged: usize = offsets_by_time.values().map(Vec::len).sum();
    assert!(acknowledged >= 3_990, "seed {seed}: {acknowledged}");
    assert!(
        offsets_by_time.len() * 5 < acknowledged,
        "seed {seed}: {acknowledged} records acknowledged at {} moments",
        offsets_by_time.len()
    );
    for (time, offsets) in &offsets_by_time {
        for pair in offsets.windows(2) {
            assert_eq!(
                pair[1],
                pair[0] + 1,
                "seed {seed}: at {time} a batch's offsets run on: {offsets:?}"
            );
        }
    }
}

/// K7 (producer half) with batches: responses from the leader are lost for
/// half a second; the producer resends whole batches. The idempotent
/// producer's batch is recognised by its base sequence and not appended
/// again; a plain producer's batch is appended twice.
#[test]
fn retried_batch_is_deduplicated_whole_with_idempotence_and_doubled_without() {
    let seed = 1;
    // One partition: b1 is its preferred leader.
    let timeline = json!([
        {"at_ms": 2_000, "action": {"partition_one_way": {"from": ["b1"], "to": ["p"]}}},
        {"at_ms": 2_500, "action": {"heal": {}}}
    ]);
    let batched = |idempotent| Producer {
        linger_ms: 20,
        batch_size_bytes: 16_384,
        partitions: 1,
        idempotent,
        acks: "1",
        ..Default::default()
    };
    let plain = run(&cluster(&batched(false), timeline.clone(), seed));
    let (status, detail) = plain.check("no_duplicate_log_entries");
    assert_eq!(status, CheckStatus::Fail, "seed {seed}: {detail}");
    assert!(
        plain.producer("retried") > 0.0,
        "seed {seed}: batches retried"
    );
    let idempotent = run(&cluster(&batched(true), timeline, seed));
    assert_nothing_lost_or_doubled(&idempotent, seed);
    assert!(
        idempotent.producer("retried") > 0.0,
        "seed {seed}: batches retried"
    );
    assert!(
        count(
            &idempotent.lines,
            &["duplicate produce from pid="],
            4.0..7.0
        ) > 0,
        "seed {seed}: the leader answers a resent batch without appending it"
    );
    assert!(
        count(&idempotent.lines, &["produce c=", "batch of"], 4.0..7.0) > 0,
        "seed {seed}: resends are whole batches"
    );
}

/// KIP-480: keyless records stick to one partition until its batch goes,
/// so batches are fuller and requests fewer than when round robin spreads
/// them over every partition; over the run they still reach every partition.
#[test]
fn sticky_partitioner_sends_fuller_batches_than_round_robin_for_keyless_records() {
    let seed = 3;
    let keyless = |partitioner| Producer {
        linger_ms: 20,
        batch_size_bytes: 16_384,
        partitions: 6,
        partitioner,
        keyless_percent: 100,
        ..Default::default()
    };
    let sticky = run(&cluster(&keyless("murmur2"), json!([]), seed));
    let round_robin = run(&cluster(&keyless("round_robin"), json!([]), seed));
    assert_nothing_lost_or_doubled(&sticky, seed);
    assert_nothing_lost_or_doubled(&round_robin, seed);
    let sticky_requests = sticky.broker_produce_requests();
    let round_robin_requests = round_robin.broker_produce_requests();
    println!(
        "keyless, 6 partitions, linger 20 ms: sticky {sticky_requests} requests ({:.1} records each, {:.2} ms), round robin {round_robin_requests} ({:.1} records each, {:.2} ms)",
        sticky.producer("mean_records_per_request"),
        sticky.producer("mean_record_latency_ms"),
        round_robin.producer("mean_records_per_request"),
        round_robin.producer("mean_record_latency_ms"),
    );
    assert!(
        sticky_requests * 3.0 < round_robin_requests
            && sticky.producer("mean_record_latency_ms")
                < round_robin.producer("mean_record_latency_ms"),
        "seed {seed}: sticky {sticky_requests} requests, round robin {round_robin_requests} (latency printed above)"
    );
    for partition in 0..6 {
        let name = format!("acknowledged_p{partition}");
        assert!(
            sticky.producer(&name) > 100.0,
            "seed {seed}: sticky still spreads keyless records: {name} = {}",
            sticky.producer(&name)
        );
    }
}

/// Keyed records keep murmur2 whatever the share of keyless ones: a key
/// always lands on the same partition.
#[test]
fn keyed_records_keep_their_murmur2_partition_next_to_keyless_ones() {
    let seed = 4;
    let outcome = run(&cluster(
        &Producer {
            linger_ms: 5,
            batch_size_bytes: 16_384,
            partitions: 6,
            keyless_percent: 50,
            ..Default::default()
        },
        json!([]),
        seed,
    ));
    assert_nothing_lost_or_doubled(&outcome, seed);
    let mut partitions_by_key: BTreeMap<String, std::collections::BTreeSet<String>> =
        BTreeMap::new();
    let mut keyless = 0;
    for line in &outcome.lines {
        let Some(write) = line.split(" ok write ").nth(1) else {
            continue;
        };
        let mut words = write.split_whitespace();
        let topic_partition = words.next().unwrap_or_default().to_string();
        let key = words.next().unwrap_or_default().to_string();
        if key == format!("key={}", u32::MAX) {
            keyless += 1;
        } else {
            partitions_by_key
                .entry(key)
                .or_default()
                .insert(topic_partition);
        }
    }
    assert!(
        keyless > 1_500,
        "seed {seed}: about half keyless: {keyless}"
    );
    assert_eq!(partitions_by_key.len(), 24, "seed {seed}");
    for (key, partitions) in &partitions_by_key {
        assert_eq!(partitions.len(), 1, "seed {seed}: {key} on {partitions:?}");
    }
}

/// Every new producer property is checked, with its JSON path.
#[test]
fn batching_properties_out_of_range_are_reported_with_their_paths() {
    let mut scenario =
        serde_json::to_value(cluster(&Producer::default(), json!([]), 1)).expect("serialises");
    let properties = &mut scenario["topology"]["nodes"][4]["properties"];
    properties["linger_ms"] = json!(600_000);
    properties["batch_size_bytes"] = json!(10);
    properties["keyless_percent"] = json!(101);
    let text = faultline_engine::scenario::parse_scenario_value(scenario)
        .expect_err("out-of-range batching properties are refused")
        .to_string();
    for path in [
        "topology.nodes[4].properties.linger_ms: expected 0 to 60000, found 600000",
        "topology.nodes[4].properties.batch_size_bytes: expected 64 (one record) to 1048576, found 10",
        "topology.nodes[4].properties.keyless_percent: expected 0 to 100, found 101",
    ] {
        assert!(text.contains(path), "{path} missing from {text}");
    }
}
