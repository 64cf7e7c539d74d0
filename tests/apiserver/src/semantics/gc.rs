//! Garbage-collection planning over owner references, after the real garbage collector
//! (`pkg/controller/garbagecollector`): what deleting an owner with a propagation policy
//! does to its dependents. Pure: the server executes the plan.
//!
//! - Background: the owner goes now; every dependent whose owners are all gone is
//!   deleted, transitively.
//! - Foreground: the owner gets `deletionTimestamp` and the `foregroundDeletion`
//!   finalizer and stays until its blocking dependents (`blockOwnerDeletion: true`) are
//!   gone; dependents are deleted, in foreground themselves.
//! - Orphan: the owner gets the `orphan` finalizer; its direct dependents lose their
//!   owner reference and survive; then the finalizer goes.
//!
//! A dependent that still has another existing owner is never deleted: only its
//! reference to the deleted owner is removed.

use std::collections::{BTreeSet, VecDeque};

use serde_json::Value;

/// The finalizer that holds an owner deleted in foreground.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// The finalizer that holds an owner while its dependents are orphaned.
pub const ORPHAN_FINALIZER: &str = "orphan";

/// `DeleteOptions.propagationPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the owner now, dependents afterwards (the default for most kinds).
    Background,
    /// Delete dependents first; the owner waits with `foregroundDeletion`.
    Foreground,
    /// Keep dependents, removing their reference to the owner.
    Orphan,
}

impl Propagation {
    /// Parses `Background`/`Foreground`/`Orphan` (the API's spelling).
    pub fn parse(s: &str) -> Result<Self, GcError> {
        match s {
            "Background" => Ok(Propagation::Background),
            "Foreground" => Ok(Propagation::Foreground),
            "Orphan" => Ok(Propagation::Orphan),
            other => Err(GcError::BadPolicy(other.to_owned())),
        }
    }
}

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GcError {
    /// The owner uid is not among the objects.
    #[error("no object with uid {0}")]
    OwnerNotFound(String),
    /// Not one of Background, Foreground, Orphan (the real server's 422 message).
    #[error(
        "propagationPolicy: Unsupported value: \"{0}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
    )]
    BadPolicy(String),
}

/// One dependent to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// The dependent's uid.
    pub uid: String,
    /// The policy to delete it with (Foreground dependents wait for their own).
    pub propagation: Propagation,
}

/// What deleting an owner does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcPlan {
    /// Finalizer to add to the owner (with `deletionTimestamp`) instead of removing it
    /// now: `foregroundDeletion` or `orphan`; `None` for Background (remove now, unless
    /// it has finalizers of its own).
    pub owner_finalizer: Option<&'static str>,
    /// Dependents to delete, transitively, parents before children.
    pub delete: Vec<Deletion>,
    /// Dependents that keep living but lose their ownerReferences to deleted owners
    /// (orphaned, or held by another existing owner).
    pub remove_owner_ref: Vec<String>,
    /// Foreground only: the owner's direct dependents with `blockOwnerDeletion: true`
    /// that are being deleted; the owner goes when they are all gone (see
    /// [`blocking_dependents`]).
    pub blocking: Vec<String>,
}

fn uid(obj: &Value) -> &str {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn owner_refs(obj: &Value) -> impl Iterator<Item = &Value> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn ref_uid(r: &Value) -> &str {
    r.get("uid").and_then(Value::as_str).unwrap_or("")
}

fn blocks(r: &Value) -> bool {
    r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true)
}

