//! `tradewind-bot backtest` as users run it: real data, reports, and clear errors.

use std::path::PathBuf;
use std::process::{Command, Output};

/// This package's directory, read when the test runs (cargo and nextest set it), not when
/// it was compiled: a test binary reused from another checkout must not read that tree.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"),
    )
}

fn root() -> PathBuf {
    manifest_dir().join("../..")
}

fn bot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tradewind-bot"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn tmpdir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("tradewind-bot-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const DEMO: &str = "examples/demo/btc-scalper.yaml";
const TRADES: &str = "examples/data/binance_spot_btcusdt_l1_trades.jsonl";

#[test]
fn demo_backtest_writes_reports_and_is_byte_identical_across_runs() {
    let (a, b) = (tmpdir("a"), tmpdir("b"));
    for dir in [&a, &b] {
        let out = bot(&[
            "backtest",
            "-f",
            DEMO,
            "--data",
            TRADES,
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("Final equity"), "{stdout}");
        assert!(stdout.contains("HTML report: "), "{stdout}");
    }
    for file in ["report.json", "report.html"] {
        let (x, y) = (
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
        );
        assert!(!x.is_empty());
        assert!(
            x == y,
            "{file} differs between two runs of the same backtest"
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["symbol"], "BTCUSDT");
    assert!(report["bars"].as_u64().unwrap() > 100);
    // Money is written as decimal strings, never as JSON numbers.
    assert!(report["finalEquity"].is_string());
    assert!(
        report["trades"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["pnl"].is_string())
    );
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Drawdown") && !html.contains("<script"));
}

const MONTH_DATA: &str = "examples/data/bitstamp_btcusd_1m.csv";

#[test]
fn several_bots_on_the_same_data_are_compared_with_a_report_each() {
    let dir = tmpdir("compare");
    let mut args = vec!["backtest"];
    for f in [
        "examples/demo/compare/plan.yaml",
        "examples/demo/compare/trend-ema.yaml",
        "examples/demo/compare/mean-reversion-rsi.yaml",
    ] {
        args.extend(["-f", f]);
    }
    args.extend(["--bot", "trend-ema", "--bot", "mean-reversion-rsi"]);
    args.extend(["--data", MONTH_DATA, "--out", dir.to_str().unwrap()]);
    let out = bot(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The comparison: one row per bot, money in cents, then every report's path.
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"))
            .to_owned()
    };
    for name in ["trend-ema", "mean-reversion-rsi"] {
        let line = row(name);
        assert!(line.contains(" USD "), "{line}");
        assert!(
            !line.split_whitespace().any(|w| w
                .split_once('.')
                .is_some_and(|(_, frac)| frac.trim_end_matches([',', '%']).len() > 2)),
            "money and ratios are rounded for display: {line}"
        );
        let page = dir.join(name).join("report.html");
        assert!(stdout.contains(page.to_str().unwrap()), "{stdout}");
        let html = std::fs::read_to_string(&page).unwrap();
        for chart in [
            "Price and trades",
            "Equity against buy and hold",
            "Drawdown",
        ] {
            assert!(html.contains(&format!("data-chart=\"{chart}\"")), "{chart}");
        }
        assert!(html.contains("Daily returns"));
        // Dated axes.
        assert!(html.contains(">2026-08-17</text>"));
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(name).join("report.json")).unwrap())
                .unwrap();
        assert_eq!(report["bot"], name);
        assert_eq!(report["symbol"], "BTCUSD");
    }
}

