//! The editable topology canvas (SVG): zones, links and nodes at their
//! positions with live state from the simulator, plus every pointer gesture:
//! pan (background drag, space+drag, wheel), zoom (ctrl+wheel, pinch, buttons),
//! move with snapping and alignment guides, connect by dragging a node's
//! handle, rubber-band selection (shift+drag), drop from the palette or of a
//! JSON file, context menus and a minimap.
//!
//! The drawing is rebuilt only when the document changes. While dragging, only
//! a transient offset signal changes, read by the moving nodes and the links
//! attached to them, so a frame touches what moves and nothing else.

mod geometry;
mod minimap;
mod orthogonal;

use crate::components::focus::{focus_first_in, move_in_menu};
use crate::editor::icons::icon_or_generic;
use crate::editor::zones::{still_zone_boxes, zone_after_drop, zone_box};
use crate::editor::{
    Editor, NODE_HEIGHT_PX, NODE_WIDTH_PX, Selection, Viewport, problem_link_index,
    problem_node_index,
};
use crate::format;
use crate::live::svg_text_refresh::batched_memo;
use crate::workspace::Workspace;
use faultline_engine::scenario::{LinkKind, LinkRouting};
use faultline_engine::sim::NodeStatus;
use faultline_engine::{Scenario, Snapshot};
use geometry::{PARALLEL_OFFSET_PX, route};
use leptos::ev;
use leptos::prelude::*;
use minimap::Minimap;
use orthogonal::orthogonal_route;
use std::collections::BTreeSet;
use std::sync::Arc;
use wasm_bindgen::JsCast;

/// Longest texts drawn in a node box; the accessible name keeps all of it.
const MAX_NODE_LABEL_CHARS: usize = 17;
const MAX_BADGE_CHARS: usize = 21;
/// A drag shorter than this (screen px) is a click.
const CLICK_SLOP_PX: f64 = 3.0;
/// Alignment guides catch a node centre this close (screen px) to another's.
const GUIDE_CATCH_PX: f64 = 6.0;
/// MIME type of a palette drag.
pub const PALETTE_DRAG_TYPE: &str = "application/x-faultline-kind";

/// A zone's box: (left, top, right, bottom).
type ZoneBox = (f64, f64, f64, f64);
/// Every node's id and centre, shared by the links that route around them.
type NodeCentres = Arc<Vec<(String, (f64, f64))>>;

#[derive(Clone, Debug, Default)]
enum Gesture {
    #[default]
    Idle,
    Pan {
        start_client: (f64, f64),
        start_viewport: Viewport,
        moved: bool,
    },
    Move {
        start_world: (f64, f64),
        ids: BTreeSet<String>,
        /// Centre of the node that was grabbed: it snaps and aligns; the rest follow.
        grabbed_centre: (f64, f64),
        /// Centres of the nodes that stay put, for alignment guides.
        still_centres: Vec<(f64, f64)>,
        /// Zone ids and their boxes around the members that stay put, and
        /// the grabbed node's zone, to preview which zone a drop joins or leaves.
        zones: Vec<(String, Option<ZoneBox>)>,
        grabbed_zone: Option<usize>,
        moved: bool,
    },
    /// Two fingers on the canvas: zoom by how far apart they are, about
    /// their midpoint, and pan with it.
    Pinch {
        start_distance: f64,
        start_centre: (f64, f64),
        start_viewport: Viewport,
    },
    Connect {
        from: String,
    },
    RubberBand {
        start_world: (f64, f64),
        extend: bool,
    },
    /// Alt-drag, or any drag in cut mode: a line across the diagram that
    /// partitions the running system's nodes on its two sides.
    Cut {
        start_world: (f64, f64),
    },
}

/// An open context menu: where (canvas px) and about what.
#[derive(Clone, Debug, PartialEq)]
enum MenuTarget {
    Node,
    Link(usize),
    Background { world: (f64, f64) },
}

#[derive(Clone, Debug, PartialEq)]
struct Menu {
    x: f64,
    y: f64,
    target: MenuTarget,
    /// Opened from the keyboard (Shift+F10, the Menu key): its first item
    /// takes the focus, and Escape gives it back to this element of the
    /// diagram (`(attribute, value)`, e.g. `("data-node-id", "api")`).
    return_focus: Option<(&'static str, String)>,
}

/// What the pointer is over, found from the event target's ancestors.
enum Hit {
    Handle(String),
    Node(String),
    Link(usize),
    Zone(String),
    Background,
}

fn hit_of(target: Option<web_sys::EventTarget>) -> Hit {
    let Some(element) = target.and_then(|target| target.dyn_into::<web_sys::Element>().ok()) else {
        return Hit::Background;
    };
    let find = |selector: &str, attribute: &str| {
        element
            .closest(selector)
            .ok()
            .flatten()
            .and_then(|found| found.get_attribute(attribute))
    };
    if let Some(id) = find("[data-handle]", "data-handle") {
        return Hit::Handle(id);
    }
    if let Some(id) = find("[data-node-id]", "data-node-id") {
        return Hit::Node(id);
    }
    if let Some(index) = find("[data-link-index]", "data-link-index").and_then(|i| i.parse().ok()) {
        return Hit::Link(index);
    }
    if let Some(id) = find("[data-zone-id]", "data-zone-id") {
        return Hit::Zone(id);
    }
    Hit::Background
}

/// Position of a mouse event relative to the canvas element.
fn canvas_point(event: &web_sys::MouseEvent) -> (f64, f64) {
    let rect = event
        .current_target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        .map(|element| element.get_bounding_client_rect());
    let (left, top) = rect.map_or((0.0, 0.0), |rect| (rect.left(), rect.top()));
    (
        f64::from(event.client_x()) - left,
        f64::from(event.client_y()) - top,
    )
}

fn is_typing_target(event: &web_sys::Event) -> bool {
    event
        .target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|element| {
            matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
        })
}

