//! The app's view components, one module per panel of the screen.

pub mod canvas;
pub mod check_list;
pub mod event_log;
pub mod fault_plan_form;
pub mod focus;
pub mod header;
pub mod inspector;
pub mod load_failure;
pub mod palette;
pub mod problems_panel;
pub mod run_controls;
pub mod scenario_summary;
pub mod schema_fields;
pub mod share_dialog;
pub mod status_bar;
pub mod toolbar;
