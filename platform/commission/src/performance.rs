//! The performance fee's high-water mark.
//!
//! The mark is kept in money (the basis value the bot must exceed before a fee is due)
//! together with the **units** the bot's capital is divided into, so the mark per unit
//! can be stated the way copy-trading venues state it:
//!
//! - **Crystallisation** at the end of every period: fee = max(0, value − mark) × rate,
//!   rounded down to 10⁻⁹; if the value is above the mark, the mark rises to it. A loss
//!   is never reset: the mark stays until the value is back above it.
//! - **Deposit** of `m` when the value is `v`: units are issued at the value per unit,
//!   `m × units / v`, and the mark rises by exactly `m`. This is Bybit Copy Trading Pro's
//!   top-up rule, mark per unit = (mark × old units + m) / (old units + new units): new
//!   money is never charged as profit. With no units or a value at or below zero there
//!   is no price for a unit; the units restart at one per unit of money (value + `m`).
//! - **Withdrawal** of `w` when the value is `v` (`0 < w ≤ v`) redeems the fraction
//!   `w / v` of the units: the mark per unit is left as it is (Bybit), so the money that
//!   stays carries its whole loss forward per unit. The profit above the mark of the
//!   withdrawn fraction is crystallised at the withdrawal, so profit cannot leave
//!   uncharged. Mark rounded up, units half-even, fee down.
//!
//! Only a withdrawal ever lowers the mark.

use tradewind_core::fixed::{Money, RoundingMode};

use crate::CommissionError;
use crate::plan::{Basis, PerformanceFee};

/// A bot's equity at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Equity {
    /// Cash plus open positions marked to market.
    pub total: Money,
    /// The unrealised PnL of the open positions inside `total`.
    pub unrealized: Money,
}

impl Equity {
    /// Flat equity (no open positions).
    pub fn flat(total: Money) -> Self {
        Self {
            total,
            unrealized: Money::ZERO,
        }
    }

    /// The value the mark is compared with: `total` on the total basis, `total −
    /// unrealized` (open positions at cost) on the realised basis.
    pub fn value(&self, basis: Basis) -> Result<Money, CommissionError> {
        match basis {
            Basis::Total => Ok(self.total),
            Basis::Realized => self
                .total
                .checked_sub(self.unrealized)
                .ok_or(CommissionError::Overflow { what: "equity" }),
        }
    }
}

/// A bot's high-water mark and units; see the module docs for the rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HighWaterMark {
    mark: Money,
    units: Money,
}

fn overflow(what: &'static str) -> CommissionError {
    CommissionError::Overflow { what }
}

impl HighWaterMark {
    /// A bot with no capital yet: its first deposit sets the mark.
    pub const EMPTY: HighWaterMark = HighWaterMark {
        mark: Money::ZERO,
        units: Money::ZERO,
    };

    /// A mark restored from storage. Neither may be negative.
    pub fn from_parts(mark: Money, units: Money) -> Result<Self, CommissionError> {
        for (what, amount) in [("a high-water mark", mark), ("units", units)] {
            if amount.is_negative() {
                return Err(CommissionError::NegativeAmount { what, amount });
            }
        }
        Ok(Self { mark, units })
    }

    /// The mark, in money.
    pub fn mark(&self) -> Money {
        self.mark
    }

    /// The units the capital is divided into (9 decimals).
    pub fn units(&self) -> Money {
        self.units
    }

    /// The mark per unit, half-even to 10⁻⁹; `None` without units.
    pub fn per_unit(&self) -> Option<Money> {
        if self.units.is_zero() {
            return None;
        }
        Money::from_raw(1_000_000_000).mul_ratio(
            self.mark.raw(),
            self.units.raw(),
            RoundingMode::HalfEven,
        )
    }

    /// New money `amount` (> 0) arrives when the bot's value is `value`.
    pub fn deposit(&mut self, amount: Money, value: Money) -> Result<(), CommissionError> {
        if amount.is_negative() || amount.is_zero() {
            return Err(CommissionError::NotPositive {
                what: "a deposit",
                amount,
            });
        }
        let restart = self.units.is_zero() || value <= Money::ZERO;
        let (kept, issued) = if restart {
            (value.max(Money::ZERO), amount)
        } else {
            let issued = amount
                .mul_ratio(self.units.raw(), value.raw(), RoundingMode::HalfEven)
                .ok_or(overflow("units"))?;
            (self.units, issued)
        };
        self.units = kept.checked_add(issued).ok_or(overflow("units"))?;
        self.mark = self
            .mark
            .checked_add(amount)
            .ok_or(overflow("a high-water mark"))?;
        Ok(())
    }

    /// Money `amount` (> 0, at most `value`) leaves when the bot's value is `value`;
    /// returns the performance fee crystallised on the withdrawn fraction.
    pub fn withdraw(
        &mut self,
        amount: Money,
        value: Money,
        fee: Option<&PerformanceFee>,
    ) -> Result<Money, CommissionError> {
        if amount.is_negative() || amount.is_zero() {
            return Err(CommissionError::NotPositive {
                what: "a withdrawal",
                amount,
            });
        }
        if amount > value {
            return Err(CommissionError::WithdrawalAboveValue { amount, value });
        }
        let charged = match fee {
            Some(fee) if value > self.mark => {
                let profit = value.checked_sub(self.mark).ok_or(overflow("profit"))?;
                let withdrawn = profit
                    .mul_ratio(amount.raw(), value.raw(), RoundingMode::Down)
                    .ok_or(overflow("profit"))?;
                fee.rate.of(withdrawn, RoundingMode::Down)?
            }
            _ => Money::ZERO,
        };
        // What stays: (value − amount) / value of the mark and of the units.
        let stays = value.checked_sub(amount).ok_or(overflow("equity"))?.raw();
        self.mark = self
            .mark
            .mul_ratio(stays, value.raw(), RoundingMode::Up)
            .ok_or(overflow("a high-water mark"))?;
        self.units = self
            .units
            .mul_ratio(stays, value.raw(), RoundingMode::HalfEven)
            .ok_or(overflow("units"))?;
        Ok(charged)
    }

    /// The end of a period, with the bot's value then: returns the fee (zero at or
    /// below the mark) and raises the mark to the value if it is above it.
    pub fn crystallise(
        &mut self,
        value: Money,
        fee: Option<&PerformanceFee>,
    ) -> Result<Money, CommissionError> {
        if value <= self.mark {
            return Ok(Money::ZERO);
        }
        let profit = value.checked_sub(self.mark).ok_or(overflow("profit"))?;
        self.mark = value;
        match fee {
            Some(fee) => fee.rate.of(profit, RoundingMode::Down),
            None => Ok(Money::ZERO),
        }
    }
}
