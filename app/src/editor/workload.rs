//! Edits of the scenario's workload streams and run settings: each one a
//! single undoable step through `Editor::try_edit`, refused with serde's
//! message (in JSON words) when the result would not load.

use super::{Editor, clarify};
use faultline_engine::Scenario;
use faultline_engine::distribution::Distribution;
use faultline_engine::scenario::{LoadPattern, WorkloadStream};
use serde_json::Value;

/// A new stream's open-loop mean inter-arrival time: 10 requests per second,
/// light enough for any starter topology.
const NEW_STREAM_MEAN_INTER_ARRIVAL_MS: f64 = 100.0;

/// Sets (or, with `None`, removes so the default applies) one field of a JSON
/// object form of `value`, and reads it back as `T`.
pub(super) fn with_field<T>(value: &T, field: &str, new: Option<Value>) -> Result<T, String>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut json = serde_json::to_value(value).map_err(|error| error.to_string())?;
    if let Value::Object(object) = &mut json {
        match new {
            Some(new) => {
                object.insert(field.to_string(), new);
            }
            None => {
                object.remove(field);
            }
        }
    }
    serde_json::from_value(json).map_err(|error| clarify(&error.to_string()))
}

impl Editor {
    /// Sets one field of `run` (seed, duration_ms, ...).
    pub fn set_run_field(self, field: &str, value: Option<Value>) -> Result<(), String> {
        self.try_edit(
            &format!("Edit run {}", field.replace('_', " ")),
            |scenario| {
                scenario.run = with_field(&scenario.run, field, value)?;
                Ok(())
            },
        )
    }

    /// Sets one field of `workload.streams[index]`.
    pub fn set_stream_field(
        self,
        index: usize,
        field: &str,
        value: Option<Value>,
    ) -> Result<(), String> {
        self.try_edit(
            &format!("Edit stream {}", field.replace('_', " ")),
            |scenario| {
                let stream = scenario
                    .workload
                    .streams
                    .get_mut(index)
                    .ok_or("the stream no longer exists")?;
                *stream = with_field(stream, field, value)?;
                Ok(())
            },
        )
    }

    /// Appends a stream from the first load generator to the first node that
    /// is not one (either left empty when there is none: the validator says so).
    pub fn add_stream(self) {
        self.edit("Add stream", |scenario| {
            let stream = starter_stream(scenario);
            scenario.workload.streams.push(stream);
        });
    }

    pub fn remove_stream(self, index: usize) {
        self.edit("Remove stream", |scenario| {
            if index < scenario.workload.streams.len() {
                scenario.workload.streams.remove(index);
            }
        });
    }
}

fn starter_stream(scenario: &Scenario) -> WorkloadStream {
    let nodes = &scenario.topology.nodes;
    let client = nodes
        .iter()
        .find(|node| node.spec.kind_name() == "load_generator")
        .map(|node| node.id.clone())
        .unwrap_or_default();
    let target = nodes
        .iter()
        .find(|node| node.spec.kind_name() != "load_generator")
        .map(|node| node.id.clone())
        .unwrap_or_default();
    let mut number = scenario.workload.streams.len() + 1;
    while scenario
        .workload
        .streams
        .iter()
        .any(|stream| stream.id == format!("stream-{number}"))
    {
        number += 1;
    }
    // Through serde so every optional field takes the engine's own default.
    let pattern = LoadPattern::OpenLoop {
        inter_arrival: Distribution::Exponential {
            mean_ms: NEW_STREAM_MEAN_INTER_ARRIVAL_MS,
        },
        rate_profile: Vec::new(),
    };
    serde_json::from_value(serde_json::json!({
        "id": format!("stream-{number}"),
        "client": client,
        "target": target,
        "pattern": serde_json::to_value(&pattern).unwrap_or(Value::Null),
    }))
    .unwrap_or(WorkloadStream {
        id: format!("stream-{number}"),
        client: String::new(),
        target: String::new(),
        pattern,
        request_bytes: 256,
        start_ms: 0,
        stop_ms: None,
        path: None,
        auth_token: true,
    })
}
