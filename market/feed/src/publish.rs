//! Publishing a shard's messages to JetStream, once each: a message at or before the
//! last sequence already stored on its subject is skipped (a restarted feed, a
//! reconnect), and every message carries `Nats-Msg-Id` so two feeds publishing the same
//! fact within the duplicate window store it once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage};

use crate::FeedError;
use crate::message::FeedMessage;
use crate::subject::{Retention, Shard};

/// Where a feed's messages go besides (or instead of) JetStream — a later Cosmos DB or
/// archive writer implements this; [`Publisher`] is the JetStream one. A pair of sinks
/// is a sink that sends to both, in order.
pub trait Sink {
    /// Takes one message; an error stops the feed (after the sink's own retries).
    fn send(&mut self, message: &FeedMessage)
    -> impl Future<Output = Result<(), FeedError>> + Send;
}

impl<A: Sink + Send, B: Sink + Send> Sink for (A, B) {
    async fn send(&mut self, message: &FeedMessage) -> Result<(), FeedError> {
        self.0.send(message).await?;
        self.1.send(message).await
    }
}

impl<S: Sink + Send> Sink for Option<S> {
    async fn send(&mut self, message: &FeedMessage) -> Result<(), FeedError> {
        match self {
            Some(s) => s.send(message).await,
            None => Ok(()),
        }
    }
}

/// What the publisher did, for /metrics.
#[derive(Debug, Default)]
pub struct PublishCounters {
    /// Messages stored.
    pub published: AtomicU64,
    /// Messages not sent: their subject already holds that sequence or a later one.
    pub skipped: AtomicU64,
    /// Messages JetStream reported as duplicates (another feed sent them first).
    pub duplicates: AtomicU64,
    /// Publishes retried after a failure (NATS unreachable, no ack in time).
    pub retries: AtomicU64,
}

/// Publishes one shard's messages.
pub struct Publisher {
    js: jetstream::Context,
    shard: Shard,
    /// Last exchange sequence stored, per subject (read from the stream on first use).
    last: HashMap<String, u64>,
    counters: Arc<PublishCounters>,
    retry_max: Duration,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("shard", &self.shard)
            .finish_non_exhaustive()
    }
}

/// Connects to NATS (`url`: `nats://host:4222`, several comma-separated for a cluster),
/// retrying the first connection too and reconnecting for ever after.
pub async fn connect(url: &str, name: &str) -> Result<async_nats::Client, FeedError> {
    async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| FeedError::Nats {
            what: format!("connecting to {url}"),
            detail: e.to_string(),
        })
}

impl Publisher {
    /// A publisher for `shard` on `client`; creates the shard's streams or brings their
    /// limits to `retention`.
    pub async fn new(
        client: async_nats::Client,
        shard: Shard,
        retention: &Retention,
    ) -> Result<Self, FeedError> {
        let js = jetstream::new(client);
        for config in shard.streams(retention) {
            let name = config.name.clone();
            js.create_or_update_stream(config)
                .await
                .map_err(|e| FeedError::Nats {
                    what: format!("creating stream {name}"),
                    detail: e.to_string(),
                })?;
        }
        Ok(Self {
            js,
            shard,
            last: HashMap::new(),
            counters: Arc::new(PublishCounters::default()),
            retry_max: Duration::from_secs(5),
        })
    }

    /// Counters for /metrics.
    pub fn counters(&self) -> Arc<PublishCounters> {
        Arc::clone(&self.counters)
    }

    /// The shard.
    pub fn shard(&self) -> &Shard {
        &self.shard
    }

    /// The last sequence stored on `subject` (0: none), asked of the stream once.
    pub async fn last_sequence(&mut self, subject: &str) -> Result<u64, FeedError> {
        if let Some(seq) = self.last.get(subject) {
            return Ok(*seq);
        }
        let stream_name = self.shard.stream_of(subject);
        let mut wait = Duration::from_millis(50);
        let seq = loop {
            let found = async {
                let stream = self.js.get_stream(&stream_name).await.map_err(|e| e.to_string())?;
                match stream.get_last_raw_message_by_subject(subject).await {
                    Ok(m) => FeedMessage::decode(&m.payload)
                        .map(|m| Some(m.sequence()))
                        .map_err(|e| e.to_string()),
                    Err(e)
                        if e.kind()
                            == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
            .await;
            match found {
                Ok(seq) => break seq.unwrap_or(0),
                Err(detail) => {
                    tracing::warn!(subject, error = %detail, "cannot read the last stored message, retrying");
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(self.retry_max);
                }
            }
        };
        self.last.insert(subject.to_owned(), seq);
        Ok(seq)
    }

    /// Stores `message` once: skipped when its subject already holds its sequence or a
    /// later one; else published with `Nats-Msg-Id` and retried (same id) until
    /// JetStream acknowledges it. Returns whether it was sent.
    pub async fn publish(&mut self, message: &FeedMessage) -> Result<bool, FeedError> {
        let subject = message.subject(&self.shard)?;
        let sequence = message.sequence();
        if sequence <= self.last_sequence(&subject).await? {
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(false);
        }
        let id = FeedMessage::msg_id(&subject, sequence);
        let payload = message.encode();
        let mut wait = Duration::from_millis(50);
        loop {
            let publish = PublishMessage::build()
                .message_id(id.as_str())
                .payload(payload.clone().into());
            let acked = match self.js.send_publish(subject.clone(), publish).await {
                Ok(ack) => ack.await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match acked {
                Ok(ack) => {
                    if ack.duplicate {
                        self.counters.duplicates.fetch_add(1, Ordering::Relaxed);
                    } else {
                        self.counters.published.fetch_add(1, Ordering::Relaxed);
                    }
                    self.last.insert(subject, sequence);
                    return Ok(true);
                }
                Err(detail) => {
                    tracing::warn!(%subject, sequence, error = %detail, "publish not acknowledged, retrying");
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(self.retry_max);
                }
            }
        }
    }
}

impl Sink for Publisher {
    async fn send(&mut self, message: &FeedMessage) -> Result<(), FeedError> {
        self.publish(message).await.map(|_| ())
    }
}
