//! The bots façade: TradingBots (and the Strategy catalogue) read and written through the
//! Kubernetes API, so GitOps, kubectl and the API see one truth. Writes are server-side
//! apply under the API's field manager with strict field validation: a bad bot is refused
//! by the API server (its schema and CEL rules), and its message is passed on.
//!
//! Reads of bots are served from memory: one watch of the TradingBots ([`BotCache`], a
//! kube-runtime reflector) kept warm by the Kubernetes API's own change stream, so a list
//! costs no round trip. Until its first list has synced, bot reads are refused with a 503.
//! A write answers once the watch has shown it, so the writer's next read has it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api as KubeApi, DeleteParams, ListParams, Patch, PatchParams};
use kube::core::DynamicObject;
use kube::discovery::ApiResource;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tradewind_crds::{Strategy, TradingBot};

use crate::problem::ApiError;
use crate::{Api, Tenancy};

/// How long a write waits for the watch to show it before answering anyway.
const SEEN_WAIT: Duration = Duration::from_secs(5);

/// The TradingBots the API reads, kept by one watch: lists and gets from memory, each
/// account's rendered list cached until the next change.
pub struct BotCache {
    store: Store<TradingBot>,
    writer: Mutex<Option<Writer<TradingBot>>>,
    /// Counts the events the watch has applied to the store.
    changed: tokio::sync::watch::Sender<u64>,
    /// An account's list as JSON, with the `changed` count it was rendered at.
    rendered: Mutex<HashMap<String, (u64, bytes::Bytes)>>,
}

impl Default for BotCache {
    fn default() -> Self {
        let (store, writer) = reflector::store();
        BotCache {
            store,
            writer: Mutex::new(Some(writer)),
            changed: tokio::sync::watch::channel(0).0,
            rendered: Mutex::new(HashMap::new()),
        }
    }
}

impl BotCache {
    /// Starts the watch (the first call only; later calls return `None`): every
    /// namespace's TradingBots under per-account tenancy, the shared namespace's otherwise.
    /// It retries with backoff for as long as the task runs.
    pub fn start(
        self: &Arc<Self>,
        kube: kube::Client,
        tenancy: &Tenancy,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let writer = self.writer.lock().ok()?.take()?;
        let bots: KubeApi<TradingBot> = match tenancy {
            Tenancy::NamespacePerAccount { .. } => KubeApi::all(kube),
            Tenancy::Shared { namespace } => KubeApi::namespaced(kube, namespace),
        };
        let cache = self.clone();
        Some(tokio::spawn(async move {
            let events = watcher(bots, watcher::Config::default())
                .default_backoff()
                .reflect(writer);
            futures::pin_mut!(events);
            while let Some(event) = events.next().await {
                match event {
                    Ok(_) => cache.changed.send_modify(|n| *n += 1),
                    // The backoff retries; the store keeps serving what it last saw.
                    Err(e) => tracing::warn!(error = %e, "api: the TradingBot watch failed"),
                }
            }
        }))
    }

    /// The store, once the first list has synced (waiting at most `wait`); a 503 until
    /// then.
    async fn synced(&self, wait: Duration) -> Result<&Store<TradingBot>, ApiError> {
        match tokio::time::timeout(wait, self.store.wait_until_ready()).await {
            Ok(Ok(())) => Ok(&self.store),
            _ => Err(ApiError::Unavailable(
                "the bot list is not synced with the Kubernetes API yet; retry in a moment".into(),
            )),
        }
    }

    /// Waits (at most `within`) until `done` holds of the store, checked at each change
    /// the watch applies; whether it did.
    pub async fn wait_for(
        &self,
        within: Duration,
        done: impl Fn(&Store<TradingBot>) -> bool,
    ) -> bool {
        let mut changes = self.changed.subscribe();
        tokio::time::timeout(within, async {
            loop {
                if done(&self.store) {
                    return true;
                }
                if changes.changed().await.is_err() {
                    return false;
                }
            }
        })
        .await
        .unwrap_or(false)
    }

    /// Waits until the store no longer holds `before` of `ns/name` (a resource version;
    /// `None`: absent) or holds `after`, i.e. has seen a write.
    async fn seen(&self, ns: &str, name: &str, before: Option<String>, after: Option<String>) {
        let key = ObjectRef::new(name).within(ns);
        let seen = self
            .wait_for(SEEN_WAIT, |store| {
                let now = store
                    .get(&key)
                    .and_then(|b| b.metadata.resource_version.clone());
                now == after || now != before
            })
            .await;
        if !seen {
            tracing::warn!(bot = %format!("{ns}/{name}"), "api: the TradingBot watch has not shown a write yet");
        }
    }
}

