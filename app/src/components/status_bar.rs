//! One line under the canvas for what just happened (saved, restored, undid,
//! refused), announced politely to screen readers.

use crate::editor::Editor;
use leptos::prelude::*;

#[component]
pub fn StatusBar(editor: Editor) -> impl IntoView {
    view! {
        <div class="status-bar" role="status" aria-live="polite" data-testid="status">
            {move || {
                editor
                    .notice
                    .get()
                    .map(|notice| {
                        view! {
                            <span class="notice" data-error=notice.is_error.to_string()>
                                {notice.text}
                            </span>
                            <button class="button ghost small" aria-label="Dismiss message" on:click=move |_| editor.dismiss_notice()>
                                "×"
                            </button>
                        }
                    })
            }}
        </div>
    }
}
