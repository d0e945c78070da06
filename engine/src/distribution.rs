//! Delay distributions (constant, uniform, exponential, normal, log-normal, Pareto, empirical).
//!
//! Every transcendental function goes through `libm`, never `f64::ln` and
//! friends: std delegates those to the platform's C library, whose last bit
//! differs between glibc and wasm32. `libm` is one pure-Rust implementation
//! everywhere, so a seed yields the same trace natively and in the browser.

use crate::rng::SimRng;
use crate::scenario::problems::Problems;
use crate::time::SimDuration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A distribution of durations, in milliseconds. Samples below zero clamp to zero.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Always `value_ms`.
    Constant { value_ms: f64 },
    /// Uniform in `[low_ms, high_ms]`.
    Uniform { low_ms: f64, high_ms: f64 },
    /// Exponential with mean `mean_ms` (Poisson inter-arrival times, M/M/c service).
    Exponential { mean_ms: f64 },
    /// Normal, truncated at zero.
    Normal { mean_ms: f64, std_dev_ms: f64 },
    /// Log-normal: `exp(N(ln(median_ms), sigma))`. A heavy right tail, typical of RPC latency.
    LogNormal { median_ms: f64, sigma: f64 },
    /// Pareto (type I): minimum `scale_ms`, tail index `shape` (smaller is heavier).
    Pareto { scale_ms: f64, shape: f64 },
    /// A weighted choice among observed values.
    Empirical { points: Vec<EmpiricalPoint> },
}

/// One observed value of an empirical distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmpiricalPoint {
    pub value_ms: f64,
    pub weight: f64,
}

/// Empirical distributions are bounded so a file cannot make sampling slow.
pub const MAX_EMPIRICAL_POINTS: usize = 4_096;

impl Distribution {
    /// One sample, in (fractional) milliseconds.
    pub fn sample_ms(&self, rng: &mut SimRng) -> f64 {
        match self {
            Distribution::Constant { value_ms } => *value_ms,
            Distribution::Uniform { low_ms, high_ms } => {
                low_ms + (high_ms - low_ms) * rng.next_f64()
            }
            Distribution::Exponential { mean_ms } => -mean_ms * libm::log(rng.next_f64_open_zero()),
            Distribution::Normal {
                mean_ms,
                std_dev_ms,
            } => mean_ms + std_dev_ms * standard_normal(rng),
            Distribution::LogNormal { median_ms, sigma } => {
                median_ms * libm::exp(sigma * standard_normal(rng))
            }
            Distribution::Pareto { scale_ms, shape } => {
                scale_ms / libm::pow(rng.next_f64_open_zero(), 1.0 / shape)
            }
            Distribution::Empirical { points } => {
                let total_weight: f64 = points.iter().map(|point| point.weight).sum();
                let mut target = rng.next_f64() * total_weight;
                for point in points {
                    if target < point.weight {
                        return point.value_ms;
                    }
                    target -= point.weight;
                }
                points.last().map_or(0.0, |point| point.value_ms)
            }
        }
    }

