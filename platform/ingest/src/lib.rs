//! How a bot worker records its events with the platform: the one definition of the
//! ingest contract, read by the worker (which sends), the operator (which mounts the
//! token and sets the variables) and the platform (which answers, [`server`] with the
//! `server` feature).
//!
//! # The exchange
//!
//! `POST` [`PATH`] with `Content-Type: application/json`, `Authorization: Bearer <token>`
//! (the worker's projected ServiceAccount token for [`AUDIENCE`]) and a [`Batch`]: at
//! most [`MAX_EVENTS`] events of one bot and one session, at most [`MAX_BODY_BYTES`]
//! bytes. The platform checks the token with a Kubernetes TokenReview, maps the
//! ServiceAccount to its TradingBot (`tradewind_crds::contract::worker_service_account`)
//! and records every event exactly once in effect: an id it has already recorded with the
//! same content counts as a duplicate; with different content it is refused (a
//! [`ProblemCode::Conflict`]: corruption, not a retry). The answer is an [`Answer`]
//! (200), or a [`Problem`] (`application/problem+json`) naming the event id, the field
//! and the reason. A refused batch records nothing.
//!
//! Delivery is at least once: the worker resends from its acknowledged cursor after any
//! failure or restart, and [`ProblemCode::retryable`] says which refusals to retry.

use serde::{Deserialize, Serialize};
pub use tradewind_events::Event;

#[cfg(feature = "server")]
pub mod server;

/// The ingest endpoint's path.
pub const PATH: &str = "/ingest/v1/events";
/// Media type of a batch and of an answer.
pub const CONTENT_TYPE: &str = "application/json";
/// Media type of a refusal.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// Most events in one batch.
pub const MAX_EVENTS: usize = 1_000;
/// Largest request body, bytes (1,000 events of a few hundred bytes fit with room).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// The audience of the worker's projected token: the platform accepts no other, so a
/// token stolen from elsewhere (the API server's) is useless here, and this one is
/// useless to the API server.
pub const AUDIENCE: &str = "tradewind.dev/platform";
/// Directory where the operator mounts the worker's projected platform token.
pub const TOKEN_DIR: &str = "/var/run/secrets/tradewind.dev/platform";
/// File name of the token in [`TOKEN_DIR`].
pub const TOKEN_FILE: &str = "token";
/// [`TOKEN_DIR`]`/`[`TOKEN_FILE`]: the worker's default token path.
pub const TOKEN_PATH: &str = "/var/run/secrets/tradewind.dev/platform/token";
/// Lifetime the operator asks for the projected token; the kubelet rotates it at 80 %,
/// so the worker reads the file again for every request.
pub const TOKEN_EXPIRATION_SECONDS: i64 = 3600;

/// Environment variables the operator sets on a worker and the worker reads (each is
/// also a `tradewind-bot run` flag).
pub mod env {
    /// Base URL of the platform service, e.g. `http://tradewind-platform.tradewind-system.svc:8080`;
    /// without it the worker records nothing with the platform.
    pub const PLATFORM_URL: &str = "TRADEWIND_PLATFORM_URL";
    /// Path of the projected token (default [`super::TOKEN_PATH`]).
    pub const PLATFORM_TOKEN_FILE: &str = "TRADEWIND_PLATFORM_TOKEN_FILE";
}

/// The request body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// The events, in sequence order.
    pub events: Vec<Event>,
}

/// The answer to a batch the platform took: every event of it is now recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    /// Events recorded by this request.
    pub recorded: u64,
    /// Events already recorded with the same content (a resend).
    pub duplicates: u64,
    /// The batch's session (absent for an empty batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The highest sequence of the batch: everything the batch held up to it is recorded
    /// (absent for an empty batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<u64>,
}

/// One signal a worker fetches (see `tradewind_crds::contract::signals`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireSignal {
    /// Its place among the bot's signals, from 1 (the worker's cursor).
    pub seq: u64,
    /// The sender's id.
    pub id: String,
    /// `enter`, `exit` or `flatten`.
    pub action: String,
    /// The signal's time, nanoseconds since the epoch.
    pub ts: i64,
}

/// The answer to a signal fetch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// The bot's signals after the cursor, oldest first.
    pub signals: Vec<WireSignal>,
}

