//! Inspection panels' data (`Simulator::inspect`): a Kafka leader crash moves the leader and shrinks the ISR, consumer lag is the high watermark minus the committed offset, Raft members show one leader per term, and every saga/2PC instance gets a row with its outcome.
//!
//! The data is checked against what the trace says happened, not against
//! hard-coded figures, so each test fails if the inspection drifts from the
//! engine's own history.

mod common;

use common::example;
use faultline_engine::inspect::{Inspection, KafkaReplicaRole, TransactionOutcome};
use faultline_engine::parse_scenario;
use faultline_engine::scenario::FaultAction;
use faultline_engine::sim::SimulatorOptions;
use faultline_engine::{SimTime, Simulator};
use std::collections::BTreeSet;

const KAFKA_DURABILITY_EXAMPLE: &str =
    include_str!("../../public/scenarios/kafka-durability-acks.json");

fn run_until(simulator: &mut Simulator, ms: u64) -> Inspection {
    simulator.run_until(SimTime::from_millis(ms));
    simulator.inspect()
}

/// K1/K2 setting: broker-1 leads `orders`-0 with an ISR of three; the leader
/// is crashed live at 1.9 s (as from the context menu, before the example's
/// own faults). The panel must then show a follower as leader, with an ISR
/// that no longer holds broker-1, and broker-1's replica down.
#[test]
fn kafka_leader_crash_shows_new_leader_and_shrunk_isr() {
    let scenario = parse_scenario(KAFKA_DURABILITY_EXAMPLE).expect("example parses");
    let seed = scenario.run.seed;
    let mut simulator = Simulator::new(&scenario).expect("valid");

    let before = run_until(&mut simulator, 1_900);
    assert_eq!(
        before.kafka_partitions.len(),
        1,
        "seed {seed}: one partition"
    );
    let partition = &before.kafka_partitions[0];
    assert_eq!(
        partition.leader.as_deref(),
        Some("broker-1"),
        "seed {seed}: broker-1 leads first: {partition:?}"
    );
    assert_eq!(
        partition.isr.len(),
        3,
        "seed {seed}: full ISR: {partition:?}"
    );
    assert!(!partition.under_replicated, "seed {seed}");
    let leader_row = partition
        .replicas
        .iter()
        .find(|replica| replica.broker == "broker-1")
        .expect("broker-1 replica");
    assert_eq!(leader_row.role, KafkaReplicaRole::Leader, "seed {seed}");
    assert_eq!(
        partition.high_watermark,
        Some(leader_row.high_watermark),
        "seed {seed}: the partition's HW is its leader's"
    );
    for replica in &partition.replicas {
        assert!(
            replica.high_watermark <= replica.log_end_offset,
            "seed {seed}: HW above LEO on {}: {replica:?}",
            replica.broker
        );
        assert!(
            replica.log_end_offset <= leader_row.log_end_offset,
            "seed {seed}: follower {} ahead of its leader",
            replica.broker
        );
    }
    assert!(
        leader_row.log_end_offset > 0,
        "seed {seed}: the producer wrote for 1.9 s"
    );
    let epoch_before = partition.leader_epoch;

    simulator
        .inject(FaultAction::Crash {
            node: "broker-1".to_string(),
        })
        .expect("crash accepted");
    // The controller notices after its broker session timeout (6 s default).
    let after = run_until(&mut simulator, 9_000);
    let partition = &after.kafka_partitions[0];
    let new_leader = partition
        .leader
        .clone()
        .unwrap_or_else(|| panic!("seed {seed}: a follower took over: {partition:?}"));
    assert_ne!(new_leader, "broker-1", "seed {seed}: {partition:?}");
    assert!(partition.leader_up, "seed {seed}");
    assert!(
        partition.high_watermark.is_some(),
        "seed {seed}: the new leader serves: {partition:?}"
    );
    assert!(
        partition.leader_epoch > epoch_before,
        "seed {seed}: leader epoch bumped from {epoch_before}: {partition:?}"
    );
    assert!(
        !partition.isr.contains(&"broker-1".to_string()),
        "seed {seed}: the crashed broker left the ISR: {partition:?}"
    );
    assert!(
        partition.isr.len() < 3 && partition.under_replicated,
        "seed {seed}: ISR shrank: {partition:?}"
    );
    assert!(
        partition.isr.contains(&new_leader),
        "seed {seed}: the leader is in its own ISR"
    );
    let crashed = partition
        .replicas
        .iter()
        .find(|replica| replica.broker == "broker-1")
        .expect("broker-1 is still an assigned replica");
    assert!(!crashed.up && !crashed.in_isr, "seed {seed}: {crashed:?}");
    // The trace agrees: the controller elected the panel's leader.
    let elected = simulator
        .recent_trace_lines(5_000)
        .iter()
        .any(|line| line.contains(&new_leader) && line.contains("leader"));
    assert!(
        elected,
        "seed {seed}: the trace names {new_leader} as leader"
    );
}

