//! The `/api/v1` routes, their handlers and the OpenAPI document generated from them.
//! Each handler authorises by account first ([`access`]), then does one thing.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tradewind_charts::lttb;
use tradewind_core::data::time::{format_iso8601, parse_iso8601};
use tradewind_core::fixed::Money;
use tradewind_ledger::StatementKind;
use tradewind_ledger::accounts::{Role, now_nanos};
use tradewind_ledger::api::KeyScope;
use utoipa::OpenApi;

use crate::auth::{self, Caller, Level};
use crate::bots::{BotCreate, BotUpdate, BotView, StrategyView};
use crate::problem::{ApiError, Problem, json_field, named_field};
use crate::{Api, perf};

/// Where the OpenAPI document is served (without authentication).
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// The most rows a page holds.
const MAX_LIMIT: u32 = 1000;
/// The most equity snapshots one performance answer reads.
const MAX_SNAPSHOTS: i64 = 200_000;
/// The most points a performance curve may be reduced to (`points`).
const MAX_POINTS: u32 = 10_000;
/// A range's length when `from` is not given: 30 days.
const DEFAULT_RANGE: i64 = 30 * 86_400 * 1_000_000_000;

// ---------------------------------------------------------------------------------------
// Extractors whose refusals are problem documents.

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthenticated("no credentials".into()))
    }
}

/// Path parameters.
pub struct P<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for P<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| P(p.0))
            .map_err(|e| ApiError::malformed("path", e.body_text()))
    }
}

/// The query string; unknown parameters are refused.
pub struct Q<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Q(q.0))
            .map_err(|e| {
                let text = e.body_text();
                let field = named_field(&text)
                    .or_else(|| query_field(&text))
                    .unwrap_or_else(|| "query".into());
                ApiError::invalid(field, text)
            })
    }
}

/// The parameter a query string's refusal names: axum's text is `Failed to deserialize
/// query string: points: invalid digit found in string`.
fn query_field(text: &str) -> Option<String> {
    let rest = text.split_once("query string: ")?.1;
    let (name, _) = rest.split_once(": ")?;
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then(|| name.to_owned())
}

/// A JSON body; unknown fields are refused, the field at fault named.
pub struct J<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for J<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().unwrap_or("").trim() == "application/json");
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "the body must be application/json".into(),
            ));
        }
        let bytes = bytes::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::malformed("body", e.body_text()))?;
        serde_json::from_slice(&bytes).map(J).map_err(|e| {
            let field = json_field(&e);
            if e.is_data() {
                ApiError::invalid(field, e.to_string())
            } else {
                ApiError::malformed(field, e.to_string())
            }
        })
    }
}

// ---------------------------------------------------------------------------------------
// Authorisation.

/// The caller's level in `account`, refused unless at least `need`: no access is a 404.
pub async fn access(
    api: &Api,
    caller: &Caller,
    account: &str,
    need: Level,
) -> Result<Level, ApiError> {
    let role = match caller {
        Caller::User { subject, admin } if !admin => {
            api.ledger.member_role(account, subject).await?
        }
        _ => None,
    };
    let have = auth::level(caller, account, role);
    // An admin asking for an account that does not exist: not found either.
    if have == Some(Level::Admin) && !api.ledger.has_account(account).await? {
        return Err(ApiError::NotFound(format!("no account {account:?}")));
    }
    auth::authorise(have, need, account)
}

/// The least access a route needs, as a type: [`In`]'s parameter.
pub trait Need {
    /// The level.
    const LEVEL: Level;
}

/// Reading the account.
pub struct Read;
/// Trading in the account (bots).
pub struct Trade;
/// Managing the account (members, keys).
pub struct Manage;
/// Platform admins only.
pub struct Admin;

impl Need for Read {
    const LEVEL: Level = Level::Read;
}
impl Need for Trade {
    const LEVEL: Level = Level::Trade;
}
impl Need for Manage {
    const LEVEL: Level = Level::Manage;
}
impl Need for Admin {
    const LEVEL: Level = Level::Admin;
}

/// A request on `/accounts/{account}/...` by a caller with at least `L` in the account:
/// every account route starts from it, so none can forget to authorise. Refused as
/// [`access`] refuses (no access at all is a 404).
pub struct In<L> {
    /// The service.
    pub api: Arc<Api>,
    /// Who is calling.
    pub caller: Caller,
    /// The account (the `account` path parameter).
    pub account: String,
    /// The route's other path parameter (a bot, subject, key id or settlement); empty
    /// when it has none.
    pub item: String,
    /// The caller's level in the account.
    pub level: Level,
    need: std::marker::PhantomData<L>,
}

impl<L: Need> FromRequestParts<Arc<Api>> for In<L> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, api).await?;
        let params = axum::extract::RawPathParams::from_request_parts(parts, api)
            .await
            .map_err(|e| ApiError::malformed("path", e.body_text()))?;
        let (mut account, mut item) = (None, String::new());
        for (name, value) in &params {
            if name == "account" {
                account = Some(value.to_owned());
            } else {
                item = value.to_owned();
            }
        }
        let account = account.ok_or_else(|| ApiError::malformed("path", "no account"))?;
        let level = access(api, &caller, &account, L::LEVEL).await?;
        Ok(In {
            api: api.clone(),
            caller,
            account,
            item,
            level,
            need: std::marker::PhantomData,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Wire types.

/// A member's role (the document's enumeration; the handlers parse the ledger's [`Role`]).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum RoleName {
    /// Everything in the account, members and keys too.
    Owner,
    /// Reads, and trades with bots.
    Trader,
    /// Reads.
    Viewer,
}

/// An API key's scope (the document's enumeration of [`KeyScope`]).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ScopeName {
    /// Reads.
    Read,
    /// Reads, and trades with bots.
    Trade,
    /// Everything an owner may.
    Admin,
}

