//! Helpers shared by the engine's integration tests: loading examples and building small scenarios.
#![allow(dead_code)]

use faultline_engine::scenario::{Scenario, parse_scenario};

/// The example scenarios shipped in `public/scenarios/`, embedded so that the
/// same bytes are used natively and on wasm32.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "mm1-queue",
        include_str!("../../../public/scenarios/mm1-queue.json"),
    ),
    (
        "mmc-erlang-c",
        include_str!("../../../public/scenarios/mmc-erlang-c.json"),
    ),
    (
        "three-node-chain-partition",
        include_str!("../../../public/scenarios/three-node-chain-partition.json"),
    ),
    (
        "closed-loop-nemesis",
        include_str!("../../../public/scenarios/closed-loop-nemesis.json"),
    ),
    (
        "raft-election-under-partition",
        include_str!("../../../public/scenarios/raft-election-under-partition.json"),
    ),
    (
        "retry-storm",
        include_str!("../../../public/scenarios/retry-storm.json"),
    ),
    (
        "circuit-breaker-cascade",
        include_str!("../../../public/scenarios/circuit-breaker-cascade.json"),
    ),
    (
        "rate-limited-gateway",
        include_str!("../../../public/scenarios/rate-limited-gateway.json"),
    ),
    (
        "rabbitmq-topic-routing-dlq-retry",
        include_str!("../../../public/scenarios/rabbitmq-topic-routing-dlq-retry.json"),
    ),
    (
        "rabbitmq-classic-queue-crash",
        include_str!("../../../public/scenarios/rabbitmq-classic-queue-crash.json"),
    ),
    (
        "kafka-consumer-group-rebalance",
        include_str!("../../../public/scenarios/kafka-consumer-group-rebalance.json"),
    ),
    (
        "rabbitmq-classic-vs-quorum-crash",
        include_str!("../../../public/scenarios/rabbitmq-classic-vs-quorum-crash.json"),
    ),
    (
        "kafka-compacted-topic",
        include_str!("../../../public/scenarios/kafka-compacted-topic.json"),
    ),
    (
        "zookeeper-leader-election",
        include_str!("../../../public/scenarios/zookeeper-leader-election.json"),
    ),
    (
        "lock-with-and-without-fencing",
        include_str!("../../../public/scenarios/lock-with-and-without-fencing.json"),
    ),
    (
        "cron-double-fire",
        include_str!("../../../public/scenarios/cron-double-fire.json"),
    ),
    (
        "async-order-events",
        include_str!("../../../public/scenarios/async-order-events.json"),
    ),
    (
        "autoscaling-under-a-spike",
        include_str!("../../../public/scenarios/autoscaling-under-a-spike.json"),
    ),
    (
        "cache-stampede",
        include_str!("../../../public/scenarios/cache-stampede.json"),
    ),
    (
        "cache-aside-vs-write-through",
        include_str!("../../../public/scenarios/cache-aside-vs-write-through.json"),
    ),
    (
        "snowflake-clock-skew",
        include_str!("../../../public/scenarios/snowflake-clock-skew.json"),
    ),
    (
        "2pc-coordinator-crash-blocks",
        include_str!("../../../public/scenarios/2pc-coordinator-crash-blocks.json"),
    ),
    (
        "3pc-crash-vs-partition",
        include_str!("../../../public/scenarios/3pc-crash-vs-partition.json"),
    ),
    (
        "saga-orchestrated-order",
        include_str!("../../../public/scenarios/saga-orchestrated-order.json"),
    ),
    (
        "saga-choreographed-order",
        include_str!("../../../public/scenarios/saga-choreographed-order.json"),
    ),
    (
        "tcc-hanging-reservation",
        include_str!("../../../public/scenarios/tcc-hanging-reservation.json"),
    ),
    (
        "redis-sentinel-async-failover",
        include_str!("../../../public/scenarios/redis-sentinel-async-failover.json"),
    ),
    (
        "cap-cp-vs-ap-under-partition",
        include_str!("../../../public/scenarios/cap-cp-vs-ap-under-partition.json"),
    ),
    (
        "dynamo-n3-r2-w2",
        include_str!("../../../public/scenarios/dynamo-n3-r2-w2.json"),
    ),
    (
        "sharded-kv-store",
        include_str!("../../../public/scenarios/sharded-kv-store.json"),
    ),
    (
        "outbox-vs-dual-write",
        include_str!("../../../public/scenarios/outbox-vs-dual-write.json"),
    ),
    (
        "resharding-add-a-shard",
        include_str!("../../../public/scenarios/resharding-add-a-shard.json"),
    ),
];

pub fn example(name: &str) -> Scenario {
    let (_, text) = EXAMPLES
        .iter()
        .find(|(example, _)| *example == name)
        .unwrap_or_else(|| panic!("no example {name}"));
    parse_scenario(text).unwrap_or_else(|problems| panic!("example {name} is invalid:\n{problems}"))
}

/// Parses a scenario written inline in a test, panicking with every problem.
pub fn scenario(json: serde_json::Value) -> Scenario {
    faultline_engine::scenario::parse_scenario_value(json)
        .unwrap_or_else(|problems| panic!("test scenario is invalid:\n{problems}"))
}

/// Golden digests: `name digest` per line. Shared by native and wasm32 tests,
/// so equal results on both prove the platforms agree bit for bit.
pub const GOLDEN_DIGESTS: &str = include_str!("../golden/digests.txt");

/// How long each example runs for the digest comparison (short enough for
/// an unoptimised wasm build, long enough to cover faults and the nemesis).
pub const GOLDEN_RUN_MS: u64 = 12_000;

pub fn golden_digest(name: &str) -> Option<&'static str> {
    GOLDEN_DIGESTS.lines().find_map(|line| {
        let (example, digest) = line.split_once(' ')?;
        (example == name).then_some(digest.trim())
    })
}

pub fn example_digest(name: &str, seed: Option<u64>) -> String {
    let scenario = example(name);
    let options = faultline_engine::SimulatorOptions {
        seed,
        duration: Some(faultline_engine::SimDuration::from_millis(GOLDEN_RUN_MS)),
        record_full_trace: false,
    };
    faultline_engine::run_scenario(&scenario, options)
        .expect("valid")
        .digest
}

/// Seconds of a trace line (`1.234567s #…`).
pub fn seconds(line: &str) -> f64 {
    line.split('s')
        .next()
        .and_then(|text| text.parse().ok())
        .expect("line starts with time")
}

/// Trace lines in the time window that contain every needle, e.g. `&["deliver", "a->b"]`.
pub fn count(lines: &[String], needles: &[&str], within: std::ops::Range<f64>) -> usize {
    lines
        .iter()
        .filter(|line| {
            needles.iter().all(|needle| line.contains(needle)) && within.contains(&seconds(line))
        })
        .count()
}
