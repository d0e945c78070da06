//! Orthogonal link routing around node boxes: horizontal and vertical
//! segments from the side of one box facing the other to the facing side of
//! the other, avoiding every box near the way, with few bends.
//!
//! The route is a shortest path (A*, petgraph's) over a sparse orthogonal
//! visibility grid: the grid's lines are the edges of the (padded) boxes near
//! the two ends plus the two port stubs, its points are the crossings outside
//! every box, and its edges join neighbouring points when the segment between
//! them stays clear of every box. Each grid point exists twice, once per
//! direction of travel, and turning costs `BEND_PENALTY_PX`, so among short
//! routes the one with fewest bends wins (Wybrow, Marriott & Stuckey,
//! "Orthogonal connector routing", GD 2009, without their nudging step).
//!
//! The work per link is bounded: only boxes inside the rectangle spanned by
//! the two ends (plus `REGION_MARGIN_PX`) are obstacles, at most
//! `MAX_OBSTACLES` of them, so a 300-node diagram routes each link over a few
//! dozen grid lines. When no clear route exists inside that region (a box
//! walled in by others), the link falls back to a plain elbow.

use super::geometry::LinkRoute;
use crate::editor::{NODE_HEIGHT_PX, NODE_WIDTH_PX};
use petgraph::algo::astar;
use petgraph::graph::{NodeIndex, UnGraph};

/// Links keep this far from every box they pass.
const BOX_PADDING_PX: f64 = 14.0;
/// A link leaves and enters a box straight for this long before turning.
const PORT_STUB_PX: f64 = BOX_PADDING_PX + 10.0;
/// The arrowhead stops this far from the target box.
const ARROW_GAP_PX: f64 = 5.0;
/// A bend costs as much as this much extra length.
const BEND_PENALTY_PX: f64 = 60.0;
/// Boxes this far beyond the rectangle spanned by the two ends can still be
/// walked around; farther ones are ignored.
const REGION_MARGIN_PX: f64 = 2.0 * NODE_HEIGHT_PX;
/// At most this many boxes are obstacles for one link (the nearest to the
/// middle of the link): with a middle line per channel, the grid has at most
/// about (4·24 + 4)² points.
const MAX_OBSTACLES: usize = 24;

/// An axis-aligned rectangle: (left, top, right, bottom).
type Rect = (f64, f64, f64, f64);

fn padded_box(centre: (f64, f64)) -> Rect {
    (
        centre.0 - NODE_WIDTH_PX / 2.0 - BOX_PADDING_PX,
        centre.1 - NODE_HEIGHT_PX / 2.0 - BOX_PADDING_PX,
        centre.0 + NODE_WIDTH_PX / 2.0 + BOX_PADDING_PX,
        centre.1 + NODE_HEIGHT_PX / 2.0 + BOX_PADDING_PX,
    )
}

fn strictly_inside(rect: &Rect, x: f64, y: f64) -> bool {
    x > rect.0 + 1e-6 && x < rect.2 - 1e-6 && y > rect.1 + 1e-6 && y < rect.3 - 1e-6
}

/// Which side of a box a link leaves or enters by: unit vector outwards.
fn facing_side(from: (f64, f64), to: (f64, f64)) -> (f64, f64) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    if dx.abs() / NODE_WIDTH_PX >= dy.abs() / NODE_HEIGHT_PX {
        (dx.signum(), 0.0)
    } else {
        (0.0, dy.signum())
    }
}

/// The point on a box's side `side`, moved `offset_px` along that side (so
/// links in both directions between two boxes run side by side).
fn port(centre: (f64, f64), side: (f64, f64), offset_px: f64) -> (f64, f64) {
    if side.1 == 0.0 {
        (
            centre.0 + side.0 * NODE_WIDTH_PX / 2.0,
            centre.1 + offset_px,
        )
    } else {
        (
            centre.0 + offset_px,
            centre.1 + side.1 * NODE_HEIGHT_PX / 2.0,
        )
    }
}

