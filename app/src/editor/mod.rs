//! The topology editor's state: the document being edited (a `Scenario` and
//! nothing else), the selection, the viewport, and every edit as a method.
//!
//! Every change to the document goes through `Editor::edit`, which records
//! the previous document for undo, and, when the engine's validator finds no
//! problem, hands the new document to the simulator. The view only reads the
//! signals exposed here.

pub mod autolayout;
pub mod faults;
pub mod history;
pub mod icons;
pub mod schema_form;
pub mod share;
pub mod storage;
pub mod workload;
pub mod zones;

use crate::driver::SimDriver;
use faultline_engine::Scenario;
use faultline_engine::scenario::catalog::{KindEntry, component_catalog};
use faultline_engine::scenario::validate::validate;
use faultline_engine::scenario::{
    ComponentSpec, Link, LinkKind, LinkRouting, Node, Position, Problem, Zone,
};
use history::History;
use leptos::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Node positions snap to this grid (the canvas draws its dots at this pitch).
pub const GRID_PX: f64 = 20.0;
/// Pasted and duplicated nodes land this far down and right of the originals.
const PASTE_OFFSET_PX: f64 = 40.0;
pub const MIN_ZOOM: f64 = 0.1;
pub const MAX_ZOOM: f64 = 4.0;

/// What is selected on the canvas: nodes, or one link, or one zone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    pub nodes: BTreeSet<String>,
    pub link: Option<usize>,
    pub zone: Option<String>,
}

impl Selection {
    pub fn nodes(ids: impl IntoIterator<Item = String>) -> Selection {
        Selection {
            nodes: ids.into_iter().collect(),
            ..Selection::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.link.is_none() && self.zone.is_none()
    }
}

/// Screen = world × zoom + (x, y).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Viewport {
    pub x: f64,
    pub y: f64,
    pub zoom: f64,
}

impl Default for Viewport {
    fn default() -> Self {
        Viewport {
            x: 0.0,
            y: 0.0,
            zoom: 1.0,
        }
    }
}

impl Viewport {
    pub fn to_world(self, screen_x: f64, screen_y: f64) -> (f64, f64) {
        (
            (screen_x - self.x) / self.zoom,
            (screen_y - self.y) / self.zoom,
        )
    }

    /// Zooms by `factor` keeping the world point under (`screen_x`, `screen_y`) still.
    pub fn zoomed_at(self, factor: f64, screen_x: f64, screen_y: f64) -> Viewport {
        let zoom = (self.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        let (world_x, world_y) = self.to_world(screen_x, screen_y);
        Viewport {
            x: screen_x - world_x * zoom,
            y: screen_y - world_y * zoom,
            zoom,
        }
    }
}

/// A message for the status bar (saved, shared, restored, refused).
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub text: String,
    pub is_error: bool,
}

#[derive(Clone, Copy)]
pub struct Editor {
    pub document: ReadSignal<Option<Scenario>>,
    set_document: WriteSignal<Option<Scenario>>,
    pub selection: ReadSignal<Selection>,
    set_selection: WriteSignal<Selection>,
    history: StoredValue<History<Scenario>>,
    /// (undo label, redo label) for the toolbar.
    pub history_labels: ReadSignal<(Option<String>, Option<String>)>,
    set_history_labels: WriteSignal<(Option<String>, Option<String>)>,
    /// The engine validator's findings for the document, recomputed on every edit.
    pub problems: Memo<Vec<Problem>>,
    pub viewport: ReadSignal<Viewport>,
    pub set_viewport: WriteSignal<Viewport>,
    pub snap_to_grid: ReadSignal<bool>,
    pub set_snap_to_grid: WriteSignal<bool>,
    pub notice: ReadSignal<Option<Notice>>,
    set_notice: WriteSignal<Option<Notice>>,
    pub catalog: StoredValue<Vec<KindEntry>>,
    driver: SimDriver,
}

