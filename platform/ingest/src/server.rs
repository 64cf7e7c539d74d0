//! The platform's side of the ingest contract: an HTTP handler that authenticates every
//! request with a Kubernetes TokenReview (audience [`AUDIENCE`](crate::AUDIENCE)), maps
//! the ServiceAccount to its TradingBot, refuses any event that is not that bot's, reads
//! the bot (account, commission plan, symbol) and hands the batch to an [`EventSink`]
//! (the ledger). The Kubernetes identity the platform runs as needs `create
//! tokenreviews` (the `system:auth-delegator` ClusterRole) and `get tradingbots`.
//!
//! Every step has a deadline; a body is read up to [`MAX_BODY_BYTES`] and no further;
//! the token is never logged nor echoed. `/readyz` answers 503 while the sink says it is
//! unavailable.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::time::Instant;
use tradewind_crds::TradingBot;

use crate::{
    AUDIENCE, Answer, Batch, CONTENT_TYPE as JSON, Event, MAX_BODY_BYTES, PATH,
    PROBLEM_CONTENT_TYPE, Problem, ProblemCode, SignalAck, Signals, WireSignal, check_batch,
};
use tradewind_crds::contract::signals as signal_contract;

/// The bot a batch is recorded for, as its TradingBot says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotRef {
    /// The bot's namespace.
    pub namespace: String,
    /// The bot's name.
    pub name: String,
    /// The TradingBot's uid (a bot deleted and created again is another bot).
    pub uid: String,
    /// `spec.accountRef.name`: whose money.
    pub account: String,
    /// `spec.commissionPlanRef.name`, if any.
    pub commission_plan: Option<String>,
    /// The symbol it trades (`spec.symbols[0]`).
    pub symbol: String,
    /// `spec.capital.currency`: the quote currency of a Paper or Live bot's symbol, in
    /// which its fills, fees and equity are.
    pub capital_currency: String,
    /// `spec.strategyRef.name` (the strategy author's share).
    pub strategy: String,
}

impl BotRef {
    /// `namespace/name`, as events name their bot.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// What a sink did with a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Events newly recorded.
    pub recorded: u64,
    /// Events whose id was recorded already with the same content.
    pub duplicates: u64,
}

/// Why a sink refused a batch (nothing of it is recorded).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The ledger does not know the bot.
    #[error("the ledger does not know bot {bot}: {reason}")]
    UnknownBot {
        /// `namespace/name`.
        bot: String,
        /// What an administrator should do.
        reason: String,
    },
    /// The ledger does not know the bot's account.
    #[error("the ledger does not know account {account:?}: {reason}")]
    UnknownAccount {
        /// The account.
        account: String,
        /// What an administrator should do.
        reason: String,
    },
    /// An id already recorded with different content.
    #[error("event {id} is recorded with different content")]
    Conflict {
        /// The event's id.
        id: String,
    },
    /// An event the ledger cannot record as it is.
    #[error("event {id}: {field}: {reason}")]
    Invalid {
        /// The event's id.
        id: String,
        /// The field (wire spelling).
        field: String,
        /// Why.
        reason: String,
    },
    /// The store cannot be reached now.
    #[error("the ledger is unavailable: {0}")]
    Unavailable(String),
}

impl SinkError {
    /// The refusal the worker gets.
    pub fn problem(&self) -> Problem {
        let detail = self.to_string();
        match self {
            SinkError::UnknownBot { .. } => Problem::new(ProblemCode::UnknownBot, detail),
            SinkError::UnknownAccount { .. } => Problem::new(ProblemCode::UnknownAccount, detail),
            SinkError::Conflict { id } => Problem::new(ProblemCode::Conflict, detail).event(id),
            SinkError::Invalid { id, field, .. } => Problem::new(ProblemCode::Invalid, detail)
                .event(id)
                .field(field),
            SinkError::Unavailable(_) => Problem::new(ProblemCode::Unavailable, detail),
        }
    }
}

