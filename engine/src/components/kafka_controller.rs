//! Kafka controller: replica assignment, broker liveness, partition leader election and ISR changes.
//!
//! The decisions live in `ClusterMetadata`, a pure state machine driven by
//! `ControllerCommand`s. This component (`mode: stand_in`) is a deterministic
//! stand-in for the KRaft quorum: it applies each command at once.
//! `kafka_kraft.rs` (`mode: kraft`) replicates the same commands through a
//! Raft log and applies them on commit; both share the announcing and
//! answering functions below, so brokers and clients see the same protocol.
//!
//! Semantics follow KRaft: a broker that misses heartbeats for the session
//! timeout is fenced, leaves every ISR unless it is the last member (so the
//! controller remembers who holds the committed data), and loses leadership.
//! A new leader comes from the live ISR members in assignment order (clean),
//! or, when none is alive and `unclean_leader_election_enable` is set, from
//! any live replica (unclean: its ISR becomes just itself). Every leader
//! change, including to no leader, bumps the leader epoch; every change of
//! leader or ISR bumps the partition epoch.

use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::components::kafka_group_coordinator::coordinator_for_group;
use crate::message::{Envelope, KafkaPartitionState, NodeId, Payload};
use crate::scenario::{ComponentSpec, KafkaControllerSpec, Scenario};
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const TIMER_LIVENESS: u32 = 1;

/// One partition's configuration and current state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PartitionEntry {
    state: KafkaPartitionState,
    unclean_leader_election_enable: bool,
}

/// What the controller decides. See the module comment on replacing the
/// stand-in with a replicated controller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ControllerCommand {
    /// The broker missed its session: remove it from ISRs, replace it as leader.
    FenceBroker(NodeId),
    /// The broker heartbeated again: it may lead offline partitions.
    UnfenceBroker(NodeId),
    /// A leader's request to change the ISR of partition `index`.
    AlterPartition {
        from: NodeId,
        index: usize,
        leader_epoch: u32,
        partition_epoch: u32,
        isr: Vec<NodeId>,
    },
}

/// What applying a command changed, for the component to announce.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionChange {
    pub index: usize,
    pub leader_changed: bool,
    pub unclean: bool,
}

/// The controller's state machine: topics, assignment, liveness, leaders, ISRs.
/// With KRaft it is also the Raft snapshot of the metadata log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterMetadata {
    brokers: Vec<NodeId>,
    alive: BTreeMap<NodeId, bool>,
    partitions: Vec<PartitionEntry>,
}

impl ClusterMetadata {
    /// Assigns replicas: brokers are ordered rack by rack in turn (so
    /// neighbours in the order sit on different racks when racks are set),
    /// and partition `p`'s replicas are the `replication_factor` brokers from
    /// position `p` on. The first replica is the preferred leader. Kafka
    /// starts at a random position; a fixed start keeps runs easy to read.
    pub fn new(
        spec: &KafkaControllerSpec,
        brokers: &[(NodeId, Option<String>)],
    ) -> ClusterMetadata {
        let mut racks: BTreeMap<Option<&str>, Vec<NodeId>> = BTreeMap::new();
        let mut rack_order: Vec<Option<&str>> = Vec::new();
        for (node, rack) in brokers {
            let rack = rack.as_deref();
            if !rack_order.contains(&rack) {
                rack_order.push(rack);
            }
            racks.entry(rack).or_default().push(*node);
        }
        let mut ordered = Vec::new();
        let longest = racks.values().map(Vec::len).max().unwrap_or(0);
        for position in 0..longest {
            for rack in &rack_order {
                if let Some(node) = racks.get(rack).and_then(|nodes| nodes.get(position)) {
                    ordered.push(*node);
                }
            }
        }
        let mut partitions = Vec::new();
        for topic in &spec.topics {
            for partition in 0..topic.partitions {
                let count = ordered.len().max(1);
                let replicas: Vec<NodeId> = (0..topic.replication_factor as usize)
                    .filter_map(|replica| ordered.get((partition as usize + replica) % count))
                    .copied()
                    .collect();
                partitions.push(PartitionEntry {
                    state: KafkaPartitionState {
                        topic: topic.name.clone(),
                        partition,
                        leader: replicas.first().copied(),
                        leader_epoch: 0,
                        isr: replicas.clone(),
                        replicas,
                        partition_epoch: 0,
                        min_insync_replicas: topic.min_insync_replicas,
                    },
                    unclean_leader_election_enable: topic.unclean_leader_election_enable,
                });
            }
        }
        ClusterMetadata {
            brokers: ordered,
            alive: brokers.iter().map(|(node, _)| (*node, true)).collect(),
            partitions,
        }
    }

