//! The top bar: product name, file commands (new, open, save, share, recent)
//! and the built-in example picker.

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
                <button class="button" data-testid="new-scenario" title="Start an empty scenario (undoable)" on:click=move |_| workspace.new_scenario()>
                    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
                        <path d="M6 3 H14 L19 8 V21 H6 Z M14 3 V8 H19 M12 11 V17 M9 14 H15" />
                    </svg>
                    <span>"New"</span>
                </button>
                <label class="button upload" title="Open a scenario JSON file (or drop one on the canvas)">
                    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
                        <path d="M12 16 V4 M7 9 L12 4 L17 9 M5 20 H19" />
                    </svg>
                    <span>"Open…"</span>
                    <input
                        class="visually-hidden"
                        type="file"
                        accept=".json,application/json"
                        data-testid="upload"
                        aria-label="Open a scenario file"
                        on:change=on_upload
                    />
                </label>
                <button class="button" data-testid="save" title="Download the scenario as JSON (Ctrl+S)" on:click=move |_| workspace.download()>
                    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
                        <path d="M12 4 V16 M7 11 L12 16 L17 11 M5 20 H19" />
                    </svg>
                    <span>"Save"</span>
                </button>
                <button class="button primary" data-testid="share" title="Put the whole scenario in a link" on:click=move |_| workspace.share()>
                    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
                        <path d="M10 14 a4 4 0 0 0 5.6 0 l3 -3 a4 4 0 0 0 -5.6 -5.6 l-1 1 M14 10 a4 4 0 0 0 -5.6 0 l-3 3 a4 4 0 0 0 5.6 5.6 l1 -1" />
                    </svg>
                    <span>"Share"</span>
                </button>
                <label class="picker">
                    <span class="picker-label">"Recent"</span>
                    <select
                        data-testid="recent"
                        aria-label="Recently saved or opened scenarios"
                        on:change=move |event| {
                            if let Ok(index) = event_target_value(&event).parse::<usize>() {
                                workspace.open_recent(index);
                            }
                            let select: web_sys::HtmlSelectElement = event_target(&event);
                            select.set_value("");
                        }
                    >
                        <option value="" selected=true>
                            {move || if open.recent.with(Vec::is_empty) { "none yet" } else { "Open…" }}
                        </option>
                        {move || {
                            open.recent
                                .get()
                                .into_iter()
                                .enumerate()
                                .map(|(index, entry)| {
                                    let when = crate::editor::storage::clock_time(entry.saved_at_ms);
                                    view! { <option value=index.to_string()>{format!("{} ({when})", entry.title)}</option> }
                                })
                                .collect_view()
                        }}
                    </select>
                </label>
            </div>
        </header>
    }
}