/// A boxed future, so [`EventSink`] can be a trait object.
pub type SinkFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where checked batches go (the ledger). `record` is all or nothing, and idempotent by
/// event id: an id recorded before with the same content is a duplicate, with different
/// content a [`SinkError::Conflict`].
pub trait EventSink: Send + Sync + 'static {
    /// Records `events` (all of `bot`, one session, checked against the contract).
    fn record<'a>(
        &'a self,
        bot: &'a BotRef,
        events: &'a [Event],
    ) -> SinkFuture<'a, Result<Recorded, SinkError>>;

    /// Whether the store can take batches now (`/readyz`).
    fn ready(&self) -> SinkFuture<'_, bool>;

    /// Up to `limit` of the signals of `bot` (`namespace/name`) after sequence `after`,
    /// oldest first. A store that keeps no signals says so.
    fn signals<'a>(
        &'a self,
        bot: &'a str,
        after: u64,
        limit: usize,
    ) -> SinkFuture<'a, Result<Vec<WireSignal>, SinkError>> {
        let _ = (bot, after, limit);
        Box::pin(async { Err(SinkError::Unavailable("this store keeps no signals".into())) })
    }

    /// Marks the signals of `bot` up to sequence `upto` delivered; returns how many changed.
    fn ack_signals<'a>(
        &'a self,
        bot: &'a str,
        upto: u64,
    ) -> SinkFuture<'a, Result<u64, SinkError>> {
        let _ = (bot, upto);
        Box::pin(async { Err(SinkError::Unavailable("this store keeps no signals".into())) })
    }
}

/// Deadlines and limits of the server.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Reading a request's headers.
    pub headers: Duration,
    /// Reading its body.
    pub body: Duration,
    /// The TokenReview and the TradingBot read, each.
    pub kubernetes: Duration,
    /// The sink's `record`.
    pub sink: Duration,
    /// How long an accepted token's identity is remembered (saves a TokenReview per
    /// batch; a revoked token keeps working this long at most).
    pub review_cache: Duration,
    /// Connections served at once (one per worker pod at most, plus probes); more wait in
    /// the listen backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            headers: Duration::from_secs(10),
            body: Duration::from_secs(30),
            kubernetes: Duration::from_secs(10),
            sink: Duration::from_secs(30),
            review_cache: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// How often a held signal fetch asks the store again.
const SIGNAL_POLL: Duration = Duration::from_millis(200);

/// Most tokens remembered at once (the cache is cleared when full).
const REVIEW_CACHE_MAX: usize = 10_000;

/// A reviewed token's ServiceAccount (namespace, name) and when it was reviewed.
type Reviewed = HashMap<String, ((String, String), Instant)>;

/// The ingest service: authentication, the bot's mapping, the sink.
pub struct Ingest {
    client: Client,
    sink: Arc<dyn EventSink>,
    limits: Limits,
    /// Token → (namespace, ServiceAccount) and when it was reviewed.
    reviewed: Mutex<Reviewed>,
    /// Answers to ingest requests, by outcome (`ok` or the problem's code).
    answers: Mutex<BTreeMap<&'static str, u64>>,
    recorded: AtomicU64,
    duplicates: AtomicU64,
}

impl Ingest {
    /// A service that reviews tokens and reads TradingBots with `client`, and records in
    /// `sink`.
    pub fn new(client: Client, sink: Arc<dyn EventSink>, limits: Limits) -> Self {
        Ingest {
            client,
            sink,
            limits,
            reviewed: Mutex::new(HashMap::new()),
            answers: Mutex::new(BTreeMap::new()),
            recorded: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
        }
    }

    fn count(&self, outcome: &'static str) {
        *self
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(outcome)
            .or_default() += 1;
    }

