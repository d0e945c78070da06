//! Lost messages for the live view: where and when each recent drop happened, so the overlay can flash it.
//!
//! The overlay draws a short flash at the point of loss on the link. Where
//! that point is follows from how the simulator loses messages:
//! - `loss`: the link's loss probability is drawn when the message is sent
//!   (`network.rs`); a real packet would be lost somewhere on the wire, so the
//!   flash sits mid-link (`position` 0.5) at the send time;
//! - `partition` at send, `in_flight_limit`: the message never left the
//!   sender (`position` 0.0);
//! - `node_down`, and `partition` on arrival (the cut formed while it
//!   travelled): lost at the receiver's end (`position` 1.0) at arrival time.
//!
//! Drops are read from the trace ring (`TRACE_RING_CAPACITY` events), newest
//! first, at most `MAX_RECENT_DROPS_SHOWN`; older ones are only counted, and
//! the per-link totals (`LinkMetrics::total_dropped`) carry the rest for
//! aggregated drawing when flashes would be too many to see.

use crate::message::{MessageClass, MessageId};
use crate::trace::{DropReason, TraceEvent, TraceKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most drops one report lists for flashing. More than a few hundred flashes
/// at once read as noise; the overlay shows the rest as link intensity.
pub const MAX_RECENT_DROPS_SHOWN: usize = 200;

/// One lost message, for a flash. Nodes are indices into `Snapshot::nodes`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecentDrop {
    /// Trace sequence number of the drop (the overlay flashes each seq once).
    pub seq: u64,
    pub message: u64,
    pub from: u32,
    pub to: u32,
    /// The message's class, when its send is still in the trace ring.
    pub class: Option<MessageClass>,
    pub dropped_us: u64,
    pub reason: DropReason,
    /// Where on the way from `from` (0.0) to `to` (1.0) it was lost.
    pub position: f64,
}

/// Drops newer than a trace position, and per-link totals since t = 0.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecentDrops {
    /// Oldest first.
    pub shown: Vec<RecentDrop>,
    /// Newer drops than asked for beyond `MAX_RECENT_DROPS_SHOWN` (only those
    /// still in the trace ring are counted).
    pub hidden: u64,
    /// Every declared link's dropped total (both directions), in link order:
    /// `(from, to, dropped)` with node indices.
    pub per_link_total: Vec<(u32, u32, u64)>,
}

/// Where on the link a message dropped at `dropped_us` was lost.
pub fn drop_position(reason: DropReason, sent_us: Option<u64>, dropped_us: u64) -> f64 {
    match reason {
        DropReason::Loss => 0.5,
        DropReason::InFlightLimit => 0.0,
        DropReason::NodeDown => 1.0,
        // A partition drops at send (nothing left the sender) or on arrival.
        DropReason::Partition => match sent_us {
            Some(sent_us) if dropped_us > sent_us => 1.0,
            Some(_) => 0.0,
            // The send is older than the ring: it travelled a while.
            None => 1.0,
        },
    }
}

/// The drops in `events` (oldest first) with a sequence number above
/// `after_seq`: the newest `limit` of them oldest first, and how many more.
pub fn drops_after(
    events: &[&TraceEvent],
    after_seq: Option<u64>,
    limit: usize,
) -> (Vec<RecentDrop>, u64) {
    let mut newest: Vec<&TraceEvent> = Vec::new();
    let mut hidden = 0u64;
    for event in events.iter().rev() {
        if after_seq.is_some_and(|after| event.seq <= after) {
            break;
        }
        if matches!(event.kind, TraceKind::Drop { .. }) {
            if newest.len() < limit {
                newest.push(event);
            } else {
                hidden += 1;
            }
        }
    }
    // The sends of those messages, for their class and send time.
    let mut sends: BTreeMap<MessageId, (MessageClass, u64)> = newest
        .iter()
        .filter_map(|event| match event.kind {
            TraceKind::Drop { message, .. } => Some((message, (MessageClass::Control, u64::MAX))),
            _ => None,
        })
        .collect();
    let mut unresolved = sends.len();
    for event in events.iter().rev() {
        if unresolved == 0 {
            break;
        }
        if let TraceKind::Send { message, class, .. } = &event.kind
            && let Some(entry) = sends.get_mut(message)
            && entry.1 == u64::MAX
        {
            *entry = (*class, event.time.as_micros());
            unresolved -= 1;
        }
    }
    let shown = newest
        .iter()
        .rev()
        .filter_map(|event| {
            let TraceKind::Drop {
                message,
                from,
                to,
                reason,
            } = &event.kind
            else {
                return None;
            };
            let send = sends
                .get(message)
                .filter(|(_, sent_us)| *sent_us != u64::MAX);
            let dropped_us = event.time.as_micros();
            Some(RecentDrop {
                seq: event.seq,
                message: message.0,
                from: from.0,
                to: to.0,
                class: send.map(|(class, _)| *class),
                dropped_us,
                reason: *reason,
                position: drop_position(*reason, send.map(|(_, sent_us)| *sent_us), dropped_us),
            })
        })
        .collect();
    (shown, hidden)
}

impl crate::sim::Simulator {
    /// Drops recorded after trace position `after_seq` (all in the ring when
    /// `None`), at most `MAX_RECENT_DROPS_SHOWN`, plus per-link totals.
    pub fn recent_drops(&self, after_seq: Option<u64>) -> RecentDrops {
        let events: Vec<&TraceEvent> = self.trace().recent().collect();
        let (shown, hidden) = drops_after(&events, after_seq, MAX_RECENT_DROPS_SHOWN);
        let per_link_total = self
            .link_endpoints()
            .into_iter()
            .zip(self.metrics().links.iter())
            .map(|((from, to), metrics)| (from, to, metrics.total_dropped))
            .collect();
        RecentDrops {
            shown,
            hidden,
            per_link_total,
        }
    }
}
