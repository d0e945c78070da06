//! Scenario properties of the replicated key-value database: `kv_database` replicas (leader/follower, Raft or Dynamo-style replication), `kv_sentinel` failover monitors and `kv_client` clients with read consistency levels and sharding.

use crate::distribution::Distribution;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One replica of a replicated key-value database. Every `kv_database` node
/// with the same `database` name is a replica of the same data set; they
/// must all carry the same `replication` settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KvDatabaseSpec {
    /// The database (replica set) this node belongs to. Clients and sentinels
    /// name databases, not nodes.
    pub database: String,
    /// How writes reach the other replicas. Default: leader/follower with
    /// asynchronous replication (Redis, MySQL and PostgreSQL's default).
    #[serde(default)]
    pub replication: DbReplication,
    /// The data (and, for leader/follower, the replication log; for Raft,
    /// term, vote and log) survives a crash. False: a restarted replica
    /// comes back empty (a Redis primary without persistence that restarts
    /// empty makes its replicas sync the empty data set).
    #[serde(default = "default_true")]
    pub durable_storage: bool,
}

/// The replication mode of a database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DbReplication {
    /// One primary takes every write and streams it to replicas (Redis,
    /// MySQL, PostgreSQL). The first replica in document order starts as
    /// primary; `kv_sentinel` nodes fail over to a replica.
    LeaderFollower(LeaderFollowerSpec),
    /// Every write and every `leader`/`linearizable` read is a Raft log
    /// entry committed by a majority (CP: the minority side refuses writes).
    Raft(DbRaftSpec),
    /// Leaderless, Dynamo-style (AP): any replica coordinates; N copies,
    /// R and W quorums, sloppy quorum with hinted handoff, read repair.
    Dynamo(DynamoSpec),
}

impl Default for DbReplication {
    fn default() -> Self {
        DbReplication::LeaderFollower(LeaderFollowerSpec::default())
    }
}

impl DbReplication {
    pub fn mode_name(&self) -> &'static str {
        match self {
            DbReplication::LeaderFollower(_) => "leader_follower",
            DbReplication::Raft(_) => "raft",
            DbReplication::Dynamo(_) => "dynamo",
        }
    }
}

/// When the primary acknowledges a write to the client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationAcks {
    /// At once, before any replica has it (Redis; MySQL/PostgreSQL default).
    /// A failover loses what the new primary had not received.
    #[default]
    Async,
    /// After `semi_sync_replicas` replicas have it (MySQL semi-synchronous
    /// replication), or after `semi_sync_timeout_ms` without them.
    SemiSync,
    /// After every other replica of the database has it (PostgreSQL with all
    /// standbys synchronous): no acknowledged write is lost, but one
    /// unreachable replica stops all writes.
    Sync,
}

/// Leader/follower replication settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaderFollowerSpec {
    /// When a write is acknowledged: `async`, `semi_sync` or `sync`.
    #[serde(default)]
    pub acks: ReplicationAcks,
    /// Replica acknowledgements a `semi_sync` write waits for
    /// (MySQL `rpl_semi_sync_master_wait_for_slave_count`, default 1).
    #[serde(default = "default_semi_sync_replicas")]
    pub semi_sync_replicas: u32,
    /// A `semi_sync` write waiting this long is acknowledged anyway, as
    /// MySQL falls back to asynchronous replication after
    /// `rpl_semi_sync_master_timeout` (default 10,000 ms). Absent: wait forever.
    #[serde(default = "default_semi_sync_timeout_ms")]
    pub semi_sync_timeout_ms: Option<u64>,
    /// The primary refuses writes unless this many replicas acknowledged
    /// within `min_replicas_max_lag_ms` (Redis `min-replicas-to-write`,
    /// default 0: never refuse). Bounds, but does not remove, the loss window.
    #[serde(default)]
    pub min_replicas_to_write: u32,
    /// See `min_replicas_to_write` (Redis `min-replicas-max-lag`, 10 s).
    #[serde(default = "default_min_replicas_max_lag_ms")]
    pub min_replicas_max_lag_ms: u64,
    /// Replicas report their replication offset this often (Redis
    /// `REPLCONF ACK`, every second) and ask to resync if they have no primary stream.
    #[serde(default = "default_replica_ack_interval_ms")]
    pub replica_ack_interval_ms: u64,
    /// Writes the primary keeps for partial resynchronisation (Redis
    /// `repl-backlog-size`, here in writes). A replica further behind, or
    /// whose history diverged, gets a full resync.
    #[serde(default = "default_backlog_writes")]
    pub backlog_writes: u64,
}

