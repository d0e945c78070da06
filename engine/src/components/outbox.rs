//! Transactional outbox versus dual write: a service that writes a row per
//! request and publishes an event about it, and the consumer of those events.
//!
//! Dual write: the database commit and the publish are two separate steps,
//! each with its own latency (timers), in either order. A crash between them
//! drops the second step: with `db_then_publish` the row is committed and its
//! event never leaves (lost); with `publish_then_db` the event is out and the
//! row never commits (a phantom). A publish retried after a timeout whose
//! first send did arrive is delivered twice.
//!
//! Transactional outbox: the row and an outbox row commit in one local
//! transaction; a relay (a timer loop in the same process) polls the outbox
//! every `poll_interval_ms`, publishes unsent rows, and deletes a row in a
//! second database write once the consumer acknowledged it. A crash after the
//! acknowledgement but before that delete re-publishes the row on restart:
//! at-least-once, so the consumer must deduplicate by event id.
//!
//! Events go to the consumer as direct messages (`TxnMessage::OutboxEvent`),
//! not through a broker, so the only faults are the two services' crashes and
//! the network. Facts: `RowCommitted`, `EventPublished`, `EventConsumed`.

use super::txn_protocol::{TxnFact, TxnMessage};
use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::limits::MAX_TXN_TRACKED;
use crate::scenario::txn::{
    DualWriteOrder, EventConsumerSpec, EventPublishMode, OutboxServiceSpec,
};
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const TIMER_DB_WRITE: u32 = 1;
const TIMER_PUBLISH: u32 = 2;
const TIMER_PUBLISH_TIMEOUT: u32 = 3;
const TIMER_RELAY_POLL: u32 = 4;
const TIMER_MARK_SENT: u32 = 5;

/// An event id unique in a run: the client's node and its operation number.
fn event_id(client: NodeId, operation: u64) -> u64 {
    (u64::from(client.0) << 40) | (operation & ((1 << 40) - 1))
}

/// One client request on its way through the dual write or the outbox write.
#[derive(Clone, Debug)]
struct Request {
    client: NodeId,
    operation: u64,
    /// Dual write: sends of the event so far.
    attempts: u32,
    /// Dual write: the row is committed.
    committed: bool,
}

#[derive(Clone)]
pub struct OutboxService {
    spec: OutboxServiceSpec,
    consumer: Option<NodeId>,
    // Database (survives a crash iff `durable_storage`).
    /// Outbox rows not yet deleted by the relay, in commit order.
    outbox: BTreeSet<u64>,
    outbox_order: VecDeque<u64>,
    // Volatile.
    requests: BTreeMap<u64, Request>,
    /// Timer key → event, for the timers of one request.
    timer_events: BTreeMap<u64, u64>,
    /// Relay: events published and not yet acknowledged, with when they left.
    relay_in_flight: BTreeMap<u64, SimTime>,
    /// Relay: acknowledged events whose delete is being written.
    relay_marking: BTreeSet<u64>,
    next_timer_key: u64,
    rows_committed: u64,
    events_published: u64,
    publish_retries: u64,
    refused_outbox_full: u64,
    given_up: u64,
}

impl OutboxService {
    pub fn new(spec: &OutboxServiceSpec, node_ids: &BTreeMap<String, NodeId>) -> OutboxService {
        OutboxService {
            spec: spec.clone(),
            consumer: node_ids.get(&spec.consumer).copied(),
            outbox: BTreeSet::new(),
            outbox_order: VecDeque::new(),
            requests: BTreeMap::new(),
            timer_events: BTreeMap::new(),
            relay_in_flight: BTreeMap::new(),
            relay_marking: BTreeSet::new(),
            next_timer_key: 0,
            rows_committed: 0,
            events_published: 0,
            publish_retries: 0,
            refused_outbox_full: 0,
            given_up: 0,
        }
    }

    fn timer(&mut self, ctx: &mut Context<'_>, kind: u32, after_ms: u64, event: u64) {
        let key = self.next_timer_key;
        self.next_timer_key += 1;
        self.timer_events.insert(key, event);
        ctx.set_timer(
            SimDuration::from_millis(after_ms),
            TimerTag { kind, id: key },
        );
    }

    fn publish(&mut self, ctx: &mut Context<'_>, event: u64) {
        let Some(consumer) = self.consumer else {
            return;
        };
        self.events_published += 1;
        ctx.fact(Fact::Txn(TxnFact::EventPublished { event }));
        ctx.send(
            consumer,
            Payload::Txn(TxnMessage::OutboxEvent { event }),
            64,
        );
    }

    fn answer(ctx: &mut Context<'_>, request: &Request, ok: bool) {
        ctx.send(
            request.client,
            Payload::Response {
                operation: request.operation,
                ok,
            },
            64,
        );
    }

    fn commit_row(&mut self, ctx: &mut Context<'_>, event: u64) {
        self.rows_committed += 1;
        ctx.fact(Fact::Txn(TxnFact::RowCommitted { event }));
    }

