//! Raft election timing (rows F2 and F3; Ongaro's dissertation §9.3, Figure 9.5): time from a leader crash to a new leader.
//!
//! Five `raft_node` servers, one-way latency U(30, 40) ms on every link,
//! heartbeats every half minimum election timeout, no client load, pre-vote
//! off (as in the dissertation's measurement). Each trial: let the cluster
//! settle, crash the leader at a uniformly random point of its heartbeat
//! interval (the crash is injected live, as a user would), and measure until
//! a server states that it became leader of a later term; then restart the
//! old leader. "Two failed" also keeps one follower down for the whole run.

mod common;

use faultline_engine::raft::RaftRole;
use faultline_engine::rng::SimRng;
use faultline_engine::scenario::FaultAction;
use faultline_engine::trace::{Fact, TraceKind};
use faultline_engine::{Scenario, SimDuration, SimTime, Simulator};
use serde_json::json;

const SERVERS: [&str; 5] = ["s1", "s2", "s3", "s4", "s5"];

/// F2's network (dissertation §9.3): one-way latency U(30, 40) ms; writes
/// take no time (the simulator's default).
const DISSERTATION_LATENCY_MS: Delays = Delays {
    one_way_ms: (30.0, 40.0),
    disk_ms: None,
};
/// F3's network (Raft paper, Figure 16: "a broadcast time of roughly 15 ms"):
/// one-way latency U(7, 8) ms, so a request and its answer take about 15 ms.
const PAPER_LATENCY_MS: Delays = Delays {
    one_way_ms: (7.0, 8.0),
    disk_ms: None,
};

/// Network latency and (optionally) the servers' fsync time, both uniform in ms.
#[derive(Clone, Copy)]
struct Delays {
    one_way_ms: (f64, f64),
    disk_ms: Option<(f64, f64)>,
}

fn cluster(timeout_min_ms: u64, timeout_max_ms: u64, latency: Delays, seed: u64) -> Scenario {
    let nodes: Vec<_> = SERVERS
        .iter()
        .enumerate()
        .map(|(index, id)| {
            json!({"id": id, "kind": "raft_node",
                   "position": {"x": 100.0 * index as f64, "y": 0.0},
                   "properties": {
                "members": SERVERS,
                "election_timeout_min_ms": timeout_min_ms,
                "election_timeout_max_ms": timeout_max_ms,
                "heartbeat_interval_ms": timeout_min_ms / 2,
                "disk_write_latency": latency.disk_ms.map(|(low, high)| json!({"uniform": {"low_ms": low, "high_ms": high}}))}})
        })
        .collect();
    let mut links = Vec::new();
    for (index, from) in SERVERS.iter().enumerate() {
        for to in &SERVERS[index + 1..] {
            links.push(
                json!({"from": from, "to": to, "kind": "network", "network": {
                "latency": {"uniform": {"low_ms": latency.one_way_ms.0, "high_ms": latency.one_way_ms.1}}}}),
            );
        }
    }
    // Real servers do not start in the same microsecond: with fixed timeouts
    // (F3) a perfectly simultaneous start would split the very first vote
    // forever. s2..s5 are restarted 37 ms apart before the first election.
    let mut timeline = Vec::new();
    for (index, server) in SERVERS.iter().enumerate().skip(1) {
        timeline.push(json!({"at_ms": 1, "action": {"crash": {"node": server}}}));
        timeline.push(json!({"at_ms": 37 * index as u64, "action": {"restart": {"node": server}}}));
    }
    common::scenario(json!({
        "version": 1,
        "topology": {"nodes": nodes, "links": links},
        "faults": {"timeline": timeline},
        "run": {"seed": seed, "duration_ms": 86_400_000u64}
    }))
}

/// Drives the simulator and watches the trace for leader facts.
struct Driver {
    simulator: Simulator,
    seen_seq: Option<u64>,
    /// (term, leader, when) of the latest election seen.
    latest_leader: Option<(u64, usize, SimTime)>,
}

impl Driver {
    fn new(scenario: &Scenario) -> Driver {
        Driver {
            simulator: Simulator::new(scenario).expect("valid"),
            seen_seq: None,
            latest_leader: None,
        }
    }

