//! Market data through raw HTTP and WebSocket clients: documented shapes, the local
//! order book procedure with gap detection, subscriptions, ping/pong and klines.

mod common;

use std::collections::BTreeMap;

use common::*;
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tradewind_binance_mock::{Dec, MarketData, MockConfig, TestServer};

fn dec(v: &Value) -> Dec {
    v.as_str()
        .expect("decimal string")
        .parse()
        .expect("decimal")
}

#[tokio::test]
async fn market_streams_have_the_documented_shapes() {
    let mock = start_paused();
    let mut ws = ws_connect(
        &mock,
        "/stream?streams=btcusdt@trade/btcusdt@bookTicker/btcusdt@depth@100ms/btcusdt@kline_1s",
    )
    .await;
    assert!(mock.advance(400) > 0);
    let mut seen = BTreeMap::new();
    while seen.len() < 4 {
        let v = next_json(&mut ws).await.expect("message");
        let stream = v["stream"].as_str().expect("combined wrapper").to_owned();
        assert_eq!(v.as_object().map(|o| o.len()), Some(2), "wrapper keys: {v}");
        seen.entry(stream).or_insert(v["data"].clone());
    }
    assert_shape(
        &fixture("ws-trade.json"),
        &seen["btcusdt@trade"],
        &["b", "a"],
        &[],
        "trade",
    );
    assert_shape(
        &fixture("ws-bookTicker.json"),
        &seen["btcusdt@bookTicker"],
        &[],
        &[],
        "bookTicker",
    );
    assert_shape(
        &fixture("ws-depthUpdate.json"),
        &seen["btcusdt@depth@100ms"],
        &[],
        &[],
        "depth",
    );
    assert_shape(
        &fixture("ws-kline.json"),
        &seen["btcusdt@kline_1s"],
        &[],
        &[],
        "kline",
    );
    assert_eq!(seen["btcusdt@trade"]["s"], "BTCUSDT");
    assert_eq!(seen["btcusdt@depth@100ms"]["e"], "depthUpdate");
    // Replayed times: the sample was recorded on 2025-03-25.
    let t = seen["btcusdt@trade"]["T"].as_i64().unwrap();
    assert!((1_742_944_000_000..1_742_945_000_000).contains(&t), "{t}");
}

#[tokio::test]
async fn rest_public_endpoints_have_the_documented_shapes() {
    let mock = start_paused();
    let rest = Rest::new(&mock);
    let ping = rest.public("/api/v3/ping", &[]).await;
    assert_eq!(
        (ping.status, ping.body.clone()),
        (200, fixture("rest-ping.json"))
    );
    let time = rest.public("/api/v3/time", &[]).await;
    assert_shape(&fixture("rest-time.json"), &time.body, &[], &[], "time");
    let depth = rest
        .public("/api/v3/depth", &[("symbol", "BTCUSDT"), ("limit", "5")])
        .await;
    assert_shape(&fixture("rest-depth.json"), &depth.body, &[], &[], "depth");
    assert_eq!(depth.body["bids"].as_array().unwrap().len(), 5);
    let bad = rest.public("/api/v3/depth", &[("symbol", "NOPE")]).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body, fixture("rest-error.json"));

    let info = rest
        .public("/api/v3/exchangeInfo", &[("symbol", "BTCUSDT")])
        .await;
    let sym = &info.body["symbols"][0];
    assert_eq!(sym["symbol"], "BTCUSDT");
    assert_eq!(
        (sym["baseAsset"].clone(), sym["quoteAsset"].clone()),
        (json!("BTC"), json!("USDT"))
    );
    let filter = |t: &str| {
        sym["filters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["filterType"] == t)
            .unwrap_or_else(|| panic!("{t}"))
            .clone()
    };
    assert_eq!(filter("PRICE_FILTER")["tickSize"], "0.01000000");
    assert_eq!(filter("LOT_SIZE")["stepSize"], "0.00001000");
    assert_eq!(filter("LOT_SIZE")["minQty"], "0.00001000");
    assert_eq!(filter("NOTIONAL")["minNotional"], "5.00000000");
    let all = rest.public("/api/v3/exchangeInfo", &[]).await;
    assert_eq!(all.body["symbols"].as_array().unwrap().len(), 3);
    assert_eq!(all.body["timezone"], "UTC");
}

