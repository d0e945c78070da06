//! Inspection data for the live view's panels (broker, replication, transactions): typed, bounded, serde.
//!
//! Two layers:
//! - `NodeInspection` is what one component says about itself
//!   (`Component::inspect`), in `NodeId`s, with nothing aggregated.
//! - `Inspection` is what `Simulator::inspect` builds from every node's
//!   answer: node names, one row per Kafka partition (leader, replicas, ISR,
//!   LEO, HW) with the leader's view, consumer-group lag computed against
//!   that partition's high watermark, one row per Raft member, one row per
//!   saga/2PC/3PC/TCC instance (from `transactions::TransactionTimelines`).
//!
//! The app draws these rows and computes nothing from them (ARCHITECTURE:
//! "the app holds no domain logic").
//!
//! Cost. Building an `Inspection` walks every node and copies a few numbers
//! per partition, queue or Raft member; every list is capped below, so the
//! value stays a few tens of kilobytes even with 200 nodes. The host builds
//! it only while an inspection panel is open and at most every
//! `INSPECTION_MIN_INTERVAL_MS` of wall time (see `app/src/engine_host.rs`),
//! never per event.

pub mod transactions;

use crate::message::NodeId;
use serde::{Deserialize, Serialize};

pub use transactions::{
    TransactionOutcome, TransactionRow, TransactionStepRow, TransactionStepStatus,
    TransactionTimelines,
};

/// Raft log entries shown per member (the log's tail). Eight shows a leader's
/// uncommitted suffix and a diverging follower's conflicting entries without
/// copying logs of thousands of entries.
pub const INSPECTION_RAFT_LOG_TAIL_ENTRIES: usize = 8;
/// Characters of a Raft command's description shown per log entry.
pub const INSPECTION_RAFT_COMMAND_TEXT_CHARS: usize = 48;
/// Kafka partitions listed (a table longer than this is unreadable anyway;
/// the inspection says it was cut).
pub const MAX_INSPECTED_KAFKA_PARTITIONS: usize = 256;
/// Consumer-group partition rows listed in all.
pub const MAX_INSPECTED_KAFKA_GROUP_OFFSETS: usize = 256;
/// Queue rows listed (all brokers together).
pub const MAX_INSPECTED_QUEUES: usize = 256;
/// Raft members listed (200 nodes is the live view's design point).
pub const MAX_INSPECTED_RAFT_MEMBERS: usize = 200;
/// Leader/follower database replicas listed.
pub const MAX_INSPECTED_DATABASE_REPLICAS: usize = 200;
/// Wall time between two inspections a host sends while a run plays. Four a
/// second reads as live and costs a few percent of a frame budget.
pub const INSPECTION_MIN_INTERVAL_MS: f64 = 250.0;

// ---- what one component reports ---------------------------------------------

