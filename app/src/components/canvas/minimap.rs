//! The minimap: the whole drawing in miniature with the visible area marked;
//! clicking or dragging in it centres the canvas there.
//!
//! All node boxes are one `<path>`, rebuilt only when the document changes, so
//! a 300-node diagram costs one element, not 300.

use crate::editor::{Editor, NODE_HEIGHT_PX, NODE_WIDTH_PX, drawing_bounds};
use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

const MINIMAP_WIDTH_PX: f64 = 180.0;
const MINIMAP_HEIGHT_PX: f64 = 120.0;
/// World space shown around the drawing.
const MINIMAP_MARGIN_PX: f64 = 120.0;

#[component]
pub fn Minimap(editor: Editor) -> impl IntoView {
    let frame = Memo::new(move |_| {
        editor.document.with(|document| {
            let scenario = document.as_ref()?;
            let (min_x, min_y, max_x, max_y) = drawing_bounds(scenario)?;
            let boxes: String = scenario
                .topology
                .nodes
                .iter()
                .map(|node| {
                    format!(
                        "M{:.0} {:.0}h{:.0}v{:.0}h-{:.0}Z",
                        node.position.x - NODE_WIDTH_PX / 2.0,
                        node.position.y - NODE_HEIGHT_PX / 2.0,
                        NODE_WIDTH_PX,
                        NODE_HEIGHT_PX,
                        NODE_WIDTH_PX
                    )
                })
                .collect();
            Some((
                (
                    min_x - MINIMAP_MARGIN_PX,
                    min_y - MINIMAP_MARGIN_PX,
                    max_x - min_x + 2.0 * MINIMAP_MARGIN_PX,
                    max_y - min_y + 2.0 * MINIMAP_MARGIN_PX,
                ),
                boxes,
            ))
        })
    });
    let view_box = move || {
        frame.with(|frame| {
            frame
                .as_ref()
                .map_or_else(String::new, |((x, y, w, h), _)| {
                    format!("{x:.0} {y:.0} {w:.0} {h:.0}")
                })
        })
    };
    let boxes = move || frame.with(|frame| frame.as_ref().map(|(_, boxes)| boxes.clone()));
    let visible = move || {
        let viewport = editor.viewport.get();
        let (width, height) = document()
            .query_selector("[data-testid=canvas]")
            .ok()
            .flatten()
            .map(|element| {
                let rect = element.get_bounding_client_rect();
                (rect.width(), rect.height())
            })
            .unwrap_or((800.0, 600.0));
        let (left, top) = viewport.to_world(0.0, 0.0);
        (left, top, width / viewport.zoom, height / viewport.zoom)
    };
    let dragging = StoredValue::new(false);
    let centre_at = move |event: &web_sys::MouseEvent| {
        let Some(((x, y, w, h), _)) = frame.get_untracked() else {
            return;
        };
        let Some(element) = event
            .current_target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        let rect = element.get_bounding_client_rect();
        // The SVG keeps its aspect ratio (xMidYMid meet): undo that mapping.
        let scale = (rect.width() / w).min(rect.height() / h);
        let pad_x = (rect.width() - w * scale) / 2.0;
        let pad_y = (rect.height() - h * scale) / 2.0;
        let world_x = x + (f64::from(event.client_x()) - rect.left() - pad_x) / scale;
        let world_y = y + (f64::from(event.client_y()) - rect.top() - pad_y) / scale;
        editor.centre_on(world_x, world_y);
    };
    let on_pointerdown = move |event: ev::PointerEvent| {
        dragging.set_value(true);
        if let Some(element) = event
            .current_target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        {
            let _ = element.set_pointer_capture(event.pointer_id());
        }
        centre_at(&event);
    };
    let on_pointermove = move |event: ev::PointerEvent| {
        if dragging.get_value() {
            centre_at(&event);
        }
    };
    let on_pointerup = move |_: ev::PointerEvent| dragging.set_value(false);
    view! {
        <Show when=move || frame.with(Option::is_some)>
            <svg
                class="minimap"
                data-testid="minimap"
                viewBox=view_box
                width=MINIMAP_WIDTH_PX
                height=MINIMAP_HEIGHT_PX
                role="img"
                aria-label="Minimap: click to move the view"
                on:pointerdown=on_pointerdown
                on:pointermove=on_pointermove
                on:pointerup=on_pointerup
            >
                <path class="minimap-nodes" d=boxes />
                <rect
                    class="minimap-view"
                    x=move || visible().0
                    y=move || visible().1
                    width=move || visible().2
                    height=move || visible().3
                />
            </svg>
        </Show>
    }
}
