//! Replayed market data: loading the JSONL sample, the per-symbol synthetic order book
//! (L1 from the data plus deterministic deeper levels), depth diffs with update ids,
//! trades and klines, rendered as Binance stream payloads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::MockError;
use crate::dec::Dec;

/// Trading rules of one symbol, served by `/api/v3/exchangeInfo` and enforced on orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolRules {
    /// e.g. `BTCUSDT`.
    pub symbol: String,
    /// e.g. `BTC`.
    pub base: String,
    /// e.g. `USDT`.
    pub quote: String,
    /// PRICE_FILTER tickSize.
    pub tick_size: Dec,
    /// PRICE_FILTER minPrice.
    pub min_price: Dec,
    /// PRICE_FILTER maxPrice.
    pub max_price: Dec,
    /// LOT_SIZE stepSize.
    pub step_size: Dec,
    /// LOT_SIZE minQty.
    pub min_qty: Dec,
    /// LOT_SIZE maxQty.
    pub max_qty: Dec,
    /// NOTIONAL minNotional.
    pub min_notional: Dec,
    /// NOTIONAL maxNotional.
    pub max_notional: Dec,
}

fn d(s: &str) -> Dec {
    s.parse().unwrap_or_default()
}

impl SymbolRules {
    /// Binance's rules for BTCUSDT, ETHUSDT and SOLUSDT (as published in 2025); for any
    /// other `<BASE>USDT`-style symbol, generic rules (tick 0.01, step 0.001).
    pub fn for_symbol(symbol: &str) -> Self {
        let symbol = symbol.to_ascii_uppercase();
        let (base, quote) = ["USDT", "USDC", "FDUSD", "BTC", "ETH", "BNB"]
            .iter()
            .find_map(|q| {
                symbol
                    .strip_suffix(q)
                    .filter(|b| !b.is_empty())
                    .map(|b| (b.to_owned(), (*q).to_owned()))
            })
            .unwrap_or_else(|| (symbol.clone(), "USDT".to_owned()));
        let (tick, min_price, max_price, step, min_qty, max_qty) = match symbol.as_str() {
            "BTCUSDT" => ("0.01", "0.01", "1000000", "0.00001", "0.00001", "9000"),
            "ETHUSDT" => ("0.01", "0.01", "1000000", "0.0001", "0.0001", "9000"),
            "SOLUSDT" => ("0.01", "0.01", "10000", "0.001", "0.001", "9000000"),
            _ => ("0.01", "0.01", "1000000", "0.001", "0.001", "9000000"),
        };
        SymbolRules {
            symbol,
            base,
            quote,
            tick_size: d(tick),
            min_price: d(min_price),
            max_price: d(max_price),
            step_size: d(step),
            min_qty: d(min_qty),
            max_qty: d(max_qty),
            min_notional: d("5"),
            max_notional: d("9000000"),
        }
    }

    /// The `symbols[]` entry of `/api/v3/exchangeInfo`.
    pub fn exchange_info(&self) -> Value {
        json!({
            "symbol": self.symbol,
            "status": "TRADING",
            "baseAsset": self.base,
            "baseAssetPrecision": 8,
            "quoteAsset": self.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
            "icebergAllowed": false,
            "ocoAllowed": false,
            "quoteOrderQtyMarketAllowed": true,
            "isSpotTradingAllowed": true,
            "isMarginTradingAllowed": false,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": self.min_price.to_string(),
                    "maxPrice": self.max_price.to_string(),
                    "tickSize": self.tick_size.to_string(),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": self.min_qty.to_string(),
                    "maxQty": self.max_qty.to_string(),
                    "stepSize": self.step_size.to_string(),
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": self.min_notional.to_string(),
                    "applyMinToMarket": true,
                    "maxNotional": self.max_notional.to_string(),
                    "applyMaxToMarket": false,
                    "avgPriceMins": 5,
                },
            ],
            "permissions": ["SPOT"],
        })
    }
}

/// One replayed record.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// A public trade; `buyer_maker` when the aggressor sold.
    Trade {
        /// Price.
        price: Dec,
        /// Quantity.
        qty: Dec,
        /// Is the buyer the maker (`side == "sell"` in the data).
        buyer_maker: bool,
    },
    /// A best bid/offer update.
    Quote {
        /// Best bid.
        bid: Dec,
        /// Best bid size.
        bid_size: Dec,
        /// Best ask.
        ask: Dec,
        /// Best ask size.
        ask_size: Dec,
    },
}

