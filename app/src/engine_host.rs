//! What the page and the engine worker say to each other, and the budgeted
//! "advance" both of them run (compiled into the page and into the worker).
//!
//! Messages cross `postMessage` as JSON text. JSON, not a compact binary
//! codec, because `Snapshot` and `Scenario` use serde features (internally
//! tagged and optional fields) that non-self-describing formats reject; a
//! frame's snapshot is a few kilobytes, which JSON handles well within a frame.

use crate::chart_feed::{ChartDelta, ChartFeed};
use faultline_engine::checkpoint::SeekCheckpoints;
use faultline_engine::inspect::{INSPECTION_MIN_INTERVAL_MS, Inspection};
use faultline_engine::live::{
    InFlightMessages, MAX_IN_FLIGHT_MESSAGES_SHOWN, TimelineMark, TimelineMarkKind,
};
use faultline_engine::live_drops::RecentDrops;
use faultline_engine::metrics::ChartSubject;
use faultline_engine::scenario::{FaultAction, ScheduledFault};
use faultline_engine::sequence::SequenceDiagram;
use faultline_engine::{Scenario, SimDuration, SimTime, Simulator, Snapshot};
use serde::{Deserialize, Serialize};

/// Lines of the event log sent with a report that carries them.
pub const EVENT_LOG_LINES: usize = 200;
/// Events per engine call; between calls the host checks its wall clock.
const EVENTS_PER_CHUNK: u64 = 2_000;

/// A request from the page to the worker. Each carries an id that the answer
/// repeats, so the page can tell a late answer from the one it waits for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ToEngine {
    /// Replace the run with a fresh one for this scenario, paused at t = 0.
    Load {
        request_id: u64,
        scenario: Box<Scenario>,
    },
    /// Run towards `target_us` within `max_events` and `budget_ms` of wall time.
    Advance {
        request_id: u64,
        target_us: u64,
        max_events: u64,
        budget_ms: f64,
        with_trace_lines: bool,
    },
    /// Process exactly one event.
    Step { request_id: u64 },
    /// Inject a fault at the next millisecond and record it into the run's
    /// fault plan, so a re-run from t = 0 reproduces it (live view).
    Inject {
        request_id: u64,
        action: FaultAction,
    },
    /// Move the run to `target_us`: re-run from t = 0 (with every recorded
    /// fault) when the target is in the past, then advance within budget.
    /// Repeated until the report's `now_us` reaches the target.
    Seek {
        request_id: u64,
        target_us: u64,
        max_events: u64,
        budget_ms: f64,
    },
    /// Process events until the next fault or violation appears (the report
    /// says whether it did), the run ends or `max_events` have run.
    RunToMark {
        request_id: u64,
        kind: TimelineMarkKind,
        max_events: u64,
    },
    /// Watch `subject`'s metric series from now on (the live charts); the
    /// answer carries it in full, later reports only its new samples.
    WatchChart {
        request_id: u64,
        subject: ChartSubject,
    },
    /// The sequence diagram of a request, saga or message the user typed or
    /// picked (`sequence::Correlation::parse`; empty: the latest request).
    Sequence { request_id: u64, query: String },
    /// An inspection panel opened (`wanted`) or the last one closed. While
    /// wanted, reports carry an `Inspection` (this answer at once, advances
    /// at most every `INSPECTION_MIN_INTERVAL_MS`): building one walks every
    /// node, so it is not done for closed panels or on every frame.
    WatchInspection { request_id: u64, wanted: bool },
}

impl ToEngine {
    pub fn request_id(&self) -> u64 {
        match self {
            ToEngine::Load { request_id, .. }
            | ToEngine::Advance { request_id, .. }
            | ToEngine::Step { request_id }
            | ToEngine::Inject { request_id, .. }
            | ToEngine::Seek { request_id, .. }
            | ToEngine::RunToMark { request_id, .. }
            | ToEngine::WatchChart { request_id, .. } => *request_id,
            ToEngine::Sequence { request_id, .. } => *request_id,
            ToEngine::WatchInspection { request_id, .. } => *request_id,
        }
    }
}

/// An answer from the worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum FromEngine {
    /// The worker's module is initialised and listening.
    Ready,
    Report(Box<EngineReport>),
    /// The request could not be carried out (e.g. a scenario the worker
    /// rejects); the page keeps its current run.
    Rejected {
        request_id: u64,
        message: String,
    },
}