    /// The ingest's counters in the OpenMetrics text format, without the final `# EOF`
    /// (the platform appends them to its own exposition): batches answered by outcome
    /// (`ok` or the refusal's code), events recorded, duplicates received.
    pub fn encode_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let _ = writeln!(
            out,
            "# HELP tradewind_ingest_batches Ingest requests answered, by outcome.\n\
             # TYPE tradewind_ingest_batches counter"
        );
        for (outcome, n) in self
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "tradewind_ingest_batches_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        for (name, help, value) in [
            ("events_recorded", "Events newly recorded.", &self.recorded),
            (
                "events_duplicate",
                "Events received again after they were recorded.",
                &self.duplicates,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP tradewind_ingest_{name} {help}\n# TYPE tradewind_ingest_{name} counter\n\
                 tradewind_ingest_{name}_total {}",
                value.load(Ordering::Relaxed)
            );
        }
    }

    /// Answers one request: [`PATH`], `/healthz`, `/readyz` or `/metrics`.
    pub async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        match (req.method(), req.uri().path()) {
            (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
            (&Method::GET, "/metrics") => {
                let mut out = String::new();
                self.encode_metrics(&mut out);
                out.push_str("# EOF\n");
                let mut response = Response::new(Full::new(Bytes::from(out)));
                response.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static(tradewind_http::OPENMETRICS),
                );
                response
            }
            (&Method::GET, "/readyz") => {
                if self.sink.ready().await {
                    text(StatusCode::OK, "ready\n")
                } else {
                    text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the ledger is unavailable\n",
                    )
                }
            }
            (&Method::POST, PATH) => match self.ingest(req).await {
                Ok(answer) => {
                    self.count("ok");
                    self.recorded.fetch_add(answer.recorded, Ordering::Relaxed);
                    self.duplicates
                        .fetch_add(answer.duplicates, Ordering::Relaxed);
                    json(StatusCode::OK, JSON, &answer)
                }
                Err(problem) => {
                    self.count(code_name(problem.code));
                    tracing::info!(
                        code = ?problem.code,
                        event = problem.event_id.as_deref().unwrap_or(""),
                        field = problem.field.as_deref().unwrap_or(""),
                        detail = %problem.detail,
                        "ingest refused a batch"
                    );
                    refuse(&problem)
                }
            },
            (&Method::GET, signal_contract::PATH) => match self.fetch_signals(req).await {
                Ok(answer) => json(StatusCode::OK, JSON, &answer),
                Err(problem) => {
                    tracing::info!(code = ?problem.code, detail = %problem.detail, "signal fetch refused");
                    refuse(&problem)
                }
            },
            (&Method::POST, signal_contract::ACK_PATH) => match self.ack_signals(req).await {
                Ok(n) => json(
                    StatusCode::OK,
                    JSON,
                    &serde_json::json!({ "acknowledged": n }),
                ),
                Err(problem) => {
                    tracing::info!(code = ?problem.code, detail = %problem.detail, "signal ack refused");
                    refuse(&problem)
                }
            },
            (_, PATH) => refuse(&Problem::new(
                ProblemCode::MethodNotAllowed,
                format!("{PATH} takes POST"),
            )),
            (_, path) => refuse(&Problem::new(
                ProblemCode::NotFound,
                format!("no endpoint {path}; events go to POST {PATH}"),
            )),
        }
    }

    async fn ingest(&self, req: Request<Incoming>) -> Result<Answer, Problem> {
        let token = bearer(&req)?;
        let media = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if media.split(';').next().map(str::trim) != Some(JSON) {
            return Err(Problem::new(
                ProblemCode::UnsupportedMediaType,
                format!("Content-Type must be {JSON}"),
            ));
        }
        let (namespace, service_account) = self.review(&token).await?;
        let body = tokio::time::timeout(
            self.limits.body,
            Limited::new(req.into_body(), MAX_BODY_BYTES).collect(),
        )
        .await
        .map_err(|_| Problem::new(ProblemCode::Timeout, "the body did not arrive in time"))?
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                Problem::new(
                    ProblemCode::TooLarge,
                    format!("the body exceeds {MAX_BODY_BYTES} bytes"),
                )
            } else {
                Problem::new(ProblemCode::Malformed, format!("reading the body: {e}"))
            }
        })?
        .to_bytes();
        let batch: Batch = serde_json::from_slice(&body).map_err(|e| {
            Problem::new(
                ProblemCode::Malformed,
                format!("not a batch of events: {e}"),
            )
        })?;
        let Some(last) = batch.events.last() else {
            return Ok(Answer::default());
        };
        // The batch names its bot; the token's ServiceAccount must be that bot's worker
        // (computed forward, so a hashed worker name of a long bot name is recognised).
        let claimed = &last.bot;
        let name = match claimed.split_once('/') {
            Some((ns, name)) if ns == namespace => name,
            _ => "",
        };
        if !tradewind_crds::contract::is_worker_of(&service_account, name) {
            return Err(Problem::new(
                ProblemCode::Forbidden,
                format!(
                    "ServiceAccount {namespace}/{service_account} is not the worker of \
                     TradingBot {claimed:?} (a worker runs as <bot>{})",
                    tradewind_crds::contract::WORKER_SUFFIX
                ),
            )
            .event(&last.id)
            .field("bot"));
        }
        let bot = self.bot(&namespace, name).await?;
        check_batch(&bot.key(), &batch)?;
        let recorded =
            tokio::time::timeout(self.limits.sink, self.sink.record(&bot, &batch.events))
                .await
                .map_err(|_| {
                    Problem::new(
                        ProblemCode::Unavailable,
                        "the ledger did not answer in time",
                    )
                })?
                .map_err(|e| e.problem())?;
        Ok(Answer {
            recorded: recorded.recorded,
            duplicates: recorded.duplicates,
            session: Some(last.session.clone()),
            acknowledged: batch.events.iter().map(|e| e.sequence).max(),
        })
    }

    /// The bot `namespace/name` whose worker holds the request's token.
    async fn worker_bot(
        &self,
        token: &str,
        namespace: &str,
        name: &str,
    ) -> Result<String, Problem> {
        let (ns, service_account) = self.review(token).await?;
        if ns != namespace || !tradewind_crds::contract::is_worker_of(&service_account, name) {
            return Err(Problem::new(
                ProblemCode::Forbidden,
                format!(
                    "ServiceAccount {ns}/{service_account} is not the worker of TradingBot \
                     {namespace}/{name}: a worker gets its own bot's signals only"
                ),
            ));
        }
        Ok(format!("{namespace}/{name}"))
    }

    /// `GET` the signals of the caller's bot after its cursor, held up to `wait` seconds
    /// while there are none.
    async fn fetch_signals(&self, req: Request<Incoming>) -> Result<Signals, Problem> {
        let query = req.uri().query().unwrap_or("").to_owned();
        let mut params: HashMap<&str, &str> = HashMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.insert(k, v);
        }
        let need = |k: &str| {
            params
                .get(k)
                .copied()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    Problem::new(ProblemCode::Malformed, format!("the query needs {k}")).field(k)
                })
        };
        let number = |k: &str, default: u64| -> Result<u64, Problem> {
            params.get(k).map_or(Ok(default), |v| {
                v.parse().map_err(|_| {
                    Problem::new(
                        ProblemCode::Malformed,
                        format!("{k} must be a whole number"),
                    )
                    .field(k)
                })
            })
        };
        let (namespace, name) = (need("namespace")?, need("name")?);
        let after = number("after", 0)?;
        let wait = Duration::from_secs(number("wait", 0)?.min(signal_contract::MAX_WAIT_SECONDS));
        let token = bearer(&req)?;
        let bot = self.worker_bot(&token, namespace, name).await?;
        let deadline = Instant::now() + wait;
        loop {
            let signals = tokio::time::timeout(
                self.limits.sink,
                self.sink.signals(&bot, after, signal_contract::MAX_BATCH),
            )
            .await
            .map_err(|_| {
                Problem::new(
                    ProblemCode::Unavailable,
                    "the ledger did not answer in time",
                )
            })?
            .map_err(|e| e.problem())?;
            if !signals.is_empty() || Instant::now() >= deadline {
                return Ok(Signals { signals });
            }
            // The ledger has no notification; a short poll keeps a held fetch cheap.
            tokio::time::sleep(SIGNAL_POLL.min(deadline.saturating_duration_since(Instant::now())))
                .await;
        }
    }

    /// `POST` an acknowledgement of the caller's bot's signals.
    async fn ack_signals(&self, req: Request<Incoming>) -> Result<u64, Problem> {
        let token = bearer(&req)?;
        let body = req.into_body();
        let body = tokio::time::timeout(self.limits.body, Limited::new(body, 4096).collect())
            .await
            .map_err(|_| Problem::new(ProblemCode::Timeout, "the body did not arrive in time"))?
            .map_err(|e| Problem::new(ProblemCode::Malformed, format!("reading the body: {e}")))?
            .to_bytes();
        let ack: SignalAck = serde_json::from_slice(&body).map_err(|e| {
            Problem::new(
                ProblemCode::Malformed,
                format!("not a signal acknowledgement: {e}"),
            )
        })?;
        let bot = self.worker_bot(&token, &ack.namespace, &ack.name).await?;
        tokio::time::timeout(self.limits.sink, self.sink.ack_signals(&bot, ack.upto))
            .await
            .map_err(|_| {
                Problem::new(
                    ProblemCode::Unavailable,
                    "the ledger did not answer in time",
                )
            })?
            .map_err(|e| e.problem())
    }

    /// The token's ServiceAccount, from a TokenReview for [`AUDIENCE`] (remembered for
    /// [`Limits::review_cache`]).
    async fn review(&self, token: &str) -> Result<(String, String), Problem> {
        {
            let mut cache = self.reviewed.lock().unwrap_or_else(|e| e.into_inner());
            match cache.get(token) {
                Some((who, at)) if at.elapsed() < self.limits.review_cache => {
                    return Ok(who.clone());
                }
                Some(_) => {
                    cache.remove(token);
                }
                None => {}
            }
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_owned()),
                audiences: Some(vec![AUDIENCE.to_owned()]),
            },
            ..TokenReview::default()
        };
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let answer = tokio::time::timeout(
            self.limits.kubernetes,
            api.create(&PostParams::default(), &review),
        )
        .await
        .map_err(|_| {
            Problem::new(
                ProblemCode::Unavailable,
                "the Kubernetes API did not answer the TokenReview in time",
            )
        })?
        .map_err(|e| {
            // kube's error carries the API server's Status, never the request body.
            tracing::warn!(error = %e, "TokenReview failed");
            Problem::new(
                ProblemCode::Unavailable,
                "the Kubernetes API refused the TokenReview",
            )
        })?;
        let status = answer.status.unwrap_or_default();
        let unauthenticated = |why: String| Err(Problem::new(ProblemCode::Unauthenticated, why));
        if status.authenticated != Some(true) {
            return unauthenticated(format!(
                "the token is not valid for audience {AUDIENCE:?}: {}",
                status.error.unwrap_or_else(|| "not authenticated".into())
            ));
        }
        // An API server that ignores spec.audiences answers with its own: refuse it.
        if !status
            .audiences
            .unwrap_or_default()
            .iter()
            .any(|a| a == AUDIENCE)
        {
            return unauthenticated(format!("the token is not for audience {AUDIENCE:?}"));
        }
        let user = status.user.and_then(|u| u.username).unwrap_or_default();
        let who = user
            .strip_prefix("system:serviceaccount:")
            .and_then(|rest| rest.split_once(':'))
            .map(|(ns, sa)| (ns.to_owned(), sa.to_owned()));
        let Some(who) = who else {
            return Err(Problem::new(
                ProblemCode::Forbidden,
                format!("{user:?} is not a ServiceAccount; only bot workers record events"),
            ));
        };
        let mut cache = self.reviewed.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= REVIEW_CACHE_MAX {
            cache.clear();
        }
        cache.insert(token.to_owned(), (who.clone(), Instant::now()));
        Ok(who)
    }

    /// The TradingBot `namespace/name`, as a [`BotRef`].
    async fn bot(&self, namespace: &str, name: &str) -> Result<BotRef, Problem> {
        let api: Api<TradingBot> = Api::namespaced(self.client.clone(), namespace);
        let bot = tokio::time::timeout(self.limits.kubernetes, api.get_opt(name))
            .await
            .map_err(|_| {
                Problem::new(
                    ProblemCode::Unavailable,
                    "the Kubernetes API did not answer in time",
                )
            })?
            .map_err(|e| {
                tracing::warn!(error = %e, bot = %format!("{namespace}/{name}"), "reading the TradingBot failed");
                Problem::new(
                    ProblemCode::Unavailable,
                    format!("cannot read TradingBot {namespace}/{name}"),
                )
            })?
            .ok_or_else(|| {
                Problem::new(
                    ProblemCode::UnknownBot,
                    format!("there is no TradingBot {namespace}/{name}"),
                )
            })?;
        Ok(BotRef {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            uid: bot.metadata.uid.unwrap_or_default(),
            account: bot.spec.account_ref.name.clone(),
            commission_plan: bot.spec.commission_plan_ref.map(|r| r.name),
            symbol: bot.spec.symbols.first().cloned().unwrap_or_default(),
            capital_currency: bot.spec.capital.currency.clone(),
            strategy: bot.spec.strategy_ref.name.clone(),
        })
    }
}