#[component]
pub fn EditorCanvas(
    editor: Editor,
    workspace: Workspace,
    snapshot: ReadSignal<Option<Snapshot>>,
    new_link_kind: ReadSignal<LinkKind>,
) -> impl IntoView {
    let gesture = StoredValue::new(Gesture::Idle);
    let (drag_offset, set_drag_offset) = signal((0.0f64, 0.0f64));
    let (moving, set_moving) = signal(BTreeSet::<String>::new());
    let (connect_line, set_connect_line) = signal(None::<((f64, f64), (f64, f64))>);
    let (band, set_band) = signal(None::<((f64, f64), (f64, f64))>);
    let (cut_line, set_cut_line) = signal(None::<((f64, f64), (f64, f64))>);
    let (cut_mode, set_cut_mode) = signal(false);
    let (guides, set_guides) = signal(Vec::<(bool, f64)>::new());
    let (menu, set_menu) = signal(None::<Menu>);
    // While dragging: (zone the drop would join, zone it would leave).
    let (zone_preview, set_zone_preview) = signal((None::<String>, None::<String>));
    let space_held = StoredValue::new(false);
    // Touch pointers on the canvas now (id, canvas point), for pinch zoom.
    let touches = StoredValue::new(Vec::<(i32, (f64, f64))>::new());

    // Space+drag pans: the key state lives outside the DOM tree we render.
    let keydown = window_event_listener(ev::keydown, move |event| {
        if event.code() == "Space" && !is_typing_target(&event) {
            space_held.set_value(true);
            event.prevent_default();
        }
        if event.key() == "Escape" {
            set_menu.set(None);
        }
    });
    let keyup = window_event_listener(ev::keyup, move |event| {
        if event.code() == "Space" {
            space_held.set_value(false);
        }
    });
    on_cleanup(move || {
        keydown.remove();
        keyup.remove();
    });

    let viewport = editor.viewport;
    let world_of = move |point: (f64, f64)| viewport.get_untracked().to_world(point.0, point.1);

    let on_pointerdown = move |event: ev::PointerEvent| {
        if event.button() != 0 {
            return;
        }
        set_menu.set(None);
        let point = canvas_point(&event);
        if event.pointer_type() == "touch" {
            touches.update_value(|touches| {
                touches.retain(|(id, _)| *id != event.pointer_id());
                touches.push((event.pointer_id(), point));
            });
            if let Some((start_distance, start_centre)) = touches.with_value(|t| pinch_of(t)) {
                // A second finger turns whatever the first one began into a pinch.
                set_moving.set(BTreeSet::new());
                set_drag_offset.set((0.0, 0.0));
                set_guides.set(Vec::new());
                set_zone_preview.set((None, None));
                set_connect_line.set(None);
                set_band.set(None);
                gesture.set_value(Gesture::Pinch {
                    start_distance,
                    start_centre,
                    start_viewport: viewport.get_untracked(),
                });
                return;
            }
        }
        let world = world_of(point);
        let hit = if space_held.get_value() {
            Hit::Background
        } else {
            hit_of(event.target())
        };
        // Alt-drag cuts from anywhere but a node or its handle (which move and
        // connect); in cut mode every drag cuts.
        let cutting = cut_mode.get_untracked()
            || (event.alt_key() && matches!(hit, Hit::Background | Hit::Zone(_) | Hit::Link(_)));
        let next = match hit {
            _ if cutting => {
                set_cut_line.set(Some((world, world)));
                Gesture::Cut { start_world: world }
            }
            Hit::Handle(from) => {
                set_connect_line.set(Some((world, world)));
                Gesture::Connect { from }
            }
            Hit::Node(id) => {
                editor.click_node(&id, event.shift_key());
                let selection = editor.selection.get_untracked();
                if !selection.nodes.contains(&id) {
                    Gesture::Idle
                } else {
                    let (grabbed_centre, still_centres, zones, grabbed_zone) =
                        editor.document.with_untracked(|document| {
                            let nodes = document
                                .as_ref()
                                .map(|scenario| scenario.topology.nodes.as_slice())
                                .unwrap_or_default();
                            let (zones, grabbed_zone) = document.as_ref().map_or_else(
                                || (Vec::new(), None),
                                |scenario| {
                                    let boxes = still_zone_boxes(scenario, &selection.nodes);
                                    let zones = scenario
                                        .topology
                                        .zones
                                        .iter()
                                        .map(|zone| zone.id.clone())
                                        .zip(boxes)
                                        .collect();
                                    let grabbed_zone = scenario
                                        .topology
                                        .zones
                                        .iter()
                                        .position(|zone| zone.nodes.contains(&id));
                                    (zones, grabbed_zone)
                                },
                            );
                            let grabbed = nodes
                                .iter()
                                .find(|node| node.id == id)
                                .map_or(world, |node| (node.position.x, node.position.y));
                            let still = nodes
                                .iter()
                                .filter(|node| !selection.nodes.contains(&node.id))
                                .map(|node| (node.position.x, node.position.y))
                                .collect();
                            (grabbed, still, zones, grabbed_zone)
                        });
                    set_moving.set(selection.nodes.clone());
                    Gesture::Move {
                        start_world: world,
                        ids: selection.nodes,
                        grabbed_centre,
                        still_centres,
                        zones,
                        grabbed_zone,
                        moved: false,
                    }
                }
            }
            Hit::Link(index) => {
                editor.select(Selection {
                    link: Some(index),
                    ..Selection::default()
                });
                Gesture::Idle
            }
            Hit::Zone(id) => {
                editor.select(Selection {
                    zone: Some(id),
                    ..Selection::default()
                });
                Gesture::Idle
            }
            Hit::Background if event.shift_key() && !space_held.get_value() => {
                set_band.set(Some((world, world)));
                Gesture::RubberBand {
                    start_world: world,
                    extend: true,
                }
            }
            Hit::Background => Gesture::Pan {
                start_client: (f64::from(event.client_x()), f64::from(event.client_y())),
                start_viewport: viewport.get_untracked(),
                moved: false,
            },
        };
        if !matches!(next, Gesture::Idle)
            && let Some(element) = event
                .current_target()
                .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        {
            let _ = element.set_pointer_capture(event.pointer_id());
        }
        gesture.set_value(next);
    };

    let on_pointermove = move |event: ev::PointerEvent| {
        let point = canvas_point(&event);
        let world = world_of(point);
        if event.pointer_type() == "touch" {
            touches.update_value(|touches| {
                if let Some(touch) = touches.iter_mut().find(|(id, _)| *id == event.pointer_id()) {
                    touch.1 = point;
                }
            });
        }
        gesture.update_value(|gesture| match gesture {
            Gesture::Idle => {}
            Gesture::Pinch {
                start_distance,
                start_centre,
                start_viewport,
            } => {
                if let Some((distance, centre)) = touches.with_value(|t| pinch_of(t)) {
                    editor.set_viewport.set(pinched(
                        *start_viewport,
                        *start_distance,
                        *start_centre,
                        distance,
                        centre,
                    ));
                }
            }
            Gesture::Pan {
                start_client,
                start_viewport,
                moved,
            } => {
                let dx = f64::from(event.client_x()) - start_client.0;
                let dy = f64::from(event.client_y()) - start_client.1;
                *moved |= dx.abs() + dy.abs() > CLICK_SLOP_PX;
                editor.set_viewport.set(Viewport {
                    x: start_viewport.x + dx,
                    y: start_viewport.y + dy,
                    zoom: start_viewport.zoom,
                });
            }
            Gesture::Move {
                start_world,
                grabbed_centre,
                still_centres,
                zones,
                grabbed_zone,
                moved,
                ..
            } => {
                let zoom = viewport.get_untracked().zoom;
                let raw = (world.0 - start_world.0, world.1 - start_world.1);
                if !*moved && (raw.0.abs() + raw.1.abs()) * zoom <= CLICK_SLOP_PX {
                    return;
                }
                *moved = true;
                let wanted = (grabbed_centre.0 + raw.0, grabbed_centre.1 + raw.1);
                let (mut x, mut y) = editor.snapped(wanted.0, wanted.1);
                let catch = GUIDE_CATCH_PX / zoom;
                let mut found = Vec::new();
                if let Some(other) = still_centres
                    .iter()
                    .find(|other| (other.0 - wanted.0).abs() < catch)
                {
                    x = other.0;
                    found.push((true, x));
                }
                if let Some(other) = still_centres
                    .iter()
                    .find(|other| (other.1 - wanted.1).abs() < catch)
                {
                    y = other.1;
                    found.push((false, y));
                }
                if guides.with_untracked(|guides| *guides != found) {
                    set_guides.set(found);
                }
                let boxes: Vec<_> = zones.iter().map(|(_, bounds)| *bounds).collect();
                let wanted = zone_after_drop(&boxes, *grabbed_zone, (x, y));
                let preview = (
                    wanted
                        .filter(|zone| Some(*zone) != *grabbed_zone)
                        .map(|zone| zones[zone].0.clone()),
                    grabbed_zone
                        .filter(|zone| wanted != Some(*zone))
                        .map(|zone| zones[zone].0.clone()),
                );
                if zone_preview.with_untracked(|shown| *shown != preview) {
                    set_zone_preview.set(preview);
                }
                set_drag_offset.set((x - grabbed_centre.0, y - grabbed_centre.1));
            }
            Gesture::Connect { .. } => {
                set_connect_line.update(|line| {
                    if let Some(line) = line {
                        line.1 = world;
                    }
                });
            }
            Gesture::RubberBand { .. } => {
                set_band.update(|band| {
                    if let Some(band) = band {
                        band.1 = world;
                    }
                });
            }
            Gesture::Cut { .. } => {
                set_cut_line.update(|line| {
                    if let Some(line) = line {
                        line.1 = world;
                    }
                });
            }
        });
    };

    let on_pointerup = move |event: ev::PointerEvent| {
        if event.pointer_type() == "touch" {
            touches.update_value(|touches| touches.retain(|(id, _)| *id != event.pointer_id()));
        }
        let finished = gesture.try_update_value(std::mem::take).unwrap_or_default();
        match finished {
            Gesture::Idle | Gesture::Pinch { .. } => {}
            Gesture::Cut { start_world } => {
                let end = world_of(canvas_point(&event));
                set_cut_line.set(None);
                set_cut_mode.set(false);
                editor.document.with_untracked(|document| {
                    if let Some(scenario) = document {
                        crate::live::faults::inject_cut(scenario, start_world, end);
                    }
                });
            }
            Gesture::Pan { moved, .. } => {
                if !moved {
                    editor.select(Selection::default());
                }
            }
            Gesture::Move { ids, moved, .. } => {
                if moved {
                    let (dx, dy) = drag_offset.get_untracked();
                    editor.move_nodes(&ids, dx, dy);
                }
                set_moving.set(BTreeSet::new());
                set_drag_offset.set((0.0, 0.0));
                set_guides.set(Vec::new());
                set_zone_preview.set((None, None));
            }
            Gesture::Connect { from } => {
                set_connect_line.set(None);
                // The node under the pointer, by geometry: the pointer is
                // captured, so the event target is the canvas itself.
                let (x, y) = world_of(canvas_point(&event));
                let target = editor.document.with_untracked(|document| {
                    document.as_ref().and_then(|scenario| {
                        scenario
                            .topology
                            .nodes
                            .iter()
                            .rev()
                            .find(|node| {
                                (x - node.position.x).abs() <= NODE_WIDTH_PX / 2.0 + 8.0
                                    && (y - node.position.y).abs() <= NODE_HEIGHT_PX / 2.0 + 8.0
                            })
                            .map(|node| node.id.clone())
                    })
                });
                if let Some(to) = target {
                    editor.connect(&from, &to, new_link_kind.get_untracked());
                }
            }
            Gesture::RubberBand {
                start_world,
                extend,
            } => {
                let end = world_of(canvas_point(&event));
                set_band.set(None);
                let (left, right) = (start_world.0.min(end.0), start_world.0.max(end.0));
                let (top, bottom) = (start_world.1.min(end.1), start_world.1.max(end.1));
                let inside: Vec<String> = editor.document.with_untracked(|document| {
                    document
                        .iter()
                        .flat_map(|scenario| scenario.topology.nodes.iter())
                        .filter(|node| {
                            (left..=right).contains(&node.position.x)
                                && (top..=bottom).contains(&node.position.y)
                        })
                        .map(|node| node.id.clone())
                        .collect()
                });
                let mut selection = if extend {
                    editor.selection.get_untracked()
                } else {
                    Selection::default()
                };
                selection.link = None;
                selection.zone = None;
                selection.nodes.extend(inside);
                editor.select(selection);
            }
        }
    };

    let on_wheel = move |event: ev::WheelEvent| {
        event.prevent_default();
        set_menu.set(None);
        let point = canvas_point(&event);
        if event.ctrl_key() || event.meta_key() {
            // Pinch-zoom on a trackpad arrives as ctrl+wheel too.
            let factor = (1.0 - event.delta_y() * 0.002).clamp(0.5, 2.0);
            editor
                .set_viewport
                .update(|viewport| *viewport = viewport.zoomed_at(factor, point.0, point.1));
        } else {
            let (dx, dy) = if event.shift_key() {
                (event.delta_y(), event.delta_x())
            } else {
                (event.delta_x(), event.delta_y())
            };
            editor.set_viewport.update(|viewport| {
                viewport.x -= dx;
                viewport.y -= dy;
            });
        }
    };

    let on_dragover = move |event: ev::DragEvent| {
        event.prevent_default();
    };
    let on_drop = move |event: ev::DragEvent| {
        event.prevent_default();
        let Some(transfer) = event.data_transfer() else {
            return;
        };
        let kind = transfer.get_data(PALETTE_DRAG_TYPE).unwrap_or_default();
        if !kind.is_empty() {
            let world = world_of(canvas_point(&event));
            editor.add_node(&kind, world.0, world.1);
        } else if let Some(file) = transfer.files().and_then(|files| files.get(0)) {
            workspace.open_file(file);
        }
    };

    let on_contextmenu = move |event: ev::MouseEvent| {
        event.prevent_default();
        let point = canvas_point(&event);
        let target = match hit_of(event.target()) {
            Hit::Node(id) | Hit::Handle(id) => {
                editor.click_node(&id, false);
                MenuTarget::Node
            }
            Hit::Link(index) => {
                editor.select(Selection {
                    link: Some(index),
                    ..Selection::default()
                });
                MenuTarget::Link(index)
            }
            Hit::Zone(_) | Hit::Background => MenuTarget::Background {
                world: world_of(point),
            },
        };
        // A keyboard-opened menu is already showing: the browser's own
        // contextmenu event that follows the key must not replace it.
        if menu.with_untracked(|menu| {
            menu.as_ref()
                .is_some_and(|menu| menu.return_focus.is_some())
        }) && event.button() != 2
        {
            return;
        }
        set_menu.set(Some(Menu {
            x: point.0,
            y: point.1,
            target,
            return_focus: None,
        }));
    };

    // Shift+F10 or the Menu key on a focused node or link: its context menu,
    // placed at the element's centre, with the first item focused.
    let on_keyboard_menu = move |event: ev::KeyboardEvent| {
        let key = event.key();
        if !(key == "ContextMenu" || (key == "F10" && event.shift_key())) {
            return;
        }
        event.prevent_default();
        let Some(svg) = event
            .current_target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        let origin = svg.get_bounding_client_rect();
        let focused = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok());
        let point = focused
            .as_ref()
            .map(|element| {
                let rect = element.get_bounding_client_rect();
                (
                    rect.left() + rect.width() / 2.0 - origin.left(),
                    rect.top() + rect.height() / 2.0 - origin.top(),
                )
            })
            .unwrap_or((origin.width() / 2.0, origin.height() / 2.0));
        let (target, return_focus) = match hit_of(event.target()) {
            Hit::Node(id) | Hit::Handle(id) => {
                editor.click_node(&id, false);
                (MenuTarget::Node, Some(("data-node-id", id)))
            }
            Hit::Link(index) => {
                editor.select(Selection {
                    link: Some(index),
                    ..Selection::default()
                });
                (
                    MenuTarget::Link(index),
                    Some(("data-link-index", index.to_string())),
                )
            }
            Hit::Zone(_) | Hit::Background => (
                MenuTarget::Background {
                    world: world_of(point),
                },
                Some(("data-testid", "topology".to_string())),
            ),
        };
        set_menu.set(Some(Menu {
            x: point.0,
            y: point.1,
            target,
            return_focus,
        }));
        request_animation_frame(|| focus_first_in("[data-testid=context-menu]"));
    };

    let transform = move || {
        let viewport = viewport.get();
        format!(
            "translate({:.2} {:.2}) scale({:.4})",
            viewport.x, viewport.y, viewport.zoom
        )
    };
    let grid_transform = transform;

    let (nodes_live, links_live) = live_parts(snapshot);
    let problems = editor.problems;
    let drawing = move || {
        editor.document.with(|document| {
            document.as_ref().map(|scenario| {
                let (bad_nodes, bad_links) = problems.with(|problems| {
                    let nodes: BTreeSet<usize> = problems
                        .iter()
                        .filter_map(|problem| problem_node_index(&problem.path))
                        .collect();
                    let links: BTreeSet<usize> = problems
                        .iter()
                        .filter_map(|problem| problem_link_index(&problem.path))
                        .collect();
                    (nodes, links)
                });
                drawing_view(
                    scenario,
                    &bad_nodes,
                    &bad_links,
                    DrawingSignals {
                        editor,
                        nodes_live,
                        links_live,
                        drag_offset,
                        moving,
                        zone_preview,
                    },
                )
            })
        })
    };

    let aria_label = move || {
        editor.document.with(|document| {
            document.as_ref().map_or_else(String::new, |scenario| {
                format!(
                    "Topology editor: {} and {}. Drag components from the palette; drag a node's handle to connect.",
                    format::counted(scenario.topology.nodes.len(), "node", "nodes"),
                    format::counted(scenario.topology.links.len(), "link", "links"),
                )
            })
        })
    };

    // The SVG gets its size in px, not 100%: a percentage-sized SVG root is
    // laid out again, in full, whenever its flex column (the stage, with the
    // fault timeline under it) is, so every timeline tick re-laid out every
    // node of a big diagram. See `live::svg_text_refresh` for the same cost.
    let container_ref = NodeRef::<leptos::html::Div>::new();
    let container_size = crate::resize::observed_size(container_ref);
    let svg_width = move || {
        let (width, _) = container_size.get();
        if width > 0.0 {
            format!("{width}px")
        } else {
            "100%".to_string()
        }
    };
    let svg_height = move || {
        let (_, height) = container_size.get();
        if height > 0.0 {
            format!("{height}px")
        } else {
            "100%".to_string()
        }
    };

    view! {
        <div
            class="canvas"
            data-testid="canvas"
            node_ref=container_ref
            on:dragover=on_dragover
            on:drop=on_drop
        >
            <svg
                class="topology"
                data-testid="topology"
                style:width=svg_width
                style:height=svg_height
                role="application"
                aria-roledescription="diagram editor"
                aria-label=aria_label
                on:pointerdown=on_pointerdown
                on:pointermove=on_pointermove
                on:pointerup=on_pointerup
                on:pointercancel=on_pointerup
                on:wheel=on_wheel
                on:contextmenu=on_contextmenu
                on:keydown=on_keyboard_menu
            >
                <defs>
                    <pattern
                        id="canvas-grid"
                        width="20"
                        height="20"
                        patternUnits="userSpaceOnUse"
                        patternTransform=grid_transform
                    >
                        <circle class="grid-dot" cx="1" cy="1" r="1" />
                    </pattern>
                    {markers()}
                </defs>
                <rect class="canvas-background" width="100%" height="100%" fill="url(#canvas-grid)" />
                <g class="world" transform=transform>
                    {drawing}
                    {crate::live::overlay::live_overlay_from_context(editor)}
                    <g class="overlay" aria-hidden="true" pointer-events="none">
                        {move || {
                            guides
                                .get()
                                .into_iter()
                                .map(|(vertical, at)| {
                                    if vertical {
                                        view! { <line class="guide" x1=at y1=-100000.0 x2=at y2=100000.0 /> }
                                    } else {
                                        view! { <line class="guide" x1=-100000.0 y1=at x2=100000.0 y2=at /> }
                                    }
                                })
                                .collect_view()
                        }}
                        {move || {
                            connect_line
                                .get()
                                .map(|(from, to)| {
                                    view! {
                                        <line class="connect-line" x1=from.0 y1=from.1 x2=to.0 y2=to.1 />
                                    }
                                })
                        }}
                        {move || {
                            cut_line.get().map(|(from, to)| cut_line_view(from, to))
                        }}
                        {move || {
                            band.get()
                                .map(|(a, b)| {
                                    view! {
                                        <rect
                                            class="rubber-band"
                                            data-testid="rubber-band"
                                            x=a.0.min(b.0)
                                            y=a.1.min(b.1)
                                            width=(a.0 - b.0).abs()
                                            height=(a.1 - b.1).abs()
                                        />
                                    }
                                })
                        }}
                    </g>
                </g>
            </svg>
            {crate::live::particle_layer::particle_layer_from_context(editor)}
            {move || {
                editor
                    .document
                    .with(|document| {
                        document.as_ref().is_some_and(|scenario| scenario.topology.nodes.is_empty())
                    })
                    .then(|| {
                        view! {
                            <p class="canvas-hint">
                                "Drag a component from the palette onto the canvas to start."
                            </p>
                        }
                    })
            }}
            <ZoomControls editor=editor />
            <CutModeButton cut_mode=cut_mode set_cut_mode=set_cut_mode />
            <Minimap editor=editor />
            <Legend />
            {move || menu.get().map(|menu| context_menu(menu, editor, set_menu))}
        </div>
    }
}

