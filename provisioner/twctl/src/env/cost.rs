//! `twctl env cost` (pure): an estimated monthly cost per resource from the price table
//! shipped here. Money is integer US cents, never a float.
//!
//! Source: Microsoft's public list prices (azure.microsoft.com/pricing, pay-as-you-go,
//! USD, West Europe, Linux VMs, 730 hours a month), written down on [`PRICES_AS_OF`] from
//! those pages and not fetched live; prices change and differ per region and agreement,
//! so treat the result as an order of magnitude and check the Azure pricing calculator.
//! Usage-based charges (requests, GB stored or ingested, RU consumed) are named in the
//! note of each line and not added.

use serde::Serialize;

use super::resources::ALERTS;
use super::spec::{
    AcrSku, AksTier, ApimSku, Environment, FrontDoorSku, HighAvailability, MessagingSku,
};

/// When the table was written down.
pub const PRICES_AS_OF: &str = "2026-12-01";
/// Hours in the month the table prices by.
pub const HOURS_PER_MONTH: u64 = 730;

/// Pay-as-you-go price per hour, in thousandths of a cent, of the VM sizes Tradewind's
/// examples use (Linux).
pub const VM_MILLICENTS_PER_HOUR: &[(&str, u64)] = &[
    ("Standard_B2s", 4_160),
    ("Standard_D2s_v5", 9_600),
    ("Standard_D4s_v5", 19_200),
    ("Standard_D8s_v5", 38_400),
    ("Standard_D16s_v5", 76_800),
];

/// PostgreSQL Flexible Server compute per hour, thousandths of a cent.
pub const POSTGRES_MILLICENTS_PER_HOUR: &[(&str, u64)] = &[
    ("Standard_B1ms", 1_700),
    ("Standard_B2s", 6_800),
    ("Standard_D2ds_v5", 17_800),
    ("Standard_D4ds_v5", 35_600),
    ("Standard_D8ds_v5", 71_200),
];

/// Fixed monthly prices, cents.
pub mod monthly {
    /// AKS Standard tier (uptime SLA), per cluster.
    pub const AKS_STANDARD: u64 = 7_300;
    /// ACR Basic, Standard, Premium; a Premium geo-replica costs another Premium.
    pub const ACR: [u64; 3] = [500, 2_000, 5_000];
    /// Service Bus Standard base charge.
    pub const SERVICE_BUS_STANDARD: u64 = 986;
    /// Service Bus Premium, per messaging unit.
    pub const SERVICE_BUS_PREMIUM_MU: u64 = 67_744;
    /// Event Hubs Basic, Standard (per throughput unit), Premium (per processing unit).
    pub const EVENT_HUBS: [u64; 3] = [1_095, 2_190, 90_009];
    /// API Management Developer, Basic, Standard, Premium (per unit).
    pub const APIM: [u64; 4] = [4_803, 14_717, 68_672, 279_517];
    /// Front Door Standard and Premium base fees.
    pub const FRONT_DOOR: [u64; 2] = [3_500, 33_000];
    /// Azure DDoS Network Protection plan.
    pub const DDOS: u64 = 294_400;
    /// One private endpoint.
    pub const PRIVATE_ENDPOINT: u64 = 730;
    /// One private DNS zone.
    pub const PRIVATE_DNS_ZONE: u64 = 50;
    /// One log search alert rule evaluated every 5 minutes.
    pub const LOG_ALERT_RULE: u64 = 150;
    /// PostgreSQL General Purpose storage, per GiB.
    pub const POSTGRES_STORAGE_GB: u64 = 12;
}

/// Cosmos DB autoscale, per 100 RU/s of maximum per hour, thousandths of a cent (billed
/// between 10% of the maximum and the maximum, per region).
pub const COSMOS_AUTOSCALE_MILLICENTS: u64 = 1_200;

/// One line of the estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostLine {
    /// What is priced.
    pub resource: String,
    /// SKU and quantity.
    pub sku: String,
    /// Estimated fixed monthly cost in cents; `None` when the table lacks the SKU.
    pub monthly_cents: Option<u64>,
    /// Usage-based charges not included, and other caveats.
    pub note: String,
}

fn line(resource: String, sku: String, cents: Option<u64>, note: &str) -> CostLine {
    CostLine {
        resource,
        sku,
        monthly_cents: cents,
        note: note.to_string(),
    }
}

fn hourly(table: &[(&str, u64)], sku: &str) -> Option<u64> {
    table
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(sku))
        .map(|(_, m)| m * HOURS_PER_MONTH / 1000)
}

