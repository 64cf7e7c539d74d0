//! The platform recorder: sends the session's events to the platform's ingest
//! (`tradewind_ingest`'s contract) in batches, with the worker's projected ServiceAccount
//! token, at least once, and keeps the *acknowledged cursor*: every event below it was
//! confirmed by the platform. The session journals the cursor
//! ([`Record::Acknowledged`](super::record::Record::Acknowledged)); after a restart the
//! journal rebuilds the events from it and the recorder sends them again (same ids, same
//! content: the platform counts them as duplicates).
//!
//! The backlog (events not yet confirmed) is bounded: it is rebuilt from the journal on
//! disk after a restart, and held in memory meanwhile, so [`RecorderConfig::max_backlog`]
//! bounds both. At the bound the session stops trading new bars (nothing is ever dropped:
//! fills of orders already working are still recorded) and says so in the bot's
//! `Trading` condition and in `/metrics`, until the backlog drains.
//!
//! Failures are retried with exponential back-off and jitter, unless the platform's answer
//! says a retry cannot help (a conflict, an invalid event): then the recorder stops, logs
//! the platform's reason and reports it, and the backlog grows until a person fixes the
//! cause and restarts the worker.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tradewind_events::Event;
use tradewind_ingest::{Answer, Batch, MAX_EVENTS, PATH, Problem};

use super::metrics::WorkerMetrics;

/// Recorder settings.
#[derive(Clone, Debug)]
pub struct RecorderConfig {
    /// Base URL of the platform, e.g. `http://tradewind-platform.tradewind-system.svc:8080`.
    pub url: String,
    /// The projected token, read again for every request (the kubelet rotates it).
    pub token_file: PathBuf,
    /// Most events per request (at most the contract's `MAX_EVENTS`).
    pub max_batch: usize,
    /// Most events not yet confirmed before the session stops trading new bars.
    pub max_backlog: usize,
    /// How long the first event of a batch waits for company.
    pub linger: Duration,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// First retry delay.
    pub initial_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// How long a stop waits for the backlog to drain.
    pub flush_timeout: Duration,
}

impl RecorderConfig {
    /// Defaults: batches of up to 500 events or 200 ms, a backlog of 20,000 events (two
    /// weeks of one-minute bars' snapshots, ~10 MB), retries from 500 ms to 60 s, 5 s to
    /// drain at a stop.
    pub fn new(url: impl Into<String>, token_file: impl Into<PathBuf>) -> Self {
        RecorderConfig {
            url: url.into(),
            token_file: token_file.into(),
            max_batch: 500,
            max_backlog: 20_000,
            linger: Duration::from_millis(200),
            request_timeout: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            flush_timeout: Duration::from_secs(5),
        }
    }
}

/// The recorder's HTTP client: rustls with `ring` and the platform roots, as the venue's.
pub fn http_client() -> Result<reqwest::Client, RecorderError> {
    let client = |reason: String| RecorderError::Client(reason);
    let tls = crate::venue::binance::tls_config().map_err(|e| client(e.to_string()))?;
    let tls = Arc::try_unwrap(tls).unwrap_or_else(|arc| (*arc).clone());
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| client(e.to_string()))
}

/// Why the recorder cannot start or finish.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// The platform URL is unusable.
    #[error("platform URL {url:?}: {reason}")]
    Url {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("the platform's HTTP client: {0}")]
    Client(String),
    /// The platform refused a batch for good.
    #[error("the platform refused events for good: {0}")]
    Refused(Problem),
    /// A stop's flush ran out of time.
    #[error("{pending} events not yet confirmed by the platform at the stop")]
    Pending {
        /// Events still in the backlog.
        pending: usize,
    },
}

#[derive(Default)]
struct State {
    /// Events not yet confirmed, in sequence order.
    backlog: VecDeque<Event>,
    /// Every event below this is confirmed.
    acknowledged: u64,
    /// The last sequence queued (so a replayed event is not queued twice).
    last_queued: Option<u64>,
    /// The platform's refusal that stopped the recorder.
    failed: Option<Problem>,
    flush_requested: bool,
}

