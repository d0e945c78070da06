//! The coordination service's data model (a ZooKeeper-style tree of znodes with sessions) and its wire protocol, shared by `coord_server`, `coord_client` and the checkers.
//!
//! The tree (`ZTree`) is the replicated state machine: every `coord_server`
//! applies the same committed `CoordCommand`s in log order (the shared Raft
//! core orders them), so every server holds the same tree at the same index.
//! `zxid` is the Raft log index of the command that made a change — unique
//! and increasing across the ensemble, as ZooKeeper's zxid is, which is why
//! a lock node's `czxid` is a valid fencing token.

use crate::message::{MessageClass, NodeId};
use crate::raft::RaftMessage;
use crate::scenario::limits::{MAX_COORD_PATH_CHARS, MAX_COORD_ZNODES};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// One znode. `data` is a number (registers, config values, instance ids):
/// the simulator cares about versions and ordering, not payload bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZNode {
    pub data: u64,
    /// Data version: +1 on every set (ZooKeeper's `version`).
    pub version: u32,
    /// Child version: +1 on every child created or deleted (`cversion`).
    pub cversion: u32,
    /// zxid (log index) of the create; fencing tokens are taken from it.
    pub czxid: u64,
    /// zxid of the last change.
    pub mzxid: u64,
    /// The session that owns an ephemeral node (deleted when it ends).
    pub ephemeral_owner: Option<u64>,
    /// Next suffix for a sequential child (ZooKeeper uses the parent's cversion).
    pub next_sequence: u32,
}

/// A live session: the client it belongs to and its negotiated timeout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub client: NodeId,
    pub timeout_ms: u64,
}

/// The replicated state: the tree (root `/` implicit) and the live sessions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ZTree {
    pub nodes: BTreeMap<String, ZNode>,
    pub sessions: BTreeMap<u64, SessionInfo>,
}

/// Write operations: they go through the leader and the Raft log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordWrite {
    CreateSession {
        timeout_ms: u64,
    },
    /// The leader proposes it when a session's timeout passed (`expired`),
    /// or the client closes it.
    CloseSession {
        session: u64,
        expired: bool,
    },
    Create {
        path: String,
        data: u64,
        ephemeral: bool,
        sequential: bool,
    },
    /// Conditional when `expected_version` is set (compare-and-set on the version).
    SetData {
        path: String,
        data: u64,
        expected_version: Option<u32>,
    },
    Delete {
        path: String,
        expected_version: Option<u32>,
    },
    /// A no-op through the log: a read after it sees every write committed
    /// before it (ZooKeeper's `sync`).
    Sync,
}

/// Reads: served by the server the client is connected to, from its own
/// applied tree (possibly stale), after a `Sync` when asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordRead {
    GetData { path: String, watch: bool },
    GetChildren { path: String, watch: bool },
    Exists { path: String, watch: bool },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordRequest {
    Write(CoordWrite),
    /// `sync`: first pass a `Sync` through the log, then read.
    Read {
        read: CoordRead,
        sync: bool,
    },
    /// Keeps the session alive; answered `Pong` (or `SessionExpired`).
    Ping,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordError {
    NoNode,
    NodeExists,
    BadVersion,
    NotEmpty,
    /// The parent of a new node does not exist.
    NoParent,
    /// Ephemeral nodes cannot have children (as in ZooKeeper).
    NoChildrenForEphemerals,
    SessionExpired,
    /// The ensemble holds `MAX_COORD_ZNODES` nodes already.
    TooManyZnodes,
    /// This server knows no leader (cut off, or an election is running):
    /// it refuses the request rather than serve a stale or unordered answer.
    NotServing,
    /// The leader refused to append (`too_many_uncommitted`, `log_full`).
    Overloaded,
    /// A malformed path (not absolute, empty segment, too long).
    BadPath,
}

impl CoordError {
    pub fn as_str(self) -> &'static str {
        match self {
            CoordError::NoNode => "no_node",
            CoordError::NodeExists => "node_exists",
            CoordError::BadVersion => "bad_version",
            CoordError::NotEmpty => "not_empty",
            CoordError::NoParent => "no_parent",
            CoordError::NoChildrenForEphemerals => "no_children_for_ephemerals",
            CoordError::SessionExpired => "session_expired",
            CoordError::TooManyZnodes => "too_many_znodes",
            CoordError::NotServing => "not_serving",
            CoordError::Overloaded => "overloaded",
            CoordError::BadPath => "bad_path",
        }
    }
}

