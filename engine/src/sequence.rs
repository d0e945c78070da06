//! Sequence (Lamport) diagrams: which trace events belong to one request, saga or message, with Lamport clocks.
//!
//! The live view's sequence panel draws what this module decides; the app
//! holds no protocol knowledge. Given the trace (the engine's bounded ring of
//! recent events) and a [`Correlation`], [`sequence_diagram`] returns the
//! lifelines involved, the process events in trace order, each with a Lamport
//! timestamp computed the textbook way (a send ticks the sender's clock and
//! the message carries it; a receive sets the receiver's clock to
//! `max(local, carried) + 1`; a local event ticks), and one arrow per
//! delivered, lost or still-travelling message.
//!
//! What belongs to a correlation:
//! - **A request** (`Correlation::Request`: a client node and its operation
//!   id). Messages whose payload carries that id: the client's request and
//!   the answer to it, service calls whose root `trace` is the request and
//!   their replies, 2PC/3PC/TCC and saga messages of the transaction the
//!   request started (`TxnId` is the client and its operation), Raft KV and
//!   Kafka produce requests of that client and their answers. Then, as a
//!   tracing system with propagated context would, messages sent while a node
//!   handled one of those (up to `REQUEST_DESCENDANT_HOPS` hops), which
//!   catches forwarding (a follower to the leader, a coordinator's fan-out).
//! - **A message** (`Correlation::Message`) and its causal descendants:
//!   every message sent by a handler that was running because a message of
//!   the set arrived, transitively (up to `MESSAGE_DESCENDANT_HOPS` hops).
//!
//! Timers are not followed: the trace records that a timer fired, not which
//! handler set it, so work a node defers (service time, retries after a
//! backoff) joins the diagram only when the protocol carries the request's
//! id, as service calls and saga commands do.
//!
//! A handler's sends are attributed to it because the simulator applies a
//! handler's effects right after recording the event that started it
//! (`NodeStart`, `Deliver`, `Timer`, `Fault`) and before the next such event.
//!
//! Bounded: the input is the trace ring (`TRACE_RING_CAPACITY` events), the
//! output at most `MAX_SEQUENCE_LIFELINES` lifelines, `MAX_SEQUENCE_ARROWS`
//! arrows and `MAX_SEQUENCE_LOCAL_EVENTS` local marks; beyond them the
//! diagram says it was truncated. Deterministic: only ordered maps, trace order.

use crate::components::txn_protocol::{TxnId, TxnMessage};
use crate::message::{MessageClass, MessageId, NodeId, Payload, SpanRef};
use crate::trace::{DropReason, OperationPhase, TraceEvent, TraceKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Most lifelines (nodes) a diagram draws: past ~40 columns the arrows are
/// too short to read on a laptop screen, and the SVG stays small.
pub const MAX_SEQUENCE_LIFELINES: usize = 40;
/// Most arrows (messages) a diagram draws; the rest are counted as truncated.
pub const MAX_SEQUENCE_ARROWS: usize = 500;
/// Most local marks (operations, crashes, restarts) on the lifelines.
pub const MAX_SEQUENCE_LOCAL_EVENTS: usize = 200;
/// How far a request's diagram follows messages sent while handling one of
/// its messages without carrying its id. Two hops catch forwarding and
/// fan-out; further hops mostly reach unrelated traffic that merely happened
/// after (a Raft follower's reply triggers the next heartbeat round).
pub const REQUEST_DESCENDANT_HOPS: u32 = 2;
/// How far a message's causal descendants are followed (the arrow and
/// lifeline bounds usually stop it first).
pub const MESSAGE_DESCENDANT_HOPS: u32 = 32;
/// Requests offered as quick picks (the most recent completed ones).
pub const MAX_SEQUENCE_SUGGESTIONS: usize = 8;

/// What a diagram is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Correlation {
    /// A client's request (operation `operation` of node `client`); sagas and
    /// transactions are named by the request that started them (`t0.17`).
    Request { client: u32, operation: u64 },
    /// One message and its causal descendants.
    Message { id: u64 },
}

