//! The app's view components, one module per panel of the screen.

pub mod check_list;
pub mod event_log;
pub mod header;
pub mod load_failure;
pub mod run_controls;
pub mod scenario_summary;
pub mod topology;
