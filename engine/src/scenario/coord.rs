//! Scenario properties of the coordination slice: `coord_server` (a ZooKeeper/etcd-like ensemble on Raft), `coord_client` (sessions plus a recipe), `fenced_storage`, `cache` and `snowflake`.

use crate::distribution::Distribution;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A server of a Raft-replicated coordination service (znodes, sessions, watches).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoordServerSpec {
    /// Every `coord_server` of the ensemble, this one included (5 servers tolerate 2 failures).
    pub members: Vec<String>,
    /// Election timeouts are drawn uniformly from [min, max] (Raft's 150–300 ms by default).
    #[serde(default = "default_election_timeout_min_ms")]
    pub election_timeout_min_ms: u64,
    #[serde(default = "default_election_timeout_max_ms")]
    pub election_timeout_max_ms: u64,
    /// The leader's heartbeat period; it also checks session expiry this often.
    #[serde(default = "default_heartbeat_interval_ms")]
    pub heartbeat_interval_ms: u64,
    /// Raft pre-vote (etcd enables it by default since 3.5).
    #[serde(default = "default_true")]
    pub pre_vote: bool,
    /// Term, vote and log survive a crash (fsynced), as ZooKeeper's transaction log does.
    #[serde(default = "default_true")]
    pub durable_storage: bool,
    /// Smallest session timeout the ensemble grants (ZooKeeper: 2 × tickTime = 4 s).
    #[serde(default = "default_min_session_timeout_ms")]
    pub min_session_timeout_ms: u64,
    /// Largest session timeout the ensemble grants (ZooKeeper: 20 × tickTime = 40 s).
    #[serde(default = "default_max_session_timeout_ms")]
    pub max_session_timeout_ms: u64,
    /// Persistent znodes that exist from the start, each with data 0
    /// (e.g. `/registers/k0`, `/locks/orders`); parents first.
    #[serde(default)]
    pub initial_znodes: Vec<String>,
    /// Snapshot the tree and drop the log prefix after this many applied entries.
    #[serde(default = "default_snapshot_threshold_entries")]
    pub snapshot_threshold_entries: u64,
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
fn default_true() -> bool {
    true
}
fn default_min_session_timeout_ms() -> u64 {
    4_000
}
fn default_max_session_timeout_ms() -> u64 {
    40_000
}
fn default_snapshot_threshold_entries() -> u64 {
    1_000
}

/// A client of the coordination service: one session and one recipe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoordClientSpec {
    /// The `coord_server`s it may connect to (one at a time; the next on disconnect).
    pub servers: Vec<String>,
    /// Requested session timeout; the ensemble clamps it to its min/max. The
    /// client pings every third of it and calls itself disconnected after two
    /// thirds without an answer (ZooKeeper's client does the same).
    #[serde(default = "default_session_timeout_ms")]
    pub session_timeout_ms: u64,
    /// A request without an answer for this long fails as unknown (`info`).
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// What the client does with its session.
    pub recipe: CoordRecipe,
}

fn default_session_timeout_ms() -> u64 {
    4_000
}
fn default_request_timeout_ms() -> u64 {
    1_000
}

