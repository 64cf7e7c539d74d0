//! Recording a bot's events: fills, orders and equity snapshots, exactly once in effect.
//!
//! Delivery is at least once; the ledger deduplicates by [`Event::id`] in the same
//! transaction that stores the event, so a retried batch stores nothing twice. A known id
//! whose content differs is corruption, not a retry: the whole batch is refused with
//! [`LedgerError::Conflict`] and nothing of it is stored.

use sqlx::{AnyConnection, Row};
use tradewind_core::data::UnixNanos;
use tradewind_core::data::time::parse_iso8601;
use tradewind_core::fixed::{Money, RoundingMode};
use tradewind_events::{Body, Event, Liquidity, Side};

use crate::accounts::{account_exists, now_nanos};
use crate::{Ledger, LedgerError, money_text};

/// The bot a batch of events comes from, as the platform knows it (the ingest service
/// fills this from the TradingBot its caller's ServiceAccount maps to).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotRecord {
    /// `namespace/name` of the TradingBot; every event's `bot` must be this.
    pub bot: String,
    /// The ledger account it trades for (must exist).
    pub account: String,
    /// The CommissionPlan (name) that charges it, if any.
    pub plan: Option<String>,
    /// The quote currency of its symbol: its fills' notionals, fees and equity are in it.
    pub quote_currency: String,
    /// Its Strategy, `namespace/name` (for the strategy author's share).
    pub strategy: Option<String>,
}

/// What [`Ledger::record_events`] did with a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Events stored now.
    pub stored: usize,
    /// Events already stored with the same content (a retry): acknowledged again.
    pub duplicates: usize,
    /// Events of kinds the ledger does not keep (lifecycle, troubles): acknowledged.
    pub skipped: usize,
}

