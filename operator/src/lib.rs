//! The Tradewind operator. A reconcile is a pipeline of steps, each its own module:
//! dereference → validate → **build** → apply → status (DESIGN.md §3).
//!
//! So far this crate holds the pure steps — [`dereference`], [`build`] (the objects that
//! run a bot) and [`status`] (what to report) — and the `render` command. The controllers
//! that fetch, apply and patch arrive with the operator issue.

pub mod build;
pub mod controller;
pub mod dereference;
pub mod diff;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod status;
pub mod validate;
