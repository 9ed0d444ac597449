//! Human-friendly durations for the command line: `500ms`, `30s`, `5m`, `1h`, `2h30m`, `1.5s`, `10`.
//!
//! Parsing is exact decimal arithmetic in integer nanoseconds rather than floating point, so `0.1s` is
//! exactly 100ms and a huge value is reported as too large instead of silently saturating.

use std::time::Duration;

const EXAMPLES: &str = "use e.g. 500ms, 30s, 5m, 1h";

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Units in the order `parse` tries them: `ms` must come before `m` and `s`, which are its prefixes.
const UNITS: [(&str, u128); 5] = [
    ("ms", 1_000_000),
    ("s", NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("h", 3600 * NANOS_PER_SEC),
    ("d", 86_400 * NANOS_PER_SEC),
];

/// Parses a duration such as `500ms`, `30s`, `5m`, `1h`, `1d`, `1.5s`, `2h30m` or `1m30s`.
///
/// A bare number (`10`, `0.25`) is seconds. Components may be combined in any order and are summed;
/// each needs a unit, except that the whole string may be a single bare number. Surrounding whitespace
/// is ignored. Fractions finer than a nanosecond are truncated.
pub fn parse(s: &str) -> Result<Duration, String> {
    let fail = |reason: &str| format!("invalid duration {s:?}: {reason}; {EXAMPLES}");
    let text = s.trim();
    if text.is_empty() {
        return Err(fail("it is empty"));
    }
    if text.starts_with('-') {
        return Err(fail("it cannot be negative"));
    }

    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() {
            let bad: String = rest.chars().take_while(|c| !c.is_ascii_digit()).collect();
            return Err(fail(&format!("expected a number, found {bad:?}")));
        }
        if number == "." || number.matches('.').count() > 1 {
            return Err(fail(&format!("{number:?} is not a number")));
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos = if unit.is_empty() {
            // "10" means ten seconds, but "1m30" is ambiguous (30 seconds? minutes?), so refuse it.
            if rest.len() != text.len() {
                return Err(fail(&format!("{number:?} has no unit")));
            }
            NANOS_PER_SEC
        } else {
            match UNITS.iter().find(|(name, _)| *name == unit) {
                Some(&(_, nanos)) => nanos,
                None => return Err(fail(&format!("unknown unit {unit:?}"))),
            }
        };
        let nanos = scaled(number, unit_nanos).ok_or_else(|| fail("it is too large"))?;
        total = total
            .checked_add(nanos)
            .ok_or_else(|| fail("it is too large"))?;
        rest = after;
    }

    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| fail("it is too large"))?;
    // The remainder is below one billion, so it always fits.
    let nanos = u32::try_from(total % NANOS_PER_SEC).unwrap_or(0);
    Ok(Duration::new(secs, nanos))
}

/// `number` (digits with at most one '.') times `unit_nanos`, truncated to whole nanoseconds;
/// None on overflow. Malformed numbers are rejected by the caller; here they just must not panic.
fn scaled(number: &str, unit_nanos: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let mut nanos: u128 = 0;
    for digit in whole.bytes().filter(u8::is_ascii_digit) {
        nanos = nanos
            .checked_mul(10)?
            .checked_add(u128::from(digit - b'0'))?;
    }
    nanos = nanos.checked_mul(unit_nanos)?;
    // Digits past the 18th cannot matter: even in days, 1e-18 of a unit is far below a nanosecond.
    let mut numerator: u128 = 0;
    let mut denominator: u128 = 1;
    for digit in fraction.bytes().filter(u8::is_ascii_digit).take(18) {
        numerator = numerator * 10 + u128::from(digit - b'0');
        denominator *= 10;
    }
    nanos.checked_add(numerator * unit_nanos / denominator)
}

