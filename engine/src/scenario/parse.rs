//! Text → `Scenario`: size and nesting checks, JSON syntax, migration, typed decode, validation.
//!
//! The order matters. Size and depth are checked on raw bytes *before* serde
//! allocates anything, so an absurd file costs a scan, not memory. Typed
//! decoding goes through `serde_path_to_error` so the error names the field.

use super::limits::{MAX_NESTING_DEPTH, MAX_SCENARIO_BYTES};
use super::problems::Problems;
use super::{Scenario, migrate, validate};

/// Marks the inner path a nested decoder (node properties) put in its message.
pub(crate) const INNER_PATH_MARK: &str = "\u{1f}";

/// Parses, migrates and validates a scenario. On failure returns every problem
/// found; the caller's current scenario is untouched (nothing is shared).
pub fn parse_scenario(text: &str) -> Result<Scenario, Problems> {
    if text.len() > MAX_SCENARIO_BYTES {
        return Err(Problems::single(
            "",
            format!(
                "the document is {} bytes; the limit is {MAX_SCENARIO_BYTES} bytes",
                text.len()
            ),
        ));
    }
    check_nesting_depth(text)?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        let kind = match error.classify() {
            serde_json::error::Category::Eof => "the JSON ends too early (truncated file?)",
            serde_json::error::Category::Syntax => "invalid JSON syntax",
            _ => "invalid JSON",
        };
        Problems::single(
            "",
            format!(
                "{kind} at line {} column {}: {}",
                error.line(),
                error.column(),
                strip_serde_position(&error.to_string())
            ),
        )
    })?;
    parse_scenario_value(value)
}

/// As `parse_scenario`, from an already parsed JSON value (URL fragments, tests).
pub fn parse_scenario_value(value: serde_json::Value) -> Result<Scenario, Problems> {
    let value = migrate::migrate_to_current(value)?;
    let scenario: Scenario = serde_path_to_error::deserialize(value).map_err(|error| {
        let outer_path = error.path().to_string();
        let message = error.into_inner().to_string();
        let (path, message) = split_inner_path(&outer_path, &message);
        Problems::single(path, clarify_serde_message(&message))
    })?;
    let problems = validate::validate(&scenario);
    problems.into_result(scenario)
}

fn split_inner_path(outer_path: &str, message: &str) -> (String, String) {
    let outer_path = if outer_path == "." { "" } else { outer_path };
    if let Some(rest) = message.strip_prefix(INNER_PATH_MARK)
        && let Some((inner_path, inner_message)) = rest.split_once(INNER_PATH_MARK)
    {
        let inner_path = if inner_path == "." { "" } else { inner_path };
        let joined = match (outer_path.is_empty(), inner_path.is_empty()) {
            (_, true) => outer_path.to_string(),
            (true, false) => inner_path.to_string(),
            (false, false) => format!("{outer_path}.{inner_path}"),
        };
        return (joined, strip_serde_position(inner_message));
    }
    (outer_path.to_string(), strip_serde_position(message))
}

/// serde_json appends " at line 1 column 0" to errors from `Value` decoding,
/// which is meaningless there; the path says where.
fn strip_serde_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) if message[index..].contains(" column ") => message[..index].to_string(),
        _ => message.to_string(),
    }
}

/// Rewords serde's Rust-centric type names for people writing JSON.
fn clarify_serde_message(message: &str) -> String {
    message
        .replace("expected u64", "expected a non-negative whole number")
        .replace(
            "expected u32",
            "expected a non-negative whole number (up to 4294967295)",
        )
        .replace("expected f64", "expected a number")
        .replace("expected i64", "expected a whole number")
        .replace("expected a sequence", "expected an array")
        .replace("expected struct ", "expected an object ")
}

/// Rejects documents nested deeper than `MAX_NESTING_DEPTH`, scanning bytes
/// (strings skipped) so that no recursive parser ever sees them.
fn check_nesting_depth(text: &str) -> Result<(), Problems> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for byte in text.bytes() {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING_DEPTH {
                    return Err(Problems::single(
                        "",
                        format!(
                            "the document nests objects/arrays deeper than {MAX_NESTING_DEPTH} levels"
                        ),
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}
