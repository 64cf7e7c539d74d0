//! Cosmos DB (NoSQL API) documents over the REST API on our azure_core transport: the
//! SDK cannot take that transport. Entra ID tokens in Cosmos DB's own authorization form
//! (`type=aad&ver=1.0&sig={token}`, URL-encoded), `x-ms-version` pinned, partition keys
//! as JSON arrays in `x-ms-documentdb-partitionkey` (one value per level, so hierarchical
//! keys are `["BTCUSDT","2026-01-02"]`), queries as `application/query+json` with
//! continuation tokens followed to the end.
//!
//! Faults: 429 waits `x-ms-retry-after-ms` (capped) and tries again, 408/5xx back off
//! exponentially, a logical partition at its 20 GB limit (403 substatus 1014) is
//! [`CosmosError::PartitionFull`], every other refusal is [`CosmosError::Status`] with
//! the status, substatus and service message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::headers::{HeaderName, Headers};
use azure_core::http::{
    ClientOptions, Context, Method, Pipeline, PipelineSendOptions, Request, RetryOptions, Url,
};
use azure_core::time::OffsetDateTime;
use serde_json::{Value, json};
use tracing::debug;

use crate::transport::{TransportOptions, azure_transport};

/// The REST version every request pins (`x-ms-version`).
pub const COSMOS_VERSION: &str = "2018-12-31";

const AUTHORIZATION: HeaderName = HeaderName::from_static("authorization");
const X_MS_VERSION: HeaderName = HeaderName::from_static("x-ms-version");
const X_MS_DATE: HeaderName = HeaderName::from_static("x-ms-date");
const CONTENT_TYPE: HeaderName = HeaderName::from_static("content-type");
const PARTITION_KEY: HeaderName = HeaderName::from_static("x-ms-documentdb-partitionkey");
const IS_UPSERT: HeaderName = HeaderName::from_static("x-ms-documentdb-is-upsert");
const IS_QUERY: HeaderName = HeaderName::from_static("x-ms-documentdb-isquery");
const CROSS_PARTITION: HeaderName =
    HeaderName::from_static("x-ms-documentdb-query-enablecrosspartition");
const MAX_ITEM_COUNT: HeaderName = HeaderName::from_static("x-ms-max-item-count");
const CONTINUATION: HeaderName = HeaderName::from_static("x-ms-continuation");
const RETRY_AFTER_MS: HeaderName = HeaderName::from_static("x-ms-retry-after-ms");
const SUBSTATUS: HeaderName = HeaderName::from_static("x-ms-substatus");

/// A Cosmos DB request that failed; names the operation and the resource.
#[derive(Debug, thiserror::Error)]
pub enum CosmosError {
    /// The endpoint is not an https URL.
    #[error("cosmos endpoint {0:?} is not an https URL")]
    Endpoint(String),
    /// The transport could not be built.
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    /// No answer (connection, TLS) or no token.
    #[error("cosmos {op} {path}: {message}")]
    Request {
        /// Operation.
        op: &'static str,
        /// Resource path.
        path: String,
        /// Cause.
        message: String,
    },
    /// Still throttled (429) after every retry.
    #[error(
        "cosmos {op} {path}: throttled (429) after {retries} retries; raise the container's throughput"
    )]
    Throttled {
        /// Operation.
        op: &'static str,
        /// Resource path.
        path: String,
        /// Retries made.
        retries: u32,
    },
    /// The logical partition reached its 20 GB limit (403 substatus 1014).
    #[error(
        "cosmos {op} {path}: partition key {partition_key} is full (a logical partition holds at most 20 GB): {message}"
    )]
    PartitionFull {
        /// Operation.
        op: &'static str,
        /// Resource path.
        path: String,
        /// The partition key value, as JSON.
        partition_key: String,
        /// The service's message.
        message: String,
    },
    /// Any other refusal.
    #[error("cosmos {op} {path}: HTTP {status} (substatus {substatus}): {message}")]
    Status {
        /// Operation.
        op: &'static str,
        /// Resource path.
        path: String,
        /// HTTP status.
        status: u16,
        /// `x-ms-substatus`, 0 when absent.
        substatus: u32,
        /// The service's message.
        message: String,
    },
    /// A 2xx answer whose body is not what the API returns.
    #[error("cosmos {op} {path}: unexpected answer: {message}")]
    Decode {
        /// Operation.
        op: &'static str,
        /// Resource path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Retry tuning.
#[derive(Clone, Debug)]
pub struct CosmosOptions {
    /// Retries of one request on 429, 408, 5xx and connection errors.
    pub max_retries: u32,
    /// First back-off on 408/5xx (doubles each time).
    pub initial_delay: Duration,
    /// Longest single wait (a 429's `x-ms-retry-after-ms` is capped to it).
    pub max_delay: Duration,
}

impl Default for CosmosOptions {
    fn default() -> Self {
        Self {
            max_retries: 9,
            initial_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// A parameterised query (`@name` parameters, never values spliced into the text).
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// The SQL text.
    pub text: String,
    /// `(name, value)`, names with their `@`.
    pub parameters: Vec<(String, Value)>,
}

impl Query {
    /// A query without parameters.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            parameters: Vec::new(),
        }
    }

    /// Adds a parameter.
    pub fn param(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.parameters.push((name.to_string(), value.into()));
        self
    }

    fn body(&self) -> Value {
        json!({
            "query": self.text,
            "parameters": self.parameters.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
        })
    }
}

/// What [`CosmosClient::create`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// The document was written.
    Created,
    /// A document with that id already exists in the partition (409): nothing written.
    Exists,
}

