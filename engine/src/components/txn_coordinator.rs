//! The coordinator of atomic commitment (2PC, 3PC, TCC): one transaction per client request.
//!
//! 2PC and TCC: prepare (try) every participant; all yes → commit (confirm),
//! any no or a vote timeout → abort (cancel). 3PC adds a pre-commit round
//! between the votes and the commit. The decision is written to the
//! coordinator's log (taking `log_write_latency_ms`) before it is sent, and
//! re-sent until every participant acknowledges it; then the record is
//! forgotten (presumed abort: a query about a transaction the coordinator has
//! no record of is answered with abort).
//!
//! Crash and recovery: the log survives a crash if and only if
//! `durable_log`. A restarted 2PC/TCC coordinator re-sends the decisions it
//! logged and aborts the transactions it had begun but not decided (no
//! participant can have committed them). A restarted 3PC coordinator
//! re-sends logged decisions and leaves undecided transactions to the
//! participants' termination protocol (deciding alone could contradict it).
//! Without a durable log it remembers nothing, and presumed abort then
//! answers "abort" for transactions it had committed: the atomicity
//! violation the `atomic_commit` checker catches (T2).

use super::txn_protocol::{CommitProtocol, TxnFact, TxnId, TxnMessage};
use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::limits::MAX_TXN_DECISION_RESENDS;
use crate::scenario::txn::TxnCoordinatorSpec;
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use std::collections::{BTreeMap, BTreeSet};

const TIMER_VOTES: u32 = 1;
const TIMER_PRE_COMMIT_ACKS: u32 = 2;
const TIMER_LOG_WRITTEN: u32 = 3;
const TIMER_RESEND: u32 = 4;

/// A record of the decision log.
#[derive(Clone, Debug)]
struct LogRecord {
    units: u64,
    /// None: begun, not decided.
    decision: Option<bool>,
    acked: BTreeSet<NodeId>,
    resends: u32,
}

#[derive(Clone, Debug, PartialEq)]
enum Phase {
    Voting,
    PreCommitting,
    /// The decision is being forced to the log.
    Logging {
        commit: bool,
        reason: String,
    },
}

/// A transaction in progress (volatile).
#[derive(Clone, Debug)]
struct Active {
    client: NodeId,
    operation: u64,
    started_at: SimTime,
    phase: Phase,
    answered: BTreeSet<NodeId>,
}

#[derive(Clone)]
pub struct TxnCoordinator {
    spec: TxnCoordinatorSpec,
    participants: Vec<NodeId>,
    log: BTreeMap<TxnId, LogRecord>,
    active: BTreeMap<TxnId, Active>,
    timer_txns: BTreeMap<u64, TxnId>,
    next_timer_key: u64,
    started: u64,
    committed: u64,
    aborted: u64,
    refused: u64,
    vote_timeouts: u64,
    presumed_aborts: u64,
}

impl TxnCoordinator {
    pub fn new(spec: &TxnCoordinatorSpec, node_ids: &BTreeMap<String, NodeId>) -> TxnCoordinator {
        TxnCoordinator {
            spec: spec.clone(),
            participants: spec
                .participants
                .iter()
                .filter_map(|id| node_ids.get(id).copied())
                .collect(),
            log: BTreeMap::new(),
            active: BTreeMap::new(),
            timer_txns: BTreeMap::new(),
            next_timer_key: 0,
            started: 0,
            committed: 0,
            aborted: 0,
            refused: 0,
            vote_timeouts: 0,
            presumed_aborts: 0,
        }
    }

    fn timer(&mut self, ctx: &mut Context<'_>, kind: u32, after_ms: u64, txn: TxnId) {
        let key = self.next_timer_key;
        self.next_timer_key += 1;
        self.timer_txns.insert(key, txn);
        ctx.set_timer(
            SimDuration::from_millis(after_ms),
            TimerTag { kind, id: key },
        );
    }

    fn send_all(&self, ctx: &mut Context<'_>, message: &TxnMessage) {
        for participant in &self.participants {
            ctx.send(*participant, Payload::Txn(message.clone()), 64);
        }
    }

    fn decide(&mut self, ctx: &mut Context<'_>, txn: TxnId, commit: bool, reason: String) {
        let Some(active) = self.active.get_mut(&txn) else {
            return;
        };
        if matches!(active.phase, Phase::Logging { .. }) {
            return;
        }
        if self.spec.log_write_latency_ms == 0 {
            self.decision_logged(ctx, txn, commit, reason);
        } else {
            active.phase = Phase::Logging { commit, reason };
            self.timer(ctx, TIMER_LOG_WRITTEN, self.spec.log_write_latency_ms, txn);
        }
    }

