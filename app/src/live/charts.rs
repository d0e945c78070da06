//! The live Charts panel: throughput, errors, p50/p99 latency, queue depth and
//! consumer lag of the selected node (or the selected link's traffic and
//! delay, or the whole system when nothing is selected), drawn with plotters
//! on a `<canvas>`, over the last 30 s of sim time or the whole run.
//!
//! The engine samples every `run.sample_interval_ms`; the driver keeps the
//! watched series in `SimView::chart` (deltas from the engine, see
//! `chart_feed.rs`). Drawing is throttled to `MIN_REDRAW_INTERVAL_MS` and
//! happens only when the series, the window or the panel's size changed.
//! Colours come from `styles/charts.css` (Okabe–Ito, light and dark), and
//! every pair of series in a plot also differs by dash, never colour alone.

use crate::driver::{SimDriver, SimView};
use crate::editor::Editor;
use crate::live::wall_clock_ms;
use faultline_app::chart_feed::ChartStore;
use faultline_engine::metrics::{ChartSeriesSamples, ChartSubject, LinkSample};
use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use std::time::Duration;
use wasm_bindgen::JsCast;

/// At most this many redraws per second of wall time (4 per second): the
/// series changes every frame while playing, a chart read by a person does not
/// need to.
const MIN_REDRAW_INTERVAL_MS: f64 = 250.0;
/// The rolling window, in sim time.
const ROLLING_WINDOW_US: u64 = 30_000_000;
const MICROS_PER_SECOND: f64 = 1_000_000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChartWindow {
    /// The last `ROLLING_WINDOW_US` of sim time.
    Rolling,
    /// Every sample kept (the engine keeps the last `MAX_METRIC_SAMPLES`).
    FullRun,
}

/// How a series is stroked; each pair in one plot differs by dash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stroke {
    Solid,
    Dashed,
}

/// One line of a plot: its CSS colour variable, stroke and values (its
/// name is in the HTML legend, which uses the same `LegendEntry`).
struct Line {
    colour_var: &'static str,
    stroke: Stroke,
    /// (time in s, value); `None` leaves a gap (e.g. a consumer that is down).
    points: Vec<(f64, Option<f64>)>,
}

/// One plot of the stack: a title with its unit, and its lines.
struct Plot {
    title: &'static str,
    lines: Vec<Line>,
}

/// A legend entry, in the HTML legend under the canvas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LegendEntry {
    key: &'static str,
    name: &'static str,
    colour_var: &'static str,
    stroke: Stroke,
}

const NODE_LEGEND: [LegendEntry; 6] = [
    LegendEntry {
        key: "throughput",
        name: "Throughput (completed/s)",
        colour_var: "--chart-throughput",
        stroke: Stroke::Solid,
    },
    LegendEntry {
        key: "errors",
        name: "Errors/s",
        colour_var: "--chart-errors",
        stroke: Stroke::Dashed,
    },
    LegendEntry {
        key: "p50",
        name: "Latency p50 (ms)",
        colour_var: "--chart-p50",
        stroke: Stroke::Solid,
    },
    LegendEntry {
        key: "p99",
        name: "Latency p99 (ms)",
        colour_var: "--chart-p99",
        stroke: Stroke::Dashed,
    },
    LegendEntry {
        key: "queue",
        name: "Queue depth",
        colour_var: "--chart-queue",
        stroke: Stroke::Solid,
    },
    LegendEntry {
        key: "lag",
        name: "Consumer lag (records)",
        colour_var: "--chart-lag",
        stroke: Stroke::Dashed,
    },
];

const LINK_LEGEND: [LegendEntry; 5] = [
    LegendEntry {
        key: "delivered",
        name: "Delivered/s",
        colour_var: "--chart-throughput",
        stroke: Stroke::Solid,
    },
    LegendEntry {
        key: "dropped",
        name: "Dropped/s",
        colour_var: "--chart-errors",
        stroke: Stroke::Dashed,
    },
    LegendEntry {
        key: "sent",
        name: "Sent/s",
        colour_var: "--chart-sent",
        stroke: Stroke::Dashed,
    },
    LegendEntry {
        key: "delay-mean",
        name: "Network delay mean (ms)",
        colour_var: "--chart-p50",
        stroke: Stroke::Solid,
    },
    LegendEntry {
        key: "delay-max",
        name: "Network delay max (ms)",
        colour_var: "--chart-p99",
        stroke: Stroke::Dashed,
    },
];

