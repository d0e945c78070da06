//! Kafka log compaction guarantees (design §4.8 "Log Compaction Basics"): the cleaner keeps the latest value of every key, and deleted keys (tombstones) disappear after `delete_retention_ms`.
//!
//! Both checkers rebuild every replica's log of the compacted topics from the
//! brokers' facts (appends, truncations, log starts and `KafkaCleaned`
//! removals) and follow the controller's leader facts, so they judge what a
//! consumer reading from the start would read: the leader's log.
//!
//! - `kafka_compaction_latest_value_per_key` (Always): at every cleaning, each
//!   record the cleaner removed had a later record of its key in that
//!   replica's log, or was a tombstone at least `delete_retention_ms` old;
//!   and at the end of the run the leader's log holds, for every key, its
//!   latest acknowledged write or a later record of the key (unless that key
//!   was deleted: a tombstone at or after it expired).
//! - `kafka_compaction_tombstones_expire` (Eventually): by the end of the
//!   run, no key deleted by a tombstone in the cleaned part of the leader's
//!   log has an older record left there, and no tombstone cleaned more than
//!   `delete_retention_ms` (plus a few cleaner ticks, see
//!   `expiry_slack_us`) before the end is still there.
//!
//! Memory: one entry per record per replica of the compacted topics (bounded
//! by `MAX_KAFKA_RECORDS_PER_PARTITION`), one per key per partition for the
//! acknowledged writes (at most `MAX_KAFKA_COMPACTION_TRACKED_KEYS`).

use super::kafka::parse_write_ok;
use super::{Checker, Property, Violation};
use crate::message::NodeId;
use crate::scenario::KafkaTopicSpec;
use crate::scenario::limits::{KAFKA_LOG_CLEANER_INTERVAL_MS, MAX_KAFKA_COMPACTION_TRACKED_KEYS};
use crate::time::SimTime;
use crate::trace::{Fact, OperationPhase, TraceEvent, TraceKind};
use std::collections::BTreeMap;

type PartitionKey = (String, u32);

fn name_of(names: &[String], node: NodeId) -> String {
    names
        .get(node.index())
        .cloned()
        .unwrap_or_else(|| format!("n{}", node.0))
}

#[derive(Clone, Copy, Debug)]
struct ModelRecord {
    key: u32,
    value: u64,
    tombstone: bool,
    appended_at: SimTime,
}

#[derive(Clone, Default)]
struct ReplicaModel {
    records: BTreeMap<u64, ModelRecord>,
    /// Below this the log has been cleaned (the largest checkpoint stated).
    cleaned_up_to: u64,
    /// Tombstone offset → when a cleaning first covered it.
    first_cleaned: BTreeMap<u64, (SimTime, u64)>,
}

#[derive(Clone, Default)]
struct PartitionModel {
    replicas: BTreeMap<NodeId, ReplicaModel>,
    leader: Option<NodeId>,
    last_leader: Option<NodeId>,
    /// Key → (offset, value, tombstone) of its latest acknowledged write.
    latest_acknowledged: BTreeMap<u32, (u64, u64, bool)>,
    /// Key → largest offset of a tombstone a cleaner removed (expired).
    expired_tombstones: BTreeMap<u32, u64>,
}

impl PartitionModel {
    fn reference(&self) -> Option<NodeId> {
        self.leader.or(self.last_leader)
    }
}

/// Replica logs of compacted topics, shared by both checkers.
#[derive(Clone)]
struct CompactionModel {
    /// Compacted topic name → `delete_retention_ms` in µs.
    delete_retention_us: BTreeMap<String, u64>,
    partitions: BTreeMap<PartitionKey, PartitionModel>,
    untracked_keys: u64,
}

/// A removal the cleaner had no right to make.
#[derive(Clone)]
struct BadRemoval {
    node: NodeId,
    topic: String,
    partition: u32,
    offset: u64,
    record: ModelRecord,
    delete_retention_ms: u64,
}

impl CompactionModel {
    fn new(topics: &[KafkaTopicSpec]) -> CompactionModel {
        CompactionModel {
            delete_retention_us: topics
                .iter()
                .filter(|topic| topic.cleanup_policy.compacts())
                .map(|topic| {
                    (
                        topic.name.clone(),
                        topic.delete_retention_ms.saturating_mul(1_000),
                    )
                })
                .collect(),
            partitions: BTreeMap::new(),
            untracked_keys: 0,
        }
    }

