//! The edge in front of the platform API: API Management (the API imported from the
//! platform's OpenAPI document, a rate limit per key) and Front Door with a WAF policy.

use serde::{Deserialize, Serialize};
use tradewind_azure::names::Kind;

use super::{Check, SpecError};

/// API Management tier.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum ApimSku {
    /// Per call; no VNet, no rate-limit-by-key.
    Consumption,
    /// No SLA; VNet injection; for development.
    Developer,
    /// SLA, no VNet.
    Basic,
    /// SLA, no VNet.
    Standard,
    /// VNet injection, availability zones, multi-region.
    Premium,
}

impl ApimSku {
    /// As ARM spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consumption => "Consumption",
            Self::Developer => "Developer",
            Self::Basic => "Basic",
            Self::Standard => "Standard",
            Self::Premium => "Premium",
        }
    }
}

/// Where the OpenAPI document comes from: exactly one of `file` (read by twctl, relative
/// to the spec file) or `url` (fetched by API Management).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OpenApiSource {
    /// A JSON file, relative to the spec file.
    #[serde(default)]
    pub file: Option<String>,
    /// An `https://` URL API Management can reach, e.g. the platform's
    /// `/api/v1/openapi.json`.
    #[serde(default)]
    pub url: Option<String>,
    /// The file's content, read by [`super::Environment::load`].
    #[serde(skip)]
    pub document: Option<String>,
}

/// What the rate limit counts by.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum RateLimitKey {
    /// The API Management subscription (one per API client).
    #[default]
    Subscription,
    /// The caller's IP address.
    ClientIp,
}

/// `spec.apiManagement.rateLimit`: `rate-limit-by-key`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RateLimitSpec {
    /// Calls allowed per period and key (1–1,000,000).
    pub calls: u32,
    /// The period in seconds (1–300).
    pub renewal_period_seconds: u32,
    /// What a key is.
    #[serde(default)]
    pub key: RateLimitKey,
}

impl Default for RateLimitSpec {
    fn default() -> Self {
        Self {
            calls: 100,
            renewal_period_seconds: 60,
            key: RateLimitKey::Subscription,
        }
    }
}

/// `spec.apiManagement`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiManagementSpec {
    /// Service name (1–50 letters, digits, hyphens; globally unique).
    pub name: String,
    /// Tier.
    pub sku: ApimSku,
    /// Units (Consumption: ignored; Developer: 1; others 1–12).
    #[serde(default = "one")]
    pub capacity: u32,
    /// Availability zones (Premium only).
    #[serde(default)]
    pub zones: Vec<String>,
    /// Publisher e-mail (API Management sends notices there).
    pub publisher_email: String,
    /// Publisher name.
    pub publisher_name: String,
    /// The platform's OpenAPI document.
    pub open_api: OpenApiSource,
    /// Where API Management sends requests: the platform service's address (with
    /// `spec.network`, a private address in the VNet, e.g. its internal load balancer).
    pub backend_url: String,
    /// The API's path on the gateway (default `api/v1`).
    #[serde(default = "api_path")]
    pub path: String,
    /// The rate limit per key.
    #[serde(default)]
    pub rate_limit: RateLimitSpec,
}

fn one() -> u32 {
    1
}
fn api_path() -> String {
    "api/v1".into()
}

/// Front Door tier.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum FrontDoorSku {
    /// Custom WAF rules only.
    Standard,
    /// Managed WAF rule sets (OWASP-based default rule set, bot protection).
    #[default]
    Premium,
}

impl FrontDoorSku {
    /// The profile's SKU name (the WAF policy's too).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "Standard_AzureFrontDoor",
            Self::Premium => "Premium_AzureFrontDoor",
        }
    }
}

/// What the WAF does with a match.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum WafMode {
    /// Block.
    #[default]
    Prevention,
    /// Log only.
    Detection,
}

/// `spec.frontDoor`: the public entry; API Management is its only origin.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FrontDoorSpec {
    /// Profile name.
    pub profile: String,
    /// Endpoint name (becomes `{endpoint}-{hash}.z01.azurefd.net`).
    pub endpoint: String,
    /// Tier (default Premium).
    #[serde(default)]
    pub sku: FrontDoorSku,
    /// WAF policy name (letters and digits, starting with a letter).
    pub waf_policy: String,
    /// Prevention (default) or Detection.
    #[serde(default)]
    pub waf_mode: WafMode,
    /// Requests per minute per client IP before the WAF blocks (default 1000).
    #[serde(default = "thousand")]
    pub rate_limit_per_minute: u32,
}

