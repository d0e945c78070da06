//! Kafka group coordinator, hosted by a broker: consumer-group membership (JoinGroup/SyncGroup, generations, heartbeats, rebalances) and committed offsets.
//!
//! Follows Kafka's classic group protocol: a group is Empty, PreparingRebalance
//! (waiting for members to (re)join, at most the largest rebalance timeout,
//! i.e. `max.poll.interval.ms`), CompletingRebalance (waiting for the leader's
//! SyncGroup with the assignment) or Stable. A join, a leave, or a member whose
//! heartbeats stop for its session timeout starts a rebalance; members learn
//! of it from REBALANCE_IN_PROGRESS in their heartbeat response and rejoin.
//! The leader (a consumer) computes the assignment, as in Kafka.
//!
//! Where this differs from Kafka, on purpose:
//! - Which broker coordinates a group is decided by the controller (see
//!   `coordinator_for_group`), not by the leadership of a `__consumer_offsets`
//!   partition, and a broker does not refuse groups it does not coordinate
//!   (Kafka answers NOT_COORDINATOR). Under a network partition two brokers
//!   may therefore both coordinate one group, one per side.
//! - Committed offsets are durable on the coordinator (they survive its
//!   process crash, like the `__consumer_offsets` log) and copied to every
//!   other broker of the cluster after the commit is acknowledged, one network
//!   hop later; Kafka appends them to `__consumer_offsets` with acks=all
//!   before answering. A commit acknowledged in the last hop before the
//!   coordinator dies can therefore be lost here and not in Kafka.
//! - The membership of a stable group (generation, leader, members and
//!   their assignment) is copied to the other brokers in the same way, so a
//!   new coordinator carries on with the same generation and no rebalance,
//!   as Kafka does after loading `__consumer_offsets`; a membership change
//!   still in progress when the coordinator dies is lost, and the members
//!   rejoin.
//!
//! Bounds: at most `MAX_KAFKA_GROUPS_PER_COORDINATOR` groups and
//! `MAX_KAFKA_GROUP_MEMBERS` members per group (joins beyond are refused
//! with UNKNOWN_MEMBER_ID); offsets are one entry per partition.

use crate::component::Context;
use crate::message::{KafkaError, KafkaGroupMember, NodeId, Payload};
use crate::scenario::KafkaAssignor;
use crate::scenario::limits::{MAX_KAFKA_GROUP_MEMBERS, MAX_KAFKA_GROUPS_PER_COORDINATOR};
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use std::collections::BTreeMap;

/// The group's state in Kafka's `GroupMetadata` state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

#[derive(Clone, Debug)]
struct Member {
    node: NodeId,
    session_timeout: SimDuration,
    rebalance_timeout: SimDuration,
    last_heartbeat: SimTime,
    owned: Vec<u32>,
    assignor: KafkaAssignor,
    /// Joined in the current rebalance round; its JoinGroup awaits the answer.
    awaiting_join: bool,
    /// Its SyncGroup awaits the leader's assignment.
    awaiting_sync: bool,
}

#[derive(Clone, Debug)]
struct Group {
    state: GroupState,
    generation: u32,
    leader: Option<u64>,
    members: BTreeMap<u64, Member>,
    assignment: BTreeMap<u64, Vec<u32>>,
    rebalance_deadline: Option<SimTime>,
}

/// A member as replicated: (member id, node, session timeout ms,
/// rebalance timeout ms, assigned partitions).
type ReplicatedMember = (u64, NodeId, u64, u64, Vec<u32>);

/// Offsets and the last stable membership survive the broker's crash (they
/// are a log in Kafka) and are copied to the other brokers.
#[derive(Clone, Debug, Default)]
struct DurableGroup {
    generation: u32,
    topic: String,
    offsets: BTreeMap<u32, u64>,
    /// Generation of the membership below (0: none known).
    membership_generation: u32,
    leader: u64,
    assignor: KafkaAssignor,
    members: Vec<ReplicatedMember>,
}

