//! An embeddable AMQP client connection (publisher confirms, one consumer, heartbeats, reconnect) for components that talk to a `rabbit_broker` as a side job: saga services, the outbox relay, event consumers.
//!
//! It speaks the same frames as `rabbit_publisher` and `rabbit_consumer`
//! (`RabbitPublish`/`RabbitConfirm`, `RabbitConsume`/`RabbitDeliver`/
//! `RabbitSettle`, `RabbitHeartbeat`, `RabbitConnectionClose`), with the same
//! connection rules the broker enforces: a publish or a consume opens
//! connection `n`; a connection silent for the negotiated heartbeat timeout is
//! dead on both sides; the client then opens `n + 1`, the broker requeues the
//! deliveries left unacknowledged on `n` (at-least-once, R1), and confirms of
//! `n` never come (the owner republishes). The owning component keeps its own
//! retry policy and its own idea of what is durable; this only carries frames.
//!
//! Timers: the client uses the tag kinds `RABBIT_CLIENT_TIMER_HEARTBEAT` and
//! `RABBIT_CLIENT_TIMER_RECONNECT`; owners must not use those kinds.
//! Bounds: `MAX_RABBIT_CLIENT_UNCONFIRMED` publishes awaiting a confirm.

use crate::component::{Context, TimerTag};
use crate::components::rabbit_protocol::{RabbitMessage, RabbitSettlement};
use crate::message::{Envelope, NodeId, Payload};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// Timer kinds reserved for the client inside its owner.
pub const RABBIT_CLIENT_TIMER_HEARTBEAT: u32 = 0x0A_B0_01;
pub const RABBIT_CLIENT_TIMER_RECONNECT: u32 = 0x0A_B0_02;

/// Publishes awaiting a confirm at most (beyond it the owner's publish is
/// refused and it retries later, like a channel with a full confirm window).
pub const MAX_RABBIT_CLIENT_UNCONFIRMED: usize = 10_000;

/// What a frame or a timer meant for the owner.
#[derive(Clone, Debug)]
pub enum RabbitClientEvent {
    /// The broker confirmed (`ack`) or refused the publish made with `token`.
    Confirmed { token: u64, ack: bool },
    /// A message from the consumed queue, to be settled with `settle`.
    Delivered {
        connection: u64,
        delivery_tag: u64,
        redelivered: bool,
        message: RabbitMessage,
    },
    /// The connection died: these publishes will never be confirmed (they may
    /// or may not be in the queue), and unacknowledged deliveries come again.
    ConnectionLost { unconfirmed_tokens: Vec<u64> },
}

/// The consumer's registration on the current connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConsumeState {
    NotSent,
    AwaitingOk { sent_at: SimTime },
    Registered,
    Refused,
}

/// Where to consume from: a queue and its prefetch.
#[derive(Clone, Debug)]
pub struct RabbitClientConsume {
    pub queue: String,
    pub prefetch_count: u32,
}

#[derive(Clone)]
pub struct RabbitClient {
    broker: Option<NodeId>,
    heartbeat_timeout_ms: u64,
    reconnect_delay_ms: u64,
    consume: Option<RabbitClientConsume>,
    connection: u64,
    /// A frame opened `connection` (or asked to): heartbeats are due.
    open: bool,
    last_heard: SimTime,
    next_publish_seq: u64,
    /// publish_seq on `connection` → the owner's token.
    unconfirmed: BTreeMap<u64, u64>,
    /// Where the consumer stands on `connection`. Separate from `open`: a
    /// publish can open a new connection before the consumer's reconnect
    /// delay is over, and the consumer must still be registered on it.
    consume_state: ConsumeState,
    reconnect_armed: bool,
    pub published: u64,
    pub confirmed: u64,
    pub delivered: u64,
    pub reconnects: u64,
}

impl RabbitClient {
    pub fn new(
        broker: Option<NodeId>,
        heartbeat_timeout_ms: u64,
        reconnect_delay_ms: u64,
        consume: Option<RabbitClientConsume>,
    ) -> RabbitClient {
        RabbitClient {
            broker,
            heartbeat_timeout_ms: heartbeat_timeout_ms.max(2),
            reconnect_delay_ms,
            consume,
            connection: 1,
            open: false,
            last_heard: SimTime::ZERO,
            next_publish_seq: 1,
            unconfirmed: BTreeMap::new(),
            consume_state: ConsumeState::NotSent,
            reconnect_armed: false,
            published: 0,
            confirmed: 0,
            delivered: 0,
            reconnects: 0,
        }
    }

