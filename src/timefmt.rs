//! Wall-clock timestamps in the formats our HTTP APIs promise, without a date crate.
//!
//! Every function takes milliseconds since the Unix epoch and formats in UTC. The calendar arithmetic is
//! Howard Hinnant's `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>), which is
//! exact for the proleptic Gregorian calendar and needs no tables, so there is nothing to keep up to date.
//! Leap seconds do not exist here, as they do not exist in Unix time.

use std::time::{SystemTime, UNIX_EPOCH};

const MS_PER_DAY: u64 = 86_400_000;

/// Milliseconds since the Unix epoch by the system clock; 0 if the clock is set before 1970.
pub fn now_ms() -> u64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        // u128 milliseconds only exceed u64 some 584 million years from now; saturate rather than wrap.
        Ok(since) => u64::try_from(since.as_millis()).unwrap_or(u64::MAX),
        Err(_) => 0,
    }
}

/// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-23T10:11:12.345Z`.
pub fn rfc3339(ms: u64) -> String {
    let mut out = Vec::with_capacity(24);
    push_rfc3339(&mut out, ms);
    // Only ASCII is written.
    String::from_utf8(out).unwrap_or_default()
}

/// `rfc3339`, appended to `out` (an answer being written).
pub fn push_rfc3339(out: &mut Vec<u8>, ms: u64) {
    let t = Civil::from_ms(ms);
    if !(0..=9999).contains(&t.year) {
        use std::io::Write;
        // Writing into a Vec cannot fail.
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year, t.month, t.day, t.hour, t.minute, t.second, t.milli
        );
        return;
    }
    // Digit by digit: every answer and log line carries one or two of these, and `format!` cost
    // more than the rest of a grant's answer.
    let mut text = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut n: u64| {
        for i in (at..at + width).rev() {
            text[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, t.year.unsigned_abs());
    put(5, 2, u64::from(t.month));
    put(8, 2, u64::from(t.day));
    put(11, 2, t.hour);
    put(14, 2, t.minute);
    put(17, 2, t.second);
    put(20, 3, t.milli);
    out.extend_from_slice(&text);
}

/// The HAL lock API's format: UTC without a zone suffix, microseconds, e.g. `2013-01-22T23:01:16.771000`.
/// Our clock is millisecond-grained, so the last three digits are always zero.
pub fn hal(ms: u64) -> String {
    let t = Civil::from_ms(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}000",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.milli
    )
}

/// HTTP's `Date` format (IMF-fixdate, RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(ms: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = Civil::from_ms(ms);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS[((ms / MS_PER_DAY) % 7) as usize];
    let month = MONTHS[(t.month as usize).saturating_sub(1) % 12];
    format!(
        "{weekday}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
        t.day, t.year, t.hour, t.minute, t.second
    )
}

/// The gatekeeper API's format, in UTC: `2015-10-27 12:05:38+0000`.
pub fn gatekeeper(ms: u64) -> String {
    let t = Civil::from_ms(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}+0000",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// The request-queue API's format, in UTC on a 12-hour clock: `2014-01-15 12:41:00 PM`.
/// The hour is zero-padded (`09:05:00 AM`), as strftime's `%I` does; midnight is `12:00:00 AM` and
/// noon is `12:00:00 PM`.
pub fn request_queue(ms: u64) -> String {
    let t = Civil::from_ms(ms);
    let (hour12, half) = match t.hour {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {}",
        t.year, t.month, t.day, hour12, t.minute, t.second, half
    )
}

/// A broken-down UTC time.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    milli: u64,
}

