//! Blob Storage block blobs over the REST API on our azure_core pipeline: Entra bearer
//! tokens (scope `https://storage.azure.com/.default`), `x-ms-version` pinned, and our
//! own retry of 408/429/5xx that honours `Retry-After`. A blob up to [`SINGLE_PUT_MAX`]
//! is one Put Blob; a larger one goes up as Put Block × n and one Put Block List, so a
//! failed block is retried alone and nothing is visible until the list commits.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::headers::{HeaderName, Headers};
use azure_core::http::policies::Policy;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{
    ClientOptions, Context, Method, Pipeline, PipelineSendOptions, Request, RetryOptions, Url,
};
use tracing::debug;

use crate::cloud::AzureCloud;
use crate::transport::{TransportOptions, azure_transport};

/// The Blob service REST version every request pins (`x-ms-version`).
pub const STORAGE_VERSION: &str = "2025-01-05";
/// Token scope of Azure Storage.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";
/// Largest blob written with one Put Blob; larger ones go up in blocks.
pub const SINGLE_PUT_MAX: usize = 8 << 20;
/// Size of each block of a larger blob.
pub const BLOCK_SIZE: usize = 8 << 20;

const X_MS_VERSION: HeaderName = HeaderName::from_static("x-ms-version");
const X_MS_DATE: HeaderName = HeaderName::from_static("x-ms-date");
const X_MS_BLOB_TYPE: HeaderName = HeaderName::from_static("x-ms-blob-type");
const X_MS_ERROR_CODE: HeaderName = HeaderName::from_static("x-ms-error-code");
const RETRY_AFTER: HeaderName = HeaderName::from_static("retry-after");
const CONTENT_TYPE: HeaderName = HeaderName::from_static("content-type");

/// A failed Blob Storage request; names the blob.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The endpoint is not an https URL.
    #[error("blob endpoint {0:?} is not an https URL")]
    Endpoint(String),
    /// The transport could not be built.
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    /// No answer (connection, TLS, token).
    #[error("blob {op} {path}: {message}")]
    Request {
        /// Operation.
        op: &'static str,
        /// `container/blob`.
        path: String,
        /// Cause.
        message: String,
    },
    /// The service refused the request.
    #[error("blob {op} {path}: HTTP {status} {code}")]
    Status {
        /// Operation.
        op: &'static str,
        /// `container/blob`.
        path: String,
        /// HTTP status.
        status: u16,
        /// `x-ms-error-code` (e.g. `AuthenticationFailed`, `ContainerNotFound`).
        code: String,
    },
}

/// Retry tuning.
#[derive(Clone, Debug)]
pub struct BlobOptions {
    /// Retries of one request on 408/429/5xx and connection errors.
    pub max_retries: u32,
    /// First delay when the service gives no Retry-After (doubles each time).
    pub initial_delay: Duration,
    /// Longest single wait.
    pub max_delay: Duration,
}

