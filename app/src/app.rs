//! The root component: creates the driver, editor and workspace and lays out the screen.

use crate::components::canvas::EditorCanvas;
use crate::components::check_list::CheckList;
use crate::components::event_log::EventLog;
use crate::components::header::Header;
use crate::components::inspector::Inspector;
use crate::components::load_failure::LoadFailurePanel;
use crate::components::palette::Palette;
use crate::components::problems_panel::ProblemsPanel;
use crate::components::run_controls::RunControls;
use crate::components::scenario_summary::ScenarioSummary;
use crate::components::share_dialog::ShareDialog;
use crate::components::status_bar::StatusBar;
use crate::components::toolbar::{CheatSheet, Toolbar};
use crate::driver::SimDriver;
use crate::editor::{Editor, storage};
use crate::live::Highlight;
use crate::live::charts::ChartsPanel;
use crate::live::compare::ComparePanel;
use crate::live::sequence::SequencePanel;
use crate::live::timeline::FaultTimeline;
use crate::shortcuts;
use crate::workspace::Workspace;
use faultline_engine::scenario::LinkKind;
use leptos::prelude::*;

#[component]
pub fn App() -> impl IntoView {
    let (driver, sim) = SimDriver::new();
    let editor = Editor::new(driver);
    // The live view (overlay, fault menu items, checker seek) reaches the
    // driver and what it publishes through context.
    provide_context(driver);
    provide_context(sim);
    crate::live::svg_text_refresh::provide_text_refresh(sim);
    provide_context(RwSignal::new(Highlight::default()));
    provide_context(editor.problems);
    let (workspace, open) = Workspace::new(editor);
    let (new_link_kind, set_new_link_kind) = signal(LinkKind::SyncCall);
    let (cheat_sheet_open, set_cheat_sheet_open) = signal(false);
    shortcuts::install(editor, workspace, set_cheat_sheet_open);
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
    // Autosave: every change to the document is written to localStorage, so a
    // reload or a crashed tab comes back to the same work.
    Effect::new(move |_| {
        let text = editor.document.with(|document| {
            document
                .as_ref()
                .and_then(|scenario| serde_json::to_string(scenario).ok())
        });
        if let Some(text) = text {
            storage::write_autosave(text);
        }
    });

    let invalid = move || editor.problems.with(|problems| !problems.is_empty());
    view! {
        <div class="app">
            <Header workspace=workspace open=open />
            <main class="layout">
                <Palette editor=editor />
                <section class="stage" aria-label="Scenario">
                    <ScenarioSummary scenario=open.scenario />
                    <LoadFailurePanel
                        failure=open.load_failure
                        on_dismiss=move || workspace.dismiss_failure()
                    />
                    <Toolbar
                        editor=editor
                        new_link_kind=new_link_kind
                        set_new_link_kind=set_new_link_kind
                        set_cheat_sheet_open=set_cheat_sheet_open
                    />
                    <EditorCanvas
                        editor=editor
                        workspace=workspace
                        snapshot=sim.snapshot
                        new_link_kind=new_link_kind
                    />
                    <FaultTimeline driver=driver sim=sim editor=editor />
                    <StatusBar editor=editor />
                </section>
                <aside class="panel" aria-label="Inspector and simulation">
                    <Inspector editor=editor />
                    <ProblemsPanel editor=editor />
                    <fieldset
                        class="run-gate"
                        disabled=invalid
                        title=move || invalid().then_some("Fix the problems listed above to run")
                    >
                        <legend class="visually-hidden">"Run"</legend>
                        <RunControls driver=driver sim=sim />
                    </fieldset>
                    <CheckList snapshot=sim.snapshot />
                    <ComparePanel driver=driver sim=sim />
                    <ChartsPanel driver=driver sim=sim editor=editor />
                    <EventLog lines=sim.trace_lines />
                    <SequencePanel driver=driver sim=sim />
                    <crate::live::broker_panel::BrokerPanel />
                    <crate::live::replication_panel::ReplicationPanel />
                    <crate::live::transactions_panel::TransactionsPanel />
                </aside>
            </main>
            <CheatSheet open=cheat_sheet_open set_open=set_cheat_sheet_open />
            <ShareDialog workspace=workspace open=open />
        </div>
    }
}
