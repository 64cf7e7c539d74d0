//! Model artifacts at the edge: the worker, `backtest` and `features` read the bytes a
//! Model strategy names and attach them to the bot's settings. The core checks them
//! (pinned SHA-256, input width against the declared features, the decision output), so
//! a model whose digest differs is refused before anything trades.

use std::path::Path;

use tradewind_config::{BotSettings, Invalid, SpecError};
use tradewind_core::strategy::StrategyConfig;
use tradewind_core::strategy::model::{ArtifactSource, ModelConfig};
use tradewind_crds::resolved::BotConfig;

/// Where the artifact's bytes can be read.
#[derive(Clone, Copy, Debug)]
pub enum Artifacts<'a> {
    /// On this machine (`backtest`, `features`): `path` sources, relative to the working
    /// directory.
    Local,
    /// In the worker's pod: the operator mounts a ConfigMap or Secret key (or its checked
    /// copy of a Blob Storage model) at this file;
    /// `path` sources are read as they are (a volume or the image).
    Pod(&'a Path),
}

fn refused(cfg: &BotConfig, field: &str, reason: String) -> SpecError {
    SpecError {
        kind: "Strategy",
        name: cfg.strategy_name.clone(),
        invalid: Invalid {
            field: field.to_owned(),
            reason,
        },
    }
}

/// Reads and loads the model of `config` (a Model strategy's), or says why not, naming
/// the Strategy and the field.
pub fn load(
    cfg: &BotConfig,
    config: ModelConfig,
    from: Artifacts<'_>,
) -> Result<ModelConfig, SpecError> {
    let field = "spec.model.artifact";
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| {
            refused(
                cfg,
                field,
                format!(
                    "cannot read the model ({}) at {}: {e}",
                    config.source,
                    path.display()
                ),
            )
        })
    };
    let bytes = match (&config.source, from) {
        (ArtifactSource::Path(p), _) => read(Path::new(p))?,
        (
            ArtifactSource::ConfigMap { .. }
            | ArtifactSource::Secret { .. }
            | ArtifactSource::BlobUrl(_),
            Artifacts::Pod(file),
        ) => read(file)?,
        (
            ArtifactSource::ConfigMap { .. }
            | ArtifactSource::Secret { .. }
            | ArtifactSource::BlobUrl(_),
            Artifacts::Local,
        ) => {
            return Err(refused(
                cfg,
                field,
                format!(
                    "the model is in {} (read in the cluster); outside it, name a local copy with artifact.path",
                    config.source
                ),
            ));
        }
    };
    let source = config.source.to_string();
    config
        .named(cfg.strategy_name.clone())
        .with_model(&bytes)
        .map_err(|e| refused(cfg, field, format!("{source}: {e}")))
}

/// The bot's settings ([`tradewind_config::bot`]) with a Model strategy's artifact
/// loaded; other strategies pass through.
pub fn settings(cfg: &BotConfig, from: Artifacts<'_>) -> Result<BotSettings, SpecError> {
    let mut settings = tradewind_config::bot(cfg)?;
    if let StrategyConfig::Model(m) = settings.strategy {
        settings.strategy = StrategyConfig::Model(load(cfg, m, from)?);
    }
    Ok(settings)
}
