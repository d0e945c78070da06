//! `kv_client`: processes reading and writing a replicated `kv_database` (or several, as shards behind a client-side router), recorded as a Jepsen history, counting stale reads and siblings.
//!
//! Each of `concurrency` processes runs one operation at a time. A key is
//! routed to a database by the sharding strategy (hash, range or consistent
//! hashing with virtual nodes); the request goes to the replica the mode
//! calls for: the primary or Raft leader it believes in (learned from
//! redirects), or any replica (`any` reads; Dynamo coordinators). Every
//! written value is unique (client node, sequence), so a lost write can be
//! told from an overwritten one. An operation ends `ok`, `fail` (definitely
//! not applied) or `info` (timed out or unknown: may have been applied).
//!
//! Resharding: when a `kv_shard_balancer` names this client, the added
//! database is the last route and the client routes by the old shard count
//! until the balancer's cut-over. On `ReshardFreeze` it holds new operations
//! (and retries) on keys that move and confirms once none of its operations
//! on them is in flight; on `ReshardSwitch` it takes the new shard map (or
//! keeps the old one if the move was aborted) and sends what it held. A held
//! operation whose timeout comes first fails (it was never sent). The shard
//! map survives a client crash (a restarted client asks the config server
//! for the current map, as Vitess and MongoDB routers do).
//!
//! Stale reads: a read is stale when it returned a value older than a write
//! this client saw acknowledged before the read began (the older value's
//! write finished before the newer one started), or nothing at all after
//! such a write. Only this client's own writes can be judged, so the count
//! is a lower bound when several clients write the same keys.

use super::db_protocol::{AcknowledgedWrites, DbMessage, DbOperation, DbOutcome, VersionVector};
use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::distribution::Distribution;
use crate::message::{Envelope, NodeId, Payload};
use crate::raft::kv::KvOutcome;
use crate::scenario::{KvClientSpec, ReadConsistency, ShardingStrategy};
use crate::time::{SimDuration, SimTime};
use crate::trace::OperationPhase;
use std::collections::BTreeMap;

const TIMER_NEXT_OPERATION: u32 = 1;
const TIMER_TIMEOUT: u32 = 2;
const TIMER_RETRY: u32 = 3;

/// Values written per client node stay below this, so `node × this + n` is unique.
pub const VALUES_PER_CLIENT: u64 = 1_000_000;

/// How a client reaches one database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatabaseMode {
    LeaderFollower,
    Raft,
    Dynamo,
}

/// One database the client routes to: its name, mode and replicas.
#[derive(Clone, Debug)]
pub struct DatabaseRoute {
    pub name: String,
    pub mode: DatabaseMode,
    pub members: Vec<NodeId>,
}

/// Maps keys to shards.
#[derive(Clone)]
pub struct ShardRouter {
    strategy: ShardingStrategy,
    shards: usize,
    key_count: u32,
    ring: Vec<(u64, usize)>,
}

impl ShardRouter {
    pub fn new(
        strategy: ShardingStrategy,
        shards: usize,
        key_count: u32,
        virtual_nodes: u32,
    ) -> Self {
        let mut ring: Vec<(u64, usize)> = (0..shards)
            .flat_map(|shard| {
                (0..virtual_nodes.max(1)).map(move |vnode| {
                    (
                        super::db_dynamo::ring_hash(((shard as u64) << 32) | u64::from(vnode)),
                        shard,
                    )
                })
            })
            .collect();
        ring.sort();
        ShardRouter {
            strategy,
            shards: shards.max(1),
            key_count: key_count.max(1),
            ring,
        }
    }

    pub fn shard_of(&self, key: u32) -> usize {
        match self.strategy {
            ShardingStrategy::Hash => {
                (super::db_dynamo::ring_hash(u64::from(key)) % self.shards as u64) as usize
            }
            ShardingStrategy::Range => {
                ((u64::from(key) * self.shards as u64) / u64::from(self.key_count)) as usize
                    % self.shards
            }
            ShardingStrategy::ConsistentHash => {
                let position = super::db_dynamo::ring_hash(u64::from(key) ^ 0xC0FF_EE00_0000_0000);
                let index = self.ring.partition_point(|(at, _)| *at < position);
                self.ring[index % self.ring.len()].1
            }
        }
    }
}

