//! Kafka consumer: a consumer-group member that polls, processes and commits records of one topic, with Kafka's timing and delivery semantics.
//!
//! The model follows the Java client's threads:
//! - the *application loop* calls `poll`, processes the returned batch one
//!   record at a time (`processing_time` each), and commits according to
//!   `commit_mode`. Group work (joining, eager revocation, applying a new
//!   assignment) happens inside `poll`, as in Kafka, so a long batch delays it;
//!   a batch longer than `max_poll_interval_ms` makes the consumer leave the
//!   group (KIP-62), while it goes on processing that batch;
//! - the *heartbeat thread* heartbeats every `heartbeat_interval_ms`
//!   independently of processing; REBALANCE_IN_PROGRESS in its answer asks
//!   the next `poll` to rejoin;
//! - the *fetcher* keeps fetching ahead for each owned partition from its
//!   leader, below the high watermark (the broker never returns more).
//!
//! The position of a partition (the next offset `poll` hands out) moves when
//! `poll` returns records, so: `auto` commits the positions at the start of a
//! later `poll` (records returned earlier are processed by then:
//! at-least-once), `after_processing` commits after the batch
//! (at-least-once), `before_processing` commits before processing it
//! (at-most-once). K7 in expected-outcomes.md.
//!
//! A crash loses everything (a consumer keeps nothing on disk); the restarted
//! process joins as a new member and starts from the group's committed
//! offsets, or from `auto_offset_reset` when there are none.
//!
//! Bounds: `max_poll_records` per batch, `MAX_KAFKA_CONSUMER_BUFFERED_RECORDS`
//! fetched ahead per partition, one fetch in flight per partition, one group
//! request in flight.

use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::components::kafka_assignors::assign;
use crate::message::{Envelope, KafkaError, KafkaGroupMember, KafkaRecord, NodeId, Payload};
use crate::scenario::limits::MAX_KAFKA_CONSUMER_BUFFERED_RECORDS;
use crate::scenario::{KafkaCommitMode, KafkaConsumerSpec, KafkaOffsetReset};
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const TIMER_POLL: u32 = 1;
const TIMER_PROCESS: u32 = 2;
const TIMER_HEARTBEAT: u32 = 3;
const TIMER_FETCH: u32 = 4;
const TIMER_GROUP_REQUEST: u32 = 5;
const TIMER_COMMIT: u32 = 6;
const TIMER_POLL_INTERVAL: u32 = 7;

/// The application's `poll(Duration.ofMillis(100))`: an empty poll returns
/// after this long (or as soon as records arrive).
const POLL_TIMEOUT_MS: u64 = 100;
/// Metadata and FindCoordinator requests go out at most this often.
const LOOKUP_MIN_INTERVAL_MS: u64 = 100;
/// Per-partition summary metrics are named for the first partitions only
/// (summary names are static); the totals cover every partition.
const PARTITION_METRIC_NAMES: usize = 8;
const LAG_NAMES: [&str; PARTITION_METRIC_NAMES] = [
    "lag_p0", "lag_p1", "lag_p2", "lag_p3", "lag_p4", "lag_p5", "lag_p6", "lag_p7",
];
const CONSUMED_NAMES: [&str; PARTITION_METRIC_NAMES] = [
    "consumed_p0",
    "consumed_p1",
    "consumed_p2",
    "consumed_p3",
    "consumed_p4",
    "consumed_p5",
    "consumed_p6",
    "consumed_p7",
];

