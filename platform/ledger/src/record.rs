//! Recording a bot's events: fills, orders and equity snapshots, exactly once in effect.
//!
//! Delivery is at least once; the ledger deduplicates by [`Event::id`] in the same
//! transaction that stores the event, so a retried batch stores nothing twice. A known id
//! whose content differs is corruption, not a retry: the whole batch is refused with
//! [`LedgerError::Conflict`] and nothing of it is stored.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::{AnyConnection, Row};
use tradewind_core::data::UnixNanos;
use tradewind_core::data::time::parse_iso8601;
use tradewind_core::fixed::{Money, RoundingMode};
use tradewind_events::{Body, Event, Liquidity, Side};

use crate::accounts::{account_exists, now_nanos};
use crate::batch::{MAX_PARAMS, Val, bind_all, multi_row, placeholders};
use crate::{Engine, Ledger, LedgerError, money_text};

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

/// What is stored of a fill, as text.
struct FillRow<'a> {
    e: &'a Event,
    ts: UnixNanos,
    order_id: i64,
    side: &'static str,
    price: String,
    quantity: String,
    notional: String,
    fee: String,
    liquidity: &'static str,
}

/// What is stored of an order.
struct OrderRow<'a> {
    e: &'a Event,
    ts: UnixNanos,
    o: &'a tradewind_events::Order,
    order_id: i64,
    order_type: String,
    time_in_force: String,
}

/// What is stored of an equity snapshot.
struct EquityRow<'a> {
    e: &'a Event,
    ts: UnixNanos,
    values: [String; 4],
}

/// An event checked and ready to store: the event, its instant and kept content, its body.
type Checked<'a> = (&'a Event, (UnixNanos, Kept<'a>), String);

impl Ledger {
    /// Records a batch of `bot`'s events in one transaction. See the module docs: a retry
    /// stores nothing twice, a known id with other content refuses the whole batch, an
    /// unknown account or an event of another bot is refused with the reason, a negative
    /// or malformed amount names the event and field. Kinds other than fills, orders and
    /// equity snapshots are acknowledged and not stored.
    ///
    /// A batch costs a handful of statements whatever its size (multi-row, cut under the
    /// engines' bind-parameter limit): the events inserted `ON CONFLICT DO NOTHING
    /// RETURNING id`, the bodies of the ids that already existed read back and compared
    /// (only when there are any), then the fills, orders, order states and equity
    /// snapshots of the new events, one multi-row statement each.
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
        let mut checked: Vec<Checked> = Vec::with_capacity(events.len());
        let mut recorded = Recorded::default();
        // An id repeated inside the batch: the same event is a retry, another a conflict.
        let mut in_batch: HashMap<&str, &Event> = HashMap::with_capacity(events.len());
        let mut unkept: Vec<tradewind_notify::Notice> = Vec::new();
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
                Some(k) => {
                    if let Some(first) = in_batch.insert(e.id.as_str(), e) {
                        if first != e {
                            return Err(LedgerError::Conflict { id: e.id.clone() });
                        }
                        recorded.duplicates += 1;
                        continue;
                    }
                    let body = serde_json::to_string(e)
                        .map_err(|err| invalid(e, "body", err.to_string()))?;
                    checked.push((e, k, body));
                }
                None => {
                    recorded.skipped += 1;
                    // A kind the ledger does not keep may still notify (a halt, a
                    // stop-loss, an error): deduplicated by the notices' own key.
                    unkept.extend(tradewind_notify::notice_of(&bot.account, e));
                }
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
        // Also takes the bot's row lock (PostgreSQL) a concurrent settlement of its plan
        // takes first: see `flag_late_fills`.
        upsert_bot(&mut tx, bot).await?;
        if checked.is_empty() {
            crate::notify::enqueue(&mut tx, &unkept, None).await?;
            tx.commit().await?;
            return Ok(recorded);
        }
        let rows: Vec<Vec<Val>> = checked
            .iter()
            .map(|(e, (ts, _), body)| {
                vec![
                    Val::Text(&e.id),
                    Val::Text(&bot.bot),
                    Val::Text(e.kind()),
                    Val::Int(*ts),
                    Val::Text(body),
                ]
            })
            .collect();
        let engine = self.engine();
        let inserted: HashSet<String> = multi_row(
            &mut tx,
            engine,
            "INSERT INTO events (id, bot, kind, ts, body)",
            "ON CONFLICT (id) DO NOTHING RETURNING id",
            5,
            &rows,
        )
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("id"))
        .collect::<Result<_, _>>()?;
        drop(rows);
        let known: Vec<&Event> = checked
            .iter()
            .filter(|(e, ..)| !inserted.contains(&e.id))
            .map(|(e, ..)| *e)
            .collect();
        for chunk in known.chunks(MAX_PARAMS) {
            let list = placeholders(engine, 1, chunk.len(), 0);
            let sql = format!("SELECT id, body FROM events WHERE id IN {list}");
            let mut q = sqlx::query(&sql).persistent(false);
            for e in chunk {
                q = q.bind(e.id.as_str());
            }
            let stored: HashMap<String, String> = q
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("id")?, r.try_get("body")?)))
                .collect::<Result<_, sqlx::Error>>()?;
            for e in chunk {
                // Compared as events, not as text: field order or spacing is no conflict.
                let same = stored
                    .get(&e.id)
                    .and_then(|b| serde_json::from_str::<Event>(b).ok())
                    .is_some_and(|s| &s == *e);
                if !same {
                    return Err(LedgerError::Conflict { id: e.id.clone() });
                }
            }
        }
        recorded.duplicates += known.len();
        recorded.stored = inserted.len();
        store_new(&mut tx, engine, bot, &checked, &inserted).await?;
        // In this transaction: an event is recorded with its notifications or not at all.
        let mut notices: Vec<tradewind_notify::Notice> = checked
            .iter()
            .filter(|(e, ..)| inserted.contains(&e.id))
            .filter_map(|(e, ..)| tradewind_notify::notice_of(&bot.account, e))
            .collect();
        notices.extend(unkept);
        crate::notify::enqueue(&mut tx, &notices, None).await?;
        tx.commit().await?;
        Ok(recorded)
    }
}

