//! `coord_client`: a client of the coordination service — a session (connect, ping, disconnect, reconnect, expiry) and one recipe on top of it, as Apache Curator builds them.
//!
//! Session handling follows ZooKeeper's client: ping every third of the
//! session timeout; with no answer for two thirds of it the client calls
//! itself *disconnected* and tries the next server with the same session; a
//! server that says `session_expired` ends it, and the recipe starts over
//! with a new session. While disconnected the client cannot know whether its
//! session is still alive — that gap is where the recipes' classic failures
//! live.
//!
//! Recipes:
//! - `registers`: Jepsen-style read / write / cas (read then version-checked
//!   set) on `/registers/k<n>`, each an operation in the history.
//! - `leader_election`, `lock`, `cron_scheduler`: an ephemeral sequential node
//!   `<path>/n<client>-<seq>`; the lowest sequence leads / holds; every other
//!   contender watches only its predecessor (no herd effect). The token is
//!   the node's czxid. The lock holder writes to a `fenced_storage` every
//!   `write_interval_ms`; the cron leader fires tick `n` at `n × interval_ms`
//!   on its own clock to the executor. With `step_down_on_disconnect` false a
//!   holder keeps acting until it is *told* its session expired — a paused
//!   process is told nothing until it runs again.
//! - `registry_instance` / `registry_watcher`, `config_publisher` /
//!   `config_subscriber`: ephemeral registration and watched reads.

use crate::component::{Component, ComponentView, Context, TimerId, TimerTag};
use crate::components::coord_protocol::{
    CoordError, CoordFact, CoordPayload, CoordRead, CoordRequest, CoordResult, CoordWrite,
    WatchEventKind,
};
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::coord::{CoordClientSpec, CoordRecipe};
use crate::time::{SimDuration, SimTime};
use crate::trace::{Fact, OperationPhase};
use std::collections::BTreeMap;

const TIMER_PING: u32 = 1;
const TIMER_REQUEST_TIMEOUT: u32 = 2;
const TIMER_RECIPE: u32 = 3;
const TIMER_RECONNECT: u32 = 4;
const TIMER_ACTION: u32 = 5;
const TIMER_READ_TIMEOUT: u32 = 6;

/// Requests a client has outstanding at most (one recipe step and pings);
/// the oldest is forgotten beyond it.
const MAX_OUTSTANDING_REQUESTS: usize = 64;
/// Wait before trying the next server after a refusal.
const RECONNECT_BACKOFF_MS: u64 = 100;

/// What an outstanding request is for.
#[derive(Clone, Debug, PartialEq)]
enum Purpose {
    CreateSession,
    Ping,
    /// A register read (`key`), operation `op`.
    RegisterRead {
        op: u64,
        key: u32,
    },
    RegisterWrite {
        op: u64,
    },
    /// The read half of a cas.
    CasRead {
        op: u64,
        key: u32,
        expected: u64,
        new: u64,
    },
    CasWrite {
        op: u64,
    },
    ContenderCreate,
    ContenderList,
    /// Resolving our own node after a create timed out.
    ContenderFind {
        name: String,
    },
    ContenderWatch {
        predecessor: String,
    },
    LockRelease,
    RegistryCreate,
    RegistryList,
    ConfigSet,
    ConfigGet,
}

#[derive(Clone)]
struct Outstanding {
    purpose: Purpose,
    timer: TimerId,
}

/// Where a contender (election, lock, cron) stands.
#[derive(Clone, Debug, PartialEq)]
enum Contender {
    Idle,
    /// Our node's name (under the recipe path) and czxid.
    Joined {
        name: String,
        token: u64,
    },
    Leading {
        name: String,
        token: u64,
    },
}

#[derive(Clone)]
pub struct CoordClient {
    spec: CoordClientSpec,
    servers: Vec<NodeId>,
    /// Storage (lock) or executor (cron) node.
    target: Option<NodeId>,
    server_position: usize,
    session: u64,
    negotiated_timeout_ms: u64,
    connected: bool,
    last_heard: SimTime,
    next_xid: u64,
    outstanding: BTreeMap<u64, Outstanding>,
    ping_timer: Option<TimerId>,
    /// Fires two thirds of the session timeout after the last answer.
    read_timer: Option<TimerId>,
    recipe_timer: Option<TimerId>,
    action_timer: Option<TimerId>,
    next_operation: u64,
    contender: Contender,
    /// Our node name prefix: `n<client id>-`.
    prefix: String,
    storage_writes: u64,
    /// Cron: the next tick this leader will fire.
    next_tick: u64,
    config_version: u64,
    sessions_started: u64,
    sessions_expired: u64,
    disconnects: u64,
    leaderships: u64,
    operations_ok: u64,
    operations_failed: u64,
    operations_unknown: u64,
    writes_rejected: u64,
}

