//! The ARM resource types the fake knows: api-versions, how PUT and DELETE complete, and
//! name rules. Shaped after the copied REST examples (tests/azure/fixtures).

/// How a PUT completes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PutMode {
    /// Synchronous: `create`/`update` status, provisioningState Succeeded (if `state`).
    Sync {
        create: u16,
        update: u16,
        state: bool,
    },
    /// Long-running with a body: a non-terminal provisioningState plus polling headers.
    Async {
        create: u16,
        update: u16,
        create_state: &'static str,
        update_state: &'static str,
        headers: Headers,
    },
    /// Long-running with an empty 202 (Cosmos SQL resources) on create and update.
    Accepted { headers: Headers },
    /// Create answers an empty 202 with `Location`; update is synchronous (storage).
    LocationCreate,
}

/// How a DELETE completes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DeleteMode {
    /// 200, resource gone at once. `body`: the deleted resource is returned.
    Sync { body: bool },
    /// 202 plus polling headers; the resource is `Deleting` until the operation ends.
    Async { headers: Headers },
}

/// Which polling headers a long-running response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Headers {
    AsyncOperation,
    Location,
    Both,
}

/// Name rule checked before anything is stored (400 with the service's code).
#[derive(Clone, Copy, Debug)]
pub(crate) enum NameRule {
    None,
    ResourceGroup,
    StorageAccount,
    Vault,
    CosmosAccount,
}

/// One resource type.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TypeSpec {
    /// Full type as ARM spells it (`Microsoft.Storage/storageAccounts`).
    pub display: &'static str,
    pub versions: &'static [&'static str],
    pub put: PutMode,
    pub delete: DeleteMode,
    pub patch: bool,
    /// Tracked resources require `location`.
    pub tracked: bool,
    pub name_rule: NameRule,
}

impl TypeSpec {
    /// Lower-case key.
    pub fn key(&self) -> String {
        self.display.to_ascii_lowercase()
    }
}

const SYNC_201: PutMode = PutMode::Sync {
    create: 201,
    update: 200,
    state: true,
};
const SYNC_DEL: DeleteMode = DeleteMode::Sync { body: false };

const fn lro(create: u16, create_state: &'static str, headers: Headers) -> PutMode {
    PutMode::Async {
        create,
        update: 200,
        create_state,
        update_state: "Updating",
        headers,
    }
}