/// What a request produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordResult {
    SessionCreated {
        session: u64,
        timeout_ms: u64,
    },
    SessionClosed,
    Created {
        path: String,
        czxid: u64,
    },
    /// After a set: the node's new data version and zxid.
    Set {
        version: u32,
        mzxid: u64,
    },
    Deleted,
    Synced,
    Data {
        data: u64,
        version: u32,
        czxid: u64,
    },
    Children {
        names: Vec<String>,
    },
    /// `Exists`: the node's (version, czxid), None when absent.
    Exists {
        stat: Option<(u32, u64)>,
    },
    Pong,
    Error(CoordError),
}

/// What a one-shot watch reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchEventKind {
    NodeCreated,
    NodeDataChanged,
    NodeDeleted,
    NodeChildrenChanged,
}

impl WatchEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchEventKind::NodeCreated => "created",
            WatchEventKind::NodeDataChanged => "data_changed",
            WatchEventKind::NodeDeleted => "deleted",
            WatchEventKind::NodeChildrenChanged => "children_changed",
        }
    }
}

/// A command in the Raft log: the write, the session it acts for, and where
/// its answer goes (`origin` is the server the client is connected to; it
/// answers when it applies the entry, as a ZooKeeper follower does).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoordCommand {
    pub origin: NodeId,
    pub client: NodeId,
    pub xid: u64,
    pub session: u64,
    pub write: CoordWrite,
}

/// The messages of the coordination service and of its recipes' targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordPayload {
    /// Server ↔ server Raft traffic.
    Raft(RaftMessage<CoordCommand, ZTree>),
    /// A server that does not lead hands a client's write to the leader.
    Forward(CoordCommand),
    /// A server tells the leader that `session` is alive (a client pinged it).
    Touch { session: u64 },
    /// Client → server. `session` 0: none yet (only `CreateSession`).
    Request {
        xid: u64,
        session: u64,
        request: CoordRequest,
    },
    /// Server → client.
    Reply { xid: u64, result: CoordResult },
    /// Server → client: a one-shot watch fired.
    Watch { path: String, kind: WatchEventKind },
    /// A recipe's client → `fenced_storage`: a write made while believing it
    /// holds `resource` with `token` (0: no token).
    StorageWrite {
        resource: String,
        token: u64,
        write: u64,
    },
    StorageWriteReply {
        write: u64,
        accepted: bool,
        highest_token: u64,
    },
}

impl CoordPayload {
    pub fn class(&self) -> MessageClass {
        match self {
            CoordPayload::Raft(message) => match message {
                RaftMessage::AppendEntries { entries, .. } if entries.is_empty() => {
                    MessageClass::Heartbeat
                }
                RaftMessage::RequestVote { .. } | RaftMessage::RequestVoteResponse { .. } => {
                    MessageClass::Control
                }
                _ => MessageClass::Replication,
            },
            CoordPayload::Forward(_) => MessageClass::Replication,
            CoordPayload::Touch { .. } => MessageClass::Heartbeat,
            CoordPayload::Request {
                request: CoordRequest::Ping,
                ..
            } => MessageClass::Heartbeat,
            CoordPayload::Reply {
                result: CoordResult::Pong,
                ..
            } => MessageClass::Heartbeat,
            CoordPayload::Request { .. } | CoordPayload::StorageWrite { .. } => {
                MessageClass::Request
            }
            CoordPayload::Reply { .. } | CoordPayload::StorageWriteReply { .. } => {
                MessageClass::Response
            }
            CoordPayload::Watch { .. } => MessageClass::Control,
        }
    }

