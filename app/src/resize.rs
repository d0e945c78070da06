//! The CSS size of an element, tracked with a `ResizeObserver`, so views can
//! size themselves without reading layout every frame.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

/// A signal of the element's content-box size in CSS px, (0, 0) until the
/// element is mounted and measured. The observer lives as long as the page:
/// it is only used for parts of the editor, which are never unmounted.
pub fn observed_size<E>(node_ref: NodeRef<E>) -> ReadSignal<(f64, f64)>
where
    E: leptos::html::ElementType + 'static,
    E::Output: JsCast + Clone + 'static,
{
    let (size, set_size) = signal((0.0f64, 0.0f64));
    Effect::new(move |_| {
        let Some(element) = node_ref.get() else {
            return;
        };
        let Ok(element) = element.dyn_into::<web_sys::Element>() else {
            return;
        };
        let callback = Closure::<dyn Fn(js_sys::Array)>::new(move |entries: js_sys::Array| {
            for entry in entries.iter() {
                if let Ok(entry) = entry.dyn_into::<web_sys::ResizeObserverEntry>() {
                    let rect = entry.content_rect();
                    set_size.set((rect.width(), rect.height()));
                }
            }
        });
        if let Ok(observer) = web_sys::ResizeObserver::new(callback.as_ref().unchecked_ref()) {
            observer.observe(&element);
            callback.forget();
            std::mem::forget(observer);
        }
    });
    size
}
