//! Model strategy: inference latency per decision (tract, one row, one thread) with the
//! example model (`examples/models/spy-gbm.onnx`, 9 features, 60 trees), p50/p99 over
//! every decision of a synthetic random walk; and the feature computation alone.
//!
//! Run: `cargo bench -p tradewind-core --bench model` (prints; figures in BENCHMARKS.md)

use std::hint::black_box;
use std::time::Instant;

use tradewind_core::data::Bar;
use tradewind_core::fixed::{Price, Quantity};
use tradewind_core::strategy::model::{
    FeatureKind, FeatureSet, FeatureSpec, OnnxModel, OutputSelector, sha256_hex,
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
            let p = |x: f64| Price::from_raw((x * 100.0).round() as i64, 2).unwrap();
            let v = Quantity::from_raw(1000 + (rng.next_f64() * 1e6) as u64, 0).unwrap();
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

fn percentile(sorted: &[u128], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
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

    let mut lat = Vec::with_capacity(rows.len());
    let mut sum = 0.0f32;
    for row in &rows {
        let t = Instant::now();
        sum += black_box(model.predict(black_box(row)).unwrap());
        lat.push(t.elapsed().as_nanos());
    }
    lat.sort_unstable();
    let total: u128 = lat.iter().sum();
    println!(
        "model/predict: {} decisions, p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs ({:.0} decisions/s); features {:.0} ns/bar; checksum {sum:.3}",
        lat.len(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        total as f64 / lat.len() as f64 / 1000.0,
        lat.len() as f64 / (total as f64 / 1e9),
        feature_ns
    );
}
