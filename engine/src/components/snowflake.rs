//! `snowflake`: a Twitter-Snowflake-style id generator — 41-bit millisecond timestamp from the node's own (skewable) clock, 10-bit worker id, 12-bit sequence — and what it does when that clock steps backwards.
//!
//! It answers every `request` it receives (e.g. from a load generator) with
//! one new id, stated as a `SnowflakeId` fact (`unique_ids` and
//! `ids_monotonic_per_worker` check them). Within one millisecond the
//! sequence counts up; when it wraps (4,096 ids) the generator waits for the
//! next millisecond, as Twitter's does. When the clock reads earlier than the
//! last id's timestamp (an NTP step, a `clock_skew` fault) the policy decides:
//! `wait` until the clock catches up, `refuse`, or `unsafe_issue` — issue from
//! the earlier timestamp with the sequence restarted at 0, which repeats ids
//! already handed out. The last timestamp is in memory only, as in Twitter's
//! implementation: a restart with a clock behind repeats ids too.

use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::components::coord_protocol::CoordFact;
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::coord::{ClockBackwardsPolicy, SnowflakeSpec};
use crate::time::{SimDuration, SimTime};
use crate::trace::Fact;
use std::collections::VecDeque;

const TIMER_RETRY: u32 = 1;
const SEQUENCE_BITS: u32 = 12;
const WORKER_BITS: u32 = 10;
const MAX_SEQUENCE: u32 = (1 << SEQUENCE_BITS) - 1;
/// 41 bits of milliseconds: about 69 years from the epoch.
const TIMESTAMP_MASK: u64 = (1 << 41) - 1;

/// Composes an id: timestamp | worker | sequence.
pub fn compose_id(timestamp_ms: u64, worker: u32, sequence: u32) -> u64 {
    ((timestamp_ms & TIMESTAMP_MASK) << (WORKER_BITS + SEQUENCE_BITS))
        | (u64::from(worker) << SEQUENCE_BITS)
        | u64::from(sequence & MAX_SEQUENCE)
}

#[derive(Clone)]
pub struct Snowflake {
    worker_id: u32,
    policy: ClockBackwardsPolicy,
    max_waiting_requests: usize,
    /// Timestamp (ms) of the last id issued; None after a (re)start.
    last_timestamp_ms: Option<u64>,
    sequence: u32,
    /// Requests waiting for the clock (a wrapped sequence, or `wait`), oldest first.
    waiting: VecDeque<(NodeId, u64, SimTime)>,
    retry_armed: bool,
    /// True while the clock is behind the last timestamp (one fact per episode).
    behind: bool,
    issued: u64,
    refused: u64,
    backwards_episodes: u64,
}

impl Snowflake {
    pub fn new(spec: &SnowflakeSpec) -> Snowflake {
        Snowflake {
            worker_id: spec.worker_id,
            policy: spec.on_clock_backwards,
            max_waiting_requests: spec.max_waiting_requests as usize,
            last_timestamp_ms: None,
            sequence: 0,
            waiting: VecDeque::new(),
            retry_armed: false,
            behind: false,
            issued: 0,
            refused: 0,
            backwards_episodes: 0,
        }
    }

    fn arm_retry(&mut self, ctx: &mut Context<'_>, after: SimDuration) {
        if !self.retry_armed {
            self.retry_armed = true;
            ctx.set_timer(
                after,
                TimerTag {
                    kind: TIMER_RETRY,
                    id: 0,
                },
            );
        }
    }

    fn answer(ctx: &mut Context<'_>, client: NodeId, operation: u64, arrived: SimTime, ok: bool) {
        ctx.send(client, Payload::Response { operation, ok }, 64);
        if ok {
            ctx.completed(ctx.now().since(arrived));
        }
    }

