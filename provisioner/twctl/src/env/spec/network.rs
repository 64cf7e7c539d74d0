//! Private networking: one virtual network with subnets for AKS, private endpoints and
//! (optionally) API Management; every data service reached through a private endpoint.

use serde::{Deserialize, Serialize};
use tradewind_azure::names::Kind;

use super::{Check, SpecError};

/// `spec.network`. Present: the environment is private (public network access disabled
/// on Cosmos DB, Key Vault, Service Bus, Storage, PostgreSQL and ACR). Absent: public.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NetworkSpec {
    /// Virtual network name.
    pub vnet: String,
    /// Its address space (IPv4 CIDR, e.g. `10.40.0.0/16`).
    pub address_space: String,
    /// The AKS nodes' subnet (CIDR inside the address space).
    pub aks_subnet: String,
    /// The private endpoints' subnet.
    pub private_endpoint_subnet: String,
    /// API Management's subnet (VNet injection; needs the Developer or Premium tier).
    #[serde(default)]
    pub apim_subnet: Option<String>,
    /// Azure DDoS Network Protection plan on the network (a fixed monthly price; see
    /// `twctl env cost`).
    #[serde(default)]
    pub ddos_protection: bool,
}

/// The AKS pods' range (Azure CNI overlay); outside the VNet.
pub const POD_CIDR: &str = "192.168.0.0/16";
/// The AKS services' range; outside the VNet.
pub const SERVICE_CIDR: &str = "172.16.0.0/16";

/// An IPv4 CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// First address.
    pub base: u32,
    /// Prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`; the address must be the block's first.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (ip, len) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a CIDR block (a.b.c.d/n)"))?;
        let prefix: u8 = len
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("{s:?}: prefix length must be 0-32"))?;
        let octets: Vec<u8> = ip
            .split('.')
            .map(|o| o.parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("{s:?}: not an IPv4 address"))?;
        if octets.len() != 4 {
            return Err(format!("{s:?}: not an IPv4 address"));
        }
        let base = u32::from_be_bytes([octets[0], octets[1], octets[2], octets[3]]);
        let cidr = Self { base, prefix };
        if base & !cidr.mask() != 0 {
            return Err(format!("{s:?}: host bits set (the block starts elsewhere)"));
        }
        Ok(cidr)
    }

    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    fn last(self) -> u32 {
        self.base | !self.mask()
    }

    /// Whether `other` lies inside this block.
    pub fn contains(self, other: Cidr) -> bool {
        other.base >= self.base && other.last() <= self.last()
    }

    /// Whether the blocks share an address.
    pub fn overlaps(self, other: Cidr) -> bool {
        self.base <= other.last() && other.base <= self.last()
    }
}

impl NetworkSpec {
    /// The subnets as (name, CIDR text): `aks`, `private-endpoints`, `apim`.
    pub fn subnets(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![
            ("aks", self.aks_subnet.as_str()),
            ("private-endpoints", self.private_endpoint_subnet.as_str()),
        ];
        if let Some(a) = &self.apim_subnet {
            out.push(("apim", a.as_str()));
        }
        out
    }

    /// Names, address blocks inside the space and apart from each other.
    pub(super) fn check(&self, c: &Check) -> Result<(), SpecError> {
        c.name("spec.network.vnet", Kind::VirtualNetwork, &self.vnet)?;
        let space = Cidr::parse(&self.address_space)
            .map_err(|m| c.invalid("spec.network.addressSpace", m))?;
        for (what, block) in [("pod", POD_CIDR), ("service", SERVICE_CIDR)] {
            if space.overlaps(Cidr::parse(block).expect("a valid constant")) {
                return Err(c.invalid(
                    "spec.network.addressSpace",
                    format!(
                        "{} overlaps the cluster's {what} range {block}",
                        self.address_space
                    ),
                ));
            }
        }
        let mut seen: Vec<(&str, Cidr)> = Vec::new();
        for (name, text) in self.subnets() {
            let path = match name {
                "aks" => "spec.network.aksSubnet",
                "apim" => "spec.network.apimSubnet",
                _ => "spec.network.privateEndpointSubnet",
            };
            let cidr = Cidr::parse(text).map_err(|m| c.invalid(path, m))?;
            if !space.contains(cidr) {
                return Err(c.invalid(path, format!("{text} is not inside {}", self.address_space)));
            }
            // Azure reserves five addresses per subnet; /29 is the smallest it allows.
            if cidr.prefix > 29 {
                return Err(c.invalid(path, format!("{text}: a subnet must be /29 or larger")));
            }
            if let Some((other, _)) = seen.iter().find(|(_, o)| o.overlaps(cidr)) {
                return Err(c.invalid(path, format!("{text} overlaps the {other} subnet")));
            }
            seen.push((name, cidr));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let space = Cidr::parse("10.40.0.0/16").unwrap();
        let a = Cidr::parse("10.40.0.0/20").unwrap();
        let b = Cidr::parse("10.40.16.0/24").unwrap();
        assert!(space.contains(a) && space.contains(b));
        assert!(!a.overlaps(b));
        assert!(a.overlaps(Cidr::parse("10.40.8.0/24").unwrap()));
        assert!(!space.contains(Cidr::parse("10.41.0.0/24").unwrap()));
        assert!(Cidr::parse("10.40.0.1/16").is_err());
        assert!(Cidr::parse("10.40.0.0/33").is_err());
        assert!(Cidr::parse("10.400.0.0/16").is_err());
    }
}