    fn tracks(&self, topic: &str) -> bool {
        self.delete_retention_us.contains_key(topic)
    }

    /// Applies one event; returns removals the cleaner should not have made.
    fn observe(&mut self, event: &TraceEvent) -> Vec<BadRemoval> {
        match &event.kind {
            TraceKind::Operation {
                phase: OperationPhase::Ok,
                detail,
                ..
            } => {
                if let Some(write) = parse_write_ok(detail)
                    && self.tracks(&write.topic)
                {
                    let tracked: usize = self
                        .partitions
                        .values()
                        .map(|model| model.latest_acknowledged.len())
                        .sum();
                    let model = self
                        .partitions
                        .entry((write.topic.clone(), write.partition))
                        .or_default();
                    let known = model.latest_acknowledged.contains_key(&write.key);
                    if !known && tracked >= MAX_KAFKA_COMPACTION_TRACKED_KEYS {
                        self.untracked_keys += 1;
                    } else {
                        let entry = model.latest_acknowledged.entry(write.key).or_insert((
                            write.offset,
                            write.value,
                            write.tombstone,
                        ));
                        if write.offset >= entry.0 {
                            *entry = (write.offset, write.value, write.tombstone);
                        }
                    }
                }
                Vec::new()
            }
            TraceKind::Fact { node, fact } => self.observe_fact(event, *node, fact),
            _ => Vec::new(),
        }
    }

    fn observe_fact(&mut self, event: &TraceEvent, node: NodeId, fact: &Fact) -> Vec<BadRemoval> {
        let (topic, partition) = match fact {
            Fact::KafkaAppend {
                topic, partition, ..
            }
            | Fact::KafkaTruncate {
                topic, partition, ..
            }
            | Fact::KafkaLogStart {
                topic, partition, ..
            }
            | Fact::KafkaLeader {
                topic, partition, ..
            }
            | Fact::KafkaCleaned {
                topic, partition, ..
            } => (topic, *partition),
            _ => return Vec::new(),
        };
        let Some(delete_retention_us) = self.delete_retention_us.get(topic).copied() else {
            return Vec::new();
        };
        let model = self
            .partitions
            .entry((topic.clone(), partition))
            .or_default();
        match fact {
            Fact::KafkaAppend { record, .. } => {
                let replica = model.replicas.entry(node).or_default();
                replica.records.split_off(&record.offset);
                replica.records.insert(
                    record.offset,
                    ModelRecord {
                        key: record.key,
                        value: record.value,
                        tombstone: record.tombstone,
                        appended_at: event.time,
                    },
                );
            }
            Fact::KafkaTruncate { to_offset, .. } => {
                let replica = model.replicas.entry(node).or_default();
                replica.records.split_off(to_offset);
                replica.first_cleaned.split_off(to_offset);
                replica.cleaned_up_to = replica.cleaned_up_to.min(*to_offset);
            }
            Fact::KafkaLogStart {
                log_start_offset, ..
            } => {
                let replica = model.replicas.entry(node).or_default();
                replica.records = replica.records.split_off(log_start_offset);
                replica.first_cleaned = replica.first_cleaned.split_off(log_start_offset);
            }
            Fact::KafkaLeader { leader, .. } => {
                model.leader = *leader;
                if leader.is_some() {
                    model.last_leader = *leader;
                }
            }
            Fact::KafkaCleaned {
                cleaned_up_to,
                removed,
                ..
            } => {
                let replica = model.replicas.entry(node).or_default();
                let mut bad = Vec::new();
                for (start, end) in removed {
                    let offsets: Vec<u64> = replica
                        .records
                        .range(start..end)
                        .map(|(offset, _)| *offset)
                        .collect();
                    for offset in offsets {
                        let Some(record) = replica.records.remove(&offset) else {
                            continue;
                        };
                        replica.first_cleaned.remove(&offset);
                        let superseded = replica
                            .records
                            .range(offset + 1..)
                            .any(|(_, later)| later.key == record.key);
                        let expired = record.tombstone
                            && record
                                .appended_at
                                .as_micros()
                                .saturating_add(delete_retention_us)
                                <= event.time.as_micros();
                        if record.tombstone && !superseded {
                            let newest =
                                model.expired_tombstones.entry(record.key).or_insert(offset);
                            *newest = (*newest).max(offset);
                        }
                        if !superseded && !expired {
                            bad.push(BadRemoval {
                                node,
                                topic: topic.clone(),
                                partition,
                                offset,
                                record,
                                delete_retention_ms: delete_retention_us / 1_000,
                            });
                        }
                    }
                }
                replica.cleaned_up_to = replica.cleaned_up_to.max(*cleaned_up_to);
                let newly_cleaned: Vec<u64> = replica
                    .records
                    .range(..*cleaned_up_to)
                    .filter(|(offset, record)| {
                        record.tombstone && !replica.first_cleaned.contains_key(offset)
                    })
                    .map(|(offset, _)| *offset)
                    .collect();
                for offset in newly_cleaned {
                    replica
                        .first_cleaned
                        .insert(offset, (event.time, event.seq));
                }
                return bad;
            }
            _ => {}
        }
        Vec::new()
    }
}

