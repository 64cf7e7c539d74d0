//! `TradingBot`: one trading account running one strategy.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::commission_plan::TradingFees;
use super::common::{
    Decimal, LocalObjectReference, PositiveDecimal, RiskLimits, SignedDecimal, Sizing,
};

/// How the bot trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Mode {
    /// Replay historical data through the simulated exchange.
    Backtest,
    /// Live market data, simulated fills; no money moves.
    Paper,
    /// Real orders on the venue with the bot's credentials.
    Live,
}

/// Exchanges the worker can connect to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Exchange {
    /// Binance.
    Binance,
}

/// Market type on the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Market {
    /// Spot market.
    Spot,
}

/// Where the bot trades.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Venue {
    /// The exchange.
    pub exchange: Exchange,
    /// The market on that exchange.
    #[serde(default = "default_market")]
    pub market: Market,
    /// Use the exchange's testnet endpoints.
    #[serde(default)]
    pub testnet: bool,
}

fn default_market() -> Market {
    Market::Spot
}

/// Whose money this bot trades: the ledger account its commissions are charged to. Who
/// referred that account lives in the ledger (`tradewind-platform accounts
/// set-referrer`), not here, so editing a bot cannot redirect a referral payout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountRef {
    /// Account identifier.
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    )]
    pub name: String,
}

/// Exchange credentials taken from a Secret in the bot's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretCredentials {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key in the Secret holding the API key.
    #[serde(default = "default_api_key_key")]
    #[schemars(length(min = 1, max = 253))]
    pub api_key_key: String,
    /// Key in the Secret holding the API secret.
    #[serde(default = "default_api_secret_key")]
    #[schemars(length(min = 1, max = 253))]
    pub api_secret_key: String,
}

fn default_api_key_key() -> String {
    "apiKey".into()
}

fn default_api_secret_key() -> String {
    "apiSecret".into()
}

/// Exchange credentials. The values never appear in this resource, only where to find them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// The Secret that holds the API key and secret.
    pub secret_ref: SecretCredentials,
}

/// Starting capital.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Capital {
    /// Amount in `currency`.
    pub amount: PositiveDecimal,
    /// Quote currency of the amount, e.g. USDT: the symbol's quote currency.
    #[schemars(length(min = 2, max = 12), regex(pattern = r"^[A-Z0-9]{2,12}$"))]
    pub currency: String,
}

/// What happens to a bot's Azure resources when the TradingBot is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete them with the bot.
    #[default]
    Delete,
    /// Keep them (for audit); the finalizer only forgets them.
    Retain,
}

/// Which Azure resources the bot gets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudSpec {
    /// A Cosmos DB container for orders, fills and snapshots.
    #[serde(default)]
    pub cosmos: bool,
    /// A Key Vault secret holding the exchange credentials.
    #[serde(default)]
    pub key_vault: bool,
    /// A Service Bus topic for the bot's events.
    #[serde(default)]
    pub service_bus: bool,
    /// Delete or keep those resources when the bot is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// When a bar-driven backtest fills market orders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum FillModel {
    /// A decision made at a bar's close fills at the next bar's open (no look-ahead).
    #[default]
    NextBarOpen,
    /// A decision made at a bar's close fills at that close (optimistic).
    SameBarClose,
}

/// How backtests of this bot simulate execution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.slippageBps) || double(self.slippageBps) <= 10000.0").message("slippageBps must be at most 10000 (100 %)"))]
pub struct BacktestSpec {
    /// Bar fill model for market orders.
    #[serde(default)]
    pub fill_model: FillModel,
    /// Slippage against the trader on market fills, in basis points (e.g. "2.5").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slippage_bps: Option<Decimal>,
    /// The venue's fee schedule the simulation charges (paid to the exchange, in the
    /// fills). When unset, the venue's default: Binance spot's base tier (VIP 0), 10 bp
    /// maker and taker. The platform's commission is the CommissionPlan's, charged in the
    /// ledger, never here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue_fees: Option<TradingFees>,
    /// The market data a Backtest bot runs over in the cluster: with it the operator runs
    /// the backtest as a Job; without it the bot runs nowhere (`tradewind-bot backtest`
    /// on a laptop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<BacktestData>,
    /// Where the in-cluster backtest writes report.json and report.html; unset: only
    /// the summary in the status is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports: Option<BacktestReports>,
    /// Run every combination of these Strategy parameters (with `data`) as one Indexed
    /// Job instead of the one backtest, and rank the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<BacktestSweep>,
}

