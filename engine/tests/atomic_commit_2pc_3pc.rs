//! Atomic commitment under faults: 2PC blocks on a coordinator crash (T1) but never splits an
//! outcome (T2); 3PC does not block on crashes but splits under a partition (T3).
//!
//! Rows T1–T3 of /work/shared/reference/expected-outcomes.md. One `#[test]`
//! per outcome; the sweeps print their tables (configuration → seeds →
//! violations); run with `--nocapture` to see them.

mod common;

use faultline_engine::checkers::CheckStatus;
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};

/// What a run left behind: trace lines and the atomic_commit result.
struct Outcome {
    lines: Vec<String>,
    atomic: (CheckStatus, u64, String),
    summaries: Vec<(String, Vec<(&'static str, f64)>)>,
}

impl Outcome {
    fn metric(&self, node: &str, name: &str) -> f64 {
        self.summaries
            .iter()
            .find(|(id, _)| id == node)
            .and_then(|(_, summary)| summary.iter().find(|(metric, _)| *metric == name))
            .map(|(_, value)| *value)
            .unwrap_or_else(|| panic!("{node}.{name} reported"))
    }

    /// Lines containing every needle.
    fn lines_with(&self, needles: &[&str]) -> Vec<&String> {
        self.lines
            .iter()
            .filter(|line| needles.iter().all(|needle| line.contains(needle)))
            .collect()
    }
}

const PARTICIPANTS: [&str; 3] = ["p1", "p2", "p3"];

/// A client at `mean_ms` between transactions → `coord` → p1, p2, p3.
fn scenario(
    protocol: &str,
    coordinator: Value,
    participant: Value,
    faults: Value,
    seed: u64,
    duration_ms: u64,
    inter_arrival: Value,
) -> Scenario {
    let mut coordinator_properties = json!({"protocol": protocol, "participants": PARTICIPANTS});
    merge(&mut coordinator_properties, coordinator);
    let mut nodes = vec![
        json!({"id": "clients", "kind": "load_generator",
               "properties": {"request_timeout_ms": 60_000}}),
        json!({"id": "coord", "kind": "txn_coordinator", "properties": coordinator_properties}),
    ];
    for id in PARTICIPANTS {
        nodes.push(json!({"id": id, "kind": "txn_participant", "properties": participant.clone()}));
    }
    common::scenario(json!({
        "version": 1,
        "topology": {
            "nodes": nodes,
            "links": [],
            "default_network": {"latency": {"constant": {"value_ms": 1.0}}}
        },
        "workload": {"streams": [{"id": "txns", "client": "clients", "target": "coord",
            "pattern": {"open_loop": {"inter_arrival": inter_arrival}}}]},
        "faults": faults,
        "run": {"seed": seed, "duration_ms": duration_ms}
    }))
}

fn merge(target: &mut Value, extra: Value) {
    if let (Some(target), Some(extra)) = (target.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            target.insert(key.clone(), value.clone());
        }
    }
}

fn run(scenario: &Scenario, full_trace: bool) -> Outcome {
    let mut simulator = Simulator::with_options(
        scenario,
        SimulatorOptions {
            record_full_trace: full_trace,
            ..Default::default()
        },
    )
    .expect("valid");
    simulator.run_to_end();
    let atomic = simulator
        .check_results()
        .into_iter()
        .find(|result| result.name == "atomic_commit")
        .map(|result| (result.status, result.violations, result.detail))
        .expect("atomic_commit registered");
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
        atomic,
        summaries,
    }
}

/// The transaction id in a fact line (`... prepared t0.17 key=...`).
fn txn_of(line: &str) -> String {
    line.split_whitespace()
        .find(|word| {
            word.starts_with('t') && word.contains('.') && word[1..2].parse::<u8>().is_ok()
        })
        .expect("line names a transaction")
        .to_string()
}

