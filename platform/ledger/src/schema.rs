//! The ledger's migrations: numbered SQL files, each applied once in its own transaction
//! and recorded in `tradewind_ledger_schema`. A database whose recorded version is newer
//! than this build's is refused with both versions named; nothing is ever downgraded.
//!
//! A small runner of our own rather than sqlx's migrator: the files are embedded in the
//! binary, and the refusal of a newer database says which versions meet.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use sqlx::{AnyConnection, Executor, Row};
use tradewind_core::fixed::Money;

use crate::batch::Buffer;
use crate::{Engine, Ledger, LedgerError, money_from, money_text};

/// `(version, description, SQL)`, in order.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "accounts, trade history, charges, journal, settlements, statements",
        include_str!("../migrations/0001_ledger.sql"),
    ),
    (
        2,
        "late fills, capital flows, trading fee lines",
        include_str!("../migrations/0002_late_fills_capital_flows.sql"),
    ),
    (
        3,
        "the user API: API keys, request nonces, history indexes",
        include_str!("../migrations/0003_api.sql"),
    ),
    (
        4,
        "notifications: channels, routing rules, notices, the outbox",
        include_str!("../migrations/0004_notify.sql"),
    ),
    (
        5,
        "signals: per-bot signal secrets, received signals",
        include_str!("../migrations/0005_signals.sql"),
    ),
    (
        6,
        "trading fees per bot, UTC day, liquidity and tier (not per fill)",
        include_str!("../migrations/0006_trading_fee_days.sql"),
    ),
];

/// The version whose migration folds the per-fill `trading_fee_lines` of earlier
/// versions into `trading_fee_days` (in Rust: the sums must be exact) and drops them.
const FEE_DAYS_VERSION: i64 = 6;

/// The schema version this build writes.
pub const LATEST_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// What [`Ledger::migrate`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaStatus {
    /// The version before.
    pub from: i64,
    /// The version now.
    pub to: i64,
}

const CREATE: &str = "CREATE TABLE IF NOT EXISTS tradewind_ledger_schema (\
    version BIGINT PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)";

impl Ledger {
    /// The schema version the database is at (0 when empty).
    pub async fn schema_version(&self) -> Result<i64, LedgerError> {
        self.pool().execute(CREATE).await?;
        let row = sqlx::query("SELECT MAX(version) AS v FROM tradewind_ledger_schema")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<Option<i64>, _>("v")?.unwrap_or(0))
    }

    /// Applies the migrations the database lacks; refuses a database from a newer version.
    pub async fn migrate(&self) -> Result<SchemaStatus, LedgerError> {
        let from = self.schema_version().await?;
        if from > LATEST_VERSION {
            return Err(LedgerError::NewerSchema {
                found: from,
                supported: LATEST_VERSION,
            });
        }
        for &(version, description, sql) in MIGRATIONS.iter().filter(|m| m.0 > from) {
            let mut tx = self.pool().begin().await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            if version == FEE_DAYS_VERSION {
                fold_fee_lines(&mut tx, self.engine()).await?;
            }
            sqlx::query(
                "INSERT INTO tradewind_ledger_schema (version, description, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(version)
            .bind(description)
            .bind(crate::accounts::now_nanos())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::info!(version, description, "ledger migrated");
        }
        Ok(SchemaStatus {
            from,
            to: LATEST_VERSION.max(from),
        })
    }

    /// Refuses to work on a database that is not at this build's version.
    pub async fn check_schema(&self) -> Result<(), LedgerError> {
        let found = self.schema_version().await?;
        match found.cmp(&LATEST_VERSION) {
            std::cmp::Ordering::Greater => Err(LedgerError::NewerSchema {
                found,
                supported: LATEST_VERSION,
            }),
            std::cmp::Ordering::Less => Err(LedgerError::NotMigrated {
                found,
                supported: LATEST_VERSION,
            }),
            std::cmp::Ordering::Equal => Ok(()),
        }
    }
}

/// One `trading_fee_days` row being summed from per-fill lines.
struct Day {
    bot: String,
    rate: String,
    volume_30d: String,
    fills: i64,
    notional: Money,
    fee: Money,
}

/// Folds the per-fill `trading_fee_lines` (versions 2 to 4) into `trading_fee_days`, one
/// row per charge, UTC day, liquidity, lateness and tier, with exact sums; then drops
/// the per-fill table. Read in pages by the fill's key, so memory holds the day rows,
/// not the lines.
async fn fold_fee_lines(conn: &mut AnyConnection, engine: Engine) -> Result<(), LedgerError> {
    const PAGE: i64 = 10_000;
    let mut days: BTreeMap<(String, i64, String, i64, i64), Day> = BTreeMap::new();
    let mut after = String::new();
    let mut lines = 0usize;
    loop {
        let rows = sqlx::query(
            "SELECT l.fill AS fill, l.charge AS charge, c.bot AS bot, l.ts AS ts, l.liquidity AS liquidity, \
             l.late AS late, l.tier AS tier, l.rate AS rate, l.volume_30d AS volume_30d, \
             l.notional AS notional, l.fee AS fee \
             FROM trading_fee_lines l JOIN charges c ON c.id = l.charge \
             WHERE l.fill > $1 ORDER BY l.fill LIMIT $2",
        )
        .bind(&after)
        .bind(PAGE)
        .fetch_all(&mut *conn)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("fill")?;
        lines += rows.len();
        for r in &rows {
            let ts: i64 = r.try_get("ts")?;
            let day =
                ts.div_euclid(tradewind_commission::DAY_NANOS) * tradewind_commission::DAY_NANOS;
            let key = (
                r.try_get::<String, _>("charge")?,
                day,
                r.try_get::<String, _>("liquidity")?,
                r.try_get::<i64, _>("late")?,
                r.try_get::<i64, _>("tier")?,
            );
            let notional = money_from(
                "trading fee line notional",
                &r.try_get::<String, _>("notional")?,
            )?;
            let fee = money_from("trading fee line fee", &r.try_get::<String, _>("fee")?)?;
            let d = match days.entry(key) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(Day {
                    bot: r.try_get("bot")?,
                    rate: r.try_get("rate")?,
                    volume_30d: r.try_get("volume_30d")?,
                    fills: 0,
                    notional: Money::ZERO,
                    fee: Money::ZERO,
                }),
            };
            let overflow = || LedgerError::corrupt("trading fee lines", "a sum overflows");
            d.fills += 1;
            d.notional = d.notional.checked_add(notional).ok_or_else(overflow)?;
            d.fee = d.fee.checked_add(fee).ok_or_else(overflow)?;
        }
    }
    let mut out = fee_days_buffer();
    for ((charge, day, liquidity, late, tier), d) in days {
        out.push(vec![
            charge.into(),
            d.bot.into(),
            day.into(),
            liquidity.into(),
            late.into(),
            tier.into(),
            d.rate.into(),
            d.volume_30d.into(),
            d.fills.into(),
            money_text(d.notional).into(),
            money_text(d.fee).into(),
        ]);
        if out.full() {
            out.flush(conn, engine).await?;
        }
    }
    out.flush(conn, engine).await?;
    sqlx::query("DROP TABLE trading_fee_lines")
        .execute(&mut *conn)
        .await?;
    tracing::info!(lines, "per-fill trading fee lines folded into days");
    Ok(())
}

/// The multi-row insert of `trading_fee_days` (settlement and migration share it).
pub(crate) fn fee_days_buffer() -> Buffer {
    Buffer::new(
        "INSERT INTO trading_fee_days (charge, bot, day, liquidity, late, tier, rate, volume_30d, fills, notional, fee)",
        "",
        11,
    )
}
