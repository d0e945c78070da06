//! The component catalog editors read: every kind this build knows, its
//! description, the JSON Schema of its `properties` (with `$ref`s inlined) and
//! a starter set of properties that deserializes.
//!
//! Everything here is derived from the serde/schemars types (`ComponentSpec`
//! and the `*Spec` structs), so a kind added to `ComponentSpec` appears in the
//! editor's palette and gets an inspector form without any editor change.

use super::{ComponentSpec, Expectation, FaultPlan, LinkNetwork, RunSettings, WorkloadStream};
use serde_json::{Map, Value};

/// `$ref` chains deeper than this are left unresolved (a recursive type would
/// otherwise inline forever); no scenario type nests anywhere near this deep.
const MAX_REF_DEPTH: usize = 16;

/// One component kind as an editor shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct KindEntry {
    /// Wire name, e.g. `kafka_broker`.
    pub kind: String,
    /// The doc comment of the `ComponentSpec` variant.
    pub description: String,
    /// JSON Schema of the `properties` object, `$ref`s inlined.
    pub properties_schema: Value,
    /// Properties a freshly placed node starts with: every default the schema
    /// states, plus a minimal value for each required field without one.
    pub starter_properties: Value,
}

/// Every component kind, in `ComponentSpec` declaration order.
pub fn component_catalog() -> Vec<KindEntry> {
    let schema = serde_json::to_value(schemars::schema_for!(ComponentSpec)).unwrap_or_default();
    let definitions = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let branches = schema
        .get("oneOf")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    branches
        .iter()
        .filter_map(|branch| {
            let kind = branch
                .pointer("/properties/kind/const")
                .or_else(|| branch.pointer("/properties/kind/enum/0"))?
                .as_str()?
                .to_string();
            let properties_schema = branch
                .pointer("/properties/properties")
                .map(|schema| inline_refs(schema, &definitions, 0))
                .unwrap_or_else(|| serde_json::json!({"type": "object"}));
            let starter_properties = starter_value(&properties_schema);
            Some(KindEntry {
                kind,
                description: branch
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                properties_schema,
                starter_properties,
            })
        })
        .collect()
}

/// JSON Schema of a link's `network` object (`LinkNetwork`), `$ref`s inlined,
/// so the inspector can draw the link form the same way as a node's.
pub fn link_network_schema() -> Value {
    let schema = serde_json::to_value(schemars::schema_for!(LinkNetwork)).unwrap_or_default();
    let definitions = schema.get("$defs").cloned().unwrap_or(Value::Null);
    inline_refs(&schema, &definitions, 0)
}

/// JSON Schema of the scenario's `run` object (`RunSettings`), `$ref`s inlined,
/// for the editor's run-settings form.
pub fn run_settings_schema() -> Value {
    let schema = serde_json::to_value(schemars::schema_for!(RunSettings)).unwrap_or_default();
    let definitions = schema.get("$defs").cloned().unwrap_or(Value::Null);
    inline_refs(&schema, &definitions, 0)
}

/// JSON Schema of one `workload.streams[]` entry (`WorkloadStream`), `$ref`s
/// inlined (its `pattern` and distributions become nested `oneOf`s), for the
/// editor's workload form.
pub fn workload_stream_schema() -> Value {
    let schema = serde_json::to_value(schemars::schema_for!(WorkloadStream)).unwrap_or_default();
    let definitions = schema.get("$defs").cloned().unwrap_or(Value::Null);
    inline_refs(&schema, &definitions, 0)
}

/// JSON Schema of the scenario's `faults` object (`FaultPlan`: the scripted
/// timeline of tagged `FaultAction`s and the optional nemesis), `$ref`s
/// inlined, for the editor's fault-plan form.
pub fn fault_plan_schema() -> Value {
    let schema = serde_json::to_value(schemars::schema_for!(FaultPlan)).unwrap_or_default();
    let definitions = schema.get("$defs").cloned().unwrap_or(Value::Null);
    inline_refs(&schema, &definitions, 0)
}

/// JSON Schema of the scenario's `expectations` array (`Vec<Expectation>`),
/// `$ref`s inlined, for the editor's expectations form.
pub fn expectations_schema() -> Value {
    let schema = serde_json::to_value(schemars::schema_for!(Vec<Expectation>)).unwrap_or_default();
    let definitions = schema.get("$defs").cloned().unwrap_or(Value::Null);
    inline_refs(&schema, &definitions, 0)
}

