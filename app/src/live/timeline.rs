//! The fault timeline under the canvas: the run's time axis with its fault
//! plan (planned faults hollow, applied ones filled), the checker violations
//! found so far, a cursor at the current time, and a scrubber. Seeking re-runs
//! deterministically from t = 0 in the worker (bounded work per frame);
//! "next fault" / "next violation" run on event by event until one appears.

use crate::driver::{SimDriver, SimView};
use crate::editor::Editor;
use crate::format;
use faultline_engine::live::{TimelineMark, TimelineMarkKind};
use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// Arrow keys on the scrubber move by this fraction of the run.
const KEYBOARD_SEEK_FRACTION: f64 = 0.01;

#[derive(Clone, Debug, PartialEq)]
struct AxisMark {
    at_us: u64,
    /// "fault", "planned" or "violation".
    kind: &'static str,
    text: String,
}

fn percent(at_us: u64, end_us: u64) -> f64 {
    if end_us == 0 {
        0.0
    } else {
        (at_us.min(end_us) as f64 * 100.0 / end_us as f64).clamp(0.0, 100.0)
    }
}

#[component]
pub fn FaultTimeline(driver: SimDriver, sim: SimView, editor: Editor) -> impl IntoView {
    let end_us = Memo::new(move |_| sim.snapshot.with(|s| s.as_ref().map_or(0, |s| s.end_us)));
    let now_us = Memo::new(move |_| sim.snapshot.with(|s| s.as_ref().map_or(0, |s| s.now_us)));
    let axis_marks = Memo::new(move |_| {
        let mut marks: Vec<AxisMark> = sim.marks.with(|marks| {
            marks
                .iter()
                .map(|mark: &TimelineMark| AxisMark {
                    at_us: mark.at_us,
                    kind: match mark.kind {
                        TimelineMarkKind::Fault => "fault",
                        TimelineMarkKind::Violation => "violation",
                    },
                    text: mark.text.clone(),
                })
                .collect()
        });
        let now = now_us.get();
        // Faults of the plan still to come (scripted and recorded live ones);
        // those of the document are drawn as draggable plan markers instead.
        let in_document = editor.document.with(|document| {
            document
                .as_ref()
                .map(|scenario| scenario.faults.timeline.clone())
                .unwrap_or_default()
        });
        sim.run_scenario.with(|scenario| {
            if let Some(scenario) = scenario {
                for fault in &scenario.faults.timeline {
                    let at_us = fault.at_ms * 1_000;
                    if at_us > now && !in_document.contains(fault) {
                        marks.push(AxisMark {
                            at_us,
                            kind: "planned",
                            text: fault.action.to_string(),
                        });
                    }
                }
            }
        });
        marks
    });

    let seek_to_fraction = move |fraction: f64| {
        let end = end_us.get_untracked();
        if end > 0 {
            driver.seek((fraction.clamp(0.0, 1.0) * end as f64) as u64);
        }
    };
    let on_track_click = move |event: ev::MouseEvent| {
        let Some(track) = event
            .current_target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        let rect = track.get_bounding_client_rect();
        if rect.width() > 0.0 {
            seek_to_fraction((f64::from(event.client_x()) - rect.left()) / rect.width());
        }
    };
    let on_track_key = move |event: ev::KeyboardEvent| {
        let end = end_us.get_untracked();
        if end == 0 {
            return;
        }
        let current = now_us.get_untracked() as f64 / end as f64;
        let target = match event.key().as_str() {
            "ArrowRight" | "ArrowUp" => current + KEYBOARD_SEEK_FRACTION,
            "ArrowLeft" | "ArrowDown" => current - KEYBOARD_SEEK_FRACTION,
            "Home" => 0.0,
            "End" => 1.0,
            _ => return,
        };
        event.prevent_default();
        seek_to_fraction(target);
    };

    let particle_note = move || {
        sim.in_flight.with(|in_flight| {
            let shown = in_flight.shown.len();
            if in_flight.hidden > 0 {
                format!(
                    "{} messages in flight drawn, {} more hidden",
                    format::count(shown as u64),
                    format::count(in_flight.hidden)
                )
            } else {
                format!("{} messages in flight", format::count(shown as u64))
            }
        })
    };
    let live_faults = move || {
        sim.live_faults.with(|faults| {
            faults
                .iter()
                .map(|fault| {
                    view! {
                        <li data-testid="live-fault">
                            {format::sim_seconds(fault.at_ms * 1_000)} " " {fault.action.to_string()}
                        </li>
                    }
                })
                .collect_view()
        })
    };
    // Live faults live in the run's plan; this copies them into the document
    // (undoable), so Save and Share export them. The edit reloads the run,
    // which then replays them as scripted faults.
    let keep_in_document = move |_| {
        let faults = sim.live_faults.get_untracked();
        if faults.is_empty() {
            return;
        }
        editor.edit("Keep live faults in the scenario", move |scenario| {
            scenario.faults.timeline.extend(faults);
            scenario.faults.timeline.sort_by_key(|fault| fault.at_ms);
        });
    };
    let has_live_faults = move || sim.live_faults.with(|faults| !faults.is_empty());
    let has_run = move || end_us.get() > 0;
    let finished = move || {
        sim.snapshot
            .with(|s| s.as_ref().is_some_and(|s| s.finished.is_some()))
    };

    view! {
        <section class="fault-timeline" data-testid="fault-timeline" aria-label="Fault timeline">
            <div class="timeline-bar">
                <button
                    class="button small"
                    data-testid="next-fault"
                    disabled=move || !has_run() || finished()
                    title="Run on until the next fault is applied"
                    on:click=move |_| driver.run_to_next_mark(TimelineMarkKind::Fault)
                >
                    "Next fault →"
                </button>
                <button
                    class="button small"
                    data-testid="next-violation"
                    disabled=move || !has_run() || finished()
                    title="Run on until a check finds its first violation"
                    on:click=move |_| driver.run_to_next_mark(TimelineMarkKind::Violation)
                >
                    "Next violation →"
                </button>
                <div
                    class="timeline-track"
                    data-testid="timeline-track"
                    role="slider"
                    tabindex="0"
                    aria-label="Seek: simulated time"
                    aria-valuemin="0"
                    aria-valuemax=move || format!("{:.3}", end_us.get() as f64 / 1e6)
                    aria-valuenow=move || format!("{:.3}", now_us.get() as f64 / 1e6)
                    aria-valuetext=move || format::sim_seconds(now_us.get())
                    on:click=on_track_click
                    on:keydown=on_track_key
                >
                    <div class="timeline-progress" style:width=move || format!("{:.3}%", percent(now_us.get(), end_us.get()))></div>
                    {move || {
                        let end = end_us.get();
                        axis_marks
                            .get()
                            .into_iter()
                            .map(|mark| {
                                let title = format!("{} {}", format::sim_seconds(mark.at_us), mark.text);
                                view! {
                                    <span
                                        class="timeline-mark"
                                        data-testid="timeline-mark"
                                        data-kind=mark.kind
                                        data-at-us=mark.at_us
                                        style:left=format!("{:.3}%", percent(mark.at_us, end))
                                        title=title
                                    ></span>
                                }
                            })
                            .collect_view()
                    }}
                    <div class="timeline-cursor" style:left=move || format!("{:.3}%", percent(now_us.get(), end_us.get()))></div>
                    <PlanFaultMarkers editor=editor end_us=end_us />
                </div>
                <span class="timeline-status" data-testid="seek-status">
                    {move || if sim.seeking.get() { "seeking…" } else { "" }}
                </span>
            </div>
            <div class="timeline-notes">
                <span data-testid="particle-count">{particle_note}</span>
                <ul class="live-faults" aria-label="Faults injected live (recorded in the run's plan)">
                    {live_faults}
                </ul>
                <Show when=has_live_faults>
                    <button
                        class="button small"
                        data-testid="keep-live-faults"
                        title="Add the live faults to the scenario's fault plan, so Save and Share export them (restarts the run)"
                        on:click=keep_in_document
                    >
                        "Keep in scenario"
                    </button>
                </Show>
            </div>
        </section>
    }
}

