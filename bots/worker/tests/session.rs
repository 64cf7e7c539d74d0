//! The trading session in process (no worker process, no cluster): every kind of event
//! through a session and back from the stdout sink; paper trading equal to the backtest;
//! a restart from the journal that publishes what a crash kept back, under the same ids;
//! and a live session against the Binance mock.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{FutureExt, Stream, StreamExt, stream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tradewind_binance_mock::{DEFAULT_API_KEY, DEFAULT_API_SECRET, MockConfig, Speed, TestServer};
use tradewind_bot::run::events::{EventSink, StdoutSink};
use tradewind_bot::run::feed::{Replay, Source, SourceError, Tick};
use tradewind_bot::run::journal::Journal;
use tradewind_bot::run::live::{self, LiveExecutor};
use tradewind_bot::run::metrics::WorkerMetrics;
use tradewind_bot::run::record::Record;
use tradewind_bot::run::session::{Execution, Outputs, Paper, Session, SessionError, Start};
use tradewind_bot::run::trader::{Identity, Trader};
use tradewind_bot::venue::binance::{
    BinanceEndpoints, BinanceRest, Credentials, UserEvent, UserStream,
};
use tradewind_core::data::{Bar, Side};
use tradewind_core::engine::{Engine, Outbox, Settings, Sizing};
use tradewind_core::exchange::{BarFillModel, Bps, FeeSchedule};
use tradewind_core::fixed::{Money, Quantity};
use tradewind_core::instrument::Instrument;
use tradewind_core::orders::{ClientOrderId, OrderEvent, OrderKind, TimeInForce};
use tradewind_core::risk::{RiskLimits, RiskLimitsText};
use tradewind_core::strategy::{Actions, Context, OrderSize, PlannedOrder, Strategy};
use tradewind_events::{Body, Event, HaltCause, Mode, StopReason, Trouble};

fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run through cargo"))
}

fn data() -> PathBuf {
    manifest_dir().join("../../examples/data/binance_spot_btcusdt_l1_trades.jsonl")
}

