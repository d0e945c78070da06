//! Validation of the transaction components (`txn_coordinator`, `txn_participant`, `saga_orchestrator`, `saga_service`): ranges and references, each problem with its JSON path.

use super::limits::{
    MAX_DURATION_MS, MAX_OUTBOX_ROWS, MAX_SAGA_ATTEMPTS, MAX_TXN_ACTIVE, MAX_TXN_PARTICIPANTS,
};
use super::problems::Problems;
use super::txn::{
    OutboxServiceSpec, SagaOrchestratorSpec, SagaServiceSpec, TxnCoordinatorSpec,
    TxnParticipantSpec,
};
use super::validate::{check_probability, closest};
use super::{ComponentSpec, Scenario};
use std::collections::BTreeSet;

fn duration_ms(problems: &mut Problems, path: String, value_ms: u64) {
    if value_ms == 0 || value_ms > MAX_DURATION_MS {
        problems.push(
            path,
            format!("expected 1 to {MAX_DURATION_MS} ms, found {value_ms}"),
        );
    }
}

pub(super) fn coordinator_properties(
    problems: &mut Problems,
    path: &str,
    spec: &TxnCoordinatorSpec,
) {
    for (name, value) in [
        ("vote_timeout_ms", spec.vote_timeout_ms),
        ("pre_commit_ack_timeout_ms", spec.pre_commit_ack_timeout_ms),
        (
            "decision_retry_interval_ms",
            spec.decision_retry_interval_ms,
        ),
    ] {
        duration_ms(problems, format!("{path}.{name}"), value);
    }
    if spec.log_write_latency_ms > MAX_DURATION_MS {
        problems.push(
            format!("{path}.log_write_latency_ms"),
            format!(
                "expected 0 to {MAX_DURATION_MS} ms, found {}",
                spec.log_write_latency_ms
            ),
        );
    }
    if spec.key_count == 0 {
        problems.push(format!("{path}.key_count"), "expected at least 1 key");
    }
    if spec.max_active_transactions == 0 || spec.max_active_transactions > MAX_TXN_ACTIVE {
        problems.push(
            format!("{path}.max_active_transactions"),
            format!(
                "expected 1 to {MAX_TXN_ACTIVE}, found {}",
                spec.max_active_transactions
            ),
        );
    }
    if spec.participants.is_empty() || spec.participants.len() > MAX_TXN_PARTICIPANTS {
        problems.push(
            format!("{path}.participants"),
            format!(
                "expected 1 to {MAX_TXN_PARTICIPANTS} txn_participant nodes, found {}",
                spec.participants.len()
            ),
        );
    }
}

pub(super) fn participant_properties(
    problems: &mut Problems,
    path: &str,
    spec: &TxnParticipantSpec,
) {
    check_probability(
        problems,
        format!("{path}.vote_no_probability"),
        spec.vote_no_probability,
    );
    spec.prepare_time
        .validate(&format!("{path}.prepare_time"), problems);
    duration_ms(
        problems,
        format!("{path}.decision_timeout_ms"),
        spec.decision_timeout_ms,
    );
    duration_ms(
        problems,
        format!("{path}.query_interval_ms"),
        spec.query_interval_ms,
    );
    if let Some(timeout_ms) = spec.reservation_timeout_ms {
        duration_ms(
            problems,
            format!("{path}.reservation_timeout_ms"),
            timeout_ms,
        );
    }
    if spec.initial_units > i64::MAX as u64 / 2 {
        problems.push(
            format!("{path}.initial_units"),
            format!(
                "expected at most {}, found {}",
                i64::MAX as u64 / 2,
                spec.initial_units
            ),
        );
    }
}

/// A coordinator's participants are distinct `txn_participant` nodes.
pub(super) fn references(scenario: &Scenario, index: usize, problems: &mut Problems) {
    let node = &scenario.topology.nodes[index];
    let ComponentSpec::TxnCoordinator(spec) = &node.spec else {
        return;
    };
    let path = format!("topology.nodes[{index}].properties.participants");
    let mut seen = BTreeSet::new();
    for (position, participant) in spec.participants.iter().enumerate() {
        let item = format!("{path}[{position}]");
        match scenario
            .topology
            .nodes
            .iter()
            .find(|other| &other.id == participant)
        {
            None => {
                let hint = closest(
                    participant,
                    scenario.topology.nodes.iter().filter_map(|other| {
                        matches!(other.spec, ComponentSpec::TxnParticipant(_))
                            .then_some(other.id.as_str())
                    }),
                )
                .map(|name| format!(" (did you mean {name:?}?)"))
                .unwrap_or_default();
                problems.push(item, format!("no node {participant:?}{hint}"));
            }
            Some(other) if !matches!(other.spec, ComponentSpec::TxnParticipant(_)) => {
                problems.push(
                    item,
                    format!(
                        "expected a txn_participant node, but {participant:?} is a {}",
                        other.spec.kind_name()
                    ),
                );
            }
            Some(_) => {
                if !seen.insert(participant.as_str()) {
                    problems.push(item, format!("{participant:?} is listed twice"));
                }
            }
        }
    }
}

