//! Load the real Binance sample in examples/data with every loader and cross-check them.

use tradewind_core::data::load::{L1Event, binance_klines, l1_jsonl, ohlcv_csv};
use tradewind_core::data::{Bar, Side};

/// This package's directory, read when the test runs (cargo and nextest set it), not when
/// it was compiled: a test binary reused from another checkout must not read that tree.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"),
    )
}

fn data_file(name: &str) -> (String, String) {
    let path = manifest_dir().join("../../examples/data").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    (path.display().to_string(), text)
}

/// Rebuild 1-second bars from trades, the way tools/talib/convert_barter.py does.
fn bars_from_trades(events: &[L1Event]) -> Vec<(i64, i64, i64, i64, i64, u64)> {
    let mut out: Vec<(i64, i64, i64, i64, i64, u64)> = Vec::new();
    for ev in events {
        let L1Event::Trade(t) = ev else { continue };
        let sec = t.ts.div_euclid(1_000_000_000) * 1_000_000_000;
        let p = t.price.raw();
        match out.last_mut() {
            Some(b) if b.0 == sec => {
                b.2 = b.2.max(p);
                b.3 = b.3.min(p);
                b.4 = p;
                b.5 += t.size.raw();
            }
            _ => out.push((sec, p, p, p, p, t.size.raw())),
        }
    }
    out
}

fn tuple(b: &Bar) -> (i64, i64, i64, i64, i64, u64) {
    (
        b.ts,
        b.open.raw(),
        b.high.raw(),
        b.low.raw(),
        b.close.raw(),
        b.volume.raw(),
    )
}

#[test]
fn every_sample_file_loads_and_the_formats_agree() {
    for (sym, n_bars) in [("btcusdt", 180), ("ethusdt", 125), ("solusdt", 132)] {
        let (src, text) = data_file(&format!("binance_spot_{sym}_l1_trades.jsonl"));
        let events = l1_jsonl(&src, &text).expect("JSONL loads");
        assert!(events.len() > 10_000, "{sym}: {} events", events.len());
        assert!(events.windows(2).all(|w| w[0].ts() <= w[1].ts()));
        let trades = events
            .iter()
            .filter(|e| matches!(e, L1Event::Trade(_)))
            .count();
        assert!(trades > 1_000, "{sym}: {trades} trades");
        assert!(
            events
                .iter()
                .any(|e| matches!(e, L1Event::Trade(t) if t.aggressor == Side::Buy))
        );

        let (src, text) = data_file(&format!("binance_spot_{sym}_1s_klines.csv"));
        let klines = binance_klines(&src, &text).expect("klines load");
        assert_eq!(klines.len(), n_bars, "{sym}");
        assert_eq!(klines[0].close.precision(), 2);
        let rebuilt = bars_from_trades(&events);
        let loaded: Vec<_> = klines.iter().map(tuple).collect();
        assert_eq!(
            loaded, rebuilt,
            "{sym}: klines must be the trades aggregated per second"
        );
    }

    let (src, text) = data_file("binance_spot_btcusdt_1s_ohlcv.csv");
    let generic = ohlcv_csv(&src, &text).expect("generic CSV loads");
    let (src, text) = data_file("binance_spot_btcusdt_1s_klines.csv");
    let klines = binance_klines(&src, &text).expect("klines load");
    assert_eq!(
        generic, klines,
        "ISO-8601 CSV and kline CSV hold the same bars"
    );
    assert_eq!(generic[0].ts, 1_742_944_020_000_000_000); // 2025-03-25T23:07:00Z
}
