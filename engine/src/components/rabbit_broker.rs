//! A RabbitMQ node: exchanges, bindings, classic queues and quorum queue members with AMQP 0-9-1 semantics.
//!
//! What it does, after the RabbitMQ documentation (Queues, TTL, Dead Letter
//! Exchanges, Maximum Queue Length, Priority Queues, Consumer Acknowledgements
//! and Publisher Confirms, Heartbeats, Alternate Exchanges):
//! - routing through direct, fanout, topic and headers exchanges and the
//!   default exchange; unroutable messages go to the alternate exchange, or
//!   are returned (`mandatory`) or dropped;
//! - publisher confirms: `basic.ack` once every destination queue took the
//!   message (unroutable ones are confirmed too), `basic.nack` when a queue
//!   refused it (`reject-publish` overflow);
//! - consumers with prefetch (`basic.qos`), round-robin among consumers with
//!   spare prefetch, manual ack / nack / reject with or without requeue,
//!   the `redelivered` flag, `basic.cancel`;
//! - message TTL (per queue and per message), removed when the message
//!   reaches the head; queue TTL (`x-expires`) deletes the queue without
//!   dead-lettering; max length in messages and bytes (ready messages only)
//!   with `drop-head` / `reject-publish` / `reject-publish-dlx`; priorities;
//! - dead-lettering with an `x-death` record, cycles without a rejection dropped;
//! - connections: a connection silent for `heartbeat_timeout_ms` is closed
//!   and its unacknowledged deliveries are requeued (R1);
//! - a crash keeps exactly the persistent messages of durable queues,
//!   including delivered-but-unacked ones, which come back `redelivered`.
//!
//! Simplifications, said plainly: one channel per connection and one
//! consumer per channel; persistent messages are on disk as soon as they are
//! enqueued (RabbitMQ fsyncs before confirming, so confirmed ones are); the
//! broker does no work of its own that takes time; dead-lettering is not
//! confirmed (at most once, as for classic queues).

use crate::component::{Component, ComponentView, Context, TimerId, TimerTag};
use crate::components::rabbit_protocol::{
    RabbitDeathReason, RabbitDisposal, RabbitMessage, RabbitSettlement, RabbitXDeath,
};
use crate::components::rabbit_queue::{ClassicQueueStore, QueueStorage, QueueStore, QueuedMessage};
use crate::components::rabbit_quorum::{QuorumCommand, QuorumEffect, QuorumState};
use crate::components::rabbit_routing::Router;
use crate::message::{Envelope, NodeId, Payload};
use crate::raft::{EntryPayload, RaftAction, RaftConfig, RaftCore, RaftEnv, RaftRole, RaftTimer};
use crate::scenario::limits::{MAX_RABBIT_QUEUE_MESSAGES, MAX_RABBIT_X_DEATH_ENTRIES};
use crate::scenario::{
    DEFAULT_QUORUM_DELIVERY_LIMIT, QuorumQueuePlacement, RabbitBrokerSpec, RabbitOverflow,
    RabbitQueueSpec,
};
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use std::collections::{BTreeMap, VecDeque};

const TIMER_HEARTBEAT_SEND: u32 = 1;
const TIMER_HEARTBEAT_CHECK: u32 = 2;
const TIMER_MESSAGE_EXPIRY: u32 = 3;
const TIMER_QUEUE_EXPIRES: u32 = 4;
const TIMER_QUORUM_ELECTION: u32 = 5;
const TIMER_QUORUM_HEARTBEAT: u32 = 6;
const TIMER_QUORUM_RETRY: u32 = 7;

/// How often a member re-sends the consumer commands (checkout, settle,
/// cancel) it has not yet seen applied: a forward can be lost with a leader.
const QUORUM_RETRY_INTERVAL_MS: u64 = 250;
/// Commands waiting to be seen applied, per quorum queue member; the oldest
/// is dropped beyond it (its consumer's next reconnect repairs the state).
const MAX_QUORUM_OUTBOX: usize = 1_000;
/// Publishes to quorum queues waiting for their commit before the confirm.
const MAX_PENDING_QUORUM_CONFIRMS: usize = 100_000;
/// A checked-out message not settled this long is sent to its consumer's broker again.
const QUORUM_REDELIVERY_CHECK_MS: u64 = 1_000;
/// Quorum message ids a connection settled recently: a re-sent delivery of
/// one of them is dropped instead of handed to the consumer twice.
const MAX_RECENTLY_SETTLED_PER_CONNECTION: usize = 1_024;

type QuorumCore = RaftCore<QuorumCommand, QuorumState>;
type QuorumAction = RaftAction<QuorumCommand, QuorumState>;

/// This broker's member of a quorum queue's Raft group.
#[derive(Clone)]
struct QuorumReplica {
    core: QuorumCore,
    /// The replicated queue, as far as this member has applied the log.
    state: QuorumState,
    delivery_limit: u32,
    timers: BTreeMap<RaftTimer, TimerId>,
    /// Consumer commands submitted here and not yet applied here (retried).
    outbox: VecDeque<QuorumCommand>,
    /// Leader only: when each checked-out message was last sent to its
    /// consumer's broker. A delivery lost on the way (a partition) is sent
    /// again after `QUORUM_REDELIVERY_CHECK_MS`, as rabbit_fifo re-sends
    /// to a consumer node that comes back; the broker drops repeats.
    sent_at: BTreeMap<u64, SimTime>,
    /// The broker that declared the queue: its exchanges route dead letters.
    home: NodeId,
}

/// Queue operations one incoming frame may cause (dead-letter chains through
/// full queues): beyond this the rest is dropped, so no frame does unbounded work.
const MAX_WORK_PER_FRAME: usize = 10_000;

/// Bytes of a frame without body (deliveries and publishes add the body).
const FRAME_OVERHEAD_BYTES: u32 = 64;

#[derive(Clone)]
struct QueueState {
    spec: RabbitQueueSpec,
    storage: QueueStorage,
    /// Deleted by `x-expires` or with its exclusive owner; declared again at the next boot.
    deleted: bool,
    /// Consumers (their connection's node), in subscription order.
    consumers: Vec<NodeId>,
    next_consumer: usize,
    /// Exclusive queues: the connection that owns it.
    owner: Option<(NodeId, u64)>,
    expiry_timer: Option<(TimerId, SimTime)>,
    expires_timer: Option<TimerId>,
    next_arrival: u64,
    /// Deliveries of this queue's messages not yet settled (all connections).
    unacked_messages: u64,
    /// Some queue names this one as dead-letter target: counted as a DLQ.
    dead_letter_target: bool,
    /// Quorum queues: this broker's Raft member (the classic `storage` stays empty).
    quorum: Option<QuorumReplica>,
}

impl QueueState {
    fn new(spec: &RabbitQueueSpec) -> QueueState {
        QueueState {
            spec: spec.clone(),
            // A quorum queue's messages live in its replicated state, not here.
            storage: QueueStorage::Classic(ClassicQueueStore::default()),
            deleted: false,
            consumers: Vec::new(),
            next_consumer: 0,
            owner: None,
            expiry_timer: None,
            expires_timer: None,
            next_arrival: 0,
            unacked_messages: 0,
            dead_letter_target: false,
            quorum: None,
        }
    }

    /// Ready messages, whichever the queue type.
    fn ready_messages(&self) -> u64 {
        match &self.quorum {
            Some(replica) => replica.state.ready_messages(),
            None => self.storage.ready_messages(),
        }
    }

    fn over_limit(&self) -> bool {
        self.spec
            .max_length_messages
            .is_some_and(|limit| self.storage.ready_messages() > u64::from(limit))
            || self
                .spec
                .max_length_bytes
                .is_some_and(|limit| self.storage.ready_bytes() > limit)
    }

    fn would_overflow(&self, body_bytes: u32) -> bool {
        self.spec
            .max_length_messages
            .is_some_and(|limit| self.storage.ready_messages() + 1 > u64::from(limit))
            || self
                .spec
                .max_length_bytes
                .is_some_and(|limit| self.storage.ready_bytes() + u64::from(body_bytes) > limit)
    }
}

#[derive(Clone)]
struct Unacked {
    queue: usize,
    entry: QueuedMessage,
    /// Quorum queues: the message's id in the replicated queue and the attempt.
    quorum_id: Option<u64>,
    quorum_attempt: u32,
}

#[derive(Clone)]
struct Connection {
    epoch: u64,
    last_heard: SimTime,
    /// The queue this connection's consumer reads (None: a publisher, or cancelled).
    consuming: Option<usize>,
    prefetch_count: u32,
    auto_ack: bool,
    next_delivery_tag: u64,
    unacked: BTreeMap<u64, Unacked>,
    /// (queue, quorum message id, attempt) settled on this connection, newest last.
    recently_settled: VecDeque<(usize, u64, u32)>,
}

