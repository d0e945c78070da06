//! Runs the engine for the page: in a Web Worker when one can be started,
//! otherwise on the page itself, and publishes what it reports as signals.
//!
//! Each animation frame works out how much simulated time real time has
//! bought at the chosen speed and asks the engine to catch up, within a
//! budget of events and wall time, so no scenario can hang the tab:
//! - **Worker** (the normal path): the frame posts one `Advance` request when
//!   the previous one has been answered; the engine works off the page's
//!   thread and the page only draws. A watchdog terminates a worker that
//!   leaves a request unanswered for `DEFAULT_WATCHDOG_MS` and says so.
//! - **Page** (fallback: no worker support, the worker failed to start or was
//!   stopped by the watchdog, or `?engine=page`): the frame runs the engine
//!   itself for at most `PAGE_WORK_BUDGET_PER_FRAME_MS`.
//!
//! When a request runs out of budget the run is behind real time; the deficit
//! is dropped rather than carried, and the UI says so.
//!
//! The view reads the published signals in `SimView`; only `SimDriver`
//! writes them.

use crate::live::wall_clock_ms;
use faultline_app::chart_feed::{ChartDelta, ChartFeed, ChartStore};
use faultline_app::engine_host::{
    AdvanceOutcome, DropCursor, EVENT_LOG_LINES, EngineReport, FromEngine, ToEngine,
    advance_within_budget, inject_and_record, seek_within_budget, sim_advance_for,
};
use faultline_engine::checkpoint::SeekCheckpoints;
use faultline_engine::inspect::{INSPECTION_MIN_INTERVAL_MS, Inspection};
use faultline_engine::live::{
    InFlightMessages, MAX_IN_FLIGHT_MESSAGES_SHOWN, TimelineMark, TimelineMarkKind,
};
use faultline_engine::live_drops::RecentDrops;
use faultline_engine::metrics::ChartSubject;
use faultline_engine::scenario::{FaultAction, Problems, ScheduledFault};
use faultline_engine::sequence::SequenceDiagram;
use faultline_engine::{Scenario, SimTime, Simulator, Snapshot};
use leptos::prelude::*;
use std::collections::VecDeque;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

/// The worker's loader shim, written by trunk next to index.html.
const WORKER_SCRIPT_URL: &str = "./engine_worker_loader.js";
/// Most events one page frame may process (fallback path).
pub const PAGE_EVENT_BUDGET_PER_FRAME: u64 = 20_000;
/// Wall time one page frame may spend in the engine (a 60 Hz frame is ~16.7 ms).
const PAGE_WORK_BUDGET_PER_FRAME_MS: f64 = 10.0;
/// Most events the worker processes for one request.
const WORKER_EVENT_BUDGET_PER_REQUEST: u64 = 200_000;
/// Events one "run to the next mark" request may process one at a time
/// (single steps cost more than a batched advance, so fewer).
const MARK_RUN_EVENT_BUDGET_PER_REQUEST: u64 = 50_000;
/// Wall time the worker may spend on one request. Longer than a frame: the
/// worker does not draw, and fewer round trips mean more engine time.
const WORKER_WORK_BUDGET_PER_REQUEST_MS: f64 = 30.0;
/// An unanswered request older than this means the worker is stuck: it is
/// terminated and the engine moves to the page. A request is budgeted at
/// tens of milliseconds, so this only fires on a real fault.
pub const DEFAULT_WATCHDOG_MS: f64 = 3_000.0;
/// A worker that has not said `Ready` by then is given up on.
const WORKER_START_TIMEOUT_MS: f64 = 15_000.0;
/// Real time credited for one frame at most; longer gaps (a background tab,
/// a debugger pause) do not turn into a huge jump of simulated time.
const MAX_FRAME_ELAPSED_MS: f64 = 100.0;
/// Events per second and achieved speed are averaged over this window.
const RATE_WINDOW_MS: f64 = 500.0;
/// "Behind real time" stays up this long after the last over-budget request,
/// so it does not flicker when only some requests run out of budget.
const BEHIND_HOLD_MS: f64 = 750.0;
/// The event log is republished at most this often while playing.
const TRACE_PUBLISH_INTERVAL_MS: f64 = 100.0;

const MICROS_PER_MILLI: f64 = 1_000.0;

/// Speeds offered by the speed control, in sim seconds per real second.
pub const SPEED_MULTIPLIER_STOPS: [f64; 16] = [
    0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0,
    5_000.0, 10_000.0,
];
const DEFAULT_SPEED_MULTIPLIER: f64 = 10.0;

/// Where the engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineLocation {
    /// The worker is loading; nothing has been asked of it yet.
    StartingWorker,
    Worker,
    Page,
}

impl EngineLocation {
    pub fn label(self) -> &'static str {
        match self {
            EngineLocation::StartingWorker => "starting worker",
            EngineLocation::Worker => "worker",
            EngineLocation::Page => "page",
        }
    }
}

