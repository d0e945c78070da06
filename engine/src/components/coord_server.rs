//! `coord_server`: one server of a ZooKeeper/etcd-like coordination service — a znode tree replicated by the shared Raft core, with sessions measured by the leader and one-shot watches.
//!
//! How it follows ZooKeeper:
//! - Writes (and session creation/closing) are log commands. A server that
//!   does not lead forwards them to the leader; every server applies them in
//!   log order, and the server the client is connected to answers when *it*
//!   applies the entry (so a client sees its own writes).
//! - Reads are answered from the connected server's applied tree: possibly
//!   stale. With `sync` a no-op first goes through the log, and the read is
//!   answered when the server applies it (ZooKeeper's `sync` + read).
//! - A server that knows no leader (cut off from the majority, or during an
//!   election) refuses requests (`not_serving`), as a ZooKeeper server in the
//!   LOOKING state drops its clients: the minority side refuses writes.
//! - Sessions: clients ping the server they are connected to; it tells the
//!   leader (`touch`). The leader measures each session on its own clock and
//!   proposes `close_session expired` when `timeout_ms` passes without a
//!   touch; applying it deletes the session's ephemeral nodes. A new leader
//!   gives every session a fresh timeout (as ZooKeeper's does).
//! - Watches live on the server that set them (lost with it, as in
//!   ZooKeeper, where the client re-registers them on reconnect); each
//!   fires once.
//!
//! Departures: data is a number, not bytes; no ACLs, quotas or multi-ops;
//! a forwarded write lost in a leader change is not retried by the server
//! (the client's request times out as unknown).

use crate::component::{Component, ComponentView, Context, TimerId, TimerTag};
use crate::components::coord_protocol::{
    CoordCommand, CoordError, CoordFact, CoordPayload, CoordRead, CoordRequest, CoordResult,
    CoordWrite, TreeChange, WatchEventKind, ZNode, ZTree,
};
use crate::message::{Envelope, NodeId, Payload};
use crate::raft::{
    EntryPayload, ProposeError, RaftAction, RaftConfig, RaftCore, RaftEnv, RaftRole, RaftTimer,
};
use crate::scenario::CoordServerSpec;
use crate::scenario::limits::{MAX_COORD_SESSIONS, MAX_COORD_WATCHES_PER_SERVER};
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use std::collections::{BTreeMap, BTreeSet};

const TIMER_ELECTION: u32 = 1;
const TIMER_HEARTBEAT: u32 = 2;
const TIMER_SESSION_CHECK: u32 = 3;

/// Requests accepted and not yet answered, per server. Each is answered or
/// forgotten when its entry is applied; a leader change can strand some, so
/// the oldest are forgotten beyond this bound (their clients time out).
const MAX_AWAITING_REQUESTS: usize = 100_000;

type CoordCore = RaftCore<CoordCommand, ZTree>;
type CoordAction = RaftAction<CoordCommand, ZTree>;

#[derive(Clone)]
pub struct CoordServer {
    core: CoordCore,
    tree: ZTree,
    /// The tree before any command: the `initial_znodes`.
    initial_tree: ZTree,
    min_session_timeout_ms: u64,
    max_session_timeout_ms: u64,
    session_check_interval: SimDuration,
    timers: BTreeMap<RaftTimer, TimerId>,
    /// (client, xid) of writes this server accepted, waiting for their entry.
    awaiting: BTreeSet<(NodeId, u64)>,
    /// Reads waiting for their `sync` entry, by (client, xid).
    reads_after_sync: BTreeMap<(NodeId, u64), CoordRead>,
    /// One-shot watches set through this server: path → clients.
    data_watches: BTreeMap<String, BTreeSet<NodeId>>,
    child_watches: BTreeMap<String, BTreeSet<NodeId>>,
    watch_count: usize,
    /// Leader only: when each session was last heard of, on this node's clock.
    session_last_heard: BTreeMap<u64, SimTime>,
    /// Leader only: sessions whose expiry is proposed and not yet applied.
    expiring: BTreeSet<u64>,
    writes_applied: u64,
    requests_refused: u64,
    sessions_expired: u64,
    watches_fired: u64,
}

