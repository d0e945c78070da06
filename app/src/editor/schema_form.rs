//! Inspector forms from JSON Schema: one typed field per property of a kind's
//! `properties` schema (from the engine's catalog), with units read from the
//! field name (`_ms`, `_mbps`, ...), ranges from the schema, and parsing of
//! what the user typed into a JSON value or a message saying what was expected.
//!
//! Nothing here knows a component kind: a new kind gets a form automatically.

use faultline_engine::scenario::catalog::starter_value;
use serde_json::Value;

/// How a property is edited.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldInput {
    Integer {
        minimum: Option<f64>,
        maximum: Option<f64>,
    },
    Number {
        minimum: Option<f64>,
        maximum: Option<f64>,
    },
    Boolean,
    Text,
    /// One of a fixed set of values: `(value, label, description)`.
    Choice(Vec<(Value, String, String)>),
    /// An enum with data (serde's externally tagged form, e.g. a
    /// distribution `{"exponential": {"mean_ms": 10}}`): a picker of the
    /// variant and a sub-form for the chosen variant's own fields.
    Variants(Vec<Variant>),
    /// A list whose items have a schema: one typed row per item (a sub-form
    /// for objects and tagged enums, an input for scalars), with add, remove
    /// and reorder. `items` is the item schema.
    Array {
        items: Value,
    },
    /// A nested object with named properties: a sub-form of its fields.
    /// Holds the object's schema.
    Object(Value),
    /// Maps and anything else without a usable schema: edited as JSON text.
    Json,
}

/// One branch of a tagged enum as the editor offers it.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// The wire tag, e.g. `log_normal`.
    pub tag: String,
    pub description: String,
    /// Schema of the variant's payload object; `None` for a unit variant
    /// (stored as the bare string `tag`).
    pub payload_schema: Option<Value>,
}

impl Variant {
    /// A value of this variant: the payload's starter values, with every
    /// `_ms` field taking the first `_ms` number of `previous` (switching
    /// exponential 10 ms to constant keeps 10 ms) and other numbers 1.
    /// Fields the new variant shares with the previous one (same name, same
    /// JSON type: a fault's `node`, a link's `from`/`to`) keep their values;
    /// a string becomes a one-item list where the new field is a list of strings.
    pub fn starter(&self, previous: Option<&Value>) -> Value {
        let Some(payload_schema) = &self.payload_schema else {
            return Value::String(self.tag.clone());
        };
        let previous_payload = previous
            .and_then(Value::as_object)
            .and_then(|object| object.values().next())
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let carried_ms = previous
            .and_then(Value::as_object)
            .and_then(|object| object.values().next())
            .and_then(Value::as_object)
            .and_then(|payload| {
                payload
                    .iter()
                    .find(|(name, value)| name.ends_with("_ms") && value.is_number())
                    .map(|(_, value)| value.clone())
            });
        let mut payload = starter_value(payload_schema);
        if let Value::Object(fields) = &mut payload {
            for (name, value) in fields.iter_mut() {
                if name.ends_with("_ms")
                    && let Some(carried) = &carried_ms
                {
                    *value = carried.clone();
                } else if value.as_f64() == Some(0.0)
                    && payload_schema
                        .pointer(&format!("/properties/{name}/default"))
                        .is_none()
                {
                    *value = Value::from(1.0);
                }
                match (previous_payload.get(name), &*value) {
                    (Some(old), new) if same_json_type(old, new) && !name.ends_with("_ms") => {
                        *value = old.clone();
                    }
                    (Some(Value::String(old)), Value::Array(_)) if !old.is_empty() => {
                        *value = Value::Array(vec![Value::String(old.clone())]);
                    }
                    _ => {}
                }
            }
        }
        serde_json::json!({ self.tag.clone(): payload })
    }
}

fn same_json_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// A value to start a new object, row or variant with: the schema's starter
/// value, with numbers that would start at 0 without a stated default set to
/// 1 (a zero multiplier, weight or rate is rarely what anyone means).
pub fn friendly_starter(schema: &Value) -> Value {
    let mut value = starter_value(schema);
    if let Value::Object(fields) = &mut value {
        for (name, field) in fields.iter_mut() {
            if field.as_f64() == Some(0.0)
                && !name.ends_with("_ms")
                && schema
                    .pointer(&format!("/properties/{name}/default"))
                    .is_none()
            {
                *field = Value::from(1.0);
            }
        }
    } else if value.as_f64() == Some(0.0) && schema.get("default").is_none() {
        value = Value::from(1.0);
    }
    value
}

