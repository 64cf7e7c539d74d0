//! The worker process: wires the config, the Lease, market data, the engine with its
//! journal, execution (paper or live), events, status and metrics, and shuts down
//! cleanly on SIGTERM.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use futures_util::{Stream, StreamExt};
use kube::{Api, Client};
use tokio::sync::watch;
use tradewind_core::engine::{Engine, Outbox, Venue};
use tradewind_core::exchange::BarFillModel;
use tradewind_core::instrument::Instrument;
use tradewind_crds::resolved::BotConfig;
use tradewind_crds::{Mode, TradingBot};

use super::config::{self, ApiCredentials, RunArgs};
use super::events::{
    Event, EventKind, EventSink, Fanout, ServiceBusConfig, ServiceBusSink, StdoutSink,
};
use super::feed::{Replay, Source, SourceError, Tick};
use super::http::{self, WorkerMetrics};
use super::journal::Journal;
use super::lease::LeaseGuard;
use super::live::{LiveError, LiveExecutor};
use super::record::Record;
use super::status::{ConditionReport, PositionSnapshot, StatusReporter, StatusSnapshot};
use super::trader::{Notice, Trader};
use crate::venue::binance::{
    BinanceEndpoints, BinanceRest, Credentials, FeedError, MarketFeed, MarketStreams, UserEvent,
    UserStream,
};

/// Everything the loop reports through.
struct Outputs {
    bot: String,
    symbol: String,
    mode: &'static str,
    sink: Arc<dyn EventSink>,
    metrics: Arc<WorkerMetrics>,
    status: Option<StatusReporter>,
    leading: watch::Receiver<bool>,
}

fn kind(k: &str) -> EventKind {
    match k {
        "OrderSubmitted" => EventKind::OrderSubmitted,
        "OrderAccepted" => EventKind::OrderAccepted,
        "OrderRejected" => EventKind::OrderRejected,
        "OrderCanceled" => EventKind::OrderCanceled,
        "Fill" => EventKind::Fill,
        "Halted" => EventKind::Halted,
        "Started" => EventKind::Started,
        "Stopped" => EventKind::Stopped,
        _ => EventKind::Error,
    }
}

impl Outputs {
    fn publish(&self, base: u64, notices: Vec<Notice>) {
        for (i, n) in notices.into_iter().enumerate() {
            let side = n.data["side"]
                .as_str()
                .or_else(|| n.data["order"]["side"].as_str())
                .unwrap_or("")
                .to_owned();
            match n.kind {
                "OrderSubmitted" => self.metrics.order(&self.symbol, &side),
                "Fill" => self.metrics.fill(&self.symbol, &side),
                "OrderRejected" => self
                    .metrics
                    .reject(&self.symbol, n.data["by"].as_str().unwrap_or("venue")),
                _ => {}
            }
            let seq = base * 1024 + i as u64;
            self.sink
                .publish(Event::new(&self.bot, seq, kind(n.kind), n.data));
        }
    }

    fn note(&self, seq: u64, kind: EventKind, data: serde_json::Value) {
        self.sink.publish(Event::new(&self.bot, seq, kind, data));
    }

