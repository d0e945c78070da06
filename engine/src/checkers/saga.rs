//! Saga properties, from the orchestrator's and the services' `TxnFact`s.
//!
//! - `saga_eventually_terminates` (Eventually): every saga that started
//!   completed or was fully compensated by the end of the run; a stuck saga
//!   is named with the moment it started and, if it was given up, why.
//! - `compensation_in_reverse_order` (Always): a compensation only undoes an
//!   action that was applied, and only once no later step is still applied.
//! - `no_partial_outcome_after_termination` (Always): when a saga ends
//!   completed, every step's action is applied exactly once and nothing is
//!   compensated; when it ends compensated, every applied action was undone
//!   exactly once; and nothing is applied to it after it ended.
//!
//! Memory: at most `MAX_TXN_TRACKED` sagas, oldest forgotten first.

use super::txn::BoundedMap;
use super::{Checker, Property, Violation};
use crate::components::txn_protocol::{SagaOutcome, TxnFact, TxnId};
use crate::message::NodeId;
use crate::time::SimTime;
use crate::trace::{Fact, TraceEvent, TraceKind};
use std::collections::BTreeMap;

fn saga_fact(event: &TraceEvent) -> Option<(NodeId, &TxnFact)> {
    match &event.kind {
        TraceKind::Fact {
            node,
            fact: Fact::Txn(fact),
        } => Some((*node, fact)),
        _ => None,
    }
}

/// What the services applied for one saga, per step.
#[derive(Clone, Default)]
struct Applied {
    steps: u32,
    actions: BTreeMap<u32, u32>,
    compensations: BTreeMap<u32, u32>,
    ended: Option<SagaOutcome>,
}

fn applied_from(
    sagas: &mut BoundedMap<TxnId, Applied>,
    fact: &TxnFact,
) -> Option<(TxnId, Applied, u32, bool)> {
    match fact {
        TxnFact::SagaStarted { saga, steps } => {
            sagas.entry_or_insert_with(*saga, Applied::default).steps = *steps;
            None
        }
        TxnFact::SagaStepApplied {
            saga,
            step,
            compensate,
            applied: true,
            ..
        } => {
            let record = sagas.entry_or_insert_with(*saga, Applied::default);
            let before = record.clone();
            let counter = if *compensate {
                &mut record.compensations
            } else {
                &mut record.actions
            };
            *counter.entry(*step).or_default() += 1;
            Some((*saga, before, *step, *compensate))
        }
        _ => None,
    }
}

// ---- saga_eventually_terminates ------------------------------------------

/// An open saga: when it started (time, trace seq), and why it was given up (if it was).
type OpenSaga = (SimTime, u64, Option<String>);

#[derive(Clone, Default)]
pub struct SagaEventuallyTerminates {
    open: BoundedMap<TxnId, OpenSaga>,
}

impl SagaEventuallyTerminates {
    pub const NAME: &'static str = "saga_eventually_terminates";
}

impl Checker for SagaEventuallyTerminates {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn property(&self) -> Property {
        Property::Eventually
    }

