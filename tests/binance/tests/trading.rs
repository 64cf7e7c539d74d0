//! Signed REST, orders, balances, the user data stream and fault injection, through
//! reqwest and a raw WebSocket client.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use tradewind_binance_mock::{
    Account, DEFAULT_API_KEY, Dec, MockConfig, OrderStatus, OrderType, TestServer,
};

fn dec(v: &Value) -> Dec {
    v.as_str()
        .expect("decimal string")
        .parse()
        .expect("decimal")
}

#[tokio::test]
async fn documented_signed_request_is_accepted_and_a_bad_signature_is_refused() {
    let doc = fixture("signed-examples.json");
    for ex in doc["examples"].as_array().unwrap() {
        let total = format!(
            "{}{}",
            ex["queryString"].as_str().unwrap(),
            ex["requestBody"].as_str().unwrap()
        );
        assert_eq!(
            tradewind_binance_mock::sign(doc["secretKey"].as_str().unwrap(), &total),
            ex["signature"]
        );
    }
    let key = doc["apiKey"].as_str().unwrap();
    let config = MockConfig {
        accounts: vec![Account::new(key, doc["secretKey"].as_str().unwrap())],
        ..MockConfig::default()
    };
    let mock = TestServer::start_with(config).unwrap();
    // Put the server clock at the documented timestamp so recvWindow accepts it.
    mock.set_time_offset_ms(1_499_827_319_559 + 100 - now_ms());
    common::install_crypto_provider();
    let http = reqwest::Client::new();
    // Example 3: mixed query string and body, byte for byte.
    let ex = &doc["examples"][2];
    let send = |sig: String| {
        http.post(format!(
            "{}/api/v3/order?{}",
            mock.rest_base(),
            ex["queryString"].as_str().unwrap()
        ))
        .header("X-MBX-APIKEY", key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "{}&signature={sig}",
            ex["requestBody"].as_str().unwrap()
        ))
        .send()
    };
    let ok = send(ex["signature"].as_str().unwrap().to_owned())
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 400);
    // Authenticated; LTCBTC is simply not a replayed market.
    assert_eq!(
        ok.json::<Value>().await.unwrap(),
        json!({"code": -1121, "msg": "Invalid symbol."})
    );
    let bad = send("0".repeat(64)).await.unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    assert_eq!(
        bad.json::<Value>().await.unwrap(),
        json!({"code": -1022, "msg": "Signature for this request is not valid."})
    );
    // The request log never holds parameters or signatures.
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.path == "/api/v3/order" && !r.path.contains("signature"))
    );
}

#[tokio::test]
async fn api_key_and_timestamp_errors() {
    let mock = start_paused();
    let mut rest = Rest::new(&mock);
    let ok = rest.signed(Method::GET, "/api/v3/account", &[]).await;
    assert_eq!(ok.status, 200);
    assert_shape(&fixture("rest-account.json"), &ok.body, &[], &[], "account");
    let missing = rest.public("/api/v3/account", &[("timestamp", "1")]).await;
    assert_eq!(
        (missing.status, missing.body["code"].clone()),
        (401, json!(-2014))
    );
    mock.set_time_offset_ms(-10 * 60_000);
    let ahead = rest.signed(Method::GET, "/api/v3/account", &[]).await;
    assert_eq!(
        (ahead.status, ahead.body["code"].clone()),
        (400, json!(-1021))
    );
    mock.set_time_offset_ms(10 * 60_000);
    let late = rest
        .signed(Method::GET, "/api/v3/account", &[("recvWindow", "5000")])
        .await;
    assert_eq!(
        (late.status, late.body["code"].clone()),
        (400, json!(-1021))
    );
    mock.set_time_offset_ms(0);
    rest.key = "unknown-key".into();
    let unknown = rest.signed(Method::GET, "/api/v3/account", &[]).await;
    assert_eq!(
        (unknown.status, unknown.body["code"].clone()),
        (401, json!(-2015))
    );
}

