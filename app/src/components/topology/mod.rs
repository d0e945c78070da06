//! The read-only topology canvas: zones, links and nodes as SVG at their stored
//! positions, with live state (down, paused, cut, held, queue depth) from the snapshot.
//!
//! The static drawing is rebuilt only when the scenario changes; each node and
//! link reads its own slice of the snapshot through a memo, so a frame touches
//! only the elements whose state actually changed.

mod layout;

use crate::format;
use faultline_engine::Scenario;
use faultline_engine::Snapshot;
use faultline_engine::sim::NodeStatus;
use layout::{Layout, LinkShape, NODE_HEIGHT_PX, NODE_WIDTH_PX, NodeShape, ZoneShape};
use leptos::prelude::*;

/// Longest component badge drawn in a node box; the accessible name keeps all of it.
const MAX_BADGE_CHARS: usize = 21;

#[component]
pub fn TopologyView(
    scenario: ReadSignal<Option<Scenario>>,
    snapshot: ReadSignal<Option<Snapshot>>,
) -> impl IntoView {
    let drawing = move || {
        scenario.with(|scenario| {
            scenario
                .as_ref()
                .map(|scenario| topology_svg(Layout::new(scenario), snapshot))
        })
    };
    view! {
        <div class="canvas" data-testid="canvas">
            {move || {
                drawing()
                    .map(|svg| svg.into_any())
                    .unwrap_or_else(|| {
                        view! { <p class="canvas-empty">"Loading scenario…"</p> }.into_any()
                    })
            }}
            <Legend />
        </div>
    }
}

fn topology_svg(layout: Layout, snapshot: ReadSignal<Option<Snapshot>>) -> impl IntoView {
    let Layout {
        view_box,
        zones,
        links,
        nodes,
    } = layout;
    let aria_label = format!("Topology: {} nodes and {} links", nodes.len(), links.len());
    view! {
        <svg
            class="topology"
            data-testid="topology"
            viewBox=view_box
            role="group"
            aria-label=aria_label
        >
            <defs>
                {["ok", "cut", "held"]
                    .into_iter()
                    .map(|state| {
                        view! {
                            <marker
                                id=format!("arrow-{state}")
                                class=format!("arrow arrow-{state}")
                                viewBox="0 0 10 10"
                                refX="9"
                                refY="5"
                                markerUnits="userSpaceOnUse"
                                markerWidth="10"
                                markerHeight="10"
                                orient="auto-start-reverse"
                            >
                                <path d="M0 0 L10 5 L0 10 Z" />
                            </marker>
                        }
                    })
                    .collect_view()}
            </defs>
            <g class="zones">{zones.into_iter().map(zone_view).collect_view()}</g>
            <g class="links">
                {links.into_iter().map(|link| link_view(link, snapshot)).collect_view()}
            </g>
            <g class="nodes">
                {nodes.into_iter().map(|node| node_view(node, snapshot)).collect_view()}
            </g>
        </svg>
    }
}

fn zone_view(zone: ZoneShape) -> impl IntoView {
    view! {
        <g class="zone" data-zone-id=zone.id>
            <rect
                class="zone-box"
                x=zone.left_px
                y=zone.top_px
                width=zone.width_px
                height=zone.height_px
                rx="14"
            />
            <text class="zone-label" x=zone.left_px + 12.0 y=zone.top_px + 18.0>
                {zone.label}
            </text>
        </g>
    }
}

/// The part of a node's snapshot the canvas shows.
#[derive(Clone, Debug, PartialEq)]
struct NodeLive {
    status: NodeStatus,
    badge: String,
    queue_depth: u64,
    slow_factor: f64,
}

fn node_view(node: NodeShape, snapshot: ReadSignal<Option<Snapshot>>) -> impl IntoView {
    let NodeShape {
        index,
        id,
        label,
        short_label,
        kind,
        left_px,
        top_px,
    } = node;
    let live = {
        let id = id.clone();
        Memo::new(move |_| {
            snapshot.with(|snapshot| {
                snapshot
                    .as_ref()
                    .and_then(|snapshot| snapshot.nodes.get(index))
                    .filter(|node| node.id == id)
                    .map(|node| NodeLive {
                        status: node.status,
                        badge: node.view.badge.clone(),
                        queue_depth: node.view.queue_depth,
                        slow_factor: node.slow_factor,
                    })
            })
        })
    };
    let status = move || {
        live.with(|live| match live.as_ref().map(|live| live.status) {
            Some(NodeStatus::Down) => "down",
            Some(NodeStatus::Paused) => "paused",
            Some(NodeStatus::Up) | None => "up",
        })
    };
    let badge = move || {
        live.with(|live| {
            live.as_ref().map_or_else(String::new, |live| {
                format::shorten(&live.badge, MAX_BADGE_CHARS)
            })
        })
    };
    let queue = move || {
        live.with(|live| {
            live.as_ref().map_or_else(String::new, |live| {
                format!("queue {}", format::count(live.queue_depth))
            })
        })
    };
    let flag = move || {
        live.with(|live| match live {
            Some(live) if live.status == NodeStatus::Down => "DOWN".to_string(),
            Some(live) if live.status == NodeStatus::Paused => "PAUSED".to_string(),
            Some(live) if live.slow_factor != 1.0 => format!("SLOW ×{}", live.slow_factor),
            _ => String::new(),
        })
    };
    let kind_text = format::wire_name(kind);
    let aria_label = {
        let label = label.clone();
        let kind_text = kind_text.clone();
        move || {
            let badge = live.with(|live| live.as_ref().map(|live| live.badge.clone()));
            format!(
                "{label} ({kind_text}), {}, {}, {}",
                status(),
                badge.unwrap_or_default(),
                queue()
            )
        }
    };
    view! {
        <g
            class="node"
            data-testid="node"
            data-node-id=id
            data-kind=kind
            data-status=status
            transform=format!("translate({left_px} {top_px})")
            role="img"
            aria-label=aria_label
        >
            <rect class="node-box" width=NODE_WIDTH_PX height=NODE_HEIGHT_PX rx="10" />
            <rect class="node-accent" x="0" y="10" width="4" height=NODE_HEIGHT_PX - 20.0 rx="2" />
            <text class="node-label" data-testid="node-label" x="16" y="27">
                {short_label}
            </text>
            <text class="node-kind" x="16" y="46">
                {kind_text}
            </text>
            <text class="node-stats" data-testid="node-badge" x="16" y="66">
                {badge}
            </text>
            <text class="node-stats" data-testid="node-queue" x="16" y="83">
                {queue}
            </text>
            // Straddles the top border, so it never collides with a long label.
            <text class="node-flag" x=NODE_WIDTH_PX - 12.0 y="4">
                {flag}
            </text>
        </g>
    }
}

