//! Load generator: open-loop (Poisson, ramps, spikes) and closed-loop (users with think time) clients.
//!
//! Every request is a Jepsen-style operation: `invoke`, then `ok`, `fail`
//! (error response) or `info` (timed out: the server may or may not have
//! done it). Latency is measured from send to response in true time.

use crate::component::{Component, ComponentView, Context, TimerId, TimerTag};
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::{LoadGeneratorSpec, LoadPattern, RatePoint, Workload};
use crate::time::{SimDuration, SimTime};
use crate::trace::OperationPhase;
use std::collections::BTreeMap;

const TIMER_ARRIVAL: u32 = 1;
const TIMER_TIMEOUT: u32 = 2;
const TIMER_THINK: u32 = 3;
const TIMER_STREAM_START: u32 = 4;

#[derive(Clone)]
struct Stream {
    index: u32,
    target: NodeId,
    pattern: LoadPattern,
    request_bytes: u32,
    start: SimTime,
    stop: Option<SimTime>,
    path: Option<String>,
    auth_token: bool,
}

#[derive(Clone)]
struct Outstanding {
    stream: u32,
    /// Closed-loop user that is waiting on this request.
    user: Option<u32>,
    sent_at: SimTime,
    timeout: TimerId,
}

#[derive(Clone)]
pub struct LoadGenerator {
    spec: LoadGeneratorSpec,
    streams: Vec<Stream>,
    /// Volatile: lost on crash.
    outstanding: BTreeMap<u64, Outstanding>,
    next_operation: u64,
    sent: u64,
    ok: u64,
    failed: u64,
    timed_out: u64,
    refused_locally: u64,
    late_responses: u64,
    latency_sum_us: u128,
}

impl LoadGenerator {
    pub fn new(
        spec: &LoadGeneratorSpec,
        node_id: &str,
        workload: &Workload,
        node_ids: &BTreeMap<String, NodeId>,
    ) -> LoadGenerator {
        let streams = workload
            .streams
            .iter()
            .enumerate()
            .filter(|(_, stream)| stream.client == node_id)
            .filter_map(|(index, stream)| {
                Some(Stream {
                    index: index as u32,
                    target: *node_ids.get(&stream.target)?,
                    pattern: stream.pattern.clone(),
                    request_bytes: stream.request_bytes,
                    start: SimTime::from_millis(stream.start_ms),
                    stop: stream.stop_ms.map(SimTime::from_millis),
                    path: stream.path.clone(),
                    auth_token: stream.auth_token,
                })
            })
            .collect();
        LoadGenerator {
            spec: spec.clone(),
            streams,
            outstanding: BTreeMap::new(),
            next_operation: 0,
            sent: 0,
            ok: 0,
            failed: 0,
            timed_out: 0,
            refused_locally: 0,
            late_responses: 0,
            latency_sum_us: 0,
        }
    }

    fn stream_active(stream: &Stream, now: SimTime) -> bool {
        now >= stream.start && stream.stop.is_none_or(|stop| now < stop)
    }

    fn begin_stream(&mut self, ctx: &mut Context<'_>, position: usize) {
        let stream = &self.streams[position];
        match &stream.pattern {
            LoadPattern::OpenLoop { .. } => self.schedule_arrival(ctx, position),
            LoadPattern::ClosedLoop { users, .. } => {
                for user in 0..*users {
                    // Stagger users by one think time so they do not fire in lockstep.
                    self.schedule_think(ctx, position, user);
                }
            }
        }
    }

    fn schedule_arrival(&mut self, ctx: &mut Context<'_>, position: usize) {
        let stream = &self.streams[position];
        let LoadPattern::OpenLoop {
            inter_arrival,
            rate_profile,
        } = &stream.pattern
        else {
            return;
        };
        let now = ctx.now();
        let multiplier = rate_multiplier(rate_profile, now);
        let delay = if multiplier > 0.0 {
            SimDuration::from_millis_f64(inter_arrival.sample_ms(ctx.rng()) / multiplier)
        } else {
            // Rate is zero now: wake at the next profile point, or never.
            match rate_profile
                .iter()
                .find(|point| SimTime::from_millis(point.at_ms) > now)
            {
                Some(point) => SimTime::from_millis(point.at_ms).since(now),
                None => return,
            }
        };
        let arrival_at = now.plus(delay);
        if stream.stop.is_some_and(|stop| arrival_at >= stop) {
            return;
        }
        ctx.set_timer(
            delay,
            TimerTag {
                kind: TIMER_ARRIVAL,
                id: position as u64,
            },
        );
    }

    fn schedule_think(&mut self, ctx: &mut Context<'_>, position: usize, user: u32) {
        let LoadPattern::ClosedLoop { think_time, .. } = &self.streams[position].pattern else {
            return;
        };
        let think = think_time.sample(ctx.rng());
        ctx.set_timer(
            think,
            TimerTag {
                kind: TIMER_THINK,
                id: ((position as u64) << 32) | user as u64,
            },
        );
    }

    fn issue(&mut self, ctx: &mut Context<'_>, position: usize, user: Option<u32>) {
        let stream = &self.streams[position];
        let operation = self.next_operation;
        self.next_operation += 1;
        ctx.operation(
            operation,
            OperationPhase::Invoke,
            format!("stream={}", stream.index),
        );
        if user.is_none() && self.outstanding.len() >= self.spec.max_outstanding as usize {
            // The client's own bound: a real client would block or shed here.
            self.refused_locally += 1;
            ctx.operation(
                operation,
                OperationPhase::Fail,
                "client max_outstanding reached",
            );
            ctx.error("client_overload");
            return;
        }
        let (target, stream_index, request_bytes) =
            (stream.target, stream.index, stream.request_bytes);
        // A stream with a path speaks HTTP to a gateway; others send plain requests.
        let payload = match &stream.path {
            Some(path) => Payload::HttpRequest {
                operation,
                stream: stream_index,
                path: path.clone(),
                auth_token: stream.auth_token,
            },
            None => Payload::Request {
                operation,
                stream: stream_index,
            },
        };
        ctx.send(target, payload, request_bytes);
        let timeout = ctx.set_timer(
            SimDuration::from_millis(self.spec.request_timeout_ms),
            TimerTag {
                kind: TIMER_TIMEOUT,
                id: operation,
            },
        );
        self.outstanding.insert(
            operation,
            Outstanding {
                stream: position as u32,
                user,
                sent_at: ctx.now(),
                timeout,
            },
        );
        self.sent += 1;
    }

