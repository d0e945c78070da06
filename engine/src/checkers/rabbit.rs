//! RabbitMQ properties over the history: no confirmed persistent message lost, duplicates handled, dead-letter reasons, max length.
//!
//! All four read the components' facts (`RabbitEnqueued`, `RabbitRemoved`,
//! `RabbitQueueDeleted`, `RabbitConfirmed`, `RabbitHandled`), the consumers'
//! settle frames and the fault events; none reaches into a component.
//!
//! - `lost_confirmed_messages` (Eventually): RabbitMQ's promise is that a
//!   message the publisher saw confirmed, persistent, and routed to a durable
//!   queue stays in that queue, across a node restart, until a consumer
//!   acknowledges it or the queue's policy removes it (dead-lettering,
//!   expiry, max-length, queue deletion). Each queue copy is followed from
//!   its enqueue to its removal; a crash of the node drops the copies the
//!   promise does not cover (transient messages, transient queues). A
//!   covered copy is lost when the restarted node's recovered queue lacks
//!   it (dated at the restart), or stranded when its node crashed and never
//!   came back (dated at the crash). Copies still waiting in a live queue at
//!   the end are not losses. Decided at the end of the run.
//! - `no_duplicate_handling` (Always): the consumers of one queue handled the
//!   same message id twice. Expected under at-least-once delivery (R1); it
//!   fails so that redelivery-sensitive designs see it, and passes with
//!   idempotent handlers (which skip repeats they remember — per process, so
//!   a redelivery to a competing consumer is still handled again).
//! - `dead_letter_reasons_valid` (Always): `rejected` only after a consumer
//!   rejected or nacked that delivery with `requeue=false`; `expired` only once
//!   the TTL has run; `maxlen` only from a queue with a length limit;
//!   `delivery_limit` never from a classic queue (R2).
//! - `queue_within_max_length` (Always): a queue's ready count, as the broker
//!   reports it after each enqueue and removal, never exceeds `x-max-length`.
//!
//! Quorum queues: one queue spread over several brokers. Their facts come
//! from whichever member leads, so copies are followed per (declaring
//! broker, queue), a member's crash endangers nothing by itself, and each new
//! leader's statement of what it holds (`RabbitRecovered`, once it has
//! applied every committed entry) must contain every copy still followed:
//! a confirmed message absent from it was lost by the replication. Because
//! a new leader re-states entries its predecessor had stated, a quorum copy
//! is followed as present or absent, not counted (a message republished into
//! the same quorum queue is followed once).
//!
//! Memory: each checker follows at most `MAX_RABBIT_TRACKED_MESSAGES`
//! messages; beyond that new ones are counted, not followed, and the
//! detail says so.

use super::{Checker, Property, Violation};
use crate::components::rabbit_protocol::{RabbitDeathReason, RabbitDisposal, RabbitMessageKey};
use crate::message::{MessageId, NodeId, Payload};
use crate::scenario::limits::MAX_RABBIT_TRACKED_MESSAGES;
use crate::scenario::{ComponentSpec, RabbitQueueSpec, RabbitQueueType, Scenario};
use crate::time::SimTime;
use crate::trace::{Fact, TraceEvent, TraceKind};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The queue specs of every broker, by (broker node, queue name).
fn queue_specs(scenario: &Scenario) -> BTreeMap<(NodeId, String), RabbitQueueSpec> {
    let mut specs = BTreeMap::new();
    for (index, node) in scenario.topology.nodes.iter().enumerate() {
        if let ComponentSpec::RabbitBroker(broker) = &node.spec {
            for queue in &broker.queues {
                specs.insert((NodeId(index as u32), queue.name.clone()), queue.clone());
            }
        }
    }
    specs
}

/// (member broker, quorum queue name) → the declaring broker, under which
/// the checkers follow the queue's copies whichever member reports them.
fn quorum_homes(scenario: &Scenario) -> BTreeMap<(NodeId, String), NodeId> {
    let mut homes = BTreeMap::new();
    for placement in crate::scenario::quorum_queue_placements(scenario) {
        for member in &placement.members {
            homes.insert(
                (NodeId(*member as u32), placement.spec.name.clone()),
                NodeId(placement.home as u32),
            );
        }
    }
    homes
}