impl Correlation {
    /// Reads what a user typed or pasted: `m12` (a message), `t0.17` or
    /// `n0.17` (a saga/transaction or trace id: node index and operation),
    /// `clients 17` or `clients:17` (node name and operation), or a whole
    /// trace line (`op clients 17 ok`, `... trace=n0.17 ...`, `... m12 ...`).
    pub fn parse(text: &str, node_names: &[String]) -> Result<Correlation, String> {
        let words: Vec<&str> = text
            .split(|character: char| character.is_whitespace() || character == ',')
            .filter(|word| !word.is_empty())
            .collect();
        let node_index = |name: &str| {
            node_names
                .iter()
                .position(|candidate| candidate == name)
                .map(|index| index as u32)
        };
        // `op NAME ID` as in an operation's trace line.
        for window in words.windows(3) {
            if window[0] == "op"
                && let (Some(client), Ok(operation)) = (node_index(window[1]), window[2].parse())
            {
                return Ok(Correlation::Request { client, operation });
            }
        }
        for word in &words {
            let word = word
                .trim_start_matches("trace=")
                .trim_start_matches("saga=")
                .trim_start_matches("txn=");
            if let Some(rest) = word.strip_prefix('t').or_else(|| word.strip_prefix('n'))
                && let Some((node, operation)) = rest.split_once('.')
                && let (Ok(client), Ok(operation)) = (node.parse::<u32>(), operation.parse())
                && (client as usize) < node_names.len()
            {
                return Ok(Correlation::Request { client, operation });
            }
            if let Some((name, operation)) = word.split_once(':')
                && let (Some(client), Ok(operation)) = (node_index(name), operation.parse())
            {
                return Ok(Correlation::Request { client, operation });
            }
        }
        if let [name, operation] = words.as_slice()
            && let (Some(client), Ok(operation)) = (node_index(name), operation.parse())
        {
            return Ok(Correlation::Request { client, operation });
        }
        for word in &words {
            if let Some(id) = word.strip_prefix('m').and_then(|id| id.parse().ok()) {
                return Ok(Correlation::Message { id });
            }
        }
        Err(format!(
            "could not read a request or message from {text:?}: type m12 for a message, \
             t0.17 for a saga or transaction, or a client and its operation such as \
             \"{} 17\"",
            node_names.first().map_or("client", String::as_str)
        ))
    }

    /// Short human name, e.g. `request clients op 17` or `message m12`.
    pub fn describe(&self, node_names: &[String]) -> String {
        match self {
            Correlation::Request { client, operation } => format!(
                "request {} op {operation} (t{client}.{operation})",
                node_names.get(*client as usize).map_or("?", String::as_str)
            ),
            Correlation::Message { id } => format!("message m{id} and what it caused"),
        }
    }
}

/// One vertical line of the diagram.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lifeline {
    /// Index of the node in the topology (`Snapshot::nodes`).
    pub node: u32,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SequenceEventKind {
    Send,
    Receive,
    /// A Jepsen operation phase of the request at its client (invoke, ok, ...).
    Operation,
    /// The node crashed (its volatile state is gone; messages to it are lost).
    Crash,
    /// The node started again after a crash.
    Restart,
}

/// A process event on a lifeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceEvent {
    /// Trace sequence number (the event log's `#N`).
    pub seq: u64,
    pub time_us: u64,
    /// Index into `SequenceDiagram::lifelines`.
    pub lifeline: u32,
    /// Lamport timestamp: larger than every event that happened before it.
    pub lamport: u64,
    pub kind: SequenceEventKind,
    /// The message (send/receive), or the operation phase or fault text.
    pub label: String,
}

/// Where a message was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostMessage {
    pub seq: u64,
    pub time_us: u64,
    pub reason: DropReason,
    /// Lost on arrival (receiver down, or a partition that formed while it
    /// travelled) rather than at the sender (loss, partition at send).
    pub at_receiver: bool,
}

/// One message: from its send to its receive, loss, or (still travelling) nowhere yet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceArrow {
    pub message: u64,
    pub class: MessageClass,
    pub label: String,
    /// Lifeline indices.
    pub from: u32,
    pub to: u32,
    /// Index into `SequenceDiagram::events` of the send.
    pub send_event: u32,
    /// Index of the (first) receive, if it arrived.
    pub receive_event: Option<u32>,
    /// A second copy the network duplicated arrived too (its receive index).
    pub duplicate_receive_event: Option<u32>,
    pub lost: Option<LostMessage>,
}

/// A request the user may want to look at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceSuggestion {
    pub correlation: Correlation,
    /// e.g. `clients op 17 ok`.
    pub label: String,
}

