//! `/api/v1/accounts/{account}/notifications`: an account's notification channels
//! (webhooks, Telegram, email), each channel's routing rules (on, silent or off per event
//! kind), a test message, and the deliveries with their dead letters. Owners (and
//! admins) write, every member reads; another account's objects are not found.
//!
//! A channel's secret is never answered: a webhook's signing secret is generated and
//! shown once, in the answer that creates the channel; a Telegram bot token or an SMTP
//! password is given once and stored sealed.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use base64::Engine;
use serde::{Deserialize, Serialize};
use tradewind_core::data::time::format_iso8601;
use tradewind_ledger::accounts::now_nanos;
use tradewind_ledger::notify::{Channel, Delivery};
use tradewind_notify::{ChannelKind, Kind, Mode, Notice, Rules, Sealer, Settings};
use utoipa::OpenApi;

use crate::Api;
use crate::auth::{Caller, Level};
use crate::problem::ApiError;
use crate::routes::{J, P, Q, access};

type Ctx = State<Arc<Api>>;
type R<T> = Result<T, ApiError>;

/// A channel, without its secret.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelView {
    /// `ch_…`.
    pub id: String,
    /// Its name for people.
    pub name: String,
    /// `webhook`, `telegram` or `email`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The settings: `{"type":"webhook","url"}`, `{"type":"telegram","chatId"}` or
    /// `{"type":"email","host","port","security","username","from","to"}`.
    #[schema(value_type = Object)]
    pub settings: Settings,
    /// Every event kind with its mode (`on`, `silent`, `off`).
    #[schema(value_type = RulesDoc)]
    pub rules: BTreeMap<Kind, Mode>,
    /// A secret is stored (it is never shown).
    pub secret_set: bool,
    /// RFC 3339.
    pub created_at: String,
}

/// A channel to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelCreate {
    /// Its name for people.
    pub name: String,
    /// The settings (see [`ChannelView`]'s).
    #[schema(value_type = Object)]
    pub settings: Settings,
    /// The Telegram bot's token, or the SMTP password (none for a webhook: its signing
    /// secret is generated).
    #[serde(default)]
    pub secret: Option<String>,
    /// Modes by event kind; a kind not named is `on`.
    #[serde(default)]
    #[schema(value_type = Option<RulesDoc>)]
    pub rules: Option<Rules>,
}

/// A channel just created.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelCreated {
    /// The channel.
    pub channel: ChannelView,
    /// A webhook's signing secret, shown in this answer only (verify the
    /// `tradewind-signature` header with it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
}

/// A delivery of one event to one channel.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    /// Its id: also the `idempotency-key` header and the mail's `Message-ID`.
    pub id: String,
    /// The event it is about.
    pub event: String,
    /// The channel.
    pub channel: String,
    /// The event kind.
    pub kind: String,
    /// Delivered without an alert.
    pub silent: bool,
    /// `pending`, `sending`, `delivered`, `dead` (a dead letter) or `canceled`.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// RFC 3339: the next attempt (pending).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// The last failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
}

/// A page of deliveries, newest first.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPage {
    /// The rows.
    pub items: Vec<DeliveryView>,
    /// Opaque; pass as `cursor` with the same filter (absent: the last page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The deliveries' filter and page.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// One status only, e.g. `dead` for the dead letters.
    #[param(pattern = "^(pending|sending|delivered|dead|canceled)$")]
    pub status: Option<String>,
    /// Rows per page (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The previous page's `nextCursor`.
    pub cursor: Option<String>,
}

/// A mode of the document's rules (the notify crate's [`Mode`]).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
enum ModeName {
    /// Delivered with an alert.
    On,
    /// Delivered without an alert.
    Silent,
    /// Not delivered.
    Off,
}

/// A channel's routing rules as the document states them: a mode per event kind (the
/// notify crate's [`Rules`]; no other kinds).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct RulesDoc {
    #[schema(nullable = false)]
    fill: Option<ModeName>,
    #[schema(nullable = false)]
    order_rejected: Option<ModeName>,
    #[schema(nullable = false)]
    bot_halted: Option<ModeName>,
    #[schema(nullable = false)]
    stop_loss: Option<ModeName>,
    #[schema(nullable = false)]
    error: Option<ModeName>,
    #[schema(nullable = false)]
    daily_summary: Option<ModeName>,
    #[schema(nullable = false)]
    statement_ready: Option<ModeName>,
    #[schema(nullable = false)]
    referral_payout: Option<ModeName>,
}

