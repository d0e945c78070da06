//! The coordination service (ZooKeeper/etcd-like on the shared Raft core): Z1 — a 5-server ensemble survives 2 failures, its minority side refuses writes, and register writes stay linearizable; stale follower reads; sessions, ephemerals and watches.
//!
//! Ensembles are `z1..z5` (`coord_server`), clients are `coord_client`s with
//! the `registers` recipe (Jepsen-style read / write / version-checked cas
//! on `/registers/k0`), all on the default network (1–3 ms one way).

mod common;

use common::count;
use faultline_engine::checkers::{CheckResult, CheckStatus};
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};

const SERVERS: [&str; 5] = ["z1", "z2", "z3", "z4", "z5"];

fn server(id: &str, extra_znodes: &[&str]) -> Value {
    let mut znodes = vec!["/registers", "/registers/k0"];
    znodes.extend_from_slice(extra_znodes);
    json!({"id": id, "kind": "coord_server", "properties": {
        "members": SERVERS, "initial_znodes": znodes,
        "min_session_timeout_ms": 1_000}})
}

fn registers_client(id: &str, servers: &[&str], sync_reads: bool, stop_ms: u64) -> Value {
    json!({"id": id, "kind": "coord_client", "properties": {
        "servers": servers, "session_timeout_ms": 2_000, "request_timeout_ms": 500,
        "recipe": {"registers": {"sync_reads": sync_reads, "value_count": 5,
            "think_time": {"uniform": {"low_ms": 5.0, "high_ms": 15.0}}, "stop_ms": stop_ms}}}})
}

fn ensemble(
    clients: Vec<Value>,
    extra: Vec<Value>,
    faults: Value,
    seed: u64,
    duration_ms: u64,
) -> Scenario {
    let mut nodes: Vec<Value> = SERVERS
        .iter()
        .map(|id| server(id, &["/election", "/services"]))
        .collect();
    nodes.extend(clients);
    nodes.extend(extra);
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": nodes, "default_network": {
            "latency": {"uniform": {"low_ms": 1.0, "high_ms": 3.0}}}},
        "faults": faults,
        "run": {"seed": seed, "duration_ms": duration_ms}
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
    Outcome {
        results: simulator.check_results(),
        lines: simulator.trace_mut().take_full_record().unwrap_or_default(),
        seed: simulator.seed(),
    }
}

fn at(at_ms: u64, action: Value) -> Value {
    json!({"at_ms": at_ms, "action": action})
}

const RAFT_SAFETY: [&str; 5] = [
    "raft_election_safety",
    "raft_leader_append_only",
    "raft_log_matching",
    "raft_leader_completeness",
    "raft_state_machine_safety",
];

fn assert_safe(outcome: &Outcome) {
    for name in RAFT_SAFETY.iter().chain(["coord_linearizable"].iter()) {
        let (status, detail) = outcome.status(name);
        assert_eq!(
            status,
            CheckStatus::Pass,
            "seed {}: {name}: {detail}",
            outcome.seed
        );
    }
}

/// Z1: two of five servers crash; the other three keep a majority, elect a
/// leader if needed and keep committing linearizable writes.
#[test]
fn five_servers_tolerate_two_crashes_and_stay_linearizable() {
    let clients = vec![
        registers_client("c1", &["z1", "z2", "z3", "z4", "z5"], true, 9_000),
        registers_client("c2", &["z3", "z4", "z5", "z1", "z2"], true, 9_000),
    ];
    let faults = json!({"timeline": [
        at(2_000, json!({"crash": {"node": "z1"}})),
        at(2_000, json!({"crash": {"node": "z2"}})),
    ]});
    let outcome = run(&ensemble(clients, vec![], faults, 7, 10_000));
    assert_safe(&outcome);
    let ok_after = count(&outcome.lines, &["op c", " ok"], 4.0..9.0);
    assert!(
        ok_after > 100,
        "seed {}: only {ok_after} operations completed after two servers crashed",
        outcome.seed
    );
}

