//! Checkers of the replicated key-value database: lost acknowledged writes (leader/follower logs, Dynamo conflict drops), split brain (two primaries accepting writes at once) and per-key linearizability of `kv_client` histories.
//!
//! All of them read only the trace: clients' operations (`write k=… v=…
//! db=…`, values unique per write) and the replicas' `Fact::Db` facts.

use super::linearizable::{HistoryOperation, RegisterOperation, Verdict, check_register};
use super::{Checker, Property, Violation};
use crate::components::db_protocol::DbFact;
use crate::message::NodeId;
use crate::time::SimTime;
use crate::trace::{Fact, OperationPhase, TraceEvent, TraceKind};
use std::collections::{BTreeMap, BTreeSet};

/// Writes followed per run; beyond it the loss checker stops deciding (and says so).
pub const MAX_DB_TRACKED_WRITES: usize = 200_000;
/// Log entries rebuilt per replica; beyond it the replica's log is no longer followed.
pub const MAX_DB_TRACKED_LOG_ENTRIES: usize = 200_000;
/// Operations per (database, key) kept for the linearizability search.
const MAX_HISTORY_PER_KEY: usize = super::linearizable::MAX_LINEARIZABILITY_OPERATIONS_PER_KEY;

/// A client operation's text: kind, key, values, database.
#[derive(Clone)]
pub struct ParsedOperation<'a> {
    pub read: bool,
    pub key: u32,
    /// Written value, or the values a read saw (empty: nil).
    pub values: Vec<u64>,
    pub database: &'a str,
}

/// Parses `write k=3 v=7 db=x` / `read k=3 v=7 db=x level=any` (a read's
/// invocation has no `v=`).
pub fn parse_operation(detail: &str) -> Option<ParsedOperation<'_>> {
    let mut words = detail.split(' ');
    let kind = words.next()?;
    let key = words.next()?.strip_prefix("k=")?.parse().ok()?;
    let mut values = Vec::new();
    let mut database = None;
    for word in words {
        if let Some(text) = word.strip_prefix("v=") {
            if text != "nil" {
                for value in text.split(',') {
                    values.push(value.parse().ok()?);
                }
            }
        } else if let Some(name) = word.strip_prefix("db=") {
            database = Some(name);
        }
    }
    Some(ParsedOperation {
        read: match kind {
            "read" => true,
            "write" => false,
            _ => return None,
        },
        key,
        values,
        database: database?,
    })
}

/// What the loss checker knows of one write (by its unique value).
#[derive(Clone)]
struct WriteRecord {
    database: String,
    key: u32,
    invoked_seq: u64,
    acknowledged: Option<(u64, SimTime)>,
}

/// Every acknowledged write survives: leader/follower writes are still in
/// some replica's log at the end; Dynamo writes are never dropped in favour
/// of a write that had finished before they began.
#[derive(Clone)]
pub struct KvLostAcknowledgedWrites {
    clients: BTreeSet<NodeId>,
    names: Vec<String>,
    pending: BTreeMap<(NodeId, u64), u64>,
    writes: BTreeMap<u64, WriteRecord>,
    /// Leader/follower replicas' logs, rebuilt from facts (index = offset − 1).
    logs: BTreeMap<NodeId, Vec<u64>>,
    replica_database: BTreeMap<NodeId, String>,
    overflowing_logs: BTreeSet<NodeId>,
    /// Dynamo: dropped value → (kept value, when, seq, replica).
    drops: BTreeMap<u64, (u64, SimTime, u64, NodeId)>,
    /// Resharding: (old database, key) → its last copy (at most one entry per key).
    moved_keys: BTreeMap<(String, u32), KeyCopy>,
    /// Keyspaces whose move was cut over (a key of an aborted move stays put).
    cut_over_keyspaces: BTreeSet<String>,
    too_many: bool,
}

/// The last copy of a moving key a `kv_shard_balancer` made.
#[derive(Clone)]
struct KeyCopy {
    keyspace: String,
    to: String,
    values: Vec<u64>,
    time: SimTime,
}

impl KvLostAcknowledgedWrites {
    pub const NAME: &'static str = "kv_lost_acknowledged_writes";
    pub fn new(clients: BTreeSet<NodeId>, names: Vec<String>) -> Self {
        KvLostAcknowledgedWrites {
            clients,
            names,
            pending: BTreeMap::new(),
            writes: BTreeMap::new(),
            logs: BTreeMap::new(),
            replica_database: BTreeMap::new(),
            overflowing_logs: BTreeSet::new(),
            drops: BTreeMap::new(),
            moved_keys: BTreeMap::new(),
            cut_over_keyspaces: BTreeSet::new(),
            too_many: false,
        }
    }