/// The node a queue's copies are followed under.
fn queue_owner(homes: &BTreeMap<(NodeId, String), NodeId>, node: NodeId, queue: &str) -> NodeId {
    homes
        .get(&(node, queue.to_string()))
        .copied()
        .unwrap_or(node)
}

/// The RabbitMQ checkers, for scenarios with a `rabbit_broker`.
pub fn rabbit_checkers(scenario: &Scenario, node_names: &[String]) -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(
            LostConfirmedMessages::new(node_names.to_vec())
                .with_quorum_homes(quorum_homes(scenario)),
        ),
        Box::new(NoDuplicateHandling::new(node_names.to_vec())),
        Box::new(DeadLetterReasonsValid::new(scenario, node_names.to_vec())),
        Box::new(QueueWithinMaxLength::new(scenario, node_names.to_vec())),
    ]
}

fn node_name(node_names: &[String], node: NodeId) -> &str {
    node_names
        .get(node.index())
        .map(String::as_str)
        .unwrap_or("?")
}

// ---- lost_confirmed_messages ----------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Copy {
    /// Persistent message in a durable queue: covered by the promise.
    promised: bool,
    /// The node crashed while this copy was in it (time, trace seq).
    crashed_at: Option<(SimTime, u64)>,
    /// The node restarted without it (time, trace seq): lost.
    missing_after_restart: Option<(SimTime, u64)>,
    /// Copies of the same message in this queue (a republished message can
    /// be there twice).
    count: u32,
}

#[derive(Clone, Default)]
struct Followed {
    confirmed: bool,
    copies: BTreeMap<(NodeId, String), Copy>,
}

/// (moment, what happened, message, node, queue) of one lost copy.
type LostCopy<'a> = ((SimTime, u64), &'a str, RabbitMessageKey, NodeId, String);

#[derive(Clone)]
pub struct LostConfirmedMessages {
    node_names: Vec<String>,
    messages: BTreeMap<RabbitMessageKey, Followed>,
    by_queue: BTreeMap<(NodeId, String), BTreeSet<RabbitMessageKey>>,
    /// Nodes crashed and not restarted.
    down: BTreeSet<NodeId>,
    untracked: u64,
    quorum_homes: BTreeMap<(NodeId, String), NodeId>,
    /// (declaring broker, name) of every quorum queue.
    quorum_queues: BTreeSet<(NodeId, String)>,
}

impl LostConfirmedMessages {
    pub const NAME: &'static str = "lost_confirmed_messages";

    pub fn new(node_names: Vec<String>) -> LostConfirmedMessages {
        LostConfirmedMessages {
            node_names,
            messages: BTreeMap::new(),
            by_queue: BTreeMap::new(),
            down: BTreeSet::new(),
            untracked: 0,
            quorum_homes: BTreeMap::new(),
            quorum_queues: BTreeSet::new(),
        }
    }

    /// Follows quorum queue copies per queue, whichever member reports them.
    pub fn with_quorum_homes(
        mut self,
        homes: BTreeMap<(NodeId, String), NodeId>,
    ) -> LostConfirmedMessages {
        self.quorum_queues = homes
            .iter()
            .map(|((_, name), home)| (*home, name.clone()))
            .collect();
        self.quorum_homes = homes;
        self
    }

    fn close_copy(&mut self, key: RabbitMessageKey, queue: &(NodeId, String)) {
        if let Some(followed) = self.messages.get_mut(&key) {
            followed.copies.remove(queue);
            if followed.copies.is_empty() {
                self.messages.remove(&key);
            }
        }
        if let Some(keys) = self.by_queue.get_mut(queue) {
            keys.remove(&key);
        }
    }
}