#[tokio::test]
async fn limit_order_lifecycle_fills_from_the_replay() {
    let mock = start_paused();
    let rest = Rest::new(&mock);
    let lk = rest
        .keyed(Method::POST, "/api/v3/userDataStream", &[])
        .await;
    assert_shape(
        &fixture("user-listenKey.json"),
        &lk.body,
        &[],
        &[],
        "listenKey",
    );
    let listen_key = lk.body["listenKey"].as_str().unwrap().to_owned();
    let mut user = ws_connect(&mock, &format!("/ws/{listen_key}")).await;

    let ((bid, _), _) = mock.best_bid_ask("BTCUSDT").unwrap();
    let price = bid.to_string();
    let qty: Dec = "0.0002".parse().unwrap();
    let placed = rest
        .signed(
            Method::POST,
            "/api/v3/order",
            &[
                ("symbol", "BTCUSDT"),
                ("side", "BUY"),
                ("type", "LIMIT"),
                ("timeInForce", "GTC"),
                ("quantity", "0.0002"),
                ("price", &price),
                ("newClientOrderId", "bot-a-1"),
            ],
        )
        .await;
    assert_eq!(placed.status, 200, "{:?}", placed.body);
    assert_shape(
        &fixture("rest-order-full.json"),
        &placed.body,
        &[],
        &[],
        "order FULL",
    );
    assert_eq!(placed.body["status"], "NEW");
    assert_eq!(placed.body["clientOrderId"], "bot-a-1");

    let new = next_json(&mut user).await.unwrap();
    assert_shape(
        &fixture("user-executionReport.json"),
        &new,
        &["d", "D", "j", "J"],
        &["N"],
        "executionReport NEW",
    );
    assert_eq!(
        (new["x"].clone(), new["X"].clone(), new["c"].clone()),
        (json!("NEW"), json!("NEW"), json!("bot-a-1"))
    );
    let pos = next_json(&mut user).await.unwrap();
    assert_shape(
        &fixture("user-outboundAccountPosition.json"),
        &pos,
        &[],
        &[],
        "outboundAccountPosition",
    );
    let bal = mock.balances(DEFAULT_API_KEY).unwrap();
    assert_eq!(bal["USDT"].locked, bid.times(qty));

    let open = rest
        .signed(Method::GET, "/api/v3/openOrders", &[("symbol", "BTCUSDT")])
        .await;
    assert_shape(
        &fixture("rest-open-orders.json"),
        &open.body,
        &[],
        &[],
        "openOrders",
    );
    assert_eq!(open.body.as_array().unwrap().len(), 1);
    let dup = rest
        .signed(
            Method::POST,
            "/api/v3/order",
            &[
                ("symbol", "BTCUSDT"),
                ("side", "BUY"),
                ("type", "LIMIT"),
                ("timeInForce", "GTC"),
                ("quantity", "0.0002"),
                ("price", &price),
                ("newClientOrderId", "bot-a-1"),
            ],
        )
        .await;
    assert_eq!(
        (dup.status, dup.body.clone()),
        (400, json!({"code": -2010, "msg": "Duplicate order sent."}))
    );

    // Replay until the order fills.
    let mut fills = Vec::new();
    while fills.iter().all(|f: &Value| f["X"] != "FILLED") {
        assert!(
            mock.advance(50) > 0,
            "the replay ended before the order filled"
        );
        // Drain the reports produced so far (the query below orders us after them).
        let q = rest
            .signed(
                Method::GET,
                "/api/v3/order",
                &[("symbol", "BTCUSDT"), ("origClientOrderId", "bot-a-1")],
            )
            .await;
        assert_shape(
            &fixture("rest-query-order.json"),
            &q.body,
            &[],
            &[],
            "query order",
        );
        if q.body["executedQty"] != "0.00000000" {
            while fills
                .last()
                .is_none_or(|f: &Value| f["z"] != q.body["executedQty"])
            {
                let v = next_json(&mut user).await.unwrap();
                if v["e"] == "executionReport" {
                    assert_eq!(v["x"], "TRADE");
                    // `W` (working time) only while the order is on the book.
                    let skip: &[&str] = if v["X"] == "FILLED" {
                        &["d", "D", "j", "J", "W"]
                    } else {
                        &["d", "D", "j", "J"]
                    };
                    assert_shape(
                        &fixture("user-executionReport.json"),
                        &v,
                        skip,
                        &["N"],
                        "TRADE",
                    );
                    fills.push(v);
                }
            }
        }
    }
    let z: Dec = fills.iter().map(|f| dec(&f["l"])).sum();
    assert_eq!(z, qty);
    assert_eq!(dec(&fills.last().unwrap()["z"]), qty);
    let commission: Dec = fills.iter().map(|f| dec(&f["n"])).sum();
    assert_eq!(commission, qty.times("0.001".parse().unwrap()));
    assert!(
        fills
            .iter()
            .all(|f| f["N"] == "BTC" && f["m"] == true && f["L"] == json!(bid.to_string()))
    );

    let bal = mock.balances(DEFAULT_API_KEY).unwrap();
    assert_eq!(bal["USDT"].locked, Dec::ZERO);
    assert_eq!(bal["USDT"].free, Dec::from_int(10_000) - bid.times(qty));
    assert_eq!(bal["BTC"].free, Dec::from_int(1) + qty - commission);
    let trades = rest
        .signed(
            Method::GET,
            "/api/v3/myTrades",
            &[("symbol", "BTCUSDT"), ("fromId", "0")],
        )
        .await;
    assert_shape(
        &fixture("rest-my-trades.json"),
        &trades.body,
        &[],
        &[],
        "myTrades",
    );
    assert_eq!(trades.body.as_array().unwrap().len(), fills.len());
    let empty = rest
        .signed(Method::GET, "/api/v3/openOrders", &[("symbol", "BTCUSDT")])
        .await;
    assert_eq!(empty.body, json!([]));
    // The client order id is free again once the order is done.
    assert_eq!(mock.order_count(), 1);
    assert_eq!(mock.orders()[0].client_order_id, "bot-a-1");
}

