//! The `Scenario` document: the one serde contract between the engine, the app, the CLI and files.
//!
//! A scenario is plain data: topology (nodes, links, zones), workload, fault
//! plan, run settings and expectations. Parsing (`parse`) checks size and
//! nesting before serde sees the text, migrates old versions forward
//! (`migrate`), and then `validate` reports *every* semantic problem with its
//! JSON path. `schema` derives the published JSON Schema from these types.

pub mod catalog;
pub mod coord;
pub mod database;
pub mod kafka_consumer;
pub mod limits;
pub mod migrate;
pub mod parse;
pub mod problems;
pub mod rabbit;
pub mod raft_spec;
pub mod schema;
pub mod services;
pub mod txn;
pub mod validate;
mod validate_coord;
mod validate_database;
mod validate_kafka_compaction;
mod validate_kafka_consumer;
mod validate_kafka_kraft;
mod validate_rabbit;
pub mod validate_services;
mod validate_txn;

use crate::distribution::Distribution;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use coord::{
    CacheSpec, CacheWritePolicy, CoordClientSpec, CoordServerSpec, FencedStorageSpec, SnowflakeSpec,
};
pub use database::*;
pub use kafka_consumer::{KafkaAssignor, KafkaCommitMode, KafkaConsumerSpec, KafkaOffsetReset};
pub use parse::{parse_scenario, parse_scenario_value};
pub use problems::{Problem, Problems};
pub use rabbit::*;
pub use raft_spec::{RaftKvClientSpec, RaftNodeSpec};

/// The version this build writes. Older versions are migrated on load.
pub const CURRENT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Format version; see `migrate` for how older documents are upgraded.
    pub version: u32,
    #[serde(default)]
    pub metadata: Metadata,
    pub topology: Topology,
    #[serde(default)]
    pub workload: Workload,
    #[serde(default)]
    pub faults: FaultPlan,
    pub run: RunSettings,
    #[serde(default)]
    pub expectations: Vec<Expectation>,
    /// How editors draw the diagram; the engine never reads it. Left out of
    /// the file while it is the default, so documents without it stay
    /// byte-identical and older builds (which refuse unknown fields) read them.
    #[serde(default, skip_serializing_if = "DiagramLayout::is_default")]
    pub layout: DiagramLayout,
}

/// Drawing preferences saved with a scenario (node positions live on the nodes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiagramLayout {
    /// How links are drawn between node boxes.
    #[serde(default)]
    pub link_routing: LinkRouting,
}

impl DiagramLayout {
    pub fn is_default(&self) -> bool {
        *self == DiagramLayout::default()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkRouting {
    /// A smooth curve from the side of one box facing the other to that other box.
    #[default]
    Curved,
    /// Horizontal and vertical segments routed around the node boxes.
    Orthogonal,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub author: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(default)]
    pub zones: Vec<Zone>,
    /// Network used between nodes that have no link of their own. Absent means
    /// a LAN-like default (see `LinkNetwork::default`).
    #[serde(default)]
    pub default_network: Option<LinkNetwork>,
}

/// A placed component. On the wire: `{id, kind, label, position, properties}`,
/// where `properties` is the schema of `kind` (see `ComponentSpec`).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub id: String,
    pub label: String,
    pub position: Position,
    pub spec: ComponentSpec,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub x: f64,
    pub y: f64,
}

