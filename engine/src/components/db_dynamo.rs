//! Leaderless, Dynamo-style replication of `kv_database` (AP): a consistent-hashing ring with virtual nodes, N/R/W quorums, sloppy quorum with hinted handoff, read repair, and conflicts resolved by last-write-wins on the coordinator's (skewable) clock or by version vectors with siblings.
//!
//! After DeCandia et al., "Dynamo: Amazon's Highly Available Key-value
//! Store" (SOSP 2007), §4.3–4.6: any replica coordinates a request; a key's
//! preference list is the first N distinct replicas clockwise from its hash;
//! a write is acknowledged after W replicas stored it, a read answered after
//! R replied. When preference-list replicas do not answer, the write goes to
//! the next replicas on the ring with a hint and is handed back later.
//! Departures: failure detection is a fixed wait (`sloppy_quorum_after_ms`)
//! rather than a gossip-based detector, and there is no Merkle-tree
//! anti-entropy (read repair and hinted handoff are the only repair paths).

use super::db_protocol::{
    DbFact, DbMessage, DbOperation, DbOutcome, DynVersion, SupersededBy, VersionVector,
    vv_descends, vv_merge,
};
use crate::component::{Context, TimerTag};
use crate::message::{NodeId, Payload};
use crate::scenario::{ConflictResolution, DynamoSpec, ReadConsistency};
use crate::time::SimDuration;
use std::collections::{BTreeMap, BTreeSet};

pub const TIMER_SLOPPY: u32 = 21;
pub const TIMER_COORDINATION_TIMEOUT: u32 = 22;
pub const TIMER_HANDOFF: u32 = 23;

/// Hinted writes a replica holds for others, at most (Cassandra bounds hints
/// by a time window; here by count). Beyond it new hints are dropped.
pub const MAX_HINTS: usize = 10_000;
/// Concurrent versions kept per key, at most; the oldest by timestamp go first.
pub const MAX_SIBLINGS: usize = 16;
/// Requests a coordinator tracks at once; beyond it new ones are refused.
pub const MAX_COORDINATIONS: usize = 10_000;
/// Hints handed off per handoff round.
const HANDOFF_BATCH: usize = 100;
/// Coordination ids with this bit are hint hand-offs, not client requests.
const HINT_BIT: u64 = 1 << 63;

/// The 64-bit mix of SplitMix64: positions on the ring.
pub fn ring_hash(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Clone)]
enum Work {
    Write {
        version: DynVersion,
        acked: BTreeSet<NodeId>,
        /// Preference-list replicas a stand-in has been asked to cover.
        covered: BTreeSet<NodeId>,
    },
    Read {
        needed: usize,
        replies: BTreeMap<NodeId, Vec<DynVersion>>,
        answered: bool,
    },
}

#[derive(Clone)]
struct Coordination {
    client: NodeId,
    request: u64,
    key: u32,
    targets: Vec<NodeId>,
    work: Work,
}

#[derive(Clone)]
pub struct Dynamo {
    spec: DynamoSpec,
    database: String,
    me: NodeId,
    ring: Vec<(u64, NodeId)>,
    members: usize,
    durable_storage: bool,
    // Durable with `durable_storage`.
    store: BTreeMap<u32, Vec<DynVersion>>,
    hints: BTreeMap<u64, (NodeId, u32, DynVersion)>,
    next_hint: u64,
    counter: u64,
    // Volatile.
    coordinations: BTreeMap<u64, Coordination>,
    next_coordination: u64,
    writes_coordinated: u64,
    reads_coordinated: u64,
    unavailable: u64,
    hints_stored: u64,
    hints_handed_off: u64,
    read_repairs: u64,
    conflicts_dropped: u64,
}

impl Dynamo {
    pub fn new(
        spec: &DynamoSpec,
        database: &str,
        me: NodeId,
        members: &[NodeId],
        durable_storage: bool,
    ) -> Dynamo {
        let mut ring: Vec<(u64, NodeId)> = members
            .iter()
            .flat_map(|node| {
                (0..spec.virtual_nodes.max(1)).map(move |vnode| {
                    (
                        ring_hash((u64::from(node.0) << 32) | u64::from(vnode)),
                        *node,
                    )
                })
            })
            .collect();
        ring.sort();
        Dynamo {
            spec: spec.clone(),
            database: database.to_string(),
            me,
            ring,
            members: members.len(),
            durable_storage,
            store: BTreeMap::new(),
            hints: BTreeMap::new(),
            next_hint: 0,
            counter: 0,
            coordinations: BTreeMap::new(),
            next_coordination: 0,
            writes_coordinated: 0,
            reads_coordinated: 0,
            unavailable: 0,
            hints_stored: 0,
            hints_handed_off: 0,
            read_repairs: 0,
            conflicts_dropped: 0,
        }
    }