/// The variant tag of a stored value (`"tag"` or `{"tag": {...}}`).
pub fn variant_tag(value: &Value) -> Option<String> {
    match value {
        Value::String(tag) => Some(tag.clone()),
        Value::Object(object) if object.len() == 1 => object.keys().next().cloned(),
        _ => None,
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldSpec {
    pub name: String,
    /// How this field extends its parent's JSON path: `.name` for a property,
    /// `[3]` for an array row (so validator problems find their field).
    pub path_segment: String,
    /// Where the field sits in the schema, tags and rows included
    /// (`timeline[].action.crash.node`), for forms that decorate fields by
    /// meaning (a node picker for a fault's `node`).
    pub key: String,
    /// The name without its unit suffix, words separated: `request timeout`.
    pub title: String,
    pub description: String,
    pub unit: Option<&'static str>,
    pub input: FieldInput,
    /// `null` is allowed: an empty input means "absent".
    pub optional: bool,
    pub required: bool,
    pub default: Option<Value>,
}

/// Unit suffixes of the scenario's field-naming convention.
const UNIT_SUFFIXES: &[(&str, &str)] = &[
    ("_ms", "ms"),
    ("_mbps", "Mbit/s"),
    ("_bytes", "bytes"),
    ("_ppm", "ppm"),
    ("_messages", "messages"),
    ("_records", "records"),
    ("_probability", "0–1"),
];

/// Fields of an object schema: required ones first, plain inputs before
/// sub-forms, then alphabetical.
pub fn fields_of(schema: &Value) -> Vec<FieldSpec> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields: Vec<FieldSpec> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .map(|(name, property)| {
                    field_spec(name, property, required.contains(&name.as_str()))
                })
                .collect()
        })
        .unwrap_or_default();
    // Required first; within each group plain inputs before sub-forms and
    // lists (a fault's time before its action), then alphabetical.
    let structured = |field: &FieldSpec| {
        matches!(
            field.input,
            FieldInput::Variants(_) | FieldInput::Object(_) | FieldInput::Array { .. }
        )
    };
    fields.sort_by(|a, b| {
        b.required
            .cmp(&a.required)
            .then(structured(a).cmp(&structured(b)))
            .then(a.name.cmp(&b.name))
    });
    fields
}

fn field_spec(name: &str, schema: &Value, required: bool) -> FieldSpec {
    // `Option<T>` of a structured T: `anyOf: [T, {"type": "null"}]`.
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array)
        && branches.len() == 2
        && let Some(null_index) = branches
            .iter()
            .position(|branch| branch.get("type") == Some(&Value::from("null")))
    {
        let mut inner = branches[1 - null_index].clone();
        if let (Value::Object(inner_object), Value::Object(outer)) = (&mut inner, schema) {
            for (key, value) in outer.iter().filter(|(key, _)| *key != "anyOf") {
                inner_object.insert(key.clone(), value.clone());
            }
        }
        let mut field = field_spec(name, &inner, required);
        field.optional = true;
        return field;
    }
    let (title, unit) = UNIT_SUFFIXES
        .iter()
        .find_map(|(suffix, unit)| {
            name.strip_suffix(suffix).map(|stem| {
                let stem = if *suffix == "_probability" {
                    name
                } else {
                    stem
                };
                (stem.replace('_', " "), Some(*unit))
            })
        })
        .unwrap_or_else(|| (name.replace('_', " "), None));
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(name)) => vec![name.as_str()],
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let optional = types.contains(&"null");
    let minimum = schema.get("minimum").and_then(Value::as_f64);
    let mut maximum = schema.get("maximum").and_then(Value::as_f64);
    if schema.get("format").and_then(Value::as_str) == Some("uint32") {
        maximum = Some(maximum.unwrap_or(f64::from(u32::MAX)));
    }
    let is_probability = name.ends_with("_probability");
    let has_properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|properties| !properties.is_empty());
    let input = if let Some(choices) = choices_of(schema) {
        FieldInput::Choice(choices)
    } else if let Some(variants) = variants_of(schema) {
        FieldInput::Variants(variants)
    } else if types.contains(&"array") && schema.get("items").is_some_and(Value::is_object) {
        FieldInput::Array {
            items: schema.get("items").cloned().unwrap_or(Value::Null),
        }
    } else if has_properties && (types.contains(&"object") || types.is_empty()) {
        FieldInput::Object(schema.clone())
    } else if types.contains(&"integer") {
        FieldInput::Integer { minimum, maximum }
    } else if types.contains(&"number") {
        FieldInput::Number {
            minimum: if is_probability { Some(0.0) } else { minimum },
            maximum: if is_probability { Some(1.0) } else { maximum },
        }
    } else if types.contains(&"boolean") {
        FieldInput::Boolean
    } else if types.contains(&"string") {
        FieldInput::Text
    } else {
        FieldInput::Json
    };
    FieldSpec {
        name: name.to_string(),
        path_segment: format!(".{name}"),
        key: name.to_string(),
        title,
        description: schema
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .replace('\n', " "),
        unit,
        input,
        optional,
        required,
        default: schema.get("default").cloned(),
    }
}

