//! What the user API reads and writes: memberships, API keys and their request nonces,
//! and pages of history, equity snapshots, charges and statements. Every read is scoped
//! by the caller to one account (or one bot of it); the API decides who may ask.

use sqlx::Row;
use tradewind_core::data::UnixNanos;

use crate::accounts::{Role, account_exists, now_nanos, referrer_at};
use crate::{Ledger, LedgerError};

/// An API key's scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyScope {
    /// Reads.
    Read,
    /// Reads and drives bots.
    Trade,
    /// Everything its account's owner may do (a platform admin's key: everything).
    Admin,
}

impl KeyScope {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Read => "read",
            KeyScope::Trade => "trade",
            KeyScope::Admin => "admin",
        }
    }
}

impl std::str::FromStr for KeyScope {
    type Err = LedgerError;
    fn from_str(s: &str) -> Result<Self, LedgerError> {
        match s {
            "read" => Ok(KeyScope::Read),
            "trade" => Ok(KeyScope::Trade),
            "admin" => Ok(KeyScope::Admin),
            _ => Err(LedgerError::invalid(
                "scope",
                format!("{s:?} is not one of read, trade, admin"),
            )),
        }
    }
}

/// A stored API key (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// Its public id.
    pub id: String,
    /// Its account; `None`: a platform admin's key.
    pub account: Option<String>,
    /// Its scope.
    pub scope: KeyScope,
    /// Its name for people.
    pub name: String,
    /// The key requests are signed with (hex SHA-256 of the secret).
    pub signing_key: String,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: UnixNanos,
    /// When it was revoked, if it was.
    pub revoked_at: Option<UnixNanos>,
}

/// A row type read from a query's columns: its one mapping, shared by every read of it.
trait FromAnyRow: Sized {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<Self, LedgerError>;
}

/// A row type the API pages through: the keyset its pages read.
trait Paged: FromAnyRow {
    const KEYSET: Keyset;
}

impl FromAnyRow for ApiKey {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<Self, LedgerError> {
        let scope: String = r.try_get("scope")?;
        Ok(ApiKey {
            id: r.try_get("id")?,
            account: r.try_get("account")?,
            scope: scope
                .parse()
                .map_err(|e: LedgerError| LedgerError::corrupt("api key scope", e))?,
            name: r.try_get("name")?,
            signing_key: r.try_get("signing_key")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
            revoked_at: r.try_get("revoked_at")?,
        })
    }
}

impl FromAnyRow for FillRow {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<Self, LedgerError> {
        Ok(FillRow {
            id: r.try_get("event_id")?,
            bot: r.try_get("bot")?,
            session: r.try_get("session")?,
            order_id: r.try_get("order_id")?,
            ts: r.try_get("ts")?,
            side: r.try_get("side")?,
            price: r.try_get("price")?,
            quantity: r.try_get("quantity")?,
            notional: r.try_get("notional")?,
            currency: r.try_get("currency")?,
            venue_fee: r.try_get("venue_fee")?,
            liquidity: r.try_get("liquidity")?,
        })
    }
}

impl Paged for FillRow {
    const KEYSET: Keyset = Keyset {
        columns: "event_id, bot, session, order_id, ts, side, price, quantity, notional, currency, venue_fee, liquidity",
        source: "fills",
        account: "account",
        bot: "bot",
        ts: "ts",
        id: "event_id",
    };
}

