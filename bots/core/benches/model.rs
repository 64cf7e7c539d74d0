//! Model strategy: inference latency per decision (tract, one row, one thread) with the
//! example model (`examples/models/spy-gbm.onnx`, 9 features, 60 trees), p50/p99 over
//! every decision of a synthetic random walk, with the session a strategy keeps (state
//! and input reused) and with a fresh tract state per decision; then criterion's
//! estimates of the same and of the feature computation; and the whole backtest loop
//! with the Model strategy (features, inference, rule, sizing, risk, matching, fees,
//! accounting) in bars/s.
//!
//! Run: `cargo bench -p tradewind-core --bench model` (prints; figures in BENCHMARKS.md).
//! With `TW_MODEL_BENCH_ROWS=FILE` it also writes the feature rows it fed the model as
//! CSV, for `tools/ml/bench.py --bench-bin` to run the same loop in onnxruntime.

use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;

use tradewind_core::backtest::{Backtest, Settings, Sizing};
use tradewind_core::data::Bar;
use tradewind_core::exchange::{BarFillModel, Bps, FeeSchedule};
use tradewind_core::fixed::{Money, Price, Quantity};
use tradewind_core::instrument::Instrument;
use tradewind_core::risk::RiskLimits;
use tradewind_core::strategy::model::{
    ArtifactSource, DecisionRule, FeatureKind, FeatureSet, FeatureSpec, Model, ModelConfig,
    OnnxModel, OutputKind, OutputSelector, sha256_hex,
};

const BARS: usize = 50_000;

struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn bars() -> Vec<Bar> {
    let mut rng = Rng(7);
    let mut close = 290.0f64;
    (0..BARS)
        .map(|i| {
            let open = close;
            close *= 1.0 + (rng.next_f64() - 0.5) * 0.004;
            let (hi, lo) = (open.max(close) * 1.0005, open.min(close) * 0.9995);
            // Raw values are in units of 1e-9 (see `fixed`), at the stated precision.
            let p = |x: f64| Price::from_raw((x * 100.0).round() as i64 * 10_000_000, 2).unwrap();
            let v = Quantity::from_raw((1000 + (rng.next_f64() * 1e6) as u64) * 1_000_000_000, 0)
                .unwrap();
            Bar::new(
                i as i64 * 300_000_000_000,
                p(open),
                p(hi),
                p(lo),
                p(close),
                v,
            )
            .unwrap()
        })
        .collect()
}

fn features() -> Vec<FeatureSpec> {
    let f = |name: &str, kind| FeatureSpec {
        name: name.into(),
        kind,
    };
    vec![
        f("ret_1", FeatureKind::Returns { period: 1 }),
        f("ret_6", FeatureKind::Returns { period: 6 }),
        f("ret_24", FeatureKind::Returns { period: 24 }),
        f("sma_ratio_20", FeatureKind::SmaRatio { period: 20 }),
        f("ema_ratio_50", FeatureKind::EmaRatio { period: 50 }),
        f("rsi_14", FeatureKind::Rsi { period: 14 }),
        f(
            "bb_pctb_20",
            FeatureKind::BollingerPercentB {
                period: 20,
                std_devs: 2.0,
            },
        ),
        f("atr_ratio_14", FeatureKind::AtrRatio { period: 14 }),
        f("volume_z_48", FeatureKind::VolumeZScore { period: 48 }),
    ]
}

fn settings() -> Settings {
    let cent = Price::from_raw(10_000_000, 2).unwrap();
    let one = Quantity::from_raw(1_000_000_000, 0).unwrap();
    Settings {
        instrument: Instrument::new("SYNTH", "SYNTH", "USD", cent, one, one, Money::ZERO).unwrap(),
        capital: Money::parse("10000").unwrap(),
        fill_model: BarFillModel::NextBarOpen,
        slippage: Bps::ZERO,
        fees: FeeSchedule::flat(Bps::from_whole(10).unwrap(), Bps::from_whole(10).unwrap()),
        sizing: Sizing::AllIn,
        risk: RiskLimits::default(),
    }
}

