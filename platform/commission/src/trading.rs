//! Trading fees: one charge per fill, on its notional, at the rate of the account's tier.
//!
//! **When the tier is read.** The tier for every fill of a UTC day is read once, at
//! 00:00 UTC of that day, from the account's volume in the 30 whole days before it:
//! fills with `day_start − 30 days ≤ ts < day_start`, all of the account's bots together.
//! A fill never moves its own day's tier; a fill at 23:59:59.999999999 counts from the
//! next day on; a fill exactly 30 days before a day's start still counts for that day.
//! A volume exactly at a tier's minimum is in that tier. (This is how Binance's VIP
//! level works: recomputed daily at 00:00 UTC from the last 30 days.) It makes every
//! fee independent of the order fills arrive in within a day.
//!
//! **Rounding.** A fee is `notional × rate`, computed exactly and rounded **up** to the
//! next 10⁻⁹ of the plan currency, the rule venues use (and the simulated exchange).

use std::collections::{BTreeMap, BTreeSet};

use tradewind_core::data::UnixNanos;
use tradewind_core::fixed::{Money, RoundingMode};

use crate::period::Period;
use crate::plan::{FeeSchedule, Liquidity};
use crate::{CommissionError, Rate};

/// Nanoseconds in a day.
pub const DAY_NANOS: i64 = 86_400 * 1_000_000_000;
/// Days of volume a tier looks back over.
pub const VOLUME_WINDOW_DAYS: i64 = 30;

/// One fill of one of the account's bots, with its notional in the plan's currency.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fill {
    /// The fill's id, unique in the account (the worker's event id).
    pub id: String,
    /// The bot that traded.
    pub bot: String,
    /// When it executed.
    pub ts: UnixNanos,
    /// `price × quantity` in the plan's currency (not negative).
    pub notional: Money,
    /// Maker or taker.
    pub liquidity: Liquidity,
}

/// The trading fee of one fill and how it was found.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FillFee {
    /// The fill's id.
    pub fill: String,
    /// Its bot.
    pub bot: String,
    /// When it executed.
    pub ts: UnixNanos,
    /// Its notional.
    pub notional: Money,
    /// Maker or taker.
    pub liquidity: Liquidity,
    /// The account's 30-day volume the tier was read from.
    pub volume_30d: Money,
    /// Index of that tier in the plan.
    pub tier: usize,
    /// The rate applied.
    pub rate: Rate,
    /// The fee.
    pub fee: Money,
}

/// The first instant whose fills a settlement of `period` needs: 30 days before it.
pub fn history_start(period: &Period) -> UnixNanos {
    period
        .start
        .div_euclid(DAY_NANOS)
        .saturating_sub(VOLUME_WINDOW_DAYS)
        .saturating_mul(DAY_NANOS)
}

