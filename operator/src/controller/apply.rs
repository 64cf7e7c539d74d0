//! Diff before write: read the live object, compare the fields we declare, and only then
//! server-side apply under the operator's field manager.

use std::fmt::Debug;

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::FIELD_MANAGER;
use crate::diff::is_subset;

/// Applying one object failed; names its kind and name.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The desired or the live object could not be turned into JSON.
    #[error("{kind} {name}: cannot serialise: {source}")]
    Serialise {
        /// Kind, e.g. `Deployment`.
        kind: String,
        /// Object name.
        name: String,
        /// Cause.
        source: serde_json::Error,
    },
    /// The read or the apply failed.
    #[error("{kind} {name}: {source}")]
    Kube {
        /// Kind, e.g. `Deployment`.
        kind: String,
        /// Object name.
        name: String,
        /// Cause.
        source: kube::Error,
    },
}

/// Applies `desired` unless the live object already matches it; returns the live object.
pub async fn apply<K>(api: &Api<K>, desired: &K) -> Result<K, ApplyError>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned,
{
    let name = desired.meta().name.clone().unwrap_or_default();
    let kind = || K::kind(&()).into_owned();
    let serialise = |source| ApplyError::Serialise {
        kind: kind(),
        name: name.clone(),
        source,
    };
    let kube = |source| ApplyError::Kube {
        kind: kind(),
        name: name.clone(),
        source,
    };
    let want = serde_json::to_value(desired).map_err(serialise)?;
    if let Some(live) = api.get_opt(&name).await.map_err(kube)? {
        let have = serde_json::to_value(&live).map_err(serialise)?;
        if is_subset(&want, &have) {
            return Ok(live);
        }
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(&want))
        .await
        .map_err(kube)
}