#[derive(Clone, Copy)]
struct DrawingSignals {
    editor: Editor,
    /// Each node's live part, in snapshot order (see `live_nodes`).
    nodes_live: Memo<Vec<(String, NodeLive)>>,
    /// Each link's live part, in snapshot order.
    links_live: Memo<Vec<(String, String, LinkLive)>>,
    drag_offset: ReadSignal<(f64, f64)>,
    moving: ReadSignal<BTreeSet<String>>,
    /// (zone a drop would join, zone it would leave) while dragging.
    zone_preview: ReadSignal<(Option<String>, Option<String>)>,
}

fn drawing_view(
    scenario: &Scenario,
    bad_nodes: &BTreeSet<usize>,
    bad_links: &BTreeSet<usize>,
    signals: DrawingSignals,
) -> impl IntoView + use<> {
    let topology = &scenario.topology;
    let centre_of = |id: &str| {
        topology
            .nodes
            .iter()
            .find(|node| node.id == id)
            .map(|node| (finite(node.position.x), finite(node.position.y)))
    };
    let zones = topology
        .zones
        .iter()
        .filter_map(|zone| {
            let centres: Vec<(f64, f64)> =
                zone.nodes.iter().filter_map(|id| centre_of(id)).collect();
            if centres.is_empty() {
                return None;
            }
            let (left, top, right, bottom) = zone_box(&centres)?;
            let members = zone.nodes.join(" ");
            let label = if zone.label.is_empty() {
                zone.id.clone()
            } else {
                zone.label.clone()
            };
            let id = zone.id.clone();
            let selected = {
                let id = id.clone();
                move || {
                    signals
                        .editor
                        .selection
                        .with(|selection| selection.zone.as_ref() == Some(&id))
                }
            };
            let drop = {
                let id = id.clone();
                move || {
                    signals.zone_preview.with(|(join, leave)| {
                        if join.as_ref() == Some(&id) {
                            "join"
                        } else if leave.as_ref() == Some(&id) {
                            "leave"
                        } else {
                            ""
                        }
                    })
                }
            };
            Some(view! {
                <g
                    class="zone"
                    data-zone-id=id
                    data-members=members
                    data-selected=move || selected().to_string()
                    data-drop=drop
                >
                    <rect
                        class="zone-box"
                        x=left
                        y=top
                        width=right - left
                        height=bottom - top
                        rx="14"
                    />
                    <text class="zone-label" x=left + 12.0 y=top + 18.0>
                        {label}
                    </text>
                </g>
            })
        })
        .collect_view();

    // With orthogonal routing every link routes around the node boxes.
    let boxes: Option<NodeCentres> = (scenario.layout.link_routing == LinkRouting::Orthogonal)
        .then(|| {
            Arc::new(
                topology
                    .nodes
                    .iter()
                    .map(|node| {
                        (
                            node.id.clone(),
                            (finite(node.position.x), finite(node.position.y)),
                        )
                    })
                    .collect(),
            )
        });
    let pairs: BTreeSet<(&str, &str)> = topology
        .links
        .iter()
        .map(|link| (link.from.as_str(), link.to.as_str()))
        .collect();
    let links = topology
        .links
        .iter()
        .enumerate()
        .filter_map(|(index, link)| {
            let from = centre_of(&link.from)?;
            let to = centre_of(&link.to)?;
            let offset = if pairs.contains(&(link.to.as_str(), link.from.as_str())) {
                PARALLEL_OFFSET_PX
            } else {
                0.0
            };
            Some(link_view(
                LinkDraw {
                    index,
                    from_id: link.from.clone(),
                    to_id: link.to.clone(),
                    from,
                    to,
                    offset,
                    kind: link.kind,
                    label: link.label.clone(),
                    has_problem: bad_links.contains(&index),
                    boxes: boxes.clone(),
                },
                signals,
            ))
        })
        .collect_view();

    let nodes = topology
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| {
            node_view(
                NodeDraw {
                    index,
                    id: node.id.clone(),
                    label: node.label.clone(),
                    kind: node.spec.kind_name(),
                    centre: (finite(node.position.x), finite(node.position.y)),
                    has_problem: bad_nodes.contains(&index),
                },
                signals,
            )
        })
        .collect_view();

    view! {
        <g class="zones">{zones}</g>
        <g class="links">{links}</g>
        <g class="nodes">{nodes}</g>
    }
}

