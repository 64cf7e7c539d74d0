//! Diff before write: read the live object, compare the fields we declare, and only then
//! server-side apply under the operator's field manager.

use std::fmt::Debug;

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Error, FIELD_MANAGER};
use crate::diff::is_subset;

/// Applies `desired` unless the live object already matches it; returns the live object.
pub async fn apply<K>(api: &Api<K>, desired: &K) -> Result<K, Error>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
{
    let name = desired.meta().name.clone().unwrap_or_default();
    let want =
        serde_json::to_value(desired).map_err(|e| Error::Serialise(format!("{name}: {e}")))?;
    if let Some(live) = api.get_opt(&name).await? {
        let have =
            serde_json::to_value(&live).map_err(|e| Error::Serialise(format!("{name}: {e}")))?;
        if is_subset(&want, &have) {
            return Ok(live);
        }
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    Ok(api.patch(&name, &params, &Patch::Apply(&want)).await?)
}
