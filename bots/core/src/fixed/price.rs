//! [`Price`]: a signed fixed-point price.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};
use std::str::FromStr;

use super::parse::{parse_at_precision, parse_decimal};
use super::{FIXED_PRECISION, FixedError, Money, Quantity, check_precision, step_for, write_fixed};

const KIND: &str = "price";

/// A price: `raw` nano-units (`i64`, so ±9.2e9) plus the number of decimals it carries.
///
/// Signed because spreads, price differences and some instruments (spreads, futures
/// calendars) go negative. Equality, ordering and hashing use the value only, so
/// `1.0` (precision 1) equals `1.00` (precision 2).
#[derive(Clone, Copy)]
pub struct Price {
    raw: i64,
    precision: u8,
}

/// Largest price the core represents: `i64::MAX` nano-units, 9 223 372 036.854775807.
pub const PRICE_MAX: Price = Price {
    raw: i64::MAX,
    precision: 9,
};
/// Smallest (most negative) price the core represents: `i64::MIN` nano-units.
pub const PRICE_MIN: Price = Price {
    raw: i64::MIN,
    precision: 9,
};

impl Price {
    /// Zero at precision 0.
    pub const ZERO: Price = Price {
        raw: 0,
        precision: 0,
    };

    /// Build from raw nano-units. Fails if `precision > 9` or `raw` has non-zero digits
    /// below `precision` decimals (which `Display` could not show without rounding).
    pub fn from_raw(raw: i64, precision: u8) -> Result<Self, FixedError> {
        check_precision(precision)?;
        if !raw.unsigned_abs().is_multiple_of(step_for(precision)) {
            return Err(FixedError::RawNotAtPrecision {
                kind: KIND,
                raw: i128::from(raw),
                precision,
            });
        }
        Ok(Self { raw, precision })
    }

    /// Parse `"5000.25"` at an explicit precision. Never rounds: more significant decimals
    /// than `precision` is an error; trailing zeros beyond it are accepted (exact).
    pub fn parse(input: &str, precision: u8) -> Result<Self, FixedError> {
        let d = parse_at_precision(input, precision, KIND)?;
        Self::from_decimal_raw(d.raw, precision, input)
    }

    fn from_decimal_raw(raw: i128, precision: u8, input: &str) -> Result<Self, FixedError> {
        let raw = i64::try_from(raw).map_err(|_| FixedError::OutOfRange {
            kind: KIND,
            input: input.to_owned(),
        })?;
        Ok(Self { raw, precision })
    }

    /// Build without validation, for crate-internal code that keeps the invariant
    /// (`precision <= 9`, `raw` a multiple of the step) by construction.
    pub(crate) const fn from_raw_unchecked(raw: i64, precision: u8) -> Self {
        Self { raw, precision }
    }

    /// Raw value in nano-units (10^-9).
    pub const fn raw(self) -> i64 {
        self.raw
    }

    /// Number of decimals this price carries (0..=9).
    pub const fn precision(self) -> u8 {
        self.precision
    }

    /// The same value re-tagged with another precision; fails if that would hide digits.
    pub fn with_precision(self, precision: u8) -> Result<Self, FixedError> {
        Self::from_raw(self.raw, precision)
    }

    /// Lossy conversion for statistics and signals only; never feed it back into prices.
    pub fn as_f64(self) -> f64 {
        self.raw as f64 / 1e9
    }

    /// `true` if the price is above zero.
    pub const fn is_positive(self) -> bool {
        self.raw > 0
    }

    /// `true` if the price is exactly zero.
    pub const fn is_zero(self) -> bool {
        self.raw == 0
    }

    /// Sum, at the larger of the two precisions; `None` on overflow.
    pub fn checked_add(self, rhs: Self) -> Option<Self> {
        Some(Self {
            raw: self.raw.checked_add(rhs.raw)?,
            precision: self.precision.max(rhs.precision),
        })
    }

    /// Difference, at the larger of the two precisions; `None` on overflow.
    pub fn checked_sub(self, rhs: Self) -> Option<Self> {
        Some(Self {
            raw: self.raw.checked_sub(rhs.raw)?,
            precision: self.precision.max(rhs.precision),
        })
    }

