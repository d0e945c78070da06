//! Faultline's engine: a deterministic, sans-IO discrete-event simulator of distributed systems.
//!
//! Start at `sim::Simulator`. A `scenario::Scenario` goes in; a stream of
//! trace events, metrics, check results and snapshots comes out. Nothing here
//! reads a clock, a file or a socket, and the same scenario and seed give the
//! same trace digest on every platform (see ARCHITECTURE.md, "Determinism").

pub mod checkers;
pub mod checkpoint;
pub mod component;
pub mod components;
pub mod distribution;
pub mod fault;
pub mod graph;
pub mod inspect;
pub mod live;
pub mod live_drops;
pub mod message;
pub mod metrics;
pub mod network;
pub mod raft;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod sequence;
pub mod sim;
pub mod time;
pub mod trace;

pub use report::RunReport;
pub use scenario::{Scenario, parse_scenario};
pub use sim::{Simulator, SimulatorOptions, Snapshot, StopReason};
pub use time::{SimDuration, SimTime};

/// Parses, runs to the end and reports: the one-call path used by the CLI,
/// tests and the wasm determinism check.
pub fn run_scenario(
    scenario: &Scenario,
    options: SimulatorOptions,
) -> Result<RunReport, scenario::Problems> {
    let mut simulator = Simulator::with_options(scenario, options)?;
    simulator.run_to_end();
    Ok(RunReport::from_simulator(&simulator))
}