    fn name(&self, node: NodeId) -> &str {
        self.names.get(node.index()).map_or("?", String::as_str)
    }

    fn observe_fact(&mut self, node: NodeId, fact: &DbFact, event: &TraceEvent) {
        match fact {
            DbFact::Role { database, .. } => {
                self.replica_database.insert(node, database.clone());
                self.logs.entry(node).or_default();
            }
            DbFact::Appended { offset, value, .. } => {
                if self.overflowing_logs.contains(&node) {
                    return;
                }
                let log = self.logs.entry(node).or_default();
                let index = (*offset as usize).saturating_sub(1);
                if index > log.len() {
                    return; // A gap cannot happen (replicas apply in order); ignore defensively.
                }
                log.truncate(index);
                if log.len() >= MAX_DB_TRACKED_LOG_ENTRIES {
                    self.overflowing_logs.insert(node);
                    return;
                }
                log.push(*value);
            }
            DbFact::FullSync { from, offset, .. } => {
                let source: Vec<u64> = self
                    .logs
                    .get(from)
                    .map(|log| log.iter().copied().take(*offset as usize).collect())
                    .unwrap_or_default();
                if self.overflowing_logs.contains(from) {
                    self.overflowing_logs.insert(node);
                }
                self.logs.insert(node, source);
            }
            DbFact::DataLost { .. } => {
                if let Some(log) = self.logs.get_mut(&node) {
                    log.clear();
                }
            }
            DbFact::Superseded { kept, dropped, .. } => {
                if self.drops.len() < MAX_DB_TRACKED_WRITES {
                    self.drops
                        .entry(*dropped)
                        .or_insert((*kept, event.time, event.seq, node));
                }
            }
            DbFact::ReshardKeyCopied {
                keyspace,
                key,
                from,
                to,
                values,
                ..
            } => {
                // Bounded by the keyspace's key count (one entry per key).
                self.moved_keys.insert(
                    (from.clone(), *key),
                    KeyCopy {
                        keyspace: keyspace.clone(),
                        to: to.clone(),
                        values: values.clone(),
                        time: event.time,
                    },
                );
            }
            DbFact::ReshardCutOver { keyspace, .. } => {
                self.cut_over_keyspaces.insert(keyspace.clone());
            }
            DbFact::ReshardStarted { .. }
            | DbFact::ReshardFrozen { .. }
            | DbFact::ReshardAborted { .. } => {}
        }
    }
}

impl KvLostAcknowledgedWrites {
    /// Why an acknowledged write on a key that moved to another shard did
    /// not reach it: the last copy of the key (made before the cut-over)
    /// held nothing, or a value whose write had completed before this write
    /// began. A copy of a concurrent or unacknowledged write is not judged.
    fn left_behind_by_a_move(&self, value: u64, record: &WriteRecord) -> Option<String> {
        let copy = self
            .moved_keys
            .get(&(record.database.clone(), record.key))?;
        if !self.cut_over_keyspaces.contains(&copy.keyspace) {
            return None;
        }
        let copied_older = match copy.values.as_slice() {
            [] => Some("no value".to_string()),
            values => values
                .iter()
                .all(|copied| {
                    *copied != value
                        && self
                            .writes
                            .get(copied)
                            .and_then(|copied_record| copied_record.acknowledged)
                            .is_some_and(|(completed_seq, _)| completed_seq < record.invoked_seq)
                })
                .then(|| format!("the older v={}", values[0])),
        }?;
        Some(format!(
            "key {} moved from {} to {}, and the last copy (at {}) carried {copied_older}: the new shard never got this write (cut over without a freeze?)",
            record.key, record.database, copy.to, copy.time
        ))
    }
}

