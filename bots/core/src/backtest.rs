//! Backtests: the [`engine`](crate::engine) driven by recorded bars against the simulated
//! exchange. The names here are the engine's, under the name a backtest user looks for.

pub use crate::engine::{
    Backtest, BacktestError, Clock, Counts, INSTRUMENT, Outcome, Settings, SimulatedClock, Sizing,
    clock, sizing,
};
