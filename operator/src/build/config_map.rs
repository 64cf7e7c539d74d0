//! The ConfigMap holding the resolved bot configuration the worker reads.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use tradewind_crds::TradingBot;
use tradewind_crds::resolved::BotConfig;

use super::{BuildError, Names, child_meta};

use tradewind_crds::contract::CONFIG_FILE;

/// The ConfigMap `<bot>-config` with `bot.json`. Credentials are referenced, never copied.
pub fn config_map(bot: &TradingBot, cfg: &BotConfig) -> Result<ConfigMap, BuildError> {
    let name = Names(bot.metadata.name.as_deref().unwrap_or_default()).config_map();
    let json =
        serde_json::to_string_pretty(cfg).map_err(|e| BuildError::Serialise(e.to_string()))?;
    Ok(ConfigMap {
        metadata: child_meta(bot, name)?,
        data: Some(BTreeMap::from([(CONFIG_FILE.to_owned(), json)])),
        ..ConfigMap::default()
    })
}
