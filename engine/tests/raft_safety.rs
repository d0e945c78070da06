//! Raft safety (row F1): the five properties hold under crashes, partitions and loss with durable storage, and break without it.
//!
//! Every scenario is a cluster of `raft_node` servers `s1..sN` (all linked,
//! one-way latency 1–3 ms) and a `raft_kv_client` with three processes doing
//! reads, writes and cas on one register. Checkers: raft_election_safety,
//! raft_leader_append_only, raft_log_matching, raft_leader_completeness,
//! raft_state_machine_safety, raft_kv_linearizable (Always) and
//! raft_leader_eventually_elected.

mod common;

use common::count;
use faultline_engine::checkers::{CheckResult, CheckStatus};
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};

const SAFETY_CHECKS: [&str; 6] = [
    "raft_election_safety",
    "raft_leader_append_only",
    "raft_log_matching",
    "raft_leader_completeness",
    "raft_state_machine_safety",
    "raft_kv_linearizable",
];

struct Cluster {
    servers: usize,
    durable_storage: bool,
    pre_vote: bool,
    /// Per server (by position) election timeout range, if not the default 150–300 ms.
    timeouts_ms: Vec<(u64, u64)>,
    snapshot_threshold_entries: u64,
    loss_probability: f64,
    duration_ms: u64,
    client_stop_ms: u64,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            servers: 5,
            durable_storage: true,
            pre_vote: false,
            timeouts_ms: Vec::new(),
            snapshot_threshold_entries: 100,
            loss_probability: 0.0,
            duration_ms: 30_000,
            client_stop_ms: 28_000,
        }
    }
}

fn server_names(servers: usize) -> Vec<String> {
    (1..=servers).map(|index| format!("s{index}")).collect()
}

fn cluster(config: &Cluster, faults: Value, seed: u64) -> Scenario {
    let names = server_names(config.servers);
    let mut nodes: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(position, id)| {
            let (min, max) = config
                .timeouts_ms
                .get(position)
                .copied()
                .unwrap_or((150, 300));
            json!({"id": id, "kind": "raft_node", "properties": {
                "members": names,
                "election_timeout_min_ms": min,
                "election_timeout_max_ms": max,
                "durable_storage": config.durable_storage,
                "pre_vote": config.pre_vote,
                "snapshot_threshold_entries": config.snapshot_threshold_entries}})
        })
        .collect();
    nodes.push(
        json!({"id": "client", "kind": "raft_kv_client", "properties": {
        "members": names, "concurrency": 3, "request_timeout_ms": 500,
        "think_time": {"uniform": {"low_ms": 5.0, "high_ms": 15.0}},
        "stop_ms": config.client_stop_ms}}),
    );
    let mut all: Vec<&str> = names.iter().map(String::as_str).collect();
    all.push("client");
    let mut links = Vec::new();
    for (index, from) in all.iter().enumerate() {
        for to in &all[index + 1..] {
            links.push(
                json!({"from": from, "to": to, "kind": "network", "network": {
                "latency": {"uniform": {"low_ms": 1.0, "high_ms": 3.0}},
                "loss_probability": config.loss_probability}}),
            );
        }
    }
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": nodes, "links": links},
        "faults": faults,
        "run": {"seed": seed, "duration_ms": config.duration_ms}
    }))
}

struct Outcome {
    results: Vec<CheckResult>,
    lines: Vec<String>,
    seed: u64,
}

impl Outcome {
    fn status(&self, name: &str) -> (CheckStatus, String) {
        let result = self
            .results
            .iter()
            .find(|result| result.name == name)
            .unwrap_or_else(|| panic!("checker {name} registered"));
        (result.status, result.detail.clone())
    }

    fn safety_violations(&self) -> Vec<String> {
        SAFETY_CHECKS
            .iter()
            .filter_map(|name| {
                let (status, detail) = self.status(name);
                (status != CheckStatus::Pass).then(|| format!("{name}: {detail}"))
            })
            .collect()
    }
}

fn run(scenario: &Scenario, keep_trace: bool) -> Outcome {
    let mut simulator = Simulator::with_options(
        scenario,
        SimulatorOptions {
            record_full_trace: keep_trace,
            ..Default::default()
        },
    )
    .expect("valid");
    simulator.run_to_end();
    Outcome {
        results: simulator.check_results(),
        lines: simulator.trace_mut().take_full_record().unwrap_or_default(),
        seed: simulator.seed(),
    }
}

fn at(at_ms: u64, action: Value) -> Value {
    json!({"at_ms": at_ms, "action": action})
}

