//! The api-version pinned for each resource type we manage. Each is the version of the
//! Microsoft REST examples in tests/azure/fixtures, so our bodies match what they document.

/// `(resource type, api-version)`; types compare case-insensitively.
pub const PINNED: &[(&str, &str)] = &[
    ("Microsoft.Resources/resourceGroups", "2025-04-01"),
    ("Microsoft.DocumentDB/databaseAccounts", "2025-04-15"),
    (
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases",
        "2025-04-15",
    ),
    (
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers",
        "2025-04-15",
    ),
    ("Microsoft.KeyVault/vaults", "2025-05-01"),
    ("Microsoft.ServiceBus/namespaces", "2024-01-01"),
    ("Microsoft.ServiceBus/namespaces/topics", "2024-01-01"),
    (
        "Microsoft.ServiceBus/namespaces/topics/subscriptions",
        "2024-01-01",
    ),
    ("Microsoft.EventHub/namespaces", "2024-01-01"),
    ("Microsoft.Storage/storageAccounts", "2025-06-01"),
    (
        "Microsoft.Storage/storageAccounts/blobServices/containers",
        "2025-06-01",
    ),
    ("Microsoft.ContainerRegistry/registries", "2025-04-01"),
    ("Microsoft.ContainerService/managedClusters", "2025-10-01"),
    (
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "2024-11-30",
    ),
    (
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        "2024-11-30",
    ),
    ("Microsoft.Authorization/roleAssignments", "2022-04-01"),
    ("Microsoft.OperationalInsights/workspaces", "2025-07-01"),
    ("Microsoft.Insights/components", "2020-02-02"),
    (
        "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments",
        "2025-04-15",
    ),
];

/// The pinned api-version for a resource type.
pub fn for_type(resource_type: &str) -> Option<&'static str> {
    PINNED
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(resource_type))
        .map(|(_, v)| *v)
}
