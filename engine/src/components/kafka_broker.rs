//! Kafka broker: partition replicas that lead (produce, high watermark, ISR) or follow (fetch, KIP-101 truncation).
//!
//! Durability model: the log lives in the page cache, so a process crash
//! (the default) keeps every appended record, as Kafka does; the high
//! watermark is kept too (Kafka checkpoints it every few seconds; keeping it
//! exactly is a simplification). With `power_loss_on_crash` the records
//! appended since the last OS write-back are lost. Everything else is
//! volatile and gone after a crash: the controller's view of each partition,
//! follower fetch positions, pending acks=all requests, pending ISR changes.
//!
//! Replication follows Kafka: followers fetch from the leader; a fetch at
//! offset `o` tells the leader the follower has everything below `o`; the
//! leader's high watermark (HW) is the smallest log end offset (LEO) in the
//! ISR (KIP-497's "maximal" ISR while a change is pending). A follower that
//! has not caught up to the leader's LEO within `replica_lag_time_max_ms`
//! leaves the ISR; one that reaches the HW rejoins. Before fetching from a
//! new leader, a follower asks where its latest epoch ends in the leader's
//! log and truncates there (KIP-101, with KIP-279's epoch rule): this is the
//! step that discards writes only the old leader had.
//!
//! Segments, retention and compaction: every replica keeps its segment
//! bases and rolls by `kafka_retention::SegmentRule`; retention
//! (`kafka_retention`) and the log cleaner (`kafka_log_cleaner`) act on
//! closed segments of each broker's own replicas. Compaction keeps offsets,
//! so a log may have gaps: lookups go by offset, never by position, and the
//! log end offset is kept apart from the last record.
//!
//! Bounds: at most `MAX_KAFKA_RECORDS_PER_PARTITION` records per replica
//! (the leader refuses more with LOG_FULL), at most
//! `MAX_KAFKA_RECORDS_PER_FETCH` records per fetch response, at most
//! `MAX_KAFKA_PENDING_ACKS_PER_PARTITION` acks=all requests waiting.

use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::components::kafka_group_coordinator::GroupCoordinator;
use crate::components::kafka_log_cleaner::{CleanerView, CleaningPlan, removed_ranges};
use crate::components::kafka_retention::{
    SegmentRule, records_in, retained_log_start, retention_enabled,
};
use crate::message::{Envelope, KafkaError, KafkaPartitionState, KafkaRecord, NodeId, Payload};
use crate::scenario::limits::{KAFKA_LOG_CLEANER_INTERVAL_MS, KAFKA_RETENTION_CHECK_INTERVAL_MS};
use crate::scenario::limits::{
    MAX_KAFKA_PENDING_ACKS_PER_PARTITION, MAX_KAFKA_RECORDS_PER_FETCH,
    MAX_KAFKA_RECORDS_PER_PARTITION,
};
use crate::scenario::{KafkaAcks, KafkaBrokerSpec, KafkaTopicSpec};
use crate::time::{SimDuration, SimTime};
use crate::trace::{Fact, TruncateReason};
use std::collections::{BTreeMap, VecDeque};

const TIMER_HEARTBEAT: u32 = 1;
const TIMER_FETCH: u32 = 2;
const TIMER_ISR_CHECK: u32 = 3;
const TIMER_FLUSH: u32 = 4;
const TIMER_GROUPS: u32 = 5;
const TIMER_RETENTION: u32 = 6;
const TIMER_CLEANER: u32 = 7;
/// How often the group coordinator looks for expired members and overdue
/// rebalances (Kafka uses a timer per member; 100 ms is fine-grained enough
/// next to session timeouts of seconds).
const GROUP_TICK_MS: u64 = 100;

/// A sequence number meaning "not idempotent" (Kafka's -1).
pub const NO_SEQUENCE: u32 = u32::MAX;
/// Batches remembered per producer for deduplication (Kafka keeps 5, which
/// is why idempotence requires at most 5 requests in flight).
const PRODUCER_BATCH_CACHE: usize = 5;
/// A fetch, epoch query or ISR change without an answer for this long is
/// presumed lost and sent again.
const RESEND_AFTER: SimDuration = SimDuration(1_000_000);

type PartitionKey = (String, u32);

#[derive(Clone, Debug, Default)]
struct ProducerEntry {
    epoch: u32,
    last_sequence: u32,
    /// The latest batches, oldest first (at most `PRODUCER_BATCH_CACHE`).
    recent: VecDeque<ProducerBatchEntry>,
}

/// What the leader remembers of one appended batch for deduplication, as
/// Kafka's `ProducerStateEntry` keeps batch metadata.
#[derive(Clone, Copy, Debug)]
struct ProducerBatchEntry {
    first_sequence: u32,
    last_sequence: u32,
    first_offset: u64,
}

impl ProducerEntry {
    /// Notes an appended record. The leader knows batch boundaries
    /// (`starts_batch`); a follower or a rebuild from the log does not (the
    /// log here keeps records, not batches), so it extends the latest entry
    /// while sequences and offsets run on: a run is at least one batch, so
    /// the dedup window is never smaller than Kafka's five batches.
    fn note(&mut self, record: &KafkaRecord, starts_batch: Option<bool>) {
        if record.producer_epoch != self.epoch {
            *self = ProducerEntry {
                epoch: record.producer_epoch,
                ..ProducerEntry::default()
            };
        }
        let continues = self.recent.back().is_some_and(|entry| {
            entry.last_sequence.wrapping_add(1) == record.sequence
                && entry.first_offset
                    + u64::from(entry.last_sequence.wrapping_sub(entry.first_sequence))
                    + 1
                    == record.offset
        });
        let extend = match starts_batch {
            Some(starts_batch) => !starts_batch && continues,
            None => continues,
        };
        self.last_sequence = record.sequence;
        if extend && let Some(entry) = self.recent.back_mut() {
            entry.last_sequence = record.sequence;
            return;
        }
        self.recent.push_back(ProducerBatchEntry {
            first_sequence: record.sequence,
            last_sequence: record.sequence,
            first_offset: record.offset,
        });
        if self.recent.len() > PRODUCER_BATCH_CACHE {
            self.recent.pop_front();
        }
    }

    /// The offset at which the batch starting at `first_sequence` was
    /// appended, if it is one of the remembered batches.
    fn duplicate_of(&self, first_sequence: u32) -> Option<u64> {
        self.recent
            .iter()
            .find(|entry| {
                first_sequence.wrapping_sub(entry.first_sequence)
                    <= entry.last_sequence.wrapping_sub(entry.first_sequence)
            })
            .map(|entry| {
                entry.first_offset + u64::from(first_sequence.wrapping_sub(entry.first_sequence))
            })
    }
}

#[derive(Clone, Debug)]
struct FollowerProgress {
    /// The follower has every record below this (its last fetch offset).
    log_end_offset: Option<u64>,
    last_caught_up: SimTime,
    last_fetch_time: SimTime,
    leader_end_at_last_fetch: u64,
}

#[derive(Clone, Debug)]
struct PendingAck {
    /// The batch's first offset (what the answer carries).
    offset: u64,
    /// Answered once the high watermark passes the batch's last record.
    last_offset: u64,
    producer: NodeId,
    correlation: u64,
}

#[derive(Clone, Debug)]
struct LeaderState {
    followers: BTreeMap<NodeId, FollowerProgress>,
    /// Proposed ISR sent to the controller and when, until it answers.
    pending_isr: Option<(Vec<NodeId>, SimTime)>,
    pending_acks: VecDeque<PendingAck>,
    epoch_start_offset: u64,
}

