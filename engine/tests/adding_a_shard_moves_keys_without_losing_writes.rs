//! Resharding with `kv_shard_balancer`: adding a fifth shard to four moves about a fifth of the keys under consistent hashing and about four fifths under hash mod N; the freeze-and-catch-up cut-over loses no acknowledged write, while copy-then-switch leaves writes behind and `kv_lost_acknowledged_writes` says so.
//!
//! Consistent hashing: Karger et al. (STOC 1997), virtual nodes as in
//! DeCandia et al., "Dynamo" (SOSP 2007, §4.2): the (N+1)th shard takes
//! about 1/(N+1) of the keys, all from the others, none between old shards.
//! Hash mod N keeps a key only when `h mod N == h mod (N+1)`, about 1/(N+1).
//! The cut-over protocol follows Vitess's SwitchWrites (vtgate buffers
//! queries while the source is frozen and the target catches up) and
//! MongoDB's chunk-migration critical section.

mod common;

use faultline_engine::checkers::CheckStatus;
use faultline_engine::components::kv_client::ShardRouter;
use faultline_engine::scenario::ShardingStrategy;
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};

const KEY_COUNT: u32 = 1_000;
const VIRTUAL_NODES_PER_SHARD: u32 = 16;
const VALUE_SIZE_BYTES: u64 = 512;
const ADD_AT_MS: u64 = 8_000;