/// A component's own inspection data (see `Component::inspect`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum NodeInspection {
    KafkaBroker(KafkaBrokerInspection),
    /// The controller's metadata: what clients are told leads each partition.
    KafkaController(KafkaControllerInspection),
    RabbitBroker(RabbitBrokerInspection),
    /// One member of a Raft group (`raft_node`, `coord_server`, `kv_database` in raft mode).
    RaftMember(RaftMemberInspection),
    /// One replica of a leader/follower database.
    LeaderFollowerReplica(DatabaseReplicaInspection),
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KafkaBrokerInspection {
    /// This broker's replicas (at most `MAX_INSPECTED_KAFKA_PARTITIONS`).
    pub replicas: Vec<KafkaReplicaInspection>,
    /// Consumer groups whose offsets this broker holds.
    pub groups: Vec<KafkaGroupInspection>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KafkaControllerInspection {
    /// At most `MAX_INSPECTED_KAFKA_PARTITIONS`.
    pub partitions: Vec<crate::message::KafkaPartitionState>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaReplicaRole {
    Leader,
    Follower,
    /// Not told its role yet, or the partition is offline.
    Idle,
}

impl KafkaReplicaRole {
    pub fn as_str(self) -> &'static str {
        match self {
            KafkaReplicaRole::Leader => "leader",
            KafkaReplicaRole::Follower => "follower",
            KafkaReplicaRole::Idle => "idle",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KafkaReplicaInspection {
    pub topic: String,
    pub partition: u32,
    pub role: KafkaReplicaRole,
    pub log_start_offset: u64,
    pub log_end_offset: u64,
    pub high_watermark: u64,
    /// The partition state this broker was last told (volatile: none after a crash).
    pub leader: Option<NodeId>,
    pub leader_epoch: u32,
    pub replicas: Vec<NodeId>,
    pub isr: Vec<NodeId>,
    pub min_insync_replicas: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KafkaGroupInspection {
    pub group: String,
    pub topic: String,
    /// This broker runs the group now (others only hold copies of its offsets).
    pub coordinating: bool,
    /// Kafka's group state (`stable`, `preparing_rebalance`…), or `copy`.
    pub state: String,
    pub generation: u32,
    pub members: u32,
    /// Committed offset per partition.
    pub offsets: Vec<(u32, u64)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RabbitBrokerInspection {
    pub queues: Vec<RabbitQueueInspection>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RabbitQueueInspection {
    pub queue: String,
    pub quorum: bool,
    pub deleted: bool,
    pub ready: u64,
    pub unacked: u64,
    pub consumers: u32,
    /// Some queue dead-letters into this one: it is a DLQ.
    pub dead_letter_queue: bool,
    pub dead_letter_exchange: Option<String>,
    /// Quorum queues: this member's Raft role, term and known leader.
    pub quorum_role: Option<crate::raft::RaftRole>,
    pub quorum_term: Option<u64>,
    pub quorum_leader: Option<NodeId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RaftMemberInspection {
    pub role: crate::raft::RaftRole,
    pub term: u64,
    pub voted_for: Option<NodeId>,
    pub leader: Option<NodeId>,
    pub commit_index: u64,
    pub last_applied: u64,
    pub last_log_index: u64,
    pub snapshot_index: u64,
    pub members: Vec<NodeId>,
    /// The last `INSPECTION_RAFT_LOG_TAIL_ENTRIES` entries, oldest first.
    pub log_tail: Vec<RaftLogEntryInspection>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftLogEntryInspection {
    pub index: u64,
    pub term: u64,
    /// `noop`, `membership […]` or the command, cut to `INSPECTION_RAFT_COMMAND_TEXT_CHARS`.
    pub text: String,
}

impl RaftMemberInspection {
    /// Reads a core's state through its public accessors; `describe` turns
    /// one of the embedder's commands into a short text.
    pub fn from_core<C: crate::raft::RaftData, S: crate::raft::RaftData>(
        core: &crate::raft::RaftCore<C, S>,
        describe: impl Fn(&C) -> String,
    ) -> RaftMemberInspection {
        let last = core.last_log_index();
        let first_shown = last
            .saturating_sub(INSPECTION_RAFT_LOG_TAIL_ENTRIES as u64 - 1)
            .max(core.snapshot_index() + 1);
        let log_tail = (first_shown..=last)
            .filter_map(|index| core.entry(index))
            .map(|entry| RaftLogEntryInspection {
                index: entry.index,
                term: entry.term,
                text: match &entry.payload {
                    crate::raft::EntryPayload::Noop => "noop".to_string(),
                    crate::raft::EntryPayload::Command(command) => {
                        cut_text(describe(command), INSPECTION_RAFT_COMMAND_TEXT_CHARS)
                    }
                    crate::raft::EntryPayload::Membership(members) => cut_text(
                        format!(
                            "membership [{}]",
                            members
                                .iter()
                                .map(|member| format!("n{}", member.0))
                                .collect::<Vec<_>>()
                                .join(",")
                        ),
                        INSPECTION_RAFT_COMMAND_TEXT_CHARS,
                    ),
                },
            })
            .collect();
        RaftMemberInspection {
            role: core.role(),
            term: core.term(),
            voted_for: core.voted_for(),
            leader: core.leader_hint(),
            commit_index: core.commit_index(),
            last_applied: core.last_applied(),
            last_log_index: last,
            snapshot_index: core.snapshot_index(),
            members: core.members().to_vec(),
            log_tail,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseReplicaInspection {
    pub database: String,
    /// `primary` or `replica`.
    pub role: String,
    /// The primary a replica follows, if it knows one.
    pub following: Option<NodeId>,
    pub epoch: u64,
    /// The replication stream offset this replica has applied.
    pub replication_offset: u64,
}

/// Cuts `text` to at most `max_chars` characters, marking the cut with `…`.
pub fn cut_text(mut text: String, max_chars: usize) -> String {
    if let Some((byte, _)) = text.char_indices().nth(max_chars) {
        text.truncate(byte);
        text.push('…');
    }
    text
}

// ---- what the panels draw ----------------------------------------------------

/// Everything the inspection panels draw, by node name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    pub now_us: u64,
    pub kafka_partitions: Vec<KafkaPartitionRow>,
    pub kafka_groups: Vec<KafkaGroupRow>,
    pub rabbit_queues: Vec<RabbitQueueRow>,
    pub raft_members: Vec<RaftMemberRow>,
    pub database_replicas: Vec<DatabaseReplicaRow>,
    /// Most recently started last.
    pub transactions: Vec<TransactionRow>,
    /// Instances seen but no longer kept (the oldest go first).
    pub transactions_forgotten: u64,
    /// Some list hit its cap and was cut.
    pub truncated: bool,
}

/// One Kafka partition, as its leader sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KafkaPartitionRow {
    pub topic: String,
    pub partition: u32,
    /// The leader clients are told (the controller's metadata); None: offline.
    pub leader: Option<String>,
    /// The named leader is running (false until the controller notices a
    /// crash, after its broker session timeout).
    pub leader_up: bool,
    pub leader_epoch: u32,
    pub isr: Vec<String>,
    pub min_insync_replicas: u32,
    /// The serving leader's high watermark (what consumers may read).
    pub high_watermark: Option<u64>,
    /// ISR smaller than the replica set.
    pub under_replicated: bool,
    /// Fewer in-sync replicas than `min.insync.replicas`: acks=all refused.
    pub below_min_isr: bool,
    /// Every assigned replica, in assignment order.
    pub replicas: Vec<KafkaReplicaRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KafkaReplicaRow {
    pub broker: String,
    pub up: bool,
    pub role: KafkaReplicaRole,
    pub in_isr: bool,
    pub log_start_offset: u64,
    pub log_end_offset: u64,
    pub high_watermark: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KafkaGroupRow {
    pub group: String,
    pub topic: String,
    /// The broker whose copy is shown (the coordinating one when there is one).
    pub coordinator: String,
    pub coordinating: bool,
    pub state: String,
    pub generation: u32,
    pub members: u32,
    pub partitions: Vec<KafkaGroupPartitionRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KafkaGroupPartitionRow {
    pub partition: u32,
    pub committed_offset: Option<u64>,
    pub high_watermark: Option<u64>,
    /// High watermark minus committed offset (from the log start when
    /// nothing is committed); None when the partition has no leader.
    pub lag: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RabbitQueueRow {
    pub broker: String,
    pub broker_up: bool,
    pub queue: String,
    pub quorum: bool,
    pub deleted: bool,
    pub ready: u64,
    pub unacked: u64,
    pub consumers: u32,
    pub dead_letter_queue: bool,
    pub dead_letter_exchange: Option<String>,
    /// Quorum queues: this member's role, term and the leader it knows.
    pub quorum_role: Option<String>,
    pub quorum_term: Option<u64>,
    pub quorum_leader: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RaftMemberRow {
    pub node: String,
    pub node_kind: String,
    pub up: bool,
    pub role: String,
    pub term: u64,
    pub voted_for: Option<String>,
    pub leader: Option<String>,
    pub commit_index: u64,
    pub last_applied: u64,
    pub last_log_index: u64,
    pub snapshot_index: u64,
    pub members: Vec<String>,
    pub log_tail: Vec<RaftLogEntryRow>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftLogEntryRow {
    pub index: u64,
    pub term: u64,
    pub committed: bool,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseReplicaRow {
    pub node: String,
    pub up: bool,
    pub database: String,
    pub role: String,
    pub following: Option<String>,
    pub epoch: u64,
    pub replication_offset: u64,
    /// The primary's offset minus this replica's (primaries: 0); None when
    /// no live primary of the database is known.
    pub behind_primary: Option<u64>,
}

/// One node as `Simulator::inspect` passes it to `build_inspection`.
pub struct InspectedNode<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub up: bool,
    pub inspection: Option<NodeInspection>,
}

/// Aggregates the nodes' own reports into the panels' rows.
pub fn build_inspection(
    now_us: u64,
    nodes: &[InspectedNode<'_>],
    transactions: &TransactionTimelines,
    node_names: &[String],
) -> Inspection {
    let name = |node: NodeId| {
        node_names
            .get(node.index())
            .cloned()
            .unwrap_or_else(|| format!("n{}", node.0))
    };
    let is_up = |node: NodeId| {
        nodes
            .get(node.index())
            .is_some_and(|inspected| inspected.up)
    };
    let mut inspection = Inspection {
        now_us,
        ..Inspection::default()
    };
    build_kafka_rows(&mut inspection, nodes, &name, &is_up);
    for inspected in nodes {
        match &inspected.inspection {
            Some(NodeInspection::RabbitBroker(broker)) => {
                for queue in &broker.queues {
                    if inspection.rabbit_queues.len() >= MAX_INSPECTED_QUEUES {
                        inspection.truncated = true;
                        break;
                    }
                    inspection.rabbit_queues.push(RabbitQueueRow {
                        broker: inspected.name.to_string(),
                        broker_up: inspected.up,
                        queue: queue.queue.clone(),
                        quorum: queue.quorum,
                        deleted: queue.deleted,
                        ready: queue.ready,
                        unacked: queue.unacked,
                        consumers: queue.consumers,
                        dead_letter_queue: queue.dead_letter_queue,
                        dead_letter_exchange: queue.dead_letter_exchange.clone(),
                        quorum_role: queue
                            .quorum_role
                            .map(|role| role.as_str().to_string())
                            .filter(|_| inspected.up),
                        quorum_term: queue.quorum_term,
                        quorum_leader: queue.quorum_leader.filter(|_| inspected.up).map(name),
                    });
                }
            }
            Some(NodeInspection::RaftMember(member)) => {
                if inspection.raft_members.len() >= MAX_INSPECTED_RAFT_MEMBERS {
                    inspection.truncated = true;
                    continue;
                }
                inspection.raft_members.push(RaftMemberRow {
                    node: inspected.name.to_string(),
                    node_kind: inspected.kind.to_string(),
                    up: inspected.up,
                    // A crashed server has no role; its term, vote and log are
                    // what its disk holds (or nothing without durable storage).
                    role: if inspected.up {
                        member.role.as_str().to_string()
                    } else {
                        "down".to_string()
                    },
                    term: member.term,
                    voted_for: member.voted_for.map(name),
                    leader: member.leader.filter(|_| inspected.up).map(name),
                    commit_index: member.commit_index,
                    last_applied: member.last_applied,
                    last_log_index: member.last_log_index,
                    snapshot_index: member.snapshot_index,
                    members: member.members.iter().copied().map(name).collect(),
                    log_tail: member
                        .log_tail
                        .iter()
                        .map(|entry| RaftLogEntryRow {
                            index: entry.index,
                            term: entry.term,
                            committed: entry.index <= member.commit_index,
                            text: entry.text.clone(),
                        })
                        .collect(),
                });
            }
            Some(NodeInspection::LeaderFollowerReplica(replica)) => {
                if inspection.database_replicas.len() >= MAX_INSPECTED_DATABASE_REPLICAS {
                    inspection.truncated = true;
                    continue;
                }
                inspection.database_replicas.push(DatabaseReplicaRow {
                    node: inspected.name.to_string(),
                    up: inspected.up,
                    database: replica.database.clone(),
                    role: replica.role.clone(),
                    following: replica.following.map(name),
                    epoch: replica.epoch,
                    replication_offset: replica.replication_offset,
                    behind_primary: None,
                });
            }
            Some(NodeInspection::KafkaBroker(_) | NodeInspection::KafkaController(_)) | None => {}
        }
    }
    // Replication lag against the live primary of the same database with the
    // highest epoch (two primaries can coexist during a failover).
    let primaries: Vec<(String, u64, u64)> = inspection
        .database_replicas
        .iter()
        .filter(|row| row.up && row.role == "primary")
        .map(|row| (row.database.clone(), row.epoch, row.replication_offset))
        .collect();
    for row in &mut inspection.database_replicas {
        let primary = primaries
            .iter()
            .filter(|(database, _, _)| *database == row.database)
            .max_by_key(|(_, epoch, _)| *epoch);
        row.behind_primary =
            primary.map(|(_, _, offset)| offset.saturating_sub(row.replication_offset));
    }
    inspection.transactions = transactions.rows(node_names);
    inspection.transactions_forgotten = transactions.forgotten();
    inspection
}

fn build_kafka_rows(
    inspection: &mut Inspection,
    nodes: &[InspectedNode<'_>],
    name: &impl Fn(NodeId) -> String,
    is_up: &impl Fn(NodeId) -> bool,
) {
    use std::collections::BTreeMap;
    // Every replica of every partition, by (topic, partition).
    let mut replicas: BTreeMap<(&str, u32), Vec<(NodeId, &KafkaReplicaInspection)>> =
        BTreeMap::new();
    for (index, inspected) in nodes.iter().enumerate() {
        if let Some(NodeInspection::KafkaBroker(broker)) = &inspected.inspection {
            for replica in &broker.replicas {
                replicas
                    .entry((replica.topic.as_str(), replica.partition))
                    .or_default()
                    .push((NodeId(index as u32), replica));
            }
        }
    }
    // The controller's metadata, when a live controller reports it: the
    // leader and ISR clients are told (as `kafka-topics --describe` shows).
    let mut metadata: BTreeMap<(&str, u32), &crate::message::KafkaPartitionState> = BTreeMap::new();
    for inspected in nodes.iter().filter(|inspected| inspected.up) {
        if let Some(NodeInspection::KafkaController(controller)) = &inspected.inspection {
            for state in &controller.partitions {
                metadata.insert((state.topic.as_str(), state.partition), state);
            }
        }
    }
    let mut high_watermarks: BTreeMap<(&str, u32), (u64, u64)> = BTreeMap::new();
    for ((topic, partition), held) in &replicas {
        if inspection.kafka_partitions.len() >= MAX_INSPECTED_KAFKA_PARTITIONS {
            inspection.truncated = true;
            break;
        }
        // The replica acting as leader: live, in the leader role, and (if
        // two believe they lead, as a cut-off old leader does until fenced)
        // of the newest epoch.
        let acting_leader = held
            .iter()
            .filter(|(broker, replica)| {
                is_up(*broker)
                    && replica.role == KafkaReplicaRole::Leader
                    && replica.leader == Some(*broker)
            })
            .max_by_key(|(_, replica)| replica.leader_epoch);
        let (leader, leader_epoch, isr, assigned, min_insync_replicas) =
            match metadata.get(&(*topic, *partition)) {
                Some(state) => (
                    state.leader,
                    state.leader_epoch,
                    state.isr.clone(),
                    state.replicas.clone(),
                    state.min_insync_replicas,
                ),
                // No live controller: the newest state a live replica holds.
                None => {
                    let reference = acting_leader.or_else(|| {
                        held.iter()
                            .filter(|(broker, _)| is_up(*broker))
                            .max_by_key(|(_, replica)| replica.leader_epoch)
                    });
                    match reference {
                        Some((_, replica)) => (
                            acting_leader.map(|(broker, _)| *broker),
                            replica.leader_epoch,
                            replica.isr.clone(),
                            replica.replicas.clone(),
                            replica.min_insync_replicas,
                        ),
                        None => (None, 0, Vec::new(), Vec::new(), 0),
                    }
                }
            };
        let assigned: Vec<NodeId> = if assigned.is_empty() {
            held.iter().map(|(broker, _)| *broker).collect()
        } else {
            assigned
        };
        let rows = assigned
            .iter()
            .filter_map(|broker| {
                let (_, replica) = held.iter().find(|(holder, _)| holder == broker)?;
                Some(KafkaReplicaRow {
                    broker: name(*broker),
                    up: is_up(*broker),
                    role: if is_up(*broker) {
                        replica.role
                    } else {
                        KafkaReplicaRole::Idle
                    },
                    in_isr: isr.contains(broker),
                    log_start_offset: replica.log_start_offset,
                    log_end_offset: replica.log_end_offset,
                    high_watermark: replica.high_watermark,
                })
            })
            .collect();
        // The high watermark consumers read is the serving leader's.
        let serving =
            acting_leader.filter(|(broker, _)| leader.is_none_or(|named| named == *broker));
        if let Some((_, replica)) = serving {
            high_watermarks.insert(
                (topic, *partition),
                (replica.high_watermark, replica.log_start_offset),
            );
        }
        inspection.kafka_partitions.push(KafkaPartitionRow {
            topic: topic.to_string(),
            partition: *partition,
            leader: leader.map(name),
            leader_up: leader.is_some_and(is_up),
            leader_epoch,
            under_replicated: isr.len() < assigned.len(),
            below_min_isr: (isr.len() as u32) < min_insync_replicas,
            isr: isr.iter().copied().map(name).collect(),
            min_insync_replicas,
            high_watermark: serving.map(|(_, replica)| replica.high_watermark),
            replicas: rows,
        });
    }
    // One row per group: the copy of the broker coordinating it (the newest
    // generation if two do, as on both sides of a partition), else the
    // newest copy held by a live broker.
    let mut groups: BTreeMap<&str, (NodeId, &KafkaGroupInspection)> = BTreeMap::new();
    for (index, inspected) in nodes.iter().enumerate() {
        if !inspected.up {
            continue;
        }
        if let Some(NodeInspection::KafkaBroker(broker)) = &inspected.inspection {
            for group in &broker.groups {
                let candidate = (NodeId(index as u32), group);
                groups
                    .entry(group.group.as_str())
                    .and_modify(|best| {
                        if (group.coordinating, group.generation)
                            > (best.1.coordinating, best.1.generation)
                        {
                            *best = candidate;
                        }
                    })
                    .or_insert(candidate);
            }
        }
    }
    let mut offset_rows = 0;
    for (broker, group) in groups.values() {
        let partitions: Vec<u32> = inspection
            .kafka_partitions
            .iter()
            .filter(|row| row.topic == group.topic)
            .map(|row| row.partition)
            .collect();
        let mut rows = Vec::new();
        for partition in partitions {
            if offset_rows >= MAX_INSPECTED_KAFKA_GROUP_OFFSETS {
                inspection.truncated = true;
                break;
            }
            offset_rows += 1;
            let committed_offset = group
                .offsets
                .iter()
                .find(|(committed_partition, _)| *committed_partition == partition)
                .map(|(_, offset)| *offset);
            let high = high_watermarks.get(&(group.topic.as_str(), partition));
            rows.push(KafkaGroupPartitionRow {
                partition,
                committed_offset,
                high_watermark: high.map(|(high_watermark, _)| *high_watermark),
                lag: high.map(|(high_watermark, log_start)| {
                    high_watermark.saturating_sub(committed_offset.unwrap_or(*log_start))
                }),
            });
        }
        inspection.kafka_groups.push(KafkaGroupRow {
            group: group.group.clone(),
            topic: group.topic.clone(),
            coordinator: name(*broker),
            coordinating: group.coordinating,
            state: group.state.clone(),
            generation: group.generation,
            members: group.members,
            partitions: rows,
        });
    }
}

// ---- event log filter -----------------------------------------------------

/// The event kinds of a trace line (its word after `#seq`), for the event
/// log's kind filter; in the order `TraceEvent::line` writes them.
pub const TRACE_LINE_KINDS: [&str; 13] = [
    "start",
    "send",
    "deliver",
    "drop",
    "duplicate",
    "hold",
    "timer",
    "state",
    "op",
    "fact",
    "fault",
    "violation",
    "end",
];

/// A filter over trace lines in the engine's one-line format
/// (`<time> #<seq> <kind> …`). Empty fields match everything. Lives beside
/// the format's owner so the app does not parse trace lines itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceLineFilter {
    /// Case-insensitive substring of the whole line.
    pub text: String,
    /// A node the line is about: a subject (`state n1`), an end of a message
    /// (`n1->n2`), or a word of a fault or violation.
    pub node: String,
    /// One of `TRACE_LINE_KINDS`.
    pub kind: String,
}

impl TraceLineFilter {
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.node.is_empty() && self.kind.is_empty()
    }

    pub fn matches(&self, line: &str) -> bool {
        let mut words = line.split_whitespace();
        let _time = words.next();
        let _seq = words.next();
        let kind = words.next().unwrap_or("");
        if !self.kind.is_empty() && kind != self.kind {
            return false;
        }
        if !self.node.is_empty() {
            let rest: Vec<&str> = words.collect();
            let involved = match kind {
                // `send m12 a->b payload`: the third word is the pair.
                "send" | "deliver" | "drop" | "duplicate" | "hold" => rest
                    .get(1)
                    .is_some_and(|pair| pair.split("->").any(|end| end == self.node)),
                "start" | "timer" | "state" | "op" | "fact" => {
                    rest.first() == Some(&self.node.as_str())
                }
                // Faults and violations name their nodes among their words.
                _ => rest.iter().any(|word| {
                    word.trim_matches(|c: char| !c.is_alphanumeric() && c != '-' && c != '_')
                        == self.node
                }),
            };
            if !involved {
                return false;
            }
        }
        self.text.is_empty() || line.to_lowercase().contains(&self.text.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_line_filter_reads_the_engines_own_lines() {
        use crate::message::{MessageClass, MessageId, Payload};
        use crate::time::SimTime;
        use crate::trace::{TraceEvent, TraceKind};
        let names = vec!["client".to_string(), "server-1".to_string()];
        let line = |kind: TraceKind| {
            TraceEvent {
                seq: 7,
                time: SimTime::from_millis(1_250),
                kind,
            }
            .line(&names)
        };
        let send = line(TraceKind::Send {
            message: MessageId(3),
            from: NodeId(0),
            to: NodeId(1),
            class: MessageClass::Request,
            payload: Payload::Request {
                operation: 1,
                stream: 0,
            },
        });
        let state = line(TraceKind::State {
            node: NodeId(1),
            text: "leader of client group".to_string(),
        });
        let filter = |text: &str, node: &str, kind: &str| TraceLineFilter {
            text: text.to_string(),
            node: node.to_string(),
            kind: kind.to_string(),
        };
        assert!(filter("", "", "").matches(&send));
        assert!(filter("", "client", "send").matches(&send), "{send}");
        assert!(filter("", "server-1", "").matches(&send), "{send}");
        assert!(!filter("", "server-1", "state").matches(&send));
        assert!(filter("", "server-1", "state").matches(&state), "{state}");
        // The state's subject is server-1; "client" in its text is not a subject.
        assert!(!filter("", "client", "").matches(&state), "{state}");
        assert!(filter("LEADER", "", "").matches(&state));
        assert!(!filter("follower", "", "").matches(&state));
    }

    #[test]
    fn cut_text_keeps_short_text_and_marks_a_cut() {
        assert_eq!(cut_text("put k=1".to_string(), 48), "put k=1");
        assert_eq!(cut_text("abcdef".to_string(), 3), "abc…");
        // Cuts at a character boundary, not a byte.
        assert_eq!(cut_text("ééé".to_string(), 2), "éé…");
    }
}