fn percentile(sorted: &[u128], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

fn latencies(rows: &[Vec<f64>], mut predict: impl FnMut(&[f64]) -> f32) -> (Vec<u128>, f32) {
    let mut lat = Vec::with_capacity(rows.len());
    let mut sum = 0.0f32;
    for row in rows {
        let t = Instant::now();
        sum += black_box(predict(black_box(row)));
        lat.push(t.elapsed().as_nanos());
    }
    lat.sort_unstable();
    (lat, sum)
}

fn report(what: &str, lat: &[u128], sum: f32) {
    let total: u128 = lat.iter().sum();
    println!(
        "model/{what}: {} decisions, p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs ({:.0} decisions/s); checksum {sum:.3}",
        lat.len(),
        percentile(lat, 0.50),
        percentile(lat, 0.99),
        total as f64 / lat.len() as f64 / 1000.0,
        lat.len() as f64 / (total as f64 / 1e9),
    );
}

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/models/spy-gbm.onnx"
    );
    let bytes = std::fs::read(path).expect("examples/models/spy-gbm.onnx");
    let selector = OutputSelector {
        name: None,
        column: 1,
    };
    let bars = bars();
    let specs = features();
    let model = OnnxModel::load(&bytes, &sha256_hex(&bytes), specs.len(), &selector).unwrap();

    let mut set = FeatureSet::new(&specs).unwrap();
    let t = Instant::now();
    let mut rows = Vec::with_capacity(BARS);
    for bar in &bars {
        if let Some(row) = set.update(bar) {
            rows.push(row.to_vec());
        }
    }
    let feature_ns = t.elapsed().as_nanos() as f64 / BARS as f64;
    println!("model/features: {feature_ns:.0} ns/bar over {BARS} bars");

    let mut session = model.session().unwrap();
    let (lat, sum) = latencies(&rows, |row| session.predict(row).unwrap());
    report("predict (session reused)", &lat, sum);
    let (lat, fresh_sum) = latencies(&rows, |row| model.predict(row).unwrap());
    report("predict (fresh state each)", &lat, fresh_sum);
    assert_eq!(sum.to_bits(), fresh_sum.to_bits(), "the two paths disagree");

    // The whole backtest loop with the strategy as the worker runs it.
    let config = ModelConfig::new(
        specs.clone(),
        OutputKind::Probability,
        selector.clone(),
        DecisionRule::Thresholds {
            enter_above: 0.55,
            exit_below: 0.45,
        },
        ArtifactSource::Path(path.into()),
        &sha256_hex(&bytes),
    )
    .unwrap()
    .with_model(&bytes)
    .unwrap();
    let t = Instant::now();
    let outcome = Backtest::new(settings(), Box::new(Model::new(&config).unwrap()))
        .run(black_box(&bars))
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "model/backtest: {BARS} bars in {:.1} ms ({:.0} bars/s), {} fills, equity {}",
        secs * 1e3,
        BARS as f64 / secs,
        outcome.fills.len(),
        outcome.portfolio.equity()
    );

    if let Some(out) = std::env::var_os("TW_MODEL_BENCH_ROWS") {
        let mut csv = String::from(
            &specs
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        csv.push('\n');
        for row in &rows {
            let cells: Vec<String> = row.iter().map(f64::to_string).collect();
            csv.push_str(&cells.join(","));
            csv.push('\n');
        }
        std::fs::write(&out, csv).expect("TW_MODEL_BENCH_ROWS is writable");
    }

    let mut c = Criterion::default().configure_from_args();
    let row = rows[rows.len() / 2].clone();
    c.bench_function("model/predict (session reused)", |b| {
        b.iter(|| session.predict(black_box(&row)).unwrap())
    });
    c.bench_function("model/predict (fresh state each)", |b| {
        b.iter(|| model.predict(black_box(&row)).unwrap())
    });
    c.bench_function("model/features (1000 bars)", |b| {
        b.iter(|| {
            let mut set = FeatureSet::new(&specs).unwrap();
            for bar in &bars[..1000] {
                black_box(set.update(bar));
            }
        })
    });
    c.final_summary();
}
