//! `raft_kv_client`: processes issuing read/write/cas operations to a Raft key-value store, following leader redirects, recorded as a Jepsen history.
//!
//! Each of `concurrency` processes runs one operation at a time: invoke,
//! send to the leader it believes in (a random member at first), follow
//! `not_leader` hints, retry after a backoff when nobody knows a leader, and
//! finish as `ok` (committed; a cas that found another value is `fail`),
//! `fail` (definitely not applied: refused, lost to a newer leader, or out of
//! attempts) or `info` (timed out, or the leader stepped down first: it may
//! or may not have been applied).

use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::distribution::Distribution;
use crate::message::{Envelope, NodeId, Payload};
use crate::raft::kv::{KvOperation, KvOutcome};
use crate::scenario::RaftKvClientSpec;
use crate::time::{SimDuration, SimTime};
use crate::trace::OperationPhase;
use std::collections::BTreeMap;

const TIMER_NEXT_OPERATION: u32 = 1;
const TIMER_TIMEOUT: u32 = 2;
const TIMER_RETRY: u32 = 3;

#[derive(Clone)]
struct Outstanding {
    process: u32,
    operation: KvOperation,
    invoked_at: SimTime,
    attempts: u32,
}

#[derive(Clone)]
pub struct RaftKvClient {
    spec: RaftKvClientSpec,
    members: Vec<NodeId>,
    think_time: Distribution,
    /// The server believed to lead (learned from hints and answers).
    leader: Option<NodeId>,
    next_operation: u64,
    /// At most `concurrency` entries: one per process.
    outstanding: BTreeMap<u64, Outstanding>,
    completed_ok: u64,
    completed_fail: u64,
    completed_info: u64,
}

impl RaftKvClient {
    pub fn new(spec: &RaftKvClientSpec, members: Vec<NodeId>) -> RaftKvClient {
        RaftKvClient {
            think_time: spec.think_time.clone(),
            spec: spec.clone(),
            members,
            leader: None,
            next_operation: 0,
            outstanding: BTreeMap::new(),
            completed_ok: 0,
            completed_fail: 0,
            completed_info: 0,
        }
    }

    fn target(&mut self, ctx: &mut Context<'_>) -> Option<NodeId> {
        if let Some(leader) = self.leader {
            return Some(leader);
        }
        let index = ctx.rng().pick_index(self.members.len())?;
        Some(self.members[index])
    }

    fn invoke(&mut self, ctx: &mut Context<'_>, process: u32) {
        if self
            .spec
            .stop_ms
            .is_some_and(|stop_ms| ctx.now() >= SimTime::from_millis(stop_ms))
        {
            return;
        }
        let key = ctx.rng().below(u64::from(self.spec.key_count.max(1))) as u32;
        let value_count = self.spec.value_count.max(1);
        let roll = ctx.rng().next_f64();
        let operation = if roll < self.spec.read_fraction {
            KvOperation::Read { key }
        } else if roll < self.spec.read_fraction + self.spec.cas_fraction {
            KvOperation::Cas {
                key,
                expected: ctx.rng().below(value_count),
                new: ctx.rng().below(value_count),
            }
        } else {
            KvOperation::Write {
                key,
                value: ctx.rng().below(value_count),
            }
        };
        let id = self.next_operation;
        self.next_operation += 1;
        ctx.operation(id, OperationPhase::Invoke, operation.to_string());
        self.outstanding.insert(
            id,
            Outstanding {
                process,
                operation,
                invoked_at: ctx.now(),
                attempts: 0,
            },
        );
        ctx.set_timer(
            SimDuration::from_millis(self.spec.request_timeout_ms),
            TimerTag {
                kind: TIMER_TIMEOUT,
                id,
            },
        );
        self.send_attempt(ctx, id);
    }

    fn send_attempt(&mut self, ctx: &mut Context<'_>, id: u64) {
        let Some(target) = self.target(ctx) else {
            return;
        };
        let Some(outstanding) = self.outstanding.get_mut(&id) else {
            return;
        };
        if outstanding.attempts >= self.spec.max_attempts {
            // Every refusal so far said "not appended": a definite failure.
            let detail = format!(
                "{} no leader after {} attempts",
                outstanding.operation, outstanding.attempts
            );
            self.finish(ctx, id, OperationPhase::Fail, detail);
            return;
        }
        outstanding.attempts += 1;
        ctx.send(
            target,
            Payload::RaftKvRequest {
                request: id,
                operation: outstanding.operation,
            },
            64,
        );
    }