fn line(entry: &LegendEntry, points: Vec<(f64, Option<f64>)>) -> Line {
    Line {
        colour_var: entry.colour_var,
        stroke: entry.stroke,
        points,
    }
}

fn seconds(time_us: u64) -> f64 {
    time_us as f64 / MICROS_PER_SECOND
}

/// The six values a node or the whole system is charted by.
struct NodeRow {
    time_us: u64,
    throughput_per_s: f64,
    errors_per_s: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    queue_depth: u64,
    consumer_lag: Option<u64>,
}

/// The plots for the store's series, restricted to samples in `[from_us, to_us]`.
fn plots_for(store: &ChartStore, from_us: u64, to_us: u64) -> Vec<Plot> {
    let within = |time_us: u64| time_us >= from_us && time_us <= to_us;
    let rows: Vec<NodeRow> = match &store.samples {
        ChartSeriesSamples::System(samples) => samples
            .iter()
            .filter(|sample| within(sample.time_us))
            .map(|sample| NodeRow {
                time_us: sample.time_us,
                throughput_per_s: sample.throughput_per_s,
                errors_per_s: sample.errors_per_s,
                latency_p50_ms: sample.latency_p50_ms,
                latency_p99_ms: sample.latency_p99_ms,
                queue_depth: sample.queue_depth,
                consumer_lag: sample.consumer_lag,
            })
            .collect(),
        ChartSeriesSamples::Node(samples) => samples
            .iter()
            .filter(|sample| within(sample.time_us))
            .map(|sample| NodeRow {
                time_us: sample.time_us,
                throughput_per_s: sample.throughput_per_s,
                errors_per_s: sample.errors_per_s,
                latency_p50_ms: sample.latency_p50_ms,
                latency_p99_ms: sample.latency_p99_ms,
                queue_depth: sample.queue_depth,
                consumer_lag: sample.consumer_lag,
            })
            .collect(),
        ChartSeriesSamples::Link(samples) => {
            let samples: Vec<&LinkSample> = samples
                .iter()
                .filter(|sample| within(sample.time_us))
                .collect();
            let series = |value: fn(&LinkSample) -> f64| {
                samples
                    .iter()
                    .map(|sample| (seconds(sample.time_us), Some(value(sample))))
                    .collect::<Vec<_>>()
            };
            return vec![
                Plot {
                    title: "Messages on the link (per second)",
                    lines: vec![
                        line(&LINK_LEGEND[0], series(|s| s.delivered_per_s)),
                        line(&LINK_LEGEND[1], series(|s| s.dropped_per_s)),
                        line(&LINK_LEGEND[2], series(|s| s.sent_per_s)),
                    ],
                },
                Plot {
                    title: "One-way network delay (ms)",
                    lines: vec![
                        line(&LINK_LEGEND[3], series(|s| s.delay_mean_ms)),
                        line(&LINK_LEGEND[4], series(|s| s.delay_max_ms)),
                    ],
                },
            ];
        }
    };
    let series = |value: fn(&NodeRow) -> Option<f64>| {
        rows.iter()
            .map(|row| (seconds(row.time_us), value(row)))
            .collect::<Vec<_>>()
    };
    vec![
        Plot {
            title: "Throughput and errors (per second)",
            lines: vec![
                line(&NODE_LEGEND[0], series(|row| Some(row.throughput_per_s))),
                line(&NODE_LEGEND[1], series(|row| Some(row.errors_per_s))),
            ],
        },
        Plot {
            title: "Latency (ms)",
            lines: vec![
                line(&NODE_LEGEND[2], series(|row| Some(row.latency_p50_ms))),
                line(&NODE_LEGEND[3], series(|row| Some(row.latency_p99_ms))),
            ],
        },
        Plot {
            title: "Queue depth and consumer lag (messages)",
            lines: vec![
                line(&NODE_LEGEND[4], series(|row| Some(row.queue_depth as f64))),
                line(
                    &NODE_LEGEND[5],
                    series(|row| row.consumer_lag.map(|lag| lag as f64)),
                ),
            ],
        },
    ]
}