/// One page of a query.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The documents.
    pub documents: Vec<Value>,
    /// Token for the next page; `None` on the last.
    pub continuation: Option<String>,
}

/// One container's documents.
#[derive(Clone)]
pub struct CosmosClient {
    pipeline: Arc<Pipeline>,
    endpoint: Url,
    credential: Arc<dyn TokenCredential>,
    scope: String,
    token: Arc<Mutex<Option<(String, OffsetDateTime)>>>,
    options: CosmosOptions,
}

impl std::fmt::Debug for CosmosClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CosmosClient")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

struct Reply {
    status: u16,
    headers: Headers,
    body: Vec<u8>,
}

/// The Entra scope of an account: its endpoint's host (`https://{account}.documents.azure.com/.default`).
pub fn scope_for(endpoint: &Url) -> String {
    format!(
        "https://{}/.default",
        endpoint.host_str().unwrap_or_default()
    )
}

impl CosmosClient {
    /// A client for the account at `endpoint` (`https://{account}.documents.azure.com:443/`).
    pub fn new(
        endpoint: &str,
        credential: Arc<dyn TokenCredential>,
        transport: &TransportOptions,
        options: CosmosOptions,
    ) -> Result<Self, CosmosError> {
        let endpoint = match Url::parse(endpoint) {
            Ok(u) if u.scheme() == "https" && u.host_str().is_some() => u,
            _ => return Err(CosmosError::Endpoint(endpoint.to_string())),
        };
        let client_options = ClientOptions {
            transport: Some(azure_transport(transport)?),
            // Our own loop: 429 needs x-ms-retry-after-ms and a clear error when it lasts.
            retry: RetryOptions::none(),
            ..Default::default()
        };
        let pipeline = Pipeline::new(
            Some("tradewind-azure"),
            Some(env!("CARGO_PKG_VERSION")),
            client_options,
            Vec::new(),
            Vec::new(),
            None,
        );
        Ok(Self {
            pipeline: Arc::new(pipeline),
            scope: scope_for(&endpoint),
            endpoint,
            credential,
            token: Arc::new(Mutex::new(None)),
            options,
        })
    }

    async fn token(&self, op: &'static str, path: &str) -> Result<String, CosmosError> {
        let now = OffsetDateTime::now_utc();
        if let Some((t, exp)) = self.token.lock().unwrap_or_else(|p| p.into_inner()).clone()
            && exp - now > azure_core::time::Duration::minutes(5)
        {
            return Ok(t);
        }
        let token = self
            .credential
            .get_token(&[self.scope.as_str()], None)
            .await
            .map_err(|e| CosmosError::Request {
                op,
                path: path.to_string(),
                message: format!(
                    "token for {}: {}",
                    self.scope,
                    crate::arm::error::describe(&e)
                ),
            })?;
        let value = token.token.secret().to_string();
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((value.clone(), token.expires_on));
        Ok(value)
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.endpoint.clone();
        url.set_path(path);
        url
    }