impl CoordClient {
    pub fn new(
        spec: &CoordClientSpec,
        me: NodeId,
        servers: Vec<NodeId>,
        target: Option<NodeId>,
    ) -> CoordClient {
        CoordClient {
            spec: spec.clone(),
            servers,
            target,
            server_position: me.index(),
            session: 0,
            negotiated_timeout_ms: spec.session_timeout_ms,
            connected: false,
            last_heard: SimTime::ZERO,
            next_xid: 1,
            outstanding: BTreeMap::new(),
            ping_timer: None,
            read_timer: None,
            recipe_timer: None,
            action_timer: None,
            next_operation: 0,
            contender: Contender::Idle,
            prefix: format!("n{}-", me.0),
            storage_writes: 0,
            next_tick: 0,
            config_version: 0,
            sessions_started: 0,
            sessions_expired: 0,
            disconnects: 0,
            leaderships: 0,
            operations_ok: 0,
            operations_failed: 0,
            operations_unknown: 0,
            writes_rejected: 0,
        }
    }

    fn server(&self) -> NodeId {
        self.servers[self.server_position % self.servers.len()]
    }

    fn recipe_path(&self) -> &str {
        match &self.spec.recipe {
            CoordRecipe::Registers(_) => "/registers",
            CoordRecipe::LeaderElection(recipe) => &recipe.path,
            CoordRecipe::Lock(recipe) => &recipe.path,
            CoordRecipe::CronScheduler(recipe) => &recipe.path,
            CoordRecipe::RegistryInstance(recipe)
            | CoordRecipe::RegistryWatcher(recipe)
            | CoordRecipe::ConfigSubscriber(recipe) => &recipe.path,
            CoordRecipe::ConfigPublisher(recipe) => &recipe.path,
        }
    }

    fn step_down_on_disconnect(&self) -> bool {
        match &self.spec.recipe {
            CoordRecipe::LeaderElection(recipe) => recipe.step_down_on_disconnect,
            CoordRecipe::Lock(recipe) => recipe.step_down_on_disconnect,
            CoordRecipe::CronScheduler(recipe) => recipe.step_down_on_disconnect,
            _ => false,
        }
    }

    // ---- requests ----

    fn request(&mut self, ctx: &mut Context<'_>, request: CoordRequest, purpose: Purpose) {
        if self.outstanding.len() >= MAX_OUTSTANDING_REQUESTS
            && let Some((&oldest, _)) = self.outstanding.iter().next()
            && let Some(old) = self.outstanding.remove(&oldest)
        {
            ctx.cancel_timer(old.timer);
        }
        let xid = self.next_xid;
        self.next_xid += 1;
        let timer = ctx.set_timer(
            SimDuration::from_millis(self.spec.request_timeout_ms),
            TimerTag {
                kind: TIMER_REQUEST_TIMEOUT,
                id: xid,
            },
        );
        self.outstanding.insert(xid, Outstanding { purpose, timer });
        ctx.send(
            self.server(),
            Payload::Coord(CoordPayload::Request {
                xid,
                session: self.session,
                request,
            }),
            96,
        );
    }

    fn write(&mut self, ctx: &mut Context<'_>, write: CoordWrite, purpose: Purpose) {
        self.request(ctx, CoordRequest::Write(write), purpose);
    }

    fn read(&mut self, ctx: &mut Context<'_>, read: CoordRead, sync: bool, purpose: Purpose) {
        self.request(ctx, CoordRequest::Read { read, sync }, purpose);
    }

    fn set_recipe_timer(&mut self, ctx: &mut Context<'_>, after: SimDuration) {
        if let Some(timer) = self.recipe_timer.take() {
            ctx.cancel_timer(timer);
        }
        self.recipe_timer = Some(ctx.set_timer(
            after,
            TimerTag {
                kind: TIMER_RECIPE,
                id: 0,
            },
        ));
    }

    fn set_action_timer(&mut self, ctx: &mut Context<'_>, after: SimDuration) {
        if let Some(timer) = self.action_timer.take() {
            ctx.cancel_timer(timer);
        }
        self.action_timer = Some(ctx.set_timer(
            after,
            TimerTag {
                kind: TIMER_ACTION,
                id: 0,
            },
        ));
    }