/// Where [`scratch`] puts `name`'s directory.
fn scratch_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tw-session-{name}-{}", std::process::id()))
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = scratch_path(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The stdout sink writing into memory, read back as events; `fills` wakes waiters.
#[derive(Clone, Default)]
struct Captured {
    bytes: Arc<Mutex<Vec<u8>>>,
    fill: Arc<Notify>,
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.lock().unwrap().extend_from_slice(buf);
        if String::from_utf8_lossy(buf).contains(r#""kind":"Fill""#) {
            self.fill.notify_one();
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn sink(&self) -> Arc<dyn EventSink> {
        Arc::new(StdoutSink::with_writer(Box::new(self.clone())))
    }

    fn events(&self) -> Vec<Event> {
        String::from_utf8(self.bytes.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is one event"))
            .collect()
    }
}

fn outputs(sink: Arc<dyn EventSink>, mode: Mode) -> Outputs {
    Outputs {
        symbol: "BTCUSDT".into(),
        mode,
        sink,
        metrics: Arc::new(WorkerMetrics::default()),
        status: None,
    }
}

fn leading(yes: bool) -> (watch::Sender<bool>, watch::Receiver<bool>) {
    watch::channel(yes)
}

fn start<X: Execution>(
    engine: Engine<X::Venue>,
    journal: &Path,
    execution: X,
    outputs: Outputs,
    leading: watch::Receiver<bool>,
) -> Start<X> {
    Start {
        engine,
        journal: Journal::<Record>::open(journal).unwrap(),
        bot: "trading/btc-bot".into(),
        config_hash: "test".into(),
        execution,
        outputs,
        leading,
    }
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(Event::kind).collect()
}

// ---- every kind of event -------------------------------------------------------------

/// Enters long and leaves an order resting (bar 0), sends a post-only order that would
/// take (bar 0), cancels the resting one and sends one too large for the risk limits
/// (bar 1); the stop-loss closes the position (bar 2); enters again (bar 3), and the daily
/// loss limit halts trading (bar 4).
#[derive(Default)]
struct Script {
    bar: usize,
    resting: Option<ClientOrderId>,
}

fn limit(side: Side, qty: &str, price: &str, post_only: bool) -> PlannedOrder {
    PlannedOrder {
        side,
        size: OrderSize::Base(qty.parse().unwrap()),
        kind: OrderKind::Limit {
            price: price.parse().unwrap(),
        },
        time_in_force: TimeInForce::Gtc,
        post_only,
    }
}

impl Strategy for Script {
    fn name(&self) -> &'static str {
        "script"
    }

    fn on_bar(&mut self, _ctx: &Context<'_>, _bar: &Bar, out: &mut Actions) {
        match self.bar {
            0 => {
                out.enter_long();
                self.resting = Some(out.place(limit(Side::Buy, "1.000", "50.00", false)));
                out.place(limit(Side::Buy, "1.000", "150.00", true));
            }
            1 => {
                if let Some(id) = self.resting {
                    out.cancel(id);
                }
                out.place(PlannedOrder {
                    side: Side::Buy,
                    size: OrderSize::Base("10.000".parse().unwrap()),
                    kind: OrderKind::Market,
                    time_in_force: TimeInForce::Gtc,
                    post_only: false,
                });
            }
            3 => out.enter_long(),
            _ => {}
        }
        self.bar += 1;
    }
}

fn script_engine() -> Engine {
    let settings = Settings {
        instrument: Instrument::new(
            "BTCUSDT",
            "BTC",
            "USDT",
            "0.01".parse().unwrap(),
            "0.001".parse().unwrap(),
            "0.001".parse().unwrap(),
            Money::ZERO,
        )
        .unwrap(),
        capital: Money::parse("1000").unwrap(),
        fill_model: BarFillModel::SameBarClose,
        slippage: Bps::ZERO,
        fees: FeeSchedule::flat(Bps::ZERO, Bps::ZERO),
        sizing: Sizing::FixedQuantity("1.000".parse().unwrap()),
        risk: RiskLimits::parse(&RiskLimitsText {
            max_order_notional: Some("500"),
            stop_loss_percent: Some("5"),
            daily_loss_limit: Some("8"),
            ..Default::default()
        })
        .unwrap(),
    };
    Engine::new(settings, Box::new(Script::default()))
}

fn bar(i: i64, open: &str, close: &str) -> Bar {
    let (o, c): (tradewind_core::fixed::Price, tradewind_core::fixed::Price) =
        (open.parse().unwrap(), close.parse().unwrap());
    Bar::new(
        1_764_000_000_000_000_000 + i * 60_000_000_000,
        o,
        o.max(c),
        o.min(c),
        c,
        "5.000".parse().unwrap(),
    )
    .unwrap()
}

type Ticks = Vec<Result<(Tick, Option<Duration>), SourceError>>;

fn ticks(bars: &[Bar]) -> Ticks {
    bars.iter()
        .map(|b| {
            Ok((
                Tick::Bar {
                    bar: *b,
                    received: Instant::now(),
                },
                Some(Duration::from_millis(5)),
            ))
        })
        .collect()
}

fn no_reports() -> impl Stream<Item = Result<std::convert::Infallible, SessionError>> {
    stream::pending()
}

#[tokio::test]
async fn every_kind_of_event_reaches_the_stdout_sink_under_its_own_kind() {
    let dir = scratch("kinds");
    let journal = dir.join("bot.journal");
    let out = Captured::default();
    let (_lease, rx) = leading(true);
    let first = outputs(out.sink(), Mode::Paper);
    let metrics = first.metrics.clone();
    let session = Session::start(start(script_engine(), &journal, Paper, first, rx))
        .await
        .unwrap();
    let bars = [
        bar(0, "100.00", "100.00"),
        bar(1, "100.00", "100.00"),
        bar(2, "100.00", "94.00"),
        bar(3, "94.00", "94.00"),
        bar(4, "94.00", "90.00"),
    ];
    let mut market = ticks(&bars[..1]);
    market.push(Ok((Tick::Reconnected, None)));
    market.push(Ok((Tick::Resync, None)));
    market.extend(ticks(&bars[1..]));
    market.push(Ok((Tick::End, None)));
    let outcome = session
        .run(stream::iter(market), no_reports(), std::future::pending())
        .await
        .unwrap();
    assert_eq!(outcome.reason, StopReason::EndOfData);

    // The same journal again: the session resumes, then loses the Lease.
    let (lease, rx) = leading(true);
    let again = Session::start(start(
        script_engine(),
        &journal,
        Paper,
        outputs(out.sink(), Mode::Paper),
        rx,
    ))
    .await
    .unwrap();
    lease.send(false).unwrap();
    let lost = again
        .run(stream::pending(), no_reports(), std::future::pending())
        .await;
    assert!(matches!(lost, Err(SessionError::LostLease)), "{lost:?}");

    let events = out.events();
    let seen = kinds(&events);
    for kind in [
        "Started",
        "OrderSubmitted",
        "OrderAccepted",
        "Fill",
        "OrderRejected",
        "FeedTrouble",
        "OrderCanceled",
        "OrderRefused",
        "StopLoss",
        "Halted",
        "Stopped",
        "Resumed",
    ] {
        assert!(seen.contains(&kind), "no {kind} in {seen:?}");
    }
    // Each carries its typed fields, as written.
    let has = |f: &dyn Fn(&Body) -> bool| events.iter().any(|e| f(&e.body));
    assert!(has(&|b| matches!(
        b,
        Body::OrderRefused {
            refusal: tradewind_events::Refusal::MaxOrderNotional { limit, .. },
            ..
        } if Money::parse(limit) == Money::parse("500")
    )));
    assert!(has(&|b| matches!(
        b,
        Body::OrderRejected {
            rejection: tradewind_events::Rejection::PostOnlyWouldTake,
            ..
        }
    )));
    assert!(has(
        &|b| matches!(b, Body::StopLoss(s) if s.limit_percent == "5")
    ));
    assert!(has(&|b| matches!(
        b,
        Body::Halted {
            cause: HaltCause::DailyLossLimit,
            ..
        }
    )));
    assert!(has(&|b| matches!(
        b,
        Body::Halted {
            cause: HaltCause::LeaseLost,
            ..
        }
    )));
    assert!(has(&|b| matches!(
        b,
        Body::FeedTrouble {
            trouble: Trouble::BookResync,
            ..
        }
    )));
    assert!(has(
        &|b| matches!(b, Body::Resumed(s) if s.replayed_bars == 5)
    ));
    assert!(has(&|b| matches!(
        b,
        Body::Stopped {
            reason: StopReason::LeaseLost,
            ..
        }
    )));
    // The metrics counted what the events say.
    let text = metrics.encode();
    for sample in [
        r#"tradewind_bot_rejects_total{symbol="BTCUSDT",source="risk"} 1"#,
        r#"tradewind_bot_rejects_total{symbol="BTCUSDT",source="venue"} 1"#,
        r#"tradewind_bot_feed_reconnects_total{feed="binance-market"} 1"#,
        r#"tradewind_bot_book_resyncs_total{symbol="BTCUSDT"} 1"#,
    ] {
        assert!(text.contains(sample), "{sample} not in\n{text}");
    }
    // One gap-free sequence across both runs: the second published nothing twice.
    let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, (0..events.len() as u64).collect::<Vec<_>>());
    assert!(
        events
            .iter()
            .all(|e| e.id == Event::id_for(&e.bot, &e.session, e.sequence))
    );
}

// ---- restart from the journal --------------------------------------------------------

#[tokio::test]
async fn events_a_crash_kept_back_are_published_after_the_restart_with_the_same_ids() {
    let bars = [
        bar(0, "100.00", "100.00"),
        bar(1, "100.00", "100.00"),
        bar(2, "100.00", "94.00"),
        bar(3, "94.00", "94.00"),
        bar(4, "94.00", "90.00"),
    ];
    // Published, then the worker dies before the delivery of the last events was
    // journaled: the restart publishes those again, identical (consumers drop them by id).
    let dir = scratch("crash");
    let journal = dir.join("bot.journal");
    let first = Captured::default();
    let (_l, rx) = leading(true);
    let s = Session::start(start(
        script_engine(),
        &journal,
        Paper,
        outputs(first.sink(), Mode::Paper),
        rx,
    ))
    .await
    .unwrap();
    let run = Box::pin(s.run(
        stream::iter(ticks(&bars)).chain(stream::pending()),
        no_reports(),
        std::future::pending(),
    ));
    // One poll trades the three bars and waits for more; dropping it is the crash.
    assert!(run.now_or_never().is_none());
    let first = first.events();
    assert!(
        first.iter().any(|e| e.kind() == "StopLoss"),
        "{:?}",
        kinds(&first)
    );
    let second = Captured::default();
    let (_l, rx) = leading(true);
    drop(
        Session::start(start(
            script_engine(),
            &journal,
            Paper,
            outputs(second.sink(), Mode::Paper),
            rx,
        ))
        .await
        .unwrap(),
    );
    let second = second.events();
    let (resumed, again) = second.split_last().unwrap();
    assert_eq!(resumed.kind(), "Resumed");
    assert!(
        !again.is_empty(),
        "the last bar's events were not marked delivered"
    );
    assert_eq!(
        again,
        &first[first.len() - again.len()..],
        "same ids, same content"
    );
    assert_eq!(resumed.sequence, first.len() as u64);

    // Journaled, never published (the worker died between the journal and the sinks):
    // published after the restart, under the ids they were made with.
    let dir = scratch("unpublished");
    let journal = dir.join("bot.journal");
    let (j, records) = Journal::<Record>::open(&journal).unwrap();
    let identity = Identity {
        bot: "trading/btc-bot".into(),
        session: "2026-12-06T00:00:00Z".into(),
    };
    let (mut trader, none) =
        Trader::recover(script_engine(), j, &records, identity, |_, _| {}).unwrap();
    assert!(none.is_empty());
    let mut made = vec![
        trader
            .start(
                "2026-12-06T00:00:00Z".into(),
                Mode::Paper,
                "test".into(),
                Vec::new(),
            )
            .unwrap(),
    ];
    for b in &bars {
        made.extend(trader.on_bar(b).unwrap());
    }
    drop(trader);
    let out = Captured::default();
    let (_l, rx) = leading(true);
    drop(
        Session::start(start(
            script_engine(),
            &journal,
            Paper,
            outputs(out.sink(), Mode::Paper),
            rx,
        ))
        .await
        .unwrap(),
    );
    let published = out.events();
    assert_eq!(&published[..made.len()], made.as_slice());
    assert_eq!(published[made.len()].kind(), "Resumed");
    assert!(published.iter().any(|e| e.kind() == "Fill"));
}

// ---- paper equals backtest -----------------------------------------------------------

#[tokio::test]
async fn a_paper_session_on_replayed_trades_equals_the_backtest() {
    let yaml = manifest_dir().join("../../examples/demo/btc-scalper.yaml");
    let cfg = tradewind_crds::bundle::load(&[yaml], None).unwrap().config;
    let trades = Replay::trades(&data()).unwrap();
    let bars = tradewind_core::data::aggregate::bars_from_trades(
        &trades,
        i64::try_from(cfg.strategy.timeframe.seconds()).unwrap() * 1_000_000_000,
    )
    .unwrap();
    let instrument =
        tradewind_bot::instrument::instrument(&cfg, &bars, &Default::default()).unwrap();

    let (strategy, settings) = tradewind_config::bot(&cfg)
        .unwrap()
        .engine(&instrument)
        .unwrap();
    let backtest = tradewind_core::backtest::Backtest::new(settings, strategy)
        .run(&bars)
        .unwrap();

    let dir = scratch("paper");
    let out = Captured::default();
    let (strategy, settings) = tradewind_config::bot(&cfg)
        .unwrap()
        .engine(&instrument)
        .unwrap();
    let (_l, rx) = leading(true);
    let session = Session::start(start(
        Engine::new(settings, strategy),
        &dir.join("bot.journal"),
        Paper,
        outputs(out.sink(), Mode::Paper),
        rx,
    ))
    .await
    .unwrap();
    let source = Source::Replay(Box::new(
        Replay::load(&data(), cfg.strategy.timeframe.seconds(), 0.0).unwrap(),
    ));
    let outcome = session
        .run(source.into_stream(), no_reports(), std::future::pending())
        .await
        .unwrap();
    let p = &backtest.portfolio;
    assert!(backtest.fills.len() >= 4, "{}", backtest.fills.len());
    assert_eq!(outcome.performance.equity, p.equity().to_string());
    assert_eq!(
        outcome.performance.realized_pnl,
        p.realized_pnl().to_string()
    );
    assert_eq!(outcome.performance.fills, backtest.counts.fills as u64);
    assert_eq!(outcome.performance.orders, backtest.counts.orders as u64);
    let fills: Vec<(String, String)> = out
        .events()
        .into_iter()
        .filter_map(|e| match e.body {
            Body::Fill(f) => Some((f.price, f.quantity)),
            _ => None,
        })
        .collect();
    let expected: Vec<(String, String)> = backtest
        .fills
        .iter()
        .map(|f| (f.price.to_string(), f.quantity.to_string()))
        .collect();
    assert_eq!(fills, expected, "every fill published, exactly");
}

// ---- live against the Binance mock ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_session_against_the_mock_reports_fills_and_venue_trouble() {
    let mock = TestServer::start_with(MockConfig {
        speed: Speed::Multiplier(20.0),
        ..MockConfig::default().with_data(data()).unwrap()
    })
    .unwrap();
    // The first order is booked but its answer never comes: its outcome is unknown.
    mock.hang_next_order();
    let yaml = manifest_dir().join("../../examples/demo/btc-scalper.yaml");
    let cfg = tradewind_crds::bundle::load(&[yaml], None).unwrap().config;
    let endpoints = BinanceEndpoints::custom(mock.rest_base(), mock.ws_base());
    let rest = BinanceRest::new(
        &endpoints,
        Some(Credentials {
            api_key: DEFAULT_API_KEY.into(),
            api_secret: DEFAULT_API_SECRET.into(),
        }),
    )
    .unwrap();
    let instrument = rest
        .rules("BTCUSDT")
        .await
        .unwrap()
        .to_instrument()
        .unwrap();
    let (strategy, mut settings) = tradewind_config::bot(&cfg)
        .unwrap()
        .engine(&instrument)
        .unwrap();
    settings.fill_model = BarFillModel::SameBarClose;
    let engine = Engine::with_venue(settings, strategy, Outbox::default());
    let executor = LiveExecutor::new(
        rest.clone(),
        "BTCUSDT".into(),
        instrument,
        "uid-1",
        "2026-12-06T00:00:00Z",
    )
    .cancel_on_shutdown(true);
    let dir = scratch("live");
    let out = Captured::default();
    let (_l, rx) = leading(true);
    let session = Session::start(start(
        engine,
        &dir.join("bot.journal"),
        executor,
        outputs(out.sink(), Mode::Live),
        rx,
    ))
    .await
    .unwrap();
    let user = UserStream::connect(&endpoints, &rest).await.unwrap();
    assert!(mock.listen_key_open(DEFAULT_API_KEY));
    let feed = tradewind_bot::venue::binance::MarketFeed::connect(
        &endpoints,
        "BTCUSDT",
        &rest,
        tradewind_bot::venue::binance::MarketStreams {
            trades: true,
            book_ticker: false,
            depth: false,
            klines: Some("1s".into()),
        },
    )
    .await
    .unwrap();
    let market = Source::Binance(Box::new(feed)).into_stream();
    // Stop after the third fill is published.
    let fill = out.fill.clone();
    let shutdown = async move {
        for _ in 0..3 {
            fill.notified().await;
        }
    };
    let outcome = live::run(session, market, user, shutdown).await.unwrap();
    assert_eq!(outcome.reason, StopReason::Shutdown);
    // The session's end closed the user stream's listenKey.
    assert!(!mock.listen_key_open(DEFAULT_API_KEY));
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.method == "DELETE" && r.path == "/api/v3/userDataStream" && r.status == 200)
    );
    let events = out.events();
    let seen = kinds(&events);
    for kind in [
        "Started",
        "OrderSubmitted",
        "OrderAccepted",
        "Fill",
        "VenueTrouble",
        "Stopped",
    ] {
        assert!(seen.contains(&kind), "no {kind} in {seen:?}");
    }
    // Each order at the exchange once, and each announced once.
    let orders = mock.orders();
    let submitted = seen.iter().filter(|k| **k == "OrderSubmitted").count();
    assert_eq!(orders.len(), submitted, "{seen:?}");
    let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, (0..events.len() as u64).collect::<Vec<_>>());
}

