//! `twctl env failover`: moves the environment's data services to the other region. The
//! plan is pure (from the spec and what ARM holds); [`run`] is the thin shell that sends it.
//!
//! - Cosmos DB: a failover-priority change makes the secondary the write region
//!   (`--back` moves it back).
//! - Storage: a customer-initiated account failover to the secondary; afterwards the
//!   account is locally redundant there and the next `apply` makes it geo-redundant again.
//! - PostgreSQL: a geo-restore of the latest geo-redundant backup into a new server
//!   `{server}-{secondary}` in the secondary region; the Helm values must then point the
//!   ledger at it.
//! - Key Vault needs nothing: Microsoft fails a vault over to its pair itself (read-only
//!   while it does).

use serde::Serialize;
use serde_json::{Value, json};
use tradewind_azure::arm::{ArmClient, ArmError, ResourceId};

use super::resources::Ids;
use super::spec::Environment;

/// What one step does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum FailoverAction {
    /// `POST {account}/failoverPriorityChange`.
    CosmosPriorityChange {
        /// The region that becomes the write region.
        new_write_region: String,
        /// The request body.
        body: Value,
    },
    /// `POST {account}/failover`.
    StorageFailover,
    /// `PUT` a new server restored from the geo-redundant backup.
    PostgresGeoRestore {
        /// The new server.
        target: String,
        /// The request body.
        body: Value,
    },
}

/// One step of a failover.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailoverStep {
    /// The resource acted on.
    pub id: String,
    /// What is done.
    pub action: FailoverAction,
}

