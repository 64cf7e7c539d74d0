//! The object store and every write rule: resourceVersion, uid, generation, status
//! subresources, finalizers, garbage collection, CRD registration, and the watch history.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tradewind_crds::validation::SchemaSet;

use super::error::ApiError;
use super::registry::{CrdInfo, GroupResource, Registry, ResourceDef};
use super::selectors::{FieldSelector, LabelSelector};
use super::util;
use crate::semantics;

/// The type of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// An object appeared.
    Added,
    /// An object changed.
    Modified,
    /// An object was removed.
    Deleted,
}

impl EventType {
    /// The wire name (`ADDED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change in the store, kept in the watch history.
#[derive(Clone, Debug)]
pub struct Event {
    /// resourceVersion of the change.
    pub rv: u64,
    /// Which resource changed.
    pub gr: GroupResource,
    /// Added, modified or deleted.
    pub kind: EventType,
    /// The object after the change (for deletions, the last state).
    pub object: Value,
    /// The object before the change, for modifications (selector transitions).
    pub old: Option<Value>,
}

/// What a watch stream receives: a store event, or the order to close.
#[derive(Clone, Debug)]
pub enum WatchMsg {
    /// A change.
    Event(Arc<Event>),
}

struct Watcher {
    gr: GroupResource,
    tx: mpsc::UnboundedSender<WatchMsg>,
}

/// A fault to inject: fail the next `remaining` requests matching verb and resource.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fault {
    /// Verb to match (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`), or `None` for any.
    #[serde(default)]
    pub verb: Option<String>,
    /// Resource to match (plural, optionally `/status`), or `None` for any.
    #[serde(default)]
    pub resource: Option<String>,
    /// HTTP status code to answer with.
    pub code: u16,
    /// How many matching requests to fail.
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// Context of a write: who writes and how.
#[derive(Clone, Debug, Default)]
pub struct WriteCtx {
    /// `fieldManager` query parameter, if any.
    pub field_manager: Option<String>,
    /// `force` for server-side apply.
    pub force: bool,
    /// `dryRun=All`: compute and validate, but do not store.
    pub dry_run: bool,
    /// Set by server-side apply, which records its own managedFields entry.
    pub applying: bool,
}

impl WriteCtx {
    fn manager(&self) -> &str {
        self.field_manager
            .as_deref()
            .filter(|m| !m.is_empty())
            .unwrap_or("unknown")
    }
}

fn hints(def: &ResourceDef) -> semantics::apply::SchemaHints<'_> {
    match def.crd.as_ref().and_then(|c| c.schema.as_ref()) {
        Some(schema) => semantics::apply::SchemaHints::Crd(schema),
        None if def.crd.is_some() => semantics::apply::SchemaHints::None,
        None => semantics::apply::SchemaHints::Builtin(&def.kind),
    }
}

fn apply_error(e: semantics::apply::ApplyError) -> ApiError {
    match &e {
        semantics::apply::ApplyError::Conflicts { message, conflicts } => ApiError::conflict_message(
            message.clone(),
            conflicts
                .iter()
                .map(|c| json!({"type": "FieldManagerConflict", "reason": "FieldManagerConflict", "message": format!("conflict with {}", c.manager), "field": c.field}))
                .collect(),
        ),
        semantics::apply::ApplyError::Invalid(_) => ApiError::new(e.code(), e.reason(), e.to_string()),
    }
}

/// How a patch body is to be applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

/// Propagation policy of a deletion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    /// Delete now; dependents are collected afterwards.
    Background,
    /// Delete dependents first; the owner waits with the `foregroundDeletion` finalizer.
    Foreground,
    /// Leave dependents, removing their owner references.
    Orphan,
}

/// Options of a deletion.
#[derive(Clone, Debug)]
pub struct DeleteOpts {
    /// Propagation policy.
    pub propagation: Propagation,
    /// `preconditions.resourceVersion`.
    pub precondition_rv: Option<String>,
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `gracePeriodSeconds` (pods): `None` takes the pod's `terminationGracePeriodSeconds`.
    pub grace_period: Option<i64>,
}

impl Default for DeleteOpts {
    fn default() -> Self {
        Self {
            propagation: Propagation::Background,
            precondition_rv: None,
            precondition_uid: None,
            dry_run: false,
            grace_period: None,
        }
    }
}

type ObjKey = (String, String);

/// The whole server state, behind one mutex.
pub struct State {
    /// Served resources.
    pub registry: Registry,
    rv: u64,
    objects: HashMap<GroupResource, BTreeMap<ObjKey, Value>>,
    ring: VecDeque<Arc<Event>>,
    ring_cap: usize,
    /// Every event with rv > floor is still in the ring.
    ring_floor: u64,
    watchers: Vec<Watcher>,
    /// Requests served, by (verb, resource).
    pub counters: BTreeMap<(String, String), u64>,
    /// Faults waiting to fire.
    pub faults: Vec<Fault>,
    /// Number of upcoming watches to answer with 410 Gone.
    pub gone_next_watches: u32,
    /// Deployments (namespace, name) whose rollouts must fail.
    pub failing_deployments: HashSet<(String, String)>,
    /// Whether a kubelet runs: deleting a pod bound to the node then only marks it
    /// (graceful deletion) and the kubelet removes it once its containers stopped.
    pub graceful_pods: bool,
    /// The cluster CA; when set, every namespace created gets its `default`
    /// ServiceAccount and `kube-root-ca.crt` ConfigMap (`crate::auth::seed_namespace`).
    pub root_ca_pem: Option<Arc<str>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("rv", &self.rv)
            .field("watchers", &self.watchers.len())
            .finish()
    }
}

/// A new built-in object's status: the fields its Go type always serializes (no
/// `omitempty`) at zero, as a real server's create response shows them.
fn empty_status(kind: &str) -> Value {
    match kind {
        "DaemonSet" => json!({"currentNumberScheduled": 0, "numberMisscheduled": 0,
            "desiredNumberScheduled": 0, "numberReady": 0}),
        "ReplicationController" | "StatefulSet" => json!({"replicas": 0}),
        _ => json!({}),
    }
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    match obj.get_mut("metadata").and_then(Value::as_object_mut) {
        Some(m) => m,
        None => unreachable!("metadata was just made an object"),
    }
}

/// Everything but metadata and status (and apiVersion/kind): what moves `generation`.
fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        for k in ["metadata", "status", "apiVersion", "kind"] {
            m.remove(k);
        }
    }
    v
}

fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn set_finalizers(obj: &mut Value, f: Vec<String>) {
    let m = meta_mut(obj);
    if f.is_empty() {
        m.remove("finalizers");
    } else {
        m.insert("finalizers".into(), json!(f));
    }
}

