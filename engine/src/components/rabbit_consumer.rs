//! AMQP consumer: prefetch, a handler with a processing-time distribution, manual or automatic ack, refusals that drive dead-letter flows, optional idempotent handling.
//!
//! The handler's effect (a `RabbitHandled` fact) happens when processing
//! finishes; the ack goes out after it. That gap is where at-least-once
//! delivery bites: if the connection is lost in between (crash, partition,
//! missed heartbeats), the ack cannot be sent, the broker requeues the
//! message and a second delivery is handled again (R1) — unless the handler
//! is idempotent and remembers the id.
//!
//! Bounds: the broker sends at most `prefetch_count` unacknowledged
//! deliveries; `concurrency` are handled at once; the dedup window holds
//! `dedup_window_messages` ids.

use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::components::rabbit_protocol::{RabbitMessageKey, RabbitSettlement};
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::{RabbitConsumerSpec, RabbitNegativeAck};
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const TIMER_PROCESSED: u32 = 1;
const TIMER_HEARTBEAT: u32 = 2;
const TIMER_RECONNECT: u32 = 3;
const TIMER_CANCEL: u32 = 4;

#[derive(Clone, Debug)]
struct Delivery {
    connection: u64,
    delivery_tag: u64,
    redelivered: bool,
    message: RabbitMessageKey,
}

#[derive(Clone)]
pub struct RabbitConsumer {
    spec: RabbitConsumerSpec,
    broker: Option<NodeId>,
    heartbeat_timeout_ms: u64,
    connection: u64,
    connected: bool,
    /// `basic.consume` is in force (not refused, not cancelled).
    consuming: bool,
    cancelled: bool,
    last_heard_from_broker: SimTime,
    waiting: VecDeque<Delivery>,
    processing: BTreeMap<u64, Delivery>,
    next_processing_id: u64,
    /// Ids handled recently, oldest first (bounded by `dedup_window_messages`).
    seen_order: VecDeque<RabbitMessageKey>,
    seen: BTreeSet<RabbitMessageKey>,
    delivered: u64,
    redelivered: u64,
    handled: u64,
    duplicates_handled: u64,
    duplicates_suppressed: u64,
    acked: u64,
    refused: u64,
    acks_lost_connection_closed: u64,
    reconnects: u64,
    max_unsettled: u64,
}

impl RabbitConsumer {
    pub fn new(
        spec: &RabbitConsumerSpec,
        heartbeat_timeout_ms: u64,
        node_ids: &BTreeMap<String, NodeId>,
    ) -> RabbitConsumer {
        RabbitConsumer {
            spec: spec.clone(),
            broker: node_ids.get(&spec.broker).copied(),
            heartbeat_timeout_ms,
            connection: 1,
            connected: false,
            consuming: false,
            cancelled: false,
            last_heard_from_broker: SimTime::ZERO,
            waiting: VecDeque::new(),
            processing: BTreeMap::new(),
            next_processing_id: 0,
            seen_order: VecDeque::new(),
            seen: BTreeSet::new(),
            delivered: 0,
            redelivered: 0,
            handled: 0,
            duplicates_handled: 0,
            duplicates_suppressed: 0,
            acked: 0,
            refused: 0,
            acks_lost_connection_closed: 0,
            reconnects: 0,
            max_unsettled: 0,
        }
    }

    fn connect(&mut self, ctx: &mut Context<'_>) {
        let Some(broker) = self.broker else {
            return;
        };
        self.connected = true;
        self.last_heard_from_broker = ctx.local_clock();
        if self.cancelled {
            return;
        }
        self.consuming = true;
        ctx.send(
            broker,
            Payload::RabbitConsume {
                connection: self.connection,
                queue: self.spec.queue.clone(),
                prefetch_count: self.spec.prefetch_count,
                auto_ack: self.spec.auto_ack,
            },
            64,
        );
    }

    /// The connection is gone: deliveries not yet handled will come again;
    /// handlers already running finish but cannot ack.
    fn connection_lost(&mut self, ctx: &mut Context<'_>, why: &str) {
        if !self.connected {
            return;
        }
        self.connected = false;
        self.consuming = false;
        self.waiting.clear();
        self.connection += 1;
        self.reconnects += 1;
        ctx.state(format!(
            "connection lost ({why}); reconnecting as c{} in {} ms",
            self.connection, self.spec.reconnect_delay_ms
        ));
        ctx.set_timer(
            SimDuration::from_millis(self.spec.reconnect_delay_ms),
            TimerTag {
                kind: TIMER_RECONNECT,
                id: 0,
            },
        );
    }

