//! Tradewind notifications: per-account routing of events to channels.
//!
//! The decisions are pure functions of this module: which events notify ([`classify`]),
//! which channel gets one and whether it alerts ([`route`], Freqtrade's on / silent / off
//! per event kind and channel), how it reads ([`render`]), how a webhook body is signed
//! ([`sign`], [`verify`]), the delivery's id that is also its idempotency key
//! ([`delivery_id`]), and when a failed delivery is tried again or dead-lettered
//! ([`after_failure`]). Stored secrets are sealed with AES-256-GCM ([`Sealer`]).
//!
//! The `send` feature adds the thin I/O shell: the senders (signed webhooks, the Telegram
//! Bot API, SMTP) and the dispatcher that works through an [`Outbox`] (the ledger's).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::str::FromStr;

use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac};
use serde::{Deserialize, Serialize};
use tradewind_core::data::time::{format_iso8601, parse_iso8601};
use tradewind_events::{Body, Event, StopReason};

#[cfg(feature = "send")]
pub mod dispatch;
#[cfg(feature = "send")]
pub mod send;
#[cfg(feature = "send")]
pub mod smtp;

/// Why a notification setting or operation was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// A value that cannot be used, by field.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, as the API spells it.
        field: String,
        /// Why.
        reason: String,
    },
    /// A sealed secret that does not open with this key (another key, or corrupt).
    #[error(
        "a stored channel secret does not open with the configured notification key (was the key changed?)"
    )]
    Sealed,
}

fn invalid(field: &str, reason: impl Into<String>) -> NotifyError {
    NotifyError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    /// An order (partially) filled.
    Fill,
    /// The venue or the pre-trade risk checks refused an order.
    OrderRejected,
    /// Trading stopped for good in a session (a risk limit, the lease lost).
    BotHalted,
    /// The stop-loss fired.
    StopLoss,
    /// A bot's session failed, or it refused to trade on unexpected holdings.
    Error,
    /// A day's fills and equity per bot.
    DailySummary,
    /// A settlement's statement of the account is ready.
    StatementReady,
    /// A settlement paid the account a referral (or other) share.
    ReferralPayout,
}

impl Kind {
    /// Every kind, in order.
    pub const ALL: [Kind; 8] = [
        Kind::Fill,
        Kind::OrderRejected,
        Kind::BotHalted,
        Kind::StopLoss,
        Kind::Error,
        Kind::DailySummary,
        Kind::StatementReady,
        Kind::ReferralPayout,
    ];

    /// The spelling in the API, the store and webhook bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Fill => "fill",
            Kind::OrderRejected => "orderRejected",
            Kind::BotHalted => "botHalted",
            Kind::StopLoss => "stopLoss",
            Kind::Error => "error",
            Kind::DailySummary => "dailySummary",
            Kind::StatementReady => "statementReady",
            Kind::ReferralPayout => "referralPayout",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = NotifyError;
    fn from_str(s: &str) -> Result<Self, NotifyError> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                invalid(
                    "kind",
                    format!(
                        "{s:?} is no event kind; one of {}",
                        Kind::ALL.map(Kind::as_str).join(", ")
                    ),
                )
            })
    }
}

/// Whether a channel gets an event kind, and how.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Delivered with an alert.
    #[default]
    On,
    /// Delivered without an alert (Telegram `disable_notification`, a low-priority mail).
    Silent,
    /// Not delivered.
    Off,
}

/// A channel's routing rules: the mode of each event kind; a kind not named is on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules(pub BTreeMap<Kind, Mode>);

impl Rules {
    /// The mode of `kind`.
    pub fn mode(&self, kind: Kind) -> Mode {
        self.0.get(&kind).copied().unwrap_or_default()
    }

    /// Every kind with its mode (the API's full view).
    pub fn full(&self) -> BTreeMap<Kind, Mode> {
        Kind::ALL.into_iter().map(|k| (k, self.mode(k))).collect()
    }
}

/// A channel type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChannelKind {
    /// An HTTPS endpoint; the body is signed.
    Webhook,
    /// A Telegram chat, through a bot.
    Telegram,
    /// Mail over SMTP.
    Email,
}

impl ChannelKind {
    /// The spelling in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Email => "email",
        }
    }
}

