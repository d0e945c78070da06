//! The fault plan and expectations forms of the inspector (shown with the
//! scenario's settings): the scripted fault timeline as rows, each a time in
//! milliseconds and a fault kind with its own typed sub-form (crash, restart,
//! pause, resume, slow, clock skew, partition, one-way partition, heal,
//! hold/release and set link: latency, jitter, loss, duplication...), the
//! optional nemesis, and the expectations a run must meet. All of it is drawn
//! from the engine's JSON Schema; node and zone fields become pickers, checker
//! names a list of the engine's checkers.

use crate::components::schema_fields::{Decorate, FormTarget, schema_fields};
use crate::editor::Editor;
use crate::editor::schema_form::{FieldInput, FieldSpec, fields_of};
use crate::format;
use faultline_engine::checkers::KNOWN_CHECKER_NAMES;
use faultline_engine::scenario::catalog::{expectations_schema, fault_plan_schema};
use leptos::prelude::*;
use serde_json::Value;
use std::sync::Arc;

/// A picker of the document's node ids (and, with `zones`, zone ids), read
/// when the field is drawn.
fn target_choices(editor: Editor, zones: bool) -> FieldInput {
    let mut choices = vec![(
        Value::from(""),
        if zones {
            "(choose a node or zone)".to_string()
        } else {
            "(choose a node)".to_string()
        },
        String::new(),
    )];
    editor.document.with_untracked(|document| {
        if let Some(scenario) = document {
            choices.extend(scenario.topology.nodes.iter().map(|node| {
                (
                    Value::from(node.id.as_str()),
                    node.id.clone(),
                    format::wire_name(node.spec.kind_name()),
                )
            }));
            if zones {
                choices.extend(scenario.topology.zones.iter().map(|zone| {
                    (
                        Value::from(zone.id.as_str()),
                        format!("zone {}", zone.id),
                        zone.label.clone(),
                    )
                }));
            }
        }
    });
    FieldInput::Choice(choices)
}

/// Node fields of fault actions become node pickers; members of partition
/// sides and groups accept zones too (the engine resolves zone ids there).
fn fault_decorations(editor: Editor) -> Decorate {
    Arc::new(move |field: &mut FieldSpec| {
        if field.key == "timeline" {
            field.title = "scheduled faults".to_string();
        }
        if !matches!(field.input, FieldInput::Text) {
            return;
        }
        let key = field.key.as_str();
        if key.ends_with("from[]") || key.ends_with("to[]") || key.ends_with("groups[][]") {
            field.input = target_choices(editor, true);
        } else if key.ends_with(".node")
            || key.ends_with(".from")
            || key.ends_with(".to")
            || key.ends_with("targets[]")
        {
            field.input = target_choices(editor, false);
        }
    })
}

pub fn fault_plan_form(editor: Editor) -> impl IntoView {
    let target = FormTarget::new(
        Arc::new(move |field: &str| {
            editor.document.with(|document| {
                document
                    .as_ref()
                    .and_then(|scenario| serde_json::to_value(&scenario.faults).ok())
                    .and_then(|faults| faults.get(field).cloned())
                    .into_iter()
                    .collect()
            })
        }),
        Arc::new(move |field: &str, value: Option<Value>| {
            editor.set_fault_plan_field(field, value)
        }),
        vec!["faults".to_string()],
    )
    .decorated(fault_decorations(editor));
    view! {
        <h3 class="form-section" id="fault-plan-title">"Faults"</h3>
        <div data-testid="fault-plan" role="group" aria-labelledby="fault-plan-title">
            <p class="field-help">
                "Scheduled faults happen at their time (ms from the start); the nemesis draws random ones from the run's seed. Add one for a node or link from its context menu too."
            </p>
            {schema_fields(fields_of(&fault_plan_schema()), target, "faults")}
        </div>
    }
}

pub fn expectations_form(editor: Editor) -> impl IntoView {
    let target = FormTarget::new(
        Arc::new(move |_: &str| {
            editor.document.with(|document| {
                document
                    .as_ref()
                    .and_then(|scenario| serde_json::to_value(&scenario.expectations).ok())
                    .into_iter()
                    .collect()
            })
        }),
        Arc::new(move |_: &str, value: Option<Value>| editor.set_expectations(value)),
        vec![String::new()],
    )
    .decorated(Arc::new(|field: &mut FieldSpec| {
        if field.key.ends_with("check.name") {
            field.input = FieldInput::Choice(
                std::iter::once((
                    Value::from(""),
                    "(choose a checker)".to_string(),
                    String::new(),
                ))
                .chain(
                    KNOWN_CHECKER_NAMES
                        .iter()
                        .map(|name| (Value::from(*name), name.replace('_', " "), String::new())),
                )
                .collect(),
            );
        }
    }));
    let schema = serde_json::json!({
        "type": "object",
        "properties": { "expectations": expectations_schema() },
    });
    view! {
        <h3 class="form-section" id="expectations-title">"Expectations"</h3>
        <div data-testid="expectations" role="group" aria-labelledby="expectations-title">
            <p class="field-help">
                "What a run must show: a checker's final status, or a summary metric (node.metric) within bounds."
            </p>
            {schema_fields(fields_of(&schema), target, "expect")}
        </div>
    }
}

/// Scrolls the fault plan's last row into view and focuses its kind picker
/// (after "Add fault…" from a context menu, once the inspector has redrawn).
pub fn reveal_last_fault() {
    request_animation_frame(|| {
        let Some(document) = web_sys::window().and_then(|window| window.document()) else {
            return;
        };
        // Rows are the list's only `div` children (its help text is a `p`).
        let Ok(Some(last)) = document.query_selector(
            "[data-testid=fault-plan] [data-testid=array][data-field=timeline] > [data-testid=array-row]:last-of-type",
        ) else {
            return;
        };
        last.scroll_into_view();
        if let Ok(Some(picker)) = last.query_selector("[data-testid=variant-picker]") {
            let _ = wasm_bindgen::JsCast::unchecked_ref::<web_sys::HtmlElement>(&picker).focus();
        }
    });
}
