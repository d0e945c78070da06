//! The collapsible card the inspection panels share: a heading button that opens it and tells the driver to watch the engine's inspection while it is open.

use crate::driver::SimDriver;
use leptos::prelude::*;

/// A collapsed-by-default card. While open, the driver asks the engine for
/// its inspection (see `SimDriver::watch_inspection`); closed, it costs nothing.
#[component]
pub fn InspectionCard(
    /// Unique among panels; also the `data-testid` prefix.
    panel: &'static str,
    title: &'static str,
    children: ChildrenFn,
) -> impl IntoView {
    let driver = expect_context::<SimDriver>();
    let open = RwSignal::new(false);
    let toggle = move |_| {
        let now_open = !open.get_untracked();
        open.set(now_open);
        driver.watch_inspection(panel, now_open);
    };
    on_cleanup(move || driver.watch_inspection(panel, false));
    view! {
        <section class="card inspection-card" data-testid=format!("{panel}-panel")>
            <h2 class="card-title">
                <button
                    type="button"
                    class="inspection-toggle"
                    aria-expanded=move || open.get().to_string()
                    data-testid=format!("{panel}-toggle")
                    on:click=toggle
                >
                    {move || if open.get() { "▾ " } else { "▸ " }}
                    {title}
                </button>
            </h2>
            <Show when=move || open.get()>{children()}</Show>
        </section>
    }
}
