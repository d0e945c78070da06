//! `kv_shard_balancer`: adds a shard to a sharded `kv_client` keyspace at a set time and moves the keys whose owner changes — copy, freeze, catch-up, cut-over — stating every moved key as a fact.
//!
//! The balancer routes keys exactly as its clients do (`ShardRouter` with the
//! old and the new shard count), so under consistent hashing only keys on the
//! arcs the new shard's virtual nodes took move (about 1/(N+1), all to the new
//! shard), while under hash mod N a key stays only if `h mod N == h mod (N+1)`
//! (about 1/(N+1) stay). The copy uses the databases' ordinary client
//! protocol: a leader read on the old shard, a write of the same value (the
//! client's unique value, so checkers can follow it) on the new shard.
//!
//! Protocol (`freeze_and_catch_up`, after Vitess's SwitchWrites with vtgate
//! buffering and MongoDB's chunk-migration critical section):
//! 1. copy every moving key while clients keep using the old shard;
//! 2. freeze: every client holds new operations on moving keys and confirms
//!    once none of its operations on them is in flight;
//! 3. catch-up: read every moving key again and copy the ones that changed;
//! 4. cut-over: clients switch to the new shard map and send what they held.
//!
//! `copy_then_switch` skips 2 and 3: writes the old shard acknowledged after
//! their key was copied are left behind (`kv_lost_acknowledged_writes` flags them).
//!
//! The move's progress (phase and epoch) survives a crash, as a config
//! server's record does; the copy work in flight does not, so a restarted
//! balancer copies again from the first key (copies are idempotent).

use super::db_protocol::{DbFact, DbMessage, DbOperation, DbOutcome};
use super::kv_client::{DatabaseRoute, ShardRouter};
use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::message::{Envelope, NodeId, Payload};
use crate::raft::kv::KvOutcome;
use crate::scenario::{KvShardBalancerSpec, ReadConsistency, ReshardCutover, ShardingStrategy};
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use std::collections::{BTreeMap, BTreeSet};

const TIMER_START: u32 = 1;
const TIMER_REQUEST_TIMEOUT: u32 = 2;
const TIMER_RETRY: u32 = 3;
const TIMER_NOTIFY: u32 = 4;
/// Wait before re-sending a copy step a replica refused or could not place
/// (no leader known, not enough replicas): a leader election takes about this long.
const RETRY_BACKOFF_MS: u64 = 50;
/// Bytes of a copy message besides the value (key, ids, headers).
const COPY_MESSAGE_OVERHEAD_BYTES: u32 = 64;

/// The keyspace's sharding, as the clients use it.
#[derive(Clone, Copy, Debug)]
pub struct KeyspaceSharding {
    pub strategy: ShardingStrategy,
    pub key_count: u32,
    pub virtual_nodes_per_shard: u32,
}

/// Where the move stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before `add_at_ms`.
    Waiting,
    /// First pass: every moving key copied while clients still use the old shard.
    Copying,
    /// Waiting for every client to confirm the freeze.
    Freezing,
    /// Second pass during the freeze: keys whose value changed copied again.
    CatchingUp,
    /// Telling clients the new (or, after an abort, the old) routing.
    Switching {
        cut_over: bool,
    },
    Done {
        cut_over: bool,
    },
}

/// One key that changes shard.
#[derive(Clone, Copy, Debug)]
struct Move {
    key: u32,
    from: usize,
    to: usize,
}

/// The step a key's copy is at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    ReadOld,
    WriteNew { value: u64 },
}

#[derive(Clone)]
struct CopyInProgress {
    step: Step,
    attempts: u32,
}

