//! Notifications in the ledger: an account's channels and their routing rules, the
//! notices of events that notify, and the outbox the dispatcher works through.
//!
//! A notice is enqueued in the transaction that records its event ([`enqueue`], called by
//! [`Ledger::record_events`] for the events it stores now): a crash never loses one, and a
//! retried batch — whose events are known already — enqueues nothing. The outbox's key
//! (event, channel) makes a second enqueue of one pair impossible. Which channel gets
//! what, and how it reads, are `tradewind-notify`'s pure decisions.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row};
use tradewind_core::fixed::Money;
use tradewind_notify::{
    After, BotDay, Claimed, DAY_NANOS, Kind, Notice, Outbox, Route, Rules, Settings, daily_summary,
    daily_summary_id, delivery_id, route,
};

use crate::accounts::now_nanos;
use crate::{Engine, Ledger, LedgerError};

/// A channel as stored (its secret sealed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// `ch_…`.
    pub id: String,
    /// The account.
    pub account: String,
    /// A name for people.
    pub name: String,
    /// Where and how.
    pub settings: Settings,
    /// The secret, sealed ([`tradewind_notify::Sealer`]); never shown.
    pub sealed_secret: String,
    /// The mode of each event kind.
    pub rules: Rules,
    /// When it was created, UNIX nanoseconds.
    pub created_at: i64,
}

/// A delivery, as the API lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Its id (the idempotency key).
    pub id: String,
    /// The event's id.
    pub event_id: String,
    /// The channel.
    pub channel_id: String,
    /// The event kind.
    pub kind: String,
    /// Delivered without an alert.
    pub silent: bool,
    /// `pending`, `sending`, `delivered`, `dead` or `canceled`.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// The next attempt (pending), or the claim's end (sending).
    pub next_attempt_at: i64,
    /// The last failure's words.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: i64,
    /// When it was delivered.
    pub delivered_at: Option<i64>,
}

/// `sum + text`, where `text` is an amount the ledger stored.
fn add_stored(sum: Money, text: &str, what: &str) -> Result<Money, LedgerError> {
    text.parse::<Money>()
        .ok()
        .and_then(|m| sum.checked_add(m))
        .ok_or_else(|| LedgerError::Corrupt {
            what: what.to_owned(),
            reason: format!("{text:?} is no amount (or the sum overflows)"),
        })
}

fn corrupt_json(what: &str, e: serde_json::Error) -> LedgerError {
    LedgerError::corrupt(what, e)
}

fn channel_of(r: &sqlx::any::AnyRow) -> Result<Channel, LedgerError> {
    let settings: String = r.try_get("settings")?;
    let rules: String = r.try_get("rules")?;
    Ok(Channel {
        id: r.try_get("id")?,
        account: r.try_get("account")?,
        name: r.try_get("name")?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| corrupt_json("notification channel settings", e))?,
        sealed_secret: r.try_get("secret")?,
        rules: serde_json::from_str(&rules).map_err(|e| corrupt_json("notification rules", e))?,
        created_at: r.try_get("created_at")?,
    })
}

fn delivery_of(r: &sqlx::any::AnyRow) -> Result<Delivery, LedgerError> {
    Ok(Delivery {
        id: r.try_get("id")?,
        event_id: r.try_get("event_id")?,
        channel_id: r.try_get("channel_id")?,
        kind: r.try_get("kind")?,
        silent: r.try_get::<i64, _>("silent")? != 0,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        delivered_at: r.try_get("delivered_at")?,
    })
}

const CHANNEL_COLS: &str = "id, account, name, settings, secret, rules, created_at";
const DELIVERY_COLS: &str = "id, event_id, channel_id, kind, silent, status, attempts, next_attempt_at, last_error, created_at, delivered_at";

/// A placeholder: `$n` on PostgreSQL, `?` (in order of appearance) on SQLite.
fn ph(engine: Engine, n: usize) -> String {
    match engine {
        Engine::Postgres => format!("${n}"),
        Engine::Sqlite => "?".into(),
    }
}