/// The state of the run after a request, plus what the request cost.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EngineReport {
    pub request_id: u64,
    pub snapshot: Snapshot,
    pub trace_lines: Option<Vec<String>>,
    pub events_processed: u64,
    pub sim_advanced_us: u64,
    /// The request ran out of events or wall time before reaching its target.
    pub over_budget: bool,
    /// Messages on the wire, for particles (bounded).
    #[serde(default)]
    pub in_flight: InFlightMessages,
    /// Faults and first violations so far (bounded by the engine).
    #[serde(default)]
    pub marks: Vec<TimelineMark>,
    /// The fault an `Inject` request recorded into the plan.
    #[serde(default)]
    pub recorded_fault: Option<ScheduledFault>,
    /// A `RunToMark` request found its mark.
    #[serde(default)]
    pub mark_found: bool,
    /// New samples of the watched chart series, when there are any.
    #[serde(default)]
    pub chart: Option<ChartDelta>,
    /// Messages lost since the previous report (flashes), and per-link totals.
    #[serde(default)]
    pub drops: RecentDrops,
    /// The answer to a `Sequence` request: the diagram, or why there is none.
    #[serde(default)]
    pub sequence: Option<Result<SequenceDiagram, String>>,
    /// The inspection panels' data, while one is open (see `WatchInspection`).
    #[serde(default)]
    pub inspection: Option<Box<Inspection>>,
}

/// What one budgeted advance did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdvanceOutcome {
    pub events_processed: u64,
    pub sim_advanced_us: u64,
    pub over_budget: bool,
}

/// Runs `simulator` towards `target` in chunks, stopping at the target, at
/// the end of the run, after `max_events`, or once `budget_ms` of wall time
/// (read through `wall_clock_ms`, the host's only clock) has gone. After each
/// chunk `checkpoints` may copy the run (for seeking back).
pub fn advance_within_budget(
    simulator: &mut Simulator,
    checkpoints: &mut SeekCheckpoints,
    target: SimTime,
    max_events: u64,
    budget_ms: f64,
    wall_clock_ms: impl Fn() -> f64,
) -> AdvanceOutcome {
    let started_ms = wall_clock_ms();
    let started_at = simulator.now();
    let mut events_processed = 0;
    let mut over_budget = false;
    loop {
        let chunk = EVENTS_PER_CHUNK.min(max_events - events_processed);
        let progress = simulator.advance(target, chunk);
        checkpoints.observe(simulator);
        events_processed += progress.events_processed;
        if progress.finished.is_some() || progress.now >= target {
            break;
        }
        if events_processed >= max_events || wall_clock_ms() - started_ms >= budget_ms {
            over_budget = true;
            break;
        }
    }
    AdvanceOutcome {
        events_processed,
        sim_advanced_us: simulator.now().since(started_at).as_micros(),
        over_budget,
    }
}

/// The simulator plus the request handling the worker does. The page's
/// fallback path uses `advance_within_budget` directly on its own simulator.
#[derive(Default)]
pub struct EngineHost {
    simulator: Option<Simulator>,
    /// The run's scenario with every recorded live fault appended to its
    /// timeline: what a seek re-runs from t = 0.
    scenario: Option<Scenario>,
    /// Copies of this run taken as it advanced: a seek back restarts from
    /// the latest one at or before its target.
    checkpoints: SeekCheckpoints,
    /// The chart series the page watches and how much of it was sent.
    chart_feed: ChartFeed,
    /// Trace position of the newest drop already reported (flashed once).
    drops_reported: DropCursor,
    /// An inspection panel is open on the page.
    inspection_wanted: bool,
    /// Wall time of the last inspection sent.
    last_inspection_ms: Option<f64>,
}

/// Which drops a host has already reported, so each loss flashes once.
#[derive(Default)]
pub struct DropCursor {
    last_seq: Option<u64>,
}

impl DropCursor {
    /// The drops since the last call (all in the ring after a reload or a
    /// seek back, when the trace restarted below the cursor).
    pub fn take(&mut self, simulator: &Simulator) -> RecentDrops {
        let count = simulator.trace().count();
        let after = self.last_seq.filter(|seq| *seq < count);
        let drops = simulator.recent_drops(after);
        self.last_seq = count.checked_sub(1);
        drops
    }
}

impl EngineHost {
    pub fn handle(&mut self, request: ToEngine, wall_clock_ms: impl Fn() -> f64) -> FromEngine {
        let started_ms = wall_clock_ms();
        // Advances come every frame: they carry an inspection at most every
        // INSPECTION_MIN_INTERVAL_MS. Anything else (step, inject, seek,
        // load, a panel opening) is a user action and gets one at once.
        if let ToEngine::WatchInspection { wanted, .. } = &request {
            self.inspection_wanted = *wanted;
        }
        let inspect_now = self.inspection_wanted
            && (!matches!(request, ToEngine::Advance { .. })
                || self
                    .last_inspection_ms
                    .is_none_or(|last_ms| started_ms - last_ms >= INSPECTION_MIN_INTERVAL_MS));
        let answer = self.handle_request(request, wall_clock_ms);
        match answer {
            FromEngine::Report(mut report) if inspect_now => {
                if let Some(simulator) = self.simulator.as_ref() {
                    report.inspection = Some(Box::new(simulator.inspect()));
                    self.last_inspection_ms = Some(started_ms);
                }
                FromEngine::Report(report)
            }
            other => other,
        }
    }

