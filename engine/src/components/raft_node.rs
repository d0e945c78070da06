//! `raft_node`: a key-value register store replicated by the embedded Raft core — the reference embedding of `crate::raft`.
//!
//! The component only translates: Raft messages and timers go to the core,
//! client requests become proposals, the core's actions become effects.
//! Committed commands are applied to an in-memory map (volatile: rebuilt from
//! the snapshot and the log after a restart). A request is answered when its
//! entry is applied, `lost` when another entry is applied at its index, and
//! `unknown` when this server stops leading first.

use crate::component::{Component, ComponentView, Context, TimerId, TimerTag};
use crate::distribution::Distribution;
use crate::message::{Envelope, NodeId, Payload};
use crate::raft::kv::{KvCommand, KvOperation, KvOutcome, KvSnapshot};
use crate::raft::{EntryPayload, RaftAction, RaftConfig, RaftCore, RaftEnv, RaftRole, RaftTimer};
use crate::scenario::RaftNodeSpec;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};

const TIMER_ELECTION: u32 = 1;
const TIMER_HEARTBEAT: u32 = 2;
const TIMER_DISK_WRITE_DONE: u32 = 3;

/// Outgoing batches waiting for their disk write, at most. A server whose
/// disk falls this far behind folds new messages into the last batch.
const MAX_PENDING_DISK_WRITES: usize = 10_000;

type KvCore = RaftCore<KvCommand, KvSnapshot>;
type KvAction = RaftAction<KvCommand, KvSnapshot>;

/// A request appended by this leader and not yet answered.
#[derive(Clone)]
struct PendingRequest {
    term: u64,
    client: NodeId,
    request: u64,
}

#[derive(Clone)]
pub struct RaftNode {
    core: KvCore,
    store: BTreeMap<u32, u64>,
    /// By log index. Bounded by `max_uncommitted_entries` (proposals beyond it
    /// are refused) and emptied whenever this server stops leading.
    pending: BTreeMap<u64, PendingRequest>,
    timers: BTreeMap<RaftTimer, TimerId>,
    applied_commands: u64,
    requests_refused: u64,
    elections_won: u64,
    disk_write_latency: Option<Distribution>,
    /// When the disk finishes the writes issued so far (simulated time).
    disk_free_at: SimTime,
    /// Messages held until the write they depend on is durable, oldest first.
    held_sends: VecDeque<(SimTime, Vec<(NodeId, Payload)>)>,
}

/// What Raft persists, to see whether a call changed it.
fn durable_signature(core: &KvCore) -> (u64, Option<NodeId>, u64, u64, u64) {
    (
        core.term(),
        core.voted_for(),
        core.last_log_index(),
        core.last_log_term(),
        core.snapshot_index(),
    )
}

impl RaftNode {
    /// `members`: node ids of the initial configuration; `group` names the
    /// cluster in facts (the smallest member id, the same on every member).
    pub fn new(spec: &RaftNodeSpec, me: NodeId, members: Vec<NodeId>) -> RaftNode {
        let group = members.iter().map(|node| node.0).min().unwrap_or(me.0);
        let config = RaftConfig {
            group,
            election_timeout_min: SimDuration::from_millis(spec.election_timeout_min_ms),
            election_timeout_max: SimDuration::from_millis(spec.election_timeout_max_ms),
            heartbeat_interval: SimDuration::from_millis(spec.heartbeat_interval_ms),
            pre_vote: spec.pre_vote,
            check_quorum: spec.check_quorum,
            durable_storage: spec.durable_storage,
            max_entries_per_append: spec.max_entries_per_append,
            max_inflight_appends: spec.max_inflight_appends,
            max_uncommitted_entries: spec.max_uncommitted_entries,
            max_log_entries: spec.max_log_entries,
            snapshot_threshold_entries: spec.snapshot_threshold_entries,
        };
        RaftNode {
            core: RaftCore::new(config, me, members),
            store: BTreeMap::new(),
            pending: BTreeMap::new(),
            timers: BTreeMap::new(),
            applied_commands: 0,
            requests_refused: 0,
            elections_won: 0,
            disk_write_latency: spec
                .disk_write_latency
                .clone()
                .filter(|_| spec.durable_storage),
            disk_free_at: SimTime::ZERO,
            held_sends: VecDeque::new(),
        }
    }