/// A replayed record of one symbol at a recorded time.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Recorded time, nanoseconds since the epoch.
    pub ts_ns: i64,
    /// Index into the configured markets.
    pub market: usize,
    /// Trade or quote.
    pub kind: EventKind,
}

impl Event {
    /// Recorded time in milliseconds.
    pub fn ts_ms(&self) -> i64 {
        self.ts_ns / 1_000_000
    }
}

/// Loads one `{"type":"trade"|"quote",...}` JSONL file.
pub fn load(path: &Path, market: usize) -> Result<Vec<Event>, MockError> {
    let text = std::fs::read_to_string(path).map_err(|source| MockError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let bad = |line: usize, reason: String| MockError::Data {
        path: path.display().to_string(),
        line,
        reason,
    };
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(raw).map_err(|e| bad(line, e.to_string()))?;
        let s = |k: &str| -> Result<Dec, MockError> {
            v.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| bad(line, format!("missing string field {k}")))?
                .parse()
                .map_err(|e: crate::dec::DecError| bad(line, e.to_string()))
        };
        let ts_ns = v
            .get("ts")
            .and_then(Value::as_i64)
            .ok_or_else(|| bad(line, "missing integer field ts".into()))?;
        let kind = match v.get("type").and_then(Value::as_str) {
            Some("trade") => EventKind::Trade {
                price: s("price")?,
                qty: s("size")?,
                buyer_maker: match v.get("side").and_then(Value::as_str) {
                    Some("sell") => true,
                    Some("buy") => false,
                    other => return Err(bad(line, format!("bad side {other:?}"))),
                },
            },
            Some("quote") => EventKind::Quote {
                bid: s("bid")?,
                bid_size: s("bid_size")?,
                ask: s("ask")?,
                ask_size: s("ask_size")?,
            },
            other => return Err(bad(line, format!("unknown type {other:?}"))),
        };
        out.push(Event {
            ts_ns,
            market,
            kind,
        });
    }
    Ok(out)
}

/// The symbol a data file is about, from names like `binance_spot_btcusdt_l1_trades.jsonl`.
pub fn symbol_from_path(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_prefix("binance_spot_")?;
    let sym = rest.split('_').next()?;
    (!sym.is_empty()).then(|| sym.to_ascii_uppercase())
}

/// A market-data source: a symbol and its JSONL file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketData {
    /// Upper-case symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// JSONL file in the `examples/data/*_l1_trades.jsonl` format.
    pub path: PathBuf,
}

impl MarketData {
    /// A source whose symbol is taken from the file name (`binance_spot_<symbol>_...`).
    pub fn from_path(path: impl Into<PathBuf>) -> Result<Self, MockError> {
        let path = path.into();
        let symbol = symbol_from_path(&path).ok_or_else(|| MockError::Data {
            path: path.display().to_string(),
            line: 0,
            reason: "cannot infer the symbol from the file name (binance_spot_<symbol>_...)".into(),
        })?;
        Ok(Self { symbol, path })
    }
}

/// One kline being built.
#[derive(Clone, Debug)]
struct Kline {
    start: i64,
    first_id: u64,
    last_id: u64,
    open: Dec,
    high: Dec,
    low: Dec,
    close: Dec,
    volume: Dec,
    quote_volume: Dec,
    taker_buy_volume: Dec,
    taker_buy_quote: Dec,
    trades: u64,
}

/// Supported kline intervals.
pub const KLINE_INTERVALS: [(&str, i64); 2] = [("1s", 1_000), ("1m", 60_000)];

/// A message for market-stream subscribers: `key` is the normalised stream name
/// (`btcusdt@trade`, `btcusdt@bookticker`, `btcusdt@depth`, `btcusdt@kline_1m`).
#[derive(Clone, Debug)]
pub struct MarketMsg {
    /// Normalised stream name.
    pub key: String,
    /// The raw payload (JSON text).
    pub json: String,
}

/// Normalises a stream name as subscribed (`BTCUSDT@depth@100ms`) to a [`MarketMsg::key`].
pub fn stream_key(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    for suffix in ["@100ms", "@1000ms"] {
        if let Some(base) = lower.strip_suffix(suffix) {
            return base.to_owned();
        }
    }
    lower
}

