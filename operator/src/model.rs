//! Model artifacts: the operator reads a Model strategy's ConfigMap or Secret key and
//! loads it as the worker will (pinned SHA-256, input shape against the declared
//! features, the decision output), so a Strategy whose model cannot run is not Ready and
//! says why. The worker checks again when it starts.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client};
use tradewind_config::Invalid;
use tradewind_core::strategy::StrategyConfig;
use tradewind_core::strategy::model::ArtifactSource;
use tradewind_crds::StrategySpec;

/// What the operator could say about a Model strategy's artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactCheck {
    /// Not a Model strategy (or its parameters are already refused).
    NotApplicable,
    /// Loaded and matching.
    Verified(String),
    /// On a path only the worker sees: it checks it when it starts.
    WorkerChecks(String),
}

fn bad(field: &str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Bytes of a ConfigMap key (`binaryData`, else `data`) or a Secret key.
async fn fetch(client: &Client, ns: &str, source: &ArtifactSource) -> Result<Vec<u8>, Invalid> {
    match source {
        ArtifactSource::ConfigMap { name, key } => {
            let field = "spec.model.artifact.configMap";
            let cm = Api::<ConfigMap>::namespaced(client.clone(), ns)
                .get_opt(name)
                .await
                .map_err(|e| bad(field, format!("reading ConfigMap {name}: {e}")))?
                .ok_or_else(|| bad(field, format!("ConfigMap {name} not found")))?;
            if let Some(b) = cm.binary_data.as_ref().and_then(|d| d.get(key)) {
                return Ok(b.0.clone());
            }
            if let Some(s) = cm.data.as_ref().and_then(|d| d.get(key)) {
                return Ok(s.as_bytes().to_vec());
            }
            Err(bad(
                field,
                format!("ConfigMap {name} has no key {key:?} in binaryData or data"),
            ))
        }
        ArtifactSource::Secret { name, key } => {
            let field = "spec.model.artifact.secret";
            let s = Api::<Secret>::namespaced(client.clone(), ns)
                .get_opt(name)
                .await
                .map_err(|e| bad(field, format!("reading Secret {name}: {e}")))?
                .ok_or_else(|| bad(field, format!("Secret {name} not found")))?;
            s.data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|b| b.0.clone())
                .ok_or_else(|| bad(field, format!("Secret {name} has no key {key:?}")))
        }
        ArtifactSource::BlobUrl(_) => Err(bad(
            "spec.model.artifact.blobUrl",
            "fetching models from Blob Storage is not supported yet; use configMap, secret or path",
        )),
        ArtifactSource::Path(_) => unreachable!("paths are not fetched"),
    }
}

/// Loads and checks the model a Strategy names.
pub async fn check(
    client: &Client,
    ns: &str,
    spec: &StrategySpec,
) -> Result<ArtifactCheck, Invalid> {
    let Ok(StrategyConfig::Model(config)) = tradewind_config::strategy(spec) else {
        return Ok(ArtifactCheck::NotApplicable);
    };
    if let ArtifactSource::Path(p) = &config.source {
        return Ok(ArtifactCheck::WorkerChecks(format!(
            "the model at path {p} is checked by the worker when it starts"
        )));
    }
    let bytes = fetch(client, ns, &config.source).await?;
    let model = config
        .load(&bytes)
        .map_err(|e| bad("spec.model.artifact", format!("{}: {e}", config.source)))?;
    Ok(ArtifactCheck::Verified(format!(
        "model {} verified (sha256 {}, {} features, output {})",
        config.source,
        model.sha256(),
        model.inputs(),
        model.output_name()
    )))
}
