//! Secret values and tokens never reach the fake's logs, even at TRACE.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{Arm, http_client, send, token};
use reqwest::Method;
use serde_json::json;
use tradewind_azure_fake::{DEFAULT_CLIENT_SECRET, DEFAULT_TENANT, TestServer};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_and_tokens_are_not_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
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
    arm.send(
        Method::PUT,
        &vault,
        Some("2025-05-01"),
        Some(&json!({"location": "westeurope", "properties": {"tenantId": DEFAULT_TENANT}})),
    )
    .await;
    let http = http_client(&fake);
    let t = token(&http, &fake, "https://vault.localhost/.default").await;
    let secret_value = "very-distinct-secret-value-7f3a";
    let r = send(
        http.put(format!(
            "{}secrets/exchange-key?api-version=2025-07-01",
            fake.vault_url("twkv")
        ))
        .bearer_auth(&t)
        .json(&json!({"value": secret_value})),
    )
    .await;
    assert_eq!(r.status, 200);
    drop(fake);
    let logs =
        String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    assert!(
        logs.contains("secret set"),
        "the fake logged nothing: {logs}"
    );
    assert!(!logs.contains(secret_value));
    assert!(!logs.contains(&t));
    assert!(!logs.contains(&arm.token));
    assert!(!logs.contains(DEFAULT_CLIENT_SECRET));
}
