//! Validation of `kafka_consumer` nodes: property ranges and references (controller, topic, group consistency), each problem with its JSON path.

use super::limits::{MAX_DURATION_MS, MAX_ID_CHARS, MAX_KAFKA_MAX_POLL_RECORDS};
use super::problems::Problems;
use super::{ComponentSpec, KafkaConsumerSpec, Scenario};

fn duration_ms(problems: &mut Problems, path: String, value_ms: u64) {
    if value_ms == 0 || value_ms > MAX_DURATION_MS {
        problems.push(
            path,
            format!("expected 1 to {MAX_DURATION_MS} ms, found {value_ms}"),
        );
    }
}

/// Ranges of the consumer's own properties.
pub(super) fn properties(problems: &mut Problems, path: &str, spec: &KafkaConsumerSpec) {
    let group = &spec.group_id;
    if group.is_empty()
        || group.chars().count() > MAX_ID_CHARS
        || !group
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "-_.".contains(character))
    {
        problems.push(
            format!("{path}.group_id"),
            format!(
                "expected 1 to {MAX_ID_CHARS} letters, digits, '-', '_' or '.', found {group:?}"
            ),
        );
    }
    for (name, value) in [
        ("auto_commit_interval_ms", spec.auto_commit_interval_ms),
        ("session_timeout_ms", spec.session_timeout_ms),
        ("heartbeat_interval_ms", spec.heartbeat_interval_ms),
        ("max_poll_interval_ms", spec.max_poll_interval_ms),
        ("request_timeout_ms", spec.request_timeout_ms),
        ("fetch_backoff_ms", spec.fetch_backoff_ms),
    ] {
        duration_ms(problems, format!("{path}.{name}"), value);
    }
    // Kafka refuses the same configuration (heartbeat.interval.ms must be
    // lower than session.timeout.ms).
    if spec.heartbeat_interval_ms >= spec.session_timeout_ms {
        problems.push(
            format!("{path}.heartbeat_interval_ms"),
            format!(
                "expected less than session_timeout_ms ({}), found {}",
                spec.session_timeout_ms, spec.heartbeat_interval_ms
            ),
        );
    }
    if spec.max_poll_records == 0 || spec.max_poll_records > MAX_KAFKA_MAX_POLL_RECORDS {
        problems.push(
            format!("{path}.max_poll_records"),
            format!(
                "expected 1 to {MAX_KAFKA_MAX_POLL_RECORDS}, found {}",
                spec.max_poll_records
            ),
        );
    }
    spec.processing_time
        .validate(&format!("{path}.processing_time"), problems);
}

/// The topic exists on the controller; every consumer of a group reads the
/// same topic with the same assignor (the simulator's simplification: Kafka
/// lets members differ and negotiates a common protocol).
pub(super) fn references(
    problems: &mut Problems,
    scenario: &Scenario,
    index: usize,
    spec: &KafkaConsumerSpec,
    controller: Option<usize>,
) {
    let path = format!("topology.nodes[{index}].properties");
    if let Some(controller) = controller
        && let ComponentSpec::KafkaController(controller_spec) =
            &scenario.topology.nodes[controller].spec
        && !controller_spec
            .topics
            .iter()
            .any(|topic| topic.name == spec.topic)
    {
        let names: Vec<&str> = controller_spec
            .topics
            .iter()
            .map(|topic| topic.name.as_str())
            .collect();
        problems.push(
            format!("{path}.topic"),
            format!(
                "controller {:?} has no topic {:?} (it has {names:?})",
                spec.controller, spec.topic
            ),
        );
    }
    let first_of_group = scenario.topology.nodes[..index]
        .iter()
        .enumerate()
        .find_map(|(other_index, other)| match &other.spec {
            ComponentSpec::KafkaConsumer(other_spec) if other_spec.group_id == spec.group_id => {
                Some((other_index, other_spec))
            }
            _ => None,
        });
    if let Some((other_index, other)) = first_of_group {
        if other.topic != spec.topic {
            problems.push(
                format!("{path}.topic"),
                format!(
                    "group {:?} already reads topic {:?} (topology.nodes[{other_index}]); every consumer of a group reads the same topic",
                    spec.group_id, other.topic
                ),
            );
        }
        if other.assignor != spec.assignor {
            problems.push(
                format!("{path}.assignor"),
                format!(
                    "group {:?} already uses {:?} (topology.nodes[{other_index}]); every consumer of a group uses the same assignor",
                    spec.group_id,
                    other.assignor.as_str()
                ),
            );
        }
        if other.controller != spec.controller {
            problems.push(
                format!("{path}.controller"),
                format!(
                    "group {:?} already uses controller {:?} (topology.nodes[{other_index}])",
                    spec.group_id, other.controller
                ),
            );
        }
    }
}
