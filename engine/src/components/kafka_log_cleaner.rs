//! Kafka log compaction: which records one pass of the log cleaner removes from a replica's log (latest record per key kept, tombstones dropped after `delete_retention_ms`).
//!
//! Follows Kafka's `LogCleaner` (design §4.8 "Log Compaction"):
//! - The log splits at the cleaner checkpoint (`cleaned_up_to`, Kafka's
//!   cleaner-offset-checkpoint): the clean part below it was compacted by an
//!   earlier pass; the dirty part above it was written since.
//! - Only the cleanable range is touched: below the active segment, below the
//!   high watermark, and below the first segment whose newest record is not
//!   yet `min_compaction_lag_ms` old (Kafka's `firstUncleanableOffset`).
//! - A log is cleaned when its dirty ratio (dirty records over cleanable
//!   records) reaches `min_cleanable_dirty_ratio`. The broker's one cleaner
//!   thread takes the filthiest log first, one log per tick.
//! - A pass indexes the dirty records (key → latest offset, at most
//!   `MAX_KAFKA_CLEANER_RECORDS_PER_PASS` of them, like Kafka's bounded
//!   dedupe buffer) and then rewrites everything below the indexed end:
//!   a record is dropped when the map holds a later offset for its key.
//!   Offsets are kept, so the log gets gaps; consumers and followers step
//!   over them.
//! - Tombstones (null values) follow KIP-534: a tombstone gets a delete
//!   horizon (now + `delete_retention_ms`) the first time a pass cleans it,
//!   and a later pass after the horizon drops it. A log with a tombstone past
//!   its horizon is cleanable whatever its dirty ratio (a simplification:
//!   Kafka waits for the next pass the ratio triggers), so a deleted key
//!   disappears within a cleaner tick or two of its horizon.
//!
//! The functions are pure: the broker applies the plan (and states the
//! `KafkaCleaned` fact), so the same rules can be tested without a run.

use crate::components::kafka_retention::records_in;
use crate::message::KafkaRecord;
use crate::scenario::KafkaTopicSpec;
use crate::scenario::limits::MAX_KAFKA_CLEANER_RECORDS_PER_PASS;
use std::collections::BTreeMap;

/// What the cleaner needs to know about one replica's log.
#[derive(Clone)]
pub struct CleanerView<'a> {
    pub topic: &'a KafkaTopicSpec,
    /// Ascending offsets, with gaps where earlier passes removed records.
    pub log: &'a [KafkaRecord],
    /// Segment base offsets; the last is the active segment.
    pub segment_bases: &'a [u64],
    /// The cleaner checkpoint: everything below was cleaned before.
    pub cleaned_up_to: u64,
    pub high_watermark: u64,
    /// Tombstone offset → delete horizon (µs on the broker's clock).
    pub tombstone_horizons: &'a BTreeMap<u64, u64>,
    /// The broker's local clock (µs).
    pub clock_us: u64,
}

/// One pass's decisions.
#[derive(Clone, Debug, PartialEq)]
pub struct CleaningPlan {
    /// The new cleaner checkpoint (the end of what this pass indexed).
    pub cleaned_up_to: u64,
    /// Offsets removed because a later record of the same key exists.
    pub superseded: Vec<u64>,
    /// Tombstones removed because their delete horizon has passed.
    pub expired_tombstones: Vec<u64>,
    /// Tombstones cleaned for the first time → their delete horizon (µs).
    pub new_horizons: Vec<(u64, u64)>,
    /// The dirty ratio that made the log cleanable.
    pub dirty_ratio: f64,
}

impl CleaningPlan {
    /// Every removed offset, ascending.
    pub fn removed(&self) -> Vec<u64> {
        let mut removed: Vec<u64> = self
            .superseded
            .iter()
            .chain(&self.expired_tombstones)
            .copied()
            .collect();
        removed.sort_unstable();
        removed
    }
}

