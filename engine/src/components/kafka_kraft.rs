//! KRaft: the Kafka controller as a Raft quorum (`kafka_controller` with `mode: kraft`) replicating the cluster metadata log.
//!
//! Every voter embeds the shared `crate::raft` core over
//! `RaftCore<ControllerCommand, ClusterMetadata>`: the log's records are the
//! stand-in's `ControllerCommand`s (fence / unfence a broker, change a
//! partition's ISR; leader elections and leader/partition epochs follow from
//! them inside `ClusterMetadata::apply`), the snapshot is the metadata
//! itself. The Raft leader is the **active controller** (KIP-500/KIP-631):
//!
//! - it alone measures broker sessions (on its own clock; a new active
//!   controller gives every broker a full session, as Kafka's does) and
//!   proposes `FenceBroker` when one expires and `UnfenceBroker` when a
//!   fenced broker heartbeats again;
//! - a leader's AlterPartition becomes an `AlterPartition` record, validated
//!   against the epochs when it is applied (so a stale request is refused
//!   the same way on every voter);
//! - a record takes effect only when committed: the active controller
//!   announces the change (state line, `KafkaLeader` fact, LeaderAndIsr to the
//!   replicas) when it applies it. Other voters apply silently, so each change
//!   is stated once; a restarted voter rebuilds its metadata from the
//!   snapshot and the log.
//!
//! A voter that is not active forwards a broker's heartbeat or AlterPartition
//! to the active controller it knows (Kafka brokers find the active controller
//! themselves; forwarding keeps the broker's protocol unchanged), and answers
//! metadata and FindCoordinator requests from its own applied metadata, which
//! may be behind (as a KRaft broker's metadata cache may). The active
//! controller answers forwarded heartbeats itself, so a broker hears back only
//! while its heartbeats reach the active controller; brokers and clients that
//! hear nothing fail over to the next voter (`controller_quorum`).
//!
//! The log is durable (KRaft fsyncs its metadata log), so a committed
//! decision survives any minority of crashed voters. Without a majority no
//! decision is made: brokers are neither fenced nor unfenced, and no ISR
//! changes, until a quorum is back.

use crate::component::{Component, ComponentView, Context, TimerId, TimerTag};
use crate::components::kafka_controller::{
    ClusterMetadata, ControllerCommand, announce_changes, announce_initial_leaders,
    answer_find_coordinator, answer_metadata_request, brokers_with_racks, liveness_check_interval,
    node_names,
};
use crate::message::{Envelope, NodeId, Payload};
use crate::raft::{
    EntryPayload, RaftAction, RaftConfig, RaftCore, RaftEnv, RaftMessage, RaftRole, RaftTimer,
};
use crate::scenario::{ComponentSpec, KafkaControllerMode, KafkaControllerSpec, Scenario};
use crate::time::{SimDuration, SimTime};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

const TIMER_LIVENESS: u32 = 1;
const TIMER_ELECTION: u32 = 2;
const TIMER_HEARTBEAT: u32 = 3;

/// Records appended to the metadata log before a snapshot replaces them.
/// Kafka snapshots its metadata log by bytes (`metadata.log.max.record.bytes.between.snapshots`);
/// a count keeps the simulated log small.
const KRAFT_SNAPSHOT_EVERY_RECORDS: u64 = 500;

type KraftCore = RaftCore<ControllerCommand, ClusterMetadata>;
type KraftAction = RaftAction<ControllerCommand, ClusterMetadata>;

/// What controller voters say to each other.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KraftMessage {
    /// The metadata log's Raft traffic.
    Raft(RaftMessage<ControllerCommand, ClusterMetadata>),
    /// A voter that is not active passes a broker's heartbeat on.
    ForwardHeartbeat { broker: NodeId },
    /// A voter that is not active passes a partition leader's AlterPartition on.
    ForwardAlterPartition {
        from: NodeId,
        topic: String,
        partition: u32,
        leader_epoch: u32,
        partition_epoch: u32,
        isr: Vec<NodeId>,
    },
}

