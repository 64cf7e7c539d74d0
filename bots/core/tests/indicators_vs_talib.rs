//! Every streaming indicator against TA-Lib on real Binance data.
//!
//! The fixtures in tests/fixtures/talib/ were written by tools/talib/generate.py with the
//! PyPI `TA-Lib` package from the files in examples/data. This test loads the same files
//! with Tradewind's loaders, checks the inputs agree with the fixture, recomputes every
//! fixture column with the streaming indicators and requires the same warm-up (no output
//! exactly where TA-Lib has NaN) and every value within 1e-9 relative.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tradewind_core::data::load::{L1Event, binance_klines, l1_jsonl};
use tradewind_core::indicators::{Atr, BollingerBands, Ema, Macd, Rsi, Sma, StdDev};

/// This package's directory, read when the test runs (cargo and nextest set it), not when
/// it was compiled: a test binary reused from another checkout must not read that tree.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"),
    )
}

const REL_TOL: f64 = 1e-9;
/// Must match TRADES_CAP in tools/talib/generate.py.
const TRADES_CAP: usize = 1500;

fn manifest() -> PathBuf {
    manifest_dir()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A fixture: column name -> values (None = TA-Lib NaN).
struct Fixture {
    names: Vec<String>,
    columns: HashMap<String, Vec<Option<f64>>>,
}

fn load_fixture(name: &str) -> Fixture {
    let path = manifest()
        .join("tests/fixtures/talib")
        .join(format!("{name}.csv"));
    let text = read(&path);
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header = lines.next().expect("fixture has a header");
    let names: Vec<String> = header.split(',').map(str::to_owned).collect();
    let mut columns: HashMap<String, Vec<Option<f64>>> =
        names.iter().map(|n| (n.clone(), Vec::new())).collect();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), names.len(), "{name}.csv row {i}: wrong width");
        for (n, c) in names.iter().zip(cells) {
            let v = if c.is_empty() {
                None
            } else {
                // Rust's parser is correctly rounded, so repr() round-trips exactly.
                Some(
                    c.parse::<f64>()
                        .unwrap_or_else(|e| panic!("{name}.csv {n} row {i}: {e}")),
                )
            };
            columns.get_mut(n).expect("known column").push(v);
        }
    }
    Fixture { names, columns }
}

struct Series {
    close: Vec<f64>,
    hl: Option<(Vec<f64>, Vec<f64>)>,
}

fn bar_series(sym: &str) -> Series {
    let path = manifest().join(format!(
        "../../examples/data/binance_spot_{sym}_1s_klines.csv"
    ));
    let bars = binance_klines(&path.display().to_string(), &read(&path)).expect("klines load");
    Series {
        close: bars.iter().map(|b| b.close.as_f64()).collect(),
        hl: Some((
            bars.iter().map(|b| b.high.as_f64()).collect(),
            bars.iter().map(|b| b.low.as_f64()).collect(),
        )),
    }
}

fn trade_series(sym: &str) -> Series {
    let path = manifest().join(format!(
        "../../examples/data/binance_spot_{sym}_l1_trades.jsonl"
    ));
    let events = l1_jsonl(&path.display().to_string(), &read(&path)).expect("JSONL loads");
    let close = events
        .iter()
        .filter_map(|e| match e {
            L1Event::Trade(t) => Some(t.price.as_f64()),
            L1Event::Quote(_) => None,
        })
        .take(TRADES_CAP)
        .collect();
    Series { close, hl: None }
}

fn run<T>(
    xs: &[f64],
    mut f: impl FnMut(f64) -> Option<T>,
    pick: impl Fn(&T) -> f64,
) -> Vec<Option<f64>> {
    xs.iter().map(|&x| f(x).map(|v| pick(&v))).collect()
}

fn num(s: &str) -> f64 {
    s.parse()
        .unwrap_or_else(|e| panic!("bad parameter {s}: {e}"))
}

fn int(s: &str) -> usize {
    s.parse()
        .unwrap_or_else(|e| panic!("bad parameter {s}: {e}"))
}

