//! Who is who: accounts, their members, platform admins, referral relationships,
//! strategy authorship and the plans the ledger settles. These live in the ledger, not
//! in Kubernetes resources, so editing a bot cannot redirect a payout.

use sqlx::{AnyConnection, Row};
use tradewind_core::data::UnixNanos;

use crate::{Ledger, LedgerError};

/// Now, in UNIX nanoseconds.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A member's role in an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Manages the account and its members.
    Owner,
    /// Runs bots.
    Trader,
    /// Reads.
    Viewer,
}

impl Role {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Trader => "trader",
            Role::Viewer => "viewer",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = LedgerError;
    fn from_str(s: &str) -> Result<Self, LedgerError> {
        match s {
            "owner" => Ok(Role::Owner),
            "trader" => Ok(Role::Trader),
            "viewer" => Ok(Role::Viewer),
            _ => Err(LedgerError::invalid(
                "role",
                format!("{s:?} is not one of owner, trader, viewer"),
            )),
        }
    }
}

/// One account, as listed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AccountInfo {
    /// Its id.
    pub id: String,
    /// Its name for people.
    pub display_name: String,
    /// Its current referrer, if any.
    pub referrer: Option<String>,
    /// `(subject, role)` of its members.
    pub members: Vec<(String, String)>,
}

/// Ids are what statements, journal accounts and charge ids are built from.
fn check_id(field: &str, id: &str) -> Result<(), LedgerError> {
    let ok = !id.is_empty()
        && id.len() <= 253
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if id == "platform" {
        return Err(LedgerError::invalid(
            field,
            "\"platform\" is reserved: statements and the journal name the platform so",
        ));
    }
    if ok {
        Ok(())
    } else {
        Err(LedgerError::invalid(
            field,
            format!("{id:?} must be 1 to 253 characters of letters, digits, '-', '_', '.', '@'"),
        ))
    }
}

pub(crate) async fn account_exists(
    conn: &mut AnyConnection,
    account: &str,
) -> Result<bool, LedgerError> {
    Ok(sqlx::query("SELECT 1 FROM accounts WHERE id = $1")
        .bind(account)
        .fetch_optional(conn)
        .await?
        .is_some())
}

async fn require_account(
    conn: &mut AnyConnection,
    account: &str,
    context: &str,
) -> Result<(), LedgerError> {
    if account_exists(conn, account).await? {
        Ok(())
    } else {
        Err(LedgerError::UnknownAccount {
            account: account.to_owned(),
            context: context.to_owned(),
        })
    }
}

/// The referrer in force for `account` at `at`.
pub(crate) async fn referrer_at(
    conn: &mut AnyConnection,
    account: &str,
    at: UnixNanos,
) -> Result<Option<String>, LedgerError> {
    let row = sqlx::query(
        "SELECT referrer FROM referrals WHERE account = $1 AND start_at <= $2 AND (end_at IS NULL OR end_at > $2)",
    )
    .bind(account)
    .bind(at)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("referrer")?),
        None => None,
    })
}

/// The referral chain of `account` in force at `at`, nearest first, at most `depth` long.
pub(crate) async fn referral_chain(
    conn: &mut AnyConnection,
    account: &str,
    at: UnixNanos,
    depth: usize,
) -> Result<Vec<String>, LedgerError> {
    let mut chain = Vec::new();
    let mut current = account.to_owned();
    while chain.len() < depth {
        match referrer_at(conn, &current, at).await? {
            // A cycle cannot be stored, but never loop on a hand-edited one.
            Some(r) if r != account && !chain.contains(&r) => {
                chain.push(r.clone());
                current = r;
            }
            _ => break,
        }
    }
    Ok(chain)
}