#[tokio::test]
async fn subscribe_unsubscribe_list_and_ping_pong() {
    let mock = start_paused();
    let mut ws = ws_connect(&mock, "/ws").await;
    let sub = json!({"method": "SUBSCRIBE", "params": ["ethusdt@trade", "ethusdt@depth"], "id": 1});
    ws.send(Message::text(sub.to_string())).await.unwrap();
    assert_eq!(
        next_json(&mut ws).await.unwrap(),
        fixture("ws-subscribe.json")["response"]
    );
    let unsub = json!({"method": "UNSUBSCRIBE", "params": ["ethusdt@depth"], "id": 312});
    ws.send(Message::text(unsub.to_string())).await.unwrap();
    assert_eq!(
        next_json(&mut ws).await.unwrap(),
        fixture("ws-unsubscribe.json")["response"]
    );
    ws.send(Message::text(
        json!({"method": "LIST_SUBSCRIPTIONS", "id": 3}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(
        next_json(&mut ws).await.unwrap(),
        json!({"result": ["ethusdt@trade"], "id": 3})
    );
    // Raw stream (/ws): payloads are not wrapped; only the subscribed stream arrives.
    mock.advance_until("ETHUSDT", "trade");
    let v = next_json(&mut ws).await.unwrap();
    assert_eq!(
        (v["e"].clone(), v["s"].clone()),
        (json!("trade"), json!("ETHUSDT"))
    );
    // Ping frames are answered with a pong carrying the same payload.
    ws.send(Message::Ping(b"hello".to_vec().into()))
        .await
        .unwrap();
    loop {
        match futures_util::StreamExt::next(&mut ws)
            .await
            .unwrap()
            .unwrap()
        {
            Message::Pong(p) => {
                assert_eq!(&p[..], b"hello");
                break;
            }
            Message::Text(_) | Message::Ping(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    ws.send(Message::text(r#"{"method":"NOPE","id":9}"#))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await.unwrap()["code"], 2);
}

/// Applies a diff event's levels to a local side.
fn apply(side: &mut BTreeMap<Dec, Dec>, levels: &Value) {
    for lv in levels.as_array().unwrap() {
        let (p, q) = (dec(&lv[0]), dec(&lv[1]));
        if q.is_zero() {
            side.remove(&p);
        } else {
            side.insert(p, q);
        }
    }
}

fn book_side(levels: &Value) -> BTreeMap<Dec, Dec> {
    levels
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (dec(&l[0]), dec(&l[1])))
        .collect()
}

#[tokio::test]
async fn local_order_book_procedure_and_gap_detection() {
    let mock = start_paused();
    let rest = Rest::new(&mock);
    // 1-2: open the stream and buffer events.
    let mut ws = ws_connect(&mock, "/ws/btcusdt@depth@100ms").await;
    let initial = mock.last_update_id("BTCUSDT").unwrap();
    while mock.last_update_id("BTCUSDT") == Some(initial) {
        assert_eq!(mock.advance(1), 1);
    }
    mock.advance(300);
    // 3: snapshot.
    let snap = rest
        .public("/api/v3/depth", &[("symbol", "BTCUSDT"), ("limit", "1000")])
        .await
        .body;
    let last_update_id = snap["lastUpdateId"].as_u64().unwrap();
    let mut bids = book_side(&snap["bids"]);
    let mut asks = book_side(&snap["asks"]);
    mock.advance(600);
    let target = mock.last_update_id("BTCUSDT").unwrap();
    assert!(target > last_update_id, "the replay moved the book");
    let mut prev_u: Option<u64> = None;
    let mut dropped = 0;
    loop {
        let ev = next_json(&mut ws).await.unwrap();
        let (first, last) = (ev["U"].as_u64().unwrap(), ev["u"].as_u64().unwrap());
        // 4: drop events older than the snapshot.
        if last <= last_update_id {
            dropped += 1;
            continue;
        }
        match prev_u {
            // 5: the first processed event straddles the snapshot.
            None => assert!(first <= last_update_id + 1 && last > last_update_id),
            // 6: then each U is the previous u + 1.
            Some(p) => assert_eq!(first, p + 1, "sequence"),
        }
        prev_u = Some(last);
        apply(&mut bids, &ev["b"]);
        apply(&mut asks, &ev["a"]);
        if last == target {
            break;
        }
    }
    assert!(dropped > 0, "some buffered events predate the snapshot");
    let fresh = rest
        .public("/api/v3/depth", &[("symbol", "BTCUSDT"), ("limit", "5000")])
        .await
        .body;
    assert_eq!(fresh["lastUpdateId"].as_u64(), Some(target));
    assert_eq!(
        bids,
        book_side(&fresh["bids"]),
        "local bids equal the snapshot"
    );
    assert_eq!(
        asks,
        book_side(&fresh["asks"]),
        "local asks equal the snapshot"
    );

    // A withheld update is visible as U > previous u + 1.
    mock.skip_depth_updates(1);
    mock.advance(300);
    let ev = next_json(&mut ws).await.unwrap();
    assert!(
        ev["U"].as_u64().unwrap() > prev_u.unwrap() + 1,
        "gap detected: {ev}"
    );
}

#[tokio::test]
async fn klines_close_at_interval_boundaries_and_match_the_trades() {
    let dir = crate_dir().join("../../examples/data");
    let config = MockConfig {
        markets: vec![
            MarketData::from_path(dir.join("binance_spot_solusdt_l1_trades.jsonl")).unwrap(),
        ],
        start_paused: true,
        ..MockConfig::default()
    };
    let mock = TestServer::start_with(config).unwrap();
    let mut ws = ws_connect(
        &mock,
        "/stream?streams=solusdt@trade/solusdt@kline_1s/solusdt@kline_1m",
    )
    .await;
    let total = mock.remaining();
    assert_eq!(mock.advance(total), total);
    // Expected 1s klines from the trades themselves.
    let mut by_second: BTreeMap<i64, (Dec, Dec, Dec, Dec, Dec, u64)> = BTreeMap::new();
    let mut closed_1s = Vec::new();
    let mut closed_1m = 0;
    let mut last_open: BTreeMap<String, Value> = BTreeMap::new();
    while closed_1m < 2 {
        let v = next_json(&mut ws).await.expect("stream");
        let d = &v["data"];
        match v["stream"].as_str().unwrap() {
            "solusdt@trade" => {
                let (p, q) = (dec(&d["p"]), dec(&d["q"]));
                let s = d["T"].as_i64().unwrap() / 1000 * 1000;
                let e = by_second.entry(s).or_insert((p, p, p, p, Dec::ZERO, 0));
                e.1 = e.1.max(p);
                e.2 = e.2.min(p);
                e.3 = p;
                e.4 += q;
                e.5 += 1;
            }
            stream => {
                let k = &d["k"];
                let (t, close_t) = (k["t"].as_i64().unwrap(), k["T"].as_i64().unwrap());
                if k["x"] == true {
                    // A closed kline repeats the last open update of that interval.
                    let prev = last_open.remove(stream).expect("an open update came first");
                    for f in ["t", "o", "h", "l", "c", "v", "n", "f", "L"] {
                        assert_eq!(prev["k"][f], k[f], "{stream} field {f}");
                    }
                    assert_eq!(d["E"].as_i64(), Some(close_t), "closes at the boundary");
                    if stream == "solusdt@kline_1s" {
                        assert_eq!(close_t, t + 999);
                        closed_1s.push(k.clone());
                    } else {
                        assert_eq!(close_t, t + 59_999);
                        assert_eq!(t % 60_000, 0);
                        closed_1m += 1;
                    }
                } else {
                    assert!(d["E"].as_i64().unwrap() <= close_t);
                    last_open.insert(stream.to_owned(), d.clone());
                }
            }
        }
    }
    assert!(closed_1s.len() > 30, "{} closed 1s klines", closed_1s.len());
    for k in &closed_1s {
        let t = k["t"].as_i64().unwrap();
        let (o, h, l, c, v, n) = by_second[&t];
        assert_eq!(
            (dec(&k["o"]), dec(&k["h"]), dec(&k["l"]), dec(&k["c"])),
            (o, h, l, c),
            "kline {t}"
        );
        assert_eq!(
            (dec(&k["v"]), k["n"].as_u64().unwrap()),
            (v, n),
            "kline {t}"
        );
        assert_eq!(k["L"].as_u64().unwrap() - k["f"].as_u64().unwrap() + 1, n);
    }
}
