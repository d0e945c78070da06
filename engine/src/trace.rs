//! The structured trace: every send, delivery, drop, duplicate, timer, state change, fault and check.
//!
//! Each event has one stable text line (`TraceEvent::line`), shared by the CLI,
//! the tests and the UI's event log. The run's digest is XXH3-128 over a
//! compact binary encoding of every event (`TraceEvent::encode`, postcard),
//! which holds the same information as the line: equal digests mean
//! identical traces.
//! Text is only formatted when someone reads it — formatting every event cost
//! more than the rest of the kernel together (see the kernel_throughput bench).
//! Memory is bounded: only the last `TRACE_RING_CAPACITY` events are kept
//! (plus an opt-in full record of lines for `faultline run --trace`).

use crate::components::coord_protocol::CoordFact;
use crate::components::rabbit_protocol::{RabbitDisposal, RabbitMessageKey};
use crate::message::{KafkaRecord, MessageClass, MessageId, NodeId, Payload};
use crate::raft::RaftRole;
use crate::scenario::limits::TRACE_RING_CAPACITY;
use crate::time::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt::Write as _;
use xxhash_rust::xxh3::Xxh3;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// Position in the trace, from 0; with `time` it orders the history.
    pub seq: u64,
    pub time: SimTime,
    pub kind: TraceKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The link's loss probability struck.
    Loss,
    /// A partition separated sender and receiver (at send or at delivery).
    Partition,
    /// The receiver was crashed when the message arrived.
    NodeDown,
    /// The global in-flight bound was reached (see limits).
    InFlightLimit,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::NodeDown => "node_down",
            DropReason::InFlightLimit => "in_flight_limit",
        }
    }
}

/// Jepsen-style operation phases: `invoke`, then exactly one of `ok`, `fail`
/// (definitely did not happen) or `info` (outcome unknown, e.g. a timeout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationPhase {
    Invoke,
    Ok,
    Fail,
    Info,
}

impl OperationPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationPhase::Invoke => "invoke",
            OperationPhase::Ok => "ok",
            OperationPhase::Fail => "fail",
            OperationPhase::Info => "info",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultOrigin {
    /// From the scenario's timeline.
    Scripted,
    /// Drawn by the nemesis from the seed.
    Nemesis,
    /// Injected live through the API (the UI); recorded into the plan.
    Live,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceKind {
    NodeStart {
        node: NodeId,
    },
    Send {
        message: MessageId,
        from: NodeId,
        to: NodeId,
        class: MessageClass,
        payload: Payload,
    },
    Deliver {
        message: MessageId,
        from: NodeId,
        to: NodeId,
        class: MessageClass,
        payload: Payload,
        duplicate: bool,
    },
    Drop {
        message: MessageId,
        from: NodeId,
        to: NodeId,
        reason: DropReason,
    },
    Duplicate {
        message: MessageId,
        from: NodeId,
        to: NodeId,
    },
    Hold {
        message: MessageId,
        from: NodeId,
        to: NodeId,
    },
    Timer {
        node: NodeId,
        timer: u64,
    },
    State {
        node: NodeId,
        text: String,
    },
    Operation {
        node: NodeId,
        operation: u64,
        phase: OperationPhase,
        detail: String,
    },
    Fault {
        origin: FaultOrigin,
        text: String,
        nodes: Vec<NodeId>,
    },
    CheckViolation {
        check: String,
        text: String,
    },
    RunEnd {
        reason: String,
    },
    /// A structured fact a component states for checkers (log appends,
    /// truncations, elections): parsing state text would be fragile.
    Fact {
        node: NodeId,
        fact: Fact,
    },
}

/// Why a Kafka replica cut the end off its log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruncateReason {
    /// KIP-101: entries past the leader's end offset for their epoch.
    DivergentEpoch,
    /// Power loss: records not yet written back from the page cache.
    PowerLoss,
}

impl TruncateReason {
    pub fn as_str(self) -> &'static str {
        match self {
            TruncateReason::DivergentEpoch => "divergent_epoch",
            TruncateReason::PowerLoss => "power_loss",
        }
    }
}