    /// Dual write: send (or re-send) the event and arm its timeout.
    fn dual_write_send(&mut self, ctx: &mut Context<'_>, event: u64) {
        let Some(request) = self.requests.get_mut(&event) else {
            return;
        };
        request.attempts += 1;
        if request.attempts > 1 {
            self.publish_retries += 1;
        }
        self.publish(ctx, event);
        self.timer(
            ctx,
            TIMER_PUBLISH_TIMEOUT,
            self.spec.publish_timeout_ms,
            event,
        );
    }

    fn on_db_written(&mut self, ctx: &mut Context<'_>, event: u64) {
        match self.spec.mode {
            EventPublishMode::TransactionalOutbox => {
                let Some(request) = self.requests.remove(&event) else {
                    return;
                };
                // One local transaction: the row and its outbox row.
                self.commit_row(ctx, event);
                self.outbox.insert(event);
                self.outbox_order.push_back(event);
                Self::answer(ctx, &request, true);
            }
            EventPublishMode::DualWrite => {
                let Some(request) = self.requests.get_mut(&event) else {
                    return;
                };
                request.committed = true;
                self.commit_row(ctx, event);
                match self.spec.dual_write_order {
                    // Second step: publish, after its own latency.
                    DualWriteOrder::DbThenPublish => {
                        self.timer(ctx, TIMER_PUBLISH, self.spec.publish_latency_ms, event);
                    }
                    DualWriteOrder::PublishThenDb => {
                        if let Some(request) = self.requests.remove(&event) {
                            Self::answer(ctx, &request, true);
                        }
                    }
                }
            }
        }
    }

    fn on_ack(&mut self, ctx: &mut Context<'_>, event: u64) {
        match self.spec.mode {
            EventPublishMode::TransactionalOutbox => {
                if self.relay_in_flight.remove(&event).is_some()
                    && self.outbox.contains(&event)
                    && self.relay_marking.insert(event)
                {
                    // Deleting the row is a second database write: a crash
                    // inside it leaves the row to be published again.
                    self.timer(ctx, TIMER_MARK_SENT, self.spec.db_write_latency_ms, event);
                }
            }
            EventPublishMode::DualWrite => {
                let Some(request) = self.requests.get(&event) else {
                    return;
                };
                match self.spec.dual_write_order {
                    DualWriteOrder::DbThenPublish => {
                        if let Some(request) = self.requests.remove(&event) {
                            Self::answer(ctx, &request, true);
                        }
                    }
                    DualWriteOrder::PublishThenDb => {
                        if !request.committed && request.attempts > 0 {
                            // Mark the publish done so a later ack does not write twice.
                            if let Some(request) = self.requests.get_mut(&event) {
                                request.attempts = u32::MAX;
                            }
                            self.timer(ctx, TIMER_DB_WRITE, self.spec.db_write_latency_ms, event);
                        }
                    }
                }
            }
        }
    }

    fn relay_poll(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let timeout = SimDuration::from_millis(self.spec.publish_timeout_ms);
        let due: Vec<u64> = self
            .outbox_order
            .iter()
            .copied()
            .filter(|event| self.outbox.contains(event) && !self.relay_marking.contains(event))
            .filter(|event| {
                self.relay_in_flight
                    .get(event)
                    .is_none_or(|sent| sent.plus(timeout) <= now)
            })
            .take(self.spec.relay_batch_rows as usize)
            .collect();
        for event in due {
            if self.relay_in_flight.insert(event, now).is_some() {
                self.publish_retries += 1;
            }
            self.publish(ctx, event);
        }
        ctx.set_timer(
            SimDuration::from_millis(self.spec.poll_interval_ms),
            TimerTag {
                kind: TIMER_RELAY_POLL,
                id: 0,
            },
        );
    }
}