#[derive(Clone)]
pub struct GroupCoordinator {
    /// The other brokers of the cluster: receivers of offset copies.
    peers: Vec<NodeId>,
    groups: BTreeMap<String, Group>,
    durable: BTreeMap<String, DurableGroup>,
    next_member: u64,
    names: BTreeMap<NodeId, String>,
    pub rebalances: u64,
    pub expired_members: u64,
    pub commits: u64,
    pub refused_commits: u64,
}

impl GroupCoordinator {
    pub fn new(peers: Vec<NodeId>, names: BTreeMap<NodeId, String>) -> GroupCoordinator {
        GroupCoordinator {
            peers,
            groups: BTreeMap::new(),
            durable: BTreeMap::new(),
            next_member: 0,
            names,
            rebalances: 0,
            expired_members: 0,
            commits: 0,
            refused_commits: 0,
        }
    }

    pub fn has_groups(&self) -> bool {
        !self.groups.is_empty()
    }

    /// Every group this broker runs or holds offsets of, for the broker
    /// panel (at most `MAX_KAFKA_GROUPS_PER_COORDINATOR` plus copies).
    pub fn inspect(&self) -> Vec<crate::inspect::KafkaGroupInspection> {
        self.durable
            .iter()
            .map(|(name, durable)| {
                let running = self.groups.get(name);
                crate::inspect::KafkaGroupInspection {
                    group: name.clone(),
                    topic: durable.topic.clone(),
                    coordinating: running.is_some(),
                    state: running
                        .map_or("copy", |group| match group.state {
                            GroupState::Empty => "empty",
                            GroupState::PreparingRebalance => "preparing_rebalance",
                            GroupState::CompletingRebalance => "completing_rebalance",
                            GroupState::Stable => "stable",
                        })
                        .to_string(),
                    generation: running.map_or(durable.generation, |group| group.generation),
                    members: running.map_or(durable.members.len(), |group| group.members.len())
                        as u32,
                    offsets: durable
                        .offsets
                        .iter()
                        .map(|(partition, offset)| (*partition, *offset))
                        .collect(),
                }
            })
            .collect()
    }

    /// Groups with at least one member.
    pub fn active_groups(&self) -> usize {
        self.groups
            .values()
            .filter(|group| !group.members.is_empty())
            .count()
    }

    fn name(&self, node: NodeId) -> String {
        self.names
            .get(&node)
            .cloned()
            .unwrap_or_else(|| format!("n{}", node.0))
    }

    /// The process crashed: membership is gone, committed offsets stay.
    pub fn on_crash(&mut self) {
        self.groups.clear();
    }

