//! RsiReversion: buy when Wilder's RSI of closes is below `oversold`, sell the whole
//! position when it is above `overbought`. Level-based, evaluated on each closed bar.

mod config;
#[cfg(test)]
mod tests;

pub use config::RsiReversionConfig;

use crate::data::Bar;
use crate::indicators::Rsi;
use crate::strategy::{Actions, Context, Strategy};

/// The RsiReversion strategy.
#[derive(Clone, Debug)]
pub struct RsiReversion {
    rsi: Rsi,
    config: RsiReversionConfig,
}

impl RsiReversion {
    /// A fresh strategy.
    pub fn new(config: RsiReversionConfig) -> Self {
        Self {
            rsi: Rsi::new(config.period).expect("period checked by config"),
            config,
        }
    }
}

impl Strategy for RsiReversion {
    fn name(&self) -> &'static str {
        "RsiReversion"
    }

    fn warmup_bars(&self) -> usize {
        self.rsi.lookback()
    }

    fn on_bar(&mut self, ctx: &Context<'_>, bar: &Bar, out: &mut Actions) {
        let Some(rsi) = self.rsi.update(bar.close.as_f64()) else {
            return;
        };
        if rsi < self.config.oversold && !ctx.is_long() {
            out.enter_long();
        } else if rsi > self.config.overbought && ctx.is_long() {
            out.exit_long();
        }
    }
}
