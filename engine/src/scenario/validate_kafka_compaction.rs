//! Validation of Kafka log compaction settings: topic `cleanup_policy`, `segment_ms`, `min_cleanable_dirty_ratio`, `min_compaction_lag_ms`, `delete_retention_ms`, and producers writing to compacted topics (`tombstone_percent`, keys), each problem with its JSON path.

use super::limits::{MAX_DURATION_MS, MAX_KAFKA_COMPACTION_MS};
use super::problems::Problems;
use super::{KafkaProducerSpec, KafkaTopicSpec};

/// A topic's segment and compaction properties (`path` is the topic's path).
pub(super) fn topic(problems: &mut Problems, path: &str, topic: &KafkaTopicSpec) {
    if let Some(segment_ms) = topic.segment_ms
        && (segment_ms == 0 || segment_ms > MAX_DURATION_MS)
    {
        problems.push(
            format!("{path}.segment_ms"),
            format!("expected 1 to {MAX_DURATION_MS} ms, found {segment_ms}"),
        );
    }
    let ratio = topic.min_cleanable_dirty_ratio;
    if !(0.0..=1.0).contains(&ratio) {
        problems.push(
            format!("{path}.min_cleanable_dirty_ratio"),
            format!("expected a ratio from 0 to 1 (Kafka's default is 0.5), found {ratio}"),
        );
    }
    if topic.min_compaction_lag_ms > MAX_KAFKA_COMPACTION_MS {
        problems.push(
            format!("{path}.min_compaction_lag_ms"),
            format!(
                "expected 0 to {MAX_KAFKA_COMPACTION_MS} ms, found {}",
                topic.min_compaction_lag_ms
            ),
        );
    }
    if topic.delete_retention_ms > MAX_KAFKA_COMPACTION_MS {
        problems.push(
            format!("{path}.delete_retention_ms"),
            format!(
                "expected 0 to {MAX_KAFKA_COMPACTION_MS} ms, found {}",
                topic.delete_retention_ms
            ),
        );
    }
    if !topic.cleanup_policy.deletes() {
        // Kafka ignores retention on a compact-only topic; saying so beats
        // a lesson whose retention silently does nothing.
        for (field, set) in [
            ("retention_ms", topic.retention_ms.is_some()),
            ("retention_bytes", topic.retention_bytes.is_some()),
        ] {
            if set {
                problems.push(
                    format!("{path}.{field}"),
                    "has no effect with cleanup_policy \"compact\": expected cleanup_policy \"compact,delete\" to combine compaction with retention, or no retention",
                );
            }
        }
    }
}

/// A producer's own compaction-related property ranges.
pub(super) fn producer_properties(problems: &mut Problems, path: &str, spec: &KafkaProducerSpec) {
    if spec.tombstone_percent > 100 {
        problems.push(
            format!("{path}.tombstone_percent"),
            format!("expected 0 to 100, found {}", spec.tombstone_percent),
        );
    }
}

/// A producer against its topic's cleanup policy. `path` is the
/// producer's properties path.
pub(super) fn producer_topic(
    problems: &mut Problems,
    path: &str,
    spec: &KafkaProducerSpec,
    topic: &KafkaTopicSpec,
) {
    if topic.cleanup_policy.compacts() && spec.keyless_percent > 0 {
        // Kafka's broker refuses keyless records on a compacted topic
        // ("Compacted topic cannot accept message without key").
        problems.push(
            format!("{path}.keyless_percent"),
            format!(
                "expected 0: topic {:?} is compacted (cleanup_policy {:?}) and Kafka refuses records without a key there, found {}",
                topic.name,
                topic.cleanup_policy.as_str(),
                spec.keyless_percent
            ),
        );
    }
    if spec.tombstone_percent > 0 && !topic.cleanup_policy.compacts() {
        problems.push(
            format!("{path}.tombstone_percent"),
            format!(
                "expected 0: tombstones delete keys only on a compacted topic, and topic {:?} has cleanup_policy \"delete\" (set it to \"compact\" or \"compact,delete\")",
                topic.name
            ),
        );
    }
}
