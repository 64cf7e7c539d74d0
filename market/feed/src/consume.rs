//! Reading a subject of a shard: an ordered JetStream consumer (ephemeral, no acks,
//! recreated by the client from the last stream sequence it delivered when the server
//! restarts or a message is missed), so each subscriber reads at its own pace and a
//! slow one never holds back another. Messages at or before the last exchange sequence
//! delivered are dropped, so a start that overlaps what the subscriber already has
//! never delivers a fact twice.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull::OrderedConfig};
use futures_util::StreamExt;
use tradewind_core::data::UnixNanos;

use crate::FeedError;
use crate::message::FeedMessage;
use crate::subject::Shard;

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Only messages stored from now on.
    New,
    /// Everything the stream still holds.
    All,
    /// After the exchange sequence `sequence`, which the subscriber already has; the
    /// stream is read from messages stored since `since` (ns since the epoch: the
    /// exchange time of that last fact, less a margin for clock skew) and everything up
    /// to `sequence` is dropped.
    After {
        /// The last sequence the subscriber has.
        sequence: u64,
        /// Stored-time to start reading from.
        since: UnixNanos,
    },
}

/// One delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The message.
    pub message: FeedMessage,
    /// Its sequence in the JetStream stream.
    pub stream_sequence: u64,
}

/// A subscription to one subject.
pub struct Subscription {
    js: jetstream::Context,
    stream_name: String,
    subject: String,
    messages: jetstream::consumer::pull::Ordered,
    /// Last exchange sequence delivered.
    last: u64,
    /// Stream sequence of the last message read (0: none yet).
    stream_sequence: u64,
    /// Where the first consumer started (used again while nothing was read).
    start: DeliverPolicy,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("subject", &self.subject)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

/// How long a subscriber waits, at most, between two looks for a stream not yet created
/// (the feed creates it when it starts).
const STREAM_WAIT_MAX: Duration = Duration::from_secs(5);

impl Subscription {
    /// Subscribes to `subject` of `shard`, waiting for its stream to exist.
    pub async fn new(
        client: async_nats::Client,
        shard: &Shard,
        subject: &str,
        start: Start,
    ) -> Result<Self, FeedError> {
        let js = jetstream::new(client);
        let stream_name = shard.stream_of(subject);
        let mut wait = Duration::from_millis(50);
        let stream = loop {
            match js.get_stream(&stream_name).await {
                Ok(s) => break s,
                Err(e) => {
                    tracing::info!(stream = %stream_name, error = %e, "waiting for the market-data stream");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(STREAM_WAIT_MAX);
                }
            }
        };
        let (deliver_policy, last) = match start {
            Start::New => (DeliverPolicy::New, 0),
            Start::All => (DeliverPolicy::All, 0),
            Start::After { sequence, since } => {
                let start_time = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(since))
                    .map_err(|e| FeedError::Nats {
                        what: format!("start time {since}"),
                        detail: e.to_string(),
                    })?;
                (DeliverPolicy::ByStartTime { start_time }, sequence)
            }
        };
        drop(stream);
        let messages = consumer(&js, &stream_name, subject, deliver_policy).await?;
        Ok(Self {
            js,
            stream_name,
            subject: subject.to_owned(),
            messages,
            last,
            stream_sequence: 0,
            start: deliver_policy,
        })
    }

    /// A new ordered consumer after the last message read (the server lost the old
    /// one: a restart), retried until the server answers.
    async fn recreate(&mut self, why: &str) {
        tracing::warn!(subject = %self.subject, stream_sequence = self.stream_sequence, error = why,
            "market-data consumer lost, recreating it after the last message read");
        let policy = if self.stream_sequence == 0 {
            self.start
        } else {
            DeliverPolicy::ByStartSequence {
                start_sequence: self.stream_sequence + 1,
            }
        };
        let mut wait = Duration::from_millis(50);
        loop {
            match consumer(&self.js, &self.stream_name, &self.subject, policy).await {
                Ok(m) => {
                    self.messages = m;
                    return;
                }
                Err(e) => {
                    tracing::warn!(subject = %self.subject, error = %e, "recreating the consumer failed, retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(STREAM_WAIT_MAX);
                }
            }
        }
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The next message after the last one delivered (in exchange sequence). A message
    /// that does not decode is an error naming the subject and stream sequence.
    pub async fn next(&mut self) -> Result<Delivered, FeedError> {
        loop {
            let message = match self.messages.next().await {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    self.recreate(&e.to_string()).await;
                    continue;
                }
                None => return Err(FeedError::Closed),
            };
            let stream_sequence = message.info().map(|i| i.stream_sequence).unwrap_or(0);
            self.stream_sequence = self.stream_sequence.max(stream_sequence);
            let decoded = FeedMessage::decode(&message.payload).map_err(|e| FeedError::Decode {
                subject: self.subject.clone(),
                stream_sequence,
                source: e,
            })?;
            let sequence = decoded.sequence();
            if sequence <= self.last {
                continue;
            }
            self.last = sequence;
            return Ok(Delivered {
                message: decoded,
                stream_sequence,
            });
        }
    }
}

async fn consumer(
    js: &jetstream::Context,
    stream_name: &str,
    subject: &str,
    deliver_policy: DeliverPolicy,
) -> Result<jetstream::consumer::pull::Ordered, FeedError> {
    let nats = |what: String| {
        move |e: &dyn std::fmt::Display| FeedError::Nats {
            what,
            detail: e.to_string(),
        }
    };
    let stream = js
        .get_stream(stream_name)
        .await
        .map_err(|e| nats(format!("opening stream {stream_name}"))(&e))?;
    stream
        .create_consumer(OrderedConfig {
            filter_subject: subject.to_owned(),
            deliver_policy,
            ..Default::default()
        })
        .await
        .map_err(|e| nats(format!("creating a consumer of {subject}"))(&e))?
        .messages()
        .await
        .map_err(|e| nats(format!("reading {subject}"))(&e))
}

/// How many messages the stream `name` holds now (for probes, metrics and tests).
pub async fn stored_messages(client: async_nats::Client, name: &str) -> Result<u64, FeedError> {
    let js = jetstream::new(client);
    let nats = |e: &dyn std::fmt::Display| FeedError::Nats {
        what: format!("reading stream {name}"),
        detail: e.to_string(),
    };
    let mut stream = js.get_stream(name).await.map_err(|e| nats(&e))?;
    Ok(stream.info().await.map_err(|e| nats(&e))?.state.messages)
}
