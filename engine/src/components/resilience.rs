//! Resilience algorithms as pure state machines: backoff with jitter (B2), the
//! resilience4j circuit breaker (C1–C3 presets), token bucket and GCRA rate
//! limiters (B3), and Finagle's retry budget.
//!
//! Nothing here reads a clock or a random source: callers pass `now` and, where
//! randomness is needed, a uniform sample, so every rule is testable exactly.

use crate::scenario::services::{
    CircuitBreakerConfig, JitterKind, RateLimiterAlgorithm, RateLimiterSpec, RetryBudgetSpec,
    SlidingWindowSpec,
};
use crate::time::SimTime;
use std::collections::VecDeque;

// ---- Backoff (row B2) -----------------------------------------------------

/// The delay before retry number `retry` (0 for the first retry), in ms, per
/// the AWS Architecture Blog formulas. `previous_ms` is the last delay
/// (decorrelated jitter only; start it at `base_ms`), `uniform` a sample of U[0, 1).
pub fn backoff_delay_ms(
    jitter: JitterKind,
    base_ms: f64,
    cap_ms: f64,
    retry: u32,
    previous_ms: f64,
    uniform: f64,
) -> f64 {
    // 2^n overflows f64 precision long before it matters; cap the exponent.
    let exponential = cap_ms.min(base_ms * libm::exp2(retry.min(60) as f64));
    match jitter {
        JitterKind::None => exponential,
        JitterKind::Full => uniform * exponential,
        JitterKind::Equal => exponential / 2.0 + uniform * (exponential / 2.0),
        JitterKind::Decorrelated => {
            let upper = previous_ms * 3.0;
            cap_ms.min(base_ms + uniform * (upper - base_ms).max(0.0))
        }
    }
}

// ---- Circuit breaker (rows C1–C3) -----------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// A state change and why it happened, for the trace.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerTransition {
    pub from: BreakerState,
    pub to: BreakerState,
    pub reason: String,
}

/// Permission to make one call, tied to the breaker state it was given in:
/// an outcome that arrives after the state changed is not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerPermit {
    generation: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    calls: u32,
    failures: u32,
    slow: u32,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.calls += other.calls;
        self.failures += other.failures;
        self.slow += other.slow;
    }
}

/// Count-based (ring of outcomes) or time-based (ring of per-bucket tallies).
#[derive(Clone)]
enum Window {
    Count {
        size: usize,
        outcomes: VecDeque<Tally>,
        total: Tally,
    },
    Time {
        bucket_us: u64,
        buckets: usize,
        /// (bucket index since time zero, tally), oldest first.
        ring: VecDeque<(u64, Tally)>,
    },
}

impl Window {
    fn new(spec: &SlidingWindowSpec) -> Window {
        match *spec {
            SlidingWindowSpec::CountBased { size_calls } => Window::Count {
                size: size_calls.max(1) as usize,
                outcomes: VecDeque::new(),
                total: Tally::default(),
            },
            SlidingWindowSpec::TimeBased { size_ms, bucket_ms } => {
                let bucket_ms = bucket_ms.clamp(1, size_ms.max(1));
                Window::Time {
                    bucket_us: bucket_ms * 1_000,
                    buckets: size_ms.div_ceil(bucket_ms).max(1) as usize,
                    ring: VecDeque::new(),
                }
            }
        }
    }

    fn expire(ring: &mut VecDeque<(u64, Tally)>, buckets: usize, current: u64) {
        while ring
            .front()
            .is_some_and(|(index, _)| *index + buckets as u64 <= current)
        {
            ring.pop_front();
        }
    }

    fn record(&mut self, now: SimTime, outcome: Tally) {
        match self {
            Window::Count {
                size,
                outcomes,
                total,
            } => {
                if outcomes.len() == *size
                    && let Some(oldest) = outcomes.pop_front()
                {
                    total.calls -= oldest.calls;
                    total.failures -= oldest.failures;
                    total.slow -= oldest.slow;
                }
                outcomes.push_back(outcome);
                total.add(outcome);
            }
            Window::Time {
                bucket_us,
                buckets,
                ring,
            } => {
                let current = now.as_micros() / *bucket_us;
                Self::expire(ring, *buckets, current);
                match ring.back_mut() {
                    Some((index, tally)) if *index == current => tally.add(outcome),
                    _ => ring.push_back((current, outcome)),
                }
            }
        }
    }