#[derive(Clone, Debug)]
struct OwnedPartition {
    /// The next offset `poll` hands out; `None` until the committed offset
    /// (or the reset position) is known.
    position: Option<u64>,
    fetch_position: u64,
    /// Fetched records, each with the position it was fetched from (the
    /// offset after the previous record, or the fetch offset): a record
    /// above that position follows a gap the log cleaner left.
    buffer: VecDeque<(u64, KafkaRecord)>,
    fetch_sent_at: Option<SimTime>,
    /// An OffsetFetch or ListOffsets request is out.
    offset_request_sent_at: Option<SimTime>,
    /// From the last fetch response (for lag).
    high_watermark: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GroupPhase {
    Unjoined,
    Joining,
    Syncing,
    Stable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterCommit {
    Process,
    Poll,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AppLoop {
    /// Between polls (an empty poll waiting for records, or about to poll).
    Idle,
    Processing,
    /// `commitSync` waiting for its answer.
    Committing {
        correlation: u64,
        then: AfterCommit,
    },
}

#[derive(Clone)]
pub struct KafkaConsumer {
    spec: KafkaConsumerSpec,
    controller: Option<NodeId>,
    /// The controllers lookups go to (KRaft voters fail over).
    controller_channel: crate::components::kafka_kraft::ControllerChannel,
    names: BTreeMap<NodeId, String>,
    coordinator: Option<NodeId>,
    last_find_coordinator: Option<SimTime>,
    member_id: Option<u64>,
    generation: u32,
    phase: GroupPhase,
    group_request_token: u64,
    rejoin_needed: bool,
    /// Membership ended behind the application's back (expired, left after
    /// the poll interval): its partitions are dropped at the next `poll`.
    lost_pending: bool,
    /// A SyncGroup answer waiting for the next `poll` to apply it.
    pending_assignment: Option<Vec<u32>>,
    last_heartbeat_answer: SimTime,
    leaders: Vec<Option<NodeId>>,
    last_metadata_request: Option<SimTime>,
    owned: BTreeMap<u32, OwnedPartition>,
    batch: VecDeque<(u32, KafkaRecord)>,
    app: AppLoop,
    poll_token: u64,
    last_poll_at: SimTime,
    next_auto_commit_at: SimTime,
    next_correlation: u64,
    rotation: usize,
    consumed: u64,
    consumed_by_partition: BTreeMap<u32, u64>,
    commits_sent: u64,
    commit_failures: u64,
    assignments_applied: u64,
    poll_interval_exceeded: u64,
    latency_total_ms: f64,
    latency_count: u64,
}

impl KafkaConsumer {
    pub fn new(spec: &KafkaConsumerSpec, node_ids: &BTreeMap<String, NodeId>) -> KafkaConsumer {
        KafkaConsumer {
            spec: spec.clone(),
            controller: node_ids.get(&spec.controller).copied(),
            controller_channel: crate::components::kafka_kraft::ControllerChannel::new(
                node_ids
                    .get(&spec.controller)
                    .copied()
                    .into_iter()
                    .collect(),
            ),
            names: node_ids
                .iter()
                .map(|(name, node)| (*node, name.clone()))
                .collect(),
            coordinator: None,
            last_find_coordinator: None,
            member_id: None,
            generation: 0,
            phase: GroupPhase::Unjoined,
            group_request_token: 0,
            rejoin_needed: true,
            lost_pending: false,
            pending_assignment: None,
            last_heartbeat_answer: SimTime::ZERO,
            leaders: Vec::new(),
            last_metadata_request: None,
            owned: BTreeMap::new(),
            batch: VecDeque::new(),
            app: AppLoop::Idle,
            poll_token: 0,
            last_poll_at: SimTime::ZERO,
            next_auto_commit_at: SimTime::ZERO,
            next_correlation: 0,
            rotation: 0,
            consumed: 0,
            consumed_by_partition: BTreeMap::new(),
            commits_sent: 0,
            commit_failures: 0,
            assignments_applied: 0,
            poll_interval_exceeded: 0,
            latency_total_ms: 0.0,
            latency_count: 0,
        }
    }

    fn name(&self, node: NodeId) -> String {
        self.names
            .get(&node)
            .cloned()
            .unwrap_or_else(|| format!("n{}", node.0))
    }

    fn group(&self) -> String {
        self.spec.group_id.clone()
    }

    fn millis(value_ms: u64) -> SimDuration {
        SimDuration::from_millis(value_ms.max(1))
    }

    fn request_timeout(&self) -> SimDuration {
        Self::millis(self.spec.request_timeout_ms)
    }

    fn timer(ctx: &mut Context<'_>, kind: u32, id: u64, after: SimDuration) {
        ctx.set_timer(after, TimerTag { kind, id });
    }

    // ---- lookups ---------------------------------------------------------

    /// The controllers to ask, the named one first (KRaft: every voter).
    pub fn with_controller_quorum(mut self, quorum: Vec<NodeId>) -> KafkaConsumer {
        if !quorum.is_empty() {
            self.controller_channel =
                crate::components::kafka_kraft::ControllerChannel::new(quorum);
        }
        self
    }

    fn lookup_due(now: SimTime, last: Option<SimTime>) -> bool {
        last.is_none_or(|at| now.since(at) >= SimDuration::from_millis(LOOKUP_MIN_INTERVAL_MS))
    }

    fn request_metadata(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let Some(controller) = self.controller else {
            return;
        };
        if Self::lookup_due(now, self.last_metadata_request) {
            self.last_metadata_request = Some(now);
            let controller = self.controller_channel.next_target().unwrap_or(controller);
            ctx.send(
                controller,
                Payload::KafkaMetadataRequest {
                    topic: self.spec.topic.clone(),
                },
                64,
            );
        }
    }

    fn find_coordinator(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let Some(controller) = self.controller else {
            return;
        };
        if Self::lookup_due(now, self.last_find_coordinator) {
            self.last_find_coordinator = Some(now);
            let controller = self.controller_channel.next_target().unwrap_or(controller);
            ctx.send(
                controller,
                Payload::KafkaFindCoordinator {
                    group: self.group(),
                },
                64,
            );
        }
    }

    /// The coordinator stopped answering: forget it and look it up again
    /// (the member id is kept; a new coordinator will not know it).
    fn coordinator_lost(&mut self, ctx: &mut Context<'_>, why: &str) {
        if let Some(coordinator) = self.coordinator.take() {
            ctx.state(format!(
                "group {}: coordinator {} lost ({why}); looking it up again",
                self.spec.group_id,
                self.name(coordinator)
            ));
        }
        if matches!(self.phase, GroupPhase::Joining | GroupPhase::Syncing) {
            self.phase = GroupPhase::Unjoined;
            self.rejoin_needed = true;
        }
        self.find_coordinator(ctx);
    }

    // ---- group membership -------------------------------------------------

    /// Group work done inside `poll`.
    fn ensure_group(&mut self, ctx: &mut Context<'_>) {
        if self.coordinator.is_none() {
            self.find_coordinator(ctx);
            return;
        }
        if self.leaders.is_empty() {
            self.request_metadata(ctx);
            return;
        }
        let idle = matches!(self.phase, GroupPhase::Unjoined | GroupPhase::Stable);
        if idle && (self.member_id.is_none() || self.rejoin_needed) {
            self.join(ctx);
        }
    }

    fn join(&mut self, ctx: &mut Context<'_>) {
        let Some(coordinator) = self.coordinator else {
            return;
        };
        let cooperative = self.spec.assignor.is_cooperative();
        if !cooperative && !self.owned.is_empty() {
            // Eager protocol: give everything back before rejoining.
            if self.spec.commit_mode == KafkaCommitMode::Auto {
                self.commit_positions(ctx);
            }
            let all: Vec<u32> = self.owned.keys().copied().collect();
            self.drop_partitions(ctx, &all, "eager rebalance: all revoked before rejoining");
        }
        self.rejoin_needed = false;
        self.phase = GroupPhase::Joining;
        self.group_request_token += 1;
        let owned: Vec<u32> = if cooperative {
            self.owned.keys().copied().collect()
        } else {
            Vec::new()
        };
        ctx.send(
            coordinator,
            Payload::KafkaJoinGroup {
                group: self.group(),
                member_id: self.member_id,
                topic: self.spec.topic.clone(),
                assignor: self.spec.assignor,
                owned,
                session_timeout_ms: self.spec.session_timeout_ms,
                rebalance_timeout_ms: self.spec.max_poll_interval_ms,
            },
            96,
        );
        // Kafka's JoinGroup may wait up to the rebalance timeout.
        let wait = Self::millis(
            self.spec
                .max_poll_interval_ms
                .saturating_add(self.spec.request_timeout_ms),
        );
        Self::timer(ctx, TIMER_GROUP_REQUEST, self.group_request_token, wait);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_join_response(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        generation: u32,
        member_id: u64,
        leader: u64,
        members: &[KafkaGroupMember],
        error: Option<KafkaError>,
    ) {
        if self.phase != GroupPhase::Joining || Some(from) != self.coordinator {
            return;
        }
        self.group_request_token += 1;
        if let Some(error) = error {
            ctx.state(format!(
                "group {}: join refused: {}",
                self.spec.group_id,
                error.as_str()
            ));
            if error == KafkaError::UnknownMemberId {
                self.forget_membership();
            }
            self.phase = GroupPhase::Unjoined;
            self.rejoin_needed = true;
            if self.app == AppLoop::Idle {
                self.poll(ctx);
            }
            return;
        }
        self.member_id = Some(member_id);
        self.generation = generation;
        self.phase = GroupPhase::Syncing;
        let assignments: Vec<(u64, Vec<u32>)> = if member_id == leader {
            let partition_count = self.leaders.len() as u32;
            assign(self.spec.assignor, members, partition_count)
                .into_iter()
                .collect()
        } else {
            Vec::new()
        };
        if member_id == leader {
            ctx.state(format!(
                "group {}: leading generation {generation}, {} assignment {assignments:?}",
                self.spec.group_id,
                self.spec.assignor.as_str()
            ));
        }
        let size = 64 + 16 * assignments.len() as u32;
        ctx.send(
            from,
            Payload::KafkaSyncGroup {
                group: self.group(),
                generation,
                member_id,
                assignments,
            },
            size,
        );
        self.group_request_token += 1;
        Self::timer(
            ctx,
            TIMER_GROUP_REQUEST,
            self.group_request_token,
            self.request_timeout(),
        );
    }

    fn on_sync_response(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        generation: u32,
        partitions: &[u32],
        error: Option<KafkaError>,
    ) {
        if self.phase != GroupPhase::Syncing
            || Some(from) != self.coordinator
            || generation != self.generation
        {
            return;
        }
        self.group_request_token += 1;
        if let Some(error) = error {
            if error != KafkaError::RebalanceInProgress {
                self.forget_membership();
            }
            self.phase = GroupPhase::Unjoined;
            self.rejoin_needed = true;
            // The client rejoins within the same poll when it can.
            if self.app == AppLoop::Idle {
                self.poll(ctx);
            }
            return;
        }
        self.phase = GroupPhase::Stable;
        self.last_heartbeat_answer = ctx.now();
        self.pending_assignment = Some(partitions.to_vec());
        // Applied by the application thread at its next poll (where Kafka
        // runs the rebalance listener); wake it if it is waiting.
        if self.app == AppLoop::Idle {
            self.poll(ctx);
        }
    }

    /// The member id is no longer valid: partitions are lost, join afresh.
    fn forget_membership(&mut self) {
        self.member_id = None;
        self.generation = 0;
        self.lost_pending = !self.owned.is_empty();
    }

    fn apply_assignment(&mut self, ctx: &mut Context<'_>, partitions: Vec<u32>) {
        let assigned: BTreeSet<u32> = partitions.into_iter().collect();
        let revoked: Vec<u32> = self
            .owned
            .keys()
            .filter(|partition| !assigned.contains(partition))
            .copied()
            .collect();
        if !revoked.is_empty() {
            if self.spec.commit_mode == KafkaCommitMode::Auto {
                self.commit_positions(ctx);
            }
            self.drop_partitions(ctx, &revoked, "revoked by the cooperative rebalance");
            // KIP-429: rejoin at once so the revoked partitions can move.
            self.rejoin_needed = true;
        }
        let added: Vec<u32> = assigned
            .iter()
            .filter(|partition| !self.owned.contains_key(partition))
            .copied()
            .collect();
        self.assignments_applied += 1;
        ctx.state(format!(
            "group {}: generation {} assignment {:?} (added {added:?}, revoked {revoked:?})",
            self.spec.group_id, self.generation, assigned
        ));
        if added.is_empty() {
            return;
        }
        for partition in &added {
            self.owned.insert(
                *partition,
                OwnedPartition {
                    position: None,
                    fetch_position: 0,
                    buffer: VecDeque::new(),
                    fetch_sent_at: None,
                    offset_request_sent_at: None,
                    high_watermark: None,
                },
            );
        }
        ctx.fact(Fact::KafkaPartitionsAssigned {
            group: self.group(),
            topic: self.spec.topic.clone(),
            generation: self.generation,
            partitions: added,
        });
        self.request_positions(ctx);
    }

    fn drop_partitions(&mut self, ctx: &mut Context<'_>, partitions: &[u32], reason: &str) {
        let mut dropped = Vec::new();
        for partition in partitions {
            if self.owned.remove(partition).is_some() {
                dropped.push(*partition);
            }
        }
        self.batch
            .retain(|(partition, _)| !dropped.contains(partition));
        if !dropped.is_empty() {
            ctx.fact(Fact::KafkaPartitionsRevoked {
                group: self.group(),
                topic: self.spec.topic.clone(),
                partitions: dropped,
                reason: reason.to_string(),
            });
        }
    }

    fn heartbeat(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let session = Self::millis(self.spec.session_timeout_ms);
        if self.phase == GroupPhase::Stable
            && self.coordinator.is_some()
            && now.since(self.last_heartbeat_answer) > session
        {
            self.coordinator_lost(ctx, "no heartbeat answer for a session timeout");
            return;
        }
        if let (GroupPhase::Stable, Some(coordinator), Some(member_id)) =
            (self.phase, self.coordinator, self.member_id)
        {
            ctx.send(
                coordinator,
                Payload::KafkaHeartbeat {
                    group: self.group(),
                    generation: self.generation,
                    member_id,
                },
                64,
            );
        }
    }

    fn on_heartbeat_response(&mut self, ctx: &mut Context<'_>, error: Option<KafkaError>) {
        self.last_heartbeat_answer = ctx.now();
        match error {
            None => {}
            Some(KafkaError::RebalanceInProgress) => {
                if !self.rejoin_needed {
                    ctx.state(format!(
                        "group {}: rebalance in progress; rejoining at the next poll",
                        self.spec.group_id
                    ));
                }
                self.rejoin_needed = true;
            }
            Some(error) => {
                ctx.state(format!(
                    "group {}: heartbeat refused ({}): partitions lost, rejoining",
                    self.spec.group_id,
                    error.as_str()
                ));
                if error == KafkaError::UnknownMemberId {
                    self.forget_membership();
                } else {
                    self.lost_pending = !self.owned.is_empty();
                }
                self.phase = GroupPhase::Unjoined;
                self.rejoin_needed = true;
            }
        }
    }

    // ---- offsets ------------------------------------------------------------

    /// Sends the positions of every owned partition; `None` when it cannot
    /// (no coordinator or no membership), which Kafka reports as a failed commit.
    fn commit_positions(&mut self, ctx: &mut Context<'_>) -> Option<u64> {
        let offsets: Vec<(u32, u64)> = self
            .owned
            .iter()
            .filter_map(|(partition, owned)| owned.position.map(|position| (*partition, position)))
            .collect();
        let (Some(coordinator), Some(member_id)) = (self.coordinator, self.member_id) else {
            self.commit_failures += 1;
            ctx.error("offset_commit_failed");
            return None;
        };
        if offsets.is_empty() {
            return None;
        }
        let correlation = self.next_correlation;
        self.next_correlation += 1;
        self.commits_sent += 1;
        let size = 64 + 12 * offsets.len() as u32;
        ctx.send(
            coordinator,
            Payload::KafkaOffsetCommit {
                group: self.group(),
                generation: self.generation,
                member_id,
                correlation,
                topic: self.spec.topic.clone(),
                offsets,
            },
            size,
        );
        Self::timer(ctx, TIMER_COMMIT, correlation, self.request_timeout());
        Some(correlation)
    }

    fn on_commit_answer(&mut self, ctx: &mut Context<'_>, correlation: u64, error: Option<&str>) {
        if let Some(error) = error {
            self.commit_failures += 1;
            ctx.error("offset_commit_failed");
            ctx.state(format!(
                "group {}: offset commit failed ({error}): these records may be delivered again",
                self.spec.group_id
            ));
        }
        if let AppLoop::Committing {
            correlation: waiting,
            then,
        } = self.app
            && waiting == correlation
        {
            match then {
                AfterCommit::Process => {
                    self.app = AppLoop::Processing;
                    self.process_next(ctx);
                }
                AfterCommit::Poll => {
                    self.app = AppLoop::Idle;
                    self.poll(ctx);
                }
            }
        }
    }

    /// Positions for new partitions: the committed offset, else the reset policy.
    fn request_positions(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let timeout = self.request_timeout();
        let Some(coordinator) = self.coordinator else {
            return;
        };
        let waiting: Vec<u32> = self
            .owned
            .iter_mut()
            .filter(|(_, owned)| {
                owned.position.is_none()
                    && owned
                        .offset_request_sent_at
                        .is_none_or(|at| now.since(at) >= timeout)
            })
            .map(|(partition, owned)| {
                owned.offset_request_sent_at = Some(now);
                *partition
            })
            .collect();
        if waiting.is_empty() {
            return;
        }
        let size = 64 + 4 * waiting.len() as u32;
        ctx.send(
            coordinator,
            Payload::KafkaOffsetFetch {
                group: self.group(),
                topic: self.spec.topic.clone(),
                partitions: waiting,
            },
            size,
        );
    }

    fn reset_position(&mut self, ctx: &mut Context<'_>, partition: u32, why: &str) {
        let leader = self.leaders.get(partition as usize).copied().flatten();
        let Some(owned) = self.owned.get_mut(&partition) else {
            return;
        };
        owned.buffer.clear();
        owned.fetch_sent_at = None;
        match self.spec.auto_offset_reset {
            KafkaOffsetReset::Earliest => {
                owned.position = Some(0);
                owned.fetch_position = 0;
                owned.offset_request_sent_at = None;
            }
            KafkaOffsetReset::Latest => {
                owned.position = None;
                owned.offset_request_sent_at = Some(ctx.now());
                if let Some(leader) = leader {
                    ctx.send(
                        leader,
                        Payload::KafkaListOffsets {
                            topic: self.spec.topic.clone(),
                            partition,
                        },
                        48,
                    );
                }
            }
        }
        ctx.state(format!(
            "{}-{partition}: {why}; auto_offset_reset={}",
            self.spec.topic,
            match self.spec.auto_offset_reset {
                KafkaOffsetReset::Earliest => "earliest (offset 0)",
                KafkaOffsetReset::Latest => "latest (the high watermark)",
            }
        ));
    }

    // ---- fetching -----------------------------------------------------------

    fn fetch_all(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let timeout = self.request_timeout();
        let mut leader_unknown = false;
        let mut positions_wanted = false;
        for (partition, owned) in &mut self.owned {
            if owned.position.is_none() {
                positions_wanted |= owned
                    .offset_request_sent_at
                    .is_none_or(|at| now.since(at) >= timeout);
                continue;
            }
            if owned
                .fetch_sent_at
                .is_some_and(|at| now.since(at) < timeout)
                || owned.buffer.len() >= MAX_KAFKA_CONSUMER_BUFFERED_RECORDS
            {
                continue;
            }
            let Some(leader) = self.leaders.get(*partition as usize).copied().flatten() else {
                leader_unknown = true;
                continue;
            };
            owned.fetch_sent_at = Some(now);
            let room = MAX_KAFKA_CONSUMER_BUFFERED_RECORDS - owned.buffer.len();
            ctx.send(
                leader,
                Payload::KafkaConsumerFetch {
                    topic: self.spec.topic.clone(),
                    partition: *partition,
                    fetch_offset: owned.fetch_position,
                    max_records: (room as u32).min(self.spec.max_poll_records),
                },
                96,
            );
        }
        if leader_unknown {
            self.request_metadata(ctx);
        }
        if positions_wanted {
            // A lost OffsetFetch or ListOffsets: ask the coordinator again.
            if self.coordinator.is_some() {
                self.request_positions(ctx);
            } else {
                self.find_coordinator(ctx);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_fetch_response(
        &mut self,
        ctx: &mut Context<'_>,
        partition: u32,
        fetch_offset: u64,
        high_watermark: u64,
        records: &[KafkaRecord],
        error: Option<KafkaError>,
    ) {
        let Some(owned) = self.owned.get_mut(&partition) else {
            return;
        };
        if owned.position.is_none() || owned.fetch_position != fetch_offset {
            return;
        }
        owned.fetch_sent_at = None;
        match error {
            Some(KafkaError::OffsetOutOfRange)
                if self.spec.auto_offset_reset == KafkaOffsetReset::Earliest =>
            {
                // Kafka resets to the log start, which retention may have
                // moved past 0: ask the leader where the log starts now.
                let leader = self.leaders.get(partition as usize).copied().flatten();
                owned.buffer.clear();
                owned.position = None;
                owned.offset_request_sent_at = Some(ctx.now());
                if let Some(leader) = leader {
                    ctx.send(
                        leader,
                        Payload::KafkaListOffsetsEarliest {
                            topic: self.spec.topic.clone(),
                            partition,
                        },
                        48,
                    );
                }
                ctx.state(format!(
                    "{}-{partition}: offset {fetch_offset} out of range (deleted by retention or truncated); auto_offset_reset=earliest (the log start)",
                    self.spec.topic
                ));
                return;
            }
            Some(KafkaError::OffsetOutOfRange) => {
                self.reset_position(
                    ctx,
                    partition,
                    &format!("offset {fetch_offset} out of range"),
                );
                return;
            }
            Some(_) => {
                self.request_metadata(ctx);
                return;
            }
            None => {}
        }
        owned.high_watermark = Some(high_watermark);
        for record in records {
            // Offsets only grow; above the fetch position is a gap of
            // records the cleaner removed (compacted topics), stepped over.
            if record.offset < owned.fetch_position {
                break;
            }
            owned
                .buffer
                .push_back((owned.fetch_position, record.clone()));
            owned.fetch_position = record.offset + 1;
        }
        if !records.is_empty() {
            if self.app == AppLoop::Idle {
                self.poll(ctx);
            }
            self.fetch_all(ctx);
        }
    }

    // ---- the application loop ---------------------------------------------

    fn schedule_poll(&mut self, ctx: &mut Context<'_>, after: SimDuration) {
        self.poll_token += 1;
        Self::timer(ctx, TIMER_POLL, self.poll_token, after);
    }

    fn poll(&mut self, ctx: &mut Context<'_>) {
        if self.app != AppLoop::Idle {
            return;
        }
        let now = ctx.now();
        self.last_poll_at = now;
        if self.lost_pending {
            self.lost_pending = false;
            let all: Vec<u32> = self.owned.keys().copied().collect();
            self.drop_partitions(ctx, &all, "membership lost");
        }
        if let Some(partitions) = self.pending_assignment.take() {
            self.apply_assignment(ctx, partitions);
        }
        self.ensure_group(ctx);
        if self.spec.commit_mode == KafkaCommitMode::Auto
            && now >= self.next_auto_commit_at
            && self.phase == GroupPhase::Stable
        {
            self.next_auto_commit_at = now.plus(Self::millis(self.spec.auto_commit_interval_ms));
            self.commit_positions(ctx);
        }
        self.take_batch();
        if self.batch.is_empty() {
            self.schedule_poll(ctx, SimDuration::from_millis(POLL_TIMEOUT_MS));
            return;
        }
        // Stale poll timers are ignored from here on.
        self.poll_token += 1;
        if self.spec.commit_mode == KafkaCommitMode::BeforeProcessing
            && let Some(correlation) = self.commit_positions(ctx)
        {
            self.app = AppLoop::Committing {
                correlation,
                then: AfterCommit::Process,
            };
            return;
        }
        self.app = AppLoop::Processing;
        self.process_next(ctx);
    }

    /// Up to `max_poll_records` buffered records, partitions in turn;
    /// advances each partition's position past what it hands out.
    fn take_batch(&mut self) {
        let limit = self.spec.max_poll_records as usize;
        let partitions: Vec<u32> = self.owned.keys().copied().collect();
        if partitions.is_empty() {
            return;
        }
        self.rotation = (self.rotation + 1) % partitions.len();
        for step in 0..partitions.len() {
            let partition = partitions[(self.rotation + step) % partitions.len()];
            let Some(owned) = self.owned.get_mut(&partition) else {
                continue;
            };
            let Some(mut position) = owned.position else {
                continue;
            };
            while self.batch.len() < limit {
                let Some((fetched_from, record)) = owned.buffer.pop_front() else {
                    break;
                };
                if fetched_from != position {
                    // Fetched for an older position: fetch again from here.
                    owned.buffer.clear();
                    owned.fetch_position = position;
                    owned.fetch_sent_at = None;
                    break;
                }
                position = record.offset + 1;
                self.batch.push_back((partition, record));
            }
            owned.position = Some(position);
        }
    }

    fn process_next(&mut self, ctx: &mut Context<'_>) {
        if self.batch.is_empty() {
            if self.spec.commit_mode == KafkaCommitMode::AfterProcessing
                && let Some(correlation) = self.commit_positions(ctx)
            {
                self.app = AppLoop::Committing {
                    correlation,
                    then: AfterCommit::Poll,
                };
                return;
            }
            self.app = AppLoop::Idle;
            self.poll(ctx);
            return;
        }
        let nominal = self.spec.processing_time.sample(ctx.rng());
        let duration = ctx.service_time(nominal);
        Self::timer(ctx, TIMER_PROCESS, 0, duration);
    }

    fn finish_record(&mut self, ctx: &mut Context<'_>) {
        if self.app != AppLoop::Processing {
            return;
        }
        if let Some((partition, record)) = self.batch.pop_front() {
            self.consumed += 1;
            *self.consumed_by_partition.entry(partition).or_default() += 1;
            // End-to-end latency as Kafka tools measure it: CreateTime on the
            // producer's clock to now on this consumer's clock.
            let latency = SimDuration::from_micros(
                ctx.local_clock()
                    .as_micros()
                    .saturating_sub(record.create_time_us),
            );
            self.latency_total_ms += latency.as_millis_f64();
            self.latency_count += 1;
            ctx.completed(latency);
            ctx.fact(Fact::KafkaConsumed {
                group: self.group(),
                topic: self.spec.topic.clone(),
                partition,
                record,
            });
        }
        self.process_next(ctx);
    }

    fn check_poll_interval(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let limit = Self::millis(self.spec.max_poll_interval_ms);
        if self.app == AppLoop::Idle || now.since(self.last_poll_at) <= limit {
            return;
        }
        let (Some(coordinator), Some(member_id)) = (self.coordinator, self.member_id) else {
            return;
        };
        self.poll_interval_exceeded += 1;
        ctx.state(format!(
            "group {}: no poll for {} ms > max_poll_interval_ms: leaving the group (processing continues)",
            self.spec.group_id,
            now.since(self.last_poll_at).as_micros() / 1_000
        ));
        ctx.send(
            coordinator,
            Payload::KafkaLeaveGroup {
                group: self.group(),
                member_id,
            },
            48,
        );
        self.forget_membership();
        self.phase = GroupPhase::Unjoined;
        self.rejoin_needed = true;
    }

    fn lag(&self) -> u64 {
        self.owned
            .values()
            .map(|owned| match (owned.high_watermark, owned.position) {
                (Some(high_watermark), Some(position)) => high_watermark.saturating_sub(position),
                _ => 0,
            })
            .sum()
    }
}

impl Component for KafkaConsumer {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        self.last_heartbeat_answer = now;
        self.last_poll_at = now;
        self.next_auto_commit_at = now.plus(Self::millis(self.spec.auto_commit_interval_ms));
        self.request_metadata(ctx);
        self.find_coordinator(ctx);
        Self::timer(
            ctx,
            TIMER_HEARTBEAT,
            0,
            Self::millis(self.spec.heartbeat_interval_ms),
        );
        Self::timer(
            ctx,
            TIMER_FETCH,
            0,
            Self::millis(self.spec.fetch_backoff_ms),
        );
        Self::timer(
            ctx,
            TIMER_POLL_INTERVAL,
            0,
            Self::millis(self.spec.max_poll_interval_ms / 10),
        );
        self.schedule_poll(ctx, SimDuration::from_millis(1));
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let from = envelope.from;
        match &envelope.payload {
            Payload::KafkaMetadataResponse { topic, partitions } if *topic == self.spec.topic => {
                self.controller_channel.answered();
                let count = partitions
                    .iter()
                    .map(|state| state.partition + 1)
                    .max()
                    .unwrap_or(0);
                let mut leaders = vec![None; count as usize];
                for state in partitions {
                    leaders[state.partition as usize] = state.leader;
                }
                self.leaders = leaders;
            }
            Payload::KafkaFindCoordinatorResponse { group, coordinator }
                if *group == self.spec.group_id =>
            {
                self.controller_channel.answered();
                if *coordinator != self.coordinator
                    && let Some(node) = coordinator
                {
                    ctx.state(format!(
                        "group {group}: coordinator is {}",
                        self.name(*node)
                    ));
                }
                self.coordinator = *coordinator;
                self.last_heartbeat_answer = ctx.now();
                if self.app == AppLoop::Idle {
                    self.poll(ctx);
                }
            }
            Payload::KafkaJoinGroupResponse {
                group,
                generation,
                member_id,
                leader,
                members,
                error,
            } if *group == self.spec.group_id => {
                self.on_join_response(ctx, from, *generation, *member_id, *leader, members, *error)
            }
            Payload::KafkaSyncGroupResponse {
                group,
                generation,
                partitions,
                error,
            } if *group == self.spec.group_id => {
                self.on_sync_response(ctx, from, *generation, partitions, *error)
            }
            Payload::KafkaHeartbeatResponse { group, error }
                if *group == self.spec.group_id && Some(from) == self.coordinator =>
            {
                self.on_heartbeat_response(ctx, *error)
            }
            Payload::KafkaOffsetCommitResponse {
                group,
                correlation,
                error,
            } if *group == self.spec.group_id => {
                if let Some(error) = error {
                    if matches!(
                        error,
                        KafkaError::UnknownMemberId | KafkaError::IllegalGeneration
                    ) {
                        self.rejoin_needed = true;
                    }
                    self.on_commit_answer(ctx, *correlation, Some(error.as_str()));
                } else {
                    self.on_commit_answer(ctx, *correlation, None);
                }
            }
            Payload::KafkaOffsetFetchResponse {
                group,
                topic,
                offsets,
            } if *group == self.spec.group_id && *topic == self.spec.topic => {
                for (partition, committed) in offsets {
                    let Some(owned) = self.owned.get_mut(partition) else {
                        continue;
                    };
                    if owned.position.is_some() {
                        continue;
                    }
                    match committed {
                        Some(offset) => {
                            owned.position = Some(*offset);
                            owned.fetch_position = *offset;
                            owned.offset_request_sent_at = None;
                            ctx.state(format!(
                                "{}-{partition}: resuming from committed offset {offset}",
                                self.spec.topic
                            ));
                        }
                        None => self.reset_position(ctx, *partition, "no committed offset"),
                    }
                }
                self.fetch_all(ctx);
            }
            Payload::KafkaListOffsetsResponse {
                topic,
                partition,
                offset,
                error,
            } if *topic == self.spec.topic => {
                let Some(owned) = self.owned.get_mut(partition) else {
                    return;
                };
                if owned.position.is_some() {
                    return;
                }
                if error.is_some() {
                    owned.offset_request_sent_at = None;
                    self.request_metadata(ctx);
                    return;
                }
                owned.position = Some(*offset);
                owned.fetch_position = *offset;
                owned.offset_request_sent_at = None;
                self.fetch_all(ctx);
            }
            Payload::KafkaConsumerFetchResponse {
                topic,
                partition,
                fetch_offset,
                high_watermark,
                records,
                error,
            } if *topic == self.spec.topic => self.on_fetch_response(
                ctx,
                *partition,
                *fetch_offset,
                *high_watermark,
                records,
                *error,
            ),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_POLL if tag.id == self.poll_token && self.app == AppLoop::Idle => {
                self.poll(ctx);
            }
            TIMER_PROCESS => self.finish_record(ctx),
            TIMER_HEARTBEAT => {
                self.heartbeat(ctx);
                Self::timer(
                    ctx,
                    TIMER_HEARTBEAT,
                    0,
                    Self::millis(self.spec.heartbeat_interval_ms),
                );
            }
            TIMER_FETCH => {
                self.fetch_all(ctx);
                Self::timer(
                    ctx,
                    TIMER_FETCH,
                    0,
                    Self::millis(self.spec.fetch_backoff_ms),
                );
            }
            TIMER_GROUP_REQUEST
                if tag.id == self.group_request_token
                    && matches!(self.phase, GroupPhase::Joining | GroupPhase::Syncing) =>
            {
                self.coordinator_lost(ctx, "group request timed out");
            }
            TIMER_COMMIT => {
                if let AppLoop::Committing { correlation, .. } = self.app
                    && correlation == tag.id
                {
                    self.coordinator_lost(ctx, "offset commit timed out");
                    self.on_commit_answer(ctx, tag.id, Some("timed out"));
                }
            }
            TIMER_POLL_INTERVAL => {
                self.check_poll_interval(ctx);
                Self::timer(
                    ctx,
                    TIMER_POLL_INTERVAL,
                    0,
                    Self::millis(self.spec.max_poll_interval_ms / 10),
                );
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        let all: Vec<u32> = self.owned.keys().copied().collect();
        self.drop_partitions(ctx, &all, "consumer crashed");
        if !self.batch.is_empty() {
            ctx.state(format!(
                "crashed with {} polled record(s) unprocessed",
                self.batch.len()
            ));
        }
        let spec = self.spec.clone();
        let controller = self.controller;
        let controller_channel = std::mem::take(&mut self.controller_channel);
        let names = std::mem::take(&mut self.names);
        let consumed = self.consumed;
        let consumed_by_partition = std::mem::take(&mut self.consumed_by_partition);
        let (commits_sent, commit_failures, assignments_applied, poll_interval_exceeded) = (
            self.commits_sent,
            self.commit_failures,
            self.assignments_applied,
            self.poll_interval_exceeded,
        );
        let (latency_total_ms, latency_count) = (self.latency_total_ms, self.latency_count);
        let (poll_token, group_request_token, next_correlation) = (
            self.poll_token,
            self.group_request_token,
            self.next_correlation,
        );
        // Everything volatile goes; run counters and request tokens stay
        // (tokens so that timers of the old incarnation cannot match).
        *self = KafkaConsumer {
            controller,
            controller_channel,
            names,
            consumed,
            consumed_by_partition,
            commits_sent,
            commit_failures,
            assignments_applied,
            poll_interval_exceeded,
            latency_total_ms,
            latency_count,
            poll_token,
            group_request_token,
            next_correlation,
            ..KafkaConsumer::new(&spec, &BTreeMap::new())
        };
    }

    fn view(&self) -> ComponentView {
        let buffered: usize = self.owned.values().map(|owned| owned.buffer.len()).sum();
        let partitions: Vec<String> = self.owned.keys().map(u32::to_string).collect();
        let badge = match self.phase {
            _ if self.coordinator.is_none() => "no coordinator".to_string(),
            GroupPhase::Unjoined | GroupPhase::Joining | GroupPhase::Syncing => {
                format!("joining g{}", self.generation)
            }
            GroupPhase::Stable => format!(
                "p[{}] lag {} g{}",
                partitions.join(","),
                self.lag(),
                self.generation
            ),
        };
        ComponentView {
            queue_depth: buffered as u64,
            in_progress: self.batch.len() as u64,
            badge,
        }
    }

    fn live_status(&self) -> crate::live::NodeLiveStatus {
        crate::live::NodeLiveStatus {
            consumer_lag: Some(self.lag()),
            ..crate::live::NodeLiveStatus::default()
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        let mut summary = vec![
            ("consumed", self.consumed as f64),
            ("commits_sent", self.commits_sent as f64),
            ("commit_failures", self.commit_failures as f64),
            ("assignments", self.assignments_applied as f64),
            ("poll_interval_exceeded", self.poll_interval_exceeded as f64),
            ("partitions_owned", self.owned.len() as f64),
            ("lag_records", self.lag() as f64),
            (
                "mean_end_to_end_latency_ms",
                if self.latency_count == 0 {
                    0.0
                } else {
                    self.latency_total_ms / self.latency_count as f64
                },
            ),
        ];
        for (partition, owned) in &self.owned {
            if let (Some(name), Some(high_watermark), Some(position)) = (
                LAG_NAMES.get(*partition as usize),
                owned.high_watermark,
                owned.position,
            ) {
                summary.push((name, high_watermark.saturating_sub(position) as f64));
            }
        }
        for (partition, count) in &self.consumed_by_partition {
            if let Some(name) = CONSUMED_NAMES.get(*partition as usize) {
                summary.push((name, *count as f64));
            }
        }
        summary
    }
}
