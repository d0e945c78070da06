//! The kernel's own properties: no phantom or unexpected duplicate deliveries, monotonic
//! trace time, and every client operation eventually resolved.

use super::{Checker, Property, Violation};
use crate::message::{MessageId, NodeId};
use crate::time::{SimDuration, SimTime};
use crate::trace::{OperationPhase, TraceEvent, TraceKind};
use fixedbitset::FixedBitSet;
use std::collections::BTreeMap;

/// How many deliveries each message may still have, shared by the two
/// delivery checkers: a send allows one, each network duplicate one more, and
/// a delivery or drop uses one. Entries leave when they reach zero, so the map
/// holds only what is in flight; used-up ids go into a bitset (ids are dense,
/// from 0), which keeps memory small for long runs.
#[derive(Clone, Default)]
struct DeliveryLedger {
    allowance: BTreeMap<MessageId, u32>,
    exhausted: FixedBitSet,
}

/// How a delivery was accounted for by the ledger.
#[derive(Clone)]
enum Consumed {
    Allowed,
    /// Every allowed delivery (or drop) already happened.
    AlreadyExhausted,
    /// Never sent.
    Unknown,
}

impl DeliveryLedger {
    fn consume(&mut self, message: MessageId) -> Consumed {
        match self.allowance.get_mut(&message) {
            Some(left) => {
                *left -= 1;
                if *left == 0 {
                    self.allowance.remove(&message);
                    let index = message.0 as usize;
                    self.exhausted.grow(index + 1);
                    self.exhausted.insert(index);
                }
                Consumed::Allowed
            }
            None if self.exhausted.contains(message.0 as usize) => Consumed::AlreadyExhausted,
            None => Consumed::Unknown,
        }
    }

    /// Updates the ledger with one event; for a delivery, says how it was accounted.
    fn observe(&mut self, kind: &TraceKind) -> Option<Consumed> {
        match kind {
            TraceKind::Send { message, .. } => {
                self.allowance.insert(*message, 1);
                None
            }
            TraceKind::Duplicate { message, .. } => {
                *self.allowance.entry(*message).or_default() += 1;
                None
            }
            TraceKind::Drop { message, .. } => {
                self.consume(*message);
                None
            }
            TraceKind::Deliver { message, .. } => Some(self.consume(*message)),
            _ => None,
        }
    }
}

fn delivery_violation(event: &TraceEvent, detail: String) -> Option<Violation> {
    let TraceKind::Deliver {
        message, from, to, ..
    } = &event.kind
    else {
        return None;
    };
    Some(Violation {
        time: event.time,
        event_seq: Some(event.seq),
        detail,
        messages: vec![*message],
        nodes: vec![*from, *to],
    })
}

/// Always: every delivered message was sent before (and not delivered more
/// often than it was sent and duplicated).
#[derive(Clone, Default)]
pub struct NoPhantomDelivery {
    ledger: DeliveryLedger,
}

impl NoPhantomDelivery {
    pub const NAME: &'static str = "no_phantom_delivery";
}

