//! Lost messages flash where they were lost, and heavy traffic is drawn as flow intensity per link instead of dots.
//!
//! The engine says where each drop happened (`live_drops::RecentDrop::position`
//! along the link: mid-link for random loss, the sender's end when a cut
//! stopped it at send, the receiver's end when it arrived at a dead node or
//! across a cut formed in flight); this module only draws it: a red ✕ with an
//! expanding ring that fades over `FLASH_MS` of real time (real, not
//! simulated: at 10,000× a simulated millisecond is gone before a frame).
//!
//! Too many to see: when one report brings more than
//! `FLASHES_PER_LINK_PER_REPORT` drops on one link, they become one flash at
//! the link's middle, sized by the count and labelled with it. When the
//! engine has more messages in flight than it lists (`InFlightMessages::hidden`),
//! dots would show an arbitrary subset, so each direction of a link is drawn
//! as one line whose width and opacity grow with its message count.

use crate::driver::SimView;
use crate::live::overlay::box_edges;
use crate::live::wall_clock_ms;
use faultline_engine::live::InFlightMessages;
use faultline_engine::live_drops::RecentDrops;
use leptos::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How long a flash stays visible, in real milliseconds.
pub const FLASH_MS: f64 = 900.0;
/// Most flashes alive at once; the oldest go first.
const MAX_LIVE_FLASHES: usize = 400;
/// Above this many drops on one link in one report, they are one flash.
const FLASHES_PER_LINK_PER_REPORT: usize = 6;
/// Fading flashes are drawn in this many opacity steps, one path each, so
/// hundreds of flashes are a handful of elements.
const OPACITY_STEPS: usize = 6;
/// Widest flow line, in world px.
const MAX_FLOW_WIDTH_PX: f64 = 14.0;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Flash {
    x: f64,
    y: f64,
    born_ms: f64,
    /// Drops this flash stands for (more than one: aggregated).
    count: u64,
}

/// Turns one report's drops into flashes (world coordinates).
fn flashes_for(
    drops: &RecentDrops,
    born_ms: f64,
    centre_of: impl Fn(u32) -> Option<(f64, f64)>,
) -> Vec<Flash> {
    let mut by_link: BTreeMap<(u32, u32), Vec<f64>> = BTreeMap::new();
    for drop in &drops.shown {
        by_link
            .entry((drop.from, drop.to))
            .or_default()
            .push(drop.position);
    }
    let mut flashes = Vec::new();
    for ((from, to), positions) in by_link {
        let (Some(from), Some(to)) = (centre_of(from), centre_of(to)) else {
            continue;
        };
        let (start, end) = box_edges(from, to);
        let at = |position: f64| {
            (
                start.0 + (end.0 - start.0) * position,
                start.1 + (end.1 - start.1) * position,
            )
        };
        if positions.len() > FLASHES_PER_LINK_PER_REPORT {
            let mean = positions.iter().sum::<f64>() / positions.len() as f64;
            let (x, y) = at(mean);
            flashes.push(Flash {
                x,
                y,
                born_ms,
                count: positions.len() as u64,
            });
        } else {
            for position in positions {
                let (x, y) = at(position);
                flashes.push(Flash {
                    x,
                    y,
                    born_ms,
                    count: 1,
                });
            }
        }
    }
    flashes
}

#[derive(Clone, Debug, Default, PartialEq)]
struct FlashPaths {
    /// One path per opacity step, most opaque first.
    by_step: [String; OPACITY_STEPS],
    /// Aggregated flashes: position, radius, opacity, count.
    aggregated: Vec<(f64, f64, f64, f64, u64)>,
    live: usize,
}

fn flash_paths(flashes: &[Flash], now_ms: f64) -> FlashPaths {
    let mut paths = FlashPaths::default();
    for flash in flashes {
        let age = (now_ms - flash.born_ms) / FLASH_MS;
        if !(0.0..1.0).contains(&age) {
            continue;
        }
        paths.live += 1;
        let opacity = 1.0 - age;
        if flash.count > 1 {
            let radius = 10.0 + 6.0 * (flash.count as f64).log10() + 8.0 * age;
            paths
                .aggregated
                .push((flash.x, flash.y, radius, opacity, flash.count));
            continue;
        }
        let step = ((age * OPACITY_STEPS as f64) as usize).min(OPACITY_STEPS - 1);
        let path = &mut paths.by_step[step];
        let arm = 5.0;
        let ring = 7.0 + 9.0 * age;
        let _ = write!(
            path,
            "M{:.1} {:.1}l{d:.1} {d:.1}m0 -{d:.1}l-{d:.1} {d:.1}M{:.1} {:.1}a{ring:.1} {ring:.1} 0 1 0 {r2:.1} 0a{ring:.1} {ring:.1} 0 1 0 -{r2:.1} 0",
            flash.x - arm,
            flash.y - arm,
            flash.x - ring,
            flash.y,
            d = arm * 2.0,
            r2 = ring * 2.0
        );
    }
    paths
}