/// The recipes, as Apache Curator names them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CoordRecipe {
    /// Jepsen-style register operations on `/registers/k<n>` (which must be
    /// `initial_znodes`): reads, writes and version-checked cas, recorded as
    /// a history for `coord_linearizable`.
    Registers(RegistersRecipe),
    /// Leader election: an ephemeral sequential node under `path`; the lowest
    /// leads, every other watches its predecessor.
    LeaderElection(ElectionRecipe),
    /// A distributed lock (same protocol as election) whose holder writes to
    /// a `fenced_storage`, with the lock node's czxid as fencing token or not.
    Lock(LockRecipe),
    /// A service instance: registers itself as an ephemeral child of `path`.
    RegistryInstance(PathRecipe),
    /// A registry client: lists `path`'s children with a watch, again at every change.
    RegistryWatcher(PathRecipe),
    /// Sets the data of `path` (a config key) to 1, 2, 3… every `interval_ms`.
    ConfigPublisher(ConfigPublisherRecipe),
    /// Reads `path` with a watch; every change is pushed, then read again.
    ConfigSubscriber(PathRecipe),
    /// A cron scheduler: the elected leader fires job ticks to an executor.
    CronScheduler(CronRecipe),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistersRecipe {
    /// Registers are `/registers/k0` … `/registers/k<key_count - 1>`.
    #[serde(default = "default_one_u32")]
    pub key_count: u32,
    /// Written values are drawn from 1..=value_count.
    #[serde(default = "default_value_count")]
    pub value_count: u64,
    #[serde(default = "default_read_fraction")]
    pub read_fraction: f64,
    /// A cas reads the register, then sets it only if its version is unchanged.
    #[serde(default = "default_cas_fraction")]
    pub cas_fraction: f64,
    /// Reads first pass a `sync` through the leader (linearizable); false
    /// reads the connected server's copy, which may be stale.
    #[serde(default = "default_true")]
    pub sync_reads: bool,
    #[serde(default = "default_think_time")]
    pub think_time: Distribution,
    /// No new operations after this time (absent: until the end).
    #[serde(default)]
    pub stop_ms: Option<u64>,
}