/// A delivery enqueued.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Enqueued {
    /// The delivery's id.
    pub delivery: String,
}

fn view(c: Channel) -> ChannelView {
    ChannelView {
        kind: c.settings.kind().as_str().into(),
        rules: c.rules.full(),
        secret_set: !c.sealed_secret.is_empty(),
        created_at: format_iso8601(c.created_at),
        id: c.id,
        name: c.name,
        settings: c.settings,
    }
}

fn delivery_view(d: Delivery) -> DeliveryView {
    DeliveryView {
        next_attempt_at: (d.status == "pending").then(|| format_iso8601(d.next_attempt_at)),
        delivered_at: d.delivered_at.map(format_iso8601),
        created_at: format_iso8601(d.created_at),
        id: d.id,
        event: d.event_id,
        channel: d.channel_id,
        kind: d.kind,
        silent: d.silent,
        status: d.status,
        attempts: d.attempts,
        last_error: d.last_error,
    }
}

/// The platform's sealer; without one notifications are off — a refusal that no retry
/// mends, so not a 5xx.
fn sealer(api: &Api) -> R<&Sealer> {
    api.config.notify_key.as_deref().ok_or_else(|| {
        ApiError::Forbidden(
            "notifications are off on this platform (it runs without --notify-key)".into(),
        )
    })
}

async fn channel(api: &Api, account: &str, id: &str) -> R<Channel> {
    api.ledger
        .channel(account, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no channel {id:?} in account {account:?}")))
}

/// The account's notification channels.
#[utoipa::path(get, path = "/accounts/{account}/notifications/channels", tag = "notifications",
    params(("account" = String, Path, description = "The account id")),
    responses((status = 200, body = Vec<ChannelView>)))]
pub async fn list_channels(
    State(api): Ctx,
    caller: Caller,
    P(account): P<String>,
) -> R<axum::Json<Vec<ChannelView>>> {
    access(&api, &caller, &account, Level::Read).await?;
    Ok(axum::Json(
        api.ledger
            .channels(&account)
            .await?
            .into_iter()
            .map(view)
            .collect(),
    ))
}

/// Creates a channel (owners).
#[utoipa::path(post, path = "/accounts/{account}/notifications/channels", tag = "notifications",
    params(("account" = String, Path, description = "The account id")),
    request_body = ChannelCreate,
    responses((status = 201, body = ChannelCreated)))]
pub async fn create_channel(
    State(api): Ctx,
    caller: Caller,
    P(account): P<String>,
    J(body): J<ChannelCreate>,
) -> R<(StatusCode, axum::Json<ChannelCreated>)> {
    access(&api, &caller, &account, Level::Manage).await?;
    let sealer = sealer(&api)?;
    if body.name.trim().is_empty() || body.name.len() > 200 {
        return Err(ApiError::invalid("name", "1 to 200 characters"));
    }
    body.settings.check().map_err(notify_error)?;
    let (secret, shown) = match (body.settings.kind(), body.secret) {
        (ChannelKind::Webhook, Some(_)) => {
            return Err(ApiError::invalid(
                "secret",
                "a webhook's signing secret is generated; leave it out",
            ));
        }
        (ChannelKind::Webhook, None) => {
            let s = tradewind_notify::new_secret();
            (s.clone(), Some(s))
        }
        (ChannelKind::Telegram, Some(t))
            if !t.is_empty() && t.len() <= 200 && !t.contains(char::is_whitespace) =>
        {
            (t, None)
        }
        (ChannelKind::Telegram, _) => {
            return Err(ApiError::invalid(
                "secret",
                "the Telegram bot's token (from @BotFather)",
            ));
        }
        (ChannelKind::Email, s) => (s.unwrap_or_default(), None),
    };
    if let Settings::Email {
        username: Some(u),
        security,
        ..
    } = &body.settings
        && !u.is_empty()
        && *security == tradewind_notify::Security::None
    {
        return Err(ApiError::invalid(
            "settings.security",
            "a login is never sent without TLS: starttls or tls",
        ));
    }
    let id = tradewind_notify::new_channel_id();
    let c = Channel {
        sealed_secret: sealer.seal(&id, &secret),
        id,
        account: account.clone(),
        name: body.name,
        settings: body.settings,
        rules: body.rules.unwrap_or_default(),
        created_at: now_nanos(),
    };
    api.ledger.create_channel(&c).await?;
    tracing::info!(channel = %c.id, %account, kind = c.settings.kind().as_str(), by = %caller.label(), "api: notification channel created");
    Ok((
        StatusCode::CREATED,
        axum::Json(ChannelCreated {
            channel: view(c),
            signing_secret: shown,
        }),
    ))
}