impl Checker for NoPhantomDelivery {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Always: a node only receives messages that some node sent"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        if let Some(Consumed::Unknown | Consumed::AlreadyExhausted) =
            self.ledger.observe(&event.kind)
            && let TraceKind::Deliver { message, .. } = &event.kind
        {
            let detail =
                format!("{message} delivered but never sent (or delivered more often than sent)");
            violations.extend(delivery_violation(event, detail));
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// Always: a message is delivered at most once, unless the network duplicated it.
#[derive(Clone, Default)]
pub struct NoUnexpectedDuplicateDelivery {
    ledger: DeliveryLedger,
}

impl NoUnexpectedDuplicateDelivery {
    pub const NAME: &'static str = "no_unexpected_duplicate_delivery";
}

impl Checker for NoUnexpectedDuplicateDelivery {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Always: no message is delivered twice over a link that does not duplicate"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        // A never-sent message is `no_phantom_delivery`'s to report.
        if let Some(Consumed::AlreadyExhausted) = self.ledger.observe(&event.kind)
            && let TraceKind::Deliver { message, .. } = &event.kind
        {
            let detail =
                format!("{message} delivered again although its link did not duplicate it");
            violations.extend(delivery_violation(event, detail));
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// Always: trace time never decreases and sequence numbers strictly increase.
/// (Not "by one": violation lines enter the trace without being shown to
/// checkers, so a checker sees a gap after any other checker's violation.)
#[derive(Clone, Default)]
pub struct TraceTimeMonotonic {
    last: Option<(SimTime, u64)>,
}

impl TraceTimeMonotonic {
    pub const NAME: &'static str = "trace_time_monotonic";
}

impl Checker for TraceTimeMonotonic {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Always: events are recorded in (time, sequence) order"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        if let Some((time, seq)) = self.last
            && (event.time < time || event.seq <= seq)
        {
            violations.push(Violation {
                time: event.time,
                event_seq: Some(event.seq),
                detail: format!(
                    "event #{} at {} follows #{seq} at {time}",
                    event.seq, event.time
                ),
                messages: Vec::new(),
                nodes: event.nodes(),
            });
        }
        self.last = Some((event.time, event.seq));
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// Eventually: every invoked client operation ends in ok, fail or info.
/// Operations invoked within `grace` of the end are still allowed to be open.
#[derive(Clone)]
pub struct RequestsEventuallyResolved {
    grace: SimDuration,
    open: BTreeMap<(NodeId, u64), SimTime>,
}

impl RequestsEventuallyResolved {
    pub const NAME: &'static str = "requests_eventually_resolved";

    /// `grace` should exceed the longest client timeout.
    pub fn new(grace: SimDuration) -> RequestsEventuallyResolved {
        RequestsEventuallyResolved {
            grace,
            open: BTreeMap::new(),
        }
    }
}

impl Checker for RequestsEventuallyResolved {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Eventually
    }
    fn description(&self) -> &'static str {
        "Eventually: every client operation completes, fails or times out"
    }
    fn observe(&mut self, event: &TraceEvent, _violations: &mut Vec<Violation>) {
        if let TraceKind::Operation {
            node,
            operation,
            phase,
            ..
        } = &event.kind
        {
            if *phase == OperationPhase::Invoke {
                self.open.insert((*node, *operation), event.time);
            } else {
                self.open.remove(&(*node, *operation));
            }
        }
    }
    fn finish(&mut self, end: SimTime, violations: &mut Vec<Violation>) {
        for ((node, operation), invoked_at) in &self.open {
            if end.since(*invoked_at) > self.grace {
                violations.push(Violation {
                    time: *invoked_at,
                    event_seq: None,
                    detail: format!("operation {operation} invoked at {invoked_at} never resolved"),
                    messages: Vec::new(),
                    nodes: vec![*node],
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MessageClass, Payload};

    fn event(seq: u64, time_us: u64, kind: TraceKind) -> TraceEvent {
        TraceEvent {
            seq,
            time: SimTime(time_us),
            kind,
        }
    }

    fn deliver(message: u64) -> TraceKind {
        TraceKind::Deliver {
            message: MessageId(message),
            from: NodeId(0),
            to: NodeId(1),
            class: MessageClass::Request,
            payload: Payload::Request {
                operation: 0,
                stream: 0,
            },
            duplicate: false,
        }
    }

    fn send(message: u64) -> TraceKind {
        TraceKind::Send {
            message: MessageId(message),
            from: NodeId(0),
            to: NodeId(1),
            class: MessageClass::Request,
            payload: Payload::Request {
                operation: 0,
                stream: 0,
            },
        }
    }

    #[test]
    fn phantom_delivery_is_caught() {
        let mut checker = NoPhantomDelivery::default();
        let mut violations = Vec::new();
        checker.observe(&event(0, 0, send(1)), &mut violations);
        checker.observe(&event(1, 5, deliver(1)), &mut violations);
        assert!(violations.is_empty());
        checker.observe(&event(2, 6, deliver(9)), &mut violations);
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].messages, vec![MessageId(9)]);
    }

    #[test]
    fn duplicate_without_network_duplication_is_caught() {
        let mut checker = NoUnexpectedDuplicateDelivery::default();
        let mut violations = Vec::new();
        checker.observe(&event(0, 0, send(1)), &mut violations);
        checker.observe(
            &event(
                1,
                1,
                TraceKind::Duplicate {
                    message: MessageId(1),
                    from: NodeId(0),
                    to: NodeId(1),
                },
            ),
            &mut violations,
        );
        checker.observe(&event(2, 5, deliver(1)), &mut violations);
        checker.observe(&event(3, 6, deliver(1)), &mut violations);
        assert!(
            violations.is_empty(),
            "a duplicated message may arrive twice"
        );
        checker.observe(&event(4, 7, deliver(1)), &mut violations);
        assert_eq!(violations.len(), 1, "but not three times");
    }

    #[test]
    fn time_going_backwards_is_caught() {
        let mut checker = TraceTimeMonotonic::default();
        let mut violations = Vec::new();
        checker.observe(&event(0, 10, send(1)), &mut violations);
        checker.observe(&event(1, 10, send(2)), &mut violations);
        assert!(violations.is_empty());
        checker.observe(&event(2, 9, send(3)), &mut violations);
        assert_eq!(violations.len(), 1);
    }

    #[test]
    fn unresolved_operation_fails_only_after_grace() {
        let invoke = |operation| TraceKind::Operation {
            node: NodeId(0),
            operation,
            phase: OperationPhase::Invoke,
            detail: String::new(),
        };
        let mut checker = RequestsEventuallyResolved::new(SimDuration::from_millis(100));
        let mut violations = Vec::new();
        checker.observe(&event(0, 0, invoke(1)), &mut violations);
        checker.observe(&event(1, 950_000, invoke(2)), &mut violations);
        checker.finish(SimTime(1_000_000), &mut violations);
        assert_eq!(violations.len(), 1, "op 1 is 1 s old, op 2 is within grace");
        assert!(violations[0].detail.contains("operation 1"));
    }
}
