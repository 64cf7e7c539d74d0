//! [`Rate`]: an exact fraction of a whole, for fee rates in basis points and percents.

use tradewind_core::fixed::{Money, RoundingMode};

use crate::CommissionError;

/// Raw units in a whole (100 %): one raw unit is 10⁻⁹ of a basis point.
const WHOLE: i128 = 10_000_000_000_000;
/// Raw units per basis point.
const PER_BPS: i128 = 1_000_000_000;

/// Why a rate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// Not a plain decimal with at most 9 decimals.
    #[error("{input:?} is not a decimal with at most 9 decimal places")]
    Malformed {
        /// The text as given.
        input: String,
    },
    /// Below zero.
    #[error("{input:?} is negative")]
    Negative {
        /// The text as given.
        input: String,
    },
    /// Above 100 %.
    #[error("{input:?} is above 100 %")]
    TooLarge {
        /// The text as given.
        input: String,
    },
}

/// A rate between 0 and 100 % inclusive, held exactly in units of 10⁻⁹ basis points,
/// so 7.5 bp and 12.345 % are exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate {
    raw: u64,
}

impl Rate {
    /// 0 %.
    pub const ZERO: Rate = Rate { raw: 0 };
    /// 100 %.
    pub const WHOLE: Rate = Rate { raw: WHOLE as u64 };

    /// Basis points as decimal text, e.g. `"7.5"`.
    pub fn from_bps(text: &str) -> Result<Self, RateError> {
        Self::scaled(text, 1)
    }

    /// A percentage as decimal text, e.g. `"10"` for 10 %.
    pub fn from_percent(text: &str) -> Result<Self, RateError> {
        Self::scaled(text, 100)
    }

    /// Whole basis points (at most 10 000).
    pub fn from_whole_bps(bps: u32) -> Result<Self, RateError> {
        Self::from_raw(i128::from(bps) * PER_BPS).ok_or_else(|| RateError::TooLarge {
            input: bps.to_string(),
        })
    }

    fn scaled(text: &str, per_unit_bps: i128) -> Result<Self, RateError> {
        let nanos = Money::parse(text)
            .map_err(|_| RateError::Malformed {
                input: text.to_owned(),
            })?
            .raw();
        if nanos < 0 {
            return Err(RateError::Negative {
                input: text.to_owned(),
            });
        }
        // 10⁻⁹ of a basis point (or of a percent = 100 bp) per nano-unit of the text.
        nanos
            .checked_mul(per_unit_bps)
            .and_then(Self::from_raw)
            .ok_or_else(|| RateError::TooLarge {
                input: text.to_owned(),
            })
    }

    fn from_raw(raw: i128) -> Option<Self> {
        (0..=WHOLE)
            .contains(&raw)
            .then_some(Self { raw: raw as u64 })
    }

    /// Units of 10⁻⁹ basis points.
    pub const fn raw(self) -> u64 {
        self.raw
    }

    /// `true` if 0 %.
    pub const fn is_zero(self) -> bool {
        self.raw == 0
    }

    /// `amount × rate`, computed exactly and rounded once with `mode` to 10⁻⁹.
    pub fn of(self, amount: Money, mode: RoundingMode) -> Result<Money, CommissionError> {
        amount
            .mul_ratio(i128::from(self.raw), WHOLE, mode)
            .ok_or(CommissionError::Overflow { what: "a fee" })
    }
}

impl std::fmt::Display for Rate {
    /// The exact value in basis points, e.g. `7.5bp`, `1000bp`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per_bps = PER_BPS as u64;
        let whole = self.raw / per_bps;
        let mut frac = self.raw % per_bps;
        if frac == 0 {
            return write!(f, "{whole}bp");
        }
        let mut width = 9;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        write!(f, "{whole}.{frac:0width$}bp")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_exactly_and_are_bounded() {
        assert_eq!(Rate::from_bps("7.5").unwrap().raw(), 7_500_000_000);
        assert_eq!(
            Rate::from_percent("10").unwrap(),
            Rate::from_whole_bps(1000).unwrap()
        );
        assert_eq!(Rate::from_percent("100").unwrap(), Rate::WHOLE);
        assert_eq!(Rate::from_bps("10000").unwrap(), Rate::WHOLE);
        assert!(matches!(
            Rate::from_bps("10000.000000001"),
            Err(RateError::TooLarge { .. })
        ));
        assert!(matches!(
            Rate::from_percent("100.1"),
            Err(RateError::TooLarge { .. })
        ));
        assert!(matches!(
            Rate::from_bps("-1"),
            Err(RateError::Negative { .. })
        ));
        assert!(matches!(
            Rate::from_bps("1e3"),
            Err(RateError::Malformed { .. })
        ));
        assert!(matches!(
            Rate::from_bps("0.0000000001"),
            Err(RateError::Malformed { .. })
        ));
        assert!(Rate::from_whole_bps(10_001).is_err());
        assert_eq!(Rate::from_bps("7.5").unwrap().to_string(), "7.5bp");
        assert_eq!(Rate::from_bps("10").unwrap().to_string(), "10bp");
    }

    #[test]
    fn a_rate_of_an_amount_rounds_once() {
        let m = |s: &str| Money::parse(s).unwrap();
        let r = Rate::from_bps("7.5").unwrap();
        assert_eq!(r.of(m("1000"), RoundingMode::Up).unwrap(), m("0.75"));
        // 1 bp of 0.000015 = 1.5e-9: up to 2e-9, down to 1e-9.
        let one = Rate::from_bps("1").unwrap();
        assert_eq!(
            one.of(m("0.000015"), RoundingMode::Up).unwrap(),
            Money::from_raw(2)
        );
        assert_eq!(
            one.of(m("0.000015"), RoundingMode::Down).unwrap(),
            Money::from_raw(1)
        );
        assert!(
            Rate::WHOLE
                .of(Money::from_raw(i128::MAX), RoundingMode::Up)
                .is_err()
        );
    }
}