impl Default for BlobOptions {
    fn default() -> Self {
        Self {
            max_retries: 6,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// The Blob endpoint of `account` in `cloud` (`https://{account}.blob.core.windows.net/`).
pub fn endpoint_for(cloud: &AzureCloud, account: &str) -> String {
    let suffix = match cloud.name.as_str() {
        "AzureChina" | "AzureChinaCloud" => "core.chinacloudapi.cn",
        "AzureUSGovernment" => "core.usgovcloudapi.net",
        _ => "core.windows.net",
    };
    format!("https://{account}.blob.{suffix}/")
}

/// A storage account's Blob service.
#[derive(Clone)]
pub struct BlobClient {
    pipeline: Arc<Pipeline>,
    endpoint: Url,
    options: BlobOptions,
}

impl std::fmt::Debug for BlobClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobClient")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

struct Reply {
    status: u16,
    headers: Headers,
    body: Vec<u8>,
}

impl BlobClient {
    /// A client for the Blob service at `endpoint` (`https://{account}.blob.core.windows.net/`).
    pub fn new(
        endpoint: &str,
        credential: Arc<dyn TokenCredential>,
        transport: &TransportOptions,
        options: BlobOptions,
    ) -> Result<Self, BlobError> {
        let endpoint = match Url::parse(endpoint) {
            Ok(u) if u.scheme() == "https" && u.host_str().is_some() => u,
            _ => return Err(BlobError::Endpoint(endpoint.to_string())),
        };
        let auth: Arc<dyn Policy> = Arc::new(BearerTokenAuthorizationPolicy::new(
            credential,
            [STORAGE_SCOPE],
        ));
        let client_options = ClientOptions {
            transport: Some(azure_transport(transport)?),
            // Our own loop below: it sees every status, and a block is retried alone.
            retry: RetryOptions::none(),
            ..Default::default()
        };
        let pipeline = Pipeline::new(
            Some("tradewind-azure"),
            Some(env!("CARGO_PKG_VERSION")),
            client_options,
            Vec::new(),
            vec![auth],
            None,
        );
        Ok(Self {
            pipeline: Arc::new(pipeline),
            endpoint,
            options,
        })
    }

    fn url(&self, container: &str, blob: Option<&str>) -> Url {
        let mut url = self.endpoint.clone();
        let base = url.path().trim_end_matches('/').to_string();
        match blob {
            Some(b) => url.set_path(&format!("{base}/{container}/{b}")),
            None => url.set_path(&format!("{base}/{container}")),
        }
        url
    }

    async fn send(
        &self,
        op: &'static str,
        path: &str,
        make: impl Fn() -> Request,
    ) -> Result<Reply, BlobError> {
        let mut attempt = 0u32;
        loop {
            let mut request = make();
            request.insert_header(X_MS_VERSION, STORAGE_VERSION);
            request.insert_header(
                X_MS_DATE,
                azure_core::time::to_rfc7231(&azure_core::time::OffsetDateTime::now_utc()),
            );
            let sent = self
                .pipeline
                .send(
                    &Context::new(),
                    &mut request,
                    Some(PipelineSendOptions {
                        skip_checks: true,
                        ..Default::default()
                    }),
                )
                .await;
            let (retryable, wait, result) = match sent {
                Ok(response) => {
                    let (status, headers, body) = response.deconstruct();
                    let status = u16::from(status);
                    let wait = headers
                        .get_optional_str(&RETRY_AFTER)
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let retryable = matches!(status, 408 | 429 | 500 | 502 | 503 | 504);
                    let reply = Reply {
                        status,
                        headers,
                        body: body.to_vec(),
                    };
                    (retryable, wait, Ok(reply))
                }
                Err(e) => (
                    true,
                    None,
                    Err(BlobError::Request {
                        op,
                        path: path.to_string(),
                        message: crate::arm::error::describe(&e),
                    }),
                ),
            };
            if !retryable || attempt >= self.options.max_retries {
                return result;
            }
            let backoff = self.options.initial_delay * 2u32.saturating_pow(attempt);
            let delay = wait.unwrap_or(backoff).min(self.options.max_delay);
            attempt += 1;
            debug!(op, path, attempt, ?delay, "blob request retried");
            tokio::time::sleep(delay).await;
        }
    }

    fn status_error(op: &'static str, path: &str, reply: &Reply) -> BlobError {
        BlobError::Status {
            op,
            path: path.to_string(),
            status: reply.status,
            code: reply
                .headers
                .get_optional_string(&X_MS_ERROR_CODE)
                .unwrap_or_default(),
        }
    }

    /// Creates the container; `false` when it already exists.
    pub async fn create_container(&self, container: &str) -> Result<bool, BlobError> {
        let mut url = self.url(container, None);
        url.query_pairs_mut().append_pair("restype", "container");
        let reply = self
            .send("create-container", container, || {
                let mut r = Request::new(url.clone(), Method::Put);
                r.set_body(Vec::<u8>::new());
                r
            })
            .await?;
        match reply.status {
            201 => Ok(true),
            409 => Ok(false),
            _ => Err(Self::status_error("create-container", container, &reply)),
        }
    }

    /// Writes (or replaces) a block blob: one Put Blob up to [`SINGLE_PUT_MAX`], else
    /// blocks and a block list.
    pub async fn put(&self, container: &str, blob: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let path = format!("{container}/{blob}");
        let url = self.url(container, Some(blob));
        if bytes.len() <= SINGLE_PUT_MAX {
            let reply = self
                .send("put", &path, || {
                    let mut r = Request::new(url.clone(), Method::Put);
                    r.insert_header(X_MS_BLOB_TYPE, "BlockBlob");
                    r.insert_header(CONTENT_TYPE, "application/octet-stream");
                    r.set_body(bytes.to_vec());
                    r
                })
                .await?;
            return match reply.status {
                201 => Ok(()),
                _ => Err(Self::status_error("put", &path, &reply)),
            };
        }
        let mut ids = Vec::new();
        for (i, chunk) in bytes.chunks(BLOCK_SIZE).enumerate() {
            // Block IDs are base64 of equal-length strings (the service requires equal lengths).
            let id = azure_core::base64::encode(format!("block-{i:08}"));
            let mut u = url.clone();
            u.query_pairs_mut()
                .append_pair("comp", "block")
                .append_pair("blockid", &id);
            let reply = self
                .send("put-block", &path, || {
                    let mut r = Request::new(u.clone(), Method::Put);
                    r.set_body(chunk.to_vec());
                    r
                })
                .await?;
            if reply.status != 201 {
                return Err(Self::status_error("put-block", &path, &reply));
            }
            ids.push(id);
        }
        let list = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>{}</BlockList>",
            ids.iter()
                .map(|id| format!("<Latest>{id}</Latest>"))
                .collect::<String>()
        );
        let mut u = url.clone();
        u.query_pairs_mut().append_pair("comp", "blocklist");
        let reply = self
            .send("put-block-list", &path, || {
                let mut r = Request::new(u.clone(), Method::Put);
                r.insert_header(CONTENT_TYPE, "application/xml");
                r.set_body(list.clone().into_bytes());
                r
            })
            .await?;
        match reply.status {
            201 => Ok(()),
            _ => Err(Self::status_error("put-block-list", &path, &reply)),
        }
    }

    /// Reads a blob; `None` when it (or its container) does not exist.
    pub async fn get(&self, container: &str, blob: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let path = format!("{container}/{blob}");
        let url = self.url(container, Some(blob));
        let reply = self
            .send("get", &path, || Request::new(url.clone(), Method::Get))
            .await?;
        match reply.status {
            200 => Ok(Some(reply.body)),
            404 => Ok(None),
            _ => Err(Self::status_error("get", &path, &reply)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_cloud() {
        let public = AzureCloud::named("AzurePublic").unwrap();
        assert_eq!(
            endpoint_for(&public, "twarchive"),
            "https://twarchive.blob.core.windows.net/"
        );
        let china = AzureCloud::named("AzureChina").unwrap();
        assert_eq!(
            endpoint_for(&china, "a"),
            "https://a.blob.core.chinacloudapi.cn/"
        );
    }
}
