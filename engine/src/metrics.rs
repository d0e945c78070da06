//! Per-node and per-link time series, sampled every `sample_interval_ms` into bounded ring buffers.
//!
//! Latency percentiles come from HdrHistogram (3 significant digits, 1 µs to
//! 1 h): one histogram per interval for the live charts, one per run for the
//! report. Memory is fixed: at most `MAX_METRIC_SAMPLES` samples per series.
//!
//! Besides one series per node and per link there is one for the whole system
//! (`SystemSample`): completions at the entry nodes (nodes no declared link
//! points into: load generators, producers, clients), so a request that
//! crosses three services counts once, plus the queue depth and consumer lag
//! summed over every node. `chart_samples` hands the live charts the part of
//! one series they do not have yet.

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
    /// Records the node's consumer has not read yet, when it is a consumer
    /// that is up (`NodeLiveStatus::consumer_lag` at the sampling moment).
    #[serde(default)]
    pub consumer_lag: Option<u64>,
}

/// One sampling interval of a link (both directions together).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkSample {
    pub time_us: u64,
    pub sent_per_s: f64,
    pub delivered_per_s: f64,
    pub dropped_per_s: f64,
    /// Mean one-way network delay of the messages delivered in the interval
    /// (0 when none was). A mean and a max, not percentiles: a histogram per
    /// link would cost ~190 KB each.
    #[serde(default)]
    pub delay_mean_ms: f64,
    #[serde(default)]
    pub delay_max_ms: f64,
}

/// One sampling interval of the whole system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SystemSample {
    pub time_us: u64,
    /// Completions recorded by entry nodes, per second.
    pub throughput_per_s: f64,
    /// Errors recorded by entry nodes, per second.
    pub errors_per_s: f64,
    /// Latency percentiles over the entry nodes' completions in the interval.
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    /// Queue depth summed over every node.
    pub queue_depth: u64,
    /// Consumer lag summed over the consumers that report one (None: none does).
    pub consumer_lag: Option<u64>,
}

/// What a node reports at a sampling moment besides its counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeGauges {
    pub queue_depth: u64,
    pub consumer_lag: Option<u64>,
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
    interval_delay_sum_us: u64,
    interval_delay_max_us: u64,
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
    pub fn record_delivered(&mut self, delay: SimDuration) {
        self.interval_delivered += 1;
        self.total_delivered += 1;
        let micros = delay.as_micros();
        self.interval_delay_sum_us = self.interval_delay_sum_us.saturating_add(micros);
        self.interval_delay_max_us = self.interval_delay_max_us.max(micros);
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
    /// `entry_nodes[i]`: node i is an entry node (no declared link points into it).
    entry_nodes: Vec<bool>,
    system_interval_completed: u64,
    system_interval_errors: u64,
    system_interval_latency: Histogram<u64>,
    pub system_series: VecDeque<SystemSample>,
}

impl Metrics {
    /// `entry_nodes[i]` says whether node i's completions and errors count
    /// for the whole system (see the module comment).
    pub fn new(entry_nodes: Vec<bool>, link_count: usize, interval: SimDuration) -> Metrics {
        Metrics {
            nodes: (0..entry_nodes.len()).map(|_| NodeMetrics::new()).collect(),
            links: (0..link_count).map(|_| LinkMetrics::default()).collect(),
            interval,
            entry_nodes,
            system_interval_completed: 0,
            system_interval_errors: 0,
            system_interval_latency: new_histogram(),
            system_series: VecDeque::new(),
        }
    }

    /// Node `node` completed a request (or a message) taking `latency`.
    pub fn record_completion(&mut self, node: usize, latency: SimDuration) {
        self.nodes[node].record_completion(latency);
        if self.entry_nodes[node] {
            let micros = latency.as_micros().clamp(1, MAX_TRACKED_LATENCY_US);
            self.system_interval_completed += 1;
            self.system_interval_latency.saturating_record(micros);
        }
    }

    /// Node `node` recorded an error of `kind`.
    pub fn record_error(&mut self, node: usize, kind: &'static str) {
        self.nodes[node].record_error(kind);
        if self.entry_nodes[node] {
            self.system_interval_errors += 1;
        }
    }

