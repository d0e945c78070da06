//! Network and node faults behave as specified: each test is named after the failure mode it shows.
//!
//! The tests read the run's trace lines (the stable text form) because that is
//! the contract the CLI, the UI and users see.

mod common;

use common::count;

use faultline_engine::sim::{NodeStatus, SimulatorOptions};
use faultline_engine::{SimDuration, SimTime, Simulator, run_scenario};
use serde_json::{Value, json};

/// Client `a` sends to sink `b` every `gap_ms` (constant), over a link with `network`.
fn pair(
    network: Value,
    faults: Value,
    gap_ms: f64,
    duration_ms: u64,
) -> faultline_engine::Scenario {
    common::scenario(json!({
        "version": 1,
        "topology": {
            "nodes": [
                {"id": "a", "kind": "load_generator", "properties": {"request_timeout_ms": 300}},
                {"id": "b", "kind": "sink", "properties": {"workers": 4, "service_time": {"constant": {"value_ms": 1.0}}}}
            ],
            "links": [{"from": "a", "to": "b", "network": network}]
        },
        "workload": {"streams": [{"id": "s", "client": "a", "target": "b",
            "pattern": {"open_loop": {"inter_arrival": {"constant": {"value_ms": gap_ms}}}}}]},
        "faults": faults,
        "run": {"seed": 3, "duration_ms": duration_ms}
    }))
}

fn trace_lines(scenario: &faultline_engine::Scenario) -> Vec<String> {
    let mut simulator = Simulator::with_options(
        scenario,
        SimulatorOptions {
            record_full_trace: true,
            ..Default::default()
        },
    )
    .expect("valid");
    simulator.run_to_end();
    simulator.trace_mut().take_full_record().expect("recorded")
}

fn latency_ms(value_ms: f64) -> Value {
    json!({"latency": {"constant": {"value_ms": value_ms}}})
}

#[test]
fn symmetric_partition_drops_both_directions_until_heal() {
    let faults = json!({"timeline": [
        {"at_ms": 1000, "action": {"partition": {"groups": [["a"], ["b"]]}}},
        {"at_ms": 2000, "action": {"heal": {}}}
    ]});
    let lines = trace_lines(&pair(latency_ms(2.0), faults, 10.0, 3000));
    assert_eq!(
        count(&lines, &["deliver"], 1.0..2.0),
        0,
        "nothing crosses a partition"
    );
    assert_eq!(
        count(&lines, &["drop", "a->b", "reason=partition"], 1.0..2.0),
        100
    );
    assert!(
        count(&lines, &["deliver", "a->b"], 2.0..3.0) >= 99,
        "traffic resumes after heal"
    );
    assert!(count(&lines, &["deliver", "b->a"], 2.0..3.0) >= 99);
}

#[test]
fn one_way_partition_loses_responses_but_requests_still_arrive() {
    let faults = json!({"timeline": [
        {"at_ms": 1000, "action": {"partition_one_way": {"from": ["b"], "to": ["a"]}}},
        {"at_ms": 2000, "action": {"heal": {}}}
    ]});
    let lines = trace_lines(&pair(latency_ms(2.0), faults, 10.0, 3000));
    assert_eq!(
        count(&lines, &["deliver", "a->b"], 1.0..2.0),
        100,
        "requests still reach b"
    );
    assert_eq!(count(&lines, &["deliver", "b->a"], 1.0..2.0), 0);
    assert_eq!(
        count(&lines, &["drop", "b->a", "reason=partition"], 1.0..2.0),
        100,
        "every response is dropped"
    );
    // The client cannot tell a lost request from a lost answer: both are timeouts.
    assert_eq!(count(&lines, &["op a", "info timeout"], 1.3..2.3), 100);
}