    fn cancel_action_timer(&mut self, ctx: &mut Context<'_>) {
        if let Some(timer) = self.action_timer.take() {
            ctx.cancel_timer(timer);
        }
    }

    // ---- session ----

    fn connect(&mut self, ctx: &mut Context<'_>) {
        self.session = 0;
        self.connected = false;
        self.write(
            ctx,
            CoordWrite::CreateSession {
                timeout_ms: self.spec.session_timeout_ms,
            },
            Purpose::CreateSession,
        );
    }

    fn arm_ping(&mut self, ctx: &mut Context<'_>) {
        if let Some(timer) = self.ping_timer.take() {
            ctx.cancel_timer(timer);
        }
        self.ping_timer = Some(ctx.set_timer(
            SimDuration::from_millis((self.negotiated_timeout_ms / 3).max(1)),
            TimerTag {
                kind: TIMER_PING,
                id: 0,
            },
        ));
    }

    fn on_ping_timer(&mut self, ctx: &mut Context<'_>) {
        self.ping_timer = None;
        if self.session != 0 {
            self.request(ctx, CoordRequest::Ping, Purpose::Ping);
        }
        self.arm_ping(ctx);
    }

    /// Restarts the read timeout: two thirds of the session timeout from now.
    fn arm_read_timeout(&mut self, ctx: &mut Context<'_>) {
        if let Some(timer) = self.read_timer.take() {
            ctx.cancel_timer(timer);
        }
        self.read_timer = Some(ctx.set_timer(
            SimDuration::from_millis((self.negotiated_timeout_ms * 2 / 3).max(1)),
            TimerTag {
                kind: TIMER_READ_TIMEOUT,
                id: 0,
            },
        ));
    }

    /// Nothing heard for two thirds of the session timeout.
    fn on_read_timeout(&mut self, ctx: &mut Context<'_>) {
        self.read_timer = None;
        if self.session == 0 {
            return;
        }
        if self.connected {
            self.disconnected(ctx, "no answer for 2/3 of the session timeout");
        }
        // Try the next server with the same session, and keep trying.
        self.server_position += 1;
        self.request(ctx, CoordRequest::Ping, Purpose::Ping);
        self.arm_read_timeout(ctx);
    }

    fn disconnected(&mut self, ctx: &mut Context<'_>, why: &str) {
        self.connected = false;
        self.disconnects += 1;
        ctx.state(format!("disconnected s{}: {why}", self.session));
        if self.step_down_on_disconnect() {
            self.step_down(ctx, "connection lost (step down on disconnect)");
        }
    }

    fn heard(&mut self, ctx: &mut Context<'_>) {
        self.last_heard = ctx.local_clock();
        if self.session != 0 {
            self.arm_read_timeout(ctx);
        }
        if !self.connected && self.session != 0 {
            self.connected = true;
            ctx.state(format!(
                "reconnected s{} to n{}",
                self.session,
                self.server().0
            ));
            self.resume_recipe(ctx);
        }
    }

    fn session_expired(&mut self, ctx: &mut Context<'_>) {
        if self.session == 0 {
            return;
        }
        self.sessions_expired += 1;
        ctx.state(format!(
            "session s{} expired: starting a new one",
            self.session
        ));
        self.step_down(ctx, "session expired");
        self.contender = Contender::Idle;
        for (_, outstanding) in std::mem::take(&mut self.outstanding) {
            ctx.cancel_timer(outstanding.timer);
            self.abandon(ctx, &outstanding.purpose, OperationPhase::Fail);
        }
        self.connect(ctx);
    }

    // ---- recipes ----

    /// A new session exists: start the recipe from scratch.
    fn start_recipe(&mut self, ctx: &mut Context<'_>) {
        match self.spec.recipe.clone() {
            CoordRecipe::Registers(_) | CoordRecipe::ConfigPublisher(_) => {
                if self.recipe_timer.is_none() {
                    self.set_recipe_timer(ctx, SimDuration::from_millis(1));
                }
            }
            CoordRecipe::LeaderElection(_)
            | CoordRecipe::Lock(_)
            | CoordRecipe::CronScheduler(_) => {
                self.join(ctx);
            }
            CoordRecipe::RegistryInstance(recipe) => {
                let path = format!("{}/instance-n{}", recipe.path, ctx.node().0);
                self.write(
                    ctx,
                    CoordWrite::Create {
                        path,
                        data: u64::from(ctx.node().0),
                        ephemeral: true,
                        sequential: false,
                    },
                    Purpose::RegistryCreate,
                );
            }
            CoordRecipe::RegistryWatcher(recipe) => self.read(
                ctx,
                CoordRead::GetChildren {
                    path: recipe.path,
                    watch: true,
                },
                false,
                Purpose::RegistryList,
            ),
            CoordRecipe::ConfigSubscriber(recipe) => self.read(
                ctx,
                CoordRead::GetData {
                    path: recipe.path,
                    watch: true,
                },
                false,
                Purpose::ConfigGet,
            ),
        }
    }

