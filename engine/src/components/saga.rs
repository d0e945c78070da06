//! Sagas: an orchestrator running steps with compensations, and the services that run them
//! (orchestrated by commands, or choreographed by events passed along a chain).
//!
//! Orchestration: one saga per client request; the orchestrator sends each
//! step's action in turn, retrying on silence with bounded exponential
//! backoff; a failed action (a business refusal, or attempts run out — the
//! action may have applied, so that step is compensated too) starts the
//! compensations of the applied steps in reverse order, each retried up to
//! `max_compensation_attempts`; when those run out the saga is stuck. The
//! saga log (step, direction, attempt) survives a crash if and only if
//! `durable_log`; a restarted orchestrator resumes every saga it logged.
//!
//! Choreography: the first service of the chain starts a saga from a client
//! request, applies its action and tells the next one by a `SagaEvent`; a
//! failed action sends a compensate event back, and each service compensates
//! and passes it on backwards. Events are re-sent until acknowledged, up to
//! `max_event_attempts`; the events a service still owes are kept with its
//! data (a transactional outbox), so they survive its crash.
//!
//! With `choreography.broker` the events go through a RabbitMQ exchange
//! instead (routing key `<service>.done` / `<service>.undo`, one queue per
//! service): an event is owed until the broker confirms it, and a delivery is
//! acknowledged only after its work ran, so the broker redelivers it after a
//! crash and the idempotency table absorbs the repeat.
//!
//! Services keep their data (what was applied, the idempotency table) across
//! crashes: it is their database. Every step's command, result and effect is
//! a `TxnFact`, so a timeline can draw saga id, step, action and outcome.

use super::rabbit_client::{RabbitClient, RabbitClientConsume, RabbitClientEvent};
use super::rabbit_protocol::{RabbitMessage, RabbitMessageKey, RabbitSettlement};
use super::txn_protocol::{SagaOutcome, TxnFact, TxnId, TxnMessage};
use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::limits::{MAX_TXN_REMEMBERED_DECISIONS, MAX_TXN_TRACKED};
use crate::scenario::txn::{SagaOrchestratorSpec, SagaServiceSpec};
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const TIMER_STEP_TIMEOUT: u32 = 1;
const TIMER_RETRY: u32 = 2;

/// The idempotency key of one command: the same for every retry of it.
fn idempotency_key(saga: TxnId, step: u32, compensate: bool) -> u64 {
    (u64::from(saga.client) << 48)
        ^ (saga.operation << 9)
        ^ (u64::from(step) << 1)
        ^ u64::from(compensate)
}

fn backoff_ms(base_ms: u64, cap_ms: u64, attempt: u32) -> u64 {
    let doublings = attempt.saturating_sub(1).min(20);
    base_ms.saturating_mul(1 << doublings).min(cap_ms)
}

/// Where a saga is (the saga log record).
#[derive(Clone, Debug)]
struct SagaRecord {
    client: NodeId,
    operation: u64,
    started_at: SimTime,
    step: u32,
    compensating: bool,
    attempt: u32,
    /// Bumped on every send: replies and timers of older sends are ignored.
    generation: u64,
}

#[derive(Clone)]
pub struct SagaOrchestrator {
    spec: SagaOrchestratorSpec,
    services: Vec<NodeId>,
    sagas: BTreeMap<TxnId, SagaRecord>,
    timer_sagas: BTreeMap<u64, (TxnId, u64)>,
    next_timer_key: u64,
    started: u64,
    completed: u64,
    compensated: u64,
    stuck: u64,
    retries: u64,
    lost_in_crash: u64,
}

impl SagaOrchestrator {
    pub fn new(spec: &SagaOrchestratorSpec, node_ids: &BTreeMap<String, NodeId>) -> Self {
        SagaOrchestrator {
            spec: spec.clone(),
            services: spec
                .steps
                .iter()
                .filter_map(|step| node_ids.get(&step.service).copied())
                .collect(),
            sagas: BTreeMap::new(),
            timer_sagas: BTreeMap::new(),
            next_timer_key: 0,
            started: 0,
            completed: 0,
            compensated: 0,
            stuck: 0,
            retries: 0,
            lost_in_crash: 0,
        }
    }