/// What the view reads. Written only by `SimDriver`.
#[derive(Clone, Copy)]
pub struct SimView {
    pub snapshot: ReadSignal<Option<Snapshot>>,
    /// The most recent trace lines, oldest first.
    pub trace_lines: ReadSignal<Vec<String>>,
    pub playing: ReadSignal<bool>,
    pub speed_multiplier: ReadSignal<f64>,
    /// A recent request hit its budget: the run is slower than requested.
    pub behind_real_time: ReadSignal<bool>,
    /// Engine events processed per real second (0 when paused).
    pub events_per_second: ReadSignal<f64>,
    /// Simulated seconds per real second actually achieved (0 when paused).
    pub achieved_speed_multiplier: ReadSignal<f64>,
    pub engine_location: ReadSignal<EngineLocation>,
    /// Why the engine left the worker, or a request it refused.
    pub engine_notice: ReadSignal<Option<String>>,
    /// Messages on the wire at the snapshot's time (particles).
    pub in_flight: ReadSignal<InFlightMessages>,
    /// Faults applied and first violations so far (the timeline's marks).
    pub marks: ReadSignal<Vec<TimelineMark>>,
    /// Faults injected live into this run, as recorded into its plan.
    pub live_faults: ReadSignal<Vec<ScheduledFault>>,
    /// A seek or a run to the next mark is under way.
    pub seeking: ReadSignal<bool>,
    /// The scenario the run executes (with live faults in its timeline).
    pub run_scenario: ReadSignal<Option<Scenario>>,
    /// The watched metric series for the live charts (see `watch_chart`).
    pub chart: ReadSignal<ChartStore>,
    /// Messages lost since the previous report (drop flashes), with per-link totals.
    pub drops: ReadSignal<RecentDrops>,
    /// The last sequence diagram asked for (or why there is none).
    pub sequence: ReadSignal<Option<Result<SequenceDiagram, String>>>,
    /// The inspection panels' data while one of them is open (else stale or None).
    pub inspection: ReadSignal<Option<Inspection>>,
}

/// Owns the engine (or the link to it) and the animation-frame loop. `Copy`:
/// every field is an arena handle, so event handlers can capture it freely.
#[derive(Clone, Copy)]
pub struct SimDriver {
    runtime: StoredValue<Runtime, LocalStorage>,
    set_snapshot: WriteSignal<Option<Snapshot>>,
    set_trace_lines: WriteSignal<Vec<String>>,
    set_playing: WriteSignal<bool>,
    set_speed_multiplier: WriteSignal<f64>,
    set_behind_real_time: WriteSignal<bool>,
    set_events_per_second: WriteSignal<f64>,
    set_achieved_speed_multiplier: WriteSignal<f64>,
    set_engine_location: WriteSignal<EngineLocation>,
    set_engine_notice: WriteSignal<Option<String>>,
    set_in_flight: WriteSignal<InFlightMessages>,
    set_marks: WriteSignal<Vec<TimelineMark>>,
    set_live_faults: WriteSignal<Vec<ScheduledFault>>,
    set_seeking: WriteSignal<bool>,
    set_run_scenario: WriteSignal<Option<Scenario>>,
    set_chart: WriteSignal<ChartStore>,
    set_drops: WriteSignal<RecentDrops>,
    set_sequence: WriteSignal<Option<Result<SequenceDiagram, String>>>,
    set_inspection: WriteSignal<Option<Inspection>>,
}

/// Non-reactive state: the engine and the bookkeeping of the frame loop.
struct Runtime {
    /// The scenario of the current run (to reset, and to restart on the page).
    scenario: Option<Scenario>,
    /// The engine, when it runs on the page.
    page_simulator: Option<Simulator>,
    /// Copies of the page engine's run, for seeking back (see `SeekCheckpoints`).
    page_checkpoints: SeekCheckpoints,
    /// The engine worker, while it is in use.
    worker: Option<WorkerLink>,
    location: EngineLocation,
    watchdog_ms: f64,
    playing: bool,
    speed_multiplier: f64,
    frame_request: Option<AnimationFrameRequestHandle>,
    last_frame_ms: Option<f64>,
    /// Real time since the last worker request, not yet turned into sim time.
    unrequested_elapsed_ms: f64,
    /// Sub-microsecond remainder of the requested sim time, carried forward.
    carry_us: f64,
    /// Sim time of the last snapshot published.
    known_now_us: u64,
    known_finished: bool,
    rate_window: RateWindow,
    behind_until_ms: f64,
    last_trace_publish_ms: f64,
    /// A seek under way: the sim time it goes to.
    seek_target_us: Option<u64>,
    /// A "run to the next fault/violation" under way.
    mark_run: Option<TimelineMarkKind>,
    /// The longest list of marks seen for this scenario. A seek back re-runs
    /// from t = 0 and reports fewer marks; the run is deterministic, so the
    /// later ones are still known and stay on the timeline.
    known_marks: Vec<TimelineMark>,
    /// The page engine's chart series feed (the worker has its own).
    chart_feed: ChartFeed,
    /// The series the charts watch, kept for a restarted worker or page engine.
    chart_subject: ChartSubject,
    /// Drops the page engine has already reported (each flashes once).
    drop_cursor: DropCursor,
    /// Inspection panels open now: while any is, reports carry an inspection.
    inspection_watchers: std::collections::BTreeSet<&'static str>,
    /// Wall time of the last inspection built on the page (fallback path).
    last_page_inspection_ms: Option<f64>,
}

/// The page's side of the engine worker.
struct WorkerLink {
    worker: Worker,
    // Kept alive as long as the worker; dropping them would detach the handlers.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
    started_ms: f64,
    ready: bool,
    next_request_id: u64,
    /// Requests sent and not yet answered: id and when they were sent.
    unanswered: VecDeque<(u64, f64)>,
    /// Requests made before the worker was ready, sent when it is.
    waiting_for_ready: Vec<ToEngine>,
    /// Answers to requests older than this (an earlier run) are ignored.
    current_run_first_request_id: u64,
}

#[derive(Clone, Copy, Default)]
struct RateWindow {
    started_ms: f64,
    events: u64,
    sim_advanced_us: u64,
}

/// What one call into the runtime wants the view to show.
#[derive(Default)]
struct Publication {
    snapshot: Option<Snapshot>,
    trace_lines: Option<Vec<String>>,
    playing: bool,
    behind_real_time: bool,
    /// `(events per second, achieved speed multiplier)` when a window closed.
    rates: Option<(f64, f64)>,
    in_flight: Option<InFlightMessages>,
    marks: Option<Vec<TimelineMark>>,
    /// A fault was recorded into the run's plan.
    recorded_fault: Option<ScheduledFault>,
    /// New samples of the watched chart series.
    chart: Option<ChartDelta>,
    drops: Option<RecentDrops>,
    sequence: Option<Result<SequenceDiagram, String>>,
    inspection: Option<Inspection>,
}

