//! Schema-driven form fields, shared by the inspector and the fault-plan and
//! expectations forms: one typed input per property of a JSON Schema object
//! (numbers with units and ranges, choices, booleans, text), tagged enums as
//! a variant picker with a sub-form, nested objects as sub-forms, and arrays
//! as typed rows with add, remove and reorder. Every change goes through the
//! form's `write` (an undoable editor edit); errors come from the form's own
//! parsing and from the engine validator's problems, matched by JSON path.
//!
//! Nothing here knows a scenario type: the schema says what to draw.

use crate::editor::schema_form::{
    FieldInput, FieldSpec, Variant, display, fields_of, friendly_starter, parse_input, row_field,
    singular, variant_tag,
};
use leptos::prelude::*;
use serde_json::Value;
use std::sync::Arc;

/// Reads one field's current values across the edited objects.
type ReadField = Arc<dyn Fn(&str) -> Vec<Value> + Send + Sync>;
/// Applies a parsed value to one field (None: remove, so the default applies).
type WriteField = Arc<dyn Fn(&str, Option<Value>) -> Result<(), String> + Send + Sync>;

/// Where a form's values come from and where its changes go.
/// Adjusts a field by where it sits (its `key`), e.g. a node picker for a
/// fault's `node`; applied at every level of nested sub-forms and rows.
pub type Decorate = Arc<dyn Fn(&mut FieldSpec) + Send + Sync>;

#[derive(Clone)]
pub struct FormTarget {
    pub read: ReadField,
    pub write: WriteField,
    /// JSON path prefix of the field, for the validator's problems, per object
    /// (empty: the document's root).
    pub paths: Vec<String>,
    /// Schema key of the object this form edits (see `FieldSpec::key`).
    pub key: String,
    pub decorate: Option<Decorate>,
}

impl FormTarget {
    pub fn new(read: ReadField, write: WriteField, paths: Vec<String>) -> FormTarget {
        FormTarget {
            read,
            write,
            paths,
            key: String::new(),
            decorate: None,
        }
    }

    pub fn decorated(mut self, decorate: Decorate) -> FormTarget {
        self.decorate = Some(decorate);
        self
    }

    /// A form for a value nested in this one, at `segment` (`.name`, `[2]`)
    /// and schema key `key`, reading and writing through the given closures.
    fn nested(&self, read: ReadField, write: WriteField, segment: &str, key: String) -> FormTarget {
        FormTarget {
            read,
            write,
            paths: self
                .paths
                .iter()
                .map(|path| join_path(path, segment))
                .collect(),
            key,
            decorate: self.decorate.clone(),
        }
    }

    /// `field` as this form shows it: keyed under this form, then decorated.
    fn prepare(&self, mut field: FieldSpec) -> FieldSpec {
        if !self.key.is_empty() && field.path_segment.starts_with('.') {
            field.key = format!("{}.{}", self.key, field.name);
        }
        if let Some(decorate) = &self.decorate {
            decorate(&mut field);
        }
        field
    }
}

/// `prefix` + `segment`, where a `.name` segment at the root drops its dot.
pub fn join_path(prefix: &str, segment: &str) -> String {
    if prefix.is_empty() {
        segment.trim_start_matches('.').to_string()
    } else {
        format!("{prefix}{segment}")
    }
}

/// Whether a validator problem at `problem` belongs to the field at `path`:
/// the path itself, or (with `nested`) anything under it, never a sibling that
/// merely starts with the same characters (`timeline[1]` vs `timeline[10]`).
fn problem_is_under(problem: &str, path: &str, nested: bool) -> bool {
    problem == path
        || (nested
            && problem
                .strip_prefix(path)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('[')))
}