/// The route from the box centred at `from` to the box centred at `to`
/// around the boxes centred at `others` (which may include the two ends;
/// they are recognised and skipped); `None` when the two boxes overlap.
pub fn orthogonal_route(
    from: (f64, f64),
    to: (f64, f64),
    offset_px: f64,
    others: &[(f64, f64)],
) -> Option<LinkRoute> {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    if dx.abs() < NODE_WIDTH_PX && dy.abs() < NODE_HEIGHT_PX {
        return None;
    }
    let start_side = facing_side(from, to);
    let end_side = facing_side(to, from);
    let start = port(from, start_side, offset_px);
    let end_port = port(to, end_side, offset_px);
    let end = (
        end_port.0 + end_side.0 * ARROW_GAP_PX,
        end_port.1 + end_side.1 * ARROW_GAP_PX,
    );
    let start_stub = (
        start.0 + start_side.0 * PORT_STUB_PX,
        start.1 + start_side.1 * PORT_STUB_PX,
    );
    let end_stub = (
        end_port.0 + end_side.0 * PORT_STUB_PX,
        end_port.1 + end_side.1 * PORT_STUB_PX,
    );
    let obstacles = obstacles_near(from, to, start_stub, end_stub, others);
    let middle = grid_route(start_stub, start_side, end_stub, end_side, &obstacles)
        .unwrap_or_else(|| elbow(start_stub, start_side, end_stub));
    let mut points = Vec::with_capacity(middle.len() + 2);
    points.push(start);
    points.extend(middle);
    points.push(end);
    Some(polyline_route(&simplify(points)))
}

/// The padded boxes of the two ends and of the other boxes within reach.
fn obstacles_near(
    from: (f64, f64),
    to: (f64, f64),
    start_stub: (f64, f64),
    end_stub: (f64, f64),
    others: &[(f64, f64)],
) -> Vec<Rect> {
    let region = (
        start_stub.0.min(end_stub.0) - REGION_MARGIN_PX,
        start_stub.1.min(end_stub.1) - REGION_MARGIN_PX,
        start_stub.0.max(end_stub.0) + REGION_MARGIN_PX,
        start_stub.1.max(end_stub.1) + REGION_MARGIN_PX,
    );
    let middle = ((from.0 + to.0) / 2.0, (from.1 + to.1) / 2.0);
    let mut near: Vec<(f64, Rect)> = others
        .iter()
        .filter(|centre| **centre != from && **centre != to)
        .map(|centre| (*centre, padded_box(*centre)))
        .filter(|(_, rect)| {
            rect.2 > region.0 && rect.0 < region.2 && rect.3 > region.1 && rect.1 < region.3
        })
        // A box over a port stub would leave no way out: ignore it.
        .filter(|(_, rect)| {
            !strictly_inside(rect, start_stub.0, start_stub.1)
                && !strictly_inside(rect, end_stub.0, end_stub.1)
        })
        .map(|(centre, rect)| {
            let distance = (centre.0 - middle.0).abs() + (centre.1 - middle.1).abs();
            (distance, rect)
        })
        .collect();
    near.sort_by(|a, b| a.0.total_cmp(&b.0));
    near.truncate(MAX_OBSTACLES);
    let mut obstacles: Vec<Rect> = near.into_iter().map(|(_, rect)| rect).collect();
    obstacles.push(padded_box(from));
    obstacles.push(padded_box(to));
    obstacles
}

/// Sorted, de-duplicated coordinates (to 0.01 px).
fn grid_lines(mut values: Vec<f64>) -> Vec<f64> {
    values.retain(|value| value.is_finite());
    values.sort_by(f64::total_cmp);
    values.dedup_by(|a, b| (*a - *b).abs() < 0.01);
    values
}

