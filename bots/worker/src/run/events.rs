//! Events out: orders, fills, halts and errors as JSON, on stdout by default and to the
//! bot's Service Bus topic (REST, batched, retried) when configured.
//!
//! An event is one flat JSON object: `id`, `ts`, `bot`, `kind`, then the fields of
//! `data` (money and prices as decimal strings). The `id` is deterministic in the bot and
//! a sequence number the runtime persists, so a replay after a crash re-sends the same
//! Service Bus `MessageId` and the topic's duplicate detection drops it.

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use reqwest::{StatusCode, Url};
use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// The worker started trading.
    Started,
    /// An order was sent to the venue.
    OrderSubmitted,
    /// The venue accepted an order.
    OrderAccepted,
    /// Risk checks or the venue refused an order.
    OrderRejected,
    /// An order was canceled.
    OrderCanceled,
    /// An order (partially) filled.
    Fill,
    /// Trading halted (risk kill switch, lost lease, ...).
    Halted,
    /// Trading resumed.
    Resumed,
    /// Something went wrong.
    Error,
    /// The worker stopped.
    Stopped,
}

impl EventKind {
    /// The wire spelling, e.g. `OrderSubmitted`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Started => "Started",
            EventKind::OrderSubmitted => "OrderSubmitted",
            EventKind::OrderAccepted => "OrderAccepted",
            EventKind::OrderRejected => "OrderRejected",
            EventKind::OrderCanceled => "OrderCanceled",
            EventKind::Fill => "Fill",
            EventKind::Halted => "Halted",
            EventKind::Resumed => "Resumed",
            EventKind::Error => "Error",
            EventKind::Stopped => "Stopped",
        }
    }
}

/// One event. Serializes as a flat object: `data`'s fields sit next to `id`, `ts`,
/// `bot` and `kind` (a non-object `data` goes under `"data"`).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Unique and deterministic in (bot, sequence); the Service Bus `MessageId`.
    pub id: String,
    /// When, RFC 3339 UTC.
    pub ts: String,
    /// `namespace/name` of the TradingBot.
    pub bot: String,
    /// What happened.
    pub kind: EventKind,
    /// Details; money and prices as decimal strings, never floats.
    pub data: Value,
}

const RESERVED: [&str; 4] = ["id", "ts", "bot", "kind"];
/// Service Bus' limit on a `MessageId`.
const MAX_MESSAGE_ID: usize = 128;

impl Event {
    /// An event stamped now, with the id [`Event::id_for`]`(bot, sequence)`.
    pub fn new(bot: &str, sequence: u64, kind: EventKind, data: Value) -> Self {
        let now = k8s_openapi::jiff::Timestamp::now()
            .round(k8s_openapi::jiff::Unit::Millisecond)
            .unwrap_or_else(|_| k8s_openapi::jiff::Timestamp::now());
        Event {
            id: Self::id_for(bot, sequence),
            ts: now.to_string(),
            bot: bot.to_owned(),
            kind,
            data,
        }
    }

    /// `{bot}/{sequence}`; bot names too long for a `MessageId` are replaced by a hash.
    pub fn id_for(bot: &str, sequence: u64) -> String {
        let id = format!("{bot}/{sequence}");
        if id.len() <= MAX_MESSAGE_ID {
            return id;
        }
        // FNV-1a: stable across versions and platforms (unlike std's hasher).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in bot.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}/{sequence}")
    }