/// K1 (the example's own plan, acks=1): broker-1 is cut off from its
/// followers at 2 s and keeps acknowledging alone, then crashes at 2.5 s.
/// Once the controller notices, a follower leads with a log shorter than
/// broker-1's (the panel shows broker-1's LEO above the new leader's); after
/// broker-1 restarts at 12 s it truncates to the new leader's log and
/// rejoins the ISR as a follower.
#[test]
fn kafka_acks_one_divergence_shows_in_log_end_offsets_and_heals_after_restart() {
    let scenario = parse_scenario(KAFKA_DURABILITY_EXAMPLE).expect("example parses");
    let seed = scenario.run.seed;
    let mut simulator = Simulator::new(&scenario).expect("valid");
    let failed_over = run_until(&mut simulator, 10_000);
    let partition = &failed_over.kafka_partitions[0];
    let leader = partition
        .leader
        .clone()
        .unwrap_or_else(|| panic!("seed {seed}: a follower leads: {partition:?}"));
    assert_ne!(leader, "broker-1", "seed {seed}: {partition:?}");
    let leo = |row: &faultline_engine::inspect::KafkaPartitionRow, broker: &str| {
        row.replicas
            .iter()
            .find(|replica| replica.broker == broker)
            .map(|replica| replica.log_end_offset)
            .expect("replica listed")
    };
    let crashed = partition
        .replicas
        .iter()
        .find(|replica| replica.broker == "broker-1")
        .expect("broker-1 listed");
    assert!(
        !crashed.up && crashed.log_end_offset > crashed.high_watermark,
        "seed {seed}: broker-1 holds acknowledged writes its followers never got: {partition:?}"
    );
    assert!(partition.leader_epoch >= 1, "seed {seed}: a new epoch");
    let healed = run_until(&mut simulator, 25_000);
    let partition = &healed.kafka_partitions[0];
    let old_leader = partition
        .replicas
        .iter()
        .find(|replica| replica.broker == "broker-1")
        .expect("broker-1 listed");
    assert!(old_leader.up, "seed {seed}");
    assert!(
        old_leader.in_isr && partition.isr.len() == 3,
        "seed {seed}: broker-1 caught up and rejoined: {partition:?}"
    );
    assert!(
        old_leader.log_end_offset <= leo(partition, partition.leader.as_deref().expect("led")),
        "seed {seed}: broker-1 truncated to the leader's log: {partition:?}"
    );
}

/// Consumer lag is the leader's high watermark minus the group's committed
/// offset, for the coordinating broker's copy of the offsets.
#[test]
fn consumer_group_lag_is_high_watermark_minus_committed_offset() {
    let scenario = example("kafka-consumer-group-rebalance");
    let seed = scenario.run.seed;
    let mut simulator = Simulator::new(&scenario).expect("valid");
    let inspection = run_until(&mut simulator, 10_000);
    assert!(
        !inspection.kafka_groups.is_empty(),
        "seed {seed}: the example has a consumer group"
    );
    let mut committed_somewhere = false;
    for group in &inspection.kafka_groups {
        assert!(!group.partitions.is_empty(), "seed {seed}: {group:?}");
        for row in &group.partitions {
            let partition = inspection
                .kafka_partitions
                .iter()
                .find(|partition| {
                    partition.topic == group.topic && partition.partition == row.partition
                })
                .expect("the group's partition is listed");
            assert_eq!(row.high_watermark, partition.high_watermark, "seed {seed}");
            if let (Some(committed), Some(high_watermark)) =
                (row.committed_offset, row.high_watermark)
            {
                committed_somewhere = true;
                assert_eq!(
                    row.lag,
                    Some(high_watermark.saturating_sub(committed)),
                    "seed {seed}: {row:?}"
                );
                assert!(
                    committed <= high_watermark,
                    "seed {seed}: committed past the HW: {row:?}"
                );
            }
        }
    }
    assert!(
        committed_somewhere,
        "seed {seed}: offsets were committed by 10 s"
    );
}

