//! AMQP publisher: weighted message templates, publisher confirms, republish on nack or confirm timeout, reconnect on heartbeat loss.
//!
//! Each message is one Jepsen-style operation: `invoke`, then `ok` (the
//! broker confirmed it: `basic.ack`), `fail` (nacked and out of retries) or
//! `info` (no confirm after every retry, or confirms off: the publisher
//! cannot know). A republished message keeps its identity, so a message may
//! reach a queue twice (at-least-once publishing).
//!
//! Bounds: `max_unconfirmed` in flight, `buffer_messages` waiting, `retries`
//! republishes per message.

use crate::component::{Component, ComponentView, Context, TimerId, TimerTag};
use crate::components::rabbit_protocol::{RabbitMessage, RabbitMessageKey};
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::RabbitPublisherSpec;
use crate::time::{SimDuration, SimTime};
use crate::trace::{Fact, OperationPhase};
use std::collections::{BTreeMap, VecDeque};

const TIMER_ARRIVAL: u32 = 1;
const TIMER_CONFIRM_TIMEOUT: u32 = 2;
const TIMER_HEARTBEAT: u32 = 3;

#[derive(Clone)]
struct Pending {
    message: RabbitMessage,
    attempts: u32,
}

#[derive(Clone)]
struct InFlight {
    sequence: u64,
    timer: Option<TimerId>,
}

#[derive(Clone)]
pub struct RabbitPublisher {
    spec: RabbitPublisherSpec,
    broker: Option<NodeId>,
    heartbeat_timeout_ms: u64,
    connection: u64,
    /// A publish went out on `connection` (publishing opens the connection;
    /// before that there is nothing to keep alive).
    connection_used: bool,
    last_heard_from_broker: SimTime,
    next_publish_seq: u64,
    next_sequence: u64,
    messages: BTreeMap<u64, Pending>,
    ready: VecDeque<u64>,
    /// publish_seq (of the current connection) → message.
    in_flight: BTreeMap<u64, InFlight>,
    total_weight: f64,
    published: u64,
    confirmed: u64,
    nacked: u64,
    returned: u64,
    republished: u64,
    failed: u64,
    unknown: u64,
    reconnects: u64,
}

impl RabbitPublisher {
    pub fn new(
        spec: &RabbitPublisherSpec,
        heartbeat_timeout_ms: u64,
        node_ids: &BTreeMap<String, NodeId>,
    ) -> RabbitPublisher {
        RabbitPublisher {
            spec: spec.clone(),
            broker: node_ids.get(&spec.broker).copied(),
            heartbeat_timeout_ms,
            connection: 1,
            connection_used: false,
            last_heard_from_broker: SimTime::ZERO,
            next_publish_seq: 1,
            next_sequence: 0,
            messages: BTreeMap::new(),
            ready: VecDeque::new(),
            in_flight: BTreeMap::new(),
            total_weight: spec.messages.iter().map(|template| template.weight).sum(),
            published: 0,
            confirmed: 0,
            nacked: 0,
            returned: 0,
            republished: 0,
            failed: 0,
            unknown: 0,
            reconnects: 0,
        }
    }

    fn schedule_arrival(&mut self, ctx: &mut Context<'_>) {
        let after = self.spec.inter_arrival.sample(ctx.rng());
        ctx.set_timer(
            after.max(SimDuration::from_micros(1)),
            TimerTag {
                kind: TIMER_ARRIVAL,
                id: 0,
            },
        );
    }