/// Facts about replicated logs, stated by the components that change them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    /// A replica appended `record` to its log of `topic`-`partition`.
    KafkaAppend {
        topic: String,
        partition: u32,
        record: KafkaRecord,
    },
    /// A replica removed every entry from `to_offset` on (`removed` of them).
    KafkaTruncate {
        topic: String,
        partition: u32,
        to_offset: u64,
        removed: u64,
        reason: TruncateReason,
    },
    /// The leader's high watermark moved: entries below it are committed.
    KafkaHighWatermark {
        topic: String,
        partition: u32,
        high_watermark: u64,
    },
    /// The controller changed the partition's leader (`None`: offline).
    KafkaLeader {
        topic: String,
        partition: u32,
        leader: Option<NodeId>,
        leader_epoch: u32,
        isr: Vec<NodeId>,
        /// Elected from outside the ISR (`unclean.leader.election.enable`).
        unclean: bool,
    },
    /// A Raft server's role, term or known leader changed (or it started).
    RaftRole {
        group: u32,
        term: u64,
        role: RaftRole,
        leader: Option<NodeId>,
    },
    /// A Raft server appended an entry; `digest` identifies its content.
    RaftAppend {
        group: u32,
        index: u64,
        term: u64,
        digest: u64,
    },
    /// A Raft server removed every entry from `from_index` on: a conflicting
    /// suffix, or (`storage_lost`) its whole log on a crash without durable storage.
    RaftTruncate {
        group: u32,
        from_index: u64,
        removed: u64,
        storage_lost: bool,
    },
    /// A Raft server learned that entries up to `commit_index` are committed.
    RaftCommit {
        group: u32,
        commit_index: u64,
        term: u64,
    },
    /// A Raft server applied entry `index` to its state machine.
    RaftApply {
        group: u32,
        index: u64,
        term: u64,
        digest: u64,
    },
    /// A Raft server replaced its log up to `index` with the leader's snapshot,
    /// keeping `log_kept` entries after it.
    RaftSnapshotInstalled {
        group: u32,
        index: u64,
        term: u64,
        log_kept: u64,
    },
    /// A caller's circuit breaker for calls to `service` changed state
    /// (`closed`, `open`, `half_open`), and why.
    CircuitBreakerTransition {
        service: String,
        from: String,
        to: String,
        reason: String,
    },
    /// A RabbitMQ queue took a copy of `message`; `ready_messages` is the
    /// queue's ready count afterwards.
    RabbitEnqueued {
        queue: String,
        message: RabbitMessageKey,
        persistent: bool,
        durable_queue: bool,
        /// The TTL that applies (the smaller of queue and message TTL).
        ttl_ms: Option<u64>,
        ready_messages: u64,
    },
    /// A queue's copy of `message` left the queue for good.
    RabbitRemoved {
        queue: String,
        message: RabbitMessageKey,
        disposal: RabbitDisposal,
        ready_messages: u64,
    },
    /// A queue was deleted (`x-expires`, or its exclusive owner left);
    /// `discarded` messages went with it, not dead-lettered.
    RabbitQueueDeleted {
        queue: String,
        reason: String,
        discarded: u64,
    },
    /// A durable queue came back after a restart holding `messages` (from disk).
    RabbitRecovered {
        queue: String,
        messages: Vec<RabbitMessageKey>,
    },
    /// The publisher got a confirm (`basic.ack`) for `message`.
    RabbitConfirmed {
        message: RabbitMessageKey,
        persistent: bool,
    },
    /// A consumer's handler ran for `message` (or, when idempotent and it had
    /// seen the id before, skipped it: `suppressed_duplicate`).
    RabbitHandled {
        queue: String,
        message: RabbitMessageKey,
        redelivered: bool,
        suppressed_duplicate: bool,
    },
    /// A consumer's application finished processing `record` (delivery to
    /// the application: what at-least-once and at-most-once are about).
    KafkaConsumed {
        group: String,
        topic: String,
        partition: u32,
        record: KafkaRecord,
    },
    /// A consumer started owning `partitions` of `topic` in `generation`.
    KafkaPartitionsAssigned {
        group: String,
        topic: String,
        generation: u32,
        partitions: Vec<u32>,
    },
    /// A consumer stopped owning `partitions` (revoked by a rebalance, lost
    /// because its membership ended, or gone with a crash).
    KafkaPartitionsRevoked {
        group: String,
        topic: String,
        partitions: Vec<u32>,
        reason: String,
    },
    /// The coordinator stored a committed offset (the next offset to read).
    KafkaOffsetCommitted {
        group: String,
        topic: String,
        partition: u32,
        offset: u64,
        member_id: u64,
    },
    /// Retention deleted whole segments from the front of a replica's log:
    /// offsets below `log_start_offset` are gone (not lost: deleted by policy).
    KafkaLogStart {
        topic: String,
        partition: u32,
        log_start_offset: u64,
    },
    /// The log cleaner compacted a replica's log (cleanup_policy compact):
    /// every record in `removed` (half-open offset ranges) is gone by policy,
    /// superseded by a later record of its key or an expired tombstone; the
    /// offsets stay unused (gaps). Everything below `cleaned_up_to` is clean.
    KafkaCleaned {
        topic: String,
        partition: u32,
        cleaned_up_to: u64,
        removed: Vec<(u64, u64)>,
        superseded: u64,
        expired_tombstones: u64,
    },
    /// The coordination slice's facts (sessions, leaders, fencing, ids, cache loads).
    Coord(CoordFact),
    /// Distributed transactions and sagas (see `txn_protocol::TxnFact`).
    Txn(crate::components::txn_protocol::TxnFact),
    /// A fact of the replicated key-value database (`kv_database`).
    Db(crate::components::db_protocol::DbFact),
}