/// What a node is, and its properties. Adjacently tagged so the wire form is
/// `"kind": "sink", "properties": {...}` beside the node's other fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "kind",
    content = "properties",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum ComponentSpec {
    /// Clients that issue the workload streams attached to this node.
    LoadGenerator(LoadGeneratorSpec),
    /// A service with a FIFO queue, `workers` servers and a service-time distribution.
    Sink(SinkSpec),
    /// Kafka's controller (a deterministic stand-in for the KRaft quorum):
    /// replica assignment, broker liveness, leader election, ISR changes.
    KafkaController(KafkaControllerSpec),
    /// A Kafka broker: hosts partition replicas, leads or follows them.
    KafkaBroker(KafkaBrokerSpec),
    /// A Kafka producer writing records of one topic (batches of one record).
    KafkaProducer(KafkaProducerSpec),
    /// A server of a Raft-replicated key-value register store.
    RaftNode(RaftNodeSpec),
    /// Clients of the Raft key-value store (read/write/cas with leader redirects).
    RaftKvClient(RaftKvClientSpec),
    /// One instance of a microservice: workers, a bounded queue, endpoints of
    /// steps, and resilience policies on its calls to other services.
    Service(services::ServiceSpec),
    /// An API gateway: path routing, auth check, per-client rate limit, response cache, timeout.
    ApiGateway(services::ApiGatewaySpec),
    /// Scales a service's serving instances between min and max by utilisation.
    Autoscaler(services::AutoscalerSpec),
    /// A RabbitMQ node: exchanges, bindings and classic queues.
    RabbitBroker(RabbitBrokerSpec),
    /// An AMQP publisher (optionally with publisher confirms).
    RabbitPublisher(RabbitPublisherSpec),
    /// An AMQP consumer on one queue (prefetch, manual or automatic ack).
    RabbitConsumer(RabbitConsumerSpec),
    /// A Kafka consumer, member of a consumer group, reading one topic.
    KafkaConsumer(KafkaConsumerSpec),
    /// A server of a ZooKeeper/etcd-like coordination service replicated by Raft.
    CoordServer(CoordServerSpec),
    /// A client of the coordination service: a session and one recipe
    /// (registers, leader election, lock, registry, config, cron).
    CoordClient(CoordClientSpec),
    /// A storage service that can reject writes carrying a stale fencing token.
    FencedStorage(FencedStorageSpec),
    /// A cache-aside cache (LRU/LFU, TTL, capacity) in front of a backend.
    Cache(CacheSpec),
    /// A Snowflake-style unique id generator on the node's (skewable) clock.
    Snowflake(SnowflakeSpec),
    /// Coordinator of atomic commitment (2PC, 3PC or TCC): one transaction
    /// over all its participants per client request.
    TxnCoordinator(txn::TxnCoordinatorSpec),
    /// A resource manager in 2PC/3PC/TCC transactions: votes, holds locks
    /// while prepared, applies the outcome.
    TxnParticipant(txn::TxnParticipantSpec),
    /// Runs a saga per client request: steps in order, compensations in
    /// reverse on a failure, retries with backoff, an optional durable saga log.
    SagaOrchestrator(txn::SagaOrchestratorSpec),
    /// A service that runs saga actions and compensations (on command, or
    /// by reacting to its neighbours' events in a choreographed saga).
    SagaService(txn::SagaServiceSpec),
    /// One replica of a replicated key-value database (leader/follower, Raft or Dynamo-style).
    KvDatabase(KvDatabaseSpec),
    /// A Redis-Sentinel-style failover monitor of a leader/follower database.
    KvSentinel(KvSentinelSpec),
    /// Clients of one or more (sharded) key-value databases, with a read consistency level.
    KvClient(KvClientSpec),
    /// Writes a row per request and publishes an event about it, by dual
    /// write or through a transactional outbox with a polling relay.
    OutboxService(txn::OutboxServiceSpec),
    /// Applies the events of `outbox_service` nodes, deduplicating by id or not.
    EventConsumer(txn::EventConsumerSpec),
    /// Adds a shard to some `kv_client`s' keyspace at a set time and moves
    /// the keys that change owner (copy, freeze, catch-up, cut-over).
    KvShardBalancer(KvShardBalancerSpec),
}

impl ComponentSpec {
    /// The wire name of the kind, e.g. `load_generator`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ComponentSpec::LoadGenerator(_) => "load_generator",
            ComponentSpec::Sink(_) => "sink",
            ComponentSpec::KafkaController(_) => "kafka_controller",
            ComponentSpec::KafkaBroker(_) => "kafka_broker",
            ComponentSpec::KafkaProducer(_) => "kafka_producer",
            ComponentSpec::RaftNode(_) => "raft_node",
            ComponentSpec::RaftKvClient(_) => "raft_kv_client",
            ComponentSpec::Service(_) => "service",
            ComponentSpec::ApiGateway(_) => "api_gateway",
            ComponentSpec::Autoscaler(_) => "autoscaler",
            ComponentSpec::RabbitBroker(_) => "rabbit_broker",
            ComponentSpec::RabbitPublisher(_) => "rabbit_publisher",
            ComponentSpec::RabbitConsumer(_) => "rabbit_consumer",
            ComponentSpec::KafkaConsumer(_) => "kafka_consumer",
            ComponentSpec::CoordServer(_) => "coord_server",
            ComponentSpec::CoordClient(_) => "coord_client",
            ComponentSpec::FencedStorage(_) => "fenced_storage",
            ComponentSpec::Cache(_) => "cache",
            ComponentSpec::Snowflake(_) => "snowflake",
            ComponentSpec::TxnCoordinator(_) => "txn_coordinator",
            ComponentSpec::TxnParticipant(_) => "txn_participant",
            ComponentSpec::SagaOrchestrator(_) => "saga_orchestrator",
            ComponentSpec::SagaService(_) => "saga_service",
            ComponentSpec::KvDatabase(_) => "kv_database",
            ComponentSpec::KvSentinel(_) => "kv_sentinel",
            ComponentSpec::KvClient(_) => "kv_client",
            ComponentSpec::OutboxService(_) => "outbox_service",
            ComponentSpec::EventConsumer(_) => "event_consumer",
            ComponentSpec::KvShardBalancer(_) => "kv_shard_balancer",
        }
    }

    /// Every kind this build knows, for editors and error messages.
    pub const KIND_NAMES: &'static [&'static str] = &[
        "load_generator",
        "sink",
        "kafka_controller",
        "kafka_broker",
        "kafka_producer",
        "raft_node",
        "raft_kv_client",
        "service",
        "api_gateway",
        "autoscaler",
        "rabbit_broker",
        "rabbit_publisher",
        "rabbit_consumer",
        "kafka_consumer",
        "coord_server",
        "coord_client",
        "fenced_storage",
        "cache",
        "snowflake",
        "txn_coordinator",
        "txn_participant",
        "saga_orchestrator",
        "saga_service",
        "kv_database",
        "kv_sentinel",
        "kv_client",
        "outbox_service",
        "event_consumer",
        "kv_shard_balancer",
    ];
}

