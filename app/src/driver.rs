//! Runs the engine in the browser: holds the `Simulator` outside the reactive
//! graph and advances it from requestAnimationFrame with a bounded work budget.
//!
//! Each frame asks the engine to catch up with real time times the speed
//! multiplier, but never for more than `EVENT_BUDGET_PER_FRAME` events or
//! `WORK_BUDGET_PER_FRAME_MS` of wall time, so no scenario can hang the tab.
//! When a frame runs out of budget the simulation is behind real time; the
//! deficit is dropped rather than carried, and the UI says so.
//!
//! The view reads the published signals in `SimView`; only `SimDriver`
//! writes them.

use faultline_engine::scenario::Problems;
use faultline_engine::{Scenario, SimDuration, Simulator, Snapshot, StopReason};
use leptos::prelude::*;

/// Most events one animation frame may process.
pub const EVENT_BUDGET_PER_FRAME: u64 = 20_000;
/// Events per engine call; between calls the frame checks the wall clock.
const EVENTS_PER_CHUNK: u64 = 2_000;
/// Wall time one frame may spend in the engine (a 60 Hz frame is ~16.7 ms).
const WORK_BUDGET_PER_FRAME_MS: f64 = 10.0;
/// Real time credited for one frame at most; longer gaps (a background tab,
/// a debugger pause) do not turn into a huge jump of simulated time.
const MAX_FRAME_ELAPSED_MS: f64 = 100.0;
/// Events per second and achieved speed are averaged over this window.
const RATE_WINDOW_MS: f64 = 500.0;
/// "Behind real time" stays up this long after the last over-budget frame, so
/// it does not flicker when only some frames run out of budget.
const BEHIND_HOLD_MS: f64 = 750.0;
/// The event log is republished at most this often while playing.
const TRACE_PUBLISH_INTERVAL_MS: f64 = 100.0;
/// Lines shown in the event log.
pub const EVENT_LOG_LINES: usize = 200;

const MICROS_PER_MILLI: f64 = 1_000.0;

/// Speeds offered by the speed control, in sim seconds per real second.
pub const SPEED_MULTIPLIER_STOPS: [f64; 10] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0,
];
const DEFAULT_SPEED_MULTIPLIER: f64 = 10.0;

/// What the view reads. Written only by `SimDriver`.
#[derive(Clone, Copy)]
pub struct SimView {
    pub snapshot: ReadSignal<Option<Snapshot>>,
    /// The most recent trace lines, oldest first.
    pub trace_lines: ReadSignal<Vec<String>>,
    pub playing: ReadSignal<bool>,
    pub speed_multiplier: ReadSignal<f64>,
    /// A recent frame hit its budget: the run is slower than requested.
    pub behind_real_time: ReadSignal<bool>,
    /// Engine events processed per real second (0 when paused).
    pub events_per_second: ReadSignal<f64>,
    /// Simulated seconds per real second actually achieved (0 when paused).
    pub achieved_speed_multiplier: ReadSignal<f64>,
}

/// Owns the simulator and the animation-frame loop. `Copy`: every field is an
/// arena handle, so event handlers can capture it freely.
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
}

/// Non-reactive state: the engine and the bookkeeping of the frame loop.
struct Runtime {
    simulator: Option<Simulator>,
    playing: bool,
    speed_multiplier: f64,
    frame_request: Option<AnimationFrameRequestHandle>,
    last_frame_ms: Option<f64>,
    /// Sub-microsecond remainder of the requested sim time, carried to the next frame.
    carry_us: f64,
    rate_window: RateWindow,
    behind_until_ms: f64,
    last_trace_publish_ms: f64,
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
        let runtime = StoredValue::new_local(Runtime {
            simulator: None,
            playing: false,
            speed_multiplier: DEFAULT_SPEED_MULTIPLIER,
            frame_request: None,
            last_frame_ms: None,
            carry_us: 0.0,
            rate_window: RateWindow::default(),
            behind_until_ms: 0.0,
            last_trace_publish_ms: 0.0,
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
        };
        let view = SimView {
            snapshot,
            trace_lines,
            playing,
            speed_multiplier,
            behind_real_time,
            events_per_second,
            achieved_speed_multiplier,
        };
        (driver, view)
    }

    /// Replaces the running simulation with a fresh one for `scenario`,
    /// paused at t = 0. On failure the current simulation is left untouched.
    pub fn load(self, scenario: &Scenario) -> Result<(), Problems> {
        let simulator = Simulator::new(scenario)?;
        self.install(simulator);
        Ok(())
    }

    /// Starts the same scenario again from t = 0, paused.
    pub fn reset(self) {
        let rebuilt = self.runtime.with_value(|runtime| {
            runtime
                .simulator
                .as_ref()
                .map(|simulator| Simulator::new(simulator.scenario()))
        });
        // The scenario was accepted once, so rebuilding it cannot fail; if it
        // somehow did, keeping the current run is the safe choice.
        if let Some(Ok(simulator)) = rebuilt {
            self.install(simulator);
        }
    }