/// Row `index` of the array field `array` whose items follow `items`: a
/// required field named by its index, reached by `[index]` in JSON paths,
/// titled like its list ("rate profile 2") and, for scalar items, with the
/// list's unit (`timeouts_ms` rows are milliseconds).
pub fn row_field(array: &FieldSpec, items: &Value, index: usize) -> FieldSpec {
    let mut row = field_spec(&index.to_string(), items, true);
    row.path_segment = format!("[{index}]");
    row.key = format!("{}[]", array.key);
    row.title = format!("{} {}", singular(&array.title), index + 1);
    row.description = String::new();
    if row.unit.is_none() {
        row.unit = array.unit;
    }
    row.optional = false;
    row.default = None;
    row
}

/// What one item of a list titled `title` is called: `groups` → `group`.
pub fn singular(title: &str) -> String {
    match title.strip_suffix('s') {
        Some(stem) if !stem.ends_with('s') && !stem.is_empty() => stem.to_string(),
        _ => title.to_string(),
    }
}

/// `enum` of strings, or `oneOf` whose every branch is a `const`.
fn choices_of(schema: &Value) -> Option<Vec<(Value, String, String)>> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return Some(
            values
                .iter()
                .map(|value| (value.clone(), display(value), String::new()))
                .collect(),
        );
    }
    let branches = schema.get("oneOf")?.as_array()?;
    branches
        .iter()
        .map(|branch| {
            let value = branch.get("const")?.clone();
            let description = branch
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .replace('\n', " ");
            Some((value.clone(), display(&value), description))
        })
        .collect()
}

/// `oneOf` whose branches are unit variants (`const`/`enum` strings) or
/// externally tagged objects `{"tag": payload}`.
fn variants_of(schema: &Value) -> Option<Vec<Variant>> {
    let branches = schema.get("oneOf")?.as_array()?;
    let mut variants = Vec::new();
    for branch in branches {
        let description = branch
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .replace('\n', " ");
        if let Some(tag) = branch.get("const").and_then(Value::as_str) {
            variants.push(Variant {
                tag: tag.to_string(),
                description,
                payload_schema: None,
            });
        } else if let Some(tags) = branch.get("enum").and_then(Value::as_array) {
            for tag in tags {
                variants.push(Variant {
                    tag: tag.as_str()?.to_string(),
                    description: description.clone(),
                    payload_schema: None,
                });
            }
        } else {
            let properties = branch.get("properties")?.as_object()?;
            if properties.len() != 1 {
                return None;
            }
            let (tag, payload_schema) = properties.iter().next()?;
            let payload_description = payload_schema
                .get("description")
                .and_then(Value::as_str)
                .map(|text| text.replace('\n', " "));
            variants.push(Variant {
                tag: tag.clone(),
                description: payload_description.unwrap_or(description),
                payload_schema: Some(payload_schema.clone()),
            });
        }
    }
    (!variants.is_empty()).then_some(variants)
}

