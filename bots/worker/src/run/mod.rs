//! `tradewind-bot run`: the long-running worker.

pub mod config;
pub mod events;
pub mod feed;
pub mod http;
pub mod journal;
pub mod lease;
pub mod live;
pub mod record;
pub mod status;
pub mod trader;
pub mod worker;