impl SimDriver {
    pub fn new() -> (SimDriver, SimView) {
        let (snapshot, set_snapshot) = signal(None::<Snapshot>);
        let (trace_lines, set_trace_lines) = signal(Vec::<String>::new());
        let (playing, set_playing) = signal(false);
        let (speed_multiplier, set_speed_multiplier) = signal(DEFAULT_SPEED_MULTIPLIER);
        let (behind_real_time, set_behind_real_time) = signal(false);
        let (events_per_second, set_events_per_second) = signal(0.0);
        let (achieved_speed_multiplier, set_achieved_speed_multiplier) = signal(0.0);
        let (engine_location, set_engine_location) = signal(EngineLocation::Page);
        let (engine_notice, set_engine_notice) = signal(None::<String>);
        let (in_flight, set_in_flight) = signal(InFlightMessages::default());
        let (marks, set_marks) = signal(Vec::<TimelineMark>::new());
        let (live_faults, set_live_faults) = signal(Vec::<ScheduledFault>::new());
        let (seeking, set_seeking) = signal(false);
        let (run_scenario, set_run_scenario) = signal(None::<Scenario>);
        let (chart, set_chart) = signal(ChartStore::default());
        let (drops, set_drops) = signal(RecentDrops::default());
        let (sequence, set_sequence) = signal(None::<Result<SequenceDiagram, String>>);
        let (inspection, set_inspection) = signal(None::<Inspection>);
        let runtime = StoredValue::new_local(Runtime {
            scenario: None,
            page_simulator: None,
            page_checkpoints: SeekCheckpoints::default(),
            worker: None,
            location: EngineLocation::Page,
            watchdog_ms: DEFAULT_WATCHDOG_MS,
            playing: false,
            speed_multiplier: DEFAULT_SPEED_MULTIPLIER,
            frame_request: None,
            last_frame_ms: None,
            unrequested_elapsed_ms: 0.0,
            carry_us: 0.0,
            known_now_us: 0,
            known_finished: false,
            rate_window: RateWindow::default(),
            behind_until_ms: 0.0,
            last_trace_publish_ms: 0.0,
            seek_target_us: None,
            mark_run: None,
            known_marks: Vec::new(),
            chart_feed: ChartFeed::new(),
            chart_subject: ChartSubject::System,
            drop_cursor: DropCursor::default(),
            inspection_watchers: std::collections::BTreeSet::new(),
            last_page_inspection_ms: None,
        });
        let driver = SimDriver {
            runtime,
            set_snapshot,
            set_trace_lines,
            set_playing,
            set_speed_multiplier,
            set_behind_real_time,
            set_events_per_second,
            set_achieved_speed_multiplier,
            set_engine_location,
            set_engine_notice,
            set_in_flight,
            set_marks,
            set_live_faults,
            set_seeking,
            set_run_scenario,
            set_chart,
            set_drops,
            set_sequence,
            set_inspection,
        };
        let view = SimView {
            snapshot,
            trace_lines,
            playing,
            speed_multiplier,
            behind_real_time,
            events_per_second,
            achieved_speed_multiplier,
            engine_location,
            engine_notice,
            in_flight,
            marks,
            live_faults,
            seeking,
            run_scenario,
            chart,
            drops,
            sequence,
            inspection,
        };
        driver.start_engine();
        (driver, view)
    }

    /// Starts the engine worker unless the page asks for the page engine
    /// (`?engine=page`) or workers are unavailable. `?watchdog_ms=N` shortens
    /// the watchdog, which the browser tests use to exercise it.
    fn start_engine(self) {
        if let Some(watchdog_ms) = page_query_parameter("watchdog_ms")
            .and_then(|value| value.parse::<f64>().ok())
            .filter(|value| value.is_finite() && *value > 0.0)
        {
            self.runtime
                .update_value(|runtime| runtime.watchdog_ms = watchdog_ms);
        }
        if page_query_parameter("engine").as_deref() == Some("page") {
            self.set_location(EngineLocation::Page);
            return;
        }
        match self.spawn_worker() {
            Ok(link) => {
                self.runtime.update_value(|runtime| {
                    runtime.worker = Some(link);
                    runtime.location = EngineLocation::StartingWorker;
                });
                self.set_engine_location.set(EngineLocation::StartingWorker);
                // The start timeout is checked from the frame loop.
                self.request_frame();
            }
            Err(reason) => {
                self.set_location(EngineLocation::Page);
                self.set_engine_notice.set(Some(format!(
                    "The engine runs on this page: a Web Worker could not be started ({reason})."
                )));
            }
        }
    }

