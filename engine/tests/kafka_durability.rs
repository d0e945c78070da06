//! Kafka durability: acknowledged writes survive exactly the faults real Kafka survives, and are lost where it loses them.
//!
//! Rows K1–K4 of /work/shared/reference/expected-outcomes.md (Kafka design
//! §4.6 and §4.8, Jepsen "Kafka" 2013, KIP-101, KIP-966). Every scenario is a
//! controller, three brokers (one partition, replication factor 3) and one
//! producer writing a record every 10 ms; broker b1 is the first leader.

mod common;

use common::count;

use faultline_engine::checkers::CheckStatus;
use faultline_engine::rng::SimRng;
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{Scenario, Simulator};
use serde_json::{Value, json};

struct Cluster {
    acks: &'static str,
    min_insync_replicas: u32,
    unclean: bool,
    idempotent: bool,
    power_loss_on_crash: bool,
    duration_ms: u64,
    producer_stop_ms: u64,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            acks: "all",
            min_insync_replicas: 2,
            unclean: false,
            // Kafka's default since 3.0.
            idempotent: true,
            power_loss_on_crash: false,
            duration_ms: 30_000,
            producer_stop_ms: 25_000,
        }
    }
}

const NODES: [&str; 5] = ["ctl", "b1", "b2", "b3", "p"];

fn cluster(config: &Cluster, timeline: Value, seed: u64) -> Scenario {
    let brokers: Vec<Value> = ["b1", "b2", "b3"]
        .iter()
        .map(|id| {
            json!({"id": id, "kind": "kafka_broker",
                   "properties": {"power_loss_on_crash": config.power_loss_on_crash}})
        })
        .collect();
    let mut nodes = vec![
        json!({"id": "ctl", "kind": "kafka_controller", "properties": {
        "brokers": ["b1", "b2", "b3"],
        "topics": [{"name": "orders", "partitions": 1, "replication_factor": 3,
                    "min_insync_replicas": config.min_insync_replicas,
                    "unclean_leader_election_enable": config.unclean}]}}),
    ];
    nodes.extend(brokers);
    nodes.push(json!({"id": "p", "kind": "kafka_producer", "properties": {
        "controller": "ctl", "topic": "orders", "acks": config.acks,
        "enable_idempotence": config.idempotent,
        "inter_arrival": {"constant": {"value_ms": 10.0}},
        "stop_ms": config.producer_stop_ms}}));
    // Every pair linked, so a fault can degrade one pair alone.
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
        "run": {"seed": seed, "duration_ms": config.duration_ms}
    }))
}

struct Outcome {
    lines: Vec<String>,
    lost: (CheckStatus, String),
    duplicates: (CheckStatus, String),
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
    let results = simulator.check_results();
    let status = |name: &str| {
        let result = results
            .iter()
            .find(|result| result.name == name)
            .expect("kafka checker registered");
        (result.status, result.detail.clone())
    };
    Outcome {
        lost: status("lost_acknowledged_writes"),
        duplicates: status("no_duplicate_log_entries"),
        lines: simulator.trace_mut().take_full_record().unwrap_or_default(),
    }
}

fn crash_and_restart(node: &str, at_ms: u64, restart_ms: u64) -> Vec<Value> {
    vec![
        json!({"at_ms": at_ms, "action": {"crash": {"node": node}}}),
        json!({"at_ms": restart_ms, "action": {"restart": {"node": node}}}),
    ]
}

/// The leader's fetch responses to both followers are cut: they stop replicating.
fn followers_stop_fetching(at_ms: u64) -> Value {
    json!({"at_ms": at_ms, "action": {"partition_one_way": {"from": ["b1"], "to": ["b2", "b3"]}}})
}

fn heal(at_ms: u64) -> Value {
    json!({"at_ms": at_ms, "action": {"heal": {}}})
}