    fn total(&mut self, now: SimTime) -> Tally {
        match self {
            Window::Count { total, .. } => *total,
            Window::Time {
                bucket_us,
                buckets,
                ring,
            } => {
                Self::expire(ring, *buckets, now.as_micros() / *bucket_us);
                let mut sum = Tally::default();
                for (_, tally) in ring.iter() {
                    sum.add(*tally);
                }
                sum
            }
        }
    }
}

/// The resilience4j `CircuitBreaker` state machine (CLOSED, OPEN, HALF_OPEN).
///
/// CLOSED records outcomes in the sliding window; once it holds at least the
/// minimum number of calls, a failure rate or slow-call rate at or above its
/// threshold opens the breaker. OPEN refuses calls for the wait duration, then
/// moves to HALF_OPEN (on the next call, or by timer when automatic).
/// HALF_OPEN lets `permitted` trial calls through and judges them with the
/// same thresholds once all have completed: OPEN again, or CLOSED with an
/// empty window. Hystrix and Polly v8 are the same machine with one trial call.
#[derive(Clone)]
pub struct CircuitBreaker {
    config: CircuitBreakerConfig,
    state: BreakerState,
    window: Window,
    /// Bumped on every transition; permits of older generations are stale.
    generation: u64,
    opened_at: SimTime,
    half_open_permits_given: u32,
    half_open_tally: Tally,
    /// Lifetime counters for the report.
    pub short_circuited: u64,
    pub transitions: u64,
}