/// Flashes at the points of loss, inside the canvas's world group.
#[component]
pub fn DropFlashes(
    sim: SimView,
    node_centres: Memo<BTreeMap<String, (f64, f64)>>,
) -> impl IntoView {
    let flashes = StoredValue::new(Vec::<Flash>::new());
    let (now_ms, set_now_ms) = signal(0.0f64);
    let (total_flashed, set_total_flashed) = signal(0u64);
    let animating = StoredValue::new(false);
    Effect::new(move |_| {
        let born_ms = wall_clock_ms();
        let new_flashes = sim.drops.with(|drops| {
            node_centres.with_untracked(|centres| {
                sim.snapshot.with_untracked(|snapshot| {
                    let Some(snapshot) = snapshot.as_ref() else {
                        return Vec::new();
                    };
                    flashes_for(drops, born_ms, |index| {
                        snapshot
                            .nodes
                            .get(index as usize)
                            .and_then(|node| centres.get(&node.id).copied())
                    })
                })
            })
        });
        if new_flashes.is_empty() {
            return;
        }
        let added: u64 = new_flashes.iter().map(|flash| flash.count).sum();
        set_total_flashed.update(|total| *total += added);
        flashes.update_value(|flashes| {
            flashes.retain(|flash| born_ms - flash.born_ms < FLASH_MS);
            flashes.extend(new_flashes);
            let excess = flashes.len().saturating_sub(MAX_LIVE_FLASHES);
            flashes.drain(..excess);
        });
        set_now_ms.set(born_ms);
        if !animating.get_value() {
            animating.set_value(true);
            animate(flashes, set_now_ms, animating);
        }
    });
    let paths = Memo::new(move |_| {
        let now = now_ms.get();
        flashes.with_value(|flashes| flash_paths(flashes, now))
    });
    view! {
        <g
            class="drop-flashes"
            data-testid="drop-flashes"
            data-live=move || paths.with(|paths| paths.live)
            data-total=move || total_flashed.get()
        >
            {(0..OPACITY_STEPS)
                .map(|step| {
                    let opacity = 1.0 - step as f64 / OPACITY_STEPS as f64;
                    view! {
                        <path
                            class="drop-flash"
                            opacity=format!("{opacity:.2}")
                            d=move || paths.with(|paths| paths.by_step[step].clone())
                        />
                    }
                })
                .collect_view()}
            {move || {
                paths
                    .with(|paths| paths.aggregated.clone())
                    .into_iter()
                    .map(|(x, y, radius, opacity, count)| {
                        view! {
                            <g class="drop-flash-aggregate" opacity=format!("{opacity:.2}")>
                                <circle cx=format!("{x:.1}") cy=format!("{y:.1}") r=format!("{radius:.1}") />
                                <text x=format!("{x:.1}") y=format!("{:.1}", y + 4.0) text-anchor="middle">
                                    {format!("✕{count}")}
                                </text>
                            </g>
                        }
                    })
                    .collect_view()
            }}
        </g>
    }
}

/// Ticks `now_ms` every animation frame while a flash is alive.
fn animate(
    flashes: StoredValue<Vec<Flash>>,
    set_now_ms: WriteSignal<f64>,
    animating: StoredValue<bool>,
) {
    request_animation_frame(move || {
        let now = wall_clock_ms();
        let alive = flashes
            .try_with_value(|flashes| flashes.iter().any(|flash| now - flash.born_ms < FLASH_MS))
            .unwrap_or(false);
        set_now_ms.set(now);
        if alive {
            animate(flashes, set_now_ms, animating);
        } else {
            animating.set_value(false);
        }
    });
}