pub fn schema_fields(fields: Vec<FieldSpec>, target: FormTarget, id_prefix: &str) -> AnyView {
    fields
        .into_iter()
        .map(|field| field_view(target.prepare(field), target.clone(), id_prefix))
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
    let key = field.key.clone();
    let path_segment = field.path_segment.clone();
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
            let nested_key = format!("{}.{tag}", key);
            let segment = format!("{}.{tag}", path_segment);
            let nested = target.nested(
                Arc::new(move |inner: &str| {
                    vec![
                        read_value()
                            .get(&read_tag)
                            .and_then(|payload| payload.get(inner))
                            .cloned()
                            .unwrap_or(Value::Null),
                    ]
                }),
                Arc::new(move |inner: &str, value: Option<Value>| {
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
                &segment,
                nested_key,
            );
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

pub fn field_view(field: FieldSpec, target: FormTarget, id_prefix: &str) -> impl IntoView + use<> {
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
            .map(|path| join_path(path, &field.path_segment))
            .collect();
        // Containers show only problems about themselves; their fields and
        // rows show their own.
        let nested = !matches!(
            field.input,
            FieldInput::Variants(_) | FieldInput::Array { .. } | FieldInput::Object(_)
        );
        move |editor_problems: &[faultline_engine::scenario::Problem]| {
            editor_problems
                .iter()
                .find(|problem| {
                    paths
                        .iter()
                        .any(|path| problem_is_under(&problem.path, path, nested))
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
            FieldInput::Array { items } => array_input(
                &field,
                items,
                target.clone(),
                input_id.clone(),
                set_error,
            ),
            FieldInput::Object(schema) => object_input(
                &field,
                schema,
                target.clone(),
                input_id.clone(),
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
        <div class="field" data-testid="field" data-field=field.name.clone() data-key=field.key.clone()>
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

/// A list with an item schema: one row per item (`row_field`: a sub-form for
/// objects and tagged enums, an input for scalars), each with move up, move
/// down and remove, plus an add button that copies the last row (or starts
/// from the item schema). Every operation rewrites the whole list through the
/// parent's `write`, so it is one undoable edit.
fn array_input(
    field: &FieldSpec,
    items: Value,
    target: FormTarget,
    input_id: String,
    set_error: WriteSignal<Option<String>>,
) -> AnyView {
    let name = field.name.clone();
    let current: Arc<dyn Fn() -> Vec<Value> + Send + Sync> = {
        let read = target.read.clone();
        let name = name.clone();
        Arc::new(move || {
            read(&name)
                .into_iter()
                .next()
                .and_then(|value| value.as_array().cloned())
                .unwrap_or_default()
        })
    };
    let store: Arc<dyn Fn(Vec<Value>) + Send + Sync> = {
        let write = target.write.clone();
        let name = name.clone();
        Arc::new(move |rows: Vec<Value>| {
            set_error.set(write(&name, Some(Value::Array(rows))).err());
        })
    };
    let count = {
        let current = current.clone();
        Memo::new(move |_| current().len())
    };
    let array_field = field.clone();
    let rows = {
        let current = current.clone();
        let store = store.clone();
        let items = items.clone();
        let input_id = input_id.clone();
        move || {
            let total = count.get();
            (0..total)
                .map(|index| {
                    let row = target.prepare(row_field(&array_field, &items, index));
                    let read_rows = current.clone();
                    let write_rows = current.clone();
                    let write_parent = target.write.clone();
                    let parent_name = name.clone();
                    let row_target = target.nested(
                        Arc::new(move |_: &str| {
                            read_rows().get(index).cloned().into_iter().collect()
                        }),
                        Arc::new(move |_: &str, value: Option<Value>| {
                            let mut rows = write_rows();
                            let slot = rows.get_mut(index).ok_or("the row no longer exists")?;
                            *slot = value.unwrap_or(Value::Null);
                            write_parent(&parent_name, Some(Value::Array(rows)))
                        }),
                        &array_field.path_segment,
                        row.key.clone(),
                    );
                    let shift = {
                        let current = current.clone();
                        let store = store.clone();
                        move |by: isize| {
                            let mut rows = current();
                            let other = index as isize + by;
                            if other >= 0 && (other as usize) < rows.len() {
                                rows.swap(index, other as usize);
                                store(rows);
                            }
                        }
                    };
                    let up = shift.clone();
                    let remove = {
                        let current = current.clone();
                        let store = store.clone();
                        move || {
                            let mut rows = current();
                            if index < rows.len() {
                                rows.remove(index);
                                store(rows);
                            }
                        }
                    };
                    let title = row.title.clone();
                    view! {
                        <div class="array-row" data-testid="array-row" data-index=index.to_string()>
                            <div class="array-row-tools" role="group" aria-label=format!("{title}: row actions")>
                                <button
                                    class="icon-button row-button"
                                    data-testid="row-up"
                                    aria-label=format!("Move {title} up")
                                    title="Move up"
                                    disabled=index == 0
                                    on:click=move |_| up(-1)
                                >
                                    "↑"
                                </button>
                                <button
                                    class="icon-button row-button"
                                    data-testid="row-down"
                                    aria-label=format!("Move {title} down")
                                    title="Move down"
                                    disabled=index + 1 == total
                                    on:click=move |_| shift(1)
                                >
                                    "↓"
                                </button>
                                <button
                                    class="icon-button row-button"
                                    data-testid="row-remove"
                                    aria-label=format!("Remove {title}")
                                    title="Remove"
                                    on:click=move |_| remove()
                                >
                                    "✕"
                                </button>
                            </div>
                            {field_view(row, row_target, &format!("{input_id}-{index}"))}
                        </div>
                    }
                })
                .collect_view()
        }
    };
    let add = {
        let current = current.clone();
        move |_| {
            let mut rows = current();
            let next = rows
                .last()
                .cloned()
                .unwrap_or_else(|| friendly_starter(&items));
            rows.push(next);
            store(rows);
        }
    };
    let add_label = format!("Add {}", singular(&field.title));
    view! {
        <div class="array-field" data-testid="array" data-field=field.name.clone() id=input_id>
            {rows}
            <p class="field-help array-empty" hidden=move || count.get() != 0>"(none)"</p>
            <button class="button add-row" data-testid="row-add" on:click=add>
                {add_label}
            </button>
        </div>
    }
    .into_any()
}

/// A nested object: a sub-form of its fields, each edit rewriting the whole
/// object through the parent's `write`. An optional object (absent means
/// "off", e.g. the nemesis) gets a switch that adds or removes it.
fn object_input(
    field: &FieldSpec,
    schema: Value,
    target: FormTarget,
    input_id: String,
    set_error: WriteSignal<Option<String>>,
) -> AnyView {
    let name = field.name.clone();
    let current: Arc<dyn Fn() -> Value + Send + Sync> = {
        let read = target.read.clone();
        let name = name.clone();
        Arc::new(move || read(&name).into_iter().next().unwrap_or(Value::Null))
    };
    let present = {
        let current = current.clone();
        Memo::new(move |_| !current().is_null())
    };
    let optional = field.optional || (!field.required && field.default == Some(Value::Null));
    // An optional object's schema says `default: null`; a new one starts
    // from its fields' own defaults instead.
    let schema = match schema {
        Value::Object(mut object) => {
            object.remove("default");
            Value::Object(object)
        }
        other => other,
    };
    let toggle = {
        let write = target.write.clone();
        let name = name.clone();
        let schema = schema.clone();
        move |on: bool| {
            let value = on.then(|| friendly_starter(&schema));
            set_error.set(write(&name, value).err());
        }
    };
    let sub_form = {
        let schema = schema.clone();
        let input_id = input_id.clone();
        let key = field.key.clone();
        let segment = field.path_segment.clone();
        move || {
            if !present.get() {
                return None;
            }
            let read_value = current.clone();
            let write_value = current.clone();
            let starter = friendly_starter(&schema);
            let parent_write = target.write.clone();
            let parent_name = name.clone();
            let nested = target.nested(
                Arc::new(move |inner: &str| {
                    vec![read_value().get(inner).cloned().unwrap_or(Value::Null)]
                }),
                Arc::new(move |inner: &str, value: Option<Value>| {
                    let mut whole = write_value();
                    if !whole.is_object() {
                        whole = starter.clone();
                    }
                    let object = whole.as_object_mut().ok_or("not an object")?;
                    match value {
                        Some(value) => {
                            object.insert(inner.to_string(), value);
                        }
                        None => {
                            object.remove(inner);
                        }
                    }
                    parent_write(&parent_name, Some(whole))
                }),
                &segment,
                key.clone(),
            );
            Some(view! {
                <div class="subform" data-testid="object-form">
                    {schema_fields(fields_of(&schema), nested, &input_id)}
                </div>
            })
        }
    };
    let toggle_id = format!("{input_id}-on");
    view! {
        {optional
            .then(|| {
                view! {
                    <label class="object-toggle" for=toggle_id.clone()>
                        <input
                            id=toggle_id.clone()
                            type="checkbox"
                            class="field-check"
                            data-testid="object-toggle"
                            data-field=field.name.clone()
                            prop:checked=move || present.get()
                            on:change=move |event| toggle(event_target_checked(&event))
                        />
                        " on"
                    </label>
                }
            })}
        {sub_form}
    }
    .into_any()
}
