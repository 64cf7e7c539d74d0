//! Maker/taker fees by 30-day traded volume.
//!
//! Rounding rule: a fee is `|notional| × bps / 10_000`, computed exactly and rounded **up**
//! (ceiling) to the next nano-unit (10^-9) of the quote currency, i.e. in the venue's
//! favour, as exchanges do. The notional is [`Price::notional`](crate::fixed::Price::notional)
//! of the fill (exact, half-even at 10^-9).

use std::collections::VecDeque;

use crate::data::UnixNanos;
use crate::fixed::{FixedError, Money};
use crate::orders::Liquidity;

/// Raw units of [`Bps`] per basis point (nano-basis-points).
const BPS_SCALE: i64 = 1_000_000_000;
/// Raw [`Bps`] value of 100 % (10 000 bp).
const BPS_MAX_RAW: i64 = 10_000 * BPS_SCALE;
/// `notional × bps_raw / FEE_DENOM` is the fee: 10 000 bp per whole × nano-bp scale.
pub(crate) const FEE_DENOM: i128 = 10_000 * BPS_SCALE as i128;

/// Nanoseconds in the 30-day window fee tiers look back over.
pub const THIRTY_DAYS_NANOS: i64 = 30 * 86_400 * 1_000_000_000;

/// Why a basis-point value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BpsError {
    /// Not a plain decimal with at most 9 decimals.
    #[error(transparent)]
    Parse(#[from] FixedError),
    /// Below zero (rebates are not modelled).
    #[error("basis points {input} are negative")]
    Negative {
        /// The value as given.
        input: String,
    },
    /// Above 10 000 bp (100 %).
    #[error("basis points {input} are above 10000 (100 %)")]
    TooLarge {
        /// The value as given.
        input: String,
    },
}

/// A non-negative rate in basis points, held exactly as nano-basis-points (10^-9 bp), so
/// fractional rates such as 7.5 bp or 0.375 bp are exact. At most 10 000 bp (100 %).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bps {
    raw: i64,
}

impl Bps {
    /// Zero basis points.
    pub const ZERO: Bps = Bps { raw: 0 };

    /// Build from nano-basis-points (`7.5 bp` is `7_500_000_000`).
    pub fn from_raw(raw: i64) -> Result<Self, BpsError> {
        if raw < 0 {
            return Err(BpsError::Negative {
                input: format!("{raw}e-9"),
            });
        }
        if raw > BPS_MAX_RAW {
            return Err(BpsError::TooLarge {
                input: format!("{raw}e-9"),
            });
        }
        Ok(Self { raw })
    }

    /// Whole basis points, e.g. `Bps::from_whole(10)` for 0.1 %.
    pub fn from_whole(bps: u32) -> Result<Self, BpsError> {
        if i64::from(bps) > BPS_MAX_RAW / BPS_SCALE {
            return Err(BpsError::TooLarge {
                input: bps.to_string(),
            });
        }
        Ok(Self {
            raw: i64::from(bps) * BPS_SCALE,
        })
    }

    /// Parse a decimal string such as `"7.5"`; exact, up to 9 decimals, never rounds.
    pub fn parse(input: &str) -> Result<Self, BpsError> {
        let raw = Money::parse(input)?.raw();
        if raw < 0 {
            return Err(BpsError::Negative {
                input: input.to_owned(),
            });
        }
        if raw > i128::from(BPS_MAX_RAW) {
            return Err(BpsError::TooLarge {
                input: input.to_owned(),
            });
        }
        // In 0..=BPS_MAX_RAW, so it fits an i64.
        Ok(Self { raw: raw as i64 })
    }

    /// Nano-basis-points.
    pub const fn raw(self) -> i64 {
        self.raw
    }

    /// `true` if zero.
    pub const fn is_zero(self) -> bool {
        self.raw == 0
    }

    /// The fee on `notional`: `|notional| × self / 10_000`, rounded up to the next
    /// nano-unit (venue's favour). Never negative; saturates instead of overflowing.
    pub fn fee_on(self, notional: Money) -> Money {
        let n = notional.raw().unsigned_abs();
        let b = self.raw as u128; // 0..=1e13
        let d = FEE_DENOM as u128;
        let fee = match n.checked_mul(b) {
            // Common case: one exact product, one division.
            Some(prod) => prod.div_ceil(d),
            // Huge notionals: split n = q·d + r so neither product overflows.
            None => {
                let (q, r) = (n / d, n % d);
                (q * b).saturating_add((r * b).div_ceil(d))
            }
        };
        Money::from_raw(i128::try_from(fee).unwrap_or(i128::MAX))
    }
}