impl TraceEvent {
    /// The stable one-line form, e.g.
    /// `0.001250s #17 deliver m4 client->server request op=3 stream=0`.
    pub fn line(&self, node_names: &[String]) -> String {
        let name = |node: &NodeId| {
            node_names
                .get(node.index())
                .map(String::as_str)
                .unwrap_or("?")
        };
        let mut line = format!("{} #{} ", self.time, self.seq);
        let _ = match &self.kind {
            TraceKind::NodeStart { node } => write!(line, "start {}", name(node)),
            TraceKind::Send {
                message,
                from,
                to,
                payload,
                ..
            } => {
                write!(
                    line,
                    "send {message} {}->{} {payload}",
                    name(from),
                    name(to)
                )
            }
            TraceKind::Deliver {
                message,
                from,
                to,
                payload,
                duplicate,
                ..
            } => write!(
                line,
                "deliver {message} {}->{} {payload}{}",
                name(from),
                name(to),
                if *duplicate { " (duplicate)" } else { "" }
            ),
            TraceKind::Drop {
                message,
                from,
                to,
                reason,
            } => {
                write!(
                    line,
                    "drop {message} {}->{} reason={}",
                    name(from),
                    name(to),
                    reason.as_str()
                )
            }
            TraceKind::Duplicate { message, from, to } => {
                write!(line, "duplicate {message} {}->{}", name(from), name(to))
            }
            TraceKind::Hold { message, from, to } => {
                write!(line, "hold {message} {}->{}", name(from), name(to))
            }
            TraceKind::Timer { node, timer } => write!(line, "timer {} t{timer}", name(node)),
            TraceKind::State { node, text } => write!(line, "state {} {text}", name(node)),
            TraceKind::Operation {
                node,
                operation,
                phase,
                detail,
            } => {
                let separator = if detail.is_empty() { "" } else { " " };
                write!(
                    line,
                    "op {} {operation} {}{separator}{detail}",
                    name(node),
                    phase.as_str()
                )
            }
            // The origin (scripted, nemesis, live) is left out of the line on
            // purpose: replaying a recorded live fault must give the same digest.
            TraceKind::Fault { text, .. } => write!(line, "fault {text}"),
            TraceKind::CheckViolation { check, text } => write!(line, "violation {check} {text}"),
            TraceKind::RunEnd { reason } => write!(line, "end {reason}"),
            TraceKind::Fact { node, fact } => {
                let _ = write!(line, "fact {} ", name(node));
                match fact {
                    Fact::KafkaAppend {
                        topic,
                        partition,
                        record,
                    } => write!(
                        line,
                        "append {topic}-{partition} offset={} epoch={} pid={} seq={} key={} value={}{}",
                        record.offset,
                        record.leader_epoch,
                        record.producer_id,
                        record.sequence,
                        record.key,
                        record.value,
                        if record.tombstone { " tombstone" } else { "" }
                    ),
                    Fact::KafkaTruncate {
                        topic,
                        partition,
                        to_offset,
                        removed,
                        reason,
                    } => write!(
                        line,
                        "truncate {topic}-{partition} to={to_offset} removed={removed} reason={}",
                        reason.as_str()
                    ),
                    Fact::KafkaHighWatermark {
                        topic,
                        partition,
                        high_watermark,
                    } => write!(
                        line,
                        "high_watermark {topic}-{partition} hw={high_watermark}"
                    ),
                    Fact::KafkaLogStart {
                        topic,
                        partition,
                        log_start_offset,
                    } => write!(
                        line,
                        "log_start {topic}-{partition} log_start_offset={log_start_offset} (older segments deleted by retention)"
                    ),
                    Fact::KafkaLeader {
                        topic,
                        partition,
                        leader,
                        leader_epoch,
                        isr,
                        unclean,
                    } => {
                        let isr_names: Vec<&str> = isr.iter().map(name).collect();
                        write!(
                            line,
                            "leader {topic}-{partition} leader={} epoch={leader_epoch} isr=[{}]{}",
                            leader.as_ref().map_or("none", name),
                            isr_names.join(","),
                            if *unclean { " unclean" } else { "" }
                        )
                    }
                    Fact::RaftRole {
                        group,
                        term,
                        role,
                        leader,
                    } => write!(
                        line,
                        "raft_role g{group} term={term} {} leader={}",
                        role.as_str(),
                        leader.as_ref().map_or("none", name)
                    ),
                    Fact::RaftAppend {
                        group,
                        index,
                        term,
                        digest,
                    } => write!(
                        line,
                        "raft_append g{group} index={index} term={term} digest={digest:016x}"
                    ),
                    Fact::RaftTruncate {
                        group,
                        from_index,
                        removed,
                        storage_lost,
                    } => write!(
                        line,
                        "raft_truncate g{group} from={from_index} removed={removed}{}",
                        if *storage_lost { " storage_lost" } else { "" }
                    ),
                    Fact::RaftCommit {
                        group,
                        commit_index,
                        term,
                    } => write!(
                        line,
                        "raft_commit g{group} index={commit_index} term={term}"
                    ),
                    Fact::RaftApply {
                        group,
                        index,
                        term,
                        digest,
                    } => write!(
                        line,
                        "raft_apply g{group} index={index} term={term} digest={digest:016x}"
                    ),
                    Fact::RaftSnapshotInstalled {
                        group,
                        index,
                        term,
                        log_kept,
                    } => write!(
                        line,
                        "raft_snapshot g{group} index={index} term={term} kept={log_kept}"
                    ),
                    Fact::CircuitBreakerTransition {
                        service,
                        from,
                        to,
                        reason,
                    } => write!(line, "circuit_breaker {service} {from}->{to} ({reason})"),
                    Fact::RabbitEnqueued {
                        queue,
                        message,
                        persistent,
                        durable_queue,
                        ttl_ms,
                        ready_messages,
                    } => write!(
                        line,
                        "enqueued {queue} msg={} ready={ready_messages}{}{}{}",
                        message.named(node_names),
                        if *persistent { " persistent" } else { "" },
                        if *durable_queue { " durable" } else { "" },
                        ttl_ms.map_or(String::new(), |ttl| format!(" ttl={ttl}ms"))
                    ),
                    Fact::RabbitRemoved {
                        queue,
                        message,
                        disposal,
                        ready_messages,
                    } => write!(
                        line,
                        "removed {queue} msg={} {disposal} ready={ready_messages}",
                        message.named(node_names)
                    ),
                    Fact::RabbitQueueDeleted {
                        queue,
                        reason,
                        discarded,
                    } => write!(
                        line,
                        "queue_deleted {queue} reason={reason} discarded={discarded}"
                    ),
                    Fact::RabbitRecovered { queue, messages } => {
                        write!(line, "recovered {queue} messages={}", messages.len())
                    }
                    Fact::RabbitConfirmed {
                        message,
                        persistent,
                    } => write!(
                        line,
                        "confirmed msg={}{}",
                        message.named(node_names),
                        if *persistent { " persistent" } else { "" }
                    ),
                    Fact::RabbitHandled {
                        queue,
                        message,
                        redelivered,
                        suppressed_duplicate,
                    } => write!(
                        line,
                        "handled {queue} msg={}{}{}",
                        message.named(node_names),
                        if *redelivered { " redelivered" } else { "" },
                        if *suppressed_duplicate {
                            " duplicate_skipped"
                        } else {
                            ""
                        }
                    ),
                    Fact::KafkaConsumed {
                        group,
                        topic,
                        partition,
                        record,
                    } => write!(
                        line,
                        "consumed {group} {topic}-{partition} offset={} key={} value={} pid={}{}",
                        record.offset,
                        record.key,
                        record.value,
                        record.producer_id,
                        if record.tombstone { " tombstone" } else { "" }
                    ),
                    Fact::KafkaPartitionsAssigned {
                        group,
                        topic,
                        generation,
                        partitions,
                    } => write!(
                        line,
                        "assigned {group} {topic} generation={generation} partitions={partitions:?}"
                    ),
                    Fact::KafkaPartitionsRevoked {
                        group,
                        topic,
                        partitions,
                        reason,
                    } => write!(
                        line,
                        "revoked {group} {topic} partitions={partitions:?} ({reason})"
                    ),
                    Fact::KafkaOffsetCommitted {
                        group,
                        topic,
                        partition,
                        offset,
                        member_id,
                    } => write!(
                        line,
                        "committed {group} {topic}-{partition} offset={offset} member={member_id}"
                    ),
                    Fact::KafkaCleaned {
                        topic,
                        partition,
                        cleaned_up_to,
                        removed,
                        superseded,
                        expired_tombstones,
                    } => write!(
                        line,
                        "cleaned {topic}-{partition} up to offset {cleaned_up_to}: removed {superseded} superseded record(s) and {expired_tombstones} expired tombstone(s) in {} range(s)",
                        removed.len()
                    ),
                    // Named like the kernel's facts above (their own
                    // `Display` can only say `n{index}`).
                    Fact::Coord(fact) => fact.write_named(&mut line, &name),
                    Fact::Txn(fact) => fact.write_named(&mut line, &name),
                    Fact::Db(fact) => fact.write_named(&mut line, &name),
                }
            }
        };
        line
    }

