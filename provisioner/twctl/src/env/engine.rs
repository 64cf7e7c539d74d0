//! The I/O shell around the pure parts: read every resource, apply in dependency order
//! with bounded parallelism, destroy, status. Decisions are made by [`super::plan`].

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde::Serialize;
use serde_json::Value;
use tokio::task::JoinSet;
use tracing::debug;

use super::plan::{self, Action, Live, Step};
use super::resources::{Resource, ResourceKind, resolve, topological_order};
use tradewind_azure::arm::{ArmClient, ArmError, ResourceId};

/// A failure of a whole command.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Reading a resource failed.
    #[error("reading {kind} {name}: {source}")]
    Read {
        /// Kind.
        kind: ResourceKind,
        /// Name.
        name: String,
        /// ARM's error.
        source: ArmError,
    },
    /// The resource graph is broken (a bug).
    #[error(transparent)]
    Graph(#[from] super::resources::GraphError),
}

/// Reads every resource (GETs only, in parallel, bounded). A resource named through
/// another's live body ([`Resource::name_from`]) is read second, and is absent while that
/// body lacks the name.
pub async fn read_all(
    client: &ArmClient,
    resources: &[Resource],
    concurrency: usize,
) -> Result<Live, EngineError> {
    let mut live = Live::new();
    for deferred in [false, true] {
        let mut targets = Vec::new();
        for r in resources
            .iter()
            .filter(|r| r.name_from.is_some() == deferred)
        {
            let lookup = |id: &ResourceId| live.get(id).and_then(Option::as_ref);
            match r.concrete_id(&lookup) {
                Ok(id) => targets.push((r, id)),
                Err(_) => {
                    live.insert(r.id.clone(), None);
                }
            }
        }
        for chunk in targets.chunks(concurrency.max(1)) {
            let got = join_all(
                chunk
                    .iter()
                    .map(|(r, id)| async move { (*r, client.get(id).await) }),
            )
            .await;
            for (r, result) in got {
                let body = result.map_err(|source| EngineError::Read {
                    kind: r.kind,
                    name: r.id.name().to_string(),
                    source,
                })?;
                live.insert(r.id.clone(), body);
            }
        }
    }
    Ok(live)
}

/// How one resource ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Created.
    Created,
    /// Updated.
    Updated,
    /// Already as declared; nothing sent.
    Unchanged,
    /// Deleted.
    Deleted,
    /// Failed.
    Failed,
    /// Not attempted because a dependency failed.
    Skipped,
}

/// A progress event.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// Work on a resource started.
    Started(&'a Resource),
    /// It finished.
    Finished(&'a Resource, &'a ResourceResult),
}

/// The result for one resource.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceResult {
    /// Resource ID.
    pub id: String,
    /// Kind.
    pub kind: ResourceKind,
    /// Outcome.
    pub outcome: Outcome,
    /// Seconds spent.
    pub seconds: f64,
    /// Error (failed) or the failed dependency (skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// ARM's error code, when ARM gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// What apply did.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    /// Per resource, in completion order.
    pub resources: Vec<ResourceResult>,
    /// Final live bodies of the resources that succeeded (not serialised).
    #[serde(skip)]
    pub bodies: HashMap<ResourceId, Value>,
}

impl ApplyReport {
    /// True when every resource succeeded.
    pub fn ok(&self) -> bool {
        self.resources
            .iter()
            .all(|r| !matches!(r.outcome, Outcome::Failed | Outcome::Skipped))
    }
}

/// What one resource's task returns.
type OneResult = Result<(Outcome, Value), ArmError>;

async fn apply_one(
    client: ArmClient,
    resource: Resource,
    deps: HashMap<ResourceId, Value>,
) -> Result<(Outcome, Value), ArmError> {
    let mut all: Live = deps.into_iter().map(|(k, v)| (k, Some(v))).collect();
    let target = resource
        .concrete_id(&|id: &ResourceId| all.get(id).and_then(Option::as_ref))
        .map_err(|e| ArmError::Decode {
            method: "PUT",
            id: resource.id.to_string(),
            message: e.to_string(),
        })?;
    // Read first: a finished resource is a no-op, so a re-run resumes where it stopped.
    let live = client.get(&target).await?;
    all.insert(resource.id.clone(), live.clone());
    if live.is_none()
        && resource.kind == ResourceKind::ResourceGroup
        && resource.desired == Value::Object(Default::default())
    {
        return Err(ArmError::Decode {
            method: "GET",
            id: resource.id.to_string(),
            message: "the resource group does not exist and spec.resourceGroup.owned is false (create it, or let twctl own it)".into(),
        });
    }
    let step = plan::decide(&resource, live.as_ref(), &all);
    if step.action == Action::NoOp {
        return Ok((Outcome::Unchanged, live.unwrap_or_default()));
    }
    let lookup = |id: &ResourceId| all.get(id).and_then(Option::as_ref);
    let desired = resolve(&resource.desired, &lookup).map_err(|e| ArmError::Decode {
        method: "PUT",
        id: resource.id.to_string(),
        message: e.to_string(),
    })?;
    debug!(id = %resource.id, changes = step.changes.len(), "writing");
    let body = plan::put_body(&desired, live.as_ref(), &resource.ignore);
    let after = client.put(&target, &body).await?;
    Ok((
        if live.is_some() {
            Outcome::Updated
        } else {
            Outcome::Created
        },
        after,
    ))
}