    /// Runs until `until` or until a leader of a term above `above_term` appears.
    fn run_until_leader(
        &mut self,
        above_term: u64,
        until: SimTime,
    ) -> Option<(u64, usize, SimTime)> {
        loop {
            let now = self.simulator.now();
            if now >= until {
                return None;
            }
            let step = now.plus(SimDuration::from_millis(10)).min(until);
            self.simulator.run_until(step);
            let new_events: Vec<_> = self
                .simulator
                .trace()
                .recent()
                .rev()
                .take_while(|event| self.seen_seq.is_none_or(|seen| event.seq > seen))
                .cloned()
                .collect();
            if let Some(newest) = new_events.first() {
                self.seen_seq = Some(newest.seq);
            }
            for event in new_events.iter().rev() {
                if let TraceKind::Fact {
                    node,
                    fact:
                        Fact::RaftRole {
                            term,
                            role: RaftRole::Leader,
                            ..
                        },
                } = &event.kind
                {
                    self.latest_leader = Some((*term, node.index(), event.time));
                }
            }
            if let Some(leader) = self.latest_leader
                && leader.0 > above_term
            {
                return Some(leader);
            }
        }
    }

    fn inject(&mut self, action: FaultAction) -> SimTime {
        self.simulator.inject(action).expect("valid fault")
    }
}

struct Timing {
    /// Milliseconds from crash to new leader; censored trials count as the cap.
    samples_ms: Vec<f64>,
    censored: usize,
}

impl Timing {
    fn sorted(&self) -> Vec<f64> {
        let mut sorted = self.samples_ms.clone();
        sorted.sort_by(f64::total_cmp);
        sorted
    }
    fn mean(&self) -> f64 {
        self.samples_ms.iter().sum::<f64>() / self.samples_ms.len() as f64
    }
    fn percentile(&self, fraction: f64) -> f64 {
        let sorted = self.sorted();
        let rank = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }
    fn share_above(&self, ms: f64) -> f64 {
        self.samples_ms
            .iter()
            .filter(|sample| **sample > ms)
            .count() as f64
            / self.samples_ms.len() as f64
    }
}

/// `trials` leader crashes with `extra_failed` followers down throughout.
/// A trial not elected within `cap_ms` counts as `cap_ms` (censored).
fn measure(
    latency: Delays,
    timeout_min_ms: u64,
    timeout_max_ms: u64,
    extra_failed: usize,
    trials: usize,
    cap_ms: u64,
    seed: u64,
) -> Timing {
    let heartbeat_ms = timeout_min_ms / 2;
    let mut offsets = SimRng::for_stream(seed, 0xF2);
    let (mut driver, mut term, mut leader) =
        bootstrap(latency, timeout_min_ms, timeout_max_ms, extra_failed, seed);
    let mut timing = Timing {
        samples_ms: Vec::new(),
        censored: 0,
    };
    for trial in 0..trials {
        // Settle (the restarted server rejoins), then crash at a random phase
        // of the leader's heartbeat interval.
        let settle_us = 1_000_000 + offsets.below(heartbeat_ms * 1_000);
        let settle_until = driver
            .simulator
            .now()
            .plus(SimDuration::from_micros(settle_us));
        if let Some((new_term, new_leader, _)) = driver.run_until_leader(term, settle_until) {
            // An unprompted election while settling (rare): follow it.
            term = new_term;
            leader = new_leader;
            driver.run_until_leader(u64::MAX, settle_until);
        }
        let crashed = leader;
        let crashed_at = driver.inject(FaultAction::Crash {
            node: SERVERS[crashed].to_string(),
        });
        let cap = crashed_at.plus(SimDuration::from_millis(cap_ms));
        match driver.run_until_leader(term, cap) {
            Some((new_term, new_leader, elected_at)) => {
                timing
                    .samples_ms
                    .push(elected_at.since(crashed_at).as_millis_f64());
                term = new_term;
                leader = new_leader;
                driver.inject(FaultAction::Restart {
                    node: SERVERS[crashed].to_string(),
                });
            }
            None => {
                // Censored: count the cap, and go on with a fresh cluster
                // (this one may never elect again).
                timing.samples_ms.push(cap_ms as f64);
                timing.censored += 1;
                (driver, term, leader) = bootstrap(
                    latency,
                    timeout_min_ms,
                    timeout_max_ms,
                    extra_failed,
                    seed + 1_000 * (trial as u64 + 1),
                );
            }
        }
    }
    timing
}