#[derive(Clone)]
pub struct KvShardBalancer {
    spec: KvShardBalancerSpec,
    keyspace: String,
    /// The old shards and, last, the added one.
    routes: Vec<DatabaseRoute>,
    clients: Vec<NodeId>,
    old_router: ShardRouter,
    new_router: ShardRouter,
    key_count: u32,
    // Durable progress.
    phase: Phase,
    epoch: u64,
    // Volatile.
    leaders: Vec<Option<NodeId>>,
    moves: Vec<Move>,
    next_move: usize,
    copies: BTreeMap<usize, CopyInProgress>,
    requests: BTreeMap<u64, usize>,
    next_request: u64,
    /// Values copied per move (what the new shard was given last).
    copied: BTreeMap<usize, Vec<u64>>,
    confirmed: BTreeSet<NodeId>,
    freeze_started: Option<SimTime>,
    // Metrics.
    keys_moved: u64,
    bytes_moved: u64,
    catch_up_copies: u64,
    copy_requests: u64,
    freeze_ms: f64,
}

impl KvShardBalancer {
    /// `routes`: the clients' databases, then the added one.
    pub fn new(
        spec: &KvShardBalancerSpec,
        routes: Vec<DatabaseRoute>,
        clients: Vec<NodeId>,
        sharding: KeyspaceSharding,
    ) -> KvShardBalancer {
        let shards_after = routes.len();
        let shards_before = shards_after.saturating_sub(1).max(1);
        let router = |shards| {
            ShardRouter::new(
                sharding.strategy,
                shards,
                sharding.key_count,
                sharding.virtual_nodes_per_shard,
            )
        };
        let names: Vec<&str> = routes.iter().map(|route| route.name.as_str()).collect();
        KvShardBalancer {
            keyspace: keyspace_name(&names),
            old_router: router(shards_before),
            new_router: router(shards_after),
            key_count: sharding.key_count,
            leaders: vec![None; routes.len()],
            routes,
            clients,
            spec: spec.clone(),
            phase: Phase::Waiting,
            epoch: 0,
            moves: Vec::new(),
            next_move: 0,
            copies: BTreeMap::new(),
            requests: BTreeMap::new(),
            next_request: 0,
            copied: BTreeMap::new(),
            confirmed: BTreeSet::new(),
            freeze_started: None,
            keys_moved: 0,
            bytes_moved: 0,
            catch_up_copies: 0,
            copy_requests: 0,
            freeze_ms: 0.0,
        }
    }

    fn fact(&self, ctx: &mut Context<'_>, fact: DbFact) {
        ctx.fact(Fact::Db(fact));
    }

    fn start_move(&mut self, ctx: &mut Context<'_>) {
        self.epoch += 1;
        self.moves = (0..self.key_count)
            .filter_map(|key| {
                let (from, to) = (self.old_router.shard_of(key), self.new_router.shard_of(key));
                (from != to).then_some(Move { key, from, to })
            })
            .collect();
        self.fact(
            ctx,
            DbFact::ReshardStarted {
                keyspace: self.keyspace.clone(),
                from_shards: (self.routes.len() - 1) as u32,
                to_shards: self.routes.len() as u32,
                key_count: self.key_count,
                keys_moving: self.moves.len() as u32,
            },
        );
        ctx.state(format!(
            "copying {} of {} keys to the new shard map ({} → {} shards)",
            self.moves.len(),
            self.key_count,
            self.routes.len() - 1,
            self.routes.len()
        ));
        self.phase = Phase::Copying;
        self.begin_pass(ctx);
    }

    fn begin_pass(&mut self, ctx: &mut Context<'_>) {
        self.next_move = 0;
        self.copies.clear();
        self.requests.clear();
        self.fill(ctx);
    }

    /// Starts copies up to `copy_parallelism`; moves on when the pass is done.
    fn fill(&mut self, ctx: &mut Context<'_>) {
        while self.copies.len() < self.spec.copy_parallelism.max(1) as usize
            && self.next_move < self.moves.len()
        {
            let index = self.next_move;
            self.next_move += 1;
            self.copies.insert(
                index,
                CopyInProgress {
                    step: Step::ReadOld,
                    attempts: 0,
                },
            );
            self.send_step(ctx, index);
        }
        if self.copies.is_empty() && self.next_move >= self.moves.len() {
            self.pass_done(ctx);
        }
    }

