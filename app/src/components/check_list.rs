//! The engine's invariant checks with pass / fail / pending badges.

use crate::driver::SimDriver;
use crate::format;
use crate::live::Highlight;
use faultline_engine::Snapshot;
use faultline_engine::checkers::{CheckResult, CheckStatus, Property};
use leptos::prelude::*;

#[component]
pub fn CheckList(snapshot: ReadSignal<Option<Snapshot>>) -> impl IntoView {
    // Snapshots arrive every frame; checks change rarely. The memo keeps the
    // list from being rebuilt unless a result actually changed.
    let checks = Memo::new(move |_| {
        snapshot.with(|snapshot| {
            snapshot
                .as_ref()
                .map(|snapshot| snapshot.checks.clone())
                .unwrap_or_default()
        })
    });
    let summary = move || {
        checks.with(|checks| {
            let failed = checks
                .iter()
                .filter(|check| check.status == CheckStatus::Fail)
                .count();
            let pending = checks
                .iter()
                .filter(|check| check.status == CheckStatus::Pending)
                .count();
            match (failed, pending) {
                (0, 0) => "all pass".to_string(),
                (0, pending) => format!("{pending} pending"),
                (failed, _) => format!("{failed} failing"),
            }
        })
    };

    view! {
        <section class="card checks" aria-labelledby="checks-heading">
            <h2 id="checks-heading" class="card-title">
                "Checks" <span class="card-subtitle">{summary}</span>
            </h2>
            <ul class="check-list" data-testid="checks">
                {move || {
                    checks
                        .get()
                        .into_iter()
                        .map(|check| check_item(check, snapshot))
                        .collect_view()
                }}
            </ul>
        </section>
    }
}

fn check_item(check: CheckResult, snapshot: ReadSignal<Option<Snapshot>>) -> impl IntoView {
    let (status, badge) = match check.status {
        CheckStatus::Pass => ("pass", "✓ pass"),
        CheckStatus::Fail => ("fail", "✗ fail"),
        CheckStatus::Pending => ("pending", "… pending"),
    };
    let property = match check.property {
        Property::Always => "always",
        Property::Eventually => "eventually",
    };
    // Pending checks are judged over the whole history: say when.
    let decided_at_end = (check.status == CheckStatus::Pending).then(|| {
        view! {
            <p class="check-when" data-testid="check-decided-at-end">
                "decided at the end of the run"
            </p>
        }
    });
    let violation = (check.status == CheckStatus::Fail).then(|| {
        let first = check
            .first_violation_us
            .map(|time_us| format!("first at {}", format::sim_seconds(time_us)))
            .unwrap_or_else(|| "at the end of the run".to_string());
        let times = if check.violations == 1 {
            "1 violation".to_string()
        } else {
            format!("{} violations", format::count(check.violations))
        };
        // The live view seeks to the first moment and highlights what it involves.
        let seek = use_context::<SimDriver>().zip(check.first_violation_us).map(|(driver, at_us)| {
            let highlight = use_context::<RwSignal<Highlight>>();
            let name = check.name.clone();
            let node_indices = check.nodes.clone();
            let messages: Vec<u64> = check.messages.iter().map(|message| message.0).collect();
            let on_click = move |_| {
                let nodes = snapshot.with_untracked(|snapshot| {
                    snapshot
                        .as_ref()
                        .map(|snapshot| {
                            node_indices
                                .iter()
                                .filter_map(|node| snapshot.nodes.get(node.index()))
                                .map(|node| node.id.clone())
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default()
                });
                if let Some(highlight) = highlight {
                    highlight.set(Highlight {
                        check: Some(name.clone()),
                        nodes,
                        messages: messages.clone(),
                    });
                }
                driver.seek(at_us);
            };
            let involved = if check.messages.is_empty() {
                String::new()
            } else {
                let ids: Vec<String> = check.messages.iter().take(5).map(|id| id.to_string()).collect();
                format!(" (messages {})", ids.join(", "))
            };
            view! {
                <button
                    class="button small check-seek"
                    data-testid="seek-violation"
                    title="Re-run to the first moment of this violation and highlight what it involves"
                    on:click=on_click
                >
                    "Seek to " {format::sim_seconds(at_us)} {involved}
                </button>
            }
        });
        view! {
            <p class="check-violation">
                {times} ", " {first} ": " <span class="check-detail">{check.detail.clone()}</span>
            </p>
            {seek}
        }
    });
    let name = check.name.clone();
    let full_name = check.name.clone();
    // Descriptions may open with the property ("Always: …"); the tag shows it already.
    let description = ["Always: ", "Eventually: "]
        .iter()
        .find_map(|prefix| check.description.strip_prefix(prefix))
        .map(str::to_string)
        .unwrap_or(check.description);
    view! {
        <li class="check" data-testid="check" data-check=name data-status=status>
            <div class="check-head">
                <span class="badge" data-status=status>
                    {badge}
                </span>
                <code class="check-name" title=full_name>
                    {check.name}
                </code>
            </div>
            <p class="check-description">
                <span class="check-property">{property}</span>
                " "
                {description}
            </p>
            {decided_at_end}
            {violation}
        </li>
    }
}
