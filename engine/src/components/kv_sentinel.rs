//! `kv_sentinel`: a Redis-Sentinel-style monitor that detects a failed primary of a leader/follower `kv_database` and fails over to a replica.
//!
//! After the Redis Sentinel documentation: every sentinel pings every replica
//! (`ping_interval_ms`); a primary silent for `down_after_ms` is subjectively
//! down (SDOWN). The sentinel then asks the others; when `quorum` of them
//! (itself included) say down, it is objectively down (ODOWN) and the
//! sentinel starts a failover in a new epoch, asking for votes: the first
//! request in an epoch gets a sentinel's vote. With votes from a majority of
//! sentinels (and at least `quorum`) it promotes the reachable replica with
//! the highest replication offset and tells every other replica to follow it.
//! Sentinels spread the newest configuration (hello messages) and tell any
//! replica that disagrees — an old primary back from a partition included —
//! to follow the configured primary. Configuration (epochs, votes, the
//! primary) survives a crash, as sentinel.conf does; liveness views do not.

use super::db_protocol::DbMessage;
use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::KvSentinelSpec;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};

const TIMER_TICK: u32 = 1;
const TIMER_DESYNCED_START: u32 = 2;
/// Redis's SENTINEL_MAX_DESYNC: up to 1 s of random delay before a failover starts.
const MAX_FAILOVER_DESYNC_US: u64 = 1_000_000;

#[derive(Clone, Copy)]
struct Report {
    primary: bool,
    epoch: u64,
    offset: u64,
    following: Option<NodeId>,
}

#[derive(Clone)]
pub struct KvSentinel {
    spec: KvSentinelSpec,
    members: Vec<NodeId>,
    sentinels: Vec<NodeId>,
    // Configuration (sentinel.conf).
    config_primary: Option<NodeId>,
    config_epoch: u64,
    current_epoch: u64,
    voted_epoch: u64,
    voted_for: Option<NodeId>,
    // Volatile views.
    last_pong: BTreeMap<NodeId, SimTime>,
    reports: BTreeMap<NodeId, Report>,
    /// Other sentinels' latest opinion on the primary (down?, when heard).
    opinions: BTreeMap<NodeId, (bool, SimTime)>,
    /// The failover this sentinel is campaigning for: (epoch, started, votes).
    attempt: Option<(u64, SimTime, BTreeSet<NodeId>)>,
    next_attempt_at: SimTime,
    /// When this sentinel's desynchronised failover start is due.
    desynced_start: Option<SimTime>,
    next_probe: u64,
    /// Node names for state lines.
    names: Vec<String>,
    /// (replica, epoch) demotions already announced in a state line.
    announced_demotions: BTreeSet<(NodeId, u64)>,
    failovers: u64,
    reconfigurations: u64,
}

impl KvSentinel {
    /// `members`: the database's replicas in document order (the first is the
    /// initial primary); `sentinels`: the other sentinels of the database.
    pub fn new(
        spec: &KvSentinelSpec,
        members: Vec<NodeId>,
        sentinels: Vec<NodeId>,
        names: Vec<String>,
    ) -> KvSentinel {
        KvSentinel {
            spec: spec.clone(),
            config_primary: members.first().copied(),
            members,
            sentinels,
            config_epoch: 0,
            current_epoch: 0,
            voted_epoch: 0,
            voted_for: None,
            last_pong: BTreeMap::new(),
            reports: BTreeMap::new(),
            opinions: BTreeMap::new(),
            attempt: None,
            next_attempt_at: SimTime::ZERO,
            desynced_start: None,
            next_probe: 0,
            names,
            announced_demotions: BTreeSet::new(),
            failovers: 0,
            reconfigurations: 0,
        }
    }

    fn name(&self, node: NodeId) -> String {
        self.names
            .get(node.index())
            .cloned()
            .unwrap_or_else(|| format!("n{}", node.0))
    }

    fn send(ctx: &mut Context<'_>, to: NodeId, message: DbMessage) {
        ctx.send(to, Payload::Db(message), 64);
    }

    fn down_after(&self) -> SimDuration {
        SimDuration::from_millis(self.spec.down_after_ms)
    }

    /// Subjectively down: silent for `down_after_ms` (by this sentinel's clock).
    fn subjectively_down(&self, now: SimTime, node: NodeId) -> bool {
        self.last_pong
            .get(&node)
            .is_none_or(|at| now.since(*at) > self.down_after())
    }

    fn majority(&self) -> usize {
        // Sentinels in all: the others and this one.
        self.sentinels.len().div_ceil(2) + 1
    }

    fn adopt(&mut self, ctx: &mut Context<'_>, epoch: u64, primary: NodeId, why: &str) {
        if epoch > self.config_epoch {
            self.config_epoch = epoch;
            self.current_epoch = self.current_epoch.max(epoch);
            self.config_primary = Some(primary);
            self.attempt = None;
            ctx.state(format!(
                "config epoch={epoch} primary={} ({why})",
                self.name(primary)
            ));
        }
    }

