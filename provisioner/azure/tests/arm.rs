//! The ARM client, Key Vault secrets and per-bot resources against the Azure fake
//! (tests/azure): long-running operations, throttling, transient failures, ARM errors,
//! authentication, soft delete, and no write when nothing changed.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use serde_json::json;
use tradewind_azure::arm::{ArmClient, ArmError, ArmOptions, ResourceId};
use tradewind_azure::bot::{
    BotCloudConfig, BotRef, BotResources, BotWants, ExchangeCredentials, WorkloadIdentity,
};
use tradewind_azure::credential::{Connection, CredentialConfig};
use tradewind_azure::keyvault::{Ensured, Secrets};
use tradewind_azure_fake::{DEFAULT_CLIENT_ID, DEFAULT_TENANT, TestServer};

const SUB: &str = "00000000-1111-2222-3333-444444444444";

struct Env {
    fake: TestServer,
    /// The fake's endpoints and CA, signed in as its default service principal.
    azure: Connection,
}

impl Env {
    fn start() -> Self {
        let fake = TestServer::start().expect("fake");
        let azure = fake.connection();
        Self { fake, azure }
    }

    fn credential(&self) -> Arc<dyn TokenCredential> {
        self.azure.credential.clone()
    }

    fn arm(&self) -> ArmClient {
        self.fake.arm_client()
    }
}

fn rg() -> ResourceId {
    ResourceId::resource_group(SUB, "rg-tw-test")
}

async fn make_group(arm: &ArmClient) {
    arm.put(&rg(), &json!({"location": "westeurope"}))
        .await
        .unwrap();
}

#[tokio::test]
async fn long_running_create_read_and_delete() {
    let env = Env::start();
    let arm = env.arm();
    make_group(&arm).await;
    let account = rg().provider("Microsoft.DocumentDB", "databaseAccounts", "cosmos-tw-test");
    let body = json!({"location": "westeurope", "kind": "GlobalDocumentDB", "properties": {
        "databaseAccountOfferType": "Standard",
        "locations": [{"locationName": "westeurope", "failoverPriority": 0}]}});
    let created = arm.put(&account, &body).await.unwrap();
    assert_eq!(created["properties"]["provisioningState"], "Succeeded");
    // The operation was polled to its end, not taken from the first answer.
    let polls = env
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.to_ascii_lowercase().contains("operation"))
        .count();
    assert!(polls >= 2, "expected status-monitor polls, saw {polls}");
    assert!(arm.get(&account).await.unwrap().is_some());
    arm.delete(&account).await.unwrap();
    assert!(arm.get(&account).await.unwrap().is_none());
    // Deleting what is gone is success.
    arm.delete(&account).await.unwrap();
}

#[tokio::test]
async fn throttling_and_transient_failures_are_survived() {
    let env = Env::start();
    let arm = env.arm();
    env.fake.throttle_next(2, 1);
    make_group(&arm).await;
    let puts = |fake: &TestServer, name: &str| {
        fake.requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.path.ends_with(name))
            .count()
    };
    // Two 429s (each honoured for its Retry-After: 1 s), then the write went through.
    assert_eq!(puts(&env.fake, "/rg-tw-test"), 3);
    env.fake.fail_next(503, 2);
    let ns = rg().provider("Microsoft.ServiceBus", "namespaces", "sb-tw-test");
    arm.put(
        &ns,
        &json!({"location": "westeurope", "sku": {"name": "Standard"}}),
    )
    .await
    .unwrap();
    assert_eq!(puts(&env.fake, "/sb-tw-test"), 3);
    env.fake.fail_next(500, 1);
    assert!(arm.get(&ns).await.unwrap().is_some());
}

