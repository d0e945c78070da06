//! Kafka consumer-group properties over the history: acknowledged writes are consumed, offsets are processed in order without gaps or repeats, keys keep their order, one owner per partition.
//!
//! Every checker reads consumer facts (`consumed`, `assigned`, `revoked`)
//! and, for the Eventually property, the producers' `ok` operations and the
//! leaders' high-watermark facts. Facts carry no message ids (they are
//! stated by a node, not carried by a message), so violations name nodes,
//! offsets and values instead.
//!
//! Compacted topics: the log cleaner removes records but keeps offsets, so a
//! consumer legitimately steps over gaps. Every checker here that could
//! mistake such a gap for a skip or a missing write follows the brokers'
//! `KafkaCleaned` facts (`CompactedOffsets`): an offset any replica's
//! cleaner removed is not "skipped" and its write need not be consumed.
//!
//! Memory: processed offsets are kept as interval sets (a few entries per
//! partition when consumption is orderly); compacted offsets likewise (at
//! most one range per record kept); acknowledged writes and consumed
//! identities are bounded by the broker's `MAX_KAFKA_RECORDS_PER_PARTITION`
//! per partition; per-key state is capped at `MAX_TRACKED_KEYS`.

use super::kafka::parse_write_ok;
use super::{Checker, Property, Violation};
use crate::message::NodeId;
use crate::time::SimTime;
use crate::trace::{Fact, OperationPhase, TraceEvent, TraceKind};
use std::collections::{BTreeMap, BTreeSet};

/// (group, topic, partition).
type GroupPartition = (String, String, u32);

/// Keys tracked by `kafka_order_per_key` (beyond it new keys are not checked).
const MAX_TRACKED_KEYS: usize = 100_000;
/// Gap origins remembered per partition for dating skipped offsets.
const MAX_GAP_ORIGINS: usize = 1_000;

fn name_of(names: &[String], node: NodeId) -> String {
    names
        .get(node.index())
        .cloned()
        .unwrap_or_else(|| format!("n{}", node.0))
}

/// Disjoint half-open ranges `[start, end)` of offsets.
#[derive(Clone, Debug, Default)]
pub struct OffsetSet {
    ranges: BTreeMap<u64, u64>,
}

impl OffsetSet {
    pub fn contains(&self, offset: u64) -> bool {
        self.ranges
            .range(..=offset)
            .next_back()
            .is_some_and(|(_, end)| offset < *end)
    }

    /// Adds `offset`; false if it was already there.
    pub fn insert(&mut self, offset: u64) -> bool {
        if self.contains(offset) {
            return false;
        }
        let mut start = offset;
        let mut end = offset + 1;
        if let Some((&previous_start, &previous_end)) = self.ranges.range(..offset).next_back()
            && previous_end == offset
        {
            start = previous_start;
            self.ranges.remove(&previous_start);
        }
        if let Some(next_end) = self.ranges.remove(&end) {
            end = next_end;
        }
        self.ranges.insert(start, end);
        true
    }

    /// Adds every offset in `[start, end)`.
    pub fn insert_range(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let mut merged_start = start;
        let mut merged_end = end;
        // Ranges that overlap or touch [start, end) merge into it.
        let touching: Vec<(u64, u64)> = self
            .ranges
            .range(..=end)
            .rev()
            .take_while(|(_, range_end)| **range_end >= start)
            .map(|(range_start, range_end)| (*range_start, *range_end))
            .collect();
        for (range_start, range_end) in touching {
            self.ranges.remove(&range_start);
            merged_start = merged_start.min(range_start);
            merged_end = merged_end.max(range_end);
        }
        self.ranges.insert(merged_start, merged_end);
    }

    /// The parts of `[start, end)` not in the set.
    pub fn uncovered(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut missing = Vec::new();
        let mut cursor = start;
        if let Some((_, range_end)) = self.ranges.range(..=start).next_back()
            && *range_end > cursor
        {
            cursor = *range_end;
        }
        for (range_start, range_end) in self.ranges.range(start..end) {
            if *range_start > cursor {
                missing.push((cursor, *range_start));
            }
            cursor = cursor.max(*range_end);
        }
        if cursor < end {
            missing.push((cursor, end));
        }
        missing
    }

    pub fn max(&self) -> Option<u64> {
        self.ranges.values().next_back().map(|end| end - 1)
    }