/// How an SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Security {
    /// Plain TCP, then `STARTTLS` (required: a server without it is refused).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS at all: a relay on a trusted network only; credentials are never sent.
    None,
}

/// A channel's settings, without its secret (what the API shows).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Settings {
    /// POSTs a signed JSON body to `url`.
    Webhook {
        /// `https://…` (`http://` only to a loopback address).
        url: String,
    },
    /// `sendMessage` to `chat_id` with the bot whose token is the secret.
    Telegram {
        /// The chat: a numeric id or `@channelname`.
        chat_id: String,
    },
    /// A mail to `to` from `from` through `host:port`; the secret is the password.
    Email {
        /// The SMTP server.
        host: String,
        /// Its port (587 for STARTTLS, 465 for TLS).
        port: u16,
        /// How the connection is secured.
        #[serde(default)]
        security: Security,
        /// The login, if the server wants one (the password is the secret).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// The sender address.
        from: String,
        /// The recipients.
        to: Vec<String>,
    },
}

impl Settings {
    /// The channel type.
    pub fn kind(&self) -> ChannelKind {
        match self {
            Settings::Webhook { .. } => ChannelKind::Webhook,
            Settings::Telegram { .. } => ChannelKind::Telegram,
            Settings::Email { .. } => ChannelKind::Email,
        }
    }

    /// Checks the settings, naming the field at fault.
    pub fn check(&self) -> Result<(), NotifyError> {
        match self {
            Settings::Webhook { url } => check_url(url),
            Settings::Telegram { chat_id } => {
                let ok = !chat_id.is_empty()
                    && chat_id.len() <= 64
                    && (chat_id.parse::<i64>().is_ok()
                        || (chat_id.starts_with('@')
                            && chat_id[1..]
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'_')));
                if ok {
                    Ok(())
                } else {
                    Err(invalid(
                        "settings.chatId",
                        format!("{chat_id:?}: a numeric chat id or @channelname"),
                    ))
                }
            }
            Settings::Email {
                host,
                port,
                from,
                to,
                ..
            } => {
                if host.is_empty()
                    || !host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
                {
                    return Err(invalid(
                        "settings.host",
                        format!("{host:?}: a host name or address"),
                    ));
                }
                if *port == 0 {
                    return Err(invalid("settings.port", "must not be 0"));
                }
                check_address("settings.from", from)?;
                if to.is_empty() || to.len() > 20 {
                    return Err(invalid("settings.to", "1 to 20 addresses"));
                }
                for a in to {
                    check_address("settings.to", a)?;
                }
                Ok(())
            }
        }
    }
}

fn check_url(url: &str) -> Result<(), NotifyError> {
    let field = "settings.url";
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        let host = r.split(['/', '?']).next().unwrap_or("");
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(invalid(
                field,
                format!("{url:?}: https:// is required (http:// only to a loopback address)"),
            ));
        }
        r
    } else {
        return Err(invalid(field, format!("{url:?}: an https:// URL")));
    };
    if rest.is_empty()
        || rest.starts_with('/')
        || url.len() > 2048
        || url.contains(char::is_whitespace)
    {
        return Err(invalid(field, format!("{url:?}: not a URL with a host")));
    }
    Ok(())
}

/// A plain `local@domain` address (no display name, no line breaks: it goes into headers).
fn check_address(field: &str, a: &str) -> Result<(), NotifyError> {
    let ok = a.len() <= 254
        && a.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && (d.contains('.') || d == "localhost"))
        && a.bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>,;\"()[]\\".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{a:?}: an address like name@example.com"),
        ))
    }
}

/// What a notification says, as stored with the event it is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// The event's id (a bot event's id, or `settlement/<id>/…` for statements).
    pub event_id: String,
    /// The account it is for.
    pub account: String,
    /// What it is about.
    pub kind: Kind,
    /// When it happened, UNIX nanoseconds.
    pub ts: i64,
    /// The bot, `namespace/name`, when a bot's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<String>,
    /// The facts, by kind (a bot event's own wire form; a statement's settlement).
    pub data: serde_json::Value,
}

