//! The replicated key-value database's wire protocol (clients, replicas, sentinels) and the facts its replicas state for checkers.

use crate::message::{MessageClass, NodeId};
use crate::scenario::ReadConsistency;
use crate::time::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// Acknowledged writes remembered per key for judging reads stale.
const MAX_REMEMBERED_WRITES_PER_KEY: usize = 64;

/// The writes one client saw acknowledged, per key: (value, invoked, acknowledged).
/// Used by every component that reads and writes a database on its clients'
/// behalf (`kv_client`, `cache`) to count its own stale reads.
///
/// A read is stale when it returned a value older than a write this client
/// saw acknowledged before the read began (the older value's write finished
/// before the newer one started), or nothing at all after such a write. Only
/// this client's writes are judged, so with other writers the count is a
/// lower bound.
#[derive(Clone, Default)]
pub struct AcknowledgedWrites {
    per_key: BTreeMap<u32, VecDeque<(u64, SimTime, SimTime)>>,
}

impl AcknowledgedWrites {
    pub fn record(&mut self, key: u32, value: u64, invoked_at: SimTime, acknowledged_at: SimTime) {
        let known = self.per_key.entry(key).or_default();
        known.push_back((value, invoked_at, acknowledged_at));
        if known.len() > MAX_REMEMBERED_WRITES_PER_KEY {
            known.pop_front();
        }
    }

    /// True when `values` (what a read invoked at `invoked_at` saw) is older
    /// than a write acknowledged by then. A value this client did not write,
    /// or wrote too long ago to remember, is not judged.
    pub fn read_is_stale(&self, key: u32, values: &[u64], invoked_at: SimTime) -> bool {
        let Some(known) = self.per_key.get(&key) else {
            return false;
        };
        let newest_before_read = known
            .iter()
            .filter(|(_, _, acknowledged)| *acknowledged < invoked_at)
            .max_by_key(|(_, invoked, _)| *invoked);
        let Some((_, newest_invoked, _)) = newest_before_read else {
            return false;
        };
        if values.is_empty() {
            return true;
        }
        values.iter().all(|value| {
            known
                .iter()
                .find(|(written, ..)| written == value)
                .is_some_and(|(_, _, acknowledged)| acknowledged < newest_invoked)
        })
    }
}

/// What a client asks: a read or a write of one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbOperation {
    Read { key: u32 },
    Write { key: u32, value: u64 },
}

impl DbOperation {
    pub fn key(self) -> u32 {
        match self {
            DbOperation::Read { key } | DbOperation::Write { key, .. } => key,
        }
    }
}

impl fmt::Display for DbOperation {
    /// Also the operation's text in the history (`write k=0 v=3`), the same
    /// form `raft_kv_client` uses so the register checkers read both.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbOperation::Read { key } => write!(formatter, "read k={key}"),
            DbOperation::Write { key, value } => write!(formatter, "write k={key} v={value}"),
        }
    }
}

/// A version vector: (replica, counter) pairs sorted by replica.
pub type VersionVector = Vec<(NodeId, u64)>;

/// True when `a` has seen everything `b` has (a ≥ b entry by entry).
pub fn vv_descends(a: &VersionVector, b: &VersionVector) -> bool {
    b.iter().all(|(node, counter)| {
        a.iter()
            .find(|(other, _)| other == node)
            .is_some_and(|(_, mine)| mine >= counter)
    })
}

/// The entry-wise maximum of two version vectors.
pub fn vv_merge(a: &VersionVector, b: &VersionVector) -> VersionVector {
    let mut merged: std::collections::BTreeMap<NodeId, u64> = a.iter().copied().collect();
    for (node, counter) in b {
        let entry = merged.entry(*node).or_insert(0);
        *entry = (*entry).max(*counter);
    }
    merged.into_iter().collect()
}

