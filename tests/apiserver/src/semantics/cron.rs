//! Standard 5-field cron schedules as the CronJob controller reads them (robfig/cron's
//! standard parser): `minute hour day-of-month month day-of-week`, with `*`, `?`, lists,
//! ranges, steps, month and weekday names, `7` as Sunday, and the `@yearly`, `@annually`,
//! `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly` macros. Times are Unix
//! seconds in UTC. Our own parser: it is small, and no cron crate is in the tree.

/// A schedule that does not parse, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(String);

/// A parsed schedule: the allowed values of each field as bit sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    doms: u64,
    months: u64,
    dows: u64,
    /// Day-of-month or day-of-week started with `*`/`?`: then both must match (AND),
    /// otherwise either may (OR), as cron does.
    dom_star: bool,
    dow_star: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn value(s: &str, names: &[&str], offset: u32, what: &str) -> Result<u32, CronError> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Ok(i as u32 + offset);
    }
    s.parse()
        .map_err(|_| CronError(format!("failed to parse int from {s}: invalid {what}")))
}

/// One field: `*`, `?`, `a`, `a-b`, with `/step`, comma-separated.
fn field(
    text: &str,
    lo: u32,
    hi: u32,
    names: &[&str],
    offset: u32,
    what: &str,
) -> Result<u64, CronError> {
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| {
                    CronError(format!("failed to parse int from {s}: invalid step"))
                })?;
                if step == 0 {
                    return Err(CronError(format!(
                        "step of range should be a positive number: {part}"
                    )));
                }
                (r, Some(step))
            }
            None => (part, None),
        };
        let (start, end) = if range == "*" || range == "?" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                value(a, names, offset, what)?,
                value(b, names, offset, what)?,
            )
        } else {
            let v = value(range, names, offset, what)?;
            // `5/10` means from 5 to the end, every 10.
            (v, if step.is_some() { hi } else { v })
        };
        if start < lo || end > hi || start > end {
            return Err(CronError(format!(
                "{what} out of range ({lo}-{hi}): {part}"
            )));
        }
        let step = step.unwrap_or(1);
        let mut v = start;
        while v <= end {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

impl Schedule {
    /// Parses a schedule, e.g. `*/5 * * * *` or `@daily`.
    pub fn parse(spec: &str) -> Result<Self, CronError> {
        let spec = spec.trim();
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            return Err(CronError(
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into(),
            ));
        }
        let expanded = match spec.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *".to_owned(),
            "@monthly" => "0 0 1 * *".to_owned(),
            "@weekly" => "0 0 * * 0".to_owned(),
            "@daily" | "@midnight" => "0 0 * * *".to_owned(),
            "@hourly" => "0 * * * *".to_owned(),
            s if s.starts_with('@') => {
                return Err(CronError(format!("unrecognized descriptor: {spec}")));
            }
            _ => spec.to_owned(),
        };
        let f: Vec<&str> = expanded.split_whitespace().collect();
        if f.len() != 5 {
            return Err(CronError(format!(
                "expected exactly 5 fields, found {}: {spec}",
                f.len()
            )));
        }
        let mut dows = field(f[4], 0, 7, &DAYS, 0, "day of week")?;
        if dows & (1 << 7) != 0 {
            dows = (dows | 1) & !(1 << 7);
        }
        Ok(Self {
            minutes: field(f[0], 0, 59, &[], 0, "minute")?,
            hours: field(f[1], 0, 23, &[], 0, "hour")?,
            doms: field(f[2], 1, 31, &[], 0, "day of month")?,
            months: field(f[3], 1, 12, &MONTHS, 1, "month")?,
            dows,
            dom_star: f[2].starts_with('*') || f[2].starts_with('?'),
            dow_star: f[4].starts_with('*') || f[4].starts_with('?'),
        })
    }

    fn day_matches(&self, d: &Civil) -> bool {
        let dom = self.doms & (1 << d.day) != 0;
        let dow = self.dows & (1 << d.weekday) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first scheduled time strictly after `t` (Unix seconds), searching up to five
    /// years ahead.
    pub fn next_after(&self, t: i64) -> Option<i64> {
        let mut m = t.div_euclid(60) + 1; // next whole minute
        let limit = m + 5 * 366 * 24 * 60;
        while m < limit {
            let c = Civil::from_unix(m * 60);
            if self.months & (1 << c.month) == 0 || !self.day_matches(&c) {
                m += 24 * 60 - (c.hour * 60 + c.minute) as i64; // next day's midnight
                continue;
            }
            if self.hours & (1 << c.hour) == 0 {
                m += 60 - c.minute as i64;
                continue;
            }
            if self.minutes & (1 << c.minute) == 0 {
                m += 1;
                continue;
            }
            return Some(m * 60);
        }
        None
    }
}

/// A UTC calendar time, to the minute.
struct Civil {
    month: u32,
    day: u32,
    weekday: u32,
    hour: u32,
    minute: u32,
}

impl Civil {
    fn from_unix(t: i64) -> Self {
        let days = t.div_euclid(86_400);
        let secs = t.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        Self {
            month,
            day,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as u32,
            hour: (secs / 3600) as u32,
            minute: (secs % 3600 / 60) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i64 {
        crate::server::util::parse_rfc3339(s).expect(s)
    }

    fn next(spec: &str, after: &str) -> String {
        let s = Schedule::parse(spec).expect(spec);
        crate::server::util::format_rfc3339(s.next_after(t(after)).expect("a next time"))
    }

    #[test]
    fn next_times() {
        assert_eq!(
            next("* * * * *", "2026-03-01T10:00:00Z"),
            "2026-03-01T10:01:00Z"
        );
        assert_eq!(
            next("* * * * *", "2026-03-01T10:00:30Z"),
            "2026-03-01T10:01:00Z"
        );
        assert_eq!(
            next("*/15 * * * *", "2026-03-01T10:07:00Z"),
            "2026-03-01T10:15:00Z"
        );
        assert_eq!(
            next("0 9 * * MON-FRI", "2026-03-06T09:00:00Z"),
            "2026-03-09T09:00:00Z"
        );
        assert_eq!(
            next("30 2 29 2 *", "2026-01-01T00:00:00Z"),
            "2028-02-29T02:30:00Z"
        );
        assert_eq!(
            next("@daily", "2026-12-31T23:59:00Z"),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            next("0 0 * * 7", "2026-12-06T00:00:00Z"),
            "2026-12-13T00:00:00Z"
        );
        assert_eq!(
            next("5/20 1 * jan,Jul *", "2026-02-01T00:00:00Z"),
            "2026-07-01T01:05:00Z"
        );
        // Both day fields restricted: either matches (the 1st, or any Monday).
        assert_eq!(
            next("0 0 1 * 1", "2026-12-01T00:00:00Z"),
            "2026-12-07T00:00:00Z"
        );
    }

    #[test]
    fn bad_schedules_say_why() {
        for (spec, msg) in [
            ("* * * *", "expected exactly 5 fields"),
            ("60 * * * *", "minute out of range"),
            ("* * * 13 *", "month out of range"),
            ("*/0 * * * *", "positive number"),
            ("x * * * *", "failed to parse int from x"),
            ("@fortnightly", "unrecognized descriptor"),
            ("TZ=UTC * * * * *", "use timeZone field"),
        ] {
            let e = Schedule::parse(spec).expect_err(spec);
            assert!(e.0.contains(msg), "{spec}: {e}");
        }
    }
}