    async fn send(
        &self,
        op: &'static str,
        path: &str,
        method: Method,
        headers: &[(HeaderName, String)],
        body: Option<&[u8]>,
    ) -> Result<Reply, CosmosError> {
        let url = self.url(path);
        let mut attempt = 0u32;
        loop {
            let token = self.token(op, path).await?;
            let mut request = Request::new(url.clone(), method);
            // `type=aad&ver=1.0&sig=`, URL-encoded; a JWT needs no further encoding.
            request.insert_header(
                AUTHORIZATION,
                format!("type%3Daad%26ver%3D1.0%26sig%3D{token}"),
            );
            request.insert_header(X_MS_VERSION, COSMOS_VERSION);
            request.insert_header(
                X_MS_DATE,
                azure_core::time::to_rfc7231(&OffsetDateTime::now_utc()).to_lowercase(),
            );
            for (k, v) in headers {
                request.insert_header(k.clone(), v.clone());
            }
            if let Some(b) = body {
                request.set_body(b.to_vec());
            }
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
            let backoff = (self.options.initial_delay * 2u32.saturating_pow(attempt))
                .min(self.options.max_delay);
            let delay = match sent {
                Ok(response) => {
                    let (status, headers, body) = response.deconstruct();
                    let status = u16::from(status);
                    let reply = Reply {
                        status,
                        headers,
                        body: body.to_vec(),
                    };
                    match status {
                        429 if attempt >= self.options.max_retries => {
                            return Err(CosmosError::Throttled {
                                op,
                                path: path.to_string(),
                                retries: attempt,
                            });
                        }
                        429 => reply
                            .headers
                            .get_optional_str(&RETRY_AFTER_MS)
                            .and_then(|v| v.trim().parse::<f64>().ok())
                            .filter(|ms| ms.is_finite() && *ms >= 0.0)
                            .map_or(backoff, |ms| Duration::from_micros((ms * 1000.0) as u64))
                            .min(self.options.max_delay),
                        408 | 500 | 502 | 503 | 504 if attempt < self.options.max_retries => {
                            backoff
                        }
                        _ => return Ok(reply),
                    }
                }
                Err(e) if attempt < self.options.max_retries => {
                    debug!(op, path, error = %crate::arm::error::describe(&e), "cosmos request failed; retrying");
                    backoff
                }
                Err(e) => {
                    return Err(CosmosError::Request {
                        op,
                        path: path.to_string(),
                        message: crate::arm::error::describe(&e),
                    });
                }
            };
            attempt += 1;
            debug!(op, path, attempt, ?delay, "cosmos request retried");
            tokio::time::sleep(delay).await;
        }
    }