/// Every type the fake serves.
pub(crate) const TYPES: &[TypeSpec] = &[
    TypeSpec {
        display: "Microsoft.Resources/resourceGroups",
        versions: &[
            "2025-04-01",
            "2025-03-01",
            "2024-11-01",
            "2024-03-01",
            "2021-04-01",
        ],
        put: SYNC_201,
        delete: DeleteMode::Async {
            headers: Headers::Location,
        },
        patch: true,
        tracked: true,
        name_rule: NameRule::ResourceGroup,
    },
    TypeSpec {
        display: "Microsoft.DocumentDB/databaseAccounts",
        versions: &["2025-04-15", "2024-11-15"],
        // The CreateMin example answers 200 with `Initializing`.
        put: PutMode::Async {
            create: 200,
            update: 200,
            create_state: "Initializing",
            update_state: "Updating",
            headers: Headers::Both,
        },
        delete: DeleteMode::Async {
            headers: Headers::Both,
        },
        patch: true,
        tracked: true,
        name_rule: NameRule::CosmosAccount,
    },
    TypeSpec {
        display: "Microsoft.DocumentDB/databaseAccounts/sqlDatabases",
        versions: &["2025-04-15", "2024-11-15"],
        put: PutMode::Accepted {
            headers: Headers::Both,
        },
        delete: DeleteMode::Async {
            headers: Headers::Both,
        },
        patch: false,
        tracked: false,
        name_rule: NameRule::None,
    },
    TypeSpec {
        display: "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers",
        versions: &["2025-04-15", "2024-11-15"],
        put: PutMode::Accepted {
            headers: Headers::Both,
        },
        delete: DeleteMode::Async {
            headers: Headers::Both,
        },
        patch: false,
        tracked: false,
        name_rule: NameRule::None,
    },
    TypeSpec {
        display: "Microsoft.KeyVault/vaults",
        versions: &["2025-05-01", "2024-11-01", "2023-07-01"],
        // createVault.json: 201/200 with Succeeded (synchronous in reality).
        put: SYNC_201,
        delete: SYNC_DEL,
        patch: true,
        tracked: true,
        name_rule: NameRule::Vault,
    },
    TypeSpec {
        display: "Microsoft.ServiceBus/namespaces",
        versions: &["2024-01-01", "2022-10-01-preview", "2021-11-01"],
        // SBNameSpaceCreate.json shows provisioningState `Created` (non-terminal).
        put: lro(201, "Created", Headers::AsyncOperation),
        delete: DeleteMode::Async {
            headers: Headers::AsyncOperation,
        },
        patch: true,
        tracked: true,
        name_rule: NameRule::None,
    },
    TypeSpec {
        display: "Microsoft.ServiceBus/namespaces/topics",
        versions: &["2024-01-01", "2022-10-01-preview", "2021-11-01"],
        put: PutMode::Sync {
            create: 200,
            update: 200,
            state: false,
        },
        delete: SYNC_DEL,
        patch: false,
        tracked: false,
        name_rule: NameRule::None,
    },
    TypeSpec {
        display: "Microsoft.ServiceBus/namespaces/topics/subscriptions",
        versions: &["2024-01-01", "2022-10-01-preview", "2021-11-01"],
        put: PutMode::Sync {
            create: 200,
            update: 200,
            state: false,
        },
        delete: SYNC_DEL,
        patch: false,
        tracked: false,
        name_rule: NameRule::None,
    },
    TypeSpec {
        display: "Microsoft.EventHub/namespaces",
        versions: &["2024-01-01", "2022-10-01-preview", "2021-11-01"],
        put: lro(201, "Created", Headers::AsyncOperation),
        delete: DeleteMode::Async {
            headers: Headers::AsyncOperation,
        },
        patch: true,
        tracked: true,
        name_rule: NameRule::None,
    },
    TypeSpec {
        display: "Microsoft.Storage/storageAccounts",
        versions: &["2025-06-01", "2025-01-01", "2024-01-01", "2023-05-01"],
        put: PutMode::LocationCreate,
        delete: SYNC_DEL,
        patch: true,
        tracked: true,
        name_rule: NameRule::StorageAccount,
    },
    TypeSpec {
        display: "Microsoft.Storage/storageAccounts/blobServices/containers",
        versions: &["2025-06-01", "2025-01-01", "2024-01-01", "2023-05-01"],
        put: PutMode::Sync {
            create: 201,
            update: 200,
            state: false,
        },
        delete: SYNC_DEL,
        patch: true,
        tracked: false,
        name_rule: NameRule::None,
    },
    TypeSpec {
        display: "Microsoft.ContainerRegistry/registries",
        versions: &["2025-04-01", "2023-07-01"],
        put: lro(201, "Creating", Headers::AsyncOperation),
        delete: DeleteMode::Async {
            headers: Headers::Both,
        },
        patch: true,
        tracked: true,
        name_rule: NameRule::None,
    },
    TypeSpec {
        display: "Microsoft.ContainerService/managedClusters",
        versions: &["2025-10-01", "2025-07-01", "2025-05-01"],
        put: lro(201, "Creating", Headers::AsyncOperation),
        delete: DeleteMode::Async {
            headers: Headers::Both,
        },
        patch: true,
        tracked: true,
        name_rule: NameRule::None,
    },
    TypeSpec {
        display: "Microsoft.ManagedIdentity/userAssignedIdentities",
        versions: &["2024-11-30", "2023-01-31", "2026-05-31"],
        put: SYNC_201,
        delete: SYNC_DEL,
        patch: true,
        tracked: true,
        name_rule: NameRule::None,
    },
    TypeSpec {
        display: "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        versions: &["2024-11-30", "2023-01-31", "2026-05-31"],
        put: PutMode::Sync {
            create: 201,
            update: 200,
            state: false,
        },
        delete: SYNC_DEL,
        patch: false,
        tracked: false,
        name_rule: NameRule::None,
    },
    TypeSpec {
        display: "Microsoft.Authorization/roleAssignments",
        versions: &["2022-04-01", "2020-10-01-preview"],
        put: PutMode::Sync {
            create: 201,
            update: 200,
            state: false,
        },
        delete: DeleteMode::Sync { body: true },
        patch: false,
        tracked: false,
        name_rule: NameRule::None,
    },
    TypeSpec {
        display: "Microsoft.OperationalInsights/workspaces",
        versions: &["2025-07-01", "2025-02-01", "2023-09-01"],
        put: lro(201, "Creating", Headers::AsyncOperation),
        delete: DeleteMode::Async {
            headers: Headers::AsyncOperation,
        },
        patch: true,
        tracked: true,
        name_rule: NameRule::None,
    },
    TypeSpec {
        display: "Microsoft.Insights/components",
        versions: &["2020-02-02"],
        // ComponentsCreate.json lists only 200 (create included), Succeeded.
        put: PutMode::Sync {
            create: 200,
            update: 200,
            state: true,
        },
        delete: SYNC_DEL,
        patch: true,
        tracked: true,
        name_rule: NameRule::None,
    },
    TypeSpec {
        display: "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments",
        versions: &["2025-04-15", "2024-11-15"],
        // CosmosDBSqlRoleAssignmentCreateUpdate.json: 200 or an empty 202; the delete
        // example's 202 carries both polling headers.
        put: PutMode::Accepted {
            headers: Headers::Both,
        },
        delete: DeleteMode::Async {
            headers: Headers::Both,
        },
        patch: false,
        tracked: false,
        name_rule: NameRule::None,
    },
];