/// The Kafka controller's configuration: which brokers exist and which topics to create.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaControllerSpec {
    /// `kafka_broker` node ids, in broker-id order (assignment is round-robin over them).
    pub brokers: Vec<String>,
    pub topics: Vec<KafkaTopicSpec>,
    /// A broker that has not heartbeated for this long is fenced: removed from
    /// every ISR (unless it is the last member) and replaced as leader.
    /// Brokers heartbeat every third of it. Kafka's default is 9000 (KRaft);
    /// 6000 keeps lessons short.
    #[serde(default = "default_broker_session_timeout_ms")]
    pub broker_session_timeout_ms: u64,
    /// `stand_in` (default): this node alone decides and applies each
    /// decision at once, a deterministic stand-in for the controller quorum.
    /// `kraft`: this node is one voter of a KRaft controller quorum
    /// (`quorum_voters`): the voters elect an active controller with Raft and
    /// every decision (fencing, partition leaders, ISR changes) is a record of
    /// the replicated metadata log, applied when committed.
    #[serde(default)]
    pub mode: KafkaControllerMode,
    /// KRaft only (`controller.quorum.voters`): the `kafka_controller` nodes of
    /// the quorum, this one included. Every voter lists the same voters,
    /// brokers, topics and timeouts. Brokers, producers and consumers that
    /// name one voter fail over to the others when it stops answering.
    #[serde(default)]
    pub quorum_voters: Vec<String>,
    /// KRaft `controller.quorum.election.timeout.ms`: a voter that hears no
    /// active controller for a timeout drawn uniformly from [this, 2 × this]
    /// campaigns (with pre-vote, KIP-996). Kafka's default is 1000.
    #[serde(default = "default_quorum_election_timeout_ms")]
    pub quorum_election_timeout_ms: u64,
    /// KRaft: how often the active controller sends the metadata log (or an
    /// empty heartbeat) to the other voters. Kafka's voters fetch instead; a
    /// fetch every this many ms is the same traffic. Below the election timeout.
    #[serde(default = "default_quorum_heartbeat_interval_ms")]
    pub quorum_heartbeat_interval_ms: u64,
}

fn default_broker_session_timeout_ms() -> u64 {
    6_000
}

fn default_quorum_election_timeout_ms() -> u64 {
    1_000
}

fn default_quorum_heartbeat_interval_ms() -> u64 {
    250
}

