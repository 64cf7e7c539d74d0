//! `tradewind.dev/v1alpha1`: the API that platform engineers write.

mod commission_plan;
mod common;
mod strategy;
mod trading_bot;

pub use commission_plan::*;
pub use common::*;
pub use strategy::*;
pub use trading_bot::*;
