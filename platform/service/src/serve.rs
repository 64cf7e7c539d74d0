//! `tradewind-platform serve`: the workers' ingest (authenticated by TokenReview, in
//! `tradewind-ingest`) recording into the ledger, and the user API (`tradewind-api`) on a
//! second port. This module is the seam: the TradingBot's facts become the ledger's
//! [`BotRecord`], the ledger's refusals become the ingest's typed answers, and the
//! command line becomes the API's [`tradewind_api::Config`].
//!
//! Two ports, one accept loop: the ingest is for the workers inside the cluster (its
//! NetworkPolicy admits bot pods), the API is for people and programs outside (behind an
//! ingress or API Management); separate ports keep those exposures and their connection
//! limits apart.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tradewind_events::Event;
use tradewind_ingest::server::{
    BotRef, EventSink, Ingest, Limits, Recorded, SinkError, SinkFuture, serve,
};
use tradewind_ledger::{BotRecord, Ledger, LedgerError};

/// The ledger as the ingest's sink.
pub struct LedgerSink {
    ledger: Ledger,
}

impl LedgerSink {
    /// A sink recording into `ledger`.
    pub fn new(ledger: Ledger) -> Self {
        LedgerSink { ledger }
    }
}

/// The ledger's view of a bot: plan and strategy are named `namespace/name`, as the
/// ledger stores them; a Paper or Live bot's capital currency is its symbol's quote
/// currency (the CRD's rule).
pub fn bot_record(bot: &BotRef) -> BotRecord {
    BotRecord {
        bot: bot.key(),
        account: bot.account.clone(),
        plan: bot
            .commission_plan
            .as_ref()
            .map(|p| format!("{}/{p}", bot.namespace)),
        quote_currency: bot.capital_currency.clone(),
        strategy: (!bot.strategy.is_empty()).then(|| format!("{}/{}", bot.namespace, bot.strategy)),
    }
}

/// The ingest's answer for a ledger's refusal.
pub fn sink_error(bot: &BotRef, e: LedgerError) -> SinkError {
    match e {
        LedgerError::UnknownAccount { account, context } => SinkError::UnknownAccount {
            account,
            reason: format!("create it with `tradewind-platform accounts create`{context}"),
        },
        LedgerError::Conflict { id } => SinkError::Conflict { id },
        LedgerError::InvalidEvent { id, field, reason } => SinkError::Invalid { id, field, reason },
        LedgerError::Invalid { field, reason } => SinkError::Invalid {
            id: String::new(),
            field,
            reason: format!("bot {}: {reason}", bot.key()),
        },
        // The database, its schema or stored data: the worker keeps its backlog and
        // retries; the operator of the platform reads the log.
        other => {
            tracing::error!(bot = %bot.key(), error = %other, "the ledger could not record a batch");
            SinkError::Unavailable(other.to_string())
        }
    }
}

impl EventSink for LedgerSink {
    fn record<'a>(
        &'a self,
        bot: &'a BotRef,
        events: &'a [Event],
    ) -> SinkFuture<'a, Result<Recorded, SinkError>> {
        Box::pin(async move {
            let done = self
                .ledger
                .record_events(&bot_record(bot), events)
                .await
                .map_err(|e| sink_error(bot, e))?;
            Ok(Recorded {
                // Kinds the ledger does not keep are acknowledged as recorded: the worker
                // must not send them again.
                recorded: (done.stored + done.skipped) as u64,
                duplicates: done.duplicates as u64,
            })
        })
    }

    fn ready(&self) -> SinkFuture<'_, bool> {
        Box::pin(async move { self.ledger.ping().await.is_ok() })
    }

    fn signals<'a>(
        &'a self,
        bot: &'a str,
        after: u64,
        limit: usize,
    ) -> SinkFuture<'a, Result<Vec<tradewind_ingest::WireSignal>, SinkError>> {
        Box::pin(async move {
            let after = i64::try_from(after).unwrap_or(i64::MAX);
            let limit = u32::try_from(limit).unwrap_or(u32::MAX);
            let rows = self
                .ledger
                .signals_after(bot, after, limit)
                .await
                .map_err(|e| SinkError::Unavailable(e.to_string()))?;
            Ok(rows
                .into_iter()
                .map(|r| tradewind_ingest::WireSignal {
                    seq: u64::try_from(r.seq).unwrap_or(0),
                    id: r.id,
                    action: r.action,
                    ts: r.ts,
                })
                .collect())
        })
    }

    fn ack_signals<'a>(
        &'a self,
        bot: &'a str,
        upto: u64,
    ) -> SinkFuture<'a, Result<u64, SinkError>> {
        Box::pin(async move {
            let upto = i64::try_from(upto).unwrap_or(i64::MAX);
            self.ledger
                .ack_signals(bot, upto, tradewind_ledger::accounts::now_nanos())
                .await
                .map_err(|e| SinkError::Unavailable(e.to_string()))
        })
    }
}

