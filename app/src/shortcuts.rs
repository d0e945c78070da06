//! Window-level keyboard shortcuts and clipboard (copy/cut/paste of the
//! selection as scenario JSON, so it also works between tabs and windows).
//!
//! Keys typed into a text field are left alone, except Escape.

use crate::editor::{Editor, GRID_PX, Selection};
use crate::workspace::Workspace;
use faultline_engine::Scenario;
use faultline_engine::scenario::limits::MAX_SCENARIO_BYTES;
use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

fn in_text_field(event: &web_sys::Event) -> bool {
    event
        .target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|element| {
            matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                || element.closest("[role=dialog]").ok().flatten().is_some()
        })
}

pub fn install(editor: Editor, workspace: Workspace, set_cheat_sheet_open: WriteSignal<bool>) {
    let keydown = window_event_listener(ev::keydown, move |event| {
        let key = event.key();
        if key == "Escape" {
            set_cheat_sheet_open.set(false);
            if !in_text_field(&event) {
                editor.select(Selection::default());
            }
            return;
        }
        if in_text_field(&event) {
            return;
        }
        let command = event.ctrl_key() || event.meta_key();
        let shift = event.shift_key();
        let handled = match (command, key.as_str()) {
            (true, "z" | "Z") if shift => {
                editor.redo();
                true
            }
            (true, "z" | "Z") => {
                editor.undo();
                true
            }
            (true, "y") => {
                editor.redo();
                true
            }
            (true, "d") => {
                editor.duplicate_selection();
                true
            }
            (true, "a") => {
                editor.select_all();
                true
            }
            (true, "s") => {
                workspace.download();
                true
            }
            (false, "Delete" | "Backspace") => {
                editor.delete_selection();
                true
            }
            (false, "?") => {
                set_cheat_sheet_open.set(true);
                true
            }
            (false, "f" | "F") => {
                editor.fit_view();
                true
            }
            (false, "+" | "=") => {
                editor.zoom_by(1.25);
                true
            }
            (false, "-") => {
                editor.zoom_by(1.0 / 1.25);
                true
            }
            (false, "0") => {
                editor.zoom_by(1.0 / editor.viewport.get_untracked().zoom);
                true
            }
            (false, "g" | "G") => {
                editor.group_selection_into_zone();
                true
            }
            (false, "l" | "L") => {
                editor.tidy();
                true
            }
            (false, "ArrowLeft" | "ArrowRight" | "ArrowUp" | "ArrowDown") => {
                let ids = editor.selection.get_untracked().nodes;
                if ids.is_empty() {
                    false
                } else {
                    let step = if shift { 5.0 * GRID_PX } else { GRID_PX };
                    let (dx, dy) = match key.as_str() {
                        "ArrowLeft" => (-step, 0.0),
                        "ArrowRight" => (step, 0.0),
                        "ArrowUp" => (0.0, -step),
                        _ => (0.0, step),
                    };
                    editor.move_nodes(&ids, dx, dy);
                    true
                }
            }
            _ => false,
        };
        if handled {
            event.prevent_default();
        }
    });

    let copy_selection = move |event: &web_sys::ClipboardEvent| -> bool {
        let Some(fragment) = editor.selection_as_scenario() else {
            return false;
        };
        let (Some(transfer), Ok(text)) = (
            event.clipboard_data(),
            serde_json::to_string_pretty(&fragment),
        ) else {
            return false;
        };
        transfer.set_data("text/plain", &text).is_ok()
    };
    let copy = window_event_listener_untyped("copy", move |event| {
        if in_text_field(&event) {
            return;
        }
        if let Ok(event) = event.dyn_into::<web_sys::ClipboardEvent>()
            && copy_selection(&event)
        {
            event.prevent_default();
            editor.notify("Copied the selection as scenario JSON", false);
        }
    });
    let cut = window_event_listener_untyped("cut", move |event| {
        if in_text_field(&event) {
            return;
        }
        if let Ok(event) = event.dyn_into::<web_sys::ClipboardEvent>()
            && copy_selection(&event)
        {
            event.prevent_default();
            editor.delete_selection();
        }
    });
    let paste = window_event_listener_untyped("paste", move |event| {
        if in_text_field(&event) {
            return;
        }
        let Ok(event) = event.dyn_into::<web_sys::ClipboardEvent>() else {
            return;
        };
        let Some(text) = event
            .clipboard_data()
            .and_then(|transfer| transfer.get_data("text/plain").ok())
        else {
            return;
        };
        if !text.trim_start().starts_with('{') {
            return;
        }
        event.prevent_default();
        if text.len() > MAX_SCENARIO_BYTES {
            editor.notify(
                "The pasted text is larger than the scenario size limit",
                true,
            );
            return;
        }
        match serde_json::from_str::<Scenario>(&text) {
            Ok(fragment) => editor.paste(fragment, "Paste"),
            Err(error) => editor.notify(
                format!("The clipboard holds no scenario JSON: {error}"),
                true,
            ),
        }
    });
    on_cleanup(move || {
        keydown.remove();
        copy.remove();
        cut.remove();
        paste.remove();
    });
}