impl Default for LeaderFollowerSpec {
    fn default() -> Self {
        LeaderFollowerSpec {
            acks: ReplicationAcks::Async,
            semi_sync_replicas: default_semi_sync_replicas(),
            semi_sync_timeout_ms: default_semi_sync_timeout_ms(),
            min_replicas_to_write: 0,
            min_replicas_max_lag_ms: default_min_replicas_max_lag_ms(),
            replica_ack_interval_ms: default_replica_ack_interval_ms(),
            backlog_writes: default_backlog_writes(),
        }
    }
}

/// Raft replication settings (the shared Raft core; see `raft_node`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DbRaftSpec {
    /// Election timeouts are drawn uniformly from [min, max].
    #[serde(default = "default_election_timeout_min_ms")]
    pub election_timeout_min_ms: u64,
    #[serde(default = "default_election_timeout_max_ms")]
    pub election_timeout_max_ms: u64,
    /// The leader's AppendEntries (possibly empty) interval.
    #[serde(default = "default_heartbeat_interval_ms")]
    pub heartbeat_interval_ms: u64,
    /// Pre-vote (dissertation §9.6).
    #[serde(default)]
    pub pre_vote: bool,
    /// A leader that has not heard from a majority for an election timeout steps down.
    #[serde(default = "default_true")]
    pub check_quorum: bool,
}

impl Default for DbRaftSpec {
    fn default() -> Self {
        DbRaftSpec {
            election_timeout_min_ms: default_election_timeout_min_ms(),
            election_timeout_max_ms: default_election_timeout_max_ms(),
            heartbeat_interval_ms: default_heartbeat_interval_ms(),
            pre_vote: false,
            check_quorum: true,
        }
    }
}

/// How concurrent versions of a key are reconciled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictResolution {
    /// Highest timestamp wins (Cassandra). The timestamp is the coordinator's
    /// own clock, so a replica whose clock runs ahead silently wins over later writes.
    #[default]
    LastWriteWins,
    /// Version vectors (Dynamo, Riak): concurrent versions are all kept and
    /// returned to the client as siblings; a write carrying the context of a
    /// read supersedes the versions it saw.
    VersionVectors,
}

/// Dynamo-style leaderless replication settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DynamoSpec {
    /// Copies of each key (N): the first N distinct replicas clockwise from
    /// the key's position on the ring (its preference list).
    #[serde(default = "default_replicas_n")]
    pub replicas_n: u32,
    /// Replies a `quorum` read waits for (R).
    #[serde(default = "default_quorum")]
    pub read_quorum_r: u32,
    /// Acknowledgements a write waits for (W), the coordinator's own included.
    #[serde(default = "default_quorum")]
    pub write_quorum_w: u32,
    #[serde(default)]
    pub conflict_resolution: ConflictResolution,
    /// Sloppy quorum: when preference-list replicas do not answer within
    /// `sloppy_quorum_after_ms`, the write also goes to the next replicas on
    /// the ring, with a hint naming the replica it was meant for.
    #[serde(default = "default_true")]
    pub sloppy_quorum: bool,
    /// See `sloppy_quorum`.
    #[serde(default = "default_sloppy_quorum_after_ms")]
    pub sloppy_quorum_after_ms: u64,
    /// A replica holding hinted writes tries to hand them to their intended
    /// replica this often (hinted handoff).
    #[serde(default = "default_hinted_handoff_interval_ms")]
    pub hinted_handoff_interval_ms: u64,
    /// After a read, replicas that answered with an older version are sent the newest (read repair).
    #[serde(default = "default_true")]
    pub read_repair: bool,
    /// Positions of each replica on the ring (virtual nodes).
    #[serde(default = "default_virtual_nodes")]
    pub virtual_nodes: u32,
    /// A coordinator answers `unavailable` when its quorum has not answered this long.
    #[serde(default = "default_coordinator_timeout_ms")]
    pub coordinator_timeout_ms: u64,
}