impl CircuitBreaker {
    pub fn new(config: CircuitBreakerConfig) -> CircuitBreaker {
        let window = Window::new(&config.sliding_window);
        CircuitBreaker {
            config,
            state: BreakerState::Closed,
            window,
            generation: 0,
            opened_at: SimTime::ZERO,
            half_open_permits_given: 0,
            half_open_tally: Tally::default(),
            short_circuited: 0,
            transitions: 0,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.config
    }

    /// resilience4j caps the minimum at the window size for count-based windows.
    fn minimum_calls(&self) -> u32 {
        match self.config.sliding_window {
            SlidingWindowSpec::CountBased { size_calls } => {
                self.config.minimum_number_of_calls.min(size_calls)
            }
            SlidingWindowSpec::TimeBased { .. } => self.config.minimum_number_of_calls,
        }
    }

    fn transition(&mut self, now: SimTime, to: BreakerState, reason: String) -> BreakerTransition {
        let from = self.state;
        self.state = to;
        self.generation += 1;
        self.transitions += 1;
        match to {
            BreakerState::Open => self.opened_at = now,
            BreakerState::HalfOpen => {
                self.half_open_permits_given = 0;
                self.half_open_tally = Tally::default();
            }
            BreakerState::Closed => self.window = Window::new(&self.config.sliding_window),
        }
        BreakerTransition { from, to, reason }
    }

    /// When an open breaker's wait ends.
    pub fn open_until(&self) -> SimTime {
        self.opened_at.plus(crate::time::SimDuration::from_millis(
            self.config.wait_duration_in_open_state_ms,
        ))
    }

    /// The automatic OPEN → HALF_OPEN transition (call when the wait timer fires).
    pub fn on_wait_elapsed(&mut self, now: SimTime) -> Option<BreakerTransition> {
        (self.state == BreakerState::Open && now >= self.open_until()).then(|| {
            self.transition(
                now,
                BreakerState::HalfOpen,
                "wait duration in open state elapsed".to_string(),
            )
        })
    }

    /// Asks to make a call. `None` means refused (short-circuited).
    pub fn try_acquire(
        &mut self,
        now: SimTime,
    ) -> (Option<BreakerPermit>, Option<BreakerTransition>) {
        let mut transition = None;
        if self.state == BreakerState::Open && now >= self.open_until() {
            transition = Some(self.transition(
                now,
                BreakerState::HalfOpen,
                "wait duration in open state elapsed (checked on call)".to_string(),
            ));
        }
        let permitted = match self.state {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            BreakerState::HalfOpen => {
                if self.half_open_permits_given
                    < self.config.permitted_number_of_calls_in_half_open_state
                {
                    self.half_open_permits_given += 1;
                    true
                } else {
                    false
                }
            }
        };
        if !permitted {
            self.short_circuited += 1;
        }
        (
            permitted.then_some(BreakerPermit {
                generation: self.generation,
            }),
            transition,
        )
    }

    /// Gives back a permit whose call never happened (resilience4j `releasePermission`).
    pub fn release(&mut self, permit: BreakerPermit) {
        if permit.generation == self.generation
            && self.state == BreakerState::HalfOpen
            && self.half_open_permits_given > 0
        {
            self.half_open_permits_given -= 1;
        }
    }

    fn rates(&self, tally: Tally) -> (f64, f64) {
        let calls = tally.calls.max(1) as f64;
        (
            tally.failures as f64 * 100.0 / calls,
            tally.slow as f64 * 100.0 / calls,
        )
    }

    fn exceeded(&self, tally: Tally) -> Option<String> {
        let (failure_rate, slow_rate) = self.rates(tally);
        if failure_rate >= self.config.failure_rate_threshold_percent {
            Some(format!(
                "failure rate {failure_rate:.1}% >= {}% over {} calls",
                self.config.failure_rate_threshold_percent, tally.calls
            ))
        } else if slow_rate >= self.config.slow_call_rate_threshold_percent {
            Some(format!(
                "slow call rate {slow_rate:.1}% >= {}% over {} calls",
                self.config.slow_call_rate_threshold_percent, tally.calls
            ))
        } else {
            None
        }
    }

    /// Records a finished call. `duration_ms` decides whether it was slow.
    pub fn on_result(
        &mut self,
        now: SimTime,
        permit: BreakerPermit,
        failed: bool,
        duration_ms: f64,
    ) -> Option<BreakerTransition> {
        if permit.generation != self.generation {
            return None;
        }
        let slow = self
            .config
            .slow_call_duration_threshold_ms
            .is_some_and(|threshold| duration_ms >= threshold as f64);
        let outcome = Tally {
            calls: 1,
            failures: failed as u32,
            slow: slow as u32,
        };
        match self.state {
            BreakerState::Closed => {
                self.window.record(now, outcome);
                let tally = self.window.total(now);
                if tally.calls < self.minimum_calls() {
                    return None;
                }
                let reason = self.exceeded(tally)?;
                Some(self.transition(now, BreakerState::Open, reason))
            }
            BreakerState::HalfOpen => {
                self.half_open_tally.add(outcome);
                if self.half_open_tally.calls
                    < self.config.permitted_number_of_calls_in_half_open_state
                {
                    return None;
                }
                let tally = self.half_open_tally;
                Some(match self.exceeded(tally) {
                    Some(reason) => {
                        self.transition(now, BreakerState::Open, format!("trial calls: {reason}"))
                    }
                    None => {
                        let (failure_rate, _) = self.rates(tally);
                        self.transition(
                            now,
                            BreakerState::Closed,
                            format!(
                                "trial calls: failure rate {failure_rate:.1}% below {}% over {} calls",
                                self.config.failure_rate_threshold_percent, tally.calls
                            ),
                        )
                    }
                })
            }
            BreakerState::Open => None,
        }
    }
}

// ---- Rate limiters (row B3) -----------------------------------------------

/// Token bucket or GCRA, in integer microseconds so admissions are exact.
///
/// GCRA keeps the theoretical arrival time `tat`: with emission interval
/// `T = 1/rate` and tolerance `τ = (burst − 1)·T`, an arrival at `t` is
/// admitted iff `t ≥ tat − τ`, then `tat = max(tat, t) + T`. The token bucket
/// keeps its fill level as credit in µs (one token = `T`), capped at
/// `burst·T`. Both admit at most `burst + rate·W` in any window of length `W`.
#[derive(Clone)]
pub struct RateLimiter {
    algorithm: RateLimiterAlgorithm,
    emission_interval_us: u64,
    burst: u64,
    /// GCRA: theoretical arrival time in µs.
    theoretical_arrival_us: u64,
    /// Token bucket: credit in µs and when it was last refilled.
    credit_us: u64,
    refilled_at_us: u64,
    pub admitted: u64,
    pub rejected: u64,
}

impl RateLimiter {
    pub fn new(spec: &RateLimiterSpec) -> RateLimiter {
        // Rounded to whole µs; at 20/s the interval is exactly 50 000 µs.
        let emission_interval_us = libm::round(1e6 / spec.rate_per_second).max(1.0) as u64;
        let burst = spec.burst.max(1) as u64;
        RateLimiter {
            algorithm: spec.algorithm,
            emission_interval_us,
            burst,
            theoretical_arrival_us: 0,
            credit_us: burst * emission_interval_us,
            refilled_at_us: 0,
            admitted: 0,
            rejected: 0,
        }
    }

