//! Validation of the RabbitMQ kinds: every bad value and dangling exchange/queue reference named by JSON path.

use super::limits::*;
use super::validate::{Validator, check_probability, closest};
use super::*;
use std::collections::BTreeMap;

/// AMQP short strings (routing keys, names) are at most 255 bytes.
const MAX_AMQP_SHORT_STRING_BYTES: usize = 255;
/// RabbitMQ 4's default `max_message_size` (16 MiB).
const MAX_RABBIT_BODY_BYTES: u32 = 16 * 1024 * 1024;

fn did_you_mean<'b>(wanted: &str, candidates: impl Iterator<Item = &'b str>) -> String {
    closest(wanted, candidates)
        .map(|name| format!(" (did you mean {name:?}?)"))
        .unwrap_or_default()
}

impl<'a> Validator<'a> {
    fn short_string(&mut self, path: &str, text: &str) {
        if text.len() > MAX_AMQP_SHORT_STRING_BYTES {
            self.problems.push(
                path,
                format!(
                    "expected at most {MAX_AMQP_SHORT_STRING_BYTES} bytes (an AMQP short string), found {}",
                    text.len()
                ),
            );
        }
    }

    fn exchange_reference(&mut self, path: &str, spec: &RabbitBrokerSpec, name: &str) {
        if name.is_empty() || spec.exchanges.iter().any(|exchange| exchange.name == name) {
            return;
        }
        let hint = did_you_mean(name, spec.exchanges.iter().map(|e| e.name.as_str()));
        self.problems.push(
            path,
            format!("no exchange {name:?} is declared on this broker{hint} (\"\" is the default exchange)"),
        );
    }

    pub(super) fn rabbit_broker(&mut self, properties: &str, spec: &RabbitBrokerSpec) {
        self.duration_ms(
            &format!("{properties}.heartbeat_timeout_ms"),
            spec.heartbeat_timeout_ms,
        );
        if spec.heartbeat_timeout_ms > 0 && spec.heartbeat_timeout_ms < 4 {
            self.problems.push(
                format!("{properties}.heartbeat_timeout_ms"),
                format!(
                    "expected at least 4 ms, found {}",
                    spec.heartbeat_timeout_ms
                ),
            );
        }
        let counts = [
            ("exchanges", spec.exchanges.len(), MAX_RABBIT_EXCHANGES),
            ("queues", spec.queues.len(), MAX_RABBIT_QUEUES),
            ("bindings", spec.bindings.len(), MAX_RABBIT_BINDINGS),
        ];
        for (field, count, limit) in counts {
            if count > limit {
                self.problems.push(
                    format!("{properties}.{field}"),
                    format!("expected at most {limit} {field}, found {count}"),
                );
            }
        }
        let mut exchange_names: BTreeMap<&str, usize> = BTreeMap::new();
        for (index, exchange) in spec.exchanges.iter().enumerate() {
            let path = format!("{properties}.exchanges[{index}]");
            self.identifier(&format!("{path}.name"), &exchange.name);
            if exchange.name.starts_with("amq.") {
                self.problems.push(
                    format!("{path}.name"),
                    "names starting with \"amq.\" are reserved by RabbitMQ (ACCESS_REFUSED)",
                );
            }
            if let Some(first) = exchange_names.insert(&exchange.name, index) {
                self.problems.push(
                    format!("{path}.name"),
                    format!(
                        "duplicate exchange {:?} (first at exchanges[{first}])",
                        exchange.name
                    ),
                );
            }
        }
        for (index, exchange) in spec.exchanges.iter().enumerate() {
            if let Some(alternate) = &exchange.alternate_exchange {
                let path = format!("{properties}.exchanges[{index}].alternate_exchange");
                if alternate.is_empty() {
                    self.problems.push(
                        path,
                        "expected a declared exchange (the default exchange cannot be an alternate exchange)",
                    );
                } else if alternate == &exchange.name {
                    self.problems
                        .push(path, "an exchange cannot be its own alternate exchange");
                } else {
                    self.exchange_reference(&path, spec, alternate);
                }
            }
        }
        let mut queue_names: BTreeMap<&str, usize> = BTreeMap::new();
        for (index, queue) in spec.queues.iter().enumerate() {
            let path = format!("{properties}.queues[{index}]");
            self.rabbit_queue(&path, spec, queue);
            if let Some(first) = queue_names.insert(&queue.name, index) {
                self.problems.push(
                    format!("{path}.name"),
                    format!(
                        "duplicate queue {:?} (first at queues[{first}])",
                        queue.name
                    ),
                );
            }
        }
        for (index, binding) in spec.bindings.iter().enumerate() {
            let path = format!("{properties}.bindings[{index}]");
            if binding.exchange.is_empty() {
                self.problems.push(
                    format!("{path}.exchange"),
                    "the default exchange cannot be bound explicitly (it routes by queue name already)",
                );
            } else {
                self.exchange_reference(&format!("{path}.exchange"), spec, &binding.exchange);
            }
            if !queue_names.contains_key(binding.queue.as_str()) {
                let hint = did_you_mean(&binding.queue, queue_names.keys().copied());
                self.problems.push(
                    format!("{path}.queue"),
                    format!(
                        "no queue {:?} is declared on this broker{hint}",
                        binding.queue
                    ),
                );
            }
            self.short_string(&format!("{path}.routing_key"), &binding.routing_key);
            let headers_exchange = spec.exchanges.iter().any(|exchange| {
                exchange.name == binding.exchange
                    && exchange.exchange_type == RabbitExchangeType::Headers
            });
            if !binding.headers.is_empty() && !headers_exchange {
                self.problems.push(
                    format!("{path}.headers"),
                    format!(
                        "binding headers only apply to a headers exchange, and {:?} is not one",
                        binding.exchange
                    ),
                );
            }
        }
    }

