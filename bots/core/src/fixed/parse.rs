//! Strict decimal-string parsing shared by the fixed-point types.

use super::{FIXED_PRECISION, FIXED_SCALAR, FixedError};

/// A parsed decimal: exact raw value at 10^-9 and its number of significant decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decimal {
    /// Value in nano-units.
    pub raw: i128,
    /// Decimals written in the text, capped at 9 (any beyond 9 are zeros, checked).
    pub written: u8,
    /// Decimals after removing trailing zeros: the smallest precision that holds the value.
    pub significant: u8,
}

fn malformed(kind: &'static str, input: &str, reason: &'static str) -> FixedError {
    FixedError::Malformed {
        kind,
        input: input.to_owned(),
        reason,
    }
}

/// Parse `[+-]digits[.digits]`. No whitespace, exponents or separators: data files that
/// need them should be normalised by the loader, not guessed at here.
pub(crate) fn parse_decimal(input: &str, kind: &'static str) -> Result<Decimal, FixedError> {
    let (negative, body) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        Some(_) => (false, input),
        None => return Err(malformed(kind, input, "empty")),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if int_part.is_empty() {
        return Err(malformed(kind, input, "no digits before the decimal point"));
    }
    let out_of_range = || FixedError::OutOfRange {
        kind,
        input: input.to_owned(),
    };
    let mut int: i128 = 0;
    for b in int_part.bytes() {
        if !b.is_ascii_digit() {
            return Err(malformed(kind, input, "unexpected character"));
        }
        int = int
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(b - b'0')))
            .ok_or_else(out_of_range)?;
    }
    let mut frac: i128 = 0;
    let mut written: u8 = 0;
    let mut significant: u8 = 0;
    if let Some(f) = frac_part {
        if f.is_empty() {
            return Err(malformed(kind, input, "no digits after the decimal point"));
        }
        for (i, b) in f.bytes().enumerate() {
            if !b.is_ascii_digit() {
                return Err(malformed(kind, input, "unexpected character"));
            }
            let digit = b - b'0';
            if i < usize::from(FIXED_PRECISION) {
                frac = frac * 10 + i128::from(digit);
                written += 1;
                if digit != 0 {
                    significant = written;
                }
            } else if digit != 0 {
                // A non-zero digit below 1e-9 cannot be represented at all.
                return Err(FixedError::TooManyDecimals {
                    kind,
                    input: input.to_owned(),
                    decimals: u8::try_from(i + 1).unwrap_or(u8::MAX),
                    precision: FIXED_PRECISION,
                });
            }
        }
        frac *= i128::from(super::POW10[usize::from(FIXED_PRECISION - written)]);
    }
    let magnitude = int
        .checked_mul(i128::from(FIXED_SCALAR))
        .and_then(|v| v.checked_add(frac))
        .ok_or_else(out_of_range)?;
    Ok(Decimal {
        raw: if negative { -magnitude } else { magnitude },
        written,
        significant,
    })
}

/// Parse and check the value fits `precision` decimals without rounding.
pub(crate) fn parse_at_precision(
    input: &str,
    precision: u8,
    kind: &'static str,
) -> Result<Decimal, FixedError> {
    super::check_precision(precision)?;
    let d = parse_decimal(input, kind)?;
    if d.significant > precision {
        return Err(FixedError::TooManyDecimals {
            kind,
            input: input.to_owned(),
            decimals: d.significant,
            precision,
        });
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_decimals() {
        let d = parse_decimal("5000.25", "price").expect("valid");
        assert_eq!((d.raw, d.written, d.significant), (5_000_250_000_000, 2, 2));
        let d = parse_decimal("-0.000000001", "price").expect("valid");
        assert_eq!((d.raw, d.written, d.significant), (-1, 9, 9));
        let d = parse_decimal("+12.3400", "price").expect("valid");
        assert_eq!((d.raw, d.written, d.significant), (12_340_000_000, 4, 2));
        // Zeros past 1e-9 are exact and accepted.
        let d = parse_decimal("1.0000000000000", "price").expect("valid");
        assert_eq!((d.raw, d.written, d.significant), (1_000_000_000, 9, 0));
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "", "-", "abc", "1.", ".5", "1e5", "1,000", " 1", "1 ", "1.2.3", "--1", "0x10",
        ] {
            let err = parse_decimal(bad, "price").expect_err(bad);
            assert!(matches!(err, FixedError::Malformed { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn rejects_digits_below_a_nano_and_overflow() {
        let err = parse_decimal("1.0000000001", "price").expect_err("too precise");
        assert!(matches!(
            err,
            FixedError::TooManyDecimals { decimals: 10, .. }
        ));
        let err = parse_decimal(&"9".repeat(40), "money").expect_err("overflow");
        assert!(matches!(err, FixedError::OutOfRange { .. }));
    }

    #[test]
    fn precision_check_never_rounds() {
        let err = parse_at_precision("1.005", 2, "price").expect_err("3 decimals");
        assert_eq!(
            err.to_string(),
            "price \"1.005\" has 3 significant decimals but precision is 2"
        );
        assert!(parse_at_precision("1.0050", 3, "price").is_ok());
        assert!(matches!(
            parse_at_precision("1", 10, "price"),
            Err(FixedError::InvalidPrecision { precision: 10 })
        ));
    }
}
