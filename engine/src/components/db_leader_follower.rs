//! Leader/follower replication of `kv_database` (Redis/MySQL/PostgreSQL style): one primary streams writes to replicas, acknowledging clients asynchronously, semi-synchronously or synchronously; sentinels promote and demote.
//!
//! The model follows Redis replication: the primary appends each write to its
//! replication stream (an offset per write) and sends it to the replicas that
//! synced from it; replicas apply the stream in order and acknowledge
//! offsets. A replica that missed part of the stream asks again with its
//! offset and last write (PSYNC): if the primary's backlog still holds what
//! follows and the histories agree, it gets the missing writes; otherwise
//! a full resync replaces its whole data set — which is how an old primary's
//! own writes disappear once a sentinel makes it follow the new primary.
//! Role and epoch are configuration and survive a crash; data, log and
//! offset survive only with `durable_storage`.

use super::db_protocol::{DbFact, DbMessage, DbOperation, DbOutcome};
use crate::component::{Context, TimerTag};
use crate::message::{NodeId, Payload};
use crate::scenario::{LeaderFollowerSpec, ReadConsistency, ReplicationAcks};
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};

pub const TIMER_REPLICA_TICK: u32 = 11;
pub const TIMER_SEMI_SYNC_TIMEOUT: u32 = 12;

/// Client writes a primary keeps waiting for replica acknowledgements, at
/// most; beyond it new writes are refused (`too_many_pending_writes`), as a
/// real server's client output buffers and connection limits would.
pub const MAX_PENDING_SYNC_WRITES: usize = 10_000;
/// Writes re-sent to a lagging replica in one go; the rest follow its next request.
const MAX_CATCH_UP_WRITES: u64 = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Primary,
    Replica { primary: Option<NodeId> },
}

#[derive(Clone)]
struct PendingWrite {
    client: NodeId,
    request: u64,
    value: u64,
}

#[derive(Clone)]
pub struct LeaderFollower {
    spec: LeaderFollowerSpec,
    database: String,
    me: NodeId,
    members: Vec<NodeId>,
    durable_storage: bool,
    // Configuration (kept across crashes, as Redis rewrites its config file).
    role: Role,
    epoch: u64,
    // Data: durable only with `durable_storage`.
    data: BTreeMap<u32, u64>,
    offset: u64,
    /// The last `backlog_writes` writes: (offset, key, value).
    backlog: VecDeque<(u64, u32, u64)>,
    /// The value of the write at `offset` (for PSYNC), even when the backlog is empty.
    last_value: Option<u64>,
    // Volatile.
    /// Primary: replicas that synced from it, with their acknowledged offset and when.
    replicas: BTreeMap<NodeId, (u64, SimTime)>,
    /// Primary: writes waiting for acknowledgements, by offset.
    pending: BTreeMap<u64, PendingWrite>,
    writes_accepted: u64,
    writes_refused: u64,
    full_syncs: u64,
    /// Node names for state lines.
    names: Vec<String>,
}

impl LeaderFollower {
    pub fn new(
        spec: &LeaderFollowerSpec,
        database: &str,
        me: NodeId,
        members: Vec<NodeId>,
        durable_storage: bool,
        names: Vec<String>,
    ) -> LeaderFollower {
        // The first replica in document order starts as primary.
        let initial_primary = members.first().copied();
        let role = if initial_primary == Some(me) {
            Role::Primary
        } else {
            Role::Replica {
                primary: initial_primary,
            }
        };
        LeaderFollower {
            spec: spec.clone(),
            database: database.to_string(),
            me,
            members,
            durable_storage,
            role,
            epoch: 0,
            data: BTreeMap::new(),
            offset: 0,
            backlog: VecDeque::new(),
            last_value: None,
            replicas: BTreeMap::new(),
            pending: BTreeMap::new(),
            writes_accepted: 0,
            writes_refused: 0,
            full_syncs: 0,
            names,
        }
    }

    fn name(&self, node: NodeId) -> String {
        self.names
            .get(node.index())
            .cloned()
            .unwrap_or_else(|| format!("n{}", node.0))
    }

    pub fn is_primary(&self) -> bool {
        self.role == Role::Primary
    }

    /// (is primary, epoch), for the live view's badges.
    pub fn role_and_epoch(&self) -> (bool, u64) {
        (matches!(self.role, Role::Primary), self.epoch)
    }

    pub fn badge(&self) -> String {
        match self.role {
            Role::Primary => format!("primary e{} o{}", self.epoch, self.offset),
            Role::Replica { .. } => format!("replica e{} o{}", self.epoch, self.offset),
        }
    }