impl State {
    /// A fresh store with the built-in resources and the `default`, `kube-system`,
    /// `kube-public` and `kube-node-lease` namespaces; `ring_cap` bounds watch history.
    pub fn new(ring_cap: usize) -> Self {
        let mut s = Self {
            registry: Registry::with_builtins(),
            rv: 0,
            objects: HashMap::new(),
            ring: VecDeque::new(),
            ring_cap: ring_cap.max(1),
            ring_floor: 0,
            watchers: Vec::new(),
            counters: BTreeMap::new(),
            faults: Vec::new(),
            gone_next_watches: 0,
            failing_deployments: HashSet::new(),
            graceful_pods: false,
            root_ca_pem: None,
        };
        let ns_def = s.registry.find("", "v1", "namespaces").cloned();
        if let Some(def) = ns_def {
            for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
                let obj =
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
                if let Err(e) = s.create(&def, None, obj, &WriteCtx::default()) {
                    tracing::error!(%e, "creating namespace {ns}");
                }
            }
        }
        s
    }

    /// The current cluster-wide resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// Counts a request and returns an injected fault for it, if one matches.
    pub fn count_and_fault(&mut self, verb: &str, resource: &str) -> Option<ApiError> {
        *self
            .counters
            .entry((verb.to_owned(), resource.to_owned()))
            .or_insert(0) += 1;
        let idx = self.faults.iter().position(|f| {
            f.count > 0
                && f.verb.as_deref().is_none_or(|v| v == verb)
                && f.resource.as_deref().is_none_or(|r| r == resource)
        })?;
        let fault = &mut self.faults[idx];
        fault.count -= 1;
        let code = fault.code;
        if fault.count == 0 {
            self.faults.remove(idx);
        }
        let reason = match code {
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            409 => "Conflict",
            410 => "Gone",
            422 => "Invalid",
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        Some(ApiError::new(
            code,
            reason,
            format!("injected fault for {verb} {resource}"),
        ))
    }

    /// Drops every open watch (their streams end).
    pub fn close_watches(&mut self) {
        self.watchers.clear();
    }

    fn bucket(&self, gr: &GroupResource) -> Option<&BTreeMap<ObjKey, Value>> {
        self.objects.get(gr)
    }

    fn emit(&mut self, gr: &GroupResource, kind: EventType, object: Value, old: Option<Value>) {
        let ev = Arc::new(Event {
            rv: self.rv,
            gr: gr.clone(),
            kind,
            object,
            old,
        });
        self.watchers.retain(|w| {
            if w.gr != ev.gr {
                return !w.tx.is_closed();
            }
            w.tx.send(WatchMsg::Event(ev.clone())).is_ok()
        });
        self.ring.push_back(ev);
        while self.ring.len() > self.ring_cap {
            if let Some(old) = self.ring.pop_front() {
                self.ring_floor = old.rv;
            }
        }
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Registers a watch on `gr`. With `since`, replays history after that
    /// resourceVersion (410 Gone when it is older than the history); returns the
    /// replayed events and the receiver for what follows.
    pub fn watch(
        &mut self,
        gr: &GroupResource,
        since: Option<u64>,
    ) -> Result<(Vec<Arc<Event>>, mpsc::UnboundedReceiver<WatchMsg>), ApiError> {
        if self.gone_next_watches > 0 {
            self.gone_next_watches -= 1;
            return Err(ApiError::gone("too old resource version (injected)"));
        }
        let mut replay = Vec::new();
        if let Some(rv) = since {
            if rv < self.ring_floor {
                return Err(ApiError::gone(format!(
                    "too old resource version: {rv} ({})",
                    self.ring_floor + 1
                )));
            }
            replay = self
                .ring
                .iter()
                .filter(|e| e.rv > rv && &e.gr == gr)
                .cloned()
                .collect();
        }
        Ok((replay, self.subscribe(gr)))
    }

    /// Registers an in-process watcher (the controllers'): no replay, and never answered
    /// by an injected fault, which is meant for the next client's watch.
    pub fn subscribe(&mut self, gr: &GroupResource) -> mpsc::UnboundedReceiver<WatchMsg> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.watchers.push(Watcher { gr: gr.clone(), tx });
        rx
    }

    /// Gets one object.
    pub fn get(&self, def: &ResourceDef, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
        let key = (ns.unwrap_or("").to_owned(), name.to_owned());
        self.bucket(&def.gr())
            .and_then(|b| b.get(&key))
            .map(|o| present(def, o))
            .ok_or_else(|| ApiError::not_found(&def.group, &def.plural, name))
    }

    /// Lists objects (sorted by namespace and name), filtered by namespace and selectors.
    pub fn list(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> Vec<Value> {
        let Some(bucket) = self.bucket(&def.gr()) else {
            return Vec::new();
        };
        // A namespace's objects are one range of the (namespace, name)-ordered bucket.
        let objects: Box<dyn Iterator<Item = (&ObjKey, &Value)>> = match ns {
            Some(want) => Box::new(
                bucket
                    .range((want.to_owned(), String::new())..)
                    .take_while(move |((n, _), _)| n == want),
            ),
            None => Box::new(bucket.iter()),
        };
        objects
            .filter(|(_, o)| labels.matches(o) && fields.matches(o))
            .map(|(_, o)| present(def, o))
            .collect()
    }

    /// Namespace, name, uid, generation and whether it is being deleted, for every object
    /// of a resource, without cloning the objects.
    pub fn heads(&self, gr: &GroupResource) -> Vec<(String, String, String, i64, bool)> {
        self.bucket(gr)
            .map(|b| {
                b.values()
                    .map(|o| {
                        let s = |p: &str| {
                            o.pointer(p)
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned()
                        };
                        (
                            s("/metadata/namespace"),
                            s("/metadata/name"),
                            s("/metadata/uid"),
                            o.pointer("/metadata/generation")
                                .and_then(Value::as_i64)
                                .unwrap_or(1),
                            o.pointer("/metadata/deletionTimestamp").is_some(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One object of a resource by namespace and name.
    pub fn one(&self, gr: &GroupResource, ns: &str, name: &str) -> Option<Value> {
        self.bucket(gr)?
            .get(&(ns.to_owned(), name.to_owned()))
            .cloned()
    }

    /// The objects of a resource in `ns` whose names start with `prefix` (a
    /// Deployment's ReplicaSets, a ReplicaSet's pods), without scanning the others.
    pub fn with_prefix(&self, gr: &GroupResource, ns: &str, prefix: &str) -> Vec<Value> {
        let Some(b) = self.bucket(gr) else {
            return Vec::new();
        };
        b.range((ns.to_owned(), prefix.to_owned())..)
            .take_while(|((n, k), _)| n == ns && k.starts_with(prefix))
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// The objects of a resource in one namespace, without scanning (or copying) the
    /// others.
    pub fn in_namespace(&self, gr: &GroupResource, ns: &str) -> Vec<Value> {
        let Some(b) = self.bucket(gr) else {
            return Vec::new();
        };
        b.range((ns.to_owned(), String::new())..)
            .take_while(|((n, _), _)| n == ns)
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// Every stored object of a resource.
    pub fn all(&self, gr: &GroupResource) -> Vec<Value> {
        self.bucket(gr)
            .map(|b| b.values().cloned().collect())
            .unwrap_or_default()
    }

    fn check_namespace(&self, def: &ResourceDef, ns: Option<&str>) -> Result<(), ApiError> {
        if !def.namespaced {
            return Ok(());
        }
        let ns =
            ns.ok_or_else(|| ApiError::bad_request("the namespace of the object is required"))?;
        let nsgr = GroupResource {
            group: String::new(),
            resource: "namespaces".into(),
        };
        let nsobj = self
            .bucket(&nsgr)
            .and_then(|b| b.get(&(String::new(), ns.to_owned())))
            .ok_or_else(|| ApiError::not_found("", "namespaces", ns))?;
        if nsobj.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError::new(
                403,
                "Forbidden",
                format!(
                    "{} \"\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    def.plural
                ),
            ));
        }
        Ok(())
    }

    /// Defaults, prunes and validates a custom resource; defaults built-ins.
    fn admit(&self, def: &ResourceDef, obj: Value) -> Result<Value, ApiError> {
        let mut obj = obj;
        if let Some(crd) = &def.crd {
            if let Some(schema) = &crd.schema {
                obj = semantics::schema::prune(schema, &obj).0;
                obj = semantics::schema::apply_defaults(schema, &obj);
            }
            if let Some(v) = &crd.validator {
                let mut probe = obj.clone();
                probe["apiVersion"] = json!(def.api_version());
                if let Err(issues) = v.validate(&probe) {
                    let causes: Vec<(String, String)> =
                        issues.into_iter().map(|i| (i.path, i.message)).collect();
                    let name = meta_str(&obj, "name").unwrap_or("").to_owned();
                    return Err(ApiError::invalid(&def.kind, &name, &causes));
                }
            }
        } else {
            default_builtin(def, &mut obj);
        }
        Ok(obj)
    }

    /// Creates an object (201). `ns` comes from the path.
    pub fn create(
        &mut self,
        def: &ResourceDef,
        ns: Option<&str>,
        mut obj: Value,
        ctx: &WriteCtx,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        check_kind(def, &obj)?;
        obj["apiVersion"] = json!(def.api_version());
        obj["kind"] = json!(def.kind);
        let ns = if def.namespaced {
            let body_ns = meta_str(&obj, "namespace")
                .filter(|n| !n.is_empty())
                .map(str::to_owned);
            match (ns, body_ns.as_deref()) {
                (Some(p), Some(b)) if p != b => {
                    return Err(ApiError::bad_request(format!(
                        "the namespace of the provided object ({b}) does not match the namespace sent on the request ({p})"
                    )));
                }
                (Some(p), _) => Some(p.to_owned()),
                (None, Some(b)) => Some(b.to_owned()),
                (None, None) => Some("default".to_owned()),
            }
        } else {
            None
        };
        self.check_namespace(def, ns.as_deref())?;
        let name = match meta_str(&obj, "name").filter(|n| !n.is_empty()) {
            Some(n) => n.to_owned(),
            None => match meta_str(&obj, "generateName").filter(|n| !n.is_empty()) {
                Some(g) => format!("{g}{}", util::name_suffix()),
                None => {
                    return Err(ApiError::invalid(
                        &def.kind,
                        "",
                        &[(
                            "metadata.name".into(),
                            "Required value: name or generateName is required".into(),
                        )],
                    ));
                }
            },
        };
        let key = (ns.clone().unwrap_or_default(), name.clone());
        if self.bucket(&def.gr()).is_some_and(|b| b.contains_key(&key)) {
            return Err(ApiError::already_exists(&def.group, &def.plural, &name));
        }
        if def.has_status
            && def.kind != "CustomResourceDefinition"
            && let Some(m) = obj.as_object_mut()
        {
            // Built-ins start with an empty status (as their create strategies do);
            // custom resources start without one.
            if def.crd.is_some() {
                m.remove("status");
            } else {
                m.insert("status".into(), empty_status(&def.kind));
            }
        }
        {
            let m = meta_mut(&mut obj);
            m.insert("name".into(), json!(name));
            match &ns {
                Some(n) => {
                    m.insert("namespace".into(), json!(n));
                }
                None => {
                    m.remove("namespace");
                }
            }
            for k in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "selfLink",
            ] {
                m.remove(k);
            }
        }
        let mut obj = self.admit(def, obj)?;
        if !ctx.applying {
            let now = util::now_rfc3339();
            let writer = semantics::apply::Writer {
                manager: ctx.manager(),
                subresource: None,
                time: &now,
            };
            obj = semantics::apply::record_update(None, &obj, &writer, hints(def));
        }
        let crd_resources =
            if def.kind == "CustomResourceDefinition" && def.group == "apiextensions.k8s.io" {
                Some(self.prepare_crd(&mut obj)?)
            } else {
                None
            };
        if ctx.dry_run {
            return Ok(present(def, &obj));
        }
        let rv = self.next_rv();
        {
            let m = meta_mut(&mut obj);
            m.insert("uid".into(), json!(util::new_uid()));
            m.insert("resourceVersion".into(), json!(rv.to_string()));
            m.insert("creationTimestamp".into(), json!(util::now_rfc3339()));
            m.insert("generation".into(), json!(1));
        }
        self.objects
            .entry(def.gr())
            .or_default()
            .insert(key, obj.clone());
        self.emit(&def.gr(), EventType::Added, obj.clone(), None);
        if def.group.is_empty()
            && def.plural == "namespaces"
            && let Some(ca) = self.root_ca_pem.clone()
        {
            crate::auth::seed_namespace(self, &ca, &name);
        }
        if let Some(resources) = crd_resources {
            self.install_crd(&name, resources);
        }
        if self.owners_all_gone(&obj) {
            self.gc();
        }
        Ok(present(def, &obj))
    }

    /// Replaces an object (PUT), or only its status when `status_only`.
    pub fn update(
        &mut self,
        def: &ResourceDef,
        ns: Option<&str>,
        name: &str,
        new: Value,
        status_only: bool,
        ctx: &WriteCtx,
    ) -> Result<Value, ApiError> {
        if !new.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        check_kind(def, &new)?;
        if let Some(body_name) = meta_str(&new, "name")
            && body_name != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let old = self.stored(def, ns, name)?;
        if let Some(rv) = meta_str(&new, "resourceVersion").filter(|r| !r.is_empty())
            && Some(rv) != meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(&def.group, &def.plural, name));
        }
        self.commit(def, ns, name, old, new, status_only, ctx)
    }

    fn stored(&self, def: &ResourceDef, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
        let key = (
            if def.namespaced {
                ns.unwrap_or("").to_owned()
            } else {
                String::new()
            },
            name.to_owned(),
        );
        self.bucket(&def.gr())
            .and_then(|b| b.get(&key))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&def.group, &def.plural, name))
    }

    /// Applies a patch to an object (or its status). Server-side apply creates a
    /// missing object; returns the object and whether it was created.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &mut self,
        def: &ResourceDef,
        ns: Option<&str>,
        name: &str,
        kind: PatchType,
        body: &[u8],
        status_only: bool,
        ctx: &WriteCtx,
    ) -> Result<(Value, bool), ApiError> {
        let existing = self.stored(def, ns, name);
        if kind == PatchType::Apply {
            let applied = parse_yaml_or_json(body)?;
            if !applied.is_object() {
                return Err(ApiError::bad_request(
                    "the applied configuration must be an object",
                ));
            }
            let manager = ctx.field_manager.clone().ok_or_else(|| {
                ApiError::bad_request(
                    "PATCH, application/apply-patch+yaml requires fieldManager to be set",
                )
            })?;
            let now = util::now_rfc3339();
            let writer = semantics::apply::Writer {
                manager: &manager,
                subresource: status_only.then_some("status"),
                time: &now,
            };
            // Reset fields, as the real server's strategies declare them: on a resource
            // with a status subresource the main endpoint ignores the applied `status`
            // and `/status` ignores everything but `status` (and identity metadata), so
            // neither the values nor the ownership of the other part change.
            let mut applied = if !def.has_status || def.kind == "CustomResourceDefinition" {
                applied
            } else if status_only {
                semantics::generation::status_part(&applied)
            } else {
                semantics::generation::strip_status_on_create(&applied)
            };
            if applied.pointer("/metadata/name").is_none() {
                meta_mut(&mut applied).insert("name".into(), json!(name));
            }
            let ctx = WriteCtx {
                applying: true,
                ..ctx.clone()
            };
            let old = match existing {
                Ok(o) => o,
                Err(_) if !status_only => {
                    let merged =
                        semantics::apply::apply(None, &applied, &writer, ctx.force, hints(def))
                            .map_err(apply_error)?;
                    return self.create(def, ns, merged, &ctx).map(|o| (o, true));
                }
                Err(e) => return Err(e),
            };
            if let Some(rv) = meta_str(&applied, "resourceVersion").filter(|r| !r.is_empty())
                && Some(rv) != meta_str(&old, "resourceVersion")
            {
                return Err(ApiError::conflict(&def.group, &def.plural, name));
            }
            let live = present(def, &old);
            let merged =
                semantics::apply::apply(Some(&live), &applied, &writer, ctx.force, hints(def))
                    .map_err(apply_error)?;
            return self
                .commit(def, ns, name, old, merged, status_only, &ctx)
                .map(|o| (o, false));
        }
        let old = existing?;
        let patch: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
        let target = present(def, &old);
        let patched = match kind {
            PatchType::Merge => Ok(semantics::patch::merge_patch(&target, &patch)),
            PatchType::Json => semantics::patch::json_patch(&target, &patch),
            PatchType::Strategic => semantics::patch::strategic_merge_patch(&target, &patch),
            PatchType::Apply => Ok(target),
        };
        let doc = patched.map_err(|e| ApiError::new(e.code(), e.reason(), e.to_string()))?;
        if let Some(rv) = meta_str(&doc, "resourceVersion").filter(|r| !r.is_empty())
            && Some(rv) != meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(&def.group, &def.plural, name));
        }
        self.commit(def, ns, name, old, doc, status_only, ctx)
            .map(|o| (o, false))
    }

    #[allow(clippy::too_many_arguments)]
    fn commit(
        &mut self,
        def: &ResourceDef,
        ns: Option<&str>,
        name: &str,
        old: Value,
        mut new: Value,
        status_only: bool,
        ctx: &WriteCtx,
    ) -> Result<Value, ApiError> {
        new["apiVersion"] = json!(def.api_version());
        new["kind"] = json!(def.kind);
        if status_only {
            let status = new.get("status").cloned();
            // The request's managedFields carry this write's ownership (an apply's entry
            // for `/status`); absent, the stored ones are kept below.
            let managed = new.pointer("/metadata/managedFields").cloned();
            new = old.clone();
            match managed {
                Some(mf) => {
                    meta_mut(&mut new).insert("managedFields".into(), mf);
                }
                None => {
                    meta_mut(&mut new).remove("managedFields");
                }
            }
            match status {
                Some(s) => new["status"] = s,
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            new["apiVersion"] = json!(def.api_version());
        } else if def.has_status && def.kind != "CustomResourceDefinition" {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        {
            let old_meta = old.get("metadata").cloned().unwrap_or_else(|| json!({}));
            let m = meta_mut(&mut new);
            for k in [
                "uid",
                "creationTimestamp",
                "name",
                "namespace",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "resourceVersion",
            ] {
                match old_meta.get(k) {
                    Some(v) => {
                        m.insert(k.into(), v.clone());
                    }
                    None => {
                        m.remove(k);
                    }
                }
            }
            if !m.contains_key("managedFields")
                && let Some(mf) = old_meta.get("managedFields")
            {
                m.insert("managedFields".into(), mf.clone());
            }
            if old_meta.get("deletionTimestamp").is_some() {
                // Finalizers may only be removed from an object being deleted.
                let old_f: Vec<String> = finalizers(&old);
                let new_f: Vec<String> = m
                    .get("finalizers")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                if new_f.iter().any(|f| !old_f.contains(f)) {
                    return Err(ApiError::invalid(&def.kind, name, &[("metadata.finalizers".into(), "Forbidden: no new finalizers can be added if the object is being deleted".into())]));
                }
            }
        }
        let mut new = if status_only {
            new
        } else {
            self.admit(def, new)?
        };
        if def.crd.is_some() && status_only {
            // Status writes are validated too (the schema covers status).
            new = self.admit(def, new)?;
        }
        let crd_resources = if def.kind == "CustomResourceDefinition"
            && def.group == "apiextensions.k8s.io"
            && !status_only
        {
            Some(self.prepare_crd(&mut new)?)
        } else {
            None
        };
        if spec_part(&new) != spec_part(&old) {
            let g = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            meta_mut(&mut new).insert("generation".into(), json!(g + 1));
        }
        let mut cmp_old = old.clone();
        cmp_old["apiVersion"] = new["apiVersion"].clone();
        // Non-apply writes record an Update entry and drop every manager's ownership of
        // fields they changed or removed, as the real server's managedFields updater does;
        // otherwise a later apply would conflict over fields that no longer exist.
        if !ctx.applying && without_managed_fields(&new) != without_managed_fields(&cmp_old) {
            let now = util::now_rfc3339();
            let writer = semantics::apply::Writer {
                manager: ctx.manager(),
                subresource: status_only.then_some("status"),
                time: &now,
            };
            new = semantics::apply::record_update(Some(&old), &new, &writer, hints(def));
        }
        if new == cmp_old {
            return Ok(present(def, &old));
        }
        if ctx.dry_run {
            return Ok(present(def, &new));
        }
        let rv = self.next_rv();
        meta_mut(&mut new).insert("resourceVersion".into(), json!(rv.to_string()));
        let key = (
            if def.namespaced {
                ns.unwrap_or("").to_owned()
            } else {
                String::new()
            },
            name.to_owned(),
        );
        let gr = def.gr();
        if new.pointer("/metadata/deletionTimestamp").is_some() && finalizers(&new).is_empty() {
            self.remove(&gr, &key, new.clone());
            self.gc();
            return Ok(present(def, &new));
        }
        self.objects
            .entry(gr.clone())
            .or_default()
            .insert(key, new.clone());
        let deleting = new.pointer("/metadata/deletionTimestamp").is_some();
        self.emit(&gr, EventType::Modified, new.clone(), Some(old));
        if let Some(resources) = crd_resources {
            self.install_crd(name, resources);
        }
        if deleting || self.owners_all_gone(&new) {
            // Finalizers changed on an object being deleted (foreground owners may go),
            // or the object refers only to owners that are gone.
            self.gc();
        }
        Ok(present(def, &new))
    }

    /// Removes an object for good, emitting DELETED (the object carries a new rv).
    fn remove(&mut self, gr: &GroupResource, key: &ObjKey, mut last: Value) {
        if let Some(b) = self.objects.get_mut(gr) {
            b.remove(key);
        }
        let rv = self.next_rv();
        meta_mut(&mut last).insert("resourceVersion".into(), json!(rv.to_string()));
        self.emit(gr, EventType::Deleted, last.clone(), None);
        if gr.group == "apiextensions.k8s.io" && gr.resource == "customresourcedefinitions" {
            self.uninstall_crd(&key.1);
        }
        if gr.group.is_empty() && gr.resource == "namespaces" {
            // Namespace contents go with it.
            let grs: Vec<GroupResource> = self.objects.keys().cloned().collect();
            for g in grs {
                let keys: Vec<ObjKey> = self
                    .objects
                    .get(&g)
                    .map(|b| b.keys().filter(|(n, _)| *n == key.1).cloned().collect())
                    .unwrap_or_default();
                for k in keys {
                    if let Some(obj) = self.objects.get(&g).and_then(|b| b.get(&k)).cloned() {
                        self.remove(&g, &k, obj);
                    }
                }
            }
        }
    }

    /// Deletes an object: with finalizers it only gets a deletionTimestamp.
    pub fn delete(
        &mut self,
        def: &ResourceDef,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOpts,
    ) -> Result<Value, ApiError> {
        let old = self.stored(def, ns, name)?;
        if let Some(rv) = &opts.precondition_rv
            && Some(rv.as_str()) != meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(&def.group, &def.plural, name));
        }
        if let Some(uid) = &opts.precondition_uid
            && Some(uid.as_str()) != meta_str(&old, "uid")
        {
            return Err(ApiError::conflict(&def.group, &def.plural, name));
        }
        if opts.dry_run {
            return Ok(present(def, &old));
        }
        let key = (
            if def.namespaced {
                ns.unwrap_or("").to_owned()
            } else {
                String::new()
            },
            name.to_owned(),
        );
        let gr = def.gr();
        let mut obj = old.clone();
        let mut fins = finalizers(&obj);
        match opts.propagation {
            Propagation::Foreground if !fins.iter().any(|f| f == "foregroundDeletion") => {
                fins.push("foregroundDeletion".into())
            }
            Propagation::Orphan if !fins.iter().any(|f| f == "orphan") => {
                fins.push("orphan".into())
            }
            _ => {}
        }
        let is_namespace = gr.group.is_empty() && gr.resource == "namespaces";
        if is_namespace
            && self.namespace_has_content(name)
            && !fins.iter().any(|f| f == "kubernetes")
        {
            fins.push("kubernetes".into());
        }
        if let Some(grace) = self.pod_grace(&gr, &obj, opts) {
            // Graceful pod deletion: the kubelet stops the containers, then removes it.
            let m = meta_mut(&mut obj);
            let shorter = m
                .get("deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .is_none_or(|g| grace < g);
            if shorter {
                m.insert(
                    "deletionTimestamp".into(),
                    json!(util::format_rfc3339(util::now_unix() + grace)),
                );
                m.insert("deletionGracePeriodSeconds".into(), json!(grace));
            }
            set_finalizers(&mut obj, fins);
            if obj == old {
                return Ok(present(def, &obj));
            }
            let rv = self.next_rv();
            meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
            self.objects
                .entry(gr.clone())
                .or_default()
                .insert(key, obj.clone());
            self.emit(&gr, EventType::Modified, obj.clone(), Some(old));
            return Ok(present(def, &obj));
        }
        if fins.is_empty() {
            self.remove(&gr, &key, obj.clone());
            self.gc();
            return Ok(present(def, &obj));
        }
        if obj.pointer("/metadata/deletionTimestamp").is_none() {
            let m = meta_mut(&mut obj);
            m.insert("deletionTimestamp".into(), json!(util::now_rfc3339()));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        set_finalizers(&mut obj, fins);
        if is_namespace {
            obj["status"] = json!({"phase": "Terminating"});
        }
        if obj == old {
            return Ok(present(def, &obj));
        }
        let rv = self.next_rv();
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        self.objects
            .entry(gr.clone())
            .or_default()
            .insert(key, obj.clone());
        self.emit(&gr, EventType::Modified, obj.clone(), Some(old));
        self.gc();
        Ok(present(def, &obj))
    }

    /// The grace period a pod's deletion waits for, when it is graceful: the pod is
    /// bound to the node, a kubelet runs, it has not finished, and the grace is not 0.
    fn pod_grace(&self, gr: &GroupResource, obj: &Value, opts: &DeleteOpts) -> Option<i64> {
        if !self.graceful_pods || !gr.group.is_empty() || gr.resource != "pods" {
            return None;
        }
        obj.pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())?;
        let phase = obj.pointer("/status/phase").and_then(Value::as_str);
        if matches!(phase, Some("Succeeded" | "Failed")) {
            return None;
        }
        let grace = opts
            .grace_period
            .or_else(|| {
                obj.pointer("/spec/terminationGracePeriodSeconds")
                    .and_then(Value::as_i64)
            })
            .unwrap_or(30);
        (grace > 0).then_some(grace)
    }

    /// The kubelet's last step of a graceful pod deletion: the pod (if still the same
    /// uid and without finalizers) goes.
    pub fn finish_pod_deletion(&mut self, ns: &str, name: &str, uid: &str) {
        let gr = GroupResource {
            group: String::new(),
            resource: "pods".into(),
        };
        let key = (ns.to_owned(), name.to_owned());
        let Some(obj) = self.objects.get(&gr).and_then(|b| b.get(&key)).cloned() else {
            return;
        };
        if meta_str(&obj, "uid") != Some(uid) || !finalizers(&obj).is_empty() {
            return;
        }
        self.remove(&gr, &key, obj);
        self.gc();
    }

    /// Replaces a stored object (not only its status) on behalf of a controller, if it
    /// changed; returns the stored object.
    pub fn write_object(
        &mut self,
        gr: &GroupResource,
        ns: &str,
        name: &str,
        new: Value,
        manager: &str,
    ) -> Option<Value> {
        let def = self.registry.find_gr(gr).cloned()?;
        let old = self.stored(&def, Some(ns), name).ok()?;
        if old == new {
            return Some(old);
        }
        let ctx = WriteCtx {
            field_manager: Some(manager.into()),
            ..WriteCtx::default()
        };
        match self.commit(&def, Some(ns), name, old, new, false, &ctx) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(%e, "{manager} write of {ns}/{name}");
                None
            }
        }
    }

    /// Whether every owner an object references is gone (the garbage collector then
    /// deletes it). Owners of kinds this server does not serve count as present.
    fn owners_all_gone(&self, obj: &Value) -> bool {
        let Some(refs) = obj
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .filter(|r| !r.is_empty())
        else {
            return false;
        };
        let ns = meta_str(obj, "namespace").unwrap_or("");
        refs.iter().all(|r| {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
            let Some(def) = self.registry.find_kind(s("apiVersion"), s("kind")) else {
                return false;
            };
            let key = (
                if def.namespaced {
                    ns.to_owned()
                } else {
                    String::new()
                },
                s("name").to_owned(),
            );
            self.bucket(&def.gr())
                .and_then(|b| b.get(&key))
                .and_then(|o| meta_str(o, "uid"))
                != Some(s("uid"))
        })
    }

    fn namespace_has_content(&self, ns: &str) -> bool {
        self.objects
            .values()
            .any(|b| b.keys().any(|(n, _)| n == ns))
    }

    /// Deletes every object matching the selectors in `ns`.
    pub fn delete_collection(
        &mut self,
        def: &ResourceDef,
        ns: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
        opts: &DeleteOpts,
    ) -> Result<Vec<Value>, ApiError> {
        let names: Vec<(String, String)> = self
            .list(def, ns, labels, fields)
            .iter()
            .map(|o| {
                (
                    meta_str(o, "namespace").unwrap_or("").to_owned(),
                    meta_str(o, "name").unwrap_or("").to_owned(),
                )
            })
            .collect();
        let mut out = Vec::new();
        for (n, name) in names {
            let n = if n.is_empty() { None } else { Some(n.as_str()) };
            out.push(self.delete(def, n, &name, opts)?);
        }
        Ok(out)
    }

    /// Garbage collection to a fixpoint: dependents of vanished owners, foreground and
    /// orphan finalizers, and namespaces whose content is gone.
    fn gc(&mut self) {
        for _ in 0..64 {
            if !self.gc_pass() {
                return;
            }
        }
    }

    fn uid_index(&self) -> HashMap<String, (GroupResource, ObjKey)> {
        let mut idx = HashMap::new();
        for (gr, b) in &self.objects {
            for (k, o) in b {
                if let Some(uid) = meta_str(o, "uid") {
                    idx.insert(uid.to_owned(), (gr.clone(), k.clone()));
                }
            }
        }
        idx
    }

    fn gc_pass(&mut self) -> bool {
        let idx = self.uid_index();
        let all: Vec<Value> = self
            .objects
            .values()
            .flat_map(|b| b.values().cloned())
            .collect();
        let mut changed = false;
        // Background collection: objects whose owners are all gone.
        for uid in semantics::gc::dangling_dependents(&all) {
            if let Some((gr, key)) = idx.get(&uid) {
                changed |= self.gc_delete(gr, key, Propagation::Background);
            }
        }
        // Owners being deleted with foreground / orphan / namespace finalizers.
        let deleting: Vec<(GroupResource, ObjKey, Value)> = self
            .objects
            .iter()
            .flat_map(|(gr, b)| {
                b.iter()
                    .filter(|(_, o)| o.pointer("/metadata/deletionTimestamp").is_some())
                    .map(|(k, o)| (gr.clone(), k.clone(), o.clone()))
            })
            .collect();
        for (gr, key, obj) in deleting {
            let uid = meta_str(&obj, "uid").unwrap_or("").to_owned();
            let fins = finalizers(&obj);
            let mut remove_fin: Option<&str> = None;
            if fins.iter().any(|f| f == semantics::gc::ORPHAN_FINALIZER) {
                if let Ok(plan) =
                    semantics::gc::plan_deletion(&all, &uid, semantics::gc::Propagation::Orphan)
                {
                    for dep in plan.remove_owner_ref {
                        if let Some((g, k)) = idx.get(&dep) {
                            self.strip_owner_ref(g, k, &uid);
                        }
                    }
                }
                remove_fin = Some(semantics::gc::ORPHAN_FINALIZER);
            } else if fins
                .iter()
                .any(|f| f == semantics::gc::FOREGROUND_FINALIZER)
            {
                if let Ok(plan) =
                    semantics::gc::plan_deletion(&all, &uid, semantics::gc::Propagation::Foreground)
                {
                    for d in plan.delete {
                        if let Some((g, k)) = idx.get(&d.uid) {
                            let p = match d.propagation {
                                semantics::gc::Propagation::Foreground => Propagation::Foreground,
                                semantics::gc::Propagation::Orphan => Propagation::Orphan,
                                semantics::gc::Propagation::Background => Propagation::Background,
                            };
                            changed |= self.gc_delete(g, k, p);
                        }
                    }
                    for dep in plan.remove_owner_ref {
                        if let Some((g, k)) = idx.get(&dep) {
                            self.strip_owner_ref(g, k, &uid);
                        }
                    }
                }
                let current: Vec<Value> = self
                    .objects
                    .values()
                    .flat_map(|b| b.values().cloned())
                    .collect();
                if semantics::gc::blocking_dependents(&current, &uid).is_empty() {
                    remove_fin = Some(semantics::gc::FOREGROUND_FINALIZER);
                }
            } else if fins.iter().any(|f| f == "kubernetes")
                && gr.group.is_empty()
                && gr.resource == "namespaces"
            {
                let ns = key.1.clone();
                let contents: Vec<(GroupResource, ObjKey)> = self
                    .objects
                    .iter()
                    .flat_map(|(g, b)| {
                        b.keys()
                            .filter(|(n, _)| *n == ns)
                            .map(|k| (g.clone(), k.clone()))
                    })
                    .collect();
                if contents.is_empty() {
                    remove_fin = Some("kubernetes");
                } else {
                    for (g, k) in contents {
                        changed |= self.gc_delete(&g, &k, Propagation::Background);
                    }
                }
            }
            if let Some(f) = remove_fin {
                let mut new = obj.clone();
                let rest: Vec<String> = fins.into_iter().filter(|x| x != f).collect();
                set_finalizers(&mut new, rest.clone());
                if rest.is_empty() {
                    self.remove(&gr, &key, new);
                } else {
                    let rv = self.next_rv();
                    meta_mut(&mut new).insert("resourceVersion".into(), json!(rv.to_string()));
                    self.objects
                        .entry(gr.clone())
                        .or_default()
                        .insert(key.clone(), new.clone());
                    self.emit(&gr, EventType::Modified, new, Some(obj));
                }
                changed = true;
            }
        }
        changed
    }

    fn strip_owner_ref(&mut self, gr: &GroupResource, key: &ObjKey, uid: &str) {
        let Some(old) = self.objects.get(gr).and_then(|b| b.get(key)).cloned() else {
            return;
        };
        let mut new = semantics::gc::remove_owner_references(&old, &[uid]);
        if new == old {
            return;
        }
        let rv = self.next_rv();
        meta_mut(&mut new).insert("resourceVersion".into(), json!(rv.to_string()));
        self.objects
            .entry(gr.clone())
            .or_default()
            .insert(key.clone(), new.clone());
        self.emit(gr, EventType::Modified, new, Some(old));
    }

    fn gc_delete(&mut self, gr: &GroupResource, key: &ObjKey, p: Propagation) -> bool {
        let Some(def) = self.registry.find_gr(gr).cloned() else {
            return false;
        };
        let Some(obj) = self.objects.get(gr).and_then(|b| b.get(key)) else {
            return false;
        };
        if obj.pointer("/metadata/deletionTimestamp").is_some() {
            return false;
        }
        let ns = if key.0.is_empty() {
            None
        } else {
            Some(key.0.clone())
        };
        let opts = DeleteOpts {
            propagation: p,
            ..DeleteOpts::default()
        };
        self.delete(&def, ns.as_deref(), &key.1, &opts).is_ok()
    }

    /// Validates a CRD, fills its status, and returns the resources it will serve.
    fn prepare_crd(&self, crd: &mut Value) -> Result<Vec<ResourceDef>, ApiError> {
        let name = meta_str(crd, "name").unwrap_or("").to_owned();
        let typed: CustomResourceDefinition = serde_json::from_value(crd.clone()).map_err(|e| {
            ApiError::invalid(
                "CustomResourceDefinition",
                &name,
                &[(String::new(), e.to_string())],
            )
        })?;
        let spec = &typed.spec;
        let expected = format!("{}.{}", spec.names.plural, spec.group);
        if name != expected {
            return Err(ApiError::invalid(
                "CustomResourceDefinition",
                &name,
                &[(
                    "metadata.name".into(),
                    format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
                )],
            ));
        }
        let validator = SchemaSet::from_crds(std::slice::from_ref(&typed))
            .map(Arc::new)
            .map_err(|e| {
                ApiError::invalid(
                    "CustomResourceDefinition",
                    &name,
                    &[("spec.versions".into(), e.to_string())],
                )
            })?;
        let crd_json = crd.clone();
        let mut defs = Vec::new();
        for (i, v) in spec.versions.iter().enumerate() {
            if !v.served {
                continue;
            }
            let schema = crd_json
                .pointer(&format!("/spec/versions/{i}/schema/openAPIV3Schema"))
                .cloned();
            let printer_columns = crd_json
                .pointer(&format!("/spec/versions/{i}/additionalPrinterColumns"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            defs.push(ResourceDef {
                group: spec.group.clone(),
                version: v.name.clone(),
                plural: spec.names.plural.clone(),
                singular: spec
                    .names
                    .singular
                    .clone()
                    .unwrap_or_else(|| spec.names.kind.to_lowercase()),
                kind: spec.names.kind.clone(),
                namespaced: spec.scope == "Namespaced",
                short_names: spec.names.short_names.clone().unwrap_or_default(),
                categories: spec.names.categories.clone().unwrap_or_default(),
                has_status: v.subresources.as_ref().is_some_and(|s| s.status.is_some()),
                crd: Some(CrdInfo {
                    crd_name: name.clone(),
                    printer_columns,
                    schema,
                    validator: Some(validator.clone()),
                    scale: v
                        .subresources
                        .as_ref()
                        .and_then(|s| s.scale.as_ref())
                        .and_then(|_| {
                            crd_json
                                .pointer(&format!("/spec/versions/{i}/subresources/scale"))
                                .and_then(super::registry::ScalePaths::from_crd)
                        }),
                }),
            });
        }
        let now = util::now_rfc3339();
        let stored: Vec<String> = spec
            .versions
            .iter()
            .filter(|v| v.storage)
            .map(|v| v.name.clone())
            .collect();
        let names = crd_json
            .pointer("/spec/names")
            .cloned()
            .unwrap_or_else(|| json!({}));
        crd["status"] = json!({
            "acceptedNames": names,
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
            ],
            "storedVersions": stored,
        });
        Ok(defs)
    }

    fn install_crd(&mut self, crd_name: &str, defs: Vec<ResourceDef>) {
        self.registry
            .resources
            .retain(|r| r.crd.as_ref().is_none_or(|c| c.crd_name != crd_name));
        self.registry.resources.extend(defs);
    }

    fn uninstall_crd(&mut self, crd_name: &str) {
        let grs: Vec<GroupResource> = self
            .registry
            .resources
            .iter()
            .filter(|r| r.crd.as_ref().is_some_and(|c| c.crd_name == crd_name))
            .map(ResourceDef::gr)
            .collect();
        self.registry
            .resources
            .retain(|r| r.crd.as_ref().is_none_or(|c| c.crd_name != crd_name));
        for gr in grs {
            if let Some(b) = self.objects.remove(&gr) {
                for (_, obj) in b {
                    let rv = self.next_rv();
                    let mut obj = obj;
                    meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
                    self.emit(&gr, EventType::Deleted, obj, None);
                }
            }
        }
    }

    /// Writes a status computed outside (a controller or the kubelet) if it differs.
    pub fn write_status(&mut self, gr: &GroupResource, ns: &str, name: &str, status: Value) {
        let Some(def) = self.registry.find_gr(gr).cloned() else {
            return;
        };
        let Ok(old) = self.stored(&def, Some(ns), name) else {
            return;
        };
        if old.get("status") == Some(&status) {
            return;
        }
        let mut new = old.clone();
        new["status"] = status;
        let ctx = WriteCtx {
            field_manager: Some(
                match gr.resource.as_str() {
                    "pods" => "kubelet",
                    "replicasets" => "replicaset-controller",
                    "jobs" => "job-controller",
                    _ => "deployment-controller",
                }
                .into(),
            ),
            ..WriteCtx::default()
        };
        if let Err(e) = self.commit(&def, Some(ns), name, old, new, true, &ctx) {
            tracing::warn!(%e, "controller status write for {ns}/{name}");
        }
    }
}

