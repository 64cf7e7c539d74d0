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
    arm.put(
        &g.provider(
            "Microsoft.ManagedIdentity",
            "userAssignedIdentities",
            "id-tw-worker",
        ),
        &json!({"location": "westeurope"}),
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
            identity: "id-tw-worker".into(),
            issuer: "https://westeurope.oic.localhost/issuer/".into(),
        }),
    }
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
    let bot = BotRef {
        namespace: "trading".into(),
        name: "btc-scalper".into(),
        service_account: "btc-scalper-worker".into(),
    };
    let wants = BotWants {
        cosmos: true,
        service_bus: true,
        key_vault: Some(ExchangeCredentials {
            api_key: "key-123".into(),
            api_secret: "secret-456".into(),
            field_names: ("apiKey", "apiSecret"),
        }),
    };
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
    let fed = env.fake.resources_under(&format!(
        "/subscriptions/{SUB}/resourceGroups/rg-tw-test/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-tw-worker/federatedIdentityCredentials"
    ));
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
    // Deleting twice is fine (finalizer retries).
    bots.delete(&bot).await.unwrap();
    // And the bot can come back: the soft-deleted secret is recovered.
    assert_eq!(bots.ensure(&bot, &wants).await.unwrap(), ids);
}

#[tokio::test]
async fn a_bad_identity_name_is_refused_before_any_request() {
    let env = Env::start();
    let arm = env.arm();
    let mut config = environment(&env, &arm).await;
    config.workload_identity = Some(WorkloadIdentity {
        identity: "-bad".into(),
        issuer: "https://issuer/".into(),
    });
    env.fake.reset_log();
    let bots = BotResources::new(arm, env.credential(), env.azure.transport.clone(), config);
    let err = bots
        .ensure(
            &BotRef {
                namespace: "ns".into(),
                name: "b".into(),
                service_account: "b".into(),
            },
            &BotWants {
                cosmos: true,
                ..BotWants::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "managed identity name \"-bad\": must start with a letter or digit (starts with '-')"
    );
    assert!(env.fake.requests().is_empty());
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
