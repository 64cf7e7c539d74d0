//! The worker's identity and exactly the permissions it needs: read and patch its own
//! TradingBot's status, and hold its own Lease. Nothing else, in its namespace only.

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use tradewind_crds::TradingBot;

use super::{BuildError, Names, OperatorConfig, child_meta};

/// Label Azure workload identity's webhook looks for on the pod and the ServiceAccount.
pub const WORKLOAD_IDENTITY_USE: &str = "azure.workload.identity/use";
/// Annotation carrying the managed identity's client ID on the ServiceAccount.
pub const WORKLOAD_IDENTITY_CLIENT_ID: &str = "azure.workload.identity/client-id";
/// The same client ID on the worker's pod template: a changed identity rolls the pods.
pub const WORKLOAD_IDENTITY_POD_ANNOTATION: &str = "tradewind.dev/workload-identity-client-id";

fn bot_name(bot: &TradingBot) -> &str {
    bot.metadata.name.as_deref().unwrap_or_default()
}

/// The worker's ServiceAccount; the bot's Azure identity is added by
/// [`super::Children::with_workload_identity`] once the cloud step knows it.
pub fn service_account(
    bot: &TradingBot,
    _op: &OperatorConfig,
) -> Result<ServiceAccount, BuildError> {
    let metadata = child_meta(bot, Names(bot_name(bot)).worker())?;
    Ok(ServiceAccount {
        metadata,
        // The worker talks to the API server, so it needs its token.
        automount_service_account_token: Some(true),
        ..ServiceAccount::default()
    })
}

/// Marks the ServiceAccount for Azure workload identity as `client_id`.
pub(super) fn use_workload_identity(sa: &mut ServiceAccount, client_id: &str) {
    sa.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(WORKLOAD_IDENTITY_USE.into(), "true".into());
    sa.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(WORKLOAD_IDENTITY_CLIENT_ID.into(), client_id.into());
}

/// The worker's Lease, created by the operator so the Role can name it (RBAC cannot
/// restrict `create` by name).
pub fn lease(bot: &TradingBot) -> Result<Lease, BuildError> {
    Ok(Lease {
        metadata: child_meta(bot, Names(bot_name(bot)).lease())?,
        spec: Some(LeaseSpec::default()),
    })
}

/// get/patch on this bot's status, get on the bot, get/update/patch on its Lease.
pub fn role(bot: &TradingBot) -> Result<Role, BuildError> {
    let name = bot_name(bot).to_owned();
    let rule = |group: &str, resource: &str, object: &str, verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(vec![resource.to_owned()]),
        resource_names: Some(vec![object.to_owned()]),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    };
    Ok(Role {
        metadata: child_meta(bot, Names(&name).worker())?,
        rules: Some(vec![
            rule(tradewind_crds::GROUP, "tradingbots", &name, &["get"]),
            rule(
                tradewind_crds::GROUP,
                "tradingbots/status",
                &name,
                &["get", "patch"],
            ),
            rule(
                "coordination.k8s.io",
                "leases",
                &Names(&name).lease(),
                &["get", "update", "patch"],
            ),
        ]),
    })
}

/// Binds the worker Role to the worker ServiceAccount.
pub fn role_binding(bot: &TradingBot) -> Result<RoleBinding, BuildError> {
    let worker = Names(bot_name(bot)).worker();
    Ok(RoleBinding {
        metadata: child_meta(bot, worker.clone())?,
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: worker.clone(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: worker,
            namespace: bot.metadata.namespace.clone(),
            ..Subject::default()
        }]),
    })
}