/// (distance between, midpoint of) the first two touches, if there are two.
fn pinch_of(touches: &[(i32, (f64, f64))]) -> Option<(f64, (f64, f64))> {
    let [(_, a), (_, b), ..] = touches else {
        return None;
    };
    let distance = (a.0 - b.0).hypot(a.1 - b.1).max(1.0);
    Some((distance, ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0)))
}

/// The viewport after a pinch that began `start_distance` apart around
/// `start_centre` and is now `distance` apart around `centre`: the world point
/// that was under the starting midpoint stays under the fingers' midpoint.
fn pinched(
    start: Viewport,
    start_distance: f64,
    start_centre: (f64, f64),
    distance: f64,
    centre: (f64, f64),
) -> Viewport {
    let zoom = (start.zoom * distance / start_distance)
        .clamp(crate::editor::MIN_ZOOM, crate::editor::MAX_ZOOM);
    let (world_x, world_y) = start.to_world(start_centre.0, start_centre.1);
    Viewport {
        x: centre.0 - world_x * zoom,
        y: centre.1 - world_y * zoom,
        zoom,
    }
}

fn finite(value: f64) -> f64 {
    if value.is_finite() { value } else { 0.0 }
}

struct NodeDraw {
    index: usize,
    id: String,
    label: String,
    kind: &'static str,
    centre: (f64, f64),
    has_problem: bool,
}

