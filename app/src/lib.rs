//! Code shared by the page binary (`main.rs`) and the engine worker binary
//! (`bin/engine_worker.rs`): the protocol between them and the budgeted advance.

pub mod chart_feed;
pub mod engine_host;