// ---- the Lease, asked at the moment of sending ---------------------------------------

/// Places one limit buy of 0.001 at `price` on its first bar.
struct OneBid {
    placed: bool,
    price: String,
}

impl Strategy for OneBid {
    fn name(&self) -> &'static str {
        "one-bid"
    }

    fn on_bar(&mut self, _ctx: &Context<'_>, _bar: &Bar, out: &mut Actions) {
        if !self.placed {
            self.placed = true;
            out.place(limit(Side::Buy, "0.001", &self.price, false));
        }
    }
}

/// A live [`OneBid`] session against a paused mock (nothing moves but what the test does),
/// bidding 50,000 (far below the market), cancelling its orders on shutdown; its venue
/// reports never come.
async fn one_bid_session(
    mock: &TestServer,
    name: &str,
    leading: watch::Receiver<bool>,
) -> Session<LiveExecutor> {
    bid_session(mock, name, leading, "50000.00", &Captured::default()).await
}

/// [`one_bid_session`] bidding `price`, publishing to `out`.
async fn bid_session(
    mock: &TestServer,
    name: &str,
    leading: watch::Receiver<bool>,
    price: &str,
    out: &Captured,
) -> Session<LiveExecutor> {
    let endpoints = BinanceEndpoints::custom(mock.rest_base(), mock.ws_base());
    let rest = BinanceRest::new(
        &endpoints,
        Some(Credentials {
            api_key: DEFAULT_API_KEY.into(),
            api_secret: DEFAULT_API_SECRET.into(),
        }),
    )
    .unwrap();
    let instrument = rest
        .rules("BTCUSDT")
        .await
        .unwrap()
        .to_instrument()
        .unwrap();
    let settings = Settings {
        instrument: instrument.clone(),
        capital: Money::parse("10000").unwrap(),
        fill_model: BarFillModel::SameBarClose,
        slippage: Bps::ZERO,
        fees: FeeSchedule::flat(Bps::ZERO, Bps::ZERO),
        sizing: Sizing::FixedQuantity("0.001".parse().unwrap()),
        risk: RiskLimits::default(),
    };
    let strategy = OneBid {
        placed: false,
        price: price.to_owned(),
    };
    let engine = Engine::with_venue(settings, Box::new(strategy), Outbox::default());
    let executor = LiveExecutor::new(rest, "BTCUSDT".into(), instrument, "uid-1", name)
        .cancel_on_shutdown(true);
    let dir = scratch(name);
    Session::start(start(
        engine,
        &dir.join("bot.journal"),
        executor,
        outputs(out.sink(), Mode::Live),
        leading,
    ))
    .await
    .unwrap()
}