/// K4: acks=1; the leader crashes before followers fetch → acknowledged writes lost.
#[test]
fn acks_1_loses_acknowledged_write_when_leader_crashes_before_followers_fetch() {
    let mut timeline = vec![followers_stop_fetching(2_000)];
    timeline.extend(crash_and_restart("b1", 2_500, 12_000));
    timeline.push(heal(3_000));
    let config = Cluster {
        acks: "1",
        ..Default::default()
    };
    let outcome = run(&cluster(&config, json!(timeline), 1), true);
    assert_eq!(outcome.lost.0, CheckStatus::Fail, "{}", outcome.lost.1);
    assert!(
        outcome.lost.1.contains("election of b2") && outcome.lost.1.contains("values ["),
        "the loss is dated at b2's election and names the values: {}",
        outcome.lost.1
    );
    assert_eq!(
        count(
            &outcome.lines,
            &["state b1 TRUNCATED orders-0", "divergent_epoch"],
            12.0..13.0
        ),
        1,
        "the returning leader truncates the writes only it had (KIP-101)"
    );
    // The same faults with acks=all and min ISR 2 lose nothing (K1).
    let safe = run(&cluster(&Cluster::default(), json!(timeline), 1), false);
    assert_eq!(safe.lost.0, CheckStatus::Pass, "{}", safe.lost.1);
}

/// K1: acks=all, RF 3, min ISR 2, clean elections: no single broker crash or
/// partition loses an acknowledged write (hand-written schedules).
#[test]
fn acks_all_min_isr_2_loses_nothing_across_any_single_broker_crash_or_partition() {
    let isolate_leader = vec![
        json!({"at_ms": 3_000, "action": {"partition": {"groups": [["b1"], ["ctl", "b2", "b3", "p"]]}}}),
        heal(12_000),
    ];
    let schedules: Vec<(&str, Vec<Value>)> = vec![
        ("crash leader", crash_and_restart("b1", 3_000, 12_000)),
        ("crash follower", crash_and_restart("b2", 3_000, 12_000)),
        ("partition leader", isolate_leader),
        (
            "followers cut off, then leader crash",
            vec![
                followers_stop_fetching(2_000),
                json!({"at_ms": 2_500, "action": {"crash": {"node": "b1"}}}),
                heal(3_000),
                json!({"at_ms": 12_000, "action": {"restart": {"node": "b1"}}}),
            ],
        ),
    ];
    for (name, timeline) in schedules {
        let outcome = run(&cluster(&Cluster::default(), json!(timeline), 1), true);
        assert_eq!(
            outcome.lost.0,
            CheckStatus::Pass,
            "{name}: {}",
            outcome.lost.1
        );
        assert_eq!(
            outcome.duplicates.0,
            CheckStatus::Pass,
            "{name}: {}",
            outcome.duplicates.1
        );
        assert!(
            count(&outcome.lines, &["op p", " ok write"], 15.0..25.0) > 500,
            "{name}: writes are acknowledged again once a new leader is in place"
        );
    }
}

/// A random plan of single-broker faults, one at a time: crash/restart,
/// isolation by partition, or a lossy link to another broker.
fn single_broker_fault_plan(seed: u64) -> Value {
    let mut rng = SimRng::for_stream(seed, 7_777);
    let brokers = ["b1", "b2", "b3"];
    let mut timeline = Vec::new();
    let mut at_ms = 1_000;
    while at_ms < 18_000 {
        let broker = brokers[rng.below(3) as usize];
        let duration_ms = 1_000 + rng.below(8_000);
        let end_ms = (at_ms + duration_ms).min(20_000);
        match rng.below(3) {
            0 => timeline.extend(crash_and_restart(broker, at_ms, end_ms)),
            1 => {
                let others: Vec<&str> = NODES
                    .iter()
                    .copied()
                    .filter(|node| *node != broker)
                    .collect();
                timeline.push(json!({"at_ms": at_ms, "action": {"partition": {"groups": [[broker], others]}}}));
                timeline.push(heal(end_ms));
            }
            _ => {
                let other = brokers[(brokers.iter().position(|b| *b == broker).unwrap_or(0)
                    + 1
                    + rng.below(2) as usize)
                    % 3];
                let loss = 0.3 + 0.6 * rng.next_f64();
                timeline.push(
                    json!({"at_ms": at_ms, "action": {"set_link": {"from": broker, "to": other,
                    "network": {"loss_probability": (loss * 100.0).round() / 100.0}}}}),
                );
                timeline.push(json!({"at_ms": end_ms, "action": {"set_link": {"from": broker, "to": other, "network": {}}}}));
            }
        }
        at_ms = end_ms + 200 + rng.below(2_000);
    }
    json!(timeline)
}

