//! Azure's naming rules, checked before any request so a bad name fails fast and clearly.
//! Source: learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
//! (and the Key Vault object-name rules for secrets).

use std::fmt;

/// The kinds of names we create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Microsoft.Resources/resourceGroups
    ResourceGroup,
    /// Microsoft.Storage/storageAccounts
    StorageAccount,
    /// Blob container inside a storage account
    BlobContainer,
    /// Microsoft.KeyVault/vaults
    KeyVault,
    /// A secret in a vault (data plane)
    KeyVaultSecret,
    /// Microsoft.DocumentDB/databaseAccounts
    CosmosAccount,
    /// SQL database in a Cosmos account
    CosmosDatabase,
    /// SQL container in a Cosmos database
    CosmosContainer,
    /// Microsoft.ServiceBus/namespaces
    ServiceBusNamespace,
    /// Service Bus topic
    ServiceBusTopic,
    /// Service Bus topic subscription
    ServiceBusSubscription,
    /// Microsoft.EventHub/namespaces
    EventHubsNamespace,
    /// Microsoft.ContainerRegistry/registries
    ContainerRegistry,
    /// Microsoft.ContainerService/managedClusters
    ManagedCluster,
    /// Microsoft.ManagedIdentity/userAssignedIdentities
    UserAssignedIdentity,
    /// Federated identity credential of a user-assigned identity
    FederatedCredential,
    /// Microsoft.OperationalInsights/workspaces
    LogAnalyticsWorkspace,
    /// Microsoft.Insights/components
    ApplicationInsights,
    /// Microsoft.DBforPostgreSQL/flexibleServers
    PostgresServer,
    /// A database in a PostgreSQL flexible server
    PostgresDatabase,
    /// Microsoft.Network/virtualNetworks (and their subnets and NSGs)
    VirtualNetwork,
    /// Microsoft.ApiManagement/service
    ApiManagement,
    /// Microsoft.Cdn/profiles (Front Door) and its endpoints
    FrontDoor,
    /// Microsoft.Network/FrontDoorWebApplicationFirewallPolicies
    WafPolicy,
    /// Budgets, action groups, alert rules: letters, digits, '-' and '_'
    Monitoring,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ResourceGroup => "resource group",
            Self::StorageAccount => "storage account",
            Self::BlobContainer => "blob container",
            Self::KeyVault => "key vault",
            Self::KeyVaultSecret => "key vault secret",
            Self::CosmosAccount => "Cosmos DB account",
            Self::CosmosDatabase => "Cosmos DB database",
            Self::CosmosContainer => "Cosmos DB container",
            Self::ServiceBusNamespace => "Service Bus namespace",
            Self::ServiceBusTopic => "Service Bus topic",
            Self::ServiceBusSubscription => "Service Bus subscription",
            Self::EventHubsNamespace => "Event Hubs namespace",
            Self::ContainerRegistry => "container registry",
            Self::ManagedCluster => "AKS cluster",
            Self::UserAssignedIdentity => "managed identity",
            Self::FederatedCredential => "federated credential",
            Self::LogAnalyticsWorkspace => "Log Analytics workspace",
            Self::ApplicationInsights => "Application Insights component",
            Self::PostgresServer => "PostgreSQL server",
            Self::PostgresDatabase => "PostgreSQL database",
            Self::VirtualNetwork => "virtual network",
            Self::ApiManagement => "API Management service",
            Self::FrontDoor => "Front Door",
            Self::WafPolicy => "WAF policy",
            Self::Monitoring => "budget, action group or alert rule",
        })
    }
}

/// A name Azure would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} name {name:?}: {rule}")]
pub struct NameError {
    /// What the name is for.
    pub kind: Kind,
    /// The name.
    pub name: String,
    /// The rule it breaks.
    pub rule: String,
}

struct Rule {
    min: usize,
    max: usize,
    allowed: fn(char) -> bool,
    allowed_text: &'static str,
    first: fn(char) -> bool,
    first_text: &'static str,
    last: fn(char) -> bool,
    last_text: &'static str,
    no_double_hyphen: bool,
}

