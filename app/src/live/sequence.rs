//! The sequence diagram panel: a Lamport (space-time) diagram of one request, saga or message, drawn as SVG and exportable as a standalone .svg file.
//!
//! The engine decides what belongs to the diagram and computes the Lamport
//! clocks (`faultline_engine::sequence`); this module only lays it out. One
//! lifeline per node; time runs down, one row per event in trace order (so a
//! send is always above its receive); arrows go from send to receive, a lost
//! message ends in an ✕ where it was lost; crashes and restarts are bars on
//! the lifeline. The same SVG text is shown in the panel and downloaded, so
//! it carries its own `xmlns` and presentation attributes (no page CSS), and
//! every text from the scenario (node names, labels) is XML-escaped.

use crate::driver::{SimDriver, SimView};
use crate::live::overlay::class_name;
use faultline_engine::checkers::CheckStatus;
use faultline_engine::message::MessageClass;
use faultline_engine::sequence::{Correlation, SequenceDiagram, SequenceEventKind};
use faultline_engine::trace::DropReason;
use leptos::prelude::*;
use std::fmt::Write as _;
use wasm_bindgen::JsCast;

/// Horizontal distance between lifelines.
const COLUMN_PX: f64 = 150.0;
/// Space left of the first lifeline for the time column.
const LEFT_MARGIN_PX: f64 = 90.0;
/// Height of the lifeline headers.
const HEADER_PX: f64 = 46.0;
/// Vertical distance between consecutive events.
const ROW_PX: f64 = 24.0;
/// Arrow labels longer than this are cut (the full text is in a `<title>`).
const LABEL_CHARS: usize = 26;

/// Escapes text for XML content and attribute values.
fn xml_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            character if (character as u32) < 0x20 && !matches!(character, '\t' | '\n') => {}
            character => escaped.push(character),
        }
    }
    escaped
}

fn short(text: &str) -> String {
    if text.chars().count() <= LABEL_CHARS {
        text.to_string()
    } else {
        let cut: String = text.chars().take(LABEL_CHARS - 1).collect();
        format!("{cut}…")
    }
}

fn class_colour(class: MessageClass) -> &'static str {
    match class {
        // The particles' Okabe–Ito colours (styles/live.css), inlined so the
        // exported file needs no stylesheet.
        MessageClass::Request => "#0072b2",
        MessageClass::Response => "#009e73",
        MessageClass::Publish => "#e69f00",
        MessageClass::Replication => "#cc79a7",
        MessageClass::Heartbeat => "#8895a5",
        MessageClass::Control => "#56b4e9",
    }
}

const CLASSES: [MessageClass; 6] = [
    MessageClass::Request,
    MessageClass::Response,
    MessageClass::Publish,
    MessageClass::Replication,
    MessageClass::Heartbeat,
    MessageClass::Control,
];

fn drop_reason_text(reason: DropReason) -> &'static str {
    match reason {
        DropReason::Loss => "lost on the link",
        DropReason::Partition => "cut by a partition",
        DropReason::NodeDown => "receiver down",
        DropReason::InFlightLimit => "in-flight limit",
    }
}

fn seconds(time_us: u64) -> String {
    format!("{:.6} s", time_us as f64 / 1e6)
}

/// A row of the layout: a process event, or the point where a message was lost.
enum Row {
    Event(usize),
    Lost(usize),
}