    /// Brokers in assignment order.
    pub fn brokers(&self) -> &[NodeId] {
        &self.brokers
    }

    /// Brokers currently fenced.
    pub fn fenced_count(&self) -> usize {
        self.brokers
            .iter()
            .filter(|broker| !self.is_alive(**broker))
            .count()
    }

    /// Partitions without a leader.
    pub fn offline_count(&self) -> usize {
        self.partitions
            .iter()
            .filter(|entry| entry.state.leader.is_none())
            .count()
    }

    /// The state of every partition `broker` hosts a replica of.
    pub fn states_hosted_by(&self, broker: NodeId) -> Vec<KafkaPartitionState> {
        self.partitions
            .iter()
            .map(|entry| &entry.state)
            .filter(|state| state.replicas.contains(&broker))
            .cloned()
            .collect()
    }

    pub fn is_alive(&self, broker: NodeId) -> bool {
        self.alive.get(&broker).copied().unwrap_or(false)
    }

    pub fn partition(&self, index: usize) -> &KafkaPartitionState {
        &self.partitions[index].state
    }

    pub fn partition_count(&self) -> usize {
        self.partitions.len()
    }

    pub fn find(&self, topic: &str, partition: u32) -> Option<usize> {
        self.partitions
            .iter()
            .position(|entry| entry.state.topic == topic && entry.state.partition == partition)
    }

    /// Applies one decision; returns the partitions it changed.
    pub fn apply(&mut self, command: ControllerCommand) -> Vec<PartitionChange> {
        match command {
            ControllerCommand::FenceBroker(broker) => self.fence(broker),
            ControllerCommand::UnfenceBroker(broker) => self.unfence(broker),
            ControllerCommand::AlterPartition {
                from,
                index,
                leader_epoch,
                partition_epoch,
                isr,
            } => self
                .alter_partition(from, index, leader_epoch, partition_epoch, isr)
                .into_iter()
                .collect(),
        }
    }

    fn fence(&mut self, broker: NodeId) -> Vec<PartitionChange> {
        self.alive.insert(broker, false);
        let mut changes = Vec::new();
        let alive = self.alive.clone();
        for (index, entry) in self.partitions.iter_mut().enumerate() {
            let state = &mut entry.state;
            if !state.replicas.contains(&broker) {
                continue;
            }
            let mut changed = false;
            // The last ISR member stays: it is the one that has the committed data.
            if state.isr.contains(&broker) && state.isr.len() > 1 {
                state.isr.retain(|member| *member != broker);
                changed = true;
            }
            let mut leader_changed = false;
            let mut unclean = false;
            if state.leader == Some(broker) {
                let (leader, was_unclean) =
                    choose_leader(state, entry.unclean_leader_election_enable, &alive);
                state.leader = leader;
                state.leader_epoch += 1;
                if was_unclean && let Some(leader) = leader {
                    state.isr = vec![leader];
                }
                leader_changed = true;
                unclean = was_unclean;
                changed = true;
            }
            if changed {
                state.partition_epoch += 1;
                changes.push(PartitionChange {
                    index,
                    leader_changed,
                    unclean,
                });
            }
        }
        changes
    }

