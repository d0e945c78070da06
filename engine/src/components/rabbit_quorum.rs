//! The replicated state machine of a RabbitMQ quorum queue (after `rabbit_fifo`): commands in a Raft log, applied alike by every member.
//!
//! Every change to the queue is a `QuorumCommand` committed through the Raft
//! core before it takes effect: enqueue, consumer checkout and cancel, and
//! settlement (ack, requeue, dead-letter). Applying a command is deterministic
//! and yields `QuorumEffect`s (confirm a publish, deliver to a consumer,
//! a message left the queue); every member computes them, and the broker
//! carries them out only where RabbitMQ does: confirms on the broker the
//! publisher is connected to, deliveries and dead-lettering on the leader.
//!
//! Assignment of messages to consumers happens inside `apply` (round-robin
//! over consumers with spare prefetch), so after a leader change the new
//! leader knows exactly which messages are checked out to whom and re-sends
//! them (the consumer's broker drops a delivery it already holds).
//!
//! `delivery_limit`: a message returned to the queue (nack/reject with
//! requeue, or its consumer's connection lost) counts one more delivery; a
//! message returned more than the limit is dead-lettered with reason
//! `delivery_limit`, as RabbitMQ 3.x/4.x quorum queues do.

use crate::components::rabbit_protocol::{RabbitDeathReason, RabbitMessage, RabbitSettlement};
use crate::message::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A command of a quorum queue's Raft log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuorumCommand {
    /// A publish routed to this queue. `origin` is the broker the publisher
    /// is connected to: it confirms once it applies this entry.
    Enqueue {
        message: RabbitMessage,
        origin: NodeId,
        publisher: NodeId,
        connection: u64,
        publish_seq: u64,
    },
    /// `basic.consume` by `consumer` (client node) on connection `epoch`,
    /// whose channel lives on broker `host`. A later epoch replaces the old
    /// consumer and returns what the old connection held.
    Checkout {
        consumer: NodeId,
        epoch: u64,
        host: NodeId,
        prefetch_count: u32,
        auto_ack: bool,
    },
    /// The consumer's connection closed (or it cancelled): what it held returns to the queue.
    Cancel { consumer: NodeId, epoch: u64 },
    /// `basic.ack` / `nack` / `reject` of the queue's message `message_id`.
    Settle {
        consumer: NodeId,
        epoch: u64,
        message_id: u64,
        settlement: RabbitSettlement,
    },
}

/// A message in the queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuorumMessage {
    pub message: RabbitMessage,
    /// Times returned to the queue (RabbitMQ's `delivery-count`).
    pub delivery_count: u32,
    pub delivered_before: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuorumConsumer {
    pub consumer: NodeId,
    pub epoch: u64,
    pub host: NodeId,
    pub prefetch_count: u32,
    pub auto_ack: bool,
}

/// The queue itself: the snapshot type of its Raft group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QuorumState {
    next_message_id: u64,
    /// Ready messages by id: ids grow with arrival, a returned message keeps
    /// its id and so its place.
    ready: BTreeMap<u64, QuorumMessage>,
    /// Delivered, not settled: id → (consumer, message).
    checked_out: BTreeMap<u64, (NodeId, QuorumMessage)>,
    /// In subscription order.
    consumers: Vec<QuorumConsumer>,
    next_consumer: usize,
}

/// What applying a command asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum QuorumEffect {
    /// The enqueue is committed: `origin` confirms it to the publisher.
    Confirm {
        origin: NodeId,
        publisher: NodeId,
        connection: u64,
        publish_seq: u64,
    },
    /// A message entered the queue.
    Enqueued { message: RabbitMessage },
    /// Deliver `message_id` to `consumer` through its channel on `host`.
    Deliver {
        host: NodeId,
        consumer: NodeId,
        epoch: u64,
        message_id: u64,
        /// Times returned before this delivery: tells a re-sent delivery
        /// (same count) from a redelivery after a return (higher count).
        attempt: u32,
        redelivered: bool,
        message: RabbitMessage,
    },
    /// Acknowledged (or sent to an auto-ack consumer).
    Acked { message: RabbitMessage },
    /// Leaves the queue to be dead-lettered (or dropped without a DLX).
    DeadLetter {
        message: RabbitMessage,
        reason: RabbitDeathReason,
    },
}

impl QuorumState {
    pub fn ready_messages(&self) -> u64 {
        self.ready.len() as u64
    }

    pub fn checked_out_messages(&self) -> u64 {
        self.checked_out.len() as u64
    }

    pub fn ready_bytes(&self) -> u64 {
        self.ready
            .values()
            .map(|entry| u64::from(entry.message.body_bytes))
            .sum()
    }

    /// Ids of every message the queue holds (ready and checked out).
    pub fn message_keys(&self) -> Vec<crate::components::rabbit_protocol::RabbitMessageKey> {
        self.ready
            .values()
            .chain(self.checked_out.values().map(|(_, entry)| entry))
            .map(|entry| entry.message.key)
            .collect()
    }

    /// Every checked-out message as a delivery, for a new leader to re-send.
    pub fn outstanding_deliveries(&self) -> Vec<QuorumEffect> {
        self.checked_out
            .iter()
            .filter_map(|(id, (consumer, entry))| {
                let registered = self.consumers.iter().find(|c| c.consumer == *consumer)?;
                Some(QuorumEffect::Deliver {
                    host: registered.host,
                    consumer: *consumer,
                    epoch: registered.epoch,
                    message_id: *id,
                    attempt: entry.delivery_count,
                    redelivered: entry.delivered_before,
                    message: entry.message.clone(),
                })
            })
            .collect()
    }