/// Always: the cleaner never removes the latest value of a key (only records
/// a later one of the same key supersedes, and tombstones past
/// `delete_retention_ms`), so the leader's log keeps every key's latest
/// acknowledged value or a later one.
#[derive(Clone)]
pub struct KafkaCompactionLatestValuePerKey {
    model: CompactionModel,
    node_names: Vec<String>,
}

impl KafkaCompactionLatestValuePerKey {
    pub const NAME: &'static str = "kafka_compaction_latest_value_per_key";

    pub fn new(topics: &[KafkaTopicSpec], node_names: Vec<String>) -> Self {
        KafkaCompactionLatestValuePerKey {
            model: CompactionModel::new(topics),
            node_names,
        }
    }

    fn decide(&self, end: SimTime, violations: &mut Vec<Violation>) {
        for ((topic, partition), model) in &self.model.partitions {
            let Some(reference) = model.reference() else {
                continue;
            };
            let empty = BTreeMap::new();
            let records = model
                .replicas
                .get(&reference)
                .map_or(&empty, |replica| &replica.records);
            for (key, (offset, value, tombstone)) in &model.latest_acknowledged {
                let present = records
                    .range(offset..)
                    .any(|(_, record)| record.key == *key);
                let deleted = model
                    .expired_tombstones
                    .get(key)
                    .is_some_and(|expired| expired >= offset);
                if present || deleted {
                    continue;
                }
                violations.push(Violation {
                    time: end,
                    event_seq: None,
                    detail: format!(
                        "key {key} of {topic}-{partition}: its latest acknowledged {} (value {value}, offset {offset}) is not in the log of leader {} at the end, and no later record of the key is: a consumer reading from the start would not see the key's latest state",
                        if *tombstone { "delete (tombstone)" } else { "write" },
                        name_of(&self.node_names, reference)
                    ),
                    messages: Vec::new(),
                    nodes: vec![reference],
                });
            }
        }
    }
}

impl Checker for KafkaCompactionLatestValuePerKey {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Always: the log cleaner removes a record only when a later record of the same key is in the log (or it is a tombstone older than delete_retention_ms), so a consumer reading a compacted topic from the start sees every key's latest acknowledged value or a later one (the end state is checked when the run ends)"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        if let TraceKind::RunEnd { .. } = event.kind {
            self.decide(event.time, violations);
            return;
        }
        for bad in self.model.observe(event) {
            violations.push(Violation {
                time: event.time,
                event_seq: Some(event.seq),
                detail: format!(
                    "the log cleaner on {} removed {} of key {} (value {}, {}-{} offset {}) though no later record of the key was in its log{}",
                    name_of(&self.node_names, bad.node),
                    if bad.record.tombstone {
                        "the tombstone"
                    } else {
                        "the latest value"
                    },
                    bad.record.key,
                    bad.record.value,
                    bad.topic,
                    bad.partition,
                    bad.offset,
                    if bad.record.tombstone {
                        format!(
                            " and it was younger than delete_retention_ms ({} ms)",
                            bad.delete_retention_ms
                        )
                    } else {
                        String::new()
                    }
                ),
                messages: Vec::new(),
                nodes: vec![bad.node],
            });
        }
    }
    /// Decided at the run's end event (see `LostAcknowledgedWrites::finish`).
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// Eventually: deleted keys disappear from a compacted topic.
#[derive(Clone)]
pub struct KafkaCompactionTombstonesExpire {
    model: CompactionModel,
    node_names: Vec<String>,
    /// How long after a tombstone's delete horizon the cleaner may take.
    expiry_slack_us: u64,
}

impl KafkaCompactionTombstonesExpire {
    pub const NAME: &'static str = "kafka_compaction_tombstones_expire";