/// Times of the first and last samples kept, if any.
fn sample_time_range(store: &ChartStore) -> Option<(u64, u64)> {
    fn range<T>(samples: &[T], time: impl Fn(&T) -> u64) -> Option<(u64, u64)> {
        Some((time(samples.first()?), time(samples.last()?)))
    }
    match &store.samples {
        ChartSeriesSamples::System(samples) => range(samples, |sample| sample.time_us),
        ChartSeriesSamples::Node(samples) => range(samples, |sample| sample.time_us),
        ChartSeriesSamples::Link(samples) => range(samples, |sample| sample.time_us),
    }
}

/// The x axis span in µs for the window: the last 30 s (at least 0–30 s) or
/// everything kept (from t = 0 unless older samples were dropped).
fn x_span_us(store: &ChartStore, window: ChartWindow) -> (u64, u64) {
    let (first_us, last_us) = sample_time_range(store).unwrap_or((0, 0));
    match window {
        ChartWindow::Rolling => {
            let end_us = last_us.max(ROLLING_WINDOW_US);
            (end_us - ROLLING_WINDOW_US, end_us)
        }
        ChartWindow::FullRun => {
            // The first sample closes the interval that started at t = 0.
            let start_us = first_us.saturating_sub(store.interval_us);
            (start_us, last_us.max(start_us + store.interval_us.max(1)))
        }
    }
}

fn subject_label(subject: &ChartSubject) -> String {
    match subject {
        ChartSubject::System => "Whole system".to_string(),
        ChartSubject::Node { id } => format!("Node {id}"),
        ChartSubject::Link { from, to } => format!("Link {from} ↔ {to}"),
    }
}

fn subject_note(subject: &ChartSubject) -> &'static str {
    match subject {
        ChartSubject::System => {
            "Completions and errors at the entry nodes (no link points into them), so a request \
             counts once; queue depth and consumer lag summed over all nodes. Select a node or \
             link for its own series."
        }
        ChartSubject::Node { .. } => {
            "What this node recorded per sampling interval; queue depth and consumer lag at the \
             end of each interval."
        }
        ChartSubject::Link { .. } => {
            "Both directions together; delay from send to delivery (mean and max per interval)."
        }
    }
}

/// The chart subject the editor's selection asks for: one node, one link,
/// or the whole system (nothing, several nodes, or a zone).
fn subject_of_selection(editor: Editor) -> ChartSubject {
    let selection = editor.selection.get();
    if let Some(index) = selection.link {
        return editor.document.with(|document| {
            document
                .as_ref()
                .and_then(|scenario| scenario.topology.links.get(index))
                .map_or(ChartSubject::System, |link| ChartSubject::Link {
                    from: link.from.clone(),
                    to: link.to.clone(),
                })
        });
    }
    match (selection.nodes.len(), selection.nodes.first()) {
        (1, Some(id)) => ChartSubject::Node { id: id.clone() },
        _ => ChartSubject::System,
    }
}

