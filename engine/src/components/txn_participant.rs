//! A resource manager in atomic commitment: one participant state machine for 2PC, 3PC and TCC.
//!
//! The three protocols share the participant's core: a transaction is
//! prepared (2PC), uncertain (3PC) or reserved (TCC) after a yes vote, holds
//! a lock on its key while it is, and ends committed/confirmed or
//! aborted/cancelled. What differs is only what the participant may do on its
//! own when the coordinator falls silent:
//! - **2PC** — nothing. It is in doubt, asks the coordinator every
//!   `query_interval_ms` and keeps its lock until an answer arrives (T1).
//! - **3PC** — the termination protocol (Skeen 1981): ask the other
//!   participants; any committed → commit, any aborted → abort, any
//!   pre-committed → pre-commit the uncertain ones, then commit; all
//!   uncertain → abort. With only crashes that decides consistently; a
//!   partition lets each side decide alone (T3).
//! - **TCC** — reservations may expire; guards against the empty rollback,
//!   hanging tries and repeated confirms/cancels can be switched off to show
//!   each hazard.
//!
//! What survives a crash: the prepare log (prepared records, the decisions
//! remembered, the cancel markers) if and only if `durable_log`, and the
//! resource counters (the database itself) always. Locks are rebuilt from
//! the prepare log on restart, as a database's recovery does.

use super::txn_protocol::{
    CommitProtocol, ParticipantTxnState, TccAction, TxnFact, TxnId, TxnMessage,
};
use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::limits::MAX_TXN_REMEMBERED_DECISIONS;
use crate::scenario::txn::TxnParticipantSpec;
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const TIMER_PREPARE_DONE: u32 = 1;
const TIMER_DECISION: u32 = 2;
const TIMER_TERMINATION: u32 = 3;
const TIMER_RESERVATION: u32 = 4;

/// A transaction this participant voted yes for (its prepare log record).
#[derive(Clone, Debug)]
struct Prepared {
    coordinator: NodeId,
    protocol: CommitProtocol,
    key: u64,
    units: u64,
    /// The other participants (3PC termination asks them).
    peers: Vec<NodeId>,
    state: ParticipantTxnState,
    prepared_at: SimTime,
    /// The latest decision timer; earlier ones that fire are stale.
    decision_deadline: SimTime,
    in_doubt: bool,
    /// Read back from the log after a restart: a recovering 3PC site must not
    /// decide on its own, so it waits until at least one peer answers.
    recovered: bool,
}

/// A decision this participant applied (or a TCC cancel marker).
#[derive(Clone, Copy, Debug)]
struct Remembered {
    commit: bool,
    units: u64,
}

/// A prepare whose work (and log force) is in progress.
#[derive(Clone, Debug)]
struct PendingPrepare {
    txn: TxnId,
    coordinator: NodeId,
    protocol: CommitProtocol,
    key: u64,
    units: u64,
    peers: Vec<NodeId>,
}

/// A 3PC termination this participant runs as backup coordinator.
#[derive(Clone, Debug)]
enum Termination {
    Collecting {
        replies: BTreeMap<NodeId, ParticipantTxnState>,
    },
    PreCommitting {
        waiting: BTreeSet<NodeId>,
    },
}

#[derive(Clone)]
pub struct TxnParticipant {
    spec: TxnParticipantSpec,
    // Prepare log: survives a crash only with `durable_log`.
    prepared: BTreeMap<TxnId, Prepared>,
    remembered: BTreeMap<TxnId, Remembered>,
    remembered_order: VecDeque<TxnId>,
    // The resource (TCC): the database itself, always durable.
    available_units: i64,
    reserved_units: i64,
    // Volatile.
    locks: BTreeMap<u64, TxnId>,
    pending: BTreeMap<u64, PendingPrepare>,
    timer_txns: BTreeMap<u64, TxnId>,
    next_timer_key: u64,
    terminations: BTreeMap<TxnId, Termination>,
    // Statistics for the report.
    committed: u64,
    aborted: u64,
    voted_no: u64,
    lock_conflicts: u64,
    in_doubt_total: u64,
    max_prepared_ms: f64,
    max_locks_held: u64,
}