/// One bot's day in an account's daily summary (amounts as the ledger keeps them: exact
/// decimals in the bot's quote currency).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotDay {
    /// The bot, `namespace/name`.
    pub bot: String,
    /// Its quote currency.
    pub currency: String,
    /// Fills during the day.
    pub fills: u64,
    /// Their notional.
    pub volume: String,
    /// The venue's fees on them.
    pub venue_fees: String,
    /// The last equity reported before the day ended (none: the bot never reported one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equity: Option<String>,
}

/// The id of `account`'s daily summary of the UTC day `day` (`YYYY-MM-DD`): once per
/// account and day, whoever enqueues it.
pub fn daily_summary_id(account: &str, day: &str) -> String {
    format!("daily/{account}/{day}")
}

/// The daily summary notice of `account` for the UTC day starting at `day_start` (ns).
pub fn daily_summary(account: &str, day_start: i64, bots: &[BotDay]) -> Notice {
    let day = format_iso8601(day_start)[..10].to_owned();
    let text = if bots.is_empty() {
        "no bots".to_owned()
    } else {
        bots.iter()
            .map(|b| {
                format!(
                    "{}: {} fills, volume {} {c}, venue fees {} {c}, equity {}",
                    b.bot,
                    b.fills,
                    b.volume,
                    b.venue_fees,
                    b.equity
                        .as_deref()
                        .map_or("not reported".to_owned(), |e| format!("{e} {}", b.currency)),
                    c = b.currency,
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    Notice {
        event_id: daily_summary_id(account, &day),
        account: account.to_owned(),
        kind: Kind::DailySummary,
        // The end of the day summarised.
        ts: day_start + DAY_NANOS,
        bot: None,
        data: serde_json::json!({ "day": day, "bots": bots, "text": text }),
    }
}

/// Nanoseconds in a UTC day.
pub const DAY_NANOS: i64 = 86_400_000_000_000;

/// The start (ns) of the last UTC day that ended at least `delay_nanos` before `now`.
pub fn last_summarised_day(now: i64, delay_nanos: i64) -> i64 {
    (now - delay_nanos).div_euclid(DAY_NANOS) * DAY_NANOS - DAY_NANOS
}

/// The kind of notification a bot's event makes, if any.
pub fn classify(e: &Event) -> Option<Kind> {
    match &e.body {
        Body::Fill(_) => Some(Kind::Fill),
        Body::OrderRejected { .. } | Body::OrderRefused { .. } => Some(Kind::OrderRejected),
        Body::Halted { .. } => Some(Kind::BotHalted),
        Body::StopLoss(_) => Some(Kind::StopLoss),
        Body::Stopped {
            reason: StopReason::Failed,
            ..
        }
        | Body::UnexpectedHoldings { .. } => Some(Kind::Error),
        _ => None,
    }
}

/// The notice of a bot's event for `account`, if it notifies. `None` too for an event
/// whose `ts` does not parse (the ledger refuses those before).
pub fn notice_of(account: &str, e: &Event) -> Option<Notice> {
    let kind = classify(e)?;
    let ts = parse_iso8601(&e.ts).ok()?;
    Some(Notice {
        event_id: e.id.clone(),
        account: account.into(),
        kind,
        ts,
        bot: Some(e.bot.clone()),
        data: serde_json::to_value(e).ok()?,
    })
}

/// A channel of an account as routing sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route<'a> {
    /// The channel's id.
    pub channel: &'a str,
    /// Its rules.
    pub rules: &'a Rules,
}

/// The channels a notice goes to, each with whether it is silent.
pub fn route<'a>(kind: Kind, channels: &[Route<'a>]) -> Vec<(&'a str, bool)> {
    channels
        .iter()
        .filter_map(|c| match c.rules.mode(kind) {
            Mode::On => Some((c.channel, false)),
            Mode::Silent => Some((c.channel, true)),
            Mode::Off => None,
        })
        .collect()
}

/// A delivery's id: hex SHA-256 of the event's and the channel's ids (128 bits shown).
/// The same (event, channel) always has the same id; it is sent as the
/// `Idempotency-Key` header and as the mail's `Message-ID`.
pub fn delivery_id(event_id: &str, channel_id: &str) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(event_id.as_bytes());
    ctx.update(&[0]);
    ctx.update(channel_id.as_bytes());
    hex::encode(&ctx.finish().as_ref()[..16])
}