/// Live state of one symbol's market.
#[derive(Debug)]
pub struct Market {
    /// Trading rules.
    pub rules: SymbolRules,
    lower: String,
    /// Price → quantity, bids.
    pub bids: BTreeMap<Dec, Dec>,
    /// Price → quantity, asks.
    pub asks: BTreeMap<Dec, Dec>,
    /// Last order-book update id.
    pub last_update_id: u64,
    /// Next public trade id.
    pub next_trade_id: u64,
    /// Last traded price (replayed or own).
    pub last_price: Option<Dec>,
    klines: Vec<Option<Kline>>,
    /// Closed klines per interval, oldest first (`GET /api/v3/klines`).
    closed: Vec<Vec<Kline>>,
    levels: usize,
}

impl Market {
    /// A market whose book starts from `first_quote` (if any) without emitting anything.
    pub fn new(symbol: &str, levels: usize, first_quote: Option<&EventKind>, id_base: u64) -> Self {
        let rules = SymbolRules::for_symbol(symbol);
        let mut m = Market {
            lower: rules.symbol.to_ascii_lowercase(),
            rules,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            last_update_id: id_base,
            next_trade_id: id_base * 10,
            last_price: None,
            klines: vec![None; KLINE_INTERVALS.len()],
            closed: vec![Vec::new(); KLINE_INTERVALS.len()],
            levels: levels.max(1),
        };
        if let Some(EventKind::Quote {
            bid,
            bid_size,
            ask,
            ask_size,
        }) = first_quote
        {
            let (b, a) = m.synthetic_book(*bid, *bid_size, *ask, *ask_size);
            m.bids = b;
            m.asks = a;
        }
        m
    }

    /// Best bid `(price, qty)`.
    pub fn best_bid(&self) -> Option<(Dec, Dec)> {
        self.bids.iter().next_back().map(|(p, q)| (*p, *q))
    }

    /// Best ask `(price, qty)`.
    pub fn best_ask(&self) -> Option<(Dec, Dec)> {
        self.asks.iter().next().map(|(p, q)| (*p, *q))
    }

    /// Deterministic size of a synthetic level: a function of the price only, so a level
    /// keeps its size while the top of the book moves around it.
    fn synthetic_qty(&self, price: Dec) -> Dec {
        let tick = self.rules.tick_size.raw().max(1);
        let t = (price.raw() / tick) as u64;
        let h = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        Dec::from_raw(self.rules.step_size.raw() * (100 + (h % 5000) as i128))
    }

    fn synthetic_book(
        &self,
        bid: Dec,
        bid_size: Dec,
        ask: Dec,
        ask_size: Dec,
    ) -> (BTreeMap<Dec, Dec>, BTreeMap<Dec, Dec>) {
        let tick = self.rules.tick_size;
        let mut bids = BTreeMap::new();
        let mut asks = BTreeMap::new();
        bids.insert(bid, bid_size);
        asks.insert(ask, ask_size);
        let mut p = bid;
        for _ in 1..self.levels {
            p -= tick;
            if p.raw() <= 0 {
                break;
            }
            bids.insert(p, self.synthetic_qty(p));
        }
        let mut p = ask;
        for _ in 1..self.levels {
            p += tick;
            asks.insert(p, self.synthetic_qty(p));
        }
        (bids, asks)
    }