/// While a plan marker is dragged: which fault, the track's screen span, and
/// where it would go now.
#[derive(Clone, Copy, Debug, PartialEq)]
struct PlanDrag {
    index: usize,
    track_left: f64,
    track_width: f64,
    at_ms: u64,
    moved: bool,
}

/// The document's fault plan as draggable markers on the track. Dropping a
/// marker moves that fault in time through `Editor::edit` (undoable, saved
/// and shared with the scenario); the edit reloads the run, which replays
/// the plan from t = 0. Arrow keys move a focused marker by 1% of the run.
#[component]
fn PlanFaultMarkers(editor: Editor, end_us: Memo<u64>) -> impl IntoView {
    let (drag, set_drag) = signal(None::<PlanDrag>);
    let plan = Memo::new(move |_| {
        editor.document.with(|document| {
            document
                .as_ref()
                .map(|scenario| {
                    scenario
                        .faults
                        .timeline
                        .iter()
                        .map(|fault| (fault.at_ms, fault.action.to_string()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    });
    let move_fault = move |index: usize, at_ms: u64| {
        let label = format!("Move fault to {}", format::sim_seconds(at_ms * 1_000));
        editor.edit(&label, move |scenario| {
            let end_ms = scenario.run.duration_ms;
            if let Some(fault) = scenario.faults.timeline.get_mut(index) {
                fault.at_ms = at_ms.min(end_ms);
            }
            // The plan is kept in time order (stable: equal times keep order).
            scenario.faults.timeline.sort_by_key(|fault| fault.at_ms);
        });
    };
    let at_ms_for = move |client_x: f64, drag: &PlanDrag| {
        let fraction = ((client_x - drag.track_left) / drag.track_width).clamp(0.0, 1.0);
        (fraction * end_us.get_untracked() as f64 / 1_000.0).round() as u64
    };
    move || {
        let end = end_us.get();
        if end == 0 {
            return Vec::new();
        }
        plan.get()
            .into_iter()
            .enumerate()
            .map(|(index, (planned_ms, text))| {
                let shown_ms = move || {
                    drag.get()
                        .filter(|drag| drag.index == index)
                        .map_or(planned_ms, |drag| drag.at_ms)
                };
                let title = format!(
                    "{} {text} — drag to move it in time",
                    format::sim_seconds(planned_ms * 1_000)
                );
                let on_pointer_down = move |event: ev::PointerEvent| {
                    event.stop_propagation();
                    event.prevent_default();
                    let Some(marker) = event
                        .current_target()
                        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
                    else {
                        return;
                    };
                    let Some(track) = marker.parent_element() else {
                        return;
                    };
                    let rect = track.get_bounding_client_rect();
                    if rect.width() <= 0.0 {
                        return;
                    }
                    let _ = marker.set_pointer_capture(event.pointer_id());
                    set_drag.set(Some(PlanDrag {
                        index,
                        track_left: rect.left(),
                        track_width: rect.width(),
                        at_ms: planned_ms,
                        moved: false,
                    }));
                };
                let on_pointer_move = move |event: ev::PointerEvent| {
                    let Some(current) = drag.get_untracked().filter(|drag| drag.index == index)
                    else {
                        return;
                    };
                    let at_ms = at_ms_for(f64::from(event.client_x()), &current);
                    if at_ms != current.at_ms {
                        set_drag.set(Some(PlanDrag {
                            at_ms,
                            moved: true,
                            ..current
                        }));
                    }
                };
                let on_pointer_up = move |event: ev::PointerEvent| {
                    event.stop_propagation();
                    let Some(current) = drag.get_untracked().filter(|drag| drag.index == index)
                    else {
                        return;
                    };
                    set_drag.set(None);
                    let at_ms = at_ms_for(f64::from(event.client_x()), &current);
                    if current.moved && at_ms != planned_ms {
                        move_fault(index, at_ms);
                    }
                };
                let on_key = move |event: ev::KeyboardEvent| {
                    let step_ms = (end_us.get_untracked() as f64 / 1_000.0 * KEYBOARD_SEEK_FRACTION)
                        .max(1.0) as u64;
                    let at_ms = match event.key().as_str() {
                        "ArrowRight" | "ArrowUp" => planned_ms.saturating_add(step_ms),
                        "ArrowLeft" | "ArrowDown" => planned_ms.saturating_sub(step_ms),
                        _ => return,
                    };
                    event.prevent_default();
                    event.stop_propagation();
                    move_fault(index, at_ms);
                };
                view! {
                    <span
                        class="timeline-plan-fault"
                        class:dragging=move || drag.get().is_some_and(|drag| drag.index == index)
                        data-testid="plan-fault"
                        data-index=index
                        data-at-ms=shown_ms
                        role="slider"
                        tabindex="0"
                        aria-label=format!("Planned fault: {text}")
                        aria-valuemin="0"
                        aria-valuemax=format!("{:.3}", end as f64 / 1e6)
                        aria-valuenow=move || format!("{:.3}", shown_ms() as f64 / 1e3)
                        aria-valuetext=move || format::sim_seconds(shown_ms() * 1_000)
                        title=title
                        style:left=move || format!("{:.3}%", percent(shown_ms() * 1_000, end))
                        on:pointerdown=on_pointer_down
                        on:pointermove=on_pointer_move
                        on:pointerup=on_pointer_up
                        on:pointercancel=move |_| set_drag.set(None)
                        on:click=|event: ev::MouseEvent| event.stop_propagation()
                        on:keydown=on_key
                    ></span>
                }
            })
            .collect::<Vec<_>>()
    }
}