fn default_one_u32() -> u32 {
    1
}
fn default_value_count() -> u64 {
    5
}
fn default_read_fraction() -> f64 {
    0.4
}
fn default_cas_fraction() -> f64 {
    0.2
}
fn default_think_time() -> Distribution {
    Distribution::Constant { value_ms: 20.0 }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ElectionRecipe {
    /// The election's parent znode (must exist: list it in `initial_znodes`).
    pub path: String,
    /// Stop acting as leader as soon as the connection is lost (Curator's
    /// advice); false keeps leading until told the session expired.
    #[serde(default = "default_true")]
    pub step_down_on_disconnect: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockRecipe {
    /// The lock's parent znode (must exist: list it in `initial_znodes`).
    pub path: String,
    /// The `fenced_storage` the holder writes to.
    pub storage: String,
    /// Send the lock node's czxid with every write, so the storage can reject
    /// a stale holder. False sends no token (Kleppmann's unsafe lock).
    #[serde(default = "default_true")]
    pub fencing: bool,
    /// How long the holder keeps the lock before releasing it.
    #[serde(default = "default_hold_ms")]
    pub hold_ms: u64,
    /// The holder writes this often while it believes it holds the lock.
    #[serde(default = "default_write_interval_ms")]
    pub write_interval_ms: u64,
    /// Wait after a release before asking for the lock again.
    #[serde(default = "default_hold_ms")]
    pub pause_between_ms: u64,
    /// Stop writing as soon as the connection is lost; false writes on until
    /// told the session expired (and a paused process is told nothing).
    #[serde(default)]
    pub step_down_on_disconnect: bool,
}

fn default_hold_ms() -> u64 {
    2_000
}
fn default_write_interval_ms() -> u64 {
    100
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathRecipe {
    /// The znode (a registry's service directory or a config key; must exist).
    pub path: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigPublisherRecipe {
    /// The config key's znode (must exist: list it in `initial_znodes`).
    pub path: String,
    #[serde(default = "default_hold_ms")]
    pub interval_ms: u64,
    /// No new versions after this time (absent: until the end).
    #[serde(default)]
    pub stop_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CronRecipe {
    /// The schedulers' election znode (must exist).
    pub path: String,
    /// The `fenced_storage` that runs the job (it records each tick it runs).
    pub executor: String,
    /// Tick `n` is due at `n × interval_ms` on the scheduler's clock.
    #[serde(default = "default_cron_interval_ms")]
    pub interval_ms: u64,
    /// Send the election node's czxid with every firing so the executor
    /// rejects a deposed scheduler.
    #[serde(default = "default_true")]
    pub fencing: bool,
    /// Stop firing as soon as the connection is lost (else only on expiry).
    #[serde(default)]
    pub step_down_on_disconnect: bool,
}

fn default_cron_interval_ms() -> u64 {
    1_000
}

/// A storage service that tracks the highest fencing token it has seen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FencedStorageSpec {
    /// Reject a write whose token is lower than the highest seen for its
    /// resource (Kleppmann's fencing). False accepts every write.
    #[serde(default = "default_true")]
    pub enforce_fencing: bool,
}

/// Cache eviction policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CacheEviction {
    /// Least recently used.
    Lru,
    /// Least frequently used (ties: least recently used).
    Lfu,
}

/// How a cache handles writes (issue 4: "cache-aside or write-through").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CacheWritePolicy {
    /// The write goes to the database, then the cached entry is deleted; the
    /// next read loads it. A read miss whose load overlaps the write can put
    /// the old value back after the delete: stale until the TTL.
    #[default]
    CacheAside,
    /// The write goes through the cache: one write per key at a time to the
    /// database, and on success the entry holds the written value. A load
    /// that started before a write completed is not cached.
    WriteThrough,
}

/// A cache in front of a backend: a `sink` or `service`-like node answering
/// `request`s (reads only), or a `kv_database` (reads and writes of values,
/// recorded as a history the database checkers judge).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    /// The node a miss is loaded from (it answers `request` with `response`).
    pub backend: String,
    /// Entries held at most; beyond it one is evicted.
    #[serde(default = "default_capacity_entries")]
    pub capacity_entries: u32,
    #[serde(default = "default_eviction")]
    pub eviction: CacheEviction,
    /// An entry expires this long after it was loaded (on the node's clock).
    #[serde(default = "default_ttl_ms")]
    pub ttl_ms: u64,
    /// Requests carry no key, so the cache draws one per request: key 0 (the
    /// hot key) with `hot_key_fraction`, else uniform over 1..key_count.
    #[serde(default = "default_key_count")]
    pub key_count: u32,
    #[serde(default = "default_hot_key_fraction")]
    pub hot_key_fraction: f64,
    /// Single-flight: concurrent misses on one key wait for one backend load.
    #[serde(default)]
    pub request_coalescing: bool,
    /// Probabilistic early expiration (XFetch, Vattani et al. 2015): a hit
    /// reloads early when `now - delta × beta × ln(U) ≥ expiry`, `delta`
    /// being the last load's duration. 0 turns it off; 1 is the paper's default.
    #[serde(default)]
    pub early_expiry_beta: f64,
    /// A load without an answer for this long fails the requests waiting on it.
    #[serde(default = "default_request_timeout_ms")]
    pub backend_timeout_ms: u64,
    /// Requests waiting for loads at most; beyond it requests are refused.
    #[serde(default = "default_max_waiting_requests")]
    pub max_waiting_requests: u32,
    /// The share of requests that are writes of the drawn key (a fresh,
    /// unique value each). Writes need a `kv_database` backend.
    #[serde(default)]
    pub write_fraction: f64,
    #[serde(default)]
    pub write_policy: CacheWritePolicy,
}

fn default_capacity_entries() -> u32 {
    1_000
}
fn default_eviction() -> CacheEviction {
    CacheEviction::Lru
}
fn default_ttl_ms() -> u64 {
    5_000
}
fn default_key_count() -> u32 {
    100
}
fn default_hot_key_fraction() -> f64 {
    0.5
}
fn default_max_waiting_requests() -> u32 {
    10_000
}

/// What a Snowflake generator does when its clock reads earlier than the
/// timestamp of the last id it issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockBackwardsPolicy {
    /// Hold requests until the clock passes the last timestamp (Twitter's
    /// original generator waits for small steps).
    Wait,
    /// Answer with an error (Twitter's generator throws for larger steps).
    Refuse,
    /// Issue ids from the earlier clock anyway: duplicates become possible.
    UnsafeIssue,
}

/// A Snowflake-style id generator: 41-bit ms timestamp, 10-bit worker, 12-bit sequence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnowflakeSpec {
    /// 0 to 1023, unique per generator.
    pub worker_id: u32,
    #[serde(default = "default_on_clock_backwards")]
    pub on_clock_backwards: ClockBackwardsPolicy,
    /// Requests held while waiting for the clock, at most (`wait` policy).
    #[serde(default = "default_max_waiting_requests")]
    pub max_waiting_requests: u32,
}

fn default_on_clock_backwards() -> ClockBackwardsPolicy {
    ClockBackwardsPolicy::Wait
}
