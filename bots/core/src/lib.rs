//! Tradewind's trading core: pure, deterministic, no I/O. The same code runs in
//! backtests, paper trading and live trading; time comes from a clock the caller owns.
//!
//! - [`fixed`]: fixed-point prices, quantities and money with stated rounding rules.

pub mod fixed;