/// Plans the deletion of the object with uid `owner` under `policy`, given every object
/// that may reference it (any namespace, any kind).
pub fn plan_deletion(
    objects: &[Value],
    owner: &str,
    policy: Propagation,
) -> Result<GcPlan, GcError> {
    if !objects.iter().any(|o| uid(o) == owner) {
        return Err(GcError::OwnerNotFound(owner.to_owned()));
    }
    let existing: BTreeSet<&str> = objects.iter().map(uid).filter(|u| !u.is_empty()).collect();
    let mut plan = GcPlan {
        owner_finalizer: match policy {
            Propagation::Background => None,
            Propagation::Foreground => Some(FOREGROUND_FINALIZER),
            Propagation::Orphan => Some(ORPHAN_FINALIZER),
        },
        delete: Vec::new(),
        remove_owner_ref: Vec::new(),
        blocking: Vec::new(),
    };
    if policy == Propagation::Orphan {
        // Only the direct dependents are touched.
        plan.remove_owner_ref = objects
            .iter()
            .filter(|o| owner_refs(o).any(|r| ref_uid(r) == owner))
            .map(|o| uid(o).to_owned())
            .collect();
        return Ok(plan);
    }
    let mut deleting: BTreeSet<String> = BTreeSet::from([owner.to_owned()]);
    let mut queue = VecDeque::from([owner.to_owned()]);
    while let Some(current) = queue.pop_front() {
        for dep in objects {
            let dep_uid = uid(dep);
            if dep_uid.is_empty() || deleting.contains(dep_uid) {
                continue;
            }
            let Some(r) = owner_refs(dep).find(|r| ref_uid(r) == current) else {
                continue;
            };
            // A solid owner is one that exists and is not being deleted by this plan.
            let has_solid_owner = owner_refs(dep).any(|r| {
                let u = ref_uid(r);
                existing.contains(u) && !deleting.contains(u)
            });
            if has_solid_owner {
                if !plan.remove_owner_ref.iter().any(|u| u == dep_uid) {
                    plan.remove_owner_ref.push(dep_uid.to_owned());
                }
                continue;
            }
            if policy == Propagation::Foreground && current == owner && blocks(r) {
                plan.blocking.push(dep_uid.to_owned());
            }
            deleting.insert(dep_uid.to_owned());
            plan.delete.push(Deletion {
                uid: dep_uid.to_owned(),
                propagation: policy,
            });
            queue.push_back(dep_uid.to_owned());
        }
    }
    // A dependent first seen as held by a solid owner may have lost it later in the
    // walk (the solid owner was itself deleted): then it is deleted, not kept.
    plan.remove_owner_ref.retain(|u| !deleting.contains(u));
    Ok(plan)
}

/// The uids of objects that still block the removal of `owner` (deleted in foreground):
/// those with an ownerReference to it with `blockOwnerDeletion: true`. When empty the
/// server removes the `foregroundDeletion` finalizer from the owner.
pub fn blocking_dependents(objects: &[Value], owner: &str) -> Vec<String> {
    objects
        .iter()
        .filter(|o| owner_refs(o).any(|r| ref_uid(r) == owner && blocks(r)))
        .map(|o| uid(o).to_owned())
        .collect()
}

/// Objects every one of whose owners is gone (no object with that uid): what the
/// background collector deletes. Objects without ownerReferences are never listed.
pub fn dangling_dependents(objects: &[Value]) -> Vec<String> {
    let existing: BTreeSet<&str> = objects.iter().map(uid).collect();
    objects
        .iter()
        .filter(|o| {
            let mut refs = owner_refs(o).peekable();
            refs.peek().is_some() && refs.all(|r| !existing.contains(ref_uid(r)))
        })
        .map(|o| uid(o).to_owned())
        .collect()
}

