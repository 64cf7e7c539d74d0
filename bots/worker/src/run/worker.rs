//! The worker process: the wiring around one trading [`Session`]. It reads the config,
//! serves /metrics, finds the cluster (status, the bot's UID, the Lease), sets up the
//! event sinks, waits for the Lease, opens the journal, builds the engine with its
//! execution (paper or live), connects market data, and runs the session until SIGTERM.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use kube::{Api, Client};
use tokio::sync::watch;
use tradewind_core::engine::{Engine, Outbox};
use tradewind_core::exchange::BarFillModel;
use tradewind_core::instrument::Instrument;
use tradewind_crds::resolved::BotConfig;
use tradewind_crds::{Mode, TradingBot};
use tradewind_events::{Mode as EventMode, StopReason};

use super::config::{self, ApiCredentials, RunArgs};
use super::events::{EventSink, Fanout, StdoutSink};
use super::feed::{Replay, SharedBars, Source};
use super::journal::{Journal, TailPolicy};
use super::lease::LeaseGuard;
use super::live::LiveExecutor;
use super::metrics::{self, WorkerMetrics};
use super::record::Record;
use super::recorder::{Recorder, RecorderConfig};
use super::service_bus::{ServiceBusConfig, ServiceBusSink};
use super::session::{Execution, Outputs, Paper, Session, SessionError, Start};
use super::status::StatusReporter;
use crate::venue::binance::{
    BinanceEndpoints, BinanceRest, Credentials, MarketFeed, MarketStreams, UserStream,
};

/// SIGTERM (or Ctrl-C), listened for from the worker's start: a SIGTERM that arrives
/// before the session runs must stop it cleanly, not kill the process.
struct Shutdown {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Shutdown {
    fn listen() -> Self {
        Shutdown {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
        }
    }

