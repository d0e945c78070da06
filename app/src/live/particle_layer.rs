//! Message particles and flow-intensity lines, painted on a 2D `<canvas>`
//! stacked over the topology SVG instead of inside it.
//!
//! Why a canvas: particles move every frame. As SVG they were path data
//! inside the same document as 200 node boxes, so every frame dirtied the
//! SVG's layout and made the browser re-raster the whole diagram; the
//! 200-node, 2,000-particle budget ran at about 10 fps. A canvas is drawn
//! by script with no layout at all, and the diagram underneath stays
//! untouched. The canvas follows the editor's viewport (pan and zoom) by
//! applying the same world transform the SVG's world group uses.
//!
//! The element keeps `data-testid="particles"` and `data-drawn` (dots drawn
//! in the last frame) and `data-flow-lines` so browser tests and the
//! performance benchmark can read what was painted.

use crate::driver::SimView;
use crate::editor::Editor;
use crate::live::Highlight;
use crate::live::drops::{FlowLine, flow_lines};
use crate::live::overlay::{PARTICLE_CLASSES, centres, class_name, display_clock, particle_dots};
use crate::live::wall_clock_ms;
use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// Particle radius in world px (scaled by zoom like the diagram).
const PARTICLE_RADIUS_PX: f64 = 6.0;
/// The highlight ring around a message a violation involves.
const HIGHLIGHT_RADIUS_PX: f64 = PARTICLE_RADIUS_PX * 2.2;
const HIGHLIGHT_LINE_WIDTH_PX: f64 = 2.5;
/// Colours come from CSS custom properties (so themes apply); reading
/// computed style costs a style recalculation, so at most once a second.
const COLOUR_REFRESH_MS: f64 = 1_000.0;
/// Device pixel ratios above this cost fill rate for no visible gain.
const MAX_PIXEL_RATIO: f64 = 2.0;

/// The painted colours, read from the theme's custom properties.
#[derive(Clone, Debug, Default)]
struct Palette {
    by_class: [String; 6],
    highlight: String,
    flow: String,
    read_at_ms: Option<f64>,
}

/// The particle layer, when the app provides the driver's view and the
/// highlight through context (it always does; tests of the canvas alone may not).
pub fn particle_layer_from_context(editor: Editor) -> Option<impl IntoView> {
    let sim = use_context::<SimView>()?;
    let highlight = use_context::<RwSignal<Highlight>>()?;
    Some(view! { <ParticleLayer editor=editor sim=sim highlight=highlight /> })
}

/// The canvas layer. Mount it inside the canvas container, after the SVG.
#[component]
pub fn ParticleLayer(
    editor: Editor,
    sim: SimView,
    highlight: RwSignal<Highlight>,
) -> impl IntoView {
    let canvas_ref = NodeRef::<Canvas>::new();
    let css_size = crate::resize::observed_size(canvas_ref);
    let palette = StoredValue::new(Palette::default());
    let display_now_us = display_clock(sim);

    let node_centres = Memo::new(move |_| centres(editor));

    let frame = Memo::new(move |_| {
        let now_us = display_now_us.get();
        let highlighted = highlight.with(|highlight| highlight.messages.clone());
        node_centres.with(|centres| {
            sim.snapshot.with(|snapshot| {
                let Some(snapshot) = snapshot.as_ref() else {
                    return ParticleFrame::default();
                };
                let centre_of = |index: u32| {
                    snapshot
                        .nodes
                        .get(index as usize)
                        .and_then(|node| centres.get(&node.id).copied())
                };
                sim.in_flight.with(|in_flight| ParticleFrame {
                    dots: particle_dots(in_flight, now_us, &highlighted, centre_of),
                    flows: flow_lines(in_flight, centre_of),
                })
            })
        })
    });

    Effect::new(move |_| {
        let (width, height) = css_size.get();
        let viewport = editor.viewport.get();
        let Some(canvas) = canvas_ref.get() else {
            return;
        };
        frame.with(|frame| {
            paint(
                &canvas,
                palette,
                (width, height),
                (viewport.x, viewport.y, viewport.zoom),
                frame,
            );
        });
    });

    view! {
        <canvas
            node_ref=canvas_ref
            class="particle-layer"
            data-testid="particles"
            aria-hidden="true"
            data-drawn=move || frame.with(|frame| frame.dots.len())
            data-flow-lines=move || frame.with(|frame| frame.flows.len())
        ></canvas>
    }
}