/// Most combinations one sweep may run (the CEL rule and the operator both hold it).
pub const MAX_SWEEP_COMBINATIONS: usize = 10_000;

/// A parameter sweep: the Cartesian product of each parameter's values, run over the
/// bot's `spec.backtest.data` with the bot's Strategy otherwise unchanged. On the bot,
/// not the Strategy: a Strategy is shared with Paper and Live bots, and the data, the
/// reports and the ranking (in the status) are the bot's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(size(self.parameters) > 0 ? (has(self.parameters[0].values) ? size(self.parameters[0].values) : int((double(self.parameters[0].to) - double(self.parameters[0].from)) / double(self.parameters[0].step)) + 1) : 1) * (size(self.parameters) > 1 ? (has(self.parameters[1].values) ? size(self.parameters[1].values) : int((double(self.parameters[1].to) - double(self.parameters[1].from)) / double(self.parameters[1].step)) + 1) : 1) * (size(self.parameters) > 2 ? (has(self.parameters[2].values) ? size(self.parameters[2].values) : int((double(self.parameters[2].to) - double(self.parameters[2].from)) / double(self.parameters[2].step)) + 1) : 1) * (size(self.parameters) > 3 ? (has(self.parameters[3].values) ? size(self.parameters[3].values) : int((double(self.parameters[3].to) - double(self.parameters[3].from)) / double(self.parameters[3].step)) + 1) : 1) <= 10000").message("a sweep runs at most 10000 combinations (the product of the parameters' value counts)"))]
#[x_kube(validation = Rule::new("self.parameters.all(p, self.parameters.filter(q, q.name == p.name).size() == 1)").message("each parameter may be swept once"))]
pub struct BacktestSweep {
    /// The parameters and their values (1 to 4).
    #[schemars(length(min = 1, max = 4))]
    pub parameters: Vec<SweepParameter>,
    /// What the ranking orders by (best first; for maxDrawdown the smallest).
    #[serde(default)]
    pub metric: SweepMetric,
    /// Pods running at once.
    #[serde(default = "default_parallelism")]
    #[schemars(range(min = 1, max = 64))]
    pub parallelism: i32,
    /// Combinations listed in `status.backtest.sweep.ranking`.
    #[serde(default = "default_top")]
    #[schemars(range(min = 1, max = 50))]
    pub top: u32,
}

fn default_parallelism() -> i32 {
    2
}

fn default_top() -> u32 {
    10
}

/// A Strategy parameter a sweep may vary (the operator refuses one the bot's Strategy
/// type does not have).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum StrategyParameter {
    /// SmaCross, EmaCross: `fastPeriod`.
    FastPeriod,
    /// SmaCross, EmaCross: `slowPeriod`.
    SlowPeriod,
    /// RsiReversion, BollingerReversion: `period`.
    Period,
    /// RsiReversion: `oversold`.
    Oversold,
    /// RsiReversion: `overbought`.
    Overbought,
    /// BollingerReversion: `stdDevs`.
    StdDevs,
    /// Grid: `levels`.
    Levels,
    /// Dca: `everyBars`.
    EveryBars,
    /// MarketMaker: `spreadBps`.
    SpreadBps,
    /// MarketMaker: `refreshBars`.
    RefreshBars,
}

impl StrategyParameter {
    /// The name as written in the Strategy (and the sweep).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FastPeriod => "fastPeriod",
            Self::SlowPeriod => "slowPeriod",
            Self::Period => "period",
            Self::Oversold => "oversold",
            Self::Overbought => "overbought",
            Self::StdDevs => "stdDevs",
            Self::Levels => "levels",
            Self::EveryBars => "everyBars",
            Self::SpreadBps => "spreadBps",
            Self::RefreshBars => "refreshBars",
        }
    }
}

