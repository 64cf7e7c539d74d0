//! The bots façade: TradingBots (and the Strategy catalogue) read and written through the
//! Kubernetes API, so GitOps, kubectl and the API see one truth. Writes are server-side
//! apply under the API's field manager with strict field validation: a bad bot is refused
//! by the API server (its schema and CEL rules), and its message is passed on.

use kube::api::{Api as KubeApi, DeleteParams, ListParams, Patch, PatchParams};
use kube::core::DynamicObject;
use kube::discovery::ApiResource;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tradewind_crds::{Strategy, TradingBot};

use crate::Api;
use crate::problem::ApiError;

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
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
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

    /// An account's bots, by name.
    pub async fn list_bots(&self, account: &str) -> Result<Vec<BotView>, ApiError> {
        let list = self
            .bots_api(account)?
            .list(&ListParams::default())
            .await
            .map_err(|e| kube_error(e, "TradingBots"))?;
        let mut out: Vec<BotView> = list
            .items
            .iter()
            .filter(|b| b.spec.account_ref.name == account)
            .map(view)
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn own_bot(&self, account: &str, name: &str) -> Result<TradingBot, ApiError> {
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

    /// One bot of an account.
    pub async fn get_bot(&self, account: &str, name: &str) -> Result<BotView, ApiError> {
        view(&self.own_bot(account, name).await?)
    }

    async fn apply(
        &self,
        account: &str,
        name: &str,
        spec: Value,
        manager: &str,
        force: bool,
    ) -> Result<BotView, ApiError> {
        let ns = self.config.tenancy.namespace(account)?;
        let body = json!({
            "apiVersion": "tradewind.dev/v1alpha1",
            "kind": "TradingBot",
            "metadata": { "name": name, "namespace": ns },
            "spec": spec,
        });
        let mut params = PatchParams::apply(manager).validation_strict();
        if force {
            params = params.force();
        }
        let bot = self
            .bots_api(account)?
            .patch(name, &params, &Patch::Apply(&body))
            .await
            .map_err(|e| kube_error(e, "TradingBot"))?;
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
        self.apply(account, &req.name, spec, &self.config.field_manager, false)
            .await
    }

    /// Replaces a bot's spec (as the API's field manager: fields another manager owns
    /// and this spec changes are a conflict, named by the API server).
    pub async fn update_bot(
        &self,
        account: &str,
        name: &str,
        req: BotUpdate,
    ) -> Result<BotView, ApiError> {
        self.own_bot(account, name).await?;
        let spec = owned_spec(req.spec, account)?;
        self.apply(account, name, spec, &self.config.field_manager, false)
            .await
    }

    /// Sets `spec.suspend` (its own field manager, so the spec the API applied is kept).
    pub async fn set_suspended(
        &self,
        account: &str,
        name: &str,
        suspend: bool,
    ) -> Result<BotView, ApiError> {
        self.own_bot(account, name).await?;
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
        view(&bot)
    }

    /// Deletes a bot.
    pub async fn delete_bot(&self, account: &str, name: &str) -> Result<(), ApiError> {
        self.own_bot(account, name).await?;
        self.bots_api(account)?
            .delete(name, &DeleteParams::default())
            .await
            .map_err(|e| kube_error(e, "TradingBot"))?;
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
