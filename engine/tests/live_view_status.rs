//! The live view's engine API: typed node badges filled by components (the
//! Kafka leader's crown and ISR), in-flight messages for particles (bounded),
//! timeline marks for faults and violations, "run to the next mark", and a
//! fault injected live that, recorded into the plan, replays to the same run.
//! The scenario is the K4 example (acks=1 loses acknowledged writes).

mod common;

use faultline_engine::live::{LeadershipKind, TimelineMarkKind};
use faultline_engine::scenario::{FaultAction, ScheduledFault, parse_scenario};
use faultline_engine::sim::NodeStatus;
use faultline_engine::{Scenario, SimTime, Simulator, Snapshot};

fn kafka_acks_one() -> Scenario {
    parse_scenario(include_str!(
        "../../public/scenarios/kafka-durability-acks.json"
    ))
    .expect("valid example")
}

fn node<'a>(snapshot: &'a Snapshot, id: &str) -> &'a faultline_engine::sim::NodeSnapshot {
    snapshot
        .nodes
        .iter()
        .find(|node| node.id == id)
        .unwrap_or_else(|| panic!("no node {id}"))
}

fn crowned(snapshot: &Snapshot) -> Vec<String> {
    snapshot
        .nodes
        .iter()
        .filter(|node| node.live.leadership.is_some())
        .map(|node| node.id.clone())
        .collect()
}

#[test]
fn kafka_partition_leader_wears_the_crown_with_a_full_isr_before_faults() {
    let scenario = kafka_acks_one();
    let mut simulator = Simulator::new(&scenario).expect("valid");
    simulator.run_until(SimTime::from_millis(1_500));
    let snapshot = simulator.snapshot();
    assert_eq!(
        crowned(&snapshot),
        vec!["broker-1"],
        "seed {}",
        snapshot.seed
    );
    let leader = node(&snapshot, "broker-1");
    let leadership = leader.live.leadership.expect("crown");
    assert_eq!(leadership.kind, LeadershipKind::KafkaPartition);
    assert_eq!(leadership.count, 1);
    let isr = leader.live.in_sync_replicas.expect("isr badge");
    assert_eq!(
        (isr.in_sync, isr.replicas),
        (3, 3),
        "seed {}",
        snapshot.seed
    );
    assert!(!leader.partitioned);
}

#[test]
fn crashing_the_leader_live_moves_the_crown_and_marks_fault_and_lost_write() {
    let scenario = kafka_acks_one();
    let mut simulator = Simulator::new(&scenario).expect("valid");
    simulator.run_until(SimTime::from_millis(2_200));
    assert!(
        node(&simulator.snapshot(), "broker-1").partitioned,
        "the one-way partition at 2 s cuts broker-1's replication links"
    );
    let at = simulator
        .inject(FaultAction::Crash {
            node: "broker-1".into(),
        })
        .expect("valid fault");
    assert_eq!(at, SimTime::from_millis(2_201));
    simulator.run_until(SimTime::from_millis(11_000));
    let snapshot = simulator.snapshot();
    assert_eq!(node(&snapshot, "broker-1").status, NodeStatus::Down);
    let crowned_now = crowned(&snapshot);
    assert_eq!(
        crowned_now.len(),
        1,
        "one leader after the election: {crowned_now:?}"
    );
    assert_ne!(crowned_now[0], "broker-1", "seed {}", snapshot.seed);
    simulator.run_to_end();
    let marks = simulator.timeline_marks();
    let live_crash = marks
        .iter()
        .find(|mark| mark.kind == TimelineMarkKind::Fault && mark.at_us == 2_201_000)
        .expect("the live crash is on the timeline");
    assert!(live_crash.text.contains("broker-1"), "{}", live_crash.text);
    let violation = marks
        .iter()
        .find(|mark| mark.kind == TimelineMarkKind::Violation)
        .unwrap_or_else(|| panic!("seed {}: no violation mark in {marks:?}", snapshot.seed));
    assert!(
        violation.text.starts_with("lost_acknowledged_writes"),
        "{}",
        violation.text
    );
    let check = simulator
        .check_results()
        .into_iter()
        .find(|check| check.name == "lost_acknowledged_writes")
        .expect("checker");
    assert_eq!(check.first_violation_us, Some(violation.at_us));
}