    /// Resolves at the signal.
    async fn wait(&mut self) {
        #[cfg(unix)]
        if let Some(term) = &mut self.term {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn endpoints(args: &RunArgs, cfg: &BotConfig) -> BinanceEndpoints {
    let base = if cfg.bot.venue.testnet {
        BinanceEndpoints::testnet()
    } else {
        BinanceEndpoints::production()
    };
    BinanceEndpoints::custom(
        args.binance_rest.clone().unwrap_or(base.rest),
        args.binance_ws.clone().unwrap_or(base.ws),
    )
}

fn azure_credential(
    args: &RunArgs,
) -> Result<(
    Arc<dyn azure_core::credentials::TokenCredential>,
    tradewind_azure::transport::TransportOptions,
)> {
    let azure = args.azure.connect("AzurePublic")?;
    Ok((azure.credential, azure.transport))
}

async fn exchange_credentials(args: &RunArgs) -> Result<ApiCredentials> {
    match (&args.key_vault_uri, &args.key_vault_secret) {
        (Some(uri), Some(secret)) => {
            let (credential, transport) = azure_credential(args)?;
            let secrets = azure_security_keyvault_secrets::SecretClient::new(
                uri,
                credential,
                Some(azure_security_keyvault_secrets::SecretClientOptions {
                    client_options: azure_core::http::ClientOptions {
                        transport: Some(tradewind_azure::transport::azure_transport(&transport)?),
                        ..Default::default()
                    },
                    ..Default::default()
                }),
            )?;
            let value = secrets
                .get_secret(secret, None)
                .await
                .map_err(|e| anyhow!("credentials: key vault secret {secret:?}: {e}"))?
                .into_model()
                .map_err(|e| anyhow!("credentials: key vault secret {secret:?}: {e}"))?
                .value
                .unwrap_or_default();
            Ok(config::credentials_from_json(secret, &value)?)
        }
        _ => Ok(config::credentials_from_dir(&args.credentials_dir)?),
    }
}

/// Runs the worker until SIGTERM (or the end of a replay, or a lost Lease).
pub async fn run(args: RunArgs) -> Result<()> {
    let mut shutdown = Shutdown::listen();
    let cfg = config::from_args(&args)?;
    let namespace = cfg
        .namespace
        .clone()
        .or_else(|| args.namespace.clone())
        .unwrap_or_else(|| "default".into());
    let bot = format!("{namespace}/{}", cfg.name);
    let live = cfg.bot.mode == Mode::Live;

    // Exchange credentials first: a live bot without them stops here, saying why.
    let credentials = if live {
        Some(exchange_credentials(&args).await?)
    } else {
        None
    };

    let metrics = Arc::new(WorkerMetrics::default());
    // The same metrics over OTLP when the environment asks for it (else a no-op).
    tradewind_telemetry::export_prometheus("tradewind-bot", {
        let metrics = metrics.clone();
        move || metrics.encode()
    });
    let ready = Arc::new(AtomicBool::new(false));
    let (bound, http_task) = metrics::serve(args.metrics_addr, metrics.clone(), ready.clone())
        .await
        .with_context(|| format!("serving metrics on {}", args.metrics_addr))?;
    tracing::info!(%bot, live, metrics = %bound, "tradewind-bot starting");

    let Cluster {
        bots,
        uid,
        lease,
        leading,
    } = cluster(&args, &cfg.name, &namespace, &bot, live).await?;
    let (sink, service_bus) = sinks(&args)?;
    let outputs = Outputs {
        symbol: cfg.bot.symbols[0].clone(),
        mode: if live {
            EventMode::Live
        } else {
            EventMode::Paper
        },
        sink,
        metrics: metrics.clone(),
        status: bots.map(|api| {
            StatusReporter::new(
                api,
                &cfg.name,
                Duration::from_secs(args.status_interval_seconds),
            )
        }),
        recorder: recorder(&args, &metrics)?,
        signals: signal_inbox(&args, &cfg, &namespace)?,
    };

    // Wait for the Lease (a standby worker is healthy and ready, and does nothing).
    ready.store(true, Ordering::Relaxed);
    let mut leading_rx = leading.clone();
    while !*leading_rx.borrow_and_update() {
        tracing::info!("standby: waiting for the bot's Lease");
        tokio::select! {
            changed = leading_rx.changed() => if changed.is_err() { bail!("lease task ended") },
            () = shutdown.wait() => {
                if let Some(l) = lease { let _ = l.release().await; }
                http_task.abort();
                return Ok(());
            }
        }
    }
    metrics.set_lease_held(true);

    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("creating {}", args.state_dir.display()))?;
    let journal_path = journal_path(&args.state_dir, &cfg.name);
    let journal = open_journal(&journal_path, &cfg)?;
    tracing::info!(records = journal.1.len(), journal = %journal_path.display(), "journal opened");

    let wiring = Wiring {
        args: &args,
        cfg: &cfg,
        bot,
        journal,
        outputs,
        leading,
    };
    let result = match credentials {
        Some(credentials) => wiring.live(credentials, &uid, &mut shutdown).await,
        None => wiring.paper(&mut shutdown).await,
    };
    if let Some(sb) = service_bus.filter(|sb| sb.dropped() > 0) {
        tracing::warn!(
            dropped = sb.dropped(),
            "Service Bus queue overflowed: oldest events were dropped"
        );
    }
    if let Some(l) = lease {
        let _ = l.release().await;
    }
    http_task.abort();
    result
}

/// The cluster side of a worker, when there is a cluster: the TradingBot (status), the
/// bot's UID (client order IDs derive from it) and the Lease.
struct Cluster {
    bots: Option<Api<TradingBot>>,
    uid: String,
    lease: Option<LeaseGuard>,
    leading: watch::Receiver<bool>,
}

async fn cluster(
    args: &RunArgs,
    name: &str,
    namespace: &str,
    bot: &str,
    live: bool,
) -> Result<Cluster> {
    let client = if args.kubernetes == "auto" {
        match Client::try_default().await {
            Ok(c) => Some(c),
            // Without the Lease two workers could trade one account: live money needs an
            // explicit `--kubernetes off` to run without it.
            Err(e) if live => bail!(
                "no Kubernetes API ({e}): a live worker trades only while it holds its Lease; \
                 pass --kubernetes off to trade without one"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "no Kubernetes: running without status reports or a Lease");
                None
            }
        }
    } else {
        None
    };
    let bots: Option<Api<TradingBot>> = client
        .as_ref()
        .map(|c| Api::namespaced(c.clone(), namespace));
    let uid = match (&args.bot_uid, &bots) {
        (Some(uid), _) => uid.clone(),
        (None, Some(api)) => api
            .get(name)
            .await
            .with_context(|| format!("reading TradingBot {namespace}/{name}"))?
            .metadata
            .uid
            .ok_or_else(|| anyhow!("TradingBot {namespace}/{name} has no uid"))?,
        (None, None) => format!("local/{bot}"),
    };
    let (lease, leading) = match &client {
        Some(c) => {
            let identity = args.pod_name.clone().ok_or_else(|| {
                anyhow!("POD_NAME (--pod-name) is needed to hold the bot's Lease")
            })?;
            let (guard, rx) = LeaseGuard::start(
                c.clone(),
                namespace,
                &tradewind_crds::contract::lease_name(name),
                &identity,
                Duration::from_secs(args.lease_seconds),
            );
            (Some(guard), rx)
        }
        None => {
            let (tx, rx) = watch::channel(true);
            std::mem::forget(tx);
            (None, rx)
        }
    };
    Ok(Cluster {
        bots,
        uid,
        lease,
        leading,
    })
}

/// The events' sink, and the Service Bus part of it (for its drop count at exit).
type Sinks = (Arc<dyn EventSink>, Option<Arc<ServiceBusSink>>);

/// Events: stdout, and the bot's Service Bus topic when configured.
fn sinks(args: &RunArgs) -> Result<Sinks> {
    let mut sinks: Vec<Arc<dyn EventSink>> = vec![Arc::new(StdoutSink::new())];
    let mut service_bus = None;
    if let (Some(endpoint), Some(topic)) = (&args.service_bus_endpoint, &args.service_bus_topic) {
        let (credential, transport) = azure_credential(args)?;
        let mut sb = ServiceBusConfig::new(
            endpoint
                .parse()
                .with_context(|| format!("--service-bus-endpoint {endpoint}"))?,
            topic.clone(),
        );
        sb.scope = format!(
            "{}/.default",
            args.service_bus_audience.trim_end_matches('/')
        );
        let http = tradewind_azure::transport::http_client(&transport)?;
        let sink = Arc::new(ServiceBusSink::start(sb, credential, http)?);
        service_bus = Some(sink.clone());
        sinks.push(sink);
    }
    if let (Some(endpoint), Some(container)) =
        (&args.bot_cosmos_endpoint, &args.bot_cosmos_container)
    {
        let (credential, transport) = azure_credential(args)?;
        let client = tradewind_azure::cosmos::CosmosClient::new(
            endpoint,
            credential,
            &transport,
            tradewind_azure::cosmos::CosmosOptions::default(),
        )?;
        tracing::info!(%endpoint, %container, "writing orders, fills and snapshots to the bot's container");
        sinks.push(Arc::new(super::cosmos_sink::CosmosSink::start(
            client,
            &args.bot_cosmos_database,
            container,
        )));
    }
    Ok((Arc::new(Fanout::new(sinks)), service_bus))
}

/// The platform recorder, when `--platform-url` is set.
fn recorder(args: &RunArgs, metrics: &Arc<WorkerMetrics>) -> Result<Option<Arc<Recorder>>> {
    let Some(url) = &args.platform_url else {
        return Ok(None);
    };
    let mut config = RecorderConfig::new(url.clone(), args.platform_token_file.clone());
    config.max_backlog = args.platform_backlog_max;
    let recorder = Recorder::start(config, metrics.clone(), super::recorder::http_client()?)?;
    tracing::info!(
        platform = %url,
        max_backlog = args.platform_backlog_max,
        "recording events with the platform"
    );
    Ok(Some(Arc::new(recorder)))
}

/// The platform's signals, for a Signal strategy's worker when the platform is installed.
fn signal_inbox(
    args: &RunArgs,
    cfg: &BotConfig,
    namespace: &str,
) -> Result<Option<super::signals::Inbox>> {
    let Some(url) = &args.platform_url else {
        if cfg.strategy.type_ == tradewind_crds::StrategyType::Signal {
            tracing::warn!("a Signal strategy without a platform URL receives no signals");
        }
        return Ok(None);
    };
    if cfg.strategy.type_ != tradewind_crds::StrategyType::Signal {
        return Ok(None);
    }
    tracing::info!(platform = %url, "fetching the bot's signals from the platform");
    Ok(Some(super::signals::start(
        super::signals::FetchConfig {
            url: url.clone(),
            token_file: args.platform_token_file.clone(),
            namespace: namespace.to_owned(),
            name: cfg.name.clone(),
        },
        super::recorder::http_client()?,
    )))
}

/// Primes a new session's strategy from the market-data store, when one is configured
/// and the strategy needs bars (see [`super::warmup`]).
async fn warm<X: Execution>(
    session: &mut Session<X>,
    args: &RunArgs,
    cfg: &BotConfig,
) -> Result<()> {
    let needed = session.trader().engine().warmup_bars();
    if needed == 0 {
        return Ok(());
    }
    let Some(md) = super::warmup::market_data(args)? else {
        return Ok(());
    };
    // Four times the lookback (and the bar a crossover compares with): an exponential
    // average seeded that far back has settled (EMA 15: older bars weigh 0.03%).
    let n = (needed + 1) * super::warmup::LOOKBACK_FACTOR;
    let now = match (&args.market_data[..], &args.replay_file) {
        ("replay", Some(f)) => super::warmup::replay_start(f),
        _ => None,
    }
    .unwrap_or_else(super::warmup::now_nanos);
    let bars = super::warmup::last_bars(&md, cfg, n, now).await;
    session.warm_up("market-data store", &bars)?;
    Ok(())
}

/// What both modes' sessions are built from.
struct Wiring<'a> {
    args: &'a RunArgs,
    cfg: &'a BotConfig,
    bot: String,
    journal: (Journal<Record>, Vec<Record>),
    outputs: Outputs,
    leading: watch::Receiver<bool>,
}

impl Wiring<'_> {
    /// The session's start, with `engine` and `execution`.
    fn start<X: Execution>(self, engine: Engine<X::Venue>, execution: X) -> Start<X> {
        Start {
            engine,
            journal: self.journal,
            bot: self.bot,
            config_hash: config_hash(self.cfg),
            bar_nanos: i64::try_from(self.cfg.strategy.timeframe.seconds())
                .unwrap_or(60)
                .saturating_mul(1_000_000_000),
            execution,
            outputs: self.outputs,
            leading: self.leading,
        }
    }

