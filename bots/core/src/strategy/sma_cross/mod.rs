//! SmaCross: long when the fast simple moving average of closes crosses above the slow
//! one, flat when it crosses back below. Spot, so never short. Crosses are strict on both
//! bars, as backtesting.py's `crossover()`, so the two engines take the same trades.
//!
//! The averages are compared exactly: window sums of the fixed-point closes in integers,
//! `fast_sum · slow_n` against `slow_sum · fast_n`. On tick prices the two averages are
//! often exactly equal, and any floating-point average (TA-Lib's running total, pandas'
//! rolling mean, a fresh window sum) tips some of those ties one way or the other — each
//! differently. Integers make the decision the same on every machine and engine.

mod config;
#[cfg(test)]
mod tests;

pub use config::SmaCrossConfig;

use crate::data::Bar;
use crate::strategy::{Actions, Context, Cross, CrossDetector, Strategy};

/// Exact moving window sum of raw fixed-point prices (a ring buffer, O(1) per bar).
#[derive(Clone, Debug)]
struct WindowSum {
    period: usize,
    ring: Vec<i64>,
    next: usize,
    filled: usize,
    sum: i128,
}

impl WindowSum {
    fn new(period: usize) -> Self {
        Self {
            period,
            ring: vec![0; period],
            next: 0,
            filled: 0,
            sum: 0,
        }
    }

    /// Adds a value; the window's sum once it is full.
    #[inline]
    fn update(&mut self, raw: i64) -> Option<i128> {
        let old = std::mem::replace(&mut self.ring[self.next], raw);
        self.next = if self.next + 1 == self.period {
            0
        } else {
            self.next + 1
        };
        self.sum += i128::from(raw);
        if self.filled == self.period {
            self.sum -= i128::from(old);
        } else {
            self.filled += 1;
        }
        (self.filled == self.period).then_some(self.sum)
    }
}

/// The SmaCross strategy.
#[derive(Clone, Debug)]
pub struct SmaCross {
    fast: WindowSum,
    slow: WindowSum,
    cross: CrossDetector<i128>,
    warmup: usize,
}

impl SmaCross {
    /// A fresh strategy.
    pub fn new(config: SmaCrossConfig) -> Self {
        Self {
            fast: WindowSum::new(config.fast),
            slow: WindowSum::new(config.slow),
            cross: CrossDetector::default(),
            warmup: config.slow - 1,
        }
    }
}

impl Strategy for SmaCross {
    fn name(&self) -> &'static str {
        "SmaCross"
    }

    fn warmup_bars(&self) -> usize {
        self.warmup
    }

    fn on_bar(&mut self, ctx: &Context<'_>, bar: &Bar, out: &mut Actions) {
        let close = bar.close.raw();
        let (Some(fast), Some(slow)) = (self.fast.update(close), self.slow.update(close)) else {
            return;
        };
        // fast/f > slow/s  <=>  fast·s > slow·f (periods are positive); sums of i64 prices
        // times periods <= 10,000 stay far inside i128.
        let (f, s) = (self.fast.period as i128, self.slow.period as i128);
        match self.cross.update(fast * s, slow * f) {
            Some(Cross::Above) if !ctx.is_long() => out.enter_long(),
            Some(Cross::Below) if ctx.is_long() => out.exit_long(),
            _ => {}
        }
    }
}