/// The estimate for every priced resource of `env`.
pub fn estimate(env: &Environment) -> Vec<CostLine> {
    let s = &env.spec;
    let mut out = Vec::new();
    let dr = s
        .disaster_recovery
        .as_ref()
        .and_then(|d| d.secondary(&s.location));
    out.push(line(
        format!("AKS {}", s.aks.name),
        format!("{:?} tier", s.aks.tier),
        Some(match s.aks.tier {
            AksTier::Free => 0,
            AksTier::Standard => monthly::AKS_STANDARD,
        }),
        "",
    ));
    for p in &s.aks.node_pools {
        let per = hourly(VM_MILLICENTS_PER_HOUR, &p.vm_size);
        out.push(line(
            format!("AKS node pool {}", p.name),
            format!("{} × {} (minimum)", p.min_count, p.vm_size),
            per.map(|c| c * u64::from(p.min_count)),
            &format!(
                "up to {} nodes when the autoscaler grows the pool; disks and egress extra; the {} always-on nodes suit 1- or 3-year reserved instances",
                p.max_count, p.min_count
            ),
        ));
    }
    let acr = match s.acr.sku {
        AcrSku::Basic => monthly::ACR[0],
        AcrSku::Standard => monthly::ACR[1],
        AcrSku::Premium => monthly::ACR[2],
    };
    let replicas = u64::from(dr.is_some() && s.acr.sku == AcrSku::Premium);
    out.push(line(
        format!("ACR {}", s.acr.name),
        format!(
            "{:?}{}",
            s.acr.sku,
            if replicas > 0 { " + 1 geo-replica" } else { "" }
        ),
        Some(acr * (1 + replicas)),
        "storage above the included amount extra",
    ));
    let regions = if dr.is_some() { 2 } else { 1 };
    match s.cosmos.autoscale_max_throughput {
        Some(max) => {
            let at_max = u64::from(max) / 100 * COSMOS_AUTOSCALE_MILLICENTS * HOURS_PER_MONTH
                / 1000
                * regions;
            let zr = if s.cosmos.zone_redundant { 5 } else { 4 };
            // Zone redundancy costs 25% more; the floor is 10% of the maximum.
            let at_max = at_max * zr / 4;
            out.push(line(
                format!("Cosmos DB {}", s.cosmos.account),
                format!("autoscale up to {max} RU/s × {regions} region(s)"),
                Some(at_max / 10),
                &format!(
                    "idle floor (10% of the maximum); up to {} at the maximum all month; storage $0.25/GB; reserved capacity applies to the throughput",
                    dollars(at_max)
                ),
            ));
        }
        None => out.push(line(
            format!("Cosmos DB {}", s.cosmos.account),
            "serverless".into(),
            Some(0),
            "$0.25 per million RU consumed and $0.25/GB stored",
        )),
    }
    out.push(line(
        format!("Key Vault {}", s.key_vault.name),
        format!("{:?}", s.key_vault.sku),
        Some(0),
        "$0.03 per 10,000 operations",
    ));
    let sb = match s.service_bus.sku {
        MessagingSku::Premium => {
            monthly::SERVICE_BUS_PREMIUM_MU * u64::from(s.service_bus.capacity.unwrap_or(1))
        }
        _ => monthly::SERVICE_BUS_STANDARD,
    };
    out.push(line(
        format!("Service Bus {}", s.service_bus.namespace),
        format!("{:?}", s.service_bus.sku),
        Some(sb),
        match s.service_bus.sku {
            MessagingSku::Premium => "fixed per messaging unit",
            _ => "operations above 13 million a month extra",
        },
    ));
    if let Some(eh) = &s.event_hubs {
        let unit = match eh.sku {
            MessagingSku::Basic => monthly::EVENT_HUBS[0],
            MessagingSku::Standard => monthly::EVENT_HUBS[1],
            MessagingSku::Premium => monthly::EVENT_HUBS[2],
        };
        out.push(line(
            format!("Event Hubs {}", eh.namespace),
            format!("{:?} × {}", eh.sku, eh.capacity),
            Some(unit * u64::from(eh.capacity)),
            "ingress events extra",
        ));
    }
    if let Some(st) = &s.storage {
        out.push(line(
            format!("Storage {}", st.account),
            st.sku.clone(),
            Some(0),
            "per GB stored and per operation; geo-redundant SKUs about twice locally redundant",
        ));
    }
    if let Some(m) = &s.monitoring {
        out.push(line(
            format!("Log Analytics {}", m.log_analytics),
            format!("pay-as-you-go, {} days", m.retention_days),
            Some(0),
            "$2.30 per GB ingested (Application Insights included); retention past 31 days extra",
        ));
    }
    if let Some(pg) = &s.postgres {
        let compute = hourly(POSTGRES_MILLICENTS_PER_HOUR, &pg.sku);
        let servers = if pg.high_availability == HighAvailability::Disabled {
            1
        } else {
            2
        };
        let storage = monthly::POSTGRES_STORAGE_GB * u64::from(pg.storage_size_gb) * servers;
        out.push(line(
            format!("PostgreSQL {}", pg.server),
            format!(
                "{} × {servers} ({}), {} GiB",
                pg.sku,
                pg.high_availability.as_str(),
                pg.storage_size_gb
            ),
            compute.map(|c| c * servers + storage),
            if pg.geo_redundant_backup {
                "backup storage beyond the server's size extra (geo-redundant: twice); reserved vCores cut compute"
            } else {
                "backup storage beyond the server's size extra; reserved vCores cut compute"
            },
        ));
    }
    if let Some(n) = &s.network {
        let endpoints = 4 + u64::from(s.storage.is_some()) + u64::from(s.postgres.is_some());
        out.push(line(
            format!("Private endpoints ({})", n.vnet),
            format!("{endpoints} endpoints, {endpoints} DNS zones"),
            Some(endpoints * (monthly::PRIVATE_ENDPOINT + monthly::PRIVATE_DNS_ZONE)),
            "$0.01 per GB through each endpoint",
        ));
        if n.ddos_protection {
            out.push(line(
                format!("DDoS protection ({})", n.vnet),
                "Network Protection plan".into(),
                Some(monthly::DDOS),
                "covers up to 100 public IPs",
            ));
        }
    }
    if let Some(a) = &s.api_management {
        let unit = match a.sku {
            ApimSku::Consumption => 0,
            ApimSku::Developer => monthly::APIM[0],
            ApimSku::Basic => monthly::APIM[1],
            ApimSku::Standard => monthly::APIM[2],
            ApimSku::Premium => monthly::APIM[3],
        };
        out.push(line(
            format!("API Management {}", a.name),
            format!("{} × {}", a.sku.as_str(), a.capacity),
            Some(unit * u64::from(a.capacity)),
            match a.sku {
                ApimSku::Developer => "no SLA: for development",
                _ => "calls included; units fixed by the spec",
            },
        ));
    }
    if let Some(f) = &s.front_door {
        out.push(line(
            format!("Front Door {}", f.profile),
            f.sku.as_str().into(),
            Some(match f.sku {
                FrontDoorSku::Standard => monthly::FRONT_DOOR[0],
                FrontDoorSku::Premium => monthly::FRONT_DOOR[1],
            }),
            "requests and data out extra; Premium includes the WAF's managed rules",
        ));
    }
    if let Some(a) = &s.alerts {
        out.push(line(
            format!("Alert rules ({})", a.action_group),
            format!("{} log search rules", ALERTS.len()),
            Some(monthly::LOG_ALERT_RULE * ALERTS.len() as u64),
            "e-mail notifications free up to 1,000 a month",
        ));
    }
    out
}

