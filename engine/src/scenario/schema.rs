//! JSON Schema for scenario files, derived from the serde types (published as `public/scenario.schema.json`).

use super::{
    ComponentSpec, KafkaBrokerSpec, KafkaControllerSpec, KafkaProducerSpec, LoadGeneratorSpec,
    Position, RabbitBrokerSpec, RabbitConsumerSpec, RabbitPublisherSpec, RaftKvClientSpec,
    RaftNodeSpec, Scenario, SinkSpec,
};
use schemars::{Schema, SchemaGenerator, json_schema};

/// The whole schema as pretty JSON.
pub fn scenario_json_schema() -> String {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

/// One `oneOf` branch per component kind: the node's own fields plus
/// `kind: const` and that kind's `properties` schema. Written by hand because
/// the wire form merges two serde shapes (see `NodeWire`).
pub(crate) fn node_schema(generator: &mut SchemaGenerator) -> Schema {
    let position = generator.subschema_for::<Position>();
    let branches: Vec<serde_json::Value> = ComponentSpec::KIND_NAMES
        .iter()
        .map(|kind| {
            let properties = match *kind {
                "load_generator" => generator.subschema_for::<LoadGeneratorSpec>(),
                "sink" => generator.subschema_for::<SinkSpec>(),
                "kafka_controller" => generator.subschema_for::<KafkaControllerSpec>(),
                "kafka_broker" => generator.subschema_for::<KafkaBrokerSpec>(),
                "kafka_producer" => generator.subschema_for::<KafkaProducerSpec>(),
                "raft_node" => generator.subschema_for::<RaftNodeSpec>(),
                "raft_kv_client" => generator.subschema_for::<RaftKvClientSpec>(),
                "service" => generator.subschema_for::<super::services::ServiceSpec>(),
                "api_gateway" => generator.subschema_for::<super::services::ApiGatewaySpec>(),
                "autoscaler" => generator.subschema_for::<super::services::AutoscalerSpec>(),
                "rabbit_broker" => generator.subschema_for::<RabbitBrokerSpec>(),
                "rabbit_publisher" => generator.subschema_for::<RabbitPublisherSpec>(),
                "rabbit_consumer" => generator.subschema_for::<RabbitConsumerSpec>(),
                "kafka_consumer" => generator.subschema_for::<super::KafkaConsumerSpec>(),
                "coord_server" => generator.subschema_for::<super::CoordServerSpec>(),
                "coord_client" => generator.subschema_for::<super::CoordClientSpec>(),
                "fenced_storage" => generator.subschema_for::<super::FencedStorageSpec>(),
                "cache" => generator.subschema_for::<super::CacheSpec>(),
                "snowflake" => generator.subschema_for::<super::SnowflakeSpec>(),
                "txn_coordinator" => generator.subschema_for::<super::txn::TxnCoordinatorSpec>(),
                "txn_participant" => generator.subschema_for::<super::txn::TxnParticipantSpec>(),
                "saga_orchestrator" => generator.subschema_for::<super::txn::SagaOrchestratorSpec>(),
                "saga_service" => generator.subschema_for::<super::txn::SagaServiceSpec>(),
                "kv_database" => generator.subschema_for::<super::KvDatabaseSpec>(),
                "kv_sentinel" => generator.subschema_for::<super::KvSentinelSpec>(),
                "kv_client" => generator.subschema_for::<super::KvClientSpec>(),
                "outbox_service" => generator.subschema_for::<super::txn::OutboxServiceSpec>(),
                "event_consumer" => generator.subschema_for::<super::txn::EventConsumerSpec>(),
                "kv_shard_balancer" => generator.subschema_for::<super::KvShardBalancerSpec>(),
                other => unreachable_kind(other),
            };
            serde_json::json!({
                "type": "object",
                "required": ["id", "kind"],
                "additionalProperties": false,
                "properties": {
                    "id": {"type": "string", "description": "Unique node id, referenced by links, workload and faults."},
                    "kind": {"const": kind},
                    "label": {"type": "string"},
                    "position": position,
                    "properties": properties,
                }
            })
        })
        .collect();
    json_schema!({
        "description": "A placed component: id, kind, label, position and the kind's properties.",
        "oneOf": branches
    })
}

/// A kind listed in `KIND_NAMES` without a schema branch is a build-time
/// omission; the schema test catches it, and the schema marks it as unknown.
fn unreachable_kind(kind: &str) -> Schema {
    json_schema!({ "description": format!("no schema for kind {kind}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_a_branch_for_every_kind() {
        let schema: serde_json::Value = serde_json::from_str(&scenario_json_schema()).unwrap();
        let text = schema.to_string();
        for kind in ComponentSpec::KIND_NAMES {
            assert!(
                text.contains(&format!("{{\"const\":\"{kind}\"}}")),
                "schema misses kind {kind}"
            );
        }
        assert!(
            !text.contains("no schema for kind"),
            "a kind has no properties schema"
        );
    }
}
