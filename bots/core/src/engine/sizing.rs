//! Position sizing: how big an entry is, in exact fixed point.

use crate::exchange::Bps;
use crate::fixed::{Money, Price, Quantity};
use crate::instrument::Instrument;
use crate::risk::Percent;
use crate::strategy::config::{ConfigError, quantity_in_lots};

/// Nano-units per whole (fixed-point scale of prices, quantities and money).
const SCALE: u128 = 1_000_000_000;
/// Nano-basis-points per whole (the `Bps` scale times 10 000).
const BPS_WHOLE: u128 = 10_000 * 1_000_000_000;

/// How an entry is sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sizing {
    /// A fixed base quantity.
    FixedQuantity(Quantity),
    /// A fixed quote notional.
    FixedNotional(Money),
    /// A fraction of equity, in 1e-9 of a whole (25 % = 250_000_000).
    PercentOfEquity(u128),
    /// All available cash.
    AllIn,
}

impl Sizing {
    /// A share of equity per entry; refused outside (0, 100] %.
    pub fn percent_of_equity(percent: Percent) -> Result<Self, ConfigError> {
        if percent == Percent::ZERO || percent > Percent::HUNDRED {
            return Err(ConfigError::new(
                "sizing.percentOfEquity.percent",
                "must be in (0, 100]",
            ));
        }
        // Percent raw is 1e-9 of a percent; the fraction is 1e-9 of a whole.
        Ok(Sizing::PercentOfEquity(u128::from(percent.raw()) / 100))
    }

    /// Refuses amounts that cannot buy anything: a fixed quantity is put on the
    /// instrument's lots (at least one), a fixed notional must be above zero.
    pub fn for_instrument(self, instrument: &Instrument) -> Result<Self, ConfigError> {
        Ok(match self {
            Sizing::FixedQuantity(q) => Sizing::FixedQuantity(quantity_in_lots(
                "sizing.fixedQuantity.quantity",
                q,
                instrument,
            )?),
            Sizing::FixedNotional(n) if n.is_negative() || n.is_zero() => {
                return Err(ConfigError::new(
                    "sizing.fixedNotional.notional",
                    "must be greater than zero",
                ));
            }
            other => other,
        })
    }

    /// The base quantity to buy at `price`, given the cash and equity now and the taker
    /// fee rate, rounded down to the instrument's lot. Budgets in quote currency are
    /// capped by cash and divided by `price × (1 + fee)`, so the fill and its fee are
    /// affordable (backtesting.py sizes the same way: `cash // (price · (1 + commission))`).
    /// Zero when nothing affordable remains.
    pub fn entry_quantity(
        &self,
        price: Price,
        cash: Money,
        equity: Money,
        taker: Bps,
        instrument: &Instrument,
    ) -> Quantity {
        let cash_raw = u128::try_from(cash.raw()).unwrap_or(0);
        let budget = match *self {
            Sizing::FixedQuantity(q) => return instrument.round_quantity(q),
            Sizing::FixedNotional(n) => u128::try_from(n.raw()).unwrap_or(0).min(cash_raw),
            Sizing::PercentOfEquity(f) => {
                let eq = u128::try_from(equity.raw()).unwrap_or(0);
                mul_div_floor(eq, f, SCALE).unwrap_or(0).min(cash_raw)
            }
            Sizing::AllIn => cash_raw,
        };
        quote_to_quantity(budget, price, taker, instrument)
    }
}

/// `floor(budget / (price × (1 + taker)))` in base units, rounded down to the lot.
pub fn quote_to_quantity(
    budget_raw: u128,
    price: Price,
    taker: Bps,
    instrument: &Instrument,
) -> Quantity {
    let (Ok(p), Ok(t)) = (u128::try_from(price.raw()), u128::try_from(taker.raw())) else {
        return Quantity::ZERO;
    };
    if p == 0 {
        return Quantity::ZERO;
    }
    // qty_raw = budget_raw · SCALE · BPS_WHOLE / (p · (BPS_WHOLE + t)), exact floor.
    let denom = match p.checked_mul(BPS_WHOLE + t) {
        Some(d) => d,
        None => return Quantity::ZERO,
    };
    let num = match budget_raw.checked_mul(SCALE) {
        Some(n) => n,
        None => return Quantity::ZERO,
    };
    let Some(raw) = mul_div_floor(num, BPS_WHOLE, denom) else {
        return Quantity::ZERO;
    };
    let raw = u64::try_from(raw).unwrap_or(u64::MAX);
    let q = Quantity::from_raw(raw, 9)
        .ok()
        .map(|q| instrument.round_quantity(q))
        .unwrap_or(Quantity::ZERO);
    q.with_precision(instrument.size_precision())
        .unwrap_or(Quantity::ZERO)
}

