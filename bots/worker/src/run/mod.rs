//! `tradewind-bot run`: the long-running worker.

pub mod journal;
pub mod http;
pub mod events;
pub mod lease;
