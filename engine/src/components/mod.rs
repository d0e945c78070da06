//! Built-in components and the factory that builds them from a scenario.

pub mod kafka_assignors;
pub mod kafka_broker;
pub mod kafka_consumer;
pub mod kafka_controller;
pub mod kafka_group_coordinator;
pub mod kafka_partitioner;
pub mod kafka_producer;
pub mod kafka_retention;
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
        ComponentSpec::KafkaController(spec) => Box::new(kafka_controller::KafkaController::new(
            spec, scenario, node_ids,
        )),
        ComponentSpec::KafkaBroker(spec) => {
            // A broker's controller is the one that lists it.
            let controller = scenario
                .topology
                .nodes
                .iter()
                .find_map(|other| match &other.spec {
                    ComponentSpec::KafkaController(controller)
                        if controller.brokers.contains(&node.id) =>
                    {
                        Some((
                            node_ids.get(&other.id).copied(),
                            controller.broker_session_timeout_ms,
                            controller.topics.as_slice(),
                        ))
                    }
                    _ => None,
                });
            let (controller, session_timeout_ms, topics) = controller.unwrap_or((None, 6_000, &[]));
            Box::new(kafka_broker::KafkaBroker::new(
                spec,
                controller,
                session_timeout_ms,
                node_ids,
                kafka_group_coordinator::peer_brokers(scenario, &node.id, node_ids),
                topics,
            ))
        }
        ComponentSpec::KafkaProducer(spec) => {
            Box::new(kafka_producer::KafkaProducer::new(spec, index, node_ids))
        }
        ComponentSpec::KafkaConsumer(spec) => {
            Box::new(kafka_consumer::KafkaConsumer::new(spec, node_ids))
        }
    }
}