    /// Every replica in ring order from `key`'s position: the first N are its
    /// preference list, the rest stand in for them under a sloppy quorum.
    pub fn ring_order(&self, key: u32) -> Vec<NodeId> {
        let position = ring_hash(u64::from(key) ^ 0x5EED_0000_0000_0000);
        let start = self.ring.partition_point(|(at, _)| *at < position);
        let mut order = Vec::new();
        for step in 0..self.ring.len() {
            let node = self.ring[(start + step) % self.ring.len()].1;
            if !order.contains(&node) {
                order.push(node);
                if order.len() == self.members {
                    break;
                }
            }
        }
        order
    }

    pub fn badge(&self) -> String {
        format!("keys {} hints {}", self.store.len(), self.hints.len())
    }

    pub fn in_progress(&self) -> usize {
        self.coordinations.len()
    }

    pub fn summary(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("writes_coordinated", self.writes_coordinated as f64),
            ("reads_coordinated", self.reads_coordinated as f64),
            ("unavailable", self.unavailable as f64),
            ("hints_stored", self.hints_stored as f64),
            ("hints_handed_off", self.hints_handed_off as f64),
            ("hints_held", self.hints.len() as f64),
            ("read_repairs", self.read_repairs as f64),
            ("conflicts_dropped", self.conflicts_dropped as f64),
        ]
    }

    fn send(ctx: &mut Context<'_>, to: NodeId, message: DbMessage) {
        let size = message.size_bytes();
        ctx.send(to, Payload::Db(message), size);
    }

    pub fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.schedule_handoff(ctx);
    }

    fn schedule_handoff(&self, ctx: &mut Context<'_>) {
        ctx.set_timer(
            SimDuration::from_millis(self.spec.hinted_handoff_interval_ms),
            TimerTag {
                kind: TIMER_HANDOFF,
                id: 0,
            },
        );
    }

    pub fn on_crash(&mut self, ctx: &mut Context<'_>) {
        self.coordinations.clear();
        if !self.durable_storage {
            self.store.clear();
            self.hints.clear();
            ctx.fact(crate::trace::Fact::Db(DbFact::DataLost {
                database: self.database.clone(),
            }));
            ctx.state("crashed: data and hints lost (no durable storage)");
        } else {
            ctx.state("crashed: data and hints kept on disk");
        }
    }

    /// Last-write-wins order: (timestamp, coordinator, value).
    fn lww_key(version: &DynVersion) -> (u64, u32, u64) {
        (version.timestamp_us, version.coordinator.0, version.value)
    }

    /// Merges `incoming` into `versions`, stating every version dropped.
    fn merge(
        resolution: ConflictResolution,
        versions: &mut Vec<DynVersion>,
        incoming: DynVersion,
        mut dropped: impl FnMut(u64, u64, SupersededBy),
    ) {
        if versions.iter().any(|version| version == &incoming) {
            return;
        }
        match resolution {
            ConflictResolution::LastWriteWins => match versions.first() {
                Some(existing) if Self::lww_key(existing) >= Self::lww_key(&incoming) => {
                    dropped(
                        existing.value,
                        incoming.value,
                        SupersededBy::HigherTimestamp,
                    );
                }
                Some(existing) => {
                    dropped(
                        incoming.value,
                        existing.value,
                        SupersededBy::HigherTimestamp,
                    );
                    *versions = vec![incoming];
                }
                None => versions.push(incoming),
            },
            ConflictResolution::VersionVectors => {
                if let Some(newer) = versions
                    .iter()
                    .find(|version| vv_descends(&version.clock, &incoming.clock))
                {
                    dropped(newer.value, incoming.value, SupersededBy::Descendant);
                    return;
                }
                versions.retain(|version| {
                    let older = vv_descends(&incoming.clock, &version.clock);
                    if older {
                        dropped(incoming.value, version.value, SupersededBy::Descendant);
                    }
                    !older
                });
                versions.push(incoming);
                if versions.len() > MAX_SIBLINGS {
                    versions.sort_by_key(Self::lww_key);
                    versions.remove(0);
                }
            }
        }
    }

    fn store_version(&mut self, ctx: &mut Context<'_>, key: u32, version: DynVersion) {
        let versions = self.store.entry(key).or_default();
        let database = &self.database;
        let mut facts = Vec::new();
        Self::merge(
            self.spec.conflict_resolution,
            versions,
            version,
            |kept, dropped, by| facts.push((kept, dropped, by)),
        );
        for (kept, dropped, by) in facts {
            if by == SupersededBy::HigherTimestamp {
                self.conflicts_dropped += 1;
            }
            ctx.fact(crate::trace::Fact::Db(DbFact::Superseded {
                database: database.clone(),
                key,
                kept,
                dropped,
                by,
            }));
        }
    }

    pub fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_SLOPPY => self.go_sloppy(ctx, tag.id),
            TIMER_COORDINATION_TIMEOUT => self.time_out(ctx, tag.id),
            TIMER_HANDOFF => {
                for (hint, (intended, key, version)) in self.hints.iter().take(HANDOFF_BATCH) {
                    Self::send(
                        ctx,
                        *intended,
                        DbMessage::Put {
                            coordination: hint | HINT_BIT,
                            key: *key,
                            version: version.clone(),
                            hint_for: None,
                        },
                    );
                }
                self.schedule_handoff(ctx);
            }
            _ => {}
        }
    }

    pub fn on_message(&mut self, ctx: &mut Context<'_>, from: NodeId, message: &DbMessage) {
        match message {
            DbMessage::Request {
                request,
                operation,
                consistency,
                context,
            } => self.coordinate(ctx, from, *request, *operation, *consistency, context),
            DbMessage::Put {
                coordination,
                key,
                version,
                hint_for,
            } => {
                self.store_version(ctx, *key, version.clone());
                if let Some(intended) = hint_for
                    && *intended != self.me
                {
                    if self.hints.len() < MAX_HINTS {
                        self.hints
                            .insert(self.next_hint, (*intended, *key, version.clone()));
                        self.next_hint += 1;
                        self.hints_stored += 1;
                    } else {
                        ctx.error("db_hint_dropped");
                    }
                }
                Self::send(
                    ctx,
                    from,
                    DbMessage::PutAck {
                        coordination: *coordination,
                    },
                );
            }
            DbMessage::PutAck { coordination } => {
                if coordination & HINT_BIT != 0 {
                    if self.hints.remove(&(coordination & !HINT_BIT)).is_some() {
                        self.hints_handed_off += 1;
                    }
                    return;
                }
                self.on_put_ack(ctx, *coordination, from);
            }
            DbMessage::Get { coordination, key } => {
                let versions = self.store.get(key).cloned().unwrap_or_default();
                Self::send(
                    ctx,
                    from,
                    DbMessage::GetReply {
                        coordination: *coordination,
                        versions,
                    },
                );
            }
            DbMessage::GetReply {
                coordination,
                versions,
            } => self.on_get_reply(ctx, *coordination, from, versions.clone()),
            _ => {}
        }
    }

    fn coordinate(
        &mut self,
        ctx: &mut Context<'_>,
        client: NodeId,
        request: u64,
        operation: DbOperation,
        consistency: ReadConsistency,
        context: &VersionVector,
    ) {
        if self.coordinations.len() >= MAX_COORDINATIONS {
            Self::send(
                ctx,
                client,
                DbMessage::Response {
                    request,
                    outcome: DbOutcome::Rejected {
                        reason: "too_many_requests".to_string(),
                    },
                },
            );
            return;
        }
        let key = operation.key();
        let order = self.ring_order(key);
        let targets: Vec<NodeId> = order
            .iter()
            .copied()
            .take(self.spec.replicas_n as usize)
            .collect();
        let id = self.next_coordination;
        self.next_coordination += 1;
        let work = match operation {
            DbOperation::Write { value, .. } => {
                self.writes_coordinated += 1;
                let clock = match self.spec.conflict_resolution {
                    ConflictResolution::LastWriteWins => Vec::new(),
                    ConflictResolution::VersionVectors => {
                        self.counter += 1;
                        vv_merge(context, &vec![(self.me, self.counter)])
                    }
                };
                let version = DynVersion {
                    value,
                    // The coordinator's own clock: skew decides LWW conflicts.
                    timestamp_us: ctx.local_clock().as_micros(),
                    coordinator: self.me,
                    clock,
                };
                for target in &targets {
                    Self::send(
                        ctx,
                        *target,
                        DbMessage::Put {
                            coordination: id,
                            key,
                            version: version.clone(),
                            hint_for: None,
                        },
                    );
                }
                if self.spec.sloppy_quorum {
                    ctx.set_timer(
                        SimDuration::from_millis(self.spec.sloppy_quorum_after_ms),
                        TimerTag {
                            kind: TIMER_SLOPPY,
                            id,
                        },
                    );
                }
                Work::Write {
                    version,
                    acked: BTreeSet::new(),
                    covered: BTreeSet::new(),
                }
            }
            DbOperation::Read { .. } => {
                self.reads_coordinated += 1;
                for target in &targets {
                    Self::send(
                        ctx,
                        *target,
                        DbMessage::Get {
                            coordination: id,
                            key,
                        },
                    );
                }
                if self.spec.sloppy_quorum {
                    ctx.set_timer(
                        SimDuration::from_millis(self.spec.sloppy_quorum_after_ms),
                        TimerTag {
                            kind: TIMER_SLOPPY,
                            id,
                        },
                    );
                }
                let needed = if consistency == ReadConsistency::Any {
                    1
                } else {
                    self.spec.read_quorum_r as usize
                };
                Work::Read {
                    needed,
                    replies: BTreeMap::new(),
                    answered: false,
                }
            }
        };
        ctx.set_timer(
            SimDuration::from_millis(self.spec.coordinator_timeout_ms),
            TimerTag {
                kind: TIMER_COORDINATION_TIMEOUT,
                id,
            },
        );
        self.coordinations.insert(
            id,
            Coordination {
                client,
                request,
                key,
                targets,
                work,
            },
        );
    }

    fn on_put_ack(&mut self, ctx: &mut Context<'_>, id: u64, from: NodeId) {
        let needed = self.spec.write_quorum_w as usize;
        let Some(coordination) = self.coordinations.get_mut(&id) else {
            return;
        };
        let Work::Write { acked, version, .. } = &mut coordination.work else {
            return;
        };
        acked.insert(from);
        if acked.len() >= needed {
            let value = version.value;
            let (client, request) = (coordination.client, coordination.request);
            self.coordinations.remove(&id);
            Self::send(
                ctx,
                client,
                DbMessage::Response {
                    request,
                    outcome: DbOutcome::Ok {
                        values: vec![value],
                        context: Vec::new(),
                    },
                },
            );
        }
    }

    /// Preference-list replicas still silent: ask the next replicas on the
    /// ring to hold the write for them (sloppy quorum, hinted handoff).
    fn go_sloppy(&mut self, ctx: &mut Context<'_>, id: u64) {
        let order_len = self.spec.replicas_n as usize;
        let Some(coordination) = self.coordinations.get(&id) else {
            return;
        };
        let order = self.ring_order(coordination.key);
        let Some(coordination) = self.coordinations.get_mut(&id) else {
            return;
        };
        if let Work::Read { replies, .. } = &coordination.work {
            // Reads, too, go to "the first N healthy nodes" (Dynamo §4.6).
            let silent = coordination
                .targets
                .iter()
                .filter(|target| !replies.contains_key(target))
                .count();
            let stand_ins: Vec<NodeId> = order
                .iter()
                .copied()
                .skip(order_len)
                .filter(|node| !coordination.targets.contains(node))
                .take(silent)
                .collect();
            for stand_in in stand_ins {
                coordination.targets.push(stand_in);
                Self::send(
                    ctx,
                    stand_in,
                    DbMessage::Get {
                        coordination: id,
                        key: coordination.key,
                    },
                );
            }
            return;
        }
        let Work::Write {
            acked,
            covered,
            version,
        } = &mut coordination.work
        else {
            return;
        };
        let silent: Vec<NodeId> = coordination
            .targets
            .iter()
            .copied()
            .filter(|target| !acked.contains(target) && !covered.contains(target))
            .collect();
        let mut stand_ins = order.iter().copied().skip(order_len);
        for intended in silent {
            let Some(stand_in) = stand_ins.next() else {
                break;
            };
            covered.insert(intended);
            Self::send(
                ctx,
                stand_in,
                DbMessage::Put {
                    coordination: id,
                    key: coordination.key,
                    version: version.clone(),
                    hint_for: Some(intended),
                },
            );
        }
    }

    fn time_out(&mut self, ctx: &mut Context<'_>, id: u64) {
        let Some(coordination) = self.coordinations.remove(&id) else {
            return;
        };
        match coordination.work {
            Work::Write { acked, .. } => {
                self.unavailable += 1;
                ctx.error("db_quorum_unavailable");
                Self::send(
                    ctx,
                    coordination.client,
                    DbMessage::Response {
                        request: coordination.request,
                        outcome: DbOutcome::Unavailable {
                            reason: format!(
                                "{} of {} write acknowledgements",
                                acked.len(),
                                self.spec.write_quorum_w
                            ),
                        },
                    },
                );
            }
            Work::Read {
                replies,
                answered,
                needed,
            } => {
                if !answered {
                    self.unavailable += 1;
                    ctx.error("db_quorum_unavailable");
                    Self::send(
                        ctx,
                        coordination.client,
                        DbMessage::Response {
                            request: coordination.request,
                            outcome: DbOutcome::Unavailable {
                                reason: format!("{} of {needed} read replies", replies.len()),
                            },
                        },
                    );
                }
                self.read_repair(ctx, coordination.key, &replies);
            }
        }
    }

    fn resolve(&self, replies: &BTreeMap<NodeId, Vec<DynVersion>>) -> Vec<DynVersion> {
        let mut resolved = Vec::new();
        for versions in replies.values() {
            for version in versions {
                Self::merge(
                    self.spec.conflict_resolution,
                    &mut resolved,
                    version.clone(),
                    |_, _, _| {},
                );
            }
        }
        resolved
    }

    fn on_get_reply(
        &mut self,
        ctx: &mut Context<'_>,
        id: u64,
        from: NodeId,
        versions: Vec<DynVersion>,
    ) {
        let Some(coordination) = self.coordinations.get_mut(&id) else {
            return;
        };
        let Work::Read { replies, .. } = &mut coordination.work else {
            return;
        };
        replies.insert(from, versions);
        let (client, request, key, targets) = (
            coordination.client,
            coordination.request,
            coordination.key,
            coordination.targets.len(),
        );
        let Some(Coordination {
            work:
                Work::Read {
                    replies,
                    answered,
                    needed,
                },
            ..
        }) = self.coordinations.get(&id)
        else {
            return;
        };
        let (answered, needed, count) = (*answered, *needed, replies.len());
        if !answered && count >= needed {
            let resolved = self.resolve(replies);
            let context = resolved.iter().fold(Vec::new(), |merged, version| {
                vv_merge(&merged, &version.clock)
            });
            let mut values: Vec<u64> = resolved.iter().map(|version| version.value).collect();
            values.sort_unstable();
            Self::send(
                ctx,
                client,
                DbMessage::Response {
                    request,
                    outcome: DbOutcome::Ok { values, context },
                },
            );
            if let Some(Coordination {
                work: Work::Read { answered, .. },
                ..
            }) = self.coordinations.get_mut(&id)
            {
                *answered = true;
            }
        }
        if count >= targets {
            let coordination = self.coordinations.remove(&id).expect("present");
            if let Work::Read { replies, .. } = coordination.work {
                self.read_repair(ctx, key, &replies);
            }
        }
    }

    /// Sends the newest versions to every replica that answered with less.
    fn read_repair(
        &mut self,
        ctx: &mut Context<'_>,
        key: u32,
        replies: &BTreeMap<NodeId, Vec<DynVersion>>,
    ) {
        if !self.spec.read_repair || replies.is_empty() {
            return;
        }
        let resolved = self.resolve(replies);
        for (replica, versions) in replies {
            let mut sorted_theirs = versions.clone();
            sorted_theirs.sort_by_key(Self::lww_key);
            let mut sorted_resolved = resolved.clone();
            sorted_resolved.sort_by_key(Self::lww_key);
            if sorted_theirs == sorted_resolved {
                continue;
            }
            self.read_repairs += 1;
            for version in &resolved {
                if !versions.contains(version) {
                    Self::send(
                        ctx,
                        *replica,
                        DbMessage::Put {
                            // Acknowledgements of repairs match no coordination.
                            coordination: u64::MAX >> 1,
                            key,
                            version: version.clone(),
                            hint_for: None,
                        },
                    );
                }
            }
        }
    }
}
