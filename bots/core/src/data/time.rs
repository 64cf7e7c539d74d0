//! Timestamp parsing for the loaders: ISO-8601 text and integer epochs.
//!
//! Everything becomes [`UnixNanos`] (UTC). Supported forms:
//! - ISO-8601 date `2024-01-31` (midnight UTC);
//! - ISO-8601 date-time `2024-01-31T13:45:00`, with `T` or a space, optional seconds,
//!   optional fraction (up to 9 digits), and an optional zone: `Z`, `±HH:MM`, `±HHMM`
//!   or `±HH`. A date-time without a zone is taken as UTC;
//! - integer epochs, whose unit is decided by magnitude ([`parse_epoch_auto`]).
//!
//! Times from 1970-01-01T00:00:00Z to 2262-04-11 (nanoseconds in an `i64`) are accepted;
//! anything else is an error: the engine's clock starts at the epoch, and a time before
//! it would read as the epoch (a return of 0 beside a changed equity).

use super::UnixNanos;

/// A timestamp that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {input:?}: {reason}")]
pub struct TimeError {
    /// The text as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

fn err(input: &str, reason: &'static str) -> TimeError {
    TimeError {
        input: input.to_owned(),
        reason,
    }
}

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Days from 1970-01-01 to the given proleptic-Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic-Gregorian date of a day count from 1970-01-01 (the inverse of
/// [`days_from_civil`], Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `2026-11-25T06:00:00Z` for a time in UTC nanoseconds (whole seconds; the inverse of
/// [`parse_iso8601`] for such times).
pub fn format_iso8601(ts: UnixNanos) -> String {
    let secs = ts.div_euclid(NANOS_PER_SEC);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parse exactly `n` ASCII digits at `s[at..]`.
fn digits(s: &[u8], at: usize, n: usize) -> Option<u32> {
    let part = s.get(at..at + n)?;
    part.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Parse an ISO-8601 date or date-time (forms in the module docs) to UTC nanoseconds.
pub fn parse_iso8601(input: &str) -> Result<UnixNanos, TimeError> {
    let s = input.as_bytes();
    let year = digits(s, 0, 4).ok_or_else(|| err(input, "expected a 4-digit year"))?;
    if s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') {
        return Err(err(input, "expected YYYY-MM-DD"));
    }
    let month = digits(s, 5, 2).ok_or_else(|| err(input, "expected a 2-digit month"))?;
    let day = digits(s, 8, 2).ok_or_else(|| err(input, "expected a 2-digit day"))?;
    let year = i64::from(year);
    if !(1..=12).contains(&month) {
        return Err(err(input, "month out of range"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(err(input, "day out of range"));
    }
    let mut secs_of_day: i64 = 0;
    let mut nanos: i64 = 0;
    let mut offset_secs: i64 = 0;
    let mut i = 10;
    if i < s.len() {
        if s[i] != b'T' && s[i] != b' ' {
            return Err(err(input, "expected 'T' or ' ' after the date"));
        }
        let hour = digits(s, i + 1, 2).ok_or_else(|| err(input, "expected a 2-digit hour"))?;
        if s.get(i + 3) != Some(&b':') {
            return Err(err(input, "expected HH:MM"));
        }
        let minute = digits(s, i + 4, 2).ok_or_else(|| err(input, "expected 2-digit minutes"))?;
        i += 6;
        let mut second = 0;
        if s.get(i) == Some(&b':') {
            second = digits(s, i + 1, 2).ok_or_else(|| err(input, "expected 2-digit seconds"))?;
            i += 3;
            if s.get(i) == Some(&b'.') || s.get(i) == Some(&b',') {
                i += 1;
                let start = i;
                while i < s.len() && s[i].is_ascii_digit() {
                    i += 1;
                }
                let n = i - start;
                if n == 0 || n > 9 {
                    return Err(err(input, "fraction must have 1 to 9 digits"));
                }
                let frac = digits(s, start, n).ok_or_else(|| err(input, "bad fraction"))?;
                nanos = i64::from(frac) * 10_i64.pow(9 - n as u32);
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(err(input, "time of day out of range"));
        }
        secs_of_day = i64::from(hour * 3600 + minute * 60 + second);
        match s.get(i) {
            None => {}
            Some(b'Z') if i + 1 == s.len() => {}
            Some(&sign @ (b'+' | b'-')) => {
                let rest = &s[i + 1..];
                let (oh, om) = match rest.len() {
                    2 => (digits(rest, 0, 2), Some(0)),
                    4 => (digits(rest, 0, 2), digits(rest, 2, 2)),
                    5 if rest[2] == b':' => (digits(rest, 0, 2), digits(rest, 3, 2)),
                    _ => (None, None),
                };
                let (oh, om) = oh
                    .zip(om)
                    .filter(|&(h, m)| h <= 23 && m <= 59)
                    .ok_or_else(|| err(input, "bad UTC offset"))?;
                let off = i64::from(oh * 3600 + om * 60);
                offset_secs = if sign == b'+' { off } else { -off };
            }
            Some(_) => return Err(err(input, "unexpected text after the time")),
        }
    }
    // Local time minus the offset is UTC.
    let secs = days_from_civil(year, month, day) * 86_400 + secs_of_day - offset_secs;
    let n = secs
        .checked_mul(NANOS_PER_SEC)
        .and_then(|n| n.checked_add(nanos))
        .ok_or_else(|| err(input, "after 2262-04-11, the last time a bar can carry"))?;
    if n < 0 {
        return Err(err(
            input,
            "before 1970-01-01, the first time a bar can carry",
        ));
    }
    Ok(n)
}

/// Parse a non-negative integer epoch and pick its unit by magnitude:
///
/// | value            | unit          | why                                  |
/// |------------------|---------------|--------------------------------------|
/// | `< 10^11`        | seconds       | 10^11 s is the year 5138             |
/// | `< 10^14`        | milliseconds  | 10^11 ms is 1973-03-03               |
/// | `< 10^17`        | microseconds  | 10^14 µs is 1973-03-03               |
/// | otherwise        | nanoseconds   |                                      |
///
/// So a millisecond timestamp before 1973-03-03 would be read as seconds; use ISO-8601
/// for such data.
pub fn parse_epoch_auto(input: &str) -> Result<UnixNanos, TimeError> {
    let v = parse_epoch_int(input)?;
    let nanos = if v < 100_000_000_000 {
        v.checked_mul(NANOS_PER_SEC)
    } else if v < 100_000_000_000_000 {
        v.checked_mul(1_000_000)
    } else if v < 100_000_000_000_000_000 {
        v.checked_mul(1_000)
    } else {
        Some(v)
    };
    nanos.ok_or_else(|| err(input, "outside the nanosecond i64 range"))
}

/// Parse a plain non-negative integer (no sign, no fraction).
pub(crate) fn parse_epoch_int(input: &str) -> Result<i64, TimeError> {
    if input.is_empty() || !input.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(input, "expected a non-negative integer epoch"));
    }
    input
        .parse::<i64>()
        .map_err(|_| err(input, "integer epoch too large"))
}

/// Integer epoch ([`parse_epoch_auto`]) if the text is all digits, else ISO-8601.
///
/// Exactly 8 digits is refused: it may be a compact date (`20250325`) or an epoch in
/// 1970, and guessing wrong would shift every bar.
pub fn parse_timestamp(input: &str) -> Result<UnixNanos, TimeError> {
    if !input.is_empty() && input.bytes().all(|b| b.is_ascii_digit()) && input.len() != 8 {
        parse_epoch_auto(input)
    } else {
        parse_iso8601(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_back() {
        assert_eq!(format_iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_iso8601(-NANOS_PER_SEC), "1969-12-31T23:59:59Z");
        for ts in [1_092_873_600, 1_742_944_020, 951_782_400, 4_102_444_800] {
            let text = format_iso8601(ts * NANOS_PER_SEC);
            assert_eq!(parse_iso8601(&text).unwrap(), ts * NANOS_PER_SEC, "{text}");
        }
        assert_eq!(
            format_iso8601(951_782_400 * NANOS_PER_SEC),
            "2000-02-29T00:00:00Z"
        );
    }

    const T0: i64 = 1_742_944_020 * NANOS_PER_SEC; // 2025-03-25T23:07:00Z

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn iso_forms() {
        assert_eq!(parse_iso8601("2025-03-25T23:07:00Z"), Ok(T0));
        assert_eq!(parse_iso8601("2025-03-25 23:07:00"), Ok(T0));
        assert_eq!(parse_iso8601("2025-03-25T23:07"), Ok(T0));
        assert_eq!(parse_iso8601("2025-03-26T01:07:00+02:00"), Ok(T0));
        assert_eq!(parse_iso8601("2025-03-25T18:07:00-0500"), Ok(T0));
        assert_eq!(parse_iso8601("2025-03-26T00:07:00+01"), Ok(T0));
        assert_eq!(
            parse_iso8601("2025-03-25T23:07:00.5Z"),
            Ok(T0 + 500_000_000)
        );
        assert_eq!(
            parse_iso8601("2025-03-25T23:07:00.773674205Z"),
            Ok(T0 + 773_674_205)
        );
        assert_eq!(
            parse_iso8601("2025-03-25"),
            Ok(T0 - (23 * 3600 + 7 * 60) * NANOS_PER_SEC)
        );
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Ok(0));
    }

    /// Times before 1970 collapsed to 0 in the engine's clock; now they are refused
    /// where they are read, as are times past 2262.
    #[test]
    fn times_outside_1970_to_2262_are_refused() {
        for bad in [
            "1960-01-01",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:30:00+01:00",
        ] {
            let e = parse_iso8601(bad).unwrap_err();
            assert!(e.to_string().contains("before 1970-01-01"), "{bad}: {e}");
        }
        let e = parse_iso8601("2262-04-12").unwrap_err();
        assert!(e.to_string().contains("after 2262-04-11"), "{e}");
    }

    #[test]
    fn iso_errors() {
        for bad in [
            "2025-13-01",
            "2025-02-29",
            "2025-03-25T24:00:00",
            "2025-03-25T23:60",
            "2025-03-25T23:07:00.Z",
            "2025-03-25T23:07:00.1234567890Z",
            "2025-03-25T23:07:00+2",
            "2025-03-25T23:07:00Zjunk",
            "2025/03/25",
            "25-03-25",
            "",
            "3000-01-01",
        ] {
            assert!(parse_iso8601(bad).is_err(), "{bad} should fail");
        }
        let e = parse_iso8601("2025-13-01").expect_err("bad month");
        assert_eq!(
            e.to_string(),
            "invalid timestamp \"2025-13-01\": month out of range"
        );
    }

    #[test]
    fn epoch_units_by_magnitude() {
        assert_eq!(parse_epoch_auto("1742944020"), Ok(T0));
        assert_eq!(parse_epoch_auto("1742944020000"), Ok(T0));
        assert_eq!(parse_epoch_auto("1742944020000000"), Ok(T0));
        assert_eq!(parse_epoch_auto("1742944020000000000"), Ok(T0));
        assert_eq!(
            parse_epoch_auto("9000000000"),
            Ok(9_000_000_000 * NANOS_PER_SEC)
        );
        assert!(
            parse_epoch_auto("99999999999").is_err(),
            "seconds past 2262 overflow i64 ns"
        );
        assert_eq!(
            parse_epoch_auto("100000000000"),
            Ok(100_000_000_000 * 1_000_000)
        );
        assert!(parse_epoch_auto("-5").is_err());
        assert!(parse_epoch_auto("1.5").is_err());
        assert!(parse_epoch_auto("99999999999999999999").is_err());
    }

    #[test]
    fn auto_detects_form() {
        assert_eq!(parse_timestamp("1742944020"), Ok(T0));
        assert_eq!(parse_timestamp("2025-03-25T23:07:00Z"), Ok(T0));
        // 8 digits could be a compact date (20250325): refused rather than guessed.
        assert!(parse_timestamp("20250325").is_err());
    }
}
