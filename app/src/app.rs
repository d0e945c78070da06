//! The root component: creates the driver and workspace and lays out the screen.

use crate::components::check_list::CheckList;
use crate::components::event_log::EventLog;
use crate::components::header::Header;
use crate::components::load_failure::LoadFailurePanel;
use crate::components::run_controls::RunControls;
use crate::components::scenario_summary::ScenarioSummary;
use crate::components::topology::TopologyView;
use crate::driver::SimDriver;
use crate::workspace::Workspace;
use leptos::prelude::*;

#[component]
pub fn App() -> impl IntoView {
    let (driver, sim) = SimDriver::new();
    let (workspace, open) = Workspace::new(driver);
    workspace.start();

    // The tab title is outside the reactive DOM: keep it in sync with the scenario.
    Effect::new(move |_| {
        let title = open.scenario.with(|scenario| {
            scenario
                .as_ref()
                .map(|scenario| scenario.metadata.title.clone())
                .filter(|title| !title.is_empty())
        });
        document().set_title(&match title {
            Some(title) => format!("{title} · Faultline"),
            None => "Faultline".to_string(),
        });
    });

    view! {
        <div class="app">
            <Header workspace=workspace open=open />
            <main class="layout">
                <section class="stage" aria-label="Scenario">
                    <ScenarioSummary scenario=open.scenario />
                    <LoadFailurePanel
                        failure=open.load_failure
                        on_dismiss=move || workspace.dismiss_failure()
                    />
                    <TopologyView scenario=open.scenario snapshot=sim.snapshot />
                </section>
                <aside class="panel" aria-label="Simulation">
                    <RunControls driver=driver sim=sim />
                    <CheckList snapshot=sim.snapshot />
                    <EventLog lines=sim.trace_lines />
                </aside>
            </main>
        </div>
    }
}