    fn spawn_worker(self) -> Result<WorkerLink, String> {
        let options = WorkerOptions::new();
        // Trunk's loader shim for a worker is a classic script (importScripts).
        options.set_type(WorkerType::Classic);
        let worker = Worker::new_with_options(WORKER_SCRIPT_URL, &options)
            .map_err(|error| format!("{error:?}"))?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            self.on_worker_message(event);
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let message = event
                .dyn_ref::<web_sys::ErrorEvent>()
                .map(|error| error.message())
                .filter(|message| !message.is_empty())
                .unwrap_or_else(|| "the worker script failed to load".to_string());
            self.fall_back_to_page(&format!("The engine worker failed: {message}."));
        });
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(WorkerLink {
            worker,
            _on_message: on_message,
            _on_error: on_error,
            started_ms: wall_clock_ms(),
            ready: false,
            next_request_id: 1,
            unanswered: VecDeque::new(),
            waiting_for_ready: Vec::new(),
            current_run_first_request_id: 0,
        })
    }

    /// Replaces the running simulation with a fresh one for `scenario`,
    /// paused at t = 0. On failure the current simulation is left untouched.
    pub fn load(self, scenario: &Scenario) -> Result<(), Problems> {
        // Built here even when the worker runs the engine: it validates the
        // scenario synchronously and gives the t = 0 snapshot at once.
        let simulator = Simulator::new(scenario)?;
        self.pause();
        let snapshot = simulator.snapshot();
        let trace_lines = simulator.recent_trace_lines(EVENT_LOG_LINES);
        let in_flight = simulator.in_flight_messages(MAX_IN_FLIGHT_MESSAGES_SHOWN);
        // Open panels show the new run's t = 0 state, not the old run's.
        let inspection = self
            .runtime
            .with_value(|runtime| !runtime.inspection_watchers.is_empty())
            .then(|| simulator.inspect());
        self.runtime.update_value(|runtime| {
            runtime.seek_target_us = None;
            runtime.mark_run = None;
            runtime.known_marks.clear();
            runtime.page_checkpoints.clear();
            runtime.chart_feed.restart();
            runtime.drop_cursor = DropCursor::default();
            runtime.scenario = Some(scenario.clone());
            runtime.known_now_us = snapshot.now_us;
            runtime.known_finished = snapshot.finished.is_some();
            match runtime.worker.as_mut() {
                Some(link) => {
                    runtime.page_simulator = None;
                    let request_id = link.next_id();
                    link.current_run_first_request_id = request_id;
                    link.send(ToEngine::Load {
                        request_id,
                        scenario: Box::new(scenario.clone()),
                    });
                    // A subject chosen before any run was loaded never
                    // reached the worker (it answers only with a run).
                    if runtime.chart_subject != ChartSubject::System {
                        let request_id = link.next_id();
                        link.send(ToEngine::WatchChart {
                            request_id,
                            subject: runtime.chart_subject.clone(),
                        });
                    }
                }
                None => runtime.page_simulator = Some(simulator),
            }
        });
        self.publish(Publication {
            snapshot: Some(snapshot),
            trace_lines: Some(trace_lines),
            rates: Some((0.0, 0.0)),
            in_flight: Some(in_flight),
            marks: Some(Vec::new()),
            inspection,
            ..Publication::default()
        });
        self.set_chart.update(ChartStore::clear);
        self.set_seeking.set(false);
        self.set_live_faults.set(Vec::new());
        self.set_run_scenario.set(Some(scenario.clone()));
        Ok(())
    }

    /// An inspection panel (`panel`, its name) opened or closed. While any
    /// is open the engine sends its inspection with its reports.
    pub fn watch_inspection(self, panel: &'static str, open: bool) {
        let outcome = self.runtime.try_update_value(|runtime| {
            let was_wanted = !runtime.inspection_watchers.is_empty();
            if open {
                runtime.inspection_watchers.insert(panel);
            } else {
                runtime.inspection_watchers.remove(panel);
            }
            let wanted = !runtime.inspection_watchers.is_empty();
            if wanted == was_wanted {
                // Another panel is already watching: publish what is known.
                return None;
            }
            if let Some(link) = runtime.worker.as_mut() {
                let request_id = link.next_id();
                link.send(ToEngine::WatchInspection { request_id, wanted });
                return None;
            }
            runtime.page_inspection(true)
        });
        if let Some(Some(inspection)) = outcome {
            self.set_inspection.set(Some(inspection));
        }
    }

    /// Starts the same scenario again from t = 0, paused.
    pub fn reset(self) {
        let scenario = self.runtime.with_value(|runtime| runtime.scenario.clone());
        // The scenario was accepted once, so loading it again cannot fail;
        // if it somehow did, keeping the current run is the safe choice.
        if let Some(scenario) = scenario {
            let _ = self.load(&scenario);
        }
    }

    pub fn play(self) {
        let start = self.runtime.try_update_value(|runtime| {
            let can_run = runtime.scenario.is_some() && !runtime.known_finished;
            if runtime.playing || !can_run {
                return false;
            }
            runtime.playing = true;
            runtime.last_frame_ms = None;
            runtime.unrequested_elapsed_ms = 0.0;
            runtime.carry_us = 0.0;
            runtime.rate_window = RateWindow {
                started_ms: wall_clock_ms(),
                ..RateWindow::default()
            };
            true
        });
        if start == Some(true) {
            self.set_playing.set(true);
            self.request_frame();
        }
    }

    pub fn pause(self) {
        let was_playing = self
            .runtime
            .try_update_value(|runtime| std::mem::replace(&mut runtime.playing, false))
            .unwrap_or(false);
        if was_playing {
            self.publish(Publication {
                snapshot: None,
                trace_lines: self.runtime.with_value(Runtime::page_trace_lines),
                playing: false,
                behind_real_time: false,
                rates: Some((0.0, 0.0)),
                ..Publication::default()
            });
        }
    }

    /// Processes exactly one event (pausing first if playing).
    pub fn step(self) {
        self.pause();
        let publication = self.runtime.try_update_value(|runtime| {
            if let Some(link) = runtime.worker.as_mut() {
                let request_id = link.next_id();
                link.send(ToEngine::Step { request_id });
                return None;
            }
            let simulator = runtime.page_simulator.as_mut()?;
            simulator.step();
            Some(runtime.page_publication())
        });
        if let Some(Some(publication)) = publication {
            self.publish(publication);
        }
    }

    /// Injects a fault into the run now (it takes effect at the next
    /// millisecond) and records it into the run's fault plan, so reset, seek
    /// and compare replay it deterministically from t = 0.
    pub fn inject(self, action: FaultAction) {
        let outcome = self.runtime.try_update_value(|runtime| {
            if let Some(link) = runtime.worker.as_mut() {
                let request_id = link.next_id();
                link.send(ToEngine::Inject { request_id, action });
                return Ok(None);
            }
            let (Some(simulator), Some(scenario)) =
                (runtime.page_simulator.as_mut(), runtime.scenario.as_mut())
            else {
                return Err("no run is loaded".to_string());
            };
            // The copies' event queues do not hold the new fault.
            runtime.page_checkpoints.clear();
            let recorded = inject_and_record(simulator, scenario, action)?;
            let mut publication = runtime.page_publication();
            publication.recorded_fault = Some(recorded);
            Ok(Some(publication))
        });
        match outcome {
            Some(Ok(Some(publication))) => self.publish(publication),
            Some(Err(message)) => self
                .set_engine_notice
                .set(Some(format!("The fault was not injected: {message}"))),
            _ => {}
        }
    }

    /// Asks for the sequence diagram of what the user typed or picked (a
    /// request, saga or message id; empty: the latest completed request).
    /// The answer arrives in `SimView::sequence`.
    pub fn request_sequence(self, query: String) {
        let answer = self.runtime.try_update_value(|runtime| {
            if let Some(link) = runtime.worker.as_mut() {
                let request_id = link.next_id();
                link.send(ToEngine::Sequence { request_id, query });
                return None;
            }
            Some(match runtime.page_simulator.as_ref() {
                Some(simulator) => simulator.sequence_diagram_for_text(&query),
                None => Err("no run is loaded".to_string()),
            })
        });
        if let Some(Some(answer)) = answer {
            self.set_sequence.set(Some(answer));
        }
    }

    /// Moves the run to `target_us` (pausing it): forward by running on,
    /// backward by re-running from t = 0 with the same seed and fault plan.
    /// Bounded work per frame, in the worker when there is one.
    pub fn seek(self, target_us: u64) {
        self.pause();
        self.runtime.update_value(|runtime| {
            runtime.mark_run = None;
            runtime.seek_target_us = runtime.scenario.is_some().then_some(target_us);
        });
        self.set_seeking.set(true);
        self.request_frame();
    }

    /// Runs on until the next fault is applied or the next violation is
    /// found (pausing first), bounded per frame like a seek.
    pub fn run_to_next_mark(self, kind: TimelineMarkKind) {
        self.pause();
        let can_run = self.runtime.try_update_value(|runtime| {
            let can_run = runtime.scenario.is_some() && !runtime.known_finished;
            runtime.seek_target_us = None;
            runtime.mark_run = can_run.then_some(kind);
            can_run
        });
        if can_run == Some(true) {
            self.set_seeking.set(true);
            self.request_frame();
        }
    }

    /// The live charts watch `subject`'s series from now on: the engine sends
    /// it in full once, then only new samples with each report.
    pub fn watch_chart(self, subject: ChartSubject) {
        let publication = self.runtime.try_update_value(|runtime| {
            if runtime.chart_subject == subject {
                return None;
            }
            runtime.chart_subject = subject.clone();
            runtime.chart_feed.watch(subject.clone());
            // Without a run the subject is sent with the next load.
            runtime.scenario.as_ref()?;
            if let Some(link) = runtime.worker.as_mut() {
                let request_id = link.next_id();
                link.send(ToEngine::WatchChart {
                    request_id,
                    subject,
                });
                return None;
            }
            runtime.page_simulator.as_ref()?;
            let chart = runtime.page_chart_delta();
            Some(Publication {
                chart,
                playing: runtime.playing,
                ..Publication::default()
            })
        });
        if let Some(Some(publication)) = publication {
            self.publish(publication);
        }
    }

    pub fn set_speed_multiplier(self, speed_multiplier: f64) {
        let speed_multiplier = speed_multiplier.clamp(
            SPEED_MULTIPLIER_STOPS[0],
            SPEED_MULTIPLIER_STOPS[SPEED_MULTIPLIER_STOPS.len() - 1],
        );
        self.runtime.update_value(|runtime| {
            runtime.speed_multiplier = speed_multiplier;
            runtime.behind_until_ms = 0.0;
        });
        self.set_speed_multiplier.set(speed_multiplier);
    }

    fn set_location(self, location: EngineLocation) {
        self.runtime
            .update_value(|runtime| runtime.location = location);
        self.set_engine_location.set(location);
    }

    fn request_frame(self) {
        let already_requested = self
            .runtime
            .with_value(|runtime| runtime.frame_request.is_some());
        if already_requested {
            return;
        }
        let request = request_animation_frame_with_handle(move || self.on_frame()).ok();
        self.runtime
            .update_value(|runtime| runtime.frame_request = request);
    }

    fn on_frame(self) {
        let frame_started_ms = wall_clock_ms();
        let Some((publication, stalled)) = self.runtime.try_update_value(|runtime| {
            runtime.frame_request = None;
            let stalled = runtime.worker_stall(frame_started_ms);
            if stalled.is_some() {
                return (Publication::default(), stalled);
            }
            (runtime.run_frame(frame_started_ms), None)
        }) else {
            // The app was unmounted; let the loop end.
            return;
        };
        if let Some(reason) = stalled {
            self.fall_back_to_page(&reason);
            return;
        }
        self.publish(publication);
        let keep_looping = self.runtime.with_value(|runtime| {
            runtime.playing
                || runtime.location == EngineLocation::StartingWorker
                || runtime.seek_target_us.is_some()
                || runtime.mark_run.is_some()
        });
        set_if_changed(
            self.set_seeking,
            self.runtime.with_value(Runtime::is_seeking),
        );
        if keep_looping {
            self.request_frame();
        }
    }

    fn on_worker_message(self, event: MessageEvent) {
        let Some(text) = event.data().as_string() else {
            return;
        };
        let answer = match serde_json::from_str::<FromEngine>(&text) {
            Ok(answer) => answer,
            Err(error) => {
                self.fall_back_to_page(&format!(
                    "The engine worker sent an unreadable answer ({error})."
                ));
                return;
            }
        };
        match answer {
            FromEngine::Ready => {
                self.runtime.update_value(|runtime| {
                    runtime.location = EngineLocation::Worker;
                    if let Some(link) = runtime.worker.as_mut() {
                        link.ready = true;
                        for request in std::mem::take(&mut link.waiting_for_ready) {
                            link.send(request);
                        }
                    }
                });
                self.set_engine_location.set(EngineLocation::Worker);
            }
            FromEngine::Report(report) => {
                let publication = self
                    .runtime
                    .try_update_value(|runtime| runtime.accept_report(*report));
                if let Some(Some(publication)) = publication {
                    self.publish(publication);
                }
            }
            FromEngine::Rejected {
                request_id,
                message,
            } => {
                self.runtime.update_value(|runtime| {
                    if let Some(link) = runtime.worker.as_mut() {
                        link.answered(request_id);
                    }
                });
                self.set_engine_notice
                    .set(Some(format!("The engine refused a request: {message}")));
            }
        }
    }

    /// Stops the worker for good and runs the engine on the page, restarting
    /// the current scenario at t = 0 (the worker's state cannot be recovered).
    fn fall_back_to_page(self, reason: &str) {
        let restarted = self.runtime.try_update_value(|runtime| {
            if let Some(link) = runtime.worker.take() {
                link.worker.terminate();
            }
            runtime.location = EngineLocation::Page;
            runtime.playing = false;
            runtime.page_checkpoints.clear();
            runtime.chart_feed = ChartFeed::new();
            runtime.chart_feed.watch(runtime.chart_subject.clone());
            runtime.page_simulator = runtime
                .scenario
                .as_ref()
                .and_then(|scenario| Simulator::new(scenario).ok());
            runtime.page_simulator.as_ref().map(|simulator| {
                let snapshot = simulator.snapshot();
                runtime.known_now_us = snapshot.now_us;
                runtime.known_finished = snapshot.finished.is_some();
                (snapshot, simulator.recent_trace_lines(EVENT_LOG_LINES))
            })
        });
        self.set_engine_location.set(EngineLocation::Page);
        self.set_chart.update(ChartStore::clear);
        let had_run = matches!(restarted, Some(Some(_)));
        self.set_engine_notice.set(Some(if had_run {
            format!("{reason} The engine now runs on this page; the run restarted at t = 0.")
        } else {
            format!("{reason} The engine now runs on this page.")
        }));
        if let Some(Some((snapshot, trace_lines))) = restarted {
            self.publish(Publication {
                snapshot: Some(snapshot),
                trace_lines: Some(trace_lines),
                rates: Some((0.0, 0.0)),
                ..Publication::default()
            });
        } else {
            self.publish(Publication {
                rates: Some((0.0, 0.0)),
                ..Publication::default()
            });
        }
    }

    /// Writes what changed; signals are set only when their value differs so
    /// that idle parts of the view do not re-render every frame.
    fn publish(self, publication: Publication) {
        let Publication {
            snapshot,
            trace_lines,
            playing,
            behind_real_time,
            rates,
            in_flight,
            marks,
            recorded_fault,
            chart,
            drops,
            sequence,
            inspection,
        } = publication;
        if let Some(chart) = chart {
            self.set_chart.update(|store| store.apply(chart));
        }
        if let Some(drops) = drops {
            set_if_changed(self.set_drops, drops);
        }
        if let Some(sequence) = sequence {
            self.set_sequence.set(Some(sequence));
        }
        if let Some(inspection) = inspection {
            self.set_inspection.set(Some(inspection));
        }
        if let Some(in_flight) = in_flight {
            self.set_in_flight.set(in_flight);
        }
        if let Some(marks) = marks {
            set_if_changed(self.set_marks, marks);
        }
        if let Some(recorded_fault) = recorded_fault {
            self.set_live_faults
                .update(|faults| faults.push(recorded_fault));
            let scenario = self.runtime.with_value(|runtime| runtime.scenario.clone());
            self.set_run_scenario.set(scenario);
        }
        if let Some(snapshot) = snapshot {
            self.set_snapshot.set(Some(snapshot));
        }
        if let Some(trace_lines) = trace_lines {
            self.set_trace_lines.set(trace_lines);
        }
        set_if_changed(self.set_playing, playing);
        set_if_changed(self.set_behind_real_time, behind_real_time);
        if let Some((events_per_second, achieved_speed_multiplier)) = rates {
            set_if_changed(self.set_events_per_second, events_per_second);
            set_if_changed(
                self.set_achieved_speed_multiplier,
                achieved_speed_multiplier,
            );
        }
    }
}

