//! Tradewind's ledger: accounts, members and referrals, the bots' trade history,
//! commission charges, a double-entry journal and settlements, in SQL.
//!
//! One code path over two engines through sqlx's runtime-typed `Any` driver: **SQLite**
//! (an embedded file in WAL mode, the default) and **PostgreSQL** (production). One set of
//! portable migrations (`migrations/`), applied by [`Ledger::migrate`]; a database written
//! by a newer version is refused, naming both versions.
//!
//! The ledger persists and books what the commission engine (`tradewind-commission`)
//! decides; it does no fee or distribution arithmetic of its own. Money is exact decimal
//! TEXT in the core's fixed-point form (see the migration's header), never a float.
//!
//! - [`Ledger::record_events`]: a bot's fills, orders and equity snapshots, exactly once
//!   in effect (deduplicated by event id in the same transaction).
//! - [`Ledger::settle`]: one plan's period, every account, booked in one transaction.
//! - [`Ledger::record_capital_change`]: money added to or withdrawn from a running bot.
//! - Accounts, members, admins, referrals, strategy authors, plans: [`accounts`].
//! - The user API's keys, nonces and paged reads: [`api`].
//! - Notification channels, routing rules and the outbox, enqueued with the events
//!   that notify: [`notify`].

pub mod accounts;
pub mod api;
mod batch;
mod capital;
pub mod notify;
mod record;
mod schema;
mod settle;
mod sign_in;
pub mod signals;
mod statement;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use capital::CapitalChange;
pub use record::{BotRecord, History, Recorded};
pub use schema::{LATEST_VERSION, SchemaStatus};
pub use settle::{FAULT_ENV, JournalCheck, SettleOutcome, SettlementSummary};
pub use sign_in::{Password, PasswordSource, RENEW_BEFORE, RETRY_AFTER, renew_in};
pub use statement::{AccountStatement, PayoutStatement, StatementKind};

/// Why a ledger operation was refused or failed. Nothing is half-written: every
/// operation is one transaction, rolled back on any error.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database could not be reached or answered with an error.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The database URL names no engine the ledger speaks.
    #[error(
        "database URL {url:?}: the ledger speaks sqlite:… and postgres://… (postgresql://…) only"
    )]
    UnsupportedUrl {
        /// The URL, without its password.
        url: String,
    },
    /// No password could be had to sign in with (e.g. no Entra ID token).
    #[error("database URL {url:?}: signing in: {reason}")]
    SignIn {
        /// The URL, without its password.
        url: String,
        /// Why.
        reason: String,
    },
    /// The database was migrated by a newer version of the ledger.
    #[error(
        "the database's schema is version {found}, newer than this ledger's {supported}: run a newer tradewind-platform (a downgrade is never applied)"
    )]
    NewerSchema {
        /// The version in the database.
        found: i64,
        /// The latest this build knows.
        supported: i64,
    },
    /// The database has not been migrated to this version yet.
    #[error(
        "the database's schema is version {found}, this ledger needs {supported}: run `tradewind-platform migrate`"
    )]
    NotMigrated {
        /// The version in the database (0: empty).
        found: i64,
        /// The version needed.
        supported: i64,
    },
    /// An account the operation names does not exist.
    #[error("unknown account {account:?}{context}")]
    UnknownAccount {
        /// The account.
        account: String,
        /// Where it was named, e.g. ` (bot trading/btc-bot)`.
        context: String,
    },
    /// A known event id with other content: corruption, not a retry.
    #[error(
        "event {id} conflicts with the event already recorded under that id (same id, different content): refused as corruption, not a retry; nothing of the batch was stored"
    )]
    Conflict {
        /// The event id.
        id: String,
    },
    /// An event that cannot be recorded as it is.
    #[error("event {id}: {field}: {reason}")]
    InvalidEvent {
        /// The event id.
        id: String,
        /// The field, as the wire spells it.
        field: String,
        /// Why.
        reason: String,
    },
    /// A value given to an admin operation or a settlement that cannot be used.
    #[error("{field}: {reason}")]
    Invalid {
        /// What was given.
        field: String,
        /// Why it is refused.
        reason: String,
    },
    /// The commission engine refused the settlement's input.
    #[error("settlement of plan {plan}, account {account}: {source}")]
    Commission {
        /// The plan.
        plan: String,
        /// The account.
        account: String,
        /// What the engine said (boxed: it is large and rare).
        source: Box<tradewind_commission::CommissionError>,
    },
    /// Stored data that does not read back (hand-edited or corrupt).
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt {
        /// What was read.
        what: String,
        /// Why it does not parse.
        reason: String,
    },
}