/// A running cluster with its first leader elected and `extra_failed`
/// followers crashed for good.
fn bootstrap(
    latency: Delays,
    timeout_min_ms: u64,
    timeout_max_ms: u64,
    extra_failed: usize,
    seed: u64,
) -> (Driver, u64, usize) {
    let mut driver = Driver::new(&cluster(timeout_min_ms, timeout_max_ms, latency, seed));
    let (term, leader, _) = driver
        .run_until_leader(0, SimTime::from_millis(60_000))
        .unwrap_or_else(|| panic!("seed {seed}: no first leader in 60 s"));
    let mut down_for_good = 0;
    for (position, server) in SERVERS.iter().enumerate() {
        if down_for_good < extra_failed && position != leader {
            down_for_good += 1;
            driver.inject(FaultAction::Crash {
                node: server.to_string(),
            });
        }
    }
    (driver, term, leader)
}

fn report(label: &str, timing: &Timing) {
    println!(
        "{label}: trials={} mean={:.0} ms median={:.0} ms p99={:.0} ms p99.9={:.0} ms max={:.0} ms >1.5s={:.2}% >10s={:.1}% censored={}",
        timing.samples_ms.len(),
        timing.mean(),
        timing.percentile(0.5),
        timing.percentile(0.99),
        timing.percentile(0.999),
        timing.percentile(1.0),
        100.0 * timing.share_above(1_500.0),
        100.0 * timing.share_above(10_000.0),
        timing.censored
    );
}

/// F2, one server failed (the crashed leader): mean ≈ 475 ms, 99.9% under 1.5 s.
#[test]
fn election_after_leader_crash_with_300_600_ms_timeouts_takes_about_475_ms() {
    let seed = 1;
    let timing = measure(DISSERTATION_LATENCY_MS, 300, 600, 0, 400, 10_000, seed);
    report("F2 300-600 ms, 1 failed", &timing);
    let mean = timing.mean();
    assert!(
        (400.0..=560.0).contains(&mean),
        "seed {seed}: mean {mean:.0} ms, dissertation ≈ 475 ms"
    );
    assert!(
        timing.percentile(0.999) < 1_500.0,
        "seed {seed}: p99.9 {:.0} ms, dissertation: 99.9% under 1.5 s",
        timing.percentile(0.999)
    );
    assert_eq!(timing.censored, 0, "seed {seed}");
}

/// F2, two servers failed: mean ≈ 650 ms (three of five must all agree).
#[test]
fn election_with_two_servers_failed_takes_about_650_ms() {
    let seed = 2;
    let timing = measure(DISSERTATION_LATENCY_MS, 300, 600, 1, 300, 10_000, seed);
    report("F2 300-600 ms, 2 failed", &timing);
    let mean = timing.mean();
    assert!(
        (540.0..=800.0).contains(&mean),
        "seed {seed}: mean {mean:.0} ms, dissertation ≈ 650 ms"
    );
    assert!(
        timing.percentile(0.999) < 3_000.0,
        "seed {seed}: p99.9 {:.0} ms, dissertation: 99.9% under 3 s",
        timing.percentile(0.999)
    );
    let one_failed = measure(DISSERTATION_LATENCY_MS, 300, 600, 0, 150, 10_000, seed);
    assert!(
        mean > one_failed.mean(),
        "seed {seed}: two failed ({mean:.0} ms) must be slower than one ({:.0} ms)",
        one_failed.mean()
    );
}

