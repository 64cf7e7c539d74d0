//! Model configuration (the Strategy resource's `model` member), without the artifact's
//! bytes: the edge loads those and attaches them with [`ModelConfig::with_model`].

use std::sync::Arc;

use super::features::{FeatureSpec, check_features};
use super::onnx::{ModelError, OnnxModel, OutputSelector};
use crate::strategy::config::ConfigError;

/// What the model's decision output means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// A classifier's probability that the label is true (0 to 1).
    Probability,
    /// A regression score (any finite value).
    Score,
    /// The fraction of equity to hold in the base asset (0 to 1: spot is long only).
    TargetWeight,
}

/// How the output becomes orders.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DecisionRule {
    /// Enter long (sized by the bot's sizing) when the output rises above `enter_above`
    /// while flat; exit the whole position when it falls below `exit_below`. Between
    /// the two nothing changes (hysteresis).
    Thresholds {
        /// Entry level.
        enter_above: f64,
        /// Exit level, at most `enter_above`.
        exit_below: f64,
    },
    /// Hold `output × equity` in the base asset; rebalance with market orders when the
    /// held fraction is off by more than `rebalance_band`.
    TargetWeight {
        /// Tolerated drift, as a fraction of equity (0 to 1).
        rebalance_band: f64,
    },
}

/// Where the artifact comes from (the edge reads it; the core only keeps the label).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtifactSource {
    /// A file on a volume (or, for `backtest` and `features`, on the local disk).
    Path(String),
    /// A key of a ConfigMap in the Strategy's namespace.
    ConfigMap {
        /// ConfigMap name.
        name: String,
        /// Key (`binaryData` or `data`).
        key: String,
    },
    /// A key of a Secret in the Strategy's namespace.
    Secret {
        /// Secret name.
        name: String,
        /// Key.
        key: String,
    },
    /// A blob in the environment's storage account.
    BlobUrl(String),
}

impl std::fmt::Display for ArtifactSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArtifactSource::Path(p) => write!(f, "path {p}"),
            ArtifactSource::ConfigMap { name, key } => write!(f, "ConfigMap {name} key {key}"),
            ArtifactSource::Secret { name, key } => write!(f, "Secret {name} key {key}"),
            ArtifactSource::BlobUrl(u) => write!(f, "blob {u}"),
        }
    }
}

/// A Model strategy's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    /// The model's inputs, in order.
    pub features: Vec<FeatureSpec>,
    /// What the output means.
    pub kind: OutputKind,
    /// Which output and column.
    pub output: OutputSelector,
    /// How the output becomes orders.
    pub rule: DecisionRule,
    /// Where the artifact is.
    pub source: ArtifactSource,
    /// Its pinned SHA-256, lowercase hex.
    pub sha256: String,
    /// The loaded model, once the edge attached it.
    pub model: Option<Arc<OnnxModel>>,
    /// Keep every decision's inputs and output for [`Strategy::drain_decisions`]
    /// (`backtest --trace-decisions`).
    ///
    /// [`Strategy::drain_decisions`]: crate::strategy::Strategy::drain_decisions
    pub trace: bool,
    /// The Strategy's name, for the notes a skipped decision leaves (the edge knows it;
    /// see [`ModelConfig::named`]).
    pub strategy: Option<String>,
}

fn level(field: &str, kind: OutputKind, v: f64) -> Result<(), ConfigError> {
    if !v.is_finite() {
        return Err(ConfigError::new(field, format!("must be finite, got {v}")));
    }
    if kind == OutputKind::Probability && !(0.0..=1.0).contains(&v) {
        return Err(ConfigError::new(
            field,
            format!("a probability threshold must be between 0 and 1, got {v}"),
        ));
    }
    Ok(())
}

impl ModelConfig {
    /// Checks the features, the output and the rule (without the artifact).
    pub fn new(
        features: Vec<FeatureSpec>,
        kind: OutputKind,
        output: OutputSelector,
        rule: DecisionRule,
        source: ArtifactSource,
        sha256: &str,
    ) -> Result<Self, ConfigError> {
        check_features("model.features", &features)?;
        if sha256.len() != 64
            || !sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ConfigError::new(
                "model.artifact.sha256",
                "must be 64 lowercase hex digits",
            ));
        }
        match (kind, rule) {
            (OutputKind::TargetWeight, DecisionRule::TargetWeight { rebalance_band }) => {
                if !(rebalance_band.is_finite() && (0.0..1.0).contains(&rebalance_band)) {
                    return Err(ConfigError::new(
                        "model.targetWeight.rebalanceBand",
                        format!("must be at least 0 and below 1, got {rebalance_band}"),
                    ));
                }
            }
            (OutputKind::TargetWeight, DecisionRule::Thresholds { .. }) => {
                return Err(ConfigError::new(
                    "model.thresholds",
                    "a TargetWeight output is traded with targetWeight, not thresholds",
                ));
            }
            (_, DecisionRule::TargetWeight { .. }) => {
                return Err(ConfigError::new(
                    "model.targetWeight",
                    "needs output.kind TargetWeight",
                ));
            }
            (
                kind,
                DecisionRule::Thresholds {
                    enter_above,
                    exit_below,
                },
            ) => {
                level("model.thresholds.enterAbove", kind, enter_above)?;
                level("model.thresholds.exitBelow", kind, exit_below)?;
                if exit_below > enter_above {
                    return Err(ConfigError::new(
                        "model.thresholds.exitBelow",
                        format!("must not exceed enterAbove ({exit_below} > {enter_above})"),
                    ));
                }
            }
        }
        Ok(Self {
            features,
            kind,
            output,
            rule,
            source,
            sha256: sha256.to_owned(),
            model: None,
            trace: false,
            strategy: None,
        })
    }

    /// Loads the artifact's `bytes`: the digest, the input width and the output are
    /// checked (see [`OnnxModel::load`]).
    pub fn load(&self, bytes: &[u8]) -> Result<OnnxModel, ModelError> {
        OnnxModel::load(bytes, &self.sha256, self.features.len(), &self.output)
    }

    /// This configuration with the Strategy's name, which its notes then carry.
    pub fn named(mut self, strategy: impl Into<String>) -> Self {
        self.strategy = Some(strategy.into());
        self
    }

    /// This configuration with the artifact's `bytes` loaded and attached.
    pub fn with_model(mut self, bytes: &[u8]) -> Result<Self, ModelError> {
        self.model = Some(Arc::new(self.load(bytes)?));
        Ok(self)
    }
}
