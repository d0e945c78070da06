//! An embeddable Raft core (Ongaro's dissertation): a pure state machine that components forward messages and timers to.
//!
//! The core is not a `Component`. An embedding component (a replicated
//! key-value store, a KRaft-style controller, a quorum queue, a coordination
//! service) owns one `RaftCore<C, S>` per Raft group, where `C` is its command
//! type and `S` its snapshot type, and forwards to it:
//!
//! - `start` from `on_start`/`on_restart`, `crash` from `on_crash`;
//! - every `RaftMessage` it receives (`handle_message`), every `RaftTimer`
//!   that fires (`handle_timer`);
//! - client commands (`propose`) and membership changes (`propose_membership`);
//! - a snapshot of its state machine when `snapshot_due` says so (`compact`).
//!
//! Each call appends `RaftAction`s to a caller-owned `Vec`: messages to send,
//! timers to (re)arm, committed entries to apply in order, a snapshot to
//! restore, role changes and `Fact`s for the checkers. The embedder turns them
//! into `Context` effects. The core reads time only from `RaftEnv::now` (the
//! node's local clock) and randomness only from `RaftEnv::rng` (the node's
//! stream), so it stays deterministic and testable without the simulator.
//!
//! What survives `crash` is what Raft persists before answering (term, vote,
//! log, snapshot) — but only with `RaftConfig::durable_storage`; without it a
//! restarted server has forgotten its vote and its log, which breaks election
//! safety and can lose committed entries (see `tests/raft_safety.rs`).

pub mod kv;

use crate::message::NodeId;
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

/// What a command or snapshot type must offer: cloneable, comparable, serde-able.
pub trait RaftData: Clone + fmt::Debug + PartialEq + Serialize + DeserializeOwned {}
impl<T: Clone + fmt::Debug + PartialEq + Serialize + DeserializeOwned> RaftData for T {}

/// A server's role. `PreCandidate` only exists with pre-vote (dissertation §9.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RaftRole {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl RaftRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RaftRole::Follower => "follower",
            RaftRole::PreCandidate => "pre_candidate",
            RaftRole::Candidate => "candidate",
            RaftRole::Leader => "leader",
        }
    }
}

/// What a log entry carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryPayload<C> {
    /// Appended by every new leader so it can commit entries of earlier terms
    /// (dissertation §3.6.2: only current-term entries are committed by counting).
    Noop,
    /// The embedder's command.
    Command(C),
    /// The full new configuration (single-server change, §4.1). It takes effect
    /// as soon as it is in a server's log, committed or not.
    Membership(Vec<NodeId>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry<C> {
    pub index: u64,
    pub term: u64,
    pub payload: EntryPayload<C>,
}

/// The RPCs of Raft. The sender is the envelope's `from`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RaftMessage<C, S> {
    /// With `pre_vote`, `term` is the term the sender would campaign in, and
    /// nobody changes state on receipt (§9.6).
    RequestVote {
        term: u64,
        last_log_index: u64,
        last_log_term: u64,
        pre_vote: bool,
    },
    RequestVoteResponse {
        term: u64,
        granted: bool,
        pre_vote: bool,
    },
    AppendEntries {
        term: u64,
        prev_log_index: u64,
        prev_log_term: u64,
        entries: Vec<LogEntry<C>>,
        leader_commit: u64,
    },
    /// On success `match_index` is the last index known to match the leader.
    /// On failure the conflict hint lets the leader skip a whole term at once
    /// (§5.3's optimisation): `conflict_term` is the follower's term at
    /// `prev_log_index` (None: its log is too short) and `conflict_index` the
    /// first index of that term (or its log end + 1).
    AppendEntriesResponse {
        term: u64,
        success: bool,
        match_index: u64,
        conflict_term: Option<u64>,
        conflict_index: u64,
    },
    /// The whole snapshot in one message (the simulated state machines are small).
    InstallSnapshot {
        term: u64,
        last_included_index: u64,
        last_included_term: u64,
        members: Vec<NodeId>,
        data: S,
    },
    InstallSnapshotResponse {
        term: u64,
        last_included_index: u64,
    },
}

impl<C, S> RaftMessage<C, S> {
    pub fn term(&self) -> u64 {
        match self {
            RaftMessage::RequestVote { term, .. }
            | RaftMessage::RequestVoteResponse { term, .. }
            | RaftMessage::AppendEntries { term, .. }
            | RaftMessage::AppendEntriesResponse { term, .. }
            | RaftMessage::InstallSnapshot { term, .. }
            | RaftMessage::InstallSnapshotResponse { term, .. } => *term,
        }
    }

    /// A rough wire size for the network model: a header plus the entries.
    pub fn size_bytes(&self) -> u32 {
        match self {
            RaftMessage::AppendEntries { entries, .. } => 64 + 64 * entries.len() as u32,
            RaftMessage::InstallSnapshot { .. } => 4_096,
            _ => 64,
        }
    }
}

impl<C, S> fmt::Display for RaftMessage<C, S> {
    /// Stable text for trace lines.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RaftMessage::RequestVote {
                term,
                last_log_index,
                last_log_term,
                pre_vote,
            } => write!(
                formatter,
                "{} term={term} last={last_log_index}/{last_log_term}",
                if *pre_vote { "pre_vote?" } else { "vote?" }
            ),
            RaftMessage::RequestVoteResponse {
                term,
                granted,
                pre_vote,
            } => write!(
                formatter,
                "{} term={term} {}",
                if *pre_vote { "pre_vote" } else { "vote" },
                if *granted { "granted" } else { "denied" }
            ),
            RaftMessage::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => write!(
                formatter,
                "append term={term} prev={prev_log_index}/{prev_log_term} entries={} commit={leader_commit}",
                entries.len()
            ),
            RaftMessage::AppendEntriesResponse {
                term,
                success,
                match_index,
                conflict_term,
                conflict_index,
            } => {
                if *success {
                    write!(formatter, "append_ok term={term} match={match_index}")
                } else {
                    write!(
                        formatter,
                        "append_rejected term={term} conflict_term={} conflict_index={conflict_index}",
                        conflict_term.map_or("none".to_string(), |term| term.to_string())
                    )
                }
            }
            RaftMessage::InstallSnapshot {
                term,
                last_included_index,
                last_included_term,
                ..
            } => write!(
                formatter,
                "install_snapshot term={term} last={last_included_index}/{last_included_term}"
            ),
            RaftMessage::InstallSnapshotResponse {
                term,
                last_included_index,
            } => write!(
                formatter,
                "install_snapshot_ok term={term} last={last_included_index}"
            ),
        }
    }
}