/// Z1: a 2 | 3 partition with a client on each side. The minority side
/// commits nothing (its servers refuse: no leader); the majority side keeps
/// going; everything stays linearizable.
#[test]
fn minority_side_of_a_partition_refuses_writes_and_majority_continues() {
    let clients = vec![
        registers_client("minority", &["z1", "z2"], true, 9_000),
        registers_client("majority", &["z3", "z4", "z5"], true, 9_000),
    ];
    let faults = json!({"timeline": [
        at(2_000, json!({"partition": {"groups": [["z1", "z2", "minority"], ["z3", "z4", "z5", "majority"]]}})),
        at(7_000, json!({"heal": {}})),
    ]});
    let outcome = run(&ensemble(clients, vec![], faults, 3, 10_000));
    assert_safe(&outcome);
    let minority_writes_ok = outcome
        .lines
        .iter()
        .filter(|line| {
            let seconds = common::seconds(line);
            (3.0..7.0).contains(&seconds)
                && line.contains("op minority")
                && line.contains(" ok")
                && !line.contains("read")
        })
        .count();
    assert_eq!(
        minority_writes_ok, 0,
        "seed {}: the minority side acknowledged writes",
        outcome.seed
    );
    let refused = count(&outcome.lines, &["coord reply", "not_serving"], 2.0..7.0);
    assert!(
        refused > 0,
        "seed {}: the minority servers never refused",
        outcome.seed
    );
    let majority_ok = count(&outcome.lines, &["op majority", " ok"], 3.0..7.0);
    assert!(
        majority_ok > 50,
        "seed {}: the majority side completed only {majority_ok} operations",
        outcome.seed
    );
}

/// Reads served by a lagging follower are stale: without `sync` the history
/// is not linearizable; the same schedule with `sync` reads is.
#[test]
fn follower_reads_without_sync_can_be_stale_and_sync_reads_are_not() {
    let verdict = |sync_reads: bool| {
        // The reader talks only to z5, which is held back from the leader's
        // appends for a while: it keeps answering from an old tree.
        let clients = vec![
            registers_client("writer", &["z1", "z2", "z3", "z4"], true, 5_500),
            registers_client("reader", &["z5"], sync_reads, 5_500),
        ];
        let faults = json!({"timeline": [
            at(2_000, json!({"partition_one_way": {"from": ["z1", "z2", "z3", "z4"], "to": ["z5"]}})),
            at(2_600, json!({"heal": {}})),
        ]});
        // z5 must not be the leader: give the others faster election timeouts.
        let mut scenario = ensemble(clients, vec![], faults, 11, 6_000);
        for node in &mut scenario.topology.nodes {
            if let faultline_engine::scenario::ComponentSpec::CoordServer(spec) = &mut node.spec
                && node.id == "z5"
            {
                spec.election_timeout_min_ms = 2_000;
                spec.election_timeout_max_ms = 3_000;
            }
        }
        run(&scenario)
    };
    let stale = verdict(false);
    assert_eq!(
        stale.status("coord_linearizable").0,
        CheckStatus::Fail,
        "seed {}: reads from a cut-off follower should have been stale",
        stale.seed
    );
    let synced = verdict(true);
    assert_eq!(
        synced.status("coord_linearizable").0,
        CheckStatus::Pass,
        "seed {}: sync reads must be linearizable: {}",
        synced.seed,
        synced.status("coord_linearizable").1
    );
}

