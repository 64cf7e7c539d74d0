//! The metric names the environment's alert rules read (`twctl env`'s `ALERTS`), and the
//! attribute each rule groups by. The programs export exactly these names (the
//! Prometheus family name: a counter without its `_total` sample suffix); their OTLP
//! tests check it on a real run.

/// Gauge, 1 once a bot's worker halted (risk limit or by hand); attribute [`BOT`].
pub const BOT_HALTED: &str = "tradewind_bot_halted";
/// Gauge, seconds between the venue's event time and its arrival; attribute [`FEED`].
pub const BOT_FEED_LAG: &str = "tradewind_bot_feed_lag_seconds";
/// Counter of failed reconciles; attributes [`CONTROLLER`] and `reason`.
pub const OPERATOR_RECONCILE_ERRORS: &str = "tradewind_operator_reconcile_errors";
/// Counter of failed settlement runs; attribute [`PLAN`].
pub const PLATFORM_SETTLEMENT_FAILURES: &str = "tradewind_platform_settlement_failures";

/// Attribute: the bot, `namespace/name`.
pub const BOT: &str = "bot";
/// Attribute: the market-data feed, e.g. `binance`.
pub const FEED: &str = "feed";
/// Attribute: the operator's controller (`tradingbot`, `strategy`, `commissionplan`).
pub const CONTROLLER: &str = "controller";
/// Attribute: the CommissionPlan, `namespace/name`.
pub const PLAN: &str = "plan";
