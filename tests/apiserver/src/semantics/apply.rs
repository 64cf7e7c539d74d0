//! Server-side apply and field management, after `sigs.k8s.io/structured-merge-diff`
//! (the `Updater`) and `k8s.io/apimachinery/pkg/util/managedfields`.
//!
//! - [`apply`]: merges an applied configuration into the live object, checks it against
//!   the other managers' fields (conflicts unless forced), records the applier's
//!   fields (operation `Apply`) and removes fields it applied before but omits now.
//! - [`record_update`]: after any other write (create, update, patch, status), moves the
//!   changed fields to the writer (operation `Update`), so client-side and server-side
//!   apply mix as in a real cluster.
//!
//! Field sets use the FieldsV1 encoding: `f:<field>`, `k:{"name":"x"}` for items of
//! list-maps (by their keys), `v:<json>` for items of sets, `.` for a node that is itself
//! owned and has children. List shapes come from [`SchemaHints`]: a CRD's
//! `x-kubernetes-list-type`/`x-kubernetes-list-map-keys`, or the strategic-merge key table
//! of [`crate::semantics::patch::builtin_list_strategy`] for built-in kinds.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::patch::{ListStrategy, builtin_list_strategy};

/// Where the shapes of lists and maps come from.
#[derive(Debug, Clone, Copy)]
pub enum SchemaHints<'a> {
    /// A custom resource: the served version's `openAPIV3Schema`. Lists are atomic unless
    /// `x-kubernetes-list-type` says `map` (keyed by `x-kubernetes-list-map-keys`) or
    /// `set`; maps are granular unless `x-kubernetes-map-type: atomic`.
    Crd(&'a Value),
    /// A built-in kind, by `kind`: lists follow the strategic-merge key table.
    Builtin(&'a str),
    /// No schema: every list atomic, every object granular.
    None,
}

/// Who writes, and when: the identity of a managedFields entry.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    /// The field manager (`?fieldManager=`, or the server's default for the client).
    pub manager: &'a str,
    /// `Some("status")` for writes through a subresource.
    pub subresource: Option<&'a str>,
    /// RFC 3339 timestamp recorded in the entry (passed in to keep this module pure).
    pub time: &'a str,
}

/// One field owned by another manager that the apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The owner as the real server prints it: `"name"`, or `"name" using apps/v1` for
    /// an Update entry, with ` with subresource "status"` when through a subresource.
    pub manager: String,
    /// The field, e.g. `.spec.replicas` or `.spec.containers[name="app"].image`.
    pub field: String,
}

/// Why an apply failed. [`ApplyError::code`]/[`ApplyError::reason`] give the `Status`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// Other managers own fields the apply would change, and `force` was not set. The
    /// message is the real server's (`Apply failed with N conflicts: ...`); each
    /// conflict is also a `Status` cause of type `FieldManagerConflict`.
    #[error("{message}")]
    Conflicts {
        /// The message, word for word as the real server builds it.
        message: String,
        /// Each conflict, sorted by manager then field.
        conflicts: Vec<Conflict>,
    },
    /// The applied configuration is malformed (not an object, managedFields set, a
    /// list-map item without its key, ...).
    #[error("{0}")]
    Invalid(String),
}

impl ApplyError {
    /// The `Status.details.causes` of the real server's answer: one
    /// `{"type": "FieldManagerConflict", "message": "conflict with \"m\"", "field": ...}`
    /// per conflict; empty for other errors.
    pub fn causes(&self) -> Vec<Value> {
        match self {
            ApplyError::Conflicts { conflicts, .. } => conflicts
                .iter()
                .map(|c| {
                    json!({"type": "FieldManagerConflict",
                           "message": format!("conflict with {}", c.manager),
                           "field": c.field})
                })
                .collect(),
            ApplyError::Invalid(_) => Vec::new(),
        }
    }

    /// HTTP status code of the `Status` to answer with (409 for conflicts).
    pub fn code(&self) -> u16 {
        match self {
            ApplyError::Conflicts { .. } => 409,
            ApplyError::Invalid(_) => 400,
        }
    }

    /// `Status.reason` to answer with.
    pub fn reason(&self) -> &'static str {
        match self {
            ApplyError::Conflicts { .. } => "Conflict",
            ApplyError::Invalid(_) => "BadRequest",
        }
    }
}

/// A field path: FieldsV1 path elements (`f:spec`, `k:{"name":"x"}`, `v:"a"`, ...).
type FieldPath = Vec<String>;
type FieldSet = BTreeSet<FieldPath>;

/// Cursor over the schema while walking an object, to find each node's shape.
#[derive(Debug, Clone)]
struct Cursor<'a> {
    schema: Option<&'a Value>,
    /// Built-in kind whose table applies; `Some("")` for metadata of custom resources.
    builtin: Option<&'a str>,
    names: Vec<String>,
}

/// Shape of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ListKind {
    Atomic,
    Set,
    Map(Vec<String>),
}

impl<'a> Cursor<'a> {
    fn root(hints: SchemaHints<'a>) -> Self {
        match hints {
            SchemaHints::Crd(s) => Cursor {
                schema: Some(s),
                builtin: None,
                names: Vec::new(),
            },
            SchemaHints::Builtin(k) => Cursor {
                schema: None,
                builtin: Some(k),
                names: Vec::new(),
            },
            SchemaHints::None => Cursor {
                schema: None,
                builtin: None,
                names: Vec::new(),
            },
        }
    }

    fn child(&self, field: &str) -> Self {
        let mut names = self.names.clone();
        names.push(field.to_owned());
        // metadata is ObjectMeta whatever a CRD schema says: use the built-in table.
        if self.names.is_empty() && field == "metadata" && self.builtin.is_none() {
            return Cursor {
                schema: None,
                builtin: Some(""),
                names,
            };
        }
        let schema = self.schema.and_then(|s| {
            s.get("properties")
                .and_then(|p| p.get(field))
                .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
        });
        Cursor {
            schema,
            builtin: self.builtin,
            names,
        }
    }

    fn items(&self) -> Self {
        Cursor {
            schema: self.schema.and_then(|s| s.get("items")),
            builtin: self.builtin,
            names: self.names.clone(),
        }
    }