impl CoordServer {
    pub fn new(spec: &CoordServerSpec, me: NodeId, members: Vec<NodeId>) -> CoordServer {
        let group = members.iter().map(|node| node.0).min().unwrap_or(me.0);
        let config = RaftConfig {
            group,
            election_timeout_min: SimDuration::from_millis(spec.election_timeout_min_ms),
            election_timeout_max: SimDuration::from_millis(spec.election_timeout_max_ms),
            heartbeat_interval: SimDuration::from_millis(spec.heartbeat_interval_ms),
            pre_vote: spec.pre_vote,
            check_quorum: true,
            durable_storage: spec.durable_storage,
            snapshot_threshold_entries: spec.snapshot_threshold_entries,
            ..RaftConfig::default()
        };
        let mut initial_tree = ZTree::default();
        for path in &spec.initial_znodes {
            initial_tree.nodes.insert(
                path.clone(),
                ZNode {
                    data: 0,
                    version: 0,
                    cversion: 0,
                    czxid: 0,
                    mzxid: 0,
                    ephemeral_owner: None,
                    next_sequence: 0,
                },
            );
        }
        CoordServer {
            core: RaftCore::new(config, me, members),
            tree: initial_tree.clone(),
            initial_tree,
            min_session_timeout_ms: spec.min_session_timeout_ms,
            max_session_timeout_ms: spec.max_session_timeout_ms,
            session_check_interval: SimDuration::from_millis(spec.heartbeat_interval_ms),
            timers: BTreeMap::new(),
            awaiting: BTreeSet::new(),
            reads_after_sync: BTreeMap::new(),
            data_watches: BTreeMap::new(),
            child_watches: BTreeMap::new(),
            watch_count: 0,
            session_last_heard: BTreeMap::new(),
            expiring: BTreeSet::new(),
            writes_applied: 0,
            requests_refused: 0,
            sessions_expired: 0,
            watches_fired: 0,
        }
    }

    /// A server serves while it knows a leader in its term (itself included).
    fn serving(&self) -> bool {
        self.core.leader_hint().is_some()
    }

