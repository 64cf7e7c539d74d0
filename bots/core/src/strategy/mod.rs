//! Strategies: one trait, one folder per built-in strategy (config, code, tests).
//!
//! A strategy only decides. It sees a [`Context`] (time, instrument, position, cash,
//! its own open orders) and a bar, and writes [`Action`]s; the engine turns them into
//! orders, runs them through risk and the exchange, and reports fills back. The same
//! strategy code runs in backtests, paper and live trading.

mod actions;
pub mod bollinger_reversion;
pub mod config;
pub mod dca;
pub mod ema_cross;
pub mod grid;
pub mod market_maker;
pub mod model;
pub mod rsi_reversion;
pub mod signal;
pub mod sma_cross;

pub use actions::{Action, Actions, OrderSize, PlannedOrder};
pub use config::{ConfigError, StrategyConfig};
pub use signal::{Signal, SignalAction, SignalOutcome};

use crate::data::{Bar, Side, UnixNanos};
use crate::fixed::{Money, Price, Quantity};
use crate::instrument::Instrument;
use crate::orders::{ClientOrderId, Fill, InstrumentIndex, OrderKind};

/// One of the strategy's orders that is still working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOrder {
    /// Its ID.
    pub id: ClientOrderId,
    /// Buy or sell.
    pub side: Side,
    /// Market, limit or stop, with prices.
    pub kind: OrderKind,
    /// Quantity not yet filled.
    pub remaining: Quantity,
}

/// What a strategy may look at when it decides.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// Engine time (the clock's, not the wall's).
    pub ts: UnixNanos,
    /// The instrument traded.
    pub instrument: &'a Instrument,
    /// Its index in the engine.
    pub index: InstrumentIndex,
    /// Base quantity held (spot: long only).
    pub position: Quantity,
    /// Average entry price of the position, if any.
    pub average_price: Option<Price>,
    /// Cash in quote currency.
    pub cash: Money,
    /// Cash plus the position marked to the last price.
    pub equity: Money,
    /// The strategy's working orders, oldest first.
    pub open_orders: &'a [OpenOrder],
}

impl Context<'_> {
    /// Whether any base is held.
    pub fn is_long(&self) -> bool {
        !self.position.is_zero()
    }
}

/// A trading strategy. Implementations must be deterministic: same inputs, same actions.
pub trait Strategy: Send {
    /// Short name for reports and logs.
    fn name(&self) -> &'static str;

    /// Bars the strategy needs before it can decide (indicator warm-up).
    fn warmup_bars(&self) -> usize {
        0
    }