#[test]
fn crashed_node_drops_deliveries_and_comes_back_on_restart() {
    let faults = json!({"timeline": [
        {"at_ms": 1000, "action": {"crash": {"node": "b"}}},
        {"at_ms": 2000, "action": {"restart": {"node": "b"}}}
    ]});
    let lines = trace_lines(&pair(latency_ms(2.0), faults, 10.0, 3000));
    assert_eq!(
        count(&lines, &["drop", "a->b", "reason=node_down"], 1.0..2.0),
        100
    );
    assert_eq!(
        count(&lines, &["deliver", "a->b"], 1.0..2.0),
        0,
        "b receives nothing while down"
    );
    assert_eq!(count(&lines, &[" start b"], 2.0..2.001), 1);
    assert_eq!(count(&lines, &["deliver", "a->b"], 2.0..3.0), 100);
}

#[test]
fn paused_node_handles_nothing_until_resume_then_everything_at_once() {
    let faults = json!({"timeline": [
        {"at_ms": 1000, "action": {"pause": {"node": "b"}}},
        {"at_ms": 1500, "action": {"resume": {"node": "b"}}}
    ]});
    let lines = trace_lines(&pair(latency_ms(2.0), faults, 10.0, 2500));
    assert_eq!(
        count(&lines, &["deliver", "a->b"], 1.0..1.5),
        0,
        "a paused node receives nothing"
    );
    assert_eq!(
        count(&lines, &["deliver", "a->b"], 1.5..1.500001),
        50,
        "the backlog is handled at resume"
    );
    assert_eq!(
        count(&lines, &["reason="], 0.0..2.5),
        0,
        "a pause loses nothing"
    );
}

#[test]
fn held_link_delays_messages_until_release_without_losing_them() {
    let faults = json!({"timeline": [
        {"at_ms": 1000, "action": {"hold_link": {"from": "a", "to": "b"}}},
        {"at_ms": 1100, "action": {"release_link": {"from": "a", "to": "b"}}}
    ]});
    let lines = trace_lines(&pair(latency_ms(2.0), faults, 10.0, 2000));
    let held = count(&lines, &["hold m", "a->b"], 1.0..1.1);
    assert_eq!(held, 10);
    assert_eq!(count(&lines, &["deliver", "a->b"], 1.0021..1.1), 0);
    // Released messages get a fresh latency from the release; the request sent
    // at 1.100 s itself (not held: release is a fault, so it ran first) joins them.
    assert_eq!(
        count(&lines, &["deliver", "a->b"], 1.1..1.1021),
        held + 1,
        "released messages arrive one latency after release"
    );
    assert_eq!(count(&lines, &["reason="], 0.0..2.0), 0);
}

#[test]
fn lossy_link_loses_about_its_probability() {
    let network = json!({"latency": {"constant": {"value_ms": 1.0}}, "loss_probability": 0.2});
    let report = run_scenario(
        &pair(network, json!({}), 1.0, 20_000),
        SimulatorOptions::default(),
    )
    .expect("valid");
    let link = &report.links["a<->b"];
    let loss_fraction = link.dropped as f64 / link.sent as f64;
    assert!(
        (loss_fraction - 0.2).abs() < 0.01,
        "loss fraction {loss_fraction} over {} messages",
        link.sent
    );
}

#[test]
fn duplicating_link_delivers_twice_and_that_is_not_a_violation() {
    let network = json!({"latency": {"constant": {"value_ms": 1.0}}, "duplicate_probability": 0.1});
    let scenario = pair(network, json!({}), 5.0, 5_000);
    let lines = trace_lines(&scenario);
    assert!(count(&lines, &["(duplicate)"], 0.0..5.0) > 100);
    let report = run_scenario(&scenario, SimulatorOptions::default()).expect("valid");
    let duplicates = report
        .checks
        .iter()
        .find(|check| check.name == "no_unexpected_duplicate_delivery")
        .expect("checker");
    assert_eq!(duplicates.violations, 0);
    assert!(
        report.nodes["a"]["late_responses"] > 0.0,
        "the client sees duplicate answers"
    );
}