impl Editor {
    pub fn new(driver: SimDriver) -> Editor {
        let (document, set_document) = signal(None::<Scenario>);
        let (selection, set_selection) = signal(Selection::default());
        let (history_labels, set_history_labels) = signal((None, None));
        let (viewport, set_viewport) = signal(Viewport::default());
        let (snap_to_grid, set_snap_to_grid) = signal(true);
        let (notice, set_notice) = signal(None::<Notice>);
        let problems = Memo::new(move |_| {
            document.with(|document| {
                document
                    .as_ref()
                    .map(|scenario| validate(scenario).problems)
                    .unwrap_or_default()
            })
        });
        Editor {
            document,
            set_document,
            selection,
            set_selection,
            history: StoredValue::new(History::default()),
            history_labels,
            set_history_labels,
            problems,
            viewport,
            set_viewport,
            snap_to_grid,
            set_snap_to_grid,
            notice,
            set_notice,
            catalog: StoredValue::new(component_catalog()),
            driver,
        }
    }

    pub fn notify(self, text: impl Into<String>, is_error: bool) {
        self.set_notice.set(Some(Notice {
            text: text.into(),
            is_error,
        }));
    }

    pub fn dismiss_notice(self) {
        self.set_notice.set(None);
    }

    /// Replaces the document with a loaded one: history starts afresh, nodes
    /// without positions are laid out, and the view fits the drawing.
    pub fn load_document(self, mut scenario: Scenario) {
        let unplaced = scenario.topology.nodes.len() > 1
            && scenario
                .topology
                .nodes
                .iter()
                .all(|node| node.position.x == 0.0 && node.position.y == 0.0);
        if unplaced {
            apply_layered_layout(&mut scenario);
        }
        self.history.update_value(History::clear);
        self.sync_history_labels();
        self.set_selection.set(Selection::default());
        self.install(scenario);
        self.fit_view();
    }

    /// Applies `change` to a copy of the document as one undoable step.
    pub fn edit(self, label: &str, change: impl FnOnce(&mut Scenario)) {
        let Some(before) = self.document.get_untracked() else {
            return;
        };
        let mut after = before.clone();
        change(&mut after);
        if after == before {
            return;
        }
        self.history
            .update_value(|history| history.record(label, before));
        self.sync_history_labels();
        self.install(after);
    }

    /// Like `edit`, but the change may refuse (with a message) and then nothing is recorded.
    pub fn try_edit(
        self,
        label: &str,
        change: impl FnOnce(&mut Scenario) -> Result<(), String>,
    ) -> Result<(), String> {
        let Some(mut after) = self.document.get_untracked() else {
            return Err("no scenario is open".to_string());
        };
        change(&mut after)?;
        self.edit(label, move |scenario| *scenario = after);
        Ok(())
    }

    fn install(self, scenario: Scenario) {
        // Only a valid document reaches the simulator: "Run" always runs what
        // the validator accepted, and an invalid one keeps the last good run.
        if validate(&scenario).is_empty() {
            let _ = self.driver.load(&scenario);
        }
        self.prune_selection(&scenario);
        self.set_document.set(Some(scenario));
    }

    fn prune_selection(self, scenario: &Scenario) {
        let selection = self.selection.get_untracked();
        let mut pruned = selection.clone();
        pruned
            .nodes
            .retain(|id| scenario.topology.nodes.iter().any(|node| &node.id == id));
        pruned.link = pruned
            .link
            .filter(|index| *index < scenario.topology.links.len());
        pruned.zone = pruned
            .zone
            .filter(|id| scenario.topology.zones.iter().any(|zone| &zone.id == id));
        if pruned != selection {
            self.set_selection.set(pruned);
        }
    }

    fn sync_history_labels(self) {
        let labels = self.history.with_value(|history| {
            (
                history.undo_label().map(str::to_string),
                history.redo_label().map(str::to_string),
            )
        });
        self.set_history_labels.set(labels);
    }

