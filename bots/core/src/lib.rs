//! Tradewind's trading core: pure, deterministic, no I/O. The same code runs in
//! backtests, paper trading and live trading; time comes from a clock the caller owns.
//!
//! - [`fixed`]: fixed-point prices, quantities and money with stated rounding rules.
//! - [`instrument`]: tick, lot and minimum-notional rules of a tradable pair.
//! - [`data`]: bars, trades, quotes, L2 snapshots/deltas, the L2 order book, timestamp
//!   parsing and the CSV/JSONL loaders.
//! - [`indicators`]: streaming SMA, EMA, RSI, MACD, Bollinger Bands, ATR, StdDev matching TA-Lib.

pub mod backtest;
pub mod data;
pub mod engine;
pub mod exchange;
pub mod fixed;
pub mod indicators;
pub mod instrument;
pub mod orders;
pub mod portfolio;
pub mod risk;
pub mod statistics;
pub mod strategy;