/// The user API's settings on the command line.
#[derive(clap::Args, Debug)]
pub struct ApiArgs {
    /// Address the user API (`/api/v1`) listens on; `off` serves the ingest only.
    #[arg(long, env = "TRADEWIND_API_LISTEN", default_value = "0.0.0.0:8081")]
    api_listen: String,
    /// The OpenID Connect issuer whose bearer tokens the API accepts (its `iss`); none:
    /// API keys only.
    #[arg(long, env = "TRADEWIND_OIDC_ISSUER", requires = "oidc_audience")]
    oidc_issuer: Option<String>,
    /// The audience (`aud`) the API's tokens carry.
    #[arg(long, env = "TRADEWIND_OIDC_AUDIENCE")]
    oidc_audience: Option<String>,
    /// The issuer's JWKS URL (default: from its discovery document).
    #[arg(long, env = "TRADEWIND_OIDC_JWKS_URL")]
    oidc_jwks_url: Option<String>,
    /// Where an account's bots live: `namespace` (one namespace per account,
    /// `<prefix><account>`, created with its first bot) or `shared` (all in
    /// --shared-namespace, told apart by spec.accountRef).
    #[arg(long, env = "TRADEWIND_TENANCY", default_value = "namespace")]
    tenancy: String,
    /// The prefix of an account's namespace.
    #[arg(long, env = "TRADEWIND_NAMESPACE_PREFIX", default_value = "tw-")]
    namespace_prefix: String,
    /// The namespace of every bot under `--tenancy shared`.
    #[arg(
        long,
        env = "TRADEWIND_SHARED_NAMESPACE",
        default_value = "tradewind-bots"
    )]
    shared_namespace: String,
    /// Requests per second per client address (sustained), and the burst.
    #[arg(long, env = "TRADEWIND_API_RATE_PER_ADDRESS", default_value = "50/100")]
    rate_per_address: String,
    /// Requests per second per API key or user (sustained), and the burst.
    #[arg(long, env = "TRADEWIND_API_RATE_PER_CALLER", default_value = "20/40")]
    rate_per_caller: String,
    /// How far (seconds) a signed request's timestamp may be from the server's clock.
    #[arg(long, env = "TRADEWIND_API_REPLAY_WINDOW", default_value_t = 30)]
    api_replay_window: u64,
    /// The largest request body (bytes).
    #[arg(long, env = "TRADEWIND_API_MAX_BODY", default_value_t = 65536)]
    api_max_body: usize,
    /// How old (seconds) a signal posted to a bot's webhook may be.
    #[arg(long, env = "TRADEWIND_SIGNAL_MAX_LAG", default_value_t = 60)]
    signal_max_lag: u64,
    /// How far (seconds) a signal's time may be ahead of the platform's clock.
    #[arg(long, env = "TRADEWIND_SIGNAL_MAX_SKEW", default_value_t = 5)]
    signal_max_skew: u64,
    /// The dashboard's OIDC client id at --oidc-issuer (authorization code with PKCE);
    /// none: the dashboard signs in with API keys only.
    #[arg(long, env = "TRADEWIND_DASHBOARD_CLIENT_ID", requires = "oidc_issuer")]
    dashboard_client_id: Option<String>,
    /// The client's secret, for an issuer that wants one besides PKCE (environment only).
    #[arg(
        long,
        env = "TRADEWIND_DASHBOARD_CLIENT_SECRET",
        hide_env_values = true
    )]
    dashboard_client_secret: Option<String>,
    /// The scopes the dashboard asks for (the access token must be for --oidc-audience).
    #[arg(long, env = "TRADEWIND_DASHBOARD_SCOPE", default_value = "openid")]
    dashboard_scope: String,
    /// The dashboard's public base URL (the redirect URI is `<it>/ui/callback`); default:
    /// `http://<Host header>`, for a local install.
    #[arg(long, env = "TRADEWIND_DASHBOARD_URL")]
    dashboard_url: Option<String>,
    /// The key signing the dashboard's cookies, hex (32 bytes or more; environment only);
    /// default: random per start (a restart signs everyone out; replicas need one key).
    #[arg(long, env = "TRADEWIND_DASHBOARD_SESSION_KEY", hide_env_values = true)]
    dashboard_session_key: Option<String>,
}