/// K1, swept: 100 seeds of random single-broker faults, zero lost writes.
#[test]
fn acks_all_min_isr_2_loses_nothing_across_a_sweep_of_single_broker_faults() {
    let mut failures = Vec::new();
    for seed in 0..100 {
        let outcome = run(
            &cluster(&Cluster::default(), single_broker_fault_plan(seed), seed),
            false,
        );
        if outcome.lost.0 != CheckStatus::Pass || outcome.duplicates.0 != CheckStatus::Pass {
            failures.push(format!(
                "seed {seed}: {} / {}",
                outcome.lost.1, outcome.duplicates.1
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// K2: acks=all with min ISR 1. The followers fall behind and leave the ISR;
/// the leader keeps acknowledging alone; then it loses power (the page cache
/// had not been written back) and, as the last ISR member, leads again with
/// a shorter log (KIP-966's case). With min ISR 2 the same faults lose nothing:
/// the lone leader refused those writes.
#[test]
fn acks_all_min_isr_1_loses_writes_once_isr_shrinks_to_leader_and_leader_dies() {
    let timeline = json!([
        followers_stop_fetching(2_000),
        {"at_ms": 20_000, "action": {"crash": {"node": "b1"}}},
        heal(20_000),
        {"at_ms": 22_000, "action": {"restart": {"node": "b1"}}}
    ]);
    let config = Cluster {
        min_insync_replicas: 1,
        power_loss_on_crash: true,
        duration_ms: 40_000,
        producer_stop_ms: 35_000,
        ..Default::default()
    };
    let outcome = run(&cluster(&config, timeline.clone(), 1), true);
    assert!(
        count(
            &outcome.lines,
            &["state ctl isr orders-0 = [b1]"],
            10.0..20.0
        ) == 1,
        "the ISR shrinks to the leader"
    );
    assert_eq!(outcome.lost.0, CheckStatus::Fail, "{}", outcome.lost.1);
    assert!(
        outcome.lost.1.contains("power_loss"),
        "lost at the power loss: {}",
        outcome.lost.1
    );
    let safer = Cluster {
        min_insync_replicas: 2,
        ..config
    };
    let outcome = run(&cluster(&safer, timeline, 1), true);
    assert_eq!(outcome.lost.0, CheckStatus::Pass, "{}", outcome.lost.1);
    assert!(count(&outcome.lines, &["NOT_ENOUGH_REPLICAS"], 10.0..20.0) > 0);
}

/// The ISR shrinks to b1 alone (followers cut off), acks=all with min ISR 1
/// keeps acknowledging, then b1 crashes: no ISR member is alive.
fn whole_isr_dead(unclean: bool) -> Outcome {
    let timeline = json!([
        followers_stop_fetching(2_000),
        {"at_ms": 20_000, "action": {"crash": {"node": "b1"}}},
        heal(20_000),
        {"at_ms": 32_000, "action": {"restart": {"node": "b1"}}}
    ]);
    let config = Cluster {
        min_insync_replicas: 1,
        unclean,
        duration_ms: 40_000,
        producer_stop_ms: 38_000,
        ..Default::default()
    };
    run(&cluster(&config, timeline, 1), true)
}

/// K3 (unclean.leader.election.enable=true): an out-of-sync replica leads;
/// the partition is available again and the writes only b1 had are lost.
#[test]
fn whole_isr_dead_unclean_election_returns_with_lost_writes() {
    let outcome = whole_isr_dead(true);
    assert_eq!(
        count(&outcome.lines, &["state ctl UNCLEAN election"], 24.0..27.0),
        1
    );
    assert_eq!(outcome.lost.0, CheckStatus::Fail, "{}", outcome.lost.1);
    assert!(
        outcome.lost.1.contains("UNCLEAN election"),
        "{}",
        outcome.lost.1
    );
    assert!(
        count(&outcome.lines, &["op p", " ok write"], 27.0..32.0) > 100,
        "available again before b1 returns"
    );
}

/// K3 (default, false): the partition stays offline until b1 returns; nothing is lost.
#[test]
fn whole_isr_dead_clean_election_stays_unavailable() {
    let outcome = whole_isr_dead(false);
    assert_eq!(
        count(&outcome.lines, &["state ctl orders-0 OFFLINE"], 24.0..27.0),
        1
    );
    assert_eq!(
        count(&outcome.lines, &["op p", " ok write"], 20.1..32.0),
        0,
        "no write succeeds while no ISR member is alive"
    );
    assert!(count(&outcome.lines, &["op p", " ok write"], 32.0..38.0) > 100);
    assert_eq!(outcome.lost.0, CheckStatus::Pass, "{}", outcome.lost.1);
}

/// K5 (Jepsen "Kafka" 2013): the followers fall behind and the ISR shrinks
/// to the leader b1 (acks=all, min ISR 1); then b1 is cut off from the
/// controller and the other brokers, but not from the producer (which stays
/// on its side, as the Jepsen client did). It still
/// believes it leads, with itself as the whole ISR, so it keeps acknowledging
/// acks=all writes. With unclean election (the 2013 default) the controller
/// makes stale b2 leader; when the partition heals b1 follows b2 and truncates
/// every write it acknowledged while isolated.
fn isr_shrinks_to_leader_then_leader_isolated(unclean: bool) -> Outcome {
    let timeline = json!([
        followers_stop_fetching(2_000),
        heal(17_000),
        {"at_ms": 17_000, "action": {"partition": {"groups": [["b1", "p"], ["ctl", "b2", "b3"]]}}},
        heal(32_000)
    ]);
    let config = Cluster {
        min_insync_replicas: 1,
        unclean,
        duration_ms: 42_000,
        producer_stop_ms: 38_000,
        ..Default::default()
    };
    run(&cluster(&config, timeline, 1), true)
}

#[test]
fn isr_shrinks_to_leader_and_isolated_leader_loses_acknowledged_writes_with_unclean_election() {
    let outcome = isr_shrinks_to_leader_then_leader_isolated(true);
    assert_eq!(
        count(
            &outcome.lines,
            &["state ctl isr orders-0 = [b1]"],
            10.0..17.0
        ),
        1,
        "seed 1: the ISR shrinks to the leader before the isolation"
    );
    assert!(
        count(&outcome.lines, &["op p", " ok write"], 17.5..32.0) > 500,
        "seed 1: the isolated leader keeps acknowledging"
    );
    assert_eq!(
        outcome.lost.0,
        CheckStatus::Fail,
        "seed 1: {}",
        outcome.lost.1
    );
    let lost: u64 = outcome
        .lost
        .1
        .split("; ")
        .last()
        .and_then(|text| text.split(' ').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or(0);
    assert!(
        lost > 500,
        "seed 1: many acknowledged writes lost, not a handful: {}",
        outcome.lost.1
    );
}

/// K5 with today's default (unclean election off): the partition is offline
/// for everyone but the isolated leader, which keeps acknowledging; when the
/// partition heals it is the only ISR member and leads again, so nothing is lost.
#[test]
fn isr_shrinks_to_leader_and_isolated_leader_keeps_writes_without_unclean_election() {
    let outcome = isr_shrinks_to_leader_then_leader_isolated(false);
    assert!(count(&outcome.lines, &["state ctl orders-0 OFFLINE"], 17.0..32.0) >= 1);
    assert_eq!(
        outcome.lost.0,
        CheckStatus::Pass,
        "seed 1: {}",
        outcome.lost.1
    );
}

/// Consistency over availability: with the ISR below min ISR, acks=all
/// writes are refused before they are appended, and fail (not info).
#[test]
fn isr_below_min_isr_refuses_writes_with_not_enough_replicas() {
    let mut timeline = crash_and_restart("b2", 2_000, 20_000);
    timeline.extend(crash_and_restart("b3", 2_000, 20_000));
    let outcome = run(&cluster(&Cluster::default(), json!(timeline), 1), true);
    assert!(
        count(
            &outcome.lines,
            &["produce_error", "NOT_ENOUGH_REPLICAS"],
            8.0..20.0
        ) > 100
    );
    assert!(
        count(
            &outcome.lines,
            &["op p", "fail gave up", "NOT_ENOUGH_REPLICAS"],
            8.0..30.0
        ) > 0,
        "a record refused on every attempt definitely failed"
    );
    assert_eq!(count(&outcome.lines, &["op p", " ok write"], 9.0..20.0), 0);
    assert!(count(&outcome.lines, &["op p", " ok write"], 21.0..25.0) > 100);
    assert_eq!(outcome.lost.0, CheckStatus::Pass, "{}", outcome.lost.1);
}

/// K7 (producer half): responses are lost, the producer times out and
/// retries. The idempotent producer's retry is recognised by its sequence
/// number; the plain producer's retry is appended a second time.
#[test]
fn idempotent_producer_retries_write_no_duplicate_entries() {
    let timeline = json!([
        {"at_ms": 2_000, "action": {"partition_one_way": {"from": ["b1"], "to": ["p"]}}},
        heal(2_500)
    ]);
    let plain = run(
        &cluster(
            &Cluster {
                acks: "1",
                idempotent: false,
                ..Default::default()
            },
            timeline.clone(),
            1,
        ),
        false,
    );
    assert_eq!(
        plain.duplicates.0,
        CheckStatus::Fail,
        "{}",
        plain.duplicates.1
    );
    assert!(
        plain.duplicates.1.contains("twice"),
        "{}",
        plain.duplicates.1
    );
    let idempotent = run(
        &cluster(
            &Cluster {
                acks: "1",
                idempotent: true,
                ..Default::default()
            },
            timeline,
            1,
        ),
        true,
    );
    assert_eq!(
        idempotent.duplicates.0,
        CheckStatus::Pass,
        "{}",
        idempotent.duplicates.1
    );
    assert!(
        count(
            &idempotent.lines,
            &["duplicate produce from pid="],
            4.0..6.0
        ) > 0
    );
    assert_eq!(
        idempotent.lost.0,
        CheckStatus::Pass,
        "{}",
        idempotent.lost.1
    );
}

/// The sweep table for the report: (acks, min ISR, unclean) × 100 seeds of
/// random single-broker crash/partition/loss plans → runs with a lost write.
/// Run by hand: `cargo test -p faultline-engine --test kafka_durability -- --ignored --nocapture`.
#[test]
#[ignore]
fn sweep_table_of_configurations_by_runs_with_lost_writes() {
    let configurations: [(&str, u32, bool); 6] = [
        ("1", 1, false),
        ("1", 2, false),
        ("all", 1, false),
        ("all", 1, true),
        ("all", 2, false),
        ("all", 2, true),
    ];
    println!(
        "| acks | min ISR | unclean | seeds | runs with loss | lost writes | runs with duplicates |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (acks, min_insync_replicas, unclean) in configurations {
        let config = Cluster {
            acks,
            min_insync_replicas,
            unclean,
            ..Default::default()
        };
        let (mut runs_with_loss, mut lost_writes, mut runs_with_duplicates) = (0, 0u64, 0);
        for seed in 0..100 {
            let outcome = run(
                &cluster(&config, single_broker_fault_plan(seed), seed),
                false,
            );
            if outcome.lost.0 == CheckStatus::Fail {
                runs_with_loss += 1;
                lost_writes += outcome
                    .lost
                    .1
                    .split("; ")
                    .last()
                    .and_then(|text| text.split(' ').next())
                    .and_then(|number| number.parse::<u64>().ok())
                    .unwrap_or(0);
            }
            if outcome.duplicates.0 == CheckStatus::Fail {
                runs_with_duplicates += 1;
            }
        }
        println!(
            "| {acks} | {min_insync_replicas} | {unclean} | 100 | {runs_with_loss} | {lost_writes} | {runs_with_duplicates} |"
        );
    }
}
