//! Autoscaling: a load step overloads the one serving instance; the autoscaler
//! adds instances, which serve only after their cold start (requests queue
//! meanwhile), and removes them again only after the scale-down cool-down.

mod common;

use faultline_engine::{RunReport, Simulator, SimulatorOptions};
use serde_json::json;

#[test]
fn a_load_step_scales_out_after_the_cold_start_and_back_in_after_the_cooldown() {
    let seed = 71;
    let backend = |id: &str| {
        json!({"id": id, "kind": "service", "properties": {
            "service_name": "backend", "workers": 4, "queue_capacity_requests": 5000,
            "endpoints": [{"name": "work", "steps": [{"compute": {"service_time": {"exponential": {"mean_ms": 10.0}}}}]}]
        }})
    };
    let scenario = common::scenario(json!({
        "version": 1,
        "topology": {"nodes": [
            {"id": "client", "kind": "load_generator", "properties": {"request_timeout_ms": 30000, "max_outstanding": 100000}},
            {"id": "frontend", "kind": "service", "properties": {
                "workers": 10000, "queue_capacity_requests": 10000,
                "endpoints": [{"name": "page", "steps": [{"call": {"service": "backend"}}]}],
                "dependencies": [{"service": "backend", "load_balancer": "least_outstanding", "timeout_ms": 30000}]}},
            backend("backend-1"), backend("backend-2"), backend("backend-3"), backend("backend-4"),
            {"id": "hpa", "kind": "autoscaler", "properties": {
                "service": "backend", "min_instances": 1, "max_instances": 4,
                "target_utilisation_percent": 75.0, "evaluation_interval_ms": 1000,
                "scale_up_cooldown_ms": 3000, "scale_down_cooldown_ms": 20000, "cold_start_ms": 5000}}
        ]},
        "workload": {"streams": [{"id": "load", "client": "client", "target": "frontend",
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": 5.0}},
                "rate_profile": [{"at_ms": 10000, "multiplier": 4.0}, {"at_ms": 40000, "multiplier": 1.0}]}}}]},
        "run": {"seed": seed, "duration_ms": 80000, "sample_interval_ms": 1000}
    }));
    let mut simulator = Simulator::with_options(
        &scenario,
        SimulatorOptions {
            record_full_trace: true,
            ..Default::default()
        },
    )
    .expect("valid");
    simulator.run_to_end();
    let report = RunReport::from_simulator(&simulator);
    let lines = simulator.trace_mut().take_full_record().expect("recorded");
    let decisions: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains("state hpa autoscale"))
        .collect();
    for line in &decisions {
        eprintln!("{line}");
    }
    eprintln!("hpa: {:?}", report.nodes["hpa"]);
    eprintln!(
        "client p50 {} ms, p99 {} ms, max {} ms",
        report.nodes["client"]["latency_p50_ms"],
        report.nodes["client"]["latency_p99_ms"],
        report.nodes["client"]["latency_max_ms"]
    );
    assert!(
        count_calls(&lines, "backend-2", 0.0..10.0) == 0,
        "standby instances get no traffic before scaling (seed {seed})"
    );
    let scale_up = decisions
        .iter()
        .find(|line| line.contains("1 -> "))
        .unwrap_or_else(|| panic!("never scaled out (seed {seed})"));
    let decided_at = common::seconds(scale_up);
    assert!(
        (10.0..12.5).contains(&decided_at),
        "scale-out decided at {decided_at} s (seed {seed})"
    );
    let warmed = decisions
        .iter()
        .find(|line| line.contains("warmed up"))
        .unwrap_or_else(|| panic!("never warmed up (seed {seed})"));
    let warmed_at = common::seconds(warmed);
    assert!(
        (warmed_at - decided_at - 5.0).abs() < 1e-6,
        "serves exactly one cold start after the decision (seed {seed})"
    );
    assert_eq!(
        count_calls(&lines, "backend-2", decided_at..warmed_at),
        0,
        "a warming instance gets no traffic (seed {seed})"
    );
    assert!(count_calls(&lines, "backend-2", warmed_at + 0.1..40.0) > 500);
    assert!(report.nodes["hpa"]["most_serving_instances"] >= 3.0);
    let scale_in = decisions
        .iter()
        .find(|line| common::seconds(line) > 40.0 && !line.contains("warmed"))
        .unwrap_or_else(|| panic!("never scaled back in (seed {seed})"));
    let last_change_before = decisions
        .iter()
        .filter(|line| common::seconds(line) < 40.0 && !line.contains("warmed"))
        .map(|line| common::seconds(line))
        .fold(0.0, f64::max);
    assert!(
        common::seconds(scale_in) - last_change_before >= 20.0,
        "scale-in waits for the cool-down (seed {seed})"
    );
    assert!(
        report.nodes["hpa"]["serving_instances"] < report.nodes["hpa"]["most_serving_instances"]
    );
}

fn count_calls(lines: &[String], instance: &str, window: std::ops::Range<f64>) -> usize {
    common::count(
        lines,
        &["send", &format!("frontend->{instance}"), " call "],
        window,
    )
}
