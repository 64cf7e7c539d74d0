//! The senders: one delivery to one channel, nothing decided here. Every send has a
//! deadline; no error message carries a secret (the Telegram token is part of the Bot
//! API's URL, so URLs are stripped from transport errors).

use std::sync::Arc;
use std::time::Duration;

use crate::{
    Claimed, IDEMPOTENCY_HEADER, Notice, SIGNATURE_HEADER, Settings, render, sign, webhook_body,
};

/// Why a send failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// What happened, without secrets.
    pub message: String,
    /// Trying again cannot help (the receiver refused the request as such): dead-letter
    /// now.
    pub permanent: bool,
}

impl SendError {
    fn retry(message: impl Into<String>) -> Self {
        SendError {
            message: message.into(),
            permanent: false,
        }
    }
}

/// The senders' settings.
#[derive(Clone, Debug)]
pub struct SendConfig {
    /// The Telegram Bot API's base URL (`https://api.telegram.org`; a stand-in in tests).
    pub telegram_api: String,
    /// One send's deadline (connect, request, answer).
    pub timeout: Duration,
    /// The name this host gives in SMTP's `EHLO`.
    pub ehlo_name: String,
    /// Extra trust anchors for SMTP servers (DER), beside the system's roots.
    pub smtp_extra_roots: Vec<Vec<u8>>,
}

impl Default for SendConfig {
    fn default() -> Self {
        SendConfig {
            telegram_api: "https://api.telegram.org".into(),
            timeout: Duration::from_secs(10),
            ehlo_name: "tradewind-platform".into(),
            smtp_extra_roots: Vec::new(),
        }
    }
}

/// The senders, with their HTTP client and TLS settings.
#[derive(Clone)]
pub struct Senders {
    http: reqwest::Client,
    tls: Arc<rustls::ClientConfig>,
    config: SendConfig,
}

impl Senders {
    /// Senders with rustls over ring and the system's roots.
    pub fn new(config: SendConfig) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        for der in &config.smtp_extra_roots {
            roots
                .add(der.clone().into())
                .map_err(|e| format!("an SMTP trust anchor: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.clone())
            .connect_timeout(config.timeout)
            .timeout(config.timeout)
            // A webhook's redirect would send the signed body somewhere not configured.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("tradewind-notify")
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Senders {
            http,
            tls: Arc::new(tls),
            config,
        })
    }

    /// Delivers one claimed notification with the channel's opened `secret`.
    pub async fn send(&self, c: &Claimed, secret: &str) -> Result<(), SendError> {
        let deadline = self.config.timeout;
        let fut = async {
            match &c.settings {
                Settings::Webhook { url } => self.webhook(url, secret, c).await,
                Settings::Telegram { chat_id } => {
                    self.telegram(chat_id, secret, &c.notice, c.silent).await
                }
                Settings::Email { .. } => {
                    crate::smtp::send_mail(
                        &c.settings,
                        secret,
                        &crate::smtp::Mail::of(&c.id, &c.notice, c.silent),
                        &self.config.ehlo_name,
                        self.tls.clone(),
                    )
                    .await
                }
            }
        };
        match tokio::time::timeout(deadline, fut).await {
            Ok(r) => r,
            Err(_) => Err(SendError::retry(format!(
                "no answer within {}s",
                deadline.as_secs_f32()
            ))),
        }
    }

    async fn webhook(&self, url: &str, secret: &str, c: &Claimed) -> Result<(), SendError> {
        let body = webhook_body(&c.id, &c.notice, c.silent);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let resp = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, sign(secret, now, &body))
            .header(IDEMPOTENCY_HEADER, &c.id)
            .header("tradewind-event", c.notice.kind.as_str())
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::retry(format!("webhook: {}", e.without_url())))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        Err(SendError {
            message: format!("webhook: answered {status}"),
            // A 4xx other than a timeout or a rate limit will not change by itself.
            permanent: status.is_client_error() && status != 408 && status != 429,
        })
    }

    async fn telegram(
        &self,
        chat_id: &str,
        token: &str,
        n: &Notice,
        silent: bool,
    ) -> Result<(), SendError> {
        let url = format!(
            "{}/bot{token}/sendMessage",
            self.config.telegram_api.trim_end_matches('/')
        );
        let body = serde_json::to_vec(&serde_json::json!({
            "chat_id": chat_id,
            "text": render(n).text,
            "disable_notification": silent,
        }))
        .unwrap_or_default();
        let resp = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            // The URL holds the bot's token: never in a message.
            .map_err(|e| SendError::retry(format!("telegram: {}", e.without_url())))?;
        let status = resp.status();
        let answer: serde_json::Value = resp
            .bytes()
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if status.is_success() && answer["ok"] == true {
            return Ok(());
        }
        // The Bot API's own words, e.g. "Bad Request: chat not found".
        let description = answer["description"]
            .as_str()
            .unwrap_or("")
            .replace(token, "***");
        Err(SendError {
            message: format!("telegram: answered {status}: {description}"),
            permanent: matches!(status.as_u16(), 400 | 401 | 403 | 404),
        })
    }
}