#[derive(Clone, Debug)]
struct FollowerState {
    leader: NodeId,
    /// KIP-101 step done: the log no longer diverges from the leader's.
    truncated: bool,
    request_sent_at: Option<SimTime>,
}

#[derive(Clone, Debug)]
enum Role {
    /// Not told yet, or the partition is offline.
    Idle,
    Leader(LeaderState),
    Follower(FollowerState),
}

#[derive(Clone, Debug)]
struct Replica {
    topic: String,
    partition: u32,
    /// Durable (page cache): survives a process crash. Holds the records
    /// from `log_start_offset` on, ascending; offsets the cleaner removed
    /// are gaps.
    log: Vec<KafkaRecord>,
    /// The first offset still in the log: retention deletes whole segments
    /// from the front and moves it on (Kafka checkpoints it, so it is durable).
    log_start_offset: u64,
    /// The log end offset (LEO): the offset the next record gets. Kept apart
    /// because the record before it may be compacted away after a truncation.
    next_offset: u64,
    /// Segment base offsets, ascending: the first is the log start, the
    /// last the active segment (durable: segments are files).
    segment_bases: Vec<u64>,
    segment_rule: SegmentRule,
    /// The cleaner checkpoint: below it the log is clean (durable, as
    /// Kafka's cleaner-offset-checkpoint file).
    cleaned_up_to: u64,
    /// Tombstone offset → delete horizon (µs, broker clock), set the first
    /// time the cleaner passes it (KIP-534 keeps it in the batch: durable).
    tombstone_horizons: BTreeMap<u64, u64>,
    high_watermark: u64,
    /// (leader epoch, first offset), ascending: the leader-epoch cache.
    epoch_starts: Vec<(u32, u64)>,
    producers: BTreeMap<u64, ProducerEntry>,
    /// Records below this are on disk (only matters for power loss).
    flushed_offset: u64,
    /// Volatile.
    state: Option<KafkaPartitionState>,
    role: Role,
}

impl Replica {
    fn log_end_offset(&self) -> u64 {
        self.next_offset
    }

    /// The records in `[from, to)` (with gaps where the cleaner removed some).
    fn records_between(&self, from: u64, to: u64) -> &[KafkaRecord] {
        records_in(&self.log, from, to)
    }

    /// Starts the log afresh at `offset` (a follower below its leader's log
    /// start, or truncated below its own).
    fn restart_log_at(&mut self, offset: u64) {
        self.log.clear();
        self.log_start_offset = offset;
        self.next_offset = offset;
        self.segment_bases = vec![offset];
        self.cleaned_up_to = offset;
        self.tombstone_horizons.clear();
    }

    /// Drops everything below `new_start` (retention).
    fn advance_log_start(&mut self, new_start: u64) {
        let deleted = self.log.partition_point(|record| record.offset < new_start);
        self.log.drain(..deleted);
        self.log_start_offset = new_start;
        self.next_offset = self.next_offset.max(new_start);
        self.segment_bases.retain(|base| *base >= new_start);
        if self.segment_bases.first() != Some(&new_start) {
            self.segment_bases.insert(0, new_start);
        }
        self.cleaned_up_to = self.cleaned_up_to.max(new_start);
        self.tombstone_horizons = self.tombstone_horizons.split_off(&new_start);
        self.flushed_offset = self.flushed_offset.max(new_start);
    }

    /// Applies one cleaning pass: removes its records, keeps the offsets.
    /// Closed segments the pass emptied go (the first stays: it is the log start).
    fn apply_cleaning(&mut self, plan: &CleaningPlan) -> Vec<(u64, u64)> {
        let removed = plan.removed();
        let ranges = removed_ranges(&self.log, &removed);
        let removed_set: std::collections::BTreeSet<u64> = removed.iter().copied().collect();
        self.log
            .retain(|record| !removed_set.contains(&record.offset));
        for offset in &removed {
            self.tombstone_horizons.remove(offset);
        }
        for (offset, horizon) in &plan.new_horizons {
            self.tombstone_horizons.insert(*offset, *horizon);
        }
        self.cleaned_up_to = self.cleaned_up_to.max(plan.cleaned_up_to);
        let bases = std::mem::take(&mut self.segment_bases);
        let last = bases.len().saturating_sub(1);
        for (index, base) in bases.iter().enumerate() {
            let keep = index == 0
                || index == last
                || !records_in(&self.log, *base, bases[index + 1]).is_empty();
            if keep {
                self.segment_bases.push(*base);
            }
        }
        ranges
    }

    fn cleaner_view<'a>(&'a self, topic: &'a KafkaTopicSpec, clock_us: u64) -> CleanerView<'a> {
        CleanerView {
            topic,
            log: &self.log,
            segment_bases: &self.segment_bases,
            cleaned_up_to: self.cleaned_up_to,
            high_watermark: self.high_watermark,
            tombstone_horizons: &self.tombstone_horizons,
            clock_us,
        }
    }

    fn latest_epoch(&self) -> Option<u32> {
        self.epoch_starts.last().map(|(epoch, _)| *epoch)
    }

    /// KIP-279: the largest epoch ≤ `requested` in this log, and where it
    /// ends (the start of the next epoch, or the log end).
    fn end_offset_for_epoch(&self, requested: u32) -> (u32, u64) {
        let position = self
            .epoch_starts
            .iter()
            .rposition(|(epoch, _)| *epoch <= requested);
        match position {
            None => (0, self.epoch_starts.first().map_or(0, |(_, start)| *start)),
            Some(position) => {
                let end = self
                    .epoch_starts
                    .get(position + 1)
                    .map_or(self.log_end_offset(), |(_, start)| *start);
                (self.epoch_starts[position].0, end)
            }
        }
    }

    fn assign_epoch(&mut self, epoch: u32, start: u64) {
        if self.latest_epoch().is_none_or(|latest| epoch > latest) {
            self.epoch_starts.push((epoch, start));
        }
    }

    /// Appends one record; `starts_batch` is known on the leader only (see
    /// `ProducerEntry::note`).
    fn append(&mut self, ctx: &mut Context<'_>, record: KafkaRecord, starts_batch: Option<bool>) {
        let active_base = self
            .segment_bases
            .last()
            .copied()
            .unwrap_or(self.log_start_offset);
        if self
            .segment_rule
            .should_roll(records_in(&self.log, active_base, u64::MAX), &record)
        {
            self.segment_bases.push(record.offset);
        }
        self.next_offset = record.offset + 1;
        self.assign_epoch(record.leader_epoch, record.offset);
        if record.sequence != NO_SEQUENCE {
            self.producers
                .entry(record.producer_id)
                .or_default()
                .note(&record, starts_batch);
        }
        ctx.fact(Fact::KafkaAppend {
            topic: self.topic.clone(),
            partition: self.partition,
            record: record.clone(),
        });
        self.log.push(record);
    }

