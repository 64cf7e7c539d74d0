//! Named features computed by the core's streaming indicators, one row per closed bar.
//!
//! The same [`FeatureSet`] runs in the Model strategy (backtest, paper, live) and in
//! `tradewind-bot features`, so what a model was trained on is what it sees when it
//! trades. Values are `f64`; the model reads them as `f32` (ONNX `float`).

use std::collections::VecDeque;

use crate::data::Bar;
use crate::indicators::{Atr, BollingerBands, Ema, Rsi, Sma};
use crate::strategy::config::ConfigError;

/// Longest lookback a feature may ask for, in bars.
pub const MAX_FEATURE_PERIOD: usize = 10_000;

/// What a feature computes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FeatureKind {
    /// Simple return over `period` bars: `close / close[period bars ago] − 1`.
    Returns {
        /// Bars back.
        period: usize,
    },
    /// `close / SMA(close, period) − 1`.
    SmaRatio {
        /// SMA period.
        period: usize,
    },
    /// `close / EMA(close, period) − 1`.
    EmaRatio {
        /// EMA period.
        period: usize,
    },
    /// Wilder's RSI of closes, 0 to 100.
    Rsi {
        /// RSI period.
        period: usize,
    },
    /// Bollinger %B: `(close − lower) / (upper − lower)`.
    BollingerPercentB {
        /// Middle-band period.
        period: usize,
        /// Band width in standard deviations.
        std_devs: f64,
    },
    /// Wilder's ATR divided by the close (scale-free).
    AtrRatio {
        /// ATR period.
        period: usize,
    },
    /// `(volume − mean) / stddev` of the last `period` volumes (population).
    VolumeZScore {
        /// Window in bars.
        period: usize,
    },
}

impl FeatureKind {
    /// The kind's name in the resources' spelling.
    pub fn name(&self) -> &'static str {
        match self {
            FeatureKind::Returns { .. } => "Returns",
            FeatureKind::SmaRatio { .. } => "SmaRatio",
            FeatureKind::EmaRatio { .. } => "EmaRatio",
            FeatureKind::Rsi { .. } => "Rsi",
            FeatureKind::BollingerPercentB { .. } => "BollingerPercentB",
            FeatureKind::AtrRatio { .. } => "AtrRatio",
            FeatureKind::VolumeZScore { .. } => "VolumeZScore",
        }
    }

    fn period(&self) -> usize {
        match *self {
            FeatureKind::Returns { period }
            | FeatureKind::SmaRatio { period }
            | FeatureKind::EmaRatio { period }
            | FeatureKind::Rsi { period }
            | FeatureKind::BollingerPercentB { period, .. }
            | FeatureKind::AtrRatio { period }
            | FeatureKind::VolumeZScore { period } => period,
        }
    }

    /// The smallest period the kind accepts.
    fn min_period(&self) -> usize {
        match self {
            FeatureKind::Returns { .. }
            | FeatureKind::SmaRatio { .. }
            | FeatureKind::EmaRatio { .. }
            | FeatureKind::AtrRatio { .. } => 1,
            FeatureKind::Rsi { .. }
            | FeatureKind::BollingerPercentB { .. }
            | FeatureKind::VolumeZScore { .. } => 2,
        }
    }
}

/// One named feature.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureSpec {
    /// Its name: the column in `tradewind-bot features` output and in messages.
    pub name: String,
    /// What it computes.
    pub kind: FeatureKind,
}

/// Checks a declared feature list: at least one, unique names made of letters, digits,
/// `_` and `-`, periods in range. `field` is where the list is (`model.features`).
pub fn check_features(field: &str, features: &[FeatureSpec]) -> Result<(), ConfigError> {
    if features.is_empty() {
        return Err(ConfigError::new(field, "declare at least one feature"));
    }
    for (i, f) in features.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let name_ok = !f.name.is_empty()
            && f.name.len() <= 63
            && f.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            return Err(ConfigError::new(
                format!("{at}.name"),
                format!(
                    "{:?} must be 1 to 63 letters, digits, '_' or '-' (it is a CSV column)",
                    f.name
                ),
            ));
        }
        if features[..i].iter().any(|g| g.name == f.name) {
            return Err(ConfigError::new(
                format!("{at}.name"),
                format!("{:?} is declared twice", f.name),
            ));
        }
        let (p, min) = (f.kind.period(), f.kind.min_period());
        if !(min..=MAX_FEATURE_PERIOD).contains(&p) {
            return Err(ConfigError::new(
                format!("{at}.period"),
                format!(
                    "{} needs a period from {min} to {MAX_FEATURE_PERIOD}, got {p}",
                    f.kind.name()
                ),
            ));
        }
        if let FeatureKind::BollingerPercentB { std_devs, .. } = f.kind
            && !(std_devs.is_finite() && std_devs > 0.0)
        {
            return Err(ConfigError::new(
                format!("{at}.stdDevs"),
                format!("must be finite and greater than zero, got {std_devs}"),
            ));
        }
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum Calc {
    Returns {
        period: usize,
        closes: VecDeque<f64>,
    },
    Sma(Sma),
    Ema(Ema),
    Rsi(Rsi),
    Bollinger(BollingerBands),
    Atr(Atr),
    VolumeZ {
        period: usize,
        window: VecDeque<f64>,
    },
}

