//! Raft's safety properties (dissertation Figure 3.2, row F1) and leader liveness, checked from the servers' `Fact`s.
//!
//! Every checker rebuilds what it needs from `RaftRole`, `RaftAppend`,
//! `RaftTruncate`, `RaftCommit`, `RaftApply` and `RaftSnapshotInstalled`
//! facts; none looks inside a component. Memory is bounded: per group only
//! the last `RAFT_CHECK_WINDOW_ENTRIES` log indexes and the last
//! `RAFT_CHECK_WINDOW_TERMS` terms are remembered, so a violation older than
//! the window can go unseen (never a false alarm).

use super::{Checker, Property, Violation};
use crate::message::NodeId;
use crate::raft::RaftRole;
use crate::time::SimTime;
use crate::trace::{Fact, TraceEvent, TraceKind};
use std::collections::{BTreeMap, BTreeSet};

/// Log indexes remembered per group (and per server log).
pub const RAFT_CHECK_WINDOW_ENTRIES: u64 = 4_096;
/// Terms remembered per group for election safety.
pub const RAFT_CHECK_WINDOW_TERMS: usize = 4_096;

fn name_of(names: &[String], node: NodeId) -> String {
    names
        .get(node.index())
        .cloned()
        .unwrap_or_else(|| format!("n{}", node.0))
}

fn violation(event: &TraceEvent, detail: String, nodes: Vec<NodeId>) -> Violation {
    Violation {
        time: event.time,
        event_seq: Some(event.seq),
        detail,
        messages: Vec::new(),
        nodes,
    }
}

/// One entry as the checkers know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EntryId {
    term: u64,
    digest: u64,
    /// Hash of this entry and every entry before it, when the whole prefix
    /// is known (for the prefix half of log matching).
    chain: Option<u64>,
}

fn chain_hash(previous: Option<u64>, term: u64, digest: u64) -> Option<u64> {
    let previous = previous?;
    let mut bytes = [0u8; 24];
    bytes[..8].copy_from_slice(&previous.to_le_bytes());
    bytes[8..16].copy_from_slice(&term.to_le_bytes());
    bytes[16..].copy_from_slice(&digest.to_le_bytes());
    Some(xxhash_rust::xxh3::xxh3_64(&bytes))
}

/// One server's log as rebuilt from its facts.
#[derive(Clone)]
struct ServerLog {
    /// Entries at or below `base` are not tracked (snapshot or window).
    base: u64,
    /// Chain hash at `base` (0 for an empty prefix), if known.
    base_chain: Option<u64>,
    entries: BTreeMap<u64, EntryId>,
}

impl Default for ServerLog {
    fn default() -> ServerLog {
        ServerLog {
            base: 0,
            base_chain: Some(0),
            entries: BTreeMap::new(),
        }
    }
}

impl ServerLog {
    fn last_chain(&self, index: u64) -> Option<u64> {
        if index == self.base {
            return self.base_chain;
        }
        self.entries.get(&index).and_then(|entry| entry.chain)
    }

    fn trim(&mut self) {
        while self.entries.len() as u64 > RAFT_CHECK_WINDOW_ENTRIES {
            let (index, entry) = self.entries.pop_first().expect("non-empty");
            self.base = index;
            self.base_chain = entry.chain;
        }
    }
}

/// Logs, roles and committed entries of every group, shared by the checkers.
#[derive(Clone, Default)]
struct RaftModel {
    logs: BTreeMap<(u32, NodeId), ServerLog>,
    roles: BTreeMap<(u32, NodeId), (RaftRole, u64)>,
    /// Per group: index → committed entry (bounded window).
    committed: BTreeMap<u32, BTreeMap<u64, EntryId>>,
}

/// What a fact changed, for the checkers to judge.
#[derive(Clone)]
enum Change {
    None,
    Role {
        group: u32,
        node: NodeId,
        role: RaftRole,
        term: u64,
    },
    Appended {
        group: u32,
        node: NodeId,
        index: u64,
        entry: EntryId,
    },
    Truncated {
        group: u32,
        node: NodeId,
        removed: Vec<(u64, EntryId)>,
        storage_lost: bool,
    },
}