    fn pass_done(&mut self, ctx: &mut Context<'_>) {
        match self.phase {
            Phase::Copying => match self.spec.cutover {
                ReshardCutover::FreezeAndCatchUp => {
                    self.phase = Phase::Freezing;
                    self.freeze_started = Some(ctx.now());
                    ctx.state(format!(
                        "copied {} keys; freezing moving keys at {} clients",
                        self.moves.len(),
                        self.clients.len()
                    ));
                    self.begin_notices(ctx);
                }
                ReshardCutover::CopyThenSwitch => self.switch(ctx, true),
            },
            Phase::CatchingUp => self.switch(ctx, true),
            _ => {}
        }
    }

    fn switch(&mut self, ctx: &mut Context<'_>, cut_over: bool) {
        if cut_over {
            self.fact(
                ctx,
                DbFact::ReshardCutOver {
                    keyspace: self.keyspace.clone(),
                    keys_moved: self.keys_moved as u32,
                    bytes_moved: self.bytes_moved,
                },
            );
            ctx.state(format!(
                "cut over: {} keys ({} bytes) now served by the new shard map",
                self.keys_moved, self.bytes_moved
            ));
        }
        if let Some(started) = self.freeze_started.take() {
            self.freeze_ms = ctx.now().since(started).as_micros() as f64 / 1_000.0;
        }
        self.phase = Phase::Switching { cut_over };
        self.copies.clear();
        self.requests.clear();
        self.begin_notices(ctx);
    }

    fn abort(&mut self, ctx: &mut Context<'_>, reason: String) {
        self.fact(
            ctx,
            DbFact::ReshardAborted {
                keyspace: self.keyspace.clone(),
                reason: reason.clone(),
            },
        );
        ctx.state(format!(
            "move aborted: {reason}; clients keep the old shards"
        ));
        self.switch(ctx, false);
    }

    fn begin_notices(&mut self, ctx: &mut Context<'_>) {
        self.confirmed.clear();
        self.send_notices(ctx);
    }

    /// Sends the current phase's notice to every client that has not confirmed it.
    fn send_notices(&mut self, ctx: &mut Context<'_>) {
        let message = match self.phase {
            Phase::Freezing => DbMessage::ReshardFreeze { epoch: self.epoch },
            Phase::Switching { cut_over } => DbMessage::ReshardSwitch {
                epoch: self.epoch,
                cut_over,
            },
            _ => return,
        };
        let mut pending = false;
        for client in &self.clients {
            if !self.confirmed.contains(client) {
                pending = true;
                ctx.send(*client, Payload::Db(message.clone()), 64);
            }
        }
        if pending {
            ctx.set_timer(
                SimDuration::from_millis(self.spec.notify_interval_ms),
                TimerTag {
                    kind: TIMER_NOTIFY,
                    id: self.epoch,
                },
            );
        } else {
            self.all_confirmed(ctx);
        }
    }

    fn all_confirmed(&mut self, ctx: &mut Context<'_>) {
        match self.phase {
            Phase::Freezing => {
                self.fact(
                    ctx,
                    DbFact::ReshardFrozen {
                        keyspace: self.keyspace.clone(),
                    },
                );
                ctx.state("every client holds moving keys; catching up");
                self.phase = Phase::CatchingUp;
                self.begin_pass(ctx);
            }
            Phase::Switching { cut_over } => {
                self.phase = Phase::Done { cut_over };
                ctx.state(if cut_over {
                    "every client routes by the new shard map"
                } else {
                    "every client is back on the old shard map"
                });
            }
            _ => {}
        }
    }

