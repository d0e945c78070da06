//! The live layer drawn over the topology (inside the canvas's world group,
//! so it pans and zooms with it): node badges from the engine's typed
//! `NodeLiveStatus` (crown, ISR, lag, breaker, down/paused/slow/partitioned,
//! clock skew, queue depth bar) and drop flashes. Message particles are
//! computed here (`particle_dots`, coloured by `MessageClass` and
//! interpolated between engine reports) but painted on a canvas by
//! `particle_layer`, because per-frame SVG changes made the browser re-lay
//! out and re-raster the whole diagram.
//!
//! Nothing here decides anything about the domain: each badge is drawn only
//! because the engine's snapshot carries it.

use crate::driver::SimView;
use crate::editor::{Editor, NODE_HEIGHT_PX, NODE_WIDTH_PX};
use crate::live::Highlight;
use crate::live::drops::DropFlashes;
use crate::live::svg_text_refresh::batched_memo;
use crate::live::wall_clock_ms;
use faultline_engine::live::{BreakerBadge, InFlightMessages, LeadershipKind, NodeLiveStatus};
use faultline_engine::message::MessageClass;
use faultline_engine::sim::NodeStatus;
use leptos::prelude::*;
use std::collections::BTreeMap;

/// Queue depth that fills the bar: the bar is logarithmic up to 10^4.
const QUEUE_BAR_FULL_LOG10: f64 = 4.0;
/// The display clock may run ahead of the last engine report by at most
/// this much real time (one late worker answer), so particles never run
/// far past what the engine has computed.
const MAX_INTERPOLATION_MS: f64 = 100.0;
/// Clock offsets smaller than this are not worth a badge.
const SKEW_BADGE_MIN_MS: f64 = 1.0;

/// Everything one node's badges show, compared to skip redrawing.
#[derive(Clone, Debug, PartialEq)]
struct NodeBadges {
    id: String,
    centre: (f64, f64),
    status: NodeStatus,
    slow_factor: f64,
    clock_offset_ms: f64,
    partitioned: bool,
    queue_depth: u64,
    live: NodeLiveStatus,
    highlighted: bool,
}

