//! The leader-election example hands leadership over twice (app-1, then app-3, then app-2 with its seed), as its description says. Every example's declared expectations are checked in `every_example_meets_its_expectations.rs`.

mod common;

use faultline_engine::Simulator;

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