impl TxnParticipant {
    pub fn new(spec: &TxnParticipantSpec) -> TxnParticipant {
        TxnParticipant {
            spec: spec.clone(),
            prepared: BTreeMap::new(),
            remembered: BTreeMap::new(),
            remembered_order: VecDeque::new(),
            available_units: spec.initial_units as i64,
            reserved_units: 0,
            locks: BTreeMap::new(),
            pending: BTreeMap::new(),
            timer_txns: BTreeMap::new(),
            next_timer_key: 0,
            terminations: BTreeMap::new(),
            committed: 0,
            aborted: 0,
            voted_no: 0,
            lock_conflicts: 0,
            in_doubt_total: 0,
            max_prepared_ms: 0.0,
            max_locks_held: 0,
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

    fn remember(&mut self, txn: TxnId, commit: bool, units: u64) {
        if self
            .remembered
            .insert(txn, Remembered { commit, units })
            .is_none()
        {
            self.remembered_order.push_back(txn);
            if self.remembered_order.len() > MAX_TXN_REMEMBERED_DECISIONS
                && let Some(oldest) = self.remembered_order.pop_front()
            {
                self.remembered.remove(&oldest);
            }
        }
    }

    fn state_of(&self, txn: TxnId) -> ParticipantTxnState {
        if let Some(record) = self.prepared.get(&txn) {
            record.state
        } else {
            match self.remembered.get(&txn) {
                Some(Remembered { commit: true, .. }) => ParticipantTxnState::Committed,
                Some(Remembered { commit: false, .. }) => ParticipantTxnState::Aborted,
                None => ParticipantTxnState::Unknown,
            }
        }
    }

    fn tcc_fact(
        &self,
        ctx: &mut Context<'_>,
        txn: TxnId,
        action: TccAction,
        units: u64,
        had_reservation: bool,
    ) {
        ctx.fact(Fact::Txn(TxnFact::TccApplied {
            txn,
            action,
            units,
            had_reservation,
            available: self.available_units,
            reserved: self.reserved_units,
        }));
    }

    /// The prepare work is done: vote.
    fn finish_prepare(&mut self, ctx: &mut Context<'_>, pending: PendingPrepare) {
        let txn = pending.txn;
        let vote = |ctx: &mut Context<'_>, yes: bool| {
            ctx.send(
                pending.coordinator,
                Payload::Txn(TxnMessage::Vote { txn, yes }),
                64,
            );
        };
        if self.prepared.contains_key(&txn) {
            vote(ctx, true);
            return;
        }
        let tcc = pending.protocol == CommitProtocol::Tcc;
        if let Some(remembered) = self.remembered.get(&txn).copied() {
            // Already decided (an abort or cancel overtook the prepare).
            // Only an unguarded TCC try goes ahead anyway: the hanging hazard.
            if !(tcc && !remembered.commit && !self.spec.guard_hanging) {
                if tcc && !remembered.commit {
                    ctx.state(format!(
                        "{txn}: try refused, it was already cancelled (hanging guard)"
                    ));
                }
                vote(ctx, remembered.commit);
                return;
            }
            ctx.state(format!(
                "{txn}: try runs after its cancel (no hanging guard): nothing will release it"
            ));
        }
        let conflict = self
            .locks
            .get(&pending.key)
            .filter(|holder| **holder != txn);
        let refuse_reason = if let Some(holder) = conflict {
            self.lock_conflicts += 1;
            Some(format!("key {} locked by {holder}", pending.key))
        } else if tcc && self.available_units < pending.units as i64 {
            Some(format!(
                "{} units wanted, {} available",
                pending.units, self.available_units
            ))
        } else if ctx.rng().chance(self.spec.vote_no_probability) {
            Some("voted no".to_string())
        } else {
            None
        };
        if let Some(reason) = refuse_reason {
            // Voting no is a unilateral abort: allowed before a yes vote.
            self.voted_no += 1;
            self.aborted += 1;
            self.remember(txn, false, pending.units);
            ctx.state(format!("{txn}: votes no ({reason})"));
            ctx.fact(Fact::Txn(TxnFact::Outcome {
                txn,
                protocol: pending.protocol,
                committed: false,
                via: "voted_no".to_string(),
                prepared_ms: 0,
                locks_held: self.locks.len() as u64,
            }));
            ctx.error("voted_no");
            vote(ctx, false);
            return;
        }
        self.locks.insert(pending.key, txn);
        self.max_locks_held = self.max_locks_held.max(self.locks.len() as u64);
        if tcc {
            self.available_units -= pending.units as i64;
            self.reserved_units += pending.units as i64;
            self.tcc_fact(ctx, txn, TccAction::Try, pending.units, true);
            if let Some(timeout_ms) = self.spec.reservation_timeout_ms {
                self.timer(ctx, TIMER_RESERVATION, timeout_ms, txn);
            }
        }
        self.prepared.insert(
            txn,
            Prepared {
                coordinator: pending.coordinator,
                protocol: pending.protocol,
                key: pending.key,
                units: pending.units,
                peers: pending.peers.clone(),
                state: ParticipantTxnState::Prepared,
                prepared_at: ctx.now(),
                decision_deadline: SimTime::ZERO,
                in_doubt: false,
                recovered: false,
            },
        );
        ctx.fact(Fact::Txn(TxnFact::Prepared {
            txn,
            key: pending.key,
            locks_held: self.locks.len() as u64,
        }));
        vote(ctx, true);
        self.arm_decision_timer(ctx, txn, self.spec.decision_timeout_ms);
    }

    fn arm_decision_timer(&mut self, ctx: &mut Context<'_>, txn: TxnId, after_ms: u64) {
        if let Some(record) = self.prepared.get_mut(&txn) {
            record.decision_deadline = ctx.now().plus(SimDuration::from_millis(after_ms));
            self.timer(ctx, TIMER_DECISION, after_ms, txn);
        }
    }

    /// Applies the outcome of a prepared transaction and releases its lock.
    fn finish(&mut self, ctx: &mut Context<'_>, txn: TxnId, commit: bool, via: &str) {
        let Some(record) = self.prepared.remove(&txn) else {
            return;
        };
        self.terminations.remove(&txn);
        if self.locks.get(&record.key) == Some(&txn) {
            self.locks.remove(&record.key);
        }
        if record.protocol == CommitProtocol::Tcc {
            self.reserved_units -= record.units as i64;
            if !commit {
                self.available_units += record.units as i64;
            }
            let action = match (commit, via) {
                (true, _) => TccAction::Confirm,
                (false, "expired") => TccAction::Expire,
                (false, _) => TccAction::Cancel,
            };
            self.tcc_fact(ctx, txn, action, record.units, true);
        }
        self.remember(txn, commit, record.units);
        let prepared_ms = ctx.now().since(record.prepared_at).as_millis_f64();
        self.max_prepared_ms = self.max_prepared_ms.max(prepared_ms);
        if commit {
            self.committed += 1;
            ctx.completed(ctx.now().since(record.prepared_at));
        } else {
            self.aborted += 1;
        }
        ctx.fact(Fact::Txn(TxnFact::Outcome {
            txn,
            protocol: record.protocol,
            committed: commit,
            via: via.to_string(),
            prepared_ms: prepared_ms as u64,
            locks_held: self.locks.len() as u64,
        }));
        if record.in_doubt {
            ctx.state(format!(
                "{txn}: {} after {:.0} ms prepared (via {via}); lock on key {} released",
                if commit { "committed" } else { "aborted" },
                prepared_ms,
                record.key
            ));
        }
    }

    fn on_decision(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        txn: TxnId,
        protocol: CommitProtocol,
        commit: bool,
        units: u64,
    ) {
        if let Some(record) = self.prepared.get(&txn) {
            let via = if from == record.coordinator {
                "coordinator"
            } else {
                "termination"
            };
            self.finish(ctx, txn, commit, via);
        } else if let Some(remembered) = self.remembered.get(&txn).copied() {
            // A repeat (a retry whose ack was lost, or a duplicated message).
            let tcc = protocol == CommitProtocol::Tcc;
            if tcc && !self.spec.idempotent_decisions && remembered.units > 0 {
                self.reserved_units -= units as i64;
                let action = if commit {
                    TccAction::Confirm
                } else {
                    self.available_units += units as i64;
                    TccAction::Cancel
                };
                ctx.state(format!(
                    "{txn}: {} applied again (not idempotent)",
                    action.as_str()
                ));
                self.tcc_fact(ctx, txn, action, units, false);
            }
        } else if commit {
            // A commit for a transaction this participant has no record of:
            // it voted yes and then lost its prepare log in a crash.
            self.aborted += 1;
            self.remember(txn, false, units);
            ctx.state(format!(
                "{txn}: commit for a transaction it no longer knows (prepare log lost in a crash)"
            ));
            ctx.fact(Fact::Txn(TxnFact::Outcome {
                txn,
                protocol,
                committed: false,
                via: "lost_in_crash".to_string(),
                prepared_ms: 0,
                locks_held: self.locks.len() as u64,
            }));
        } else if protocol == CommitProtocol::Tcc {
            // Cancel before (or without) the try: the empty rollback.
            if self.spec.guard_empty_rollback {
                ctx.state(format!(
                    "{txn}: cancel without a try: marker recorded, nothing released"
                ));
                self.tcc_fact(ctx, txn, TccAction::Cancel, 0, false);
            } else {
                self.available_units += units as i64;
                self.reserved_units -= units as i64;
                ctx.state(format!(
                    "{txn}: cancel without a try released {units} units never reserved (no empty-rollback guard)"
                ));
                self.tcc_fact(ctx, txn, TccAction::Cancel, units, false);
            }
            if self.spec.guard_empty_rollback || self.spec.guard_hanging {
                // The marker a later try is checked against (units 0: nothing to undo).
                self.remember(txn, false, 0);
            }
        } else {
            // Abort of a transaction never prepared here: a late prepare must vote no.
            self.remember(txn, false, 0);
        }
        ctx.send(from, Payload::Txn(TxnMessage::DecisionAck { txn }), 64);
    }

    /// 3PC termination: decide from what the peers said (and our own state).
    fn terminate(&mut self, ctx: &mut Context<'_>, txn: TxnId) {
        let Some(record) = self.prepared.get(&txn).cloned() else {
            self.terminations.remove(&txn);
            return;
        };
        let Some(Termination::Collecting { replies }) = self.terminations.get(&txn).cloned() else {
            return;
        };
        if replies.is_empty() && record.recovered {
            // A recovering site never decides alone: ask again.
            for peer in &record.peers {
                ctx.send(*peer, Payload::Txn(TxnMessage::StateQuery { txn }), 64);
            }
            self.timer(ctx, TIMER_TERMINATION, self.spec.query_interval_ms, txn);
            return;
        }
        let states: Vec<ParticipantTxnState> = replies
            .values()
            .copied()
            .chain(std::iter::once(record.state))
            .collect();
        let has = |state| states.contains(&state);
        let decision = if has(ParticipantTxnState::Committed) {
            Some(true)
        } else if has(ParticipantTxnState::Aborted) {
            Some(false)
        } else if has(ParticipantTxnState::PreCommitted) {
            None
        } else {
            Some(false)
        };
        let answered = replies.len();
        match decision {
            Some(commit) => {
                ctx.state(format!(
                    "{txn}: termination with {answered} of {} peers answering decides {}",
                    record.peers.len(),
                    if commit { "commit" } else { "abort" }
                ));
                self.broadcast_decision(ctx, &record, txn, commit);
                self.finish(ctx, txn, commit, "termination");
            }
            None => {
                // Someone is pre-committed: move the uncertain ones to
                // pre-committed first, so nobody can still decide abort.
                if let Some(own) = self.prepared.get_mut(&txn) {
                    own.state = ParticipantTxnState::PreCommitted;
                }
                let waiting: BTreeSet<NodeId> = replies
                    .iter()
                    .filter(|(_, state)| **state == ParticipantTxnState::Prepared)
                    .map(|(peer, _)| *peer)
                    .collect();
                if waiting.is_empty() {
                    self.broadcast_decision(ctx, &record, txn, true);
                    self.finish(ctx, txn, true, "termination");
                    return;
                }
                for peer in &waiting {
                    ctx.send(*peer, Payload::Txn(TxnMessage::PreCommit { txn }), 64);
                }
                self.terminations
                    .insert(txn, Termination::PreCommitting { waiting });
                self.timer(ctx, TIMER_TERMINATION, self.spec.query_interval_ms, txn);
            }
        }
    }

    fn broadcast_decision(
        &mut self,
        ctx: &mut Context<'_>,
        record: &Prepared,
        txn: TxnId,
        commit: bool,
    ) {
        for peer in &record.peers {
            ctx.send(
                *peer,
                Payload::Txn(TxnMessage::Decision {
                    txn,
                    protocol: record.protocol,
                    commit,
                    units: record.units,
                }),
                64,
            );
        }
    }

    fn start_termination(&mut self, ctx: &mut Context<'_>, txn: TxnId) {
        let Some(record) = self.prepared.get(&txn) else {
            return;
        };
        let peers = record.peers.clone();
        self.terminations.insert(
            txn,
            Termination::Collecting {
                replies: BTreeMap::new(),
            },
        );
        for peer in &peers {
            ctx.send(*peer, Payload::Txn(TxnMessage::StateQuery { txn }), 64);
        }
        self.timer(ctx, TIMER_TERMINATION, self.spec.query_interval_ms, txn);
    }

    /// The decision timer fired (or the participant restarted) for a prepared transaction.
    fn in_doubt(&mut self, ctx: &mut Context<'_>, txn: TxnId) {
        let Some(record) = self.prepared.get_mut(&txn) else {
            return;
        };
        if !record.in_doubt {
            record.in_doubt = true;
            self.in_doubt_total += 1;
            let key = record.key;
            ctx.fact(Fact::Txn(TxnFact::InDoubt { txn, key }));
            ctx.state(format!(
                "{txn}: in doubt, holding the lock on key {key} ({} locks held)",
                self.locks.len()
            ));
        }
        let record = self.prepared[&txn].clone();
        match record.protocol {
            CommitProtocol::ThreePhase => {
                if !self.terminations.contains_key(&txn) {
                    self.start_termination(ctx, txn);
                }
            }
            CommitProtocol::TwoPhase | CommitProtocol::Tcc => {
                // Blocked: only the coordinator knows. Ask, and ask again.
                ctx.send(
                    record.coordinator,
                    Payload::Txn(TxnMessage::DecisionQuery { txn }),
                    64,
                );
                self.arm_decision_timer(ctx, txn, self.spec.query_interval_ms);
            }
        }
    }
}

impl Component for TxnParticipant {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        // After a restart the prepare log (if durable) is read back: locks
        // are taken again and every prepared transaction asks at once.
        let recovered: Vec<TxnId> = self.prepared.keys().copied().collect();
        for txn in &recovered {
            if let Some(record) = self.prepared.get_mut(txn) {
                record.recovered = true;
                self.locks.insert(record.key, *txn);
            }
        }
        self.max_locks_held = self.max_locks_held.max(self.locks.len() as u64);
        if !recovered.is_empty() {
            ctx.state(format!(
                "recovered {} prepared transactions from the log; asking for their outcome",
                recovered.len()
            ));
        }
        for txn in recovered {
            self.in_doubt(ctx, txn);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let Payload::Txn(message) = &envelope.payload else {
            return;
        };
        let from = envelope.from;
        match message {
            TxnMessage::Prepare {
                txn,
                protocol,
                key,
                units,
                participants,
            } => {
                let pending = PendingPrepare {
                    txn: *txn,
                    coordinator: from,
                    protocol: *protocol,
                    key: *key,
                    units: *units,
                    peers: participants
                        .iter()
                        .copied()
                        .filter(|peer| *peer != ctx.node())
                        .collect(),
                };
                let work = self.spec.prepare_time.sample(ctx.rng());
                let work = ctx.service_time(work);
                let id = self.next_timer_key;
                self.next_timer_key += 1;
                self.pending.insert(id, pending);
                ctx.set_timer(
                    work,
                    TimerTag {
                        kind: TIMER_PREPARE_DONE,
                        id,
                    },
                );
            }
            TxnMessage::Decision {
                txn,
                protocol,
                commit,
                units,
            } => self.on_decision(ctx, from, *txn, *protocol, *commit, *units),
            TxnMessage::PreCommit { txn } => {
                if let Some(record) = self.prepared.get_mut(txn) {
                    record.state = ParticipantTxnState::PreCommitted;
                    ctx.send(
                        from,
                        Payload::Txn(TxnMessage::PreCommitAck { txn: *txn }),
                        64,
                    );
                    if !record.in_doubt {
                        // A fresh timeout from now: the coordinator is alive.
                        self.arm_decision_timer(ctx, *txn, self.spec.decision_timeout_ms);
                    }
                }
            }
            TxnMessage::PreCommitAck { txn } => {
                if let Some(Termination::PreCommitting { waiting }) = self.terminations.get_mut(txn)
                {
                    waiting.remove(&from);
                    if waiting.is_empty()
                        && let Some(record) = self.prepared.get(txn).cloned()
                    {
                        self.broadcast_decision(ctx, &record, *txn, true);
                        self.finish(ctx, *txn, true, "termination");
                    }
                }
            }
            TxnMessage::StateQuery { txn } => {
                let state = self.state_of(*txn);
                ctx.send(
                    from,
                    Payload::Txn(TxnMessage::StateReply { txn: *txn, state }),
                    64,
                );
            }
            TxnMessage::StateReply { txn, state } => {
                let decide = if let Some(Termination::Collecting { replies }) =
                    self.terminations.get_mut(txn)
                {
                    replies.insert(from, *state);
                    let peers = self
                        .prepared
                        .get(txn)
                        .map_or(0, |record| record.peers.len());
                    replies.len() >= peers
                } else {
                    false
                };
                if decide {
                    self.terminate(ctx, *txn);
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        if tag.kind == TIMER_PREPARE_DONE {
            if let Some(pending) = self.pending.remove(&tag.id) {
                self.finish_prepare(ctx, pending);
            }
            return;
        }
        let Some(txn) = self.timer_txns.remove(&tag.id) else {
            return;
        };
        match tag.kind {
            TIMER_DECISION => {
                let current = self
                    .prepared
                    .get(&txn)
                    .is_some_and(|record| ctx.now() >= record.decision_deadline);
                if current {
                    self.in_doubt(ctx, txn);
                }
            }
            TIMER_TERMINATION => match self.terminations.get(&txn) {
                Some(Termination::Collecting { .. }) => self.terminate(ctx, txn),
                Some(Termination::PreCommitting { .. }) => {
                    // Silent peers are taken as failed; they will ask when they recover.
                    if let Some(record) = self.prepared.get(&txn).cloned() {
                        self.broadcast_decision(ctx, &record, txn, true);
                        self.finish(ctx, txn, true, "termination");
                    }
                }
                None => {}
            },
            TIMER_RESERVATION
                if self
                    .prepared
                    .get(&txn)
                    .is_some_and(|record| record.state == ParticipantTxnState::Prepared) =>
            {
                ctx.state(format!("{txn}: reservation expired and released"));
                self.finish(ctx, txn, false, "expired");
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        self.locks.clear();
        self.pending.clear();
        self.timer_txns.clear();
        self.terminations.clear();
        if !self.spec.durable_log {
            let lost = self.prepared.len();
            self.prepared.clear();
            self.remembered.clear();
            self.remembered_order.clear();
            if lost > 0 {
                ctx.state(format!(
                    "crash: prepare log not durable, {lost} prepared transactions forgotten"
                ));
            }
        }
    }

    fn view(&self) -> ComponentView {
        let in_doubt = self
            .prepared
            .values()
            .filter(|record| record.in_doubt)
            .count();
        ComponentView {
            queue_depth: self.pending.len() as u64,
            in_progress: self.locks.len() as u64,
            badge: if in_doubt > 0 {
                format!("locks {} · in doubt {in_doubt}", self.locks.len())
            } else {
                format!("locks {}", self.locks.len())
            },
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("committed", self.committed as f64),
            ("aborted", self.aborted as f64),
            ("voted_no", self.voted_no as f64),
            ("lock_conflicts", self.lock_conflicts as f64),
            ("in_doubt", self.in_doubt_total as f64),
            ("locks_held", self.locks.len() as f64),
            ("max_locks_held", self.max_locks_held as f64),
            ("max_prepared_ms", self.max_prepared_ms),
            ("available_units", self.available_units as f64),
            ("reserved_units", self.reserved_units as f64),
        ]
    }
}
