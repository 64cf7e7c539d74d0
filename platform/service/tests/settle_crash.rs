//! `tradewind-platform settle` end to end on SQLite: idempotent, refuses a period that has
//! not ended, and crash-safe — a run killed (the process aborts at a fault point inside
//! the settlement's transaction) and re-run ends identical to an uninterrupted run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sqlx::{Connection, Row};
use tradewind_events::{Body, Event, Fill, Liquidity, Performance, Side};
use tradewind_ledger::{BotRecord, FAULT_ENV, Ledger};

const PLAN: &str = r#"apiVersion: tradewind.dev/v1alpha1
kind: CommissionPlan
metadata:
  name: standard
  namespace: trading
spec:
  currency: USDT
  tradingFees:
    tiers:
      - minVolume30d: "0"
        makerBps: "5"
        takerBps: "10"
      - minVolume30d: "100000"
        makerBps: "2"
        takerBps: "7.5"
  performanceFee:
    percent: "10"
    settlementPeriod: Daily
  distribution:
    - recipient: Platform
      shareBps: 6000
    - recipient: StrategyAuthor
      shareBps: 2000
    - recipient: Referral
      level: 1
      shareBps: 1500
    - recipient: Referral
      level: 2
      shareBps: 500
"#;

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch() -> Scratch {
    let dir = std::env::temp_dir().join(format!(
        "tradewind-platform-settle-{}-{}",
        std::process::id(),
        tradewind_ledger::accounts::now_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

fn platform(url: &str, args: &[&str], fault: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tradewind-platform"));
    // Outside a cluster, whatever machine runs the tests: no status to write.
    cmd.args(["--database-url", url])
        .args(args)
        .env_remove(FAULT_ENV)
        .env_remove("KUBERNETES_SERVICE_HOST");
    if let Some(point) = fault {
        cmd.env(FAULT_ENV, point);
    }
    cmd.output().expect("run tradewind-platform")
}

fn ok(url: &str, args: &[&str]) -> String {
    let out = platform(url, args, None);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {stderr}");
    stderr
}

/// Three accounts, a referral, an author, the plan, and two days of a bot's history.
async fn seed(dir: &Path, name: &str) -> String {
    let url = format!("sqlite:{}", dir.join(format!("{name}.db")).display());
    let plan = dir.join("plan.yaml");
    std::fs::write(&plan, PLAN).unwrap();
    ok(&url, &["migrate"]);
    for a in ["alice", "bob", "carol", "dave"] {
        ok(&url, &["accounts", "create", a]);
    }
    ok(
        &url,
        &[
            "accounts",
            "set-referrer",
            "alice",
            "bob",
            "--from",
            "2026-01-01",
        ],
    );
    ok(
        &url,
        &[
            "accounts",
            "set-referrer",
            "bob",
            "dave",
            "--from",
            "2026-01-01",
        ],
    );
    ok(&url, &["accounts", "set-author", "trading/sma", "carol"]);
    ok(&url, &["plans", "set", "-f", plan.to_str().unwrap()]);
    let ledger = Ledger::open(&url).await.unwrap();
    let bot = "trading/btc-bot";
    let record = BotRecord {
        bot: bot.into(),
        account: "alice".into(),
        plan: Some("trading/standard".into()),
        quote_currency: "USDT".into(),
        strategy: Some("trading/sma".into()),
    };
    let session = "2026-11-01T00:00:00Z";
    let mut events = vec![];
    let mut seq = 0;
    let mut next = |ts: String, body| {
        seq += 1;
        Event::new(bot, session, seq, ts, body)
    };
    let perf = |equity: &str| Performance {
        equity: equity.into(),
        realized_pnl: "0".into(),
        unrealized_pnl: "0".into(),
        fees: "0".into(),
        drawdown_percent: "0.00".into(),
        bars: 0,
        orders: 0,
        fills: 0,
        rejected: 0,
        refused: 0,
        halted: None,
    };
    events.push(next(
        "2026-11-01T23:00:00Z".into(),
        Body::EquitySnapshot(perf("1000")),
    ));
    for h in 0..24 {
        events.push(next(
            format!("2026-11-02T{h:02}:30:00Z"),
            Body::Fill(Fill {
                order_id: h,
                side: if h % 2 == 0 { Side::Buy } else { Side::Sell },
                price: format!("{}.17", 50_000 + h * 7),
                quantity: "0.013".into(),
                fee: "0.65".into(),
                liquidity: if h % 3 == 0 {
                    Liquidity::Maker
                } else {
                    Liquidity::Taker
                },
            }),
        ));
    }
    events.push(next(
        "2026-11-02T23:59:00Z".into(),
        Body::EquitySnapshot(perf("1234.567891234")),
    ));
    ledger.record_events(&record, &events).await.unwrap();
    ledger.close().await;
    url
}

/// Every booked row of the settlement tables, in key order.
async fn dump(url: &str) -> String {
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    let mut out = String::new();
    for (table, cols, order) in [
        (
            "settlements",
            "id, plan, period_start, period_end, settled_at, summary",
            "id",
        ),
        (
            "plan_account_state",
            "plan, account, settled_through, marks",
            "plan, account",
        ),
        (
            "charges",
            "id, settlement, account, bot, kind, ts, amount, detail",
            "id",
        ),
        (
            "charge_parts",
            "charge, idx, role, payee, unclaimed, amount",
            "charge, idx",
        ),
        (
            "journal_transfers",
            "id, ledger, ts, settlement, charge, memo",
            "id",
        ),
        (
            "journal_entries",
            "transfer, line, book_account, debit, credit",
            "transfer, line",
        ),
        (
            "statements",
            "settlement, kind, subject, body_json, body_csv",
            "settlement, kind, subject",
        ),
        (
            "trading_fee_days",
            "charge, bot, day, liquidity, late, tier, rate, volume_30d, fills, notional, fee",
            "charge, day, liquidity, late, tier",
        ),
    ] {
        let sql = format!("SELECT {cols} FROM {table} ORDER BY {order}");
        for row in sqlx::query(&sql).fetch_all(&mut c).await.unwrap() {
            out.push_str(table);
            for i in 0..row.len() {
                let v = row
                    .try_get::<String, _>(i)
                    .or_else(|_| row.try_get::<i64, _>(i).map(|n| n.to_string()))
                    .unwrap();
                out.push('|');
                out.push_str(&v);
            }
            out.push('\n');
        }
    }
    c.close().await.unwrap();
    out
}

const SETTLE: &[&str] = &[
    "settle",
    "--plan",
    "trading/standard",
    "--period",
    "2026-11-02",
    "--now",
    "2026-11-03T00:10:00Z",
];

#[tokio::test]
async fn settle_is_idempotent_refuses_the_future_and_survives_a_crash() {
    let dir = scratch();
    sqlx::any::install_default_drivers();
    // The uninterrupted run, and a second run that changes nothing and says so.
    let reference = seed(&dir.0, "reference").await;
    let stderr = ok(&reference, SETTLE);
    assert!(
        stderr.contains("settled trading/standard/2026-11-02T00:00:00Z"),
        "{stderr}"
    );
    let expected = dump(&reference).await;
    assert!(
        expected.contains("charges|"),
        "nothing was charged:\n{expected}"
    );
    let stderr = ok(&reference, SETTLE);
    assert!(
        stderr.contains("was already settled") && stderr.contains("nothing changed"),
        "{stderr}"
    );
    assert_eq!(dump(&reference).await, expected);

    // The current day has not ended.
    let out = platform(
        &reference,
        &[
            "settle",
            "--plan",
            "trading/standard",
            "--period",
            "2026-11-03",
            "--now",
            "2026-11-03T00:10:00Z",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("cannot be settled yet"),
        "{stderr}"
    );

    // Killed inside the transaction at each point, then run again: the same result.
    for point in ["after-insert", "after-charges", "before-commit"] {
        let url = seed(&dir.0, point).await;
        let out = platform(&url, SETTLE, Some(point));
        assert!(
            !out.status.success(),
            "the fault hook at {point} did not stop the run"
        );
        assert_eq!(
            dump(&url).await,
            "",
            "a run killed at {point} left something behind"
        );
        ok(&url, SETTLE);
        assert_eq!(dump(&url).await, expected, "re-run after a kill at {point}");
    }
}

#[test]
fn the_operators_job_hands_over_the_plan_spec_and_a_plan_shows_its_last_settlement() {
    let dir = scratch();
    let url = format!("sqlite:{}", dir.0.join("job.db").display());
    let spec = r#"{"tradingFees":{"tiers":[{"minVolume30d":"0","makerBps":"10","takerBps":"10"}]},"distribution":[{"recipient":"Platform","shareBps":10000}]}"#;
    let job_at = |spec: &str, now: &str| {
        Command::new(env!("CARGO_BIN_EXE_tradewind-platform"))
            .args(["--database-url", &url])
            .args(["settle", "--plan", "trading/flat", "--now", now])
            .env("TRADEWIND_PLAN_SPEC", spec)
            .env_remove(FAULT_ENV)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .output()
            .unwrap()
    };
    let job = |spec: &str| job_at(spec, "2026-12-01T00:00:05Z");
    // A spec the translation refuses names the variable and the field.
    let out = job(
        r#"{"tradingFees":{"tiers":[]},"distribution":[{"recipient":"Platform","shareBps":10000}]}"#,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("TRADEWIND_PLAN_SPEC: spec.tradingFees.tiers"),
        "{stderr}"
    );
    // The previous period of a monthly plan at 2026-12-01: November.
    let out = job(spec);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("settled trading/flat/2026-11-01T00:00:00Z"),
        "{stderr}"
    );
    let out = platform(&url, &["plans", "show", "trading/flat"], None);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["lastSettlement"]["period"]["kind"], "Monthly");
    assert_eq!(shown["lastSettlement"]["accountsCharged"], 0);
    assert_eq!(shown["spec"]["tradingFees"]["tiers"][0]["takerBps"], "10");
    // Two runs missed: the next one catches up, in order.
    let out = job_at(spec, "2027-02-01T00:00:05Z");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let dec = stderr.find("settled trading/flat/2026-12-01T00:00:00Z");
    let jan = stderr.find("settled trading/flat/2027-01-01T00:00:00Z");
    assert!(dec.is_some() && jan.is_some() && dec < jan, "{stderr}");
}

#[tokio::test]
async fn capital_changes_are_recorded_by_the_admin_commands() {
    let dir = scratch();
    let url = seed(&dir.0, "capital").await;
    let bot = "trading/btc-bot";
    // Bad input names the field.
    for bad in ["0", "ten", "1.0000000001"] {
        let out = platform(&url, &["accounts", "deposit", bot, bad], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("amount"),
            "{bad}: {stderr}"
        );
    }
    let out = platform(&url, &["accounts", "deposit", "trading/nobody", "5"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not known to the ledger"));
    // 200 deposited at noon of the day whose closing equity is 1 234.567891234: only the
    // 34.567891234 above 1 000 + 200 is profit.
    let args = [
        "accounts",
        "deposit",
        bot,
        "200",
        "--at",
        "2026-11-02T12:00:00Z",
    ];
    let said = ok(&url, &args);
    assert!(said.contains("deposit of 200"), "{said}");
    let said = ok(&url, &args);
    assert!(said.contains("recorded before; nothing changed"), "{said}");
    ok(&url, SETTLE);
    let out = platform(&url, &["plans", "show", "trading/standard"], None);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // 10 % of 34.567891234, rounded down to 10⁻⁹ (the engine's rule for the fee).
    assert_eq!(
        shown["lastSettlement"]["performanceFees"], "3.456789123",
        "{shown}"
    );
    // A change inside the settled day is refused, naming why.
    let out = platform(
        &url,
        &[
            "accounts",
            "withdraw",
            bot,
            "10",
            "--at",
            "2026-11-02T18:00:00Z",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("already settled"),
        "{stderr}"
    );
}