    fn list_kind(&self) -> ListKind {
        if let Some(s) = self.schema {
            return match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("map") => {
                    let keys: Vec<String> = s
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default();
                    if keys.is_empty() {
                        ListKind::Atomic
                    } else {
                        ListKind::Map(keys)
                    }
                }
                Some("set") => ListKind::Set,
                _ => ListKind::Atomic,
            };
        }
        let Some(kind) = self.builtin else {
            return ListKind::Atomic;
        };
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        match builtin_list_strategy(kind, &names) {
            // The list-map keys of the real schemas, where they are wider than the
            // strategic merge key.
            ListStrategy::Merge { key } => ListKind::Map(match key {
                "containerPort" | "port" => vec![key.to_owned(), "protocol".to_owned()],
                "topologyKey" => vec![key.to_owned(), "whenUnsatisfiable".to_owned()],
                _ => vec![key.to_owned()],
            }),
            ListStrategy::MergePrimitive => ListKind::Set,
            ListStrategy::Atomic => ListKind::Atomic,
        }
    }

    fn map_atomic(&self) -> bool {
        self.schema
            .and_then(|s| s.get("x-kubernetes-map-type"))
            .and_then(Value::as_str)
            == Some("atomic")
    }

    /// A map of entries (additionalProperties) rather than a struct: entries are members.
    fn is_entry_map(&self) -> bool {
        self.schema.is_some_and(|s| {
            s.get("additionalProperties").is_some_and(Value::is_object)
                && s.get("properties").is_none()
        })
    }
}

fn encode(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Defaults of list-map key fields (the built-in schemas default `protocol` to TCP, and
/// the real server keys ports by `{"containerPort":80,"protocol":"TCP"}` even when the
/// configuration omits the protocol).
fn key_default(field: &str) -> Option<Value> {
    (field == "protocol").then(|| json!("TCP"))
}

/// The value of key field `k` of a list item, defaulted.
fn key_value(item: &Value, k: &str) -> Option<Value> {
    item.get(k).cloned().or_else(|| key_default(k))
}

/// Whether a list item has these key field values.
fn has_keys(item: &Value, fields: &Map<String, Value>) -> bool {
    fields
        .iter()
        .all(|(k, v)| key_value(item, k).as_ref() == Some(v))
}

/// The `k:{...}` element of a list-map item, or `None` when a key field is missing.
fn key_element(item: &Value, keys: &[String]) -> Option<String> {
    let mut fields = BTreeMap::new();
    for k in keys {
        fields.insert(k.clone(), key_value(item, k)?);
    }
    let obj: Map<String, Value> = fields.into_iter().collect();
    Some(format!("k:{}", encode(&Value::Object(obj))))
}

/// The path element of each item of a list, or why the list cannot be keyed.
fn list_elements(items: &[Value], kind: &ListKind) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let pe = match kind {
            ListKind::Map(keys) => key_element(item, keys).ok_or_else(|| {
                format!(
                    "element {i}: associative list with keys has an element that omits key field {:?}",
                    keys.join(",")
                )
            })?,
            ListKind::Set => {
                if item.is_object() || item.is_array() {
                    return Err(format!("element {i}: set items must be scalars"));
                }
                format!("v:{}", encode(item))
            }
            ListKind::Atomic => format!("i:{i}"),
        };
        if out.contains(&pe) {
            return Err(format!("duplicate entries for key {}", &pe[2..]));
        }
        out.push(pe);
    }
    Ok(out)
}

/// All fields of `value` as a field set. Strict: a list-map item without its key is an
/// error; otherwise such a list is owned as a whole.
fn to_field_set(value: &Value, cur: &Cursor, strict: bool) -> Result<FieldSet, String> {
    let mut set = FieldSet::new();
    walk(value, cur, &mut Vec::new(), &mut set, strict)?;
    strip(&mut set);
    Ok(set)
}