#[tokio::test]
async fn market_orders_cancels_and_rejections() {
    let mock = start_paused();
    let rest = Rest::new(&mock);
    let (_, (ask, _)) = mock.best_bid_ask("BTCUSDT").unwrap();
    let order = |params: Vec<(&'static str, String)>| {
        let rest = &rest;
        async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            rest.signed(Method::POST, "/api/v3/order", &p).await
        }
    };
    let s = |v: &str| v.to_owned();
    let m = order(vec![
        ("symbol", s("BTCUSDT")),
        ("side", s("BUY")),
        ("type", s("MARKET")),
        ("quantity", s("0.001")),
        ("newOrderRespType", s("RESULT")),
    ])
    .await;
    assert_shape(
        &fixture("rest-order-result.json"),
        &m.body,
        &[],
        &[],
        "order RESULT",
    );
    assert_eq!(m.body["status"], "FILLED");
    assert!(dec(&m.body["cummulativeQuoteQty"]) >= ask.times("0.001".parse().unwrap()));
    let poor = order(vec![
        ("symbol", s("BTCUSDT")),
        ("side", s("BUY")),
        ("type", s("MARKET")),
        ("quantity", s("1")),
    ])
    .await;
    assert_eq!(
        (poor.status, poor.body.clone()),
        (
            400,
            json!({"code": -2010, "msg": "Account has insufficient balance for requested action."})
        )
    );
    let tick = order(vec![
        ("symbol", s("BTCUSDT")),
        ("side", s("BUY")),
        ("type", s("LIMIT")),
        ("timeInForce", s("GTC")),
        ("quantity", s("0.001")),
        ("price", s("1000.001")),
    ])
    .await;
    assert_eq!(
        (
            tick.status,
            tick.body["code"].clone(),
            tick.body["msg"].clone()
        ),
        (400, json!(-1013), json!("Filter failure: PRICE_FILTER"))
    );
    let small = order(vec![
        ("symbol", s("BTCUSDT")),
        ("side", s("BUY")),
        ("type", s("LIMIT")),
        ("timeInForce", s("GTC")),
        ("quantity", s("0.00001")),
        ("price", s("1000")),
    ])
    .await;
    assert_eq!(small.body["msg"], "Filter failure: NOTIONAL");
    let maker = order(vec![
        ("symbol", s("BTCUSDT")),
        ("side", s("BUY")),
        ("type", s("LIMIT_MAKER")),
        ("quantity", s("0.001")),
        ("price", ask.to_string()),
    ])
    .await;
    assert_eq!(maker.body["code"], -2010);
    let ack = order(vec![
        ("symbol", s("BTCUSDT")),
        ("side", s("SELL")),
        ("type", s("LIMIT")),
        ("timeInForce", s("GTC")),
        ("quantity", s("0.001")),
        ("price", s("200000")),
        ("newClientOrderId", s("far-1")),
        ("newOrderRespType", s("ACK")),
    ])
    .await;
    assert_shape(
        &fixture("rest-order-ack.json"),
        &ack.body,
        &[],
        &[],
        "order ACK",
    );
    assert_eq!(
        mock.balances(DEFAULT_API_KEY).unwrap()["BTC"].locked,
        "0.001".parse().unwrap()
    );

    let cancel = rest
        .signed(
            Method::DELETE,
            "/api/v3/order",
            &[("symbol", "BTCUSDT"), ("origClientOrderId", "far-1")],
        )
        .await;
    assert_shape(
        &fixture("rest-cancel-order.json"),
        &cancel.body,
        &[],
        &[],
        "cancel",
    );
    assert_eq!(
        (
            cancel.body["status"].clone(),
            cancel.body["origClientOrderId"].clone()
        ),
        (json!("CANCELED"), json!("far-1"))
    );
    assert_eq!(
        mock.balances(DEFAULT_API_KEY).unwrap()["BTC"].locked,
        Dec::ZERO
    );
    let unknown = rest
        .signed(
            Method::DELETE,
            "/api/v3/order",
            &[("symbol", "BTCUSDT"), ("origClientOrderId", "far-1")],
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.body.clone()),
        (400, json!({"code": -2011, "msg": "Unknown order sent."}))
    );
    let missing = rest
        .signed(
            Method::GET,
            "/api/v3/order",
            &[("symbol", "BTCUSDT"), ("origClientOrderId", "nope")],
        )
        .await;
    assert_eq!(
        (missing.status, missing.body.clone()),
        (400, json!({"code": -2013, "msg": "Order does not exist."}))
    );

    for i in 0..2 {
        let cid = format!("far-{}", i + 2);
        order(vec![
            ("symbol", s("BTCUSDT")),
            ("side", s("SELL")),
            ("type", s("LIMIT")),
            ("timeInForce", s("GTC")),
            ("quantity", s("0.001")),
            ("price", s("200000")),
            ("newClientOrderId", cid),
        ])
        .await;
    }
    let all = rest
        .signed(
            Method::DELETE,
            "/api/v3/openOrders",
            &[("symbol", "BTCUSDT")],
        )
        .await;
    assert_shape(
        &fixture("rest-cancel-open-orders.json"),
        &all.body,
        &[],
        &[],
        "cancel all",
    );
    assert_eq!(all.body.as_array().unwrap().len(), 2);
    // IOC far from the market expires, FOK too large expires without fills.
    let ioc = order(vec![
        ("symbol", s("BTCUSDT")),
        ("side", s("BUY")),
        ("type", s("LIMIT")),
        ("timeInForce", s("IOC")),
        ("quantity", s("0.001")),
        ("price", s("80000")),
    ])
    .await;
    assert_eq!(ioc.body["status"], "EXPIRED");
    mock.reject_next_order(-2010, "Order rejected by the mock.");
    let rej = order(vec![
        ("symbol", s("BTCUSDT")),
        ("side", s("BUY")),
        ("type", s("MARKET")),
        ("quantity", s("0.001")),
    ])
    .await;
    assert_eq!(
        rej.body,
        json!({"code": -2010, "msg": "Order rejected by the mock."})
    );
    let ids: Vec<String> = mock
        .orders()
        .iter()
        .map(|o| o.client_order_id.clone())
        .collect();
    assert_eq!(ids.len(), 5, "rejected orders are not booked: {ids:?}");
    assert_eq!(&ids[1..4], ["far-1", "far-2", "far-3"]);
}