/// Recompute one fixture column from its name, e.g. `macd_signal_12_26_9`.
fn compute(column: &str, s: &Series) -> Vec<Option<f64>> {
    let parts: Vec<&str> = column.split('_').collect();
    let c = &s.close;
    match parts.as_slice() {
        ["sma", p] => {
            let mut i = Sma::new(int(p)).expect("valid");
            run(c, |x| i.update(x), |v| *v)
        }
        ["ema", p] => {
            let mut i = Ema::new(int(p)).expect("valid");
            run(c, |x| i.update(x), |v| *v)
        }
        ["rsi", p] => {
            let mut i = Rsi::new(int(p)).expect("valid");
            run(c, |x| i.update(x), |v| *v)
        }
        ["stddev", p, d] => {
            let mut i = StdDev::new(int(p), num(d)).expect("valid");
            run(c, |x| i.update(x), |v| *v)
        }
        ["macd", rest @ ..] => {
            let (which, params) = match rest {
                [f, sl, sg] => ("macd", [f, sl, sg]),
                [w, f, sl, sg] => (*w, [f, sl, sg]),
                _ => panic!("unknown column {column}"),
            };
            let mut i = Macd::new(int(params[0]), int(params[1]), int(params[2])).expect("valid");
            run(
                c,
                |x| i.update(x),
                |v| match which {
                    "macd" => v.macd,
                    "signal" => v.signal,
                    "hist" => v.hist,
                    _ => panic!("unknown column {column}"),
                },
            )
        }
        ["bbands", which, p, up, dn] => {
            let mut i = BollingerBands::new(int(p), num(up), num(dn)).expect("valid");
            run(
                c,
                |x| i.update(x),
                |v| match *which {
                    "upper" => v.upper,
                    "middle" => v.middle,
                    "lower" => v.lower,
                    _ => panic!("unknown column {column}"),
                },
            )
        }
        ["atr", p] => {
            let (h, l) = s.hl.as_ref().expect("ATR needs bars");
            let mut i = Atr::new(int(p)).expect("valid");
            (0..c.len()).map(|k| i.update(h[k], l[k], c[k])).collect()
        }
        _ => panic!("fixture column {column} has no Rust counterpart"),
    }
}

#[derive(Default)]
struct Stats {
    /// Per indicator column: (values compared, bit-identical, max relative difference).
    per_column: std::collections::BTreeMap<String, (usize, usize, f64)>,
    values: usize,
    identical: usize,
    max_rel: f64,
    worst: String,
}

fn compare(series: &str, fixture: &Fixture, s: &Series, stats: &mut Stats) -> Vec<String> {
    let mut failures = Vec::new();
    let inputs: Vec<(&str, &Vec<f64>)> = match &s.hl {
        Some((h, l)) => vec![("close", &s.close), ("high", h), ("low", l)],
        None => vec![("close", &s.close)],
    };
    for (name, ours) in &inputs {
        let theirs: Vec<f64> = fixture.columns[*name]
            .iter()
            .map(|v| v.expect("input present"))
            .collect();
        assert_eq!(
            &theirs, *ours,
            "{series}: input {name} differs between fixture and examples/data"
        );
    }
    for column in fixture
        .names
        .iter()
        .filter(|n| !["close", "high", "low"].contains(&n.as_str()))
    {
        let want = &fixture.columns[column];
        let got = compute(column, s);
        assert_eq!(got.len(), want.len());
        let warm_want = want.iter().take_while(|v| v.is_none()).count();
        let warm_got = got.iter().take_while(|v| v.is_none()).count();
        if warm_want != warm_got {
            failures.push(format!(
                "{series} {column}: warm-up {warm_got}, TA-Lib {warm_want}"
            ));
            continue;
        }
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            match (g, w) {
                (None, None) => {}
                (Some(g), Some(w)) => {
                    stats.values += 1;
                    let entry = stats.per_column.entry(column.clone()).or_default();
                    entry.0 += 1;
                    if g == w {
                        stats.identical += 1;
                        entry.1 += 1;
                        continue;
                    }
                    let rel = (g - w).abs() / g.abs().max(w.abs());
                    entry.2 = entry.2.max(rel);
                    if rel > stats.max_rel {
                        stats.max_rel = rel;
                        stats.worst = format!("{series} {column}[{k}]: {g:e} vs {w:e}");
                    }
                    if rel > REL_TOL && failures.len() < 20 {
                        failures.push(format!(
                            "{series} {column}[{k}]: ours {g:e}, TA-Lib {w:e}, rel {rel:e}"
                        ));
                    }
                }
                _ => failures.push(format!("{series} {column}[{k}]: ours {g:?}, TA-Lib {w:?}")),
            }
        }
    }
    failures
}

#[test]
fn indicators_match_talib_on_binance_data() {
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    for sym in ["btcusdt", "ethusdt", "solusdt"] {
        for (name, series) in [
            (format!("{sym}_1s_bars"), bar_series(sym)),
            (format!("{sym}_trades"), trade_series(sym)),
        ] {
            let fixture = load_fixture(&name);
            failures.extend(compare(&name, &fixture, &series, &mut stats));
        }
    }
    println!(
        "compared {} values: {} bit-identical, max relative difference {:e} ({})",
        stats.values, stats.identical, stats.max_rel, stats.worst
    );
    for (column, (n, same, rel)) in &stats.per_column {
        println!("  {column}: {same}/{n} bit-identical, max relative difference {rel:e}");
    }
    assert!(
        stats.values > 100_000,
        "fixture too small: {}",
        stats.values
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