/// The live parts of the snapshot the diagram shows, one memo for all nodes
/// and one for all links, so a new snapshot re-runs two memos rather than
/// one per node and link (hundreds of subscriptions re-made every frame were
/// most of a big diagram's script time). The node memo is batched while
/// playing (see `live::svg_text_refresh`): numbers change a few times a
/// second, a status or slowness change at once.
#[allow(clippy::type_complexity)]
fn live_parts(
    snapshot: ReadSignal<Option<Snapshot>>,
) -> (
    Memo<Vec<(String, NodeLive)>>,
    Memo<Vec<(String, String, LinkLive)>>,
) {
    let nodes_live = batched_memo(
        move || {
            snapshot.with(|snapshot| {
                snapshot
                    .iter()
                    .flat_map(|snapshot| snapshot.nodes.iter())
                    .map(|node| {
                        (
                            node.id.clone(),
                            NodeLive {
                                status: node.status,
                                badge: node.view.badge.clone(),
                                queue_depth: node.view.queue_depth,
                                slow_factor: node.slow_factor,
                            },
                        )
                    })
                    .collect::<Vec<_>>()
            })
        },
        |previous: &Vec<(String, NodeLive)>, fresh: &Vec<(String, NodeLive)>| {
            previous.len() != fresh.len()
                || previous
                    .iter()
                    .zip(fresh)
                    .any(|((old_id, old), (new_id, new))| {
                        old_id != new_id
                            || old.status != new.status
                            || old.slow_factor != new.slow_factor
                    })
        },
    );
    let links_live = Memo::new(move |_| {
        snapshot.with(|snapshot| {
            snapshot
                .iter()
                .flat_map(|snapshot| snapshot.links.iter())
                .map(|link| {
                    (
                        link.from.clone(),
                        link.to.clone(),
                        LinkLive {
                            cut_forward: link.cut_forward,
                            cut_backward: link.cut_backward,
                            held: link.held_forward || link.held_backward,
                        },
                    )
                })
                .collect::<Vec<_>>()
        })
    });
    (nodes_live, links_live)
}