/// The diagram as a standalone SVG document.
pub fn render_svg(diagram: &SequenceDiagram) -> String {
    // Rows in trace order: events, and losses at their own trace position.
    let mut rows: Vec<(u64, Row)> = diagram
        .events
        .iter()
        .enumerate()
        .map(|(index, event)| (event.seq, Row::Event(index)))
        .collect();
    for (index, arrow) in diagram.arrows.iter().enumerate() {
        if let Some(lost) = arrow.lost {
            // A loss at send time shares the send's trace position: after it.
            rows.push((lost.seq, Row::Lost(index)));
        }
    }
    rows.sort_by_key(|(seq, row)| (*seq, matches!(row, Row::Lost(_))));
    let mut event_y = vec![0.0; diagram.events.len()];
    let mut lost_y = vec![0.0; diagram.arrows.len()];
    for (row, (_, kind)) in rows.iter().enumerate() {
        let y = HEADER_PX + 20.0 + row as f64 * ROW_PX;
        match kind {
            Row::Event(index) => event_y[*index] = y,
            Row::Lost(index) => lost_y[*index] = y,
        }
    }
    let lifeline_x = |line: u32| LEFT_MARGIN_PX + COLUMN_PX / 2.0 + line as f64 * COLUMN_PX;
    let width = LEFT_MARGIN_PX + COLUMN_PX * diagram.lifelines.len().max(1) as f64 + 20.0;
    let bottom = HEADER_PX + 20.0 + rows.len().max(1) as f64 * ROW_PX;
    let footer_lines =
        1 + usize::from(diagram.truncated.is_some()) + usize::from(diagram.history_cut);
    let height = bottom + 16.0 + footer_lines as f64 * 16.0;

    let mut svg = String::with_capacity(4_096 + diagram.arrows.len() * 400);
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="11" data-testid="sequence-svg" data-lifelines="{}" data-arrows="{}">"##,
        diagram.lifelines.len(),
        diagram.arrows.len()
    );
    let _ = write!(svg, "<title>{}</title>", xml_escape(&diagram.title));
    // One arrow head per message class (SVG 1.1 has no `context-stroke`).
    svg.push_str("<defs>");
    for class in CLASSES {
        let _ = write!(
            svg,
            r##"<marker id="sequence-head-{}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0L10 5L0 10z" fill="{}"/></marker>"##,
            class_name(class),
            class_colour(class)
        );
    }
    svg.push_str("</defs>");
    let _ = write!(
        svg,
        r##"<rect x="0" y="0" width="{width:.0}" height="{height:.0}" fill="#ffffff"/>"##
    );
    // Lifelines with their headers.
    for (index, lifeline) in diagram.lifelines.iter().enumerate() {
        let x = lifeline_x(index as u32);
        let _ = write!(
            svg,
            r##"<g data-testid="lifeline" data-node="{name}"><rect x="{left:.1}" y="8" width="{box_width:.1}" height="26" rx="6" fill="#f1f5f9" stroke="#334155" stroke-width="1"/><text x="{x:.1}" y="25" text-anchor="middle" font-size="12" font-weight="600" fill="#0f172a">{label}</text><line x1="{x:.1}" y1="34" x2="{x:.1}" y2="{bottom:.1}" stroke="#94a3b8" stroke-width="1.5" stroke-dasharray="4 3"/></g>"##,
            name = xml_escape(&lifeline.name),
            left = x - COLUMN_PX / 2.0 + 10.0,
            box_width = COLUMN_PX - 20.0,
            label = xml_escape(&short(&lifeline.name)),
        );
    }
    // The time column and each event's Lamport clock.
    for (index, event) in diagram.events.iter().enumerate() {
        let y = event_y[index];
        let x = lifeline_x(event.lifeline);
        let _ = write!(
            svg,
            r##"<text x="6" y="{:.1}" fill="#64748b" font-size="10">{}</text>"##,
            y + 3.5,
            seconds(event.time_us)
        );
        match event.kind {
            SequenceEventKind::Send | SequenceEventKind::Receive => {
                let _ = write!(
                    svg,
                    r##"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="#0f172a"/>"##
                );
            }
            SequenceEventKind::Operation => {
                let _ = write!(
                    svg,
                    r##"<g data-testid="sequence-operation"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="16" rx="3" fill="#fef9c3" stroke="#a16207" stroke-width="1"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#713f12" font-size="10">{}</text></g>"##,
                    x - COLUMN_PX / 2.0 + 16.0,
                    y - 8.0,
                    COLUMN_PX - 32.0,
                    y + 3.5,
                    xml_escape(&short(&event.label))
                );
            }
            SequenceEventKind::Crash => {
                let _ = write!(
                    svg,
                    r##"<g data-testid="sequence-crash"><rect x="{:.1}" y="{:.1}" width="44" height="6" fill="#dc2626"/><text x="{:.1}" y="{:.1}" fill="#b91c1c" font-weight="700">⚡ crash</text></g>"##,
                    x - 22.0,
                    y - 3.0,
                    x + 26.0,
                    y + 4.0
                );
            }
            SequenceEventKind::Restart => {
                let _ = write!(
                    svg,
                    r##"<g data-testid="sequence-restart"><rect x="{:.1}" y="{:.1}" width="44" height="6" fill="#16a34a"/><text x="{:.1}" y="{:.1}" fill="#15803d" font-weight="700">↻ restart</text></g>"##,
                    x - 22.0,
                    y - 3.0,
                    x + 26.0,
                    y + 4.0
                );
            }
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" fill="#475569" font-size="9" data-lamport="{}">L{}</text>"##,
            x - 22.0,
            y - 4.0,
            event.lamport,
            event.lamport
        );
    }
    // Arrows: send → receive, send → ✕, or send → (still travelling).
    for (index, arrow) in diagram.arrows.iter().enumerate() {
        let send = &diagram.events[arrow.send_event as usize];
        let (x1, y1) = (lifeline_x(arrow.from), event_y[arrow.send_event as usize]);
        let to_x = lifeline_x(arrow.to);
        let colour = class_colour(arrow.class);
        let title = format!("m{} {} (L{})", arrow.message, arrow.label, send.lamport);
        let (x2, y2, end) = match (arrow.receive_event, arrow.lost) {
            (Some(receive), _) => (to_x, event_y[receive as usize], "receive"),
            (None, Some(lost)) => {
                let fraction = if lost.at_receiver { 0.92 } else { 0.5 };
                (x1 + (to_x - x1) * fraction, lost_y[index], "lost")
            }
            (None, None) => (x1 + (to_x - x1) * 0.5, y1 + ROW_PX * 0.8, "travelling"),
        };
        let dash = match end {
            "travelling" => r##" stroke-dasharray="5 4""##,
            _ => "",
        };
        let head = if end == "receive" {
            format!(
                r##" marker-end="url(#sequence-head-{})""##,
                class_name(arrow.class)
            )
        } else {
            String::new()
        };
        let _ = write!(
            svg,
            r##"<g data-testid="sequence-arrow" data-message="{}" data-end="{end}" data-class="{}"><title>{}</title><line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{colour}" stroke-width="1.6"{dash}{head}/>"##,
            arrow.message,
            class_name(arrow.class),
            xml_escape(&title)
        );
        let (label_x, label_y) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0 - 4.0);
        let _ = write!(
            svg,
            r##"<text x="{label_x:.1}" y="{label_y:.1}" text-anchor="middle" fill="{colour}" font-size="10">{}</text>"##,
            xml_escape(&short(&format!("m{} {}", arrow.message, arrow.label)))
        );
        if let (None, Some(lost)) = (arrow.receive_event, arrow.lost) {
            let _ = write!(
                svg,
                r##"<g data-testid="sequence-lost" data-reason="{}"><path d="M{:.1} {:.1}l10 10m0 -10l-10 10" stroke="#dc2626" stroke-width="2.4" stroke-linecap="round"/><text x="{:.1}" y="{:.1}" fill="#b91c1c" font-size="9">{}</text></g>"##,
                lost.reason.as_str(),
                x2 - 5.0,
                y2 - 5.0,
                x2 + 8.0,
                y2 + 12.0,
                drop_reason_text(lost.reason)
            );
        }
        svg.push_str("</g>");
    }
    // Footer: what the diagram is, and what it leaves out.
    let mut footer_y = bottom + 18.0;
    let _ = write!(
        svg,
        r##"<text x="6" y="{footer_y:.1}" fill="#334155" font-size="11">{} · {} lifelines · {} messages · L = Lamport clock</text>"##,
        xml_escape(&diagram.title),
        diagram.lifelines.len(),
        diagram.arrows.len()
    );
    if let Some(truncated) = &diagram.truncated {
        footer_y += 16.0;
        let _ = write!(
            svg,
            r##"<text x="6" y="{footer_y:.1}" fill="#b45309" font-size="11" data-testid="sequence-truncated">Truncated: {}</text>"##,
            xml_escape(truncated)
        );
    }
    if diagram.history_cut {
        footer_y += 16.0;
        let _ = write!(
            svg,
            r##"<text x="6" y="{footer_y:.1}" fill="#64748b" font-size="11">Only the trace from event #{} on is kept: older events of this request are not shown.</text>"##,
            diagram.first_seq_available
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Offers `svg` as a download (a Blob URL, revoked after the click).
fn download_svg(file_name: &str, svg: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(svg));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("image/svg+xml");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)
        .map_err(|error| format!("{error:?}"))?;
    let url =
        web_sys::Url::create_object_url_with_blob(&blob).map_err(|error| format!("{error:?}"))?;
    let anchor: web_sys::HtmlAnchorElement = document()
        .create_element("a")
        .map_err(|error| format!("{error:?}"))?
        .dyn_into()
        .map_err(|_| "could not create a link".to_string())?;
    anchor.set_href(&url);
    anchor.set_download(file_name);
    anchor.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

fn file_name(correlation: Correlation) -> String {
    match correlation {
        Correlation::Request { client, operation } => {
            format!("sequence-t{client}.{operation}.svg")
        }
        Correlation::Message { id } => format!("sequence-m{id}.svg"),
    }
}

fn query_text(correlation: Correlation) -> String {
    match correlation {
        Correlation::Request { client, operation } => format!("t{client}.{operation}"),
        Correlation::Message { id } => format!("m{id}"),
    }
}

#[component]
pub fn SequencePanel(driver: SimDriver, sim: SimView) -> impl IntoView {
    let (query, set_query) = signal(String::new());
    let (export_error, set_export_error) = signal(None::<String>);
    let show = move |text: String| {
        set_query.set(text.clone());
        driver.request_sequence(text);
    };
    let svg = Memo::new(move |_| {
        sim.sequence.with(|answer| match answer {
            Some(Ok(diagram)) => Some(render_svg(diagram)),
            _ => None,
        })
    });
    let suggestions = move || {
        sim.sequence.with(|answer| match answer {
            Some(Ok(diagram)) => diagram
                .suggestions
                .iter()
                .map(|suggestion| (query_text(suggestion.correlation), suggestion.label.clone()))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        })
    };
    // Messages named by failed checks: a violation's story in one click.
    let violation_picks = move || {
        sim.snapshot.with(|snapshot| {
            snapshot
                .as_ref()
                .map(|snapshot| {
                    snapshot
                        .checks
                        .iter()
                        .filter(|check| check.status == CheckStatus::Fail)
                        .filter_map(|check| {
                            check
                                .messages
                                .first()
                                .map(|message| (format!("m{}", message.0), check.name.clone()))
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let export = move |_| {
        let Some((name, text)) = sim.sequence.with_untracked(|answer| match answer {
            Some(Ok(diagram)) => Some((file_name(diagram.correlation), render_svg(diagram))),
            _ => None,
        }) else {
            return;
        };
        set_export_error.set(download_svg(&name, &text).err());
    };
    let has_diagram = move || svg.with(Option::is_some);
    let error = move || {
        sim.sequence.with(|answer| match answer {
            Some(Err(message)) => Some(message.clone()),
            _ => None,
        })
    };
    let title = move || {
        sim.sequence.with(|answer| match answer {
            Some(Ok(diagram)) => Some(diagram.title.clone()),
            _ => None,
        })
    };

    view! {
        <details class="card sequence-panel" data-testid="sequence-panel">
            <summary class="card-title">"Sequence diagram"</summary>
            <form
                class="sequence-query"
                on:submit=move |event| {
                    event.prevent_default();
                    show(query.get_untracked());
                }
            >
                <input
                    type="text"
                    data-testid="sequence-query"
                    aria-label="Request, saga or message"
                    placeholder="m12, t0.17, clients 17 or a trace line (empty: latest request)"
                    prop:value=move || query.get()
                    on:input=move |event| set_query.set(event_target_value(&event))
                />
                <button class="button small" type="submit" data-testid="sequence-show">"Show"</button>
                <button
                    class="button small"
                    type="button"
                    data-testid="sequence-export"
                    disabled=move || !has_diagram()
                    title="Download the diagram as a standalone SVG file"
                    on:click=export
                >
                    "Export SVG"
                </button>
            </form>
            <div class="sequence-picks">
                {move || {
                    suggestions()
                        .into_iter()
                        .map(|(text, label)| {
                            let pick = text.clone();
                            view! {
                                <button
                                    class="chip"
                                    type="button"
                                    data-testid="sequence-pick"
                                    title=format!("Show {text}")
                                    on:click=move |_| show(pick.clone())
                                >
                                    {label}
                                </button>
                            }
                        })
                        .collect_view()
                }}
                {move || {
                    violation_picks()
                        .into_iter()
                        .map(|(text, check)| {
                            let pick = text.clone();
                            view! {
                                <button
                                    class="chip chip-violation"
                                    type="button"
                                    data-testid="sequence-violation-pick"
                                    title=format!("Show {text}, named by the violation of {check}")
                                    on:click=move |_| show(pick.clone())
                                >
                                    {format!("{text} ({check})")}
                                </button>
                            }
                        })
                        .collect_view()
                }}
            </div>
            {move || error().map(|message| view! { <p class="sequence-error" data-testid="sequence-error">{message}</p> })}
            {move || export_error.get().map(|message| view! { <p class="sequence-error">"Export failed: " {message}</p> })}
            {move || title().map(|title| view! { <p class="sequence-title" data-testid="sequence-title">{title}</p> })}
            // The SVG text is built by `render_svg`, which escapes every text
            // from the scenario, so it is safe to insert as markup.
            <div class="sequence-canvas" data-testid="sequence-canvas" inner_html=move || svg.get().unwrap_or_default()></div>
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_scenario_cannot_break_out_of_the_svg() {
        assert_eq!(
            xml_escape(r#"<script>"a"&'b'</script>"#),
            "&lt;script&gt;&quot;a&quot;&amp;&apos;b&apos;&lt;/script&gt;"
        );
        assert_eq!(xml_escape("a\u{1}b"), "ab");
    }
}