impl std::fmt::Display for Bps {
    /// The exact value, e.g. `7.5bp`, `10bp`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let whole = self.raw / BPS_SCALE;
        let mut frac = self.raw % BPS_SCALE;
        if frac == 0 {
            return write!(f, "{whole}bp");
        }
        let mut width = 9;
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        write!(f, "{whole}.{frac:0width$}bp")
    }
}

/// One fee tier: applies to accounts whose 30-day volume is at least `min_volume_30d`
/// (and below the next tier's minimum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FeeTier {
    /// Smallest rolling 30-day traded notional (quote currency) for this tier.
    pub min_volume_30d: Money,
    /// Rate on fills that added liquidity.
    pub maker: Bps,
    /// Rate on fills that took liquidity.
    pub taker: Bps,
}

impl FeeTier {
    /// The rate for a fill with the given liquidity.
    pub fn rate(&self, liquidity: Liquidity) -> Bps {
        match liquidity {
            Liquidity::Maker => self.maker,
            Liquidity::Taker => self.taker,
        }
    }
}

/// Why a fee schedule could not be built. Tier indexes count from 0 and field names use
/// the resources' spelling (`spec.backtest.venueFees`), so config errors point at the YAML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeScheduleError {
    /// No tiers at all.
    #[error("fee schedule has no tiers")]
    NoTiers,
    /// A field is not a valid value.
    #[error("fee tier {tier}: {field} {input:?} is invalid: {reason}")]
    InvalidField {
        /// Tier index (0-based).
        tier: usize,
        /// `minVolume30d`, `makerBps` or `takerBps`.
        field: &'static str,
        /// The text as given.
        input: String,
        /// Why it was refused.
        reason: String,
    },
    /// The first tier must start at zero volume so every account has a rate.
    #[error("fee tier 0: minVolume30d must be 0, got {min}")]
    FirstTierNotZero {
        /// The first tier's minimum.
        min: Money,
    },
    /// Tier minimums must be strictly increasing.
    #[error("fee tier {tier}: minVolume30d {min} is not above the previous tier's {previous}")]
    NotIncreasing {
        /// Tier index (0-based).
        tier: usize,
        /// This tier's minimum.
        min: Money,
        /// The previous tier's minimum.
        previous: Money,
    },
}

/// The venue's maker/taker rates by rolling 30-day traded volume (a bot's
/// `spec.backtest.venueFees`): what the simulated exchange charges, not the platform's
/// commission.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FeeSchedule {
    /// Tiers, strictly increasing by `min_volume_30d`, the first at zero.
    tiers: Vec<FeeTier>,
}

impl FeeSchedule {
    /// Build from tiers; they must be non-empty, start at volume 0 and strictly increase.
    pub fn new(tiers: Vec<FeeTier>) -> Result<Self, FeeScheduleError> {
        let first = tiers.first().ok_or(FeeScheduleError::NoTiers)?;
        if !first.min_volume_30d.is_zero() {
            return Err(FeeScheduleError::FirstTierNotZero {
                min: first.min_volume_30d,
            });
        }
        for (i, w) in tiers.windows(2).enumerate() {
            if w[1].min_volume_30d <= w[0].min_volume_30d {
                return Err(FeeScheduleError::NotIncreasing {
                    tier: i + 1,
                    min: w[1].min_volume_30d,
                    previous: w[0].min_volume_30d,
                });
            }
        }
        Ok(Self { tiers })
    }