/// Everything the sequence panel draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceDiagram {
    pub correlation: Correlation,
    pub title: String,
    pub lifelines: Vec<Lifeline>,
    /// Process events in trace order (so Lamport order respects happens-before).
    pub events: Vec<SequenceEvent>,
    pub arrows: Vec<SequenceArrow>,
    /// Why some of it is not drawn (a bound was reached), if it was cut.
    pub truncated: Option<String>,
    /// The trace ring had already forgotten events before `first_seq_available`:
    /// the start of an old request may be missing.
    pub history_cut: bool,
    pub first_seq_available: u64,
    /// Recent completed requests, newest first (quick picks).
    pub suggestions: Vec<SequenceSuggestion>,
}

/// A payload's request identity: which client operation it belongs to, and
/// whether it is an answer keyed by something the request's messages named.
enum PayloadLink {
    /// Carries the request's (client, operation) itself.
    Request(u32, u64),
    /// An answer named by `key` (a call, event or correlation id) from the
    /// node that got the original to the node that sent it.
    Reply(ReplyKey),
    None,
}

/// (replier, original sender, kind of id, id): the answer to an included message.
type ReplyKey = (NodeId, NodeId, u8, u64);
const REPLY_SERVICE_CALL: u8 = 0;
const REPLY_SAGA_EVENT: u8 = 1;
const REPLY_OUTBOX_EVENT: u8 = 2;

fn txn_id_of(message: &TxnMessage) -> Option<TxnId> {
    match message {
        TxnMessage::Prepare { txn, .. }
        | TxnMessage::Vote { txn, .. }
        | TxnMessage::PreCommit { txn }
        | TxnMessage::PreCommitAck { txn }
        | TxnMessage::Decision { txn, .. }
        | TxnMessage::DecisionAck { txn }
        | TxnMessage::DecisionQuery { txn }
        | TxnMessage::StateQuery { txn }
        | TxnMessage::StateReply { txn, .. } => Some(*txn),
        TxnMessage::SagaCommand { saga, .. }
        | TxnMessage::SagaReply { saga, .. }
        | TxnMessage::SagaEvent { saga, .. } => Some(*saga),
        TxnMessage::SagaEventAck { .. }
        | TxnMessage::OutboxEvent { .. }
        | TxnMessage::OutboxEventAck { .. } => None,
    }
}

/// What ties a payload sent `from` → `to` to a client request. Payloads of
/// protocols that carry no request id (replication, heartbeats, metadata)
/// join a diagram only as descendants.
fn payload_link(payload: &Payload, from: NodeId, to: NodeId) -> PayloadLink {
    match payload {
        Payload::Request { operation, .. }
        | Payload::HttpRequest { operation, .. }
        | Payload::RaftKvRequest {
            request: operation, ..
        }
        | Payload::KafkaProduce {
            correlation: operation,
            ..
        }
        | Payload::KafkaProduceBatch {
            correlation: operation,
            ..
        } => PayloadLink::Request(from.0, *operation),
        Payload::Response { operation, .. }
        | Payload::RaftKvResponse {
            request: operation, ..
        }
        | Payload::KafkaProduceResponse {
            correlation: operation,
            ..
        } => PayloadLink::Request(to.0, *operation),
        Payload::ServiceCall {
            trace: SpanRef { node, id },
            ..
        } => PayloadLink::Request(node.0, *id),
        Payload::ServiceReply { call, .. } => {
            PayloadLink::Reply((from, to, REPLY_SERVICE_CALL, *call))
        }
        Payload::Txn(TxnMessage::SagaEventAck { event }) => {
            PayloadLink::Reply((from, to, REPLY_SAGA_EVENT, *event))
        }
        Payload::Txn(TxnMessage::OutboxEventAck { event }) => {
            PayloadLink::Reply((from, to, REPLY_OUTBOX_EVENT, *event))
        }
        Payload::Txn(message) => match txn_id_of(message) {
            Some(TxnId { client, operation }) => PayloadLink::Request(client, operation),
            None => PayloadLink::None,
        },
        _ => PayloadLink::None,
    }
}

/// The answer an included message expects, so the reply joins the diagram.
fn expected_reply(payload: &Payload, from: NodeId, to: NodeId) -> Option<ReplyKey> {
    match payload {
        Payload::ServiceCall { call, .. } => Some((to, from, REPLY_SERVICE_CALL, *call)),
        Payload::Txn(TxnMessage::SagaEvent { event, .. }) => {
            Some((to, from, REPLY_SAGA_EVENT, *event))
        }
        Payload::Txn(TxnMessage::OutboxEvent { event }) => {
            Some((to, from, REPLY_OUTBOX_EVENT, *event))
        }
        _ => None,
    }
}