    fn unfence(&mut self, broker: NodeId) -> Vec<PartitionChange> {
        self.alive.insert(broker, true);
        let mut changes = Vec::new();
        for (index, entry) in self.partitions.iter_mut().enumerate() {
            let state = &mut entry.state;
            if state.leader.is_some() || !state.replicas.contains(&broker) {
                continue;
            }
            let (leader, unclean) =
                choose_leader(state, entry.unclean_leader_election_enable, &self.alive);
            if leader.is_none() {
                continue;
            }
            state.leader = leader;
            state.leader_epoch += 1;
            if unclean {
                state.isr = vec![broker];
            }
            state.partition_epoch += 1;
            changes.push(PartitionChange {
                index,
                leader_changed: true,
                unclean,
            });
        }
        changes
    }

    fn alter_partition(
        &mut self,
        from: NodeId,
        index: usize,
        leader_epoch: u32,
        partition_epoch: u32,
        isr: Vec<NodeId>,
    ) -> Option<PartitionChange> {
        let entry = self.partitions.get_mut(index)?;
        let state = &mut entry.state;
        let valid = state.leader == Some(from)
            && state.leader_epoch == leader_epoch
            && state.partition_epoch == partition_epoch
            && isr.contains(&from)
            && isr.iter().all(|member| state.replicas.contains(member))
            // KRaft refuses to add a fenced broker to the ISR.
            && isr
                .iter()
                .all(|member| state.isr.contains(member) || self.alive.get(member) == Some(&true));
        if !valid {
            return None;
        }
        // Keep assignment order so ISR lists read the same everywhere.
        state.isr = state
            .replicas
            .iter()
            .filter(|replica| isr.contains(replica))
            .copied()
            .collect();
        state.partition_epoch += 1;
        Some(PartitionChange {
            index,
            leader_changed: false,
            unclean: false,
        })
    }
}

/// Clean: the first live ISR member in assignment order. Unclean (only when
/// enabled and no ISR member is alive): the first live replica.
fn choose_leader(
    state: &KafkaPartitionState,
    unclean_enabled: bool,
    alive: &BTreeMap<NodeId, bool>,
) -> (Option<NodeId>, bool) {
    let is_alive = |node: &NodeId| alive.get(node) == Some(&true);
    if let Some(leader) = state
        .replicas
        .iter()
        .find(|replica| state.isr.contains(replica) && is_alive(replica))
    {
        return (Some(*leader), false);
    }
    if unclean_enabled && let Some(leader) = state.replicas.iter().find(|replica| is_alive(replica))
    {
        return (Some(*leader), true);
    }
    (None, false)
}

/// How often a controller looks for expired broker sessions: a twentieth of
/// the session, at least every 10 ms.
pub fn liveness_check_interval(session_timeout: SimDuration) -> SimDuration {
    SimDuration::from_micros((session_timeout.as_micros() / 20).max(10_000))
}

fn name_of(names: &BTreeMap<NodeId, String>, node: NodeId) -> &str {
    names.get(&node).map_or("?", String::as_str)
}

fn names_of(names: &BTreeMap<NodeId, String>, nodes: &[NodeId]) -> String {
    let listed: Vec<&str> = nodes.iter().map(|node| name_of(names, *node)).collect();
    format!("[{}]", listed.join(","))
}

/// Tells every replica of the changed partitions, one message per broker.
pub fn push_states(ctx: &mut Context<'_>, metadata: &ClusterMetadata, indexes: &[usize]) {
    let mut per_broker: BTreeMap<NodeId, Vec<KafkaPartitionState>> = BTreeMap::new();
    for index in indexes {
        let state = metadata.partition(*index);
        for replica in &state.replicas {
            per_broker.entry(*replica).or_default().push(state.clone());
        }
    }
    for (broker, partitions) in per_broker {
        let size = 64 + 48 * partitions.len() as u32;
        ctx.send(broker, Payload::KafkaLeaderAndIsr { partitions }, size);
    }
}