/// The wire spelling of a problem's code (a metric label).
fn code_name(code: ProblemCode) -> &'static str {
    match code {
        ProblemCode::Unauthenticated => "unauthenticated",
        ProblemCode::Forbidden => "forbidden",
        ProblemCode::UnknownBot => "unknownBot",
        ProblemCode::UnknownAccount => "unknownAccount",
        ProblemCode::Conflict => "conflict",
        ProblemCode::Invalid => "invalid",
        ProblemCode::Malformed => "malformed",
        ProblemCode::TooLarge => "tooLarge",
        ProblemCode::UnsupportedMediaType => "unsupportedMediaType",
        ProblemCode::MethodNotAllowed => "methodNotAllowed",
        ProblemCode::NotFound => "notFound",
        ProblemCode::Timeout => "timeout",
        ProblemCode::Unavailable => "unavailable",
        ProblemCode::Unknown => "unknown",
    }
}

/// The bearer token (never logged).
fn bearer<B>(req: &Request<B>) -> Result<String, Problem> {
    req.headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            Problem::new(
                ProblemCode::Unauthenticated,
                "no bearer token: send the worker's projected ServiceAccount token",
            )
        })
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    r
}

fn json<T: serde::Serialize>(
    status: StatusCode,
    media: &'static str,
    body: &T,
) -> Response<Full<Bytes>> {
    // Plain data: serialising cannot fail.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(media));
    r
}

