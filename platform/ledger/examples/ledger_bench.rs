//! The ledger's throughput measurements (BENCHMARKS.md; `tools/bench/ledger.sh` runs them).
//! Not a test: it asserts nothing about time, it prints what it measured.
//!
//! ```text
//! ledger_bench ingest   --url URL --fills N [--batch B]
//! ledger_bench populate --url URL --accounts A --fills F
//! ledger_bench settle   --url URL
//! ```
//!
//! `ingest`: N fills of one bot recorded in batches of B (default 1,000), timed around
//! `record_events` only (the events are built before each call).
//! `populate`: A accounts with one bot each on a Monthly plan, F fills in all spread over
//! November 2026, an equity snapshot before and at the end of the month, referral chains
//! and strategy authors. `settle`: settles November 2026 of that plan, timed. Run each
//! under `/usr/bin/time -v` for CPU time and peak RSS. One thread (a current-thread
//! runtime).

use std::time::{Duration, Instant};

use tradewind_commission::{
    Basis, Distribution, FeeSchedule, FeeTier, PerformanceFee, Period, PeriodKind, Plan, Rate,
    Role, Share,
};
use tradewind_core::data::time::{format_iso8601, parse_iso8601};
use tradewind_core::fixed::Money;
use tradewind_events::{Body, Event, Fill, Liquidity, Performance, Side};
use tradewind_ledger::{BotRecord, Ledger, SettleOutcome};

const PLAN: &str = "bench/standard";
const SESSION: &str = "2026-10-01T00:00:00Z";
const NOVEMBER: &str = "2026-11-01T00:00:00Z";
const MONTH_NANOS: i64 = 30 * 86_400 * 1_000_000_000;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn number(args: &[String], name: &str, default: Option<usize>) -> usize {
    match arg(args, name) {
        Some(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}: {v:?} is not a whole number")),
        None => default.unwrap_or_else(|| panic!("{name} is required")),
    }
}

fn plan() -> Plan {
    let tier = |min: &str, maker: &str, taker: &str| FeeTier {
        min_volume_30d: Money::parse(min).unwrap(),
        maker: Rate::from_bps(maker).unwrap(),
        taker: Rate::from_bps(taker).unwrap(),
    };
    let share = |role, bps| Share { role, bps };
    Plan {
        currency: "USDT".into(),
        trading_fees: FeeSchedule::new(vec![
            tier("0", "2", "4"),
            tier("100000", "1.6", "3.5"),
            tier("1000000", "1.2", "3"),
        ])
        .unwrap(),
        performance_fee: Some(PerformanceFee {
            rate: Rate::from_percent("10").unwrap(),
            basis: Basis::Realized,
        }),
        period: PeriodKind::Monthly,
        distribution: Distribution::new(vec![
            share(Role::Platform, 6000),
            share(Role::StrategyAuthor, 2000),
            share(Role::Referral(1), 1500),
            share(Role::Referral(2), 500),
        ])
        .unwrap(),
    }
}

fn fill(bot: &str, seq: u64, ts: i64) -> Event {
    Event::new(
        bot,
        SESSION,
        seq,
        format_iso8601(ts),
        Body::Fill(Fill {
            order_id: seq,
            side: if seq.is_multiple_of(2) {
                Side::Buy
            } else {
                Side::Sell
            },
            price: format!("{}.25", 40_000 + seq % 1_000),
            quantity: "0.015".into(),
            fee: "0.6".into(),
            liquidity: if seq.is_multiple_of(3) {
                Liquidity::Maker
            } else {
                Liquidity::Taker
            },
        }),
    )
}

fn equity(bot: &str, seq: u64, ts: i64, equity: &str, realized: &str) -> Event {
    Event::new(
        bot,
        SESSION,
        seq,
        format_iso8601(ts),
        Body::EquitySnapshot(Performance {
            equity: equity.into(),
            realized_pnl: realized.into(),
            unrealized_pnl: "0".into(),
            fees: "0".into(),
            drawdown_percent: "0.00".into(),
            bars: seq,
            orders: 0,
            fills: 0,
            rejected: 0,
            refused: 0,
            halted: None,
        }),
    )
}

fn record(bot: &str, account: &str) -> BotRecord {
    BotRecord {
        bot: bot.into(),
        account: account.into(),
        plan: Some(PLAN.into()),
        quote_currency: "USDT".into(),
        strategy: Some(format!("bench/strategy-{}", account.len() % 7)),
    }
}