#[tokio::test]
async fn faults_throttle_ban_hang_and_dropped_streams() {
    let mock = start_paused();
    let rest = Rest::new(&mock);
    mock.throttle_next(2, 7);
    for _ in 0..2 {
        let r = rest.public("/api/v3/ping", &[]).await;
        assert_eq!(
            (r.status, r.retry_after.as_deref(), r.body["code"].clone()),
            (429, Some("7"), json!(-1003))
        );
    }
    assert_eq!(rest.public("/api/v3/ping", &[]).await.status, 200);
    mock.fail_next_rest(418, -1003, 1);
    let ban = rest.public("/api/v3/time", &[]).await;
    assert_eq!((ban.status, ban.retry_after.is_some()), (418, true));
    mock.fail_next_rest(503, -1001, 1);
    assert_eq!(rest.public("/api/v3/time", &[]).await.status, 503);

    // The order is booked but its response never arrives.
    mock.hang_next_order();
    let lost = rest
        .try_signed(
            Method::POST,
            "/api/v3/order",
            &[
                ("symbol", "ETHUSDT"),
                ("side", "BUY"),
                ("type", "LIMIT"),
                ("timeInForce", "GTC"),
                ("quantity", "0.01"),
                ("price", "1000"),
                ("newClientOrderId", "bot-b-7"),
            ],
        )
        .await;
    assert!(lost.is_err(), "no response: {lost:?}");
    assert_eq!(
        mock.orders().last().map(|o| o.client_order_id.as_str()),
        Some("bot-b-7")
    );
    let q = rest
        .signed(
            Method::GET,
            "/api/v3/order",
            &[("symbol", "ETHUSDT"), ("origClientOrderId", "bot-b-7")],
        )
        .await;
    assert_eq!(q.body["status"], "NEW");

    // Dropped streams end for the client; new connections work.
    let mut market = ws_connect(&mock, "/ws/ethusdt@trade").await;
    let lk = rest
        .keyed(Method::POST, "/api/v3/userDataStream", &[])
        .await
        .body["listenKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut user = ws_connect(&mock, &format!("/stream?streams={lk}")).await;
    assert_eq!((mock.market_connections(), mock.user_connections()), (1, 1));
    mock.drop_market_streams();
    assert!(next_json(&mut market).await.is_none());
    let mut market = ws_connect(&mock, "/ws/ethusdt@trade").await;
    mock.advance_until("ETHUSDT", "trade");
    assert_eq!(next_json(&mut market).await.unwrap()["e"], "trade");
    mock.drop_user_streams();
    assert!(next_json(&mut user).await.is_none());
    // Keep-alive and close of the listenKey.
    assert_eq!(
        rest.keyed(Method::PUT, "/api/v3/userDataStream", &[("listenKey", &lk)])
            .await
            .body,
        json!({})
    );
    assert_eq!(
        rest.keyed(
            Method::DELETE,
            "/api/v3/userDataStream",
            &[("listenKey", &lk)]
        )
        .await
        .body,
        json!({})
    );
    let gone = rest
        .keyed(Method::PUT, "/api/v3/userDataStream", &[("listenKey", &lk)])
        .await;
    assert_eq!(gone.body["code"], -1125);
    let log = mock.requests();
    assert!(
        log.iter()
            .any(|r| r.method == "POST" && r.path == "/api/v3/order")
    );
    assert!(log.iter().any(|r| r.status == 101));
}

#[tokio::test]
async fn commissions_paid_in_bnb_and_the_ticker_price() {
    let dir = common::crate_dir().join("../../examples/data");
    let mut config = MockConfig {
        start_paused: true,
        accounts: vec![
            Account::default()
                .with_balance("BNB", "10")
                .paying_fees_in("BNB"),
        ],
        ..MockConfig::with_examples(dir)
    };
    config
        .tickers
        .insert("BNBUSDT".into(), "500".parse().unwrap());
    let mock = TestServer::start_with(config).unwrap();
    let rest = Rest::new(&mock);
    let bnb = rest
        .public("/api/v3/ticker/price", &[("symbol", "BNBUSDT")])
        .await;
    assert_eq!(
        bnb.body,
        json!({"symbol": "BNBUSDT", "price": "500.00000000"})
    );
    let unknown = rest
        .public("/api/v3/ticker/price", &[("symbol", "XYZUSDT")])
        .await;
    assert_eq!(
        (unknown.status, unknown.body["code"].clone()),
        (400, json!(-1121))
    );
    // A replayed market's ticker is its book until it trades.
    let btc = rest
        .public("/api/v3/ticker/price", &[("symbol", "BTCUSDT")])
        .await;
    let (bid, _) = mock.best_bid_ask("BTCUSDT").unwrap();
    assert_eq!(dec(&btc.body["price"]), bid.0);
    let buy = rest
        .signed(
            Method::POST,
            "/api/v3/order",
            &[
                ("symbol", "BTCUSDT"),
                ("side", "BUY"),
                ("type", "MARKET"),
                ("quantity", "0.01"),
                ("newOrderRespType", "FULL"),
            ],
        )
        .await;
    assert_eq!(buy.status, 200, "{}", buy.body);
    let fill = &buy.body["fills"][0];
    assert_eq!(fill["commissionAsset"], "BNB");
    // 0.1 % of the quote spent, in BNB at 500.
    let quote = dec(&fill["price"]).times("0.01".parse().unwrap());
    let expected = quote
        .times("0.001".parse().unwrap())
        .over("500".parse().unwrap());
    assert_eq!(dec(&fill["commission"]), expected);
    let balances = mock.balances(DEFAULT_API_KEY).unwrap();
    // The whole quantity arrives; the commission leaves the BNB balance.
    assert_eq!(balances["BTC"].free, "1.01".parse().unwrap());
    assert_eq!(
        balances["BNB"].free,
        "10".parse::<Dec>().unwrap() - expected
    );
}

#[tokio::test]
async fn stop_orders_wait_for_their_trigger_then_trade() {
    // The replayed trades, in order: the first sets the last price; the first later one
    // below it (above it) triggers a sell (buy) stop placed there.
    let text = std::fs::read_to_string(
        common::crate_dir().join("../../examples/data/binance_spot_btcusdt_l1_trades.jsonl"),
    )
    .unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let trades: Vec<(usize, Dec)> = lines
        .iter()
        .enumerate()
        .filter(|(_, v)| v["type"] == "trade")
        .map(|(i, v)| (i, dec(&v["price"])))
        .collect();
    let (first_at, first) = trades[0];
    let (down_at, down) = *trades.iter().find(|(_, p)| *p < first).unwrap();
    let mock = TestServer::start_with(MockConfig {
        start_paused: true,
        ..MockConfig::default()
            .with_data(
                common::crate_dir()
                    .join("../../examples/data/binance_spot_btcusdt_l1_trades.jsonl"),
            )
            .unwrap()
    })
    .unwrap();
    mock.advance(first_at + 1);
    let rest = Rest::new(&mock);
    let stop = |side: &'static str,
                kind: &'static str,
                stop: String,
                extra: Vec<(&'static str, String)>| {
        let rest = &rest;
        async move {
            let mut p: Vec<(&str, String)> = vec![
                ("symbol", "BTCUSDT".into()),
                ("side", side.into()),
                ("type", kind.into()),
                ("quantity", "0.01".into()),
                ("stopPrice", stop),
            ];
            p.extend(extra);
            let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
            rest.signed(Method::POST, "/api/v3/order", &p).await
        }
    };
    // At or through the last price it would trigger at once: refused, as Binance does.
    let now = stop("SELL", "STOP_LOSS", first.to_string(), vec![]).await;
    assert_eq!(
        (now.status, now.body["msg"].clone()),
        (400, json!("Stop price would trigger immediately."))
    );
    let placed = stop("SELL", "STOP_LOSS", down.to_string(), vec![]).await;
    assert_eq!(placed.status, 200, "{}", placed.body);
    let order = &mock.orders()[0];
    assert_eq!(
        (
            order.order_type,
            order.status,
            order.working,
            order.stop_price
        ),
        (OrderType::StopLoss, OrderStatus::New, false, down)
    );
    assert_eq!(
        mock.balances(DEFAULT_API_KEY).unwrap()["BTC"].locked,
        "0.01".parse().unwrap()
    );
    let query = rest
        .signed(
            Method::GET,
            "/api/v3/order",
            &[
                ("symbol", "BTCUSDT"),
                ("orderId", &order.order_id.to_string()),
            ],
        )
        .await;
    assert_eq!(
        (query.body["type"].clone(), query.body["isWorking"].clone()),
        (json!("STOP_LOSS"), json!(false))
    );
    assert_eq!(dec(&query.body["stopPrice"]), down);
    // Up to the trade before the trigger nothing happens; the trigger sells at the bids.
    mock.advance(down_at - first_at - 1);
    assert_eq!(mock.orders()[0].status, OrderStatus::New);
    mock.advance(1);
    let order = &mock.orders()[0];
    assert!(order.working);
    assert_eq!(order.status, OrderStatus::Filled, "{order:?}");
    let b = &mock.balances(DEFAULT_API_KEY).unwrap()["BTC"];
    assert_eq!((b.free, b.locked), ("0.99".parse().unwrap(), Dec::ZERO));

    // A buy stop-limit above the market, GTC: waits, then trades up to its limit.
    let last = trades
        .iter()
        .find(|(i, _)| *i <= down_at)
        .map(|t| t.1)
        .unwrap();
    let (up_at, up) = *trades
        .iter()
        .find(|(i, p)| *i > down_at && *p > down.max(last))
        .unwrap();
    let limit = up + "100".parse::<Dec>().unwrap();
    let placed = stop(
        "BUY",
        "STOP_LOSS_LIMIT",
        up.to_string(),
        vec![("price", limit.to_string()), ("timeInForce", "GTC".into())],
    )
    .await;
    assert_eq!(placed.status, 200, "{}", placed.body);
    mock.advance(up_at - down_at);
    let order = &mock.orders()[1];
    assert!(order.working, "{order:?}");
    assert!(order.executed_qty > Dec::ZERO, "{order:?}");
}