    /// Build from decimal strings `(minVolume30d, makerBps, takerBps)`, lowest volume
    /// first, as the resources write them. Errors name the tier index and the field.
    pub fn from_tiers(tiers: &[(&str, &str, &str)]) -> Result<Self, FeeScheduleError> {
        let mut out = Vec::with_capacity(tiers.len());
        for (i, &(volume, maker, taker)) in tiers.iter().enumerate() {
            let invalid =
                |field: &'static str, input: &str, reason: String| FeeScheduleError::InvalidField {
                    tier: i,
                    field,
                    input: input.to_owned(),
                    reason,
                };
            let min_volume_30d =
                Money::parse(volume).map_err(|e| invalid("minVolume30d", volume, e.to_string()))?;
            if min_volume_30d.is_negative() {
                return Err(invalid("minVolume30d", volume, "negative".to_owned()));
            }
            let maker = Bps::parse(maker).map_err(|e| invalid("makerBps", maker, e.to_string()))?;
            let taker = Bps::parse(taker).map_err(|e| invalid("takerBps", taker, e.to_string()))?;
            out.push(FeeTier {
                min_volume_30d,
                maker,
                taker,
            });
        }
        Self::new(out)
    }

    /// One tier with the same rates at every volume.
    pub fn flat(maker: Bps, taker: Bps) -> Self {
        Self {
            tiers: vec![FeeTier {
                min_volume_30d: Money::ZERO,
                maker,
                taker,
            }],
        }
    }

    /// No fees at all.
    pub fn zero() -> Self {
        Self::flat(Bps::ZERO, Bps::ZERO)
    }

    /// The tiers, lowest volume first.
    pub fn tiers(&self) -> &[FeeTier] {
        &self.tiers
    }

    /// The tier for an account with `volume_30d` of traded notional: the last tier whose
    /// minimum is at or below it.
    pub fn tier_for(&self, volume_30d: Money) -> &FeeTier {
        // Tiers are few (the resources allow 20) and sorted; scan from the top.
        self.tiers
            .iter()
            .rev()
            .find(|t| t.min_volume_30d <= volume_30d)
            .unwrap_or(&self.tiers[0])
    }

    /// The fee on one fill for an account with `volume_30d`, rounded up (see module docs).
    pub fn fee(&self, volume_30d: Money, notional: Money, liquidity: Liquidity) -> Money {
        self.tier_for(volume_30d).rate(liquidity).fee_on(notional)
    }
}

impl Default for FeeSchedule {
    /// Flat 10 bp maker and taker (the common spot base rate).
    fn default() -> Self {
        let ten = Bps {
            raw: 10 * BPS_SCALE,
        };
        Self::flat(ten, ten)
    }
}

/// Rolling traded notional over a time window (30 days by default), fed from fills.
///
/// The window is `(now − window, now]`: a fill exactly `window` old has dropped out.
/// Timestamps are expected to be non-decreasing, as they are in a replay; fills at the
/// same timestamp are merged so memory grows with distinct fill times, not fills.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TradedVolume {
    window: i64,
    entries: VecDeque<(UnixNanos, Money)>,
    total: Money,
}

impl Default for TradedVolume {
    fn default() -> Self {
        Self::new()
    }
}

impl TradedVolume {
    /// A 30-day window.
    pub fn new() -> Self {
        Self::with_window(THIRTY_DAYS_NANOS)
    }

    /// A window of `window_nanos` nanoseconds.
    pub fn with_window(window_nanos: i64) -> Self {
        Self {
            window: window_nanos,
            entries: VecDeque::new(),
            total: Money::ZERO,
        }
    }

    /// Add `|notional|` traded at `ts`.
    pub fn record(&mut self, ts: UnixNanos, notional: Money) {
        let n = notional.checked_abs().unwrap_or(Money::from_raw(i128::MAX));
        self.total = self.total.checked_add(n).unwrap_or(self.total);
        match self.entries.back_mut() {
            Some((last, sum)) if *last == ts => *sum = sum.checked_add(n).unwrap_or(*sum),
            _ => self.entries.push_back((ts, n)),
        }
    }

    /// Volume in `(now − window, now]`, dropping older entries.
    pub fn total_at(&mut self, now: UnixNanos) -> Money {
        let cutoff = now.saturating_sub(self.window);
        while let Some(&(ts, n)) = self.entries.front() {
            if ts > cutoff {
                break;
            }
            self.total = self.total.checked_sub(n).unwrap_or(Money::ZERO);
            self.entries.pop_front();
        }
        self.total
    }

    /// Volume as of the last [`TradedVolume::total_at`] or [`TradedVolume::record`].
    pub fn total(&self) -> Money {
        self.total
    }
}

/// An account's fee state: its schedule and rolling volume. The exchange charges every
/// fill through it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FeeAccount {
    schedule: FeeSchedule,
    volume: TradedVolume,
}