    fn timer(&mut self, ctx: &mut Context<'_>, kind: u32, after_ms: u64, saga: TxnId) {
        let generation = self.sagas.get(&saga).map_or(0, |record| record.generation);
        let key = self.next_timer_key;
        self.next_timer_key += 1;
        self.timer_sagas.insert(key, (saga, generation));
        ctx.set_timer(
            SimDuration::from_millis(after_ms),
            TimerTag { kind, id: key },
        );
    }

    /// Sends the saga's current command and arms its timeout.
    fn send_current(&mut self, ctx: &mut Context<'_>, saga: TxnId) {
        let Some(record) = self.sagas.get_mut(&saga) else {
            return;
        };
        record.generation += 1;
        let (step, compensate, attempt) = (record.step, record.compensating, record.attempt);
        if let Some(service) = self.services.get(step as usize) {
            ctx.send(
                *service,
                Payload::Txn(TxnMessage::SagaCommand {
                    saga,
                    step,
                    compensate,
                    attempt,
                    idempotency_key: idempotency_key(saga, step, compensate),
                }),
                64,
            );
        }
        self.timer(ctx, TIMER_STEP_TIMEOUT, self.spec.step_timeout_ms, saga);
    }

    fn end(&mut self, ctx: &mut Context<'_>, saga: TxnId, outcome: SagaOutcome) {
        let Some(record) = self.sagas.remove(&saga) else {
            return;
        };
        ctx.fact(Fact::Txn(TxnFact::SagaEnded { saga, outcome }));
        let ok = outcome == SagaOutcome::Completed;
        if ok {
            self.completed += 1;
            ctx.completed(ctx.now().since(record.started_at));
        } else {
            self.compensated += 1;
            ctx.error("compensated");
        }
        ctx.send(
            record.client,
            Payload::Response {
                operation: record.operation,
                ok,
            },
            64,
        );
    }

    /// Moves to compensating `from_step` and below (or ends if there is nothing to undo).
    fn compensate_from(&mut self, ctx: &mut Context<'_>, saga: TxnId, from_step: Option<u32>) {
        match from_step {
            None => self.end(ctx, saga, SagaOutcome::Compensated),
            Some(step) => {
                if let Some(record) = self.sagas.get_mut(&saga) {
                    record.step = step;
                    record.compensating = true;
                    record.attempt = 1;
                }
                self.send_current(ctx, saga);
            }
        }
    }

    fn on_reply(
        &mut self,
        ctx: &mut Context<'_>,
        saga: TxnId,
        step: u32,
        compensate: bool,
        attempt: u32,
        ok: bool,
    ) {
        let Some(record) = self.sagas.get(&saga).cloned() else {
            return;
        };
        if record.step != step || record.compensating != compensate || record.attempt != attempt {
            return;
        }
        ctx.fact(Fact::Txn(TxnFact::SagaStepResult {
            saga,
            step,
            compensate,
            attempt,
            ok,
        }));
        let last = self.services.len() as u32 - 1;
        match (compensate, ok) {
            (false, true) if step == last => self.end(ctx, saga, SagaOutcome::Completed),
            (false, true) => {
                if let Some(record) = self.sagas.get_mut(&saga) {
                    record.step += 1;
                    record.attempt = 1;
                }
                self.send_current(ctx, saga);
            }
            // A business refusal: this step did not apply; undo the earlier ones.
            (false, false) => self.compensate_from(ctx, saga, step.checked_sub(1)),
            (true, true) => self.compensate_from(ctx, saga, step.checked_sub(1)),
            (true, false) => self.retry_or_give_up(ctx, saga),
        }
    }