pub(super) fn orchestrator_properties(
    problems: &mut Problems,
    path: &str,
    spec: &SagaOrchestratorSpec,
) {
    duration_ms(
        problems,
        format!("{path}.step_timeout_ms"),
        spec.step_timeout_ms,
    );
    duration_ms(
        problems,
        format!("{path}.retry_backoff_base_ms"),
        spec.retry_backoff_base_ms,
    );
    duration_ms(
        problems,
        format!("{path}.retry_backoff_cap_ms"),
        spec.retry_backoff_cap_ms,
    );
    for (name, value) in [
        ("max_action_attempts", spec.max_action_attempts),
        ("max_compensation_attempts", spec.max_compensation_attempts),
    ] {
        if value == 0 || value > MAX_SAGA_ATTEMPTS {
            problems.push(
                format!("{path}.{name}"),
                format!("expected 1 to {MAX_SAGA_ATTEMPTS}, found {value}"),
            );
        }
    }
    if spec.max_active_sagas == 0 || spec.max_active_sagas > MAX_TXN_ACTIVE {
        problems.push(
            format!("{path}.max_active_sagas"),
            format!(
                "expected 1 to {MAX_TXN_ACTIVE}, found {}",
                spec.max_active_sagas
            ),
        );
    }
    if spec.steps.is_empty() || spec.steps.len() > MAX_TXN_PARTICIPANTS {
        problems.push(
            format!("{path}.steps"),
            format!(
                "expected 1 to {MAX_TXN_PARTICIPANTS} steps, found {}",
                spec.steps.len()
            ),
        );
    }
}

pub(super) fn saga_service_properties(problems: &mut Problems, path: &str, spec: &SagaServiceSpec) {
    spec.processing_time
        .validate(&format!("{path}.processing_time"), problems);
    check_probability(
        problems,
        format!("{path}.action_failure_probability"),
        spec.action_failure_probability,
    );
    check_probability(
        problems,
        format!("{path}.compensation_failure_probability"),
        spec.compensation_failure_probability,
    );
    if let Some(chain) = &spec.choreography {
        duration_ms(
            problems,
            format!("{path}.choreography.event_retry_interval_ms"),
            chain.event_retry_interval_ms,
        );
        if chain.max_event_attempts == 0 || chain.max_event_attempts > MAX_SAGA_ATTEMPTS {
            problems.push(
                format!("{path}.choreography.max_event_attempts"),
                format!(
                    "expected 1 to {MAX_SAGA_ATTEMPTS}, found {}",
                    chain.max_event_attempts
                ),
            );
        }
    }
}

/// `path` names a node of `kind`; pushes the problem otherwise.
fn node_of_kind(
    problems: &mut Problems,
    scenario: &Scenario,
    path: String,
    id: &str,
    kind: &str,
) -> bool {
    match scenario.topology.nodes.iter().find(|other| other.id == id) {
        None => {
            let hint = closest(
                id,
                scenario
                    .topology
                    .nodes
                    .iter()
                    .filter(|other| other.spec.kind_name() == kind)
                    .map(|other| other.id.as_str()),
            )
            .map(|name| format!(" (did you mean {name:?}?)"))
            .unwrap_or_default();
            problems.push(path, format!("no node {id:?}{hint}"));
            false
        }
        Some(other) if other.spec.kind_name() != kind => {
            problems.push(
                path,
                format!(
                    "expected a {kind} node, but {id:?} is a {}",
                    other.spec.kind_name()
                ),
            );
            false
        }
        Some(_) => true,
    }
}

/// Saga steps name `saga_service` nodes; choreography links point at
/// choreographed `saga_service` nodes and agree both ways (`a.next = b`
/// exactly when `b.previous = a`).
pub(super) fn saga_references(scenario: &Scenario, index: usize, problems: &mut Problems) {
    let node = &scenario.topology.nodes[index];
    let path = format!("topology.nodes[{index}].properties");
    match &node.spec {
        ComponentSpec::SagaOrchestrator(spec) => {
            for (position, step) in spec.steps.iter().enumerate() {
                let item = format!("{path}.steps[{position}].service");
                if node_of_kind(
                    problems,
                    scenario,
                    item.clone(),
                    &step.service,
                    "saga_service",
                ) && let Some(ComponentSpec::SagaService(service)) = scenario
                    .topology
                    .nodes
                    .iter()
                    .find(|other| other.id == step.service)
                    .map(|other| &other.spec)
                    && service.choreography.is_some()
                {
                    problems.push(
                        item,
                        format!(
                            "{:?} is choreographed (it has `choreography`); an orchestrator needs a service that takes commands",
                            step.service
                        ),
                    );
                }
            }
        }
        ComponentSpec::SagaService(SagaServiceSpec {
            choreography: Some(chain),
            ..
        }) => {
            if let Some(broker) = &chain.broker {
                broker_exchange_and_queue(
                    problems,
                    scenario,
                    &format!("{path}.choreography.broker"),
                    &broker.broker,
                    Some(&broker.exchange),
                    Some(&broker.queue),
                );
            }
            for (field, link, back) in [
                ("next", &chain.next, true),
                ("previous", &chain.previous, false),
            ] {
                let Some(link) = link else { continue };
                let item = format!("{path}.choreography.{field}");
                if link == &node.id {
                    problems.push(item, "a service cannot follow itself");
                    continue;
                }
                if !node_of_kind(problems, scenario, item.clone(), link, "saga_service") {
                    continue;
                }
                let other = scenario
                    .topology
                    .nodes
                    .iter()
                    .find(|other| &other.id == link)
                    .map(|other| &other.spec);
                let agrees = match other {
                    Some(ComponentSpec::SagaService(SagaServiceSpec {
                        choreography: Some(other_chain),
                        ..
                    })) => {
                        let expected = if back {
                            &other_chain.previous
                        } else {
                            &other_chain.next
                        };
                        expected.as_deref() == Some(node.id.as_str())
                    }
                    _ => false,
                };
                if !agrees {
                    problems.push(
                        item,
                        format!(
                            "{link:?} must name {:?} as its choreography.{}",
                            node.id,
                            if back { "previous" } else { "next" }
                        ),
                    );
                }
            }
        }
        _ => {}
    }
}