#[test]
fn a_healthy_cluster_elects_one_leader_and_commits_client_operations() {
    let config = Cluster {
        duration_ms: 5_000,
        client_stop_ms: 4_500,
        ..Default::default()
    };
    let outcome = run(&cluster(&config, json!({}), 1), true);
    assert!(
        outcome.safety_violations().is_empty(),
        "seed {}: {:?}",
        outcome.seed,
        outcome.safety_violations()
    );
    assert_eq!(
        outcome.status("raft_leader_eventually_elected").0,
        CheckStatus::Pass,
        "seed {}",
        outcome.seed
    );
    let leaders = count(
        &outcome.lines,
        &["fact", "raft_role", " leader leader="],
        0.0..5.0,
    );
    assert_eq!(leaders, 1, "seed {}: one election, no churn", outcome.seed);
    let ok = count(&outcome.lines, &["op client", " ok "], 0.0..5.0);
    assert!(ok > 300, "seed {}: {ok} operations completed", outcome.seed);
    assert!(
        count(&outcome.lines, &["raft_snapshot"], 0.0..5.0) == 0,
        "nobody lagged, so nobody needed a snapshot"
    );
}

/// The leader crashes: a new one is elected, clients are redirected to it,
/// and the old leader catches up (via InstallSnapshot: the log was compacted meanwhile).
#[test]
fn leader_crash_elects_a_new_leader_and_the_old_one_catches_up_by_snapshot() {
    let config = Cluster {
        duration_ms: 12_000,
        client_stop_ms: 11_000,
        snapshot_threshold_entries: 50,
        // s1 times out first, so it is the first leader.
        timeouts_ms: vec![(100, 110), (300, 600), (300, 600), (300, 600), (300, 600)],
        ..Default::default()
    };
    let faults = json!({"timeline": [
        at(2_000, json!({"crash": {"node": "s1"}})),
        at(7_000, json!({"restart": {"node": "s1"}})),
    ]});
    let outcome = run(&cluster(&config, faults, 3), true);
    assert!(
        outcome.safety_violations().is_empty(),
        "seed {}: {:?}",
        outcome.seed,
        outcome.safety_violations()
    );
    assert_eq!(
        count(
            &outcome.lines,
            &["fact s1 raft_role", " leader leader=s1"],
            0.0..1.0
        ),
        1,
        "s1 led first"
    );
    assert_eq!(
        count(&outcome.lines, &["raft_role", " leader leader="], 2.0..3.0),
        1,
        "seed {}: one new leader within a second of the crash",
        outcome.seed
    );
    assert!(
        count(&outcome.lines, &["fact s1 raft_snapshot"], 7.0..8.0) == 1,
        "seed {}: the restarted server received the leader's snapshot",
        outcome.seed
    );
    assert!(
        count(&outcome.lines, &["op client", " ok "], 3.0..7.0) > 200,
        "clients found the new leader through redirects"
    );
}

/// Hand-written schedule for a server without durable storage (row F1's
/// premise: Raft persists term, vote and log before answering). Three servers;
/// s1 is the first leader.
///
/// 1. s3 is cut off; s1 and s2 commit client writes (a majority of 3).
/// 2. s1 is cut off too; s2 crashes and restarts with an empty log.
/// 3. s2 and s3 now form a majority, both with empty logs: one of them is
///    elected and overwrites the indexes s1 and s2 had committed and applied.
///
/// With durable storage the same schedule is safe: s2 comes back with its log,
/// refuses to vote for s3, and becomes leader itself with every committed entry.
#[test]
fn without_durable_storage_a_restarted_server_forgets_committed_entries_and_state_machines_diverge()
{
    let schedule = |durable_storage: bool| {
        let config = Cluster {
            servers: 3,
            durable_storage,
            duration_ms: 8_000,
            client_stop_ms: 7_500,
            timeouts_ms: vec![(100, 110), (300, 320), (400, 420)],
            snapshot_threshold_entries: 0,
            ..Default::default()
        };
        let faults = json!({"timeline": [
            at(500, json!({"partition": {"groups": [["s3"], ["s1", "s2", "client"]]}})),
            at(2_000, json!({"heal": {}})),
            at(2_000, json!({"partition": {"groups": [["s1"], ["s2", "s3", "client"]]}})),
            at(2_000, json!({"crash": {"node": "s2"}})),
            at(2_100, json!({"restart": {"node": "s2"}})),
            at(5_000, json!({"heal": {}})),
        ]});
        run(&cluster(&config, faults, 1), true)
    };
    let volatile = schedule(false);
    if std::env::var("RAFT_DEBUG").is_ok() {
        for line in volatile.lines.iter().filter(|line| {
            line.contains("raft_role")
                || line.contains("raft_truncate")
                || line.contains("fault")
                || line.contains("raft_commit")
        }) {
            println!("{line}");
        }
    }
    let (status, detail) = volatile.status("raft_state_machine_safety");
    assert_eq!(
        status,
        CheckStatus::Fail,
        "seed {}: {detail}",
        volatile.seed
    );
    assert!(
        detail.contains("applied a different entry"),
        "seed {}: {detail}",
        volatile.seed
    );
    let (status, detail) = volatile.status("raft_leader_completeness");
    assert_eq!(
        status,
        CheckStatus::Fail,
        "seed {}: {detail}",
        volatile.seed
    );
    assert_eq!(
        count(
            &volatile.lines,
            &["fact s2 raft_truncate", "storage_lost"],
            1.9..2.1
        ),
        1,
        "the crash wiped s2's log"
    );

    let durable = schedule(true);
    assert!(
        durable.safety_violations().is_empty(),
        "seed {}: {:?}",
        durable.seed,
        durable.safety_violations()
    );
    assert!(
        count(
            &durable.lines,
            &["fact s2 raft_role", " leader leader=s2"],
            2.0..5.0
        ) >= 1,
        "seed {}: s2, with the committed log, wins the election",
        durable.seed
    );
}