    fn confirm(&mut self, ctx: &mut Context<'_>, client: NodeId, epoch: u64, switch: bool) {
        let expected = match self.phase {
            Phase::Freezing => !switch,
            Phase::Switching { .. } => switch,
            _ => false,
        };
        if epoch != self.epoch || !expected || !self.clients.contains(&client) {
            return;
        }
        self.confirmed.insert(client);
        if self.confirmed.len() == self.clients.len() {
            self.all_confirmed(ctx);
        }
    }

    fn target(&mut self, ctx: &mut Context<'_>, database: usize) -> Option<NodeId> {
        if let Some(leader) = self.leaders[database] {
            return Some(leader);
        }
        let members = &self.routes[database].members;
        let index = ctx.rng().pick_index(members.len())?;
        Some(members[index])
    }

    fn send_step(&mut self, ctx: &mut Context<'_>, index: usize) {
        let Some(copy) = self.copies.get_mut(&index) else {
            return;
        };
        if copy.attempts >= self.spec.max_attempts_per_key {
            let movement = self.moves[index];
            let reason = format!(
                "key {} not copied from {} to {} after {} attempts",
                movement.key,
                self.routes[movement.from].name,
                self.routes[movement.to].name,
                copy.attempts
            );
            self.abort(ctx, reason);
            return;
        }
        copy.attempts += 1;
        let step = copy.step;
        let movement = self.moves[index];
        let (database, operation, consistency, size) = match step {
            Step::ReadOld => (
                movement.from,
                DbOperation::Read { key: movement.key },
                ReadConsistency::Leader,
                COPY_MESSAGE_OVERHEAD_BYTES,
            ),
            Step::WriteNew { value } => (
                movement.to,
                DbOperation::Write {
                    key: movement.key,
                    value,
                },
                ReadConsistency::Leader,
                COPY_MESSAGE_OVERHEAD_BYTES.saturating_add(self.spec.value_size_bytes),
            ),
        };
        let Some(target) = self.target(ctx, database) else {
            return;
        };
        let request = self.next_request;
        self.next_request += 1;
        self.requests.retain(|_, copy_index| *copy_index != index);
        self.requests.insert(request, index);
        self.copy_requests += 1;
        ctx.send(
            target,
            Payload::Db(DbMessage::Request {
                request,
                operation,
                consistency,
                context: Vec::new(),
            }),
            size,
        );
        ctx.set_timer(
            SimDuration::from_millis(self.spec.request_timeout_ms),
            TimerTag {
                kind: TIMER_REQUEST_TIMEOUT,
                id: request,
            },
        );
    }

    /// The step of copy `index` succeeded with `values` (read) or was stored (write).
    fn step_ok(&mut self, ctx: &mut Context<'_>, index: usize, values: Vec<u64>) {
        let Some(copy) = self.copies.get_mut(&index) else {
            return;
        };
        let movement = self.moves[index];
        let catch_up = self.phase == Phase::CatchingUp;
        match copy.step {
            Step::ReadOld => {
                let unchanged = catch_up && self.copied.get(&index) == Some(&values);
                match values.first() {
                    Some(value) if !unchanged => {
                        copy.step = Step::WriteNew { value: *value };
                        copy.attempts = 0;
                        self.send_step(ctx, index);
                        return;
                    }
                    _ => {
                        if !unchanged {
                            // Never written: nothing to copy, but the key moves.
                            self.fact(
                                ctx,
                                DbFact::ReshardKeyCopied {
                                    keyspace: self.keyspace.clone(),
                                    key: movement.key,
                                    from: self.routes[movement.from].name.clone(),
                                    to: self.routes[movement.to].name.clone(),
                                    values: Vec::new(),
                                    catch_up,
                                },
                            );
                            self.copied.insert(index, Vec::new());
                        }
                    }
                }
            }
            Step::WriteNew { value } => {
                if self.copied.get(&index).is_none_or(|old| old.is_empty()) {
                    self.keys_moved += 1;
                }
                if catch_up {
                    self.catch_up_copies += 1;
                }
                self.bytes_moved += u64::from(self.spec.value_size_bytes);
                self.copied.insert(index, vec![value]);
                self.fact(
                    ctx,
                    DbFact::ReshardKeyCopied {
                        keyspace: self.keyspace.clone(),
                        key: movement.key,
                        from: self.routes[movement.from].name.clone(),
                        to: self.routes[movement.to].name.clone(),
                        values: vec![value],
                        catch_up,
                    },
                );
            }
        }
        self.copies.remove(&index);
        self.fill(ctx);
    }