struct Shared {
    config: RecorderConfig,
    url: String,
    state: Mutex<State>,
    /// New events or a flush request.
    work: Notify,
    /// A batch was confirmed, or the recorder stopped.
    progress: Notify,
    metrics: Arc<WorkerMetrics>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sends events to the platform from a background task (see [`RecorderConfig`]).
pub struct Recorder {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    /// Starts the sender task (inside a Tokio runtime), sending with `http`.
    pub fn start(
        mut config: RecorderConfig,
        metrics: Arc<WorkerMetrics>,
        http: reqwest::Client,
    ) -> Result<Self, RecorderError> {
        let base = config.url.trim_end_matches('/');
        let parsed = reqwest::Url::parse(base).map_err(|e| RecorderError::Url {
            url: config.url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(RecorderError::Url {
                url: config.url.clone(),
                reason: "not an http(s) URL with a host".into(),
            });
        }
        let url = format!("{base}{PATH}");
        config.max_batch = config.max_batch.clamp(1, MAX_EVENTS);
        config.max_backlog = config.max_backlog.max(1);
        let shared = Arc::new(Shared {
            config,
            url,
            state: Mutex::new(State::default()),
            work: Notify::new(),
            progress: Notify::new(),
            metrics,
        });
        shared.metrics.set_recording(0, None);
        let task = tokio::spawn(sender(shared.clone(), http));
        Ok(Recorder { shared, task })
    }

    /// The cursor journaled before this start: events below it are not sent again.
    pub fn resume_from(&self, next: u64) {
        let mut s = self.shared.state();
        s.acknowledged = s.acknowledged.max(next);
        let acked = s.acknowledged;
        s.backlog.retain(|e| e.sequence >= acked);
        self.shared
            .metrics
            .set_recording(s.backlog.len(), acked.checked_sub(1));
    }

    /// Queues `event` (never blocks, never drops: the bound is enforced by the session,
    /// which stops trading new bars at [`Recorder::full`]).
    pub fn publish(&self, event: &Event) {
        {
            let mut s = self.shared.state();
            if event.sequence < s.acknowledged || s.last_queued.is_some_and(|l| event.sequence <= l)
            {
                return;
            }
            s.last_queued = Some(event.sequence);
            s.backlog.push_back(event.clone());
            let acked = s.acknowledged.checked_sub(1);
            self.shared.metrics.set_recording(s.backlog.len(), acked);
        }
        self.shared.work.notify_one();
    }

    /// Every event below this was confirmed by the platform.
    pub fn acknowledged(&self) -> u64 {
        self.shared.state().acknowledged
    }

    /// Events not yet confirmed.
    pub fn backlog(&self) -> usize {
        self.shared.state().backlog.len()
    }

    /// The most events the backlog may hold.
    pub fn max_backlog(&self) -> usize {
        self.shared.config.max_backlog
    }

    /// The backlog is at its bound: trade no new bars.
    pub fn full(&self) -> bool {
        self.backlog() >= self.shared.config.max_backlog
    }

    /// The platform's refusal that stopped the recorder, if it did.
    pub fn failed(&self) -> Option<Problem> {
        self.shared.state().failed.clone()
    }

    /// Waits until the backlog is confirmed, the recorder stopped, or the flush timeout.
    pub async fn flush(&self) -> Result<(), RecorderError> {
        let deadline = Instant::now() + self.shared.config.flush_timeout;
        loop {
            let progress = self.shared.progress.notified();
            tokio::pin!(progress);
            progress.as_mut().enable();
            {
                let mut s = self.shared.state();
                if let Some(p) = &s.failed {
                    return Err(RecorderError::Refused(p.clone()));
                }
                if s.backlog.is_empty() {
                    s.flush_requested = false;
                    return Ok(());
                }
                s.flush_requested = true;
            }
            self.shared.work.notify_one();
            tokio::select! {
                () = progress => {}
                () = tokio::time::sleep_until(deadline) => {
                    return Err(RecorderError::Pending { pending: self.backlog() });
                }
            }
        }
    }
}

/// How one send ended.
enum Sent {
    Confirmed(Answer),
    /// Try again later (the reason, for the log and the metric's label).
    Retry(&'static str, String),
    /// A retry cannot help.
    Refused(Problem),
}

/// The sender loop: gather a batch, send it until it is confirmed, repeat.
async fn sender(shared: Arc<Shared>, http: reqwest::Client) {
    let cfg = &shared.config;
    let mut backoff = cfg.initial_backoff;
    loop {
        loop {
            let work = shared.work.notified();
            if !shared.state().backlog.is_empty() {
                break;
            }
            work.await;
        }
        let linger_until = Instant::now() + cfg.linger;
        loop {
            let work = shared.work.notified();
            {
                let s = shared.state();
                if s.backlog.len() >= cfg.max_batch || s.flush_requested {
                    break;
                }
            }
            tokio::select! {
                () = work => {}
                () = tokio::time::sleep_until(linger_until) => break,
            }
        }
        // The batch stays in the backlog until confirmed: a crash meanwhile loses nothing.
        let batch: Vec<Event> = shared
            .state()
            .backlog
            .iter()
            .take(cfg.max_batch)
            .cloned()
            .collect();
        let Some(last) = batch.last().map(|e| e.sequence) else {
            continue;
        };
        match send(&shared, &http, batch).await {
            Sent::Confirmed(answer) => {
                backoff = cfg.initial_backoff;
                let mut s = shared.state();
                s.backlog.retain(|e| e.sequence > last);
                s.acknowledged = s.acknowledged.max(last + 1);
                shared.metrics.set_recording(s.backlog.len(), Some(last));
                tracing::debug!(
                    recorded = answer.recorded,
                    duplicates = answer.duplicates,
                    acknowledged = last,
                    "the platform recorded a batch"
                );
            }
            Sent::Retry(reason, message) => {
                shared.metrics.recording_failure(reason);
                let delay = jitter(backoff);
                tracing::warn!(
                    reason,
                    %message,
                    retry_in_ms = delay.as_millis() as u64,
                    backlog = shared.state().backlog.len(),
                    "recording events with the platform failed; retrying"
                );
                tokio::time::sleep(delay).await;
                backoff = (backoff * 2).min(cfg.max_backoff);
            }
            Sent::Refused(problem) => {
                shared.metrics.recording_failure("refused");
                shared.metrics.set_recording_failed(true);
                tracing::error!(
                    code = ?problem.code,
                    event = problem.event_id.as_deref().unwrap_or(""),
                    field = problem.field.as_deref().unwrap_or(""),
                    detail = %problem.detail,
                    "the platform refused events for good; recording stopped (the backlog \
                     is kept: fix the cause and restart the worker)"
                );
                shared.state().failed = Some(problem);
                shared.progress.notify_waiters();
                return;
            }
        }
        shared.progress.notify_waiters();
    }
}

/// `delay` with jitter: uniformly between half and all of it, so many workers restarted
/// together do not retry in step.
fn jitter(delay: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let half = delay / 2;
    let spread = half.as_nanos().max(1);
    half + Duration::from_nanos((u128::from(nanos) % spread) as u64)
}

/// Sends one batch with the current token.
async fn send(shared: &Shared, http: &reqwest::Client, events: Vec<Event>) -> Sent {
    let cfg = &shared.config;
    let token = match std::fs::read_to_string(&cfg.token_file) {
        Ok(t) if !t.trim().is_empty() => t.trim().to_owned(),
        Ok(_) => return Sent::Retry("token", format!("{} is empty", cfg.token_file.display())),
        Err(e) => return Sent::Retry("token", format!("{}: {e}", cfg.token_file.display())),
    };
    let body = match serde_json::to_vec(&Batch { events }) {
        Ok(b) => b,
        Err(e) => return Sent::Retry("encode", e.to_string()),
    };
    let sent = http
        .post(&shared.url)
        .bearer_auth(token)
        .header(
            reqwest::header::CONTENT_TYPE,
            tradewind_ingest::CONTENT_TYPE,
        )
        .timeout(cfg.request_timeout)
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        // Without the URL's query (there is none) and never the headers (the token).
        Err(e) => return Sent::Retry("network", e.without_url().to_string()),
    };
    let status = response.status();
    let text = match response.bytes().await {
        Ok(b) => b,
        Err(e) => return Sent::Retry("network", e.without_url().to_string()),
    };
    if status.is_success() {
        return match serde_json::from_slice::<Answer>(&text) {
            Ok(a) => Sent::Confirmed(a),
            Err(e) => Sent::Retry(
                "answer",
                format!("HTTP {status} with an unreadable answer: {e}"),
            ),
        };
    }
    match serde_json::from_slice::<Problem>(&text) {
        Ok(p) if p.code.retryable() => Sent::Retry("unavailable", p.to_string()),
        Ok(p) => Sent::Refused(p),
        // Not the platform's answer (a proxy's, a load balancer's): retry server trouble,
        // refuse the rest.
        Err(_) if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 => {
            Sent::Retry("unavailable", format!("HTTP {status}"))
        }
        Err(_) => Sent::Refused(Problem::new(
            tradewind_ingest::ProblemCode::Unknown,
            format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&text)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_all_of_the_delay() {
        for ms in [1, 500, 60_000] {
            let d = Duration::from_millis(ms);
            let j = jitter(d);
            assert!(j >= d / 2 && j <= d, "{ms}: {j:?}");
        }
    }
}