    fn handle_request(&mut self, request: ToEngine, wall_clock_ms: impl Fn() -> f64) -> FromEngine {
        match request {
            ToEngine::WatchInspection { request_id, .. } => {
                self.report(request_id, AdvanceOutcome::idle(), false)
            }
            ToEngine::Load {
                request_id,
                scenario,
            } => match Simulator::new(&scenario) {
                Ok(simulator) => {
                    self.simulator = Some(simulator);
                    self.scenario = Some(*scenario);
                    self.checkpoints.clear();
                    self.chart_feed.restart();
                    self.drops_reported = DropCursor::default();
                    self.report(request_id, AdvanceOutcome::idle(), true)
                }
                Err(problems) => FromEngine::Rejected {
                    request_id,
                    message: problems.to_string(),
                },
            },
            ToEngine::Advance {
                request_id,
                target_us,
                max_events,
                budget_ms,
                with_trace_lines,
            } => {
                let Some(simulator) = self.simulator.as_mut() else {
                    return no_run(request_id);
                };
                let outcome = advance_within_budget(
                    simulator,
                    &mut self.checkpoints,
                    SimTime(target_us),
                    max_events,
                    budget_ms,
                    wall_clock_ms,
                );
                // The last lines of a finished run are always sent: no later
                // request would bring them.
                let with_trace_lines = with_trace_lines || simulator.finished().is_some();
                self.report(request_id, outcome, with_trace_lines)
            }
            ToEngine::Step { request_id } => {
                let Some(simulator) = self.simulator.as_mut() else {
                    return no_run(request_id);
                };
                let before = simulator.now();
                simulator.step();
                let outcome = AdvanceOutcome {
                    events_processed: 1,
                    sim_advanced_us: simulator.now().since(before).as_micros(),
                    over_budget: false,
                };
                self.report(request_id, outcome, true)
            }
            ToEngine::Inject { request_id, action } => {
                let (Some(simulator), Some(scenario)) =
                    (self.simulator.as_mut(), self.scenario.as_mut())
                else {
                    return no_run(request_id);
                };
                // The copies' event queues do not hold the new fault.
                self.checkpoints.clear();
                match inject_and_record(simulator, scenario, action) {
                    Ok(recorded) => match self.report(request_id, AdvanceOutcome::idle(), true) {
                        FromEngine::Report(mut report) => {
                            report.recorded_fault = Some(recorded);
                            FromEngine::Report(report)
                        }
                        other => other,
                    },
                    Err(message) => FromEngine::Rejected {
                        request_id,
                        message,
                    },
                }
            }
            ToEngine::Seek {
                request_id,
                target_us,
                max_events,
                budget_ms,
            } => {
                let (Some(simulator), Some(scenario)) =
                    (self.simulator.as_mut(), self.scenario.as_ref())
                else {
                    return no_run(request_id);
                };
                let outcome = seek_within_budget(
                    simulator,
                    scenario,
                    &mut self.checkpoints,
                    SimTime(target_us),
                    max_events,
                    budget_ms,
                    wall_clock_ms,
                );
                self.report(request_id, outcome, true)
            }
            ToEngine::RunToMark {
                request_id,
                kind,
                max_events,
            } => {
                let Some(simulator) = self.simulator.as_mut() else {
                    return no_run(request_id);
                };
                let before = simulator.now();
                let (events_processed, found) = simulator.run_to_next_mark(kind, max_events);
                let outcome = AdvanceOutcome {
                    events_processed,
                    sim_advanced_us: simulator.now().since(before).as_micros(),
                    over_budget: false,
                };
                match self.report(request_id, outcome, true) {
                    FromEngine::Report(mut report) => {
                        report.mark_found = found;
                        FromEngine::Report(report)
                    }
                    other => other,
                }
            }
            ToEngine::WatchChart {
                request_id,
                subject,
            } => {
                self.chart_feed.watch(subject);
                self.report(request_id, AdvanceOutcome::idle(), false)
            }
            ToEngine::Sequence { request_id, query } => {
                let Some(simulator) = self.simulator.as_ref() else {
                    return no_run(request_id);
                };
                let sequence = simulator.sequence_diagram_for_text(&query);
                match self.report(request_id, AdvanceOutcome::idle(), false) {
                    FromEngine::Report(mut report) => {
                        report.sequence = Some(sequence);
                        FromEngine::Report(report)
                    }
                    other => other,
                }
            }
        }
    }

