//! Model: a declared feature set, computed by the core's streaming indicators on the
//! strategy's bars, fed to an ONNX model pinned by its SHA-256; the model's output becomes
//! orders by thresholds with hysteresis or by a target weight. Entries are sized and every
//! order is checked by the bot's sizing and risk, as for every other strategy.
//!
//! Nothing is traded on a row the model should not see: a NaN or infinite feature (a
//! zero-volume stretch makes the volume z-score undefined), an inference error, or an
//! output out of its range skips the decision and leaves a note naming the feature or
//! the output (one per bad stretch, so a long gap does not flood the notes).

mod config;
pub mod features;
pub mod onnx;
#[cfg(test)]
mod tests;

pub use config::{ArtifactSource, DecisionRule, ModelConfig, OutputKind};
pub use features::{FeatureKind, FeatureSet, FeatureSpec};
pub use onnx::{ModelError, OnnxModel, OnnxSession, OutputSelector, sha256_hex};

use crate::data::{Bar, Side, UnixNanos};
use crate::fixed::{Money, Quantity, RoundingMode};
use crate::orders::{OrderKind, TimeInForce};
use crate::strategy::config::ConfigError;
use crate::strategy::{Actions, Context, OrderSize, PlannedOrder, Strategy};

/// One decision of a model strategy: the feature row it saw and what the model said
/// (`None` when the row was refused before inference).
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The bar's time.
    pub ts: UnixNanos,
    /// The features, in declared order.
    pub inputs: Vec<f64>,
    /// The model's output.
    pub output: Option<f32>,
}

/// Basis points in one.
const BPS: i128 = 10_000;

/// The Model strategy.
#[derive(Debug)]
pub struct Model {
    features: FeatureSet,
    /// tract's run state and input buffer, made once and reused by every decision.
    model: OnnxSession,
    kind: OutputKind,
    rule: DecisionRule,
    notes: Vec<String>,
    /// Each decision's inputs and output, when the edge asked ([`ModelConfig::trace`]).
    trace: Option<Vec<Decision>>,
    /// What the current bad stretch is about (no note again until a good decision).
    bad: Option<String>,
    skipped: u64,
    /// How notes name the strategy: `Model strategy <name>`, or `Model` unnamed.
    label: String,
}

impl Model {
    /// A fresh strategy; the artifact must have been attached
    /// ([`ModelConfig::with_model`]).
    pub fn new(config: &ModelConfig) -> Result<Self, ConfigError> {
        let model = config.model.clone().ok_or_else(|| {
            ConfigError::new(
                "model.artifact",
                format!(
                    "the model ({}, sha256 {}) was not loaded",
                    config.source, config.sha256
                ),
            )
        })?;
        let model = model.session().map_err(|e| {
            ConfigError::new(
                "model.artifact",
                format!("the model ({}) cannot run: {e}", config.source),
            )
        })?;
        Ok(Self {
            features: FeatureSet::new(&config.features)?,
            model,
            kind: config.kind,
            rule: config.rule,
            notes: Vec::new(),
            trace: config.trace.then(Vec::new),
            bad: None,
            skipped: 0,
            label: match &config.strategy {
                Some(name) => format!("Model strategy {name}"),
                None => "Model".to_owned(),
            },
        })
    }