fn walk(
    value: &Value,
    cur: &Cursor,
    path: &mut FieldPath,
    set: &mut FieldSet,
    strict: bool,
) -> Result<(), String> {
    match value {
        Value::Object(m) => {
            if cur.map_atomic() && !path.is_empty() {
                set.insert(path.clone());
                return Ok(());
            }
            let entries = cur.is_entry_map();
            for (k, child) in m {
                path.push(format!("f:{k}"));
                walk(child, &cur.child(k), path, set, strict)?;
                let empty_map = child.as_object().is_some_and(Map::is_empty);
                if child.is_null() || empty_map || entries {
                    set.insert(path.clone());
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            let kind = cur.list_kind();
            if kind == ListKind::Atomic {
                set.insert(path.clone());
                return Ok(());
            }
            let elements = match list_elements(items, &kind) {
                Ok(e) => e,
                Err(e) if strict => return Err(format!("{}: {e}", display_path(path))),
                Err(_) => {
                    set.insert(path.clone());
                    return Ok(());
                }
            };
            let item_cur = cur.items();
            for (item, pe) in items.iter().zip(elements) {
                path.push(pe);
                if matches!(kind, ListKind::Map(_)) {
                    walk(item, &item_cur, path, set, strict)?;
                }
                set.insert(path.clone());
                path.pop();
            }
        }
        _ => {
            set.insert(path.clone());
        }
    }
    Ok(())
}

/// Fields nobody manages (identity and server-owned metadata), as in the real
/// field manager's strip set.
fn strip(set: &mut FieldSet) {
    const META: [&str; 11] = [
        "f:name",
        "f:namespace",
        "f:creationTimestamp",
        "f:selfLink",
        "f:uid",
        "f:clusterName",
        "f:generation",
        "f:managedFields",
        "f:resourceVersion",
        "f:deletionTimestamp",
        "f:deletionGracePeriodSeconds",
    ];
    set.retain(|p| match p.as_slice() {
        [] => false,
        [first, ..] if first == "f:apiVersion" || first == "f:kind" => false,
        [first] if first == "f:metadata" => false,
        [first, second, ..] if first == "f:metadata" => !META.contains(&second.as_str()),
        _ => true,
    });
}

/// Human form of a path, as the real server prints it in conflicts.
fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for pe in path {
        if let Some(f) = pe.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = pe.strip_prefix("k:") {
            let fields: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = pe.strip_prefix("v:") {
            out.push_str(&format!("[={v}]"));
        } else if let Some(i) = pe.strip_prefix("i:") {
            out.push_str(&format!("[{i}]"));
        }
    }
    out
}

/// The value at a field path, if present.
fn get_at<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut cur = value;
    for pe in path {
        cur = if let Some(f) = pe.strip_prefix("f:") {
            cur.get(f)?
        } else if let Some(k) = pe.strip_prefix("k:") {
            let fields: Map<String, Value> = serde_json::from_str(k).ok()?;
            cur.as_array()?
                .iter()
                .find(|item| has_keys(item, &fields))?
        } else if let Some(v) = pe.strip_prefix("v:") {
            let v: Value = serde_json::from_str(v).ok()?;
            cur.as_array()?.iter().find(|item| **item == v)?
        } else if let Some(i) = pe.strip_prefix("i:") {
            cur.as_array()?.get(i.parse::<usize>().ok()?)?
        } else {
            return None;
        };
    }
    Some(cur)
}

/// Removes the node at `path` from `value`; false if it was not there.
fn remove_at(value: &mut Value, path: &[String]) -> bool {
    let Some((last, parent_path)) = path.split_last() else {
        return false;
    };
    let mut cur = value;
    for pe in parent_path {
        let next = if let Some(f) = pe.strip_prefix("f:") {
            cur.get_mut(f)
        } else if pe.starts_with("k:") || pe.starts_with("v:") {
            let idx = cur
                .as_array()
                .and_then(|a| a.iter().position(|item| matches(item, pe)));
            match idx {
                Some(i) => cur.get_mut(i),
                None => None,
            }
        } else if let Some(i) = pe.strip_prefix("i:") {
            i.parse::<usize>().ok().and_then(|i| cur.get_mut(i))
        } else {
            None
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        return cur.as_object_mut().is_some_and(|m| m.remove(f).is_some());
    }
    if let Some(items) = cur.as_array_mut()
        && let Some(i) = items.iter().position(|item| matches(item, last))
    {
        items.remove(i);
        return true;
    }
    false
}

/// Whether a list item is the one a `k:`/`v:` element names.
fn matches(item: &Value, pe: &str) -> bool {
    if let Some(k) = pe.strip_prefix("k:") {
        let Ok(fields) = serde_json::from_str::<Map<String, Value>>(k) else {
            return false;
        };
        has_keys(item, &fields)
    } else if let Some(v) = pe.strip_prefix("v:") {
        serde_json::from_str::<Value>(v).is_ok_and(|v| *item == v)
    } else {
        false
    }
}

/// Structural merge of an applied configuration into the live object.
fn merge(live: &Value, applied: &Value, cur: &Cursor) -> Value {
    match (live, applied) {
        (Value::Object(l), Value::Object(r)) if !cur.map_atomic() || cur.names.is_empty() => {
            let mut out = l.clone();
            for (k, rv) in r {
                let merged = match l.get(k) {
                    Some(lv) => merge(lv, rv, &cur.child(k)),
                    None => rv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(r)) => {
            let kind = cur.list_kind();
            if kind == ListKind::Atomic {
                return applied.clone();
            }
            let (Ok(le), Ok(re)) = (list_elements(l, &kind), list_elements(r, &kind)) else {
                return applied.clone();
            };
            let item_cur = cur.items();
            let merge_item = |j: usize| -> Value {
                match le.iter().position(|e| *e == re[j]) {
                    Some(i) if matches!(kind, ListKind::Map(_)) => merge(&l[i], &r[j], &item_cur),
                    _ => r[j].clone(),
                }
            };
            // The applied order wins; live-only items stay where they were.
            let mut out = Vec::with_capacity(l.len() + r.len());
            let mut next_r = 0;
            for (i, pe) in le.iter().enumerate() {
                match re.iter().position(|e| e == pe) {
                    Some(j) if j >= next_r => {
                        for k in next_r..=j {
                            out.push(merge_item(k));
                        }
                        next_r = j + 1;
                    }
                    Some(_) => {}
                    None => out.push(l[i].clone()),
                }
            }
            for k in next_r..r.len() {
                out.push(merge_item(k));
            }
            Value::Array(out)
        }
        _ => applied.clone(),
    }
}

/// Fields added, removed and modified (leaf values only) from `old` to `new`.
struct Comparison {
    added: FieldSet,
    removed: FieldSet,
    modified: FieldSet,
}

impl Comparison {
    fn changed(&self) -> FieldSet {
        self.added.union(&self.modified).cloned().collect()
    }
}

fn compare(old: &Value, new: &Value, cur: &Cursor, strict: bool) -> Result<Comparison, String> {
    let o = to_field_set(old, cur, strict)?;
    let n = to_field_set(new, cur, strict)?;
    let added: FieldSet = n.difference(&o).cloned().collect();
    let removed: FieldSet = o.difference(&n).cloned().collect();
    let modified: FieldSet = o
        .intersection(&n)
        .filter(|p| !has_descendant(&o, p) && !has_descendant(&n, p))
        .filter(|p| get_at(old, p) != get_at(new, p))
        .cloned()
        .collect();
    Ok(Comparison {
        added,
        removed,
        modified,
    })
}

fn has_descendant(set: &FieldSet, p: &FieldPath) -> bool {
    set.range(p.clone()..)
        .skip_while(|q| *q == p)
        .take_while(|q| q.starts_with(p))
        .next()
        .is_some()
}

/// One managedFields entry, decoded.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    subresource: String,
    time: Option<String>,
    set: FieldSet,
}

impl Entry {
    fn same_identity(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == "Apply" || self.api_version == other.api_version)
    }

    /// As the real server prints a manager in conflict messages.
    fn printed(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation));
        m.insert("apiVersion".into(), json!(self.api_version));
        if let Some(t) = &self.time {
            m.insert("time".into(), json!(t));
        }
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), fields_v1(&self.set));
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), json!(self.subresource));
        }
        Value::Object(m)
    }
}

/// Encodes a field set as FieldsV1 JSON.
fn fields_v1(set: &FieldSet) -> Value {
    #[derive(Default)]
    struct Node {
        member: bool,
        children: BTreeMap<String, Node>,
    }
    fn to_json(n: &Node) -> Value {
        let mut m = Map::new();
        if n.member && !n.children.is_empty() {
            m.insert(".".into(), json!({}));
        }
        for (k, c) in &n.children {
            m.insert(k.clone(), to_json(c));
        }
        Value::Object(m)
    }
    let mut root = Node::default();
    for path in set {
        let mut n = &mut root;
        for pe in path {
            n = n.children.entry(pe.clone()).or_default();
        }
        n.member = true;
    }
    to_json(&root)
}