    /// Cuts the log at `to_offset`, rebuilding what derives from it.
    fn truncate(&mut self, ctx: &mut Context<'_>, to_offset: u64, reason: TruncateReason) {
        let end = self.log_end_offset();
        if to_offset >= end {
            return;
        }
        let removed: Vec<u64> = self
            .records_between(to_offset, end)
            .iter()
            .map(|record| record.value)
            .collect();
        if to_offset < self.log_start_offset {
            // Below our log start (a follower far behind a new leader):
            // Kafka truncates fully and starts again at that offset.
            self.restart_log_at(to_offset);
        } else {
            let keep = self.log.partition_point(|record| record.offset < to_offset);
            self.log.truncate(keep);
            self.next_offset = to_offset;
            // Segments from the cut on go; the one holding it is active again.
            self.segment_bases.retain(|base| *base < to_offset);
            if self.segment_bases.is_empty() {
                self.segment_bases.push(self.log_start_offset);
            }
            self.cleaned_up_to = self.cleaned_up_to.min(to_offset);
            self.tombstone_horizons.split_off(&to_offset);
        }
        self.epoch_starts.retain(|(_, start)| *start < to_offset);
        self.high_watermark = self.high_watermark.min(to_offset);
        self.flushed_offset = self.flushed_offset.min(to_offset);
        // Kafka rebuilds producer state from the log (snapshots + replay).
        self.producers.clear();
        let log = std::mem::take(&mut self.log);
        for record in &log {
            if record.sequence != NO_SEQUENCE {
                self.producers
                    .entry(record.producer_id)
                    .or_default()
                    .note(record, None);
            }
        }
        self.log = log;
        let shown: Vec<String> = removed.iter().take(20).map(u64::to_string).collect();
        ctx.state(format!(
            "TRUNCATED {}-{} from offset {end} to {to_offset} ({}): removed {} record(s), values [{}{}]",
            self.topic,
            self.partition,
            reason.as_str(),
            removed.len(),
            shown.join(","),
            if removed.len() > shown.len() { ",…" } else { "" }
        ));
        ctx.fact(Fact::KafkaTruncate {
            topic: self.topic.clone(),
            partition: self.partition,
            to_offset,
            removed: removed.len() as u64,
            reason,
        });
    }
}

#[derive(Clone)]
pub struct KafkaBroker {
    spec: KafkaBrokerSpec,
    /// Topic configurations (static cluster metadata every broker holds).
    topics: BTreeMap<String, KafkaTopicSpec>,
    /// Records retention deleted from this broker's replicas.
    retention_deleted_records: u64,
    /// Log cleaner passes and the records they removed.
    cleaner_passes: u64,
    cleaner_removed_records: u64,
    /// The controller this broker talks to now (one of `controller_quorum`).
    controller: Option<NodeId>,
    /// Every controller it may talk to (KRaft voters; just the stand-in
    /// otherwise). With more than one, silence for one and a half heartbeat
    /// intervals moves the broker on to the next.
    controller_quorum: Vec<NodeId>,
    /// When a controller last told this broker anything (volatile).
    last_controller_answer: Option<SimTime>,
    heartbeat_interval: SimDuration,
    replicas: BTreeMap<PartitionKey, Replica>,
    names: BTreeMap<NodeId, String>,
    produce_requests: u64,
    produce_errors: u64,
    truncated_records: u64,
    isr_shrinks: u64,
    isr_expands: u64,
    /// Consumer groups this broker coordinates (see `kafka_group_coordinator`).
    coordinator: GroupCoordinator,
    group_timer_armed: bool,
    consumer_fetches: u64,
    consumed_records_served: u64,
}

impl KafkaBroker {
    /// `peers` are the other brokers of the cluster (offset copies go to them).
    pub fn new(
        spec: &KafkaBrokerSpec,
        controller: Option<NodeId>,
        broker_session_timeout_ms: u64,
        node_ids: &BTreeMap<String, NodeId>,
        peers: Vec<NodeId>,
        topics: &[KafkaTopicSpec],
    ) -> KafkaBroker {
        let names: BTreeMap<NodeId, String> = node_ids
            .iter()
            .map(|(name, node)| (*node, name.clone()))
            .collect();
        KafkaBroker {
            coordinator: GroupCoordinator::new(peers, names.clone()),
            group_timer_armed: false,
            consumer_fetches: 0,
            consumed_records_served: 0,
            spec: spec.clone(),
            topics: topics
                .iter()
                .map(|topic| (topic.name.clone(), topic.clone()))
                .collect(),
            retention_deleted_records: 0,
            cleaner_passes: 0,
            cleaner_removed_records: 0,
            controller,
            controller_quorum: controller.into_iter().collect(),
            last_controller_answer: None,
            heartbeat_interval: SimDuration::from_millis((broker_session_timeout_ms / 3).max(1)),
            replicas: BTreeMap::new(),
            names,
            produce_requests: 0,
            produce_errors: 0,
            truncated_records: 0,
            isr_shrinks: 0,
            isr_expands: 0,
        }
    }

    fn name(&self, node: NodeId) -> String {
        self.names.get(&node).cloned().unwrap_or_default()
    }

    fn names(&self, nodes: &[NodeId]) -> String {
        let names: Vec<String> = nodes.iter().map(|node| self.name(*node)).collect();
        format!("[{}]", names.join(","))
    }

    fn arm(&self, ctx: &mut Context<'_>, kind: u32, after_ms: u64) {
        ctx.set_timer(
            SimDuration::from_millis(after_ms.max(1)),
            TimerTag { kind, id: 0 },
        );
    }

    /// Deletes expired closed segments from the front of every replica's
    /// log (leaders and followers alike: each broker applies retention to
    /// its own log, as Kafka's log manager does).
    fn apply_retention(&mut self, ctx: &mut Context<'_>) {
        let clock_us = ctx.local_clock().as_micros();
        for replica in self.replicas.values_mut() {
            let Some(topic) = self.topics.get(&replica.topic) else {
                continue;
            };
            let Some((new_start, cause)) = retained_log_start(
                topic,
                &replica.log,
                &replica.segment_bases,
                replica.high_watermark,
                clock_us,
            ) else {
                continue;
            };
            let old_start = replica.log_start_offset;
            let deleted = replica.records_between(old_start, new_start).len();
            replica.advance_log_start(new_start);
            self.retention_deleted_records += deleted as u64;
            ctx.state(format!(
                "retention ({}) deleted offsets {old_start}..{} of {}-{}: log start is now {new_start}",
                cause.as_str(),
                new_start - 1,
                replica.topic,
                replica.partition
            ));
            ctx.fact(Fact::KafkaLogStart {
                topic: replica.topic.clone(),
                partition: replica.partition,
                log_start_offset: new_start,
            });
        }
    }

    /// The broker's log cleaner thread (Kafka's `log.cleaner.threads` = 1):
    /// each tick it cleans the one replica log with the highest dirty ratio,
    /// leaders and followers alike (each broker compacts its own copy).
    fn clean_filthiest_log(&mut self, ctx: &mut Context<'_>) {
        let clock_us = ctx.local_clock().as_micros();
        let mut filthiest: Option<(f64, PartitionKey)> = None;
        for (key, replica) in &self.replicas {
            let Some(topic) = self.topics.get(&replica.topic) else {
                continue;
            };
            let view = replica.cleaner_view(topic, clock_us);
            if let Some(ratio) = view.filthiness()
                && filthiest.as_ref().is_none_or(|(best, _)| ratio > *best)
            {
                filthiest = Some((ratio, key.clone()));
            }
        }
        let Some((_, key)) = filthiest else {
            return;
        };
        let Some(replica) = self.replicas.get_mut(&key) else {
            return;
        };
        let Some(topic) = self.topics.get(&replica.topic) else {
            return;
        };
        let Some(plan) = replica.cleaner_view(topic, clock_us).plan() else {
            return;
        };
        let removed = replica.apply_cleaning(&plan);
        self.cleaner_passes += 1;
        self.cleaner_removed_records +=
            (plan.superseded.len() + plan.expired_tombstones.len()) as u64;
        ctx.state(format!(
            "log cleaner: {}-{} dirty ratio {:.2}, cleaned up to offset {}: removed {} superseded record(s), {} expired tombstone(s); {} record(s) left",
            replica.topic,
            replica.partition,
            plan.dirty_ratio,
            plan.cleaned_up_to,
            plan.superseded.len(),
            plan.expired_tombstones.len(),
            replica.log.len()
        ));
        ctx.fact(Fact::KafkaCleaned {
            topic: replica.topic.clone(),
            partition: replica.partition,
            cleaned_up_to: plan.cleaned_up_to,
            removed,
            superseded: plan.superseded.len() as u64,
            expired_tombstones: plan.expired_tombstones.len() as u64,
        });
    }