#[test]
fn live_fault_recorded_into_the_plan_replays_to_the_same_run_and_marks() {
    let scenario = kafka_acks_one();
    let mut live = Simulator::new(&scenario).expect("valid");
    live.run_until(SimTime::from_millis(2_200));
    live.inject(FaultAction::Crash {
        node: "broker-1".into(),
    })
    .expect("valid fault");
    live.run_to_end();

    // What the live view does: append the recorded fault to the plan and re-run from t = 0.
    let mut replay_scenario = scenario.clone();
    replay_scenario
        .faults
        .timeline
        .extend(live.live_faults().iter().cloned());
    assert_eq!(
        live.live_faults(),
        &[ScheduledFault {
            at_ms: 2_201,
            action: FaultAction::Crash {
                node: "broker-1".into()
            }
        }]
    );
    let mut replay = Simulator::new(&replay_scenario).expect("valid");
    replay.run_to_end();
    assert_eq!(replay.digest(), live.digest(), "seed {}", live.seed());
    assert_eq!(replay.timeline_marks(), live.timeline_marks());
}

#[test]
fn run_to_next_mark_stops_right_after_the_next_fault_then_the_next() {
    let mut simulator = Simulator::new(&kafka_acks_one()).expect("valid");
    let (events, found) = simulator.run_to_next_mark(TimelineMarkKind::Fault, 10_000_000);
    assert!(found && events > 0);
    assert_eq!(simulator.now(), SimTime::from_millis(2_000));
    assert!(
        simulator.timeline_marks()[0]
            .text
            .contains("partition_one_way"),
        "{:?}",
        simulator.timeline_marks()
    );
    let (_, found) = simulator.run_to_next_mark(TimelineMarkKind::Fault, 10_000_000);
    assert!(found);
    assert_eq!(simulator.now(), SimTime::from_millis(2_500));
    // A budget too small to reach the next one stops without finding it.
    let (events, found) = simulator.run_to_next_mark(TimelineMarkKind::Fault, 5);
    assert_eq!((events, found), (5, false));
}

#[test]
fn in_flight_messages_are_listed_oldest_first_and_the_rest_only_counted() {
    let mut simulator = Simulator::new(&kafka_acks_one()).expect("valid");
    simulator.run_until(SimTime(1_000_300));
    let everything = simulator.in_flight_messages(usize::MAX);
    let total = everything.shown.len();
    assert!(total >= 2, "a busy Kafka cluster has messages in flight");
    assert_eq!(everything.hidden, 0);
    let now = simulator.now().as_micros();
    for message in &everything.shown {
        assert!(
            message.sent_us <= now && now <= message.deliver_us,
            "{message:?}"
        );
    }
    let capped = simulator.in_flight_messages(1);
    assert_eq!(capped.shown.len(), 1);
    assert_eq!(capped.hidden as usize, total - 1);
    let oldest = everything.shown.iter().map(|message| message.id).min();
    assert_eq!(Some(capped.shown[0].id), oldest);
}

fn example(text: &str) -> Scenario {
    parse_scenario(text).expect("valid example")
}

#[test]
fn a_coordination_server_leader_wears_the_crown_with_its_term() {
    let scenario = example(include_str!(
        "../../public/scenarios/zookeeper-leader-election.json"
    ));
    let mut simulator = Simulator::new(&scenario).expect("valid");
    simulator.run_until(SimTime::from_millis(3_000));
    let snapshot = simulator.snapshot();
    let servers: Vec<String> = crowned(&snapshot)
        .into_iter()
        .filter(|id| id.starts_with('z'))
        .collect();
    assert_eq!(
        servers.len(),
        1,
        "one leader among z1..z5, seed {}",
        snapshot.seed
    );
    let leadership = node(&snapshot, &servers[0]).live.leadership.expect("crown");
    assert_eq!(leadership.kind, LeadershipKind::Raft);
    assert!(leadership.term >= 1, "seed {}", snapshot.seed);
}