    /// Handles a group payload; returns false if it was not one.
    pub fn on_message(&mut self, ctx: &mut Context<'_>, from: NodeId, payload: &Payload) -> bool {
        match payload {
            Payload::KafkaJoinGroup { group, .. }
            | Payload::KafkaSyncGroup { group, .. }
            | Payload::KafkaHeartbeat { group, .. }
            | Payload::KafkaLeaveGroup { group, .. }
            | Payload::KafkaOffsetCommit { group, .. } => self.restore(ctx, group),
            _ => {}
        }
        match payload {
            Payload::KafkaGroupReplicate { .. } => self.store_membership(payload),
            Payload::KafkaJoinGroup {
                group,
                member_id,
                assignor,
                owned,
                session_timeout_ms,
                rebalance_timeout_ms,
                ..
            } => self.join(
                ctx,
                from,
                group,
                *member_id,
                *assignor,
                owned,
                (*session_timeout_ms, *rebalance_timeout_ms),
            ),
            Payload::KafkaSyncGroup {
                group,
                generation,
                member_id,
                assignments,
            } => self.sync(ctx, from, group, *generation, *member_id, assignments),
            Payload::KafkaHeartbeat {
                group,
                generation,
                member_id,
            } => {
                let error = self.heartbeat(ctx.now(), group, *generation, *member_id);
                ctx.send(
                    from,
                    Payload::KafkaHeartbeatResponse {
                        group: group.clone(),
                        error,
                    },
                    48,
                );
            }
            Payload::KafkaLeaveGroup { group, member_id } => {
                let now = ctx.now();
                if let Some(state) = self.groups.get_mut(group)
                    && state.members.remove(member_id).is_some()
                {
                    ctx.state(format!(
                        "group {group}: member {member_id} ({}) left",
                        self.names.get(&from).cloned().unwrap_or_default()
                    ));
                    self.start_rebalance(ctx, group, now, "a member left");
                }
            }
            Payload::KafkaOffsetCommit {
                group,
                generation,
                member_id,
                correlation,
                topic,
                offsets,
            } => self.commit(
                ctx,
                from,
                group,
                *generation,
                *member_id,
                *correlation,
                topic,
                offsets,
            ),
            Payload::KafkaOffsetFetch {
                group,
                topic,
                partitions,
            } => {
                let durable = self
                    .durable
                    .get(group)
                    .filter(|durable| durable.topic == *topic);
                let offsets = partitions
                    .iter()
                    .map(|partition| {
                        (
                            *partition,
                            durable.and_then(|durable| durable.offsets.get(partition).copied()),
                        )
                    })
                    .collect();
                ctx.send(
                    from,
                    Payload::KafkaOffsetFetchResponse {
                        group: group.clone(),
                        topic: topic.clone(),
                        offsets,
                    },
                    64 + 12 * partitions.len() as u32,
                );
            }
            Payload::KafkaOffsetsReplicate {
                group,
                generation,
                topic,
                offsets,
            } => {
                if !self.durable.contains_key(group)
                    && self.durable.len() >= MAX_KAFKA_GROUPS_PER_COORDINATOR
                {
                    return true;
                }
                let durable = self.durable.entry(group.clone()).or_default();
                durable.generation = durable.generation.max(*generation);
                durable.topic = topic.clone();
                for (partition, offset) in offsets {
                    durable.offsets.insert(*partition, *offset);
                }
            }
            _ => return false,
        }
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn join(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        group_id: &str,
        member_id: Option<u64>,
        assignor: KafkaAssignor,
        owned: &[u32],
        (session_timeout_ms, rebalance_timeout_ms): (u64, u64),
    ) {
        let now = ctx.now();
        let refuse = |ctx: &mut Context<'_>, error| {
            ctx.send(
                from,
                Payload::KafkaJoinGroupResponse {
                    group: group_id.to_string(),
                    generation: 0,
                    member_id: member_id.unwrap_or(0),
                    leader: 0,
                    members: Vec::new(),
                    error: Some(error),
                },
                48,
            );
        };
        if !self.groups.contains_key(group_id) {
            if self.groups.len() >= MAX_KAFKA_GROUPS_PER_COORDINATOR {
                refuse(ctx, KafkaError::UnknownMemberId);
                return;
            }
            let generation = self
                .durable
                .get(group_id)
                .map_or(0, |durable| durable.generation);
            self.groups.insert(
                group_id.to_string(),
                Group {
                    state: GroupState::Empty,
                    generation,
                    leader: None,
                    members: BTreeMap::new(),
                    assignment: BTreeMap::new(),
                    rebalance_deadline: None,
                },
            );
        }
        let me = ctx.node();
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        let member_id = match member_id {
            Some(id) if group.members.contains_key(&id) => id,
            Some(_) => {
                refuse(ctx, KafkaError::UnknownMemberId);
                return;
            }
            None => {
                if group.members.len() >= MAX_KAFKA_GROUP_MEMBERS {
                    refuse(ctx, KafkaError::UnknownMemberId);
                    return;
                }
                // Unique across coordinators (the coordinator's node id in the
                // millions) yet short enough to read in a trace line.
                self.next_member += 1;
                (me.0 as u64 + 1) * 1_000_000 + self.next_member
            }
        };
        let member = group.members.entry(member_id).or_insert(Member {
            node: from,
            session_timeout: SimDuration::from_millis(session_timeout_ms),
            rebalance_timeout: SimDuration::from_millis(rebalance_timeout_ms),
            last_heartbeat: now,
            owned: Vec::new(),
            assignor,
            awaiting_join: false,
            awaiting_sync: false,
        });
        member.node = from;
        member.last_heartbeat = now;
        member.owned = owned.to_vec();
        member.assignor = assignor;
        member.awaiting_join = true;
        member.awaiting_sync = false;
        let why = format!("{} joined", self.name(from));
        let state = self.groups.get(group_id).map(|group| group.state);
        if state != Some(GroupState::PreparingRebalance) {
            self.start_rebalance(ctx, group_id, now, &why);
        }
        self.maybe_complete_join(ctx, group_id, now);
    }