    pub fn new(topics: &[KafkaTopicSpec], node_names: Vec<String>) -> Self {
        // One cleaner pass per broker per tick, filthiest log first: a due
        // tombstone may wait a tick per compacted partition, plus the tick
        // that notices it and the one that runs.
        let compacted_partitions: u64 = topics
            .iter()
            .filter(|topic| topic.cleanup_policy.compacts())
            .map(|topic| u64::from(topic.partitions))
            .sum();
        KafkaCompactionTombstonesExpire {
            model: CompactionModel::new(topics),
            node_names,
            expiry_slack_us: (compacted_partitions + 2) * KAFKA_LOG_CLEANER_INTERVAL_MS * 1_000,
        }
    }

    fn decide(&self, end: SimTime, violations: &mut Vec<Violation>) {
        let mut found: Vec<(SimTime, u64, Violation)> = Vec::new();
        for ((topic, partition), model) in &self.model.partitions {
            let Some(reference) = model.reference() else {
                continue;
            };
            let Some(replica) = model.replicas.get(&reference) else {
                continue;
            };
            let retention_us = self
                .model
                .delete_retention_us
                .get(topic)
                .copied()
                .unwrap_or(0);
            let leader = name_of(&self.node_names, reference);
            for (offset, (cleaned_at, cleaned_seq)) in &replica.first_cleaned {
                let Some(tombstone) = replica.records.get(offset) else {
                    continue;
                };
                // Older values of a deleted key go in the same pass.
                if let Some((older, record)) = replica
                    .records
                    .range(..offset)
                    .find(|(_, record)| record.key == tombstone.key)
                {
                    found.push((
                        *cleaned_at,
                        *cleaned_seq,
                        Violation {
                            time: *cleaned_at,
                            event_seq: Some(*cleaned_seq),
                            detail: format!(
                                "key {} of {topic}-{partition} was deleted by the tombstone at offset {offset}, cleaned on {leader} at {cleaned_at}, yet its older value {} at offset {older} is still in the cleaned log",
                                tombstone.key, record.value
                            ),
                            messages: Vec::new(),
                            nodes: vec![reference],
                        },
                    ));
                }
                let due_us = cleaned_at
                    .as_micros()
                    .saturating_add(retention_us)
                    .saturating_add(self.expiry_slack_us);
                if due_us <= end.as_micros() {
                    found.push((
                        SimTime(due_us),
                        u64::MAX,
                        Violation {
                            time: SimTime(due_us),
                            event_seq: None,
                            detail: format!(
                                "the tombstone of key {} at {topic}-{partition} offset {offset} is still in the log of leader {leader} at the end, though the cleaner first passed it at {cleaned_at} and delete_retention_ms is {} ms",
                                tombstone.key,
                                retention_us / 1_000
                            ),
                            messages: Vec::new(),
                            nodes: vec![reference],
                        },
                    ));
                }
            }
        }
        found.sort_by_key(|(time, seq, _)| (*time, *seq));
        violations.extend(found.into_iter().map(|(_, _, violation)| violation));
    }
}

