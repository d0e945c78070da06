//! Semantic validation: every problem in a decoded scenario, each with its JSON path.
//!
//! serde has already enforced types and unknown fields; this checks what types
//! cannot: references between parts, ranges, uniqueness and the hard limits.

use super::limits::*;
use super::problems::Problems;
use super::*;
use crate::checkers::KNOWN_CHECKER_NAMES;
use std::collections::BTreeMap;

mod raft;

pub fn validate(scenario: &Scenario) -> Problems {
    let mut problems = Problems::new();
    let mut validator = Validator {
        scenario,
        problems: &mut problems,
        node_ids: BTreeMap::new(),
        zone_ids: BTreeMap::new(),
    };
    validator.metadata();
    validator.run_settings();
    validator.nodes();
    validator.node_property_references();
    validator.zones();
    validator.links();
    validator.workload();
    validate_services::workload_paths(scenario, validator.problems);
    validator.faults();
    validator.expectations();
    problems
}

pub(super) struct Validator<'a> {
    pub(super) scenario: &'a Scenario,
    pub(super) problems: &'a mut Problems,
    /// Node id → index of its first definition.
    node_ids: BTreeMap<&'a str, usize>,
    zone_ids: BTreeMap<&'a str, usize>,
}

/// Suggests the closest known name, for "did you mean" hints.
pub(super) fn closest<'b>(
    wanted: &str,
    candidates: impl Iterator<Item = &'b str>,
) -> Option<&'b str> {
    candidates
        .map(|candidate| (strsim::jaro_winkler(wanted, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|left, right| left.0.total_cmp(&right.0))
        .map(|(_, candidate)| candidate)
}

pub(super) fn check_probability(problems: &mut Problems, path: String, value: f64) {
    if !(0.0..=1.0).contains(&value) || value.is_nan() {
        problems.push(
            path,
            format!("expected a probability between 0 and 1, found {value}"),
        );
    }
}

impl<'a> Validator<'a> {
    pub(super) fn text_length(&mut self, path: &str, text: &str, max_chars: usize) {
        let count = text.chars().count();
        if count > max_chars {
            self.problems.push(
                path,
                format!("expected at most {max_chars} characters, found {count}"),
            );
        }
    }

    pub(super) fn identifier(&mut self, path: &str, id: &str) {
        if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
            self.problems.push(
                path,
                format!(
                    "expected an id of 1 to {MAX_ID_CHARS} characters, found {} characters",
                    id.chars().count()
                ),
            );
        } else if !id
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "-_.:".contains(character))
        {
            self.problems.push(
                path,
                format!("expected letters, digits, '-', '_', '.' or ':' only, found {id:?}"),
            );
        }
    }

    fn metadata(&mut self) {
        let metadata = &self.scenario.metadata;
        self.text_length("metadata.title", &metadata.title, MAX_LABEL_CHARS);
        self.text_length("metadata.author", &metadata.author, MAX_LABEL_CHARS);
        self.text_length(
            "metadata.description",
            &metadata.description,
            MAX_DESCRIPTION_CHARS,
        );
    }

    fn run_settings(&mut self) {
        let run = &self.scenario.run;
        if run.duration_ms == 0 || run.duration_ms > MAX_DURATION_MS {
            self.problems.push(
                "run.duration_ms",
                format!(
                    "expected 1 to {MAX_DURATION_MS} ms (one day), found {}",
                    run.duration_ms
                ),
            );
        }
        if run.sample_interval_ms < MIN_SAMPLE_INTERVAL_MS
            || run.sample_interval_ms > MAX_DURATION_MS
        {
            self.problems.push(
                "run.sample_interval_ms",
                format!(
                    "expected {MIN_SAMPLE_INTERVAL_MS} to {MAX_DURATION_MS} ms, found {}",
                    run.sample_interval_ms
                ),
            );
        }
        if run.max_events == 0 || run.max_events > MAX_EVENTS_PER_RUN {
            self.problems.push(
                "run.max_events",
                format!(
                    "expected 1 to {MAX_EVENTS_PER_RUN}, found {}",
                    run.max_events
                ),
            );
        }
    }

    fn nodes(&mut self) {
        let nodes = &self.scenario.topology.nodes;
        if nodes.len() > MAX_NODES {
            self.problems.push(
                "topology.nodes",
                format!("expected at most {MAX_NODES} nodes, found {}", nodes.len()),
            );
            return;
        }
        for (index, node) in nodes.iter().enumerate() {
            let path = format!("topology.nodes[{index}]");
            self.identifier(&format!("{path}.id"), &node.id);
            if let Some(first) = self.node_ids.insert(&node.id, index) {
                self.problems.push(
                    format!("{path}.id"),
                    format!(
                        "duplicate node id {:?} (first used at topology.nodes[{first}])",
                        node.id
                    ),
                );
                self.node_ids.insert(&node.id, first);
            }
            self.text_length(&format!("{path}.label"), &node.label, MAX_LABEL_CHARS);
            if !node.position.x.is_finite()
                || !node.position.y.is_finite()
                || node.position.x.abs() > 1e7
                || node.position.y.abs() > 1e7
            {
                self.problems.push(
                    format!("{path}.position"),
                    "expected finite coordinates within ±10000000",
                );
            }
            let properties = format!("{path}.properties");
            match &node.spec {
                ComponentSpec::LoadGenerator(spec) => {
                    if spec.request_timeout_ms == 0 || spec.request_timeout_ms > MAX_DURATION_MS {
                        self.problems.push(
                            format!("{properties}.request_timeout_ms"),
                            format!(
                                "expected 1 to {MAX_DURATION_MS} ms, found {}",
                                spec.request_timeout_ms
                            ),
                        );
                    }
                    if spec.max_outstanding == 0 || spec.max_outstanding > MAX_OUTSTANDING_REQUESTS
                    {
                        self.problems.push(
                            format!("{properties}.max_outstanding"),
                            format!(
                                "expected 1 to {MAX_OUTSTANDING_REQUESTS}, found {}",
                                spec.max_outstanding
                            ),
                        );
                    }
                }
                ComponentSpec::Sink(spec) => {
                    if spec.workers == 0 || spec.workers > MAX_WORKERS {
                        self.problems.push(
                            format!("{properties}.workers"),
                            format!("expected 1 to {MAX_WORKERS}, found {}", spec.workers),
                        );
                    }
                    if spec.queue_capacity > MAX_QUEUE_CAPACITY {
                        self.problems.push(
                            format!("{properties}.queue_capacity"),
                            format!(
                                "expected 0 to {MAX_QUEUE_CAPACITY}, found {}",
                                spec.queue_capacity
                            ),
                        );
                    }
                    spec.service_time
                        .validate(&format!("{properties}.service_time"), self.problems);
                    check_probability(
                        self.problems,
                        format!("{properties}.error_probability"),
                        spec.error_probability,
                    );
                    if spec.downstream_timeout_ms == 0
                        || spec.downstream_timeout_ms > MAX_DURATION_MS
                    {
                        self.problems.push(
                            format!("{properties}.downstream_timeout_ms"),
                            format!(
                                "expected 1 to {MAX_DURATION_MS} ms, found {}",
                                spec.downstream_timeout_ms
                            ),
                        );
                    }
                }
                ComponentSpec::KafkaController(spec) => self.kafka_controller(&properties, spec),
                ComponentSpec::KafkaBroker(spec) => {
                    self.duration_ms(
                        &format!("{properties}.replica_lag_time_max_ms"),
                        spec.replica_lag_time_max_ms,
                    );
                    self.duration_ms(
                        &format!("{properties}.replica_fetch_interval_ms"),
                        spec.replica_fetch_interval_ms,
                    );
                    self.duration_ms(
                        &format!("{properties}.page_cache_flush_interval_ms"),
                        spec.page_cache_flush_interval_ms,
                    );
                    if let Some(rack) = &spec.rack {
                        self.identifier(&format!("{properties}.rack"), rack);
                    }
                }
                ComponentSpec::KafkaProducer(spec) => self.kafka_producer(&properties, spec),
                ComponentSpec::RaftNode(spec) => self.raft_node(&properties, spec),
                ComponentSpec::RaftKvClient(spec) => self.raft_kv_client(&properties, spec),
                ComponentSpec::Service(spec) => {
                    super::validate_services::service_properties(&properties, spec, self.problems)
                }
                ComponentSpec::ApiGateway(spec) => {
                    super::validate_services::api_gateway_properties(
                        &properties,
                        spec,
                        self.problems,
                    )
                }
                // Checked with its references (needs the service's instances).
                ComponentSpec::Autoscaler(_) => {}
                ComponentSpec::RabbitBroker(spec) => self.rabbit_broker(&properties, spec),
                ComponentSpec::RabbitPublisher(spec) => self.rabbit_publisher(&properties, spec),
                ComponentSpec::RabbitConsumer(spec) => self.rabbit_consumer(&properties, spec),
                ComponentSpec::KafkaConsumer(spec) => {
                    super::validate_kafka_consumer::properties(self.problems, &properties, spec)
                }
                ComponentSpec::CoordServer(_)
                | ComponentSpec::CoordClient(_)
                | ComponentSpec::FencedStorage(_)
                | ComponentSpec::Cache(_)
                | ComponentSpec::Snowflake(_) => self.coord_properties(&properties, &node.spec),
                ComponentSpec::TxnCoordinator(spec) => {
                    super::validate_txn::coordinator_properties(self.problems, &properties, spec)
                }
                ComponentSpec::TxnParticipant(spec) => {
                    super::validate_txn::participant_properties(self.problems, &properties, spec)
                }
                ComponentSpec::SagaOrchestrator(spec) => {
                    super::validate_txn::orchestrator_properties(self.problems, &properties, spec)
                }
                ComponentSpec::SagaService(spec) => {
                    super::validate_txn::saga_service_properties(self.problems, &properties, spec)
                }
                ComponentSpec::KvDatabase(_)
                | ComponentSpec::KvSentinel(_)
                | ComponentSpec::KvClient(_)
                | ComponentSpec::KvShardBalancer(_) => super::validate_database::properties(
                    self.problems,
                    self.scenario,
                    index,
                    &properties,
                ),
                ComponentSpec::OutboxService(spec) => {
                    super::validate_txn::outbox_service_properties(self.problems, &properties, spec)
                }
                ComponentSpec::EventConsumer(_) => {}
            }
        }
    }

    /// A duration property: 1 ms to one day.
    pub(super) fn duration_ms(&mut self, path: &str, value_ms: u64) {
        if value_ms == 0 || value_ms > MAX_DURATION_MS {
            self.problems.push(
                path,
                format!("expected 1 to {MAX_DURATION_MS} ms, found {value_ms}"),
            );
        }
    }

    fn kafka_controller(&mut self, properties: &str, spec: &KafkaControllerSpec) {
        self.duration_ms(
            &format!("{properties}.broker_session_timeout_ms"),
            spec.broker_session_timeout_ms,
        );
        super::validate_kafka_kraft::properties(self.problems, properties, spec);
        if spec.topics.is_empty() || spec.topics.len() > MAX_KAFKA_TOPICS {
            self.problems.push(
                format!("{properties}.topics"),
                format!(
                    "expected 1 to {MAX_KAFKA_TOPICS} topics, found {}",
                    spec.topics.len()
                ),
            );
        }
        if spec.brokers.is_empty() {
            self.problems.push(
                format!("{properties}.brokers"),
                "expected at least one kafka_broker node",
            );
        }
        let mut names: BTreeMap<&str, usize> = BTreeMap::new();
        for (index, topic) in spec.topics.iter().enumerate() {
            let path = format!("{properties}.topics[{index}]");
            self.identifier(&format!("{path}.name"), &topic.name);
            if let Some(first) = names.insert(&topic.name, index) {
                self.problems.push(
                    format!("{path}.name"),
                    format!(
                        "duplicate topic {:?} (first at topics[{first}])",
                        topic.name
                    ),
                );
            }
            if topic.partitions == 0 || topic.partitions > MAX_KAFKA_PARTITIONS_PER_TOPIC {
                self.problems.push(
                    format!("{path}.partitions"),
                    format!(
                        "expected 1 to {MAX_KAFKA_PARTITIONS_PER_TOPIC}, found {}",
                        topic.partitions
                    ),
                );
            }
            if topic.replication_factor == 0
                || topic.replication_factor as usize > spec.brokers.len()
            {
                self.problems.push(
                    format!("{path}.replication_factor"),
                    format!(
                        "expected 1 to the number of brokers ({}), found {}",
                        spec.brokers.len(),
                        topic.replication_factor
                    ),
                );
            }
            if topic.min_insync_replicas == 0
                || topic.min_insync_replicas > topic.replication_factor
            {
                self.problems.push(
                    format!("{path}.min_insync_replicas"),
                    format!(
                        "expected 1 to the replication factor ({}), found {}",
                        topic.replication_factor, topic.min_insync_replicas
                    ),
                );
            }
            if let Some(retention_ms) = topic.retention_ms {
                self.duration_ms(&format!("{path}.retention_ms"), retention_ms);
            }
            if topic
                .retention_bytes
                .is_some_and(|bytes| bytes < u64::from(KAFKA_RECORD_BYTES))
            {
                self.problems.push(
                    format!("{path}.retention_bytes"),
                    format!(
                        "expected at least {KAFKA_RECORD_BYTES} (one record), found {}",
                        topic.retention_bytes.unwrap_or(0)
                    ),
                );
            }
            if topic.segment_bytes < u64::from(KAFKA_RECORD_BYTES)
                || topic.segment_bytes > MAX_KAFKA_SEGMENT_BYTES
            {
                self.problems.push(
                    format!("{path}.segment_bytes"),
                    format!(
                        "expected {KAFKA_RECORD_BYTES} (one record) to {MAX_KAFKA_SEGMENT_BYTES}, found {}",
                        topic.segment_bytes
                    ),
                );
            }
            super::validate_kafka_compaction::topic(self.problems, &path, topic);
        }
    }

    fn kafka_producer(&mut self, properties: &str, spec: &KafkaProducerSpec) {
        self.duration_ms(
            &format!("{properties}.retry_backoff_ms"),
            spec.retry_backoff_ms,
        );
        self.duration_ms(
            &format!("{properties}.request_timeout_ms"),
            spec.request_timeout_ms,
        );
        self.duration_ms(
            &format!("{properties}.delivery_timeout_ms"),
            spec.delivery_timeout_ms,
        );
        if spec.retries > MAX_KAFKA_RETRIES {
            self.problems.push(
                format!("{properties}.retries"),
                format!("expected 0 to {MAX_KAFKA_RETRIES}, found {}", spec.retries),
            );
        }
        if spec.key_count == 0 {
            self.problems
                .push(format!("{properties}.key_count"), "expected at least 1 key");
        }
        if spec.max_in_flight == 0 || spec.max_in_flight > MAX_KAFKA_IN_FLIGHT {
            self.problems.push(
                format!("{properties}.max_in_flight"),
                format!(
                    "expected 1 to {MAX_KAFKA_IN_FLIGHT}, found {}",
                    spec.max_in_flight
                ),
            );
        } else if spec.enable_idempotence && spec.max_in_flight > 5 {
            // The leader remembers 5 batches per producer, as Kafka does.
            self.problems.push(
                format!("{properties}.max_in_flight"),
                format!(
                    "expected at most 5 with enable_idempotence (as in Kafka), found {}",
                    spec.max_in_flight
                ),
            );
        }
        if spec.buffer_records == 0 || spec.buffer_records > MAX_KAFKA_BUFFER_RECORDS {
            self.problems.push(
                format!("{properties}.buffer_records"),
                format!(
                    "expected 1 to {MAX_KAFKA_BUFFER_RECORDS}, found {}",
                    spec.buffer_records
                ),
            );
        }
        if spec.linger_ms > MAX_KAFKA_LINGER_MS {
            self.problems.push(
                format!("{properties}.linger_ms"),
                format!(
                    "expected 0 to {MAX_KAFKA_LINGER_MS}, found {}",
                    spec.linger_ms
                ),
            );
        }
        if spec.batch_size_bytes < KAFKA_RECORD_BYTES
            || spec.batch_size_bytes > MAX_KAFKA_BATCH_SIZE_BYTES
        {
            self.problems.push(
                format!("{properties}.batch_size_bytes"),
                format!(
                    "expected {KAFKA_RECORD_BYTES} (one record) to {MAX_KAFKA_BATCH_SIZE_BYTES}, found {}",
                    spec.batch_size_bytes
                ),
            );
        }
        if spec.keyless_percent > 100 {
            self.problems.push(
                format!("{properties}.keyless_percent"),
                format!("expected 0 to 100, found {}", spec.keyless_percent),
            );
        }
        super::validate_kafka_compaction::producer_properties(self.problems, properties, spec);
        let inter_arrival_path = format!("{properties}.inter_arrival");
        spec.inter_arrival
            .validate(&inter_arrival_path, self.problems);
        if spec.inter_arrival.mean_ms().is_some_and(|mean| mean < 0.01) {
            self.problems.push(
                inter_arrival_path,
                "expected a mean time between records of at least 0.01 ms",
            );
        }
    }

    /// A node reference that must name a node of one kind.
    pub(super) fn node_reference_of_kind(
        &mut self,
        path: &str,
        id: &str,
        kind: &str,
    ) -> Option<usize> {
        let index = self.node_reference(path, id)?;
        let node = &self.scenario.topology.nodes[index];
        if node.spec.kind_name() != kind {
            self.problems.push(
                path,
                format!(
                    "expected a {kind} node, but {:?} is a {}",
                    node.id,
                    node.spec.kind_name()
                ),
            );
            return None;
        }
        Some(index)
    }

    /// Kafka references: controllers list brokers, producers name a controller and one of its topics.
    fn kafka_references(&mut self, index: usize, node: &'a Node) {
        let path = format!("topology.nodes[{index}].properties");
        match &node.spec {
            ComponentSpec::KafkaController(spec) => {
                let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
                for (broker_index, broker) in spec.brokers.iter().enumerate() {
                    let broker_path = format!("{path}.brokers[{broker_index}]");
                    self.node_reference_of_kind(&broker_path, broker, "kafka_broker");
                    if let Some(first) = seen.insert(broker, broker_index) {
                        self.problems.push(
                            broker_path,
                            format!("{broker:?} is already listed at brokers[{first}]"),
                        );
                    }
                    // A broker answers to one controller (or one KRaft quorum).
                    let other_controller =
                        self.scenario.topology.nodes[..index].iter().find(|other| {
                            match &other.spec {
                                ComponentSpec::KafkaController(other_spec) => {
                                    other_spec.brokers.contains(broker)
                                        && !super::validate_kafka_kraft::same_quorum(
                                            spec, &other.id,
                                        )
                                }
                                _ => false,
                            }
                        });
                    if let Some(other) = other_controller {
                        self.problems.push(
                            format!("{path}.brokers[{broker_index}]"),
                            format!("{broker:?} already belongs to controller {:?}", other.id),
                        );
                    }
                }
                if spec.mode == KafkaControllerMode::Kraft {
                    let voters: Vec<Option<usize>> = spec
                        .quorum_voters
                        .iter()
                        .enumerate()
                        .map(|(position, voter)| {
                            self.node_reference_of_kind(
                                &format!("{path}.quorum_voters[{position}]"),
                                voter,
                                "kafka_controller",
                            )
                        })
                        .collect();
                    super::validate_kafka_kraft::references(
                        self.problems,
                        self.scenario,
                        index,
                        spec,
                        &voters,
                    );
                }
            }
            ComponentSpec::KafkaConsumer(spec) => {
                let controller_path = format!("{path}.controller");
                let controller = self.node_reference_of_kind(
                    &controller_path,
                    &spec.controller,
                    "kafka_controller",
                );
                super::validate_kafka_consumer::references(
                    self.problems,
                    self.scenario,
                    index,
                    spec,
                    controller,
                );
            }
            ComponentSpec::KafkaProducer(spec) => {
                let controller_path = format!("{path}.controller");
                let Some(controller) = self.node_reference_of_kind(
                    &controller_path,
                    &spec.controller,
                    "kafka_controller",
                ) else {
                    return;
                };
                if let ComponentSpec::KafkaController(controller_spec) =
                    &self.scenario.topology.nodes[controller].spec
                    && let Some(topic) = controller_spec
                        .topics
                        .iter()
                        .find(|topic| topic.name == spec.topic)
                {
                    super::validate_kafka_compaction::producer_topic(
                        self.problems,
                        &path,
                        spec,
                        topic,
                    );
                }
                if let ComponentSpec::KafkaController(controller_spec) =
                    &self.scenario.topology.nodes[controller].spec
                    && !controller_spec
                        .topics
                        .iter()
                        .any(|topic| topic.name == spec.topic)
                {
                    let hint = closest(
                        &spec.topic,
                        controller_spec
                            .topics
                            .iter()
                            .map(|topic| topic.name.as_str()),
                    )
                    .map(|name| format!(" (did you mean {name:?}?)"))
                    .unwrap_or_default();
                    self.problems.push(
                        format!("{path}.topic"),
                        format!(
                            "controller {:?} has no topic {:?}{hint}",
                            spec.controller, spec.topic
                        ),
                    );
                }
            }
            _ => {}
        }
    }

    /// References from node properties to other nodes (needs every id first).
    fn node_property_references(&mut self) {
        for (index, node) in self.scenario.topology.nodes.iter().enumerate() {
            self.kafka_references(index, node);
            self.raft_references(index, node);
            super::validate_services::service_references(self.scenario, index, self.problems);
            super::validate_services::api_gateway_references(self.scenario, index, self.problems);
            super::validate_services::autoscaler(self.scenario, index, self.problems);
            self.rabbit_references(index, node);
            self.coord_references(index, node);
            super::validate_txn::references(self.scenario, index, self.problems);
            super::validate_txn::saga_references(self.scenario, index, self.problems);
            super::validate_txn::outbox_references(self.scenario, index, self.problems);
            if let ComponentSpec::Sink(SinkSpec {
                downstream: Some(downstream),
                ..
            }) = &node.spec
            {
                let path = format!("topology.nodes[{index}].properties.downstream");
                if self.node_reference(&path, downstream).is_some() && downstream == &node.id {
                    self.problems
                        .push(path, "a node cannot call itself downstream");
                }
            }
        }
    }

    fn zones(&mut self) {
        let zones = &self.scenario.topology.zones;
        if zones.len() > MAX_ZONES {
            self.problems.push(
                "topology.zones",
                format!("expected at most {MAX_ZONES} zones, found {}", zones.len()),
            );
            return;
        }
        for (index, zone) in zones.iter().enumerate() {
            let path = format!("topology.zones[{index}]");
            self.identifier(&format!("{path}.id"), &zone.id);
            if self.node_ids.contains_key(zone.id.as_str()) {
                self.problems.push(
                    format!("{path}.id"),
                    format!(
                        "zone id {:?} is already a node id; fault targets would be ambiguous",
                        zone.id
                    ),
                );
            }
            if let Some(first) = self.zone_ids.insert(&zone.id, index) {
                self.problems.push(
                    format!("{path}.id"),
                    format!(
                        "duplicate zone id {:?} (first used at topology.zones[{first}])",
                        zone.id
                    ),
                );
            }
            self.text_length(&format!("{path}.label"), &zone.label, MAX_LABEL_CHARS);
            for (member_index, member) in zone.nodes.iter().enumerate() {
                self.node_reference(&format!("{path}.nodes[{member_index}]"), member);
            }
        }
    }

    pub(super) fn node_reference(&mut self, path: &str, id: &str) -> Option<usize> {
        if let Some(index) = self.node_ids.get(id) {
            return Some(*index);
        }
        let hint = closest(id, self.node_ids.keys().copied())
            .map(|name| format!(" (did you mean {name:?}?)"))
            .unwrap_or_default();
        self.problems.push(path, format!("no node {id:?}{hint}"));
        None
    }

    /// A node or zone id, as fault targets accept.
    fn target_reference(&mut self, path: &str, id: &str) {
        if self.node_ids.contains_key(id) || self.zone_ids.contains_key(id) {
            return;
        }
        let candidates = self.node_ids.keys().chain(self.zone_ids.keys()).copied();
        let hint = closest(id, candidates)
            .map(|name| format!(" (did you mean {name:?}?)"))
            .unwrap_or_default();
        self.problems
            .push(path, format!("no node or zone {id:?}{hint}"));
    }

    fn link_network(&mut self, path: &str, network: &LinkNetwork) {
        network
            .latency
            .validate(&format!("{path}.latency"), self.problems);
        if !network.jitter_ms.is_finite()
            || network.jitter_ms < 0.0
            || network.jitter_ms > MAX_DURATION_MS as f64
        {
            self.problems.push(
                format!("{path}.jitter_ms"),
                format!("expected a finite number >= 0, found {}", network.jitter_ms),
            );
        }
        if let Some(bandwidth) = network.bandwidth_mbps
            && (!bandwidth.is_finite() || bandwidth <= 0.0)
        {
            self.problems.push(
                format!("{path}.bandwidth_mbps"),
                format!("expected a number > 0 (or omit it for unlimited), found {bandwidth}"),
            );
        }
        check_probability(
            self.problems,
            format!("{path}.loss_probability"),
            network.loss_probability,
        );
        check_probability(
            self.problems,
            format!("{path}.duplicate_probability"),
            network.duplicate_probability,
        );
        check_probability(
            self.problems,
            format!("{path}.reorder_probability"),
            network.reorder_probability,
        );
    }

    fn links(&mut self) {
        let topology = &self.scenario.topology;
        if let Some(network) = &topology.default_network {
            self.link_network("topology.default_network", network);
        }
        if topology.links.len() > MAX_LINKS {
            self.problems.push(
                "topology.links",
                format!(
                    "expected at most {MAX_LINKS} links, found {}",
                    topology.links.len()
                ),
            );
            return;
        }
        let mut pairs: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (index, link) in topology.links.iter().enumerate() {
            let path = format!("topology.links[{index}]");
            if let Some(id) = &link.id {
                self.identifier(&format!("{path}.id"), id);
            }
            let from = self.node_reference(&format!("{path}.from"), &link.from);
            let to = self.node_reference(&format!("{path}.to"), &link.to);
            if from.is_some() && from == to {
                self.problems.push(
                    format!("{path}.to"),
                    format!(
                        "a link must join two different nodes, found {:?} at both ends",
                        link.to
                    ),
                );
            }
            let pair = if link.from <= link.to {
                (link.from.as_str(), link.to.as_str())
            } else {
                (link.to.as_str(), link.from.as_str())
            };
            if let Some(first) = pairs.insert(pair, index) {
                self.problems.push(path.clone(), format!("{} and {} are already linked at topology.links[{first}]; one link per pair", link.from, link.to));
            }
            self.text_length(&format!("{path}.label"), &link.label, MAX_LABEL_CHARS);
            self.link_network(&format!("{path}.network"), &link.network);
        }
    }

    fn workload(&mut self) {
        let streams = &self.scenario.workload.streams;
        if streams.len() > MAX_WORKLOAD_STREAMS {
            self.problems.push(
                "workload.streams",
                format!(
                    "expected at most {MAX_WORKLOAD_STREAMS} streams, found {}",
                    streams.len()
                ),
            );
            return;
        }
        let duration_ms = self.scenario.run.duration_ms;
        let mut stream_ids: BTreeMap<&str, usize> = BTreeMap::new();
        for (index, stream) in streams.iter().enumerate() {
            let path = format!("workload.streams[{index}]");
            self.identifier(&format!("{path}.id"), &stream.id);
            if let Some(first) = stream_ids.insert(&stream.id, index) {
                self.problems.push(
                    format!("{path}.id"),
                    format!(
                        "duplicate stream id {:?} (first used at workload.streams[{first}])",
                        stream.id
                    ),
                );
            }
            if let Some(client) = self.node_reference(&format!("{path}.client"), &stream.client) {
                let node = &self.scenario.topology.nodes[client];
                if !matches!(node.spec, ComponentSpec::LoadGenerator(_)) {
                    self.problems.push(
                        format!("{path}.client"),
                        format!(
                            "expected a load_generator node, but {:?} is a {}",
                            node.id,
                            node.spec.kind_name()
                        ),
                    );
                }
            }
            if let Some(target) = self.node_reference(&format!("{path}.target"), &stream.target)
                && self.scenario.topology.nodes[target].id == stream.client
            {
                self.problems
                    .push(format!("{path}.target"), "a client cannot target itself");
            }
            match &stream.pattern {
                LoadPattern::OpenLoop {
                    inter_arrival,
                    rate_profile,
                } => {
                    let inter_arrival_path = format!("{path}.pattern.open_loop.inter_arrival");
                    inter_arrival.validate(&inter_arrival_path, self.problems);
                    // A zero mean would schedule unbounded arrivals at one instant.
                    if inter_arrival.mean_ms().is_some_and(|mean| mean < 0.001) {
                        self.problems.push(inter_arrival_path, "expected a mean inter-arrival time of at least 0.001 ms (1,000,000 requests/s)");
                    }
                    let mut previous_at_ms = 0;
                    for (point_index, point) in rate_profile.iter().enumerate() {
                        let point_path =
                            format!("{path}.pattern.open_loop.rate_profile[{point_index}]");
                        if !point.multiplier.is_finite()
                            || point.multiplier < 0.0
                            || point.multiplier > 1_000.0
                        {
                            self.problems.push(
                                format!("{point_path}.multiplier"),
                                format!(
                                    "expected a number from 0 to 1000, found {}",
                                    point.multiplier
                                ),
                            );
                        }
                        if point.at_ms < previous_at_ms {
                            self.problems.push(format!("{point_path}.at_ms"), format!("expected points in time order; {} comes after {previous_at_ms}", point.at_ms));
                        }
                        previous_at_ms = point.at_ms;
                    }
                }
                LoadPattern::ClosedLoop { users, think_time } => {
                    if *users == 0 || *users > MAX_CLOSED_LOOP_USERS {
                        self.problems.push(
                            format!("{path}.pattern.closed_loop.users"),
                            format!("expected 1 to {MAX_CLOSED_LOOP_USERS}, found {users}"),
                        );
                    }
                    think_time.validate(
                        &format!("{path}.pattern.closed_loop.think_time"),
                        self.problems,
                    );
                }
            }
            if stream.start_ms > duration_ms {
                self.problems.push(
                    format!("{path}.start_ms"),
                    format!(
                        "expected at most the run duration ({duration_ms} ms), found {}",
                        stream.start_ms
                    ),
                );
            }
            if let Some(stop_ms) = stream.stop_ms
                && stop_ms < stream.start_ms
            {
                self.problems.push(
                    format!("{path}.stop_ms"),
                    format!(
                        "expected stop_ms >= start_ms ({}), found {stop_ms}",
                        stream.start_ms
                    ),
                );
            }
        }
    }

    fn faults(&mut self) {
        let plan = &self.scenario.faults;
        if plan.timeline.len() > MAX_SCHEDULED_FAULTS {
            self.problems.push(
                "faults.timeline",
                format!(
                    "expected at most {MAX_SCHEDULED_FAULTS} faults, found {}",
                    plan.timeline.len()
                ),
            );
            return;
        }
        let duration_ms = self.scenario.run.duration_ms;
        for (index, fault) in plan.timeline.iter().enumerate() {
            let path = format!("faults.timeline[{index}]");
            if fault.at_ms > duration_ms {
                self.problems.push(
                    format!("{path}.at_ms"),
                    format!(
                        "expected a time within the run (0 to {duration_ms} ms), found {}",
                        fault.at_ms
                    ),
                );
            }
            let action_path = format!("{path}.action.{}", fault.action.verb());
            match &fault.action {
                FaultAction::Crash { node }
                | FaultAction::Restart { node }
                | FaultAction::Pause { node }
                | FaultAction::Resume { node } => {
                    self.node_reference(&format!("{action_path}.node"), node);
                }
                FaultAction::Slow { node, factor } => {
                    self.node_reference(&format!("{action_path}.node"), node);
                    if !factor.is_finite() || *factor < 0.01 || *factor > 1_000.0 {
                        self.problems.push(
                            format!("{action_path}.factor"),
                            format!("expected a multiplier from 0.01 to 1000, found {factor}"),
                        );
                    }
                }
                FaultAction::ClockSkew {
                    node,
                    offset_ms,
                    drift_ppm,
                } => {
                    self.node_reference(&format!("{action_path}.node"), node);
                    if !offset_ms.is_finite() || offset_ms.abs() > MAX_DURATION_MS as f64 {
                        self.problems.push(
                            format!("{action_path}.offset_ms"),
                            format!("expected at most one day either way, found {offset_ms}"),
                        );
                    }
                    if !drift_ppm.is_finite() || drift_ppm.abs() > 100_000.0 {
                        self.problems.push(
                            format!("{action_path}.drift_ppm"),
                            format!("expected -100000 to 100000 ppm, found {drift_ppm}"),
                        );
                    }
                }
                FaultAction::Partition { groups } => {
                    if groups.is_empty() {
                        self.problems.push(
                            format!("{action_path}.groups"),
                            "expected at least one group",
                        );
                    }
                    for (group_index, group) in groups.iter().enumerate() {
                        for (member_index, member) in group.iter().enumerate() {
                            self.target_reference(
                                &format!("{action_path}.groups[{group_index}][{member_index}]"),
                                member,
                            );
                        }
                    }
                }
                FaultAction::PartitionOneWay { from, to } => {
                    for (side, members) in [("from", from), ("to", to)] {
                        if members.is_empty() {
                            self.problems.push(
                                format!("{action_path}.{side}"),
                                "expected at least one node or zone",
                            );
                        }
                        for (member_index, member) in members.iter().enumerate() {
                            self.target_reference(
                                &format!("{action_path}.{side}[{member_index}]"),
                                member,
                            );
                        }
                    }
                }
                FaultAction::Heal {} => {}
                FaultAction::HoldLink { from, to } | FaultAction::ReleaseLink { from, to } => {
                    self.node_reference(&format!("{action_path}.from"), from);
                    self.node_reference(&format!("{action_path}.to"), to);
                }
                FaultAction::SetLink { from, to, network } => {
                    self.node_reference(&format!("{action_path}.from"), from);
                    self.node_reference(&format!("{action_path}.to"), to);
                    self.link_network(&format!("{action_path}.network"), network);
                }
            }
        }
        if let Some(nemesis) = &plan.nemesis {
            let path = "faults.nemesis";
            if !nemesis.faults_per_minute.is_finite()
                || nemesis.faults_per_minute < 0.0
                || nemesis.faults_per_minute > 600.0
            {
                self.problems.push(
                    format!("{path}.faults_per_minute"),
                    format!("expected 0 to 600, found {}", nemesis.faults_per_minute),
                );
            }
            if !nemesis.mean_fault_duration_ms.is_finite() || nemesis.mean_fault_duration_ms < 1.0 {
                self.problems.push(
                    format!("{path}.mean_fault_duration_ms"),
                    format!(
                        "expected at least 1 ms, found {}",
                        nemesis.mean_fault_duration_ms
                    ),
                );
            }
            for (index, target) in nemesis.targets.iter().enumerate() {
                self.node_reference(&format!("{path}.targets[{index}]"), target);
            }
            if let Some(stop_ms) = nemesis.stop_ms
                && (stop_ms < nemesis.start_ms || stop_ms > duration_ms)
            {
                self.problems.push(format!("{path}.stop_ms"), format!("expected between start_ms ({}) and the run duration ({duration_ms}), found {stop_ms}", nemesis.start_ms));
            }
        }
    }

    fn expectations(&mut self) {
        let expectations = &self.scenario.expectations;
        if expectations.len() > MAX_EXPECTATIONS {
            self.problems.push(
                "expectations",
                format!(
                    "expected at most {MAX_EXPECTATIONS}, found {}",
                    expectations.len()
                ),
            );
            return;
        }
        for (index, expectation) in expectations.iter().enumerate() {
            let path = format!("expectations[{index}]");
            match expectation {
                Expectation::Check { name, .. } => {
                    if !KNOWN_CHECKER_NAMES.contains(&name.as_str()) {
                        let hint = closest(name, KNOWN_CHECKER_NAMES.iter().copied())
                            .map(|known| format!(" (did you mean {known:?}?)"))
                            .unwrap_or_default();
                        self.problems.push(
                            format!("{path}.check.name"),
                            format!(
                                "no checker {name:?}{hint}; known: {}",
                                KNOWN_CHECKER_NAMES.join(", ")
                            ),
                        );
                    }
                }
                Expectation::Metric { name, min, max } => {
                    match name.split_once('.') {
                        Some((node, _)) if self.node_ids.contains_key(node) => {}
                        Some((node, _)) => {
                            self.node_reference(&format!("{path}.metric.name"), node);
                        }
                        None => self.problems.push(
                            format!("{path}.metric.name"),
                            format!("expected `node.metric`, found {name:?}"),
                        ),
                    }
                    if min.is_none() && max.is_none() {
                        self.problems
                            .push(format!("{path}.metric"), "expected min, max or both");
                    }
                    if let (Some(min), Some(max)) = (min, max)
                        && min > max
                    {
                        self.problems.push(
                            format!("{path}.metric.max"),
                            format!("expected max >= min ({min}), found {max}"),
                        );
                    }
                }
            }
        }
    }
}
