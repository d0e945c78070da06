//! The live charts' data path across the worker boundary: the engine side
//! (`ChartFeed`, in the worker or the page's fallback engine) remembers which
//! series the page watches and how far it has sent it, and ships only the
//! samples the page does not have yet (`ChartDelta`); the page side
//! (`ChartStore`) applies the deltas to its bounded copy of that one series.
//!
//! One series at a time (the selected node or link, or the whole system) and
//! only new samples, so a report stays a few hundred bytes while playing; a
//! change of selection or a new run sends the series once in full (at most
//! `MAX_METRIC_SAMPLES` samples, what the engine keeps).

use faultline_engine::Simulator;
use faultline_engine::metrics::{ChartSeriesSamples, ChartSubject, ResolvedChartSubject};
use faultline_engine::scenario::limits::MAX_METRIC_SAMPLES;
use serde::{Deserialize, Serialize};

/// Most samples one report carries: the whole ring the engine keeps, so a
/// full resend fits in one report (~4,096 × ~200 bytes of JSON at worst).
pub const MAX_CHART_SAMPLES_PER_REPORT: usize = MAX_METRIC_SAMPLES;

/// New samples of the watched series, and what the page keeps of its copy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChartDelta {
    /// The series these samples belong to: the watched subject, or `System`
    /// when the run has no such node or link.
    pub subject: ChartSubject,
    /// The page keeps its samples taken at or before this time and drops the
    /// rest (a seek back re-ran the engine from t = 0, deterministically, so
    /// those are unchanged); `None`: it drops them all (new run or subject).
    pub keep_through_us: Option<u64>,
    /// The run's sampling interval.
    pub interval_us: u64,
    /// Samples after `keep_through_us`, oldest first.
    pub samples: ChartSeriesSamples,
}

/// Engine side: which series the page watches and how much of it was sent.
#[derive(Clone, Debug)]
pub struct ChartFeed {
    subject: ChartSubject,
    /// Time of the newest sample sent; `None` with `resend` after a reset.
    sent_through_us: Option<u64>,
    /// The page's copy must be replaced (new run, new subject).
    resend: bool,
}

impl Default for ChartFeed {
    fn default() -> ChartFeed {
        ChartFeed {
            subject: ChartSubject::System,
            sent_through_us: None,
            resend: true,
        }
    }
}

impl ChartFeed {
    pub fn new() -> ChartFeed {
        ChartFeed::default()
    }

    /// Watch `subject` from now on; a different subject is sent in full.
    pub fn watch(&mut self, subject: ChartSubject) {
        if subject != self.subject {
            self.subject = subject;
            self.restart();
        }
    }

    /// A new run: the page's copy is stale, send everything again.
    pub fn restart(&mut self) {
        self.sent_through_us = None;
        self.resend = true;
    }

    /// What the page lacks, or `None` when it is up to date (no new sample).
    pub fn next_delta(&mut self, simulator: &Simulator) -> Option<ChartDelta> {
        let keep_through_us = if self.resend {
            None
        } else {
            // After a seek back the run is younger than what was sent.
            self.sent_through_us
                .map(|sent_us| sent_us.min(simulator.now().as_micros()))
        };
        let samples =
            simulator.chart_samples(&self.subject, keep_through_us, MAX_CHART_SAMPLES_PER_REPORT);
        let truncates = keep_through_us != self.sent_through_us;
        if !self.resend && !truncates && samples.is_empty() {
            return None;
        }
        self.resend = false;
        self.sent_through_us = samples.last_time_us().or(keep_through_us);
        let subject = match simulator.resolve_chart_subject(&self.subject) {
            ResolvedChartSubject::System => ChartSubject::System,
            _ => self.subject.clone(),
        };
        Some(ChartDelta {
            subject,
            keep_through_us,
            interval_us: simulator.metrics().interval.as_micros(),
            samples,
        })
    }
}

/// Page side: the page's copy of the watched series (bounded like the engine's).
#[derive(Clone, Debug, PartialEq)]
pub struct ChartStore {
    pub subject: ChartSubject,
    pub interval_us: u64,
    pub samples: ChartSeriesSamples,
    /// Bumped on every applied delta (cheap change detection for redraws).
    pub revision: u64,
}

impl Default for ChartStore {
    fn default() -> ChartStore {
        ChartStore {
            subject: ChartSubject::System,
            interval_us: 0,
            samples: ChartSeriesSamples::System(Vec::new()),
            revision: 0,
        }
    }
}

impl ChartStore {
    /// Drops every sample (a new run is loading).
    pub fn clear(&mut self) {
        let revision = self.revision + 1;
        *self = ChartStore {
            revision,
            ..ChartStore::default()
        };
    }

