//! Dca: dollar-cost averaging. Buys `notional` worth at market on the first bar and every
//! `everyBars` bars after; optionally sells everything once the close is `takeProfitPercent`
//! above the position's average price (compared exactly, in fixed point).

mod config;
#[cfg(test)]
mod tests;

pub use config::DcaConfig;

use crate::data::{Bar, Side};
use crate::orders::{OrderKind, TimeInForce};
use crate::strategy::{Actions, Context, OrderSize, PlannedOrder, Strategy};

/// The Dca strategy.
#[derive(Clone, Debug)]
pub struct Dca {
    config: DcaConfig,
    bars: u64,
}

impl Dca {
    /// A fresh strategy.
    pub fn new(config: DcaConfig) -> Self {
        Self { config, bars: 0 }
    }
}

impl Strategy for Dca {
    fn name(&self) -> &'static str {
        "Dca"
    }

    fn on_bar(&mut self, ctx: &Context<'_>, bar: &Bar, out: &mut Actions) {
        let due = self.bars.is_multiple_of(self.config.every_bars);
        self.bars += 1;
        if let (Some(tp), Some(avg)) = (self.config.take_profit, ctx.average_price)
            && ctx.is_long()
            && bar.close > avg
        {
            // (close - avg) / avg >= tp, exactly (risk::Percent's fixed-point comparison).
            let gain = (i128::from(bar.close.raw()) - i128::from(avg.raw())).unsigned_abs();
            if tp.reached_by(gain, i128::from(avg.raw()).unsigned_abs()) {
                out.exit_long();
                return;
            }
        }
        if due {
            out.place(PlannedOrder {
                side: Side::Buy,
                size: OrderSize::Quote(self.config.notional),
                kind: OrderKind::Market,
                time_in_force: TimeInForce::Ioc,
                post_only: false,
            });
        }
    }
}
