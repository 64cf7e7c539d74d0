//! Shared helpers: an HTTPS client that trusts the fake's CA and maps `*.localhost` to
//! loopback, tokens, and ARM request shortcuts.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::Method;
use serde_json::Value;
use tradewind_azure_fake::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT, Handle};

/// Resolves every name to 127.0.0.1 (RFC 6761: `*.localhost` is loopback).
struct Loopback;

impl reqwest::dns::Resolve for Loopback {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async {
            let addrs: reqwest::dns::Addrs =
                Box::new(std::iter::once(SocketAddr::from(([127, 0, 0, 1], 0))));
            Ok(addrs)
        })
    }
}

/// A reqwest client trusting only the fake's CA, with rustls on ring.
pub fn http_client(fake: &Handle) -> reqwest::Client {
    http_client_for_pem(fake.ca_pem())
}

/// A reqwest client trusting only the CA in `pem`.
pub fn http_client_for_pem(pem: &str) -> reqwest::Client {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots
            .add(cert.expect("CA PEM parses"))
            .expect("CA is a valid root");
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(Arc::new(Loopback))
        .build()
        .expect("reqwest client")
}

/// A token from the fake's token endpoint for `scope`, with the default client.
pub async fn token(client: &reqwest::Client, fake: &Handle, scope: &str) -> String {
    let res = client
        .post(format!(
            "{}/{DEFAULT_TENANT}/oauth2/v2.0/token",
            fake.authority_host()
        ))
        .form(&[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("grant_type", "client_credentials"),
            ("scope", scope),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.expect("token json");
    v["access_token"].as_str().expect("access_token").to_owned()
}

/// A response: status, headers (lower-case names), JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Res {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Res {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// An authenticated client for ARM.
pub struct Arm {
    pub http: reqwest::Client,
    pub token: String,
    pub base: String,
}

impl Arm {
    pub async fn new(fake: &Handle) -> Self {
        let http = http_client(fake);
        let token = token(&http, fake, &format!("{}/.default", fake.arm_endpoint())).await;
        Self {
            http,
            token,
            base: fake.arm_endpoint(),
        }
    }

    /// Sends to `path` (relative to the ARM endpoint, or an absolute URL) with `api_version`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        api_version: Option<&str>,
        body: Option<&Value>,
    ) -> Res {
        let url = if path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(v) = api_version {
            req = req.query(&[("api-version", v)]);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        send(req).await
    }

    /// Polls `Azure-AsyncOperation` (else `Location`) until the operation ends; returns the
    /// last poll response.
    pub async fn wait(&self, started: &Res) -> Res {
        let (url, ao) = match (
            started.header("azure-asyncoperation"),
            started.header("location"),
        ) {
            (Some(u), _) => (u, true),
            (None, Some(u)) => (u, false),
            (None, None) => panic!("no polling header on {started:?}"),
        };
        for _ in 0..20 {
            let r = self.send(Method::GET, &url, None, None).await;
            let done = if ao {
                r.body["status"] != "InProgress"
            } else {
                r.status != 202
            };
            if done {
                return r;
            }
        }
        panic!("operation at {url} did not end");
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> Res {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = res.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Res {
        status,
        headers,
        body,
    }
}
