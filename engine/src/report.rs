//! The run report: seed, digest, checks, per-node summaries and expectation outcomes (CLI and grading).

use crate::checkers::{CheckResult, CheckStatus};
use crate::scenario::{Expectation, ExpectedStatus};
use crate::sim::Simulator;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkSummary {
    pub sent: u64,
    pub delivered: u64,
    pub dropped: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpectationResult {
    pub expectation: String,
    pub met: bool,
    pub actual: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub title: String,
    pub seed: u64,
    pub digest: String,
    pub sim_time_us: u64,
    pub events: u64,
    pub trace_events: u64,
    /// Wall-clock time of the run. The engine cannot read clocks; the caller fills it.
    pub wall_ms: u64,
    pub stop_reason: String,
    pub checks: Vec<CheckResult>,
    /// Node id → metric name → value (component summary plus latency percentiles).
    pub nodes: BTreeMap<String, BTreeMap<String, f64>>,
    /// `from<->to` → traffic totals.
    pub links: BTreeMap<String, LinkSummary>,
    pub expectations: Vec<ExpectationResult>,
    pub expectations_met: bool,
}

impl RunReport {
    /// Builds the report of a (usually finished) simulation.
    pub fn from_simulator(simulator: &Simulator) -> RunReport {
        let scenario = simulator.scenario();
        let mut nodes = BTreeMap::new();
        for (index, name) in simulator.node_names().iter().enumerate() {
            let node = crate::message::NodeId(index as u32);
            let mut values: BTreeMap<String, f64> = simulator
                .node_summary(node)
                .into_iter()
                .map(|(key, value)| (key.to_string(), value))
                .collect();
            let metrics = &simulator.metrics().nodes[index];
            let (p50, p95, p99, max) = metrics.run_latency_ms();
            values.insert("ok_total".into(), metrics.total_completed as f64);
            values.insert("errors_total".into(), metrics.total_errors as f64);
            values.insert("latency_p50_ms".into(), p50);
            values.insert("latency_p95_ms".into(), p95);
            values.insert("latency_p99_ms".into(), p99);
            values.insert("latency_max_ms".into(), max);
            nodes.insert(name.clone(), values);
        }
        let mut links = BTreeMap::new();
        for (index, link) in scenario.topology.links.iter().enumerate() {
            if let Some(metrics) = simulator.metrics().links.get(index) {
                links.insert(
                    format!("{}<->{}", link.from, link.to),
                    LinkSummary {
                        sent: metrics.total_sent,
                        delivered: metrics.total_delivered,
                        dropped: metrics.total_dropped,
                    },
                );
            }
        }
        let checks = simulator.check_results();
        let expectations: Vec<ExpectationResult> = scenario
            .expectations
            .iter()
            .map(|expectation| evaluate(expectation, &checks, &nodes))
            .collect();
        let expectations_met = expectations.iter().all(|result| result.met);
        let snapshot_events = simulator.trace().count();
        RunReport {
            title: scenario.metadata.title.clone(),
            seed: simulator.seed(),
            digest: simulator.digest(),
            sim_time_us: simulator.now().as_micros(),
            events: simulator.events_processed(),
            trace_events: snapshot_events,
            wall_ms: 0,
            stop_reason: simulator
                .finished()
                .map_or("running", |reason| reason.as_str())
                .to_string(),
            checks,
            nodes,
            links,
            expectations,
            expectations_met,
        }
    }

    /// Human-readable form for the terminal.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "scenario: {}",
            if self.title.is_empty() {
                "(untitled)"
            } else {
                &self.title
            }
        );
        let _ = writeln!(text, "seed: {}  digest: {}", self.seed, &self.digest);
        let _ = writeln!(
            text,
            "sim time: {:.3}s  events: {}  trace events: {}  wall: {} ms  stop: {}",
            self.sim_time_us as f64 / 1e6,
            self.events,
            self.trace_events,
            self.wall_ms,
            self.stop_reason
        );
        let _ = writeln!(text, "checks:");
        for check in &self.checks {
            let status = match check.status {
                CheckStatus::Pass => "pass",
                CheckStatus::Fail => "FAIL",
                CheckStatus::Pending => "pending",
            };
            let property = format!("{:?}", check.property).to_lowercase();
            let _ = write!(text, "  {status:<7} {:<36} {property:<10}", check.name);
            if let Some(first_us) = check.first_violation_us {
                let _ = write!(
                    text,
                    " {} violation(s), first at {:.6}s: {}",
                    check.violations,
                    first_us as f64 / 1e6,
                    check.detail
                );
            }
            text.push('\n');
        }
        let _ = writeln!(text, "nodes:");
        for (name, values) in &self.nodes {
            let shown: Vec<String> = values
                .iter()
                .filter(|(_, value)| **value != 0.0)
                .map(|(key, value)| format!("{key}={}", format_number(*value)))
                .collect();
            let _ = writeln!(text, "  {name}: {}", shown.join(" "));
        }
        if !self.expectations.is_empty() {
            let _ = writeln!(text, "expectations:");
            for expectation in &self.expectations {
                let _ = writeln!(
                    text,
                    "  {} {} (actual: {})",
                    if expectation.met { "met   " } else { "NOT MET" },
                    expectation.expectation,
                    expectation.actual
                );
            }
        }
        text
    }
}

fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value:.4}")
    }
}

fn evaluate(
    expectation: &Expectation,
    checks: &[CheckResult],
    nodes: &BTreeMap<String, BTreeMap<String, f64>>,
) -> ExpectationResult {
    match expectation {
        Expectation::Check { name, status } => {
            let wanted = match status {
                ExpectedStatus::Pass => CheckStatus::Pass,
                ExpectedStatus::Fail => CheckStatus::Fail,
            };
            let actual = checks
                .iter()
                .find(|check| &check.name == name)
                .map(|check| check.status);
            ExpectationResult {
                expectation: format!(
                    "check {name} is {}",
                    if wanted == CheckStatus::Pass {
                        "pass"
                    } else {
                        "fail"
                    }
                ),
                met: actual == Some(wanted),
                actual: actual.map_or("no such check".to_string(), |status| {
                    format!("{status:?}").to_lowercase()
                }),
            }
        }
        Expectation::Metric { name, min, max } => {
            let value = name
                .split_once('.')
                .and_then(|(node, metric)| nodes.get(node)?.get(metric).copied());
            let met = value.is_some_and(|value| {
                min.is_none_or(|min| value >= min) && max.is_none_or(|max| value <= max)
            });
            let range = match (min, max) {
                (Some(min), Some(max)) => format!("in [{min}, {max}]"),
                (Some(min), None) => format!(">= {min}"),
                (None, Some(max)) => format!("<= {max}"),
                (None, None) => "present".to_string(),
            };
            ExpectationResult {
                expectation: format!("metric {name} {range}"),
                met,
                actual: value.map_or("no such metric".to_string(), format_number),
            }
        }
    }
}
