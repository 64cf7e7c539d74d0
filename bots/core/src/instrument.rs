//! Tradable instruments and their exchange rules (tick, lot, minimums).

use crate::fixed::{Money, Price, Quantity};

/// Why an instrument could not be built or an order breaks its rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentError {
    /// Tick size must be above zero.
    #[error("{symbol}: tick size must be positive, got {tick}")]
    InvalidTick {
        /// Instrument symbol.
        symbol: String,
        /// Tick size given.
        tick: Price,
    },
    /// Lot size must be above zero.
    #[error("{symbol}: lot size must be positive, got {lot}")]
    InvalidLot {
        /// Instrument symbol.
        symbol: String,
        /// Lot size given.
        lot: Quantity,
    },
    /// Rounding a price up or to nearest left the `Price` range.
    #[error("{symbol}: rounding {price} to tick {tick} overflows")]
    PriceOverflow {
        /// Instrument symbol.
        symbol: String,
        /// Price being rounded.
        price: Price,
        /// Tick size.
        tick: Price,
    },
    /// Price is not a multiple of the tick size.
    #[error("{symbol}: price {price} is not a multiple of tick {tick}")]
    OffTick {
        /// Instrument symbol.
        symbol: String,
        /// Offending price.
        price: Price,
        /// Tick size.
        tick: Price,
    },
    /// Quantity is not a multiple of the lot size.
    #[error("{symbol}: quantity {qty} is not a multiple of lot {lot}")]
    OffLot {
        /// Instrument symbol.
        symbol: String,
        /// Offending quantity.
        qty: Quantity,
        /// Lot size.
        lot: Quantity,
    },
    /// Quantity below the instrument's minimum.
    #[error("{symbol}: quantity {qty} is below the minimum {min}")]
    BelowMinQuantity {
        /// Instrument symbol.
        symbol: String,
        /// Offending quantity.
        qty: Quantity,
        /// Minimum quantity.
        min: Quantity,
    },
    /// Order notional (price × quantity) below the instrument's minimum.
    #[error("{symbol}: notional {notional} is below the minimum {min}")]
    BelowMinNotional {
        /// Instrument symbol.
        symbol: String,
        /// Order notional.
        notional: Money,
        /// Minimum notional.
        min: Money,
    },
}

/// Direction for [`Instrument::round_price`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TickRounding {
    /// Largest tick multiple `<=` the price (floor; toward −∞ for negative prices).
    /// Use for buy limits that must not pay more than asked.
    Down,
    /// Smallest tick multiple `>=` the price (ceiling). Use for sell limits.
    Up,
    /// Closest tick multiple; an exact half-tick goes to the even multiple of the tick
    /// (half-to-even, same rule as notional rounding) so repeated rounding has no bias.
    Nearest,
}

/// A tradable pair with the exchange's price/size rules.
///
/// Prices are expressed in `quote` per one unit of `base`; quantities in `base`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Instrument {
    symbol: String,
    base: String,
    quote: String,
    tick_size: Price,
    lot_size: Quantity,
    min_quantity: Quantity,
    min_notional: Money,
}

impl Instrument {
    /// Build an instrument; tick and lot sizes must be positive. The tick's precision is
    /// the instrument's price precision, the lot's its size precision.
    pub fn new(
        symbol: impl Into<String>,
        base: impl Into<String>,
        quote: impl Into<String>,
        tick_size: Price,
        lot_size: Quantity,
        min_quantity: Quantity,
        min_notional: Money,
    ) -> Result<Self, InstrumentError> {
        let symbol = symbol.into();
        if !tick_size.is_positive() {
            return Err(InstrumentError::InvalidTick {
                symbol,
                tick: tick_size,
            });
        }
        if lot_size.is_zero() {
            return Err(InstrumentError::InvalidLot {
                symbol,
                lot: lot_size,
            });
        }
        Ok(Self {
            symbol,
            base: base.into(),
            quote: quote.into(),
            tick_size,
            lot_size,
            min_quantity,
            min_notional,
        })
    }

    /// Exchange symbol, e.g. `BTCUSDT`.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    /// Base currency (what a quantity counts), e.g. `BTC`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Quote currency (what a price and notional are in), e.g. `USDT`.
    pub fn quote(&self) -> &str {
        &self.quote
    }

    /// Smallest price increment.
    pub fn tick_size(&self) -> Price {
        self.tick_size
    }