#[derive(Clone)]
struct Outstanding {
    process: u32,
    operation: DbOperation,
    database: usize,
    invoked_at: SimTime,
    attempts: u32,
    /// Held by a reshard freeze: not sent yet.
    held: bool,
}

/// Where a client stands in a move of its keyspace to one more shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReshardState {
    /// Routing by the old shard map.
    Before,
    /// Holding operations on moving keys for the balancer's `epoch`.
    Frozen { epoch: u64 },
    /// Routing by the new shard map (`cut_over`) or back on the old one.
    Switched { epoch: u64, cut_over: bool },
}

/// The move of a client's keyspace to `routes.len()` shards.
#[derive(Clone)]
struct Reshard {
    new_router: ShardRouter,
    state: ReshardState,
    operations_held: u64,
}

#[derive(Clone)]
pub struct KvClient {
    spec: KvClientSpec,
    databases: Vec<DatabaseRoute>,
    router: ShardRouter,
    think_time: Distribution,
    /// Per database: the primary/leader believed in.
    leaders: Vec<Option<NodeId>>,
    next_operation: u64,
    next_value: u64,
    value_base: u64,
    outstanding: BTreeMap<u64, Outstanding>,
    /// Dynamo with version vectors: the context of the last read, per (database, key).
    contexts: BTreeMap<(usize, u32), VersionVector>,
    /// Per key (a key is on one shard at a time, so the key names its register).
    known_writes: AcknowledgedWrites,
    reshard: Option<Reshard>,
    completed_ok: u64,
    completed_fail: u64,
    completed_info: u64,
    reads_ok: u64,
    stale_reads: u64,
    reads_with_siblings: u64,
    requests_per_shard: Vec<u64>,
    /// The balancer moving this client's keyspace (learned from its freeze).
    balancer: Option<NodeId>,
}

impl KvClient {
    /// `added`: the database a `kv_shard_balancer` adds to this client's shards.
    pub fn new(
        spec: &KvClientSpec,
        me: NodeId,
        mut databases: Vec<DatabaseRoute>,
        added: Option<DatabaseRoute>,
    ) -> KvClient {
        let shards = databases.len();
        let reshard = added.map(|route| {
            databases.push(route);
            Reshard {
                new_router: ShardRouter::new(
                    spec.sharding,
                    shards + 1,
                    spec.key_count,
                    spec.virtual_nodes_per_shard,
                ),
                state: ReshardState::Before,
                operations_held: 0,
            }
        });
        let routes = databases.len();
        KvClient {
            reshard,
            think_time: spec.think_time.clone(),
            router: ShardRouter::new(
                spec.sharding,
                shards,
                spec.key_count,
                spec.virtual_nodes_per_shard,
            ),
            leaders: vec![None; routes],
            spec: spec.clone(),
            databases,
            next_operation: 0,
            next_value: 1,
            value_base: (u64::from(me.0) + 1) * VALUES_PER_CLIENT,
            outstanding: BTreeMap::new(),
            contexts: BTreeMap::new(),
            known_writes: AcknowledgedWrites::default(),
            completed_ok: 0,
            completed_fail: 0,
            completed_info: 0,
            reads_ok: 0,
            stale_reads: 0,
            reads_with_siblings: 0,
            balancer: None,
            requests_per_shard: vec![0; routes],
        }
    }

    /// The shard `key` is routed to now.
    fn shard_of(&self, key: u32) -> usize {
        let shard = match &self.reshard {
            Some(Reshard {
                new_router,
                state: ReshardState::Switched { cut_over: true, .. },
                ..
            }) => new_router.shard_of(key),
            _ => self.router.shard_of(key),
        };
        shard.min(self.databases.len().saturating_sub(1))
    }

    /// True while a freeze holds operations on `key`.
    fn held_by_freeze(&self, key: u32) -> bool {
        self.reshard.as_ref().is_some_and(|reshard| {
            matches!(reshard.state, ReshardState::Frozen { .. })
                && reshard.new_router.shard_of(key) != self.router.shard_of(key)
        })
    }