impl Checker for KvLostAcknowledgedWrites {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Eventually
    }
    fn description(&self) -> &'static str {
        "Every acknowledged write survives: on leader/follower databases it is still in some replica's log at the end; on Dynamo databases no replica drops it for a write that had finished before it began"
    }
    fn observe(&mut self, event: &TraceEvent, _violations: &mut Vec<Violation>) {
        match &event.kind {
            TraceKind::Fact {
                node,
                fact: Fact::Db(fact),
            } => self.observe_fact(*node, fact, event),
            TraceKind::Operation {
                node,
                operation,
                phase,
                detail,
            } if self.clients.contains(node) => match phase {
                OperationPhase::Invoke => {
                    let Some(parsed) = parse_operation(detail) else {
                        return;
                    };
                    if parsed.read {
                        return;
                    }
                    if self.writes.len() >= MAX_DB_TRACKED_WRITES {
                        self.too_many = true;
                        return;
                    }
                    let Some(value) = parsed.values.first().copied() else {
                        return;
                    };
                    self.pending.insert((*node, *operation), value);
                    self.writes.insert(
                        value,
                        WriteRecord {
                            database: parsed.database.to_string(),
                            key: parsed.key,
                            invoked_seq: event.seq,
                            acknowledged: None,
                        },
                    );
                }
                OperationPhase::Ok => {
                    if let Some(value) = self.pending.remove(&(*node, *operation))
                        && let Some(record) = self.writes.get_mut(&value)
                    {
                        record.acknowledged = Some((event.seq, event.time));
                        // The database that acknowledged it (a write held by
                        // a reshard freeze goes to the key's new shard).
                        if let Some(parsed) = parse_operation(detail) {
                            record.database = parsed.database.to_string();
                        }
                    }
                }
                OperationPhase::Fail | OperationPhase::Info => {
                    self.pending.remove(&(*node, *operation));
                }
            },
            _ => {}
        }
    }
    fn finish(&mut self, end: SimTime, violations: &mut Vec<Violation>) {
        if self.too_many {
            return;
        }
        // Leader/follower: which databases have logs, and what survives in them.
        let mut surviving: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
        let mut undecidable: BTreeSet<&str> = BTreeSet::new();
        for (node, database) in &self.replica_database {
            if self.overflowing_logs.contains(node) {
                undecidable.insert(database);
            }
            let held = surviving.entry(database).or_default();
            if let Some(log) = self.logs.get(node) {
                held.extend(log.iter().copied());
            }
        }
        let mut acknowledged_per_database: BTreeMap<&str, u64> = BTreeMap::new();
        let mut lost: Vec<(u64, &WriteRecord, String)> = Vec::new();
        for (value, record) in &self.writes {
            let Some((_, acknowledged_at)) = record.acknowledged else {
                continue;
            };
            *acknowledged_per_database
                .entry(record.database.as_str())
                .or_default() += 1;
            if let Some(why) = self.left_behind_by_a_move(*value, record) {
                lost.push((*value, record, why));
                continue;
            }
            if let Some(held) = surviving.get(record.database.as_str()) {
                if !undecidable.contains(record.database.as_str()) && !held.contains(value) {
                    lost.push((
                        *value,
                        record,
                        format!(
                            "acknowledged at {acknowledged_at} but in no replica's log at the end (discarded by a full resync)"
                        ),
                    ));
                }
                continue;
            }
            // Dynamo: dropped for a write that had finished before this one began?
            if let Some((kept, when, _, replica)) = self.drops.get(value)
                && let Some(kept_record) = self.writes.get(kept)
                && let Some((kept_completed, _)) = kept_record.acknowledged
                && kept_completed < record.invoked_seq
            {
                lost.push((
                    *value,
                    record,
                    format!(
                        "dropped at {when} on {} in favour of v={kept}, which had been acknowledged before this write began (its timestamp was higher: clock skew)",
                        self.name(*replica)
                    ),
                ));
            }
        }
        let mut lost_per_database: BTreeMap<&str, u64> = BTreeMap::new();
        for (_, record, _) in &lost {
            *lost_per_database
                .entry(record.database.as_str())
                .or_default() += 1;
        }
        for (value, record, why) in &lost {
            let database = record.database.as_str();
            violations.push(Violation {
                time: end,
                event_seq: record.acknowledged.map(|(seq, _)| seq),
                detail: format!(
                    "{} of {} acknowledged writes to {database} lost; e.g. write k={} v={value}: {why}",
                    lost_per_database[database], acknowledged_per_database[database], record.key
                ),
                messages: Vec::new(),
                nodes: Vec::new(),
            });
        }
    }
}

/// A replica in the primary role: epoch, since when, last write it accepted.
type PrimaryTenure = (u64, SimTime, Option<SimTime>);

/// No two replicas of a leader/follower database accept writes as primary at the same time.
#[derive(Clone)]
pub struct KvSplitBrain {
    names: Vec<String>,
    /// Per database: primary → its tenure.
    primaries: BTreeMap<String, BTreeMap<NodeId, PrimaryTenure>>,
    reported: BTreeSet<(NodeId, u64, NodeId, u64)>,
}

impl KvSplitBrain {
    pub const NAME: &'static str = "kv_no_split_brain";
    pub fn new(names: Vec<String>) -> Self {
        KvSplitBrain {
            names,
            primaries: BTreeMap::new(),
            reported: BTreeSet::new(),
        }
    }
    fn name(&self, node: NodeId) -> &str {
        self.names.get(node.index()).map_or("?", String::as_str)
    }
}

