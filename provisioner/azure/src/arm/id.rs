//! Resource IDs: built from parts, parsed back, and mapped to the resource type that
//! decides the pinned api-version.

use std::fmt;

/// An Azure resource ID such as
/// `/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.KeyVault/vaults/{v}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(String);

/// A string that is not a resource ID.
#[derive(Debug, thiserror::Error)]
#[error("resource id {id:?}: {reason}")]
pub struct ParseIdError {
    id: String,
    reason: &'static str,
}

impl ResourceId {
    /// `/subscriptions/{subscription}`.
    pub fn subscription(subscription: &str) -> Self {
        Self(format!("/subscriptions/{subscription}"))
    }

    /// `/subscriptions/{subscription}/resourceGroups/{group}`.
    pub fn resource_group(subscription: &str, group: &str) -> Self {
        Self(format!(
            "/subscriptions/{subscription}/resourceGroups/{group}"
        ))
    }

    /// A provider resource under this scope: `{self}/providers/{namespace}/{type}/{name}`.
    pub fn provider(&self, namespace: &str, kind: &str, name: &str) -> Self {
        Self(format!("{}/providers/{namespace}/{kind}/{name}", self.0))
    }

    /// A child resource: `{self}/{type}/{name}`.
    pub fn child(&self, kind: &str, name: &str) -> Self {
        Self(format!("{}/{kind}/{name}", self.0))
    }

    /// Parses an ID as ARM returns it.
    pub fn parse(id: &str) -> Result<Self, ParseIdError> {
        let err = |reason| ParseIdError {
            id: id.to_string(),
            reason,
        };
        if !id.starts_with('/') || id.ends_with('/') || id.contains("//") {
            return Err(err("must start with '/' and have no empty segments"));
        }
        let segments: Vec<&str> = id[1..].split('/').collect();
        if segments.len() < 2 || !segments[0].eq_ignore_ascii_case("subscriptions") {
            return Err(err("must start with /subscriptions/{id}"));
        }
        if let Some(p) = segments
            .iter()
            .rposition(|s| s.eq_ignore_ascii_case("providers"))
        {
            let rest = segments.len() - p - 1;
            if rest < 3 || !(rest - 1).is_multiple_of(2) {
                return Err(err(
                    "expected providers/{namespace}/{type}/{name}[/{type}/{name}...]",
                ));
            }
        } else if !segments.len().is_multiple_of(2) {
            return Err(err("expected pairs of type/name segments"));
        }
        Ok(Self(id.to_string()))
    }

    /// The ID as a path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last name segment.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or_default()
    }

    /// The parent resource or scope, if any.
    pub fn parent(&self) -> Option<Self> {
        let segments: Vec<&str> = self.0[1..].split('/').collect();
        if segments.len() <= 2 {
            return None;
        }
        let cut = if segments.len() >= 4
            && segments[segments.len() - 4].eq_ignore_ascii_case("providers")
        {
            4
        } else {
            2
        };
        Some(Self(format!(
            "/{}",
            segments[..segments.len() - cut].join("/")
        )))
    }

    /// The resource type, e.g. `Microsoft.DocumentDB/databaseAccounts/sqlDatabases`, or
    /// `Microsoft.Resources/resourceGroups` for a group.
    pub fn resource_type(&self) -> String {
        let segments: Vec<&str> = self.0[1..].split('/').collect();
        match segments
            .iter()
            .rposition(|s| s.eq_ignore_ascii_case("providers"))
        {
            Some(p) => {
                let mut parts = vec![segments[p + 1].to_string()];
                parts.extend(
                    segments[p + 2..]
                        .iter()
                        .step_by(2)
                        .map(|s| (*s).to_string()),
                );
                parts.join("/")
            }
            None if segments.len() >= 4 => "Microsoft.Resources/resourceGroups".to_string(),
            None => "Microsoft.Resources/subscriptions".to_string(),
        }
    }

    /// The subscription the ID is in.
    pub fn subscription_id(&self) -> &str {
        self.0[1..].split('/').nth(1).unwrap_or_default()
    }

    /// True when `self` equals `other` (ARM compares IDs case-insensitively).
    pub fn same_as(&self, other: &ResourceId) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parents_and_parsing() {
        let rg = ResourceId::resource_group("sub", "rg");
        assert_eq!(rg.resource_type(), "Microsoft.Resources/resourceGroups");
        let container = rg
            .provider("Microsoft.DocumentDB", "databaseAccounts", "acct")
            .child("sqlDatabases", "db")
            .child("containers", "c");
        assert_eq!(
            container.resource_type(),
            "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers"
        );
        assert_eq!(container.name(), "c");
        let db = container.parent().unwrap();
        assert_eq!(db.name(), "db");
        let acct = db.parent().unwrap();
        assert_eq!(acct.parent().unwrap(), rg);
        assert_eq!(rg.parent().unwrap(), ResourceId::subscription("sub"));
        let ra = acct.provider("Microsoft.Authorization", "roleAssignments", "guid");
        assert_eq!(
            ra.resource_type(),
            "Microsoft.Authorization/roleAssignments"
        );
        assert_eq!(ra.parent().unwrap(), acct);
        assert_eq!(ResourceId::parse(container.as_str()).unwrap(), container);
        assert!(ResourceId::parse("/subscriptions/s/resourceGroups").is_err());
        assert!(ResourceId::parse("subscriptions/s").is_err());
        assert!(
            ResourceId::parse("/subscriptions/s/resourceGroups/g/providers/Microsoft.X/vaults")
                .is_err()
        );
        assert!(container.same_as(&ResourceId(container.as_str().to_uppercase())));
        assert_eq!(container.subscription_id(), "sub");
    }
}