    fn new_message(&mut self, ctx: &mut Context<'_>) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        ctx.operation(sequence, OperationPhase::Invoke, "publish");
        if self.ready.len() >= self.spec.buffer_messages as usize {
            self.failed += 1;
            ctx.operation(sequence, OperationPhase::Fail, "buffer full");
            ctx.error("rabbit_publish_buffer_full");
            return;
        }
        // A template by weight (validation keeps weights positive).
        let mut draw = ctx.rng().next_f64() * self.total_weight;
        let mut chosen = self.spec.messages.len() - 1;
        for (index, template) in self.spec.messages.iter().enumerate() {
            if draw < template.weight {
                chosen = index;
                break;
            }
            draw -= template.weight;
        }
        let template = &self.spec.messages[chosen];
        let message = RabbitMessage {
            key: RabbitMessageKey {
                publisher: ctx.node(),
                sequence,
            },
            exchange: self.spec.exchange.clone(),
            routing_key: template.routing_key.clone(),
            headers: template.headers.clone(),
            persistent: self.spec.persistent,
            priority: template.priority,
            expiration_ms: template.expiration_ms,
            body_bytes: self.spec.body_bytes,
            x_death: Vec::new(),
        };
        self.messages.insert(
            sequence,
            Pending {
                message,
                attempts: 0,
            },
        );
        self.ready.push_back(sequence);
    }

    fn pump(&mut self, ctx: &mut Context<'_>) {
        let Some(broker) = self.broker else {
            return;
        };
        while self.in_flight.len() < self.spec.max_unconfirmed as usize {
            let Some(sequence) = self.ready.pop_front() else {
                break;
            };
            let Some(pending) = self.messages.get_mut(&sequence) else {
                continue;
            };
            pending.attempts += 1;
            let publish_seq = self.next_publish_seq;
            self.next_publish_seq += 1;
            self.published += 1;
            if !self.connection_used {
                self.connection_used = true;
                self.last_heard_from_broker = ctx.local_clock();
            }
            ctx.send(
                broker,
                Payload::RabbitPublish {
                    connection: self.connection,
                    publish_seq,
                    mandatory: self.spec.mandatory,
                    confirm: self.spec.confirms,
                    message: pending.message.clone(),
                },
                64 + self.spec.body_bytes,
            );
            if self.spec.confirms {
                let timer = ctx.set_timer(
                    SimDuration::from_millis(self.spec.confirm_timeout_ms),
                    TimerTag {
                        kind: TIMER_CONFIRM_TIMEOUT,
                        id: publish_seq,
                    },
                );
                self.in_flight.insert(
                    publish_seq,
                    InFlight {
                        sequence,
                        timer: Some(timer),
                    },
                );
            } else {
                // Without confirms the publisher never learns the outcome.
                self.unknown += 1;
                self.messages.remove(&sequence);
                ctx.operation(sequence, OperationPhase::Info, "published without confirms");
            }
        }
    }

    /// Republish (to the front of the queue) or give up.
    fn retry_or_give_up(&mut self, ctx: &mut Context<'_>, sequence: u64, why: &str, nacked: bool) {
        let Some(pending) = self.messages.get(&sequence) else {
            return;
        };
        if pending.attempts <= self.spec.retries {
            self.republished += 1;
            self.ready.push_front(sequence);
            return;
        }
        self.messages.remove(&sequence);
        if nacked {
            self.failed += 1;
            ctx.operation(sequence, OperationPhase::Fail, why.to_string());
        } else {
            self.unknown += 1;
            ctx.operation(sequence, OperationPhase::Info, why.to_string());
        }
    }

    /// The connection is gone: everything unconfirmed is republished on a new one.
    fn reconnect(&mut self, ctx: &mut Context<'_>) {
        self.connection += 1;
        self.connection_used = false;
        self.reconnects += 1;
        self.next_publish_seq = 1;
        self.last_heard_from_broker = ctx.local_clock();
        let in_flight = std::mem::take(&mut self.in_flight);
        for (_, flight) in in_flight.into_iter().rev() {
            if let Some(timer) = flight.timer {
                ctx.cancel_timer(timer);
            }
            self.retry_or_give_up(ctx, flight.sequence, "connection lost", false);
        }
        ctx.state(format!("reconnecting as c{}", self.connection));
    }
}

