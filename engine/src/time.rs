//! Simulated time: an integer count of microseconds, never the wall clock.
//!
//! `SimTime` is an instant on the simulation's true timeline; `SimDuration` is
//! a span. Both are plain `u64` microseconds so that ordering and arithmetic
//! are exact and identical on every platform. Nodes may *read* a skewed clock
//! (see `network::NodeClock`), but events are always scheduled in true time.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Microseconds per millisecond; the scenario format speaks milliseconds.
pub const MICROS_PER_MILLI: u64 = 1_000;
/// Microseconds per second.
pub const MICROS_PER_SECOND: u64 = 1_000_000;

/// An instant in simulated time, in microseconds since the run started.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SimTime(pub u64);

/// A span of simulated time, in microseconds.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub fn as_micros(self) -> u64 {
        self.0
    }

    pub fn from_millis(millis: u64) -> SimTime {
        SimTime(millis.saturating_mul(MICROS_PER_MILLI))
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SECOND as f64
    }

    /// Saturating: simulated time never wraps.
    pub fn plus(self, duration: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(duration.0))
    }

    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);

    pub fn from_micros(micros: u64) -> SimDuration {
        SimDuration(micros)
    }

    pub fn from_millis(millis: u64) -> SimDuration {
        SimDuration(millis.saturating_mul(MICROS_PER_MILLI))
    }

    pub fn from_secs(secs: u64) -> SimDuration {
        SimDuration(secs.saturating_mul(MICROS_PER_SECOND))
    }

    /// Converts fractional milliseconds (as sampled from a distribution) to
    /// whole microseconds, rounding to nearest. Negative or NaN becomes zero:
    /// a delay can never run time backwards.
    pub fn from_millis_f64(millis: f64) -> SimDuration {
        if millis.is_nan() || millis <= 0.0 {
            return SimDuration::ZERO;
        }
        let micros = millis * MICROS_PER_MILLI as f64;
        if micros >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            SimDuration(libm::round(micros) as u64)
        }
    }

    pub fn as_micros(self) -> u64 {
        self.0
    }

    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_MILLI as f64
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SECOND as f64
    }
}

impl fmt::Display for SimTime {
    /// `12.345678s`: fixed width after the point so trace lines sort and diff well.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}.{:06}s",
            self.0 / MICROS_PER_SECOND,
            self.0 % MICROS_PER_SECOND
        )
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}us", self.0)
    }
}

/// Parses a human duration such as `30s`, `250ms`, `1500us`, `2m` or a bare
/// number of milliseconds. Used by the CLI's `--until`.
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let text = text.trim();
    let split_at = text
        .find(|character: char| !(character.is_ascii_digit() || character == '.'))
        .unwrap_or(text.len());
    let (number_text, unit) = text.split_at(split_at);
    let number: f64 = number_text
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (expected e.g. 30s, 250ms, 2m)"))?;
    let millis = match unit {
        "" | "ms" => number,
        "us" => number / 1_000.0,
        "s" => number * 1_000.0,
        "m" | "min" => number * 60_000.0,
        "h" => number * 3_600_000.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}` (expected us, ms, s, m or h)"
            ));
        }
    };
    Ok(SimDuration::from_millis_f64(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_fixed_width_seconds() {
        assert_eq!(SimTime(12_345_678).to_string(), "12.345678s");
        assert_eq!(SimTime(5).to_string(), "0.000005s");
    }

    #[test]
    fn parse_duration_units() {
        assert_eq!(parse_duration("30s").unwrap(), SimDuration::from_secs(30));
        assert_eq!(
            parse_duration("250ms").unwrap(),
            SimDuration::from_millis(250)
        );
        assert_eq!(parse_duration("1500us").unwrap(), SimDuration(1_500));
        assert_eq!(parse_duration("2m").unwrap(), SimDuration::from_secs(120));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 parsecs").is_err());
    }

    #[test]
    fn negative_and_nan_delays_clamp_to_zero() {
        assert_eq!(SimDuration::from_millis_f64(-3.0), SimDuration::ZERO);
        assert_eq!(SimDuration::from_millis_f64(f64::NAN), SimDuration::ZERO);
    }
}
