//! Canvas geometry for a scenario: node boxes at their stored positions, link
//! endpoints clipped to the boxes, zone outlines and the SVG viewBox.
//!
//! Pure presentation: positions come from the file unchanged; nothing here
//! moves a node or knows what a node does.

use crate::format;
use faultline_engine::Scenario;
use faultline_engine::scenario::LinkKind;
use std::collections::{BTreeMap, BTreeSet};

pub const NODE_WIDTH_PX: f64 = 176.0;
pub const NODE_HEIGHT_PX: f64 = 94.0;
/// Space between a zone outline and the boxes inside it (more on top, for the label).
const ZONE_PADDING_PX: f64 = 18.0;
const ZONE_LABEL_SPACE_PX: f64 = 22.0;
/// Empty space around the drawing.
const CANVAS_MARGIN_PX: f64 = 40.0;
/// Small drawings are not blown up past this scale: the viewBox is at least this big.
const MIN_VIEW_WIDTH_PX: f64 = 840.0;
const MIN_VIEW_HEIGHT_PX: f64 = 420.0;
/// The arrowhead stops this far from the target box.
const ARROW_GAP_PX: f64 = 4.0;
/// Two links between the same nodes in opposite directions are drawn this far apart.
const PARALLEL_OFFSET_PX: f64 = 8.0;
/// Link labels sit this far off the line.
const LABEL_OFFSET_PX: f64 = 10.0;
/// Longest label drawn in full inside a node box; the accessible name keeps all of it.
const MAX_NODE_LABEL_CHARS: usize = 17;

/// Everything the canvas draws for one scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub view_box: String,
    pub zones: Vec<ZoneShape>,
    pub links: Vec<LinkShape>,
    pub nodes: Vec<NodeShape>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NodeShape {
    /// Position in `topology.nodes` (and in the engine's snapshot).
    pub index: usize,
    pub id: String,
    pub label: String,
    /// The label, shortened to fit the box.
    pub short_label: String,
    pub kind: &'static str,
    /// Top-left corner of the box.
    pub left_px: f64,
    pub top_px: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LinkShape {
    pub index: usize,
    pub from: String,
    pub to: String,
    pub kind: &'static str,
    pub label: String,
    pub start: Point,
    pub end: Point,
    pub label_at: Point,
    pub label_anchor: &'static str,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ZoneShape {
    pub id: String,
    pub label: String,
    pub left_px: f64,
    pub top_px: f64,
    pub width_px: f64,
    pub height_px: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// Axis-aligned bounds, grown point by point.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    min: Point,
    max: Point,
}

impl Bounds {
    fn empty() -> Bounds {
        Bounds {
            min: Point {
                x: f64::INFINITY,
                y: f64::INFINITY,
            },
            max: Point {
                x: f64::NEG_INFINITY,
                y: f64::NEG_INFINITY,
            },
        }
    }

    fn include_box(&mut self, left: f64, top: f64, width: f64, height: f64) {
        self.min.x = self.min.x.min(left);
        self.min.y = self.min.y.min(top);
        self.max.x = self.max.x.max(left + width);
        self.max.y = self.max.y.max(top + height);
    }

    fn is_empty(&self) -> bool {
        self.min.x > self.max.x
    }
}

pub fn link_kind_name(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::SyncCall => "sync_call",
        LinkKind::AsyncMessage => "async_message",
        LinkKind::Replication => "replication",
        LinkKind::Network => "network",
    }
}

impl Layout {
    pub fn new(scenario: &Scenario) -> Layout {
        let topology = &scenario.topology;
        let centres: Vec<Point> = topology
            .nodes
            .iter()
            .map(|node| Point {
                x: finite_or_zero(node.position.x),
                y: finite_or_zero(node.position.y),
            })
            .collect();
        let centre_by_id: BTreeMap<&str, Point> = topology
            .nodes
            .iter()
            .map(|node| node.id.as_str())
            .zip(centres.iter().copied())
            .collect();
        let centre_of = |id: &str| centre_by_id.get(id).copied();

        let nodes: Vec<NodeShape> = topology
            .nodes
            .iter()
            .zip(&centres)
            .enumerate()
            .map(|(index, (node, centre))| NodeShape {
                index,
                id: node.id.clone(),
                label: node.label.clone(),
                short_label: format::shorten(&node.label, MAX_NODE_LABEL_CHARS),
                kind: node.spec.kind_name(),
                left_px: centre.x - NODE_WIDTH_PX / 2.0,
                top_px: centre.y - NODE_HEIGHT_PX / 2.0,
            })
            .collect();

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
                let has_reverse = pairs.contains(&(link.to.as_str(), link.from.as_str()));
                let offset_px = if has_reverse { PARALLEL_OFFSET_PX } else { 0.0 };
                let (start, end, label_at, label_anchor) = link_geometry(from, to, offset_px)?;
                Some(LinkShape {
                    index,
                    from: link.from.clone(),
                    to: link.to.clone(),
                    kind: link_kind_name(link.kind),
                    label: link.label.clone(),
                    start,
                    end,
                    label_at,
                    label_anchor,
                })
            })
            .collect();

        let zones: Vec<ZoneShape> = topology
            .zones
            .iter()
            .filter_map(|zone| {
                let mut bounds = Bounds::empty();
                for centre in zone.nodes.iter().filter_map(|id| centre_of(id)) {
                    bounds.include_box(
                        centre.x - NODE_WIDTH_PX / 2.0,
                        centre.y - NODE_HEIGHT_PX / 2.0,
                        NODE_WIDTH_PX,
                        NODE_HEIGHT_PX,
                    );
                }
                (!bounds.is_empty()).then(|| ZoneShape {
                    id: zone.id.clone(),
                    label: if zone.label.is_empty() {
                        zone.id.clone()
                    } else {
                        zone.label.clone()
                    },
                    left_px: bounds.min.x - ZONE_PADDING_PX,
                    top_px: bounds.min.y - ZONE_PADDING_PX - ZONE_LABEL_SPACE_PX,
                    width_px: bounds.max.x - bounds.min.x + 2.0 * ZONE_PADDING_PX,
                    height_px: bounds.max.y - bounds.min.y
                        + 2.0 * ZONE_PADDING_PX
                        + ZONE_LABEL_SPACE_PX,
                })
            })
            .collect();

        let mut bounds = Bounds::empty();
        for node in &nodes {
            bounds.include_box(node.left_px, node.top_px, NODE_WIDTH_PX, NODE_HEIGHT_PX);
        }
        for zone in &zones {
            bounds.include_box(zone.left_px, zone.top_px, zone.width_px, zone.height_px);
        }
        Layout {
            view_box: view_box(bounds),
            zones,
            links,
            nodes,
        }
    }
}