    /// A group this broker does not hold in memory but has a stable copy
    /// of (it has just become the coordinator, or restarted): load it.
    fn restore(&mut self, ctx: &mut Context<'_>, group_id: &str) {
        if self.groups.contains_key(group_id)
            || self.groups.len() >= MAX_KAFKA_GROUPS_PER_COORDINATOR
        {
            return;
        }
        let Some(durable) = self.durable.get(group_id) else {
            return;
        };
        if durable.members.is_empty() || durable.membership_generation != durable.generation {
            return;
        }
        let now = ctx.now();
        let members: BTreeMap<u64, Member> = durable
            .members
            .iter()
            .map(|(id, node, session_ms, rebalance_ms, partitions)| {
                (
                    *id,
                    Member {
                        node: *node,
                        session_timeout: SimDuration::from_millis(*session_ms),
                        rebalance_timeout: SimDuration::from_millis(*rebalance_ms),
                        last_heartbeat: now,
                        owned: partitions.clone(),
                        assignor: durable.assignor,
                        awaiting_join: false,
                        awaiting_sync: false,
                    },
                )
            })
            .collect();
        let assignment = durable
            .members
            .iter()
            .map(|(id, _, _, _, partitions)| (*id, partitions.clone()))
            .collect();
        ctx.state(format!(
            "group {group_id}: loaded generation {} with {} member(s) from the copied group metadata",
            durable.generation,
            members.len()
        ));
        self.groups.insert(
            group_id.to_string(),
            Group {
                state: GroupState::Stable,
                generation: durable.generation,
                leader: Some(durable.leader),
                members,
                assignment,
                rebalance_deadline: None,
            },
        );
    }

    /// Copies a stable group's membership to this broker's store and the peers.
    fn replicate_membership(&mut self, ctx: &mut Context<'_>, group_id: &str) {
        let Some(group) = self.groups.get(group_id) else {
            return;
        };
        let assignor = group
            .members
            .values()
            .next()
            .map_or(KafkaAssignor::default(), |member| member.assignor);
        let members: Vec<ReplicatedMember> = group
            .members
            .iter()
            .map(|(id, member)| {
                (
                    *id,
                    member.node,
                    member.session_timeout.as_micros() / 1_000,
                    member.rebalance_timeout.as_micros() / 1_000,
                    group.assignment.get(id).cloned().unwrap_or_default(),
                )
            })
            .collect();
        let payload = Payload::KafkaGroupReplicate {
            group: group_id.to_string(),
            generation: group.generation,
            leader: group.leader.unwrap_or(0),
            assignor,
            members,
        };
        let size = 64 + 32 * group.members.len() as u32;
        self.store_membership(&payload);
        for peer in &self.peers {
            ctx.send(*peer, payload.clone(), size);
        }
    }

    fn store_membership(&mut self, payload: &Payload) {
        let Payload::KafkaGroupReplicate {
            group,
            generation,
            leader,
            assignor,
            members,
        } = payload
        else {
            return;
        };
        if !self.durable.contains_key(group)
            && self.durable.len() >= MAX_KAFKA_GROUPS_PER_COORDINATOR
        {
            return;
        }
        let durable = self.durable.entry(group.clone()).or_default();
        if *generation < durable.membership_generation {
            return;
        }
        durable.generation = durable.generation.max(*generation);
        durable.membership_generation = *generation;
        durable.leader = *leader;
        durable.assignor = *assignor;
        durable.members = members.clone();
    }