/// An account the caller belongs to.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Membership {
    /// The account.
    pub account: String,
    /// `owner`, `trader` or `viewer` (a key: its scope).
    pub role: String,
}

/// Who is calling.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// The user's subject, or `key:<id>` for an API key.
    pub subject: String,
    /// A platform admin.
    pub admin: bool,
    /// The accounts the caller belongs to.
    pub accounts: Vec<Membership>,
}

/// An account.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    /// Its id.
    pub id: String,
    /// Its name for people.
    pub display_name: String,
    /// What the caller may do in it: `read`, `trade`, `manage` or `admin`.
    pub access: String,
}

/// A member of an account.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Member {
    /// The user's subject.
    pub subject: String,
    /// `owner`, `trader` or `viewer`.
    pub role: String,
}

/// A member's new role.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRole {
    /// `owner`, `trader` or `viewer`.
    #[schema(value_type = RoleName)]
    pub role: String,
}

/// An account's place in the referral tree, now.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Referrals {
    /// Who refers the account.
    pub referrer: Option<String>,
    /// The referral chain above it, nearest first.
    pub chain: Vec<String>,
    /// The accounts it refers.
    pub referred: Vec<String>,
}

/// A referrer to record.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferrerSet {
    /// The referring account.
    pub referrer: String,
    /// From when (RFC 3339 or a date); now when not given.
    #[serde(default)]
    #[schema(value_type = Option<Instant>)]
    pub from: Option<String>,
}

/// A settlement with a statement for the account.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettlementView {
    /// Its id (`<plan>/<period start>`): the statement's path.
    pub id: String,
    /// The CommissionPlan.
    pub plan: String,
    /// RFC 3339.
    pub period_start: String,
    /// RFC 3339.
    pub period_end: String,
    /// The currency.
    pub currency: String,
    /// RFC 3339.
    pub settled_at: String,
}

/// A commission charge.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Charge {
    /// Its id.
    pub id: String,
    /// The settlement that booked it.
    pub settlement: String,
    /// The bot (`namespace/name`).
    pub bot: String,
    /// `trading` or `performance`.
    pub kind: String,
    /// RFC 3339.
    pub ts: String,
    /// Decimal.
    pub amount: String,
    /// The currency.
    pub currency: String,
}

/// A fill.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fill {
    /// The event id.
    pub id: String,
    /// The bot (`namespace/name`).
    pub bot: String,
    /// The worker session.
    pub session: String,
    /// The order it filled.
    pub order_id: i64,
    /// RFC 3339.
    pub ts: String,
    /// `buy` or `sell`.
    pub side: String,
    /// Decimal.
    pub price: String,
    /// Decimal.
    pub quantity: String,
    /// Decimal: price × quantity.
    pub notional: String,
    /// The quote currency.
    pub currency: String,
    /// Decimal.
    pub venue_fee: String,
    /// `maker` or `taker`.
    pub liquidity: String,
}

/// An order and its last known status.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// The bot (`namespace/name`).
    pub bot: String,
    /// The worker session.
    pub session: String,
    /// The order id (per session).
    pub order_id: i64,
    /// `buy` or `sell`.
    pub side: String,
    /// The order type.
    pub order_type: String,
    /// Decimal.
    pub quantity: String,
    /// Decimal.
    pub limit_price: Option<String>,
    /// Decimal.
    pub trigger_price: Option<String>,
    /// The time in force.
    pub time_in_force: String,
    /// `submitted`, `accepted`, `rejected`, `canceled` or `filled`.
    pub status: String,
    /// RFC 3339.
    pub submitted_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// A page of rows; `nextCursor` fetches the next (absent: the last page).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The rows, in time order.
    pub items: Vec<T>,
    /// Opaque; pass as `cursor` with the same filters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One point of an equity curve.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Point {
    /// RFC 3339.
    pub ts: String,
    /// Decimal.
    pub equity: String,
}

/// An equity curve in one currency and what it says.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Curve {
    /// The currency.
    pub currency: String,
    /// The points, in time order (at most `points` of them when asked).
    pub points: Vec<Point>,
    /// Decimal: the last point's equity less the first's.
    pub pnl: String,
    /// Decimal: the largest fall from a running peak.
    pub max_drawdown: String,
    /// Decimal fraction of its peak (6 decimals); absent when the peak is not positive.
    pub max_drawdown_ratio: Option<String>,
}

/// Performance over a range: a curve per currency.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Performance {
    /// RFC 3339 (inclusive).
    pub from: String,
    /// RFC 3339 (exclusive).
    pub to: String,
    /// One per currency (none when there are no snapshots in the range).
    pub curves: Vec<Curve>,
}

/// An API key (never its secret).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    /// Its id (the `tw-key` header).
    pub id: String,
    /// Its name.
    pub name: String,
    /// `read`, `trade` or `admin`.
    pub scope: String,
    /// Who created it.
    pub created_by: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, when revoked.
    pub revoked_at: Option<String>,
}

/// A key to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyCreate {
    /// Its name for people (not blank).
    #[schema(min_length = 1, pattern = r"\S")]
    pub name: String,
    /// `read`, `trade` or `admin`.
    #[schema(value_type = ScopeName)]
    pub scope: String,
}

/// A created key: the secret is shown this once.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyCreated {
    /// Its id (the `tw-key` header).
    pub id: String,
    /// The secret: sign with its SHA-256 (see the README); never shown again.
    pub secret: String,
    /// `read`, `trade` or `admin`.
    pub scope: String,
    /// The account.
    pub account: String,
}

/// A date (`2026-11-02`) or an RFC 3339 instant, as the document states a range's `from`
/// and `to` (the handlers parse them with [`instant`]).
pub struct Instant;