/// A crashed client's session expires after its timeout (measured by the
/// leader); its ephemeral registration goes with it and the registry
/// watcher is told.
#[test]
fn session_expiry_deletes_ephemerals_and_fires_child_watches() {
    let extra = vec![
        json!({"id": "instance", "kind": "coord_client", "properties": {
            "servers": ["z1", "z2", "z3", "z4", "z5"], "session_timeout_ms": 2_000,
            "recipe": {"registry_instance": {"path": "/services"}}}}),
        json!({"id": "watcher", "kind": "coord_client", "properties": {
            "servers": ["z2", "z3"], "session_timeout_ms": 2_000,
            "recipe": {"registry_watcher": {"path": "/services"}}}}),
    ];
    let faults = json!({"timeline": [at(3_000, json!({"crash": {"node": "instance"}}))]});
    let outcome = run(&ensemble(vec![], extra, faults, 5, 8_000));
    let seen = count(
        &outcome.lines,
        &["fact watcher registry_view /services [instance-n"],
        0.0..3.0,
    );
    assert!(
        seen > 0,
        "seed {}: the watcher never saw the instance",
        outcome.seed
    );
    let expired: Vec<f64> = outcome
        .lines
        .iter()
        .filter(|line| line.contains("session_expired"))
        .map(|line| common::seconds(line))
        .collect();
    assert_eq!(expired.len(), 1, "seed {}: {expired:?}", outcome.seed);
    // The leader counts from the last ping it heard (pings every third of
    // the timeout), so expiry comes 2 s after the last ping before the crash.
    assert!(
        (4.3..5.1).contains(&expired[0]),
        "seed {}: the session expired at {} s, expected 2 s after the last ping before the crash at 3 s",
        outcome.seed,
        expired[0]
    );
    let emptied = count(
        &outcome.lines,
        &["fact watcher registry_view /services []"],
        expired[0]..8.0,
    );
    assert_eq!(
        emptied, 1,
        "seed {}: the watcher was not told",
        outcome.seed
    );
}

/// Config center: a publisher sets `/config/flag` every 500 ms; a subscriber
/// watching it is pushed every change and ends with the last value.
#[test]
fn config_subscriber_is_pushed_every_change_through_its_watch() {
    let extra = vec![
        json!({"id": "publisher", "kind": "coord_client", "properties": {
            "servers": ["z1", "z2"], "session_timeout_ms": 2_000,
            "recipe": {"config_publisher": {"path": "/config", "interval_ms": 500, "stop_ms": 3_200}}}}),
        json!({"id": "subscriber", "kind": "coord_client", "properties": {
            "servers": ["z4", "z5"], "session_timeout_ms": 2_000,
            "recipe": {"config_subscriber": {"path": "/config"}}}}),
    ];
    let mut nodes: Vec<Value> = SERVERS.iter().map(|id| server(id, &["/config"])).collect();
    nodes.extend(extra);
    let scenario = common::scenario(json!({
        "version": 1,
        "topology": {"nodes": nodes, "default_network": {
            "latency": {"uniform": {"low_ms": 1.0, "high_ms": 3.0}}}},
        "run": {"seed": 9, "duration_ms": 5_000}
    }));
    let outcome = run(&scenario);
    let published = count(&outcome.lines, &["state publisher", "session"], 0.0..5.0);
    assert_eq!(published, 1, "seed {}: one session", outcome.seed);
    let seen: Vec<&String> = outcome
        .lines
        .iter()
        .filter(|line| line.contains("fact subscriber config_seen /config"))
        .collect();
    // The last value the publisher set (it sets 1, 2, 3… every 500 ms until 3.2 s).
    let last_set = outcome
        .lines
        .iter()
        .filter(|line| {
            line.contains("send ")
                && line.contains("publisher->")
                && line.contains("set /config data=")
        })
        .filter_map(|line| {
            line.split("set /config data=")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .max()
        .expect("the publisher set the key");
    assert!(
        last_set >= 5,
        "seed {}: the publisher set only {last_set} versions",
        outcome.seed
    );
    assert!(
        seen.len() >= 5,
        "seed {}: only {} pushes: {seen:?}",
        outcome.seed,
        seen.len()
    );
    let last = seen.last().expect("seen");
    assert!(
        last.contains(&format!("data={last_set} version={last_set}")),
        "seed {}: the subscriber ended on {last}, the publisher last set {last_set}",
        outcome.seed
    );
}