impl KraftMessage {
    pub fn size_bytes(&self) -> u32 {
        match self {
            KraftMessage::Raft(message) => message.size_bytes(),
            KraftMessage::ForwardHeartbeat { .. } => 64,
            KraftMessage::ForwardAlterPartition { isr, .. } => 96 + 4 * isr.len() as u32,
        }
    }
}

impl fmt::Display for KraftMessage {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KraftMessage::Raft(message) => write!(formatter, "kraft {message}"),
            KraftMessage::ForwardHeartbeat { broker } => {
                write!(formatter, "kraft forward_heartbeat broker=n{}", broker.0)
            }
            KraftMessage::ForwardAlterPartition {
                from,
                topic,
                partition,
                isr,
                ..
            } => {
                let isr: Vec<String> = isr.iter().map(|node| format!("n{}", node.0)).collect();
                write!(
                    formatter,
                    "kraft forward_alter_partition {topic}-{partition} from=n{} isr=[{}]",
                    from.0,
                    isr.join(",")
                )
            }
        }
    }
}

/// The controllers a broker, producer or consumer naming `controller` may
/// talk to: that node first, then the other voters of its quorum in the
/// order they are listed (just the one node for the stand-in).
pub fn controller_quorum(
    scenario: &Scenario,
    controller: &str,
    node_ids: &BTreeMap<String, NodeId>,
) -> Vec<NodeId> {
    let Some(named) = node_ids.get(controller).copied() else {
        return Vec::new();
    };
    let mut quorum = vec![named];
    if let Some(node) = scenario.topology.nodes.get(named.index())
        && let ComponentSpec::KafkaController(spec) = &node.spec
        && spec.mode == KafkaControllerMode::Kraft
    {
        for voter in &spec.quorum_voters {
            if let Some(id) = node_ids.get(voter)
                && !quorum.contains(id)
            {
                quorum.push(*id);
            }
        }
    }
    quorum
}

/// Whether this `kafka_controller` node is the one that states the initial
/// leaders (the stand-in, or the first listed voter of a quorum), so each
/// partition's first leader is stated once.
pub fn states_initial_leaders(spec: &KafkaControllerSpec, me: &str) -> bool {
    spec.mode == KafkaControllerMode::StandIn
        || spec.quorum_voters.first().is_none_or(|first| first == me)
}

#[derive(Clone)]
pub struct KraftController {
    core: KraftCore,
    /// The metadata as of the last applied record (volatile; rebuilt from the
    /// snapshot and the log after a restart).
    metadata: ClusterMetadata,
    /// The metadata before any record: where a restarted voter starts.
    initial_metadata: ClusterMetadata,
    states_initial_leaders: bool,
    session_timeout: SimDuration,
    /// Active controller only: last heartbeat per broker on this node's clock.
    last_heartbeat: BTreeMap<NodeId, SimTime>,
    /// Fence/unfence records proposed and not yet applied (no duplicates
    /// while one is in flight); cleared when leadership is lost.
    fence_proposed: BTreeSet<NodeId>,
    unfence_proposed: BTreeSet<NodeId>,
    timers: BTreeMap<RaftTimer, TimerId>,
    names: BTreeMap<NodeId, String>,
    fenced_total: u64,
    elections_total: u64,
    unclean_elections_total: u64,
    records_applied: u64,
    times_active: u64,
    forwarded: u64,
}