/// The part of a node's snapshot the canvas shows.
#[derive(Clone, Debug, PartialEq)]
struct NodeLive {
    status: NodeStatus,
    badge: String,
    queue_depth: u64,
    slow_factor: f64,
}

fn node_view(node: NodeDraw, signals: DrawingSignals) -> impl IntoView + use<> {
    let NodeDraw {
        index,
        id,
        label,
        kind,
        centre,
        has_problem,
    } = node;
    let DrawingSignals {
        editor,
        nodes_live,
        drag_offset,
        moving,
        ..
    } = signals;
    let live = {
        let id = id.clone();
        Memo::new(move |_| {
            nodes_live.with(|nodes| {
                nodes
                    .get(index)
                    .filter(|(node_id, _)| *node_id == id)
                    .map(|(_, live)| live.clone())
            })
        })
    };
    let is_moving = {
        let id = id.clone();
        Memo::new(move |_| moving.with(|moving| moving.contains(&id)))
    };
    let is_selected = {
        let id = id.clone();
        Memo::new(move |_| {
            editor
                .selection
                .with(|selection| selection.nodes.contains(&id))
        })
    };
    let left = centre.0 - NODE_WIDTH_PX / 2.0;
    let top = centre.1 - NODE_HEIGHT_PX / 2.0;
    let transform = move || {
        let (dx, dy) = if is_moving.get() {
            drag_offset.get()
        } else {
            (0.0, 0.0)
        };
        format!("translate({:.1} {:.1})", left + dx, top + dy)
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
                "{label} ({kind_text}), {}{}, {}, {}{}",
                status(),
                if is_selected.get() { ", selected" } else { "" },
                badge.unwrap_or_default(),
                queue(),
                if has_problem { ", has problems" } else { "" },
            )
        }
    };
    let on_keydown = {
        let id = id.clone();
        move |event: ev::KeyboardEvent| {
            if event.key() == "Enter" || event.key() == " " {
                event.prevent_default();
                editor.click_node(&id, event.shift_key());
            }
        }
    };
    let short_label = format::shorten(&label, MAX_NODE_LABEL_CHARS);
    let handle_id = id.clone();
    view! {
        <g
            class="node"
            data-testid="node"
            data-node-id=id.clone()
            data-kind=kind
            data-status=status
            data-selected=move || is_selected.get().to_string()
            data-invalid=has_problem.to_string()
            transform=transform
            tabindex="0"
            role="button"
            aria-label=aria_label
            on:keydown=on_keydown
        >
            <rect class="node-box" width=NODE_WIDTH_PX height=NODE_HEIGHT_PX rx="10" />
            <rect class="node-accent" x="0" y="10" width="4" height=NODE_HEIGHT_PX - 20.0 rx="2" />
            <g class="node-icon" transform="translate(14 10)">
                <rect class="node-icon-tile" width="28" height="28" rx="7" />
                <path transform="translate(4 4) scale(0.8333)" d=icon_or_generic(kind) />
            </g>
            <text class="node-label" data-testid="node-label" x="50" y="23">
                {short_label}
            </text>
            <text class="node-kind" x="50" y="39">
                {kind_text}
            </text>
            <text class="node-stats" data-testid="node-badge" x="14" y="64">
                {badge}
            </text>
            <text class="node-stats" data-testid="node-queue" x="14" y="81">
                {queue}
            </text>
            <text class="node-flag" x=NODE_WIDTH_PX - 12.0 y="4">
                {flag}
            </text>
            {has_problem
                .then(|| {
                    view! {
                        <g class="node-problem" transform="translate(-8 -8)" aria-hidden="true">
                            <path d="M8 0 L16 14 L0 14 Z" />
                            <text x="8" y="12">"!"</text>
                        </g>
                    }
                })}
            <circle
                class="node-handle"
                data-handle=handle_id
                cx=NODE_WIDTH_PX
                cy=NODE_HEIGHT_PX / 2.0
                r="7"
            >
                <title>"Drag to another node to connect"</title>
            </circle>
        </g>
    }
}

struct LinkDraw {
    index: usize,
    from_id: String,
    to_id: String,
    from: (f64, f64),
    to: (f64, f64),
    offset: f64,
    kind: LinkKind,
    label: String,
    has_problem: bool,
    /// Every node's id and centre when links route around boxes.
    boxes: Option<NodeCentres>,
}

pub fn link_kind_name(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::SyncCall => "sync_call",
        LinkKind::AsyncMessage => "async_message",
        LinkKind::Replication => "replication",
        LinkKind::Network => "network",
    }
}

pub fn link_kind_title(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::SyncCall => "Sync call",
        LinkKind::AsyncMessage => "Async publish/consume",
        LinkKind::Replication => "Replication",
        LinkKind::Network => "Network only",
    }
}

pub const LINK_KINDS: [LinkKind; 4] = [
    LinkKind::SyncCall,
    LinkKind::AsyncMessage,
    LinkKind::Replication,
    LinkKind::Network,
];