impl Ledger {
    /// Creates an account. An existing id is refused.
    pub async fn create_account(&self, id: &str, display_name: &str) -> Result<(), LedgerError> {
        check_id("account", id)?;
        let mut tx = self.pool().begin().await?;
        if account_exists(&mut tx, id).await? {
            return Err(LedgerError::invalid(
                "account",
                format!("{id:?} already exists"),
            ));
        }
        sqlx::query("INSERT INTO accounts (id, display_name, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(display_name)
            .bind(now_nanos())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds (or changes the role of) a member of an account.
    pub async fn add_member(
        &self,
        account: &str,
        subject: &str,
        role: Role,
    ) -> Result<(), LedgerError> {
        if subject.is_empty() {
            return Err(LedgerError::invalid("subject", "must not be empty"));
        }
        let mut tx = self.pool().begin().await?;
        require_account(&mut tx, account, "").await?;
        sqlx::query(
            "INSERT INTO members (subject, account, role) VALUES ($1, $2, $3) \
             ON CONFLICT (subject, account) DO UPDATE SET role = excluded.role",
        )
        .bind(subject)
        .bind(account)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes a subject a platform admin.
    pub async fn add_admin(&self, subject: &str) -> Result<(), LedgerError> {
        if subject.is_empty() {
            return Err(LedgerError::invalid("subject", "must not be empty"));
        }
        sqlx::query(
            "INSERT INTO platform_admins (subject, created_at) VALUES ($1, $2) ON CONFLICT (subject) DO NOTHING",
        )
        .bind(subject)
        .bind(now_nanos())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Whether a subject is a platform admin.
    pub async fn is_admin(&self, subject: &str) -> Result<bool, LedgerError> {
        Ok(
            sqlx::query("SELECT 1 FROM platform_admins WHERE subject = $1")
                .bind(subject)
                .fetch_optional(self.pool())
                .await?
                .is_some(),
        )
    }

    /// Records that `referrer` referred `account` from `start`. Refused: an unknown
    /// account, a second referrer (one is in force at or after `start`), a referral to
    /// itself, and a cycle (the referrer's own chain leads back to the account).
    pub async fn set_referrer(
        &self,
        account: &str,
        referrer: &str,
        start: UnixNanos,
    ) -> Result<(), LedgerError> {
        if account == referrer {
            return Err(LedgerError::invalid(
                "referrer",
                format!("account {account:?} cannot refer itself"),
            ));
        }
        let mut tx = self.pool().begin().await?;
        require_account(&mut tx, account, "").await?;
        require_account(&mut tx, referrer, " (the referrer)").await?;
        if let Some(row) = sqlx::query(
            "SELECT referrer, start_at FROM referrals WHERE account = $1 AND (end_at IS NULL OR end_at > $2) ORDER BY start_at LIMIT 1",
        )
        .bind(account)
        .bind(start)
        .fetch_optional(&mut *tx)
        .await?
        {
            let existing: String = row.try_get("referrer")?;
            let since: i64 = row.try_get("start_at")?;
            return Err(LedgerError::invalid(
                "referrer",
                format!(
                    "account {account:?} already has referrer {existing:?} (since {}): an account has one referrer; end that one first",
                    tradewind_core::data::time::format_iso8601(since)
                ),
            ));
        }
        // Walk up from the referrer through every relationship that is or will be in
        // force (open-ended or ending after `start`); reaching the account is a cycle.
        let mut path = vec![account.to_owned(), referrer.to_owned()];
        let mut current = referrer.to_owned();
        loop {
            let rows = sqlx::query(
                "SELECT referrer FROM referrals WHERE account = $1 AND (end_at IS NULL OR end_at > $2)",
            )
            .bind(&current)
            .bind(start)
            .fetch_all(&mut *tx)
            .await?;
            let Some(row) = rows.first() else { break };
            let next: String = row.try_get("referrer")?;
            if next == account {
                path.push(next);
                return Err(LedgerError::invalid(
                    "referrer",
                    format!("referral cycle refused: {}", path.join(" → ")),
                ));
            }
            if path.contains(&next) {
                break;
            }
            path.push(next.clone());
            current = next;
        }
        sqlx::query(
            "INSERT INTO referrals (account, referrer, start_at, end_at) VALUES ($1, $2, $3, NULL)",
        )
        .bind(account)
        .bind(referrer)
        .bind(start)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends the referral relationship in force for `account` at `end`.
    pub async fn end_referral(&self, account: &str, end: UnixNanos) -> Result<(), LedgerError> {
        let mut tx = self.pool().begin().await?;
        require_account(&mut tx, account, "").await?;
        let done = sqlx::query(
            "UPDATE referrals SET end_at = $2 WHERE account = $1 AND start_at < $2 AND (end_at IS NULL OR end_at > $2)",
        )
        .bind(account)
        .bind(end)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(LedgerError::invalid(
                "account",
                format!("{account:?} has no referrer in force then"),
            ));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The referral chain of `account` in force at `at`, nearest first (at most `depth`).
    pub async fn referral_chain(
        &self,
        account: &str,
        at: UnixNanos,
        depth: usize,
    ) -> Result<Vec<String>, LedgerError> {
        let mut conn = self.pool().acquire().await?;
        referral_chain(&mut conn, account, at, depth).await
    }

    /// Records (or changes) the author of a Strategy (`namespace/name`).
    pub async fn set_strategy_author(
        &self,
        strategy: &str,
        author: &str,
    ) -> Result<(), LedgerError> {
        if strategy.is_empty() {
            return Err(LedgerError::invalid("strategy", "must not be empty"));
        }
        let mut tx = self.pool().begin().await?;
        require_account(&mut tx, author, " (the strategy's author)").await?;
        sqlx::query(
            "INSERT INTO strategy_authors (strategy, author) VALUES ($1, $2) \
             ON CONFLICT (strategy) DO UPDATE SET author = excluded.author",
        )
        .bind(strategy)
        .bind(author)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores (or replaces) a CommissionPlan's spec, as JSON, under its name. The caller
    /// has checked it (the engine's `Plan` is built from it at settlement).
    pub async fn put_plan(&self, name: &str, spec_json: &str) -> Result<(), LedgerError> {
        let ok =
            name.split('/').count() <= 2 && name.split('/').all(|p| check_id("plan", p).is_ok());
        if !ok {
            return Err(LedgerError::invalid(
                "plan",
                format!("{name:?} must be a CommissionPlan's `namespace/name` (or a name)"),
            ));
        }
        sqlx::query(
            "INSERT INTO plans (name, spec, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(spec_json)
        .bind(now_nanos())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A plan's spec JSON, if stored.
    pub async fn plan_spec(&self, name: &str) -> Result<Option<String>, LedgerError> {
        let row = sqlx::query("SELECT spec FROM plans WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("spec")?),
            None => None,
        })
    }

    /// Every account with its current referrer and members, by id.
    pub async fn list_accounts(&self) -> Result<Vec<AccountInfo>, LedgerError> {
        let mut conn = self.pool().acquire().await?;
        let rows = sqlx::query("SELECT id, display_name FROM accounts ORDER BY id")
            .fetch_all(&mut *conn)
            .await?;
        let now = now_nanos();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get("id")?;
            let members = sqlx::query(
                "SELECT subject, role FROM members WHERE account = $1 ORDER BY subject",
            )
            .bind(&id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|m| Ok((m.try_get("subject")?, m.try_get("role")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
            out.push(AccountInfo {
                referrer: referrer_at(&mut conn, &id, now).await?,
                display_name: r.try_get("display_name")?,
                id,
                members,
            });
        }
        Ok(out)
    }
}
