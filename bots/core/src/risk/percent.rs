//! [`Percent`]: an exact, non-negative percentage for limits (no floating point).

use std::fmt;
use std::str::FromStr;

use crate::fixed::{FixedError, Money, RoundingMode};

/// Raw units in 100 % (raw is in 1e-9 of a percent).
pub(crate) const HUNDRED_PERCENT_RAW: u128 = 100_000_000_000;

/// A non-negative percentage with 9 decimals of a percent: `Percent::parse("2.5")` is
/// 2.5 % (raw 2_500_000_000). Exact, so limit checks never depend on float rounding.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent {
    raw: u64,
}

impl Percent {
    /// 0 %.
    pub const ZERO: Percent = Percent { raw: 0 };
    /// 100 %.
    pub const HUNDRED: Percent = Percent {
        raw: HUNDRED_PERCENT_RAW as u64,
    };

    /// From raw units of 1e-9 percent.
    pub const fn from_raw(raw: u64) -> Self {
        Self { raw }
    }

    /// Raw units of 1e-9 percent.
    pub const fn raw(self) -> u64 {
        self.raw
    }

    /// From whole basis points (1 bp = 0.01 %).
    pub const fn from_bps(bps: u32) -> Self {
        Self {
            raw: bps as u64 * 10_000_000,
        }
    }

    /// Parse a decimal percentage such as `"2.5"` (2.5 %). At most 9 decimals, never
    /// rounded; negative values are an error.
    pub fn parse(input: &str) -> Result<Self, FixedError> {
        let raw = Money::parse(input)
            .map_err(|e| match e {
                FixedError::Malformed { input, reason, .. } => FixedError::Malformed {
                    kind: "percent",
                    input,
                    reason,
                },
                other => other,
            })?
            .raw();
        if raw < 0 {
            return Err(FixedError::Negative {
                kind: "percent",
                input: input.to_owned(),
            });
        }
        u64::try_from(raw)
            .map(Self::from_raw)
            .map_err(|_| FixedError::OutOfRange {
                kind: "percent",
                input: input.to_owned(),
            })
    }

    /// The percentage as a fraction (`2.5 %` → `0.025`); lossy, for display and statistics.
    pub fn as_fraction(self) -> f64 {
        self.raw as f64 / HUNDRED_PERCENT_RAW as f64
    }

    /// `amount × self / 100`, rounded with `mode` at 1e-9; `None` on overflow.
    pub fn of(self, amount: Money, mode: RoundingMode) -> Option<Money> {
        amount.mul_ratio(i128::from(self.raw), HUNDRED_PERCENT_RAW as i128, mode)
    }

    /// `true` if `part / whole >= self`, decided exactly for any magnitudes (`whole` > 0).
    /// `false` when `whole` is 0.
    pub fn reached_by(self, part: u128, whole: u128) -> bool {
        if whole == 0 {
            return false;
        }
        // part × 100 % >= whole × self, in 256-bit arithmetic.
        mul_wide(part, HUNDRED_PERCENT_RAW) >= mul_wide(whole, u128::from(self.raw))
    }

    /// `part / whole` as a percentage, rounded half-to-even to 1e-9 %; `None` if `whole`
    /// is 0 or the result does not fit.
    pub fn ratio(part: u128, whole: u128) -> Option<Self> {
        if whole == 0 {
            return None;
        }
        // Split the division so that nothing above `whole × 1e11` is ever formed.
        let int = part / whole;
        let rem = part % whole;
        let scaled_int = int.checked_mul(HUNDRED_PERCENT_RAW)?;
        let frac = crate::fixed::div_round_i128(
            i128::try_from(rem.checked_mul(HUNDRED_PERCENT_RAW)?).ok()?,
            i128::try_from(whole).ok()?,
            RoundingMode::HalfEven,
        )?;
        let raw = scaled_int.checked_add(u128::try_from(frac).ok()?)?;
        u64::try_from(raw).ok().map(Self::from_raw)
    }
}

/// Full 256-bit product of two `u128`s as `(high, low)`; tuples compare lexicographically,
/// which is numeric order.
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a1, a0) = (a >> 64, a & MASK);
    let (b1, b0) = (b >> 64, b & MASK);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    // Each term below is < 2^64, so the sum of three is < 2^66: no overflow.
    let mid = (p00 >> 64) + (p01 & MASK) + (p10 & MASK);
    let low = (p00 & MASK) | (mid << 64);
    let high = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (high, low)
}

impl fmt::Display for Percent {
    /// The exact value without trailing zeros and with a `%` sign: `2.5%`, `100%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.raw / 1_000_000_000;
        let mut frac = self.raw % 1_000_000_000;
        if frac == 0 {
            return write!(f, "{int}%");
        }
        let mut width = 9;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        write!(f, "{int}.{frac:0width$}%")
    }
}

impl fmt::Debug for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Percent({self})")
    }
}

impl FromStr for Percent {
    type Err = FixedError;

    /// Same as [`Percent::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(s: &str) -> Percent {
        s.parse().expect("valid percent")
    }

    #[test]
    fn parse_display_and_conversions() {
        assert_eq!(pct("2.5").raw(), 2_500_000_000);
        assert_eq!(pct("2.5").to_string(), "2.5%");
        assert_eq!(pct("100").to_string(), "100%");
        assert_eq!(pct("0.000001").to_string(), "0.000001%");
        assert_eq!(pct("100"), Percent::HUNDRED);
        assert_eq!(Percent::from_bps(250), pct("2.5"));
        assert!((pct("2.5").as_fraction() - 0.025).abs() < 1e-15);
        assert!(matches!(
            Percent::parse("-1"),
            Err(FixedError::Negative { .. })
        ));
        assert!(matches!(
            Percent::parse("abc"),
            Err(FixedError::Malformed {
                kind: "percent",
                ..
            })
        ));
        assert!(Percent::parse("1.0000000001").is_err());
        assert!(Percent::parse("99999999999").is_err());
    }

    #[test]
    fn of_and_ratio_are_exact() {
        let m = |s: &str| s.parse::<Money>().expect("valid");
        assert_eq!(
            pct("2.5").of(m("1000"), RoundingMode::HalfEven),
            Some(m("25"))
        );
        assert_eq!(
            Percent::ratio(1, 3),
            Some(Percent::from_raw(33_333_333_333))
        );
        assert_eq!(
            Percent::ratio(2, 3),
            Some(Percent::from_raw(66_666_666_667))
        );
        assert_eq!(Percent::ratio(1, 0), None);
        assert_eq!(Percent::ratio(u128::MAX, 1), None);
    }

    #[test]
    fn reached_by_compares_exactly_even_for_huge_values() {
        let ten = pct("10");
        assert!(ten.reached_by(10, 100));
        assert!(!ten.reached_by(9, 100));
        assert!(ten.reached_by(u128::MAX / 10 + 1, u128::MAX));
        assert!(!ten.reached_by(u128::MAX / 10 - 1, u128::MAX));
        assert!(!ten.reached_by(5, 0));
        assert!(Percent::ZERO.reached_by(0, 1));
        assert_eq!(mul_wide(u128::MAX, u128::MAX), (u128::MAX - 1, 1));
        assert_eq!(mul_wide(1 << 64, 1 << 64), (1, 0));
    }
}