/// States each applied change (state line, `KafkaLeader` fact for leader
/// changes) and pushes the new states to the replicas. Returns the number of
/// elections and of unclean elections among them.
pub fn announce_changes(
    ctx: &mut Context<'_>,
    metadata: &ClusterMetadata,
    names: &BTreeMap<NodeId, String>,
    changes: &[PartitionChange],
) -> (u64, u64) {
    let (mut elections, mut unclean_elections) = (0, 0);
    for change in changes {
        let state = metadata.partition(change.index).clone();
        if change.leader_changed {
            elections += 1;
            match state.leader {
                Some(leader) if change.unclean => {
                    unclean_elections += 1;
                    ctx.state(format!(
                        "UNCLEAN election: {} leads {}-{} epoch={} from outside the ISR; records only the old ISR had are lost",
                        name_of(names, leader),
                        state.topic,
                        state.partition,
                        state.leader_epoch
                    ));
                }
                Some(leader) => ctx.state(format!(
                    "elected {} leader of {}-{} epoch={} isr={}",
                    name_of(names, leader),
                    state.topic,
                    state.partition,
                    state.leader_epoch,
                    names_of(names, &state.isr)
                )),
                None => ctx.state(format!(
                    "{}-{} OFFLINE epoch={}: no live ISR member (isr={}) and unclean election disabled",
                    state.topic,
                    state.partition,
                    state.leader_epoch,
                    names_of(names, &state.isr)
                )),
            }
            ctx.fact(Fact::KafkaLeader {
                topic: state.topic.clone(),
                partition: state.partition,
                leader: state.leader,
                leader_epoch: state.leader_epoch,
                isr: state.isr.clone(),
                unclean: change.unclean,
            });
        } else {
            ctx.state(format!(
                "isr {}-{} = {} pe={}",
                state.topic,
                state.partition,
                names_of(names, &state.isr),
                state.partition_epoch
            ));
        }
    }
    let indexes: Vec<usize> = changes.iter().map(|change| change.index).collect();
    push_states(ctx, metadata, &indexes);
    (elections, unclean_elections)
}

/// The first leaders of every partition, stated once at t = 0.
pub fn announce_initial_leaders(ctx: &mut Context<'_>, metadata: &ClusterMetadata) {
    for index in 0..metadata.partition_count() {
        let state = metadata.partition(index).clone();
        ctx.fact(Fact::KafkaLeader {
            topic: state.topic.clone(),
            partition: state.partition,
            leader: state.leader,
            leader_epoch: state.leader_epoch,
            isr: state.isr.clone(),
            unclean: false,
        });
    }
}

/// Answers a producer's or consumer's metadata request from `metadata`.
pub fn answer_metadata_request(
    ctx: &mut Context<'_>,
    metadata: &ClusterMetadata,
    to: NodeId,
    topic: &str,
) {
    let partitions: Vec<KafkaPartitionState> = (0..metadata.partition_count())
        .map(|index| metadata.partition(index))
        .filter(|state| state.topic == topic)
        .cloned()
        .collect();
    let size = 64 + 48 * partitions.len() as u32;
    ctx.send(
        to,
        Payload::KafkaMetadataResponse {
            topic: topic.to_string(),
            partitions,
        },
        size,
    );
}

/// Answers FindCoordinator: the group's coordinator among live brokers.
pub fn answer_find_coordinator(
    ctx: &mut Context<'_>,
    metadata: &ClusterMetadata,
    to: NodeId,
    group: &str,
) {
    let coordinator = coordinator_for_group(group, metadata.brokers(), |broker| {
        metadata.is_alive(broker)
    });
    ctx.send(
        to,
        Payload::KafkaFindCoordinatorResponse {
            group: group.to_string(),
            coordinator,
        },
        48,
    );
}