    fn retry_later(&mut self, ctx: &mut Context<'_>, index: usize) {
        self.requests.retain(|_, copy_index| *copy_index != index);
        ctx.set_timer(
            SimDuration::from_millis(RETRY_BACKOFF_MS),
            TimerTag {
                kind: TIMER_RETRY,
                id: index as u64,
            },
        );
    }

    fn redirected(
        &mut self,
        ctx: &mut Context<'_>,
        index: usize,
        from: NodeId,
        hint: Option<NodeId>,
    ) {
        let Some(copy) = self.copies.get(&index) else {
            return;
        };
        let movement = self.moves[index];
        let database = match copy.step {
            Step::ReadOld => movement.from,
            Step::WriteNew { .. } => movement.to,
        };
        self.leaders[database] = hint;
        if hint.is_some_and(|hint| hint != from) {
            self.send_step(ctx, index);
        } else {
            self.retry_later(ctx, index);
        }
    }

    fn database_of_step(&self, index: usize) -> Option<usize> {
        let copy = self.copies.get(&index)?;
        let movement = self.moves[index];
        Some(match copy.step {
            Step::ReadOld => movement.from,
            Step::WriteNew { .. } => movement.to,
        })
    }
}

/// The keyspace's name in facts and checkers: its shards joined by `+`.
pub fn keyspace_name(databases: &[&str]) -> String {
    databases.join("+")
}