fn alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}
fn lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}
fn letter(c: char) -> bool {
    c.is_ascii_alphabetic()
}
fn any(_: char) -> bool {
    true
}

fn rule(kind: Kind) -> Rule {
    let base = Rule {
        min: 1,
        max: 63,
        allowed: alnum,
        allowed_text: "letters and digits",
        first: any,
        first_text: "",
        last: any,
        last_text: "",
        no_double_hyphen: false,
    };
    match kind {
        Kind::ResourceGroup => Rule {
            max: 90,
            allowed: |c| c.is_alphanumeric() || "_-.()".contains(c),
            allowed_text: "letters, digits, '_', '-', '.', '(' and ')'",
            last: |c| c != '.',
            last_text: "anything but '.'",
            ..base
        },
        Kind::StorageAccount => Rule {
            min: 3,
            max: 24,
            allowed: lower_alnum,
            allowed_text: "lowercase letters and digits",
            ..base
        },
        Kind::BlobContainer => Rule {
            min: 3,
            max: 63,
            allowed: |c| lower_alnum(c) || c == '-',
            allowed_text: "lowercase letters, digits and '-'",
            first: lower_alnum,
            first_text: "a lowercase letter or digit",
            last: lower_alnum,
            last_text: "a lowercase letter or digit",
            no_double_hyphen: true,
        },
        Kind::KeyVault => Rule {
            min: 3,
            max: 24,
            allowed: |c| alnum(c) || c == '-',
            allowed_text: "letters, digits and '-'",
            first: letter,
            first_text: "a letter",
            last: alnum,
            last_text: "a letter or digit",
            no_double_hyphen: true,
        },
        Kind::KeyVaultSecret => Rule {
            max: 127,
            allowed: |c| alnum(c) || c == '-',
            allowed_text: "letters, digits and '-'",
            ..base
        },
        Kind::CosmosAccount => Rule {
            min: 3,
            max: 44,
            allowed: |c| lower_alnum(c) || c == '-',
            allowed_text: "lowercase letters, digits and '-'",
            first: lower_alnum,
            first_text: "a lowercase letter or digit",
            last: lower_alnum,
            last_text: "a lowercase letter or digit",
            ..base
        },
        Kind::CosmosDatabase | Kind::CosmosContainer => Rule {
            max: 255,
            allowed: |c| !"/\\#?".contains(c) && !c.is_control(),
            allowed_text: "any character except '/', '\\', '#', '?' and control characters",
            last: |c| c != ' ',
            last_text: "anything but a space",
            ..base
        },
        Kind::ServiceBusNamespace | Kind::EventHubsNamespace => Rule {
            min: 6,
            max: 50,
            allowed: |c| alnum(c) || c == '-',
            allowed_text: "letters, digits and '-'",
            first: letter,
            first_text: "a letter",
            last: alnum,
            last_text: "a letter or digit",
            ..base
        },
        Kind::ServiceBusTopic => Rule {
            max: 260,
            allowed: |c| alnum(c) || "-._".contains(c),
            allowed_text: "letters, digits, '-', '.' and '_'",
            first: alnum,
            first_text: "a letter or digit",
            last: alnum,
            last_text: "a letter or digit",
            ..base
        },
        Kind::ServiceBusSubscription => Rule {
            max: 50,
            allowed: |c| alnum(c) || "-._".contains(c),
            allowed_text: "letters, digits, '-', '.' and '_'",
            first: alnum,
            first_text: "a letter or digit",
            last: alnum,
            last_text: "a letter or digit",
            ..base
        },
        Kind::ContainerRegistry => Rule {
            min: 5,
            max: 50,
            ..base
        },
        Kind::ManagedCluster => Rule {
            max: 63,
            allowed: |c| alnum(c) || "-_".contains(c),
            allowed_text: "letters, digits, '-' and '_'",
            first: alnum,
            first_text: "a letter or digit",
            last: alnum,
            last_text: "a letter or digit",
            ..base
        },
        Kind::UserAssignedIdentity => Rule {
            min: 3,
            max: 128,
            allowed: |c| alnum(c) || "-_".contains(c),
            allowed_text: "letters, digits, '-' and '_'",
            first: alnum,
            first_text: "a letter or digit",
            ..base
        },
        Kind::FederatedCredential => Rule {
            min: 3,
            max: 120,
            allowed: |c| alnum(c) || "-_".contains(c),
            allowed_text: "letters, digits, '-' and '_'",
            first: alnum,
            first_text: "a letter or digit",
            ..base
        },
        Kind::LogAnalyticsWorkspace => Rule {
            min: 4,
            max: 63,
            allowed: |c| alnum(c) || c == '-',
            allowed_text: "letters, digits and '-'",
            first: alnum,
            first_text: "a letter or digit",
            last: alnum,
            last_text: "a letter or digit",
            ..base
        },
        Kind::ApplicationInsights => Rule {
            max: 260,
            allowed: |c| !"%&\\?/".contains(c) && !c.is_control(),
            allowed_text: "any character except '%', '&', '\\', '?', '/' and control characters",
            last: |c| c != ' ' && c != '.',
            last_text: "anything but a space or '.'",
            ..base
        },
        Kind::PostgresServer => Rule {
            min: 3,
            max: 63,
            allowed: |c| lower_alnum(c) || c == '-',
            allowed_text: "lowercase letters, digits and '-'",
            first: lower_alnum,
            first_text: "a lowercase letter or digit",
            last: lower_alnum,
            last_text: "a lowercase letter or digit",
            ..base
        },
        Kind::PostgresDatabase => Rule {
            allowed: |c| alnum(c) || c == '_',
            allowed_text: "letters, digits and '_'",
            first: |c| letter(c) || c == '_',
            first_text: "a letter or '_'",
            ..base
        },
        Kind::VirtualNetwork => Rule {
            min: 2,
            max: 64,
            allowed: |c| alnum(c) || "-_.".contains(c),
            allowed_text: "letters, digits, '-', '_' and '.'",
            first: alnum,
            first_text: "a letter or digit",
            last: |c| alnum(c) || c == '_',
            last_text: "a letter, digit or '_'",
            ..base
        },
        Kind::ApiManagement => Rule {
            max: 50,
            allowed: |c| alnum(c) || c == '-',
            allowed_text: "letters, digits and '-'",
            first: letter,
            first_text: "a letter",
            last: alnum,
            last_text: "a letter or digit",
            ..base
        },
        Kind::FrontDoor => Rule {
            max: 46,
            allowed: |c| alnum(c) || c == '-',
            allowed_text: "letters, digits and '-'",
            first: alnum,
            first_text: "a letter or digit",
            last: alnum,
            last_text: "a letter or digit",
            ..base
        },
        Kind::WafPolicy => Rule {
            max: 128,
            first: letter,
            first_text: "a letter",
            ..base
        },
        Kind::Monitoring => Rule {
            allowed: |c| alnum(c) || "-_".contains(c),
            allowed_text: "letters, digits, '-' and '_'",
            first: alnum,
            first_text: "a letter or digit",
            last: alnum,
            last_text: "a letter or digit",
            ..base
        },
    }
}

