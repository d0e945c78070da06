//! Text formatting for the UI: simulated times, counts, rates and speed multipliers.
//!
//! Times are formatted from integer microseconds so the clock never shows
//! floating-point noise such as `9.999999 s`.

const MICROS_PER_MILLI: u64 = 1_000;
const MICROS_PER_SECOND: u64 = 1_000_000;

/// `12.345 s`: seconds with millisecond precision (truncated, so the clock
/// never shows a time that has not happened yet).
pub fn sim_seconds(time_us: u64) -> String {
    let whole_seconds = time_us / MICROS_PER_SECOND;
    let millis = (time_us % MICROS_PER_SECOND) / MICROS_PER_MILLI;
    format!("{whole_seconds}.{millis:03} s")
}

/// `30 s`, `1.5 s`, `250 ms`: a run length as a person would write it.
pub fn duration_ms(duration_ms: u64) -> String {
    if duration_ms < 1_000 {
        format!("{duration_ms} ms")
    } else if duration_ms.is_multiple_of(1_000) {
        format!("{} s", duration_ms / 1_000)
    } else {
        format!(
            "{} s",
            sim_seconds(duration_ms * MICROS_PER_MILLI)
                .trim_end_matches(" s")
                .trim_end_matches('0')
        )
    }
}

/// `1 link`, `3 links`: a count with its noun, pluralised in English.
pub fn counted(value: usize, singular: &str, plural: &str) -> String {
    format!(
        "{} {}",
        count(value as u64),
        if value == 1 { singular } else { plural }
    )
}

/// `1,234,567`: an integer with thousands separators.
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// `812`, `45.6 k`, `1.23 M`: a rate per second, short enough for a side panel.
pub fn rate_per_second(per_second: f64) -> String {
    if !per_second.is_finite() || per_second <= 0.0 {
        return "0".to_string();
    }
    if per_second >= 1_000_000.0 {
        format!("{:.2} M", per_second / 1_000_000.0)
    } else if per_second >= 1_000.0 {
        format!("{:.1} k", per_second / 1_000.0)
    } else {
        format!("{per_second:.0}")
    }
}

/// `100×`, `0.5×`: a speed multiplier (sim time per real second).
pub fn speed(speed_multiplier: f64) -> String {
    // 9.96 rounds to "10×", not "10.0×"; slow speeds keep two significant
    // digits so 0.01× does not read as "0.0×".
    if speed_multiplier >= 9.95 || speed_multiplier.fract() == 0.0 {
        format!("{speed_multiplier:.0}×")
    } else if speed_multiplier >= 0.95 {
        format!("{speed_multiplier:.1}×")
    } else {
        let digits = format!("{speed_multiplier:.3}");
        format!("{}×", digits.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// `Payment gatew…`: at most `max_chars` characters, with an ellipsis when cut.
pub fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(max_chars.saturating_sub(1)).collect();
        short.push('…');
        short
    }
}

/// `load_generator` → `load generator`: a wire name made readable.
pub fn wire_name(name: &str) -> String {
    name.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_seconds_truncates_to_millis() {
        assert_eq!(sim_seconds(0), "0.000 s");
        assert_eq!(sim_seconds(12_345_999), "12.345 s");
        assert_eq!(sim_seconds(30_000_000), "30.000 s");
    }

    #[test]
    fn durations_and_counted_nouns_read_naturally() {
        assert_eq!(duration_ms(250), "250 ms");
        assert_eq!(duration_ms(30_000), "30 s");
        assert_eq!(duration_ms(1_500), "1.5 s");
        assert_eq!(counted(1, "link", "links"), "1 link");
        assert_eq!(counted(2_000, "node", "nodes"), "2,000 nodes");
    }

    #[test]
    fn long_text_is_shortened() {
        assert_eq!(shorten("API", 20), "API");
        assert_eq!(shorten("abcdefghij", 5), "abcd…");
        assert_eq!(shorten("Zürich–Genève", 7), "Zürich…");
    }

    #[test]
    fn count_groups_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn rates_and_speeds_are_short() {
        assert_eq!(rate_per_second(0.0), "0");
        assert_eq!(rate_per_second(812.4), "812");
        assert_eq!(rate_per_second(45_600.0), "45.6 k");
        assert_eq!(rate_per_second(1_234_000.0), "1.23 M");
        assert_eq!(speed(1.0), "1×");
        assert_eq!(speed(1_000.0), "1000×");
        assert_eq!(speed(0.5), "0.5×");
        assert_eq!(speed(9.96), "10×");
        assert_eq!(speed(4.26), "4.3×");
        assert_eq!(speed(0.01), "0.01×");
        assert_eq!(speed(0.1), "0.1×");
        assert_eq!(speed(10_000.0), "10000×");
    }
}
