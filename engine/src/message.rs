//! Identifiers and the messages components exchange over the simulated network.
//!
//! `Payload` is the one place where component protocols meet the kernel: a new
//! component adds variants here (and a `describe` arm) without touching the
//! simulator, the network or the trace machinery.

use crate::components::coord_protocol::CoordPayload;
use crate::components::rabbit_protocol::{RabbitMessage, RabbitSettlement};
use crate::components::rabbit_quorum::{QuorumCommand, QuorumState};
use crate::raft::RaftMessage;
use crate::raft::kv::{KvCommand, KvOperation, KvOutcome, KvSnapshot};
use crate::scenario::{KafkaAcks, KafkaAssignor};
use crate::time::SimTime;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Index of a node in the simulator's arena (its position in `topology.nodes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Unique per run, in send order. A duplicated delivery carries the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MessageId(pub u64);

impl fmt::Display for MessageId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "m{}", self.0)
    }
}

/// What a message is for; the UI colours animated particles by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageClass {
    Request,
    Response,
    Publish,
    Replication,
    Heartbeat,
    Control,
}

/// Protocol content of a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// A client request; `operation` is unique per client node.
    Request {
        operation: u64,
        stream: u32,
    },
    /// The answer to `operation`; `ok` false means the server reported an error.
    Response {
        operation: u64,
        ok: bool,
    },
    /// Kafka producer → controller: where are the leaders of `topic`?
    KafkaMetadataRequest {
        topic: String,
    },
    /// Controller → producer: every partition of the topic (leader, epoch).
    KafkaMetadataResponse {
        topic: String,
        partitions: Vec<KafkaPartitionState>,
    },
    /// Producer → partition leader: append one record (a batch of one).
    KafkaProduce {
        correlation: u64,
        topic: String,
        partition: u32,
        acks: KafkaAcks,
        /// `offset` and `leader_epoch` are assigned by the leader.
        record: KafkaRecord,
    },
    /// Leader → producer: `offset` of the record, or why it was refused.
    KafkaProduceResponse {
        correlation: u64,
        topic: String,
        partition: u32,
        offset: u64,
        error: Option<KafkaError>,
    },
    /// Follower → leader: records from `fetch_offset` on; `fetch_offset`
    /// also tells the leader how far this follower has caught up.
    KafkaFetch {
        topic: String,
        partition: u32,
        leader_epoch: u32,
        fetch_offset: u64,
    },
    KafkaFetchResponse {
        topic: String,
        partition: u32,
        leader_epoch: u32,
        fetch_offset: u64,
        high_watermark: u64,
        records: Vec<KafkaRecord>,
        error: Option<KafkaError>,
        /// The leader's log start offset (Kafka's FetchResponse carries it):
        /// a follower whose log ends below it starts its log there. Records
        /// may have gaps above it where the cleaner removed old values.
        log_start_offset: u64,
    },
    /// Follower → leader (KIP-101 OffsetsForLeaderEpoch): where does your log
    /// of `requested_epoch` end? The follower truncates to the answer.
    KafkaEpochEndOffset {
        topic: String,
        partition: u32,
        leader_epoch: u32,
        requested_epoch: u32,
    },
    /// `epoch` is the largest epoch ≤ the requested one that the leader knows
    /// (KIP-279), `end_offset` where it ends in the leader's log.
    KafkaEpochEndOffsetResponse {
        topic: String,
        partition: u32,
        leader_epoch: u32,
        requested_epoch: u32,
        epoch: u32,
        end_offset: u64,
        error: Option<KafkaError>,
    },
    /// Broker → controller, every third of the session timeout.
    KafkaBrokerHeartbeat,
    /// Controller → broker: the state of partitions it hosts (LeaderAndIsr;
    /// also the answer to each heartbeat, so a lost push is repaired).
    KafkaLeaderAndIsr {
        partitions: Vec<KafkaPartitionState>,
    },
    /// Leader → controller: change the ISR (shrink or expand). Valid only for
    /// the current leader epoch and partition epoch.
    KafkaAlterPartition {
        topic: String,
        partition: u32,
        leader_epoch: u32,
        partition_epoch: u32,
        isr: Vec<NodeId>,
    },
    /// Raft RPCs between `raft_node` servers of the key-value store.
    RaftKv(RaftMessage<KvCommand, KvSnapshot>),
    /// `raft_kv_client` → `raft_node`: run `operation` (answered once committed).
    RaftKvRequest {
        request: u64,
        operation: KvOperation,
    },
    RaftKvResponse {
        request: u64,
        outcome: KvOutcome,
    },
    /// Service → service instance: one attempt of a synchronous call. `call`
    /// names this call (unique per caller), `trace` the root request and
    /// `parent` the span that made the call, so the call tree is rebuilt from
    /// the trace alone.
    ServiceCall {
        call: u64,
        attempt: u32,
        trace: SpanRef,
        parent: SpanRef,
        endpoint: String,
        key: u64,
    },
    /// The callee's answer to one attempt.
    ServiceReply {
        call: u64,
        attempt: u32,
        status: ServiceStatus,
    },
    /// Active health check of a service instance (answered by the node itself, not its workers).
    HealthProbe {
        probe: u64,
    },
    HealthProbeReply {
        probe: u64,
    },
    /// A client request with an HTTP-style path, for an `api_gateway`
    /// (answered with `Response` like `Request`).
    HttpRequest {
        operation: u64,
        stream: u32,
        path: String,
        /// Carries an auth token (the gateway refuses requests without one).
        auth_token: bool,
    },
    /// Autoscaler → instance: how loaded are you?
    UtilisationQuery {
        probe: u64,
    },
    /// Instance → autoscaler: mean requests in service or waiting since the
    /// last query (a time average, like the CPU averages an HPA reads), and its workers.
    UtilisationReport {
        probe: u64,
        mean_in_system: f64,
        workers: u32,
    },
    /// Autoscaler → callers: the instances of `service` that serve now.
    EndpointsUpdate {
        service: String,
        serving: Vec<NodeId>,
    },
    /// AMQP `basic.publish` on the client's `connection` (a number the client
    /// bumps on every reconnect); `publish_seq` numbers confirms per connection.
    RabbitPublish {
        connection: u64,
        publish_seq: u64,
        mandatory: bool,
        confirm: bool,
        message: RabbitMessage,
    },
    /// Publisher confirm: `basic.ack` (true) or `basic.nack` of `publish_seq`.
    RabbitConfirm {
        connection: u64,
        publish_seq: u64,
        ack: bool,
    },
    /// `basic.return` of an unroutable mandatory message (`NO_ROUTE`).
    RabbitReturn {
        connection: u64,
        publish_seq: u64,
    },
    /// `basic.qos` + `basic.consume` on `queue`.
    RabbitConsume {
        connection: u64,
        queue: String,
        prefetch_count: u32,
        auto_ack: bool,
    },
    /// `basic.consume-ok`: the consumer is registered on `connection`.
    /// Clients wait for it: a consume that never arrived (the broker was down
    /// when it was sent) must not be mistaken for a subscription.
    RabbitConsumeOk {
        connection: u64,
        queue: String,
    },
    /// The broker refused a consume (`NOT_FOUND`, `RESOURCE_LOCKED`).
    RabbitConsumeRefused {
        connection: u64,
        queue: String,
        reason: String,
    },
    /// `basic.cancel`: no more deliveries; unacknowledged ones stay with the channel.
    RabbitCancel {
        connection: u64,
        queue: String,
    },
    /// `basic.deliver`.
    RabbitDeliver {
        connection: u64,
        delivery_tag: u64,
        redelivered: bool,
        queue: String,
        message: RabbitMessage,
    },
    /// `basic.ack`, `basic.nack` or `basic.reject` of `delivery_tag`.
    RabbitSettle {
        connection: u64,
        delivery_tag: u64,
        settlement: RabbitSettlement,
    },
    /// AMQP heartbeat frame, both directions.
    RabbitHeartbeat {
        connection: u64,
    },
    /// The broker does not know this connection (it restarted, or closed it
    /// after a missed heartbeat): the client must reconnect.
    RabbitConnectionClose {
        connection: u64,
    },
    /// Consumer → controller: which broker coordinates `group`?
    KafkaFindCoordinator {
        group: String,
    },
    KafkaFindCoordinatorResponse {
        group: String,
        coordinator: Option<NodeId>,
    },
    /// Consumer → coordinator: join (or rejoin) the group. `member_id` is
    /// `None` for a new member; `owned` lists the partitions it still owns
    /// (the cooperative protocol needs them; eager members send none).
    KafkaJoinGroup {
        group: String,
        member_id: Option<u64>,
        topic: String,
        assignor: KafkaAssignor,
        owned: Vec<u32>,
        session_timeout_ms: u64,
        rebalance_timeout_ms: u64,
    },
    /// Coordinator → member: the new generation. Only the leader gets `members`.
    KafkaJoinGroupResponse {
        group: String,
        generation: u32,
        member_id: u64,
        leader: u64,
        members: Vec<KafkaGroupMember>,
        error: Option<KafkaError>,
    },
    /// Member → coordinator; the leader sends every member's assignment.
    KafkaSyncGroup {
        group: String,
        generation: u32,
        member_id: u64,
        assignments: Vec<(u64, Vec<u32>)>,
    },
    KafkaSyncGroupResponse {
        group: String,
        generation: u32,
        partitions: Vec<u32>,
        error: Option<KafkaError>,
    },
    KafkaHeartbeat {
        group: String,
        generation: u32,
        member_id: u64,
    },
    KafkaHeartbeatResponse {
        group: String,
        error: Option<KafkaError>,
    },
    KafkaLeaveGroup {
        group: String,
        member_id: u64,
    },
    /// Member → coordinator: the next offset to read, per partition.
    KafkaOffsetCommit {
        group: String,
        generation: u32,
        member_id: u64,
        correlation: u64,
        topic: String,
        offsets: Vec<(u32, u64)>,
    },
    KafkaOffsetCommitResponse {
        group: String,
        correlation: u64,
        error: Option<KafkaError>,
    },
    KafkaOffsetFetch {
        group: String,
        topic: String,
        partitions: Vec<u32>,
    },
    KafkaOffsetFetchResponse {
        group: String,
        topic: String,
        offsets: Vec<(u32, Option<u64>)>,
    },
    /// Coordinator → the other brokers: the group's committed offsets (the
    /// stand-in for the replicated `__consumer_offsets` log).
    KafkaOffsetsReplicate {
        group: String,
        generation: u32,
        topic: String,
        offsets: Vec<(u32, u64)>,
    },
    /// Coordinator → the other brokers: the group's membership once it is
    /// stable (Kafka keeps it in `__consumer_offsets` too), so a new
    /// coordinator carries on without a rebalance. Each member is (member id,
    /// node, session timeout ms, rebalance timeout ms, assigned partitions).
    KafkaGroupReplicate {
        group: String,
        generation: u32,
        leader: u64,
        assignor: KafkaAssignor,
        members: Vec<(u64, NodeId, u64, u64, Vec<u32>)>,
    },
    /// Consumer → partition leader: records from `fetch_offset`, never at
    /// or above the high watermark.
    KafkaConsumerFetch {
        topic: String,
        partition: u32,
        fetch_offset: u64,
        max_records: u32,
    },
    KafkaConsumerFetchResponse {
        topic: String,
        partition: u32,
        fetch_offset: u64,
        high_watermark: u64,
        records: Vec<KafkaRecord>,
        error: Option<KafkaError>,
    },
    /// Consumer → partition leader: the latest offset (the high watermark),
    /// for `auto_offset_reset = latest`.
    KafkaListOffsets {
        topic: String,
        partition: u32,
    },
    KafkaListOffsetsResponse {
        topic: String,
        partition: u32,
        offset: u64,
        error: Option<KafkaError>,
    },
    /// Producer → partition leader: a batch of two or more records for one
    /// partition, appended together at consecutive offsets; idempotence uses
    /// the first record's sequence as the batch's base sequence. The answer
    /// is one `KafkaProduceResponse` with the batch's first offset. (A batch
    /// of one travels as `KafkaProduce`, the same thing on the broker, so that
    /// traces of unbatched runs keep their encoding.)
    KafkaProduceBatch {
        correlation: u64,
        topic: String,
        partition: u32,
        acks: KafkaAcks,
        records: Vec<KafkaRecord>,
    },
    /// Consumer → partition leader: the log start offset (ListOffsets with
    /// EARLIEST), for `auto_offset_reset = earliest` after OFFSET_OUT_OF_RANGE
    /// (retention may have deleted the front of the log). Answered with
    /// `KafkaListOffsetsResponse`.
    KafkaListOffsetsEarliest {
        topic: String,
        partition: u32,
    },
    /// Broker ↔ broker: the Raft traffic of quorum queue `queue`'s group.
    RabbitQuorumRaft {
        queue: String,
        message: RaftMessage<QuorumCommand, QuorumState>,
    },
    /// Broker → the quorum queue's leader: a command from a member that is
    /// not the leader (RabbitMQ's channel forwards to the leader).
    RabbitQuorumForward {
        queue: String,
        command: QuorumCommand,
    },
    /// Leader → the broker hosting `consumer`'s channel: deliver this message.
    RabbitQuorumDeliver {
        queue: String,
        consumer: NodeId,
        epoch: u64,
        message_id: u64,
        attempt: u32,
        redelivered: bool,
        message: RabbitMessage,
    },
    /// A quorum queue's leader → the broker that declared the queue (and its
    /// dead-letter exchange): route this dead-lettered message there.
    RabbitQuorumDeadLetter {
        queue: String,
        message: RabbitMessage,
        reason: crate::components::rabbit_protocol::RabbitDeathReason,
    },
    /// The coordination slice: coordination service, recipes' storage writes.
    Coord(CoordPayload),
    /// Distributed transactions: 2PC/3PC/TCC and sagas (see `txn_protocol`).
    Txn(crate::components::txn_protocol::TxnMessage),
    /// The replicated key-value database (`kv_database`, `kv_sentinel`, `kv_client`).
    Db(crate::components::db_protocol::DbMessage),
    /// Between KRaft controller voters: the metadata log's Raft traffic and
    /// requests forwarded to the active controller.
    KafkaKraft(crate::components::kafka_kraft::KraftMessage),
}