/// A synchronous type: 201 on create, 200 on update.
const fn sync(
    state: bool,
    tracked: bool,
    versions: &'static [&'static str],
    display: &'static str,
) -> TypeSpec {
    TypeSpec {
        display,
        versions,
        put: PutMode::Sync {
            create: 201,
            update: 200,
            state,
        },
        delete: SYNC_DEL,
        patch: true,
        tracked,
        name_rule: NameRule::None,
    }
}

/// A long-running type whose PUT answers 201 (or an empty 202) and polls.
const fn long(
    put: PutMode,
    tracked: bool,
    versions: &'static [&'static str],
    display: &'static str,
) -> TypeSpec {
    TypeSpec {
        display,
        versions,
        put,
        delete: DeleteMode::Async {
            headers: Headers::AsyncOperation,
        },
        patch: true,
        tracked,
        name_rule: NameRule::None,
    }
}

const PG: &[&str] = &["2025-08-01", "2024-08-01"];
const NET: &[&str] = &["2024-05-01", "2024-03-01"];
const DNS: &[&str] = &["2024-06-01", "2020-06-01"];
const APIM: &[&str] = &["2024-05-01", "2022-08-01"];
const CDN: &[&str] = &["2024-09-01", "2024-02-01"];
// PostgreSQL examples answer create with an empty 202 and both polling headers.
const PG_PUT: PutMode = PutMode::Accepted {
    headers: Headers::Both,
};
const NET_PUT: PutMode = lro(201, "Updating", Headers::AsyncOperation);
const CDN_PUT: PutMode = lro(201, "Creating", Headers::AsyncOperation);