fn refuse(problem: &Problem) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = json(status, PROBLEM_CONTENT_TYPE, problem);
    if problem.code == ProblemCode::Unauthenticated {
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Bearer"),
        );
    }
    r
}

/// Serves `ingest` on `addr` (HTTP/1.1) until the returned task is aborted; returns the
/// bound address (port 0: the system chooses).
pub async fn serve(
    addr: SocketAddr,
    ingest: Arc<Ingest>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let limits = tradewind_http::Limits {
        header_read_timeout: ingest.limits.headers,
        max_connections: ingest.limits.max_connections,
    };
    let task = tradewind_http::serve_connections(listener, limits, move |req| {
        let ingest = ingest.clone();
        async move { Ok::<_, Infallible>(ingest.answer(req).await) }
    });
    Ok((bound, task))
}

/// An in-memory [`EventSink`] with the ledger's semantics (all or nothing, duplicates by
/// id, conflicts on different content, unknown bots refused): for tests, and the
/// reference the ledger's implementation is held to.
#[derive(Default)]
pub struct MemorySink {
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    /// Bots the ledger knows (`namespace/name`); `None`: every bot.
    known: Option<Vec<String>>,
    events: HashMap<String, Event>,
    order: Vec<String>,
    duplicates: u64,
    unavailable: bool,
    /// Signals by bot, in sequence order, and each bot's acknowledged sequence.
    signals: HashMap<String, Vec<WireSignal>>,
    acknowledged: HashMap<String, u64>,
}