    fn rabbit_queue(&mut self, path: &str, spec: &RabbitBrokerSpec, queue: &RabbitQueueSpec) {
        self.identifier(&format!("{path}.name"), &queue.name);
        if queue.name.starts_with("amq.") {
            self.problems.push(
                format!("{path}.name"),
                "names starting with \"amq.\" are reserved by RabbitMQ (ACCESS_REFUSED)",
            );
        }
        if queue.queue_type == RabbitQueueType::Quorum {
            self.quorum_queue(path, queue);
        } else if queue.delivery_limit.is_some() || !queue.replicas.is_empty() {
            let field = if queue.delivery_limit.is_some() {
                "delivery_limit"
            } else {
                "replicas"
            };
            self.problems.push(
                format!("{path}.{field}"),
                format!(
                    "{field} applies to quorum queues only (queue_type \"quorum\"); classic queues live on one node and redeliver without limit"
                ),
            );
        }
        if queue.exclusive && queue.durable {
            self.problems.push(
                format!("{path}.durable"),
                "an exclusive queue is deleted with its connection; set durable to false (RabbitMQ 4 refuses durable exclusive queues)",
            );
        }
        if let Some(ttl) = queue.message_ttl_ms
            && ttl > MAX_DURATION_MS
        {
            self.problems.push(
                format!("{path}.message_ttl_ms"),
                format!("expected 0 to {MAX_DURATION_MS} ms, found {ttl}"),
            );
        }
        if let Some(expires) = queue.expires_ms {
            self.duration_ms(&format!("{path}.expires_ms"), expires);
        }
        if let Some(limit) = queue.max_length_messages
            && limit as usize > MAX_RABBIT_QUEUE_MESSAGES
        {
            self.problems.push(
                format!("{path}.max_length_messages"),
                format!("expected 0 to {MAX_RABBIT_QUEUE_MESSAGES}, found {limit}"),
            );
        }
        if queue.max_priority == Some(0) {
            self.problems.push(
                format!("{path}.max_priority"),
                "expected 1 to 255 (RabbitMQ advises at most 10), found 0",
            );
        }
        if let Some(exchange) = &queue.dead_letter_exchange {
            self.exchange_reference(&format!("{path}.dead_letter_exchange"), spec, exchange);
        }
        if let Some(key) = &queue.dead_letter_routing_key {
            self.short_string(&format!("{path}.dead_letter_routing_key"), key);
            if queue.dead_letter_exchange.is_none() {
                self.problems.push(
                    format!("{path}.dead_letter_routing_key"),
                    "has no effect without dead_letter_exchange",
                );
            }
        }
        if queue.overflow == RabbitOverflow::RejectPublishDlx
            && queue.dead_letter_exchange.is_none()
        {
            self.problems.push(
                format!("{path}.overflow"),
                "reject_publish_dlx needs a dead_letter_exchange",
            );
        }
    }

