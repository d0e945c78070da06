//! Layered auto-layout (Sugiyama-style, simplified) with petgraph: used for
//! imported scenarios that carry no positions and for the "Tidy" command.
//!
//! Layers follow the links (longest path from the sources, back edges of
//! cycles ignored), and each layer is ordered by the barycentre of its
//! neighbours in the previous layer to reduce crossings. Pure geometry: the
//! layout never looks at what a node does.

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Control, DfsEvent, depth_first_search};
use std::collections::BTreeSet;

/// Horizontal distance between layers (node boxes are 176 px wide).
pub const LAYER_SPACING_PX: f64 = 280.0;
/// Vertical distance between nodes in one layer (node boxes are 94 px tall).
pub const ROW_SPACING_PX: f64 = 150.0;
/// Barycentre sweeps: two passes settle small diagrams; more buys little.
const ORDERING_SWEEPS: usize = 4;

/// Centre positions for `node_count` nodes connected by `edges` (index pairs),
/// left to right, the first layer at x = `LAYER_SPACING_PX / 2`.
pub fn layered_positions(node_count: usize, edges: &[(usize, usize)]) -> Vec<(f64, f64)> {
    let mut graph: DiGraph<(), ()> = DiGraph::new();
    let indices: Vec<NodeIndex> = (0..node_count).map(|_| graph.add_node(())).collect();
    for &(from, to) in edges {
        if from < node_count && to < node_count && from != to {
            graph.update_edge(indices[from], indices[to], ());
        }
    }
    // Drop the back edges found by a depth-first search: what remains is acyclic.
    let mut back_edges = BTreeSet::new();
    depth_first_search(&graph, indices.iter().copied(), |event| {
        if let DfsEvent::BackEdge(from, to) = event {
            back_edges.insert((from.index(), to.index()));
        }
        Control::<()>::Continue
    });
    let forward: Vec<(usize, usize)> = graph
        .edge_indices()
        .filter_map(|edge| graph.edge_endpoints(edge))
        .map(|(from, to)| (from.index(), to.index()))
        .filter(|pair| !back_edges.contains(pair))
        .collect();
    let mut acyclic: DiGraph<(), ()> = DiGraph::new();
    let acyclic_indices: Vec<NodeIndex> = (0..node_count).map(|_| acyclic.add_node(())).collect();
    for &(from, to) in &forward {
        acyclic.add_edge(acyclic_indices[from], acyclic_indices[to], ());
    }
    let order = petgraph::algo::toposort(&acyclic, None).unwrap_or_default();

    // Longest path from any source decides the layer.
    let mut layer_of = vec![0usize; node_count];
    for node in order {
        let node_layer = layer_of.get(node.index()).copied().unwrap_or(0);
        for next in acyclic.neighbors(node) {
            if let Some(slot) = layer_of.get_mut(next.index()) {
                *slot = (*slot).max(node_layer + 1);
            }
        }
    }
    let layer_count = layer_of.iter().max().map_or(0, |max| max + 1);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    for (node, &layer) in layer_of.iter().enumerate() {
        layers[layer].push(node);
    }

    let mut row_of = vec![0.0f64; node_count];
    for layer in &layers {
        for (row, &node) in layer.iter().enumerate() {
            row_of[node] = row as f64;
        }
    }
    for _ in 0..ORDERING_SWEEPS {
        for layer in layers.iter_mut().skip(1) {
            let barycentre = |node: usize| {
                let rows: Vec<f64> = forward
                    .iter()
                    .filter(|(_, to)| *to == node)
                    .map(|(from, _)| row_of[*from])
                    .collect();
                if rows.is_empty() {
                    row_of[node]
                } else {
                    rows.iter().sum::<f64>() / rows.len() as f64
                }
            };
            let mut keyed: Vec<(f64, usize)> =
                layer.iter().map(|&node| (barycentre(node), node)).collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            *layer = keyed.into_iter().map(|(_, node)| node).collect();
            for (row, &node) in layer.iter().enumerate() {
                row_of[node] = row as f64;
            }
        }
    }

    let tallest = layers.iter().map(Vec::len).max().unwrap_or(0) as f64;
    let mut positions = vec![(0.0, 0.0); node_count];
    for (layer_index, layer) in layers.iter().enumerate() {
        // Centre each layer against the tallest one.
        let offset = (tallest - layer.len() as f64) / 2.0;
        for (row, &node) in layer.iter().enumerate() {
            positions[node] = (
                LAYER_SPACING_PX / 2.0 + layer_index as f64 * LAYER_SPACING_PX,
                ROW_SPACING_PX / 2.0 + (row as f64 + offset) * ROW_SPACING_PX,
            );
        }
    }
    positions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_goes_left_to_right_on_one_row() {
        let positions = layered_positions(3, &[(0, 1), (1, 2)]);
        assert!(positions[0].0 < positions[1].0 && positions[1].0 < positions[2].0);
        assert_eq!(positions[0].1, positions[2].1);
    }

    #[test]
    fn cycles_and_self_loops_still_lay_out_without_overlap() {
        let positions = layered_positions(4, &[(0, 1), (1, 2), (2, 0), (3, 3), (2, 3)]);
        for (index, a) in positions.iter().enumerate() {
            for b in positions.iter().skip(index + 1) {
                assert!(a != b, "two nodes share a position: {positions:?}");
            }
        }
    }

    #[test]
    fn fan_out_puts_targets_in_one_layer() {
        let positions = layered_positions(4, &[(0, 1), (0, 2), (0, 3)]);
        assert_eq!(positions[1].0, positions[2].0);
        assert_eq!(positions[2].0, positions[3].0);
        assert_ne!(positions[1].1, positions[2].1);
    }
}
