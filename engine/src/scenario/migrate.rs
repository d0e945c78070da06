//! Forward migrations: any older scenario version is rewritten, step by step, to the current one.
//!
//! Migrations work on `serde_json::Value`, before typed decoding, so a type
//! can change shape freely. Each step takes version N to N+1 and is tested.
//!
//! Version history:
//! - 0: the design-phase draft layout. Run settings lived at the top level
//!   (`seed`, `duration_ms`) and a link's latency was a bare `latency_ms` number.
//! - 1: `run` object; `links[].network` with a latency distribution.

use super::CURRENT_VERSION;
use super::problems::Problems;
use serde_json::{Map, Value, json};

pub fn migrate_to_current(mut value: Value) -> Result<Value, Problems> {
    let Some(object) = value.as_object() else {
        return Err(Problems::single(
            "",
            "expected a JSON object at the top level",
        ));
    };
    let version = match object.get("version") {
        None => {
            return Err(Problems::single(
                "version",
                format!("missing; expected the format version (current: {CURRENT_VERSION})"),
            ));
        }
        Some(Value::Number(number)) => match number.as_u64() {
            Some(version) => version,
            None => {
                return Err(Problems::single(
                    "version",
                    format!("expected a whole number from 0 to {CURRENT_VERSION}, found {number}"),
                ));
            }
        },
        Some(other) => {
            return Err(Problems::single(
                "version",
                format!("expected a whole number, found {other}"),
            ));
        }
    };
    if version > CURRENT_VERSION as u64 {
        return Err(Problems::single(
            "version",
            format!(
                "version {version} is newer than this build understands (up to {CURRENT_VERSION}); update Faultline"
            ),
        ));
    }
    let mut version = version as u32;
    while version < CURRENT_VERSION {
        value = match version {
            0 => migrate_v0_to_v1(value)?,
            other => {
                return Err(Problems::single(
                    "version",
                    format!("no migration from version {other}"),
                ));
            }
        };
        version += 1;
    }
    Ok(value)
}

fn migrate_v0_to_v1(mut value: Value) -> Result<Value, Problems> {
    let object = value
        .as_object_mut()
        .ok_or_else(|| Problems::single("", "expected an object"))?;
    let mut run = Map::new();
    for key in ["seed", "duration_ms"] {
        if let Some(field) = object.remove(key) {
            run.insert(key.to_string(), field);
        }
    }
    object.insert("run".to_string(), Value::Object(run));
    if let Some(links) = object
        .get_mut("topology")
        .and_then(|topology| topology.get_mut("links"))
        .and_then(Value::as_array_mut)
    {
        for link in links {
            if let Some(link) = link.as_object_mut()
                && let Some(latency_ms) = link.remove("latency_ms")
            {
                link.insert(
                    "network".to_string(),
                    json!({ "latency": { "constant": { "value_ms": latency_ms } } }),
                );
            }
        }
    }
    object.insert("version".to_string(), json!(1));
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_zero_moves_run_settings_and_link_latency() {
        let draft = json!({
            "version": 0, "seed": 9, "duration_ms": 1000,
            "topology": {"nodes": [], "links": [{"from": "a", "to": "b", "latency_ms": 7.5}]}
        });
        let migrated = migrate_to_current(draft).unwrap();
        assert_eq!(migrated["version"], json!(1));
        assert_eq!(migrated["run"], json!({"seed": 9, "duration_ms": 1000}));
        assert_eq!(
            migrated["topology"]["links"][0]["network"]["latency"]["constant"]["value_ms"],
            json!(7.5)
        );
    }

    #[test]
    fn future_version_is_refused_clearly() {
        let error = migrate_to_current(json!({"version": 99})).unwrap_err();
        assert!(
            error.to_string().contains("newer than this build"),
            "{error}"
        );
    }
}