    fn tick(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.local_clock();
        for member in self.members.clone() {
            self.next_probe += 1;
            Self::send(
                ctx,
                member,
                DbMessage::Ping {
                    probe: self.next_probe,
                },
            );
        }
        if let Some(primary) = self.config_primary {
            for sentinel in self.sentinels.clone() {
                Self::send(
                    ctx,
                    sentinel,
                    DbMessage::Hello {
                        epoch: self.config_epoch,
                        primary,
                    },
                );
            }
        }
        self.reconfigure_disagreeing(ctx, now);
        self.evaluate(ctx);
    }

    /// Decides, from what this sentinel knows now, whether to start a failover.
    fn evaluate(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.local_clock();
        let Some(primary) = self.config_primary else {
            return;
        };
        if !self.subjectively_down(now, primary) {
            self.attempt = None;
            self.desynced_start = None;
            return;
        }
        // Ask the others (no vote requested: epoch 0) to learn whether it is objectively down.
        for sentinel in self.sentinels.clone() {
            Self::send(
                ctx,
                sentinel,
                DbMessage::IsPrimaryDown { primary, epoch: 0 },
            );
        }
        let fresh = SimDuration::from_millis(self.spec.ping_interval_ms * 3);
        let agreeing = 1 + self
            .opinions
            .values()
            .filter(|(down, at)| *down && now.since(*at) <= fresh)
            .count();
        if agreeing < self.spec.quorum as usize {
            return;
        }
        if let Some((epoch, started, _)) = &self.attempt {
            if now.since(*started) > SimDuration::from_millis(self.spec.failover_timeout_ms) {
                ctx.state(format!(
                    "failover epoch={epoch} timed out without a majority"
                ));
                self.attempt = None;
            }
            return;
        }
        if now < self.next_attempt_at {
            return;
        }
        // Redis delays each sentinel's start by a random 0–1 s
        // (SENTINEL_MAX_DESYNC) so that sentinels seeing ODOWN together do
        // not all vote for themselves in the same epoch.
        match self.desynced_start {
            None => {
                let delay = ctx.rng().below(MAX_FAILOVER_DESYNC_US);
                self.desynced_start = Some(now.plus(SimDuration::from_micros(delay)));
                ctx.set_timer(
                    SimDuration::from_micros(delay),
                    TimerTag {
                        kind: TIMER_DESYNCED_START,
                        id: 0,
                    },
                );
                return;
            }
            Some(start) if now < start => return,
            Some(_) => self.desynced_start = None,
        }
        // ODOWN: start a failover in a new epoch and vote for ourselves.
        self.current_epoch += 1;
        let epoch = self.current_epoch;
        self.voted_epoch = epoch;
        self.voted_for = Some(ctx.node());
        self.attempt = Some((epoch, now, BTreeSet::from([ctx.node()])));
        self.next_attempt_at = now.plus(SimDuration::from_millis(
            self.spec.failover_timeout_ms.saturating_mul(2),
        ));
        ctx.state(format!(
            "primary {} objectively down ({agreeing} of quorum {} agree): failover epoch={epoch}",
            self.name(primary),
            self.spec.quorum
        ));
        for sentinel in self.sentinels.clone() {
            Self::send(ctx, sentinel, DbMessage::IsPrimaryDown { primary, epoch });
        }
        self.try_lead(ctx, now);
    }

    /// With enough votes, promote the best reachable replica.
    fn try_lead(&mut self, ctx: &mut Context<'_>, now: SimTime) {
        let Some((epoch, _, votes)) = &self.attempt else {
            return;
        };
        let needed = self.majority().max(self.spec.quorum as usize);
        if votes.len() < needed {
            return;
        }
        let epoch = *epoch;
        let old_primary = self.config_primary;
        let candidate = self
            .members
            .iter()
            .copied()
            .filter(|member| Some(*member) != old_primary && !self.subjectively_down(now, *member))
            .filter_map(|member| self.reports.get(&member).map(|report| (member, *report)))
            .filter(|(_, report)| !report.primary)
            .max_by_key(|(member, report)| (report.offset, std::cmp::Reverse(member.0)));
        let Some((chosen, report)) = candidate else {
            ctx.state(format!(
                "failover epoch={epoch}: no reachable replica to promote"
            ));
            self.attempt = None;
            return;
        };
        self.failovers += 1;
        self.attempt = None;
        self.config_epoch = epoch;
        self.config_primary = Some(chosen);
        ctx.state(format!(
            "failover epoch={epoch}: promoting {} (offset {}) in place of {}",
            self.name(chosen),
            report.offset,
            old_primary.map_or("none".to_string(), |node| self.name(node))
        ));
        Self::send(ctx, chosen, DbMessage::Promote { epoch });
        for member in self.members.clone() {
            if member != chosen {
                Self::send(
                    ctx,
                    member,
                    DbMessage::ReplicaOf {
                        primary: chosen,
                        epoch,
                    },
                );
            }
        }
        for sentinel in self.sentinels.clone() {
            Self::send(
                ctx,
                sentinel,
                DbMessage::Hello {
                    epoch,
                    primary: chosen,
                },
            );
        }
    }