/// One stored version of a key in a Dynamo-style replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DynVersion {
    /// The value, which is also the write's identity (clients write unique values).
    pub value: u64,
    /// The coordinator's local clock when it took the write (µs; last-write-wins).
    pub timestamp_us: u64,
    /// The coordinator (breaks timestamp ties).
    pub coordinator: NodeId,
    /// Version vector (empty under last-write-wins).
    pub clock: VersionVector,
}

/// A replica's answer to a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbOutcome {
    /// Done. `values` is what a read saw: empty when never written, more than
    /// one when concurrent versions (siblings) exist. `context` is the merged
    /// version vector to send with a write that supersedes them.
    Ok {
        values: Vec<u64>,
        context: VersionVector,
    },
    /// Not the primary: nothing was written; try `primary_hint`.
    NotPrimary { primary_hint: Option<NodeId> },
    /// Refused before writing (`not_enough_good_replicas`, `backlog_full`).
    Rejected { reason: String },
    /// The coordinator could not reach its quorum in time; a write may still
    /// have reached some replicas (so the client records `info`).
    Unavailable { reason: String },
}

/// Messages of the replicated database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbMessage {
    /// Client → replica.
    Request {
        request: u64,
        operation: DbOperation,
        consistency: ReadConsistency,
        /// Dynamo with version vectors: the context of the client's last read of the key.
        context: VersionVector,
    },
    /// Replica → client.
    Response {
        request: u64,
        outcome: DbOutcome,
    },

    // Leader/follower replication.
    /// Primary → replica: the write at `offset` of the primary's replication stream.
    Stream {
        epoch: u64,
        offset: u64,
        key: u32,
        value: u64,
    },
    /// Replica → primary: "I hold everything up to `offset`" (Redis REPLCONF ACK).
    Ack {
        offset: u64,
    },
    /// Replica → primary: "send me what follows `offset`, whose write was
    /// `last_value`" (Redis PSYNC); a mismatch means a full resync.
    SyncRequest {
        offset: u64,
        last_value: Option<u64>,
    },
    /// Primary → replica: its whole data set as of `offset` (full resync, RDB transfer).
    FullSync {
        epoch: u64,
        offset: u64,
        /// The write at `offset` (what the replica names in its next PSYNC).
        last_value: Option<u64>,
        data: Vec<(u32, u64)>,
    },

    // Sentinel.
    Ping {
        probe: u64,
    },
    /// A replica's answer to a sentinel's ping (Redis INFO replication).
    Pong {
        probe: u64,
        primary: bool,
        epoch: u64,
        offset: u64,
        following: Option<NodeId>,
    },
    /// Sentinel → sentinel: is `primary` down for you? Vote for me in `epoch`.
    IsPrimaryDown {
        primary: NodeId,
        epoch: u64,
    },
    IsPrimaryDownReply {
        primary: NodeId,
        down: bool,
        epoch: u64,
        voted_for: Option<NodeId>,
    },
    /// Sentinel → replica: become primary in `epoch` (REPLICAOF NO ONE).
    Promote {
        epoch: u64,
    },
    /// Sentinel → replica: replicate from `primary` (REPLICAOF host port).
    ReplicaOf {
        primary: NodeId,
        epoch: u64,
    },
    /// Sentinel → sentinel: the configuration as of `epoch` (hello message).
    Hello {
        epoch: u64,
        primary: NodeId,
    },

    // Dynamo.
    /// Coordinator → replica: store `version` of `key` (for `hint_for` if a sloppy stand-in).
    Put {
        coordination: u64,
        key: u32,
        version: DynVersion,
        hint_for: Option<NodeId>,
    },
    PutAck {
        coordination: u64,
    },
    Get {
        coordination: u64,
        key: u32,
    },
    GetReply {
        coordination: u64,
        versions: Vec<DynVersion>,
    },

    // Resharding (`kv_shard_balancer` ↔ `kv_client`).
    /// Balancer → client: hold new operations on keys that move; answer
    /// `ReshardFrozen` once none of them is in flight.
    ReshardFreeze {
        epoch: u64,
    },
    /// Client → balancer: nothing on a moving key is in flight; new ones are held.
    ReshardFrozen {
        epoch: u64,
    },
    /// Balancer → client: route by the new shard map (`cut_over`) or keep the
    /// old one (the move was aborted), and send what was held.
    ReshardSwitch {
        epoch: u64,
        cut_over: bool,
    },
    /// Client → balancer: switched.
    ReshardSwitched {
        epoch: u64,
    },
}

