//! The dashboard's pages: plain HTML written with every value escaped, charts from the
//! shared SVG charts. Each page authorises as the API does.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use tradewind_charts::escape as e;
use tradewind_charts::svg::Chart;
use tradewind_core::data::time::format_iso8601;
use tradewind_core::fixed::Money;
use tradewind_ledger::StatementKind;
use tradewind_ledger::accounts::now_nanos;

use super::{Page, Viewer, html};
use crate::auth::{Caller, Level};
use crate::problem::ApiError;
use crate::routes::{access, referrals_of};

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222;line-height:1.4}\
header{background:#16324f;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center}\
header a{color:#fff}header form{margin-left:auto}main{max-width:1100px;margin:1em auto;padding:0 1em}\
h1{font-size:1.5em}h2{font-size:1.15em;margin:1.4em 0 .4em}nav.tabs a{margin-right:1em}\
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}\
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}.note{color:#555;font-size:.9em}\
.err{color:#b00}form.signin{display:grid;gap:.5em;max-width:28em}input{padding:.3em}\
.cards{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}.card{border:1px solid #ddd;border-radius:6px;padding:.5em 1em;min-width:9em}\
.card .k{font-size:.85em;color:#555}.card .v{font-size:1.3em;font-weight:600}ul.tree{list-style:none;padding-left:1.2em}";

/// The recent fills a bot's page lists.
const RECENT_FILLS: i64 = 50;
/// The days a bot's charts cover.
const CHART_DAYS: i64 = 30;
const DAY: i64 = 86_400 * 1_000_000_000;

/// A whole page: header with who is signed in and the sign-out form, then `body`.
fn layout(title: &str, v: Option<&Viewer>, body: &str) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{} · Tradewind</title><style>{CSS}{}</style></head><body><header><a href=\"/ui/\"><strong>Tradewind</strong></a>",
        e(title),
        tradewind_charts::CSS
    );
    if let Some(v) = v {
        let _ = write!(
            s,
            "<span class=\"who\">{}</span><form method=\"post\" action=\"/ui/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>Sign out</button></form>",
            e(&v.caller.actor()),
            e(&v.csrf())
        );
    }
    let _ = write!(s, "</header><main>{body}</main></body></html>");
    s
}

/// A failure as a page.
pub fn error_page(title: &str, detail: &str) -> String {
    layout(
        title,
        None,
        &format!(
            "<h1>{}</h1><p class=\"err\">{}</p><p><a href=\"/ui/\">Back</a></p>",
            e(title),
            e(detail)
        ),
    )
}

/// The sign-in page: OIDC when configured, and an API key.
pub fn login_page(oidc: bool, csrf: &str, error: Option<&str>) -> String {
    let mut b = String::from("<h1>Sign in</h1>");
    if let Some(err) = error {
        let _ = write!(b, "<p class=\"err\" role=\"alert\">{}</p>", e(err));
    }
    if oidc {
        b.push_str("<p><a class=\"oidc\" href=\"/ui/login/oidc\">Sign in with your organisation's account</a></p><h2>Or with an API key</h2>");
    }
    let _ = write!(
        b,
        "<form class=\"signin\" method=\"post\" action=\"/ui/login\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label>Key id <input name=\"key\" autocomplete=\"username\" required></label>\
         <label>Secret <input name=\"secret\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <button>Sign in</button></form>\
         <p class=\"note\">A local install prints its admin key at first start.</p>",
        e(csrf)
    );
    layout("Sign in", None, &b)
}

/// The accounts a viewer may open.
async fn accounts_of(v: &Viewer) -> Result<Vec<(String, String)>, ApiError> {
    let ledger = &v.ui.api.ledger;
    let ids: Vec<(String, String)> = match &v.caller {
        c if c.is_admin() => ledger
            .list_accounts()
            .await?
            .into_iter()
            .map(|a| (a.id, "admin".into()))
            .collect(),
        Caller::User { subject, .. } => ledger
            .memberships(subject)
            .await?
            .into_iter()
            .map(|(a, r)| (a, r.as_str().into()))
            .collect(),
        Caller::Key {
            account: Some(a),
            scope,
            ..
        } => vec![(a.clone(), scope.as_str().into())],
        Caller::Key { .. } => vec![],
    };
    Ok(ids)
}

/// `/ui/`: the viewer's accounts.
pub async fn home(v: Viewer) -> Result<Response, Page> {
    let accounts = accounts_of(&v).await?;
    let mut b = String::from("<h1>Accounts</h1>");
    if accounts.is_empty() {
        b.push_str("<p>You belong to no account yet.</p>");
    } else {
        b.push_str("<table aria-label=\"Accounts\"><thead><tr><th>Account</th><th>Name</th><th>Role</th></tr></thead><tbody>");
        for (id, role) in &accounts {
            let name =
                v.ui.api
                    .ledger
                    .account_name(id)
                    .await
                    .map_err(ApiError::from)?;
            let _ = write!(
                b,
                "<tr><td><a href=\"/ui/accounts/{}\">{}</a></td><td>{}</td><td>{}</td></tr>",
                e(&url_part(id)),
                e(id),
                e(name.as_deref().unwrap_or("")),
                e(role)
            );
        }
        b.push_str("</tbody></table>");
    }
    Ok(html(StatusCode::OK, layout("Accounts", Some(&v), &b)))
}

/// A path segment percent-encoded (ids are usually plain; names with `/`, `?` or `#`
/// still link right).
fn url_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn tabs(account: &str) -> String {
    let a = e(&url_part(account));
    format!(
        "<nav class=\"tabs\"><a href=\"/ui/accounts/{a}\">Bots</a><a href=\"/ui/accounts/{a}/commissions\">Commissions and statements</a><a href=\"/ui/accounts/{a}/referrals\">Referrals</a></nav>"
    )
}

/// The account's heading: its name and id.
async fn heading(v: &Viewer, account: &str) -> Result<String, ApiError> {
    let name =
        v.ui.api
            .ledger
            .account_name(account)
            .await?
            .unwrap_or_else(|| account.to_owned());
    Ok(format!(
        "<h1>{} <small class=\"note\">{}</small></h1>{}",
        e(&name),
        e(account),
        tabs(account)
    ))
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `/ui/accounts/{account}`: the account's bots with status and equity.
pub async fn account(v: Viewer, Path(account): Path<String>) -> Result<Response, Page> {
    let api = &v.ui.api;
    access(api, &v.caller, &account, Level::Read).await?;
    let bots = api.list_bots(&account).await?;
    let ns = api.config.tenancy.namespace(&account)?;
    let mut equity: BTreeMap<String, (i64, String, String)> = api
        .ledger
        .latest_equity(&account)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|r| (r.bot, (r.ts, r.equity, r.currency)))
        .collect();
    let mut b = heading(&v, &account).await?;
    b.push_str("<h2>Bots</h2><table aria-label=\"Bots\"><thead><tr><th>Bot</th><th>Phase</th><th>Suspended</th><th>Equity</th><th>As of</th></tr></thead><tbody>");
    let row = |b: &mut String,
               name: &str,
               phase: &str,
               suspended: &str,
               eq: Option<&(i64, String, String)>| {
        let (equity, at) = match eq {
            Some((ts, value, currency)) => (format!("{value} {currency}"), format_iso8601(*ts)),
            None => (String::new(), String::new()),
        };
        let _ = write!(
            b,
            "<tr><td><a href=\"/ui/accounts/{}/bots/{}\">{}</a></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            e(&url_part(&account)),
            e(&url_part(name)),
            e(name),
            e(phase),
            e(suspended),
            e(&equity),
            e(&at)
        );
    };
    for bot in &bots {
        let status = bot.status.clone().unwrap_or(Value::Null);
        let eq = equity.remove(&format!("{ns}/{}", bot.name));
        let suspended = if bot.spec["suspend"].as_bool().unwrap_or(false) {
            "yes"
        } else {
            "no"
        };
        row(
            &mut b,
            &bot.name,
            &text(&status["phase"]),
            suspended,
            eq.as_ref(),
        );
    }
    // Bots the ledger remembers that the cluster no longer runs.
    for (key, eq) in &equity {
        let name = key.rsplit('/').next().unwrap_or(key);
        row(&mut b, name, "not in the cluster", "", Some(eq));
    }
    b.push_str("</tbody></table>");
    if bots.is_empty() && equity.is_empty() {
        b.push_str("<p>No bots yet.</p>");
    }
    Ok(html(StatusCode::OK, layout(&account, Some(&v), &b)))
}

fn number_text(v: f64, step: f64) -> String {
    if step >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

/// The equity and drawdown charts of a curve.
fn charts(points: &[(i64, Money)], currency: &str) -> String {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return "<p>No equity snapshots yet.</p>".into();
    };
    let span = (first.0, last.0);
    let eq: Vec<(i64, f64)> = points.iter().map(|(t, m)| (*t, m.as_f64())).collect();
    let mut c = Chart::new(260.0, span, range(eq.iter().map(|p| p.1)));
    c.line(&eq, "equity", &format!("equity ({currency})"));
    let mut s = format!("<figure>{}</figure>", c.finish("Equity", &number_text));
    let mut peak = f64::NEG_INFINITY;
    let under: Vec<(i64, f64)> = eq
        .iter()
        .map(|(t, v)| {
            peak = peak.max(*v);
            let dd = if peak > 0.0 {
                (v - peak) / peak * 100.0
            } else {
                0.0
            };
            (*t, dd)
        })
        .collect();
    let (lo, _) = range(under.iter().map(|p| p.1));
    let mut d = Chart::new(180.0, span, (lo.min(-0.01), 0.0));
    d.area_from_zero(&under, "under");
    let _ = write!(
        s,
        "<figure>{}<figcaption class=\"note\">Equity below its running peak, in per cent.</figcaption></figure>",
        d.finish("Drawdown", &|v, step| if step >= 1.0 {
            format!("{v:.0} %")
        } else {
            format!("{v:.2} %")
        })
    );
    s
}

fn table_of(label: &str, rows: &[Value], columns: &[&str]) -> String {
    let mut s = format!("<table aria-label=\"{}\"><thead><tr>", e(label));
    for c in columns {
        let _ = write!(s, "<th>{}</th>", e(c));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for c in columns {
            let _ = write!(s, "<td>{}</td>", e(&text(&r[*c])));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// `/ui/accounts/{account}/bots/{bot}`: equity and drawdown, positions, recent fills,
/// conditions and events.
pub async fn bot(
    v: Viewer,
    Path((account, name)): Path<(String, String)>,
) -> Result<Response, Page> {
    let api = &v.ui.api;
    access(api, &v.caller, &account, Level::Read).await?;
    let key = format!("{}/{name}", api.config.tenancy.namespace(&account)?);
    let view = match api.get_bot(&account, &name).await {
        Ok(b) => Some(b),
        Err(ApiError::NotFound(_)) => None,
        Err(other) => return Err(other.into()),
    };
    let in_ledger = api
        .ledger
        .bot_of(&account, &key)
        .await
        .map_err(ApiError::from)?;
    if view.is_none() && !in_ledger {
        return Err(ApiError::NotFound(format!("no bot {name:?} in account {account:?}")).into());
    }
    let status = view
        .as_ref()
        .and_then(|b| b.status.clone())
        .unwrap_or(Value::Null);
    // The 30 days up to the bot's last snapshot (a bot stopped long ago still shows its
    // last month), and any fills since.
    let to = now_nanos();
    let last = api
        .ledger
        .latest_equity(&account)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .find(|r| r.bot == key)
        .map_or(to, |r| r.ts);
    let from = last.min(to) - CHART_DAYS * DAY;
    let snaps = api
        .ledger
        .snapshots(&account, Some(&key), from, to, 200_000)
        .await
        .map_err(ApiError::from)?;
    let currency = snaps
        .first()
        .map(|s| s.currency.clone())
        .unwrap_or_default();
    let mut points = Vec::with_capacity(snaps.len());
    for s in &snaps {
        let m = Money::parse(&s.equity).map_err(|err| {
            tracing::error!(bot = %key, equity = %s.equity, error = %err, "the ledger holds money that does not parse");
            ApiError::Unavailable("the ledger holds data that does not read".into())
        })?;
        points.push((s.ts, m));
    }
    let summary = crate::perf::summarize(&points);

    let mut b = heading(&v, &account).await?;
    let _ = write!(b, "<h2 class=\"bot\">{}</h2>", e(&name));
    b.push_str("<div class=\"cards\">");
    let card = |b: &mut String, k: &str, val: &str| {
        let _ = write!(
            b,
            "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\">{}</div></div>",
            e(k),
            e(val)
        );
    };
    card(&mut b, "Phase", &text(&status["phase"]));
    if let Some(s) = &summary {
        card(&mut b, "Equity", &format!("{} {currency}", s.end));
        card(
            &mut b,
            "PnL (the charts' range)",
            &format!("{} {currency}", s.pnl),
        );
        card(
            &mut b,
            "Max drawdown",
            &format!("{} {currency}", s.max_drawdown),
        );
    }
    b.push_str("</div><h2>Equity and drawdown</h2>");
    b.push_str(&charts(&points, &currency));

    b.push_str("<h2>Positions</h2>");
    let positions = status["performance"]["positions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if positions.is_empty() {
        b.push_str("<p>No open positions reported.</p>");
    } else {
        let cols: Vec<String> = positions[0]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
        b.push_str(&table_of("Positions", &positions, &cols));
    }

    b.push_str("<h2>Recent fills</h2>");
    let fills = api
        .ledger
        .fills_page(&account, Some(&key), from, to, None, 100_000)
        .await
        .map_err(ApiError::from)?;
    if fills.is_empty() {
        b.push_str("<p>No fills in the charts' range.</p>");
    } else {
        b.push_str("<table aria-label=\"Fills\"><thead><tr><th>Time</th><th>Side</th><th>Price</th><th>Quantity</th><th>Notional</th><th>Fee</th></tr></thead><tbody>");
        for f in fills.iter().rev().take(RECENT_FILLS as usize) {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{} {}</td><td class=\"num\">{}</td></tr>",
                e(&format_iso8601(f.ts)),
                e(&f.side),
                e(&f.price),
                e(&f.quantity),
                e(&f.notional),
                e(&f.currency),
                e(&f.venue_fee)
            );
        }
        b.push_str("</tbody></table>");
    }

    b.push_str("<h2>Conditions</h2>");
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    if conditions.is_empty() {
        b.push_str("<p>None reported.</p>");
    } else {
        b.push_str(&table_of(
            "Conditions",
            &conditions,
            &["type", "status", "reason", "message", "lastTransitionTime"],
        ));
    }
    b.push_str("<h2>Events</h2>");
    match api.bot_events(&account, &name).await {
        Ok(events) if events.is_empty() => b.push_str("<p>None recorded.</p>"),
        Ok(events) => b.push_str(&table_of(
            "Events",
            &events,
            &["time", "type", "reason", "message"],
        )),
        Err(err) => {
            let _ = write!(
                b,
                "<p class=\"note\">Events cannot be read now: {}</p>",
                e(&err.to_string())
            );
        }
    }
    Ok(html(StatusCode::OK, layout(&name, Some(&v), &b)))
}

/// `/ui/accounts/{account}/commissions`: statements, payouts and recent charges.
pub async fn commissions(v: Viewer, Path(account): Path<String>) -> Result<Response, Page> {
    let api = &v.ui.api;
    access(api, &v.caller, &account, Level::Read).await?;
    let mut b = heading(&v, &account).await?;
    for (kind, title) in [
        (StatementKind::Account, "Statements"),
        (StatementKind::Payout, "Payouts"),
    ] {
        let _ = write!(b, "<h2>{title}</h2>");
        let rows = api
            .ledger
            .settlements_of(kind, &account)
            .await
            .map_err(ApiError::from)?;
        if rows.is_empty() {
            b.push_str("<p>None yet.</p>");
            continue;
        }
        let _ = write!(
            b,
            "<table aria-label=\"{title}\"><thead><tr><th>Period</th><th>Plan</th><th>Total</th><th>Settled</th><th>CSV</th></tr></thead><tbody>"
        );
        for s in rows {
            let total = api
                .ledger
                .statement(&s.id, kind, &account)
                .await
                .map_err(ApiError::from)?
                .and_then(|(json, _)| serde_json::from_str::<Value>(&json).ok())
                .map(|j| text(&j["total"]))
                .unwrap_or_default();
            let csv = serde_urlencoded::to_string([
                ("settlement", s.id.as_str()),
                ("kind", kind.as_str()),
            ])
            .unwrap_or_default();
            let _ = write!(
                b,
                "<tr><td>{} – {}</td><td>{}</td><td class=\"num total\">{} {}</td><td>{}</td><td><a href=\"/ui/accounts/{}/statement.csv?{}\">CSV</a></td></tr>",
                e(&format_iso8601(s.period_start)),
                e(&format_iso8601(s.period_end)),
                e(&s.plan),
                e(&total),
                e(&s.currency),
                e(&format_iso8601(s.settled_at)),
                e(&url_part(&account)),
                e(&csv)
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("<h2>Charges in the last 30 days</h2>");
    let to = now_nanos();
    let charges = api
        .ledger
        .charges_page(&account, to - CHART_DAYS * DAY, to, None, 1_000)
        .await
        .map_err(ApiError::from)?;
    if charges.is_empty() {
        b.push_str("<p>None.</p>");
    } else {
        b.push_str("<table aria-label=\"Charges\"><thead><tr><th>Time</th><th>Bot</th><th>Kind</th><th>Amount</th></tr></thead><tbody>");
        for c in charges.iter().rev() {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{} {}</td></tr>",
                e(&format_iso8601(c.ts)),
                e(&c.bot),
                e(&c.kind),
                e(&c.amount),
                e(&c.currency)
            );
        }
        b.push_str("</tbody></table>");
    }
    Ok(html(StatusCode::OK, layout("Commissions", Some(&v), &b)))
}

/// Which statement to download.
#[derive(Deserialize)]
pub struct StatementQuery {
    settlement: String,
    kind: String,
}

/// `/ui/accounts/{account}/statement.csv?settlement=…&kind=account|payout`.
pub async fn statement_csv(
    v: Viewer,
    Path(account): Path<String>,
    Query(q): Query<StatementQuery>,
) -> Result<Response, Page> {
    let api = &v.ui.api;
    access(api, &v.caller, &account, Level::Read).await?;
    let kind = match q.kind.as_str() {
        "account" => StatementKind::Account,
        "payout" => StatementKind::Payout,
        other => {
            return Err(
                ApiError::invalid("kind", format!("{other:?} is not account or payout")).into(),
            );
        }
    };
    let (_, csv) = api
        .ledger
        .statement(&q.settlement, kind, &account)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| {
            ApiError::NotFound(format!("no statement of settlement {:?}", q.settlement))
        })?;
    let mut r = csv.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"statement.csv\""),
    );
    Ok(r)
}

/// `/ui/accounts/{account}/referrals`: the chain above the account and the tree below it.
pub async fn referrals(v: Viewer, Path(account): Path<String>) -> Result<Response, Page> {
    let api = &v.ui.api;
    access(api, &v.caller, &account, Level::Read).await?;
    let r = referrals_of(api, &account).await?;
    let mut b = heading(&v, &account).await?;
    b.push_str("<h2>Referred by</h2>");
    if r.chain.is_empty() {
        b.push_str("<p>No referrer.</p>");
    } else {
        // The chain is nearest first; shown from the top down to this account.
        b.push_str("<ol class=\"chain\">");
        for a in r.chain.iter().rev() {
            let _ = write!(b, "<li>{}</li>", e(a));
        }
        b.push_str("</ol>");
    }
    b.push_str("<h2>Referral tree</h2>");
    let _ = write!(b, "<ul class=\"tree\"><li><strong>{}</strong>", e(&account));
    // A depth-first walk below the account (the ledger forbids cycles; the depth bound
    // keeps a page small all the same).
    let mut stack: Vec<(String, usize)> = r.referred.iter().rev().map(|a| (a.clone(), 1)).collect();
    let mut shown = 0usize;
    let mut depth_open = 0usize;
    b.push_str("<ul class=\"tree\">");
    depth_open += 1;
    while let Some((a, depth)) = stack.pop() {
        while depth_open > depth {
            b.push_str("</ul>");
            depth_open -= 1;
        }
        let _ = write!(b, "<li>{}</li>", e(&a));
        shown += 1;
        if shown >= 500 || depth >= 8 {
            continue;
        }
        let below = api.ledger.referred(&a).await.map_err(ApiError::from)?;
        if !below.is_empty() {
            b.push_str("<ul class=\"tree\">");
            depth_open += 1;
            stack.extend(below.into_iter().rev().map(|x| (x, depth + 1)));
        }
    }
    for _ in 0..depth_open {
        b.push_str("</ul>");
    }
    b.push_str("</li></ul>");
    if r.referred.is_empty() {
        b.push_str("<p class=\"note\">The account refers no one yet.</p>");
    }
    Ok(html(StatusCode::OK, layout("Referrals", Some(&v), &b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_page_escapes_what_it_shows() {
        let p = error_page("<b>", "<script>alert(1)</script>");
        assert!(!p.contains("<script>alert"), "{p}");
        assert!(p.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn path_parts_are_percent_encoded() {
        assert_eq!(url_part("a b/<c>"), "a%20b%2F%3Cc%3E");
        assert_eq!(url_part("plain-id_1.x"), "plain-id_1.x");
    }

    #[test]
    fn charts_draw_equity_and_drawdown_from_a_curve() {
        let pts: Vec<(i64, Money)> = [(0, "100"), (DAY, "120"), (2 * DAY, "90")]
            .iter()
            .map(|(t, m)| (*t, Money::parse(m).unwrap()))
            .collect();
        let s = charts(&pts, "USDT");
        assert!(s.contains("data-chart=\"Equity\""), "{s}");
        assert!(s.contains("data-chart=\"Drawdown\""), "{s}");
        assert!(s.contains("<polygon class=\"under\""), "{s}");
    }
}