/// The AMQP fields of a `basic.publish` besides the message.
#[derive(Clone, Copy)]
struct PublishFrame {
    connection: u64,
    publish_seq: u64,
    mandatory: bool,
    confirm: bool,
}

/// Work queued while handling one frame (dead-letter chains).
#[derive(Clone)]
enum Work {
    Enqueue {
        queue: usize,
        message: RabbitMessage,
    },
    Fact(Fact),
}

#[derive(Clone, Default)]
struct Counters {
    published: u64,
    unroutable: u64,
    returned: u64,
    via_alternate_exchange: u64,
    confirms_ack: u64,
    confirms_nack: u64,
    delivered: u64,
    redelivered: u64,
    acked: u64,
    requeued: u64,
    dead_lettered: u64,
    dropped: u64,
    expired: u64,
    refused_by_overflow: u64,
    queues_deleted: u64,
    connections_closed_missed_heartbeats: u64,
    lost_on_crash: u64,
    quorum_leaderships: u64,
    quorum_forwarded: u64,
    quorum_unavailable: u64,
    recovered_after_restart: u64,
    unknown_delivery_tags: u64,
    max_unacked_per_consumer: u64,
}

#[derive(Clone)]
pub struct RabbitBroker {
    me: NodeId,
    spec: RabbitBrokerSpec,
    router: Router,
    queues: Vec<QueueState>,
    queue_index: BTreeMap<String, usize>,
    connections: BTreeMap<NodeId, Connection>,
    /// Highest connection number closed per client: later frames on it are refused.
    closed_epochs: BTreeMap<NodeId, u64>,
    work: VecDeque<Work>,
    /// True while `drain_work` runs: nested calls leave the work to it
    /// instead of recursing (dead-letter chains would otherwise nest deeply).
    draining: bool,
    counters: Counters,
    /// Publishes with confirms routed to quorum queues: (publisher,
    /// connection, publish_seq) → (quorum enqueues not yet applied here, a queue refused it).
    pending_confirms: BTreeMap<(NodeId, u64, u64), (u32, bool)>,
}

impl RabbitBroker {
    /// `me`: this broker's node; `placements`: every quorum queue of the
    /// scenario (this broker hosts a member of those that list it).
    pub fn new(
        spec: &RabbitBrokerSpec,
        me: NodeId,
        placements: &[QuorumQueuePlacement],
    ) -> RabbitBroker {
        let mut queues: Vec<QueueState> = spec.queues.iter().map(QueueState::new).collect();
        let mut queue_index: BTreeMap<String, usize> = spec
            .queues
            .iter()
            .enumerate()
            .map(|(index, queue)| (queue.name.clone(), index))
            .collect();
        for placement in placements {
            if !placement.members.contains(&me.index()) {
                continue;
            }
            let index = match queue_index.get(&placement.spec.name) {
                Some(index) => *index,
                None => {
                    // A member that does not declare it knows it, as a cluster does.
                    queues.push(QueueState::new(&placement.spec));
                    queue_index.insert(placement.spec.name.clone(), queues.len() - 1);
                    queues.len() - 1
                }
            };
            let config = RaftConfig {
                // Unique per queue (at most MAX_RABBIT_QUEUES = 256 per broker).
                group: (placement.home as u32) * 256 + placement.position as u32,
                // RabbitMQ quorum queues fsync before confirming.
                durable_storage: true,
                pre_vote: true,
                ..RaftConfig::default()
            };
            let members = placement
                .members
                .iter()
                .map(|member| NodeId(*member as u32))
                .collect();
            queues[index].quorum = Some(QuorumReplica {
                core: RaftCore::new(config, me, members),
                state: QuorumState::default(),
                delivery_limit: placement
                    .spec
                    .delivery_limit
                    .unwrap_or(DEFAULT_QUORUM_DELIVERY_LIMIT),
                timers: BTreeMap::new(),
                outbox: VecDeque::new(),
                sent_at: BTreeMap::new(),
                home: NodeId(placement.home as u32),
            });
        }
        let mut broker = RabbitBroker {
            me,
            spec: spec.clone(),
            router: Router::new(&spec.exchanges, &spec.bindings),
            queues,
            queue_index,
            connections: BTreeMap::new(),
            closed_epochs: BTreeMap::new(),
            work: VecDeque::new(),
            draining: false,
            counters: Counters::default(),
            pending_confirms: BTreeMap::new(),
        };
        broker.mark_dead_letter_targets();
        broker
    }

    /// A queue is a DLQ when some queue's dead-letter exchange can route to
    /// it (with that queue's dead-letter routing key, if fixed).
    fn mark_dead_letter_targets(&mut self) {
        let names: Vec<String> = self.queues.iter().map(|q| q.spec.name.clone()).collect();
        let mut targets = Vec::new();
        for queue in &self.queues {
            let Some(exchange) = &queue.spec.dead_letter_exchange else {
                continue;
            };
            for binding in &self.spec.bindings {
                if &binding.exchange == exchange {
                    targets.push(binding.queue.clone());
                }
            }
            if exchange.is_empty()
                && let Some(key) = &queue.spec.dead_letter_routing_key
            {
                targets.push(key.clone());
            }
        }
        for (index, name) in names.iter().enumerate() {
            self.queues[index].dead_letter_target = targets.contains(name);
        }
    }

    fn heartbeat_timeout(&self) -> SimDuration {
        SimDuration::from_millis(self.spec.heartbeat_timeout_ms)
    }

    fn send(ctx: &mut Context<'_>, to: NodeId, payload: Payload, body: u32) {
        ctx.send(to, payload, FRAME_OVERHEAD_BYTES + body);
    }

    // ---- connections ------------------------------------------------------

    /// Records traffic on `connection` from `node`. Returns false (and tells
    /// the client) when the connection is closed or unknown and `opens` is false.
    fn touch(&mut self, ctx: &mut Context<'_>, node: NodeId, connection: u64, opens: bool) -> bool {
        let now = ctx.local_clock();
        if self
            .closed_epochs
            .get(&node)
            .is_some_and(|closed| connection <= *closed)
        {
            Self::send(ctx, node, Payload::RabbitConnectionClose { connection }, 0);
            return false;
        }
        match self.connections.get(&node).map(|existing| existing.epoch) {
            Some(epoch) if epoch == connection => {
                if let Some(existing) = self.connections.get_mut(&node) {
                    existing.last_heard = now;
                }
                true
            }
            Some(epoch) if epoch > connection => {
                Self::send(ctx, node, Payload::RabbitConnectionClose { connection }, 0);
                false
            }
            existing => {
                if !opens {
                    Self::send(ctx, node, Payload::RabbitConnectionClose { connection }, 0);
                    return false;
                }
                if existing.is_some() {
                    // The client reconnected: its old connection is dead (the
                    // restarted host's kernel resets it).
                    self.close_connection(ctx, node, "replaced by a new connection");
                }
                self.connections.insert(
                    node,
                    Connection {
                        epoch: connection,
                        last_heard: now,
                        consuming: None,
                        prefetch_count: 0,
                        auto_ack: false,
                        next_delivery_tag: 1,
                        unacked: BTreeMap::new(),
                        recently_settled: VecDeque::new(),
                    },
                );
                true
            }
        }
    }

    /// Closes a client's connection: its consumer goes, and every
    /// unacknowledged delivery is requeued for redelivery (R1).
    fn close_connection(&mut self, ctx: &mut Context<'_>, node: NodeId, why: &str) {
        let Some(connection) = self.connections.remove(&node) else {
            return;
        };
        self.closed_epochs.insert(node, connection.epoch);
        let requeued = connection.unacked.len();
        if let Some(queue) = connection.consuming {
            self.remove_consumer(ctx, queue, node);
        }
        let mut touched = Vec::new();
        let mut quorum_queues: Vec<usize> = connection
            .consuming
            .filter(|queue| self.queues[*queue].quorum.is_some())
            .into_iter()
            .collect();
        self.pending_confirms
            .retain(|key, _| !(key.0 == node && key.1 == connection.epoch));
        for (_, unacked) in connection.unacked {
            if unacked.quorum_id.is_some() {
                // The replicated queue returns them when it applies the cancel.
                quorum_queues.push(unacked.queue);
                continue;
            }
            let queue = &mut self.queues[unacked.queue];
            queue.unacked_messages = queue.unacked_messages.saturating_sub(1);
            if queue.deleted {
                continue;
            }
            queue.storage.requeue(unacked.entry);
            self.counters.requeued += 1;
            touched.push(unacked.queue);
        }
        // Exclusive queues go with their owner, messages and all.
        for index in 0..self.queues.len() {
            if self.queues[index]
                .owner
                .is_some_and(|(owner, _)| owner == node)
            {
                self.delete_queue(ctx, index, "exclusive_owner_closed");
            }
        }
        ctx.state(format!(
            "connection c{} from n{} closed ({why}): {requeued} unacked requeued",
            connection.epoch, node.0
        ));
        touched.sort_unstable();
        touched.dedup();
        for queue in touched {
            self.dispatch(ctx, queue);
        }
        quorum_queues.sort_unstable();
        quorum_queues.dedup();
        for queue in quorum_queues {
            let cancel = QuorumCommand::Cancel {
                consumer: node,
                epoch: connection.epoch,
            };
            self.quorum_submit(ctx, queue, cancel, true);
        }
    }