    fn refusal(op: &'static str, path: &str, pk: &str, reply: &Reply) -> CosmosError {
        let substatus = reply
            .headers
            .get_optional_str(&SUBSTATUS)
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let message = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&reply.body)
                    .chars()
                    .take(300)
                    .collect()
            });
        if reply.status == 403 && substatus == 1014 {
            return CosmosError::PartitionFull {
                op,
                path: path.to_string(),
                partition_key: pk.to_string(),
                message,
            };
        }
        CosmosError::Status {
            op,
            path: path.to_string(),
            status: reply.status,
            substatus,
            message,
        }
    }

    fn docs_path(database: &str, container: &str) -> String {
        format!("/dbs/{database}/colls/{container}/docs")
    }

    fn json(op: &'static str, path: &str, reply: &Reply) -> Result<Value, CosmosError> {
        serde_json::from_slice(&reply.body).map_err(|e| CosmosError::Decode {
            op,
            path: path.to_string(),
            message: e.to_string(),
        })
    }

    /// Creates a document; [`Created::Exists`] when its id is taken in the partition, so
    /// a write keyed by an event id is idempotent.
    pub async fn create(
        &self,
        database: &str,
        container: &str,
        partition_key: &[Value],
        document: &Value,
    ) -> Result<Created, CosmosError> {
        let path = Self::docs_path(database, container);
        let pk = Value::from(partition_key.to_vec()).to_string();
        let body = document.to_string().into_bytes();
        let headers = [
            (CONTENT_TYPE, "application/json".to_string()),
            (PARTITION_KEY, pk.clone()),
        ];
        let reply = self
            .send("create", &path, Method::Post, &headers, Some(&body))
            .await?;
        match reply.status {
            201 => Ok(Created::Created),
            409 => Ok(Created::Exists),
            _ => Err(Self::refusal("create", &path, &pk, &reply)),
        }
    }

    /// Creates or replaces a document (by its `id` within the partition).
    pub async fn upsert(
        &self,
        database: &str,
        container: &str,
        partition_key: &[Value],
        document: &Value,
    ) -> Result<(), CosmosError> {
        let path = Self::docs_path(database, container);
        let pk = Value::from(partition_key.to_vec()).to_string();
        let body = document.to_string().into_bytes();
        let headers = [
            (CONTENT_TYPE, "application/json".to_string()),
            (PARTITION_KEY, pk.clone()),
            (IS_UPSERT, "True".to_string()),
        ];
        let reply = self
            .send("upsert", &path, Method::Post, &headers, Some(&body))
            .await?;
        match reply.status {
            200 | 201 => Ok(()),
            _ => Err(Self::refusal("upsert", &path, &pk, &reply)),
        }
    }

    /// Reads a document by id; `None` when absent.
    pub async fn read(
        &self,
        database: &str,
        container: &str,
        partition_key: &[Value],
        id: &str,
    ) -> Result<Option<Value>, CosmosError> {
        let path = format!("{}/{id}", Self::docs_path(database, container));
        let pk = Value::from(partition_key.to_vec()).to_string();
        let headers = [(PARTITION_KEY, pk.clone())];
        let reply = self
            .send("read", &path, Method::Get, &headers, None)
            .await?;
        match reply.status {
            200 => Self::json("read", &path, &reply).map(Some),
            404 => Ok(None),
            _ => Err(Self::refusal("read", &path, &pk, &reply)),
        }
    }

    /// One page of a query: within one logical partition when `partition_key` is given
    /// (the cheap case), across partitions otherwise.
    pub async fn query_page(
        &self,
        database: &str,
        container: &str,
        partition_key: Option<&[Value]>,
        query: &Query,
        max_items: Option<u32>,
        continuation: Option<&str>,
    ) -> Result<Page, CosmosError> {
        let path = Self::docs_path(database, container);
        let mut headers = vec![
            (CONTENT_TYPE, "application/query+json".to_string()),
            (IS_QUERY, "True".to_string()),
        ];
        let pk = match partition_key {
            Some(pk) => {
                let pk = Value::from(pk.to_vec()).to_string();
                headers.push((PARTITION_KEY, pk.clone()));
                pk
            }
            None => {
                headers.push((CROSS_PARTITION, "True".to_string()));
                "(every partition)".to_string()
            }
        };
        if let Some(n) = max_items {
            headers.push((MAX_ITEM_COUNT, n.to_string()));
        }
        if let Some(c) = continuation {
            headers.push((CONTINUATION, c.to_string()));
        }
        let body = query.body().to_string().into_bytes();
        let reply = self
            .send("query", &path, Method::Post, &headers, Some(&body))
            .await?;
        if reply.status != 200 {
            return Err(Self::refusal("query", &path, &pk, &reply));
        }
        let json = Self::json("query", &path, &reply)?;
        let Some(Value::Array(documents)) = json.get("Documents").cloned() else {
            return Err(CosmosError::Decode {
                op: "query",
                path,
                message: "no Documents array".into(),
            });
        };
        Ok(Page {
            documents,
            continuation: reply
                .headers
                .get_optional_string(&CONTINUATION)
                .filter(|c| !c.is_empty()),
        })
    }

    /// Every result of a query, following continuation tokens (`page_size` a page).
    pub async fn query(
        &self,
        database: &str,
        container: &str,
        partition_key: Option<&[Value]>,
        query: &Query,
        page_size: Option<u32>,
    ) -> Result<Vec<Value>, CosmosError> {
        let mut out = Vec::new();
        let mut continuation: Option<String> = None;
        loop {
            let page = self
                .query_page(
                    database,
                    container,
                    partition_key,
                    query,
                    page_size,
                    continuation.as_deref(),
                )
                .await?;
            out.extend(page.documents);
            match page.continuation {
                Some(c) => continuation = Some(c),
                None => return Ok(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_is_the_account_host_and_queries_carry_parameters() {
        let url = Url::parse("https://acct.documents.azure.com:443/").unwrap();
        assert_eq!(scope_for(&url), "https://acct.documents.azure.com/.default");
        let q = Query::new("SELECT * FROM c WHERE c.symbol = @s").param("@s", "BTCUSDT");
        assert_eq!(
            q.body(),
            json!({"query": "SELECT * FROM c WHERE c.symbol = @s", "parameters": [{"name": "@s", "value": "BTCUSDT"}]})
        );
    }
}
