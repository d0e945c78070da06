//! Faults by direct manipulation: the items the canvas's context menu adds for
//! a node (crash, restart, pause, slow, clock skew) and for a link (partition,
//! one-way partition, hold, latency, loss, duplication, heal). Each item is a
//! `FaultAction` the driver injects at the current sim time and records into
//! the run's fault plan. Also the cut line: a line drawn across the canvas
//! partitions the nodes on its two sides (`partition_by_cut`).

use crate::driver::{SimDriver, SimView};
use faultline_engine::distribution::Distribution;
use faultline_engine::scenario::{FaultAction, LinkNetwork, Scenario};
use leptos::prelude::*;

/// What a context menu's live fault items act on.
pub enum FaultTarget {
    Node(String),
    /// A declared link, by its ends.
    Link(String, String),
    Nothing,
}

/// A menu item: its label and what choosing it does.
pub type MenuFaultItem = (String, Box<dyn Fn() + Send + Sync>);

/// The live fault items for a context menu, each injecting its fault into
/// the current run through the driver. Empty when no run is loaded.
pub fn menu_fault_items(target: &FaultTarget) -> Vec<MenuFaultItem> {
    let (Some(driver), Some(sim)) = (use_context::<SimDriver>(), use_context::<SimView>()) else {
        return Vec::new();
    };
    let Some(scenario) = sim.run_scenario.get_untracked() else {
        return Vec::new();
    };
    let known = |id: &str| scenario.topology.nodes.iter().any(|node| node.id == id);
    let actions = match target {
        FaultTarget::Node(node) if known(node) => node_fault_items(node),
        FaultTarget::Link(from, to) if known(from) && known(to) => {
            link_fault_items(&scenario, from, to)
        }
        _ => Vec::new(),
    };
    actions
        .into_iter()
        .map(|(label, action)| {
            let run: Box<dyn Fn() + Send + Sync> = Box::new(move || driver.inject(action.clone()));
            (label, run)
        })
        .collect()
}

/// A cut shorter than this (world px) is a slip of the pointer, not a cut.
pub const MIN_CUT_LENGTH_PX: f64 = 24.0;

/// The partition a line drawn from `start` to `end` makes: the line, extended
/// across the whole canvas, puts every node (id, centre) on one side or the
/// other, like a knife through the diagram. `None` when the stroke is too
/// short or leaves every node on one side (nothing would be cut).
pub fn partition_by_cut(
    nodes: &[(String, (f64, f64))],
    start: (f64, f64),
    end: (f64, f64),
) -> Option<FaultAction> {
    let (dx, dy) = (end.0 - start.0, end.1 - start.1);
    if dx.hypot(dy) < MIN_CUT_LENGTH_PX {
        return None;
    }
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for (id, (x, y)) in nodes {
        // The sign of the cross product says which side of the line.
        let side = dx * (y - start.1) - dy * (x - start.0);
        if side < 0.0 {
            left.push(id.clone());
        } else {
            right.push(id.clone());
        }
    }
    (!left.is_empty() && !right.is_empty()).then_some(FaultAction::Partition {
        groups: vec![left, right],
    })
}

/// Injects the partition a cut from `start` to `end` makes into the current
/// run, using the nodes as drawn (and known to the run). Returns whether a
/// partition was injected.
pub fn inject_cut(drawn: &Scenario, start: (f64, f64), end: (f64, f64)) -> bool {
    let (Some(driver), Some(sim)) = (use_context::<SimDriver>(), use_context::<SimView>()) else {
        return false;
    };
    let Some(run) = sim.run_scenario.get_untracked() else {
        return false;
    };
    let nodes: Vec<(String, (f64, f64))> = drawn
        .topology
        .nodes
        .iter()
        .filter(|node| run.topology.nodes.iter().any(|known| known.id == node.id))
        .map(|node| (node.id.clone(), (node.position.x, node.position.y)))
        .collect();
    match partition_by_cut(&nodes, start, end) {
        Some(action) => {
            driver.inject(action);
            true
        }
        None => false,
    }
}

/// Slow-down factor offered by the menu (service times × this).
pub const SLOW_FACTOR: f64 = 5.0;
/// Clock skew offered by the menu: the node's clock runs this far ahead.
pub const CLOCK_SKEW_MS: f64 = 500.0;
/// Extra one-way latency offered for a link.
pub const SLOW_LINK_LATENCY_MS: f64 = 200.0;
/// Loss offered for a link.
pub const LOSSY_LINK_PROBABILITY: f64 = 0.2;
/// Duplication offered for a link.
pub const DUPLICATING_LINK_PROBABILITY: f64 = 0.2;