impl WorkerLink {
    fn next_id(&mut self) -> u64 {
        let id = self.next_request_id;
        self.next_request_id += 1;
        id
    }

    fn send(&mut self, request: ToEngine) {
        if !self.ready {
            // Before `Ready` the worker has no handler yet and would drop it.
            // A new load makes every earlier waiting request moot.
            if matches!(request, ToEngine::Load { .. }) {
                self.waiting_for_ready.clear();
            }
            self.waiting_for_ready.push(request);
            return;
        }
        let request_id = request.request_id();
        match serde_json::to_string(&request) {
            Ok(text) => {
                if self.worker.post_message(&JsValue::from_str(&text)).is_ok() {
                    self.unanswered.push_back((request_id, wall_clock_ms()));
                }
            }
            Err(error) => web_sys::console::error_1(
                &format!("could not encode a request for the engine worker: {error}").into(),
            ),
        }
    }

    fn answered(&mut self, request_id: u64) {
        self.unanswered.retain(|(id, _)| *id != request_id);
    }
}

impl Runtime {
    /// Why the worker must be given up on, if it must: it has not started in
    /// time, or a request has gone unanswered past the watchdog.
    fn worker_stall(&self, now_ms: f64) -> Option<String> {
        let link = self.worker.as_ref()?;
        if !link.ready && now_ms - link.started_ms > WORKER_START_TIMEOUT_MS {
            return Some(format!(
                "The engine worker did not start within {:.0} s.",
                WORKER_START_TIMEOUT_MS / 1_000.0
            ));
        }
        let (_, sent_ms) = link.unanswered.front()?;
        let waited_ms = now_ms - sent_ms;
        (waited_ms > self.watchdog_ms).then(|| {
            format!(
                "The engine worker left a request unanswered for {waited_ms:.0} ms \
                 (watchdog: {:.0} ms) and was terminated.",
                self.watchdog_ms
            )
        })
    }