/// How a value reads in an input box (JSON for anything structured).
pub fn display(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

/// What the user typed, as the JSON value to store (`None`: remove the
/// property, so the engine's default applies), or what was expected.
pub fn parse_input(field: &FieldSpec, text: &str) -> Result<Option<Value>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() && !matches!(field.input, FieldInput::Text) {
        return if field.required && !field.optional {
            Err("required: enter a value".to_string())
        } else {
            Ok(None)
        };
    }
    match &field.input {
        FieldInput::Integer { minimum, maximum } => {
            let value: i64 = trimmed
                .parse()
                .map_err(|_| "expected a whole number".to_string())?;
            check_range(value as f64, *minimum, *maximum)?;
            Ok(Some(Value::from(value)))
        }
        FieldInput::Number { minimum, maximum } => {
            let value: f64 = trimmed
                .parse()
                .ok()
                .filter(|value: &f64| value.is_finite())
                .ok_or_else(|| "expected a number".to_string())?;
            check_range(value, *minimum, *maximum)?;
            Ok(Some(Value::from(value)))
        }
        FieldInput::Boolean => match trimmed {
            "true" => Ok(Some(Value::Bool(true))),
            "false" => Ok(Some(Value::Bool(false))),
            _ => Err("expected true or false".to_string()),
        },
        FieldInput::Text => {
            if text.is_empty() && field.optional {
                Ok(None)
            } else {
                Ok(Some(Value::String(text.to_string())))
            }
        }
        FieldInput::Choice(choices) => choices
            .iter()
            .find(|(value, _, _)| display(value) == trimmed)
            .map(|(value, _, _)| Some(value.clone()))
            .ok_or_else(|| {
                let names: Vec<String> =
                    choices.iter().map(|(value, _, _)| display(value)).collect();
                format!("expected one of: {}", names.join(", "))
            }),
        FieldInput::Variants(_)
        | FieldInput::Array { .. }
        | FieldInput::Object(_)
        | FieldInput::Json => serde_json::from_str(trimmed)
            .map(Some)
            .map_err(|error| format!("not valid JSON: {error}")),
    }
}