/// The core's two timers. The embedder keeps at most one of each armed:
/// a new `SetTimer` of a kind replaces the previous one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RaftTimer {
    /// Followers and candidates: start an election when it expires.
    Election,
    /// Leaders: send heartbeats (and retries) to every follower.
    Heartbeat,
}

/// Why a proposal was refused. Nothing was appended in any case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposeError {
    /// Only the leader accepts proposals; `leader_hint` is the leader this
    /// server last heard from in its current term (redirect the client there).
    NotLeader { leader_hint: Option<NodeId> },
    /// `max_uncommitted_entries` entries are appended but not yet committed:
    /// back-pressure instead of an unbounded log (e.g. while followers are cut off).
    TooManyUncommitted { limit: u64 },
    /// The log holds `max_log_entries` entries since the last snapshot.
    LogFull { limit: u64 },
    /// A membership change is still uncommitted, or this leader has not yet
    /// committed an entry of its term (§4.1 and the 2015 single-server bug fix).
    MembershipChangeInProgress,
    /// The change would leave the membership unchanged or empty.
    InvalidMembershipChange,
}

impl fmt::Display for ProposeError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProposeError::NotLeader { leader_hint } => write!(
                formatter,
                "not_leader leader={}",
                leader_hint.map_or("unknown".to_string(), |node| format!("n{}", node.0))
            ),
            ProposeError::TooManyUncommitted { limit } => {
                write!(formatter, "too_many_uncommitted limit={limit}")
            }
            ProposeError::LogFull { limit } => write!(formatter, "log_full limit={limit}"),
            ProposeError::MembershipChangeInProgress => {
                write!(formatter, "membership_change_in_progress")
            }
            ProposeError::InvalidMembershipChange => write!(formatter, "invalid_membership_change"),
        }
    }
}

/// A single-server membership change (§4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipChange {
    Add(NodeId),
    Remove(NodeId),
}

/// What the core asks its embedder to do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum RaftAction<C, S> {
    Send {
        to: NodeId,
        message: RaftMessage<C, S>,
    },
    /// Arm `timer` to fire after `after`, replacing any armed timer of that kind.
    SetTimer {
        timer: RaftTimer,
        after: SimDuration,
    },
    /// Entry `index` is committed: apply it to the state machine. Entries come
    /// in index order, each once per incarnation (again after a restart).
    Apply {
        index: u64,
        term: u64,
        payload: EntryPayload<C>,
    },
    /// Replace the state machine with this snapshot (after a restart, or when
    /// the leader sent one); entries after `index` follow as `Apply`.
    RestoreSnapshot { index: u64, term: u64, data: S },
    /// The role, term or known leader changed.
    RoleChanged {
        role: RaftRole,
        term: u64,
        leader: Option<NodeId>,
    },
    /// A fact for the checkers; the embedder passes it to `Context::fact`.
    Fact(Fact),
}

/// Time and randomness for one call: the node's local clock and its stream.
pub struct RaftEnv<'a> {
    pub now: SimTime,
    pub rng: &'a mut SimRng,
}

