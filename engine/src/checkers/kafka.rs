//! Kafka properties over the history: no acknowledged write is lost, and no write appears twice in a committed log.
//!
//! Both checkers rebuild every replica's log from the brokers' `Fact`s
//! (appends and truncations) and follow the controller's leader facts. The
//! committed log of a partition at the end of the run is the log of its
//! current leader (or, while it is offline, of its last leader, whose disk
//! comes back with it), up to its high watermark for duplicates.
//!
//! Losses are decided on the whole history, as Jepsen does: a write the
//! producer saw acknowledged (`op … ok write t-p … value=v … producer=id`)
//! is lost when its value is absent from the final committed log. The
//! violation is dated at the first moment of loss: the first truncation that
//! removed a copy of it, or the first election of a leader that lacked it
//! (unclean or not), else the end of the run (for example, a stale leader
//! still cut off). The violation is therefore reported when the run ends,
//! not as it happens: until the end the property shows `pass`.

use super::{Checker, Property, Violation};
use crate::message::NodeId;
use crate::time::SimTime;
use crate::trace::{Fact, OperationPhase, TraceEvent, TraceKind};
use std::collections::BTreeMap;

/// The `ok` detail of a producer write. Kept beside its parser so the two
/// cannot drift apart.
pub fn write_ok_detail(
    topic: &str,
    partition: u32,
    key: u32,
    value: u64,
    offset: u64,
    producer_id: u64,
    tombstone: bool,
) -> String {
    format!(
        "write {topic}-{partition} key={key} value={value} offset={offset} producer={producer_id}{}",
        if tombstone { " tombstone" } else { "" }
    )
}

/// What an acknowledged write claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcknowledgedWrite {
    pub topic: String,
    pub partition: u32,
    pub key: u32,
    pub value: u64,
    pub offset: u64,
    pub producer_id: u64,
    /// The write was a tombstone (null value).
    pub tombstone: bool,
}

/// Parses `write_ok_detail`'s text; `None` for anything else.
pub fn parse_write_ok(detail: &str) -> Option<AcknowledgedWrite> {
    let mut words = detail.split(' ');
    if words.next()? != "write" {
        return None;
    }
    let (topic, partition) = words.next()?.rsplit_once('-')?;
    let mut field = |name: &str| -> Option<u64> {
        let (found, value) = words.next()?.split_once('=')?;
        (found == name).then_some(())?;
        value.parse().ok()
    };
    let key = field("key")? as u32;
    let value = field("value")?;
    let offset = field("offset")?;
    let producer_id = field("producer")?;
    let tombstone = words.next() == Some("tombstone");
    Some(AcknowledgedWrite {
        topic: topic.to_string(),
        partition: partition.parse().ok()?,
        key,
        value,
        offset,
        producer_id,
        tombstone,
    })
}

#[derive(Clone, Copy, Debug)]
struct ModelEntry {
    producer_id: u64,
    sequence: u32,
    value: u64,
    appended_at: SimTime,
    event_seq: u64,
}

/// One event that may be the moment a write was lost.
#[derive(Clone, Debug)]
struct LossMoment {
    time: SimTime,
    event_seq: u64,
    what: String,
    nodes: Vec<NodeId>,
}

#[derive(Clone, Default)]
struct PartitionModel {
    replicas: BTreeMap<NodeId, Vec<ModelEntry>>,
    leader: Option<NodeId>,
    last_leader: Option<NodeId>,
    high_watermarks: BTreeMap<NodeId, u64>,
}

impl PartitionModel {
    fn reference(&self) -> Option<NodeId> {
        self.leader.or(self.last_leader)
    }

    fn reference_log(&self) -> &[ModelEntry] {
        self.reference()
            .and_then(|node| self.replicas.get(&node))
            .map_or(&[], Vec::as_slice)
    }
}

/// Replica logs rebuilt from facts, shared by both checkers.
#[derive(Clone, Default)]
struct LogModel {
    partitions: BTreeMap<(String, u32), PartitionModel>,
}

/// What a fact did, for the checkers' own bookkeeping.
#[derive(Clone)]
enum Observed {
    Nothing,
    Removed {
        key: (String, u32),
        removed: Vec<ModelEntry>,
        moment: LossMoment,
    },
    Elected {
        key: (String, u32),
        moment: LossMoment,
    },
}