/// One swept parameter: a list of values or a range `from..=to` by `step`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.values) ? !has(self.from) && !has(self.to) && !has(self.step) : has(self.from) && has(self.to) && has(self.step)").message("give either values or from, to and step"))]
#[x_kube(validation = Rule::new("!has(self.step) || double(self.step) > 0.0").message("step must be greater than zero"))]
#[x_kube(validation = Rule::new("!has(self.from) || !has(self.to) || double(self.to) >= double(self.from)").message("to must not be below from"))]
#[x_kube(validation = Rule::new("!has(self.step) || double(self.step) <= 0.0 || double(self.to) < double(self.from) || (double(self.to) - double(self.from)) / double(self.step) < 10000.0").message("a range gives at most 10000 values"))]
pub struct SweepParameter {
    /// The Strategy parameter.
    pub name: StrategyParameter,
    /// First value of a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Decimal>,
    /// Last value of a range (included when a whole number of steps from `from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Decimal>,
    /// Step of a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Decimal>,
    /// The values, instead of a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub values: Option<Vec<Decimal>>,
}

/// The metric a sweep ranks by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SweepMetric {
    /// Annualised Sharpe ratio.
    #[default]
    Sharpe,
    /// Total return.
    TotalReturn,
    /// Compound annual growth rate.
    Cagr,
    /// Annualised Sortino ratio.
    Sortino,
    /// Largest drawdown (smaller ranks higher).
    MaxDrawdown,
    /// Gross profit / gross loss.
    ProfitFactor,
    /// Winning trades / trades.
    WinRate,
}

/// A path on a PersistentVolumeClaim of the bot's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.path.startsWith('/') && !('/' + self.path + '/').contains('/../')").message("path is relative to the claim's root and must not contain '..'"))]
pub struct ClaimPath {
    /// The PersistentVolumeClaim.
    #[schemars(length(min = 1, max = 253))]
    pub claim_name: String,
    /// Path inside the claim.
    #[schemars(length(min = 1, max = 1024))]
    pub path: String,
}

/// The market data of an in-cluster backtest: exactly one source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.archive), has(self.url), has(self.volume)].filter(x, x).size() == 1").message("set exactly one of archive, url and volume"))]
pub struct BacktestData {
    /// A range of days archived in Blob Storage:
    /// `blob://{account}/{container}/{venue}/{symbol}?from=YYYY-MM-DD&to=YYYY-MM-DD`
    /// (`&timeframe=1m` by default), read with the bot's Azure identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 2048),
        regex(
            pattern = r"^blob://[^/?]+/[^/?]+/[^/?]+/[^/?]+\?(.*&)?from=[0-9]{4}-[0-9]{2}-[0-9]{2}(&.*)?$"
        )
    )]
    pub archive: Option<String>,
    /// A market-data file (any format `tradewind-bot backtest --data` reads) to download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048), regex(pattern = r"^https?://"))]
    pub url: Option<String>,
    /// A market-data file on a claim; or, with `?from=YYYY-MM-DD&to=YYYY-MM-DD` after the
    /// path, a range of days archived under `{path}` (`{dir}/{venue}/{symbol}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<ClaimPath>,
}

/// Where an in-cluster backtest's reports go: exactly one place. Each run writes into
/// its own directory, `{prefix}/{bot}/{run}/`, `{run}` being the Job's name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.blob) != has(self.volume)").message("set exactly one of blob and volume"))]
pub struct BacktestReports {
    /// A Blob Storage prefix, `blob://{account}/{container}[/{prefix}]`, written with the
    /// bot's Azure identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 2048),
        regex(pattern = r"^blob://[^/?]+/[^/?]+(/[^?]*)?$")
    )]
    pub blob: Option<String>,
    /// A directory on a claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<ClaimPath>,
}