    /// The current command failed or went unanswered: retry after backoff, or give up.
    fn retry_or_give_up(&mut self, ctx: &mut Context<'_>, saga: TxnId) {
        let Some(record) = self.sagas.get(&saga).cloned() else {
            return;
        };
        let limit = if record.compensating {
            self.spec.max_compensation_attempts
        } else {
            self.spec.max_action_attempts
        };
        if record.attempt < limit {
            self.retries += 1;
            if let Some(record) = self.sagas.get_mut(&saga) {
                record.attempt += 1;
                record.generation += 1;
            }
            let delay = backoff_ms(
                self.spec.retry_backoff_base_ms,
                self.spec.retry_backoff_cap_ms,
                record.attempt,
            );
            self.timer(ctx, TIMER_RETRY, delay, saga);
        } else if record.compensating {
            self.stuck += 1;
            let reason = format!(
                "compensation of step {} ({}) failed {} times",
                record.step, self.spec.steps[record.step as usize].name, record.attempt
            );
            ctx.state(format!("{saga}: stuck: {reason}"));
            ctx.fact(Fact::Txn(TxnFact::SagaStuck { saga, reason }));
            ctx.error("saga_stuck");
            // Stuck sagas stay in the log (an operator would have to act).
            if let Some(record) = self.sagas.get_mut(&saga) {
                record.generation += 1;
            }
        } else {
            // The action may have applied before its answers were lost:
            // compensate this step too (compensations are safe to run for
            // an action that never ran only if the service is idempotent).
            self.compensate_from(ctx, saga, Some(record.step));
        }
    }
}

