//! BollingerReversion: buy when a bar closes below the lower band, sell the whole
//! position when one closes above the upper band (TA-Lib BBANDS, population deviation).

mod config;
#[cfg(test)]
mod tests;

pub use config::BollingerReversionConfig;

use crate::data::Bar;
use crate::indicators::BollingerBands;
use crate::strategy::{Actions, Context, Strategy};

/// The BollingerReversion strategy.
#[derive(Clone, Debug)]
pub struct BollingerReversion {
    bands: BollingerBands,
}

impl BollingerReversion {
    /// A fresh strategy.
    pub fn new(config: BollingerReversionConfig) -> Self {
        let bands = BollingerBands::new(config.period, config.std_devs, config.std_devs)
            .expect("parameters checked by config");
        Self { bands }
    }
}

impl Strategy for BollingerReversion {
    fn name(&self) -> &'static str {
        "BollingerReversion"
    }

    fn warmup_bars(&self) -> usize {
        self.bands.lookback()
    }

    fn on_bar(&mut self, ctx: &Context<'_>, bar: &Bar, out: &mut Actions) {
        let close = bar.close.as_f64();
        let Some(b) = self.bands.update(close) else {
            return;
        };
        if close < b.lower && !ctx.is_long() {
            out.enter_long();
        } else if close > b.upper && ctx.is_long() {
            out.exit_long();
        }
    }
}