    fn report(
        &mut self,
        request_id: u64,
        outcome: AdvanceOutcome,
        with_trace_lines: bool,
    ) -> FromEngine {
        let Some(simulator) = self.simulator.as_ref() else {
            return no_run(request_id);
        };
        let drops = self.drops_reported.take(simulator);
        FromEngine::Report(Box::new(EngineReport {
            request_id,
            snapshot: simulator.snapshot(),
            trace_lines: with_trace_lines.then(|| simulator.recent_trace_lines(EVENT_LOG_LINES)),
            events_processed: outcome.events_processed,
            sim_advanced_us: outcome.sim_advanced_us,
            over_budget: outcome.over_budget,
            in_flight: simulator.in_flight_messages(MAX_IN_FLIGHT_MESSAGES_SHOWN),
            marks: simulator.timeline_marks().to_vec(),
            recorded_fault: None,
            mark_found: false,
            chart: self.chart_feed.next_delta(simulator),
            drops,
            sequence: None,
            inspection: None,
        }))
    }
}

/// Injects `action` live and appends what the engine recorded (the fault at
/// the next millisecond) to `scenario`'s timeline, so a re-run from t = 0
/// reproduces this run exactly (the engine's digest ignores the origin).
pub fn inject_and_record(
    simulator: &mut Simulator,
    scenario: &mut Scenario,
    action: FaultAction,
) -> Result<ScheduledFault, String> {
    simulator
        .inject(action.clone())
        .map_err(|problems| problems.to_string())?;
    let recorded = simulator
        .live_faults()
        .last()
        .cloned()
        .unwrap_or(ScheduledFault {
            at_ms: simulator.now().as_micros() / 1_000 + 1,
            action,
        });
    scenario.faults.timeline.push(recorded.clone());
    Ok(recorded)
}

/// One budgeted piece of a seek: a target in the past first restores the
/// latest checkpoint at or before it, or rebuilds the run from `scenario` at
/// t = 0 when there is none (deterministic either way, so the same states
/// come back), then the run advances towards the target as
/// `advance_within_budget` does.
pub fn seek_within_budget(
    simulator: &mut Simulator,
    scenario: &Scenario,
    checkpoints: &mut SeekCheckpoints,
    target: SimTime,
    max_events: u64,
    budget_ms: f64,
    wall_clock_ms: impl Fn() -> f64,
) -> AdvanceOutcome {
    if target < simulator.now() {
        if let Some(restored) = checkpoints.restore_at_or_before(target) {
            *simulator = restored;
        } else if let Ok(fresh) = Simulator::new(scenario) {
            *simulator = fresh;
        }
    }
    advance_within_budget(
        simulator,
        checkpoints,
        target,
        max_events,
        budget_ms,
        wall_clock_ms,
    )
}

impl AdvanceOutcome {
    pub fn idle() -> AdvanceOutcome {
        AdvanceOutcome {
            events_processed: 0,
            sim_advanced_us: 0,
            over_budget: false,
        }
    }
}

fn no_run(request_id: u64) -> FromEngine {
    FromEngine::Rejected {
        request_id,
        message: "no scenario is loaded in the engine worker".to_string(),
    }
}

/// Sim time `elapsed_ms` of real time buys at `speed_multiplier`, in whole
/// microseconds, with the sub-microsecond remainder carried in `carry_us`
/// (at 0.01× a 16 ms frame is 160 µs; at 10 000× it is 160 s).
pub fn sim_advance_for(elapsed_ms: f64, speed_multiplier: f64, carry_us: &mut f64) -> SimDuration {
    let wanted_us = elapsed_ms * 1_000.0 * speed_multiplier + *carry_us;
    let whole_us = wanted_us.floor().max(0.0);
    *carry_us = wanted_us - whole_us;
    SimDuration::from_micros(whole_us as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_speeds_carry_the_remainder_instead_of_losing_it() {
        let mut carry_us = 0.0;
        // 0.01× for 0.05 ms buys 0.5 µs: nothing yet, but it is owed.
        assert_eq!(sim_advance_for(0.05, 0.01, &mut carry_us).as_micros(), 0);
        assert_eq!(sim_advance_for(0.05, 0.01, &mut carry_us).as_micros(), 1);
        assert!(carry_us.abs() < 1e-9, "carry left: {carry_us}");
    }

    #[test]
    fn protocol_round_trips_through_json() {
        let request = ToEngine::Advance {
            request_id: 7,
            target_us: 1_500,
            max_events: 10,
            budget_ms: 12.5,
            with_trace_lines: false,
        };
        let text = serde_json::to_string(&request).expect("encode");
        let back: ToEngine = serde_json::from_str(&text).expect("decode");
        assert!(matches!(
            back,
            ToEngine::Advance {
                request_id: 7,
                target_us: 1_500,
                max_events: 10,
                ..
            }
        ));
    }
}
