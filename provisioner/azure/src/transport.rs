//! The one HTTP client every Azure call goes through: rustls with the `ring` provider
//! (no aws-lc build), the platform's trust store (`SSL_CERT_FILE` replaces it, as with
//! OpenSSL), optional extra roots, and RFC 6761 loopback resolution of `*.localhost`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Building the HTTP client failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The extra CA bundle could not be read or parsed.
    #[error("transport: extra CA certificates: {0}")]
    Ca(String),
    /// No trusted root at all.
    #[error("transport: no trusted root certificates (system store empty and none given)")]
    NoRoots,
    /// TLS or client construction failed.
    #[error("transport: {0}")]
    Build(String),
}

/// Options for [`http_client`].
#[derive(Clone, Debug, Default)]
pub struct TransportOptions {
    /// PEM certificates trusted in addition to the system store (private CAs, proxies, fakes).
    pub extra_ca_pem: Option<Vec<u8>>,
}

/// Resolves `localhost` and `*.localhost` to loopback without asking DNS (RFC 6761 §6.3),
/// everything else through the system resolver.
#[derive(Debug, Default)]
struct LoopbackAwareResolver;

impl Resolve for LoopbackAwareResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            if host == "localhost" || host.ends_with(".localhost") {
                let addrs: Addrs = Box::new(
                    [
                        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
                        SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
                    ]
                    .into_iter(),
                );
                return Ok(addrs);
            }
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let addrs: Addrs = Box::new(found.collect::<Vec<_>>().into_iter());
            Ok(addrs)
        })
    }
}

/// The reqwest client handed to azure_core and azure_identity as their transport.
pub fn http_client(options: &TransportOptions) -> Result<reqwest::Client, TransportError> {
    let mut roots = rustls::RootCertStore::empty();
    // Certificates the platform store cannot parse are skipped, as browsers do.
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if let Some(pem) = &options.extra_ca_pem {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| TransportError::Ca(e.to_string()))?;
        if certs.is_empty() {
            return Err(TransportError::Ca("no PEM certificate found".into()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| TransportError::Ca(e.to_string()))?;
        }
    }
    if roots.is_empty() {
        return Err(TransportError::NoRoots);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Build(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(LoopbackAwareResolver)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| TransportError::Build(e.to_string()))
}

/// [`http_client`] wrapped as an azure_core transport.
pub fn azure_transport(
    options: &TransportOptions,
) -> Result<azure_core::http::Transport, TransportError> {
    Ok(azure_core::http::Transport::new(Arc::new(http_client(
        options,
    )?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn localhost_names_resolve_to_loopback_without_dns() {
        let r = LoopbackAwareResolver;
        let name: Name = "kv1.vault.localhost".parse().unwrap();
        let addrs: Vec<_> = r.resolve(name).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
        assert_eq!(addrs.len(), 2);
    }

    #[test]
    fn bad_extra_ca_is_named() {
        let err = http_client(&TransportOptions {
            extra_ca_pem: Some(b"not a certificate".to_vec()),
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "transport: extra CA certificates: no PEM certificate found"
        );
    }
}