    /// Frozen and nothing on a moving key in flight: tell the balancer.
    fn confirm_freeze_if_quiet(&mut self, ctx: &mut Context<'_>, balancer: NodeId) {
        let Some(ReshardState::Frozen { epoch }) = self.reshard.as_ref().map(|r| r.state) else {
            return;
        };
        let in_flight = self.outstanding.values().any(|outstanding| {
            !outstanding.held && self.held_by_freeze(outstanding.operation.key())
        });
        if !in_flight {
            ctx.send(
                balancer,
                Payload::Db(DbMessage::ReshardFrozen { epoch }),
                64,
            );
        }
    }

    fn on_reshard_freeze(&mut self, ctx: &mut Context<'_>, balancer: NodeId, epoch: u64) {
        self.balancer = Some(balancer);
        let Some(reshard) = self.reshard.as_mut() else {
            return;
        };
        match reshard.state {
            // A late copy of an earlier epoch's freeze changes nothing.
            ReshardState::Switched {
                epoch: switched, ..
            } if switched >= epoch => return,
            ReshardState::Frozen { epoch: frozen } if frozen >= epoch => {}
            _ => {
                reshard.state = ReshardState::Frozen { epoch };
                ctx.state(format!(
                    "reshard freeze (epoch {epoch}): holding operations on moving keys"
                ));
            }
        }
        self.confirm_freeze_if_quiet(ctx, balancer);
    }

    fn on_reshard_switch(
        &mut self,
        ctx: &mut Context<'_>,
        balancer: NodeId,
        epoch: u64,
        cut_over: bool,
    ) {
        let Some(reshard) = self.reshard.as_mut() else {
            return;
        };
        let already = matches!(reshard.state, ReshardState::Switched { epoch: switched, .. } if switched >= epoch);
        if !already {
            reshard.state = ReshardState::Switched { epoch, cut_over };
            ctx.state(if cut_over {
                format!("reshard cut-over (epoch {epoch}): routing by the new shard map")
            } else {
                format!("reshard aborted (epoch {epoch}): routing by the old shard map")
            });
            let held: Vec<u64> = self
                .outstanding
                .iter()
                .filter(|(_, outstanding)| outstanding.held)
                .map(|(id, _)| *id)
                .collect();
            for id in held {
                let key = self.outstanding[&id].operation.key();
                let database = self.shard_of(key);
                if let Some(outstanding) = self.outstanding.get_mut(&id) {
                    outstanding.held = false;
                    outstanding.database = database;
                }
                self.send_attempt(ctx, id);
            }
        }
        ctx.send(
            balancer,
            Payload::Db(DbMessage::ReshardSwitched { epoch }),
            64,
        );
    }

    fn random_member(&self, ctx: &mut Context<'_>, database: usize) -> Option<NodeId> {
        let members = &self.databases[database].members;
        let index = ctx.rng().pick_index(members.len())?;
        Some(members[index])
    }

    /// Where this operation goes next.
    fn target(
        &mut self,
        ctx: &mut Context<'_>,
        database: usize,
        operation: DbOperation,
    ) -> Option<NodeId> {
        let route = &self.databases[database];
        let needs_leader = match route.mode {
            // Any replica coordinates: a random one each time.
            DatabaseMode::Dynamo => false,
            DatabaseMode::LeaderFollower | DatabaseMode::Raft => {
                matches!(operation, DbOperation::Write { .. })
                    || self.spec.read_consistency != ReadConsistency::Any
            }
        };
        if needs_leader && let Some(leader) = self.leaders[database] {
            return Some(leader);
        }
        self.random_member(ctx, database)
    }

