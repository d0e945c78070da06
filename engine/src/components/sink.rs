//! Sink service: a FIFO queue in front of `workers` parallel servers (an M/M/c station when exponential).
//!
//! It keeps exact statistics in true simulated time so that queueing theory
//! can be checked against it: time-average number in system and in queue
//! (integrals), per-request wait and sojourn (sums), and the share of arrivals
//! that had to wait. Two independent measurements make Little's law testable.

use crate::component::{Component, ComponentView, Context, TimerId, TimerTag};
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::SinkSpec;
use crate::time::SimTime;
use std::collections::{BTreeMap, VecDeque};

const TIMER_SERVICE_DONE: u32 = 1;
const TIMER_DOWNSTREAM_TIMEOUT: u32 = 2;

#[derive(Clone, Copy)]
struct Job {
    from: NodeId,
    operation: u64,
    arrived_at: SimTime,
}

#[derive(Clone)]
pub struct Sink {
    spec: SinkSpec,
    downstream: Option<NodeId>,
    /// Jobs whose worker waits on the downstream call, by downstream operation.
    awaiting_downstream: BTreeMap<u64, TimerId>,
    /// Volatile: lost on crash (this component persists nothing).
    waiting: VecDeque<Job>,
    in_service: BTreeMap<u64, Job>,
    next_job: u64,
    statistics: Statistics,
}

#[derive(Clone, Default)]
struct Statistics {
    started_at: Option<SimTime>,
    last_change: SimTime,
    /// ∫ (jobs in system) dt, in job·µs.
    area_in_system: u128,
    /// ∫ (jobs waiting) dt.
    area_waiting: u128,
    /// ∫ (busy workers) dt.
    area_busy: u128,
    arrivals: u64,
    arrivals_that_waited: u64,
    rejected: u64,
    started: u64,
    completed: u64,
    errors: u64,
    wait_sum_us: u128,
    sojourn_sum_us: u128,
}

impl Sink {
    pub fn new(spec: SinkSpec, node_ids: &BTreeMap<String, NodeId>) -> Sink {
        let downstream = spec
            .downstream
            .as_ref()
            .and_then(|name| node_ids.get(name).copied());
        Sink {
            spec,
            downstream,
            awaiting_downstream: BTreeMap::new(),
            waiting: VecDeque::new(),
            in_service: BTreeMap::new(),
            next_job: 0,
            statistics: Statistics::default(),
        }
    }

    /// Accumulates the integrals up to `now`; call before every state change.
    fn advance_integrals(&mut self, now: SimTime) {
        let statistics = &mut self.statistics;
        let elapsed = now.since(statistics.last_change).as_micros() as u128;
        let busy = self.in_service.len() as u128;
        let waiting = self.waiting.len() as u128;
        statistics.area_in_system += (busy + waiting) * elapsed;
        statistics.area_waiting += waiting * elapsed;
        statistics.area_busy += busy * elapsed;
        statistics.last_change = now;
    }

    /// The job's worker is free: answer upstream and take the next waiting job.
    fn finish_job(&mut self, ctx: &mut Context<'_>, id: u64, ok: bool) {
        let now = ctx.now();
        self.advance_integrals(now);
        let Some(job) = self.in_service.remove(&id) else {
            return;
        };
        let sojourn = now.since(job.arrived_at);
        self.statistics.completed += 1;
        self.statistics.sojourn_sum_us += sojourn.as_micros() as u128;
        if ok {
            ctx.completed(sojourn);
        } else {
            self.statistics.errors += 1;
            ctx.error("service_error");
        }
        if self.spec.respond {
            ctx.send(
                job.from,
                Payload::Response {
                    operation: job.operation,
                    ok,
                },
                256,
            );
        }
        if let Some(next) = self.waiting.pop_front() {
            self.start_service(ctx, next);
        }
    }

    fn start_service(&mut self, ctx: &mut Context<'_>, job: Job) {
        let wait = ctx.now().since(job.arrived_at);
        self.statistics.started += 1;
        self.statistics.wait_sum_us += wait.as_micros() as u128;
        let nominal = self.spec.service_time.sample(ctx.rng());
        let service = ctx.service_time(nominal);
        let id = self.next_job;
        self.next_job += 1;
        self.in_service.insert(id, job);
        ctx.set_timer(
            service,
            TimerTag {
                kind: TIMER_SERVICE_DONE,
                id,
            },
        );
    }
}