impl RaftModel {
    fn observe(&mut self, event: &TraceEvent) -> Change {
        let TraceKind::Fact { node, fact } = &event.kind else {
            return Change::None;
        };
        let node = *node;
        match fact {
            Fact::RaftRole {
                group, term, role, ..
            } => {
                self.roles.insert((*group, node), (*role, *term));
                Change::Role {
                    group: *group,
                    node,
                    role: *role,
                    term: *term,
                }
            }
            Fact::RaftAppend {
                group,
                index,
                term,
                digest,
            } => {
                let log = self.logs.entry((*group, node)).or_default();
                let chain = chain_hash(log.last_chain(index - 1), *term, *digest);
                let entry = EntryId {
                    term: *term,
                    digest: *digest,
                    chain,
                };
                log.entries.insert(*index, entry);
                log.trim();
                Change::Appended {
                    group: *group,
                    node,
                    index: *index,
                    entry,
                }
            }
            Fact::RaftTruncate {
                group,
                from_index,
                storage_lost,
                ..
            } => {
                let log = self.logs.entry((*group, node)).or_default();
                let removed: Vec<(u64, EntryId)> =
                    log.entries.split_off(from_index).into_iter().collect();
                if *storage_lost {
                    *log = ServerLog::default();
                }
                Change::Truncated {
                    group: *group,
                    node,
                    removed,
                    storage_lost: *storage_lost,
                }
            }
            Fact::RaftSnapshotInstalled {
                group, index, term, ..
            } => {
                let known_chain = self
                    .committed
                    .get(group)
                    .and_then(|committed| committed.get(index))
                    .filter(|entry| entry.term == *term)
                    .and_then(|entry| entry.chain);
                let log = self.logs.entry((*group, node)).or_default();
                let kept = log.entries.split_off(&(index + 1));
                let matching_chain = log
                    .entries
                    .get(index)
                    .filter(|entry| entry.term == *term)
                    .and_then(|entry| entry.chain);
                log.entries = kept;
                log.base = *index;
                log.base_chain = matching_chain.or(known_chain);
                Change::None
            }
            Fact::RaftCommit {
                group,
                commit_index,
                ..
            } => {
                let Some(log) = self.logs.get(&(*group, node)) else {
                    return Change::None;
                };
                let committed = self.committed.entry(*group).or_default();
                let first = committed
                    .last_key_value()
                    .map_or(1, |(index, _)| index + 1)
                    .max(commit_index.saturating_sub(RAFT_CHECK_WINDOW_ENTRIES) + 1);
                for index in first..=*commit_index {
                    if let Some(entry) = log.entries.get(&index) {
                        committed.insert(index, *entry);
                    }
                }
                while committed.len() as u64 > RAFT_CHECK_WINDOW_ENTRIES {
                    committed.pop_first();
                }
                Change::None
            }
            _ => Change::None,
        }
    }
}

// ---------------------------------------------------------------------------

/// At most one leader per term (Election Safety).
#[derive(Clone)]
pub struct RaftElectionSafety {
    names: Vec<String>,
    leaders: BTreeMap<(u32, u64), NodeId>,
}

impl RaftElectionSafety {
    pub const NAME: &'static str = "raft_election_safety";
    pub fn new(names: Vec<String>) -> Self {
        RaftElectionSafety {
            names,
            leaders: BTreeMap::new(),
        }
    }
}