/// The bend points of the cheapest orthogonal route from `start` (leaving
/// along `start_side`) to `end` (arriving against `end_side`), both included.
fn grid_route(
    start: (f64, f64),
    start_side: (f64, f64),
    end: (f64, f64),
    end_side: (f64, f64),
    obstacles: &[Rect],
) -> Option<Vec<(f64, f64)>> {
    let mut xs = vec![start.0, end.0];
    let mut ys = vec![start.1, end.1];
    for rect in obstacles {
        xs.extend([rect.0, rect.2]);
        ys.extend([rect.1, rect.3]);
    }
    // A channel between neighbouring boxes is walked down its middle.
    let (xs, ys) = (grid_lines(xs), grid_lines(ys));
    let xs = with_midlines(&xs, obstacles, true);
    let ys = with_midlines(&ys, obstacles, false);
    let free = |x: f64, y: f64| !obstacles.iter().any(|rect| strictly_inside(rect, x, y));

    // Two graph nodes per free grid point: travelling horizontally, vertically.
    let mut graph: UnGraph<(f64, f64), f64> = UnGraph::default();
    let rows = ys.len();
    let mut points: Vec<Option<(NodeIndex, NodeIndex)>> = vec![None; xs.len() * rows];
    for (column, &x) in xs.iter().enumerate() {
        for (row, &y) in ys.iter().enumerate() {
            if free(x, y) {
                let horizontal = graph.add_node((x, y));
                let vertical = graph.add_node((x, y));
                graph.add_edge(horizontal, vertical, BEND_PENALTY_PX);
                points[column * rows + row] = Some((horizontal, vertical));
            }
        }
    }
    let index = |column: usize, row: usize| {
        if column < xs.len() && row < rows {
            points[column * rows + row]
        } else {
            None
        }
    };
    for (column, &x) in xs.iter().enumerate() {
        for (row, &y) in ys.iter().enumerate() {
            let Some((here_h, here_v)) = index(column, row) else {
                continue;
            };
            if let Some((right_h, _)) = index(column + 1, row) {
                let next_x = xs[column + 1];
                if free((x + next_x) / 2.0, y) {
                    graph.add_edge(here_h, right_h, next_x - x);
                }
            }
            if let Some((_, below_v)) = index(column, row + 1) {
                let next_y = ys[row + 1];
                if free(x, (y + next_y) / 2.0) {
                    graph.add_edge(here_v, below_v, next_y - y);
                }
            }
        }
    }
    let find = |point: (f64, f64)| {
        let column = xs.iter().position(|x| (x - point.0).abs() < 0.01)?;
        let row = ys.iter().position(|y| (y - point.1).abs() < 0.01)?;
        index(column, row)
    };
    let (start_h, start_v) = find(start)?;
    let (end_h, end_v) = find(end)?;
    let start_node = if start_side.1 == 0.0 {
        start_h
    } else {
        start_v
    };
    let goal = if end_side.1 == 0.0 { end_h } else { end_v };
    let (_, path) = astar(
        &graph,
        start_node,
        |node| node == goal,
        |edge| *edge.weight(),
        |node| {
            let (x, y) = graph[node];
            (x - end.0).abs() + (y - end.1).abs()
        },
    )?;
    Some(path.into_iter().map(|node| graph[node]).collect())
}

/// `lines` plus, between two neighbouring lines that bound a gap between
/// boxes, the middle of that gap (so routes through channels are centred).
fn with_midlines(lines: &[f64], obstacles: &[Rect], vertical: bool) -> Vec<f64> {
    let mut out = Vec::with_capacity(lines.len() * 2);
    for pair in lines.windows(2) {
        out.push(pair[0]);
        let (a, b) = (pair[0], pair[1]);
        let closes_a_box = obstacles
            .iter()
            .any(|rect| (if vertical { rect.2 } else { rect.3 } - a).abs() < 0.01);
        let opens_a_box = obstacles
            .iter()
            .any(|rect| (if vertical { rect.0 } else { rect.1 } - b).abs() < 0.01);
        if closes_a_box && opens_a_box && b - a > 1.0 {
            out.push((a + b) / 2.0);
        }
    }
    out.extend(lines.last());
    out
}

/// A route with one or two bends and no regard for boxes (the fallback).
fn elbow(start: (f64, f64), start_side: (f64, f64), end: (f64, f64)) -> Vec<(f64, f64)> {
    if start_side.1 == 0.0 {
        let middle_x = (start.0 + end.0) / 2.0;
        vec![start, (middle_x, start.1), (middle_x, end.1), end]
    } else {
        let middle_y = (start.1 + end.1) / 2.0;
        vec![start, (start.0, middle_y), (end.0, middle_y), end]
    }
}

/// Drops repeated points and points in the middle of a straight run.
fn simplify(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for point in points {
        if out
            .last()
            .is_some_and(|last| (last.0 - point.0).abs() < 0.01 && (last.1 - point.1).abs() < 0.01)
        {
            continue;
        }
        if out.len() >= 2 {
            let (a, b) = (out[out.len() - 2], out[out.len() - 1]);
            let collinear = ((a.0 - b.0).abs() < 0.01 && (b.0 - point.0).abs() < 0.01)
                || ((a.1 - b.1).abs() < 0.01 && (b.1 - point.1).abs() < 0.01);
            if collinear {
                out.pop();
            }
        }
        out.push(point);
    }
    out
}

/// SVG path through `points`, labelled at the middle of its length.
fn polyline_route(points: &[(f64, f64)]) -> LinkRoute {
    let mut path = String::new();
    for (index, point) in points.iter().enumerate() {
        let command = if index == 0 { 'M' } else { 'L' };
        path.push_str(&format!("{command}{:.1} {:.1} ", point.0, point.1));
    }
    let lengths: Vec<f64> = points
        .windows(2)
        .map(|pair| (pair[1].0 - pair[0].0).abs() + (pair[1].1 - pair[0].1).abs())
        .collect();
    let mut remaining = lengths.iter().sum::<f64>() / 2.0;
    let (mut label_x, mut label_y) = points.first().copied().unwrap_or_default();
    for (pair, length) in points.windows(2).zip(&lengths) {
        if remaining <= *length && *length > 0.0 {
            let t = remaining / length;
            label_x = pair[0].0 + (pair[1].0 - pair[0].0) * t;
            label_y = pair[0].1 + (pair[1].1 - pair[0].1) * t;
            break;
        }
        remaining -= length;
    }
    LinkRoute {
        path: path.trim_end().to_string(),
        label_x,
        label_y,
    }
}