/// Who makes the Kafka controller's decisions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KafkaControllerMode {
    /// One node decides alone (deterministic stand-in for the quorum).
    #[default]
    StandIn,
    /// A Raft quorum of `quorum_voters` replicates the metadata log.
    Kraft,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaTopicSpec {
    pub name: String,
    #[serde(default = "default_one")]
    pub partitions: u32,
    #[serde(default = "default_one")]
    pub replication_factor: u32,
    /// `min.insync.replicas`: an acks=all write is refused with
    /// NOT_ENOUGH_REPLICAS while the ISR is smaller than this.
    #[serde(default = "default_one")]
    pub min_insync_replicas: u32,
    /// `unclean.leader.election.enable`: when no ISR member is alive, elect
    /// any live replica (availability over durability). Off by default, as
    /// in Kafka since 0.11.
    #[serde(default)]
    pub unclean_leader_election_enable: bool,
    /// `retention.ms`: closed segments whose newest record is older than
    /// this are deleted from the front of the log (absent: kept for the
    /// whole run, as Kafka's 7-day default would be).
    #[serde(default)]
    pub retention_ms: Option<u64>,
    /// `retention.bytes`, per partition: the oldest closed segments are
    /// deleted while the log without them is still this large (absent: no
    /// size limit, Kafka's default). Each record counts 64 bytes.
    #[serde(default)]
    pub retention_bytes: Option<u64>,
    /// `segment.bytes`: the log rolls to a new segment at this size;
    /// retention deletes whole segments only. Kafka's default is 1 GiB.
    #[serde(default = "default_segment_bytes")]
    pub segment_bytes: u64,
    /// `cleanup.policy`: `delete` (retention by time and size, the default),
    /// `compact` (the log cleaner keeps the latest record per key) or
    /// `compact,delete` (both).
    #[serde(default)]
    pub cleanup_policy: KafkaCleanupPolicy,
    /// `segment.ms`: the active segment rolls once a record arrives this long
    /// (by record timestamps) after the segment's first record, even if it is
    /// not full. Neither retention nor the cleaner touches the active segment,
    /// so this bounds how long a record stays uncleanable. Absent: roll by
    /// size only (Kafka's default is 7 days, longer than any lesson).
    #[serde(default)]
    pub segment_ms: Option<u64>,
    /// `min.cleanable.dirty.ratio` (0 to 1): the cleaner cleans a log once the
    /// records written since its last pass (the dirty part) are at least this
    /// share of the cleanable log. Kafka's default is 0.5.
    #[serde(default = "default_min_cleanable_dirty_ratio")]
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: a segment whose newest record is younger than
    /// this is not cleaned yet, so consumers get at least this long to see
    /// every value. Kafka's default is 0.
    #[serde(default)]
    pub min_compaction_lag_ms: u64,
    /// `delete.retention.ms`: how long a tombstone (a record with a null
    /// value) stays after the cleaner first passes it, so that a consumer
    /// reading from the start still sees the delete. Kafka's default is
    /// 86400000 (one day).
    #[serde(default = "default_delete_retention_ms")]
    pub delete_retention_ms: u64,
}

fn default_segment_bytes() -> u64 {
    1_073_741_824
}

fn default_min_cleanable_dirty_ratio() -> f64 {
    0.5
}

fn default_delete_retention_ms() -> u64 {
    86_400_000
}

/// A topic's `cleanup.policy`, spelled as Kafka spells it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum KafkaCleanupPolicy {
    /// Retention by time and size deletes old segments.
    #[default]
    #[serde(rename = "delete")]
    Delete,
    /// The log cleaner keeps the latest record per key; nothing expires by age.
    #[serde(rename = "compact")]
    Compact,
    /// Both: compacted, and old segments deleted by retention too.
    #[serde(rename = "compact,delete", alias = "delete,compact")]
    CompactDelete,
}

impl KafkaCleanupPolicy {
    pub fn compacts(self) -> bool {
        matches!(
            self,
            KafkaCleanupPolicy::Compact | KafkaCleanupPolicy::CompactDelete
        )
    }
    pub fn deletes(self) -> bool {
        matches!(
            self,
            KafkaCleanupPolicy::Delete | KafkaCleanupPolicy::CompactDelete
        )
    }
    pub fn as_str(self) -> &'static str {
        match self {
            KafkaCleanupPolicy::Delete => "delete",
            KafkaCleanupPolicy::Compact => "compact",
            KafkaCleanupPolicy::CompactDelete => "compact,delete",
        }
    }
}