impl Checker for RaftElectionSafety {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Raft election safety: at most one server becomes leader in any term"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let TraceKind::Fact {
            node,
            fact:
                Fact::RaftRole {
                    group,
                    term,
                    role: RaftRole::Leader,
                    ..
                },
        } = &event.kind
        else {
            return;
        };
        match self.leaders.get(&(*group, *term)) {
            Some(first) if first != node => violations.push(violation(
                event,
                format!(
                    "two leaders in term {term}: {} and {}",
                    name_of(&self.names, *first),
                    name_of(&self.names, *node)
                ),
                vec![*first, *node],
            )),
            Some(_) => {}
            None => {
                self.leaders.insert((*group, *term), *node);
                while self.leaders.len() > RAFT_CHECK_WINDOW_TERMS {
                    self.leaders.pop_first();
                }
            }
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// A leader never overwrites or deletes entries in its log (Leader Append-Only).
#[derive(Clone)]
pub struct RaftLeaderAppendOnly {
    names: Vec<String>,
    model: RaftModel,
}

impl RaftLeaderAppendOnly {
    pub const NAME: &'static str = "raft_leader_append_only";
    pub fn new(names: Vec<String>) -> Self {
        RaftLeaderAppendOnly {
            names,
            model: RaftModel::default(),
        }
    }
}

impl Checker for RaftLeaderAppendOnly {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Raft leader append-only: a leader never deletes or overwrites entries of its own log"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        if let Change::Truncated {
            group,
            node,
            removed,
            storage_lost: false,
        } = self.model.observe(event)
            && let Some((RaftRole::Leader, term)) = self.model.roles.get(&(group, node))
            && let Some((index, _)) = removed.first()
        {
            violations.push(violation(
                event,
                format!(
                    "leader {} of term {term} deleted its entries from index {index}",
                    name_of(&self.names, node)
                ),
                vec![node],
            ));
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// (index, term) → the first server's copy of that entry and who had it.
type FirstSeen = BTreeMap<(u64, u64), (EntryId, NodeId)>;

/// Entries with the same index and term are identical, and so are the logs before them (Log Matching).
#[derive(Clone)]
pub struct RaftLogMatching {
    names: Vec<String>,
    model: RaftModel,
    /// Per group: (index, term) → the first server's entry and who had it.
    seen: BTreeMap<u32, FirstSeen>,
}

impl RaftLogMatching {
    pub const NAME: &'static str = "raft_log_matching";
    pub fn new(names: Vec<String>) -> Self {
        RaftLogMatching {
            names,
            model: RaftModel::default(),
            seen: BTreeMap::new(),
        }
    }
}

impl Checker for RaftLogMatching {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Raft log matching: two logs with an entry of the same index and term hold the same entries up to it"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let Change::Appended {
            group,
            node,
            index,
            entry,
        } = self.model.observe(event)
        else {
            return;
        };
        let seen = self.seen.entry(group).or_default();
        match seen.get(&(index, entry.term)) {
            Some((first, first_node)) => {
                let detail = if first.digest != entry.digest {
                    Some(format!(
                        "{} and {} hold different entries at index {index} term {}",
                        name_of(&self.names, *first_node),
                        name_of(&self.names, node),
                        entry.term
                    ))
                } else if let (Some(a), Some(b)) = (first.chain, entry.chain)
                    && a != b
                {
                    Some(format!(
                        "{} and {} agree on index {index} term {} but their logs differ before it",
                        name_of(&self.names, *first_node),
                        name_of(&self.names, node),
                        entry.term
                    ))
                } else {
                    None
                };
                if let Some(detail) = detail {
                    violations.push(violation(event, detail, vec![*first_node, node]));
                }
            }
            None => {
                seen.insert((index, entry.term), (entry, node));
                let floor = index.saturating_sub(RAFT_CHECK_WINDOW_ENTRIES);
                while seen
                    .first_key_value()
                    .is_some_and(|((oldest, _), _)| *oldest < floor)
                {
                    seen.pop_first();
                }
            }
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// Every committed entry is in the log of every later leader, and no server deletes one (Leader Completeness).
#[derive(Clone)]
pub struct RaftLeaderCompleteness {
    names: Vec<String>,
    model: RaftModel,
}

impl RaftLeaderCompleteness {
    pub const NAME: &'static str = "raft_leader_completeness";
    pub fn new(names: Vec<String>) -> Self {
        RaftLeaderCompleteness {
            names,
            model: RaftModel::default(),
        }
    }
}

impl Checker for RaftLeaderCompleteness {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Raft leader completeness: a committed entry is in the log of every later leader and is never deleted"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        match self.model.observe(event) {
            Change::Role {
                group,
                node,
                role: RaftRole::Leader,
                term,
            } => {
                let Some(committed) = self.model.committed.get(&group) else {
                    return;
                };
                let log = self.model.logs.get(&(group, node));
                let base = log.map_or(0, |log| log.base);
                for (index, entry) in committed.range(base + 1..) {
                    let held = log.and_then(|log| log.entries.get(index));
                    if held
                        .is_none_or(|held| held.term != entry.term || held.digest != entry.digest)
                    {
                        violations.push(violation(
                            event,
                            format!(
                                "{} became leader of term {term} without committed entry {index} (term {})",
                                name_of(&self.names, node),
                                entry.term
                            ),
                            vec![node],
                        ));
                        return;
                    }
                }
            }
            Change::Truncated {
                group,
                node,
                removed,
                storage_lost: false,
            } => {
                let Some(committed) = self.model.committed.get(&group) else {
                    return;
                };
                if let Some((index, entry)) = removed.iter().find(|(index, entry)| {
                    committed.get(index).is_some_and(|known| {
                        known.term == entry.term && known.digest == entry.digest
                    })
                }) {
                    violations.push(violation(
                        event,
                        format!(
                            "{} deleted committed entry {index} (term {})",
                            name_of(&self.names, node),
                            entry.term
                        ),
                        vec![node],
                    ));
                }
            }
            _ => {}
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// No two servers apply different entries at the same index (State Machine Safety).
#[derive(Clone)]
pub struct RaftStateMachineSafety {
    names: Vec<String>,
    applied: BTreeMap<u32, BTreeMap<u64, (u64, u64, NodeId)>>,
}

impl RaftStateMachineSafety {
    pub const NAME: &'static str = "raft_state_machine_safety";
    pub fn new(names: Vec<String>) -> Self {
        RaftStateMachineSafety {
            names,
            applied: BTreeMap::new(),
        }
    }
}

impl Checker for RaftStateMachineSafety {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Raft state machine safety: no two servers apply different commands at the same log index"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let TraceKind::Fact {
            node,
            fact:
                Fact::RaftApply {
                    group,
                    index,
                    term,
                    digest,
                },
        } = &event.kind
        else {
            return;
        };
        let applied = self.applied.entry(*group).or_default();
        match applied.get(index) {
            Some((first_term, first_digest, first_node))
                if (*first_term, *first_digest) != (*term, *digest) =>
            {
                violations.push(violation(
                    event,
                    format!(
                        "{} applied entry {index} of term {term}, but {} applied a different entry (term {first_term}) there",
                        name_of(&self.names, *node),
                        name_of(&self.names, *first_node)
                    ),
                    vec![*first_node, *node],
                ));
            }
            Some(_) => {}
            None => {
                applied.insert(*index, (*term, *digest, *node));
                let floor = index.saturating_sub(RAFT_CHECK_WINDOW_ENTRIES);
                while applied
                    .first_key_value()
                    .is_some_and(|(oldest, _)| *oldest < floor)
                {
                    applied.pop_first();
                }
            }
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// Once faults stop and a majority is up, a leader is elected within a bound (liveness).
#[derive(Clone)]
pub struct RaftLeaderEventuallyElected {
    names: Vec<String>,
    bound: crate::time::SimDuration,
    /// Per group: its servers (from their facts) and the latest role of each.
    roles: BTreeMap<u32, BTreeMap<NodeId, (RaftRole, u64, SimTime)>>,
    crashed: BTreeSet<NodeId>,
    last_fault: SimTime,
    /// A partition, one-way cut, held link or degraded link is in force.
    network_disturbed: bool,
}

impl RaftLeaderEventuallyElected {
    pub const NAME: &'static str = "raft_leader_eventually_elected";
    /// `bound`: how long after the last fault a stable leader must exist.
    pub fn new(names: Vec<String>, bound: crate::time::SimDuration) -> Self {
        RaftLeaderEventuallyElected {
            names,
            bound,
            roles: BTreeMap::new(),
            crashed: BTreeSet::new(),
            last_fault: SimTime::ZERO,
            network_disturbed: false,
        }
    }
}

impl Checker for RaftLeaderEventuallyElected {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Eventually
    }
    fn description(&self) -> &'static str {
        "Raft liveness: once faults stop with a majority of servers up and connected, a leader is elected within the bound (10 maximum election timeouts)"
    }
    fn observe(&mut self, event: &TraceEvent, _violations: &mut Vec<Violation>) {
        match &event.kind {
            TraceKind::Fault { text, nodes, .. } => {
                self.last_fault = event.time;
                let verb = text.split(' ').next().unwrap_or_default();
                match verb {
                    "crash" => self.crashed.extend(nodes.iter().copied()),
                    "restart" => {
                        for node in nodes {
                            self.crashed.remove(node);
                        }
                    }
                    "partition" | "partition_one_way" | "hold_link" => {
                        self.network_disturbed = true
                    }
                    "heal" => self.network_disturbed = false,
                    // set_link may restore or degrade: judge by its loss.
                    "set_link" => self.network_disturbed = !text.contains("loss=0 "),
                    _ => {}
                }
            }
            TraceKind::Fact {
                node,
                fact: Fact::RaftRole {
                    group, term, role, ..
                },
            } => {
                self.roles
                    .entry(*group)
                    .or_default()
                    .insert(*node, (*role, *term, event.time));
            }
            _ => {}
        }
    }
    fn finish(&mut self, end: SimTime, violations: &mut Vec<Violation>) {
        let deadline = self.last_fault.plus(self.bound);
        if end < deadline || self.network_disturbed {
            return; // Not enough quiet time to judge.
        }
        for (group, servers) in &self.roles {
            let up: Vec<&NodeId> = servers
                .keys()
                .filter(|node| !self.crashed.contains(node))
                .collect();
            if up.len() * 2 <= servers.len() {
                continue; // No majority up: no leader is owed.
            }
            let highest_term = servers
                .values()
                .map(|(_, term, _)| *term)
                .max()
                .unwrap_or(0);
            let stable_leader = servers.iter().find(|(node, (role, term, since))| {
                *role == RaftRole::Leader
                    && *term == highest_term
                    && *since <= deadline
                    && !self.crashed.contains(node)
            });
            if stable_leader.is_none() {
                let roles: Vec<String> = servers
                    .iter()
                    .map(|(node, (role, term, _))| {
                        format!("{} {} t{term}", name_of(&self.names, *node), role.as_str())
                    })
                    .collect();
                violations.push(Violation {
                    time: end,
                    event_seq: None,
                    detail: format!(
                        "group {group}: no stable leader {} ms after the last fault ({})",
                        self.bound.as_micros() / 1_000,
                        roles.join(", ")
                    ),
                    messages: Vec::new(),
                    nodes: servers.keys().copied().collect(),
                });
            }
        }
    }
}

/// Adds the Raft checkers when the scenario has `raft_node`s (elsewhere they
/// would pass vacuously). The liveness bound is 10 of the longest election timeouts.
pub fn register(
    scenario: &crate::scenario::Scenario,
    node_names: &[String],
    checkers: &mut Vec<Box<dyn Checker>>,
) {
    let longest_timeout_ms = scenario
        .topology
        .nodes
        .iter()
        .filter_map(|node| match &node.spec {
            crate::scenario::ComponentSpec::RaftNode(spec) => Some(spec.election_timeout_max_ms),
            // A Raft-replicated kv_database is a raft_node underneath: same facts, same checks.
            crate::scenario::ComponentSpec::KvDatabase(crate::scenario::KvDatabaseSpec {
                replication: crate::scenario::DbReplication::Raft(raft),
                ..
            }) => Some(raft.election_timeout_max_ms),
            _ => None,
        })
        .max();
    let Some(longest_timeout_ms) = longest_timeout_ms else {
        return;
    };
    let names = node_names.to_vec();
    checkers.push(Box::new(RaftElectionSafety::new(names.clone())));
    checkers.push(Box::new(RaftLeaderAppendOnly::new(names.clone())));
    checkers.push(Box::new(RaftLogMatching::new(names.clone())));
    checkers.push(Box::new(RaftLeaderCompleteness::new(names.clone())));
    checkers.push(Box::new(RaftStateMachineSafety::new(names.clone())));
    checkers.push(Box::new(RaftLeaderEventuallyElected::new(
        names,
        crate::time::SimDuration::from_millis(longest_timeout_ms * 10),
    )));
    let clients: BTreeSet<NodeId> = scenario
        .topology
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| matches!(node.spec, crate::scenario::ComponentSpec::RaftKvClient(_)))
        .map(|(index, _)| NodeId(index as u32))
        .collect();
    if !clients.is_empty() {
        checkers.push(Box::new(super::linearizable::RaftKvLinearizable::new(
            clients,
        )));
    }
}
