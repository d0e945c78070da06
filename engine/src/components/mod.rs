//! Built-in components and the factory that builds them from a scenario.

pub mod autoscaler;
pub mod cache;
pub mod coord_client;
pub mod coord_protocol;
pub mod coord_server;
pub mod db_dynamo;
pub mod db_leader_follower;
pub mod db_protocol;
pub mod fenced_storage;
pub mod kafka_assignors;
pub mod kafka_broker;
pub mod kafka_consumer;
pub mod kafka_controller;
pub mod kafka_group_coordinator;
pub mod kafka_kraft;
pub mod kafka_log_cleaner;
pub mod kafka_partitioner;
pub mod kafka_producer;
pub mod kafka_retention;
pub mod kv_client;
pub mod kv_database;
pub mod kv_sentinel;
pub mod kv_shard_balancer;
pub mod load_generator;
pub mod outbox;
pub mod rabbit_broker;
pub mod rabbit_client;
pub mod rabbit_consumer;
pub mod rabbit_protocol;
pub mod rabbit_publisher;
pub mod rabbit_queue;
pub mod rabbit_quorum;
pub mod rabbit_routing;
pub mod raft_kv_client;
pub mod raft_node;
pub mod resilience;
pub mod saga;
pub mod service;
pub mod service_io;
pub mod sink;
pub mod snowflake;
pub mod txn_coordinator;
pub mod txn_participant;
pub mod txn_protocol;

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
        ComponentSpec::KafkaController(spec) => match spec.mode {
            crate::scenario::KafkaControllerMode::StandIn => Box::new(
                kafka_controller::KafkaController::new(spec, scenario, node_ids),
            ),
            crate::scenario::KafkaControllerMode::Kraft => Box::new(
                kafka_kraft::KraftController::new(spec, scenario, NodeId(index as u32), node_ids),
            ),
        },
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
                            kafka_kraft::controller_quorum(scenario, &other.id, node_ids),
                        ))
                    }
                    _ => None,
                });
            let (controller, session_timeout_ms, topics, quorum) =
                controller.unwrap_or((None, 6_000, &[], Vec::new()));
            Box::new(
                kafka_broker::KafkaBroker::new(
                    spec,
                    controller,
                    session_timeout_ms,
                    node_ids,
                    kafka_group_coordinator::peer_brokers(scenario, &node.id, node_ids),
                    topics,
                )
                .with_controller_quorum(quorum),
            )
        }
        ComponentSpec::KafkaProducer(spec) => Box::new(
            kafka_producer::KafkaProducer::new(spec, index, node_ids).with_controller_quorum(
                kafka_kraft::controller_quorum(scenario, &spec.controller, node_ids),
            ),
        ),
        ComponentSpec::RaftNode(spec) => Box::new(raft_node::RaftNode::new(
            spec,
            NodeId(index as u32),
            resolve_members(&spec.members, node_ids),
        )),
        ComponentSpec::RaftKvClient(spec) => Box::new(raft_kv_client::RaftKvClient::new(
            spec,
            resolve_members(&spec.members, node_ids),
        )),
        ComponentSpec::Service(spec) => Box::new(service::Service::new(
            spec,
            NodeId(index as u32),
            scenario,
            node_ids,
        )),
        ComponentSpec::ApiGateway(spec) => Box::new(service::Service::new_gateway(
            spec,
            NodeId(index as u32),
            scenario,
            node_ids,
        )),
        ComponentSpec::Autoscaler(spec) => {
            Box::new(autoscaler::Autoscaler::new(spec, scenario, node_ids))
        }
        ComponentSpec::RabbitBroker(spec) => Box::new(rabbit_broker::RabbitBroker::new(
            spec,
            NodeId(index as u32),
            &crate::scenario::quorum_queue_placements(scenario),
        )),
        ComponentSpec::RabbitPublisher(spec) => Box::new(rabbit_publisher::RabbitPublisher::new(
            spec,
            rabbit_heartbeat_timeout_ms(scenario, &spec.broker),
            node_ids,
        )),
        ComponentSpec::RabbitConsumer(spec) => Box::new(rabbit_consumer::RabbitConsumer::new(
            spec,
            rabbit_heartbeat_timeout_ms(scenario, &spec.broker),
            node_ids,
        )),
        ComponentSpec::KafkaConsumer(spec) => Box::new(
            kafka_consumer::KafkaConsumer::new(spec, node_ids).with_controller_quorum(
                kafka_kraft::controller_quorum(scenario, &spec.controller, node_ids),
            ),
        ),
        ComponentSpec::CoordServer(spec) => Box::new(coord_server::CoordServer::new(
            spec,
            NodeId(index as u32),
            resolve_members(&spec.members, node_ids),
        )),
        ComponentSpec::CoordClient(spec) => {
            let target = match &spec.recipe {
                crate::scenario::coord::CoordRecipe::Lock(recipe) => {
                    node_ids.get(&recipe.storage).copied()
                }
                crate::scenario::coord::CoordRecipe::CronScheduler(recipe) => {
                    node_ids.get(&recipe.executor).copied()
                }
                _ => None,
            };
            Box::new(coord_client::CoordClient::new(
                spec,
                NodeId(index as u32),
                resolve_members(&spec.servers, node_ids),
                target,
            ))
        }
        ComponentSpec::FencedStorage(spec) => Box::new(fenced_storage::FencedStorage::new(spec)),
        ComponentSpec::Cache(spec) => {
            let database = scenario
                .topology
                .nodes
                .iter()
                .find(|other| other.id == spec.backend)
                .and_then(|other| match &other.spec {
                    ComponentSpec::KvDatabase(database) => Some(database.database.clone()),
                    _ => None,
                });
            Box::new(cache::Cache::new(
                spec,
                NodeId(index as u32),
                node_ids.get(&spec.backend).copied().unwrap_or(NodeId(0)),
                database,
            ))
        }
        ComponentSpec::Snowflake(spec) => Box::new(snowflake::Snowflake::new(spec)),
        ComponentSpec::TxnCoordinator(spec) => {
            Box::new(txn_coordinator::TxnCoordinator::new(spec, node_ids))
        }
        ComponentSpec::TxnParticipant(spec) => Box::new(txn_participant::TxnParticipant::new(spec)),
        ComponentSpec::SagaOrchestrator(spec) => {
            Box::new(saga::SagaOrchestrator::new(spec, node_ids))
        }
        ComponentSpec::SagaService(spec) => {
            Box::new(saga::SagaService::new(spec, &node.id, scenario, node_ids))
        }
        ComponentSpec::KvDatabase(spec) => Box::new(kv_database::KvDatabase::new(
            spec,
            NodeId(index as u32),
            crate::scenario::database_members(scenario, &spec.database),
            node_names(scenario),
        )),
        ComponentSpec::KvSentinel(spec) => Box::new(kv_sentinel::KvSentinel::new(
            spec,
            crate::scenario::database_members(scenario, &spec.database),
            crate::scenario::database_sentinels(scenario, &spec.database)
                .into_iter()
                .filter(|sentinel| sentinel.0 != index as u32)
                .collect(),
            node_names(scenario),
        )),
        ComponentSpec::KvClient(spec) => Box::new(kv_client::KvClient::new(
            spec,
            NodeId(index as u32),
            kv_client::routes(scenario, &spec.databases),
            crate::scenario::balancer_of_client(scenario, &node.id).and_then(|balancer| {
                match &scenario.topology.nodes[balancer].spec {
                    ComponentSpec::KvShardBalancer(balancer) => {
                        kv_client::routes(scenario, std::slice::from_ref(&balancer.add_database))
                            .pop()
                    }
                    _ => None,
                }
            }),
        )),
        ComponentSpec::OutboxService(spec) => Box::new(outbox::OutboxService::new(spec, node_ids)),
        ComponentSpec::EventConsumer(spec) => Box::new(outbox::EventConsumer::new(spec)),
        ComponentSpec::KvShardBalancer(spec) => {
            let (mut databases, sharding) = kv_shard_balancer::keyspace_sharding(scenario, spec);
            databases.push(spec.add_database.clone());
            Box::new(kv_shard_balancer::KvShardBalancer::new(
                spec,
                kv_client::routes(scenario, &databases),
                resolve_members(&spec.clients, node_ids),
                sharding,
            ))
        }
    }
}

/// Every node's id (name), by node index: for components' state lines.
fn node_names(scenario: &Scenario) -> Vec<String> {
    scenario
        .topology
        .nodes
        .iter()
        .map(|node| node.id.clone())
        .collect()
}

/// Node ids of a validated member list (validation guarantees they resolve).
fn resolve_members(members: &[String], node_ids: &BTreeMap<String, NodeId>) -> Vec<NodeId> {
    members
        .iter()
        .filter_map(|member| node_ids.get(member).copied())
        .collect()
}

/// The heartbeat timeout a client negotiates with `broker`: the broker's own
/// (clients accept the server's proposal, as RabbitMQ clients do by default).
pub(crate) fn rabbit_heartbeat_timeout_ms(scenario: &Scenario, broker: &str) -> u64 {
    scenario
        .topology
        .nodes
        .iter()
        .find_map(|node| match &node.spec {
            ComponentSpec::RabbitBroker(spec) if node.id == broker => {
                Some(spec.heartbeat_timeout_ms)
            }
            _ => None,
        })
        .unwrap_or(60_000)
}