    fn finish(&mut self, ctx: &mut Context<'_>, id: u64, phase: OperationPhase, detail: String) {
        let Some(outstanding) = self.outstanding.remove(&id) else {
            return;
        };
        match phase {
            OperationPhase::Ok => {
                self.completed_ok += 1;
                ctx.completed(ctx.now().since(outstanding.invoked_at));
            }
            OperationPhase::Fail => {
                self.completed_fail += 1;
                ctx.error("kv_fail");
            }
            _ => {
                self.completed_info += 1;
                ctx.error("kv_info");
            }
        }
        ctx.operation(id, phase, detail);
        let think = self.think_time.sample(ctx.rng());
        ctx.set_timer(
            think,
            TimerTag {
                kind: TIMER_NEXT_OPERATION,
                id: u64::from(outstanding.process),
            },
        );
    }
}

impl Component for RaftKvClient {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.leader = None;
        for process in 0..self.spec.concurrency {
            self.invoke(ctx, process);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let Payload::RaftKvResponse { request, outcome } = &envelope.payload else {
            return;
        };
        let id = *request;
        let Some(outstanding) = self.outstanding.get(&id) else {
            return; // Late answer to an operation that already timed out.
        };
        let operation = outstanding.operation;
        match outcome {
            KvOutcome::Ok { value } => {
                self.leader = Some(envelope.from);
                let detail = match operation {
                    KvOperation::Read { key } => format!(
                        "read k={key} v={}",
                        value.map_or("nil".to_string(), |value| value.to_string())
                    ),
                    other => other.to_string(),
                };
                self.finish(ctx, id, OperationPhase::Ok, detail);
            }
            KvOutcome::CasMismatch { current } => {
                self.leader = Some(envelope.from);
                let detail = format!(
                    "{operation} mismatch current={}",
                    current.map_or("nil".to_string(), |value| value.to_string())
                );
                self.finish(ctx, id, OperationPhase::Fail, detail);
            }
            KvOutcome::NotLeader { leader_hint } => {
                self.leader = *leader_hint;
                if leader_hint.is_some_and(|hint| hint != envelope.from) {
                    self.send_attempt(ctx, id);
                } else {
                    ctx.set_timer(
                        SimDuration::from_millis(self.spec.retry_backoff_ms),
                        TimerTag {
                            kind: TIMER_RETRY,
                            id,
                        },
                    );
                }
            }
            KvOutcome::Rejected { reason } => {
                let detail = format!("{operation} rejected {reason}");
                self.finish(ctx, id, OperationPhase::Fail, detail);
            }
            KvOutcome::Lost => {
                self.leader = None;
                let detail = format!("{operation} lost to a newer leader");
                self.finish(ctx, id, OperationPhase::Fail, detail);
            }
            KvOutcome::Unknown => {
                self.leader = None;
                let detail = format!("{operation} leader stepped down");
                self.finish(ctx, id, OperationPhase::Info, detail);
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_NEXT_OPERATION => self.invoke(ctx, tag.id as u32),
            TIMER_TIMEOUT => {
                if let Some(outstanding) = self.outstanding.get(&tag.id) {
                    let detail = format!("{} timeout", outstanding.operation);
                    // The server we believed in did not answer: ask around next time.
                    self.leader = None;
                    self.finish(ctx, tag.id, OperationPhase::Info, detail);
                }
            }
            TIMER_RETRY => self.send_attempt(ctx, tag.id),
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        for (id, outstanding) in std::mem::take(&mut self.outstanding) {
            ctx.operation(
                id,
                OperationPhase::Info,
                format!("{} client crashed", outstanding.operation),
            );
        }
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: 0,
            in_progress: self.outstanding.len() as u64,
            badge: format!(
                "ok {} fail {} info {}",
                self.completed_ok, self.completed_fail, self.completed_info
            ),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("operations_ok", self.completed_ok as f64),
            ("operations_fail", self.completed_fail as f64),
            ("operations_info", self.completed_info as f64),
        ]
    }
}