    /// Stable binary form hashed into the run digest: the event's serde
    /// encoding in postcard, a compact format whose bytes are specified and
    /// platform-independent. Deriving it from the serde types means a new
    /// field can never be left out of the digest by mistake. A fault's origin
    /// is normalised first: replaying a recorded live fault as a scripted one
    /// must give the same digest.
    pub fn encode(&self, out: Vec<u8>) -> Vec<u8> {
        let result = match &self.kind {
            TraceKind::Fault { origin, .. } if *origin != FaultOrigin::Scripted => {
                let mut normalised = self.clone();
                if let TraceKind::Fault { origin, .. } = &mut normalised.kind {
                    *origin = FaultOrigin::Scripted;
                }
                postcard::to_extend(&normalised, out)
            }
            _ => postcard::to_extend(self, out),
        };
        // Encoding plain serde data into a Vec cannot fail; if it ever did,
        // that is a bug in a type's Serialize impl, not a runtime condition.
        result.expect("trace events serialise with postcard")
    }

    /// Nodes an event concerns, for UI highlighting and filtering.
    pub fn nodes(&self) -> Vec<NodeId> {
        match &self.kind {
            TraceKind::NodeStart { node }
            | TraceKind::Timer { node, .. }
            | TraceKind::State { node, .. }
            | TraceKind::Operation { node, .. }
            | TraceKind::Fact { node, .. } => vec![*node],
            TraceKind::Send { from, to, .. }
            | TraceKind::Deliver { from, to, .. }
            | TraceKind::Drop { from, to, .. }
            | TraceKind::Duplicate { from, to, .. }
            | TraceKind::Hold { from, to, .. } => vec![*from, *to],
            TraceKind::Fault { nodes, .. } => nodes.clone(),
            TraceKind::CheckViolation { .. } | TraceKind::RunEnd { .. } => Vec::new(),
        }
    }
}

