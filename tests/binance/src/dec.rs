//! A fixed-point decimal with 8 fractional digits, the precision Binance prints.

use std::fmt;
use std::str::FromStr;

/// Scale: 10^8.
const SCALE: i128 = 100_000_000;

/// A decimal number with exactly 8 fractional digits (Binance's wire precision).
/// Arithmetic truncates toward zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dec(i128);

/// A string that is not a decimal number with at most 8 fractional digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a decimal with at most 8 fractional digits: {0:?}")]
pub struct DecError(pub String);

impl Dec {
    /// Zero.
    pub const ZERO: Dec = Dec(0);

    /// From raw units of 10^-8.
    pub const fn from_raw(raw: i128) -> Self {
        Dec(raw)
    }

    /// Raw units of 10^-8.
    pub const fn raw(self) -> i128 {
        self.0
    }

    /// From a whole number.
    pub const fn from_int(v: i64) -> Self {
        Dec(v as i128 * SCALE)
    }

    /// `self * other`, truncated to 8 decimals.
    pub fn times(self, other: Dec) -> Dec {
        Dec(self.0 * other.0 / SCALE)
    }

    /// `self / other`, truncated to 8 decimals (zero when `other` is zero).
    pub fn over(self, other: Dec) -> Dec {
        if other.0 == 0 {
            Dec(0)
        } else {
            Dec(self.0 * SCALE / other.0)
        }
    }

    /// `true` when zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `true` when `self` is a whole multiple of `step` (a zero step accepts anything).
    pub fn is_multiple_of(self, step: Dec) -> bool {
        step.0 == 0 || self.0 % step.0 == 0
    }

    /// Rounds down to a multiple of `step`.
    pub fn floor_to(self, step: Dec) -> Dec {
        if step.0 == 0 {
            self
        } else {
            Dec(self.0 - self.0.rem_euclid(step.0))
        }
    }

    /// The value as `f64` (for logging and pacing only).
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / SCALE as f64
    }
}

impl std::ops::Add for Dec {
    type Output = Dec;
    fn add(self, o: Dec) -> Dec {
        Dec(self.0 + o.0)
    }
}

impl std::ops::Sub for Dec {
    type Output = Dec;
    fn sub(self, o: Dec) -> Dec {
        Dec(self.0 - o.0)
    }
}

impl std::ops::AddAssign for Dec {
    fn add_assign(&mut self, o: Dec) {
        self.0 += o.0;
    }
}

impl std::ops::SubAssign for Dec {
    fn sub_assign(&mut self, o: Dec) {
        self.0 -= o.0;
    }
}

impl std::iter::Sum for Dec {
    fn sum<I: Iterator<Item = Dec>>(iter: I) -> Dec {
        iter.fold(Dec::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:08}", a / SCALE as u128, a % SCALE as u128)
    }
}

impl FromStr for Dec {
    type Err = DecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DecError(s.to_owned());
        let t = s.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t),
        };
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if (int.is_empty() && frac.is_empty())
            || frac.len() > 8 && frac[8..].bytes().any(|b| b != b'0')
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(err());
        }
        let frac = &frac[..frac.len().min(8)];
        let i: i128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| err())?
        };
        let mut f: i128 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| err())?
        };
        for _ in frac.len()..8 {
            f *= 10;
        }
        let v = i
            .checked_mul(SCALE)
            .and_then(|x| x.checked_add(f))
            .ok_or_else(err)?;
        Ok(Dec(if neg { -v } else { v }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let d: Dec = "87232.01".parse().unwrap();
        assert_eq!(d.to_string(), "87232.01000000");
        assert_eq!("0.00012".parse::<Dec>().unwrap().raw(), 12_000);
        assert_eq!("-1.5".parse::<Dec>().unwrap().to_string(), "-1.50000000");
        assert!("1.000000001".parse::<Dec>().is_err());
        assert!("abc".parse::<Dec>().is_err());
        let p: Dec = "100.5".parse().unwrap();
        let q: Dec = "0.002".parse().unwrap();
        assert_eq!(p.times(q).to_string(), "0.20100000");
        assert!(p.is_multiple_of("0.01".parse().unwrap()));
        assert!(
            !"0.123"
                .parse::<Dec>()
                .unwrap()
                .is_multiple_of("0.01".parse().unwrap())
        );
    }
}