    /// Decisions skipped so far (bad features, failed inference, output out of range).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    fn skip(&mut self, what: String, detail: String) {
        self.skipped += 1;
        if self.bad.as_deref() != Some(what.as_str()) {
            self.notes.push(format!(
                "{}: {detail}; no decision until it is usable again",
                self.label
            ));
            self.bad = Some(what);
        }
    }

    fn in_range(&self, y: f32) -> bool {
        y.is_finite()
            && match self.kind {
                OutputKind::Score => true,
                OutputKind::Probability | OutputKind::TargetWeight => (0.0..=1.0).contains(&y),
            }
    }

    fn target_weight(&self, ctx: &Context<'_>, bar: &Bar, y: f32, band: f64, out: &mut Actions) {
        // Working orders first: a rebalance waits for the previous one.
        if !ctx.open_orders.is_empty() || ctx.equity.is_negative() || ctx.equity.is_zero() {
            return;
        }
        let to_bps = |x: f64| (x * BPS as f64).round() as i128;
        let Some(target) = ctx
            .equity
            .mul_ratio(to_bps(f64::from(y)), BPS, RoundingMode::Down)
        else {
            return;
        };
        let held = bar.close.notional(ctx.position);
        let Some(diff) = target.checked_sub(held) else {
            return;
        };
        let tolerated = ctx
            .equity
            .mul_ratio(to_bps(band), BPS, RoundingMode::Down)
            .unwrap_or(Money::ZERO);
        let Some(size) = diff.checked_abs() else {
            return;
        };
        if size.raw() <= tolerated.raw() || size.is_zero() {
            return;
        }
        if !diff.is_negative() {
            out.place(market(Side::Buy, OrderSize::Quote(size)));
        } else if target.is_zero() {
            out.place(market(Side::Sell, OrderSize::Position));
        } else if !held.is_zero() {
            // Sell the held base in the proportion the notional is over the target.
            let raw = (i128::from(ctx.position.raw()) * size.raw() / held.raw()) as u64;
            let Ok(q) = Quantity::from_raw(raw.min(ctx.position.raw()), ctx.position.precision())
            else {
                return;
            };
            let q = ctx.instrument.round_quantity(q);
            if !q.is_zero() {
                out.place(market(Side::Sell, OrderSize::Base(q)));
            }
        }
    }
}

fn market(side: Side, size: OrderSize) -> PlannedOrder {
    PlannedOrder {
        side,
        size,
        kind: OrderKind::Market,
        time_in_force: TimeInForce::Ioc,
        post_only: false,
    }
}

impl Strategy for Model {
    fn name(&self) -> &'static str {
        "Model"
    }

    fn warmup_bars(&self) -> usize {
        self.features.warmup_bars()
    }

    fn on_bar(&mut self, ctx: &Context<'_>, bar: &Bar, out: &mut Actions) {
        if self.features.update(bar).is_none() {
            return;
        }
        if let Some(trace) = &mut self.trace {
            trace.push(Decision {
                ts: bar.ts,
                inputs: self.features.row().to_vec(),
                output: None,
            });
        }
        if let Some((spec, v)) = self.features.first_bad() {
            let (what, detail) = (
                format!("feature {}", spec.name),
                format!(
                    "feature {} ({}) is {v} at bar {}",
                    spec.name,
                    spec.kind.name(),
                    bar.ts
                ),
            );
            self.skip(what, detail);
            return;
        }
        let y = match self.model.predict(self.features.row()) {
            Ok(y) => y,
            Err(e) => {
                self.skip("inference".into(), format!("at bar {}: {e}", bar.ts));
                return;
            }
        };
        if let Some(last) = self.trace.as_mut().and_then(|t| t.last_mut()) {
            last.output = Some(y);
        }
        if !self.in_range(y) {
            let range = match self.kind {
                OutputKind::Score => "finite",
                OutputKind::Probability => "a probability (0 to 1)",
                OutputKind::TargetWeight => "a weight from 0 to 1",
            };
            self.skip(
                "output".into(),
                format!(
                    "output {} is {y} at bar {}, not {range}",
                    self.model.model().output_name(),
                    bar.ts
                ),
            );
            return;
        }
        if self.bad.take().is_some() {
            self.notes
                .push(format!("{}: deciding again at bar {}", self.label, bar.ts));
        }
        match self.rule {
            DecisionRule::Thresholds {
                enter_above,
                exit_below,
            } => {
                let y = f64::from(y);
                if y > enter_above && !ctx.is_long() && ctx.open_orders.is_empty() {
                    out.enter_long();
                } else if y < exit_below && ctx.is_long() {
                    out.exit_long();
                }
            }
            DecisionRule::TargetWeight { rebalance_band } => {
                self.target_weight(ctx, bar, y, rebalance_band, out);
            }
        }
    }

    fn drain_notes(&mut self, out: &mut Vec<String>) {
        out.append(&mut self.notes);
    }

    fn drain_decisions(&mut self, out: &mut Vec<Decision>) {
        if let Some(trace) = &mut self.trace {
            out.append(trace);
        }
    }
}