#[component]
pub fn ChartsPanel(driver: SimDriver, sim: SimView, editor: Editor) -> impl IntoView {
    let canvas_ref = NodeRef::<Canvas>::new();
    let (window, set_window) = signal(ChartWindow::Rolling);
    let (open, set_open) = signal(true);
    let requested = Memo::new(move |_| subject_of_selection(editor));
    // The worker is an external system: tell it what to sample for us.
    Effect::new(move |_| driver.watch_chart(requested.get()));

    let shown_subject = Memo::new(move |_| sim.chart.with(|store| store.subject.clone()));
    let is_link = Memo::new(move |_| matches!(shown_subject.get(), ChartSubject::Link { .. }));
    let title = move || subject_label(&shown_subject.get());
    let note = move || subject_note(&shown_subject.get());
    let fallback_note = move || {
        let requested = requested.get();
        (requested != ChartSubject::System && shown_subject.get() == ChartSubject::System).then(
            || {
                format!(
                    "{} is not in the running scenario; showing the whole system.",
                    subject_label(&requested)
                )
            },
        )
    };
    let span_text = move || {
        sim.chart.with(|store| {
            let (from_us, to_us) = x_span_us(store, window.get());
            match sample_time_range(store) {
                None => "no samples yet: press play".to_string(),
                Some(_) => format!(
                    "{:.1}–{:.1} s of sim time, a sample every {} ms",
                    seconds(from_us),
                    seconds(to_us),
                    store.interval_us / 1_000
                ),
            }
        })
    };
    let legend = move || {
        let entries: &[LegendEntry] = if is_link.get() {
            &LINK_LEGEND
        } else {
            &NODE_LEGEND
        };
        entries
            .iter()
            .map(|entry| {
                let dash = (entry.stroke == Stroke::Dashed).then_some("5 3");
                view! {
                    <li data-series=entry.key>
                        <svg viewBox="0 0 28 8" aria-hidden="true">
                            <line
                                x1="1" y1="4" x2="27" y2="4"
                                style=format!("stroke: var({})", entry.colour_var)
                                stroke-dasharray=dash
                            />
                        </svg>
                        {entry.name}
                    </li>
                }
            })
            .collect_view()
    };

    // Drawing: only here, throttled, and only when something drawn changed.
    let last_draw_ms = StoredValue::new(f64::NEG_INFINITY);
    let draw_pending = StoredValue::new(false);
    let draw_now = move || {
        draw_pending.set_value(false);
        last_draw_ms.set_value(wall_clock_ms());
        if let Some(canvas) = canvas_ref.get_untracked() {
            let window = window.get_untracked();
            sim.chart
                .with_untracked(|store| draw_charts(&canvas, store, window));
        }
    };
    Effect::new(move |_| {
        sim.chart.with(|store| store.revision);
        window.track();
        if !open.get() || canvas_ref.get().is_none() || draw_pending.get_value() {
            return;
        }
        let since_ms = wall_clock_ms() - last_draw_ms.get_value();
        if since_ms >= MIN_REDRAW_INTERVAL_MS {
            draw_now();
        } else {
            draw_pending.set_value(true);
            let wait_ms = (MIN_REDRAW_INTERVAL_MS - since_ms).max(0.0);
            set_timeout(draw_now, Duration::from_millis(wait_ms as u64));
        }
    });

    let window_button = move |choice: ChartWindow, label: &'static str, test_id: &'static str| {
        view! {
            <button
                type="button"
                class="button chart-window-button"
                data-testid=test_id
                aria-pressed=move || (window.get() == choice).to_string()
                on:click=move |_| set_window.set(choice)
            >
                {label}
            </button>
        }
    };

    view! {
        <details
            class="card charts"
            data-testid="charts"
            open=true
            on:toggle=move |event| {
                let open = event
                    .target()
                    .and_then(|target| target.dyn_into::<web_sys::HtmlDetailsElement>().ok())
                    .is_some_and(|details| details.open());
                set_open.set(open);
            }
        >
            <summary class="card-title">
                "Charts"
                <span class="card-subtitle" data-testid="chart-title">{title}</span>
            </summary>
            <div class="chart-controls" role="group" aria-label="Time window">
                {window_button(ChartWindow::Rolling, "Last 30 s", "chart-window-rolling")}
                {window_button(ChartWindow::FullRun, "Full run", "chart-window-full")}
                <span class="chart-span" data-testid="chart-span">{span_text}</span>
            </div>
            <canvas
                node_ref=canvas_ref
                class="chart-canvas"
                data-testid="chart-canvas"
                data-plots=move || if is_link.get() { "2" } else { "3" }
                role="img"
                aria-label=move || format!("Charts of {}", title())
            ></canvas>
            <ul class="chart-legend" data-testid="chart-legend" aria-label="Legend">
                {legend}
            </ul>
            {move || fallback_note().map(|text| view! { <p class="chart-note chart-fallback">{text}</p> })}
            <p class="chart-note">{note}</p>
        </details>
    }
}