/// The result of a backtest: what `tradewind-bot backtest --summary-file` writes (the
/// pod's termination message, at most 4 KiB) and what the operator copies into
/// `status.backtest`. Ratios are decimal strings (fractions, e.g. `"0.125"` for 12.5 %);
/// money is the capital currency's exact decimal.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BacktestSummary {
    /// The Job that ran it (set by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// First bar (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Last bar (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Bars run.
    #[serde(default)]
    pub bars: u64,
    /// Closed round trips.
    #[serde(default)]
    pub trades: u64,
    /// Equity at the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_equity: Option<String>,
    /// Equity at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_equity: Option<String>,
    /// Total return, a fraction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_return: Option<String>,
    /// Compound annual growth rate, a fraction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cagr: Option<String>,
    /// Annualised Sharpe ratio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharpe: Option<String>,
    /// Annualised Sortino ratio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sortino: Option<String>,
    /// Largest peak-to-trough decline, a positive fraction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_drawdown: Option<String>,
    /// Winning trades / trades.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub win_rate: Option<String>,
    /// Gross profit / gross loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profit_factor: Option<String>,
    /// Why the bot halted, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halt: Option<String>,
    /// Where report.json and report.html are (a `blob://` or claim URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// A sweep's outcome (the other fields then stay empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepOutcome>,
}

/// A sweep's ranking and what did not run: the results are complete or say which
/// combinations are missing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SweepOutcome {
    /// The metric ranked by.
    pub metric: SweepMetric,
    /// Combinations in the sweep.
    pub combinations: u32,
    /// Combinations that ran to their end.
    pub completed: u32,
    /// The best combinations, best first.
    #[serde(default)]
    pub ranking: Vec<SweepResult>,
    /// Combinations that failed, each with its error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<SweepFailure>,
    /// Combinations with no result at all (their pod failed for good before saying).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<BTreeMap<String, String>>,
}

/// One combination's result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SweepResult {
    /// Parameter name → value.
    pub parameters: BTreeMap<String, String>,
    /// The ranked metric's value (absent when undefined, e.g. no trades).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Closed round trips.
    #[serde(default)]
    pub trades: u64,
    /// Total return, a fraction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_return: Option<String>,
    /// Largest drawdown, a positive fraction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_drawdown: Option<String>,
}

/// A combination that failed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SweepFailure {
    /// Parameter name → value.
    pub parameters: BTreeMap<String, String>,
    /// Why.
    pub error: String,
}

/// What a new Live session does when the account already holds the bot's base asset
/// beyond dust (more than the symbol's LOT_SIZE and MIN_NOTIONAL filters let it trade).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AdoptHoldings {
    /// Do not trade; the bot's Trading condition says what was found.
    #[default]
    Refuse,
    /// Start with the holding as the position, valued at the venue's current price and
    /// paid out of `spec.capital` (refused if it is worth more than that).
    AtMark,
}

/// Settings of Live trading only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveSpec {
    /// What a new session does with the base asset the account already holds. A session
    /// resumed from its journal keeps its own position.
    #[serde(default)]
    pub adopt_holdings: AdoptHoldings,
}

