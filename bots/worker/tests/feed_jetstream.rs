//! The shared market-data feed against a real `nats-server -js` and the Binance mock:
//! `tradewind-bot feed` processes publish, a paper worker reads its bars from JetStream.
//! Killing a feed mid-stream (its twin keeps publishing; the restarted one doubles
//! nothing), killing the worker, and restarting the NATS server neither lose nor double
//! a bar: the worker's journal holds exactly the exchange's closed klines, in order.
//! A depth gap on the exchange reaches every subscriber as one rebuilt book; bars that
//! close while the exchange connection is down are fetched from REST after the
//! reconnect. The feed exports its metrics over OTLP like the other programs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tradewind_binance_mock::{MockConfig, Speed, TestServer};
use tradewind_bot::run::journal::Journal;
use tradewind_bot::run::record::Record;
use tradewind_feed::testing::NatsServer;
use tradewind_feed::{Payload, Shard, Start, Subscription};

fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run through cargo"))
}

fn bin() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_BIN_EXE_tradewind-bot").expect("cargo sets it"))
}

fn data() -> PathBuf {
    manifest_dir().join("../../examples/data/binance_spot_btcusdt_l1_trades.jsonl")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tw-feed-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A child process, killed when dropped; its stdout and stderr in files.
struct Proc {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Proc {
    fn start(dir: &Path, label: &str, args: &[String]) -> Self {
        Self::start_with(dir, label, args, &[])
    }

    fn start_with(dir: &Path, label: &str, args: &[String], envs: &[(&str, &str)]) -> Self {
        let n = std::fs::read_dir(dir).unwrap().count();
        let out = dir.join(format!("{label}-{n}.out"));
        let err = dir.join(format!("{label}-{n}.err"));
        let child = Command::new(bin())
            .args(args)
            .env_remove("KUBECONFIG")
            .env("RUST_LOG", "info,tradewind_bot::run::session=debug")
            .envs(envs.iter().copied())
            .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
            .spawn()
            .unwrap();
        Self { child, out, err }
    }

    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Decisions the session made (one debug line per bar it traded).
    fn decisions(&self) -> usize {
        self.stderr().matches("decision_us").count()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "did not stop:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn until(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn feed_args(mock: &TestServer, nats: &NatsServer) -> Vec<String> {
    [
        "feed",
        "--symbol",
        "BTCUSDT",
        "--interval",
        "1s",
        "--nats-url",
        &nats.url(),
        "--binance-rest",
        &mock.rest_base(),
        "--binance-ws",
        &mock.ws_base(),
        "--metrics-addr",
        "127.0.0.1:0",
    ]
    .into_iter()
    .chain(tradewind_feed::testing::SMALL_STREAM_FLAGS)
    .map(String::from)
    .collect()
}

fn shard() -> Shard {
    Shard::new("tw.md", "binance", "spot", "BTCUSDT").unwrap()
}

/// Every bar the stream holds, in order, as open times.
async fn stream_bars(nats: &NatsServer, n: usize) -> Vec<i64> {
    let client = tradewind_feed::connect(&nats.url(), "test").await.unwrap();
    let subject = shard().kline("1s").unwrap();
    let mut sub = Subscription::new(client, &shard(), &subject, Start::All)
        .await
        .unwrap();
    let mut out = Vec::new();
    while out.len() < n {
        let d = sub.next().await.unwrap();
        let Payload::Bar { bar, .. } = d.message.payload else {
            panic!("{d:?}")
        };
        out.push(bar.ts);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_kill_worker_kill_and_server_restart_lose_and_double_no_bar() {
    let dir = scratch("restarts");
    let mut nats = NatsServer::start();
    let mock = TestServer::start_with(MockConfig {
        start_paused: true,
        speed: Speed::Multiplier(15.0),
        ..MockConfig::default().with_data(data()).unwrap()
    })
    .unwrap();
    // The 1 s klines of the data (the mock closes the last one at the end of the data).
    let trades = tradewind_bot::run::feed::Replay::trades(&data()).unwrap();
    let expected: Vec<i64> =
        tradewind_core::data::aggregate::bars_from_trades(&trades, 1_000_000_000)
            .unwrap()
            .iter()
            .map(|b| b.ts)
            .collect();

    // Two feeds of the same shard, as two replicas would run.
    let mut a = Proc::start(&dir, "feed-a", &feed_args(&mock, &nats));
    let _b = Proc::start(&dir, "feed-b", &feed_args(&mock, &nats));
    until(30, "both feeds connected", || {
        mock.market_connections() == 4
    });

    let cfg = dir.join("bot.json");
    let yaml = manifest_dir().join("../../examples/demo/btc-scalper.yaml");
    let loaded = tradewind_crds::bundle::load(&[yaml], None).unwrap();
    let mut v = serde_json::to_value(&loaded.config).unwrap();
    v["bot"]["mode"] = Value::String("Paper".into());
    v["namespace"] = Value::String("trading".into());
    std::fs::write(&cfg, serde_json::to_string(&v).unwrap()).unwrap();
    let state = dir.join("state");
    let worker_args: Vec<String> = [
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--kubernetes",
        "off",
        "--metrics-addr",
        "127.0.0.1:0",
        "--nats-url",
        &nats.url(),
        "--binance-rest",
        &mock.rest_base(),
        "--binance-ws",
        "ws://127.0.0.1:1",
    ]
    .map(String::from)
    .to_vec();
    let mut w = Proc::start(&dir, "worker", &worker_args);
    until(30, "the worker subscribed", || {
        w.stderr()
            .contains("reading bars from the shared market-data feed")
    });

    let total = mock.remaining();
    mock.resume();
    // Feed A killed mid-stream and started again; B kept publishing meanwhile.
    until(60, "a quarter of the data", || mock.replayed() > total / 4);
    a.kill();
    let _a = Proc::start(&dir, "feed-a", &feed_args(&mock, &nats));
    // The worker killed mid-stream and started again from its journal.
    until(60, "half of the data", || mock.replayed() > total / 2);
    assert!(w.decisions() > 0, "{}", w.stderr());
    w.kill();
    let mut w = Proc::start(&dir, "worker", &worker_args);
    // The NATS server killed and started again on its store.
    until(60, "three quarters of the data", || {
        mock.replayed() > total * 3 / 4
    });
    nats.restart();
    until(120, "the end of the data", || mock.remaining() == 0);

    // The stream holds every closed kline once, in order.
    assert_eq!(stream_bars(&nats, expected.len()).await, expected);
    let client = tradewind_feed::connect(&nats.url(), "test").await.unwrap();
    assert_eq!(
        tradewind_feed::stored_messages(client, &shard().bars_stream())
            .await
            .unwrap(),
        expected.len() as u64
    );
    // The restarted worker trades every bar its journal did not hold.
    let replayed = |w: &Proc| {
        w.events()
            .iter()
            .find(|e| e["kind"] == "Resumed")
            .and_then(|e| e["replayedBars"].as_u64())
            .map(|n| n as usize)
    };
    until(60, "the worker caught up", || {
        replayed(&w).is_some_and(|r| r + w.decisions() >= expected.len())
    });
    assert!(replayed(&w).unwrap() > 0);
    assert!(w.terminate().success(), "{}", w.stderr());

    let name = v["name"].as_str().unwrap();
    let path = tradewind_bot::run::worker::journal_path(&state, name);
    let (_, records) = Journal::<Record>::open(&path).unwrap();
    let journaled: Vec<i64> = records
        .iter()
        .filter_map(|r| match r {
            Record::Bar(b) => Some(b.ts),
            _ => None,
        })
        .collect();
    assert_eq!(journaled, expected, "every bar once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_depth_gap_is_resynchronised_for_every_subscriber() {
    let dir = scratch("depth");
    let nats = NatsServer::start();
    let mock = TestServer::start_with(MockConfig {
        start_paused: true,
        ..MockConfig::default().with_data(data()).unwrap()
    })
    .unwrap();
    let _feed = Proc::start(&dir, "feed", &feed_args(&mock, &nats));
    until(30, "the feed connected", || mock.market_connections() == 2);
    let subscribe = || async {
        let client = tradewind_feed::connect(&nats.url(), "test").await.unwrap();
        Subscription::new(client, &shard(), &shard().depth(), Start::All)
            .await
            .unwrap()
    };
    let (mut one, mut two) = (subscribe().await, subscribe().await);
    // Books until `n` rebuilds were seen: (update id, resync, best bid).
    async fn books(sub: &mut Subscription, rebuilds: usize) -> Vec<(u64, bool, String)> {
        let mut out = Vec::new();
        while out.iter().filter(|(_, r, _)| *r).count() < rebuilds {
            let d = sub.next().await.unwrap();
            let Payload::Depth {
                update_id,
                resync,
                bids,
                ..
            } = d.message.payload
            else {
                panic!("{d:?}")
            };
            out.push((update_id, resync, bids[0].price.to_string()));
        }
        out
    }
    for _ in 0..3 {
        mock.advance_until("BTCUSDT", "quote");
    }
    // The first book is the snapshot's.
    let first = books(&mut one, 1).await;
    assert!(first[0].1, "{first:?}");
    mock.skip_depth_updates(1);
    for _ in 0..3 {
        mock.advance_until("BTCUSDT", "quote");
    }
    // Both subscribers read the same books, the rebuild marked once, at the same place.
    let mut seen_one = first;
    seen_one.extend(books(&mut one, 1).await);
    let seen_two = books(&mut two, 2).await;
    assert_eq!(seen_one, seen_two);
    let rebuilt = seen_one.iter().rposition(|b| b.1).unwrap();
    assert!(rebuilt > 0);
    // The rebuilt book is the exchange's.
    let ((bid, _), _) = mock.best_bid_ask("BTCUSDT").unwrap();
    let after = books(&mut one, 0).await;
    assert!(after.is_empty());
    assert_eq!(
        seen_one[rebuilt].2.parse::<f64>().unwrap(),
        bid.to_f64(),
        "{seen_one:?}"
    );
}

/// A feed that starts after bars closed with no replica running fetches them from the
/// exchange's REST klines and publishes them, in order, before going live: the stream
/// holds every bar once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_restarted_after_a_gap_backfills_the_missed_bars() {
    let dir = scratch("backfill");
    let nats = NatsServer::start();
    let mock = TestServer::start_with(MockConfig {
        start_paused: true,
        speed: Speed::Multiplier(15.0),
        ..MockConfig::default().with_data(data()).unwrap()
    })
    .unwrap();
    let trades = tradewind_bot::run::feed::Replay::trades(&data()).unwrap();
    let expected: Vec<i64> =
        tradewind_core::data::aggregate::bars_from_trades(&trades, 1_000_000_000)
            .unwrap()
            .iter()
            .map(|b| b.ts)
            .collect();
    // The exchange's clock a day after the data (the replay runs faster than time): every
    // kline the replay closed is closed for REST too, and within the stream's retention.
    let day_after_ms = trades.last().unwrap().ts / 1_000_000 + 86_400_000;
    mock.set_time_offset_ms(day_after_ms - mock.server_time_ms());

    let mut feed = Proc::start(&dir, "feed", &feed_args(&mock, &nats));
    until(30, "the feed connected", || mock.market_connections() == 2);
    let total = mock.remaining();
    mock.resume();
    until(60, "a quarter of the data", || mock.replayed() > total / 4);
    // No feed for a quarter of the data.
    feed.kill();
    until(60, "half of the data", || mock.replayed() > total / 2);
    mock.pause();
    let feed = Proc::start(&dir, "feed", &feed_args(&mock, &nats));
    until(30, "the feed live again", || {
        feed.stderr().contains("market-data feed publishing")
    });
    assert!(
        feed.stderr().contains("missed klines backfilled from REST"),
        "{}",
        feed.stderr()
    );
    mock.resume();
    until(120, "the end of the data", || mock.remaining() == 0);

    assert_eq!(stream_bars(&nats, expected.len()).await, expected);
    let client = tradewind_feed::connect(&nats.url(), "test").await.unwrap();
    assert_eq!(
        tradewind_feed::stored_messages(client, &shard().bars_stream())
            .await
            .unwrap(),
        expected.len() as u64
    );
}

/// The exchange drops the feed's connections while bars keep closing: after the
/// reconnect the feed fetches the bars it missed from REST and publishes them before the
/// first live one — the stream holds every bar once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bars_closed_during_a_reconnect_are_backfilled_in_order() {
    let dir = scratch("reconnect");
    let nats = NatsServer::start();
    let mock = TestServer::start_with(MockConfig {
        start_paused: true,
        speed: Speed::Multiplier(15.0),
        ..MockConfig::default().with_data(data()).unwrap()
    })
    .unwrap();
    let trades = tradewind_bot::run::feed::Replay::trades(&data()).unwrap();
    let expected: Vec<i64> =
        tradewind_core::data::aggregate::bars_from_trades(&trades, 1_000_000_000)
            .unwrap()
            .iter()
            .map(|b| b.ts)
            .collect();

    let feed = Proc::start(&dir, "feed", &feed_args(&mock, &nats));
    until(30, "the feed publishing", || {
        feed.stderr().contains("market-data feed publishing")
    });
    let total = mock.remaining();
    mock.resume();
    until(60, "a third of the data", || mock.replayed() > total / 3);
    // Both connections dropped; a tenth of the data replays before the feed can be back
    // (it waits at least 125 ms to reconnect): those bars close unseen.
    mock.pause();
    mock.drop_market_streams();
    assert!(mock.advance(total / 10) > 0);
    until(30, "both connections back", || {
        feed.stderr()
            .matches("binance market stream reconnected")
            .count()
            == 2
    });
    mock.resume();
    until(120, "the end of the data", || mock.remaining() == 0);

    assert_eq!(stream_bars(&nats, expected.len()).await, expected);
    let client = tradewind_feed::connect(&nats.url(), "test").await.unwrap();
    assert_eq!(
        tradewind_feed::stored_messages(client, &shard().bars_stream())
            .await
            .unwrap(),
        expected.len() as u64
    );
    assert!(
        feed.stderr()
            .contains("klines that closed while reconnecting backfilled from REST"),
        "{}",
        feed.stderr()
    );
}

/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set the feed exports its metrics over OTLP: the lag
/// gauge the feed-lag alert reads — a family that appears only with the first message
/// published, after the export started — reaches a local receiver, and the final
/// export happens when the feed stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_exports_its_lag_over_otlp() {
    use tradewind_telemetry::names;
    let receiver = tradewind_test_support::otlp::OtlpServer::start().unwrap();
    let endpoint = receiver.endpoint();
    let dir = scratch("otlp");
    let nats = NatsServer::start();
    let mock = TestServer::start_with(MockConfig {
        start_paused: true,
        ..MockConfig::default().with_data(data()).unwrap()
    })
    .unwrap();
    let mut feed = Proc::start_with(
        &dir,
        "feed",
        &feed_args(&mock, &nats),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SERVICE_NAME", "tradewind-feed"),
        ],
    );
    until(30, "the feed publishing", || {
        feed.stderr().contains("market-data feed publishing")
    });
    assert!(mock.advance_until("BTCUSDT", "trade") > 0);
    let client = tradewind_feed::connect(&nats.url(), "test").await.unwrap();
    let ticks = shard().ticks_stream();
    let mut stored = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while stored == 0 {
        assert!(Instant::now() < deadline, "no trade published");
        stored = tradewind_feed::stored_messages(client.clone(), &ticks)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(feed.terminate().success(), "{}", feed.stderr());

    let lag = receiver.points_of(names::BOT_FEED_LAG);
    let last = lag
        .last()
        .unwrap_or_else(|| panic!("no {} in {:?}", names::BOT_FEED_LAG, receiver.points()));
    assert_eq!(last.kind, "gauge");
    assert_eq!(last.attribute(names::FEED), Some("binance-spot:BTCUSDT"));
    assert!(
        last.resource
            .contains(&("service.name".into(), "tradewind-feed".into())),
        "{:?}",
        last.resource
    );
    let published = receiver.points_of("tradewind_bot_feed_published");
    assert!(
        published.iter().any(|p| p.kind == "sum"
            && p.monotonic
            && p.attribute("stream") == Some("ticks")
            && p.value >= 1.0),
        "{published:?}"
    );
    assert_eq!(receiver.refused(), Vec::<String>::new());
}