/// Applies `resources` in dependency order, at most `concurrency` at once. A failure stops
/// its dependents; independent resources still finish.
pub async fn apply(
    client: &ArmClient,
    resources: &[Resource],
    concurrency: usize,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<ApplyReport, EngineError> {
    let order = topological_order(resources)?;
    let index: HashMap<&ResourceId, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (&r.id, i))
        .collect();
    let mut pending: Vec<usize> = order.clone();
    let mut ok: HashSet<usize> = HashSet::new();
    let mut bad: HashSet<usize> = HashSet::new();
    let mut bodies: HashMap<ResourceId, Value> = HashMap::new();
    let mut results = Vec::new();
    let mut running: JoinSet<(usize, Instant, OneResult)> = JoinSet::new();
    loop {
        // Skip whatever depends on a failure, then start what is ready.
        let mut i = 0;
        while i < pending.len() {
            let idx = pending[i];
            let r = &resources[idx];
            let deps: Vec<usize> = r.depends_on.iter().map(|d| index[d]).collect();
            if let Some(&failed) = deps.iter().find(|d| bad.contains(d)) {
                pending.remove(i);
                bad.insert(idx);
                let result = ResourceResult {
                    id: r.id.to_string(),
                    kind: r.kind,
                    outcome: Outcome::Skipped,
                    seconds: 0.0,
                    error: Some(format!(
                        "not attempted: {} failed",
                        resources[failed].label()
                    )),
                    code: None,
                };
                on_event(Event::Finished(r, &result));
                results.push(result);
                continue;
            }
            if running.len() < concurrency.max(1) && deps.iter().all(|d| ok.contains(d)) {
                pending.remove(i);
                on_event(Event::Started(r));
                let dep_bodies = r
                    .depends_on
                    .iter()
                    .filter_map(|d| bodies.get(d).map(|b| (d.clone(), b.clone())))
                    .collect();
                let client = client.clone();
                let resource = r.clone();
                running.spawn(async move {
                    let started = Instant::now();
                    (idx, started, apply_one(client, resource, dep_bodies).await)
                });
                continue;
            }
            i += 1;
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (idx, started, result) = joined.expect("apply task panicked");
        let r = &resources[idx];
        let seconds = started.elapsed().as_secs_f64();
        let result = match result {
            Ok((outcome, body)) => {
                ok.insert(idx);
                bodies.insert(r.id.clone(), body);
                ResourceResult {
                    id: r.id.to_string(),
                    kind: r.kind,
                    outcome,
                    seconds,
                    error: None,
                    code: None,
                }
            }
            Err(e) => {
                bad.insert(idx);
                ResourceResult {
                    id: r.id.to_string(),
                    kind: r.kind,
                    outcome: Outcome::Failed,
                    seconds,
                    code: e.code().map(str::to_string),
                    error: Some(e.to_string()),
                }
            }
        };
        on_event(Event::Finished(r, &result));
        results.push(result);
    }
    Ok(ApplyReport {
        resources: results,
        bodies,
    })
}

/// Deletes what `steps` lists, one after another (dependents first), each waited for.
/// `live` names the resources whose name only a dependency's body knows.
pub async fn destroy(
    client: &ArmClient,
    resources: &[Resource],
    steps: &[Step],
    live: &Live,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Vec<ResourceResult> {
    let mut results = Vec::new();
    for step in steps.iter().filter(|s| s.action == Action::Delete) {
        let Some(r) = resources.iter().find(|r| r.id.as_str() == step.id) else {
            continue;
        };
        on_event(Event::Started(r));
        let started = Instant::now();
        let lookup = |id: &ResourceId| live.get(id).and_then(Option::as_ref);
        let outcome = match r.concrete_id(&lookup) {
            Ok(id) => client.delete(&id).await,
            Err(e) => Err(ArmError::Decode {
                method: "DELETE",
                id: r.id.to_string(),
                message: e.to_string(),
            }),
        };
        let result = ResourceResult {
            id: r.id.to_string(),
            kind: r.kind,
            outcome: if outcome.is_ok() {
                Outcome::Deleted
            } else {
                Outcome::Failed
            },
            seconds: started.elapsed().as_secs_f64(),
            code: outcome
                .as_ref()
                .err()
                .and_then(|e| e.code().map(str::to_string)),
            error: outcome.err().map(|e| e.to_string()),
        };
        on_event(Event::Finished(r, &result));
        let failed = result.outcome == Outcome::Failed;
        results.push(result);
        if failed {
            break;
        }
    }
    results
}

/// Elapsed time as progress lines show it.
pub fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}
