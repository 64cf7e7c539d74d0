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
    ("Microsoft.DBforPostgreSQL/flexibleServers", "2025-08-01"),
    (
        "Microsoft.DBforPostgreSQL/flexibleServers/databases",
        "2025-08-01",
    ),
    (
        "Microsoft.DBforPostgreSQL/flexibleServers/administrators",
        "2025-08-01",
    ),
    (
        "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules",
        "2025-08-01",
    ),
    ("Microsoft.Network/virtualNetworks", "2024-05-01"),
    ("Microsoft.Network/networkSecurityGroups", "2024-05-01"),
    ("Microsoft.Network/ddosProtectionPlans", "2024-05-01"),
    ("Microsoft.Network/privateEndpoints", "2024-05-01"),
    (
        "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
        "2024-05-01",
    ),
    ("Microsoft.Network/privateDnsZones", "2024-06-01"),
    (
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
        "2024-06-01",
    ),
    ("Microsoft.ApiManagement/service", "2024-05-01"),
    ("Microsoft.ApiManagement/service/apis", "2024-05-01"),
    (
        "Microsoft.ApiManagement/service/apis/policies",
        "2024-05-01",
    ),
    ("Microsoft.ApiManagement/service/namedValues", "2024-05-01"),
    ("Microsoft.Cdn/profiles", "2024-09-01"),
    ("Microsoft.Cdn/profiles/afdEndpoints", "2024-09-01"),
    ("Microsoft.Cdn/profiles/afdEndpoints/routes", "2024-09-01"),
    ("Microsoft.Cdn/profiles/originGroups", "2024-09-01"),
    ("Microsoft.Cdn/profiles/originGroups/origins", "2024-09-01"),
    ("Microsoft.Cdn/profiles/securityPolicies", "2024-09-01"),
    (
        "Microsoft.Network/FrontDoorWebApplicationFirewallPolicies",
        "2024-02-01",
    ),
    ("Microsoft.Consumption/budgets", "2023-11-01"),
    ("Microsoft.Insights/actionGroups", "2023-01-01"),
    ("Microsoft.Insights/scheduledQueryRules", "2023-12-01"),
    ("Microsoft.KeyVault/vaults/secrets", "2025-05-01"),
    (
        "Microsoft.ContainerRegistry/registries/replications",
        "2025-04-01",
    ),
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