    /// Reconnected with the same session: watches set on the old server are
    /// gone, so read again (Curator re-checks its position the same way).
    fn resume_recipe(&mut self, ctx: &mut Context<'_>) {
        match &self.spec.recipe {
            CoordRecipe::LeaderElection(_)
            | CoordRecipe::Lock(_)
            | CoordRecipe::CronScheduler(_)
                if self.contender != Contender::Idle =>
            {
                self.list_contenders(ctx);
            }
            CoordRecipe::RegistryWatcher(_) | CoordRecipe::ConfigSubscriber(_) => {
                self.start_recipe(ctx);
            }
            _ => {}
        }
    }

    fn join(&mut self, ctx: &mut Context<'_>) {
        let path = format!("{}/{}", self.recipe_path(), self.prefix);
        self.write(
            ctx,
            CoordWrite::Create {
                path,
                data: u64::from(ctx.node().0),
                ephemeral: true,
                sequential: true,
            },
            Purpose::ContenderCreate,
        );
    }

    fn list_contenders(&mut self, ctx: &mut Context<'_>) {
        let path = self.recipe_path().to_string();
        self.read(
            ctx,
            CoordRead::GetChildren { path, watch: false },
            false,
            Purpose::ContenderList,
        );
    }

    /// The sequence suffix of a contender node (`n7-0000000003` → 3).
    fn sequence_of(name: &str) -> u64 {
        name.rsplit('-')
            .next()
            .and_then(|suffix| suffix.parse().ok())
            .unwrap_or(u64::MAX)
    }

    fn on_contenders(&mut self, ctx: &mut Context<'_>, mut names: Vec<String>) {
        let (name, token) = match &self.contender {
            Contender::Joined { name, token } | Contender::Leading { name, token } => {
                (name.clone(), *token)
            }
            Contender::Idle => return,
        };
        names.sort_by_key(|name| Self::sequence_of(name));
        let Some(position) = names.iter().position(|candidate| *candidate == name) else {
            // Our node is gone (its session ended on the ensemble): join again.
            self.step_down(ctx, "its node was deleted");
            self.contender = Contender::Idle;
            self.join(ctx);
            return;
        };
        if position == 0 {
            self.become_leader(ctx, name, token);
        } else {
            let predecessor = names[position - 1].clone();
            let path = format!("{}/{predecessor}", self.recipe_path());
            self.read(
                ctx,
                CoordRead::Exists { path, watch: true },
                false,
                Purpose::ContenderWatch { predecessor },
            );
        }
    }

    fn become_leader(&mut self, ctx: &mut Context<'_>, name: String, token: u64) {
        if matches!(self.contender, Contender::Leading { .. }) {
            return;
        }
        if !self.connected && self.step_down_on_disconnect() {
            return;
        }
        self.contender = Contender::Leading {
            name: name.clone(),
            token,
        };
        self.leaderships += 1;
        let group = self.recipe_path().to_string();
        ctx.fact(Fact::Coord(CoordFact::Leader {
            group: group.clone(),
            token,
        }));
        ctx.state(format!("leads {group} as {name} token={token}"));
        match self.spec.recipe.clone() {
            CoordRecipe::Lock(recipe) => {
                self.set_action_timer(ctx, SimDuration::from_millis(1));
                self.set_recipe_timer(ctx, SimDuration::from_millis(recipe.hold_ms));
            }
            CoordRecipe::CronScheduler(recipe) => {
                let now_ms = ctx.local_clock().as_micros() / 1_000;
                self.next_tick = now_ms / recipe.interval_ms + 1;
                self.arm_next_tick(ctx, recipe.interval_ms);
            }
            _ => {}
        }
    }

    fn arm_next_tick(&mut self, ctx: &mut Context<'_>, interval_ms: u64) {
        let due_us = self.next_tick * interval_ms * 1_000;
        let now_us = ctx.local_clock().as_micros();
        self.set_action_timer(
            ctx,
            SimDuration::from_micros(due_us.saturating_sub(now_us).max(1)),
        );
    }

