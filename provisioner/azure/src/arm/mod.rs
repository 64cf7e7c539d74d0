//! The Resource Manager client: one azure_core pipeline (bearer token, retries honouring
//! Retry-After on 429/5xx), pinned api-versions, long-running operations polled to the end,
//! ARM error bodies mapped to [`ArmError`].

pub mod api_versions;
pub mod error;
pub mod id;
pub mod lro;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use azure_core::credentials::TokenCredential;
use azure_core::http::headers::{HeaderName, Headers};
use azure_core::http::policies::Policy;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{
    ClientOptions, Context, ExponentialRetryOptions, Method, Pipeline, PipelineSendOptions,
    Request, RetryOptions, Url,
};
use serde_json::Value;
use tracing::{debug, info};

pub use error::{ArmError, ErrorDetail};
pub use id::ResourceId;
use lro::{PollState, PollTarget, Started};

use crate::cloud::AzureCloud;
use crate::transport::{TransportOptions, azure_transport};

const AZURE_ASYNC_OPERATION: HeaderName = HeaderName::from_static("azure-asyncoperation");
const LOCATION: HeaderName = HeaderName::from_static("location");
const RETRY_AFTER: HeaderName = HeaderName::from_static("retry-after");

/// Tuning for [`ArmClient`].
#[derive(Clone, Debug)]
pub struct ArmOptions {
    /// Retries of one request on 408/429/5xx and connection errors.
    pub max_retries: u32,
    /// First retry delay when the server gives no Retry-After.
    pub initial_retry_delay: Duration,
    /// Poll interval when the server gives no Retry-After.
    pub poll_interval: Duration,
    /// Upper bound for any single wait (Retry-After is capped to this).
    pub max_poll_interval: Duration,
    /// How long a long-running operation may take.
    pub operation_timeout: Duration,
}

impl Default for ArmOptions {
    fn default() -> Self {
        Self {
            max_retries: 6,
            initial_retry_delay: Duration::from_millis(800),
            poll_interval: Duration::from_secs(5),
            max_poll_interval: Duration::from_secs(60),
            operation_timeout: Duration::from_secs(45 * 60),
        }
    }
}

/// Resource Manager client.
#[derive(Clone)]
pub struct ArmClient {
    pipeline: Arc<Pipeline>,
    endpoint: Url,
    options: ArmOptions,
    writes: Arc<AtomicU64>,
}

impl std::fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClient")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

struct Reply {
    status: u16,
    headers: Headers,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Option<Value> {
        if self.body.is_empty() {
            None
        } else {
            serde_json::from_slice(&self.body).ok()
        }
    }

    fn header(&self, name: &HeaderName) -> Option<String> {
        self.headers.get_optional_string(name)
    }
}