    pub fn play(self) {
        let start = self.runtime.try_update_value(|runtime| {
            let can_run = runtime
                .simulator
                .as_ref()
                .is_some_and(|simulator| simulator.finished().is_none());
            if runtime.playing || !can_run {
                return false;
            }
            runtime.playing = true;
            runtime.last_frame_ms = None;
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
            .try_update_value(|runtime| {
                if let Some(request) = runtime.frame_request.take() {
                    request.cancel();
                }
                std::mem::replace(&mut runtime.playing, false)
            })
            .unwrap_or(false);
        if was_playing {
            self.publish(Publication {
                snapshot: None,
                trace_lines: self.runtime.with_value(Runtime::trace_lines),
                playing: false,
                behind_real_time: false,
                rates: Some((0.0, 0.0)),
            });
        }
    }

    /// Processes exactly one event (pausing first if playing).
    pub fn step(self) {
        self.pause();
        let publication = self.runtime.try_update_value(|runtime| {
            let simulator = runtime.simulator.as_mut()?;
            simulator.step();
            Some(Publication {
                snapshot: Some(simulator.snapshot()),
                trace_lines: Some(simulator.recent_trace_lines(EVENT_LOG_LINES)),
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

    fn install(self, simulator: Simulator) {
        self.pause();
        let snapshot = simulator.snapshot();
        let trace_lines = simulator.recent_trace_lines(EVENT_LOG_LINES);
        self.runtime
            .update_value(|runtime| runtime.simulator = Some(simulator));
        self.publish(Publication {
            snapshot: Some(snapshot),
            trace_lines: Some(trace_lines),
            rates: Some((0.0, 0.0)),
            ..Publication::default()
        });
    }

    fn request_frame(self) {
        let request = request_animation_frame_with_handle(move || self.on_frame()).ok();
        self.runtime
            .update_value(|runtime| runtime.frame_request = request);
    }

    fn on_frame(self) {
        let frame_started_ms = wall_clock_ms();
        let Some(publication) = self.runtime.try_update_value(|runtime| {
            runtime.frame_request = None;
            runtime.run_frame(frame_started_ms)
        }) else {
            // The app was unmounted; let the loop end.
            return;
        };
        let keep_playing = publication.playing;
        self.publish(publication);
        if keep_playing {
            self.request_frame();
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
        } = publication;
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

impl Runtime {
    /// One animation frame of work. Returns what to publish; `playing` is
    /// false once the run has finished (the loop then stops).
    fn run_frame(&mut self, frame_started_ms: f64) -> Publication {
        if !self.playing {
            return Publication::default();
        }
        let Some(simulator) = self.simulator.as_mut() else {
            self.playing = false;
            return Publication::default();
        };
        let elapsed_ms = self.last_frame_ms.map_or(0.0, |last_ms| {
            (frame_started_ms - last_ms).clamp(0.0, MAX_FRAME_ELAPSED_MS)
        });
        self.last_frame_ms = Some(frame_started_ms);

        let wanted_us = elapsed_ms * MICROS_PER_MILLI * self.speed_multiplier + self.carry_us;
        let whole_us = wanted_us.floor();
        self.carry_us = wanted_us - whole_us;
        let started_at = simulator.now();
        let target = started_at.plus(SimDuration::from_micros(whole_us as u64));

        let mut events_this_frame = 0;
        let mut over_budget = false;
        loop {
            let chunk = EVENTS_PER_CHUNK.min(EVENT_BUDGET_PER_FRAME - events_this_frame);
            let progress = simulator.advance(target, chunk);
            events_this_frame += progress.events_processed;
            if progress.finished.is_some() || progress.now >= target {
                break;
            }
            if events_this_frame >= EVENT_BUDGET_PER_FRAME
                || wall_clock_ms() - frame_started_ms >= WORK_BUDGET_PER_FRAME_MS
            {
                over_budget = true;
                // Do not owe the missed time to later frames.
                self.carry_us = 0.0;
                break;
            }
        }

        let now_ms = wall_clock_ms();
        if over_budget {
            self.behind_until_ms = now_ms + BEHIND_HOLD_MS;
        }
        let finished: Option<StopReason> = simulator.finished();
        self.playing = finished.is_none();

        self.rate_window.events += events_this_frame;
        self.rate_window.sim_advanced_us += simulator.now().since(started_at).as_micros();
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

        let publish_trace =
            !self.playing || now_ms - self.last_trace_publish_ms >= TRACE_PUBLISH_INTERVAL_MS;
        if publish_trace {
            self.last_trace_publish_ms = now_ms;
        }
        if !self.playing {
            self.frame_request = None;
        }
        Publication {
            snapshot: Some(simulator.snapshot()),
            trace_lines: publish_trace.then(|| simulator.recent_trace_lines(EVENT_LOG_LINES)),
            playing: self.playing,
            behind_real_time: self.playing && now_ms < self.behind_until_ms,
            rates,
        }
    }

    fn trace_lines(&self) -> Option<Vec<String>> {
        self.simulator
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

/// Wall-clock milliseconds from the page's monotonic clock. This is the app's
/// only clock; the engine never sees it.
fn wall_clock_ms() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map_or(0.0, |performance| performance.now())
}
