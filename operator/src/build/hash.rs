//! The configuration hash: changes exactly when what the worker runs changes, so putting
//! it on the pod template rolls the worker on a Strategy or CommissionPlan edit.

use sha2::{Digest, Sha256};
use tradewind_crds::resolved::BotConfig;

use super::BuildError;

/// First 16 hex digits of SHA-256 over the resolved configuration (canonical JSON:
/// serde_json's maps are ordered) and the image.
pub fn config_hash(cfg: &BotConfig, image: &str) -> Result<String, BuildError> {
    let json = serde_json::to_vec(cfg).map_err(|e| BuildError::Serialise(e.to_string()))?;
    let mut h = Sha256::new();
    h.update(&json);
    h.update([0u8]);
    h.update(image.as_bytes());
    let digest = h.finalize();
    Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
}
