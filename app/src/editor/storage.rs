//! localStorage: the autosaved document (recovery after a reload or a crash)
//! and a short list of recently saved or opened scenarios.
//!
//! Storage can be missing, full or disabled (private windows); every call
//! degrades to "nothing stored" rather than failing the edit that caused it.

use serde::{Deserialize, Serialize};

const AUTOSAVE_KEY: &str = "faultline.autosave.v1";
const RECENT_KEY: &str = "faultline.recent.v1";
/// Recent scenarios kept; each holds a whole document, so keep it short.
pub const MAX_RECENT_SCENARIOS: usize = 8;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Autosave {
    /// Wall-clock milliseconds since the epoch (only ever shown to the user).
    pub saved_at_ms: f64,
    pub scenario_json: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecentScenario {
    pub title: String,
    pub saved_at_ms: f64,
    pub scenario_json: String,
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

pub fn write_autosave(scenario_json: String) {
    let record = Autosave {
        saved_at_ms: now_ms(),
        scenario_json,
    };
    if let (Some(storage), Ok(text)) = (local_storage(), serde_json::to_string(&record)) {
        // A full quota only loses the autosave, never the edit.
        let _ = storage.set_item(AUTOSAVE_KEY, &text);
    }
}

pub fn read_autosave() -> Option<Autosave> {
    let text = local_storage()?.get_item(AUTOSAVE_KEY).ok()??;
    serde_json::from_str(&text).ok()
}

pub fn read_recent() -> Vec<RecentScenario> {
    local_storage()
        .and_then(|storage| storage.get_item(RECENT_KEY).ok().flatten())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Puts `scenario_json` first in the recent list (same title replaces), bounded.
pub fn remember_recent(title: &str, scenario_json: String) -> Vec<RecentScenario> {
    let mut recent = read_recent();
    recent.retain(|entry| entry.title != title);
    recent.insert(
        0,
        RecentScenario {
            title: title.to_string(),
            saved_at_ms: now_ms(),
            scenario_json,
        },
    );
    recent.truncate(MAX_RECENT_SCENARIOS);
    if let (Some(storage), Ok(text)) = (local_storage(), serde_json::to_string(&recent)) {
        let _ = storage.set_item(RECENT_KEY, &text);
    }
    recent
}

/// "14:05" style local time for a stored timestamp.
pub fn clock_time(epoch_ms: f64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(epoch_ms));
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}