/// A TradingBot as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotView {
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its spec, as the TradingBot resource has it.
    #[schema(value_type = Object)]
    pub spec: Value,
    /// Its status as the operator last wrote it, if any.
    #[schema(value_type = Option<Object>)]
    pub status: Option<Value>,
    /// The resource version (changes with every write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

/// A bot to create: a name and a TradingBot spec (its `accountRef` is the account's).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BotCreate {
    /// The name (a DNS label).
    #[schema(max_length = 63, pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    pub name: String,
    /// The TradingBot spec.
    #[schema(value_type = Object)]
    pub spec: Value,
}

/// A bot's new spec (the whole spec: fields the API set before and left out now are
/// removed).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BotUpdate {
    /// The TradingBot spec.
    #[schema(value_type = Object)]
    pub spec: Value,
}

/// A Strategy of the catalogue.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct StrategyView {
    /// Its name (what a bot's `spec.strategyRef.name` names).
    pub name: String,
    /// Its spec.
    #[schema(value_type = Object)]
    pub spec: Value,
}

/// The API's answer for a refusal of the Kubernetes API.
pub fn kube_error(e: kube::Error, what: &str) -> ApiError {
    match e {
        kube::Error::Api(s) => match s.code {
            404 => ApiError::NotFound(format!("no {what}")),
            409 => ApiError::Conflict(s.message),
            // The API server's own validation message (schema, CEL), passed on.
            400 | 422 => ApiError::invalid("spec", s.message),
            code => {
                tracing::warn!(code, message = %s.message, "the Kubernetes API refused the platform");
                ApiError::Unavailable(format!(
                    "the Kubernetes API answered {code} for {what}; retry later"
                ))
            }
        },
        other => {
            tracing::warn!(error = %other, "the Kubernetes API cannot be reached");
            ApiError::Unavailable("the Kubernetes API cannot be reached now; retry later".into())
        }
    }
}

fn view(bot: &TradingBot) -> Result<BotView, ApiError> {
    let value = serde_json::to_value(bot)
        .map_err(|e| ApiError::Unavailable(format!("a TradingBot does not serialize: {e}")))?;
    Ok(BotView {
        name: bot.metadata.name.clone().unwrap_or_default(),
        namespace: bot.metadata.namespace.clone().unwrap_or_default(),
        spec: value.get("spec").cloned().unwrap_or(Value::Null),
        status: value.get("status").cloned(),
        resource_version: bot.metadata.resource_version.clone(),
    })
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if crate::dns_label(name) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "name",
            format!("{name:?} is not a DNS label (lowercase letters, digits, '-', at most 63)"),
        ))
    }
}

/// The spec with the account's `accountRef`; another account named is refused.
fn owned_spec(mut spec: Value, account: &str) -> Result<Value, ApiError> {
    let Some(obj) = spec.as_object_mut() else {
        return Err(ApiError::invalid(
            "spec",
            "must be an object (a TradingBot spec)",
        ));
    };
    if let Some(given) = obj.get("accountRef").and_then(|a| a.get("name"))
        && given.as_str() != Some(account)
    {
        return Err(ApiError::invalid(
            "spec.accountRef.name",
            format!("a bot of account {account:?} trades for it; leave accountRef out or name it"),
        ));
    }
    obj.insert("accountRef".into(), json!({ "name": account }));
    Ok(spec)
}

impl Api {
    fn bots_api(&self, account: &str) -> Result<KubeApi<TradingBot>, ApiError> {
        Ok(KubeApi::namespaced(
            self.kube.clone(),
            &self.config.tenancy.namespace(account)?,
        ))
    }