    /// Arms the heartbeat loop and, for a consumer, opens the connection with
    /// `basic.consume`. Call from the owner's `on_start` (also on restart).
    pub fn start(&mut self, ctx: &mut Context<'_>) {
        self.last_heard = ctx.local_clock();
        self.reconnect_armed = false;
        ctx.set_timer(
            self.heartbeat_interval(),
            TimerTag {
                kind: RABBIT_CLIENT_TIMER_HEARTBEAT,
                id: 0,
            },
        );
        self.subscribe(ctx);
    }

    fn heartbeat_interval(&self) -> SimDuration {
        SimDuration::from_millis((self.heartbeat_timeout_ms / 2).max(1))
    }

    fn mark_open(&mut self, ctx: &mut Context<'_>) {
        if !self.open {
            self.open = true;
            self.last_heard = ctx.local_clock();
        }
    }

    fn subscribe(&mut self, ctx: &mut Context<'_>) {
        let (Some(broker), Some(consume)) = (self.broker, self.consume.clone()) else {
            return;
        };
        self.mark_open(ctx);
        self.consume_state = ConsumeState::AwaitingOk {
            sent_at: ctx.local_clock(),
        };
        ctx.send(
            broker,
            Payload::RabbitConsume {
                connection: self.connection,
                queue: consume.queue,
                prefetch_count: consume.prefetch_count,
                auto_ack: false,
            },
            64,
        );
    }

    /// `basic.publish` with confirms on; `token` comes back in `Confirmed`.
    /// False when there is no broker or the confirm window is full.
    pub fn publish(&mut self, ctx: &mut Context<'_>, message: RabbitMessage, token: u64) -> bool {
        let Some(broker) = self.broker else {
            return false;
        };
        if self.unconfirmed.len() >= MAX_RABBIT_CLIENT_UNCONFIRMED {
            return false;
        }
        self.mark_open(ctx);
        let publish_seq = self.next_publish_seq;
        self.next_publish_seq += 1;
        self.unconfirmed.insert(publish_seq, token);
        self.published += 1;
        let size = 64 + message.body_bytes;
        ctx.send(
            broker,
            Payload::RabbitPublish {
                connection: self.connection,
                publish_seq,
                mandatory: false,
                confirm: true,
                message,
            },
            size,
        );
        true
    }

    /// `basic.ack` (or a refusal) of a delivery. False when the channel it
    /// came on is gone: the broker requeues it and it will come again.
    pub fn settle(
        &mut self,
        ctx: &mut Context<'_>,
        connection: u64,
        delivery_tag: u64,
        settlement: RabbitSettlement,
    ) -> bool {
        let Some(broker) = self.broker else {
            return false;
        };
        if connection != self.connection || !self.open {
            ctx.error("rabbit_ack_on_closed_channel");
            return false;
        }
        ctx.send(
            broker,
            Payload::RabbitSettle {
                connection,
                delivery_tag,
                settlement,
            },
            32,
        );
        true
    }

    /// The connection is dead: start a new one (after `reconnect_delay_ms`
    /// for a consumer; a publisher's next publish opens it).
    fn connection_lost(&mut self, ctx: &mut Context<'_>, why: &str) -> RabbitClientEvent {
        self.connection += 1;
        self.open = false;
        self.consume_state = ConsumeState::NotSent;
        self.next_publish_seq = 1;
        self.reconnects += 1;
        let unconfirmed_tokens: Vec<u64> = std::mem::take(&mut self.unconfirmed)
            .into_values()
            .collect();
        ctx.state(format!(
            "AMQP connection lost ({why}); next connection c{}",
            self.connection
        ));
        if self.consume.is_some() && !self.reconnect_armed {
            self.reconnect_armed = true;
            ctx.set_timer(
                SimDuration::from_millis(self.reconnect_delay_ms),
                TimerTag {
                    kind: RABBIT_CLIENT_TIMER_RECONNECT,
                    id: 0,
                },
            );
        }
        RabbitClientEvent::ConnectionLost { unconfirmed_tokens }
    }