/// Every tunable of the core. Durations are simulated time.
#[derive(Clone, Debug, PartialEq)]
pub struct RaftConfig {
    /// Identifies the group in facts, so checkers keep groups apart.
    pub group: u32,
    /// Election timeouts are drawn uniformly from [min, max] at every reset.
    pub election_timeout_min: SimDuration,
    pub election_timeout_max: SimDuration,
    pub heartbeat_interval: SimDuration,
    /// Pre-vote (§9.6): a server first asks whether it could win before
    /// bumping its term, and servers that hear from a leader refuse.
    pub pre_vote: bool,
    /// A leader that has not heard from a majority for an election timeout
    /// steps down, so clients stop waiting on a cut-off leader (§6.2).
    pub check_quorum: bool,
    /// Term, vote, log and snapshot survive a crash (they are fsynced before
    /// any reply). False models a server on a RAM disk.
    pub durable_storage: bool,
    pub max_entries_per_append: u64,
    /// AppendEntries with entries outstanding per follower (pipelining bound);
    /// the count restarts at every heartbeat, so lost messages are retried.
    pub max_inflight_appends: u32,
    /// Proposals are refused while this many entries are uncommitted.
    pub max_uncommitted_entries: u64,
    /// Proposals are refused while the log holds this many entries since the last snapshot.
    pub max_log_entries: u64,
    /// `snapshot_due` asks for a snapshot once this many applied entries are
    /// in the log (0: never compact).
    pub snapshot_threshold_entries: u64,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            group: 0,
            election_timeout_min: SimDuration::from_millis(150),
            election_timeout_max: SimDuration::from_millis(300),
            heartbeat_interval: SimDuration::from_millis(50),
            pre_vote: false,
            check_quorum: true,
            durable_storage: true,
            max_entries_per_append: 64,
            max_inflight_appends: 4,
            max_uncommitted_entries: 1_000,
            max_log_entries: 100_000,
            snapshot_threshold_entries: 1_000,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Snapshot<S> {
    index: u64,
    term: u64,
    members: Vec<NodeId>,
    data: S,
}

/// What Raft writes to stable storage before answering.
#[derive(Clone, Debug, PartialEq)]
struct Durable<C, S> {
    term: u64,
    voted_for: Option<NodeId>,
    /// Entries after the snapshot: `log[0].index == snapshot_index + 1`.
    log: VecDeque<LogEntry<C>>,
    snapshot: Option<Snapshot<S>>,
}

/// The leader's view of one follower.
#[derive(Clone, Debug, PartialEq)]
struct Progress {
    next_index: u64,
    match_index: u64,
    inflight: u32,
    last_ack: Option<SimTime>,
}

/// 64-bit digest of an entry's payload (postcard bytes, XXH3): facts carry it
/// so checkers compare entries without holding commands.
pub fn payload_digest<C: Serialize>(payload: &EntryPayload<C>) -> u64 {
    let bytes = postcard::to_allocvec(payload).expect("payloads serialise with postcard");
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

/// One Raft server. See the module documentation for the embedding contract.
#[derive(Clone)]
pub struct RaftCore<C, S> {
    config: RaftConfig,
    me: NodeId,
    initial_members: Vec<NodeId>,
    durable: Durable<C, S>,
    // ---- volatile ----
    role: RaftRole,
    leader: Option<NodeId>,
    commit_index: u64,
    last_applied: u64,
    /// Latest configuration in the log (or snapshot, or the initial one).
    members: Vec<NodeId>,
    votes: BTreeSet<NodeId>,
    election_deadline: SimTime,
    /// When this server last accepted a leader's AppendEntries (pre-vote stickiness).
    last_heard_from_leader: Option<SimTime>,
    progress: BTreeMap<NodeId, Progress>,
    started: bool,
}

impl<C: RaftData, S: RaftData> RaftCore<C, S> {
    /// A server that has never run: term 0, empty log, `members` as its configuration.
    pub fn new(config: RaftConfig, me: NodeId, members: Vec<NodeId>) -> RaftCore<C, S> {
        let mut initial_members = members;
        initial_members.sort();
        initial_members.dedup();
        RaftCore {
            config,
            me,
            members: initial_members.clone(),
            initial_members,
            durable: Durable {
                term: 0,
                voted_for: None,
                log: VecDeque::new(),
                snapshot: None,
            },
            role: RaftRole::Follower,
            leader: None,
            commit_index: 0,
            last_applied: 0,
            votes: BTreeSet::new(),
            election_deadline: SimTime::ZERO,
            last_heard_from_leader: None,
            progress: BTreeMap::new(),
            started: false,
        }
    }

    // ---- read-only accessors ----

    pub fn config(&self) -> &RaftConfig {
        &self.config
    }
    pub fn id(&self) -> NodeId {
        self.me
    }
    pub fn role(&self) -> RaftRole {
        self.role
    }
    pub fn term(&self) -> u64 {
        self.durable.term
    }
    pub fn voted_for(&self) -> Option<NodeId> {
        self.durable.voted_for
    }
    /// The leader this server knows of in its current term (itself if leader).
    pub fn leader_hint(&self) -> Option<NodeId> {
        self.leader
    }
    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }
    pub fn last_applied(&self) -> u64 {
        self.last_applied
    }
    pub fn last_log_index(&self) -> u64 {
        self.durable
            .log
            .back()
            .map_or(self.snapshot_index(), |entry| entry.index)
    }
    pub fn last_log_term(&self) -> u64 {
        self.durable
            .log
            .back()
            .map_or(self.snapshot_term(), |entry| entry.term)
    }
    pub fn snapshot_index(&self) -> u64 {
        self.durable.snapshot.as_ref().map_or(0, |snap| snap.index)
    }
    fn snapshot_term(&self) -> u64 {
        self.durable.snapshot.as_ref().map_or(0, |snap| snap.term)
    }
    /// Entries held in the log (after the snapshot).
    pub fn log_len(&self) -> u64 {
        self.durable.log.len() as u64
    }
    /// The configuration in effect (the latest in the log).
    pub fn members(&self) -> &[NodeId] {
        &self.members
    }
    /// The entry at `index`, if it is in the log (not compacted).
    pub fn entry(&self, index: u64) -> Option<&LogEntry<C>> {
        let first = self.snapshot_index() + 1;
        if index < first {
            return None;
        }
        self.durable.log.get((index - first) as usize)
    }

    /// The term of the entry at `index` (the snapshot's term at its last index).
    fn term_at(&self, index: u64) -> Option<u64> {
        if index == 0 {
            return Some(0);
        }
        if index == self.snapshot_index() {
            return Some(self.snapshot_term());
        }
        self.entry(index).map(|entry| entry.term)
    }

    fn quorum(&self) -> usize {
        self.members.len() / 2 + 1
    }

    fn is_member(&self, node: NodeId) -> bool {
        self.members.binary_search(&node).is_ok()
    }

    /// Recomputes the configuration in effect after the log changed.
    fn refresh_members(&mut self) {
        self.members = self
            .durable
            .log
            .iter()
            .rev()
            .find_map(|entry| match &entry.payload {
                EntryPayload::Membership(members) => Some(members.clone()),
                _ => None,
            })
            .or_else(|| {
                self.durable
                    .snapshot
                    .as_ref()
                    .map(|snap| snap.members.clone())
            })
            .unwrap_or_else(|| self.initial_members.clone());
    }

    /// The configuration as of `index` (for a snapshot taken there).
    fn members_at(&self, index: u64) -> Vec<NodeId> {
        self.durable
            .log
            .iter()
            .rev()
            .filter(|entry| entry.index <= index)
            .find_map(|entry| match &entry.payload {
                EntryPayload::Membership(members) => Some(members.clone()),
                _ => None,
            })
            .or_else(|| {
                self.durable
                    .snapshot
                    .as_ref()
                    .map(|snap| snap.members.clone())
            })
            .unwrap_or_else(|| self.initial_members.clone())
    }

    // ---- lifecycle ----

    /// The server (re)starts from what it persisted: a follower in its stored
    /// term, with a fresh election timer; the snapshot is handed back to the
    /// state machine, which the crash wiped.
    pub fn start(&mut self, env: &mut RaftEnv<'_>, out: &mut Vec<RaftAction<C, S>>) {
        self.started = true;
        self.role = RaftRole::Follower;
        self.leader = None;
        self.votes.clear();
        self.progress.clear();
        self.last_heard_from_leader = None;
        self.commit_index = self.snapshot_index();
        self.last_applied = self.snapshot_index();
        self.refresh_members();
        if let Some(snap) = &self.durable.snapshot {
            out.push(RaftAction::RestoreSnapshot {
                index: snap.index,
                term: snap.term,
                data: snap.data.clone(),
            });
        }
        self.announce_role(out);
        self.reset_election_timer(env, out);
    }

    /// The process died. Volatile state goes; persistent state goes too unless
    /// `durable_storage` (then the wipe is stated as a fact, so the checkers
    /// know this server's log is empty now).
    pub fn crash(&mut self, out: &mut Vec<RaftAction<C, S>>) {
        self.started = false;
        let was_leader = self.role == RaftRole::Leader;
        self.role = RaftRole::Follower;
        self.leader = None;
        self.votes.clear();
        self.progress.clear();
        self.commit_index = 0;
        self.last_applied = 0;
        if !self.config.durable_storage {
            let removed = self.last_log_index();
            self.durable = Durable {
                term: 0,
                voted_for: None,
                log: VecDeque::new(),
                snapshot: None,
            };
            self.refresh_members();
            out.push(RaftAction::Fact(Fact::RaftTruncate {
                group: self.config.group,
                from_index: 1,
                removed,
                storage_lost: true,
            }));
        }
        if was_leader || !self.config.durable_storage {
            self.announce_role(out);
        }
    }

    // ---- timers ----

    fn random_election_timeout(&self, env: &mut RaftEnv<'_>) -> SimDuration {
        let min = self.config.election_timeout_min.as_micros();
        let max = self.config.election_timeout_max.as_micros().max(min);
        SimDuration::from_micros(min + env.rng.below(max - min + 1))
    }

    fn reset_election_timer(&mut self, env: &mut RaftEnv<'_>, out: &mut Vec<RaftAction<C, S>>) {
        let timeout = self.random_election_timeout(env);
        self.election_deadline = env.now.plus(timeout);
        out.push(RaftAction::SetTimer {
            timer: RaftTimer::Election,
            after: timeout,
        });
    }

    /// A timer the core asked for fired.
    pub fn handle_timer(
        &mut self,
        env: &mut RaftEnv<'_>,
        timer: RaftTimer,
        out: &mut Vec<RaftAction<C, S>>,
    ) {
        if !self.started {
            return;
        }
        match timer {
            RaftTimer::Election => {
                if self.role == RaftRole::Leader {
                    return;
                }
                if env.now < self.election_deadline {
                    // The deadline moved (a heartbeat arrived): sleep the rest.
                    out.push(RaftAction::SetTimer {
                        timer: RaftTimer::Election,
                        after: self.election_deadline.since(env.now),
                    });
                    return;
                }
                if !self.is_member(self.me) {
                    // Not in the configuration: never campaign (§4.2.2).
                    self.reset_election_timer(env, out);
                    return;
                }
                if self.config.pre_vote {
                    self.start_pre_vote(env, out);
                } else {
                    self.start_election(env, out);
                }
            }
            RaftTimer::Heartbeat => {
                if self.role != RaftRole::Leader {
                    return;
                }
                if self.config.check_quorum && !self.heard_from_quorum(env.now) {
                    self.leader = None;
                    self.become_follower(env, self.durable.term, None, out);
                    return;
                }
                let peers: Vec<NodeId> = self.progress.keys().copied().collect();
                for peer in peers {
                    if let Some(progress) = self.progress.get_mut(&peer) {
                        progress.inflight = 0;
                    }
                    self.send_append(peer, out);
                }
                out.push(RaftAction::SetTimer {
                    timer: RaftTimer::Heartbeat,
                    after: self.config.heartbeat_interval,
                });
            }
        }
    }

    fn heard_from_quorum(&self, now: SimTime) -> bool {
        let window = self.config.election_timeout_max;
        let mut heard = usize::from(self.is_member(self.me));
        for member in &self.members {
            if *member == self.me {
                continue;
            }
            if let Some(progress) = self.progress.get(member)
                && let Some(last_ack) = progress.last_ack
                && now.since(last_ack) <= window
            {
                heard += 1;
            }
        }
        heard >= self.quorum()
    }

    // ---- elections ----

    fn announce_role(&self, out: &mut Vec<RaftAction<C, S>>) {
        out.push(RaftAction::RoleChanged {
            role: self.role,
            term: self.durable.term,
            leader: self.leader,
        });
        out.push(RaftAction::Fact(Fact::RaftRole {
            group: self.config.group,
            term: self.durable.term,
            role: self.role,
            leader: self.leader,
        }));
    }

    fn broadcast_vote_request(&self, term: u64, pre_vote: bool, out: &mut Vec<RaftAction<C, S>>) {
        for member in &self.members {
            if *member != self.me {
                out.push(RaftAction::Send {
                    to: *member,
                    message: RaftMessage::RequestVote {
                        term,
                        last_log_index: self.last_log_index(),
                        last_log_term: self.last_log_term(),
                        pre_vote,
                    },
                });
            }
        }
    }

    fn start_pre_vote(&mut self, env: &mut RaftEnv<'_>, out: &mut Vec<RaftAction<C, S>>) {
        self.role = RaftRole::PreCandidate;
        self.leader = None;
        self.votes.clear();
        self.votes.insert(self.me);
        self.announce_role(out);
        self.reset_election_timer(env, out);
        if self.votes.len() >= self.quorum() {
            self.start_election(env, out);
            return;
        }
        self.broadcast_vote_request(self.durable.term + 1, true, out);
    }

    fn start_election(&mut self, env: &mut RaftEnv<'_>, out: &mut Vec<RaftAction<C, S>>) {
        self.durable.term += 1;
        self.durable.voted_for = Some(self.me);
        self.role = RaftRole::Candidate;
        self.leader = None;
        self.votes.clear();
        self.votes.insert(self.me);
        self.announce_role(out);
        self.reset_election_timer(env, out);
        if self.votes.len() >= self.quorum() {
            self.become_leader(env, out);
            return;
        }
        self.broadcast_vote_request(self.durable.term, false, out);
    }

    fn become_follower(
        &mut self,
        env: &mut RaftEnv<'_>,
        term: u64,
        leader: Option<NodeId>,
        out: &mut Vec<RaftAction<C, S>>,
    ) {
        let changed =
            self.role != RaftRole::Follower || term != self.durable.term || leader != self.leader;
        if term > self.durable.term {
            self.durable.term = term;
            self.durable.voted_for = None;
        }
        let was_leader = self.role == RaftRole::Leader;
        self.role = RaftRole::Follower;
        self.leader = leader;
        self.votes.clear();
        self.progress.clear();
        if changed {
            self.announce_role(out);
        }
        // Figure 3.1: the election timer restarts only on a current leader's
        // AppendEntries, a granted vote, or a new candidacy. A candidate that
        // merely learns of a higher term keeps its deadline (as LogCabin's
        // `stepDown` does); only a former leader, which has no election timer
        // armed, needs a fresh one. Restarting it here gave every candidate
        // that saw a rival's request a new full timeout, which re-synchronised
        // the servers after each split vote (row F3).
        if was_leader {
            self.reset_election_timer(env, out);
        }
    }

    fn become_leader(&mut self, env: &mut RaftEnv<'_>, out: &mut Vec<RaftAction<C, S>>) {
        self.role = RaftRole::Leader;
        self.leader = Some(self.me);
        self.votes.clear();
        let next_index = self.last_log_index() + 1;
        self.progress = self
            .members
            .iter()
            .filter(|member| **member != self.me)
            .map(|member| {
                (
                    *member,
                    Progress {
                        next_index,
                        match_index: 0,
                        inflight: 0,
                        last_ack: Some(env.now),
                    },
                )
            })
            .collect();
        self.announce_role(out);
        self.append_local(EntryPayload::Noop, out);
        let peers: Vec<NodeId> = self.progress.keys().copied().collect();
        for peer in peers {
            self.send_append(peer, out);
        }
        self.advance_commit(out);
        out.push(RaftAction::SetTimer {
            timer: RaftTimer::Heartbeat,
            after: self.config.heartbeat_interval,
        });
    }

    fn log_up_to_date(&self, last_log_index: u64, last_log_term: u64) -> bool {
        (last_log_term, last_log_index) >= (self.last_log_term(), self.last_log_index())
    }

    /// A leader was heard from recently: refuse to help depose it (§4.2.3, §9.6).
    fn leader_is_fresh(&self, now: SimTime) -> bool {
        self.role == RaftRole::Leader
            || (self.leader.is_some()
                && self
                    .last_heard_from_leader
                    .is_some_and(|heard| now.since(heard) < self.config.election_timeout_min))
    }

    // ---- messages ----

    /// A message from `from` arrived.
    pub fn handle_message(
        &mut self,
        env: &mut RaftEnv<'_>,
        from: NodeId,
        message: RaftMessage<C, S>,
        out: &mut Vec<RaftAction<C, S>>,
    ) {
        if !self.started {
            return;
        }
        match message {
            RaftMessage::RequestVote {
                term,
                last_log_index,
                last_log_term,
                pre_vote,
            } => self.on_request_vote(
                env,
                from,
                term,
                last_log_index,
                last_log_term,
                pre_vote,
                out,
            ),
            RaftMessage::RequestVoteResponse {
                term,
                granted,
                pre_vote,
            } => self.on_vote_response(env, from, term, granted, pre_vote, out),
            RaftMessage::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => self.on_append_entries(
                env,
                from,
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                out,
            ),
            RaftMessage::AppendEntriesResponse {
                term,
                success,
                match_index,
                conflict_term,
                conflict_index,
            } => self.on_append_response(
                env,
                from,
                term,
                success,
                match_index,
                conflict_term,
                conflict_index,
                out,
            ),
            RaftMessage::InstallSnapshot {
                term,
                last_included_index,
                last_included_term,
                members,
                data,
            } => self.on_install_snapshot(
                env,
                from,
                term,
                last_included_index,
                last_included_term,
                members,
                data,
                out,
            ),
            RaftMessage::InstallSnapshotResponse {
                term,
                last_included_index,
            } => {
                if term > self.durable.term {
                    self.become_follower(env, term, None, out);
                    return;
                }
                if self.role != RaftRole::Leader || term < self.durable.term {
                    return;
                }
                let last_log_index = self.last_log_index();
                if let Some(progress) = self.progress.get_mut(&from) {
                    progress.match_index = progress
                        .match_index
                        .max(last_included_index.min(last_log_index));
                    progress.next_index = progress.match_index + 1;
                    progress.inflight = 0;
                    progress.last_ack = Some(env.now);
                }
                self.advance_commit(out);
                self.send_append(from, out);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_request_vote(
        &mut self,
        env: &mut RaftEnv<'_>,
        from: NodeId,
        term: u64,
        last_log_index: u64,
        last_log_term: u64,
        pre_vote: bool,
        out: &mut Vec<RaftAction<C, S>>,
    ) {
        if pre_vote {
            let granted = term > self.durable.term
                && self.log_up_to_date(last_log_index, last_log_term)
                && !self.leader_is_fresh(env.now);
            out.push(RaftAction::Send {
                to: from,
                message: RaftMessage::RequestVoteResponse {
                    term: if granted { term } else { self.durable.term },
                    granted,
                    pre_vote: true,
                },
            });
            return;
        }
        // With pre-vote, a server that hears from its leader ignores vote
        // requests entirely, so a partitioned-away server cannot depose it.
        if self.config.pre_vote && term > self.durable.term && self.leader_is_fresh(env.now) {
            return;
        }
        if term > self.durable.term {
            self.become_follower(env, term, None, out);
        }
        let granted = term == self.durable.term
            && self.durable.voted_for.is_none_or(|voted| voted == from)
            && self.log_up_to_date(last_log_index, last_log_term);
        if granted {
            self.durable.voted_for = Some(from);
            self.reset_election_timer(env, out);
        }
        out.push(RaftAction::Send {
            to: from,
            message: RaftMessage::RequestVoteResponse {
                term: self.durable.term,
                granted,
                pre_vote: false,
            },
        });
    }

    fn on_vote_response(
        &mut self,
        env: &mut RaftEnv<'_>,
        from: NodeId,
        term: u64,
        granted: bool,
        pre_vote: bool,
        out: &mut Vec<RaftAction<C, S>>,
    ) {
        if term > self.durable.term && !(pre_vote && granted) {
            self.become_follower(env, term, None, out);
            return;
        }
        if !granted || !self.is_member(from) {
            return;
        }
        if pre_vote {
            if self.role == RaftRole::PreCandidate && term == self.durable.term + 1 {
                self.votes.insert(from);
                if self.votes.len() >= self.quorum() {
                    self.start_election(env, out);
                }
            }
        } else if self.role == RaftRole::Candidate && term == self.durable.term {
            self.votes.insert(from);
            if self.votes.len() >= self.quorum() {
                self.become_leader(env, out);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append_entries(
        &mut self,
        env: &mut RaftEnv<'_>,
        from: NodeId,
        term: u64,
        prev_log_index: u64,
        prev_log_term: u64,
        entries: Vec<LogEntry<C>>,
        leader_commit: u64,
        out: &mut Vec<RaftAction<C, S>>,
    ) {
        let reply = |core: &Self,
                     success: bool,
                     match_index: u64,
                     conflict_term: Option<u64>,
                     conflict_index: u64| RaftAction::Send {
            to: from,
            message: RaftMessage::AppendEntriesResponse {
                term: core.durable.term,
                success,
                match_index,
                conflict_term,
                conflict_index,
            },
        };
        if term < self.durable.term {
            out.push(reply(self, false, 0, None, 0));
            return;
        }
        // A current leader exists: candidates and stale leaders step down.
        if term > self.durable.term || self.role != RaftRole::Follower || self.leader != Some(from)
        {
            self.become_follower(env, term, Some(from), out);
        }
        self.last_heard_from_leader = Some(env.now);
        let timeout = self.random_election_timeout(env);
        self.election_deadline = env.now.plus(timeout);

        // Entries at or below the snapshot are committed and known to match.
        let snapshot_index = self.snapshot_index();
        let (prev_log_index, prev_log_term, entries) = if prev_log_index < snapshot_index {
            let skip = (snapshot_index - prev_log_index) as usize;
            let remaining: Vec<LogEntry<C>> = entries.into_iter().skip(skip).collect();
            (snapshot_index, self.snapshot_term(), remaining)
        } else {
            (prev_log_index, prev_log_term, entries)
        };
        if prev_log_index > self.last_log_index() {
            let conflict_index = self.last_log_index() + 1;
            out.push(reply(self, false, 0, None, conflict_index));
            return;
        }
        let local_prev_term = self.term_at(prev_log_index).unwrap_or(0);
        if local_prev_term != prev_log_term {
            // First index of the conflicting term, so the leader skips it whole.
            let mut first = prev_log_index;
            while first > snapshot_index + 1 && self.term_at(first - 1) == Some(local_prev_term) {
                first -= 1;
            }
            out.push(reply(self, false, 0, Some(local_prev_term), first));
            return;
        }
        let last_new_index = prev_log_index + entries.len() as u64;
        let mut log_changed = false;
        for entry in entries {
            match self.term_at(entry.index) {
                Some(existing) if existing == entry.term => continue,
                Some(_) => {
                    self.truncate_from(entry.index, out);
                    log_changed = true;
                }
                None => {}
            }
            if matches!(entry.payload, EntryPayload::Membership(_)) {
                log_changed = true;
            }
            self.push_entry(entry, out);
        }
        if log_changed {
            self.refresh_members();
        }
        if leader_commit > self.commit_index {
            let new_commit = leader_commit.min(last_new_index);
            if new_commit > self.commit_index {
                self.set_commit(new_commit, out);
            }
        }
        out.push(reply(self, true, last_new_index, None, 0));
    }

    fn truncate_from(&mut self, index: u64, out: &mut Vec<RaftAction<C, S>>) {
        let removed = self.last_log_index() + 1 - index;
        let keep = (index - self.snapshot_index() - 1) as usize;
        self.durable.log.truncate(keep);
        out.push(RaftAction::Fact(Fact::RaftTruncate {
            group: self.config.group,
            from_index: index,
            removed,
            storage_lost: false,
        }));
    }

    fn push_entry(&mut self, entry: LogEntry<C>, out: &mut Vec<RaftAction<C, S>>) {
        out.push(RaftAction::Fact(Fact::RaftAppend {
            group: self.config.group,
            index: entry.index,
            term: entry.term,
            digest: payload_digest(&entry.payload),
        }));
        self.durable.log.push_back(entry);
    }

    fn append_local(&mut self, payload: EntryPayload<C>, out: &mut Vec<RaftAction<C, S>>) -> u64 {
        let index = self.last_log_index() + 1;
        let is_membership = matches!(payload, EntryPayload::Membership(_));
        self.push_entry(
            LogEntry {
                index,
                term: self.durable.term,
                payload,
            },
            out,
        );
        if is_membership {
            self.refresh_members();
        }
        index
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append_response(
        &mut self,
        env: &mut RaftEnv<'_>,
        from: NodeId,
        term: u64,
        success: bool,
        match_index: u64,
        conflict_term: Option<u64>,
        conflict_index: u64,
        out: &mut Vec<RaftAction<C, S>>,
    ) {
        if term > self.durable.term {
            self.become_follower(env, term, None, out);
            return;
        }
        if self.role != RaftRole::Leader || term < self.durable.term {
            return;
        }
        let last_log_index = self.last_log_index();
        let next_from_hint = if success {
            None
        } else {
            // Skip the follower's whole conflicting term (or to its log end).
            Some(match conflict_term {
                Some(conflict_term) => {
                    let last_of_term = self
                        .durable
                        .log
                        .iter()
                        .rev()
                        .find(|entry| entry.term == conflict_term)
                        .map(|entry| entry.index);
                    last_of_term.map_or(conflict_index, |index| index + 1)
                }
                None => conflict_index,
            })
        };
        let Some(progress) = self.progress.get_mut(&from) else {
            return;
        };
        progress.last_ack = Some(env.now);
        // Never believe a follower holds more than this leader's log: only a
        // server that lost its storage and reused a term could claim so.
        let send_more = if let Some(next) = next_from_hint {
            progress.inflight = 0;
            let lowest = (progress.match_index + 1).min(last_log_index + 1);
            progress.next_index = next.clamp(lowest, last_log_index + 1);
            true
        } else {
            progress.inflight = progress.inflight.saturating_sub(1);
            progress.match_index = progress.match_index.max(match_index.min(last_log_index));
            progress.next_index = progress.next_index.max(progress.match_index + 1);
            progress.next_index <= last_log_index
                && progress.inflight < self.config.max_inflight_appends
        };
        if success {
            self.advance_commit(out);
        }
        if send_more && self.role == RaftRole::Leader {
            self.send_append(from, out);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_install_snapshot(
        &mut self,
        env: &mut RaftEnv<'_>,
        from: NodeId,
        term: u64,
        last_included_index: u64,
        last_included_term: u64,
        members: Vec<NodeId>,
        data: S,
        out: &mut Vec<RaftAction<C, S>>,
    ) {
        if term < self.durable.term {
            out.push(RaftAction::Send {
                to: from,
                message: RaftMessage::InstallSnapshotResponse {
                    term: self.durable.term,
                    last_included_index,
                },
            });
            return;
        }
        if term > self.durable.term || self.role != RaftRole::Follower || self.leader != Some(from)
        {
            self.become_follower(env, term, Some(from), out);
        }
        self.last_heard_from_leader = Some(env.now);
        let timeout = self.random_election_timeout(env);
        self.election_deadline = env.now.plus(timeout);
        if last_included_index > self.commit_index {
            // Keep a matching suffix (§5.3 of the dissertation's ch. 5), else drop it all.
            if self.term_at(last_included_index) == Some(last_included_term) {
                while self
                    .durable
                    .log
                    .front()
                    .is_some_and(|entry| entry.index <= last_included_index)
                {
                    self.durable.log.pop_front();
                }
            } else {
                self.durable.log.clear();
            }
            self.durable.snapshot = Some(Snapshot {
                index: last_included_index,
                term: last_included_term,
                members,
                data: data.clone(),
            });
            self.refresh_members();
            self.commit_index = last_included_index;
            self.last_applied = last_included_index;
            out.push(RaftAction::Fact(Fact::RaftSnapshotInstalled {
                group: self.config.group,
                index: last_included_index,
                term: last_included_term,
                log_kept: self.durable.log.len() as u64,
            }));
            out.push(RaftAction::RestoreSnapshot {
                index: last_included_index,
                term: last_included_term,
                data,
            });
            self.apply_committed(out);
        }
        out.push(RaftAction::Send {
            to: from,
            message: RaftMessage::InstallSnapshotResponse {
                term: self.durable.term,
                last_included_index,
            },
        });
    }

    // ---- replication ----

    fn send_append(&mut self, peer: NodeId, out: &mut Vec<RaftAction<C, S>>) {
        let last_log_index = self.last_log_index();
        let Some(progress) = self.progress.get(&peer) else {
            return;
        };
        let next_index = progress.next_index;
        if next_index <= self.snapshot_index() {
            if let Some(snap) = &self.durable.snapshot {
                out.push(RaftAction::Send {
                    to: peer,
                    message: RaftMessage::InstallSnapshot {
                        term: self.durable.term,
                        last_included_index: snap.index,
                        last_included_term: snap.term,
                        members: snap.members.clone(),
                        data: snap.data.clone(),
                    },
                });
            }
            return;
        }
        let prev_log_index = next_index - 1;
        let prev_log_term = self.term_at(prev_log_index).unwrap_or(0);
        let last_to_send =
            last_log_index.min(prev_log_index + self.config.max_entries_per_append.max(1));
        let entries: Vec<LogEntry<C>> = (next_index..=last_to_send)
            .filter_map(|index| self.entry(index).cloned())
            .collect();
        if let Some(progress) = self.progress.get_mut(&peer)
            && !entries.is_empty()
        {
            progress.inflight += 1;
            // Optimistic pipelining: a lost message shows up as a rejection
            // (gap) and the hint moves next_index back.
            progress.next_index = last_to_send + 1;
        }
        out.push(RaftAction::Send {
            to: peer,
            message: RaftMessage::AppendEntries {
                term: self.durable.term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit: self.commit_index,
            },
        });
    }

    /// Sends new entries to followers that have room in their pipeline.
    fn replicate(&mut self, out: &mut Vec<RaftAction<C, S>>) {
        let last_log_index = self.last_log_index();
        let ready: Vec<NodeId> = self
            .progress
            .iter()
            .filter(|(_, progress)| {
                progress.next_index <= last_log_index
                    && progress.inflight < self.config.max_inflight_appends
            })
            .map(|(peer, _)| *peer)
            .collect();
        for peer in ready {
            self.send_append(peer, out);
        }
    }

    /// Commit the highest index a majority holds, if it is of this term.
    fn advance_commit(&mut self, out: &mut Vec<RaftAction<C, S>>) {
        let mut matched: Vec<u64> = self
            .members
            .iter()
            .map(|member| {
                if *member == self.me {
                    self.last_log_index()
                } else {
                    self.progress
                        .get(member)
                        .map_or(0, |progress| progress.match_index)
                }
            })
            .collect();
        if matched.is_empty() {
            return;
        }
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = matched[self.quorum() - 1];
        if candidate > self.commit_index && self.term_at(candidate) == Some(self.durable.term) {
            self.set_commit(candidate, out);
        }
    }

    fn set_commit(&mut self, commit_index: u64, out: &mut Vec<RaftAction<C, S>>) {
        self.commit_index = commit_index;
        out.push(RaftAction::Fact(Fact::RaftCommit {
            group: self.config.group,
            commit_index,
            term: self.term_at(commit_index).unwrap_or(0),
        }));
        self.apply_committed(out);
        // A leader removed from the configuration leaves once that is committed (§4.2.2).
        if self.role == RaftRole::Leader && !self.is_member(self.me) {
            let committed_config = self.durable.log.iter().rev().find_map(|entry| {
                matches!(entry.payload, EntryPayload::Membership(_)).then_some(entry.index)
            });
            if committed_config.is_none_or(|index| index <= commit_index) {
                self.role = RaftRole::Follower;
                self.leader = None;
                self.progress.clear();
                self.announce_role(out);
            }
        }
    }

    fn apply_committed(&mut self, out: &mut Vec<RaftAction<C, S>>) {
        while self.last_applied < self.commit_index {
            let index = self.last_applied + 1;
            let Some(entry) = self.entry(index) else {
                break;
            };
            let term = entry.term;
            let payload = entry.payload.clone();
            out.push(RaftAction::Fact(Fact::RaftApply {
                group: self.config.group,
                index,
                term,
                digest: payload_digest(&payload),
            }));
            out.push(RaftAction::Apply {
                index,
                term,
                payload,
            });
            self.last_applied = index;
        }
    }

    // ---- client interface ----

    /// Appends `command` if this server leads and has room. On success returns
    /// `(index, term)`: the command is committed when an `Apply` of that index
    /// carries that term; an `Apply` of that index with another term means it
    /// was lost (overwritten by a later leader) and never took effect.
    pub fn propose(
        &mut self,
        command: C,
        out: &mut Vec<RaftAction<C, S>>,
    ) -> Result<(u64, u64), ProposeError> {
        self.check_room()?;
        let index = self.append_local(EntryPayload::Command(command), out);
        self.replicate(out);
        self.advance_commit(out);
        Ok((index, self.durable.term))
    }

    fn check_room(&self) -> Result<(), ProposeError> {
        if self.role != RaftRole::Leader {
            return Err(ProposeError::NotLeader {
                leader_hint: self.leader,
            });
        }
        let uncommitted = self.last_log_index() - self.commit_index;
        if uncommitted >= self.config.max_uncommitted_entries {
            return Err(ProposeError::TooManyUncommitted {
                limit: self.config.max_uncommitted_entries,
            });
        }
        if self.log_len() >= self.config.max_log_entries {
            return Err(ProposeError::LogFull {
                limit: self.config.max_log_entries,
            });
        }
        Ok(())
    }

    /// Adds or removes one server (§4.1). Refused while another change is
    /// uncommitted or before this leader committed an entry of its own term.
    pub fn propose_membership(
        &mut self,
        env: &mut RaftEnv<'_>,
        change: MembershipChange,
        out: &mut Vec<RaftAction<C, S>>,
    ) -> Result<(u64, u64), ProposeError> {
        self.check_room()?;
        let pending_change = self.durable.log.iter().rev().any(|entry| {
            entry.index > self.commit_index && matches!(entry.payload, EntryPayload::Membership(_))
        });
        let committed_in_term = self.term_at(self.commit_index) == Some(self.durable.term);
        if pending_change || !committed_in_term {
            return Err(ProposeError::MembershipChangeInProgress);
        }
        let mut members = self.members.clone();
        match change {
            MembershipChange::Add(node) => {
                if members.contains(&node) {
                    return Err(ProposeError::InvalidMembershipChange);
                }
                members.push(node);
                members.sort();
                self.progress.insert(
                    node,
                    Progress {
                        next_index: self.last_log_index() + 1,
                        match_index: 0,
                        inflight: 0,
                        last_ack: Some(env.now),
                    },
                );
            }
            MembershipChange::Remove(node) => {
                if !members.contains(&node) || members.len() == 1 {
                    return Err(ProposeError::InvalidMembershipChange);
                }
                members.retain(|member| *member != node);
            }
        }
        let index = self.append_local(EntryPayload::Membership(members), out);
        if let MembershipChange::Remove(node) = change
            && node != self.me
        {
            // The removed server still gets this entry, then no more.
            self.send_append(node, out);
            self.progress.remove(&node);
        }
        self.replicate(out);
        self.advance_commit(out);
        Ok((index, self.durable.term))
    }

    /// `Some(index)` when the embedder should snapshot its state machine as of
    /// `index` (the last applied entry) and call `compact`.
    pub fn snapshot_due(&self) -> Option<u64> {
        let threshold = self.config.snapshot_threshold_entries;
        (threshold > 0 && self.last_applied >= self.snapshot_index() + threshold)
            .then_some(self.last_applied)
    }

    /// Replaces the log up to `index` (≤ last applied) with `data`, the state
    /// machine as of `index`.
    pub fn compact(&mut self, index: u64, data: S) {
        if index <= self.snapshot_index() || index > self.last_applied {
            return;
        }
        let term = self.term_at(index).unwrap_or(0);
        let members = self.members_at(index);
        while self
            .durable
            .log
            .front()
            .is_some_and(|entry| entry.index <= index)
        {
            self.durable.log.pop_front();
        }
        self.durable.snapshot = Some(Snapshot {
            index,
            term,
            members,
            data,
        });
    }
}

#[cfg(test)]
mod tests;