    fn unsettled(&self) -> u64 {
        (self.waiting.len() + self.processing.len()) as u64
    }

    fn start_processing(&mut self, ctx: &mut Context<'_>) {
        while self.processing.len() < self.spec.concurrency as usize {
            let Some(delivery) = self.waiting.pop_front() else {
                break;
            };
            let id = self.next_processing_id;
            self.next_processing_id += 1;
            let nominal = self.spec.processing_time.sample(ctx.rng());
            let after = ctx.service_time(nominal).max(SimDuration::from_micros(1));
            ctx.set_timer(
                after,
                TimerTag {
                    kind: TIMER_PROCESSED,
                    id,
                },
            );
            self.processing.insert(id, delivery);
        }
    }

    fn remember(&mut self, key: RabbitMessageKey) {
        if self.seen.insert(key) {
            self.seen_order.push_back(key);
            while self.seen_order.len() > self.spec.dedup_window_messages as usize {
                if let Some(oldest) = self.seen_order.pop_front() {
                    self.seen.remove(&oldest);
                }
            }
        }
    }

    fn settle(&mut self, ctx: &mut Context<'_>, delivery: &Delivery, settlement: RabbitSettlement) {
        if self.spec.auto_ack {
            return;
        }
        let Some(broker) = self.broker else {
            return;
        };
        if delivery.connection != self.connection || !self.connected {
            // The channel it came on is closed: no ack is possible (the
            // broker has requeued the message already or will).
            self.acks_lost_connection_closed += 1;
            ctx.error("rabbit_ack_on_closed_channel");
            return;
        }
        if settlement == RabbitSettlement::Ack {
            self.acked += 1;
        } else {
            self.refused += 1;
        }
        ctx.send(
            broker,
            Payload::RabbitSettle {
                connection: delivery.connection,
                delivery_tag: delivery.delivery_tag,
                settlement,
            },
            32,
        );
    }

    fn finish(&mut self, ctx: &mut Context<'_>, delivery: Delivery) {
        let failed = ctx.rng().chance(self.spec.negative_ack_probability);
        if failed {
            let requeue = self.spec.requeue;
            let settlement = match self.spec.negative_ack_method {
                RabbitNegativeAck::Reject => RabbitSettlement::Reject { requeue },
                RabbitNegativeAck::Nack => RabbitSettlement::Nack { requeue },
            };
            self.settle(ctx, &delivery, settlement);
            return;
        }
        let repeat = self.seen.contains(&delivery.message);
        if repeat {
            self.duplicates_handled += 1;
        }
        self.handled += 1;
        self.remember(delivery.message);
        ctx.fact(Fact::RabbitHandled {
            queue: self.spec.queue.clone(),
            message: delivery.message,
            redelivered: delivery.redelivered,
            suppressed_duplicate: false,
        });
        self.settle(ctx, &delivery, RabbitSettlement::Ack);
    }
}

