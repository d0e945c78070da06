//! The `kv_client` shard router: hash, range and consistent hashing each send a key to the shard their rule names; consistent hashing moves only about 1/N of the keys when a shard is added (hash mod N moves most); `hot_key_fraction` piles the load onto one shard.
//!
//! Consistent hashing: Karger et al., "Consistent hashing and random trees"
//! (STOC 1997); virtual nodes per shard as in DeCandia et al., "Dynamo"
//! (SOSP 2007, §4.2). Adding the (N+1)th shard should move about 1/(N+1)
//! of the keys, all of them to the new shard; with `hash mod N`, a key keeps
//! its shard only if `h mod N == h mod (N+1)`, about 1/(N+1) of them.

mod common;

use faultline_engine::components::db_dynamo::ring_hash;
use faultline_engine::components::kv_client::ShardRouter;
use faultline_engine::scenario::ShardingStrategy;
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::json;

const VIRTUAL_NODES_PER_SHARD: u32 = 16;

/// Keys per shard under `router`.
fn keys_per_shard(router: &ShardRouter, shards: usize, key_count: u32) -> Vec<u32> {
    let mut counts = vec![0; shards];
    for key in 0..key_count {
        let shard = router.shard_of(key);
        assert!(
            shard < shards,
            "key {key} sent to shard {shard} of {shards}"
        );
        counts[shard] += 1;
    }
    counts
}

#[test]
fn hash_sharding_sends_each_key_to_its_hash_mod_shards_and_spreads_keys_evenly() {
    let (shards, key_count) = (3, 3_000);
    let router = ShardRouter::new(ShardingStrategy::Hash, shards, key_count, 1);
    for key in 0..key_count {
        let expected = (ring_hash(u64::from(key)) % shards as u64) as usize;
        assert_eq!(router.shard_of(key), expected, "key {key}");
    }
    let counts = keys_per_shard(&router, shards, key_count);
    println!("hash, {key_count} keys over {shards} shards: {counts:?}");
    for (shard, count) in counts.iter().enumerate() {
        // Even is 1,000 each; a binomial spread of ±3σ is about ±77.
        assert!(
            (900..=1_100).contains(count),
            "shard {shard} holds {count} of {key_count} keys: {counts:?}"
        );
    }
}

#[test]
fn range_sharding_sends_contiguous_equal_key_ranges_to_consecutive_shards() {
    let (shards, key_count) = (4, 400);
    let router = ShardRouter::new(ShardingStrategy::Range, shards, key_count, 1);
    for key in 0..key_count {
        // Keys 0..99 on shard 0, 100..199 on shard 1, and so on.
        assert_eq!(router.shard_of(key), (key / 100) as usize, "key {key}");
    }
    assert_eq!(keys_per_shard(&router, shards, key_count), vec![100; 4]);
}

/// The shard owning `key` found the slow way: the virtual node at or after
/// the key's ring position (wrapping to the lowest position), by a linear scan.
fn first_virtual_node_clockwise(key: u32, shards: usize) -> usize {
    let position = ring_hash(u64::from(key) ^ 0xC0FF_EE00_0000_0000);
    let virtual_nodes = (0..shards).flat_map(|shard| {
        (0..VIRTUAL_NODES_PER_SHARD)
            .map(move |vnode| (ring_hash(((shard as u64) << 32) | u64::from(vnode)), shard))
    });
    let clockwise = virtual_nodes
        .clone()
        .filter(|(at, _)| *at >= position)
        .min();
    clockwise
        .or_else(|| virtual_nodes.min())
        .map(|(_, shard)| shard)
        .expect("the ring has positions")
}

#[test]
fn consistent_hashing_sends_each_key_to_the_first_virtual_node_clockwise() {
    let (shards, key_count) = (3, 3_000);
    let router = ShardRouter::new(
        ShardingStrategy::ConsistentHash,
        shards,
        key_count,
        VIRTUAL_NODES_PER_SHARD,
    );
    for key in 0..key_count {
        assert_eq!(
            router.shard_of(key),
            first_virtual_node_clockwise(key, shards),
            "key {key}"
        );
    }
    let counts = keys_per_shard(&router, shards, key_count);
    println!(
        "consistent hashing, {VIRTUAL_NODES_PER_SHARD} virtual nodes per shard, {key_count} keys: {counts:?}"
    );
    // 16 virtual nodes per shard leave arcs uneven (standard deviation about
    // 1/sqrt(16) of the mean), but no shard is empty or holds most keys.
    for (shard, count) in counts.iter().enumerate() {
        assert!(
            (450..=1_650).contains(count),
            "shard {shard} holds {count} of {key_count} keys: {counts:?}"
        );
    }
}