    /// A request finished (any outcome): a closed-loop user thinks, then goes again.
    fn release_user(&mut self, ctx: &mut Context<'_>, finished: &Outstanding) {
        if let Some(user) = finished.user {
            let position = finished.stream as usize;
            if Self::stream_active(&self.streams[position], ctx.now()) {
                self.schedule_think(ctx, position, user);
            }
        }
    }
}

/// The open-loop rate multiplier at `now`: steps, or linear ramps into points marked `ramp`.
fn rate_multiplier(profile: &[RatePoint], now: SimTime) -> f64 {
    let now_ms = now.as_micros() as f64 / 1_000.0;
    let mut previous: Option<&RatePoint> = None;
    for point in profile {
        if (point.at_ms as f64) > now_ms {
            return match previous {
                Some(before) if point.ramp => {
                    let span = (point.at_ms - before.at_ms) as f64;
                    let progress = if span > 0.0 {
                        (now_ms - before.at_ms as f64) / span
                    } else {
                        1.0
                    };
                    before.multiplier + (point.multiplier - before.multiplier) * progress
                }
                Some(before) => before.multiplier,
                None if point.ramp => {
                    1.0 + (point.multiplier - 1.0) * (now_ms / point.at_ms as f64)
                }
                None => 1.0,
            };
        }
        previous = Some(point);
    }
    previous.map_or(1.0, |point| point.multiplier)
}

impl Component for LoadGenerator {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        for position in 0..self.streams.len() {
            let start = self.streams[position].start;
            if ctx.now() >= start {
                self.begin_stream(ctx, position);
            } else {
                ctx.set_timer(
                    start.since(ctx.now()),
                    TimerTag {
                        kind: TIMER_STREAM_START,
                        id: position as u64,
                    },
                );
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let Payload::Response { operation, ok } = envelope.payload else {
            return;
        };
        let Some(finished) = self.outstanding.remove(&operation) else {
            // Answer to a request that already timed out (or a duplicate).
            self.late_responses += 1;
            return;
        };
        ctx.cancel_timer(finished.timeout);
        let latency = ctx.now().since(finished.sent_at);
        if ok {
            self.ok += 1;
            self.latency_sum_us += latency.as_micros() as u128;
            ctx.completed(latency);
            ctx.operation(operation, OperationPhase::Ok, "");
        } else {
            self.failed += 1;
            ctx.error("error_response");
            ctx.operation(operation, OperationPhase::Fail, "error response");
        }
        self.release_user(ctx, &finished);
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_STREAM_START => self.begin_stream(ctx, tag.id as usize),
            TIMER_ARRIVAL => {
                let position = tag.id as usize;
                if Self::stream_active(&self.streams[position], ctx.now()) {
                    self.issue(ctx, position, None);
                }
                self.schedule_arrival(ctx, position);
            }
            TIMER_THINK => {
                let position = (tag.id >> 32) as usize;
                let user = (tag.id & 0xFFFF_FFFF) as u32;
                if Self::stream_active(&self.streams[position], ctx.now()) {
                    self.issue(ctx, position, Some(user));
                }
            }
            TIMER_TIMEOUT => {
                let Some(finished) = self.outstanding.remove(&tag.id) else {
                    return;
                };
                self.timed_out += 1;
                ctx.error("timeout");
                ctx.operation(tag.id, OperationPhase::Info, "timeout");
                self.release_user(ctx, &finished);
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        // In-flight requests' outcomes are unknown to anyone now.
        for operation in std::mem::take(&mut self.outstanding).into_keys() {
            ctx.operation(operation, OperationPhase::Info, "client crashed");
        }
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: 0,
            in_progress: self.outstanding.len() as u64,
            badge: format!("{} out", self.outstanding.len()),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        let mean_latency_ms = if self.ok > 0 {
            self.latency_sum_us as f64 / self.ok as f64 / 1_000.0
        } else {
            0.0
        };
        vec![
            ("sent", self.sent as f64),
            ("ok", self.ok as f64),
            ("failed", self.failed as f64),
            ("timed_out", self.timed_out as f64),
            ("refused_locally", self.refused_locally as f64),
            ("late_responses", self.late_responses as f64),
            ("mean_latency_ms", mean_latency_ms),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_profile_steps_and_ramps() {
        let profile = vec![
            RatePoint {
                at_ms: 1_000,
                multiplier: 1.0,
                ramp: false,
            },
            RatePoint {
                at_ms: 2_000,
                multiplier: 3.0,
                ramp: true,
            },
            RatePoint {
                at_ms: 3_000,
                multiplier: 10.0,
                ramp: false,
            },
        ];
        assert_eq!(rate_multiplier(&profile, SimTime::from_millis(500)), 1.0);
        assert_eq!(rate_multiplier(&profile, SimTime::from_millis(1_500)), 2.0);
        assert_eq!(rate_multiplier(&profile, SimTime::from_millis(2_500)), 3.0);
        assert_eq!(rate_multiplier(&profile, SimTime::from_millis(9_000)), 10.0);
    }
}
