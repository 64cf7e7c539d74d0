//! Errors of the Binance client. Messages name the endpoint and Binance's own code and
//! message; they never contain the API secret, a signature or a full listenKey.

use std::time::Duration;

/// What went wrong talking to Binance's REST API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VenueError {
    /// The matching engine refused a new order (`-2010 NEW_ORDER_REJECTED`), e.g.
    /// insufficient balance or a `LIMIT_MAKER` that would take liquidity.
    #[error("{endpoint}: order rejected by Binance ({code}: {msg})")]
    Rejected {
        /// Method and path, e.g. `POST /api/v3/order`.
        endpoint: String,
        /// Binance error code.
        code: i64,
        /// Binance error message.
        msg: String,
    },
    /// The client order ID is already used by an open order (`-2010 "Duplicate order sent."`).
    #[error("{endpoint}: duplicate client order id ({code}: {msg})")]
    DuplicateOrder {
        /// Method and path.
        endpoint: String,
        /// Binance error code.
        code: i64,
        /// Binance error message.
        msg: String,
    },
    /// The order does not exist (`-2011 CANCEL_REJECTED` / `-2013 NO_SUCH_ORDER`).
    #[error("{endpoint}: unknown order ({code}: {msg})")]
    UnknownOrder {
        /// Method and path.
        endpoint: String,
        /// Binance error code.
        code: i64,
        /// Binance error message.
        msg: String,
    },
    /// A symbol filter refused the order (`-1013`: tick, lot, min notional…).
    #[error("{endpoint}: order refused by a symbol filter ({code}: {msg})")]
    Filter {
        /// Method and path.
        endpoint: String,
        /// Binance error code.
        code: i64,
        /// Binance error message.
        msg: String,
    },
    /// The timestamp was outside recvWindow even after resynchronising with the server
    /// clock (`-1021`).
    #[error(
        "{endpoint}: request timestamp outside recvWindow even after clock resync ({code}: {msg})"
    )]
    Timestamp {
        /// Method and path.
        endpoint: String,
        /// Binance error code.
        code: i64,
        /// Binance error message.
        msg: String,
    },
    /// The API key or the signature was refused: bad key format (`-2014`), invalid key, IP
    /// or permissions (`-2015`), or a signature that does not match (`-1022`, a wrong secret).
    #[error("{endpoint}: authentication failed for API key {key_hint} ({code}: {msg})")]
    Auth {
        /// Method and path.
        endpoint: String,
        /// The first characters of the API key (never the secret).
        key_hint: String,
        /// Binance error code.
        code: i64,
        /// Binance error message.
        msg: String,
    },
    /// HTTP 429 (rate limit) or 418 (IP ban), still in force after waiting `Retry-After` once.
    #[error("{endpoint}: rate limited (HTTP {status}{}){}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default(), api_suffix(*code, msg))]
    RateLimited {
        /// Method and path.
        endpoint: String,
        /// 429 or 418.
        status: u16,
        /// Wait Binance asked for.
        retry_after: Option<Duration>,
        /// Binance error code if the body had one.
        code: Option<i64>,
        /// Binance error message if the body had one.
        msg: Option<String>,
    },
    /// Any other `{"code","msg"}` error.
    #[error("{endpoint}: Binance error HTTP {status} ({code}: {msg})")]
    Api {
        /// Method and path.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// Binance error code.
        code: i64,
        /// Binance error message.
        msg: String,
    },
    /// HTTP 5xx: Binance's side failed. For order endpoints the outcome is **unknown**
    /// (the order may exist): reconcile by client order ID before retrying.
    #[error("{endpoint}: Binance server error HTTP {status}, outcome unknown: {body}")]
    Server {
        /// Method and path.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// Start of the response body.
        body: String,
    },
    /// A non-2xx answer without a Binance error body.
    #[error("{endpoint}: HTTP {status}: {body}")]
    Http {
        /// Method and path.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// Start of the response body.
        body: String,
    },
    /// Connecting, sending or reading failed (including timeouts). For order endpoints the
    /// outcome is unknown.
    #[error("{endpoint}: transport error: {detail}")]
    Transport {
        /// Method and path.
        endpoint: String,
        /// What the HTTP stack said.
        detail: String,
    },
    /// The response did not have the documented shape.
    #[error("{endpoint}: unexpected response: {detail}")]
    Decode {
        /// Method and path (or stream name).
        endpoint: String,
        /// What did not parse.
        detail: String,
    },
    /// A decimal field does not fit the core's fixed-point types exactly.
    #[error("{endpoint}: field `{field}`: {detail}")]
    Field {
        /// Method and path (or stream name).
        endpoint: String,
        /// JSON field name (Binance's spelling).
        field: String,
        /// Why it was refused.
        detail: String,
    },
    /// A signed or API-key endpoint was called on a client built without credentials.
    #[error("{endpoint}: needs API credentials, but the client has none")]
    MissingCredentials {
        /// Method and path.
        endpoint: String,
    },
    /// The symbol is not listed by `exchangeInfo`.
    #[error("exchangeInfo has no symbol {symbol}")]
    UnknownSymbol {
        /// The symbol asked for.
        symbol: String,
    },
    /// The request was not sent: the caller's last check before sending (e.g. that this
    /// worker still holds the bot's Lease) said no. Nothing reached the exchange.
    #[error("{endpoint}: not sent: no longer allowed to send")]
    NotSent {
        /// Method and path.
        endpoint: String,
    },
    /// The client could not be built (bad URL, TLS setup).
    #[error("binance client: {0}")]
    Config(String),
}

