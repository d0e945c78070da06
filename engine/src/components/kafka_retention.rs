//! Kafka log segments and retention: when the active segment rolls (`segment_bytes`, `segment_ms`), and which whole segments at the front `retention_ms` / `retention_bytes` delete.
//!
//! A replica keeps its segments as their base offsets (ascending; the last
//! is the active segment, the one the next record goes to). The log rolls
//! when a record is appended, as Kafka's `LogSegment.shouldRoll` decides: the
//! active segment is full (`segment_bytes`, each record counting
//! `KAFKA_RECORD_BYTES`), or the new record's timestamp is `segment_ms` past
//! the segment's first record's. Followers roll by the same rule on their own
//! copy. The log cleaner (`kafka_log_cleaner.rs`) uses the same segments:
//! neither retention nor the cleaner ever touches the active segment.
//!
//! Retention, as in Kafka, deletes only closed segments, whole and oldest
//! first; a segment expires by time when its newest record timestamp
//! (CreateTime, on the producer's clock) is `retention_ms` older than the
//! broker's clock, and by size while the log without it is still at least
//! `retention_bytes`. Nothing at or above the high watermark goes. Only
//! topics whose `cleanup_policy` includes `delete` have retention.

use crate::message::KafkaRecord;
use crate::scenario::KafkaTopicSpec;
use crate::scenario::limits::KAFKA_RECORD_BYTES;

/// Why the log start moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionCause {
    Time,
    Size,
}

impl RetentionCause {
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionCause::Time => "retention_ms",
            RetentionCause::Size => "retention_bytes",
        }
    }
}

/// A topic's segment roll rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentRule {
    /// Records a segment holds before it rolls (`segment_bytes` / record size).
    pub records_per_segment: u64,
    /// `segment_ms` in µs, if set.
    pub roll_after_us: Option<u64>,
}

impl SegmentRule {
    pub fn of(topic: &KafkaTopicSpec) -> SegmentRule {
        SegmentRule {
            records_per_segment: (topic.segment_bytes / u64::from(KAFKA_RECORD_BYTES)).max(1),
            roll_after_us: topic.segment_ms.map(|ms| ms.saturating_mul(1_000)),
        }
    }

    /// Whether appending `next` starts a new segment. `active` holds the
    /// records of the active segment (oldest first).
    pub fn should_roll(&self, active: &[KafkaRecord], next: &KafkaRecord) -> bool {
        let Some(first) = active.first() else {
            return false;
        };
        let full = active.len() as u64 >= self.records_per_segment;
        let aged = self.roll_after_us.is_some_and(|roll_after_us| {
            next.create_time_us.saturating_sub(first.create_time_us) >= roll_after_us
        });
        full || aged
    }
}

/// The records of `log` (ascending offsets) in `[from, to)`.
pub fn records_in(log: &[KafkaRecord], from: u64, to: u64) -> &[KafkaRecord] {
    let start = log.partition_point(|record| record.offset < from);
    let end = log.partition_point(|record| record.offset < to).max(start);
    &log[start..end]
}

/// True when the topic deletes anything by age or size.
pub fn retention_enabled(topic: &KafkaTopicSpec) -> bool {
    topic.cleanup_policy.deletes()
        && (topic.retention_ms.is_some() || topic.retention_bytes.is_some())
}

/// The log start offset after deleting every expired closed segment, and
/// what expired the last one (None: nothing to delete). `log` holds the
/// records from the log start on (ascending, with gaps where the cleaner
/// removed records); `segment_bases` the segments' base offsets, the first
/// being the log start and the last the active segment.
pub fn retained_log_start(
    topic: &KafkaTopicSpec,
    log: &[KafkaRecord],
    segment_bases: &[u64],
    high_watermark: u64,
    broker_clock_us: u64,
) -> Option<(u64, RetentionCause)> {
    if !retention_enabled(topic) {
        return None;
    }
    let mut start = None;
    let mut cause = None;
    let mut remaining_records = log.len() as u64;
    for pair in segment_bases.windows(2) {
        let (base, segment_end) = (pair[0], pair[1]);
        // Uncommitted records stay; the active segment has no next base.
        if segment_end > high_watermark {
            break;
        }
        let segment = records_in(log, base, segment_end);
        let newest_us = segment
            .iter()
            .map(|record| record.create_time_us)
            .max()
            .unwrap_or(0);
        let expired_by_time = topic.retention_ms.is_some_and(|retention_ms| {
            newest_us.saturating_add(retention_ms * 1_000) <= broker_clock_us
        });
        let bytes_without =
            (remaining_records - segment.len() as u64) * u64::from(KAFKA_RECORD_BYTES);
        let expired_by_size = topic
            .retention_bytes
            .is_some_and(|retention_bytes| bytes_without >= retention_bytes);
        if expired_by_time {
            cause = Some(RetentionCause::Time);
        } else if expired_by_size {
            cause = Some(RetentionCause::Size);
        } else {
            break;
        }
        remaining_records -= segment.len() as u64;
        start = Some(segment_end);
    }
    start.zip(cause)
}
