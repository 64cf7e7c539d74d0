//! Library part of `tradewind-bot`: the worker's trading session and its wiring
//! (`run`), the Binance client (`venue`), and the translation of a bot's configuration
//! into the engine's settings. The binary (`main.rs`) adds the backtest command and its
//! reports, and re-exports these under the same paths (`crate::run::…`).

pub mod instrument;
pub mod market_feed;
pub mod model;
pub mod run;
pub mod venue;
