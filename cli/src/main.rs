//! `faultline`: the headless runner — validate, run and nemesis-sweep scenarios for CI and grading.
//!
//! Exit codes: 0 success; 1 an expectation in the scenario did not hold;
//! 2 the input is invalid (every problem is printed with its path).

use clap::{Parser, Subcommand, ValueEnum};
use faultline_engine::checkers::CheckStatus;
use faultline_engine::scenario::{NemesisSpec, Problems, Scenario, parse_scenario, schema};
use faultline_engine::{RunReport, Simulator, SimulatorOptions, graph, time};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "faultline",
    version,
    about = "Run Faultline scenarios headless (deterministic: same file + seed = same digest)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Check a scenario file; prints every problem with its JSON path.
    Validate { file: String },
    /// Run a scenario and print its report.
    Run {
        file: String,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Stop at this simulated time instead of run.duration_ms (e.g. 30s, 250ms).
        #[arg(long)]
        until: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Write every trace line to this file.
        #[arg(long)]
        trace: Option<String>,
    },
    /// Run the scenario under random fault plans, one per seed, and tabulate violated checks.
    Nemesis {
        file: String,
        /// Seed range, inclusive: `1..100`.
        #[arg(long, default_value = "1..100")]
        seeds: String,
        /// Fault intensity when the scenario has no `faults.nemesis` of its own.
        #[arg(long, default_value_t = 6.0)]
        faults_per_minute: f64,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Print the scenario JSON Schema.
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { file } => validate(&file),
        Command::Run {
            file,
            seed,
            until,
            format,
            trace,
        } => run(&file, seed, until.as_deref(), format, trace.as_deref()),
        Command::Nemesis {
            file,
            seeds,
            faults_per_minute,
            format,
        } => nemesis(&file, &seeds, faults_per_minute, format),
        Command::Schema => {
            println!("{}", schema::scenario_json_schema());
            ExitCode::SUCCESS
        }
    }
}

fn load(file: &str) -> Result<Scenario, ExitCode> {
    let text = std::fs::read_to_string(file).map_err(|error| {
        eprintln!("{file}: cannot read: {error}");
        ExitCode::from(2)
    })?;
    parse_scenario(&text).map_err(|problems| {
        print_problems(file, &problems);
        ExitCode::from(2)
    })
}

fn print_problems(file: &str, problems: &Problems) {
    eprintln!("{file}: {} problem(s)", problems.len());
    for problem in problems.iter() {
        eprintln!("  {problem}");
    }
}

