//! Benchmark: seeking back by re-running from t = 0 vs from the latest seek
//! checkpoint (`checkpoint::SeekCheckpoints`), on the longest examples.
//!
//! Run with `cargo bench -p faultline-engine --bench seek_checkpoints`.
//! For each example the run is played to its end observing checkpoints as
//! the app's hosts do (every 2,000-event chunk), then seeks to 25%, 50% and
//! 90% of the run are timed both ways, interleaved over several rounds;
//! the report gives medians and their ratio, plus what the checkpoints cost
//! (copies taken, time to copy the run once).
#![allow(clippy::disallowed_methods)] // wall-clock timing is the point of a benchmark

use faultline_engine::checkpoint::SeekCheckpoints;
use faultline_engine::scenario::parse_scenario;
use faultline_engine::{SimTime, Simulator};
use std::time::Instant;

const ROUNDS: usize = 5;
const CHUNK_EVENTS: u64 = 2_000;

const EXAMPLES: &[(&str, &str)] = &[
    (
        "retry-storm",
        include_str!("../../public/scenarios/retry-storm.json"),
    ),
    (
        "mm1-queue",
        include_str!("../../public/scenarios/mm1-queue.json"),
    ),
    (
        "kafka-durability-acks",
        include_str!("../../public/scenarios/kafka-durability-acks.json"),
    ),
    (
        "raft-election-under-partition",
        include_str!("../../public/scenarios/raft-election-under-partition.json"),
    ),
    (
        "circuit-breaker-cascade",
        include_str!("../../public/scenarios/circuit-breaker-cascade.json"),
    ),
];

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    println!(
        "{:<32} {:>7} {:>10} {:>12} {:>14} {:>8} {:>11} {:>9}",
        "example",
        "target",
        "events",
        "from_t0_ms",
        "checkpoint_ms",
        "ratio",
        "copies_kept",
        "copy_ms"
    );
    for (name, text) in EXAMPLES {
        let scenario = parse_scenario(text).expect("valid example");
        let end = SimTime::from_millis(scenario.run.duration_ms);
        let mut simulator = Simulator::new(&scenario).expect("valid");
        let mut checkpoints = SeekCheckpoints::default();
        let mut copies_taken = 0usize;
        loop {
            let before = checkpoints.times();
            let progress = simulator.advance(end, CHUNK_EVENTS);
            checkpoints.observe(&simulator);
            if checkpoints.times() != before {
                copies_taken += 1;
            }
            if progress.finished.is_some() || progress.now >= end {
                break;
            }
        }
        let mut copy_ms = Vec::new();
        for _ in 0..ROUNDS {
            let started = Instant::now();
            let copy = simulator.clone();
            copy_ms.push(started.elapsed().as_secs_f64() * 1_000.0);
            drop(copy);
        }
        let copy_ms = median(&mut copy_ms);
        for percent in [25u64, 50, 90] {
            let target = SimTime(end.as_micros() * percent / 100);
            let (mut fresh_ms, mut restored_ms) = (Vec::new(), Vec::new());
            let mut events = 0;
            for _ in 0..ROUNDS {
                let started = Instant::now();
                let mut fresh = Simulator::new(&scenario).expect("valid");
                fresh.run_until(target);
                fresh_ms.push(started.elapsed().as_secs_f64() * 1_000.0);
                events = fresh.events_processed();
                let digest = fresh.digest();
                drop(fresh);

                let started = Instant::now();
                let mut restored = checkpoints
                    .restore_at_or_before(target)
                    .unwrap_or_else(|| Simulator::new(&scenario).expect("valid"));
                restored.run_until(target);
                restored_ms.push(started.elapsed().as_secs_f64() * 1_000.0);
                assert_eq!(restored.digest(), digest, "{name}: same state both ways");
            }
            let (fresh_ms, restored_ms) = (median(&mut fresh_ms), median(&mut restored_ms));
            println!(
                "{:<32} {:>6}% {:>10} {:>12.2} {:>14.2} {:>7.1}x {:>11} {:>9.2}",
                name,
                percent,
                events,
                fresh_ms,
                restored_ms,
                fresh_ms / restored_ms.max(1e-6),
                format!("{}/{}", checkpoints.len(), copies_taken),
                copy_ms
            );
        }
    }
}
