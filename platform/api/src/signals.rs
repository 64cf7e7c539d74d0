//! Signals from outside: a bot's webhook (`POST …/bots/{bot}/signals`), compatible with
//! TradingView alerts, and its signal secret.
//!
//! A sender proves itself with the bot's signal secret in the body (TradingView cannot
//! sign or set headers) or with an `X-Tradewind-Signature` header: hex HMAC-SHA256 of
//! the body under the key SHA-256(secret), for senders that can. The secret is stored
//! hashed and shown once, when created. The webhook stores the signal and answers; the
//! bot's worker fetches it from the platform. A repeat of a signal's id answers with the
//! first result and changes nothing; a signal older than the maximum lag, or from the
//! future beyond the allowed skew, is refused. Nothing about a failed secret check says
//! whether the bot exists.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use kube::Api as KubeApi;
use ring::hmac;
use serde::{Deserialize, Serialize};
use tradewind_core::data::UnixNanos;
use tradewind_core::data::time::{format_iso8601, parse_iso8601};
use tradewind_core::strategy::SignalAction;
use tradewind_crds::{Strategy, StrategyType};
use tradewind_ledger::accounts::now_nanos;
use tradewind_ledger::signals::{NewSignal, Recorded, SignalSecret, StoredSignal};
use utoipa::OpenApi;

use crate::Api;
use crate::auth::{Caller, Level, sha256_hex};
use crate::bots::kube_error;
use crate::problem::{ApiError, Problem};
use crate::routes::{P, access};

/// The header a sender that can sign puts its signature in.
pub const SIGNATURE_HEADER: &str = "x-tradewind-signature";
/// The longest signal id.
pub const MAX_ID: usize = 128;

/// How old a signal may be, and how far ahead of the server's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalTiming {
    /// A signal whose time is older than this is refused.
    pub max_lag: Duration,
    /// A signal whose time is ahead of the server's clock by more than this is refused.
    pub max_skew: Duration,
}

impl Default for SignalTiming {
    fn default() -> Self {
        SignalTiming {
            max_lag: Duration::from_secs(60),
            max_skew: Duration::from_secs(5),
        }
    }
}

/// Whether a request is a webhook call (authenticated by its signal secret, not by the
/// API's credentials).
pub fn is_webhook(method: &Method, path: &str) -> bool {
    method == Method::POST
        && path
            .strip_prefix("/api/v1/accounts/")
            .and_then(|rest| rest.strip_suffix("/signals"))
            .is_some_and(|mid| {
                let parts: Vec<&str> = mid.split('/').collect();
                parts.len() == 3
                    && parts[1] == "bots"
                    && !parts[0].is_empty()
                    && !parts[2].is_empty()
            })
}

/// The signal routes, relative to `/api/v1`.
pub fn router() -> Router<Arc<Api>> {
    let b = "/accounts/{account}/bots/{bot}";
    Router::new()
        .route(&format!("{b}/signals"), post(webhook).get(list))
        .route(
            &format!("{b}/signal-secret"),
            post(create_secret).delete(delete_secret),
        )
}

/// The OpenAPI document of the signal routes (merged into the API's).
#[derive(OpenApi)]
#[openapi(paths(webhook, list, create_secret, delete_secret))]
pub struct SignalsDoc;

/// A signal as JSON (TradingView: put this in the alert's message, with `{{timenow}}`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalBody {
    /// The signal's identity: a repeat with the same id is the same signal (1 to 128 of
    /// `A-Z a-z 0-9 . _ : -`).
    #[schema(pattern = "^[A-Za-z0-9._:-]{1,128}$")]
    pub id: String,
    /// `enter`, `exit` or `flatten` (`buy` and `sell`: enter and exit).
    #[schema(value_type = ActionName)]
    pub action: String,
    /// When it was sent, ISO 8601 UTC (TradingView's `{{timenow}}`).
    pub time: String,
    /// The bot's signal secret; not needed with an `X-Tradewind-Signature` header.
    #[serde(default)]
    pub secret: Option<String>,
    /// The symbol the alert fired on (TradingView's `{{ticker}}`); informative only.
    #[serde(default)]
    pub ticker: Option<String>,
}

