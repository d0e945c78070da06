//! Identifiers and the messages components exchange over the simulated network.
//!
//! `Payload` is the one place where component protocols meet the kernel: a new
//! component adds variants here (and a `describe` arm) without touching the
//! simulator, the network or the trace machinery.

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
    Request { operation: u64, stream: u32 },
    /// The answer to `operation`; `ok` false means the server reported an error.
    Response { operation: u64, ok: bool },
}

impl Payload {
    pub fn class(&self) -> MessageClass {
        match self {
            Payload::Request { .. } => MessageClass::Request,
            Payload::Response { .. } => MessageClass::Response,
        }
    }
}

impl Payload {
    /// Compact, stable binary form for the trace digest (cheaper than text).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Payload::Request { operation, stream } => {
                out.push(1);
                out.extend_from_slice(&operation.to_le_bytes());
                out.extend_from_slice(&stream.to_le_bytes());
            }
            Payload::Response { operation, ok } => {
                out.push(2);
                out.extend_from_slice(&operation.to_le_bytes());
                out.push(u8::from(*ok));
            }
        }
    }
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