/// What one frame paints: dots (position, class slot, highlighted) and flow
/// lines, all in world coordinates.
#[derive(Clone, Debug, Default, PartialEq)]
struct ParticleFrame {
    dots: Vec<(f64, f64, usize, bool)>,
    flows: Vec<FlowLine>,
}

fn paint(
    canvas: &web_sys::HtmlCanvasElement,
    palette: StoredValue<Palette>,
    (css_width, css_height): (f64, f64),
    (pan_x, pan_y, zoom): (f64, f64, f64),
    frame: &ParticleFrame,
) {
    if css_width <= 0.0 || css_height <= 0.0 {
        return;
    }
    let pixel_ratio = web_sys::window()
        .map_or(1.0, |window| window.device_pixel_ratio())
        .clamp(1.0, MAX_PIXEL_RATIO);
    let (pixel_width, pixel_height) = (
        (css_width * pixel_ratio).round() as u32,
        (css_height * pixel_ratio).round() as u32,
    );
    // Assigning width/height clears the canvas and reallocates it: only on resize.
    if canvas.width() != pixel_width {
        canvas.set_width(pixel_width);
    }
    if canvas.height() != pixel_height {
        canvas.set_height(pixel_height);
    }
    let Some(context) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|context| context.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    refresh_palette(canvas, palette);
    let _ = context.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
    context.clear_rect(0.0, 0.0, f64::from(pixel_width), f64::from(pixel_height));
    let scale = pixel_ratio * zoom;
    let _ = context.set_transform(
        scale,
        0.0,
        0.0,
        scale,
        pan_x * pixel_ratio,
        pan_y * pixel_ratio,
    );

    palette.with_value(|palette| {
        if !frame.flows.is_empty() {
            context.set_stroke_style_str(&palette.flow);
            context.set_line_cap("round");
            for line in &frame.flows {
                context.set_global_alpha(line.opacity);
                context.set_line_width(line.width);
                context.begin_path();
                context.move_to(line.from.0, line.from.1);
                context.line_to(line.to.0, line.to.1);
                context.stroke();
            }
            context.set_global_alpha(1.0);
        }
        // One path and one fill per class: thousands of dots, six fills.
        context.set_global_alpha(0.9);
        for (slot, colour) in palette.by_class.iter().enumerate() {
            let mut any = false;
            context.begin_path();
            for (x, y, dot_slot, _) in &frame.dots {
                if *dot_slot != slot {
                    continue;
                }
                any = true;
                context.move_to(x + PARTICLE_RADIUS_PX, *y);
                let _ = context.arc(*x, *y, PARTICLE_RADIUS_PX, 0.0, std::f64::consts::TAU);
            }
            if any {
                context.set_fill_style_str(colour);
                context.fill();
            }
        }
        context.set_global_alpha(1.0);
        if frame.dots.iter().any(|dot| dot.3) {
            context.begin_path();
            for (x, y, _, highlighted) in &frame.dots {
                if *highlighted {
                    context.move_to(x + HIGHLIGHT_RADIUS_PX, *y);
                    let _ = context.arc(*x, *y, HIGHLIGHT_RADIUS_PX, 0.0, std::f64::consts::TAU);
                }
            }
            context.set_stroke_style_str(&palette.highlight);
            context.set_line_width(HIGHLIGHT_LINE_WIDTH_PX);
            context.stroke();
        }
    });
}

fn refresh_palette(canvas: &web_sys::HtmlCanvasElement, palette: StoredValue<Palette>) {
    let now_ms = wall_clock_ms();
    let due = palette.with_value(|palette| {
        palette
            .read_at_ms
            .is_none_or(|read_at_ms| now_ms - read_at_ms >= COLOUR_REFRESH_MS)
    });
    if !due {
        return;
    }
    let Some(style) =
        web_sys::window().and_then(|window| window.get_computed_style(canvas).ok().flatten())
    else {
        return;
    };
    let read = |name: &str, fallback: &str| {
        style
            .get_property_value(name)
            .ok()
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| fallback.to_string())
    };
    palette.update_value(|palette| {
        for (slot, class) in PARTICLE_CLASSES.iter().enumerate() {
            palette.by_class[slot] = read(&format!("--particle-{}", class_name(*class)), "#0072b2");
        }
        palette.highlight = read("--highlight", "#d55e00");
        palette.flow = read("--particle-request", "#0072b2");
        palette.read_at_ms = Some(now_ms);
    });
}