    /// The event as one JSON line (no trailing newline).
    pub fn to_json(&self) -> String {
        // Serializing strings and JSON values cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("ts", &self.ts)?;
        m.serialize_entry("bot", &self.bot)?;
        m.serialize_entry("kind", &self.kind)?;
        match &self.data {
            Value::Object(fields) => {
                for (k, v) in fields {
                    // The envelope's keys win; a clashing detail keeps a prefixed name.
                    if RESERVED.contains(&k.as_str()) {
                        m.serialize_entry(&format!("data_{k}"), v)?;
                    } else {
                        m.serialize_entry(k, v)?;
                    }
                }
            }
            Value::Null => {}
            other => m.serialize_entry("data", other)?,
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut m = Map::deserialize(d)?;
        let mut take = |k: &str| match m.remove(k) {
            Some(Value::String(s)) => Ok(s),
            _ => Err(D::Error::custom(format!("event without a string `{k}`"))),
        };
        let (id, ts, bot) = (take("id")?, take("ts")?, take("bot")?);
        let kind = m
            .remove("kind")
            .ok_or_else(|| D::Error::custom("event without `kind`"))
            .and_then(|k| serde_json::from_value(k).map_err(D::Error::custom))?;
        let data = match m.remove("data") {
            Some(d) if m.is_empty() => d,
            Some(d) => {
                m.insert("data".into(), d);
                Value::Object(m)
            }
            None if m.is_empty() => Value::Null,
            None => Value::Object(m),
        };
        Ok(Event {
            id,
            ts,
            bot,
            kind,
            data,
        })
    }
}

/// Why events could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// `flush` gave up with events still unsent.
    #[error("event flush timed out with {pending} events unsent")]
    FlushTimeout {
        /// Events queued or in flight.
        pending: usize,
    },
    /// Service Bus refused a batch for good (not retried); the batch is lost.
    #[error("Service Bus refused {events} events with HTTP {status}: {message}")]
    Rejected {
        /// Events in the refused batch.
        events: usize,
        /// HTTP status.
        status: u16,
        /// The service's error text (never our credentials).
        message: String,
    },
    /// The Service Bus endpoint or topic is unusable.
    #[error("Service Bus endpoint {endpoint}: {reason}")]
    Endpoint {
        /// The endpoint as configured.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Writing to the output failed.
    #[error("writing events: {0}")]
    Io(#[from] std::io::Error),
}

/// The future [`EventSink::flush`] returns.
pub type FlushFuture<'a> = Pin<Box<dyn Future<Output = Result<(), EventError>> + Send + 'a>>;

/// Where events go. `publish` never blocks on the network; `flush` waits for delivery.
pub trait EventSink: Send + Sync {
    /// Queues (or writes) one event.
    fn publish(&self, event: Event);
    /// Waits until everything published so far is delivered, or the sink's deadline.
    fn flush(&self) -> FlushFuture<'_>;
}

/// One JSON line per event on stdout (or an injected writer); lines never interleave.
pub struct StdoutSink {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

impl StdoutSink {
    /// Writes to the process's stdout.
    pub fn new() -> Self {
        Self::with_writer(Box::new(std::io::stdout()))
    }

    /// Writes to `out` (tests capture events this way).
    pub fn with_writer(out: Box<dyn Write + Send>) -> Self {
        StdoutSink {
            out: Mutex::new(out),
        }
    }

    fn out(&self) -> MutexGuard<'_, Box<dyn Write + Send>> {
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl EventSink for StdoutSink {
    fn publish(&self, event: Event) {
        let mut line = event.to_json();
        line.push('\n');
        // One write of the whole line under the lock: concurrent publishers never mix.
        let mut out = self.out();
        if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
            tracing::warn!(%e, id = %event.id, "cannot write event to stdout");
        }
    }

    fn flush(&self) -> FlushFuture<'_> {
        Box::pin(async move { Ok(self.out().flush()?) })
    }
}

/// Publishes every event to several sinks (e.g. stdout and Service Bus).
pub struct Fanout {
    sinks: Vec<Arc<dyn EventSink>>,
}

impl Fanout {
    /// Publishes to each of `sinks`, in order.
    pub fn new(sinks: Vec<Arc<dyn EventSink>>) -> Self {
        Fanout { sinks }
    }
}

impl EventSink for Fanout {
    fn publish(&self, event: Event) {
        if let Some((last, rest)) = self.sinks.split_last() {
            for s in rest {
                s.publish(event.clone());
            }
            last.publish(event);
        }
    }

    fn flush(&self) -> FlushFuture<'_> {
        Box::pin(async move {
            let mut first = Ok(());
            for s in &self.sinks {
                let r = s.flush().await;
                if first.is_ok() {
                    first = r;
                }
            }
            first
        })
    }
}

/// Media type of a Service Bus REST batch.
pub const BATCH_CONTENT_TYPE: &str = "application/vnd.microsoft.servicebus.json";
/// Token scope of Service Bus in Azure's public cloud.
pub const SERVICE_BUS_SCOPE: &str = "https://servicebus.azure.net/.default";

/// Service Bus sink settings.
#[derive(Clone, Debug)]
pub struct ServiceBusConfig {
    /// Namespace endpoint, e.g. `https://ns.servicebus.windows.net/`.
    pub endpoint: Url,
    /// The bot's topic.
    pub topic: String,
    /// Token scope (sovereign clouds and tests differ).
    pub scope: String,
    /// Most events per request.
    pub max_batch: usize,
    /// How long the first event of a batch waits for company.
    pub linger: Duration,
    /// Most events queued; beyond it the oldest are dropped.
    pub queue_capacity: usize,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// First retry delay when the service gives no `Retry-After`.
    pub initial_backoff: Duration,
    /// Longest retry delay (also caps `Retry-After`).
    pub max_backoff: Duration,
    /// How long `flush` waits.
    pub flush_timeout: Duration,
}

impl ServiceBusConfig {
    /// Defaults: batches of 100 or 500 ms, 10,000 queued, retries from 200 ms to 30 s,
    /// flush within 10 s.
    pub fn new(endpoint: Url, topic: impl Into<String>) -> Self {
        ServiceBusConfig {
            endpoint,
            topic: topic.into(),
            scope: SERVICE_BUS_SCOPE.into(),
            max_batch: 100,
            linger: Duration::from_millis(500),
            queue_capacity: 10_000,
            request_timeout: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            flush_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Default)]
struct Queue {
    events: VecDeque<Event>,
    in_flight: usize,
    dropped: u64,
    /// Inside a burst of drops (warned once).
    dropping: bool,
    flush_requested: bool,
    /// The last batch Service Bus refused for good, reported by the next `flush`.
    rejected: Option<EventError>,
}

struct Shared {
    config: ServiceBusConfig,
    url: Url,
    queue: Mutex<Queue>,
    /// New events or a flush request.
    work: Notify,
    /// A batch finished (sent or given up).
    progress: Notify,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sends events to a Service Bus topic from a background task (see [`ServiceBusConfig`]).
pub struct ServiceBusSink {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl ServiceBusSink {
    /// Starts the sender task (call inside a Tokio runtime). `http` should come from the
    /// provisioner's transport (`tradewind_azure::transport::http_client`).
    pub fn start(
        config: ServiceBusConfig,
        credential: Arc<dyn TokenCredential>,
        http: reqwest::Client,
    ) -> Result<Self, EventError> {
        let bad = |reason: &str| EventError::Endpoint {
            endpoint: config.endpoint.to_string(),
            reason: reason.into(),
        };
        if !matches!(config.endpoint.scheme(), "https" | "http") {
            return Err(bad("not an http(s) URL"));
        }
        if config.topic.is_empty() || config.topic.contains(['/', '?', '#']) {
            return Err(bad("invalid topic name"));
        }
        let mut base = config.endpoint.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let url = base
            .join(&format!("{}/messages", config.topic))
            .map_err(|e| bad(&e.to_string()))?;
        let shared = Arc::new(Shared {
            config,
            url,
            queue: Mutex::new(Queue::default()),
            work: Notify::new(),
            progress: Notify::new(),
        });
        let task = tokio::spawn(sender(shared.clone(), credential, http));
        Ok(ServiceBusSink { shared, task })
    }