    /// Missing ranges between the smallest and the largest offset (a group
    /// that starts at the high watermark, `latest`, has no gap before it).
    pub fn gaps(&self) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut expected = self.ranges.keys().next().copied().unwrap_or(0);
        for (start, end) in &self.ranges {
            if *start > expected {
                gaps.push((expected, *start));
            }
            expected = *end;
        }
        gaps
    }
}

/// Offsets the log cleaner removed, per partition, from `KafkaCleaned`
/// facts of any replica (each replica cleans its own copy of the same
/// committed records, so any one's removal marks a legitimate gap).
#[derive(Clone, Default)]
pub struct CompactedOffsets {
    removed: BTreeMap<(String, u32), OffsetSet>,
}

impl CompactedOffsets {
    /// Takes note of a cleaner fact; true if the event was one.
    pub fn observe(&mut self, event: &TraceEvent) -> bool {
        let TraceKind::Fact {
            fact:
                Fact::KafkaCleaned {
                    topic,
                    partition,
                    removed,
                    ..
                },
            ..
        } = &event.kind
        else {
            return false;
        };
        let set = self.removed.entry((topic.clone(), *partition)).or_default();
        for (start, end) in removed {
            set.insert_range(*start, *end);
        }
        true
    }

    pub fn contains(&self, topic: &str, partition: u32, offset: u64) -> bool {
        self.removed
            .get(&(topic.to_string(), partition))
            .is_some_and(|set| set.contains(offset))
    }

    /// The parts of `[start, end)` no cleaner removed.
    pub fn uncovered(&self, topic: &str, partition: u32, start: u64, end: u64) -> Vec<(u64, u64)> {
        match self.removed.get(&(topic.to_string(), partition)) {
            Some(set) => set.uncovered(start, end),
            None => vec![(start, end)],
        }
    }
}

/// Always: within a group, no partition is owned by two consumers at once.
#[derive(Clone, Default)]
pub struct KafkaOneConsumerPerPartition {
    owners: BTreeMap<GroupPartition, BTreeMap<NodeId, SimTime>>,
    node_names: Vec<String>,
}

impl KafkaOneConsumerPerPartition {
    pub const NAME: &'static str = "kafka_one_consumer_per_partition";

    pub fn new(node_names: Vec<String>) -> Self {
        KafkaOneConsumerPerPartition {
            node_names,
            ..Default::default()
        }
    }
}