    async fn report<V: Venue>(&mut self, trader: &Trader<V>) {
        let snap = trader.snapshot();
        let drawdown: f64 = snap.drawdown_percent.parse().unwrap_or(0.0);
        self.metrics.set_performance(
            snap.equity,
            snap.realized_pnl,
            snap.unrealized_pnl,
            drawdown,
        );
        let leading = *self.leading.borrow();
        self.metrics.set_lease_held(leading);
        let Some(status) = &mut self.status else {
            return;
        };
        let trading = match (&snap.halted, leading) {
            (Some(_), _) => ConditionReport::new(false, "Halted", "trading halted by a risk limit"),
            (None, true) => ConditionReport::new(
                true,
                "Trading",
                format!(
                    "{} {} ({})",
                    self.mode, self.symbol, "holding the bot's Lease"
                ),
            ),
            (None, false) => ConditionReport::new(false, "Standby", "waiting for the bot's Lease"),
        };
        let halted = match &snap.halted {
            Some(why) => ConditionReport::new(true, "RiskLimit", why.clone()),
            None => ConditionReport::new(false, "WithinLimits", "no risk limit breached"),
        };
        let report = StatusSnapshot {
            equity: snap.equity,
            realized_pnl: snap.realized_pnl,
            unrealized_pnl: snap.unrealized_pnl,
            fees: snap.fees,
            drawdown_percent: snap.drawdown_percent.clone(),
            positions: snap
                .position
                .iter()
                .map(|(q, avg)| PositionSnapshot {
                    symbol: self.symbol.clone(),
                    quantity: q.clone(),
                    average_price: avg.clone(),
                })
                .collect(),
            trading,
            halted,
        };
        if let Err(e) = status.report(&report).await {
            tracing::warn!(error = %e, "status report failed; will retry with the next one");
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A stream that owns its source, so that a `select!` branch losing the race never drops
/// a reconnect half-way: the pending future stays inside the stream between polls.
fn market_stream(
    source: Source,
) -> impl Stream<Item = Result<(Tick, Option<Duration>), SourceError>> {
    futures_util::stream::unfold(source, |mut s| async move {
        let item = s.next().await.map(|t| (t, s.lag()));
        Some((item, s))
    })
}

/// The user data stream as a [`Stream`], for the same reason.
fn user_stream(user: UserStream) -> impl Stream<Item = Result<UserEvent, FeedError>> {
    futures_util::stream::unfold(user, |mut u| async move {
        let item = u.next().await;
        Some((item, u))
    })
}

async fn recv<T, E, S>(stream: &mut std::pin::Pin<&mut S>) -> Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
    S: Stream<Item = Result<T, E>>,
{
    match stream.next().await {
        Some(item) => Ok(item?),
        None => bail!("a market or user data stream ended"),
    }
}

/// Why the trading loop ended.
enum Ended {
    /// SIGTERM or end of a replay: a clean stop.
    Stop,
    /// The Lease went to another worker.
    LostLease,
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
    tradewind_provisioner::transport::TransportOptions,
)> {
    let cloud = tradewind_provisioner::cloud::AzureCloud::with_overrides(
        "AzurePublic",
        None,
        args.authority_host.as_deref(),
    )?;
    let transport = tradewind_provisioner::transport::options_from_env()?;
    let credential =
        tradewind_provisioner::credential::CredentialConfig::from_method(&args.azure_auth)?
            .build(&cloud, &transport)?;
    Ok((credential, transport))
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
                        transport: Some(tradewind_provisioner::transport::azure_transport(
                            &transport,
                        )?),
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
    let cfg = config::from_args(&args)?;
    let namespace = cfg
        .namespace
        .clone()
        .or_else(|| args.namespace.clone())
        .unwrap_or_else(|| "default".into());
    let symbol = cfg.bot.symbols[0].clone();
    let bot = format!("{namespace}/{}", cfg.name);
    let mode: &'static str = if cfg.bot.mode == Mode::Live {
        "live"
    } else {
        "paper"
    };

    // Exchange credentials first: a live bot without them stops here, saying why.
    let credentials = if cfg.bot.mode == Mode::Live {
        Some(exchange_credentials(&args).await?)
    } else {
        None
    };

    let metrics = Arc::new(WorkerMetrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let (bound, http_task) = http::serve(args.metrics_addr, metrics.clone(), ready.clone())
        .await
        .with_context(|| format!("serving metrics on {}", args.metrics_addr))?;
    tracing::info!(%bot, mode, metrics = %bound, "tradewind-bot starting");

    // Kubernetes: status and the Lease, when there is a cluster.
    let client = if args.kubernetes == "auto" {
        match Client::try_default().await {
            Ok(c) => Some(c),
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
        .map(|c| Api::namespaced(c.clone(), &namespace));
    let uid = match (&args.bot_uid, &bots) {
        (Some(uid), _) => uid.clone(),
        (None, Some(api)) => api
            .get(&cfg.name)
            .await
            .with_context(|| format!("reading TradingBot {namespace}/{}", cfg.name))?
            .metadata
            .uid
            .ok_or_else(|| anyhow!("TradingBot {namespace}/{} has no uid", cfg.name))?,
        (None, None) => format!("local/{bot}"),
    };
    let (lease, leading) = match &client {
        Some(c) => {
            let identity = args.pod_name.clone().ok_or_else(|| {
                anyhow!("POD_NAME (--pod-name) is needed to hold the bot's Lease")
            })?;
            let (guard, rx) = LeaseGuard::start(
                c.clone(),
                &namespace,
                &tradewind_crds::contract::lease_name(&cfg.name),
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

    // Events: stdout, and the bot's Service Bus topic when configured.
    let mut sinks: Vec<Arc<dyn EventSink>> = vec![Arc::new(StdoutSink::new())];
    let mut service_bus: Option<Arc<ServiceBusSink>> = None;
    if let (Some(endpoint), Some(topic)) = (&args.service_bus_endpoint, &args.service_bus_topic) {
        let (credential, transport) = azure_credential(&args)?;
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
        let http = tradewind_provisioner::transport::http_client(&transport)?;
        let sink = Arc::new(ServiceBusSink::start(sb, credential, http)?);
        service_bus = Some(sink.clone());
        sinks.push(sink);
    }
    let mut out = Outputs {
        bot: bot.clone(),
        symbol: symbol.clone(),
        mode,
        sink: Arc::new(Fanout::new(sinks)),
        metrics: metrics.clone(),
        status: bots.map(|api| {
            StatusReporter::new(
                api,
                &cfg.name,
                Duration::from_secs(args.status_interval_seconds),
            )
        }),
        leading: leading.clone(),
    };

    // Wait for the Lease (a standby worker is healthy and ready, and does nothing).
    ready.store(true, Ordering::Relaxed);
    let mut leading_rx = leading.clone();
    while !*leading_rx.borrow_and_update() {
        tracing::info!("standby: waiting for the bot's Lease");
        tokio::select! {
            changed = leading_rx.changed() => if changed.is_err() { bail!("lease task ended") },
            _ = shutdown_signal() => {
                if let Some(l) = lease { let _ = l.release().await; }
                http_task.abort();
                return Ok(());
            }
        }
    }
    metrics.set_lease_held(true);

    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("creating {}", args.state_dir.display()))?;
    let journal_path = args.state_dir.join(format!("{}.journal", cfg.name));
    let (journal, records) = open_journal(&journal_path, &cfg)?;
    tracing::info!(records = records.len(), journal = %journal_path.display(), "journal opened");

    let ended = match cfg.bot.mode {
        Mode::Live => {
            run_live(
                &args,
                &cfg,
                credentials.expect("live has credentials"),
                &uid,
                journal,
                records,
                &mut out,
            )
            .await
        }
        _ => run_paper(&args, &cfg, journal, records, &mut out).await,
    };
    // Stop: flush events, release the Lease, stop serving.
    let (result, ended_state) = match ended {
        Ok((Ended::Stop, f)) => (Ok(()), Some(f)),
        Ok((Ended::LostLease, f)) => (
            Err(anyhow!(
                "the bot's Lease was lost to another worker: stopped sending orders"
            )),
            Some(f),
        ),
        Err(e) => (Err(e), None),
    };
    let (final_seq, performance) = match &ended_state {
        Some(f) => (f.0, f.1.clone()),
        // No trader (it failed to start): a sequence no journal-based one reaches.
        None => (
            u64::MAX / 2
                + u64::try_from(k8s_openapi::jiff::Timestamp::now().as_millisecond()).unwrap_or(0),
            serde_json::Value::Null,
        ),
    };
    out.note(
        final_seq,
        if result.is_ok() { EventKind::Stopped } else { EventKind::Error },
        serde_json::json!({
            "reason": result.as_ref().err().map(|e| format!("{e:#}")).unwrap_or_else(|| "stopped".into()),
            "performance": performance,
        }),
    );
    if let Err(e) = out.sink.flush().await {
        tracing::warn!(error = %e, "events not all delivered before exit");
    }
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

fn replay_instrument(cfg: &BotConfig, file: &std::path::Path) -> Result<Instrument> {
    let trades = Replay::trades(file)?;
    let bars = tradewind_core::data::aggregate::bars_from_trades(
        &trades,
        i64::try_from(cfg.strategy.timeframe.seconds())? * 1_000_000_000,
    )?;
    crate::backtest::instrument(cfg, &bars, &Default::default())
}

async fn source(args: &RunArgs, cfg: &BotConfig, rest: &BinanceRest) -> Result<Source> {
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

async fn run_paper(
    args: &RunArgs,
    cfg: &BotConfig,
    journal: Journal<Record>,
    records: Vec<Record>,
    out: &mut Outputs,
) -> Result<(Ended, (u64, serde_json::Value))> {
    let rest = BinanceRest::new(&endpoints(args, cfg), None)?;
    let instrument = match (&args.market_data[..], &args.replay_file) {
        ("replay", Some(file)) => replay_instrument(cfg, file)?,
        _ => rest.rules(&cfg.bot.symbols[0]).await?.to_instrument()?,
    };
    let (strategy, settings) = crate::settings::engine_settings(cfg, &instrument)?;
    let engine = Engine::new(settings, strategy);
    let mut trader = Trader::recover(engine, journal, &records, |_, _| {})?;
    let session = session(&records);
    trader.journal(&[started(cfg, "Paper", &session)])?;
    out.note(
        trader.journal_records() * 1024,
        EventKind::Started,
        serde_json::json!({"mode": "paper", "replayedBars": trader.bars()}),
    );
    let source = market_stream(source(args, cfg, &rest).await?);
    tokio::pin!(source);
    let mut leading = out.leading.clone();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            tick = recv(&mut source) => match tick? {
                (Tick::Bar { bar, received }, lag) => {
                    // Bars the journal already holds (a replay restarted from its file).
                    if trader.seen(&bar) {
                        continue;
                    }
                    let notices = trader.on_bar(&bar)?;
                    let took = received.elapsed();
                    out.metrics.observe_decision(took);
                    // One line per decision: tools/bench/worker.py reads the exact latencies.
                    tracing::debug!(decision_us = took.as_micros() as u64, "decision");
                    if let Some(lag) = lag {
                        out.metrics.set_feed_lag("binance-market", lag);
                    }
                    out.publish(trader.journal_records(), notices);
                    out.report(&trader).await;
                }
                (Tick::Reconnected, _) => out.metrics.feed_reconnect("binance-market"),
                (Tick::Resync, _) => out.metrics.book_resync(&out.symbol),
                (Tick::End, _) => {
                    out.report(&trader).await;
                    return Ok((Ended::Stop, summary(&trader)));
                }
            },
            changed = leading.changed() => {
                if changed.is_err() || !*leading.borrow() {
                    return Ok((Ended::LostLease, summary(&trader)));
                }
            }
            _ = &mut shutdown => {
                out.report(&trader).await;
                return Ok((Ended::Stop, summary(&trader)));
            }
        }
    }
}

/// The final performance, for the `Stopped` event, and a sequence number after the
/// journal's.
fn summary<V: Venue>(trader: &Trader<V>) -> (u64, serde_json::Value) {
    let s = trader.snapshot();
    let c = s.counts;
    (
        // The last slot of the last record's block: the next start uses the next block.
        trader.journal_records() * 1024 + 1023,
        serde_json::json!({
            "equity": s.equity.to_string(),
            "realizedPnl": s.realized_pnl.to_string(),
            "unrealizedPnl": s.unrealized_pnl.to_string(),
            "fees": s.fees.to_string(),
            "drawdownPercent": s.drawdown_percent,
            "bars": trader.bars(),
            "orders": c.orders, "fills": c.fills, "rejected": c.rejected, "refused": c.refused,
            "halted": s.halted,
        }),
    )
}

fn config_hash(cfg: &BotConfig) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(serde_json::to_vec(cfg).unwrap_or_default())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn started(cfg: &BotConfig, mode: &str, session: &str) -> Record {
    Record::Started {
        at: k8s_openapi::jiff::Timestamp::now().to_string(),
        mode: mode.into(),
        config_hash: config_hash(cfg),
        session: session.to_owned(),
    }
}

/// The journal's session: set by its first start, kept by every later one.
fn session(records: &[Record]) -> String {
    records
        .iter()
        .find_map(|r| match r {
            Record::Started { session, at, .. } => Some(if session.is_empty() {
                at.clone()
            } else {
                session.clone()
            }),
            _ => None,
        })
        .unwrap_or_else(|| k8s_openapi::jiff::Timestamp::now().to_string())
}

/// Opens the bot's journal. One journal is one session of one configuration: replaying a
/// journal written under another configuration (a Strategy edit, a new mode) would
/// rebuild a state that never happened, so such a journal is set aside (renamed, kept for
/// audit) and a new session starts.
fn open_journal(path: &std::path::Path, cfg: &BotConfig) -> Result<(Journal<Record>, Vec<Record>)> {
    let (journal, records) = Journal::<Record>::open(path)?;
    let last = records.iter().rev().find_map(|r| match r {
        Record::Started { config_hash, .. } => Some(config_hash.clone()),
        _ => None,
    });
    match last {
        Some(previous) if previous != config_hash(cfg) => {
            drop(journal);
            let old =
                path.with_extension(format!("journal.{}", &previous[..12.min(previous.len())]));
            std::fs::rename(path, &old).with_context(|| {
                format!("setting aside {} as {}", path.display(), old.display())
            })?;
            tracing::warn!(
                previous = %old.display(),
                "the configuration changed: the old journal is set aside and a new session starts"
            );
            Ok(Journal::<Record>::open(path)?)
        }
        _ => Ok((journal, records)),
    }
}

async fn run_live(
    args: &RunArgs,
    cfg: &BotConfig,
    credentials: ApiCredentials,
    uid: &str,
    journal: Journal<Record>,
    records: Vec<Record>,
    out: &mut Outputs,
) -> Result<(Ended, (u64, serde_json::Value))> {
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
    let (strategy, mut settings) = crate::settings::engine_settings(cfg, &instrument)?;
    // Live decisions go out at once; the exchange decides the fill.
    settings.fill_model = BarFillModel::SameBarClose;
    let engine = Engine::with_venue(settings, strategy, Outbox::default());
    let session = session(&records);
    let mut executor = LiveExecutor::new(rest.clone(), symbol.clone(), instrument, uid, &session);
    let orphans = if records.is_empty() {
        executor.cancel_orphans().await?
    } else {
        Vec::new()
    };
    let mut trader = Trader::recover(engine, journal, &records, |_, r| executor.learn(r))?;
    let withdrawn = map_live(executor.drop_replayed_commands(&mut trader))?;
    out.publish(trader.journal_records(), withdrawn);
    trader.journal(&[started(cfg, "Live", &session)])?;
    out.note(
        trader.journal_records() * 1024,
        EventKind::Started,
        serde_json::json!({
            "mode": "live",
            "replayedBars": trader.bars(),
            "cancelledOrphans": orphans,
        }),
    );

    let leading_flag = out.leading.clone();
    let leading = move || *leading_flag.borrow();
    // The user stream first, so no execution is missed while reconciling.
    let user = user_stream(UserStream::connect(&endpoints, &rest).await?);
    tokio::pin!(user);
    let now = trader.engine().now();
    let notices = map_live(executor.reconcile(&mut trader, now, &leading).await)?;
    out.publish(trader.journal_records(), notices);
    let source = market_stream(source(args, cfg, &rest).await?);
    tokio::pin!(source);
    let mut lease_rx = out.leading.clone();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let ended = loop {
        tokio::select! {
            tick = recv(&mut source) => match tick? {
                (Tick::Bar { bar, received }, lag) => {
                    if trader.seen(&bar) {
                        continue;
                    }
                    let mut notices = trader.on_bar(&bar)?;
                    match executor.flush(&mut trader, &leading).await {
                        Ok(n) => notices.extend(n),
                        Err(LiveError::LostLease) => break Ended::LostLease,
                        Err(e) => return Err(e.into()),
                    }
                    let took = received.elapsed();
                    out.metrics.observe_decision(took);
                    // One line per decision: tools/bench/worker.py reads the exact latencies.
                    tracing::debug!(decision_us = took.as_micros() as u64, "decision");
                    if let Some(lag) = lag {
                        out.metrics.set_feed_lag("binance-market", lag);
                    }
                    out.publish(trader.journal_records(), notices);
                    out.report(&trader).await;
                }
                // Trades between bars are not journaled, so the engine prices with bar
                // closes only: a replay after a restart must rebuild the same state.
                (Tick::Reconnected, _) => out.metrics.feed_reconnect("binance-market"),
                (Tick::Resync, _) => out.metrics.book_resync(&out.symbol),
                (Tick::End, _) => break Ended::Stop,
            },
            event = recv(&mut user) => match event? {
                UserEvent::Execution(report) => {
                    let mut notices = map_live(executor.on_report(&mut trader, &report).await)?;
                    match executor.flush(&mut trader, &leading).await {
                        Ok(n) => notices.extend(n),
                        Err(LiveError::LostLease) => break Ended::LostLease,
                        Err(e) => return Err(e.into()),
                    }
                    out.publish(trader.journal_records(), notices);
                    out.report(&trader).await;
                }
                UserEvent::Reconnected { .. } => {
                    out.metrics.feed_reconnect("binance-user");
                    let now = trader.engine().now();
                    match executor.reconcile(&mut trader, now, &leading).await {
                        Ok(n) => out.publish(trader.journal_records(), n),
                        Err(LiveError::LostLease) => break Ended::LostLease,
                        Err(e) => return Err(e.into()),
                    }
                }
                UserEvent::Balances(_) | UserEvent::BalanceDelta { .. } => {}
            },
            changed = lease_rx.changed() => {
                if changed.is_err() || !*lease_rx.borrow() {
                    break Ended::LostLease;
                }
            }
            _ = &mut shutdown => break Ended::Stop,
        }
    };
    if matches!(ended, Ended::Stop) && args.cancel_on_shutdown {
        let notices = map_live(executor.cancel_all(&mut trader).await)?;
        out.publish(trader.journal_records(), notices);
    }
    out.report(&trader).await;
    Ok((ended, summary(&trader)))
}

fn map_live(r: Result<Vec<Notice>, LiveError>) -> Result<Vec<Notice>> {
    r.map_err(Into::into)
}
