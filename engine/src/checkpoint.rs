//! Seek checkpoints: whole copies of a run (`Simulator: Clone`) taken as it
//! advances, so a seek back restarts from the latest copy at or before its
//! target instead of re-running from t = 0.
//!
//! A copy is the run's complete state (components, checkers, event queue,
//! network, RNG streams, trace digest), so running on from it is the same
//! deterministic run: the digest at any later moment equals a straight
//! run's (`tests/seek_from_checkpoint_matches_a_straight_run.rs`).
//!
//! Bounded: at most `MAX_CHECKPOINTS_KEPT` copies. They are spaced by events
//! processed, not sim time, because a copy costs about as much as the state
//! is large, and re-running costs about as much as the events to replay:
//! the first copy is taken after `FIRST_CHECKPOINT_INTERVAL_EVENTS`, and when
//! the list is full every other copy is dropped and the spacing doubles, so
//! the copies stay evenly spread over the whole run (a seek replays at most
//! one spacing of events, and the copying costs O(log n) clones per n
//! events).

use crate::sim::Simulator;
use crate::time::SimTime;

/// Events between the first checkpoints. Re-running this many events takes
/// tens of milliseconds in the browser, about what one copy of a large run
/// costs, so closer copies would not pay for themselves.
pub const FIRST_CHECKPOINT_INTERVAL_EVENTS: u64 = 200_000;

/// Most copies kept at once: each holds a whole run's state (typically well
/// under a few MB; the trace ring, metric series and checker windows are
/// bounded), so eight bound the memory to a small multiple of the run's.
pub const MAX_CHECKPOINTS_KEPT: usize = 8;

/// Checkpoints of one run, oldest first.
#[derive(Clone)]
pub struct SeekCheckpoints {
    first_interval_events: u64,
    interval_events: u64,
    kept: Vec<Simulator>,
}

impl Default for SeekCheckpoints {
    fn default() -> Self {
        SeekCheckpoints::new(FIRST_CHECKPOINT_INTERVAL_EVENTS)
    }
}

impl SeekCheckpoints {
    /// Checkpoints every `interval_events` events at first (tests use small
    /// intervals to exercise thinning).
    pub fn new(interval_events: u64) -> SeekCheckpoints {
        SeekCheckpoints {
            first_interval_events: interval_events.max(1),
            interval_events: interval_events.max(1),
            kept: Vec::new(),
        }
    }

    /// Called after the run advanced: copies it when it has processed at
    /// least one spacing of events beyond the latest copy. After a seek back
    /// the run replays states already copied; nothing is copied until it
    /// passes the latest copy again.
    pub fn observe(&mut self, simulator: &Simulator) {
        let last_events = self
            .kept
            .last()
            .map_or(0, |checkpoint| checkpoint.events_processed());
        if simulator.finished().is_some()
            || simulator.events_processed() < last_events + self.interval_events
        {
            return;
        }
        self.kept.push(simulator.clone());
        if self.kept.len() > MAX_CHECKPOINTS_KEPT {
            // Keep the 2nd, 4th, … copy: still evenly spaced, twice apart.
            let mut index = 0;
            self.kept.retain(|_| {
                index += 1;
                index % 2 == 0
            });
            self.interval_events = self.interval_events.saturating_mul(2);
        }
    }

    /// A copy of the latest checkpoint whose time is at or before `target`
    /// (the state a seek can run on from), if there is one.
    pub fn restore_at_or_before(&self, target: SimTime) -> Option<Simulator> {
        self.kept
            .iter()
            .rev()
            .find(|checkpoint| checkpoint.now() <= target)
            .cloned()
    }

    /// Forgets every copy: the run they belong to changed (a live fault was
    /// injected, which the copies' queues do not hold) or was replaced.
    pub fn clear(&mut self) {
        self.kept.clear();
        self.interval_events = self.first_interval_events;
    }

    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Sim times of the copies kept, oldest first (for reports and tests).
    pub fn times(&self) -> Vec<SimTime> {
        self.kept.iter().map(Simulator::now).collect()
    }
}
