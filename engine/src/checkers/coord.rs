//! Checkers of the coordination slice: linearizable znode registers, mutual exclusion at a storage, one leader per election group, unique and monotonic Snowflake ids, and cron ticks fired exactly once.
//!
//! All of them read only `Fact::Coord` facts and `coord_client` operations.
//! Memory is bounded: each keeps a window or a capped set (named consts).

use super::linearizable::{HistoryOperation, RegisterOperation, Verdict, check_register};
use super::{Checker, Property, Violation};
use crate::components::coord_protocol::CoordFact;
use crate::message::NodeId;
use crate::scenario::coord::CoordRecipe;
use crate::scenario::{ComponentSpec, Scenario};
use crate::time::{SimDuration, SimTime};
use crate::trace::{Fact, OperationPhase, TraceEvent, TraceKind};
use std::collections::{BTreeMap, BTreeSet};

/// Register operations kept for the linearizability search (per key; the
/// search itself is bounded by `linearizable`'s limits).
const MAX_COORD_HISTORY_OPERATIONS: usize = 5_000;
/// Holdings a `mutual_exclusion` checker remembers as superseded, per resource.
const MAX_SUPERSEDED_HOLDINGS: usize = 4_096;
/// Ids `unique_ids` remembers; beyond it new ids are not checked.
const MAX_TRACKED_IDS: usize = 1_000_000;
/// Ticks each cron job's checkers remember.
const MAX_TRACKED_TICKS: usize = 100_000;

fn name_of(names: &[String], node: NodeId) -> &str {
    names.get(node.index()).map_or("?", String::as_str)
}

fn coord_fact(event: &TraceEvent) -> Option<(NodeId, &CoordFact)> {
    match &event.kind {
        TraceKind::Fact {
            node,
            fact: Fact::Coord(fact),
        } => Some((*node, fact)),
        _ => None,
    }
}

// ---------------------------------------------------------------- registers

#[derive(Clone)]
struct PendingOperation {
    key: u32,
    invoked: u64,
    detail: String,
}

/// Z1: register reads, writes and version-checked cas on `/registers/k<n>` are linearizable (per key, from 0).
#[derive(Clone)]
pub struct CoordLinearizable {
    clients: BTreeSet<NodeId>,
    pending: BTreeMap<(NodeId, u64), PendingOperation>,
    histories: BTreeMap<u32, Vec<(HistoryOperation, String)>>,
    too_large: bool,
}

impl CoordLinearizable {
    pub const NAME: &'static str = "coord_linearizable";
    pub fn new(clients: BTreeSet<NodeId>) -> Self {
        CoordLinearizable {
            clients,
            pending: BTreeMap::new(),
            histories: BTreeMap::new(),
            too_large: false,
        }
    }

    /// `read k=0 v=3`, `write k=0 v=3`, `cas k=0 3->4`.
    fn parse(detail: &str) -> Option<(u32, RegisterOperationText)> {
        let mut words = detail.split(' ');
        let kind = words.next()?;
        let key = words.next()?.strip_prefix("k=")?.parse().ok()?;
        let third = words.next();
        let operation = match kind {
            "read" => RegisterOperationText::Read(
                third
                    .and_then(|word| word.strip_prefix("v="))
                    .and_then(|value| value.parse().ok()),
            ),
            "write" => RegisterOperationText::Write(third?.strip_prefix("v=")?.parse().ok()?),
            "cas" => {
                let (expected, new) = third?.split_once("->")?;
                RegisterOperationText::Cas(expected.parse().ok()?, new.parse().ok()?)
            }
            _ => return None,
        };
        Some((key, operation))
    }
}

#[derive(Clone)]
enum RegisterOperationText {
    Read(Option<u64>),
    Write(u64),
    Cas(u64, u64),
}