    /// One animation frame of work. Returns what to publish; `playing` turns
    /// false once the run has finished (the loop then stops).
    fn run_frame(&mut self, frame_started_ms: f64) -> Publication {
        if self.is_seeking() {
            return self.run_seek_frame();
        }
        if !self.playing {
            return Publication::default();
        }
        let elapsed_ms = self.last_frame_ms.map_or(0.0, |last_ms| {
            (frame_started_ms - last_ms).clamp(0.0, MAX_FRAME_ELAPSED_MS)
        });
        self.last_frame_ms = Some(frame_started_ms);
        if let Some(link) = self.worker.as_mut() {
            self.unrequested_elapsed_ms =
                (self.unrequested_elapsed_ms + elapsed_ms).min(MAX_FRAME_ELAPSED_MS);
            if !link.ready || !link.unanswered.is_empty() {
                // The previous request is still being worked on.
                return Publication {
                    playing: self.playing,
                    behind_real_time: frame_started_ms < self.behind_until_ms,
                    ..Publication::default()
                };
            }
            let advance = sim_advance_for(
                std::mem::take(&mut self.unrequested_elapsed_ms),
                self.speed_multiplier,
                &mut self.carry_us,
            );
            let target = SimTime(self.known_now_us).plus(advance);
            let with_trace_lines =
                frame_started_ms - self.last_trace_publish_ms >= TRACE_PUBLISH_INTERVAL_MS;
            let request_id = link.next_id();
            link.send(ToEngine::Advance {
                request_id,
                target_us: target.as_micros(),
                max_events: WORKER_EVENT_BUDGET_PER_REQUEST,
                budget_ms: WORKER_WORK_BUDGET_PER_REQUEST_MS,
                with_trace_lines,
            });
            return Publication {
                playing: self.playing,
                behind_real_time: frame_started_ms < self.behind_until_ms,
                ..Publication::default()
            };
        }
        self.run_page_frame(elapsed_ms)
    }