#[test]
fn coordinator_crash_after_all_voted_yes_blocks_participants_holding_locks_until_it_recovers() {
    // T1. 10 transactions/s; the coordinator takes 50 ms to force its decision
    // record to disk, so a crash 30 ms after a transaction starts finds every
    // participant prepared (votes in after ~3 ms) and no decision anywhere.
    let crash_ms = 2_030;
    let restart_ms = 6_030;
    let seed = 7;
    let outcome = run(
        &scenario(
            "two_phase",
            json!({"log_write_latency_ms": 50}),
            json!({"decision_timeout_ms": 1_000, "query_interval_ms": 500}),
            json!({"timeline": [
                {"at_ms": crash_ms, "action": {"crash": {"node": "coord"}}},
                {"at_ms": restart_ms, "action": {"restart": {"node": "coord"}}}
            ]}),
            seed,
            10_000,
            json!({"constant": {"value_ms": 100.0}}),
        ),
        true,
    );
    let crash_s = crash_ms as f64 / 1_000.0;
    let restart_s = restart_ms as f64 / 1_000.0;
    // Transactions prepared at all three participants before the crash
    // with no outcome anywhere before it: the blocked ones.
    let prepared_before_crash: Vec<String> = outcome
        .lines_with(&["fact p1 prepared"])
        .into_iter()
        .filter(|line| common::seconds(line) < crash_s)
        .map(|line| txn_of(line))
        .filter(|txn| {
            PARTICIPANTS.iter().all(|participant| {
                !outcome
                    .lines_with(&[&format!("fact {participant} 2pc "), &format!(" {txn} ")])
                    .iter()
                    .any(|line| common::seconds(line) < crash_s)
            })
        })
        .collect();
    assert!(
        !prepared_before_crash.is_empty(),
        "seed {seed}: no transaction was prepared when the coordinator crashed"
    );
    for txn in &prepared_before_crash {
        for participant in PARTICIPANTS {
            let prepared = outcome.lines_with(&[&format!("fact {participant} prepared {txn} ")]);
            assert_eq!(
                prepared.len(),
                1,
                "seed {seed}: {participant} prepared {txn} once"
            );
            let prepared_at = common::seconds(prepared[0]);
            let outcomes =
                outcome.lines_with(&[&format!("fact {participant} 2pc "), &format!(" {txn} ")]);
            assert_eq!(
                outcomes.len(),
                1,
                "seed {seed}: {participant} has one outcome for {txn}"
            );
            let resolved_at = common::seconds(outcomes[0]);
            // Blocked exactly until the coordinator is back (plus one 1 ms hop).
            assert!(
                resolved_at >= restart_s && resolved_at <= restart_s + 0.005,
                "seed {seed}: {participant} resolved {txn} at {resolved_at}s, coordinator restarted at {restart_s}s"
            );
            // In doubt (decision timeout) while the coordinator was down, asking it in vain.
            assert!(
                !outcome
                    .lines_with(&[&format!("fact {participant} in_doubt {txn} ")])
                    .is_empty(),
                "seed {seed}: {participant} never reported {txn} in doubt"
            );
            let blocked_ms = (resolved_at - prepared_at) * 1_000.0;
            let downtime_ms = (restart_ms - crash_ms) as f64;
            println!(
                "T1 {participant} {txn}: prepared at {prepared_at:.3}s, resolved at {resolved_at:.3}s: blocked {blocked_ms:.0} ms (coordinator down {downtime_ms:.0} ms)"
            );
            assert!(
                blocked_ms >= downtime_ms && blocked_ms <= downtime_ms + 60.0,
                "seed {seed}: blocked {blocked_ms} ms for a {downtime_ms} ms outage"
            );
        }
    }
    // The lock stayed held the whole time: no outcome line in between for
    // any blocked transaction, and the participants' peak lock count shows it.
    for participant in PARTICIPANTS {
        assert!(outcome.metric(participant, "max_locks_held") >= 1.0);
        assert!(outcome.metric(participant, "max_prepared_ms") >= (restart_ms - crash_ms) as f64);
    }
    assert_eq!(
        outcome.atomic.0,
        CheckStatus::Pass,
        "seed {seed}: {}",
        outcome.atomic.2
    );
}

/// A nemesis sweep: `seeds` runs, returns (runs with a violation, violations).
fn sweep(
    protocol: &str,
    coordinator: Value,
    kinds: Value,
    seeds: std::ops::Range<u64>,
) -> (u64, u64, Option<(u64, String)>) {
    let mut failing_runs = 0;
    let mut violations = 0;
    let mut first = None;
    for seed in seeds {
        let scenario = scenario(
            protocol,
            coordinator.clone(),
            json!({"decision_timeout_ms": 3_000, "query_interval_ms": 500}),
            json!({"nemesis": {"faults_per_minute": 30.0, "mean_fault_duration_ms": 3_000.0,
                                "kinds": kinds.clone()}}),
            seed,
            30_000,
            json!({"exponential": {"mean_ms": 50.0}}),
        );
        let outcome = run(&scenario, false);
        if outcome.atomic.0 == CheckStatus::Fail {
            failing_runs += 1;
            violations += outcome.atomic.1;
            if first.is_none() {
                first = Some((seed, outcome.atomic.2.clone()));
            }
        }
    }
    (failing_runs, violations, first)
}

#[test]
fn two_phase_commit_never_splits_an_outcome_under_a_nemesis_with_a_durable_log() {
    // T2: crashes, pauses, partitions and loss over coordinator and participants.
    let (failing, violations, first) = sweep(
        "two_phase",
        json!({"durable_log": true}),
        json!(["crash", "pause", "partition", "loss"]),
        1..101,
    );
    println!("| 2PC, durable decision log | 100 | {failing} runs ({violations} violations) |");
    assert_eq!(failing, 0, "first violation (seed, detail): {first:?}");
}