/// A span of a request tree: the node that issued a request and its id there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SpanRef {
    pub node: NodeId,
    pub id: u64,
}

impl fmt::Display for SpanRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "n{}.{}", self.node.0, self.id)
    }
}

/// How a service answered a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    Ok,
    /// The endpoint ran and failed (error probability, or a failed call without fallback).
    Error,
    /// The queue was full.
    Rejected,
    /// Load shedding refused it before queueing.
    Shed,
}

impl ServiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceStatus::Ok => "ok",
            ServiceStatus::Error => "error",
            ServiceStatus::Rejected => "rejected",
            ServiceStatus::Shed => "shed",
        }
    }
}

/// A group member as the leader sees it in the JoinGroup response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KafkaGroupMember {
    pub member_id: u64,
    pub node: NodeId,
    pub owned: Vec<u32>,
}

/// One partition as the controller sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KafkaPartitionState {
    pub topic: String,
    pub partition: u32,
    /// Assigned replicas; the first is the preferred leader.
    pub replicas: Vec<NodeId>,
    pub leader: Option<NodeId>,
    /// Bumped on every leader change (including to no leader).
    pub leader_epoch: u32,
    pub isr: Vec<NodeId>,
    /// Bumped on every change of leader or ISR.
    pub partition_epoch: u32,
    /// The topic's `min.insync.replicas` (topic config travels with the state).
    pub min_insync_replicas: u32,
}

