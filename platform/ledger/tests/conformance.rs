//! The ledger's conformance suite, run on both engines: SQLite in a temporary directory
//! and a real PostgreSQL server (Debian's `postgresql` package) started by this test
//! binary with `initdb`/`pg_ctl` in a temporary directory — as the unprivileged user
//! `nobody` when the tests run as root, since PostgreSQL refuses root. One server for
//! the binary; every case gets its own database.

use std::path::PathBuf;

use tradewind_commission::{
    Basis, Distribution, FeeSchedule, FeeTier, PerformanceFee, Period, PeriodKind, Plan, Rate,
    Role as ShareRole, Share,
};
use tradewind_core::data::time::parse_iso8601;
use tradewind_core::fixed::Money;
use tradewind_events::{
    Body, Event, Fill, Liquidity, Order, OrderType, Performance, Side, TimeInForce,
};
use tradewind_ledger::accounts::Role;
use tradewind_ledger::{
    BotRecord, CapitalChange, LATEST_VERSION, Ledger, LedgerError, SettleOutcome, StatementKind,
};
use tradewind_test_support::postgres::PgServer;

// ---- the engines --------------------------------------------------------------------

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "tradewind-ledger-{tag}-{}-{}",
            std::process::id(),
            tradewind_ledger::accounts::now_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

enum Db {
    Sqlite(Scratch),
    Postgres(PgServer),
}

impl Db {
    async fn url(&self, case: &str) -> String {
        match self {
            Db::Sqlite(dir) => format!("sqlite:{}", dir.0.join(format!("{case}.db")).display()),
            Db::Postgres(server) => {
                use sqlx::Connection;
                let mut admin = sqlx::PgConnection::connect(&server.url("postgres"))
                    .await
                    .unwrap();
                sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {case}").as_str())
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                server.url(case)
            }
        }
    }
}

macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        async fn run(db: &Db) {
            $(
                let url = db.url(stringify!($case)).await;
                $case(&url).await;
                eprintln!("ok: {}", stringify!($case));
            )*
        }
    };
}

cases!(
    migrations_apply_once_and_refuse_a_newer_schema,
    a_retried_batch_is_stored_once,
    a_known_id_with_other_content_is_refused,
    an_unknown_account_is_refused_with_the_reason,
    malformed_or_negative_amounts_name_the_event_and_field,
    one_referrer_per_account_and_no_cycles,
    settlement_books_balanced_and_once,
    a_large_batch_is_stored_in_chunks_and_repeats_inside_it_are_judged,
    a_late_fill_is_charged_in_the_next_settlement,
    a_deposit_is_not_charged_as_profit_and_changes_are_checked,
    the_apis_pages_keys_and_nonces,
    notifications_are_enqueued_with_their_events_and_claimed_once,
    a_version_4_database_with_settlements_migrates_and_reads_the_same,
    an_unreachable_database_fails_readiness_and_refuses_a_batch,
    a_daily_summary_is_enqueued_once_per_account_and_day,
);

#[tokio::test]
async fn conformance_on_sqlite() {
    run(&Db::Sqlite(Scratch::new("sqlite"))).await;
}

#[tokio::test]
async fn conformance_on_postgresql() {
    run(&Db::Postgres(PgServer::start())).await;
}

// ---- fixtures -----------------------------------------------------------------------

const BOT: &str = "trading/btc-bot";
const SESSION: &str = "2026-11-01T00:00:00Z";

fn bot(account: &str) -> BotRecord {
    BotRecord {
        bot: BOT.into(),
        account: account.into(),
        plan: Some("standard".into()),
        quote_currency: "USDT".into(),
        strategy: Some("trading/sma".into()),
    }
}

fn fill(seq: u64, ts: &str, price: &str, qty: &str) -> Event {
    Event::new(
        BOT,
        SESSION,
        seq,
        ts.into(),
        Body::Fill(Fill {
            order_id: seq,
            side: Side::Buy,
            price: price.into(),
            quantity: qty.into(),
            fee: "10".into(),
            liquidity: Liquidity::Taker,
        }),
    )
}