    /// Replicas that report a different primary (or claim to be one) are told
    /// to follow the configured primary: how an old primary is demoted on heal.
    fn reconfigure_disagreeing(&mut self, ctx: &mut Context<'_>, now: SimTime) {
        let Some(primary) = self.config_primary else {
            return;
        };
        for (member, report) in self.reports.clone() {
            if self.subjectively_down(now, member) || report.epoch > self.config_epoch {
                continue;
            }
            if member == primary {
                if !report.primary {
                    Self::send(
                        ctx,
                        member,
                        DbMessage::Promote {
                            epoch: self.config_epoch,
                        },
                    );
                }
            } else if report.primary || report.following != Some(primary) {
                self.reconfigurations += 1;
                // Said once per replica and epoch (reports lag the command by a ping).
                if report.primary && self.announced_demotions.insert((member, self.config_epoch)) {
                    ctx.state(format!(
                        "{} claims to be primary at epoch {} < {}: converting it to a replica of {}",
                        self.name(member),
                        report.epoch,
                        self.config_epoch,
                        self.name(primary)
                    ));
                }
                Self::send(
                    ctx,
                    member,
                    DbMessage::ReplicaOf {
                        primary,
                        epoch: self.config_epoch,
                    },
                );
            }
        }
    }
}

impl Component for KvSentinel {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        // Everyone counts as alive until proven otherwise.
        let now = ctx.local_clock();
        for member in &self.members {
            self.last_pong.insert(*member, now);
        }
        self.attempt = None;
        self.desynced_start = None;
        // Sentinels do not tick in lockstep.
        let phase = ctx.rng().below(self.spec.ping_interval_ms.max(1) * 1_000);
        ctx.set_timer(
            SimDuration::from_micros(phase),
            TimerTag {
                kind: TIMER_TICK,
                id: 0,
            },
        );
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let Payload::Db(message) = &envelope.payload else {
            return;
        };
        let from = envelope.from;
        let now = ctx.local_clock();
        match message {
            DbMessage::Pong {
                primary,
                epoch,
                offset,
                following,
                ..
            } => {
                self.last_pong.insert(from, now);
                self.reports.insert(
                    from,
                    Report {
                        primary: *primary,
                        epoch: *epoch,
                        offset: *offset,
                        following: *following,
                    },
                );
                if *primary && *epoch > self.config_epoch {
                    self.adopt(ctx, *epoch, from, "a replica was promoted in a newer epoch");
                }
            }
            DbMessage::Hello { epoch, primary } => {
                self.adopt(ctx, *epoch, *primary, "hello from another sentinel");
            }
            DbMessage::IsPrimaryDown { primary, epoch } => {
                let down = self.subjectively_down(now, *primary);
                let mut voted_for = None;
                if *epoch > 0 {
                    if *epoch > self.voted_epoch {
                        self.voted_epoch = *epoch;
                        self.voted_for = Some(from);
                        self.current_epoch = self.current_epoch.max(*epoch);
                        // Don't start a competing failover right away.
                        self.next_attempt_at =
                            now.plus(SimDuration::from_millis(self.spec.failover_timeout_ms));
                    }
                    if self.voted_epoch == *epoch {
                        voted_for = self.voted_for;
                    }
                }
                Self::send(
                    ctx,
                    from,
                    DbMessage::IsPrimaryDownReply {
                        primary: *primary,
                        down,
                        epoch: *epoch,
                        voted_for,
                    },
                );
            }
            DbMessage::IsPrimaryDownReply {
                primary,
                down,
                epoch,
                voted_for,
            } => {
                if Some(*primary) != self.config_primary {
                    return;
                }
                self.opinions.insert(from, (*down, now));
                if let Some((attempt_epoch, _, votes)) = &mut self.attempt
                    && *attempt_epoch == *epoch
                    && *voted_for == Some(ctx.node())
                {
                    votes.insert(from);
                    self.try_lead(ctx, now);
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        if tag.kind == TIMER_DESYNCED_START {
            self.evaluate(ctx);
        }
        if tag.kind == TIMER_TICK {
            self.tick(ctx);
            ctx.set_timer(
                SimDuration::from_millis(self.spec.ping_interval_ms),
                TimerTag {
                    kind: TIMER_TICK,
                    id: 0,
                },
            );
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        self.last_pong.clear();
        self.reports.clear();
        self.opinions.clear();
        self.attempt = None;
        self.desynced_start = None;
        ctx.state("crashed: liveness views lost, configuration kept");
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: 0,
            in_progress: u64::from(self.attempt.is_some()),
            badge: format!(
                "e{} primary {}",
                self.config_epoch,
                self.config_primary
                    .map_or("none".to_string(), |node| self.name(node))
            ),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("config_epoch", self.config_epoch as f64),
            ("failovers_led", self.failovers as f64),
            ("reconfigurations_sent", self.reconfigurations as f64),
        ]
    }
}
