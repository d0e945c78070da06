//! Outbox and dual-write properties, from `RowCommitted`, `EventConsumed`
//! facts of `outbox_service` and `event_consumer` nodes.
//!
//! - `outbox_no_lost_events` (Eventually): every committed row's event was
//!   applied by the consumer by the end of the run.
//! - `no_phantom_events` (Always): the consumer never applied an event whose
//!   row never committed. Whether a row will still commit is only known at
//!   the end (publish-then-commit is slow, not wrong), so it is reported at
//!   the end, with the moment the phantom event was applied.
//! - `no_duplicate_event_effects` (Always): no event is applied twice (a
//!   redelivery to an idempotent consumer is deduplicated, not applied).
//!
//! Memory: at most `MAX_TXN_TRACKED` events per map, oldest forgotten first.

use super::txn::BoundedMap;
use super::{Checker, Property, Violation};
use crate::components::txn_protocol::{TxnFact, TxnMessage};
use crate::message::{MessageId, NodeId, Payload};
use crate::time::SimTime;
use crate::trace::{Fact, TraceEvent, TraceKind};
use std::collections::BTreeMap;

/// Where one thing happened: time, trace seq, node, and the delivery of the event.
#[derive(Clone, Copy)]
struct Moment {
    time: SimTime,
    seq: u64,
    node: NodeId,
    message: Option<MessageId>,
}

/// The last `OutboxEvent` delivered to each node: the fact that follows is about it.
#[derive(Clone, Default)]
struct Deliveries {
    last: BTreeMap<NodeId, MessageId>,
}

impl Deliveries {
    /// Reads the event: remembers a delivery, or returns an outbox fact.
    fn read<'a>(&mut self, event: &'a TraceEvent) -> Option<(NodeId, &'a TxnFact)> {
        match &event.kind {
            TraceKind::Deliver {
                message,
                to,
                payload: Payload::Txn(TxnMessage::OutboxEvent { .. }),
                ..
            } => {
                self.last.insert(*to, *message);
                None
            }
            TraceKind::Fact {
                node,
                fact: Fact::Txn(fact),
            } => Some((*node, fact)),
            _ => None,
        }
    }

    fn moment(&self, event: &TraceEvent, node: NodeId) -> Moment {
        Moment {
            time: event.time,
            seq: event.seq,
            node,
            message: self.last.get(&node).copied(),
        }
    }
}

fn violation(at: SimTime, moment: &Moment, detail: String) -> Violation {
    Violation {
        time: at,
        event_seq: Some(moment.seq),
        detail,
        messages: moment.message.into_iter().collect(),
        nodes: vec![moment.node],
    }
}

// ---- outbox_no_lost_events -----------------------------------------------

#[derive(Clone, Default)]
pub struct OutboxNoLostEvents {
    deliveries: Deliveries,
    /// Committed rows whose event has not been applied yet.
    undelivered: BoundedMap<u64, Moment>,
    /// Events applied before their row committed (publish first).
    applied_early: BoundedMap<u64, ()>,
}

impl OutboxNoLostEvents {
    pub const NAME: &'static str = "outbox_no_lost_events";
}

impl Checker for OutboxNoLostEvents {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn property(&self) -> Property {
        Property::Eventually
    }