    fn remove_consumer(&mut self, ctx: &mut Context<'_>, queue: usize, node: NodeId) {
        let state = &mut self.queues[queue];
        state.consumers.retain(|consumer| *consumer != node);
        if state.next_consumer >= state.consumers.len() {
            state.next_consumer = 0;
        }
        if state.consumers.is_empty() {
            self.arm_queue_expires(ctx, queue);
        }
    }

    // ---- queues -----------------------------------------------------------

    fn arm_queue_expires(&mut self, ctx: &mut Context<'_>, queue: usize) {
        let state = &mut self.queues[queue];
        if let Some(timer) = state.expires_timer.take() {
            ctx.cancel_timer(timer);
        }
        if let Some(expires_ms) = state.spec.expires_ms
            && !state.deleted
            && state.consumers.is_empty()
        {
            state.expires_timer = Some(ctx.set_timer(
                SimDuration::from_millis(expires_ms),
                TimerTag {
                    kind: TIMER_QUEUE_EXPIRES,
                    id: queue as u64,
                },
            ));
        }
    }

    /// Deletes a queue: its messages are discarded, never dead-lettered (R2).
    fn delete_queue(&mut self, ctx: &mut Context<'_>, queue: usize, reason: &str) {
        let state = &mut self.queues[queue];
        if state.deleted {
            return;
        }
        state.deleted = true;
        let mut discarded = state.storage.drain().len() as u64;
        if let Some((timer, _)) = state.expiry_timer.take() {
            ctx.cancel_timer(timer);
        }
        if let Some(timer) = state.expires_timer.take() {
            ctx.cancel_timer(timer);
        }
        let consumers = std::mem::take(&mut state.consumers);
        let name = state.spec.name.clone();
        for consumer in consumers {
            if let Some(connection) = self.connections.get_mut(&consumer) {
                connection.consuming = None;
            }
        }
        for connection in self.connections.values_mut() {
            let before = connection.unacked.len();
            connection
                .unacked
                .retain(|_, unacked| unacked.queue != queue);
            discarded += (before - connection.unacked.len()) as u64;
        }
        self.queues[queue].unacked_messages = 0;
        self.counters.queues_deleted += 1;
        ctx.fact(Fact::RabbitQueueDeleted {
            queue: name.clone(),
            reason: reason.to_string(),
            discarded,
        });
        ctx.state(format!(
            "queue {name} deleted ({reason}): {discarded} messages discarded, not dead-lettered"
        ));
    }

    /// Effective TTL of a message in a queue: the smaller of the two.
    fn ttl_ms(spec: &RabbitQueueSpec, message: &RabbitMessage) -> Option<u64> {
        match (spec.message_ttl_ms, message.expiration_ms) {
            (Some(queue), Some(own)) => Some(queue.min(own)),
            (queue, own) => queue.or(own),
        }
    }

    /// Puts a message into a queue, applying overflow. Returns false when the queue refused it.
    fn enqueue(&mut self, ctx: &mut Context<'_>, queue: usize, message: RabbitMessage) -> bool {
        if self.queues[queue].quorum.is_some() {
            return self.quorum_enqueue_unconfirmed(ctx, queue, message);
        }
        let state = &self.queues[queue];
        if state.deleted {
            return false;
        }
        let held = state.storage.ready_messages() + state.unacked_messages;
        if held >= MAX_RABBIT_QUEUE_MESSAGES as u64 {
            self.counters.refused_by_overflow += 1;
            ctx.error("rabbit_queue_at_simulator_cap");
            return false;
        }
        let rejects = matches!(
            state.spec.overflow,
            RabbitOverflow::RejectPublish | RabbitOverflow::RejectPublishDlx
        );
        if rejects && state.would_overflow(message.body_bytes) {
            self.counters.refused_by_overflow += 1;
            if state.spec.overflow == RabbitOverflow::RejectPublishDlx {
                let ready = state.storage.ready_messages();
                self.dead_letter(queue, message, RabbitDeathReason::Maxlen, ready);
            }
            return false;
        }
        let ttl_ms = Self::ttl_ms(&state.spec, &message);
        let state = &mut self.queues[queue];
        let priority = match state.spec.max_priority {
            Some(max) => message.priority.unwrap_or(0).min(max),
            None => 0,
        };
        let arrival = state.next_arrival;
        state.next_arrival += 1;
        let key = message.key;
        let persistent = message.persistent;
        state.storage.push(QueuedMessage {
            message,
            arrival,
            priority,
            expires_at: ttl_ms.map(|ttl| ctx.local_clock().plus(SimDuration::from_millis(ttl))),
            delivered_before: false,
        });
        // drop-head: the oldest ready messages make room (R2: reason maxlen).
        // Their removal facts are queued work, so they follow this enqueue's fact.
        while self.queues[queue].over_limit() {
            let Some(head) = self.queues[queue].storage.pop_head() else {
                break;
            };
            let ready = self.queues[queue].storage.ready_messages();
            self.dead_letter(queue, head.message, RabbitDeathReason::Maxlen, ready);
        }
        let state = &self.queues[queue];
        ctx.fact(Fact::RabbitEnqueued {
            queue: state.spec.name.clone(),
            message: key,
            persistent,
            durable_queue: state.spec.durable,
            ttl_ms,
            ready_messages: state.storage.ready_messages(),
        });
        self.dispatch(ctx, queue);
        true
    }

    /// Dead-letters (or drops, without a DLX) one message leaving `queue`.
    /// The new copies are enqueued before the source's removal is stated, so
    /// a checker never sees the message nowhere in between.
    fn dead_letter(
        &mut self,
        queue: usize,
        message: RabbitMessage,
        reason: RabbitDeathReason,
        ready_after: u64,
    ) {
        self.dead_letter_stating(queue, message, reason, ready_after, true);
    }

    /// `state_removal`: false when the quorum queue's leader already stated it.
    fn dead_letter_stating(
        &mut self,
        queue: usize,
        mut message: RabbitMessage,
        reason: RabbitDeathReason,
        ready_after: u64,
        state_removal: bool,
    ) {
        let spec = &self.queues[queue].spec;
        let name = spec.name.clone();
        let key = message.key;
        if reason == RabbitDeathReason::Expired {
            self.counters.expired += 1;
        }
        let Some(exchange) = spec.dead_letter_exchange.clone() else {
            self.counters.dropped += 1;
            if !state_removal {
                return;
            }
            self.work.push_back(Work::Fact(Fact::RabbitRemoved {
                queue: name,
                message: key,
                disposal: RabbitDisposal::Dropped { reason },
                ready_messages: ready_after,
            }));
            return;
        };
        let routing_key = spec
            .dead_letter_routing_key
            .clone()
            .unwrap_or_else(|| message.routing_key.clone());
        // x-death: one entry per (queue, reason), most recent first.
        if let Some(position) = message
            .x_death
            .iter()
            .position(|entry| entry.queue == name && entry.reason == reason)
        {
            let mut entry = message.x_death.remove(position);
            entry.count += 1;
            message.x_death.insert(0, entry);
        } else {
            message.x_death.insert(
                0,
                RabbitXDeath {
                    queue: name.clone(),
                    reason,
                    count: 1,
                    exchange: message.exchange.clone(),
                    routing_key: message.routing_key.clone(),
                },
            );
            message.x_death.truncate(MAX_RABBIT_X_DEATH_ENTRIES);
        }
        // The expiration is removed so the message does not expire again.
        message.expiration_ms = None;
        message.exchange = exchange.clone();
        message.routing_key = routing_key.clone();
        let route = self
            .router
            .route(&exchange, &routing_key, &message.headers, |queue| {
                self.queue_index
                    .get(queue)
                    .is_some_and(|index| !self.queues[*index].deleted)
            });
        // A cycle with no rejection in it would loop forever: RabbitMQ drops it.
        let rejected_somewhere = message
            .x_death
            .iter()
            .any(|entry| entry.reason == RabbitDeathReason::Rejected);
        let mut targets = 0;
        for target in route.queues {
            let cycles =
                !rejected_somewhere && message.x_death.iter().any(|entry| entry.queue == target);
            if cycles {
                continue;
            }
            if let Some(index) = self.queue_index.get(&target) {
                targets += 1;
                self.work.push_back(Work::Enqueue {
                    queue: *index,
                    message: message.clone(),
                });
            }
        }
        let disposal = if targets > 0 {
            self.counters.dead_lettered += 1;
            RabbitDisposal::DeadLettered { reason }
        } else {
            // Routed nowhere (or only into a cycle): RabbitMQ drops it.
            self.counters.dropped += 1;
            RabbitDisposal::Dropped { reason }
        };
        if !state_removal {
            return;
        }
        self.work.push_back(Work::Fact(Fact::RabbitRemoved {
            queue: name,
            message: key,
            disposal,
            ready_messages: ready_after,
        }));
    }

