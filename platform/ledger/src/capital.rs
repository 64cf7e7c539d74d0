//! Capital added to or withdrawn from a running bot.
//!
//! The settlement moves the bot's high-water mark by every flow of the period (a deposit
//! re-weights the mark, a withdrawal leaves it and crystallises the fee on the withdrawn
//! fraction), so a deposit is never charged as profit and a withdrawal never erases a
//! loss carried forward. The bot's equity just before a flow is its last equity snapshot
//! before the flow's instant. A flow in a period its plan has already settled for the
//! bot's account is refused: that period's mark is crystallised.

use sqlx::Row;
use tradewind_core::data::UnixNanos;
use tradewind_core::data::time::format_iso8601;
use tradewind_core::fixed::Money;

use crate::accounts::now_nanos;
use crate::{Ledger, LedgerError, money_from, money_text};

/// One deposit (`amount > 0`) or withdrawal (`amount < 0`) of a bot's capital.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapitalChange {
    /// Unique id (a retry with the same id and content records nothing twice).
    pub id: String,
    /// The TradingBot, `namespace/name`, as the ledger knows it.
    pub bot: String,
    /// When the money moved.
    pub ts: UnixNanos,
    /// Deposit (> 0) or withdrawal (< 0), in the bot's quote currency.
    pub amount: Money,
    /// Free text for people (who, why).
    pub note: String,
}

impl Ledger {
    /// Records a capital change. `Ok(true)`: recorded now; `Ok(false)`: the same change
    /// was recorded before under this id. Refused with the reason: zero, an unknown bot,
    /// another change under a known id, an instant in a period already settled.
    pub async fn record_capital_change(&self, c: &CapitalChange) -> Result<bool, LedgerError> {
        if c.id.is_empty() {
            return Err(LedgerError::invalid("id", "must not be empty"));
        }
        if c.amount.is_zero() {
            return Err(LedgerError::invalid(
                "amount",
                "must not be zero (a deposit is positive, a withdrawal negative)",
            ));
        }
        let mut tx = self.pool().begin().await?;
        let Some(row) =
            sqlx::query("SELECT account, plan, quote_currency FROM bots WHERE bot = $1")
                .bind(&c.bot)
                .fetch_optional(&mut *tx)
                .await?
        else {
            return Err(LedgerError::invalid(
                "bot",
                format!(
                    "{:?} is not known to the ledger (a bot is known once its first events are recorded)",
                    c.bot
                ),
            ));
        };
        let account: String = row.try_get("account")?;
        let plan: Option<String> = row.try_get("plan")?;
        let currency: String = row.try_get("quote_currency")?;
        if let Some(existing) =
            sqlx::query("SELECT bot, ts, amount, note FROM capital_flows WHERE id = $1")
                .bind(&c.id)
                .fetch_optional(&mut *tx)
                .await?
        {
            let same = existing.try_get::<String, _>("bot")? == c.bot
                && existing.try_get::<i64, _>("ts")? == c.ts
                && money_from("capital flow", &existing.try_get::<String, _>("amount")?)?
                    == c.amount
                && existing.try_get::<String, _>("note")? == c.note;
            return if same {
                Ok(false)
            } else {
                Err(LedgerError::invalid(
                    "id",
                    format!(
                        "capital change {:?} is already recorded with other content",
                        c.id
                    ),
                ))
            };
        }
        if let Some(plan) = &plan {
            let through: Option<i64> = sqlx::query(
                "SELECT settled_through FROM plan_account_state WHERE plan = $1 AND account = $2",
            )
            .bind(plan)
            .bind(&account)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("settled_through"))
            .transpose()?;
            if let Some(through) = through.filter(|t| c.ts < *t) {
                return Err(LedgerError::invalid(
                    "ts",
                    format!(
                        "{} is in a period plan {plan} has already settled for account {account} (through {}): record the change at or after that instant",
                        format_iso8601(c.ts),
                        format_iso8601(through)
                    ),
                ));
            }
        }
        sqlx::query(
            "INSERT INTO capital_flows (id, bot, ts, amount, currency, note, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&c.id)
        .bind(&c.bot)
        .bind(c.ts)
        .bind(money_text(c.amount))
        .bind(&currency)
        .bind(&c.note)
        .bind(now_nanos())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