impl CleanerView<'_> {
    /// Kafka's `firstUncleanableOffset`: the active segment, uncommitted
    /// records and segments younger than `min_compaction_lag_ms` stay.
    pub fn first_uncleanable_offset(&self) -> u64 {
        let active_base = self.segment_bases.last().copied().unwrap_or(0);
        let mut limit = active_base.min(self.high_watermark);
        if self.topic.min_compaction_lag_ms > 0 {
            let lag_us = self.topic.min_compaction_lag_ms.saturating_mul(1_000);
            for pair in self.segment_bases.windows(2) {
                if pair[0] >= limit {
                    break;
                }
                let newest_us = records_in(self.log, pair[0], pair[1])
                    .iter()
                    .map(|record| record.create_time_us)
                    .max()
                    .unwrap_or(0);
                if newest_us.saturating_add(lag_us) > self.clock_us {
                    limit = limit.min(pair[0]);
                    break;
                }
            }
        }
        limit
    }

    fn first_dirty_offset(&self) -> u64 {
        let log_start = self.segment_bases.first().copied().unwrap_or(0);
        self.cleaned_up_to.max(log_start)
    }

    /// Dirty records over cleanable records (0 when nothing is cleanable).
    pub fn dirty_ratio(&self) -> f64 {
        let end = self.first_uncleanable_offset();
        let first_dirty = self.first_dirty_offset().min(end);
        let clean = records_in(self.log, 0, first_dirty).len();
        let dirty = records_in(self.log, first_dirty, end).len();
        if clean + dirty == 0 {
            return 0.0;
        }
        dirty as f64 / (clean + dirty) as f64
    }

    /// A tombstone in the cleanable range whose delete horizon has passed.
    fn tombstone_due(&self) -> bool {
        let end = self.first_uncleanable_offset();
        self.tombstone_horizons
            .range(..end)
            .any(|(_, horizon)| *horizon <= self.clock_us)
    }

    /// How urgently this log wants cleaning (None: not cleanable now).
    pub fn filthiness(&self) -> Option<f64> {
        if !self.topic.cleanup_policy.compacts() {
            return None;
        }
        let ratio = self.dirty_ratio();
        let dirty_enough = ratio > 0.0 && ratio >= self.topic.min_cleanable_dirty_ratio;
        (dirty_enough || self.tombstone_due()).then_some(ratio)
    }

    /// One cleaning pass, if the log is cleanable.
    pub fn plan(&self) -> Option<CleaningPlan> {
        let dirty_ratio = self.filthiness()?;
        let uncleanable = self.first_uncleanable_offset();
        let first_dirty = self.first_dirty_offset().min(uncleanable);
        let dirty = records_in(self.log, first_dirty, uncleanable);
        // The bounded offset map: the pass cleans up to the first dirty
        // record it could not index.
        let indexed = &dirty[..dirty.len().min(MAX_KAFKA_CLEANER_RECORDS_PER_PASS)];
        let end = dirty
            .get(indexed.len())
            .map_or(uncleanable, |record| record.offset);
        let mut latest: BTreeMap<u32, u64> = BTreeMap::new();
        for record in indexed {
            latest.insert(record.key, record.offset);
        }
        let delete_retention_us = self.topic.delete_retention_ms.saturating_mul(1_000);
        let mut plan = CleaningPlan {
            cleaned_up_to: end,
            superseded: Vec::new(),
            expired_tombstones: Vec::new(),
            new_horizons: Vec::new(),
            dirty_ratio,
        };
        for record in records_in(self.log, 0, end) {
            if latest
                .get(&record.key)
                .is_some_and(|latest| *latest > record.offset)
            {
                plan.superseded.push(record.offset);
                continue;
            }
            if !record.tombstone {
                continue;
            }
            match self.tombstone_horizons.get(&record.offset) {
                Some(horizon) if *horizon <= self.clock_us => {
                    plan.expired_tombstones.push(record.offset);
                }
                Some(_) => {}
                None => plan.new_horizons.push((
                    record.offset,
                    self.clock_us.saturating_add(delete_retention_us),
                )),
            }
        }
        Some(plan)
    }
}

