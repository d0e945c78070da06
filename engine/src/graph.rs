//! Topology analysis on a petgraph graph: synchronous call cycles and unreachable nodes.
//!
//! These are warnings, not errors: a cycle of synchronous calls is legal but
//! deadlock- and retry-storm-prone; an unreachable node is probably a mistake.

use crate::scenario::{ComponentSpec, LinkKind, Problem, Scenario};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Bfs, EdgeFiltered};

pub struct TopologyGraph<'a> {
    scenario: &'a Scenario,
    graph: DiGraph<usize, LinkKind>,
}

impl<'a> TopologyGraph<'a> {
    /// Nodes are `topology.nodes` indices; unresolved links are skipped (validation reports them).
    pub fn build(scenario: &'a Scenario) -> TopologyGraph<'a> {
        let mut graph = DiGraph::new();
        let indices: Vec<NodeIndex> = (0..scenario.topology.nodes.len())
            .map(|index| graph.add_node(index))
            .collect();
        for link in &scenario.topology.links {
            if let (Some(from), Some(to)) = (
                scenario.node_index(&link.from),
                scenario.node_index(&link.to),
            ) {
                graph.add_edge(indices[from], indices[to], link.kind);
            }
        }
        TopologyGraph { scenario, graph }
    }

    /// Each cycle of synchronous calls, as node ids.
    pub fn synchronous_call_cycles(&self) -> Vec<Vec<String>> {
        let sync_only =
            EdgeFiltered::from_fn(&self.graph, |edge| *edge.weight() == LinkKind::SyncCall);
        tarjan_scc(&sync_only)
            .into_iter()
            .filter(|component| component.len() > 1)
            .map(|component| {
                let mut ids: Vec<String> = component
                    .iter()
                    .map(|index| self.scenario.topology.nodes[self.graph[*index]].id.clone())
                    .collect();
                ids.sort();
                ids
            })
            .collect()
    }

    /// Nodes that no load generator can reach by following links (either direction
    /// counts as reachable: replies and replication flow back over the same link).
    pub fn unreachable_from_clients(&self) -> Vec<String> {
        let undirected = self.graph.clone().into_edge_type::<petgraph::Undirected>();
        let mut reached = vec![false; self.graph.node_count()];
        let clients: Vec<usize> = self
            .scenario
            .topology
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| matches!(node.spec, ComponentSpec::LoadGenerator(_)))
            .map(|(index, _)| index)
            .collect();
        if clients.is_empty() {
            return Vec::new();
        }
        for client in clients {
            let mut search = Bfs::new(&undirected, NodeIndex::new(client));
            while let Some(found) = search.next(&undirected) {
                reached[found.index()] = true;
            }
        }
        reached
            .iter()
            .enumerate()
            .filter(|(_, reached)| !**reached)
            .map(|(index, _)| self.scenario.topology.nodes[index].id.clone())
            .collect()
    }
}

/// Warnings about a valid scenario's shape (shown by `faultline validate` and the editor).
pub fn analyze(scenario: &Scenario) -> Vec<Problem> {
    let graph = TopologyGraph::build(scenario);
    let mut warnings = Vec::new();
    for cycle in graph.synchronous_call_cycles() {
        warnings.push(Problem {
            path: "topology.links".into(),
            message: format!(
                "synchronous call cycle through {}: requests can wait on themselves",
                cycle.join(", ")
            ),
        });
    }
    for id in graph.unreachable_from_clients() {
        let index = scenario.node_index(&id).unwrap_or(0);
        warnings.push(Problem {
            path: format!("topology.nodes[{index}]"),
            message: format!("node {id:?} is not connected to any load generator"),
        });
    }
    warnings
}