    pub(super) fn rabbit_publisher(&mut self, properties: &str, spec: &RabbitPublisherSpec) {
        if spec.messages.is_empty() || spec.messages.len() > MAX_RABBIT_MESSAGE_TEMPLATES {
            self.problems.push(
                format!("{properties}.messages"),
                format!(
                    "expected 1 to {MAX_RABBIT_MESSAGE_TEMPLATES} message templates, found {}",
                    spec.messages.len()
                ),
            );
        }
        for (index, template) in spec.messages.iter().enumerate() {
            let path = format!("{properties}.messages[{index}]");
            self.short_string(&format!("{path}.routing_key"), &template.routing_key);
            if !template.weight.is_finite() || template.weight <= 0.0 {
                self.problems.push(
                    format!("{path}.weight"),
                    format!("expected a positive weight, found {}", template.weight),
                );
            }
            if let Some(expiration) = template.expiration_ms
                && expiration > MAX_DURATION_MS
            {
                self.problems.push(
                    format!("{path}.expiration_ms"),
                    format!("expected 0 to {MAX_DURATION_MS} ms, found {expiration}"),
                );
            }
        }
        let inter_arrival_path = format!("{properties}.inter_arrival");
        spec.inter_arrival
            .validate(&inter_arrival_path, self.problems);
        if spec.inter_arrival.mean_ms().is_some_and(|mean| mean < 0.01) {
            self.problems.push(
                inter_arrival_path,
                "expected a mean time between messages of at least 0.01 ms",
            );
        }
        if spec.body_bytes > MAX_RABBIT_BODY_BYTES {
            self.problems.push(
                format!("{properties}.body_bytes"),
                format!(
                    "expected at most {MAX_RABBIT_BODY_BYTES} (RabbitMQ's max_message_size), found {}",
                    spec.body_bytes
                ),
            );
        }
        if spec.retries > MAX_RABBIT_RETRIES {
            self.problems.push(
                format!("{properties}.retries"),
                format!("expected 0 to {MAX_RABBIT_RETRIES}, found {}", spec.retries),
            );
        }
        self.duration_ms(
            &format!("{properties}.confirm_timeout_ms"),
            spec.confirm_timeout_ms,
        );
        if spec.max_unconfirmed == 0 || spec.max_unconfirmed > MAX_RABBIT_UNCONFIRMED {
            self.problems.push(
                format!("{properties}.max_unconfirmed"),
                format!(
                    "expected 1 to {MAX_RABBIT_UNCONFIRMED}, found {}",
                    spec.max_unconfirmed
                ),
            );
        }
        if spec.buffer_messages == 0 || spec.buffer_messages > MAX_RABBIT_BUFFER_MESSAGES {
            self.problems.push(
                format!("{properties}.buffer_messages"),
                format!(
                    "expected 1 to {MAX_RABBIT_BUFFER_MESSAGES}, found {}",
                    spec.buffer_messages
                ),
            );
        }
    }

    pub(super) fn rabbit_consumer(&mut self, properties: &str, spec: &RabbitConsumerSpec) {
        if spec.prefetch_count > MAX_RABBIT_PREFETCH {
            self.problems.push(
                format!("{properties}.prefetch_count"),
                format!(
                    "expected 0 (unlimited) to {MAX_RABBIT_PREFETCH}, found {}",
                    spec.prefetch_count
                ),
            );
        }
        if spec.concurrency == 0 || spec.concurrency > MAX_RABBIT_CONCURRENCY {
            self.problems.push(
                format!("{properties}.concurrency"),
                format!(
                    "expected 1 to {MAX_RABBIT_CONCURRENCY}, found {}",
                    spec.concurrency
                ),
            );
        }
        spec.processing_time
            .validate(&format!("{properties}.processing_time"), self.problems);
        check_probability(
            self.problems,
            format!("{properties}.negative_ack_probability"),
            spec.negative_ack_probability,
        );
        if spec.dedup_window_messages == 0 || spec.dedup_window_messages > MAX_RABBIT_DEDUP_WINDOW {
            self.problems.push(
                format!("{properties}.dedup_window_messages"),
                format!(
                    "expected 1 to {MAX_RABBIT_DEDUP_WINDOW}, found {}",
                    spec.dedup_window_messages
                ),
            );
        }
        self.duration_ms(
            &format!("{properties}.reconnect_delay_ms"),
            spec.reconnect_delay_ms,
        );
        if spec.start_ms > MAX_DURATION_MS {
            self.problems.push(
                format!("{properties}.start_ms"),
                format!(
                    "expected 0 to {MAX_DURATION_MS} ms, found {}",
                    spec.start_ms
                ),
            );
        }
        if let Some(cancel_at) = spec.cancel_at_ms
            && cancel_at > MAX_DURATION_MS
        {
            self.problems.push(
                format!("{properties}.cancel_at_ms"),
                format!("expected 0 to {MAX_DURATION_MS} ms, found {cancel_at}"),
            );
        }
    }

