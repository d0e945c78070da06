//! The inspector: a typed form for the selection, generated from the engine's
//! JSON Schema (component properties per kind, a link's network), with units,
//! ranges, defaults, inline errors (the form's own parsing and the engine
//! validator's problems for that field) and multi-edit for several nodes of
//! one kind. With nothing selected it edits the scenario's title and description.

use crate::components::canvas::{LINK_KINDS, link_kind_name, link_kind_title};
use crate::editor::icons::icon_or_generic;
use crate::editor::schema_form::{
    FieldInput, FieldSpec, Variant, display, fields_of, parse_input, variant_tag,
};
use crate::editor::{Editor, Selection, properties_json};
use crate::format;
use faultline_engine::scenario::catalog::{
    link_network_schema, run_settings_schema, workload_stream_schema,
};
use leptos::prelude::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Reads one field's current values across the edited objects.
type ReadField = Arc<dyn Fn(&str) -> Vec<Value> + Send + Sync>;
/// Applies a parsed value to one field (None: remove, so the default applies).
type WriteField = Arc<dyn Fn(&str, Option<Value>) -> Result<(), String> + Send + Sync>;

/// Where a form's values come from and where its changes go.
#[derive(Clone)]
struct FormTarget {
    read: ReadField,
    write: WriteField,
    /// JSON path prefix of the field, for the validator's problems, per object.
    paths: Vec<String>,
}

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
    }
}

/// The scenario's `run` object, from `RunSettings`' JSON Schema.
fn run_settings_form(editor: Editor) -> impl IntoView {
    let target = FormTarget {
        read: Arc::new(move |field: &str| {
            editor.document.with(|document| {
                document
                    .as_ref()
                    .and_then(|scenario| serde_json::to_value(&scenario.run).ok())
                    .and_then(|run| run.get(field).cloned())
                    .into_iter()
                    .collect()
            })
        }),
        write: Arc::new(move |field: &str, value: Option<Value>| {
            editor.set_run_field(field, value)
        }),
        paths: vec!["run".to_string()],
    };
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
                    (0..count).map(|index| stream_form(editor, index)).collect_view().into_any()
                }
            }}
            <button class="button" data-testid="add-stream" on:click=move |_| editor.add_stream()>
                "Add stream"
            </button>
        </div>
    }
}