impl Default for DynamoSpec {
    fn default() -> Self {
        DynamoSpec {
            replicas_n: default_replicas_n(),
            read_quorum_r: default_quorum(),
            write_quorum_w: default_quorum(),
            conflict_resolution: ConflictResolution::LastWriteWins,
            sloppy_quorum: true,
            sloppy_quorum_after_ms: default_sloppy_quorum_after_ms(),
            hinted_handoff_interval_ms: default_hinted_handoff_interval_ms(),
            read_repair: true,
            virtual_nodes: default_virtual_nodes(),
            coordinator_timeout_ms: default_coordinator_timeout_ms(),
        }
    }
}

/// A Redis-Sentinel-style monitor of one leader/follower database. Sentinels
/// of the same database talk to each other: a primary unanswered for
/// `down_after_ms` is subjectively down; when `quorum` sentinels agree it is
/// objectively down, and a sentinel voted leader by a majority of sentinels
/// promotes the most up-to-date reachable replica in a new epoch. A returning
/// old primary is told to replicate from the new one, discarding its own writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KvSentinelSpec {
    /// The leader/follower `kv_database` this sentinel monitors.
    pub database: String,
    /// Sentinels that must agree the primary is down (Redis `quorum`).
    #[serde(default = "default_sentinel_quorum")]
    pub quorum: u32,
    /// Silence after which a node is subjectively down (Redis
    /// `down-after-milliseconds`, 30,000 in the sample configuration).
    #[serde(default = "default_down_after_ms")]
    pub down_after_ms: u64,
    /// A sentinel that started a failover waits this long before trying
    /// again (Redis `failover-timeout`, default 180,000 ms; retries wait twice it).
    #[serde(default = "default_failover_timeout_ms")]
    pub failover_timeout_ms: u64,
    /// Pings to every replica and sentinel this often (Redis: every second).
    #[serde(default = "default_ping_interval_ms")]
    pub ping_interval_ms: u64,
}

/// Which replica answers a read.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReadConsistency {
    /// The primary (leader/follower) or the Raft leader through the log.
    #[default]
    Leader,
    /// Whichever replica the client reaches, from its local copy: may be stale.
    Any,
    /// Dynamo: R replicas, newest version wins (or siblings).
    Quorum,
    /// Raft: a log read, so the answer is linearizable.
    Linearizable,
}

impl ReadConsistency {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadConsistency::Leader => "leader",
            ReadConsistency::Any => "any",
            ReadConsistency::Quorum => "quorum",
            ReadConsistency::Linearizable => "linearizable",
        }
    }
}

/// How keys are spread over the databases a client names (shards).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShardingStrategy {
    /// shard = hash(key) mod shards: even, but adding a shard moves most keys.
    #[default]
    Hash,
    /// Contiguous key ranges of equal width (key_count / shards).
    Range,
    /// A ring with `virtual_nodes_per_shard` positions per shard: adding a
    /// shard moves only about 1/shards of the keys.
    ConsistentHash,
}