impl Checker for LostConfirmedMessages {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Eventually
    }
    fn description(&self) -> &'static str {
        "every confirmed persistent message routed to a durable queue is eventually acknowledged by a consumer or removed by the queue's policy (dead-letter, TTL, max-length, deletion)"
    }

    fn observe(&mut self, event: &TraceEvent, _violations: &mut Vec<Violation>) {
        match &event.kind {
            TraceKind::Fact { node, fact } => match fact {
                Fact::RabbitEnqueued {
                    queue,
                    message,
                    persistent,
                    durable_queue,
                    ..
                } => {
                    if !self.messages.contains_key(message)
                        && self.messages.len() >= MAX_RABBIT_TRACKED_MESSAGES
                    {
                        self.untracked += 1;
                        return;
                    }
                    let queue_key = (queue_owner(&self.quorum_homes, *node, queue), queue.clone());
                    // A new quorum leader re-applies (and re-states) entries its
                    // predecessor already stated: a quorum copy is present or not.
                    let increment = u32::from(!self.quorum_queues.contains(&queue_key));
                    self.messages
                        .entry(*message)
                        .or_default()
                        .copies
                        .entry(queue_key.clone())
                        .and_modify(|copy| copy.count += increment)
                        .or_insert(Copy {
                            promised: *persistent && *durable_queue,
                            crashed_at: None,
                            missing_after_restart: None,
                            count: 1,
                        });
                    self.by_queue.entry(queue_key).or_default().insert(*message);
                }
                Fact::RabbitRemoved { queue, message, .. } => {
                    let queue_key = (queue_owner(&self.quorum_homes, *node, queue), queue.clone());
                    let remaining = self
                        .messages
                        .get_mut(message)
                        .and_then(|followed| followed.copies.get_mut(&queue_key))
                        .map(|copy| {
                            copy.count = copy.count.saturating_sub(1);
                            copy.count
                        });
                    let remaining = if self.quorum_queues.contains(&queue_key) {
                        remaining.map(|_| 0)
                    } else {
                        remaining
                    };
                    if remaining == Some(0) {
                        self.close_copy(*message, &queue_key);
                    }
                }
                Fact::RabbitQueueDeleted { queue, .. } => {
                    let queue_key = (queue_owner(&self.quorum_homes, *node, queue), queue.clone());
                    let keys = self.by_queue.remove(&queue_key).unwrap_or_default();
                    for key in keys {
                        self.close_copy(key, &queue_key);
                    }
                }
                Fact::RabbitRecovered { queue, messages } => {
                    let queue_key = (queue_owner(&self.quorum_homes, *node, queue), queue.clone());
                    let recovered: BTreeSet<&RabbitMessageKey> = messages.iter().collect();
                    let keys: Vec<RabbitMessageKey> = self
                        .by_queue
                        .get(&queue_key)
                        .map(|keys| keys.iter().copied().collect())
                        .unwrap_or_default();
                    // A quorum queue's new leader must hold every copy still
                    // followed; a classic queue only those its crash endangered.
                    let quorum = self.quorum_queues.contains(&queue_key);
                    for key in keys {
                        if let Some(copy) = self
                            .messages
                            .get_mut(&key)
                            .and_then(|followed| followed.copies.get_mut(&queue_key))
                            && (quorum || copy.crashed_at.is_some())
                        {
                            if recovered.contains(&key) {
                                copy.crashed_at = None;
                            } else if copy.missing_after_restart.is_none() {
                                copy.missing_after_restart = Some((event.time, event.seq));
                            }
                        }
                    }
                }
                Fact::RabbitConfirmed { message, .. } => {
                    // Absent: every copy already left by policy or ack (or it
                    // was unroutable): nothing left to lose.
                    if let Some(followed) = self.messages.get_mut(message) {
                        followed.confirmed = true;
                    }
                }
                _ => {}
            },
            TraceKind::NodeStart { node } => {
                self.down.remove(node);
            }
            TraceKind::Fault { text, nodes, .. } if text.starts_with("crash ") => {
                for crashed in nodes {
                    self.down.insert(*crashed);
                    let queues: Vec<(NodeId, String)> = self
                        .by_queue
                        .range((*crashed, String::new())..)
                        .take_while(|(key, _)| key.0 == *crashed)
                        .map(|(key, _)| key.clone())
                        .collect();
                    for queue_key in queues {
                        if self.quorum_queues.contains(&queue_key) {
                            // Replicated: one member's crash loses nothing by itself.
                            continue;
                        }
                        let keys: Vec<RabbitMessageKey> = self
                            .by_queue
                            .get(&queue_key)
                            .map(|keys| keys.iter().copied().collect())
                            .unwrap_or_default();
                        for key in keys {
                            let promised = self
                                .messages
                                .get_mut(&key)
                                .and_then(|followed| followed.copies.get_mut(&queue_key))
                                .map(|copy| {
                                    if copy.crashed_at.is_none() {
                                        copy.crashed_at = Some((event.time, event.seq));
                                    }
                                    copy.promised
                                })
                                .unwrap_or(false);
                            if !promised {
                                // Gone with the node's memory, as RabbitMQ documents.
                                self.close_copy(key, &queue_key);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, _end: SimTime, violations: &mut Vec<Violation>) {
        let mut lost: Vec<LostCopy> = Vec::new();
        for (key, followed) in &self.messages {
            if !followed.confirmed {
                continue;
            }
            for ((node, queue), copy) in &followed.copies {
                if !copy.promised {
                    continue;
                }
                if let Some(moment) = copy.missing_after_restart {
                    let what = if self.quorum_queues.contains(&(*node, queue.clone())) {
                        "was missing when a new leader of the quorum queue took over"
                    } else {
                        "was missing when the node restarted"
                    };
                    lost.push((moment, what, *key, *node, queue.clone()));
                } else if let Some(moment) = copy.crashed_at
                    && self.down.contains(node)
                {
                    lost.push((
                        moment,
                        "is stranded on a node that crashed and never came back",
                        *key,
                        *node,
                        queue.clone(),
                    ));
                }
                // Otherwise it is still in a live queue: not delivered yet, not lost.
            }
        }
        lost.sort_by_key(|(moment, ..)| *moment);
        let total = lost.len();
        for (index, ((time, seq), what, key, node, queue)) in lost.into_iter().enumerate() {
            let untracked = if self.untracked > 0 {
                format!(
                    " ({} messages were not followed: tracking limit)",
                    self.untracked
                )
            } else {
                String::new()
            };
            violations.push(Violation {
                time,
                event_seq: Some(seq),
                detail: format!(
                    "confirmed persistent message {} in durable queue {queue} on {} {what} ({} of {total} such messages){untracked}",
                    key.named(&self.node_names),
                    node_name(&self.node_names, node),
                    index + 1
                ),
                messages: Vec::new(),
                nodes: vec![node, key.publisher],
            });
        }
    }
}

// ---- no_duplicate_handling -----------------------------------------------

#[derive(Clone)]
pub struct NoDuplicateHandling {
    node_names: Vec<String>,
    /// (queue, message) handled, oldest first, bounded.
    handled: BTreeSet<(String, RabbitMessageKey)>,
    order: VecDeque<(String, RabbitMessageKey)>,
    duplicates: u64,
}

impl NoDuplicateHandling {
    pub const NAME: &'static str = "no_duplicate_handling";

    pub fn new(node_names: Vec<String>) -> NoDuplicateHandling {
        NoDuplicateHandling {
            node_names,
            handled: BTreeSet::new(),
            order: VecDeque::new(),
            duplicates: 0,
        }
    }
}

impl Checker for NoDuplicateHandling {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "no consumer handles the same message twice (at-least-once delivery redelivers; idempotent handlers pass)"
    }

    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let TraceKind::Fact {
            node,
            fact:
                Fact::RabbitHandled {
                    queue,
                    message,
                    redelivered,
                    suppressed_duplicate: false,
                },
        } = &event.kind
        else {
            return;
        };
        // Per consuming application, i.e. per queue (competing consumers
        // share the work): a fanout copy in another queue is not a duplicate,
        // the same message handled by two consumers of one queue is.
        let key = (queue.clone(), *message);
        if !self.handled.insert(key.clone()) {
            self.duplicates += 1;
            violations.push(Violation {
                time: event.time,
                event_seq: Some(event.seq),
                detail: format!(
                    "{} handled message {} from {queue} again{} (duplicate #{}): at-least-once delivery; make the handler idempotent",
                    node_name(&self.node_names, *node),
                    message.named(&self.node_names),
                    if *redelivered {
                        " after a redelivery"
                    } else {
                        ", published twice"
                    },
                    self.duplicates
                ),
                messages: Vec::new(),
                nodes: vec![*node, message.publisher],
            });
            return;
        }
        self.order.push_back(key);
        if self.order.len() > MAX_RABBIT_TRACKED_MESSAGES
            && let Some(oldest) = self.order.pop_front()
        {
            self.handled.remove(&oldest);
        }
    }

    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

// ---- dead_letter_reasons_valid --------------------------------------------

/// (broker, consumer, connection, delivery tag): one delivery.
type DeliveryKey = (NodeId, NodeId, u64, u64);

#[derive(Clone)]
pub struct DeadLetterReasonsValid {
    node_names: Vec<String>,
    specs: BTreeMap<(NodeId, String), RabbitQueueSpec>,
    /// (broker, consumer, connection, delivery tag) → (queue, message), from deliveries.
    deliveries: BTreeMap<DeliveryKey, (String, RabbitMessageKey, MessageId)>,
    delivery_order: VecDeque<DeliveryKey>,
    /// Copies a consumer refused without requeue, awaiting the broker's dead-lettering.
    refused: BTreeMap<(NodeId, String, RabbitMessageKey), MessageId>,
    /// Enqueue time and TTL of copies with a TTL.
    enqueued: BTreeMap<(NodeId, String, RabbitMessageKey), (SimTime, u64)>,
    quorum_homes: BTreeMap<(NodeId, String), NodeId>,
}

impl DeadLetterReasonsValid {
    pub const NAME: &'static str = "dead_letter_reasons_valid";

    pub fn new(scenario: &Scenario, node_names: Vec<String>) -> DeadLetterReasonsValid {
        DeadLetterReasonsValid {
            node_names,
            specs: queue_specs(scenario),
            deliveries: BTreeMap::new(),
            delivery_order: VecDeque::new(),
            refused: BTreeMap::new(),
            enqueued: BTreeMap::new(),
            quorum_homes: quorum_homes(scenario),
        }
    }
}

/// Clock drift and tick rounding allowed when comparing a TTL (1 ms + 0.1%).
fn ttl_slack_us(ttl_ms: u64) -> u64 {
    1_000 + ttl_ms
}

impl Checker for DeadLetterReasonsValid {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "messages are dead-lettered only for a reason that happened: rejected without requeue, TTL run out, queue over max-length; never delivery_limit on a classic queue"
    }

    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        match &event.kind {
            TraceKind::Send {
                message: envelope,
                from,
                to,
                payload:
                    Payload::RabbitDeliver {
                        connection,
                        delivery_tag,
                        queue,
                        message,
                        ..
                    },
                ..
            } => {
                let key = (*from, *to, *connection, *delivery_tag);
                self.deliveries
                    .insert(key, (queue.clone(), message.key, *envelope));
                self.delivery_order.push_back(key);
                if self.delivery_order.len() > MAX_RABBIT_TRACKED_MESSAGES
                    && let Some(oldest) = self.delivery_order.pop_front()
                {
                    self.deliveries.remove(&oldest);
                }
            }
            TraceKind::Deliver {
                message: envelope,
                from,
                to,
                payload:
                    Payload::RabbitSettle {
                        connection,
                        delivery_tag,
                        settlement,
                    },
                ..
            } => {
                let key = (*to, *from, *connection, *delivery_tag);
                if let Some((queue, message, _)) = self.deliveries.remove(&key)
                    && settlement.dead_letters()
                    && self.refused.len() < MAX_RABBIT_TRACKED_MESSAGES
                {
                    // Quorum queues: the consumer's broker took the nack, the leader dead-letters.
                    let owner = queue_owner(&self.quorum_homes, *to, &queue);
                    self.refused.insert((owner, queue, message), *envelope);
                }
            }
            TraceKind::Fact {
                node,
                fact:
                    Fact::RabbitEnqueued {
                        queue,
                        message,
                        ttl_ms: Some(ttl_ms),
                        ..
                    },
            } if self.enqueued.len() < MAX_RABBIT_TRACKED_MESSAGES => {
                self.enqueued
                    .insert((*node, queue.clone(), *message), (event.time, *ttl_ms));
            }
            TraceKind::Fact {
                node,
                fact:
                    Fact::RabbitRemoved {
                        queue,
                        message,
                        disposal,
                        ..
                    },
            } => {
                let owner = queue_owner(&self.quorum_homes, *node, queue);
                let copy = (owner, queue.clone(), *message);
                let enqueued = self.enqueued.remove(&copy);
                let refused = self.refused.remove(&copy);
                let reason = match disposal {
                    RabbitDisposal::Acked => return,
                    RabbitDisposal::DeadLettered { reason }
                    | RabbitDisposal::Dropped { reason } => *reason,
                };
                let spec = self.specs.get(&(owner, queue.clone()));
                let wrong = match reason {
                    RabbitDeathReason::Rejected => refused.is_none().then(|| {
                        "no consumer rejected or nacked it with requeue=false".to_string()
                    }),
                    RabbitDeathReason::Expired => match enqueued {
                        None => Some("it had no TTL".to_string()),
                        Some((at, ttl_ms)) => {
                            let waited_us = event.time.since(at).as_micros();
                            (waited_us + ttl_slack_us(ttl_ms) < ttl_ms * 1_000).then(|| {
                                format!(
                                    "it waited {:.1} ms of its {ttl_ms} ms TTL",
                                    waited_us as f64 / 1_000.0
                                )
                            })
                        }
                    },
                    RabbitDeathReason::Maxlen => spec
                        .is_some_and(|spec| {
                            spec.max_length_messages.is_none() && spec.max_length_bytes.is_none()
                        })
                        .then(|| "the queue has no max-length".to_string()),
                    RabbitDeathReason::DeliveryLimit => spec
                        .is_none_or(|spec| spec.queue_type != RabbitQueueType::Quorum)
                        .then(|| "classic queues have no delivery limit".to_string()),
                };
                if let Some(why) = wrong {
                    violations.push(Violation {
                        time: event.time,
                        event_seq: Some(event.seq),
                        detail: format!(
                            "{} left queue {queue} on {} with reason {}, but {why}",
                            message.named(&self.node_names),
                            node_name(&self.node_names, *node),
                            reason.as_str()
                        ),
                        messages: refused.into_iter().collect(),
                        nodes: vec![*node, message.publisher],
                    });
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

// ---- queue_within_max_length -----------------------------------------------

#[derive(Clone)]
pub struct QueueWithinMaxLength {
    node_names: Vec<String>,
    limits: BTreeMap<(NodeId, String), u64>,
}

impl QueueWithinMaxLength {
    pub const NAME: &'static str = "queue_within_max_length";

    pub fn new(scenario: &Scenario, node_names: Vec<String>) -> QueueWithinMaxLength {
        QueueWithinMaxLength {
            node_names,
            limits: queue_specs(scenario)
                .into_iter()
                .filter_map(|(key, spec)| {
                    spec.max_length_messages
                        .map(|limit| (key, u64::from(limit)))
                })
                .collect(),
        }
    }
}

impl Checker for QueueWithinMaxLength {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "no queue ever holds more ready messages than its x-max-length"
    }

    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let TraceKind::Fact { node, fact } = &event.kind else {
            return;
        };
        let (queue, message, ready) = match fact {
            Fact::RabbitEnqueued {
                queue,
                message,
                ready_messages,
                ..
            }
            | Fact::RabbitRemoved {
                queue,
                message,
                ready_messages,
                ..
            } => (queue, message, *ready_messages),
            _ => return,
        };
        if let Some(limit) = self.limits.get(&(*node, queue.clone()))
            && ready > *limit
        {
            violations.push(Violation {
                time: event.time,
                event_seq: Some(event.seq),
                detail: format!(
                    "queue {queue} on {} held {ready} ready messages, above its max length {limit} (at {})",
                    node_name(&self.node_names, *node),
                    message.named(&self.node_names)
                ),
                messages: Vec::new(),
                nodes: vec![*node],
            });
        }
    }

    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::FaultOrigin;

    fn event(seq: u64, kind: TraceKind) -> TraceEvent {
        TraceEvent {
            seq,
            time: SimTime::from_millis(seq),
            kind,
        }
    }

    /// A broker that comes back without a confirmed persistent message of a
    /// durable queue must be caught, dated at the restart.
    #[test]
    fn lost_confirmed_messages_catches_a_durable_message_missing_after_restart() {
        let names = vec!["b".to_string(), "p".to_string()];
        let broker = NodeId(0);
        let key = RabbitMessageKey {
            publisher: NodeId(1),
            sequence: 7,
        };
        let mut checker = LostConfirmedMessages::new(names);
        let mut violations = Vec::new();
        let history = [
            TraceKind::Fact {
                node: broker,
                fact: Fact::RabbitEnqueued {
                    queue: "q".into(),
                    message: key,
                    persistent: true,
                    durable_queue: true,
                    ttl_ms: None,
                    ready_messages: 1,
                },
            },
            TraceKind::Fact {
                node: NodeId(1),
                fact: Fact::RabbitConfirmed {
                    message: key,
                    persistent: true,
                },
            },
            TraceKind::Fault {
                origin: FaultOrigin::Scripted,
                text: "crash b".into(),
                nodes: vec![broker],
            },
            TraceKind::NodeStart { node: broker },
            TraceKind::Fact {
                node: broker,
                fact: Fact::RabbitRecovered {
                    queue: "q".into(),
                    messages: Vec::new(),
                },
            },
        ];
        for (seq, kind) in history.into_iter().enumerate() {
            checker.observe(&event(seq as u64, kind), &mut violations);
        }
        assert!(violations.is_empty(), "decided at the end");
        checker.finish(SimTime::from_millis(100), &mut violations);
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].event_seq, Some(4));
        assert!(
            violations[0].detail.contains("p#7"),
            "{}",
            violations[0].detail
        );
        assert!(
            violations[0]
                .detail
                .contains("missing when the node restarted")
        );

        // The same history where the queue came back with it: no violation.
        let mut checker = LostConfirmedMessages::new(vec!["b".into(), "p".into()]);
        let mut violations = Vec::new();
        let history = [
            TraceKind::Fact {
                node: broker,
                fact: Fact::RabbitEnqueued {
                    queue: "q".into(),
                    message: key,
                    persistent: true,
                    durable_queue: true,
                    ttl_ms: None,
                    ready_messages: 1,
                },
            },
            TraceKind::Fact {
                node: NodeId(1),
                fact: Fact::RabbitConfirmed {
                    message: key,
                    persistent: true,
                },
            },
            TraceKind::Fault {
                origin: FaultOrigin::Scripted,
                text: "crash b".into(),
                nodes: vec![broker],
            },
            TraceKind::NodeStart { node: broker },
            TraceKind::Fact {
                node: broker,
                fact: Fact::RabbitRecovered {
                    queue: "q".into(),
                    messages: vec![key],
                },
            },
        ];
        for (seq, kind) in history.into_iter().enumerate() {
            checker.observe(&event(seq as u64, kind), &mut violations);
        }
        checker.finish(SimTime::from_millis(100), &mut violations);
        assert!(violations.is_empty());
    }
}
