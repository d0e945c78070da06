//! Keyboard focus helpers for modal dialogs and menus: the focusable elements
//! of a container in document order, a Tab trap that keeps focus inside a
//! modal dialog (WAI-ARIA dialog pattern), and arrow-key movement in a menu.

use leptos::ev;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};

/// What can take focus inside a dialog or menu.
const FOCUSABLE_SELECTORS: &[&str] = &["button", "input", "select", "textarea", "a"];

/// The enabled focusable elements inside `container`, in document order.
pub fn focusables(container: &Element) -> Vec<HtmlElement> {
    let mut found: Vec<HtmlElement> = Vec::new();
    for tag in FOCUSABLE_SELECTORS {
        let collection = container.get_elements_by_tag_name(tag);
        for index in 0..collection.length() {
            if let Some(element) = collection
                .item(index)
                .and_then(|element| element.dyn_into::<HtmlElement>().ok())
                && !element.has_attribute("disabled")
                && element.tab_index() >= 0
            {
                found.push(element);
            }
        }
    }
    found.sort_by(|a, b| {
        let position = a.compare_document_position(b);
        if position & web_sys::Node::DOCUMENT_POSITION_FOLLOWING != 0 {
            std::cmp::Ordering::Less
        } else if position & web_sys::Node::DOCUMENT_POSITION_PRECEDING != 0 {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    found
}

fn active_element() -> Option<Element> {
    web_sys::window()?.document()?.active_element()
}

/// Tab and Shift+Tab wrap around inside the dialog the handler sits on, so
/// focus never escapes to the page behind a modal.
pub fn trap_tab(event: &ev::KeyboardEvent) {
    if event.key() != "Tab" {
        return;
    }
    let Some(container) = event
        .current_target()
        .and_then(|target| target.dyn_into::<Element>().ok())
    else {
        return;
    };
    let items = focusables(&container);
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        event.prevent_default();
        return;
    };
    let active = active_element();
    let inside = active
        .as_ref()
        .is_some_and(|active| container.contains(Some(active)));
    let at = |element: &HtmlElement| {
        active
            .as_ref()
            .is_some_and(|active| active == element.unchecked_ref::<Element>())
    };
    if !inside || (event.shift_key() && at(first)) {
        event.prevent_default();
        let _ = if event.shift_key() { last } else { first }.focus();
    } else if !event.shift_key() && at(last) {
        event.prevent_default();
        let _ = first.focus();
    }
}

/// Focuses the first focusable element of the first element matching `selector`.
pub fn focus_first_in(selector: &str) {
    let container = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.query_selector(selector).ok().flatten());
    if let Some(first) = container
        .as_ref()
        .and_then(|c| focusables(c).into_iter().next())
    {
        let _ = first.focus();
    }
}

/// Moves focus among a menu's items: ArrowDown/ArrowUp (wrapping), Home, End.
/// Returns whether the key was one of those.
pub fn move_in_menu(event: &ev::KeyboardEvent) -> bool {
    let key = event.key();
    if !matches!(key.as_str(), "ArrowDown" | "ArrowUp" | "Home" | "End") {
        return false;
    }
    let Some(menu) = event
        .current_target()
        .and_then(|target| target.dyn_into::<Element>().ok())
    else {
        return false;
    };
    let items = focusables(&menu);
    if items.is_empty() {
        return true;
    }
    let active = active_element();
    let current = items.iter().position(|item| {
        active
            .as_ref()
            .is_some_and(|active| active == item.unchecked_ref::<Element>())
    });
    let last = items.len() - 1;
    let next = match (key.as_str(), current) {
        ("Home", _) | ("ArrowDown", None) => 0,
        ("ArrowDown", Some(index)) => (index + 1) % items.len(),
        ("ArrowUp", Some(index)) => index.checked_sub(1).unwrap_or(last),
        _ => last,
    };
    let _ = items[next].focus();
    true
}

/// While `is_open` holds, the dialog matching `selector` has the focus: its
/// first focusable element on opening, and the element that had focus before
/// gets it back on closing.
pub fn manage_dialog_focus(is_open: impl Fn() -> bool + 'static, selector: &'static str) {
    use leptos::prelude::*;
    let opener = StoredValue::new_local(None::<HtmlElement>);
    Effect::new(move |was_open: Option<bool>| {
        let open = is_open();
        if open && was_open != Some(true) {
            opener.set_value(active_element().and_then(|element| element.dyn_into().ok()));
            // After the dialog's elements are in the document.
            request_animation_frame(move || focus_first_in(selector));
        } else if !open
            && was_open == Some(true)
            && let Some(element) = opener.try_update_value(Option::take).flatten()
        {
            let _ = element.focus();
        }
        open
    });
}
