//! The transactions panel's rows: one per saga, 2PC, 3PC or TCC instance, with its steps as spans of sim time and its outcome, rebuilt from the trace.
//!
//! `TransactionTimelines` watches trace events the way a checker does (it
//! never reaches into components): `TxnFact`s (saga started / step result /
//! step applied / ended / stuck; prepared / decided / in doubt / outcome)
//! and the sends and deliveries of `TxnMessage`s that open a phase (a saga
//! command, a prepare, a pre-commit, a decision) or close it (a vote, a
//! pre-commit ack). Events of other kinds return at the first `match`, so
//! scenarios without transactions pay one comparison per event.
//!
//! Bounded: the `MAX_INSPECTED_TRANSACTIONS` most recently started instances
//! are kept (older ones are counted as forgotten), each with at most
//! `MAX_TRANSACTION_STEPS_KEPT` spans.

use crate::components::txn_protocol::{SagaOutcome, TxnFact, TxnId, TxnMessage};
use crate::message::{NodeId, Payload};
use crate::trace::{Fact, TraceEvent, TraceKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Instances kept for the panel: a screenful of Gantt rows.
pub const MAX_INSPECTED_TRANSACTIONS: usize = 40;
/// Spans kept per instance (a saga of 8 steps, each compensated, with a few
/// in-doubt spans, fits; retries extend a span rather than add one).
pub const MAX_TRANSACTION_STEPS_KEPT: usize = 32;

/// How an instance stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionOutcome {
    Running,
    /// Saga: every action applied.
    Completed,
    /// Saga: a step failed and the applied ones were compensated.
    Compensated,
    /// Saga: a compensation kept failing (or the log was lost); it will never end.
    Stuck,
    Committed,
    Aborted,
    /// A participant is in doubt: prepared, past its timeout, no decision.
    Blocked,
    /// Participants applied different outcomes (3PC under a partition).
    Inconsistent,
}

impl TransactionOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            TransactionOutcome::Running => "running",
            TransactionOutcome::Completed => "completed",
            TransactionOutcome::Compensated => "compensated",
            TransactionOutcome::Stuck => "stuck",
            TransactionOutcome::Committed => "committed",
            TransactionOutcome::Aborted => "aborted",
            TransactionOutcome::Blocked => "blocked",
            TransactionOutcome::Inconsistent => "inconsistent",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionStepStatus {
    /// Started, no result yet.
    Running,
    Ok,
    Failed,
    /// In doubt, holding locks.
    Blocked,
}

