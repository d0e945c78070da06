//! Queue message storage behind one small interface, so a quorum queue (a Raft log) can sit beside the classic queue.
//!
//! The broker owns everything AMQP-level (consumers, unacked deliveries,
//! TTL, dead-lettering, overflow); a store only keeps the ready messages in
//! delivery order and decides what survives a node crash. A classic queue
//! lives on one node: after a crash it keeps exactly the persistent messages
//! of a durable queue (they were on disk), as RabbitMQ's classic queue index
//! and message store do. Quorum queues do not use this store: their queue
//! is the replicated state machine in `rabbit_quorum.rs` (its contents change
//! only when a Raft entry is applied, which this synchronous interface
//! cannot express).

use crate::components::rabbit_protocol::{RabbitMessage, RabbitMessageKey};
use crate::time::SimTime;
use std::collections::BTreeMap;

/// A message in a queue.
#[derive(Clone, Debug, PartialEq)]
pub struct QueuedMessage {
    pub message: RabbitMessage,
    /// Arrival order in this queue: a requeued message goes back to its
    /// original position (RabbitMQ does this for classic queues when it can).
    pub arrival: u64,
    /// The priority the queue uses (0 when the queue has no `x-max-priority`).
    pub priority: u8,
    /// On the broker's local clock; `None` never expires.
    pub expires_at: Option<SimTime>,
    /// Delivered at least once: the next delivery carries `redelivered=true`.
    pub delivered_before: bool,
}

/// What a crash did to a store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashOutcome {
    pub kept: u64,
    pub lost: u64,
}

/// The operations the broker needs from a queue's storage.
pub trait QueueStore {
    /// Adds a new message behind every message of its priority.
    fn push(&mut self, entry: QueuedMessage);
    /// Puts a message that was delivered back at its original position.
    fn requeue(&mut self, entry: QueuedMessage);
    /// The next message to deliver (highest priority, oldest arrival).
    fn head(&self) -> Option<&QueuedMessage>;
    fn pop_head(&mut self) -> Option<QueuedMessage>;
    fn ready_messages(&self) -> u64;
    fn ready_bytes(&self) -> u64;
    /// Removes every message (queue deletion).
    fn drain(&mut self) -> Vec<QueuedMessage>;
    /// The ids of the ready messages, in delivery order.
    fn message_keys(&self) -> Vec<RabbitMessageKey>;
    /// The node crashed: keep what the storage would really have kept.
    fn crash(&mut self, durable_queue: bool) -> CrashOutcome;
}

/// A classic queue: an ordered map from (inverted priority, arrival) to message.
#[derive(Clone, Debug, Default)]
pub struct ClassicQueueStore {
    ready: BTreeMap<(u8, u64), QueuedMessage>,
    bytes: u64,
}

impl ClassicQueueStore {
    fn key(entry: &QueuedMessage) -> (u8, u64) {
        (u8::MAX - entry.priority, entry.arrival)
    }
}

impl QueueStore for ClassicQueueStore {
    fn push(&mut self, entry: QueuedMessage) {
        self.bytes += u64::from(entry.message.body_bytes);
        self.ready.insert(Self::key(&entry), entry);
    }

    fn requeue(&mut self, entry: QueuedMessage) {
        // Same key as on arrival: back to the original position.
        self.push(entry);
    }

    fn head(&self) -> Option<&QueuedMessage> {
        self.ready.values().next()
    }

    fn pop_head(&mut self) -> Option<QueuedMessage> {
        let (_, entry) = self.ready.pop_first()?;
        self.bytes -= u64::from(entry.message.body_bytes);
        Some(entry)
    }

    fn ready_messages(&self) -> u64 {
        self.ready.len() as u64
    }

    fn ready_bytes(&self) -> u64 {
        self.bytes
    }

    fn drain(&mut self) -> Vec<QueuedMessage> {
        self.bytes = 0;
        std::mem::take(&mut self.ready).into_values().collect()
    }

    fn message_keys(&self) -> Vec<RabbitMessageKey> {
        self.ready.values().map(|entry| entry.message.key).collect()
    }

    fn crash(&mut self, durable_queue: bool) -> CrashOutcome {
        let before = self.ready.len() as u64;
        if durable_queue {
            self.ready.retain(|_, entry| entry.message.persistent);
        } else {
            self.ready.clear();
        }
        self.bytes = self
            .ready
            .values()
            .map(|entry| u64::from(entry.message.body_bytes))
            .sum();
        let kept = self.ready.len() as u64;
        CrashOutcome {
            kept,
            lost: before - kept,
        }
    }
}

/// The storage of one queue, by queue type.
#[derive(Clone, Debug)]
pub enum QueueStorage {
    Classic(ClassicQueueStore),
}

impl QueueStorage {
    fn store(&self) -> &dyn QueueStore {
        match self {
            QueueStorage::Classic(store) => store,
        }
    }

    fn store_mut(&mut self) -> &mut dyn QueueStore {
        match self {
            QueueStorage::Classic(store) => store,
        }
    }
}

impl QueueStore for QueueStorage {
    fn push(&mut self, entry: QueuedMessage) {
        self.store_mut().push(entry)
    }
    fn requeue(&mut self, entry: QueuedMessage) {
        self.store_mut().requeue(entry)
    }
    fn head(&self) -> Option<&QueuedMessage> {
        self.store().head()
    }
    fn pop_head(&mut self) -> Option<QueuedMessage> {
        self.store_mut().pop_head()
    }
    fn ready_messages(&self) -> u64 {
        self.store().ready_messages()
    }
    fn ready_bytes(&self) -> u64 {
        self.store().ready_bytes()
    }
    fn drain(&mut self) -> Vec<QueuedMessage> {
        self.store_mut().drain()
    }
    fn message_keys(&self) -> Vec<RabbitMessageKey> {
        self.store().message_keys()
    }
    fn crash(&mut self, durable_queue: bool) -> CrashOutcome {
        self.store_mut().crash(durable_queue)
    }
}