/// The object as served at `def`'s version.
pub fn present(def: &ResourceDef, obj: &Value) -> Value {
    let mut o = obj.clone();
    o["apiVersion"] = json!(def.api_version());
    o
}

fn check_kind(def: &ResourceDef, obj: &Value) -> Result<(), ApiError> {
    if let Some(kind) = obj.get("kind").and_then(Value::as_str)
        && !kind.is_empty()
        && kind != def.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the object ({kind}) does not match the resource ({})",
            def.kind
        )));
    }
    Ok(())
}

/// Parses a body as YAML (JSON is YAML too).
pub fn parse_yaml_or_json(body: &[u8]) -> Result<Value, ApiError> {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Ok(v);
    }
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

fn default_builtin(def: &ResourceDef, obj: &mut Value) {
    match (def.group.as_str(), def.kind.as_str()) {
        ("", "Namespace") => {
            if obj.pointer("/status/phase").is_none() {
                obj["status"] = json!({"phase": "Active"});
            }
            let name = meta_str(obj, "name").unwrap_or("").to_owned();
            let m = meta_mut(obj);
            let labels = m.entry("labels").or_insert_with(|| json!({}));
            if let Some(l) = labels.as_object_mut() {
                l.insert("kubernetes.io/metadata.name".into(), json!(name));
            }
            if obj.pointer("/spec/finalizers").is_none() {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
            }
        }
        ("", "Secret") => {
            // stringData is write-only: merged into data (base64), as the real server does.
            let string_data = obj.as_object_mut().and_then(|m| m.remove("stringData"));
            if let Some(Value::Object(sd)) = string_data {
                let data = obj
                    .as_object_mut()
                    .map(|m| m.entry("data").or_insert_with(|| json!({})));
                if let Some(Value::Object(d)) = data {
                    for (k, v) in sd {
                        let text = v.as_str().unwrap_or("").as_bytes().to_vec();
                        d.insert(k, json!(super::protobuf::base64(&text)));
                    }
                }
            }
            if obj
                .get("type")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                obj["type"] = json!("Opaque");
            }
        }
        ("apps", "Deployment") => {
            let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
                return;
            };
            spec.entry("replicas").or_insert(json!(1));
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            spec.entry("progressDeadlineSeconds").or_insert(json!(600));
            spec.entry("strategy").or_insert(json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}));
        }
        ("batch", "Job") => {
            let name = meta_str(obj, "name").unwrap_or("").to_owned();
            let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
                return;
            };
            if !spec.contains_key("completions") && !spec.contains_key("parallelism") {
                spec.insert("completions".into(), json!(1));
                spec.insert("parallelism".into(), json!(1));
            }
            spec.entry("parallelism").or_insert(json!(1));
            // With a limit per index the Job's own limit is off, as in Kubernetes.
            let backoff = if spec.contains_key("backoffLimitPerIndex") {
                i64::from(i32::MAX)
            } else {
                6
            };
            spec.entry("backoffLimit").or_insert(json!(backoff));
            spec.entry("completionMode").or_insert(json!("NonIndexed"));
            spec.entry("suspend").or_insert(json!(false));
            // The selector by job name (the real one uses the controller uid, which does
            // not exist yet here); kubectl finds a Job's pods through it.
            if spec.get("manualSelector") != Some(&json!(true)) && !spec.contains_key("selector") {
                spec.insert(
                    "selector".into(),
                    json!({"matchLabels": {"batch.kubernetes.io/job-name": name}}),
                );
                if let Some(t) = spec.get_mut("template") {
                    t["metadata"]["labels"]["batch.kubernetes.io/job-name"] = json!(name);
                    t["metadata"]["labels"]["job-name"] = json!(name);
                }
            }
        }
        ("apps", "ReplicaSet") => {
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                spec.entry("replicas").or_insert(json!(1));
            }
        }
        ("", "Pod") => {
            let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
                return;
            };
            spec.entry("restartPolicy").or_insert(json!("Always"));
            spec.entry("terminationGracePeriodSeconds")
                .or_insert(json!(30));
            spec.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
            spec.entry("schedulerName")
                .or_insert(json!("default-scheduler"));
            spec.entry("serviceAccountName").or_insert(json!("default"));
            mount_service_account_token(spec);
        }
        ("", "Service") => {
            let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
                return;
            };
            spec.entry("type").or_insert(json!("ClusterIP"));
            spec.entry("sessionAffinity").or_insert(json!("None"));
            if spec.get("type") == Some(&json!("ClusterIP")) && !spec.contains_key("clusterIP") {
                let r = util::random_u64();
                let ip = format!("10.96.{}.{}", (r >> 8) % 256, (r % 254) + 1);
                spec.insert("clusterIP".into(), json!(ip));
                spec.insert("clusterIPs".into(), json!([ip]));
            }
        }
        _ => {}
    }
}