impl utoipa::PartialSchema for Instant {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            // Days 29 to 31 are left out: not every month has them, and a pattern cannot
            // tell which.
            .pattern(Some(INSTANT_PATTERN))
            .description(Some("A date (2026-11-02) or an RFC 3339 instant"))
            .into()
    }
}

impl utoipa::ToSchema for Instant {}

/// [`Instant`]'s pattern.
const INSTANT_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$";

/// A performance range: `from` inclusive, `to` exclusive (RFC 3339 or a date); 30 days
/// up to now when not given. `points` bounds the curve's length.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PerformanceQuery {
    /// Start (inclusive).
    #[param(value_type = Option<Instant>)]
    pub from: Option<String>,
    /// End (exclusive).
    #[param(value_type = Option<Instant>)]
    pub to: Option<String>,
    /// At most this many points per curve, 2 to 10000 (every snapshot when absent),
    /// chosen by largest-triangle-three-buckets: the first and last are kept and the
    /// curve keeps its shape. PnL and drawdown are still computed from every snapshot.
    #[param(minimum = 2, maximum = 10000)]
    pub points: Option<u32>,
}

/// A page of history.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// One bot's rows only (its name).
    pub bot: Option<String>,
    /// Start (inclusive).
    #[param(value_type = Option<Instant>)]
    pub from: Option<String>,
    /// End (exclusive).
    #[param(value_type = Option<Instant>)]
    pub to: Option<String>,
    /// Rows per page, 1 to 1000 (100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// From the previous page's `nextCursor`.
    pub cursor: Option<String>,
}

/// A page of the account's charges (they are listed per account: no `bot`).
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChargeQuery {
    /// Start (inclusive).
    #[param(value_type = Option<Instant>)]
    pub from: Option<String>,
    /// End (exclusive).
    #[param(value_type = Option<Instant>)]
    pub to: Option<String>,
    /// Rows per page, 1 to 1000 (100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// From the previous page's `nextCursor`.
    pub cursor: Option<String>,
}

/// A statement's format.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` (the default) or `csv`.
    pub format: Option<Format>,
}

/// A statement's format.
#[derive(Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `application/json`.
    #[default]
    Json,
    /// `text/csv`.
    Csv,
}

// ---------------------------------------------------------------------------------------
// Helpers.

/// A page's window: from, to, page size and the cursor's (time, id) to start after.
type Window = (i64, i64, i64, Option<(i64, String)>);

/// The range, the page size and where the page starts, each checked.
fn window(
    from: Option<&str>,
    to: Option<&str>,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> R<Window> {
    let (from, to) = range(from, to)?;
    let limit = limit_of(limit)?;
    let after = cursor.map(decode_cursor).transpose()?;
    Ok((from, to, limit, after))
}

impl PageQuery {
    fn window(&self) -> R<Window> {
        window(
            self.from.as_deref(),
            self.to.as_deref(),
            self.limit,
            self.cursor.as_deref(),
        )
    }
}

fn instant(field: &str, text: &str) -> Result<i64, ApiError> {
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    parse_iso8601(&full).map_err(|e| {
        ApiError::invalid(
            field,
            format!("{text:?}: not a date or RFC 3339 instant: {e}"),
        )
    })
}

fn range(from: Option<&str>, to: Option<&str>) -> Result<(i64, i64), ApiError> {
    let to = match to {
        Some(t) => instant("to", t)?,
        None => now_nanos(),
    };
    let from = match from {
        Some(f) => instant("from", f)?,
        None => to.saturating_sub(DEFAULT_RANGE),
    };
    if from >= to {
        return Err(ApiError::invalid("from", "must be before `to`"));
    }
    Ok((from, to))
}

fn encode_cursor(ts: i64, id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{ts}|{id}"))
}

fn decode_cursor(text: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::invalid("cursor", "not a cursor this API gave out");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (ts, id) = raw.split_once('|').ok_or_else(bad)?;
    Ok((ts.parse().map_err(|_| bad())?, id.to_owned()))
}

fn limit_of(limit: Option<u32>) -> Result<i64, ApiError> {
    match limit.unwrap_or(100) {
        n @ 1..=MAX_LIMIT => Ok(i64::from(n)),
        n => Err(ApiError::invalid(
            "limit",
            format!("{n}: must be 1 to {MAX_LIMIT}"),
        )),
    }
}

/// The ledger's key of an account's bot: `namespace/name`.
fn bot_key(api: &Api, account: &str, bot: &str) -> Result<String, ApiError> {
    Ok(format!("{}/{bot}", api.config.tenancy.namespace(account)?))
}

fn page<T>(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> (i64, String)) -> Page<T> {
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|last| {
            let (ts, id) = key(last);
            encode_cursor(ts, &id)
        })
    } else {
        None
    };
    Page { items, next_cursor }
}

fn money(what: &str, text: &str) -> Result<Money, ApiError> {
    Money::parse(text).map_err(|e| {
        tracing::error!(%what, %text, error = %e, "the ledger holds money that does not parse");
        ApiError::Unavailable(
            "the ledger holds data that does not read; the operator is told".into(),
        )
    })
}

/// `points`, checked: 2 to [`MAX_POINTS`].
fn points_of(points: Option<u32>) -> Result<Option<usize>, ApiError> {
    match points {
        None => Ok(None),
        Some(n @ 2..=MAX_POINTS) => Ok(Some(n as usize)),
        Some(n) => Err(ApiError::invalid(
            "points",
            format!("{n}: must be 2 to {MAX_POINTS}"),
        )),
    }
}

