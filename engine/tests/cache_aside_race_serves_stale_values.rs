//! Cache write policies in front of a `kv_database`: cache-aside ("write the database, then delete the entry") lets a read miss that overlaps a write cache the old value, so clients read stale values and the history is not linearizable; write-through (one write per key at a time, the entry set on success, overtaken loads not cached) stays linearizable.
//!
//! Issue 4 ("cache-aside or write-through"). The race is the one Facebook's
//! memcache leases close (Nishtala et al., NSDI 2013, §3.2.1): a miss reads
//! v1 from the database, a write stores v2 and deletes the entry, then the
//! miss's late answer fills the cache with v1, which is served until the TTL.
//!
//! A load generator sends ~1 request/ms to a `cache` over 8 keys (half to
//! the hot key), a fifth of them writes; the network's one-way latency is
//! U(1, 15) ms and its reorder probability 1: the cache reaches the database
//! over a connection pool, each request on its own connection, so answers
//! overtake each other (on one FIFO connection the load's answer would always
//! come before the write's, and the race could not happen). The cache's operations are
//! judged by `kv_linearizable` (the same WGL search as `kv_client`'s) and
//! its own stale-read count.

mod common;

use faultline_engine::checkers::CheckStatus;
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};

fn scenario(write_policy: &str, extra: Value, seed: u64) -> Scenario {
    common::scenario(scenario_json(write_policy, extra, seed))
}