    /// Negation; `None` for the one value (`i64::MIN` raw) that has no negative.
    pub fn checked_neg(self) -> Option<Self> {
        Some(Self {
            raw: self.raw.checked_neg()?,
            precision: self.precision,
        })
    }

    /// Notional value `self × qty`, exact in `i128` then rounded half-to-even to 1e-9.
    /// Cannot overflow: `|i64| × u64 < 2^127`.
    pub fn notional(self, qty: Quantity) -> Money {
        let exact = i128::from(self.raw) * i128::from(qty.raw());
        // Dividing by the scale once: the product carries 10^-18 units.
        let raw = super::rounding::div_round(exact, 1_000_000_000, super::RoundingMode::HalfEven)
            .unwrap_or_else(|| unreachable!("division by a non-zero constant cannot fail"));
        Money::from_raw(raw)
    }
}

impl PartialEq for Price {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for Price {}

impl PartialOrd for Price {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Price {
    fn cmp(&self, other: &Self) -> Ordering {
        self.raw.cmp(&other.raw)
    }
}

impl Hash for Price {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Consistent with Eq: precision is not part of the value.
        self.raw.hash(state);
    }
}

impl fmt::Display for Price {
    /// Exactly `precision` decimals, e.g. `5000.25`, `-0.10`, `7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed(
            f,
            self.raw < 0,
            u128::from(self.raw.unsigned_abs()),
            self.precision,
        )
    }
}

impl fmt::Debug for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Price({self})")
    }
}

impl FromStr for Price {
    type Err = FixedError;

    /// Parse with the precision taken from the text: `"5000.250"` has precision 3.
    /// Zeros written beyond the 9th decimal are dropped (precision 9).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d = parse_decimal(s, KIND)?;
        Self::from_decimal_raw(d.raw, d.written.min(FIXED_PRECISION), s)
    }
}

impl Add for Price {
    type Output = Price;

    /// Panics on overflow (never wraps).
    fn add(self, rhs: Self) -> Self {
        self.checked_add(rhs)
            .unwrap_or_else(|| panic!("price overflow: {self} + {rhs}"))
    }
}

impl Sub for Price {
    type Output = Price;

    /// Panics on overflow (never wraps).
    fn sub(self, rhs: Self) -> Self {
        self.checked_sub(rhs)
            .unwrap_or_else(|| panic!("price overflow: {self} - {rhs}"))
    }
}

impl Neg for Price {
    type Output = Price;

    /// Panics for the minimum raw value, which has no negative.
    fn neg(self) -> Self {
        self.checked_neg()
            .unwrap_or_else(|| panic!("price overflow: -({self})"))
    }
}

impl AddAssign for Price {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl SubAssign for Price {
    fn sub_assign(&mut self, rhs: Self) {
        *self = *self - rhs;
    }
}

impl Mul<Quantity> for Price {
    type Output = Money;

    /// Notional, see [`Price::notional`].
    fn mul(self, rhs: Quantity) -> Money {
        self.notional(rhs)
    }
}

impl Mul<Price> for Quantity {
    type Output = Money;