/// The curve's answer: PnL and drawdown from every point; the points returned reduced to
/// at most `max` by largest-triangle-three-buckets (first and last kept) when given.
fn curve(
    currency: String,
    points: Vec<(i64, Money)>,
    max: Option<usize>,
) -> Result<Curve, ApiError> {
    let s = perf::summarize(&points)
        .ok_or_else(|| ApiError::Unavailable("the equity curve overflows".into()))?;
    let point = |ts: i64, m: Money| Point {
        ts: format_iso8601(ts),
        equity: m.to_string(),
    };
    let shown: Vec<Point> = match max {
        Some(max) if points.len() > max => {
            let indexed: Vec<lttb::Point<Money>> = points
                .iter()
                .zip(0u64..)
                .map(|(&(ts, value), index)| lttb::Point { index, ts, value })
                .collect();
            lttb::lttb(&indexed, max, Money::as_f64)
                .into_iter()
                .map(|p| point(p.ts, p.value))
                .collect()
        }
        _ => points.iter().map(|&(ts, m)| point(ts, m)).collect(),
    };
    Ok(Curve {
        currency,
        points: shown,
        pnl: s.pnl.to_string(),
        max_drawdown: s.max_drawdown.to_string(),
        max_drawdown_ratio: s.max_drawdown_ratio.map(|r| r.to_string()),
    })
}

type Ctx = State<Arc<Api>>;
type R<T> = Result<T, ApiError>;

// ---------------------------------------------------------------------------------------
// Handlers.

/// Who is calling, and their accounts.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    responses((status = 200, body = Me)))]
pub async fn me(State(api): Ctx, caller: Caller) -> R<axum::Json<Me>> {
    let accounts = match &caller {
        Caller::User { subject, .. } => api
            .ledger
            .memberships(subject)
            .await?
            .into_iter()
            .map(|(account, role)| Membership {
                account,
                role: role.as_str().into(),
            })
            .collect(),
        Caller::Key {
            account: Some(a),
            scope,
            ..
        } => vec![Membership {
            account: a.clone(),
            role: scope.as_str().into(),
        }],
        Caller::Key { .. } => vec![],
    };
    Ok(axum::Json(Me {
        subject: caller.actor(),
        admin: caller.is_admin(),
        accounts,
    }))
}

/// An account.
#[utoipa::path(get, path = "/api/v1/accounts/{account}", tag = "accounts",
    params(("account" = String, Path, description = "The account id")),
    responses((status = 200, body = AccountView)))]
pub async fn account(
    In {
        api,
        account,
        level,
        ..
    }: In<Read>,
) -> R<axum::Json<AccountView>> {
    let display_name = api
        .ledger
        .account_name(&account)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no account {account:?}")))?;
    Ok(axum::Json(AccountView {
        id: account,
        display_name,
        access: level.as_str().into(),
    }))
}

/// An account's members.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/members", tag = "accounts",
    params(("account" = String, Path, description = "The account id")),
    responses((status = 200, body = Vec<Member>)))]
pub async fn members(In { api, account, .. }: In<Read>) -> R<axum::Json<Vec<Member>>> {
    Ok(axum::Json(
        api.ledger
            .members(&account)
            .await?
            .into_iter()
            .map(|(subject, role)| Member { subject, role })
            .collect(),
    ))
}

/// Adds a member or changes their role (owners).
#[utoipa::path(put, path = "/api/v1/accounts/{account}/members/{subject}", tag = "accounts",
    params(("account" = String, Path, description = "The account id"),
           ("subject" = String, Path, description = "The user's subject")),
    request_body = MemberRole,
    responses((status = 200, body = Member)))]
pub async fn put_member(
    In {
        api,
        account,
        item: subject,
        ..
    }: In<Manage>,
    J(body): J<MemberRole>,
) -> R<axum::Json<Member>> {
    let role: Role = body.role.parse().map_err(ApiError::from)?;
    api.ledger.add_member(&account, &subject, role).await?;
    Ok(axum::Json(Member {
        subject,
        role: role.as_str().into(),
    }))
}

/// Removes a member (owners).
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/members/{subject}", tag = "accounts",
    params(("account" = String, Path, description = "The account id"),
           ("subject" = String, Path, description = "The user's subject")),
    responses((status = 204, description = "Removed")))]
pub async fn delete_member(
    In {
        api,
        account,
        item: subject,
        ..
    }: In<Manage>,
) -> R<StatusCode> {
    if api.ledger.remove_member(&account, &subject).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "{subject:?} is no member of {account:?}"
        )))
    }
}

/// The account's place in the referral tree.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/referrals", tag = "accounts",
    params(("account" = String, Path, description = "The account id")),
    responses((status = 200, body = Referrals)))]
pub async fn referrals(In { api, account, .. }: In<Read>) -> R<axum::Json<Referrals>> {
    Ok(axum::Json(referrals_of(&api, &account).await?))
}

/// An account's place in the referral tree, now.
pub async fn referrals_of(api: &Api, account: &str) -> R<Referrals> {
    Ok(Referrals {
        referrer: api.ledger.referrer(account).await?,
        chain: api.ledger.referral_chain(account, now_nanos(), 16).await?,
        referred: api.ledger.referred(account).await?,
    })
}

/// Records the account's referrer (platform admins).
#[utoipa::path(put, path = "/api/v1/accounts/{account}/referrer", tag = "accounts",
    params(("account" = String, Path, description = "The account id")),
    request_body = ReferrerSet,
    responses((status = 200, body = Referrals)))]
pub async fn put_referrer(
    In { api, account, .. }: In<Admin>,
    J(body): J<ReferrerSet>,
) -> R<axum::Json<Referrals>> {
    let from = match &body.from {
        Some(t) => instant("from", t)?,
        None => now_nanos(),
    };
    api.ledger
        .set_referrer(&account, &body.referrer, from)
        .await?;
    Ok(axum::Json(referrals_of(&api, &account).await?))
}

