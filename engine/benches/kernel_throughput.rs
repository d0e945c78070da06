//! Benchmark: Faultline's kernel vs a bare BinaryHeap loop on the same M/M/1 model, side by side.
//!
//! Run with `cargo bench -p faultline-engine --bench kernel_throughput`.
//! The machine is small and noisy, so the two are interleaved over several
//! rounds and the report gives medians and their ratio, not absolute claims.
#![allow(clippy::disallowed_methods)] // wall-clock timing is the point of a benchmark

use faultline_engine::rng::SimRng;
use faultline_engine::{SimulatorOptions, Snapshot, parse_scenario, run_scenario};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

const SIMULATED_MS: u64 = 60_000;
const ROUNDS: usize = 5;

/// The same model with nothing but a heap: arrivals, a FIFO, one server.
/// Returns the number of events processed.
fn bare_mm1(seed: u64) -> u64 {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Kind {
        Arrival,
        Departure,
    }
    let mut rng = SimRng::for_stream(seed, 0);
    let mut exponential = |mean_us: f64| (-mean_us * libm::log(rng.next_f64_open_zero())) as u64;
    let mut heap = BinaryHeap::new();
    let mut sequence = 0u64;
    heap.push(Reverse((exponential(1_250.0), sequence, Kind::Arrival)));
    let (mut queue, mut busy, mut events) = (0u64, false, 0u64);
    let end_us = SIMULATED_MS * 1_000;
    while let Some(Reverse((time, _, kind))) = heap.pop() {
        if time > end_us {
            break;
        }
        events += 1;
        sequence += 1;
        match kind {
            Kind::Arrival => {
                heap.push(Reverse((
                    time + exponential(1_250.0),
                    sequence,
                    Kind::Arrival,
                )));
                if busy {
                    queue += 1;
                } else {
                    busy = true;
                    heap.push(Reverse((
                        time + exponential(1_000.0),
                        sequence,
                        Kind::Departure,
                    )));
                }
            }
            Kind::Departure => {
                if queue > 0 {
                    queue -= 1;
                    heap.push(Reverse((
                        time + exponential(1_000.0),
                        sequence,
                        Kind::Departure,
                    )));
                } else {
                    busy = false;
                }
            }
        }
    }
    events
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let text = include_str!("../../public/scenarios/mm1-queue.json");
    let scenario = parse_scenario(text).expect("example is valid");
    let mut faultline_rates = Vec::new();
    let mut bare_rates = Vec::new();
    let mut trace_events = 0;
    let mut snapshot_micros = Vec::new();
    for round in 0..ROUNDS {
        let options = SimulatorOptions {
            seed: Some(round as u64 + 1),
            duration: Some(faultline_engine::SimDuration::from_millis(SIMULATED_MS)),
            record_full_trace: false,
        };
        let started = Instant::now();
        let report = run_scenario(&scenario, options).expect("valid");
        let seconds = started.elapsed().as_secs_f64();
        faultline_rates.push(report.events as f64 / seconds);
        trace_events = report.trace_events;

        let started = Instant::now();
        let events = bare_mm1(round as u64 + 1);
        bare_rates.push(events as f64 / started.elapsed().as_secs_f64());

        // What one UI frame pays to publish state.
        let simulator = faultline_engine::Simulator::new(&scenario).expect("valid");
        let started = Instant::now();
        for _ in 0..100 {
            let snapshot: Snapshot = simulator.snapshot();
            std::hint::black_box(snapshot);
        }
        snapshot_micros.push(started.elapsed().as_secs_f64() * 1e6 / 100.0);
    }
    let faultline = median(&mut faultline_rates);
    let bare = median(&mut bare_rates);
    println!("M/M/1, {SIMULATED_MS} ms simulated, median of {ROUNDS} interleaved rounds");
    println!(
        "  faultline kernel (trace + digest + 4 checkers + metrics): {:>12.0} events/s ({trace_events} trace events per run)",
        faultline
    );
    println!(
        "  bare BinaryHeap loop, same model and PRNG:                {:>12.0} events/s",
        bare
    );
    println!("  ratio bare / faultline: {:.1}x", bare / faultline);
    println!(
        "  snapshot() for the UI: {:.1} us",
        median(&mut snapshot_micros)
    );
}
