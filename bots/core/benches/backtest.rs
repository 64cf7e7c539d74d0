//! Whole-backtest and indicator throughput on one core.
//!
//! - `backtest/sma_cross_1m_bars`: SmaCross(10, 20), all-in, next-bar-open fills, 20 bp
//!   fees, over 1,000,000 synthetic one-minute bars (a geometric random walk with a fixed
//!   seed, the same shape as tools/bench/synthetic_bars.py) — strategy, sizing, pre-trade
//!   risk, matching, fees, accounting and the equity curve, everything but I/O;
//! - `indicators/*`: one streaming update per input for each indicator.
//!
//! Run: `cargo bench -p tradewind-core --bench backtest`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tradewind_core::backtest::{Backtest, Settings, Sizing};
use tradewind_core::data::Bar;
use tradewind_core::exchange::{BarFillModel, Bps, FeeSchedule};
use tradewind_core::fixed::{Money, Price, Quantity};
use tradewind_core::indicators::{Atr, BollingerBands, Ema, Macd, Rsi, Sma};
use tradewind_core::instrument::Instrument;
use tradewind_core::risk::RiskLimits;
use tradewind_core::strategy::sma_cross::{SmaCross, SmaCrossConfig};

const BARS: usize = 1_000_000;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal by Box–Muller.
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.next_f64().max(1e-300), self.next_f64());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

fn cents(x: f64) -> Price {
    Price::from_raw((x * 100.0).round() as i64 * 10_000_000, 2).expect("cents")
}

fn synthetic_bars(n: usize) -> Vec<Bar> {
    let mut rng = Rng(20_261_125);
    let mut close = 100.0f64;
    let mut bars = Vec::with_capacity(n);
    for i in 0..n {
        let open = close;
        close *= (0.001 * rng.normal()).exp();
        let (o, c) = (cents(open), cents(close));
        let high = o.max(c) + cents(0.05 * rng.next_f64());
        let low = o.min(c) - cents(0.05 * rng.next_f64());
        let volume = Quantity::from_raw((1 + (rng.next_f64() * 999.0) as u64) * 1_000_000_000, 0)
            .expect("whole units");
        bars.push(
            Bar::new(i as i64 * 60_000_000_000, o, high, low, c, volume).expect("consistent"),
        );
    }
    bars
}

fn settings() -> Settings {
    Settings {
        instrument: Instrument::new(
            "SYNTH",
            "SYNTH",
            "USD",
            cents(0.01),
            Quantity::from_raw(1_000_000_000, 0).expect("lot"),
            Quantity::from_raw(1_000_000_000, 0).expect("lot"),
            Money::ZERO,
        )
        .expect("instrument"),
        capital: Money::parse("10000").expect("capital"),
        fill_model: BarFillModel::NextBarOpen,
        slippage: Bps::ZERO,
        fees: FeeSchedule::flat(
            Bps::from_whole(20).expect("bps"),
            Bps::from_whole(20).expect("bps"),
        ),
        sizing: Sizing::AllIn,
        risk: RiskLimits::default(),
    }
}

fn bench_backtest(c: &mut Criterion) {
    let bars = synthetic_bars(BARS);
    let mut g = c.benchmark_group("backtest");
    g.sample_size(10);
    g.throughput(Throughput::Elements(BARS as u64));
    g.bench_function("sma_cross_1m_bars", |b| {
        b.iter(|| {
            let strategy = SmaCross::new(SmaCrossConfig::new(10, 20).expect("periods"));
            let outcome = Backtest::new(settings(), Box::new(strategy))
                .run(black_box(&bars))
                .expect("runs");
            black_box(outcome.portfolio.equity())
        })
    });
    g.finish();
}

fn bench_indicators(c: &mut Criterion) {
    let closes: Vec<f64> = synthetic_bars(100_000)
        .iter()
        .map(|b| b.close.as_f64())
        .collect();
    let mut g = c.benchmark_group("indicators");
    g.throughput(Throughput::Elements(closes.len() as u64));
    macro_rules! bench {
        ($name:expr, $make:expr) => {
            g.bench_function($name, |b| {
                b.iter(|| {
                    let mut ind = $make;
                    let mut acc = 0.0f64;
                    for &x in &closes {
                        if let Some(v) = ind.update(black_box(x)) {
                            acc += f64::from(v);
                        }
                    }
                    black_box(acc)
                })
            });
        };
    }
    bench!("sma_20", Sma::new(20).expect("period"));
    bench!("ema_20", Ema::new(20).expect("period"));
    bench!("rsi_14", Rsi::new(14).expect("period"));
    g.bench_function("bbands_20_2", |b| {
        b.iter(|| {
            let mut ind = BollingerBands::new(20, 2.0, 2.0).expect("period");
            let mut acc = 0.0f64;
            for &x in &closes {
                if let Some(v) = ind.update(black_box(x)) {
                    acc += v.upper;
                }
            }
            black_box(acc)
        })
    });
    g.bench_function("macd_12_26_9", |b| {
        b.iter(|| {
            let mut ind = Macd::new(12, 26, 9).expect("periods");
            let mut acc = 0.0f64;
            for &x in &closes {
                if let Some(v) = ind.update(black_box(x)) {
                    acc += v.macd;
                }
            }
            black_box(acc)
        })
    });
    g.bench_function("atr_14", |b| {
        let bars = synthetic_bars(100_000);
        b.iter(|| {
            let mut ind = Atr::new(14).expect("period");
            let mut acc = 0.0f64;
            for bar in &bars {
                if let Some(v) = ind.update(bar.high.as_f64(), bar.low.as_f64(), bar.close.as_f64())
                {
                    acc += v;
                }
            }
            black_box(acc)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_backtest, bench_indicators);
criterion_main!(benches);