/// A notification as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// One line: the mail's subject, the message's first line.
    pub title: String,
    /// The body.
    pub text: String,
}

fn field<'a>(v: &'a serde_json::Value, name: &str) -> &'a str {
    v.get(name).and_then(|x| x.as_str()).unwrap_or("?")
}

/// How a notice reads.
pub fn render(n: &Notice) -> Rendered {
    let bot = n.bot.as_deref().unwrap_or("");
    let d = &n.data;
    let when = format_iso8601(n.ts);
    let (title, detail) = match n.kind {
        Kind::Fill => (
            format!(
                "{bot}: {} {} @ {}",
                field(d, "side"),
                field(d, "quantity"),
                field(d, "price")
            ),
            format!(
                "fee {} ({}), order {}",
                field(d, "fee"),
                field(d, "liquidity"),
                d.get("orderId").map(|v| v.to_string()).unwrap_or_default()
            ),
        ),
        Kind::OrderRejected => (
            format!("{bot}: order refused"),
            field(d, "message").to_owned(),
        ),
        Kind::BotHalted => (
            format!("{bot}: trading halted"),
            field(d, "message").to_owned(),
        ),
        Kind::StopLoss => (
            format!("{bot}: stop-loss fired"),
            format!(
                "closing {} {}, loss {} (limit {}%)",
                field(d, "side"),
                field(d, "quantity"),
                field(d, "loss"),
                field(d, "limitPercent")
            ),
        ),
        Kind::Error => (format!("{bot}: error"), field(d, "message").to_owned()),
        Kind::DailySummary => (
            format!("{}: daily summary {}", n.account, field(d, "day")),
            field(d, "text").to_owned(),
        ),
        Kind::StatementReady => (
            format!("{}: statement ready", n.account),
            format!(
                "settlement {} ({} to {}): total {} {}",
                field(d, "settlement"),
                field(d, "periodStart"),
                field(d, "periodEnd"),
                field(d, "total"),
                field(d, "currency")
            ),
        ),
        Kind::ReferralPayout => (
            format!("{}: payout", n.account),
            format!(
                "settlement {}: {} {}",
                field(d, "settlement"),
                field(d, "total"),
                field(d, "currency")
            ),
        ),
    };
    Rendered {
        text: format!("{title}\n{detail}\n{when}"),
        title,
    }
}

/// The JSON a webhook receives (the bytes that are signed).
pub fn webhook_body(delivery: &str, n: &Notice, silent: bool) -> Vec<u8> {
    let r = render(n);
    serde_json::to_vec(&serde_json::json!({
        "delivery": delivery,
        "event": n.event_id,
        "kind": n.kind,
        "account": n.account,
        "bot": n.bot,
        "ts": format_iso8601(n.ts),
        "silent": silent,
        "title": r.title,
        "text": r.text,
        "data": n.data,
    }))
    .unwrap_or_default()
}

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "tradewind-signature";
/// The idempotency key's header name (the [`delivery_id`]).
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The signature header's value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
/// under the channel's secret (Stripe's scheme: the timestamp is signed, so a captured
/// request cannot be replayed later than the receiver's tolerance).
pub fn sign(secret: &str, unix_seconds: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(unix_seconds.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("t={unix_seconds},v1={}", hex::encode(ctx.sign().as_ref()))
}

/// What a receiver checks: the header's signature over the body, and its timestamp within
/// `tolerance_seconds` of `now`. Constant-time comparison.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance_seconds: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = x.parse::<i64>().ok(),
            Some(("v1", x)) => v1 = hex::decode(x).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (now - t).abs() > tolerance_seconds {
        return false;
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut msg = t.to_string().into_bytes();
    msg.push(b'.');
    msg.extend_from_slice(body);
    hmac::verify(&key, &msg, &v1).is_ok()
}

/// When deliveries are tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failure, nanoseconds.
    pub base: i64,
    /// The longest delay, nanoseconds.
    pub cap: i64,
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: 10_000_000_000,
            cap: 3_600_000_000_000,
            max_attempts: 8,
        }
    }
}

/// What follows a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Try again at this instant.
    Retry {
        /// UNIX nanoseconds.
        at: i64,
    },
    /// Give up: a dead letter (retried only by hand, through the API).
    Dead,
}

