//! `tradewind.dev/v1alpha1`: the API that platform engineers write.

// `#[kube(printcolumn(...))]` repeats keys such as `type_` once per column by design.
#![allow(clippy::duplicated_attributes)]

mod commission_plan;
mod common;
mod strategy;
mod trading_bot;

pub use commission_plan::*;
pub use common::*;
pub use strategy::*;
pub use trading_bot::*;
