//! The metric series behind the live charts: consumer lag is sampled with the
//! queue depth at every interval, the whole-system series counts a request
//! once (at the entry node), link series carry the network delay, and a
//! chart asks only for the samples it does not have yet.

mod common;

use common::example;
use faultline_engine::metrics::{ChartSeriesSamples, ChartSubject, NodeSample, SystemSample};
use faultline_engine::{SimTime, Simulator};

fn node_series(simulator: &Simulator, id: &str) -> Vec<NodeSample> {
    match simulator.chart_samples(&ChartSubject::Node { id: id.into() }, None, usize::MAX) {
        ChartSeriesSamples::Node(samples) => samples,
        other => panic!("{id}: expected a node series, got {other:?}"),
    }
}

fn system_series(simulator: &Simulator) -> Vec<SystemSample> {
    match simulator.chart_samples(&ChartSubject::System, None, usize::MAX) {
        ChartSeriesSamples::System(samples) => samples,
        other => panic!("expected the system series, got {other:?}"),
    }
}

#[test]
fn consumer_lag_is_sampled_for_consumers_and_absent_elsewhere() {
    let scenario = example("kafka-consumer-group-rebalance");
    let seed = scenario.run.seed;
    let mut simulator = Simulator::new(&scenario).expect("valid example");
    simulator.run_until(SimTime::from_millis(20_000));
    let consumer = node_series(&simulator, "consumer-1");
    assert_eq!(consumer.len(), 80, "seed {seed}: 20 s at 250 ms");
    // Up consumers report a lag (a crashed one reports none, as its badge).
    let reported = consumer
        .iter()
        .filter(|sample| sample.consumer_lag.is_some())
        .count();
    assert!(
        reported >= 40,
        "seed {seed}: consumer-1 reported lag in {reported} of 80 samples"
    );
    assert!(
        consumer
            .iter()
            .any(|sample| sample.consumer_lag.is_some_and(|lag| lag > 0)),
        "seed {seed}: a consumer behind a producer shows some lag at some point"
    );
    let broker = node_series(&simulator, "broker-1");
    assert!(
        broker.iter().all(|sample| sample.consumer_lag.is_none()),
        "seed {seed}: a broker is not a consumer"
    );
    // The system's lag is the sum over the consumers at each sample.
    let system = system_series(&simulator);
    let consumers: Vec<Vec<NodeSample>> = ["consumer-1", "consumer-2", "consumer-3"]
        .iter()
        .map(|id| node_series(&simulator, id))
        .collect();
    for (index, sample) in system.iter().enumerate() {
        let summed = consumers
            .iter()
            .filter_map(|series| series[index].consumer_lag)
            .reduce(|a, b| a + b);
        assert_eq!(
            sample.consumer_lag, summed,
            "seed {seed}: system lag at {} µs",
            sample.time_us
        );
    }
}

#[test]
fn whole_system_throughput_counts_each_request_once_at_the_entry_node() {
    // clients → frontend → backend-1/2: the frontend and backends also record
    // completions; the system series counts only the load generator's.
    let scenario = example("retry-storm");
    let seed = scenario.run.seed;
    let mut simulator = Simulator::new(&scenario).expect("valid example");
    simulator.run_until(SimTime::from_millis(10_000));
    let clients = node_series(&simulator, "clients");
    let frontend = node_series(&simulator, "frontend");
    let system = system_series(&simulator);
    assert_eq!(system.len(), clients.len());
    for (system, clients) in system.iter().zip(&clients) {
        assert_eq!(
            system.throughput_per_s, clients.throughput_per_s,
            "seed {seed}"
        );
        assert_eq!(system.errors_per_s, clients.errors_per_s, "seed {seed}");
        assert_eq!(system.latency_p99_ms, clients.latency_p99_ms, "seed {seed}");
    }
    let system_total: f64 = system.iter().map(|sample| sample.throughput_per_s).sum();
    let all_nodes_total: f64 = clients
        .iter()
        .chain(&frontend)
        .map(|sample| sample.throughput_per_s)
        .sum();
    assert!(
        system_total > 0.0 && system_total < all_nodes_total,
        "seed {seed}: entry-node throughput {system_total} is below the all-node sum {all_nodes_total}"
    );
    // Queue depth is summed over every node.
    let queue_sum: u64 = ["clients", "frontend", "backend-1", "backend-2"]
        .iter()
        .map(|id| {
            node_series(&simulator, id)
                .last()
                .expect("sample")
                .queue_depth
        })
        .sum();
    assert_eq!(
        system.last().expect("sample").queue_depth,
        queue_sum,
        "seed {seed}"
    );
}

#[test]
fn link_series_carry_the_one_way_network_delay() {
    let scenario = example("retry-storm");
    let seed = scenario.run.seed;
    let mut simulator = Simulator::new(&scenario).expect("valid example");
    simulator.run_until(SimTime::from_millis(5_000));
    let ChartSeriesSamples::Link(samples) = simulator.chart_samples(
        &ChartSubject::Link {
            // Either order names the link.
            from: "frontend".into(),
            to: "clients".into(),
        },
        None,
        usize::MAX,
    ) else {
        panic!("seed {seed}: expected a link series");
    };
    assert_eq!(samples.len(), 20, "seed {seed}: 5 s at 250 ms");
    let busy: Vec<_> = samples
        .iter()
        .filter(|sample| sample.delivered_per_s > 0.0)
        .collect();
    assert!(!busy.is_empty(), "seed {seed}: traffic on clients–frontend");
    for sample in busy {
        assert!(
            sample.delay_mean_ms > 0.0 && sample.delay_mean_ms <= sample.delay_max_ms,
            "seed {seed}: mean {} ≤ max {} at {} µs",
            sample.delay_mean_ms,
            sample.delay_max_ms,
            sample.time_us
        );
    }
}

#[test]
fn a_chart_gets_only_the_samples_after_what_it_has() {
    let scenario = example("retry-storm");
    let mut simulator = Simulator::new(&scenario).expect("valid example");
    simulator.run_until(SimTime::from_millis(3_000));
    let subject = ChartSubject::Node {
        id: "frontend".into(),
    };
    let all = simulator.chart_samples(&subject, None, usize::MAX);
    assert_eq!(all.len(), 12);
    let after = simulator.chart_samples(&subject, Some(2_000_000), usize::MAX);
    assert_eq!(after.len(), 4, "2.25, 2.5, 2.75 and 3.0 s");
    let ChartSeriesSamples::Node(after) = after else {
        panic!("expected a node series");
    };
    assert_eq!(after[0].time_us, 2_250_000);
    let capped = simulator.chart_samples(&subject, None, 5);
    assert_eq!(
        capped.len(),
        5,
        "the oldest five, the rest in the next delta"
    );
    assert_eq!(capped.last_time_us(), Some(1_250_000));
    // A node the run does not have falls back to the whole system.
    let missing = simulator.chart_samples(&ChartSubject::Node { id: "gone".into() }, None, 3);
    assert!(matches!(missing, ChartSeriesSamples::System(ref samples) if samples.len() == 3));
}