impl Component for RabbitPublisher {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.last_heard_from_broker = ctx.local_clock();
        self.schedule_arrival(ctx);
        ctx.set_timer(
            SimDuration::from_millis((self.heartbeat_timeout_ms / 2).max(1)),
            TimerTag {
                kind: TIMER_HEARTBEAT,
                id: 0,
            },
        );
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        if Some(envelope.from) != self.broker {
            return;
        }
        match &envelope.payload {
            Payload::RabbitConfirm {
                connection,
                publish_seq,
                ack,
            } if *connection == self.connection => {
                self.last_heard_from_broker = ctx.local_clock();
                let Some(flight) = self.in_flight.remove(publish_seq) else {
                    return;
                };
                if let Some(timer) = flight.timer {
                    ctx.cancel_timer(timer);
                }
                if *ack {
                    if let Some(pending) = self.messages.remove(&flight.sequence) {
                        self.confirmed += 1;
                        ctx.fact(Fact::RabbitConfirmed {
                            message: pending.message.key,
                            persistent: pending.message.persistent,
                        });
                        ctx.operation(flight.sequence, OperationPhase::Ok, "confirmed");
                    }
                } else {
                    self.nacked += 1;
                    ctx.error("rabbit_publish_nack");
                    self.retry_or_give_up(ctx, flight.sequence, "nacked", true);
                }
                self.pump(ctx);
            }
            Payload::RabbitReturn { connection, .. } if *connection == self.connection => {
                self.last_heard_from_broker = ctx.local_clock();
                self.returned += 1;
                ctx.error("rabbit_publish_returned_no_route");
            }
            Payload::RabbitHeartbeat { connection } if *connection == self.connection => {
                self.last_heard_from_broker = ctx.local_clock();
            }
            Payload::RabbitConnectionClose { connection } if *connection == self.connection => {
                self.reconnect(ctx);
                self.pump(ctx);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_ARRIVAL => {
                let stopped = self
                    .spec
                    .stop_ms
                    .is_some_and(|stop| ctx.now() >= SimTime::from_millis(stop));
                if !stopped {
                    self.new_message(ctx);
                    self.pump(ctx);
                    self.schedule_arrival(ctx);
                }
            }
            TIMER_CONFIRM_TIMEOUT => {
                if let Some(flight) = self.in_flight.remove(&tag.id) {
                    ctx.error("rabbit_confirm_timeout");
                    self.retry_or_give_up(ctx, flight.sequence, "confirm timed out", false);
                    self.pump(ctx);
                }
            }
            TIMER_HEARTBEAT => {
                let timeout = SimDuration::from_millis(self.heartbeat_timeout_ms);
                if self.connection_used
                    && ctx.local_clock().since(self.last_heard_from_broker) >= timeout
                {
                    self.reconnect(ctx);
                }
                if self.connection_used
                    && let Some(broker) = self.broker
                {
                    ctx.send(
                        broker,
                        Payload::RabbitHeartbeat {
                            connection: self.connection,
                        },
                        8,
                    );
                }
                self.pump(ctx);
                ctx.set_timer(
                    SimDuration::from_millis((self.heartbeat_timeout_ms / 2).max(1)),
                    tag,
                );
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        // The process's buffer and unconfirmed messages are gone: their
        // outcome stays unknown.
        for sequence in self.messages.keys() {
            ctx.operation(*sequence, OperationPhase::Info, "publisher crashed");
        }
        self.unknown += self.messages.len() as u64;
        self.messages.clear();
        self.ready.clear();
        self.in_flight.clear();
        self.connection += 1;
        self.connection_used = false;
        self.next_publish_seq = 1;
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: self.ready.len() as u64,
            in_progress: self.in_flight.len() as u64,
            badge: format!("{} unconfirmed", self.in_flight.len()),
        }
    }

    fn summary(&self, now: SimTime) -> Vec<(&'static str, f64)> {
        let seconds = now.as_secs_f64().max(1e-9);
        vec![
            ("published", self.published as f64),
            ("confirmed", self.confirmed as f64),
            ("nacked", self.nacked as f64),
            ("returned", self.returned as f64),
            ("republished", self.republished as f64),
            ("failed", self.failed as f64),
            ("unknown", self.unknown as f64),
            ("reconnects", self.reconnects as f64),
            ("publish_rate_per_s", self.published as f64 / seconds),
        ]
    }
}
