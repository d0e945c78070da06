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
                    "{} nodes · {} links · {} · seed {}",
                    scenario.topology.nodes.len(),
                    scenario.topology.links.len(),
                    format::sim_seconds(scenario.run.duration_ms.saturating_mul(1_000)),
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