/// Node names by id, for state lines.
pub fn node_names(node_ids: &BTreeMap<String, NodeId>) -> BTreeMap<NodeId, String> {
    node_ids
        .iter()
        .map(|(name, node)| (*node, name.clone()))
        .collect()
}

/// The brokers a controller spec lists, with their racks.
pub fn brokers_with_racks(
    spec: &KafkaControllerSpec,
    scenario: &Scenario,
    node_ids: &BTreeMap<String, NodeId>,
) -> Vec<(NodeId, Option<String>)> {
    spec.brokers
        .iter()
        .filter_map(|name| {
            let node = *node_ids.get(name)?;
            let rack =
                scenario
                    .topology
                    .nodes
                    .get(node.index())
                    .and_then(|node| match &node.spec {
                        ComponentSpec::KafkaBroker(broker) => broker.rack.clone(),
                        _ => None,
                    });
            Some((node, rack))
        })
        .collect()
}

#[derive(Clone)]
pub struct KafkaController {
    metadata: ClusterMetadata,
    session_timeout: SimDuration,
    /// Volatile: reset to "now" on (re)start, which gives every broker a
    /// full session of grace (as a new KRaft controller does).
    last_heartbeat: BTreeMap<NodeId, SimTime>,
    names: BTreeMap<NodeId, String>,
    fenced_total: u64,
    elections_total: u64,
    unclean_elections_total: u64,
}

impl KafkaController {
    pub fn new(
        spec: &KafkaControllerSpec,
        scenario: &Scenario,
        node_ids: &BTreeMap<String, NodeId>,
    ) -> KafkaController {
        let brokers = brokers_with_racks(spec, scenario, node_ids);
        let names = node_names(node_ids);
        KafkaController {
            metadata: ClusterMetadata::new(spec, &brokers),
            session_timeout: SimDuration::from_millis(spec.broker_session_timeout_ms),
            last_heartbeat: BTreeMap::new(),
            names,
            fenced_total: 0,
            elections_total: 0,
            unclean_elections_total: 0,
        }
    }

    fn liveness_check_interval(&self) -> SimDuration {
        liveness_check_interval(self.session_timeout)
    }

    fn announce(&mut self, ctx: &mut Context<'_>, changes: &[PartitionChange]) {
        let (elections, unclean) = announce_changes(ctx, &self.metadata, &self.names, changes);
        self.elections_total += elections;
        self.unclean_elections_total += unclean;
    }

    fn arm_liveness(&self, ctx: &mut Context<'_>) {
        ctx.set_timer(
            self.liveness_check_interval(),
            TimerTag {
                kind: TIMER_LIVENESS,
                id: 0,
            },
        );
    }
}

