//! Link routing on the canvas: curved (cubic Bézier) links that leave and
//! enter node boxes through the side facing the other node, so links fan out
//! from box edges instead of crossing box interiors, plus their label point.

use crate::editor::{NODE_HEIGHT_PX, NODE_WIDTH_PX};

/// The arrowhead stops this far from the target box.
const ARROW_GAP_PX: f64 = 5.0;
/// Links between the same two nodes in opposite directions are this far apart.
pub const PARALLEL_OFFSET_PX: f64 = 10.0;
/// Curves bend at least this much, so short links still read as curves.
const MIN_BEND_PX: f64 = 40.0;

#[derive(Clone, Debug, PartialEq)]
pub struct LinkRoute {
    /// SVG path data.
    pub path: String,
    pub label_x: f64,
    pub label_y: f64,
}

/// The route from the box centred at `from` to the box centred at `to`;
/// `None` when the boxes overlap (nothing sensible to draw).
pub fn route(from: (f64, f64), to: (f64, f64), offset_px: f64) -> Option<LinkRoute> {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    if dx.abs() < NODE_WIDTH_PX && dy.abs() < NODE_HEIGHT_PX {
        return None;
    }
    // Compare in box-normalised units so wide boxes prefer side exits.
    let horizontal = dx.abs() / NODE_WIDTH_PX >= dy.abs() / NODE_HEIGHT_PX;
    let (start, end, control_start, control_end) = if horizontal {
        let sign = dx.signum();
        let start = (from.0 + sign * NODE_WIDTH_PX / 2.0, from.1 + offset_px);
        let end = (
            to.0 - sign * (NODE_WIDTH_PX / 2.0 + ARROW_GAP_PX),
            to.1 + offset_px,
        );
        let bend = ((end.0 - start.0).abs() / 2.0).max(MIN_BEND_PX);
        (
            start,
            end,
            (start.0 + sign * bend, start.1),
            (end.0 - sign * bend, end.1),
        )
    } else {
        let sign = dy.signum();
        let start = (from.0 + offset_px, from.1 + sign * NODE_HEIGHT_PX / 2.0);
        let end = (
            to.0 + offset_px,
            to.1 - sign * (NODE_HEIGHT_PX / 2.0 + ARROW_GAP_PX),
        );
        let bend = ((end.1 - start.1).abs() / 2.0).max(MIN_BEND_PX);
        (
            start,
            end,
            (start.0, start.1 + sign * bend),
            (end.0, end.1 - sign * bend),
        )
    };
    // Bézier midpoint (t = 1/2).
    let label_x = (start.0 + 3.0 * control_start.0 + 3.0 * control_end.0 + end.0) / 8.0;
    let label_y = (start.1 + 3.0 * control_start.1 + 3.0 * control_end.1 + end.1) / 8.0;
    Some(LinkRoute {
        path: format!(
            "M{:.1} {:.1} C{:.1} {:.1} {:.1} {:.1} {:.1} {:.1}",
            start.0,
            start.1,
            control_start.0,
            control_start.1,
            control_end.0,
            control_end.1,
            end.0,
            end.1
        ),
        label_x,
        label_y,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_by_side_boxes_link_from_right_edge_to_left_edge() {
        let route = route((0.0, 0.0), (400.0, 0.0), 0.0).unwrap();
        assert!(route.path.starts_with("M88.0 0.0"), "{}", route.path);
        assert!(route.path.ends_with("307.0 0.0"), "{}", route.path);
        assert_eq!(route.label_y, 0.0);
    }

    #[test]
    fn stacked_boxes_link_bottom_to_top() {
        let route = route((0.0, 0.0), (0.0, 300.0), 0.0).unwrap();
        assert!(route.path.starts_with("M0.0 47.0"), "{}", route.path);
    }

    #[test]
    fn overlapping_boxes_draw_no_link() {
        assert!(route((0.0, 0.0), (50.0, 10.0), 0.0).is_none());
    }
}