    /// What the simulated quorum queue supports: always durable, never
    /// exclusive (as RabbitMQ requires); the arguments this model does not
    /// replicate yet are refused rather than silently ignored.
    fn quorum_queue(&mut self, path: &str, queue: &RabbitQueueSpec) {
        if !queue.durable {
            self.problems.push(
                format!("{path}.durable"),
                "quorum queues are always durable (RabbitMQ refuses durable=false): set durable to true",
            );
        }
        if queue.exclusive {
            self.problems.push(
                format!("{path}.exclusive"),
                "quorum queues cannot be exclusive (RabbitMQ refuses it)",
            );
        }
        if queue.delivery_limit == Some(0) {
            self.problems.push(
                format!("{path}.delivery_limit"),
                "expected at least 1 (absent means RabbitMQ 4.0's default of 20)",
            );
        }
        let unsupported = [
            ("message_ttl_ms", queue.message_ttl_ms.is_some()),
            ("expires_ms", queue.expires_ms.is_some()),
            ("max_length_messages", queue.max_length_messages.is_some()),
            ("max_length_bytes", queue.max_length_bytes.is_some()),
            ("max_priority", queue.max_priority.is_some()),
            ("overflow", queue.overflow != RabbitOverflow::DropHead),
        ];
        for (field, set) in unsupported {
            if set {
                self.problems.push(
                    format!("{path}.{field}"),
                    format!("{field} is not simulated for quorum queues yet: remove it or use a classic queue"),
                );
            }
        }
        if queue.replicas.len() > MAX_RABBIT_QUORUM_MEMBERS {
            self.problems.push(
                format!("{path}.replicas"),
                format!(
                    "expected at most {MAX_RABBIT_QUORUM_MEMBERS} members, found {}",
                    queue.replicas.len()
                ),
            );
        }
    }

    /// Quorum queue replicas name rabbit_broker nodes, and no member declares
    /// another queue with the same name (a cluster has one queue per name).
    fn quorum_replica_references(&mut self, index: usize, spec: &'a RabbitBrokerSpec) {
        for (queue_index, queue) in spec.queues.iter().enumerate() {
            if queue.queue_type != RabbitQueueType::Quorum {
                continue;
            }
            let path = format!("topology.nodes[{index}].properties.queues[{queue_index}].replicas");
            for (replica_index, replica) in queue.replicas.iter().enumerate() {
                let replica_path = format!("{path}[{replica_index}]");
                let Some(member) = self.rabbit_broker_spec(&replica_path, replica) else {
                    continue;
                };
                if replica != &self.scenario.topology.nodes[index].id
                    && member.queues.iter().any(|other| other.name == queue.name)
                {
                    self.problems.push(
                        replica_path,
                        format!(
                            "broker {replica:?} declares its own queue {:?}: a member of quorum queue {:?} cannot declare a queue with the same name",
                            queue.name, queue.name
                        ),
                    );
                }
            }
        }
    }

    fn rabbit_broker_spec(&mut self, path: &str, broker: &str) -> Option<&'a RabbitBrokerSpec> {
        let index = self.node_reference_of_kind(path, broker, "rabbit_broker")?;
        match &self.scenario.topology.nodes[index].spec {
            ComponentSpec::RabbitBroker(spec) => Some(spec),
            _ => None,
        }
    }

    /// Publishers name a broker and one of its exchanges; consumers a broker and one of its queues.
    pub(super) fn rabbit_references(&mut self, index: usize, node: &'a Node) {
        let path = format!("topology.nodes[{index}].properties");
        match &node.spec {
            ComponentSpec::RabbitBroker(spec) => self.quorum_replica_references(index, spec),
            ComponentSpec::RabbitPublisher(spec) => {
                if let Some(broker) =
                    self.rabbit_broker_spec(&format!("{path}.broker"), &spec.broker)
                {
                    self.exchange_reference(&format!("{path}.exchange"), broker, &spec.exchange);
                }
            }
            ComponentSpec::RabbitConsumer(spec) => {
                if let Some(broker) =
                    self.rabbit_broker_spec(&format!("{path}.broker"), &spec.broker)
                    && !broker.queues.iter().any(|queue| queue.name == spec.queue)
                    && !super::rabbit::quorum_queue_placements(self.scenario)
                        .iter()
                        .any(|placement| {
                            placement.spec.name == spec.queue
                                && placement.members.iter().any(|member| {
                                    self.scenario.topology.nodes[*member].id == spec.broker
                                })
                        })
                {
                    let hint = did_you_mean(
                        &spec.queue,
                        broker.queues.iter().map(|queue| queue.name.as_str()),
                    );
                    self.problems.push(
                        format!("{path}.queue"),
                        format!(
                            "broker {:?} declares no queue {:?}{hint}",
                            spec.broker, spec.queue
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}