async fn ingest(url: &str, fills: usize, batch: usize) {
    let l = Ledger::open(url).await.unwrap();
    l.create_account("bench", "Bench").await.unwrap();
    let bot = record("bench/ingest", "bench");
    let start = parse_iso8601(NOVEMBER).unwrap();
    let step = MONTH_NANOS / fills.max(1) as i64;
    let mut spent = Duration::ZERO;
    let mut seq = 0u64;
    while (seq as usize) < fills {
        let n = batch.min(fills - seq as usize);
        let events: Vec<Event> = (0..n as u64)
            .map(|i| fill(&bot.bot, seq + i, start + (seq + i) as i64 * step))
            .collect();
        let t = Instant::now();
        let r = l.record_events(&bot, &events).await.unwrap();
        spent += t.elapsed();
        assert_eq!(r.stored, n);
        seq += n as u64;
    }
    let h = l.history(&bot.bot).await.unwrap();
    assert_eq!(h.fills as usize, fills);
    println!(
        "ingest: {fills} fills in batches of {batch}: {:.3} s in record_events, {:.0} fills/s",
        spent.as_secs_f64(),
        fills as f64 / spent.as_secs_f64()
    );
    l.close().await;
}

async fn populate(url: &str, accounts: usize, fills: usize) {
    let l = Ledger::open(url).await.unwrap();
    let t = Instant::now();
    let id = |i: usize| format!("acct-{i:06}");
    for i in 0..accounts {
        l.create_account(&id(i), &id(i)).await.unwrap();
    }
    for s in 0..7 {
        l.set_strategy_author(&format!("bench/strategy-{s}"), &id(s % accounts))
            .await
            .unwrap();
    }
    let since = parse_iso8601("2026-01-01T00:00:00Z").unwrap();
    // Every account but the first ten referred by the one ten before it: chains of two.
    for i in 10..accounts {
        l.set_referrer(&id(i), &id(i - 10), since).await.unwrap();
    }
    let start = parse_iso8601(NOVEMBER).unwrap();
    let per = fills / accounts.max(1);
    let mut extra = fills % accounts.max(1);
    let mut total = 0;
    for i in 0..accounts {
        let n = per + usize::from(extra > 0);
        extra = extra.saturating_sub(1);
        let bot = record(&format!("bench/bot-{i:06}"), &id(i));
        let mut events = Vec::with_capacity(n + 2);
        events.push(equity(&bot.bot, 0, start - 3_600_000_000_000, "1000", "0"));
        let step = MONTH_NANOS / (n as i64 + 1);
        for k in 0..n as u64 {
            // Offset per account so accounts' fills interleave in time.
            let ts = start + (k as i64 + 1) * step - (i as i64 % 1_000);
            events.push(fill(&bot.bot, k + 1, ts));
        }
        let profit = format!("{}", 1000 + i % 200);
        events.push(equity(
            &bot.bot,
            n as u64 + 1,
            start + MONTH_NANOS - 1_000_000_000,
            &profit,
            &format!("{}", i % 200),
        ));
        l.record_events(&bot, &events).await.unwrap();
        total += n;
    }
    println!(
        "populate: {accounts} accounts, {total} fills in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    l.close().await;
}

async fn settle(url: &str) {
    let l = Ledger::open(url).await.unwrap();
    let plan = plan();
    let period = Period::containing(PeriodKind::Monthly, parse_iso8601(NOVEMBER).unwrap());
    let now = parse_iso8601("2026-12-01T00:10:00Z").unwrap();
    let t = Instant::now();
    let outcome = l.settle(PLAN, &plan, period, now).await.unwrap();
    let spent = t.elapsed();
    match outcome {
        SettleOutcome::Settled(s) => println!(
            "settle: {} accounts charged, {} charges, trading fees {}, performance fees {}, in {:.3} s",
            s.accounts_charged,
            s.charges,
            s.trading_fees,
            s.performance_fees,
            spent.as_secs_f64()
        ),
        SettleOutcome::AlreadySettled { id, .. } => println!("settle: {id} was settled before"),
    }
    l.close().await;
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = arg(&args, "--url").expect("--url is required");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("ingest") => rt.block_on(ingest(
            &url,
            number(&args, "--fills", None),
            number(&args, "--batch", Some(1_000)),
        )),
        Some("populate") => rt.block_on(populate(
            &url,
            number(&args, "--accounts", None),
            number(&args, "--fills", None),
        )),
        Some("settle") => rt.block_on(settle(&url)),
        _ => panic!("usage: ledger_bench ingest|populate|settle --url URL …"),
    }
}