/// Replaces every `{"$ref": "#/$defs/X", ...}` with the definition of X
/// (sibling keys such as `description` win over the definition's own).
fn inline_refs(schema: &Value, definitions: &Value, depth: usize) -> Value {
    match schema {
        Value::Object(object) => {
            if let Some(reference) = object.get("$ref").and_then(Value::as_str)
                && depth < MAX_REF_DEPTH
                && let Some(name) = reference.strip_prefix("#/$defs/")
                && let Some(definition) = definitions.get(name)
            {
                let mut resolved = inline_refs(definition, definitions, depth + 1);
                if let Value::Object(resolved_object) = &mut resolved {
                    for (key, value) in object.iter().filter(|(key, _)| *key != "$ref") {
                        resolved_object.insert(key.clone(), inline_refs(value, definitions, depth));
                    }
                }
                return resolved;
            }
            Value::Object(
                object
                    .iter()
                    .filter(|(key, _)| key.as_str() != "$defs" && key.as_str() != "$schema")
                    .map(|(key, value)| (key.clone(), inline_refs(value, definitions, depth)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| inline_refs(item, definitions, depth))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A value that satisfies `schema` structurally: its default if it has one,
/// otherwise the smallest value of its type (first branch of a `oneOf`).
pub fn starter_value(schema: &Value) -> Value {
    if let Some(default) = schema.get("default") {
        return default.clone();
    }
    if let Some(constant) = schema.get("const") {
        return constant.clone();
    }
    if let Some(first) = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
        .and_then(|branches| branches.first())
    {
        return starter_value(first);
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|values| values.first())
    {
        return first.clone();
    }
    let type_name = match schema.get("type") {
        Some(Value::String(name)) => name.as_str(),
        // `["integer", "null"]`: an optional field; absent is its natural start.
        Some(Value::Array(names)) if names.iter().any(|name| name == "null") => "null",
        Some(Value::Array(names)) => names.first().and_then(Value::as_str).unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "null",
    };
    match type_name {
        "object" => {
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|names| names.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut object = Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    let has_default = property
                        .get("default")
                        .is_some_and(|value| !value.is_null());
                    if required.contains(&name.as_str()) || has_default {
                        object.insert(name.clone(), starter_value(property));
                    }
                }
            }
            Value::Object(object)
        }
        "array" => Value::Array(Vec::new()),
        "string" => Value::String(String::new()),
        "boolean" => Value::Bool(false),
        "integer" | "number" => schema
            .get("minimum")
            .cloned()
            .unwrap_or_else(|| Value::from(0)),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_lists_every_kind_in_declaration_order() {
        let kinds: Vec<String> = component_catalog()
            .into_iter()
            .map(|entry| entry.kind)
            .collect();
        assert_eq!(kinds, ComponentSpec::KIND_NAMES);
    }

    #[test]
    fn starter_properties_of_every_kind_deserialize() {
        for entry in component_catalog() {
            let tagged =
                serde_json::json!({"kind": entry.kind, "properties": entry.starter_properties});
            let decoded: Result<ComponentSpec, _> = serde_json::from_value(tagged);
            assert!(
                decoded.is_ok(),
                "starter properties of {} do not deserialize: {:?} ({})",
                entry.kind,
                decoded.err(),
                entry.starter_properties
            );
        }
    }

    #[test]
    fn property_schemas_have_no_unresolved_refs_and_keep_descriptions() {
        for entry in component_catalog() {
            let text = entry.properties_schema.to_string();
            assert!(
                !text.contains("$ref"),
                "{} keeps a $ref: {text}",
                entry.kind
            );
        }
        let sink = component_catalog()
            .into_iter()
            .find(|entry| entry.kind == "sink")
            .unwrap();
        assert_eq!(
            sink.properties_schema
                .pointer("/properties/workers/default"),
            Some(&Value::from(1))
        );
        assert!(!sink.description.is_empty());
    }

    #[test]
    fn link_network_schema_has_latency() {
        let schema = link_network_schema();
        assert!(schema.pointer("/properties/latency/oneOf").is_some());
        assert!(schema.pointer("/properties/loss_probability").is_some());
    }

    #[test]
    fn run_and_workload_schemas_are_inlined_and_name_their_fields() {
        let run = run_settings_schema();
        assert!(run.pointer("/properties/seed").is_some());
        assert!(run.pointer("/properties/duration_ms").is_some());
        let stream = workload_stream_schema();
        let text = stream.to_string();
        assert!(!text.contains("$ref"), "stream schema keeps a $ref: {text}");
        assert!(stream.pointer("/properties/client").is_some());
        assert!(stream.pointer("/properties/pattern/oneOf").is_some());
    }

    #[test]
    fn fault_and_expectation_schemas_are_inlined_and_list_every_kind() {
        let faults = fault_plan_schema();
        let text = faults.to_string();
        assert!(
            !text.contains("$ref"),
            "fault plan schema keeps a $ref: {text}"
        );
        let actions = faults
            .pointer("/properties/timeline/items/properties/action/oneOf")
            .and_then(Value::as_array)
            .expect("the timeline's action is a oneOf");
        let tags: Vec<&str> = actions
            .iter()
            .filter_map(|branch| branch.get("properties")?.as_object()?.keys().next())
            .map(String::as_str)
            .collect();
        for verb in [
            "crash",
            "restart",
            "partition",
            "partition_one_way",
            "slow",
            "clock_skew",
            "set_link",
        ] {
            assert!(tags.contains(&verb), "no {verb} in {tags:?}");
        }
        let expectations = expectations_schema();
        assert_eq!(expectations.get("type"), Some(&Value::from("array")));
        assert!(!expectations.to_string().contains("$ref"));
    }
}
