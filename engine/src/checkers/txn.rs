//! Properties of distributed transactions, from the participants' `Fact::Txn` facts.
//!
//! `atomic_commit` (Always, rows T2/T3): never one participant committed a
//! transaction while another aborted it. TCC hazards (Always):
//! `tcc_no_empty_rollback`, `tcc_no_hanging_try`, `tcc_confirm_cancel_once`.
//! Memory: at most `MAX_TXN_TRACKED` transactions each, oldest forgotten first.

use super::{Checker, Property, Violation};
use crate::components::txn_protocol::{TccAction, TxnFact, TxnId};
use crate::message::NodeId;
use crate::scenario::limits::MAX_TXN_TRACKED;
use crate::trace::{Fact, TraceEvent, TraceKind};
use std::collections::{BTreeMap, VecDeque};

/// A map that forgets its oldest keys beyond `MAX_TXN_TRACKED`.
#[derive(Clone)]
pub(crate) struct BoundedMap<K: Ord + Copy, V> {
    entries: BTreeMap<K, V>,
    order: VecDeque<K>,
}

impl<K: Ord + Copy, V> Default for BoundedMap<K, V> {
    fn default() -> Self {
        BoundedMap {
            entries: BTreeMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<K: Ord + Copy, V> BoundedMap<K, V> {
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key)
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    pub(crate) fn entry_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        if !self.entries.contains_key(&key) {
            self.order.push_back(key);
            if self.order.len() > MAX_TXN_TRACKED
                && let Some(oldest) = self.order.pop_front()
            {
                self.entries.remove(&oldest);
            }
        }
        self.entries.entry(key).or_insert_with(make)
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        self.entries.remove(key)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter()
    }
}

fn name(node_names: &[String], node: NodeId) -> &str {
    node_names
        .get(node.index())
        .map(String::as_str)
        .unwrap_or("?")
}

fn txn_fact(event: &TraceEvent) -> Option<(NodeId, &TxnFact)> {
    match &event.kind {
        TraceKind::Fact {
            node,
            fact: Fact::Txn(fact),
        } => Some((*node, fact)),
        _ => None,
    }
}

// ---- atomic_commit ---------------------------------------------------------

/// Never one participant committed while another aborted the same transaction.
#[derive(Clone)]
pub struct AtomicCommit {
    node_names: Vec<String>,
    /// First outcome seen per transaction: committed?, where, how.
    outcomes: BoundedMap<TxnId, (bool, NodeId, String)>,
    /// Transactions already reported (one violation each).
    reported: BoundedMap<TxnId, ()>,
}

impl AtomicCommit {
    pub const NAME: &'static str = "atomic_commit";

    pub fn new(node_names: Vec<String>) -> AtomicCommit {
        AtomicCommit {
            node_names,
            outcomes: BoundedMap::default(),
            reported: BoundedMap::default(),
        }
    }
}

impl Checker for AtomicCommit {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn property(&self) -> Property {
        Property::Always
    }

    fn description(&self) -> &'static str {
        "atomic commitment: no transaction is committed by one participant and aborted by another"
    }

    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let Some((
            node,
            TxnFact::Outcome {
                txn,
                committed,
                via,
                ..
            },
        )) = txn_fact(event)
        else {
            return;
        };
        let first = self
            .outcomes
            .entry_or_insert_with(*txn, || (*committed, node, via.clone()))
            .clone();
        if first.0 == *committed || self.reported.get(txn).is_some() {
            return;
        }
        self.reported.entry_or_insert_with(*txn, || ());
        let (committer, committer_via, aborter, aborter_via) = if first.0 {
            (first.1, first.2.as_str(), node, via.as_str())
        } else {
            (node, via.as_str(), first.1, first.2.as_str())
        };
        violations.push(Violation {
            time: event.time,
            event_seq: Some(event.seq),
            detail: format!(
                "{txn}: {} committed (learned via {committer_via}) but {} aborted (via {aborter_via})",
                name(&self.node_names, committer),
                name(&self.node_names, aborter)
            ),
            messages: Vec::new(),
            nodes: vec![committer, aborter],
        });
    }

    fn finish(&mut self, _end: crate::time::SimTime, _violations: &mut Vec<Violation>) {}
}

// ---- TCC hazards -------------------------------------------------------------

/// What one TCC participant did for one transaction.
#[derive(Clone, Copy, Default)]
struct TccHistory {
    tried: bool,
    cancelled: bool,
    confirms: u32,
    cancels: u32,
}

/// Which TCC hazard a checker looks for.
#[derive(Clone, Copy, PartialEq)]
enum TccHazard {
    EmptyRollback,
    HangingTry,
    RepeatedDecision,
}