pub(super) fn outbox_service_properties(
    problems: &mut Problems,
    path: &str,
    spec: &OutboxServiceSpec,
) {
    for (name, value) in [
        ("publish_timeout_ms", spec.publish_timeout_ms),
        ("poll_interval_ms", spec.poll_interval_ms),
    ] {
        duration_ms(problems, format!("{path}.{name}"), value);
    }
    for (name, value) in [
        ("db_write_latency_ms", spec.db_write_latency_ms),
        ("publish_latency_ms", spec.publish_latency_ms),
    ] {
        if value > MAX_DURATION_MS {
            problems.push(
                format!("{path}.{name}"),
                format!("expected 0 to {MAX_DURATION_MS} ms, found {value}"),
            );
        }
    }
    if spec.max_publish_attempts == 0 || spec.max_publish_attempts > MAX_SAGA_ATTEMPTS {
        problems.push(
            format!("{path}.max_publish_attempts"),
            format!(
                "expected 1 to {MAX_SAGA_ATTEMPTS}, found {}",
                spec.max_publish_attempts
            ),
        );
    }
    if spec.relay_batch_rows == 0 || spec.relay_batch_rows > MAX_OUTBOX_ROWS {
        problems.push(
            format!("{path}.relay_batch_rows"),
            format!(
                "expected 1 to {MAX_OUTBOX_ROWS}, found {}",
                spec.relay_batch_rows
            ),
        );
    }
    if spec.max_outbox_rows == 0 || spec.max_outbox_rows > MAX_OUTBOX_ROWS {
        problems.push(
            format!("{path}.max_outbox_rows"),
            format!(
                "expected 1 to {MAX_OUTBOX_ROWS}, found {}",
                spec.max_outbox_rows
            ),
        );
    }
}

/// `outbox_service.consumer` must name an `event_consumer`.
pub(super) fn outbox_references(scenario: &Scenario, index: usize, problems: &mut Problems) {
    let node = &scenario.topology.nodes[index];
    if let ComponentSpec::OutboxService(spec) = &node.spec {
        node_of_kind(
            problems,
            scenario,
            format!("topology.nodes[{index}].properties.consumer"),
            &spec.consumer,
            "event_consumer",
        );
    }
}

/// A broker connection names a `rabbit_broker` node and, on it, a declared
/// exchange (publishing) and queue (consuming); `path` is the object holding
/// the `broker`, `exchange` and `queue` fields.
pub(super) fn broker_exchange_and_queue(
    problems: &mut Problems,
    scenario: &Scenario,
    path: &str,
    broker: &str,
    exchange: Option<&str>,
    queue: Option<&str>,
) {
    if !node_of_kind(
        problems,
        scenario,
        format!("{path}.broker"),
        broker,
        "rabbit_broker",
    ) {
        return;
    }
    let Some(ComponentSpec::RabbitBroker(spec)) = scenario
        .topology
        .nodes
        .iter()
        .find(|node| node.id == broker)
        .map(|node| &node.spec)
    else {
        return;
    };
    if let Some(exchange) = exchange
        && !spec
            .exchanges
            .iter()
            .any(|declared| declared.name == exchange)
    {
        let names: Vec<&str> = spec.exchanges.iter().map(|e| e.name.as_str()).collect();
        problems.push(
            format!("{path}.exchange"),
            format!("{broker:?} declares no exchange {exchange:?} (it has {names:?})"),
        );
    }
    if let Some(queue) = queue
        && !spec.queues.iter().any(|declared| declared.name == queue)
    {
        let names: Vec<&str> = spec.queues.iter().map(|q| q.name.as_str()).collect();
        problems.push(
            format!("{path}.queue"),
            format!("{broker:?} declares no queue {queue:?} (it has {names:?})"),
        );
    }
}