impl MemorySink {
    /// A sink that knows only `bots` (`namespace/name`).
    pub fn knowing(bots: &[&str]) -> Self {
        let sink = MemorySink::default();
        sink.lock().known = Some(bots.iter().map(|b| (*b).to_owned()).collect());
        sink
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the store unreachable (every `record` fails, `ready` is false) or back.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    /// Events received again after they were recorded (resends), in total.
    pub fn duplicates(&self) -> u64 {
        self.lock().duplicates
    }

    /// Adds a signal for `bot` (`namespace/name`) with the next sequence number; returns it.
    pub fn push_signal(&self, bot: &str, id: &str, action: &str, ts: i64) -> u64 {
        let mut s = self.lock();
        let list = s.signals.entry(bot.to_owned()).or_default();
        let seq = list.len() as u64 + 1;
        list.push(WireSignal {
            seq,
            id: id.into(),
            action: action.into(),
            ts,
        });
        seq
    }

    /// The highest sequence a bot's worker acknowledged (0: none).
    pub fn acknowledged(&self, bot: &str) -> u64 {
        self.lock().acknowledged.get(bot).copied().unwrap_or(0)
    }

    /// Every event recorded, in the order recorded.
    pub fn events(&self) -> Vec<Event> {
        let s = self.lock();
        s.order.iter().map(|id| s.events[id].clone()).collect()
    }
}

impl EventSink for MemorySink {
    fn record<'a>(
        &'a self,
        bot: &'a BotRef,
        events: &'a [Event],
    ) -> SinkFuture<'a, Result<Recorded, SinkError>> {
        Box::pin(async move {
            let mut s = self.lock();
            if s.unavailable {
                return Err(SinkError::Unavailable("the store is down".into()));
            }
            let key = bot.key();
            if s.known.as_ref().is_some_and(|k| !k.contains(&key)) {
                return Err(SinkError::UnknownBot {
                    bot: key,
                    reason: "create its account in the ledger first".into(),
                });
            }
            // Check everything before writing anything: all or nothing.
            let mut fresh: Vec<&Event> = Vec::new();
            let mut duplicates = 0;
            for e in events {
                match s
                    .events
                    .get(&e.id)
                    .or_else(|| fresh.iter().find(|f| f.id == e.id).copied())
                {
                    Some(known) if known == e => duplicates += 1,
                    Some(_) => return Err(SinkError::Conflict { id: e.id.clone() }),
                    None => fresh.push(e),
                }
            }
            let recorded = fresh.len() as u64;
            s.duplicates += duplicates;
            for e in fresh {
                s.order.push(e.id.clone());
                s.events.insert(e.id.clone(), e.clone());
            }
            Ok(Recorded {
                recorded,
                duplicates,
            })
        })
    }

    fn ready(&self) -> SinkFuture<'_, bool> {
        Box::pin(async move { !self.lock().unavailable })
    }

    fn signals<'a>(
        &'a self,
        bot: &'a str,
        after: u64,
        limit: usize,
    ) -> SinkFuture<'a, Result<Vec<WireSignal>, SinkError>> {
        Box::pin(async move {
            let s = self.lock();
            Ok(s.signals
                .get(bot)
                .map(|l| {
                    l.iter()
                        .filter(|x| x.seq > after)
                        .take(limit)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default())
        })
    }

    fn ack_signals<'a>(
        &'a self,
        bot: &'a str,
        upto: u64,
    ) -> SinkFuture<'a, Result<u64, SinkError>> {
        Box::pin(async move {
            let mut s = self.lock();
            let known = s.signals.get(bot).map_or(0, |l| l.len() as u64);
            let upto = upto.min(known);
            let was = s.acknowledged.get(bot).copied().unwrap_or(0);
            if upto > was {
                s.acknowledged.insert(bot.to_owned(), upto);
            }
            Ok(upto.saturating_sub(was))
        })
    }
}