/// One record in a partition's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KafkaRecord {
    pub offset: u64,
    /// Epoch of the leader that appended it (KIP-101 truncation uses it).
    pub leader_epoch: u32,
    pub producer_id: u64,
    pub producer_epoch: u32,
    /// Per (producer, partition); used for deduplication when idempotent.
    pub sequence: u32,
    pub key: u32,
    /// Unique per producer: the write's identity in the history.
    pub value: u64,
    /// Kafka's CreateTime: the producer's own clock when it made the record
    /// (µs). End-to-end latency is measured from it, as Kafka tools do, so
    /// clock skew between producer and consumer shows in that figure.
    pub create_time_us: u64,
    /// A null value: Kafka's tombstone, which deletes `key` from a compacted
    /// topic (the cleaner drops the key's older records, and the tombstone
    /// itself after `delete_retention_ms`). `value` still names the write.
    #[serde(default)]
    pub tombstone: bool,
}

/// Kafka error codes the simulation uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaError {
    NotLeaderOrFollower,
    /// acks=all refused before appending: ISR smaller than min ISR.
    NotEnoughReplicas,
    /// acks=all: appended, but the ISR shrank below min ISR before commit.
    NotEnoughReplicasAfterAppend,
    /// The requester's leader epoch is older than the leader's.
    FencedLeaderEpoch,
    /// The requester's leader epoch is newer than this broker knows.
    UnknownLeaderEpoch,
    OutOfOrderSequence,
    OffsetOutOfRange,
    /// The simulator's per-partition record cap was reached (not a Kafka error).
    LogFull,
    /// The leader's queue of acks=all requests waiting for commit is full.
    RequestTimedOut,
    /// The group is rebalancing: rejoin.
    RebalanceInProgress,
    /// The coordinator does not know this member (expired, left, or the
    /// coordinator moved): rejoin as a new member.
    UnknownMemberId,
    /// The member's generation is not the group's.
    IllegalGeneration,
    /// A produce request with no record (Kafka's CORRUPT_MESSAGE for a bad batch).
    CorruptMessage,
}

