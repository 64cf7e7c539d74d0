//! A test-only, stateful mock of the Binance **spot** exchange: REST (`/api/v3/...`,
//! SIGNED endpoints with HMAC-SHA256) and WebSocket market and user-data streams, speaking
//! Binance's documented message formats (copies of the documented examples are in
//! `tests/binance/fixtures/`). Market data is replayed from real Binance recordings
//! (`examples/data/binance_spot_*_l1_trades.jsonl`); orders match against the replayed
//! market. Fault injection and observation through [`Handle`]. Not product.
//!
//! Plain HTTP and WS on one port of 127.0.0.1: REST at `http://127.0.0.1:PORT/api/v3/...`,
//! streams at `ws://127.0.0.1:PORT/ws/<stream>` and `/stream?streams=a/b`.
//!
//! ```no_run
//! use tradewind_binance_mock::{MockConfig, TestServer};
//! let mock = TestServer::start_with(MockConfig::with_examples("examples/data")).expect("mock");
//! println!("{} {}", mock.rest_base(), mock.ws_base());
//! mock.pause();
//! mock.advance(10);
//! assert_eq!(mock.order_count(), 0);
//! ```

mod dec;
mod exchange;
mod market;
mod server;
mod sign;
mod state;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use dec::{Dec, DecError};
pub use exchange::{Order, OrderStatus, OrderType, Side, TimeInForce};
pub use market::{MarketData, SymbolRules, symbol_from_path};
pub use server::{Handle, TestServer};
pub use sign::{sign, split_signature, verify};
pub use state::{Balance, RequestRecord};

/// The default account's API key.
pub const DEFAULT_API_KEY: &str = "tradewind-mock-api-key-0000000000000000000000000000000000000000";
/// The default account's API secret (test-only; documented, never printed by default).
pub const DEFAULT_API_SECRET: &str =
    "tradewind-mock-api-secret-00000000000000000000000000000000000000";

/// Replay pacing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// Recorded time divided by this factor (1.0 = real time, 100.0 = 100× faster).
    Multiplier(f64),
    /// No waiting between events.
    AsFastAsPossible,
}

/// An account: API credentials and starting balances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// `X-MBX-APIKEY` value.
    pub api_key: String,
    /// HMAC secret.
    pub api_secret: String,
    /// Starting free balance per asset.
    pub balances: BTreeMap<String, Dec>,
    /// Pay commissions in this asset (e.g. `BNB`, as with Binance's "use BNB to pay
    /// fees"), valued at [`MockConfig::tickers`]' price of `<asset><quote>`; without such
    /// a price, or when `None`, in the asset received.
    pub commission_asset: Option<String>,
}

impl Account {
    /// An account with no balances.
    pub fn new(api_key: impl Into<String>, api_secret: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            api_secret: api_secret.into(),
            balances: BTreeMap::new(),
            commission_asset: None,
        }
    }

    /// Pays commissions in `asset` (see [`Account::commission_asset`]).
    pub fn paying_fees_in(mut self, asset: &str) -> Self {
        self.commission_asset = Some(asset.to_owned());
        self
    }

    /// Adds a starting free balance (`amount` a decimal string; invalid → 0).
    pub fn with_balance(mut self, asset: &str, amount: &str) -> Self {
        self.balances
            .insert(asset.to_owned(), amount.parse().unwrap_or_default());
        self
    }
}

impl Default for Account {
    /// [`DEFAULT_API_KEY`] / [`DEFAULT_API_SECRET`] with 10,000 USDT, 1 BTC, 10 ETH, 100 SOL.
    fn default() -> Self {
        Account::new(DEFAULT_API_KEY, DEFAULT_API_SECRET)
            .with_balance("USDT", "10000")
            .with_balance("BTC", "1")
            .with_balance("ETH", "10")
            .with_balance("SOL", "100")
    }
}

/// Mock configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct MockConfig {
    /// Registered API keys (default: one [`Account::default`]).
    pub accounts: Vec<Account>,
    /// Replayed markets; each is a tradable symbol.
    pub markets: Vec<MarketData>,
    /// Replay pacing (default real time).
    pub speed: Speed,
    /// Start with the replay paused (step with [`Handle::advance`]).
    pub start_paused: bool,
    /// Commission in basis points of the received asset (default 10 = 0.1%).
    pub commission_bps: u32,
    /// Levels per side of the synthetic book (L1 from the data plus deeper levels).
    pub book_levels: usize,
    /// Prices `GET /api/v3/ticker/price` gives for symbols not replayed (e.g. `BNBUSDT`).
    pub tickers: BTreeMap<String, Dec>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            accounts: vec![Account::default()],
            markets: Vec::new(),
            speed: Speed::Multiplier(1.0),
            start_paused: false,
            commission_bps: 10,
            book_levels: 20,
            tickers: BTreeMap::new(),
        }
    }
}

impl MockConfig {
    /// The default config replaying BTCUSDT, ETHUSDT and SOLUSDT from the repository's
    /// `examples/data` directory (`dir`).
    pub fn with_examples(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        let markets = ["btcusdt", "ethusdt", "solusdt"]
            .iter()
            .map(|s| MarketData {
                symbol: s.to_ascii_uppercase(),
                path: dir.join(format!("binance_spot_{s}_l1_trades.jsonl")),
            })
            .collect();
        Self {
            markets,
            ..Self::default()
        }
    }

    /// Adds a market from a data file whose name carries the symbol.
    pub fn with_data(mut self, path: impl Into<PathBuf>) -> Result<Self, MockError> {
        self.markets.push(MarketData::from_path(path)?);
        Ok(self)
    }
}

/// Errors starting the mock.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// Binding the listening socket failed.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// Requested address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Binding a free port or starting the server's thread and runtime failed.
    #[error(transparent)]
    Start(#[from] tradewind_test_support::HostError),
    /// Reading a market-data file failed.
    #[error("reading {path}: {source}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A market-data file has a bad record.
    #[error("{path}:{line}: {reason}")]
    Data {
        /// File.
        path: String,
        /// 1-based line (0: the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
}
