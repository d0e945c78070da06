//! Cache stampede: when a hot key expires under load, every request arriving during one backend round trip misses and loads it; request coalescing (single-flight) and probabilistic early expiration (XFetch) each cut that to one load.
//!
//! A load generator sends ~1 request/ms to a cache-aside `cache` (half of
//! them for key 0, the hot key; TTL 1 s) in front of a `sink` database with a
//! 50 ms service time. The metric is `max_hot_key_reloads_in_flight`: how
//! many loads of the hot key, started because its entry had expired, the
//! backend had at once (the cold start, a stampede XFetch cannot prevent, is
//! in `max_hot_key_loads_in_flight`).

mod common;

use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};

fn scenario(cache: Value, seed: u64) -> Scenario {
    let mut properties = json!({"backend": "db", "ttl_ms": 1_000, "key_count": 100,
        "hot_key_fraction": 0.5, "capacity_entries": 1_000});
    for (key, value) in cache.as_object().expect("object") {
        properties[key] = value.clone();
    }
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": [
            {"id": "clients", "kind": "load_generator", "properties": {"max_outstanding": 10_000}},
            {"id": "cache", "kind": "cache", "properties": properties},
            {"id": "db", "kind": "sink", "properties": {"workers": 1_000, "queue_capacity": 100_000,
                "service_time": {"constant": {"value_ms": 50.0}}}}
        ], "default_network": {"latency": {"constant": {"value_ms": 0.5}}}},
        "workload": {"streams": [{"id": "reads", "client": "clients", "target": "cache",
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": 1.0}}}}}]},
        "run": {"seed": seed, "duration_ms": 10_000}
    }))
}

fn summary(scenario: &Scenario) -> (Vec<(&'static str, f64)>, u64) {
    let mut simulator =
        Simulator::with_options(scenario, SimulatorOptions::default()).expect("valid");
    simulator.run_to_end();
    let node = simulator.node_id("cache").expect("cache");
    (simulator.node_summary(node), simulator.seed())
}

fn value(summary: &[(&'static str, f64)], name: &str) -> f64 {
    summary
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| *value)
        .unwrap_or_else(|| panic!("no summary {name}"))
}

#[test]
fn hot_key_expiry_without_protection_stampedes_the_backend() {
    let (plain, seed) = summary(&scenario(json!({}), 1));
    let stampede = value(&plain, "max_hot_key_reloads_in_flight");
    // ~0.5 hot requests/ms for 50 ms: about 25 loads at once.
    assert!(
        stampede >= 10.0,
        "seed {seed}: only {stampede} hot-key loads at once"
    );
    assert!(value(&plain, "hit_ratio") > 0.5, "seed {seed}");
}

#[test]
fn request_coalescing_sends_one_load_per_expiry() {
    let (plain, seed) = summary(&scenario(json!({}), 1));
    let (coalesced, _) = summary(&scenario(json!({"request_coalescing": true}), 1));
    assert_eq!(
        value(&coalesced, "max_hot_key_loads_in_flight"),
        1.0,
        "seed {seed}: single-flight allows one load per key, the cold start included"
    );
    assert_eq!(
        value(&coalesced, "max_hot_key_reloads_in_flight"),
        1.0,
        "seed {seed}: single-flight allows one load per key"
    );
    assert!(
        value(&coalesced, "backend_loads") < value(&plain, "backend_loads") * 0.8,
        "seed {seed}: coalescing should cut backend loads ({} vs {})",
        value(&coalesced, "backend_loads"),
        value(&plain, "backend_loads")
    );
}

#[test]
fn probabilistic_early_expiry_refreshes_the_hot_key_before_it_expires() {
    let (early, seed) = summary(&scenario(json!({"early_expiry_beta": 1.0}), 1));
    assert!(
        value(&early, "early_reloads") >= 8.0,
        "seed {seed}: about one early reload per TTL expected, got {}",
        value(&early, "early_reloads")
    );
    assert!(
        value(&early, "max_hot_key_reloads_in_flight") <= 2.0,
        "seed {seed}: {} hot-key reloads at once",
        value(&early, "max_hot_key_reloads_in_flight")
    );
}

#[test]
fn lfu_and_lru_both_respect_capacity() {
    for eviction in ["lru", "lfu"] {
        let (small, seed) = summary(&scenario(
            json!({"capacity_entries": 10, "eviction": eviction}),
            2,
        ));
        assert!(value(&small, "entries") <= 10.0, "seed {seed}: {eviction}");
        assert!(value(&small, "evictions") > 0.0, "seed {seed}: {eviction}");
        // The hot key is half the traffic: LFU keeps it, so the hit ratio stays near half.
        if eviction == "lfu" {
            assert!(
                value(&small, "hit_ratio") > 0.4,
                "seed {seed}: lfu hit ratio {}",
                value(&small, "hit_ratio")
            );
        }
    }
}
