//! The real Azure SDK against the fake: azure_identity's ClientSecretCredential (custom
//! cloud pointing at the fake's authority host) and azure_security_keyvault_secrets'
//! SecretClient (challenge auth, its own api-version), over our reqwest transport.

mod common;

use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::http::{ClientOptions, Transport};
use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
use azure_security_keyvault_secrets::models::SetSecretParameters;
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use common::Arm;
use reqwest::Method;
use serde_json::json;
use tradewind_azure_fake::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT, TestServer};

#[tokio::test]
async fn key_vault_round_trip_through_the_sdk() {
    let fake = TestServer::start().expect("fake");
    let arm = Arm::new(&fake).await;
    let rg = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg";
    arm.send(
        Method::PUT,
        rg,
        Some("2025-04-01"),
        Some(&json!({"location": "westeurope"})),
    )
    .await;
    let vault = format!("{rg}/providers/Microsoft.KeyVault/vaults/twkv");
    let r = arm.send(Method::PUT, &vault, Some("2025-05-01"), Some(&json!({"location": "westeurope", "properties": {"tenantId": DEFAULT_TENANT, "sku": {"family": "A", "name": "standard"}}}))).await;
    assert_eq!(r.status, 201);

    let transport = Transport::new(Arc::new(common::http_client(&fake)));
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = fake.authority_host();
    let client_options = ClientOptions {
        transport: Some(transport),
        cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
        ..ClientOptions::default()
    };
    let credential = ClientSecretCredential::new(
        DEFAULT_TENANT,
        DEFAULT_CLIENT_ID.to_owned(),
        DEFAULT_CLIENT_SECRET.to_owned().into(),
        Some(ClientSecretCredentialOptions {
            client_options: client_options.clone(),
        }),
    )
    .expect("credential");
    let client = SecretClient::new(
        &fake.vault_url("twkv"),
        credential,
        Some(SecretClientOptions {
            client_options,
            ..SecretClientOptions::default()
        }),
    )
    .expect("secret client");
    let params = SetSecretParameters {
        value: Some("hunter2".into()),
        ..Default::default()
    };
    let set = client
        .set_secret("exchange-key", params.try_into().expect("body"), None)
        .await
        .expect("set_secret")
        .into_model()
        .expect("model");
    assert!(
        set.id
            .as_deref()
            .is_some_and(|id| id.contains("/secrets/exchange-key/"))
    );
    let got = client
        .get_secret("exchange-key", None)
        .await
        .expect("get_secret")
        .into_model()
        .expect("model");
    assert_eq!(got.value.as_deref(), Some("hunter2"));
    let api_versions: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.host == "twkv.vault.localhost")
        .filter_map(|r| r.api_version.clone())
        .collect();
    assert!(
        api_versions.iter().all(|v| v == "2025-07-01"),
        "{api_versions:?}"
    );
}