    pub fn try_acquire(&mut self, now: SimTime) -> bool {
        let now_us = now.as_micros();
        let interval = self.emission_interval_us;
        let admitted = match self.algorithm {
            RateLimiterAlgorithm::Gcra => {
                let tolerance = (self.burst - 1) * interval;
                if now_us + tolerance >= self.theoretical_arrival_us {
                    self.theoretical_arrival_us =
                        self.theoretical_arrival_us.max(now_us) + interval;
                    true
                } else {
                    false
                }
            }
            RateLimiterAlgorithm::TokenBucket => {
                let elapsed = now_us.saturating_sub(self.refilled_at_us);
                self.refilled_at_us = self.refilled_at_us.max(now_us);
                self.credit_us = (self.credit_us + elapsed).min(self.burst * interval);
                if self.credit_us >= interval {
                    self.credit_us -= interval;
                    true
                } else {
                    false
                }
            }
        };
        if admitted {
            self.admitted += 1;
        } else {
            self.rejected += 1;
        }
        admitted
    }
}

// ---- Retry budget (Finagle) -------------------------------------------------

/// Finagle's `RetryBudget` (TokenRetryBudget over a WindowedAdder): deposits of
/// 1000 per call, withdrawals of 1000/percent per retry, both expiring after
/// `ttl`, plus a fixed reserve of `min_retries_per_second · ttl` retries.
#[derive(Clone)]
pub struct RetryBudget {
    slice_us: u64,
    /// (slice index, net units), oldest first; at most `SLICES` entries.
    slices: VecDeque<(u64, i64)>,
    withdrawal_units: i64,
    reserve_units: i64,
    pub exhausted: u64,
}

/// Finagle's WindowedAdder splits the ttl into 10 slices.
const RETRY_BUDGET_SLICES: u64 = 10;
const RETRY_BUDGET_DEPOSIT_UNITS: i64 = 1_000;

impl RetryBudget {
    pub fn new(spec: &RetryBudgetSpec) -> RetryBudget {
        let percent = (spec.percent_can_retry / 100.0).max(1e-6);
        let withdrawal_units = libm::round(RETRY_BUDGET_DEPOSIT_UNITS as f64 / percent) as i64;
        let ttl_seconds = spec.ttl_ms as f64 / 1_000.0;
        let reserve_units =
            libm::round(spec.min_retries_per_second * ttl_seconds * withdrawal_units as f64) as i64;
        RetryBudget {
            slice_us: (spec.ttl_ms * 1_000 / RETRY_BUDGET_SLICES).max(1),
            slices: VecDeque::new(),
            withdrawal_units,
            reserve_units,
            exhausted: 0,
        }
    }

    fn add(&mut self, now: SimTime, units: i64) {
        let current = now.as_micros() / self.slice_us;
        match self.slices.back_mut() {
            Some((index, sum)) if *index == current => *sum += units,
            _ => self.slices.push_back((current, units)),
        }
    }

    fn balance(&mut self, now: SimTime) -> i64 {
        let current = now.as_micros() / self.slice_us;
        while self
            .slices
            .front()
            .is_some_and(|(index, _)| index + RETRY_BUDGET_SLICES <= current)
        {
            self.slices.pop_front();
        }
        self.reserve_units + self.slices.iter().map(|(_, units)| units).sum::<i64>()
    }

    /// Every call (not retry) deposits.
    pub fn deposit(&mut self, now: SimTime) {
        self.add(now, RETRY_BUDGET_DEPOSIT_UNITS);
    }