fn default_one() -> u32 {
    1
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaBrokerSpec {
    /// Rack (availability zone) label: replicas of a partition are spread across racks.
    #[serde(default)]
    pub rack: Option<String>,
    /// `replica.lag.time.max.ms`: a follower that has not caught up to the
    /// leader's log end for this long leaves the ISR. Kafka's default is
    /// 30000; the simulator defaults to 10000 so lessons stay short.
    #[serde(default = "default_replica_lag_time_max_ms")]
    pub replica_lag_time_max_ms: u64,
    /// Followers poll their leader this often (Kafka long-polls instead with
    /// `replica.fetch.wait.max.ms`; polling gives the same lag, more simply).
    #[serde(default = "default_replica_fetch_interval_ms")]
    pub replica_fetch_interval_ms: u64,
    /// Treat a crash as a machine power loss: log records the OS had not yet
    /// written back (appended in the last `page_cache_flush_interval_ms`) are
    /// gone on restart. False (the default) models a process crash: the page
    /// cache survives and the log comes back whole. Kafka acknowledges from
    /// the page cache, never after fsync, so power loss is where KIP-966 bites.
    #[serde(default)]
    pub power_loss_on_crash: bool,
    /// How often the OS writes dirty log pages back to disk (Linux's
    /// `dirty_writeback_centisecs` is 5 s). Only matters with `power_loss_on_crash`.
    #[serde(default = "default_page_cache_flush_interval_ms")]
    pub page_cache_flush_interval_ms: u64,
}

fn default_replica_lag_time_max_ms() -> u64 {
    10_000
}
fn default_replica_fetch_interval_ms() -> u64 {
    50
}
fn default_page_cache_flush_interval_ms() -> u64 {
    5_000
}

impl Default for KafkaBrokerSpec {
    fn default() -> Self {
        KafkaBrokerSpec {
            rack: None,
            replica_lag_time_max_ms: default_replica_lag_time_max_ms(),
            replica_fetch_interval_ms: default_replica_fetch_interval_ms(),
            power_loss_on_crash: false,
            page_cache_flush_interval_ms: default_page_cache_flush_interval_ms(),
        }
    }
}

/// `acks`: how many replicas must have a write before the producer is told it succeeded.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum KafkaAcks {
    /// Fire and forget: no response at all.
    #[serde(rename = "0")]
    None,
    /// The leader answers once the record is in its own log.
    #[serde(rename = "1")]
    Leader,
    /// The leader answers once every ISR member has the record (the high
    /// watermark passed it), and refuses while the ISR is below min ISR.
    #[serde(rename = "all")]
    All,
}