    /// The decision is in the log: send it, answer the client.
    fn decision_logged(&mut self, ctx: &mut Context<'_>, txn: TxnId, commit: bool, reason: String) {
        let Some(record) = self.log.get_mut(&txn) else {
            return;
        };
        record.decision = Some(commit);
        let units = record.units;
        ctx.fact(Fact::Txn(TxnFact::Decided {
            txn,
            protocol: self.spec.protocol,
            commit,
            reason,
        }));
        self.send_all(
            ctx,
            &TxnMessage::Decision {
                txn,
                protocol: self.spec.protocol,
                commit,
                units,
            },
        );
        self.timer(ctx, TIMER_RESEND, self.spec.decision_retry_interval_ms, txn);
        if let Some(active) = self.active.remove(&txn) {
            ctx.send(
                active.client,
                Payload::Response {
                    operation: active.operation,
                    ok: commit,
                },
                64,
            );
            if commit {
                self.committed += 1;
                ctx.completed(ctx.now().since(active.started_at));
            } else {
                self.aborted += 1;
                ctx.error("aborted");
            }
        }
    }

    fn resend(&mut self, ctx: &mut Context<'_>, txn: TxnId) {
        let Some(record) = self.log.get_mut(&txn) else {
            return;
        };
        let Some(commit) = record.decision else {
            return;
        };
        if record.resends >= MAX_TXN_DECISION_RESENDS {
            return;
        }
        record.resends += 1;
        let message = TxnMessage::Decision {
            txn,
            protocol: self.spec.protocol,
            commit,
            units: record.units,
        };
        for participant in &self.participants {
            if !record.acked.contains(participant) {
                ctx.send(*participant, Payload::Txn(message.clone()), 64);
            }
        }
        self.timer(ctx, TIMER_RESEND, self.spec.decision_retry_interval_ms, txn);
    }

    fn on_request(&mut self, ctx: &mut Context<'_>, client: NodeId, operation: u64) {
        let txn = TxnId {
            client: client.0,
            operation,
        };
        if self.active.len() >= self.spec.max_active_transactions as usize
            || self.log.contains_key(&txn)
        {
            self.refused += 1;
            ctx.error("refused");
            ctx.send(
                client,
                Payload::Response {
                    operation,
                    ok: false,
                },
                64,
            );
            return;
        }
        self.started += 1;
        let key = ctx.rng().below(self.spec.key_count.max(1));
        let units = self.spec.units_per_transaction;
        self.log.insert(
            txn,
            LogRecord {
                units,
                decision: None,
                acked: BTreeSet::new(),
                resends: 0,
            },
        );
        self.active.insert(
            txn,
            Active {
                client,
                operation,
                started_at: ctx.now(),
                phase: Phase::Voting,
                answered: BTreeSet::new(),
            },
        );
        let participants = self.participants.clone();
        self.send_all(
            ctx,
            &TxnMessage::Prepare {
                txn,
                protocol: self.spec.protocol,
                key,
                units,
                participants,
            },
        );
        self.timer(ctx, TIMER_VOTES, self.spec.vote_timeout_ms, txn);
    }

    fn on_vote(&mut self, ctx: &mut Context<'_>, from: NodeId, txn: TxnId, yes: bool) {
        let Some(active) = self.active.get_mut(&txn) else {
            return;
        };
        if active.phase != Phase::Voting {
            return;
        }
        if !yes {
            let name = format!("n{} voted no", from.0);
            self.decide(ctx, txn, false, name);
            return;
        }
        active.answered.insert(from);
        if active.answered.len() < self.participants.len() {
            return;
        }
        if self.spec.protocol == CommitProtocol::ThreePhase {
            active.phase = Phase::PreCommitting;
            active.answered.clear();
            self.send_all(ctx, &TxnMessage::PreCommit { txn });
            self.timer(
                ctx,
                TIMER_PRE_COMMIT_ACKS,
                self.spec.pre_commit_ack_timeout_ms,
                txn,
            );
        } else {
            self.decide(ctx, txn, true, "all voted yes".to_string());
        }
    }
}

