//! Exchange venue clients. Each venue turns its wire formats into the trading core's
//! fixed-point types and leaves the trading decisions to the runtime.

pub mod binance;
