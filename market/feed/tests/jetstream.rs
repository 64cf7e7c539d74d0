//! Against a real `nats-server -js` (one per test; each test is its own process under
//! nextest): deduplication across feeds, resuming after a sequence, a server restart,
//! and a slow subscriber beside a fast one.

use tradewind_core::data::Bar;
use tradewind_core::fixed::{Price, Quantity};
use tradewind_feed::testing::NatsServer;
use tradewind_feed::{FeedMessage, Payload, Publisher, Shard, Start, Subscription};

fn shard() -> Shard {
    Shard::new("tw.md", "binance", "spot", "BTCUSDT").unwrap()
}

/// Bar `i` of a 1 s series.
fn bar(i: i64) -> FeedMessage {
    let p = Price::parse(&format!("{}.00", 100 + i), 2).unwrap();
    FeedMessage {
        received: i,
        payload: Payload::Bar {
            interval: "1s".into(),
            bar: Bar::new(
                1_700_000_000_000_000_000 + i * 1_000_000_000,
                p,
                p,
                p,
                p,
                Quantity::parse("1.5", 1).unwrap(),
            )
            .unwrap(),
        },
    }
}

async fn publisher(url: &str) -> Publisher {
    let client = tradewind_feed::connect(url, "test-feed").await.unwrap();
    Publisher::new(client, shard(), &tradewind_feed::testing::small_retention())
        .await
        .unwrap()
}

async fn subscribe(url: &str, start: Start) -> Subscription {
    let client = tradewind_feed::connect(url, "test-sub").await.unwrap();
    let subject = shard().kline("1s").unwrap();
    Subscription::new(client, &shard(), &subject, start)
        .await
        .unwrap()
}

async fn read(sub: &mut Subscription, n: usize) -> Vec<i64> {
    let mut out = Vec::new();
    for _ in 0..n {
        let d = sub.next().await.unwrap();
        let Payload::Bar { bar, .. } = d.message.payload else {
            panic!("not a bar: {d:?}");
        };
        out.push((bar.ts - 1_700_000_000_000_000_000) / 1_000_000_000);
    }
    out
}

async fn stored(url: &str) -> u64 {
    let client = tradewind_feed::connect(url, "test-info").await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(shard().bars_stream()).await.unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_feeds_and_a_restarted_one_store_every_bar_once() {
    let nats = NatsServer::start();
    let url = nats.url();
    let mut a = publisher(&url).await;
    let mut b = publisher(&url).await;
    // Both learn the subject is empty before either publishes.
    let subject = shard().kline("1s").unwrap();
    assert_eq!(a.last_sequence(&subject).await.unwrap(), 0);
    assert_eq!(b.last_sequence(&subject).await.unwrap(), 0);
    for i in 0..50 {
        assert!(a.publish(&bar(i)).await.unwrap());
        // B sends the same fact: JetStream drops it by its Nats-Msg-Id.
        assert!(b.publish(&bar(i)).await.unwrap());
    }
    assert_eq!(
        b.counters()
            .duplicates
            .load(std::sync::atomic::Ordering::Relaxed),
        50
    );
    assert_eq!(stored(&url).await, 50);
    // A restarted feed reads where the subject is and skips what it holds.
    drop(a);
    let mut a = publisher(&url).await;
    for i in 0..60 {
        a.publish(&bar(i)).await.unwrap();
    }
    assert_eq!(
        a.counters()
            .skipped
            .load(std::sync::atomic::Ordering::Relaxed),
        50
    );
    assert_eq!(stored(&url).await, 60);
    let mut all = subscribe(&url, Start::All).await;
    assert_eq!(read(&mut all, 60).await, (0..60).collect::<Vec<_>>());

    // A subscriber that has bar 41 starts at 42, whatever the start time lets through.
    let Payload::Bar { bar: b41, .. } = bar(41).payload else {
        unreachable!()
    };
    let mut after = subscribe(
        &url,
        Start::After {
            sequence: b41.ts as u64,
            since: b41.ts - 3_600_000_000_000,
        },
    )
    .await;
    assert_eq!(read(&mut after, 18).await, (42..60).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_loses_and_doubles_nothing() {
    let mut nats = NatsServer::start();
    let url = nats.url();
    let mut feed = publisher(&url).await;
    let mut sub = subscribe(&url, Start::All).await;
    for i in 0..20 {
        feed.publish(&bar(i)).await.unwrap();
    }
    assert_eq!(read(&mut sub, 20).await, (0..20).collect::<Vec<_>>());
    nats.restart();
    // The publisher retries until the restarted server acknowledges; the ordered
    // consumer is recreated from the last stream sequence it delivered.
    for i in 20..40 {
        feed.publish(&bar(i)).await.unwrap();
    }
    assert_eq!(read(&mut sub, 20).await, (20..40).collect::<Vec<_>>());
    assert_eq!(stored(&url).await, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_never_holds_back_a_fast_one() {
    let nats = NatsServer::start();
    let url = nats.url();
    let mut feed = publisher(&url).await;
    let mut slow = subscribe(&url, Start::All).await;
    let mut fast = subscribe(&url, Start::All).await;
    const N: i64 = 3_000;
    for i in 0..N {
        feed.publish(&bar(i)).await.unwrap();
    }
    // The fast one reads everything while the slow one has read nothing.
    assert_eq!(
        read(&mut fast, N as usize).await,
        (0..N).collect::<Vec<_>>()
    );
    // The slow one then catches up from the stream, in order.
    assert_eq!(
        read(&mut slow, N as usize).await,
        (0..N).collect::<Vec<_>>()
    );
}
