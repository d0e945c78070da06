//! A service instance's asynchronous and data steps: `publish` to a RabbitMQ exchange (with confirms), consuming a queue, and `database`/`cache` steps, each waiting for its answer under a timeout.
//!
//! `Service` owns one `ServiceIo` and asks it to start a step for a job; the
//! answer comes back as `IoEvent::StepDone { job, ok }`, and a consumed
//! message as `IoEvent::Delivered`, which the service runs as a request of
//! its consume endpoint and settles when it finishes. Everything here is in
//! memory and lost with a crash: pending steps never answer (their jobs are
//! gone too), and the AMQP connection dies with the process, so the broker
//! redelivers what was not acknowledged.

use crate::component::{Context, TimerTag};
use crate::components::db_protocol::{DbMessage, DbOperation, DbOutcome};
use crate::components::kv_client::VALUES_PER_CLIENT;
use crate::components::rabbit_client::{RabbitClient, RabbitClientConsume, RabbitClientEvent};
use crate::components::rabbit_protocol::{RabbitMessage, RabbitMessageKey, RabbitSettlement};
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::services::{DatabaseStepOperation, ServiceSpec};
use crate::scenario::{ComponentSpec, ReadConsistency, Scenario};
use crate::time::SimDuration;
use std::collections::BTreeMap;

/// The service's timer kind for a step's deadline (the id is the step's).
pub const TIMER_IO_STEP_TIMEOUT: u32 = 0x10_01;
/// A database request follows `NotPrimary` hints at most this many times.
const MAX_DATABASE_REDIRECTS: u8 = 3;

#[derive(Clone)]
enum PendingKind {
    Publish,
    Database {
        database: String,
        operation: DbOperation,
        redirects: u8,
    },
    Cache {
        cache: NodeId,
    },
}

#[derive(Clone)]
struct Pending {
    job: u64,
    kind: PendingKind,
}

/// What the service must act on.
pub enum IoEvent {
    /// The step of `job` finished.
    StepDone { job: u64, ok: bool },
    /// A message from the consumed queue: run it, then `settle`.
    Delivered { connection: u64, delivery_tag: u64 },
}

#[derive(Clone)]
pub struct ServiceIo {
    me: NodeId,
    rabbit: Option<RabbitClient>,
    publish_timeout_ms: u64,
    requeue_on_error: bool,
    /// Database name → where its requests go (its first replica, then the primary it names).
    database_targets: BTreeMap<String, NodeId>,
    caches: BTreeMap<String, NodeId>,
    pending: BTreeMap<u64, Pending>,
    next_pending: u64,
    next_value: u64,
    pub published: u64,
    pub publish_failures: u64,
    pub database_requests: u64,
    pub database_failures: u64,
    pub cache_requests: u64,
    pub cache_failures: u64,
    pub consumed: u64,
}

impl ServiceIo {
    pub fn new(
        spec: &ServiceSpec,
        me: NodeId,
        scenario: &Scenario,
        node_ids: &BTreeMap<String, NodeId>,
    ) -> ServiceIo {
        let rabbit = spec.messaging.as_ref().map(|messaging| {
            RabbitClient::new(
                node_ids.get(&messaging.broker).copied(),
                messaging.heartbeat_timeout_ms,
                messaging.reconnect_delay_ms,
                messaging
                    .consume
                    .as_ref()
                    .map(|consume| RabbitClientConsume {
                        queue: consume.queue.clone(),
                        prefetch_count: consume.prefetch_count,
                    }),
            )
        });
        let mut database_targets = BTreeMap::new();
        let mut caches = BTreeMap::new();
        for (index, node) in scenario.topology.nodes.iter().enumerate() {
            match &node.spec {
                ComponentSpec::KvDatabase(database) => {
                    database_targets
                        .entry(database.database.clone())
                        .or_insert(NodeId(index as u32));
                }
                ComponentSpec::Cache(_) => {
                    caches.insert(node.id.clone(), NodeId(index as u32));
                }
                _ => {}
            }
        }
        ServiceIo {
            me,
            rabbit,
            publish_timeout_ms: spec
                .messaging
                .as_ref()
                .map_or(0, |messaging| messaging.publish_timeout_ms),
            requeue_on_error: spec
                .messaging
                .as_ref()
                .and_then(|messaging| messaging.consume.as_ref())
                .is_some_and(|consume| consume.requeue_on_error),
            database_targets,
            caches,
            pending: BTreeMap::new(),
            next_pending: 0,
            next_value: 0,
            published: 0,
            publish_failures: 0,
            database_requests: 0,
            database_failures: 0,
            cache_requests: 0,
            cache_failures: 0,
            consumed: 0,
        }
    }

