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
use tradewind_binance_mock::{
    Account, DEFAULT_API_KEY, DEFAULT_API_SECRET, MockConfig, Speed, TestServer,
};
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
use tradewind_crds::AdoptHoldings;
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
        recorder: None,
        signals: None,
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
        bar_nanos: 60_000_000_000,
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
        "EquitySnapshot",
    ] {
        assert!(seen.contains(&kind), "no {kind} in {seen:?}");
    }
    // One equity snapshot per (one-minute) bar, stamped at its close; the last one is the
    // performance the stop reports.
    let snapshots: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind() == "EquitySnapshot")
        .collect();
    assert_eq!(snapshots.len(), bars.len());
    for (s, b) in snapshots.iter().zip(&bars) {
        assert_eq!(
            s.ts,
            tradewind_bot::run::trader::rfc3339(b.ts + 60_000_000_000)
        );
    }
    let first_stop = events.iter().find(|e| e.kind() == "Stopped").unwrap();
    match (&snapshots[bars.len() - 1].body, &first_stop.body) {
        (Body::EquitySnapshot(p), Body::Stopped { performance, .. }) => {
            assert_eq!(p, performance);
        }
        other => panic!("{other:?}"),
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
        bar_nanos: 60_000_000_000,
    };
    let (mut trader, none) =
        Trader::recover(script_engine(), j, &records, identity, false, |_, _| {}).unwrap();
    assert!(none.is_empty());
    let mut made = trader
        .start(
            "2026-12-06T00:00:00Z".into(),
            Mode::Paper,
            "test".into(),
            Vec::new(),
            None,
        )
        .unwrap();
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
    // Commissions are paid in BNB: the user stream's fills are valued at its price.
    let mut config = MockConfig {
        speed: Speed::Multiplier(20.0),
        accounts: vec![
            Account::new(DEFAULT_API_KEY, DEFAULT_API_SECRET)
                .with_balance("USDT", "10000")
                .with_balance("BNB", "10")
                .paying_fees_in("BNB"),
        ],
        ..MockConfig::default().with_data(data()).unwrap()
    };
    config
        .tickers
        .insert("BNBUSDT".into(), "600".parse().unwrap());
    let mock = TestServer::start_with(config).unwrap();
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
    assert!(!seen.contains(&"FeeUnvalued"), "{seen:?}");
    for e in &events {
        if let Body::Fill(f) = &e.body {
            assert!(Money::parse(&f.fee).unwrap() > Money::ZERO, "{f:?}");
        }
    }
}

// ---- the Lease, asked at the moment of sending ---------------------------------------

/// Places one limit buy of 0.001 at `price` on its first bar.
struct OneBid {
    placed: bool,
    price: String,
    /// A buy stop-market at `price` instead.
    stop: bool,
}

impl Strategy for OneBid {
    fn name(&self) -> &'static str {
        "one-bid"
    }

    fn on_bar(&mut self, _ctx: &Context<'_>, _bar: &Bar, out: &mut Actions) {
        if !self.placed {
            self.placed = true;
            let mut order = limit(Side::Buy, "0.001", &self.price, false);
            if self.stop {
                order.kind = OrderKind::StopMarket {
                    trigger: self.price.parse().unwrap(),
                };
            }
            out.place(order);
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
    bid_session_with(mock, name, leading, price, out, Bid::default())
        .await
        .unwrap()
}

/// How a [`bid_session_with`] differs from a [`bid_session`].
#[derive(Default)]
struct Bid {
    /// Holdings policy.
    adopt: AdoptHoldings,
    /// Leave the orders open at a stop.
    keep_orders: bool,
    /// Resume from the journal already in the test's directory.
    resume: bool,
    /// Place a buy stop-market at the price instead of a limit bid.
    stop: bool,
}

/// The session of [`bid_session`], or why it would not start.
async fn bid_session_with(
    mock: &TestServer,
    name: &str,
    leading: watch::Receiver<bool>,
    price: &str,
    out: &Captured,
    how: Bid,
) -> Result<Session<LiveExecutor>, SessionError> {
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
        stop: how.stop,
    };
    let engine = Engine::with_venue(settings, Box::new(strategy), Outbox::default());
    let executor = LiveExecutor::new(rest, "BTCUSDT".into(), instrument, "uid-1", name)
        .cancel_on_shutdown(!how.keep_orders)
        .adopt_holdings(how.adopt);
    let dir = if how.resume {
        scratch_path(name)
    } else {
        scratch(name)
    };
    Session::start(start(
        engine,
        &dir.join("bot.journal"),
        executor,
        outputs(out.sink(), Mode::Live),
        leading,
    ))
    .await
}