/// Stores what the ledger keeps of the events just inserted (`inserted`), in batch order.
async fn store_new(
    conn: &mut AnyConnection,
    engine: Engine,
    bot: &BotRecord,
    checked: &[Checked<'_>],
    inserted: &HashSet<String>,
) -> Result<(), LedgerError> {
    let mut fills = Vec::new();
    let mut orders = Vec::new();
    let mut equities = Vec::new();
    // The last state of each order in the batch, applied after the orders are inserted.
    let mut states: BTreeMap<(&str, i64), (&'static str, UnixNanos)> = BTreeMap::new();
    for (e, (ts, kept), _) in checked {
        if !inserted.contains(&e.id) {
            continue;
        }
        let ts = *ts;
        match kept {
            Kept::Fill {
                fill,
                price,
                quantity,
                notional,
                fee,
            } => fills.push(FillRow {
                e,
                ts,
                order_id: i64_of(e, "orderId", fill.order_id)?,
                side: side(fill.side),
                price: money_text(*price),
                quantity: money_text(*quantity),
                notional: money_text(*notional),
                fee: money_text(*fee),
                liquidity: match fill.liquidity {
                    Liquidity::Maker => "maker",
                    Liquidity::Taker => "taker",
                },
            }),
            Kept::Order(o) => orders.push(OrderRow {
                e,
                ts,
                o,
                order_id: i64_of(e, "order.orderId", o.order_id)?,
                order_type: json_str(&o.order_type),
                time_in_force: json_str(&o.time_in_force),
            }),
            Kept::Status { order_id, status } => {
                let id = i64_of(e, "orderId", *order_id)?;
                states.insert((e.session.as_str(), id), (status, ts));
            }
            Kept::Equity {
                equity,
                realized,
                unrealized,
                fees,
            } => equities.push(EquityRow {
                e,
                ts,
                values: [
                    money_text(*equity),
                    money_text(*realized),
                    money_text(*unrealized),
                    money_text(*fees),
                ],
            }),
        }
    }
    if !fills.is_empty() {
        let rows: Vec<Vec<Val>> = fills
            .iter()
            .map(|f| {
                vec![
                    Val::Text(&f.e.id),
                    Val::Text(&bot.bot),
                    Val::Text(&bot.account),
                    Val::Text(&f.e.session),
                    Val::Int(f.order_id),
                    Val::Int(f.ts),
                    Val::Text(f.side),
                    Val::Text(&f.price),
                    Val::Text(&f.quantity),
                    Val::Text(&f.notional),
                    Val::Text(&bot.quote_currency),
                    Val::Text(&f.fee),
                    Val::Text(f.liquidity),
                ]
            })
            .collect();
        multi_row(
            conn,
            engine,
            "INSERT INTO fills (event_id, bot, account, session, order_id, ts, side, price, quantity, notional, currency, venue_fee, liquidity)",
            "",
            13,
            &rows,
        )
        .await?;
        flag_late_fills(conn, engine, bot, &fills).await?;
    }
    if !orders.is_empty() {
        let rows: Vec<Vec<Val>> = orders
            .iter()
            .map(|o| {
                vec![
                    Val::Text(&bot.bot),
                    Val::Text(&o.e.session),
                    Val::Int(o.order_id),
                    Val::Text(side(o.o.side)),
                    Val::Text(&o.order_type),
                    Val::Text(&o.o.quantity),
                    Val::OptText(o.o.price.as_deref()),
                    Val::OptText(o.o.trigger.as_deref()),
                    Val::Text(&o.time_in_force),
                    Val::Text("submitted"),
                    Val::Int(o.ts),
                    Val::Int(o.ts),
                ]
            })
            .collect();
        multi_row(
            conn,
            engine,
            "INSERT INTO orders (bot, session, order_id, side, order_type, quantity, limit_price, trigger_price, time_in_force, status, submitted_at, updated_at)",
            "ON CONFLICT (bot, session, order_id) DO NOTHING",
            12,
            &rows,
        )
        .await?;
    }
    if !states.is_empty() {
        // An order submitted before recording began has no row: its state is not kept.
        let rows: Vec<Vec<Val>> = states
            .iter()
            .map(|(&(session, id), &(status, ts))| {
                vec![
                    Val::Text(session),
                    Val::Int(id),
                    Val::Text(status),
                    Val::Int(ts),
                ]
            })
            .collect();
        for chunk in rows.chunks((MAX_PARAMS - 1) / 4) {
            // The rows' placeholders, then the bot's.
            let bot_param = match engine {
                Engine::Sqlite => "?".to_owned(),
                Engine::Postgres => format!("${}", chunk.len() * 4 + 1),
            };
            let sql = format!(
                "WITH v (session, order_id, status, ts) AS (VALUES {}) \
                 UPDATE orders SET \
                 status = (SELECT v.status FROM v WHERE v.session = orders.session AND v.order_id = orders.order_id), \
                 updated_at = (SELECT v.ts FROM v WHERE v.session = orders.session AND v.order_id = orders.order_id) \
                 WHERE orders.bot = {bot_param} AND EXISTS (SELECT 1 FROM v WHERE v.session = orders.session AND v.order_id = orders.order_id)",
                placeholders(engine, chunk.len(), 4, 0)
            );
            bind_all(sqlx::query(&sql).persistent(false), chunk)
                .bind(bot.bot.as_str())
                .execute(&mut *conn)
                .await?;
        }
    }
    if !equities.is_empty() {
        let rows: Vec<Vec<Val>> = equities
            .iter()
            .map(|q| {
                vec![
                    Val::Text(&q.e.id),
                    Val::Text(&bot.bot),
                    Val::Int(q.ts),
                    Val::Text(&q.values[0]),
                    Val::Text(&q.values[1]),
                    Val::Text(&q.values[2]),
                    Val::Text(&q.values[3]),
                ]
            })
            .collect();
        multi_row(
            conn,
            engine,
            "INSERT INTO equity_snapshots (event_id, bot, ts, equity, realized_pnl, unrealized_pnl, venue_fees)",
            "",
            7,
            &rows,
        )
        .await?;
    }
    Ok(())
}

/// Fills of a bot on a plan whose instant lies before what the plan has settled of the
/// account (a backlog delivered late): flagged in `late_fills`, so the plan's next
/// settlement charges them. A settlement on PostgreSQL locks its bots' rows first and
/// this batch holds its bot's row (the upsert), so a fill is either seen by the
/// settlement that covers its instant or flagged late here, never neither.
async fn flag_late_fills(
    conn: &mut AnyConnection,
    engine: Engine,
    bot: &BotRecord,
    fills: &[FillRow<'_>],
) -> Result<(), LedgerError> {
    let Some(plan) = bot.plan.as_deref() else {
        return Ok(());
    };
    let through: Option<i64> = sqlx::query(
        "SELECT settled_through FROM plan_account_state WHERE plan = $1 AND account = $2",
    )
    .bind(plan)
    .bind(&bot.account)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| r.try_get("settled_through"))
    .transpose()?;
    let Some(through) = through else {
        return Ok(());
    };
    let now = now_nanos();
    let rows: Vec<Vec<Val>> = fills
        .iter()
        .filter(|f| f.ts < through)
        .map(|f| {
            vec![
                Val::Text(&f.e.id),
                Val::Text(plan),
                Val::Text(&bot.account),
                Val::Int(now),
            ]
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    tracing::info!(
        bot = %bot.bot,
        plan,
        late = rows.len(),
        "fills recorded after their period was settled: charged in the plan's next settlement"
    );
    multi_row(
        conn,
        engine,
        "INSERT INTO late_fills (event_id, plan, account, recorded_at)",
        "",
        4,
        &rows,
    )
    .await?;
    Ok(())
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
