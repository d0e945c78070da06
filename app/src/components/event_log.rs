//! The most recent trace lines in the engine's one-line format, newest first, filterable by text, node and event kind (only what is shown is filtered; the lines stay as the engine wrote them).

use crate::driver::SimView;
use faultline_engine::inspect::{TRACE_LINE_KINDS, TraceLineFilter};
use leptos::prelude::*;

#[component]
pub fn EventLog(lines: ReadSignal<Vec<String>>) -> impl IntoView {
    let sim = use_context::<SimView>();
    let text_filter = RwSignal::new(String::new());
    let node_filter = RwSignal::new(String::new());
    let kind_filter = RwSignal::new(String::new());
    let filter = Memo::new(move |_| TraceLineFilter {
        text: text_filter.get(),
        node: node_filter.get(),
        kind: kind_filter.get(),
    });
    // Node names for the node filter: the run's nodes, in document order.
    let node_names = Memo::new(move |_| {
        sim.map(|sim| {
            sim.snapshot.with(|snapshot| {
                snapshot
                    .as_ref()
                    .map(|snapshot| {
                        snapshot
                            .nodes
                            .iter()
                            .map(|node| node.id.clone())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
        })
        .unwrap_or_default()
    });
    // One text node for the whole log: cheap to replace ten times a second,
    // and trace text can never be interpreted as markup.
    let shown_lines = move || {
        filter.with(|filter| {
            lines.with(|lines| {
                lines
                    .iter()
                    .rev()
                    .filter(|line| filter.is_empty() || filter.matches(line))
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        })
    };
    let total = move || lines.with(Vec::len);
    let subtitle = move || {
        if filter.with(TraceLineFilter::is_empty) {
            format!("last {}, newest first", total())
        } else {
            let matching = filter.with(|filter| {
                lines.with(|lines| lines.iter().filter(|line| filter.matches(line)).count())
            });
            format!("{matching} of last {} match, newest first", total())
        }
    };

    view! {
        <section class="card log" aria-labelledby="log-heading">
            <h2 id="log-heading" class="card-title">
                "Event log" <span class="card-subtitle">{subtitle}</span>
            </h2>
            <div class="log-filter">
                <input
                    type="search"
                    placeholder="Filter text"
                    aria-label="Filter the event log by text"
                    data-testid="event-log-text-filter"
                    prop:value=move || text_filter.get()
                    on:input=move |event| text_filter.set(event_target_value(&event))
                />
                <select
                    aria-label="Filter the event log by node"
                    data-testid="event-log-node-filter"
                    on:change=move |event| node_filter.set(event_target_value(&event))
                >
                    <option value="">"any node"</option>
                    {move || node_names.get().into_iter().map(|name| {
                        let selected = node_filter.get_untracked() == name;
                        view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                    }).collect_view()}
                </select>
                <select
                    aria-label="Filter the event log by event kind"
                    data-testid="event-log-kind-filter"
                    on:change=move |event| kind_filter.set(event_target_value(&event))
                >
                    <option value="">"any kind"</option>
                    {TRACE_LINE_KINDS.iter().map(|kind| view! { <option value=*kind>{*kind}</option> }).collect_view()}
                </select>
            </div>
            <pre
                class="log-lines"
                data-testid="event-log"
                tabindex="0"
                aria-label="Most recent trace events, newest first"
            >
                {move || {
                    if total() == 0 {
                        "No events yet: press Play or Step.".to_string()
                    } else {
                        let text = shown_lines();
                        if text.is_empty() { "No recent event matches the filter.".to_string() } else { text }
                    }
                }}
            </pre>
        </section>
    }
}