/// The types the environment's whole topology adds: PostgreSQL, networking, API
/// Management, Front Door and its WAF policy, budgets, alerting, vault secrets, registry
/// replicas.
pub(crate) const MORE_TYPES: &[TypeSpec] = &[
    long(
        PG_PUT,
        true,
        PG,
        "Microsoft.DBforPostgreSQL/flexibleServers",
    ),
    long(
        PG_PUT,
        false,
        PG,
        "Microsoft.DBforPostgreSQL/flexibleServers/databases",
    ),
    long(
        PG_PUT,
        false,
        PG,
        "Microsoft.DBforPostgreSQL/flexibleServers/administrators",
    ),
    long(
        PG_PUT,
        false,
        PG,
        "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules",
    ),
    long(NET_PUT, true, NET, "Microsoft.Network/virtualNetworks"),
    long(
        NET_PUT,
        true,
        NET,
        "Microsoft.Network/networkSecurityGroups",
    ),
    long(NET_PUT, true, NET, "Microsoft.Network/ddosProtectionPlans"),
    long(NET_PUT, true, NET, "Microsoft.Network/privateEndpoints"),
    long(
        NET_PUT,
        false,
        NET,
        "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
    ),
    long(
        PutMode::Accepted {
            headers: Headers::Both,
        },
        true,
        DNS,
        "Microsoft.Network/privateDnsZones",
    ),
    long(
        PutMode::Accepted {
            headers: Headers::Both,
        },
        true,
        DNS,
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
    ),
    long(
        lro(201, "Activating", Headers::Location),
        true,
        APIM,
        "Microsoft.ApiManagement/service",
    ),
    long(
        PutMode::Accepted {
            headers: Headers::Location,
        },
        false,
        APIM,
        "Microsoft.ApiManagement/service/apis",
    ),
    sync(
        false,
        false,
        APIM,
        "Microsoft.ApiManagement/service/apis/policies",
    ),
    long(
        PutMode::Accepted {
            headers: Headers::Location,
        },
        false,
        APIM,
        "Microsoft.ApiManagement/service/namedValues",
    ),
    long(CDN_PUT, true, CDN, "Microsoft.Cdn/profiles"),
    long(CDN_PUT, true, CDN, "Microsoft.Cdn/profiles/afdEndpoints"),
    long(
        CDN_PUT,
        false,
        CDN,
        "Microsoft.Cdn/profiles/afdEndpoints/routes",
    ),
    long(CDN_PUT, false, CDN, "Microsoft.Cdn/profiles/originGroups"),
    long(
        CDN_PUT,
        false,
        CDN,
        "Microsoft.Cdn/profiles/originGroups/origins",
    ),
    long(
        CDN_PUT,
        false,
        CDN,
        "Microsoft.Cdn/profiles/securityPolicies",
    ),
    sync(
        true,
        true,
        &["2024-02-01", "2022-05-01"],
        "Microsoft.Network/FrontDoorWebApplicationFirewallPolicies",
    ),
    sync(
        false,
        false,
        &["2023-11-01", "2024-08-01"],
        "Microsoft.Consumption/budgets",
    ),
    sync(
        false,
        true,
        &["2023-01-01", "2024-10-01-preview"],
        "Microsoft.Insights/actionGroups",
    ),
    sync(
        false,
        true,
        &["2023-12-01", "2021-08-01"],
        "Microsoft.Insights/scheduledQueryRules",
    ),
    sync(
        false,
        false,
        &["2025-05-01", "2024-11-01"],
        "Microsoft.KeyVault/vaults/secrets",
    ),
    long(
        lro(201, "Creating", Headers::AsyncOperation),
        true,
        &["2025-04-01", "2023-07-01"],
        "Microsoft.ContainerRegistry/registries/replications",
    ),
    long(
        PutMode::Accepted {
            headers: Headers::Both,
        },
        false,
        &["2025-04-15", "2024-11-15"],
        "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments",
    ),
];

/// The spec for a lower-case full type.
pub(crate) fn spec(type_key: &str) -> Option<&'static TypeSpec> {
    TYPES
        .iter()
        .chain(MORE_TYPES)
        .find(|t| t.display.eq_ignore_ascii_case(type_key))
}