/// Keys whose shard differs between `before` and `after`; panics if one moved
/// to a shard other than `only_to` (when given).
fn moved_keys(
    before: &ShardRouter,
    after: &ShardRouter,
    key_count: u32,
    only_to: Option<usize>,
) -> u32 {
    (0..key_count)
        .filter(|key| {
            let (old, new) = (before.shard_of(*key), after.shard_of(*key));
            if old != new
                && let Some(new_shard) = only_to
            {
                assert_eq!(
                    new, new_shard,
                    "key {key} moved from shard {old} to {new}, not to the new shard"
                );
            }
            old != new
        })
        .count() as u32
}

#[test]
fn adding_a_shard_moves_about_one_nth_of_the_keys_with_consistent_hashing_and_most_with_hash_mod_n()
{
    let key_count = 20_000;
    println!("| shards before → after | consistent hashing moved | hash mod N moved | ideal |");
    println!("|---|---|---|---|");
    for shards in [3usize, 4, 7] {
        let consistent = |shards| {
            ShardRouter::new(
                ShardingStrategy::ConsistentHash,
                shards,
                key_count,
                VIRTUAL_NODES_PER_SHARD,
            )
        };
        let modulo = |shards| ShardRouter::new(ShardingStrategy::Hash, shards, key_count, 1);
        // Consistent hashing: a key moves only if a new virtual node now
        // precedes it, so every moved key lands on the new shard.
        let consistent_moved = moved_keys(
            &consistent(shards),
            &consistent(shards + 1),
            key_count,
            Some(shards),
        );
        let modulo_moved = moved_keys(&modulo(shards), &modulo(shards + 1), key_count, None);
        let ideal = 1.0 / (shards + 1) as f64;
        let consistent_fraction = f64::from(consistent_moved) / f64::from(key_count);
        let modulo_fraction = f64::from(modulo_moved) / f64::from(key_count);
        println!(
            "| {shards} → {} | {:.1}% | {:.1}% | {:.1}% |",
            shards + 1,
            100.0 * consistent_fraction,
            100.0 * modulo_fraction,
            100.0 * ideal
        );
        // The new shard's share of the ring is uneven with 16 virtual nodes,
        // so allow ±60% around 1/(N+1); hash mod N keeps only ~1/(N+1).
        assert!(
            consistent_fraction > 0.4 * ideal && consistent_fraction < 1.6 * ideal,
            "{shards} → {}: consistent hashing moved {consistent_moved} of {key_count}",
            shards + 1
        );
        assert!(
            modulo_fraction > 1.0 - 1.5 * ideal,
            "{shards} → {}: hash mod N moved only {modulo_moved} of {key_count}",
            shards + 1
        );
        assert!(consistent_moved * 2 < modulo_moved);
    }
}

/// `shards` databases `shard0..` of two asynchronous leader/follower
/// replicas each, and one client routing `key_count` keys over them.
fn sharded(
    sharding: &str,
    shards: usize,
    key_count: u32,
    hot_key_fraction: f64,
    seed: u64,
) -> Scenario {
    let mut nodes = Vec::new();
    for shard in 0..shards {
        for replica in ["a", "b"] {
            nodes.push(
                json!({"id": format!("shard{shard}-{replica}"), "kind": "kv_database",
                "properties": {"database": format!("shard{shard}")}}),
            );
        }
    }
    let databases: Vec<String> = (0..shards).map(|shard| format!("shard{shard}")).collect();
    nodes.push(json!({"id": "client", "kind": "kv_client", "properties": {
        "databases": databases, "sharding": sharding,
        "virtual_nodes_per_shard": VIRTUAL_NODES_PER_SHARD,
        "concurrency": 4, "read_fraction": 0.0, "key_count": key_count,
        "hot_key_fraction": hot_key_fraction,
        "think_time": {"constant": {"value_ms": 5.0}}}}));
    common::scenario(json!({
        "version": 1,
        "metadata": {"title": "shard routing test"},
        "topology": {"nodes": nodes, "links": [],
            "default_network": {"latency": {"uniform": {"low_ms": 1.0, "high_ms": 3.0}}}},
        "run": {"seed": seed, "duration_ms": 5_000}
    }))
}