impl FromAnyRow for OrderRow {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<Self, LedgerError> {
        Ok(OrderRow {
            bot: r.try_get("bot")?,
            session: r.try_get("session")?,
            order_id: r.try_get("order_id")?,
            side: r.try_get("side")?,
            order_type: r.try_get("order_type")?,
            quantity: r.try_get("quantity")?,
            limit_price: r.try_get("limit_price")?,
            trigger_price: r.try_get("trigger_price")?,
            time_in_force: r.try_get("time_in_force")?,
            status: r.try_get("status")?,
            submitted_at: r.try_get("submitted_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }
}

impl Paged for OrderRow {
    const KEYSET: Keyset = Keyset {
        columns: "o.bot, o.session, o.order_id, o.side, o.order_type, o.quantity, o.limit_price, o.trigger_price, \
                  o.time_in_force, o.status, o.submitted_at, o.updated_at",
        source: "orders o JOIN bots b ON b.bot = o.bot",
        account: "b.account",
        bot: "o.bot",
        ts: "o.submitted_at",
        // The page key joins what identifies an order; its text order is the tie-break.
        id: "(o.bot || '/' || o.session || '/' || CAST(o.order_id AS TEXT))",
    };
}

impl FromAnyRow for SnapshotRow {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<Self, LedgerError> {
        Ok(SnapshotRow {
            bot: r.try_get("bot")?,
            ts: r.try_get("ts")?,
            equity: r.try_get("equity")?,
            realized_pnl: r.try_get("realized_pnl")?,
            unrealized_pnl: r.try_get("unrealized_pnl")?,
            currency: r.try_get("quote_currency")?,
        })
    }
}

impl FromAnyRow for ChargeRow {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<Self, LedgerError> {
        Ok(ChargeRow {
            id: r.try_get("id")?,
            settlement: r.try_get("settlement")?,
            bot: r.try_get("bot")?,
            kind: r.try_get("kind")?,
            ts: r.try_get("ts")?,
            amount: r.try_get("amount")?,
            currency: r.try_get("currency")?,
        })
    }
}

impl Paged for ChargeRow {
    const KEYSET: Keyset = Keyset {
        columns: "id, settlement, bot, kind, ts, amount, currency",
        source: "charges",
        account: "account",
        bot: "bot",
        ts: "ts",
        id: "id",
    };
}

impl FromAnyRow for SettlementRow {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<Self, LedgerError> {
        Ok(SettlementRow {
            id: r.try_get("id")?,
            plan: r.try_get("plan")?,
            period_start: r.try_get("period_start")?,
            period_end: r.try_get("period_end")?,
            currency: r.try_get("currency")?,
            settled_at: r.try_get("settled_at")?,
        })
    }
}

/// One fill, as the API lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FillRow {
    /// The event id (the page key with `ts`).
    pub id: String,
    /// `namespace/name` of the bot.
    pub bot: String,
    /// The worker session.
    pub session: String,
    /// The order it filled.
    pub order_id: i64,
    /// When.
    pub ts: UnixNanos,
    /// `buy` or `sell`.
    pub side: String,
    /// Decimal text.
    pub price: String,
    /// Decimal text.
    pub quantity: String,
    /// Decimal text.
    pub notional: String,
    /// The quote currency.
    pub currency: String,
    /// Decimal text.
    pub venue_fee: String,
    /// `maker` or `taker`.
    pub liquidity: String,
}

/// One order, as the API lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    /// `namespace/name` of the bot.
    pub bot: String,
    /// The worker session.
    pub session: String,
    /// The order id (per session).
    pub order_id: i64,
    /// `buy` or `sell`.
    pub side: String,
    /// The order type.
    pub order_type: String,
    /// Decimal text.
    pub quantity: String,
    /// Decimal text.
    pub limit_price: Option<String>,
    /// Decimal text.
    pub trigger_price: Option<String>,
    /// The time in force.
    pub time_in_force: String,
    /// Its last known status.
    pub status: String,
    /// When submitted.
    pub submitted_at: UnixNanos,
    /// When last changed.
    pub updated_at: UnixNanos,
}

/// One equity snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotRow {
    /// `namespace/name` of the bot.
    pub bot: String,
    /// When.
    pub ts: UnixNanos,
    /// Decimal text.
    pub equity: String,
    /// Decimal text.
    pub realized_pnl: String,
    /// Decimal text.
    pub unrealized_pnl: String,
    /// The bot's quote currency.
    pub currency: String,
}

/// One commission charge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChargeRow {
    /// Its id.
    pub id: String,
    /// The settlement that booked it.
    pub settlement: String,
    /// `namespace/name` of the bot.
    pub bot: String,
    /// `trading` or `performance`.
    pub kind: String,
    /// When.
    pub ts: UnixNanos,
    /// Decimal text.
    pub amount: String,
    /// Its currency.
    pub currency: String,
}