    /// Runs queued work (dead-letter deliveries) until none is left.
    fn drain_work(&mut self, ctx: &mut Context<'_>) {
        if self.draining {
            return;
        }
        self.draining = true;
        let mut done = 0;
        while let Some(work) = self.work.pop_front() {
            done += 1;
            if done > MAX_WORK_PER_FRAME {
                ctx.error("rabbit_dead_letter_work_limit");
                self.work.clear();
                break;
            }
            match work {
                Work::Enqueue { queue, message } => {
                    self.enqueue(ctx, queue, message);
                }
                Work::Fact(fact) => ctx.fact(fact),
            }
        }
        self.draining = false;
    }

    /// Removes expired messages at the head (RabbitMQ expires at the head only).
    fn expire_head(&mut self, ctx: &mut Context<'_>, queue: usize) {
        let now = ctx.local_clock();
        loop {
            let state = &mut self.queues[queue];
            let expired = state
                .storage
                .head()
                .and_then(|head| head.expires_at)
                .is_some_and(|at| at <= now);
            if !expired {
                break;
            }
            let Some(head) = state.storage.pop_head() else {
                break;
            };
            let ready = state.storage.ready_messages();
            self.dead_letter(queue, head.message, RabbitDeathReason::Expired, ready);
        }
    }

    /// Keeps one timer on the head message's expiry.
    fn arm_message_expiry(&mut self, ctx: &mut Context<'_>, queue: usize) {
        let now = ctx.local_clock();
        let state = &mut self.queues[queue];
        let head_expiry = if state.deleted {
            None
        } else {
            state.storage.head().and_then(|head| head.expires_at)
        };
        if state.expiry_timer.map(|(_, at)| at) == head_expiry {
            return;
        }
        if let Some((timer, _)) = state.expiry_timer.take() {
            ctx.cancel_timer(timer);
        }
        if let Some(at) = head_expiry {
            let after = if at > now {
                at.since(now)
            } else {
                SimDuration::from_micros(1)
            };
            let timer = ctx.set_timer(
                after,
                TimerTag {
                    kind: TIMER_MESSAGE_EXPIRY,
                    id: queue as u64,
                },
            );
            state.expiry_timer = Some((timer, at));
        }
    }

    /// Delivers ready messages to consumers with spare prefetch, round-robin.
    fn dispatch(&mut self, ctx: &mut Context<'_>, queue: usize) {
        if self.queues[queue].quorum.is_some() {
            // The replicated state assigns deliveries; the leader sends them.
            self.drain_work(ctx);
            return;
        }
        loop {
            self.expire_head(ctx, queue);
            let state = &self.queues[queue];
            if state.deleted || state.storage.head().is_none() || state.consumers.is_empty() {
                break;
            }
            let count = state.consumers.len();
            let chosen = (0..count)
                .map(|offset| (state.next_consumer + offset) % count)
                .find(|position| {
                    self.connections
                        .get(&state.consumers[*position])
                        .is_some_and(|connection| {
                            connection.prefetch_count == 0
                                || (connection.unacked.len() as u32) < connection.prefetch_count
                        })
                });
            let Some(position) = chosen else {
                break;
            };
            let consumer = state.consumers[position];
            let state = &mut self.queues[queue];
            state.next_consumer = (position + 1) % count;
            let Some(mut entry) = state.storage.pop_head() else {
                break;
            };
            let ready = state.storage.ready_messages();
            let queue_name = state.spec.name.clone();
            let Some(connection) = self.connections.get_mut(&consumer) else {
                break;
            };
            let delivery_tag = connection.next_delivery_tag;
            connection.next_delivery_tag += 1;
            let redelivered = entry.delivered_before;
            entry.delivered_before = true;
            self.counters.delivered += 1;
            if redelivered {
                self.counters.redelivered += 1;
            }
            let body = entry.message.body_bytes;
            ctx.send(
                consumer,
                Payload::RabbitDeliver {
                    connection: connection.epoch,
                    delivery_tag,
                    redelivered,
                    queue: queue_name.clone(),
                    message: entry.message.clone(),
                },
                FRAME_OVERHEAD_BYTES + body,
            );
            if connection.auto_ack {
                // no_ack: the broker forgets the message as it sends it.
                self.counters.acked += 1;
                ctx.fact(Fact::RabbitRemoved {
                    queue: queue_name,
                    message: entry.message.key,
                    disposal: RabbitDisposal::Acked,
                    ready_messages: ready,
                });
            } else {
                connection.unacked.insert(
                    delivery_tag,
                    Unacked {
                        queue,
                        entry,
                        quorum_id: None,
                        quorum_attempt: 0,
                    },
                );
                self.queues[queue].unacked_messages += 1;
                self.counters.max_unacked_per_consumer = self
                    .counters
                    .max_unacked_per_consumer
                    .max(connection.unacked.len() as u64);
            }
        }
        self.drain_work(ctx);
        self.arm_message_expiry(ctx, queue);
    }

    // ---- frames -----------------------------------------------------------

    fn on_publish(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        frame: PublishFrame,
        message: &RabbitMessage,
    ) {
        let PublishFrame {
            connection,
            publish_seq,
            mandatory,
            confirm,
        } = frame;
        self.counters.published += 1;
        let route = self.router.route(
            &message.exchange,
            &message.routing_key,
            &message.headers,
            |queue| {
                self.queue_index
                    .get(queue)
                    .is_some_and(|index| !self.queues[*index].deleted)
            },
        );
        if !route.via_alternate.is_empty() && !route.queues.is_empty() {
            self.counters.via_alternate_exchange += 1;
        }
        let mut refused = false;
        if route.queues.is_empty() {
            self.counters.unroutable += 1;
            if mandatory {
                self.counters.returned += 1;
                Self::send(
                    ctx,
                    from,
                    Payload::RabbitReturn {
                        connection,
                        publish_seq,
                    },
                    message.body_bytes,
                );
            }
        }
        let quorum_targets: Vec<usize> = route
            .queues
            .iter()
            .filter_map(|queue| self.queue_index.get(queue).copied())
            .filter(|index| self.queues[*index].quorum.is_some())
            .collect();
        let confirm_key = (from, connection, publish_seq);
        // Quorum queues confirm once the enqueue is committed (applied here):
        // the entry counts those, plus one for this frame still in progress.
        let tracked = confirm
            && !quorum_targets.is_empty()
            && self.pending_confirms.len() < MAX_PENDING_QUORUM_CONFIRMS;
        if tracked {
            self.pending_confirms
                .insert(confirm_key, (quorum_targets.len() as u32 + 1, false));
        } else if confirm && !quorum_targets.is_empty() {
            refused = true; // too many publishes awaiting commit: nack
        }
        let mut unavailable = false;
        for queue in &route.queues {
            let Some(index) = self.queue_index.get(queue).copied() else {
                continue;
            };
            if self.queues[index].quorum.is_some() {
                if !tracked && confirm {
                    continue;
                }
                let outcome = if self.quorum_full(index) {
                    self.counters.refused_by_overflow += 1;
                    QuorumSubmit::Refused
                } else {
                    let command = QuorumCommand::Enqueue {
                        message: message.clone(),
                        origin: self.me,
                        publisher: from,
                        connection,
                        publish_seq,
                    };
                    self.quorum_submit(ctx, index, command, false)
                };
                match outcome {
                    QuorumSubmit::Submitted => {}
                    QuorumSubmit::Unavailable => unavailable = true,
                    QuorumSubmit::Refused => {
                        if tracked {
                            self.quorum_enqueue_settled(ctx, confirm_key, true);
                        }
                    }
                }
            } else if !self.enqueue(ctx, index, message.clone()) {
                refused = true;
            }
        }
        self.drain_work(ctx);
        if tracked {
            if unavailable {
                // No leader: not confirmed at all (RabbitMQ leaves the
                // publish unconfirmed; the publisher's timeout republishes).
                self.pending_confirms.remove(&confirm_key);
            } else {
                self.quorum_enqueue_settled(ctx, confirm_key, refused);
            }
            return;
        }
        if confirm {
            if refused {
                self.counters.confirms_nack += 1;
            } else {
                self.counters.confirms_ack += 1;
            }
            Self::send(
                ctx,
                from,
                Payload::RabbitConfirm {
                    connection,
                    publish_seq,
                    ack: !refused,
                },
                0,
            );
        }
    }

