//! [`Money`]: a signed amount of a currency, for cash, notional, fees and PnL.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use super::rounding::div_round;
use super::{FIXED_PRECISION, FIXED_SCALAR, FixedError, RoundingMode, step_for};

const KIND: &str = "money";

/// An amount in nano-units of its currency, held in `i128` so that sums of notionals
/// cannot realistically overflow (range ±1.7e29). Always 9 decimals internally; the
/// currency is tracked by the caller (portfolio, instrument).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money {
    raw: i128,
}

/// Largest amount of money the core represents: `i128::MAX` nano-units.
pub const MONEY_MAX: Money = Money { raw: i128::MAX };

impl Money {
    /// Zero.
    pub const ZERO: Money = Money { raw: 0 };

    /// Build from nano-units.
    pub const fn from_raw(raw: i128) -> Self {
        Self { raw }
    }

    /// Raw value in nano-units.
    pub const fn raw(self) -> i128 {
        self.raw
    }

    /// Whole units, e.g. `Money::from_units(100)` is 100.000000000.
    pub fn checked_from_units(units: i64) -> Option<Self> {
        i128::from(units)
            .checked_mul(i128::from(FIXED_SCALAR))
            .map(Self::from_raw)
    }

    /// Lossy conversion for statistics only.
    pub fn as_f64(self) -> f64 {
        super::i128_as_f64(self.raw) / 1e9
    }

    /// `true` if below zero.
    pub const fn is_negative(self) -> bool {
        self.raw < 0
    }

    /// `true` if exactly zero.
    pub const fn is_zero(self) -> bool {
        self.raw == 0
    }

    /// Absolute value; `None` only for `i128::MIN` raw.
    pub fn checked_abs(self) -> Option<Self> {
        self.raw.checked_abs().map(Self::from_raw)
    }

    /// Sum; `None` on overflow.
    pub fn checked_add(self, rhs: Self) -> Option<Self> {
        self.raw.checked_add(rhs.raw).map(Self::from_raw)
    }

    /// Difference; `None` on overflow.
    pub fn checked_sub(self, rhs: Self) -> Option<Self> {
        self.raw.checked_sub(rhs.raw).map(Self::from_raw)
    }

    /// `self × numer / denom`, computed exactly and rounded once with `mode` at 1e-9.
    /// `None` if `denom == 0` or on overflow.
    pub fn mul_ratio(self, numer: i128, denom: i128, mode: RoundingMode) -> Option<Self> {
        div_round(self.raw.checked_mul(numer)?, denom, mode).map(Self::from_raw)
    }

    /// `self × bps / 10_000` (a fee or rebate in basis points; negative for rebates),
    /// rounded with `mode` at 1e-9. Fractional basis points (e.g. 7.5 bp) go through
    /// [`Money::mul_ratio`] (`mul_ratio(75, 100_000, mode)`).
    pub fn mul_bps(self, bps: i64, mode: RoundingMode) -> Option<Self> {
        self.mul_ratio(i128::from(bps), 10_000, mode)
    }

    /// Round to `decimals` places (e.g. 2 for cents) with `mode`; `None` if `decimals > 9`.
    pub fn round_dp(self, decimals: u8, mode: RoundingMode) -> Option<Self> {
        if decimals > FIXED_PRECISION {
            return None;
        }
        let step = i128::from(step_for(decimals));
        div_round(self.raw, step, mode)?
            .checked_mul(step)
            .map(Self::from_raw)
    }

    /// Parse a decimal string with up to 9 significant decimals; never rounds.
    pub fn parse(input: &str) -> Result<Self, FixedError> {
        super::parse::parse_decimal(input, KIND).map(|d| Self::from_raw(d.raw))
    }
}

impl fmt::Display for Money {
    /// The exact value with trailing zeros removed but at least two decimals:
    /// `12.50`, `-3.00`, `0.000000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude = self.raw.unsigned_abs();
        let frac = magnitude % FIXED_SCALAR as u128;
        let mut decimals = FIXED_PRECISION;
        while decimals > 2 && frac.is_multiple_of(u128::from(step_for(decimals - 1))) {
            decimals -= 1;
        }
        super::write_fixed(f, self.raw < 0, magnitude, decimals)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

impl FromStr for Money {
    type Err = FixedError;

    /// Same as [`Money::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Add for Money {
    type Output = Money;

    /// Panics on overflow (never wraps).
    fn add(self, rhs: Self) -> Self {
        self.checked_add(rhs)
            .unwrap_or_else(|| panic!("money overflow: {self} + {rhs}"))
    }
}

impl Sub for Money {
    type Output = Money;