/// The node centres of the drawn document, by id.
pub(crate) fn centres(editor: Editor) -> BTreeMap<String, (f64, f64)> {
    editor.document.with(|document| {
        document
            .as_ref()
            .map(|scenario| {
                scenario
                    .topology
                    .nodes
                    .iter()
                    .map(|node| (node.id.clone(), (node.position.x, node.position.y)))
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// The overlay for the canvas, when the app provides the driver's view and
/// the highlight through context (it always does; tests of the canvas alone may not).
pub fn live_overlay_from_context(editor: Editor) -> Option<impl IntoView> {
    let sim = use_context::<SimView>()?;
    let highlight = use_context::<RwSignal<Highlight>>()?;
    Some(view! { <LiveOverlay editor=editor sim=sim highlight=highlight /> })
}

#[component]
pub fn LiveOverlay(editor: Editor, sim: SimView, highlight: RwSignal<Highlight>) -> impl IntoView {
    let node_centres = Memo::new(move |_| centres(editor));
    // All nodes' badges in one memo, batched while playing
    // (`live::svg_text_refresh`); badges are keyed by id so one node's change
    // redraws that node's badges only.
    let all_badges = batched_memo(
        move || all_node_badges(sim, highlight, node_centres),
        |previous: &Vec<NodeBadges>, fresh: &Vec<NodeBadges>| {
            previous.len() != fresh.len()
                || previous
                    .iter()
                    .zip(fresh)
                    .any(|(old, new)| urgent_badge_change(Some(old), Some(new)))
        },
    );
    let node_keys = Memo::new(move |_| {
        all_badges.with(|all| {
            all.iter()
                .enumerate()
                .map(|(index, badges)| (index, badges.id.clone()))
                .collect::<Vec<_>>()
        })
    });

    view! {
        <g class="live-overlay" data-testid="live-overlay" aria-hidden="true" pointer-events="none">
            <DropFlashes sim=sim node_centres=node_centres />
            <g class="badges">
                <For
                    each=move || node_keys.get()
                    key=|key| key.clone()
                    children=move |(index, id)| {
                        let badges = Memo::new(move |_| {
                            all_badges
                                .with(|all| all.get(index).filter(|badges| badges.id == id).cloned())
                        });
                        move || badges.get().map(node_badges)
                    }
                />
            </g>
        </g>
    }
}

/// The badges of every drawn node in the current snapshot, in snapshot order.
fn all_node_badges(
    sim: SimView,
    highlight: RwSignal<Highlight>,
    node_centres: Memo<BTreeMap<String, (f64, f64)>>,
) -> Vec<NodeBadges> {
    highlight.with(|highlight| {
        node_centres.with(|centres| {
            sim.snapshot.with(|snapshot| {
                snapshot
                    .iter()
                    .flat_map(|snapshot| snapshot.nodes.iter())
                    .filter_map(|node| {
                        Some(NodeBadges {
                            id: node.id.clone(),
                            centre: *centres.get(&node.id)?,
                            status: node.status,
                            slow_factor: node.slow_factor,
                            clock_offset_ms: node.clock_offset_ms.round(),
                            partitioned: node.partitioned,
                            queue_depth: node.view.queue_depth,
                            live: node.live,
                            highlighted: highlight.nodes.contains(&node.id),
                        })
                    })
                    .collect()
            })
        })
    })
}

/// Changes a viewer must see at once, never batched: status, faults,
/// leadership, breaker state, the highlight and the node's position.
fn urgent_badge_change(previous: Option<&NodeBadges>, fresh: Option<&NodeBadges>) -> bool {
    let key = |badges: Option<&NodeBadges>| {
        badges.map(|badges| {
            (
                badges.centre,
                badges.status,
                badges.slow_factor,
                badges.partitioned,
                badges.highlighted,
                badges.live.leadership,
                badges.live.in_sync_replicas,
                badges.live.circuit_breaker,
                badges.live.database_role,
            )
        })
    };
    key(previous) != key(fresh)
}

/// A display clock for particles: the last report's time plus the real time
/// since it arrived at the chosen speed (capped), so particles glide between
/// worker answers instead of jumping once per answer.
pub(crate) fn display_clock(sim: SimView) -> ReadSignal<f64> {
    let (display_now_us, set_display_now_us) = signal(0.0f64);
    let arrival = StoredValue::new((0.0f64, 0u64));
    Effect::new(move |_| {
        let now_us = sim
            .snapshot
            .with(|snapshot| snapshot.as_ref().map_or(0, |snapshot| snapshot.now_us));
        arrival.set_value((wall_clock_ms(), now_us));
        set_display_now_us.set(now_us as f64);
    });
    let ticking = StoredValue::new(false);
    Effect::new(move |_| {
        if sim.playing.get() && !ticking.get_value() {
            ticking.set_value(true);
            tick(sim, arrival, set_display_now_us, ticking);
        }
    });
    display_now_us
}

fn tick(
    sim: SimView,
    arrival: StoredValue<(f64, u64)>,
    set_display_now_us: WriteSignal<f64>,
    ticking: StoredValue<bool>,
) {
    request_animation_frame(move || {
        if !sim.playing.get_untracked() {
            ticking.set_value(false);
            return;
        }
        let (arrived_ms, now_us) = arrival.get_value();
        let ahead_ms = (wall_clock_ms() - arrived_ms).clamp(0.0, MAX_INTERPOLATION_MS);
        let speed = sim.speed_multiplier.get_untracked();
        set_display_now_us.set(now_us as f64 + ahead_ms * 1_000.0 * speed);
        tick(sim, arrival, set_display_now_us, ticking);
    });
}

/// Particle layers, one per message class, in drawing order.
pub(crate) const PARTICLE_CLASSES: [MessageClass; 6] = [
    MessageClass::Request,
    MessageClass::Response,
    MessageClass::Publish,
    MessageClass::Replication,
    MessageClass::Heartbeat,
    MessageClass::Control,
];

pub fn class_name(class: MessageClass) -> &'static str {
    match class {
        MessageClass::Request => "request",
        MessageClass::Response => "response",
        MessageClass::Publish => "publish",
        MessageClass::Replication => "replication",
        MessageClass::Heartbeat => "heartbeat",
        MessageClass::Control => "control",
    }
}

/// Where each particle sits: on the straight line between the two node
/// boxes' edges, at the fraction of its flight time already spent. Each dot
/// is (x, y, class slot in `PARTICLE_CLASSES`, highlighted).
pub(crate) fn particle_dots(
    in_flight: &InFlightMessages,
    now_us: f64,
    highlighted: &[u64],
    centre_of: impl Fn(u32) -> Option<(f64, f64)>,
) -> Vec<(f64, f64, usize, bool)> {
    let mut dots = Vec::with_capacity(in_flight.shown.len());
    // More in flight than listed: dots would show an arbitrary subset, so the
    // links carry flow intensity instead (`drops::flow_lines`); only
    // highlighted messages keep their dot.
    let aggregated = in_flight.hidden > 0;
    for message in &in_flight.shown {
        let is_highlighted = highlighted.contains(&message.id);
        if aggregated && !is_highlighted {
            continue;
        }
        if (message.deliver_us as f64) < now_us {
            continue;
        }
        let (Some(from), Some(to)) = (centre_of(message.from), centre_of(message.to)) else {
            continue;
        };
        let flight_us = message.deliver_us.saturating_sub(message.sent_us) as f64;
        let progress = if flight_us <= 0.0 {
            1.0
        } else {
            ((now_us - message.sent_us as f64) / flight_us).clamp(0.0, 1.0)
        };
        let (start, end) = box_edges(from, to);
        let x = start.0 + (end.0 - start.0) * progress;
        let y = start.1 + (end.1 - start.1) * progress;
        let slot = PARTICLE_CLASSES
            .iter()
            .position(|class| *class == message.class)
            .unwrap_or(0);
        dots.push((x, y, slot, is_highlighted));
    }
    dots
}

/// The points where the straight line between two box centres leaves the
/// first box and enters the second.
pub fn box_edges(from: (f64, f64), to: (f64, f64)) -> ((f64, f64), (f64, f64)) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    if dx.abs() + dy.abs() < 1.0 {
        return (from, to);
    }
    let half_w = NODE_WIDTH_PX / 2.0;
    let half_h = NODE_HEIGHT_PX / 2.0;
    let exit = (half_w / dx.abs().max(1e-9)).min(half_h / dy.abs().max(1e-9));
    let exit = exit.min(0.45);
    (
        (from.0 + dx * exit, from.1 + dy * exit),
        (to.0 - dx * exit, to.1 - dy * exit),
    )
}

fn node_badges(node: NodeBadges) -> impl IntoView {
    let left = node.centre.0 - NODE_WIDTH_PX / 2.0;
    let top = node.centre.1 - NODE_HEIGHT_PX / 2.0;
    let mut pills: Vec<(&'static str, String)> = Vec::new();
    match node.status {
        NodeStatus::Down => pills.push(("down", "crashed".to_string())),
        NodeStatus::Paused => pills.push(("paused", "paused".to_string())),
        NodeStatus::Up => {}
    }
    if node.partitioned {
        pills.push(("partitioned", "partitioned".to_string()));
    }
    if node.slow_factor != 1.0 {
        pills.push(("slow", format!("slow ×{}", node.slow_factor)));
    }
    if node.clock_offset_ms.abs() >= SKEW_BADGE_MIN_MS {
        pills.push(("skew", format!("clock {:+} ms", node.clock_offset_ms)));
    }
    if let Some(isr) = node.live.in_sync_replicas {
        let kind = if isr.in_sync < isr.replicas {
            "isr-short"
        } else {
            "isr"
        };
        pills.push((kind, format!("ISR {}/{}", isr.in_sync, isr.replicas)));
    }
    if let Some(lag) = node.live.consumer_lag {
        pills.push(("lag", format!("lag {lag}")));
    }
    if let Some(role) = node.live.database_role {
        let word = if role.primary { "primary" } else { "replica" };
        pills.push(("db-role", format!("{word} e{}", role.epoch)));
    }
    if let Some(in_flight) = node.live.in_flight_transactions {
        pills.push(("in-flight", format!("{in_flight} in flight")));
    }
    if let Some(percent) = node.live.cache_hit_percent {
        pills.push(("cache-hits", format!("hits {percent}%")));
    }
    if let Some(breaker) = node.live.circuit_breaker {
        let (kind, text) = match breaker {
            BreakerBadge::Closed => ("breaker-closed", "breaker closed"),
            BreakerBadge::HalfOpen => ("breaker-half-open", "breaker half-open"),
            BreakerBadge::Open => ("breaker-open", "breaker OPEN"),
        };
        pills.push((kind, text.to_string()));
    }
    let crown = node.live.leadership.map(|leadership| {
        let title = match leadership.kind {
            LeadershipKind::KafkaPartition if leadership.count == 1 => {
                format!("leads 1 partition, epoch {}", leadership.term)
            }
            LeadershipKind::KafkaPartition => format!(
                "leads {} partitions, epoch ≤ {}",
                leadership.count, leadership.term
            ),
            LeadershipKind::Raft => format!("Raft leader, term {}", leadership.term),
            LeadershipKind::DatabasePrimary => {
                format!("database primary, epoch {}", leadership.term)
            }
        };
        let label = match leadership.kind {
            LeadershipKind::KafkaPartition | LeadershipKind::DatabasePrimary => {
                format!("♛ e{}", leadership.term)
            }
            LeadershipKind::Raft => format!("♛ t{}", leadership.term),
        };
        view! {
            <g class="crown" data-testid="crown" data-node=node.id.clone() transform=format!("translate({:.1} {:.1})", left + NODE_WIDTH_PX - 58.0, top - 12.0)>
                <rect class="crown-box" width="56" height="20" rx="10" />
                <text class="crown-text" x="28" y="14" text-anchor="middle">{label}</text>
                <title>{title}</title>
            </g>
        }
    });
    let mut x = left;
    let pills = pills
        .into_iter()
        .map(|(kind, text)| {
            let width = 12.0 + text.chars().count() as f64 * 6.6;
            let at = x;
            x += width + 4.0;
            view! {
                <g
                    class="live-badge"
                    data-testid="live-badge"
                    data-badge=kind
                    data-node=node.id.clone()
                    transform=format!("translate({at:.1} {:.1})", top + NODE_HEIGHT_PX + 4.0)
                >
                    <rect width=width height="18" rx="9" />
                    <text x=width / 2.0 y="13" text-anchor="middle">{text}</text>
                </g>
            }
        })
        .collect_view();
    let queue_fraction = if node.queue_depth == 0 {
        0.0
    } else {
        ((node.queue_depth as f64 + 1.0).log10() / QUEUE_BAR_FULL_LOG10).min(1.0)
    };
    let queue_bar = (node.queue_depth > 0).then(|| {
        view! {
            <rect
                class="queue-bar"
                data-testid="queue-bar"
                data-node=node.id.clone()
                x=left + 10.0
                y=top + NODE_HEIGHT_PX - 6.0
                width=(NODE_WIDTH_PX - 20.0) * queue_fraction
                height="3"
                rx="1.5"
            />
        }
    });
    let ring = node.highlighted.then(|| {
        view! {
            <rect
                class="highlight-ring"
                data-testid="highlight-ring"
                data-node=node.id.clone()
                x=left - 6.0
                y=top - 6.0
                width=NODE_WIDTH_PX + 12.0
                height=NODE_HEIGHT_PX + 12.0
                rx="14"
            />
        }
    });
    view! {
        <g class="node-live" data-node=node.id.clone()>
            {ring}
            {queue_bar}
            {crown}
            {pills}
        </g>
    }
}