/// Removed offsets as half-open ranges that hold no kept record (a range
/// may span gaps earlier passes left), for the `KafkaCleaned` fact.
pub fn removed_ranges(log: &[KafkaRecord], removed: &[u64]) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    let mut removed = removed.iter().peekable();
    let mut extending = false;
    for record in log {
        if removed.peek() == Some(&&record.offset) {
            removed.next();
            match ranges.last_mut() {
                Some(last) if extending => last.1 = record.offset + 1,
                _ => ranges.push((record.offset, record.offset + 1)),
            }
            extending = true;
        } else {
            extending = false;
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::KafkaCleanupPolicy;

    fn record(offset: u64, key: u32, tombstone: bool) -> KafkaRecord {
        KafkaRecord {
            offset,
            leader_epoch: 0,
            producer_id: 1,
            producer_epoch: 0,
            sequence: u32::MAX,
            key,
            value: offset,
            create_time_us: offset * 1_000,
            tombstone,
        }
    }

    fn topic() -> KafkaTopicSpec {
        KafkaTopicSpec {
            name: "balances".into(),
            partitions: 1,
            replication_factor: 1,
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
            retention_ms: None,
            retention_bytes: None,
            segment_bytes: 4 * 64,
            cleanup_policy: KafkaCleanupPolicy::Compact,
            segment_ms: None,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            delete_retention_ms: 100,
        }
    }

    #[test]
    fn keeps_the_latest_record_per_key_below_the_active_segment() {
        let topic = topic();
        // Keys 0,1,0,1 | 0,2,0,1 | 1 (active)
        let keys = [0, 1, 0, 1, 0, 2, 0, 1, 1];
        let log: Vec<KafkaRecord> = keys
            .iter()
            .enumerate()
            .map(|(offset, key)| record(offset as u64, *key, false))
            .collect();
        let horizons = BTreeMap::new();
        let view = CleanerView {
            topic: &topic,
            log: &log,
            segment_bases: &[0, 4, 8],
            cleaned_up_to: 0,
            high_watermark: 9,
            tombstone_horizons: &horizons,
            clock_us: 1_000_000,
        };
        let plan = view.plan().expect("all dirty: ratio 1");
        assert_eq!(plan.cleaned_up_to, 8, "the active segment stays dirty");
        // Latest below 8: key 0 at 6, key 1 at 7, key 2 at 5.
        assert_eq!(plan.superseded, vec![0, 1, 2, 3, 4]);
        assert_eq!(removed_ranges(&log, &plan.removed()), vec![(0, 5)]);
    }

    #[test]
    fn tombstones_get_a_horizon_then_go() {
        let topic = topic();
        let log = vec![
            record(0, 0, false),
            record(1, 0, true),
            record(2, 1, false),
            record(3, 1, false),
            record(4, 2, false),
        ];
        let no_horizons = BTreeMap::new();
        let view = CleanerView {
            topic: &topic,
            log: &log,
            segment_bases: &[0, 4],
            cleaned_up_to: 0,
            high_watermark: 5,
            tombstone_horizons: &no_horizons,
            clock_us: 1_000_000,
        };
        let plan = view.plan().expect("dirty");
        assert_eq!(plan.superseded, vec![0, 2]);
        assert_eq!(plan.new_horizons, vec![(1, 1_100_000)]);
        let horizons = BTreeMap::from([(1, 1_100_000)]);
        let kept = vec![record(1, 0, true), record(3, 1, false), record(4, 2, false)];
        let later = CleanerView {
            log: &kept,
            cleaned_up_to: 4,
            tombstone_horizons: &horizons,
            clock_us: 1_050_000,
            ..view
        };
        assert_eq!(later.plan(), None, "clean, and the horizon is ahead");
        let after = CleanerView {
            clock_us: 1_100_000,
            ..later
        };
        let plan = after.plan().expect("a tombstone is due");
        assert_eq!(plan.expired_tombstones, vec![1]);
        assert!(plan.superseded.is_empty());
    }

    #[test]
    fn young_segments_and_low_dirty_ratios_wait() {
        let topic = KafkaTopicSpec {
            min_compaction_lag_ms: 10,
            ..topic()
        };
        let log: Vec<KafkaRecord> = (0..9).map(|offset| record(offset, 0, false)).collect();
        let horizons = BTreeMap::new();
        let view = CleanerView {
            topic: &topic,
            log: &log,
            segment_bases: &[0, 4, 8],
            cleaned_up_to: 0,
            high_watermark: 9,
            tombstone_horizons: &horizons,
            // Segment [0, 4) is 11 ms old; [4, 8) has its newest record
            // at 7 ms: not 10 ms old yet.
            clock_us: 14_000,
        };
        assert_eq!(view.first_uncleanable_offset(), 4);
        let ratio_topic = KafkaTopicSpec {
            min_cleanable_dirty_ratio: 0.9,
            ..KafkaTopicSpec {
                min_compaction_lag_ms: 0,
                ..topic.clone()
            }
        };
        let mostly_clean = CleanerView {
            topic: &ratio_topic,
            cleaned_up_to: 4,
            clock_us: 1_000_000,
            ..view
        };
        // Clean 4, dirty 4: 0.5 < 0.9.
        assert_eq!(mostly_clean.filthiness(), None);
    }
}