/// The actions a signal may name (the document's view of [`SignalBody::action`]).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum ActionName {
    Enter,
    Exit,
    Flatten,
    Buy,
    Sell,
}

/// What the webhook did with a signal.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignalView {
    /// The signal's id.
    pub id: String,
    /// `namespace/name` of the bot.
    pub bot: String,
    /// Its place among the bot's signals, from 1.
    pub seq: i64,
    /// `enter`, `exit` or `flatten`.
    pub action: String,
    /// The signal's time.
    pub time: String,
    /// When the platform received it.
    pub received_at: String,
    /// `pending` (stored, not yet fetched by the worker) or `delivered`.
    pub status: String,
}

fn view(s: StoredSignal) -> SignalView {
    SignalView {
        id: s.id,
        bot: s.bot,
        seq: s.seq,
        action: s.action,
        time: format_iso8601(s.ts),
        received_at: format_iso8601(s.received_at),
        status: s.status,
    }
}

/// A new signal secret, shown once.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretCreated {
    /// `namespace/name` of the bot.
    pub bot: String,
    /// The secret: put it in the signal's `secret`, or sign with SHA-256 of it. Not shown again.
    pub secret: String,
}

/// A parsed signal, before authentication of its content.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    id: String,
    action: SignalAction,
    ts: UnixNanos,
    secret: Option<String>,
}

/// The body as JSON (`{"id": …}`) or as the text form `key=value` pairs separated by
/// spaces or newlines: `action=enter id=abc time=2026-01-01T00:00:00Z secret=…`.
fn parse(body: &[u8]) -> Result<Parsed, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::malformed("body", "is not UTF-8 text"))?
        .trim();
    let (id, action, time, secret) = if text.starts_with('{') {
        let b: SignalBody = serde_json::from_str(text).map_err(|e| {
            let field = crate::problem::json_field(&e);
            ApiError::malformed(field, e.to_string())
        })?;
        (b.id, b.action, b.time, b.secret)
    } else {
        let (mut id, mut action, mut time, mut secret) = (None, None, None, None);
        for pair in text.split_whitespace() {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(ApiError::malformed(
                    "body",
                    format!(
                        "{:?} is not key=value (the text form is `action=enter id=… time=… secret=…`)",
                        redact(pair)
                    ),
                ));
            };
            let slot = match k {
                "id" => &mut id,
                "action" => &mut action,
                "time" => &mut time,
                "secret" => &mut secret,
                "ticker" => continue,
                other => {
                    return Err(ApiError::malformed(
                        other,
                        "unknown field (the text form takes action, id, time, secret, ticker)",
                    ));
                }
            };
            if slot.replace(v.to_owned()).is_some() {
                return Err(ApiError::malformed(k, "given twice"));
            }
        }
        let need =
            |v: Option<String>, f: &str| v.ok_or_else(|| ApiError::malformed(f, "is missing"));
        (
            need(id, "id")?,
            need(action, "action")?,
            need(time, "time")?,
            secret,
        )
    };
    if id.is_empty()
        || id.len() > MAX_ID
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    {
        return Err(ApiError::invalid(
            "id",
            format!("must be 1 to {MAX_ID} of A-Z a-z 0-9 . _ : -"),
        ));
    }
    let action: SignalAction =
        action
            .parse()
            .map_err(|e: tradewind_core::strategy::signal::UnknownAction| {
                ApiError::invalid("action", e.to_string())
            })?;
    let ts = parse_iso8601(&time).map_err(|e| ApiError::invalid("time", e.to_string()))?;
    Ok(Parsed {
        id,
        action,
        ts,
        secret,
    })
}

/// A pair shown in an error without its value when it could be the secret.
fn redact(pair: &str) -> &str {
    if pair.starts_with("secret") {
        "secret=…"
    } else {
        pair
    }
}

/// The hash a repeat must match: what the signal asks, not how it was written.
fn content_hash(p: &Parsed) -> String {
    sha256_hex(format!("{}\n{}\n{}", p.id, p.action, p.ts).as_bytes())
}