    pub fn size_bytes(&self) -> u32 {
        match self {
            CoordPayload::Raft(message) => message.size_bytes(),
            _ => 96,
        }
    }
}

impl fmt::Display for CoordWrite {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version = |expected: &Option<u32>| {
            expected.map_or(String::new(), |version| format!(" if_version={version}"))
        };
        match self {
            CoordWrite::CreateSession { timeout_ms } => {
                write!(formatter, "create_session timeout={timeout_ms}ms")
            }
            CoordWrite::CloseSession { session, expired } => write!(
                formatter,
                "close_session s{session}{}",
                if *expired { " expired" } else { "" }
            ),
            CoordWrite::Create {
                path,
                data,
                ephemeral,
                sequential,
            } => write!(
                formatter,
                "create {path} data={data}{}{}",
                if *ephemeral { " ephemeral" } else { "" },
                if *sequential { " sequential" } else { "" }
            ),
            CoordWrite::SetData {
                path,
                data,
                expected_version,
            } => write!(
                formatter,
                "set {path} data={data}{}",
                version(expected_version)
            ),
            CoordWrite::Delete {
                path,
                expected_version,
            } => write!(formatter, "delete {path}{}", version(expected_version)),
            CoordWrite::Sync => write!(formatter, "sync"),
        }
    }
}

impl fmt::Display for CoordRead {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (verb, path, watch) = match self {
            CoordRead::GetData { path, watch } => ("get", path, watch),
            CoordRead::GetChildren { path, watch } => ("children", path, watch),
            CoordRead::Exists { path, watch } => ("exists", path, watch),
        };
        write!(
            formatter,
            "{verb} {path}{}",
            if *watch { " watch" } else { "" }
        )
    }
}

impl fmt::Display for CoordResult {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoordResult::SessionCreated {
                session,
                timeout_ms,
            } => write!(formatter, "session s{session} timeout={timeout_ms}ms"),
            CoordResult::SessionClosed => write!(formatter, "session_closed"),
            CoordResult::Created { path, czxid } => {
                write!(formatter, "created {path} czxid={czxid}")
            }
            CoordResult::Set { version, mzxid } => {
                write!(formatter, "set version={version} mzxid={mzxid}")
            }
            CoordResult::Deleted => write!(formatter, "deleted"),
            CoordResult::Synced => write!(formatter, "synced"),
            CoordResult::Data {
                data,
                version,
                czxid,
            } => write!(formatter, "data={data} version={version} czxid={czxid}"),
            CoordResult::Children { names } => write!(formatter, "children={}", names.join(",")),
            CoordResult::Exists { stat } => match stat {
                Some((version, czxid)) => {
                    write!(formatter, "exists version={version} czxid={czxid}")
                }
                None => write!(formatter, "absent"),
            },
            CoordResult::Pong => write!(formatter, "pong"),
            CoordResult::Error(error) => write!(formatter, "error {}", error.as_str()),
        }
    }
}

