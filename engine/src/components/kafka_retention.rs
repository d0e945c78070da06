//! Kafka log retention: which whole segments at the front of a partition's log `retention_ms` / `retention_bytes` delete.
//!
//! Segments are modelled by size alone: a segment holds
//! `segment_bytes / KAFKA_RECORD_BYTES` records, so segment boundaries fall
//! on multiples of that count. As in Kafka, only closed segments are
//! deleted (never the active one, the segment the next record goes to),
//! whole and oldest first; a segment expires by time when its newest record
//! timestamp (CreateTime, on the producer's clock) is `retention_ms` older
//! than the broker's clock, and by size while the log without it is still at
//! least `retention_bytes`. Nothing at or above the high watermark goes.

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

/// True when the topic deletes anything at all.
pub fn retention_enabled(topic: &KafkaTopicSpec) -> bool {
    topic.retention_ms.is_some() || topic.retention_bytes.is_some()
}

/// The log start offset after deleting every expired closed segment, and
/// what expired the last one (None: nothing to delete). `log` holds the
/// records from `log_start_offset` on.
pub fn retained_log_start(
    topic: &KafkaTopicSpec,
    log_start_offset: u64,
    log: &[KafkaRecord],
    high_watermark: u64,
    broker_clock_us: u64,
) -> Option<(u64, RetentionCause)> {
    let records_per_segment = (topic.segment_bytes / u64::from(KAFKA_RECORD_BYTES)).max(1);
    let log_end_offset = log_start_offset + log.len() as u64;
    let mut start = log_start_offset;
    let mut cause = None;
    loop {
        let segment_end = (start / records_per_segment + 1) * records_per_segment;
        // The active segment (nothing after it yet) and uncommitted records stay.
        if segment_end >= log_end_offset || segment_end > high_watermark {
            break;
        }
        let segment =
            &log[(start - log_start_offset) as usize..(segment_end - log_start_offset) as usize];
        let newest_us = segment
            .iter()
            .map(|record| record.create_time_us)
            .max()
            .unwrap_or(0);
        let expired_by_time = topic.retention_ms.is_some_and(|retention_ms| {
            newest_us.saturating_add(retention_ms * 1_000) <= broker_clock_us
        });
        let bytes_without = (log_end_offset - segment_end) * u64::from(KAFKA_RECORD_BYTES);
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
        start = segment_end;
    }
    cause.map(|cause| (start, cause))
}
