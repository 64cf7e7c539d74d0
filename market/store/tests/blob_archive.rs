//! Daily archives in Blob Storage (Azurite over HTTPS, Entra tokens from the tests/azure
//! fake) and in a directory: written, read back exactly, and a missing or damaged day
//! refused naming the day. One Azurite for the whole binary: one test.

use tradewind_azure::blob::{BlobClient, BlobOptions, SINGLE_PUT_MAX};
use tradewind_azure::transport::TransportOptions;
use tradewind_azure_fake::TestServer;
use tradewind_core::data::archive::Day;
use tradewind_core::data::{Bar, Side, Trade};
use tradewind_core::fixed::{Price, Quantity};
use tradewind_market_store::archive::{Archive, StoreError};
use tradewind_store_emulators::Azurite;

fn bars_of(day: Day, n: i64) -> Vec<Bar> {
    (0..n)
        .map(|i| {
            let p = |c: i64| Price::from_raw((8_700_000 + c + i % 50) * 10_000_000, 2).unwrap();
            Bar {
                ts: day.start() + i * 60_000_000_000,
                open: p(1),
                high: p(3),
                low: p(0),
                close: p(2),
                volume: Quantity::from_raw((i as u64 % 17 + 1) * 1_000_000, 3).unwrap(),
            }
        })
        .collect()
}

fn trades_of(day: Day, n: i64) -> Vec<Trade> {
    (0..n)
        .map(|i| Trade {
            ts: day.start() + i * 3_000_017,
            price: Price::from_raw((8_700_000 + i % 9) * 10_000_000, 2).unwrap(),
            size: Quantity::from_raw((i as u64 % 5 + 1) * 100_000, 4).unwrap(),
            aggressor: if i % 2 == 0 { Side::Buy } else { Side::Sell },
        })
        .collect()
}

async fn exercise(archive: &Archive) {
    let d1 = Day::parse("from", "2026-01-01").unwrap();
    let (venue, symbol) = ("binance-spot", "BTCUSDT");
    for d in [d1, d1.next(), d1.next().next()] {
        let key = archive
            .put_bars(venue, symbol, 60, d, &bars_of(d, 1440), 2, 3)
            .await
            .unwrap();
        assert_eq!(key, format!("binance-spot/BTCUSDT/bars-1m/{d}.twb"));
    }
    for d in [d1, d1.next(), d1.next().next()] {
        let back = archive.bars_day(venue, symbol, 60, d).await.unwrap();
        assert_eq!(back.bars, bars_of(d, 1440));
        assert_eq!((back.price_precision, back.size_precision), (2, 3));
    }
    // A day of trades large enough to go up as blocks and a block list in Blob Storage.
    let trades = trades_of(d1, 2_500_000);
    archive
        .put_trades(venue, symbol, d1, &trades, 2, 4)
        .await
        .unwrap();
    let stored = archive
        .get("binance-spot/BTCUSDT/trades/2026-01-01.twt")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.len() > SINGLE_PUT_MAX, "{} bytes", stored.len());
    assert_eq!(archive.trades_day(venue, symbol, d1).await.unwrap(), trades);

    let missing = d1.next().next().next();
    let e = archive
        .bars_day(venue, symbol, 60, missing)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Missing { day, .. } if day == missing));
    assert!(
        e.to_string()
            .starts_with("day 2026-01-04 is missing from the archive ("),
        "{e}"
    );
    // A damaged day: the file of 2026-01-02 with one byte changed.
    let key = "binance-spot/BTCUSDT/bars-1m/2026-01-02.twb";
    let mut bytes = archive.get(key).await.unwrap().unwrap();
    bytes[100] ^= 0x40;
    archive.put(key, &bytes).await.unwrap();
    let e = archive
        .bars_day(venue, symbol, 60, d1.next())
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("day 2026-01-02 (binance-spot/BTCUSDT/bars-1m/2026-01-02.twb): byte "),
        "{e}"
    );
    // A valid file stored under another day's name is refused too.
    let other = archive
        .get("binance-spot/BTCUSDT/bars-1m/2026-01-01.twb")
        .await
        .unwrap()
        .unwrap();
    archive
        .put("binance-spot/BTCUSDT/bars-1m/2026-01-03.twb", &other)
        .await
        .unwrap();
    let e = archive
        .bars_day(venue, symbol, 60, d1.next().next())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("holds a bar of day 2026-01-01"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archives_round_trip_in_blob_storage_and_a_directory_and_refuse_bad_days() {
    let fake = TestServer::start().expect("azure fake");
    let azurite = Azurite::start();
    let connection = fake.handle().connection();
    let client = BlobClient::new(
        &azurite.endpoint("devstoreaccount1"),
        connection.credential.clone(),
        &TransportOptions {
            extra_ca_pem: Some(azurite.ca_pem().as_bytes().to_vec()),
        },
        BlobOptions::default(),
    )
    .unwrap();
    assert!(client.create_container("marketdata").await.unwrap());
    assert!(!client.create_container("marketdata").await.unwrap());
    assert_eq!(client.get("marketdata", "absent.twb").await.unwrap(), None);
    assert_eq!(client.get("no-such-container", "x").await.unwrap(), None);
    exercise(&Archive::Blob {
        client,
        container: "marketdata".into(),
    })
    .await;

    let dir = std::env::temp_dir().join(format!("tw-archive-test-{}", std::process::id()));
    exercise(&Archive::Dir(dir.clone())).await;
    let _ = std::fs::remove_dir_all(dir);
}
