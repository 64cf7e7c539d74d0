//! Tradewind's user API, `/api/v1`: accounts, members and referrals; bots (a façade over
//! the TradingBot resources, written through the Kubernetes API by server-side apply);
//! the strategy catalogue; performance, order and fill history, commissions and
//! statements from the ledger; API keys.
//!
//! Every request passes one middleware ([`guard`]): a token bucket per client address, the
//! body limit, authentication (an OIDC bearer token or a signed API-key request), a token
//! bucket per caller. Handlers then authorise by account ([`auth::level`],
//! [`auth::authorise`]): a caller without access to an account is told it does not
//! exist. Errors are RFC 9457 problem documents ([`problem`]). The OpenAPI 3.1 document is
//! generated from the handlers ([`routes::ApiDoc`]) and served at `/api/v1/openapi.json`.

pub mod auth;
pub mod bots;
pub mod dashboard;
pub mod limit;
pub mod notifications;
pub mod perf;
pub mod problem;
pub mod routes;
pub mod signals;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use ring::rand::SecureRandom;
use tradewind_ledger::Ledger;
use tradewind_ledger::accounts::now_nanos;
use tradewind_ledger::api::{ApiKey, KeyScope};

use crate::auth::{Caller, Oidc, SignedHeaders, headers};
use crate::problem::ApiError;

/// Where bots of an account live in Kubernetes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tenancy {
    /// One namespace per account, `<prefix><account>`, created by the API on the
    /// account's first bot (the default, prefix `tw-`).
    NamespacePerAccount {
        /// Prepended to the account id.
        prefix: String,
    },
    /// Every account's bots in one namespace, told apart by `spec.accountRef`.
    Shared {
        /// The namespace.
        namespace: String,
    },
}

impl Tenancy {
    /// The namespace of an account's bots, or why the account cannot have one.
    pub fn namespace(&self, account: &str) -> Result<String, ApiError> {
        match self {
            Tenancy::Shared { namespace } => Ok(namespace.clone()),
            Tenancy::NamespacePerAccount { prefix } => {
                let ns = format!("{prefix}{account}");
                if dns_label(&ns) {
                    Ok(ns)
                } else {
                    Err(ApiError::invalid(
                        "account",
                        format!(
                            "account {account:?} makes namespace {ns:?}, not a DNS label; run the platform with --tenancy shared for such ids"
                        ),
                    ))
                }
            }
        }
    }
}

/// Whether `name` is a DNS label (RFC 1123): what Kubernetes names namespaces and bots.
pub(crate) fn dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// The API's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// OIDC bearer tokens; `None`: API keys only.
    pub oidc: Option<auth::OidcConfig>,
    /// Where bots live.
    pub tenancy: Tenancy,
    /// How far a signed request's timestamp may be from the server's clock.
    pub replay_window: Duration,
    /// The largest request body.
    pub max_body_bytes: usize,
    /// Per client address.
    pub per_address: limit::Rate,
    /// Per API key or user.
    pub per_caller: limit::Rate,
    /// The field manager the API writes TradingBots under.
    pub field_manager: String,
    /// The key notification channels' secrets are sealed with; `None`: notifications
    /// are off (channels cannot be created).
    pub notify_key: Option<Arc<tradewind_notify::Sealer>>,
    /// The dashboard (`/ui`): its OIDC client and sessions.
    pub dashboard: dashboard::DashboardConfig,
    /// How old (and how far ahead) a signal posted to a bot's webhook may be.
    pub signals: signals::SignalTiming,
    /// How long a bot read waits for the TradingBot watch's first sync before it is
    /// refused with a 503.
    pub bot_sync_wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            oidc: None,
            tenancy: Tenancy::NamespacePerAccount {
                prefix: "tw-".into(),
            },
            replay_window: Duration::from_secs(30),
            max_body_bytes: 64 * 1024,
            per_address: limit::Rate {
                per_second: 50,
                burst: 100,
            },
            per_caller: limit::Rate {
                per_second: 20,
                burst: 40,
            },
            field_manager: "tradewind-api".into(),
            notify_key: None,
            dashboard: dashboard::DashboardConfig::default(),
            signals: signals::SignalTiming::default(),
            bot_sync_wait: Duration::from_secs(5),
        }
    }
}