/// F3: with no randomness (150–150 ms) split votes repeat: after a leader
/// crash the followers time out within a few ms of each other, every round.
#[test]
fn without_timeout_randomness_split_votes_repeat_for_over_10_s() {
    let seed = 3;
    let fixed = measure(PAPER_LATENCY_MS, 150, 150, 0, 10, 30_000, seed);
    report("F3 150-150 ms", &fixed);
    assert!(
        fixed.share_above(10_000.0) >= 0.5,
        "seed {seed}: with no randomness most elections should take over 10 s ({:.0}% did)",
        100.0 * fixed.share_above(10_000.0)
    );
    let randomized = measure(PAPER_LATENCY_MS, 150, 300, 0, 100, 30_000, seed);
    report("F3 150-300 ms", &randomized);
    assert!(
        randomized.percentile(0.5) < 500.0,
        "seed {seed}: with 150 ms of randomness the median is {:.0} ms, expected well under 500 ms",
        randomized.percentile(0.5)
    );
}

/// F3's second half: 5 ms of randomness brings the median to ≈ 287 ms in the
/// paper. Not reproduced: about 1.8 s here (1,000 crashes), with the
/// dissertation's timer rules, with the latency split as network or as fsync
/// (see `election_timing_table`). Every follower times out within ~6 ms of
/// the others while a vote request needs ~7 ms to arrive, so rounds split
/// until the timers drift apart by a random walk of ~2 ms per round.
#[test]
#[ignore = "150-155 ms median not reproduced: about 1.8 s here, 287 ms in the paper"]
fn five_ms_of_timeout_randomness_brings_the_median_to_about_287_ms() {
    let seed = 3;
    let slightly_random = measure(PAPER_LATENCY_MS, 150, 155, 0, 200, 30_000, seed);
    report("F3 150-155 ms", &slightly_random);
    let median = slightly_random.percentile(0.5);
    assert!(
        (230.0..=360.0).contains(&median),
        "seed {seed}: 150-155 ms median {median:.0} ms, paper ≈ 287 ms"
    );
}

/// Every configuration in one table, for the report (also with a disk whose
/// fsync takes U(5, 25) ms before votes and acknowledgements leave).
/// `cargo test -p faultline-engine --release --test raft_election_timing -- --ignored --nocapture`
#[test]
#[ignore]
fn election_timing_table() {
    let spinning_disk = Delays {
        one_way_ms: (30.0, 40.0),
        disk_ms: Some((5.0, 25.0)),
    };
    // The paper's 15 ms broadcast time split the other way: a LAN hop of
    // 0.5-1 ms and an fsync of 6-7 ms before every vote and acknowledgement
    // (the candidate's own term/vote write delays its requests too).
    let lan_and_disk = Delays {
        one_way_ms: (0.5, 1.0),
        disk_ms: Some((6.0, 7.0)),
    };
    let rows: [(&str, Delays, u64, u64, usize, usize); 12] = [
        (
            "F2 300-600, 1 failed",
            DISSERTATION_LATENCY_MS,
            300,
            600,
            0,
            2_000,
        ),
        (
            "F2 300-600, 2 failed",
            DISSERTATION_LATENCY_MS,
            300,
            600,
            1,
            2_000,
        ),
        (
            "F2 300-600, 1 failed, disk 5-25",
            spinning_disk,
            300,
            600,
            0,
            1_000,
        ),
        (
            "F2 300-600, 2 failed, disk 5-25",
            spinning_disk,
            300,
            600,
            1,
            1_000,
        ),
        ("F3 150-150", PAPER_LATENCY_MS, 150, 150, 0, 100),
        ("F3 150-151", PAPER_LATENCY_MS, 150, 151, 0, 1_000),
        ("F3 150-155", PAPER_LATENCY_MS, 150, 155, 0, 1_000),
        ("F3 150-175", PAPER_LATENCY_MS, 150, 175, 0, 1_000),
        ("F3 150-200", PAPER_LATENCY_MS, 150, 200, 0, 1_000),
        ("F3 150-300", PAPER_LATENCY_MS, 150, 300, 0, 1_000),
        ("F3 150-150, LAN + disk 6-7", lan_and_disk, 150, 150, 0, 100),
        (
            "F3 150-155, LAN + disk 6-7",
            lan_and_disk,
            150,
            155,
            0,
            1_000,
        ),
    ];
    for (label, delays, min, max, extra_failed, trials) in rows {
        let timing = measure(delays, min, max, extra_failed, trials, 30_000, 11);
        report(label, &timing);
    }
}