    /// Opens the AMQP connection (and the consumer). On start and restart.
    pub fn start(&mut self, ctx: &mut Context<'_>) {
        if let Some(rabbit) = self.rabbit.as_mut() {
            rabbit.start(ctx);
        }
    }

    pub fn on_crash(&mut self) {
        self.pending.clear();
        if let Some(rabbit) = self.rabbit.as_mut() {
            rabbit.on_crash();
        }
    }

    fn add(&mut self, ctx: &mut Context<'_>, job: u64, kind: PendingKind, timeout_ms: u64) -> u64 {
        let id = self.next_pending;
        self.next_pending += 1;
        self.pending.insert(id, Pending { job, kind });
        ctx.set_timer(
            SimDuration::from_millis(timeout_ms),
            TimerTag {
                kind: TIMER_IO_STEP_TIMEOUT,
                id,
            },
        );
        id
    }

    /// Starts a `publish` step. False: it failed at once (no connection
    /// configured, or the confirm window is full).
    pub fn publish(
        &mut self,
        ctx: &mut Context<'_>,
        job: u64,
        exchange: &str,
        routing_key: &str,
    ) -> bool {
        let Some(rabbit) = self.rabbit.as_mut() else {
            return false;
        };
        let id = self.next_pending;
        let message = RabbitMessage {
            key: RabbitMessageKey {
                publisher: self.me,
                sequence: id,
            },
            exchange: exchange.to_string(),
            routing_key: routing_key.to_string(),
            headers: BTreeMap::new(),
            persistent: true,
            priority: None,
            expiration_ms: None,
            body_bytes: 256,
            x_death: Vec::new(),
        };
        if !rabbit.publish(ctx, message, id) {
            self.publish_failures += 1;
            return false;
        }
        self.published += 1;
        self.add(ctx, job, PendingKind::Publish, self.publish_timeout_ms);
        true
    }

    /// Starts a `database` step on `key`. False: no such database.
    pub fn database(
        &mut self,
        ctx: &mut Context<'_>,
        job: u64,
        database: &str,
        operation: DatabaseStepOperation,
        key: u64,
        timeout_ms: u64,
    ) -> bool {
        let Some(target) = self.database_targets.get(database).copied() else {
            return false;
        };
        let key = key as u32;
        let operation = match operation {
            DatabaseStepOperation::Read => DbOperation::Read { key },
            DatabaseStepOperation::Write => {
                let value = (u64::from(self.me.0) + 1) * VALUES_PER_CLIENT + self.next_value;
                self.next_value += 1;
                DbOperation::Write { key, value }
            }
        };
        self.database_requests += 1;
        let kind = PendingKind::Database {
            database: database.to_string(),
            operation,
            redirects: 0,
        };
        let id = self.add(ctx, job, kind, timeout_ms);
        send_database_request(ctx, target, id, operation);
        true
    }

    /// Starts a `cache` step. False: no such cache.
    pub fn cache(&mut self, ctx: &mut Context<'_>, job: u64, cache: &str, timeout_ms: u64) -> bool {
        let Some(node) = self.caches.get(cache).copied() else {
            return false;
        };
        self.cache_requests += 1;
        let id = self.add(ctx, job, PendingKind::Cache { cache: node }, timeout_ms);
        ctx.send(
            node,
            Payload::Request {
                operation: id,
                stream: 0,
            },
            64,
        );
        true
    }

    fn finish(&mut self, id: u64, ok: bool) -> Option<IoEvent> {
        let pending = self.pending.remove(&id)?;
        if !ok {
            match pending.kind {
                PendingKind::Publish => self.publish_failures += 1,
                PendingKind::Database { .. } => self.database_failures += 1,
                PendingKind::Cache { .. } => self.cache_failures += 1,
            }
        }
        Some(IoEvent::StepDone {
            job: pending.job,
            ok,
        })
    }

