//! The replicated-database examples in `public/scenarios/` do what their descriptions say: every expectation they declare holds (S1 loses acknowledged writes; Raft refuses on the minority side while Dynamo accepts on both; LWW under clock skew drops writes; consistent hashing spreads keys and a hot key does not split; adding a shard moves a fifth of the keys without losing a write).

mod common;

use faultline_engine::Simulator;
use faultline_engine::report::RunReport;

const DATABASE_EXAMPLES: [&str; 5] = [
    "redis-sentinel-async-failover",
    "cap-cp-vs-ap-under-partition",
    "dynamo-n3-r2-w2",
    "sharded-kv-store",
    "resharding-add-a-shard",
];

#[test]
fn every_database_example_meets_its_expectations() {
    for name in DATABASE_EXAMPLES {
        let scenario = common::example(name);
        assert!(
            !scenario.expectations.is_empty(),
            "{name} declares no expectations"
        );
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