    fn start_rebalance(&mut self, ctx: &mut Context<'_>, group_id: &str, now: SimTime, why: &str) {
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        if group.members.is_empty() {
            group.state = GroupState::Empty;
            group.rebalance_deadline = None;
            group.assignment.clear();
            ctx.state(format!("group {group_id}: empty ({why})"));
            return;
        }
        if group.state == GroupState::PreparingRebalance {
            return;
        }
        let timeout = group
            .members
            .values()
            .map(|member| member.rebalance_timeout)
            .max()
            .unwrap_or(SimDuration::from_millis(1));
        group.state = GroupState::PreparingRebalance;
        group.rebalance_deadline = Some(now.plus(timeout));
        group.assignment.clear();
        // Members waiting for SyncGroup must rejoin: tell them now.
        for member in group.members.values_mut() {
            if member.awaiting_sync {
                member.awaiting_sync = false;
                ctx.send(
                    member.node,
                    Payload::KafkaSyncGroupResponse {
                        group: group_id.to_string(),
                        generation: group.generation,
                        partitions: Vec::new(),
                        error: Some(KafkaError::RebalanceInProgress),
                    },
                    48,
                );
            }
        }
        self.rebalances += 1;
        ctx.state(format!(
            "group {group_id}: preparing rebalance after generation {} ({why})",
            group.generation
        ));
        self.maybe_complete_join(ctx, group_id, now);
    }

    /// Every member has rejoined, or the rebalance timeout passed (members
    /// that did not rejoin are dropped): start the next generation.
    fn maybe_complete_join(&mut self, ctx: &mut Context<'_>, group_id: &str, now: SimTime) {
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        if group.state != GroupState::PreparingRebalance {
            return;
        }
        let all_joined = group.members.values().all(|member| member.awaiting_join);
        let timed_out = group
            .rebalance_deadline
            .is_some_and(|deadline| now >= deadline);
        if !all_joined && !timed_out {
            return;
        }
        let dropped: Vec<u64> = group
            .members
            .iter()
            .filter(|(_, member)| !member.awaiting_join)
            .map(|(id, _)| *id)
            .collect();
        for id in &dropped {
            group.members.remove(id);
        }
        if !dropped.is_empty() {
            ctx.state(format!(
                "group {group_id}: members {dropped:?} did not rejoin within the rebalance timeout"
            ));
        }
        if group.members.is_empty() {
            group.state = GroupState::Empty;
            group.rebalance_deadline = None;
            return;
        }
        group.generation += 1;
        group.state = GroupState::CompletingRebalance;
        group.rebalance_deadline = None;
        let leader = match group.leader {
            Some(leader) if group.members.contains_key(&leader) => leader,
            _ => *group.members.keys().next().unwrap_or(&0),
        };
        group.leader = Some(leader);
        let members: Vec<KafkaGroupMember> = group
            .members
            .iter()
            .map(|(id, member)| KafkaGroupMember {
                member_id: *id,
                node: member.node,
                owned: member.owned.clone(),
            })
            .collect();
        let generation = group.generation;
        let names: Vec<String> = group
            .members
            .values()
            .map(|member| {
                self.names
                    .get(&member.node)
                    .cloned()
                    .unwrap_or_else(|| format!("n{}", member.node.0))
            })
            .collect();
        for (id, member) in group.members.iter_mut() {
            member.awaiting_join = false;
            member.last_heartbeat = now;
            let is_leader = *id == leader;
            ctx.send(
                member.node,
                Payload::KafkaJoinGroupResponse {
                    group: group_id.to_string(),
                    generation,
                    member_id: *id,
                    leader,
                    members: if is_leader {
                        members.clone()
                    } else {
                        Vec::new()
                    },
                    error: None,
                },
                64 + if is_leader {
                    32 * members.len() as u32
                } else {
                    0
                },
            );
        }
        ctx.state(format!(
            "group {group_id}: generation {generation} with [{}], leader {leader}",
            names.join(",")
        ));
        if let Some(durable) = self.durable.get_mut(group_id) {
            durable.generation = durable.generation.max(generation);
        }
    }