impl fmt::Display for CoordPayload {
    /// Stable text for trace lines.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoordPayload::Raft(message) => write!(formatter, "coord raft {message}"),
            CoordPayload::Forward(command) => write!(
                formatter,
                "coord forward s{} xid={} {}",
                command.session, command.xid, command.write
            ),
            CoordPayload::Touch { session } => write!(formatter, "coord touch s{session}"),
            CoordPayload::Request {
                xid,
                session,
                request,
            } => match request {
                CoordRequest::Write(write) => {
                    write!(formatter, "coord s{session} xid={xid} {write}")
                }
                CoordRequest::Read { read, sync } => write!(
                    formatter,
                    "coord s{session} xid={xid} {}{read}",
                    if *sync { "sync+" } else { "" }
                ),
                CoordRequest::Ping => write!(formatter, "coord s{session} ping"),
            },
            CoordPayload::Reply { xid, result } => {
                write!(formatter, "coord reply xid={xid} {result}")
            }
            CoordPayload::Watch { path, kind } => {
                write!(formatter, "coord watch {path} {}", kind.as_str())
            }
            CoordPayload::StorageWrite {
                resource,
                token,
                write,
            } => write!(
                formatter,
                "storage write {resource} w={write} token={token}"
            ),
            CoordPayload::StorageWriteReply {
                write,
                accepted,
                highest_token,
            } => write!(
                formatter,
                "storage {} w={write} highest_token={highest_token}",
                if *accepted { "accepted" } else { "rejected" }
            ),
        }
    }
}

/// Facts of the coordination slice, stated for its checkers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordFact {
    /// The leader expired `session` (no ping within its timeout); its
    /// ephemeral nodes are deleted with it.
    SessionExpired { session: u64, client: NodeId },
    /// This client now believes it leads election (or holds lock) `group`,
    /// with its node's czxid as token.
    Leader { group: String, token: u64 },
    /// This client stopped believing it leads `group`.
    LeaderStepDown {
        group: String,
        token: u64,
        reason: String,
    },
    /// A `fenced_storage` accepted or rejected a write to `resource` from
    /// `writer` carrying `token` (0: none). For cron jobs `write` is the tick.
    StorageWrite {
        resource: String,
        writer: NodeId,
        token: u64,
        write: u64,
        accepted: bool,
    },
    /// A Snowflake generator issued `id` (timestamp ms since its epoch, sequence).
    SnowflakeId {
        worker: u32,
        id: u64,
        timestamp_ms: u64,
        sequence: u32,
    },
    /// A generator saw its clock read `behind_ms` earlier than the last id's timestamp.
    ClockWentBackwards { behind_ms: u64, policy: String },
    /// A cache started a backend load of `key`; `loads_in_flight` counts this
    /// key's loads now outstanding (more than one is a stampede).
    CacheLoad {
        key: u32,
        loads_in_flight: u32,
        early: bool,
    },
    /// A registry watcher's current view of a service's instances.
    RegistryView {
        path: String,
        instances: Vec<String>,
    },
    /// A config subscriber read `path` at `version`.
    ConfigSeen {
        path: String,
        data: u64,
        version: u32,
    },
}

impl CoordFact {
    /// The trace line's text, with nodes by their scenario ids (`Display`
    /// has only their indices, `n{index}`, which are off by one against ids
    /// such as `n1…n5` that users see).
    pub fn write_named<'names>(
        &self,
        out: &mut String,
        name: &dyn Fn(&NodeId) -> &'names str,
    ) -> fmt::Result {
        use fmt::Write as _;
        match self {
            CoordFact::SessionExpired { session, client } => {
                write!(out, "session_expired s{session} client={}", name(client))
            }
            CoordFact::StorageWrite {
                resource,
                writer,
                token,
                write,
                accepted,
            } => write!(
                out,
                "storage_write {resource} w={write} writer={} token={token} {}",
                name(writer),
                if *accepted { "accepted" } else { "rejected" }
            ),
            other => write!(out, "{other}"),
        }
    }
}

