//! The Cosmos DB client and the market-data documents against `@vercel/cosmosdb-server`
//! behind the proxy that checks Entra tokens from the tests/azure fake and injects
//! faults. One emulator for the whole binary: one test.

use std::time::Duration;

use serde_json::{Value, json};
use tradewind_azure::cosmos::{CosmosClient, CosmosError, CosmosOptions, Created, Query};
use tradewind_azure::transport::TransportOptions;
use tradewind_azure_fake::TestServer;
use tradewind_core::data::archive::Day;
use tradewind_core::data::{Bar, BookLevel};
use tradewind_core::fixed::{Price, Quantity};
use tradewind_market_store::market::{
    MarketData, MarketDataError, PARTITION_KEY_PATHS, Ticker, symbol_key,
};
use tradewind_store_emulators::{Cosmos, Fault};

const DB: &str = "tradewind";
const COLL: &str = "marketdata";

async fn setup(backend: &str) {
    let http = tradewind_store_emulators::plain_http();
    let ok = |r: reqwest::Response| {
        assert!(r.status().is_success(), "{}", r.status());
    };
    ok(http
        .post(format!("{backend}/dbs"))
        .body(json!({"id": DB}).to_string())
        .send()
        .await
        .unwrap());
    ok(http
        .post(format!("{backend}/dbs/{DB}/colls"))
        .body(
            json!({"id": COLL, "defaultTtl": -1,
                "partitionKey": {"paths": PARTITION_KEY_PATHS, "kind": "MultiHash", "version": 2}})
            .to_string(),
        )
        .send()
        .await
        .unwrap());
}

