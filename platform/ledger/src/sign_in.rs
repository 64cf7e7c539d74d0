//! Signing in to PostgreSQL with a password that expires (an Entra ID access token on
//! Azure Database for PostgreSQL): fetched before the first connection, fetched again
//! before it expires, and used by every connection opened after that. Connections
//! already open stay (PostgreSQL checks the password only when a connection opens).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sqlx::AnyPool;
use sqlx::any::AnyConnectOptions;

/// A password and when it stops being accepted.
#[derive(Clone)]
pub struct Password {
    /// The secret (a token); never printed.
    pub secret: String,
    /// When the server stops accepting it.
    pub expires_at: SystemTime,
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Password")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Where passwords come from (e.g. Entra ID tokens for the workload identity).
pub trait PasswordSource: Send + Sync + 'static {
    /// A password valid now; the error says why none could be had.
    fn password(&self) -> Pin<Box<dyn Future<Output = Result<Password, String>> + Send + '_>>;
}

/// How long before expiry a password is renewed: Entra tokens live an hour or more, and
/// azure_core renews its own tokens this early too.
pub const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// The wait before another attempt after a renewal failed.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// How long to wait at `now` before renewing a password that expires at `expires_at`:
/// until [`RENEW_BEFORE`] its expiry, or half of what is left when that is less (at
/// least a second, so a password already expired is not renewed in a busy loop).
pub fn renew_in(expires_at: SystemTime, now: SystemTime) -> Duration {
    let left = expires_at.duration_since(now).unwrap_or_default();
    let wait = match left.checked_sub(RENEW_BEFORE) {
        Some(w) if w > Duration::ZERO => w,
        _ => left / 2,
    };
    wait.max(Duration::from_secs(1))
}

/// `url` with its password set to `secret` (percent-encoded where the URL needs it).
pub(crate) fn with_password(url: &str, secret: &str) -> Result<AnyConnectOptions, sqlx::Error> {
    let mut options: AnyConnectOptions = url.parse()?;
    options
        .database_url
        .set_password(Some(secret))
        .map_err(|()| {
            sqlx::Error::Configuration("the database URL cannot hold a password".into())
        })?;
    Ok(options)
}

/// Renews the pool's password before each expiry until the pool is closed.
pub(crate) fn keep_renewed(
    pool: AnyPool,
    url: String,
    source: Arc<dyn PasswordSource>,
    mut expires_at: SystemTime,
) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(renew_in(expires_at, SystemTime::now())).await;
            if pool.is_closed() {
                return;
            }
            match source.password().await {
                Ok(p) => match with_password(&url, &p.secret) {
                    Ok(options) => {
                        pool.set_connect_options(options);
                        expires_at = p.expires_at;
                        tracing::debug!("database password renewed");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "database password renewed but not usable");
                        expires_at = SystemTime::now() + RETRY_AFTER;
                    }
                },
                Err(e) => {
                    // New connections keep the old password until it expires: try again.
                    tracing::warn!(error = %e, "renewing the database password failed; retrying");
                    expires_at = SystemTime::now() + RETRY_AFTER;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: SystemTime = SystemTime::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        T0 + Duration::from_secs(secs)
    }

    #[test]
    fn a_password_is_renewed_five_minutes_before_it_expires() {
        // An hour-long Entra token: renewed after 55 minutes.
        assert_eq!(renew_in(at(3600), at(0)), Duration::from_secs(3300));
        assert_eq!(renew_in(at(3600), at(3000)), Duration::from_secs(300));
    }

    #[test]
    fn a_short_or_expired_password_is_renewed_soon_but_not_in_a_loop() {
        // Four minutes left: after half of them.
        assert_eq!(renew_in(at(240), at(0)), Duration::from_secs(120));
        // Exactly five minutes left: half.
        assert_eq!(renew_in(at(300), at(0)), Duration::from_secs(150));
        // Expired: after a second.
        assert_eq!(renew_in(at(10), at(20)), Duration::from_secs(1));
        assert_eq!(renew_in(at(20), at(20)), Duration::from_secs(1));
    }

    #[test]
    fn the_password_is_set_in_the_url_encoded_and_never_printed() {
        let o = with_password(
            "postgres://id-platform@db.example:5432/ledger?sslmode=require",
            "a/b c",
        )
        .unwrap();
        assert_eq!(
            o.database_url.as_str(),
            "postgres://id-platform:a%2Fb%20c@db.example:5432/ledger?sslmode=require"
        );
        let p = Password {
            secret: "eyJ.secret".into(),
            expires_at: at(1),
        };
        assert!(!format!("{p:?}").contains("secret\""), "{p:?}");
        assert!(!format!("{p:?}").contains("eyJ"), "{p:?}");
    }
}