fn notify_error(e: tradewind_notify::NotifyError) -> ApiError {
    match e {
        tradewind_notify::NotifyError::Invalid { field, reason } => {
            ApiError::invalid(field, reason)
        }
        other => ApiError::Unavailable(other.to_string()),
    }
}

/// One channel.
#[utoipa::path(get, path = "/accounts/{account}/notifications/channels/{channel}", tag = "notifications",
    params(("account" = String, Path, description = "The account id"),
           ("channel" = String, Path, description = "The channel's id")),
    responses((status = 200, body = ChannelView)))]
pub async fn get_channel(
    State(api): Ctx,
    caller: Caller,
    P((account, id)): P<(String, String)>,
) -> R<axum::Json<ChannelView>> {
    access(&api, &caller, &account, Level::Read).await?;
    Ok(axum::Json(view(channel(&api, &account, &id).await?)))
}

/// Deletes a channel (owners); its pending deliveries are canceled.
#[utoipa::path(delete, path = "/accounts/{account}/notifications/channels/{channel}", tag = "notifications",
    params(("account" = String, Path, description = "The account id"),
           ("channel" = String, Path, description = "The channel's id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_channel(
    State(api): Ctx,
    caller: Caller,
    P((account, id)): P<(String, String)>,
) -> R<StatusCode> {
    access(&api, &caller, &account, Level::Manage).await?;
    if !api.ledger.delete_channel(&account, &id).await? {
        return Err(ApiError::NotFound(format!(
            "no channel {id:?} in account {account:?}"
        )));
    }
    tracing::info!(channel = %id, %account, by = %caller.label(), "api: notification channel deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a test message to the channel (owners), whatever its rules: enqueued, then
/// delivered by the dispatcher like any notification (see the deliveries).
#[utoipa::path(post, path = "/accounts/{account}/notifications/channels/{channel}/test", tag = "notifications",
    params(("account" = String, Path, description = "The account id"),
           ("channel" = String, Path, description = "The channel's id")),
    responses((status = 202, body = Enqueued)))]
pub async fn test_channel(
    State(api): Ctx,
    caller: Caller,
    P((account, id)): P<(String, String)>,
) -> R<(StatusCode, axum::Json<Enqueued>)> {
    access(&api, &caller, &account, Level::Manage).await?;
    let c = channel(&api, &account, &id).await?;
    sealer(&api)?;
    let now = now_nanos();
    let notice = Notice {
        event_id: format!("test/{id}/{now}"),
        account: account.clone(),
        kind: Kind::DailySummary,
        ts: now,
        bot: None,
        data: serde_json::json!({
            "day": "test",
            "text": format!("A test message to channel {:?}, sent by {}.", c.name, caller.label()),
        }),
    };
    let delivery = api.ledger.enqueue_test(&c, &notice).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(Enqueued { delivery })))
}

/// A channel's routing rules: every event kind with its mode.
#[utoipa::path(get, path = "/accounts/{account}/notifications/channels/{channel}/rules", tag = "notifications",
    params(("account" = String, Path, description = "The account id"),
           ("channel" = String, Path, description = "The channel's id")),
    responses((status = 200, body = RulesDoc)))]
pub async fn get_rules(
    State(api): Ctx,
    caller: Caller,
    P((account, id)): P<(String, String)>,
) -> R<axum::Json<BTreeMap<Kind, Mode>>> {
    access(&api, &caller, &account, Level::Read).await?;
    Ok(axum::Json(channel(&api, &account, &id).await?.rules.full()))
}

/// Replaces a channel's routing rules (owners): modes by event kind (`fill`,
/// `orderRejected`, `botHalted`, `stopLoss`, `error`, `dailySummary`, `statementReady`,
/// `referralPayout`) — `on`, `silent` or `off`; a kind not named is `on`.
#[utoipa::path(put, path = "/accounts/{account}/notifications/channels/{channel}/rules", tag = "notifications",
    params(("account" = String, Path, description = "The account id"),
           ("channel" = String, Path, description = "The channel's id")),
    request_body = RulesDoc,
    responses((status = 200, body = RulesDoc)))]
