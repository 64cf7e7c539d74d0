//! Market-data reading throughput on one core, from memory (what a file in the page
//! cache costs once it is read):
//!
//! - `load/ohlcv_csv`: one bar of generic OHLCV CSV (`timestamp,open,high,low,close,volume`,
//!   epoch seconds, cent prices, whole volumes), parsed and checked into a [`Bar`];
//! - `load/trades_jsonl`: one trade line of Tradewind's JSONL into an event;
//! - `load/columnar`: one bar of the columnar binary format (`data::columnar`) decoded,
//!   checked and built into a [`Bar`];
//! - `load/columnar_write`: one bar encoded into it.
//!
//! The series is 1,000,000 one-minute bars of a seeded random walk (as benches/backtest.rs).
//!
//! Run: `cargo bench -p tradewind-core --bench data`

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tradewind_core::data::Bar;
use tradewind_core::data::columnar::{BarsReader, BarsWriter, DEFAULT_BLOCK_BARS};
use tradewind_core::data::load::{L1Jsonl, OhlcvCsv};
use tradewind_core::fixed::{Price, Quantity};

const BARS: usize = 1_000_000;

fn bars() -> Vec<Bar> {
    let mut x: u64 = 20_261_125;
    let mut close: i64 = 10_000;
    (0..BARS)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let open = close;
            close = (open + (x % 41) as i64 - 20).max(100);
            let p = |c: i64| Price::from_raw(c * 10_000_000, 2).expect("cents");
            Bar::new(
                1_700_000_040_000_000_000 + 60_000_000_000 * i as i64,
                p(open),
                p(open.max(close) + (x >> 20) as i64 % 5),
                p(open.min(close) - (x >> 30) as i64 % 5),
                p(close),
                Quantity::from_raw((1 + (x >> 40) % 999) * 1_000_000_000, 0).expect("units"),
            )
            .expect("consistent")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let series = bars();
    let mut csv = String::from("timestamp,open,high,low,close,volume\n");
    let mut jsonl = String::new();
    for b in &series {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{}",
            b.ts / 1_000_000_000,
            b.open,
            b.high,
            b.low,
            b.close,
            b.volume
        );
        let side = if b.close >= b.open { "buy" } else { "sell" };
        let _ = writeln!(
            jsonl,
            r#"{{"type":"trade","ts":{},"price":"{}","size":"{}","side":"{side}"}}"#,
            b.ts, b.close, b.volume
        );
    }
    let mut w = BarsWriter::new(Vec::new(), "bench", 2, 0, DEFAULT_BLOCK_BARS).expect("writer");
    series.iter().for_each(|b| w.push(b).expect("bar"));
    let (twb, _) = w.finish().expect("finish");

    let mut g = c.benchmark_group("load");
    g.throughput(Throughput::Elements(BARS as u64));
    g.sample_size(10);
    g.bench_function("ohlcv_csv", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for bar in OhlcvCsv::new("bench.csv", black_box(csv.as_bytes())) {
                n += black_box(bar.expect("valid")).volume.raw() as usize & 1;
            }
            n
        })
    });
    g.bench_function("trades_jsonl", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for ev in L1Jsonl::new("bench.jsonl", black_box(jsonl.as_bytes())) {
                black_box(ev.expect("valid"));
                n += 1;
            }
            n
        })
    });
    g.bench_function("columnar", |b| {
        let mut block = Vec::new();
        b.iter(|| {
            let mut r = BarsReader::new(black_box(&twb[..]), "bench.twb").expect("header");
            let mut n = 0usize;
            while r.next_block(&mut block).expect("valid") {
                n += black_box(&block).len();
            }
            n
        })
    });
    g.bench_function("columnar_write", |b| {
        b.iter(|| {
            let mut w = BarsWriter::new(
                Vec::with_capacity(twb.len()),
                "bench",
                2,
                0,
                DEFAULT_BLOCK_BARS,
            )
            .expect("writer");
            series.iter().for_each(|b| w.push(b).expect("bar"));
            w.finish().expect("finish").1
        })
    });
    g.finish();
    eprintln!(
        "sizes for {BARS} bars: CSV {} bytes, JSONL {} bytes, columnar {} bytes ({:.2} bytes a bar)",
        csv.len(),
        jsonl.len(),
        twb.len(),
        twb.len() as f64 / BARS as f64
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
