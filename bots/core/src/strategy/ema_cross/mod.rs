//! EmaCross: long when the fast exponential moving average of closes crosses above the slow
//! one, flat when it crosses back below. Spot, so never short. Crosses are strict on both
//! bars, as backtesting.py's `crossover()`, so the two engines take the same trades.

mod config;
#[cfg(test)]
mod tests;

pub use config::EmaCrossConfig;

use crate::data::Bar;
use crate::indicators::Ema;
use crate::strategy::{Actions, Context, Cross, CrossDetector, Strategy};

/// The EmaCross strategy.
#[derive(Clone, Debug)]
pub struct EmaCross {
    fast: Ema,
    slow: Ema,
    cross: CrossDetector,
    warmup: usize,
}

impl EmaCross {
    /// A fresh strategy.
    pub fn new(config: EmaCrossConfig) -> Self {
        // Periods were checked by the config, so the indicators accept them.
        let fast = Ema::new(config.fast).expect("period checked by config");
        let slow = Ema::new(config.slow).expect("period checked by config");
        let warmup = slow.lookback();
        Self {
            fast,
            slow,
            cross: CrossDetector::default(),
            warmup,
        }
    }
}

impl Strategy for EmaCross {
    fn name(&self) -> &'static str {
        "EmaCross"
    }

    fn warmup_bars(&self) -> usize {
        self.warmup
    }

    fn on_bar(&mut self, ctx: &Context<'_>, bar: &Bar, out: &mut Actions) {
        let close = bar.close.as_f64();
        let (Some(fast), Some(slow)) = (self.fast.update(close), self.slow.update(close)) else {
            return;
        };
        match self.cross.update(fast, slow) {
            Some(Cross::Above) if !ctx.is_long() => out.enter_long(),
            Some(Cross::Below) if ctx.is_long() => out.exit_long(),
            _ => {}
        }
    }
}
