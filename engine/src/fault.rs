//! Faults as data: resolving fault actions to nodes, their text form, and the nemesis.
//!
//! The nemesis draws a random fault plan from the run seed and a few
//! intensities (as Jepsen's nemesis and TigerBeetle's VOPR do). The plan is a
//! plain `Vec<ScheduledFault>`: it can be printed, saved into a scenario and
//! replayed without the nemesis.

use crate::message::NodeId;
use crate::rng::{SimRng, stream};
use crate::scenario::{
    ComponentSpec, FaultAction, LinkNetwork, NemesisKind, NemesisSpec, Problems, Scenario,
    ScheduledFault,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A fault with names resolved to node ids (zones expanded).
#[derive(Clone, Debug, PartialEq)]
pub enum ResolvedFault {
    Crash(NodeId),
    Restart(NodeId),
    Pause(NodeId),
    Resume(NodeId),
    Slow(NodeId, f64),
    ClockSkew(NodeId, f64, f64),
    /// Complete groups: every node is in exactly one.
    Partition(Vec<Vec<NodeId>>),
    PartitionOneWay(Vec<NodeId>, Vec<NodeId>),
    Heal,
    Hold(NodeId, NodeId),
    Release(NodeId, NodeId),
    SetLink(NodeId, NodeId, LinkNetwork),
}

impl ResolvedFault {
    /// Nodes the fault touches, for highlighting.
    pub fn nodes(&self) -> Vec<NodeId> {
        match self {
            ResolvedFault::Crash(node)
            | ResolvedFault::Restart(node)
            | ResolvedFault::Pause(node)
            | ResolvedFault::Resume(node)
            | ResolvedFault::Slow(node, _)
            | ResolvedFault::ClockSkew(node, _, _) => vec![*node],
            ResolvedFault::Partition(_) | ResolvedFault::Heal => Vec::new(),
            ResolvedFault::PartitionOneWay(from, to) => from.iter().chain(to).copied().collect(),
            ResolvedFault::Hold(from, to)
            | ResolvedFault::Release(from, to)
            | ResolvedFault::SetLink(from, to, _) => vec![*from, *to],
        }
    }
}

/// Resolves names (node or zone ids) to nodes, or says which name is unknown.
pub fn resolve_fault(
    action: &FaultAction,
    scenario: &Scenario,
    node_ids: &BTreeMap<String, NodeId>,
) -> Result<ResolvedFault, Problems> {
    let node = |name: &str| {
        node_ids
            .get(name)
            .copied()
            .ok_or_else(|| Problems::single("action", format!("no node {name:?}")))
    };
    let members = |names: &[String]| -> Result<Vec<NodeId>, Problems> {
        let mut resolved = BTreeSet::new();
        for name in names {
            if let Some(id) = node_ids.get(name) {
                resolved.insert(*id);
            } else if let Some(zone) = scenario.topology.zones.iter().find(|zone| &zone.id == name)
            {
                for member in &zone.nodes {
                    resolved.insert(node(member)?);
                }
            } else {
                return Err(Problems::single(
                    "action",
                    format!("no node or zone {name:?}"),
                ));
            }
        }
        Ok(resolved.into_iter().collect())
    };
    Ok(match action {
        FaultAction::Crash { node: name } => ResolvedFault::Crash(node(name)?),
        FaultAction::Restart { node: name } => ResolvedFault::Restart(node(name)?),
        FaultAction::Pause { node: name } => ResolvedFault::Pause(node(name)?),
        FaultAction::Resume { node: name } => ResolvedFault::Resume(node(name)?),
        FaultAction::Slow { node: name, factor } => ResolvedFault::Slow(node(name)?, *factor),
        FaultAction::ClockSkew {
            node: name,
            offset_ms,
            drift_ppm,
        } => ResolvedFault::ClockSkew(node(name)?, *offset_ms, *drift_ppm),
        FaultAction::Partition { groups } => {
            let mut listed = BTreeSet::new();
            let mut complete = Vec::new();
            for group in groups {
                let group = members(group)?;
                // A node named in two groups stays in the first.
                let group: Vec<NodeId> =
                    group.into_iter().filter(|id| listed.insert(*id)).collect();
                complete.push(group);
            }
            let rest: Vec<NodeId> = node_ids
                .values()
                .copied()
                .filter(|id| !listed.contains(id))
                .collect();
            if !rest.is_empty() {
                complete.push(rest);
            }
            ResolvedFault::Partition(complete)
        }
        FaultAction::PartitionOneWay { from, to } => {
            ResolvedFault::PartitionOneWay(members(from)?, members(to)?)
        }
        FaultAction::Heal {} => ResolvedFault::Heal,
        FaultAction::HoldLink { from, to } => ResolvedFault::Hold(node(from)?, node(to)?),
        FaultAction::ReleaseLink { from, to } => ResolvedFault::Release(node(from)?, node(to)?),
        FaultAction::SetLink { from, to, network } => {
            ResolvedFault::SetLink(node(from)?, node(to)?, network.clone())
        }
    })
}

impl fmt::Display for FaultAction {
    /// Stable text for trace lines, e.g. `partition [a, b] | [c]`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = self.verb();
        match self {
            FaultAction::Crash { node }
            | FaultAction::Restart { node }
            | FaultAction::Pause { node }
            | FaultAction::Resume { node } => {
                write!(formatter, "{verb} {node}")
            }
            FaultAction::Slow { node, factor } => write!(formatter, "{verb} {node} x{factor}"),
            FaultAction::ClockSkew {
                node,
                offset_ms,
                drift_ppm,
            } => write!(formatter, "{verb} {node} {offset_ms:+}ms {drift_ppm:+}ppm"),
            FaultAction::Partition { groups } => {
                let groups: Vec<String> = groups
                    .iter()
                    .map(|group| format!("[{}]", group.join(", ")))
                    .collect();
                write!(formatter, "{verb} {}", groups.join(" | "))
            }
            FaultAction::PartitionOneWay { from, to } => write!(
                formatter,
                "{verb} [{}] -> [{}]",
                from.join(", "),
                to.join(", ")
            ),
            FaultAction::Heal {} => write!(formatter, "{verb}"),
            FaultAction::HoldLink { from, to } | FaultAction::ReleaseLink { from, to } => {
                write!(formatter, "{verb} {from}->{to}")
            }
            FaultAction::SetLink { from, to, network } => write!(
                formatter,
                "{verb} {from}<->{to} loss={} duplicate={} reorder={}",
                network.loss_probability,
                network.duplicate_probability,
                network.reorder_probability
            ),
        }
    }
}