    /// Tries to issue an id now: Some(true) issued, Some(false) refused, None must wait.
    fn try_issue(&mut self, ctx: &mut Context<'_>) -> Option<bool> {
        let now_ms = ctx.local_clock().as_micros() / 1_000;
        let mut timestamp_ms = now_ms;
        if let Some(last) = self.last_timestamp_ms {
            if now_ms < last {
                if !self.behind {
                    self.behind = true;
                    self.backwards_episodes += 1;
                    let policy = match self.policy {
                        ClockBackwardsPolicy::Wait => "wait",
                        ClockBackwardsPolicy::Refuse => "refuse",
                        ClockBackwardsPolicy::UnsafeIssue => "unsafe_issue",
                    };
                    ctx.fact(Fact::Coord(CoordFact::ClockWentBackwards {
                        behind_ms: last - now_ms,
                        policy: policy.to_string(),
                    }));
                    ctx.state(format!("clock went back {} ms ({policy})", last - now_ms));
                }
                match self.policy {
                    ClockBackwardsPolicy::Wait => {
                        self.arm_retry(ctx, SimDuration::from_millis(last - now_ms + 1));
                        return None;
                    }
                    ClockBackwardsPolicy::Refuse => {
                        self.refused += 1;
                        ctx.error("snowflake_clock_backwards");
                        return Some(false);
                    }
                    ClockBackwardsPolicy::UnsafeIssue => {
                        self.sequence = 0;
                        timestamp_ms = now_ms;
                    }
                }
            } else {
                self.behind = false;
                if now_ms == last {
                    if self.sequence == MAX_SEQUENCE {
                        // 4,096 ids this millisecond: wait for the next one.
                        self.arm_retry(
                            ctx,
                            SimDuration::from_micros(1_000 - ctx.local_clock().as_micros() % 1_000),
                        );
                        return None;
                    }
                    self.sequence += 1;
                } else {
                    self.sequence = 0;
                }
            }
        } else {
            self.sequence = 0;
        }
        self.last_timestamp_ms = Some(timestamp_ms);
        let id = compose_id(timestamp_ms, self.worker_id, self.sequence);
        self.issued += 1;
        ctx.fact(Fact::Coord(CoordFact::SnowflakeId {
            worker: self.worker_id,
            id,
            timestamp_ms,
            sequence: self.sequence,
        }));
        Some(true)
    }

    fn drain(&mut self, ctx: &mut Context<'_>) {
        while let Some(&(client, operation, arrived)) = self.waiting.front() {
            match self.try_issue(ctx) {
                Some(ok) => {
                    self.waiting.pop_front();
                    Self::answer(ctx, client, operation, arrived, ok);
                }
                None => return,
            }
        }
    }
}

impl Component for Snowflake {
    fn on_start(&mut self, _ctx: &mut Context<'_>) {}

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let Payload::Request { operation, .. } = envelope.payload else {
            return;
        };
        if self.waiting.len() >= self.max_waiting_requests {
            self.refused += 1;
            ctx.error("snowflake_queue_full");
            Self::answer(ctx, envelope.from, operation, ctx.now(), false);
            return;
        }
        self.waiting
            .push_back((envelope.from, operation, ctx.now()));
        if self.waiting.len() == 1 {
            self.drain(ctx);
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        if tag.kind == TIMER_RETRY {
            self.retry_armed = false;
            self.drain(ctx);
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        self.last_timestamp_ms = None;
        self.sequence = 0;
        self.waiting.clear();
        self.retry_armed = false;
        self.behind = false;
        ctx.state("crashed: last timestamp forgotten");
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: self.waiting.len() as u64,
            in_progress: 0,
            badge: format!("w{} {} ids", self.worker_id, self.issued),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("ids_issued", self.issued as f64),
            ("requests_refused", self.refused as f64),
            ("clock_backwards_episodes", self.backwards_episodes as f64),
            ("waiting_requests", self.waiting.len() as f64),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_layout_is_timestamp_worker_sequence() {
        let id = compose_id(1, 2, 3);
        assert_eq!(id, (1 << 22) | (2 << 12) | 3);
        assert!(
            compose_id(5, 0, 0) > compose_id(4, 1023, 4095),
            "time dominates"
        );
    }
}
