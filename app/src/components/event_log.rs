//! The most recent trace lines in the engine's one-line format, newest first.

use leptos::prelude::*;

#[component]
pub fn EventLog(lines: ReadSignal<Vec<String>>) -> impl IntoView {
    // One text node for the whole log: cheap to replace ten times a second,
    // and trace text can never be interpreted as markup.
    let text = move || {
        lines.with(|lines| {
            lines
                .iter()
                .rev()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
    };
    let shown = move || lines.with(Vec::len);

    view! {
        <section class="card log" aria-labelledby="log-heading">
            <h2 id="log-heading" class="card-title">
                "Event log" <span class="card-subtitle">{move || format!("last {}, newest first", shown())}</span>
            </h2>
            <pre
                class="log-lines"
                data-testid="event-log"
                tabindex="0"
                aria-label="Most recent trace events, newest first"
            >
                {move || {
                    if shown() == 0 {
                        "No events yet: press Play or Step.".to_string()
                    } else {
                        text()
                    }
                }}
            </pre>
        </section>
    }
}