/// Why a failover cannot be planned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FailoverError {
    /// The spec has no secondary region.
    #[error("spec.disasterRecovery is not set: this environment has no secondary region")]
    NoSecondary,
    /// The Cosmos account is missing or single-region.
    #[error("Cosmos DB account {0}: {1}")]
    Cosmos(String, String),
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The steps, from the live Cosmos account, storage account and PostgreSQL server (and
/// whether the restored server exists already). `back`: Cosmos DB's write region returns
/// to the primary; nothing else moves.
pub fn plan(
    env: &Environment,
    cosmos: Option<&Value>,
    storage: Option<&Value>,
    postgres_restored: bool,
    back: bool,
) -> Result<Vec<FailoverStep>, FailoverError> {
    let s = &env.spec;
    let secondary = s
        .disaster_recovery
        .as_ref()
        .and_then(|d| d.secondary(&s.location))
        .ok_or(FailoverError::NoSecondary)?;
    let ids = Ids::of(env);
    let mut steps = Vec::new();
    let cosmos_err = |m: &str| FailoverError::Cosmos(s.cosmos.account.clone(), m.to_string());
    let cosmos = cosmos.ok_or_else(|| cosmos_err("does not exist (apply first)"))?;
    let locations = cosmos
        .pointer("/properties/locations")
        .and_then(Value::as_array)
        .ok_or_else(|| cosmos_err("has no locations"))?;
    if locations.len() != 2 {
        return Err(cosmos_err(
            "needs exactly two regions (apply the spec first)",
        ));
    }
    // The write region moves to the target; already there, nothing is sent (a re-run
    // after a partial failover continues instead of moving back).
    let target = norm(if back { &s.location } else { &secondary });
    let names: Vec<(String, u64)> = locations
        .iter()
        .map(|l| {
            let name = l.get("locationName").and_then(Value::as_str).map(norm);
            let prio = l.get("failoverPriority").and_then(Value::as_u64);
            name.zip(prio)
        })
        .collect::<Option<_>>()
        .ok_or_else(|| cosmos_err("a location lacks its name or priority"))?;
    if !names.iter().any(|(n, _)| *n == target) {
        return Err(cosmos_err(&format!("has no region {target}")));
    }
    if !names.iter().any(|(n, p)| *n == target && *p == 0) {
        let policies: Vec<Value> = names
            .iter()
            .map(|(n, _)| json!({"locationName": n, "failoverPriority": u64::from(*n != target)}))
            .collect();
        steps.push(FailoverStep {
            id: ids.cosmos.to_string(),
            action: FailoverAction::CosmosPriorityChange {
                new_write_region: target,
                body: json!({"failoverPolicies": policies}),
            },
        });
    }
    if back {
        // Storage and PostgreSQL are not moved back: the storage account stays where it
        // failed over (apply restores its geo-redundancy) and the restored server is the
        // ledger's from then on.
        return Ok(steps);
    }
    if let (Some(id), Some(body)) = (&ids.storage, storage) {
        // An account already failed over is locally redundant: nothing to fail over.
        let geo = body
            .pointer("/sku/name")
            .and_then(Value::as_str)
            .is_some_and(|s| s.contains("GRS") || s.contains("GZRS"));
        if geo {
            steps.push(FailoverStep {
                id: id.to_string(),
                action: FailoverAction::StorageFailover,
            });
        }
    }
    if let (Some(id), Some(pg)) = (&ids.postgres, &s.postgres)
        && !postgres_restored
    {
        let target = restored_server(env).expect("postgres is set");
        steps.push(FailoverStep {
            id: id.to_string(),
            action: FailoverAction::PostgresGeoRestore {
                target: target.to_string(),
                body: json!({
                    "location": secondary,
                    "tags": {"tradewind.dev/environment": env.metadata.name, "tradewind.dev/restored-from": pg.server},
                    "sku": {"name": pg.sku, "tier": pg.tier.as_str()},
                    "properties": {
                        "createMode": "GeoRestore",
                        "sourceServerResourceId": id.as_str(),
                    },
                }),
            },
        });
    }
    Ok(steps)
}

/// The server a geo-restore creates: `{server}-{secondary}`, cut to 63 characters.
pub fn restored_server(env: &Environment) -> Option<ResourceId> {
    let s = &env.spec;
    let pg = s.postgres.as_ref()?;
    let secondary = s.disaster_recovery.as_ref()?.secondary(&s.location)?;
    let name: String = format!("{}-{secondary}", pg.server)
        .chars()
        .take(63)
        .collect();
    let name = name.trim_end_matches('-').to_string();
    Some(Ids::of(env).resource_group.provider(
        "Microsoft.DBforPostgreSQL",
        "flexibleServers",
        &name,
    ))
}

/// Reads what the plan needs.
pub async fn read(
    client: &ArmClient,
    env: &Environment,
) -> Result<(Option<Value>, Option<Value>, bool), ArmError> {
    let ids = Ids::of(env);
    let cosmos = client.get(&ids.cosmos).await?;
    let storage = match &ids.storage {
        Some(id) => client.get(id).await?,
        None => None,
    };
    let restored = match restored_server(env) {
        Some(id) => client.get(&id).await?.is_some(),
        None => false,
    };
    Ok((cosmos, storage, restored))
}

/// Sends one step and waits for it; returns the resource's body afterwards.
pub async fn run(client: &ArmClient, step: &FailoverStep) -> Result<Option<Value>, ArmError> {
    let id = ResourceId::parse(&step.id).map_err(|e| ArmError::Decode {
        method: "POST",
        id: step.id.clone(),
        message: e.to_string(),
    })?;
    match &step.action {
        FailoverAction::CosmosPriorityChange { body, .. } => {
            client.post(&id, "failoverPriorityChange", body).await
        }
        FailoverAction::StorageFailover => client.post(&id, "failover", &json!({})).await,
        FailoverAction::PostgresGeoRestore { target, body } => {
            let target = ResourceId::parse(target).map_err(|e| ArmError::Decode {
                method: "PUT",
                id: target.clone(),
                message: e.to_string(),
            })?;
            client.put(&target, body).await.map(Some)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prod() -> Environment {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        Environment::load(std::path::Path::new(&format!(
            "{dir}/../../examples/environments/prod.yaml"
        )))
        .unwrap()
    }

    #[test]
    fn swaps_cosmos_regions_and_restores_postgres_once() {
        let env = prod();
        let cosmos = json!({"properties": {"locations": [
            {"locationName": "West Europe", "failoverPriority": 0},
            {"locationName": "North Europe", "failoverPriority": 1},
        ]}});
        let storage = json!({"sku": {"name": "Standard_GZRS"}});
        let steps = plan(&env, Some(&cosmos), Some(&storage), false, false).unwrap();
        assert_eq!(steps.len(), 3);
        match &steps[0].action {
            FailoverAction::CosmosPriorityChange {
                new_write_region,
                body,
            } => {
                assert_eq!(new_write_region, "northeurope");
                assert_eq!(body["failoverPolicies"][0]["failoverPriority"], 1);
                assert_eq!(body["failoverPolicies"][1]["failoverPriority"], 0);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(steps[1].action, FailoverAction::StorageFailover);
        // Done already (Cosmos moved, storage LRS, the restored server present): nothing.
        let moved = json!({"properties": {"locations": [
            {"locationName": "westeurope", "failoverPriority": 1},
            {"locationName": "northeurope", "failoverPriority": 0},
        ]}});
        let lrs = json!({"sku": {"name": "Standard_ZRS"}});
        assert!(
            plan(&env, Some(&moved), Some(&lrs), true, false)
                .unwrap()
                .is_empty()
        );
        // Back: only Cosmos DB moves.
        let back = plan(&env, Some(&moved), Some(&lrs), true, true).unwrap();
        assert_eq!(back.len(), 1);
        assert!(
            plan(&env, Some(&cosmos), Some(&storage), false, true)
                .unwrap()
                .is_empty()
        );
        let one = json!({"properties": {"locations": [{"locationName": "westeurope", "failoverPriority": 0}]}});
        assert!(matches!(
            plan(&env, Some(&one), None, false, false),
            Err(FailoverError::Cosmos(..))
        ));
        let mut dev = env.clone();
        dev.spec.disaster_recovery = None;
        assert_eq!(
            plan(&dev, Some(&cosmos), None, false, false),
            Err(FailoverError::NoSecondary)
        );
    }
}
