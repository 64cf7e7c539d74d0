//! Plans (pure): resources plus what ARM holds now → create / update / no-op per resource,
//! and what `destroy` would delete.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::diff::{Change, diff};
use super::resources::{Resource, ResourceKind, resolve, resolve_for_display};
use tradewind_azure::arm::ResourceId;
use tradewind_azure::arm::lro::provisioning_state;

/// What apply would do to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// It does not exist.
    Create,
    /// It exists and differs on declared fields, or its last operation did not succeed.
    Update,
    /// It exists as declared.
    NoOp,
    /// Destroy deletes it.
    Delete,
}

/// One line of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Resource ID.
    pub id: String,
    /// Kind.
    pub kind: ResourceKind,
    /// Action.
    pub action: Action,
    /// Field-level changes (updates only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Why, when the action is not a plain field diff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Live bodies by ID (`None`: absent).
pub type Live = HashMap<ResourceId, Option<Value>>;

fn state_blocks_noop(live: &Value) -> Option<String> {
    match provisioning_state(live) {
        Some(s) if s.eq_ignore_ascii_case("succeeded") => None,
        Some(s) => Some(format!("provisioningState is {s}; apply re-sends it")),
        None => None,
    }
}

/// Decides one resource: create, update (with changes) or no-op.
pub fn decide(resource: &Resource, live: Option<&Value>, all: &Live) -> Step {
    let lookup = |id: &ResourceId| all.get(id).and_then(Option::as_ref);
    let step = |action, changes, note| Step {
        id: resource.id.to_string(),
        kind: resource.kind,
        action,
        changes,
        note,
    };
    let Some(live) = live else {
        return step(Action::Create, vec![], None);
    };
    let desired = match resolve(&resource.desired, &lookup) {
        Ok(d) => d,
        Err(_) => resolve_for_display(&resource.desired, &lookup),
    };
    let changes = diff(&desired, live, &resource.ignore);
    let note = state_blocks_noop(live);
    if changes.is_empty() && note.is_none() {
        step(Action::NoOp, vec![], None)
    } else {
        step(Action::Update, changes, note)
    }
}

/// The apply plan, in `resources` order.
pub fn plan(resources: &[Resource], live: &Live) -> Vec<Step> {
    resources
        .iter()
        .map(|r| decide(r, live.get(&r.id).and_then(Option::as_ref), live))
        .collect()
}

/// The destroy plan: with an owned resource group, one delete of the group (ARM deletes
/// everything in it); otherwise every existing resource, dependents first.
pub fn destroy_plan(
    resources: &[Resource],
    order: &[usize],
    live: &Live,
    owns_group: bool,
) -> Vec<Step> {
    let exists = |r: &Resource| matches!(live.get(&r.id), Some(Some(_)));
    if owns_group {
        return resources
            .iter()
            .filter(|r| r.kind == ResourceKind::ResourceGroup && exists(r))
            .map(|r| Step {
                id: r.id.to_string(),
                kind: r.kind,
                action: Action::Delete,
                changes: vec![],
                note: Some(
                    "the group is owned by this spec: deleting it deletes every resource in it"
                        .into(),
                ),
            })
            .collect();
    }
    order
        .iter()
        .rev()
        .map(|&i| &resources[i])
        .filter(|r| r.kind != ResourceKind::ResourceGroup && exists(r))
        .map(|r| Step {
            id: r.id.to_string(),
            kind: r.kind,
            action: Action::Delete,
            changes: vec![],
            note: None,
        })
        .collect()
}

/// True when a plan would change anything.
pub fn has_changes(steps: &[Step]) -> bool {
    steps.iter().any(|s| s.action != Action::NoOp)
}

/// The body to PUT: desired, but fields in `ignore` that ARM holds keep ARM's value (so an
/// update never resets what the autoscaler owns).
pub fn put_body(desired: &Value, live: Option<&Value>, ignore: &[String]) -> Value {
    let mut body = desired.clone();
    let Some(live) = live else { return body };
    for pointer in ignore.iter().filter(|p| !p.contains('*')) {
        if let (Some(l), Some(slot)) = (live.pointer(pointer), body.pointer_mut(pointer)) {
            *slot = l.clone();
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(kind: ResourceKind, name: &str, desired: Value) -> Resource {
        Resource {
            id: ResourceId::resource_group("s", name),
            kind,
            depends_on: vec![],
            desired,
            ignore: vec!["/properties/count".into()],
            name_from: None,
        }
    }

    #[test]
    fn create_update_noop() {
        let a = resource(
            ResourceKind::ResourceGroup,
            "a",
            json!({"location": "westus"}),
        );
        let b = resource(
            ResourceKind::ResourceGroup,
            "b",
            json!({"location": "westus", "tags": {"x": "1"}}),
        );
        let c = resource(
            ResourceKind::ResourceGroup,
            "c",
            json!({"location": "westus"}),
        );
        let live: Live = [
            (a.id.clone(), None),
            (
                b.id.clone(),
                Some(json!({"location": "West US", "tags": {}})),
            ),
            (
                c.id.clone(),
                Some(
                    json!({"location": "westus", "properties": {"provisioningState": "Succeeded"}}),
                ),
            ),
        ]
        .into();
        let steps = plan(&[a, b, c.clone()], &live);
        let actions: Vec<Action> = steps.iter().map(|s| s.action).collect();
        assert_eq!(actions, [Action::Create, Action::Update, Action::NoOp]);
        assert_eq!(steps[1].changes[0].path, "/tags/x");
        assert!(has_changes(&steps));
        let failed: Live = [(
            c.id.clone(),
            Some(json!({"location": "westus", "properties": {"provisioningState": "Failed"}})),
        )]
        .into();
        let step = decide(&c, failed[&c.id].as_ref(), &failed);
        assert_eq!(step.action, Action::Update);
        assert!(step.note.unwrap().contains("Failed"));
    }

    #[test]
    fn put_body_keeps_owned_fields() {
        let desired = json!({"properties": {"count": 1, "vmSize": "x"}});
        let live = json!({"properties": {"count": 4, "vmSize": "y"}});
        let body = put_body(&desired, Some(&live), &["/properties/count".into()]);
        assert_eq!(body, json!({"properties": {"count": 4, "vmSize": "x"}}));
    }

    #[test]
    fn destroy_owned_group_is_one_delete() {
        let rg = resource(ResourceKind::ResourceGroup, "g", json!({}));
        let mut kv = resource(ResourceKind::KeyVault, "g", json!({}));
        kv.id = rg.id.provider("Microsoft.KeyVault", "vaults", "v");
        let live: Live = [
            (rg.id.clone(), Some(json!({}))),
            (kv.id.clone(), Some(json!({}))),
        ]
        .into();
        let rs = [rg, kv];
        let owned = destroy_plan(&rs, &[0, 1], &live, true);
        assert_eq!(owned.len(), 1);
        assert_eq!(owned[0].kind, ResourceKind::ResourceGroup);
        let not_owned = destroy_plan(&rs, &[0, 1], &live, false);
        assert_eq!(not_owned.len(), 1);
        assert_eq!(not_owned[0].kind, ResourceKind::KeyVault);
    }
}