    /// Smallest quantity increment.
    pub fn lot_size(&self) -> Quantity {
        self.lot_size
    }

    /// Smallest order quantity.
    pub fn min_quantity(&self) -> Quantity {
        self.min_quantity
    }

    /// Smallest order notional (price × quantity) in the quote currency.
    pub fn min_notional(&self) -> Money {
        self.min_notional
    }

    /// Decimals of prices on this instrument (the tick's precision).
    pub fn price_precision(&self) -> u8 {
        self.tick_size.precision()
    }

    /// Decimals of quantities on this instrument (the lot's precision).
    pub fn size_precision(&self) -> u8 {
        self.lot_size.precision()
    }

    /// Round `price` to a multiple of the tick in the given direction (see [`TickRounding`]).
    /// The result carries the instrument's price precision. Fails only if rounding away
    /// from zero leaves the `Price` range.
    pub fn round_price(&self, price: Price, mode: TickRounding) -> Result<Price, InstrumentError> {
        let tick = self.tick_size.raw();
        let raw = price.raw();
        let floor = raw.div_euclid(tick);
        let rem = raw.rem_euclid(tick);
        let ticks = match mode {
            TickRounding::Down => Some(floor),
            TickRounding::Up if rem == 0 => Some(floor),
            TickRounding::Up => floor.checked_add(1),
            TickRounding::Nearest => {
                // Compare 2·rem with tick in i128 so huge ticks cannot overflow.
                let twice = i128::from(rem) * 2;
                match twice.cmp(&i128::from(tick)) {
                    std::cmp::Ordering::Less => Some(floor),
                    std::cmp::Ordering::Greater => floor.checked_add(1),
                    std::cmp::Ordering::Equal if floor % 2 == 0 => Some(floor),
                    std::cmp::Ordering::Equal => floor.checked_add(1),
                }
            }
        };
        ticks
            .and_then(|t| t.checked_mul(tick))
            .and_then(|r| Price::from_raw(r, self.price_precision()).ok())
            .ok_or_else(|| InstrumentError::PriceOverflow {
                symbol: self.symbol.clone(),
                price,
                tick: self.tick_size,
            })
    }

    /// Round `qty` down to a multiple of the lot (never up: an order must not exceed
    /// what the caller can afford or holds). Carries the instrument's size precision.
    pub fn round_quantity(&self, qty: Quantity) -> Quantity {
        let lot = self.lot_size.raw();
        let raw = qty.raw() - qty.raw() % lot;
        // A multiple of the lot is always representable at the lot's precision.
        Quantity::from_raw(raw, self.size_precision()).unwrap_or(Quantity::ZERO)
    }

    /// Fail if `price × qty` is below the minimum notional.
    pub fn check_min_notional(&self, price: Price, qty: Quantity) -> Result<(), InstrumentError> {
        let notional = price * qty;
        if notional < self.min_notional {
            return Err(InstrumentError::BelowMinNotional {
                symbol: self.symbol.clone(),
                notional,
                min: self.min_notional,
            });
        }
        Ok(())
    }