struct Outcome {
    lines: Vec<String>,
    checks: Vec<(String, CheckStatus, String)>,
    summaries: Vec<(String, Vec<(&'static str, f64)>)>,
}

impl Outcome {
    fn check(&self, name: &str) -> (CheckStatus, String) {
        self.checks
            .iter()
            .find(|(check, ..)| check == name)
            .map(|(_, status, detail)| (*status, detail.clone()))
            .unwrap_or_else(|| panic!("checker {name} registered"))
    }

    fn metric(&self, node: &str, name: &str) -> f64 {
        self.summaries
            .iter()
            .find(|(id, _)| id == node)
            .and_then(|(_, summary)| summary.iter().find(|(metric, _)| *metric == name))
            .map(|(_, value)| *value)
            .unwrap_or_else(|| panic!("{node}.{name} reported"))
    }

    /// Trace lines with every needle.
    fn lines_with(&self, needles: &[&str]) -> Vec<&String> {
        self.lines
            .iter()
            .filter(|line| needles.iter().all(|needle| line.contains(needle)))
            .collect()
    }
}

/// Four shards `shard0..shard3` (plus `shard4`, added at `ADD_AT_MS`) of
/// `replication`, two clients writing and reading `KEY_COUNT` keys, and a
/// balancer with `cutover`.
fn keyspace(sharding: &str, cutover: &str, replication: Value, seed: u64) -> Scenario {
    let mut nodes = Vec::new();
    let replicas: &[&str] = if replication.get("raft").is_some() {
        &["a", "b", "c"]
    } else {
        &["a", "b"]
    };
    for shard in 0..5 {
        for replica in replicas {
            nodes.push(
                json!({"id": format!("shard{shard}-{replica}"), "kind": "kv_database",
                "properties": {"database": format!("shard{shard}"), "replication": replication}}),
            );
        }
    }
    let databases: Vec<String> = (0..4).map(|shard| format!("shard{shard}")).collect();
    let read_consistency = if replication.get("raft").is_some() {
        "linearizable"
    } else {
        "leader"
    };
    for client in ["c1", "c2"] {
        nodes.push(json!({"id": client, "kind": "kv_client", "properties": {
            "databases": databases, "sharding": sharding,
            "virtual_nodes_per_shard": VIRTUAL_NODES_PER_SHARD,
            "read_consistency": read_consistency,
            "concurrency": 6, "read_fraction": 0.3, "key_count": KEY_COUNT,
            "think_time": {"constant": {"value_ms": 5.0}}}}));
    }
    nodes.push(
        json!({"id": "balancer", "kind": "kv_shard_balancer", "properties": {
        "clients": ["c1", "c2"], "add_database": "shard4", "add_at_ms": ADD_AT_MS,
        "cutover": cutover, "copy_parallelism": 8, "value_size_bytes": VALUE_SIZE_BYTES}}),
    );
    common::scenario(json!({
        "version": 1,
        "metadata": {"title": "resharding test"},
        "topology": {"nodes": nodes, "links": [],
            "default_network": {"latency": {"uniform": {"low_ms": 1.0, "high_ms": 3.0}}}},
        "run": {"seed": seed, "duration_ms": 12_000}
    }))
}

fn leader_follower() -> Value {
    json!({"leader_follower": {"acks": "async"}})
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
    let checks = simulator
        .check_results()
        .into_iter()
        .map(|result| (result.name, result.status, result.detail))
        .collect();
    let summaries = scenario
        .topology
        .nodes
        .iter()
        .map(|node| {
            let id = simulator.node_id(&node.id).expect("node");
            (node.id.clone(), simulator.node_summary(id))
        })
        .collect();
    Outcome {
        lines: simulator.trace_mut().take_full_record().unwrap_or_default(),
        checks,
        summaries,
    }
}

/// Keys whose shard differs between 4 and 5 shards under `strategy`.
fn reassigned(strategy: ShardingStrategy) -> u32 {
    let before = ShardRouter::new(strategy, 4, KEY_COUNT, VIRTUAL_NODES_PER_SHARD);
    let after = ShardRouter::new(strategy, 5, KEY_COUNT, VIRTUAL_NODES_PER_SHARD);
    (0..KEY_COUNT)
        .filter(|key| before.shard_of(*key) != after.shard_of(*key))
        .count() as u32
}

/// The move happened, moved exactly the reassigned keys, and lost nothing.
fn assert_clean_move(outcome: &Outcome, seed: u64, label: &str, expected_reassigned: u32) {
    let reassigned = outcome.metric("balancer", "keys_reassigned");
    let moved = outcome.metric("balancer", "keys_moved");
    let bytes = outcome.metric("balancer", "bytes_moved");
    let catch_up = outcome.metric("balancer", "catch_up_copies");
    assert_eq!(
        reassigned,
        f64::from(expected_reassigned),
        "seed {seed}, {label}: balancer reassigned {reassigned} keys, the router says {expected_reassigned}"
    );
    assert_eq!(
        outcome.metric("balancer", "cut_over"),
        1.0,
        "seed {seed}, {label}: no cut-over"
    );
    // Eight seconds of writes touch every key (about 8 writes per key), so
    // every reassigned key has a value to copy.
    assert!(
        moved >= 0.98 * reassigned && moved <= reassigned,
        "seed {seed}, {label}: {moved} keys copied of {reassigned} reassigned"
    );
    // One fact per key in the first pass (nil when never written), one per
    // catch-up copy of a changed key; every copy of a value is `value_size_bytes`.
    let first_pass = outcome.lines_with(&["reshard_key_copied"]).len()
        - outcome
            .lines_with(&["reshard_key_copied", "(catch-up)"])
            .len();
    assert_eq!(
        first_pass as f64, reassigned,
        "seed {seed}, {label}: one first-pass fact per reassigned key"
    );
    let copies_with_values = outcome.lines_with(&["reshard_key_copied"]).len()
        - outcome.lines_with(&["reshard_key_copied", "v=nil"]).len();
    assert_eq!(
        bytes,
        copies_with_values as f64 * VALUE_SIZE_BYTES as f64,
        "seed {seed}, {label}: bytes moved"
    );
    assert!(
        catch_up <= copies_with_values as f64,
        "seed {seed}, {label}"
    );
    for check in ["kv_lost_acknowledged_writes", "kv_linearizable"] {
        let (status, detail) = outcome.check(check);
        assert_eq!(
            status,
            CheckStatus::Pass,
            "seed {seed}, {label}: {check}: {detail}"
        );
    }
    // After the cut-over the new shard serves writes from the clients.
    let client_writes_on_new_shard = outcome.lines_with(&[" ok write k=", "db=shard4"]).len();
    assert!(
        client_writes_on_new_shard > 100,
        "seed {seed}, {label}: only {client_writes_on_new_shard} client writes acknowledged by shard4"
    );
}

#[test]
fn adding_a_fifth_shard_moves_a_fifth_of_the_keys_with_consistent_hashing_and_most_with_hash_mod_n()
{
    let seed = 1;
    let consistent_expected = reassigned(ShardingStrategy::ConsistentHash);
    let modulo_expected = reassigned(ShardingStrategy::Hash);
    let consistent = run(&keyspace(
        "consistent_hash",
        "freeze_and_catch_up",
        leader_follower(),
        seed,
    ));
    assert_clean_move(&consistent, seed, "consistent_hash", consistent_expected);
    let modulo = run(&keyspace(
        "hash",
        "freeze_and_catch_up",
        leader_follower(),
        seed,
    ));
    assert_clean_move(&modulo, seed, "hash mod N", modulo_expected);

    // Consistent hashing: every moved key lands on the new shard.
    for line in consistent.lines_with(&["reshard_key_copied"]) {
        assert!(
            line.contains("->shard4"),
            "seed {seed}: consistent hashing moved a key between old shards: {line}"
        );
    }
    let moved_to_old_shards = modulo
        .lines_with(&["reshard_key_copied"])
        .iter()
        .filter(|line| !line.contains("->shard4"))
        .count();
    let consistent_fraction = f64::from(consistent_expected) / f64::from(KEY_COUNT);
    let modulo_fraction = f64::from(modulo_expected) / f64::from(KEY_COUNT);
    println!(
        "| sharding | keys reassigned of {KEY_COUNT} | keys copied | bytes moved | catch-up copies | freeze ms |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, outcome) in [("consistent_hash", &consistent), ("hash mod N", &modulo)] {
        println!(
            "| {label} | {} | {} | {} | {} | {:.1} |",
            outcome.metric("balancer", "keys_reassigned"),
            outcome.metric("balancer", "keys_moved"),
            outcome.metric("balancer", "bytes_moved"),
            outcome.metric("balancer", "catch_up_copies"),
            outcome.metric("balancer", "freeze_ms"),
        );
    }
    println!(
        "hash mod N: {moved_to_old_shards} key copies went between old shards; consistent hashing: none"
    );
    // Ideal 1/5 = 20% and 4/5 = 80%; 16 virtual nodes leave the new
    // shard's arc share uneven (±1/sqrt(16) of the mean).
    assert!(
        (0.12..=0.28).contains(&consistent_fraction),
        "consistent hashing reassigned {consistent_expected} of {KEY_COUNT}"
    );
    assert!(
        (0.75..=0.85).contains(&modulo_fraction),
        "hash mod N reassigned {modulo_expected} of {KEY_COUNT}"
    );
    assert!(
        moved_to_old_shards > 0,
        "hash mod N moves keys between old shards too"
    );
}

#[test]
fn the_freeze_holds_only_operations_on_moving_keys_and_releases_them_to_the_new_shard() {
    let seed = 2;
    let outcome = run(&keyspace(
        "consistent_hash",
        "freeze_and_catch_up",
        leader_follower(),
        seed,
    ));
    let held = outcome.metric("c1", "operations_held_for_reshard")
        + outcome.metric("c2", "operations_held_for_reshard");
    let freeze_ms = outcome.metric("balancer", "freeze_ms");
    println!("seed {seed}: {held} operations held during a {freeze_ms:.1} ms freeze");
    assert!(held > 0.0, "seed {seed}: the freeze held nothing");
    assert!(
        freeze_ms > 0.0 && freeze_ms < 2_000.0,
        "seed {seed}: freeze lasted {freeze_ms} ms"
    );
    // Frozen, then cut over, in that order, once each.
    let frozen = outcome.lines_with(&["reshard_frozen shard0+"]);
    let cut_over = outcome.lines_with(&["reshard_cut_over shard0+"]);
    assert_eq!((frozen.len(), cut_over.len()), (1, 1), "seed {seed}");
    // Held operations failed only if their timeout came first (none here:
    // the freeze is far shorter than the 1 s request timeout).
    assert!(
        outcome.lines_with(&["held by a reshard freeze"]).is_empty(),
        "seed {seed}: an operation timed out while held"
    );
    assert_clean_move(
        &outcome,
        seed,
        "consistent_hash",
        reassigned(ShardingStrategy::ConsistentHash),
    );
}

#[test]
fn copy_then_switch_without_a_freeze_loses_writes_acknowledged_during_the_copy() {
    let mut failing_seeds = 0;
    for seed in 1..=3 {
        let outcome = run(&keyspace(
            "hash",
            "copy_then_switch",
            leader_follower(),
            seed,
        ));
        let (status, detail) = outcome.check("kv_lost_acknowledged_writes");
        println!("copy_then_switch, seed {seed}: {status:?} {detail}");
        if status == CheckStatus::Fail {
            failing_seeds += 1;
            assert!(
                detail.contains("moved from") && detail.contains("the new shard never got"),
                "seed {seed}: {detail}"
            );
        }
        // The lost writes also show as stale reads: the key's register went back in time.
        let (linearizable, _) = outcome.check("kv_linearizable");
        assert_eq!(
            linearizable,
            CheckStatus::Fail,
            "seed {seed}: copy_then_switch stayed linearizable"
        );
    }
    assert_eq!(
        failing_seeds, 3,
        "copy_then_switch lost nothing on some seed"
    );
}

#[test]
fn raft_shards_move_keys_through_the_log_without_losing_writes() {
    let seed = 3;
    let outcome = run(&keyspace(
        "consistent_hash",
        "freeze_and_catch_up",
        json!({"raft": {}}),
        seed,
    ));
    assert_clean_move(
        &outcome,
        seed,
        "raft, consistent_hash",
        reassigned(ShardingStrategy::ConsistentHash),
    );
}

#[test]
fn freeze_and_catch_up_loses_nothing_over_10_seeds() {
    let mut table = Vec::new();
    for seed in 10..20 {
        let outcome = run(&keyspace(
            "hash",
            "freeze_and_catch_up",
            leader_follower(),
            seed,
        ));
        assert_clean_move(&outcome, seed, "hash", reassigned(ShardingStrategy::Hash));
        table.push(outcome.metric("balancer", "freeze_ms"));
    }
    println!(
        "freeze_and_catch_up, hash mod N, 10 seeds: 0 lost writes, 0 linearizability violations; freeze ms {table:?}"
    );
}

#[test]
fn a_bad_balancer_is_refused_with_the_json_path_of_each_problem() {
    let mut document = serde_json::to_value(keyspace(
        "hash",
        "freeze_and_catch_up",
        leader_follower(),
        1,
    ))
    .expect("serialisable");
    let nodes = document["topology"]["nodes"].as_array_mut().expect("nodes");
    let balancer = nodes.len() - 1;
    // c2 shards differently from c1; the added database is already a shard;
    // a client that does not exist; a parallelism of 0.
    nodes[balancer - 1]["properties"]["key_count"] = json!(999);
    nodes[balancer]["properties"]["clients"] = json!(["c1", "c2", "c3"]);
    nodes[balancer]["properties"]["add_database"] = json!("shard1");
    nodes[balancer]["properties"]["copy_parallelism"] = json!(0);
    let problems = match faultline_engine::scenario::parse_scenario_value(document) {
        Ok(_) => panic!("a bad balancer was accepted"),
        Err(problems) => problems.to_string(),
    };
    println!("{problems}");
    let path = format!("topology.nodes[{balancer}].properties");
    for expected in [
        format!(
            "{path}.clients[1]: expected the same databases, sharding, virtual_nodes_per_shard and key_count as \"c1\""
        ),
        format!("{path}.clients[2]: no node \"c3\""),
        format!("{path}.add_database: database \"shard1\" is already a shard of the clients"),
        format!("{path}.copy_parallelism: expected 1 to 1000, found 0"),
    ] {
        assert!(
            problems.contains(&expected),
            "missing `{expected}` in:\n{problems}"
        );
    }
}