impl FeeAccount {
    /// A fresh account (no volume yet) on `schedule`.
    pub fn new(schedule: FeeSchedule) -> Self {
        Self {
            schedule,
            volume: TradedVolume::new(),
        }
    }

    /// The schedule.
    pub fn schedule(&self) -> &FeeSchedule {
        &self.schedule
    }

    /// Rolling 30-day volume as of the last fill.
    pub fn volume_30d(&self) -> Money {
        self.volume.total()
    }

    /// The fee for a fill of `notional` at `ts`, then record its volume. The tier is
    /// chosen by the volume **before** this fill, so a fill that crosses a tier boundary
    /// pays the old rate and the next fill the new one.
    pub fn charge(&mut self, ts: UnixNanos, notional: Money, liquidity: Liquidity) -> Money {
        let volume = self.volume.total_at(ts);
        let fee = self.schedule.fee(volume, notional, liquidity);
        self.volume.record(ts, notional);
        fee
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        s.parse().expect("valid money")
    }
    fn bps(s: &str) -> Bps {
        Bps::parse(s).expect("valid bps")
    }
    const DAY: i64 = 86_400 * 1_000_000_000;

    #[test]
    fn bps_parse_exact_and_bounded() {
        assert_eq!(bps("7.5").raw(), 7_500_000_000);
        assert_eq!(bps("0.000000001").raw(), 1);
        assert_eq!(bps("10000"), Bps::from_whole(10_000).expect("100 %"));
        assert_eq!(bps("7.5").to_string(), "7.5bp");
        assert_eq!(bps("10").to_string(), "10bp");
        assert_eq!(bps("0.375").to_string(), "0.375bp");
        assert!(matches!(Bps::parse("-1"), Err(BpsError::Negative { .. })));
        assert!(matches!(
            Bps::parse("10000.5"),
            Err(BpsError::TooLarge { .. })
        ));
        assert!(matches!(Bps::parse("1e3"), Err(BpsError::Parse(_))));
        assert!(matches!(
            Bps::parse("0.0000000001"),
            Err(BpsError::Parse(_))
        ));
        assert!(Bps::from_whole(10_001).is_err());
        assert!(Bps::from_raw(-1).is_err());
        assert!(Bps::from_raw(BPS_MAX_RAW + 1).is_err());
        assert_eq!(Bps::from_raw(5).map(Bps::raw), Ok(5));
    }

    #[test]
    fn fee_rounds_up_in_the_venues_favour() {
        // 7.5 bp of 1000 = 0.75 exactly.
        assert_eq!(bps("7.5").fee_on(m("1000")), m("0.75"));
        // 10 bp of 0.000015 = 1.5e-8 exactly; 1 bp of it = 1.5e-9 -> rounds up to 2e-9.
        assert_eq!(bps("1").fee_on(m("0.000015")), Money::from_raw(2));
        // Any positive remainder rounds up, even 1e-13 nano.
        assert_eq!(
            bps("0.000000001").fee_on(Money::from_raw(1)),
            Money::from_raw(1)
        );
        // Zero stays zero; the sign of the notional does not matter.
        assert_eq!(bps("10").fee_on(Money::ZERO), Money::ZERO);
        assert_eq!(bps("10").fee_on(m("-100")), m("0.1"));
        assert_eq!(Bps::ZERO.fee_on(m("12345")), Money::ZERO);
        // Huge notional takes the split path and stays exact.
        let huge = Money::from_raw(i128::MAX / 2);
        let exact = (i128::MAX / 2) / 10_000 * 3 + 1; // 3 bp; remainder rounds up
        assert_eq!(bps("3").fee_on(huge), Money::from_raw(exact));
        assert_eq!(
            Bps::from_whole(10_000).expect("ok").fee_on(huge),
            huge,
            "100 % of the notional"
        );
    }