    /// Applies a replayed event; returns the stream messages it produces. `send_depth`
    /// false consumes the update ids but withholds the diff (a sequence gap).
    pub fn apply(&mut self, ev: &Event, send_depth: &mut dyn FnMut() -> bool) -> Vec<MarketMsg> {
        let ts = ev.ts_ms();
        let mut out = Vec::new();
        self.close_klines(ts, &mut out);
        match &ev.kind {
            EventKind::Quote {
                bid,
                bid_size,
                ask,
                ask_size,
            } => {
                let (nb, na) = self.synthetic_book(*bid, *bid_size, *ask, *ask_size);
                let db = diff(&self.bids, &nb);
                let da = diff(&self.asks, &na);
                self.bids = nb;
                self.asks = na;
                let changes = (db.len() + da.len()) as u64;
                if changes > 0 {
                    let first = self.last_update_id + 1;
                    self.last_update_id += changes;
                    if send_depth() {
                        let lv = |v: &[(Dec, Dec)]| -> Vec<[String; 2]> {
                            v.iter()
                                .map(|(p, q)| [p.to_string(), q.to_string()])
                                .collect()
                        };
                        out.push(MarketMsg {
                            key: format!("{}@depth", self.lower),
                            json: json!({
                                "e": "depthUpdate",
                                "E": ts,
                                "s": self.rules.symbol,
                                "U": first,
                                "u": self.last_update_id,
                                "b": lv(&db),
                                "a": lv(&da),
                            })
                            .to_string(),
                        });
                    }
                }
                out.push(MarketMsg {
                    key: format!("{}@bookticker", self.lower),
                    json: json!({
                        "u": self.last_update_id,
                        "s": self.rules.symbol,
                        "b": bid.to_string(),
                        "B": bid_size.to_string(),
                        "a": ask.to_string(),
                        "A": ask_size.to_string(),
                    })
                    .to_string(),
                });
            }
            EventKind::Trade {
                price,
                qty,
                buyer_maker,
            } => {
                let id = self.next_trade_id;
                self.next_trade_id += 1;
                self.last_price = Some(*price);
                out.push(MarketMsg {
                    key: format!("{}@trade", self.lower),
                    json: json!({
                        "e": "trade",
                        "E": ts,
                        "s": self.rules.symbol,
                        "t": id,
                        "p": price.to_string(),
                        "q": qty.to_string(),
                        "T": ts,
                        "m": buyer_maker,
                        "M": true,
                    })
                    .to_string(),
                });
                self.kline_trade(ts, id, *price, *qty, !buyer_maker, &mut out);
            }
        }
        out
    }

    fn kline_json(&self, idx: usize, k: &Kline, event_ms: i64, closed: bool) -> MarketMsg {
        let (name, len) = KLINE_INTERVALS[idx];
        MarketMsg {
            key: format!("{}@kline_{name}", self.lower),
            json: json!({
                "e": "kline",
                "E": event_ms,
                "s": self.rules.symbol,
                "k": {
                    "t": k.start,
                    "T": k.start + len - 1,
                    "s": self.rules.symbol,
                    "i": name,
                    "f": k.first_id,
                    "L": k.last_id,
                    "o": k.open.to_string(),
                    "c": k.close.to_string(),
                    "h": k.high.to_string(),
                    "l": k.low.to_string(),
                    "v": k.volume.to_string(),
                    "n": k.trades,
                    "x": closed,
                    "q": k.quote_volume.to_string(),
                    "V": k.taker_buy_volume.to_string(),
                    "Q": k.taker_buy_quote.to_string(),
                    "B": "0",
                }
            })
            .to_string(),
        }
    }

    /// Emits `x: true` for every kline whose interval ended at or before `ts`.
    fn close_klines(&mut self, ts: i64, out: &mut Vec<MarketMsg>) {
        for (idx, (_, len)) in KLINE_INTERVALS.iter().copied().enumerate() {
            let ended = self.klines[idx]
                .as_ref()
                .is_some_and(|k| ts >= k.start + len);
            if ended && let Some(k) = self.klines[idx].take() {
                out.push(self.kline_json(idx, &k, k.start + len - 1, true));
                self.closed[idx].push(k);
            }
        }
    }

    fn kline_trade(
        &mut self,
        ts: i64,
        id: u64,
        price: Dec,
        qty: Dec,
        taker_buy: bool,
        out: &mut Vec<MarketMsg>,
    ) {
        for (idx, (_, len)) in KLINE_INTERVALS.iter().copied().enumerate() {
            let k = self.klines[idx].get_or_insert_with(|| Kline {
                start: ts - ts.rem_euclid(len),
                first_id: id,
                last_id: id,
                open: price,
                high: price,
                low: price,
                close: price,
                volume: Dec::ZERO,
                quote_volume: Dec::ZERO,
                taker_buy_volume: Dec::ZERO,
                taker_buy_quote: Dec::ZERO,
                trades: 0,
            });
            k.last_id = id;
            k.close = price;
            k.high = k.high.max(price);
            k.low = k.low.min(price);
            k.volume += qty;
            k.quote_volume += price.times(qty);
            if taker_buy {
                k.taker_buy_volume += qty;
                k.taker_buy_quote += price.times(qty);
            }
            k.trades += 1;
            let k = k.clone();
            out.push(self.kline_json(idx, &k, ts, false));
        }
    }

