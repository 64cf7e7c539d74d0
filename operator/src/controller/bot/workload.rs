//! Step: the worker's objects. Applied in dependency order (what the pod mounts and
//! runs as before the Deployment); for a bot that runs no worker (mode Backtest), removed.

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::DeleteParams;
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tradewind_crds::TradingBot;

use super::Error;
use crate::build::Children;
use crate::controller::Context;
use crate::controller::apply::apply as apply_one;

/// A namespaced object the operator builds.
trait Child:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
{
}

impl<K> Child for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
{
}

fn api<K: Child>(ctx: &Context, obj: &K) -> Api<K> {
    Api::namespaced(
        ctx.client.clone(),
        obj.meta().namespace.as_deref().unwrap_or_default(),
    )
}

async fn put<K: Child>(ctx: &Context, obj: &K) -> Result<K, Error> {
    apply_one(&api(ctx, obj), obj)
        .await
        .map_err(Error::ApplyWorkload)
}

/// Applies every child; returns the live Deployment.
pub async fn apply(ctx: &Context, c: &Children) -> Result<Deployment, Error> {
    put(ctx, &c.config_map).await?;
    put(ctx, &c.service_account).await?;
    put(ctx, &c.lease).await?;
    if let Some(claim) = &c.state_claim {
        put(ctx, claim).await?;
    }
    put(ctx, &c.role).await?;
    put(ctx, &c.role_binding).await?;
    let deployment = put(ctx, &c.deployment).await?;
    put(ctx, &c.service).await?;
    put(ctx, &c.network_policy).await?;
    Ok(deployment)
}

/// The live worker Deployment, if any, read but not changed.
pub async fn live(ctx: &Context, c: &Children) -> Result<Option<Deployment>, Error> {
    let name = c.deployment.metadata.name.clone().unwrap_or_default();
    api(ctx, &c.deployment)
        .get_opt(&name)
        .await
        .map_err(|source| Error::ReadWorkload { name, source })
}

/// Deletes whatever [`apply`] made, the Deployment first, but the state claim: the
/// journal outlives a change of mode (it goes with the bot).
pub async fn remove(ctx: &Context, bot: &TradingBot, c: &Children) -> Result<(), Error> {
    let owner = bot.metadata.uid.clone();
    delete::<Deployment>(ctx, &c.deployment, owner.as_deref()).await?;
    delete::<Service>(ctx, &c.service, owner.as_deref()).await?;
    delete::<NetworkPolicy>(ctx, &c.network_policy, owner.as_deref()).await?;
    delete::<RoleBinding>(ctx, &c.role_binding, owner.as_deref()).await?;
    delete::<Role>(ctx, &c.role, owner.as_deref()).await?;
    delete::<Lease>(ctx, &c.lease, owner.as_deref()).await?;
    delete::<ServiceAccount>(ctx, &c.service_account, owner.as_deref()).await?;
    delete::<ConfigMap>(ctx, &c.config_map, owner.as_deref()).await?;
    Ok(())
}

/// Deletes the live object named like `desired` if the bot controls it (an object of that
/// name the bot does not own is left alone); a read when there is nothing to delete.
async fn delete<K: Child>(ctx: &Context, desired: &K, owner: Option<&str>) -> Result<(), Error> {
    let name = desired.meta().name.clone().unwrap_or_default();
    let failed = |source| Error::RemoveWorkload {
        kind: K::kind(&()).into_owned(),
        name: name.clone(),
        source,
    };
    let api = api(ctx, desired);
    let Some(live) = api.get_opt(&name).await.map_err(failed)? else {
        return Ok(());
    };
    let owned = live
        .meta()
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && Some(r.uid.as_str()) == owner);
    if !owned {
        return Ok(());
    }
    match api.delete(&name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        // Gone meanwhile: what this step wanted.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(failed(e)),
    }
}