    /// Notional, see [`Price::notional`].
    fn mul(self, rhs: Price) -> Money {
        rhs.notional(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn p(s: &str) -> Price {
        s.parse().expect("valid price")
    }

    #[test]
    fn parse_and_display_round_trip_with_exact_precision() {
        let x = Price::parse("5000.25", 2).expect("valid");
        assert_eq!((x.raw(), x.precision()), (5_000_250_000_000, 2));
        assert_eq!(x.to_string(), "5000.25");
        assert_eq!(
            Price::parse("5000.25", 4).expect("valid").to_string(),
            "5000.2500"
        );
        assert_eq!(Price::parse("-0.1", 2).expect("valid").to_string(), "-0.10");
        assert_eq!(Price::parse("7", 0).expect("valid").to_string(), "7");
        assert_eq!(p("0.000000001").to_string(), "0.000000001");
        assert_eq!(p("-0").to_string(), "0");
        assert_eq!(p("87232.00000000").precision(), 8);
    }

    #[test]
    fn parse_errors_name_input_and_reason() {
        let err = Price::parse("5000.255", 2).expect_err("too precise");
        assert!(err.to_string().contains("\"5000.255\""), "{err}");
        assert!(matches!(
            err,
            FixedError::TooManyDecimals {
                decimals: 3,
                precision: 2,
                ..
            }
        ));
        assert!(matches!(
            Price::parse("9223372037", 0),
            Err(FixedError::OutOfRange { .. })
        ));
        assert!(Price::parse("9223372036", 0).is_ok());
        assert!(matches!(
            Price::parse("12a", 2),
            Err(FixedError::Malformed { .. })
        ));
    }

    #[test]
    fn from_raw_validates_precision() {
        assert!(Price::from_raw(1_500_000_000, 1).is_ok());
        assert!(matches!(
            Price::from_raw(1_550_000_000, 1),
            Err(FixedError::RawNotAtPrecision { .. })
        ));
        assert!(Price::from_raw(1, 10).is_err());
        assert!(p("1.50").with_precision(1).is_ok());
        assert!(p("1.55").with_precision(1).is_err());
    }

    #[test]
    fn equality_ordering_hash_ignore_precision() {
        assert_eq!(p("1.0"), p("1.00"));
        assert!(p("-1") < p("0.5"));
        let set: HashSet<Price> = [p("1.0"), p("1.00"), p("2")].into_iter().collect();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn arithmetic_checked_and_panicking() {
        assert_eq!((p("1.25") + p("0.1")).to_string(), "1.35");
        assert_eq!((p("1.25") - p("2")).to_string(), "-0.75");
        let max = Price::from_raw(i64::MAX, 9).expect("valid");
        assert_eq!(max.checked_add(p("0.000000001")), None);
        assert_eq!(
            Price::from_raw(i64::MIN, 9).expect("valid").checked_neg(),
            None
        );
        assert_eq!(p("3").checked_sub(p("1")), Some(p("2")));
    }

    #[test]
    #[should_panic(expected = "price overflow")]
    fn add_overflow_panics() {
        let _ = Price::from_raw(i64::MAX, 9).expect("valid") + p("0.000000001");
    }

    #[test]
    fn notional_is_exact_then_half_even() {
        let q = |s: &str| s.parse::<Quantity>().expect("valid qty");
        assert_eq!((p("5000.25") * q("2")).to_string(), "10000.50");
        // 0.000000001 × 0.5 = 5e-10: a tie at 1e-9, rounds to even (0).
        assert_eq!((p("0.000000001") * q("0.5")).raw(), 0);
        // 0.000000003 × 0.5 = 1.5e-9 -> 2e-9 (even).
        assert_eq!((p("0.000000003") * q("0.5")).raw(), 2);
        // Negative ties round to even too: -1.5e-9 -> -2e-9, -2.5e-9 -> -2e-9.
        assert_eq!((p("-0.000000003") * q("0.5")).raw(), -2);
        assert_eq!((p("-0.000000005") * q("0.5")).raw(), -2);
        // Non-tie rounds to nearest: 1e-9 × 0.7 = 7e-10 -> 1e-9.
        assert_eq!((p("0.000000001") * q("0.7")).raw(), 1);
        // Extremes do not overflow.
        let max = Price::from_raw(i64::MAX, 9).expect("valid")
            * Quantity::from_raw(u64::MAX, 9).expect("valid");
        assert!(max.raw() > 0);
        let min = Price::from_raw(i64::MIN, 9).expect("valid")
            * Quantity::from_raw(u64::MAX, 9).expect("valid");
        assert!(min.raw() < 0);
        assert_eq!(q("3") * p("1.5"), p("1.5") * q("3"));
    }

    #[test]
    fn as_f64_is_approximate_value() {
        assert!((p("5000.25").as_f64() - 5000.25).abs() < 1e-9);
    }
}