/// The API's state, shared by every request.
pub struct Api {
    /// The ledger.
    pub ledger: Ledger,
    /// The Kubernetes API (TradingBots, Strategies, Namespaces).
    pub kube: kube::Client,
    /// Settings.
    pub config: Config,
    /// The TradingBots bot reads are served from (kept by [`serve`]'s watch).
    pub bots: Arc<bots::BotCache>,
    oidc: Option<Oidc>,
    limits: limit::Limits,
    /// Outbound HTTPS (the issuer's discovery and token endpoints).
    http: reqwest::Client,
}

impl Api {
    /// The API over `ledger` and `kube`.
    pub fn new(ledger: Ledger, kube: kube::Client, config: Config) -> Result<Self, String> {
        let http = http_client()?;
        let oidc = config
            .oidc
            .as_ref()
            .map(|c| Oidc::new(c.clone(), http.clone()));
        let limits = limit::Limits::new(config.per_address, config.per_caller);
        Ok(Api {
            ledger,
            kube,
            config,
            bots: Arc::default(),
            oidc,
            limits,
            http,
        })
    }
}

/// The JWKS client: rustls with `ring` and the system's roots.
fn http_client() -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// Random bytes from the system.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The system RNG does not fail on the platforms we build for; a zeroed buffer would
    // be caught by the uniqueness of ids.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b
}

/// A new API key: the stored record and the secret to hand out once.
pub fn new_key(
    account: Option<&str>,
    scope: KeyScope,
    name: &str,
    created_by: &str,
) -> (ApiKey, String) {
    use base64::Engine;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::<32>());
    let key = ApiKey {
        id: format!("twk_{}", hex::encode(random::<10>())),
        account: account.map(Into::into),
        scope,
        name: name.into(),
        signing_key: auth::signing_key(&secret),
        created_by: created_by.into(),
        created_at: now_nanos(),
        revoked_at: None,
    };
    (key, secret)
}

/// At first start (no platform admin key in the ledger), creates one and returns
/// `(id, secret)` for the caller to print once; afterwards `None`.
pub async fn bootstrap_admin_key(ledger: &Ledger) -> Result<Option<(String, String)>, ApiError> {
    if !ledger.api_keys(None).await?.is_empty() {
        return Ok(None);
    }
    let (key, secret) = new_key(None, KeyScope::Admin, "bootstrap admin", "first start");
    ledger.create_api_key(&key).await?;
    Ok(Some((key.id, secret)))
}