/// The trading fee of every fill of `fills` inside `period`, in `(ts, id)` order.
///
/// `fills` are the account's fills from [`history_start`] to the period's end, in any
/// order; those before the period only count towards volume. A fill outside that
/// range, a repeated id or a negative notional is refused.
pub fn trading_fees(
    schedule: &FeeSchedule,
    period: &Period,
    fills: &[Fill],
) -> Result<Vec<FillFee>, CommissionError> {
    let from = history_start(period);
    let mut ids = BTreeSet::new();
    let mut daily: BTreeMap<i64, Money> = BTreeMap::new();
    for f in fills {
        if !(from..period.end).contains(&f.ts) {
            return Err(CommissionError::FillOutsideWindow {
                fill: f.id.clone(),
                ts: f.ts,
                from,
                to: period.end,
            });
        }
        if f.notional.is_negative() {
            return Err(CommissionError::NegativeAmount {
                what: "a fill's notional",
                amount: f.notional,
            });
        }
        if !ids.insert(f.id.as_str()) {
            return Err(CommissionError::DuplicateFill { fill: f.id.clone() });
        }
        let day = daily.entry(f.ts.div_euclid(DAY_NANOS)).or_default();
        *day = day
            .checked_add(f.notional)
            .ok_or(CommissionError::Overflow { what: "volume" })?;
    }
    let mut charged: Vec<&Fill> = fills.iter().filter(|f| period.contains(f.ts)).collect();
    charged.sort_by(|a, b| (a.ts, &a.id).cmp(&(b.ts, &b.id)));
    let mut volume_of_day: BTreeMap<i64, Money> = BTreeMap::new();
    charged
        .into_iter()
        .map(|f| {
            let day = f.ts.div_euclid(DAY_NANOS);
            let volume = match volume_of_day.get(&day) {
                Some(v) => *v,
                None => {
                    let v = daily
                        .range(day - VOLUME_WINDOW_DAYS..day)
                        .try_fold(Money::ZERO, |acc, (_, v)| acc.checked_add(*v))
                        .ok_or(CommissionError::Overflow { what: "volume" })?;
                    volume_of_day.insert(day, v);
                    v
                }
            };
            let tier = schedule.tier_index(volume);
            let rate = schedule.tiers()[tier].rate(f.liquidity);
            Ok(FillFee {
                fill: f.id.clone(),
                bot: f.bot.clone(),
                ts: f.ts,
                notional: f.notional,
                liquidity: f.liquidity,
                volume_30d: volume,
                tier,
                rate,
                fee: rate.of(f.notional, RoundingMode::Up)?,
            })
        })
        .collect()
}

/// The trading fee of each late fill — one recorded after the period holding it was
/// settled, charged in the next settlement — at the tier of **its own day**: read, as
/// for any fill, from the account's volume in the 30 whole days before that day, the
/// late fills counting towards it like the others. `history` is the account's other
/// fills from 30 days before the earliest late fill's day on (more is harmless). Every
/// late fill must be before `before` (the period settling it); in `(ts, id)` order.
pub fn late_fees(
    schedule: &FeeSchedule,
    late: &[Fill],
    history: &[Fill],
    before: UnixNanos,
) -> Result<Vec<FillFee>, CommissionError> {
    let mut ids = BTreeSet::new();
    let mut daily: BTreeMap<i64, Money> = BTreeMap::new();
    for f in late.iter().chain(history) {
        if f.notional.is_negative() {
            return Err(CommissionError::NegativeAmount {
                what: "a fill's notional",
                amount: f.notional,
            });
        }
        if !ids.insert(f.id.as_str()) {
            return Err(CommissionError::DuplicateFill { fill: f.id.clone() });
        }
        let day = daily.entry(f.ts.div_euclid(DAY_NANOS)).or_default();
        *day = day
            .checked_add(f.notional)
            .ok_or(CommissionError::Overflow { what: "volume" })?;
    }
    let mut charged: Vec<&Fill> = late.iter().collect();
    charged.sort_by(|a, b| (a.ts, &a.id).cmp(&(b.ts, &b.id)));
    charged
        .into_iter()
        .map(|f| {
            if f.ts >= before {
                return Err(CommissionError::LateFillNotBefore {
                    fill: f.id.clone(),
                    ts: f.ts,
                    start: before,
                });
            }
            let day = f.ts.div_euclid(DAY_NANOS);
            let volume = daily
                .range(day - VOLUME_WINDOW_DAYS..day)
                .try_fold(Money::ZERO, |acc, (_, v)| acc.checked_add(*v))
                .ok_or(CommissionError::Overflow { what: "volume" })?;
            let tier = schedule.tier_index(volume);
            let rate = schedule.tiers()[tier].rate(f.liquidity);
            Ok(FillFee {
                fill: f.id.clone(),
                bot: f.bot.clone(),
                ts: f.ts,
                notional: f.notional,
                liquidity: f.liquidity,
                volume_30d: volume,
                tier,
                rate,
                fee: rate.of(f.notional, RoundingMode::Up)?,
            })
        })
        .collect()
}