/// Where a pod's ServiceAccount credentials are mounted (what in-cluster clients read).
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The ServiceAccount admission plugin's volume: unless the pod opts out
/// (`automountServiceAccountToken: false`), a projected `kube-api-access-*` volume with a
/// bound token, `ca.crt` from `kube-root-ca.crt` and the namespace, mounted read-only in
/// every container that does not already mount something there. (The ServiceAccount's
/// own `automountServiceAccountToken` is not consulted.)
fn mount_service_account_token(spec: &mut serde_json::Map<String, Value>) {
    if spec.get("automountServiceAccountToken") == Some(&json!(false)) {
        return;
    }
    let mounted_somewhere = |spec: &serde_json::Map<String, Value>| {
        spec.get("containers")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c["volumeMounts"].as_array().is_some_and(|ms| {
                        ms.iter()
                            .any(|m| m["mountPath"].as_str() == Some(SERVICE_ACCOUNT_DIR))
                    })
                })
            })
    };
    if mounted_somewhere(spec) {
        return;
    }
    let name = format!("kube-api-access-{}", &util::new_uid()[..5]);
    let volume = json!({
        "name": name,
        "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
        ]}
    });
    match spec.get_mut("volumes").and_then(Value::as_array_mut) {
        Some(vs) => vs.push(volume),
        None => {
            spec.insert("volumes".into(), json!([volume]));
        }
    }
    if let Some(cs) = spec.get_mut("containers").and_then(Value::as_array_mut) {
        for c in cs {
            let mount = json!({"name": name, "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": true});
            match c.get_mut("volumeMounts").and_then(Value::as_array_mut) {
                Some(ms) => ms.push(mount),
                None => c["volumeMounts"] = json!([mount]),
            }
        }
    }
}

/// The object without `metadata.managedFields`, to tell a real change from bookkeeping.
fn without_managed_fields(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    o
}
