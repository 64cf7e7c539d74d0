//! Which Azure cloud we talk to: public, sovereign, or a custom one (an Azure Stack hub,
//! or the test fakes). Every endpoint the client uses comes from here.

use azure_core::http::Url;

/// Endpoints of one Azure cloud.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureCloud {
    /// Short name shown in plans and outputs (`AzurePublic`, `AzureChina`, ...).
    pub name: String,
    /// Resource Manager endpoint, e.g. `https://management.azure.com`.
    pub resource_manager: Url,
    /// Audience of Resource Manager tokens (`{audience}/.default` is requested).
    pub resource_manager_audience: String,
    /// Entra ID authority host, e.g. `https://login.microsoftonline.com`.
    pub authority_host: Url,
    /// Service Bus token audience.
    pub service_bus_audience: String,
}

/// A cloud name or endpoint that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// Unknown cloud name.
    #[error("cloud: unknown cloud {0:?} (expected AzurePublic, AzureChina or AzureUSGovernment)")]
    Unknown(String),
    /// An endpoint that is not an https URL.
    #[error("cloud: {field} {value:?} is not an https URL")]
    NotHttps {
        /// Which endpoint.
        field: &'static str,
        /// The value given.
        value: String,
    },
}

fn url(field: &'static str, value: &str) -> Result<Url, CloudError> {
    match Url::parse(value) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some() => Ok(u),
        _ => Err(CloudError::NotHttps {
            field,
            value: value.to_string(),
        }),
    }
}

impl AzureCloud {
    /// A named cloud.
    pub fn named(name: &str) -> Result<Self, CloudError> {
        let (rm, login, sb) = match name {
            "AzurePublic" | "AzureCloud" => (
                "https://management.azure.com",
                "https://login.microsoftonline.com",
                "https://servicebus.azure.net",
            ),
            "AzureChina" | "AzureChinaCloud" => (
                "https://management.chinacloudapi.cn",
                "https://login.chinacloudapi.cn",
                "https://servicebus.chinacloudapi.cn",
            ),
            "AzureUSGovernment" => (
                "https://management.usgovcloudapi.net",
                "https://login.microsoftonline.us",
                "https://servicebus.usgovcloudapi.net",
            ),
            other => return Err(CloudError::Unknown(other.to_string())),
        };
        Ok(Self {
            name: name.to_string(),
            resource_manager: url("resourceManager", rm)?,
            resource_manager_audience: rm.to_string(),
            authority_host: url("authorityHost", login)?,
            service_bus_audience: sb.to_string(),
        })
    }

    /// A named cloud with endpoint overrides (custom clouds, tests). The Resource Manager
    /// audience follows an overridden endpoint, as it does on Azure Stack.
    pub fn with_overrides(
        name: &str,
        resource_manager: Option<&str>,
        authority_host: Option<&str>,
    ) -> Result<Self, CloudError> {
        let mut cloud = Self::named(name)?;
        if let Some(rm) = resource_manager {
            cloud.resource_manager = url("resourceManager", rm)?;
            cloud.resource_manager_audience = rm.trim_end_matches('/').to_string();
            cloud.name = "Custom".to_string();
        }
        if let Some(login) = authority_host {
            cloud.authority_host = url("authorityHost", login)?;
        }
        Ok(cloud)
    }

    /// The cloud configuration azure_core / azure_identity take.
    pub fn configuration(&self) -> azure_core::cloud::CloudConfiguration {
        let mut custom = azure_core::cloud::CustomConfiguration::default();
        custom.authority_host = self
            .authority_host
            .as_str()
            .trim_end_matches('/')
            .to_string();
        custom.into()
    }

    /// Scope for Resource Manager tokens.
    pub fn resource_manager_scope(&self) -> String {
        format!(
            "{}/.default",
            self.resource_manager_audience.trim_end_matches('/')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_clouds_and_overrides() {
        let public = AzureCloud::named("AzurePublic").unwrap();
        assert_eq!(
            public.resource_manager_scope(),
            "https://management.azure.com/.default"
        );
        let china = AzureCloud::named("AzureChina").unwrap();
        assert_eq!(
            china.authority_host.as_str(),
            "https://login.chinacloudapi.cn/"
        );
        let custom = AzureCloud::with_overrides(
            "AzurePublic",
            Some("https://management.localhost:8443/"),
            Some("https://login.localhost:8443"),
        )
        .unwrap();
        assert_eq!(custom.name, "Custom");
        assert_eq!(
            custom.resource_manager_scope(),
            "https://management.localhost:8443/.default"
        );
        let err = AzureCloud::with_overrides("AzurePublic", Some("http://x"), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cloud: resourceManager \"http://x\" is not an https URL"
        );
        assert!(AzureCloud::named("Mars").is_err());
    }
}