impl Component for Sink {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.statistics.started_at.get_or_insert(ctx.now());
        self.statistics.last_change = ctx.now();
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        if let Payload::Response { operation, ok } = envelope.payload {
            if Some(envelope.from) == self.downstream
                && let Some(timeout) = self.awaiting_downstream.remove(&operation)
            {
                ctx.cancel_timer(timeout);
                self.finish_job(ctx, operation, ok);
            }
            return;
        }
        let Payload::Request { operation, .. } = envelope.payload else {
            return;
        };
        let now = ctx.now();
        self.advance_integrals(now);
        self.statistics.arrivals += 1;
        let job = Job {
            from: envelope.from,
            operation,
            arrived_at: now,
        };
        if self.in_service.len() < self.spec.workers as usize {
            self.start_service(ctx, job);
        } else if self.waiting.len() < self.spec.queue_capacity as usize {
            self.statistics.arrivals_that_waited += 1;
            self.waiting.push_back(job);
        } else {
            // Bounded queue: reject now rather than grow without limit.
            self.statistics.rejected += 1;
            ctx.error("rejected_queue_full");
            if self.spec.respond {
                ctx.send(
                    job.from,
                    Payload::Response {
                        operation,
                        ok: false,
                    },
                    64,
                );
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_SERVICE_DONE => {
                if !self.in_service.contains_key(&tag.id) {
                    return;
                }
                let failed = ctx.rng().chance(self.spec.error_probability);
                match self.downstream {
                    Some(downstream) if !failed => {
                        // The job's own id doubles as the downstream operation id.
                        ctx.send(
                            downstream,
                            Payload::Request {
                                operation: tag.id,
                                stream: 0,
                            },
                            256,
                        );
                        let timeout = ctx.set_timer(
                            crate::time::SimDuration::from_millis(self.spec.downstream_timeout_ms),
                            TimerTag {
                                kind: TIMER_DOWNSTREAM_TIMEOUT,
                                id: tag.id,
                            },
                        );
                        self.awaiting_downstream.insert(tag.id, timeout);
                    }
                    _ => self.finish_job(ctx, tag.id, !failed),
                }
            }
            TIMER_DOWNSTREAM_TIMEOUT if self.awaiting_downstream.remove(&tag.id).is_some() => {
                ctx.error("downstream_timeout");
                self.finish_job(ctx, tag.id, false);
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        self.advance_integrals(ctx.now());
        let lost = self.waiting.len() + self.in_service.len();
        self.waiting.clear();
        self.in_service.clear();
        self.awaiting_downstream.clear();
        if lost > 0 {
            ctx.state(format!("lost {lost} queued/in-service requests"));
        }
    }
    fn on_restart(&mut self, ctx: &mut Context<'_>) {
        self.statistics.last_change = ctx.now();
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: self.waiting.len() as u64,
            in_progress: self.in_service.len() as u64,
            badge: format!("{}/{} busy", self.in_service.len(), self.spec.workers),
        }
    }

    fn summary(&self, now: SimTime) -> Vec<(&'static str, f64)> {
        let statistics = &self.statistics;
        // Integrals are accumulated lazily; add the tail since the last change.
        let tail = now.since(statistics.last_change).as_micros() as u128;
        let busy = self.in_service.len() as u128;
        let waiting = self.waiting.len() as u128;
        let elapsed_us = now.since(statistics.started_at.unwrap_or(now)).as_micros() as f64;
        let per_time = |area: u128| {
            if elapsed_us > 0.0 {
                area as f64 / elapsed_us
            } else {
                0.0
            }
        };
        let per_job = |sum: u128, count: u64| {
            if count > 0 {
                sum as f64 / count as f64 / 1_000.0
            } else {
                0.0
            }
        };
        let admitted = statistics.arrivals - statistics.rejected;
        // `served` counts every answered request, ok or error; the report's
        // generic `ok_total`/`errors_total` split them.
        vec![
            ("arrivals", statistics.arrivals as f64),
            ("served", statistics.completed as f64),
            ("rejected", statistics.rejected as f64),
            ("errors", statistics.errors as f64),
            (
                "throughput_per_s",
                if elapsed_us > 0.0 {
                    statistics.completed as f64 / (elapsed_us / 1e6)
                } else {
                    0.0
                },
            ),
            (
                "utilisation",
                per_time(statistics.area_busy + busy * tail) / self.spec.workers as f64,
            ),
            (
                "mean_in_system",
                per_time(statistics.area_in_system + (busy + waiting) * tail),
            ),
            (
                "mean_queue_length",
                per_time(statistics.area_waiting + waiting * tail),
            ),
            (
                "wait_probability",
                if admitted > 0 {
                    statistics.arrivals_that_waited as f64 / admitted as f64
                } else {
                    0.0
                },
            ),
            (
                "mean_wait_ms",
                per_job(statistics.wait_sum_us, statistics.started),
            ),
            (
                "mean_sojourn_ms",
                per_job(statistics.sojourn_sum_us, statistics.completed),
            ),
        ]
    }
}
