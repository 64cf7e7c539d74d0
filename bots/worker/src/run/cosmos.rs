//! The Cosmos DB store: the journal's batches as items of the bot's container.
//!
//! One item per batch — `{ "id": "journal-{seq:020}", "stream", "seq", "records" }` in
//! the partition `stream` (the container's partition key path is `/stream`) — so a batch
//! is stored whole or not at all. Items are created, never upserted: a `409 Conflict`
//! means another writer already wrote that sequence number, and the append is refused
//! (two workers can never both extend one journal). On open, the stream's items are read
//! in `seq` order, page by page, and a missing sequence number is an error.
//!
//! The SDK (`azure_data_cosmos` 1.0) builds its own reqwest client, which has neither our
//! trust roots, nor our `*.localhost` resolution, nor the `ring` provider; its driver's
//! HTTP client factory hook (`__internal_mocking`, pinned to `=1.0.0`) is how our
//! transport ([`tradewind_provisioner::transport::http_client`]) goes in instead.

// The runtime wires this in next to the file journal; until then nothing calls it.
#![allow(dead_code)]

use std::marker::PhantomData;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_data_cosmos::clients::ContainerClient;
use azure_data_cosmos::feed::FeedScope;
use azure_data_cosmos::{
    AccountEndpoint, AccountReference, CosmosClientBuilder, CosmosRuntimeBuilder, Query,
    RoutingStrategy,
};
use azure_data_cosmos_driver::CosmosDriverRuntimeBuilder;
use azure_data_cosmos_driver::diagnostics::RequestSentStatus;
use azure_data_cosmos_driver::error::status_codes;
use azure_data_cosmos_driver::test::{
    ConnectionPoolOptions, HttpClientConfig, HttpClientFactory, HttpRequest, HttpResponse,
    TransportClient, TransportError,
};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tradewind_provisioner::transport::{TransportOptions, http_client};

/// Where the journal lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosmosConfig {
    /// The account's document endpoint, `https://{account}.documents.azure.com:443/`.
    pub endpoint: String,
    /// The database.
    pub database: String,
    /// The bot's container (partition key path `/stream`).
    pub container: String,
    /// The partition key value of this journal's items, e.g. `journal`.
    pub stream: String,
}

/// What went wrong with the Cosmos DB journal. Never carries a token.
#[derive(Debug, thiserror::Error)]
pub enum CosmosError {
    /// The client could not be built (endpoint, transport).
    #[error("cosmos journal {container}: cannot build the client: {cause}")]
    Client {
        /// `{database}/{container}`.
        container: String,
        /// Why.
        cause: String,
    },
    /// A request failed (after the SDK's retries).
    #[error("cosmos journal {container}: {op} failed: {cause}")]
    Request {
        /// `{database}/{container}`.
        container: String,
        /// What was being done.
        op: &'static str,
        /// The SDK's error.
        cause: String,
    },
    /// The item for this sequence number already exists: another writer owns the journal.
    #[error(
        "cosmos journal {container}: batch seq {seq} of stream {stream:?} already exists \
         (409 Conflict): another writer is appending to this journal"
    )]
    Conflict {
        /// `{database}/{container}`.
        container: String,
        /// The stream (partition key value).
        stream: String,
        /// The sequence number that was taken.
        seq: u64,
    },
    /// The stored batches skip a sequence number.
    #[error("cosmos journal {container}: stream {stream:?} is missing batch seq {missing}")]
    Gap {
        /// `{database}/{container}`.
        container: String,
        /// The stream (partition key value).
        stream: String,
        /// The first missing sequence number.
        missing: u64,
    },
    /// A batch could not be encoded or a stored item decoded.
    #[error("cosmos journal {container}: {cause}")]
    Codec {
        /// `{database}/{container}`.
        container: String,
        /// Why.
        cause: String,
    },
}

/// One stored batch.
#[derive(Debug, Deserialize)]
struct StoredItem<R> {
    seq: u64,
    records: Vec<R>,
}

/// One batch to store.
#[derive(Serialize)]
struct NewItem<'a, R> {
    id: String,
    stream: &'a str,
    seq: u64,
    records: &'a [R],
}

/// Our reqwest client as the driver's transport.
#[derive(Debug)]
struct Factory {
    client: reqwest::Client,
}

impl HttpClientFactory for Factory {
    fn build(
        &self,
        _pool: &ConnectionPoolOptions,
        _config: HttpClientConfig,
    ) -> azure_data_cosmos_driver::Result<Arc<dyn TransportClient>> {
        Ok(Arc::new(Transport {
            client: self.client.clone(),
        }))
    }
}

/// Sends the driver's requests through our client.
#[derive(Debug)]
struct Transport {
    client: reqwest::Client,
}