fn check_range(value: f64, minimum: Option<f64>, maximum: Option<f64>) -> Result<(), String> {
    if let Some(minimum) = minimum
        && value < minimum
    {
        return Err(format!("must be at least {minimum}"));
    }
    if let Some(maximum) = maximum
        && value > maximum
    {
        return Err(format!("must be at most {maximum}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_engine::scenario::catalog::component_catalog;

    fn sink_fields() -> Vec<FieldSpec> {
        let sink = component_catalog()
            .into_iter()
            .find(|entry| entry.kind == "sink")
            .unwrap();
        fields_of(&sink.properties_schema)
    }

    #[test]
    fn every_kind_gets_a_form_with_a_field_per_property() {
        for entry in component_catalog() {
            let count = entry
                .properties_schema
                .get("properties")
                .and_then(Value::as_object)
                .map_or(0, |properties| properties.len());
            assert_eq!(
                fields_of(&entry.properties_schema).len(),
                count,
                "{}",
                entry.kind
            );
        }
    }

    #[test]
    fn units_ranges_and_defaults_come_from_the_schema() {
        let fields = sink_fields();
        assert_eq!(fields[0].name, "service_time", "required fields first");
        let FieldInput::Variants(variants) = &fields[0].input else {
            panic!(
                "a distribution gets a variant picker: {:?}",
                fields[0].input
            );
        };
        let tags: Vec<&str> = variants
            .iter()
            .map(|variant| variant.tag.as_str())
            .collect();
        assert_eq!(
            tags,
            [
                "constant",
                "uniform",
                "exponential",
                "normal",
                "log_normal",
                "pareto",
                "empirical"
            ]
        );
        let previous = serde_json::json!({"exponential": {"mean_ms": 10.0}});
        assert_eq!(
            variants[1].starter(Some(&previous)),
            serde_json::json!({"uniform": {"low_ms": 10.0, "high_ms": 10.0}}),
            "switching keeps the milliseconds"
        );
        let pareto = variants[5].starter(Some(&previous));
        assert_eq!(pareto.pointer("/pareto/shape"), Some(&Value::from(1.0)));
        let timeout = fields
            .iter()
            .find(|field| field.name == "downstream_timeout_ms")
            .unwrap();
        assert_eq!(timeout.unit, Some("ms"));
        assert_eq!(timeout.title, "downstream timeout");
        assert_eq!(timeout.default, Some(Value::from(500)));
        let workers = fields.iter().find(|field| field.name == "workers").unwrap();
        assert_eq!(parse_input(workers, "8"), Ok(Some(Value::from(8))));
        assert_eq!(
            parse_input(workers, "-1"),
            Err("must be at least 0".to_string())
        );
        assert_eq!(
            parse_input(workers, "many"),
            Err("expected a whole number".to_string())
        );
        assert_eq!(
            parse_input(workers, ""),
            Ok(None),
            "empty means the default"
        );
        let probability = fields
            .iter()
            .find(|field| field.name == "error_probability")
            .unwrap();
        assert_eq!(
            parse_input(probability, "1.5"),
            Err("must be at most 1".to_string())
        );
    }

    #[test]
    fn arrays_of_objects_become_rows_and_objects_sub_forms() {
        use faultline_engine::scenario::catalog::{fault_plan_schema, workload_stream_schema};
        let faults = fields_of(&fault_plan_schema());
        let timeline = faults
            .iter()
            .find(|field| field.name == "timeline")
            .unwrap();
        let FieldInput::Array { items } = &timeline.input else {
            panic!("the timeline is a list of rows: {:?}", timeline.input);
        };
        let row = row_field(timeline, items, 2);
        assert_eq!(row.path_segment, "[2]");
        assert_eq!(row.key, "timeline[]");
        let FieldInput::Object(row_schema) = &row.input else {
            panic!("a scheduled fault is a sub-form: {:?}", row.input);
        };
        let row_fields = fields_of(row_schema);
        let at = row_fields
            .iter()
            .find(|field| field.name == "at_ms")
            .unwrap();
        assert_eq!(at.unit, Some("ms"));
        let action = row_fields
            .iter()
            .find(|field| field.name == "action")
            .unwrap();
        let FieldInput::Variants(variants) = &action.input else {
            panic!("a fault action is a variant picker: {:?}", action.input);
        };
        let crash = serde_json::json!({"crash": {"node": "db"}});
        let slow = variants
            .iter()
            .find(|variant| variant.tag == "slow")
            .unwrap();
        assert_eq!(
            slow.starter(Some(&crash)),
            serde_json::json!({"slow": {"node": "db", "factor": 1.0}}),
            "the node is kept when the kind changes"
        );
        let one_way = variants
            .iter()
            .find(|variant| variant.tag == "partition_one_way")
            .unwrap();
        assert_eq!(
            one_way.starter(Some(
                &serde_json::json!({"hold_link": {"from": "a", "to": "b"}})
            )),
            serde_json::json!({"partition_one_way": {"from": ["a"], "to": ["b"]}})
        );
        let nemesis = faults.iter().find(|field| field.name == "nemesis").unwrap();
        assert!(nemesis.optional && matches!(nemesis.input, FieldInput::Object(_)));
        // rate_profile inside the open-loop pattern is rows too, not JSON text.
        let stream = workload_stream_schema();
        let open_loop = stream
            .pointer("/properties/pattern/oneOf/0/properties/open_loop")
            .unwrap();
        let profile = fields_of(open_loop)
            .into_iter()
            .find(|field| field.name == "rate_profile")
            .unwrap();
        assert!(
            matches!(profile.input, FieldInput::Array { .. }),
            "{:?}",
            profile.input
        );
    }

    #[test]
    fn no_component_property_falls_back_to_json_text_unless_it_is_a_map() {
        fn walk(schema: &Value, kind: &str, found: &mut Vec<String>) {
            for field in fields_of(schema) {
                match &field.input {
                    FieldInput::Json => {
                        let is_map = schema
                            .pointer(&format!("/properties/{}/additionalProperties", field.name))
                            .is_some_and(|extra| !extra.is_boolean());
                        if !is_map {
                            found.push(format!("{kind}.{}", field.name));
                        }
                    }
                    FieldInput::Object(inner) => walk(inner, kind, found),
                    FieldInput::Array { items } => {
                        if let FieldInput::Object(inner) = &row_field(&field, items, 0).input {
                            walk(inner, kind, found);
                        }
                    }
                    FieldInput::Variants(variants) => {
                        for variant in variants {
                            if let Some(payload) = &variant.payload_schema {
                                walk(payload, kind, found);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut found = Vec::new();
        for entry in component_catalog() {
            walk(&entry.properties_schema, &entry.kind, &mut found);
        }
        assert!(found.is_empty(), "edited as JSON text: {found:?}");
    }

    #[test]
    fn const_branches_become_choices() {
        let producer = component_catalog()
            .into_iter()
            .find(|entry| entry.kind == "kafka_producer")
            .unwrap();
        let acks = fields_of(&producer.properties_schema)
            .into_iter()
            .find(|field| field.name == "acks")
            .unwrap();
        let FieldInput::Choice(choices) = &acks.input else {
            panic!("acks is a choice: {:?}", acks.input);
        };
        assert_eq!(choices.len(), 3);
        assert_eq!(parse_input(&acks, "all"), Ok(Some(Value::from("all"))));
    }
}