/// Clients of a `kv_database` (or of several, as shards): `concurrency`
/// processes each issuing one read or write at a time; every operation is
/// recorded invoke → ok / fail / info. Written values are unique per write,
/// so a lost write can be told from an overwritten one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KvClientSpec {
    /// Databases (by `database` name). More than one: keys are sharded over them.
    pub databases: Vec<String>,
    #[serde(default)]
    pub sharding: ShardingStrategy,
    /// Ring positions per shard for `consistent_hash`.
    #[serde(default = "default_virtual_nodes_per_shard")]
    pub virtual_nodes_per_shard: u32,
    /// Where reads go: `leader`, `any`, `quorum` (Dynamo) or `linearizable` (Raft).
    #[serde(default)]
    pub read_consistency: ReadConsistency,
    /// Logical client processes; each has one operation outstanding at a time.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// Pause between one operation's end and the process's next operation.
    #[serde(default = "default_think_time")]
    pub think_time: Distribution,
    /// Keys are 0..key_count.
    #[serde(default = "default_key_count")]
    pub key_count: u32,
    /// Share of reads among operations; the rest are writes.
    #[serde(default = "default_read_fraction")]
    pub read_fraction: f64,
    /// Share of operations that go to key 0 (a hot key); the rest are uniform.
    #[serde(default)]
    pub hot_key_fraction: f64,
    /// An operation without an answer for this long ends as `info` (unknown outcome).
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Sends per operation (redirects and retries); beyond it the operation fails.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Wait before retrying when a replica knows no leader.
    #[serde(default = "default_retry_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// No new operations before this time.
    #[serde(default)]
    pub start_ms: u64,
    /// No new operations after this time (absent: until the end of the run).
    #[serde(default)]
    pub stop_ms: Option<u64>,
}

fn default_true() -> bool {
    true
}
fn default_semi_sync_replicas() -> u32 {
    1
}
fn default_semi_sync_timeout_ms() -> Option<u64> {
    Some(10_000)
}
fn default_min_replicas_max_lag_ms() -> u64 {
    10_000
}
fn default_replica_ack_interval_ms() -> u64 {
    1_000
}
fn default_backlog_writes() -> u64 {
    10_000
}
fn default_election_timeout_min_ms() -> u64 {
    150
}
fn default_election_timeout_max_ms() -> u64 {
    300
}
fn default_heartbeat_interval_ms() -> u64 {
    50
}
fn default_replicas_n() -> u32 {
    3
}
fn default_quorum() -> u32 {
    2
}
fn default_sloppy_quorum_after_ms() -> u64 {
    100
}
fn default_hinted_handoff_interval_ms() -> u64 {
    1_000
}
fn default_virtual_nodes() -> u32 {
    8
}
fn default_coordinator_timeout_ms() -> u64 {
    1_000
}
fn default_sentinel_quorum() -> u32 {
    2
}
fn default_down_after_ms() -> u64 {
    30_000
}
fn default_failover_timeout_ms() -> u64 {
    180_000
}
fn default_ping_interval_ms() -> u64 {
    1_000
}
fn default_virtual_nodes_per_shard() -> u32 {
    16
}
fn default_concurrency() -> u32 {
    3
}
fn default_think_time() -> Distribution {
    Distribution::Constant { value_ms: 20.0 }
}
fn default_key_count() -> u32 {
    1
}
fn default_read_fraction() -> f64 {
    0.4
}
fn default_request_timeout_ms() -> u64 {
    1_000
}
fn default_max_attempts() -> u32 {
    10
}
fn default_retry_backoff_ms() -> u64 {
    50
}

/// The replicas of `database`, in document order (node ids are indexes).
pub fn database_members(scenario: &super::Scenario, database: &str) -> Vec<crate::message::NodeId> {
    scenario
        .topology
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| {
            matches!(&node.spec, super::ComponentSpec::KvDatabase(spec) if spec.database == database)
        })
        .map(|(index, _)| crate::message::NodeId(index as u32))
        .collect()
}

/// The sentinels monitoring `database`, in document order.
pub fn database_sentinels(
    scenario: &super::Scenario,
    database: &str,
) -> Vec<crate::message::NodeId> {
    scenario
        .topology
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| {
            matches!(&node.spec, super::ComponentSpec::KvSentinel(spec) if spec.database == database)
        })
        .map(|(index, _)| crate::message::NodeId(index as u32))
        .collect()
}