/// The sender is the holder of the bot's secret: the body carries it, or the signature
/// header is the HMAC of the body under its hash.
fn authentic(stored: &SignalSecret, headers: &HeaderMap, body: &[u8], p: &Parsed) -> bool {
    if let Some(sig) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) {
        let (Ok(key), Ok(sig)) = (hex::decode(&stored.secret_hash), hex::decode(sig.trim())) else {
            return false;
        };
        return hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, &key), body, &sig).is_ok();
    }
    // Comparing hashes: the sender controls no part of the stored one.
    p.secret
        .as_deref()
        .is_some_and(|s| sha256_hex(s.as_bytes()) == stored.secret_hash)
}

fn unauthenticated() -> ApiError {
    ApiError::Unauthenticated(
        "the signal secret (or X-Tradewind-Signature) does not match a signal secret of this bot"
            .into(),
    )
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Receives a signal for a bot whose strategy takes signals (TradingView-compatible).
#[utoipa::path(post, path = "/api/v1/accounts/{account}/bots/{bot}/signals", tag = "signals",
    security(()),
    params(("account" = String, Path, description = "The account id"),
           ("bot" = String, Path, description = "The bot's name"),
           ("X-Tradewind-Signature" = Option<String>, Header, description = "Hex HMAC-SHA256 of the body under SHA-256(secret); instead of `secret` in the body")),
    request_body(content(
        (SignalBody = "application/json"),
        (String = "text/plain", example = "action=enter id=tv-123 time=2026-01-01T00:00:00Z secret=…"))),
    responses(
        (status = 202, description = "Stored; the worker will act on it", body = SignalView),
        (status = 200, description = "A repeat: the first result, nothing changed", body = SignalView),
        (status = 401, description = "Wrong or missing secret or signature", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another signal is stored under this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Too old, in the future, or the bot does not take it", body = Problem, content_type = "application/problem+json")))]
pub async fn webhook(
    State(api): State<Arc<Api>>,
    P((account, bot)): P<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let result = receive(&api, &account, &bot, &headers, &body).await;
    match &result {
        // Never the secret or signature: the problem's words only.
        Err(e) => {
            tracing::info!(%account, %bot, status = e.problem().status, reason = %e, "signal refused")
        }
        Ok((status, v)) => {
            tracing::info!(%account, %bot, id = %v.id, seq = v.seq, action = %v.action, status = status.as_u16(), "signal")
        }
    }
    let (status, v) = result?;
    Ok((status, axum::Json(v)).into_response())
}

async fn receive(
    api: &Api,
    account: &str,
    bot: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(StatusCode, SignalView), ApiError> {
    let now = now_nanos();
    let parsed = parse(body)?;
    // The key is computed from the path; a bad account id is no bot of ours.
    let ns = api
        .config
        .tenancy
        .namespace(account)
        .map_err(|_| unauthenticated())?;
    let key = format!("{ns}/{bot}");
    let stored = api.ledger.signal_secret(&key).await?;
    match &stored {
        Some(s) if s.account == account && authentic(s, headers, body, &parsed) => {}
        _ => return Err(unauthenticated()),
    }
    let hash = content_hash(&parsed);
    // A repeat answers with the first result, however late it comes.
    match api.ledger.signal(&key, &parsed.id, &hash).await? {
        Some(Recorded::Repeat(first)) => return Ok((StatusCode::OK, view(first))),
        Some(Recorded::Conflict(first)) => return Err(conflict(&first)),
        Some(Recorded::New(_)) | None => {}
    }
    let timing = api.config.signals;
    if now.saturating_sub(parsed.ts) > nanos(timing.max_lag) {
        return Err(ApiError::invalid(
            "time",
            format!(
                "{} is older than the maximum lag of {} s",
                format_iso8601(parsed.ts),
                timing.max_lag.as_secs()
            ),
        ));
    }
    if parsed.ts.saturating_sub(now) > nanos(timing.max_skew) {
        return Err(ApiError::invalid(
            "time",
            format!(
                "{} is in the future (more than {} s ahead of the platform's clock)",
                format_iso8601(parsed.ts),
                timing.max_skew.as_secs()
            ),
        ));
    }
    takes(api, account, bot, &ns, parsed.action).await?;
    let recorded = api
        .ledger
        .record_signal(&NewSignal {
            bot: key.clone(),
            id: parsed.id.clone(),
            account: account.to_owned(),
            action: parsed.action.as_str().to_owned(),
            ts: parsed.ts,
            received_at: now,
            body_hash: hash,
        })
        .await?;
    match recorded {
        Recorded::New(s) => Ok((StatusCode::ACCEPTED, view(s))),
        Recorded::Repeat(s) => Ok((StatusCode::OK, view(s))),
        Recorded::Conflict(s) => Err(conflict(&s)),
    }
}

fn conflict(s: &StoredSignal) -> ApiError {
    ApiError::Conflict(format!(
        "signal {:?} was received before with other content ({} at {}); a new signal needs a new id",
        s.id,
        s.action,
        format_iso8601(s.ts)
    ))
}

/// Refuses a signal the bot's strategy does not take, with the reason.
async fn takes(
    api: &Api,
    account: &str,
    bot: &str,
    ns: &str,
    action: SignalAction,
) -> Result<(), ApiError> {
    let tb = api.own_bot(account, bot).await?;
    let name = &tb.spec.strategy_ref.name;
    let strategy = KubeApi::<Strategy>::namespaced(api.kube.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| kube_error(e, "Strategy"))?
        .ok_or_else(|| {
            ApiError::invalid(
                "bot",
                format!("bot {bot:?} names Strategy {name:?}, which does not exist"),
            )
        })?;
    let Some(params) = strategy
        .spec
        .signal
        .as_ref()
        .filter(|_| strategy.spec.type_ == StrategyType::Signal)
    else {
        return Err(ApiError::invalid(
            "bot",
            format!(
                "bot {bot:?} runs Strategy {name:?} of type {:?}, which does not take signals (use type Signal)",
                strategy.spec.type_
            ),
        ));
    };
    let wanted = match action {
        SignalAction::Enter => tradewind_crds::SignalAction::Enter,
        SignalAction::Exit => tradewind_crds::SignalAction::Exit,
        SignalAction::Flatten => tradewind_crds::SignalAction::Flatten,
    };
    if !params.actions.contains(&wanted) {
        return Err(ApiError::invalid(
            "action",
            format!("Strategy {name:?} does not take {action} signals"),
        ));
    }
    Ok(())
}

/// A bot's latest signals (up to 100), newest first.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/bots/{bot}/signals", tag = "signals",
    params(("account" = String, Path, description = "The account id"),
           ("bot" = String, Path, description = "The bot's name")),
    responses((status = 200, body = Vec<SignalView>)))]
pub async fn list(
    State(api): State<Arc<Api>>,
    caller: Caller,
    P((account, bot)): P<(String, String)>,
) -> Result<axum::Json<Vec<SignalView>>, ApiError> {
    access(&api, &caller, &account, Level::Read).await?;
    let tb = api.own_bot(&account, &bot).await?;
    let key = format!("{}/{bot}", tb.metadata.namespace.unwrap_or_default());
    let rows = api.ledger.recent_signals(&key, 100).await?;
    Ok(axum::Json(rows.into_iter().map(view).collect()))
}

/// Creates (or rotates) a bot's signal secret (owners and traders); shown in this answer only.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/bots/{bot}/signal-secret", tag = "signals",
    params(("account" = String, Path, description = "The account id"),
           ("bot" = String, Path, description = "The bot's name")),
    responses((status = 201, body = SecretCreated)))]