impl fmt::Display for CoordFact {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoordFact::SessionExpired { session, client } => {
                write!(formatter, "session_expired s{session} client=n{}", client.0)
            }
            CoordFact::Leader { group, token } => write!(formatter, "leader {group} token={token}"),
            CoordFact::LeaderStepDown {
                group,
                token,
                reason,
            } => write!(formatter, "step_down {group} token={token} ({reason})"),
            CoordFact::StorageWrite {
                resource,
                writer,
                token,
                write,
                accepted,
            } => write!(
                formatter,
                "storage_write {resource} w={write} writer=n{} token={token} {}",
                writer.0,
                if *accepted { "accepted" } else { "rejected" }
            ),
            CoordFact::SnowflakeId {
                worker,
                id,
                timestamp_ms,
                sequence,
            } => write!(
                formatter,
                "snowflake_id {id} worker={worker} ts={timestamp_ms} seq={sequence}"
            ),
            CoordFact::ClockWentBackwards { behind_ms, policy } => {
                write!(
                    formatter,
                    "clock_backwards by={behind_ms}ms policy={policy}"
                )
            }
            CoordFact::CacheLoad {
                key,
                loads_in_flight,
                early,
            } => write!(
                formatter,
                "cache_load key={key} in_flight={loads_in_flight}{}",
                if *early { " early" } else { "" }
            ),
            CoordFact::RegistryView { path, instances } => {
                write!(formatter, "registry_view {path} [{}]", instances.join(","))
            }
            CoordFact::ConfigSeen {
                path,
                data,
                version,
            } => write!(
                formatter,
                "config_seen {path} data={data} version={version}"
            ),
        }
    }
}

/// A path is absolute, has no empty or trailing segment, and is bounded.
pub fn valid_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() > 1
        && path.len() <= MAX_COORD_PATH_CHARS
        && !path.ends_with('/')
        && !path.contains("//")
}

/// The parent of `/a/b` is `/a`; of `/a` it is `/` (the implicit root).
pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(position) => &path[..position],
    }
}

/// A change to the tree that watches may be waiting for: (path, event).
pub type TreeChange = (String, WatchEventKind);