    pub fn undo(self) {
        let Some(current) = self.document.get_untracked() else {
            return;
        };
        let step = self
            .history
            .try_update_value(|history| history.undo(current))
            .flatten();
        if let Some((label, before)) = step {
            self.install(before);
            self.sync_history_labels();
            self.notify(format!("Undid: {label}"), false);
        }
    }

    pub fn redo(self) {
        let Some(current) = self.document.get_untracked() else {
            return;
        };
        let step = self
            .history
            .try_update_value(|history| history.redo(current))
            .flatten();
        if let Some((label, after)) = step {
            self.install(after);
            self.sync_history_labels();
            self.notify(format!("Redid: {label}"), false);
        }
    }

    // ---- selection --------------------------------------------------------

    pub fn select(self, selection: Selection) {
        self.set_selection.set(selection);
    }

    /// Click: select only `id`; shift-click: toggle it in the selection.
    pub fn click_node(self, id: &str, extend: bool) {
        self.set_selection.update(|selection| {
            if extend {
                selection.link = None;
                selection.zone = None;
                if !selection.nodes.remove(id) {
                    selection.nodes.insert(id.to_string());
                }
            } else if !selection.nodes.contains(id) {
                *selection = Selection::nodes([id.to_string()]);
            }
        });
    }

    pub fn select_all(self) {
        let ids = self.document.with_untracked(|document| {
            document
                .iter()
                .flat_map(|scenario| scenario.topology.nodes.iter().map(|node| node.id.clone()))
                .collect::<Vec<_>>()
        });
        self.set_selection.set(Selection::nodes(ids));
    }

    // ---- nodes ------------------------------------------------------------

    /// Places a new `kind` node centred at (`x`, `y`) and selects it.
    pub fn add_node(self, kind: &str, x: f64, y: f64) {
        let Some(properties) = self.catalog.with_value(|catalog| {
            catalog
                .iter()
                .find(|entry| entry.kind == kind)
                .map(|entry| entry.starter_properties.clone())
        }) else {
            return;
        };
        let Ok(spec) = spec_from_json(kind, properties) else {
            self.notify(
                format!("cannot place a {kind}: its defaults do not load"),
                true,
            );
            return;
        };
        let (x, y) = self.snapped(x, y);
        let mut new_id = String::new();
        self.edit(&format!("Add {}", kind.replace('_', " ")), |scenario| {
            let (id, number) = unique_id(scenario, kind);
            scenario.topology.nodes.push(Node {
                id: id.clone(),
                label: format!("{} {number}", title_case(kind)),
                position: Position { x, y },
                spec,
            });
            new_id = id;
        });
        if !new_id.is_empty() {
            self.set_selection.set(Selection::nodes([new_id]));
        }
    }

    pub fn snapped(self, x: f64, y: f64) -> (f64, f64) {
        if self.snap_to_grid.get_untracked() {
            (
                (x / GRID_PX).round() * GRID_PX,
                (y / GRID_PX).round() * GRID_PX,
            )
        } else {
            (x, y)
        }
    }

    pub fn move_nodes(self, ids: &BTreeSet<String>, dx: f64, dy: f64) {
        if dx == 0.0 && dy == 0.0 {
            return;
        }
        // Membership follows where the nodes were dropped (see `zones`), so
        // the label says when a zone was joined or left.
        let mut moved_scenario = None;
        if let Some(mut scenario) = self.document.get_untracked() {
            for node in &mut scenario.topology.nodes {
                if ids.contains(&node.id) {
                    node.position.x += dx;
                    node.position.y += dy;
                }
            }
            let rezoned = zones::reassign_dropped_nodes(&mut scenario, ids);
            moved_scenario = Some((scenario, rezoned));
        }
        let Some((after, rezoned)) = moved_scenario else {
            return;
        };
        let label = match (ids.len() == 1, rezoned) {
            (true, false) => "Move node",
            (false, false) => "Move nodes",
            (true, true) => "Move node and change its zone",
            (false, true) => "Move nodes and change their zones",
        };
        self.edit(label, move |scenario| *scenario = after);
    }

