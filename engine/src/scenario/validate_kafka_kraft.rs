//! Validation of a KRaft controller quorum (`kafka_controller` with `mode: kraft`): timeouts, voter references and that every voter describes the same cluster, each problem with its JSON path.

use super::limits::{MAX_DURATION_MS, MAX_KRAFT_VOTERS};
use super::problems::Problems;
use super::{ComponentSpec, KafkaControllerMode, KafkaControllerSpec, Scenario};

/// Ranges of the quorum properties of the controller at `path`.
pub(super) fn properties(problems: &mut Problems, path: &str, spec: &KafkaControllerSpec) {
    if spec.mode == KafkaControllerMode::StandIn {
        if !spec.quorum_voters.is_empty() {
            problems.push(
                format!("{path}.quorum_voters"),
                "quorum voters only apply with \"mode\": \"kraft\" (the stand-in decides alone)",
            );
        }
        return;
    }
    for (name, value_ms) in [
        (
            "quorum_election_timeout_ms",
            spec.quorum_election_timeout_ms,
        ),
        (
            "quorum_heartbeat_interval_ms",
            spec.quorum_heartbeat_interval_ms,
        ),
    ] {
        if value_ms == 0 || value_ms > MAX_DURATION_MS / 2 {
            problems.push(
                format!("{path}.{name}"),
                format!("expected 1 to {} ms, found {value_ms}", MAX_DURATION_MS / 2),
            );
        }
    }
    if spec.quorum_heartbeat_interval_ms >= spec.quorum_election_timeout_ms {
        problems.push(
            format!("{path}.quorum_heartbeat_interval_ms"),
            format!(
                "expected below quorum_election_timeout_ms ({} ms), found {} ms: followers would campaign between heartbeats",
                spec.quorum_election_timeout_ms, spec.quorum_heartbeat_interval_ms
            ),
        );
    }
    if spec.quorum_voters.is_empty() || spec.quorum_voters.len() > MAX_KRAFT_VOTERS {
        problems.push(
            format!("{path}.quorum_voters"),
            format!(
                "expected 1 to {MAX_KRAFT_VOTERS} kafka_controller voters, found {}",
                spec.quorum_voters.len()
            ),
        );
    }
}

/// The fields every voter of one quorum must agree on.
fn cluster_view(spec: &KafkaControllerSpec) -> impl PartialEq + '_ {
    (
        &spec.brokers,
        &spec.topics,
        &spec.quorum_voters,
        spec.broker_session_timeout_ms,
        spec.quorum_election_timeout_ms,
        spec.quorum_heartbeat_interval_ms,
    )
}

/// References of the controller `me` (node `index`): voters are distinct
/// `kafka_controller` nodes in KRaft mode that include `me` and describe the
/// same cluster. `resolved[i]` is voter i's node index (the caller already
/// reported dangling or wrongly typed names).
pub(super) fn references(
    problems: &mut Problems,
    scenario: &Scenario,
    index: usize,
    spec: &KafkaControllerSpec,
    resolved: &[Option<usize>],
) {
    if spec.mode != KafkaControllerMode::Kraft {
        return;
    }
    let path = format!("topology.nodes[{index}].properties.quorum_voters");
    let me = &scenario.topology.nodes[index].id;
    if !spec.quorum_voters.is_empty() && !spec.quorum_voters.contains(me) {
        problems.push(
            path.clone(),
            format!("expected the voters to include this controller {me:?}"),
        );
    }
    for (position, voter) in spec.quorum_voters.iter().enumerate() {
        let voter_path = format!("{path}[{position}]");
        if let Some(first) = spec.quorum_voters[..position]
            .iter()
            .position(|other| other == voter)
        {
            problems.push(
                voter_path,
                format!("{voter:?} is already listed at quorum_voters[{first}]"),
            );
            continue;
        }
        let Some(voter_node) = resolved.get(position).copied().flatten() else {
            continue;
        };
        let ComponentSpec::KafkaController(voter_spec) = &scenario.topology.nodes[voter_node].spec
        else {
            continue;
        };
        if voter_spec.mode != KafkaControllerMode::Kraft {
            problems.push(
                voter_path,
                format!("voter {voter:?} must also have \"mode\": \"kraft\""),
            );
        } else if cluster_view(voter_spec) != cluster_view(spec) {
            problems.push(
                voter_path,
                format!(
                    "voter {voter:?} describes another cluster: every voter must list the same brokers, topics, quorum_voters, broker_session_timeout_ms and quorum timeouts"
                ),
            );
        }
    }
}

/// Whether the controller at `other` is a fellow voter of `spec`'s quorum
/// (voters share their brokers; other controllers may not).
pub(super) fn same_quorum(spec: &KafkaControllerSpec, other_id: &str) -> bool {
    spec.mode == KafkaControllerMode::Kraft
        && spec.quorum_voters.iter().any(|voter| voter == other_id)
}