impl Checker for KvSplitBrain {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn property(&self) -> Property {
        Property::Always
    }
    fn description(&self) -> &'static str {
        "At most one replica of a leader/follower database accepts writes as primary at any time"
    }
    fn observe(&mut self, event: &TraceEvent, violations: &mut Vec<Violation>) {
        let TraceKind::Fact {
            node,
            fact: Fact::Db(fact),
        } = &event.kind
        else {
            return;
        };
        match fact {
            DbFact::Role {
                database,
                primary,
                epoch,
            } => {
                let primaries = self.primaries.entry(database.clone()).or_default();
                if *primary {
                    primaries.insert(*node, (*epoch, event.time, None));
                } else {
                    primaries.remove(node);
                }
            }
            DbFact::Appended {
                database,
                as_primary: true,
                ..
            } => {
                let Some(primaries) = self.primaries.get_mut(database) else {
                    return;
                };
                let Some((epoch, since, _)) = primaries.get(node).copied() else {
                    return;
                };
                let others: Vec<(NodeId, u64, SimTime)> = primaries
                    .iter()
                    .filter(|(other, _)| *other != node)
                    .filter_map(|(other, (other_epoch, _, last))| {
                        last.filter(|at| *at >= since)
                            .map(|at| (*other, *other_epoch, at))
                    })
                    .collect();
                if let Some(entry) = primaries.get_mut(node) {
                    entry.2 = Some(event.time);
                }
                for (other, other_epoch, at) in others {
                    if self.reported.insert((*node, epoch, other, other_epoch)) {
                        violations.push(Violation {
                            time: event.time,
                            event_seq: Some(event.seq),
                            detail: format!(
                                "{database}: {} (epoch {epoch}) accepted a write as primary while {} (epoch {other_epoch}) also did, last at {at}",
                                self.name(*node),
                                self.name(other)
                            ),
                            messages: Vec::new(),
                            nodes: vec![*node, other],
                        });
                    }
                }
            }
            _ => {}
        }
    }
    fn finish(&mut self, _end: SimTime, _violations: &mut Vec<Violation>) {}
}

/// Every (database, key) history of every `kv_client` is linearizable.
#[derive(Clone)]
pub struct KvLinearizable {
    clients: BTreeSet<NodeId>,
    /// Database → the keyspace it is a shard of, for databases a
    /// `kv_shard_balancer` moves keys between: a key's register spans its old
    /// and new shard.
    keyspace_of: BTreeMap<String, String>,
    pending: BTreeMap<(NodeId, u64), (u64, String)>,
    histories: BTreeMap<(String, u32), Vec<(HistoryOperation, String)>>,
    too_large: bool,
}

impl KvLinearizable {
    pub const NAME: &'static str = "kv_linearizable";
    pub fn new(clients: BTreeSet<NodeId>, keyspace_of: BTreeMap<String, String>) -> Self {
        KvLinearizable {
            clients,
            keyspace_of,
            pending: BTreeMap::new(),
            histories: BTreeMap::new(),
            too_large: false,
        }
    }

    fn record(&mut self, key: (String, u32), operation: HistoryOperation, text: String) {
        let key = match self.keyspace_of.get(&key.0) {
            Some(keyspace) => (keyspace.clone(), key.1),
            None => key,
        };
        let history = self.histories.entry(key).or_default();
        if history.len() >= MAX_HISTORY_PER_KEY {
            self.too_large = true;
            return;
        }
        history.push((operation, text));
    }
}