impl LedgerError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        LedgerError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>, reason: impl ToString) -> Self {
        LedgerError::Corrupt {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// Which engine a ledger runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The ledger: a pool of connections to one database.
#[derive(Clone, Debug)]
pub struct Ledger {
    pool: AnyPool,
    engine: Engine,
}

/// The URL with any password replaced, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Ledger {
    /// Connects to `url` (`sqlite:PATH` — created if missing, WAL — or
    /// `postgres://…`) without touching the schema. Use [`Ledger::open`] to migrate too,
    /// or [`Ledger::migrate`].
    pub async fn connect(url: &str) -> Result<Self, LedgerError> {
        Self::connect_with(url, None).await
    }

    /// [`Ledger::connect`]; on PostgreSQL with `password` given, the URL's password is
    /// one from `password` (e.g. an Entra ID token), renewed before it expires for the
    /// connections opened after that.
    pub async fn connect_with(
        url: &str,
        password: Option<Arc<dyn PasswordSource>>,
    ) -> Result<Self, LedgerError> {
        install_default_drivers();
        let (engine, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            // `mode=rwc`: create the file on first use.
            let url = if rest.contains("mode=") {
                url.to_owned()
            } else if rest.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (Engine::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Engine::Postgres, url.to_owned())
        } else {
            return Err(LedgerError::UnsupportedUrl { url: redact(url) });
        };
        let options = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(30))
            // SQLite allows one writer; one connection serialises the ledger's
            // transactions instead of failing them with SQLITE_BUSY.
            .max_connections(if engine == Engine::Sqlite { 1 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            });
        let pool = match password.filter(|_| engine == Engine::Postgres) {
            None => options.connect(&url).await?,
            Some(source) => {
                let first = source
                    .password()
                    .await
                    .map_err(|reason| LedgerError::SignIn {
                        url: redact(&url),
                        reason,
                    })?;
                let pool = options
                    .connect_with(sign_in::with_password(&url, &first.secret)?)
                    .await?;
                sign_in::keep_renewed(pool.clone(), url, source, first.expires_at);
                pool
            }
        };
        Ok(Ledger { pool, engine })
    }

    /// Connects and applies any migration the database lacks (refusing a newer schema).
    pub async fn open(url: &str) -> Result<Self, LedgerError> {
        let ledger = Self::connect(url).await?;
        ledger.migrate().await?;
        Ok(ledger)
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Whether the database answers (the service's readiness).
    pub async fn ping(&self) -> Result<(), LedgerError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool (a SQLite file is checkpointed and released).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Money as stored: the core's canonical decimal text.
pub(crate) fn money_text(m: tradewind_core::fixed::Money) -> String {
    m.to_string()
}

/// Money read back from a column.
pub(crate) fn money_from(
    what: &str,
    text: &str,
) -> Result<tradewind_core::fixed::Money, LedgerError> {
    tradewind_core::fixed::Money::parse(text).map_err(|e| LedgerError::corrupt(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://ledger:s3cret@db:5432/ledger"),
            "postgres://ledger:***@db:5432/ledger"
        );
        assert_eq!(redact("sqlite:/data/l.db"), "sqlite:/data/l.db");
    }
}
