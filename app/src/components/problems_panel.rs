//! Live validation: the engine validator's problems for the document being
//! edited, each with its JSON path; clicking one selects what it is about.

use crate::editor::{Editor, Selection, problem_link_index, problem_node_index};
use leptos::prelude::*;

#[component]
pub fn ProblemsPanel(editor: Editor) -> impl IntoView {
    let count = move || editor.problems.with(Vec::len);
    let select_problem = move |path: &str| {
        let selection = editor.document.with_untracked(|document| {
            let scenario = document.as_ref()?;
            if let Some(index) = problem_node_index(path) {
                let id = scenario.topology.nodes.get(index)?.id.clone();
                return Some(Selection::nodes([id]));
            }
            problem_link_index(path).map(|index| Selection {
                link: Some(index),
                ..Selection::default()
            })
        });
        if let Some(selection) = selection {
            editor.select(selection);
        }
    };
    view! {
        <section class="card problems-card" aria-labelledby="problems-title" data-testid="problems" data-count=count>
            <h2 class="card-title" id="problems-title">
                "Problems"
                <span class="badge" data-status=move || if count() == 0 { "pass" } else { "fail" }>
                    {move || if count() == 0 { "valid".to_string() } else { count().to_string() }}
                </span>
            </h2>
            <Show
                when=move || { count() > 0 }
                fallback=|| view! { <p class="card-subtitle">"The scenario is valid and can run."</p> }
            >
                <p class="card-subtitle">"Fix these to run the scenario."</p>
                <ul class="problems" role="list">
                    {move || {
                        editor
                            .problems
                            .get()
                            .into_iter()
                            .map(|problem| {
                                let path = problem.path.clone();
                                let shown = if path.is_empty() { "(document)".to_string() } else { path.clone() };
                                view! {
                                    <li class="problem">
                                        <button class="problem-button" on:click=move |_| select_problem(&path)>
                                            <code class="problem-path">{shown}</code>
                                            <span class="problem-message">{problem.message}</span>
                                        </button>
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </Show>
        </section>
    }
}