    async fn paper(self, shutdown: &mut Shutdown) -> Result<()> {
        let (args, cfg) = (self.args, self.cfg);
        let rest = BinanceRest::new(&endpoints(args, cfg), None)?;
        let instrument = match (&args.market_data[..], &args.replay_file) {
            ("replay", Some(file)) => replay_instrument(cfg, file)?,
            _ => rest.rules(&cfg.bot.symbols[0]).await?.to_instrument()?,
        };
        let (strategy, settings) =
            crate::model::settings(cfg, crate::model::Artifacts::Pod(&args.model_file))?
                .engine(&instrument)?;
        let fresh = self.journal.1.is_empty();
        let mut session =
            Session::start(self.start(Engine::new(settings, strategy), Paper)).await?;
        if fresh {
            warm(&mut session, args, cfg).await?;
        }
        let market = source(args, cfg, &rest, session.trader().last_bar())
            .await?
            .into_stream();
        let reports =
            futures_util::stream::pending::<Result<std::convert::Infallible, SessionError>>();
        finish(session.run(market, reports, shutdown.wait()).await)
    }

    async fn live(
        self,
        credentials: ApiCredentials,
        uid: &str,
        shutdown: &mut Shutdown,
    ) -> Result<()> {
        let (args, cfg) = (self.args, self.cfg);
        let endpoints = endpoints(args, cfg);
        let symbol = cfg.bot.symbols[0].clone();
        let rest = BinanceRest::new(
            &endpoints,
            Some(Credentials {
                api_key: credentials.api_key,
                api_secret: credentials.api_secret,
            }),
        )?;
        // Bad keys stop the worker here, with the exchange's reason.
        rest.account()
            .await
            .context("checking the exchange credentials")?;
        let instrument = rest.rules(&symbol).await?.to_instrument()?;
        let (strategy, mut settings) =
            crate::model::settings(cfg, crate::model::Artifacts::Pod(&args.model_file))?
                .engine(&instrument)?;
        // Live decisions go out at once; the exchange decides the fill.
        settings.fill_model = BarFillModel::SameBarClose;
        let engine = Engine::with_venue(settings, strategy, Outbox::default());
        let session =
            super::trader::session_of(&self.journal.1).unwrap_or_else(super::session::now);
        let adopt = cfg
            .bot
            .live
            .as_ref()
            .map(|l| l.adopt_holdings)
            .unwrap_or_default();
        let executor = LiveExecutor::new(rest.clone(), symbol, instrument, uid, &session)
            .cancel_on_shutdown(args.cancel_on_shutdown)
            .adopt_holdings(adopt);
        let fresh = self.journal.1.is_empty();
        let mut session = match Session::start(self.start(engine, executor)).await {
            // Reported (event, status); restarting would only find the same: wait for a
            // changed bot (a new pod) or a stop.
            Err(SessionError::UnexpectedHoldings(_)) => {
                tracing::warn!("not trading on this account; waiting for a stop");
                shutdown.wait().await;
                return Ok(());
            }
            started => started?,
        };
        if fresh {
            warm(&mut session, args, cfg).await?;
        }
        // The user stream before the reconcile (the session's first step), so no
        // execution is missed meanwhile.
        let market = source(args, cfg, &rest, session.trader().last_bar())
            .await?
            .into_stream();
        let user = UserStream::connect(&endpoints, &rest).await?;
        finish(super::live::run(session, market, user, shutdown.wait()).await)
    }
}