#[test]
fn a_database_primary_wears_the_crown_and_every_replica_says_its_role() {
    let scenario = example(include_str!(
        "../../public/scenarios/redis-sentinel-async-failover.json"
    ));
    let mut simulator = Simulator::new(&scenario).expect("valid");
    simulator.run_until(SimTime::from_millis(1_000));
    let snapshot = simulator.snapshot();
    let roles: Vec<_> = ["n1", "n2", "n3", "n4", "n5"]
        .iter()
        .map(|id| node(&snapshot, id).live.database_role.expect("role badge"))
        .collect();
    assert_eq!(
        roles.iter().filter(|role| role.primary).count(),
        1,
        "one primary, seed {}: {roles:?}",
        snapshot.seed
    );
    let primary = crowned(&snapshot);
    assert_eq!(primary.len(), 1, "seed {}", snapshot.seed);
    assert_eq!(
        node(&snapshot, &primary[0]).live.leadership.map(|l| l.kind),
        Some(LeadershipKind::DatabasePrimary)
    );
}

#[test]
fn coordinators_and_orchestrators_count_what_is_in_flight_and_caches_their_hits() {
    for (text, id) in [
        (
            include_str!("../../public/scenarios/2pc-coordinator-crash-blocks.json"),
            "coordinator",
        ),
        (
            include_str!("../../public/scenarios/saga-orchestrated-order.json"),
            "orchestrator",
        ),
    ] {
        let scenario = example(text);
        let mut simulator = Simulator::new(&scenario).expect("valid");
        // Transactions last milliseconds: look after every event.
        let mut most_in_flight = 0;
        for _ in 0..20_000 {
            simulator.step();
            let in_flight = node(&simulator.snapshot(), id)
                .live
                .in_flight_transactions
                .expect("in-flight badge");
            most_in_flight = most_in_flight.max(in_flight);
            if most_in_flight > 0 {
                break;
            }
        }
        assert!(
            most_in_flight > 0,
            "{id}: something in flight, seed {}",
            scenario.run.seed
        );
    }
    let scenario = example(include_str!("../../public/scenarios/cache-stampede.json"));
    let mut simulator = Simulator::new(&scenario).expect("valid");
    simulator.run_until(SimTime::from_millis(5_000));
    let snapshot = simulator.snapshot();
    let percent = node(&snapshot, "plain-cache")
        .live
        .cache_hit_percent
        .expect("hit ratio badge");
    let cache = simulator.node_id("plain-cache").expect("cache");
    let hit_ratio = simulator
        .node_summary(cache)
        .into_iter()
        .find(|(name, _)| *name == "hit_ratio")
        .map(|(_, value)| value)
        .expect("hit_ratio");
    assert_eq!(percent, (hit_ratio * 100.0) as u8, "seed {}", snapshot.seed);
}

#[test]
fn end_of_run_checks_are_pending_until_the_run_ends() {
    let scenario = example(include_str!(
        "../../public/scenarios/raft-election-under-partition.json"
    ));
    let status = |simulator: &Simulator, name: &str| {
        simulator
            .check_results()
            .into_iter()
            .find(|check| check.name == name)
            .map(|check| check.status)
            .expect("check registered")
    };
    let mut simulator = Simulator::new(&scenario).expect("valid");
    simulator.run_until(SimTime::from_millis(5_000));
    use faultline_engine::checkers::CheckStatus;
    assert_eq!(
        status(&simulator, "raft_kv_linearizable"),
        CheckStatus::Pending
    );
    assert_eq!(
        status(&simulator, "raft_election_safety"),
        CheckStatus::Pass
    );
    simulator.run_to_end();
    assert_ne!(
        status(&simulator, "raft_kv_linearizable"),
        CheckStatus::Pending
    );
}