impl ZTree {
    /// The names (last segments) of `path`'s children, sorted.
    pub fn children(&self, path: &str) -> Vec<String> {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(child, _)| child.starts_with(&prefix))
            .filter(|(child, _)| !child[prefix.len()..].contains('/'))
            .map(|(child, _)| child[prefix.len()..].to_string())
            .collect()
    }

    fn exists(&self, path: &str) -> bool {
        path == "/" || self.nodes.contains_key(path)
    }

    /// Answers a read from this tree.
    pub fn read(&self, read: &CoordRead) -> CoordResult {
        match read {
            CoordRead::GetData { path, .. } => match self.nodes.get(path) {
                Some(node) => CoordResult::Data {
                    data: node.data,
                    version: node.version,
                    czxid: node.czxid,
                },
                None => CoordResult::Error(CoordError::NoNode),
            },
            CoordRead::GetChildren { path, .. } => {
                if self.exists(path) {
                    CoordResult::Children {
                        names: self.children(path),
                    }
                } else {
                    CoordResult::Error(CoordError::NoNode)
                }
            }
            CoordRead::Exists { path, .. } => CoordResult::Exists {
                stat: self.nodes.get(path).map(|node| (node.version, node.czxid)),
            },
        }
    }

    /// Applies a committed write at log index `zxid`; returns the result and
    /// the changes watches may be waiting for. Deterministic: every server
    /// applying the same commands gets the same tree and results.
    pub fn apply(
        &mut self,
        zxid: u64,
        command: &CoordCommand,
        changes: &mut Vec<TreeChange>,
    ) -> CoordResult {
        let session_alive =
            |tree: &ZTree| command.session != 0 && tree.sessions.contains_key(&command.session);
        match &command.write {
            CoordWrite::CreateSession { timeout_ms } => {
                // The session id is the zxid of its creation: unique, known to every server.
                self.sessions.insert(
                    zxid,
                    SessionInfo {
                        client: command.client,
                        timeout_ms: *timeout_ms,
                    },
                );
                CoordResult::SessionCreated {
                    session: zxid,
                    timeout_ms: *timeout_ms,
                }
            }
            CoordWrite::CloseSession { session, .. } => {
                if self.sessions.remove(session).is_none() {
                    return CoordResult::Error(CoordError::SessionExpired);
                }
                let owned: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|(_, node)| node.ephemeral_owner == Some(*session))
                    .map(|(path, _)| path.clone())
                    .collect();
                for path in owned {
                    self.remove(zxid, &path, changes);
                }
                CoordResult::SessionClosed
            }
            CoordWrite::Sync => CoordResult::Synced,
            _ if !session_alive(self) => CoordResult::Error(CoordError::SessionExpired),
            CoordWrite::Create {
                path,
                data,
                ephemeral,
                sequential,
            } => {
                if !valid_path(path) {
                    return CoordResult::Error(CoordError::BadPath);
                }
                let parent = parent_of(path).to_string();
                let sequence = match self.nodes.get(&parent) {
                    None if parent != "/" => return CoordResult::Error(CoordError::NoParent),
                    Some(node) if node.ephemeral_owner.is_some() => {
                        return CoordResult::Error(CoordError::NoChildrenForEphemerals);
                    }
                    Some(node) => node.next_sequence,
                    None => 0,
                };
                let path = if *sequential {
                    format!("{path}{sequence:010}")
                } else {
                    path.clone()
                };
                if self.nodes.contains_key(&path) {
                    return CoordResult::Error(CoordError::NodeExists);
                }
                if self.nodes.len() >= MAX_COORD_ZNODES {
                    return CoordResult::Error(CoordError::TooManyZnodes);
                }
                self.nodes.insert(
                    path.clone(),
                    ZNode {
                        data: *data,
                        version: 0,
                        cversion: 0,
                        czxid: zxid,
                        mzxid: zxid,
                        ephemeral_owner: ephemeral.then_some(command.session),
                        next_sequence: 0,
                    },
                );
                if let Some(parent_node) = self.nodes.get_mut(&parent) {
                    parent_node.cversion += 1;
                    parent_node.next_sequence += 1;
                }
                changes.push((path.clone(), WatchEventKind::NodeCreated));
                changes.push((parent, WatchEventKind::NodeChildrenChanged));
                CoordResult::Created { path, czxid: zxid }
            }
            CoordWrite::SetData {
                path,
                data,
                expected_version,
            } => {
                let Some(node) = self.nodes.get_mut(path) else {
                    return CoordResult::Error(CoordError::NoNode);
                };
                if expected_version.is_some_and(|expected| expected != node.version) {
                    return CoordResult::Error(CoordError::BadVersion);
                }
                node.data = *data;
                node.version += 1;
                node.mzxid = zxid;
                changes.push((path.clone(), WatchEventKind::NodeDataChanged));
                CoordResult::Set {
                    version: node.version,
                    mzxid: zxid,
                }
            }
            CoordWrite::Delete {
                path,
                expected_version,
            } => {
                let Some(node) = self.nodes.get(path) else {
                    return CoordResult::Error(CoordError::NoNode);
                };
                if expected_version.is_some_and(|expected| expected != node.version) {
                    return CoordResult::Error(CoordError::BadVersion);
                }
                if !self.children(path).is_empty() {
                    return CoordResult::Error(CoordError::NotEmpty);
                }
                self.remove(zxid, path, changes);
                CoordResult::Deleted
            }
        }
    }

    fn remove(&mut self, zxid: u64, path: &str, changes: &mut Vec<TreeChange>) {
        if self.nodes.remove(path).is_none() {
            return;
        }
        let parent = parent_of(path).to_string();
        if let Some(parent_node) = self.nodes.get_mut(&parent) {
            parent_node.cversion += 1;
            parent_node.mzxid = parent_node.mzxid.max(zxid);
        }
        changes.push((path.to_string(), WatchEventKind::NodeDeleted));
        changes.push((parent, WatchEventKind::NodeChildrenChanged));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(session: u64, write: CoordWrite) -> CoordCommand {
        CoordCommand {
            origin: NodeId(0),
            client: NodeId(9),
            xid: 0,
            session,
            write,
        }
    }

    fn create(path: &str, ephemeral: bool, sequential: bool) -> CoordWrite {
        CoordWrite::Create {
            path: path.to_string(),
            data: 0,
            ephemeral,
            sequential,
        }
    }

    #[test]
    fn sequential_children_get_increasing_suffixes_and_ephemerals_die_with_their_session() {
        let mut tree = ZTree::default();
        let mut changes = Vec::new();
        let session = match tree.apply(
            1,
            &command(0, CoordWrite::CreateSession { timeout_ms: 1_000 }),
            &mut changes,
        ) {
            CoordResult::SessionCreated { session, .. } => session,
            other => panic!("{other:?}"),
        };
        tree.apply(
            2,
            &command(session, create("/lock", false, false)),
            &mut changes,
        );
        let first = tree.apply(
            3,
            &command(session, create("/lock/n-", true, true)),
            &mut changes,
        );
        let second = tree.apply(
            4,
            &command(session, create("/lock/n-", true, true)),
            &mut changes,
        );
        assert_eq!(
            first,
            CoordResult::Created {
                path: "/lock/n-0000000000".into(),
                czxid: 3
            }
        );
        assert_eq!(
            second,
            CoordResult::Created {
                path: "/lock/n-0000000001".into(),
                czxid: 4
            }
        );
        assert_eq!(tree.children("/lock").len(), 2);
        changes.clear();
        tree.apply(
            5,
            &command(
                0,
                CoordWrite::CloseSession {
                    session,
                    expired: true,
                },
            ),
            &mut changes,
        );
        assert!(tree.children("/lock").is_empty(), "ephemerals deleted");
        assert!(
            tree.nodes.contains_key("/lock"),
            "the persistent parent stays"
        );
        assert!(changes.contains(&("/lock".to_string(), WatchEventKind::NodeChildrenChanged)));
        // A write for the closed session is refused.
        assert_eq!(
            tree.apply(
                6,
                &command(session, create("/x", false, false)),
                &mut changes
            ),
            CoordResult::Error(CoordError::SessionExpired)
        );
    }

    #[test]
    fn conditional_set_and_delete_compare_versions() {
        let mut tree = ZTree::default();
        let mut changes = Vec::new();
        tree.apply(
            1,
            &command(0, CoordWrite::CreateSession { timeout_ms: 1_000 }),
            &mut changes,
        );
        tree.apply(2, &command(1, create("/k", false, false)), &mut changes);
        let set = |expected| CoordWrite::SetData {
            path: "/k".into(),
            data: 7,
            expected_version: expected,
        };
        assert_eq!(
            tree.apply(3, &command(1, set(Some(0))), &mut changes),
            CoordResult::Set {
                version: 1,
                mzxid: 3
            }
        );
        assert_eq!(
            tree.apply(4, &command(1, set(Some(0))), &mut changes),
            CoordResult::Error(CoordError::BadVersion)
        );
        assert_eq!(
            tree.apply(
                5,
                &command(
                    1,
                    CoordWrite::Delete {
                        path: "/k".into(),
                        expected_version: Some(0)
                    }
                ),
                &mut changes
            ),
            CoordResult::Error(CoordError::BadVersion)
        );
        assert_eq!(
            tree.apply(6, &command(1, create("/k/c", false, false)), &mut changes),
            CoordResult::Created {
                path: "/k/c".into(),
                czxid: 6
            }
        );
        assert_eq!(
            tree.apply(
                7,
                &command(
                    1,
                    CoordWrite::Delete {
                        path: "/k".into(),
                        expected_version: None
                    }
                ),
                &mut changes
            ),
            CoordResult::Error(CoordError::NotEmpty)
        );
        assert_eq!(
            tree.apply(8, &command(1, create("/a/b", false, false)), &mut changes),
            CoordResult::Error(CoordError::NoParent)
        );
    }
}
