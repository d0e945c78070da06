//! Zone geometry and membership by position: a zone is drawn as the box
//! around its members, and a node dropped inside another zone's box joins
//! that zone, while one dropped outside its own zone's box leaves it.

use super::{NODE_HEIGHT_PX, NODE_WIDTH_PX};
use faultline_engine::Scenario;
use std::collections::BTreeSet;

/// Space between a zone's edge and its members' boxes.
pub const ZONE_PADDING_PX: f64 = 18.0;
/// Extra room above the members for the zone's label.
pub const ZONE_LABEL_SPACE_PX: f64 = 22.0;

/// (left, top, right, bottom) of the box drawn around nodes centred at `centres`.
pub fn zone_box(centres: &[(f64, f64)]) -> Option<(f64, f64, f64, f64)> {
    if centres.is_empty() {
        return None;
    }
    let min_x = centres.iter().map(|c| c.0).fold(f64::INFINITY, f64::min);
    let max_x = centres
        .iter()
        .map(|c| c.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let min_y = centres.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
    let max_y = centres
        .iter()
        .map(|c| c.1)
        .fold(f64::NEG_INFINITY, f64::max);
    Some((
        min_x - NODE_WIDTH_PX / 2.0 - ZONE_PADDING_PX,
        min_y - NODE_HEIGHT_PX / 2.0 - ZONE_PADDING_PX - ZONE_LABEL_SPACE_PX,
        max_x + NODE_WIDTH_PX / 2.0 + ZONE_PADDING_PX,
        max_y + NODE_HEIGHT_PX / 2.0 + ZONE_PADDING_PX,
    ))
}

/// Boxes of every zone drawn around its members outside `moving` (`None`
/// for a zone all of whose members move), in document order.
pub fn still_zone_boxes(
    scenario: &Scenario,
    moving: &BTreeSet<String>,
) -> Vec<Option<(f64, f64, f64, f64)>> {
    scenario
        .topology
        .zones
        .iter()
        .map(|zone| {
            let centres: Vec<(f64, f64)> = zone
                .nodes
                .iter()
                .filter(|id| !moving.contains(*id))
                .filter_map(|id| {
                    scenario
                        .topology
                        .nodes
                        .iter()
                        .find(|node| &node.id == id)
                        .map(|node| (node.position.x, node.position.y))
                })
                .collect();
            zone_box(&centres)
        })
        .collect()
}

/// The zone (index) a node of zone `current` belongs to once dropped with its
/// centre at `centre`: the first still box it lands in; none if it left a
/// zone that stays behind; otherwise the one it had (a zone moved whole).
/// The canvas previews this while dragging; the drop applies it.
pub fn zone_after_drop(
    still_boxes: &[Option<(f64, f64, f64, f64)>],
    current: Option<usize>,
    centre: (f64, f64),
) -> Option<usize> {
    let (x, y) = centre;
    let inside = |bounds: &Option<(f64, f64, f64, f64)>| {
        bounds.is_some_and(|(left, top, right, bottom)| {
            x >= left && x <= right && y >= top && y <= bottom
        })
    };
    match (current, still_boxes.iter().position(inside)) {
        (_, Some(zone)) => Some(zone),
        // Its zone stayed behind (some members did not move): it left.
        (Some(zone), None) if still_boxes[zone].is_some() => None,
        (current, None) => current,
    }
}

/// After `moved` nodes were dropped at their (already updated) positions:
/// each joins the first zone whose box, drawn around its members that did not
/// move, contains the node's centre; otherwise it leaves a zone whose other
/// members stayed put (a zone moved as a whole keeps its members). Zones left
/// empty are removed. Returns whether any membership changed.
pub fn reassign_dropped_nodes(scenario: &mut Scenario, moved: &BTreeSet<String>) -> bool {
    let centre_of = |scenario: &Scenario, id: &str| {
        scenario
            .topology
            .nodes
            .iter()
            .find(|node| node.id == id)
            .map(|node| (node.position.x, node.position.y))
    };
    // Boxes of the zones as they stay: drawn around the members that did not move.
    let still_boxes = still_zone_boxes(scenario, moved);
    let mut changed = false;
    for id in moved {
        let Some((x, y)) = centre_of(scenario, id) else {
            continue;
        };
        let current = scenario
            .topology
            .zones
            .iter()
            .position(|zone| zone.nodes.contains(id));
        let wanted = zone_after_drop(&still_boxes, current, (x, y));
        if wanted == current {
            continue;
        }
        changed = true;
        if let Some(zone) = current {
            scenario.topology.zones[zone]
                .nodes
                .retain(|member| member != id);
        }
        if let Some(zone) = wanted {
            scenario.topology.zones[zone].nodes.push(id.clone());
        }
    }
    if changed {
        scenario
            .topology
            .zones
            .retain(|zone| !zone.nodes.is_empty());
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_engine::scenario::{Position, Zone};

    fn scenario_with(nodes: &[(&str, f64, f64)], zones: &[(&str, &[&str])]) -> Scenario {
        let mut scenario: Scenario = serde_json::from_value(serde_json::json!({
            "version": 1,
            "topology": {"nodes": []},
            "run": {"seed": 1, "duration_ms": 1000}
        }))
        .expect("a minimal scenario loads");
        for (id, x, y) in nodes {
            let mut node: faultline_engine::scenario::Node = serde_json::from_value(
                serde_json::json!({"id": id, "kind": "sink", "properties": {"service_time": {"constant": {"value_ms": 1.0}}}}),
            )
            .expect("a sink loads");
            node.position = Position { x: *x, y: *y };
            scenario.topology.nodes.push(node);
        }
        for (id, members) in zones {
            scenario.topology.zones.push(Zone {
                id: id.to_string(),
                label: String::new(),
                nodes: members.iter().map(|member| member.to_string()).collect(),
            });
        }
        scenario
    }

    fn members(scenario: &Scenario) -> Vec<(String, Vec<String>)> {
        scenario
            .topology
            .zones
            .iter()
            .map(|zone| (zone.id.clone(), zone.nodes.clone()))
            .collect()
    }

    #[test]
    fn a_node_dropped_inside_a_zone_joins_it_and_one_dragged_out_leaves() {
        let mut scenario = scenario_with(
            &[("a", 0.0, 0.0), ("b", 200.0, 0.0), ("c", 600.0, 0.0)],
            &[("z", &["a", "b"])],
        );
        // c dropped next to b, inside the zone's box.
        scenario.topology.nodes[2].position.x = 250.0;
        let moved = BTreeSet::from(["c".to_string()]);
        assert!(reassign_dropped_nodes(&mut scenario, &moved));
        assert_eq!(
            members(&scenario),
            [("z".into(), vec!["a".into(), "b".into(), "c".into()])]
        );
        // b dragged far away leaves; the zone keeps a and c.
        scenario.topology.nodes[1].position.y = 900.0;
        let moved = BTreeSet::from(["b".to_string()]);
        assert!(reassign_dropped_nodes(&mut scenario, &moved));
        assert_eq!(
            members(&scenario),
            [("z".into(), vec!["a".into(), "c".into()])]
        );
    }

    #[test]
    fn a_zone_moved_as_a_whole_keeps_its_members() {
        let mut scenario =
            scenario_with(&[("a", 0.0, 0.0), ("b", 200.0, 0.0)], &[("z", &["a", "b"])]);
        for node in &mut scenario.topology.nodes {
            node.position.x += 1000.0;
        }
        let moved = BTreeSet::from(["a".to_string(), "b".to_string()]);
        assert!(!reassign_dropped_nodes(&mut scenario, &moved));
        assert_eq!(
            members(&scenario),
            [("z".into(), vec!["a".into(), "b".into()])]
        );
    }
}