    /// Reads a frame. `None` for anything that is not for this client or
    /// that the owner need not act on.
    pub fn on_message(
        &mut self,
        ctx: &mut Context<'_>,
        envelope: &Envelope,
    ) -> Option<RabbitClientEvent> {
        if Some(envelope.from) != self.broker {
            return None;
        }
        match &envelope.payload {
            Payload::RabbitConfirm {
                connection,
                publish_seq,
                ack,
            } if *connection == self.connection => {
                self.last_heard = ctx.local_clock();
                let token = self.unconfirmed.remove(publish_seq)?;
                if *ack {
                    self.confirmed += 1;
                } else {
                    ctx.error("rabbit_publish_nack");
                }
                Some(RabbitClientEvent::Confirmed { token, ack: *ack })
            }
            Payload::RabbitDeliver {
                connection,
                delivery_tag,
                redelivered,
                message,
                ..
            } if *connection == self.connection && self.open => {
                self.last_heard = ctx.local_clock();
                self.delivered += 1;
                Some(RabbitClientEvent::Delivered {
                    connection: *connection,
                    delivery_tag: *delivery_tag,
                    redelivered: *redelivered,
                    message: message.clone(),
                })
            }
            Payload::RabbitHeartbeat { connection } if *connection == self.connection => {
                self.last_heard = ctx.local_clock();
                None
            }
            Payload::RabbitConsumeOk { connection, .. } if *connection == self.connection => {
                self.last_heard = ctx.local_clock();
                self.consume_state = ConsumeState::Registered;
                None
            }
            Payload::RabbitConsumeRefused {
                connection, reason, ..
            } if *connection == self.connection => {
                self.last_heard = ctx.local_clock();
                // Refused for good (NOT_FOUND, RESOURCE_LOCKED) on this
                // connection: do not wait for a consume-ok that never comes.
                self.consume_state = ConsumeState::Refused;
                ctx.error("rabbit_consume_refused");
                ctx.state(format!("consume refused: {reason}"));
                None
            }
            Payload::RabbitConnectionClose { connection } if *connection == self.connection => {
                Some(self.connection_lost(ctx, "closed by the broker"))
            }
            _ => None,
        }
    }

    /// True for the timer kinds this client owns.
    pub fn owns_timer(tag: TimerTag) -> bool {
        tag.kind == RABBIT_CLIENT_TIMER_HEARTBEAT || tag.kind == RABBIT_CLIENT_TIMER_RECONNECT
    }

    /// Runs one of the client's timers (see `owns_timer`).
    pub fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) -> Option<RabbitClientEvent> {
        match tag.kind {
            RABBIT_CLIENT_TIMER_HEARTBEAT => {
                let mut event = None;
                let timeout = SimDuration::from_millis(self.heartbeat_timeout_ms);
                let now = ctx.local_clock();
                if self.open && now.since(self.last_heard) >= timeout {
                    event = Some(self.connection_lost(ctx, "missed heartbeats"));
                } else if let ConsumeState::AwaitingOk { sent_at } = self.consume_state
                    && now.since(sent_at) >= timeout
                {
                    // basic.consume is a synchronous AMQP method: no
                    // consume-ok in time means the frame was lost (the broker
                    // was down) even if the connection now carries publishes.
                    event = Some(self.connection_lost(ctx, "basic.consume not answered"));
                }
                if self.open
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
                ctx.set_timer(self.heartbeat_interval(), tag);
                event
            }
            RABBIT_CLIENT_TIMER_RECONNECT => {
                self.reconnect_armed = false;
                if self.consume_state == ConsumeState::NotSent {
                    self.subscribe(ctx);
                }
                None
            }
            _ => None,
        }
    }

    /// The owner crashed: the connection dies with the process.
    pub fn on_crash(&mut self) {
        self.connection += 1;
        self.open = false;
        self.consume_state = ConsumeState::NotSent;
        self.next_publish_seq = 1;
        self.unconfirmed.clear();
        self.reconnect_armed = false;
    }

    pub fn unconfirmed(&self) -> usize {
        self.unconfirmed.len()
    }
}