impl Component for TxnCoordinator {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        if self.log.is_empty() {
            return;
        }
        // Recovery: read the log back.
        let mut resent = 0;
        let mut aborted = 0;
        let mut forgotten = 0;
        let txns: Vec<TxnId> = self.log.keys().copied().collect();
        for txn in txns {
            let decision = self.log[&txn].decision;
            match decision {
                Some(_) => {
                    resent += 1;
                    if let Some(record) = self.log.get_mut(&txn) {
                        record.resends = 0;
                    }
                    self.resend(ctx, txn);
                }
                None if self.spec.protocol == CommitProtocol::ThreePhase => {
                    forgotten += 1;
                    self.log.remove(&txn);
                }
                None => {
                    aborted += 1;
                    let units = self.log[&txn].units;
                    if let Some(record) = self.log.get_mut(&txn) {
                        record.decision = Some(false);
                    }
                    ctx.fact(Fact::Txn(TxnFact::Decided {
                        txn,
                        protocol: self.spec.protocol,
                        commit: false,
                        reason: "undecided at the crash: abort on recovery".to_string(),
                    }));
                    self.aborted += 1;
                    self.send_all(
                        ctx,
                        &TxnMessage::Decision {
                            txn,
                            protocol: self.spec.protocol,
                            commit: false,
                            units,
                        },
                    );
                    self.timer(ctx, TIMER_RESEND, self.spec.decision_retry_interval_ms, txn);
                }
            }
        }
        ctx.state(format!(
            "recovered from the log: re-sending {resent} decisions, aborting {aborted} undecided, leaving {forgotten} to termination"
        ));
        ctx.fact(Fact::Txn(TxnFact::CoordinatorRecovered {
            resent_decisions: resent,
            aborted_undecided: aborted,
            forgotten,
        }));
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let from = envelope.from;
        match &envelope.payload {
            Payload::Request { operation, .. } => self.on_request(ctx, from, *operation),
            Payload::Txn(TxnMessage::Vote { txn, yes }) => self.on_vote(ctx, from, *txn, *yes),
            Payload::Txn(TxnMessage::PreCommitAck { txn }) => {
                let Some(active) = self.active.get_mut(txn) else {
                    return;
                };
                if active.phase != Phase::PreCommitting {
                    return;
                }
                active.answered.insert(from);
                if active.answered.len() == self.participants.len() {
                    self.decide(ctx, *txn, true, "all pre-committed".to_string());
                }
            }
            Payload::Txn(TxnMessage::DecisionAck { txn }) => {
                if let Some(record) = self.log.get_mut(txn) {
                    record.acked.insert(from);
                    if record.decision.is_some()
                        && self
                            .participants
                            .iter()
                            .all(|participant| record.acked.contains(participant))
                    {
                        // Everyone knows: the record can go (presumed abort
                        // needs no memory of finished transactions).
                        self.log.remove(txn);
                    }
                }
            }
            Payload::Txn(TxnMessage::DecisionQuery { txn }) => match self.log.get(txn) {
                Some(record) => {
                    if let Some(commit) = record.decision {
                        ctx.send(
                            from,
                            Payload::Txn(TxnMessage::Decision {
                                txn: *txn,
                                protocol: self.spec.protocol,
                                commit,
                                units: record.units,
                            }),
                            64,
                        );
                    }
                }
                None => {
                    self.presumed_aborts += 1;
                    ctx.fact(Fact::Txn(TxnFact::PresumedAbort {
                        txn: *txn,
                        asked_by: from,
                    }));
                    ctx.send(
                        from,
                        Payload::Txn(TxnMessage::Decision {
                            txn: *txn,
                            protocol: self.spec.protocol,
                            commit: false,
                            units: self.spec.units_per_transaction,
                        }),
                        64,
                    );
                }
            },
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        let Some(txn) = self.timer_txns.remove(&tag.id) else {
            return;
        };
        match tag.kind {
            TIMER_VOTES
                if self
                    .active
                    .get(&txn)
                    .is_some_and(|active| active.phase == Phase::Voting) =>
            {
                self.vote_timeouts += 1;
                self.decide(ctx, txn, false, "vote timeout".to_string());
            }
            TIMER_PRE_COMMIT_ACKS
                if self
                    .active
                    .get(&txn)
                    .is_some_and(|active| active.phase == Phase::PreCommitting) =>
            {
                self.decide(
                    ctx,
                    txn,
                    true,
                    "pre-commit ack timeout: silent participants taken as failed".to_string(),
                );
            }
            TIMER_LOG_WRITTEN => {
                if let Some(Phase::Logging { commit, reason }) =
                    self.active.get(&txn).map(|active| active.phase.clone())
                {
                    self.decision_logged(ctx, txn, commit, reason);
                }
            }
            TIMER_RESEND => self.resend(ctx, txn),
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        let in_progress = self.active.len();
        self.active.clear();
        self.timer_txns.clear();
        if !self.spec.durable_log {
            self.log.clear();
        }
        ctx.state(format!(
            "crash: {in_progress} transactions in progress; decision log {}",
            if self.spec.durable_log {
                "kept (durable)"
            } else {
                "lost (not durable)"
            }
        ));
    }

    fn live_status(&self) -> crate::live::NodeLiveStatus {
        crate::live::NodeLiveStatus {
            in_flight_transactions: Some(u32::try_from(self.active.len()).unwrap_or(u32::MAX)),
            ..crate::live::NodeLiveStatus::default()
        }
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: 0,
            in_progress: self.active.len() as u64,
            badge: format!(
                "{} · {} active · log {}",
                self.spec.protocol.as_str(),
                self.active.len(),
                self.log.len()
            ),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("started", self.started as f64),
            ("committed", self.committed as f64),
            ("aborted", self.aborted as f64),
            ("refused", self.refused as f64),
            ("vote_timeouts", self.vote_timeouts as f64),
            ("presumed_aborts", self.presumed_aborts as f64),
            ("log_records", self.log.len() as f64),
        ]
    }
}
