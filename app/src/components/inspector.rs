//! The inspector: a typed form for the selection, generated from the engine's
//! JSON Schema (component properties per kind, a link's network), with units,
//! ranges, defaults, inline errors (the form's own parsing and the engine
//! validator's problems for that field) and multi-edit for several nodes of
//! one kind. With nothing selected it edits the scenario's title and description.

use crate::components::canvas::{LINK_KINDS, link_kind_name, link_kind_title};
use crate::components::fault_plan_form::{expectations_form, fault_plan_form};
use crate::components::schema_fields::{FormTarget, schema_fields};
use crate::editor::icons::icon_or_generic;
use crate::editor::schema_form::{FieldInput, FieldSpec, fields_of};
use crate::editor::{Editor, Selection, properties_json};
use crate::format;
use faultline_engine::scenario::catalog::{
    link_network_schema, run_settings_schema, workload_stream_schema,
};
use leptos::prelude::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use wasm_bindgen::JsCast;

#[component]
pub fn Inspector(editor: Editor) -> impl IntoView {
    // Re-render the form only when *what* is selected changes; values inside
    // read the document reactively.
    let shape = Memo::new(move |_| {
        let selection = editor.selection.get();
        let kinds: BTreeSet<&'static str> = editor.document.with_untracked(|document| {
            document
                .iter()
                .flat_map(|scenario| scenario.topology.nodes.iter())
                .filter(|node| selection.nodes.contains(&node.id))
                .map(|node| node.spec.kind_name())
                .collect()
        });
        (selection, kinds)
    });
    view! {
        <section class="card inspector" aria-labelledby="inspector-title" data-testid="inspector">
            {move || {
                let (selection, kinds) = shape.get();
                if let Some(index) = selection.link {
                    link_form(editor, index).into_any()
                } else if let Some(zone) = selection.zone.clone() {
                    zone_form(editor, zone).into_any()
                } else if !selection.nodes.is_empty() && kinds.len() == 1 {
                    let kind = kinds.into_iter().next().unwrap_or_default();
                    node_form(editor, selection, kind).into_any()
                } else if !selection.nodes.is_empty() {
                    view! {
                        <h2 class="card-title" id="inspector-title">"Inspector"</h2>
                        <p class="card-subtitle">
                            {format!(
                                "{} of different kinds selected: select nodes of one kind to edit them together.",
                                format::counted(selection.nodes.len(), "node", "nodes"),
                            )}
                        </p>
                    }
                        .into_any()
                } else {
                    scenario_form(editor).into_any()
                }
            }}
        </section>
    }
}

fn scenario_form(editor: Editor) -> impl IntoView {
    let title = move || {
        editor.document.with(|document| {
            document
                .as_ref()
                .map(|scenario| scenario.metadata.title.clone())
                .unwrap_or_default()
        })
    };
    let description = move || {
        editor.document.with(|document| {
            document
                .as_ref()
                .map(|scenario| scenario.metadata.description.clone())
                .unwrap_or_default()
        })
    };
    view! {
        <h2 class="card-title" id="inspector-title">"Scenario"</h2>
        <p class="card-subtitle">"Select a node, link or zone to edit it."</p>
        <div class="field">
            <label class="field-label" for="scenario-title">"Title"</label>
            <input
                id="scenario-title"
                class="field-input"
                type="text"
                prop:value=title
                on:change=move |event| {
                    let value = event_target_value(&event);
                    editor.edit("Rename scenario", |scenario| scenario.metadata.title = value);
                }
            />
        </div>
        <div class="field">
            <label class="field-label" for="scenario-description">"Description"</label>
            <textarea
                id="scenario-description"
                class="field-input"
                rows="3"
                prop:value=description
                on:change=move |event| {
                    let value = event_target_value(&event);
                    editor.edit("Edit description", |scenario| scenario.metadata.description = value);
                }
            ></textarea>
        </div>
        {run_settings_form(editor)}
        {workload_form(editor)}
        {fault_plan_form(editor)}
        {expectations_form(editor)}
    }
}