impl KafkaAcks {
    pub fn as_str(self) -> &'static str {
        match self {
            KafkaAcks::None => "0",
            KafkaAcks::Leader => "1",
            KafkaAcks::All => "all",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaProducerSpec {
    /// The `kafka_controller` node asked for metadata (partition leaders).
    pub controller: String,
    /// A topic the controller creates.
    pub topic: String,
    pub acks: KafkaAcks,
    /// Attempts after the first, for retriable errors and timeouts.
    #[serde(default = "default_kafka_retries")]
    pub retries: u32,
    #[serde(default = "default_retry_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// One attempt without an answer for this long is abandoned (and retried).
    #[serde(default = "default_kafka_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// A record not acknowledged this long after it was first sent fails.
    #[serde(default = "default_delivery_timeout_ms")]
    pub delivery_timeout_ms: u64,
    /// Sequence numbers let the leader drop a retried duplicate.
    #[serde(default)]
    pub enable_idempotence: bool,
    /// Records carry keys 0..key_count; the partition is a hash of the key.
    #[serde(default = "default_key_count")]
    pub key_count: u32,
    /// Time between records (exponential: Poisson writes).
    pub inter_arrival: Distribution,
    /// Requests in flight at once (`max.in.flight.requests.per.connection`,
    /// counted per producer here); later records wait in the buffer.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: u32,
    /// Records waiting to be sent beyond this fail at once (`buffer.memory`).
    #[serde(default = "default_buffer_records")]
    pub buffer_records: u32,
    /// No new records after this time (absent: until the end of the run),
    /// so that the end of a lesson is quiet.
    #[serde(default)]
    pub stop_ms: Option<u64>,
    /// How a record's partition is chosen.
    #[serde(default)]
    pub partitioner: KafkaPartitioner,
    /// `linger.ms`: a batch waits this long after its first record for more
    /// records before it is sent (unless it fills first). 0 sends at once;
    /// records still gather in a batch while `max_in_flight` is full.
    #[serde(default)]
    pub linger_ms: u64,
    /// `batch.size`: a batch is sent as soon as another record would not fit.
    /// Each record counts `KAFKA_RECORD_BYTES` (64) bytes, so the minimum, 64,
    /// means one record per request (the default here, so that unbatched
    /// lessons stay as they were; Kafka's default is 16384).
    #[serde(default = "default_batch_size_bytes")]
    pub batch_size_bytes: u32,
    /// Percent of records written without a key (0 to 100). Keyless records
    /// go to a sticky partition (KIP-480) under the `murmur2` partitioner,
    /// and in turn under `round_robin`.
    #[serde(default)]
    pub keyless_percent: u32,
    /// Percent of keyed records written as tombstones (0 to 100): a null
    /// value, Kafka's delete marker for a key in a compacted topic. The
    /// record still carries a unique value number, which names the write in
    /// the history (it is not the payload).
    #[serde(default)]
    pub tombstone_percent: u32,
}

fn default_batch_size_bytes() -> u32 {
    crate::scenario::limits::KAFKA_RECORD_BYTES
}

/// The producer's partitioner.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KafkaPartitioner {
    /// Kafka's built-in partitioner: for keyed records, murmur2 of the key
    /// bytes (the key's decimal text) modulo the partition count, so a key
    /// always lands on the same partition and per-key order holds; keyless
    /// records stick to one partition until its batch is sent, then switch
    /// (the sticky partitioner of KIP-480: fuller batches, fewer requests).
    #[default]
    Murmur2,
    /// `RoundRobinPartitioner`: partitions in turn, whatever the key (per-key
    /// order across partitions is lost).
    RoundRobin,
}

fn default_kafka_retries() -> u32 {
    10
}
fn default_retry_backoff_ms() -> u64 {
    100
}
fn default_kafka_request_timeout_ms() -> u64 {
    3_000
}
fn default_delivery_timeout_ms() -> u64 {
    20_000
}
fn default_key_count() -> u32 {
    10
}
fn default_max_in_flight() -> u32 {
    5
}
fn default_buffer_records() -> u32 {
    10_000
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadGeneratorSpec {
    /// A request with no response after this long is abandoned (recorded as `info`:
    /// its outcome is unknown, as in a Jepsen history).
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Open-loop arrivals beyond this many outstanding requests are refused
    /// locally and counted as errors (the client's own bound).
    #[serde(default = "default_max_outstanding")]
    pub max_outstanding: u32,
}

fn default_request_timeout_ms() -> u64 {
    1_000
}
fn default_max_outstanding() -> u32 {
    10_000
}

impl Default for LoadGeneratorSpec {
    fn default() -> Self {
        LoadGeneratorSpec {
            request_timeout_ms: default_request_timeout_ms(),
            max_outstanding: default_max_outstanding(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SinkSpec {
    /// Parallel servers (the `c` of M/M/c).
    #[serde(default = "default_workers")]
    pub workers: u32,
    /// Requests waiting beyond this are rejected with an error response.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: u32,
    pub service_time: Distribution,
    /// Reply to the sender when done (request/response); false makes it a pure sink.
    #[serde(default = "default_true")]
    pub respond: bool,
    /// Probability that a served request fails (an error response).
    #[serde(default)]
    pub error_probability: f64,
    /// After its own service, call this node synchronously and answer only when
    /// it answers: the worker stays busy meanwhile (thread-per-request), so a
    /// slow or cut-off dependency backs up this tier too.
    #[serde(default)]
    pub downstream: Option<String>,
    /// How long to wait for `downstream` before answering with an error.
    #[serde(default = "default_downstream_timeout_ms")]
    pub downstream_timeout_ms: u64,
}

fn default_downstream_timeout_ms() -> u64 {
    500
}

fn default_workers() -> u32 {
    1
}
fn default_queue_capacity() -> u32 {
    10_000
}
fn default_true() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Optional stable id; editors generate `from->to` when absent.
    #[serde(default)]
    pub id: Option<String>,
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub kind: LinkKind,
    #[serde(default)]
    pub label: String,
    /// Network behaviour; absent means `LinkNetwork::default()`. Applies to both
    /// directions (a response travels back over the link its request took).
    #[serde(default)]
    pub network: LinkNetwork,
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    #[default]
    SyncCall,
    AsyncMessage,
    Replication,
    Network,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkNetwork {
    /// One-way propagation delay.
    #[serde(default = "default_latency")]
    pub latency: Distribution,
    /// Extra delay drawn uniformly from `[0, jitter_ms]` per message.
    #[serde(default)]
    pub jitter_ms: f64,
    /// Serialisation rate; absent means infinitely fast. A message of `size_bytes`
    /// occupies the link for `size_bytes * 8 / bandwidth` and later ones queue behind it.
    #[serde(default)]
    pub bandwidth_mbps: Option<f64>,
    #[serde(default)]
    pub loss_probability: f64,
    #[serde(default)]
    pub duplicate_probability: f64,
    /// Probability that a message ignores FIFO order on this link (as UDP may).
    #[serde(default)]
    pub reorder_probability: f64,
}

fn default_latency() -> Distribution {
    Distribution::Constant { value_ms: 1.0 }
}

impl Default for LinkNetwork {
    fn default() -> Self {
        LinkNetwork {
            latency: default_latency(),
            jitter_ms: 0.0,
            bandwidth_mbps: None,
            loss_probability: 0.0,
            duplicate_probability: 0.0,
            reorder_probability: 0.0,
        }
    }
}

/// A named group of nodes (availability zone, region, segment) that faults can target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub id: String,
    #[serde(default)]
    pub label: String,
    pub nodes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    #[serde(default)]
    pub streams: Vec<WorkloadStream>,
}

/// Traffic issued by one load-generator node to one target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadStream {
    pub id: String,
    /// A `load_generator` node.
    pub client: String,
    pub target: String,
    pub pattern: LoadPattern,
    #[serde(default = "default_request_bytes")]
    pub request_bytes: u32,
    /// Streams start issuing at this time.
    #[serde(default)]
    pub start_ms: u64,
    /// Streams stop issuing at this time (absent: run to the end).
    #[serde(default)]
    pub stop_ms: Option<u64>,
    /// HTTP-style path sent with each request (for an `api_gateway` target,
    /// which routes by it); absent: a plain request.
    #[serde(default)]
    pub path: Option<String>,
    /// With `path`: whether requests carry an auth token.
    #[serde(default = "default_true")]
    pub auth_token: bool,
}

fn default_request_bytes() -> u32 {
    256
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LoadPattern {
    /// Arrivals independent of responses (Poisson when `inter_arrival` is exponential).
    OpenLoop {
        inter_arrival: Distribution,
        /// Piecewise-linear rate multiplier over time: ramps and spikes.
        #[serde(default)]
        rate_profile: Vec<RatePoint>,
    },
    /// `users` each send one request, wait for its response (or timeout), think, repeat.
    ClosedLoop {
        users: u32,
        think_time: Distribution,
    },
}

/// The open-loop rate is multiplied by `multiplier` at `at_ms`; between points it
/// is interpolated linearly when `ramp` is true on the later point, else a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RatePoint {
    pub at_ms: u64,
    pub multiplier: f64,
    #[serde(default)]
    pub ramp: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Scripted timeline, applied in `at_ms` order (ties in document order).
    #[serde(default)]
    pub timeline: Vec<ScheduledFault>,
    /// A random fault plan drawn from the run seed and these intensities.
    #[serde(default)]
    pub nemesis: Option<NemesisSpec>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduledFault {
    pub at_ms: u64,
    pub action: FaultAction,
}

/// A fault is data: what to do to which nodes or links. Node lists accept zone ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// The node stops; volatile state is lost, messages to it are dropped.
    Crash {
        node: String,
    },
    /// A crashed node starts again from its persisted state.
    Restart {
        node: String,
    },
    /// GC-pause style: the node stops handling events; they wait until `resume`.
    Pause {
        node: String,
    },
    Resume {
        node: String,
    },
    /// Service times on the node are multiplied by `factor` (1 is normal speed).
    Slow {
        node: String,
        factor: f64,
    },
    /// The node's clock reads `offset_ms` ahead (negative: behind) and drifts by
    /// `drift_ppm` from now on. Simulated time itself is unaffected.
    ClockSkew {
        node: String,
        offset_ms: f64,
        #[serde(default)]
        drift_ppm: f64,
    },
    /// Nodes in different groups cannot reach each other (both directions).
    /// Nodes named in no group form one more group of their own, so
    /// `[["a", "b"]]` cuts a and b off from everyone else (as Jepsen's
    /// partitioner does); use `partition_one_way` pairs for a bridge node.
    Partition {
        groups: Vec<Vec<String>>,
    },
    /// Messages from `from` to `to` are dropped; the reverse direction still works.
    PartitionOneWay {
        from: Vec<String>,
        to: Vec<String>,
    },
    /// Removes every partition.
    Heal {},
    /// Messages from `from` to `to` are held (not lost) until released.
    HoldLink {
        from: String,
        to: String,
    },
    /// Delivers held messages, each with a fresh latency.
    ReleaseLink {
        from: String,
        to: String,
    },
    /// Replaces the network properties between two nodes (both directions).
    SetLink {
        from: String,
        to: String,
        network: LinkNetwork,
    },
}

impl FaultAction {
    /// Short verb used in trace lines and UI lists.
    pub fn verb(&self) -> &'static str {
        match self {
            FaultAction::Crash { .. } => "crash",
            FaultAction::Restart { .. } => "restart",
            FaultAction::Pause { .. } => "pause",
            FaultAction::Resume { .. } => "resume",
            FaultAction::Slow { .. } => "slow",
            FaultAction::ClockSkew { .. } => "clock_skew",
            FaultAction::Partition { .. } => "partition",
            FaultAction::PartitionOneWay { .. } => "partition_one_way",
            FaultAction::Heal {} => "heal",
            FaultAction::HoldLink { .. } => "hold_link",
            FaultAction::ReleaseLink { .. } => "release_link",
            FaultAction::SetLink { .. } => "set_link",
        }
    }
}

/// Intensities for the random fault plan (Jepsen's nemesis, TigerBeetle's VOPR).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NemesisSpec {
    /// Mean number of faults started per simulated minute.
    pub faults_per_minute: f64,
    /// Mean time a fault lasts before it is undone (exponential).
    #[serde(default = "default_mean_fault_ms")]
    pub mean_fault_duration_ms: f64,
    /// Which fault kinds to draw from; empty means all.
    #[serde(default)]
    pub kinds: Vec<NemesisKind>,
    /// Candidate nodes; empty means every node that is not a load generator.
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub start_ms: u64,
    /// No new faults after this, and all are healed by it, so Eventually
    /// properties get a quiet tail. Absent: 80% of the run.
    #[serde(default)]
    pub stop_ms: Option<u64>,
}

fn default_mean_fault_ms() -> f64 {
    5_000.0
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NemesisKind {
    Crash,
    Pause,
    Partition,
    PartitionOneWay,
    Slow,
    ClockSkew,
    Loss,
}

impl NemesisKind {
    pub const ALL: [NemesisKind; 7] = [
        NemesisKind::Crash,
        NemesisKind::Pause,
        NemesisKind::Partition,
        NemesisKind::PartitionOneWay,
        NemesisKind::Slow,
        NemesisKind::ClockSkew,
        NemesisKind::Loss,
    ];
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    /// Root seed: the same scenario and seed give the same run, bit for bit.
    pub seed: u64,
    pub duration_ms: u64,
    /// Metric sampling period (simulated).
    #[serde(default = "default_sample_interval_ms")]
    pub sample_interval_ms: u64,
    /// Event budget for the run; the run stops (and says so) when exhausted.
    #[serde(default = "default_max_events")]
    pub max_events: u64,
}

fn default_sample_interval_ms() -> u64 {
    100
}
fn default_max_events() -> u64 {
    limits::DEFAULT_MAX_EVENTS
}

/// What a lesson or a grader requires of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expectation {
    /// The named checker must end with this status.
    Check {
        name: String,
        status: ExpectedStatus,
    },
    /// A summary metric (`node.metric`, see the run report) must lie in `[min, max]`.
    Metric {
        name: String,
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedStatus {
    Pass,
    Fail,
}

impl Scenario {
    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.topology.nodes.iter().position(|node| node.id == id)
    }
}

// ---- Node wire form -------------------------------------------------------

/// The node as it appears in JSON. `properties` is checked against the schema
/// of `kind` in a second step so the error can name the exact property.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NodeWire {
    id: String,
    kind: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    position: Position,
    #[serde(default = "empty_object")]
    properties: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

impl Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let tagged = serde_json::to_value(&self.spec).map_err(serde::ser::Error::custom)?;
        let kind = tagged
            .get("kind")
            .and_then(|kind| kind.as_str())
            .unwrap_or_default()
            .to_string();
        let properties = tagged
            .get("properties")
            .cloned()
            .unwrap_or_else(empty_object);
        NodeWire {
            id: self.id.clone(),
            kind,
            label: self.label.clone(),
            position: self.position,
            properties,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = NodeWire::deserialize(deserializer)?;
        let tagged = serde_json::json!({ "kind": wire.kind, "properties": wire.properties });
        let spec: ComponentSpec = serde_path_to_error::deserialize(tagged).map_err(|error| {
            // Keep the inner path so the user sees `...nodes[2].properties.workers`.
            let inner_path = error.path().to_string();
            let message = error.into_inner().to_string();
            // Only an unknown `kind` is an unknown node kind: an unknown
            // variant inside the properties (an enum-valued property such as
            // `cleanup_policy`) keeps serde's own list of expected values.
            let message = if message.starts_with("unknown variant")
                && !inner_path.starts_with("properties")
            {
                format!(
                    "unknown node kind `{}`, expected one of: {}",
                    wire.kind,
                    ComponentSpec::KIND_NAMES.join(", ")
                )
            } else {
                message
            };
            serde::de::Error::custom(
                format!(
                    "{}{}{}",
                    parse::INNER_PATH_MARK,
                    inner_path,
                    parse::INNER_PATH_MARK
                ) + &message,
            )
        })?;
        Ok(Node {
            id: wire.id,
            label: wire.label,
            position: wire.position,
            spec,
        })
    }
}

impl JsonSchema for Node {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Node".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schema::node_schema(generator)
    }
}