    /// Closes the interval ending at `now`. `gauges[i]` is node i's queue
    /// depth and consumer lag now.
    pub fn sample(&mut self, now: SimTime, gauges: &[NodeGauges]) {
        let seconds = self.interval.as_secs_f64().max(1e-9);
        let system_histogram = &self.system_interval_latency;
        let system_sample = SystemSample {
            time_us: now.as_micros(),
            throughput_per_s: self.system_interval_completed as f64 / seconds,
            errors_per_s: self.system_interval_errors as f64 / seconds,
            latency_p50_ms: percentile_ms(system_histogram, 0.50),
            latency_p95_ms: percentile_ms(system_histogram, 0.95),
            latency_p99_ms: percentile_ms(system_histogram, 0.99),
            latency_max_ms: if system_histogram.is_empty() {
                0.0
            } else {
                system_histogram.max() as f64 / 1_000.0
            },
            queue_depth: gauges.iter().map(|gauge| gauge.queue_depth).sum(),
            consumer_lag: gauges
                .iter()
                .filter_map(|gauge| gauge.consumer_lag)
                .reduce(u64::saturating_add),
        };
        push_bounded(&mut self.system_series, system_sample);
        self.system_interval_completed = 0;
        self.system_interval_errors = 0;
        self.system_interval_latency.reset();
        for (node, gauge) in self.nodes.iter_mut().zip(gauges) {
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
                queue_depth: gauge.queue_depth,
                consumer_lag: gauge.consumer_lag,
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
                delay_mean_ms: if link.interval_delivered == 0 {
                    0.0
                } else {
                    link.interval_delay_sum_us as f64 / link.interval_delivered as f64 / 1_000.0
                },
                delay_max_ms: link.interval_delay_max_us as f64 / 1_000.0,
            };
            push_bounded(&mut link.series, sample);
            link.interval_sent = 0;
            link.interval_delivered = 0;
            link.interval_dropped = 0;
            link.interval_delay_sum_us = 0;
            link.interval_delay_max_us = 0;
        }
    }

    /// The samples of `subject`'s series taken strictly after `after_us`
    /// (all kept ones when `None`), oldest first, at most `limit` of them:
    /// the delta a live chart needs. A subject naming nothing in this run
    /// (a node or link deleted in the editor) gives the system's series.
    pub fn chart_samples(
        &self,
        subject: ResolvedChartSubject,
        after_us: Option<u64>,
        limit: usize,
    ) -> ChartSeriesSamples {
        fn newer<T: Clone>(
            series: &VecDeque<T>,
            time_us: impl Fn(&T) -> u64,
            after_us: Option<u64>,
            limit: usize,
        ) -> Vec<T> {
            let start = after_us.map_or(0, |after_us| {
                series.partition_point(|sample| time_us(sample) <= after_us)
            });
            series.range(start..).take(limit).cloned().collect()
        }
        match subject {
            ResolvedChartSubject::Node(index) if index < self.nodes.len() => {
                ChartSeriesSamples::Node(newer(
                    &self.nodes[index].series,
                    |sample| sample.time_us,
                    after_us,
                    limit,
                ))
            }
            ResolvedChartSubject::Link(index) if index < self.links.len() => {
                ChartSeriesSamples::Link(newer(
                    &self.links[index].series,
                    |sample| sample.time_us,
                    after_us,
                    limit,
                ))
            }
            _ => ChartSeriesSamples::System(newer(
                &self.system_series,
                |sample| sample.time_us,
                after_us,
                limit,
            )),
        }
    }
}

/// Which series a live chart shows, as the page names it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ChartSubject {
    /// The whole system (nothing selected).
    #[default]
    System,
    Node {
        id: String,
    },
    /// A declared link, by its endpoints (either order).
    Link {
        from: String,
        to: String,
    },
}

/// A `ChartSubject` resolved to indices into `Metrics::nodes` / `links`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolvedChartSubject {
    System,
    Node(usize),
    Link(usize),
}

/// Samples of one series, of whichever kind the subject has.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "samples")]
pub enum ChartSeriesSamples {
    System(Vec<SystemSample>),
    Node(Vec<NodeSample>),
    Link(Vec<LinkSample>),
}

impl ChartSeriesSamples {
    pub fn len(&self) -> usize {
        match self {
            ChartSeriesSamples::System(samples) => samples.len(),
            ChartSeriesSamples::Node(samples) => samples.len(),
            ChartSeriesSamples::Link(samples) => samples.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Time of the newest sample, if any.
    pub fn last_time_us(&self) -> Option<u64> {
        match self {
            ChartSeriesSamples::System(samples) => samples.last().map(|sample| sample.time_us),
            ChartSeriesSamples::Node(samples) => samples.last().map(|sample| sample.time_us),
            ChartSeriesSamples::Link(samples) => samples.last().map(|sample| sample.time_us),
        }
    }
}