impl Component for RabbitConsumer {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        let start = SimTime::from_millis(self.spec.start_ms);
        if ctx.now() >= start {
            self.connect(ctx);
        } else {
            ctx.set_timer(
                start.since(ctx.now()),
                TimerTag {
                    kind: TIMER_RECONNECT,
                    id: 0,
                },
            );
        }
        ctx.set_timer(
            SimDuration::from_millis((self.heartbeat_timeout_ms / 2).max(1)),
            TimerTag {
                kind: TIMER_HEARTBEAT,
                id: 0,
            },
        );
        if let Some(cancel_at) = self.spec.cancel_at_ms {
            let at = SimTime::from_millis(cancel_at);
            if !self.cancelled && at > ctx.now() {
                ctx.set_timer(
                    at.since(ctx.now()),
                    TimerTag {
                        kind: TIMER_CANCEL,
                        id: 0,
                    },
                );
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        if Some(envelope.from) != self.broker {
            return;
        }
        match &envelope.payload {
            Payload::RabbitDeliver {
                connection,
                delivery_tag,
                redelivered,
                message,
                ..
            } if *connection == self.connection && self.connected => {
                self.last_heard_from_broker = ctx.local_clock();
                self.delivered += 1;
                if *redelivered {
                    self.redelivered += 1;
                }
                let delivery = Delivery {
                    connection: *connection,
                    delivery_tag: *delivery_tag,
                    redelivered: *redelivered,
                    message: message.key,
                };
                if self.spec.idempotent && self.seen.contains(&message.key) {
                    // Already handled: acknowledge without handling again.
                    self.duplicates_suppressed += 1;
                    ctx.fact(Fact::RabbitHandled {
                        queue: self.spec.queue.clone(),
                        message: message.key,
                        redelivered: *redelivered,
                        suppressed_duplicate: true,
                    });
                    self.settle(ctx, &delivery, RabbitSettlement::Ack);
                    return;
                }
                self.waiting.push_back(delivery);
                self.max_unsettled = self.max_unsettled.max(self.unsettled());
                self.start_processing(ctx);
            }
            Payload::RabbitHeartbeat { connection } if *connection == self.connection => {
                self.last_heard_from_broker = ctx.local_clock();
            }
            Payload::RabbitConsumeRefused {
                connection, reason, ..
            } if *connection == self.connection => {
                self.last_heard_from_broker = ctx.local_clock();
                self.consuming = false;
                ctx.error("rabbit_consume_refused");
                ctx.state(format!("consume on {} refused: {reason}", self.spec.queue));
            }
            Payload::RabbitConnectionClose { connection } if *connection == self.connection => {
                self.connection_lost(ctx, "closed by the broker");
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_PROCESSED => {
                if let Some(delivery) = self.processing.remove(&tag.id) {
                    self.finish(ctx, delivery);
                    self.start_processing(ctx);
                }
            }
            TIMER_HEARTBEAT => {
                let timeout = SimDuration::from_millis(self.heartbeat_timeout_ms);
                if self.connected && ctx.local_clock().since(self.last_heard_from_broker) >= timeout
                {
                    self.connection_lost(ctx, "missed heartbeats");
                }
                if self.connected
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
                ctx.set_timer(
                    SimDuration::from_millis((self.heartbeat_timeout_ms / 2).max(1)),
                    tag,
                );
            }
            TIMER_RECONNECT if !self.connected => self.connect(ctx),
            TIMER_CANCEL => {
                self.cancelled = true;
                if self.consuming
                    && let Some(broker) = self.broker
                {
                    self.consuming = false;
                    ctx.send(
                        broker,
                        Payload::RabbitCancel {
                            connection: self.connection,
                            queue: self.spec.queue.clone(),
                        },
                        32,
                    );
                    ctx.state(format!("basic.cancel on {}", self.spec.queue));
                }
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, _ctx: &mut Context<'_>) {
        // Handlers in progress die with the process; the broker will requeue.
        self.waiting.clear();
        self.processing.clear();
        self.connected = false;
        self.consuming = false;
        self.connection += 1;
        // The dedup window is in memory: an idempotent handler that must
        // survive crashes would keep it in a database.
        self.seen.clear();
        self.seen_order.clear();
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: self.waiting.len() as u64,
            in_progress: self.processing.len() as u64,
            badge: format!("{} unacked", self.unsettled()),
        }
    }

    fn summary(&self, now: SimTime) -> Vec<(&'static str, f64)> {
        let seconds = now.as_secs_f64().max(1e-9);
        vec![
            ("delivered", self.delivered as f64),
            ("redelivered", self.redelivered as f64),
            ("handled", self.handled as f64),
            ("duplicates_handled", self.duplicates_handled as f64),
            ("duplicates_suppressed", self.duplicates_suppressed as f64),
            ("acked", self.acked as f64),
            ("refused", self.refused as f64),
            (
                "acks_lost_connection_closed",
                self.acks_lost_connection_closed as f64,
            ),
            ("reconnects", self.reconnects as f64),
            ("max_unacked", self.max_unsettled as f64),
            ("deliver_rate_per_s", self.delivered as f64 / seconds),
            ("ack_rate_per_s", self.acked as f64 / seconds),
            (
                "redelivery_ratio",
                if self.delivered == 0 {
                    0.0
                } else {
                    self.redelivered as f64 / self.delivered as f64
                },
            ),
        ]
    }
}