fn validate(file: &str) -> ExitCode {
    match load(file) {
        Ok(scenario) => {
            for warning in graph::analyze(&scenario) {
                eprintln!("warning: {warning}");
            }
            println!(
                "{file}: valid ({} nodes, {} links)",
                scenario.topology.nodes.len(),
                scenario.topology.links.len()
            );
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// The only wall-clock read in the project, outside the engine library: the
/// report's `wall_ms` is a fact about this process, not about the simulation.
#[allow(clippy::disallowed_methods)]
fn timed<T>(work: impl FnOnce() -> T) -> (T, u64) {
    let started = std::time::Instant::now();
    let value = work();
    (value, started.elapsed().as_millis() as u64)
}

fn run(
    file: &str,
    seed: Option<u64>,
    until: Option<&str>,
    format: Format,
    trace_file: Option<&str>,
) -> ExitCode {
    let scenario = match load(file) {
        Ok(scenario) => scenario,
        Err(code) => return code,
    };
    let duration = match until.map(time::parse_duration).transpose() {
        Ok(duration) => duration,
        Err(message) => {
            eprintln!("--until: {message}");
            return ExitCode::from(2);
        }
    };
    let options = SimulatorOptions {
        seed,
        duration,
        record_full_trace: trace_file.is_some(),
    };
    let mut simulator = match Simulator::with_options(&scenario, options) {
        Ok(simulator) => simulator,
        Err(problems) => {
            print_problems(file, &problems);
            return ExitCode::from(2);
        }
    };
    let (_, wall_ms) = timed(|| simulator.run_to_end());
    let mut report = RunReport::from_simulator(&simulator);
    report.wall_ms = wall_ms;
    if let Some(trace_file) = trace_file {
        let lines = simulator.trace_mut().take_full_record().unwrap_or_default();
        if let Err(error) = std::fs::write(trace_file, lines.join("\n") + "\n") {
            eprintln!("{trace_file}: cannot write trace: {error}");
            return ExitCode::from(2);
        }
    }
    match format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
    }
    if report.expectations_met {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "expectations not met (seed {}; rerun with --seed {} to reproduce)",
            report.seed, report.seed
        );
        ExitCode::from(1)
    }
}

fn parse_seed_range(text: &str) -> Result<std::ops::RangeInclusive<u64>, String> {
    let (first, last) = text
        .split_once("..")
        .ok_or_else(|| format!("expected FIRST..LAST, found {text:?}"))?;
    let first: u64 = first
        .trim()
        .parse()
        .map_err(|_| format!("bad first seed in {text:?}"))?;
    let last: u64 = last
        .trim()
        .trim_start_matches('=')
        .parse()
        .map_err(|_| format!("bad last seed in {text:?}"))?;
    if last < first || last - first >= 100_000 {
        return Err(format!("expected 1 to 100000 seeds, found {text:?}"));
    }
    Ok(first..=last)
}

fn nemesis(file: &str, seeds: &str, faults_per_minute: f64, format: Format) -> ExitCode {
    let mut scenario = match load(file) {
        Ok(scenario) => scenario,
        Err(code) => return code,
    };
    let seeds = match parse_seed_range(seeds) {
        Ok(seeds) => seeds,
        Err(message) => {
            eprintln!("--seeds: {message}");
            return ExitCode::from(2);
        }
    };
    if scenario.faults.nemesis.is_none() {
        scenario.faults.nemesis = Some(NemesisSpec {
            faults_per_minute,
            mean_fault_duration_ms: 5_000.0,
            kinds: Vec::new(),
            targets: Vec::new(),
            start_ms: 0,
            stop_ms: None,
        });
    }
    let mut rows = Vec::new();
    for seed in seeds {
        let options = SimulatorOptions {
            seed: Some(seed),
            ..SimulatorOptions::default()
        };
        let (report, wall_ms) = timed(|| faultline_engine::run_scenario(&scenario, options));
        let mut report = match report {
            Ok(report) => report,
            Err(problems) => {
                print_problems(file, &problems);
                return ExitCode::from(2);
            }
        };
        report.wall_ms = wall_ms;
        rows.push(report);
    }
    let failing_seeds = rows
        .iter()
        .filter(|report| !report.expectations_met)
        .count();
    match format {
        Format::Json => {
            let table: Vec<serde_json::Value> = rows
                .iter()
                .map(|report| {
                    serde_json::json!({
                        "seed": report.seed,
                        "digest": report.digest,
                        "violated": report.checks.iter().filter(|check| check.status == CheckStatus::Fail).map(|check| &check.name).collect::<Vec<_>>(),
                        "expectations_met": report.expectations_met,
                        "wall_ms": report.wall_ms,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&table).unwrap_or_default()
            );
        }
        Format::Text => {
            println!(
                "{:>8}  {:<16}  {:<12}  violated checks",
                "seed", "digest", "expectations"
            );
            for report in &rows {
                let violated: Vec<&str> = report
                    .checks
                    .iter()
                    .filter(|check| check.status == CheckStatus::Fail)
                    .map(|check| check.name.as_str())
                    .collect();
                println!(
                    "{:>8}  {:<16}  {:<12}  {}",
                    report.seed,
                    &report.digest[..16],
                    if report.expectations_met {
                        "met"
                    } else {
                        "NOT MET"
                    },
                    if violated.is_empty() {
                        "-".to_string()
                    } else {
                        violated.join(", ")
                    }
                );
            }
            println!(
                "{} seeds, {} with unmet expectations",
                rows.len(),
                failing_seeds
            );
        }
    }
    if failing_seeds == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