    fn on_consume(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        connection: u64,
        queue_name: &str,
        prefetch_count: u32,
        auto_ack: bool,
    ) {
        let refuse = |ctx: &mut Context<'_>, reason: &str| {
            Self::send(
                ctx,
                from,
                Payload::RabbitConsumeRefused {
                    connection,
                    queue: queue_name.to_string(),
                    reason: reason.to_string(),
                },
                0,
            );
        };
        let Some(queue) = self
            .queue_index
            .get(queue_name)
            .copied()
            .filter(|index| !self.queues[*index].deleted)
        else {
            refuse(ctx, "NOT_FOUND");
            return;
        };
        let state = &mut self.queues[queue];
        if state.spec.exclusive {
            match state.owner {
                Some((owner, epoch)) if owner != from || epoch != connection => {
                    refuse(ctx, "RESOURCE_LOCKED");
                    return;
                }
                _ => state.owner = Some((from, connection)),
            }
        }
        Self::send(
            ctx,
            from,
            Payload::RabbitConsumeOk {
                connection,
                queue: queue_name.to_string(),
            },
            0,
        );
        if state.quorum.is_some() {
            if let Some(existing) = self.connections.get_mut(&from) {
                existing.consuming = Some(queue);
                existing.prefetch_count = prefetch_count;
                existing.auto_ack = auto_ack;
            }
            let checkout = QuorumCommand::Checkout {
                consumer: from,
                epoch: connection,
                host: self.me,
                prefetch_count,
                auto_ack,
            };
            self.quorum_submit(ctx, queue, checkout, true);
            return;
        }
        if !state.consumers.contains(&from) {
            state.consumers.push(from);
        }
        if let Some(timer) = state.expires_timer.take() {
            ctx.cancel_timer(timer);
        }
        if let Some(existing) = self.connections.get_mut(&from) {
            existing.consuming = Some(queue);
            existing.prefetch_count = prefetch_count;
            existing.auto_ack = auto_ack;
        }
        self.dispatch(ctx, queue);
    }

    fn on_settle(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        delivery_tag: u64,
        settlement: RabbitSettlement,
    ) {
        let Some(unacked) = self
            .connections
            .get_mut(&from)
            .and_then(|connection| connection.unacked.remove(&delivery_tag))
        else {
            // AMQP closes the channel with PRECONDITION_FAILED; counted here.
            self.counters.unknown_delivery_tags += 1;
            return;
        };
        let queue = unacked.queue;
        if let Some(message_id) = unacked.quorum_id {
            let mut epoch = 0;
            if let Some(connection) = self.connections.get_mut(&from) {
                epoch = connection.epoch;
                if connection.recently_settled.len() >= MAX_RECENTLY_SETTLED_PER_CONNECTION {
                    connection.recently_settled.pop_front();
                }
                connection
                    .recently_settled
                    .push_back((queue, message_id, unacked.quorum_attempt));
            }
            let settle = QuorumCommand::Settle {
                consumer: from,
                epoch,
                message_id,
                settlement,
            };
            self.quorum_submit(ctx, queue, settle, true);
            return;
        }
        self.queues[queue].unacked_messages = self.queues[queue].unacked_messages.saturating_sub(1);
        if self.queues[queue].deleted {
            return;
        }
        match settlement {
            RabbitSettlement::Ack => {
                self.counters.acked += 1;
                let state = &self.queues[queue];
                ctx.fact(Fact::RabbitRemoved {
                    queue: state.spec.name.clone(),
                    message: unacked.entry.message.key,
                    disposal: RabbitDisposal::Acked,
                    ready_messages: state.storage.ready_messages(),
                });
            }
            RabbitSettlement::Nack { requeue: true }
            | RabbitSettlement::Reject { requeue: true } => {
                self.counters.requeued += 1;
                self.queues[queue].storage.requeue(unacked.entry);
            }
            RabbitSettlement::Nack { requeue: false }
            | RabbitSettlement::Reject { requeue: false } => {
                let ready = self.queues[queue].storage.ready_messages();
                self.dead_letter(
                    queue,
                    unacked.entry.message,
                    RabbitDeathReason::Rejected,
                    ready,
                );
                self.drain_work(ctx);
            }
        }
        self.dispatch(ctx, queue);
    }

    fn ready_total(&self) -> u64 {
        self.queues.iter().map(QueueState::ready_messages).sum()
    }

    fn unacked_total(&self) -> u64 {
        self.connections
            .values()
            .map(|connection| connection.unacked.len() as u64)
            .sum()
    }
}