    fn description(&self) -> &'static str {
        "every saga that started ends completed or fully compensated (none is stuck)"
    }

    fn observe(&mut self, event: &TraceEvent, _violations: &mut Vec<Violation>) {
        let Some((_, fact)) = saga_fact(event) else {
            return;
        };
        match fact {
            TxnFact::SagaStarted { saga, .. } => {
                self.open
                    .entry_or_insert_with(*saga, || (event.time, event.seq, None));
            }
            TxnFact::SagaEnded { saga, .. } => {
                self.open.remove(saga);
            }
            TxnFact::SagaStuck { saga, reason } => {
                if let Some(open) = self.open.get_mut(saga) {
                    open.2 = Some(reason.clone());
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: SimTime, violations: &mut Vec<Violation>) {
        let mut stuck: Vec<(&TxnId, &OpenSaga)> = self.open.iter().collect();
        stuck.sort_by_key(|(_, (time, seq, _))| (*time, *seq));
        for (saga, (started, seq, reason)) in stuck {
            violations.push(Violation {
                time: end,
                event_seq: Some(*seq),
                detail: format!(
                    "{saga} started at {started} and never completed or was compensated{}",
                    reason
                        .as_ref()
                        .map(|reason| format!(" (given up: {reason})"))
                        .unwrap_or_else(|| " (it was forgotten or is still waiting)".to_string())
                ),
                messages: Vec::new(),
                nodes: Vec::new(),
            });
        }
    }
}

// ---- compensation_in_reverse_order ----------------------------------------

#[derive(Clone, Default)]
pub struct CompensationInReverseOrder {
    sagas: BoundedMap<TxnId, Applied>,
}

impl CompensationInReverseOrder {
    pub const NAME: &'static str = "compensation_in_reverse_order";
}

impl Checker for CompensationInReverseOrder {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn property(&self) -> Property {
        Property::Always
    }

    fn description(&self) -> &'static str {
        "a compensation undoes an applied action, after every later step was undone (reverse order)"
    }

    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let Some((node, fact)) = saga_fact(event) else {
            return;
        };
        let Some((saga, before, step, true)) = applied_from(&mut self.sagas, fact) else {
            return;
        };
        let applied = before.actions.get(&step).copied().unwrap_or(0);
        let undone = before.compensations.get(&step).copied().unwrap_or(0);
        let detail = if applied == 0 {
            Some(format!(
                "{saga}: step {step} was compensated but its action never applied (a compensation without its action)"
            ))
        } else if let Some(later) = before.actions.iter().find_map(|(later, count)| {
            (*later > step && *count > before.compensations.get(later).copied().unwrap_or(0))
                .then_some(*later)
        }) {
            Some(format!(
                "{saga}: step {step} was compensated while step {later} is still applied (not reverse order)"
            ))
        } else if undone >= applied {
            Some(format!(
                "{saga}: step {step} was compensated {} times for {applied} application(s)",
                undone + 1
            ))
        } else {
            None
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

    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

// ---- no_partial_outcome_after_termination ---------------------------------

#[derive(Clone, Default)]
pub struct NoPartialOutcomeAfterTermination {
    sagas: BoundedMap<TxnId, Applied>,
}

impl NoPartialOutcomeAfterTermination {
    pub const NAME: &'static str = "no_partial_outcome_after_termination";
}

impl Checker for NoPartialOutcomeAfterTermination {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn property(&self) -> Property {
        Property::Always
    }

    fn description(&self) -> &'static str {
        "an ended saga left all its actions applied once (completed) or every applied action undone once (compensated), and nothing changes after it ended"
    }

    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let Some((node, fact)) = saga_fact(event) else {
            return;
        };
        let mut report = |detail: String| {
            violations.push(Violation {
                time: event.time,
                event_seq: Some(event.seq),
                detail,
                messages: Vec::new(),
                nodes: vec![node],
            });
        };
        if let Some((saga, before, step, compensate)) = applied_from(&mut self.sagas, fact) {
            if let Some(outcome) = before.ended {
                report(format!(
                    "{saga}: step {step}'s {} applied after the saga ended {}",
                    if compensate { "compensation" } else { "action" },
                    match outcome {
                        SagaOutcome::Completed => "completed",
                        SagaOutcome::Compensated => "compensated",
                    }
                ));
            } else if !compensate && before.actions.get(&step).copied().unwrap_or(0) >= 1 {
                report(format!(
                    "{saga}: step {step}'s action applied twice (a retry without idempotency)"
                ));
            }
            return;
        }
        let TxnFact::SagaEnded { saga, outcome } = fact else {
            return;
        };
        let record = self.sagas.entry_or_insert_with(*saga, Applied::default);
        record.ended = Some(*outcome);
        let record = record.clone();
        let problem = match outcome {
            SagaOutcome::Completed => (0..record.steps).find_map(|step| {
                let actions = record.actions.get(&step).copied().unwrap_or(0);
                let undone = record.compensations.get(&step).copied().unwrap_or(0);
                (actions != 1 || undone != 0).then(|| {
                    format!(
                        "{saga} ended completed but step {step} has {actions} action(s) and {undone} compensation(s) applied"
                    )
                })
            }),
            SagaOutcome::Compensated => record.actions.iter().find_map(|(step, actions)| {
                let undone = record.compensations.get(step).copied().unwrap_or(0);
                (undone != *actions).then(|| {
                    format!(
                        "{saga} ended compensated but step {step} has {actions} action(s) applied and {undone} compensation(s): partial outcome"
                    )
                })
            }),
        };
        if let Some(detail) = problem {
            report(detail);
        }
    }

    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// The saga checkers, registered when the scenario has saga components.
pub fn saga_checkers() -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(SagaEventuallyTerminates::default()),
        Box::new(CompensationInReverseOrder::default()),
        Box::new(NoPartialOutcomeAfterTermination::default()),
    ]
}