/// Desired state of a trading bot.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "tradewind.dev",
    version = "v1alpha1",
    kind = "TradingBot",
    namespaced,
    status = "TradingBotStatus",
    shortname = "tb",
    category = "tradewind",
    doc = "A trading account running one Strategy; the operator turns it into a bot worker and its cloud resources.",
    printcolumn(name = "Mode", type_ = "string", json_path = ".spec.mode"),
    printcolumn(name = "Symbols", type_ = "string", json_path = ".spec.symbols"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Equity",
        type_ = "string",
        json_path = ".status.performance.equity"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.mode != 'Live' || has(self.credentials)").message("mode Live requires credentials: set credentials.secretRef to the Secret holding the exchange API key"),
    // What the worker and `tradewind-bot backtest` would refuse at start, refused here.
    validation = Rule::new("size(self.symbols) == 1").message("a bot trades exactly one symbol: run one bot per symbol"),
    // Backtests may run on other markets' data (GOOG in USD); workers trade on the venue.
    validation = Rule::new("self.mode == 'Backtest' || self.symbols.all(s, size(s) > size(self.capital.currency) && s.endsWith(self.capital.currency))").message("capital.currency must be the quote currency of the symbol of a Paper or Live bot (BTCUSDT is quoted in USDT)"),
    validation = Rule::new("self.mode == 'Backtest' || self.venue.exchange != 'Binance' || self.symbols.all(s, s.matches('^[A-Z0-9]+$'))").message("Binance symbols are written without a separator, e.g. BTCUSDT"),
    validation = Rule::new("!has(self.live) || self.mode == 'Live'").message("spec.live applies to mode Live only: remove it, or set mode: Live"),
)]
pub struct TradingBotSpec {
    /// The Strategy (same namespace) this bot runs.
    pub strategy_ref: LocalObjectReference,
    /// The CommissionPlan (same namespace) that prices this bot's fees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commission_plan_ref: Option<LocalObjectReference>,
    /// Whose money this is.
    pub account_ref: AccountRef,
    /// Where the bot trades.
    pub venue: Venue,
    /// Symbols traded, in the venue's spelling (e.g. BTCUSDT).
    #[schemars(
        length(min = 1, max = 32),
        inner(
            length(min = 2, max = 41),
            regex(pattern = r"^[A-Z0-9]{2,20}([-/][A-Z0-9]{2,20})?$")
        )
    )]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub symbols: Vec<String>,
    /// Backtest, Paper or Live.
    pub mode: Mode,
    /// Exchange credentials; required in Live mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    /// Starting capital.
    pub capital: Capital,
    /// Overrides of the strategy's risk limits, field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskLimits>,
    /// Override of the strategy's sizing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizing: Option<Sizing>,
    /// Stop the worker (scale to zero) without deleting anything.
    #[serde(default)]
    pub suspend: bool,
    /// Worker image; the operator's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,
    /// Worker container resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Azure resources for this bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<CloudSpec>,
    /// Execution simulation for backtests (and the fill model of paper trading on bars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtest: Option<BacktestSpec>,
    /// Live trading settings (mode Live only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveSpec>,
}

/// Coarse lifecycle of a bot, for people; automation should read conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Phase {
    /// Accepted, children not ready yet.
    Pending,
    /// Worker running.
    Running,
    /// Mode Backtest: no worker runs; the Ready condition says how to run the backtest.
    Backtest,
    /// Scaled to zero by `spec.suspend`.
    Suspended,
    /// The worker halted trading (risk kill switch); see the Halted condition.
    Halted,
    /// Something needs a human; see the Ready condition.
    Failed,
    /// Being deleted; cloud resources are being removed.
    Terminating,
}

/// What the operator created for this bot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotResources {
    /// ConfigMap with the resolved configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,
    /// The worker Deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// The worker's ServiceAccount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// Azure resource ID of the Cosmos DB container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosmos_container_id: Option<String>,
    /// Azure resource ID of the Key Vault secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault_secret_id: Option<String>,
    /// Azure resource ID of the Service Bus topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_bus_topic_id: Option<String>,
}

/// An open position, as the worker reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PositionStatus {
    /// Symbol.
    pub symbol: String,
    /// Signed base quantity (negative is short).
    pub quantity: SignedDecimal,
    /// Average entry price.
    pub average_price: Decimal,
}

/// Trading performance, reported by the worker under its own field manager.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Performance {
    /// Cash plus marked-to-market positions, in the capital currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equity: Option<SignedDecimal>,
    /// Realized profit and loss (may be negative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realized_pnl: Option<SignedDecimal>,
    /// Unrealized profit and loss (may be negative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unrealized_pnl: Option<SignedDecimal>,
    /// Fees paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fees: Option<Decimal>,
    /// Current drawdown from the equity peak, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawdown_percent: Option<Decimal>,
    /// Open positions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["symbol"]))]
    pub positions: Vec<PositionStatus>,
    /// When the worker last reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Time>,
}

/// Observed state of a trading bot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TradingBotStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Coarse lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Ready, CloudReady, Available, Trading and Halted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Names and IDs of what was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<BotResources>,
    /// Hash of the resolved configuration the worker runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
    /// Performance reported by the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance: Option<Performance>,
    /// The last in-cluster backtest's result (mode Backtest with `spec.backtest.data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtest: Option<BacktestSummary>,
}