    fn run_page_frame(&mut self, elapsed_ms: f64) -> Publication {
        let Some(simulator) = self.page_simulator.as_mut() else {
            self.playing = false;
            return Publication::default();
        };
        let advance = sim_advance_for(elapsed_ms, self.speed_multiplier, &mut self.carry_us);
        let target = simulator.now().plus(advance);
        let outcome = advance_within_budget(
            simulator,
            &mut self.page_checkpoints,
            target,
            PAGE_EVENT_BUDGET_PER_FRAME,
            PAGE_WORK_BUDGET_PER_FRAME_MS,
            wall_clock_ms,
        );
        if outcome.over_budget {
            // Do not owe the missed time to later frames.
            self.carry_us = 0.0;
        }
        self.finish_page_report(outcome)
    }

    /// A page-engine piece of work reported like a worker's answer.
    fn finish_page_report(&mut self, outcome: AdvanceOutcome) -> Publication {
        let Some(simulator) = self.page_simulator.as_ref() else {
            return Publication::default();
        };
        let snapshot = simulator.snapshot();
        let trace_lines = simulator.recent_trace_lines(EVENT_LOG_LINES);
        let in_flight = simulator.in_flight_messages(MAX_IN_FLIGHT_MESSAGES_SHOWN);
        let marks = simulator.timeline_marks().to_vec();
        let chart = self.chart_feed.next_delta(simulator);
        let drops = self.drop_cursor.take(simulator);
        let mut publication = self.finish_report(
            snapshot,
            Some(trace_lines),
            outcome.events_processed,
            outcome.sim_advanced_us,
            outcome.over_budget,
        );
        publication.in_flight = Some(in_flight);
        publication.marks = Some(self.remember_marks(marks));
        publication.chart = chart;
        publication.drops = Some(drops);
        publication.inspection = self.page_inspection(!self.playing);
        publication
    }

    /// New samples of the watched series from the page engine, if any.
    fn page_chart_delta(&mut self) -> Option<ChartDelta> {
        let simulator = self.page_simulator.as_ref()?;
        self.chart_feed.next_delta(simulator)
    }

    /// The page engine's inspection, while a panel is open: at once when
    /// `now` (a user action), else at most every `INSPECTION_MIN_INTERVAL_MS`.
    fn page_inspection(&mut self, now: bool) -> Option<Inspection> {
        if self.inspection_watchers.is_empty() {
            return None;
        }
        let now_ms = wall_clock_ms();
        let due = now
            || self
                .last_page_inspection_ms
                .is_none_or(|last_ms| now_ms - last_ms >= INSPECTION_MIN_INTERVAL_MS);
        if !due {
            return None;
        }
        let inspection = self.page_simulator.as_ref()?.inspect();
        self.last_page_inspection_ms = Some(now_ms);
        Some(inspection)
    }

    /// The marks to show: the engine's, or the longer list already known
    /// when the engine's is its prefix (after a seek back).
    fn remember_marks(&mut self, marks: Vec<TimelineMark>) -> Vec<TimelineMark> {
        if !self.known_marks.starts_with(&marks) {
            self.known_marks = marks;
        }
        self.known_marks.clone()
    }

    /// The page engine's current state, published in full (after a step).
    fn page_publication(&mut self) -> Publication {
        let mut publication = self.finish_page_report(AdvanceOutcome::idle());
        publication.trace_lines = self.page_trace_lines();
        publication
    }

    fn is_seeking(&self) -> bool {
        self.seek_target_us.is_some() || self.mark_run.is_some()
    }