impl Civil {
    fn from_ms(ms: u64) -> Civil {
        // u64::MAX / MS_PER_DAY is about 2.1e11 days, far inside i64, so this conversion cannot fail;
        // saturating keeps the function total anyway.
        let days = i64::try_from(ms / MS_PER_DAY).unwrap_or(i64::MAX / 2);
        let in_day = ms % MS_PER_DAY;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: in_day / 3_600_000,
            minute: in_day / 60_000 % 60,
            second: in_day / 1000 % 60,
            milli: in_day % 1000,
        }
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month 1..=12, day 1..=31).
///
/// It counts in 400-year eras starting on March 1st, so that the leap day is the last day of its
/// year and the month lengths repeat in a fixed 5-month pattern (the `153` and `5` below).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // shift the epoch to 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st, [0, 365]
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both values are range-limited by the arithmetic above, so the casts cannot truncate.
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hinnant's inverse, `days_from_civil`, used here to cross-check `civil_from_days` over a long range.
    fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(month);
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    fn ms(year: i64, month: u32, day: u32, h: u64, m: u64, s: u64, milli: u64) -> u64 {
        let days = u64::try_from(days_from_civil(year, month, day)).expect("test date after 1970");
        days * MS_PER_DAY + h * 3_600_000 + m * 60_000 + s * 1000 + milli
    }

    #[test]
    fn epoch() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(hal(0), "1970-01-01T00:00:00.000000");
        assert_eq!(gatekeeper(0), "1970-01-01 00:00:00+0000");
        assert_eq!(request_queue(0), "1970-01-01 12:00:00 AM");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn http_dates_name_the_weekday() {
        // RFC 9110's own example.
        assert_eq!(
            http_date(ms(1994, 11, 6, 8, 49, 37, 0)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            http_date(ms(2026, 12, 2, 15, 28, 38, 999)),
            "Wed, 02 Dec 2026 15:28:38 GMT"
        );
    }

    #[test]
    fn rfc3339_beyond_four_digit_years() {
        // Year 10000 starts 253,402,300,800 s after the epoch.
        assert_eq!(rfc3339(253_402_300_800_000), "10000-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn known_instants() {
        // 2000-02-29 (a leap day in a century year divisible by 400) = day 11016.
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(rfc3339(11_016 * MS_PER_DAY), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(11_017 * MS_PER_DAY), "2000-03-01T00:00:00.000Z");
        // 2026-11-23T12:00:00Z = 1795435200 s, independently known.
        let t = 1_795_435_200_000;
        assert_eq!(rfc3339(t), "2026-11-23T12:00:00.000Z");
        assert_eq!(request_queue(t), "2026-11-23 12:00:00 PM");
        assert_eq!(
            rfc3339(t + 36_000_000 - 7_000_000 + 12_345),
            "2026-11-23T20:03:32.345Z"
        );
        // 2009-02-13T23:31:30Z, the famous 1234567890.
        assert_eq!(rfc3339(1_234_567_890_000), "2009-02-13T23:31:30.000Z");
        // Year end: the last millisecond of 1999 and the first of 2000.
        assert_eq!(rfc3339(946_684_799_999), "1999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(946_684_800_000), "2000-01-01T00:00:00.000Z");
        // 2100 is not a leap year.
        assert_eq!(
            rfc3339(ms(2100, 2, 28, 0, 0, 0, 0) + MS_PER_DAY),
            "2100-03-01T00:00:00.000Z"
        );
    }

    #[test]
    fn api_formats_match_their_examples() {
        assert_eq!(
            hal(ms(2013, 1, 22, 23, 1, 16, 771)),
            "2013-01-22T23:01:16.771000"
        );
        assert_eq!(
            gatekeeper(ms(2015, 10, 27, 12, 5, 38, 999)),
            "2015-10-27 12:05:38+0000"
        );
        assert_eq!(
            request_queue(ms(2014, 1, 15, 12, 41, 0, 0)),
            "2014-01-15 12:41:00 PM"
        );
        assert_eq!(
            rfc3339(ms(2026, 11, 23, 10, 11, 12, 345)),
            "2026-11-23T10:11:12.345Z"
        );
    }

    #[test]
    fn twelve_hour_clock_edges() {
        let day = ms(2014, 1, 15, 0, 0, 0, 0);
        let at =
            |h: u64, m: u64, s: u64| request_queue(day + h * 3_600_000 + m * 60_000 + s * 1000);
        assert_eq!(at(0, 0, 0), "2014-01-15 12:00:00 AM");
        assert_eq!(at(0, 59, 59), "2014-01-15 12:59:59 AM");
        assert_eq!(at(1, 0, 0), "2014-01-15 01:00:00 AM");
        assert_eq!(at(9, 5, 0), "2014-01-15 09:05:00 AM");
        assert_eq!(at(11, 59, 59), "2014-01-15 11:59:59 AM");
        assert_eq!(at(12, 0, 0), "2014-01-15 12:00:00 PM");
        assert_eq!(at(12, 59, 59), "2014-01-15 12:59:59 PM");
        assert_eq!(at(13, 0, 0), "2014-01-15 01:00:00 PM");
        assert_eq!(at(23, 59, 59), "2014-01-15 11:59:59 PM");
        assert_eq!(at(24, 0, 0), "2014-01-16 12:00:00 AM");
    }

    #[test]
    fn civil_from_days_round_trips() {
        // Every day from 1970 to past 2400, checking continuity day by day as well as the inverse.
        let mut prev = civil_from_days(-1);
        assert_eq!(prev, (1969, 12, 31));
        for days in 0..160_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            let next_day = (y, m, d) == (prev.0, prev.1, prev.2 + 1);
            let next_month = (y, m, d) == (prev.0, prev.1 + 1, 1);
            let next_year = (y, m, d) == (prev.0 + 1, 1, 1) && prev.1 == 12 && prev.2 == 31;
            assert!(
                next_day || next_month || next_year,
                "{prev:?} -> {:?}",
                (y, m, d)
            );
            prev = (y, m, d);
        }
    }

    #[test]
    fn extremes_do_not_panic() {
        assert_eq!(rfc3339(u64::MAX), "584556019-04-03T14:25:51.615Z");
        assert!(!hal(u64::MAX).is_empty());
        assert!(!gatekeeper(u64::MAX).is_empty());
        assert!(!request_queue(u64::MAX).is_empty());
    }

    #[test]
    fn now_is_after_2020() {
        assert!(now_ms() > 1_577_836_800_000);
    }
}
