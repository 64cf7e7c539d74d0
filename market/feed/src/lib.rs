//! Tradewind's shared market-data feed on NATS JetStream. One feed per (venue, market,
//! symbol) holds the exchange's streams and publishes typed messages ([`message`]) on
//! subjects per venue, symbol and stream ([`subject`]); every bot of that symbol reads
//! them with its own ordered consumer ([`consume`]). No broker or fan-out protocol of
//! our own: JetStream stores, deduplicates (`Nats-Msg-Id`) and delivers.
//!
//! This crate knows no exchange: the worker's `tradewind-bot feed` command turns the
//! Binance client's events into [`FeedMessage`]s and hands them to a [`Sink`]
//! ([`Publisher`] is the JetStream one).

pub mod consume;
pub mod message;
pub mod publish;
pub mod subject;
#[cfg(feature = "test-server")]
pub mod testing;

pub use async_nats::Client as NatsClient;
pub use consume::{Delivered, Start, Subscription, stored_messages};
pub use message::{DecodeError, FeedMessage, Payload};
pub use publish::{PublishCounters, Publisher, Sink, connect};
pub use subject::{DEFAULT_PREFIX, Retention, Shard, SubjectError};

/// A failure of the feed's messaging.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// NATS refused or could not be reached.
    #[error("NATS: {what}: {detail}")]
    Nats {
        /// What was being done.
        what: String,
        /// The client's error.
        detail: String,
    },
    /// A stored message does not decode.
    #[error("{subject} (stream sequence {stream_sequence}): {source}")]
    Decode {
        /// Its subject.
        subject: String,
        /// Its place in the stream.
        stream_sequence: u64,
        /// Why.
        source: DecodeError,
    },
    /// A subject could not be formed.
    #[error(transparent)]
    Subject(#[from] SubjectError),
    /// The subscription ended (the client was closed).
    #[error("the market-data subscription ended")]
    Closed,
}