fn api_suffix(code: Option<i64>, msg: &Option<String>) -> String {
    match (code, msg) {
        (Some(c), Some(m)) => format!(" ({c}: {m})"),
        (Some(c), None) => format!(" ({c})"),
        _ => String::new(),
    }
}

impl VenueError {
    /// Binance's error code, if the failure came with one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Rejected { code, .. }
            | Self::DuplicateOrder { code, .. }
            | Self::UnknownOrder { code, .. }
            | Self::Filter { code, .. }
            | Self::Timestamp { code, .. }
            | Self::Auth { code, .. }
            | Self::Api { code, .. } => Some(*code),
            Self::RateLimited { code, .. } => *code,
            _ => None,
        }
    }

    /// `true` when an order request may or may not have reached the matching engine
    /// (5xx, timeouts, dropped connections): look the order up before sending it again.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Self::Server { .. } | Self::Transport { .. })
    }

    /// `true` for failures worth retrying later unchanged (rate limits, 5xx, transport).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Transport { .. }
        )
    }

    /// Classify a Binance `{"code","msg"}` error body.
    pub(crate) fn from_api(
        endpoint: &str,
        status: u16,
        code: i64,
        msg: String,
        key_hint: &str,
    ) -> Self {
        let endpoint = endpoint.to_owned();
        match code {
            -2010 if msg.to_ascii_lowercase().contains("duplicate") => Self::DuplicateOrder {
                endpoint,
                code,
                msg,
            },
            -2010 => Self::Rejected {
                endpoint,
                code,
                msg,
            },
            -2011 if msg.to_ascii_lowercase().contains("unknown order") => Self::UnknownOrder {
                endpoint,
                code,
                msg,
            },
            -2011 => Self::Rejected {
                endpoint,
                code,
                msg,
            },
            -2013 => Self::UnknownOrder {
                endpoint,
                code,
                msg,
            },
            -1013 => Self::Filter {
                endpoint,
                code,
                msg,
            },
            -1021 => Self::Timestamp {
                endpoint,
                code,
                msg,
            },
            -2014 | -2015 | -1022 | -1002 => Self::Auth {
                endpoint,
                key_hint: key_hint.to_owned(),
                code,
                msg,
            },
            _ => Self::Api {
                endpoint,
                status,
                code,
                msg,
            },
        }
    }
}

/// What went wrong in a WebSocket feed. Recoverable problems (disconnects, gaps) are
/// handled inside the feed and reported as events; these end it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// A REST call the feed depends on failed for a reason retrying cannot fix.
    #[error("{0}")]
    Venue(#[from] VenueError),
    /// The stream URL could not be built.
    #[error("binance stream: bad URL {url:?}: {detail}")]
    Url {
        /// The URL (listenKeys redacted).
        url: String,
        /// Why.
        detail: String,
    },
    /// Reconnecting failed more times in a row than allowed.
    #[error("binance stream {stream}: gave up after {attempts} failed reconnects: {last}")]
    GaveUp {
        /// Stream description (listenKeys redacted).
        stream: String,
        /// Consecutive failed attempts.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The feed was closed with [`close`](super::market::MarketFeed::close).
    #[error("binance stream closed")]
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        let e = |code, msg: &str| {
            VenueError::from_api("POST /api/v3/order", 400, code, msg.into(), "abcd…")
        };
        assert!(matches!(
            e(-2010, "Duplicate order sent."),
            VenueError::DuplicateOrder { .. }
        ));
        assert!(matches!(
            e(
                -2010,
                "Account has insufficient balance for requested action."
            ),
            VenueError::Rejected { .. }
        ));
        assert!(matches!(
            e(-2011, "Unknown order sent."),
            VenueError::UnknownOrder { .. }
        ));
        assert!(matches!(
            e(-2013, "Order does not exist."),
            VenueError::UnknownOrder { .. }
        ));
        assert!(matches!(
            e(-1013, "Filter failure: LOT_SIZE"),
            VenueError::Filter { .. }
        ));
        assert!(matches!(
            e(
                -1021,
                "Timestamp for this request is outside of the recvWindow."
            ),
            VenueError::Timestamp { .. }
        ));
        assert!(matches!(
            e(-2015, "Invalid API-key, IP, or permissions for action."),
            VenueError::Auth { .. }
        ));
        assert!(matches!(
            e(-1022, "Signature for this request is not valid."),
            VenueError::Auth { .. }
        ));
        assert!(matches!(
            e(-1121, "Invalid symbol."),
            VenueError::Api { status: 400, .. }
        ));
        assert_eq!(e(-1121, "Invalid symbol.").code(), Some(-1121));
    }

    #[test]
    fn messages_name_endpoint_code_and_msg() {
        let e = VenueError::from_api(
            "DELETE /api/v3/order",
            400,
            -2011,
            "Unknown order sent.".into(),
            "abcd…",
        );
        assert_eq!(
            e.to_string(),
            "DELETE /api/v3/order: unknown order (-2011: Unknown order sent.)"
        );
        let r = VenueError::RateLimited {
            endpoint: "GET /api/v3/depth".into(),
            status: 429,
            retry_after: Some(Duration::from_secs(3)),
            code: Some(-1003),
            msg: Some("Too many requests.".into()),
        };
        assert_eq!(
            r.to_string(),
            "GET /api/v3/depth: rate limited (HTTP 429, retry after 3s) (-1003: Too many requests.)"
        );
        assert!(r.is_transient());
        assert!(!r.outcome_unknown());
    }
}