impl Checker for KafkaCompactionTombstonesExpire {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Eventually
    }
    fn description(&self) -> &'static str {
        "Eventually: a key deleted by a tombstone disappears from a compacted topic: once the cleaner has passed the tombstone no older value of the key remains, and the tombstone itself is gone delete_retention_ms later (give the run time after the last delete)"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        if let TraceKind::RunEnd { .. } = event.kind {
            self.decide(event.time, violations);
            return;
        }
        // Bad removals are the other checker's business.
        let _ = self.model.observe(event);
    }
    /// Decided at the run's end event (see `LostAcknowledgedWrites::finish`).
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// Both compaction checkers, when some topic is compacted.
pub fn compaction_checkers(
    topics: &[KafkaTopicSpec],
    node_names: &[String],
) -> Vec<Box<dyn Checker>> {
    if !topics.iter().any(|topic| topic.cleanup_policy.compacts()) {
        return Vec::new();
    }
    vec![
        Box::new(KafkaCompactionLatestValuePerKey::new(
            topics,
            node_names.to_vec(),
        )),
        Box::new(KafkaCompactionTombstonesExpire::new(
            topics,
            node_names.to_vec(),
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::KafkaRecord;
    use crate::scenario::KafkaCleanupPolicy;

    fn topic() -> KafkaTopicSpec {
        KafkaTopicSpec {
            name: "balances".into(),
            partitions: 1,
            replication_factor: 1,
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
            retention_ms: None,
            retention_bytes: None,
            segment_bytes: 640,
            cleanup_policy: KafkaCleanupPolicy::Compact,
            segment_ms: None,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            delete_retention_ms: 1_000,
        }
    }

    #[derive(Clone)]
    struct Feed {
        seq: u64,
    }

    impl Feed {
        fn event(&mut self, time_ms: u64, kind: TraceKind) -> TraceEvent {
            self.seq += 1;
            TraceEvent {
                seq: self.seq,
                time: SimTime::from_millis(time_ms),
                kind,
            }
        }

        fn append(&mut self, time_ms: u64, offset: u64, key: u32, tombstone: bool) -> TraceEvent {
            self.event(
                time_ms,
                TraceKind::Fact {
                    node: NodeId(1),
                    fact: Fact::KafkaAppend {
                        topic: "balances".into(),
                        partition: 0,
                        record: KafkaRecord {
                            offset,
                            leader_epoch: 1,
                            producer_id: 1,
                            producer_epoch: 0,
                            sequence: u32::MAX,
                            key,
                            value: offset + 100,
                            create_time_us: time_ms * 1_000,
                            tombstone,
                        },
                    },
                },
            )
        }

        fn leader(&mut self) -> TraceEvent {
            self.event(
                0,
                TraceKind::Fact {
                    node: NodeId(0),
                    fact: Fact::KafkaLeader {
                        topic: "balances".into(),
                        partition: 0,
                        leader: Some(NodeId(1)),
                        leader_epoch: 0,
                        isr: vec![NodeId(1)],
                        unclean: false,
                    },
                },
            )
        }

        fn cleaned(&mut self, time_ms: u64, up_to: u64, removed: Vec<(u64, u64)>) -> TraceEvent {
            self.event(
                time_ms,
                TraceKind::Fact {
                    node: NodeId(1),
                    fact: Fact::KafkaCleaned {
                        topic: "balances".into(),
                        partition: 0,
                        cleaned_up_to: up_to,
                        removed,
                        superseded: 0,
                        expired_tombstones: 0,
                    },
                },
            )
        }
    }

    fn observe_all(checker: &mut dyn Checker, events: &[TraceEvent]) -> Vec<Violation> {
        let mut violations = Vec::new();
        for event in events {
            checker.observe(event, &mut violations);
        }
        violations
    }

    #[test]
    fn removing_a_keys_latest_value_is_a_violation_and_superseded_ones_are_not() {
        let mut feed = Feed { seq: 0 };
        let leader = feed.leader();
        // Key 7 at 0 and 1, key 8 at 2; the cleaner removes 0 (fine) and 2 (latest of 8).
        let events = vec![
            leader,
            feed.append(1, 0, 7, false),
            feed.append(2, 1, 7, false),
            feed.append(3, 2, 8, false),
            feed.cleaned(10, 3, vec![(0, 1)]),
            feed.cleaned(20, 3, vec![(2, 3)]),
        ];
        let mut checker = KafkaCompactionLatestValuePerKey::new(&[topic()], vec![]);
        let violations = observe_all(&mut checker, &events);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0].detail.contains("key 8"),
            "{}",
            violations[0].detail
        );
        assert_eq!(violations[0].time, SimTime::from_millis(20));
    }

    #[test]
    fn a_tombstone_removed_early_or_kept_too_long_is_a_violation() {
        let mut feed = Feed { seq: 0 };
        let early = vec![
            feed.append(1, 0, 7, false),
            feed.append(2, 1, 7, true),
            feed.append(3, 2, 9, false),
            feed.cleaned(10, 2, vec![(0, 1)]),
            // 500 ms after its append: younger than delete_retention_ms.
            feed.cleaned(502, 2, vec![(1, 2)]),
        ];
        let mut checker = KafkaCompactionLatestValuePerKey::new(&[topic()], vec![]);
        let violations = observe_all(&mut checker, &early);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].detail.contains("tombstone"));

        let mut feed = Feed { seq: 0 };
        let mut kept = vec![
            feed.leader(),
            feed.append(1, 0, 7, false),
            feed.append(2, 1, 7, true),
            feed.append(3, 2, 9, false),
            feed.cleaned(10, 2, vec![(0, 1)]),
        ];
        kept.push(feed.event(
            60_000,
            TraceKind::RunEnd {
                reason: "end_time".into(),
            },
        ));
        let mut checker = KafkaCompactionTombstonesExpire::new(&[topic()], vec![]);
        let violations = observe_all(&mut checker, &kept);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].detail.contains("still in the log"));
    }
}