    /// Events dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.queue().dropped
    }
}

impl Drop for ServiceBusSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EventSink for ServiceBusSink {
    fn publish(&self, event: Event) {
        {
            let mut q = self.shared.queue();
            if q.events.len() >= self.shared.config.queue_capacity.max(1) {
                q.events.pop_front();
                q.dropped += 1;
                if !q.dropping {
                    q.dropping = true;
                    tracing::warn!(
                        capacity = self.shared.config.queue_capacity,
                        "Service Bus event queue full; dropping the oldest events"
                    );
                }
            }
            q.events.push_back(event);
        }
        self.shared.work.notify_one();
    }

    fn flush(&self) -> FlushFuture<'_> {
        Box::pin(async move {
            let deadline = Instant::now() + self.shared.config.flush_timeout;
            loop {
                let progress = self.shared.progress.notified();
                tokio::pin!(progress);
                progress.as_mut().enable();
                {
                    let mut q = self.shared.queue();
                    if q.events.is_empty() && q.in_flight == 0 {
                        q.flush_requested = false;
                        return q.rejected.take().map_or(Ok(()), Err);
                    }
                    q.flush_requested = true;
                }
                self.shared.work.notify_one();
                tokio::select! {
                    () = progress => {}
                    () = tokio::time::sleep_until(deadline) => {
                        let q = self.shared.queue();
                        return Err(EventError::FlushTimeout {
                            pending: q.events.len() + q.in_flight,
                        });
                    }
                }
            }
        })
    }
}

/// The sender loop: gather a batch, send it with retries, repeat.
async fn sender(shared: Arc<Shared>, credential: Arc<dyn TokenCredential>, http: reqwest::Client) {
    let cfg = &shared.config;
    loop {
        // Wait for the first event.
        loop {
            let work = shared.work.notified();
            if !shared.queue().events.is_empty() {
                break;
            }
            work.await;
        }
        // Let a batch fill up, unless a flush is waiting.
        let linger_until = Instant::now() + cfg.linger;
        loop {
            let work = shared.work.notified();
            {
                let q = shared.queue();
                if q.events.len() >= cfg.max_batch || q.flush_requested {
                    break;
                }
            }
            tokio::select! {
                () = work => {}
                () = tokio::time::sleep_until(linger_until) => break,
            }
        }
        let batch: Vec<Event> = {
            let mut q = shared.queue();
            let n = q.events.len().min(cfg.max_batch.max(1));
            let batch: Vec<Event> = q.events.drain(..n).collect();
            q.in_flight = batch.len();
            if q.dropping && q.events.len() < cfg.queue_capacity {
                q.dropping = false;
                tracing::warn!(
                    dropped_total = q.dropped,
                    "Service Bus event queue has room again"
                );
            }
            batch
        };
        let result = send_with_retries(&shared, credential.as_ref(), &http, &batch).await;
        {
            let mut q = shared.queue();
            q.in_flight = 0;
            if let Err(e) = result {
                tracing::error!(error = %e, "Service Bus batch dropped");
                q.rejected = Some(e);
            }
        }
        shared.progress.notify_waiters();
    }
}

/// The REST batch body for `events`.
fn batch_body(events: &[Event]) -> String {
    let items: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "Body": e.to_json(),
                "BrokerProperties": {"MessageId": e.id, "ContentType": "application/json"},
                "UserProperties": {"kind": e.kind.as_str(), "bot": e.bot},
            })
        })
        .collect();
    Value::Array(items).to_string()
}