/// Checks a name; `Err((code, message))` as the real service words it.
pub(crate) fn check_name(rule: NameRule, name: &str) -> Result<(), (&'static str, String)> {
    let len = name.len();
    match rule {
        NameRule::None => Ok(()),
        NameRule::ResourceGroup => {
            let ok = (1..=90).contains(&len)
                && !name.ends_with('.')
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-_.()".contains(c));
            if ok {
                Ok(())
            } else {
                Err((
                    "InvalidResourceGroupName",
                    format!(
                        "The resource group name '{name}' is invalid. It must be 1-90 characters of letters, digits, '-', '_', '.', '(' or ')', and must not end in a period."
                    ),
                ))
            }
        }
        NameRule::StorageAccount => {
            let ok = (3..=24).contains(&len)
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            if ok {
                Ok(())
            } else {
                Err((
                    "AccountNameInvalid",
                    format!(
                        "{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."
                    ),
                ))
            }
        }
        NameRule::Vault => {
            let b = name.as_bytes();
            let ok = (3..=24).contains(&len)
                && b[0].is_ascii_alphabetic()
                && b[len - 1].is_ascii_alphanumeric()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !name.contains("--");
            if ok {
                Ok(())
            } else {
                Err((
                    "VaultNameNotValid",
                    format!(
                        "The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens."
                    ),
                ))
            }
        }
        NameRule::CosmosAccount => {
            let b = name.as_bytes();
            let ok = (3..=44).contains(&len)
                && b[0] != b'-'
                && b[len - 1] != b'-'
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if ok {
                Ok(())
            } else {
                Err((
                    "InvalidResourceName",
                    format!(
                        "Database account name '{name}' is invalid. It can contain only lowercase letters, numbers and the '-' character, must be between 3 and 44 characters long, and must not start or end with '-'."
                    ),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_service_rules() {
        assert!(check_name(NameRule::StorageAccount, "tradewindci01").is_ok());
        assert_eq!(
            check_name(NameRule::StorageAccount, "Trade_wind")
                .unwrap_err()
                .0,
            "AccountNameInvalid"
        );
        assert!(check_name(NameRule::Vault, "tw-kv-1").is_ok());
        assert!(check_name(NameRule::Vault, "1kv").is_err());
        assert!(check_name(NameRule::Vault, "a--b").is_err());
        assert!(check_name(NameRule::CosmosAccount, "tw-cosmos").is_ok());
        assert!(check_name(NameRule::CosmosAccount, "TW").is_err());
        assert!(check_name(NameRule::ResourceGroup, "rg.").is_err());
    }

    #[test]
    fn every_pinned_api_version_is_known() {
        for (t, v) in [
            ("microsoft.resources/resourcegroups", "2025-04-01"),
            (
                "microsoft.documentdb/databaseaccounts/sqldatabases/containers",
                "2025-04-15",
            ),
            ("microsoft.keyvault/vaults", "2025-05-01"),
            (
                "microsoft.servicebus/namespaces/topics/subscriptions",
                "2024-01-01",
            ),
            ("microsoft.eventhub/namespaces", "2024-01-01"),
            (
                "microsoft.storage/storageaccounts/blobservices/containers",
                "2025-06-01",
            ),
            ("microsoft.containerregistry/registries", "2025-04-01"),
            ("microsoft.containerservice/managedclusters", "2025-10-01"),
            (
                "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials",
                "2024-11-30",
            ),
            ("microsoft.authorization/roleassignments", "2022-04-01"),
            ("microsoft.operationalinsights/workspaces", "2025-07-01"),
            ("microsoft.insights/components", "2020-02-02"),
            (
                "microsoft.documentdb/databaseaccounts/sqlroleassignments",
                "2025-04-15",
            ),
        ] {
            assert!(spec(t).is_some_and(|s| s.versions.contains(&v)), "{t} {v}");
        }
    }
}