impl Component for KvShardBalancer {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        let start = SimTime::from_millis(self.spec.add_at_ms);
        ctx.set_timer(
            start.since(ctx.now().min(start)),
            TimerTag {
                kind: TIMER_START,
                id: 0,
            },
        );
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let from = envelope.from;
        match &envelope.payload {
            Payload::Db(DbMessage::ReshardFrozen { epoch }) => {
                self.confirm(ctx, from, *epoch, false)
            }
            Payload::Db(DbMessage::ReshardSwitched { epoch }) => {
                self.confirm(ctx, from, *epoch, true)
            }
            Payload::Db(DbMessage::Response { request, outcome }) => {
                let Some(index) = self.requests.remove(request) else {
                    return; // An answer to an attempt already given up on.
                };
                match outcome {
                    DbOutcome::Ok { values, .. } => {
                        if let Some(database) = self.database_of_step(index) {
                            self.leaders[database] = Some(from);
                        }
                        self.step_ok(ctx, index, values.clone());
                    }
                    DbOutcome::NotPrimary { primary_hint } => {
                        self.redirected(ctx, index, from, *primary_hint)
                    }
                    DbOutcome::Rejected { .. } | DbOutcome::Unavailable { .. } => {
                        self.retry_later(ctx, index)
                    }
                }
            }
            Payload::RaftKvResponse { request, outcome } => {
                let Some(index) = self.requests.remove(request) else {
                    return;
                };
                match outcome {
                    KvOutcome::Ok { value } => {
                        let Some(database) = self.database_of_step(index) else {
                            return;
                        };
                        self.leaders[database] = Some(from);
                        let values = match self.copies.get(&index).map(|copy| copy.step) {
                            Some(Step::WriteNew { value }) => vec![value],
                            _ => value.iter().copied().collect(),
                        };
                        self.step_ok(ctx, index, values);
                    }
                    KvOutcome::NotLeader { leader_hint } => {
                        self.redirected(ctx, index, from, *leader_hint)
                    }
                    KvOutcome::CasMismatch { .. }
                    | KvOutcome::Rejected { .. }
                    | KvOutcome::Lost
                    | KvOutcome::Unknown => {
                        if let Some(database) = self.database_of_step(index) {
                            self.leaders[database] = None;
                        }
                        self.retry_later(ctx, index)
                    }
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_START if self.phase == Phase::Waiting => self.start_move(ctx),
            TIMER_REQUEST_TIMEOUT => {
                if let Some(index) = self.requests.remove(&tag.id) {
                    // The replica believed in did not answer: ask around next time.
                    if let Some(database) = self.database_of_step(index) {
                        self.leaders[database] = None;
                    }
                    self.send_step(ctx, index);
                }
            }
            TIMER_RETRY => {
                let index = tag.id as usize;
                if self.copies.contains_key(&index)
                    && !self
                        .requests
                        .values()
                        .any(|copy_index| *copy_index == index)
                {
                    self.send_step(ctx, index);
                }
            }
            TIMER_NOTIFY if tag.id == self.epoch => self.send_notices(ctx),
            _ => {}
        }
    }

    fn on_crash(&mut self, _ctx: &mut Context<'_>) {
        self.leaders = vec![None; self.routes.len()];
        self.moves.clear();
        self.next_move = 0;
        self.copies.clear();
        self.requests.clear();
        self.copied.clear();
        self.confirmed.clear();
    }

    fn on_restart(&mut self, ctx: &mut Context<'_>) {
        match self.phase {
            Phase::Waiting => self.on_start(ctx),
            // Copy work was volatile: start again (clients that were frozen stay frozen).
            Phase::Copying | Phase::Freezing | Phase::CatchingUp => self.start_move(ctx),
            Phase::Switching { .. } => self.send_notices(ctx),
            Phase::Done { .. } => {}
        }
    }

    fn view(&self) -> ComponentView {
        let phase = match self.phase {
            Phase::Waiting => "waiting",
            Phase::Copying => "copying",
            Phase::Freezing => "freezing",
            Phase::CatchingUp => "catching up",
            Phase::Switching { cut_over: true } => "cutting over",
            Phase::Switching { cut_over: false } => "aborting",
            Phase::Done { cut_over: true } => "done",
            Phase::Done { cut_over: false } => "aborted",
        };
        ComponentView {
            queue_depth: 0,
            in_progress: self.copies.len() as u64,
            badge: format!(
                "{phase} {}/{} keys",
                self.next_move.min(self.moves.len()),
                self.moves.len()
            ),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("keys_reassigned", self.moves.len() as f64),
            ("keys_moved", self.keys_moved as f64),
            ("bytes_moved", self.bytes_moved as f64),
            ("catch_up_copies", self.catch_up_copies as f64),
            ("copy_requests", self.copy_requests as f64),
            ("freeze_ms", self.freeze_ms),
            (
                "cut_over",
                f64::from(u8::from(matches!(
                    self.phase,
                    Phase::Switching { cut_over: true } | Phase::Done { cut_over: true }
                ))),
            ),
        ]
    }
}

/// The sharding of a validated balancer's clients (their first's).
pub fn keyspace_sharding(
    scenario: &crate::scenario::Scenario,
    spec: &KvShardBalancerSpec,
) -> (Vec<String>, KeyspaceSharding) {
    let first = spec.clients.first().and_then(|name| {
        scenario
            .topology
            .nodes
            .iter()
            .find_map(|node| match &node.spec {
                crate::scenario::ComponentSpec::KvClient(client) if &node.id == name => {
                    Some(client)
                }
                _ => None,
            })
    });
    match first {
        Some(client) => (
            client.databases.clone(),
            KeyspaceSharding {
                strategy: client.sharding,
                key_count: client.key_count,
                virtual_nodes_per_shard: client.virtual_nodes_per_shard,
            },
        ),
        None => (
            Vec::new(),
            KeyspaceSharding {
                strategy: ShardingStrategy::Hash,
                key_count: 1,
                virtual_nodes_per_shard: 1,
            },
        ),
    }
}