    /// One frame of a seek or of a run to the next mark: in the worker one
    /// request at a time, on the page within the frame's budget.
    fn run_seek_frame(&mut self) -> Publication {
        if let Some(link) = self.worker.as_mut() {
            if !link.ready || !link.unanswered.is_empty() {
                return Publication::default();
            }
            let request_id = link.next_id();
            if let Some(target_us) = self.seek_target_us {
                link.send(ToEngine::Seek {
                    request_id,
                    target_us,
                    max_events: WORKER_EVENT_BUDGET_PER_REQUEST,
                    budget_ms: WORKER_WORK_BUDGET_PER_REQUEST_MS,
                });
            } else if let Some(kind) = self.mark_run {
                link.send(ToEngine::RunToMark {
                    request_id,
                    kind,
                    max_events: MARK_RUN_EVENT_BUDGET_PER_REQUEST,
                });
            }
            return Publication::default();
        }
        let (Some(simulator), Some(scenario)) =
            (self.page_simulator.as_mut(), self.scenario.as_ref())
        else {
            self.seek_target_us = None;
            self.mark_run = None;
            return Publication::default();
        };
        let outcome = if let Some(target_us) = self.seek_target_us {
            seek_within_budget(
                simulator,
                scenario,
                &mut self.page_checkpoints,
                SimTime(target_us),
                PAGE_EVENT_BUDGET_PER_FRAME,
                PAGE_WORK_BUDGET_PER_FRAME_MS,
                wall_clock_ms,
            )
        } else if let Some(kind) = self.mark_run {
            let before = simulator.now();
            let (events_processed, found) =
                simulator.run_to_next_mark(kind, PAGE_EVENT_BUDGET_PER_FRAME);
            if found {
                self.mark_run = None;
            }
            AdvanceOutcome {
                events_processed,
                sim_advanced_us: simulator.now().since(before).as_micros(),
                over_budget: false,
            }
        } else {
            AdvanceOutcome::idle()
        };
        self.finish_page_report(outcome)
    }

    /// Takes a worker report for the current run (older runs' are dropped).
    fn accept_report(&mut self, report: EngineReport) -> Option<Publication> {
        let link = self.worker.as_mut()?;
        link.answered(report.request_id);
        if report.request_id < link.current_run_first_request_id {
            return None;
        }
        let EngineReport {
            snapshot,
            trace_lines,
            events_processed,
            sim_advanced_us,
            over_budget,
            in_flight,
            marks,
            recorded_fault,
            mark_found,
            chart,
            drops,
            sequence,
            inspection,
            ..
        } = report;
        if over_budget {
            self.carry_us = 0.0;
        }
        if let Some(recorded_fault) = &recorded_fault
            && let Some(scenario) = self.scenario.as_mut()
        {
            scenario.faults.timeline.push(recorded_fault.clone());
        }
        if mark_found {
            self.mark_run = None;
        }
        let mut publication = self.finish_report(
            snapshot,
            trace_lines,
            events_processed,
            sim_advanced_us,
            over_budget,
        );
        publication.in_flight = Some(in_flight);
        publication.marks = Some(self.remember_marks(marks));
        publication.recorded_fault = recorded_fault;
        publication.chart = chart;
        publication.drops = Some(drops);
        publication.sequence = sequence;
        publication.inspection = inspection.map(|inspection| *inspection);
        Some(publication)
    }

    /// Bookkeeping shared by both paths once the engine has worked: rates,
    /// the behind flag, the end of the run, and the event log's pace.
    fn finish_report(
        &mut self,
        snapshot: Snapshot,
        trace_lines: Option<Vec<String>>,
        events_processed: u64,
        sim_advanced_us: u64,
        over_budget: bool,
    ) -> Publication {
        let now_ms = wall_clock_ms();
        if over_budget {
            self.behind_until_ms = now_ms + BEHIND_HOLD_MS;
        }
        self.known_now_us = snapshot.now_us;
        self.known_finished = snapshot.finished.is_some();
        if self.known_finished {
            self.playing = false;
            self.seek_target_us = None;
            self.mark_run = None;
        }
        if self
            .seek_target_us
            .is_some_and(|target_us| snapshot.now_us >= target_us.min(snapshot.end_us))
        {
            self.seek_target_us = None;
        }
        self.rate_window.events += events_processed;
        self.rate_window.sim_advanced_us += sim_advanced_us;
        let window_ms = now_ms - self.rate_window.started_ms;
        let rates = if window_ms >= RATE_WINDOW_MS || !self.playing {
            let window = std::mem::replace(
                &mut self.rate_window,
                RateWindow {
                    started_ms: now_ms,
                    ..RateWindow::default()
                },
            );
            if self.playing && window_ms > 0.0 {
                Some((
                    window.events as f64 * 1_000.0 / window_ms,
                    window.sim_advanced_us as f64 / MICROS_PER_MILLI / window_ms,
                ))
            } else {
                Some((0.0, 0.0))
            }
        } else {
            None
        };
        let publish_trace = trace_lines.is_some()
            && (!self.playing || now_ms - self.last_trace_publish_ms >= TRACE_PUBLISH_INTERVAL_MS);
        if publish_trace {
            self.last_trace_publish_ms = now_ms;
        }
        Publication {
            snapshot: Some(snapshot),
            trace_lines: if publish_trace { trace_lines } else { None },
            playing: self.playing,
            behind_real_time: self.playing && now_ms < self.behind_until_ms,
            rates,
            ..Publication::default()
        }
    }

    fn page_trace_lines(&self) -> Option<Vec<String>> {
        self.page_simulator
            .as_ref()
            .map(|simulator| simulator.recent_trace_lines(EVENT_LOG_LINES))
    }
}

fn set_if_changed<T: PartialEq + Send + Sync + 'static>(setter: WriteSignal<T>, value: T) {
    // A WriteSignal cannot be read; the read half would be needed to compare.
    // `maybe_update` compares in place and notifies only on change.
    setter.maybe_update(|current| {
        if *current == value {
            false
        } else {
            *current = value;
            true
        }
    });
}

/// A parameter of the page URL's query (`?engine=page&watchdog_ms=50`).
fn page_query_parameter(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}
