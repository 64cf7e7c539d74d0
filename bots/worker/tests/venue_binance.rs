//! The Binance venue client against the mock exchange (`tests/binance`): market data
//! with the local order book kept in sync, reconnects and resyncs, signed trading, the
//! user data stream, error mapping and rate limits.

use std::path::PathBuf;
use std::time::Duration;

use tradewind_binance_mock::{DEFAULT_API_KEY, DEFAULT_API_SECRET, MockConfig, TestServer};
use tradewind_bot::venue::binance::{
    BinanceEndpoints, BinanceRest, Credentials, ExecType, FeedOptions, MarketEvent, MarketFeed,
    MarketStreams, NewOrder, OrderKind, OrderStatus, RestOptions, UserEvent, UserStream,
    VenueError,
};
use tradewind_core::data::Side;
use tradewind_core::fixed::{Money, Price, Quantity};
use tradewind_core::orders::TimeInForce;

const SYMBOL: &str = "BTCUSDT";
/// Guard against hangs only; no assertion depends on it.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn mock() -> TestServer {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"))
        .join("../../examples/data");
    TestServer::start_with(MockConfig {
        start_paused: true,
        ..MockConfig::with_examples(dir)
    })
    .expect("start mock")
}

fn endpoints(m: &TestServer) -> BinanceEndpoints {
    BinanceEndpoints::custom(m.rest_base(), m.ws_base())
}

fn creds() -> Credentials {
    Credentials::new(DEFAULT_API_KEY, DEFAULT_API_SECRET)
}

fn all_streams() -> MarketStreams {
    MarketStreams {
        trades: true,
        book_ticker: true,
        depth: true,
        klines: Some("1s".into()),
    }
}

/// Next event, failing the test instead of hanging.
async fn next(feed: &mut MarketFeed) -> MarketEvent {
    tokio::time::timeout(HANG_GUARD, feed.next())
        .await
        .expect("market feed produced nothing")
        .expect("market feed failed")
}

async fn next_user(user: &mut UserStream) -> UserEvent {
    tokio::time::timeout(HANG_GUARD, user.next())
        .await
        .expect("user stream produced nothing")
        .expect("user stream failed")
}

/// Read until the local book is synced at the mock's current update id (the mock is
/// paused, so that id is final), returning the events read on the way.
async fn until_synced(feed: &mut MarketFeed, m: &TestServer) -> Vec<MarketEvent> {
    let target = m.last_update_id(SYMBOL).expect("symbol known");
    let mut seen = Vec::new();
    loop {
        let ev = next(feed).await;
        let done = matches!(ev, MarketEvent::Book { update_id, .. } if update_id >= target)
            && feed.book_synced();
        seen.push(ev);
        if done {
            return seen;
        }
    }
}