#[async_trait::async_trait]
impl TransportClient for Transport {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes())
            .unwrap_or(reqwest::Method::GET);
        let mut builder = self.client.request(method, request.url.as_str());
        for (name, value) in request.headers.iter() {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        if let Some(timeout) = request.timeout {
            builder = builder.timeout(timeout);
        }
        let response = builder.send().await.map_err(|e| {
            let (status, sent) = if e.is_connect() {
                (
                    status_codes::TRANSPORT_CONNECTION_FAILED,
                    RequestSentStatus::NotSent,
                )
            } else {
                (
                    status_codes::TRANSPORT_IO_FAILED,
                    RequestSentStatus::Unknown,
                )
            };
            TransportError::new(
                azure_data_cosmos_driver::CosmosError::builder()
                    .with_status(status)
                    .with_message(e.to_string())
                    .build(),
                sent,
            )
        })?;
        let status = response.status().as_u16();
        let mut headers = azure_core::http::headers::Headers::new();
        for (name, value) in response.headers() {
            if let Ok(v) = value.to_str() {
                headers.insert(name.as_str().to_owned(), v.to_owned());
            }
        }
        let body = response.bytes().await.map_err(|e| {
            TransportError::new(
                azure_data_cosmos_driver::CosmosError::builder()
                    .with_status(status_codes::TRANSPORT_BODY_READ_FAILED)
                    .with_message(e.to_string())
                    .build(),
                RequestSentStatus::Sent,
            )
        })?;
        Ok(HttpResponse {
            status,
            headers,
            body: body.to_vec(),
        })
    }
}

/// An open Cosmos DB journal of `R` records.
pub struct CosmosJournal<R> {
    container: ContainerClient,
    /// `{database}/{container}`, for errors.
    name: String,
    stream: String,
    next_seq: u64,
    records: u64,
    _records: PhantomData<fn(R) -> R>,
}

impl<R> std::fmt::Debug for CosmosJournal<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CosmosJournal")
            .field("container", &self.name)
            .field("stream", &self.stream)
            .field("next_seq", &self.next_seq)
            .field("records", &self.records)
            .finish()
    }
}

/// The SDK's error as a cause: its display, which carries status and message, not headers.
fn cause(e: &azure_data_cosmos::CosmosError) -> String {
    e.to_string()
}

impl<R: Serialize + DeserializeOwned + Send + 'static> CosmosJournal<R> {
    /// Connects, reads every stored batch of the stream in order, and returns the journal
    /// positioned after them with their records.
    pub async fn open(
        config: CosmosConfig,
        credential: Arc<dyn TokenCredential>,
        transport: &TransportOptions,
    ) -> Result<(Self, Vec<R>), CosmosError> {
        let name = format!("{}/{}", config.database, config.container);
        let client_err = |cause: String| CosmosError::Client {
            container: name.clone(),
            cause,
        };
        let http = http_client(transport).map_err(|e| client_err(e.to_string()))?;
        let endpoint: AccountEndpoint = config
            .endpoint
            .parse()
            .map_err(|e: azure_data_cosmos::CosmosError| client_err(cause(&e)))?;
        let runtime = CosmosRuntimeBuilder::from(
            CosmosDriverRuntimeBuilder::new()
                .with_mock_http_client_factory(Arc::new(Factory { client: http })),
        )
        .build()
        .await
        .map_err(|e| client_err(cause(&e)))?;
        let client = CosmosClientBuilder::new()
            .with_runtime(runtime)
            .build(
                AccountReference::with_credential(endpoint, credential),
                RoutingStrategy::PreferredRegions(Vec::new()),
            )
            .await
            .map_err(|e| client_err(cause(&e)))?;
        let container = client
            .database_client(config.database.as_str())
            .container_client(config.container.as_str(), None)
            .await
            .map_err(|e| CosmosError::Request {
                container: name.clone(),
                op: "opening the container",
                cause: cause(&e),
            })?;

        let query = Query::from("SELECT * FROM c WHERE c.stream = @stream ORDER BY c.seq")
            .with_parameter("@stream", &config.stream)
            .map_err(|e| client_err(cause(&e)))?;
        let read_err = |e: azure_data_cosmos::CosmosError| CosmosError::Request {
            container: name.clone(),
            op: "reading the journal",
            cause: cause(&e),
        };
        let mut pages = container
            .query_items::<StoredItem<R>>(query, FeedScope::partition(config.stream.clone()), None)
            .await
            .map_err(read_err)?
            .into_pages();
        let mut out = Vec::new();
        let mut next_seq = 0u64;
        while let Some(page) = pages.next().await {
            for item in page.map_err(read_err)?.into_items() {
                if item.seq != next_seq {
                    return Err(CosmosError::Gap {
                        container: name,
                        stream: config.stream,
                        missing: next_seq,
                    });
                }
                next_seq += 1;
                out.extend(item.records);
            }
        }
        let journal = Self {
            container,
            name,
            stream: config.stream,
            next_seq,
            records: out.len() as u64,
            _records: PhantomData,
        };
        Ok((journal, out))
    }

    /// Stores `batch` as one item (atomic). A conflict means another writer.
    pub async fn append(&mut self, batch: &[R]) -> Result<(), CosmosError> {
        let seq = self.next_seq;
        let id = format!("journal-{seq:020}");
        let item = NewItem {
            id: id.clone(),
            stream: &self.stream,
            seq,
            records: batch,
        };
        let value = serde_json::to_value(&item).map_err(|e| CosmosError::Codec {
            container: self.name.clone(),
            cause: format!("cannot encode batch seq {seq}: {e}"),
        })?;
        match self
            .container
            .create_item(self.stream.clone(), &id, value, None)
            .await
        {
            Ok(_) => {
                self.next_seq += 1;
                self.records += batch.len() as u64;
                Ok(())
            }
            Err(e) if e.status().is_conflict() => Err(CosmosError::Conflict {
                container: self.name.clone(),
                stream: self.stream.clone(),
                seq,
            }),
            Err(e) => Err(CosmosError::Request {
                container: self.name.clone(),
                op: "appending a batch",
                cause: cause(&e),
            }),
        }
    }

    /// Records (not items) stored so far, recovered ones included.
    pub fn records(&self) -> u64 {
        self.records
    }
}
