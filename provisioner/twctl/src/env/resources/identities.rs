//! The identity family: the operator's, the platform's, the feed's and the collector's
//! user-assigned identities and the federated credentials that let their service accounts sign in as
//! them.

use serde_json::json;

use super::{Builder, Resource, ResourceKind, reference};

/// The operator's identity, and the platform's, the feed's and the collector's, if any.
pub(super) fn identities(b: &Builder) -> Vec<Resource> {
    std::iter::once(&b.ids.operator_identity)
        .chain(b.ids.platform_identity.as_ref())
        .chain(b.ids.feed_identity.as_ref())
        .chain(b.ids.collector_identity.as_ref())
        .map(|id| b.top(id, ResourceKind::UserAssignedIdentity, json!({})))
        .collect()
}

/// One federated credential per service account; the issuer is the cluster's, known once
/// AKS exists.
pub(super) fn federated_credentials(b: &Builder) -> Vec<Resource> {
    let s = b.spec();
    let mut out = Vec::new();
    let platform = b
        .ids
        .platform_identity
        .as_ref()
        .zip(s.identities.platform.as_ref());
    let feed = b.ids.feed_identity.as_ref().zip(s.identities.feed.as_ref());
    let collector = b
        .ids
        .collector_identity
        .as_ref()
        .zip(s.identities.collector.as_ref());
    for (identity, spec) in std::iter::once((&b.ids.operator_identity, &s.identities.operator))
        .chain(platform)
        .chain(feed)
        .chain(collector)
    {
        for sa in &spec.service_accounts {
            out.push(Resource {
                id: identity.child("federatedIdentityCredentials", &sa.credential_name()),
                kind: ResourceKind::FederatedCredential,
                depends_on: vec![identity.clone(), b.ids.aks.clone()],
                desired: json!({"properties": {
                    "issuer": reference(&b.ids.aks, "/properties/oidcIssuerProfile/issuerURL"),
                    "subject": sa.subject(),
                    "audiences": ["api://AzureADTokenExchange"],
                }}),
                ignore: vec![],
                name_from: None,
            });
        }
    }
    out
}