    pub fn set_node_label(self, id: &str, label: String) {
        self.edit("Rename node", |scenario| {
            if let Some(node) = scenario
                .topology
                .nodes
                .iter_mut()
                .find(|node| node.id == id)
            {
                node.label = label;
            }
        });
    }

    /// Sets (or, with `None`, removes so the default applies) one property on
    /// every node in `ids`; refused with the engine's message if the result
    /// does not deserialize.
    pub fn set_node_property(
        self,
        ids: &BTreeSet<String>,
        field: &str,
        value: Option<Value>,
    ) -> Result<(), String> {
        self.try_edit(&format!("Edit {}", field.replace('_', " ")), |scenario| {
            for node in &mut scenario.topology.nodes {
                if !ids.contains(&node.id) {
                    continue;
                }
                let kind = node.spec.kind_name();
                let mut properties = properties_json(&node.spec);
                if let Value::Object(object) = &mut properties {
                    match &value {
                        Some(value) => {
                            object.insert(field.to_string(), value.clone());
                        }
                        None => {
                            object.remove(field);
                        }
                    }
                }
                node.spec = spec_from_json(kind, properties)?;
            }
            Ok(())
        })
    }

    pub fn delete_selection(self) {
        let selection = self.selection.get_untracked();
        if selection.is_empty() {
            return;
        }
        self.edit("Delete", |scenario| {
            let topology = &mut scenario.topology;
            if let Some(index) = selection.link
                && index < topology.links.len()
            {
                topology.links.remove(index);
            }
            if let Some(zone_id) = &selection.zone {
                topology.zones.retain(|zone| &zone.id != zone_id);
            }
            topology
                .nodes
                .retain(|node| !selection.nodes.contains(&node.id));
            topology.links.retain(|link| {
                !selection.nodes.contains(&link.from) && !selection.nodes.contains(&link.to)
            });
            for zone in &mut topology.zones {
                zone.nodes.retain(|id| !selection.nodes.contains(id));
            }
            topology.zones.retain(|zone| !zone.nodes.is_empty());
        });
        self.set_selection.set(Selection::default());
    }

    /// The selected nodes and the links among them, as a scenario document
    /// (what copy puts on the clipboard).
    pub fn selection_as_scenario(self) -> Option<Scenario> {
        let selection = self.selection.get_untracked();
        if selection.nodes.is_empty() {
            return None;
        }
        let mut fragment = self.document.get_untracked()?;
        let topology = &mut fragment.topology;
        topology
            .nodes
            .retain(|node| selection.nodes.contains(&node.id));
        topology.links.retain(|link| {
            selection.nodes.contains(&link.from) && selection.nodes.contains(&link.to)
        });
        for zone in &mut topology.zones {
            zone.nodes.retain(|id| selection.nodes.contains(id));
        }
        topology.zones.retain(|zone| !zone.nodes.is_empty());
        fragment.workload = Default::default();
        fragment.faults = Default::default();
        fragment.expectations.clear();
        Some(fragment)
    }