    /// Stop acting as leader/holder (the node may still exist).
    fn step_down(&mut self, ctx: &mut Context<'_>, reason: &str) {
        let Contender::Leading { name, token } = self.contender.clone() else {
            return;
        };
        self.contender = Contender::Joined { name, token };
        self.cancel_action_timer(ctx);
        let group = self.recipe_path().to_string();
        ctx.fact(Fact::Coord(CoordFact::LeaderStepDown {
            group: group.clone(),
            token,
            reason: reason.to_string(),
        }));
        ctx.state(format!("steps down from {group}: {reason}"));
    }

    /// The lock holder's or cron leader's periodic action.
    fn on_action_timer(&mut self, ctx: &mut Context<'_>) {
        self.action_timer = None;
        let Contender::Leading { token, .. } = self.contender else {
            return;
        };
        let Some(target) = self.target else {
            return;
        };
        match self.spec.recipe.clone() {
            CoordRecipe::Lock(recipe) => {
                self.storage_writes += 1;
                ctx.send(
                    target,
                    Payload::Coord(CoordPayload::StorageWrite {
                        resource: recipe.path.clone(),
                        token: if recipe.fencing { token } else { 0 },
                        write: self.storage_writes,
                    }),
                    96,
                );
                self.set_action_timer(ctx, SimDuration::from_millis(recipe.write_interval_ms));
            }
            CoordRecipe::CronScheduler(recipe) => {
                ctx.send(
                    target,
                    Payload::Coord(CoordPayload::StorageWrite {
                        resource: recipe.path.clone(),
                        token: if recipe.fencing { token } else { 0 },
                        write: self.next_tick,
                    }),
                    96,
                );
                self.next_tick += 1;
                self.arm_next_tick(ctx, recipe.interval_ms);
            }
            _ => {}
        }
    }

    fn on_recipe_timer(&mut self, ctx: &mut Context<'_>) {
        self.recipe_timer = None;
        match self.spec.recipe.clone() {
            CoordRecipe::Registers(recipe) => {
                if recipe
                    .stop_ms
                    .is_some_and(|stop_ms| ctx.now() >= SimTime::from_millis(stop_ms))
                {
                    return;
                }
                if self.session == 0 || !self.connected {
                    self.set_recipe_timer(ctx, SimDuration::from_millis(RECONNECT_BACKOFF_MS));
                    return;
                }
                self.invoke_register_operation(ctx, &recipe);
            }
            CoordRecipe::ConfigPublisher(recipe) => {
                if recipe
                    .stop_ms
                    .is_some_and(|stop_ms| ctx.now() >= SimTime::from_millis(stop_ms))
                {
                    return;
                }
                if self.session != 0 && self.connected {
                    self.config_version += 1;
                    self.write(
                        ctx,
                        CoordWrite::SetData {
                            path: recipe.path.clone(),
                            data: self.config_version,
                            expected_version: None,
                        },
                        Purpose::ConfigSet,
                    );
                }
                self.set_recipe_timer(ctx, SimDuration::from_millis(recipe.interval_ms));
            }
            CoordRecipe::Lock(recipe) => match self.contender.clone() {
                // Hold time is over: release.
                Contender::Leading { name, .. } => {
                    self.step_down(ctx, "released after hold_ms");
                    self.write(
                        ctx,
                        CoordWrite::Delete {
                            path: format!("{}/{name}", recipe.path),
                            expected_version: None,
                        },
                        Purpose::LockRelease,
                    );
                    self.contender = Contender::Idle;
                    self.set_recipe_timer(ctx, SimDuration::from_millis(recipe.pause_between_ms));
                }
                // The pause between holds is over: contend again.
                Contender::Idle if self.session != 0 => self.join(ctx),
                _ => {}
            },
            CoordRecipe::RegistryInstance(_) => self.start_recipe(ctx),
            _ => {}
        }
    }