    /// Applies one committed command. Identical on every member.
    pub fn apply(
        &mut self,
        command: &QuorumCommand,
        delivery_limit: u32,
        effects: &mut Vec<QuorumEffect>,
    ) {
        match command {
            QuorumCommand::Enqueue {
                message,
                origin,
                publisher,
                connection,
                publish_seq,
            } => {
                let id = self.next_message_id;
                self.next_message_id += 1;
                self.ready.insert(
                    id,
                    QuorumMessage {
                        message: message.clone(),
                        delivery_count: 0,
                        delivered_before: false,
                    },
                );
                effects.push(QuorumEffect::Enqueued {
                    message: message.clone(),
                });
                effects.push(QuorumEffect::Confirm {
                    origin: *origin,
                    publisher: *publisher,
                    connection: *connection,
                    publish_seq: *publish_seq,
                });
            }
            QuorumCommand::Checkout {
                consumer,
                epoch,
                host,
                prefetch_count,
                auto_ack,
            } => {
                if let Some(existing) = self.consumers.iter().find(|c| c.consumer == *consumer) {
                    if existing.epoch > *epoch {
                        return; // a stale subscription from an older connection
                    }
                    if existing.epoch < *epoch {
                        self.return_all_of(*consumer, delivery_limit, effects);
                    }
                }
                self.consumers.retain(|c| c.consumer != *consumer);
                self.consumers.push(QuorumConsumer {
                    consumer: *consumer,
                    epoch: *epoch,
                    host: *host,
                    prefetch_count: *prefetch_count,
                    auto_ack: *auto_ack,
                });
            }
            QuorumCommand::Cancel { consumer, epoch } => {
                if self
                    .consumers
                    .iter()
                    .any(|c| c.consumer == *consumer && c.epoch == *epoch)
                {
                    self.consumers.retain(|c| c.consumer != *consumer);
                    if self.next_consumer >= self.consumers.len() {
                        self.next_consumer = 0;
                    }
                    self.return_all_of(*consumer, delivery_limit, effects);
                }
            }
            QuorumCommand::Settle {
                consumer,
                epoch,
                message_id,
                settlement,
            } => {
                let current = self
                    .consumers
                    .iter()
                    .any(|c| c.consumer == *consumer && c.epoch == *epoch);
                let holds = self
                    .checked_out
                    .get(message_id)
                    .is_some_and(|(holder, _)| holder == consumer);
                // A settle from a replaced connection, or repeated: ignored
                // (the message was already returned or settled).
                if !current || !holds {
                    return;
                }
                let (_, entry) = self.checked_out.remove(message_id).expect("checked");
                match settlement {
                    RabbitSettlement::Ack => effects.push(QuorumEffect::Acked {
                        message: entry.message,
                    }),
                    RabbitSettlement::Nack { requeue: false }
                    | RabbitSettlement::Reject { requeue: false } => {
                        effects.push(QuorumEffect::DeadLetter {
                            message: entry.message,
                            reason: RabbitDeathReason::Rejected,
                        })
                    }
                    RabbitSettlement::Nack { requeue: true }
                    | RabbitSettlement::Reject { requeue: true } => {
                        self.return_one(*message_id, entry, delivery_limit, effects)
                    }
                }
            }
        }
        self.assign(effects);
    }

    fn return_all_of(
        &mut self,
        consumer: NodeId,
        delivery_limit: u32,
        effects: &mut Vec<QuorumEffect>,
    ) {
        let held: Vec<u64> = self
            .checked_out
            .iter()
            .filter(|(_, (holder, _))| *holder == consumer)
            .map(|(id, _)| *id)
            .collect();
        for id in held {
            let (_, entry) = self.checked_out.remove(&id).expect("listed");
            self.return_one(id, entry, delivery_limit, effects);
        }
    }

    /// Back to the queue, or dead-lettered past the delivery limit.
    fn return_one(
        &mut self,
        id: u64,
        mut entry: QuorumMessage,
        delivery_limit: u32,
        effects: &mut Vec<QuorumEffect>,
    ) {
        entry.delivery_count += 1;
        if entry.delivery_count > delivery_limit {
            effects.push(QuorumEffect::DeadLetter {
                message: entry.message,
                reason: RabbitDeathReason::DeliveryLimit,
            });
        } else {
            self.ready.insert(id, entry);
        }
    }

    /// Hands ready messages, oldest first, to consumers with spare prefetch, round-robin.
    fn assign(&mut self, effects: &mut Vec<QuorumEffect>) {
        while !self.ready.is_empty() && !self.consumers.is_empty() {
            let count = self.consumers.len();
            let chosen = (0..count)
                .map(|offset| (self.next_consumer + offset) % count)
                .find(|position| {
                    let candidate = &self.consumers[*position];
                    candidate.prefetch_count == 0
                        || (self
                            .checked_out
                            .values()
                            .filter(|(holder, _)| *holder == candidate.consumer)
                            .count() as u32)
                            < candidate.prefetch_count
                });
            let Some(position) = chosen else {
                break;
            };
            self.next_consumer = (position + 1) % count;
            let (id, mut entry) = self.ready.pop_first().expect("not empty");
            let consumer = self.consumers[position].clone();
            let redelivered = entry.delivered_before;
            entry.delivered_before = true;
            effects.push(QuorumEffect::Deliver {
                host: consumer.host,
                consumer: consumer.consumer,
                epoch: consumer.epoch,
                message_id: id,
                attempt: entry.delivery_count,
                redelivered,
                message: entry.message.clone(),
            });
            if consumer.auto_ack {
                effects.push(QuorumEffect::Acked {
                    message: entry.message,
                });
            } else {
                self.checked_out.insert(id, (consumer.consumer, entry));
            }
        }
    }
}