fn scenario_json(write_policy: &str, extra: Value, seed: u64) -> Value {
    let mut properties = json!({"backend": "db", "ttl_ms": 2_000, "key_count": 8,
        "hot_key_fraction": 0.5, "write_fraction": 0.2, "write_policy": write_policy});
    for (key, value) in extra.as_object().expect("object") {
        properties[key] = value.clone();
    }
    json!({
        "version": 1,
        "topology": {"nodes": [
            {"id": "clients", "kind": "load_generator", "properties": {"max_outstanding": 10_000}},
            {"id": "cache", "kind": "cache", "properties": properties},
            {"id": "db", "kind": "kv_database", "properties": {"database": "users"}}
        ], "default_network": {"latency": {"uniform": {"low_ms": 1.0, "high_ms": 15.0}},
                               "reorder_probability": 1.0}},
        "workload": {"streams": [{"id": "requests", "client": "clients", "target": "cache",
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": 1.0}}}}}]},
        "run": {"seed": seed, "duration_ms": 5_000}
    })
}

struct Outcome {
    seed: u64,
    linearizable: (CheckStatus, String),
    lost_writes: CheckStatus,
    summary: Vec<(&'static str, f64)>,
}

impl Outcome {
    fn value(&self, name: &str) -> f64 {
        self.summary
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| *value)
            .unwrap_or_else(|| panic!("seed {}: no summary {name}", self.seed))
    }
}

fn run(scenario: &Scenario) -> Outcome {
    let mut simulator =
        Simulator::with_options(scenario, SimulatorOptions::default()).expect("valid");
    simulator.run_to_end();
    let results = simulator.check_results();
    let find = |name: &str| {
        results
            .iter()
            .find(|result| result.name == name)
            .unwrap_or_else(|| panic!("checker {name} registered"))
    };
    let linearizable = find("kv_linearizable");
    let node = simulator.node_id("cache").expect("cache");
    Outcome {
        seed: simulator.seed(),
        linearizable: (linearizable.status, linearizable.detail.clone()),
        lost_writes: find("kv_lost_acknowledged_writes").status,
        summary: simulator.node_summary(node),
    }
}

#[test]
fn cache_aside_caches_the_value_a_concurrent_write_replaced() {
    let outcome = run(&scenario("cache_aside", json!({}), 1));
    let seed = outcome.seed;
    assert!(
        outcome.value("writes_ok") > 500.0,
        "seed {seed}: the workload writes"
    );
    assert!(
        outcome.value("invalidations") > 100.0,
        "seed {seed}: cache-aside deletes the entry on write"
    );
    assert!(
        outcome.value("stale_reads") > 0.0,
        "seed {seed}: a miss overlapping a write must cache the old value"
    );
    assert_eq!(
        outcome.linearizable.0,
        CheckStatus::Fail,
        "seed {seed}: cache-aside under concurrent writes is not linearizable"
    );
    // The database itself lost nothing: the anomaly is the cache's alone.
    assert_eq!(outcome.lost_writes, CheckStatus::Pass, "seed {seed}");
}

#[test]
fn write_through_serves_no_stale_value_and_stays_linearizable() {
    let outcome = run(&scenario("write_through", json!({}), 1));
    let seed = outcome.seed;
    assert!(
        outcome.value("writes_ok") > 500.0,
        "seed {seed}: the workload writes"
    );
    assert_eq!(
        outcome.value("stale_reads"),
        0.0,
        "seed {seed}: write-through served a stale value"
    );
    assert_eq!(
        outcome.linearizable.0,
        CheckStatus::Pass,
        "seed {seed}: {}",
        outcome.linearizable.1
    );
    assert!(
        outcome.value("loads_not_cached") > 0.0,
        "seed {seed}: some loads were overtaken by a write and must not have been cached"
    );
    // Writes fill the cache, so fewer reads miss than with cache-aside.
    let aside = run(&scenario("cache_aside", json!({}), 1));
    for (policy, outcome) in [("cache_aside", &aside), ("write_through", &outcome)] {
        println!(
            "{policy}: hit ratio {:.3}, stale reads {}, writes {}, invalidations {}, loads not cached {}, linearizable {:?}",
            outcome.value("hit_ratio"),
            outcome.value("stale_reads"),
            outcome.value("writes_ok"),
            outcome.value("invalidations"),
            outcome.value("loads_not_cached"),
            outcome.linearizable.0
        );
    }
    assert!(
        outcome.value("hit_ratio") > aside.value("hit_ratio"),
        "seed {seed}: write-through hit ratio {} vs cache-aside {}",
        outcome.value("hit_ratio"),
        aside.value("hit_ratio")
    );
}

/// Coalesced misses must not join a load that a write has overtaken.
#[test]
fn write_through_with_request_coalescing_stays_linearizable() {
    let outcome = run(&scenario(
        "write_through",
        json!({"request_coalescing": true, "capacity_entries": 2}),
        2,
    ));
    assert_eq!(
        outcome.linearizable.0,
        CheckStatus::Pass,
        "seed {}: {}",
        outcome.seed,
        outcome.linearizable.1
    );
    assert_eq!(outcome.value("stale_reads"), 0.0, "seed {}", outcome.seed);
}

/// Ten seeds each way: cache-aside breaks on every seed, write-through on none.
#[test]
fn write_policy_sweep() {
    for seed in 1..=10 {
        let aside = run(&scenario("cache_aside", json!({}), seed));
        assert_eq!(
            aside.linearizable.0,
            CheckStatus::Fail,
            "seed {seed}: cache-aside stayed linearizable"
        );
        let through = run(&scenario("write_through", json!({}), seed));
        assert_eq!(
            through.linearizable.0,
            CheckStatus::Pass,
            "seed {seed}: {}",
            through.linearizable.1
        );
    }
}

#[test]
fn writes_need_a_backend_that_stores_values() {
    let mut scenario = scenario_json("cache_aside", json!({}), 1);
    scenario["topology"]["nodes"][2] = json!({"id": "db", "kind": "sink",
        "properties": {"service_time": {"constant": {"value_ms": 1.0}}}});
    let Err(problems) = faultline_engine::scenario::parse_scenario_value(scenario) else {
        panic!("writes to a sink must be refused");
    };
    let text = problems.to_string();
    assert!(
        text.contains("topology.nodes[1].properties.write_fraction")
            && text.contains("kv_database"),
        "{text}"
    );
}