    /// The `/api/v3/klines` body: closed klines of `interval` opening at or after
    /// `start_ms` (and at or before `end_ms`), oldest first, at most `limit`; `None` for
    /// an interval the mock does not build.
    pub fn klines_rest(
        &self,
        interval: &str,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        limit: usize,
    ) -> Option<Value> {
        let idx = KLINE_INTERVALS.iter().position(|(n, _)| *n == interval)?;
        let len = KLINE_INTERVALS[idx].1;
        let rows: Vec<Value> = self.closed[idx]
            .iter()
            .filter(|k| start_ms.is_none_or(|s| k.start >= s))
            .filter(|k| end_ms.is_none_or(|e| k.start <= e))
            .take(limit)
            .map(|k| {
                json!([
                    k.start,
                    k.open.to_string(),
                    k.high.to_string(),
                    k.low.to_string(),
                    k.close.to_string(),
                    k.volume.to_string(),
                    k.start + len - 1,
                    k.quote_volume.to_string(),
                    k.trades,
                    k.taker_buy_volume.to_string(),
                    k.taker_buy_quote.to_string(),
                    "0"
                ])
            })
            .collect();
        Some(Value::from(rows))
    }

    /// The `/api/v3/depth` body for the top `limit` levels.
    pub fn depth_snapshot(&self, limit: usize) -> Value {
        let bids: Vec<[String; 2]> = self
            .bids
            .iter()
            .rev()
            .take(limit)
            .map(|(p, q)| [p.to_string(), q.to_string()])
            .collect();
        let asks: Vec<[String; 2]> = self
            .asks
            .iter()
            .take(limit)
            .map(|(p, q)| [p.to_string(), q.to_string()])
            .collect();
        json!({"lastUpdateId": self.last_update_id, "bids": bids, "asks": asks})
    }
}

/// Levels of `new` that differ from `old`, with removed levels at quantity 0.
fn diff(old: &BTreeMap<Dec, Dec>, new: &BTreeMap<Dec, Dec>) -> Vec<(Dec, Dec)> {
    let mut out: Vec<(Dec, Dec)> = new
        .iter()
        .filter(|(p, q)| old.get(p) != Some(q))
        .map(|(p, q)| (*p, *q))
        .collect();
    out.extend(
        old.keys()
            .filter(|p| !new.contains_key(p))
            .map(|p| (*p, Dec::ZERO)),
    );
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(bid: &str, ask: &str) -> EventKind {
        EventKind::Quote {
            bid: d(bid),
            bid_size: d("1"),
            ask: d(ask),
            ask_size: d("2"),
        }
    }

    #[test]
    fn diffs_keep_a_consistent_book() {
        let q0 = quote("100.00", "100.01");
        let mut m = Market::new("BTCUSDT", 5, Some(&q0), 1000);
        assert_eq!(m.bids.len(), 5);
        let mut local_bids = m.bids.clone();
        let ev = Event {
            ts_ns: 1_000_000_000,
            market: 0,
            kind: quote("100.02", "100.03"),
        };
        let msgs = m.apply(&ev, &mut || true);
        let depth: Value = serde_json::from_str(&msgs[0].json).unwrap();
        assert_eq!(depth["U"], 1001);
        for lv in depth["b"].as_array().unwrap() {
            let p: Dec = lv[0].as_str().unwrap().parse().unwrap();
            let q: Dec = lv[1].as_str().unwrap().parse().unwrap();
            if q.is_zero() {
                local_bids.remove(&p);
            } else {
                local_bids.insert(p, q);
            }
        }
        assert_eq!(local_bids, m.bids);
        assert_eq!(depth["u"], m.last_update_id);
    }

    #[test]
    fn symbol_from_file_name() {
        assert_eq!(
            symbol_from_path(Path::new("x/binance_spot_ethusdt_l1_trades.jsonl")).as_deref(),
            Some("ETHUSDT")
        );
        assert_eq!(SymbolRules::for_symbol("solusdt").base, "SOL");
    }
}