impl LogModel {
    fn observe(&mut self, event: &TraceEvent, node_name: impl Fn(NodeId) -> String) -> Observed {
        let TraceKind::Fact { node, fact } = &event.kind else {
            return Observed::Nothing;
        };
        match fact {
            Fact::KafkaAppend {
                topic,
                partition,
                record,
            } => {
                let model = self
                    .partitions
                    .entry((topic.clone(), *partition))
                    .or_default();
                // Offsets are positions in the model, which keeps what
                // retention and the cleaner removed (removal by policy is not
                // loss). A follower fetching a compacted range appends past a
                // gap: the model fills it from a replica that holds it (the
                // leader's model, which never drops compacted records).
                let offset = record.offset as usize;
                let have = model.replicas.get(node).map_or(0, Vec::len);
                let filler = (have < offset)
                    .then(|| {
                        // The leader's copy first: it is what was fetched.
                        let leader_log = model
                            .reference()
                            .and_then(|leader| model.replicas.get(&leader));
                        leader_log
                            .into_iter()
                            .chain(model.replicas.values())
                            .find(|log| log.len() >= offset)
                            .map(|log| log[have..offset].to_vec())
                    })
                    .flatten();
                let log = model.replicas.entry(*node).or_default();
                if let Some(filler) = filler {
                    log.extend_from_slice(&filler);
                }
                // An overlap would be a broker bug; the model follows the broker.
                log.truncate(offset);
                log.push(ModelEntry {
                    producer_id: record.producer_id,
                    sequence: record.sequence,
                    value: record.value,
                    appended_at: event.time,
                    event_seq: event.seq,
                });
                Observed::Nothing
            }
            Fact::KafkaTruncate {
                topic,
                partition,
                to_offset,
                reason,
                ..
            } => {
                let key = (topic.clone(), *partition);
                let model = self.partitions.entry(key.clone()).or_default();
                let log = model.replicas.entry(*node).or_default();
                let removed = log.split_off((*to_offset as usize).min(log.len()));
                Observed::Removed {
                    moment: LossMoment {
                        time: event.time,
                        event_seq: event.seq,
                        what: format!(
                            "truncation on {} of {topic}-{partition} to offset {to_offset} ({})",
                            node_name(*node),
                            reason.as_str()
                        ),
                        nodes: vec![*node],
                    },
                    key,
                    removed,
                }
            }
            Fact::KafkaLogStart {
                topic,
                partition,
                log_start_offset,
            } => {
                // Retention deletes by policy, not by loss: the model keeps
                // deleted entries. A follower that starts its log at the
                // leader's log start skipped entries it never fetched; they
                // are the ones the longest replica model holds there.
                let model = self
                    .partitions
                    .entry((topic.clone(), *partition))
                    .or_default();
                let start = *log_start_offset as usize;
                let longest = model
                    .replicas
                    .values()
                    .filter(|log| log.len() >= start)
                    .map(|log| log[..start].to_vec())
                    .next();
                let log = model.replicas.entry(*node).or_default();
                if log.len() < start
                    && let Some(longest) = longest
                {
                    let have = log.len();
                    log.extend_from_slice(&longest[have..]);
                }
                Observed::Nothing
            }
            Fact::KafkaHighWatermark {
                topic,
                partition,
                high_watermark,
            } => {
                let model = self
                    .partitions
                    .entry((topic.clone(), *partition))
                    .or_default();
                model.high_watermarks.insert(*node, *high_watermark);
                Observed::Nothing
            }
            Fact::KafkaLeader {
                topic,
                partition,
                leader,
                unclean,
                leader_epoch,
                ..
            } => {
                let key = (topic.clone(), *partition);
                let model = self.partitions.entry(key.clone()).or_default();
                model.leader = *leader;
                let Some(leader) = leader else {
                    return Observed::Nothing;
                };
                model.last_leader = Some(*leader);
                Observed::Elected {
                    key,
                    moment: LossMoment {
                        time: event.time,
                        event_seq: event.seq,
                        what: format!(
                            "{}election of {} for {topic}-{partition} epoch {leader_epoch}",
                            if *unclean { "UNCLEAN " } else { "" },
                            node_name(*leader)
                        ),
                        nodes: vec![*node, *leader],
                    },
                }
            }
            // Other systems' facts (Raft, RabbitMQ, breakers) and Kafka consumer-side
            // facts do not change any log.
            _ => Observed::Nothing,
        }
    }
}