    /// The controllers this broker may talk to, the first being its named one
    /// (KRaft: the voters of the quorum; see `kafka_kraft::controller_quorum`).
    pub fn with_controller_quorum(mut self, quorum: Vec<NodeId>) -> KafkaBroker {
        if !quorum.is_empty() {
            self.controller = quorum.first().copied();
            self.controller_quorum = quorum;
        }
        self
    }

    fn heartbeat(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        if self.controller_quorum.len() > 1 {
            let patience = SimDuration::from_micros(self.heartbeat_interval.as_micros() * 3 / 2);
            // The first heartbeat of an incarnation starts the clock.
            let answered = *self.last_controller_answer.get_or_insert(now);
            let silent = now.since(answered) > patience;
            if silent && let Some(current) = self.controller {
                // KRaft: the active controller stopped answering through this
                // voter (crashed, cut off, or it knows no leader): try the next.
                let position = self
                    .controller_quorum
                    .iter()
                    .position(|voter| *voter == current)
                    .unwrap_or(0);
                let next = self.controller_quorum[(position + 1) % self.controller_quorum.len()];
                if next != current {
                    ctx.state(format!(
                        "controller {} silent: heartbeating {} instead",
                        self.name(current),
                        self.name(next)
                    ));
                }
                self.controller = Some(next);
                // Give the next one a full patience window before moving on.
                self.last_controller_answer = Some(now);
            }
        }
        if let Some(controller) = self.controller {
            ctx.send(controller, Payload::KafkaBrokerHeartbeat, 64);
        }
    }

    fn is_controller(&self, node: NodeId) -> bool {
        self.controller == Some(node) || self.controller_quorum.contains(&node)
    }

    /// Applies the controller's word on one partition (ignoring stale news).
    fn apply_state(&mut self, ctx: &mut Context<'_>, state: KafkaPartitionState) {
        let me = ctx.node();
        if !state.replicas.contains(&me) {
            return;
        }
        let key = (state.topic.clone(), state.partition);
        let segment_rule = self.topics.get(&state.topic).map_or(
            SegmentRule {
                records_per_segment: u64::MAX,
                roll_after_us: None,
            },
            SegmentRule::of,
        );
        let replica = self.replicas.entry(key.clone()).or_insert_with(|| Replica {
            topic: state.topic.clone(),
            partition: state.partition,
            log: Vec::new(),
            log_start_offset: 0,
            next_offset: 0,
            segment_bases: vec![0],
            segment_rule,
            cleaned_up_to: 0,
            tombstone_horizons: BTreeMap::new(),
            high_watermark: 0,
            epoch_starts: Vec::new(),
            producers: BTreeMap::new(),
            flushed_offset: 0,
            state: None,
            role: Role::Idle,
        });
        let leader_changed = match &replica.state {
            None => true,
            Some(current) if state.leader_epoch > current.leader_epoch => true,
            Some(current)
                if state.leader_epoch == current.leader_epoch
                    && state.partition_epoch > current.partition_epoch =>
            {
                false
            }
            Some(_) => return,
        };
        let now = ctx.now();
        if !leader_changed {
            // Same leadership, new ISR (often the answer to our AlterPartition).
            if let Role::Leader(leader) = &mut replica.role {
                leader.pending_isr = None;
            }
            replica.state = Some(state);
            self.maybe_advance_high_watermark(ctx, &key);
            return;
        }
        // Leadership changed: requests waiting on the old one are answered now.
        let mut failed_acks = Vec::new();
        if let Role::Leader(leader) = &mut replica.role {
            failed_acks.extend(leader.pending_acks.drain(..));
        }
        let (topic, partition) = key.clone();
        for pending in failed_acks {
            ctx.send(
                pending.producer,
                Payload::KafkaProduceResponse {
                    correlation: pending.correlation,
                    topic: topic.clone(),
                    partition,
                    offset: 0,
                    error: Some(KafkaError::NotLeaderOrFollower),
                },
                64,
            );
        }
        replica.role = match state.leader {
            Some(leader) if leader == me => {
                let end = replica.log_end_offset();
                replica.assign_epoch(state.leader_epoch, end);
                let followers = state
                    .replicas
                    .iter()
                    .filter(|node| **node != me)
                    .map(|node| {
                        (
                            *node,
                            FollowerProgress {
                                log_end_offset: None,
                                last_caught_up: now,
                                last_fetch_time: now,
                                leader_end_at_last_fetch: 0,
                            },
                        )
                    })
                    .collect();
                ctx.state(format!(
                    "leading {topic}-{partition} epoch={} from offset {end} (hw={})",
                    state.leader_epoch, replica.high_watermark
                ));
                Role::Leader(LeaderState {
                    followers,
                    pending_isr: None,
                    pending_acks: VecDeque::new(),
                    epoch_start_offset: end,
                })
            }
            Some(leader) => Role::Follower(FollowerState {
                leader,
                truncated: false,
                request_sent_at: None,
            }),
            None => Role::Idle,
        };
        replica.state = Some(state);
        self.maybe_advance_high_watermark(ctx, &key);
    }

    /// HW = min LEO over the maximal ISR; answers acks=all requests it passes.
    fn maybe_advance_high_watermark(&mut self, ctx: &mut Context<'_>, key: &PartitionKey) {
        let me = ctx.node();
        let Some(replica) = self.replicas.get_mut(key) else {
            return;
        };
        let Some(state) = &replica.state else {
            return;
        };
        let Role::Leader(leader) = &mut replica.role else {
            return;
        };
        let mut maximal_isr = state.isr.clone();
        if let Some((pending, _)) = &leader.pending_isr {
            for member in pending {
                if !maximal_isr.contains(member) {
                    maximal_isr.push(*member);
                }
            }
        }
        let end = replica.next_offset;
        let mut candidate = end;
        for member in &maximal_isr {
            if *member == me {
                continue;
            }
            let follower_end = leader
                .followers
                .get(member)
                .and_then(|progress| progress.log_end_offset)
                .unwrap_or(0);
            candidate = candidate.min(follower_end);
        }
        if candidate > replica.high_watermark {
            replica.high_watermark = candidate;
            ctx.fact(Fact::KafkaHighWatermark {
                topic: replica.topic.clone(),
                partition: replica.partition,
                high_watermark: candidate,
            });
        }
        let high_watermark = replica.high_watermark;
        let enough = state.isr.len() as u32 >= state.min_insync_replicas;
        while leader
            .pending_acks
            .front()
            .is_some_and(|pending| pending.last_offset < high_watermark)
        {
            let Some(pending) = leader.pending_acks.pop_front() else {
                break;
            };
            let error = (!enough).then_some(KafkaError::NotEnoughReplicasAfterAppend);
            if error.is_some() {
                self.produce_errors += 1;
            }
            ctx.send(
                pending.producer,
                Payload::KafkaProduceResponse {
                    correlation: pending.correlation,
                    topic: replica.topic.clone(),
                    partition: replica.partition,
                    offset: pending.offset,
                    error,
                },
                64,
            );
        }
    }