/// The process's answer to how a session ended.
fn finish(ended: Result<super::session::Outcome, SessionError>) -> Result<()> {
    match ended {
        Ok(o) if o.reason == StopReason::LeaseLost => Err(anyhow!(
            "the bot's Lease was lost to another worker: stopped sending orders"
        )),
        Ok(_) => Ok(()),
        Err(SessionError::LostLease) => Err(anyhow!(
            "the bot's Lease was lost to another worker: stopped sending orders"
        )),
        Err(e) => Err(e.into()),
    }
}

fn replay_instrument(cfg: &BotConfig, file: &std::path::Path) -> Result<Instrument> {
    let trades = Replay::trades(file)?;
    let bars = tradewind_core::data::aggregate::bars_from_trades(
        &trades,
        i64::try_from(cfg.strategy.timeframe.seconds())? * 1_000_000_000,
    )?;
    crate::instrument::instrument(cfg, &bars, &Default::default())
}

async fn source(
    args: &RunArgs,
    cfg: &BotConfig,
    rest: &BinanceRest,
    last_bar: Option<tradewind_core::data::UnixNanos>,
) -> Result<Source> {
    Ok(match args.market_data.as_str() {
        "replay" => {
            let file = args
                .replay_file
                .as_ref()
                .ok_or_else(|| anyhow!("--market-data replay needs --replay-file"))?;
            Source::Replay(Box::new(Replay::load(
                file,
                cfg.strategy.timeframe.seconds(),
                args.replay_speed,
            )?))
        }
        _ => {
            let interval = serde_json::to_value(cfg.strategy.timeframe)?
                .as_str()
                .unwrap_or("1m")
                .to_owned();
            if let Some(url) = &args.nats_url {
                let shard = tradewind_feed::Shard::new(
                    &args.feed_subject_prefix,
                    "binance",
                    crate::market_feed::market(cfg.bot.venue.testnet),
                    &cfg.bot.symbols[0],
                )
                .context("--feed-subject-prefix")?;
                let client = tradewind_feed::connect(url, &cfg.name).await?;
                let bar_nanos =
                    i64::try_from(cfg.strategy.timeframe.seconds())?.saturating_mul(1_000_000_000);
                return Ok(Source::Shared(Box::new(
                    SharedBars::subscribe(client, &shard, &interval, bar_nanos, last_bar).await?,
                )));
            }
            let feed = MarketFeed::connect(
                &endpoints(args, cfg),
                &cfg.bot.symbols[0],
                rest,
                MarketStreams {
                    trades: true,
                    book_ticker: false,
                    depth: false,
                    klines: Some(interval),
                },
            )
            .await?;
            Source::Binance(Box::new(feed))
        }
    })
}