    /// Reads a message meant for this layer; empty when it is not one.
    pub fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) -> Vec<IoEvent> {
        if let Some(rabbit) = self.rabbit.as_mut()
            && let Some(event) = rabbit.on_message(ctx, envelope)
        {
            return match event {
                RabbitClientEvent::Confirmed { token, ack } => {
                    self.finish(token, ack).into_iter().collect()
                }
                RabbitClientEvent::ConnectionLost { unconfirmed_tokens } => unconfirmed_tokens
                    .into_iter()
                    .filter_map(|token| self.finish(token, false))
                    .collect(),
                RabbitClientEvent::Delivered {
                    connection,
                    delivery_tag,
                    ..
                } => {
                    self.consumed += 1;
                    vec![IoEvent::Delivered {
                        connection,
                        delivery_tag,
                    }]
                }
            };
        }
        match &envelope.payload {
            Payload::Db(DbMessage::Response { request, outcome }) => {
                let Some(pending) = self.pending.get_mut(request) else {
                    return Vec::new();
                };
                let PendingKind::Database {
                    database,
                    operation,
                    redirects,
                } = &mut pending.kind
                else {
                    return Vec::new();
                };
                let ok = match outcome {
                    DbOutcome::Ok { .. } => true,
                    DbOutcome::NotPrimary {
                        primary_hint: Some(primary),
                    } if *redirects < MAX_DATABASE_REDIRECTS => {
                        // Nothing was written: the same request goes to the primary.
                        *redirects += 1;
                        self.database_targets.insert(database.clone(), *primary);
                        send_database_request(ctx, *primary, *request, *operation);
                        return Vec::new();
                    }
                    _ => false,
                };
                self.finish(*request, ok).into_iter().collect()
            }
            Payload::Response { operation, ok }
                if self.pending.get(operation).is_some_and(|pending| {
                    matches!(pending.kind, PendingKind::Cache { cache } if cache == envelope.from)
                }) =>
            {
                self.finish(*operation, *ok).into_iter().collect()
            }
            _ => Vec::new(),
        }
    }

    /// Runs a timer of this layer; `None` if the tag is not one.
    pub fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) -> Option<Vec<IoEvent>> {
        if tag.kind == TIMER_IO_STEP_TIMEOUT {
            if self.pending.contains_key(&tag.id) {
                ctx.error("step_timeout");
            }
            return Some(self.finish(tag.id, false).into_iter().collect());
        }
        if !RabbitClient::owns_timer(tag) {
            return None;
        }
        let event = self
            .rabbit
            .as_mut()
            .and_then(|rabbit| rabbit.on_timer(ctx, tag));
        Some(match event {
            Some(RabbitClientEvent::ConnectionLost { unconfirmed_tokens }) => unconfirmed_tokens
                .into_iter()
                .filter_map(|token| self.finish(token, false))
                .collect(),
            _ => Vec::new(),
        })
    }

    /// Acknowledges (or refuses) a consumed message once its request ended.
    pub fn settle(&mut self, ctx: &mut Context<'_>, connection: u64, delivery_tag: u64, ok: bool) {
        let settlement = if ok {
            RabbitSettlement::Ack
        } else {
            RabbitSettlement::Reject {
                requeue: self.requeue_on_error,
            }
        };
        if let Some(rabbit) = self.rabbit.as_mut() {
            rabbit.settle(ctx, connection, delivery_tag, settlement);
        }
    }

    /// Hands a consumed message back to be delivered again (it was refused
    /// before it ran: the instance's queue was full, or it was shed).
    pub fn settle_requeue(&mut self, ctx: &mut Context<'_>, connection: u64, delivery_tag: u64) {
        if let Some(rabbit) = self.rabbit.as_mut() {
            rabbit.settle(
                ctx,
                connection,
                delivery_tag,
                RabbitSettlement::Nack { requeue: true },
            );
        }
    }

    /// Steps waiting for an answer.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }
}

fn send_database_request(ctx: &mut Context<'_>, to: NodeId, request: u64, operation: DbOperation) {
    ctx.send(
        to,
        Payload::Db(DbMessage::Request {
            request,
            operation,
            consistency: ReadConsistency::Leader,
            context: Vec::new(),
        }),
        64,
    );
}