/// The settings of `database` (its first replica's).
pub fn database_spec<'a>(
    scenario: &'a super::Scenario,
    database: &str,
) -> Option<&'a KvDatabaseSpec> {
    scenario
        .topology
        .nodes
        .iter()
        .find_map(|node| match &node.spec {
            super::ComponentSpec::KvDatabase(spec) if spec.database == database => Some(spec),
            _ => None,
        })
}

/// How a `kv_shard_balancer` hands the moved keys over to their new shards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReshardCutover {
    /// Copy every moved key while writes go on; then freeze: the clients hold
    /// new operations on moved keys and confirm none is in flight; copy again
    /// every key whose value changed (catch-up); then switch the clients'
    /// routing and release what they held (Vitess's SwitchWrites with
    /// vtgate buffering, MongoDB's migration critical section). No
    /// acknowledged write is left behind; moved keys are unavailable for the
    /// length of the freeze.
    #[default]
    FreezeAndCatchUp,
    /// Copy every moved key once, then switch routing, without a freeze: a
    /// write the old shard acknowledges after its key was copied never
    /// reaches the new shard (the naive "copy, then flip" migration).
    CopyThenSwitch,
}

/// Adds one shard to the keyspace of some `kv_client`s at `add_at_ms` and
/// moves the keys the sharding strategy now assigns elsewhere (only those
/// whose ring arcs moved under consistent hashing; most keys under hash mod N).
/// It copies each moved key from its old shard's primary/leader to its new
/// shard's with ordinary reads and writes, then switches the clients'
/// routing as `cutover` says. The old shard keeps its copies (orphans, as a
/// MongoDB donor does until its range deleter runs). Every moved key, the
/// freeze and the cut-over are facts; keys and bytes moved are metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KvShardBalancerSpec {
    /// The `kv_client` nodes whose keyspace is resharded. They must list the
    /// same `databases` and use the same `sharding`, `virtual_nodes_per_shard`
    /// and `key_count`; the balancer routes keys exactly as they do.
    pub clients: Vec<String>,
    /// The database (`kv_database` name) added as the last shard. It must
    /// not be one of the clients' `databases`.
    pub add_database: String,
    /// When the shard is added and the move starts.
    #[serde(default = "default_add_at_ms")]
    pub add_at_ms: u64,
    /// `freeze_and_catch_up` (safe) or `copy_then_switch` (loses writes
    /// acknowledged during the copy).
    #[serde(default)]
    pub cutover: ReshardCutover,
    /// Keys copied at the same time.
    #[serde(default = "default_copy_parallelism")]
    pub copy_parallelism: u32,
    /// Size of one stored value: each copy write carries this many bytes (on
    /// bandwidth-limited links the move takes time) and `bytes_moved` counts them.
    #[serde(default = "default_value_size_bytes")]
    pub value_size_bytes: u32,
    /// A copy read or write unanswered this long is sent again.
    #[serde(default = "default_balancer_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Sends per key (redirects, timeouts, refusals); beyond it the move is
    /// aborted and the clients keep the old routing.
    #[serde(default = "default_balancer_max_attempts_per_key")]
    pub max_attempts_per_key: u32,
    /// Freeze and switch notices are re-sent to clients that have not
    /// confirmed them this often.
    #[serde(default = "default_notify_interval_ms")]
    pub notify_interval_ms: u64,
}

fn default_add_at_ms() -> u64 {
    5_000
}
fn default_copy_parallelism() -> u32 {
    8
}
fn default_value_size_bytes() -> u32 {
    1_024
}
fn default_balancer_request_timeout_ms() -> u64 {
    1_000
}
fn default_balancer_max_attempts_per_key() -> u32 {
    20
}
fn default_notify_interval_ms() -> u64 {
    200
}

/// The `kv_shard_balancer` (node index) that names `client` (a node id), if any.
pub fn balancer_of_client(scenario: &super::Scenario, client: &str) -> Option<usize> {
    scenario
        .topology
        .nodes
        .iter()
        .position(|node| {
            matches!(&node.spec, super::ComponentSpec::KvShardBalancer(spec) if spec.clients.iter().any(|name| name == client))
        })
}