/// One direction of a link drawn as flow: endpoints, width and opacity.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowLine {
    pub from: (f64, f64),
    pub to: (f64, f64),
    pub width: f64,
    pub opacity: f64,
    pub messages: u64,
}

/// Flow lines when the engine lists fewer messages than are in flight
/// (empty otherwise: then every message is a dot). Width and opacity grow
/// with the logarithm of the count, relative to the busiest direction; the
/// two directions of a link sit side by side.
pub fn flow_lines(
    in_flight: &InFlightMessages,
    centre_of: impl Fn(u32) -> Option<(f64, f64)>,
) -> Vec<FlowLine> {
    if in_flight.hidden == 0 {
        return Vec::new();
    }
    let busiest = in_flight
        .per_link
        .iter()
        .map(|(_, _, messages)| *messages)
        .max()
        .unwrap_or(0);
    if busiest == 0 {
        return Vec::new();
    }
    let scale = (busiest as f64 + 1.0).log10();
    in_flight
        .per_link
        .iter()
        .filter_map(|(from, to, messages)| {
            let (from, to) = (centre_of(*from)?, centre_of(*to)?);
            let (start, end) = box_edges(from, to);
            // Offset each direction to its own side of the centre line.
            let (dx, dy) = (end.0 - start.0, end.1 - start.1);
            // Drawing only (not engine state): hypot is fine here.
            let length = dx.hypot(dy).max(1.0);
            let (nx, ny) = (-dy / length * 4.0, dx / length * 4.0);
            let weight = ((*messages as f64 + 1.0).log10() / scale).clamp(0.0, 1.0);
            Some(FlowLine {
                from: (start.0 + nx, start.1 + ny),
                to: (end.0 + nx, end.1 + ny),
                width: 1.5 + (MAX_FLOW_WIDTH_PX - 1.5) * weight,
                opacity: 0.25 + 0.65 * weight,
                messages: *messages,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_engine::live_drops::RecentDrop;
    use faultline_engine::trace::DropReason;

    fn drop(seq: u64, from: u32, to: u32, position: f64) -> RecentDrop {
        RecentDrop {
            seq,
            message: seq,
            from,
            to,
            class: None,
            dropped_us: seq,
            reason: DropReason::Loss,
            position,
        }
    }

    fn centre(index: u32) -> Option<(f64, f64)> {
        Some((index as f64 * 1_000.0, 0.0))
    }

    #[test]
    fn a_few_drops_flash_each_at_its_point_of_loss() {
        let drops = RecentDrops {
            shown: vec![drop(1, 0, 1, 0.5), drop(2, 0, 1, 1.0)],
            ..RecentDrops::default()
        };
        let flashes = flashes_for(&drops, 0.0, centre);
        assert_eq!(flashes.len(), 2);
        assert!(flashes.iter().all(|flash| flash.count == 1));
        // Mid-link for the loss, at the receiver's box edge for the other.
        assert!((flashes[0].x - 500.0).abs() < 1.0, "{flashes:?}");
        assert!(
            flashes[1].x > 900.0 && flashes[1].x < 1_000.0,
            "{flashes:?}"
        );
        assert_eq!(flash_paths(&flashes, FLASH_MS / 2.0).live, 2);
        assert_eq!(flash_paths(&flashes, FLASH_MS).live, 0, "faded out");
    }

    #[test]
    fn many_drops_on_one_link_become_one_counted_flash() {
        let drops = RecentDrops {
            shown: (0..50).map(|seq| drop(seq, 0, 1, 0.5)).collect(),
            ..RecentDrops::default()
        };
        let flashes = flashes_for(&drops, 0.0, centre);
        assert_eq!(flashes.len(), 1);
        assert_eq!(flashes[0].count, 50);
    }

    #[test]
    fn flow_replaces_dots_only_when_the_engine_hides_messages() {
        let mut in_flight = InFlightMessages {
            per_link: vec![(0, 1, 10), (1, 0, 1_000)],
            ..InFlightMessages::default()
        };
        assert!(
            flow_lines(&in_flight, centre).is_empty(),
            "all listed: dots"
        );
        in_flight.hidden = 5;
        let lines = flow_lines(&in_flight, centre);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].width > lines[0].width, "{lines:?}");
        assert!((lines[1].width - MAX_FLOW_WIDTH_PX).abs() < 1e-9);
    }
}