    fn sync(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        group_id: &str,
        generation: u32,
        member_id: u64,
        assignments: &[(u64, Vec<u32>)],
    ) {
        let respond = |ctx: &mut Context<'_>, node, partitions: Vec<u32>, error| {
            ctx.send(
                node,
                Payload::KafkaSyncGroupResponse {
                    group: group_id.to_string(),
                    generation,
                    partitions,
                    error,
                },
                64,
            );
        };
        let Some(group) = self.groups.get_mut(group_id) else {
            respond(ctx, from, Vec::new(), Some(KafkaError::UnknownMemberId));
            return;
        };
        if !group.members.contains_key(&member_id) {
            respond(ctx, from, Vec::new(), Some(KafkaError::UnknownMemberId));
            return;
        }
        if generation != group.generation {
            respond(ctx, from, Vec::new(), Some(KafkaError::IllegalGeneration));
            return;
        }
        match group.state {
            GroupState::PreparingRebalance | GroupState::Empty => {
                respond(ctx, from, Vec::new(), Some(KafkaError::RebalanceInProgress));
            }
            GroupState::Stable => {
                let partitions = group
                    .assignment
                    .get(&member_id)
                    .cloned()
                    .unwrap_or_default();
                respond(ctx, from, partitions, None);
            }
            GroupState::CompletingRebalance => {
                if let Some(member) = group.members.get_mut(&member_id) {
                    member.awaiting_sync = true;
                }
                if group.leader != Some(member_id) {
                    return;
                }
                group.assignment = assignments
                    .iter()
                    .filter(|(id, _)| group.members.contains_key(id))
                    .cloned()
                    .collect();
                group.state = GroupState::Stable;
                for (id, member) in group.members.iter_mut() {
                    if member.awaiting_sync {
                        member.awaiting_sync = false;
                        let partitions = group.assignment.get(id).cloned().unwrap_or_default();
                        respond(ctx, member.node, partitions, None);
                    }
                }
                ctx.state(format!(
                    "group {group_id}: generation {generation} stable, assignment {:?}",
                    group.assignment
                ));
                self.replicate_membership(ctx, group_id);
            }
        }
    }

    fn heartbeat(
        &mut self,
        now: SimTime,
        group_id: &str,
        generation: u32,
        member_id: u64,
    ) -> Option<KafkaError> {
        let Some(group) = self.groups.get_mut(group_id) else {
            return Some(KafkaError::UnknownMemberId);
        };
        let Some(member) = group.members.get_mut(&member_id) else {
            return Some(KafkaError::UnknownMemberId);
        };
        member.last_heartbeat = now;
        if group.state == GroupState::PreparingRebalance {
            return Some(KafkaError::RebalanceInProgress);
        }
        if generation != group.generation {
            return Some(KafkaError::IllegalGeneration);
        }
        None
    }

    #[allow(clippy::too_many_arguments)]
    fn commit(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        group_id: &str,
        generation: u32,
        member_id: u64,
        correlation: u64,
        topic: &str,
        offsets: &[(u32, u64)],
    ) {
        let error = match self.groups.get(group_id) {
            None => Some(KafkaError::UnknownMemberId),
            Some(group) if !group.members.contains_key(&member_id) => {
                Some(KafkaError::UnknownMemberId)
            }
            Some(group) if group.generation != generation => Some(KafkaError::IllegalGeneration),
            Some(group) if group.state == GroupState::CompletingRebalance => {
                Some(KafkaError::RebalanceInProgress)
            }
            Some(_) => None,
        };
        if error.is_none()
            && !self.durable.contains_key(group_id)
            && self.durable.len() >= MAX_KAFKA_GROUPS_PER_COORDINATOR
        {
            return;
        }
        if error.is_none() {
            self.commits += 1;
            let durable = self.durable.entry(group_id.to_string()).or_default();
            durable.generation = durable.generation.max(generation);
            durable.topic = topic.to_string();
            for (partition, offset) in offsets {
                durable.offsets.insert(*partition, *offset);
                ctx.fact(Fact::KafkaOffsetCommitted {
                    group: group_id.to_string(),
                    topic: topic.to_string(),
                    partition: *partition,
                    offset: *offset,
                    member_id,
                });
            }
            for peer in &self.peers {
                ctx.send(
                    *peer,
                    Payload::KafkaOffsetsReplicate {
                        group: group_id.to_string(),
                        generation,
                        topic: topic.to_string(),
                        offsets: offsets.to_vec(),
                    },
                    64 + 12 * offsets.len() as u32,
                );
            }
        } else {
            self.refused_commits += 1;
            ctx.error("offset_commit_refused");
        }
        ctx.send(
            from,
            Payload::KafkaOffsetCommitResponse {
                group: group_id.to_string(),
                correlation,
                error,
            },
            48,
        );
    }

    /// Periodic: expire silent members, end overdue rebalances.
    pub fn tick(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let group_ids: Vec<String> = self.groups.keys().cloned().collect();
        for group_id in group_ids {
            let Some(group) = self.groups.get_mut(&group_id) else {
                continue;
            };
            // A member waiting in JoinGroup is bounded by the rebalance
            // timeout instead (as in Kafka).
            let expired: Vec<(u64, NodeId, SimDuration)> = group
                .members
                .iter()
                .filter(|(_, member)| {
                    !member.awaiting_join
                        && now.since(member.last_heartbeat) > member.session_timeout
                })
                .map(|(id, member)| (*id, member.node, member.session_timeout))
                .collect();
            for (id, _, _) in &expired {
                group.members.remove(id);
            }
            for (id, node, timeout) in &expired {
                self.expired_members += 1;
                ctx.state(format!(
                    "group {group_id}: member {id} ({}) expired: no heartbeat for {} ms",
                    self.name(*node),
                    timeout.as_micros() / 1_000
                ));
            }
            if !expired.is_empty() {
                self.start_rebalance(ctx, &group_id, now, "session timeout");
            }
            self.maybe_complete_join(ctx, &group_id, now);
        }
    }
}