/// Notifications' settings on the command line.
#[derive(clap::Args, Debug)]
pub struct NotifyArgs {
    /// The key channel secrets are sealed with (AES-256-GCM): 32 bytes, base64
    /// (`openssl rand -base64 32`). None: notifications are off (no channel can be
    /// created, nothing is sent). Changing it makes the stored secrets unreadable.
    #[arg(long, env = "TRADEWIND_NOTIFY_KEY", hide_env_values = true)]
    notify_key: Option<String>,
    /// The Telegram Bot API's base URL.
    #[arg(
        long,
        env = "TRADEWIND_TELEGRAM_API",
        default_value = "https://api.telegram.org"
    )]
    telegram_api: String,
    /// Attempts before a delivery is dead-lettered.
    #[arg(long, env = "TRADEWIND_NOTIFY_MAX_ATTEMPTS", default_value_t = 8)]
    notify_max_attempts: u32,
    /// Seconds after a UTC midnight before the day's summary is enqueued (events the
    /// workers still hold arrive meanwhile; a fill recorded later is not in it).
    #[arg(long, env = "TRADEWIND_NOTIFY_SUMMARY_DELAY", default_value_t = 600)]
    notify_summary_delay: u64,
    /// Seconds between checks for a daily summary to enqueue.
    #[arg(long, env = "TRADEWIND_NOTIFY_SUMMARY_EVERY", default_value_t = 60)]
    notify_summary_every: u64,
}

impl NotifyArgs {
    /// The sealer, if notifications are on.
    pub fn sealer(&self) -> Result<Option<Arc<tradewind_notify::Sealer>>> {
        self.notify_key
            .as_deref()
            .map(|k| {
                tradewind_notify::Sealer::from_base64(k)
                    .map(Arc::new)
                    .map_err(|e| anyhow::anyhow!("--notify-key: {e}"))
            })
            .transpose()
    }

    /// The dispatcher over `ledger`, if notifications are on.
    pub fn dispatcher(
        &self,
        ledger: &Ledger,
        sealer: Option<Arc<tradewind_notify::Sealer>>,
    ) -> Result<Option<tradewind_notify::dispatch::Dispatcher<Ledger>>> {
        let Some(sealer) = sealer else {
            return Ok(None);
        };
        if self.notify_max_attempts == 0 {
            anyhow::bail!("--notify-max-attempts: at least 1");
        }
        let senders = tradewind_notify::send::Senders::new(tradewind_notify::send::SendConfig {
            telegram_api: self.telegram_api.clone(),
            ..Default::default()
        })
        .map_err(|e| anyhow::anyhow!("notifications: {e}"))?;
        let config = tradewind_notify::dispatch::DispatchConfig {
            retry: tradewind_notify::RetryPolicy {
                max_attempts: self.notify_max_attempts,
                ..Default::default()
            },
            ..Default::default()
        };
        if self.notify_summary_every == 0 {
            anyhow::bail!("--notify-summary-every: at least 1 second");
        }
        Ok(Some(tradewind_notify::dispatch::Dispatcher::new(
            Arc::new(ledger.clone()),
            senders,
            sealer,
            config,
        )))
    }
}

/// Enqueues each account's daily summary of the last UTC day that ended `delay` ago,
/// checking every `every`. `serve` owns it, not `settle`: the summary is per account
/// whatever its plan (settlements run per plan and period, some bots on none), and
/// `serve` runs all day next to the dispatcher. The ledger keys it by account and day, so
/// replicas and restarts enqueue it once; an account whose first channel comes later in
/// the day still gets it.
async fn daily_summaries(ledger: Ledger, delay: Duration, every: Duration) {
    let delay = i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let day =
            tradewind_notify::last_summarised_day(tradewind_ledger::accounts::now_nanos(), delay);
        match ledger.enqueue_daily_summaries(day).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                day = %&tradewind_core::data::time::format_iso8601(day)[..10],
                deliveries = n,
                "daily summaries enqueued"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "daily summaries: not enqueued; tried again at the next check")
            }
        }
    }
}