impl Checker for KvLinearizable {
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
        "Reads and writes of each key of each database are linearizable (WGL search at the end of the run; reads that returned siblings are left out; histories over the size bound pass undecided)"
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
                if self.pending.len() >= MAX_HISTORY_PER_KEY {
                    self.too_large = true;
                    return;
                }
                self.pending
                    .insert((*node, *operation), (event.seq, detail.clone()));
            }
            OperationPhase::Fail => {
                self.pending.remove(&(*node, *operation));
            }
            OperationPhase::Ok | OperationPhase::Info => {
                let Some((invoked, invocation)) = self.pending.remove(&(*node, *operation)) else {
                    return;
                };
                let ok = *phase == OperationPhase::Ok;
                let text = if ok { detail.clone() } else { invocation };
                let Some(parsed) = parse_operation(&text) else {
                    return;
                };
                let register = if parsed.read {
                    if !ok || parsed.values.len() > 1 {
                        return; // unanswered reads change nothing; siblings are not a register value
                    }
                    RegisterOperation::Read(parsed.values.first().copied())
                } else {
                    let Some(value) = parsed.values.first() else {
                        return;
                    };
                    RegisterOperation::Write(*value)
                };
                let key = (parsed.database.to_string(), parsed.key);
                self.record(
                    key,
                    HistoryOperation {
                        operation: register,
                        invoked,
                        completed: ok.then_some(event.seq),
                    },
                    if ok { text } else { format!("{text} (info)") },
                );
            }
        }
    }
    fn finish(&mut self, end: SimTime, violations: &mut Vec<Violation>) {
        if self.too_large {
            return;
        }
        for (invoked, invocation) in std::mem::take(&mut self.pending).into_values() {
            if let Some(parsed) = parse_operation(&invocation)
                && !parsed.read
                && let Some(value) = parsed.values.first()
            {
                let key = (parsed.database.to_string(), parsed.key);
                self.record(
                    key,
                    HistoryOperation {
                        operation: RegisterOperation::Write(*value),
                        invoked,
                        completed: None,
                    },
                    format!("{invocation} (open at the end)"),
                );
            }
        }
        for ((database, key), history) in &self.histories {
            let operations: Vec<HistoryOperation> = history.iter().map(|(op, _)| *op).collect();
            if let Verdict::NotLinearizable { stuck } = check_register(&operations, None) {
                violations.push(Violation {
                    time: end,
                    event_seq: history[stuck].0.completed,
                    detail: format!(
                        "{database} key {key}: `{}` cannot be placed in any order of the operations concurrent with it ({} operations on the key)",
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

/// Database → keyspace name for the shards of every `kv_shard_balancer`.
fn resharded_keyspaces(scenario: &crate::scenario::Scenario) -> BTreeMap<String, String> {
    let mut keyspace_of = BTreeMap::new();
    for node in &scenario.topology.nodes {
        if let crate::scenario::ComponentSpec::KvShardBalancer(spec) = &node.spec {
            let (mut databases, _) =
                crate::components::kv_shard_balancer::keyspace_sharding(scenario, spec);
            databases.push(spec.add_database.clone());
            let names: Vec<&str> = databases.iter().map(String::as_str).collect();
            let keyspace = crate::components::kv_shard_balancer::keyspace_name(&names);
            for database in databases {
                keyspace_of.insert(database, keyspace.clone());
            }
        }
    }
    keyspace_of
}

/// Registers the database checkers when the scenario has databases; their
/// clients are the `kv_client`s and the caches in front of a database.
pub fn register(
    scenario: &crate::scenario::Scenario,
    node_names: &[String],
    checkers: &mut Vec<Box<dyn Checker>>,
) {
    let clients: BTreeSet<NodeId> = scenario
        .topology
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| match &node.spec {
            crate::scenario::ComponentSpec::KvClient(_) => true,
            // A cache in front of a database answers reads and writes for its
            // clients and records them in the same history form.
            crate::scenario::ComponentSpec::Cache(cache) => {
                scenario.topology.nodes.iter().any(|backend| {
                    backend.id == cache.backend
                        && matches!(backend.spec, crate::scenario::ComponentSpec::KvDatabase(_))
                })
            }
            _ => false,
        })
        .map(|(index, _)| NodeId(index as u32))
        .collect();
    let has_databases = scenario
        .topology
        .nodes
        .iter()
        .any(|node| matches!(node.spec, crate::scenario::ComponentSpec::KvDatabase(_)));
    if !has_databases {
        return;
    }
    checkers.push(Box::new(KvLostAcknowledgedWrites::new(
        clients.clone(),
        node_names.to_vec(),
    )));
    checkers.push(Box::new(KvSplitBrain::new(node_names.to_vec())));
    if !clients.is_empty() {
        checkers.push(Box::new(KvLinearizable::new(
            clients,
            resharded_keyspaces(scenario),
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_texts_parse() {
        let write = parse_operation("write k=3 v=1000007 db=orders").expect("write");
        assert!(!write.read);
        assert_eq!(
            (write.key, write.values.as_slice(), write.database),
            (3, &[1000007][..], "orders")
        );
        let read = parse_operation("read k=1 v=5,7 db=x level=quorum siblings=2").expect("read");
        assert_eq!(read.values, vec![5, 7]);
        let nil = parse_operation("read k=1 v=nil db=x level=any").expect("nil");
        assert!(nil.values.is_empty());
        let invoke = parse_operation("read k=1 db=x").expect("invoke");
        assert!(invoke.values.is_empty() && invoke.read);
        assert!(parse_operation("write k=1 v=2").is_none(), "no database");
    }
}
