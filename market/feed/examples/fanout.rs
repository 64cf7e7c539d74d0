//! Fan-out benchmark of one symbol's stream through JetStream (run by
//! `tools/bench/feed_fanout.sh`; see BENCHMARKS.md). Two roles, two processes:
//!
//! - `fanout subscribe URL SUBSCRIBERS MESSAGES`: SUBSCRIBERS ordered consumers of the
//!   trade subject (spread over connections of 100), each reading MESSAGES messages;
//!   prints `ready` once every consumer exists, then the delivery latency p50/p99/max
//!   (from the message's `received` stamp to the subscriber's decode) and its own CPU
//!   and peak RSS.
//! - `fanout publish URL RATE MESSAGES`: publishes MESSAGES trades at RATE a second
//!   through the feed's [`Publisher`], stamping `received` when each is made (where the
//!   feed stamps an exchange message's arrival), and prints its CPU and peak RSS.

use std::time::{Duration, Instant};

use tradewind_core::data::Side;
use tradewind_core::fixed::{Price, Quantity};
use tradewind_feed::{FeedMessage, Payload, Publisher, Retention, Shard, Start, Subscription};

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn shard() -> Shard {
    Shard::new("tw.md", "binance", "spot", "BTCUSDT").expect("valid shard")
}

/// User+system CPU seconds and peak RSS (KiB) of this process, from /proc.
fn usage() -> (f64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split(' ').collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the name.
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (ticks / 100.0, hwm)
}

async fn subscribe(url: String, subscribers: usize, messages: usize) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u64>>();
    // The streams exist before anyone subscribes (the feed would create them).
    let setup = tradewind_feed::connect(&url, "fanout-setup")
        .await
        .expect("connect");
    Publisher::new(setup, shard(), &Retention::default())
        .await
        .expect("streams");
    let mut clients = Vec::new();
    let mut subs = Vec::new();
    for i in 0..subscribers {
        if i % 100 == 0 {
            clients.push(
                tradewind_feed::connect(&url, "fanout-sub")
                    .await
                    .expect("connect"),
            );
        }
        let client = clients.last().expect("a client").clone();
        subs.push(
            Subscription::new(client, &shard(), &shard().trade(), Start::New)
                .await
                .expect("subscribe"),
        );
    }
    println!("ready");
    for mut sub in subs {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lat = Vec::with_capacity(messages);
            for _ in 0..messages {
                let d = sub.next().await.expect("message");
                lat.push(u64::try_from(now_nanos() - d.message.received).unwrap_or(0));
            }
            let _ = tx.send(lat);
        });
    }
    drop(tx);
    let mut all = Vec::with_capacity(subscribers * messages);
    while let Some(l) = rx.recv().await {
        all.extend(l);
    }
    all.sort_unstable();
    let q = |p: f64| all[((all.len() as f64 - 1.0) * p) as usize] as f64 / 1e6;
    let (cpu, rss) = usage();
    println!(
        "deliveries={} p50_ms={:.3} p99_ms={:.3} max_ms={:.3} subscriber_cpu_s={cpu:.2} subscriber_rss_mib={:.1}",
        all.len(),
        q(0.5),
        q(0.99),
        q(1.0),
        rss as f64 / 1024.0
    );
}

async fn publish(url: String, rate: u64, messages: u64) {
    let client = tradewind_feed::connect(&url, "fanout-feed")
        .await
        .expect("connect");
    let mut publisher = Publisher::new(client, shard(), &Retention::default())
        .await
        .expect("streams");
    let start_id = publisher
        .last_sequence(&shard().trade())
        .await
        .expect("last");
    let period = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let started = Instant::now();
    let price = Price::parse("97000.01", 2).expect("price");
    let quantity = Quantity::parse("0.00120", 5).expect("qty");
    for i in 0..messages {
        tokio::time::sleep_until((started + period * i as u32).into()).await;
        let message = FeedMessage {
            received: now_nanos(),
            payload: Payload::Trade {
                id: start_id + 1 + i,
                ts: now_nanos(),
                price,
                quantity,
                aggressor: Side::Buy,
            },
        };
        publisher.publish(&message).await.expect("publish");
    }
    let (cpu, rss) = usage();
    println!(
        "published={messages} in {:.1} s feed_cpu_s={cpu:.2} feed_rss_mib={:.1}",
        started.elapsed().as_secs_f64(),
        rss as f64 / 1024.0
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage_line =
        "usage: fanout subscribe URL SUBSCRIBERS MESSAGES | fanout publish URL RATE MESSAGES";
    let num = |i: usize| -> u64 {
        args.get(i)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{usage_line}"))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match args.first().map(String::as_str) {
        Some("subscribe") => {
            runtime.block_on(subscribe(args[1].clone(), num(2) as usize, num(3) as usize))
        }
        Some("publish") => runtime.block_on(publish(args[1].clone(), num(2), num(3))),
        _ => panic!("{usage_line}"),
    }
}