/// A worker's acknowledgement of its bot's signals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalAck {
    /// The bot's namespace.
    pub namespace: String,
    /// The bot's name.
    pub name: String,
    /// Every signal up to this sequence is journaled.
    pub upto: u64,
}

/// Why the platform refused a request (field `code`; the HTTP status follows from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProblemCode {
    /// No bearer token, or the TokenReview did not accept it for [`AUDIENCE`] (401).
    Unauthenticated,
    /// The token's ServiceAccount is no bot's worker, or an event is another bot's (403).
    Forbidden,
    /// No such TradingBot, or the ledger does not know the bot (404).
    UnknownBot,
    /// The ledger does not know the bot's account (404).
    UnknownAccount,
    /// An event's id is recorded with different content: corruption, not a retry (409).
    Conflict,
    /// An event breaks the contract (a field and the reason are named) (422).
    Invalid,
    /// The body is not a batch (400).
    Malformed,
    /// More than [`MAX_EVENTS`] events or [`MAX_BODY_BYTES`] bytes (413).
    TooLarge,
    /// The body is not `application/json` (415).
    UnsupportedMediaType,
    /// Not `POST` (405).
    MethodNotAllowed,
    /// No such path (404).
    NotFound,
    /// The body did not arrive in time (408).
    Timeout,
    /// The ledger or the Kubernetes API cannot be reached now (503).
    Unavailable,
    /// A code this reader does not know (a newer platform).
    #[serde(other)]
    Unknown,
}

impl ProblemCode {
    /// The HTTP status the platform answers with.
    pub fn status(self) -> u16 {
        match self {
            ProblemCode::Unauthenticated => 401,
            ProblemCode::Forbidden => 403,
            ProblemCode::UnknownBot | ProblemCode::UnknownAccount | ProblemCode::NotFound => 404,
            ProblemCode::MethodNotAllowed => 405,
            ProblemCode::Timeout => 408,
            ProblemCode::Conflict => 409,
            ProblemCode::TooLarge => 413,
            ProblemCode::UnsupportedMediaType => 415,
            ProblemCode::Invalid => 422,
            ProblemCode::Malformed => 400,
            ProblemCode::Unavailable | ProblemCode::Unknown => 503,
        }
    }

    /// Whether sending the same batch again later can succeed: the platform or the API
    /// server was down, the token was rotated under the request, or an administrator has
    /// yet to create the bot's account in the ledger. Everything else (a conflict, an
    /// invalid event, a worker that is not a bot's) needs a person, and resending would
    /// only repeat it.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ProblemCode::Unauthenticated
                | ProblemCode::UnknownBot
                | ProblemCode::UnknownAccount
                | ProblemCode::Timeout
                | ProblemCode::Unavailable
                | ProblemCode::Unknown
        )
    }
}

