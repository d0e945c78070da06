//! Play, pause, step, reset and speed, with the sim clock and throughput figures.

use crate::driver::{SPEED_MULTIPLIER_STOPS, SimDriver, SimView};
use crate::format;
use leptos::prelude::*;

#[component]
pub fn RunControls(driver: SimDriver, sim: SimView) -> impl IntoView {
    let has_run = move || sim.snapshot.with(Option::is_some);
    let finished = move || {
        sim.snapshot
            .with(|snapshot| snapshot.as_ref().and_then(|snapshot| snapshot.finished))
    };
    let now_us = move || sim.snapshot.with(|s| s.as_ref().map_or(0, |s| s.now_us));
    let end_us = move || sim.snapshot.with(|s| s.as_ref().map_or(0, |s| s.end_us));
    let progress_percent = move || {
        let end_us = end_us();
        if end_us == 0 {
            0.0
        } else {
            now_us() as f64 * 100.0 / end_us as f64
        }
    };
    let on_play_pause = move |_| {
        if sim.playing.get_untracked() {
            driver.pause();
        } else {
            driver.play();
        }
    };
    let speed_stop = move || {
        let speed_multiplier = sim.speed_multiplier.get();
        SPEED_MULTIPLIER_STOPS
            .iter()
            .position(|stop| *stop >= speed_multiplier)
            .unwrap_or(SPEED_MULTIPLIER_STOPS.len() - 1)
    };
    let on_speed = move |event: web_sys::Event| {
        if let Some(speed_multiplier) = event_target_value(&event)
            .parse::<usize>()
            .ok()
            .and_then(|stop| SPEED_MULTIPLIER_STOPS.get(stop))
        {
            driver.set_speed_multiplier(*speed_multiplier);
        }
    };
    let speed_text = move || format::speed(sim.speed_multiplier.get());
    let play_label = move || if sim.playing.get() { "Pause" } else { "Play" };

    view! {
        <section class="card run" aria-labelledby="run-heading">
            <h2 id="run-heading" class="card-title">"Run"</h2>
            <div class="clock" data-testid="sim-clock" aria-label="Simulated time">
                <span class="clock-prefix">"t = "</span>
                <span class="clock-now" data-testid="sim-now">
                    {move || format::sim_seconds(now_us())}
                </span>
                <span class="clock-end">" / " {move || format::sim_seconds(end_us())}</span>
            </div>
            <div
                class="progress"
                role="progressbar"
                aria-label="Run progress"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=move || format!("{:.0}", progress_percent())
            >
                <div
                    class="progress-fill"
                    style:width=move || format!("{:.3}%", progress_percent())
                ></div>
            </div>
            <div class="buttons" role="group" aria-label="Run controls">
                <button
                    class="button primary play"
                    data-testid="play-pause"
                    aria-label=play_label
                    data-playing=move || sim.playing.get().to_string()
                    disabled=move || !has_run() || (finished().is_some() && !sim.playing.get())
                    on:click=on_play_pause
                >
                    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
                        <path d=move || {
                            if sim.playing.get() {
                                "M7 5 H10 V19 H7 Z M14 5 H17 V19 H14 Z"
                            } else {
                                "M8 5 L19 12 L8 19 Z"
                            }
                        } />
                    </svg>
                    <span>{play_label}</span>
                </button>
                <button
                    class="button"
                    data-testid="step"
                    aria-label="Step one event"
                    title="Process exactly one event"
                    disabled=move || !has_run() || finished().is_some()
                    on:click=move |_| driver.step()
                >
                    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
                        <path d="M6 5 L15 12 L6 19 Z M17 5 H19 V19 H17 Z" />
                    </svg>
                    <span>"Step"</span>
                </button>
                <button
                    class="button"
                    data-testid="reset"
                    aria-label="Reset to t = 0"
                    title="Start the run again from t = 0"
                    disabled=move || !has_run()
                    on:click=move |_| driver.reset()
                >
                    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
                        <path d="M5 12 A7 7 0 1 0 8 6.3 M5 4 V9 H10" />
                    </svg>
                    <span>"Reset"</span>
                </button>
            </div>
            <div class="speed">
                <label class="speed-label" for="speed-input">
                    "Speed"
                </label>
                <input
                    id="speed-input"
                    type="range"
                    min="0"
                    max=(SPEED_MULTIPLIER_STOPS.len() - 1).to_string()
                    step="1"
                    data-testid="speed"
                    aria-label="Simulation speed, sim time per real second"
                    aria-valuetext=move || format!("{} real time", speed_text())
                    prop:value=move || speed_stop().to_string()
                    on:input=on_speed
                />
                <output class="speed-value" data-testid="speed-value" for="speed-input">
                    {speed_text}
                </output>
            </div>
            <dl class="stats">
                <div class="stat">
                    <dt>"Events"</dt>
                    <dd data-testid="event-count">
                        {move || {
                            format::count(
                                sim.snapshot.with(|s| s.as_ref().map_or(0, |s| s.events_processed)),
                            )
                        }}
                    </dd>
                </div>
                <div class="stat">
                    <dt>"Events / s"</dt>
                    <dd data-testid="events-per-second">
                        {move || format::rate_per_second(sim.events_per_second.get())}
                    </dd>
                </div>
                <div class="stat">
                    <dt>"Actual speed"</dt>
                    <dd data-testid="achieved-speed">
                        {move || {
                            if sim.playing.get() {
                                format::speed(sim.achieved_speed_multiplier.get())
                            } else {
                                "–".to_string()
                            }
                        }}
                    </dd>
                </div>
                <div class="stat">
                    <dt>"In flight"</dt>
                    <dd data-testid="in-flight">
                        {move || {
                            format::count(sim.snapshot.with(|s| s.as_ref().map_or(0, |s| s.in_flight)))
                        }}
                    </dd>
                </div>
            </dl>
            <p class="engine-location" data-testid="engine-location">
                "Engine: "
                <span data-testid="engine-location-value" data-location=move || sim.engine_location.get().label()>
                    {move || sim.engine_location.get().label()}
                </span>
            </p>
            {move || {
                sim.engine_notice
                    .get()
                    .map(|notice| {
                        view! {
                            <p class="engine-notice" role="alert" data-testid="engine-notice">
                                {notice}
                            </p>
                        }
                    })
            }}
            <p
                class="run-status"
                role="status"
                data-testid="run-status"
                data-tone=move || {
                    if finished().is_some() {
                        "finished"
                    } else if sim.behind_real_time.get() {
                        "behind"
                    } else {
                        "normal"
                    }
                }
            >
                {move || {
                    if let Some(reason) = finished() {
                        format!("Run finished: {}.", format::wire_name(reason.as_str()))
                    } else if sim.behind_real_time.get() {
                        let achieved_speed_multiplier = sim.achieved_speed_multiplier.get();
                        if achieved_speed_multiplier > 0.0 {
                            format!(
                                "Behind real time: the engine reaches {} of the {} requested.",
                                format::speed(achieved_speed_multiplier),
                                speed_text(),
                            )
                        } else {
                            format!("Behind real time: the engine cannot keep up with {}.", speed_text())
                        }
                    } else if sim.playing.get() {
                        "Running.".to_string()
                    } else if now_us() == 0 {
                        "Ready: press Play or Step.".to_string()
                    } else {
                        "Paused.".to_string()
                    }
                }}
            </p>
        </section>
    }
}
