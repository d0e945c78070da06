//! The editing toolbar above the canvas: undo/redo, duplicate, delete, group
//! into a zone, tidy layout, snap to grid, straight-curved or right-angle
//! (orthogonal) links, the kind of link new connections get, and the
//! keyboard cheat sheet.

use crate::components::canvas::{LINK_KINDS, link_kind_name, link_kind_title};
use crate::components::focus::{manage_dialog_focus, trap_tab};
use crate::editor::Editor;
use faultline_engine::scenario::{LinkKind, LinkRouting};
use leptos::prelude::*;

#[component]
pub fn Toolbar(
    editor: Editor,
    new_link_kind: ReadSignal<LinkKind>,
    set_new_link_kind: WriteSignal<LinkKind>,
    set_cheat_sheet_open: WriteSignal<bool>,
) -> impl IntoView {
    let undo_title = move || {
        editor.history_labels.with(|(undo, _)| match undo {
            Some(label) => format!("Undo {label} (Ctrl+Z)"),
            None => "Nothing to undo".to_string(),
        })
    };
    let redo_title = move || {
        editor.history_labels.with(|(_, redo)| match redo {
            Some(label) => format!("Redo {label} (Shift+Ctrl+Z)"),
            None => "Nothing to redo".to_string(),
        })
    };
    let nothing_selected = move || editor.selection.with(|selection| selection.is_empty());
    let no_nodes_selected = move || {
        editor
            .selection
            .with(|selection| selection.nodes.is_empty())
    };
    view! {
        <div class="toolbar" role="toolbar" aria-label="Edit">
            <button
                class="icon-button"
                data-testid="undo"
                aria-label="Undo"
                title=undo_title
                disabled=move || editor.history_labels.with(|(undo, _)| undo.is_none())
                on:click=move |_| editor.undo()
            >
                <svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M9 14 L4 9 L9 4 M4 9 H14 a6 6 0 0 1 0 12 H10" /></svg>
            </button>
            <button
                class="icon-button"
                data-testid="redo"
                aria-label="Redo"
                title=redo_title
                disabled=move || editor.history_labels.with(|(_, redo)| redo.is_none())
                on:click=move |_| editor.redo()
            >
                <svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M15 14 L20 9 L15 4 M20 9 H10 a6 6 0 0 0 0 12 H14" /></svg>
            </button>
            <span class="toolbar-separator" aria-hidden="true"></span>
            <button class="icon-button" aria-label="Duplicate selection" title="Duplicate (Ctrl+D)" disabled=no_nodes_selected on:click=move |_| editor.duplicate_selection()>
                <svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M8 8 h12 v12 h-12 Z M4 16 V4 H16" /></svg>
            </button>
            <button class="icon-button" aria-label="Delete selection" title="Delete (Del)" disabled=nothing_selected on:click=move |_| editor.delete_selection()>
                <svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M4 7 H20 M9 7 V4 H15 V7 M6 7 L7 20 H17 L18 7 M10 11 V16 M14 11 V16" /></svg>
            </button>
            <button class="icon-button" aria-label="Group selection into a zone" title="Group into zone (G)" disabled=no_nodes_selected on:click=move |_| editor.group_selection_into_zone()>
                <svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M3 6 V3 H6 M18 3 H21 V6 M21 18 V21 H18 M6 21 H3 V18 M8 9 h4 v4 h-4 Z M13 13 h4 v4 h-4 Z" /></svg>
            </button>
            <button class="icon-button" aria-label="Tidy layout" title="Tidy layout (L)" on:click=move |_| editor.tidy()>
                <svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M3 5 h5 v4 h-5 Z M16 3 h5 v4 h-5 Z M16 11 h5 v4 h-5 Z M16 19 h5 v2 h-5 Z M8 7 H12 V20 H16 M12 13 H16 M12 5 H16" /></svg>
            </button>
            <span class="toolbar-separator" aria-hidden="true"></span>
            <label class="toolbar-toggle" title="Snap to a 20 px grid">
                <input
                    type="checkbox"
                    prop:checked=move || editor.snap_to_grid.get()
                    on:change=move |event| editor.set_snap_to_grid.set(event_target_checked(&event))
                />
                "Snap"
            </label>
            <label class="toolbar-toggle" title="Draw links with right angles, routed around node boxes (saved with the scenario)">
                <input
                    type="checkbox"
                    data-testid="orthogonal-links"
                    prop:checked=move || editor.link_routing() == LinkRouting::Orthogonal
                    on:change=move |event| {
                        editor.set_link_routing(if event_target_checked(&event) {
                            LinkRouting::Orthogonal
                        } else {
                            LinkRouting::Curved
                        })
                    }
                />
                "Right-angle links"
            </label>
            <label class="toolbar-select">
                <span>"New links"</span>
                <select
                    data-testid="new-link-kind"
                    aria-label="Kind of link new connections get"
                    prop:value=move || link_kind_name(new_link_kind.get())
                    on:change=move |event| {
                        let value = event_target_value(&event);
                        if let Some(kind) = LINK_KINDS.into_iter().find(|kind| link_kind_name(*kind) == value) {
                            set_new_link_kind.set(kind);
                        }
                    }
                >
                    {LINK_KINDS
                        .into_iter()
                        .map(|kind| view! { <option value=link_kind_name(kind)>{link_kind_title(kind)}</option> })
                        .collect_view()}
                </select>
            </label>
            <span class="toolbar-spacer"></span>
            <button class="button ghost" aria-label="Keyboard shortcuts" title="Keyboard shortcuts (?)" on:click=move |_| set_cheat_sheet_open.set(true)>
                <kbd>"?"</kbd>
                " Shortcuts"
            </button>
        </div>
    }
}