impl Component for KafkaController {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        for broker in self.metadata.brokers.clone() {
            self.last_heartbeat.insert(broker, now);
        }
        if now == SimTime::ZERO {
            // Initial assignment: announce every partition's first leader.
            announce_initial_leaders(ctx, &self.metadata);
        }
        let all: Vec<usize> = (0..self.metadata.partition_count()).collect();
        push_states(ctx, &self.metadata, &all);
        self.arm_liveness(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        match &envelope.payload {
            Payload::KafkaBrokerHeartbeat => {
                let broker = envelope.from;
                if !self.last_heartbeat.contains_key(&broker) {
                    return;
                }
                self.last_heartbeat.insert(broker, ctx.now());
                if !self.metadata.is_alive(broker) {
                    ctx.state(format!(
                        "unfenced {}: heartbeat again",
                        name_of(&self.names, broker)
                    ));
                    let changes = self
                        .metadata
                        .apply(ControllerCommand::UnfenceBroker(broker));
                    self.announce(ctx, &changes);
                }
                let partitions = self.metadata.states_hosted_by(broker);
                let size = 64 + 48 * partitions.len() as u32;
                ctx.send(broker, Payload::KafkaLeaderAndIsr { partitions }, size);
            }
            Payload::KafkaMetadataRequest { topic } => {
                answer_metadata_request(ctx, &self.metadata, envelope.from, topic);
            }
            Payload::KafkaFindCoordinator { group } => {
                answer_find_coordinator(ctx, &self.metadata, envelope.from, group);
            }
            Payload::KafkaAlterPartition {
                topic,
                partition,
                leader_epoch,
                partition_epoch,
                isr,
            } => {
                let Some(index) = self.metadata.find(topic, *partition) else {
                    return;
                };
                let changes = self.metadata.apply(ControllerCommand::AlterPartition {
                    from: envelope.from,
                    index,
                    leader_epoch: *leader_epoch,
                    partition_epoch: *partition_epoch,
                    isr: isr.clone(),
                });
                if changes.is_empty() {
                    // Rejected (stale epochs): tell the requester how things are.
                    let state = self.metadata.partition(index).clone();
                    ctx.send(
                        envelope.from,
                        Payload::KafkaLeaderAndIsr {
                            partitions: vec![state],
                        },
                        112,
                    );
                } else {
                    self.announce(ctx, &changes);
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        if tag.kind != TIMER_LIVENESS {
            return;
        }
        let now = ctx.now();
        let expired: Vec<NodeId> = self
            .last_heartbeat
            .iter()
            .filter(|(broker, last)| {
                self.metadata.is_alive(**broker) && now.since(**last) > self.session_timeout
            })
            .map(|(broker, _)| *broker)
            .collect();
        for broker in expired {
            self.fenced_total += 1;
            ctx.state(format!(
                "fenced {}: no heartbeat for {} ms",
                name_of(&self.names, broker),
                self.session_timeout.as_micros() / 1_000
            ));
            let changes = self.metadata.apply(ControllerCommand::FenceBroker(broker));
            self.announce(ctx, &changes);
        }
        self.arm_liveness(ctx);
    }

    fn on_crash(&mut self, _ctx: &mut Context<'_>) {
        // The metadata is the replicated KRaft log: it survives. Liveness
        // bookkeeping does not; `on_start` grants a fresh session to all.
        self.last_heartbeat.clear();
    }

    fn on_restart(&mut self, ctx: &mut Context<'_>) {
        self.on_start(ctx);
    }

    fn view(&self) -> ComponentView {
        let offline = (0..self.metadata.partition_count())
            .filter(|index| self.metadata.partition(*index).leader.is_none())
            .count();
        let fenced = self
            .metadata
            .brokers
            .iter()
            .filter(|broker| !self.metadata.is_alive(**broker))
            .count();
        ComponentView {
            queue_depth: 0,
            in_progress: 0,
            badge: format!("{offline} offline, {fenced} fenced"),
        }
    }

    fn inspect(&self) -> Option<crate::inspect::NodeInspection> {
        let shown = self
            .metadata
            .partition_count()
            .min(crate::inspect::MAX_INSPECTED_KAFKA_PARTITIONS);
        Some(crate::inspect::NodeInspection::KafkaController(
            crate::inspect::KafkaControllerInspection {
                partitions: (0..shown)
                    .map(|index| self.metadata.partition(index).clone())
                    .collect(),
            },
        ))
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        let offline = (0..self.metadata.partition_count())
            .filter(|index| self.metadata.partition(*index).leader.is_none())
            .count();
        vec![
            ("fenced_total", self.fenced_total as f64),
            ("elections_total", self.elections_total as f64),
            (
                "unclean_elections_total",
                self.unclean_elections_total as f64,
            ),
            ("offline_partitions", offline as f64),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::KafkaTopicSpec;

    fn spec(unclean: bool) -> KafkaControllerSpec {
        KafkaControllerSpec {
            brokers: vec![],
            topics: vec![KafkaTopicSpec {
                name: "t".into(),
                partitions: 3,
                replication_factor: 3,
                min_insync_replicas: 2,
                unclean_leader_election_enable: unclean,
                retention_ms: None,
                retention_bytes: None,
                segment_bytes: 1_073_741_824,
                cleanup_policy: crate::scenario::KafkaCleanupPolicy::Delete,
                segment_ms: None,
                min_cleanable_dirty_ratio: 0.5,
                min_compaction_lag_ms: 0,
                delete_retention_ms: 86_400_000,
            }],
            broker_session_timeout_ms: 6_000,
            mode: crate::scenario::KafkaControllerMode::StandIn,
            quorum_voters: vec![],
            quorum_election_timeout_ms: 1_000,
            quorum_heartbeat_interval_ms: 250,
        }
    }

    #[test]
    fn replicas_spread_over_racks_and_rotate_preferred_leaders() {
        let brokers = vec![
            (NodeId(1), Some("a".to_string())),
            (NodeId(2), Some("a".to_string())),
            (NodeId(3), Some("b".to_string())),
            (NodeId(4), Some("b".to_string())),
        ];
        let metadata = ClusterMetadata::new(
            &KafkaControllerSpec {
                topics: vec![KafkaTopicSpec {
                    replication_factor: 2,
                    ..spec(false).topics[0].clone()
                }],
                ..spec(false)
            },
            &brokers,
        );
        for index in 0..3 {
            let replicas = &metadata.partition(index).replicas;
            let rack = |node: &NodeId| node.0 <= 2;
            assert_ne!(rack(&replicas[0]), rack(&replicas[1]), "{replicas:?}");
        }
        assert_ne!(
            metadata.partition(0).leader,
            metadata.partition(1).leader,
            "preferred leaders rotate"
        );
    }

    #[test]
    fn clean_election_picks_live_isr_and_keeps_last_member() {
        let brokers: Vec<_> = (1..=3).map(|id| (NodeId(id), None)).collect();
        let mut metadata = ClusterMetadata::new(&spec(false), &brokers);
        let leader = metadata.partition(0).leader.unwrap();
        metadata.apply(ControllerCommand::FenceBroker(leader));
        let state = metadata.partition(0);
        assert!(state.leader.is_some() && state.leader != Some(leader));
        assert_eq!(state.leader_epoch, 1);
        assert_eq!(state.isr.len(), 2);
        for broker in 1..=3 {
            metadata.apply(ControllerCommand::FenceBroker(NodeId(broker)));
        }
        let state = metadata.partition(0);
        assert_eq!(state.leader, None, "no live ISR member: offline");
        assert_eq!(state.isr.len(), 1, "the last ISR member is remembered");
        let last = state.isr[0];
        let other = (1..=3).map(NodeId).find(|node| *node != last).unwrap();
        metadata.apply(ControllerCommand::UnfenceBroker(other));
        assert_eq!(metadata.partition(0).leader, None, "clean: stays offline");
        metadata.apply(ControllerCommand::UnfenceBroker(last));
        assert_eq!(metadata.partition(0).leader, Some(last));
    }

    #[test]
    fn unclean_election_picks_any_live_replica() {
        let brokers: Vec<_> = (1..=3).map(|id| (NodeId(id), None)).collect();
        let mut metadata = ClusterMetadata::new(&spec(true), &brokers);
        let leader = metadata.partition(0).leader.unwrap();
        let epoch = metadata.partition(0).partition_epoch;
        // Shrink the ISR to the leader alone, then lose the leader.
        metadata.apply(ControllerCommand::AlterPartition {
            from: leader,
            index: 0,
            leader_epoch: 0,
            partition_epoch: epoch,
            isr: vec![leader],
        });
        assert_eq!(metadata.partition(0).isr, vec![leader]);
        let changes = metadata.apply(ControllerCommand::FenceBroker(leader));
        assert!(
            changes
                .iter()
                .any(|change| change.index == 0 && change.unclean)
        );
        let state = metadata.partition(0);
        assert!(state.leader.is_some() && state.leader != Some(leader));
        assert_eq!(state.isr, vec![state.leader.unwrap()]);
    }
}