    /// Adds the nodes, links and zones of `fragment` (renaming ids that are
    /// taken), offset from where they were, and selects them.
    pub fn paste(self, fragment: Scenario, label: &str) {
        let mut pasted = Vec::new();
        self.edit(label, |scenario| {
            let mut renamed: BTreeMap<String, String> = BTreeMap::new();
            for node in &fragment.topology.nodes {
                let id = if scenario.node_index(&node.id).is_some() {
                    unique_id(scenario, node.spec.kind_name()).0
                } else {
                    node.id.clone()
                };
                renamed.insert(node.id.clone(), id.clone());
                let mut copy = node.clone();
                copy.id = id.clone();
                copy.position.x += PASTE_OFFSET_PX;
                copy.position.y += PASTE_OFFSET_PX;
                scenario.topology.nodes.push(copy);
                pasted.push(id);
            }
            for link in &fragment.topology.links {
                if let (Some(from), Some(to)) = (renamed.get(&link.from), renamed.get(&link.to)) {
                    let mut copy = link.clone();
                    copy.id = None;
                    copy.from = from.clone();
                    copy.to = to.clone();
                    scenario.topology.links.push(copy);
                }
            }
        });
        self.set_selection.set(Selection::nodes(pasted));
    }

    pub fn duplicate_selection(self) {
        if let Some(fragment) = self.selection_as_scenario() {
            self.paste(fragment, "Duplicate");
        }
    }

    // ---- links ------------------------------------------------------------

    /// Adds a link `from` → `to` unless one already exists; selects it.
    pub fn connect(self, from: &str, to: &str, kind: LinkKind) {
        if from == to {
            return;
        }
        let exists = self.document.with_untracked(|document| {
            document.as_ref().is_some_and(|scenario| {
                scenario
                    .topology
                    .links
                    .iter()
                    .any(|link| link.from == from && link.to == to)
            })
        });
        if exists {
            self.notify(format!("{from} → {to} is already linked"), false);
            return;
        }
        let mut index = 0;
        self.edit("Connect", |scenario| {
            scenario.topology.links.push(Link {
                id: None,
                from: from.to_string(),
                to: to.to_string(),
                kind,
                label: String::new(),
                network: Default::default(),
            });
            index = scenario.topology.links.len() - 1;
        });
        self.set_selection.set(Selection {
            link: Some(index),
            ..Selection::default()
        });
    }

    pub fn edit_link(self, index: usize, label: &str, change: impl FnOnce(&mut Link)) {
        self.edit(label, |scenario| {
            if let Some(link) = scenario.topology.links.get_mut(index) {
                change(link);
            }
        });
    }

    /// Sets one field of a link's `network` (or removes it: default applies).
    pub fn set_link_network_field(
        self,
        index: usize,
        field: &str,
        value: Option<Value>,
    ) -> Result<(), String> {
        self.try_edit(
            &format!("Edit link {}", field.replace('_', " ")),
            |scenario| {
                let link = scenario
                    .topology
                    .links
                    .get_mut(index)
                    .ok_or("the link no longer exists")?;
                let mut network = serde_json::to_value(&link.network).map_err(|e| e.to_string())?;
                if let Value::Object(object) = &mut network {
                    match value {
                        Some(value) => {
                            object.insert(field.to_string(), value);
                        }
                        None => {
                            object.remove(field);
                        }
                    }
                }
                link.network =
                    serde_json::from_value(network).map_err(|error| clarify(&error.to_string()))?;
                Ok(())
            },
        )
    }

    // ---- zones ------------------------------------------------------------

    /// Groups the selected nodes into a new zone (they leave other zones).
    pub fn group_selection_into_zone(self) {
        let selection = self.selection.get_untracked();
        if selection.nodes.is_empty() {
            self.notify("Select the nodes to group first", false);
            return;
        }
        let mut zone_id = String::new();
        self.edit("Group into zone", |scenario| {
            let mut number = scenario.topology.zones.len() + 1;
            while scenario
                .topology
                .zones
                .iter()
                .any(|zone| zone.id == format!("zone-{number}"))
            {
                number += 1;
            }
            for zone in &mut scenario.topology.zones {
                zone.nodes.retain(|id| !selection.nodes.contains(id));
            }
            scenario
                .topology
                .zones
                .retain(|zone| !zone.nodes.is_empty());
            zone_id = format!("zone-{number}");
            // Document order, so the zone lists nodes as the topology does.
            let members = scenario
                .topology
                .nodes
                .iter()
                .filter(|node| selection.nodes.contains(&node.id))
                .map(|node| node.id.clone())
                .collect();
            scenario.topology.zones.push(Zone {
                id: zone_id.clone(),
                label: format!("Zone {number}"),
                nodes: members,
            });
        });
        self.set_selection.set(Selection {
            zone: Some(zone_id),
            ..Selection::default()
        });
    }