/// Sends one batch; retries 408, 429, 5xx, timeouts and connection errors forever (the
/// queue bound and `flush`'s deadline limit the damage); gives up on other refusals.
async fn send_with_retries(
    shared: &Shared,
    credential: &dyn TokenCredential,
    http: &reqwest::Client,
    batch: &[Event],
) -> Result<(), EventError> {
    let cfg = &shared.config;
    let body = batch_body(batch);
    let mut backoff = cfg.initial_backoff;
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let wait = match credential.get_token(&[cfg.scope.as_str()], None).await {
            Err(e) => {
                // The credential's errors name the method, never the secret.
                tracing::warn!(attempt, error = %e, "Service Bus token request failed; retrying");
                None
            }
            Ok(token) => {
                let sent = http
                    .post(shared.url.clone())
                    .bearer_auth(token.token.secret())
                    .header(reqwest::header::CONTENT_TYPE, BATCH_CONTENT_TYPE)
                    .timeout(cfg.request_timeout)
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => return Ok(()),
                    Ok(r) if retryable(r.status()) => {
                        let after = retry_after(&r);
                        tracing::warn!(
                            attempt,
                            status = r.status().as_u16(),
                            "Service Bus busy; retrying"
                        );
                        after
                    }
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let text = r.text().await.unwrap_or_default();
                        return Err(EventError::Rejected {
                            events: batch.len(),
                            status,
                            message: text.chars().take(300).collect(),
                        });
                    }
                    Err(e) => {
                        // reqwest's error without the URL's query (there is none) or headers.
                        tracing::warn!(attempt, error = %e.without_url(), "Service Bus request failed; retrying");
                        None
                    }
                }
            }
        };
        let delay = wait.unwrap_or(backoff).min(cfg.max_backoff);
        tokio::time::sleep(delay).await;
        backoff = (backoff * 2).min(cfg.max_backoff);
    }
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// `Retry-After` in seconds (the form Service Bus and ARM use).
fn retry_after(r: &reqwest::Response) -> Option<Duration> {
    r.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use tradewind_azure::arm::id::ResourceId;
    use tradewind_azure::transport::http_client;
    use tradewind_azure_fake::{DEFAULT_CLIENT_SECRET, TestServer};

    const SUB: &str = "00000000-1111-2222-3333-444444444444";

    /// A writer tests can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn fill(seq: u64) -> Event {
        Event::new(
            "trading/btc-bot",
            seq,
            EventKind::Fill,
            json!({"symbol": "BTCUSDT", "side": "buy", "price": "64000.10", "quantity": "0.001", "seq": seq}),
        )
    }

    #[test]
    fn events_are_flat_json_with_deterministic_ids() {
        let e = fill(7);
        assert_eq!(e.id, "trading/btc-bot/7");
        assert_eq!(Event::id_for("trading/btc-bot", 7), e.id);
        assert!(e.ts.ends_with('Z') && e.ts.contains('T'), "{}", e.ts);
        let v: Value = serde_json::from_str(&e.to_json()).expect("json");
        assert_eq!(v["kind"], "Fill");
        assert_eq!(v["bot"], "trading/btc-bot");
        assert_eq!(v["price"], "64000.10", "money stays a decimal string");
        assert!(v.get("data").is_none(), "flat: {v}");
        let back: Event = serde_json::from_value(v).expect("round trip");
        assert_eq!(back, e);
        let long = "n".repeat(300);
        let id = Event::id_for(&long, 42);
        assert!(id.len() <= MAX_MESSAGE_ID && id.ends_with("/42"), "{id}");
        assert_eq!(id, Event::id_for(&long, 42));
        assert_ne!(id, Event::id_for(&format!("{long}x"), 42));
    }

    #[test]
    fn stdout_sink_writes_whole_lines_even_from_many_threads() {
        let out = Captured::default();
        let sink = Arc::new(StdoutSink::with_writer(Box::new(out.clone())));
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        sink.publish(fill(t * 1000 + i));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf8");
        let mut ids: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Event>(l)
                    .expect("each line is one event")
                    .id
            })
            .collect();
        assert_eq!(ids.len(), 800);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 800);
    }

    struct Azure {
        fake: TestServer,
        credential: Arc<dyn TokenCredential>,
        http: reqwest::Client,
    }

    impl Azure {
        /// The fake with a namespace `twbus`, topic `events` and subscription `all`.
        async fn start() -> Self {
            let fake = TestServer::start().expect("fake");
            let azure = fake.connection();
            let arm = fake.arm_client();
            let rg = ResourceId::resource_group(SUB, "rg");
            arm.put(&rg, &json!({"location": "westeurope"}))
                .await
                .expect("rg");
            let ns = rg.provider("Microsoft.ServiceBus", "namespaces", "twbus");
            arm.put(&ns, &json!({"location": "westeurope"}))
                .await
                .expect("ns");
            let topic = ns.child("topics", "events");
            arm.put(&topic, &json!({})).await.expect("topic");
            arm.put(&topic.child("subscriptions", "all"), &json!({}))
                .await
                .expect("subscription");
            let http = http_client(&azure.transport).expect("http");
            Azure {
                fake,
                credential: azure.credential,
                http,
            }
        }

        fn config(&self) -> ServiceBusConfig {
            let mut c = ServiceBusConfig::new(
                Url::parse(&self.fake.servicebus_url("twbus")).expect("url"),
                "events",
            );
            c.linger = Duration::from_millis(20);
            c.initial_backoff = Duration::from_millis(10);
            c
        }

        async fn token(&self) -> String {
            self.credential
                .get_token(&[SERVICE_BUS_SCOPE], None)
                .await
                .expect("token")
                .token
                .secret()
                .to_owned()
        }

        /// Receives (and deletes) everything in the subscription: (MessageId, body).
        async fn receive_all(&self) -> Vec<(String, Event)> {
            let token = self.token().await;
            let head = format!(
                "{}events/subscriptions/all/messages/head?timeout=1",
                self.fake.servicebus_url("twbus")
            );
            let mut out = Vec::new();
            loop {
                let r = self
                    .http
                    .delete(&head)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("receive");
                if r.status() == StatusCode::NO_CONTENT {
                    return out;
                }
                assert_eq!(r.status(), StatusCode::OK);
                let bp: Value =
                    serde_json::from_str(r.headers()["brokerproperties"].to_str().expect("header"))
                        .expect("broker properties");
                let body = r.text().await.expect("body");
                out.push((
                    bp["MessageId"].as_str().expect("MessageId").to_owned(),
                    serde_json::from_str(&body).expect("event body"),
                ));
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn service_bus_receives_every_event_in_order_with_message_ids() {
        let az = Azure::start().await;
        let sink = ServiceBusSink::start(az.config(), az.credential.clone(), az.http.clone())
            .expect("sink");
        let events: Vec<Event> = (0..250).map(fill).collect();
        for e in &events {
            sink.publish(e.clone());
        }
        sink.flush().await.expect("flush delivers the tail");
        assert_eq!(az.fake.queued_messages("twbus", "events", "all"), 250);
        let got = az.receive_all().await;
        assert_eq!(got.len(), 250);
        for ((id, e), want) in got.iter().zip(&events) {
            assert_eq!(id, &want.id);
            assert_eq!(e, want);
        }
        // Batches of at most 100: three POSTs.
        let posts = az
            .fake
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.host.ends_with("servicebus.localhost"))
            .count();
        assert_eq!(posts, 3);
        // Fanout to stdout and Service Bus: both get it, flush covers both.
        let out = Captured::default();
        let stdout: Arc<dyn EventSink> = Arc::new(StdoutSink::with_writer(Box::new(out.clone())));
        let fan = Fanout::new(vec![stdout, Arc::new(sink)]);
        fan.publish(fill(1000));
        fan.flush().await.expect("flush");
        assert_eq!(az.receive_all().await.len(), 1);
        assert_eq!(
            out.0
                .lock()
                .expect("lock")
                .iter()
                .filter(|b| **b == b'\n')
                .count(),
            1
        );
    }

    /// A plain-HTTP stand-in for Service Bus answering from a script, recording bodies.
    struct Scripted {
        url: Url,
        log: Arc<Mutex<Vec<(u16, String, String)>>>,
        _task: tokio::task::JoinHandle<()>,
    }

    impl Scripted {
        /// Answers with `script` in order, then 201 forever.
        async fn start(script: Vec<(u16, Option<&'static str>)>) -> Self {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let log = Arc::new(Mutex::new(Vec::new()));
            let script = Arc::new(Mutex::new(VecDeque::from(script)));
            let (log2, script2) = (log.clone(), script.clone());
            let task = tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let (log, script) = (log2.clone(), script2.clone());
                    tokio::spawn(async move {
                        let svc = hyper::service::service_fn(
                            move |req: hyper::Request<hyper::body::Incoming>| {
                                let (log, script) = (log.clone(), script.clone());
                                async move {
                                    let auth = req
                                        .headers()
                                        .get("authorization")
                                        .and_then(|v| v.to_str().ok())
                                        .unwrap_or("")
                                        .to_owned();
                                    let body = req
                                        .into_body()
                                        .collect()
                                        .await
                                        .map(|b| b.to_bytes())
                                        .unwrap_or_default();
                                    let (status, retry) = script
                                        .lock()
                                        .expect("lock")
                                        .pop_front()
                                        .unwrap_or((201, None));
                                    log.lock().expect("lock").push((
                                        status,
                                        String::from_utf8_lossy(&body).into_owned(),
                                        auth,
                                    ));
                                    let mut r = hyper::Response::new(Full::new(Bytes::from_static(
                                    b"<Error><Code>401</Code><Detail>InvalidSignature</Detail></Error>",
                                )));
                                    *r.status_mut() =
                                        hyper::StatusCode::from_u16(status).expect("status");
                                    if let Some(s) = retry {
                                        r.headers_mut()
                                            .insert("retry-after", s.parse().expect("header"));
                                    }
                                    Ok::<_, Infallible>(r)
                                }
                            },
                        );
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
            Scripted {
                url: Url::parse(&format!("http://{addr}/")).expect("url"),
                log,
                _task: task,
            }
        }

        fn ids(body: &str) -> Vec<String> {
            let v: Value = serde_json::from_str(body).expect("batch");
            v.as_array()
                .expect("array")
                .iter()
                .map(|m| {
                    m["BrokerProperties"]["MessageId"]
                        .as_str()
                        .expect("id")
                        .to_owned()
                })
                .collect()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn busy_and_throttled_answers_are_retried_without_loss_or_duplicates() {
        let az = Azure::start().await;
        let stub = Scripted::start(vec![
            (503, None),
            (503, None),
            (429, Some("0")),
            (500, None),
        ])
        .await;
        let mut cfg = az.config();
        cfg.endpoint = stub.url.clone();
        cfg.max_batch = 10;
        let sink =
            ServiceBusSink::start(cfg, az.credential.clone(), az.http.clone()).expect("sink");
        let events: Vec<Event> = (0..35).map(fill).collect();
        for e in &events {
            sink.publish(e.clone());
        }
        sink.flush().await.expect("flush");
        let log = stub.log.lock().expect("lock").clone();
        assert_eq!(log.iter().filter(|(s, ..)| *s != 201).count(), 4);
        // Every failed attempt was re-sent with the same MessageIds.
        let mut delivered = Vec::new();
        let mut pending: Option<Vec<String>> = None;
        for (status, body, _) in &log {
            let ids = Scripted::ids(body);
            if let Some(p) = pending.take() {
                assert_eq!(p, ids, "a retry re-sends the same batch");
            }
            if *status == 201 {
                delivered.extend(ids);
            } else {
                pending = Some(ids);
            }
        }
        let want: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
        assert_eq!(delivered, want, "all delivered once, in order");
        assert_eq!(sink.dropped(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_batch_is_reported_without_any_secret() {
        let az = Azure::start().await;
        let stub = Scripted::start(vec![(401, None)]).await;
        let mut cfg = az.config();
        cfg.endpoint = stub.url.clone();
        let sink =
            ServiceBusSink::start(cfg, az.credential.clone(), az.http.clone()).expect("sink");
        sink.publish(fill(1));
        let err = sink.flush().await.expect_err("refused");
        assert!(
            matches!(
                err,
                EventError::Rejected {
                    status: 401,
                    events: 1,
                    ..
                }
            ),
            "{err}"
        );
        let token = az.token().await;
        let (_, body, auth) = stub.log.lock().expect("lock")[0].clone();
        assert_eq!(
            auth,
            format!("Bearer {token}"),
            "the token went only into the header"
        );
        for text in [err.to_string(), format!("{err:?}"), body] {
            assert!(!text.contains(&token), "{text}");
            assert!(!text.contains(DEFAULT_CLIENT_SECRET), "{text}");
        }
        // The next flush is clean.
        sink.flush().await.expect("nothing pending");
    }

    #[tokio::test]
    async fn a_full_queue_drops_the_oldest_and_counts_them() {
        let az = Azure::start().await;
        let mut cfg = az.config();
        cfg.queue_capacity = 5;
        let sink =
            ServiceBusSink::start(cfg, az.credential.clone(), az.http.clone()).expect("sink");
        // On this single-threaded runtime the sender cannot run between these publishes.
        for seq in 0..20 {
            sink.publish(fill(seq));
        }
        assert_eq!(sink.dropped(), 15);
        sink.flush().await.expect("flush");
        let got: Vec<String> = az
            .receive_all()
            .await
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let want: Vec<String> = (15..20).map(|s| fill(s).id).collect();
        assert_eq!(got, want, "the newest five survive");
    }
}