fn equity(seq: u64, ts: &str, equity: &str) -> Event {
    Event::new(
        BOT,
        SESSION,
        seq,
        ts.into(),
        Body::EquitySnapshot(Performance {
            equity: equity.into(),
            realized_pnl: "0".into(),
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

fn order(seq: u64, order_id: u64) -> Event {
    Event::new(
        BOT,
        SESSION,
        seq,
        "2026-11-02T09:59:00Z".into(),
        Body::OrderSubmitted {
            order: Order {
                order_id,
                side: Side::Buy,
                order_type: OrderType::Limit,
                quantity: "0.2".into(),
                price: Some("50000".into()),
                trigger: None,
                time_in_force: TimeInForce::Gtc,
                post_only: false,
            },
        },
    )
}

fn plan() -> Plan {
    let share = |role, bps| Share { role, bps };
    Plan {
        currency: "USDT".into(),
        trading_fees: FeeSchedule::new(vec![FeeTier {
            min_volume_30d: Money::ZERO,
            maker: Rate::from_bps("5").unwrap(),
            taker: Rate::from_bps("10").unwrap(),
        }])
        .unwrap(),
        performance_fee: Some(PerformanceFee {
            rate: Rate::from_percent("10").unwrap(),
            basis: Basis::Realized,
        }),
        period: PeriodKind::Daily,
        distribution: Distribution::new(vec![
            share(ShareRole::Platform, 6000),
            share(ShareRole::StrategyAuthor, 2000),
            share(ShareRole::Referral(1), 1500),
            share(ShareRole::Referral(2), 500),
        ])
        .unwrap(),
    }
}

fn ts(s: &str) -> i64 {
    parse_iso8601(s).unwrap()
}

fn money(s: &str) -> Money {
    Money::parse(s).unwrap()
}

// ---- cases --------------------------------------------------------------------------

async fn migrations_apply_once_and_refuse_a_newer_schema(url: &str) {
    let l = Ledger::connect(url).await.unwrap();
    let s = l.migrate().await.unwrap();
    assert_eq!((s.from, s.to), (0, LATEST_VERSION));
    let s = l.migrate().await.unwrap();
    assert_eq!((s.from, s.to), (LATEST_VERSION, LATEST_VERSION));
    l.check_schema().await.unwrap();
    l.close().await;
    // A database a newer build migrated.
    {
        use sqlx::Connection;
        let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
        sqlx::query("INSERT INTO tradewind_ledger_schema (version, description, applied_at) VALUES (99, 'from the future', 0)")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
    let err = Ledger::open(url).await.unwrap_err();
    assert!(
        matches!(err, LedgerError::NewerSchema { found: 99, supported } if supported == LATEST_VERSION)
    );
    let text = err.to_string();
    assert!(
        text.contains("version 99") && text.contains(&format!("this ledger's {LATEST_VERSION}")),
        "{text}"
    );
}

async fn a_retried_batch_is_stored_once(url: &str) {
    let l = Ledger::open(url).await.unwrap();
    l.create_account("alice", "Alice").await.unwrap();
    let started = Event::new(
        BOT,
        SESSION,
        0,
        "2026-11-02T09:00:00Z".into(),
        Body::Started(tradewind_events::Start {
            mode: tradewind_events::Mode::Paper,
            replayed_bars: 0,
            config_hash: "x".into(),
            cancelled_orphans: vec![],
        }),
    );
    let accepted = Event::new(
        BOT,
        SESSION,
        2,
        "2026-11-02T09:59:01Z".into(),
        Body::OrderAccepted {
            order_id: 1,
            triggered: false,
        },
    );
    let batch = vec![
        started,
        order(1, 1),
        accepted,
        fill(3, "2026-11-02T10:00:00Z", "50000", "0.2"),
        equity(4, "2026-11-02T10:01:00Z", "1000"),
    ];
    let r = l.record_events(&bot("alice"), &batch).await.unwrap();
    assert_eq!((r.stored, r.duplicates, r.skipped), (4, 0, 1));
    // The worker did not get the acknowledgement and sends it again, and more.
    let mut again = batch.clone();
    again.push(equity(5, "2026-11-02T10:02:00Z", "1001"));
    let r = l.record_events(&bot("alice"), &again).await.unwrap();
    assert_eq!((r.stored, r.duplicates, r.skipped), (1, 4, 1));
    let h = l.history(BOT).await.unwrap();
    assert_eq!(
        (h.events, h.fills, h.orders, h.equity_snapshots),
        (5, 1, 1, 2)
    );
    assert_eq!(
        l.order_status(BOT, SESSION, 1).await.unwrap().as_deref(),
        Some("accepted")
    );
}

async fn a_known_id_with_other_content_is_refused(url: &str) {
    let l = Ledger::open(url).await.unwrap();
    l.create_account("alice", "Alice").await.unwrap();
    l.record_events(
        &bot("alice"),
        &[fill(1, "2026-11-02T10:00:00Z", "50000", "0.2")],
    )
    .await
    .unwrap();
    let forged = fill(1, "2026-11-02T10:00:00Z", "49000", "0.2");
    let fresh = equity(2, "2026-11-02T10:01:00Z", "1000");
    let err = l
        .record_events(&bot("alice"), &[fresh, forged.clone()])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LedgerError::Conflict { id } if *id == forged.id),
        "{err}"
    );
    assert!(err.to_string().contains(&forged.id));
    // Nothing of the refused batch was stored.
    let h = l.history(BOT).await.unwrap();
    assert_eq!((h.events, h.fills, h.equity_snapshots), (1, 1, 0));
}

async fn an_unknown_account_is_refused_with_the_reason(url: &str) {
    let l = Ledger::open(url).await.unwrap();
    let err = l
        .record_events(&bot("nobody"), &[fill(1, "2026-11-02T10:00:00Z", "1", "1")])
        .await
        .unwrap_err();
    assert!(matches!(&err, LedgerError::UnknownAccount { account, .. } if account == "nobody"));
    let text = err.to_string();
    assert!(text.contains("\"nobody\"") && text.contains(BOT), "{text}");
    assert_eq!(l.history(BOT).await.unwrap().events, 0);
    // Referring to an unknown account is refused too.
    l.create_account("alice", "Alice").await.unwrap();
    assert!(matches!(
        l.set_referrer("alice", "ghost", 0).await.unwrap_err(),
        LedgerError::UnknownAccount { account, .. } if account == "ghost"
    ));
}

async fn malformed_or_negative_amounts_name_the_event_and_field(url: &str) {
    let l = Ledger::open(url).await.unwrap();
    l.create_account("alice", "Alice").await.unwrap();
    for (e, field) in [
        (fill(1, "2026-11-02T10:00:00Z", "-5", "1"), "price"),
        (fill(2, "2026-11-02T10:00:00Z", "5", "1e3"), "quantity"),
        (fill(3, "yesterday", "5", "1"), "ts"),
        (equity(4, "2026-11-02T10:00:00Z", "abc"), "equity"),
    ] {
        let err = l
            .record_events(&bot("alice"), std::slice::from_ref(&e))
            .await
            .unwrap_err();
        match &err {
            LedgerError::InvalidEvent { id, field: f, .. } => {
                assert_eq!((id.as_str(), f.as_str()), (e.id.as_str(), field), "{err}")
            }
            other => panic!("expected InvalidEvent for {field}, got {other}"),
        }
    }
    assert_eq!(l.history(BOT).await.unwrap().events, 0);
}

async fn one_referrer_per_account_and_no_cycles(url: &str) {
    let l = Ledger::open(url).await.unwrap();
    for a in ["a", "b", "c", "d"] {
        l.create_account(a, a).await.unwrap();
    }
    let t0 = ts("2026-01-01T00:00:00Z");
    l.set_referrer("a", "b", t0).await.unwrap();
    l.set_referrer("b", "c", t0).await.unwrap();
    let err = l.set_referrer("a", "d", t0).await.unwrap_err().to_string();
    assert!(err.contains("already has referrer \"b\""), "{err}");
    let err = l.set_referrer("c", "a", t0).await.unwrap_err().to_string();
    assert!(
        err.contains("cycle") && err.contains("c → a → b → c"),
        "{err}"
    );
    let err = l.set_referrer("d", "d", t0).await.unwrap_err().to_string();
    assert!(err.contains("cannot refer itself"), "{err}");
    assert_eq!(
        l.referral_chain("a", t0, 5).await.unwrap(),
        ["b".to_owned(), "c".to_owned()]
    );
    // An ended relationship makes room for the next referrer, from its end on.
    let t1 = ts("2026-06-01T00:00:00Z");
    l.end_referral("a", t1).await.unwrap();
    l.set_referrer("a", "d", t1).await.unwrap();
    assert_eq!(l.referral_chain("a", t0, 5).await.unwrap()[0], "b");
    assert_eq!(
        l.referral_chain("a", t1, 5).await.unwrap(),
        ["d".to_owned()]
    );
    l.add_member("a", "user-1", Role::Owner).await.unwrap();
    let list = l.list_accounts().await.unwrap();
    assert_eq!(list.len(), 4);
    assert_eq!(list[0].members, [("user-1".to_owned(), "owner".to_owned())]);
}

async fn settlement_books_balanced_and_once(url: &str) {
    let l = Ledger::open(url).await.unwrap();
    for a in ["alice", "bob", "carol"] {
        l.create_account(a, a).await.unwrap();
    }
    l.set_referrer("alice", "bob", ts("2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    l.set_strategy_author("trading/sma", "carol").await.unwrap();
    l.record_events(
        &bot("alice"),
        &[
            equity(1, "2026-11-01T23:00:00Z", "1000"),
            fill(2, "2026-11-02T10:00:00Z", "50000", "0.2"),
            equity(3, "2026-11-02T23:00:00Z", "1200"),
        ],
    )
    .await
    .unwrap();
    let plan = plan();
    let day = Period::containing(PeriodKind::Daily, ts("2026-11-02T00:00:00Z"));
    // Not ended yet.
    let err = l
        .settle("standard", &plan, day, ts("2026-11-02T23:59:59Z"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot be settled yet"), "{err}");
    let now = ts("2026-11-03T00:05:00Z");
    let SettleOutcome::Settled(s) = l.settle("standard", &plan, day, now).await.unwrap() else {
        panic!("expected a settlement");
    };
    // 10 bp of 10 000 notional; 10 % of 200 profit over the starting 1 000.
    assert_eq!(s.trading_fees, money("10"));
    assert_eq!(s.performance_fees, money("20"));
    assert_eq!((s.accounts_charged, s.charges), (1, 2));
    assert_eq!(s.by_class["platform"], money("18"));
    assert_eq!(s.by_class["strategyAuthor"], money("6"));
    // Level 2 has nobody: paid to the platform, still totalled under its own class.
    assert_eq!(s.by_class["referral1"], money("4.5"));
    assert_eq!(s.by_class["referral2"], money("1.5"));
    let journal = l.check_journal().await.unwrap();
    assert!(journal.balanced(), "{journal:?}");
    assert_eq!((journal.transfers, journal.entries), (4, 4 + 10));
    assert_eq!(journal.ledgers["USDT"], (money("60"), money("60")));
    // Statements: the account's and each recipient's; the platform shows the level-2
    // share it took for nobody.
    let (json, csv) = l
        .statement(&s.id, StatementKind::Account, "alice")
        .await
        .unwrap()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["total"], "30.00");
    assert_eq!(csv.lines().count(), 1 + 2 * 4);
    let (json, _) = l
        .statement(&s.id, StatementKind::Payout, "platform")
        .await
        .unwrap()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["total"], "19.50");
    assert_eq!(v["byRole"]["referral2 (unclaimed)"], "1.50");
    let (json, _) = l
        .statement(&s.id, StatementKind::Payout, "bob")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json).unwrap()["total"],
        "4.50"
    );
    // Again: nothing changes, and it says so.
    match l.settle("standard", &plan, day, now).await.unwrap() {
        SettleOutcome::AlreadySettled { id, summary, .. } => {
            assert_eq!(id, s.id);
            assert_eq!(summary, s.to_json());
        }
        other => panic!("expected AlreadySettled, got {other:?}"),
    }
    assert_eq!(l.check_journal().await.unwrap(), journal);
    // The next day: the mark is 1 200 now, equity unchanged, so no performance fee.
    let next = day.next();
    let SettleOutcome::Settled(s2) = l
        .settle("standard", &plan, next, ts("2026-11-04T00:00:00Z"))
        .await
        .unwrap()
    else {
        panic!("expected a settlement");
    };
    assert_eq!((s2.charges, s2.performance_fees), (0, Money::ZERO));
    assert_eq!(
        l.last_settlement("standard").await.unwrap().unwrap()["id"],
        s2.id.as_str()
    );
}

fn status(seq: u64, order_id: u64, canceled: bool) -> Event {
    Event::new(
        BOT,
        SESSION,
        seq,
        "2026-11-02T09:59:30Z".into(),
        if canceled {
            Body::OrderCanceled {
                order_id,
                unfilled: "0.2".into(),
            }
        } else {
            Body::OrderAccepted {
                order_id,
                triggered: false,
            }
        },
    )
}

async fn a_large_batch_is_stored_in_chunks_and_repeats_inside_it_are_judged(url: &str) {
    let l = Ledger::open(url).await.unwrap();
    l.create_account("alice", "Alice").await.unwrap();
    // 3 000 orders (12 parameters a row) and fills (13): more than one statement's worth
    // of bind parameters on either engine.
    const N: u64 = 3_000;
    let mut batch = Vec::new();
    for i in 0..N {
        batch.push(order(4 * i, i));
        batch.push(status(4 * i + 1, i, false));
        if i % 2 == 0 {
            // Accepted, then canceled in the same batch: the last state wins.
            batch.push(status(4 * i + 2, i, true));
        }
        batch.push(fill(4 * i + 3, "2026-11-02T10:00:00Z", "50000", "0.001"));
    }
    // A repeat of an event inside the batch is a retry.
    batch.push(batch[3].clone());
    let r = l.record_events(&bot("alice"), &batch).await.unwrap();
    let distinct = batch.len() - 1;
    assert_eq!((r.stored, r.duplicates, r.skipped), (distinct, 1, 0));
    let h = l.history(BOT).await.unwrap();
    assert_eq!(
        (h.events, h.fills, h.orders),
        (distinct as i64, N as i64, N as i64)
    );
    for (id, expected) in [(0, "canceled"), (1, "accepted"), (N - 1, "accepted")] {
        assert_eq!(
            l.order_status(BOT, SESSION, id).await.unwrap().as_deref(),
            Some(expected),
            "order {id}"
        );
    }
    // Sent again: every event a duplicate, nothing stored.
    let r = l.record_events(&bot("alice"), &batch).await.unwrap();
    assert_eq!((r.stored, r.duplicates), (0, batch.len()));
    // One id twice with different content inside a new batch: refused, nothing stored.
    let a = equity(1_000_000, "2026-11-02T11:00:00Z", "1000");
    let b = equity(1_000_000, "2026-11-02T11:00:00Z", "1001");
    let fresh = equity(1_000_001, "2026-11-02T11:01:00Z", "1000");
    let err = l
        .record_events(&bot("alice"), &[fresh, a.clone(), b])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LedgerError::Conflict { id } if *id == a.id),
        "{err}"
    );
    assert_eq!(l.history(BOT).await.unwrap(), h);
}

async fn a_late_fill_is_charged_in_the_next_settlement(url: &str) {
    let l = Ledger::open(url).await.unwrap();
    l.create_account("alice", "Alice").await.unwrap();
    l.record_events(
        &bot("alice"),
        &[
            equity(1, "2026-11-01T23:00:00Z", "1000"),
            fill(2, "2026-11-02T10:00:00Z", "50000", "0.2"),
        ],
    )
    .await
    .unwrap();
    let plan = plan();
    let day = Period::containing(PeriodKind::Daily, ts("2026-11-02T00:00:00Z"));
    let SettleOutcome::Settled(s) = l
        .settle("standard", &plan, day, ts("2026-11-03T00:05:00Z"))
        .await
        .unwrap()
    else {
        panic!("expected a settlement");
    };
    assert_eq!(s.trading_fees, money("10"));
    // The worker's backlog delivers a fill of the settled day afterwards: stored, and
    // charged by the next settlement (at the tier of its own day), once.
    let late = fill(3, "2026-11-02T20:00:00Z", "25000", "0.2");
    let r = l
        .record_events(&bot("alice"), std::slice::from_ref(&late))
        .await
        .unwrap();
    assert_eq!(r.stored, 1);
    let SettleOutcome::Settled(s2) = l
        .settle("standard", &plan, day.next(), ts("2026-11-04T00:00:00Z"))
        .await
        .unwrap()
    else {
        panic!("expected a settlement");
    };
    assert_eq!((s2.charges, s2.trading_fees), (1, money("5")));
    let (json, _) = l
        .statement(&s2.id, StatementKind::Account, "alice")
        .await
        .unwrap()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["charges"][0]["detail"]["fills"], 1);
    assert_eq!(v["charges"][0]["detail"]["lateFills"], 1);
    // Retried: a duplicate, not late again; the day after charges nothing.
    let r = l.record_events(&bot("alice"), &[late]).await.unwrap();
    assert_eq!((r.stored, r.duplicates), (0, 1));
    let SettleOutcome::Settled(s3) = l
        .settle(
            "standard",
            &plan,
            day.next().next(),
            ts("2026-11-05T00:00:00Z"),
        )
        .await
        .unwrap()
    else {
        panic!("expected a settlement");
    };
    assert_eq!(s3.charges, 0);
    assert!(l.check_journal().await.unwrap().balanced());
}

