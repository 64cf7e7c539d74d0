//! The worker's state volume: with a StorageClass configured, each bot gets a
//! PersistentVolumeClaim for its journal, so a new pod (a rollout, a drained node)
//! resumes where the last one stopped; without, the journal lives in an `emptyDir` that
//! survives container restarts only.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use tradewind_crds::TradingBot;

use super::{BuildError, Names, OperatorConfig, child_meta};

/// Where workers keep their journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateVolume {
    /// StorageClass of the claims (`None`: the cluster's default class).
    pub storage_class: Option<String>,
    /// Size of each bot's claim, e.g. `1Gi`.
    pub size: String,
}

/// The bot's state claim, when the operator is configured with a [`StateVolume`].
pub fn state_claim(
    bot: &TradingBot,
    op: &OperatorConfig,
) -> Result<Option<PersistentVolumeClaim>, BuildError> {
    let Some(volume) = &op.state_volume else {
        return Ok(None);
    };
    let name = Names(bot.metadata.name.as_deref().unwrap_or_default()).state();
    Ok(Some(PersistentVolumeClaim {
        metadata: child_meta(bot, name)?,
        spec: Some(PersistentVolumeClaimSpec {
            // One worker pod at a time (Recreate), so one node mounts it.
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: volume.storage_class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(volume.size.clone()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    }))
}