/// Arrowhead shape per link kind, so kinds differ by shape as well as dash.
fn marker_shape(kind: LinkKind) -> Option<&'static str> {
    match kind {
        LinkKind::SyncCall | LinkKind::Replication => Some("solid"),
        LinkKind::AsyncMessage => Some("open"),
        LinkKind::Network => None,
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct LinkLive {
    cut_forward: bool,
    cut_backward: bool,
    held: bool,
}

fn link_view(link: LinkDraw, signals: DrawingSignals) -> impl IntoView + use<> {
    let LinkDraw {
        index,
        from_id,
        to_id,
        from,
        to,
        offset,
        kind,
        label,
        has_problem,
        boxes,
    } = link;
    let DrawingSignals {
        editor,
        links_live,
        drag_offset,
        moving,
        ..
    } = signals;
    let live = {
        let (from_id, to_id) = (from_id.clone(), to_id.clone());
        Memo::new(move |_| {
            links_live.with(|links| {
                links
                    .get(index)
                    .filter(|(from, to, _)| *from == from_id && *to == to_id)
                    .or_else(|| {
                        links
                            .iter()
                            .find(|(from, to, _)| *from == from_id && *to == to_id)
                    })
                    .map(|(_, _, live)| *live)
            })
        })
    };
    let from_moving = {
        let id = from_id.clone();
        Memo::new(move |_| moving.with(|moving| moving.contains(&id)))
    };
    let to_moving = {
        let id = to_id.clone();
        Memo::new(move |_| moving.with(|moving| moving.contains(&id)))
    };
    let current_route = Memo::new(move |_| {
        let shift = |point: (f64, f64), moves: bool| {
            if moves {
                let (dx, dy) = drag_offset.get();
                (point.0 + dx, point.1 + dy)
            } else {
                point
            }
        };
        let (from_moves, to_moves) = (from_moving.get(), to_moving.get());
        let Some(boxes) = &boxes else {
            return route(shift(from, from_moves), shift(to, to_moves), offset);
        };
        // Only links with a moving end re-route while dragging (bounded work
        // per frame); they avoid the moving boxes where they are now.
        let centres: Vec<(f64, f64)> = if from_moves || to_moves {
            moving.with_untracked(|moving| {
                boxes
                    .iter()
                    .map(|(id, centre)| shift(*centre, moving.contains(id)))
                    .collect()
            })
        } else {
            boxes.iter().map(|(_, centre)| *centre).collect()
        };
        orthogonal_route(
            shift(from, from_moves),
            shift(to, to_moves),
            offset,
            &centres,
        )
    });
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
    let is_selected = Memo::new(move |_| {
        editor
            .selection
            .with(|selection| selection.link == Some(index))
    });
    let path = move || current_route.with(|route| route.as_ref().map(|route| route.path.clone()));
    let label_x = move || current_route.with(|route| route.as_ref().map_or(0.0, |r| r.label_x));
    let label_y = move || current_route.with(|route| route.as_ref().map_or(0.0, |r| r.label_y));
    let marker_end =
        move || marker_shape(kind).map(|shape| format!("url(#marker-{shape}-{})", state()));
    let mark = move || match state() {
        "cut" => "✕",
        "held" => "❚❚",
        _ => "",
    };
    let aria_label = {
        let (from_id, to_id) = (from_id.clone(), to_id.clone());
        let text = if label.is_empty() {
            format!("{} link, {from_id} to {to_id}", link_kind_title(kind))
        } else {
            format!(
                "{} link {label}: {from_id} to {to_id}",
                link_kind_title(kind)
            )
        };
        move || match cut_direction() {
            "both" => format!("{text}, cut by a partition"),
            "forward" => format!("{text}, cut one way ({from_id} to {to_id})"),
            "backward" => format!("{text}, cut one way ({to_id} to {from_id})"),
            _ if state() == "held" => format!("{text}, messages held"),
            _ => text.clone(),
        }
    };
    let on_keydown = move |event: ev::KeyboardEvent| {
        if event.key() == "Enter" || event.key() == " " {
            event.prevent_default();
            editor.select(Selection {
                link: Some(index),
                ..Selection::default()
            });
        }
    };
    let is_replication = kind == LinkKind::Replication;
    view! {
        <g
            class="link"
            data-testid="link"
            data-link-index=index
            data-from=from_id
            data-to=to_id
            data-kind=link_kind_name(kind)
            data-state=state
            data-cut=cut_direction
            data-selected=move || is_selected.get().to_string()
            data-invalid=has_problem.to_string()
            tabindex="0"
            role="button"
            aria-label=aria_label
            on:keydown=on_keydown
        >
            <path class="link-hit" d=path />
            <path class="link-line" d=path marker-end=marker_end />
            {is_replication.then(|| view! { <path class="link-line-inner" d=path /> })}
            {(kind == LinkKind::Network)
                .then(|| {
                    view! {
                        <path class="link-line-ends" d=path marker-start="url(#marker-dot)" marker-end="url(#marker-dot)" />
                    }
                })}
            <text class="link-label" x=label_x y=move || label_y() - 8.0 text-anchor="middle">
                {label}
            </text>
            <text class="link-mark" x=label_x y=label_y>
                {mark}
            </text>
        </g>
    }
}

fn markers() -> impl IntoView {
    let states = ["ok", "cut", "held"];
    let solid = states
        .into_iter()
        .map(|state| {
            view! {
                <marker
                    id=format!("marker-solid-{state}")
                    class=format!("marker marker-{state}")
                    viewBox="0 0 10 10"
                    refX="9"
                    refY="5"
                    markerUnits="userSpaceOnUse"
                    markerWidth="11"
                    markerHeight="11"
                    orient="auto-start-reverse"
                >
                    <path d="M0 0 L10 5 L0 10 Z" />
                </marker>
            }
        })
        .collect_view();
    let open = states
        .into_iter()
        .map(|state| {
            view! {
                <marker
                    id=format!("marker-open-{state}")
                    class=format!("marker marker-open marker-{state}")
                    viewBox="0 0 12 12"
                    refX="10"
                    refY="6"
                    markerUnits="userSpaceOnUse"
                    markerWidth="13"
                    markerHeight="13"
                    orient="auto-start-reverse"
                >
                    <path d="M1 1 L10 6 L1 11" />
                </marker>
            }
        })
        .collect_view();
    view! {
        {solid}
        {open}
        <marker
            id="marker-dot"
            class="marker marker-ok"
            viewBox="0 0 10 10"
            refX="5"
            refY="5"
            markerUnits="userSpaceOnUse"
            markerWidth="8"
            markerHeight="8"
        >
            <circle cx="5" cy="5" r="4" />
        </marker>
    }
}

#[component]
fn CutModeButton(cut_mode: ReadSignal<bool>, set_cut_mode: WriteSignal<bool>) -> impl IntoView {
    // Only while a run is loaded: the cut is a live fault on that run.
    let running = use_context::<crate::driver::SimView>()
        .map(|sim| sim.run_scenario)
        .map(|run| Signal::derive(move || run.with(Option::is_some)))
        .unwrap_or_else(|| Signal::stored(false));
    view! {
        <Show when=move || running.get()>
            <button
                class="cut-mode-button"
                data-testid="cut-mode"
                aria-pressed=move || cut_mode.get().to_string()
                title="Partition by drawing a line across the diagram (or Alt-drag): nodes on its two sides can no longer reach each other. Recorded in the run's fault plan; heal from a link's menu."
                on:click=move |_| set_cut_mode.update(|on| *on = !*on)
            >
                {move || if cut_mode.get() { "Draw the cut…" } else { "✂ Cut to partition" }}
            </button>
        </Show>
    }
}

/// The cut being drawn: the stroke, and the line it makes across the whole
/// diagram (the partition follows the extended line, not just the stroke).
fn cut_line_view(from: (f64, f64), to: (f64, f64)) -> impl IntoView {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let length = dx.hypot(dy).max(1e-9);
    let reach = 100_000.0 / length;
    view! {
        <line
            class="cut-line-extended"
            x1=from.0 - dx * reach
            y1=from.1 - dy * reach
            x2=to.0 + dx * reach
            y2=to.1 + dy * reach
        />
        <line class="cut-line" data-testid="cut-line" x1=from.0 y1=from.1 x2=to.0 y2=to.1 />
    }
}

#[component]
fn ZoomControls(editor: Editor) -> impl IntoView {
    let percent = move || format!("{:.0}%", editor.viewport.get().zoom * 100.0);
    view! {
        <div class="zoom-controls" role="toolbar" aria-label="Zoom">
            <button class="icon-button" aria-label="Zoom out" title="Zoom out (−)" on:click=move |_| editor.zoom_by(1.0 / 1.25)>
                "−"
            </button>
            <button
                class="zoom-value"
                data-testid="zoom-value"
                aria-label="Reset zoom to 100%"
                title="Reset zoom (0)"
                on:click=move |_| editor.zoom_by(1.0 / editor.viewport.get_untracked().zoom)
            >
                {percent}
            </button>
            <button class="icon-button" aria-label="Zoom in" title="Zoom in (+)" on:click=move |_| editor.zoom_by(1.25)>
                "+"
            </button>
            <button class="icon-button" aria-label="Zoom to fit" title="Zoom to fit (F)" on:click=move |_| editor.fit_view()>
                <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
                    <path d="M4 9 V4 H9 M15 4 H20 V9 M20 15 V20 H15 M9 20 H4 V15" />
                </svg>
            </button>
        </div>
    }
}

fn context_menu(menu: Menu, editor: Editor, set_menu: WriteSignal<Option<Menu>>) -> impl IntoView {
    let close = move || set_menu.set(None);
    let item = move |label: String, shortcut: &'static str, action: Box<dyn Fn() + Send + Sync>| {
        view! {
            <button
                role="menuitem"
                class="menu-item"
                on:click=move |_| {
                    action();
                    close();
                }
            >
                <span>{label}</span>
                <kbd>{shortcut}</kbd>
            </button>
        }
    };
    let mut items = match menu.target {
        MenuTarget::Node => vec![
            item(
                "Duplicate".into(),
                "Ctrl+D",
                Box::new(move || editor.duplicate_selection()),
            ),
            item(
                "Group into zone".into(),
                "G",
                Box::new(move || editor.group_selection_into_zone()),
            ),
            item(
                "Add fault…".into(),
                "",
                Box::new(move || add_fault_here(editor)),
            ),
            item(
                "Delete".into(),
                "Del",
                Box::new(move || editor.delete_selection()),
            ),
        ],
        MenuTarget::Link(index) => {
            let mut items: Vec<_> = LINK_KINDS
                .into_iter()
                .map(|kind| {
                    item(
                        format!("Make {}", link_kind_title(kind).to_lowercase()),
                        "",
                        Box::new(move || {
                            editor.edit_link(index, "Change link kind", |link| link.kind = kind)
                        }),
                    )
                })
                .collect();
            items.push(item(
                "Add fault…".into(),
                "",
                Box::new(move || add_fault_here(editor)),
            ));
            items.push(item(
                "Delete link".into(),
                "Del",
                Box::new(move || editor.delete_selection()),
            ));
            items
        }
        MenuTarget::Background { world } => {
            let mut items = vec![
                item(
                    "Zoom to fit".into(),
                    "F",
                    Box::new(move || editor.fit_view()),
                ),
                item("Tidy layout".into(), "L", Box::new(move || editor.tidy())),
                item(
                    "Select all".into(),
                    "Ctrl+A",
                    Box::new(move || editor.select_all()),
                ),
            ];
            let kinds: Vec<String> = editor
                .catalog
                .with_value(|catalog| catalog.iter().map(|entry| entry.kind.clone()).collect());
            for kind in kinds {
                let title = format!("Add {} here", format::wire_name(&kind));
                items.push(item(
                    title,
                    "",
                    Box::new(move || editor.add_node(&kind, world.0, world.1)),
                ));
            }
            items
        }
    };
    // Live faults for the node or link (injected now, recorded into the plan).
    for (label, run) in
        crate::live::faults::menu_fault_items(&menu_fault_target(&menu.target, editor))
    {
        items.push(item(label, "", run));
    }
    let return_focus = menu.return_focus.clone();
    let on_keydown = move |event: ev::KeyboardEvent| {
        if move_in_menu(&event) {
            event.prevent_default();
        } else if event.key() == "Escape" || event.key() == "Tab" {
            if event.key() == "Escape" {
                // Escape closes the menu only, not the selection too.
                event.prevent_default();
                event.stop_propagation();
            }
            close();
            if let Some((attribute, value)) = &return_focus {
                focus_diagram_element(attribute, value);
            }
        }
    };
    view! {
        <div
            class="context-menu"
            role="menu"
            data-testid="context-menu"
            on:keydown=on_keydown
            style:left=format!("{}px", menu.x)
            style:top=format!("{}px", menu.y)
        >
            {items}
        </div>
    }
}

