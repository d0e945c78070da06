//! The live simulation view: badges and particles over the canvas, faults by
//! direct manipulation (context menu items), the fault timeline with its
//! scrubber, and the A/B compare panel. The engine decides everything; these
//! modules only draw what the driver publishes and send requests to it.

pub mod broker_panel;
pub mod charts;
pub mod compare;
pub mod drops;
pub mod faults;
pub mod inspection_card;
pub mod overlay;
pub mod particle_layer;
pub mod replication_panel;
pub mod sequence;
pub mod svg_text_refresh;
pub mod timeline;
pub mod transactions_panel;

/// What the checker panel asked to highlight: the nodes (by id) and the
/// messages (by id) a violation involves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Highlight {
    pub check: Option<String>,
    pub nodes: Vec<String>,
    pub messages: Vec<u64>,
}

/// Real time on the page in ms (`performance.now()`), for animation only:
/// nothing the engine decides ever reads it.
pub fn wall_clock_ms() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map_or(0.0, |performance| performance.now())
}
