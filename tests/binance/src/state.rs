//! The mock's mutable state: markets, replay cursor, accounts, orders, faults, logs.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::dec::Dec;
use crate::exchange::{MyTrade, Order};
use crate::market::{Event, EventKind, Market, MarketMsg};
use crate::{Account, MockConfig, MockError, Speed};

/// A request the mock served: method, path and status only (never keys, params or
/// signatures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Response status (101 for WebSocket upgrades).
    pub status: u16,
}

/// One asset balance of an account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    /// Available.
    pub free: Dec,
    /// Reserved by open orders.
    pub locked: Dec,
}

/// A user-data-stream message for the connections of `api_key`; `close` ends them.
#[derive(Clone, Debug)]
pub struct UserMsg {
    /// Account.
    pub api_key: String,
    /// Payload (JSON text), empty with `close`.
    pub json: String,
    /// Close the account's user streams (listenKey deleted).
    pub close: bool,
}

/// Per-account state.
#[derive(Debug)]
pub struct AccountState {
    pub secret: String,
    pub balances: BTreeMap<String, Balance>,
    pub listen_key: Option<String>,
    pub update_time: i64,
    /// Commissions paid in this asset when it has a price (see `Account`).
    pub commission_asset: Option<String>,
}

/// Injected REST faults.
#[derive(Debug, Default)]
pub struct Faults {
    /// `(status, code, remaining)`.
    pub fail: VecDeque<(u16, i64, u32)>,
    /// `(remaining, retry_after_secs)`.
    pub throttle: Option<(u32, u64)>,
    pub reject_order: VecDeque<(i64, String)>,
    pub order_delay_ms: u64,
    pub hang_orders: u32,
    /// The first `n` orders booked are answered as unknown (`-2013` / `-2011`), as when
    /// the exchange's order history no longer has them; their trades stay in `myTrades`.
    pub forgotten: usize,
    /// Per market: diff events still to withhold.
    pub skip_depth: Vec<u64>,
}

/// Everything behind the mutex.
pub struct State {
    pub config: MockConfig,
    pub markets: Vec<Market>,
    pub events: Vec<Event>,
    pub cursor: usize,
    pub paused: bool,
    pub speed: Speed,
    pub accounts: HashMap<String, AccountState>,
    pub orders: Vec<Order>,
    pub my_trades: Vec<MyTrade>,
    pub next_order_id: u64,
    pub faults: Faults,
    pub log: Vec<RequestRecord>,
    pub time_offset_ms: i64,
    pub market_tx: broadcast::Sender<Arc<MarketMsg>>,
    pub user_tx: broadcast::Sender<Arc<UserMsg>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("cursor", &self.cursor)
            .field("orders", &self.orders.len())
            .finish_non_exhaustive()
    }
}

impl State {
    /// Loads the market data and builds the initial state.
    pub fn new(config: MockConfig) -> Result<Self, MockError> {
        let mut events = Vec::new();
        let mut markets = Vec::new();
        for (i, m) in config.markets.iter().enumerate() {
            let evs = crate::market::load(&m.path, i)?;
            let first_quote = evs
                .iter()
                .find(|e| matches!(e.kind, EventKind::Quote { .. }))
                .map(|e| &e.kind);
            markets.push(Market::new(
                &m.symbol,
                config.book_levels,
                first_quote,
                1_000 * (i as u64 + 1),
            ));
            events.extend(evs);
        }
        // Stable: records of one file keep their order at equal timestamps.
        events.sort_by_key(|e| e.ts_ns);
        let accounts = config
            .accounts
            .iter()
            .map(|a: &Account| {
                (
                    a.api_key.clone(),
                    AccountState {
                        secret: a.api_secret.clone(),
                        balances: a
                            .balances
                            .iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    Balance {
                                        free: *v,
                                        locked: Dec::ZERO,
                                    },
                                )
                            })
                            .collect(),
                        listen_key: None,
                        update_time: 0,
                        commission_asset: a.commission_asset.clone(),
                    },
                )
            })
            .collect();
        let (market_tx, _) = broadcast::channel(1 << 18);
        let (user_tx, _) = broadcast::channel(1 << 12);
        Ok(State {
            paused: config.start_paused,
            speed: config.speed,
            config,
            markets,
            events,
            cursor: 0,
            accounts,
            orders: Vec::new(),
            my_trades: Vec::new(),
            next_order_id: 1,
            faults: Faults::default(),
            log: Vec::new(),
            time_offset_ms: 0,
            market_tx,
            user_tx,
        })
    }

    /// `GET /api/v3/ticker/price`'s price of `symbol`: a configured ticker, else a
    /// replayed market's last trade (or its best bid before any).
    pub fn ticker(&self, symbol: &str) -> Option<Dec> {
        let symbol = symbol.to_ascii_uppercase();
        if let Some(p) = self.config.tickers.get(&symbol) {
            return Some(*p);
        }
        let m = &self.markets[self.market_index(&symbol)?];
        m.last_price.or_else(|| m.bids.keys().next_back().copied())
    }

    /// Server time: wall clock plus the injected offset, in ms.
    pub fn now_ms(&self) -> i64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        wall + self.time_offset_ms
    }

    /// Market index of `symbol` (case-insensitive).
    pub fn market_index(&self, symbol: &str) -> Option<usize> {
        self.markets
            .iter()
            .position(|m| m.rules.symbol.eq_ignore_ascii_case(symbol))
    }

    /// Applies the next replayed event; `false` when the data is exhausted.
    pub fn step(&mut self) -> bool {
        let Some(ev) = self.events.get(self.cursor).cloned() else {
            return false;
        };
        self.cursor += 1;
        if self.faults.skip_depth.len() < self.markets.len() {
            self.faults.skip_depth.resize(self.markets.len(), 0);
        }
        let skip = &mut self.faults.skip_depth[ev.market];
        let mut send_depth = || {
            if *skip > 0 {
                *skip -= 1;
                false
            } else {
                true
            }
        };
        let msgs = self.markets[ev.market].apply(&ev, &mut send_depth);
        for m in msgs {
            let _ = self.market_tx.send(Arc::new(m));
        }
        self.trigger_stops(&ev);
        self.match_resting(&ev);
        true
    }

    /// Sends a user-data event to `api_key`'s streams.
    pub fn push_user(&self, api_key: &str, json: String) {
        let _ = self.user_tx.send(Arc::new(UserMsg {
            api_key: api_key.to_owned(),
            json,
            close: false,
        }));
    }
}