/// Ends the account's referral now (platform admins).
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/referrer", tag = "accounts",
    params(("account" = String, Path, description = "The account id")),
    responses((status = 204, description = "Ended")))]
pub async fn delete_referrer(In { api, account, .. }: In<Admin>) -> R<StatusCode> {
    api.ledger.end_referral(&account, now_nanos()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn settlements(api: &Api, kind: StatementKind, subject: &str) -> R<Vec<SettlementView>> {
    Ok(api
        .ledger
        .settlements_of(kind, subject)
        .await?
        .into_iter()
        .map(|s| SettlementView {
            id: s.id,
            plan: s.plan,
            period_start: format_iso8601(s.period_start),
            period_end: format_iso8601(s.period_end),
            currency: s.currency,
            settled_at: format_iso8601(s.settled_at),
        })
        .collect())
}

async fn statement(
    api: &Api,
    kind: StatementKind,
    subject: &str,
    settlement: &str,
    format: Format,
) -> R<Response> {
    let (json, text) = api
        .ledger
        .statement(settlement, kind, subject)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no {} statement of {subject:?} in settlement {settlement:?}",
                kind.as_str()
            ))
        })?;
    let (body, media) = match format {
        Format::Csv => (text, "text/csv; charset=utf-8"),
        Format::Json => (json, "application/json"),
    };
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    Ok(r)
}

/// One kind of statement's two routes: the settlements with a statement of that kind for
/// the account (newest first), and one of those statements as JSON or CSV. Statements
/// (the account charged) and payouts (the account paid) are the same but for the kind.
macro_rules! statement_routes {
    ($kind:expr, $list:ident = $list_path:tt, $list_doc:tt, $one:ident = $one_path:tt, $one_doc:tt) => {
        #[doc = $list_doc]
        #[utoipa::path(get, path = $list_path, tag = "commissions",
            params(("account" = String, Path, description = "The account id")),
            responses((status = 200, body = Vec<SettlementView>)))]
        pub async fn $list(
            In { api, account, .. }: In<Read>,
        ) -> R<axum::Json<Vec<SettlementView>>> {
            Ok(axum::Json(settlements(&api, $kind, &account).await?))
        }

        #[doc = $one_doc]
        #[utoipa::path(get, path = $one_path, tag = "commissions",
            params(("account" = String, Path, description = "The account id"),
                   ("settlement" = String, Path, description = "The settlement id (`/` may be sent as is or as %2F)"),
                   FormatQuery),
            responses((status = 200, description = "The statement", content(
                (Object = "application/json"), (String = "text/csv")))))]
        pub async fn $one(
            In {
                api,
                account,
                item: settlement,
                ..
            }: In<Read>,
            Q(q): Q<FormatQuery>,
        ) -> R<Response> {
            statement(
                &api,
                $kind,
                &account,
                &settlement,
                q.format.unwrap_or_default(),
            )
            .await
        }
    };
}

statement_routes!(
    StatementKind::Account,
    statements = "/api/v1/accounts/{account}/statements",
    "The settlements that charged the account, newest first.",
    account_statement = "/api/v1/accounts/{account}/statements/{settlement}",
    "The account's statement of a settlement, JSON or CSV."
);

statement_routes!(
    StatementKind::Payout,
    payouts = "/api/v1/accounts/{account}/payouts",
    "The settlements that paid the account (referral and author shares), newest first.",
    payout_statement = "/api/v1/accounts/{account}/payouts/{settlement}",
    "The account's payout statement of a settlement, JSON or CSV."
);

/// The account's commission charges, paged in time order.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/charges", tag = "commissions",
    params(("account" = String, Path, description = "The account id"), ChargeQuery),
    responses((status = 200, body = Page<Charge>)))]
pub async fn charges(
    In { api, account, .. }: In<Read>,
    Q(q): Q<ChargeQuery>,
) -> R<axum::Json<Page<Charge>>> {
    let (from, to, limit, after) = window(
        q.from.as_deref(),
        q.to.as_deref(),
        q.limit,
        q.cursor.as_deref(),
    )?;
    let rows = api
        .ledger
        .charges_page(
            &account,
            from,
            to,
            after.as_ref().map(|(t, i)| (*t, i.as_str())),
            limit + 1,
        )
        .await?;
    let items = rows
        .into_iter()
        .map(|c| Charge {
            ts: format_iso8601(c.ts),
            id: c.id,
            settlement: c.settlement,
            bot: c.bot,
            kind: c.kind,
            amount: c.amount,
            currency: c.currency,
        })
        .collect();
    Ok(axum::Json(page(items, limit, |c: &Charge| {
        (parse_iso8601(&c.ts).unwrap_or(0), c.id.clone())
    })))
}

/// The account's fills (one bot's with `bot`), paged in time order.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/fills", tag = "history",
    params(("account" = String, Path, description = "The account id"), PageQuery),
    responses((status = 200, body = Page<Fill>)))]
pub async fn fills(
    In { api, account, .. }: In<Read>,
    Q(q): Q<PageQuery>,
) -> R<axum::Json<Page<Fill>>> {
    let (from, to, limit, after) = q.window()?;
    let bot = q
        .bot
        .as_deref()
        .map(|b| bot_key(&api, &account, b))
        .transpose()?;
    let rows = api
        .ledger
        .fills_page(
            &account,
            bot.as_deref(),
            from,
            to,
            after.as_ref().map(|(t, i)| (*t, i.as_str())),
            limit + 1,
        )
        .await?;
    let mut keys = Vec::with_capacity(rows.len());
    let items: Vec<Fill> = rows
        .into_iter()
        .map(|f| {
            keys.push((f.ts, f.id.clone()));
            Fill {
                ts: format_iso8601(f.ts),
                id: f.id,
                bot: f.bot,
                session: f.session,
                order_id: f.order_id,
                side: f.side,
                price: f.price,
                quantity: f.quantity,
                notional: f.notional,
                currency: f.currency,
                venue_fee: f.venue_fee,
                liquidity: f.liquidity,
            }
        })
        .collect();
    let keyed: BTreeMap<String, i64> = keys.into_iter().map(|(t, i)| (i, t)).collect();
    Ok(axum::Json(page(items, limit, |f: &Fill| {
        (keyed.get(&f.id).copied().unwrap_or(0), f.id.clone())
    })))
}

