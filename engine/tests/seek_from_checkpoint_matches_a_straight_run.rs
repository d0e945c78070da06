//! A seek that restarts from a checkpoint (a copy of the run taken as it
//! advanced) reaches exactly the state a straight run has at the target:
//! same digest, same snapshot, and the same digest and checks at the end.
//! Over every example scenario, with checkpoints spaced closely enough that
//! several are kept and thinned.

mod common;

use common::EXAMPLES;
use faultline_engine::checkpoint::{MAX_CHECKPOINTS_KEPT, SeekCheckpoints};
use faultline_engine::scenario::parse_scenario;
use faultline_engine::{SimTime, Simulator};

/// Events per `advance` call, as the app's hosts run it (they observe the
/// checkpoints after each such chunk).
const CHUNK_EVENTS: u64 = 2_000;

/// Runs `simulator` to `target` (or the end) in chunks, observing checkpoints.
fn advance_observing(
    simulator: &mut Simulator,
    checkpoints: &mut SeekCheckpoints,
    target: SimTime,
) {
    loop {
        let progress = simulator.advance(target, CHUNK_EVENTS);
        checkpoints.observe(simulator);
        if progress.finished.is_some() || progress.now >= target {
            break;
        }
    }
}

#[test]
fn seeking_back_through_a_checkpoint_reproduces_the_straight_run_for_every_example() {
    let mut examples_with_a_checkpoint_used = 0;
    for (name, text) in EXAMPLES {
        let scenario = parse_scenario(text).unwrap_or_else(|error| panic!("{name}: {error}"));
        let seed = scenario.run.seed;
        let end = SimTime::from_millis(scenario.run.duration_ms);
        // The straight run, recording its state at the seek target (60% in).
        let target = SimTime(end.as_micros() * 3 / 5);
        let mut straight = Simulator::new(&scenario).expect("valid example");
        // Small spacing so that short examples get several copies and long
        // ones exercise thinning.
        let events_estimate = {
            let mut probe = Simulator::new(&scenario).expect("valid example");
            probe.run_to_end();
            probe.events_processed()
        };
        let mut checkpoints = SeekCheckpoints::new((events_estimate / 20).max(1));
        advance_observing(&mut straight, &mut checkpoints, target);
        let digest_at_target = straight.digest();
        let snapshot_at_target = straight.snapshot();
        advance_observing(&mut straight, &mut checkpoints, end);
        straight.run_to_end();
        let digest_at_end = straight.digest();
        let checks_at_end = straight.check_results();
        assert!(
            checkpoints.len() <= MAX_CHECKPOINTS_KEPT,
            "{name} seed {seed}: {} checkpoints kept",
            checkpoints.len()
        );

        // Seek back: from the latest checkpoint at or before the target.
        let Some(mut restored) = checkpoints.restore_at_or_before(target) else {
            // Too few events before the target for a copy: a seek re-runs
            // from t = 0, which determinism.rs already covers.
            continue;
        };
        examples_with_a_checkpoint_used += 1;
        assert!(
            restored.now() <= target && restored.events_processed() > 0,
            "{name} seed {seed}: restored from {} for target {target}",
            restored.now()
        );
        restored.run_until(target);
        assert_eq!(
            restored.digest(),
            digest_at_target,
            "{name} seed {seed}: digest at {target} after seeking through a checkpoint taken at {:?}",
            checkpoints.times()
        );
        assert_eq!(
            restored.snapshot(),
            snapshot_at_target,
            "{name} seed {seed}: snapshot at {target}"
        );
        restored.run_to_end();
        assert_eq!(
            restored.digest(),
            digest_at_end,
            "{name} seed {seed}: digest at the end"
        );
        assert_eq!(
            restored.check_results(),
            checks_at_end,
            "{name} seed {seed}: checks at the end"
        );
    }
    assert!(
        examples_with_a_checkpoint_used >= EXAMPLES.len() / 2,
        "only {examples_with_a_checkpoint_used} of {} examples sought through a checkpoint",
        EXAMPLES.len()
    );
}

#[test]
fn checkpoints_stay_bounded_and_evenly_spread_over_a_long_run() {
    let (name, text) = EXAMPLES
        .iter()
        .find(|(name, _)| *name == "retry-storm")
        .expect("retry-storm example");
    let scenario = parse_scenario(text).expect("valid example");
    let mut simulator = Simulator::new(&scenario).expect("valid");
    let mut checkpoints = SeekCheckpoints::new(5_000);
    let end = SimTime::from_millis(scenario.run.duration_ms);
    advance_observing(&mut simulator, &mut checkpoints, end);
    let times = checkpoints.times();
    assert!(
        times.len() >= MAX_CHECKPOINTS_KEPT / 2 && times.len() <= MAX_CHECKPOINTS_KEPT,
        "{name} seed {}: kept {times:?}",
        scenario.run.seed
    );
    assert!(
        times.windows(2).all(|pair| pair[0] < pair[1]),
        "{name}: checkpoints in time order: {times:?}"
    );
    // Thinned to spread over the run, not bunched at its start.
    assert!(
        times.last().expect("some").as_micros() > end.as_micros() / 2,
        "{name}: the latest checkpoint is in the second half: {times:?}"
    );
}

#[test]
fn a_checkpoint_after_the_target_is_never_used() {
    let (_, text) = EXAMPLES
        .iter()
        .find(|(name, _)| *name == "mm1-queue")
        .expect("mm1 example");
    let scenario = parse_scenario(text).expect("valid example");
    let mut simulator = Simulator::new(&scenario).expect("valid");
    let mut checkpoints = SeekCheckpoints::new(10_000);
    advance_observing(
        &mut simulator,
        &mut checkpoints,
        SimTime::from_millis(60_000),
    );
    let first = checkpoints.times()[0];
    assert!(
        checkpoints
            .restore_at_or_before(SimTime(first.as_micros() - 1))
            .is_none(),
        "no checkpoint at or before {first} - 1 µs: {:?}",
        checkpoints.times()
    );
    checkpoints.clear();
    assert!(checkpoints.is_empty());
}