/// Reads a colour custom property (`#rrggbb`) off the canvas's computed style.
fn css_colour(style: Option<&web_sys::CssStyleDeclaration>, name: &str) -> RGBColor {
    let text = style
        .and_then(|style| style.get_property_value(name).ok())
        .unwrap_or_default();
    let hex = text.trim().trim_start_matches('#');
    let channel = |range: std::ops::Range<usize>| {
        hex.get(range)
            .and_then(|digits| u8::from_str_radix(digits, 16).ok())
    };
    match (channel(0..2), channel(2..4), channel(4..6)) {
        (Some(red), Some(green), Some(blue)) if hex.len() == 6 => RGBColor(red, green, blue),
        _ => RGBColor(128, 128, 128),
    }
}

/// Axis numbers without noise: 1200 → "1.2k", 0.25 → "0.25".
fn compact_number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1_000_000.0 {
        format!("{:.1}M", value / 1_000_000.0)
    } else if magnitude >= 1_000.0 {
        format!("{:.1}k", value / 1_000.0)
    } else if magnitude >= 10.0 || value == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// Sizes the canvas to its CSS box (times the device pixel ratio, so text is
/// sharp) and draws the stack of plots.
fn draw_charts(canvas: &web_sys::HtmlCanvasElement, store: &ChartStore, window: ChartWindow) {
    let css_width = f64::from(canvas.client_width());
    let css_height = f64::from(canvas.client_height());
    if css_width <= 0.0 || css_height <= 0.0 {
        return;
    }
    let browser = web_sys::window();
    let pixel_ratio = browser
        .as_ref()
        .map_or(1.0, |browser| browser.device_pixel_ratio())
        .clamp(1.0, 3.0);
    canvas.set_width((css_width * pixel_ratio).round() as u32);
    canvas.set_height((css_height * pixel_ratio).round() as u32);
    let style = browser
        .as_ref()
        .and_then(|browser| browser.get_computed_style(canvas).ok().flatten());
    let colours = ChartColours {
        background: css_colour(style.as_ref(), "--chart-background"),
        text: css_colour(style.as_ref(), "--chart-text"),
        axis: css_colour(style.as_ref(), "--chart-axis"),
        grid: css_colour(style.as_ref(), "--chart-grid"),
        style,
    };
    let Some(backend) = CanvasBackend::with_canvas_object(canvas.clone()) else {
        return;
    };
    let root = backend.into_drawing_area();
    let (from_us, to_us) = x_span_us(store, window);
    let plots = plots_for(store, from_us, to_us);
    let result = draw_plots(
        &root,
        &plots,
        (seconds(from_us), seconds(to_us)),
        pixel_ratio,
        &colours,
    )
    .and_then(|()| root.present());
    if let Err(error) = result {
        web_sys::console::warn_1(&format!("charts: drawing failed: {error}").into());
    }
}

struct ChartColours {
    background: RGBColor,
    text: RGBColor,
    axis: RGBColor,
    grid: RGBColor,
    style: Option<web_sys::CssStyleDeclaration>,
}

type DrawResult = Result<(), DrawingAreaErrorKind<<CanvasBackend as DrawingBackend>::ErrorType>>;

