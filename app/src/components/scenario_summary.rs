//! The open scenario's title, description and run settings, above the canvas.

use crate::format;
use faultline_engine::Scenario;
use leptos::prelude::*;

#[component]
pub fn ScenarioSummary(scenario: ReadSignal<Option<Scenario>>) -> impl IntoView {
    move || {
        scenario.with(|scenario| {
            scenario.as_ref().map(|scenario| {
                let title = if scenario.metadata.title.is_empty() {
                    "Untitled scenario".to_string()
                } else {
                    scenario.metadata.title.clone()
                };
                let facts = format!(
                    "{} · {} · {} run · seed {}",
                    format::counted(scenario.topology.nodes.len(), "node", "nodes"),
                    format::counted(scenario.topology.links.len(), "link", "links"),
                    format::duration_ms(scenario.run.duration_ms),
                    scenario.run.seed,
                );
                // Title and description come from the file: text nodes only.
                view! {
                    <div class="summary">
                        <h1 class="summary-title" data-testid="scenario-title">
                            {title}
                        </h1>
                        <p class="summary-facts">{facts}</p>
                        <p class="summary-description">
                            {scenario.metadata.description.clone()}
                        </p>
                    </div>
                }
            })
        })
    }
}