/// Raft: at most one leader per term, every member's commit index within its
/// log, the log tail bounded and its committed flags below the commit index.
/// Under the 3 s partition the majority side elects a leader of a later term.
#[test]
fn raft_members_show_one_leader_per_term_and_a_bounded_log_tail() {
    let scenario = example("raft-election-under-partition");
    let seed = scenario.run.seed;
    let mut simulator = Simulator::new(&scenario).expect("valid");
    let before = run_until(&mut simulator, 2_500);
    assert_eq!(before.raft_members.len(), 5, "seed {seed}: five servers");
    let leaders: Vec<_> = before
        .raft_members
        .iter()
        .filter(|member| member.role == "leader")
        .collect();
    assert_eq!(leaders.len(), 1, "seed {seed}: one leader: {leaders:?}");
    let first_term = leaders[0].term;
    let first_leader = leaders[0].node.clone();
    for member in &before.raft_members {
        assert!(member.commit_index <= member.last_log_index, "seed {seed}");
        assert!(member.last_applied <= member.commit_index, "seed {seed}");
        assert!(
            member.log_tail.len() <= faultline_engine::inspect::INSPECTION_RAFT_LOG_TAIL_ENTRIES,
            "seed {seed}"
        );
        if let Some(last) = member.log_tail.last() {
            assert_eq!(
                last.index, member.last_log_index,
                "seed {seed}: tail ends the log"
            );
        }
        for entry in &member.log_tail {
            assert_eq!(entry.committed, entry.index <= member.commit_index);
            assert!(
                entry.term <= member.term,
                "seed {seed}: entry from the future"
            );
        }
    }

    let during = run_until(&mut simulator, 8_500);
    let majority = ["s3", "s4", "s5"];
    let mut leaders_by_term = BTreeSet::new();
    for member in during
        .raft_members
        .iter()
        .filter(|member| member.role == "leader")
    {
        assert!(
            leaders_by_term.insert(member.term),
            "seed {seed}: two leaders in term {}",
            member.term
        );
    }
    let majority_leader = during
        .raft_members
        .iter()
        .find(|member| member.role == "leader" && majority.contains(&member.node.as_str()));
    // The first leader may already have been on the majority side.
    if !majority.contains(&first_leader.as_str()) {
        let majority_leader =
            majority_leader.unwrap_or_else(|| panic!("seed {seed}: the majority elects a leader"));
        assert!(majority_leader.term > first_term, "seed {seed}");
    }
}

/// Orchestrated sagas: every kept instance has a row; a row's outcome is the
/// one the trace states (`saga_ended … completed|compensated`), and its step
/// spans lie inside the instance's time.
#[test]
fn saga_rows_carry_the_outcome_the_trace_states() {
    let scenario = example("saga-orchestrated-order");
    let seed = scenario.run.seed;
    let options = SimulatorOptions {
        record_full_trace: true,
        ..SimulatorOptions::default()
    };
    let mut simulator = Simulator::with_options(&scenario, options).expect("valid");
    simulator.run_to_end();
    let inspection = simulator.inspect();
    let lines = simulator
        .trace_mut()
        .take_full_record()
        .expect("full trace recorded");
    assert!(
        !inspection.transactions.is_empty(),
        "seed {seed}: sagas ran"
    );
    assert!(
        inspection.transactions.len()
            <= faultline_engine::inspect::transactions::MAX_INSPECTED_TRANSACTIONS,
        "seed {seed}: bounded"
    );
    let mut outcomes = BTreeSet::new();
    for row in &inspection.transactions {
        assert_eq!(row.protocol, "saga", "seed {seed}");
        outcomes.insert(row.outcome);
        let ended_line = lines
            .iter()
            .find(|line| line.contains(&format!("saga_ended {} ", row.id)));
        match row.outcome {
            TransactionOutcome::Completed | TransactionOutcome::Compensated => {
                let line = ended_line
                    .unwrap_or_else(|| panic!("seed {seed}: no saga_ended for {}", row.id));
                assert!(
                    line.ends_with(row.outcome.as_str()),
                    "seed {seed}: {} is {:?} but the trace says {line}",
                    row.id,
                    row.outcome
                );
                let ended = row.ended_us.expect("an ended saga has an end");
                assert!(ended >= row.started_us, "seed {seed}");
                assert!(!row.steps.is_empty(), "seed {seed}: {row:?}");
                for step in &row.steps {
                    assert!(step.started_us >= row.started_us, "seed {seed}: {row:?}");
                    assert!(
                        step.ended_us.is_some_and(|end| end <= ended),
                        "seed {seed}: a step outlives its saga: {row:?}"
                    );
                }
            }
            TransactionOutcome::Running | TransactionOutcome::Stuck => {
                assert!(
                    ended_line.is_none(),
                    "seed {seed}: {} ended: {row:?}",
                    row.id
                );
            }
            other => panic!("seed {seed}: a saga cannot be {other:?}"),
        }
    }
    assert!(
        outcomes.contains(&TransactionOutcome::Completed),
        "seed {seed}: some orders complete: {outcomes:?}"
    );
}

