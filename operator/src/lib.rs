//! The Tradewind operator: controllers for TradingBot, Strategy and CommissionPlan. A
//! reconcile is a pipeline of steps, each its own module: dereference → validate →
//! **build** → apply → status.
//!
//! The steps that decide are pure — [`dereference`], [`build`] (the objects that run a
//! bot) and [`status`] (what to report); [`controller`] fetches, applies (server-side,
//! only on a difference) and patches status around them.

pub mod build;
pub mod controller;
pub mod dereference;
pub mod diff;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod model;
pub mod status;
pub mod validate;