pub async fn put_rules(
    State(api): Ctx,
    caller: Caller,
    P((account, id)): P<(String, String)>,
    J(rules): J<Rules>,
) -> R<axum::Json<BTreeMap<Kind, Mode>>> {
    access(&api, &caller, &account, Level::Manage).await?;
    if !api.ledger.set_rules(&account, &id, &rules).await? {
        return Err(ApiError::NotFound(format!(
            "no channel {id:?} in account {account:?}"
        )));
    }
    Ok(axum::Json(rules.full()))
}

fn cursor(d: &Delivery) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}/{}", d.created_at, d.id))
}

fn decode_cursor(text: &str) -> R<(i64, String)> {
    let bad = || ApiError::invalid("cursor", "not a cursor this API gave");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| bad())?;
    let s = String::from_utf8(bytes).map_err(|_| bad())?;
    let (ts, id) = s.split_once('/').ok_or_else(bad)?;
    Ok((ts.parse().map_err(|_| bad())?, id.to_owned()))
}

/// The account's deliveries, newest first (`status=dead`: the dead letters).
#[utoipa::path(get, path = "/accounts/{account}/notifications/deliveries", tag = "notifications",
    params(("account" = String, Path, description = "The account id"), DeliveryQuery),
    responses((status = 200, body = DeliveryPage)))]
pub async fn deliveries(
    State(api): Ctx,
    caller: Caller,
    P(account): P<String>,
    Q(q): Q<DeliveryQuery>,
) -> R<axum::Json<DeliveryPage>> {
    access(&api, &caller, &account, Level::Read).await?;
    if let Some(s) = q.status.as_deref()
        && !["pending", "sending", "delivered", "dead", "canceled"].contains(&s)
    {
        return Err(ApiError::invalid(
            "status",
            format!("{s:?}: pending, sending, delivered, dead or canceled"),
        ));
    }
    let limit = i64::from(q.limit.unwrap_or(100));
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "1 to 1000"));
    }
    let before = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut rows = api
        .ledger
        .deliveries(
            &account,
            q.status.as_deref(),
            before.as_ref().map(|(t, i)| (*t, i.as_str())),
            limit + 1,
        )
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(cursor) } else { None };
    Ok(axum::Json(DeliveryPage {
        items: rows.into_iter().map(delivery_view).collect(),
        next_cursor,
    }))
}

/// Puts a dead letter back in the queue (owners): due now, its attempts from zero.
#[utoipa::path(post, path = "/accounts/{account}/notifications/deliveries/{delivery}/retry", tag = "notifications",
    params(("account" = String, Path, description = "The account id"),
           ("delivery" = String, Path, description = "The delivery's id")),
    responses((status = 202, body = Enqueued)))]
pub async fn retry_delivery(
    State(api): Ctx,
    caller: Caller,
    P((account, id)): P<(String, String)>,
) -> R<(StatusCode, axum::Json<Enqueued>)> {
    access(&api, &caller, &account, Level::Manage).await?;
    let Some(d) = api.ledger.delivery(&account, &id).await? else {
        return Err(ApiError::NotFound(format!(
            "no delivery {id:?} in account {account:?}"
        )));
    };
    if !api.ledger.retry_delivery(&account, &id).await? {
        return Err(ApiError::Conflict(format!(
            "delivery {id:?} is {}, not dead (or its channel was deleted): only a dead letter is retried",
            d.status
        )));
    }
    tracing::info!(delivery = %id, %account, by = %caller.label(), "api: dead letter retried");
    Ok((StatusCode::ACCEPTED, axum::Json(Enqueued { delivery: id })))
}

/// The notifications' part of the OpenAPI document (nested under `/api/v1`).
#[derive(OpenApi)]
#[openapi(paths(
    list_channels,
    create_channel,
    get_channel,
    delete_channel,
    test_channel,
    get_rules,
    put_rules,
    deliveries,
    retry_delivery
))]
pub struct NotifyDoc;

/// The notifications' routes, under `/api/v1`.
pub fn routes() -> Router<Arc<Api>> {
    let n = "/accounts/{account}/notifications";
    Router::new()
        .route(
            &format!("{n}/channels"),
            get(list_channels).post(create_channel),
        )
        .route(
            &format!("{n}/channels/{{channel}}"),
            get(get_channel).delete(delete_channel),
        )
        .route(
            &format!("{n}/channels/{{channel}}/test"),
            post(test_channel),
        )
        .route(
            &format!("{n}/channels/{{channel}}/rules"),
            get(get_rules).put(put_rules),
        )
        .route(&format!("{n}/deliveries"), get(deliveries))
        .route(
            &format!("{n}/deliveries/{{delivery}}/retry"),
            post(retry_delivery),
        )
}