/// Decodes FieldsV1 JSON into a field set (unknown shapes are skipped).
fn parse_fields_v1(v: &Value, prefix: &mut FieldPath, set: &mut FieldSet) {
    let Some(m) = v.as_object() else {
        return;
    };
    if m.is_empty() && !prefix.is_empty() {
        set.insert(prefix.clone());
    }
    for (k, child) in m {
        if k == "." {
            if !prefix.is_empty() {
                set.insert(prefix.clone());
            }
            continue;
        }
        prefix.push(k.clone());
        parse_fields_v1(child, prefix, set);
        prefix.pop();
    }
}

fn str_of(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_owned()
}

/// The managedFields entries of an object (malformed entries are dropped, as the real
/// server resets managedFields it cannot decode).
fn read_entries(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .filter(|e| str_of(e, "fieldsType") == "FieldsV1" && !str_of(e, "manager").is_empty())
        .map(|e| {
            let mut set = FieldSet::new();
            if let Some(f) = e.get("fieldsV1") {
                parse_fields_v1(f, &mut Vec::new(), &mut set);
            }
            Entry {
                manager: str_of(e, "manager"),
                operation: str_of(e, "operation"),
                api_version: str_of(e, "apiVersion"),
                subresource: str_of(e, "subresource"),
                time: e.get("time").and_then(Value::as_str).map(str::to_owned),
                set,
            }
        })
        .collect()
}

/// Writes entries (empty ones dropped, in the real server's order) into the object.
fn write_entries(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|a, b| {
        (
            &a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    let meta = root.entry("metadata").or_insert_with(|| json!({}));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(Entry::to_json).collect()),
        );
    }
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    o
}

