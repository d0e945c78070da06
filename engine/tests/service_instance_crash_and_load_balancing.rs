//! Load balancing across service instances: a crashed instance keeps eating a
//! share of calls (timeouts) until active health checks take it out; the
//! balancing policies spread load as they promise; consistent hashing pins a
//! key to one instance; the worker pool, queue bound, bulkhead, rate limiter
//! and load shedding refuse work as events and metrics, never silently.

mod common;

use faultline_engine::{RunReport, Simulator, SimulatorOptions};
use serde_json::{Value, json};

fn three_instances(
    dependency: Value,
    faults: Value,
    rate_ms: f64,
    duration_ms: u64,
    seed: u64,
) -> (RunReport, Vec<String>) {
    let backend = |id: &str| {
        json!({"id": id, "kind": "service", "properties": {
            "service_name": "backend", "workers": 8, "queue_capacity_requests": 100,
            "endpoints": [{"name": "work", "steps": [{"compute": {"service_time": {"exponential": {"mean_ms": 2.0}}}}]}]
        }})
    };
    let scenario = common::scenario(json!({
        "version": 1,
        "topology": {
            "nodes": [
                {"id": "client", "kind": "load_generator", "properties": {"request_timeout_ms": 5000}},
                {"id": "frontend", "kind": "service", "properties": {
                    "workers": 1000, "queue_capacity_requests": 1000,
                    "endpoints": [{"name": "page", "key_count": 50, "steps": [{"call": {"service": "backend"}}]}],
                    "dependencies": [dependency]
                }},
                backend("backend-1"), backend("backend-2"), backend("backend-3")
            ],
            "default_network": {"latency": {"constant": {"value_ms": 0.5}}}
        },
        "workload": {"streams": [{"id": "load", "client": "client", "target": "frontend",
            "pattern": {"open_loop": {"inter_arrival": {"exponential": {"mean_ms": rate_ms}}}}}]},
        "faults": faults,
        "run": {"seed": seed, "duration_ms": duration_ms, "sample_interval_ms": 1000}
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
    (report, lines)
}

fn crash_backend_2() -> Value {
    json!({"timeline": [{"at_ms": 2000, "action": {"crash": {"node": "backend-2"}}}]})
}

#[test]
fn a_crashed_instance_times_out_a_third_of_calls_until_health_checks_remove_it() {
    let seed = 41;
    // Without health checks, round robin keeps sending a third of calls to the dead instance.
    let (report, lines) = three_instances(
        json!({"service": "backend", "timeout_ms": 200}),
        crash_backend_2(),
        5.0,
        6_000,
        seed,
    );
    let to_dead = common::count(&lines, &["send", "frontend->backend-2", " call "], 3.0..6.0);
    let to_all = common::count(&lines, &["send", "frontend->backend-", " call "], 3.0..6.0);
    let share = to_dead as f64 / to_all as f64;
    eprintln!(
        "no health checks: {:.1}% of calls after the crash go to the dead instance, {} call timeouts",
        share * 100.0,
        report.nodes["frontend"]["call_timeouts"]
    );
    assert!(
        (0.3..0.37).contains(&share),
        "round robin share {share} (seed {seed})"
    );

    let (report, lines) = three_instances(
        json!({"service": "backend", "timeout_ms": 200,
            "health_check": {"interval_ms": 200, "timeout_ms": 100, "unhealthy_threshold": 2, "healthy_threshold": 2}}),
        crash_backend_2(),
        5.0,
        6_000,
        seed,
    );
    let removed = lines
        .iter()
        .find(|line| line.contains("backend-2 unhealthy"))
        .unwrap_or_else(|| panic!("health check never removed backend-2 (seed {seed})"));
    let removed_at = common::seconds(removed);
    eprintln!("health checks: {removed}");
    // Two failed probes: probes at 2.2 s and 2.4 s time out 100 ms later.
    assert!(
        (2.2..2.8).contains(&removed_at),
        "removed at {removed_at} s (seed {seed})"
    );
    assert_eq!(
        common::count(
            &lines,
            &["send", "frontend->backend-2", " call "],
            removed_at..6.0
        ),
        0,
        "no call reaches the dead instance once it is out (seed {seed})"
    );
    assert!(report.nodes["frontend"]["call_timeouts"] < 150.0);
}

#[test]
fn a_restarted_instance_comes_back_after_healthy_threshold_probes() {
    let seed = 42;
    let faults = json!({"timeline": [
        {"at_ms": 2000, "action": {"crash": {"node": "backend-2"}}},
        {"at_ms": 4000, "action": {"restart": {"node": "backend-2"}}}
    ]});
    let (_, lines) = three_instances(
        json!({"service": "backend", "timeout_ms": 200, "load_balancer": "least_outstanding",
            "health_check": {"interval_ms": 200, "timeout_ms": 100, "unhealthy_threshold": 2, "healthy_threshold": 3}}),
        faults,
        5.0,
        8_000,
        seed,
    );
    let back = lines
        .iter()
        .find(|line| line.contains("backend-2 healthy again"))
        .unwrap_or_else(|| panic!("backend-2 never came back (seed {seed})"));
    let back_at = common::seconds(back);
    assert!(
        (4.4..5.0).contains(&back_at),
        "back at {back_at} s (seed {seed})"
    );
    assert!(
        common::count(
            &lines,
            &["send", "frontend->backend-2", " call "],
            back_at..8.0
        ) > 100
    );
}

#[test]
fn consistent_hash_sends_each_key_to_one_instance_and_spreads_keys() {
    let seed = 43;
    let (_, lines) = three_instances(
        json!({"service": "backend", "load_balancer": "consistent_hash"}),
        json!({}),
        2.0,
        4_000,
        seed,
    );
    let mut owner: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    let mut per_instance: std::collections::BTreeMap<String, usize> =
        std::collections::BTreeMap::new();
    for line in lines
        .iter()
        .filter(|line| line.contains(" send ") && line.contains(" call "))
    {
        let instance = line
            .split("frontend->")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap()
            .to_string();
        let key = line.split("key=").nth(1).unwrap().to_string();
        *per_instance.entry(instance.clone()).or_default() += 1;
        let first = owner.entry(key.clone()).or_insert_with(|| instance.clone());
        assert_eq!(
            first, &instance,
            "key {key} moved between instances (seed {seed})"
        );
    }
    eprintln!("calls per instance: {per_instance:?}, {} keys", owner.len());
    assert_eq!(owner.len(), 50);
    assert_eq!(
        per_instance.len(),
        3,
        "every instance owns some keys (seed {seed})"
    );
}

#[test]
fn power_of_two_choices_and_least_outstanding_beat_random_on_tail_latency() {
    let seed = 44;
    let mut p99 = Vec::new();
    // 3 × 8 workers at 2 ms: 12000/s capacity; 1/0.095 ms ≈ 10500/s offered (~88%).
    for policy in [
        "random",
        "round_robin",
        "power_of_two_choices",
        "least_outstanding",
    ] {
        let (report, _) = three_instances(
            json!({"service": "backend", "load_balancer": policy}),
            json!({}),
            0.095,
            3_000,
            seed,
        );
        let latency = report.nodes["client"]["latency_p99_ms"];
        eprintln!(
            "{policy:<22} client p99 {latency:.3} ms, mean {:.3} ms",
            report.nodes["client"]["mean_latency_ms"]
        );
        p99.push((policy, latency));
    }
    assert!(
        p99[2].1 <= p99[0].1,
        "P2C p99 not above random (seed {seed}): {p99:?}"
    );
    assert!(
        p99[3].1 <= p99[0].1,
        "least outstanding p99 not above random (seed {seed}): {p99:?}"
    );
}
