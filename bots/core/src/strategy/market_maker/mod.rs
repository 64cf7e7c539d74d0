//! MarketMaker: every `refreshBars` bars, cancels its quotes and posts a post-only bid
//! and ask around the last close, `spreadBps` apart (bid rounded down, ask up to the
//! tick). The bid is skipped when a fill could push inventory past `maxInventory`; the
//! ask only offers inventory it holds (spot).

mod config;
#[cfg(test)]
mod tests;

pub use config::{MarketMakerConfig, MarketMakerParams};

use crate::data::{Bar, Side};
use crate::fixed::Price;
use crate::instrument::TickRounding;
use crate::orders::{OrderKind, TimeInForce};
use crate::strategy::{Actions, Context, OrderSize, PlannedOrder, Strategy};

/// The MarketMaker strategy.
#[derive(Clone, Debug)]
pub struct MarketMaker {
    config: MarketMakerConfig,
    bars: u64,
}

impl MarketMaker {
    /// A fresh strategy.
    pub fn new(config: MarketMakerConfig) -> Self {
        Self { config, bars: 0 }
    }

    fn offset(&self, mid: Price, sign: i128) -> Option<Price> {
        let raw = i128::from(mid.raw()) * (1_000_000_000 + sign * self.config.half_spread_e9)
            / 1_000_000_000;
        Price::from_raw(i64::try_from(raw).ok()?, mid.precision()).ok()
    }

    fn quote(&self, side: Side, price: Price, out: &mut Actions, ctx: &Context<'_>) {
        let quantity = match side {
            Side::Buy => self.config.order_quantity,
            Side::Sell => self.config.order_quantity.min(ctx.position),
        };
        if quantity.is_zero() {
            return;
        }
        out.place(PlannedOrder {
            side,
            size: OrderSize::Base(quantity),
            kind: OrderKind::Limit { price },
            time_in_force: TimeInForce::Gtc,
            post_only: true,
        });
    }
}

impl Strategy for MarketMaker {
    fn name(&self) -> &'static str {
        "MarketMaker"
    }

    fn on_bar(&mut self, ctx: &Context<'_>, bar: &Bar, out: &mut Actions) {
        let due = self.bars.is_multiple_of(self.config.refresh_bars);
        self.bars += 1;
        if !due {
            return;
        }
        if !ctx.open_orders.is_empty() {
            out.cancel_all();
        }
        let mid = bar.close;
        let bid = self
            .offset(mid, -1)
            .and_then(|p| ctx.instrument.round_price(p, TickRounding::Down).ok());
        let ask = self
            .offset(mid, 1)
            .and_then(|p| ctx.instrument.round_price(p, TickRounding::Up).ok());
        let room = self.config.max_inventory.saturating_sub(ctx.position);
        if let Some(bid) = bid
            && room >= self.config.order_quantity
            && bid.is_positive()
        {
            self.quote(Side::Buy, bid, out, ctx);
        }
        if let Some(ask) = ask {
            self.quote(Side::Sell, ask, out, ctx);
        }
    }
}