/// The sum of the priced lines, cents.
pub fn total(lines: &[CostLine]) -> u64 {
    lines.iter().filter_map(|l| l.monthly_cents).sum()
}

/// Cents as `$1,234.56`.
pub fn dollars(cents: u64) -> String {
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("${grouped}.{:02}", cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> Environment {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        Environment::load(std::path::Path::new(&format!(
            "{dir}/../../examples/environments/{name}.yaml"
        )))
        .unwrap()
    }

    #[test]
    fn formats_money() {
        assert_eq!(dollars(0), "$0.00");
        assert_eq!(dollars(123_456_789), "$1,234,567.89");
        assert_eq!(dollars(100_000), "$1,000.00");
    }

    #[test]
    fn prod_costs_more_than_dev_and_every_line_is_priced() {
        let (dev, prod) = (estimate(&example("dev")), estimate(&example("prod")));
        for l in dev.iter().chain(&prod) {
            assert!(l.monthly_cents.is_some(), "{l:?} not in the price table");
        }
        assert!(
            total(&prod) > 10 * total(&dev),
            "{} vs {}",
            total(&prod),
            total(&dev)
        );
        // Prod: Standard tier, 3 D4s + 3 D8s nodes; 2 regions of Cosmos autoscale.
        let aks = prod
            .iter()
            .find(|l| l.resource.starts_with("AKS node pool bots"))
            .unwrap();
        assert_eq!(aks.monthly_cents, Some(3 * 38_400 * 730 / 1000));
        let ddos = prod
            .iter()
            .find(|l| l.resource.starts_with("DDoS"))
            .unwrap();
        assert_eq!(ddos.monthly_cents, Some(monthly::DDOS));
    }
}