    fn produce(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        correlation: u64,
        key: PartitionKey,
        acks: KafkaAcks,
        records: &[KafkaRecord],
    ) {
        self.produce_requests += 1;
        let outcome = self.produce_outcome(ctx, from, correlation, &key, acks, records);
        let (offset, error) = match outcome {
            ProduceOutcome::Respond { offset, error } => (offset, error),
            ProduceOutcome::Wait => {
                self.maybe_advance_high_watermark(ctx, &key);
                return;
            }
        };
        // With the leader alone in the ISR, its own append commits.
        self.maybe_advance_high_watermark(ctx, &key);
        if error.is_some() {
            self.produce_errors += 1;
            ctx.error("produce_error");
        }
        if acks == KafkaAcks::None {
            return;
        }
        ctx.send(
            from,
            Payload::KafkaProduceResponse {
                correlation,
                topic: key.0,
                partition: key.1,
                offset,
                error,
            },
            64,
        );
    }

    fn produce_outcome(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        correlation: u64,
        key: &PartitionKey,
        acks: KafkaAcks,
        records: &[KafkaRecord],
    ) -> ProduceOutcome {
        let refuse = |error| ProduceOutcome::Respond {
            offset: 0,
            error: Some(error),
        };
        let Some(first) = records.first() else {
            return refuse(KafkaError::CorruptMessage);
        };
        let Some(replica) = self.replicas.get_mut(key) else {
            return refuse(KafkaError::NotLeaderOrFollower);
        };
        let (Some(state), Role::Leader(leader)) = (&replica.state, &replica.role) else {
            return refuse(KafkaError::NotLeaderOrFollower);
        };
        if acks == KafkaAcks::All && (state.isr.len() as u32) < state.min_insync_replicas {
            return refuse(KafkaError::NotEnoughReplicas);
        }
        if acks == KafkaAcks::All
            && leader.pending_acks.len() >= MAX_KAFKA_PENDING_ACKS_PER_PARTITION
        {
            return refuse(KafkaError::RequestTimedOut);
        }
        // Idempotence, per batch: the batch's base sequence identifies it; a
        // batch already in the log is answered, not appended again.
        let mut existing = None;
        if first.sequence != NO_SEQUENCE
            && let Some(entry) = replica.producers.get(&first.producer_id)
            && entry.epoch == first.producer_epoch
        {
            if let Some(offset) = entry.duplicate_of(first.sequence) {
                existing = Some(offset);
            } else if first.sequence != entry.last_sequence.wrapping_add(1) {
                return refuse(KafkaError::OutOfOrderSequence);
            }
        }
        let batch_length = records.len() as u64;
        let offset = match existing {
            Some(offset) => {
                ctx.state(format!(
                    "duplicate produce from pid={} seq={} on {}-{}: already at offset {offset}, not appended",
                    first.producer_id, first.sequence, key.0, key.1
                ));
                offset
            }
            None => {
                if replica.log.len() + records.len() > MAX_KAFKA_RECORDS_PER_PARTITION {
                    return refuse(KafkaError::LogFull);
                }
                let leader_epoch = state.leader_epoch;
                let offset = replica.log_end_offset();
                for (index, record) in records.iter().enumerate() {
                    replica.append(
                        ctx,
                        KafkaRecord {
                            offset: offset + index as u64,
                            leader_epoch,
                            ..record.clone()
                        },
                        Some(index == 0),
                    );
                }
                offset
            }
        };
        match acks {
            KafkaAcks::None | KafkaAcks::Leader => ProduceOutcome::Respond {
                offset,
                error: None,
            },
            KafkaAcks::All => {
                if let Role::Leader(leader) = &mut replica.role {
                    leader.pending_acks.push_back(PendingAck {
                        offset,
                        last_offset: offset + batch_length - 1,
                        producer: from,
                        correlation,
                    });
                    // Keep offset order so the queue drains from the front.
                    leader
                        .pending_acks
                        .make_contiguous()
                        .sort_by_key(|pending| pending.offset);
                }
                ProduceOutcome::Wait
            }
        }
    }

    /// The leader's side of a follower fetch.
    fn serve_fetch(
        &mut self,
        ctx: &mut Context<'_>,
        follower: NodeId,
        key: PartitionKey,
        requested_epoch: u32,
        fetch_offset: u64,
    ) {
        let now = ctx.now();
        let response = |leader_epoch, high_watermark, records, error, log_start_offset| {
            Payload::KafkaFetchResponse {
                topic: key.0.clone(),
                partition: key.1,
                leader_epoch,
                fetch_offset,
                high_watermark,
                records,
                error,
                log_start_offset,
            }
        };
        let Some(replica) = self.replicas.get_mut(&key) else {
            ctx.send(
                follower,
                response(
                    requested_epoch,
                    0,
                    Vec::new(),
                    Some(KafkaError::NotLeaderOrFollower),
                    0,
                ),
                64,
            );
            return;
        };
        let (Some(state), Role::Leader(leader)) = (&replica.state, &mut replica.role) else {
            ctx.send(
                follower,
                response(
                    requested_epoch,
                    0,
                    Vec::new(),
                    Some(KafkaError::NotLeaderOrFollower),
                    0,
                ),
                64,
            );
            return;
        };
        let epoch = state.leader_epoch;
        let error = if requested_epoch < epoch {
            Some(KafkaError::FencedLeaderEpoch)
        } else if requested_epoch > epoch {
            Some(KafkaError::UnknownLeaderEpoch)
        } else if fetch_offset > replica.next_offset {
            Some(KafkaError::OffsetOutOfRange)
        } else {
            None
        };
        let log_start_offset = replica.log_start_offset;
        if let Some(error) = error {
            ctx.send(
                follower,
                response(epoch, 0, Vec::new(), Some(error), log_start_offset),
                64,
            );
            return;
        }
        let end = replica.next_offset;
        let mut expand = None;
        if let Some(progress) = leader.followers.get_mut(&follower) {
            // Kafka's rule: caught up now if at our end; or caught up as of
            // the previous fetch if it reached our end as of that fetch.
            if fetch_offset >= end {
                progress.last_caught_up = now;
            } else if fetch_offset >= progress.leader_end_at_last_fetch {
                progress.last_caught_up = progress.last_caught_up.max(progress.last_fetch_time);
            }
            progress.leader_end_at_last_fetch = end;
            progress.last_fetch_time = now;
            progress.log_end_offset = Some(fetch_offset);
            let in_isr = state.isr.contains(&follower);
            if !in_isr
                && leader.pending_isr.is_none()
                && fetch_offset >= replica.high_watermark
                && fetch_offset >= leader.epoch_start_offset
            {
                let mut isr = state.isr.clone();
                isr.push(follower);
                expand = Some(isr);
            }
        }
        // A follower below our log start gets records from the log start
        // on and starts its log there (Kafka: OFFSET_OUT_OF_RANGE, then
        // truncate fully and start at the leader's log start offset).
        let from = fetch_offset.max(replica.log_start_offset);
        let available = replica.records_between(from, end);
        let records: Vec<KafkaRecord> =
            available[..available.len().min(MAX_KAFKA_RECORDS_PER_FETCH)].to_vec();
        if let Some(isr) = expand {
            self.isr_expands += 1;
            self.request_isr_change(ctx, &key, isr, "caught up");
        }
        self.maybe_advance_high_watermark(ctx, &key);
        let Some(replica) = self.replicas.get(&key) else {
            return;
        };
        let size = 64 + 64 * records.len() as u32;
        ctx.send(
            follower,
            response(
                epoch,
                replica.high_watermark,
                records,
                None,
                replica.log_start_offset,
            ),
            size,
        );
    }

