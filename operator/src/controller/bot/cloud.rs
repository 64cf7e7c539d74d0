//! Step: the bot's cloud resources. A failed ensure is not an error of the reconcile but
//! a state the status shows (and a sooner retry); a failed delete keeps the finalizer.

use tradewind_crds::conditions::{ConditionUpdate, Status, set_condition, types};
use tradewind_crds::{DeletionPolicy, TradingBot};

use super::{Error, status};
use crate::controller::Context;
use crate::status::{CloudState, needs_write};

/// Creates or updates what the bot asks for.
pub async fn ensure(bot: &TradingBot, ctx: &Context) -> CloudState {
    ctx.cloud
        .ensure(bot)
        .await
        .unwrap_or_else(|e| CloudState::Failed(e.to_string()))
}

/// Deletes the bot's resources unless its `deletionPolicy` is `Retain`. On failure the
/// status and a Warning say why the bot is not going away.
pub async fn delete(bot: &TradingBot, ctx: &Context) -> Result<(), Error> {
    let retain = bot
        .spec
        .cloud
        .as_ref()
        .is_some_and(|c| c.deletion_policy == DeletionPolicy::Retain);
    if retain {
        return Ok(());
    }
    let Err(e) = ctx.cloud.delete(bot).await else {
        return Ok(());
    };
    let message = format!("deleting cloud resources failed, retrying: {e}");
    let mut new = bot.status.clone().unwrap_or_default();
    set_condition(
        &mut new.conditions,
        ConditionUpdate {
            type_: types::CLOUD_READY,
            status: Status::False,
            reason: "CleanupFailed",
            message: message.clone(),
        },
        bot.metadata.generation,
        status::now(),
    );
    if needs_write(bot, &new) {
        ctx.warn(bot, "CloudCleanupFailed", message).await;
    }
    status::write(bot, ctx, &new).await?;
    Err(Error::CleanupCloud(e))
}
