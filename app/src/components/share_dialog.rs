//! The share dialog: the link that carries the whole scenario, selectable and
//! copyable. The link is shown as text in an input, never as markup.

use crate::components::focus::{manage_dialog_focus, trap_tab};
use crate::workspace::{Workspace, WorkspaceView};
use leptos::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[component]
pub fn ShareDialog(workspace: Workspace, open: WorkspaceView) -> impl IntoView {
    let (copied, set_copied) = signal(false);
    let close = move || {
        set_copied.set(false);
        workspace.set_share_url.set(None);
    };
    let copy = move |_| {
        if let Some(url) = open.share_url.get_untracked() {
            let promise = window().navigator().clipboard().write_text(&url);
            leptos::task::spawn_local(async move {
                set_copied.set(JsFuture::from(promise).await.is_ok());
            });
        }
    };
    manage_dialog_focus(
        move || open.share_url.with(Option::is_some),
        "[data-testid=share-dialog]",
    );
    view! {
        <Show when=move || open.share_url.with(Option::is_some)>
            <div class="dialog-backdrop" on:click=move |_| close()>
                <div
                    class="dialog"
                    role="dialog"
                    aria-modal="true"
                    aria-labelledby="share-title"
                    data-testid="share-dialog"
                    on:click=|event| event.stop_propagation()
                    on:keydown=|event| trap_tab(&event)
                >
                    <div class="dialog-head">
                        <h2 id="share-title">"Share link"</h2>
                        <button class="button ghost" on:click=move |_| close()>"Close"</button>
                    </div>
                    <p class="card-subtitle">
                        "The whole scenario is compressed into this link's fragment; it is never sent to a server."
                    </p>
                    <input
                        class="field-input share-url"
                        data-testid="share-url"
                        type="text"
                        readonly=true
                        aria-label="Share link"
                        prop:value=move || open.share_url.get().unwrap_or_default()
                    />
                    <div class="dialog-actions">
                        <span class="card-subtitle" role="status">
                            {move || copied.get().then_some("Copied to the clipboard")}
                        </span>
                        <button class="button primary" on:click=copy>"Copy link"</button>
                    </div>
                </div>
            </div>
        </Show>
    }
}