/// The peer address of a connection, as the accept loop records it.
fn peer(req: &Request) -> String {
    req.extensions()
        .get::<tradewind_http::Peer>()
        .map(|p| p.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn authenticate(
    api: &Api,
    req: &axum::http::request::Parts,
    body: &[u8],
) -> Result<Caller, ApiError> {
    let h = &req.headers;
    if let Some(id) = header(h, headers::KEY) {
        let signed = SignedHeaders {
            timestamp: header(h, headers::TIMESTAMP).ok_or_else(|| {
                ApiError::Unauthenticated(format!("{} is missing", headers::TIMESTAMP))
            })?,
            nonce: header(h, headers::NONCE).ok_or_else(|| {
                ApiError::Unauthenticated(format!("{} is missing", headers::NONCE))
            })?,
            signature: header(h, headers::SIGNATURE).ok_or_else(|| {
                ApiError::Unauthenticated(format!("{} is missing", headers::SIGNATURE))
            })?,
        };
        let key = api
            .ledger
            .api_key(id)
            .await?
            .ok_or_else(|| ApiError::Unauthenticated(format!("no API key {id:?}")))?;
        let now = now_nanos();
        let ts = auth::check_signature(
            &key,
            &signed,
            auth::Signed {
                method: req.method.as_str(),
                path: req.uri.path(),
                query: req.uri.query().unwrap_or(""),
                body,
            },
            now / 1_000_000_000,
            api.config.replay_window,
        )?;
        let window = i64::try_from(api.config.replay_window.as_nanos()).unwrap_or(i64::MAX);
        if !api
            .ledger
            .use_nonce(&key.id, signed.nonce, ts, now.saturating_sub(2 * window))
            .await?
        {
            return Err(ApiError::Unauthenticated(format!(
                "{}: already used by this key (a replayed request)",
                headers::NONCE
            )));
        }
        return Ok(key.into());
    }
    let Some(authz) = header(h, "authorization") else {
        return Err(ApiError::Unauthenticated(format!(
            "send an OIDC bearer token (Authorization: Bearer …) or a signed API-key request ({} …)",
            headers::KEY
        )));
    };
    let Some(token) = authz
        .strip_prefix("Bearer ")
        .or_else(|| authz.strip_prefix("bearer "))
    else {
        return Err(ApiError::Unauthenticated(
            "Authorization: only the Bearer scheme is accepted".into(),
        ));
    };
    let Some(oidc) = &api.oidc else {
        return Err(ApiError::Unauthenticated(
            "bearer tokens are not accepted: the platform runs without an OIDC issuer; use an API key"
                .into(),
        ));
    };
    Caller::user(&api.ledger, oidc.verify(token.trim()).await?).await
}

/// Largest oversized body still read to its end before the 413 (see [`guarded`]).
const DRAIN_MAX: usize = 1 << 20;

/// The middleware every `/api/v1` request passes: the per-address bucket, the body limit,
/// authentication (not for the OpenAPI document), the per-caller bucket.
pub async fn guard(State(api): State<Arc<Api>>, req: Request, next: Next) -> Response {
    match guarded(&api, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => {
            // Never the token, key secret or signature: the problem's words only.
            tracing::info!(status = e.problem().status, reason = %e, "api: refused");
            e.into_response()
        }
    }
}

async fn guarded(api: &Api, req: Request) -> Result<Request, ApiError> {
    api.limits.check_address(&peer(&req))?;
    let (mut parts, body) = req.into_parts();
    let max = api.config.max_body_bytes;
    if let Some(len) = header(&parts.headers, "content-length").and_then(|v| v.parse::<u64>().ok())
        && len > max as u64
    {
        // Read (and drop) a moderately oversized body before answering: a server that
        // closes with unread bytes resets the connection, and the client — still sending —
        // loses the 413 it should read.
        if len <= DRAIN_MAX as u64 {
            let _ = http_body_util::Limited::new(body, DRAIN_MAX)
                .collect()
                .await;
        }
        return Err(ApiError::TooLarge(max));
    }
    let bytes = http_body_util::Limited::new(body, max)
        .collect()
        .await
        .map_err(|_| ApiError::TooLarge(max))?
        .to_bytes();
    // The OpenAPI document is public; a webhook call proves itself with its bot's secret.
    if parts.uri.path() != routes::OPENAPI_PATH
        && !signals::is_webhook(&parts.method, parts.uri.path())
    {
        let caller = authenticate(api, &parts, &bytes).await?;
        api.limits.check_caller(&caller)?;
        tracing::debug!(caller = %caller.label(), method = %parts.method, path = parts.uri.path(), "api");
        parts.extensions.insert(caller);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Serves the API on `listener`'s address with the shared accept loop until the returned
/// task is aborted.
pub async fn serve(
    addr: SocketAddr,
    api: Arc<Api>,
    limits: tradewind_http::Limits,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let watch = api.bots.start(api.kube.clone(), &api.config.tenancy);
    // The dashboard's pages first; everything else is the API's (behind its guard).
    let router = dashboard::router(api.clone()).fallback_service(routes::router(api.clone()));
    let sweeper = tokio::spawn({
        let api = api.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                api.limits.forget_idle();
            }
        }
    });
    let task = tradewind_http::serve_connections(listener, limits, move |req| {
        let router = router.clone();
        async move {
            use tower::ServiceExt;
            let resp = match router.oneshot(req.map(Body::new)).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            let (parts, body) = resp.into_parts();
            let bytes = match body.collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => {
                    tracing::error!(error = %e, "api: a response body failed");
                    bytes::Bytes::new()
                }
            };
            Ok::<_, Infallible>(hyper::Response::from_parts(
                parts,
                http_body_util::Full::new(bytes),
            ))
        }
    });
    // Aborting the returned task drops all three.
    let task = tokio::spawn(async move {
        let _sweeper = AbortOnDrop(sweeper);
        let _watch = watch.map(AbortOnDrop);
        let mut accept = AbortOnDrop(task);
        let _ = (&mut accept.0).await;
    });
    Ok((bound, task))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