    fn drive(
        &mut self,
        ctx: &mut Context<'_>,
        call: impl FnOnce(&mut CoordCore, &mut RaftEnv<'_>, &mut Vec<CoordAction>),
    ) {
        let mut actions = Vec::new();
        let now = ctx.local_clock();
        {
            let mut env = RaftEnv {
                now,
                rng: ctx.rng(),
            };
            call(&mut self.core, &mut env, &mut actions);
        }
        self.perform(ctx, actions);
    }

    fn perform(&mut self, ctx: &mut Context<'_>, actions: Vec<CoordAction>) {
        for action in actions {
            match action {
                RaftAction::Send { to, message } => {
                    let payload = CoordPayload::Raft(message);
                    let size_bytes = payload.size_bytes();
                    ctx.send(to, Payload::Coord(payload), size_bytes);
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
                RaftAction::Apply { index, payload, .. } => {
                    if let EntryPayload::Command(command) = payload {
                        self.apply(ctx, index, command);
                    }
                }
                RaftAction::RestoreSnapshot { data, .. } => {
                    self.tree = data;
                }
                RaftAction::RoleChanged { role, term, leader } => {
                    // A new leader measures every session afresh from now;
                    // anyone else stops measuring.
                    self.session_last_heard.clear();
                    self.expiring.clear();
                    ctx.state(format!(
                        "{} term={term} leader={}",
                        role.as_str(),
                        leader.map_or("none".to_string(), |node| format!("n{}", node.0))
                    ));
                }
                RaftAction::Fact(fact) => ctx.fact(fact),
            }
        }
        if let Some(index) = self.core.snapshot_due() {
            self.core.compact(index, self.tree.clone());
        }
    }

    fn reply(&mut self, ctx: &mut Context<'_>, client: NodeId, xid: u64, result: CoordResult) {
        if matches!(result, CoordResult::Error(CoordError::NotServing)) {
            self.requests_refused += 1;
            ctx.error("coord_not_serving");
        }
        ctx.send(
            client,
            Payload::Coord(CoordPayload::Reply { xid, result }),
            96,
        );
    }

    fn apply(&mut self, ctx: &mut Context<'_>, index: u64, command: CoordCommand) {
        let mut changes: Vec<TreeChange> = Vec::new();
        let result = self.tree.apply(index, &command, &mut changes);
        self.writes_applied += 1;
        for change in changes {
            self.fire_watches(ctx, change);
        }
        if let CoordWrite::CloseSession {
            session,
            expired: true,
        } = command.write
        {
            self.expiring.remove(&session);
            self.session_last_heard.remove(&session);
            if command.origin == self.core.id() && result == CoordResult::SessionClosed {
                self.sessions_expired += 1;
                ctx.fact(Fact::Coord(CoordFact::SessionExpired {
                    session,
                    client: command.client,
                }));
                ctx.state(format!("session s{session} expired"));
            }
        }
        if let CoordResult::SessionCreated { session, .. } = result
            && self.core.role() == RaftRole::Leader
        {
            self.session_last_heard.insert(session, ctx.local_clock());
        }
        if command.origin != self.core.id() || !self.awaiting.remove(&(command.client, command.xid))
        {
            return;
        }
        let answer = match (
            &command.write,
            self.reads_after_sync.remove(&(command.client, command.xid)),
        ) {
            (CoordWrite::Sync, Some(read)) => self.read(command.client, &read),
            _ => result,
        };
        self.reply(ctx, command.client, command.xid, answer);
    }

    /// Answers a read from this server's tree, setting its watch.
    fn read(&mut self, client: NodeId, read: &CoordRead) -> CoordResult {
        let result = self.tree.read(read);
        let (path, watch, children) = match read {
            CoordRead::GetData { path, watch } => (path, *watch, false),
            CoordRead::GetChildren { path, watch } => (path, *watch, true),
            CoordRead::Exists { path, watch } => (path, *watch, false),
        };
        // ZooKeeper sets an exists-watch on an absent node, and no other
        // watch on a read that failed.
        let set = watch
            && (matches!(read, CoordRead::Exists { .. })
                || !matches!(result, CoordResult::Error(_)));
        if set && self.watch_count < MAX_COORD_WATCHES_PER_SERVER {
            let table = if children {
                &mut self.child_watches
            } else {
                &mut self.data_watches
            };
            if table.entry(path.clone()).or_default().insert(client) {
                self.watch_count += 1;
            }
        }
        result
    }

    fn fire_watches(&mut self, ctx: &mut Context<'_>, (path, kind): TreeChange) {
        let fire = |table: &mut BTreeMap<String, BTreeSet<NodeId>>, count: &mut usize| {
            let clients = table.remove(&path).unwrap_or_default();
            *count -= clients.len();
            clients
        };
        let mut clients = BTreeSet::new();
        match kind {
            WatchEventKind::NodeCreated | WatchEventKind::NodeDataChanged => {
                clients.extend(fire(&mut self.data_watches, &mut self.watch_count));
            }
            WatchEventKind::NodeDeleted => {
                clients.extend(fire(&mut self.data_watches, &mut self.watch_count));
                clients.extend(fire(&mut self.child_watches, &mut self.watch_count));
            }
            WatchEventKind::NodeChildrenChanged => {
                clients.extend(fire(&mut self.child_watches, &mut self.watch_count));
            }
        }
        for client in clients {
            self.watches_fired += 1;
            ctx.send(
                client,
                Payload::Coord(CoordPayload::Watch {
                    path: path.clone(),
                    kind,
                }),
                96,
            );
        }
    }

    /// True when `session` is known to have ended (closed at an index this server applied).
    fn session_gone(&self, session: u64) -> bool {
        session != 0
            && !self.tree.sessions.contains_key(&session)
            && session <= self.core.last_applied()
    }

    fn touch(&mut self, ctx: &mut Context<'_>, session: u64) {
        if session == 0 {
            return;
        }
        if self.core.role() == RaftRole::Leader {
            if self.tree.sessions.contains_key(&session) {
                self.session_last_heard.insert(session, ctx.local_clock());
            }
        } else if let Some(leader) = self.core.leader_hint() {
            ctx.send(leader, Payload::Coord(CoordPayload::Touch { session }), 32);
        }
    }

    /// Proposes `command` (leader) or forwards it (follower); answers a refusal.
    fn submit(&mut self, ctx: &mut Context<'_>, command: CoordCommand) {
        if self.core.role() != RaftRole::Leader {
            match self.core.leader_hint() {
                Some(leader) => {
                    ctx.send(leader, Payload::Coord(CoordPayload::Forward(command)), 96)
                }
                None => self.reply(
                    ctx,
                    command.client,
                    command.xid,
                    CoordResult::Error(CoordError::NotServing),
                ),
            }
            return;
        }
        let (client, xid, origin) = (command.client, command.xid, command.origin);
        let mut actions = Vec::new();
        let result = self.core.propose(command, &mut actions);
        self.perform(ctx, actions);
        if let Err(error) = result {
            let refusal = match error {
                ProposeError::NotLeader { .. } => CoordError::NotServing,
                _ => CoordError::Overloaded,
            };
            if origin == self.core.id() {
                self.awaiting.remove(&(client, xid));
                self.reads_after_sync.remove(&(client, xid));
            }
            // The client learns either way (a forwarded write's origin cannot answer for the leader).
            self.reply(ctx, client, xid, CoordResult::Error(refusal));
        }
    }

    fn on_client_request(
        &mut self,
        ctx: &mut Context<'_>,
        client: NodeId,
        xid: u64,
        session: u64,
        request: &CoordRequest,
    ) {
        if !self.serving() {
            self.reply(ctx, client, xid, CoordResult::Error(CoordError::NotServing));
            return;
        }
        let creating = matches!(
            request,
            CoordRequest::Write(CoordWrite::CreateSession { .. })
        );
        if !creating && self.session_gone(session) {
            self.reply(
                ctx,
                client,
                xid,
                CoordResult::Error(CoordError::SessionExpired),
            );
            return;
        }
        if !creating && !self.tree.sessions.contains_key(&session) {
            // The session was created at an index this server has not applied yet.
            self.reply(ctx, client, xid, CoordResult::Error(CoordError::NotServing));
            return;
        }
        self.touch(ctx, session);
        let write = match request {
            CoordRequest::Ping => {
                self.reply(ctx, client, xid, CoordResult::Pong);
                return;
            }
            CoordRequest::Read { read, sync: false } => {
                let result = self.read(client, read);
                self.reply(ctx, client, xid, result);
                return;
            }
            CoordRequest::Read { read, sync: true } => {
                if self.reads_after_sync.len() >= MAX_AWAITING_REQUESTS {
                    self.reply(ctx, client, xid, CoordResult::Error(CoordError::Overloaded));
                    return;
                }
                self.reads_after_sync.insert((client, xid), read.clone());
                CoordWrite::Sync
            }
            CoordRequest::Write(CoordWrite::CreateSession { timeout_ms }) => {
                if self.tree.sessions.len() >= MAX_COORD_SESSIONS {
                    self.reply(ctx, client, xid, CoordResult::Error(CoordError::Overloaded));
                    return;
                }
                CoordWrite::CreateSession {
                    timeout_ms: (*timeout_ms)
                        .clamp(self.min_session_timeout_ms, self.max_session_timeout_ms),
                }
            }
            // A client may close only its own session.
            CoordRequest::Write(CoordWrite::CloseSession { .. }) => CoordWrite::CloseSession {
                session,
                expired: false,
            },
            CoordRequest::Write(write) => write.clone(),
        };
        if self.awaiting.len() >= MAX_AWAITING_REQUESTS
            && let Some(oldest) = self.awaiting.iter().next().copied()
        {
            self.awaiting.remove(&oldest);
            self.reads_after_sync.remove(&oldest);
        }
        self.awaiting.insert((client, xid));
        let command = CoordCommand {
            origin: self.core.id(),
            client,
            xid,
            session,
            write,
        };
        self.submit(ctx, command);
    }

    /// Leader: expire sessions not heard of within their timeout.
    fn check_sessions(&mut self, ctx: &mut Context<'_>) {
        if self.core.role() != RaftRole::Leader {
            return;
        }
        let now = ctx.local_clock();
        let mut expired = Vec::new();
        for (session, info) in &self.tree.sessions {
            let last = *self.session_last_heard.entry(*session).or_insert(now);
            if now.since(last) > SimDuration::from_millis(info.timeout_ms)
                && !self.expiring.contains(session)
            {
                expired.push((*session, info.client));
            }
        }
        for (session, client) in expired {
            self.expiring.insert(session);
            let command = CoordCommand {
                origin: self.core.id(),
                client,
                xid: 0,
                session: 0,
                write: CoordWrite::CloseSession {
                    session,
                    expired: true,
                },
            };
            let mut actions = Vec::new();
            if self.core.propose(command, &mut actions).is_err() {
                self.expiring.remove(&session);
            }
            self.perform(ctx, actions);
        }
    }

    fn arm_session_check(&mut self, ctx: &mut Context<'_>) {
        ctx.set_timer(
            self.session_check_interval,
            TimerTag {
                kind: TIMER_SESSION_CHECK,
                id: 0,
            },
        );
    }
}

impl Component for CoordServer {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.tree = self.initial_tree.clone();
        self.drive(ctx, |core, env, out| core.start(env, out));
        self.arm_session_check(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let Payload::Coord(message) = &envelope.payload else {
            return;
        };
        match message {
            CoordPayload::Raft(message) => {
                let message = message.clone();
                let from = envelope.from;
                self.drive(ctx, |core, env, out| {
                    core.handle_message(env, from, message, out)
                });
            }
            CoordPayload::Forward(command) => self.submit(ctx, command.clone()),
            CoordPayload::Touch { session } => self.touch(ctx, *session),
            CoordPayload::Request {
                xid,
                session,
                request,
            } => self.on_client_request(ctx, envelope.from, *xid, *session, request),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        let timer = match tag.kind {
            TIMER_SESSION_CHECK => {
                self.check_sessions(ctx);
                self.arm_session_check(ctx);
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
        // The tree is rebuilt from the snapshot and the log; watches and the
        // session clock were in memory only.
        self.tree = self.initial_tree.clone();
        self.timers.clear();
        self.awaiting.clear();
        self.reads_after_sync.clear();
        self.data_watches.clear();
        self.child_watches.clear();
        self.watch_count = 0;
        self.session_last_heard.clear();
        self.expiring.clear();
        ctx.state("crashed: tree, watches and session clocks lost (log kept if durable)");
    }

    /// The leader wears the crown with its Raft term (issue 7's badges).
    fn live_status(&self) -> crate::live::NodeLiveStatus {
        crate::live::NodeLiveStatus {
            leadership: (self.core.role() == RaftRole::Leader).then(|| crate::live::Leadership {
                kind: crate::live::LeadershipKind::Raft,
                count: 1,
                term: self.core.term(),
            }),
            ..crate::live::NodeLiveStatus::default()
        }
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: self.core.last_log_index() - self.core.commit_index(),
            in_progress: self.awaiting.len() as u64,
            badge: format!(
                "{} t{} {} znodes {} sessions",
                self.core.role().as_str(),
                self.core.term(),
                self.tree.nodes.len(),
                self.tree.sessions.len()
            ),
        }
    }

    fn inspect(&self) -> Option<crate::inspect::NodeInspection> {
        Some(crate::inspect::NodeInspection::RaftMember(
            crate::inspect::RaftMemberInspection::from_core(&self.core, |command| {
                format!("{} (session {})", command.write, command.session)
            }),
        ))
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("term", self.core.term() as f64),
            ("commit_index", self.core.commit_index() as f64),
            ("writes_applied", self.writes_applied as f64),
            ("znodes", self.tree.nodes.len() as f64),
            ("sessions", self.tree.sessions.len() as f64),
            ("sessions_expired", self.sessions_expired as f64),
            ("watches_fired", self.watches_fired as f64),
            ("requests_refused", self.requests_refused as f64),
        ]
    }
}