/// The scenario's `run` object, from `RunSettings`' JSON Schema.
fn run_settings_form(editor: Editor) -> impl IntoView {
    let target = FormTarget::new(
        Arc::new(move |field: &str| {
            editor.document.with(|document| {
                document
                    .as_ref()
                    .and_then(|scenario| serde_json::to_value(&scenario.run).ok())
                    .and_then(|run| run.get(field).cloned())
                    .into_iter()
                    .collect()
            })
        }),
        Arc::new(move |field: &str, value: Option<Value>| editor.set_run_field(field, value)),
        vec!["run".to_string()],
    );
    view! {
        <h3 class="form-section">"Run settings"</h3>
        <div data-testid="run-settings">
            {schema_fields(fields_of(&run_settings_schema()), target, "run")}
        </div>
    }
}

/// The workload's streams, one schema-driven form each, with add and remove.
/// `client` and `target` pick among the topology's node ids.
fn workload_form(editor: Editor) -> impl IntoView {
    let stream_count = Memo::new(move |_| {
        editor.document.with(|document| {
            document
                .as_ref()
                .map_or(0, |scenario| scenario.workload.streams.len())
        })
    });
    view! {
        <h3 class="form-section">"Workload"</h3>
        <div data-testid="workload">
            {move || {
                let count = stream_count.get();
                if count == 0 {
                    view! {
                        <p class="field-help" data-testid="no-streams">
                            "No streams: nothing sends requests. Add one from a load generator."
                        </p>
                    }
                        .into_any()
                } else {
                    // Forms of many streams would be tens of thousands of DOM
                    // nodes (each `client`/`target` choice lists every node),
                    // which makes every layout of the page slow; past a few
                    // streams each one is a closed row whose form is built
                    // only when opened.
                    let open_all = count <= STREAM_FORMS_OPEN_UP_TO;
                    (0..count)
                        .map(|index| stream_form(editor, index, open_all || index + 1 == count))
                        .collect_view()
                        .into_any()
                }
            }}
            <button class="button" data-testid="add-stream" on:click=move |_| editor.add_stream()>
                "Add stream"
            </button>
        </div>
    }
}

/// Workloads with at most this many streams show every stream's form open.
const STREAM_FORMS_OPEN_UP_TO: usize = 6;

/// One stream as a `<details>` row: its summary says who calls whom; its form
/// exists in the DOM only while the row is open.
fn stream_form(editor: Editor, index: usize, initially_open: bool) -> impl IntoView {
    let (open, set_open) = signal(initially_open);
    let summary = move || {
        editor.document.with(|document| {
            document
                .as_ref()
                .and_then(|scenario| scenario.workload.streams.get(index))
                .map(|stream| {
                    let client = if stream.client.is_empty() {
                        "?"
                    } else {
                        &stream.client
                    };
                    let target = if stream.target.is_empty() {
                        "?"
                    } else {
                        &stream.target
                    };
                    format!("{}: {client} → {target}", stream.id)
                })
                .unwrap_or_default()
        })
    };
    view! {
        <details
            class="stream-form"
            data-testid="stream"
            data-index=index.to_string()
            open=initially_open
            on:toggle=move |event| {
                let now_open = event
                    .target()
                    .and_then(|target| target.dyn_into::<web_sys::HtmlDetailsElement>().ok())
                    .is_some_and(|details| details.open());
                set_open.set(now_open);
            }
        >
            <summary class="field-label" data-testid="stream-summary">"Stream " {summary}</summary>
            {move || open.get().then(|| stream_fields(editor, index))}
        </details>
    }
}