pub async fn create_secret(
    State(api): State<Arc<Api>>,
    caller: Caller,
    P((account, bot)): P<(String, String)>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, &'static str); 1],
        axum::Json<SecretCreated>,
    ),
    ApiError,
> {
    access(&api, &caller, &account, Level::Trade).await?;
    let tb = api.own_bot(&account, &bot).await?;
    let key = format!("{}/{bot}", tb.metadata.namespace.unwrap_or_default());
    use base64::Engine;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crate::random::<32>());
    api.ledger
        .set_signal_secret(&SignalSecret {
            bot: key.clone(),
            account: account.clone(),
            secret_hash: sha256_hex(secret.as_bytes()),
            created_by: caller.actor(),
            created_at: now_nanos(),
        })
        .await?;
    tracing::info!(bot = %key, %account, by = %caller.label(), "signal secret created");
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(SecretCreated { bot: key, secret }),
    ))
}

/// Removes a bot's signal secret: its webhook refuses every signal until a new one.
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/bots/{bot}/signal-secret", tag = "signals",
    params(("account" = String, Path, description = "The account id"),
           ("bot" = String, Path, description = "The bot's name")),
    responses((status = 204, description = "Removed")))]
pub async fn delete_secret(
    State(api): State<Arc<Api>>,
    caller: Caller,
    P((account, bot)): P<(String, String)>,
) -> Result<StatusCode, ApiError> {
    access(&api, &caller, &account, Level::Trade).await?;
    let tb = api.own_bot(&account, &bot).await?;
    let key = format!("{}/{bot}", tb.metadata.namespace.unwrap_or_default());
    if !api.ledger.delete_signal_secret(&key).await? {
        return Err(ApiError::NotFound(format!(
            "bot {bot:?} has no signal secret"
        )));
    }
    tracing::info!(bot = %key, %account, by = %caller.label(), "signal secret removed");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_text_bodies_parse_alike() {
        let json = parse(br#"{"id":"tv-1","action":"buy","time":"2026-01-02T03:04:05Z","secret":"s","ticker":"BTCUSDT"}"#).unwrap();
        let text =
            parse(b"action=buy id=tv-1 time=2026-01-02T03:04:05Z\nsecret=s ticker=BTCUSDT\n")
                .unwrap();
        assert_eq!(json, text);
        assert_eq!(json.action, SignalAction::Enter);
        assert_eq!(content_hash(&json), content_hash(&text));
    }

    #[test]
    fn bad_bodies_name_the_field_and_never_echo_the_secret() {
        let e = parse(b"action=enter id=a time=2026-01-02T03:04:05Z secret").unwrap_err();
        assert!(!e.to_string().contains("secret\""), "{e}");
        let e = parse(b"action=enter id=a time=2026-01-02T03:04:05Z price=1").unwrap_err();
        assert_eq!(e.problem().field.as_deref(), Some("price"));
        let e = parse(br#"{"id":"a","action":"short","time":"2026-01-02T03:04:05Z"}"#).unwrap_err();
        assert_eq!(e.problem().field.as_deref(), Some("action"));
        let e =
            parse(br#"{"id":"a b","action":"exit","time":"2026-01-02T03:04:05Z"}"#).unwrap_err();
        assert_eq!(e.problem().field.as_deref(), Some("id"));
        let e = parse(br#"{"id":"a","action":"exit","time":"yesterday"}"#).unwrap_err();
        assert_eq!(e.problem().field.as_deref(), Some("time"));
        let e = parse(br#"{"id":"a","action":"exit","time":"2026-01-02T03:04:05Z","qty":1}"#)
            .unwrap_err();
        assert!(e.to_string().contains("qty"), "{e}");
        let e = parse(b"action=exit time=2026-01-02T03:04:05Z").unwrap_err();
        assert_eq!(e.problem().field.as_deref(), Some("id"));
    }

    #[test]
    fn only_posts_to_a_bots_signals_skip_the_api_credentials() {
        assert!(is_webhook(
            &Method::POST,
            "/api/v1/accounts/acme/bots/btc/signals"
        ));
        assert!(!is_webhook(
            &Method::GET,
            "/api/v1/accounts/acme/bots/btc/signals"
        ));
        assert!(!is_webhook(
            &Method::POST,
            "/api/v1/accounts/acme/bots/btc/signal-secret"
        ));
        assert!(!is_webhook(
            &Method::POST,
            "/api/v1/accounts/acme/bots/a/b/signals"
        ));
        assert!(!is_webhook(&Method::POST, "/api/v1/accounts/acme/signals"));
    }
}
