//! Grid: resting limit orders on a fixed ladder of prices. It starts with a buy at every
//! level below the first price it sees; when a buy at level i fills, it places a sell of
//! the filled quantity at level i+1, and when a sell at level j fills, a buy at level j-1.
//! Each round trip earns one grid step. It never sells what it has not bought (spot).

mod config;
#[cfg(test)]
mod tests;

pub use config::{GridConfig, GridParams};

use std::collections::BTreeMap;

use crate::data::{Bar, Side};
use crate::fixed::Quantity;
use crate::orders::{ClientOrderId, Fill, OrderKind, TimeInForce};
use crate::strategy::{Actions, Context, OrderSize, PlannedOrder, Strategy};

/// The Grid strategy.
#[derive(Clone, Debug)]
pub struct Grid {
    config: GridConfig,
    started: bool,
    /// Which level each of our working orders sits on.
    level_of: BTreeMap<ClientOrderId, usize>,
}

impl Grid {
    /// A fresh strategy.
    pub fn new(config: GridConfig) -> Self {
        Self {
            config,
            started: false,
            level_of: BTreeMap::new(),
        }
    }

    fn place(&mut self, out: &mut Actions, side: Side, level: usize, quantity: Quantity) {
        let order = PlannedOrder {
            side,
            size: OrderSize::Base(quantity),
            kind: OrderKind::Limit {
                price: self.config.levels[level],
            },
            time_in_force: TimeInForce::Gtc,
            post_only: true,
        };
        let id = out.place(order);
        self.level_of.insert(id, level);
    }
}

impl Strategy for Grid {
    fn name(&self) -> &'static str {
        "Grid"
    }

    fn on_bar(&mut self, _ctx: &Context<'_>, bar: &Bar, out: &mut Actions) {
        if self.started {
            return;
        }
        self.started = true;
        let quantity = self.config.quantity;
        for level in 0..self.config.levels.len() {
            if self.config.levels[level] < bar.close {
                self.place(out, Side::Buy, level, quantity);
            }
        }
    }

    fn on_fill(&mut self, _ctx: &Context<'_>, fill: &Fill, out: &mut Actions) {
        let Some(&level) = self.level_of.get(&fill.id) else {
            return;
        };
        let top = self.config.levels.len() - 1;
        match fill.side {
            Side::Buy if level < top => self.place(out, Side::Sell, level + 1, fill.quantity),
            Side::Sell if level > 0 => self.place(out, Side::Buy, level - 1, fill.quantity),
            _ => {}
        }
    }
}