/// Draws a random fault plan. Every fault is undone by `stop_ms` (default 80%
/// of the run), leaving a quiet tail in which Eventually properties can settle.
pub fn nemesis_plan(
    scenario: &Scenario,
    nemesis: &NemesisSpec,
    seed: u64,
    end_ms: u64,
) -> Vec<ScheduledFault> {
    let mut rng = SimRng::for_stream(seed, stream::NEMESIS);
    let stop_ms = nemesis.stop_ms.unwrap_or(end_ms * 4 / 5).min(end_ms);
    let kinds: Vec<NemesisKind> = if nemesis.kinds.is_empty() {
        NemesisKind::ALL.to_vec()
    } else {
        nemesis.kinds.clone()
    };
    let targets: Vec<String> = if nemesis.targets.is_empty() {
        scenario
            .topology
            .nodes
            .iter()
            .filter(|node| !matches!(node.spec, ComponentSpec::LoadGenerator(_)))
            .map(|node| node.id.clone())
            .collect()
    } else {
        nemesis.targets.clone()
    };
    let mut plan = Vec::new();
    if targets.is_empty() || nemesis.faults_per_minute <= 0.0 {
        return plan;
    }
    let mean_gap_ms = 60_000.0 / nemesis.faults_per_minute;
    let mut at_ms = nemesis.start_ms as f64;
    // Bounded: at most this many faults whatever the intensities say.
    for _ in 0..crate::scenario::limits::MAX_SCHEDULED_FAULTS / 2 {
        at_ms += -mean_gap_ms * libm::log(rng.next_f64_open_zero());
        if at_ms >= stop_ms as f64 {
            break;
        }
        let start = libm::floor(at_ms) as u64;
        let duration = -nemesis.mean_fault_duration_ms * libm::log(rng.next_f64_open_zero());
        let undo = (start + 1 + libm::floor(duration) as u64).min(stop_ms);
        let Some(kind_index) = rng.pick_index(kinds.len()) else {
            break;
        };
        let Some(target_index) = rng.pick_index(targets.len()) else {
            break;
        };
        let target = targets[target_index].clone();
        let (fault, undo_action) = match kinds[kind_index] {
            NemesisKind::Crash => (
                FaultAction::Crash {
                    node: target.clone(),
                },
                FaultAction::Restart { node: target },
            ),
            NemesisKind::Pause => (
                FaultAction::Pause {
                    node: target.clone(),
                },
                FaultAction::Resume { node: target },
            ),
            NemesisKind::Slow => {
                let factor = 2.0 + libm::floor(rng.next_f64() * 18.0);
                (
                    FaultAction::Slow {
                        node: target.clone(),
                        factor,
                    },
                    FaultAction::Slow {
                        node: target,
                        factor: 1.0,
                    },
                )
            }
            NemesisKind::ClockSkew => {
                let offset_ms = libm::round((rng.next_f64() * 2.0 - 1.0) * 10_000.0);
                (
                    FaultAction::ClockSkew {
                        node: target.clone(),
                        offset_ms,
                        drift_ppm: 0.0,
                    },
                    FaultAction::ClockSkew {
                        node: target,
                        offset_ms: 0.0,
                        drift_ppm: 0.0,
                    },
                )
            }
            NemesisKind::Partition | NemesisKind::PartitionOneWay => {
                // A random non-empty proper subset of the targets on one side.
                let mut side: Vec<String> = targets
                    .iter()
                    .filter(|_| rng.chance(0.5))
                    .cloned()
                    .collect();
                if side.is_empty() || side.len() == targets.len() {
                    side = vec![target];
                }
                let rest: Vec<String> = targets
                    .iter()
                    .filter(|name| !side.contains(name))
                    .cloned()
                    .collect();
                let fault = if kinds[kind_index] == NemesisKind::Partition {
                    FaultAction::Partition { groups: vec![side] }
                } else if rest.is_empty() {
                    continue;
                } else {
                    FaultAction::PartitionOneWay {
                        from: side,
                        to: rest,
                    }
                };
                (fault, FaultAction::Heal {})
            }
            NemesisKind::Loss => {
                let links = &scenario.topology.links;
                let Some(link_index) = rng.pick_index(links.len()) else {
                    continue;
                };
                let link = &links[link_index];
                let loss = 0.3 + 0.6 * rng.next_f64();
                let degraded = LinkNetwork {
                    loss_probability: libm::round(loss * 100.0) / 100.0,
                    ..link.network.clone()
                };
                (
                    FaultAction::SetLink {
                        from: link.from.clone(),
                        to: link.to.clone(),
                        network: degraded,
                    },
                    FaultAction::SetLink {
                        from: link.from.clone(),
                        to: link.to.clone(),
                        network: link.network.clone(),
                    },
                )
            }
        };
        plan.push(ScheduledFault {
            at_ms: start,
            action: fault,
        });
        plan.push(ScheduledFault {
            at_ms: undo,
            action: undo_action,
        });
    }
    plan.sort_by_key(|fault| fault.at_ms);
    plan
}