impl Component for SagaOrchestrator {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        if self.sagas.is_empty() {
            return;
        }
        let sagas: Vec<TxnId> = self.sagas.keys().copied().collect();
        ctx.state(format!(
            "recovered {} sagas from the saga log; resuming them",
            sagas.len()
        ));
        for saga in sagas {
            if let Some(record) = self.sagas.get_mut(&saga) {
                record.attempt += 1;
            }
            self.send_current(ctx, saga);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        match &envelope.payload {
            Payload::Request { operation, .. } => {
                let saga = TxnId {
                    client: envelope.from.0,
                    operation: *operation,
                };
                if self.sagas.len() >= self.spec.max_active_sagas as usize
                    || self.sagas.contains_key(&saga)
                {
                    ctx.error("refused");
                    ctx.send(
                        envelope.from,
                        Payload::Response {
                            operation: *operation,
                            ok: false,
                        },
                        64,
                    );
                    return;
                }
                self.started += 1;
                self.sagas.insert(
                    saga,
                    SagaRecord {
                        client: envelope.from,
                        operation: *operation,
                        started_at: ctx.now(),
                        step: 0,
                        compensating: false,
                        attempt: 1,
                        generation: 0,
                    },
                );
                ctx.fact(Fact::Txn(TxnFact::SagaStarted {
                    saga,
                    steps: self.services.len() as u32,
                }));
                self.send_current(ctx, saga);
            }
            Payload::Txn(TxnMessage::SagaReply {
                saga,
                step,
                compensate,
                attempt,
                ok,
            }) => self.on_reply(ctx, *saga, *step, *compensate, *attempt, *ok),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        let Some((saga, generation)) = self.timer_sagas.remove(&tag.id) else {
            return;
        };
        if self
            .sagas
            .get(&saga)
            .is_none_or(|record| record.generation != generation)
        {
            return;
        }
        match tag.kind {
            TIMER_STEP_TIMEOUT => {
                if let Some(record) = self.sagas.get(&saga) {
                    ctx.fact(Fact::Txn(TxnFact::SagaStepResult {
                        saga,
                        step: record.step,
                        compensate: record.compensating,
                        attempt: record.attempt,
                        ok: false,
                    }));
                }
                self.retry_or_give_up(ctx, saga);
            }
            TIMER_RETRY => self.send_current(ctx, saga),
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        self.timer_sagas.clear();
        if !self.spec.durable_log {
            self.lost_in_crash += self.sagas.len() as u64;
            if !self.sagas.is_empty() {
                ctx.state(format!(
                    "crash: saga log not durable, {} sagas forgotten mid-way",
                    self.sagas.len()
                ));
            }
            self.sagas.clear();
        }
    }

    fn live_status(&self) -> crate::live::NodeLiveStatus {
        crate::live::NodeLiveStatus {
            in_flight_transactions: Some(u32::try_from(self.sagas.len()).unwrap_or(u32::MAX)),
            ..crate::live::NodeLiveStatus::default()
        }
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: 0,
            in_progress: self.sagas.len() as u64,
            badge: format!("{} sagas · {} stuck", self.sagas.len(), self.stuck),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("started", self.started as f64),
            ("completed", self.completed as f64),
            ("compensated", self.compensated as f64),
            ("stuck", self.stuck as f64),
            ("retries", self.retries as f64),
            ("lost_in_crash", self.lost_in_crash as f64),
            ("in_progress", self.sagas.len() as f64),
        ]
    }
}

/// What a service's database says about one step of one saga.
#[derive(Clone, Copy, Debug, Default)]
struct StepEffect {
    action_applied: bool,
    action_refused: bool,
    compensated: bool,
}

/// A command (or event) waiting for its processing time.
#[derive(Clone, Debug)]
struct Work {
    from: NodeId,
    saga: TxnId,
    step: u32,
    compensate: bool,
    attempt: u32,
    key: u64,
    /// Choreography: the event that asked for it, acknowledged only once the
    /// work is done (an event acknowledged on receipt would be lost with a
    /// crash before the work).
    ack_event: Option<u64>,
    /// Choreography, first service: the client request that starts the saga.
    client_operation: Option<u64>,
    /// Choreography through the broker: the delivery (connection, tag) to
    /// acknowledge once the work is done.
    delivery: Option<(u64, u64)>,
}

/// An event a choreography service owes a neighbour (its outbox).
#[derive(Clone, Debug)]
struct OwedEvent {
    to: NodeId,
    saga: TxnId,
    step: u32,
    compensate: bool,
    attempts: u32,
}

#[derive(Clone)]
pub struct SagaService {
    spec: SagaServiceSpec,
    next: Option<NodeId>,
    previous: Option<NodeId>,
    /// Choreography: this service's position in the chain and the chain's length.
    chain_step: u32,
    chain_length: u32,
    /// This node's id: the prefix of its events' routing keys.
    node_name: String,
    /// Choreography through the broker: the AMQP connection.
    rabbit: Option<RabbitClient>,
    // Database (durable).
    effects: BTreeMap<(TxnId, u32), StepEffect>,
    effects_order: VecDeque<(TxnId, u32)>,
    replies: BTreeMap<u64, bool>,
    replies_order: VecDeque<u64>,
    outbox: BTreeMap<u64, OwedEvent>,
    // Volatile.
    work: BTreeMap<u64, Work>,
    timer_events: BTreeMap<u64, u64>,
    next_key: u64,
    applied: u64,
    refused: u64,
    duplicates_suppressed: u64,
    compensation_failures: u64,
}

impl SagaService {
    pub fn new(
        spec: &SagaServiceSpec,
        node_id: &str,
        scenario: &crate::scenario::Scenario,
        node_ids: &BTreeMap<String, NodeId>,
    ) -> SagaService {
        let choreography = spec.choreography.as_ref();
        let resolve = |id: &Option<String>| id.as_ref().and_then(|id| node_ids.get(id).copied());
        // Position in the chain: hops back to the first service; length: hops forward too.
        let hops = |start: &str, forward: bool| {
            let mut count = 0u32;
            let mut current = start.to_string();
            let mut seen = BTreeSet::new();
            while seen.insert(current.clone()) {
                let link = scenario
                    .topology
                    .nodes
                    .iter()
                    .find_map(|node| match &node.spec {
                        crate::scenario::ComponentSpec::SagaService(other)
                            if node.id == current =>
                        {
                            other.choreography.as_ref().and_then(|chain| {
                                if forward {
                                    chain.next.clone()
                                } else {
                                    chain.previous.clone()
                                }
                            })
                        }
                        _ => None,
                    });
                match link {
                    Some(link) => {
                        count += 1;
                        current = link;
                    }
                    None => break,
                }
            }
            count
        };
        let chain_step = hops(node_id, false);
        let rabbit = choreography
            .and_then(|chain| chain.broker.as_ref())
            .map(|broker| {
                RabbitClient::new(
                    node_ids.get(&broker.broker).copied(),
                    super::rabbit_heartbeat_timeout_ms(scenario, &broker.broker),
                    broker.reconnect_delay_ms,
                    Some(RabbitClientConsume {
                        queue: broker.queue.clone(),
                        prefetch_count: broker.prefetch_count,
                    }),
                )
            });
        SagaService {
            node_name: node_id.to_string(),
            rabbit,
            spec: spec.clone(),
            next: choreography.and_then(|chain| resolve(&chain.next)),
            previous: choreography.and_then(|chain| resolve(&chain.previous)),
            chain_step,
            chain_length: chain_step + hops(node_id, true) + 1,
            effects: BTreeMap::new(),
            effects_order: VecDeque::new(),
            replies: BTreeMap::new(),
            replies_order: VecDeque::new(),
            outbox: BTreeMap::new(),
            work: BTreeMap::new(),
            timer_events: BTreeMap::new(),
            next_key: 0,
            applied: 0,
            refused: 0,
            duplicates_suppressed: 0,
            compensation_failures: 0,
        }
    }