/// After the `attempts`-th failed attempt at `now`: exponential backoff
/// (`base · 2^(attempts-1)`, at most `cap`) with "equal jitter" — half the delay fixed,
/// the other half scaled by `jitter_permille` (0..=1000, random in the dispatcher) — so
/// that deliveries failed together do not come back together; dead after `max_attempts`.
pub fn after_failure(attempts: u32, now: i64, policy: &RetryPolicy, jitter_permille: u32) -> After {
    if attempts >= policy.max_attempts {
        return After::Dead;
    }
    let exp = attempts.saturating_sub(1).min(62);
    let delay = policy
        .base
        .saturating_mul(1i64 << exp)
        .min(policy.cap)
        .max(0);
    let half = delay / 2;
    let jitter = (half as i128 * i128::from(jitter_permille.min(1000)) / 1000) as i64;
    After::Retry {
        at: now.saturating_add(half + jitter),
    }
}

/// Seals and opens channel secrets with AES-256-GCM under the platform's notification
/// key. A sealed secret is `v1:` + base64(nonce ‖ ciphertext ‖ tag); the channel's id is
/// the associated data, so a sealed secret copied to another channel does not open.
pub struct Sealer {
    key: LessSafeKey,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(…)")
    }
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl Sealer {
    /// A sealer from the key's text: 32 bytes, base64 (`openssl rand -base64 32`).
    pub fn from_base64(text: &str) -> Result<Self, NotifyError> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|e| invalid("notification key", format!("not base64: {e}")))?;
        if bytes.len() != 32 {
            return Err(invalid(
                "notification key",
                format!(
                    "{} bytes; it must be 32 (openssl rand -base64 32)",
                    bytes.len()
                ),
            ));
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| invalid("notification key", "not an AES-256 key"))?;
        Ok(Sealer {
            key: LessSafeKey::new(key),
        })
    }

    /// Seals `secret` for channel `channel`.
    pub fn seal(&self, channel: &str, secret: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        random_fill(&mut nonce);
        let mut data = secret.as_bytes().to_vec();
        // Sealing in place cannot fail for inputs below GCM's 64 GiB limit.
        let _ = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(channel.as_bytes()),
            &mut data,
        );
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        format!("v1:{}", B64.encode(out))
    }

    /// Opens a secret sealed for `channel`.
    pub fn open(&self, channel: &str, sealed: &str) -> Result<String, NotifyError> {
        let bytes = sealed
            .strip_prefix("v1:")
            .and_then(|b| B64.decode(b).ok())
            .ok_or(NotifyError::Sealed)?;
        if bytes.len() < NONCE_LEN {
            return Err(NotifyError::Sealed);
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| NotifyError::Sealed)?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(channel.as_bytes()), &mut data)
            .map_err(|_| NotifyError::Sealed)?;
        String::from_utf8(plain.to_vec()).map_err(|_| NotifyError::Sealed)
    }
}

/// Fills `buf` from the system RNG.
pub fn random_fill(buf: &mut [u8]) {
    // The system RNG does not fail on the platforms we build for.
    let _ = SystemRandom::new().fill(buf);
}

/// A new random secret (a webhook's signing secret): `whsec_` + 32 random bytes, base64url.
pub fn new_secret() -> String {
    let mut b = [0u8; 32];
    random_fill(&mut b);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    )
}

/// A new channel id: `ch_` + 10 random bytes, hex.
pub fn new_channel_id() -> String {
    let mut b = [0u8; 10];
    random_fill(&mut b);
    format!("ch_{}", hex::encode(b))
}

/// A delivery the dispatcher claimed from the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// The delivery's id ([`delivery_id`]).
    pub id: String,
    /// The channel's id.
    pub channel: String,
    /// The channel's settings.
    pub settings: Settings,
    /// The channel's sealed secret.
    pub sealed_secret: String,
    /// What to say.
    pub notice: Notice,
    /// Delivered without an alert.
    pub silent: bool,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// The outbox the dispatcher works through (the ledger's tables). Claiming makes a row
