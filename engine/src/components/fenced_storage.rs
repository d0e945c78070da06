//! `fenced_storage`: a storage service (or job executor) that remembers the highest fencing token per resource and, when enforcing, rejects writes carrying a lower one (Kleppmann, "How to do distributed locking", 2016).
//!
//! Every write is stated as a `StorageWrite` fact, accepted or not, which is
//! what `mutual_exclusion` and `each_tick_fires_exactly_once` check. The
//! highest token per resource is durable (it is the storage's own data).

use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::components::coord_protocol::{CoordFact, CoordPayload};
use crate::message::{Envelope, Payload};
use crate::scenario::FencedStorageSpec;
use crate::time::SimTime;
use crate::trace::Fact;
use std::collections::BTreeMap;

/// Resources one storage tracks tokens for; writes to more are rejected.
const MAX_FENCED_RESOURCES: usize = 10_000;

#[derive(Clone)]
pub struct FencedStorage {
    enforce_fencing: bool,
    highest_token: BTreeMap<String, u64>,
    accepted: u64,
    rejected: u64,
}

impl FencedStorage {
    pub fn new(spec: &FencedStorageSpec) -> FencedStorage {
        FencedStorage {
            enforce_fencing: spec.enforce_fencing,
            highest_token: BTreeMap::new(),
            accepted: 0,
            rejected: 0,
        }
    }
}

impl Component for FencedStorage {
    fn on_start(&mut self, _ctx: &mut Context<'_>) {}

    fn on_message(&mut self, ctx: &mut Context<'_>, envelope: &Envelope) {
        let Payload::Coord(CoordPayload::StorageWrite {
            resource,
            token,
            write,
        }) = &envelope.payload
        else {
            return;
        };
        let known = self.highest_token.contains_key(resource);
        let highest = self.highest_token.get(resource).copied().unwrap_or(0);
        let accepted = (known || self.highest_token.len() < MAX_FENCED_RESOURCES)
            && (!self.enforce_fencing || *token >= highest);
        if accepted {
            self.accepted += 1;
            self.highest_token
                .insert(resource.clone(), highest.max(*token));
            ctx.completed(crate::time::SimDuration::ZERO);
        } else {
            self.rejected += 1;
            ctx.error("fenced_write_rejected");
        }
        ctx.fact(Fact::Coord(CoordFact::StorageWrite {
            resource: resource.clone(),
            writer: envelope.from,
            token: *token,
            write: *write,
            accepted,
        }));
        ctx.send(
            envelope.from,
            Payload::Coord(CoordPayload::StorageWriteReply {
                write: *write,
                accepted,
                highest_token: highest.max(if accepted { *token } else { 0 }),
            }),
            64,
        );
    }

    fn on_timer(&mut self, _ctx: &mut Context<'_>, _tag: TimerTag) {}

    fn on_crash(&mut self, ctx: &mut Context<'_>) {
        ctx.state("crashed: tokens are on disk and survive");
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: 0,
            in_progress: 0,
            badge: format!("{} ok {} fenced", self.accepted, self.rejected),
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("writes_accepted", self.accepted as f64),
            ("writes_rejected", self.rejected as f64),
        ]
    }
}