/// `floor(a · b / d)` without intermediate overflow (256-bit product); `None` if `d == 0`
/// or the result does not fit in 128 bits.
pub fn mul_div_floor(a: u128, b: u128, d: u128) -> Option<u128> {
    if d == 0 {
        return None;
    }
    if let Some(p) = a.checked_mul(b) {
        return Some(p / d);
    }
    // 256-bit product from 64-bit limbs.
    let (a1, a0) = (a >> 64, a & u128::from(u64::MAX));
    let (b1, b0) = (b >> 64, b & u128::from(u64::MAX));
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & u128::from(u64::MAX)) + (p10 & u128::from(u64::MAX));
    let lo = (p00 & u128::from(u64::MAX)) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    if hi >= d {
        return None;
    }
    // Restoring long division of (hi, lo) by d, one bit at a time.
    let (mut rem, mut q) = (hi, 0u128);
    for i in (0..128).rev() {
        let carry = rem >> 127;
        rem = (rem << 1) | ((lo >> i) & 1);
        q <<= 1;
        if carry == 1 || rem >= d {
            rem = rem.wrapping_sub(d);
            q |= 1;
        }
    }
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(lot: &str, prec: u8) -> Instrument {
        Instrument::new(
            "GOOG",
            "GOOG",
            "USD",
            Price::parse("0.01", 2).unwrap(),
            Quantity::parse(lot, prec).unwrap(),
            Quantity::parse(lot, prec).unwrap(),
            Money::ZERO,
        )
        .unwrap()
    }

    #[test]
    fn mul_div_is_exact_beyond_128_bits() {
        assert_eq!(mul_div_floor(7, 3, 2), Some(10));
        let big = u128::MAX / 3;
        assert_eq!(mul_div_floor(big, 6, 3), Some(big * 2));
        assert_eq!(
            mul_div_floor(u128::MAX, u128::MAX, u128::MAX),
            Some(u128::MAX)
        );
        assert_eq!(mul_div_floor(u128::MAX, 2, 1), None);
        assert_eq!(mul_div_floor(1, 1, 0), None);
    }

    #[test]
    fn all_in_matches_backtesting_py_units() {
        // backtesting.py: int(10000 // (100.0 + 100.0 * 0.002)) = 99 shares.
        let q = Sizing::AllIn.entry_quantity(
            Price::parse("100.00", 2).unwrap(),
            Money::parse("10000").unwrap(),
            Money::parse("10000").unwrap(),
            Bps::parse("20").unwrap(),
            &inst("1", 0),
        );
        assert_eq!(q.to_string(), "99");
        // Exactly affordable: 1002 buys 10 shares at 100 with 0.2 % fee.
        let q = Sizing::AllIn.entry_quantity(
            Price::parse("100.00", 2).unwrap(),
            Money::parse("1002").unwrap(),
            Money::parse("1002").unwrap(),
            Bps::parse("20").unwrap(),
            &inst("1", 0),
        );
        assert_eq!(q.to_string(), "10");
    }

    #[test]
    fn budgets_round_down_to_the_lot_and_are_capped_by_cash() {
        let i = inst("0.001", 3);
        let p = Price::parse("100.00", 2).unwrap();
        let cash = Money::parse("50").unwrap();
        let eq = Money::parse("200").unwrap();
        let q = Sizing::FixedNotional(Money::parse("25").unwrap()).entry_quantity(
            p,
            cash,
            eq,
            Bps::ZERO,
            &i,
        );
        assert_eq!(q.to_string(), "0.250");
        let q = Sizing::PercentOfEquity(500_000_000).entry_quantity(p, cash, eq, Bps::ZERO, &i);
        assert_eq!(
            q.to_string(),
            "0.500",
            "50 % of 200 is 100, capped by cash 50"
        );
        let q = Sizing::FixedQuantity(Quantity::parse("0.0015", 4).unwrap()).entry_quantity(
            p,
            cash,
            eq,
            Bps::ZERO,
            &i,
        );
        assert_eq!(q.to_string(), "0.001");
        let q = Sizing::AllIn.entry_quantity(p, Money::parse("0.05").unwrap(), eq, Bps::ZERO, &i);
        assert!(q.is_zero());
    }
}
