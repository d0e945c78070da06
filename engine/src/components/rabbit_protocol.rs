//! The AMQP 0-9-1 message model shared by the RabbitMQ broker, publishers, consumers, facts and checkers.

use crate::message::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A message's identity in the history: the publisher node and its own
/// sequence number. A republished message (after a nack or timeout) keeps it,
/// so duplicates are recognisable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RabbitMessageKey {
    pub publisher: NodeId,
    pub sequence: u64,
}

impl fmt::Display for RabbitMessageKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "n{}#{}", self.publisher.0, self.sequence)
    }
}

impl RabbitMessageKey {
    /// `publisher-name#sequence`, for checker details.
    pub fn named(&self, node_names: &[String]) -> String {
        let name = node_names
            .get(self.publisher.index())
            .map(String::as_str)
            .unwrap_or("?");
        format!("{name}#{}", self.sequence)
    }
}

/// Why a message was dead-lettered (the `reason` of an `x-death` entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RabbitDeathReason {
    /// `basic.reject` or `basic.nack` with `requeue=false`.
    Rejected,
    /// Per-message or per-queue TTL ran out.
    Expired,
    /// Dropped from the head of a full queue (or refused, with `reject-publish-dlx`).
    Maxlen,
    /// Quorum queues only: delivered more than `x-delivery-limit` times.
    DeliveryLimit,
}

impl RabbitDeathReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RabbitDeathReason::Rejected => "rejected",
            RabbitDeathReason::Expired => "expired",
            RabbitDeathReason::Maxlen => "maxlen",
            RabbitDeathReason::DeliveryLimit => "delivery_limit",
        }
    }
}

/// One entry of the `x-death` header RabbitMQ adds when it dead-letters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RabbitXDeath {
    pub queue: String,
    pub reason: RabbitDeathReason,
    /// How many times the message was dead-lettered from this queue for this reason.
    pub count: u32,
    /// Exchange and routing key the message had when it entered `queue`.
    pub exchange: String,
    pub routing_key: String,
}

/// An AMQP message: properties the broker acts on, and the body's size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RabbitMessage {
    pub key: RabbitMessageKey,
    pub exchange: String,
    pub routing_key: String,
    pub headers: BTreeMap<String, String>,
    /// `delivery_mode` 2.
    pub persistent: bool,
    pub priority: Option<u8>,
    /// The `expiration` property (per-message TTL).
    pub expiration_ms: Option<u64>,
    pub body_bytes: u32,
    /// Most recent first, as RabbitMQ keeps it.
    pub x_death: Vec<RabbitXDeath>,
}

impl RabbitMessage {
    /// Times dead-lettered in all (the sum of `x-death` counts).
    pub fn death_count(&self) -> u32 {
        self.x_death.iter().map(|entry| entry.count).sum()
    }
}

/// A consumer's answer for one delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RabbitSettlement {
    Ack,
    /// `basic.nack` (RabbitMQ extension).
    Nack {
        requeue: bool,
    },
    /// `basic.reject`.
    Reject {
        requeue: bool,
    },
}

impl RabbitSettlement {
    /// True for a refusal that asks the queue to dead-letter (or drop) the message.
    pub fn dead_letters(self) -> bool {
        matches!(
            self,
            RabbitSettlement::Nack { requeue: false } | RabbitSettlement::Reject { requeue: false }
        )
    }
}

impl fmt::Display for RabbitSettlement {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RabbitSettlement::Ack => write!(formatter, "ack"),
            RabbitSettlement::Nack { requeue } => write!(formatter, "nack requeue={requeue}"),
            RabbitSettlement::Reject { requeue } => write!(formatter, "reject requeue={requeue}"),
        }
    }
}

/// What finally happened to one queue's copy of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RabbitDisposal {
    /// Acknowledged by a consumer (or sent to an auto-ack consumer).
    Acked,
    /// Republished to the queue's dead-letter exchange.
    DeadLettered { reason: RabbitDeathReason },
    /// Removed for `reason` with no dead-letter exchange to take it (or a
    /// dead-letter cycle): gone, as the queue's policy says.
    Dropped { reason: RabbitDeathReason },
}

impl fmt::Display for RabbitDisposal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RabbitDisposal::Acked => write!(formatter, "acked"),
            RabbitDisposal::DeadLettered { reason } => {
                write!(formatter, "dead_lettered reason={}", reason.as_str())
            }
            RabbitDisposal::Dropped { reason } => {
                write!(formatter, "dropped reason={}", reason.as_str())
            }
        }
    }
}
