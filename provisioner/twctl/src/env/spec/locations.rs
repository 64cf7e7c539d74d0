//! Azure locations a spec may name, checked before any request (a misspelt location
//! otherwise reaches Resource Manager, and text such as `"/../x?api-version=1` would end
//! up in a request path).
//!
//! Source: the physical regions `az account list-locations --query
//! "[?metadata.regionType=='Physical'].name"` lists in the public cloud, plus Azure
//! China's and Azure Government's regions; compiled 2026-12. Azure adds regions: if one
//! is missing, add its name here.

/// Every location name, lower case as Resource Manager spells it.
pub const LOCATIONS: &[&str] = &[
    // Public cloud.
    "australiacentral",
    "australiacentral2",
    "australiaeast",
    "australiasoutheast",
    "austriaeast",
    "belgiumcentral",
    "brazilsouth",
    "brazilsoutheast",
    "canadacentral",
    "canadaeast",
    "centralindia",
    "centralus",
    "chilecentral",
    "eastasia",
    "eastus",
    "eastus2",
    "francecentral",
    "francesouth",
    "germanynorth",
    "germanywestcentral",
    "indonesiacentral",
    "israelcentral",
    "italynorth",
    "japaneast",
    "japanwest",
    "jioindiacentral",
    "jioindiawest",
    "koreacentral",
    "koreasouth",
    "malaysiawest",
    "mexicocentral",
    "newzealandnorth",
    "northcentralus",
    "northeurope",
    "norwayeast",
    "norwaywest",
    "polandcentral",
    "qatarcentral",
    "southafricanorth",
    "southafricawest",
    "southcentralus",
    "southeastasia",
    "southindia",
    "spaincentral",
    "swedencentral",
    "switzerlandnorth",
    "switzerlandwest",
    "uaecentral",
    "uaenorth",
    "uksouth",
    "ukwest",
    "westcentralus",
    "westeurope",
    "westindia",
    "westus",
    "westus2",
    "westus3",
    // Azure China.
    "chinaeast",
    "chinaeast2",
    "chinaeast3",
    "chinanorth",
    "chinanorth2",
    "chinanorth3",
    // Azure Government.
    "usgovarizona",
    "usgovtexas",
    "usgovvirginia",
    "usdodcentral",
    "usdodeast",
];

/// Whether `name` is a known location; else the reason, with the nearest hint.
pub fn check(name: &str) -> Result<(), String> {
    if LOCATIONS.contains(&name) {
        return Ok(());
    }
    let squashed: String = name
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    if LOCATIONS.contains(&squashed.as_str()) {
        return Err(format!(
            "{name:?}: write it as Resource Manager does, {squashed:?}"
        ));
    }
    Err(format!(
        "{name:?} is not an Azure location this twctl knows (e.g. westeurope, eastus2; the list is in provisioner/twctl/src/env/spec/locations.rs)"
    ))
}

/// Azure's region pairs, both ways: the default secondary region for disaster recovery.
/// Source: "Azure cross-region replication pairings for all geographies",
/// learn.microsoft.com/azure/reliability/cross-region-replication-azure (compiled 2026-12,
/// from memory of that table; regions without a pair there need `secondaryLocation`).
pub const PAIRS: &[(&str, &str)] = &[
    ("eastus", "westus"),
    ("eastus2", "centralus"),
    ("westus2", "westcentralus"),
    ("westus3", "eastus"),
    ("northcentralus", "southcentralus"),
    ("canadacentral", "canadaeast"),
    ("brazilsouth", "southcentralus"),
    ("northeurope", "westeurope"),
    ("uksouth", "ukwest"),
    ("francecentral", "francesouth"),
    ("germanywestcentral", "germanynorth"),
    ("switzerlandnorth", "switzerlandwest"),
    ("norwayeast", "norwaywest"),
    ("swedencentral", "swedensouth"),
    ("eastasia", "southeastasia"),
    ("japaneast", "japanwest"),
    ("koreacentral", "koreasouth"),
    ("australiaeast", "australiasoutheast"),
    ("australiacentral", "australiacentral2"),
    ("centralindia", "southindia"),
    ("uaenorth", "uaecentral"),
    ("southafricanorth", "southafricawest"),
];

/// The region `name` is paired with, if Azure pairs it. For a region that is the second
/// of two pairs (westus, southcentralus) the first pair listed wins.
pub fn paired(name: &str) -> Option<&'static str> {
    PAIRS.iter().find_map(|(a, b)| {
        if *a == name {
            Some(*b)
        } else if *b == name {
            Some(*a)
        } else {
            None
        }
    })
}
