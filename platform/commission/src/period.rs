//! Settlement periods: UTC calendar days, weeks (from Monday), months and quarters.
//!
//! A period is the half-open interval `[start, end)` in UNIX nanoseconds: an event at
//! exactly `end` belongs to the next period.

use tradewind_core::data::UnixNanos;
use tradewind_core::data::time::{civil_from_days, days_from_civil};

const DAY: i64 = 86_400 * 1_000_000_000;

/// How long a settlement period is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeriodKind {
    /// A UTC day, from 00:00.
    Daily,
    /// A week from Monday 00:00 UTC.
    Weekly,
    /// A calendar month from the 1st, 00:00 UTC.
    Monthly,
    /// A calendar quarter from 1 January, April, July or October, 00:00 UTC.
    Quarterly,
}

/// One settlement period `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    /// Its length.
    pub kind: PeriodKind,
    /// First instant (inclusive).
    pub start: UnixNanos,
    /// First instant after it (exclusive).
    pub end: UnixNanos,
}

impl Period {
    /// The period of `kind` that contains `ts`.
    pub fn containing(kind: PeriodKind, ts: UnixNanos) -> Period {
        let day = ts.div_euclid(DAY);
        let start_day = match kind {
            PeriodKind::Daily => day,
            // 1970-01-01 was a Thursday: (day + 3) mod 7 is 0 on Mondays.
            PeriodKind::Weekly => day - (day + 3).rem_euclid(7),
            PeriodKind::Monthly => {
                let (y, m, _) = civil_from_days(day);
                days_from_civil(y, m, 1)
            }
            PeriodKind::Quarterly => {
                let (y, m, _) = civil_from_days(day);
                days_from_civil(y, (m - 1) / 3 * 3 + 1, 1)
            }
        };
        let end_day = match kind {
            PeriodKind::Daily => start_day + 1,
            PeriodKind::Weekly => start_day + 7,
            PeriodKind::Monthly | PeriodKind::Quarterly => {
                let (y, m, _) = civil_from_days(start_day);
                let months = if kind == PeriodKind::Monthly { 1 } else { 3 };
                let (y, m) = if m + months > 12 {
                    (y + 1, m + months - 12)
                } else {
                    (y, m + months)
                };
                days_from_civil(y, m, 1)
            }
        };
        Period {
            kind,
            start: start_day.saturating_mul(DAY),
            end: end_day.saturating_mul(DAY),
        }
    }

    /// The period right after this one.
    pub fn next(&self) -> Period {
        Period::containing(self.kind, self.end)
    }

    /// `true` if `ts` is in `[start, end)`.
    pub fn contains(&self, ts: UnixNanos) -> bool {
        (self.start..self.end).contains(&ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(y: i64, m: u32, d: u32) -> UnixNanos {
        days_from_civil(y, m, d) * DAY
    }

    #[test]
    fn periods_follow_the_utc_calendar() {
        // 2026-08-19 is a Wednesday.
        let t = ts(2026, 8, 19) + 13 * 3_600 * 1_000_000_000;
        let p = |k| Period::containing(k, t);
        assert_eq!(
            (p(PeriodKind::Daily).start, p(PeriodKind::Daily).end),
            (ts(2026, 8, 19), ts(2026, 8, 20))
        );
        assert_eq!(
            (p(PeriodKind::Weekly).start, p(PeriodKind::Weekly).end),
            (ts(2026, 8, 17), ts(2026, 8, 24))
        );
        assert_eq!(
            (p(PeriodKind::Monthly).start, p(PeriodKind::Monthly).end),
            (ts(2026, 8, 1), ts(2026, 9, 1))
        );
        assert_eq!(
            (p(PeriodKind::Quarterly).start, p(PeriodKind::Quarterly).end),
            (ts(2026, 7, 1), ts(2026, 10, 1))
        );
        // December rolls into the next year; the end belongs to the next period.
        let dec = Period::containing(PeriodKind::Monthly, ts(2026, 12, 31));
        assert_eq!(dec.end, ts(2027, 1, 1));
        assert!(!dec.contains(dec.end));
        assert_eq!(dec.next().start, dec.end);
        let q4 = Period::containing(PeriodKind::Quarterly, ts(2026, 11, 5));
        assert_eq!((q4.start, q4.end), (ts(2026, 10, 1), ts(2027, 1, 1)));
        // A Monday 00:00 starts its own week; the instant before is in the last one.
        let monday = ts(2026, 8, 24);
        assert_eq!(Period::containing(PeriodKind::Weekly, monday).start, monday);
        assert_eq!(
            Period::containing(PeriodKind::Weekly, monday - 1).end,
            monday
        );
        // Before 1970 too.
        let old = Period::containing(PeriodKind::Daily, -1);
        assert_eq!((old.start, old.end), (-DAY, 0));
    }
}