impl KraftController {
    pub fn new(
        spec: &KafkaControllerSpec,
        scenario: &Scenario,
        me: NodeId,
        node_ids: &BTreeMap<String, NodeId>,
    ) -> KraftController {
        let brokers = brokers_with_racks(spec, scenario, node_ids);
        let metadata = ClusterMetadata::new(spec, &brokers);
        let voters: Vec<NodeId> = spec
            .quorum_voters
            .iter()
            .filter_map(|name| node_ids.get(name).copied())
            .collect();
        let voters = if voters.is_empty() { vec![me] } else { voters };
        let election_timeout_ms = spec.quorum_election_timeout_ms;
        let config = RaftConfig {
            group: voters.iter().map(|node| node.0).min().unwrap_or(me.0),
            election_timeout_min: SimDuration::from_millis(election_timeout_ms),
            election_timeout_max: SimDuration::from_millis(2 * election_timeout_ms),
            heartbeat_interval: SimDuration::from_millis(spec.quorum_heartbeat_interval_ms),
            // KIP-996 (Kafka 4.0) added pre-vote; KRaft leaders resign
            // without fetches from a majority (check quorum).
            pre_vote: true,
            check_quorum: true,
            durable_storage: true,
            snapshot_threshold_entries: KRAFT_SNAPSHOT_EVERY_RECORDS,
            ..RaftConfig::default()
        };
        let me_name = node_ids
            .iter()
            .find(|(_, node)| **node == me)
            .map_or("", |(name, _)| name.as_str());
        KraftController {
            core: RaftCore::new(config, me, voters),
            initial_metadata: metadata.clone(),
            metadata,
            states_initial_leaders: states_initial_leaders(spec, me_name),
            session_timeout: SimDuration::from_millis(spec.broker_session_timeout_ms),
            last_heartbeat: BTreeMap::new(),
            fence_proposed: BTreeSet::new(),
            unfence_proposed: BTreeSet::new(),
            timers: BTreeMap::new(),
            names: node_names(node_ids),
            fenced_total: 0,
            elections_total: 0,
            unclean_elections_total: 0,
            records_applied: 0,
            times_active: 0,
            forwarded: 0,
        }
    }

    fn name(&self, node: NodeId) -> String {
        self.names
            .get(&node)
            .cloned()
            .unwrap_or_else(|| format!("n{}", node.0))
    }

    fn is_active(&self) -> bool {
        self.core.role() == RaftRole::Leader
    }

