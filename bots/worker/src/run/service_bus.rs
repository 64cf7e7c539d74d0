//! The Service Bus event sink: a session's events to the bot's topic over Service Bus'
//! REST API (batched, retried, with an Entra token), each message's `MessageId` the
//! event's id, so the topic's duplicate detection drops a re-published event.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::events::{Delivery, Event, EventError, EventSink, FlushFuture, json_line};

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
    delivery: Delivery,
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
            delivery: Delivery::default(),
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
    fn publish(&self, event: &Event) {
        {
            let mut q = self.shared.queue();
            if q.events.len() >= self.shared.config.queue_capacity.max(1) {
                q.events.pop_front();
                q.dropped += 1;
                self.shared.delivery.lost();
                if !q.dropping {
                    q.dropping = true;
                    tracing::warn!(
                        capacity = self.shared.config.queue_capacity,
                        "Service Bus event queue full; dropping the oldest events"
                    );
                }
            }
            q.events.push_back(event.clone());
        }
        self.shared.work.notify_one();
    }

    fn delivered(&self) -> u64 {
        self.shared.delivery.next()
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
            match result {
                Ok(()) => {
                    if let Some(last) = batch.last() {
                        shared.delivery.arrived(last);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "Service Bus batch dropped");
                    shared.delivery.lost();
                    q.rejected = Some(e);
                }
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
                "Body": json_line(e).trim_end(),
                "BrokerProperties": {"MessageId": e.id, "ContentType": "application/json"},
                "UserProperties": {"kind": e.kind(), "bot": e.bot, "version": e.version},
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

    use crate::run::events::tests::{Captured, fill};
    use crate::run::events::{Fanout, StdoutSink};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use tradewind_azure::arm::id::ResourceId;
    use tradewind_azure::transport::http_client;
    use tradewind_azure_fake::{DEFAULT_CLIENT_SECRET, TestServer};

    const SUB: &str = "00000000-1111-2222-3333-444444444444";

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
            sink.publish(e);
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
        fan.publish(&fill(1000));
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
            sink.publish(e);
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
        sink.publish(&fill(1));
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
            sink.publish(&fill(seq));
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