    fn invoke(&mut self, ctx: &mut Context<'_>, process: u32) {
        if self
            .spec
            .stop_ms
            .is_some_and(|stop_ms| ctx.now() >= SimTime::from_millis(stop_ms))
            || self.next_value >= VALUES_PER_CLIENT
        {
            return;
        }
        let hot =
            self.spec.hot_key_fraction > 0.0 && ctx.rng().next_f64() < self.spec.hot_key_fraction;
        let key = if hot {
            0
        } else {
            ctx.rng().below(u64::from(self.spec.key_count.max(1))) as u32
        };
        let operation = if ctx.rng().next_f64() < self.spec.read_fraction {
            DbOperation::Read { key }
        } else {
            let value = self.value_base + self.next_value;
            self.next_value += 1;
            DbOperation::Write { key, value }
        };
        let database = self.shard_of(key);
        self.requests_per_shard[database] += 1;
        let id = self.next_operation;
        self.next_operation += 1;
        ctx.operation(
            id,
            OperationPhase::Invoke,
            format!("{operation} db={}", self.databases[database].name),
        );
        self.outstanding.insert(
            id,
            Outstanding {
                process,
                operation,
                database,
                invoked_at: ctx.now(),
                attempts: 0,
                held: false,
            },
        );
        ctx.set_timer(
            SimDuration::from_millis(self.spec.request_timeout_ms),
            TimerTag {
                kind: TIMER_TIMEOUT,
                id,
            },
        );
        self.send_attempt(ctx, id);
    }

    fn send_attempt(&mut self, ctx: &mut Context<'_>, id: u64) {
        let Some(outstanding) = self.outstanding.get(&id) else {
            return;
        };
        let (database, operation) = (outstanding.database, outstanding.operation);
        if self.held_by_freeze(operation.key()) {
            // The balancer is moving this key: hold it until the switch.
            if let Some(outstanding) = self.outstanding.get_mut(&id)
                && !outstanding.held
            {
                outstanding.held = true;
                if let Some(reshard) = self.reshard.as_mut() {
                    reshard.operations_held += 1;
                }
                if let Some(balancer) = self.balancer {
                    self.confirm_freeze_if_quiet(ctx, balancer);
                }
            }
            return;
        }
        if outstanding.attempts >= self.spec.max_attempts {
            let detail = format!(
                "{operation} db={} no primary after {} attempts",
                self.databases[database].name, outstanding.attempts
            );
            self.finish(ctx, id, OperationPhase::Fail, detail);
            return;
        }
        let Some(target) = self.target(ctx, database, operation) else {
            return;
        };
        let context = self
            .contexts
            .get(&(database, operation.key()))
            .cloned()
            .unwrap_or_default();
        if let Some(outstanding) = self.outstanding.get_mut(&id) {
            outstanding.attempts += 1;
        }
        ctx.send(
            target,
            Payload::Db(DbMessage::Request {
                request: id,
                operation,
                consistency: self.spec.read_consistency,
                context,
            }),
            64,
        );
    }

    fn finish(&mut self, ctx: &mut Context<'_>, id: u64, phase: OperationPhase, detail: String) {
        let Some(outstanding) = self.outstanding.remove(&id) else {
            return;
        };
        match phase {
            OperationPhase::Ok => {
                self.completed_ok += 1;
                ctx.completed(ctx.now().since(outstanding.invoked_at));
            }
            OperationPhase::Fail => {
                self.completed_fail += 1;
                ctx.error("kv_fail");
            }
            _ => {
                self.completed_info += 1;
                ctx.error("kv_info");
            }
        }
        ctx.operation(id, phase, detail);
        if let Some(balancer) = self.balancer {
            self.confirm_freeze_if_quiet(ctx, balancer);
        }
        let think = self.think_time.sample(ctx.rng());
        ctx.set_timer(
            think,
            TimerTag {
                kind: TIMER_NEXT_OPERATION,
                id: u64::from(outstanding.process),
            },
        );
    }

    fn on_ok(&mut self, ctx: &mut Context<'_>, id: u64, values: Vec<u64>) {
        let Some(outstanding) = self.outstanding.get(&id) else {
            return;
        };
        let (database, operation, invoked_at) = (
            outstanding.database,
            outstanding.operation,
            outstanding.invoked_at,
        );
        let name = self.databases[database].name.clone();
        let detail = match operation {
            DbOperation::Read { key } => {
                self.reads_ok += 1;
                let level = self.spec.read_consistency.as_str();
                let mut detail = if values.is_empty() {
                    format!("read k={key} v=nil db={name} level={level}")
                } else {
                    let texts: Vec<String> = values.iter().map(u64::to_string).collect();
                    format!("read k={key} v={} db={name} level={level}", texts.join(","))
                };
                if values.len() > 1 {
                    self.reads_with_siblings += 1;
                    ctx.error("kv_siblings");
                    detail.push_str(&format!(" siblings={}", values.len()));
                }
                if self.known_writes.read_is_stale(key, &values, invoked_at) {
                    self.stale_reads += 1;
                    ctx.error("kv_stale_read");
                    detail.push_str(" stale");
                }
                detail
            }
            DbOperation::Write { key, value } => {
                self.known_writes.record(key, value, invoked_at, ctx.now());
                format!("{operation} db={name}")
            }
        };
        self.finish(ctx, id, OperationPhase::Ok, detail);
    }