    /// Runs `call` on the core with this node's clock and stream, then carries out its actions.
    fn drive(
        &mut self,
        ctx: &mut Context<'_>,
        call: impl FnOnce(&mut KraftCore, &mut RaftEnv<'_>, &mut Vec<KraftAction>),
    ) {
        let mut actions = Vec::new();
        {
            let mut env = RaftEnv {
                now: ctx.local_clock(),
                rng: ctx.rng(),
            };
            call(&mut self.core, &mut env, &mut actions);
        }
        self.perform(ctx, actions);
    }

    fn perform(&mut self, ctx: &mut Context<'_>, actions: Vec<KraftAction>) {
        for action in actions {
            match action {
                RaftAction::Send { to, message } => {
                    let message = KraftMessage::Raft(message);
                    let size = message.size_bytes();
                    ctx.send(to, Payload::KafkaKraft(message), size);
                }
                RaftAction::SetTimer { timer, after } => {
                    if let Some(previous) = self.timers.remove(&timer) {
                        ctx.cancel_timer(previous);
                    }
                    let kind = match timer {
                        RaftTimer::Election => TIMER_ELECTION,
                        RaftTimer::Heartbeat => TIMER_HEARTBEAT,
                    };
                    let id = ctx.set_timer(after, TimerTag { kind, id: 0 });
                    self.timers.insert(timer, id);
                }
                RaftAction::Apply { payload, .. } => {
                    if let EntryPayload::Command(command) = payload {
                        self.apply(ctx, command);
                    }
                }
                RaftAction::RestoreSnapshot { data, .. } => self.metadata = data,
                RaftAction::RoleChanged { role, term, leader } => {
                    self.role_changed(ctx, role, term, leader);
                }
                RaftAction::Fact(fact) => ctx.fact(fact),
            }
        }
        if let Some(index) = self.core.snapshot_due() {
            self.core.compact(index, self.metadata.clone());
        }
    }

    fn role_changed(
        &mut self,
        ctx: &mut Context<'_>,
        role: RaftRole,
        term: u64,
        leader: Option<NodeId>,
    ) {
        self.fence_proposed.clear();
        self.unfence_proposed.clear();
        if role == RaftRole::Leader {
            self.times_active += 1;
            // A new active controller has heard from nobody yet: every broker
            // gets a full session before it can be fenced.
            let now = ctx.local_clock();
            self.last_heartbeat = self
                .metadata
                .brokers()
                .iter()
                .map(|broker| (*broker, now))
                .collect();
            ctx.state(format!("active controller term={term}"));
        } else {
            self.last_heartbeat.clear();
            ctx.state(format!(
                "voter {} term={term} active={}",
                role.as_str(),
                leader.map_or("none".to_string(), |node| self.name(node))
            ));
        }
    }

    /// A committed record: every voter applies it; the active one announces it.
    fn apply(&mut self, ctx: &mut Context<'_>, command: ControllerCommand) {
        self.records_applied += 1;
        let announce = self.is_active();
        let rejected_alter = match &command {
            ControllerCommand::FenceBroker(broker) => {
                self.fence_proposed.remove(broker);
                if announce && self.metadata.is_alive(*broker) {
                    self.fenced_total += 1;
                    ctx.state(format!(
                        "fenced {}: no heartbeat for {} ms (committed)",
                        self.name(*broker),
                        self.session_timeout.as_micros() / 1_000
                    ));
                }
                None
            }
            ControllerCommand::UnfenceBroker(broker) => {
                self.unfence_proposed.remove(broker);
                if announce && !self.metadata.is_alive(*broker) {
                    ctx.state(format!(
                        "unfenced {}: heartbeat again (committed)",
                        self.name(*broker)
                    ));
                }
                None
            }
            ControllerCommand::AlterPartition { from, index, .. } => Some((*from, *index)),
        };
        let changes = self.metadata.apply(command);
        if !announce {
            return;
        }
        if let Some((from, index)) = rejected_alter
            && changes.is_empty()
            && index < self.metadata.partition_count()
        {
            // Refused (stale epochs): tell the requester how things are.
            let state = self.metadata.partition(index).clone();
            ctx.send(
                from,
                Payload::KafkaLeaderAndIsr {
                    partitions: vec![state],
                },
                112,
            );
            return;
        }
        let (elections, unclean) = announce_changes(ctx, &self.metadata, &self.names, &changes);
        self.elections_total += elections;
        self.unclean_elections_total += unclean;
    }

    fn propose(&mut self, ctx: &mut Context<'_>, command: ControllerCommand) -> bool {
        let mut actions = Vec::new();
        let accepted = self.core.propose(command, &mut actions).is_ok();
        self.perform(ctx, actions);
        accepted
    }

    /// Active controller: a broker's heartbeat (direct or forwarded) renews
    /// its session; a fenced broker is unfenced through the log. The answer
    /// carries the broker's partitions as this controller has applied them.
    fn broker_heartbeat(&mut self, ctx: &mut Context<'_>, broker: NodeId) {
        if !self.metadata.brokers().contains(&broker) {
            return;
        }
        self.last_heartbeat.insert(broker, ctx.local_clock());
        if !self.metadata.is_alive(broker)
            && !self.unfence_proposed.contains(&broker)
            && self.propose(ctx, ControllerCommand::UnfenceBroker(broker))
        {
            self.unfence_proposed.insert(broker);
        }
        let partitions = self.metadata.states_hosted_by(broker);
        let size = 64 + 48 * partitions.len() as u32;
        ctx.send(broker, Payload::KafkaLeaderAndIsr { partitions }, size);
    }

    fn forward(&mut self, ctx: &mut Context<'_>, message: KraftMessage) {
        if let Some(active) = self.core.leader_hint()
            && active != ctx.node()
        {
            self.forwarded += 1;
            let size = message.size_bytes();
            ctx.send(active, Payload::KafkaKraft(message), size);
        }
        // No known active controller: dropped; the broker retries or fails over.
    }

    #[allow(clippy::too_many_arguments)]
    fn alter_partition(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        topic: &str,
        partition: u32,
        leader_epoch: u32,
        partition_epoch: u32,
        isr: &[NodeId],
    ) {
        let Some(index) = self.metadata.find(topic, partition) else {
            return;
        };
        // Refused proposals (too many uncommitted) are retried by the leader.
        self.propose(
            ctx,
            ControllerCommand::AlterPartition {
                from,
                index,
                leader_epoch,
                partition_epoch,
                isr: isr.to_vec(),
            },
        );
    }

    /// Active controller: fence brokers whose session expired.
    fn check_sessions(&mut self, ctx: &mut Context<'_>) {
        if !self.is_active() {
            return;
        }
        let now = ctx.local_clock();
        let expired: Vec<NodeId> = self
            .last_heartbeat
            .iter()
            .filter(|(broker, last)| {
                self.metadata.is_alive(**broker)
                    && !self.fence_proposed.contains(*broker)
                    && now.since(**last) > self.session_timeout
            })
            .map(|(broker, _)| *broker)
            .collect();
        for broker in expired {
            ctx.state(format!(
                "fencing {}: no heartbeat for {} ms (proposed to the metadata log)",
                self.name(broker),
                self.session_timeout.as_micros() / 1_000
            ));
            if self.propose(ctx, ControllerCommand::FenceBroker(broker)) {
                self.fence_proposed.insert(broker);
            }
        }
    }

    fn arm_liveness(&self, ctx: &mut Context<'_>) {
        ctx.set_timer(
            liveness_check_interval(self.session_timeout),
            TimerTag {
                kind: TIMER_LIVENESS,
                id: 0,
            },
        );
    }

    /// The metadata this voter has applied (for tests and the inspector).
    pub fn metadata(&self) -> &ClusterMetadata {
        &self.metadata
    }
}

impl Component for KraftController {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        if ctx.now() == SimTime::ZERO && self.states_initial_leaders {
            // Initial assignment (the log's bootstrap): stated once, by the
            // first voter, and pushed to the brokers.
            announce_initial_leaders(ctx, &self.metadata);
            let all: Vec<usize> = (0..self.metadata.partition_count()).collect();
            crate::components::kafka_controller::push_states(ctx, &self.metadata, &all);
        }
        self.drive(ctx, |core, env, out| core.start(env, out));
        self.arm_liveness(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let from = envelope.from;
        match &envelope.payload {
            Payload::KafkaKraft(KraftMessage::Raft(message)) => {
                let message = message.clone();
                self.drive(ctx, |core, env, out| {
                    core.handle_message(env, from, message, out)
                });
            }
            Payload::KafkaKraft(KraftMessage::ForwardHeartbeat { broker }) if self.is_active() => {
                self.broker_heartbeat(ctx, *broker);
            }
            Payload::KafkaKraft(KraftMessage::ForwardAlterPartition {
                from,
                topic,
                partition,
                leader_epoch,
                partition_epoch,
                isr,
            }) if self.is_active() => {
                self.alter_partition(
                    ctx,
                    *from,
                    topic,
                    *partition,
                    *leader_epoch,
                    *partition_epoch,
                    isr,
                );
            }
            Payload::KafkaBrokerHeartbeat => {
                if self.is_active() {
                    self.broker_heartbeat(ctx, from);
                } else {
                    self.forward(ctx, KraftMessage::ForwardHeartbeat { broker: from });
                }
            }
            Payload::KafkaAlterPartition {
                topic,
                partition,
                leader_epoch,
                partition_epoch,
                isr,
            } => {
                if self.is_active() {
                    self.alter_partition(
                        ctx,
                        from,
                        topic,
                        *partition,
                        *leader_epoch,
                        *partition_epoch,
                        isr,
                    );
                } else {
                    self.forward(
                        ctx,
                        KraftMessage::ForwardAlterPartition {
                            from,
                            topic: topic.clone(),
                            partition: *partition,
                            leader_epoch: *leader_epoch,
                            partition_epoch: *partition_epoch,
                            isr: isr.clone(),
                        },
                    );
                }
            }
            Payload::KafkaMetadataRequest { topic } => {
                answer_metadata_request(ctx, &self.metadata, from, topic);
            }
            Payload::KafkaFindCoordinator { group } => {
                answer_find_coordinator(ctx, &self.metadata, from, group);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        let timer = match tag.kind {
            TIMER_LIVENESS => {
                self.check_sessions(ctx);
                self.arm_liveness(ctx);
                return;
            }
            TIMER_ELECTION => RaftTimer::Election,
            TIMER_HEARTBEAT => RaftTimer::Heartbeat,
            _ => return,
        };
        self.timers.remove(&timer);
        self.drive(ctx, |core, env, out| core.handle_timer(env, timer, out));
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        let mut actions = Vec::new();
        self.core.crash(&mut actions);
        for action in actions {
            if let RaftAction::Fact(fact) = action {
                ctx.fact(fact);
            }
        }
        // The log survives (durable); what was applied from it does not.
        self.metadata = self.initial_metadata.clone();
        self.last_heartbeat.clear();
        self.fence_proposed.clear();
        self.unfence_proposed.clear();
        self.timers.clear();
        ctx.state("crashed: applied metadata and sessions lost; the metadata log is on disk");
    }

    fn on_restart(&mut self, ctx: &mut Context<'_>) {
        self.drive(ctx, |core, env, out| core.start(env, out));
        self.arm_liveness(ctx);
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: self.core.last_log_index() - self.core.commit_index(),
            in_progress: 0,
            badge: format!(
                "{} t{} · {} offline, {} fenced",
                if self.is_active() {
                    "active"
                } else {
                    self.core.role().as_str()
                },
                self.core.term(),
                self.metadata.offline_count(),
                self.metadata.fenced_count()
            ),
        }
    }

    fn live_status(&self) -> crate::live::NodeLiveStatus {
        crate::live::NodeLiveStatus {
            leadership: self.is_active().then(|| crate::live::Leadership {
                kind: crate::live::LeadershipKind::Raft,
                count: 1,
                term: self.core.term(),
            }),
            ..crate::live::NodeLiveStatus::default()
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("fenced_total", self.fenced_total as f64),
            ("elections_total", self.elections_total as f64),
            (
                "unclean_elections_total",
                self.unclean_elections_total as f64,
            ),
            ("offline_partitions", self.metadata.offline_count() as f64),
            ("active", f64::from(u8::from(self.is_active()))),
            ("fenced_brokers", self.metadata.fenced_count() as f64),
            (
                "partition_epoch_sum",
                (0..self.metadata.partition_count())
                    .map(|index| f64::from(self.metadata.partition(index).partition_epoch))
                    .sum(),
            ),
            ("term", self.core.term() as f64),
            ("commit_index", self.core.commit_index() as f64),
            ("records_applied", self.records_applied as f64),
            ("times_active", self.times_active as f64),
            ("forwarded", self.forwarded as f64),
        ]
    }
}

/// A client's (producer's or consumer's) way to the controllers: requests go
/// to the current one; a request still unanswered when the next is sent moves
/// the client on to the next voter (with a single controller it stays).
#[derive(Clone, Debug, Default)]
pub struct ControllerChannel {
    quorum: Vec<NodeId>,
    current: usize,
    unanswered: u32,
}

impl ControllerChannel {
    pub fn new(quorum: Vec<NodeId>) -> ControllerChannel {
        ControllerChannel {
            quorum,
            current: 0,
            unanswered: 0,
        }
    }

    /// Where to send the next request.
    pub fn next_target(&mut self) -> Option<NodeId> {
        if self.unanswered > 0 && self.quorum.len() > 1 {
            self.current = (self.current + 1) % self.quorum.len();
            self.unanswered = 0;
        }
        self.unanswered += 1;
        self.quorum.get(self.current).copied()
    }

    /// A controller answered.
    pub fn answered(&mut self) {
        self.unanswered = 0;
    }

    pub fn is_empty(&self) -> bool {
        self.quorum.is_empty()
    }
}