impl Checker for KafkaOneConsumerPerPartition {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Always: within a consumer group, each partition is owned by at most one consumer at a time (from its assignment until it revokes it, loses it or crashes)"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let TraceKind::Fact { node, fact } = &event.kind else {
            return;
        };
        match fact {
            Fact::KafkaPartitionsAssigned {
                group,
                topic,
                generation,
                partitions,
            } => {
                for partition in partitions {
                    let key = (group.clone(), topic.clone(), *partition);
                    let owners = self.owners.entry(key).or_default();
                    for (other, since) in owners.iter() {
                        if other != node {
                            violations.push(Violation {
                                time: event.time,
                                event_seq: Some(event.seq),
                                detail: format!(
                                    "group {group}: {topic}-{partition} assigned to {} (generation {generation}) while {} still owns it (since {since})",
                                    name_of(&self.node_names, *node),
                                    name_of(&self.node_names, *other)
                                ),
                                messages: Vec::new(),
                                nodes: vec![*other, *node],
                            });
                        }
                    }
                    owners.insert(*node, event.time);
                }
            }
            Fact::KafkaPartitionsRevoked {
                group,
                topic,
                partitions,
                ..
            } => {
                for partition in partitions {
                    let key = (group.clone(), topic.clone(), *partition);
                    if let Some(owners) = self.owners.get_mut(&key) {
                        owners.remove(node);
                    }
                }
            }
            _ => {}
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// Always: while a consumer owns a partition, it processes its offsets one
/// after the other: never an offset at or below one it already processed
/// (non-monotonic), never jumping over one (skipped).
#[derive(Clone, Default)]
pub struct KafkaConsumerOffsetsInOrder {
    /// (consumer, group, topic, partition) → next offset expected.
    expected: BTreeMap<(NodeId, GroupPartition), u64>,
    /// Gaps the log cleaner left are not skips.
    compacted: CompactedOffsets,
    node_names: Vec<String>,
}

impl KafkaConsumerOffsetsInOrder {
    pub const NAME: &'static str = "kafka_consumer_offsets_in_order";

    pub fn new(node_names: Vec<String>) -> Self {
        KafkaConsumerOffsetsInOrder {
            node_names,
            ..Default::default()
        }
    }
}

impl Checker for KafkaConsumerOffsetsInOrder {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Always: while a consumer owns a partition it processes consecutive offsets: none twice or backwards (non-monotonic), none jumped over (skipped); offsets the log cleaner removed from a compacted topic are gaps, not skips"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        if self.compacted.observe(event) {
            return;
        }
        let TraceKind::Fact { node, fact } = &event.kind else {
            return;
        };
        match fact {
            Fact::KafkaConsumed {
                group,
                topic,
                partition,
                record,
            } => {
                let key = (*node, (group.clone(), topic.clone(), *partition));
                let offset = record.offset;
                if let Some(expected) = self.expected.get(&key).copied()
                    && offset != expected
                    && (offset < expected
                        || !self
                            .compacted
                            .uncovered(topic, *partition, expected, offset)
                            .is_empty())
                {
                    let consumer = name_of(&self.node_names, *node);
                    let detail = if offset < expected {
                        format!(
                            "{consumer} (group {group}) processed {topic}-{partition} offset {offset} after offset {}: non-monotonic",
                            expected - 1
                        )
                    } else {
                        format!(
                            "{consumer} (group {group}) processed {topic}-{partition} offset {offset} right after offset {}: skipped offsets {expected}..{}",
                            expected.saturating_sub(1),
                            offset - 1
                        )
                    };
                    violations.push(Violation {
                        time: event.time,
                        event_seq: Some(event.seq),
                        detail,
                        messages: Vec::new(),
                        nodes: vec![*node],
                    });
                }
                self.expected.insert(key, offset + 1);
            }
            Fact::KafkaPartitionsAssigned {
                group,
                topic,
                partitions,
                ..
            }
            | Fact::KafkaPartitionsRevoked {
                group,
                topic,
                partitions,
                ..
            } => {
                // A new ownership starts wherever the committed offset says.
                for partition in partitions {
                    self.expected
                        .remove(&(*node, (group.clone(), topic.clone(), *partition)));
                }
            }
            _ => {}
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// Where a gap in a group's processed offsets began: the first offset
/// processed past unprocessed ones.
#[derive(Clone, Debug)]
struct GapOrigin {
    time: SimTime,
    event_seq: u64,
    node: NodeId,
    /// The partition's log start (largest any replica reported) then.
    log_start: u64,
}

#[derive(Clone, Default)]
struct GroupPartitionProgress {
    processed: OffsetSet,
    /// Offset processed beyond a hole → when and by whom.
    gap_origins: BTreeMap<u64, GapOrigin>,
}

/// Always: a group never leaves a hole in a partition: every offset between
/// the first and the largest one it processed was processed by some member
/// (at-most-once commits skip records after a crash). Decided at the end of
/// the run. A hole before the first processed offset is not seen (a group
/// may legitimately start at the high watermark).
#[derive(Clone, Default)]
pub struct KafkaGroupSkippedOffsets {
    progress: BTreeMap<GroupPartition, GroupPartitionProgress>,
    node_names: Vec<String>,
    /// Largest log start offset reported per partition (retention), so a
    /// skip over deleted records is explained as such. One entry per
    /// partition: bounded by the topics' partition counts.
    log_starts: BTreeMap<(String, u32), u64>,
    /// Gaps the log cleaner left are not skips.
    compacted: CompactedOffsets,
}

impl KafkaGroupSkippedOffsets {
    pub const NAME: &'static str = "kafka_group_no_skipped_offsets";

    pub fn new(node_names: Vec<String>) -> Self {
        KafkaGroupSkippedOffsets {
            node_names,
            ..Default::default()
        }
    }
}

impl Checker for KafkaGroupSkippedOffsets {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Always: no consumer group skips records: every offset below the largest one a group processed in a partition was processed by one of its members, or removed by the log cleaner of a compacted topic (decided at the end of the run)"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        if let TraceKind::RunEnd { .. } = event.kind {
            self.decide(event.time, violations);
            return;
        }
        if self.compacted.observe(event) {
            return;
        }
        if let TraceKind::Fact {
            fact:
                Fact::KafkaLogStart {
                    topic,
                    partition,
                    log_start_offset,
                },
            ..
        } = &event.kind
        {
            let known = self
                .log_starts
                .entry((topic.clone(), *partition))
                .or_default();
            *known = (*known).max(*log_start_offset);
            return;
        }
        let TraceKind::Fact {
            node,
            fact:
                Fact::KafkaConsumed {
                    group,
                    topic,
                    partition,
                    record,
                },
        } = &event.kind
        else {
            return;
        };
        let log_start = self
            .log_starts
            .get(&(topic.clone(), *partition))
            .copied()
            .unwrap_or(0);
        let progress = self
            .progress
            .entry((group.clone(), topic.clone(), *partition))
            .or_default();
        let offset = record.offset;
        let jumps = offset > 0 && !progress.processed.contains(offset - 1);
        progress.processed.insert(offset);
        if jumps && progress.gap_origins.len() < MAX_GAP_ORIGINS {
            progress.gap_origins.entry(offset).or_insert(GapOrigin {
                time: event.time,
                event_seq: event.seq,
                node: *node,
                log_start,
            });
        }
    }
    /// Decided at the run's end event (see `LostAcknowledgedWrites::finish`).
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

impl KafkaGroupSkippedOffsets {
    fn decide(&mut self, end: SimTime, violations: &mut Vec<Violation>) {
        let mut found = Vec::new();
        for ((group, topic, partition), progress) in &self.progress {
            let holes = progress
                .processed
                .gaps()
                .into_iter()
                .flat_map(|(start, stop)| {
                    // The origin is dated by the offset processed after the hole.
                    self.compacted
                        .uncovered(topic, *partition, start, stop)
                        .into_iter()
                        .map(move |(start, end)| (start, end, stop))
                });
            for (start, stop, resumed_at) in holes {
                let origin = progress.gap_origins.get(&resumed_at);
                let by = origin.map_or("a member".to_string(), |origin| {
                    name_of(&self.node_names, origin.node)
                });
                let why = match origin {
                    Some(origin) if origin.log_start >= resumed_at => format!(
                        "lost to retention: deleted before the group read them (log start had moved to {})",
                        origin.log_start
                    ),
                    _ => "skipped (at-most-once)".to_string(),
                };
                found.push((
                    origin.map_or((end, u64::MAX), |origin| (origin.time, origin.event_seq)),
                    Violation {
                        time: origin.map_or(end, |origin| origin.time),
                        event_seq: origin.map(|origin| origin.event_seq),
                        detail: format!(
                            "group {group} never processed {topic}-{partition} offsets {start}..{} ({} record(s)), yet {by} went on from offset {resumed_at}: {why}",
                            stop - 1,
                            stop - start
                        ),
                        messages: Vec::new(),
                        nodes: origin.map_or(Vec::new(), |origin| vec![origin.node]),
                    },
                ));
            }
        }
        found.sort_by_key(|(moment, _)| *moment);
        violations.extend(found.into_iter().map(|(_, violation)| violation));
    }
}

/// Always: the application sees each record once per group (an offset
/// processed again is a redelivery: at-least-once after a crash or rebalance).
#[derive(Clone, Default)]
pub struct KafkaNoDuplicateProcessing {
    processed: BTreeMap<GroupPartition, OffsetSet>,
    node_names: Vec<String>,
}

impl KafkaNoDuplicateProcessing {
    pub const NAME: &'static str = "kafka_no_duplicate_processing";

    pub fn new(node_names: Vec<String>) -> Self {
        KafkaNoDuplicateProcessing {
            node_names,
            ..Default::default()
        }
    }
}

impl Checker for KafkaNoDuplicateProcessing {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Always: each record is processed once per consumer group (a second processing of the same offset is a duplicate delivery to the application)"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let TraceKind::Fact {
            node,
            fact:
                Fact::KafkaConsumed {
                    group,
                    topic,
                    partition,
                    record,
                },
        } = &event.kind
        else {
            return;
        };
        let processed = self
            .processed
            .entry((group.clone(), topic.clone(), *partition))
            .or_default();
        if !processed.insert(record.offset) {
            violations.push(Violation {
                time: event.time,
                event_seq: Some(event.seq),
                detail: format!(
                    "group {group}: {} processed {topic}-{partition} offset {} (key {}, value {}) again: a duplicate delivery (at-least-once redelivers what was processed but not committed)",
                    name_of(&self.node_names, *node),
                    record.offset,
                    record.key,
                    record.value
                ),
                messages: Vec::new(),
                nodes: vec![*node],
            });
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// Always: per group, the records of one key reach the application in the
/// order the producer wrote them (first deliveries only; redeliveries are the
/// duplicate checker's business).
#[derive(Clone, Default)]
pub struct KafkaOrderPerKey {
    processed: BTreeMap<GroupPartition, OffsetSet>,
    /// (group, producer, key) → largest value processed so far.
    latest: BTreeMap<(String, u64, u32), u64>,
    node_names: Vec<String>,
}

impl KafkaOrderPerKey {
    pub const NAME: &'static str = "kafka_order_per_key";

    pub fn new(node_names: Vec<String>) -> Self {
        KafkaOrderPerKey {
            node_names,
            ..Default::default()
        }
    }
}

impl Checker for KafkaOrderPerKey {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Always: within a consumer group, records with the same key are first processed in the order their producer wrote them"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let TraceKind::Fact {
            node,
            fact:
                Fact::KafkaConsumed {
                    group,
                    topic,
                    partition,
                    record,
                },
        } = &event.kind
        else {
            return;
        };
        let first_time = self
            .processed
            .entry((group.clone(), topic.clone(), *partition))
            .or_default()
            .insert(record.offset);
        if !first_time || record.key == crate::components::kafka_partitioner::NO_KEY {
            // Keyless records promise no order across partitions.
            return;
        }
        let key = (group.clone(), record.producer_id, record.key);
        match self.latest.get_mut(&key) {
            Some(latest) if record.value < *latest => {
                violations.push(Violation {
                    time: event.time,
                    event_seq: Some(event.seq),
                    detail: format!(
                        "group {group}: {} processed key {} value {} ({topic}-{partition} offset {}) after value {} of the same key from the same producer, which was written later",
                        name_of(&self.node_names, *node),
                        record.key,
                        record.value,
                        record.offset,
                        latest
                    ),
                    messages: Vec::new(),
                    nodes: vec![*node],
                });
            }
            Some(latest) => *latest = record.value,
            None => {
                if self.latest.len() < MAX_TRACKED_KEYS {
                    self.latest.insert(key, record.value);
                }
            }
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

#[derive(Clone, Debug)]
struct AckedWrite {
    value: u64,
    producer_id: u64,
    offset: u64,
    acknowledged_at: SimTime,
}

/// Eventually: every acknowledged write below its partition's high
/// watermark is processed by every group reading its topic by the end of the run.
#[derive(Clone)]
pub struct KafkaAcknowledgedWritesConsumed {
    /// Group → topic, from the scenario.
    groups: BTreeMap<String, String>,
    /// (topic, partition) → acknowledged writes.
    acknowledged: BTreeMap<(String, u32), Vec<AckedWrite>>,
    /// (topic, partition) → the latest high watermark a leader announced.
    high_watermarks: BTreeMap<(String, u32), u64>,
    /// (group, topic, partition) → (producer, value) processed.
    consumed: BTreeMap<GroupPartition, BTreeSet<(u64, u64)>>,
    /// A write the log cleaner removed (superseded by a later value of its
    /// key) need not be consumed: compaction promises only the latest.
    compacted: CompactedOffsets,
}

impl KafkaAcknowledgedWritesConsumed {
    pub const NAME: &'static str = "kafka_acknowledged_writes_consumed";

    pub fn new(groups: BTreeMap<String, String>) -> Self {
        KafkaAcknowledgedWritesConsumed {
            groups,
            acknowledged: BTreeMap::new(),
            high_watermarks: BTreeMap::new(),
            consumed: BTreeMap::new(),
            compacted: CompactedOffsets::default(),
        }
    }

    fn decide(&mut self, end: SimTime, violations: &mut Vec<Violation>) {
        for (group, group_topic) in &self.groups {
            let mut missing: Vec<(&(String, u32), &AckedWrite)> = Vec::new();
            for (key, writes) in &self.acknowledged {
                if key.0 != *group_topic {
                    continue;
                }
                let high_watermark = self.high_watermarks.get(key).copied().unwrap_or(0);
                let consumed = self.consumed.get(&(group.clone(), key.0.clone(), key.1));
                for write in writes {
                    if write.offset < high_watermark
                        && !self.compacted.contains(&key.0, key.1, write.offset)
                        && !consumed
                            .is_some_and(|set| set.contains(&(write.producer_id, write.value)))
                    {
                        missing.push((key, write));
                    }
                }
            }
            if missing.is_empty() {
                continue;
            }
            missing.sort_by_key(|(_, write)| write.acknowledged_at);
            let total = missing.len();
            let shown: Vec<String> = missing
                .iter()
                .take(20)
                .map(|((topic, partition), write)| {
                    format!("{topic}-{partition}@{}=v{}", write.offset, write.value)
                })
                .collect();
            let ((topic, partition), first) = missing[0];
            violations.push(Violation {
                time: end,
                event_seq: None,
                detail: format!(
                    "group {group} never processed {total} acknowledged write(s) below the high watermark, first value {} ({topic}-{partition} offset {}, acknowledged at {}): [{}{}]",
                    first.value,
                    first.offset,
                    first.acknowledged_at,
                    shown.join(", "),
                    if total > shown.len() { ", …" } else { "" }
                ),
                messages: Vec::new(),
                nodes: Vec::new(),
            });
        }
    }
}

impl Checker for KafkaAcknowledgedWritesConsumed {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Eventually
    }
    fn description(&self) -> &'static str {
        "Eventually: every acknowledged write below its partition's high watermark is processed by each consumer group of its topic by the end of the run (leave time after the producer stops), unless the log cleaner removed it from a compacted topic"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        if self.compacted.observe(event) {
            return;
        }
        match &event.kind {
            TraceKind::RunEnd { .. } => self.decide(event.time, violations),
            TraceKind::Operation {
                phase: OperationPhase::Ok,
                detail,
                ..
            } => {
                if let Some(write) = parse_write_ok(detail) {
                    self.acknowledged
                        .entry((write.topic, write.partition))
                        .or_default()
                        .push(AckedWrite {
                            value: write.value,
                            producer_id: write.producer_id,
                            offset: write.offset,
                            acknowledged_at: event.time,
                        });
                }
            }
            TraceKind::Fact { fact, .. } => match fact {
                Fact::KafkaHighWatermark {
                    topic,
                    partition,
                    high_watermark,
                } => {
                    self.high_watermarks
                        .insert((topic.clone(), *partition), *high_watermark);
                }
                Fact::KafkaConsumed {
                    group,
                    topic,
                    partition,
                    record,
                } => {
                    self.consumed
                        .entry((group.clone(), topic.clone(), *partition))
                        .or_default()
                        .insert((record.producer_id, record.value));
                }
                _ => {}
            },
            _ => {}
        }
    }
    /// Decided at the run's end event (see `LostAcknowledgedWrites::finish`).
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// Every consumer checker, for a scenario whose consumers read these groups (group → topic).
pub fn consumer_checkers(
    groups: BTreeMap<String, String>,
    node_names: &[String],
) -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(KafkaAcknowledgedWritesConsumed::new(groups)),
        Box::new(KafkaConsumerOffsetsInOrder::new(node_names.to_vec())),
        Box::new(KafkaGroupSkippedOffsets::new(node_names.to_vec())),
        Box::new(KafkaNoDuplicateProcessing::new(node_names.to_vec())),
        Box::new(KafkaOrderPerKey::new(node_names.to_vec())),
        Box::new(KafkaOneConsumerPerPartition::new(node_names.to_vec())),
    ]
}

#[cfg(test)]
mod tests {
    use super::OffsetSet;

    #[test]
    fn offset_set_merges_ranges_and_reports_gaps() {
        let mut set = OffsetSet::default();
        for offset in [0, 1, 2, 5, 6, 4] {
            assert!(set.insert(offset));
        }
        assert!(!set.insert(1), "already present");
        assert_eq!(set.gaps(), vec![(3, 4)]);
        assert!(set.insert(3));
        assert!(set.gaps().is_empty());
        assert_eq!(set.max(), Some(6));
        assert_eq!(set.ranges.len(), 1, "one merged range");
    }

    #[test]
    fn offset_set_ranges_merge_and_report_what_they_miss() {
        let mut set = OffsetSet::default();
        set.insert_range(10, 20);
        set.insert_range(30, 40);
        assert_eq!(set.uncovered(0, 50), vec![(0, 10), (20, 30), (40, 50)]);
        assert!(set.uncovered(12, 18).is_empty());
        set.insert_range(20, 30);
        assert_eq!(set.ranges.len(), 1, "touching ranges merge");
        assert!(set.uncovered(10, 40).is_empty());
        set.insert_range(5, 12);
        assert_eq!(set.uncovered(0, 45), vec![(0, 5), (40, 45)]);
    }
}
