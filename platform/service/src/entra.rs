//! The ledger's sign-in to Azure Database for PostgreSQL as the platform's workload
//! identity: when the database URL holds no password and the workload-identity webhook
//! injected its variables, the password is an Entra ID access token for PostgreSQL,
//! renewed by the ledger before it expires. The URL's user is the identity's name (the
//! server's Entra administrator `twctl env` creates for it).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use azure_core::credentials::TokenCredential;
use tradewind_ledger::{Password, PasswordSource};

/// The scope of Azure Database for PostgreSQL's Entra ID tokens (every cloud's).
pub const SCOPE: &str = "https://ossrdbms-aad.database.windows.net/.default";

/// The variables the workload-identity webhook injects; all set means the pod has one.
pub const WORKLOAD_IDENTITY_VARS: [&str; 3] = [
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
];

/// How the ledger signs in to its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// With what the URL holds (SQLite; a PostgreSQL password; trust).
    Url,
    /// With an Entra ID token as the password.
    EntraToken,
}

/// Decides how to sign in to `url`, reading variables through `var`: an Entra token for a
/// PostgreSQL URL that holds no password when the pod has a workload identity.
pub fn sign_in(url: &str, var: impl Fn(&str) -> Option<String>) -> SignIn {
    let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let identity = WORKLOAD_IDENTITY_VARS
        .iter()
        .all(|v| var(v).is_some_and(|x| !x.trim().is_empty()));
    if postgres && identity && !holds_password(url) {
        SignIn::EntraToken
    } else {
        SignIn::Url
    }
}

/// Whether a `postgres://` URL carries a password (`user:pw@` or `?password=`).
fn holds_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let authority = authority.split('/').next().unwrap_or("");
    let in_userinfo = authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'));
    let in_query = query.is_some_and(|q| q.split('&').any(|kv| kv.starts_with("password=")));
    in_userinfo || in_query
}

/// Entra ID tokens for PostgreSQL from a credential (the workload identity's in a pod).
pub struct EntraPassword {
    credential: Arc<dyn TokenCredential>,
}

impl EntraPassword {
    /// Tokens from `credential`.
    pub fn new(credential: Arc<dyn TokenCredential>) -> Self {
        Self { credential }
    }
}

impl PasswordSource for EntraPassword {
    fn password(&self) -> Pin<Box<dyn Future<Output = Result<Password, String>> + Send + '_>> {
        Box::pin(async move {
            let token = self
                .credential
                .get_token(&[SCOPE], None)
                .await
                .map_err(|e| format!("no Entra ID token for {SCOPE}: {e}"))?;
            Ok(Password {
                secret: token.token.secret().to_owned(),
                expires_at: SystemTime::from(token.expires_on),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_identity(name: &str) -> Option<String> {
        WORKLOAD_IDENTITY_VARS
            .contains(&name)
            .then(|| "set".to_owned())
    }

    #[test]
    fn a_token_only_for_postgres_without_a_password_in_a_pod_with_an_identity() {
        let url =
            "postgres://id-platform@db.postgres.database.azure.com:5432/ledger?sslmode=require";
        assert_eq!(sign_in(url, with_identity), SignIn::EntraToken);
        assert_eq!(
            sign_in("postgresql://id-platform@db/ledger", with_identity),
            SignIn::EntraToken
        );
        // A password in the URL is used as given.
        assert_eq!(
            sign_in("postgres://u:pw@db:5432/ledger", with_identity),
            SignIn::Url
        );
        assert_eq!(
            sign_in(
                "postgres://u@db/ledger?sslmode=require&password=pw",
                with_identity
            ),
            SignIn::Url
        );
        // An '@' or ':' in the path or query is not a password.
        assert_eq!(
            sign_in(
                "postgres://u@db:5432/ledger?application_name=a:b@c",
                with_identity
            ),
            SignIn::EntraToken
        );
        // No workload identity (or only part of it): the URL as it is.
        assert_eq!(sign_in(url, |_| None), SignIn::Url);
        assert_eq!(
            sign_in(url, |n| (n == "AZURE_CLIENT_ID").then(|| "c".to_owned())),
            SignIn::Url
        );
        assert_eq!(
            sign_in(url, |n| with_identity(n).map(|_| " ".to_owned())),
            SignIn::Url
        );
        // SQLite never.
        assert_eq!(sign_in("sqlite:ledger.db", with_identity), SignIn::Url);
    }

    /// A password fetched before, handed out as it is.
    struct Fetched(Password);

    impl PasswordSource for Fetched {
        fn password(&self) -> Pin<Box<dyn Future<Output = Result<Password, String>> + Send + '_>> {
            let p = self.0.clone();
            Box::pin(async move { Ok(p) })
        }
    }

    /// As on Azure Database for PostgreSQL, where the identity's Entra token is its
    /// password: a real PostgreSQL server whose role has, as its password, the token the
    /// Azure fake's Entra issued for PostgreSQL's scope signs the ledger in through its
    /// sign-in path (migrations applied); any other token is refused.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_entra_token_signs_the_ledger_in_to_postgresql() {
        use sqlx::Connection as _;
        use tradewind_ledger::Ledger;

        let fake = tradewind_azure_fake::TestServer::start().unwrap();
        let token = EntraPassword::new(fake.connection().credential)
            .password()
            .await
            .unwrap();
        assert_eq!(
            fake.token_audience(&token.secret).as_deref(),
            Some("https://ossrdbms-aad.database.windows.net")
        );
        assert!(
            token.expires_at > SystemTime::now() + tradewind_ledger::RENEW_BEFORE,
            "{token:?}"
        );

        let pg = tradewind_test_support::postgres::PgServer::start_with_passwords("admin-pw");
        let admin_url = format!(
            "postgres://postgres:admin-pw@127.0.0.1:{}/postgres",
            pg.port()
        );
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        for statement in [
            format!(
                "CREATE ROLE \"id-platform\" LOGIN PASSWORD '{}'",
                token.secret
            ),
            "CREATE DATABASE ledger OWNER \"id-platform\"".to_owned(),
        ] {
            sqlx::Executor::execute(&mut admin, statement.as_str())
                .await
                .unwrap();
        }
        admin.close().await.unwrap();

        // The URL twctl writes: the identity's name, no password.
        let url = format!("postgres://id-platform@127.0.0.1:{}/ledger", pg.port());
        assert_eq!(
            sign_in(&url, with_identity),
            SignIn::EntraToken,
            "the URL names no password"
        );
        let ledger = Ledger::connect_with(&url, Some(Arc::new(Fetched(token))))
            .await
            .unwrap();
        ledger.migrate().await.unwrap();
        ledger.ping().await.unwrap();
        ledger.close().await;

        // Another credential's token (the first one caches its token) is another
        // secret: refused by the server.
        let other = EntraPassword::new(fake.connection().credential);
        let err = Ledger::connect_with(&url, Some(Arc::new(other)))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("password authentication failed"), "{err}");
        // Without a token there is no password at all.
        let err = Ledger::connect(&url).await.unwrap_err().to_string();
        assert!(err.contains("password"), "{err}");
    }
}