/// The part of a link's snapshot the canvas shows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct LinkLive {
    cut_forward: bool,
    cut_backward: bool,
    held: bool,
}

fn link_view(link: LinkShape, snapshot: ReadSignal<Option<Snapshot>>) -> impl IntoView {
    let LinkShape {
        index,
        from,
        to,
        kind,
        label,
        start,
        end,
        label_at,
        label_anchor,
    } = link;
    let live = {
        let (from, to) = (from.clone(), to.clone());
        Memo::new(move |_| {
            snapshot.with(|snapshot| {
                let links = snapshot.as_ref().map(|snapshot| &snapshot.links)?;
                // The engine lists declared links in document order; match by
                // endpoints anyway so a reordering can never mislabel one.
                links
                    .get(index)
                    .filter(|link| link.from == from && link.to == to)
                    .or_else(|| links.iter().find(|link| link.from == from && link.to == to))
                    .map(|link| LinkLive {
                        cut_forward: link.cut_forward,
                        cut_backward: link.cut_backward,
                        held: link.held_forward || link.held_backward,
                    })
            })
        })
    };
    let state = move || {
        live.with(|live| match live {
            Some(live) if live.cut_forward || live.cut_backward => "cut",
            Some(live) if live.held => "held",
            _ => "ok",
        })
    };
    let cut_direction = move || {
        live.with(|live| match live {
            Some(LinkLive {
                cut_forward: true,
                cut_backward: true,
                ..
            }) => "both",
            Some(LinkLive {
                cut_forward: true, ..
            }) => "forward",
            Some(LinkLive {
                cut_backward: true, ..
            }) => "backward",
            _ => "none",
        })
    };
    let middle_x = (start.x + end.x) / 2.0;
    let middle_y = (start.y + end.y) / 2.0;
    let mark = move || match state() {
        "cut" => "✕",
        "held" => "❚❚",
        _ => "",
    };
    let aria_label = {
        let (from, to) = (from.clone(), to.clone());
        let text = if label.is_empty() {
            format!("{from} to {to}")
        } else {
            format!("{label}: {from} to {to}")
        };
        move || match cut_direction() {
            "both" => format!("{text}, cut by a partition"),
            "forward" => format!("{text}, cut one way ({from} to {to})"),
            "backward" => format!("{text}, cut one way ({to} to {from})"),
            _ if state() == "held" => format!("{text}, messages held"),
            _ => text.clone(),
        }
    };
    view! {
        <g
            class="link"
            data-testid="link"
            data-from=from
            data-to=to
            data-kind=kind
            data-state=state
            data-cut=cut_direction
            role="img"
            aria-label=aria_label
        >
            <line
                class="link-line"
                x1=start.x
                y1=start.y
                x2=end.x
                y2=end.y
                marker-end=move || format!("url(#arrow-{})", state())
            />
            <text class="link-label" x=label_at.x y=label_at.y text-anchor=label_anchor>
                {label}
            </text>
            <text class="link-mark" x=middle_x y=middle_y>
                {mark}
            </text>
        </g>
    }
}

#[component]
fn Legend() -> impl IntoView {
    view! {
        <ul class="legend" aria-label="Legend">
            <li>
                <svg viewBox="0 0 28 8" aria-hidden="true">
                    <line class="legend-line" data-state="ok" x1="1" y1="4" x2="27" y2="4" />
                </svg>
                "link"
            </li>
            <li>
                <svg viewBox="0 0 28 8" aria-hidden="true">
                    <line class="legend-line" data-state="cut" x1="1" y1="4" x2="27" y2="4" />
                </svg>
                "cut (partition)"
            </li>
            <li>
                <svg viewBox="0 0 28 8" aria-hidden="true">
                    <line class="legend-line" data-state="held" x1="1" y1="4" x2="27" y2="4" />
                </svg>
                "held"
            </li>
            <li>
                <span class="legend-node" data-status="down" aria-hidden="true"></span>
                "node down"
            </li>
        </ul>
    }
}
