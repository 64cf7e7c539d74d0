//! Everything the fake remembers: configuration, ARM resources, long-running operations,
//! issued tokens, Key Vault secrets, Service Bus queues, the request log and faults.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::Value;

/// Tenant of the default registered client.
pub const DEFAULT_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// Client id of the default registered client.
pub const DEFAULT_CLIENT_ID: &str = "8a0c1d2e-3f40-4b5c-9d6e-7f8091a2b3c4";
/// Secret of the default registered client.
pub const DEFAULT_CLIENT_SECRET: &str = "tradewind-fake-client-secret";

/// An application registered with the fake Entra ID.
#[derive(Clone, Debug)]
pub struct Client {
    /// Directory (tenant) id.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// Client secret; client assertions (workload identity) are accepted for any client.
    pub secret: String,
}

/// Tunables of a fake instance.
#[derive(Clone, Debug)]
pub struct FakeConfig {
    /// Registered applications (the token endpoint accepts only these).
    pub clients: Vec<Client>,
    /// Status polls answering `InProgress` before a long-running operation ends.
    pub lro_polls: u32,
    /// `Retry-After` seconds on long-running operation responses and polls.
    pub retry_after_secs: u64,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            clients: vec![Client {
                tenant: DEFAULT_TENANT.into(),
                client_id: DEFAULT_CLIENT_ID.into(),
                secret: DEFAULT_CLIENT_SECRET.into(),
            }],
            lro_polls: 2,
            retry_after_secs: 0,
        }
    }
}

/// One request as the fake saw it (no bodies, no tokens).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Host without port, lower-case.
    pub host: String,
    /// Path (no query).
    pub path: String,
    /// The `api-version` query parameter, if any.
    pub api_version: Option<String>,
}

/// Which service a token was issued for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Audience {
    Management,
    Vault,
    ServiceBus,
    Other,
}

#[derive(Clone, Debug)]
pub(crate) struct TokenInfo {
    pub audience: Audience,
    /// The audience as requested (the scope without `/.default`).
    pub aud: String,
}

/// A stored ARM resource.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    /// Canonical id, original name casing.
    pub id: String,
    /// Lower-case full type, e.g. `microsoft.storage/storageaccounts`.
    pub type_key: String,
    /// The body served on GET.
    pub body: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    Put,
    Delete,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpStatus {
    InProgress,
    Succeeded,
    Failed,
}

/// A long-running operation.
#[derive(Clone, Debug)]
pub(crate) struct Operation {
    pub resource_key: String,
    pub resource_id: String,
    pub kind: OpKind,
    pub polls: u32,
    pub failure: Option<(String, String)>,
    pub status: OpStatus,
    pub start: String,
    pub end: Option<String>,
}

/// One version of a Key Vault secret.
#[derive(Clone, Debug)]
pub(crate) struct SecretVersion {
    pub version: String,
    pub value: String,
    pub content_type: Option<String>,
    pub tags: Option<Value>,
    pub enabled: bool,
    pub created: i64,
    pub updated: i64,
}

/// A secret (all versions) and its soft-delete state.
#[derive(Clone, Debug)]
pub(crate) struct Secret {
    pub name: String,
    pub versions: Vec<SecretVersion>,
    /// (deletedDate, scheduledPurgeDate) while soft-deleted.
    pub deleted: Option<(i64, i64)>,
}

/// A message waiting in a Service Bus subscription.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub broker: serde_json::Map<String, Value>,
    pub user: serde_json::Map<String, Value>,
    pub sequence: u64,
    pub enqueued: String,
}

/// Injected failure of the next long-running operation on a matching resource.
#[derive(Clone, Debug)]
pub(crate) struct OpFailure {
    pub id_contains: String,
    pub code: String,
    pub message: String,
}

/// All mutable state, behind one lock.
#[derive(Debug)]
pub(crate) struct State {
    pub config: FakeConfig,
    pub port: u16,
    pub resources: BTreeMap<String, Stored>,
    pub ops: HashMap<String, Operation>,
    pub tokens: HashMap<String, TokenInfo>,
    /// Secrets per lower-case vault name, keyed by lower-case secret name.
    pub secrets: HashMap<String, BTreeMap<String, Secret>>,
    /// Messages per `ns/topic/subscription` (lower-case).
    pub queues: HashMap<String, VecDeque<Message>>,
    pub sequence: u64,
    pub log: Vec<RequestRecord>,
    pub writes: u64,
    pub throttle: Option<(u32, u64)>,
    pub failures: VecDeque<(u16, u32)>,
    pub op_failures: Vec<OpFailure>,
    pub holds: Vec<String>,
}

impl State {
    pub fn new(config: FakeConfig, port: u16) -> Self {
        Self {
            config,
            port,
            resources: BTreeMap::new(),
            ops: HashMap::new(),
            tokens: HashMap::new(),
            secrets: HashMap::new(),
            queues: HashMap::new(),
            sequence: 0,
            log: Vec::new(),
            writes: 0,
            throttle: None,
            failures: VecDeque::new(),
            op_failures: Vec::new(),
            holds: Vec::new(),
        }
    }

    /// Tenant reported in server-computed fields (the first registered client's).
    pub fn tenant(&self) -> String {
        self.config
            .clients
            .first()
            .map(|c| c.tenant.clone())
            .unwrap_or_else(|| DEFAULT_TENANT.to_owned())
    }

    /// Whether long-running operations on `id` are held.
    pub fn held(&self, id: &str) -> bool {
        let id = id.to_ascii_lowercase();
        self.holds
            .iter()
            .any(|h| id.contains(&h.to_ascii_lowercase()))
    }

    /// Finds a top-level resource of `type_key` by name (case-insensitive).
    pub fn find_by_name(&self, type_key: &str, name: &str) -> Option<&Stored> {
        self.resources.values().find(|r| {
            r.type_key == type_key
                && r.id
                    .rsplit('/')
                    .next()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    /// Removes a resource and everything under it, with the data-plane state hanging
    /// off it (secrets of a vault, messages of a namespace/topic/subscription).
    pub fn remove_tree(&mut self, key: &str) {
        let prefix = format!("{key}/");
        let doomed: Vec<String> = self
            .resources
            .keys()
            .filter(|k| *k == key || k.starts_with(&prefix))
            .cloned()
            .collect();
        for k in doomed {
            if let Some(r) = self.resources.remove(&k) {
                let name = r.id.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
                match r.type_key.as_str() {
                    "microsoft.keyvault/vaults" => {
                        self.secrets.remove(&name);
                    }
                    "microsoft.servicebus/namespaces" => {
                        self.queues
                            .retain(|q, _| !q.starts_with(&format!("{name}/")));
                    }
                    "microsoft.servicebus/namespaces/topics/subscriptions" => {
                        if let Some(q) = sb_queue_key(&r.id) {
                            self.queues.remove(&q);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// `ns/topic/sub` (lower-case) of a Service Bus subscription id.
pub(crate) fn sb_queue_key(id: &str) -> Option<String> {
    let segs: Vec<&str> = id.split('/').filter(|s| !s.is_empty()).collect();
    let n = segs.len();
    if n < 6 {
        return None;
    }
    Some(format!("{}/{}/{}", segs[n - 5], segs[n - 3], segs[n - 1]).to_ascii_lowercase())
}