fn paused_mock() -> TestServer {
    TestServer::start_with(MockConfig {
        start_paused: true,
        ..MockConfig::default().with_data(data()).unwrap()
    })
    .unwrap()
}

fn no_user_events() -> impl Stream<Item = Result<UserEvent, SessionError>> {
    stream::pending()
}

fn order_requests(mock: &TestServer, method: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.method == method && r.path == "/api/v3/order")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_lost_just_before_a_decision_sends_no_order() {
    let mock = paused_mock();
    let (tx, rx) = leading(true);
    let session = one_bid_session(&mock, "lease-before-decision", rx).await;
    // The Lease goes as the bar that decides the order arrives.
    let market = stream::iter(ticks(&[bar(0, "87000.00", "87000.00")])).inspect(move |_| {
        tx.send_replace(false);
    });
    let ended = session
        .run(
            market.chain(stream::pending()),
            no_user_events(),
            std::future::pending(),
        )
        .await;
    assert!(matches!(ended, Err(SessionError::LostLease)), "{ended:?}");
    assert_eq!(order_requests(&mock, "POST"), 0, "{:?}", mock.requests());
    assert!(mock.orders().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_lost_during_a_rate_limit_wait_sends_no_order_and_journals_it_unsent() {
    let mock = paused_mock();
    let (tx, rx) = leading(true);
    let dir_name = "lease-rate-limit";
    let session = one_bid_session(&mock, dir_name, rx).await;
    // The order is answered 429 (retry after 2 s); the Lease is lost during the wait.
    mock.throttle_next(1, 2);
    let handle = mock.handle().clone();
    tokio::spawn(async move {
        handle.served("POST", "/api/v3/order", 429).await;
        tx.send_replace(false);
    });
    let market = stream::iter(ticks(&[bar(0, "87000.00", "87000.00")])).chain(stream::pending());
    let ended = session
        .run(market, no_user_events(), std::future::pending())
        .await;
    assert!(matches!(ended, Err(SessionError::LostLease)), "{ended:?}");
    // One attempt, refused by the exchange; the retry after the wait never left.
    let posts: Vec<u16> = mock
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v3/order")
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, [429]);
    assert!(mock.orders().is_empty());
    // Journaled as sent before the attempt, then closed as never sent: a later session
    // has nothing to send for it.
    let (_, records) = Journal::<Record>::open(scratch_path(dir_name).join("bot.journal")).unwrap();
    let sent = records
        .iter()
        .filter(|r| matches!(r, Record::Sent { .. }))
        .count();
    let closed = records.iter().any(|r| match r {
        Record::Venue { events, .. } => events
            .iter()
            .any(|e| matches!(OrderEvent::from(e), OrderEvent::Canceled { .. })),
        _ => false,
    });
    assert_eq!(sent, 1);
    assert!(closed, "{records:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_without_the_lease_cancels_nothing() {
    let mock = paused_mock();
    let (tx, rx) = leading(true);
    let session = one_bid_session(&mock, "lease-shutdown", rx).await;
    // The bid rests; once the session asks for the next bar, the Lease goes and the
    // shutdown comes together.
    let next = Arc::new(Notify::new());
    let asked = next.clone();
    let market =
        stream::iter(ticks(&[bar(0, "87000.00", "87000.00")])).chain(stream::once(async move {
            asked.notify_one();
            std::future::pending().await
        }));
    let shutdown = async move {
        next.notified().await;
        tx.send_replace(false);
    };
    let ended = session.run(market, no_user_events(), shutdown).await;
    assert!(matches!(ended, Err(SessionError::LostLease)), "{ended:?}");
    let orders = mock.orders();
    assert_eq!(orders.len(), 1);
    assert!(orders[0].status.is_open(), "{orders:?}");
    assert_eq!(order_requests(&mock, "DELETE"), 0, "{:?}", mock.requests());
}

// ---- an order the exchange no longer knows -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_the_exchange_forgot_is_reconciled_from_its_trades_once() {
    let mock = paused_mock();
    mock.advance_until("BTCUSDT", "quote");
    let (_, (ask, _)) = mock.best_bid_ask("BTCUSDT").unwrap();
    let ask = ask.to_string();
    let price = ask.trim_end_matches('0').trim_end_matches('.');
    let out = Captured::default();
    let (_l, rx) = leading(true);
    let dir_name = "forgotten-order";
    let session = bid_session(&mock, dir_name, rx, price, &out).await;
    // The bid at the ask trades at once (its reports never come). Once the session asks
    // for the next bar, the exchange forgets the order and the session shuts down, so
    // its cancel is answered "unknown order" and its lookup -2013.
    let next = Arc::new(Notify::new());
    let asked = next.clone();
    let market = stream::iter(ticks(&[bar(0, price, price)])).chain(stream::once(async move {
        asked.notify_one();
        std::future::pending().await
    }));
    let handle = mock.handle().clone();
    let shutdown = async move {
        next.notified().await;
        handle.forget_orders();
    };
    let outcome = session
        .run(market, no_user_events(), shutdown)
        .await
        .unwrap();
    assert_eq!(outcome.reason, StopReason::Shutdown);
    let orders = mock.orders();
    assert_eq!(orders.len(), 1);
    let executed = orders[0].executed_qty;
    assert!(executed > tradewind_binance_mock::Dec::ZERO, "{orders:?}");
    // Both answered "unknown order", then the trades were read by the order's ID.
    let answered = |method: &str, path: &str, status: u16| {
        mock.requests()
            .iter()
            .any(|r| r.method == method && r.path == path && r.status == status)
    };
    assert!(
        answered("DELETE", "/api/v3/order", 400),
        "{:?}",
        mock.requests()
    );
    assert!(
        answered("GET", "/api/v3/order", 400),
        "{:?}",
        mock.requests()
    );
    assert!(
        answered("GET", "/api/v3/myTrades", 200),
        "{:?}",
        mock.requests()
    );
    // Each trade reached the journal and the engine once, and they add up to what the
    // exchange executed.
    let (_, records) = Journal::<Record>::open(scratch_path(dir_name).join("bot.journal")).unwrap();
    let mut trade_ids = Vec::new();
    let mut filled = Quantity::ZERO;
    for r in &records {
        if let Record::Venue {
            events,
            trade_ids: ids,
            ..
        } = r
        {
            trade_ids.extend(ids.iter().copied());
            for e in events {
                if let OrderEvent::Filled(f) = OrderEvent::from(e) {
                    filled = filled.checked_add(f.quantity).unwrap();
                }
            }
        }
    }
    let unique: std::collections::HashSet<u64> = trade_ids.iter().copied().collect();
    assert!(!trade_ids.is_empty(), "{records:?}");
    assert_eq!(unique.len(), trade_ids.len(), "{trade_ids:?}");
    let fills = kinds(&out.events())
        .iter()
        .filter(|k| **k == "Fill")
        .count();
    assert_eq!(fills, trade_ids.len());
    // Fees here are zero in the engine's schedule, but Binance takes its commission from
    // the bought base asset: the engine's position is what was executed, net of that.
    assert!(filled.raw() > 0 && filled.raw() <= executed_raw(executed));
}

/// A mock decimal as a core quantity's raw units.
fn executed_raw(d: tradewind_binance_mock::Dec) -> u64 {
    d.to_string().parse::<Quantity>().unwrap().raw()
}