/// Java's `String.hashCode`, which Kafka uses to place a group on a
/// `__consumer_offsets` partition (`abs(hash) % offsets.topic.num.partitions`).
pub fn java_string_hash(text: &str) -> i32 {
    text.encode_utf16().fold(0i32, |hash, unit| {
        hash.wrapping_mul(31).wrapping_add(unit as i32)
    })
}

/// Kafka's `offsets.topic.num.partitions` default.
pub const OFFSETS_TOPIC_PARTITIONS: u32 = 50;

/// The coordinator of `group` among `brokers` (in broker-id order): the
/// group's `__consumer_offsets` partition is `abs(hashCode) % 50`, as in Kafka;
/// that partition's preferred leader is broker `partition % brokers` (Kafka's
/// round-robin replica placement), and while it is down the next live broker
/// in order takes over, as the partition's leadership would move to another
/// replica (with the offsets topic's replication factor equal to the cluster size).
pub fn coordinator_for_group(
    group: &str,
    brokers: &[NodeId],
    alive: impl Fn(NodeId) -> bool,
) -> Option<NodeId> {
    if brokers.is_empty() {
        return None;
    }
    // Kafka's Utils.abs maps i32::MIN to 0.
    let hash = java_string_hash(group);
    let positive = if hash == i32::MIN {
        0
    } else {
        hash.unsigned_abs()
    };
    let partition = positive % OFFSETS_TOPIC_PARTITIONS;
    let start = partition as usize % brokers.len();
    (0..brokers.len())
        .map(|step| brokers[(start + step) % brokers.len()])
        .find(|broker| alive(*broker))
}

/// The other brokers of `broker`'s cluster (those its controller lists).
pub fn peer_brokers(
    scenario: &crate::scenario::Scenario,
    broker: &str,
    node_ids: &BTreeMap<String, NodeId>,
) -> Vec<NodeId> {
    scenario
        .topology
        .nodes
        .iter()
        .find_map(|node| match &node.spec {
            crate::scenario::ComponentSpec::KafkaController(controller)
                if controller.brokers.iter().any(|name| name == broker) =>
            {
                Some(
                    controller
                        .brokers
                        .iter()
                        .filter(|name| *name != broker)
                        .filter_map(|name| node_ids.get(name).copied())
                        .collect(),
                )
            }
            _ => None,
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_string_hash_matches_java() {
        // Values from Java's "...".hashCode().
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    }

    #[test]
    fn coordinator_moves_to_the_next_live_broker() {
        let brokers = [NodeId(1), NodeId(2), NodeId(3)];
        let first = coordinator_for_group("orders-app", &brokers, |_| true).expect("some");
        let second =
            coordinator_for_group("orders-app", &brokers, |broker| broker != first).expect("some");
        assert_ne!(first, second);
        assert_eq!(coordinator_for_group("g", &brokers, |_| false), None);
    }
}