/// `obj` without its ownerReferences to any of `owners` (the field is removed when it
/// becomes empty).
pub fn remove_owner_references(obj: &Value, owners: &[&str]) -> Value {
    let mut out = obj.clone();
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(Value::Array(refs)) = meta.get_mut("ownerReferences")
    {
        refs.retain(|r| !owners.contains(&ref_uid(r)));
        if refs.is_empty() {
            meta.remove("ownerReferences");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(uid: &str, owners: &[(&str, bool)]) -> Value {
        let refs: Vec<Value> = owners
            .iter()
            .map(|(u, b)| json!({"apiVersion": "v1", "kind": "X", "name": u, "uid": u, "blockOwnerDeletion": b}))
            .collect();
        if refs.is_empty() {
            json!({"metadata": {"uid": uid}})
        } else {
            json!({"metadata": {"uid": uid, "ownerReferences": refs}})
        }
    }

    /// deploy -> rs -> pod1, pod2 ; other owns shared (with deploy too); cm unrelated.
    fn world() -> Vec<Value> {
        vec![
            obj("deploy", &[]),
            obj("rs", &[("deploy", true)]),
            obj("pod1", &[("rs", true)]),
            obj("pod2", &[("rs", false)]),
            obj("other", &[]),
            obj("shared", &[("deploy", true), ("other", false)]),
            obj("cm", &[]),
        ]
    }

    fn uids(d: &[Deletion]) -> Vec<&str> {
        d.iter().map(|d| d.uid.as_str()).collect()
    }

    #[test]
    fn background_deletes_transitively_and_keeps_shared() {
        let plan = plan_deletion(&world(), "deploy", Propagation::Background).unwrap();
        assert_eq!(plan.owner_finalizer, None);
        assert_eq!(uids(&plan.delete), ["rs", "pod1", "pod2"]);
        assert!(
            plan.delete
                .iter()
                .all(|d| d.propagation == Propagation::Background)
        );
        assert_eq!(plan.remove_owner_ref, ["shared"]);
        assert!(plan.blocking.is_empty());
    }

    #[test]
    fn foreground_holds_owner_until_blocking_dependents_go() {
        let plan = plan_deletion(&world(), "deploy", Propagation::Foreground).unwrap();
        assert_eq!(plan.owner_finalizer, Some("foregroundDeletion"));
        assert_eq!(uids(&plan.delete), ["rs", "pod1", "pod2"]);
        assert!(
            plan.delete
                .iter()
                .all(|d| d.propagation == Propagation::Foreground)
        );
        assert_eq!(plan.blocking, ["rs"]);
        // While rs exists the owner stays; once gone, the finalizer can go.
        assert_eq!(blocking_dependents(&world(), "deploy"), ["rs", "shared"]);
        let after: Vec<Value> = world()
            .into_iter()
            .filter(|o| !["rs", "pod1", "pod2"].contains(&uid(o)))
            .map(|o| remove_owner_references(&o, &["deploy"]))
            .collect();
        assert!(blocking_dependents(&after, "deploy").is_empty());
        // rs itself waits only for pod1 (pod2 does not block).
        assert_eq!(blocking_dependents(&world(), "rs"), ["pod1"]);
    }

    #[test]
    fn orphan_removes_references_of_direct_dependents_only() {
        let plan = plan_deletion(&world(), "deploy", Propagation::Orphan).unwrap();
        assert_eq!(plan.owner_finalizer, Some("orphan"));
        assert!(plan.delete.is_empty());
        assert_eq!(plan.remove_owner_ref, ["rs", "shared"]);
        let rs = remove_owner_references(&world()[1], &["deploy"]);
        assert!(rs["metadata"].get("ownerReferences").is_none());
        let shared = remove_owner_references(&world()[5], &["deploy"]);
        assert_eq!(
            shared["metadata"]["ownerReferences"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn dependent_whose_other_owner_is_also_deleted_goes() {
        // c is owned by a and b; b is owned by a: deleting a deletes b and then c.
        let objs = vec![
            obj("a", &[]),
            obj("c", &[("a", false), ("b", false)]),
            obj("b", &[("a", false)]),
        ];
        let plan = plan_deletion(&objs, "a", Propagation::Background).unwrap();
        assert_eq!(uids(&plan.delete), ["b", "c"]);
        assert!(plan.remove_owner_ref.is_empty());
    }

    #[test]
    fn dependent_with_dangling_other_owner_is_deleted() {
        let objs = vec![obj("a", &[]), obj("d", &[("a", false), ("gone", false)])];
        let plan = plan_deletion(&objs, "a", Propagation::Background).unwrap();
        assert_eq!(uids(&plan.delete), ["d"]);
    }

    #[test]
    fn cycles_terminate() {
        let objs = vec![obj("a", &[("b", false)]), obj("b", &[("a", false)])];
        let plan = plan_deletion(&objs, "a", Propagation::Background).unwrap();
        assert_eq!(uids(&plan.delete), ["b"]);
    }

    #[test]
    fn errors() {
        assert_eq!(
            plan_deletion(&world(), "nope", Propagation::Background).unwrap_err(),
            GcError::OwnerNotFound("nope".into())
        );
        assert_eq!(
            Propagation::parse("Foreground").unwrap(),
            Propagation::Foreground
        );
        let e = Propagation::parse("Sideways").unwrap_err();
        assert!(e.to_string().contains("Unsupported value: \"Sideways\""));
    }

    #[test]
    fn dangling_sweep() {
        let objs = vec![
            obj("x", &[("gone", false)]),
            obj("y", &[("x", false)]),
            obj("z", &[]),
        ];
        assert_eq!(dangling_dependents(&objs), ["x"]);
    }
}