impl Component for RabbitBroker {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        let half = SimDuration::from_millis((self.spec.heartbeat_timeout_ms / 2).max(1));
        let quarter = SimDuration::from_millis((self.spec.heartbeat_timeout_ms / 4).max(1));
        ctx.set_timer(
            half,
            TimerTag {
                kind: TIMER_HEARTBEAT_SEND,
                id: 0,
            },
        );
        ctx.set_timer(
            quarter,
            TimerTag {
                kind: TIMER_HEARTBEAT_CHECK,
                id: 0,
            },
        );
        for queue in 0..self.queues.len() {
            self.arm_queue_expires(ctx, queue);
            self.arm_message_expiry(ctx, queue);
        }
        let mut any_quorum = false;
        for queue in 0..self.queues.len() {
            if self.queues[queue].quorum.is_some() {
                any_quorum = true;
                self.quorum_drive(ctx, queue, |core, env, out| core.start(env, out));
            }
        }
        if any_quorum {
            ctx.set_timer(
                SimDuration::from_millis(QUORUM_RETRY_INTERVAL_MS),
                TimerTag {
                    kind: TIMER_QUORUM_RETRY,
                    id: 0,
                },
            );
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let from = envelope.from;
        if matches!(
            envelope.payload,
            Payload::RabbitQuorumRaft { .. }
                | Payload::RabbitQuorumForward { .. }
                | Payload::RabbitQuorumDeliver { .. }
                | Payload::RabbitQuorumDeadLetter { .. }
        ) {
            self.on_quorum_frame(ctx, from, &envelope.payload);
            return;
        }
        // Publishing and consuming open a connection; other frames need one.
        let (connection, opens) = match &envelope.payload {
            Payload::RabbitPublish { connection, .. }
            | Payload::RabbitConsume { connection, .. } => (*connection, true),
            Payload::RabbitCancel { connection, .. }
            | Payload::RabbitSettle { connection, .. }
            | Payload::RabbitHeartbeat { connection } => (*connection, false),
            _ => return,
        };
        if !self.touch(ctx, from, connection, opens) {
            return;
        }
        match &envelope.payload {
            Payload::RabbitPublish {
                publish_seq,
                mandatory,
                confirm,
                message,
                ..
            } => {
                let frame = PublishFrame {
                    connection,
                    publish_seq: *publish_seq,
                    mandatory: *mandatory,
                    confirm: *confirm,
                };
                self.on_publish(ctx, from, frame, message);
            }
            Payload::RabbitConsume {
                queue,
                prefetch_count,
                auto_ack,
                ..
            } => self.on_consume(ctx, from, connection, queue, *prefetch_count, *auto_ack),
            Payload::RabbitCancel { queue, .. } => {
                if let Some(index) = self.quorum_queue_named(queue) {
                    if let Some(existing) = self.connections.get_mut(&from) {
                        existing.consuming = None;
                    }
                    let cancel = QuorumCommand::Cancel {
                        consumer: from,
                        epoch: connection,
                    };
                    self.quorum_submit(ctx, index, cancel, true);
                } else if let Some(index) = self.queue_index.get(queue).copied() {
                    if let Some(existing) = self.connections.get_mut(&from) {
                        existing.consuming = None;
                    }
                    self.remove_consumer(ctx, index, from);
                }
            }
            Payload::RabbitSettle {
                delivery_tag,
                settlement,
                ..
            } => self.on_settle(ctx, from, *delivery_tag, *settlement),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_HEARTBEAT_SEND => {
                let targets: Vec<(NodeId, u64)> = self
                    .connections
                    .iter()
                    .map(|(node, connection)| (*node, connection.epoch))
                    .collect();
                for (node, connection) in targets {
                    Self::send(ctx, node, Payload::RabbitHeartbeat { connection }, 0);
                }
                ctx.set_timer(
                    SimDuration::from_millis((self.spec.heartbeat_timeout_ms / 2).max(1)),
                    tag,
                );
            }
            TIMER_HEARTBEAT_CHECK => {
                let now = ctx.local_clock();
                let timeout = self.heartbeat_timeout();
                let silent: Vec<NodeId> = self
                    .connections
                    .iter()
                    .filter(|(_, connection)| now.since(connection.last_heard) >= timeout)
                    .map(|(node, _)| *node)
                    .collect();
                for node in silent {
                    self.counters.connections_closed_missed_heartbeats += 1;
                    self.close_connection(ctx, node, "missed heartbeats");
                }
                ctx.set_timer(
                    SimDuration::from_millis((self.spec.heartbeat_timeout_ms / 4).max(1)),
                    tag,
                );
            }
            TIMER_MESSAGE_EXPIRY => {
                let queue = tag.id as usize;
                if queue < self.queues.len() {
                    self.queues[queue].expiry_timer = None;
                    self.dispatch(ctx, queue);
                }
            }
            TIMER_QUORUM_ELECTION | TIMER_QUORUM_HEARTBEAT => {
                let queue = tag.id as usize;
                let timer = if tag.kind == TIMER_QUORUM_ELECTION {
                    RaftTimer::Election
                } else {
                    RaftTimer::Heartbeat
                };
                if let Some(replica) = self.queues.get_mut(queue).and_then(|q| q.quorum.as_mut()) {
                    replica.timers.remove(&timer);
                    self.quorum_drive(ctx, queue, |core, env, out| {
                        core.handle_timer(env, timer, out)
                    });
                }
            }
            TIMER_QUORUM_RETRY => {
                for queue in 0..self.queues.len() {
                    let pending: Vec<QuorumCommand> = match &self.queues[queue].quorum {
                        Some(replica) => replica.outbox.iter().cloned().collect(),
                        None => continue,
                    };
                    for command in pending {
                        self.quorum_send_command(ctx, queue, command);
                    }
                    self.quorum_resend_stale_deliveries(ctx, queue);
                }
                ctx.set_timer(SimDuration::from_millis(QUORUM_RETRY_INTERVAL_MS), tag);
            }
            TIMER_QUEUE_EXPIRES => {
                let queue = tag.id as usize;
                if queue < self.queues.len() {
                    self.queues[queue].expires_timer = None;
                    if self.queues[queue].consumers.is_empty() {
                        self.delete_queue(ctx, queue, "expires");
                    }
                }
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        // Connections are gone. Unacked persistent messages of durable
        // queues are still on disk (acks were never written): they come back.
        let connections = std::mem::take(&mut self.connections);
        for (node, connection) in connections {
            // The restarted host resets every TCP connection it had: a
            // client's next frame on one (even a publish, which would
            // otherwise open it afresh and reuse delivery tags) is refused
            // with a close, and the client reconnects.
            self.closed_epochs.insert(node, connection.epoch);
            for (_, unacked) in connection.unacked {
                // Quorum queues: still checked out in the replicated state;
                // the consumer's next checkout returns them.
                if unacked.quorum_id.is_none() && !self.queues[unacked.queue].deleted {
                    self.queues[unacked.queue].storage.requeue(unacked.entry);
                }
            }
        }
        self.pending_confirms.clear();
        for queue in &mut self.queues {
            if let Some(replica) = queue.quorum.as_mut() {
                // Term, vote and log are on disk (RabbitMQ's Raft log, fsynced);
                // the applied state is rebuilt from them after the restart.
                let mut actions = Vec::new();
                replica.core.crash(&mut actions);
                for action in actions {
                    if let RaftAction::Fact(fact) = action {
                        ctx.fact(fact);
                    }
                }
                replica.state = QuorumState::default();
                replica.timers.clear();
                replica.outbox.clear();
                replica.sent_at.clear();
            }
        }
        self.work.clear();
        self.draining = false;
        let mut kept = 0;
        let mut lost = 0;
        for queue in &mut self.queues {
            let outcome = queue.storage.crash(queue.spec.durable);
            kept += outcome.kept;
            lost += outcome.lost;
            queue.consumers.clear();
            queue.unacked_messages = 0;
            queue.next_consumer = 0;
            queue.owner = None;
            queue.expiry_timer = None;
            queue.expires_timer = None;
        }
        self.counters.lost_on_crash += lost;
        ctx.state(format!(
            "crashed: {kept} persistent messages of durable queues on disk, {lost} transient or in transient queues lost"
        ));
    }

    fn on_restart(&mut self, ctx: &mut Context<'_>) {
        // Boot: definitions are declared again (deleted queues come back
        // empty), durable queues recover their messages from disk, and any
        // message delivered before the crash is marked redelivered.
        let mut recovered = 0;
        for queue in &mut self.queues {
            if queue.deleted {
                queue.deleted = false;
                queue.storage.drain();
            }
            recovered += queue.storage.ready_messages();
            // A quorum queue's leader states what it holds once elected.
            if queue.spec.durable && queue.quorum.is_none() {
                ctx.fact(Fact::RabbitRecovered {
                    queue: queue.spec.name.clone(),
                    messages: queue.storage.message_keys(),
                });
            }
        }
        self.counters.recovered_after_restart += recovered;
        ctx.state(format!(
            "restarted: {recovered} messages recovered from disk"
        ));
        self.on_start(ctx);
    }

    fn view(&self) -> ComponentView {
        let ready = self.ready_total();
        let unacked = self.unacked_total();
        ComponentView {
            queue_depth: ready,
            in_progress: unacked,
            badge: format!("{ready} ready / {unacked} unacked"),
        }
    }

    fn inspect(&self) -> Option<crate::inspect::NodeInspection> {
        let queues = self
            .queues
            .iter()
            .take(crate::inspect::MAX_INSPECTED_QUEUES)
            .map(|queue| crate::inspect::RabbitQueueInspection {
                queue: queue.spec.name.clone(),
                quorum: queue.quorum.is_some(),
                deleted: queue.deleted,
                ready: queue.ready_messages(),
                // A quorum queue's checked-out messages are the queue's own
                // (replicated) state; a classic queue counts this broker's.
                unacked: queue
                    .quorum
                    .as_ref()
                    .map_or(queue.unacked_messages, |replica| {
                        replica.state.checked_out_messages()
                    }),
                consumers: queue.consumers.len() as u32,
                dead_letter_queue: queue.dead_letter_target,
                dead_letter_exchange: queue.spec.dead_letter_exchange.clone(),
                quorum_role: queue.quorum.as_ref().map(|replica| replica.core.role()),
                quorum_term: queue.quorum.as_ref().map(|replica| replica.core.term()),
                quorum_leader: queue
                    .quorum
                    .as_ref()
                    .and_then(|replica| replica.core.leader_hint()),
            })
            .collect();
        Some(crate::inspect::NodeInspection::RabbitBroker(
            crate::inspect::RabbitBrokerInspection { queues },
        ))
    }

    fn summary(&self, now: SimTime) -> Vec<(&'static str, f64)> {
        let seconds = now.as_secs_f64().max(1e-9);
        let dead_letter_ready: u64 = self
            .queues
            .iter()
            .filter(|queue| queue.dead_letter_target)
            .map(QueueState::ready_messages)
            .sum();
        let counters = &self.counters;
        vec![
            ("ready_messages", self.ready_total() as f64),
            ("unacked_messages", self.unacked_total() as f64),
            ("dead_letter_queue_ready", dead_letter_ready as f64),
            ("published", counters.published as f64),
            ("unroutable", counters.unroutable as f64),
            ("returned", counters.returned as f64),
            (
                "routed_via_alternate_exchange",
                counters.via_alternate_exchange as f64,
            ),
            ("confirms_ack", counters.confirms_ack as f64),
            ("confirms_nack", counters.confirms_nack as f64),
            ("delivered", counters.delivered as f64),
            ("redelivered", counters.redelivered as f64),
            ("acked", counters.acked as f64),
            ("requeued", counters.requeued as f64),
            ("dead_lettered", counters.dead_lettered as f64),
            ("dropped", counters.dropped as f64),
            ("expired", counters.expired as f64),
            ("refused_by_overflow", counters.refused_by_overflow as f64),
            ("queues_deleted", counters.queues_deleted as f64),
            (
                "connections_closed_missed_heartbeats",
                counters.connections_closed_missed_heartbeats as f64,
            ),
            ("lost_on_crash", counters.lost_on_crash as f64),
            (
                "recovered_after_restart",
                counters.recovered_after_restart as f64,
            ),
            (
                "unknown_delivery_tags",
                counters.unknown_delivery_tags as f64,
            ),
            (
                "max_unacked_per_consumer",
                counters.max_unacked_per_consumer as f64,
            ),
            ("quorum_leaderships", counters.quorum_leaderships as f64),
            ("quorum_forwarded", counters.quorum_forwarded as f64),
            ("quorum_unavailable", counters.quorum_unavailable as f64),
            ("publish_rate_per_s", counters.published as f64 / seconds),
            ("deliver_rate_per_s", counters.delivered as f64 / seconds),
            ("ack_rate_per_s", counters.acked as f64 / seconds),
            (
                "redelivery_rate_per_s",
                counters.redelivered as f64 / seconds,
            ),
        ]
    }
}

// ---- quorum queues ----------------------------------------------------------

/// What became of a command a member submitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QuorumSubmit {
    /// Appended by this leader, or forwarded to the leader.
    Submitted,
    /// No leader known (no majority, or an election under way): the queue is unavailable.
    Unavailable,
    /// The leader refused it (back-pressure: too many uncommitted entries).
    Refused,
}

impl RabbitBroker {
    /// Runs `call` on a quorum queue's Raft core with this node's clock and stream, then carries out its actions.
    fn quorum_drive(
        &mut self,
        ctx: &mut Context<'_>,
        queue: usize,
        call: impl FnOnce(&mut QuorumCore, &mut RaftEnv<'_>, &mut Vec<QuorumAction>),
    ) {
        let mut actions = Vec::new();
        let now = ctx.local_clock();
        {
            let Some(replica) = self.queues[queue].quorum.as_mut() else {
                return;
            };
            let mut env = RaftEnv {
                now,
                rng: ctx.rng(),
            };
            call(&mut replica.core, &mut env, &mut actions);
        }
        self.quorum_perform(ctx, queue, actions);
    }

    fn quorum_perform(&mut self, ctx: &mut Context<'_>, queue: usize, actions: Vec<QuorumAction>) {
        let name = self.queues[queue].spec.name.clone();
        for action in actions {
            match action {
                RaftAction::Send { to, message } => {
                    let size_bytes = message.size_bytes();
                    ctx.send(
                        to,
                        Payload::RabbitQuorumRaft {
                            queue: name.clone(),
                            message,
                        },
                        size_bytes,
                    );
                }
                RaftAction::SetTimer { timer, after } => {
                    let replica = self.queues[queue].quorum.as_mut().expect("quorum queue");
                    if let Some(previous) = replica.timers.remove(&timer) {
                        ctx.cancel_timer(previous);
                    }
                    let kind = match timer {
                        RaftTimer::Election => TIMER_QUORUM_ELECTION,
                        RaftTimer::Heartbeat => TIMER_QUORUM_HEARTBEAT,
                    };
                    let id = ctx.set_timer(
                        after,
                        TimerTag {
                            kind,
                            id: queue as u64,
                        },
                    );
                    replica.timers.insert(timer, id);
                }
                RaftAction::Apply { term, payload, .. } => {
                    self.quorum_apply(ctx, queue, term, payload)
                }
                RaftAction::RestoreSnapshot { data, .. } => {
                    self.queues[queue]
                        .quorum
                        .as_mut()
                        .expect("quorum queue")
                        .state = data;
                }
                RaftAction::RoleChanged { role, term, leader } => {
                    if role == RaftRole::Leader {
                        self.counters.quorum_leaderships += 1;
                    }
                    ctx.state(format!(
                        "quorum queue {name}: {} term={term} leader={}",
                        role.as_str(),
                        leader.map_or("none".to_string(), |node| format!("n{}", node.0))
                    ));
                }
                RaftAction::Fact(fact) => ctx.fact(fact),
            }
        }
        self.drain_work(ctx);
        let replica = self.queues[queue].quorum.as_mut().expect("quorum queue");
        if let Some(index) = replica.core.snapshot_due() {
            let snapshot = replica.state.clone();
            replica.core.compact(index, snapshot);
        }
    }

    /// Applies one committed entry on this member, then carries out the
    /// effects that belong here (confirms on the publisher's broker, the rest on the leader).
    fn quorum_apply(
        &mut self,
        ctx: &mut Context<'_>,
        queue: usize,
        term: u64,
        payload: EntryPayload<QuorumCommand>,
    ) {
        let name = self.queues[queue].spec.name.clone();
        let replica = self.queues[queue].quorum.as_mut().expect("quorum queue");
        let leading = replica.core.role() == RaftRole::Leader;
        let mut effects = Vec::new();
        match payload {
            EntryPayload::Command(command) => {
                replica
                    .state
                    .apply(&command, replica.delivery_limit, &mut effects);
                if let Some(position) = replica.outbox.iter().position(|sent| *sent == command) {
                    replica.outbox.remove(position);
                }
            }
            EntryPayload::Noop => {
                // A new leader's first entry: everything committed before is
                // applied here now. What it holds is what the queue holds;
                // checkers compare it with what was confirmed. Deliveries
                // the old leader may not have sent go out again (the
                // consumer's broker drops those it already has).
                if leading && term == replica.core.term() {
                    ctx.fact(Fact::RabbitRecovered {
                        queue: name,
                        messages: replica.state.message_keys(),
                    });
                    effects.extend(replica.state.outstanding_deliveries());
                }
            }
            EntryPayload::Membership(_) => {}
        }
        for effect in effects {
            self.quorum_effect(ctx, queue, leading, effect);
        }
    }

    fn quorum_effect(
        &mut self,
        ctx: &mut Context<'_>,
        queue: usize,
        leading: bool,
        effect: QuorumEffect,
    ) {
        let name = self.queues[queue].spec.name.clone();
        match effect {
            QuorumEffect::Confirm {
                origin,
                publisher,
                connection,
                publish_seq,
            } => {
                if origin == self.me {
                    self.quorum_enqueue_settled(ctx, (publisher, connection, publish_seq), false);
                }
            }
            _ if !leading => {}
            QuorumEffect::Enqueued { message } => {
                let ready_messages = self.queues[queue].ready_messages();
                ctx.fact(Fact::RabbitEnqueued {
                    queue: name,
                    message: message.key,
                    // A quorum queue writes every message to its log, whatever its delivery mode.
                    persistent: true,
                    durable_queue: true,
                    ttl_ms: None,
                    ready_messages,
                });
            }
            QuorumEffect::Deliver {
                host,
                consumer,
                epoch,
                message_id,
                attempt,
                redelivered,
                message,
            } => {
                self.counters.delivered += 1;
                if redelivered {
                    self.counters.redelivered += 1;
                }
                let now = ctx.now();
                if let Some(replica) = self.queues[queue].quorum.as_mut() {
                    replica.sent_at.insert(message_id, now);
                }
                if host == self.me {
                    self.quorum_deliver_local(
                        ctx,
                        queue,
                        consumer,
                        epoch,
                        (message_id, attempt),
                        redelivered,
                        message,
                    );
                } else {
                    let body = message.body_bytes;
                    Self::send(
                        ctx,
                        host,
                        Payload::RabbitQuorumDeliver {
                            queue: name,
                            consumer,
                            epoch,
                            message_id,
                            attempt,
                            redelivered,
                            message,
                        },
                        body,
                    );
                }
            }
            QuorumEffect::Acked { message } => {
                self.counters.acked += 1;
                let ready_messages = self.queues[queue].ready_messages();
                ctx.fact(Fact::RabbitRemoved {
                    queue: name,
                    message: message.key,
                    disposal: RabbitDisposal::Acked,
                    ready_messages,
                });
            }
            QuorumEffect::DeadLetter { message, reason } => {
                let ready = self.queues[queue].ready_messages();
                let home = self.queues[queue]
                    .quorum
                    .as_ref()
                    .map_or(self.me, |replica| replica.home);
                if home == self.me {
                    self.dead_letter(queue, message, reason, ready);
                    return;
                }
                // The dead-letter exchange is declared on the home broker:
                // the leader states the removal and sends the message there
                // (at most once, as RabbitMQ's default dead-lettering is).
                let disposal = if self.queues[queue].spec.dead_letter_exchange.is_some() {
                    self.counters.dead_lettered += 1;
                    RabbitDisposal::DeadLettered { reason }
                } else {
                    self.counters.dropped += 1;
                    RabbitDisposal::Dropped { reason }
                };
                ctx.fact(Fact::RabbitRemoved {
                    queue: name.clone(),
                    message: message.key,
                    disposal,
                    ready_messages: ready,
                });
                if disposal != (RabbitDisposal::Dropped { reason }) {
                    let body = message.body_bytes;
                    Self::send(
                        ctx,
                        home,
                        Payload::RabbitQuorumDeadLetter {
                            queue: name,
                            message,
                            reason,
                        },
                        body,
                    );
                }
            }
        }
    }

    /// One quorum enqueue of a publish is applied here (or could not be
    /// submitted: `refused`). The confirm goes once all of them are.
    fn quorum_enqueue_settled(
        &mut self,
        ctx: &mut Context<'_>,
        key: (NodeId, u64, u64),
        refused: bool,
    ) {
        let Some((remaining, any_refused)) = self.pending_confirms.get_mut(&key) else {
            return;
        };
        *remaining = remaining.saturating_sub(1);
        *any_refused |= refused;
        if *remaining > 0 {
            return;
        }
        let ack = !*any_refused;
        self.pending_confirms.remove(&key);
        let (publisher, connection, publish_seq) = key;
        if ack {
            self.counters.confirms_ack += 1;
        } else {
            self.counters.confirms_nack += 1;
        }
        Self::send(
            ctx,
            publisher,
            Payload::RabbitConfirm {
                connection,
                publish_seq,
                ack,
            },
            0,
        );
    }

    /// Proposes on the leader, forwards from another member (as RabbitMQ's
    /// channel process does: the client never has to find the leader).
    /// `retry`: keep re-sending until this member applies it (consumer commands).
    fn quorum_submit(
        &mut self,
        ctx: &mut Context<'_>,
        queue: usize,
        command: QuorumCommand,
        retry: bool,
    ) -> QuorumSubmit {
        if retry {
            let replica = self.queues[queue].quorum.as_mut().expect("quorum queue");
            if replica.outbox.len() >= MAX_QUORUM_OUTBOX {
                replica.outbox.pop_front();
            }
            replica.outbox.push_back(command.clone());
        }
        self.quorum_send_command(ctx, queue, command)
    }

    fn quorum_send_command(
        &mut self,
        ctx: &mut Context<'_>,
        queue: usize,
        command: QuorumCommand,
    ) -> QuorumSubmit {
        let name = self.queues[queue].spec.name.clone();
        let replica = self.queues[queue].quorum.as_mut().expect("quorum queue");
        if replica.core.role() == RaftRole::Leader {
            let mut actions = Vec::new();
            let result = replica.core.propose(command, &mut actions);
            self.quorum_perform(ctx, queue, actions);
            match result {
                Ok(_) => QuorumSubmit::Submitted,
                Err(_) => QuorumSubmit::Refused,
            }
        } else if let Some(leader) = replica.core.leader_hint().filter(|node| *node != self.me) {
            self.counters.quorum_forwarded += 1;
            let body = match &command {
                QuorumCommand::Enqueue { message, .. } => message.body_bytes,
                _ => 0,
            };
            Self::send(
                ctx,
                leader,
                Payload::RabbitQuorumForward {
                    queue: name,
                    command,
                },
                body,
            );
            QuorumSubmit::Submitted
        } else {
            self.counters.quorum_unavailable += 1;
            QuorumSubmit::Unavailable
        }
    }

    /// Leader: sends again the deliveries not settled for a while (the first
    /// may have been lost in a partition); the consumer's broker drops repeats.
    fn quorum_resend_stale_deliveries(&mut self, ctx: &mut Context<'_>, queue: usize) {
        let now = ctx.now();
        let name = self.queues[queue].spec.name.clone();
        let Some(replica) = self.queues[queue].quorum.as_mut() else {
            return;
        };
        if replica.core.role() != RaftRole::Leader {
            replica.sent_at.clear();
            return;
        }
        let outstanding = replica.state.outstanding_deliveries();
        let mut stale = Vec::new();
        let mut still_out = BTreeMap::new();
        for effect in outstanding {
            if let QuorumEffect::Deliver { message_id, .. } = &effect {
                let last = replica.sent_at.get(message_id).copied();
                let due = last.is_none_or(|at| {
                    now.since(at) >= SimDuration::from_millis(QUORUM_REDELIVERY_CHECK_MS)
                });
                still_out.insert(*message_id, if due { now } else { last.unwrap_or(now) });
                if due {
                    stale.push(effect);
                }
            }
        }
        replica.sent_at = still_out;
        for effect in stale {
            if let QuorumEffect::Deliver {
                host,
                consumer,
                epoch,
                message_id,
                attempt,
                redelivered,
                message,
            } = effect
            {
                if host == self.me {
                    self.quorum_deliver_local(
                        ctx,
                        queue,
                        consumer,
                        epoch,
                        (message_id, attempt),
                        redelivered,
                        message,
                    );
                } else {
                    let body = message.body_bytes;
                    Self::send(
                        ctx,
                        host,
                        Payload::RabbitQuorumDeliver {
                            queue: name.clone(),
                            consumer,
                            epoch,
                            message_id,
                            attempt,
                            redelivered,
                            message,
                        },
                        body,
                    );
                }
            }
        }
    }

    /// The queue is at the simulator's cap (ready and checked out).
    fn quorum_full(&self, queue: usize) -> bool {
        self.queues[queue].quorum.as_ref().is_some_and(|replica| {
            replica.state.ready_messages() + replica.state.checked_out_messages()
                >= MAX_RABBIT_QUEUE_MESSAGES as u64
        })
    }

    /// A dead-lettered message into a quorum queue: an enqueue nobody confirms.
    fn quorum_enqueue_unconfirmed(
        &mut self,
        ctx: &mut Context<'_>,
        queue: usize,
        message: RabbitMessage,
    ) -> bool {
        if self.quorum_full(queue) {
            self.counters.refused_by_overflow += 1;
            ctx.error("rabbit_queue_at_simulator_cap");
            return false;
        }
        let command = QuorumCommand::Enqueue {
            message,
            origin: self.me,
            publisher: self.me,
            connection: 0,
            publish_seq: 0,
        };
        self.quorum_submit(ctx, queue, command, false) == QuorumSubmit::Submitted
    }

    /// The leader asks this broker (the consumer's channel) to deliver.
    #[allow(clippy::too_many_arguments)] // the fields of one delivery
    fn quorum_deliver_local(
        &mut self,
        ctx: &mut Context<'_>,
        queue: usize,
        consumer: NodeId,
        epoch: u64,
        (message_id, attempt): (u64, u32),
        redelivered: bool,
        message: RabbitMessage,
    ) {
        let queue_name = self.queues[queue].spec.name.clone();
        let Some(connection) = self.connections.get_mut(&consumer) else {
            return;
        };
        if connection.epoch != epoch || connection.consuming != Some(queue) {
            return; // for a connection that is gone: the next checkout returns it
        }
        if connection
            .unacked
            .values()
            .any(|held| held.queue == queue && held.quorum_id == Some(message_id))
            || connection
                .recently_settled
                .contains(&(queue, message_id, attempt))
        {
            return; // re-sent by a new leader: already here
        }
        let delivery_tag = connection.next_delivery_tag;
        connection.next_delivery_tag += 1;
        let body = message.body_bytes;
        ctx.send(
            consumer,
            Payload::RabbitDeliver {
                connection: epoch,
                delivery_tag,
                redelivered,
                queue: queue_name,
                message: message.clone(),
            },
            FRAME_OVERHEAD_BYTES + body,
        );
        if !connection.auto_ack {
            connection.unacked.insert(
                delivery_tag,
                Unacked {
                    queue,
                    entry: QueuedMessage {
                        message,
                        arrival: message_id,
                        priority: 0,
                        expires_at: None,
                        delivered_before: true,
                    },
                    quorum_id: Some(message_id),
                    quorum_attempt: attempt,
                },
            );
            self.counters.max_unacked_per_consumer = self
                .counters
                .max_unacked_per_consumer
                .max(connection.unacked.len() as u64);
        }
    }

    /// Frames between brokers for quorum queues.
    fn on_quorum_frame(&mut self, ctx: &mut Context<'_>, from: NodeId, payload: &Payload) {
        match payload {
            Payload::RabbitQuorumRaft { queue, message } => {
                if let Some(index) = self.quorum_queue_named(queue) {
                    let message = message.clone();
                    self.quorum_drive(ctx, index, |core, env, out| {
                        core.handle_message(env, from, message, out)
                    });
                }
            }
            Payload::RabbitQuorumForward { queue, command } => {
                // Only the leader appends; a stale forward is dropped (the
                // sender retries consumer commands, publishers time out).
                if let Some(index) = self.quorum_queue_named(queue)
                    && self.queues[index]
                        .quorum
                        .as_ref()
                        .is_some_and(|replica| replica.core.role() == RaftRole::Leader)
                {
                    self.quorum_send_command(ctx, index, command.clone());
                }
            }
            Payload::RabbitQuorumDeliver {
                queue,
                consumer,
                epoch,
                message_id,
                attempt,
                redelivered,
                message,
            } => {
                if let Some(index) = self.quorum_queue_named(queue) {
                    self.quorum_deliver_local(
                        ctx,
                        index,
                        *consumer,
                        *epoch,
                        (*message_id, *attempt),
                        *redelivered,
                        message.clone(),
                    );
                }
            }
            Payload::RabbitQuorumDeadLetter {
                queue,
                message,
                reason,
            } => {
                if let Some(index) = self.quorum_queue_named(queue) {
                    let ready = self.queues[index].ready_messages();
                    self.dead_letter_stating(index, message.clone(), *reason, ready, false);
                    self.drain_work(ctx);
                }
            }
            _ => {}
        }
    }

    fn quorum_queue_named(&self, name: &str) -> Option<usize> {
        self.queue_index
            .get(name)
            .copied()
            .filter(|index| self.queues[*index].quorum.is_some())
    }
}