fn invalid(e: &Event, field: &str, reason: impl Into<String>) -> LedgerError {
    LedgerError::InvalidEvent {
        id: e.id.clone(),
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// A decimal amount from the wire; `signed` allows a negative one (PnL).
fn amount(e: &Event, field: &str, text: &str, signed: bool) -> Result<Money, LedgerError> {
    let m = Money::parse(text).map_err(|err| invalid(e, field, format!("{text:?}: {err}")))?;
    if !signed && m.is_negative() {
        return Err(invalid(e, field, format!("{text:?} is negative")));
    }
    Ok(m)
}

/// What of an event the ledger keeps.
enum Kept<'a> {
    Fill {
        fill: &'a tradewind_events::Fill,
        price: Money,
        quantity: Money,
        notional: Money,
        fee: Money,
    },
    Order(&'a tradewind_events::Order),
    Status {
        order_id: u64,
        status: &'static str,
    },
    Equity {
        equity: Money,
        realized: Money,
        unrealized: Money,
        fees: Money,
    },
}

/// Checks an event and reads what the ledger keeps of it (`None`: a kind not kept).
fn read(e: &Event) -> Result<Option<(UnixNanos, Kept<'_>)>, LedgerError> {
    let kept = match &e.body {
        Body::Fill(f) => {
            let price = amount(e, "price", &f.price, false)?;
            let quantity = amount(e, "quantity", &f.quantity, false)?;
            let fee = amount(e, "fee", &f.fee, false)?;
            // price × quantity, both at 10⁻⁹: exact, then half-even to 10⁻⁹.
            let notional = price
                .mul_ratio(quantity.raw(), 1_000_000_000, RoundingMode::HalfEven)
                .ok_or_else(|| invalid(e, "price", "price × quantity overflows"))?;
            Kept::Fill {
                fill: f,
                price,
                quantity,
                notional,
                fee,
            }
        }
        Body::OrderSubmitted { order } => {
            amount(e, "order.quantity", &order.quantity, false)?;
            if let Some(p) = &order.price {
                amount(e, "order.price", p, false)?;
            }
            if let Some(p) = &order.trigger {
                amount(e, "order.trigger", p, false)?;
            }
            Kept::Order(order)
        }
        Body::OrderAccepted { order_id, .. } => Kept::Status {
            order_id: *order_id,
            status: "accepted",
        },
        Body::OrderRejected { order_id, .. } => Kept::Status {
            order_id: *order_id,
            status: "rejected",
        },
        Body::OrderCanceled { order_id, .. } => Kept::Status {
            order_id: *order_id,
            status: "canceled",
        },
        Body::EquitySnapshot(p) => Kept::Equity {
            equity: amount(e, "equity", &p.equity, false)?,
            realized: amount(e, "realizedPnl", &p.realized_pnl, true)?,
            unrealized: amount(e, "unrealizedPnl", &p.unrealized_pnl, true)?,
            fees: amount(e, "fees", &p.fees, false)?,
        },
        _ => return Ok(None),
    };
    let ts = parse_iso8601(&e.ts).map_err(|err| invalid(e, "ts", format!("{:?}: {err}", e.ts)))?;
    Ok(Some((ts, kept)))
}

fn side(s: Side) -> &'static str {
    s.as_str()
}

fn json_str<T: serde::Serialize>(v: &T) -> String {
    // Plain enums of the events crate serialise to a JSON string.
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn i64_of(e: &Event, field: &str, v: u64) -> Result<i64, LedgerError> {
    i64::try_from(v).map_err(|_| invalid(e, field, format!("{v} is above {}", i64::MAX)))
}

impl Ledger {
    /// Records a batch of `bot`'s events in one transaction. See the module docs: a retry
    /// stores nothing twice, a known id with other content refuses the whole batch, an
    /// unknown account or an event of another bot is refused with the reason, a negative
    /// or malformed amount names the event and field. Kinds other than fills, orders and
    /// equity snapshots are acknowledged and not stored.
    pub async fn record_events(
        &self,
        bot: &BotRecord,
        events: &[Event],
    ) -> Result<Recorded, LedgerError> {
        if bot.quote_currency.is_empty() {
            return Err(LedgerError::invalid(
                "quoteCurrency",
                format!("bot {} has no quote currency", bot.bot),
            ));
        }
        // Check everything before touching the database.
        let mut checked = Vec::with_capacity(events.len());
        let mut recorded = Recorded::default();
        for e in events {
            if e.bot != bot.bot {
                return Err(invalid(
                    e,
                    "bot",
                    format!(
                        "{:?} is not the bot the batch is for ({:?})",
                        e.bot, bot.bot
                    ),
                ));
            }
            match read(e)? {
                Some(k) => checked.push((e, k)),
                None => recorded.skipped += 1,
            }
        }
        let mut tx = self.pool().begin().await?;
        if !account_exists(&mut tx, &bot.account).await? {
            return Err(LedgerError::UnknownAccount {
                account: bot.account.clone(),
                context: format!(
                    " (bot {}): create it with `tradewind-platform accounts create`; nothing was recorded",
                    bot.bot
                ),
            });
        }
        upsert_bot(&mut tx, bot).await?;
        for (e, (ts, kept)) in checked {
            let body =
                serde_json::to_string(e).map_err(|err| invalid(e, "body", err.to_string()))?;
            let inserted = sqlx::query(
                "INSERT INTO events (id, bot, kind, ts, body) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&e.id)
            .bind(&bot.bot)
            .bind(e.kind())
            .bind(ts)
            .bind(&body)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                let stored: String = sqlx::query("SELECT body FROM events WHERE id = $1")
                    .bind(&e.id)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("body")?;
                // Compared as events, not as text: field order or spacing is no conflict.
                let same = serde_json::from_str::<Event>(&stored).is_ok_and(|s| &s == e);
                if !same {
                    return Err(LedgerError::Conflict { id: e.id.clone() });
                }
                recorded.duplicates += 1;
                continue;
            }
            store(&mut tx, bot, e, ts, kept).await?;
            recorded.stored += 1;
        }
        tx.commit().await?;
        Ok(recorded)
    }
}

async fn upsert_bot(conn: &mut AnyConnection, bot: &BotRecord) -> Result<(), LedgerError> {
    if let Some(row) = sqlx::query("SELECT account FROM bots WHERE bot = $1")
        .bind(&bot.bot)
        .fetch_optional(&mut *conn)
        .await?
    {
        let account: String = row.try_get("account")?;
        if account != bot.account {
            return Err(LedgerError::invalid(
                "account",
                format!(
                    "bot {} trades for account {account:?} in the ledger, not {:?}: a bot's history belongs to one account (give the bot a new name to move it)",
                    bot.bot, bot.account
                ),
            ));
        }
    }
    sqlx::query(
        "INSERT INTO bots (bot, account, plan, quote_currency, strategy, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (bot) DO UPDATE SET plan = excluded.plan, quote_currency = excluded.quote_currency, \
         strategy = excluded.strategy, updated_at = excluded.updated_at",
    )
    .bind(&bot.bot)
    .bind(&bot.account)
    .bind(bot.plan.as_deref())
    .bind(&bot.quote_currency)
    .bind(bot.strategy.as_deref())
    .bind(now_nanos())
    .execute(conn)
    .await?;
    Ok(())
}

async fn store(
    conn: &mut AnyConnection,
    bot: &BotRecord,
    e: &Event,
    ts: UnixNanos,
    kept: Kept<'_>,
) -> Result<(), LedgerError> {
    match kept {
        Kept::Fill {
            fill,
            price,
            quantity,
            notional,
            fee,
        } => {
            sqlx::query(
                "INSERT INTO fills (event_id, bot, account, session, order_id, ts, side, price, quantity, notional, currency, venue_fee, liquidity) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&e.id)
            .bind(&bot.bot)
            .bind(&bot.account)
            .bind(&e.session)
            .bind(i64_of(e, "orderId", fill.order_id)?)
            .bind(ts)
            .bind(side(fill.side))
            .bind(money_text(price))
            .bind(money_text(quantity))
            .bind(money_text(notional))
            .bind(&bot.quote_currency)
            .bind(money_text(fee))
            .bind(match fill.liquidity {
                Liquidity::Maker => "maker",
                Liquidity::Taker => "taker",
            })
            .execute(conn)
            .await?;
        }
        Kept::Order(o) => {
            sqlx::query(
                "INSERT INTO orders (bot, session, order_id, side, order_type, quantity, limit_price, trigger_price, time_in_force, status, submitted_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'submitted', $10, $10) \
                 ON CONFLICT (bot, session, order_id) DO NOTHING",
            )
            .bind(&bot.bot)
            .bind(&e.session)
            .bind(i64_of(e, "order.orderId", o.order_id)?)
            .bind(side(o.side))
            .bind(json_str(&o.order_type))
            .bind(&o.quantity)
            .bind(o.price.as_deref())
            .bind(o.trigger.as_deref())
            .bind(json_str(&o.time_in_force))
            .bind(ts)
            .execute(conn)
            .await?;
        }
        Kept::Status { order_id, status } => {
            // An order submitted before recording began has no row: its status is not kept.
            sqlx::query(
                "UPDATE orders SET status = $4, updated_at = $5 WHERE bot = $1 AND session = $2 AND order_id = $3",
            )
            .bind(&bot.bot)
            .bind(&e.session)
            .bind(i64_of(e, "orderId", order_id)?)
            .bind(status)
            .bind(ts)
            .execute(conn)
            .await?;
        }
        Kept::Equity {
            equity,
            realized,
            unrealized,
            fees,
        } => {
            sqlx::query(
                "INSERT INTO equity_snapshots (event_id, bot, ts, equity, realized_pnl, unrealized_pnl, venue_fees) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&e.id)
            .bind(&bot.bot)
            .bind(ts)
            .bind(money_text(equity))
            .bind(money_text(realized))
            .bind(money_text(unrealized))
            .bind(money_text(fees))
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

/// How much of a bot's history the ledger holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Events stored (fills, orders and their lifecycle, equity snapshots).
    pub events: i64,
    /// Fills.
    pub fills: i64,
    /// Orders.
    pub orders: i64,
    /// Equity snapshots.
    pub equity_snapshots: i64,
}

impl Ledger {
    /// Counts of what the ledger holds of `bot` (`namespace/name`).
    pub async fn history(&self, bot: &str) -> Result<History, LedgerError> {
        let mut conn = self.pool().acquire().await?;
        let mut count = async |table: &str| -> Result<i64, LedgerError> {
            let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE bot = $1");
            Ok(sqlx::query(&sql)
                .bind(bot)
                .fetch_one(&mut *conn)
                .await?
                .try_get::<i64, _>("n")?)
        };
        Ok(History {
            events: count("events").await?,
            fills: count("fills").await?,
            orders: count("orders").await?,
            equity_snapshots: count("equity_snapshots").await?,
        })
    }

    /// An order's last known status (`submitted`, `accepted`, `rejected`, `canceled`).
    pub async fn order_status(
        &self,
        bot: &str,
        session: &str,
        order_id: u64,
    ) -> Result<Option<String>, LedgerError> {
        let row = sqlx::query(
            "SELECT status FROM orders WHERE bot = $1 AND session = $2 AND order_id = $3",
        )
        .bind(bot)
        .bind(session)
        .bind(i64::try_from(order_id).unwrap_or(i64::MAX))
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("status")?),
            None => None,
        })
    }
}
