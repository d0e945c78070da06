//! Scenario types of the RabbitMQ slice: a broker node with its exchanges, queues and bindings, publishers and consumers.
//!
//! Names follow AMQP 0-9-1 and the RabbitMQ documentation (queue arguments
//! such as `x-message-ttl` become `message_ttl_ms`, with the unit in the
//! name). Exchanges, queues and bindings are declared in the broker's spec,
//! as RabbitMQ's definitions file (`load_definitions`) declares them at boot.

use crate::distribution::Distribution;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A RabbitMQ node hosting exchanges and classic queues.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RabbitBrokerSpec {
    /// Exchanges declared at boot. The default exchange (`""`, routing by
    /// queue name) always exists and cannot be declared.
    #[serde(default)]
    pub exchanges: Vec<RabbitExchangeSpec>,
    /// Queues declared at boot (re-declared empty after a restart unless
    /// durable, whose persistent messages are recovered from disk).
    #[serde(default)]
    pub queues: Vec<RabbitQueueSpec>,
    /// Exchange → queue bindings.
    #[serde(default)]
    pub bindings: Vec<RabbitBindingSpec>,
    /// AMQP connection heartbeat timeout (RabbitMQ's `heartbeat`, default
    /// 60 s). Clients and the broker send a heartbeat every half of it; a
    /// connection silent for this long is closed, and its unacknowledged
    /// deliveries are requeued (R1). Lower it to see redelivery sooner.
    #[serde(default = "default_heartbeat_timeout_ms")]
    pub heartbeat_timeout_ms: u64,
}

fn default_heartbeat_timeout_ms() -> u64 {
    60_000
}

/// AMQP exchange types.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RabbitExchangeType {
    /// Routing key equals the binding key.
    #[default]
    Direct,
    /// Every bound queue, routing key ignored.
    Fanout,
    /// Dot-separated words; in binding keys `*` matches exactly one word and
    /// `#` zero or more.
    Topic,
    /// Message headers against binding headers, `x-match` all or any.
    Headers,
}

impl RabbitExchangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            RabbitExchangeType::Direct => "direct",
            RabbitExchangeType::Fanout => "fanout",
            RabbitExchangeType::Topic => "topic",
            RabbitExchangeType::Headers => "headers",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RabbitExchangeSpec {
    pub name: String,
    #[serde(rename = "type", default)]
    pub exchange_type: RabbitExchangeType,
    /// `alternate-exchange`: messages this exchange cannot route go there
    /// (with their routing key) instead of being dropped or returned.
    #[serde(default)]
    pub alternate_exchange: Option<String>,
}

/// `x-queue-type`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RabbitQueueType {
    /// A classic queue: lives on one node, messages on that node's disk
    /// when durable and persistent.
    #[default]
    Classic,
    /// A quorum queue: a Raft group across `replicas` brokers. Always
    /// durable, every message persisted; a publisher confirm means a majority
    /// of members has the message; survives the loss of a minority of members
    /// and is unavailable (publishes not confirmed), not lossy, without a majority.
    Quorum,
}

impl RabbitQueueType {
    pub fn as_str(self) -> &'static str {
        match self {
            RabbitQueueType::Classic => "classic",
            RabbitQueueType::Quorum => "quorum",
        }
    }
}

/// `x-overflow`: what a full queue (max length reached) does with a new message.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RabbitOverflow {
    /// Drop (or dead-letter, reason `maxlen`) the oldest ready message.
    #[default]
    DropHead,
    /// Refuse the new message; a publisher with confirms gets a nack.
    RejectPublish,
    /// As `reject_publish`, and also dead-letter the refused message.
    RejectPublishDlx,
}