impl Calc {
    fn new(kind: &FeatureKind) -> Self {
        // Periods were checked by `check_features`.
        const CHECKED: &str = "period checked by check_features";
        match *kind {
            FeatureKind::Returns { period } => Calc::Returns {
                period,
                closes: VecDeque::with_capacity(period + 1),
            },
            FeatureKind::SmaRatio { period } => Calc::Sma(Sma::new(period).expect(CHECKED)),
            FeatureKind::EmaRatio { period } => Calc::Ema(Ema::new(period).expect(CHECKED)),
            FeatureKind::Rsi { period } => Calc::Rsi(Rsi::new(period).expect(CHECKED)),
            FeatureKind::BollingerPercentB { period, std_devs } => {
                Calc::Bollinger(BollingerBands::new(period, std_devs, std_devs).expect(CHECKED))
            }
            FeatureKind::AtrRatio { period } => Calc::Atr(Atr::new(period).expect(CHECKED)),
            FeatureKind::VolumeZScore { period } => Calc::VolumeZ {
                period,
                window: VecDeque::with_capacity(period),
            },
        }
    }

    /// Bars consumed before the first value.
    fn lookback(&self) -> usize {
        match self {
            Calc::Returns { period, .. } => *period,
            Calc::Sma(s) => s.lookback(),
            Calc::Ema(e) => e.lookback(),
            Calc::Rsi(r) => r.lookback(),
            Calc::Bollinger(b) => b.lookback(),
            Calc::Atr(a) => a.lookback(),
            Calc::VolumeZ { period, .. } => period - 1,
        }
    }

    fn update(&mut self, bar: &Bar) -> Option<f64> {
        let close = bar.close.as_f64();
        match self {
            Calc::Returns { period, closes } => {
                closes.push_back(close);
                if closes.len() <= *period {
                    return None;
                }
                let then = closes.pop_front().expect("period + 1 closes");
                Some(close / then - 1.0)
            }
            Calc::Sma(s) => s.update(close).map(|m| close / m - 1.0),
            Calc::Ema(e) => e.update(close).map(|m| close / m - 1.0),
            Calc::Rsi(r) => r.update(close),
            Calc::Bollinger(b) => b
                .update(close)
                .map(|v| (close - v.lower) / (v.upper - v.lower)),
            Calc::Atr(a) => a
                .update(bar.high.as_f64(), bar.low.as_f64(), close)
                .map(|atr| atr / close),
            Calc::VolumeZ { period, window } => {
                window.push_back(bar.volume.as_f64());
                if window.len() > *period {
                    window.pop_front();
                }
                if window.len() < *period {
                    return None;
                }
                let n = *period as f64;
                let mean = window.iter().sum::<f64>() / n;
                let var = window.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                // A constant window (e.g. zero volume throughout) has no spread: the
                // z-score is undefined, and NaN says so (the strategy refuses to decide).
                Some((bar.volume.as_f64() - mean) / var.sqrt())
            }
        }
    }
}

/// The streaming computation of a declared feature list.
#[derive(Clone, Debug)]
pub struct FeatureSet {
    specs: Vec<FeatureSpec>,
    calcs: Vec<Calc>,
    row: Vec<f64>,
    ready: Vec<bool>,
}

impl FeatureSet {
    /// The calculators for `specs`, checked as `model.features`.
    pub fn new(specs: &[FeatureSpec]) -> Result<Self, ConfigError> {
        check_features("model.features", specs)?;
        Ok(Self {
            specs: specs.to_vec(),
            calcs: specs.iter().map(|s| Calc::new(&s.kind)).collect(),
            row: vec![f64::NAN; specs.len()],
            ready: vec![false; specs.len()],
        })
    }

    /// The declared features, in input order.
    pub fn specs(&self) -> &[FeatureSpec] {
        &self.specs
    }

    /// Bars consumed before every feature has a value.
    pub fn warmup_bars(&self) -> usize {
        self.calcs.iter().map(Calc::lookback).max().unwrap_or(0)
    }

    /// Feeds one closed bar; the row once every feature has a value. The row may hold
    /// NaN or infinite values (a zero-volume stretch, a flat band): see [`first_bad`].
    ///
    /// [`first_bad`]: FeatureSet::first_bad
    pub fn update(&mut self, bar: &Bar) -> Option<&[f64]> {
        for (i, calc) in self.calcs.iter_mut().enumerate() {
            if let Some(v) = calc.update(bar) {
                self.row[i] = v;
                self.ready[i] = true;
            }
        }
        self.ready.iter().all(|r| *r).then_some(&self.row[..])
    }

    /// The latest row (NaN before a feature's first value).
    pub fn row(&self) -> &[f64] {
        &self.row
    }

    /// The first feature of the latest row that is NaN or infinite, with its value.
    pub fn first_bad(&self) -> Option<(&FeatureSpec, f64)> {
        self.row
            .iter()
            .zip(&self.specs)
            .find(|(v, _)| !v.is_finite())
            .map(|(v, s)| (s, *v))
    }
}