/// invisible to other dispatchers until `lease_until`; a dispatcher that dies holding it
/// lets it come due again then.
pub trait Outbox: Send + Sync + 'static {
    /// The store's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Claims up to `limit` deliveries due at `now`, of channels not in `busy`, counting
    /// the attempt.
    fn claim(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
        busy: &[String],
    ) -> impl Future<Output = Result<Vec<Claimed>, Self::Error>> + Send;

    /// Records a delivery as delivered.
    fn delivered(&self, id: &str, now: i64)
    -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Records a failed attempt and what follows it.
    fn failed(
        &self,
        id: &str,
        after: After,
        error: &str,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daily_summary_is_keyed_by_account_and_day_and_says_each_bots_day() {
        let day = parse_iso8601("2026-12-05T00:00:00Z").unwrap();
        assert_eq!(
            last_summarised_day(
                parse_iso8601("2026-12-06T00:09:59Z").unwrap(),
                600_000_000_000
            ),
            day - DAY_NANOS,
            "before the delay, the day before is the last"
        );
        assert_eq!(
            last_summarised_day(
                parse_iso8601("2026-12-06T00:10:00Z").unwrap(),
                600_000_000_000
            ),
            day
        );
        let n = daily_summary(
            "acme",
            day,
            &[BotDay {
                bot: "t/btc".into(),
                currency: "USDT".into(),
                fills: 2,
                volume: "100.50".into(),
                venue_fees: "0.10".into(),
                equity: Some("1000.00".into()),
            }],
        );
        assert_eq!(n.event_id, "daily/acme/2026-12-05");
        assert_eq!((n.kind, n.ts), (Kind::DailySummary, day + DAY_NANOS));
        let r = render(&n);
        assert_eq!(r.title, "acme: daily summary 2026-12-05");
        assert!(
            r.text.contains(
                "t/btc: 2 fills, volume 100.50 USDT, venue fees 0.10 USDT, equity 1000.00 USDT"
            ),
            "{}",
            r.text
        );
        assert!(
            render(&daily_summary("acme", day, &[]))
                .text
                .contains("no bots")
        );
    }
    use tradewind_events::{Fill, HaltCause, Liquidity, Side};

    fn fill() -> Event {
        Event::new(
            "trading/btc",
            "2026-11-25T10:00:00Z",
            3,
            "2026-11-25T10:03:00Z".into(),
            Body::Fill(Fill {
                order_id: 7,
                side: Side::Buy,
                price: "87232.01".into(),
                quantity: "0.00123".into(),
                fee: "0.107".into(),
                liquidity: Liquidity::Taker,
            }),
        )
    }

    #[test]
    fn events_classify_by_kind_and_the_rest_do_not_notify() {
        assert_eq!(classify(&fill()), Some(Kind::Fill));
        let mut halted = fill();
        halted.body = Body::Halted {
            cause: HaltCause::MaxDrawdown,
            message: "drawdown 21% over 20%".into(),
        };
        assert_eq!(classify(&halted), Some(Kind::BotHalted));
        let mut snap = fill();
        snap.body = Body::OrderAccepted {
            order_id: 1,
            triggered: false,
        };
        assert_eq!(classify(&snap), None);
        let n = notice_of("acme", &fill()).unwrap();
        assert_eq!(n.ts, parse_iso8601("2026-11-25T10:03:00Z").unwrap());
        let r = render(&n);
        assert_eq!(r.title, "trading/btc: buy 0.00123 @ 87232.01");
        assert!(r.text.contains("fee 0.107 (taker), order 7"), "{}", r.text);
    }

    #[test]
    fn routing_honours_on_silent_and_off_per_channel() {
        let on = Rules::default();
        let silent = Rules([(Kind::Fill, Mode::Silent)].into());
        let off = Rules([(Kind::Fill, Mode::Off)].into());
        let chans = [
            Route {
                channel: "a",
                rules: &on,
            },
            Route {
                channel: "b",
                rules: &silent,
            },
            Route {
                channel: "c",
                rules: &off,
            },
        ];
        assert_eq!(route(Kind::Fill, &chans), vec![("a", false), ("b", true)]);
        // Only fills are off on c.
        assert_eq!(
            route(Kind::BotHalted, &chans),
            vec![("a", false), ("b", false), ("c", false)]
        );
        let json = serde_json::to_string(&silent).unwrap();
        assert_eq!(json, r#"{"fill":"silent"}"#);
        assert!(serde_json::from_str::<Rules>(r#"{"fills":"on"}"#).is_err());
        assert!(serde_json::from_str::<Rules>(r#"{"fill":"loud"}"#).is_err());
    }

    #[test]
    fn signatures_verify_and_tampering_or_age_does_not() {
        let body = br#"{"a":1}"#;
        let h = sign("whsec_x", 1_700_000_000, body);
        assert!(h.starts_with("t=1700000000,v1="));
        assert!(verify("whsec_x", &h, body, 1_700_000_100, 300));
        assert!(!verify("whsec_y", &h, body, 1_700_000_100, 300));
        assert!(!verify("whsec_x", &h, br#"{"a":2}"#, 1_700_000_100, 300));
        assert!(!verify("whsec_x", &h, body, 1_700_001_000, 300));
        assert!(!verify("whsec_x", "v1=00", body, 1_700_000_000, 300));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap_then_dead_letters() {
        let p = RetryPolicy {
            base: 1000,
            cap: 6000,
            max_attempts: 5,
        };
        assert_eq!(after_failure(1, 0, &p, 0), After::Retry { at: 500 });
        assert_eq!(after_failure(1, 0, &p, 1000), After::Retry { at: 1000 });
        assert_eq!(after_failure(2, 0, &p, 0), After::Retry { at: 1000 });
        assert_eq!(after_failure(3, 0, &p, 500), After::Retry { at: 3000 });
        // 8000 capped at 6000.
        assert_eq!(after_failure(4, 10, &p, 1000), After::Retry { at: 6010 });
        assert_eq!(after_failure(5, 0, &p, 0), After::Dead);
    }

    #[test]
    fn delivery_ids_are_stable_and_distinct() {
        let a = delivery_id("e1", "ch_1");
        assert_eq!(a, delivery_id("e1", "ch_1"));
        assert_ne!(a, delivery_id("e1", "ch_2"));
        assert_ne!(delivery_id("e1c", "h_1"), delivery_id("e1", "ch_1"));
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn secrets_seal_per_channel_and_a_wrong_key_is_named() {
        let key = B64.encode([7u8; 32]);
        let s = Sealer::from_base64(&key).unwrap();
        let sealed = s.seal("ch_1", "123:telegram-token");
        assert!(!sealed.contains("telegram-token"));
        assert_eq!(s.open("ch_1", &sealed).unwrap(), "123:telegram-token");
        assert_eq!(s.open("ch_2", &sealed), Err(NotifyError::Sealed));
        let other = Sealer::from_base64(&B64.encode([8u8; 32])).unwrap();
        assert_eq!(other.open("ch_1", &sealed), Err(NotifyError::Sealed));
        assert!(
            Sealer::from_base64("c2hvcnQ=")
                .unwrap_err()
                .to_string()
                .contains("32")
        );
        assert_eq!(format!("{s:?}"), "Sealer(…)");
    }

    #[test]
    fn settings_are_checked_by_field() {
        let bad = Settings::Webhook {
            url: "http://example.com/hook".into(),
        };
        assert!(
            bad.check()
                .unwrap_err()
                .to_string()
                .starts_with("settings.url")
        );
        assert!(
            Settings::Webhook {
                url: "http://127.0.0.1:9/x".into()
            }
            .check()
            .is_ok()
        );
        assert!(
            Settings::Webhook {
                url: "https://hooks.example.com/x".into()
            }
            .check()
            .is_ok()
        );
        let t = Settings::Telegram {
            chat_id: "12 34".into(),
        };
        assert!(
            t.check()
                .unwrap_err()
                .to_string()
                .starts_with("settings.chatId")
        );
        let e = Settings::Email {
            host: "smtp.example.com".into(),
            port: 587,
            security: Security::Starttls,
            username: None,
            from: "bots@example.com".into(),
            to: vec!["me@example.com\r\nBcc: x@y.z".into()],
        };
        assert!(
            e.check()
                .unwrap_err()
                .to_string()
                .starts_with("settings.to")
        );
        let s: Settings = serde_json::from_str(
            r#"{"type":"email","host":"h.example","port":25,"from":"a@b.c","to":["d@e.f"]}"#,
        )
        .unwrap();
        assert!(s.check().is_ok());
        assert_eq!(s.kind(), ChannelKind::Email);
    }
}