    /// Runs `call` on the core with this node's clock and stream, then carries out its actions.
    fn drive(
        &mut self,
        ctx: &mut Context<'_>,
        call: impl FnOnce(&mut KvCore, &mut RaftEnv<'_>, &mut Vec<KvAction>),
    ) {
        let mut actions = Vec::new();
        let now = ctx.local_clock();
        let before = durable_signature(&self.core);
        {
            let mut env = RaftEnv {
                now,
                rng: ctx.rng(),
            };
            call(&mut self.core, &mut env, &mut actions);
        }
        self.perform(ctx, actions, before);
    }

    /// Sends now, or after the disk write this call needs (and any before it).
    fn send_after_disk(
        &mut self,
        ctx: &mut Context<'_>,
        sends: Vec<(NodeId, Payload)>,
        wrote: bool,
    ) {
        if sends.is_empty() && !wrote {
            return;
        }
        match &self.disk_write_latency {
            Some(latency) if wrote && self.held_sends.len() < MAX_PENDING_DISK_WRITES => {
                let duration = latency.sample(ctx.rng());
                self.disk_free_at = self.disk_free_at.max(ctx.now()).plus(duration);
                self.held_sends.push_back((self.disk_free_at, sends));
                ctx.set_timer(
                    self.disk_free_at.since(ctx.now()),
                    TimerTag {
                        kind: TIMER_DISK_WRITE_DONE,
                        id: 0,
                    },
                );
            }
            _ if !self.held_sends.is_empty() => {
                // FIFO: nothing overtakes a message waiting for the disk.
                if let Some((_, batch)) = self.held_sends.back_mut() {
                    batch.extend(sends);
                }
            }
            _ => {
                for (to, payload) in sends {
                    ctx.send(to, payload, 64);
                }
            }
        }
    }

    fn release_written(&mut self, ctx: &mut Context<'_>) {
        while self
            .held_sends
            .front()
            .is_some_and(|(ready_at, _)| *ready_at <= ctx.now())
        {
            let (_, batch) = self.held_sends.pop_front().expect("checked");
            for (to, payload) in batch {
                let size_bytes = match &payload {
                    Payload::RaftKv(message) => message.size_bytes(),
                    _ => 64,
                };
                ctx.send(to, payload, size_bytes);
            }
        }
    }

    fn perform(
        &mut self,
        ctx: &mut Context<'_>,
        actions: Vec<KvAction>,
        before: (u64, Option<NodeId>, u64, u64, u64),
    ) {
        let mut sends = Vec::new();
        for action in actions {
            match action {
                RaftAction::Send { to, message } => {
                    sends.push((to, Payload::RaftKv(message)));
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
                RaftAction::Apply {
                    index,
                    term,
                    payload,
                } => self.apply(index, term, payload, &mut sends),
                RaftAction::RestoreSnapshot { data, .. } => {
                    self.store = data.into_iter().collect();
                }
                RaftAction::RoleChanged { role, term, leader } => {
                    if role == RaftRole::Leader {
                        self.elections_won += 1;
                    } else {
                        // Whatever this leader appended may still commit under
                        // the next one, or not: the outcome is unknown.
                        for (_, pending) in std::mem::take(&mut self.pending) {
                            sends.push((
                                pending.client,
                                Payload::RaftKvResponse {
                                    request: pending.request,
                                    outcome: KvOutcome::Unknown,
                                },
                            ));
                        }
                    }
                    ctx.state(format!(
                        "{} term={term} leader={}",
                        role.as_str(),
                        leader.map_or("none".to_string(), |node| format!("n{}", node.0))
                    ));
                }
                RaftAction::Fact(fact) => ctx.fact(fact),
            }
        }
        let wrote = durable_signature(&self.core) != before;
        self.send_after_disk(ctx, sends, wrote);
        if let Some(index) = self.core.snapshot_due() {
            let snapshot: KvSnapshot = self.store.iter().map(|(k, v)| (*k, *v)).collect();
            self.core.compact(index, snapshot);
        }
    }

    fn apply(
        &mut self,
        index: u64,
        term: u64,
        payload: EntryPayload<KvCommand>,
        sends: &mut Vec<(NodeId, Payload)>,
    ) {
        let outcome = match &payload {
            EntryPayload::Command(command) => {
                self.applied_commands += 1;
                Some(self.execute(command.operation))
            }
            EntryPayload::Noop | EntryPayload::Membership(_) => None,
        };
        // Requests at lower indexes were overwritten before reaching here.
        let settled: Vec<u64> = self.pending.range(..=index).map(|(i, _)| *i).collect();
        for pending_index in settled {
            let pending = self.pending.remove(&pending_index).expect("listed");
            let reply = match (&payload, &outcome) {
                (EntryPayload::Command(command), Some(outcome))
                    if pending_index == index
                        && pending.term == term
                        && command.client == pending.client
                        && command.request == pending.request =>
                {
                    outcome.clone()
                }
                _ => KvOutcome::Lost,
            };
            sends.push((
                pending.client,
                Payload::RaftKvResponse {
                    request: pending.request,
                    outcome: reply,
                },
            ));
        }
    }

    fn execute(&mut self, operation: KvOperation) -> KvOutcome {
        match operation {
            KvOperation::Read { key } => KvOutcome::Ok {
                value: self.store.get(&key).copied(),
            },
            KvOperation::Write { key, value } => {
                self.store.insert(key, value);
                KvOutcome::Ok { value: Some(value) }
            }
            KvOperation::Cas { key, expected, new } => {
                let current = self.store.get(&key).copied();
                if current == Some(expected) {
                    self.store.insert(key, new);
                    KvOutcome::Ok { value: Some(new) }
                } else {
                    KvOutcome::CasMismatch { current }
                }
            }
        }
    }

    /// The value this server's state machine holds for `key` now, without
    /// going through the log (a possibly stale local read, as a follower
    /// read of an embedding database).
    pub fn local_value(&self, key: u32) -> Option<u64> {
        self.store.get(&key).copied()
    }

    /// The leader this server believes in (for redirects).
    pub fn leader_hint(&self) -> Option<NodeId> {
        self.core.leader_hint()
    }

    /// Runs a client operation through the log (answered with `RaftKvResponse`).
    pub(crate) fn on_client_request(
        &mut self,
        ctx: &mut Context<'_>,
        client: NodeId,
        request: u64,
        operation: KvOperation,
    ) {
        let command = KvCommand {
            client,
            request,
            operation,
        };
        let mut actions = Vec::new();
        let before = durable_signature(&self.core);
        let result = self.core.propose(command, &mut actions);
        match result {
            Ok((index, term)) => {
                self.pending.insert(
                    index,
                    PendingRequest {
                        term,
                        client,
                        request,
                    },
                );
            }
            Err(error) => {
                self.requests_refused += 1;
                let outcome = match error {
                    crate::raft::ProposeError::NotLeader { leader_hint } => {
                        KvOutcome::NotLeader { leader_hint }
                    }
                    other => {
                        ctx.error("raft_request_refused");
                        KvOutcome::Rejected {
                            reason: other.to_string(),
                        }
                    }
                };
                self.send_after_disk(
                    ctx,
                    vec![(client, Payload::RaftKvResponse { request, outcome })],
                    false,
                );
            }
        }
        self.perform(ctx, actions, before);
    }
}

impl Component for RaftNode {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.drive(ctx, |core, env, out| core.start(env, out));
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        match &envelope.payload {
            Payload::RaftKv(message) => {
                let message = message.clone();
                let from = envelope.from;
                self.drive(ctx, |core, env, out| {
                    core.handle_message(env, from, message, out)
                });
            }
            Payload::RaftKvRequest { request, operation } => {
                self.on_client_request(ctx, envelope.from, *request, *operation);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        let timer = match tag.kind {
            TIMER_DISK_WRITE_DONE => {
                self.release_written(ctx);
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
        self.store.clear();
        self.pending.clear();
        self.timers.clear();
        // Messages waiting for a write never left; the disk stops with the process.
        self.held_sends.clear();
        self.disk_free_at = SimTime::ZERO;
        ctx.state("crashed: state machine and volatile Raft state lost");
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: self.core.last_log_index() - self.core.commit_index(),
            in_progress: self.pending.len() as u64,
            badge: format!(
                "{} t{} c{}",
                self.core.role().as_str(),
                self.core.term(),
                self.core.commit_index()
            ),
        }
    }

    fn live_status(&self) -> crate::live::NodeLiveStatus {
        crate::live::NodeLiveStatus {
            leadership: (self.core.role() == crate::raft::RaftRole::Leader).then(|| {
                crate::live::Leadership {
                    kind: crate::live::LeadershipKind::Raft,
                    count: 1,
                    term: self.core.term(),
                }
            }),
            ..crate::live::NodeLiveStatus::default()
        }
    }

    fn inspect(&self) -> Option<crate::inspect::NodeInspection> {
        Some(crate::inspect::NodeInspection::RaftMember(
            crate::inspect::RaftMemberInspection::from_core(&self.core, |command| {
                format!(
                    "{} (n{} #{})",
                    command.operation, command.client.0, command.request
                )
            }),
        ))
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("term", self.core.term() as f64),
            ("commit_index", self.core.commit_index() as f64),
            ("applied_commands", self.applied_commands as f64),
            ("requests_refused", self.requests_refused as f64),
            ("elections_won", self.elections_won as f64),
        ]
    }
}