fn run(scenario: &Scenario) -> (Vec<String>, Vec<(&'static str, f64)>) {
    let mut simulator = Simulator::with_options(
        scenario,
        SimulatorOptions {
            record_full_trace: true,
            ..Default::default()
        },
    )
    .expect("valid");
    simulator.run_to_end();
    let client = simulator.node_id("client").expect("client");
    let summary = simulator.node_summary(client);
    (
        simulator.trace_mut().take_full_record().unwrap_or_default(),
        summary,
    )
}

fn metric(summary: &[(&'static str, f64)], name: &str) -> f64 {
    summary
        .iter()
        .find(|(metric, _)| *metric == name)
        .map(|(_, value)| *value)
        .unwrap_or_else(|| panic!("client.{name} reported"))
}

#[test]
fn the_simulated_client_writes_each_key_to_the_database_of_its_shard() {
    let (shards, key_count, seed) = (3, 60, 1);
    for (sharding, strategy) in [
        ("hash", ShardingStrategy::Hash),
        ("range", ShardingStrategy::Range),
        ("consistent_hash", ShardingStrategy::ConsistentHash),
    ] {
        let router = ShardRouter::new(strategy, shards, key_count, VIRTUAL_NODES_PER_SHARD);
        let (lines, _) = run(&sharded(sharding, shards, key_count, 0.0, seed));
        let mut appends_per_shard = vec![0u32; shards];
        // `fact shard1-a db_append shard1 offset=3 k=17 v=… (as primary)`
        for line in lines.iter().filter(|line| line.contains("(as primary)")) {
            let Some(rest) = line.split(" db_append shard").nth(1) else {
                continue;
            };
            let database: usize = rest
                .split_whitespace()
                .next()
                .and_then(|shard| shard.parse().ok())
                .unwrap_or_else(|| panic!("database in {line}"));
            let key: u32 = rest
                .split(" k=")
                .nth(1)
                .and_then(|text| text.split_whitespace().next())
                .and_then(|key| key.parse().ok())
                .unwrap_or_else(|| panic!("key in {line}"));
            assert_eq!(
                database,
                router.shard_of(key),
                "seed {seed}, {sharding}: key {key} written to shard{database}: {line}"
            );
            appends_per_shard[database] += 1;
        }
        println!("{sharding}, seed {seed}: writes accepted per shard {appends_per_shard:?}");
        assert!(
            appends_per_shard.iter().all(|count| *count > 50),
            "seed {seed}, {sharding}: a shard received almost no writes: {appends_per_shard:?}"
        );
    }
}

#[test]
fn hot_key_fraction_concentrates_the_load_on_the_shard_owning_key_0() {
    let (shards, key_count, seed) = (4, 400, 1);
    let share_of_shard_0 = |hot_key_fraction: f64| {
        let (_, summary) = run(&sharded("range", shards, key_count, hot_key_fraction, seed));
        let per_shard: Vec<f64> = (0..shards)
            .map(|shard| metric(&summary, &format!("requests_shard_{shard}")))
            .collect();
        let total: f64 = per_shard.iter().sum();
        assert!(total > 1_000.0, "seed {seed}: only {total} requests");
        println!(
            "hot_key_fraction {hot_key_fraction}, seed {seed}: requests per shard {per_shard:?}"
        );
        per_shard[0] / total
    };
    // Uniform keys: a quarter each. 80% on key 0 (range: shard 0), plus a
    // quarter of the uniform rest: 0.8 + 0.2 / 4 = 85%.
    let uniform = share_of_shard_0(0.0);
    let hot = share_of_shard_0(0.8);
    assert!(
        (0.2..0.3).contains(&uniform),
        "seed {seed}: shard 0 took {uniform:.3} of uniform requests"
    );
    assert!(
        (0.82..0.88).contains(&hot),
        "seed {seed}: shard 0 took {hot:.3} with hot_key_fraction 0.8"
    );
}
