//! The messaging family: Service Bus and Event Hubs.

use serde::{Deserialize, Serialize};
use tradewind_azure::names::Kind;

use super::{Check, SpecError};

/// Service Bus / Event Hubs SKU.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum MessagingSku {
    /// Basic (Service Bus Basic has no topics: not accepted for Service Bus).
    Basic,
    /// Standard.
    Standard,
    /// Premium.
    Premium,
}

impl MessagingSku {
    /// The SKU name in ARM bodies.
    pub fn name(self) -> &'static str {
        match self {
            Self::Basic => "Basic",
            Self::Standard => "Standard",
            Self::Premium => "Premium",
        }
    }
}

/// `spec.serviceBus`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceBusSpec {
    /// Namespace name (6–50 letters, digits, hyphens; globally unique).
    pub namespace: String,
    /// `Standard` or `Premium` (topics need at least Standard).
    pub sku: MessagingSku,
    /// Messaging units for Premium (1, 2, 4, 8 or 16).
    #[serde(default)]
    pub capacity: Option<u32>,
}

/// `spec.eventHubs`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EventHubsSpec {
    /// Namespace name (6–50 letters, digits, hyphens; globally unique).
    pub namespace: String,
    /// `Basic`, `Standard` or `Premium`.
    pub sku: MessagingSku,
    /// Throughput units (Basic/Standard, 1–40) or processing units (Premium).
    #[serde(default = "one")]
    pub capacity: u32,
}

fn one() -> u32 {
    1
}

impl ServiceBusSpec {
    /// Name, a SKU with topics, and messaging units only where Premium has them.
    pub(super) fn check(&self, c: &Check) -> Result<(), SpecError> {
        c.name(
            "spec.serviceBus.namespace",
            Kind::ServiceBusNamespace,
            &self.namespace,
        )?;
        if self.sku == MessagingSku::Basic {
            return Err(c.invalid(
                "spec.serviceBus.sku",
                "Basic has no topics; use Standard or Premium",
            ));
        }
        match (self.sku, self.capacity) {
            (MessagingSku::Premium, Some(n)) if ![1, 2, 4, 8, 16].contains(&n) => Err(c.invalid(
                "spec.serviceBus.capacity",
                format!("{n} is not 1, 2, 4, 8 or 16"),
            )),
            (MessagingSku::Standard, Some(_)) => Err(c.invalid(
                "spec.serviceBus.capacity",
                "only Premium namespaces have messaging units",
            )),
            _ => Ok(()),
        }
    }
}

impl EventHubsSpec {
    /// Name and throughput units.
    pub(super) fn check(&self, c: &Check) -> Result<(), SpecError> {
        c.name(
            "spec.eventHubs.namespace",
            Kind::EventHubsNamespace,
            &self.namespace,
        )?;
        c.within("spec.eventHubs.capacity", self.capacity, 1..=40)
    }
}