    /// Kafka's `UnderReplicatedPartitions`: partitions this broker leads
    /// whose ISR is smaller than the replica set.
    fn under_replicated_partitions(&self) -> usize {
        self.replicas
            .values()
            .filter(|replica| matches!(replica.role, Role::Leader(_)))
            .filter_map(|replica| replica.state.as_ref())
            .filter(|state| state.isr.len() < state.replicas.len())
            .count()
    }

    /// The leader's side of a consumer fetch: records below the high
    /// watermark only, so a consumer never sees an uncommitted record.
    fn serve_consumer_fetch(
        &mut self,
        ctx: &mut Context<'_>,
        consumer: NodeId,
        key: PartitionKey,
        fetch_offset: u64,
        max_records: u32,
    ) {
        self.consumer_fetches += 1;
        let (high_watermark, records, error) = match self.replicas.get(&key) {
            Some(replica) if matches!(replica.role, Role::Leader(_)) => {
                let end = replica.log_end_offset();
                if fetch_offset > end || fetch_offset < replica.log_start_offset {
                    // Above the end, or below the log start (deleted by
                    // retention): the consumer resets (auto_offset_reset).
                    (
                        replica.high_watermark,
                        Vec::new(),
                        Some(KafkaError::OffsetOutOfRange),
                    )
                } else {
                    // Counted in records, not offsets: a compacted range
                    // has gaps, and the consumer steps over them.
                    let limit = (max_records as usize).min(MAX_KAFKA_RECORDS_PER_FETCH);
                    let available = replica.records_between(fetch_offset, replica.high_watermark);
                    let records: Vec<KafkaRecord> =
                        available[..available.len().min(limit)].to_vec();
                    (replica.high_watermark, records, None)
                }
            }
            _ => (0, Vec::new(), Some(KafkaError::NotLeaderOrFollower)),
        };
        self.consumed_records_served += records.len() as u64;
        let size = 64 + 64 * records.len() as u32;
        ctx.send(
            consumer,
            Payload::KafkaConsumerFetchResponse {
                topic: key.0,
                partition: key.1,
                fetch_offset,
                high_watermark,
                records,
                error,
            },
            size,
        );
    }

    fn request_isr_change(
        &mut self,
        ctx: &mut Context<'_>,
        key: &PartitionKey,
        isr: Vec<NodeId>,
        why: &str,
    ) {
        let Some(controller) = self.controller else {
            return;
        };
        let now = ctx.now();
        let Some(replica) = self.replicas.get_mut(key) else {
            return;
        };
        let (Some(state), Role::Leader(leader)) = (&replica.state, &mut replica.role) else {
            return;
        };
        let message = Payload::KafkaAlterPartition {
            topic: key.0.clone(),
            partition: key.1,
            leader_epoch: state.leader_epoch,
            partition_epoch: state.partition_epoch,
            isr: isr.clone(),
        };
        let from = state.isr.clone();
        leader.pending_isr = Some((isr.clone(), now));
        ctx.state(format!(
            "proposing isr {}-{} {} -> {} ({why})",
            key.0,
            key.1,
            self.names(&from),
            self.names(&isr)
        ));
        ctx.send(controller, message, 96);
    }

    /// Leader: followers that lag too long leave the ISR; lost proposals are resent.
    fn check_isr(&mut self, ctx: &mut Context<'_>) {
        let me = ctx.node();
        let now = ctx.now();
        let lag_max = SimDuration::from_millis(self.spec.replica_lag_time_max_ms);
        let mut shrinks = Vec::new();
        let mut resends = Vec::new();
        for (key, replica) in &self.replicas {
            let (Some(state), Role::Leader(leader)) = (&replica.state, &replica.role) else {
                continue;
            };
            if let Some((pending, sent_at)) = &leader.pending_isr {
                if now.since(*sent_at) >= RESEND_AFTER {
                    resends.push((key.clone(), pending.clone()));
                }
                continue;
            }
            let end = replica.log_end_offset();
            let lagging: Vec<NodeId> = state
                .isr
                .iter()
                .filter(|member| **member != me)
                .filter(|member| {
                    leader.followers.get(member).is_some_and(|progress| {
                        progress.log_end_offset.unwrap_or(0) < end
                            && now.since(progress.last_caught_up) > lag_max
                    })
                })
                .copied()
                .collect();
            if !lagging.is_empty() {
                let isr: Vec<NodeId> = state
                    .isr
                    .iter()
                    .filter(|member| !lagging.contains(member))
                    .copied()
                    .collect();
                shrinks.push((key.clone(), isr, lagging));
            }
        }
        for (key, isr, lagging) in shrinks {
            self.isr_shrinks += 1;
            let why = format!(
                "{} not caught up for {} ms",
                self.names(&lagging),
                self.spec.replica_lag_time_max_ms
            );
            self.request_isr_change(ctx, &key, isr, &why);
        }
        for (key, isr) in resends {
            self.request_isr_change(ctx, &key, isr, "resend");
        }
    }

