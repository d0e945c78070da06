//! Per-node and per-link time series, sampled every `sample_interval_ms` into bounded ring buffers.
//!
//! Latency percentiles come from HdrHistogram (3 significant digits, 1 µs to
//! 1 h): one histogram per interval for the live charts, one per run for the
//! report. Memory is fixed: at most `MAX_METRIC_SAMPLES` samples per series.

use crate::scenario::limits::MAX_METRIC_SAMPLES;
use crate::time::{SimDuration, SimTime};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Highest latency tracked exactly; larger values are clamped (one hour).
const MAX_TRACKED_LATENCY_US: u64 = 3_600_000_000;

fn new_histogram() -> Histogram<u64> {
    // Bounds are constants that hdrhistogram accepts; failure would be a bug here.
    Histogram::new_with_bounds(1, MAX_TRACKED_LATENCY_US, 3).expect("valid histogram bounds")
}

fn percentile_ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    if histogram.is_empty() {
        0.0
    } else {
        histogram.value_at_quantile(quantile) as f64 / 1_000.0
    }
}

/// One sampling interval of a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeSample {
    pub time_us: u64,
    pub throughput_per_s: f64,
    pub errors_per_s: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    pub queue_depth: u64,
}

/// One sampling interval of a link (both directions together).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkSample {
    pub time_us: u64,
    pub sent_per_s: f64,
    pub delivered_per_s: f64,
    pub dropped_per_s: f64,
}

#[derive(Clone)]
pub struct NodeMetrics {
    interval_completed: u64,
    interval_errors: u64,
    interval_latency: Histogram<u64>,
    pub total_completed: u64,
    pub total_errors: u64,
    pub errors_by_kind: BTreeMap<&'static str, u64>,
    run_latency: Histogram<u64>,
    pub series: VecDeque<NodeSample>,
}

impl NodeMetrics {
    fn new() -> NodeMetrics {
        NodeMetrics {
            interval_completed: 0,
            interval_errors: 0,
            interval_latency: new_histogram(),
            total_completed: 0,
            total_errors: 0,
            errors_by_kind: BTreeMap::new(),
            run_latency: new_histogram(),
            series: VecDeque::new(),
        }
    }

    pub fn record_completion(&mut self, latency: SimDuration) {
        let micros = latency.as_micros().clamp(1, MAX_TRACKED_LATENCY_US);
        self.interval_completed += 1;
        self.total_completed += 1;
        self.interval_latency.saturating_record(micros);
        self.run_latency.saturating_record(micros);
    }

    pub fn record_error(&mut self, kind: &'static str) {
        self.interval_errors += 1;
        self.total_errors += 1;
        *self.errors_by_kind.entry(kind).or_default() += 1;
    }

    /// Run-wide latency percentiles in ms: (p50, p95, p99, max).
    pub fn run_latency_ms(&self) -> (f64, f64, f64, f64) {
        let histogram = &self.run_latency;
        let max = if histogram.is_empty() {
            0.0
        } else {
            histogram.max() as f64 / 1_000.0
        };
        (
            percentile_ms(histogram, 0.50),
            percentile_ms(histogram, 0.95),
            percentile_ms(histogram, 0.99),
            max,
        )
    }
}

#[derive(Clone, Default)]
pub struct LinkMetrics {
    interval_sent: u64,
    interval_delivered: u64,
    interval_dropped: u64,
    pub total_sent: u64,
    pub total_delivered: u64,
    pub total_dropped: u64,
    pub series: VecDeque<LinkSample>,
}

impl LinkMetrics {
    pub fn record_sent(&mut self) {
        self.interval_sent += 1;
        self.total_sent += 1;
    }
    pub fn record_delivered(&mut self) {
        self.interval_delivered += 1;
        self.total_delivered += 1;
    }
    pub fn record_dropped(&mut self) {
        self.interval_dropped += 1;
        self.total_dropped += 1;
    }
}

fn push_bounded<T>(series: &mut VecDeque<T>, sample: T) {
    if series.len() == MAX_METRIC_SAMPLES {
        series.pop_front();
    }
    series.push_back(sample);
}

#[derive(Clone)]
pub struct Metrics {
    pub nodes: Vec<NodeMetrics>,
    pub links: Vec<LinkMetrics>,
    pub interval: SimDuration,
}

impl Metrics {
    pub fn new(node_count: usize, link_count: usize, interval: SimDuration) -> Metrics {
        Metrics {
            nodes: (0..node_count).map(|_| NodeMetrics::new()).collect(),
            links: (0..link_count).map(|_| LinkMetrics::default()).collect(),
            interval,
        }
    }

    /// Closes the interval ending at `now`. `queue_depths[i]` is node i's queue now.
    pub fn sample(&mut self, now: SimTime, queue_depths: &[u64]) {
        let seconds = self.interval.as_secs_f64().max(1e-9);
        for (node, queue_depth) in self.nodes.iter_mut().zip(queue_depths) {
            let histogram = &node.interval_latency;
            let sample = NodeSample {
                time_us: now.as_micros(),
                throughput_per_s: node.interval_completed as f64 / seconds,
                errors_per_s: node.interval_errors as f64 / seconds,
                latency_p50_ms: percentile_ms(histogram, 0.50),
                latency_p95_ms: percentile_ms(histogram, 0.95),
                latency_p99_ms: percentile_ms(histogram, 0.99),
                latency_max_ms: if histogram.is_empty() {
                    0.0
                } else {
                    histogram.max() as f64 / 1_000.0
                },
                queue_depth: *queue_depth,
            };
            push_bounded(&mut node.series, sample);
            node.interval_completed = 0;
            node.interval_errors = 0;
            node.interval_latency.reset();
        }
        for link in &mut self.links {
            let sample = LinkSample {
                time_us: now.as_micros(),
                sent_per_s: link.interval_sent as f64 / seconds,
                delivered_per_s: link.interval_delivered as f64 / seconds,
                dropped_per_s: link.interval_dropped as f64 / seconds,
            };
            push_bounded(&mut link.series, sample);
            link.interval_sent = 0;
            link.interval_delivered = 0;
            link.interval_dropped = 0;
        }
    }
}