    pub fn ungroup_zone(self, zone_id: &str) {
        self.edit("Ungroup zone", |scenario| {
            scenario.topology.zones.retain(|zone| zone.id != zone_id);
        });
    }

    pub fn set_zone_label(self, zone_id: &str, label: String) {
        self.edit("Rename zone", |scenario| {
            if let Some(zone) = scenario
                .topology
                .zones
                .iter_mut()
                .find(|zone| zone.id == zone_id)
            {
                zone.label = label;
            }
        });
    }

    // ---- layout and view --------------------------------------------------

    /// How links are drawn (saved in the scenario's `layout`).
    pub fn link_routing(self) -> LinkRouting {
        self.document.with(|document| {
            document
                .as_ref()
                .map(|scenario| scenario.layout.link_routing)
                .unwrap_or_default()
        })
    }

    pub fn set_link_routing(self, routing: LinkRouting) {
        let label = match routing {
            LinkRouting::Orthogonal => "Route links at right angles",
            LinkRouting::Curved => "Draw links as curves",
        };
        self.edit(label, |scenario| scenario.layout.link_routing = routing);
    }

    pub fn tidy(self) {
        self.edit("Tidy layout", apply_layered_layout);
        self.fit_view();
    }

    /// Fits the whole drawing in the canvas (at most 100 %).
    pub fn fit_view(self) {
        let Some((width, height)) = canvas_size() else {
            return;
        };
        let bounds = self
            .document
            .with_untracked(|document| document.as_ref().and_then(drawing_bounds));
        let Some((min_x, min_y, max_x, max_y)) = bounds else {
            self.set_viewport.set(Viewport {
                x: width / 2.0,
                y: height / 2.0,
                zoom: 1.0,
            });
            return;
        };
        let margin = 48.0;
        let zoom = ((width - 2.0 * margin) / (max_x - min_x).max(1.0))
            .min((height - 2.0 * margin) / (max_y - min_y).max(1.0))
            .clamp(MIN_ZOOM, 1.0);
        self.set_viewport.set(Viewport {
            x: width / 2.0 - (min_x + max_x) / 2.0 * zoom,
            y: height / 2.0 - (min_y + max_y) / 2.0 * zoom,
            zoom,
        });
    }

    pub fn zoom_by(self, factor: f64) {
        let (width, height) = canvas_size().unwrap_or((800.0, 600.0));
        self.set_viewport
            .update(|viewport| *viewport = viewport.zoomed_at(factor, width / 2.0, height / 2.0));
    }

    pub fn centre_on(self, world_x: f64, world_y: f64) {
        let (width, height) = canvas_size().unwrap_or((800.0, 600.0));
        self.set_viewport.update(|viewport| {
            viewport.x = width / 2.0 - world_x * viewport.zoom;
            viewport.y = height / 2.0 - world_y * viewport.zoom;
        });
    }
}

/// Node boxes are drawn this big around their centre (see the canvas).
pub const NODE_WIDTH_PX: f64 = 176.0;
pub const NODE_HEIGHT_PX: f64 = 94.0;

/// (min x, min y, max x, max y) of every node box, in world units.
pub fn drawing_bounds(scenario: &Scenario) -> Option<(f64, f64, f64, f64)> {
    let nodes = &scenario.topology.nodes;
    if nodes.is_empty() {
        return None;
    }
    let mut bounds = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for node in nodes {
        bounds.0 = bounds.0.min(node.position.x - NODE_WIDTH_PX / 2.0);
        bounds.1 = bounds.1.min(node.position.y - NODE_HEIGHT_PX / 2.0 - 40.0);
        bounds.2 = bounds.2.max(node.position.x + NODE_WIDTH_PX / 2.0);
        bounds.3 = bounds.3.max(node.position.y + NODE_HEIGHT_PX / 2.0);
    }
    Some(bounds)
}