impl KafkaError {
    pub fn as_str(self) -> &'static str {
        match self {
            KafkaError::NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            KafkaError::NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            KafkaError::NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            KafkaError::FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            KafkaError::UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            KafkaError::OutOfOrderSequence => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            KafkaError::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            KafkaError::LogFull => "LOG_FULL",
            KafkaError::RequestTimedOut => "REQUEST_TIMED_OUT",
            KafkaError::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            KafkaError::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            KafkaError::IllegalGeneration => "ILLEGAL_GENERATION",
            KafkaError::CorruptMessage => "CORRUPT_MESSAGE",
        }
    }

    /// A producer may retry these (Kafka's `RetriableException`s).
    pub fn retriable(self) -> bool {
        !matches!(self, KafkaError::LogFull | KafkaError::CorruptMessage)
    }

    /// True when the record may be in the log although the request failed.
    pub fn maybe_appended(self) -> bool {
        matches!(
            self,
            KafkaError::NotEnoughReplicasAfterAppend | KafkaError::RequestTimedOut
        )
    }
}

impl Payload {
    pub fn class(&self) -> MessageClass {
        match self {
            Payload::Request { .. } => MessageClass::Request,
            Payload::Response { .. } => MessageClass::Response,
            Payload::KafkaProduce { .. }
            | Payload::KafkaProduceResponse { .. }
            | Payload::KafkaProduceBatch { .. } => MessageClass::Publish,
            Payload::KafkaFetch { .. }
            | Payload::KafkaFetchResponse { .. }
            | Payload::KafkaEpochEndOffset { .. }
            | Payload::KafkaEpochEndOffsetResponse { .. } => MessageClass::Replication,
            Payload::KafkaBrokerHeartbeat => MessageClass::Heartbeat,
            Payload::KafkaMetadataRequest { .. }
            | Payload::KafkaMetadataResponse { .. }
            | Payload::KafkaLeaderAndIsr { .. }
            | Payload::KafkaAlterPartition { .. } => MessageClass::Control,
            Payload::RaftKv(message) => match message {
                RaftMessage::AppendEntries { entries, .. } if entries.is_empty() => {
                    MessageClass::Heartbeat
                }
                RaftMessage::RequestVote { .. } | RaftMessage::RequestVoteResponse { .. } => {
                    MessageClass::Control
                }
                _ => MessageClass::Replication,
            },
            Payload::RaftKvRequest { .. } => MessageClass::Request,
            Payload::RaftKvResponse { .. } => MessageClass::Response,
            Payload::ServiceCall { .. } | Payload::HttpRequest { .. } => MessageClass::Request,
            Payload::ServiceReply { .. } => MessageClass::Response,
            Payload::HealthProbe { .. } | Payload::HealthProbeReply { .. } => {
                MessageClass::Heartbeat
            }
            Payload::UtilisationQuery { .. } | Payload::UtilisationReport { .. } => {
                MessageClass::Heartbeat
            }
            Payload::EndpointsUpdate { .. } => MessageClass::Control,
            Payload::RabbitPublish { .. }
            | Payload::RabbitConfirm { .. }
            | Payload::RabbitReturn { .. }
            | Payload::RabbitDeliver { .. }
            | Payload::RabbitSettle { .. } => MessageClass::Publish,
            Payload::RabbitHeartbeat { .. } => MessageClass::Heartbeat,
            Payload::RabbitConsume { .. }
            | Payload::RabbitConsumeOk { .. }
            | Payload::RabbitConsumeRefused { .. }
            | Payload::RabbitCancel { .. }
            | Payload::RabbitConnectionClose { .. } => MessageClass::Control,
            Payload::KafkaConsumerFetch { .. }
            | Payload::KafkaListOffsets { .. }
            | Payload::KafkaListOffsetsEarliest { .. }
            | Payload::KafkaOffsetCommit { .. }
            | Payload::KafkaOffsetFetch { .. } => MessageClass::Request,
            Payload::KafkaConsumerFetchResponse { .. }
            | Payload::KafkaListOffsetsResponse { .. }
            | Payload::KafkaOffsetCommitResponse { .. }
            | Payload::KafkaOffsetFetchResponse { .. } => MessageClass::Response,
            Payload::KafkaHeartbeat { .. } | Payload::KafkaHeartbeatResponse { .. } => {
                MessageClass::Heartbeat
            }
            Payload::KafkaFindCoordinator { .. }
            | Payload::KafkaFindCoordinatorResponse { .. }
            | Payload::KafkaJoinGroup { .. }
            | Payload::KafkaJoinGroupResponse { .. }
            | Payload::KafkaSyncGroup { .. }
            | Payload::KafkaSyncGroupResponse { .. }
            | Payload::KafkaLeaveGroup { .. } => MessageClass::Control,
            Payload::KafkaOffsetsReplicate { .. } | Payload::KafkaGroupReplicate { .. } => {
                MessageClass::Replication
            }
            Payload::RabbitQuorumRaft { message, .. } => match message {
                RaftMessage::AppendEntries { entries, .. } if entries.is_empty() => {
                    MessageClass::Heartbeat
                }
                RaftMessage::RequestVote { .. } | RaftMessage::RequestVoteResponse { .. } => {
                    MessageClass::Control
                }
                _ => MessageClass::Replication,
            },
            Payload::RabbitQuorumForward { .. } => MessageClass::Replication,
            Payload::RabbitQuorumDeliver { .. } | Payload::RabbitQuorumDeadLetter { .. } => {
                MessageClass::Publish
            }
            Payload::Coord(message) => message.class(),
            Payload::Txn(message) => {
                if message.is_request() {
                    MessageClass::Request
                } else {
                    MessageClass::Response
                }
            }
            Payload::Db(message) => message.class(),
            Payload::KafkaKraft(message) => match message {
                crate::components::kafka_kraft::KraftMessage::Raft(
                    RaftMessage::AppendEntries { entries, .. },
                ) if entries.is_empty() => MessageClass::Heartbeat,
                crate::components::kafka_kraft::KraftMessage::Raft(
                    RaftMessage::AppendEntries { .. }
                    | RaftMessage::AppendEntriesResponse { .. }
                    | RaftMessage::InstallSnapshot { .. }
                    | RaftMessage::InstallSnapshotResponse { .. },
                ) => MessageClass::Replication,
                crate::components::kafka_kraft::KraftMessage::ForwardHeartbeat { .. } => {
                    MessageClass::Heartbeat
                }
                _ => MessageClass::Control,
            },
        }
    }
}