    pub fn apply(&mut self, delta: ChartDelta) {
        self.revision += 1;
        self.interval_us = delta.interval_us;
        let same_kind =
            std::mem::discriminant(&self.samples) == std::mem::discriminant(&delta.samples);
        let Some(keep_through_us) = delta.keep_through_us.filter(|_| same_kind) else {
            self.subject = delta.subject;
            self.samples = delta.samples;
            self.bound();
            return;
        };
        self.subject = delta.subject;
        fn merge<T>(kept: &mut Vec<T>, new: Vec<T>, keep_through_us: u64, time: fn(&T) -> u64) {
            kept.retain(|sample| time(sample) <= keep_through_us);
            kept.extend(new);
        }
        match (&mut self.samples, delta.samples) {
            (ChartSeriesSamples::System(kept), ChartSeriesSamples::System(new)) => {
                merge(kept, new, keep_through_us, |sample| sample.time_us)
            }
            (ChartSeriesSamples::Node(kept), ChartSeriesSamples::Node(new)) => {
                merge(kept, new, keep_through_us, |sample| sample.time_us)
            }
            (ChartSeriesSamples::Link(kept), ChartSeriesSamples::Link(new)) => {
                merge(kept, new, keep_through_us, |sample| sample.time_us)
            }
            (samples, new) => *samples = new,
        }
        self.bound();
    }

    /// Keeps at most `MAX_METRIC_SAMPLES`, dropping the oldest (as the engine does).
    fn bound(&mut self) {
        fn trim<T>(samples: &mut Vec<T>) {
            let excess = samples.len().saturating_sub(MAX_METRIC_SAMPLES);
            samples.drain(..excess);
        }
        match &mut self.samples {
            ChartSeriesSamples::System(samples) => trim(samples),
            ChartSeriesSamples::Node(samples) => trim(samples),
            ChartSeriesSamples::Link(samples) => trim(samples),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_engine::parse_scenario;
    use faultline_engine::{SimDuration, SimTime};

    fn retry_storm() -> faultline_engine::Scenario {
        let text = include_str!("../../public/scenarios/retry-storm.json");
        parse_scenario(text).expect("retry storm example parses")
    }

    fn times(store: &ChartStore) -> Vec<u64> {
        match &store.samples {
            ChartSeriesSamples::System(samples) => samples.iter().map(|s| s.time_us).collect(),
            ChartSeriesSamples::Node(samples) => samples.iter().map(|s| s.time_us).collect(),
            ChartSeriesSamples::Link(samples) => samples.iter().map(|s| s.time_us).collect(),
        }
    }

    #[test]
    fn deltas_rebuild_the_engine_series_and_stay_empty_when_nothing_is_new() {
        let scenario = retry_storm();
        let mut simulator = Simulator::new(&scenario).expect("valid");
        let mut feed = ChartFeed::new();
        let mut store = ChartStore::default();
        feed.watch(ChartSubject::Node {
            id: "frontend".into(),
        });
        for step_ms in [700, 1_300, 2_000, 5_000] {
            simulator.run_until(SimTime::from_millis(step_ms));
            if let Some(delta) = feed.next_delta(&simulator) {
                store.apply(delta);
            }
            assert!(
                feed.next_delta(&simulator).is_none(),
                "a second delta with no new sample must be None"
            );
        }
        let engine = simulator.chart_samples(
            &ChartSubject::Node {
                id: "frontend".into(),
            },
            None,
            usize::MAX,
        );
        assert_eq!(store.samples, engine, "store diverged from the engine");
        assert_eq!(store.samples.len(), 20, "5 s at 250 ms");
    }

    #[test]
    fn a_seek_back_truncates_then_regrows_the_same_samples() {
        let scenario = retry_storm();
        let mut simulator = Simulator::new(&scenario).expect("valid");
        let mut feed = ChartFeed::new();
        let mut store = ChartStore::default();
        simulator.run_until(SimTime::from_millis(4_000));
        store.apply(feed.next_delta(&simulator).expect("first delta"));
        let before = store.samples.clone();
        // A seek back rebuilds the run from t = 0.
        simulator = Simulator::new(&scenario).expect("valid");
        simulator.run_until(SimTime::from_millis(1_000));
        store.apply(feed.next_delta(&simulator).expect("truncating delta"));
        assert_eq!(times(&store).last(), Some(&1_000_000));
        simulator.advance(
            SimTime::ZERO.plus(SimDuration::from_millis(4_000)),
            u64::MAX,
        );
        store.apply(feed.next_delta(&simulator).expect("regrowing delta"));
        assert_eq!(
            store.samples, before,
            "a deterministic re-run regrows the same"
        );
    }

    #[test]
    fn an_unknown_subject_falls_back_to_the_whole_system() {
        let scenario = retry_storm();
        let mut simulator = Simulator::new(&scenario).expect("valid");
        simulator.run_until(SimTime::from_millis(1_000));
        let mut feed = ChartFeed::new();
        feed.watch(ChartSubject::Node { id: "gone".into() });
        let delta = feed.next_delta(&simulator).expect("delta");
        assert_eq!(delta.subject, ChartSubject::System);
        assert!(matches!(delta.samples, ChartSeriesSamples::System(ref s) if s.len() == 4));
    }
}
