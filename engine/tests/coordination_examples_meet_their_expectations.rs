//! The coordination slice's examples in `public/scenarios/` do what their descriptions say: every expectation they declare holds, and the leader-election example hands leadership over twice (app-1, then app-3, then app-2 with its seed).

mod common;

use faultline_engine::Simulator;
use faultline_engine::report::RunReport;

const COORDINATION_EXAMPLES: [&str; 6] = [
    "zookeeper-leader-election",
    "lock-with-and-without-fencing",
    "cron-double-fire",
    "cache-stampede",
    "cache-aside-vs-write-through",
    "snowflake-clock-skew",
];

#[test]
fn every_coordination_example_meets_its_expectations() {
    for name in COORDINATION_EXAMPLES {
        let scenario = common::example(name);
        let mut simulator = Simulator::new(&scenario).expect("valid");
        simulator.run_to_end();
        let report = RunReport::from_simulator(&simulator);
        let unmet: Vec<String> = report
            .expectations
            .iter()
            .filter(|result| !result.met)
            .map(|result| format!("{} (actual {})", result.expectation, result.actual))
            .collect();
        assert!(
            unmet.is_empty(),
            "{name}, seed {}: unmet expectations {unmet:?}",
            report.seed
        );
    }
}

#[test]
fn the_election_example_hands_leadership_over_twice() {
    let scenario = common::example("zookeeper-leader-election");
    let mut simulator = Simulator::with_options(
        &scenario,
        faultline_engine::sim::SimulatorOptions {
            record_full_trace: true,
            ..Default::default()
        },
    )
    .expect("valid");
    simulator.run_to_end();
    let seed = simulator.seed();
    let lines = simulator.trace_mut().take_full_record().unwrap_or_default();
    let leaders: Vec<String> = lines
        .iter()
        .filter(|line| line.contains(" leader /election token="))
        .filter_map(|line| {
            line.split(" fact ")
                .nth(1)?
                .split(' ')
                .next()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(
        leaders.first().map(String::as_str),
        Some("app-1"),
        "seed {seed}: {leaders:?}"
    );
    assert!(
        leaders.contains(&"app-2".to_string()),
        "seed {seed}: {leaders:?}"
    );
    assert!(
        leaders.contains(&"app-3".to_string()),
        "seed {seed}: {leaders:?}"
    );
}