/// The viewBox: the drawing plus a margin, centred in at least the minimum size.
fn view_box(bounds: Bounds) -> String {
    if bounds.is_empty() {
        return format!("0 0 {MIN_VIEW_WIDTH_PX} {MIN_VIEW_HEIGHT_PX}");
    }
    let width = (bounds.max.x - bounds.min.x + 2.0 * CANVAS_MARGIN_PX).max(MIN_VIEW_WIDTH_PX);
    let height = (bounds.max.y - bounds.min.y + 2.0 * CANVAS_MARGIN_PX).max(MIN_VIEW_HEIGHT_PX);
    let centre_x = (bounds.min.x + bounds.max.x) / 2.0;
    let centre_y = (bounds.min.y + bounds.max.y) / 2.0;
    format!(
        "{:.1} {:.1} {:.1} {:.1}",
        centre_x - width / 2.0,
        centre_y - height / 2.0,
        width,
        height
    )
}

/// Line from the edge of the `from` box to just before the edge of the `to`
/// box, shifted sideways by `offset_px`; plus where its label goes. `None`
/// when the boxes share a centre (nothing sensible to draw).
fn link_geometry(
    from: Point,
    to: Point,
    offset_px: f64,
) -> Option<(Point, Point, Point, &'static str)> {
    let dx = to.x - from.x;
    let dy = to.y - from.y;
    let length = dx.hypot(dy);
    if length < 1.0 {
        return None;
    }
    // Unit normal, chosen to point up (or right for vertical lines), so the
    // label sits on a consistent side.
    let (mut normal_x, mut normal_y) = (-dy / length, dx / length);
    if normal_y > 0.0 || (normal_y == 0.0 && normal_x < 0.0) {
        normal_x = -normal_x;
        normal_y = -normal_y;
    }
    // Parallel links shift to their own right-hand side, so A→B and B→A separate.
    let (side_x, side_y) = (-dy / length * offset_px, dx / length * offset_px);
    let exit = box_exit_fraction(dx, dy);
    let gap = ARROW_GAP_PX / length;
    if 2.0 * exit + gap >= 1.0 {
        // The boxes overlap: draw nothing rather than a backwards arrow.
        return None;
    }
    let start = Point {
        x: from.x + dx * exit + side_x,
        y: from.y + dy * exit + side_y,
    };
    let end = Point {
        x: to.x - dx * (exit + gap) + side_x,
        y: to.y - dy * (exit + gap) + side_y,
    };
    let middle = Point {
        x: (start.x + end.x) / 2.0,
        y: (start.y + end.y) / 2.0,
    };
    let label_at = Point {
        x: middle.x + normal_x * LABEL_OFFSET_PX,
        y: middle.y + normal_y * LABEL_OFFSET_PX,
    };
    let label_anchor = if normal_x > 0.7 {
        "start"
    } else if normal_x < -0.7 {
        "end"
    } else {
        "middle"
    };
    Some((start, end, label_at, label_anchor))
}

/// Fraction of the centre-to-centre vector at which it leaves a node box.
fn box_exit_fraction(dx: f64, dy: f64) -> f64 {
    let along_x = if dx == 0.0 {
        f64::INFINITY
    } else {
        NODE_WIDTH_PX / 2.0 / dx.abs()
    };
    let along_y = if dy == 0.0 {
        f64::INFINITY
    } else {
        NODE_HEIGHT_PX / 2.0 / dy.abs()
    };
    along_x.min(along_y)
}

fn finite_or_zero(value: f64) -> f64 {
    if value.is_finite() { value } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizontal_link_runs_between_box_edges() {
        let (start, end, label_at, anchor) =
            link_geometry(Point { x: 0.0, y: 0.0 }, Point { x: 400.0, y: 0.0 }, 0.0).unwrap();
        assert_eq!(
            start,
            Point {
                x: NODE_WIDTH_PX / 2.0,
                y: 0.0
            }
        );
        assert_eq!(end.x, 400.0 - NODE_WIDTH_PX / 2.0 - ARROW_GAP_PX);
        assert!(label_at.y < 0.0, "label above the line");
        assert_eq!(anchor, "middle");
    }

    #[test]
    fn overlapping_boxes_draw_no_link() {
        assert!(link_geometry(Point { x: 0.0, y: 0.0 }, Point { x: 50.0, y: 0.0 }, 0.0).is_none());
    }
}