    /// One sample as a duration (rounded to microseconds, clamped at zero).
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        SimDuration::from_millis_f64(self.sample_ms(rng))
    }

    /// The mean in milliseconds, where it is finite (Pareto with shape <= 1 has none).
    pub fn mean_ms(&self) -> Option<f64> {
        match self {
            Distribution::Constant { value_ms } => Some(*value_ms),
            Distribution::Uniform { low_ms, high_ms } => Some((low_ms + high_ms) / 2.0),
            Distribution::Exponential { mean_ms } => Some(*mean_ms),
            Distribution::Normal { mean_ms, .. } => Some(*mean_ms),
            Distribution::LogNormal { median_ms, sigma } => {
                Some(median_ms * libm::exp(sigma * sigma / 2.0))
            }
            Distribution::Pareto { scale_ms, shape } => {
                (*shape > 1.0).then(|| shape * scale_ms / (shape - 1.0))
            }
            Distribution::Empirical { points } => {
                let total_weight: f64 = points.iter().map(|point| point.weight).sum();
                (total_weight > 0.0).then(|| {
                    points
                        .iter()
                        .map(|point| point.value_ms * point.weight)
                        .sum::<f64>()
                        / total_weight
                })
            }
        }
    }

    /// Records every problem with this distribution's parameters under `path`.
    pub fn validate(&self, path: &str, problems: &mut Problems) {
        let mut non_negative = |field: &str, value: f64| {
            if !value.is_finite() || value < 0.0 {
                problems.push(
                    format!("{path}.{field}"),
                    format!("expected a finite number >= 0, found {value}"),
                );
            }
        };
        match self {
            Distribution::Constant { value_ms } => non_negative("constant.value_ms", *value_ms),
            Distribution::Uniform { low_ms, high_ms } => {
                non_negative("uniform.low_ms", *low_ms);
                non_negative("uniform.high_ms", *high_ms);
                if high_ms < low_ms {
                    problems.push(
                        format!("{path}.uniform.high_ms"),
                        format!("expected high_ms >= low_ms ({low_ms}), found {high_ms}"),
                    );
                }
            }
            Distribution::Exponential { mean_ms } => non_negative("exponential.mean_ms", *mean_ms),
            Distribution::Normal {
                mean_ms,
                std_dev_ms,
            } => {
                non_negative("normal.mean_ms", *mean_ms);
                non_negative("normal.std_dev_ms", *std_dev_ms);
            }
            Distribution::LogNormal { median_ms, sigma } => {
                non_negative("log_normal.median_ms", *median_ms);
                if !sigma.is_finite() || *sigma < 0.0 || *sigma > 10.0 {
                    problems.push(
                        format!("{path}.log_normal.sigma"),
                        format!("expected a number in [0, 10], found {sigma}"),
                    );
                }
            }
            Distribution::Pareto { scale_ms, shape } => {
                non_negative("pareto.scale_ms", *scale_ms);
                if !shape.is_finite() || *shape <= 0.0 {
                    problems.push(
                        format!("{path}.pareto.shape"),
                        format!("expected a number > 0, found {shape}"),
                    );
                }
            }
            Distribution::Empirical { points } => {
                if points.is_empty() || points.len() > MAX_EMPIRICAL_POINTS {
                    problems.push(
                        format!("{path}.empirical.points"),
                        format!(
                            "expected 1 to {MAX_EMPIRICAL_POINTS} points, found {}",
                            points.len()
                        ),
                    );
                }
                for (index, point) in points.iter().enumerate() {
                    if !point.value_ms.is_finite() || point.value_ms < 0.0 {
                        problems.push(
                            format!("{path}.empirical.points[{index}].value_ms"),
                            format!("expected a finite number >= 0, found {}", point.value_ms),
                        );
                    }
                    if !point.weight.is_finite() || point.weight <= 0.0 {
                        problems.push(
                            format!("{path}.empirical.points[{index}].weight"),
                            format!("expected a number > 0, found {}", point.weight),
                        );
                    }
                }
            }
        }
    }
}

/// Box–Muller (one of the pair): exact and portable given libm.
fn standard_normal(rng: &mut SimRng) -> f64 {
    let radius = libm::sqrt(-2.0 * libm::log(rng.next_f64_open_zero()));
    let angle = 2.0 * core::f64::consts::PI * rng.next_f64();
    radius * libm::cos(angle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_mean(distribution: &Distribution, count: usize) -> f64 {
        let mut rng = SimRng::for_stream(11, 5);
        (0..count)
            .map(|_| distribution.sample_ms(&mut rng))
            .sum::<f64>()
            / count as f64
    }

    #[test]
    fn sample_means_match_analytic_means() {
        let cases = [
            Distribution::Constant { value_ms: 4.0 },
            Distribution::Uniform {
                low_ms: 2.0,
                high_ms: 6.0,
            },
            Distribution::Exponential { mean_ms: 5.0 },
            Distribution::Normal {
                mean_ms: 50.0,
                std_dev_ms: 5.0,
            },
            Distribution::LogNormal {
                median_ms: 10.0,
                sigma: 0.5,
            },
            Distribution::Pareto {
                scale_ms: 1.0,
                shape: 3.0,
            },
            Distribution::Empirical {
                points: vec![
                    EmpiricalPoint {
                        value_ms: 1.0,
                        weight: 3.0,
                    },
                    EmpiricalPoint {
                        value_ms: 5.0,
                        weight: 1.0,
                    },
                ],
            },
        ];
        for distribution in cases {
            let expected = distribution.mean_ms().unwrap();
            let observed = sample_mean(&distribution, 200_000);
            // 2% covers sampling error at 200k draws for all of these shapes.
            assert!(
                (observed - expected).abs() <= 0.02 * expected,
                "{distribution:?}: sample mean {observed}, expected {expected}"
            );
        }
    }

    #[test]
    fn samples_are_never_negative_durations() {
        let distribution = Distribution::Normal {
            mean_ms: 1.0,
            std_dev_ms: 10.0,
        };
        let mut rng = SimRng::for_stream(3, 3);
        for _ in 0..1_000 {
            let _ = distribution.sample(&mut rng); // SimDuration is unsigned; must not panic
        }
    }
}