impl DbMessage {
    pub fn class(&self) -> MessageClass {
        match self {
            DbMessage::Request { .. } => MessageClass::Request,
            DbMessage::Response { .. } => MessageClass::Response,
            DbMessage::Stream { .. }
            | DbMessage::Ack { .. }
            | DbMessage::SyncRequest { .. }
            | DbMessage::FullSync { .. }
            | DbMessage::Put { .. }
            | DbMessage::PutAck { .. }
            | DbMessage::Get { .. }
            | DbMessage::GetReply { .. } => MessageClass::Replication,
            DbMessage::Ping { .. } | DbMessage::Pong { .. } | DbMessage::Hello { .. } => {
                MessageClass::Heartbeat
            }
            DbMessage::IsPrimaryDown { .. }
            | DbMessage::IsPrimaryDownReply { .. }
            | DbMessage::Promote { .. }
            | DbMessage::ReplicaOf { .. }
            | DbMessage::ReshardFreeze { .. }
            | DbMessage::ReshardFrozen { .. }
            | DbMessage::ReshardSwitch { .. }
            | DbMessage::ReshardSwitched { .. } => MessageClass::Control,
        }
    }

    /// Bytes on the wire (roughly): full syncs carry the data set.
    pub fn size_bytes(&self) -> u32 {
        match self {
            DbMessage::FullSync { data, .. } => 64 + 12 * data.len().min(1 << 24) as u32,
            DbMessage::GetReply { versions, .. } => 64 + 48 * versions.len() as u32,
            _ => 64,
        }
    }
}

fn values_text(values: &[u64]) -> String {
    if values.is_empty() {
        return "nil".to_string();
    }
    let texts: Vec<String> = values.iter().map(u64::to_string).collect();
    texts.join(",")
}

fn node_text(node: Option<NodeId>) -> String {
    node.map_or("none".to_string(), |node| format!("n{}", node.0))
}

impl fmt::Display for DbOutcome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbOutcome::Ok { values, .. } => write!(formatter, "ok value={}", values_text(values)),
            DbOutcome::NotPrimary { primary_hint } => {
                write!(
                    formatter,
                    "not_primary primary={}",
                    node_text(*primary_hint)
                )
            }
            DbOutcome::Rejected { reason } => write!(formatter, "rejected {reason}"),
            DbOutcome::Unavailable { reason } => write!(formatter, "unavailable {reason}"),
        }
    }
}