impl ArmClient {
    /// A client for `cloud`, authenticating with `credential`.
    pub fn new(
        cloud: &AzureCloud,
        credential: Arc<dyn TokenCredential>,
        transport: &TransportOptions,
        options: ArmOptions,
    ) -> Result<Self, crate::transport::TransportError> {
        let auth: Arc<dyn Policy> = Arc::new(BearerTokenAuthorizationPolicy::new(
            credential,
            [cloud.resource_manager_scope()],
        ));
        let client_options = ClientOptions {
            transport: Some(azure_transport(transport)?),
            retry: RetryOptions::exponential(ExponentialRetryOptions {
                initial_delay: options.initial_retry_delay.try_into().unwrap_or_default(),
                max_retries: options.max_retries,
                max_delay: options.max_poll_interval.try_into().unwrap_or_default(),
                ..Default::default()
            }),
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
            endpoint: cloud.resource_manager.clone(),
            options,
            writes: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Mutating requests sent so far (PUT, PATCH, DELETE, POST), polls excluded.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    fn url(&self, id: &ResourceId) -> Result<Url, ArmError> {
        let resource_type = id.resource_type();
        let version =
            api_versions::for_type(&resource_type).ok_or_else(|| ArmError::UnknownType {
                id: id.to_string(),
                resource_type,
            })?;
        let mut url = self.endpoint.clone();
        url.set_path(id.as_str());
        url.query_pairs_mut().append_pair("api-version", version);
        Ok(url)
    }

    async fn send(
        &self,
        method: Method,
        label: &'static str,
        id: &ResourceId,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Reply, ArmError> {
        let mut request = Request::new(url, method);
        if let Some(body) = body {
            request.set_json(body).map_err(|e| ArmError::Decode {
                method: label,
                id: id.to_string(),
                message: e.to_string(),
            })?;
        }
        let response = self
            .pipeline
            .send(
                &Context::new(),
                &mut request,
                Some(PipelineSendOptions {
                    skip_checks: true,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| ArmError::Transport {
                method: label,
                id: id.to_string(),
                message: error::describe(&e),
            })?;
        let (status, headers, body) = response.deconstruct();
        let status = u16::from(status);
        debug!(method = label, %id, status, "arm");
        Ok(Reply {
            status,
            headers,
            body: body.to_vec(),
        })
    }

    fn api_error(label: &'static str, id: &ResourceId, reply: &Reply) -> ArmError {
        ArmError::Api {
            method: label,
            id: id.to_string(),
            status: reply.status,
            error: Box::new(error::parse_error_body(reply.status, &reply.body)),
        }
    }

    /// Reads a resource; `None` when it does not exist.
    pub async fn get(&self, id: &ResourceId) -> Result<Option<Value>, ArmError> {
        let reply = self
            .send(Method::Get, "GET", id, self.url(id)?, None)
            .await?;
        match reply.status {
            200 => reply.json().map(Some).ok_or_else(|| ArmError::Decode {
                method: "GET",
                id: id.to_string(),
                message: "200 without a JSON body".into(),
            }),
            404 => Ok(None),
            _ => Err(Self::api_error("GET", id, &reply)),
        }
    }

    /// Creates or replaces a resource and waits until ARM reports it provisioned; returns
    /// the resource as ARM then reads it.
    pub async fn put(&self, id: &ResourceId, body: &Value) -> Result<Value, ArmError> {
        self.write(Method::Put, "PUT", id, body).await
    }

    /// Updates part of a resource (tags, some properties) and waits for it.
    pub async fn patch(&self, id: &ResourceId, body: &Value) -> Result<Value, ArmError> {
        self.write(Method::Patch, "PATCH", id, body).await
    }

    async fn write(
        &self,
        method: Method,
        label: &'static str,
        id: &ResourceId,
        body: &Value,
    ) -> Result<Value, ArmError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        info!(method = label, %id, "arm write");
        let reply = self
            .send(method, label, id, self.url(id)?, Some(body))
            .await?;
        if !(200..300).contains(&reply.status) {
            return Err(Self::api_error(label, id, &reply));
        }
        let json = reply.json();
        match lro::started(
            reply.status,
            reply.header(&AZURE_ASYNC_OPERATION).as_deref(),
            reply.header(&LOCATION).as_deref(),
            json.as_ref(),
        ) {
            Started::Failed(state, error) => {
                return Err(ArmError::OperationFailed {
                    method: label,
                    id: id.to_string(),
                    state,
                    error: Box::new(error),
                });
            }
            Started::Poll(target) => {
                self.wait(label, id, target, retry_after(&reply)).await?;
            }
            Started::Done => {
                if let Some(json) = json.filter(|j| j.get("id").is_some()) {
                    return Ok(json);
                }
            }
        }
        self.get(id).await?.ok_or_else(|| ArmError::Decode {
            method: label,
            id: id.to_string(),
            message: "the resource is absent right after a successful write".into(),
        })
    }

    /// Deletes a resource and waits until it is gone. Absent already is success.
    pub async fn delete(&self, id: &ResourceId) -> Result<(), ArmError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        info!(%id, "arm delete");
        let reply = self
            .send(Method::Delete, "DELETE", id, self.url(id)?, None)
            .await?;
        match reply.status {
            404 | 204 => Ok(()),
            200..300 => {
                let json = reply.json();
                match lro::started(
                    reply.status,
                    reply.header(&AZURE_ASYNC_OPERATION).as_deref(),
                    reply.header(&LOCATION).as_deref(),
                    json.as_ref(),
                ) {
                    Started::Done => Ok(()),
                    Started::Failed(state, error) => Err(ArmError::OperationFailed {
                        method: "DELETE",
                        id: id.to_string(),
                        state,
                        error: Box::new(error),
                    }),
                    Started::Poll(PollTarget::Resource) => {
                        self.wait_gone(id, retry_after(&reply)).await
                    }
                    Started::Poll(target) => {
                        self.wait("DELETE", id, target, retry_after(&reply)).await
                    }
                }
            }
            _ => Err(Self::api_error("DELETE", id, &reply)),
        }
    }

    /// Runs a resource action (`POST {id}/{action}`, e.g. a Cosmos DB
    /// `failoverPriorityChange` or a storage account `failover`) and waits for its
    /// long-running operation; returns the resource as ARM then reads it.
    pub async fn post(
        &self,
        id: &ResourceId,
        action: &str,
        body: &Value,
    ) -> Result<Option<Value>, ArmError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        info!(%id, action, "arm action");
        let mut url = self.url(id)?;
        url.set_path(&format!("{}/{action}", id.as_str()));
        let reply = self.send(Method::Post, "POST", id, url, Some(body)).await?;
        if !(200..300).contains(&reply.status) {
            return Err(Self::api_error("POST", id, &reply));
        }
        let async_op = reply.header(&AZURE_ASYNC_OPERATION);
        let location = reply.header(&LOCATION);
        // An action's body is not the resource, so only the polling headers count.
        let target = match (async_op, location) {
            (Some(u), _) => Some(PollTarget::AsyncOperation(u)),
            (None, Some(u)) => Some(PollTarget::Location(u)),
            (None, None) => None,
        };
        if let Some(target) = target {
            self.wait("POST", id, target, retry_after(&reply)).await?;
        }
        self.get(id).await
    }

    fn delay(&self, server: Option<Duration>) -> Duration {
        server
            .unwrap_or(self.options.poll_interval)
            .min(self.options.max_poll_interval)
    }

    async fn wait(
        &self,
        label: &'static str,
        id: &ResourceId,
        target: PollTarget,
        first_delay: Option<Duration>,
    ) -> Result<(), ArmError> {
        let started = Instant::now();
        let mut delay = self.delay(first_delay);
        loop {
            tokio::time::sleep(delay).await;
            let (state, next) = match &target {
                PollTarget::AsyncOperation(u) | PollTarget::Location(u) => {
                    let url = Url::parse(u).map_err(|e| ArmError::Decode {
                        method: label,
                        id: id.to_string(),
                        message: format!("operation URL: {e}"),
                    })?;
                    let reply = self.send(Method::Get, label, id, url, None).await?;
                    let state = if matches!(target, PollTarget::AsyncOperation(_)) {
                        if reply.status != 200 {
                            return Err(Self::api_error(label, id, &reply));
                        }
                        lro::async_operation_state(&reply.json().unwrap_or(Value::Null))
                    } else {
                        lro::location_state(reply.status, reply.json().as_ref())
                    };
                    (state, retry_after(&reply))
                }
                PollTarget::Resource => {
                    let reply = self
                        .send(Method::Get, label, id, self.url(id)?, None)
                        .await?;
                    if reply.status != 200 {
                        return Err(Self::api_error(label, id, &reply));
                    }
                    (
                        lro::resource_state(&reply.json().unwrap_or(Value::Null)),
                        retry_after(&reply),
                    )
                }
            };
            match state {
                PollState::Succeeded => return Ok(()),
                PollState::Failed(state, error) => {
                    return Err(ArmError::OperationFailed {
                        method: label,
                        id: id.to_string(),
                        state,
                        error: Box::new(error),
                    });
                }
                PollState::Running(state) => {
                    if started.elapsed() >= self.options.operation_timeout {
                        return Err(ArmError::Timeout {
                            method: label,
                            id: id.to_string(),
                            state,
                            seconds: self.options.operation_timeout.as_secs(),
                        });
                    }
                    debug!(method = label, %id, state, "operation running");
                }
            }
            delay = self.delay(next);
        }
    }

    async fn wait_gone(&self, id: &ResourceId, first: Option<Duration>) -> Result<(), ArmError> {
        let started = Instant::now();
        let mut delay = self.delay(first);
        loop {
            tokio::time::sleep(delay).await;
            let Some(body) = self.get(id).await? else {
                return Ok(());
            };
            if started.elapsed() >= self.options.operation_timeout {
                return Err(ArmError::Timeout {
                    method: "DELETE",
                    id: id.to_string(),
                    state: lro::provisioning_state(&body)
                        .unwrap_or("Deleting")
                        .to_string(),
                    seconds: self.options.operation_timeout.as_secs(),
                });
            }
            delay = self.delay(None);
        }
    }
}

fn retry_after(reply: &Reply) -> Option<Duration> {
    reply
        .header(&RETRY_AFTER)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}