fn stream_fields(editor: Editor, index: usize) -> impl IntoView {
    let node_ids: Vec<(String, &'static str)> = editor.document.with_untracked(|document| {
        document
            .iter()
            .flat_map(|scenario| scenario.topology.nodes.iter())
            .map(|node| (node.id.clone(), node.spec.kind_name()))
            .collect()
    });
    let fields: Vec<FieldSpec> = fields_of(&workload_stream_schema())
        .into_iter()
        .map(|mut field| {
            if field.name == "client" || field.name == "target" {
                let wanted_client = field.name == "client";
                field.input = FieldInput::Choice(
                    std::iter::once((
                        Value::from(""),
                        "(choose a node)".to_string(),
                        String::new(),
                    ))
                    .chain(
                        node_ids
                            .iter()
                            .filter(|(_, kind)| (*kind == "load_generator") == wanted_client)
                            .map(|(id, kind)| {
                                (
                                    Value::from(id.as_str()),
                                    id.clone(),
                                    format::wire_name(kind),
                                )
                            }),
                    )
                    .collect(),
                );
            }
            field
        })
        .collect();
    let stream_id = move || {
        editor.document.with(|document| {
            document
                .as_ref()
                .and_then(|scenario| scenario.workload.streams.get(index))
                .map(|stream| stream.id.clone())
                .unwrap_or_default()
        })
    };
    let target = FormTarget::new(
        Arc::new(move |field: &str| {
            editor.document.with(|document| {
                document
                    .as_ref()
                    .and_then(|scenario| scenario.workload.streams.get(index))
                    .and_then(|stream| serde_json::to_value(stream).ok())
                    .and_then(|stream| stream.get(field).cloned())
                    .into_iter()
                    .collect()
            })
        }),
        Arc::new(move |field: &str, value: Option<Value>| {
            editor.set_stream_field(index, field, value)
        }),
        vec![format!("workload.streams[{index}]")],
    );
    view! {
        <div class="stream-fields">
            {schema_fields(fields, target, &format!("stream{index}"))}
            <button
                class="button"
                data-testid="remove-stream"
                aria-label=move || format!("Remove stream {}", stream_id())
                on:click=move |_| editor.remove_stream(index)
            >
                "Remove stream"
            </button>
        </div>
    }
}

fn node_form(editor: Editor, selection: Selection, kind: &'static str) -> impl IntoView {
    let schema = editor.catalog.with_value(|catalog| {
        catalog
            .iter()
            .find(|entry| entry.kind == kind)
            .map(|entry| (entry.properties_schema.clone(), entry.description.clone()))
    });
    let (schema, description) = schema.unwrap_or((Value::Null, String::new()));
    let fields = fields_of(&schema);
    let ids = selection.nodes.clone();
    let single = (ids.len() == 1).then(|| ids.iter().next().cloned().unwrap_or_default());
    let paths: Vec<String> = editor.document.with_untracked(|document| {
        document
            .iter()
            .flat_map(|scenario| scenario.topology.nodes.iter().enumerate())
            .filter(|(_, node)| ids.contains(&node.id))
            .map(|(index, _)| format!("topology.nodes[{index}].properties"))
            .collect()
    });
    let read_ids = ids.clone();
    let write_ids = ids.clone();
    let target = FormTarget::new(
        Arc::new(move |field: &str| {
            editor.document.with(|document| {
                document
                    .iter()
                    .flat_map(|scenario| scenario.topology.nodes.iter())
                    .filter(|node| read_ids.contains(&node.id))
                    .map(|node| {
                        properties_json(&node.spec)
                            .get(field)
                            .cloned()
                            .unwrap_or(Value::Null)
                    })
                    .collect()
            })
        }),
        Arc::new(move |field: &str, value: Option<Value>| {
            editor.set_node_property(&write_ids, field, value)
        }),
        paths,
    );
    let heading = match &single {
        Some(_) => format::wire_name(kind),
        None => format!("{} × {}", ids.len(), format::wire_name(kind)),
    };
    let label_field = single.map(|id| {
        let label_id = id.clone();
        let shown_id = id.clone();
        let label = move || {
            editor.document.with(|document| {
                document
                    .iter()
                    .flat_map(|scenario| scenario.topology.nodes.iter())
                    .find(|node| node.id == label_id)
                    .map(|node| node.label.clone())
                    .unwrap_or_default()
            })
        };
        view! {
            <div class="field">
                <label class="field-label" for="node-label">"Label"</label>
                <input
                    id="node-label"
                    class="field-input"
                    data-testid="node-label-input"
                    type="text"
                    prop:value=label
                    on:change=move |event| editor.set_node_label(&id, event_target_value(&event))
                />
            </div>
            <p class="field-help">"id " <code>{shown_id}</code></p>
        }
    });
    view! {
        <h2 class="card-title inspector-heading" id="inspector-title">
            <svg class="palette-icon" viewBox="0 0 24 24" aria-hidden="true">
                <path d=icon_or_generic(kind) />
            </svg>
            {heading}
        </h2>
        <p class="card-subtitle">{description}</p>
        {label_field}
        <h3 class="form-section">"Properties"</h3>
        {schema_fields(fields, target, "prop")}
    }
}