/// The account's orders (one bot's with `bot`), paged by submission time.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/orders", tag = "history",
    params(("account" = String, Path, description = "The account id"), PageQuery),
    responses((status = 200, body = Page<Order>)))]
pub async fn orders(
    In { api, account, .. }: In<Read>,
    Q(q): Q<PageQuery>,
) -> R<axum::Json<Page<Order>>> {
    let (from, to, limit, after) = q.window()?;
    let bot = q
        .bot
        .as_deref()
        .map(|b| bot_key(&api, &account, b))
        .transpose()?;
    let rows = api
        .ledger
        .orders_page(
            &account,
            bot.as_deref(),
            from,
            to,
            after.as_ref().map(|(t, i)| (*t, i.as_str())),
            limit + 1,
        )
        .await?;
    let mut keys = Vec::with_capacity(rows.len());
    let items: Vec<Order> = rows
        .into_iter()
        .map(|o| {
            keys.push(o.submitted_at);
            Order {
                submitted_at: format_iso8601(o.submitted_at),
                updated_at: format_iso8601(o.updated_at),
                bot: o.bot,
                session: o.session,
                order_id: o.order_id,
                side: o.side,
                order_type: o.order_type,
                quantity: o.quantity,
                limit_price: o.limit_price,
                trigger_price: o.trigger_price,
                time_in_force: o.time_in_force,
                status: o.status,
            }
        })
        .collect();
    let next = if items.len() as i64 > limit {
        let i = limit as usize - 1;
        let o = &items[i];
        Some(encode_cursor(
            keys[i],
            &format!("{}/{}/{}", o.bot, o.session, o.order_id),
        ))
    } else {
        None
    };
    let mut items = items;
    items.truncate(limit as usize);
    Ok(axum::Json(Page {
        items,
        next_cursor: next,
    }))
}

async fn performance_of(
    api: &Api,
    account: &str,
    bot: Option<&str>,
    q: &PerformanceQuery,
) -> R<Performance> {
    let (from, to) = range(q.from.as_deref(), q.to.as_deref())?;
    let max = points_of(q.points)?;
    let rows = api
        .ledger
        .snapshots(account, bot, from, to, MAX_SNAPSHOTS + 1)
        .await?;
    if rows.len() as i64 > MAX_SNAPSHOTS {
        return Err(ApiError::invalid(
            "from",
            format!("the range holds more than {MAX_SNAPSHOTS} equity snapshots; narrow it"),
        ));
    }
    let mut by_currency: BTreeMap<String, Vec<(String, i64, Money)>> = BTreeMap::new();
    for r in rows {
        let m = money("equity", &r.equity)?;
        by_currency
            .entry(r.currency)
            .or_default()
            .push((r.bot, r.ts, m));
    }
    let mut curves = Vec::new();
    for (currency, snaps) in by_currency {
        let points = perf::account_curve(&snaps)
            .ok_or_else(|| ApiError::Unavailable("the equity curve overflows".into()))?;
        curves.push(curve(currency, points, max)?);
    }
    Ok(Performance {
        from: format_iso8601(from),
        to: format_iso8601(to),
        curves,
    })
}

/// The account's equity curve (its bots' equity summed), PnL and drawdown over a range.
/// With `points`, the curve returned is reduced to at most that many points (LTTB, first
/// and last kept); PnL and drawdown are still computed from every snapshot.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/performance", tag = "performance",
    params(("account" = String, Path, description = "The account id"), PerformanceQuery),
    responses((status = 200, body = Performance)))]
pub async fn account_performance(
    In { api, account, .. }: In<Read>,
    Q(q): Q<PerformanceQuery>,
) -> R<axum::Json<Performance>> {
    Ok(axum::Json(performance_of(&api, &account, None, &q).await?))
}

/// A bot's equity curve, PnL and drawdown over a range. With `points`, the curve returned
/// is reduced to at most that many points (LTTB, first and last kept); PnL and drawdown
/// are still computed from every snapshot.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/bots/{bot}/performance", tag = "performance",
    params(("account" = String, Path, description = "The account id"),
           ("bot" = String, Path, description = "The bot's name"), PerformanceQuery),
    responses((status = 200, body = Performance)))]
pub async fn bot_performance(
    In {
        api,
        account,
        item: bot,
        ..
    }: In<Read>,
    Q(q): Q<PerformanceQuery>,
) -> R<axum::Json<Performance>> {
    let key = bot_key(&api, &account, &bot)?;
    if !api.ledger.bot_of(&account, &key).await? {
        return Err(ApiError::NotFound(format!(
            "the ledger has no bot {bot:?} of account {account:?}"
        )));
    }
    Ok(axum::Json(
        performance_of(&api, &account, Some(&key), &q).await?,
    ))
}

/// The account's bots.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/bots", tag = "bots",
    params(("account" = String, Path, description = "The account id")),
    responses((status = 200, body = Vec<BotView>)))]
pub async fn list_bots(In { api, account, .. }: In<Read>) -> R<Response> {
    let mut r = api.list_bots_json(&account).await?.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// Creates a bot (a TradingBot in the account's namespace).
#[utoipa::path(post, path = "/api/v1/accounts/{account}/bots", tag = "bots",
    params(("account" = String, Path, description = "The account id")),
    request_body = BotCreate,
    responses((status = 201, body = BotView)))]