    fn effect_mut(&mut self, saga: TxnId, step: u32) -> &mut StepEffect {
        if !self.effects.contains_key(&(saga, step)) {
            self.effects_order.push_back((saga, step));
            if self.effects_order.len() > MAX_TXN_TRACKED
                && let Some(oldest) = self.effects_order.pop_front()
            {
                self.effects.remove(&oldest);
            }
        }
        self.effects.entry((saga, step)).or_default()
    }

    fn remember_reply(&mut self, key: u64, ok: bool) {
        if self.replies.insert(key, ok).is_none() {
            self.replies_order.push_back(key);
            if self.replies_order.len() > MAX_TXN_REMEMBERED_DECISIONS
                && let Some(oldest) = self.replies_order.pop_front()
            {
                self.replies.remove(&oldest);
            }
        }
    }

    fn applied_fact(&self, ctx: &mut Context<'_>, work: &Work, applied: bool, duplicate: bool) {
        ctx.fact(Fact::Txn(TxnFact::SagaStepApplied {
            saga: work.saga,
            step: work.step,
            compensate: work.compensate,
            applied,
            duplicate,
        }));
    }

    /// Runs an action or compensation against the database; returns whether it succeeded.
    fn apply(&mut self, ctx: &mut Context<'_>, work: &Work) -> bool {
        let idempotent = self.spec.idempotent;
        if idempotent && let Some(ok) = self.replies.get(&work.key).copied() {
            self.duplicates_suppressed += 1;
            self.applied_fact(ctx, work, false, true);
            return ok;
        }
        let effect = *self.effect_mut(work.saga, work.step);
        let ok = if !work.compensate {
            if idempotent && effect.compensated {
                // The compensation (or its marker) came first: refuse the late action.
                ctx.state(format!(
                    "{} step {}: action refused, already compensated",
                    work.saga, work.step
                ));
                self.applied_fact(ctx, work, false, false);
                false
            } else if ctx.rng().chance(self.spec.action_failure_probability) {
                self.refused += 1;
                self.effect_mut(work.saga, work.step).action_refused = true;
                self.applied_fact(ctx, work, false, false);
                false
            } else {
                self.applied += 1;
                self.effect_mut(work.saga, work.step).action_applied = true;
                self.applied_fact(ctx, work, true, false);
                true
            }
        } else if ctx.rng().chance(self.spec.compensation_failure_probability) {
            self.compensation_failures += 1;
            self.applied_fact(ctx, work, false, false);
            // A transient failure is not remembered: the retry must run again.
            return false;
        } else if idempotent && !effect.action_applied {
            // Nothing to undo: leave a marker so a late action is refused.
            self.effect_mut(work.saga, work.step).compensated = true;
            self.applied_fact(ctx, work, false, false);
            true
        } else {
            self.applied += 1;
            self.effect_mut(work.saga, work.step).compensated = true;
            self.applied_fact(ctx, work, true, false);
            true
        };
        if idempotent {
            self.remember_reply(work.key, ok);
        }
        ok
    }