#[tokio::test]
async fn failed_operation_names_resource_and_reason() {
    let env = Env::start();
    let arm = env.arm();
    make_group(&arm).await;
    env.fake.fail_operation(
        "cosmos-doomed",
        "QuotaExceeded",
        "no more accounts in westeurope",
    );
    let account = rg().provider("Microsoft.DocumentDB", "databaseAccounts", "cosmos-doomed");
    let err = arm
        .put(
            &account,
            &json!({"location": "westeurope", "properties": {
            "databaseAccountOfferType": "Standard",
            "locations": [{"locationName": "westeurope"}]}}),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ArmError::OperationFailed { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.starts_with("PUT /subscriptions/"), "{msg}");
    assert!(msg.contains("cosmos-doomed"), "{msg}");
    assert!(
        msg.contains("QuotaExceeded: no more accounts in westeurope"),
        "{msg}"
    );
}

#[tokio::test]
async fn arm_error_bodies_are_typed() {
    let env = Env::start();
    let arm = env.arm();
    let topic = rg()
        .provider("Microsoft.ServiceBus", "namespaces", "sb-missing")
        .child("topics", "t");
    let err = arm
        .put(&topic, &json!({"properties": {}}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.code(), Some("ResourceGroupNotFound"));
    make_group(&arm).await;
    let err = arm
        .put(&topic, &json!({"properties": {}}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ParentResourceNotFound"), "{err}");
}

#[tokio::test]
async fn a_wrong_secret_fails_without_showing_it() {
    let env = Env::start();
    let bad = "sup3r-s3cret-value-never-shown";
    let arm = env
        .fake
        .connection_with_secret(bad)
        .arm(ArmOptions::default())
        .unwrap();
    let err = arm.get(&rg()).await.unwrap_err();
    let msg = format!("{err} {err:?}");
    assert!(matches!(err, ArmError::Transport { .. }), "{msg}");
    assert!(msg.contains("AADSTS7000215"), "{msg}");
    assert!(!msg.contains(bad), "the secret leaked: {msg}");
    assert_eq!(env.fake.writes(), 0);
}

#[tokio::test]
async fn secrets_write_only_on_change_and_recover_soft_deleted() {
    let env = Env::start();
    let arm = env.arm();
    make_group(&arm).await;
    let vault = rg().provider("Microsoft.KeyVault", "vaults", "kv-tw-test");
    let v = arm
        .put(
            &vault,
            &json!({"location": "westeurope", "properties": {
            "tenantId": DEFAULT_TENANT, "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": true, "enableSoftDelete": true}}),
        )
        .await
        .unwrap();
    let uri = v["properties"]["vaultUri"].as_str().unwrap();
    let secrets = Secrets::new(uri, env.credential(), &env.azure.transport).unwrap();
    let tags = Default::default();
    let w = |s| s;
    assert_eq!(
        secrets
            .ensure("bot-a", "v1", "text/plain", &tags)
            .await
            .unwrap(),
        Ensured::Written
    );
    let before = env.fake.writes();
    assert_eq!(
        w(secrets
            .ensure("bot-a", "v1", "text/plain", &tags)
            .await
            .unwrap()),
        Ensured::Unchanged
    );
    assert_eq!(env.fake.writes(), before, "an unchanged secret was written");
    assert_eq!(
        secrets
            .ensure("bot-a", "v2", "text/plain", &tags)
            .await
            .unwrap(),
        Ensured::Written
    );
    secrets.delete("bot-a").await.unwrap();
    // Same name again: the soft-deleted secret is recovered, not fought (409).
    assert_eq!(
        secrets
            .ensure("bot-a", "v2", "text/plain", &tags)
            .await
            .unwrap(),
        Ensured::Recovered
    );
    secrets.delete("bot-a").await.unwrap();
    secrets.delete("bot-a").await.unwrap();
}

async fn environment(env: &Env, arm: &ArmClient) -> BotCloudConfig {
    make_group(arm).await;
    let g = rg();
    let acct = g.provider("Microsoft.DocumentDB", "databaseAccounts", "cosmos-tw-test");
    arm.put(
        &acct,
        &json!({"location": "westeurope", "properties": {
        "databaseAccountOfferType": "Standard", "locations": [{"locationName": "westeurope"}]}}),
    )
    .await
    .unwrap();
    arm.put(
        &acct.child("sqlDatabases", "tradewind"),
        &json!({"properties": {"resource": {"id": "tradewind"}, "options": {}}}),
    )
    .await
    .unwrap();
    arm.put(
        &g.provider("Microsoft.KeyVault", "vaults", "kv-tw-test"),
        &json!({"location": "westeurope", "properties": {"tenantId": DEFAULT_TENANT,
            "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": true}}),
    )
    .await
    .unwrap();
    arm.put(
        &g.provider("Microsoft.ServiceBus", "namespaces", "sb-tw-test"),
        &json!({"location": "westeurope", "sku": {"name": "Standard"}}),
    )
    .await
    .unwrap();
    let _ = env;
    BotCloudConfig {
        subscription_id: SUB.into(),
        resource_group: "rg-tw-test".into(),
        cosmos_account: "cosmos-tw-test".into(),
        cosmos_database: "tradewind".into(),
        cosmos_container_max_throughput: Some(1000),
        key_vault: "kv-tw-test".into(),
        key_vault_uri: None,
        service_bus_namespace: "sb-tw-test".into(),
        workload_identity: Some(WorkloadIdentity {
            issuer: "https://westeurope.oic.localhost/issuer/".into(),
        }),
        market_data: None,
    }
}

fn bot(name: &str) -> BotRef {
    BotRef {
        namespace: "trading".into(),
        name: name.into(),
        service_account: format!("{name}-worker"),
    }
}

fn everything(key: &str) -> BotWants {
    BotWants {
        cosmos: true,
        service_bus: true,
        key_vault: Some(ExchangeCredentials {
            api_key: format!("key-{key}"),
            api_secret: format!("secret-{key}"),
            field_names: ("apiKey", "apiSecret"),
        }),
    }
}

/// Every role assignment in the fake, Azure RBAC and Cosmos DB SQL alike, as
/// (role GUID, principal, scope), lower-case.
fn all_grants(env: &Env) -> Vec<(String, String, String)> {
    env.fake
        .resources_under(&format!("/subscriptions/{SUB}"))
        .into_iter()
        .filter(|(id, _)| {
            let id = id.to_ascii_lowercase();
            id.contains("/providers/microsoft.authorization/roleassignments/")
                || id.contains("/sqlroleassignments/")
        })
        .map(|(_, body)| tradewind_azure::bot::grant_of(&body))
        .collect()
}

#[tokio::test]
async fn bot_resources_are_idempotent_and_deleted() {
    let env = Env::start();
    let arm = env.arm();
    let config = environment(&env, &arm).await;
    let bots = BotResources::new(
        arm.clone(),
        env.credential(),
        env.azure.transport.clone(),
        config,
    );
    let bot = bot("btc-scalper");
    let wants = everything("a");
    let ids = bots.ensure(&bot, &wants).await.unwrap();
    let container = ids.cosmos_container_id.clone().unwrap();
    assert!(container.ends_with("/sqlDatabases/tradewind/containers/trading.btc-scalper"));
    let live = env.fake.resource(&container).expect("container exists");
    assert_eq!(
        live["properties"]["resource"]["partitionKey"]["paths"],
        json!(["/stream"])
    );
    let topic = ids.service_bus_topic_id.clone().unwrap();
    assert!(
        env.fake
            .resource(&format!("{topic}/subscriptions/notifications"))
            .is_some()
    );
    assert!(
        ids.key_vault_secret_id
            .clone()
            .unwrap()
            .contains("/secrets/tw-trading-btc-scalper-")
    );
    // The bot's own identity, in the environment's location, tagged with the bot, with
    // one federated credential: its worker's ServiceAccount.
    let identity = ids.identity.clone().expect("an identity");
    let live = env.fake.resource(&identity.id).expect("identity exists");
    assert_eq!(live["location"], "westeurope");
    assert_eq!(live["tags"]["tradewind-bot-name"], "btc-scalper");
    assert_eq!(live["properties"]["clientId"], identity.client_id.as_str());
    let fed = env
        .fake
        .resources_under(&format!("{}/federatedIdentityCredentials", identity.id));
    assert_eq!(fed.len(), 1);
    assert_eq!(
        fed[0].1["properties"]["subject"],
        "system:serviceaccount:trading:btc-scalper-worker"
    );

    // Nothing changed: reads only.
    let before = env.fake.writes();
    assert_eq!(bots.ensure(&bot, &wants).await.unwrap(), ids);
    assert_eq!(env.fake.writes(), before, "a no-op ensure wrote");

    bots.delete(&bot).await.unwrap();
    assert!(env.fake.resource(&container).is_none());
    assert!(env.fake.resource(&topic).is_none());
    assert!(env.fake.resource(&identity.id).is_none());
    assert!(fed_is_gone(&env, &identity.id));
    assert_eq!(
        all_grants(&env),
        vec![],
        "a role assignment outlived its bot"
    );
    // Deleting twice is fine (finalizer retries).
    bots.delete(&bot).await.unwrap();
    // And the bot can come back: the soft-deleted secret is recovered, and a new identity
    // gets its grants.
    let again = bots.ensure(&bot, &wants).await.unwrap();
    assert_eq!(again.key_vault_secret_id, ids.key_vault_secret_id);
    assert_eq!(all_grants(&env).len(), 4);
}

/// With a market-data container, each bot's identity may also read it (Cosmos DB
/// Built-in Data Reader on that container only, a deterministic assignment name), and
/// loses it with the bot.
#[tokio::test]
async fn bots_may_read_the_market_data_container_and_nothing_else_of_it() {
    let env = Env::start();
    let arm = env.arm();
    let mut config = environment(&env, &arm).await;
    config.market_data = Some(("tradewind".into(), "marketdata".into()));
    let bots = BotResources::new(
        arm.clone(),
        env.credential(),
        env.azure.transport.clone(),
        config,
    );
    // A bot with only a key-vault secret still gets an identity, and the read grant.
    let wants = BotWants {
        cosmos: false,
        service_bus: false,
        ..everything("a")
    };
    let bot = bot("reader");
    let ids = bots.ensure(&bot, &wants).await.unwrap();
    let identity = ids.identity.clone().expect("an identity");
    let account = rg().provider("Microsoft.DocumentDB", "databaseAccounts", "cosmos-tw-test");
    let mut held: Vec<(String, String)> = all_grants(&env)
        .into_iter()
        .filter(|(_, p, _)| *p == identity.principal_id.to_ascii_lowercase())
        .map(|(r, _, s)| (r, s))
        .collect();
    held.sort();
    let reader = (
        tradewind_azure::bot::roles::COSMOS_DATA_READER.to_owned(),
        format!("{account}/dbs/tradewind/colls/marketdata").to_ascii_lowercase(),
    );
    assert!(held.contains(&reader), "{held:#?}");
    assert_eq!(held.len(), 2, "{held:#?}");
    let assignments = env
        .fake
        .resources_under(&format!("{account}/sqlRoleAssignments"));
    assert_eq!(assignments.len(), 1);
    // The same name on every ensure: nothing written again.
    let before = env.fake.writes();
    bots.ensure(&bot, &wants).await.unwrap();
    assert_eq!(env.fake.writes(), before);
    bots.delete(&bot).await.unwrap();
    assert_eq!(all_grants(&env), vec![]);
}

fn fed_is_gone(env: &Env, identity: &str) -> bool {
    env.fake
        .resources_under(&format!("{identity}/federatedIdentityCredentials"))
        .is_empty()
}

/// Every worker used to share one identity with Key Vault Secrets User on the whole vault
/// and send/receive on the whole namespace, so any bot could read every bot's exchange
/// keys. Now each bot's identity holds exactly four grants, each on that bot's own
/// secret, topic or container, and two bots share nothing.
#[tokio::test]
async fn each_bots_identity_reaches_only_its_own_resources() {
    let env = Env::start();
    let arm = env.arm();
    let config = environment(&env, &arm).await;
    let bots = BotResources::new(arm, env.credential(), env.azure.transport.clone(), config);
    let a = bots.ensure(&bot("alpha"), &everything("a")).await.unwrap();
    let b = bots.ensure(&bot("beta"), &everything("b")).await.unwrap();
    let (ia, ib) = (a.identity.clone().unwrap(), b.identity.clone().unwrap());
    assert_ne!(ia.id, ib.id);
    assert_ne!(ia.client_id, ib.client_id);
    assert_ne!(ia.principal_id, ib.principal_id);

    let g = rg();
    let vault = g.provider("Microsoft.KeyVault", "vaults", "kv-tw-test");
    let account = g.provider("Microsoft.DocumentDB", "databaseAccounts", "cosmos-tw-test");
    let grants = all_grants(&env);
    assert_eq!(grants.len(), 8, "{grants:#?}");
    for (ids, identity) in [(&a, &ia), (&b, &ib)] {
        let secret_name = ids
            .key_vault_secret_id
            .as_deref()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap();
        let container = ids.cosmos_container_id.as_deref().unwrap();
        let container_name = container.rsplit('/').next().unwrap();
        let lower = |s: String| s.to_ascii_lowercase();
        let mut expected = vec![
            (
                tradewind_azure::bot::roles::KEY_VAULT_SECRETS_USER.to_owned(),
                lower(format!("{vault}/secrets/{secret_name}")),
            ),
            (
                tradewind_azure::bot::roles::SERVICE_BUS_DATA_SENDER.to_owned(),
                lower(ids.service_bus_topic_id.clone().unwrap()),
            ),
            (
                tradewind_azure::bot::roles::SERVICE_BUS_DATA_RECEIVER.to_owned(),
                lower(ids.service_bus_topic_id.clone().unwrap()),
            ),
            (
                tradewind_azure::bot::roles::COSMOS_DATA_CONTRIBUTOR.to_owned(),
                lower(format!("{account}/dbs/tradewind/colls/{container_name}")),
            ),
        ];
        let mut held: Vec<(String, String)> = grants
            .iter()
            .filter(|(_, p, _)| *p == identity.principal_id.to_ascii_lowercase())
            .map(|(r, _, s)| (r.clone(), s.clone()))
            .collect();
        expected.sort();
        held.sort();
        assert_eq!(held, expected, "{}", identity.id);
    }
    // No grant on the vault, the namespace or the account as a whole.
    let wide = [
        vault.to_string(),
        g.provider("Microsoft.ServiceBus", "namespaces", "sb-tw-test")
            .to_string(),
        account.to_string(),
    ]
    .map(|s| s.to_ascii_lowercase());
    assert!(
        grants.iter().all(|(_, _, scope)| !wide.contains(scope)),
        "{grants:#?}"
    );
    // Disjoint scopes: nothing one bot may touch is reachable by the other.
    let scopes = |p: &str| -> std::collections::BTreeSet<String> {
        grants
            .iter()
            .filter(|(_, q, _)| q == &p.to_ascii_lowercase())
            .map(|(_, _, s)| s.clone())
            .collect()
    };
    assert!(scopes(&ia.principal_id).is_disjoint(&scopes(&ib.principal_id)));

    // A bot that stops asking for its topic loses access to it (the topic stays until the
    // bot goes); deleting one bot leaves the other's grants alone.
    let cosmos_and_vault = BotWants {
        service_bus: false,
        ..everything("a")
    };
    bots.ensure(&bot("alpha"), &cosmos_and_vault).await.unwrap();
    let now = all_grants(&env);
    assert_eq!(
        now.iter()
            .filter(|(_, p, _)| *p == ia.principal_id.to_ascii_lowercase())
            .count(),
        2
    );
    bots.delete(&bot("alpha")).await.unwrap();
    let left = all_grants(&env);
    assert_eq!(left.len(), 4);
    assert!(
        left.iter()
            .all(|(_, p, _)| *p == ib.principal_id.to_ascii_lowercase())
    );
}

/// Role assignments are immutable: one under the bot's deterministic name that grants
/// something else is reported, never overwritten or deleted by ensure.
#[tokio::test]
async fn a_changed_role_assignment_is_reported_not_replaced() {
    let env = Env::start();
    let arm = env.arm();
    let config = environment(&env, &arm).await;
    let bots = BotResources::new(
        arm.clone(),
        env.credential(),
        env.azure.transport.clone(),
        config,
    );
    let only_bus = BotWants {
        service_bus: true,
        ..BotWants::default()
    };
    let ids = bots.ensure(&bot("gamma"), &only_bus).await.unwrap();
    let principal = ids.identity.unwrap().principal_id;
    let topic = ResourceId::parse(&ids.service_bus_topic_id.unwrap()).unwrap();
    let sender = tradewind_azure::bot::roles::SERVICE_BUS_DATA_SENDER;
    let name = tradewind_azure::bot::role_assignment_name(topic.as_str(), sender, &principal);
    let id = topic.provider("Microsoft.Authorization", "roleAssignments", &name);
    // Someone replaced it with an Owner grant under the same name.
    arm.delete(&id).await.unwrap();
    let owner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
    arm.put(
        &id,
        &tradewind_azure::bot::role_assignment_body(SUB, owner, &principal),
    )
    .await
    .unwrap();
    let before = env.fake.writes();
    let err = bots.ensure(&bot("gamma"), &only_bus).await.unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("grants role {owner} to principal")),
        "{err}"
    );
    assert!(err.to_string().contains(sender), "{err}");
    assert_eq!(
        env.fake.writes(),
        before,
        "ensure touched the changed assignment"
    );
}

/// Workload identity as on AKS: the federated token file and the client/tenant IDs come
/// from the environment the webhook injects; the credential exchanges the file's token
/// for an ARM token at the (fake) authority.
#[tokio::test]
async fn workload_identity_signs_in_from_the_injected_environment() {
    let env = Env::start();
    let dir = std::env::temp_dir().join(format!("tw-wi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("azure-identity-token");
    // A projected ServiceAccount token is a JWT; the fake checks its shape.
    std::fs::write(
        &token_file,
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzYSJ9.c2lnbmF0dXJl",
    )
    .unwrap();
    // SAFETY: nextest runs each test in its own process; nothing else reads these here.
    unsafe {
        std::env::set_var("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID);
        std::env::set_var("AZURE_TENANT_ID", DEFAULT_TENANT);
        std::env::set_var("AZURE_FEDERATED_TOKEN_FILE", &token_file);
    }
    let credential = CredentialConfig::from_method("workload-identity")
        .unwrap()
        .build(&env.azure.cloud, &env.azure.transport)
        .unwrap();
    let arm = Connection {
        credential,
        ..env.azure.clone()
    }
    .arm(ArmOptions::default())
    .unwrap();
    make_group(&arm).await;
    assert!(arm.get(&rg()).await.unwrap().is_some());
    let _ = std::fs::remove_dir_all(&dir);

    // Missing pieces are named before any request.
    unsafe { std::env::remove_var("AZURE_FEDERATED_TOKEN_FILE") };
    let err = CredentialConfig::from_method("workload-identity").unwrap_err();
    assert_eq!(
        err.to_string(),
        "auth workload-identity: environment variable AZURE_FEDERATED_TOKEN_FILE is not set"
    );
}