fn delivery_order(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .filter(|line| {
            line.contains(" deliver m") && line.contains("a->b") && !line.contains("(duplicate)")
        })
        .filter_map(|line| {
            line.split(" deliver m")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn fifo_link_never_reorders_but_a_reordering_link_does() {
    let jittery = |reorder: f64| json!({"latency": {"uniform": {"low_ms": 0.0, "high_ms": 20.0}}, "reorder_probability": reorder});
    let fifo = delivery_order(&trace_lines(&pair(jittery(0.0), json!({}), 1.0, 2_000)));
    assert!(
        fifo.windows(2).all(|pair| pair[0] < pair[1]),
        "a FIFO link delivered out of order"
    );
    let reordering = delivery_order(&trace_lines(&pair(jittery(1.0), json!({}), 1.0, 2_000)));
    assert!(
        reordering.windows(2).any(|pair| pair[0] > pair[1]),
        "reorder_probability 1 never reordered"
    );
}

#[test]
fn narrow_bandwidth_serialises_messages_into_a_queue() {
    // 1 Mbps: a 256-byte request takes 2.048 ms to put on the wire; one every
    // 1 ms therefore queues up without bound at the sender's side of the link.
    let network = json!({"latency": {"constant": {"value_ms": 1.0}}, "bandwidth_mbps": 1.0});
    let report = run_scenario(
        &pair(network, json!({}), 1.0, 1_000),
        SimulatorOptions::default(),
    )
    .expect("valid");
    assert!(
        report.nodes["a"]["latency_p50_ms"] > 100.0,
        "p50 {}",
        report.nodes["a"]["latency_p50_ms"]
    );
    let fast = run_scenario(
        &pair(latency_ms(1.0), json!({}), 1.0, 1_000),
        SimulatorOptions::default(),
    )
    .expect("valid");
    assert!(fast.nodes["a"]["latency_p50_ms"] < 5.0);
}

#[test]
fn slow_node_multiplies_service_time() {
    let slow =
        json!({"timeline": [{"at_ms": 0, "action": {"slow": {"node": "b", "factor": 10.0}}}]});
    let normal = run_scenario(
        &pair(latency_ms(1.0), json!({}), 20.0, 2_000),
        SimulatorOptions::default(),
    )
    .expect("valid");
    let slowed = run_scenario(
        &pair(latency_ms(1.0), slow, 20.0, 2_000),
        SimulatorOptions::default(),
    )
    .expect("valid");
    let ratio = slowed.nodes["b"]["mean_sojourn_ms"] / normal.nodes["b"]["mean_sojourn_ms"];
    assert!((ratio - 10.0).abs() < 0.01, "slow x10 gave x{ratio}");
}

#[test]
fn clock_skew_changes_what_the_node_reads_not_simulated_time() {
    let faults = json!({"timeline": [{"at_ms": 1000, "action": {"clock_skew": {"node": "b", "offset_ms": -250.0, "drift_ppm": 1000.0}}}]});
    let mut simulator = Simulator::new(&pair(latency_ms(1.0), faults, 10.0, 3_000)).expect("valid");
    simulator.run_until(SimTime::from_millis(2_000));
    assert_eq!(simulator.now(), SimTime::from_millis(2_000));
    let snapshot = simulator.snapshot();
    let skewed = snapshot
        .nodes
        .iter()
        .find(|node| node.id == "b")
        .expect("b");
    // -250 ms offset, plus 1000 ppm of drift over the 1 s since: -249 ms.
    assert!(
        (skewed.clock_offset_ms + 249.0).abs() < 0.001,
        "offset {}",
        skewed.clock_offset_ms
    );
    assert_eq!(snapshot.nodes[0].clock_offset_ms, 0.0);
}

#[test]
fn live_injected_faults_replay_to_the_same_digest() {
    let scenario = pair(latency_ms(2.0), json!({}), 5.0, 4_000);
    let mut live = Simulator::new(&scenario).expect("valid");
    live.run_until(SimTime(1_234_567));
    let crash_at = live
        .inject(faultline_engine::scenario::FaultAction::Crash { node: "b".into() })
        .expect("valid fault");
    assert_eq!(
        crash_at,
        SimTime::from_millis(1_235),
        "live faults apply at the next millisecond"
    );
    live.run_until(SimTime(2_500_001));
    live.inject(faultline_engine::scenario::FaultAction::Restart { node: "b".into() })
        .expect("valid fault");
    live.run_to_end();
    assert_eq!(
        live.node_status(live.node_id("b").expect("b")),
        Some(NodeStatus::Up)
    );

    let mut replay = scenario.clone();
    replay.faults.timeline = live.live_faults().to_vec();
    let replayed = run_scenario(&replay, SimulatorOptions::default()).expect("valid");
    assert_eq!(
        replayed.digest,
        live.digest(),
        "recorded live faults must replay exactly"
    );
}

#[test]
fn event_budget_stops_the_run_and_says_so() {
    let mut scenario = pair(latency_ms(1.0), json!({}), 1.0, 10_000);
    scenario.run.max_events = 1_000;
    let report = run_scenario(&scenario, SimulatorOptions::default()).expect("valid");
    assert_eq!(report.stop_reason, "event_budget_exhausted");
    assert_eq!(report.events, 1_000);
}

#[test]
fn bounded_advance_never_exceeds_its_budget() {
    let mut simulator =
        Simulator::new(&pair(latency_ms(1.0), json!({}), 0.01, 10_000)).expect("valid");
    let progress = simulator.advance(SimTime::from_millis(10_000), 5_000);
    assert_eq!(progress.events_processed, 5_000);
    assert!(
        simulator.now() < SimTime::from_millis(1_000),
        "the clock only moves as far as the events run"
    );
    let rest = simulator.advance(simulator.now().plus(SimDuration::from_micros(1)), 5_000);
    assert!(rest.events_processed <= 5_000);
}

#[test]
fn nemesis_plan_is_a_function_of_the_seed_and_heals_before_the_quiet_tail() {
    let scenario = common::example("closed-loop-nemesis");
    let nemesis = scenario
        .faults
        .nemesis
        .clone()
        .expect("example has a nemesis");
    let plan = |seed| faultline_engine::fault::nemesis_plan(&scenario, &nemesis, seed, 60_000);
    assert_eq!(plan(1), plan(1));
    assert_ne!(plan(1), plan(2));
    for seed in 1..50 {
        let faults = plan(seed);
        assert!(!faults.is_empty());
        assert!(
            faults.iter().all(|fault| fault.at_ms <= 48_000),
            "seed {seed}: a fault after the 80% mark"
        );
        let crashes = faults
            .iter()
            .filter(|fault| fault.action.verb() == "crash")
            .count();
        let restarts = faults
            .iter()
            .filter(|fault| fault.action.verb() == "restart")
            .count();
        assert_eq!(crashes, restarts, "seed {seed}: every crash is undone");
    }
}

/// A violation of one property must not make `trace_time_monotonic` fail:
/// violation lines are in the trace but are not shown to the checkers.
#[test]
fn another_checkers_violation_does_not_break_trace_time_monotonic() {
    let faults = json!({"timeline": [{"at_ms": 501, "action": {"pause": {"node": "a"}}}]});
    let report = run_scenario(
        &pair(latency_ms(1.0), faults, 10.0, 3_000),
        SimulatorOptions::default(),
    )
    .expect("valid");
    let status = |name: &str| {
        report
            .checks
            .iter()
            .find(|check| check.name == name)
            .map(|check| check.status)
    };
    use faultline_engine::checkers::CheckStatus;
    assert_eq!(
        status("requests_eventually_resolved"),
        Some(CheckStatus::Fail),
        "a paused client never resolves its requests"
    );
    assert_eq!(status("trace_time_monotonic"), Some(CheckStatus::Pass));
}