fn draw_plots(
    root: &DrawingArea<CanvasBackend, Shift>,
    plots: &[Plot],
    (x_from, x_to): (f64, f64),
    scale: f64,
    colours: &ChartColours,
) -> DrawResult {
    root.fill(&colours.background)?;
    let px = |size: f64| (size * scale).round() as i32;
    let font = |size: f64| ("sans-serif", size * scale).into_font();
    let areas = root.split_evenly((plots.len().max(1), 1));
    let last = plots.len().saturating_sub(1);
    for (index, (plot, area)) in plots.iter().zip(areas.iter()).enumerate() {
        let y_max = plot
            .lines
            .iter()
            .flat_map(|line| line.points.iter().filter_map(|(_, value)| *value))
            .fold(0.0_f64, f64::max);
        // Headroom above the highest value, and a visible axis when all are 0.
        let y_top = if y_max > 0.0 { y_max * 1.15 } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .caption(plot.title, font(12.0).color(&colours.text))
            .margin_top(px(2.0))
            .margin_right(px(10.0))
            .margin_left(px(4.0))
            .x_label_area_size(px(if index == last { 34.0 } else { 20.0 }))
            .y_label_area_size(px(40.0))
            .build_cartesian_2d(x_from..x_to, 0.0..y_top)?;
        let x_formatter = |seconds: &f64| format!("{} s", compact_number(*seconds));
        let y_formatter = |value: &f64| compact_number(*value);
        let mut mesh = chart.configure_mesh();
        mesh.x_labels(6)
            .y_labels(4)
            .label_style(font(11.0).color(&colours.text))
            .axis_style(colours.axis.stroke_width(px(1.0).max(1) as u32))
            .bold_line_style(colours.grid.stroke_width(1))
            .light_line_style(TRANSPARENT)
            .x_label_formatter(&x_formatter)
            .y_label_formatter(&y_formatter);
        if index == last {
            mesh.x_desc("sim time")
                .axis_desc_style(font(11.0).color(&colours.text));
        }
        mesh.draw()?;
        for line in &plot.lines {
            let colour = css_colour(colours.style.as_ref(), line.colour_var);
            let width = px(2.0).max(1) as u32;
            // A gap (None) splits the line into separate runs.
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for (time, value) in &line.points {
                match (value, runs.last_mut()) {
                    (Some(value), Some(run)) => run.push((*time, *value)),
                    _ => runs.push(Vec::new()),
                }
            }
            for run in runs.into_iter().filter(|run| !run.is_empty()) {
                let style = colour.stroke_width(width);
                match line.stroke {
                    Stroke::Solid => {
                        chart.draw_series(LineSeries::new(run, style))?;
                    }
                    Stroke::Dashed => {
                        chart.draw_series(DashedLineSeries::new(run, px(6.0), px(4.0), style))?;
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_engine::metrics::NodeSample;

    fn node_sample(time_us: u64, lag: Option<u64>) -> NodeSample {
        NodeSample {
            time_us,
            throughput_per_s: 10.0,
            errors_per_s: 1.0,
            latency_p50_ms: 2.0,
            latency_p95_ms: 3.0,
            latency_p99_ms: 4.0,
            latency_max_ms: 5.0,
            queue_depth: 3,
            consumer_lag: lag,
        }
    }

    fn store(samples: Vec<NodeSample>) -> ChartStore {
        ChartStore {
            subject: ChartSubject::Node { id: "n".into() },
            interval_us: 250_000,
            samples: ChartSeriesSamples::Node(samples),
            revision: 1,
        }
    }

    #[test]
    fn rolling_window_is_the_last_30_seconds_and_full_run_starts_at_zero() {
        let samples = (1..=200)
            .map(|index| node_sample(index * 250_000, None))
            .collect();
        let store = store(samples);
        assert_eq!(
            x_span_us(&store, ChartWindow::Rolling),
            (20_000_000, 50_000_000)
        );
        assert_eq!(x_span_us(&store, ChartWindow::FullRun), (0, 50_000_000));
        let plots = plots_for(&store, 20_000_000, 50_000_000);
        assert_eq!(plots.len(), 3);
        assert_eq!(plots[0].lines[0].points.len(), 121, "20 s..=50 s at 250 ms");
    }

    #[test]
    fn a_consumer_without_lag_leaves_gaps_not_zeros() {
        let store = store(vec![
            node_sample(250_000, Some(5)),
            node_sample(500_000, None),
            node_sample(750_000, Some(7)),
        ]);
        let plots = plots_for(&store, 0, 1_000_000);
        let lag: Vec<Option<f64>> = plots[2].lines[1].points.iter().map(|p| p.1).collect();
        assert_eq!(lag, vec![Some(5.0), None, Some(7.0)]);
    }

    #[test]
    fn axis_numbers_are_compact() {
        assert_eq!(compact_number(1_234.0), "1.2k");
        assert_eq!(compact_number(0.25), "0.25");
        assert_eq!(compact_number(42.0), "42");
        assert_eq!(compact_number(2_500_000.0), "2.5M");
    }
}
