//! Stale reads on a leader/follower database with lagging asynchronous replicas: reads at the `leader` level are never stale, reads at the `any` level that land on a replica behind the primary are.
//!
//! The primary's replication stream to n2 and n3 is held (`hold_link`: the
//! messages wait, the replicas fall ever further behind), so a client that
//! wrote a key and then reads it from a replica sees the older value (read-your-writes is lost, Kleppmann
//! DDIA ch. 5, "Problems with Replication Lag").

mod common;

use faultline_engine::Simulator;
use serde_json::json;

fn stale_reads(read_consistency: &str, seed: u64) -> (f64, f64) {
    let replica = |id: &str| {
        json!({"id": id, "kind": "kv_database", "properties": {"database": "db",
            "replication": {"leader_follower": {"acks": "async"}}}})
    };
    let lag = |to: &str| json!({"at_ms": 0, "action": {"hold_link": {"from": "n1", "to": to}}});
    let scenario = common::scenario(json!({
        "version": 1,
        "topology": {"nodes": [replica("n1"), replica("n2"), replica("n3"),
            {"id": "c", "kind": "kv_client", "properties": {"databases": ["db"],
                "read_consistency": read_consistency, "concurrency": 2, "key_count": 3,
                "read_fraction": 0.5, "think_time": {"constant": {"value_ms": 10.0}}}}],
            "default_network": {"latency": {"uniform": {"low_ms": 1.0, "high_ms": 3.0}}}},
        "faults": {"timeline": [lag("n2"), lag("n3")]},
        "run": {"seed": seed, "duration_ms": 5_000}
    }));
    let mut simulator = Simulator::new(&scenario).expect("valid");
    simulator.run_to_end();
    let client = simulator.node_id("c").expect("client");
    let summary = simulator.node_summary(client);
    let metric = |name: &str| {
        summary
            .iter()
            .find(|(metric, _)| *metric == name)
            .map(|(_, value)| *value)
            .unwrap_or_else(|| panic!("c.{name} reported"))
    };
    (metric("stale_reads"), metric("reads_ok"))
}

#[test]
fn leader_reads_are_never_stale_and_any_replica_reads_behind_a_lagging_replica_are() {
    for seed in 1..=3 {
        let (leader_stale, leader_reads) = stale_reads("leader", seed);
        let (any_stale, any_reads) = stale_reads("any", seed);
        println!(
            "seed {seed}: leader reads stale {leader_stale} of {leader_reads}; any-replica reads stale {any_stale} of {any_reads}"
        );
        assert!(
            leader_reads > 100.0 && any_reads > 100.0,
            "seed {seed}: too few reads"
        );
        assert_eq!(leader_stale, 0.0, "seed {seed}: a leader read was stale");
        assert!(
            any_stale > 0.1 * any_reads,
            "seed {seed}: only {any_stale} of {any_reads} any-replica reads were stale behind lagging replicas"
        );
    }
}