/// One settlement an account took part in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettlementRow {
    /// Its id (`<plan>/<period start>`).
    pub id: String,
    /// The plan.
    pub plan: String,
    /// Period start.
    pub period_start: UnixNanos,
    /// Period end.
    pub period_end: UnixNanos,
    /// Its currency.
    pub currency: String,
    /// When it was booked.
    pub settled_at: UnixNanos,
}

/// Where a page starts: after `(ts, id)` in time order.
pub type After<'a> = Option<(UnixNanos, &'a str)>;

/// A paged table: what a keyset page selects, from where, and its keys.
struct Keyset {
    columns: &'static str,
    /// The table (and joins).
    source: &'static str,
    /// The account's column.
    account: &'static str,
    /// The bot's column.
    bot: &'static str,
    /// The time key.
    ts: &'static str,
    /// The tie-break key (text).
    id: &'static str,
}

/// Which rows a page holds: an account's (one bot's when given) in `[from, to)` after
/// `after`, at most `limit`.
struct Window<'a> {
    account: &'a str,
    bot: Option<&'a str>,
    from: UnixNanos,
    to: UnixNanos,
    after: After<'a>,
    limit: i64,
}

impl Ledger {
    /// A subject's role in an account, if a member.
    pub async fn member_role(
        &self,
        account: &str,
        subject: &str,
    ) -> Result<Option<Role>, LedgerError> {
        let row = sqlx::query("SELECT role FROM members WHERE account = $1 AND subject = $2")
            .bind(account)
            .bind(subject)
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(r) => {
                let role: String = r.try_get("role")?;
                Ok(Some(role.parse().map_err(|e: LedgerError| {
                    LedgerError::corrupt("member role", e)
                })?))
            }
            None => Ok(None),
        }
    }

    /// A subject's accounts and roles, by account.
    pub async fn memberships(&self, subject: &str) -> Result<Vec<(String, Role)>, LedgerError> {
        let rows =
            sqlx::query("SELECT account, role FROM members WHERE subject = $1 ORDER BY account")
                .bind(subject)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok((
                    r.try_get("account")?,
                    role.parse()
                        .map_err(|e: LedgerError| LedgerError::corrupt("member role", e))?,
                ))
            })
            .collect()
    }

    /// An account's name for people, if it exists.
    pub async fn account_name(&self, account: &str) -> Result<Option<String>, LedgerError> {
        let row = sqlx::query("SELECT display_name FROM accounts WHERE id = $1")
            .bind(account)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("display_name")?),
            None => None,
        })
    }

    /// An account's members: `(subject, role)` by subject.
    pub async fn members(&self, account: &str) -> Result<Vec<(String, String)>, LedgerError> {
        let rows =
            sqlx::query("SELECT subject, role FROM members WHERE account = $1 ORDER BY subject")
                .bind(account)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("subject")?, r.try_get("role")?)))
            .collect()
    }

    /// Removes a member; `false` when the subject was none.
    pub async fn remove_member(&self, account: &str, subject: &str) -> Result<bool, LedgerError> {
        let done = sqlx::query("DELETE FROM members WHERE account = $1 AND subject = $2")
            .bind(account)
            .bind(subject)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The accounts `account` refers now, by id.
    pub async fn referred(&self, account: &str) -> Result<Vec<String>, LedgerError> {
        let rows = sqlx::query(
            "SELECT account FROM referrals WHERE referrer = $1 AND start_at <= $2 AND (end_at IS NULL OR end_at > $2) ORDER BY account",
        )
        .bind(account)
        .bind(now_nanos())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get("account")?)).collect()
    }

    /// The referrer of `account` now, if any.
    pub async fn referrer(&self, account: &str) -> Result<Option<String>, LedgerError> {
        let mut conn = self.pool().acquire().await?;
        referrer_at(&mut conn, account, now_nanos()).await
    }

    /// Whether an account exists.
    pub async fn has_account(&self, account: &str) -> Result<bool, LedgerError> {
        let mut conn = self.pool().acquire().await?;
        account_exists(&mut conn, account).await
    }

    /// Stores a new API key. `signing_key` is what requests are signed with (the caller
    /// derives it from the secret it hands out once).
    pub async fn create_api_key(&self, key: &ApiKey) -> Result<(), LedgerError> {
        if key.name.len() > 200 {
            return Err(LedgerError::invalid("name", "at most 200 characters"));
        }
        let mut tx = self.pool().begin().await?;
        if let Some(account) = &key.account
            && !account_exists(&mut tx, account).await?
        {
            return Err(LedgerError::UnknownAccount {
                account: account.clone(),
                context: " (the API key's)".into(),
            });
        }
        sqlx::query(
            "INSERT INTO api_keys (id, account, scope, name, signing_key, created_by, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
        )
        .bind(&key.id)
        .bind(key.account.as_deref())
        .bind(key.scope.as_str())
        .bind(&key.name)
        .bind(&key.signing_key)
        .bind(&key.created_by)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A key by id (revoked ones too).
    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKey>, LedgerError> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(ApiKey::from_row).transpose()
    }

    /// An account's keys, newest first (`None`: the platform admins' keys).
    pub async fn api_keys(&self, account: Option<&str>) -> Result<Vec<ApiKey>, LedgerError> {
        let rows = match account {
            Some(a) => {
                sqlx::query(
                    "SELECT * FROM api_keys WHERE account = $1 ORDER BY created_at DESC, id",
                )
                .bind(a)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT * FROM api_keys WHERE account IS NULL ORDER BY created_at DESC, id",
                )
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter().map(ApiKey::from_row).collect()
    }

    /// Revokes a key at `at`; `false` when it was not in force.
    pub async fn revoke_api_key(&self, id: &str, at: UnixNanos) -> Result<bool, LedgerError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id)
                .bind(at)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a signed request's nonce; `false` when the key used it already (a replay).
    /// Nonces older than `forget_before` are dropped first: the replay window refuses
    /// their timestamps anyway.
    pub async fn use_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        ts: UnixNanos,
        forget_before: UnixNanos,
    ) -> Result<bool, LedgerError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM api_nonces WHERE ts < $1")
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "INSERT INTO api_nonces (key_id, nonce, ts) VALUES ($1, $2, $3) ON CONFLICT (key_id, nonce) DO NOTHING",
        )
        .bind(key_id)
        .bind(nonce)
        .bind(ts)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Up to `limit` fills of an account (one bot when given) in `[from, to)`, in time
    /// order after `after`.
    pub async fn fills_page(
        &self,
        account: &str,
        bot: Option<&str>,
        from: UnixNanos,
        to: UnixNanos,
        after: After<'_>,
        limit: i64,
    ) -> Result<Vec<FillRow>, LedgerError> {
        self.cursor_page(&Window {
            account,
            bot,
            from,
            to,
            after,
            limit,
        })
        .await
    }

    /// Up to `limit` orders of an account's bots (one bot when given) submitted in
    /// `[from, to)`, in time order after `after` (`id`: `bot/session/order_id`).
    pub async fn orders_page(
        &self,
        account: &str,
        bot: Option<&str>,
        from: UnixNanos,
        to: UnixNanos,
        after: After<'_>,
        limit: i64,
    ) -> Result<Vec<OrderRow>, LedgerError> {
        self.cursor_page(&Window {
            account,
            bot,
            from,
            to,
            after,
            limit,
        })
        .await
    }

    /// The equity snapshots of an account's bots (one bot when given) in `[from, to)`,
    /// in time order, at most `limit`.
    pub async fn snapshots(
        &self,
        account: &str,
        bot: Option<&str>,
        from: UnixNanos,
        to: UnixNanos,
        limit: i64,
    ) -> Result<Vec<SnapshotRow>, LedgerError> {
        let rows = sqlx::query(
            "SELECT e.bot, e.ts, e.equity, e.realized_pnl, e.unrealized_pnl, b.quote_currency \
             FROM equity_snapshots e JOIN bots b ON b.bot = e.bot \
             WHERE b.account = $1 AND ($2 = '' OR e.bot = $2) AND e.ts >= $3 AND e.ts < $4 \
             ORDER BY e.ts, e.bot LIMIT $5",
        )
        .bind(account)
        .bind(bot.unwrap_or(""))
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(SnapshotRow::from_row).collect()
    }

    /// Each of an account's bots' latest equity snapshot, by bot.
    pub async fn latest_equity(&self, account: &str) -> Result<Vec<SnapshotRow>, LedgerError> {
        let rows = sqlx::query(
            "SELECT e.bot, e.ts, e.equity, e.realized_pnl, e.unrealized_pnl, b.quote_currency \
             FROM equity_snapshots e JOIN bots b ON b.bot = e.bot \
             WHERE b.account = $1 AND e.ts = (SELECT MAX(x.ts) FROM equity_snapshots x WHERE x.bot = e.bot) \
             ORDER BY e.bot",
        )
        .bind(account)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(SnapshotRow::from_row).collect()
    }

    /// Whether the ledger knows a bot of this account.
    pub async fn bot_of(&self, account: &str, bot: &str) -> Result<bool, LedgerError> {
        Ok(
            sqlx::query("SELECT 1 FROM bots WHERE bot = $1 AND account = $2")
                .bind(bot)
                .bind(account)
                .fetch_optional(self.pool())
                .await?
                .is_some(),
        )
    }

    /// Up to `limit` charges of an account in `[from, to)`, in time order after `after`.
    pub async fn charges_page(
        &self,
        account: &str,
        from: UnixNanos,
        to: UnixNanos,
        after: After<'_>,
        limit: i64,
    ) -> Result<Vec<ChargeRow>, LedgerError> {
        self.cursor_page(&Window {
            account,
            bot: None,
            from,
            to,
            after,
            limit,
        })
        .await
    }

    /// One keyset page of `T`'s rows in `window`: the one query every paged table
    /// shares (time order, the id breaking ties).
    async fn cursor_page<T: Paged>(&self, window: &Window<'_>) -> Result<Vec<T>, LedgerError> {
        let Keyset {
            columns,
            source,
            account,
            bot,
            ts,
            id,
        } = &T::KEYSET;
        let (after_ts, after_id) = window.after.unwrap_or((i64::MIN, ""));
        let sql = format!(
            "SELECT {columns} FROM {source} WHERE {account} = $1 AND ($2 = '' OR {bot} = $2) \
             AND {ts} >= $3 AND {ts} < $4 AND ({ts} > $5 OR ({ts} = $5 AND {id} > $6)) \
             ORDER BY {ts}, {id} LIMIT $7"
        );
        let rows = sqlx::query(&sql)
            .bind(window.account)
            .bind(window.bot.unwrap_or(""))
            .bind(window.from)
            .bind(window.to)
            .bind(after_ts)
            .bind(after_id)
            .bind(window.limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(T::from_row).collect()
    }

    /// The settlements with a statement of `kind` for `subject`, newest first.
    pub async fn settlements_of(
        &self,
        kind: crate::StatementKind,
        subject: &str,
    ) -> Result<Vec<SettlementRow>, LedgerError> {
        let rows = sqlx::query(
            "SELECT s.id, s.plan, s.period_start, s.period_end, s.currency, s.settled_at \
             FROM settlements s JOIN statements t ON t.settlement = s.id \
             WHERE t.kind = $1 AND t.subject = $2 ORDER BY s.period_start DESC, s.id",
        )
        .bind(kind.as_str())
        .bind(subject)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(SettlementRow::from_row).collect()
    }
}
