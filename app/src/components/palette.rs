//! The component palette: one entry per engine component kind (from the
//! engine's catalog, never a hard-coded list), each with its icon. Drag an
//! entry onto the canvas, or press Enter on it to place one in the middle.

use crate::components::canvas::PALETTE_DRAG_TYPE;
use crate::editor::Editor;
use crate::editor::icons::icon_or_generic;
use crate::format;
use leptos::ev;
use leptos::prelude::*;

#[component]
pub fn Palette(editor: Editor) -> impl IntoView {
    let entries = editor.catalog.with_value(|catalog| {
        catalog
            .iter()
            .map(|entry| (entry.kind.clone(), entry.description.clone()))
            .collect::<Vec<_>>()
    });
    let place_in_middle = move |kind: &str| {
        let viewport = editor.viewport.get_untracked();
        let (width, height) = document()
            .query_selector("[data-testid=canvas]")
            .ok()
            .flatten()
            .map(|element| {
                let rect = element.get_bounding_client_rect();
                (rect.width(), rect.height())
            })
            .unwrap_or((800.0, 600.0));
        let (x, y) = viewport.to_world(width / 2.0, height / 2.0);
        editor.add_node(kind, x, y);
    };
    view! {
        <nav class="palette" aria-label="Components">
            <h2 class="palette-title">"Components"</h2>
            <ul class="palette-list">
                {entries
                    .into_iter()
                    .map(|(kind, description)| {
                        let drag_kind = kind.clone();
                        let key_kind = kind.clone();
                        let name = format::wire_name(&kind);
                        let aria_label = format!("{name}: drag onto the canvas, or press Enter to add");
                        let on_dragstart = move |event: ev::DragEvent| {
                            if let Some(transfer) = event.data_transfer() {
                                let _ = transfer.set_data(PALETTE_DRAG_TYPE, &drag_kind);
                                transfer.set_effect_allowed("copy");
                            }
                        };
                        let on_keydown = move |event: ev::KeyboardEvent| {
                            if event.key() == "Enter" || event.key() == " " {
                                event.prevent_default();
                                place_in_middle(&key_kind);
                            }
                        };
                        let click_kind = kind.clone();
                        view! {
                            <li>
                                <div
                                    class="palette-item"
                                    data-testid="palette-item"
                                    data-kind=kind.clone()
                                    draggable="true"
                                    tabindex="0"
                                    role="button"
                                    aria-label=aria_label
                                    title=description
                                    on:dragstart=on_dragstart
                                    on:keydown=on_keydown
                                    on:dblclick=move |_| place_in_middle(&click_kind)
                                >
                                    <svg class="palette-icon" viewBox="0 0 24 24" aria-hidden="true">
                                        <path d=icon_or_generic(&kind) />
                                    </svg>
                                    <span class="palette-name">{name}</span>
                                </div>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <p class="palette-help">"Drag onto the canvas. Drag a node's right-hand handle to another node to connect them."</p>
        </nav>
    }
}