fn link_form(editor: Editor, index: usize) -> impl IntoView {
    let link_now = move || {
        editor.document.with(|document| {
            document
                .as_ref()
                .and_then(|scenario| scenario.topology.links.get(index).cloned())
        })
    };
    let ends = move || {
        link_now()
            .map(|link| format!("{} → {}", link.from, link.to))
            .unwrap_or_default()
    };
    let kind = move || {
        link_now()
            .map(|link| link_kind_name(link.kind))
            .unwrap_or_default()
    };
    let label = move || link_now().map(|link| link.label).unwrap_or_default();
    let target = FormTarget::new(
        Arc::new(move |field: &str| {
            link_now()
                .and_then(|link| serde_json::to_value(&link.network).ok())
                .and_then(|network| network.get(field).cloned())
                .into_iter()
                .collect()
        }),
        Arc::new(move |field: &str, value: Option<Value>| {
            editor.set_link_network_field(index, field, value)
        }),
        vec![format!("topology.links[{index}].network")],
    );
    view! {
        <h2 class="card-title" id="inspector-title">"Link"</h2>
        <p class="card-subtitle">{ends}</p>
        <div class="field">
            <label class="field-label" for="link-kind">"Kind"</label>
            <select
                id="link-kind"
                class="field-input"
                data-testid="link-kind"
                prop:value=kind
                on:change=move |event| {
                    let value = event_target_value(&event);
                    if let Some(kind) = LINK_KINDS.into_iter().find(|kind| link_kind_name(*kind) == value) {
                        editor.edit_link(index, "Change link kind", |link| link.kind = kind);
                    }
                }
            >
                {LINK_KINDS
                    .into_iter()
                    .map(|kind| view! { <option value=link_kind_name(kind)>{link_kind_title(kind)}</option> })
                    .collect_view()}
            </select>
        </div>
        <div class="field">
            <label class="field-label" for="link-label">"Label"</label>
            <input
                id="link-label"
                class="field-input"
                data-testid="link-label-input"
                type="text"
                prop:value=label
                on:change=move |event| {
                    let value = event_target_value(&event);
                    editor.edit_link(index, "Label link", |link| link.label = value);
                }
            />
        </div>
        <h3 class="form-section">"Network"</h3>
        {schema_fields(fields_of(&link_network_schema()), target, "net")}
    }
}

fn zone_form(editor: Editor, zone_id: String) -> impl IntoView {
    let read_id = zone_id.clone();
    let zone_now = move || {
        editor.document.with(|document| {
            document.as_ref().and_then(|scenario| {
                scenario
                    .topology
                    .zones
                    .iter()
                    .find(|zone| zone.id == read_id)
                    .cloned()
            })
        })
    };
    let label = {
        let zone_now = zone_now.clone();
        move || zone_now().map(|zone| zone.label).unwrap_or_default()
    };
    let members = move || {
        zone_now()
            .map(|zone| zone.nodes.join(", "))
            .unwrap_or_default()
    };
    let rename_id = zone_id.clone();
    let ungroup_id = zone_id.clone();
    view! {
        <h2 class="card-title" id="inspector-title">"Zone"</h2>
        <p class="card-subtitle">
            "Faults can target this zone by its id " <code>{zone_id.clone()}</code>
            " (e.g. a partition that cuts it off)."
        </p>
        <div class="field">
            <label class="field-label" for="zone-label">"Label"</label>
            <input
                id="zone-label"
                class="field-input"
                type="text"
                prop:value=label
                on:change=move |event| editor.set_zone_label(&rename_id, event_target_value(&event))
            />
        </div>
        <p class="field-help">"Members: " {members}</p>
        <button class="button" on:click=move |_| editor.ungroup_zone(&ungroup_id)>
            "Ungroup"
        </button>
    }
}