fn stream_form(editor: Editor, index: usize) -> impl IntoView {
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
    let target = FormTarget {
        read: Arc::new(move |field: &str| {
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
        write: Arc::new(move |field: &str, value: Option<Value>| {
            editor.set_stream_field(index, field, value)
        }),
        paths: vec![format!("workload.streams[{index}]")],
    };
    view! {
        <fieldset class="stream-form" data-testid="stream" data-index=index.to_string()>
            <legend class="field-label">"Stream " {stream_id}</legend>
            {schema_fields(fields, target, &format!("stream{index}"))}
            <button
                class="button"
                data-testid="remove-stream"
                on:click=move |_| editor.remove_stream(index)
            >
                "Remove stream"
            </button>
        </fieldset>
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
    let target = FormTarget {
        read: Arc::new(move |field: &str| {
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
        write: Arc::new(move |field: &str, value: Option<Value>| {
            editor.set_node_property(&write_ids, field, value)
        }),
        paths,
    };
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
    let target = FormTarget {
        read: Arc::new(move |field: &str| {
            link_now()
                .and_then(|link| serde_json::to_value(&link.network).ok())
                .and_then(|network| network.get(field).cloned())
                .into_iter()
                .collect()
        }),
        write: Arc::new(move |field: &str, value: Option<Value>| {
            editor.set_link_network_field(index, field, value)
        }),
        paths: vec![format!("topology.links[{index}].network")],
    };
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

fn schema_fields(fields: Vec<FieldSpec>, target: FormTarget, id_prefix: &str) -> AnyView {
    fields
        .into_iter()
        .map(|field| field_view(field, target.clone(), id_prefix))
        .collect_view()
        .into_any()
}

/// A tagged enum (a distribution, a load pattern): a picker of the variant and,
/// below it, the chosen variant's own fields as a nested schema form whose
/// edits rewrite the whole value through the parent's `write`. With several
/// objects selected the sub-form shows and edits the first one's value.
fn variant_input(
    field: &FieldSpec,
    variants: Vec<Variant>,
    target: FormTarget,
    input_id: String,
    help_id: String,
    set_error: WriteSignal<Option<String>>,
) -> AnyView {
    let name = field.name.clone();
    let current_value: Arc<dyn Fn() -> Value + Send + Sync> = {
        let read = target.read.clone();
        let name = name.clone();
        Arc::new(move || read(&name).into_iter().next().unwrap_or(Value::Null))
    };
    let tag = {
        let current_value = current_value.clone();
        Memo::new(move |_| variant_tag(&current_value()).unwrap_or_default())
    };
    let choose = {
        let variants = variants.clone();
        let current_value = current_value.clone();
        let write = target.write.clone();
        let name = name.clone();
        move |chosen: String| {
            let value = variants
                .iter()
                .find(|variant| variant.tag == chosen)
                .map(|variant| variant.starter(Some(&current_value())));
            set_error.set(write(&name, value).err());
        }
    };
    let descriptions: Vec<(String, String)> = variants
        .iter()
        .map(|variant| (variant.tag.clone(), variant.description.clone()))
        .collect();
    let chosen_description = move || {
        let tag = tag.get();
        descriptions
            .iter()
            .find(|(candidate, _)| *candidate == tag)
            .map(|(_, description)| description.clone())
            .unwrap_or_default()
    };
    let sub_form = {
        let variants = variants.clone();
        let input_id = input_id.clone();
        move || {
            let tag = tag.get();
            let payload_schema = variants
                .iter()
                .find(|variant| variant.tag == tag)
                .and_then(|variant| variant.payload_schema.clone())?;
            let read_value = current_value.clone();
            let write_value = current_value.clone();
            let read_tag = tag.clone();
            let write_tag = tag.clone();
            let parent_write = target.write.clone();
            let parent_name = name.clone();
            let nested = FormTarget {
                read: Arc::new(move |inner: &str| {
                    vec![
                        read_value()
                            .get(&read_tag)
                            .and_then(|payload| payload.get(inner))
                            .cloned()
                            .unwrap_or(Value::Null),
                    ]
                }),
                write: Arc::new(move |inner: &str, value: Option<Value>| {
                    let mut whole = write_value();
                    let payload = whole
                        .get_mut(&write_tag)
                        .and_then(Value::as_object_mut)
                        .ok_or("pick a kind first")?;
                    match value {
                        Some(value) => {
                            payload.insert(inner.to_string(), value);
                        }
                        None => {
                            payload.remove(inner);
                        }
                    }
                    parent_write(&parent_name, Some(whole))
                }),
                paths: target
                    .paths
                    .iter()
                    .map(|path| format!("{path}.{}.{tag}", name))
                    .collect(),
            };
            Some(view! {
                <div class="subform" data-testid="subform" data-variant=tag.clone()>
                    {schema_fields(fields_of(&payload_schema), nested, &format!("{input_id}-{tag}"))}
                </div>
            })
        }
    };
    let select_id = input_id.clone();
    let optional = field.optional;
    view! {
        <select
            id=select_id
            class="field-input"
            data-field=field.name.clone()
            data-testid="variant-picker"
            aria-describedby=help_id
            prop:value=move || tag.get()
            on:change=move |event| choose(event_target_value(&event))
        >
            {optional.then(|| view! { <option value="">"(none)"</option> })}
            {variants
                .into_iter()
                .map(|variant| {
                    view! {
                        <option value=variant.tag.clone() title=variant.description.clone()>
                            {variant.tag.replace('_', " ")}
                        </option>
                    }
                })
                .collect_view()}
        </select>
        <p class="field-help variant-help">{chosen_description}</p>
        {sub_form}
    }
    .into_any()
}

fn field_view(field: FieldSpec, target: FormTarget, id_prefix: &str) -> impl IntoView {
    let (error, set_error) = signal(None::<String>);
    let input_id = format!("{id_prefix}-{}", field.name);
    let name = field.name.clone();
    let read = target.read.clone();
    // One value shown when every edited object agrees; empty ("mixed") otherwise.
    let current = {
        let name = name.clone();
        move || {
            let values = read(&name);
            match values.split_first() {
                Some((first, rest)) if rest.iter().all(|value| value == first) => {
                    Some(display(first))
                }
                Some(_) => None,
                None => Some(String::new()),
            }
        }
    };
    let commit = {
        let field = field.clone();
        let write = target.write.clone();
        move |text: String| match parse_input(&field, &text) {
            Ok(value) => set_error.set(write(&field.name, value).err()),
            Err(message) => set_error.set(Some(message)),
        }
    };
    let validator_problem = {
        let paths: Vec<String> = target
            .paths
            .iter()
            .map(|path| format!("{path}.{}", field.name))
            .collect();
        move |editor_problems: &[faultline_engine::scenario::Problem]| {
            editor_problems
                .iter()
                .find(|problem| {
                    paths
                        .iter()
                        .any(|path| problem.path.starts_with(path.as_str()))
                })
                .map(|problem| problem.message.clone())
        }
    };
    let unit = field.unit;
    let default_text = field
        .default
        .as_ref()
        .map(|value| match value {
            Value::Null => "absent".to_string(),
            other => display(other),
        })
        .map(|text| {
            format!(
                "Default: {text}{}",
                // A range "unit" (probabilities: 0–1) is not said after a value.
                unit.filter(|unit| !unit.contains('–'))
                    .map(|unit| format!(" {unit}"))
                    .unwrap_or_default()
            )
        });
    let range_text = match &field.input {
        FieldInput::Integer { minimum, maximum } | FieldInput::Number { minimum, maximum } => {
            match (minimum, maximum) {
                (Some(min), Some(max)) if *max < 1e12 => Some(format!("Range {min}–{max}")),
                (Some(min), _) => Some(format!("At least {min}")),
                (None, Some(max)) => Some(format!("At most {max}")),
                _ => None,
            }
        }
        _ => None,
    };
    let help = [
        Some(field.description.clone()).filter(|d| !d.is_empty()),
        range_text,
        default_text,
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let help_id = format!("{input_id}-help");
    let error_id = format!("{input_id}-error");
    let input = {
        let current = current.clone();
        let commit = commit.clone();
        let placeholder = {
            let current = current.clone();
            move || if current().is_none() { "mixed" } else { "" }
        };
        let value = {
            let current = current.clone();
            move || current().unwrap_or_default()
        };
        match field.input.clone() {
            FieldInput::Boolean => view! {
                <input
                    id=input_id.clone()
                    class="field-check"
                    type="checkbox"
                    data-field=name.clone()
                    aria-describedby=help_id.clone()
                    prop:checked=move || value() == "true"
                    on:change=move |event| {
                        let checked = event_target_checked(&event);
                        commit(checked.to_string());
                    }
                />
            }
            .into_any(),
            FieldInput::Choice(choices) => view! {
                <select
                    id=input_id.clone()
                    class="field-input"
                    data-field=name.clone()
                    aria-describedby=help_id.clone()
                    prop:value=value
                    on:change=move |event| commit(event_target_value(&event))
                >
                    {choices
                        .into_iter()
                        .map(|(choice, label, description)| {
                            view! { <option value=display(&choice) title=description>{label}</option> }
                        })
                        .collect_view()}
                </select>
            }
            .into_any(),
            FieldInput::Variants(variants) => variant_input(
                &field,
                variants,
                target.clone(),
                input_id.clone(),
                help_id.clone(),
                set_error,
            ),
            FieldInput::Json => view! {
                <textarea
                    id=input_id.clone()
                    class="field-input field-json"
                    rows="3"
                    spellcheck="false"
                    data-field=name.clone()
                    aria-describedby=help_id.clone()
                    placeholder=placeholder
                    prop:value=value
                    on:change=move |event| commit(event_target_value(&event))
                ></textarea>
            }
            .into_any(),
            input => {
                let (kind, min, max, step) = match input {
                    FieldInput::Integer { minimum, maximum } => ("number", minimum, maximum, "1"),
                    FieldInput::Number { minimum, maximum } => ("number", minimum, maximum, "any"),
                    _ => ("text", None, None, ""),
                };
                view! {
                    <input
                        id=input_id.clone()
                        class="field-input"
                        type=kind
                        inputmode=if kind == "number" { "decimal" } else { "text" }
                        min=min.map(|min| min.to_string())
                        max=max.filter(|max| *max < 1e12).map(|max| max.to_string())
                        step=(!step.is_empty()).then_some(step)
                        data-field=name.clone()
                        aria-describedby=help_id.clone()
                        aria-invalid=move || error.with(Option::is_some).to_string()
                        placeholder=placeholder
                        prop:value=value
                        on:change=move |event| commit(event_target_value(&event))
                    />
                }
                .into_any()
            }
        }
    };
    let editor_problems = use_context::<Memo<Vec<faultline_engine::scenario::Problem>>>();
    let shown_error = move || {
        error.get().or_else(|| {
            editor_problems
                .and_then(|problems| problems.with(|problems| validator_problem(problems)))
        })
    };
    view! {
        <div class="field" data-testid="field" data-field=field.name.clone()>
            <label class="field-label" for=format!("{id_prefix}-{}", field.name)>
                <span>{field.title.clone()}</span>
                {field.required.then(|| view! { <span class="field-required" title="required">"*"</span> })}
                {unit.map(|unit| view! { <span class="field-unit">{unit}</span> })}
            </label>
            {input}
            <p class="field-error" id=error_id role="alert" data-testid="field-error">
                {shown_error}
            </p>
            <p class="field-help" id=help_id>{help}</p>
        </div>
    }
}