    /// A retry may go ahead only if the balance covers it.
    pub fn try_withdraw(&mut self, now: SimTime) -> bool {
        if self.balance(now) >= self.withdrawal_units {
            self.add(now, -self.withdrawal_units);
            true
        } else {
            self.exhausted += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::services::CircuitBreakerSpec;

    fn at_ms(ms: u64) -> SimTime {
        SimTime::from_millis(ms)
    }

    #[test]
    fn backoff_formulas_follow_the_aws_article_b2() {
        // expo = min(cap, base·2^n)
        assert_eq!(
            backoff_delay_ms(JitterKind::None, 100.0, 1_000.0, 0, 100.0, 0.7),
            100.0
        );
        assert_eq!(
            backoff_delay_ms(JitterKind::None, 100.0, 1_000.0, 3, 100.0, 0.7),
            800.0
        );
        assert_eq!(
            backoff_delay_ms(JitterKind::None, 100.0, 1_000.0, 4, 100.0, 0.7),
            1_000.0
        );
        // Full: U(0, expo)
        assert_eq!(
            backoff_delay_ms(JitterKind::Full, 100.0, 1_000.0, 2, 100.0, 0.25),
            100.0
        );
        // Equal: expo/2 + U(0, expo/2)
        assert_eq!(
            backoff_delay_ms(JitterKind::Equal, 100.0, 1_000.0, 2, 100.0, 0.5),
            300.0
        );
        assert_eq!(
            backoff_delay_ms(JitterKind::Equal, 100.0, 1_000.0, 2, 100.0, 0.0),
            200.0
        );
        // Decorrelated: min(cap, U(base, 3·prev))
        assert_eq!(
            backoff_delay_ms(JitterKind::Decorrelated, 100.0, 1_000.0, 5, 200.0, 0.5),
            350.0
        );
        assert_eq!(
            backoff_delay_ms(JitterKind::Decorrelated, 100.0, 1_000.0, 5, 900.0, 0.9),
            1_000.0
        );
        assert_eq!(
            backoff_delay_ms(JitterKind::Decorrelated, 100.0, 1_000.0, 0, 100.0, 0.0),
            100.0
        );
    }

    fn record(
        breaker: &mut CircuitBreaker,
        now: SimTime,
        failed: bool,
    ) -> Option<BreakerTransition> {
        let (permit, _) = breaker.try_acquire(now);
        let permit = permit.expect("permitted");
        breaker.on_result(now, permit, failed, 1.0)
    }

    #[test]
    fn resilience4j_defaults_99_failures_do_not_open_the_100th_call_does_c1() {
        let mut breaker = CircuitBreaker::new(CircuitBreakerSpec::Resilience4jDefaults.config());
        for call in 0..99 {
            assert_eq!(record(&mut breaker, at_ms(call), true), None, "call {call}");
            assert_eq!(breaker.state(), BreakerState::Closed);
        }
        // The 100th call succeeds; 99% ≥ 50% over 100 calls opens the breaker.
        let transition = record(&mut breaker, at_ms(100), false).expect("opens");
        assert_eq!(transition.to, BreakerState::Open);
        assert!(transition.reason.contains("99.0%"), "{}", transition.reason);
        // Open: refused until 60 s have passed.
        assert_eq!(breaker.try_acquire(at_ms(59_000)).0, None);
        let (permit, transition) = breaker.try_acquire(at_ms(60_100));
        assert!(permit.is_some());
        assert_eq!(transition.expect("half-open").to, BreakerState::HalfOpen);
    }

    #[test]
    fn resilience4j_exactly_50_percent_opens_49_percent_does_not_c1() {
        let mut breaker = CircuitBreaker::new(CircuitBreakerSpec::Resilience4jDefaults.config());
        for call in 0..100 {
            let failed = call % 2 == 0; // 50 failures in 100
            let transition = record(&mut breaker, at_ms(call), failed);
            assert_eq!(transition.is_some(), call == 99, "call {call}");
        }
        assert_eq!(breaker.state(), BreakerState::Open);

        let mut breaker = CircuitBreaker::new(CircuitBreakerSpec::Resilience4jDefaults.config());
        for call in 0..100 {
            let failed = call < 49; // 49 failures in 100
            assert_eq!(record(&mut breaker, at_ms(call), failed), None);
        }
        // The window slides: the 101st call replaces a failure with a success.
        assert_eq!(record(&mut breaker, at_ms(100), false), None);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn resilience4j_half_open_needs_all_10_trial_calls_then_closes_or_reopens_c1() {
        let config = CircuitBreakerSpec::Resilience4jDefaults.config();
        let open = |breaker: &mut CircuitBreaker| {
            for call in 0..100 {
                record(breaker, at_ms(call), true);
            }
            assert_eq!(breaker.state(), BreakerState::Open);
        };
        // Closes: 5 failures of 10 trial calls is 50%, which reopens; 4 of 10 closes.
        let mut breaker = CircuitBreaker::new(config.clone());
        open(&mut breaker);
        let start = at_ms(61_000);
        let permits: Vec<_> = (0..10)
            .map(|_| breaker.try_acquire(start).0.expect("trial permitted"))
            .collect();
        assert_eq!(breaker.try_acquire(start).0, None, "11th trial refused");
        for (index, permit) in permits.iter().enumerate() {
            let transition = breaker.on_result(start, *permit, index < 4, 1.0);
            assert_eq!(transition.is_some(), index == 9);
        }
        assert_eq!(breaker.state(), BreakerState::Closed);

        let mut breaker = CircuitBreaker::new(config);
        open(&mut breaker);
        let permits: Vec<_> = (0..10)
            .map(|_| breaker.try_acquire(start).0.expect("trial permitted"))
            .collect();
        for (index, permit) in permits.iter().enumerate() {
            breaker.on_result(start, *permit, index < 5, 1.0);
        }
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[test]
    fn resilience4j_slow_calls_open_at_100_percent_slow_c1() {
        let mut breaker = CircuitBreaker::new(CircuitBreakerSpec::Resilience4jDefaults.config());
        for call in 0..99 {
            let (permit, _) = breaker.try_acquire(at_ms(call));
            breaker.on_result(at_ms(call), permit.unwrap(), false, 60_000.0);
        }
        let (permit, _) = breaker.try_acquire(at_ms(99));
        // One fast call among 100: 99% slow < 100% keeps it closed.
        assert_eq!(
            breaker.on_result(at_ms(99), permit.unwrap(), false, 59_999.0),
            None
        );
        let (permit, _) = breaker.try_acquire(at_ms(100));
        // Sliding: the fast call stays in the window; still 99%.
        assert_eq!(
            breaker.on_result(at_ms(100), permit.unwrap(), false, 60_000.0),
            None
        );
        let mut breaker = CircuitBreaker::new(CircuitBreakerSpec::Resilience4jDefaults.config());
        let mut last = None;
        for call in 0..100 {
            let (permit, _) = breaker.try_acquire(at_ms(call));
            last = breaker.on_result(at_ms(call), permit.unwrap(), false, 60_000.0);
        }
        assert!(last.expect("opens").reason.contains("slow call rate"));
    }

    #[test]
    fn hystrix_19_requests_never_open_the_20th_at_50_percent_does_c2() {
        let mut breaker = CircuitBreaker::new(CircuitBreakerSpec::HystrixDefaults.config());
        for call in 0..19 {
            assert_eq!(record(&mut breaker, at_ms(call * 10), true), None);
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        // 20th request: 19 of 20 failed (95%) → open.
        assert_eq!(
            record(&mut breaker, at_ms(200), false).map(|t| t.to),
            Some(BreakerState::Open)
        );
        // Sleep window 5 s, then exactly one trial request.
        assert_eq!(breaker.try_acquire(at_ms(5_100)).0, None);
        let (trial, _) = breaker.try_acquire(at_ms(5_200));
        assert!(trial.is_some());
        assert_eq!(breaker.try_acquire(at_ms(5_200)).0, None, "one trial only");
        let transition = breaker.on_result(at_ms(5_210), trial.unwrap(), false, 1.0);
        assert_eq!(transition.map(|t| t.to), Some(BreakerState::Closed));
    }

    #[test]
    fn hystrix_exactly_50_percent_of_20_opens_and_old_buckets_roll_out_c2() {
        let mut breaker = CircuitBreaker::new(CircuitBreakerSpec::HystrixDefaults.config());
        for call in 0..20 {
            let transition = record(&mut breaker, at_ms(call), call % 2 == 0);
            assert_eq!(transition.is_some(), call == 19, "call {call}");
        }
        // Failures older than the 10 s rolling window no longer count.
        let mut breaker = CircuitBreaker::new(CircuitBreakerSpec::HystrixDefaults.config());
        for call in 0..19 {
            record(&mut breaker, at_ms(call), true);
        }
        for call in 0..20 {
            assert_eq!(record(&mut breaker, at_ms(10_000 + call), false), None);
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn polly_v8_needs_100_calls_in_30_s_and_opens_at_10_percent_c3() {
        let mut breaker = CircuitBreaker::new(CircuitBreakerSpec::PollyV8Defaults.config());
        // 99 calls, all failing: under the minimum throughput.
        for call in 0..99 {
            assert_eq!(record(&mut breaker, at_ms(call * 100), true), None);
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        let mut breaker = CircuitBreaker::new(CircuitBreakerSpec::PollyV8Defaults.config());
        // 100 calls, exactly 10 failing (10%) → break for 5 s.
        for call in 0..100 {
            let transition = record(&mut breaker, at_ms(call * 100), call < 10);
            assert_eq!(transition.is_some(), call == 99, "call {call}");
        }
        assert_eq!(breaker.try_acquire(at_ms(9_900 + 4_999)).0, None);
        assert!(breaker.try_acquire(at_ms(9_900 + 5_000)).0.is_some());
        // 9 failures in 100 stay closed.
        let mut breaker = CircuitBreaker::new(CircuitBreakerSpec::PollyV8Defaults.config());
        for call in 0..100 {
            assert_eq!(record(&mut breaker, at_ms(call * 100), call < 9), None);
        }
    }

    #[test]
    fn stale_outcomes_from_before_a_transition_are_ignored() {
        let mut breaker = CircuitBreaker::new(CircuitBreakerSpec::HystrixDefaults.config());
        let (early, _) = breaker.try_acquire(at_ms(0));
        for call in 0..20 {
            record(&mut breaker, at_ms(call), true);
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(
            breaker.on_result(at_ms(30), early.unwrap(), false, 1.0),
            None
        );
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    fn limiter(algorithm: RateLimiterAlgorithm, rate: f64, burst: u32) -> RateLimiter {
        RateLimiter::new(&RateLimiterSpec {
            algorithm,
            rate_per_second: rate,
            burst,
        })
    }

    #[test]
    fn gcra_at_20_per_second_admits_20_at_once_then_one_per_50_ms_b3() {
        for algorithm in [
            RateLimiterAlgorithm::Gcra,
            RateLimiterAlgorithm::TokenBucket,
        ] {
            let mut limiter = limiter(algorithm, 20.0, 20);
            let start = at_ms(1_000);
            for request in 0..20 {
                assert!(
                    limiter.try_acquire(start),
                    "{algorithm:?} request {request}"
                );
            }
            assert!(!limiter.try_acquire(start), "{algorithm:?}: 21st rejected");
            assert!(
                !limiter.try_acquire(start.plus(crate::time::SimDuration::from_micros(49_999))),
                "{algorithm:?}: not before 50 ms"
            );
            assert!(
                limiter.try_acquire(at_ms(1_050)),
                "{algorithm:?}: admitted after 50 ms"
            );
            assert!(!limiter.try_acquire(at_ms(1_050)));
        }
    }

    #[test]
    fn retry_budget_allows_reserve_plus_twenty_percent_finagle() {
        let spec = RetryBudgetSpec {
            percent_can_retry: 20.0,
            min_retries_per_second: 0.0,
            ttl_ms: 10_000,
        };
        let mut budget = RetryBudget::new(&spec);
        for _ in 0..100 {
            budget.deposit(at_ms(0));
        }
        let allowed = (0..100).filter(|_| budget.try_withdraw(at_ms(1))).count();
        assert_eq!(allowed, 20);
        // Deposits expire after the ttl.
        assert!(!budget.try_withdraw(at_ms(10_500)));
        let mut budget = RetryBudget::new(&RetryBudgetSpec {
            percent_can_retry: 20.0,
            min_retries_per_second: 10.0,
            ttl_ms: 10_000,
        });
        let reserve = (0..1_000).filter(|_| budget.try_withdraw(at_ms(0))).count();
        assert_eq!(reserve, 100, "10/s over 10 s");
    }
}