/// One instance, ready to draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransactionRow {
    /// `t<client>.<operation>`, as in trace lines.
    pub id: String,
    /// `saga`, `2pc`, `3pc` or `tcc`.
    pub protocol: String,
    /// The orchestrator, coordinator or first choreography service.
    pub node: String,
    pub started_us: u64,
    /// When the outcome became known (None while running or blocked).
    pub ended_us: Option<u64>,
    /// The last event seen about it (the end of its Gantt bar while open).
    pub last_event_us: u64,
    pub outcome: TransactionOutcome,
    /// Why (a decision's reason, a stuck saga's cause), when known.
    pub detail: String,
    pub steps: Vec<TransactionStepRow>,
    /// Spans not kept (past `MAX_TRANSACTION_STEPS_KEPT`).
    pub steps_dropped: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransactionStepRow {
    /// `step 2`, `compensate 1`, `prepare`, `pre-commit`, `commit`, `abort`, `in doubt`.
    pub label: String,
    /// The node doing it (step service, participant).
    pub node: String,
    pub started_us: u64,
    pub ended_us: Option<u64>,
    pub status: TransactionStepStatus,
    /// Attempts made (saga retries), at least 1.
    pub attempts: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SpanKind {
    SagaStep { step: u32, compensate: bool },
    Prepare,
    PreCommit,
    Decision { commit: bool },
    InDoubt,
}

#[derive(Clone, Debug)]
struct Span {
    kind: SpanKind,
    node: NodeId,
    started_us: u64,
    ended_us: Option<u64>,
    status: TransactionStepStatus,
    attempts: u32,
    /// How a participant learned the outcome (`termination`, `timeout`…).
    via: Option<String>,
}

#[derive(Clone, Debug)]
struct Instance {
    saga: bool,
    protocol: &'static str,
    node: NodeId,
    started_us: u64,
    ended_us: Option<u64>,
    last_event_us: u64,
    decided: Option<bool>,
    saga_outcome: Option<TransactionOutcome>,
    detail: String,
    spans: Vec<Span>,
    spans_dropped: u32,
    /// Participants' applied outcomes (2PC/3PC/TCC).
    outcomes: BTreeMap<NodeId, bool>,
    /// Participants in doubt with no outcome yet.
    in_doubt: BTreeMap<NodeId, u64>,
}

impl Instance {
    fn new(saga: bool, protocol: &'static str, node: NodeId, now_us: u64) -> Instance {
        Instance {
            saga,
            protocol,
            node,
            started_us: now_us,
            ended_us: None,
            last_event_us: now_us,
            decided: None,
            saga_outcome: None,
            detail: String::new(),
            spans: Vec::new(),
            spans_dropped: 0,
            outcomes: BTreeMap::new(),
            in_doubt: BTreeMap::new(),
        }
    }

    /// The open span of `kind` on `node`, if any (the newest).
    fn open_span(&mut self, kind: SpanKind, node: NodeId) -> Option<&mut Span> {
        self.spans
            .iter_mut()
            .rev()
            .find(|span| span.kind == kind && span.node == node && span.ended_us.is_none())
    }

    /// The newest span of `kind` on `node`, open or not.
    fn latest_span(&mut self, kind: SpanKind, node: NodeId) -> Option<&mut Span> {
        self.spans
            .iter_mut()
            .rev()
            .find(|span| span.kind == kind && span.node == node)
    }

    fn push_span(&mut self, span: Span) {
        if self.spans.len() < MAX_TRANSACTION_STEPS_KEPT {
            self.spans.push(span);
        } else {
            self.spans_dropped += 1;
        }
    }

    /// The end of the latest span (where a choreographed step starts).
    fn cursor_us(&self) -> u64 {
        self.spans
            .iter()
            .filter_map(|span| span.ended_us)
            .max()
            .unwrap_or(self.started_us)
    }

    fn outcome(&self) -> TransactionOutcome {
        if let Some(outcome) = self.saga_outcome {
            return outcome;
        }
        if self.saga {
            return TransactionOutcome::Running;
        }
        if !self.in_doubt.is_empty() {
            return TransactionOutcome::Blocked;
        }
        let committed = self.outcomes.values().any(|committed| *committed);
        let aborted = self.outcomes.values().any(|committed| !*committed);
        match (committed, aborted, self.decided) {
            (true, true, _) => TransactionOutcome::Inconsistent,
            (_, _, Some(true)) | (true, false, None) => TransactionOutcome::Committed,
            (_, _, Some(false)) | (false, true, None) => TransactionOutcome::Aborted,
            (false, false, None) => TransactionOutcome::Running,
        }
    }
}

/// Recent transaction instances rebuilt from the trace (see the module doc).
#[derive(Clone, Debug, Default)]
pub struct TransactionTimelines {
    instances: BTreeMap<(bool, TxnId), Instance>,
    /// Keys in the order instances started, oldest first (eviction order).
    order: VecDeque<(bool, TxnId)>,
    forgotten: u64,
}

impl TransactionTimelines {
    pub fn new() -> TransactionTimelines {
        TransactionTimelines::default()
    }

    /// Instances seen but no longer kept.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    fn instance(
        &mut self,
        saga: bool,
        txn: TxnId,
        protocol: &'static str,
        node: NodeId,
        now_us: u64,
    ) -> &mut Instance {
        let key = (saga, txn);
        if !self.instances.contains_key(&key) {
            if self.order.len() >= MAX_INSPECTED_TRANSACTIONS
                && let Some(oldest) = self.order.pop_front()
            {
                self.instances.remove(&oldest);
                self.forgotten += 1;
            }
            self.order.push_back(key);
            self.instances
                .insert(key, Instance::new(saga, protocol, node, now_us));
        }
        let instance = self
            .instances
            .get_mut(&key)
            .expect("inserted just above when missing");
        instance.last_event_us = instance.last_event_us.max(now_us);
        instance
    }

    /// Only instances already known (a late message about a forgotten one
    /// must not bring it back without its start).
    fn known(&mut self, saga: bool, txn: TxnId, now_us: u64) -> Option<&mut Instance> {
        let instance = self.instances.get_mut(&(saga, txn))?;
        instance.last_event_us = instance.last_event_us.max(now_us);
        Some(instance)
    }

    pub fn observe(&mut self, event: &TraceEvent) {
        let now_us = event.time.as_micros();
        match &event.kind {
            TraceKind::Send {
                from,
                to,
                payload: Payload::Txn(message),
                ..
            } => self.observe_send(now_us, *from, *to, message),
            TraceKind::Deliver {
                from,
                payload: Payload::Txn(message),
                duplicate: false,
                ..
            } => self.observe_delivery(now_us, *from, message),
            TraceKind::Fact {
                node,
                fact: Fact::Txn(fact),
            } => self.observe_fact(now_us, *node, fact),
            _ => {}
        }
    }

    fn observe_send(&mut self, now_us: u64, from: NodeId, to: NodeId, message: &TxnMessage) {
        match message {
            TxnMessage::SagaCommand {
                saga,
                step,
                compensate,
                attempt,
                ..
            } => {
                let Some(instance) = self.known(true, *saga, now_us) else {
                    return;
                };
                let kind = SpanKind::SagaStep {
                    step: *step,
                    compensate: *compensate,
                };
                match instance.latest_span(kind, to) {
                    // A retry of the same command extends its span.
                    Some(span) if span.status != TransactionStepStatus::Ok => {
                        span.attempts = span.attempts.max(*attempt);
                        span.ended_us = None;
                        span.status = TransactionStepStatus::Running;
                    }
                    _ => instance.push_span(Span {
                        kind,
                        node: to,
                        started_us: now_us,
                        ended_us: None,
                        status: TransactionStepStatus::Running,
                        attempts: (*attempt).max(1),
                        via: None,
                    }),
                }
            }
            TxnMessage::Prepare { txn, protocol, .. } => {
                let instance = self.instance(false, *txn, protocol.as_str(), from, now_us);
                if instance.open_span(SpanKind::Prepare, to).is_none()
                    && !instance.outcomes.contains_key(&to)
                {
                    instance.push_span(Span {
                        kind: SpanKind::Prepare,
                        node: to,
                        started_us: now_us,
                        ended_us: None,
                        status: TransactionStepStatus::Running,
                        attempts: 1,
                        via: None,
                    });
                }
            }
            TxnMessage::PreCommit { txn } => {
                let Some(instance) = self.known(false, *txn, now_us) else {
                    return;
                };
                if instance.latest_span(SpanKind::PreCommit, to).is_none() {
                    instance.push_span(Span {
                        kind: SpanKind::PreCommit,
                        node: to,
                        started_us: now_us,
                        ended_us: None,
                        status: TransactionStepStatus::Running,
                        attempts: 1,
                        via: None,
                    });
                }
            }
            TxnMessage::Decision { txn, commit, .. } => {
                let Some(instance) = self.known(false, *txn, now_us) else {
                    return;
                };
                let kind = SpanKind::Decision { commit: *commit };
                if instance.latest_span(kind, to).is_none() && !instance.outcomes.contains_key(&to)
                {
                    instance.push_span(Span {
                        kind,
                        node: to,
                        started_us: now_us,
                        ended_us: None,
                        status: TransactionStepStatus::Running,
                        attempts: 1,
                        via: None,
                    });
                }
            }
            _ => {}
        }
    }

    fn observe_delivery(&mut self, now_us: u64, from: NodeId, message: &TxnMessage) {
        let (txn, kind, ok) = match message {
            TxnMessage::Vote { txn, yes } => (*txn, SpanKind::Prepare, *yes),
            TxnMessage::PreCommitAck { txn } => (*txn, SpanKind::PreCommit, true),
            _ => return,
        };
        let Some(instance) = self.known(false, txn, now_us) else {
            return;
        };
        if let Some(span) = instance.open_span(kind, from) {
            span.ended_us = Some(now_us);
            span.status = if ok {
                TransactionStepStatus::Ok
            } else {
                TransactionStepStatus::Failed
            };
        }
    }

    fn observe_fact(&mut self, now_us: u64, node: NodeId, fact: &TxnFact) {
        match fact {
            TxnFact::SagaStarted { saga, .. } => {
                self.instance(true, *saga, "saga", node, now_us);
            }
            TxnFact::SagaStepResult {
                saga,
                step,
                compensate,
                attempt,
                ok,
            } => {
                let Some(instance) = self.known(true, *saga, now_us) else {
                    return;
                };
                let kind = SpanKind::SagaStep {
                    step: *step,
                    compensate: *compensate,
                };
                // The span is on the step service the command went to.
                if let Some(span) = instance
                    .spans
                    .iter_mut()
                    .rev()
                    .find(|span| span.kind == kind && span.ended_us.is_none())
                {
                    span.ended_us = Some(now_us);
                    span.attempts = span.attempts.max(*attempt);
                    span.status = if *ok {
                        TransactionStepStatus::Ok
                    } else {
                        TransactionStepStatus::Failed
                    };
                }
            }
            TxnFact::SagaStepApplied {
                saga,
                step,
                compensate,
                applied,
                duplicate,
            } => {
                let Some(instance) = self.known(true, *saga, now_us) else {
                    return;
                };
                if *duplicate {
                    return;
                }
                let kind = SpanKind::SagaStep {
                    step: *step,
                    compensate: *compensate,
                };
                let status = if *applied {
                    TransactionStepStatus::Ok
                } else {
                    TransactionStepStatus::Failed
                };
                // Orchestrated: the command opened the span and the
                // orchestrator's result closes it. Choreographed: no command,
                // the step runs from the previous step's end to this fact.
                if instance.latest_span(kind, node).is_none() {
                    let started_us = instance.cursor_us();
                    instance.push_span(Span {
                        kind,
                        node,
                        started_us,
                        ended_us: Some(now_us),
                        status,
                        attempts: 1,
                        via: None,
                    });
                }
            }
            TxnFact::SagaEnded { saga, outcome } => {
                if let Some(instance) = self.known(true, *saga, now_us) {
                    instance.ended_us = Some(now_us);
                    instance.saga_outcome = Some(match outcome {
                        SagaOutcome::Completed => TransactionOutcome::Completed,
                        SagaOutcome::Compensated => TransactionOutcome::Compensated,
                    });
                }
            }
            TxnFact::SagaStuck { saga, reason } => {
                if let Some(instance) = self.known(true, *saga, now_us) {
                    instance.saga_outcome = Some(TransactionOutcome::Stuck);
                    instance.detail = reason.clone();
                }
            }
            TxnFact::Decided {
                txn,
                protocol,
                commit,
                reason,
            } => {
                let instance = self.instance(false, *txn, protocol.as_str(), node, now_us);
                instance.decided = Some(*commit);
                instance.detail = reason.clone();
            }
            TxnFact::InDoubt { txn, .. } => {
                let Some(instance) = self.known(false, *txn, now_us) else {
                    return;
                };
                if !instance.outcomes.contains_key(&node) {
                    instance.in_doubt.insert(node, now_us);
                    instance.push_span(Span {
                        kind: SpanKind::InDoubt,
                        node,
                        started_us: now_us,
                        ended_us: None,
                        status: TransactionStepStatus::Blocked,
                        attempts: 1,
                        via: None,
                    });
                }
            }
            TxnFact::Outcome {
                txn,
                protocol,
                committed,
                via,
                ..
            } => {
                let instance = self.instance(false, *txn, protocol.as_str(), node, now_us);
                instance.outcomes.insert(node, *committed);
                instance.in_doubt.remove(&node);
                for span in instance.spans.iter_mut().filter(|span| {
                    span.node == node && span.ended_us.is_none() && span.kind != SpanKind::Prepare
                }) {
                    span.ended_us = Some(now_us);
                    if span.kind == SpanKind::InDoubt {
                        continue;
                    }
                    span.status = TransactionStepStatus::Ok;
                    span.via = Some(via.clone());
                }
                // An outcome learned without a decision message (termination,
                // timeout, expiry, unilateral abort) is a span of its own.
                let kind = SpanKind::Decision { commit: *committed };
                if instance.latest_span(kind, node).is_none() && via != "coordinator" {
                    instance.push_span(Span {
                        kind,
                        node,
                        started_us: now_us,
                        ended_us: Some(now_us),
                        status: TransactionStepStatus::Ok,
                        attempts: 1,
                        via: Some(via.clone()),
                    });
                }
                if instance.in_doubt.is_empty() {
                    instance.ended_us = Some(now_us);
                }
            }
            _ => {}
        }
    }

    /// The kept instances, oldest first, with node names.
    pub fn rows(&self, node_names: &[String]) -> Vec<TransactionRow> {
        let name = |node: NodeId| {
            node_names
                .get(node.index())
                .cloned()
                .unwrap_or_else(|| format!("n{}", node.0))
        };
        self.order
            .iter()
            .filter_map(|key| {
                let instance = self.instances.get(key)?;
                let outcome = instance.outcome();
                Some(TransactionRow {
                    id: key.1.to_string(),
                    protocol: instance.protocol.to_string(),
                    node: name(instance.node),
                    started_us: instance.started_us,
                    ended_us: match outcome {
                        TransactionOutcome::Running
                        | TransactionOutcome::Blocked
                        | TransactionOutcome::Stuck => None,
                        _ => instance.ended_us,
                    },
                    last_event_us: instance.last_event_us,
                    outcome,
                    detail: instance.detail.clone(),
                    steps: instance
                        .spans
                        .iter()
                        .map(|span| TransactionStepRow {
                            label: span_label(span),
                            node: name(span.node),
                            started_us: span.started_us,
                            ended_us: span.ended_us,
                            status: span.status,
                            attempts: span.attempts,
                        })
                        .collect(),
                    steps_dropped: instance.spans_dropped,
                })
            })
            .collect()
    }
}

fn span_label(span: &Span) -> String {
    let base = match span.kind {
        SpanKind::SagaStep {
            step,
            compensate: false,
        } => format!("step {step}"),
        SpanKind::SagaStep {
            step,
            compensate: true,
        } => format!("compensate {step}"),
        SpanKind::Prepare => "prepare".to_string(),
        SpanKind::PreCommit => "pre-commit".to_string(),
        SpanKind::Decision { commit: true } => "commit".to_string(),
        SpanKind::Decision { commit: false } => "abort".to_string(),
        SpanKind::InDoubt => "in doubt".to_string(),
    };
    match &span.via {
        Some(via) if via != "coordinator" => format!("{base} ({via})"),
        _ => base,
    }
}