fn bar(ts: i64, i: i64) -> Bar {
    let p = |c: i64| Price::from_raw((8_700_000 + c + i % 40) * 10_000_000, 2).unwrap();
    Bar {
        ts,
        open: p(1),
        high: p(3),
        low: p(0),
        close: p(2),
        volume: Quantity::from_raw(1_500_000_000, 3).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_data_in_cosmos_with_entra_tokens_retries_and_a_full_partition() {
    let fake = TestServer::start().expect("azure fake");
    let cosmos = Cosmos::start(fake.handle().clone());
    setup(cosmos.backend()).await;
    let connection = fake.handle().connection();
    let transport = TransportOptions {
        extra_ca_pem: Some(cosmos.ca_pem().as_bytes().to_vec()),
    };
    let fast = CosmosOptions {
        max_retries: 3,
        initial_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(2),
    };
    let client = CosmosClient::new(
        &cosmos.endpoint("twmarket"),
        connection.credential.clone(),
        &transport,
        fast.clone(),
    )
    .unwrap();
    let md = MarketData::new(client.clone(), DB, COLL);
    let symbol = symbol_key("binance-spot", "BTCUSDT");

    // Bars over three days: the last 100 minutes of two days and the first 50 of today.
    let today = Day::parse("today", "2026-01-03").unwrap();
    let mut all = Vec::new();
    for (day, from, n) in [
        (Day(today.0 - 2), 1340, 100),
        (Day(today.0 - 1), 1340, 100),
        (today, 0, 50),
    ] {
        for m in from..from + n {
            all.push(bar(day.start() + m * 60_000_000_000, m));
        }
    }
    for b in &all {
        assert_eq!(
            md.write_bar(&symbol, 60, b).await.unwrap(),
            Created::Created
        );
    }
    // The same bar again is no new document.
    assert_eq!(
        md.write_bar(&symbol, 60, &all[0]).await.unwrap(),
        Created::Exists
    );
    // Another symbol's bars never leak into this one's warm-up.
    let other = symbol_key("binance-spot", "ETHUSDT");
    md.write_bar(&other, 60, &all[249]).await.unwrap();

    let now = today.start() + 50 * 60_000_000_000;
    let warm = md.last_bars(&symbol, 60, 120, now).await.unwrap();
    assert_eq!(warm, all[all.len() - 120..].to_vec());
    let warm = md.last_bars(&symbol, 60, 1_000, now).await.unwrap();
    assert_eq!(
        warm, all,
        "every stored bar, oldest first, when fewer than asked"
    );
    // Bars that start at or after `now` are not history yet.
    let early = md
        .last_bars(&symbol, 60, 10, today.start() + 5 * 60_000_000_000)
        .await
        .unwrap();
    assert_eq!(early, all[195..205].to_vec());

    // The latest ticker is one document, replaced.
    let p = |s: &str| Price::parse(s, 2).unwrap();
    for last in ["87000.10", "87001.20"] {
        let t = Ticker {
            ts: now,
            bid: p("87000.00"),
            ask: p("87001.50"),
            last: p(last),
        };
        md.upsert_ticker(&symbol, &t).await.unwrap();
    }
    let ticker = md.ticker(&symbol).await.unwrap().unwrap();
    assert_eq!(ticker["last"], "87001.20");
    // (A read of an absent document is not exercised: the emulator answers it with a
    // 500 from a JavaScript TypeError instead of 404.)

    let level = |price: &str, size: &str| BookLevel {
        price: p(price),
        size: Quantity::parse(size, 3).unwrap(),
    };
    let book = md
        .write_book(
            &symbol,
            now,
            &[level("87000.00", "1.250")],
            &[level("87001.50", "0.400")],
        )
        .await
        .unwrap();
    assert_eq!(book, Created::Created);

    // Pages: continuation tokens followed to the end.
    let pk = [
        Value::from(symbol.clone()),
        Value::from(Day(today.0 - 1).to_string()),
    ];
    let q = Query::new("SELECT * FROM c WHERE c.symbol = @s AND c.day = @d AND c.type = 'bar'")
        .param("@s", symbol.clone())
        .param("@d", Day(today.0 - 1).to_string());
    let page = client
        .query_page(DB, COLL, Some(&pk), &q, Some(30), None)
        .await
        .unwrap();
    assert_eq!(page.documents.len(), 30);
    assert!(page.continuation.is_some());
    let every = client
        .query(DB, COLL, Some(&pk), &q, Some(30))
        .await
        .unwrap();
    assert_eq!(every.len(), 100);

    // 429 with x-ms-retry-after-ms, and 503: retried, then the write lands.
    let before = cosmos.forwarded();
    cosmos.inject([
        Fault::Throttle { retry_after_ms: 20 },
        Fault::Unavailable,
        Fault::Throttle { retry_after_ms: 5 },
    ]);
    let started = std::time::Instant::now();
    let t = Ticker {
        ts: now,
        bid: p("1.00"),
        ask: p("2.00"),
        last: p("1.50"),
    };
    md.upsert_ticker(&symbol, &t).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(25),
        "the server's waits were honoured"
    );
    assert_eq!((cosmos.faulted(), cosmos.forwarded() - before), (3, 1));

    // Throttled past every retry: an error that says so.
    cosmos.inject(vec![Fault::Throttle { retry_after_ms: 1 }; 4]);
    let e = md.upsert_ticker(&symbol, &t).await.unwrap_err();
    assert!(
        matches!(
            e,
            MarketDataError::Cosmos(CosmosError::Throttled { retries: 3, .. })
        ),
        "{e}"
    );

    // A full logical partition is reported as such, naming the key.
    cosmos.inject([Fault::PartitionFull]);
    let e = md.write_bar(&symbol, 60, &bar(now, 1)).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cosmos create /dbs/{DB}/colls/{COLL}/docs: partition key [\"{symbol}\",\"2026-01-03\"] is full (a logical partition holds at most 20 GB): Partition key reached maximum size of 20 GB."
        )
    );

    // Every request so far carried a token the fake's Entra issued for this account; a
    // forged one, or one for another audience, is refused before the emulator sees it.
    assert_eq!(cosmos.refused(), 0);
    let http = tradewind_azure::transport::http_client(&transport).unwrap();
    let arm_token = connection
        .credential
        .get_token(&[connection.cloud.resource_manager_scope().as_str()], None)
        .await
        .unwrap();
    for sig in ["forged", arm_token.token.secret()] {
        let r = http
            .post(format!(
                "{}dbs/{DB}/colls/{COLL}/docs",
                cosmos.endpoint("twmarket")
            ))
            .header(
                "authorization",
                format!("type%3Daad%26ver%3D1.0%26sig%3D{sig}"),
            )
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    assert_eq!(cosmos.refused(), 2);
}
