//! Signals from outside: each bot's signal secret (stored hashed) and the signals its
//! webhook accepted, in arrival order, until its worker acknowledges them.

use sqlx::Row;
use tradewind_core::data::UnixNanos;

use crate::accounts::account_exists;
use crate::{Ledger, LedgerError};

/// A bot's signal secret, as stored (never the secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalSecret {
    /// `namespace/name` of the bot.
    pub bot: String,
    /// Its account.
    pub account: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: UnixNanos,
}

/// A signal to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSignal {
    /// `namespace/name` of the bot.
    pub bot: String,
    /// The sender's id of the signal.
    pub id: String,
    /// The bot's account.
    pub account: String,
    /// `enter`, `exit` or `flatten`.
    pub action: String,
    /// The signal's own time.
    pub ts: UnixNanos,
    /// When the webhook received it.
    pub received_at: UnixNanos,
    /// Hex SHA-256 of what identifies its content (tells a repeat from a conflict).
    pub body_hash: String,
}

/// A stored signal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSignal {
    /// `namespace/name` of the bot.
    pub bot: String,
    /// The sender's id.
    pub id: String,
    /// Its place among the bot's signals, from 1.
    pub seq: i64,
    /// `enter`, `exit` or `flatten`.
    pub action: String,
    /// The signal's own time.
    pub ts: UnixNanos,
    /// When the webhook received it.
    pub received_at: UnixNanos,
    /// `pending` or `delivered`.
    pub status: String,
    /// When the worker acknowledged it.
    pub delivered_at: Option<UnixNanos>,
}

/// What [`Ledger::record_signal`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Stored now.
    New(StoredSignal),
    /// Already stored under this id with the same content: nothing changed.
    Repeat(StoredSignal),
    /// Another signal is stored under this id.
    Conflict(StoredSignal),
}

fn signal_from(r: &sqlx::any::AnyRow) -> Result<StoredSignal, LedgerError> {
    Ok(StoredSignal {
        bot: r.try_get("bot")?,
        id: r.try_get("id")?,
        seq: r.try_get("seq")?,
        action: r.try_get("action")?,
        ts: r.try_get("ts")?,
        received_at: r.try_get("received_at")?,
        status: r.try_get("status")?,
        delivered_at: r.try_get("delivered_at")?,
    })
}

/// How often storing a signal is retried when another took its sequence number.
const SEQ_ATTEMPTS: usize = 5;

impl Ledger {
    /// Stores (or replaces) a bot's signal secret.
    pub async fn set_signal_secret(&self, secret: &SignalSecret) -> Result<(), LedgerError> {
        let mut tx = self.pool().begin().await?;
        if !account_exists(&mut tx, &secret.account).await? {
            return Err(LedgerError::UnknownAccount {
                account: secret.account.clone(),
                context: format!(" (bot {})", secret.bot),
            });
        }
        sqlx::query("DELETE FROM signal_secrets WHERE bot = $1")
            .bind(&secret.bot)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO signal_secrets (bot, account, secret_hash, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&secret.bot)
        .bind(&secret.account)
        .bind(&secret.secret_hash)
        .bind(&secret.created_by)
        .bind(secret.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A bot's signal secret, if it has one.
    pub async fn signal_secret(&self, bot: &str) -> Result<Option<SignalSecret>, LedgerError> {
        let row = sqlx::query("SELECT * FROM signal_secrets WHERE bot = $1")
            .bind(bot)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(SignalSecret {
                bot: r.try_get("bot")?,
                account: r.try_get("account")?,
                secret_hash: r.try_get("secret_hash")?,
                created_by: r.try_get("created_by")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// Removes a bot's signal secret; `false` when it had none.
    pub async fn delete_signal_secret(&self, bot: &str) -> Result<bool, LedgerError> {
        let done = sqlx::query("DELETE FROM signal_secrets WHERE bot = $1")
            .bind(bot)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A bot's signal by the sender's id, compared with the content hash of a new one:
    /// [`Recorded::Repeat`] when the same, [`Recorded::Conflict`] when not; `None` when
    /// the id is new.
    pub async fn signal(
        &self,
        bot: &str,
        id: &str,
        body_hash: &str,
    ) -> Result<Option<Recorded>, LedgerError> {
        let row = sqlx::query("SELECT * FROM signals WHERE bot = $1 AND id = $2")
            .bind(bot)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let hash: String = row.try_get("body_hash")?;
        let stored = signal_from(&row)?;
        Ok(Some(if hash == body_hash {
            Recorded::Repeat(stored)
        } else {
            Recorded::Conflict(stored)
        }))
    }

    /// Stores a signal as the bot's next, pending; a repeat of a stored id changes nothing.
    pub async fn record_signal(&self, s: &NewSignal) -> Result<Recorded, LedgerError> {
        let mut last = None;
        for _ in 0..SEQ_ATTEMPTS {
            if let Some(old) = self.signal(&s.bot, &s.id, &s.body_hash).await? {
                return Ok(old);
            }
            let mut tx = self.pool().begin().await?;
            let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS m FROM signals WHERE bot = $1")
                .bind(&s.bot)
                .fetch_one(&mut *tx)
                .await?;
            let seq: i64 = row.try_get::<i64, _>("m")? + 1;
            let inserted = sqlx::query(
                "INSERT INTO signals (bot, id, seq, account, action, ts, received_at, body_hash, status, delivered_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', NULL)",
            )
            .bind(&s.bot)
            .bind(&s.id)
            .bind(seq)
            .bind(&s.account)
            .bind(&s.action)
            .bind(s.ts)
            .bind(s.received_at)
            .bind(&s.body_hash)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {
                    tx.commit().await?;
                    return Ok(Recorded::New(StoredSignal {
                        bot: s.bot.clone(),
                        id: s.id.clone(),
                        seq,
                        action: s.action.clone(),
                        ts: s.ts,
                        received_at: s.received_at,
                        status: "pending".into(),
                        delivered_at: None,
                    }));
                }
                // A concurrent signal took the sequence number (or the id): look again.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    last = Some(sqlx::Error::Database(e));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(last.map(LedgerError::from).unwrap_or_else(|| {
            LedgerError::invalid("signal", "could not be given a sequence number")
        }))
    }

    /// Up to `limit` of a bot's signals after sequence number `after`, in order (the
    /// worker's fetch: it passes the last it acknowledged).
    pub async fn signals_after(
        &self,
        bot: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredSignal>, LedgerError> {
        let rows =
            sqlx::query("SELECT * FROM signals WHERE bot = $1 AND seq > $2 ORDER BY seq LIMIT $3")
                .bind(bot)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(signal_from).collect()
    }

    /// Marks a bot's pending signals up to sequence number `upto` delivered; returns how
    /// many changed (acknowledging twice changes nothing).
    pub async fn ack_signals(
        &self,
        bot: &str,
        upto: i64,
        at: UnixNanos,
    ) -> Result<u64, LedgerError> {
        let done = sqlx::query(
            "UPDATE signals SET status = 'delivered', delivered_at = $3 \
             WHERE bot = $1 AND seq <= $2 AND status = 'pending'",
        )
        .bind(bot)
        .bind(upto)
        .bind(at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// A bot's latest `limit` signals, newest first.
    pub async fn recent_signals(
        &self,
        bot: &str,
        limit: u32,
    ) -> Result<Vec<StoredSignal>, LedgerError> {
        let rows = sqlx::query("SELECT * FROM signals WHERE bot = $1 ORDER BY seq DESC LIMIT $2")
            .bind(bot)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(signal_from).collect()
    }
}
