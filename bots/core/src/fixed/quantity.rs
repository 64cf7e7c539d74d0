//! [`Quantity`]: a non-negative fixed-point size.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::str::FromStr;

use super::parse::{Decimal, parse_at_precision, parse_decimal};
use super::{FIXED_PRECISION, FixedError, check_precision, step_for, write_fixed};

const KIND: &str = "quantity";

/// An order or trade size: `raw` nano-units (`u64`, so up to 1.8e10) plus its decimals.
///
/// Never negative: direction lives in the order side. Equality, ordering and hashing use
/// the value only.
#[derive(Clone, Copy)]
pub struct Quantity {
    raw: u64,
    precision: u8,
}

/// Largest quantity the core represents: `u64::MAX` nano-units, 18 446 744 073.709551615.
pub const QUANTITY_MAX: Quantity = Quantity {
    raw: u64::MAX,
    precision: 9,
};

impl Quantity {
    /// Zero at precision 0.
    pub const ZERO: Quantity = Quantity {
        raw: 0,
        precision: 0,
    };

    /// Build from raw nano-units; fails if `precision > 9` or `raw` has digits below it.
    pub fn from_raw(raw: u64, precision: u8) -> Result<Self, FixedError> {
        check_precision(precision)?;
        if !raw.is_multiple_of(step_for(precision)) {
            return Err(FixedError::RawNotAtPrecision {
                kind: KIND,
                raw: i128::from(raw),
                precision,
            });
        }
        Ok(Self { raw, precision })
    }

    /// Parse `"0.00012"` at an explicit precision. Never rounds (see [`Price::parse`](super::Price::parse));
    /// negative text is an error.
    pub fn parse(input: &str, precision: u8) -> Result<Self, FixedError> {
        let d = parse_at_precision(input, precision, KIND)?;
        Self::from_decimal(d, precision, input)
    }

    fn from_decimal(d: Decimal, precision: u8, input: &str) -> Result<Self, FixedError> {
        if d.raw < 0 {
            return Err(FixedError::Negative {
                kind: KIND,
                input: input.to_owned(),
            });
        }
        let raw = u64::try_from(d.raw).map_err(|_| FixedError::OutOfRange {
            kind: KIND,
            input: input.to_owned(),
        })?;
        Ok(Self { raw, precision })
    }

    /// Build without validation, for crate-internal code that keeps the invariant
    /// (`precision <= 9`, `raw` a multiple of the step) by construction.
    pub(crate) const fn from_raw_unchecked(raw: u64, precision: u8) -> Self {
        Self { raw, precision }
    }

    /// Raw value in nano-units.
    pub const fn raw(self) -> u64 {
        self.raw
    }

    /// Number of decimals (0..=9).
    pub const fn precision(self) -> u8 {
        self.precision
    }

    /// The same value re-tagged with another precision; fails if that would hide digits.
    pub fn with_precision(self, precision: u8) -> Result<Self, FixedError> {
        Self::from_raw(self.raw, precision)
    }

    /// Lossy conversion for statistics only.
    pub fn as_f64(self) -> f64 {
        self.raw as f64 / 1e9
    }

    /// `true` if exactly zero.
    pub const fn is_zero(self) -> bool {
        self.raw == 0
    }

    /// Sum at the larger precision; `None` on overflow.
    pub fn checked_add(self, rhs: Self) -> Option<Self> {
        Some(Self {
            raw: self.raw.checked_add(rhs.raw)?,
            precision: self.precision.max(rhs.precision),
        })
    }

    /// Difference at the larger precision; `None` if it would go below zero.
    pub fn checked_sub(self, rhs: Self) -> Option<Self> {
        Some(Self {
            raw: self.raw.checked_sub(rhs.raw)?,
            precision: self.precision.max(rhs.precision),
        })
    }

    /// Difference clamped at zero (e.g. remaining size after an over-fill report).
    pub fn saturating_sub(self, rhs: Self) -> Self {
        Self {
            raw: self.raw.saturating_sub(rhs.raw),
            precision: self.precision.max(rhs.precision),
        }
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.raw.cmp(&other.raw)
    }
}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl fmt::Display for Quantity {
    /// Exactly `precision` decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed(f, false, u128::from(self.raw), self.precision)
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quantity({self})")
    }
}

impl FromStr for Quantity {
    type Err = FixedError;

    /// Parse with the precision taken from the text (`"1.500"` has precision 3).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d = parse_decimal(s, KIND)?;
        Self::from_decimal(d, d.written.min(FIXED_PRECISION), s)
    }
}

impl Add for Quantity {
    type Output = Quantity;

    /// Panics on overflow (never wraps).
    fn add(self, rhs: Self) -> Self {
        self.checked_add(rhs)
            .unwrap_or_else(|| panic!("quantity overflow: {self} + {rhs}"))
    }
}

impl Sub for Quantity {
    type Output = Quantity;

    /// Panics if the result would be negative (never wraps).
    fn sub(self, rhs: Self) -> Self {
        self.checked_sub(rhs)
            .unwrap_or_else(|| panic!("quantity underflow: {self} - {rhs}"))
    }
}

impl AddAssign for Quantity {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl SubAssign for Quantity {
    fn sub_assign(&mut self, rhs: Self) {
        *self = *self - rhs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        s.parse().expect("valid quantity")
    }

    #[test]
    fn parse_display_and_precision() {
        assert_eq!(
            Quantity::parse("0.00012", 5).expect("valid").to_string(),
            "0.00012"
        );
        assert_eq!(Quantity::parse("3", 3).expect("valid").to_string(), "3.000");
        assert_eq!(q("1.500").precision(), 3);
        assert_eq!(q("1.5"), q("1.500"));
        assert!(Quantity::parse("0.123456", 5).is_err());
    }

    #[test]
    fn negative_and_overflow_are_errors() {
        assert!(matches!(
            Quantity::parse("-1", 0),
            Err(FixedError::Negative { .. })
        ));
        assert!(matches!(
            "-0.5".parse::<Quantity>(),
            Err(FixedError::Negative { .. })
        ));
        assert!(matches!(
            Quantity::parse("18446744074", 0),
            Err(FixedError::OutOfRange { .. })
        ));
        assert!(Quantity::parse("18446744073", 0).is_ok());
    }

    #[test]
    fn arithmetic() {
        assert_eq!(q("1.5") + q("0.25"), q("1.75"));
        assert_eq!((q("1.5") + q("0.25")).precision(), 2);
        assert_eq!(q("1") - q("0.4"), q("0.6"));
        assert_eq!(q("1").checked_sub(q("2")), None);
        assert_eq!(q("1").saturating_sub(q("2")), Quantity::ZERO);
        assert_eq!(
            Quantity::from_raw(u64::MAX, 9)
                .expect("valid")
                .checked_add(q("0.000000001")),
            None
        );
    }

    #[test]
    #[should_panic(expected = "quantity underflow")]
    fn sub_below_zero_panics() {
        let _ = q("1") - q("2");
    }
}
