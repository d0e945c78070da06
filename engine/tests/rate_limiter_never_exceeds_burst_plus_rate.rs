//! Rate limiters (row B3): GCRA and the token bucket never admit more than
//! `burst + rate·T` requests in any window of length T, whatever the arrivals.
#![cfg(not(target_arch = "wasm32"))]

use faultline_engine::components::resilience::RateLimiter;
use faultline_engine::scenario::services::{RateLimiterAlgorithm, RateLimiterSpec};
use faultline_engine::{SimDuration, SimTime};
use proptest::prelude::*;

fn admitted_times(
    algorithm: RateLimiterAlgorithm,
    rate_per_second: f64,
    burst: u32,
    gaps_us: &[u64],
) -> Vec<u64> {
    let mut limiter = RateLimiter::new(&RateLimiterSpec {
        algorithm,
        rate_per_second,
        burst,
    });
    let mut now = 0u64;
    let mut admitted = Vec::new();
    for gap in gaps_us {
        now += gap;
        if limiter.try_acquire(SimTime::ZERO.plus(SimDuration::from_micros(now))) {
            admitted.push(now);
        }
    }
    admitted
}

/// Every window [start, start + T] anchored at an admission (the worst case).
fn worst_window_violation(admitted: &[u64], rate_per_second: f64, burst: u32) -> Option<String> {
    for (first, start) in admitted.iter().enumerate() {
        for (last, end) in admitted.iter().enumerate().skip(first) {
            let window_us = end - start;
            let count = (last - first + 1) as f64;
            // The limiter rounds its interval to whole µs: allow that rounding.
            let interval_us = (1e6 / rate_per_second).round();
            let bound = burst as f64 + window_us as f64 / interval_us;
            if count > bound + 1e-9 {
                return Some(format!(
                    "{count} admitted in [{start}, {end}] µs, bound {bound:.3}"
                ));
            }
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn gcra_admissions_in_any_window_stay_within_burst_plus_rate_times_window(
        rate in 1.0f64..200.0,
        burst in 1u32..30,
        gaps in proptest::collection::vec(0u64..40_000, 1..300),
    ) {
        let admitted = admitted_times(RateLimiterAlgorithm::Gcra, rate, burst, &gaps);
        let violation = worst_window_violation(&admitted, rate, burst);
        prop_assert!(violation.is_none(), "GCRA rate {rate} burst {burst}: {violation:?}");
    }

    #[test]
    fn token_bucket_admits_exactly_what_gcra_admits(
        rate in 1.0f64..200.0,
        burst in 1u32..30,
        gaps in proptest::collection::vec(0u64..40_000, 1..300),
    ) {
        let gcra = admitted_times(RateLimiterAlgorithm::Gcra, rate, burst, &gaps);
        let bucket = admitted_times(RateLimiterAlgorithm::TokenBucket, rate, burst, &gaps);
        prop_assert_eq!(gcra, bucket);
    }
}
