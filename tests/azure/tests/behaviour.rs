//! Behaviour over raw HTTPS: auth, api-versions, parents, LROs (Azure-AsyncOperation and
//! Location), faults, conflicts, name rules, Key Vault soft delete, Service Bus fan-out.

mod common;

use common::{Arm, http_client, send, token};
use reqwest::Method;
use serde_json::{Value, json};
use tradewind_azure_fake::{DEFAULT_CLIENT_ID, DEFAULT_TENANT, FakeConfig, TestServer};

const SUB: &str = "/subscriptions/00000000-0000-0000-0000-000000000001";

fn rg(name: &str) -> String {
    format!("{SUB}/resourceGroups/{name}")
}

async fn put_rg(arm: &Arm, name: &str) {
    let r = arm
        .send(
            Method::PUT,
            &rg(name),
            Some("2025-04-01"),
            Some(&json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
}

#[tokio::test]
async fn token_endpoint_rejects_a_wrong_secret_like_entra() {
    let fake = TestServer::start().expect("fake");
    let http = http_client(&fake);
    let r = send(
        http.post(format!(
            "{}/{DEFAULT_TENANT}/oauth2/v2.0/token",
            fake.authority_host()
        ))
        .form(&[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", "wrong"),
            ("grant_type", "client_credentials"),
            ("scope", "https://management.localhost/.default"),
        ]),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "invalid_client");
    assert_eq!(r.body["error_codes"], json!([7000215]));
    // Workload identity: any JWT-shaped assertion for a registered client.
    let r = send(
        http.post(format!(
            "{}/{DEFAULT_TENANT}/oauth2/v2.0/token",
            fake.authority_host()
        ))
        .form(&[
            ("client_id", DEFAULT_CLIENT_ID),
            (
                "client_assertion",
                "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
            ),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("grant_type", "client_credentials"),
            ("scope", "https://management.localhost/.default"),
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 3599);
}

#[tokio::test]
async fn arm_requires_a_management_token_and_a_known_api_version() {
    let fake = TestServer::start().expect("fake");
    let http = http_client(&fake);
    let r = send(http.get(format!(
        "{}{}?api-version=2025-04-01",
        fake.arm_endpoint(),
        rg("a")
    )))
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["code"], "AuthenticationFailed");
    let vault_token = token(&http, &fake, "https://vault.localhost/.default").await;
    let r = send(
        http.get(format!(
            "{}{}?api-version=2025-04-01",
            fake.arm_endpoint(),
            rg("a")
        ))
        .bearer_auth(vault_token),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["code"], "InvalidAuthenticationToken");
    let arm = Arm::new(&fake).await;
    let r = arm.send(Method::GET, &rg("a"), None, None).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("MissingApiVersionParameter"))
    );
    let r = arm
        .send(Method::GET, &rg("a"), Some("1999-01-01"), None)
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("InvalidApiVersionParameter"))
    );
    let r = arm
        .send(Method::GET, &rg("a"), Some("2025-04-01"), None)
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (404, Some("ResourceGroupNotFound"))
    );
}