    /// Panics on overflow (never wraps).
    fn sub(self, rhs: Self) -> Self {
        self.checked_sub(rhs)
            .unwrap_or_else(|| panic!("money overflow: {self} - {rhs}"))
    }
}

impl Neg for Money {
    type Output = Money;

    /// Panics for `i128::MIN` raw.
    fn neg(self) -> Self {
        self.raw
            .checked_neg()
            .map(Self::from_raw)
            .unwrap_or_else(|| panic!("money overflow: -({self})"))
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl SubAssign for Money {
    fn sub_assign(&mut self, rhs: Self) {
        *self = *self - rhs;
    }
}

impl Sum for Money {
    /// Panics on overflow, like `+`.
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Self {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RoundingMode::*;

    fn m(s: &str) -> Money {
        s.parse().expect("valid money")
    }

    #[test]
    fn display_trims_to_at_least_two_decimals() {
        assert_eq!(m("12.5").to_string(), "12.50");
        assert_eq!(m("-3").to_string(), "-3.00");
        assert_eq!(m("0.000000001").to_string(), "0.000000001");
        assert_eq!(m("1234.5678").to_string(), "1234.5678");
        assert_eq!(Money::checked_from_units(100), Some(m("100")));
    }

    #[test]
    fn fees_in_basis_points_round_explicitly() {
        // 10 bp of 10000.50 = 10.0005 exactly.
        assert_eq!(m("10000.50").mul_bps(10, HalfEven), Some(m("10.0005")));
        // 1 bp of 0.000000015 = 1.5e-12: below a nano, so rounding decides.
        let tiny = m("0.000015");
        // 0.000015 × 1/10000 = 1.5e-9 -> tie.
        assert_eq!(tiny.mul_bps(1, HalfEven), Some(Money::from_raw(2)));
        assert_eq!(tiny.mul_bps(1, Down), Some(Money::from_raw(1)));
        assert_eq!(tiny.mul_bps(1, Up), Some(Money::from_raw(2)));
        assert_eq!(tiny.mul_bps(1, HalfAwayFromZero), Some(Money::from_raw(2)));
        // 0.000025 × 1bp = 2.5e-9: half-even goes to 2, half-away to 3.
        assert_eq!(m("0.000025").mul_bps(1, HalfEven), Some(Money::from_raw(2)));
        assert_eq!(
            m("0.000025").mul_bps(1, HalfAwayFromZero),
            Some(Money::from_raw(3))
        );
        // Negative amount (e.g. a short's notional) and rebates (negative bps).
        assert_eq!(m("-0.000015").mul_bps(1, Down), Some(Money::from_raw(-2)));
        assert_eq!(
            m("-0.000015").mul_bps(1, TowardZero),
            Some(Money::from_raw(-1))
        );
        assert_eq!(
            m("-0.000025").mul_bps(1, HalfEven),
            Some(Money::from_raw(-2))
        );
        assert_eq!(m("100").mul_bps(-2, HalfEven), Some(m("-0.02")));
        // 7.5 bp through mul_ratio.
        assert_eq!(m("1000").mul_ratio(75, 100_000, HalfEven), Some(m("0.75")));
        assert_eq!(m("1").mul_ratio(1, 0, HalfEven), None);
        assert_eq!(Money::from_raw(i128::MAX).mul_bps(2, HalfEven), None);
    }

    #[test]
    fn round_to_cents() {
        assert_eq!(m("1.005").round_dp(2, HalfEven), Some(m("1.00")));
        assert_eq!(m("1.015").round_dp(2, HalfEven), Some(m("1.02")));
        assert_eq!(m("-1.005").round_dp(2, HalfAwayFromZero), Some(m("-1.01")));
        assert_eq!(m("1.001").round_dp(2, Up), Some(m("1.01")));
        assert_eq!(m("1").round_dp(10, Up), None);
    }

    #[test]
    fn arithmetic_and_overflow() {
        assert_eq!(m("1.5") + m("2.25"), m("3.75"));
        assert_eq!(m("1.5") - m("2.25"), m("-0.75"));
        assert_eq!(-m("1"), m("-1"));
        assert_eq!([m("1"), m("2")].into_iter().sum::<Money>(), m("3"));
        assert_eq!(
            Money::from_raw(i128::MAX).checked_add(Money::from_raw(1)),
            None
        );
        assert!(m("-2") < m("1"));
        assert!(matches!(
            Money::parse("1.0000000001"),
            Err(FixedError::TooManyDecimals { .. })
        ));
    }

    #[test]
    #[should_panic(expected = "money overflow")]
    fn add_overflow_panics() {
        let _ = Money::from_raw(i128::MAX) + Money::from_raw(1);
    }
}