#[test]
fn the_same_bot_runs_on_klines_and_on_trades_with_the_same_bars() {
    let (a, b) = (tmpdir("trades"), tmpdir("klines"));
    let klines = "examples/data/binance_spot_btcusdt_1s_klines.csv";
    for (dir, data) in [(&a, TRADES), (&b, klines)] {
        let out = bot(&[
            "backtest",
            "-f",
            DEMO,
            "--data",
            data,
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let read = |d: &PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(d.join("report.json")).unwrap()).unwrap()
    };
    let (x, y) = (read(&a), read(&b));
    // The kline file holds exactly the trades aggregated per second.
    assert_eq!(x["bars"], y["bars"]);
    assert_eq!(x["trades"], y["trades"]);
}

#[test]
fn a_bad_strategy_stops_the_backtest_naming_the_field() {
    let dir = tmpdir("bad-strategy");
    let text = std::fs::read_to_string(root().join(DEMO))
        .unwrap()
        .replace("slowPeriod: 15", "slowPeriod: 5");
    let file = dir.join("bad.yaml");
    std::fs::write(&file, text).unwrap();
    let out = bot(&[
        "backtest",
        "-f",
        file.to_str().unwrap(),
        "--data",
        TRADES,
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.emaCross: fastPeriod must be smaller than slowPeriod"),
        "{err}"
    );
    assert!(
        !dir.join("report.json").exists(),
        "nothing is written for a refused config"
    );
}

#[test]
fn a_bad_data_row_is_reported_with_file_and_line() {
    let dir = tmpdir("bad-data");
    let data = dir.join("bars.csv");
    std::fs::write(&data, "timestamp,open,high,low,close,volume\n2024-01-01,10,11,9,10.5,100\n2024-01-02,10,9,11,10,100\n").unwrap();
    let out = bot(&[
        "backtest",
        "-f",
        DEMO,
        "--data",
        data.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bars.csv:3:"), "{err}");
}

#[test]
fn a_missing_strategy_reference_is_named() {
    let dir = tmpdir("missing");
    let text = std::fs::read_to_string(root().join(DEMO)).unwrap().replace(
        "name: btc-ema-5-15-1s\n  commissionPlanRef",
        "name: nope\n  commissionPlanRef",
    );
    let file = dir.join("bot.yaml");
    std::fs::write(&file, text).unwrap();
    let out = bot(&["backtest", "-f", file.to_str().unwrap(), "--data", TRADES]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Strategy \"nope\" (spec.strategyRef.name) is not in the given files"),
        "{err}"
    );
}

#[test]
fn converted_binary_data_gives_the_same_backtest_and_damage_is_an_error() {
    let dir = tmpdir("convert");
    let run = |data: &str, out: &PathBuf| -> serde_json::Value {
        let mut args = vec!["backtest"];
        for f in [
            "examples/demo/compare/plan.yaml",
            "examples/demo/compare/trend-ema.yaml",
        ] {
            args.extend(["-f", f]);
        }
        args.extend(["--data", data, "--out", out.to_str().unwrap()]);
        let o = bot(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
    };
    let twb = dir.join("month.twb");
    let o = bot(&[
        "data",
        "convert",
        "--from",
        MONTH_DATA,
        "--to",
        twb.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::metadata(root().join(MONTH_DATA)).unwrap().len();
    let binary = std::fs::metadata(&twb).unwrap().len();
    assert!(binary * 3 < text, "{binary} bytes binary, {text} text");
    let mut from_text = run(MONTH_DATA, &dir.join("text"));
    let mut from_binary = run(twb.to_str().unwrap(), &dir.join("binary"));
    assert_eq!(from_text["data"], "bitstamp_btcusd_1m.csv");
    from_text["data"] = serde_json::Value::Null;
    from_binary["data"] = serde_json::Value::Null;
    assert_eq!(from_text, from_binary);

    // Trades become bars only of a stated length.
    let trades_twb = dir.join("trades.twb");
    let o = bot(&[
        "data",
        "convert",
        "--from",
        TRADES,
        "--to",
        trades_twb.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("need a timeframe"));
    let o = bot(&[
        "data",
        "convert",
        "--from",
        TRADES,
        "--to",
        trades_twb.to_str().unwrap(),
        "--timeframe",
        "1s",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // A file cut short is an error naming the file and where, never a shorter backtest.
    let bytes = std::fs::read(&twb).unwrap();
    let cut = dir.join("cut.twb");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let o = bot(&[
        "backtest",
        "-f",
        "examples/demo/compare/plan.yaml",
        "-f",
        "examples/demo/compare/trend-ema.yaml",
        "--data",
        cut.to_str().unwrap(),
        "--out",
        dir.join("cut").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cut.twb: byte ") && err.contains("truncated"),
        "{err}"
    );
}

/// The backtest reads its file once, planning from the first bars; a bar far into the
/// file with more decimals than those makes it check the whole file and start again, so
/// the report is the one of a file that shows that precision from its first row.
#[test]
fn a_late_row_with_more_decimals_gives_the_report_of_a_file_that_says_so_up_front() {
    let dir = tmpdir("late-precision");
    let text = std::fs::read_to_string(root().join(MONTH_DATA)).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(
        lines.len() > 10_000,
        "the plan is made from the first 4,096 bars"
    );
    // One more decimal written in a row's open price (the same value).
    let more_decimals = |line: &str| {
        let (ts, rest) = line.split_once(',').unwrap();
        let (open, rest) = rest.split_once(',').unwrap();
        assert_eq!(
            open.split_once('.').map(|(_, d)| d.len()),
            Some(2),
            "{line}"
        );
        format!("{ts},{open}0,{rest}")
    };
    lines[10_000] = more_decimals(&lines[10_000]);
    let late = dir.join("late.csv");
    std::fs::write(&late, lines.join("\n") + "\n").unwrap();
    lines[1] = more_decimals(&lines[1]);
    let early = dir.join("early.csv");
    std::fs::write(&early, lines.join("\n") + "\n").unwrap();
    let run = |data: &PathBuf, out: &str| -> serde_json::Value {
        let out = dir.join(out);
        let o = bot(&[
            "backtest",
            "-f",
            "examples/demo/compare/plan.yaml",
            "-f",
            "examples/demo/compare/trend-ema.yaml",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
        r["data"] = serde_json::Value::Null;
        r
    };
    let (a, b) = (run(&late, "late"), run(&early, "early"));
    assert_eq!(a, b);
    // Fills at the third decimal's tick: the whole run used the file's precision.
    let entry = a["trades"][0]["entryPrice"].as_str().unwrap().to_owned();
    assert_eq!(
        entry, "64150.765000003",
        "two decimals would give 64150.770000002"
    );
}

/// A dollar-cost-averaging bot on three days of hourly bars at 100, 125 and 80, its
/// CommissionPlan settled daily: two tiers (20 bp taker below 1,500 of 30-day volume,
/// 10 bp from it) and 20 % of total profit over the high-water mark.
const DCA_BOT: &str = r#"
apiVersion: tradewind.dev/v1alpha1
kind: Strategy
metadata:
  name: dca-12h
spec:
  type: Dca
  timeframe: 1h
  dca:
    everyBars: 12
    notional: "1001"
---
apiVersion: tradewind.dev/v1alpha1
kind: CommissionPlan
metadata:
  name: tiered-daily
spec:
  currency: USD
  tradingFees:
    tiers:
      - minVolume30d: "0"
        makerBps: "10"
        takerBps: "20"
      - minVolume30d: "1500"
        makerBps: "5"
        takerBps: "10"
  performanceFee:
    percent: "20"
    basis: Total
    settlementPeriod: Daily
  distribution:
    - recipient: Platform
      shareBps: 8000
    - recipient: Referral
      level: 1
      shareBps: 2000
---
apiVersion: tradewind.dev/v1alpha1
kind: TradingBot
metadata:
  name: dca
spec:
  mode: Backtest
  strategyRef:
    name: dca-12h
  commissionPlanRef:
    name: tiered-daily
  accountRef:
    name: demo
  venue:
    exchange: Binance
  symbols: [BTCUSD]
  capital:
    amount: "10000"
    currency: USD
  backtest:
    fillModel: NextBarOpen
"#;

/// Writes the DCA bot (with or without its plan) and its bars; returns (bot file, data).
fn dca_fixture(dir: &std::path::Path, with_plan: bool) -> (PathBuf, PathBuf) {
    // 2026-08-17 00:00 UTC, 72 hourly bars: day 1 at 100, day 2 at 125, day 3 at 80.
    let start = 1_786_924_800_i64;
    let mut csv = String::from("timestamp,open,high,low,close,volume\n");
    for h in 0..72 {
        let p = ["100.00", "125.00", "80.00"][h / 24];
        csv.push_str(&format!(
            "{},{p},{p},{p},{p},1.00000000\n",
            start + h as i64 * 3600
        ));
    }
    let data = dir.join("bars.csv");
    std::fs::write(&data, csv).unwrap();
    let yaml = if with_plan {
        DCA_BOT.to_owned()
    } else {
        DCA_BOT.replace("  commissionPlanRef:\n    name: tiered-daily\n", "")
    };
    let bot = dir.join("bot.yaml");
    std::fs::write(&bot, yaml).unwrap();
    (bot, data)
}

#[test]
fn a_backtest_reports_pnl_net_of_the_venues_fee_and_the_platforms_commission() {
    let dir = tmpdir("commission");
    let (bot_file, data) = dca_fixture(&dir, true);
    let out = bot(&[
        "backtest",
        "-f",
        bot_file.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let m = |v: &serde_json::Value| -> f64 { v.as_str().unwrap().parse().unwrap() };

    // By hand. Every 12th bar buys 1001 USD's worth at the taker fee (Binance's base
    // 10 bp): exactly 1000 of notional and 1 of venue fee, twice a day (01:00, 13:00).
    //   day 1 at 100: 2 × 10 units; cash 10000 − 2002 = 7998, equity 7998 + 20 × 100 = 9998.
    //   day 2 at 125: 2 × 8 units;  cash 5996, equity 5996 + 36 × 125 = 10496.
    //   day 3 at 80: 2 × 12.5 units; cash 3994, equity 3994 + 61 × 80 = 8874.
    // Trading fee: day 1 reads 0 of 30-day volume (tier 0, 20 bp: 2 per fill); days 2
    // and 3 read 2000 and 4000 (tier 1, 10 bp: 1 per fill) → 4 + 2 + 2 = 8.
    // Performance fee (mark starts at the capital, 10000): day 1 9998 ≤ mark → 0; day 2
    // (10496 − 10000) × 20 % = 99.2, mark 10496; day 3 8874 ≤ mark → 0.
    assert_eq!(m(&report["venueFees"]), 6.0);
    assert_eq!(m(&report["finalEquity"]), 8874.0);
    let c = &report["commission"];
    assert_eq!(c["plan"], "tiered-daily");
    assert_eq!(c["period"], "Daily");
    assert_eq!(c["performanceBasis"], "Total");
    assert_eq!(m(&c["tradingFees"]), 8.0);
    assert_eq!(m(&c["performanceFees"]), 99.2);
    assert_eq!(m(&c["total"]), 107.2);
    assert_eq!(m(&c["grossPnl"]), -1120.0); // 8874 − 10000 + 6 of venue fees
    assert_eq!(m(&c["venueFees"]), 6.0);
    assert_eq!(m(&c["pnlAfterVenueFees"]), -1126.0);
    assert_eq!(m(&c["netPnl"]), -1233.2);
    let periods = c["periods"].as_array().unwrap();
    let row = |p: &serde_json::Value| {
        (
            p["start"].as_str().unwrap().to_owned(),
            p["fills"].as_u64().unwrap(),
            m(&p["volume"]),
            m(&p["tradingFees"]),
            m(&p["value"]),
            m(&p["highWaterMark"]),
            m(&p["performanceFee"]),
            p["partial"].as_bool().unwrap(),
        )
    };
    type Row = (String, u64, f64, f64, f64, f64, f64, bool);
    let rows: Vec<Row> = periods.iter().map(row).collect();
    let day = |d: &str| format!("2026-08-{d}T00:00:00Z");
    let expected: Vec<Row> = vec![
        (day("17"), 2, 2000.0, 4.0, 9998.0, 10000.0, 0.0, false),
        (day("18"), 2, 2000.0, 2.0, 10496.0, 10496.0, 99.2, false),
        (day("19"), 2, 2000.0, 2.0, 8874.0, 10496.0, 0.0, true),
    ];
    assert_eq!(rows, expected);
    // The same in the summary and the HTML page.
    for line in [
        "Gross PnL (before fees)",
        "Platform commission (tiered-daily, Daily)",
        "107.20 USD",
        "Net PnL (after both)",
        "-1,233.20 USD",
    ] {
        assert!(stdout.contains(line), "{line:?} not in\n{stdout}");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("Platform commission by daily period (tiered-daily)")
            && html.contains("-1,233.20 USD")
            && html.contains("99.20"),
        "the HTML report shows the commission"
    );
}

#[test]
fn a_bot_without_a_plan_reports_no_platform_commission() {
    let dir = tmpdir("no-commission");
    let (bot_file, data) = dca_fixture(&dir, false);
    let out = bot(&[
        "backtest",
        "-f",
        bot_file.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report["finalEquity"]
            .as_str()
            .map(|s| s.parse::<f64>().unwrap()),
        Some(8874.0)
    );
    assert!(report.get("commission").is_none(), "{report}");
    assert!(!stdout.contains("Platform commission") && !stdout.contains("Net PnL"));
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!html.contains("Platform commission"));
}

const KLINES: &str = "examples/data/binance_spot_btcusdt_1s_klines.csv";

/// A Signal strategy's bot on the 1-second klines, written to `dir`.
fn signal_bot(dir: &std::path::Path, strategy_type: &str) -> PathBuf {
    let member = if strategy_type == "Signal" {
        "signal:\n    actions: [enter, exit]"
    } else {
        "smaCross:\n    fastPeriod: 2\n    slowPeriod: 5"
    };
    let yaml = format!(
        "apiVersion: tradewind.dev/v1alpha1
kind: Strategy
metadata:
  name: signals
spec:
  type: {strategy_type}
  timeframe: 1s
  {member}
  sizing:
    type: FixedQuantity
    fixedQuantity:
      quantity: \"0.01\"
---
apiVersion: tradewind.dev/v1alpha1
kind: TradingBot
metadata:
  name: signal-backtest
spec:
  mode: Backtest
  strategyRef:
    name: signals
  accountRef:
    name: research
  venue:
    exchange: Binance
    market: Spot
  symbols: [BTCUSDT]
  capital:
    amount: \"10000\"
    currency: USDT
  backtest:
    fillModel: NextBarOpen
"
    );
    let path = dir.join("bot.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn a_signal_strategy_backtests_on_signals_merged_with_the_bars_by_time() {
    let dir = tmpdir("signals");
    let bot_file = signal_bot(&dir, "Signal");
    let signals = dir.join("signals.jsonl");
    // Out of order in the file; a signal before the first bar has no price yet.
    std::fs::write(
        &signals,
        r#"{"id":"tv-2","action":"sell","time":"2025-03-25T23:09:00Z"}
{"id":"tv-0","action":"enter","time":"2025-03-25T23:00:00Z"}
{"id":"tv-1","action":"buy","time":"2025-03-25T23:07:30Z","ticker":"BTCUSDT"}
"#,
    )
    .unwrap();
    let out = bot(&[
        "backtest",
        "-f",
        bot_file.to_str().unwrap(),
        "--data",
        KLINES,
        "--signals",
        signals.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let trades = report["trades"].as_array().unwrap();
    assert_eq!(trades.len(), 1, "{trades:?}");
    // Entered at the open of the first bar after the signal, exited likewise.
    let open_at = |secs: u64| -> String {
        let data = std::fs::read_to_string(root().join(KLINES)).unwrap();
        let row = data
            .lines()
            .find(|l| l.starts_with(&format!("{}000,", secs)))
            .unwrap();
        row.split(',').nth(1).unwrap().to_owned()
    };
    assert_eq!(trades[0]["entryTime"], "2025-03-25T23:07:31Z");
    assert_eq!(trades[0]["entryPrice"], open_at(1_742_944_051));
    assert_eq!(trades[0]["exitTime"], "2025-03-25T23:09:01Z");
    assert_eq!(trades[0]["exitPrice"], open_at(1_742_944_141));

    // Without signals, the same bot never trades; a strategy of another type refuses them.
    let quiet = tmpdir("signals-none");
    let out = bot(&[
        "backtest",
        "-f",
        bot_file.to_str().unwrap(),
        "--data",
        KLINES,
        "--out",
        quiet.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(quiet.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["trades"], serde_json::json!([]));
    let sma = signal_bot(&quiet, "SmaCross");
    let out = bot(&[
        "backtest",
        "-f",
        sma.to_str().unwrap(),
        "--data",
        KLINES,
        "--signals",
        signals.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not take signals"), "{stderr}");
}

#[test]
fn a_sweep_slice_runs_its_combinations_and_names_the_one_that_fails() {
    use tradewind_crds::sweep::{Combination, SliceReport, SweepPlan};
    let dir = tmpdir("sweep");
    let cfg = tradewind_crds::bundle::load(&[root().join(DEMO)], None)
        .unwrap()
        .config;
    let config = dir.join("bot.json");
    std::fs::write(&config, serde_json::to_string(&cfg).unwrap()).unwrap();
    let combo = |fast: &str, slow: &str| {
        Combination::from([
            ("fastPeriod".to_owned(), fast.to_owned()),
            ("slowPeriod".to_owned(), slow.to_owned()),
        ])
    };
    let plan = SweepPlan {
        metric: tradewind_crds::SweepMetric::TotalReturn,
        per_slice: 2,
        top: 5,
        combinations: vec![
            combo("5", "20"),
            combo("10", "20"),
            combo("20", "20"),
            combo("10", "30"),
        ],
    };
    let plan_file = dir.join("sweep.json");
    std::fs::write(&plan_file, serde_json::to_string(&plan).unwrap()).unwrap();
    let summary = dir.join("summary");
    let out = bot(&[
        "backtest",
        "--config",
        config.to_str().unwrap(),
        "--data",
        TRADES,
        "--out",
        dir.to_str().unwrap(),
        "--sweep",
        plan_file.to_str().unwrap(),
        "--index",
        "1",
        "--summary-file",
        summary.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: SliceReport =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(
        (report.index, report.combinations, report.completed),
        (1, 2, 1)
    );
    assert_eq!(report.top.len(), 1);
    assert_eq!(report.top[0].parameters, combo("10", "30"));
    assert!(report.top[0].value.is_some());
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].parameters, combo("20", "20"));
    assert!(
        report.failed[0]
            .error
            .contains("fastPeriod must be smaller than slowPeriod"),
        "{}",
        report.failed[0].error
    );
    let lines = std::fs::read_to_string(dir.join("results-00001.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["parameters"]["fastPeriod"], "20");
    assert!(rows[0]["error"].is_string());
    assert!(rows[1]["summary"]["finalEquity"].is_string());
}
