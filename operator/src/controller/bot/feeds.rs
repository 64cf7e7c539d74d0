//! The shared market-data feeds of the bots: the feed of a Paper or Live bot's symbol is
//! applied with the bot; a feed no such bot uses any more is deleted.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use tradewind_crds::{Mode, TradingBot};

use super::Error;
use crate::build::{self, FEED_COMPONENT, FEED_COMPONENT_LABEL};
use crate::controller::Context;
use crate::controller::apply::apply as apply_one;
use crate::controller::key;

fn api(ctx: &Context) -> Option<Api<Deployment>> {
    let m = ctx.settings.market_data.as_ref()?;
    Some(Api::namespaced(ctx.client.clone(), &m.namespace))
}

/// Applies the feed of `bot`'s symbol (nothing without market data).
pub async fn ensure(ctx: &Context, bot: &TradingBot) -> Result<(), Error> {
    let (Some(api), Some((market, symbol))) = (api(ctx), build::shard_of(bot)) else {
        return Ok(());
    };
    if let Some(feed) = build::feed_deployment(market, &symbol, &ctx.settings) {
        apply_one(&api, &feed).await.map_err(Error::ApplyWorkload)?;
    }
    Ok(())
}

/// Deletes the feeds no Paper or Live bot (other than `leaving`) uses.
pub async fn prune(ctx: &Context, leaving: &TradingBot) -> Result<(), Error> {
    let Some(api) = api(ctx) else {
        return Ok(());
    };
    let leaving_key = key(leaving);
    let used: BTreeSet<String> = ctx
        .all_bots()
        .iter()
        .filter(|b| {
            b.spec.mode != Mode::Backtest
                && b.metadata.deletion_timestamp.is_none()
                && key(b.as_ref()) != leaving_key
        })
        .filter_map(|b| build::shard_of(b))
        .map(|(market, symbol)| build::feed_name(market, &symbol))
        .collect();
    let feeds = api
        .list(&ListParams::default().labels(&format!("{FEED_COMPONENT_LABEL}={FEED_COMPONENT}")))
        .await
        .map_err(|source| Error::RemoveWorkload {
            kind: "Deployment".into(),
            name: "(market-data feeds)".into(),
            source,
        })?;
    for feed in feeds {
        let name = feed.metadata.name.unwrap_or_default();
        if used.contains(&name) {
            continue;
        }
        tracing::info!(feed = %name, "no Paper or Live bot uses this feed any more: deleting it");
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(source) => {
                return Err(Error::RemoveWorkload {
                    kind: "Deployment".into(),
                    name,
                    source,
                });
            }
        }
    }
    Ok(())
}