    /// Check every rule for a limit order: price on tick, quantity on lot and at least
    /// the minimum, and notional at least the minimum. Reports the first rule broken.
    pub fn validate_order(&self, price: Price, qty: Quantity) -> Result<(), InstrumentError> {
        if price.raw() % self.tick_size.raw() != 0 {
            return Err(InstrumentError::OffTick {
                symbol: self.symbol.clone(),
                price,
                tick: self.tick_size,
            });
        }
        if !qty.raw().is_multiple_of(self.lot_size.raw()) {
            return Err(InstrumentError::OffLot {
                symbol: self.symbol.clone(),
                qty,
                lot: self.lot_size,
            });
        }
        if qty < self.min_quantity {
            return Err(InstrumentError::BelowMinQuantity {
                symbol: self.symbol.clone(),
                qty,
                min: self.min_quantity,
            });
        }
        self.check_min_notional(price, qty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        s.parse().expect("valid price")
    }
    fn q(s: &str) -> Quantity {
        s.parse().expect("valid quantity")
    }
    fn btc() -> Instrument {
        Instrument::new(
            "BTCUSDT",
            "BTC",
            "USDT",
            p("0.01"),
            q("0.00001"),
            q("0.0001"),
            "5".parse().expect("valid money"),
        )
        .expect("valid instrument")
    }

    #[test]
    fn rejects_zero_tick_or_lot() {
        let m = Money::ZERO;
        assert!(matches!(
            Instrument::new("X", "A", "B", p("0"), q("1"), q("1"), m),
            Err(InstrumentError::InvalidTick { .. })
        ));
        assert!(matches!(
            Instrument::new("X", "A", "B", p("-0.01"), q("1"), q("1"), m),
            Err(InstrumentError::InvalidTick { .. })
        ));
        assert!(matches!(
            Instrument::new("X", "A", "B", p("0.01"), q("0"), q("1"), m),
            Err(InstrumentError::InvalidLot { .. })
        ));
    }

    #[test]
    fn round_price_down_up_nearest() {
        let i = btc();
        let r = |s: &str, m| i.round_price(p(s), m).expect("in range").to_string();
        assert_eq!(r("100.1234", TickRounding::Down), "100.12");
        assert_eq!(r("100.1234", TickRounding::Up), "100.13");
        assert_eq!(r("100.1234", TickRounding::Nearest), "100.12");
        assert_eq!(r("100.1264", TickRounding::Nearest), "100.13");
        assert_eq!(r("100.12", TickRounding::Up), "100.12");
        assert_eq!(r("100.1", TickRounding::Down), "100.10");
        // Ties go to the even tick multiple.
        assert_eq!(r("100.125", TickRounding::Nearest), "100.12");
        assert_eq!(r("100.135", TickRounding::Nearest), "100.14");
        // Negative prices: Down is toward −∞, ties still to even.
        assert_eq!(r("-1.234", TickRounding::Down), "-1.24");
        assert_eq!(r("-1.234", TickRounding::Up), "-1.23");
        assert_eq!(r("-1.235", TickRounding::Nearest), "-1.24");
        assert_eq!(r("-1.225", TickRounding::Nearest), "-1.22");
    }

    #[test]
    fn round_price_with_non_decimal_tick_and_overflow() {
        let i = Instrument::new("ES", "ES", "USD", p("0.25"), q("1"), q("1"), Money::ZERO)
            .expect("valid");
        assert_eq!(
            i.round_price(p("5000.37"), TickRounding::Nearest)
                .expect("ok"),
            p("5000.25")
        );
        assert_eq!(
            i.round_price(p("5000.38"), TickRounding::Nearest)
                .expect("ok"),
            p("5000.50")
        );
        let huge = Price::from_raw(i64::MAX - 1, 9).expect("valid");
        assert!(matches!(
            i.round_price(huge, TickRounding::Up),
            Err(InstrumentError::PriceOverflow { .. })
        ));
    }

    #[test]
    fn round_quantity_always_down() {
        let i = btc();
        assert_eq!(i.round_quantity(q("0.123456789")).to_string(), "0.12345");
        assert_eq!(i.round_quantity(q("0.000009")), Quantity::ZERO);
        assert_eq!(i.round_quantity(q("1")).to_string(), "1.00000");
    }

    #[test]
    fn min_notional_and_order_validation() {
        let i = btc();
        assert!(i.check_min_notional(p("50000"), q("0.0001")).is_ok()); // exactly 5
        let err = i
            .check_min_notional(p("49999.99"), q("0.0001"))
            .expect_err("below");
        assert_eq!(
            err.to_string(),
            "BTCUSDT: notional 4.999999 is below the minimum 5.00"
        );
        assert!(i.validate_order(p("50000.00"), q("0.001")).is_ok());
        assert!(matches!(
            i.validate_order(p("50000.001"), q("0.001")),
            Err(InstrumentError::OffTick { .. })
        ));
        assert!(matches!(
            i.validate_order(p("50000"), q("0.000015")),
            Err(InstrumentError::OffLot { .. })
        ));
        assert!(matches!(
            i.validate_order(p("50000"), q("0.00005")),
            Err(InstrumentError::BelowMinQuantity { .. })
        ));
        assert!(matches!(
            i.validate_order(p("1"), q("1")),
            Err(InstrumentError::BelowMinNotional { .. })
        ));
        assert_eq!((i.price_precision(), i.size_precision()), (2, 5));
        assert_eq!(
            (i.symbol(), i.base(), i.quote()),
            ("BTCUSDT", "BTC", "USDT")
        );
    }
}