pub async fn create_bot(
    In { api, account, .. }: In<Trade>,
    J(body): J<BotCreate>,
) -> R<(StatusCode, axum::Json<BotView>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(api.create_bot(&account, body).await?),
    ))
}

/// One bot.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/bots/{bot}", tag = "bots",
    params(("account" = String, Path, description = "The account id"),
           ("bot" = String, Path, description = "The bot's name")),
    responses((status = 200, body = BotView)))]
pub async fn get_bot(
    In {
        api,
        account,
        item: bot,
        ..
    }: In<Read>,
) -> R<axum::Json<BotView>> {
    Ok(axum::Json(api.get_bot(&account, &bot).await?))
}

/// Replaces a bot's spec.
#[utoipa::path(put, path = "/api/v1/accounts/{account}/bots/{bot}", tag = "bots",
    params(("account" = String, Path, description = "The account id"),
           ("bot" = String, Path, description = "The bot's name")),
    request_body = BotUpdate,
    responses((status = 200, body = BotView)))]
pub async fn update_bot(
    In {
        api,
        account,
        item: bot,
        ..
    }: In<Trade>,
    J(body): J<BotUpdate>,
) -> R<axum::Json<BotView>> {
    Ok(axum::Json(api.update_bot(&account, &bot, body).await?))
}

/// Deletes a bot.
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/bots/{bot}", tag = "bots",
    params(("account" = String, Path, description = "The account id"),
           ("bot" = String, Path, description = "The bot's name")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_bot(
    In {
        api,
        account,
        item: bot,
        ..
    }: In<Trade>,
) -> R<StatusCode> {
    api.delete_bot(&account, &bot).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Suspends a bot (`spec.suspend: true`).
#[utoipa::path(post, path = "/api/v1/accounts/{account}/bots/{bot}/suspend", tag = "bots",
    params(("account" = String, Path, description = "The account id"),
           ("bot" = String, Path, description = "The bot's name")),
    responses((status = 200, body = BotView)))]
pub async fn suspend_bot(
    In {
        api,
        account,
        item: bot,
        ..
    }: In<Trade>,
) -> R<axum::Json<BotView>> {
    Ok(axum::Json(api.set_suspended(&account, &bot, true).await?))
}

/// Resumes a bot (`spec.suspend: false`).
#[utoipa::path(post, path = "/api/v1/accounts/{account}/bots/{bot}/resume", tag = "bots",
    params(("account" = String, Path, description = "The account id"),
           ("bot" = String, Path, description = "The bot's name")),
    responses((status = 200, body = BotView)))]
pub async fn resume_bot(
    In {
        api,
        account,
        item: bot,
        ..
    }: In<Trade>,
) -> R<axum::Json<BotView>> {
    Ok(axum::Json(api.set_suspended(&account, &bot, false).await?))
}

/// The strategies the account's bots may use.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/strategies", tag = "strategies",
    params(("account" = String, Path, description = "The account id")),
    responses((status = 200, body = Vec<StrategyView>)))]
pub async fn strategies(In { api, account, .. }: In<Read>) -> R<axum::Json<Vec<StrategyView>>> {
    Ok(axum::Json(api.strategies(&account).await?))
}

fn key_view(k: tradewind_ledger::api::ApiKey) -> KeyView {
    KeyView {
        id: k.id,
        name: k.name,
        scope: k.scope.as_str().into(),
        created_by: k.created_by,
        created_at: format_iso8601(k.created_at),
        revoked_at: k.revoked_at.map(format_iso8601),
    }
}

/// The account's API keys (owners).
#[utoipa::path(get, path = "/api/v1/accounts/{account}/keys", tag = "keys",
    params(("account" = String, Path, description = "The account id")),
    responses((status = 200, body = Vec<KeyView>)))]
pub async fn list_keys(In { api, account, .. }: In<Manage>) -> R<axum::Json<Vec<KeyView>>> {
    Ok(axum::Json(
        api.ledger
            .api_keys(Some(&account))
            .await?
            .into_iter()
            .map(key_view)
            .collect(),
    ))
}

/// Creates an API key (owners); its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/keys", tag = "keys",
    params(("account" = String, Path, description = "The account id")),
    request_body = KeyCreate,
    responses((status = 201, body = KeyCreated)))]
pub async fn create_key(
    In {
        api,
        account,
        caller,
        ..
    }: In<Manage>,
    J(body): J<KeyCreate>,
) -> R<(StatusCode, axum::Json<KeyCreated>)> {
    let scope: KeyScope = body.scope.parse().map_err(ApiError::from)?;
    if body.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "must not be empty"));
    }
    let (key, secret) = crate::new_key(Some(&account), scope, &body.name, &caller.actor());
    api.ledger.create_api_key(&key).await?;
    tracing::info!(key = %key.id, %account, scope = scope.as_str(), by = %caller.label(), "api: key created");
    Ok((
        StatusCode::CREATED,
        axum::Json(KeyCreated {
            id: key.id,
            secret,
            scope: scope.as_str().into(),
            account,
        }),
    ))
}

/// Revokes an API key (owners).
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/keys/{id}", tag = "keys",
    params(("account" = String, Path, description = "The account id"),
           ("id" = String, Path, description = "The key's id")),
    responses((status = 204, description = "Revoked")))]
