//! Instruction counts of the market-data readers, for callgrind (load-independent where
//! criterion's times are not): builds the `benches/data.rs` series in one format, then
//! reads it `REPS` times inside `parse_*`, which callgrind can isolate:
//!
//! ```sh
//! cargo build --release -p tradewind-core --example data_profile
//! valgrind --tool=callgrind --toggle-collect='data_profile::parse_*' \
//!     target/release/examples/data_profile csv 100000
//! ```
//!
//! Collected instructions / bars = instructions per bar. Without valgrind it prints bars/s.
//! Usage: `data_profile csv|jsonl|twb [BARS] [REPS]`.

use std::fmt::Write as _;
use tradewind_core::data::Bar;
use tradewind_core::data::columnar::{BarsReader, BarsWriter, DEFAULT_BLOCK_BARS};
use tradewind_core::data::load::{L1Jsonl, OhlcvCsv};
use tradewind_core::fixed::{Price, Quantity};

fn bars(n: usize) -> Vec<Bar> {
    let mut x: u64 = 20_261_125;
    let mut close: i64 = 10_000;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let open = close;
            close = (open + (x % 41) as i64 - 20).max(100);
            let p = |c: i64| Price::from_raw(c * 10_000_000, 2).unwrap();
            Bar::new(
                1_700_000_040_000_000_000 + 60_000_000_000 * i as i64,
                p(open),
                p(open.max(close) + (x >> 20) as i64 % 5),
                p(open.min(close) - (x >> 30) as i64 % 5),
                p(close),
                Quantity::from_raw((1 + (x >> 40) % 999) * 1_000_000_000, 0).unwrap(),
            )
            .unwrap()
        })
        .collect()
}

#[inline(never)]
fn parse_csv(csv: &[u8]) -> usize {
    let mut n = 0;
    for b in OhlcvCsv::new("b.csv", csv) {
        b.unwrap();
        n += 1;
    }
    n
}
#[inline(never)]
fn parse_jsonl(t: &[u8]) -> usize {
    let mut n = 0;
    for e in L1Jsonl::new("b.jsonl", t) {
        e.unwrap();
        n += 1;
    }
    n
}
#[inline(never)]
fn parse_twb(t: &[u8]) -> usize {
    let mut r = BarsReader::new(t, "b.twb").unwrap();
    let mut v = Vec::new();
    let mut n = 0;
    while r.next_block(&mut v).unwrap() {
        n += v.len();
    }
    n
}

fn main() {
    let mode = std::env::args().nth(1).unwrap();
    let n: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(1_000_000);
    let reps: usize = std::env::args()
        .nth(3)
        .map(|s| s.parse().unwrap())
        .unwrap_or(1);
    let series = bars(n);
    let data: Vec<u8> = match mode.as_str() {
        "csv" => {
            let mut s = String::from("timestamp,open,high,low,close,volume\n");
            for b in &series {
                let _ = writeln!(
                    s,
                    "{},{},{},{},{},{}",
                    b.ts / 1_000_000_000,
                    b.open,
                    b.high,
                    b.low,
                    b.close,
                    b.volume
                );
            }
            s.into_bytes()
        }
        "jsonl" => {
            let mut s = String::new();
            for b in &series {
                let _ = writeln!(
                    s,
                    r#"{{"type":"trade","ts":{},"price":"{}","size":"{}","side":"buy"}}"#,
                    b.ts, b.close, b.volume
                );
            }
            s.into_bytes()
        }
        "twb" => {
            let mut w = BarsWriter::new(Vec::new(), "b", 2, 0, DEFAULT_BLOCK_BARS).unwrap();
            series.iter().for_each(|b| w.push(b).unwrap());
            w.finish().unwrap().0
        }
        other => panic!("unknown format {other}: csv, jsonl or twb"),
    };
    let t = std::time::Instant::now();
    let mut k = 0;
    for _ in 0..reps {
        k += match mode.as_str() {
            "csv" => parse_csv(&data),
            "jsonl" => parse_jsonl(&data),
            _ => parse_twb(&data),
        };
    }
    let s = t.elapsed().as_secs_f64();
    println!("{mode}: {:.1} M bars/s ({k})", (n * reps) as f64 / s / 1e6);
}