/// The real server's conflict message.
fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [c] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.manager, c.field
        );
    }
    let mut by_manager: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in conflicts {
        by_manager.entry(&c.manager).or_default().push(&c.field);
    }
    let mut lines = Vec::new();
    for (m, fields) in by_manager {
        lines.push(format!("conflicts with {m}:"));
        lines.extend(fields.iter().map(|f| format!("- {f}")));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Server-side apply (`PATCH` with `application/apply-patch+yaml`).
///
/// Merges `applied` into `live` (or creates from it when `live` is `None`): maps merge
/// field by field, list-maps item by item on their keys, sets by value, atomic lists and
/// scalars are replaced. Fields another manager owns whose value the apply would change
/// are conflicts: with `force` false the apply fails with [`ApplyError::Conflicts`];
/// with `force` they move to the applier. The applier's `Apply` entry becomes exactly
/// the fields of `applied`; fields it applied last time but omits now are removed from
/// the object unless another manager owns them (or something below them). An object
/// with fields but no managedFields first gets a `before-first-apply` entry owning them,
/// as in the real server. Returns the new object with `metadata.managedFields` set;
/// the caller still owns uid, resourceVersion, generation and validation. An apply that
/// changes neither values nor ownership returns an object equal to `live` (the entry
/// keeps its time), so the caller can skip the write.
///
/// Status subresource: pass `generation::strip_status_on_create(applied)` to the main
/// endpoint and `generation::status_part(applied)` through `/status` (with
/// `writer.subresource = Some("status")`), as the real server resets those fields.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    writer: &Writer,
    force: bool,
    hints: SchemaHints,
) -> Result<Value, ApplyError> {
    if !applied.is_object() {
        return Err(ApplyError::Invalid(
            "the applied configuration must be an object".into(),
        ));
    }
    if applied
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApplyError::Invalid(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let cur = Cursor::root(hints);
    let live_obj = live
        .map(without_managed_fields)
        .unwrap_or_else(|| json!({}));
    let mut entries = live.map(read_entries).unwrap_or_default();
    let api_version = str_of(applied, "apiVersion");
    if entries.is_empty()
        && let Some(l) = live
    {
        let set = to_field_set(l, &cur, false).unwrap_or_default();
        entries.push(Entry {
            manager: "before-first-apply".into(),
            operation: "Update".into(),
            api_version: str_of(l, "apiVersion"),
            subresource: String::new(),
            time: Some(writer.time.to_owned()),
            set,
        });
    }
    let me = Entry {
        manager: writer.manager.to_owned(),
        operation: "Apply".into(),
        api_version: api_version.clone(),
        subresource: writer.subresource.unwrap_or("").to_owned(),
        time: Some(writer.time.to_owned()),
        set: to_field_set(applied, &cur, true).map_err(ApplyError::Invalid)?,
    };
    let mut merged = merge(&live_obj, applied, &cur);
    let cmp = compare(&live_obj, &merged, &cur, false).map_err(ApplyError::Invalid)?;
    let changed = cmp.changed();

    // Client-side → server-side apply migration, as kube-apiserver's lastAppliedManager:
    // for the manager `kubectl`, conflicts on fields whose live value is still what the
    // last-applied annotation says are not conflicts (the applier takes them over).
    let allowed = match live {
        Some(l) if writer.manager == "kubectl" => allowed_from_last_applied(l, &live_obj, &cur),
        _ => FieldSet::new(),
    };
    let mut conflicts = Vec::new();
    for e in entries.iter().filter(|e| !e.same_identity(&me)) {
        for p in e.set.intersection(&changed) {
            if allowed.contains(p) {
                continue;
            }
            conflicts.push(Conflict {
                manager: e.printed(),
                field: display_path(p),
            });
        }
    }
    if !conflicts.is_empty() && !force {
        conflicts.sort_by(|a, b| (&a.manager, &a.field).cmp(&(&b.manager, &b.field)));
        return Err(ApplyError::Conflicts {
            message: conflict_message(&conflicts),
            conflicts,
        });
    }
    for e in entries.iter_mut().filter(|e| !e.same_identity(&me)) {
        e.set
            .retain(|p| !changed.contains(p) && !cmp.removed.contains(p));
    }

    // Fields the applier owned and no longer applies, owned by nobody else, go.
    let (last, last_time) = entries
        .iter()
        .position(|e| e.same_identity(&me))
        .map(|i| entries.remove(i))
        .map(|e| (e.set, e.time))
        .unwrap_or_default();
    let mut owned: FieldSet = me.set.clone();
    for e in &entries {
        owned.extend(e.set.iter().cloned());
    }
    for p in last.difference(&owned) {
        if !has_descendant(&owned, p) {
            remove_at(&mut merged, p);
        }
    }
    // A no-op apply keeps the entry's time, so the caller can skip the write (the real
    // server neither bumps the time nor the resourceVersion then).
    let mut me = me;
    if merged == live_obj && last_time.is_some() {
        me.time = last_time;
    }
    entries.push(me);
    write_entries(&mut merged, entries);
    Ok(merged)
}

/// The fields of the `kubectl.kubernetes.io/last-applied-configuration` annotation whose
/// value in `live_obj` is still the one it records.
fn allowed_from_last_applied(live: &Value, live_obj: &Value, cur: &Cursor) -> FieldSet {
    let Some(last) = live
        .pointer("/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration")
        .and_then(Value::as_str)
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
    else {
        return FieldSet::new();
    };
    let (Ok(set), Ok(cmp)) = (
        to_field_set(&last, cur, false),
        compare(&last, live_obj, cur, false),
    ) else {
        return FieldSet::new();
    };
    let differ = cmp.changed();
    set.into_iter().filter(|p| !differ.contains(p)).collect()
}

/// Records a non-apply write (create, update, patch, status update) in managedFields:
/// the fields that changed from `before` to `after` move to `writer` (operation
/// `Update`, entry per manager, apiVersion and subresource), other managers lose them,
/// and fields that went away are dropped from every entry. If the client sent
/// managedFields different from `before`'s, they are taken as the starting point (an
/// empty list resets them), as the real server does. Returns `after` with
/// `metadata.managedFields` set. Lists that cannot be keyed are owned whole.
pub fn record_update(
    before: Option<&Value>,
    after: &Value,
    writer: &Writer,
    hints: SchemaHints,
) -> Value {
    let cur = Cursor::root(hints);
    let before_fields = before.and_then(|b| b.pointer("/metadata/managedFields"));
    let sent = after.pointer("/metadata/managedFields");
    let mut entries = match sent {
        Some(s) if Some(s) != before_fields => read_entries(after),
        _ => before.map(read_entries).unwrap_or_default(),
    };
    let old = before
        .map(without_managed_fields)
        .unwrap_or_else(|| json!({}));
    let mut new = without_managed_fields(after);
    let Ok(cmp) = compare(&old, &new, &cur, false) else {
        return new;
    };
    let me_probe = Entry {
        manager: writer.manager.to_owned(),
        operation: "Update".into(),
        api_version: str_of(after, "apiVersion"),
        subresource: writer.subresource.unwrap_or("").to_owned(),
        time: Some(writer.time.to_owned()),
        set: FieldSet::new(),
    };
    let changed = cmp.changed();
    for e in entries.iter_mut().filter(|e| !e.same_identity(&me_probe)) {
        e.set
            .retain(|p| !changed.contains(p) && !cmp.removed.contains(p));
    }
    let mut me = match entries.iter().position(|e| e.same_identity(&me_probe)) {
        Some(i) => entries.remove(i),
        None => me_probe.clone(),
    };
    // The time moves when this write took any field (as managedFieldsUpdater does).
    if !changed.is_empty() || me.time.is_none() {
        me.time = me_probe.time;
    }
    me.set.retain(|p| !cmp.removed.contains(p));
    me.set.extend(changed);
    entries.push(me);
    write_entries(&mut new, entries);
    new
}

/// The fields `manager` owns in `obj` (any operation), in the server's printed form
/// (`.spec.replicas`, `.status.conditions[type="Ready"]`), sorted. For tests and
/// debugging.
pub fn owned_fields(obj: &Value, manager: &str) -> Vec<String> {
    let mut out: Vec<String> = read_entries(obj)
        .into_iter()
        .filter(|e| e.manager == manager)
        .flat_map(|e| e.set.into_iter())
        .map(|p| display_path(&p))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "2026-01-01T00:00:00Z";
    const T2: &str = "2026-01-01T00:01:00Z";

    fn w<'a>(manager: &'a str, time: &'a str) -> Writer<'a> {
        Writer {
            manager,
            subresource: None,
            time,
        }
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "nginx", "namespace": "default"},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                   {"name": "nginx", "image": image}]}}}})
    }

    const DEP: SchemaHints = SchemaHints::Builtin("Deployment");

    #[test]
    fn create_by_apply_records_fields_v1() {
        let out = apply(
            None,
            &deployment(3, "nginx:1"),
            &w("kubectl", T1),
            false,
            DEP,
        )
        .unwrap();
        let mf = &out["metadata"]["managedFields"];
        assert_eq!(mf.as_array().unwrap().len(), 1);
        assert_eq!(mf[0]["manager"], "kubectl");
        assert_eq!(mf[0]["operation"], "Apply");
        assert_eq!(mf[0]["apiVersion"], "apps/v1");
        assert_eq!(mf[0]["fieldsType"], "FieldsV1");
        assert_eq!(mf[0]["time"], T1);
        assert_eq!(
            mf[0]["fieldsV1"],
            json!({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}})
        );
        assert_eq!(out["spec"]["replicas"], 3);
    }

    #[test]
    fn fields_v1_round_trips() {
        let v = json!({"f:metadata": {"f:labels": {"f:app": {}}, "f:finalizers": {"v:\"a\"": {}}},
                       "f:spec": {"f:list": {"k:{\"type\":\"A\"}": {".": {}, "f:x": {}}}}});
        let mut set = FieldSet::new();
        parse_fields_v1(&v, &mut Vec::new(), &mut set);
        assert_eq!(fields_v1(&set), v);
        assert!(set.contains(&vec![
            "f:spec".to_owned(),
            "f:list".to_owned(),
            "k:{\"type\":\"A\"}".to_owned()
        ]));
    }

    // A Deployment written by client-side apply (its annotation says replicas 3), then
    // `kubectl apply --server-side` with replicas 4: the fields whose live value matches
    // the annotation move to `kubectl`; another manager, or a live value that differs
    // from the annotation, still conflicts.
    #[test]
    fn client_side_apply_fields_are_taken_over_by_kubectl() {
        let mut csa = deployment(3, "nginx:1");
        csa["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/last-applied-configuration":
            deployment(3, "nginx:1").to_string()});
        let live = record_update(None, &csa, &w("kubectl-client-side-apply", T1), DEP);
        let err = apply(
            Some(&live),
            &deployment(4, "nginx:1"),
            &w("ci", T2),
            false,
            DEP,
        )
        .unwrap_err();
        assert_eq!(err.code(), 409);
        let out = apply(
            Some(&live),
            &deployment(4, "nginx:1"),
            &w("kubectl", T2),
            false,
            DEP,
        )
        .expect("taken over");
        assert_eq!(out["spec"]["replicas"], 4);
        assert!(owned_fields(&out, "kubectl").contains(&".spec.replicas".to_owned()));
        assert!(
            !owned_fields(&out, "kubectl-client-side-apply").contains(&".spec.replicas".to_owned())
        );
        // Someone else's value is not the annotation's: still a conflict.
        let mut edited = live.clone();
        edited["spec"]["replicas"] = json!(5);
        let edited = record_update(Some(&live), &edited, &w("kubectl-edit", T2), DEP);
        let err = apply(
            Some(&edited),
            &deployment(4, "nginx:1"),
            &w("kubectl", T2),
            false,
            DEP,
        )
        .unwrap_err();
        assert!(err.to_string().contains("kubectl-edit"), "{err}");
    }

    // The docs' conflict example: a controller (Update) changes replicas, then an apply
    // of a different replicas value conflicts.
    #[test]
    fn conflict_message_matches_the_real_server() {
        let created = apply(
            None,
            &deployment(3, "nginx:1"),
            &w("kubectl", T1),
            false,
            DEP,
        )
        .unwrap();
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(5);
        let scaled = record_update(
            Some(&created),
            &scaled,
            &w("kube-controller-manager", T2),
            DEP,
        );
        assert_eq!(
            owned_fields(&scaled, "kube-controller-manager"),
            vec![".spec.replicas"]
        );
        assert!(!owned_fields(&scaled, "kubectl").contains(&".spec.replicas".to_owned()));
        // The update took replicas from kubectl: a third manager applying replicas=3
        // conflicts with the controller only.
        let err = apply(
            Some(&scaled),
            &deployment(3, "nginx:1"),
            &w("ci", T2),
            false,
            DEP,
        )
        .unwrap_err();
        assert_eq!(err.code(), 409);
        assert_eq!(err.reason(), "Conflict");
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kube-controller-manager\" using apps/v1: .spec.replicas"
        );
    }

    #[test]
    fn several_conflicts_grouped_by_manager() {
        let created = apply(None, &deployment(3, "nginx:1"), &w("a", T1), false, DEP).unwrap();
        let err = apply(
            Some(&created),
            &deployment(4, "nginx:2"),
            &w("b", T2),
            false,
            DEP,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image"
        );
        assert_eq!(
            err.causes()[0],
            json!({"type": "FieldManagerConflict", "message": "conflict with \"a\"", "field": ".spec.replicas"})
        );
        let ApplyError::Conflicts { conflicts, .. } = err else {
            panic!()
        };
        assert_eq!(
            conflicts[0],
            Conflict {
                manager: "\"a\"".into(),
                field: ".spec.replicas".into()
            }
        );
    }

    #[test]
    fn same_value_is_shared_not_a_conflict() {
        let created = apply(None, &deployment(3, "nginx:1"), &w("a", T1), false, DEP).unwrap();
        let out = apply(
            Some(&created),
            &deployment(3, "nginx:1"),
            &w("b", T2),
            false,
            DEP,
        )
        .unwrap();
        assert!(owned_fields(&out, "a").contains(&".spec.replicas".to_owned()));
        assert!(owned_fields(&out, "b").contains(&".spec.replicas".to_owned()));
    }

    #[test]
    fn force_moves_ownership() {
        let created = apply(None, &deployment(3, "nginx:1"), &w("a", T1), false, DEP).unwrap();
        let out = apply(
            Some(&created),
            &deployment(4, "nginx:1"),
            &w("b", T2),
            true,
            DEP,
        )
        .unwrap();
        assert_eq!(out["spec"]["replicas"], 4);
        assert!(!owned_fields(&out, "a").contains(&".spec.replicas".to_owned()));
        assert!(
            owned_fields(&out, "a")
                .contains(&".spec.template.spec.containers[name=\"nginx\"].image".to_owned())
        );
        assert!(owned_fields(&out, "b").contains(&".spec.replicas".to_owned()));
    }

    #[test]
    fn noop_apply_keeps_time_and_object() {
        let created = apply(None, &deployment(3, "nginx:1"), &w("a", T1), false, DEP).unwrap();
        let again = apply(
            Some(&created),
            &deployment(3, "nginx:1"),
            &w("a", T2),
            false,
            DEP,
        )
        .unwrap();
        assert_eq!(again, created);
    }

    #[test]
    fn update_of_an_owned_field_moves_the_time() {
        let created = record_update(None, &deployment(1, "x"), &w("m", T1), DEP);
        let mut next = created.clone();
        next["spec"]["replicas"] = json!(2);
        let out = record_update(Some(&created), &next, &w("m", T2), DEP);
        assert_eq!(out["metadata"]["managedFields"][0]["time"], T2);
        let same = record_update(Some(&out), &out, &w("m", "2026-02-01T00:00:00Z"), DEP);
        assert_eq!(same["metadata"]["managedFields"][0]["time"], T2);
    }

    #[test]
    fn own_reapply_changes_without_conflict() {
        let created = apply(None, &deployment(3, "nginx:1"), &w("a", T1), false, DEP).unwrap();
        let out = apply(
            Some(&created),
            &deployment(5, "nginx:2"),
            &w("a", T2),
            false,
            DEP,
        )
        .unwrap();
        assert_eq!(out["spec"]["replicas"], 5);
        assert_eq!(out["metadata"]["managedFields"][0]["time"], T2);
    }

    #[test]
    fn omitted_fields_are_removed_unless_owned_by_another() {
        let mut cfg = deployment(3, "nginx:1");
        cfg["metadata"]["labels"] = json!({"app": "x", "tier": "web"});
        let created = apply(None, &cfg, &w("a", T1), false, DEP).unwrap();
        // b applies the same tier label: shared.
        let b_cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "nginx", "labels": {"tier": "web"}}});
        let shared = apply(Some(&created), &b_cfg, &w("b", T1), false, DEP).unwrap();
        // a drops both labels and the replicas field.
        let mut cfg2 = deployment(3, "nginx:1");
        cfg2["spec"].as_object_mut().unwrap().remove("replicas");
        let out = apply(Some(&shared), &cfg2, &w("a", T2), false, DEP).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"tier": "web"}));
        assert!(out["spec"].get("replicas").is_none());
    }

    #[test]
    fn removed_list_item_goes_unless_another_owns_inside_it() {
        let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}}}});
        let created = apply(None, &cfg, &w("m", T1), false, DEP).unwrap();
        let cfg2 = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}]}}}});
        let out = apply(Some(&created), &cfg2, &w("m", T2), false, DEP).unwrap();
        let names: Vec<&str> = out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a"]);
    }

    #[test]
    fn list_items_of_other_managers_survive_and_order_follows_apply() {
        let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}]}}}});
        let created = apply(None, &cfg, &w("m1", T1), false, DEP).unwrap();
        let cfg2 = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "s"}]}}}});
        let out = apply(Some(&created), &cfg2, &w("m2", T2), false, DEP).unwrap();
        let c = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            c,
            &json!([{"name": "a", "image": "1"}, {"name": "sidecar", "image": "s"}])
        );
    }

    #[test]
    fn ports_keyed_by_port_and_defaulted_protocol() {
        let svc = |ports: Value| {
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns"},
            "spec": {"ports": ports}})
        };
        let hints = SchemaHints::Builtin("Service");
        // 53/TCP (protocol omitted) and 53/UDP are two items, as in the real server.
        let out = apply(
            None,
            &svc(json!([{"port": 53}, {"port": 53, "protocol": "UDP"}])),
            &w("m", T1),
            false,
            hints,
        )
        .unwrap();
        assert_eq!(
            out["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:ports"],
            json!({"k:{\"port\":53,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}},
                   "k:{\"port\":53,\"protocol\":\"UDP\"}": {".": {}, "f:port": {}, "f:protocol": {}}})
        );
        // The live object defaulted by the server (protocol: TCP) still matches.
        let mut live = out.clone();
        live["spec"]["ports"][0]["protocol"] = json!("TCP");
        let again = apply(
            Some(&live),
            &svc(json!([{"port": 53, "name": "dns"}])),
            &w("m", T2),
            false,
            hints,
        )
        .unwrap();
        assert_eq!(
            again["spec"]["ports"],
            json!([{"port": 53, "protocol": "TCP", "name": "dns"}])
        );
    }

    #[test]
    fn without_hints_lists_are_atomic() {
        let cfg = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"},
            "spec": {"items": [{"name": "a"}], "labels": {"k": "v"}}});
        let out = apply(None, &cfg, &w("m", T1), false, SchemaHints::None).unwrap();
        assert_eq!(
            owned_fields(&out, "m"),
            vec![".spec.items", ".spec.labels.k"]
        );
        // Metadata is never managed for name/namespace/uid..., and apiVersion/kind never.
        assert!(
            owned_fields(&out, "m")
                .iter()
                .all(|f| !f.starts_with(".metadata") && f != ".kind")
        );
    }

    #[test]
    fn finalizers_are_a_set_owned_per_value() {
        let cfg = |f: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": f}});
        let hints = SchemaHints::Builtin("ConfigMap");
        let a = apply(None, &cfg(json!(["a.io/x"])), &w("a", T1), false, hints).unwrap();
        let b = apply(Some(&a), &cfg(json!(["b.io/y"])), &w("b", T1), false, hints).unwrap();
        assert_eq!(b["metadata"]["finalizers"], json!(["a.io/x", "b.io/y"]));
        assert_eq!(
            owned_fields(&b, "b"),
            vec![".metadata.finalizers[=\"b.io/y\"]"]
        );
        let a2 = apply(Some(&b), &cfg(json!([])), &w("a", T2), false, hints).unwrap();
        assert_eq!(a2["metadata"]["finalizers"], json!(["b.io/y"]));
    }

    #[test]
    fn apply_rejects_managed_fields_and_unkeyed_items() {
        let mut cfg = deployment(1, "x");
        cfg["metadata"]["managedFields"] = json!([]);
        assert_eq!(
            apply(None, &cfg, &w("a", T1), false, DEP)
                .unwrap_err()
                .code(),
            400
        );
        let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
        let err = apply(None, &cfg, &w("a", T1), false, DEP).unwrap_err();
        assert!(err.to_string().contains("omits key field"), "{err}");
        assert!(apply(None, &json!([1]), &w("a", T1), false, DEP).is_err());
    }

    #[test]
    fn before_first_apply_owns_pre_existing_fields() {
        let live = deployment(2, "nginx:1");
        let err = apply(
            Some(&live),
            &deployment(3, "nginx:1"),
            &w("a", T1),
            false,
            DEP,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("\"before-first-apply\" using apps/v1"),
            "{err}"
        );
    }

    #[test]
    fn client_side_then_server_side_apply_mix() {
        // kubectl create (Update by kubectl-client-side-apply), then a server-side apply
        // of the same values: no conflict, shared ownership.
        let created = record_update(
            None,
            &deployment(2, "nginx:1"),
            &w("kubectl-client-side-apply", T1),
            DEP,
        );
        assert_eq!(
            created["metadata"]["managedFields"][0]["operation"],
            "Update"
        );
        let out = apply(
            Some(&created),
            &deployment(2, "nginx:1"),
            &w("kubectl", T2),
            false,
            DEP,
        )
        .unwrap();
        assert_eq!(
            out["metadata"]["managedFields"].as_array().unwrap().len(),
            2
        );
        // Changing a value the client-side applier owns conflicts, unless forced.
        assert!(
            apply(
                Some(&out),
                &deployment(3, "nginx:1"),
                &w("kubectl", T2),
                false,
                DEP
            )
            .is_err()
        );
        let forced = apply(
            Some(&out),
            &deployment(3, "nginx:1"),
            &w("kubectl", T2),
            true,
            DEP,
        )
        .unwrap();
        assert!(
            !owned_fields(&forced, "kubectl-client-side-apply")
                .contains(&".spec.replicas".to_owned())
        );
    }

    #[test]
    fn record_update_drops_removed_fields_from_all_owners() {
        let mut cfg = deployment(3, "nginx:1");
        cfg["metadata"]["labels"] = json!({"app": "x"});
        let created = apply(None, &cfg, &w("a", T1), false, DEP).unwrap();
        let mut edited = created.clone();
        edited["metadata"]["labels"] = json!({});
        let out = record_update(Some(&created), &edited, &w("kubectl-edit", T2), DEP);
        assert!(!owned_fields(&out, "a").contains(&".metadata.labels.app".to_owned()));
        // kubectl-edit owns the now-empty labels map.
        assert_eq!(owned_fields(&out, "kubectl-edit"), vec![".metadata.labels"]);
    }

    #[test]
    fn record_update_resets_on_empty_managed_fields_sent() {
        let created = apply(None, &deployment(3, "nginx:1"), &w("a", T1), false, DEP).unwrap();
        let mut sent = created.clone();
        sent["metadata"]["managedFields"] = json!([{}]);
        let out = record_update(Some(&created), &sent, &w("b", T2), DEP);
        assert!(out["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn record_update_keyed_by_api_version_and_subresource() {
        let created = record_update(None, &deployment(1, "x"), &w("m", T1), DEP);
        let mut st = created.clone();
        st["status"] = json!({"replicas": 1});
        let out = record_update(
            Some(&created),
            &st,
            &Writer {
                manager: "m",
                subresource: Some("status"),
                time: T2,
            },
            DEP,
        );
        let mf = out["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(mf.len(), 2);
        assert_eq!(mf[1]["subresource"], "status");
        assert_eq!(mf[1]["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));
        assert_eq!(mf[0]["time"], T1, "the unchanged entry keeps its time");
    }

    fn tradingbot_schema() -> Value {
        let text = include_str!("../../../../crds/manifests/tradingbots.yaml");
        let doc: Value = serde_saphyr::from_str(text).expect("manifest parses");
        doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
    }

    fn bot_status(conditions: Value) -> Value {
        json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "TradingBot",
               "metadata": {"name": "bot", "namespace": "t"},
               "status": {"conditions": conditions}})
    }

    fn cond(t: &str, status: &str) -> Value {
        json!({"type": t, "status": status, "reason": "R", "message": "",
               "lastTransitionTime": T1})
    }

    // The Tradewind scenario: the operator and the bot worker each apply their own
    // conditions on /status; list-map keyed by type keeps both.
    #[test]
    fn operator_and_worker_own_disjoint_conditions() {
        let schema = tradingbot_schema();
        assert_eq!(
            schema.pointer("/properties/status/properties/conditions/x-kubernetes-list-type"),
            Some(&json!("map"))
        );
        let hints = SchemaHints::Crd(&schema);
        let status = |m| Writer {
            manager: m,
            subresource: Some("status"),
            time: T1,
        };
        let live = json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "TradingBot",
                          "metadata": {"name": "bot", "namespace": "t"}, "spec": {}});
        let live = record_update(None, &live, &w("tradewind-operator", T1), hints);
        let op = apply(
            Some(&live),
            &bot_status(json!([cond("Ready", "True"), cond("CloudReady", "True")])),
            &status("tradewind-operator"),
            false,
            hints,
        )
        .unwrap();
        let both = apply(
            Some(&op),
            &bot_status(json!([cond("Trading", "True")])),
            &status("tradewind-worker"),
            false,
            hints,
        )
        .unwrap();
        let types: Vec<&str> = both["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["Ready", "CloudReady", "Trading"]);
        // The operator re-applies only Ready (drops CloudReady): the worker's survives.
        let op2 = apply(
            Some(&both),
            &bot_status(json!([cond("Ready", "False")])),
            &status("tradewind-operator"),
            false,
            hints,
        )
        .unwrap();
        let types: Vec<&str> = op2["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["Ready", "Trading"]);
        assert_eq!(op2["status"]["conditions"][0]["status"], "False");
        // The worker re-applies its condition: no conflict with the operator.
        let w2 = apply(
            Some(&op2),
            &bot_status(json!([cond("Trading", "False")])),
            &status("tradewind-worker"),
            false,
            hints,
        )
        .unwrap();
        assert_eq!(w2["status"]["conditions"].as_array().unwrap().len(), 2);
        assert!(
            owned_fields(&w2, "tradewind-worker")
                .contains(&".status.conditions[type=\"Trading\"]".to_owned())
        );
        // But touching the operator's condition conflicts.
        let err = apply(
            Some(&w2),
            &bot_status(json!([cond("Ready", "True")])),
            &status("tradewind-worker"),
            false,
            hints,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("Apply failed with 1 conflict: conflict with \"tradewind-operator\" with subresource \"status\": .status.conditions[type=\"Ready\"].status"), "{err}");
    }

    #[test]
    fn crd_lists_default_to_atomic_and_sets_and_atomic_maps() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "atomicList": {"type": "array", "items": {"type": "string"}},
            "setList": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "atomicMap": {"type": "object", "x-kubernetes-map-type": "atomic", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}},
            "entries": {"type": "object", "additionalProperties": {"type": "object", "properties": {"x": {"type": "string"}}}}
        }}}});
        let hints = SchemaHints::Crd(&schema);
        let obj = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"}, "spec": {
            "atomicList": ["a"], "setList": ["x", "y"], "atomicMap": {"a": "1"}, "entries": {"e": {"x": "1"}}}});
        let out = apply(None, &obj, &w("m", T1), false, hints).unwrap();
        assert_eq!(
            owned_fields(&out, "m"),
            vec![
                ".spec.atomicList",
                ".spec.atomicMap",
                ".spec.entries.e",
                ".spec.entries.e.x",
                ".spec.setList[=\"x\"]",
                ".spec.setList[=\"y\"]"
            ]
        );
        // Another manager replacing the atomic list conflicts on the list as a whole.
        let other = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"}, "spec": {"atomicList": ["b"], "setList": ["z"]}});
        let err = apply(Some(&out), &other, &w("o", T2), false, hints).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"m\": .spec.atomicList"
        );
        let forced = apply(Some(&out), &other, &w("o", T2), true, hints).unwrap();
        assert_eq!(forced["spec"]["setList"], json!(["x", "y", "z"]));
        assert_eq!(forced["spec"]["atomicList"], json!(["b"]));
    }
}