async fn a_deposit_is_not_charged_as_profit_and_changes_are_checked(url: &str) {
    let l = Ledger::open(url).await.unwrap();
    l.create_account("alice", "Alice").await.unwrap();
    let change = |id: &str, at: &str, amount: &str| CapitalChange {
        id: id.into(),
        bot: BOT.into(),
        ts: ts(at),
        amount: money(amount),
        note: "test".into(),
    };
    // Unknown to the ledger until its first events are recorded.
    let err = l
        .record_capital_change(&change("d1", "2026-11-02T12:00:00Z", "500"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not known to the ledger"), "{err}");
    l.record_events(
        &bot("alice"),
        &[
            equity(1, "2026-11-01T23:00:00Z", "1000"),
            equity(2, "2026-11-02T11:00:00Z", "1000"),
            // 500 deposited at noon, then 100 of profit.
            equity(3, "2026-11-02T23:00:00Z", "1600"),
        ],
    )
    .await
    .unwrap();
    let d1 = change("d1", "2026-11-02T12:00:00Z", "500");
    assert!(l.record_capital_change(&d1).await.unwrap());
    // A retry records nothing twice; other content under the id is refused; zero too.
    assert!(!l.record_capital_change(&d1).await.unwrap());
    let err = l
        .record_capital_change(&change("d1", "2026-11-02T12:00:00Z", "600"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("other content"), "{err}");
    let err = l
        .record_capital_change(&change("z", "2026-11-02T12:00:00Z", "0"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("amount:"), "{err}");
    let plan = plan();
    let day = Period::containing(PeriodKind::Daily, ts("2026-11-02T00:00:00Z"));
    let SettleOutcome::Settled(s) = l
        .settle("standard", &plan, day, ts("2026-11-03T00:05:00Z"))
        .await
        .unwrap()
    else {
        panic!("expected a settlement");
    };
    // 10 % of the 100 of profit; the 500 deposited is not profit.
    assert_eq!(s.performance_fees, money("10"));
    // A change inside the settled day is refused, naming why.
    let err = l
        .record_capital_change(&change("w1", "2026-11-02T18:00:00Z", "-100"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("already settled"), "{err}");
    // A withdrawal the next day leaves the mark: no fee on the money taken out, none
    // on the unchanged rest.
    l.record_capital_change(&change("w1", "2026-11-03T12:00:00Z", "-600"))
        .await
        .unwrap();
    l.record_events(
        &bot("alice"),
        &[
            equity(4, "2026-11-03T11:00:00Z", "1600"),
            equity(5, "2026-11-03T23:00:00Z", "1000"),
        ],
    )
    .await
    .unwrap();
    let SettleOutcome::Settled(s2) = l
        .settle("standard", &plan, day.next(), ts("2026-11-04T00:05:00Z"))
        .await
        .unwrap()
    else {
        panic!("expected a settlement");
    };
    assert_eq!(s2.performance_fees, Money::ZERO);
}

/// The user API's reads and writes: pages in time order after a key, one account's rows
/// only, snapshots with their currency, keys revoked once, a nonce used once.
async fn the_apis_pages_keys_and_nonces(url: &str) {
    use tradewind_ledger::api::{ApiKey, KeyScope};
    let l = Ledger::open(url).await.unwrap();
    l.create_account("alice", "Alice").await.unwrap();
    l.create_account("bob", "Bob").await.unwrap();
    l.add_member("alice", "sub-a", Role::Owner).await.unwrap();
    let mut batch = vec![order(0, 1), order(1, 2)];
    for i in 0..5u64 {
        batch.push(fill(
            10 + i,
            &format!("2026-11-02T10:0{i}:00Z"),
            "50000",
            "0.1",
        ));
    }
    batch.push(equity(20, "2026-11-02T11:00:00Z", "1000"));
    batch.push(equity(21, "2026-11-02T12:00:00Z", "990"));
    l.record_events(&bot("alice"), &batch).await.unwrap();
    let (from, to) = (ts("2026-11-01T00:00:00Z"), ts("2026-12-01T00:00:00Z"));
    let first = l
        .fills_page("alice", None, from, to, None, 3)
        .await
        .unwrap();
    assert_eq!(first.len(), 3);
    let last = first.last().unwrap();
    let rest = l
        .fills_page(
            "alice",
            Some(BOT),
            from,
            to,
            Some((last.ts, last.id.as_str())),
            3,
        )
        .await
        .unwrap();
    let orders: Vec<i64> = first.iter().chain(&rest).map(|f| f.order_id).collect();
    assert_eq!(orders, vec![10, 11, 12, 13, 14]);
    assert!(
        l.fills_page("bob", None, from, to, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        l.fills_page("alice", Some("trading/other"), from, to, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let o = l
        .orders_page("alice", None, from, to, None, 1)
        .await
        .unwrap();
    assert_eq!(o.len(), 1);
    let key = format!("{}/{}/{}", o[0].bot, o[0].session, o[0].order_id);
    let o2 = l
        .orders_page(
            "alice",
            None,
            from,
            to,
            Some((o[0].submitted_at, key.as_str())),
            10,
        )
        .await
        .unwrap();
    assert_eq!(o2.len(), 1);
    assert_ne!(o2[0].order_id, o[0].order_id);
    let snaps = l.snapshots("alice", Some(BOT), from, to, 10).await.unwrap();
    assert_eq!(
        snaps.iter().map(|s| s.equity.as_str()).collect::<Vec<_>>(),
        ["1000.00", "990.00"]
    );
    assert_eq!(snaps[0].currency, "USDT");
    assert!(l.bot_of("alice", BOT).await.unwrap());
    assert!(!l.bot_of("bob", BOT).await.unwrap());
    assert!(
        l.charges_page("alice", from, to, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        l.member_role("alice", "sub-a").await.unwrap(),
        Some(Role::Owner)
    );
    assert_eq!(l.member_role("bob", "sub-a").await.unwrap(), None);

    let k = ApiKey {
        id: "twk_1".into(),
        account: Some("alice".into()),
        scope: KeyScope::Trade,
        name: "ci".into(),
        signing_key: "00".repeat(32),
        created_by: "sub-a".into(),
        created_at: 1,
        revoked_at: None,
    };
    l.create_api_key(&k).await.unwrap();
    assert_eq!(l.api_key("twk_1").await.unwrap().as_ref(), Some(&k));
    assert_eq!(l.api_keys(Some("alice")).await.unwrap().len(), 1);
    assert!(l.api_keys(None).await.unwrap().is_empty());
    assert!(l.use_nonce("twk_1", "n-0000001", 100, 0).await.unwrap());
    assert!(
        !l.use_nonce("twk_1", "n-0000001", 100, 0).await.unwrap(),
        "a replay"
    );
    // Past the window the nonce is forgotten (its timestamp is refused before anyway).
    assert!(l.use_nonce("twk_1", "n-0000001", 300, 200).await.unwrap());
    assert!(l.revoke_api_key("twk_1", 5).await.unwrap());
    assert!(!l.revoke_api_key("twk_1", 6).await.unwrap());
    assert_eq!(
        l.api_key("twk_1").await.unwrap().unwrap().revoked_at,
        Some(5)
    );
}

fn channel(
    id: &str,
    account: &str,
    rules: tradewind_notify::Rules,
) -> tradewind_ledger::notify::Channel {
    tradewind_ledger::notify::Channel {
        id: id.into(),
        account: account.into(),
        name: id.into(),
        settings: tradewind_notify::Settings::Telegram {
            chat_id: "42".into(),
        },
        sealed_secret: "v1:sealed".into(),
        rules,
        created_at: 1,
    }
}

async fn notifications_are_enqueued_with_their_events_and_claimed_once(url: &str) {
    use tradewind_notify::{After, Kind, Mode, Outbox, Rules};
    let l = Ledger::open(url).await.unwrap();
    for a in ["alice", "bob", "carol"] {
        l.create_account(a, a).await.unwrap();
    }
    l.set_referrer("alice", "bob", ts("2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    l.set_strategy_author("trading/sma", "carol").await.unwrap();
    let no_fills = Rules([(Kind::Fill, Mode::Off)].into());
    l.create_channel(&channel("ch_a1", "alice", Rules::default()))
        .await
        .unwrap();
    l.create_channel(&channel("ch_a2", "alice", no_fills))
        .await
        .unwrap();
    l.create_channel(&channel("ch_b", "bob", Rules::default()))
        .await
        .unwrap();
    let halted = Event::new(
        BOT,
        SESSION,
        3,
        "2026-11-02T11:00:00Z".into(),
        Body::Halted {
            cause: tradewind_events::HaltCause::DailyLossLimit,
            message: "daily loss 5% reached".into(),
        },
    );
    let batch = [
        equity(1, "2026-11-01T23:00:00Z", "1000"),
        fill(2, "2026-11-02T10:00:00Z", "50000", "0.2"),
        halted,
        equity(4, "2026-11-02T23:00:00Z", "1200"),
    ];
    l.record_events(&bot("alice"), &batch).await.unwrap();
    // A retried batch enqueues nothing (the fill is known; the halt's notice is too).
    l.record_events(&bot("alice"), &batch).await.unwrap();
    let of = async |account: &str| {
        let mut v: Vec<(String, String)> = l
            .deliveries(account, None, None, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.channel_id, d.kind))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        of("alice").await,
        [
            ("ch_a1", "botHalted"),
            ("ch_a1", "fill"),
            ("ch_a2", "botHalted")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // A settlement notifies the charged account and the accounts it pays (bob, the
    // referrer; carol has no channel), in its transaction.
    let day = Period::containing(PeriodKind::Daily, ts("2026-11-02T00:00:00Z"));
    l.settle("standard", &plan(), day, ts("2026-11-03T00:05:00Z"))
        .await
        .unwrap();
    assert_eq!(of("alice").await.len(), 5, "{:?}", of("alice").await);
    assert!(
        of("alice")
            .await
            .contains(&("ch_a2".into(), "statementReady".into()))
    );
    assert_eq!(
        of("bob").await,
        [("ch_b".to_string(), "referralPayout".to_string())]
    );

    // Claiming: due rows once; a claimed row hides until its lease ends.
    // Enqueued due at the wall clock's now.
    let now = tradewind_ledger::accounts::now_nanos() + 1_000_000;
    let all = l.claim(now + 1, now + 100, 100, &[]).await.unwrap();
    assert_eq!(all.len(), 6);
    assert!(
        all.iter()
            .all(|c| c.attempts == 1 && c.sealed_secret == "v1:sealed")
    );
    assert!(
        l.claim(now + 2, now + 100, 100, &[])
            .await
            .unwrap()
            .is_empty()
    );
    // After the lease (a dispatcher that died), again — but not a busy channel's.
    let again = l
        .claim(now + 101, now + 200, 100, &["ch_a1".into(), "ch_b".into()])
        .await
        .unwrap();
    assert_eq!(again.len(), 2);
    assert!(
        again
            .iter()
            .all(|c| c.channel == "ch_a2" && c.attempts == 2)
    );
    l.delivered(&again[0].id, now + 102).await.unwrap();
    l.failed(&again[1].id, After::Dead, "telegram: answered 403")
        .await
        .unwrap();
    let dead = l.deliveries("alice", Some("dead"), None, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("telegram: answered 403")
    );
    assert!(l.retry_delivery("alice", &dead[0].id).await.unwrap());
    assert!(
        !l.retry_delivery("alice", &dead[0].id).await.unwrap(),
        "not dead now"
    );
    // Paging, newest first.
    let first = l.deliveries("alice", None, None, 2).await.unwrap();
    let last = first.last().unwrap();
    let rest = l
        .deliveries("alice", None, Some((last.created_at, &last.id)), 10)
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), 5);
    // A deleted channel's deliveries are canceled and not claimed.
    assert!(l.delete_channel("bob", "ch_b").await.unwrap());
    assert!(!l.delete_channel("bob", "ch_b").await.unwrap());
    assert!(l.channel("bob", "ch_b").await.unwrap().is_none());
    assert_eq!(
        l.deliveries("bob", Some("canceled"), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        l.set_rules(
            "alice",
            "ch_a1",
            &Rules([(Kind::Error, Mode::Silent)].into())
        )
        .await
        .unwrap()
    );
    assert!(
        !l.set_rules("bob", "ch_a1", &Rules::default())
            .await
            .unwrap(),
        "another account's"
    );
    assert_eq!(
        l.channel("alice", "ch_a1")
            .await
            .unwrap()
            .unwrap()
            .rules
            .mode(Kind::Error),
        Mode::Silent
    );
}

/// A ledger at schema version 4 with a settled month, as the version-4 code wrote it
/// (see the fixture's header): migrations 1–4 applied as that version applied them, then
/// its rows.
async fn version_4_database(url: &str) {
    use sqlx::Connection;
    // Creates the database file (SQLite), without migrating it.
    Ledger::connect(url).await.unwrap().close().await;
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE tradewind_ledger_schema (version BIGINT PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    for (version, sql) in [
        (1, include_str!("../migrations/0001_ledger.sql")),
        (
            2,
            include_str!("../migrations/0002_late_fills_capital_flows.sql"),
        ),
        (3, include_str!("../migrations/0003_api.sql")),
        (4, include_str!("../migrations/0004_notify.sql")),
    ] {
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        sqlx::query("INSERT INTO tradewind_ledger_schema (version, description, applied_at) VALUES ($1, 'as version 4 applied it', 0)")
            .bind(version as i64)
            .execute(&mut c)
            .await
            .unwrap();
    }
    sqlx::raw_sql(include_str!("fixtures/ledger_v4_settled.sql"))
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
}

/// Rows of `sql` as text (integers written in decimal), for comparing before and after.
async fn text_rows(url: &str, sql: &str) -> Vec<Vec<String>> {
    use sqlx::{Connection, Row};
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    let rows = sqlx::query(sql).fetch_all(&mut c).await.unwrap();
    c.close().await.unwrap();
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    r.try_get::<String, _>(i)
                        .or_else(|_| r.try_get::<i64, _>(i).map(|n| n.to_string()))
                        .unwrap()
                })
                .collect()
        })
        .collect()
}

/// A `trading_fee_days` key: charge, day, liquidity, late, tier.
type DayKey = (String, i64, String, i64, i64);
/// Its fills, Σ notional, Σ fee and rate.
type DaySums = (i64, Money, Money, String);

async fn a_version_4_database_with_settlements_migrates_and_reads_the_same(url: &str) {
    version_4_database(url).await;
    const PLAN: &str = "bench/standard";
    const SETTLEMENT: &str = "bench/standard/2026-11-01T00:00:00Z";
    // What version 4 stored: statements, charges and parts, the journal, and per charge
    // its per-fill fee lines (count, Σ notional, Σ fee) and per (charge, day, liquidity)
    // the fills with their rate.
    let statements_sql = "SELECT settlement, kind, subject, body_json, body_csv FROM statements ORDER BY settlement, kind, subject";
    let charges_sql = "SELECT c.id, c.account, c.bot, c.kind, c.ts, c.amount, p.idx, p.payee, p.amount FROM charges c JOIN charge_parts p ON p.charge = c.id ORDER BY c.id, p.idx";
    let statements = text_rows(url, statements_sql).await;
    let charges = text_rows(url, charges_sql).await;
    assert!(statements.len() > 12, "the fixture has statements");
    let lines = text_rows(
        url,
        "SELECT l.charge, l.ts, l.liquidity, l.tier, l.rate, l.notional, l.fee, l.late FROM trading_fee_lines l ORDER BY l.fill",
    )
    .await;
    assert!(lines.len() >= 36, "the fixture has per-fill fee lines");
    let day_of = |ts: &str| {
        ts.parse::<i64>()
            .unwrap()
            .div_euclid(tradewind_commission::DAY_NANOS)
            * tradewind_commission::DAY_NANOS
    };
    // (charge, day, liquidity, late, tier) → (fills, Σ notional, Σ fee, rate)
    let mut expected: std::collections::BTreeMap<DayKey, DaySums> = Default::default();
    for l in &lines {
        let e = expected
            .entry((
                l[0].clone(),
                day_of(&l[1]),
                l[2].clone(),
                l[7].parse().unwrap(),
                l[3].parse().unwrap(),
            ))
            .or_insert((0, Money::ZERO, Money::ZERO, l[4].clone()));
        e.0 += 1;
        e.1 += money(&l[5]);
        e.2 += money(&l[6]);
        assert_eq!(e.3, l[4], "one rate per day, liquidity and tier");
    }

    // Migrated by the current build: from 4, the per-fill lines folded into days.
    let l = Ledger::connect(url).await.unwrap();
    assert!(matches!(
        l.check_schema().await,
        Err(LedgerError::NotMigrated { found: 4, .. })
    ));
    let status = l.migrate().await.unwrap();
    assert_eq!((status.from, status.to), (4, LATEST_VERSION));
    l.check_schema().await.unwrap();
    assert_eq!(text_rows(url, statements_sql).await, statements);
    assert_eq!(text_rows(url, charges_sql).await, charges);
    let days = text_rows(
        url,
        "SELECT charge, day, liquidity, late, tier, rate, fills, notional, fee, bot FROM trading_fee_days ORDER BY charge, day, liquidity, late, tier",
    )
    .await;
    let got: std::collections::BTreeMap<_, _> = days
        .iter()
        .map(|d| {
            assert!(d[0].contains(&d[9]), "the row's bot is its charge's: {d:?}");
            (
                (
                    d[0].clone(),
                    d[1].parse::<i64>().unwrap(),
                    d[2].clone(),
                    d[3].parse().unwrap(),
                    d[4].parse().unwrap(),
                ),
                (
                    d[6].parse::<i64>().unwrap(),
                    money(&d[7]),
                    money(&d[8]),
                    d[5].clone(),
                ),
            )
        })
        .collect();
    assert_eq!(got, expected);
    // Each trading charge is the sum of its days' fees.
    for c in charges.iter().filter(|c| c[3] == "trading" && c[6] == "0") {
        let sum: Money = got
            .iter()
            .filter(|(k, _)| k.0 == c[0])
            .map(|(_, v)| v.2)
            .fold(Money::ZERO, |a, b| a + b);
        assert_eq!(sum, money(&c[5]), "charge {}", c[0]);
    }
    {
        use sqlx::Connection;
        let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
        let gone = sqlx::query("SELECT COUNT(*) FROM trading_fee_lines")
            .fetch_one(&mut c)
            .await;
        assert!(gone.is_err(), "the per-fill table is dropped");
        c.close().await.unwrap();
    }
    // The version-4 settlement reads as it did through the API's reads, and its journal
    // balances.
    let (json, csv) = l
        .statement(SETTLEMENT, StatementKind::Account, "acct-000011")
        .await
        .unwrap()
        .unwrap();
    let stored = statements
        .iter()
        .find(|s| s[1] == "account" && s[2] == "acct-000011")
        .unwrap();
    assert_eq!((&json, &csv), (&stored[3], &stored[4]));
    let page = l
        .charges_page("acct-000011", i64::MIN, i64::MAX, None, 100)
        .await
        .unwrap();
    let mut ids: Vec<&String> = charges
        .iter()
        .filter(|c| c[1] == "acct-000011")
        .map(|c| &c[0])
        .collect();
    ids.dedup();
    assert_eq!(
        page.iter().map(|c| &c.id).collect::<Vec<_>>().len(),
        ids.len(),
        "{page:?}"
    );
    assert!(page.iter().any(|c| c.kind == "trading"), "{page:?}");
    assert!(l.check_journal().await.unwrap().balanced());
    // Settling it again changes nothing; the next month settles on top of it, its
    // trading fees in day rows.
    let plan = {
        let tier = |min: &str, maker: &str, taker: &str| FeeTier {
            min_volume_30d: money(min),
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
                share(ShareRole::Platform, 6000),
                share(ShareRole::StrategyAuthor, 2000),
                share(ShareRole::Referral(1), 1500),
                share(ShareRole::Referral(2), 500),
            ])
            .unwrap(),
        }
    };
    let november = Period::containing(PeriodKind::Monthly, ts("2026-11-01T00:00:00Z"));
    assert!(matches!(
        l.settle(PLAN, &plan, november, ts("2026-12-02T00:00:00Z"))
            .await
            .unwrap(),
        SettleOutcome::AlreadySettled { .. }
    ));
    let bot = BotRecord {
        bot: "bench/bot-000011".into(),
        account: "acct-000011".into(),
        plan: Some(PLAN.into()),
        quote_currency: "USDT".into(),
        strategy: Some("bench/strategy-4".into()),
    };
    // Its id holds spaces and a non-ASCII letter: the settlement reads fills packed
    // into text, ids length-prefixed.
    let december_fill = Event::new(
        &bot.bot,
        "session of décembre 1",
        1,
        "2026-12-03T10:00:00Z".into(),
        Body::Fill(Fill {
            order_id: 1,
            side: Side::Buy,
            price: "40000".into(),
            quantity: "0.015".into(),
            fee: "0.6".into(),
            liquidity: Liquidity::Taker,
        }),
    );
    l.record_events(&bot, &[december_fill]).await.unwrap();
    let SettleOutcome::Settled(s) = l
        .settle(PLAN, &plan, november.next(), ts("2027-01-01T00:10:00Z"))
        .await
        .unwrap()
    else {
        panic!("expected December to settle");
    };
    // 600 notional at the 4 bp taker rate of tier 0 (November's 36 fills are far below
    // tier 1's 100 000): 0.24.
    assert_eq!(s.trading_fees, money("0.24"));
    let rows = text_rows(
        url,
        "SELECT bot, fills, notional, fee, late FROM trading_fee_days WHERE charge LIKE 'trading/acct-000011/%' AND day >= 1796083200000000000",
    )
    .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (
            rows[0][0].as_str(),
            rows[0][1].as_str(),
            rows[0][4].as_str()
        ),
        ("bench/bot-000011", "1", "0")
    );
    assert_eq!(
        (money(&rows[0][2]), money(&rows[0][3])),
        (money("600"), money("0.24"))
    );
    assert!(l.check_journal().await.unwrap().balanced());
    l.close().await;
}

async fn an_unreachable_database_fails_readiness_and_refuses_a_batch(url: &str) {
    let l = Ledger::open(url).await.unwrap();
    l.create_account("alice", "Alice").await.unwrap();
    l.ping().await.unwrap();
    let Some((server, db)) = url
        .strip_prefix("postgres://")
        .and_then(|_| url.rsplit_once('/'))
    else {
        // SQLite: a file that cannot be opened (its directory does not exist).
        let path = url.trim_start_matches("sqlite:");
        let missing = format!("sqlite:{path}.missing/ledger.db");
        let err = Ledger::open(&missing).await.unwrap_err();
        assert!(matches!(err, LedgerError::Database(_)), "{err}");
        assert!(err.to_string().starts_with("database: "), "{err}");
        return;
    };
    // PostgreSQL: the database taken away under the running ledger (its connections
    // terminated): not ready, and a batch is refused with the database's error — the
    // service answers 503 and the worker keeps it in its backlog.
    {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
            .await
            .unwrap();
        sqlx::Executor::execute(
            &mut admin,
            format!("DROP DATABASE {db} WITH (FORCE)").as_str(),
        )
        .await
        .unwrap();
        admin.close().await.unwrap();
    }
    assert!(l.ping().await.is_err(), "not ready");
    let err = l
        .record_events(
            &bot("alice"),
            &[fill(1, "2026-11-02T10:00:00Z", "50000", "0.2")],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::Database(_)), "{err}");
    l.close().await;
}

async fn a_daily_summary_is_enqueued_once_per_account_and_day(url: &str) {
    use tradewind_notify::{Kind, Mode, Outbox, Rules};
    let l = Ledger::open(url).await.unwrap();
    for a in ["alice", "bob", "carol"] {
        l.create_account(a, a).await.unwrap();
    }
    // alice: one channel with summaries on, one with them off; bob: a channel, no bots;
    // carol: no channel (no summary).
    l.create_channel(&channel("ch_a", "alice", Rules::default()))
        .await
        .unwrap();
    let no_summary = Rules([(Kind::DailySummary, Mode::Off)].into());
    l.create_channel(&channel("ch_quiet", "alice", no_summary))
        .await
        .unwrap();
    l.create_channel(&channel("ch_b", "bob", Rules::default()))
        .await
        .unwrap();
    l.record_events(
        &bot("alice"),
        &[
            equity(1, "2026-11-01T23:00:00Z", "1000"),
            fill(2, "2026-11-02T10:00:00Z", "50000", "0.2"),
            fill(3, "2026-11-02T11:00:00Z", "50010", "0.1"),
            equity(4, "2026-11-02T23:00:00Z", "1200"),
            // The next day's: in neither the fills nor the equity of the 2nd.
            fill(5, "2026-11-03T00:00:00Z", "1", "1"),
            equity(6, "2026-11-03T00:00:00Z", "9"),
        ],
    )
    .await
    .unwrap();
    let day = ts("2026-11-02T00:00:00Z");
    assert_eq!(l.enqueue_daily_summaries(day).await.unwrap(), 2);
    assert_eq!(
        l.enqueue_daily_summaries(day).await.unwrap(),
        0,
        "once per account and day"
    );
    let now = tradewind_ledger::accounts::now_nanos() + 1_000_000;
    let claimed = l.claim(now, now + 100, 100, &[]).await.unwrap();
    let summaries: Vec<_> = claimed
        .iter()
        .filter(|c| c.notice.kind == Kind::DailySummary)
        .collect();
    let mut to: Vec<&str> = summaries.iter().map(|c| c.channel.as_str()).collect();
    to.sort();
    assert_eq!(to, ["ch_a", "ch_b"]);
    let alice = summaries.iter().find(|c| c.channel == "ch_a").unwrap();
    assert_eq!(alice.notice.event_id, "daily/alice/2026-11-02");
    let d = &alice.notice.data;
    assert_eq!(d["day"], "2026-11-02");
    let b = &d["bots"][0];
    assert_eq!(
        (b["bot"].as_str(), b["fills"].as_u64()),
        (Some(BOT), Some(2))
    );
    let amount = |k: &str| money(b[k].as_str().unwrap());
    assert_eq!(
        (amount("volume"), amount("venueFees"), amount("equity")),
        (money("15001"), money("20"), money("1200"))
    );
    let bob = summaries.iter().find(|c| c.channel == "ch_b").unwrap();
    assert_eq!(bob.notice.data["text"], "no bots");
    // The next day is its own summary.
    assert_eq!(
        l.enqueue_daily_summaries(day + tradewind_notify::DAY_NANOS)
            .await
            .unwrap(),
        2
    );
}