    #[test]
    fn schedule_from_strings_and_tier_selection() {
        let s = FeeSchedule::from_tiers(&[
            ("0", "10", "10"),
            ("1000000", "8", "9.5"),
            ("5000000.5", "2", "7.5"),
        ])
        .expect("valid");
        assert_eq!(s.tiers().len(), 3);
        assert_eq!(s.tier_for(Money::ZERO).taker, bps("10"));
        assert_eq!(s.tier_for(m("999999.999999999")).taker, bps("10"));
        assert_eq!(s.tier_for(m("1000000")).taker, bps("9.5"));
        assert_eq!(s.tier_for(m("5000000.5")).maker, bps("2"));
        assert_eq!(s.tier_for(m("1")).maker, bps("10"));
        assert_eq!(s.fee(m("6000000"), m("1000"), Liquidity::Taker), m("0.75"));
        assert_eq!(s.fee(m("6000000"), m("1000"), Liquidity::Maker), m("0.2"));
    }

    #[test]
    fn schedule_errors_name_tier_and_field() {
        let err = FeeSchedule::from_tiers(&[("0", "10", "10"), ("100", "x", "1")])
            .expect_err("bad maker");
        assert!(matches!(
            err,
            FeeScheduleError::InvalidField {
                tier: 1,
                field: "makerBps",
                ..
            }
        ));
        assert!(
            err.to_string().starts_with("fee tier 1: makerBps \"x\""),
            "{err}"
        );
        let err = FeeSchedule::from_tiers(&[("0", "1", "-2")]).expect_err("negative");
        assert!(matches!(
            err,
            FeeScheduleError::InvalidField {
                tier: 0,
                field: "takerBps",
                ..
            }
        ));
        let err = FeeSchedule::from_tiers(&[("-5", "1", "2")]).expect_err("negative volume");
        assert!(matches!(
            err,
            FeeScheduleError::InvalidField {
                field: "minVolume30d",
                ..
            }
        ));
        assert_eq!(FeeSchedule::from_tiers(&[]), Err(FeeScheduleError::NoTiers));
        assert!(matches!(
            FeeSchedule::from_tiers(&[("10", "1", "1")]),
            Err(FeeScheduleError::FirstTierNotZero { .. })
        ));
        let err = FeeSchedule::from_tiers(&[("0", "1", "1"), ("5", "1", "1"), ("5", "1", "1")])
            .expect_err("not increasing");
        assert!(matches!(
            err,
            FeeScheduleError::NotIncreasing { tier: 2, .. }
        ));
    }

    #[test]
    fn flat_zero_and_default() {
        assert_eq!(
            FeeSchedule::zero().fee(Money::ZERO, m("100"), Liquidity::Taker),
            Money::ZERO
        );
        let d = FeeSchedule::default();
        assert_eq!(d.fee(Money::ZERO, m("100"), Liquidity::Maker), m("0.1"));
        let f = FeeSchedule::flat(bps("1"), bps("2"));
        assert_eq!(f.fee(m("1"), m("100"), Liquidity::Taker), m("0.02"));
    }

    #[test]
    fn rolling_volume_window_is_half_open() {
        let mut v = TradedVolume::new();
        v.record(0, m("100"));
        v.record(0, m("-50")); // merged, absolute value
        v.record(DAY, m("10"));
        assert_eq!(v.total_at(DAY), m("160"));
        // Exactly 30 days after ts 0: the first entry drops out.
        assert_eq!(v.total_at(30 * DAY - 1), m("160"));
        assert_eq!(v.total_at(30 * DAY), m("10"));
        assert_eq!(v.total_at(31 * DAY), Money::ZERO);
        assert_eq!(v.total(), Money::ZERO);
    }

    #[test]
    fn account_moves_up_a_tier_after_the_crossing_fill() {
        let s = FeeSchedule::from_tiers(&[("0", "10", "10"), ("1000", "5", "5")]).expect("ok");
        let mut a = FeeAccount::new(s);
        // Volume 0 -> tier 0 even though this fill takes volume to 1000.
        assert_eq!(a.charge(0, m("1000"), Liquidity::Taker), m("1"));
        assert_eq!(a.volume_30d(), m("1000"));
        // Now at 1000 -> tier 1.
        assert_eq!(a.charge(DAY, m("1000"), Liquidity::Maker), m("0.5"));
        // 30 days after the first fill it has expired: 1000 left, still tier 1.
        assert_eq!(a.charge(30 * DAY, m("100"), Liquidity::Taker), m("0.05"));
        // 30 days after the second, only 100 remains: back to tier 0.
        assert_eq!(a.charge(31 * DAY, m("100"), Liquidity::Taker), m("0.1"));
        assert_eq!(a.schedule().tiers().len(), 2);
    }
}