    fn invoke_register_operation(
        &mut self,
        ctx: &mut Context<'_>,
        recipe: &crate::scenario::coord::RegistersRecipe,
    ) {
        let key = ctx.rng().below(u64::from(recipe.key_count.max(1))) as u32;
        let path = format!("/registers/k{key}");
        let value = 1 + ctx.rng().below(recipe.value_count.max(1));
        let roll = ctx.rng().next_f64();
        let op = self.next_operation;
        self.next_operation += 1;
        if roll < recipe.read_fraction {
            ctx.operation(op, OperationPhase::Invoke, format!("read k={key}"));
            self.read(
                ctx,
                CoordRead::GetData { path, watch: false },
                recipe.sync_reads,
                Purpose::RegisterRead { op, key },
            );
        } else if roll < recipe.read_fraction + recipe.cas_fraction {
            let expected = 1 + ctx.rng().below(recipe.value_count.max(1));
            ctx.operation(
                op,
                OperationPhase::Invoke,
                format!("cas k={key} {expected}->{value}"),
            );
            self.read(
                ctx,
                CoordRead::GetData { path, watch: false },
                recipe.sync_reads,
                Purpose::CasRead {
                    op,
                    key,
                    expected,
                    new: value,
                },
            );
        } else {
            ctx.operation(
                op,
                OperationPhase::Invoke,
                format!("write k={key} v={value}"),
            );
            self.write(
                ctx,
                CoordWrite::SetData {
                    path,
                    data: value,
                    expected_version: None,
                },
                Purpose::RegisterWrite { op },
            );
        }
    }

    fn finish_operation(
        &mut self,
        ctx: &mut Context<'_>,
        op: u64,
        phase: OperationPhase,
        detail: String,
    ) {
        match phase {
            OperationPhase::Ok => self.operations_ok += 1,
            OperationPhase::Fail => self.operations_failed += 1,
            _ => self.operations_unknown += 1,
        }
        ctx.operation(op, phase, detail);
        if let CoordRecipe::Registers(recipe) = &self.spec.recipe {
            let think = recipe.think_time.sample(ctx.rng());
            self.set_recipe_timer(ctx, think.max(SimDuration::from_micros(1)));
        }
    }

    /// A request will never be answered (timeout, expiry): end its operation
    /// (`info`: it may have happened) or retry the recipe step.
    fn abandon(&mut self, ctx: &mut Context<'_>, purpose: &Purpose, phase: OperationPhase) {
        match purpose {
            Purpose::RegisterRead { op, .. } | Purpose::CasRead { op, .. } => {
                // A read that never answered changed nothing: it failed.
                self.finish_operation(ctx, *op, OperationPhase::Fail, String::new());
            }
            Purpose::RegisterWrite { op } | Purpose::CasWrite { op } => {
                self.finish_operation(ctx, *op, phase, String::new());
            }
            Purpose::CreateSession if phase == OperationPhase::Info => {
                self.server_position += 1;
                self.connect(ctx);
            }
            Purpose::ContenderCreate if phase == OperationPhase::Info && self.session != 0 => {
                // The node may exist: look for ours before creating another
                // (Curator's protected mode).
                self.read(
                    ctx,
                    CoordRead::GetChildren {
                        path: self.recipe_path().to_string(),
                        watch: false,
                    },
                    false,
                    Purpose::ContenderFind {
                        name: self.prefix.clone(),
                    },
                );
            }
            Purpose::ContenderList | Purpose::ContenderWatch { .. }
                if phase == OperationPhase::Info && self.session != 0 =>
            {
                self.list_contenders(ctx);
            }
            Purpose::RegistryList | Purpose::ConfigGet
                if phase == OperationPhase::Info && self.session != 0 =>
            {
                self.start_recipe(ctx);
            }
            _ => {}
        }
    }