#[tokio::test]
async fn parents_must_exist_and_ids_are_case_insensitive() {
    let fake = TestServer::start().expect("fake");
    let arm = Arm::new(&fake).await;
    let ns = format!(
        "{}/providers/Microsoft.ServiceBus/namespaces/TwBus",
        rg("Rg1")
    );
    let r = arm
        .send(
            Method::PUT,
            &ns,
            Some("2024-01-01"),
            Some(&json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "ResourceGroupNotFound");
    put_rg(&arm, "Rg1").await;
    let topic = format!("{ns}/topics/orders");
    let r = arm
        .send(
            Method::PUT,
            &topic,
            Some("2024-01-01"),
            Some(&json!({"properties": {}})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (404, Some("ParentResourceNotFound"))
    );
    let r = arm
        .send(
            Method::PUT,
            &ns,
            Some("2024-01-01"),
            Some(&json!({"location": "westeurope", "properties": {"custom": 1}})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["properties"]["provisioningState"], "Created");
    let upper = ns
        .to_ascii_uppercase()
        .replace("API-VERSION", "api-version");
    let r = arm
        .send(Method::GET, &upper, Some("2024-01-01"), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["name"], "TwBus");
    assert_eq!(
        r.body["properties"]["custom"], 1,
        "unknown properties are echoed"
    );
    assert_eq!(
        r.body["properties"]["serviceBusEndpoint"],
        format!("https://TwBus.servicebus.localhost:{}/", fake.port())
    );
}

#[tokio::test]
async fn lro_via_azure_async_operation_succeeds_after_the_configured_polls() {
    let fake = TestServer::start_with(FakeConfig {
        lro_polls: 2,
        ..FakeConfig::default()
    })
    .expect("fake");
    let arm = Arm::new(&fake).await;
    put_rg(&arm, "rg").await;
    let acr = format!(
        "{}/providers/Microsoft.ContainerRegistry/registries/twacr",
        rg("rg")
    );
    let r = arm
        .send(
            Method::PUT,
            &acr,
            Some("2025-04-01"),
            Some(&json!({"location": "westeurope", "sku": {"name": "Basic"}})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["properties"]["provisioningState"], "Creating");
    assert_eq!(r.header("retry-after").as_deref(), Some("0"));
    let url = r
        .header("azure-asyncoperation")
        .expect("Azure-AsyncOperation");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let p = arm.send(Method::GET, &url, None, None).await;
        seen.push(p.body["status"].as_str().unwrap_or("").to_owned());
    }
    assert_eq!(seen, ["InProgress", "InProgress", "Succeeded"]);
    let r = arm.send(Method::GET, &acr, Some("2025-04-01"), None).await;
    assert_eq!(r.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        r.body["properties"]["loginServer"],
        "twacr.azurecr.localhost"
    );
}

#[tokio::test]
async fn lro_via_location_and_resource_group_delete_cascades() {
    let fake = TestServer::start().expect("fake");
    let arm = Arm::new(&fake).await;
    put_rg(&arm, "rg").await;
    let sa = format!(
        "{}/providers/Microsoft.Storage/storageAccounts/twstore",
        rg("rg")
    );
    let r = arm.send(Method::PUT, &sa, Some("2025-06-01"), Some(&json!({"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}))).await;
    assert_eq!(r.status, 202);
    assert!(r.body.is_null());
    let loc = r.header("location").expect("Location");
    assert_eq!(arm.send(Method::GET, &loc, None, None).await.status, 202);
    assert_eq!(arm.send(Method::GET, &loc, None, None).await.status, 202);
    let done = arm.send(Method::GET, &loc, None, None).await;
    assert_eq!(done.status, 200);
    assert_eq!(
        done.body["properties"]["primaryEndpoints"]["blob"],
        format!("https://twstore.blob.localhost:{}/", fake.port())
    );
    let c = format!("{sa}/blobServices/default/containers/reports");
    assert_eq!(
        arm.send(Method::PUT, &c, Some("2025-06-01"), Some(&json!({})))
            .await
            .status,
        201
    );
    let del = arm
        .send(Method::DELETE, &rg("rg"), Some("2025-04-01"), None)
        .await;
    assert_eq!(del.status, 202);
    let end = arm.wait(&del).await;
    assert_eq!(end.status, 204);
    assert!(fake.resources_under(SUB).is_empty());
    assert_eq!(
        arm.send(Method::DELETE, &rg("rg"), Some("2025-04-01"), None)
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn failed_and_held_operations() {
    let fake = TestServer::start_with(FakeConfig {
        lro_polls: 0,
        ..FakeConfig::default()
    })
    .expect("fake");
    let arm = Arm::new(&fake).await;
    put_rg(&arm, "rg").await;
    fake.fail_operation("managedClusters/aks1", "QuotaExceeded", "Not enough cores.");
    let aks = format!(
        "{}/providers/Microsoft.ContainerService/managedClusters/aks1",
        rg("rg")
    );
    let body = json!({"location": "westeurope", "properties": {"dnsPrefix": "tw", "oidcIssuerProfile": {"enabled": true}}});
    let r = arm
        .send(Method::PUT, &aks, Some("2025-10-01"), Some(&body))
        .await;
    let end = arm.wait(&r).await;
    assert_eq!(end.body["status"], "Failed");
    assert_eq!(end.body["error"]["code"], "QuotaExceeded");
    assert_eq!(
        fake.resource(&aks).expect("aks")["properties"]["provisioningState"],
        "Failed"
    );
    fake.hold("aks1");
    let r = arm
        .send(Method::PUT, &aks, Some("2025-10-01"), Some(&body))
        .await;
    let url = r.header("azure-asyncoperation").expect("AO");
    for _ in 0..3 {
        assert_eq!(
            arm.send(Method::GET, &url, None, None).await.body["status"],
            "InProgress"
        );
    }
    fake.release();
    assert_eq!(
        arm.send(Method::GET, &url, None, None).await.body["status"],
        "Succeeded"
    );
    let issuer = fake.resource(&aks).expect("aks")["properties"]["oidcIssuerProfile"]["issuerURL"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        issuer.starts_with(&format!(
            "https://westeurope.oic.localhost:{}/",
            fake.port()
        )),
        "{issuer}"
    );
}

#[tokio::test]
async fn throttling_and_injected_failures_carry_arm_error_bodies() {
    let fake = TestServer::start().expect("fake");
    let arm = Arm::new(&fake).await;
    fake.throttle_next(2, 7);
    for _ in 0..2 {
        let r = arm
            .send(Method::GET, &rg("x"), Some("2025-04-01"), None)
            .await;
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after").as_deref(), Some("7"));
        assert_eq!(r.body["error"]["code"], "TooManyRequests");
    }
    fake.fail_next(503, 1);
    let r = arm
        .send(Method::GET, &rg("x"), Some("2025-04-01"), None)
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (503, Some("ServiceUnavailable"))
    );
    assert_eq!(
        arm.send(Method::GET, &rg("x"), Some("2025-04-01"), None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn conflicts_name_rules_and_observation() {
    let fake = TestServer::start().expect("fake");
    let arm = Arm::new(&fake).await;
    put_rg(&arm, "rg").await;
    let ra = |name: &str| {
        format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{name}",
            rg("rg")
        )
    };
    let body = json!({"properties": {"roleDefinitionId": format!("{SUB}/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6"), "principalId": "11111111-2222-3333-4444-555555555555"}});
    assert_eq!(
        arm.send(
            Method::PUT,
            &ra("3f2c0b1e-0000-4000-8000-000000000001"),
            Some("2022-04-01"),
            Some(&body)
        )
        .await
        .status,
        201
    );
    let r = arm
        .send(
            Method::PUT,
            &ra("3f2c0b1e-0000-4000-8000-000000000002"),
            Some("2022-04-01"),
            Some(&body),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (409, Some("RoleAssignmentExists"))
    );
    let r = arm
        .send(
            Method::PUT,
            &format!(
                "{}/providers/Microsoft.Storage/storageAccounts/Bad_Name",
                rg("rg")
            ),
            Some("2025-06-01"),
            Some(&json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("AccountNameInvalid"))
    );
    let r = arm
        .send(
            Method::PUT,
            &format!("{}/providers/Microsoft.KeyVault/vaults/1vault", rg("rg")),
            Some("2025-05-01"),
            Some(&json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("VaultNameNotValid"))
    );
    let acct = format!(
        "{}/providers/Microsoft.DocumentDB/databaseAccounts/twcosmos",
        rg("rg")
    );
    let r = arm.send(Method::PUT, &acct, Some("2025-04-15"), Some(&json!({"location": "westeurope", "properties": {"databaseAccountOfferType": "Standard", "locations": [{"locationName": "westeurope", "failoverPriority": 0}]}}))).await;
    arm.wait(&r).await;
    let db = format!("{acct}/sqlDatabases/tw");
    arm.wait(
        &arm.send(
            Method::PUT,
            &db,
            Some("2025-04-15"),
            Some(&json!({"properties": {"resource": {"id": "tw"}}})),
        )
        .await,
    )
    .await;
    let coll = format!("{db}/containers/orders");
    let mk = |pk: &str| json!({"properties": {"resource": {"id": "orders", "partitionKey": {"paths": [pk], "kind": "Hash"}}}});
    arm.wait(
        &arm.send(Method::PUT, &coll, Some("2025-04-15"), Some(&mk("/botId")))
            .await,
    )
    .await;
    let r = arm
        .send(Method::PUT, &coll, Some("2025-04-15"), Some(&mk("/other")))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    fake.reset_log();
    assert_eq!(fake.writes(), 0);
    let r = arm
        .send(
            Method::PATCH,
            &acct,
            Some("2025-04-15"),
            Some(&json!({"tags": {"env": "ci"}})),
        )
        .await;
    assert_eq!(r.body["tags"], json!({"env": "ci"}));
    assert_eq!(fake.writes(), 1);
    let log = fake.requests();
    assert_eq!(
        log.last()
            .map(|r| (r.method.as_str(), r.api_version.as_deref())),
        Some(("PATCH", Some("2025-04-15")))
    );
}

async fn kv_send(
    http: &reqwest::Client,
    token: Option<&str>,
    method: Method,
    url: String,
    body: Option<Value>,
) -> common::Res {
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    send(req).await
}

#[tokio::test]
async fn key_vault_soft_delete_recover_purge_and_conflict() {
    let fake = TestServer::start().expect("fake");
    let arm = Arm::new(&fake).await;
    put_rg(&arm, "rg").await;
    let vault = format!("{}/providers/Microsoft.KeyVault/vaults/twkv", rg("rg"));
    let r = arm.send(Method::PUT, &vault, Some("2025-05-01"), Some(&json!({"location": "westeurope", "properties": {"tenantId": DEFAULT_TENANT, "sku": {"family": "A", "name": "standard"}}}))).await;
    assert_eq!(r.body["properties"]["vaultUri"], fake.vault_url("twkv"));
    let http = http_client(&fake);
    let base = format!(
        "{}secrets/api-key?api-version=2025-07-01",
        fake.vault_url("twkv")
    );
    let r = kv_send(
        &http,
        None,
        Method::PUT,
        base.clone(),
        Some(json!({"value": "s3cret"})),
    )
    .await;
    assert_eq!(r.status, 401);
    let challenge = r.header("www-authenticate").expect("challenge");
    assert!(
        challenge.contains(&format!(
            "authorization=\"https://login.localhost:{}/{DEFAULT_TENANT}\"",
            fake.port()
        )),
        "{challenge}"
    );
    assert!(challenge.contains("resource=\"https://vault.localhost\""));
    let t = token(&http, &fake, "https://vault.localhost/.default").await;
    let t = Some(t.as_str());
    let v1 = kv_send(
        &http,
        t,
        Method::PUT,
        base.clone(),
        Some(json!({"value": "s3cret"})),
    )
    .await;
    let v2 = kv_send(
        &http,
        t,
        Method::PUT,
        base.clone(),
        Some(json!({"value": "s3cret-2"})),
    )
    .await;
    assert_ne!(v1.body["id"], v2.body["id"]);
    let id1 = v1.body["id"].as_str().expect("id").to_owned();
    let old = kv_send(
        &http,
        t,
        Method::GET,
        format!("{id1}?api-version=7.5"),
        None,
    )
    .await;
    assert_eq!(old.body["value"], "s3cret");
    let del = kv_send(&http, t, Method::DELETE, base.clone(), None).await;
    assert_eq!(del.status, 200);
    assert!(
        del.body["recoveryId"]
            .as_str()
            .is_some_and(|s| s.ends_with("/deletedsecrets/api-key"))
    );
    assert!(del.body.get("value").is_none());
    let conflict = kv_send(
        &http,
        t,
        Method::PUT,
        base.clone(),
        Some(json!({"value": "x"})),
    )
    .await;
    assert_eq!(conflict.status, 409);
    assert_eq!(
        conflict.body["error"]["innererror"]["code"],
        "ObjectIsDeletedButRecoverable"
    );
    let deleted = format!("{}deletedsecrets/api-key", fake.vault_url("twkv"));
    let rec = kv_send(
        &http,
        t,
        Method::POST,
        format!("{deleted}/recover?api-version=2025-07-01"),
        None,
    )
    .await;
    assert_eq!(rec.status, 200);
    assert_eq!(
        kv_send(&http, t, Method::GET, base.clone(), None)
            .await
            .body["value"],
        "s3cret-2"
    );
    kv_send(&http, t, Method::DELETE, base.clone(), None).await;
    assert_eq!(
        kv_send(
            &http,
            t,
            Method::DELETE,
            format!("{deleted}?api-version=2025-07-01"),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        kv_send(&http, t, Method::GET, base.clone(), None)
            .await
            .status,
        404
    );
    assert_eq!(
        kv_send(&http, t, Method::PUT, base, Some(json!({"value": "new"})))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn service_bus_fans_out_to_every_subscription() {
    let fake = TestServer::start().expect("fake");
    let arm = Arm::new(&fake).await;
    put_rg(&arm, "rg").await;
    let ns = format!(
        "{}/providers/Microsoft.ServiceBus/namespaces/twbus",
        rg("rg")
    );
    arm.wait(
        &arm.send(
            Method::PUT,
            &ns,
            Some("2024-01-01"),
            Some(&json!({"location": "westeurope"})),
        )
        .await,
    )
    .await;
    arm.send(
        Method::PUT,
        &format!("{ns}/topics/events"),
        Some("2024-01-01"),
        Some(&json!({})),
    )
    .await;
    for s in ["a", "b"] {
        let r = arm
            .send(
                Method::PUT,
                &format!("{ns}/topics/events/subscriptions/{s}"),
                Some("2024-01-01"),
                Some(&json!({})),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let http = http_client(&fake);
    let sb = fake.servicebus_url("twbus");
    let r = send(http.post(format!("{sb}events/messages")).body("x")).await;
    assert_eq!(r.status, 401);
    let t = token(&http, &fake, "https://servicebus.azure.net/.default").await;
    let r = send(
        http.post(format!("{sb}missing/messages"))
            .bearer_auth(&t)
            .body("x"),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = send(
        http.post(format!("{sb}events/messages"))
            .bearer_auth(&t)
            .header("BrokerProperties", r#"{"Label":"fill"}"#)
            .body("one"),
    )
    .await;
    assert_eq!(r.status, 201);
    let batch = json!([{"Body": "two", "UserProperties": {"bot": "b1"}}, {"Body": "three", "BrokerProperties": {"MessageId": "m3"}}]);
    let r = send(
        http.post(format!("{sb}events/messages"))
            .bearer_auth(&t)
            .header("content-type", tradewind_azure_fake::BATCH_CONTENT_TYPE)
            .body(batch.to_string()),
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(fake.queued_messages("twbus", "events", "a"), 3);
    assert_eq!(fake.queued_messages("twbus", "events", "b"), 3);
    let head = format!("{sb}events/subscriptions/a/messages/head?timeout=1");
    let m1 = send(http.delete(&head).bearer_auth(&t)).await;
    assert_eq!((m1.status, m1.body.as_str()), (200, Some("one")));
    let bp: Value = serde_json::from_str(&m1.header("brokerproperties").expect("BrokerProperties"))
        .expect("json");
    assert_eq!(bp["Label"], "fill");
    let m2 = send(http.delete(&head).bearer_auth(&t)).await;
    assert_eq!(m2.header("bot").as_deref(), Some("\"b1\""));
    send(http.delete(&head).bearer_auth(&t)).await;
    assert_eq!(send(http.delete(&head).bearer_auth(&t)).await.status, 204);
    assert_eq!(fake.queued_messages("twbus", "events", "b"), 3);
}
