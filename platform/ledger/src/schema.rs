//! The ledger's migrations: numbered SQL files, each applied once in its own transaction
//! and recorded in `tradewind_ledger_schema`. A database whose recorded version is newer
//! than this build's is refused with both versions named; nothing is ever downgraded.
//!
//! A small runner of our own rather than sqlx's migrator: the files are embedded in the
//! binary, and the refusal of a newer database says which versions meet.

use sqlx::{Executor, Row};

use crate::{Ledger, LedgerError};

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
];

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