impl RabbitOverflow {
    pub fn as_str(self) -> &'static str {
        match self {
            RabbitOverflow::DropHead => "drop-head",
            RabbitOverflow::RejectPublish => "reject-publish",
            RabbitOverflow::RejectPublishDlx => "reject-publish-dlx",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RabbitQueueSpec {
    pub name: String,
    /// `x-queue-type`: `classic` (one node) or `quorum` (Raft-replicated over `replicas`).
    #[serde(default)]
    pub queue_type: RabbitQueueType,
    /// A durable queue survives a broker restart, with its persistent messages.
    #[serde(default = "default_true")]
    pub durable: bool,
    /// Owned by the first consumer's connection, refused to others, deleted
    /// (messages discarded, not dead-lettered) when that connection closes.
    #[serde(default)]
    pub exclusive: bool,
    /// `x-message-ttl`: messages expire this long after enqueue; an expired
    /// message is removed (dead-lettered, reason `expired`) when it reaches the head.
    #[serde(default)]
    pub message_ttl_ms: Option<u64>,
    /// `x-expires`: the queue is deleted after this long without consumers.
    /// Its messages are discarded, never dead-lettered (R2).
    #[serde(default)]
    pub expires_ms: Option<u64>,
    /// `x-max-length`: ready messages (unacknowledged ones do not count).
    #[serde(default)]
    pub max_length_messages: Option<u32>,
    /// `x-max-length-bytes`: total body size of ready messages.
    #[serde(default)]
    pub max_length_bytes: Option<u64>,
    /// `x-overflow`.
    #[serde(default)]
    pub overflow: RabbitOverflow,
    /// `x-dead-letter-exchange` (`""` is the default exchange).
    #[serde(default)]
    pub dead_letter_exchange: Option<String>,
    /// `x-dead-letter-routing-key`; absent keeps the message's own routing key.
    #[serde(default)]
    pub dead_letter_routing_key: Option<String>,
    /// `x-max-priority`: 1 to 255 (RabbitMQ advises at most 10). Messages with
    /// a higher priority are delivered first; absent: priorities are ignored.
    #[serde(default)]
    pub max_priority: Option<u8>,
    /// `x-delivery-limit`, quorum queues only (validation refuses it on
    /// classic queues): a message returned to the queue (nack/reject with
    /// requeue, or its consumer's connection lost) more than this many times
    /// is dead-lettered with reason `delivery_limit`. Absent: 20, RabbitMQ
    /// 4.0's default (3.x had no limit).
    #[serde(default)]
    pub delivery_limit: Option<u32>,
    /// Quorum queues only: the `rabbit_broker` nodes holding a replica (the
    /// Raft group), this broker included. Absent or empty: this broker and
    /// the next rabbit_broker nodes in topology order, up to 3 members in all
    /// (RabbitMQ's default initial group size). The other members need not
    /// declare the queue: as in a RabbitMQ cluster, they know it and accept
    /// publishes (default exchange) and consumers for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<String>,
}

/// RabbitMQ 4.0's default `x-delivery-limit` for quorum queues.
pub const DEFAULT_QUORUM_DELIVERY_LIMIT: u32 = 20;
/// RabbitMQ's default initial quorum queue group size (`x-quorum-initial-group-size`).
pub const DEFAULT_QUORUM_INITIAL_GROUP_SIZE: usize = 3;

/// One quorum queue of the scenario: where it is declared and its members.
#[derive(Clone, Debug, PartialEq)]
pub struct QuorumQueuePlacement {
    /// Index of the declaring broker in `topology.nodes`.
    pub home: usize,
    /// Position of the queue in the home broker's `queues`.
    pub position: usize,
    pub spec: RabbitQueueSpec,
    /// Indexes of the member brokers in `topology.nodes` (home included, in topology order).
    pub members: Vec<usize>,
}

/// Every quorum queue of a scenario with its members, resolved as the
/// builder and the checkers both need it (unknown replica names are skipped:
/// validation reports them).
pub fn quorum_queue_placements(scenario: &super::Scenario) -> Vec<QuorumQueuePlacement> {
    let brokers: Vec<usize> = scenario
        .topology
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| matches!(node.spec, super::ComponentSpec::RabbitBroker(_)))
        .map(|(index, _)| index)
        .collect();
    let mut placements = Vec::new();
    for (home, node) in scenario.topology.nodes.iter().enumerate() {
        let super::ComponentSpec::RabbitBroker(broker) = &node.spec else {
            continue;
        };
        for (position, queue) in broker.queues.iter().enumerate() {
            if queue.queue_type != RabbitQueueType::Quorum {
                continue;
            }
            let mut members: Vec<usize> = if queue.replicas.is_empty() {
                let start = brokers.iter().position(|b| *b == home).unwrap_or(0);
                (0..brokers.len().min(DEFAULT_QUORUM_INITIAL_GROUP_SIZE))
                    .map(|offset| brokers[(start + offset) % brokers.len()])
                    .collect()
            } else {
                queue
                    .replicas
                    .iter()
                    .filter_map(|name| {
                        scenario
                            .topology
                            .nodes
                            .iter()
                            .position(|candidate| &candidate.id == name)
                            .filter(|index| brokers.contains(index))
                    })
                    .collect()
            };
            if !members.contains(&home) {
                members.push(home);
            }
            members.sort_unstable();
            members.dedup();
            placements.push(QuorumQueuePlacement {
                home,
                position,
                spec: queue.clone(),
                members,
            });
        }
    }
    placements
}

fn default_true() -> bool {
    true
}

impl RabbitQueueSpec {
    /// A durable classic queue with no arguments (for code building scenarios).
    pub fn named(name: &str) -> RabbitQueueSpec {
        RabbitQueueSpec {
            name: name.to_string(),
            queue_type: RabbitQueueType::Classic,
            durable: true,
            exclusive: false,
            message_ttl_ms: None,
            expires_ms: None,
            max_length_messages: None,
            max_length_bytes: None,
            overflow: RabbitOverflow::DropHead,
            dead_letter_exchange: None,
            dead_letter_routing_key: None,
            max_priority: None,
            delivery_limit: None,
            replicas: Vec::new(),
        }
    }
}

/// `x-match` of a headers binding.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RabbitHeadersMatch {
    /// Every binding header must be present with the same value.
    #[default]
    All,
    /// At least one binding header must match.
    Any,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RabbitBindingSpec {
    /// Source exchange (a declared one).
    pub exchange: String,
    /// Destination queue.
    pub queue: String,
    /// Binding key: compared as is (direct), as a pattern (topic), ignored
    /// (fanout, headers).
    #[serde(default)]
    pub routing_key: String,
    /// Headers exchanges only: the headers to match.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Headers exchanges only: `x-match`.
    #[serde(default)]
    pub x_match: RabbitHeadersMatch,
}

/// One kind of message a publisher sends, chosen by weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RabbitMessageTemplate {
    #[serde(default)]
    pub routing_key: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Relative frequency among the publisher's templates.
    #[serde(default = "default_weight")]
    pub weight: f64,
    /// Message priority (for queues with `max_priority`).
    #[serde(default)]
    pub priority: Option<u8>,
    /// Per-message TTL (the `expiration` property).
    #[serde(default)]
    pub expiration_ms: Option<u64>,
}