    fn on_reply(&mut self, ctx: &mut Context<'_>, xid: u64, result: CoordResult) {
        let Some(outstanding) = self.outstanding.remove(&xid) else {
            return;
        };
        ctx.cancel_timer(outstanding.timer);
        match &result {
            CoordResult::Error(CoordError::NotServing) => {
                // This server cannot help: try the next one.
                if self.connected {
                    self.disconnected(ctx, "server not serving");
                }
                self.server_position += 1;
                match outstanding.purpose {
                    Purpose::CreateSession => {
                        ctx.set_timer(
                            SimDuration::from_millis(RECONNECT_BACKOFF_MS),
                            TimerTag {
                                kind: TIMER_RECONNECT,
                                id: 0,
                            },
                        );
                    }
                    // Refused before the log: it did not happen.
                    ref purpose => {
                        self.abandon(ctx, purpose, OperationPhase::Fail);
                        if matches!(purpose, Purpose::ContenderCreate) {
                            self.set_recipe_timer(
                                ctx,
                                SimDuration::from_millis(RECONNECT_BACKOFF_MS),
                            );
                        }
                    }
                }
                return;
            }
            CoordResult::Error(CoordError::SessionExpired) if self.session != 0 => {
                self.last_heard = ctx.local_clock();
                self.abandon(ctx, &outstanding.purpose, OperationPhase::Fail);
                self.session_expired(ctx);
                return;
            }
            _ => {}
        }
        self.heard(ctx);
        match (outstanding.purpose, result) {
            (
                Purpose::CreateSession,
                CoordResult::SessionCreated {
                    session,
                    timeout_ms,
                },
            ) => {
                self.session = session;
                self.negotiated_timeout_ms = timeout_ms;
                self.connected = true;
                self.sessions_started += 1;
                ctx.state(format!(
                    "session s{session} timeout={timeout_ms}ms via n{}",
                    self.server().0
                ));
                self.arm_ping(ctx);
                self.arm_read_timeout(ctx);
                self.start_recipe(ctx);
            }
            (Purpose::RegisterRead { op, key }, CoordResult::Data { data, .. }) => {
                self.finish_operation(
                    ctx,
                    op,
                    OperationPhase::Ok,
                    format!("read k={key} v={data}"),
                );
            }
            (
                Purpose::CasRead {
                    op,
                    key,
                    expected,
                    new,
                },
                CoordResult::Data { data, version, .. },
            ) => {
                if data != expected {
                    self.finish_operation(
                        ctx,
                        op,
                        OperationPhase::Fail,
                        format!("cas k={key} found {data}"),
                    );
                } else {
                    self.write(
                        ctx,
                        CoordWrite::SetData {
                            path: format!("/registers/k{key}"),
                            data: new,
                            expected_version: Some(version),
                        },
                        Purpose::CasWrite { op },
                    );
                }
            }
            (Purpose::RegisterWrite { op } | Purpose::CasWrite { op }, CoordResult::Set { .. }) => {
                self.finish_operation(ctx, op, OperationPhase::Ok, String::new());
            }
            (
                Purpose::RegisterRead { op, .. }
                | Purpose::CasRead { op, .. }
                | Purpose::RegisterWrite { op }
                | Purpose::CasWrite { op },
                other,
            ) => {
                self.finish_operation(ctx, op, OperationPhase::Fail, other.to_string());
            }
            (Purpose::ContenderCreate, CoordResult::Created { path, czxid }) => {
                let name = path.rsplit('/').next().unwrap_or_default().to_string();
                self.contender = Contender::Joined { name, token: czxid };
                self.list_contenders(ctx);
            }
            (Purpose::ContenderList, CoordResult::Children { names }) => {
                self.on_contenders(ctx, names);
            }
            (Purpose::ContenderFind { name: prefix }, CoordResult::Children { names }) => {
                match names.into_iter().find(|name| name.starts_with(&prefix)) {
                    Some(name) => {
                        let path = format!("{}/{name}", self.recipe_path());
                        // Learn its czxid, then take part as usual.
                        self.contender = Contender::Joined { name, token: 0 };
                        self.read(
                            ctx,
                            CoordRead::Exists { path, watch: false },
                            false,
                            Purpose::ContenderWatch {
                                predecessor: String::new(),
                            },
                        );
                    }
                    None => self.join(ctx),
                }
            }
            (Purpose::ContenderWatch { predecessor }, CoordResult::Exists { stat }) => {
                if predecessor.is_empty() {
                    // The answer to ContenderFind's lookup of our own node.
                    if let (Some((_, czxid)), Contender::Joined { name, .. }) =
                        (stat, self.contender.clone())
                    {
                        self.contender = Contender::Joined { name, token: czxid };
                    }
                    self.list_contenders(ctx);
                } else if stat.is_none() {
                    // The predecessor left before the watch was set.
                    self.list_contenders(ctx);
                }
            }
            (Purpose::RegistryCreate, CoordResult::Error(CoordError::NodeExists)) => {
                // Our previous session's node is still there until it expires.
                self.set_recipe_timer(
                    ctx,
                    SimDuration::from_millis(self.negotiated_timeout_ms / 4 + 1),
                );
            }
            (Purpose::RegistryList, CoordResult::Children { names }) => {
                ctx.fact(Fact::Coord(CoordFact::RegistryView {
                    path: self.recipe_path().to_string(),
                    instances: names,
                }));
            }
            (Purpose::ConfigGet, CoordResult::Data { data, version, .. }) => {
                ctx.fact(Fact::Coord(CoordFact::ConfigSeen {
                    path: self.recipe_path().to_string(),
                    data,
                    version,
                }));
            }
            (Purpose::ContenderCreate, _) => {
                self.set_recipe_timer(ctx, SimDuration::from_millis(RECONNECT_BACKOFF_MS));
            }
            _ => {}
        }
    }