async fn live_channels(
    conn: &mut AnyConnection,
    account: &str,
) -> Result<Vec<Channel>, LedgerError> {
    let sql = format!(
        "SELECT {CHANNEL_COLS} FROM notify_channels WHERE account = $1 AND deleted_at IS NULL ORDER BY created_at, id"
    );
    sqlx::query(&sql)
        .bind(account)
        .fetch_all(conn)
        .await?
        .iter()
        .map(channel_of)
        .collect()
}

/// Enqueues `notices` on `conn` (inside the caller's transaction): each notice is stored
/// once (a known event id enqueues nothing), and one delivery per channel of its account
/// whose rules do not turn its kind off. `only` restricts to one channel and ignores its
/// rules (a test message). Returns the deliveries enqueued.
pub(crate) async fn enqueue(
    conn: &mut AnyConnection,
    notices: &[Notice],
    only: Option<&Channel>,
) -> Result<usize, LedgerError> {
    let mut by_account: BTreeMap<&str, Vec<Channel>> = BTreeMap::new();
    let mut n = 0;
    let now = now_nanos();
    for notice in notices {
        let body = serde_json::to_string(notice)
            .map_err(|e| LedgerError::invalid("notice", e.to_string()))?;
        let new = sqlx::query(
            "INSERT INTO notify_notices (event_id, account, kind, ts, body) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        )
        .bind(&notice.event_id)
        .bind(&notice.account)
        .bind(notice.kind.as_str())
        .bind(notice.ts)
        .bind(&body)
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
        if !new {
            continue;
        }
        let targets: Vec<(String, bool)> = match only {
            Some(c) => vec![(c.id.clone(), false)],
            None => {
                if !by_account.contains_key(notice.account.as_str()) {
                    let chans = live_channels(conn, &notice.account).await?;
                    by_account.insert(&notice.account, chans);
                }
                let chans = &by_account[notice.account.as_str()];
                let routes: Vec<Route> = chans
                    .iter()
                    .map(|c| Route {
                        channel: &c.id,
                        rules: &c.rules,
                    })
                    .collect();
                route(notice.kind, &routes)
                    .into_iter()
                    .map(|(c, s)| (c.to_owned(), s))
                    .collect()
            }
        };
        for (channel, silent) in targets {
            n += sqlx::query(
                "INSERT INTO notify_outbox (id, event_id, channel_id, account, kind, silent, status, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $8) ON CONFLICT (event_id, channel_id) DO NOTHING",
            )
            .bind(delivery_id(&notice.event_id, &channel))
            .bind(&notice.event_id)
            .bind(&channel)
            .bind(&notice.account)
            .bind(notice.kind.as_str())
            .bind(i64::from(silent))
            .bind(now)
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected() as usize;
        }
    }
    Ok(n)
}

/// Enqueues, in the settlement's transaction, a statement-ready notice for each account
/// it charged and a payout notice for each account it pays (the platform's own share
/// notifies nobody). Once per settlement and account: the notices' key.
pub(crate) async fn enqueue_settlement(
    conn: &mut AnyConnection,
    settlement: &str,
    now: i64,
) -> Result<usize, LedgerError> {
    let rows = sqlx::query(
        "SELECT kind, subject, body_json FROM statements WHERE settlement = $1 AND subject IN (SELECT id FROM accounts)",
    )
    .bind(settlement)
    .fetch_all(&mut *conn)
    .await?;
    let mut notices = Vec::with_capacity(rows.len());
    for r in &rows {
        let kind: String = r.try_get("kind")?;
        let subject: String = r.try_get("subject")?;
        let body: String = r.try_get("body_json")?;
        let b: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| corrupt_json("statement", e))?;
        let (kind, event_id) = match kind.as_str() {
            "account" => (
                Kind::StatementReady,
                format!("statement/{settlement}/{subject}"),
            ),
            _ => (
                Kind::ReferralPayout,
                format!("payout/{settlement}/{subject}"),
            ),
        };
        notices.push(Notice {
            event_id,
            account: subject,
            kind,
            ts: now,
            bot: None,
            data: serde_json::json!({
                "settlement": settlement,
                "periodStart": b["period"]["start"],
                "periodEnd": b["period"]["end"],
                "total": b["total"],
                "currency": b["currency"],
            }),
        });
    }
    enqueue(conn, &notices, None).await
}