/// Longest bot name used as it is in the journal's file name.
const MAX_JOURNAL_NAME: usize = 100;

/// The journal's file under `state_dir`: `<name>.journal` when the bot's name is a plain
/// file name (ASCII letters, digits, `.`, `-`, `_`, not starting with `.`, at most 100
/// characters; every Kubernetes name is one), else a sanitised prefix and a hash of the
/// name, so a name such as `/abs/path` or `../x` never leaves the state directory.
pub fn journal_path(state_dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if !name.is_empty()
        && name.len() <= MAX_JOURNAL_NAME
        && !name.starts_with('.')
        && name.chars().all(plain)
    {
        return state_dir.join(format!("{name}.journal"));
    }
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(name.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let prefix: String = name
        .chars()
        .map(|c| if plain(c) && c != '.' { c } else { '_' })
        .take(40)
        .collect();
    state_dir.join(format!("{prefix}-{hash}.journal"))
}

/// Where a journal of another configuration is set aside: `<journal>.<first 12 digits of
/// its config hash>`, or `.unrecognised` when the recorded hash is not 64 hex digits (the
/// journal's own field, so never trusted as a path); `.1`, `.2`, … if that is taken, so
/// an earlier set-aside journal is never overwritten.
fn set_aside_path(path: &std::path::Path, recorded_hash: &str) -> std::path::PathBuf {
    let tag = if recorded_hash.len() == 64 && recorded_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        recorded_hash[..12].to_ascii_lowercase()
    } else {
        "unrecognised".to_owned()
    };
    let base = path.with_extension(format!("journal.{tag}"));
    let mut candidate = base.clone();
    let mut n = 0u32;
    while candidate.exists() && n < 10_000 {
        n += 1;
        candidate = std::path::PathBuf::from(format!("{}.{n}", base.display()));
    }
    candidate
}

