//! Built-in components and the factory that builds them from a scenario.

pub mod load_generator;
pub mod sink;

use crate::component::Component;
use crate::message::NodeId;
use crate::scenario::{ComponentSpec, Scenario};
use std::collections::BTreeMap;

/// Builds the component for node `index` of a validated scenario.
pub fn build_component(
    scenario: &Scenario,
    index: usize,
    node_ids: &BTreeMap<String, NodeId>,
) -> Box<dyn Component> {
    let node = &scenario.topology.nodes[index];
    match &node.spec {
        ComponentSpec::LoadGenerator(spec) => Box::new(load_generator::LoadGenerator::new(
            spec,
            &node.id,
            &scenario.workload,
            node_ids,
        )),
        ComponentSpec::Sink(spec) => Box::new(sink::Sink::new(spec.clone(), node_ids)),
    }
}