/// Does this event start a handler (so the sends after it are its effects)?
fn starts_handler(kind: &TraceKind) -> bool {
    matches!(
        kind,
        TraceKind::NodeStart { .. }
            | TraceKind::Deliver { .. }
            | TraceKind::Timer { .. }
            | TraceKind::Fault { .. }
    )
}

/// The most recent completed client operations in `events`, newest first.
pub fn recent_requests(events: &[&TraceEvent], node_names: &[String]) -> Vec<SequenceSuggestion> {
    let mut seen = BTreeSet::new();
    let mut suggestions = Vec::new();
    for event in events.iter().rev() {
        if let TraceKind::Operation {
            node,
            operation,
            phase,
            ..
        } = &event.kind
            && *phase != OperationPhase::Invoke
            && seen.insert((node.0, *operation))
        {
            suggestions.push(SequenceSuggestion {
                correlation: Correlation::Request {
                    client: node.0,
                    operation: *operation,
                },
                label: format!(
                    "{} op {operation} {}",
                    node_names.get(node.index()).map_or("?", String::as_str),
                    phase.as_str()
                ),
            });
            if suggestions.len() == MAX_SEQUENCE_SUGGESTIONS {
                break;
            }
        }
    }
    suggestions
}

/// Builds the diagram of `correlation` from `events` (oldest first, as the
/// trace ring holds them). Pure: the same events give the same diagram.
pub fn sequence_diagram(
    events: &[&TraceEvent],
    node_names: &[String],
    correlation: Correlation,
) -> SequenceDiagram {
    let max_hops = match correlation {
        Correlation::Request { .. } => REQUEST_DESCENDANT_HOPS,
        Correlation::Message { .. } => MESSAGE_DESCENDANT_HOPS,
    };
    let mut truncated: Option<String> = None;

    // Pass 1: which messages and local events belong, and which nodes.
    // Message id → hops from a message that names the correlation itself.
    let mut included: BTreeMap<MessageId, u32> = BTreeMap::new();
    let mut replies: BTreeSet<ReplyKey> = BTreeSet::new();
    let mut lifeline_nodes: BTreeSet<NodeId> = BTreeSet::new();
    let mut skipped_messages = 0u64;
    // The node whose handler is running and, if its trigger was an included
    // message, how many hops that message was from the correlation.
    let mut handler: Option<(NodeId, Option<u32>)> = None;
    for event in events {
        match &event.kind {
            TraceKind::Deliver { message, to, .. } => {
                handler = Some((*to, included.get(message).copied()));
            }
            kind if starts_handler(kind) => handler = None,
            TraceKind::Send {
                message,
                from,
                to,
                payload,
                ..
            } => {
                let named = match (correlation, payload_link(payload, *from, *to)) {
                    (Correlation::Message { id }, _) => message.0 == id,
                    (
                        Correlation::Request { client, operation },
                        PayloadLink::Request(link_client, link_operation),
                    ) => client == link_client && operation == link_operation,
                    (Correlation::Request { .. }, PayloadLink::Reply(key)) => {
                        replies.contains(&key)
                    }
                    (Correlation::Request { .. }, PayloadLink::None) => false,
                };
                let hops = if named {
                    Some(0)
                } else {
                    match handler {
                        Some((node, Some(trigger_hops)))
                            if node == *from && trigger_hops < max_hops =>
                        {
                            Some(trigger_hops + 1)
                        }
                        _ => None,
                    }
                };
                let Some(hops) = hops else { continue };
                let mut new_nodes = 0;
                for node in [from, to] {
                    if !lifeline_nodes.contains(node) {
                        new_nodes += 1;
                    }
                }
                if included.len() >= MAX_SEQUENCE_ARROWS
                    || lifeline_nodes.len() + new_nodes > MAX_SEQUENCE_LIFELINES
                {
                    skipped_messages += 1;
                    continue;
                }
                included.insert(*message, hops);
                lifeline_nodes.insert(*from);
                lifeline_nodes.insert(*to);
                if let Some(key) = expected_reply(payload, *from, *to) {
                    replies.insert(key);
                }
            }
            _ => {}
        }
    }
    if let Correlation::Request { client, .. } = correlation
        && lifeline_nodes.is_empty()
        && (client as usize) < node_names.len()
    {
        // A request still waiting to be sent (or one whose messages are all
        // gone from the ring) still shows its client.
        lifeline_nodes.insert(NodeId(client));
    }
    if skipped_messages > 0 {
        truncated = Some(format!(
            "{skipped_messages} more message(s) not drawn: a diagram shows at most \
             {MAX_SEQUENCE_ARROWS} arrows and {MAX_SEQUENCE_LIFELINES} lifelines"
        ));
    }

    let lifelines: Vec<Lifeline> = lifeline_nodes
        .iter()
        .map(|node| Lifeline {
            node: node.0,
            name: node_names
                .get(node.index())
                .cloned()
                .unwrap_or_else(|| format!("n{}", node.0)),
        })
        .collect();
    let lifeline_of: BTreeMap<NodeId, u32> = lifeline_nodes
        .iter()
        .enumerate()
        .map(|(index, node)| (*node, index as u32))
        .collect();

    // The span of the diagram: crash and restart marks outside it say nothing.
    let span = events
        .iter()
        .filter_map(|event| match &event.kind {
            TraceKind::Send { message, .. }
            | TraceKind::Deliver { message, .. }
            | TraceKind::Drop { message, .. }
                if included.contains_key(message) =>
            {
                Some(event.time)
            }
            _ => None,
        })
        .fold(None, |span: Option<(_, _)>, time| match span {
            None => Some((time, time)),
            Some((first, last)) => Some((first.min(time), last.max(time))),
        });

    // Pass 2: the events in trace order with Lamport clocks.
    let mut clocks: Vec<u64> = vec![0; lifelines.len()];
    let mut carried: BTreeMap<MessageId, u64> = BTreeMap::new();
    let mut arrow_of: BTreeMap<MessageId, usize> = BTreeMap::new();
    let mut diagram_events: Vec<SequenceEvent> = Vec::new();
    let mut arrows: Vec<SequenceArrow> = Vec::new();
    let mut local_events = 0usize;
    let mut skipped_local = 0u64;
    let mut down: BTreeSet<NodeId> = BTreeSet::new();
    let within_span = |event: &TraceEvent| {
        span.is_some_and(|(first, last)| event.time >= first && event.time <= last)
    };
    for event in events {
        let push = |diagram_events: &mut Vec<SequenceEvent>,
                    clocks: &mut Vec<u64>,
                    lifeline: u32,
                    lamport: u64,
                    kind: SequenceEventKind,
                    label: String| {
            clocks[lifeline as usize] = lamport;
            diagram_events.push(SequenceEvent {
                seq: event.seq,
                time_us: event.time.as_micros(),
                lifeline,
                lamport,
                kind,
                label,
            });
            (diagram_events.len() - 1) as u32
        };
        match &event.kind {
            TraceKind::Send {
                message,
                from,
                to,
                class,
                payload,
            } if included.contains_key(message) => {
                let (Some(&from_line), Some(&to_line)) =
                    (lifeline_of.get(from), lifeline_of.get(to))
                else {
                    continue;
                };
                let lamport = clocks[from_line as usize] + 1;
                let label = payload.to_string();
                let send_event = push(
                    &mut diagram_events,
                    &mut clocks,
                    from_line,
                    lamport,
                    SequenceEventKind::Send,
                    format!("{message} {label}"),
                );
                carried.insert(*message, lamport);
                arrow_of.insert(*message, arrows.len());
                arrows.push(SequenceArrow {
                    message: message.0,
                    class: *class,
                    label,
                    from: from_line,
                    to: to_line,
                    send_event,
                    receive_event: None,
                    duplicate_receive_event: None,
                    lost: None,
                });
            }
            TraceKind::Deliver {
                message,
                to,
                duplicate,
                ..
            } => {
                let (Some(&arrow), Some(&to_line), Some(&sent_clock)) = (
                    arrow_of.get(message),
                    lifeline_of.get(to),
                    carried.get(message),
                ) else {
                    continue;
                };
                let lamport = clocks[to_line as usize].max(sent_clock) + 1;
                let label = format!(
                    "{message} {}{}",
                    arrows[arrow].label,
                    if *duplicate { " (duplicate)" } else { "" }
                );
                let receive = push(
                    &mut diagram_events,
                    &mut clocks,
                    to_line,
                    lamport,
                    SequenceEventKind::Receive,
                    label,
                );
                let arrow = &mut arrows[arrow];
                if arrow.receive_event.is_none() {
                    arrow.receive_event = Some(receive);
                } else {
                    arrow.duplicate_receive_event = Some(receive);
                }
            }
            TraceKind::Drop {
                message, reason, ..
            } => {
                let Some(&arrow) = arrow_of.get(message) else {
                    continue;
                };
                let sent_us = diagram_events[arrows[arrow].send_event as usize].time_us;
                let at_receiver = match reason {
                    DropReason::NodeDown => true,
                    DropReason::Partition => event.time.as_micros() > sent_us,
                    DropReason::Loss | DropReason::InFlightLimit => false,
                };
                arrows[arrow].lost.get_or_insert(LostMessage {
                    seq: event.seq,
                    time_us: event.time.as_micros(),
                    reason: *reason,
                    at_receiver,
                });
            }
            TraceKind::Operation {
                node,
                operation,
                phase,
                detail,
            } => {
                let Correlation::Request {
                    client,
                    operation: wanted,
                } = correlation
                else {
                    continue;
                };
                if node.0 != client || *operation != wanted {
                    continue;
                }
                let Some(&line) = lifeline_of.get(node) else {
                    continue;
                };
                if local_events >= MAX_SEQUENCE_LOCAL_EVENTS {
                    skipped_local += 1;
                    continue;
                }
                local_events += 1;
                let lamport = clocks[line as usize] + 1;
                let separator = if detail.is_empty() { "" } else { " " };
                push(
                    &mut diagram_events,
                    &mut clocks,
                    line,
                    lamport,
                    SequenceEventKind::Operation,
                    format!("op {operation} {}{separator}{detail}", phase.as_str()),
                );
            }
            TraceKind::Fault { text, nodes, .. } if text.starts_with("crash ") => {
                for node in nodes {
                    down.insert(*node);
                    let Some(&line) = lifeline_of.get(node) else {
                        continue;
                    };
                    if !within_span(event) {
                        continue;
                    }
                    if local_events >= MAX_SEQUENCE_LOCAL_EVENTS {
                        skipped_local += 1;
                        continue;
                    }
                    local_events += 1;
                    let lamport = clocks[line as usize] + 1;
                    push(
                        &mut diagram_events,
                        &mut clocks,
                        line,
                        lamport,
                        SequenceEventKind::Crash,
                        text.clone(),
                    );
                }
            }
            // A start after a crash is a restart (the first start is at t = 0).
            TraceKind::NodeStart { node } if down.remove(node) => {
                let Some(&line) = lifeline_of.get(node) else {
                    continue;
                };
                if !within_span(event) {
                    continue;
                }
                if local_events >= MAX_SEQUENCE_LOCAL_EVENTS {
                    skipped_local += 1;
                    continue;
                }
                local_events += 1;
                let lamport = clocks[line as usize] + 1;
                push(
                    &mut diagram_events,
                    &mut clocks,
                    line,
                    lamport,
                    SequenceEventKind::Restart,
                    format!("restart {}", lifelines[line as usize].name),
                );
            }
            _ => {}
        }
    }
    if skipped_local > 0 {
        let note = format!(
            "{skipped_local} local mark(s) not drawn (at most {MAX_SEQUENCE_LOCAL_EVENTS})"
        );
        truncated = Some(match truncated {
            Some(earlier) => format!("{earlier}; {note}"),
            None => note,
        });
    }
    let first_seq_available = events.first().map_or(0, |event| event.seq);
    SequenceDiagram {
        correlation,
        title: correlation.describe(node_names),
        lifelines,
        events: diagram_events,
        arrows,
        truncated,
        history_cut: first_seq_available > 0,
        first_seq_available,
        suggestions: recent_requests(events, node_names),
    }
}

impl crate::sim::Simulator {
    /// The sequence diagram of `correlation` over the trace ring.
    pub fn sequence_diagram(&self, correlation: Correlation) -> SequenceDiagram {
        let events: Vec<&TraceEvent> = self.trace().recent().collect();
        sequence_diagram(&events, self.node_names(), correlation)
    }

    /// The diagram for what a user typed (see `Correlation::parse`); empty
    /// text picks the most recent completed request.
    pub fn sequence_diagram_for_text(&self, text: &str) -> Result<SequenceDiagram, String> {
        let events: Vec<&TraceEvent> = self.trace().recent().collect();
        let correlation = if text.trim().is_empty() {
            recent_requests(&events, self.node_names())
                .first()
                .map(|suggestion| suggestion.correlation)
                .ok_or_else(|| {
                    "no request has completed yet: run the simulation a little, or type a \
                     message id such as m12"
                        .to_string()
                })?
        } else {
            Correlation::parse(text, self.node_names())?
        };
        Ok(sequence_diagram(&events, self.node_names(), correlation))
    }
}
