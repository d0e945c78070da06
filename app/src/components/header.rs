//! The top bar: product name, the built-in example picker and the file upload.

use crate::workspace::{Workspace, WorkspaceView};
use leptos::prelude::*;
use web_sys::HtmlInputElement;

#[component]
pub fn Header(workspace: Workspace, open: WorkspaceView) -> impl IntoView {
    let on_pick = move |event: web_sys::Event| {
        let file = event_target_value(&event);
        if !file.is_empty() {
            workspace.open_example(file);
        }
    };
    let on_upload = move |event: web_sys::Event| {
        let input: HtmlInputElement = event_target(&event);
        if let Some(file) = input.files().and_then(|files| files.get(0)) {
            workspace.open_file(file);
        }
        // Clear, so that picking the same file again (after fixing it) fires `change`.
        input.set_value("");
    };
    let showing_upload = move || open.selected_example.with(String::is_empty);
    let placeholder = move || {
        if open.scenario.with(Option::is_some) {
            "Uploaded file"
        } else {
            "Loading…"
        }
    };

    view! {
        <header class="app-header">
            <div class="brand">
                <svg class="brand-mark" viewBox="0 0 24 24" aria-hidden="true">
                    <path d="M3 17 L9 7 L13 13 L16 9 L21 17 Z" />
                </svg>
                <span class="brand-name">"Faultline"</span>
                <span class="brand-tagline">"distributed-systems simulator"</span>
            </div>
            <div class="header-tools">
                <span class="header-status" role="status">
                    {move || open.loading.get().then_some("Loading…")}
                </span>
                <label class="picker">
                    <span class="picker-label">"Example"</span>
                    <select
                        data-testid="example-picker"
                        aria-label="Built-in example scenario"
                        on:change=on_pick
                    >
                        <option
                            value=""
                            disabled=true
                            hidden=move || !showing_upload()
                            prop:selected=showing_upload
                        >
                            {placeholder}
                        </option>
                        <For
                            each=move || open.examples.get()
                            key=|example| example.file.clone()
                            children=move |example| {
                                let file = example.file.clone();
                                let selected = move || {
                                    open.selected_example.with(|selected| *selected == file)
                                };
                                view! {
                                    <option value=example.file prop:selected=selected>
                                        {example.title}
                                    </option>
                                }
                            }
                        />
                    </select>
                </label>
                <label class="button upload" title="Open a scenario JSON file">
                    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
                        <path d="M12 16 V4 M7 9 L12 4 L17 9 M5 20 H19" />
                    </svg>
                    <span>"Open file…"</span>
                    <input
                        class="visually-hidden"
                        type="file"
                        accept=".json,application/json"
                        data-testid="upload"
                        aria-label="Open a scenario file"
                        on:change=on_upload
                    />
                </label>
            </div>
        </header>
    }
}