    fn owe_event(
        &mut self,
        ctx: &mut Context<'_>,
        to: NodeId,
        saga: TxnId,
        step: u32,
        compensate: bool,
    ) {
        let event = idempotency_key(saga, step, compensate);
        self.outbox.insert(
            event,
            OwedEvent {
                to,
                saga,
                step,
                compensate,
                attempts: 0,
            },
        );
        self.send_event(ctx, event);
    }

    fn send_event(&mut self, ctx: &mut Context<'_>, event: u64) {
        let Some(chain) = self.spec.choreography.clone() else {
            return;
        };
        let Some(owed) = self.outbox.get_mut(&event) else {
            return;
        };
        if owed.attempts >= chain.max_event_attempts {
            // Given up: the saga can no longer move on.
            let reason = format!(
                "event for step {} ({}) sent {} times without an acknowledgement",
                owed.step,
                if owed.compensate {
                    "compensate"
                } else {
                    "done"
                },
                owed.attempts
            );
            let saga = owed.saga;
            self.outbox.remove(&event);
            ctx.fact(Fact::Txn(TxnFact::SagaStuck { saga, reason }));
            return;
        }
        owed.attempts += 1;
        if let (Some(rabbit), Some(broker)) = (self.rabbit.as_mut(), chain.broker.as_ref()) {
            let message = saga_event_message(
                ctx.node(),
                &self.node_name,
                &broker.exchange,
                owed.saga,
                owed.compensate,
                event,
            );
            // Refused only when the confirm window is full: the retry timer tries again.
            rabbit.publish(ctx, message, event);
        } else {
            ctx.send(
                owed.to,
                Payload::Txn(TxnMessage::SagaEvent {
                    saga: owed.saga,
                    step: owed.step,
                    compensate: owed.compensate,
                    event,
                }),
                64,
            );
        }
        let key = self.next_key;
        self.next_key += 1;
        self.timer_events.insert(key, event);
        ctx.set_timer(
            SimDuration::from_millis(chain.event_retry_interval_ms),
            TimerTag {
                kind: TIMER_RETRY,
                id: key,
            },
        );
    }

    fn schedule_work(&mut self, ctx: &mut Context<'_>, work: Work) {
        let time = self.spec.processing_time.sample(ctx.rng());
        let time = ctx.service_time(time);
        let key = self.next_key;
        self.next_key += 1;
        self.work.insert(key, work);
        ctx.set_timer(
            time,
            TimerTag {
                kind: TIMER_STEP_TIMEOUT,
                id: key,
            },
        );
    }