fn nemesis(kinds: &[&str]) -> Value {
    json!({"nemesis": {
        "faults_per_minute": 20.0,
        "mean_fault_duration_ms": 2_000.0,
        "kinds": kinds,
        "targets": ["s1", "s2", "s3", "s4", "s5"],
        "stop_ms": 20_000}})
}

/// One row of a sweep table.
#[derive(Default)]
struct SweepRow {
    seeds: u64,
    violating_seeds: u64,
    violations: Vec<String>,
    liveness_failures: u64,
    operations_ok: f64,
    elections: f64,
}

fn sweep(config: &Cluster, kinds: &[&str], seeds: std::ops::Range<u64>) -> SweepRow {
    let mut row = SweepRow::default();
    for seed in seeds {
        let scenario = cluster(config, nemesis(kinds), seed);
        let mut simulator = Simulator::new(&scenario).expect("valid");
        simulator.run_to_end();
        let outcome = Outcome {
            results: simulator.check_results(),
            lines: Vec::new(),
            seed,
        };
        let found = outcome.safety_violations();
        row.seeds += 1;
        if !found.is_empty() {
            row.violating_seeds += 1;
        }
        row.violations.extend(
            found
                .into_iter()
                .map(|violation| format!("seed {seed}: {violation}")),
        );
        if outcome.status("raft_leader_eventually_elected").0 != CheckStatus::Pass {
            row.liveness_failures += 1;
        }
        let summary = |node: &str, metric: &str| {
            let id = simulator.node_id(node).expect("node exists");
            simulator
                .node_summary(id)
                .iter()
                .find(|(name, _)| *name == metric)
                .map_or(0.0, |(_, value)| *value)
        };
        row.operations_ok += summary("client", "operations_ok");
        row.elections += server_names(config.servers)
            .iter()
            .map(|server| summary(server, "elections_won"))
            .sum::<f64>();
    }
    row
}

const NEMESIS_KINDS: [&str; 5] = ["crash", "pause", "partition", "partition_one_way", "loss"];

fn sweep_config() -> Cluster {
    Cluster {
        duration_ms: 25_000,
        client_stop_ms: 24_000,
        ..Default::default()
    }
}

/// F1 under a nemesis (fast part of the sweep; the 100-seed table is
/// `nemesis_sweep_table`): random crashes, pauses, partitions, one-way
/// partitions and message loss against 5 durable servers under client load:
/// no safety violation, and a leader after every quiet tail.
#[test]
fn nemesis_sweep_durable_storage_has_no_safety_violation() {
    let row = sweep(&sweep_config(), &NEMESIS_KINDS, 0..12);
    assert!(row.violations.is_empty(), "{:#?}", row.violations);
    assert_eq!(
        row.liveness_failures, 0,
        "a leader must exist after every quiet tail"
    );
    assert!(
        row.operations_ok > 12.0 * 1_000.0,
        "the client made progress: {}",
        row.operations_ok
    );
}

/// The sweep table for the report: configuration → seeds → violations.
/// `cargo test -p faultline-engine --release --test raft_safety -- --ignored --nocapture`
#[test]
#[ignore]
fn nemesis_sweep_table() {
    let durable = sweep_config();
    let pre_vote = Cluster {
        pre_vote: true,
        ..sweep_config()
    };
    let volatile = Cluster {
        durable_storage: false,
        ..sweep_config()
    };
    let rows = [
        ("durable, pre-vote off", &durable, &NEMESIS_KINDS[..]),
        ("durable, pre-vote on", &pre_vote, &NEMESIS_KINDS[..]),
        ("durable, crash only", &durable, &["crash"][..]),
        ("NO durable storage, crash only", &volatile, &["crash"][..]),
        (
            "NO durable storage, all kinds",
            &volatile,
            &NEMESIS_KINDS[..],
        ),
    ];
    println!(
        "| configuration | nemesis kinds | seeds | seeds with safety violations | liveness failures | client ops ok | elections |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut durable_violations = Vec::new();
    for (name, config, kinds) in rows {
        let row = sweep(config, kinds, 0..100);
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} |",
            kinds.join(", "),
            row.seeds,
            row.violating_seeds,
            row.liveness_failures,
            row.operations_ok,
            row.elections
        );
        if let Some(first) = row.violations.first() {
            println!("|   first: {first} | | | | | | |");
        }
        if config.durable_storage {
            durable_violations.extend(row.violations);
        }
    }
    assert!(durable_violations.is_empty(), "{durable_violations:#?}");
}