/// Checks `name` against the rules for `kind`.
pub fn check(kind: Kind, name: &str) -> Result<(), NameError> {
    let r = rule(kind);
    let fail = |rule: String| {
        Err(NameError {
            kind,
            name: name.to_string(),
            rule,
        })
    };
    let len = name.chars().count();
    if len < r.min || len > r.max {
        return fail(format!(
            "must be {}-{} characters long (is {len})",
            r.min, r.max
        ));
    }
    if let Some(c) = name.chars().find(|c| !(r.allowed)(*c)) {
        return fail(format!(
            "{c:?} is not allowed (only {} are)",
            r.allowed_text
        ));
    }
    if let Some(c) = name.chars().next().filter(|c| !(r.first)(*c)) {
        return fail(format!(
            "must start with {} (starts with {c:?})",
            r.first_text
        ));
    }
    if let Some(c) = name.chars().last().filter(|c| !(r.last)(*c)) {
        return fail(format!("must end with {} (ends with {c:?})", r.last_text));
    }
    if r.no_double_hyphen && name.contains("--") {
        return fail("must not contain consecutive hyphens".to_string());
    }
    if kind == Kind::ServiceBusNamespace && (name.ends_with("-sb") || name.ends_with("-mgmt")) {
        return fail("must not end with \"-sb\" or \"-mgmt\"".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_names() {
        for (kind, name) in [
            (Kind::ResourceGroup, "rg-tradewind_dev(1)"),
            (Kind::StorageAccount, "twdevdata01"),
            (Kind::BlobContainer, "backtest-reports"),
            (Kind::KeyVault, "kv-tradewind-dev"),
            (Kind::KeyVaultSecret, "bot-btc-scalper-credentials"),
            (Kind::CosmosAccount, "cosmos-tradewind-dev"),
            (Kind::CosmosContainer, "bot-default-btc-scalper"),
            (Kind::ServiceBusNamespace, "sb-tradewind-dev"),
            (Kind::ServiceBusTopic, "bot.default.btc-scalper"),
            (Kind::ContainerRegistry, "acrtradewinddev"),
            (Kind::ManagedCluster, "aks-tradewind-dev"),
            (Kind::LogAnalyticsWorkspace, "log-tradewind"),
            (Kind::PostgresServer, "tradewind-prod-pg"),
            (Kind::PostgresDatabase, "ledger"),
            (Kind::VirtualNetwork, "tradewind-prod-vnet"),
            (Kind::ApiManagement, "tradewind-prod-apim"),
            (Kind::FrontDoor, "tradewind-prod-fd"),
            (Kind::WafPolicy, "tradewindprodwaf"),
            (Kind::Monitoring, "tradewind-prod-oncall"),
        ] {
            assert_eq!(check(kind, name), Ok(()), "{kind} {name}");
        }
    }

    #[test]
    fn refuses_with_the_rule_broken() {
        let cases = [
            (
                Kind::StorageAccount,
                "TwDev",
                "storage account name \"TwDev\": 'T' is not allowed (only lowercase letters and digits are)",
            ),
            (
                Kind::StorageAccount,
                "tw",
                "storage account name \"tw\": must be 3-24 characters long (is 2)",
            ),
            (
                Kind::KeyVault,
                "1vault",
                "key vault name \"1vault\": must start with a letter (starts with '1')",
            ),
            (
                Kind::KeyVault,
                "kv--dev",
                "key vault name \"kv--dev\": must not contain consecutive hyphens",
            ),
            (
                Kind::KeyVault,
                "kv-dev-",
                "key vault name \"kv-dev-\": must end with a letter or digit (ends with '-')",
            ),
            (
                Kind::CosmosAccount,
                "Cosmos",
                "Cosmos DB account name \"Cosmos\": 'C' is not allowed (only lowercase letters, digits and '-' are)",
            ),
            (
                Kind::ServiceBusNamespace,
                "tw-sb",
                "Service Bus namespace name \"tw-sb\": must be 6-50 characters long (is 5)",
            ),
            (
                Kind::ServiceBusNamespace,
                "tradewind-sb",
                "Service Bus namespace name \"tradewind-sb\": must not end with \"-sb\" or \"-mgmt\"",
            ),
            (
                Kind::ContainerRegistry,
                "acr-tradewind",
                "container registry name \"acr-tradewind\": '-' is not allowed (only letters and digits are)",
            ),
            (
                Kind::ResourceGroup,
                "rg.",
                "resource group name \"rg.\": must end with anything but '.' (ends with '.')",
            ),
            (
                Kind::CosmosContainer,
                "a/b",
                "Cosmos DB container name \"a/b\": '/' is not allowed (only any character except '/', '\\', '#', '?' and control characters are)",
            ),
            (
                Kind::PostgresServer,
                "-pg",
                "PostgreSQL server name \"-pg\": must start with a lowercase letter or digit (starts with '-')",
            ),
            (
                Kind::WafPolicy,
                "waf-prod",
                "WAF policy name \"waf-prod\": '-' is not allowed (only letters and digits are)",
            ),
            (
                Kind::PostgresDatabase,
                "1ledger",
                "PostgreSQL database name \"1ledger\": must start with a letter or '_' (starts with '1')",
            ),
        ];
        for (kind, name, message) in cases {
            assert_eq!(check(kind, name).unwrap_err().to_string(), message);
        }
    }
}