#[test]
fn two_phase_commit_without_a_durable_log_splits_outcomes_through_presumed_abort() {
    // The same sweep with the decision log in memory only: a coordinator
    // that crashes while a committed decision is still being re-sent comes
    // back knowing nothing and answers the in-doubt participant "abort".
    let (failing, violations, first) = sweep(
        "two_phase",
        json!({"durable_log": false}),
        json!(["crash", "pause", "partition", "loss"]),
        1..101,
    );
    println!(
        "| 2PC, decision log not durable | 100 | {failing} runs ({violations} violations) | first: {first:?}"
    );
    assert!(
        failing > 0,
        "expected presumed abort after amnesia to split some outcome in 100 seeds"
    );
}

#[test]
fn three_phase_commit_does_not_block_when_the_coordinator_crashes_for_good() {
    // T3, first half: the coordinator dies for good mid-run. 2PC participants
    // would block forever; 3PC participants terminate among themselves.
    let seed = 11;
    let crash_ms = 2_030;
    let outcome = run(
        &scenario(
            "three_phase",
            json!({"log_write_latency_ms": 50}),
            json!({"decision_timeout_ms": 3_000, "query_interval_ms": 500}),
            json!({"timeline": [{"at_ms": crash_ms, "action": {"crash": {"node": "coord"}}}]}),
            seed,
            10_000,
            json!({"constant": {"value_ms": 100.0}}),
        ),
        true,
    );
    for participant in PARTICIPANTS {
        assert_eq!(
            outcome.metric(participant, "locks_held"),
            0.0,
            "seed {seed}: {participant} still holds locks at the end: blocked"
        );
    }
    let terminated = outcome.lines_with(&["3pc", "via=termination"]);
    assert!(
        !terminated.is_empty(),
        "seed {seed}: no participant decided by termination"
    );
    for line in &terminated {
        assert!(
            common::seconds(line) < crash_ms as f64 / 1_000.0 + 4.0,
            "seed {seed}: termination took too long: {line}"
        );
    }
    println!(
        "3PC crash: {} outcomes by termination, last at {:.3}s (crash at {:.3}s)",
        terminated.len(),
        terminated
            .iter()
            .map(|line| common::seconds(line))
            .fold(0.0, f64::max),
        crash_ms as f64 / 1_000.0
    );
    assert_eq!(
        outcome.atomic.0,
        CheckStatus::Pass,
        "seed {seed}: {}",
        outcome.atomic.2
    );
}

#[test]
fn three_phase_commit_splits_an_outcome_when_a_partition_isolates_a_participant() {
    // T3, second half: p3 is cut off from everyone after the votes but
    // before pre-commit reaches it. The coordinator takes p3's silence as a
    // failure and commits p1 and p2; p3, uncertain and alone, terminates
    // with abort.
    let seed = 5;
    let outcome = run(
        &scenario(
            "three_phase",
            json!({"pre_commit_ack_timeout_ms": 500}),
            json!({"decision_timeout_ms": 3_000, "query_interval_ms": 500,
                   "prepare_time": {"constant": {"value_ms": 1.0}}}),
            json!({"timeline": [
                {"at_ms": 2_000, "action": {"partition": {"groups": [["p3"], ["coord", "p1", "p2", "clients"]]}}},
                {"at_ms": 8_000, "action": {"heal": {}}}
            ]}),
            seed,
            12_000,
            json!({"constant": {"value_ms": 1.0}}),
        ),
        true,
    );
    println!("3PC partition: {}", outcome.atomic.2);
    assert_eq!(
        outcome.atomic.0,
        CheckStatus::Fail,
        "seed {seed}: expected a split outcome under the partition"
    );
    assert!(
        outcome.atomic.2.contains("p3"),
        "seed {seed}: {}",
        outcome.atomic.2
    );
}

#[test]
fn three_phase_commit_sweep_is_safe_under_crashes_and_unsafe_under_partitions() {
    let (crash_failing, crash_violations, crash_first) =
        sweep("three_phase", json!({}), json!(["crash"]), 1..101);
    let (partition_failing, partition_violations, partition_first) =
        sweep("three_phase", json!({}), json!(["partition"]), 1..101);
    println!("| configuration | seeds | runs with atomic_commit violations | violations |");
    println!("|---|---|---|---|");
    println!("| 3PC, crashes only | 100 | {crash_failing} | {crash_violations} |");
    println!("| 3PC, partitions only | 100 | {partition_failing} | {partition_violations} |");
    assert_eq!(crash_failing, 0, "first (seed, detail): {crash_first:?}");
    assert!(
        partition_failing > 0,
        "expected partitions to split some 3PC outcome; first: {partition_first:?}"
    );
}