    /// Choreography: what to do after this service's action or compensation ran.
    fn choreograph(&mut self, ctx: &mut Context<'_>, work: &Work, ok: bool) {
        let saga = work.saga;
        let step = self.chain_step;
        match (work.compensate, ok) {
            (false, true) => match self.next {
                Some(next) => self.owe_event(ctx, next, saga, step, false),
                None => ctx.fact(Fact::Txn(TxnFact::SagaEnded {
                    saga,
                    outcome: SagaOutcome::Completed,
                })),
            },
            // The action failed (nothing applied here): the earlier steps compensate.
            (false, false) | (true, true) => match self.previous {
                Some(previous) => self.owe_event(ctx, previous, saga, step, true),
                None => ctx.fact(Fact::Txn(TxnFact::SagaEnded {
                    saga,
                    outcome: SagaOutcome::Compensated,
                })),
            },
            // A compensation failed transiently: run it again later.
            (true, false) => {
                let chain = self.spec.choreography.clone();
                let attempts = work.attempt;
                if chain.is_some_and(|chain| attempts < chain.max_event_attempts) {
                    let mut again = work.clone();
                    // The event stays unacknowledged until a retry succeeds.
                    again.attempt += 1;
                    again.client_operation = None;
                    self.schedule_work(ctx, again);
                } else {
                    ctx.fact(Fact::Txn(TxnFact::SagaStuck {
                        saga,
                        reason: format!("compensation of step {step} failed {attempts} times"),
                    }));
                }
            }
        }
    }
}

impl SagaService {
    /// A frame from the broker (choreography through the broker).
    fn on_rabbit_event(&mut self, ctx: &mut Context<'_>, event: RabbitClientEvent) {
        match event {
            RabbitClientEvent::Confirmed { token, ack: true } => {
                // The broker has the event (persistent, durable queue): no longer owed.
                self.outbox.remove(&token);
            }
            // A nack or a lost connection: the retry timer publishes again.
            RabbitClientEvent::Confirmed { ack: false, .. }
            | RabbitClientEvent::ConnectionLost { .. } => {}
            RabbitClientEvent::Delivered {
                connection,
                delivery_tag,
                message,
                ..
            } => {
                let Some((saga, compensate)) = parse_saga_event(&message) else {
                    if let Some(rabbit) = self.rabbit.as_mut() {
                        rabbit.settle(
                            ctx,
                            connection,
                            delivery_tag,
                            RabbitSettlement::Reject { requeue: false },
                        );
                    }
                    return;
                };
                let work = Work {
                    // Unused: the acknowledgement goes back through the client.
                    from: ctx.node(),
                    saga,
                    step: self.chain_step,
                    compensate,
                    attempt: 1,
                    key: idempotency_key(saga, self.chain_step, compensate),
                    ack_event: None,
                    client_operation: None,
                    delivery: Some((connection, delivery_tag)),
                };
                self.schedule_work(ctx, work);
            }
        }
    }
}

/// The AMQP message carrying one choreography event.
fn saga_event_message(
    publisher: NodeId,
    node_name: &str,
    exchange: &str,
    saga: TxnId,
    compensate: bool,
    event: u64,
) -> RabbitMessage {
    let mut headers = BTreeMap::new();
    headers.insert("saga_client".to_string(), saga.client.to_string());
    headers.insert("saga_operation".to_string(), saga.operation.to_string());
    headers.insert(
        "saga_event".to_string(),
        if compensate { "undo" } else { "done" }.to_string(),
    );
    RabbitMessage {
        // The same key on every republish, so duplicates are recognisable.
        key: RabbitMessageKey {
            publisher,
            sequence: event,
        },
        exchange: exchange.to_string(),
        routing_key: format!("{node_name}.{}", if compensate { "undo" } else { "done" }),
        headers,
        persistent: true,
        priority: None,
        expiration_ms: None,
        body_bytes: 64,
        x_death: Vec::new(),
    }
}

/// Reads a choreography event back: the saga and whether it asks for a compensation.
fn parse_saga_event(message: &RabbitMessage) -> Option<(TxnId, bool)> {
    let client = message.headers.get("saga_client")?.parse().ok()?;
    let operation = message.headers.get("saga_operation")?.parse().ok()?;
    let compensate = match message.headers.get("saga_event")?.as_str() {
        "done" => false,
        "undo" => true,
        _ => return None,
    };
    Some((TxnId { client, operation }, compensate))
}

impl Component for SagaService {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        if let Some(rabbit) = self.rabbit.as_mut() {
            rabbit.start(ctx);
        }
        // Owed events survive in the outbox: send them again.
        let owed: Vec<u64> = self.outbox.keys().copied().collect();
        for event in owed {
            self.send_event(ctx, event);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        if let Some(rabbit) = self.rabbit.as_mut()
            && let Some(event) = rabbit.on_message(ctx, envelope)
        {
            self.on_rabbit_event(ctx, event);
            return;
        }
        match &envelope.payload {
            Payload::Txn(TxnMessage::SagaCommand {
                saga,
                step,
                compensate,
                attempt,
                idempotency_key,
            }) => {
                let work = Work {
                    from: envelope.from,
                    saga: *saga,
                    step: *step,
                    compensate: *compensate,
                    attempt: *attempt,
                    key: *idempotency_key,
                    ack_event: None,
                    client_operation: None,
                    delivery: None,
                };
                self.schedule_work(ctx, work);
            }
            // Choreography: the first service starts a saga per client request.
            Payload::Request { operation, .. }
                if self.spec.choreography.is_some() && self.previous.is_none() =>
            {
                let saga = TxnId {
                    client: envelope.from.0,
                    operation: *operation,
                };
                // The saga starts when this service's action (creating the
                // order) runs; the client is answered then.
                let work = Work {
                    from: envelope.from,
                    saga,
                    step: self.chain_step,
                    compensate: false,
                    attempt: 1,
                    key: idempotency_key(saga, self.chain_step, false),
                    ack_event: None,
                    client_operation: Some(*operation),
                    delivery: None,
                };
                self.schedule_work(ctx, work);
            }
            Payload::Txn(TxnMessage::SagaEvent {
                saga,
                compensate,
                event,
                ..
            }) => {
                // A `done` event asks for this step's action, a `compensate`
                // event for this step's compensation.
                let work = Work {
                    from: envelope.from,
                    saga: *saga,
                    step: self.chain_step,
                    compensate: *compensate,
                    attempt: 1,
                    key: idempotency_key(*saga, self.chain_step, *compensate),
                    ack_event: Some(*event),
                    client_operation: None,
                    delivery: None,
                };
                self.schedule_work(ctx, work);
            }
            Payload::Txn(TxnMessage::SagaEventAck { event }) => {
                self.outbox.remove(event);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        if RabbitClient::owns_timer(tag) {
            if let Some(rabbit) = self.rabbit.as_mut()
                && let Some(event) = rabbit.on_timer(ctx, tag)
            {
                self.on_rabbit_event(ctx, event);
            }
            return;
        }
        match tag.kind {
            TIMER_STEP_TIMEOUT => {
                let Some(work) = self.work.remove(&tag.id) else {
                    return;
                };
                let duplicate_event = self.spec.choreography.is_some()
                    && self.spec.idempotent
                    && work.attempt == 1
                    && self.replies.contains_key(&work.key);
                if let Some(operation) = work.client_operation {
                    ctx.fact(Fact::Txn(TxnFact::SagaStarted {
                        saga: work.saga,
                        steps: self.chain_length,
                    }));
                    // The order is accepted; the saga runs on asynchronously.
                    ctx.send(
                        work.from,
                        Payload::Response {
                            operation,
                            ok: true,
                        },
                        64,
                    );
                }
                let ok = self.apply(ctx, &work);
                if self.spec.choreography.is_some() {
                    if !duplicate_event {
                        self.choreograph(ctx, &work, ok);
                    }
                    // A failed compensation is retried here, still holding the event.
                    if let (Some((connection, delivery_tag)), Some(rabbit)) =
                        (work.delivery, self.rabbit.as_mut())
                        && (ok || !work.compensate)
                    {
                        rabbit.settle(ctx, connection, delivery_tag, RabbitSettlement::Ack);
                    }
                    if let Some(event) = work.ack_event
                        && (ok || !work.compensate)
                    {
                        ctx.send(
                            work.from,
                            Payload::Txn(TxnMessage::SagaEventAck { event }),
                            64,
                        );
                    }
                } else {
                    ctx.send(
                        work.from,
                        Payload::Txn(TxnMessage::SagaReply {
                            saga: work.saga,
                            step: work.step,
                            compensate: work.compensate,
                            attempt: work.attempt,
                            ok,
                        }),
                        64,
                    );
                }
            }
            TIMER_RETRY => {
                if let Some(event) = self.timer_events.remove(&tag.id)
                    && self.outbox.contains_key(&event)
                {
                    self.send_event(ctx, event);
                }
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, _ctx: &mut Context<'_>) {
        self.work.clear();
        self.timer_events.clear();
        if let Some(rabbit) = self.rabbit.as_mut() {
            rabbit.on_crash();
        }
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: self.work.len() as u64,
            in_progress: self.outbox.len() as u64,
            badge: format!("applied {} · refused {}", self.applied, self.refused),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("applied", self.applied as f64),
            ("refused", self.refused as f64),
            ("duplicates_suppressed", self.duplicates_suppressed as f64),
            ("compensation_failures", self.compensation_failures as f64),
            ("owed_events", self.outbox.len() as f64),
        ]
    }
}
