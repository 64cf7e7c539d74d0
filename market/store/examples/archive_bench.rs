//! Archive write and read throughput (BENCHMARKS.md): `DAYS` days of 1s bars (86,400 a
//! day) encoded and written one file a day, then read back and decoded, to a directory
//! and to Blob Storage (Azurite over HTTPS with the tests/azure fake's Entra tokens).
//!
//! `cargo run --release -p tradewind-market-store --example archive_bench [DAYS]`

use std::time::Instant;

use tradewind_azure::blob::{BlobClient, BlobOptions};
use tradewind_azure::transport::TransportOptions;
use tradewind_core::data::Bar;
use tradewind_core::data::archive::Day;
use tradewind_core::fixed::{Price, Quantity};
use tradewind_market_store::archive::Archive;

fn day_bars(day: Day) -> Vec<Bar> {
    // A random walk of cent prices: what real 1s bars look like to the encoder.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ day.0 as u64;
    let mut price: i64 = 8_700_000;
    (0..86_400)
        .map(|s| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            price += (x % 7) as i64 - 3;
            let p = |c: i64| Price::from_raw((price + c) * 10_000_000, 2).unwrap();
            Bar {
                ts: day.start() + s * 1_000_000_000,
                open: p(0),
                high: p((x >> 8) as i64 % 5),
                low: p(-((x >> 16) as i64 % 5)),
                close: p(((x >> 24) as i64 % 9) - 4)
                    .max(p(-((x >> 16) as i64 % 5)))
                    .min(p((x >> 8) as i64 % 5)),
                volume: Quantity::from_raw(((x >> 32) % 100_000) * 1_000, 6).unwrap(),
            }
        })
        .collect()
}

async fn bench(name: &str, archive: &Archive, days: &[(Day, Vec<Bar>)]) {
    let total: usize = days.iter().map(|(_, b)| b.len()).sum();
    let t = Instant::now();
    let mut keys = Vec::new();
    for (day, bars) in days {
        keys.push(
            archive
                .put_bars("bench", "BTCUSDT", 1, *day, bars, 2, 6)
                .await
                .unwrap(),
        );
    }
    let write = t.elapsed().as_secs_f64();
    let mut bytes = 0u64;
    for key in &keys {
        bytes += archive
            .get(key)
            .await
            .unwrap()
            .map_or(0, |b| b.len() as u64);
    }
    let t = Instant::now();
    let mut read = 0usize;
    for (day, _) in days {
        read += archive
            .bars_day("bench", "BTCUSDT", 1, *day)
            .await
            .unwrap()
            .bars
            .len();
    }
    let read_s = t.elapsed().as_secs_f64();
    assert_eq!(read, total);
    println!(
        "{name:<10} {total} bars in {} days, {:.1} bytes/bar: write {:>12.0} bars/s, read {:>12.0} bars/s",
        days.len(),
        bytes as f64 / total as f64,
        total as f64 / write,
        total as f64 / read_s
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: i64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(7);
    let first = Day::parse("from", "2026-01-01").unwrap();
    let days: Vec<(Day, Vec<Bar>)> = (0..n)
        .map(|i| (Day(first.0 + i), day_bars(Day(first.0 + i))))
        .collect();

    let dir = std::env::temp_dir().join(format!("tw-archive-bench-{}", std::process::id()));
    bench("directory", &Archive::Dir(dir.clone()), &days).await;
    let _ = std::fs::remove_dir_all(dir);

    let fake = tradewind_azure_fake::TestServer::start().expect("azure fake");
    let azurite = tradewind_store_emulators::Azurite::start();
    let client = BlobClient::new(
        &azurite.endpoint("devstoreaccount1"),
        fake.handle().connection().credential.clone(),
        &TransportOptions {
            extra_ca_pem: Some(azurite.ca_pem().as_bytes().to_vec()),
        },
        BlobOptions::default(),
    )
    .unwrap();
    client.create_container("bench").await.unwrap();
    bench(
        "azurite",
        &Archive::Blob {
            client,
            container: "bench".into(),
        },
        &days,
    )
    .await;
}