/// "Add fault…": a fault about the selected node or link, shown (and its
/// kind picker focused) in the inspector's fault plan.
fn add_fault_here(editor: Editor) {
    if editor.add_fault_for_selection() {
        crate::components::fault_plan_form::reveal_last_fault();
    }
}

/// Focuses the diagram element whose `attribute` is `value` (a node, a link,
/// the diagram itself), found by comparing attributes rather than by building
/// a selector from a user-chosen id.
fn focus_diagram_element(attribute: &str, value: &str) {
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    let Ok(Some(diagram)) = document.query_selector("[data-testid=topology]") else {
        return;
    };
    if attribute == "data-testid" {
        let _ = diagram.unchecked_ref::<web_sys::HtmlElement>().focus();
        return;
    }
    // Nodes and links are the focusable `g` elements of the diagram.
    let candidates = diagram.get_elements_by_tag_name("g");
    for index in 0..candidates.length() {
        if let Some(element) = candidates.item(index)
            && element.get_attribute(attribute).as_deref() == Some(value)
            && element.has_attribute("tabindex")
        {
            let _ = element.unchecked_ref::<web_sys::HtmlElement>().focus();
            return;
        }
    }
}

#[component]
fn Legend() -> impl IntoView {
    let sample = |kind: LinkKind| {
        let name = link_kind_name(kind);
        view! {
            <li>
                <svg viewBox="0 0 40 10" aria-hidden="true">
                    <g class="link" data-kind=name data-state="ok">
                        <path class="link-line" d="M2 5 H30" marker-end=marker_shape(kind).map(|shape| format!("url(#marker-{shape}-ok)")) />
                        {(kind == LinkKind::Replication).then(|| view! { <path class="link-line-inner" d="M2 5 H30" /> })}
                    </g>
                </svg>
                {link_kind_title(kind)}
            </li>
        }
    };
    view! {
        <ul class="legend" aria-label="Legend">
            {LINK_KINDS.into_iter().map(sample).collect_view()}
            <li>
                <svg viewBox="0 0 40 10" aria-hidden="true">
                    <line class="legend-line" data-state="cut" x1="1" y1="5" x2="39" y2="5" />
                </svg>
                "cut"
            </li>
            <li>
                <svg viewBox="0 0 40 10" aria-hidden="true">
                    <line class="legend-line" data-state="held" x1="1" y1="5" x2="39" y2="5" />
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

/// What the live fault items of a menu act on: the selected node, or the link's ends.
fn menu_fault_target(target: &MenuTarget, editor: Editor) -> crate::live::faults::FaultTarget {
    use crate::live::faults::FaultTarget;
    match target {
        MenuTarget::Node => editor
            .selection
            .with_untracked(|selection| selection.nodes.iter().next().cloned())
            .map_or(FaultTarget::Nothing, FaultTarget::Node),
        MenuTarget::Link(index) => editor
            .document
            .with_untracked(|document| {
                document
                    .as_ref()
                    .and_then(|scenario| scenario.topology.links.get(*index))
                    .map(|link| FaultTarget::Link(link.from.clone(), link.to.clone()))
            })
            .unwrap_or(FaultTarget::Nothing),
        MenuTarget::Background { .. } => FaultTarget::Nothing,
    }
}