impl Ledger {
    /// Stores a new channel.
    pub async fn create_channel(&self, c: &Channel) -> Result<(), LedgerError> {
        if c.name.trim().is_empty() || c.name.len() > 200 {
            return Err(LedgerError::invalid("name", "1 to 200 characters"));
        }
        let settings = serde_json::to_string(&c.settings)
            .map_err(|e| LedgerError::invalid("settings", e.to_string()))?;
        let rules = serde_json::to_string(&c.rules)
            .map_err(|e| LedgerError::invalid("rules", e.to_string()))?;
        sqlx::query(
            "INSERT INTO notify_channels (id, account, kind, name, settings, secret, rules, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&c.id)
        .bind(&c.account)
        .bind(c.settings.kind().as_str())
        .bind(&c.name)
        .bind(&settings)
        .bind(&c.sealed_secret)
        .bind(&rules)
        .bind(c.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The account's live channels, oldest first.
    pub async fn channels(&self, account: &str) -> Result<Vec<Channel>, LedgerError> {
        let mut conn = self.pool().acquire().await?;
        live_channels(&mut conn, account).await
    }

    /// One live channel of the account.
    pub async fn channel(&self, account: &str, id: &str) -> Result<Option<Channel>, LedgerError> {
        let sql = format!(
            "SELECT {CHANNEL_COLS} FROM notify_channels WHERE account = $1 AND id = $2 AND deleted_at IS NULL"
        );
        sqlx::query(&sql)
            .bind(account)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(channel_of)
            .transpose()
    }

    /// Deletes a channel (its pending deliveries are canceled); `false` if it is not a
    /// live channel of the account.
    pub async fn delete_channel(&self, account: &str, id: &str) -> Result<bool, LedgerError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE notify_channels SET deleted_at = $1 WHERE account = $2 AND id = $3 AND deleted_at IS NULL",
        )
        .bind(now_nanos())
        .bind(account)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        sqlx::query(
            "UPDATE notify_outbox SET status = 'canceled' WHERE channel_id = $1 AND status IN ('pending', 'sending')",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Replaces a channel's rules; `false` if it is not a live channel of the account.
    pub async fn set_rules(
        &self,
        account: &str,
        id: &str,
        rules: &Rules,
    ) -> Result<bool, LedgerError> {
        let text = serde_json::to_string(rules)
            .map_err(|e| LedgerError::invalid("rules", e.to_string()))?;
        Ok(sqlx::query(
            "UPDATE notify_channels SET rules = $1 WHERE account = $2 AND id = $3 AND deleted_at IS NULL",
        )
        .bind(&text)
        .bind(account)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// Enqueues notices that no bot event carries (a daily summary, a statement): once
    /// per event id. Returns the deliveries enqueued.
    pub async fn enqueue_notices(&self, notices: &[Notice]) -> Result<usize, LedgerError> {
        let mut tx = self.pool().begin().await?;
        let n = enqueue(&mut tx, notices, None).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Enqueues the daily summary of the UTC day starting at `day_start` (ns) for every
    /// account with a live channel, in one transaction: per bot its fills, volume and
    /// venue fees of the day and its last equity before the day ended. Keyed by account
    /// and day ([`daily_summary_id`]): a second call — a restart, another replica —
    /// enqueues nothing. Returns the deliveries enqueued.
    pub async fn enqueue_daily_summaries(&self, day_start: i64) -> Result<usize, LedgerError> {
        let day_end = day_start + DAY_NANOS;
        let day = &tradewind_core::data::time::format_iso8601(day_start)[..10];
        let mut tx = self.pool().begin().await?;
        let accounts: Vec<String> = sqlx::query(
            "SELECT DISTINCT account FROM notify_channels WHERE deleted_at IS NULL ORDER BY account",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("account"))
        .collect::<Result<_, _>>()?;
        let mut notices = Vec::new();
        for account in accounts {
            let known = sqlx::query("SELECT event_id FROM notify_notices WHERE event_id = $1")
                .bind(daily_summary_id(&account, day))
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if known {
                continue;
            }
            let bots =
                sqlx::query("SELECT bot, quote_currency FROM bots WHERE account = $1 ORDER BY bot")
                    .bind(&account)
                    .fetch_all(&mut *tx)
                    .await?;
            let mut days = Vec::with_capacity(bots.len());
            for b in &bots {
                let bot: String = b.try_get("bot")?;
                let currency: String = b.try_get("quote_currency")?;
                let fills = sqlx::query(
                    "SELECT notional, venue_fee FROM fills WHERE bot = $1 AND ts >= $2 AND ts < $3",
                )
                .bind(&bot)
                .bind(day_start)
                .bind(day_end)
                .fetch_all(&mut *tx)
                .await?;
                let (mut volume, mut fees) = (Money::ZERO, Money::ZERO);
                for f in &fills {
                    volume = add_stored(
                        volume,
                        &f.try_get::<String, _>("notional")?,
                        "fills.notional",
                    )?;
                    fees = add_stored(
                        fees,
                        &f.try_get::<String, _>("venue_fee")?,
                        "fills.venue_fee",
                    )?;
                }
                let equity = sqlx::query(
                    "SELECT equity FROM equity_snapshots WHERE bot = $1 AND ts < $2 ORDER BY ts DESC LIMIT 1",
                )
                .bind(&bot)
                .bind(day_end)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get::<String, _>("equity"))
                .transpose()?;
                days.push(BotDay {
                    bot,
                    currency,
                    fills: fills.len() as u64,
                    volume: volume.to_string(),
                    venue_fees: fees.to_string(),
                    equity,
                });
            }
            notices.push(daily_summary(&account, day_start, &days));
        }
        let n = enqueue(&mut tx, &notices, None).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Enqueues `notice` to `channel` alone, whatever its rules (a test message).
    pub async fn enqueue_test(
        &self,
        channel: &Channel,
        notice: &Notice,
    ) -> Result<String, LedgerError> {
        let mut tx = self.pool().begin().await?;
        enqueue(&mut tx, std::slice::from_ref(notice), Some(channel)).await?;
        tx.commit().await?;
        Ok(delivery_id(&notice.event_id, &channel.id))
    }

    /// The account's deliveries, newest first, optionally of one status; `before`: the
    /// `(created_at, id)` of the last row of the previous page.
    pub async fn deliveries(
        &self,
        account: &str,
        status: Option<&str>,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<Delivery>, LedgerError> {
        let engine = self.engine();
        let mut sql = format!(
            "SELECT {DELIVERY_COLS} FROM notify_outbox WHERE account = {}",
            ph(engine, 1)
        );
        let mut i = 1;
        if status.is_some() {
            i += 1;
            sql.push_str(&format!(" AND status = {}", ph(engine, i)));
        }
        if before.is_some() {
            sql.push_str(&format!(
                " AND (created_at < {a} OR (created_at = {b} AND id < {c}))",
                a = ph(engine, i + 1),
                b = ph(engine, i + 2),
                c = ph(engine, i + 3)
            ));
            i += 3;
        }
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT {}",
            ph(engine, i + 1)
        ));
        let mut q = sqlx::query(&sql).bind(account);
        if let Some(s) = status {
            q = q.bind(s);
        }
        if let Some((ts, id)) = before {
            q = q.bind(ts).bind(ts).bind(id);
        }
        q.bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(delivery_of)
            .collect()
    }

    /// One delivery of the account.
    pub async fn delivery(&self, account: &str, id: &str) -> Result<Option<Delivery>, LedgerError> {
        let sql =
            format!("SELECT {DELIVERY_COLS} FROM notify_outbox WHERE account = $1 AND id = $2");
        sqlx::query(&sql)
            .bind(account)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(delivery_of)
            .transpose()
    }

    /// Puts a dead letter back in the queue, due now, its attempts counted from zero;
    /// `false` if it is not a dead delivery of the account (or its channel is deleted).
    pub async fn retry_delivery(&self, account: &str, id: &str) -> Result<bool, LedgerError> {
        Ok(sqlx::query(
            "UPDATE notify_outbox SET status = 'pending', attempts = 0, next_attempt_at = $1 \
             WHERE account = $2 AND id = $3 AND status = 'dead' \
             AND channel_id IN (SELECT id FROM notify_channels WHERE deleted_at IS NULL)",
        )
        .bind(now_nanos())
        .bind(account)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }
}

impl Outbox for Ledger {
    type Error = LedgerError;

    async fn claim(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
        busy: &[String],
    ) -> Result<Vec<Claimed>, LedgerError> {
        let engine = self.engine();
        // Parameters in order of appearance (SQLite's `?` are positional).
        let mut sql = format!(
            "UPDATE notify_outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = {} \
             WHERE id IN (SELECT id FROM notify_outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= {}",
            ph(engine, 1),
            ph(engine, 2)
        );
        let mut i = 2;
        if !busy.is_empty() {
            let list: Vec<String> = (0..busy.len()).map(|k| ph(engine, i + 1 + k)).collect();
            i += busy.len();
            sql.push_str(&format!(" AND channel_id NOT IN ({})", list.join(", ")));
        }
        sql.push_str(&format!(
            " ORDER BY next_attempt_at LIMIT {}",
            ph(engine, i + 1)
        ));
        if engine == Engine::Postgres {
            // Concurrent dispatchers claim disjoint rows without waiting on each other.
            sql.push_str(" FOR UPDATE SKIP LOCKED");
        }
        sql.push_str(") RETURNING id");
        let mut tx = self.pool().begin().await?;
        let mut q = sqlx::query(&sql)
            .persistent(false)
            .bind(lease_until)
            .bind(now);
        for b in busy {
            q = q.bind(b.as_str());
        }
        let ids: Vec<String> = q
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            let r = sqlx::query(
                "SELECT o.id, o.channel_id, o.silent, o.attempts, n.body, c.settings, c.secret \
                 FROM notify_outbox o JOIN notify_notices n ON n.event_id = o.event_id \
                 JOIN notify_channels c ON c.id = o.channel_id WHERE o.id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            let body: String = r.try_get("body")?;
            let settings: String = r.try_get("settings")?;
            out.push(Claimed {
                id: r.try_get("id")?,
                channel: r.try_get("channel_id")?,
                settings: serde_json::from_str(&settings)
                    .map_err(|e| corrupt_json("notification channel settings", e))?,
                sealed_secret: r.try_get("secret")?,
                notice: serde_json::from_str(&body).map_err(|e| corrupt_json("notice", e))?,
                silent: r.try_get::<i64, _>("silent")? != 0,
                attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn delivered(&self, id: &str, now: i64) -> Result<(), LedgerError> {
        sqlx::query(
            "UPDATE notify_outbox SET status = 'delivered', delivered_at = $1, last_error = NULL \
             WHERE id = $2 AND status IN ('sending', 'pending')",
        )
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn failed(&self, id: &str, after: After, error: &str) -> Result<(), LedgerError> {
        let error: String = error.chars().take(1000).collect();
        let q = match after {
            After::Retry { at } => sqlx::query(
                "UPDATE notify_outbox SET status = 'pending', next_attempt_at = $1, last_error = $2 \
                 WHERE id = $3 AND status = 'sending'",
            )
            .bind(at),
            After::Dead => sqlx::query(
                "UPDATE notify_outbox SET status = 'dead', last_error = $1 WHERE id = $2 AND status = 'sending'",
            ),
        };
        q.bind(error).bind(id).execute(self.pool()).await?;
        Ok(())
    }
}