    /// An account's bots, by name, from the watch's store: those in the account's
    /// namespace whose `accountRef` is the account.
    pub async fn list_bots(&self, account: &str) -> Result<Vec<BotView>, ApiError> {
        let ns = self.config.tenancy.namespace(account)?;
        let store = self.bots.synced(self.config.bot_sync_wait).await?;
        let mut out: Vec<BotView> = store
            .state_filter(|b| {
                b.metadata.namespace.as_deref() == Some(ns.as_str())
                    && b.spec.account_ref.name == account
            })
            .iter()
            .map(|b| view(b))
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// [`Api::list_bots`] as JSON, rendered once per change the watch applies.
    pub async fn list_bots_json(&self, account: &str) -> Result<bytes::Bytes, ApiError> {
        // The count before the read: a change landing during the render makes the next
        // request render again.
        let at = *self.bots.changed.borrow();
        if let Ok(cache) = self.bots.rendered.lock()
            && let Some((n, json)) = cache.get(account)
            && *n == at
        {
            return Ok(json.clone());
        }
        let json =
            bytes::Bytes::from(serde_json::to_vec(&self.list_bots(account).await?).map_err(
                |e| ApiError::Unavailable(format!("a bot list does not serialize: {e}")),
            )?);
        if let Ok(mut cache) = self.bots.rendered.lock() {
            cache.insert(account.to_owned(), (at, json.clone()));
        }
        Ok(json)
    }

    pub(crate) async fn own_bot(&self, account: &str, name: &str) -> Result<TradingBot, ApiError> {
        let missing = || ApiError::NotFound(format!("no bot {name:?} in account {account:?}"));
        check_name(name).map_err(|_| missing())?;
        let bot = self
            .bots_api(account)?
            .get_opt(name)
            .await
            .map_err(|e| kube_error(e, "TradingBot"))?
            .ok_or_else(missing)?;
        // Shared tenancy: another account's bot in the namespace is not this one's.
        if bot.spec.account_ref.name != account {
            return Err(missing());
        }
        Ok(bot)
    }

    /// One bot of an account, from the watch's store.
    pub async fn get_bot(&self, account: &str, name: &str) -> Result<BotView, ApiError> {
        let missing = || ApiError::NotFound(format!("no bot {name:?} in account {account:?}"));
        let ns = self.config.tenancy.namespace(account)?;
        let bot = self
            .bots
            .synced(self.config.bot_sync_wait)
            .await?
            .get(&ObjectRef::new(name).within(&ns))
            .filter(|b| b.spec.account_ref.name == account)
            .ok_or_else(missing)?;
        view(&bot)
    }

    /// Applies a bot's spec; answers once the watch has shown the write (`before`: the
    /// resource version the bot had, `None` when new).
    async fn apply(
        &self,
        account: &str,
        name: &str,
        spec: Value,
        before: Option<String>,
    ) -> Result<BotView, ApiError> {
        let ns = self.config.tenancy.namespace(account)?;
        let body = json!({
            "apiVersion": "tradewind.dev/v1alpha1",
            "kind": "TradingBot",
            "metadata": { "name": name, "namespace": ns },
            "spec": spec,
        });
        let params = PatchParams::apply(&self.config.field_manager).validation_strict();
        let bot = self
            .bots_api(account)?
            .patch(name, &params, &Patch::Apply(&body))
            .await
            .map_err(|e| kube_error(e, "TradingBot"))?;
        self.bots
            .seen(&ns, name, before, bot.metadata.resource_version.clone())
            .await;
        view(&bot)
    }

    /// Creates a bot (its namespace too, under per-account tenancy). An existing name is
    /// a conflict.
    pub async fn create_bot(&self, account: &str, req: BotCreate) -> Result<BotView, ApiError> {
        check_name(&req.name)?;
        let spec = owned_spec(req.spec, account)?;
        if self
            .bots_api(account)?
            .get_opt(&req.name)
            .await
            .map_err(|e| kube_error(e, "TradingBot"))?
            .is_some()
        {
            return Err(ApiError::Conflict(format!(
                "bot {:?} exists already in account {account:?}",
                req.name
            )));
        }
        if let crate::Tenancy::NamespacePerAccount { .. } = &self.config.tenancy {
            let ns = self.config.tenancy.namespace(account)?;
            let namespaces: KubeApi<DynamicObject> = KubeApi::all_with(
                self.kube.clone(),
                &ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&()),
            );
            let body = json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": { "name": ns, "labels": { "tradewind.dev/account": account } },
            });
            namespaces
                .patch(
                    &ns,
                    &PatchParams::apply(&self.config.field_manager),
                    &Patch::Apply(&body),
                )
                .await
                .map_err(|e| kube_error(e, "Namespace"))?;
        }
        self.apply(account, &req.name, spec, None).await
    }

    /// Replaces a bot's spec (as the API's field manager: fields another manager owns
    /// and this spec changes are a conflict, named by the API server).
    pub async fn update_bot(
        &self,
        account: &str,
        name: &str,
        req: BotUpdate,
    ) -> Result<BotView, ApiError> {
        let before = self.own_bot(account, name).await?.metadata.resource_version;
        let spec = owned_spec(req.spec, account)?;
        self.apply(account, name, spec, before).await
    }

    /// Sets `spec.suspend` (its own field manager, so the spec the API applied is kept).
    pub async fn set_suspended(
        &self,
        account: &str,
        name: &str,
        suspend: bool,
    ) -> Result<BotView, ApiError> {
        let before = self.own_bot(account, name).await?.metadata.resource_version;
        let manager = format!("{}-suspend", self.config.field_manager);
        let body = json!({
            "apiVersion": "tradewind.dev/v1alpha1",
            "kind": "TradingBot",
            "metadata": { "name": name },
            "spec": { "suspend": suspend },
        });
        let bot = self
            .bots_api(account)?
            .patch(
                name,
                &PatchParams::apply(&manager).force(),
                &Patch::Apply(&body),
            )
            .await
            .map_err(|e| kube_error(e, "TradingBot"))?;
        let ns = self.config.tenancy.namespace(account)?;
        self.bots
            .seen(&ns, name, before, bot.metadata.resource_version.clone())
            .await;
        view(&bot)
    }

    /// Deletes a bot.
    pub async fn delete_bot(&self, account: &str, name: &str) -> Result<(), ApiError> {
        let before = self.own_bot(account, name).await?.metadata.resource_version;
        self.bots_api(account)?
            .delete(name, &DeleteParams::default())
            .await
            .map_err(|e| kube_error(e, "TradingBot"))?;
        let ns = self.config.tenancy.namespace(account)?;
        self.bots.seen(&ns, name, before, None).await;
        Ok(())
    }

    /// The Kubernetes Events about an account's bot, newest first: `time`, `type`,
    /// `reason` and `message` of each.
    pub async fn bot_events(&self, account: &str, name: &str) -> Result<Vec<Value>, ApiError> {
        use k8s_openapi::api::core::v1::Event;
        let ns = self.config.tenancy.namespace(account)?;
        let list = KubeApi::<Event>::namespaced(self.kube.clone(), &ns)
            .list(&ListParams::default().fields(&format!(
                "involvedObject.kind=TradingBot,involvedObject.name={name}"
            )))
            .await
            .map_err(|e| kube_error(e, "Events"))?;
        let mut out: Vec<(String, Value)> = list
            .items
            .into_iter()
            // The field selector is the server's; checked again for servers that ignore it.
            .filter(|e| e.involved_object.name.as_deref() == Some(name))
            .map(|e| {
                let time = e
                    .last_timestamp
                    .map(|t| t.0.to_string())
                    .or_else(|| e.event_time.map(|t| t.0.to_string()))
                    .unwrap_or_default();
                (
                    time.clone(),
                    json!({"time": time, "type": e.type_, "reason": e.reason, "message": e.message}),
                )
            })
            .collect();
        out.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(out.into_iter().map(|(_, v)| v).take(50).collect())
    }

    /// The Strategies an account's bots may name (those in its namespace), by name.
    pub async fn strategies(&self, account: &str) -> Result<Vec<StrategyView>, ApiError> {
        let ns = self.config.tenancy.namespace(account)?;
        let list = KubeApi::<Strategy>::namespaced(self.kube.clone(), &ns)
            .list(&ListParams::default())
            .await
            .map_err(|e| kube_error(e, "Strategies"))?;
        let mut out = list
            .items
            .iter()
            .map(|s| {
                Ok(StrategyView {
                    name: s.metadata.name.clone().unwrap_or_default(),
                    spec: serde_json::to_value(&s.spec).map_err(|e| {
                        ApiError::Unavailable(format!("a Strategy does not serialize: {e}"))
                    })?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_is_the_callers_and_another_is_refused() {
        let s = owned_spec(json!({"mode": "Paper"}), "acme").unwrap();
        assert_eq!(s["accountRef"]["name"], "acme");
        let e = owned_spec(json!({"accountRef": {"name": "evil"}}), "acme").unwrap_err();
        assert_eq!(e.problem().field.as_deref(), Some("spec.accountRef.name"));
        assert!(owned_spec(json!([1]), "acme").is_err());
    }
}