/// The feed's whole book equals a REST snapshot taken now.
async fn assert_book_matches_snapshot(feed: &MarketFeed, rest: &BinanceRest) {
    let snap = rest.depth_snapshot(SYMBOL, 1000).await.expect("snapshot");
    let depth = feed.book().depth(usize::MAX);
    assert!(!snap.bids.is_empty() && !snap.asks.is_empty());
    assert_eq!(depth.bids, snap.bids, "bids differ from the snapshot");
    assert_eq!(depth.asks, snap.asks, "asks differ from the snapshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_feed_yields_trades_quotes_bars_and_a_book_in_sync() {
    let m = mock();
    let ep = endpoints(&m);
    let rest = BinanceRest::new(&ep, None).unwrap();
    let mut feed = MarketFeed::connect(&ep, SYMBOL, &rest, all_streams())
        .await
        .unwrap();
    assert_eq!(feed.rules().tick_size, Price::parse("0.01", 2).unwrap());
    assert_eq!(
        (feed.rules().price_precision, feed.rules().qty_precision),
        (2, 5)
    );

    let (mut trades, mut quotes, mut bars, mut books) = (0, 0, 0, 0);
    let mut rounds = 0;
    while trades == 0 || quotes == 0 || bars == 0 || books == 0 {
        rounds += 1;
        assert!(
            rounds < 200,
            "not every kind of event after {rounds} rounds"
        );
        m.advance(50);
        for ev in until_synced(&mut feed, &m).await {
            match ev {
                MarketEvent::Trade {
                    price, quantity, ..
                } => {
                    assert_eq!((price.precision(), quantity.precision()), (2, 5));
                    trades += 1;
                }
                MarketEvent::Quote { bid, ask, .. } => {
                    assert!(bid < ask, "quote {bid} / {ask}");
                    quotes += 1;
                }
                MarketEvent::Bar(bar) => {
                    bar.validate().unwrap();
                    bars += 1;
                }
                MarketEvent::Book {
                    best_bid, best_ask, ..
                } => {
                    if let (Some(b), Some(a)) = (best_bid, best_ask) {
                        assert!(b.price < a.price);
                    }
                    books += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    // The book matches the exchange's, level for level, and its top the mock's L1.
    assert_book_matches_snapshot(&feed, &rest).await;
    let ((bid, _), (ask, _)) = m.best_bid_ask(SYMBOL).unwrap();
    assert_eq!(
        feed.book().best_bid().unwrap().price,
        Price::parse(&bid.to_string(), 9).unwrap()
    );
    assert_eq!(
        feed.book().best_ask().unwrap().price,
        Price::parse(&ask.to_string(), 9).unwrap()
    );
    let c = feed.counters();
    assert!(c.messages.load(std::sync::atomic::Ordering::Relaxed) > 0);
    assert_eq!(c.resyncs.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(c.bad_messages.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_depth_gap_resyncs_and_the_book_is_back_in_sync() {
    let m = mock();
    let ep = endpoints(&m);
    let rest = BinanceRest::new(&ep, None).unwrap();
    let streams = MarketStreams {
        trades: false,
        book_ticker: false,
        depth: true,
        klines: None,
    };
    let mut feed = MarketFeed::connect(&ep, SYMBOL, &rest, streams)
        .await
        .unwrap();
    m.advance(20);
    until_synced(&mut feed, &m).await;
    assert_book_matches_snapshot(&feed, &rest).await;

    m.skip_depth_updates(1);
    m.advance(40);
    let events = until_synced(&mut feed, &m).await;
    let resync = events
        .iter()
        .find_map(|e| match e {
            MarketEvent::Resync { reason } => Some(reason.clone()),
            _ => None,
        })
        .expect("a Resync event");
    assert!(resync.contains("depth gap"), "{resync}");
    assert_eq!(
        feed.counters()
            .resyncs
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_book_matches_snapshot(&feed, &rest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_market_stream_reconnects_and_data_continues() {
    let m = mock();
    let ep = endpoints(&m);
    let rest = BinanceRest::new(&ep, None).unwrap();
    let mut feed = MarketFeed::connect(&ep, SYMBOL, &rest, all_streams())
        .await
        .unwrap();
    m.advance(20);
    until_synced(&mut feed, &m).await;

    m.drop_market_streams();
    let attempt = loop {
        if let MarketEvent::Reconnected { attempt } = next(&mut feed).await {
            break attempt;
        }
    };
    assert!(attempt >= 1);
    assert_eq!(
        feed.counters()
            .reconnects
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert!(!feed.book_synced(), "the book is rebuilt after a reconnect");
    let mut quotes = 0;
    for _ in 0..100 {
        m.advance(20);
        let events = until_synced(&mut feed, &m).await;
        quotes += events
            .iter()
            .filter(|e| matches!(e, MarketEvent::Quote { .. }))
            .count();
        if quotes > 0 {
            break;
        }
    }
    assert!(quotes > 0, "no quote after the reconnect");
    assert_book_matches_snapshot(&feed, &rest).await;
}

fn limit_buy(id: &str, price: &str, qty: &str) -> NewOrder {
    NewOrder {
        symbol: SYMBOL.into(),
        side: Side::Buy,
        kind: OrderKind::Limit {
            price: Price::parse(price, 2).unwrap(),
            tif: TimeInForce::Gtc,
        },
        quantity: Quantity::parse(qty, 5).unwrap(),
        client_order_id: id.into(),
    }
}

/// Execution reports for `id`, skipping balance events.
async fn next_execution(
    user: &mut UserStream,
    id: &str,
) -> tradewind_bot::venue::binance::ExecutionReport {
    loop {
        if let UserEvent::Execution(r) = next_user(user).await
            && r.client_order_id == id
        {
            return r;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_order_round_trip_with_user_stream() {
    let m = mock();
    m.advance_until(SYMBOL, "quote");
    let ep = endpoints(&m);
    let rest = BinanceRest::new(&ep, Some(creds())).unwrap();
    let mut user = UserStream::connect(&ep, &rest).await.unwrap();

    // A resting limit order far below the market: open, then canceled.
    let ack = rest
        .new_order(&limit_buy("tw-rest-1", "1000.00", "0.01000"))
        .await
        .unwrap();
    assert_eq!(
        (ack.status.clone(), ack.client_order_id.as_str()),
        (OrderStatus::New, "tw-rest-1")
    );
    let open = rest.open_orders(SYMBOL).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].client_order_id, "tw-rest-1");
    assert_eq!(open[0].price, Price::parse("1000", 2).unwrap());
    assert_eq!(open[0].orig_qty, Quantity::parse("0.01", 5).unwrap());
    let r = next_execution(&mut user, "tw-rest-1").await;
    assert_eq!(
        (r.exec_type, r.status, r.order_id),
        (ExecType::New, OrderStatus::New, ack.order_id)
    );

    // The same client order id while it is open: duplicate.
    let dup = rest
        .new_order(&limit_buy("tw-rest-1", "1000.00", "0.01000"))
        .await
        .unwrap_err();
    assert!(
        matches!(dup, VenueError::DuplicateOrder { code: -2010, .. }),
        "{dup}"
    );
    assert_eq!(
        dup.to_string(),
        "POST /api/v3/order: duplicate client order id (-2010: Duplicate order sent.)"
    );

    let canceled = rest.cancel_order(SYMBOL, "tw-rest-1").await.unwrap();
    assert_eq!(
        (canceled.client_order_id.as_str(), canceled.status),
        ("tw-rest-1", OrderStatus::Canceled)
    );
    let r = next_execution(&mut user, "tw-rest-1").await;
    assert_eq!(
        (r.exec_type, r.status),
        (ExecType::Canceled, OrderStatus::Canceled)
    );
    assert!(rest.open_orders(SYMBOL).await.unwrap().is_empty());
    let again = rest.cancel_order(SYMBOL, "tw-rest-1").await.unwrap_err();
    assert!(matches!(again, VenueError::UnknownOrder { .. }), "{again}");
    assert_eq!(rest.order(SYMBOL, "tw-never-sent").await.unwrap(), None);
    let state = rest.order(SYMBOL, "tw-rest-1").await.unwrap().unwrap();
    assert_eq!(state.status, OrderStatus::Canceled);

    // A market buy fills at once: the ack, the user stream and myTrades agree.
    let before = rest.account().await.unwrap();
    let usdt_before = before.iter().find(|b| b.asset == "USDT").unwrap().free;
    let market = NewOrder {
        symbol: SYMBOL.into(),
        side: Side::Buy,
        kind: OrderKind::Market,
        quantity: Quantity::parse("0.001", 5).unwrap(),
        client_order_id: "tw-mkt-1".into(),
    };
    let ack = rest.new_order(&market).await.unwrap();
    assert_eq!(ack.status, OrderStatus::Filled);
    assert_eq!(ack.executed_qty, market.quantity);
    assert!(!ack.fills.is_empty());
    let mut filled = Quantity::ZERO;
    let mut fees = Money::ZERO;
    while filled < market.quantity {
        let r = next_execution(&mut user, "tw-mkt-1").await;
        if r.exec_type == ExecType::Trade {
            assert_eq!(r.side, Side::Buy);
            assert!(!r.maker);
            assert!(r.trade_id.is_some());
            filled = filled.checked_add(r.last_qty).unwrap();
            fees = fees.checked_add(r.commission).unwrap();
            assert_eq!(r.cum_qty, filled);
        }
    }
    let trades = rest.my_trades(SYMBOL, None, None).await.unwrap();
    let mine: Vec<_> = trades
        .iter()
        .filter(|t| t.order_id == ack.order_id)
        .collect();
    assert!(!mine.is_empty());
    let traded = mine
        .iter()
        .fold(Quantity::ZERO, |a, t| a.checked_add(t.qty).unwrap());
    assert_eq!(traded, market.quantity);
    let quote = mine
        .iter()
        .fold(Money::ZERO, |a, t| a.checked_add(t.quote_qty).unwrap());
    assert_eq!(quote, ack.cum_quote_qty);
    assert!(mine.iter().all(|t| t.side() == Side::Buy && !t.is_maker));
    let commission = mine
        .iter()
        .fold(Money::ZERO, |a, t| a.checked_add(t.commission).unwrap());
    assert_eq!(commission, fees);
    let from = mine[0].id;
    assert!(
        rest.my_trades(SYMBOL, Some(from), None)
            .await
            .unwrap()
            .iter()
            .all(|t| t.id >= from)
    );
    let after = rest.account().await.unwrap();
    let usdt_after = after.iter().find(|b| b.asset == "USDT").unwrap().free;
    assert_eq!(
        usdt_before.checked_sub(usdt_after).unwrap(),
        ack.cum_quote_qty
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_user_stream_reconnects() {
    let m = mock();
    m.advance_until(SYMBOL, "quote");
    let ep = endpoints(&m);
    let rest = BinanceRest::new(&ep, Some(creds())).unwrap();
    let mut user = UserStream::connect(&ep, &rest).await.unwrap();
    // An event through the stream proves the server side of the connection is live.
    rest.new_order(&limit_buy("tw-before-drop", "1000.00", "0.01000"))
        .await
        .unwrap();
    assert_eq!(
        next_execution(&mut user, "tw-before-drop").await.exec_type,
        ExecType::New
    );
    m.drop_user_streams();
    // Events queued before the drop (the order's balance update) may come first.
    let attempt = loop {
        if let UserEvent::Reconnected { attempt } = next_user(&mut user).await {
            break attempt;
        }
    };
    assert!(attempt >= 1);
    assert_eq!(user.reconnects(), 1);
    // Events flow on the new connection.
    rest.new_order(&limit_buy("tw-after-drop", "1000.00", "0.01000"))
        .await
        .unwrap();
    let r = next_execution(&mut user, "tw-after-drop").await;
    assert_eq!(r.exec_type, ExecType::New);
    user.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_and_a_long_ban_is_reported() {
    let m = mock();
    let ep = endpoints(&m);
    let rest = BinanceRest::new(&ep, None).unwrap();
    m.throttle_next(1, 1);
    let rules = rest.exchange_info(SYMBOL).await.unwrap();
    assert_eq!(rules.symbol, SYMBOL);
    let statuses: Vec<u16> = m
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v3/exchangeInfo")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [429, 200]);

    let impatient = BinanceRest::with_options(
        &ep,
        None,
        RestOptions {
            max_rate_limit_wait: Duration::from_secs(5),
            ..RestOptions::default()
        },
    )
    .unwrap();
    m.throttle_next(1, 120);
    let e = impatient.exchange_info(SYMBOL).await.unwrap_err();
    match &e {
        VenueError::RateLimited {
            status: 429,
            retry_after: Some(d),
            code: Some(-1003),
            ..
        } => {
            assert_eq!(*d, Duration::from_secs(120));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.is_transient());
    // The gate holds: the next call fails fast instead of hammering the server.
    let before = m.requests().len();
    assert!(matches!(
        impatient.exchange_info(SYMBOL).await,
        Err(VenueError::RateLimited { .. })
    ));
    assert_eq!(m.requests().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_skew_is_resynced_once() {
    let m = mock();
    let ep = endpoints(&m);
    let rest = BinanceRest::new(&ep, Some(creds())).unwrap();
    rest.account().await.unwrap();
    m.set_time_offset_ms(120_000);
    let balances = rest.account().await.unwrap();
    assert!(balances.iter().any(|b| b.asset == "USDT"));
    assert!(
        (rest.time_offset_ms() - 120_000).abs() < 5_000,
        "offset {}",
        rest.time_offset_ms()
    );
    let codes: Vec<u16> = m
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v3/account")
        .map(|r| r.status)
        .collect();
    assert_eq!(codes, [200, 400, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_clear_errors_without_the_secret() {
    let m = mock();
    let ep = endpoints(&m);
    let secret = "my-very-secret-value-0123456789";

    let wrong_key =
        BinanceRest::new(&ep, Some(Credentials::new("unknown-key-abcdef", secret))).unwrap();
    let e = wrong_key.account().await.unwrap_err();
    assert!(matches!(e, VenueError::Auth { .. }), "{e:?}");
    let text = format!("{e} / {e:?}");
    assert!(
        text.contains("GET /api/v3/account") && text.contains("unkn…"),
        "{text}"
    );
    assert!(
        !text.contains(secret) && !text.contains("unknown-key-abcdef"),
        "{text}"
    );

    let wrong_secret =
        BinanceRest::new(&ep, Some(Credentials::new(DEFAULT_API_KEY, secret))).unwrap();
    let e = wrong_secret.account().await.unwrap_err();
    assert!(matches!(e, VenueError::Auth { code: -1022, .. }), "{e:?}");
    let text = format!("{e} / {e:?}");
    assert!(!text.contains(secret), "{text}");
    // No signature (64 hex digits) either.
    let hex_run = text
        .split(|c: char| !c.is_ascii_hexdigit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(hex_run < 64, "{text}");

    let e = UserStream::connect(&ep, &wrong_key).await.unwrap_err();
    assert!(e.to_string().contains("authentication failed"), "{e}");
    let none = BinanceRest::new(&ep, None).unwrap();
    assert!(matches!(
        none.account().await,
        Err(VenueError::MissingCredentials { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_outcome_unknown() {
    let m = mock();
    m.advance_until(SYMBOL, "quote");
    let ep = endpoints(&m);
    let rest = BinanceRest::new(&ep, Some(creds())).unwrap();
    rest.rules(SYMBOL).await.unwrap();
    rest.sync_time().await.unwrap();
    m.hang_next_order();
    let e = rest
        .new_order(&limit_buy("tw-hang-1", "1000.00", "0.01000"))
        .await
        .unwrap_err();
    assert!(e.outcome_unknown(), "{e:?}");
    // The order was booked: looking it up by client order id finds it.
    let found = rest
        .order(SYMBOL, "tw-hang-1")
        .await
        .unwrap()
        .expect("booked");
    assert_eq!(found.status, OrderStatus::New);

    m.fail_next_rest(503, -1001, 1);
    let e = rest.open_orders(SYMBOL).await.unwrap_err();
    assert!(e.to_string().contains("GET /api/v3/openOrders"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_market_stream_is_reconnected() {
    // The replay is paused: nothing but the mock's pings (every 20 s) would arrive.
    let m = mock();
    let ep = endpoints(&m);
    let rest = BinanceRest::new(&ep, None).unwrap();
    let options = FeedOptions {
        stale_after: Duration::from_millis(300),
        ..FeedOptions::default()
    };
    let mut feed = MarketFeed::connect_with(&ep, SYMBOL, &rest, all_streams(), options)
        .await
        .unwrap();
    let ev = next(&mut feed).await;
    assert!(matches!(ev, MarketEvent::Reconnected { .. }), "{ev:?}");
    assert_eq!(
        feed.counters()
            .reconnects
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // And it still works afterwards.
    m.advance(20);
    until_synced(&mut feed, &m).await;
    assert_book_matches_snapshot(&feed, &rest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_the_trades_is_read_and_the_ticker_is_checked() {
    let m = mock();
    let ep = endpoints(&m);
    // One trade per page, so three trades take three pages (and a last, empty one).
    let rest = BinanceRest::with_options(
        &ep,
        Some(creds()),
        RestOptions {
            trades_page: 1,
            ..RestOptions::default()
        },
    )
    .unwrap();
    for i in 0..3 {
        let order = NewOrder {
            symbol: SYMBOL.into(),
            side: Side::Buy,
            kind: OrderKind::Market,
            quantity: "0.00100".parse().unwrap(),
            client_order_id: format!("tw-page-{i}"),
        };
        rest.new_order(&order).await.unwrap();
    }
    let first = rest.my_trades(SYMBOL, None, None).await.unwrap();
    assert!(first.len() >= 3, "{first:?}");
    let pages_before = m
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v3/myTrades")
        .count();
    let all = rest.all_my_trades(SYMBOL, first[0].id, None).await.unwrap();
    let pages = m
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v3/myTrades")
        .count()
        - pages_before;
    assert_eq!(all, first);
    assert_eq!(pages, first.len() + 1);
    // Only this order's trades, by its ID.
    let one = rest
        .all_my_trades(SYMBOL, 0, Some(first[0].order_id))
        .await
        .unwrap();
    assert!(!one.is_empty() && one.iter().all(|t| t.order_id == first[0].order_id));
    // The ticker: a positive price, or an error naming the endpoint.
    assert!(rest.ticker_price(SYMBOL).await.unwrap().is_positive());
    let e = rest.ticker_price("BNBUSDT").await.unwrap_err();
    assert!(e.to_string().contains("/api/v3/ticker/price"), "{e}");
}