/// One checker per hazard, sharing the bookkeeping.
#[derive(Clone)]
pub struct TccHazardChecker {
    hazard: TccHazard,
    node_names: Vec<String>,
    histories: BoundedMap<(TxnId, NodeId), TccHistory>,
}

impl TccHazardChecker {
    pub const EMPTY_ROLLBACK: &'static str = "tcc_no_empty_rollback";
    pub const HANGING_TRY: &'static str = "tcc_no_hanging_try";
    pub const CONFIRM_CANCEL_ONCE: &'static str = "tcc_confirm_cancel_once";

    fn new(hazard: TccHazard, node_names: Vec<String>) -> TccHazardChecker {
        TccHazardChecker {
            hazard,
            node_names,
            histories: BoundedMap::default(),
        }
    }

    pub fn empty_rollback(node_names: Vec<String>) -> TccHazardChecker {
        Self::new(TccHazard::EmptyRollback, node_names)
    }

    pub fn hanging_try(node_names: Vec<String>) -> TccHazardChecker {
        Self::new(TccHazard::HangingTry, node_names)
    }

    pub fn confirm_cancel_once(node_names: Vec<String>) -> TccHazardChecker {
        Self::new(TccHazard::RepeatedDecision, node_names)
    }
}

impl Checker for TccHazardChecker {
    fn name(&self) -> &'static str {
        match self.hazard {
            TccHazard::EmptyRollback => Self::EMPTY_ROLLBACK,
            TccHazard::HangingTry => Self::HANGING_TRY,
            TccHazard::RepeatedDecision => Self::CONFIRM_CANCEL_ONCE,
        }
    }

    fn property(&self) -> Property {
        Property::Always
    }

    fn description(&self) -> &'static str {
        match self.hazard {
            TccHazard::EmptyRollback => {
                "TCC: a cancel that arrives without its try releases nothing (empty rollback)"
            }
            TccHazard::HangingTry => {
                "TCC: a try that arrives after its cancel reserves nothing (no hanging reservation)"
            }
            TccHazard::RepeatedDecision => {
                "TCC: confirm and cancel take effect at most once per transaction and participant"
            }
        }
    }

    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let Some((
            node,
            TxnFact::TccApplied {
                txn,
                action,
                units,
                had_reservation,
                ..
            },
        )) = txn_fact(event)
        else {
            return;
        };
        let history = self
            .histories
            .entry_or_insert_with((*txn, node), TccHistory::default);
        let before = *history;
        match action {
            TccAction::Try => history.tried = true,
            TccAction::Confirm => history.confirms += 1,
            TccAction::Cancel | TccAction::Expire => {
                history.cancelled = true;
                if *units > 0 {
                    history.cancels += 1;
                }
            }
        }
        let who = name(&self.node_names, node);
        let detail = match (self.hazard, action) {
            (TccHazard::EmptyRollback, TccAction::Cancel) if !before.tried && *units > 0 => {
                Some(format!(
                    "{txn}: {who} cancelled without a try and released {units} units it never reserved (empty rollback)"
                ))
            }
            (TccHazard::HangingTry, TccAction::Try) if before.cancelled => Some(format!(
                "{txn}: {who}'s try reserved {units} units after the transaction was cancelled; nothing will release them (hanging)"
            )),
            // A repeat is a decision applied again without a reservation behind it.
            (TccHazard::RepeatedDecision, TccAction::Confirm)
                if before.confirms >= 1 && !had_reservation =>
            {
                Some(format!(
                    "{txn}: {who} applied confirm a second time ({units} units consumed twice)"
                ))
            }
            (TccHazard::RepeatedDecision, TccAction::Cancel)
                if before.cancels >= 1 && before.tried && !had_reservation && *units > 0 =>
            {
                Some(format!(
                    "{txn}: {who} applied cancel a second time ({units} units released twice)"
                ))
            }
            _ => None,
        };
        if let Some(detail) = detail {
            violations.push(Violation {
                time: event.time,
                event_seq: Some(event.seq),
                detail,
                messages: Vec::new(),
                nodes: vec![node],
            });
        }
    }

    fn finish(&mut self, _end: crate::time::SimTime, _violations: &mut Vec<Violation>) {}
}

/// The transaction checkers, registered when the scenario has a coordinator.
pub fn txn_checkers(node_names: &[String]) -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(AtomicCommit::new(node_names.to_vec())),
        Box::new(TccHazardChecker::empty_rollback(node_names.to_vec())),
        Box::new(TccHazardChecker::hanging_try(node_names.to_vec())),
        Box::new(TccHazardChecker::confirm_cancel_once(node_names.to_vec())),
    ]
}