    /// Follower: validate the log against the leader (KIP-101), then fetch.
    fn fetch_all(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        for replica in self.replicas.values_mut() {
            let Some(state) = &replica.state else {
                continue;
            };
            let latest_epoch = replica.latest_epoch();
            let end = replica.log_end_offset();
            let Role::Follower(follower) = &mut replica.role else {
                continue;
            };
            if follower
                .request_sent_at
                .is_some_and(|sent_at| now.since(sent_at) < RESEND_AFTER)
            {
                continue;
            }
            follower.request_sent_at = Some(now);
            let payload = match (follower.truncated, latest_epoch) {
                (false, Some(requested_epoch)) => Payload::KafkaEpochEndOffset {
                    topic: replica.topic.clone(),
                    partition: replica.partition,
                    leader_epoch: state.leader_epoch,
                    requested_epoch,
                },
                _ => {
                    // An empty log cannot diverge.
                    follower.truncated = true;
                    Payload::KafkaFetch {
                        topic: replica.topic.clone(),
                        partition: replica.partition,
                        leader_epoch: state.leader_epoch,
                        fetch_offset: end,
                    }
                }
            };
            ctx.send(follower.leader, payload, 96);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_epoch_end_offset(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        key: PartitionKey,
        leader_epoch: u32,
        epoch: u32,
        end_offset: u64,
        error: Option<KafkaError>,
    ) {
        let Some(replica) = self.replicas.get_mut(&key) else {
            return;
        };
        let Some(state) = &replica.state else {
            return;
        };
        if state.leader_epoch != leader_epoch {
            return;
        }
        let Role::Follower(follower) = &mut replica.role else {
            return;
        };
        if follower.leader != from || follower.truncated {
            return;
        }
        follower.request_sent_at = None;
        if error.is_some() {
            return;
        }
        follower.truncated = true;
        // KIP-279: if the leader's answer is for an older epoch than ours,
        // our own log of that epoch may end earlier: take the smaller.
        let (_, own_end) = replica.end_offset_for_epoch(epoch);
        let truncate_to = end_offset.min(own_end);
        let removed = replica.log_end_offset().saturating_sub(truncate_to);
        self.truncated_records += removed;
        replica.truncate(ctx, truncate_to, TruncateReason::DivergentEpoch);
        self.fetch_all(ctx);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_fetch_response(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        key: PartitionKey,
        leader_epoch: u32,
        fetch_offset: u64,
        high_watermark: u64,
        records: &[KafkaRecord],
        error: Option<KafkaError>,
        leader_log_start: u64,
    ) {
        let Some(replica) = self.replicas.get_mut(&key) else {
            return;
        };
        let Some(state) = &replica.state else {
            return;
        };
        if state.leader_epoch != leader_epoch {
            return;
        }
        let Role::Follower(follower) = &mut replica.role else {
            return;
        };
        if follower.leader != from || !follower.truncated {
            return;
        }
        follower.request_sent_at = None;
        match error {
            Some(KafkaError::OffsetOutOfRange) => {
                // Our log is ahead of the leader's: validate it again.
                follower.truncated = false;
                return;
            }
            Some(_) => return,
            None => {}
        }
        if fetch_offset != replica.log_end_offset() {
            return;
        }
        if fetch_offset < leader_log_start && !records.is_empty() {
            // The leader deleted what we lack (retention): our whole log is
            // below its log start, so start ours there, as Kafka's follower
            // does (truncate fully and start at the leader's log start).
            replica.restart_log_at(leader_log_start);
            replica.high_watermark = replica.high_watermark.max(leader_log_start);
            replica.flushed_offset = replica.flushed_offset.max(leader_log_start);
            ctx.fact(Fact::KafkaLogStart {
                topic: replica.topic.clone(),
                partition: replica.partition,
                log_start_offset: leader_log_start,
            });
        }
        for record in records {
            if replica.log.len() >= MAX_KAFKA_RECORDS_PER_PARTITION {
                break;
            }
            // Offsets only grow; a gap is a range the leader's cleaner removed.
            if record.offset < replica.log_end_offset() {
                continue;
            }
            replica.append(ctx, record.clone(), None);
        }
        replica.high_watermark = replica
            .high_watermark
            .max(high_watermark.min(replica.log_end_offset()));
        if !records.is_empty() {
            // More may be waiting: fetch again at once rather than next tick.
            self.fetch_all(ctx);
        }
    }

    fn on_epoch_end_request(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        key: PartitionKey,
        leader_epoch: u32,
        requested_epoch: u32,
    ) {
        let (epoch, end_offset, error) = match self.replicas.get(&key) {
            Some(replica) => match (&replica.state, &replica.role) {
                (Some(state), Role::Leader(_)) if state.leader_epoch == leader_epoch => {
                    let (epoch, end) = replica.end_offset_for_epoch(requested_epoch);
                    (epoch, end, None)
                }
                (Some(state), Role::Leader(_)) if state.leader_epoch > leader_epoch => {
                    (0, 0, Some(KafkaError::FencedLeaderEpoch))
                }
                (Some(_), Role::Leader(_)) => (0, 0, Some(KafkaError::UnknownLeaderEpoch)),
                _ => (0, 0, Some(KafkaError::NotLeaderOrFollower)),
            },
            None => (0, 0, Some(KafkaError::NotLeaderOrFollower)),
        };
        ctx.send(
            from,
            Payload::KafkaEpochEndOffsetResponse {
                topic: key.0,
                partition: key.1,
                leader_epoch,
                requested_epoch,
                epoch,
                end_offset,
                error,
            },
            64,
        );
    }
}

#[derive(Clone)]
enum ProduceOutcome {
    Respond {
        offset: u64,
        error: Option<KafkaError>,
    },
    /// acks=all: answered when the high watermark passes the record.
    Wait,
}

impl Component for KafkaBroker {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.heartbeat(ctx);
        self.arm(
            ctx,
            TIMER_HEARTBEAT,
            self.heartbeat_interval.as_micros() / 1_000,
        );
        self.arm(ctx, TIMER_FETCH, self.spec.replica_fetch_interval_ms);
        self.arm(ctx, TIMER_ISR_CHECK, self.spec.replica_lag_time_max_ms / 2);
        if self.topics.values().any(retention_enabled) {
            self.arm(ctx, TIMER_RETENTION, KAFKA_RETENTION_CHECK_INTERVAL_MS);
        }
        if self
            .topics
            .values()
            .any(|topic| topic.cleanup_policy.compacts())
        {
            self.arm(ctx, TIMER_CLEANER, KAFKA_LOG_CLEANER_INTERVAL_MS);
        }
        if self.spec.power_loss_on_crash {
            self.arm(ctx, TIMER_FLUSH, self.spec.page_cache_flush_interval_ms);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let from = envelope.from;
        if self.coordinator.on_message(ctx, from, &envelope.payload) {
            if self.coordinator.has_groups() && !self.group_timer_armed {
                self.group_timer_armed = true;
                self.arm(ctx, TIMER_GROUPS, GROUP_TICK_MS);
            }
            return;
        }
        match &envelope.payload {
            Payload::KafkaConsumerFetch {
                topic,
                partition,
                fetch_offset,
                max_records,
            } => self.serve_consumer_fetch(
                ctx,
                from,
                (topic.clone(), *partition),
                *fetch_offset,
                *max_records,
            ),
            Payload::KafkaListOffsets { topic, partition }
            | Payload::KafkaListOffsetsEarliest { topic, partition } => {
                let earliest = matches!(envelope.payload, Payload::KafkaListOffsetsEarliest { .. });
                let key = (topic.clone(), *partition);
                let (offset, error) = match self.replicas.get(&key) {
                    Some(replica) if matches!(replica.role, Role::Leader(_)) => {
                        if earliest {
                            (replica.log_start_offset, None)
                        } else {
                            (replica.high_watermark, None)
                        }
                    }
                    _ => (0, Some(KafkaError::NotLeaderOrFollower)),
                };
                ctx.send(
                    from,
                    Payload::KafkaListOffsetsResponse {
                        topic: key.0,
                        partition: key.1,
                        offset,
                        error,
                    },
                    48,
                );
            }
            Payload::KafkaLeaderAndIsr { partitions } if self.is_controller(from) => {
                self.last_controller_answer = Some(ctx.now());
                for state in partitions {
                    self.apply_state(ctx, state.clone());
                }
            }
            Payload::KafkaProduce {
                correlation,
                topic,
                partition,
                acks,
                record,
            } => self.produce(
                ctx,
                from,
                *correlation,
                (topic.clone(), *partition),
                *acks,
                std::slice::from_ref(record),
            ),
            Payload::KafkaProduceBatch {
                correlation,
                topic,
                partition,
                acks,
                records,
            } => self.produce(
                ctx,
                from,
                *correlation,
                (topic.clone(), *partition),
                *acks,
                records,
            ),
            Payload::KafkaFetch {
                topic,
                partition,
                leader_epoch,
                fetch_offset,
            } => self.serve_fetch(
                ctx,
                from,
                (topic.clone(), *partition),
                *leader_epoch,
                *fetch_offset,
            ),
            Payload::KafkaFetchResponse {
                topic,
                partition,
                leader_epoch,
                fetch_offset,
                high_watermark,
                records,
                error,
                log_start_offset,
            } => self.on_fetch_response(
                ctx,
                from,
                (topic.clone(), *partition),
                *leader_epoch,
                *fetch_offset,
                *high_watermark,
                records,
                *error,
                *log_start_offset,
            ),
            Payload::KafkaEpochEndOffset {
                topic,
                partition,
                leader_epoch,
                requested_epoch,
            } => self.on_epoch_end_request(
                ctx,
                from,
                (topic.clone(), *partition),
                *leader_epoch,
                *requested_epoch,
            ),
            Payload::KafkaEpochEndOffsetResponse {
                topic,
                partition,
                leader_epoch,
                epoch,
                end_offset,
                error,
                ..
            } => self.on_epoch_end_offset(
                ctx,
                from,
                (topic.clone(), *partition),
                *leader_epoch,
                *epoch,
                *end_offset,
                *error,
            ),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_HEARTBEAT => {
                self.heartbeat(ctx);
                self.arm(
                    ctx,
                    TIMER_HEARTBEAT,
                    self.heartbeat_interval.as_micros() / 1_000,
                );
            }
            TIMER_FETCH => {
                self.fetch_all(ctx);
                self.arm(ctx, TIMER_FETCH, self.spec.replica_fetch_interval_ms);
            }
            TIMER_ISR_CHECK => {
                self.check_isr(ctx);
                self.arm(ctx, TIMER_ISR_CHECK, self.spec.replica_lag_time_max_ms / 2);
            }
            TIMER_GROUPS => {
                self.coordinator.tick(ctx);
                self.arm(ctx, TIMER_GROUPS, GROUP_TICK_MS);
            }
            TIMER_FLUSH => {
                for replica in self.replicas.values_mut() {
                    replica.flushed_offset = replica.log_end_offset();
                }
                self.arm(ctx, TIMER_FLUSH, self.spec.page_cache_flush_interval_ms);
            }
            TIMER_RETENTION => {
                self.apply_retention(ctx);
                self.arm(ctx, TIMER_RETENTION, KAFKA_RETENTION_CHECK_INTERVAL_MS);
            }
            TIMER_CLEANER => {
                self.clean_filthiest_log(ctx);
                self.arm(ctx, TIMER_CLEANER, KAFKA_LOG_CLEANER_INTERVAL_MS);
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        self.last_controller_answer = None;
        self.coordinator.on_crash();
        self.group_timer_armed = false;
        for replica in self.replicas.values_mut() {
            if self.spec.power_loss_on_crash {
                let flushed = replica.flushed_offset;
                let removed = replica.log_end_offset().saturating_sub(flushed);
                self.truncated_records += removed;
                replica.truncate(ctx, flushed, TruncateReason::PowerLoss);
            }
            replica.state = None;
            replica.role = Role::Idle;
        }
    }

    fn view(&self) -> ComponentView {
        let leading = self
            .replicas
            .values()
            .filter(|replica| matches!(replica.role, Role::Leader(_)))
            .count();
        let pending: usize = self
            .replicas
            .values()
            .map(|replica| match &replica.role {
                Role::Leader(leader) => leader.pending_acks.len(),
                _ => 0,
            })
            .sum();
        let under_replicated = self.under_replicated_partitions();
        ComponentView {
            queue_depth: pending as u64,
            in_progress: 0,
            badge: if under_replicated > 0 {
                format!(
                    "leads {leading}/{}, {under_replicated} under-replicated",
                    self.replicas.len()
                )
            } else {
                format!("leads {leading}/{}", self.replicas.len())
            },
        }
    }

    fn live_status(&self) -> crate::live::NodeLiveStatus {
        let led: Vec<&KafkaPartitionState> = self
            .replicas
            .values()
            .filter(|replica| matches!(replica.role, Role::Leader(_)))
            .filter_map(|replica| replica.state.as_ref())
            .collect();
        let leadership = (!led.is_empty()).then(|| crate::live::Leadership {
            kind: crate::live::LeadershipKind::KafkaPartition,
            count: led.len() as u32,
            term: led
                .iter()
                .map(|state| u64::from(state.leader_epoch))
                .max()
                .unwrap_or(0),
        });
        // The badge shows the worst partition: the one with the smallest ISR.
        let in_sync_replicas = led
            .iter()
            .min_by_key(|state| (state.isr.len(), std::cmp::Reverse(state.replicas.len())))
            .map(|state| crate::live::InSyncReplicas {
                in_sync: state.isr.len() as u32,
                replicas: state.replicas.len() as u32,
            });
        crate::live::NodeLiveStatus {
            leadership,
            in_sync_replicas,
            ..crate::live::NodeLiveStatus::default()
        }
    }

    fn inspect(&self) -> Option<crate::inspect::NodeInspection> {
        use crate::inspect::{KafkaReplicaInspection, KafkaReplicaRole};
        let replicas = self
            .replicas
            .values()
            .take(crate::inspect::MAX_INSPECTED_KAFKA_PARTITIONS)
            .map(|replica| KafkaReplicaInspection {
                topic: replica.topic.clone(),
                partition: replica.partition,
                role: match replica.role {
                    Role::Leader(_) => KafkaReplicaRole::Leader,
                    Role::Follower(_) => KafkaReplicaRole::Follower,
                    Role::Idle => KafkaReplicaRole::Idle,
                },
                log_start_offset: replica.log_start_offset,
                log_end_offset: replica.log_end_offset(),
                high_watermark: replica.high_watermark,
                leader: replica.state.as_ref().and_then(|state| state.leader),
                leader_epoch: replica.state.as_ref().map_or(0, |state| state.leader_epoch),
                replicas: replica
                    .state
                    .as_ref()
                    .map_or_else(Vec::new, |state| state.replicas.clone()),
                isr: replica
                    .state
                    .as_ref()
                    .map_or_else(Vec::new, |state| state.isr.clone()),
                min_insync_replicas: replica
                    .state
                    .as_ref()
                    .map_or(0, |state| state.min_insync_replicas),
            })
            .collect();
        Some(crate::inspect::NodeInspection::KafkaBroker(
            crate::inspect::KafkaBrokerInspection {
                replicas,
                groups: self.coordinator.inspect(),
            },
        ))
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        let led_isr_size_total: usize = self
            .replicas
            .values()
            .filter(|replica| matches!(replica.role, Role::Leader(_)))
            .filter_map(|replica| replica.state.as_ref())
            .map(|state| state.isr.len())
            .sum();
        let log_records: usize = self
            .replicas
            .values()
            .map(|replica| replica.log.len())
            .sum();
        vec![
            ("produce_requests", self.produce_requests as f64),
            ("produce_errors", self.produce_errors as f64),
            ("log_records", log_records as f64),
            (
                "retention_deleted_records",
                self.retention_deleted_records as f64,
            ),
            ("cleaner_passes", self.cleaner_passes as f64),
            (
                "cleaner_removed_records",
                self.cleaner_removed_records as f64,
            ),
            ("truncated_records", self.truncated_records as f64),
            ("isr_shrinks", self.isr_shrinks as f64),
            ("isr_expands", self.isr_expands as f64),
            (
                "under_replicated_partitions",
                self.under_replicated_partitions() as f64,
            ),
            ("led_isr_size_total", led_isr_size_total as f64),
            ("consumer_fetches", self.consumer_fetches as f64),
            (
                "consumed_records_served",
                self.consumed_records_served as f64,
            ),
            (
                "coordinated_groups",
                self.coordinator.active_groups() as f64,
            ),
            ("group_rebalances", self.coordinator.rebalances as f64),
            (
                "group_members_expired",
                self.coordinator.expired_members as f64,
            ),
            ("offset_commits", self.coordinator.commits as f64),
            (
                "offset_commits_refused",
                self.coordinator.refused_commits as f64,
            ),
        ]
    }
}