impl fmt::Display for DbMessage {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbMessage::Request {
                request,
                operation,
                consistency,
                ..
            } => write!(
                formatter,
                "db req={request} {operation} consistency={}",
                consistency.as_str()
            ),
            DbMessage::Response { request, outcome } => {
                write!(formatter, "db_reply req={request} {outcome}")
            }
            DbMessage::Stream {
                epoch,
                offset,
                key,
                value,
            } => write!(
                formatter,
                "repl_stream epoch={epoch} offset={offset} k={key} v={value}"
            ),
            DbMessage::Ack { offset } => write!(formatter, "repl_ack offset={offset}"),
            DbMessage::SyncRequest { offset, last_value } => write!(
                formatter,
                "psync offset={offset} last={}",
                last_value.map_or("none".to_string(), |value| value.to_string())
            ),
            DbMessage::FullSync {
                epoch,
                offset,
                data,
                ..
            } => write!(
                formatter,
                "full_sync epoch={epoch} offset={offset} keys={}",
                data.len()
            ),
            DbMessage::Ping { probe } => write!(formatter, "sentinel_ping p={probe}"),
            DbMessage::Pong {
                probe,
                primary,
                epoch,
                offset,
                following,
            } => write!(
                formatter,
                "sentinel_pong p={probe} role={} epoch={epoch} offset={offset} following={}",
                if *primary { "primary" } else { "replica" },
                node_text(*following)
            ),
            DbMessage::IsPrimaryDown { primary, epoch } => write!(
                formatter,
                "is_primary_down primary=n{} epoch={epoch}",
                primary.0
            ),
            DbMessage::IsPrimaryDownReply {
                primary,
                down,
                epoch,
                voted_for,
            } => write!(
                formatter,
                "is_primary_down_reply primary=n{} down={down} epoch={epoch} vote={}",
                primary.0,
                node_text(*voted_for)
            ),
            DbMessage::Promote { epoch } => write!(formatter, "promote epoch={epoch}"),
            DbMessage::ReplicaOf { primary, epoch } => {
                write!(formatter, "replicaof n{} epoch={epoch}", primary.0)
            }
            DbMessage::Hello { epoch, primary } => {
                write!(
                    formatter,
                    "sentinel_hello epoch={epoch} primary=n{}",
                    primary.0
                )
            }
            DbMessage::Put {
                coordination,
                key,
                version,
                hint_for,
            } => write!(
                formatter,
                "put c={coordination} k={key} v={} ts={}{}",
                version.value,
                version.timestamp_us,
                hint_for.map_or(String::new(), |node| format!(" hint_for=n{}", node.0))
            ),
            DbMessage::PutAck { coordination } => write!(formatter, "put_ack c={coordination}"),
            DbMessage::Get { coordination, key } => {
                write!(formatter, "get c={coordination} k={key}")
            }
            DbMessage::GetReply {
                coordination,
                versions,
            } => {
                let values: Vec<u64> = versions.iter().map(|version| version.value).collect();
                write!(
                    formatter,
                    "get_reply c={coordination} values={}",
                    values_text(&values)
                )
            }
            DbMessage::ReshardFreeze { epoch } => write!(formatter, "reshard_freeze epoch={epoch}"),
            DbMessage::ReshardFrozen { epoch } => write!(formatter, "reshard_frozen epoch={epoch}"),
            DbMessage::ReshardSwitch { epoch, cut_over } => write!(
                formatter,
                "reshard_switch epoch={epoch} {}",
                if *cut_over { "cut_over" } else { "abort" }
            ),
            DbMessage::ReshardSwitched { epoch } => {
                write!(formatter, "reshard_switched epoch={epoch}")
            }
        }
    }
}

/// Why a Dynamo replica dropped a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupersededBy {
    /// Last-write-wins: the other version had a higher (clock, node) timestamp.
    HigherTimestamp,
    /// Version vectors: the other version had seen this one.
    Descendant,
}