pub async fn revoke_key(
    In {
        api,
        account,
        item: id,
        caller,
        ..
    }: In<Manage>,
) -> R<StatusCode> {
    let missing = || ApiError::NotFound(format!("no API key {id:?} in account {account:?}"));
    let key = api.ledger.api_key(&id).await?.ok_or_else(missing)?;
    if key.account.as_deref() != Some(account.as_str()) {
        return Err(missing());
    }
    if !api.ledger.revoke_api_key(&id, now_nanos()).await? {
        return Err(ApiError::Conflict(format!(
            "API key {id:?} is revoked already"
        )));
    }
    tracing::info!(key = %id, %account, by = %caller.label(), "api: key revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)))]
pub async fn openapi() -> Response {
    let mut r = ApiDoc::json().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such path in /api/v1 (see /api/v1/openapi.json)".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed(
        "this path does not take this method (see /api/v1/openapi.json)".into(),
    )
}

// ---------------------------------------------------------------------------------------
// The document and the router.

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "oidc",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An OpenID Connect access token of the configured issuer and audience",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                auth::headers::KEY,
                "An API key's id; the request also carries tw-timestamp, tw-nonce and tw-signature (HMAC-SHA256, see the README)",
            ))),
        );
        let problem = ResponseBuilder::new()
            .description("A problem document (RFC 9457)")
            .content(
                crate::problem::PROBLEM_CONTENT_TYPE,
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "Problem",
                    ))))
                    .build(),
            )
            .build();
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                op.responses
                    .responses
                    .insert("default".into(), RefOr::T(problem.clone()));
                if op.security.is_none() {
                    op.security = Some(vec![
                        utoipa::openapi::security::SecurityRequirement::new(
                            "oidc",
                            Vec::<String>::new(),
                        ),
                        utoipa::openapi::security::SecurityRequirement::new(
                            "apiKey",
                            Vec::<String>::new(),
                        ),
                    ]);
                }
            }
        }
    }
}

/// The OpenAPI document, generated from the handlers above.
#[derive(OpenApi)]
#[openapi(
    info(title = "Tradewind API", description = "Accounts, bots, strategies, performance, history and commissions of the Tradewind platform."),
    paths(me, account, members, put_member, delete_member, referrals, put_referrer, delete_referrer,
          statements, account_statement, payouts, payout_statement, charges, fills, orders,
          account_performance, bot_performance, list_bots, create_bot, get_bot, update_bot,
          delete_bot, suspend_bot, resume_bot, strategies, list_keys, create_key, revoke_key, openapi),
    components(schemas(Problem, Format, Instant)),
    nest((path = "/api/v1", api = crate::notifications::NotifyDoc)),
    modifiers(&Security)
)]
pub struct ApiDoc;

impl ApiDoc {
    /// The document as JSON.
    pub fn json() -> String {
        let mut doc = ApiDoc::openapi();
        doc.merge(crate::signals::SignalsDoc::openapi());
        // The merged routes get the same problem responses and security as the rest.
        utoipa::Modify::modify(&Security, &mut doc);
        doc.to_pretty_json().unwrap_or_default()
    }
}

/// The `/api/v1` router behind the [`crate::guard`] middleware.
pub fn router(api: Arc<Api>) -> Router {
    let a = "/accounts/{account}";
    let v1 = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/me", get(me))
        .route(a, get(account))
        .route(&format!("{a}/members"), get(members))
        .route(
            &format!("{a}/members/{{subject}}"),
            put(put_member).delete(delete_member),
        )
        .route(&format!("{a}/referrals"), get(referrals))
        .route(
            &format!("{a}/referrer"),
            put(put_referrer).delete(delete_referrer),
        )
        .route(&format!("{a}/statements"), get(statements))
        .route(
            &format!("{a}/statements/{{*settlement}}"),
            get(account_statement),
        )
        .route(&format!("{a}/payouts"), get(payouts))
        .route(
            &format!("{a}/payouts/{{*settlement}}"),
            get(payout_statement),
        )
        .route(&format!("{a}/charges"), get(charges))
        .route(&format!("{a}/fills"), get(fills))
        .route(&format!("{a}/orders"), get(orders))
        .route(&format!("{a}/performance"), get(account_performance))
        .route(&format!("{a}/bots"), get(list_bots).post(create_bot))
        .route(
            &format!("{a}/bots/{{bot}}"),
            get(get_bot).put(update_bot).delete(delete_bot),
        )
        .route(&format!("{a}/bots/{{bot}}/suspend"), post(suspend_bot))
        .route(&format!("{a}/bots/{{bot}}/resume"), post(resume_bot))
        .route(
            &format!("{a}/bots/{{bot}}/performance"),
            get(bot_performance),
        )
        .route(&format!("{a}/strategies"), get(strategies))
        .route(&format!("{a}/keys"), get(list_keys).post(create_key))
        .route(
            &format!("{a}/keys/{{id}}"),
            axum::routing::delete(revoke_key),
        )
        .merge(crate::notifications::routes())
        .merge(crate::signals::router());
    Router::new()
        .nest("/api/v1", v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            api.clone(),
            crate::guard,
        ))
        .with_state(api)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let c = encode_cursor(1_700_000_000_000_000_000, "ns/bot/s/1");
        assert_eq!(
            decode_cursor(&c).unwrap(),
            (1_700_000_000_000_000_000, "ns/bot/s/1".into())
        );
        let e = decode_cursor("not!base64").unwrap_err();
        assert_eq!(e.problem().field.as_deref(), Some("cursor"));
    }

    #[test]
    fn the_document_is_openapi_3_1_with_every_route() {
        let doc: serde_json::Value = serde_json::from_str(&ApiDoc::json()).unwrap();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.contains_key("/api/v1/accounts/{account}/bots/{bot}/performance"));
        assert!(paths.contains_key("/api/v1/accounts/{account}/bots/{bot}/signals"));
        assert_eq!(paths.len(), 31, "{:?}", paths.keys().collect::<Vec<_>>());
        assert!(doc["components"]["securitySchemes"]["apiKey"].is_object());
    }
}