fn default_weight() -> f64 {
    1.0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RabbitPublisherSpec {
    /// The `rabbit_broker` node to connect to.
    pub broker: String,
    /// Exchange to publish to (`""`: the default exchange).
    #[serde(default)]
    pub exchange: String,
    /// What to publish; each message draws one template by weight.
    pub messages: Vec<RabbitMessageTemplate>,
    /// Time between messages (exponential: Poisson publishing).
    pub inter_arrival: Distribution,
    /// Publisher confirms (`confirm.select`): the broker acks or nacks each message.
    #[serde(default = "default_true")]
    pub confirms: bool,
    /// `delivery_mode` 2: written to disk in durable queues.
    #[serde(default = "default_true")]
    pub persistent: bool,
    /// Unroutable messages are returned (`basic.return`) instead of dropped.
    #[serde(default)]
    pub mandatory: bool,
    #[serde(default = "default_body_bytes")]
    pub body_bytes: u32,
    /// Republish after a nack or a confirm timeout, this many times at most.
    #[serde(default = "default_publish_retries")]
    pub retries: u32,
    /// A message not confirmed within this is republished (at-least-once).
    #[serde(default = "default_confirm_timeout_ms")]
    pub confirm_timeout_ms: u64,
    /// Unconfirmed messages at once; later ones wait in the buffer.
    #[serde(default = "default_max_unconfirmed")]
    pub max_unconfirmed: u32,
    /// Messages waiting to be published beyond this fail at once.
    #[serde(default = "default_buffer_messages")]
    pub buffer_messages: u32,
    /// No new messages after this time (absent: until the end of the run).
    #[serde(default)]
    pub stop_ms: Option<u64>,
}

fn default_body_bytes() -> u32 {
    1_024
}
fn default_publish_retries() -> u32 {
    5
}
fn default_confirm_timeout_ms() -> u64 {
    5_000
}
fn default_max_unconfirmed() -> u32 {
    100
}
fn default_buffer_messages() -> u32 {
    10_000
}

/// How a consumer refuses a message.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RabbitNegativeAck {
    /// `basic.reject` (AMQP, one message).
    #[default]
    Reject,
    /// `basic.nack` (RabbitMQ extension).
    Nack,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RabbitConsumerSpec {
    /// The `rabbit_broker` node to connect to.
    pub broker: String,
    /// A queue that broker declares.
    pub queue: String,
    /// `basic.qos` prefetch count: unacknowledged deliveries at once (0: unlimited).
    #[serde(default = "default_prefetch")]
    pub prefetch_count: u32,
    /// Messages handled at once (the rest of the prefetched ones wait).
    #[serde(default = "default_one")]
    pub concurrency: u32,
    /// `no_ack`: the broker forgets a message once sent (at-most-once).
    #[serde(default)]
    pub auto_ack: bool,
    /// Handling time per message.
    pub processing_time: Distribution,
    /// Probability that handling fails and the message is refused.
    #[serde(default)]
    pub negative_ack_probability: f64,
    #[serde(default)]
    pub negative_ack_method: RabbitNegativeAck,
    /// Requeue refused messages (true) or let the queue dead-letter them (false).
    #[serde(default)]
    pub requeue: bool,
    /// The handler remembers the last `dedup_window_messages` message ids and
    /// acknowledges a repeat without handling it again.
    #[serde(default)]
    pub idempotent: bool,
    #[serde(default = "default_dedup_window")]
    pub dedup_window_messages: u32,
    /// Connect and start consuming at this time (a worker deployed later:
    /// the queue builds up until then).
    #[serde(default)]
    pub start_ms: u64,
    /// `basic.cancel` at this time: no new deliveries, in-flight ones are still acked.
    #[serde(default)]
    pub cancel_at_ms: Option<u64>,
    /// Wait this long before reconnecting after the connection is lost.
    #[serde(default = "default_reconnect_delay_ms")]
    pub reconnect_delay_ms: u64,
}

fn default_prefetch() -> u32 {
    10
}
fn default_one() -> u32 {
    1
}
fn default_dedup_window() -> u32 {
    10_000
}
fn default_reconnect_delay_ms() -> u64 {
    1_000
}