/// `PER_SECOND/BURST`.
fn rate(flag: &str, text: &str) -> Result<tradewind_api::limit::Rate> {
    let parse = |t: &str| t.trim().parse::<u32>().ok().filter(|n| *n > 0);
    match text.split_once('/').map(|(a, b)| (parse(a), parse(b))) {
        Some((Some(per_second), Some(burst))) => {
            Ok(tradewind_api::limit::Rate { per_second, burst })
        }
        _ => {
            anyhow::bail!("--{flag} {text:?}: expected PER_SECOND/BURST, both positive, e.g. 20/40")
        }
    }
}

impl ApiArgs {
    /// The API's configuration, or the flag at fault.
    pub fn config(&self) -> Result<tradewind_api::Config> {
        let tenancy = match self.tenancy.as_str() {
            "namespace" => tradewind_api::Tenancy::NamespacePerAccount {
                prefix: self.namespace_prefix.clone(),
            },
            "shared" => tradewind_api::Tenancy::Shared {
                namespace: self.shared_namespace.clone(),
            },
            other => anyhow::bail!("--tenancy {other:?}: namespace or shared"),
        };
        let oidc = match (&self.oidc_issuer, &self.oidc_audience) {
            (Some(issuer), Some(audience)) => Some(tradewind_api::auth::OidcConfig {
                issuer: issuer.clone(),
                audience: audience.clone(),
                jwks_url: self.oidc_jwks_url.clone(),
                leeway: Duration::from_secs(30),
                min_refresh: Duration::from_secs(30),
            }),
            (None, _) => None,
            (Some(_), None) => anyhow::bail!("--oidc-issuer needs --oidc-audience"),
        };
        Ok(tradewind_api::Config {
            oidc,
            tenancy,
            replay_window: Duration::from_secs(self.api_replay_window),
            max_body_bytes: self.api_max_body,
            per_address: rate("rate-per-address", &self.rate_per_address)?,
            per_caller: rate("rate-per-caller", &self.rate_per_caller)?,
            dashboard: self.dashboard()?,
            signals: tradewind_api::signals::SignalTiming {
                max_lag: Duration::from_secs(self.signal_max_lag),
                max_skew: Duration::from_secs(self.signal_max_skew),
            },
            ..tradewind_api::Config::default()
        })
    }

    fn dashboard(&self) -> Result<tradewind_api::dashboard::DashboardConfig> {
        let mut d = tradewind_api::dashboard::DashboardConfig {
            client_id: self.dashboard_client_id.clone(),
            client_secret: self.dashboard_client_secret.clone(),
            scope: self.dashboard_scope.clone(),
            public_url: self.dashboard_url.clone(),
            ..Default::default()
        };
        if let Some(text) = &self.dashboard_session_key {
            let key = hex::decode(text.trim())
                .ok()
                .filter(|k| k.len() >= 32)
                .with_context(
                    || "--dashboard-session-key: expected at least 32 bytes as hex (64 hex digits)",
                )?;
            d.session_key = key;
        }
        Ok(d)
    }
}