    fn redirect(&mut self, ctx: &mut Context<'_>, id: u64, from: NodeId, hint: Option<NodeId>) {
        let Some(outstanding) = self.outstanding.get(&id) else {
            return;
        };
        let database = outstanding.database;
        self.leaders[database] = hint;
        if hint.is_some_and(|hint| hint != from) {
            self.send_attempt(ctx, id);
        } else {
            ctx.set_timer(
                SimDuration::from_millis(self.spec.retry_backoff_ms),
                TimerTag {
                    kind: TIMER_RETRY,
                    id,
                },
            );
        }
    }

    fn describe(&self, id: u64) -> Option<String> {
        let outstanding = self.outstanding.get(&id)?;
        Some(format!(
            "{} db={}",
            outstanding.operation, self.databases[outstanding.database].name
        ))
    }
}

impl Component for KvClient {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.leaders = vec![None; self.databases.len()];
        for process in 0..self.spec.concurrency {
            let start = SimTime::from_millis(self.spec.start_ms);
            let after = start.since(ctx.now().min(start));
            ctx.set_timer(
                after,
                TimerTag {
                    kind: TIMER_NEXT_OPERATION,
                    id: u64::from(process),
                },
            );
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let from = envelope.from;
        match &envelope.payload {
            Payload::Db(DbMessage::ReshardFreeze { epoch }) => {
                self.on_reshard_freeze(ctx, from, *epoch)
            }
            Payload::Db(DbMessage::ReshardSwitch { epoch, cut_over }) => {
                self.on_reshard_switch(ctx, from, *epoch, *cut_over)
            }
            Payload::Db(DbMessage::Response { request, outcome }) => {
                let id = *request;
                let Some(outstanding) = self.outstanding.get(&id) else {
                    return; // Late answer to an operation that already ended.
                };
                let (database, operation) = (outstanding.database, outstanding.operation);
                match outcome {
                    DbOutcome::Ok { values, context } => {
                        if self.databases[database].mode == DatabaseMode::Dynamo
                            || matches!(operation, DbOperation::Write { .. })
                            || self.spec.read_consistency != ReadConsistency::Any
                        {
                            self.leaders[database] = Some(from);
                        }
                        if matches!(operation, DbOperation::Read { .. }) && !context.is_empty() {
                            self.contexts
                                .insert((database, operation.key()), context.clone());
                        }
                        self.on_ok(ctx, id, values.clone());
                    }
                    DbOutcome::NotPrimary { primary_hint } => {
                        self.redirect(ctx, id, from, *primary_hint)
                    }
                    DbOutcome::Rejected { reason } => {
                        let detail = format!(
                            "{} rejected {reason}",
                            self.describe(id).unwrap_or_default()
                        );
                        self.finish(ctx, id, OperationPhase::Fail, detail);
                    }
                    DbOutcome::Unavailable { reason } => {
                        let detail = format!(
                            "{} unavailable {reason}",
                            self.describe(id).unwrap_or_default()
                        );
                        // A write may have reached some replicas: unknown outcome.
                        let phase = if matches!(operation, DbOperation::Write { .. }) {
                            OperationPhase::Info
                        } else {
                            OperationPhase::Fail
                        };
                        self.finish(ctx, id, phase, detail);
                    }
                }
            }
            Payload::RaftKvResponse { request, outcome } => {
                let id = *request;
                let Some(outstanding) = self.outstanding.get(&id) else {
                    return;
                };
                let database = outstanding.database;
                match outcome {
                    KvOutcome::Ok { value } => {
                        self.leaders[database] = Some(from);
                        let values: Vec<u64> = match outstanding.operation {
                            DbOperation::Read { .. } => value.iter().copied().collect(),
                            DbOperation::Write { value, .. } => vec![value],
                        };
                        self.on_ok(ctx, id, values);
                    }
                    KvOutcome::CasMismatch { .. } => {}
                    KvOutcome::NotLeader { leader_hint } => {
                        self.redirect(ctx, id, from, *leader_hint)
                    }
                    KvOutcome::Rejected { reason } => {
                        let detail = format!(
                            "{} rejected {reason}",
                            self.describe(id).unwrap_or_default()
                        );
                        self.finish(ctx, id, OperationPhase::Fail, detail);
                    }
                    KvOutcome::Lost => {
                        self.leaders[database] = None;
                        let detail = format!(
                            "{} lost to a newer leader",
                            self.describe(id).unwrap_or_default()
                        );
                        self.finish(ctx, id, OperationPhase::Fail, detail);
                    }
                    KvOutcome::Unknown => {
                        self.leaders[database] = None;
                        let detail = format!(
                            "{} leader stepped down",
                            self.describe(id).unwrap_or_default()
                        );
                        self.finish(ctx, id, OperationPhase::Info, detail);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_NEXT_OPERATION => self.invoke(ctx, tag.id as u32),
            TIMER_TIMEOUT => {
                if let Some(outstanding) = self.outstanding.get(&tag.id) {
                    let database = outstanding.database;
                    if outstanding.held {
                        // Never sent: definitely not applied.
                        let detail = format!(
                            "{} held by a reshard freeze until its timeout",
                            self.describe(tag.id).unwrap_or_default()
                        );
                        self.finish(ctx, tag.id, OperationPhase::Fail, detail);
                        return;
                    }
                    let detail = format!("{} timeout", self.describe(tag.id).unwrap_or_default());
                    // The replica we believed in did not answer: ask around next time.
                    self.leaders[database] = None;
                    self.finish(ctx, tag.id, OperationPhase::Info, detail);
                }
            }
            TIMER_RETRY => self.send_attempt(ctx, tag.id),
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        for id in self.outstanding.keys().copied().collect::<Vec<_>>() {
            let detail = format!("{} client crashed", self.describe(id).unwrap_or_default());
            ctx.operation(id, OperationPhase::Info, detail);
        }
        self.outstanding.clear();
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: 0,
            in_progress: self.outstanding.len() as u64,
            badge: format!(
                "ok {} fail {} info {} stale {}",
                self.completed_ok, self.completed_fail, self.completed_info, self.stale_reads
            ),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        let mut summary = vec![
            ("operations_ok", self.completed_ok as f64),
            ("operations_fail", self.completed_fail as f64),
            ("operations_info", self.completed_info as f64),
            ("reads_ok", self.reads_ok as f64),
            ("stale_reads", self.stale_reads as f64),
            ("reads_with_siblings", self.reads_with_siblings as f64),
        ];
        if let Some(reshard) = &self.reshard {
            summary.push((
                "operations_held_for_reshard",
                reshard.operations_held as f64,
            ));
        }
        const SHARD_NAMES: [&str; 8] = [
            "requests_shard_0",
            "requests_shard_1",
            "requests_shard_2",
            "requests_shard_3",
            "requests_shard_4",
            "requests_shard_5",
            "requests_shard_6",
            "requests_shard_7",
        ];
        for (shard, count) in self
            .requests_per_shard
            .iter()
            .enumerate()
            .take(SHARD_NAMES.len())
        {
            summary.push((SHARD_NAMES[shard], *count as f64));
        }
        summary
    }
}

/// The routes of a validated client's databases.
pub fn routes(scenario: &crate::scenario::Scenario, databases: &[String]) -> Vec<DatabaseRoute> {
    databases
        .iter()
        .map(|name| {
            let mode = match crate::scenario::database_spec(scenario, name)
                .map(|spec| &spec.replication)
            {
                Some(crate::scenario::DbReplication::Raft(_)) => DatabaseMode::Raft,
                Some(crate::scenario::DbReplication::Dynamo(_)) => DatabaseMode::Dynamo,
                _ => DatabaseMode::LeaderFollower,
            };
            DatabaseRoute {
                name: name.clone(),
                mode,
                members: crate::scenario::database_members(scenario, name),
            }
        })
        .collect()
}