impl Checker for CoordLinearizable {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    /// Judged over the whole history when the run ends.
    fn decided_at_end(&self) -> bool {
        true
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Coordination-service registers (znode data under /registers) are linearizable per key: writes, version-checked cas and reads (stale follower reads show up here); decided at the end of the run"
    }
    fn observe(&mut self, event: &TraceEvent, _violations: &mut Vec<Violation>) {
        let TraceKind::Operation {
            node,
            operation,
            phase,
            detail,
        } = &event.kind
        else {
            return;
        };
        if !self.clients.contains(node) || self.too_large {
            return;
        }
        match phase {
            OperationPhase::Invoke => {
                if let Some((key, _)) = Self::parse(detail) {
                    self.pending.insert(
                        (*node, *operation),
                        PendingOperation {
                            key,
                            invoked: event.seq,
                            detail: detail.clone(),
                        },
                    );
                }
            }
            OperationPhase::Fail => {
                self.pending.remove(&(*node, *operation));
            }
            OperationPhase::Ok | OperationPhase::Info => {
                let Some(pending) = self.pending.remove(&(*node, *operation)) else {
                    return;
                };
                let ok = *phase == OperationPhase::Ok;
                // A read's answer is in the completion; writes keep the invoke text.
                let text = if ok && detail.starts_with("read") {
                    detail
                } else {
                    &pending.detail
                };
                let register_operation = match Self::parse(text) {
                    Some((_, RegisterOperationText::Read(value))) if ok => {
                        RegisterOperation::Read(value)
                    }
                    Some((_, RegisterOperationText::Write(value))) => {
                        RegisterOperation::Write(value)
                    }
                    Some((_, RegisterOperationText::Cas(expected, new))) => {
                        RegisterOperation::Cas { expected, new }
                    }
                    _ => return,
                };
                let history = self.histories.entry(pending.key).or_default();
                if history.len() >= MAX_COORD_HISTORY_OPERATIONS {
                    self.too_large = true;
                    return;
                }
                history.push((
                    HistoryOperation {
                        operation: register_operation,
                        invoked: pending.invoked,
                        completed: ok.then_some(event.seq),
                    },
                    if ok {
                        text.clone()
                    } else {
                        format!("{text} (unknown outcome)")
                    },
                ));
            }
        }
    }
    fn finish(&mut self, end: SimTime, violations: &mut Vec<Violation>) {
        if self.too_large {
            return;
        }
        for pending in std::mem::take(&mut self.pending).into_values() {
            let operation = match Self::parse(&pending.detail) {
                Some((_, RegisterOperationText::Write(value))) => RegisterOperation::Write(value),
                Some((_, RegisterOperationText::Cas(expected, new))) => {
                    RegisterOperation::Cas { expected, new }
                }
                _ => continue,
            };
            self.histories.entry(pending.key).or_default().push((
                HistoryOperation {
                    operation,
                    invoked: pending.invoked,
                    completed: None,
                },
                format!("{} (open at the end)", pending.detail),
            ));
        }
        for (key, history) in &self.histories {
            let operations: Vec<HistoryOperation> = history.iter().map(|(op, _)| *op).collect();
            // Registers are `initial_znodes`: they hold 0 before any write.
            if let Verdict::NotLinearizable { stuck } = check_register(&operations, Some(0)) {
                violations.push(Violation {
                    time: end,
                    event_seq: history[stuck].0.completed,
                    detail: format!(
                        "/registers/k{key}: `{}` fits no order of the operations concurrent with it ({} operations on the key)",
                        history[stuck].1,
                        history.len()
                    ),
                    messages: Vec::new(),
                    nodes: self.clients.iter().copied().collect(),
                });
            }
        }
    }
}

// ---------------------------------------------------------- mutual exclusion

/// One holding of a lock: the writer and which of its holdings it is.
type Holding = (NodeId, u64);

#[derive(Clone, Default)]
struct ResourceHolders {
    current: Option<(Holding, SimTime, u64)>,
    superseded: BTreeSet<Holding>,
}

/// E1: at every moment at most one lock holder's writes are accepted by the storage.
#[derive(Clone)]
pub struct MutualExclusion {
    names: Vec<String>,
    locks: BTreeSet<String>,
    /// Holdings started per (writer, lock), from its `leader` facts.
    holdings: BTreeMap<(NodeId, String), u64>,
    resources: BTreeMap<String, ResourceHolders>,
}

impl MutualExclusion {
    pub const NAME: &'static str = "mutual_exclusion";
    pub fn new(names: Vec<String>, locks: BTreeSet<String>) -> Self {
        MutualExclusion {
            names,
            locks,
            holdings: BTreeMap::new(),
            resources: BTreeMap::new(),
        }
    }
}