/// The default account without its BTC (and ETH, SOL): 10,000 USDT only.
fn usdt_only() -> Vec<Account> {
    vec![Account::new(DEFAULT_API_KEY, DEFAULT_API_SECRET).with_balance("USDT", "10000")]
}

fn paused_mock() -> TestServer {
    paused_mock_with(usdt_only(), |_| {})
}

fn paused_mock_with(accounts: Vec<Account>, edit: impl FnOnce(&mut MockConfig)) -> TestServer {
    let mut config = MockConfig {
        start_paused: true,
        accounts,
        ..MockConfig::default().with_data(data()).unwrap()
    };
    edit(&mut config);
    TestServer::start_with(config).unwrap()
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

// ---- live money safety: holdings, commissions in BNB, orphans, restarts ---------------

/// The best ask now, as a price the core parses.
fn ask(mock: &TestServer) -> String {
    mock.advance_until("BTCUSDT", "quote");
    let (_, (ask, _)) = mock.best_bid_ask("BTCUSDT").unwrap();
    let ask = ask.to_string();
    ask.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// One bar at `price`, then a market that never moves; `asked` fires when the session
/// asks for the next bar (the first bar is done).
type Market = Result<(Tick, Option<Duration>), SourceError>;

fn one_bar(price: &str) -> (impl Stream<Item = Market>, Arc<Notify>) {
    let next = Arc::new(Notify::new());
    let asked = next.clone();
    let market = stream::iter(ticks(&[bar(0, price, price)])).chain(stream::once(async move {
        asked.notify_one();
        std::future::pending().await
    }));
    (market, next)
}

fn journal_of(name: &str) -> Vec<Record> {
    Journal::<Record>::open(scratch_path(name).join("bot.journal"))
        .unwrap()
        .1
}

/// Fills in a journal.
fn journaled_fills(records: &[Record]) -> Vec<tradewind_core::orders::Fill> {
    records
        .iter()
        .flat_map(|r| match r {
            Record::Venue { events, .. } => events.iter().map(OrderEvent::from).collect(),
            _ => Vec::new(),
        })
        .filter_map(|e| match e {
            OrderEvent::Filled(f) => Some(f),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_session_on_an_account_holding_the_base_asset_refuses_to_trade() {
    // The default account holds 1 BTC.
    let mock = paused_mock_with(vec![Account::default()], |_| {});
    let out = Captured::default();
    let (_l, rx) = leading(true);
    let name = "holdings-refused";
    let refused = bid_session_with(&mock, name, rx, "50000.00", &out, Bid::default()).await;
    let Err(SessionError::UnexpectedHoldings(r)) = refused else {
        panic!("refused: {:?}", refused.err())
    };
    assert_eq!((r.asset.as_str(), r.quantity.as_str()), ("BTC", "1"));
    assert!(
        r.message.contains("spec.live.adoptHoldings"),
        "{}",
        r.message
    );
    // A typed event says so; nothing is journaled (the next start looks again) and
    // nothing is sent.
    let events = out.events();
    assert_eq!(kinds(&events), ["UnexpectedHoldings"]);
    let Body::UnexpectedHoldings {
        asset, quantity, ..
    } = &events[0].body
    else {
        unreachable!()
    };
    assert_eq!((asset.as_str(), quantity.as_str()), ("BTC", "1"));
    assert!(journal_of(name).is_empty());
    assert_eq!(order_requests(&mock, "POST"), 0);
    // The status the worker writes: Trading False, reason UnexpectedHoldings.
    let status = tradewind_bot::run::session::refused_status(Money::parse("10000").unwrap(), &r);
    assert_eq!(
        (status.trading.status, status.trading.reason.as_str()),
        (false, "UnexpectedHoldings")
    );
    assert_eq!(status.trading.message, r.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holding_adopted_at_the_mark_is_the_position_and_survives_a_restart() {
    let mock = paused_mock_with(
        vec![
            Account::new(DEFAULT_API_KEY, DEFAULT_API_SECRET)
                .with_balance("USDT", "10000")
                .with_balance("BTC", "0.01"),
        ],
        |_| {},
    );
    let out = Captured::default();
    let (_l, rx) = leading(true);
    let name = "holdings-adopted";
    let how = || Bid {
        adopt: AdoptHoldings::AtMark,
        ..Bid::default()
    };
    let session = bid_session_with(&mock, name, rx.clone(), "50000.00", &out, how())
        .await
        .unwrap();
    let events = out.events();
    assert_eq!(kinds(&events), ["Started", "HoldingsAdopted"]);
    let Body::HoldingsAdopted {
        asset,
        quantity,
        price,
    } = &events[1].body
    else {
        unreachable!()
    };
    assert_eq!((asset.as_str(), quantity.as_str()), ("BTC", "0.01"));
    let snap = session.trader().snapshot();
    let (held, avg) = snap.position.clone().expect("a position");
    assert_eq!((held.as_str(), &avg), ("0.01", price));
    // Paid out of the capital: equity is still the capital at the mark.
    assert_eq!(snap.equity, Money::parse("10000").unwrap());
    drop(session);
    // A restart resumes the journaled position (no second adoption, no second check).
    let again = bid_session_with(
        &mock,
        name,
        rx,
        "50000.00",
        &Captured::default(),
        Bid {
            resume: true,
            ..how()
        },
    )
    .await
    .unwrap();
    assert_eq!(again.trader().snapshot().position, Some((held, avg)));
    drop(again);
    let adopted = journal_of(name)
        .iter()
        .filter(|r| matches!(r, Record::Adopted { .. }))
        .count();
    assert_eq!(adopted, 1);
}

/// A bid at the ask fills at once; its reports never come, so the fill is read from
/// the account's trades when the shutdown's cancel finds the order done.
async fn bnb_fill(price_known: bool) -> (Vec<Event>, tradewind_binance_mock::Dec) {
    let mock = paused_mock_with(
        vec![
            Account::new(DEFAULT_API_KEY, DEFAULT_API_SECRET)
                .with_balance("USDT", "10000")
                .with_balance("BNB", "10")
                .paying_fees_in("BNB"),
        ],
        |c| {
            c.tickers.insert("BNBUSDT".into(), "500".parse().unwrap());
        },
    );
    let price = ask(&mock);
    let out = Captured::default();
    let (_l, rx) = leading(true);
    let name = if price_known {
        "bnb-valued"
    } else {
        "bnb-unvalued"
    };
    let session = bid_session(&mock, name, rx, &price, &out).await;
    let (market, next) = one_bar(&price);
    let handle = mock.handle().clone();
    let shutdown = async move {
        next.notified().await;
        if !price_known {
            handle.set_ticker("BNBUSDT", None);
        }
    };
    let outcome = session
        .run(market, no_user_events(), shutdown)
        .await
        .unwrap();
    assert_eq!(outcome.reason, StopReason::Shutdown);
    let paid: tradewind_binance_mock::Dec = mock
        .balances(DEFAULT_API_KEY)
        .unwrap()
        .get("BNB")
        .map(|b| "10".parse::<tradewind_binance_mock::Dec>().unwrap() - b.free)
        .unwrap();
    (out.events(), paid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commission_paid_in_bnb_is_valued_at_the_venue_price_or_marked_unvalued() {
    let (events, paid) = bnb_fill(true).await;
    let fills: Vec<&tradewind_events::Fill> = events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Fill(f) => Some(f),
            _ => None,
        })
        .collect();
    assert!(!fills.is_empty(), "{:?}", kinds(&events));
    let fee: Money = fills
        .iter()
        .map(|f| Money::parse(&f.fee).unwrap())
        .fold(Money::ZERO, |a, b| a.checked_add(b).unwrap());
    // The BNB the account paid, at 500 USDT.
    let expected = Money::parse(&paid.to_string())
        .unwrap()
        .mul_ratio(500, 1, tradewind_core::fixed::RoundingMode::HalfEven)
        .unwrap();
    assert!(fee > Money::ZERO, "{fills:?}");
    assert_eq!(fee, expected, "{fills:?}");
    assert!(!kinds(&events).contains(&"FeeUnvalued"));

    // Without a BNBUSDT price the fee is not invented: zero in the fill, and a typed
    // marker names the commission left out.
    let (events, paid) = bnb_fill(false).await;
    let unvalued: Vec<&Body> = events
        .iter()
        .map(|e| &e.body)
        .filter(|b| matches!(b, Body::FeeUnvalued { .. }))
        .collect();
    assert!(!unvalued.is_empty(), "{:?}", kinds(&events));
    let Body::FeeUnvalued {
        asset, commission, ..
    } = unvalued[0]
    else {
        unreachable!()
    };
    assert_eq!(asset, "BNB");
    assert_eq!(
        Money::parse(commission).unwrap(),
        Money::parse(&paid.to_string()).unwrap()
    );
    for e in &events {
        if let Body::Fill(f) = &e.body {
            assert_eq!(Money::parse(&f.fee).unwrap(), Money::ZERO);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_an_earlier_session_left_are_cancelled_only_while_leading() {
    let mock = paused_mock();
    let rest = BinanceRest::new(
        &BinanceEndpoints::custom(mock.rest_base(), mock.ws_base()),
        Some(Credentials::new(DEFAULT_API_KEY, DEFAULT_API_SECRET)),
    )
    .unwrap();
    let orphan = format!("{}abcdef-999", live::bot_prefix("uid-1"));
    rest.new_order(&tradewind_bot::venue::binance::NewOrder {
        symbol: "BTCUSDT".into(),
        side: Side::Buy,
        kind: tradewind_bot::venue::binance::OrderKind::Limit {
            price: "10000.00".parse().unwrap(),
            tif: TimeInForce::Gtc,
        },
        quantity: "0.00100".parse().unwrap(),
        client_order_id: orphan.clone(),
    })
    .await
    .unwrap();
    let (_l, standby) = leading(false);
    let name = "orphans-lease";
    let out = Captured::default();
    let ended = bid_session_with(&mock, name, standby, "50000.00", &out, Bid::default()).await;
    assert!(
        matches!(ended, Err(SessionError::LostLease)),
        "{:?}",
        ended.err()
    );
    assert_eq!(order_requests(&mock, "DELETE"), 0, "{:?}", mock.requests());
    assert!(mock.orders()[0].status.is_open());
    // Holding the Lease, the next start cancels it and says so.
    let (_l, rx) = leading(true);
    bid_session_with(&mock, name, rx, "50000.00", &out, Bid::default())
        .await
        .unwrap();
    let started = out
        .events()
        .into_iter()
        .find_map(|e| match e.body {
            Body::Started(s) => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(started.cancelled_orphans, [orphan]);
    assert!(!mock.orders()[0].status.is_open());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_venue_order_id_is_journaled_so_a_restart_reconciles_a_forgotten_order() {
    let mock = paused_mock();
    let price = ask(&mock);
    let (_l, rx) = leading(true);
    let name = "order-id-restart";
    let keep = || Bid {
        keep_orders: true,
        ..Bid::default()
    };
    // The bid at the ask trades at once; its reports never come, and the stop leaves
    // the order as it is.
    let session = bid_session_with(
        &mock,
        name,
        rx.clone(),
        &price,
        &Captured::default(),
        keep(),
    )
    .await
    .unwrap();
    let (market, next) = one_bar(&price);
    session
        .run(
            market,
            no_user_events(),
            async move { next.notified().await },
        )
        .await
        .unwrap();
    let records = journal_of(name);
    let order_id = mock.orders()[0].order_id;
    assert!(
        records.iter().any(|r| matches!(
            r,
            Record::OrderId { id: 1, venue_order_id } if *venue_order_id == order_id
        )),
        "{records:?}"
    );
    assert!(journaled_fills(&records).is_empty());
    // The exchange forgets it; a restarted worker finds it only in the account's trades,
    // by the order ID the journal kept.
    mock.forget_orders();
    let out = Captured::default();
    let again = bid_session_with(
        &mock,
        name,
        rx,
        &price,
        &out,
        Bid {
            resume: true,
            ..keep()
        },
    )
    .await
    .unwrap();
    again
        .run(stream::pending(), no_user_events(), async {})
        .await
        .unwrap();
    let fills = journaled_fills(&journal_of(name));
    assert!(!fills.is_empty(), "{:?}", kinds(&out.events()));
    let filled: u64 = fills.iter().map(|f| f.quantity.raw()).sum();
    assert!(filled <= executed_raw(mock.orders()[0].executed_qty));
    assert!(kinds(&out.events()).contains(&"Resumed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_order_goes_as_binance_stop_loss_and_fills_when_triggered() {
    let mock = paused_mock();
    // The first replayed trade above the market's first: the buy stop's trigger.
    let text = std::fs::read_to_string(data()).unwrap();
    let trades: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i, serde_json::from_str::<serde_json::Value>(l).unwrap()))
        .filter(|(_, v)| v["type"] == "trade")
        .map(|(i, v)| (i, v["price"].as_str().unwrap().to_owned()))
        .collect();
    let price = |s: &str| s.parse::<tradewind_core::fixed::Price>().unwrap();
    let (first_at, first) = trades[0].clone();
    let (up_at, up) = trades
        .iter()
        .find(|(_, p)| price(p) > price(&first))
        .cloned()
        .unwrap();
    mock.advance(first_at + 1);
    let (_l, rx) = leading(true);
    let out = Captured::default();
    let name = "native-stop";
    let session = bid_session_with(
        &mock,
        name,
        rx,
        &up,
        &out,
        Bid {
            stop: true,
            ..Bid::default()
        },
    )
    .await
    .unwrap();
    let (market, next) = one_bar(&first);
    let handle = mock.handle().clone();
    // After the first bar the stop rests untriggered; the replay then reaches its trigger
    // and the shutdown's cancel finds it filled.
    let shutdown = async move {
        next.notified().await;
        let order = handle.orders()[0].clone();
        assert_eq!(
            (order.order_type, order.working),
            (tradewind_binance_mock::OrderType::StopLoss, false)
        );
        handle.advance(up_at - first_at);
    };
    session
        .run(market, no_user_events(), shutdown)
        .await
        .unwrap();
    let order = &mock.orders()[0];
    assert_eq!(price(&order.stop_price.to_string()), price(&up));
    assert_eq!(order.status, tradewind_binance_mock::OrderStatus::Filled);
    let fills = journaled_fills(&journal_of(name));
    assert!(!fills.is_empty(), "{:?}", kinds(&out.events()));
    assert!(kinds(&out.events()).contains(&"Fill"));
}

// ---- recording with the platform -----------------------------------------------------

mod platform;
use platform::{Platform, platform};

/// A recorder to `p`; a stop waits up to `flush` for the backlog (all of it, for a
/// platform that is down).
fn recorder(
    p: &Platform,
    max_backlog: usize,
    flush: Duration,
    metrics: &Arc<WorkerMetrics>,
) -> Arc<tradewind_bot::run::recorder::Recorder> {
    use tradewind_bot::run::recorder::{Recorder, RecorderConfig};
    let mut config = RecorderConfig::new(p.url.clone(), p.token_file.clone());
    config.max_backlog = max_backlog;
    config.max_batch = 4;
    config.linger = Duration::ZERO;
    config.initial_backoff = Duration::from_millis(5);
    config.max_backoff = Duration::from_millis(20);
    config.flush_timeout = flush;
    Arc::new(
        Recorder::start(
            config,
            metrics.clone(),
            tradewind_bot::run::recorder::http_client().unwrap(),
        )
        .expect("recorder"),
    )
}

/// Runs a paper session over `bars` to their end, recording with `recorder`.
async fn recorded_session(
    journal: &Path,
    bars: &[Bar],
    recorder: Arc<tradewind_bot::run::recorder::Recorder>,
    metrics: Arc<WorkerMetrics>,
) -> Vec<Event> {
    recorded_session_reporting(journal, bars, recorder, metrics, None).await
}

/// The same, reporting into the bot's status with `status`.
async fn recorded_session_reporting(
    journal: &Path,
    bars: &[Bar],
    recorder: Arc<tradewind_bot::run::recorder::Recorder>,
    metrics: Arc<WorkerMetrics>,
    status: Option<tradewind_bot::run::status::StatusReporter>,
) -> Vec<Event> {
    let out = Captured::default();
    let mut outputs = outputs(out.sink(), Mode::Paper);
    outputs.recorder = Some(recorder);
    outputs.metrics = metrics;
    outputs.status = status;
    let (_l, rx) = leading(true);
    let s = Session::start(start(script_engine(), journal, Paper, outputs, rx))
        .await
        .unwrap();
    let mut market = ticks(bars);
    market.push(Ok((Tick::End, None)));
    s.run(stream::iter(market), no_reports(), std::future::pending())
        .await
        .unwrap();
    out.events()
}

fn acknowledged(journal: &Path) -> Option<u64> {
    let (_, records) = Journal::<Record>::open(journal).unwrap();
    records.iter().rev().find_map(|r| match r {
        Record::Acknowledged { next } => Some(*next),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_gets_every_event_once_in_effect_through_an_outage_and_restarts() {
    let bars: Vec<Bar> = (0..6).map(|i| bar(i, "100.00", "100.00")).collect();
    let dir = scratch("recording");
    let journal = dir.join("bot.journal");
    let p = platform(&dir, "btc-bot").await;

    // The ledger is down for the whole first run: nothing is confirmed, nothing lost.
    // The backlog's bound (8 events) is reached, so the last bars are not traded.
    p.ledger.set_unavailable(true);
    let metrics = Arc::new(WorkerMetrics::default());
    let bots: kube::Api<tradewind_crds::TradingBot> =
        kube::Api::namespaced(p.admin.clone(), "trading");
    let status = tradewind_bot::run::status::StatusReporter::new(
        bots.clone(),
        "btc-bot",
        Duration::from_secs(3600),
    );
    let first = recorded_session_reporting(
        &journal,
        &bars,
        recorder(&p, 8, Duration::from_millis(300), &metrics),
        metrics.clone(),
        Some(status),
    )
    .await;
    // The bot's status says why it stopped trading.
    let bot = bots.get_status("btc-bot").await.unwrap();
    let conditions = bot.status.unwrap().conditions;
    let trading = tradewind_crds::conditions::find(&conditions, "Trading").unwrap();
    assert_eq!(
        (trading.status.as_str(), trading.reason.as_str()),
        ("False", "RecordingBacklog"),
        "{trading:?}"
    );
    assert!(trading.message.contains("bound 8"), "{}", trading.message);
    assert!(p.ledger.events().is_empty());
    assert_eq!(acknowledged(&journal), None);
    assert!(
        first.iter().any(|e| e.kind() == "EquitySnapshot"),
        "{:?}",
        kinds(&first)
    );
    let traded = first
        .iter()
        .filter(|e| e.kind() == "EquitySnapshot")
        .count();
    assert!(
        traded < bars.len(),
        "the bound paused trading: {:?}",
        kinds(&first)
    );
    let text = metrics.encode();
    assert!(text.contains("tradewind_bot_recording_paused 1"), "{text}");
    assert!(
        text.contains(r#"tradewind_bot_recording_send_failures_total{reason="unavailable"}"#),
        "{text}"
    );
    assert!(
        text.contains("tradewind_bot_recording_acknowledged_sequence -1"),
        "{text}"
    );

    // The ledger is back; the worker restarts (new process: new recorder) and sends the
    // backlog from its cursor, then the rest of the bars.
    p.ledger.set_unavailable(false);
    let metrics = Arc::new(WorkerMetrics::default());
    let second = recorded_session(
        &journal,
        &bars,
        recorder(&p, 1_000, Duration::from_secs(60), &metrics),
        metrics.clone(),
    )
    .await;
    let recorded = p.ledger.events();
    let total = second.last().unwrap().sequence + 1;
    assert_eq!(
        acknowledged(&journal),
        Some(total),
        "the cursor is journaled"
    );
    assert_eq!(
        recorded.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        (0..total).collect::<Vec<_>>(),
        "every event of the session, once, in order"
    );
    assert_eq!(p.ledger.duplicates(), 0);
    // What the platform holds is what the worker published, id for id.
    for e in first.iter().chain(&second) {
        assert_eq!(&recorded[e.sequence as usize], e);
    }
    assert_eq!(
        second
            .iter()
            .filter(|e| e.kind() == "EquitySnapshot")
            .count()
            + traded,
        recorded
            .iter()
            .filter(|e| e.kind() == "EquitySnapshot")
            .count()
    );
    let text = metrics.encode();
    assert!(
        text.contains("tradewind_bot_recording_backlog_events 0"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "tradewind_bot_recording_acknowledged_sequence {}",
            total - 1
        )),
        "{text}"
    );

    // Another restart resends nothing the platform confirmed: only its own new events.
    let metrics = Arc::new(WorkerMetrics::default());
    let third = recorded_session(
        &journal,
        &[],
        recorder(&p, 1_000, Duration::from_secs(60), &metrics),
        metrics,
    )
    .await;
    assert_eq!(kinds(&third), ["Resumed", "Stopped"]);
    assert_eq!(p.ledger.duplicates(), 0);
    assert_eq!(p.ledger.events().len() as u64, total + 2);
    assert_eq!(acknowledged(&journal), Some(total + 2));

    // The ledger holds another content under the next event's id (corruption): the
    // platform refuses it, the recorder stops at once instead of retrying forever, says
    // so, and keeps its cursor and backlog for a restart once a person has looked.
    use tradewind_ingest::server::{BotRef, EventSink as _};
    let forged = Event::new(
        "trading/btc-bot",
        &third[0].session,
        total + 2,
        "2026-12-06T00:00:00Z".into(),
        Body::Unknown,
    );
    let bot = BotRef {
        namespace: "trading".into(),
        name: "btc-bot".into(),
        uid: String::new(),
        account: String::new(),
        commission_plan: None,
        symbol: "BTCUSDT".into(),
        capital_currency: "USDT".into(),
        strategy: "sma".into(),
    };
    p.ledger.record(&bot, &[forged]).await.unwrap();
    let metrics = Arc::new(WorkerMetrics::default());
    let fourth = recorded_session(
        &journal,
        &[],
        recorder(&p, 1_000, Duration::from_secs(60), &metrics),
        metrics.clone(),
    )
    .await;
    assert_eq!(kinds(&fourth), ["Resumed", "Stopped"]);
    let text = metrics.encode();
    assert!(text.contains("tradewind_bot_recording_failed 1"), "{text}");
    assert!(
        text.contains(r#"tradewind_bot_recording_send_failures_total{reason="refused"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("tradewind_bot_recording_backlog_events 2"),
        "{text}"
    );
    assert_eq!(acknowledged(&journal), Some(total + 2));
    assert_eq!(
        p.ledger.events().len() as u64,
        total + 3,
        "nothing else recorded"
    );
}

/// A session begun by an older worker (its first start journaled without the
/// `snapshots` flag) replays without equity snapshots, so every event keeps the sequence
/// number, and id, it was published under; a new session has one per bar.
#[test]
fn equity_snapshots_never_renumber_a_session_begun_without_them() {
    let bars: Vec<Bar> = (0..3).map(|i| bar(i, "100.00", "100.00")).collect();
    for snapshots in [false, true] {
        let dir = scratch(&format!("snapshots-{snapshots}"));
        let path = dir.join("bot.journal");
        let (mut j, _) = Journal::<Record>::open(&path).unwrap();
        let mut records = vec![Record::Started {
            at: "2026-12-06T00:00:00Z".into(),
            mode: "Paper".into(),
            config_hash: "test".into(),
            session: "2026-12-06T00:00:00Z".into(),
            cancelled_orphans: Vec::new(),
            snapshots,
        }];
        records.extend(bars.iter().map(|b| Record::Bar(b.into())));
        j.append(&records).unwrap();
        drop(j);
        let (j, records) = Journal::<Record>::open(&path).unwrap();
        let identity = Identity {
            bot: "trading/btc-bot".into(),
            session: "2026-12-06T00:00:00Z".into(),
            bar_nanos: 60_000_000_000,
        };
        let (_, events) =
            Trader::recover(script_engine(), j, &records, identity, false, |_, _| {}).unwrap();
        let found = events
            .iter()
            .filter(|e| e.kind() == "EquitySnapshot")
            .count();
        assert_eq!(
            found,
            if snapshots { bars.len() } else { 0 },
            "{:?}",
            kinds(&events)
        );
        let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, (0..events.len() as u64).collect::<Vec<_>>());
    }
}

// ---- signals from the platform -------------------------------------------------------

fn signal_engine() -> Engine {
    use tradewind_core::strategy::signal::{SignalAction, SignalConfig, SignalStrategy};
    Engine::new(
        script_engine().settings().clone(),
        Box::new(SignalStrategy::new(
            SignalConfig::new(vec![SignalAction::Enter, SignalAction::Exit], None).unwrap(),
        )),
    )
}

fn wire(seq: u64, id: &str, action: &str) -> tradewind_ingest::WireSignal {
    tradewind_ingest::WireSignal {
        seq,
        id: id.into(),
        action: action.into(),
        ts: bar(0, "100.00", "100.00").ts + 90_000_000_000,
    }
}

/// An inbox as the fetcher would fill it, and the test's ends of it.
fn inbox() -> (
    tradewind_bot::run::signals::Inbox,
    tokio::sync::mpsc::Sender<tradewind_ingest::WireSignal>,
    watch::Receiver<u64>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let (cursor, cursor_rx) = watch::channel(0);
    (
        tradewind_bot::run::signals::Inbox {
            signals: rx,
            cursor,
        },
        tx,
        cursor_rx,
    )
}

fn stop_performance(events: &[Event]) -> tradewind_events::Performance {
    match &events
        .iter()
        .rev()
        .find(|e| e.kind() == "Stopped")
        .unwrap()
        .body
    {
        Body::Stopped { performance, .. } => performance.clone(),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn signals_are_journaled_before_they_act_and_a_restart_never_acts_on_one_twice() {
    let dir = scratch("signals");
    let journal = dir.join("bot.journal");
    let first = Captured::default();
    let (_l, rx) = leading(true);
    let (signals, tx, mut cursor) = inbox();
    let mut out = outputs(first.sink(), Mode::Paper);
    out.signals = Some(signals);
    let session = Session::start(start(signal_engine(), &journal, Paper, out, rx))
        .await
        .unwrap();
    assert_eq!(
        *cursor.borrow_and_update(),
        0,
        "a new journal starts the fetch at 0"
    );
    let (market, asked) = one_bar("100.00");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = async {
        // After the bar (a price to act at): enter, a re-delivery of it, then exit.
        asked.notified().await;
        tx.send(wire(1, "tv-1", "enter")).await.unwrap();
        cursor.wait_for(|c| *c >= 1).await.unwrap();
        tx.send(wire(1, "tv-1", "enter")).await.unwrap();
        tx.send(wire(2, "tv-2", "exit")).await.unwrap();
        cursor.wait_for(|c| *c >= 2).await.unwrap();
        stop.send(()).unwrap();
    };
    let (outcome, ()) = tokio::join!(
        session.run(market, no_reports(), async {
            let _ = stopped.await;
        }),
        driver
    );
    assert_eq!(outcome.unwrap().reason, StopReason::Shutdown);
    let events = first.events();
    let fills: Vec<&Event> = events.iter().filter(|e| e.kind() == "Fill").collect();
    assert_eq!(fills.len(), 2, "one buy, one sell: {:?}", kinds(&events));
    let records = journal_of("signals");
    let journaled: Vec<u64> = records
        .iter()
        .filter_map(|r| match r {
            Record::Signal { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect();
    assert_eq!(journaled, [1, 2], "each signal journaled once");
    // The signal is journaled before the events it caused are published (a paper fill
    // is the engine's own: no venue record).
    let first_signal = records
        .iter()
        .position(|r| matches!(r, Record::Signal { .. }))
        .expect("a Signal record");
    let its_events = records
        .iter()
        .position(|r| matches!(r, Record::Published { next } if *next > 2))
        .expect("the signal's events published");
    assert!(first_signal < its_events, "{records:?}");

    // A restart: the journal gives the fetcher its cursor, a re-delivery acts on nothing,
    // and the replay rebuilds the same account.
    let second = Captured::default();
    let (_l, rx) = leading(true);
    let (signals, tx, mut cursor) = inbox();
    let mut out = outputs(second.sink(), Mode::Paper);
    out.signals = Some(signals);
    let session = Session::start(start(signal_engine(), &journal, Paper, out, rx))
        .await
        .unwrap();
    assert_eq!(*cursor.borrow_and_update(), 2);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = async {
        // The session says where it is after each signal it took (or ignored).
        tx.send(wire(1, "tv-1", "enter")).await.unwrap();
        cursor.changed().await.unwrap();
        tx.send(wire(2, "tv-2", "exit")).await.unwrap();
        cursor.changed().await.unwrap();
        stop.send(()).unwrap();
    };
    let (outcome, ()) = tokio::join!(
        session.run(stream::pending(), no_reports(), async {
            let _ = stopped.await;
        }),
        driver
    );
    assert_eq!(outcome.unwrap().reason, StopReason::Shutdown);
    let again = second.events();
    assert!(
        !again
            .iter()
            .any(|e| e.kind() == "Fill" || e.kind() == "OrderSubmitted"),
        "{:?}",
        kinds(&again)
    );
    assert_eq!(stop_performance(&again), stop_performance(&events));
    let journaled = journal_of("signals")
        .iter()
        .filter(|r| matches!(r, Record::Signal { .. }))
        .count();
    assert_eq!(journaled, 2);
}