/// Shortcuts listed by the cheat sheet: (keys, what they do).
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Ctrl/⌘ + Z", "Undo"),
    ("Shift + Ctrl/⌘ + Z, Ctrl + Y", "Redo"),
    (
        "Ctrl/⌘ + C, X, V",
        "Copy, cut, paste (as scenario JSON, also between tabs)",
    ),
    ("Ctrl/⌘ + D", "Duplicate selection"),
    ("Ctrl/⌘ + A", "Select all nodes"),
    ("Delete, Backspace", "Delete selection"),
    (
        "Arrow keys (+ Shift)",
        "Nudge selection by 1 (5) grid steps",
    ),
    ("Click, Shift + click", "Select, add to selection"),
    ("Shift + drag background", "Rubber-band selection"),
    ("Drag background, Space + drag, wheel", "Pan"),
    ("Ctrl + wheel, pinch, + / −", "Zoom"),
    ("0 / F", "Zoom to 100% / zoom to fit"),
    ("G", "Group selection into a zone"),
    ("L", "Tidy layout"),
    ("Tab, Enter", "Move between nodes and links, select"),
    ("Ctrl/⌘ + S", "Download the scenario"),
    (
        "Shift + F10, Menu key",
        "Context menu of the focused node or link (arrows, Enter, Esc)",
    ),
    ("Esc", "Clear selection, close menus"),
    ("?", "This cheat sheet"),
];

#[component]
pub fn CheatSheet(open: ReadSignal<bool>, set_open: WriteSignal<bool>) -> impl IntoView {
    manage_dialog_focus(move || open.get(), "[data-testid=cheat-sheet]");
    view! {
        <Show when=move || open.get()>
            <div class="dialog-backdrop" on:click=move |_| set_open.set(false)>
                <div
                    class="dialog"
                    role="dialog"
                    aria-modal="true"
                    aria-labelledby="cheat-sheet-title"
                    data-testid="cheat-sheet"
                    on:click=|event| event.stop_propagation()
                    on:keydown=|event| trap_tab(&event)
                >
                    <div class="dialog-head">
                        <h2 id="cheat-sheet-title">"Keyboard shortcuts"</h2>
                        <button class="button ghost" autofocus=true on:click=move |_| set_open.set(false)>
                            "Close"
                        </button>
                    </div>
                    <dl class="shortcut-list">
                        {SHORTCUTS
                            .iter()
                            .map(|(keys, action)| view! {
                                <div class="shortcut">
                                    <dt><kbd>{*keys}</kbd></dt>
                                    <dd>{*action}</dd>
                                </div>
                            })
                            .collect_view()}
                    </dl>
                </div>
            </div>
        </Show>
    }
}