/// The points of an SVG path written by `polyline_route` (for tests).
#[cfg(test)]
fn points_of(path: &str) -> Vec<(f64, f64)> {
    path.split(['M', 'L'])
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let mut numbers = part.split_whitespace().map(|n| n.parse::<f64>().unwrap());
            (numbers.next().unwrap(), numbers.next().unwrap())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether any segment of `points` passes through the (unpadded) box at `centre`.
    fn crosses_box(points: &[(f64, f64)], centre: (f64, f64)) -> bool {
        let rect = (
            centre.0 - NODE_WIDTH_PX / 2.0,
            centre.1 - NODE_HEIGHT_PX / 2.0,
            centre.0 + NODE_WIDTH_PX / 2.0,
            centre.1 + NODE_HEIGHT_PX / 2.0,
        );
        points.windows(2).any(|pair| {
            (0..=40).any(|step| {
                let t = f64::from(step) / 40.0;
                let x = pair[0].0 + (pair[1].0 - pair[0].0) * t;
                let y = pair[0].1 + (pair[1].1 - pair[0].1) * t;
                strictly_inside(&rect, x, y)
            })
        })
    }

    fn is_orthogonal(points: &[(f64, f64)]) -> bool {
        points.windows(2).all(|pair| {
            (pair[0].0 - pair[1].0).abs() < 0.01 || (pair[0].1 - pair[1].1).abs() < 0.01
        })
    }

    #[test]
    fn a_clear_straight_line_is_one_segment() {
        let route = orthogonal_route((0.0, 0.0), (400.0, 0.0), 0.0, &[]).unwrap();
        let points = points_of(&route.path);
        assert_eq!(points.len(), 2, "{}", route.path);
        assert_eq!(points[0], (88.0, 0.0));
        assert_eq!(points[1], (307.0, 0.0));
    }

    #[test]
    fn a_box_in_the_way_is_walked_around_with_right_angles() {
        let blocker = (200.0, 0.0);
        let route = orthogonal_route((-200.0, 0.0), (600.0, 0.0), 0.0, &[blocker]).unwrap();
        let points = points_of(&route.path);
        assert!(is_orthogonal(&points), "{}", route.path);
        assert!(
            !crosses_box(&points, blocker),
            "goes through the box: {}",
            route.path
        );
        assert!(points.len() <= 6, "few bends: {}", route.path);
    }

    #[test]
    fn a_wall_of_boxes_with_a_gap_is_passed_through_the_gap() {
        let wall: Vec<(f64, f64)> = (-3..=3)
            .filter(|row| *row != 1)
            .map(|row| (300.0, f64::from(row) * 130.0))
            .collect();
        let route = orthogonal_route((0.0, 0.0), (600.0, 0.0), 0.0, &wall).unwrap();
        let points = points_of(&route.path);
        assert!(is_orthogonal(&points), "{}", route.path);
        for centre in &wall {
            assert!(
                !crosses_box(&points, *centre),
                "crosses {centre:?}: {}",
                route.path
            );
        }
    }

    #[test]
    fn diagonal_neighbours_get_one_bend() {
        let route = orthogonal_route((0.0, 0.0), (400.0, 300.0), 0.0, &[]).unwrap();
        let points = points_of(&route.path);
        assert!(is_orthogonal(&points), "{}", route.path);
        assert!(points.len() <= 4, "{}", route.path);
    }

    #[test]
    fn overlapping_boxes_draw_no_link() {
        assert!(orthogonal_route((0.0, 0.0), (50.0, 10.0), 0.0, &[]).is_none());
    }

    #[test]
    fn the_grid_stays_bounded_in_a_crowded_diagram() {
        // 300 boxes on a 20-wide grid: only the nearest MAX_OBSTACLES count.
        let centres: Vec<(f64, f64)> = (0..300)
            .map(|index| (f64::from(index % 20) * 240.0, f64::from(index / 20) * 160.0))
            .collect();
        let from = centres[0];
        let to = centres[299];
        let obstacles = obstacles_near(from, to, from, to, &centres);
        assert!(obstacles.len() <= MAX_OBSTACLES + 2);
        assert!(orthogonal_route(from, to, 0.0, &centres).is_some());
    }
}
