//! Faults by direct manipulation: the items the canvas's context menu adds for
//! a node (crash, restart, pause, slow, clock skew) and for a link (partition,
//! one-way partition, hold, latency, loss, duplication, heal). Each item is a
//! `FaultAction` the driver injects at the current sim time and records into
//! the run's fault plan.

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