impl Checker for MutualExclusion {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "At every moment at most one lock holder's writes are accepted: once a newer holder wrote, an older holding writing again means two holders at once"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let Some((node, fact)) = coord_fact(event) else {
            return;
        };
        match fact {
            CoordFact::Leader { group, .. } if self.locks.contains(group) => {
                *self.holdings.entry((node, group.clone())).or_insert(0) += 1;
            }
            CoordFact::StorageWrite {
                resource,
                writer,
                token,
                accepted: true,
                ..
            } if self.locks.contains(resource) => {
                let holding = (
                    *writer,
                    self.holdings
                        .get(&(*writer, resource.clone()))
                        .copied()
                        .unwrap_or(0),
                );
                let state = self.resources.entry(resource.clone()).or_default();
                match state.current {
                    Some((current, ..)) if current == holding => {}
                    Some((current, since, current_token))
                        if state.superseded.contains(&holding) =>
                    {
                        violations.push(Violation {
                            time: event.time,
                            event_seq: Some(event.seq),
                            detail: format!(
                                "{resource}: {} (token {token}) wrote after {} (token {current_token}) took the lock and wrote at {since}: two holders' writes accepted",
                                name_of(&self.names, *writer),
                                name_of(&self.names, current.0),
                            ),
                            messages: Vec::new(),
                            nodes: vec![*writer, current.0, node],
                        });
                    }
                    previous => {
                        if let Some((previous, ..)) = previous {
                            if state.superseded.len() >= MAX_SUPERSEDED_HOLDINGS
                                && let Some(oldest) = state.superseded.iter().next().copied()
                            {
                                state.superseded.remove(&oldest);
                            }
                            state.superseded.insert(previous);
                        }
                        state.current = Some((holding, event.time, *token));
                    }
                }
            }
            _ => {}
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

// ------------------------------------------------------------ single leader

/// At most one client believes it leads each election (or holds each lock) at any moment.
#[derive(Clone)]
pub struct SingleLeader {
    names: Vec<String>,
    leaders: BTreeMap<String, BTreeMap<NodeId, u64>>,
}

impl SingleLeader {
    pub const NAME: &'static str = "single_leader";
    pub fn new(names: Vec<String>) -> Self {
        SingleLeader {
            names,
            leaders: BTreeMap::new(),
        }
    }
}

impl Checker for SingleLeader {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Per election group (or lock), at most one client acts as leader (holder) at any moment"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let Some((node, fact)) = coord_fact(event) else {
            return;
        };
        match fact {
            CoordFact::Leader { group, token } => {
                let leaders = self.leaders.entry(group.clone()).or_default();
                if let Some((other, other_token)) =
                    leaders.iter().find(|(other, _)| **other != node)
                {
                    violations.push(Violation {
                        time: event.time,
                        event_seq: Some(event.seq),
                        detail: format!(
                            "{group}: {} (token {token}) became leader while {} (token {other_token}) still acts as leader",
                            name_of(&self.names, node),
                            name_of(&self.names, *other)
                        ),
                        messages: Vec::new(),
                        nodes: vec![node, *other],
                    });
                }
                leaders.insert(node, *token);
            }
            CoordFact::LeaderStepDown { group, .. } => {
                if let Some(leaders) = self.leaders.get_mut(group) {
                    leaders.remove(&node);
                }
            }
            _ => {}
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

// -------------------------------------------------------------- snowflake

/// No Snowflake id is issued twice (by any generator).
#[derive(Clone, Default)]
pub struct UniqueIds {
    names: Vec<String>,
    seen: BTreeMap<u64, (NodeId, SimTime)>,
}

impl UniqueIds {
    pub const NAME: &'static str = "unique_ids";
    pub fn new(names: Vec<String>) -> Self {
        UniqueIds {
            names,
            seen: BTreeMap::new(),
        }
    }
}

impl Checker for UniqueIds {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Every Snowflake id is issued once"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let Some((node, CoordFact::SnowflakeId { id, .. })) = coord_fact(event) else {
            return;
        };
        if let Some((first_node, first_time)) = self.seen.get(id) {
            violations.push(Violation {
                time: event.time,
                event_seq: Some(event.seq),
                detail: format!(
                    "id {id} issued again by {} (first by {} at {first_time})",
                    name_of(&self.names, node),
                    name_of(&self.names, *first_node)
                ),
                messages: Vec::new(),
                nodes: vec![node, *first_node],
            });
        } else if self.seen.len() < MAX_TRACKED_IDS {
            self.seen.insert(*id, (node, event.time));
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// Each generator's ids only grow (so they sort by creation time).
#[derive(Clone)]
pub struct IdsMonotonicPerWorker {
    names: Vec<String>,
    last: BTreeMap<NodeId, u64>,
}

impl IdsMonotonicPerWorker {
    pub const NAME: &'static str = "ids_monotonic_per_worker";
    pub fn new(names: Vec<String>) -> Self {
        IdsMonotonicPerWorker {
            names,
            last: BTreeMap::new(),
        }
    }
}

impl Checker for IdsMonotonicPerWorker {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "Each Snowflake generator issues strictly increasing ids"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let Some((node, CoordFact::SnowflakeId { id, .. })) = coord_fact(event) else {
            return;
        };
        if let Some(last) = self.last.get(&node)
            && id <= last
        {
            violations.push(Violation {
                time: event.time,
                event_seq: Some(event.seq),
                detail: format!(
                    "{} issued {id} after {last}: its clock went backwards",
                    name_of(&self.names, node)
                ),
                messages: Vec::new(),
                nodes: vec![node],
            });
        }
        self.last.insert(node, *id);
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

// ------------------------------------------------------------------- cron

/// Cron: no tick of a job runs twice (accepted by the executor).
#[derive(Clone)]
pub struct EachTickFiresExactlyOnce {
    names: Vec<String>,
    jobs: BTreeSet<String>,
    fired: BTreeMap<(String, u64), NodeId>,
}

impl EachTickFiresExactlyOnce {
    pub const NAME: &'static str = "each_tick_fires_exactly_once";
    pub fn new(names: Vec<String>, jobs: BTreeSet<String>) -> Self {
        EachTickFiresExactlyOnce {
            names,
            jobs,
            fired: BTreeMap::new(),
        }
    }
}

impl Checker for EachTickFiresExactlyOnce {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "No cron tick runs twice (missed ticks: each_tick_fires_eventually)"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let Some((
            _,
            CoordFact::StorageWrite {
                resource,
                writer,
                write: tick,
                accepted: true,
                ..
            },
        )) = coord_fact(event)
        else {
            return;
        };
        if !self.jobs.contains(resource) {
            return;
        }
        let key = (resource.clone(), *tick);
        if let Some(first) = self.fired.get(&key) {
            violations.push(Violation {
                time: event.time,
                event_seq: Some(event.seq),
                detail: format!(
                    "{resource} tick {tick} ran twice: by {} and again by {}",
                    name_of(&self.names, *first),
                    name_of(&self.names, *writer)
                ),
                messages: Vec::new(),
                nodes: vec![*first, *writer],
            });
        } else {
            if self.fired.len() >= MAX_TRACKED_TICKS
                && let Some(oldest) = self.fired.keys().next().cloned()
            {
                self.fired.remove(&oldest);
            }
            self.fired.insert(key, *writer);
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// Cron: every tick from the first fired one to the end of the run (less two intervals) runs.
#[derive(Clone)]
pub struct EachTickFiresEventually {
    /// job → interval.
    jobs: BTreeMap<String, u64>,
    fired: BTreeMap<String, BTreeSet<u64>>,
}

impl EachTickFiresEventually {
    pub const NAME: &'static str = "each_tick_fires_eventually";
    pub fn new(jobs: BTreeMap<String, u64>) -> Self {
        EachTickFiresEventually {
            jobs,
            fired: BTreeMap::new(),
        }
    }
}

impl Checker for EachTickFiresEventually {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Eventually
    }
    fn description(&self) -> &'static str {
        "Every cron tick due after the first firing runs (missed firings during a failover fail it)"
    }
    fn observe(&mut self, event: &TraceEvent, _violations: &mut Vec<Violation>) {
        let Some((
            _,
            CoordFact::StorageWrite {
                resource,
                write: tick,
                accepted: true,
                ..
            },
        )) = coord_fact(event)
        else {
            return;
        };
        if self.jobs.contains_key(resource) {
            let ticks = self.fired.entry(resource.clone()).or_default();
            if ticks.len() < MAX_TRACKED_TICKS {
                ticks.insert(*tick);
            }
        }
    }
    fn finish(&mut self, end: SimTime, violations: &mut Vec<Violation>) {
        for (job, interval_ms) in &self.jobs {
            let Some(ticks) = self.fired.get(job) else {
                continue;
            };
            let Some(&first) = ticks.iter().next() else {
                continue;
            };
            // Ticks due at least two intervals before the end had time to run.
            let end_ms = end.as_micros() / 1_000;
            let last_due = (end_ms.saturating_sub(2 * interval_ms)) / interval_ms;
            let missed: Vec<u64> = (first..=last_due)
                .filter(|tick| !ticks.contains(tick))
                .collect();
            if let Some(&first_missed) = missed.first() {
                violations.push(Violation {
                    time: SimTime::ZERO.plus(SimDuration::from_millis(first_missed * interval_ms)),
                    event_seq: None,
                    detail: format!(
                        "{job}: {} tick(s) never ran, the first due at {} ms (tick {first_missed})",
                        missed.len(),
                        first_missed * interval_ms
                    ),
                    messages: Vec::new(),
                    nodes: Vec::new(),
                });
            }
        }
    }
}

// ---------------------------------------------------------- registration

/// Adds the coordination slice's checkers the scenario needs (elsewhere they
/// would pass vacuously), and the Raft safety checkers for `coord_server`
/// ensembles when no `raft_node` registered them already.
pub fn register(scenario: &Scenario, node_names: &[String], checkers: &mut Vec<Box<dyn Checker>>) {
    let nodes = &scenario.topology.nodes;
    let names = node_names.to_vec();
    let longest_election_timeout_ms = nodes
        .iter()
        .filter_map(|node| match &node.spec {
            ComponentSpec::CoordServer(spec) => Some(spec.election_timeout_max_ms),
            _ => None,
        })
        .max();
    let has_raft_nodes = nodes
        .iter()
        .any(|node| matches!(node.spec, ComponentSpec::RaftNode(_)));
    if let Some(longest) = longest_election_timeout_ms
        && !has_raft_nodes
    {
        use super::raft::*;
        checkers.push(Box::new(RaftElectionSafety::new(names.clone())));
        checkers.push(Box::new(RaftLeaderAppendOnly::new(names.clone())));
        checkers.push(Box::new(RaftLogMatching::new(names.clone())));
        checkers.push(Box::new(RaftLeaderCompleteness::new(names.clone())));
        checkers.push(Box::new(RaftStateMachineSafety::new(names.clone())));
        checkers.push(Box::new(RaftLeaderEventuallyElected::new(
            names.clone(),
            SimDuration::from_millis(longest * 10),
        )));
    }
    let mut register_clients = BTreeSet::new();
    let mut locks = BTreeSet::new();
    let mut contenders = false;
    let mut cron_jobs = BTreeMap::new();
    for (index, node) in nodes.iter().enumerate() {
        let ComponentSpec::CoordClient(spec) = &node.spec else {
            continue;
        };
        match &spec.recipe {
            CoordRecipe::Registers(_) => {
                register_clients.insert(NodeId(index as u32));
            }
            CoordRecipe::Lock(recipe) => {
                locks.insert(recipe.path.clone());
                contenders = true;
            }
            CoordRecipe::LeaderElection(_) => contenders = true,
            CoordRecipe::CronScheduler(recipe) => {
                contenders = true;
                cron_jobs.insert(recipe.path.clone(), recipe.interval_ms);
            }
            _ => {}
        }
    }
    if !register_clients.is_empty() {
        checkers.push(Box::new(CoordLinearizable::new(register_clients)));
    }
    if !locks.is_empty() {
        checkers.push(Box::new(MutualExclusion::new(names.clone(), locks)));
    }
    if contenders {
        checkers.push(Box::new(SingleLeader::new(names.clone())));
    }
    if !cron_jobs.is_empty() {
        checkers.push(Box::new(EachTickFiresExactlyOnce::new(
            names.clone(),
            cron_jobs.keys().cloned().collect(),
        )));
        checkers.push(Box::new(EachTickFiresEventually::new(cron_jobs)));
    }
    if nodes
        .iter()
        .any(|node| matches!(node.spec, ComponentSpec::Snowflake(_)))
    {
        checkers.push(Box::new(UniqueIds::new(names.clone())));
        checkers.push(Box::new(IdsMonotonicPerWorker::new(names)));
    }
}