fn config_hash(cfg: &BotConfig) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(serde_json::to_vec(cfg).unwrap_or_default())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Opens the bot's journal. One journal is one session of one configuration: replaying a
/// journal written under another configuration (a Strategy edit, a new mode) would
/// rebuild a state that never happened, so such a journal is set aside (renamed, kept for
/// audit) and a new session starts.
fn open_journal(path: &std::path::Path, cfg: &BotConfig) -> Result<(Journal<Record>, Vec<Record>)> {
    // Live: a damaged last frame may be an order on the venue; stop and say so.
    let tail = if cfg.bot.mode == Mode::Live {
        TailPolicy::Refuse
    } else {
        TailPolicy::Truncate
    };
    let (journal, records) = Journal::<Record>::open_with(path, tail)?;
    let last = records.iter().rev().find_map(|r| match r {
        Record::Started { config_hash, .. } => Some(config_hash.clone()),
        _ => None,
    });
    match last {
        Some(previous) if previous != config_hash(cfg) => {
            drop(journal);
            let old = set_aside_path(path, &previous);
            std::fs::rename(path, &old).with_context(|| {
                format!("setting aside {} as {}", path.display(), old.display())
            })?;
            tracing::warn!(
                previous = %old.display(),
                "the configuration changed: the old journal is set aside and a new session starts"
            );
            Ok(Journal::<Record>::open_with(path, tail)?)
        }
        _ => Ok((journal, records)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// `name: /abs/path` wrote the journal outside the state directory; every name now
    /// yields a file directly under it.
    #[test]
    fn journal_path_stays_under_the_state_dir() {
        let dir = Path::new("/state");
        assert_eq!(
            journal_path(dir, "btc-scalper"),
            dir.join("btc-scalper.journal")
        );
        for name in [
            "/abs/path",
            "../x",
            "..",
            ".",
            "",
            "a/b",
            "é",
            &"x".repeat(300),
            "a\0b",
        ] {
            let p = journal_path(dir, name);
            assert_eq!(p.parent(), Some(dir), "{name:?} -> {}", p.display());
            let file = p
                .file_name()
                .and_then(|f| f.to_str())
                .expect("utf-8 file name");
            assert!(file.len() <= 80 && !file.starts_with('.'), "{file}");
        }
        assert_ne!(journal_path(dir, "a/b"), journal_path(dir, "a_b"));
    }

    /// A journal recording a config hash that is not ASCII (`é…`) panicked slicing it,
    /// and one holding `/` made the rename fail on every start; the recorded field is no
    /// longer trusted as a path.
    #[test]
    fn a_recorded_hash_is_never_a_path() {
        let dir = std::env::temp_dir().join(format!("tw-set-aside-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let journal = dir.join("bot.journal");
        for bad in ["ééééééééééé", "../../etc/passwd", "0123456789ab/x", ""] {
            let p = set_aside_path(&journal, bad);
            assert_eq!(p, dir.join("bot.journal.unrecognised"), "{bad:?}");
        }
        let good = "ABCDEF0123456789".repeat(4);
        assert_eq!(
            set_aside_path(&journal, &good),
            dir.join("bot.journal.abcdef012345")
        );
        std::fs::write(dir.join("bot.journal.unrecognised"), b"kept").expect("write");
        assert_eq!(
            set_aside_path(&journal, "x"),
            dir.join("bot.journal.unrecognised.1")
        );
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}