/// Formats a duration shortly for people: `450ms`, `12s`, `1m30s`, `2h5m`, `3d4h`, `0s`.
///
/// At most two adjacent units, the smaller dropped when zero (`2h`, not `2h0m`), everything finer
/// rounded down. Milliseconds appear only below one second. The output is accepted by [`parse`].
pub fn format(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_string();
    }
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_secs();
    let parts = [
        (secs / 86_400, "d"),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
    ];
    // At least one part is non-zero because d >= 1s.
    let first = parts.iter().position(|&(n, _)| n > 0).unwrap_or(3);
    let (n, unit) = parts[first];
    match parts.get(first + 1) {
        Some(&(m, next)) if m > 0 => format!("{n}{unit}{m}{next}"),
        _ => format!("{n}{unit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_single_units() {
        assert_eq!(parse("500ms"), Ok(ms(500)));
        assert_eq!(parse("30s"), Ok(ms(30_000)));
        assert_eq!(parse("5m"), Ok(ms(300_000)));
        assert_eq!(parse("1h"), Ok(ms(3_600_000)));
        assert_eq!(parse("2d"), Ok(ms(172_800_000)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn parses_fractions_exactly() {
        assert_eq!(parse("1.5s"), Ok(ms(1500)));
        assert_eq!(parse("0.1s"), Ok(ms(100)));
        assert_eq!(parse("0.5m"), Ok(ms(30_000)));
        assert_eq!(parse(".5s"), Ok(ms(500)));
        assert_eq!(parse("5.s"), Ok(ms(5000)));
        assert_eq!(parse("1.5ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(parse("0.0000000019s"), Ok(Duration::from_nanos(1)));
        // Many digits are fine; the ones beyond nanoseconds are dropped.
        assert_eq!(
            parse("0.33333333333333333333333333333333h"),
            Ok(Duration::new(1199, 999_999_999))
        );
    }

    #[test]
    fn parses_bare_numbers_as_seconds() {
        assert_eq!(parse("10"), Ok(ms(10_000)));
        assert_eq!(parse("0.25"), Ok(ms(250)));
        assert_eq!(parse(" 7 "), Ok(ms(7000)));
    }

    #[test]
    fn parses_compound_durations() {
        assert_eq!(parse("2h30m"), Ok(ms(9_000_000)));
        assert_eq!(parse("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse("1h1m1s1ms"), Ok(ms(3_661_001)));
        assert_eq!(parse("1d12h"), Ok(ms(129_600_000)));
        assert_eq!(parse("30s1m"), Ok(ms(90_000)));
    }

    #[test]
    fn rejects_bad_input_with_an_explanation() {
        let err = parse("5x").unwrap_err();
        assert_eq!(
            err,
            "invalid duration \"5x\": unknown unit \"x\"; use e.g. 500ms, 30s, 5m, 1h"
        );
        for (input, reason) in [
            ("", "it is empty"),
            ("   ", "it is empty"),
            ("-5s", "it cannot be negative"),
            ("-1", "it cannot be negative"),
            ("NaN", "expected a number, found \"NaN\""),
            ("inf", "expected a number, found \"inf\""),
            ("s", "expected a number, found \"s\""),
            ("1m30", "\"30\" has no unit"),
            ("1.2.3s", "\"1.2.3\" is not a number"),
            (".s", "\".\" is not a number"),
            ("5 m", "unknown unit \" m\""),
            ("5M", "unknown unit \"M\""),
            ("1e3s", "unknown unit \"e\""),
            ("+5s", "expected a number, found \"+\""),
            ("5ms5", "\"5\" has no unit"),
        ] {
            let err = parse(input).unwrap_err();
            assert!(err.contains(reason), "{input:?}: {err}");
            assert!(err.ends_with("use e.g. 500ms, 30s, 5m, 1h"), "{err}");
        }
    }

    #[test]
    fn rejects_overflow_without_panicking() {
        for input in [
            "99999999999999999999h",
            "99999999999999999999999999999999999999999999s",
            "213503982334602d",
            "18446744073709551616",
            "18446744073709551615s1s",
        ] {
            let err = parse(input).unwrap_err();
            assert!(err.contains("too large"), "{input:?}: {err}");
        }
        assert_eq!(
            parse("18446744073709551615"),
            Ok(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn formats_shortly() {
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_micros(10)), "0ms");
        assert_eq!(format(ms(450)), "450ms");
        assert_eq!(format(ms(999)), "999ms");
        assert_eq!(format(ms(1000)), "1s");
        assert_eq!(format(ms(12_999)), "12s");
        assert_eq!(format(ms(60_000)), "1m");
        assert_eq!(format(ms(90_000)), "1m30s");
        assert_eq!(format(ms(3_600_000)), "1h");
        assert_eq!(format(ms(3_601_000)), "1h");
        assert_eq!(format(ms(7_500_000)), "2h5m");
        assert_eq!(format(ms(86_400_000)), "1d");
        assert_eq!(format(ms(288_000_000 + 59 * 60_000)), "3d8h");
        assert_eq!(format(Duration::from_secs(u64::MAX)), "213503982334601d7h");
    }

    #[test]
    fn format_output_parses_back_rounded_down() {
        for millis in [
            1,
            450,
            1000,
            1500,
            61_000,
            90_000,
            3_599_999,
            7_500_000,
            300_000_000,
        ] {
            let d = ms(millis);
            let back = parse(&format(d)).unwrap();
            // Rounding down loses at most the units not shown, and formatting again shows the same.
            assert!(back <= d, "{millis}: {back:?}");
            assert_eq!(format(back), format(d));
        }
    }

    #[test]
    fn garbage_never_panics() {
        let alphabet: Vec<char> = "0123456789.msdhx -+eé\u{0}".chars().collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 12) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((state >> (i * 5)) % alphabet.len() as u64) as usize])
                .collect();
            let _ = parse(&s);
        }
    }
}