    /// Role and replication position for the replication panel.
    pub fn inspect(&self) -> crate::inspect::DatabaseReplicaInspection {
        crate::inspect::DatabaseReplicaInspection {
            database: self.database.clone(),
            role: match self.role {
                Role::Primary => "primary",
                Role::Replica { .. } => "replica",
            }
            .to_string(),
            following: match self.role {
                Role::Primary => None,
                Role::Replica { primary } => primary,
            },
            epoch: self.epoch,
            replication_offset: self.offset,
        }
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub fn summary(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("is_primary", if self.is_primary() { 1.0 } else { 0.0 }),
            ("epoch", self.epoch as f64),
            ("replication_offset", self.offset as f64),
            ("writes_accepted", self.writes_accepted as f64),
            ("writes_refused", self.writes_refused as f64),
            ("full_syncs", self.full_syncs as f64),
        ]
    }

    fn state_role(&self, ctx: &mut Context<'_>, why: &str) {
        ctx.fact(crate::trace::Fact::Db(DbFact::Role {
            database: self.database.clone(),
            primary: self.is_primary(),
            epoch: self.epoch,
        }));
        match self.role {
            Role::Primary => ctx.state(format!("primary epoch={} ({why})", self.epoch)),
            Role::Replica { primary } => ctx.state(format!(
                "replica of {} epoch={} ({why})",
                primary.map_or("none".to_string(), |node| self.name(node)),
                self.epoch
            )),
        }
    }

    fn send(ctx: &mut Context<'_>, to: NodeId, message: DbMessage) {
        let size = message.size_bytes();
        ctx.send(to, Payload::Db(message), size);
    }