/// `node ids` of a list, for text (the trace line has no names at this level).
fn node_list(nodes: &[NodeId]) -> String {
    let ids: Vec<String> = nodes.iter().map(|node| format!("n{}", node.0)).collect();
    format!("[{}]", ids.join(","))
}

impl fmt::Display for KafkaPartitionState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}-{} leader={} epoch={} isr={} pe={}",
            self.topic,
            self.partition,
            self.leader
                .map_or("none".to_string(), |node| format!("n{}", node.0)),
            self.leader_epoch,
            node_list(&self.isr),
            self.partition_epoch
        )
    }
}

fn error_suffix(error: Option<KafkaError>) -> String {
    error.map_or(String::new(), |error| format!(" error={}", error.as_str()))
}

impl fmt::Display for Payload {
    /// Stable text used in trace lines: changing it changes every digest.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Request { operation, stream } => {
                write!(formatter, "request op={operation} stream={stream}")
            }
            Payload::Response { operation, ok } => {
                write!(
                    formatter,
                    "response op={operation} {}",
                    if *ok { "ok" } else { "error" }
                )
            }
            Payload::KafkaMetadataRequest { topic } => write!(formatter, "metadata? {topic}"),
            Payload::KafkaMetadataResponse { topic, partitions } => {
                write!(formatter, "metadata {topic}")?;
                for partition in partitions {
                    write!(formatter, " | {partition}")?;
                }
                Ok(())
            }
            Payload::KafkaProduce {
                correlation,
                topic,
                partition,
                acks,
                record,
            } => write!(
                formatter,
                "produce c={correlation} {topic}-{partition} acks={} pid={} seq={} key={} value={}",
                acks.as_str(),
                record.producer_id,
                record.sequence,
                record.key,
                record.value
            ),
            Payload::KafkaProduceResponse {
                correlation,
                topic,
                partition,
                offset,
                error,
            } => match error {
                None => write!(
                    formatter,
                    "produce_ok c={correlation} {topic}-{partition} offset={offset}"
                ),
                Some(error) => write!(
                    formatter,
                    "produce_error c={correlation} {topic}-{partition} {}",
                    error.as_str()
                ),
            },
            Payload::KafkaFetch {
                topic,
                partition,
                leader_epoch,
                fetch_offset,
            } => write!(
                formatter,
                "fetch {topic}-{partition} epoch={leader_epoch} offset={fetch_offset}"
            ),
            Payload::KafkaFetchResponse {
                topic,
                partition,
                leader_epoch,
                fetch_offset,
                high_watermark,
                records,
                error,
                ..
            } => write!(
                formatter,
                "fetched {topic}-{partition} epoch={leader_epoch} offset={fetch_offset} records={} hw={high_watermark}{}",
                records.len(),
                error_suffix(*error)
            ),
            Payload::KafkaEpochEndOffset {
                topic,
                partition,
                leader_epoch,
                requested_epoch,
            } => write!(
                formatter,
                "epoch_end? {topic}-{partition} epoch={leader_epoch} for={requested_epoch}"
            ),
            Payload::KafkaEpochEndOffsetResponse {
                topic,
                partition,
                leader_epoch,
                requested_epoch,
                epoch,
                end_offset,
                error,
            } => write!(
                formatter,
                "epoch_end {topic}-{partition} epoch={leader_epoch} for={requested_epoch} -> epoch={epoch} end={end_offset}{}",
                error_suffix(*error)
            ),
            Payload::KafkaBrokerHeartbeat => write!(formatter, "heartbeat"),
            Payload::KafkaLeaderAndIsr { partitions } => {
                write!(formatter, "leader_and_isr")?;
                for partition in partitions {
                    write!(formatter, " | {partition}")?;
                }
                Ok(())
            }
            Payload::KafkaAlterPartition {
                topic,
                partition,
                leader_epoch,
                partition_epoch,
                isr,
            } => write!(
                formatter,
                "alter_partition {topic}-{partition} epoch={leader_epoch} pe={partition_epoch} isr={}",
                node_list(isr)
            ),
            Payload::RaftKv(message) => write!(formatter, "raft {message}"),
            Payload::RaftKvRequest { request, operation } => {
                write!(formatter, "kv req={request} {operation}")
            }
            Payload::RaftKvResponse { request, outcome } => {
                write!(formatter, "kv_reply req={request} {outcome}")
            }
            Payload::ServiceCall {
                call,
                attempt,
                trace,
                parent,
                endpoint,
                key,
            } => write!(
                formatter,
                "call c={call} try={attempt} trace={trace} parent={parent} endpoint={endpoint} key={key}"
            ),
            Payload::ServiceReply {
                call,
                attempt,
                status,
            } => write!(
                formatter,
                "reply c={call} try={attempt} {}",
                status.as_str()
            ),
            Payload::HealthProbe { probe } => write!(formatter, "health? {probe}"),
            Payload::HealthProbeReply { probe } => write!(formatter, "health {probe}"),
            Payload::HttpRequest {
                operation,
                stream,
                path,
                auth_token,
            } => write!(
                formatter,
                "http op={operation} stream={stream} {path}{}",
                if *auth_token { " token" } else { " no-token" }
            ),
            Payload::UtilisationQuery { probe } => write!(formatter, "utilisation? {probe}"),
            Payload::UtilisationReport {
                probe,
                mean_in_system,
                workers,
            } => write!(
                formatter,
                "utilisation {probe} in_system={mean_in_system:.3} workers={workers}"
            ),
            Payload::EndpointsUpdate { service, serving } => {
                write!(formatter, "endpoints {service} {}", node_list(serving))
            }
            Payload::RabbitPublish {
                connection,
                publish_seq,
                mandatory,
                confirm: _,
                message,
            } => write!(
                formatter,
                "basic.publish c{connection} seq={publish_seq} msg={} exchange={:?} key={:?}{}{}",
                message.key,
                message.exchange,
                message.routing_key,
                if message.persistent {
                    " persistent"
                } else {
                    ""
                },
                if *mandatory { " mandatory" } else { "" }
            ),
            Payload::RabbitConfirm {
                connection,
                publish_seq,
                ack,
            } => write!(
                formatter,
                "{} c{connection} seq={publish_seq}",
                if *ack { "confirm.ack" } else { "confirm.nack" }
            ),
            Payload::RabbitReturn {
                connection,
                publish_seq,
            } => write!(
                formatter,
                "basic.return c{connection} seq={publish_seq} NO_ROUTE"
            ),
            Payload::RabbitConsume {
                connection,
                queue,
                prefetch_count,
                auto_ack,
            } => write!(
                formatter,
                "basic.consume c{connection} queue={queue} prefetch={prefetch_count}{}",
                if *auto_ack { " auto_ack" } else { "" }
            ),
            Payload::RabbitConsumeOk { connection, queue } => {
                write!(formatter, "consume_ok c{connection} queue={queue}")
            }
            Payload::RabbitConsumeRefused {
                connection,
                queue,
                reason,
            } => write!(
                formatter,
                "consume_refused c{connection} queue={queue} {reason}"
            ),
            Payload::RabbitCancel { connection, queue } => {
                write!(formatter, "basic.cancel c{connection} queue={queue}")
            }
            Payload::RabbitDeliver {
                connection,
                delivery_tag,
                redelivered,
                queue,
                message,
            } => write!(
                formatter,
                "basic.deliver c{connection} tag={delivery_tag} queue={queue} msg={}{}",
                message.key,
                if *redelivered { " redelivered" } else { "" }
            ),
            Payload::RabbitSettle {
                connection,
                delivery_tag,
                settlement,
            } => write!(
                formatter,
                "basic.{settlement} c{connection} tag={delivery_tag}"
            ),
            Payload::RabbitHeartbeat { connection } => {
                write!(formatter, "heartbeat c{connection}")
            }
            Payload::RabbitConnectionClose { connection } => {
                write!(formatter, "connection.close c{connection}")
            }
            Payload::KafkaFindCoordinator { group } => {
                write!(formatter, "find_coordinator? {group}")
            }
            Payload::KafkaFindCoordinatorResponse { group, coordinator } => write!(
                formatter,
                "coordinator {group} = {}",
                coordinator.map_or("none".to_string(), |node| format!("n{}", node.0))
            ),
            Payload::KafkaJoinGroup {
                group,
                member_id,
                assignor,
                owned,
                ..
            } => write!(
                formatter,
                "join_group {group} member={} assignor={} owned={owned:?}",
                member_id.map_or("new".to_string(), |id| id.to_string()),
                assignor.as_str()
            ),
            Payload::KafkaJoinGroupResponse {
                group,
                generation,
                member_id,
                leader,
                members,
                error,
            } => write!(
                formatter,
                "joined {group} generation={generation} member={member_id} leader={leader} members={}{}",
                members.len(),
                error_suffix(*error)
            ),
            Payload::KafkaSyncGroup {
                group,
                generation,
                member_id,
                assignments,
            } => write!(
                formatter,
                "sync_group {group} generation={generation} member={member_id} assignments={assignments:?}"
            ),
            Payload::KafkaSyncGroupResponse {
                group,
                generation,
                partitions,
                error,
            } => write!(
                formatter,
                "synced {group} generation={generation} partitions={partitions:?}{}",
                error_suffix(*error)
            ),
            Payload::KafkaHeartbeat {
                group,
                generation,
                member_id,
            } => write!(
                formatter,
                "group_heartbeat {group} generation={generation} member={member_id}"
            ),
            Payload::KafkaHeartbeatResponse { group, error } => {
                write!(
                    formatter,
                    "group_heartbeat_ok {group}{}",
                    error_suffix(*error)
                )
            }
            Payload::KafkaLeaveGroup { group, member_id } => {
                write!(formatter, "leave_group {group} member={member_id}")
            }
            Payload::KafkaOffsetCommit {
                group,
                generation,
                member_id,
                correlation,
                topic,
                offsets,
            } => write!(
                formatter,
                "offset_commit c={correlation} {group} generation={generation} member={member_id} {topic} {offsets:?}"
            ),
            Payload::KafkaOffsetCommitResponse {
                group,
                correlation,
                error,
            } => write!(
                formatter,
                "offset_commit_ok c={correlation} {group}{}",
                error_suffix(*error)
            ),
            Payload::KafkaOffsetFetch {
                group,
                topic,
                partitions,
            } => write!(formatter, "offset_fetch? {group} {topic} {partitions:?}"),
            Payload::KafkaOffsetFetchResponse {
                group,
                topic,
                offsets,
            } => write!(formatter, "offset_fetch {group} {topic} {offsets:?}"),
            Payload::KafkaOffsetsReplicate {
                group,
                generation,
                topic,
                offsets,
            } => write!(
                formatter,
                "offsets_replicate {group} generation={generation} {topic} {offsets:?}"
            ),
            Payload::KafkaGroupReplicate {
                group,
                generation,
                leader,
                members,
                ..
            } => write!(
                formatter,
                "group_replicate {group} generation={generation} leader={leader} members={}",
                members.len()
            ),
            Payload::KafkaConsumerFetch {
                topic,
                partition,
                fetch_offset,
                max_records,
            } => write!(
                formatter,
                "consumer_fetch {topic}-{partition} offset={fetch_offset} max={max_records}"
            ),
            Payload::KafkaConsumerFetchResponse {
                topic,
                partition,
                fetch_offset,
                high_watermark,
                records,
                error,
            } => write!(
                formatter,
                "consumer_fetched {topic}-{partition} offset={fetch_offset} records={} hw={high_watermark}{}",
                records.len(),
                error_suffix(*error)
            ),
            Payload::KafkaListOffsets { topic, partition } => {
                write!(formatter, "list_offsets? {topic}-{partition} latest")
            }
            Payload::KafkaListOffsetsResponse {
                topic,
                partition,
                offset,
                error,
            } => write!(
                formatter,
                "list_offsets {topic}-{partition} offset={offset}{}",
                error_suffix(*error)
            ),
            Payload::KafkaProduceBatch {
                correlation,
                topic,
                partition,
                acks,
                records,
            } => {
                let first = records.first();
                write!(
                    formatter,
                    "produce c={correlation} {topic}-{partition} acks={} batch of {} pid={} base_seq={} values={}..{}",
                    acks.as_str(),
                    records.len(),
                    first.map_or(0, |record| record.producer_id),
                    first.map_or(0, |record| record.sequence),
                    first.map_or(0, |record| record.value),
                    records.last().map_or(0, |record| record.value),
                )
            }
            Payload::KafkaListOffsetsEarliest { topic, partition } => {
                write!(formatter, "list_offsets? {topic}-{partition} earliest")
            }
            Payload::RabbitQuorumRaft { queue, message } => {
                write!(formatter, "quorum {queue} raft {message}")
            }
            Payload::RabbitQuorumForward { queue, command } => {
                let what = match command {
                    QuorumCommand::Enqueue { message, .. } => {
                        format!("enqueue msg={}", message.key)
                    }
                    QuorumCommand::Checkout {
                        consumer, epoch, ..
                    } => {
                        format!("checkout n{} c{epoch}", consumer.0)
                    }
                    QuorumCommand::Cancel { consumer, epoch } => {
                        format!("cancel n{} c{epoch}", consumer.0)
                    }
                    QuorumCommand::Settle {
                        message_id,
                        settlement,
                        ..
                    } => format!("{settlement} id={message_id}"),
                };
                write!(formatter, "quorum {queue} forward {what}")
            }
            Payload::RabbitQuorumDeliver {
                queue,
                consumer,
                message_id,
                message,
                ..
            } => write!(
                formatter,
                "quorum {queue} deliver id={message_id} msg={} to n{}",
                message.key, consumer.0
            ),
            Payload::RabbitQuorumDeadLetter {
                queue,
                message,
                reason,
            } => write!(
                formatter,
                "quorum {queue} dead_letter msg={} reason={}",
                message.key,
                reason.as_str()
            ),
            Payload::Coord(message) => write!(formatter, "{message}"),
            Payload::Txn(message) => write!(formatter, "{message}"),
            Payload::Db(message) => write!(formatter, "{message}"),
            Payload::KafkaKraft(message) => write!(formatter, "{message}"),
        }
    }
}

/// A message in flight: who sent what to whom, and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: MessageId,
    pub from: NodeId,
    pub to: NodeId,
    pub sent_at: SimTime,
    pub size_bytes: u32,
    pub payload: Payload,
    /// True for the extra copy a duplicating link delivers.
    pub duplicate: bool,
}
