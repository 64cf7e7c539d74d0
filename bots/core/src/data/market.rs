//! Plain market-data records.

use crate::fixed::{Price, Quantity};

/// Nanoseconds since the UNIX epoch (UTC). Signed so that differences are plain subtraction;
/// `i64` covers 1677..2262.
pub type UnixNanos = i64;

/// Side of an order or the aggressor of a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// Buying the base currency.
    Buy,
    /// Selling the base currency.
    Sell,
}

/// Side of an order book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BookSide {
    /// Resting buy orders.
    Bid,
    /// Resting sell orders.
    Ask,
}

/// Why a bar is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarError {
    /// `low <= open, close <= high` does not hold.
    #[error("inconsistent OHLC: open {open} high {high} low {low} close {close}")]
    Inconsistent {
        /// Open.
        open: Price,
        /// High.
        high: Price,
        /// Low.
        low: Price,
        /// Close.
        close: Price,
    },
}

/// One OHLCV bar. `ts` is the **start** of the bar's interval (Binance kline open time);
/// the bar is complete only once the interval has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bar {
    /// Interval start, ns since the epoch.
    pub ts: UnixNanos,
    /// First traded price.
    pub open: Price,
    /// Highest traded price.
    pub high: Price,
    /// Lowest traded price.
    pub low: Price,
    /// Last traded price.
    pub close: Price,
    /// Traded base quantity.
    pub volume: Quantity,
}

impl Bar {
    /// Build a bar, checking `low <= open, close <= high` (which also implies `low <= high`).
    pub fn new(
        ts: UnixNanos,
        open: Price,
        high: Price,
        low: Price,
        close: Price,
        volume: Quantity,
    ) -> Result<Self, BarError> {
        let bar = Self {
            ts,
            open,
            high,
            low,
            close,
            volume,
        };
        bar.validate()?;
        Ok(bar)
    }

    /// Check OHLC consistency of a bar built field by field.
    pub fn validate(&self) -> Result<(), BarError> {
        let ok = self.low <= self.open
            && self.low <= self.close
            && self.open <= self.high
            && self.close <= self.high;
        if ok {
            Ok(())
        } else {
            Err(BarError::Inconsistent {
                open: self.open,
                high: self.high,
                low: self.low,
                close: self.close,
            })
        }
    }
}

/// One trade print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Trade {
    /// Exchange time, ns since the epoch.
    pub ts: UnixNanos,
    /// Execution price.
    pub price: Price,
    /// Executed base quantity.
    pub size: Quantity,
    /// Side of the taker (the order that crossed the spread).
    pub aggressor: Side,
}

/// Top of book (L1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quote {
    /// Exchange time, ns since the epoch.
    pub ts: UnixNanos,
    /// Best bid price.
    pub bid: Price,
    /// Quantity at the best bid.
    pub bid_size: Quantity,
    /// Best ask price.
    pub ask: Price,
    /// Quantity at the best ask.
    pub ask_size: Quantity,
}

/// One price level of a book side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BookLevel {
    /// Level price.
    pub price: Price,
    /// Total resting quantity at that price.
    pub size: Quantity,
}

/// A full L2 picture; replaces everything in the book. Levels may come in any order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BookSnapshot {
    /// Exchange time, ns since the epoch.
    pub ts: UnixNanos,
    /// Bid levels.
    pub bids: Vec<BookLevel>,
    /// Ask levels.
    pub asks: Vec<BookLevel>,
}

/// One L2 change: set the quantity at `price` on `side`; a size of zero removes the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BookDelta {
    /// Exchange time, ns since the epoch.
    pub ts: UnixNanos,
    /// Book side.
    pub side: BookSide,
    /// Level price.
    pub price: Price,
    /// New total quantity at the level (0 = remove).
    pub size: Quantity,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        s.parse().expect("valid price")
    }

    #[test]
    fn bar_ohlc_consistency() {
        let v = Quantity::ZERO;
        assert!(Bar::new(0, p("10"), p("12"), p("9"), p("11"), v).is_ok());
        assert!(Bar::new(0, p("10"), p("10"), p("10"), p("10"), v).is_ok());
        // close above high, open below low, low above high
        assert!(Bar::new(0, p("10"), p("12"), p("9"), p("13"), v).is_err());
        assert!(Bar::new(0, p("8"), p("12"), p("9"), p("11"), v).is_err());
        let err = Bar::new(0, p("10"), p("9"), p("11"), p("10"), v).expect_err("low > high");
        assert_eq!(
            err.to_string(),
            "inconsistent OHLC: open 10 high 9 low 11 close 10"
        );
    }
}