fn canvas_size() -> Option<(f64, f64)> {
    let element = document().query_selector("[data-testid=canvas]").ok()??;
    let rect = element.get_bounding_client_rect();
    (rect.width() > 0.0).then(|| (rect.width(), rect.height()))
}

fn apply_layered_layout(scenario: &mut Scenario) {
    let topology = &mut scenario.topology;
    let index_of: BTreeMap<&str, usize> = topology
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| (node.id.as_str(), index))
        .collect();
    let edges: Vec<(usize, usize)> = topology
        .links
        .iter()
        .filter_map(|link| {
            Some((
                *index_of.get(link.from.as_str())?,
                *index_of.get(link.to.as_str())?,
            ))
        })
        .collect();
    let positions = autolayout::layered_positions(topology.nodes.len(), &edges);
    for (node, (x, y)) in topology.nodes.iter_mut().zip(positions) {
        node.position = Position { x, y };
    }
}

/// The `properties` object of a spec, as JSON.
pub fn properties_json(spec: &ComponentSpec) -> Value {
    serde_json::to_value(spec)
        .ok()
        .and_then(|tagged| tagged.get("properties").cloned())
        .unwrap_or_else(|| Value::Object(Default::default()))
}

fn spec_from_json(kind: &str, properties: Value) -> Result<ComponentSpec, String> {
    serde_json::from_value(serde_json::json!({"kind": kind, "properties": properties}))
        .map_err(|error| clarify(&error.to_string()))
}

/// serde's messages, in JSON words rather than Rust ones.
fn clarify(message: &str) -> String {
    message
        .replace("expected u64", "expected a non-negative whole number")
        .replace("expected u32", "expected a non-negative whole number")
        .replace("expected f64", "expected a number")
}

/// `kind-N` with the smallest N not yet used, and N.
fn unique_id(scenario: &Scenario, kind: &str) -> (String, usize) {
    let stem = kind.replace('_', "-");
    let mut number = 1;
    loop {
        let id = format!("{stem}-{number}");
        if scenario.node_index(&id).is_none() {
            return (id, number);
        }
        number += 1;
    }
}

/// `kafka_broker` → `Kafka broker`.
pub fn title_case(kind: &str) -> String {
    let words = kind.replace('_', " ");
    let mut characters = words.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// Which node (index) a problem's JSON path points into, if any.
pub fn problem_node_index(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("topology.nodes[")?;
    rest.split(']').next()?.parse().ok()
}

/// Which link (index) a problem's JSON path points into, if any.
pub fn problem_link_index(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("topology.links[")?;
    rest.split(']').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_paths_map_to_nodes_and_links() {
        assert_eq!(
            problem_node_index("topology.nodes[12].properties.workers"),
            Some(12)
        );
        assert_eq!(problem_link_index("topology.links[3].to"), Some(3));
        assert_eq!(problem_node_index("run.seed"), None);
    }

    #[test]
    fn zoom_keeps_the_point_under_the_cursor() {
        let viewport = Viewport {
            x: 10.0,
            y: 20.0,
            zoom: 1.0,
        };
        let before = viewport.to_world(300.0, 200.0);
        let after = viewport.zoomed_at(2.0, 300.0, 200.0).to_world(300.0, 200.0);
        assert!((before.0 - after.0).abs() < 1e-9 && (before.1 - after.1).abs() < 1e-9);
    }

    #[test]
    fn titles_read_as_words() {
        assert_eq!(title_case("kafka_broker"), "Kafka broker");
    }
}