#[derive(Clone, Debug)]
struct Acknowledged {
    write: AcknowledgedWrite,
    acknowledged_at: SimTime,
    first_loss: Option<LossMoment>,
}

/// Always: no write acknowledged to a producer disappears from its partition's committed log.
#[derive(Clone, Default)]
pub struct LostAcknowledgedWrites {
    model: LogModel,
    /// By (topic, partition) then (producer id, value).
    acknowledged: BTreeMap<(String, u32), BTreeMap<(u64, u64), Acknowledged>>,
    node_names: Vec<String>,
}

impl LostAcknowledgedWrites {
    pub const NAME: &'static str = "lost_acknowledged_writes";

    /// Node names make details readable (`truncation on b1`, not `n1`).
    pub fn new(node_names: Vec<String>) -> LostAcknowledgedWrites {
        LostAcknowledgedWrites {
            node_names,
            ..Default::default()
        }
    }
}

fn name_of(names: &[String], node: NodeId) -> String {
    names
        .get(node.index())
        .cloned()
        .unwrap_or_else(|| format!("n{}", node.0))
}

impl Checker for LostAcknowledgedWrites {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Always: every write acknowledged to a producer stays in its partition's committed log (decided over the whole history at the end of the run)"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        if let TraceKind::RunEnd { .. } = event.kind {
            self.decide(event.time, violations);
            return;
        }
        let names = &self.node_names;
        match self.model.observe(event, |node| name_of(names, node)) {
            Observed::Nothing => {}
            Observed::Removed {
                key,
                removed,
                moment,
            } => {
                if let Some(acknowledged) = self.acknowledged.get_mut(&key) {
                    for entry in removed {
                        if let Some(write) = acknowledged.get_mut(&(entry.producer_id, entry.value))
                        {
                            write.first_loss.get_or_insert_with(|| moment.clone());
                        }
                    }
                }
            }
            Observed::Elected { key, moment } => {
                let Some(model) = self.model.partitions.get(&key) else {
                    return;
                };
                let log = model.reference_log();
                if let Some(acknowledged) = self.acknowledged.get_mut(&key) {
                    for ((producer_id, value), write) in acknowledged.iter_mut() {
                        if write.first_loss.is_none()
                            && !log.iter().any(|entry| {
                                entry.producer_id == *producer_id && entry.value == *value
                            })
                        {
                            write.first_loss = Some(moment.clone());
                        }
                    }
                }
            }
        }
        if let TraceKind::Operation {
            phase: OperationPhase::Ok,
            detail,
            ..
        } = &event.kind
            && let Some(write) = parse_write_ok(detail)
        {
            let key = (write.topic.clone(), write.partition);
            self.acknowledged.entry(key).or_default().insert(
                (write.producer_id, write.value),
                Acknowledged {
                    write,
                    acknowledged_at: event.time,
                    first_loss: None,
                },
            );
        }
    }

    /// Decided at the run's end event rather than in `finish`: violations
    /// recorded after the last observed event keep the trace's sequence
    /// unbroken for `trace_time_monotonic`.
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

impl LostAcknowledgedWrites {
    fn decide(&mut self, end: SimTime, violations: &mut Vec<Violation>) {
        let mut lost: Vec<(Acknowledged, String)> = Vec::new();
        for (key, acknowledged) in &self.acknowledged {
            let model = self.model.partitions.get(key);
            let log = model.map_or(&[][..], PartitionModel::reference_log);
            let reference = model
                .and_then(PartitionModel::reference)
                .map_or("no leader".to_string(), |node| {
                    name_of(&self.node_names, node)
                });
            let present: std::collections::BTreeSet<(u64, u64)> = log
                .iter()
                .map(|entry| (entry.producer_id, entry.value))
                .collect();
            for (identity, write) in acknowledged {
                if !present.contains(identity) {
                    lost.push((write.clone(), reference.clone()));
                }
            }
        }
        lost.sort_by_key(|(write, _)| {
            write
                .first_loss
                .as_ref()
                .map_or((end, u64::MAX), |moment| (moment.time, moment.event_seq))
        });
        let total = lost.len();
        let shown: Vec<String> = lost
            .iter()
            .take(50)
            .map(|(write, _)| write.write.value.to_string())
            .collect();
        let all_values = format!(
            "{total} acknowledged write(s) lost, values [{}{}]",
            shown.join(","),
            if total > shown.len() { ",…" } else { "" }
        );
        for (write, reference) in lost {
            let claim = &write.write;
            let when = match &write.first_loss {
                Some(moment) => moment.what.clone(),
                None => format!("absent from the final log of {reference} at the end of the run"),
            };
            violations.push(Violation {
                time: write.first_loss.as_ref().map_or(end, |moment| moment.time),
                event_seq: write.first_loss.as_ref().map(|moment| moment.event_seq),
                detail: format!(
                    "value {} (producer {}, {}-{} offset {}, acknowledged at {}) lost by {when}; {all_values}",
                    claim.value,
                    claim.producer_id,
                    claim.topic,
                    claim.partition,
                    claim.offset,
                    write.acknowledged_at
                ),
                messages: Vec::new(),
                nodes: write
                    .first_loss
                    .as_ref()
                    .map_or(Vec::new(), |moment| moment.nodes.clone()),
            });
        }
    }
}