/// Digest, bounded recent history, and an optional full record.
#[derive(Clone)]
pub struct TraceLog {
    hasher: Xxh3,
    encoded: Vec<u8>,
    recent: VecDeque<TraceEvent>,
    full_record: Option<Vec<String>>,
    count: u64,
}

impl TraceLog {
    pub fn new(record_full_trace: bool) -> TraceLog {
        TraceLog {
            hasher: Xxh3::new(),
            encoded: Vec::with_capacity(128),
            recent: VecDeque::new(),
            full_record: record_full_trace.then(Vec::new),
            count: 0,
        }
    }

    pub fn append(&mut self, event: TraceEvent, node_names: &[String]) {
        let mut encoded = std::mem::take(&mut self.encoded);
        encoded.clear();
        self.encoded = event.encode(encoded);
        self.hasher.update(&self.encoded);
        self.count += 1;
        if let Some(record) = &mut self.full_record {
            record.push(event.line(node_names));
        }
        if self.recent.len() == TRACE_RING_CAPACITY {
            self.recent.pop_front();
        }
        self.recent.push_back(event);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Hex XXH3-128 of every event so far (the run's identity).
    pub fn digest_hex(&self) -> String {
        format!("{:032x}", self.hasher.digest128())
    }

    /// The most recent events, oldest first.
    pub fn recent(&self) -> impl DoubleEndedIterator<Item = &TraceEvent> + ExactSizeIterator {
        self.recent.iter()
    }

    pub fn take_full_record(&mut self) -> Option<Vec<String>> {
        self.full_record.take()
    }
}