fn thousand() -> u32 {
    1000
}

impl ApiManagementSpec {
    /// Name, tier rules, the document source, the rate limit.
    pub(super) fn check(&self, c: &Check, private: bool) -> Result<(), SpecError> {
        c.name("spec.apiManagement.name", Kind::ApiManagement, &self.name)?;
        match self.sku {
            ApimSku::Consumption => {
                return Err(c.invalid(
                    "spec.apiManagement.sku",
                    "Consumption has no rate-limit-by-key policy and no private backend; use Developer (dev) or Premium (prod)",
                ));
            }
            ApimSku::Developer if self.capacity != 1 => {
                return Err(c.invalid("spec.apiManagement.capacity", "Developer has one unit"));
            }
            _ => c.within("spec.apiManagement.capacity", self.capacity, 1..=12)?,
        }
        if !self.zones.is_empty() && self.sku != ApimSku::Premium {
            return Err(c.invalid(
                "spec.apiManagement.zones",
                "availability zones need the Premium tier",
            ));
        }
        if !self.zones.is_empty() && !self.capacity.is_multiple_of(self.zones.len() as u32) {
            return Err(c.invalid(
                "spec.apiManagement.capacity",
                format!(
                    "{} units cannot be spread evenly over {} zones",
                    self.capacity,
                    self.zones.len()
                ),
            ));
        }
        if private && !matches!(self.sku, ApimSku::Developer | ApimSku::Premium) {
            return Err(c.invalid(
                "spec.apiManagement.sku",
                "with spec.network the gateway joins the VNet, which needs Developer or Premium",
            ));
        }
        if !self.publisher_email.contains('@') {
            return Err(c.invalid(
                "spec.apiManagement.publisherEmail",
                format!("{:?} is not an e-mail address", self.publisher_email),
            ));
        }
        if self.publisher_name.trim().is_empty() {
            return Err(c.invalid("spec.apiManagement.publisherName", "must not be empty"));
        }
        match (&self.open_api.file, &self.open_api.url) {
            (Some(_), None) => {}
            (None, Some(u)) if u.starts_with("https://") => {}
            (None, Some(u)) => {
                return Err(c.invalid(
                    "spec.apiManagement.openApi.url",
                    format!("{u:?} must be an https:// URL"),
                ));
            }
            _ => {
                return Err(c.invalid(
                    "spec.apiManagement.openApi",
                    "give exactly one of file and url",
                ));
            }
        }
        if !(self.backend_url.starts_with("https://") || self.backend_url.starts_with("http://")) {
            return Err(c.invalid(
                "spec.apiManagement.backendUrl",
                format!("{:?} must be an http:// or https:// URL", self.backend_url),
            ));
        }
        if self.path.starts_with('/') || self.path.ends_with('/') || self.path.is_empty() {
            return Err(c.invalid(
                "spec.apiManagement.path",
                format!("{:?}: no leading or trailing '/'", self.path),
            ));
        }
        c.within(
            "spec.apiManagement.rateLimit.calls",
            self.rate_limit.calls,
            1..=1_000_000,
        )?;
        c.within(
            "spec.apiManagement.rateLimit.renewalPeriodSeconds",
            self.rate_limit.renewal_period_seconds,
            1..=300,
        )
    }
}

impl FrontDoorSpec {
    /// Names and the rate limit.
    pub(super) fn check(&self, c: &Check) -> Result<(), SpecError> {
        c.name("spec.frontDoor.profile", Kind::FrontDoor, &self.profile)?;
        c.name("spec.frontDoor.endpoint", Kind::FrontDoor, &self.endpoint)?;
        c.name(
            "spec.frontDoor.wafPolicy",
            Kind::WafPolicy,
            &self.waf_policy,
        )?;
        c.within(
            "spec.frontDoor.rateLimitPerMinute",
            self.rate_limit_per_minute,
            10..=1_000_000,
        )
    }
}