/// Serves the ingest on `listen` and the API on `--api-listen` until SIGTERM or Ctrl-C.
pub async fn run(
    ledger: Ledger,
    listen: SocketAddr,
    api_args: ApiArgs,
    notify_args: NotifyArgs,
) -> Result<()> {
    let api_listen: Option<SocketAddr> = match api_args.api_listen.as_str() {
        "off" => None,
        text => Some(
            text.parse()
                .with_context(|| format!("--api-listen {text:?}: an address or off"))?,
        ),
    };
    let mut config = api_args.config()?;
    let sealer = notify_args.sealer()?;
    config.notify_key = sealer.clone();
    let dispatcher = match notify_args.dispatcher(&ledger, sealer)? {
        Some(d) => {
            tracing::info!("tradewind-platform dispatching notifications");
            let summaries = tokio::spawn(daily_summaries(
                ledger.clone(),
                Duration::from_secs(notify_args.notify_summary_delay),
                Duration::from_secs(notify_args.notify_summary_every),
            ));
            Some((tokio::spawn(d.run()), summaries))
        }
        None => {
            tracing::info!("notifications are off (no --notify-key)");
            None
        }
    };
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API (TokenReviews and TradingBots)")?;
    let ingest = Arc::new(Ingest::new(
        client.clone(),
        Arc::new(LedgerSink::new(ledger.clone())),
        Limits::default(),
    ));
    // The ingest's counters over OTLP too when the environment asks for it.
    tradewind_telemetry::export_prometheus("tradewind-platform", {
        let ingest = ingest.clone();
        move || {
            let mut out = String::new();
            ingest.encode_metrics(&mut out);
            out
        }
    });
    let (bound, task) = serve(listen, ingest)
        .await
        .with_context(|| format!("--listen {listen}"))?;
    tracing::info!(%bound, "tradewind-platform serving the ingest");
    let api_task = match api_listen {
        Some(addr) => {
            // A local install's first start: an admin key, printed once, stored hashed.
            if let Some((id, secret)) = tradewind_api::bootstrap_admin_key(&ledger)
                .await
                .map_err(|e| anyhow::anyhow!("creating the first admin API key: {e}"))?
            {
                println!(
                    "tradewind-platform: the platform admin's API key (shown once, store it now): id {id} secret {secret}"
                );
            }
            let api = tradewind_api::Api::new(ledger, client, config)
                .map_err(|e| anyhow::anyhow!("the user API: {e}"))?;
            let (bound, task) = tradewind_api::serve(
                addr,
                Arc::new(api),
                tradewind_http::Limits {
                    header_read_timeout: Duration::from_secs(10),
                    max_connections: 256,
                },
            )
            .await
            .with_context(|| format!("--api-listen {addr}"))?;
            tracing::info!(%bound, "tradewind-platform serving the user API (/api/v1)");
            Some(task)
        }
        None => None,
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    task.abort();
    if let Some((t, summaries)) = dispatcher {
        t.abort();
        summaries.abort();
    }
    if let Some(t) = api_task {
        t.abort();
    }
    tracing::info!("tradewind-platform stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradewind_events::{Body, Fill, Liquidity, Side};

    fn bot() -> BotRef {
        BotRef {
            namespace: "trading".into(),
            name: "btc-bot".into(),
            uid: "u1".into(),
            account: "acme".into(),
            commission_plan: Some("standard".into()),
            symbol: "BTCUSDT".into(),
            capital_currency: "USDT".into(),
            strategy: "sma".into(),
        }
    }

    fn fill(seq: u64, price: &str) -> Event {
        Event::new(
            "trading/btc-bot",
            "2026-11-25T10:00:00Z",
            seq,
            "2026-11-25T10:03:00Z".into(),
            Body::Fill(Fill {
                order_id: 1,
                side: Side::Buy,
                price: price.into(),
                quantity: "0.001".into(),
                fee: "0.087".into(),
                liquidity: Liquidity::Taker,
            }),
        )
    }

    async fn ledger(dir: &std::path::Path) -> Ledger {
        let url = format!("sqlite:{}", dir.join("ledger.db").display());
        let ledger = Ledger::connect(&url).await.unwrap();
        ledger.migrate().await.unwrap();
        ledger
    }

    #[test]
    fn the_bot_is_named_as_the_ledger_stores_it() {
        let r = bot_record(&bot());
        assert_eq!(r.bot, "trading/btc-bot");
        assert_eq!(r.plan.as_deref(), Some("trading/standard"));
        assert_eq!(r.strategy.as_deref(), Some("trading/sma"));
        assert_eq!(r.quote_currency, "USDT");
        assert_eq!(r.account, "acme");
    }

    #[tokio::test]
    async fn the_ledger_records_dedups_and_refuses_through_the_sink() {
        let dir = std::env::temp_dir().join(format!("tw-serve-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ledger = ledger(&dir).await;
        let sink = LedgerSink::new(ledger.clone());
        let b = bot();
        // Unknown account: refused with what to do, nothing recorded.
        match sink.record(&b, &[fill(0, "87000")]).await {
            Err(SinkError::UnknownAccount { account, reason }) => {
                assert_eq!(account, "acme");
                assert!(reason.contains("accounts create"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        ledger.create_account("acme", "Acme").await.unwrap();
        let first = sink
            .record(&b, &[fill(0, "87000"), fill(1, "87001")])
            .await
            .unwrap();
        assert_eq!((first.recorded, first.duplicates), (2, 0));
        let again = sink
            .record(&b, &[fill(0, "87000"), fill(1, "87001")])
            .await
            .unwrap();
        assert_eq!((again.recorded, again.duplicates), (0, 2));
        // Same id, other content: corruption, named.
        match sink.record(&b, &[fill(1, "1")]).await {
            Err(SinkError::Conflict { id }) => {
                assert_eq!(id, "trading/btc-bot/2026-11-25T10:00:00Z/1")
            }
            other => panic!("{other:?}"),
        }
        assert!(sink.ready().await);
        ledger.close().await;
        assert!(!sink.ready().await, "a closed ledger is not ready");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