    /// Called once per closed bar of the strategy's timeframe.
    fn on_bar(&mut self, ctx: &Context<'_>, bar: &Bar, out: &mut Actions);

    /// Called for each of the strategy's fills, after accounting has applied it.
    fn on_fill(&mut self, _ctx: &Context<'_>, _fill: &Fill, _out: &mut Actions) {}

    /// Moves what the strategy has to say since the last call (why it skipped a
    /// decision) into `out`; the engine keeps it with its own notes.
    fn drain_notes(&mut self, _out: &mut Vec<String>) {}

    /// Moves the decisions a model strategy traced since the last call into `out`.
    fn drain_decisions(&mut self, _out: &mut Vec<model::Decision>) {}

    /// Called for an external signal; says whether the strategy acted on it. Only the
    /// Signal strategy takes signals.
    fn on_signal(
        &mut self,
        _ctx: &Context<'_>,
        _signal: &Signal,
        _out: &mut Actions,
    ) -> SignalOutcome {
        SignalOutcome::Skipped(format!(
            "the {} strategy does not take signals",
            self.name()
        ))
    }
}

/// Builds the configured strategy for one instrument: grid bounds must lie on its ticks
/// and quantities be at least one of its lots.
pub fn build(
    config: &StrategyConfig,
    instrument: &Instrument,
) -> Result<Box<dyn Strategy>, ConfigError> {
    Ok(match config {
        StrategyConfig::SmaCross(c) => Box::new(sma_cross::SmaCross::new(*c)),
        StrategyConfig::EmaCross(c) => Box::new(ema_cross::EmaCross::new(*c)),
        StrategyConfig::RsiReversion(c) => Box::new(rsi_reversion::RsiReversion::new(*c)),
        StrategyConfig::BollingerReversion(c) => {
            Box::new(bollinger_reversion::BollingerReversion::new(*c))
        }
        StrategyConfig::Grid(p) => Box::new(grid::Grid::new(grid::GridConfig::new(p, instrument)?)),
        StrategyConfig::Dca(c) => Box::new(dca::Dca::new(*c)),
        StrategyConfig::MarketMaker(p) => Box::new(market_maker::MarketMaker::new(
            market_maker::MarketMakerConfig::new(p, instrument)?,
        )),
        StrategyConfig::Model(c) => Box::new(model::Model::new(c)?),
        StrategyConfig::Signal(c) => Box::new(signal::SignalStrategy::new(c.clone())),
    })
}

/// Crossing of two series between the previous and the current bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cross {
    /// `fast` went from at-or-below `slow` to above it.
    Above,
    /// `fast` went from at-or-above `slow` to below it.
    Below,
}

/// Detects crossovers of a fast and a slow series, the way backtesting.py's
/// `crossover(a, b)` does: `a[-2] < b[-2] and a[-1] > b[-1]` (strict on both bars).
/// Generic so exact (integer) series and `f64` indicator series use the same rule.
#[derive(Clone, Copy, Debug)]
pub struct CrossDetector<T = f64> {
    prev: Option<(T, T)>,
}

impl<T> Default for CrossDetector<T> {
    fn default() -> Self {
        Self { prev: None }
    }
}

impl<T: PartialOrd + Copy> CrossDetector<T> {
    /// Feeds the current values; returns a cross if one happened on this bar.
    pub fn update(&mut self, fast: T, slow: T) -> Option<Cross> {
        let cross = match self.prev {
            Some((pf, ps)) if pf < ps && fast > slow => Some(Cross::Above),
            Some((pf, ps)) if pf > ps && fast < slow => Some(Cross::Below),
            _ => None,
        };
        self.prev = Some((fast, slow));
        cross
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for strategy tests.
    use super::*;
    use crate::fixed::{Money, Price, Quantity};

    pub fn instrument() -> Instrument {
        Instrument::new(
            "BTCUSDT",
            "BTC",
            "USDT",
            Price::parse("0.01", 2).unwrap(),
            Quantity::parse("0.00001", 5).unwrap(),
            Quantity::parse("0.00001", 5).unwrap(),
            Money::parse("5").unwrap(),
        )
        .unwrap()
    }

    pub fn price(s: &str) -> Price {
        Price::parse(s, 2).unwrap()
    }

    pub fn qty(s: &str) -> Quantity {
        Quantity::parse(s, 5).unwrap()
    }

    pub fn bar(i: i64, close: &str) -> Bar {
        let c = price(close);
        Bar::new(i * 60_000_000_000, c, c, c, c, qty("1")).unwrap()
    }

    /// Feeds one bar per close (one minute apart) with a fixed position; returns every
    /// action with the index of the bar that produced it.
    pub fn feed(
        strategy: &mut dyn Strategy,
        closes: &[&str],
        position: &str,
    ) -> Vec<(usize, Action)> {
        let inst = instrument();
        let mut out = Actions::starting_at(1);
        let mut seen = Vec::new();
        for (i, c) in closes.iter().enumerate() {
            strategy.on_bar(&ctx(&inst, position, &[]), &bar(i as i64, c), &mut out);
            seen.extend(out.drain().map(|a| (i, a)));
        }
        seen
    }

    pub fn ctx<'a>(inst: &'a Instrument, position: &str, orders: &'a [OpenOrder]) -> Context<'a> {
        Context {
            ts: 0,
            instrument: inst,
            index: InstrumentIndex(0),
            position: qty(position),
            average_price: None,
            cash: Money::parse("10000").unwrap(),
            equity: Money::parse("10000").unwrap(),
            open_orders: orders,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_detector_needs_strict_crossing_on_both_bars() {
        let mut c = CrossDetector::default();
        assert_eq!(c.update(1.0, 2.0), None);
        assert_eq!(c.update(2.0, 2.0), None); // touching is not crossing
        assert_eq!(c.update(3.0, 2.0), None); // previous bar was equal, not below
        assert_eq!(c.update(1.0, 2.0), Some(Cross::Below));
        assert_eq!(c.update(3.0, 2.0), Some(Cross::Above));
    }
}