/// Menu label and action for a node.
pub fn node_fault_items(node: &str) -> Vec<(String, FaultAction)> {
    let node = node.to_string();
    vec![
        (
            "Crash now".to_string(),
            FaultAction::Crash { node: node.clone() },
        ),
        (
            "Restart now".to_string(),
            FaultAction::Restart { node: node.clone() },
        ),
        (
            "Pause now".to_string(),
            FaultAction::Pause { node: node.clone() },
        ),
        (
            "Resume now".to_string(),
            FaultAction::Resume { node: node.clone() },
        ),
        (
            format!("Slow ×{SLOW_FACTOR} now"),
            FaultAction::Slow {
                node: node.clone(),
                factor: SLOW_FACTOR,
            },
        ),
        (
            "Normal speed now".to_string(),
            FaultAction::Slow {
                node: node.clone(),
                factor: 1.0,
            },
        ),
        (
            format!("Clock skew +{CLOCK_SKEW_MS} ms now"),
            FaultAction::ClockSkew {
                node,
                offset_ms: CLOCK_SKEW_MS,
                drift_ppm: 0.0,
            },
        ),
    ]
}

/// Menu label and action for the link between `from` and `to`. Latency,
/// loss and duplication start from the link's own network settings in the
/// run's scenario, so only the one property changes.
pub fn link_fault_items(scenario: &Scenario, from: &str, to: &str) -> Vec<(String, FaultAction)> {
    let current = scenario
        .topology
        .links
        .iter()
        .find(|link| link.from == from && link.to == to)
        .map(|link| link.network.clone())
        .unwrap_or_default();
    let with = |change: &dyn Fn(&mut LinkNetwork)| {
        let mut network = current.clone();
        change(&mut network);
        FaultAction::SetLink {
            from: from.to_string(),
            to: to.to_string(),
            network,
        }
    };
    vec![
        (
            "Partition (both ways) now".to_string(),
            FaultAction::Partition {
                groups: vec![vec![from.to_string()], vec![to.to_string()]],
            },
        ),
        (
            format!("Partition one way ({from} → {to}) now"),
            FaultAction::PartitionOneWay {
                from: vec![from.to_string()],
                to: vec![to.to_string()],
            },
        ),
        (
            format!("Latency +{SLOW_LINK_LATENCY_MS} ms now"),
            with(&|network| {
                network.latency = Distribution::Constant {
                    value_ms: latency_mean_ms(&current.latency) + SLOW_LINK_LATENCY_MS,
                }
            }),
        ),
        (
            format!("Loss {:.0}% now", LOSSY_LINK_PROBABILITY * 100.0),
            with(&|network| network.loss_probability = LOSSY_LINK_PROBABILITY),
        ),
        (
            format!("Duplicate {:.0}% now", DUPLICATING_LINK_PROBABILITY * 100.0),
            with(&|network| network.duplicate_probability = DUPLICATING_LINK_PROBABILITY),
        ),
        ("Restore link settings now".to_string(), with(&|_| {})),
        ("Heal all partitions now".to_string(), FaultAction::Heal {}),
    ]
}

/// The link's typical latency, to add the offered delay on top of.
fn latency_mean_ms(latency: &Distribution) -> f64 {
    latency.mean_ms().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<(String, (f64, f64))> {
        vec![
            ("a".to_string(), (0.0, 0.0)),
            ("b".to_string(), (0.0, 200.0)),
            ("c".to_string(), (400.0, 0.0)),
            ("d".to_string(), (400.0, 200.0)),
        ]
    }

    #[test]
    fn a_vertical_cut_between_two_columns_partitions_left_from_right() {
        let cut = partition_by_cut(&nodes(), (200.0, -50.0), (200.0, 60.0));
        assert_eq!(
            cut,
            Some(FaultAction::Partition {
                groups: vec![
                    vec!["c".to_string(), "d".to_string()],
                    vec!["a".to_string(), "b".to_string()]
                ]
            })
        );
    }

    #[test]
    fn the_cut_extends_past_the_stroke_so_a_short_stroke_still_splits_the_diagram() {
        // A horizontal stroke drawn only between a and c also separates b and d.
        let Some(FaultAction::Partition { groups }) =
            partition_by_cut(&nodes(), (100.0, 100.0), (300.0, 100.0))
        else {
            panic!("expected a partition");
        };
        let mut groups: Vec<Vec<String>> = groups;
        groups.sort();
        assert_eq!(
            groups,
            vec![
                vec!["a".to_string(), "c".to_string()],
                vec!["b".to_string(), "d".to_string()]
            ]
        );
    }

    #[test]
    fn a_slip_or_a_line_beside_every_node_cuts_nothing() {
        assert_eq!(partition_by_cut(&nodes(), (200.0, 0.0), (205.0, 5.0)), None);
        assert_eq!(
            partition_by_cut(&nodes(), (900.0, -50.0), (900.0, 250.0)),
            None
        );
    }
}
