//! `tradewind-bot run`: the long-running worker. [`session`] is the trading loop, the
//! same for paper and live; [`worker`] wires it to the config, the cluster and the sinks.

pub mod book;
pub mod config;
pub mod cosmos_sink;
pub mod events;
pub mod feed;
pub mod fills;
pub mod holdings;
pub mod journal;
pub mod lease;
pub mod live;
pub mod metrics;
pub mod record;
pub mod recorder;
pub mod service_bus;
pub mod session;
pub mod signals;
pub mod status;
pub mod trader;
pub mod warmup;
pub mod worker;
