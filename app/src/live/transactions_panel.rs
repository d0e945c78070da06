//! Transactions panel: one row per saga / 2PC / 3PC / TCC instance with its steps as a small Gantt chart over sim time (SVG) and its outcome. Draws the engine's `Inspection` as is; only the scale is the panel's.

use crate::driver::SimView;
use crate::format;
use crate::live::inspection_card::InspectionCard;
use faultline_engine::inspect::{Inspection, TransactionRow, TransactionStepStatus};
use leptos::prelude::*;

/// Rows drawn: the most recently started instances (the engine keeps more).
const TRANSACTION_ROWS_SHOWN: usize = 12;
/// Width of a Gantt chart in SVG units (the CSS scales it to the card).
const GANTT_WIDTH: f64 = 260.0;
/// Height of one step's lane.
const LANE_HEIGHT: f64 = 7.0;

#[component]
pub fn TransactionsPanel() -> impl IntoView {
    let sim = expect_context::<SimView>();
    let inspection = sim.inspection;
    view! {
        <InspectionCard panel="transactions" title="Transactions">
            {move || inspection.with(|inspection| match inspection {
                None => view! { <p class="inspection-empty">"Waiting for the engine…"</p> }.into_any(),
                Some(inspection) if inspection.transactions.is_empty() => {
                    view! { <p class="inspection-empty">"No saga or transaction has started."</p> }.into_any()
                }
                Some(inspection) => transaction_rows(inspection).into_any(),
            })}
        </InspectionCard>
    }
}

fn transaction_rows(inspection: &Inspection) -> impl IntoView + use<> {
    let skip = inspection
        .transactions
        .len()
        .saturating_sub(TRANSACTION_ROWS_SHOWN);
    let rows: Vec<TransactionRow> = inspection.transactions[skip..].to_vec();
    // One time axis for every row shown, so bars compare across instances.
    let window_start_us = rows.iter().map(|row| row.started_us).min().unwrap_or(0);
    let window_end_us = inspection.now_us.max(window_start_us + 1);
    let not_shown = skip as u64 + inspection.transactions_forgotten;
    view! {
        <p class="inspection-axis">
            {format!("{} → {}", format::sim_seconds(window_start_us), format::sim_seconds(window_end_us))}
            {(not_shown > 0).then(|| format!(" · {not_shown} older not shown"))}
        </p>
        <ul class="transaction-list" data-testid="transactions">
            {rows.into_iter().map(|row| transaction_row(row, window_start_us, window_end_us, inspection.now_us)).collect_view()}
        </ul>
    }
}

fn transaction_row(row: TransactionRow, start_us: u64, end_us: u64, now_us: u64) -> impl IntoView {
    let x = move |time_us: u64| {
        (time_us.saturating_sub(start_us)) as f64 / (end_us - start_us) as f64 * GANTT_WIDTH
    };
    let lanes = row.steps.len().max(1);
    let height = lanes as f64 * LANE_HEIGHT + 2.0;
    let outcome = row.outcome.as_str();
    let instance_end = row.ended_us.unwrap_or(now_us);
    let title = if row.detail.is_empty() {
        format!("{} {} on {}", row.protocol, row.id, row.node)
    } else {
        format!(
            "{} {} on {}: {}",
            row.protocol, row.id, row.node, row.detail
        )
    };
    let gantt_label = format!("{} steps of {}", row.steps.len(), row.id);
    view! {
        <li class="transaction-row" data-testid="transaction-row" data-outcome=outcome title=title>
            <span class="transaction-id">{format!("{} {}", row.protocol, row.id)}</span>
            <span class=format!("inspection-tag transaction-outcome transaction-{outcome}") data-testid="transaction-outcome">{outcome}</span>
            <svg class="transaction-gantt" viewBox=format!("0 0 {GANTT_WIDTH} {height}") preserveAspectRatio="none" role="img"
                aria-label=gantt_label>
                <rect class="gantt-instance" x={x(row.started_us)} y="0"
                    width={(x(instance_end) - x(row.started_us)).max(1.0)} height={height} />
                {row.steps.into_iter().enumerate().map(|(lane, step)| {
                    let step_end = step.ended_us.unwrap_or(now_us);
                    let status = match step.status {
                        TransactionStepStatus::Running => "running",
                        TransactionStepStatus::Ok => "ok",
                        TransactionStepStatus::Failed => "failed",
                        TransactionStepStatus::Blocked => "blocked",
                    };
                    let compensation = step.label.starts_with("compensate");
                    let label = format!("{} on {} · {status}{}", step.label, step.node,
                        if step.attempts > 1 { format!(" after {} attempts", step.attempts) } else { String::new() });
                    view! {
                        <rect class=format!("gantt-step gantt-{status}") class:gantt-compensation=compensation
                            x={x(step.started_us)} y={1.0 + lane as f64 * LANE_HEIGHT}
                            width={(x(step_end) - x(step.started_us)).max(1.5)} height={LANE_HEIGHT - 1.5}>
                            <title>{label}</title>
                        </rect>
                    }
                }).collect_view()}
            </svg>
        </li>
    }
}