/// A refusal (`application/problem+json`, in the spirit of RFC 9457).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The HTTP status.
    pub status: u16,
    /// Why, as a code.
    pub code: ProblemCode,
    /// Why, in words (never a token).
    pub detail: String,
    /// The event at fault, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The field at fault (wire spelling, e.g. `fee`), if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    /// A problem with `code` and `detail`.
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Problem {
            status: code.status(),
            code,
            detail: detail.into(),
            event_id: None,
            field: None,
        }
    }

    /// The same, about event `id`.
    pub fn event(mut self, id: &str) -> Self {
        self.event_id = Some(id.to_owned());
        self
    }

    /// The same, about `field`.
    pub fn field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:?})", self.detail, self.code)?;
        if let Some(id) = &self.event_id {
            write!(f, ", event {id}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field {field}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

/// Checks a batch against the contract for `bot` (`namespace/name`, the token's): its
/// size, one session, and every event ([`check_event`]). Pure: the server calls it before
/// anything is recorded, and a refusal names the first event at fault.
pub fn check_batch(bot: &str, batch: &Batch) -> Result<(), Problem> {
    if batch.events.len() > MAX_EVENTS {
        return Err(Problem::new(
            ProblemCode::TooLarge,
            format!(
                "{} events in one batch; at most {MAX_EVENTS}",
                batch.events.len()
            ),
        )
        .field("events"));
    }
    let session = batch.events.first().map(|e| e.session.as_str());
    for e in &batch.events {
        check_event(bot, e)?;
        if Some(e.session.as_str()) != session {
            return Err(Problem::new(
                ProblemCode::Invalid,
                "a batch holds the events of one session",
            )
            .event(&e.id)
            .field("session"));
        }
    }
    Ok(())
}

/// Checks one event for `bot`: it is that bot's (a bot writes only its own history), of
/// version [`tradewind_events::VERSION`], its id is the one its bot, session and sequence
/// name (so no event can take another's id), and its money fields are exact decimals.
pub fn check_event(bot: &str, e: &Event) -> Result<(), Problem> {
    let invalid = |field: &str, reason: String| {
        Err(Problem::new(ProblemCode::Invalid, reason)
            .event(&e.id)
            .field(field))
    };
    if e.bot != bot {
        return Err(Problem::new(
            ProblemCode::Forbidden,
            format!(
                "the event is bot {:?}'s; this token is bot {bot:?}'s, which writes only its own history",
                e.bot
            ),
        )
        .event(&e.id)
        .field("bot"));
    }
    if e.version != tradewind_events::VERSION {
        return invalid(
            "version",
            format!(
                "version {} is not {}, the one this platform reads",
                e.version,
                tradewind_events::VERSION
            ),
        );
    }
    if e.session.is_empty() {
        return invalid("session", "empty".into());
    }
    if e.ts.is_empty() {
        return invalid("ts", "empty".into());
    }
    let id = Event::id_for(&e.bot, &e.session, e.sequence);
    if e.id != id {
        return invalid(
            "id",
            format!(
                "{:?} is not the id of its bot, session and sequence ({id:?})",
                e.id
            ),
        );
    }
    use tradewind_events::Body;
    let fields: Vec<(&str, &str, Sign)> = match &e.body {
        Body::Fill(f) => vec![
            ("price", &f.price, Sign::Positive),
            ("quantity", &f.quantity, Sign::Positive),
            // Negative: a maker rebate, which some venues' schedules pay.
            ("fee", &f.fee, Sign::Any),
        ],
        Body::EquitySnapshot(p) | Body::Stopped { performance: p, .. } => vec![
            ("equity", &p.equity, Sign::Any),
            ("realizedPnl", &p.realized_pnl, Sign::Any),
            ("unrealizedPnl", &p.unrealized_pnl, Sign::Any),
            ("fees", &p.fees, Sign::NonNegative),
        ],
        Body::OrderSubmitted { order } | Body::OrderRefused { order, .. } => {
            // A refused order may be sized at zero; none is negative.
            let mut v = vec![("order.quantity", order.quantity.as_str(), Sign::NonNegative)];
            if let Some(p) = &order.price {
                v.push(("order.price", p, Sign::NonNegative));
            }
            if let Some(p) = &order.trigger {
                v.push(("order.trigger", p, Sign::NonNegative));
            }
            v
        }
        Body::OrderCanceled { unfilled, .. } => vec![("unfilled", unfilled, Sign::NonNegative)],
        _ => Vec::new(),
    };
    for (field, value, sign) in fields {
        if let Err(reason) = decimal(value, sign) {
            return invalid(field, format!("{value:?}: {reason}"));
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Sign {
    Positive,
    NonNegative,
    Any,
}

/// An exact decimal: an optional `-`, digits, optionally `.` and digits; no exponent,
/// no `+`, no separators, at most 40 characters (beyond any fixed-point money we keep).
fn decimal(s: &str, sign: Sign) -> Result<(), &'static str> {
    if s.len() > 40 {
        return Err("longer than 40 characters");
    }
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !ok(int) || !ok(frac) || (digits.contains('.') && frac.is_empty()) {
        return Err("not a decimal number");
    }
    let zero = digits.bytes().all(|b| b == b'0' || b == b'.');
    match sign {
        Sign::Positive if negative || zero => Err("must be greater than zero"),
        Sign::NonNegative if negative && !zero => Err("must not be negative"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradewind_events::{Body, Fill, Liquidity, Side};

    const BOT: &str = "trading/btc-bot";
    const SESSION: &str = "2026-11-25T10:00:00Z";

    fn fill(seq: u64, fee: &str) -> Event {
        Event::new(
            BOT,
            SESSION,
            seq,
            "2026-11-25T10:03:00Z".into(),
            Body::Fill(Fill {
                order_id: 1,
                side: Side::Buy,
                price: "64000.10".into(),
                quantity: "0.001".into(),
                fee: fee.into(),
                liquidity: Liquidity::Taker,
            }),
        )
    }

    #[test]
    fn decimals_are_exact_and_signed_as_the_field_needs() {
        for ok in ["0", "1", "0.5", "-12.25", "100000000.000000001"] {
            assert_eq!(decimal(ok, Sign::Any), Ok(()), "{ok}");
        }
        for bad in [
            "", "-", ".5", "5.", "1e3", "+1", "1,000", "0x10", "1.2.3", "NaN",
        ] {
            assert!(decimal(bad, Sign::Any).is_err(), "{bad}");
        }
        assert!(decimal("0.000", Sign::Positive).is_err());
        assert!(decimal("-1", Sign::NonNegative).is_err());
        assert_eq!(decimal("-0.0", Sign::NonNegative), Ok(()));
        assert!(decimal(&"1".repeat(41), Sign::Any).is_err());
    }

    #[test]
    fn a_batch_is_checked_event_by_event_naming_the_id_and_field() {
        let good = Batch {
            events: vec![fill(0, "0.064"), fill(1, "0")],
        };
        assert_eq!(check_batch(BOT, &good), Ok(()));

        let p = check_batch("trading/other", &good).unwrap_err();
        assert_eq!((p.code, p.status), (ProblemCode::Forbidden, 403));
        assert_eq!(p.field.as_deref(), Some("bot"));

        let mut bad = good.clone();
        if let Body::Fill(f) = &mut bad.events[1].body {
            f.quantity = "-0.001".into();
        }
        let p = check_batch(BOT, &bad).unwrap_err();
        assert_eq!((p.code, p.status), (ProblemCode::Invalid, 422));
        assert_eq!(p.event_id.as_deref(), Some(bad.events[1].id.as_str()));
        assert_eq!(p.field.as_deref(), Some("quantity"));
        assert!(p.detail.contains("greater than zero"), "{p}");
        // A maker rebate is a negative fee, and valid.
        assert_eq!(
            check_batch(
                BOT,
                &Batch {
                    events: vec![fill(0, "-0.01")]
                }
            ),
            Ok(())
        );

        let mut forged = good.clone();
        forged.events[1].id = forged.events[0].id.clone();
        let p = check_batch(BOT, &forged).unwrap_err();
        assert_eq!(p.field.as_deref(), Some("id"));

        let mut mixed = good.clone();
        mixed.events[1] = Event::new(BOT, "2026-11-26T00:00:00Z", 0, "x".into(), Body::Unknown);
        assert_eq!(
            check_batch(BOT, &mixed).unwrap_err().field.as_deref(),
            Some("session")
        );

        let big = Batch {
            events: (0..=MAX_EVENTS as u64).map(|s| fill(s, "0")).collect(),
        };
        assert_eq!(
            check_batch(BOT, &big).unwrap_err().code,
            ProblemCode::TooLarge
        );
    }

    #[test]
    fn the_wire_form_of_answers_and_problems_is_pinned() {
        let a = Answer {
            recorded: 2,
            duplicates: 1,
            session: Some(SESSION.into()),
            acknowledged: Some(9),
        };
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"recorded":2,"duplicates":1,"session":"2026-11-25T10:00:00Z","acknowledged":9}"#
        );
        let p = Problem::new(ProblemCode::Conflict, "different content")
            .event("trading/btc-bot/s/1")
            .field("fee");
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"status":409,"code":"conflict","detail":"different content","eventId":"trading/btc-bot/s/1","field":"fee"}"#
        );
        let newer: Problem =
            serde_json::from_str(r#"{"status":418,"code":"teapot","detail":"x"}"#).unwrap();
        assert_eq!(newer.code, ProblemCode::Unknown);
        assert!(newer.code.retryable());
        assert!(!ProblemCode::Conflict.retryable());
        assert!(ProblemCode::UnknownAccount.retryable());
        assert_eq!(TOKEN_PATH, format!("{TOKEN_DIR}/{TOKEN_FILE}"));
    }
}