/// Facts the database's replicas state, for the checkers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbFact {
    /// A leader/follower replica's role or epoch changed (or it started).
    Role {
        database: String,
        primary: bool,
        epoch: u64,
    },
    /// A leader/follower replica appended `value` to its replication log at
    /// `offset` (`as_primary`: it accepted the write from a client).
    Appended {
        database: String,
        offset: u64,
        key: u32,
        value: u64,
        as_primary: bool,
    },
    /// A replica replaced its whole data set and log with `from`'s, up to
    /// `offset` (full resync): whatever it held beyond that is gone.
    FullSync {
        database: String,
        from: NodeId,
        offset: u64,
        discarded: u64,
    },
    /// A replica lost its data (crash without durable storage).
    DataLost { database: String },
    /// A Dynamo replica dropped version `dropped` of `key`, keeping `kept`.
    Superseded {
        database: String,
        key: u32,
        kept: u64,
        dropped: u64,
        by: SupersededBy,
    },
    /// A `kv_shard_balancer` added shard `to_shards - 1`: `keys_moving` of
    /// `key_count` keys change shard.
    ReshardStarted {
        keyspace: String,
        from_shards: u32,
        to_shards: u32,
        key_count: u32,
        keys_moving: u32,
    },
    /// The balancer copied `key` from database `from` to `to`: `values` is
    /// what it read on `from` (empty: the key was never written, nothing to
    /// copy) and wrote on `to`; `catch_up`: the copy made during the freeze.
    ReshardKeyCopied {
        keyspace: String,
        key: u32,
        from: String,
        to: String,
        values: Vec<u64>,
        catch_up: bool,
    },
    /// Every client holds operations on moving keys and has none in flight.
    ReshardFrozen { keyspace: String },
    /// Routing switched to the new shard map (sent to every client).
    ReshardCutOver {
        keyspace: String,
        keys_moved: u32,
        bytes_moved: u64,
    },
    /// The move gave up; clients keep the old routing.
    ReshardAborted { keyspace: String, reason: String },
}

impl DbFact {
    /// The trace line's text, with nodes by their scenario ids (see
    /// `CoordFact::write_named`).
    pub fn write_named<'names>(
        &self,
        out: &mut String,
        name: &dyn Fn(&NodeId) -> &'names str,
    ) -> fmt::Result {
        use fmt::Write as _;
        match self {
            DbFact::FullSync {
                database,
                from,
                offset,
                discarded,
            } => write!(
                out,
                "db_full_sync {database} from={} offset={offset} discarded={discarded}",
                name(from)
            ),
            other => write!(out, "{other}"),
        }
    }
}

impl fmt::Display for DbFact {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbFact::Role {
                database,
                primary,
                epoch,
            } => write!(
                formatter,
                "db_role {database} {} epoch={epoch}",
                if *primary { "primary" } else { "replica" }
            ),
            DbFact::Appended {
                database,
                offset,
                key,
                value,
                as_primary,
            } => write!(
                formatter,
                "db_append {database} offset={offset} k={key} v={value}{}",
                if *as_primary { " (as primary)" } else { "" }
            ),
            DbFact::FullSync {
                database,
                from,
                offset,
                discarded,
            } => write!(
                formatter,
                "db_full_sync {database} from=n{} offset={offset} discarded={discarded}",
                from.0
            ),
            DbFact::DataLost { database } => write!(formatter, "db_data_lost {database}"),
            DbFact::Superseded {
                database,
                key,
                kept,
                dropped,
                by,
            } => write!(
                formatter,
                "db_superseded {database} k={key} kept={kept} dropped={dropped} by={}",
                match by {
                    SupersededBy::HigherTimestamp => "higher_timestamp",
                    SupersededBy::Descendant => "descendant",
                }
            ),
            DbFact::ReshardStarted {
                keyspace,
                from_shards,
                to_shards,
                key_count,
                keys_moving,
            } => write!(
                formatter,
                "reshard_started {keyspace} shards={from_shards}->{to_shards} moving={keys_moving}/{key_count} keys"
            ),
            DbFact::ReshardKeyCopied {
                keyspace,
                key,
                from,
                to,
                values,
                catch_up,
            } => write!(
                formatter,
                "reshard_key_copied {keyspace} k={key} {from}->{to} v={}{}",
                values_text(values),
                if *catch_up { " (catch-up)" } else { "" }
            ),
            DbFact::ReshardFrozen { keyspace } => write!(formatter, "reshard_frozen {keyspace}"),
            DbFact::ReshardCutOver {
                keyspace,
                keys_moved,
                bytes_moved,
            } => write!(
                formatter,
                "reshard_cut_over {keyspace} keys_moved={keys_moved} bytes_moved={bytes_moved}"
            ),
            DbFact::ReshardAborted { keyspace, reason } => {
                write!(formatter, "reshard_aborted {keyspace} {reason}")
            }
        }
    }
}
