//! Browser I/O for scenarios: fetching the built-in examples and reading uploaded files as text.
//!
//! Nothing here parses a scenario; it only turns a URL or a `File` into text
//! (or a readable error), bounded by the engine's document size limit.

use faultline_engine::scenario::limits::MAX_SCENARIO_BYTES;
use serde::Deserialize;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Where the built-in examples are served. Trunk's `copy-dir` keeps the
/// directory name, so `public/` in the repository is `public/` in `dist/`.
/// Relative, so the app also works when served from a sub-path.
const EXAMPLES_DIR: &str = "public/scenarios";

/// The example opened on start: it has a partition at t = 10 s, so links and
/// nodes visibly change state.
pub const DEFAULT_EXAMPLE_FILE: &str = "three-node-chain-partition.json";

/// One entry of `public/scenarios/index.json`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ExampleEntry {
    pub file: String,
    pub title: String,
}

/// The list of built-in examples.
pub async fn fetch_example_index() -> Result<Vec<ExampleEntry>, String> {
    let text = fetch_text(&format!("{EXAMPLES_DIR}/index.json")).await?;
    serde_json::from_str(&text).map_err(|error| format!("the example index is not valid: {error}"))
}

/// The text of one built-in example.
pub async fn fetch_example(file: &str) -> Result<String, String> {
    fetch_text(&format!("{EXAMPLES_DIR}/{file}")).await
}

/// The text of a file the user picked. Files over the engine's size limit are
/// refused before they are read, so a huge file costs nothing.
pub async fn read_file_text(file: web_sys::File) -> Result<String, String> {
    let size_bytes = file.size();
    if size_bytes > MAX_SCENARIO_BYTES as f64 {
        return Err(format!(
            "the file is {size_bytes:.0} bytes; the limit is {MAX_SCENARIO_BYTES} bytes"
        ));
    }
    let text = JsFuture::from(file.text())
        .await
        .map_err(|error| format!("the file could not be read: {}", describe_js_error(&error)))?;
    text.as_string()
        .ok_or_else(|| "the file could not be read as text".to_string())
}

async fn fetch_text(url: &str) -> Result<String, String> {
    let window = web_sys::window().ok_or("no browser window")?;
    let response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|error| format!("could not fetch {url}: {}", describe_js_error(&error)))?;
    let response: web_sys::Response = response
        .dyn_into()
        .map_err(|_| format!("could not fetch {url}: not a response"))?;
    if !response.ok() {
        return Err(format!(
            "could not fetch {url}: HTTP {} {}",
            response.status(),
            response.status_text()
        ));
    }
    let text_promise = response
        .text()
        .map_err(|error| format!("could not read {url}: {}", describe_js_error(&error)))?;
    let text = JsFuture::from(text_promise)
        .await
        .map_err(|error| format!("could not read {url}: {}", describe_js_error(&error)))?;
    text.as_string()
        .ok_or_else(|| format!("could not read {url} as text"))
}

fn describe_js_error(error: &wasm_bindgen::JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "unknown error".to_string())
}

/// Offers `text` as a file download named `file_name` (a Blob URL, revoked after the click).
pub fn download_text(file_name: &str, text: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/json");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)
        .map_err(|error| describe_js_error(&error))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)
        .map_err(|error| describe_js_error(&error))?;
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or("no document")?;
    let anchor: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|error| describe_js_error(&error))?
        .dyn_into()
        .map_err(|_| "could not create a link".to_string())?;
    anchor.set_href(&url);
    anchor.set_download(file_name);
    anchor.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

/// A file name for a scenario title: letters, digits and dashes only.
pub fn file_name_for(title: &str) -> String {
    let stem: String = title
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let stem = stem
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if stem.is_empty() {
        "scenario.json".to_string()
    } else {
        format!("{stem}.json")
    }
}