/// T1 (2PC blocking): while the coordinator is down, prepared participants
/// are in doubt and their transaction shows as blocked; after its restart
/// the decision reaches them and the row ends committed or aborted.
#[test]
fn two_phase_commit_shows_blocked_while_coordinator_is_down() {
    let scenario = example("2pc-coordinator-crash-blocks");
    let seed = scenario.run.seed;
    let mut simulator = Simulator::new(&scenario).expect("valid");
    let during = run_until(&mut simulator, 9_500);
    let blocked: Vec<_> = during
        .transactions
        .iter()
        .filter(|row| row.outcome == TransactionOutcome::Blocked)
        .collect();
    assert!(
        !blocked.is_empty(),
        "seed {seed}: a transaction is blocked while the coordinator is down: {:?}",
        during
            .transactions
            .iter()
            .map(|row| (row.id.clone(), row.outcome))
            .collect::<Vec<_>>()
    );
    let blocked_ids: Vec<String> = blocked.iter().map(|row| row.id.clone()).collect();
    for row in &blocked {
        assert_eq!(row.protocol, "2pc", "seed {seed}");
        assert!(
            row.steps.iter().any(|step| step.label == "in doubt"),
            "seed {seed}: {row:?}"
        );
    }
    let after = run_until(&mut simulator, 15_000);
    for id in &blocked_ids {
        if let Some(row) = after.transactions.iter().find(|row| &row.id == id) {
            assert!(
                matches!(
                    row.outcome,
                    TransactionOutcome::Committed | TransactionOutcome::Aborted
                ),
                "seed {seed}: {id} resolved after the restart: {row:?}"
            );
            assert!(row.ended_us.is_some(), "seed {seed}");
        }
    }
}

/// RabbitMQ: the dead-letter queue is marked as one, and every queue's depth
/// and unacked count are those of the broker's own view.
#[test]
fn rabbit_queues_mark_the_dead_letter_queue() {
    let scenario = example("rabbitmq-topic-routing-dlq-retry");
    let seed = scenario.run.seed;
    let mut simulator = Simulator::new(&scenario).expect("valid");
    let inspection = run_until(&mut simulator, 10_000);
    assert!(!inspection.rabbit_queues.is_empty(), "seed {seed}");
    assert!(
        inspection
            .rabbit_queues
            .iter()
            .any(|queue| queue.dead_letter_queue),
        "seed {seed}: a DLQ is marked: {:?}",
        inspection.rabbit_queues
    );
    for broker in inspection
        .rabbit_queues
        .iter()
        .map(|queue| queue.broker.clone())
        .collect::<BTreeSet<_>>()
    {
        let node = simulator.node_id(&broker).expect("broker node");
        let summary = simulator.node_summary(node);
        let ready: u64 = inspection
            .rabbit_queues
            .iter()
            .filter(|queue| queue.broker == broker && !queue.quorum)
            .map(|queue| queue.ready)
            .sum();
        let reported = summary
            .iter()
            .find(|(name, _)| *name == "ready_messages")
            .map(|(_, value)| *value as u64);
        assert_eq!(Some(ready), reported, "seed {seed}: {broker}");
    }
}

/// Scenarios without brokers, Raft or transactions inspect to empty lists.
#[test]
fn plain_queueing_scenario_inspects_to_nothing() {
    let scenario = example("mm1-queue");
    let mut simulator = Simulator::new(&scenario).expect("valid");
    let inspection = run_until(&mut simulator, 1_000);
    assert!(inspection.kafka_partitions.is_empty());
    assert!(inspection.raft_members.is_empty());
    assert!(inspection.transactions.is_empty());
    assert!(inspection.rabbit_queues.is_empty());
}