    fn description(&self) -> &'static str {
        "every committed change's event reaches the consumer"
    }

    fn observe(&mut self, event: &TraceEvent, _violations: &mut Vec<Violation>) {
        let Some((node, fact)) = self.deliveries.read(event) else {
            return;
        };
        match fact {
            TxnFact::RowCommitted { event: id } if self.applied_early.get(id).is_none() => {
                let moment = self.deliveries.moment(event, node);
                self.undelivered.entry_or_insert_with(*id, || moment);
            }
            TxnFact::EventConsumed { event: id, .. } if self.undelivered.remove(id).is_none() => {
                self.applied_early.entry_or_insert_with(*id, || ());
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: SimTime, violations: &mut Vec<Violation>) {
        let mut lost: Vec<(&u64, &Moment)> = self.undelivered.iter().collect();
        lost.sort_by_key(|(_, moment)| (moment.time, moment.seq));
        for (id, moment) in lost {
            violations.push(violation(
                end,
                &Moment {
                    message: None,
                    ..*moment
                },
                format!(
                    "row e{id} committed at {} but its event never reached the consumer (lost)",
                    moment.time
                ),
            ));
        }
    }
}

// ---- no_phantom_events -----------------------------------------------------

#[derive(Clone, Default)]
pub struct NoPhantomEvents {
    deliveries: Deliveries,
    committed: BoundedMap<u64, ()>,
    /// Events applied whose row has not committed (yet).
    uncommitted: BoundedMap<u64, Moment>,
}

impl NoPhantomEvents {
    pub const NAME: &'static str = "no_phantom_events";
}

impl Checker for NoPhantomEvents {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    /// Judged over the whole history when the run ends.
    fn decided_at_end(&self) -> bool {
        true
    }
    fn property(&self) -> Property {
        Property::Always
    }

    fn description(&self) -> &'static str {
        "the consumer never applies an event for a change that was never committed"
    }

    fn observe(&mut self, event: &TraceEvent, _violations: &mut Vec<Violation>) {
        let Some((node, fact)) = self.deliveries.read(event) else {
            return;
        };
        match fact {
            TxnFact::RowCommitted { event: id } => {
                self.committed.entry_or_insert_with(*id, || ());
                self.uncommitted.remove(id);
            }
            TxnFact::EventConsumed {
                event: id,
                duplicate: false,
            } if self.committed.get(id).is_none() => {
                let moment = self.deliveries.moment(event, node);
                self.uncommitted.entry_or_insert_with(*id, || moment);
            }
            _ => {}
        }
    }

    fn finish(&mut self, _end: SimTime, violations: &mut Vec<Violation>) {
        let mut phantoms: Vec<(&u64, &Moment)> = self.uncommitted.iter().collect();
        phantoms.sort_by_key(|(_, moment)| (moment.time, moment.seq));
        for (id, moment) in phantoms {
            violations.push(violation(
                moment.time,
                moment,
                format!(
                    "the consumer applied event e{id} at {} but its row was never committed (a phantom event)",
                    moment.time
                ),
            ));
        }
    }
}

// ---- no_duplicate_event_effects -------------------------------------------

#[derive(Clone, Default)]
pub struct NoDuplicateEventEffects {
    deliveries: Deliveries,
    /// Events applied once, with where; the count of applications.
    applied: BoundedMap<u64, (Moment, u32)>,
}

impl NoDuplicateEventEffects {
    pub const NAME: &'static str = "no_duplicate_event_effects";
}

impl Checker for NoDuplicateEventEffects {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn property(&self) -> Property {
        Property::Always
    }

    fn description(&self) -> &'static str {
        "no event's effect is applied twice (redeliveries are deduplicated by event id)"
    }

    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let Some((node, fact)) = self.deliveries.read(event) else {
            return;
        };
        if let TxnFact::EventConsumed {
            event: id,
            duplicate: false,
        } = fact
        {
            let moment = self.deliveries.moment(event, node);
            let record = self.applied.entry_or_insert_with(*id, || (moment, 0));
            record.1 += 1;
            if record.1 == 2 {
                let first = record.0;
                let mut found = violation(
                    event.time,
                    &moment,
                    format!(
                        "event e{id} applied a second time at {} (first at {}): the consumer does not deduplicate",
                        event.time, first.time
                    ),
                );
                found.messages = first.message.into_iter().chain(moment.message).collect();
                violations.push(found);
            }
        }
    }

    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// The three checkers, registered when a scenario has an outbox service or event consumer.
pub fn outbox_checkers() -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(OutboxNoLostEvents::default()),
        Box::new(NoPhantomEvents::default()),
        Box::new(NoDuplicateEventEffects::default()),
    ]
}
