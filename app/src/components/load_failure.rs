//! The error panel for a refused scenario: every problem with its JSON path.

use crate::workspace::LoadFailure;
use leptos::prelude::*;

#[component]
pub fn LoadFailurePanel(
    failure: ReadSignal<Option<LoadFailure>>,
    on_dismiss: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    move || {
        failure.get().map(|failure| {
            let on_dismiss = on_dismiss.clone();
            let problems = failure
                .problems
                .into_iter()
                .map(|problem| {
                    let path = if problem.path.is_empty() {
                        "(document)".to_string()
                    } else {
                        problem.path
                    };
                    view! {
                        <li class="problem">
                            <code class="problem-path">{path}</code>
                            <span class="problem-message">{problem.message}</span>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <div class="load-failure" role="alert" data-testid="load-failure">
                    <div class="load-failure-head">
                        <strong>"Could not open " {failure.source}</strong>
                        <button
                            class="button ghost"
                            aria-label="Dismiss error"
                            on:click=move |_| on_dismiss()
                        >
                            "Dismiss"
                        </button>
                    </div>
                    <p class="load-failure-note">
                        "Nothing was changed: the current scenario is still open."
                    </p>
                    <ul class="problems">{problems}</ul>
                </div>
            }
        })
    }
}
