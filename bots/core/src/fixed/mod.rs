//! Fixed-point numbers for prices, quantities and money.
//!
//! Every value is an integer count of nano-units (10^-9). This is the NautilusTrader
//! layout: a fixed scale keeps arithmetic between values of different precisions a
//! plain integer operation, and the `precision` field (number of decimals, at most 9)
//! records how many decimals the instrument uses, for display and validation. The raw
//! value of a [`Price`] or [`Quantity`] is always a multiple of `10^(9 - precision)`,
//! so `Display` never has to round.
//!
//! Rounding rules (each is stated again on the function that applies it):
//! - Parsing never rounds: more significant decimals than allowed is an error.
//! - `Price × Quantity` notional is exact in `i128`, then rounded half-to-even at 1e-9.
//! - Fee and ratio arithmetic on [`Money`] takes an explicit [`RoundingMode`].
//! - Operators (`+`, `-`) panic on overflow; `checked_*` methods return `None` instead.

mod error;
mod money;
mod parse;
mod price;
mod quantity;
mod rounding;

pub use error::FixedError;
pub use money::{MONEY_MAX, Money};
pub use price::{PRICE_MAX, PRICE_MIN, Price};
pub use quantity::{QUANTITY_MAX, Quantity};
pub use rounding::RoundingMode;
pub(crate) use rounding::div_round as div_round_i128;

/// Maximum number of decimals any fixed-point value can carry (the limits of each type,
/// [`PRICE_MAX`], [`QUANTITY_MAX`], [`MONEY_MAX`], sit beside it, as in NautilusTrader).
pub const FIXED_PRECISION: u8 = 9;

/// Number of raw units in one whole unit (10^[`FIXED_PRECISION`]).
pub const FIXED_SCALAR: i64 = 1_000_000_000;

/// Powers of ten up to 10^9, indexed by exponent.
pub(crate) const POW10: [u64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// `v as f64` (nearest, ties to even), through the processor's own 64-bit conversion
/// when `v` fits in an `i64` (always, for money in practice: the same value, without the
/// library routine a 128-bit conversion calls).
#[inline]
pub(crate) fn i128_as_f64(v: i128) -> f64 {
    // The wide case out of line: inlined, the optimiser folds both arms back into the
    // library call.
    #[cold]
    #[inline(never)]
    fn wide(v: i128) -> f64 {
        v as f64
    }
    match i64::try_from(v) {
        Ok(v) => v as f64,
        Err(_) => wide(v),
    }
}

/// Raw units per step of the last displayed decimal at `precision` (`10^(9 - precision)`).
/// Callers must have checked `precision <= 9`.
pub(crate) const fn step_for(precision: u8) -> u64 {
    POW10[(FIXED_PRECISION - precision) as usize]
}

/// Fail unless `precision` is within `0..=9`.
pub(crate) fn check_precision(precision: u8) -> Result<(), FixedError> {
    if precision > FIXED_PRECISION {
        return Err(FixedError::InvalidPrecision { precision });
    }
    Ok(())
}

/// Write `magnitude` raw units with exactly `decimals` decimals (magnitude must already be
/// a multiple of the step for `decimals`, which the types' invariants guarantee).
pub(crate) fn write_fixed(
    f: &mut std::fmt::Formatter<'_>,
    negative: bool,
    magnitude: u128,
    decimals: u8,
) -> std::fmt::Result {
    let scalar = FIXED_SCALAR as u128;
    let int = magnitude / scalar;
    let frac = magnitude % scalar;
    let sign = if negative && magnitude != 0 { "-" } else { "" };
    if decimals == 0 {
        write!(f, "{sign}{int}")
    } else {
        let frac = frac / u128::from(step_for(decimals));
        write!(
            f,
            "{sign}{int}.{frac:0width$}",
            width = usize::from(decimals)
        )
    }
}

#[cfg(test)]
mod limits {
    use super::*;

    #[test]
    fn the_limits_are_the_largest_values_parsing_accepts() {
        assert_eq!(PRICE_MAX.to_string(), "9223372036.854775807");
        assert_eq!(Price::parse("9223372036.854775807", 9), Ok(PRICE_MAX));
        assert!(Price::parse("9223372036.854775808", 9).is_err());
        assert_eq!(Price::parse("-9223372036.854775808", 9), Ok(PRICE_MIN));
        assert_eq!(QUANTITY_MAX.to_string(), "18446744073.709551615");
        assert_eq!(
            Quantity::parse("18446744073.709551615", 9),
            Ok(QUANTITY_MAX)
        );
        assert!(Quantity::parse("18446744073.709551616", 9).is_err());
        assert_eq!(MONEY_MAX.raw(), i128::MAX);
    }
}

#[cfg(test)]
mod conversions {
    use super::*;

    /// The shortcut converts exactly as `as f64` does, at the edges of `i64` and beyond.
    #[test]
    fn i128_to_f64_is_the_plain_conversion() {
        let mut values = vec![
            0i128,
            1,
            -1,
            i128::from(i64::MAX),
            i128::from(i64::MIN),
            i128::from(i64::MAX) + 1,
            i128::from(i64::MIN) - 1,
            i128::MAX,
            i128::MIN,
            (1 << 53) + 1,
            -(1 << 53) - 1,
        ];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(i128::from(x as i64) >> (x % 64));
            values.push(i128::from(x as i64) << (x % 64));
        }
        for v in values {
            assert_eq!(i128_as_f64(v).to_bits(), (v as f64).to_bits(), "{v}");
        }
    }
}
