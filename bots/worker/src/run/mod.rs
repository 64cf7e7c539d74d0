//! `tradewind-bot run`: the long-running worker.

pub mod config;
pub mod journal;
pub mod live;
pub mod record;
pub mod trader;
pub mod http;
pub mod events;
pub mod lease;
pub mod status;