    pub fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.state_role(ctx, "started");
        self.schedule_tick(ctx);
        self.request_sync(ctx);
    }

    fn schedule_tick(&self, ctx: &mut Context<'_>) {
        ctx.set_timer(
            SimDuration::from_millis(self.spec.replica_ack_interval_ms),
            TimerTag {
                kind: TIMER_REPLICA_TICK,
                id: 0,
            },
        );
    }

    fn request_sync(&self, ctx: &mut Context<'_>) {
        if let Role::Replica {
            primary: Some(primary),
        } = self.role
        {
            Self::send(
                ctx,
                primary,
                DbMessage::SyncRequest {
                    offset: self.offset,
                    last_value: self.last_value,
                },
            );
        }
    }

    pub fn on_crash(&mut self, ctx: &mut Context<'_>) {
        self.replicas.clear();
        self.pending.clear();
        if !self.durable_storage {
            self.data.clear();
            self.backlog.clear();
            self.offset = 0;
            self.last_value = None;
            ctx.fact(crate::trace::Fact::Db(DbFact::DataLost {
                database: self.database.clone(),
            }));
            ctx.state("crashed: data lost (no durable storage)");
        } else {
            ctx.state("crashed: data and replication log kept on disk");
        }
    }

    pub fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_REPLICA_TICK => {
                // A replica reports its offset (REPLCONF ACK); the primary
                // answers with what it missed, so a stream cut by a partition
                // resumes, as a reconnecting Redis replica's PSYNC does.
                self.request_sync(ctx);
                self.schedule_tick(ctx);
            }
            TIMER_SEMI_SYNC_TIMEOUT => {
                if let Some(write) = self.pending.remove(&tag.id) {
                    ctx.state(format!(
                        "semi-sync timeout at offset {}: acknowledged without replicas (async fallback)",
                        tag.id
                    ));
                    ctx.error("db_semi_sync_fallback");
                    self.reply_ok(ctx, write.client, write.request, vec![write.value]);
                }
            }
            _ => {}
        }
    }

    fn reply_ok(&self, ctx: &mut Context<'_>, client: NodeId, request: u64, values: Vec<u64>) {
        Self::send(
            ctx,
            client,
            DbMessage::Response {
                request,
                outcome: DbOutcome::Ok {
                    values,
                    context: Vec::new(),
                },
            },
        );
    }

    fn reply(ctx: &mut Context<'_>, client: NodeId, request: u64, outcome: DbOutcome) {
        Self::send(ctx, client, DbMessage::Response { request, outcome });
    }

    fn primary_hint(&self) -> Option<NodeId> {
        match self.role {
            Role::Primary => Some(self.me),
            Role::Replica { primary } => primary,
        }
    }

    pub fn on_request(
        &mut self,
        ctx: &mut Context<'_>,
        client: NodeId,
        request: u64,
        operation: DbOperation,
        consistency: ReadConsistency,
    ) {
        match operation {
            DbOperation::Read { key } => {
                if consistency == ReadConsistency::Any || self.is_primary() {
                    let values = self.data.get(&key).copied().into_iter().collect();
                    self.reply_ok(ctx, client, request, values);
                } else {
                    Self::reply(
                        ctx,
                        client,
                        request,
                        DbOutcome::NotPrimary {
                            primary_hint: self.primary_hint(),
                        },
                    );
                }
            }
            DbOperation::Write { key, value } => self.on_write(ctx, client, request, key, value),
        }
    }

    /// Replicas acknowledged within `min_replicas_max_lag_ms` (Redis "good replicas").
    fn good_replicas(&self, now: SimTime) -> u32 {
        let lag = SimDuration::from_millis(self.spec.min_replicas_max_lag_ms);
        self.replicas
            .values()
            .filter(|(_, at)| now.since(*at) <= lag)
            .count() as u32
    }

    fn on_write(
        &mut self,
        ctx: &mut Context<'_>,
        client: NodeId,
        request: u64,
        key: u32,
        value: u64,
    ) {
        if !self.is_primary() {
            Self::reply(
                ctx,
                client,
                request,
                DbOutcome::NotPrimary {
                    primary_hint: self.primary_hint(),
                },
            );
            return;
        }
        let refusal = if self.spec.min_replicas_to_write > 0
            && self.good_replicas(ctx.local_clock()) < self.spec.min_replicas_to_write
        {
            Some("not_enough_good_replicas")
        } else if self.spec.acks != ReplicationAcks::Async
            && self.pending.len() >= MAX_PENDING_SYNC_WRITES
        {
            Some("too_many_pending_writes")
        } else {
            None
        };
        if let Some(reason) = refusal {
            self.writes_refused += 1;
            ctx.error("db_write_refused");
            Self::reply(
                ctx,
                client,
                request,
                DbOutcome::Rejected {
                    reason: reason.to_string(),
                },
            );
            return;
        }
        self.writes_accepted += 1;
        self.append(ctx, key, value, true);
        for replica in self.replicas.keys().copied().collect::<Vec<_>>() {
            Self::send(
                ctx,
                replica,
                DbMessage::Stream {
                    epoch: self.epoch,
                    offset: self.offset,
                    key,
                    value,
                },
            );
        }
        match self.spec.acks {
            ReplicationAcks::Async => self.reply_ok(ctx, client, request, vec![value]),
            ReplicationAcks::SemiSync | ReplicationAcks::Sync => {
                self.pending.insert(
                    self.offset,
                    PendingWrite {
                        client,
                        request,
                        value,
                    },
                );
                if self.spec.acks == ReplicationAcks::SemiSync
                    && let Some(timeout_ms) = self.spec.semi_sync_timeout_ms
                {
                    ctx.set_timer(
                        SimDuration::from_millis(timeout_ms),
                        TimerTag {
                            kind: TIMER_SEMI_SYNC_TIMEOUT,
                            id: self.offset,
                        },
                    );
                }
                self.release_acknowledged(ctx);
            }
        }
    }

    fn append(&mut self, ctx: &mut Context<'_>, key: u32, value: u64, as_primary: bool) {
        self.offset += 1;
        self.data.insert(key, value);
        self.last_value = Some(value);
        self.backlog.push_back((self.offset, key, value));
        while self.backlog.len() as u64 > self.spec.backlog_writes.max(1) {
            self.backlog.pop_front();
        }
        ctx.fact(crate::trace::Fact::Db(DbFact::Appended {
            database: self.database.clone(),
            offset: self.offset,
            key,
            value,
            as_primary,
        }));
    }

    /// Acknowledgements a waiting write needs.
    fn acks_needed(&self) -> usize {
        match self.spec.acks {
            ReplicationAcks::Async => 0,
            ReplicationAcks::SemiSync => self.spec.semi_sync_replicas as usize,
            // Every other replica of the database, connected or not.
            ReplicationAcks::Sync => self.members.len().saturating_sub(1),
        }
    }

    fn release_acknowledged(&mut self, ctx: &mut Context<'_>) {
        let needed = self.acks_needed();
        let ready: Vec<u64> = self
            .pending
            .keys()
            .copied()
            .filter(|offset| {
                self.replicas
                    .values()
                    .filter(|(acked, _)| acked >= offset)
                    .count()
                    >= needed
            })
            .collect();
        for offset in ready {
            let write = self.pending.remove(&offset).expect("listed");
            self.reply_ok(ctx, write.client, write.request, vec![write.value]);
        }
    }

    pub fn on_message(&mut self, ctx: &mut Context<'_>, from: NodeId, message: &DbMessage) {
        match message {
            DbMessage::Request {
                request,
                operation,
                consistency,
                ..
            } => self.on_request(ctx, from, *request, *operation, *consistency),
            DbMessage::Stream {
                offset, key, value, ..
            } => {
                if self.role
                    != (Role::Replica {
                        primary: Some(from),
                    })
                {
                    return; // Not (or no longer) following the sender.
                }
                if *offset == self.offset + 1 {
                    self.append(ctx, *key, *value, false);
                    Self::send(
                        ctx,
                        from,
                        DbMessage::Ack {
                            offset: self.offset,
                        },
                    );
                } else if *offset > self.offset + 1 {
                    // A gap: part of the stream was lost. Ask for the rest.
                    self.request_sync(ctx);
                }
            }
            DbMessage::Ack { offset } if self.is_primary() && self.replicas.contains_key(&from) => {
                self.replicas.insert(from, (*offset, ctx.local_clock()));
                self.release_acknowledged(ctx);
            }
            DbMessage::SyncRequest { offset, last_value } => {
                self.on_sync_request(ctx, from, *offset, *last_value)
            }
            DbMessage::FullSync {
                epoch,
                offset,
                last_value,
                data,
            } => {
                if self.role
                    != (Role::Replica {
                        primary: Some(from),
                    })
                {
                    return;
                }
                let previous_offset = self.offset;
                self.data = data.iter().copied().collect();
                self.offset = *offset;
                self.backlog.clear();
                self.last_value = *last_value;
                self.full_syncs += 1;
                self.epoch = self.epoch.max(*epoch);
                ctx.fact(crate::trace::Fact::Db(DbFact::FullSync {
                    database: self.database.clone(),
                    from,
                    offset: *offset,
                    discarded: previous_offset,
                }));
                ctx.state(format!(
                    "full resync from {} at offset {offset}: local data set (offset {previous_offset}) replaced",
                    self.name(from)
                ));
                Self::send(
                    ctx,
                    from,
                    DbMessage::Ack {
                        offset: self.offset,
                    },
                );
            }
            DbMessage::Ping { probe } => {
                let following = match self.role {
                    Role::Primary => None,
                    Role::Replica { primary } => primary,
                };
                Self::send(
                    ctx,
                    from,
                    DbMessage::Pong {
                        probe: *probe,
                        primary: self.is_primary(),
                        epoch: self.epoch,
                        offset: self.offset,
                        following,
                    },
                );
            }
            DbMessage::Promote { epoch }
                if *epoch > self.epoch || (*epoch == self.epoch && !self.is_primary()) =>
            {
                self.epoch = *epoch;
                if !self.is_primary() {
                    self.role = Role::Primary;
                    self.replicas.clear();
                    self.pending.clear();
                    let why = format!("promoted by sentinel {}", self.name(from));
                    self.state_role(ctx, &why);
                }
            }
            DbMessage::ReplicaOf { primary, epoch } => {
                if *epoch < self.epoch || *primary == self.me {
                    return;
                }
                let changed = self.role
                    != (Role::Replica {
                        primary: Some(*primary),
                    });
                self.epoch = *epoch;
                if changed {
                    let was_primary = self.is_primary();
                    self.role = Role::Replica {
                        primary: Some(*primary),
                    };
                    // Writes waiting for acknowledgements will never get
                    // them here: their clients time out (outcome unknown).
                    self.pending.clear();
                    self.replicas.clear();
                    let why = if was_primary {
                        format!(
                            "demoted by sentinel {}: writes not on {} will be discarded",
                            self.name(from),
                            self.name(*primary)
                        )
                    } else {
                        format!("reconfigured by sentinel {}", self.name(from))
                    };
                    self.state_role(ctx, &why);
                    self.request_sync(ctx);
                }
            }
            _ => {}
        }
    }

    fn on_sync_request(
        &mut self,
        ctx: &mut Context<'_>,
        from: NodeId,
        offset: u64,
        last_value: Option<u64>,
    ) {
        if !self.is_primary() {
            return;
        }
        let backlog_start = self
            .backlog
            .front()
            .map_or(self.offset + 1, |(first, ..)| *first);
        // The replica's history is ours if the write at its offset is ours.
        let same_history = if offset == 0 {
            true
        } else if offset == self.offset {
            last_value == self.last_value
        } else {
            self.backlog
                .iter()
                .find(|(at, ..)| *at == offset)
                .is_some_and(|(_, _, value)| Some(*value) == last_value)
        };
        let partial = offset <= self.offset && same_history && offset + 1 >= backlog_start;
        if partial {
            for (at, key, value) in self
                .backlog
                .iter()
                .filter(|(at, ..)| *at > offset)
                .take(MAX_CATCH_UP_WRITES as usize)
            {
                Self::send(
                    ctx,
                    from,
                    DbMessage::Stream {
                        epoch: self.epoch,
                        offset: *at,
                        key: *key,
                        value: *value,
                    },
                );
            }
            self.replicas.insert(from, (offset, ctx.local_clock()));
        } else {
            Self::send(
                ctx,
                from,
                DbMessage::FullSync {
                    epoch: self.epoch,
                    offset: self.offset,
                    last_value: self.last_value,
                    data: self
                        .data
                        .iter()
                        .map(|(key, value)| (*key, *value))
                        .collect(),
                },
            );
            // Acknowledged only once it has loaded the data set.
            self.replicas.insert(from, (0, ctx.local_clock()));
        }
        self.release_acknowledged(ctx);
    }
}
