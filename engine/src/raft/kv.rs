//! The replicated key-value register store's protocol: commands in the Raft log, snapshots, and client requests/answers.

use crate::message::NodeId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One client operation on a register (Jepsen's `read`/`write`/`cas`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvOperation {
    Read {
        key: u32,
    },
    Write {
        key: u32,
        value: u64,
    },
    /// Compare-and-set: write `new` only if the register holds `expected`.
    Cas {
        key: u32,
        expected: u64,
        new: u64,
    },
}

impl fmt::Display for KvOperation {
    /// Also the operation's text in the history (`op … invoke write k=0 v=3`).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOperation::Read { key } => write!(formatter, "read k={key}"),
            KvOperation::Write { key, value } => write!(formatter, "write k={key} v={value}"),
            KvOperation::Cas { key, expected, new } => {
                write!(formatter, "cas k={key} {expected}->{new}")
            }
        }
    }
}

/// A command in the log: the operation and who is waiting for its answer.
/// Reads go through the log too, so every answer is linearizable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KvCommand {
    pub client: NodeId,
    pub request: u64,
    pub operation: KvOperation,
}

/// The state machine as of a log index: every register that has a value.
pub type KvSnapshot = Vec<(u32, u64)>;

/// A server's answer to a client request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvOutcome {
    /// Committed and applied; `value` is what a read saw (None: never written).
    Ok { value: Option<u64> },
    /// The cas was applied and did nothing: the register held `current`.
    CasMismatch { current: Option<u64> },
    /// Not the leader: nothing was appended; try `leader_hint`.
    NotLeader { leader_hint: Option<NodeId> },
    /// Refused before appending (`too_many_uncommitted`, `log_full`).
    Rejected { reason: String },
    /// Appended, but the entry was overwritten by a later leader: it never took effect.
    Lost,
    /// Appended, then this server stopped leading: the entry may or may not commit.
    Unknown,
}

impl fmt::Display for KvOutcome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOutcome::Ok { value } => write!(
                formatter,
                "ok value={}",
                value.map_or("nil".to_string(), |value| value.to_string())
            ),
            KvOutcome::CasMismatch { current } => write!(
                formatter,
                "cas_mismatch current={}",
                current.map_or("nil".to_string(), |value| value.to_string())
            ),
            KvOutcome::NotLeader { leader_hint } => write!(
                formatter,
                "not_leader leader={}",
                leader_hint.map_or("unknown".to_string(), |node| format!("n{}", node.0))
            ),
            KvOutcome::Rejected { reason } => write!(formatter, "rejected {reason}"),
            KvOutcome::Lost => write!(formatter, "lost"),
            KvOutcome::Unknown => write!(formatter, "unknown"),
        }
    }
}
