//! Rounding modes for divisions that do not come out even.

/// How to round a result that falls between two representable values.
///
/// `Down`/`Up` follow the number line (floor/ceiling), so for negative values `Down`
/// moves away from zero. Use `TowardZero`/`AwayFromZero` for magnitude-based rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoundingMode {
    /// Toward negative infinity (floor): `-1.5 -> -2`, `1.5 -> 1`.
    Down,
    /// Toward positive infinity (ceiling): `-1.5 -> -1`, `1.5 -> 2`.
    Up,
    /// Toward zero (truncate): `-1.5 -> -1`, `1.5 -> 1`.
    TowardZero,
    /// Away from zero: `-1.1 -> -2`, `1.1 -> 2`.
    AwayFromZero,
    /// Nearest; ties away from zero: `-2.5 -> -3`, `2.5 -> 3`.
    HalfAwayFromZero,
    /// Nearest; ties to the even neighbour (banker's rounding): `2.5 -> 2`, `3.5 -> 4`, `-2.5 -> -2`.
    HalfEven,
}

/// `numer / denom` rounded with `mode`. `None` if `denom == 0` or on overflow.
pub(crate) fn div_round(numer: i128, denom: i128, mode: RoundingMode) -> Option<i128> {
    if denom == 0 {
        return None;
    }
    // Normalise to a positive divisor so the remainder's sign is the quotient's sign.
    let (n, d) = if denom < 0 {
        (numer.checked_neg()?, denom.checked_neg()?)
    } else {
        (numer, denom)
    };
    let q = n / d;
    let r = n % d;
    if r == 0 {
        return Some(q);
    }
    let positive = n > 0;
    let away = match mode {
        RoundingMode::Down => !positive,
        RoundingMode::Up => positive,
        RoundingMode::TowardZero => false,
        RoundingMode::AwayFromZero => true,
        RoundingMode::HalfAwayFromZero | RoundingMode::HalfEven => {
            // |r| < d <= i128::MAX, so 2|r| fits in u128.
            let twice = r.unsigned_abs() * 2;
            match twice.cmp(&d.unsigned_abs()) {
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Equal => mode == RoundingMode::HalfAwayFromZero || q % 2 != 0,
            }
        }
    };
    // |q| < |n| here (d >= 2 because r != 0), so stepping one unit cannot overflow.
    Some(match (away, positive) {
        (false, _) => q,
        (true, true) => q + 1,
        (true, false) => q - 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use RoundingMode::*;

    fn r(n: i128, d: i128, m: RoundingMode) -> i128 {
        div_round(n, d, m).expect("valid division")
    }

    #[test]
    fn modes_on_positive_and_negative_ties() {
        // 5/2 = 2.5, -5/2 = -2.5, 7/2 = 3.5
        assert_eq!([r(5, 2, Down), r(-5, 2, Down)], [2, -3]);
        assert_eq!([r(5, 2, Up), r(-5, 2, Up)], [3, -2]);
        assert_eq!([r(5, 2, TowardZero), r(-5, 2, TowardZero)], [2, -2]);
        assert_eq!([r(5, 2, AwayFromZero), r(-5, 2, AwayFromZero)], [3, -3]);
        assert_eq!(
            [r(5, 2, HalfAwayFromZero), r(-5, 2, HalfAwayFromZero)],
            [3, -3]
        );
        assert_eq!([r(5, 2, HalfEven), r(-5, 2, HalfEven)], [2, -2]);
        assert_eq!([r(7, 2, HalfEven), r(-7, 2, HalfEven)], [4, -4]);
    }

    #[test]
    fn nearest_modes_off_tie_and_exact() {
        assert_eq!(r(11, 10, HalfEven), 1);
        assert_eq!(r(16, 10, HalfEven), 2);
        assert_eq!(r(-16, 10, HalfAwayFromZero), -2);
        assert_eq!(r(-14, 10, HalfAwayFromZero), -1);
        assert_eq!(r(20, 10, AwayFromZero), 2);
        assert_eq!(r(5, -2, Down), -3, "negative divisor is normalised");
    }

    #[test]
    fn division_by_zero_and_overflow_are_none() {
        assert_eq!(div_round(1, 0, HalfEven), None);
        assert_eq!(div_round(i128::MIN, -1, HalfEven), None);
    }
}