    fn on_watch(&mut self, ctx: &mut Context<'_>, path: &str, kind: WatchEventKind) {
        self.heard(ctx);
        match &self.spec.recipe {
            CoordRecipe::LeaderElection(_)
            | CoordRecipe::Lock(_)
            | CoordRecipe::CronScheduler(_)
                if kind == WatchEventKind::NodeDeleted =>
            {
                // Our predecessor left: check whether we lead now.
                let _ = path;
                self.list_contenders(ctx);
            }
            CoordRecipe::RegistryWatcher(_) | CoordRecipe::ConfigSubscriber(_) => {
                self.start_recipe(ctx);
            }
            _ => {}
        }
    }

    fn on_storage_reply(&mut self, ctx: &mut Context<'_>, accepted: bool, highest_token: u64) {
        if accepted {
            return;
        }
        self.writes_rejected += 1;
        ctx.error("coord_fenced_write_rejected");
        if matches!(self.contender, Contender::Leading { .. }) {
            self.step_down(
                ctx,
                &format!("storage saw a newer token ({highest_token}): fenced off"),
            );
            if self.session != 0 {
                self.list_contenders(ctx);
            }
        }
    }
}

impl Component for CoordClient {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.last_heard = ctx.local_clock();
        self.connect(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let Payload::Coord(message) = &envelope.payload else {
            return;
        };
        match message {
            CoordPayload::Reply { xid, result } => self.on_reply(ctx, *xid, result.clone()),
            CoordPayload::Watch { path, kind } => self.on_watch(ctx, path, *kind),
            CoordPayload::StorageWriteReply {
                accepted,
                highest_token,
                ..
            } => self.on_storage_reply(ctx, *accepted, *highest_token),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_PING => self.on_ping_timer(ctx),
            TIMER_READ_TIMEOUT => self.on_read_timeout(ctx),
            TIMER_REQUEST_TIMEOUT => {
                if let Some(outstanding) = self.outstanding.remove(&tag.id) {
                    self.abandon(ctx, &outstanding.purpose, OperationPhase::Info);
                }
            }
            TIMER_RECIPE => self.on_recipe_timer(ctx),
            TIMER_ACTION => self.on_action_timer(ctx),
            TIMER_RECONNECT if self.session == 0 => self.connect(ctx),
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        // A client process keeps nothing: its session dies on the ensemble
        // after the timeout, taking its ephemeral nodes with it.
        if let Contender::Leading { token, .. } = self.contender {
            ctx.fact(Fact::Coord(CoordFact::LeaderStepDown {
                group: self.recipe_path().to_string(),
                token,
                reason: "crashed".to_string(),
            }));
        }
        for (op, phase) in self
            .outstanding
            .values()
            .filter_map(|outstanding| match outstanding.purpose {
                Purpose::RegisterWrite { op } | Purpose::CasWrite { op } => {
                    Some((op, OperationPhase::Info))
                }
                Purpose::RegisterRead { op, .. } | Purpose::CasRead { op, .. } => {
                    Some((op, OperationPhase::Fail))
                }
                _ => None,
            })
            .collect::<Vec<_>>()
        {
            ctx.operation(op, phase, "crashed");
        }
        self.outstanding.clear();
        self.session = 0;
        self.connected = false;
        self.contender = Contender::Idle;
        self.ping_timer = None;
        self.read_timer = None;
        self.recipe_timer = None;
        self.action_timer = None;
        ctx.state("crashed: session abandoned");
    }

    fn view(&self) -> ComponentView {
        let role = match &self.contender {
            Contender::Leading { .. } => "leading",
            Contender::Joined { .. } => "waiting",
            Contender::Idle => "",
        };
        ComponentView {
            queue_depth: 0,
            in_progress: self.outstanding.len() as u64,
            badge: format!(
                "s{} {}{}",
                self.session,
                if self.connected {
                    "connected"
                } else {
                    "disconnected"
                },
                if role.is_empty() {
                    String::new()
                } else {
                    format!(" {role}")
                }
            ),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("sessions_started", self.sessions_started as f64),
            ("sessions_expired", self.sessions_expired as f64),
            ("disconnects", self.disconnects as f64),
            ("leaderships", self.leaderships as f64),
            ("storage_writes", self.storage_writes as f64),
            ("writes_rejected", self.writes_rejected as f64),
            ("operations_ok", self.operations_ok as f64),
            ("operations_failed", self.operations_failed as f64),
            ("operations_unknown", self.operations_unknown as f64),
        ]
    }
}