/// Always: no write appears twice in a partition's committed log.
#[derive(Clone, Default)]
pub struct NoDuplicateLogEntries {
    model: LogModel,
    node_names: Vec<String>,
}

impl NoDuplicateLogEntries {
    pub const NAME: &'static str = "no_duplicate_log_entries";

    pub fn new(node_names: Vec<String>) -> NoDuplicateLogEntries {
        NoDuplicateLogEntries {
            node_names,
            ..Default::default()
        }
    }
}

impl Checker for NoDuplicateLogEntries {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Always: no record (producer id and sequence, or value for non-idempotent producers) appears twice in a partition's committed log (checked at the end of the run)"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        if let TraceKind::RunEnd { .. } = event.kind {
            self.decide(violations);
            return;
        }
        let names = &self.node_names;
        self.model.observe(event, |node| name_of(names, node));
    }
    /// See `LostAcknowledgedWrites::finish`.
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

impl NoDuplicateLogEntries {
    fn decide(&mut self, violations: &mut Vec<Violation>) {
        let mut found = Vec::new();
        for ((topic, partition), model) in &self.model.partitions {
            let Some(reference) = model.reference() else {
                continue;
            };
            let log = model.reference_log();
            let committed = model
                .high_watermarks
                .get(&reference)
                .map_or(0, |high_watermark| {
                    (*high_watermark as usize).min(log.len())
                });
            // A write's identity is its value per producer: retries reuse both
            // the value and (when idempotent) the sequence.
            let mut first_offset: BTreeMap<(u64, u64), usize> = BTreeMap::new();
            for (offset, entry) in log[..committed].iter().enumerate() {
                if let Some(first) = first_offset.insert((entry.producer_id, entry.value), offset) {
                    first_offset.insert((entry.producer_id, entry.value), first);
                    found.push((
                        entry.appended_at,
                        entry.event_seq,
                        format!(
                            "value {} from producer {} (sequence {}) is in the committed log of {topic}-{partition} twice, at offsets {first} and {offset} (leader {})",
                            entry.value,
                            entry.producer_id,
                            if entry.sequence == u32::MAX {
                                "none".to_string()
                            } else {
                                entry.sequence.to_string()
                            },
                            name_of(&self.node_names, reference)
                        ),
                        reference,
                    ));
                }
            }
        }
        found.sort_by_key(|(time, seq, _, _)| (*time, *seq));
        let total = found.len();
        for (time, seq, detail, node) in found {
            violations.push(Violation {
                time,
                event_seq: Some(seq),
                detail: format!("{detail}; {total} duplicate(s) in all"),
                messages: Vec::new(),
                nodes: vec![node],
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_detail_round_trips() {
        let detail = write_ok_detail("orders-eu", 3, 7, 42, 1234, 5, false);
        assert_eq!(
            detail,
            "write orders-eu-3 key=7 value=42 offset=1234 producer=5"
        );
        assert_eq!(
            parse_write_ok(&detail),
            Some(AcknowledgedWrite {
                topic: "orders-eu".into(),
                partition: 3,
                key: 7,
                value: 42,
                offset: 1234,
                producer_id: 5,
                tombstone: false,
            })
        );
        let tombstone = write_ok_detail("orders-eu", 3, 7, 43, 1235, 5, true);
        assert!(tombstone.ends_with(" tombstone"), "{tombstone}");
        assert_eq!(
            parse_write_ok(&tombstone).map(|write| write.tombstone),
            Some(true)
        );
        assert_eq!(parse_write_ok("timeout"), None);
        assert_eq!(parse_write_ok("write t-0 key=1"), None);
    }
}