impl Component for OutboxService {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        if self.spec.mode == EventPublishMode::TransactionalOutbox {
            ctx.set_timer(
                SimDuration::from_millis(self.spec.poll_interval_ms),
                TimerTag {
                    kind: TIMER_RELAY_POLL,
                    id: 0,
                },
            );
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        match &envelope.payload {
            Payload::Request { operation, .. } => {
                let event = event_id(envelope.from, *operation);
                let request = Request {
                    client: envelope.from,
                    operation: *operation,
                    attempts: 0,
                    committed: false,
                };
                if self.spec.mode == EventPublishMode::TransactionalOutbox
                    && self.outbox.len() >= self.spec.max_outbox_rows as usize
                {
                    self.refused_outbox_full += 1;
                    Self::answer(ctx, &request, false);
                    return;
                }
                if self.requests.len() >= MAX_TXN_TRACKED || self.requests.contains_key(&event) {
                    Self::answer(ctx, &request, false);
                    return;
                }
                self.requests.insert(event, request);
                let first_step_is_publish = self.spec.mode == EventPublishMode::DualWrite
                    && self.spec.dual_write_order == DualWriteOrder::PublishThenDb;
                if first_step_is_publish {
                    self.timer(ctx, TIMER_PUBLISH, self.spec.publish_latency_ms, event);
                } else {
                    self.timer(ctx, TIMER_DB_WRITE, self.spec.db_write_latency_ms, event);
                }
            }
            Payload::Txn(TxnMessage::OutboxEventAck { event }) => self.on_ack(ctx, *event),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        if tag.kind == TIMER_RELAY_POLL {
            self.relay_poll(ctx);
            return;
        }
        let Some(event) = self.timer_events.remove(&tag.id) else {
            return;
        };
        match tag.kind {
            TIMER_DB_WRITE => self.on_db_written(ctx, event),
            TIMER_PUBLISH => self.dual_write_send(ctx, event),
            TIMER_PUBLISH_TIMEOUT => {
                let Some(request) = self.requests.get(&event) else {
                    return;
                };
                if request.attempts == u32::MAX {
                    return; // acknowledged (publish-then-db), the commit is under way
                }
                if request.attempts < self.spec.max_publish_attempts {
                    // The first send may have arrived and only its ack be
                    // late or lost: this re-send can duplicate the event.
                    self.dual_write_send(ctx, event);
                } else {
                    self.given_up += 1;
                    ctx.state(format!(
                        "e{event}: no acknowledgement after {} sends, gave up",
                        request.attempts
                    ));
                    if let Some(request) = self.requests.remove(&event) {
                        // db_then_publish: the row stays committed and its event
                        // may never arrive; publish_then_db: the row is never
                        // written though the event may have arrived.
                        Self::answer(ctx, &request, false);
                    }
                }
            }
            TIMER_MARK_SENT => {
                self.relay_marking.remove(&event);
                if self.outbox.remove(&event) {
                    self.outbox_order.retain(|other| *other != event);
                }
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        let abandoned = self.requests.len();
        self.requests.clear();
        self.timer_events.clear();
        self.relay_in_flight.clear();
        self.relay_marking.clear();
        if !self.spec.durable_storage && !self.outbox.is_empty() {
            ctx.state(format!(
                "outbox in memory: {} unsent events wiped by the crash",
                self.outbox.len()
            ));
            self.outbox.clear();
            self.outbox_order.clear();
        }
        if abandoned > 0 {
            ctx.state(format!("crash: {abandoned} requests cut off mid-write"));
        }
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: self.outbox.len() as u64,
            in_progress: self.requests.len() as u64,
            badge: format!(
                "rows {} · published {}",
                self.rows_committed, self.events_published
            ),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("rows_committed", self.rows_committed as f64),
            ("events_published", self.events_published as f64),
            ("publish_retries", self.publish_retries as f64),
            ("outbox_rows", self.outbox.len() as f64),
            ("refused_outbox_full", self.refused_outbox_full as f64),
            ("given_up", self.given_up as f64),
        ]
    }
}

/// Applies events and acknowledges them, deduplicating by id when idempotent.
#[derive(Clone)]
pub struct EventConsumer {
    spec: EventConsumerSpec,
    // Database (durable): the ids applied, bounded, oldest forgotten first.
    seen: BTreeSet<u64>,
    seen_order: VecDeque<u64>,
    applied: u64,
    duplicates_applied: u64,
    duplicates_suppressed: u64,
}

impl EventConsumer {
    pub fn new(spec: &EventConsumerSpec) -> EventConsumer {
        EventConsumer {
            spec: spec.clone(),
            seen: BTreeSet::new(),
            seen_order: VecDeque::new(),
            applied: 0,
            duplicates_applied: 0,
            duplicates_suppressed: 0,
        }
    }
}

impl Component for EventConsumer {
    fn on_start(&mut self, _ctx: &mut Context<'_>) {}

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let Payload::Txn(TxnMessage::OutboxEvent { event }) = &envelope.payload else {
            return;
        };
        let event = *event;
        let seen_before = self.seen.contains(&event);
        if seen_before && self.spec.idempotent_consumer {
            self.duplicates_suppressed += 1;
            ctx.fact(Fact::Txn(TxnFact::EventConsumed {
                event,
                duplicate: true,
            }));
        } else {
            self.applied += 1;
            if seen_before {
                self.duplicates_applied += 1;
            } else {
                self.seen.insert(event);
                self.seen_order.push_back(event);
                if self.seen_order.len() > MAX_TXN_TRACKED
                    && let Some(oldest) = self.seen_order.pop_front()
                {
                    self.seen.remove(&oldest);
                }
            }
            ctx.fact(Fact::Txn(TxnFact::EventConsumed {
                event,
                duplicate: false,
            }));
        }
        ctx.send(
            envelope.from,
            Payload::Txn(TxnMessage::OutboxEventAck { event }),
            64,
        );
    }

    fn on_timer(&mut self, _ctx: &mut Context<'_>, _tag: TimerTag) {}

    fn on_crash(&mut self, _ctx: &mut Context<'_>) {}

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: 0,
            in_progress: 0,
            badge: format!(
                "applied {} · dup applied {}",
                self.applied, self.duplicates_applied
            ),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("applied", self.applied as f64),
            ("duplicates_applied", self.duplicates_applied as f64),
            ("duplicates_suppressed", self.duplicates_suppressed as f64),
        ]
    }
}
