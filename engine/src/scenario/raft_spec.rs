//! Scenario properties of the Raft key-value store: `raft_node` servers and `raft_kv_client` clients.

use crate::distribution::Distribution;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A server of a Raft-replicated key-value register store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RaftNodeSpec {
    /// Every `raft_node` of this cluster, this one included (the initial
    /// configuration; all members must list the same nodes).
    pub members: Vec<String>,
    /// Election timeouts are drawn uniformly from [min, max] each time the
    /// timer is reset. The Raft paper suggests 150–300 ms.
    #[serde(default = "default_election_timeout_min_ms")]
    pub election_timeout_min_ms: u64,
    #[serde(default = "default_election_timeout_max_ms")]
    pub election_timeout_max_ms: u64,
    /// The leader sends AppendEntries (possibly empty) to every follower this often.
    #[serde(default = "default_heartbeat_interval_ms")]
    pub heartbeat_interval_ms: u64,
    /// Pre-vote (dissertation §9.6): a server asks whether it could win before
    /// raising its term, so a server that was cut off cannot depose a healthy leader.
    #[serde(default)]
    pub pre_vote: bool,
    /// A leader that has not heard from a majority for an election timeout steps down.
    #[serde(default = "default_true")]
    pub check_quorum: bool,
    /// Term, vote, log and snapshot are fsynced before any reply and survive a
    /// crash. False keeps them in memory only: a restarted server forgets its
    /// vote and its log, which breaks Raft's safety (see the raft_safety tests).
    #[serde(default = "default_true")]
    pub durable_storage: bool,
    /// Time to make term, vote and new log entries durable (fsync) before the
    /// messages that depend on them leave: a candidate's vote requests, a
    /// voter's answer, a follower's acknowledgement. Later messages queue
    /// behind the write. Absent: writes take no time. Only with `durable_storage`.
    #[serde(default)]
    pub disk_write_latency: Option<Distribution>,
    /// Entries in one AppendEntries message at most.
    #[serde(default = "default_max_entries_per_append")]
    pub max_entries_per_append: u64,
    /// AppendEntries with entries in flight per follower (pipelining depth).
    #[serde(default = "default_max_inflight_appends")]
    pub max_inflight_appends: u32,
    /// Client requests are refused (`too_many_uncommitted`) while this many
    /// entries are appended but not committed.
    #[serde(default = "default_max_uncommitted_entries")]
    pub max_uncommitted_entries: u64,
    /// Client requests are refused (`log_full`) while the log holds this many entries since the last snapshot.
    #[serde(default = "default_max_log_entries")]
    pub max_log_entries: u64,
    /// Snapshot the store and drop the log prefix once this many applied
    /// entries are in the log (0: never compact).
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
fn default_max_entries_per_append() -> u64 {
    64
}
fn default_max_inflight_appends() -> u32 {
    4
}
fn default_max_uncommitted_entries() -> u64 {
    1_000
}
fn default_max_log_entries() -> u64 {
    100_000
}
fn default_snapshot_threshold_entries() -> u64 {
    1_000
}

/// Clients of the Raft key-value store: `concurrency` processes, each issuing
/// one read, write or cas at a time, following leader redirects. Every
/// operation is recorded invoke → ok / fail / info.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RaftKvClientSpec {
    /// The `raft_node` servers to try (the client learns the leader from redirects).
    pub members: Vec<String>,
    /// Logical client processes; each has one operation outstanding at a time.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// Pause between one operation's end and the process's next operation.
    #[serde(default = "default_think_time")]
    pub think_time: Distribution,
    /// Registers are keys 0..key_count.
    #[serde(default = "default_key_count")]
    pub key_count: u32,
    /// Written and compared values are drawn from 0..value_count (small, as in
    /// Jepsen, so cas operations sometimes succeed).
    #[serde(default = "default_value_count")]
    pub value_count: u64,
    /// Share of reads among operations; the rest are writes and cas.
    #[serde(default = "default_read_fraction")]
    pub read_fraction: f64,
    /// Share of cas among operations.
    #[serde(default = "default_cas_fraction")]
    pub cas_fraction: f64,
    /// An operation without an answer for this long ends as `info` (unknown outcome).
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Sends per operation (first try, redirects, retries after "leader
    /// unknown"); beyond it the operation fails (nothing was appended).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Wait before retrying when a server knows no leader.
    #[serde(default = "default_retry_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// No new operations after this time (absent: until the end of the run).
    #[serde(default)]
    pub stop_ms: Option<u64>,
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
fn default_value_count() -> u64 {
    5
}
fn default_read_fraction() -> f64 {
    0.4
}
fn default_cas_fraction() -> f64 {
    0.2
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
