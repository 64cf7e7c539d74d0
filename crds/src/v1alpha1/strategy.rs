//! `Strategy`: what to trade and how. Bots reference a Strategy and inherit its risk and sizing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Decimal, Percent, PositiveDecimal, RiskLimits, SignedDecimal, Sizing};

/// The built-in strategies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum StrategyType {
    /// Simple moving-average crossover.
    SmaCross,
    /// Exponential moving-average crossover.
    EmaCross,
    /// Buy oversold, sell overbought on Wilder's RSI.
    RsiReversion,
    /// Buy below the lower Bollinger band, sell above the upper band.
    BollingerReversion,
    /// Resting buy and sell orders on a fixed price grid.
    Grid,
    /// Dollar-cost averaging: buy a fixed notional at a fixed interval.
    Dca,
    /// Quote both sides around the mid price with an inventory limit.
    MarketMaker,
    /// Named features fed to an ONNX model; its output decides.
    Model,
    /// Enter, exit or flatten on external signals (webhooks, e.g. TradingView alerts).
    Signal,
}

impl StrategyType {
    /// Every built-in strategy type, in declaration order.
    pub const ALL: [StrategyType; 9] = [
        StrategyType::SmaCross,
        StrategyType::EmaCross,
        StrategyType::RsiReversion,
        StrategyType::BollingerReversion,
        StrategyType::Grid,
        StrategyType::Dca,
        StrategyType::MarketMaker,
        StrategyType::Model,
        StrategyType::Signal,
    ];
}

/// Bar timeframe the strategy runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Timeframe {
    /// One second (for short-horizon bots; Binance publishes 1s klines).
    #[serde(rename = "1s")]
    S1,
    /// One minute.
    #[serde(rename = "1m")]
    M1,
    /// Five minutes.
    #[serde(rename = "5m")]
    M5,
    /// Fifteen minutes.
    #[serde(rename = "15m")]
    M15,
    /// One hour.
    #[serde(rename = "1h")]
    H1,
    /// Four hours.
    #[serde(rename = "4h")]
    H4,
    /// One day.
    #[serde(rename = "1d")]
    D1,
}

impl Timeframe {
    /// Length of one bar in seconds.
    pub fn seconds(self) -> u64 {
        match self {
            Timeframe::S1 => 1,
            Timeframe::M1 => 60,
            Timeframe::M5 => 300,
            Timeframe::M15 => 900,
            Timeframe::H1 => 3_600,
            Timeframe::H4 => 14_400,
            Timeframe::D1 => 86_400,
        }
    }
}

/// Moving-average crossover parameters (SmaCross and EmaCross).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.fastPeriod < self.slowPeriod").message("fastPeriod must be smaller than slowPeriod"))]
pub struct CrossParams {
    /// Bars in the fast average.
    #[schemars(range(min = 1, max = 10000))]
    pub fast_period: u32,
    /// Bars in the slow average.
    #[schemars(range(min = 2, max = 10000))]
    pub slow_period: u32,
}

/// RSI mean-reversion parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.oversold < self.overbought").message("oversold must be below overbought"))]
pub struct RsiReversionParams {
    /// Wilder RSI period in bars.
    #[schemars(range(min = 2, max = 1000))]
    pub period: u32,
    /// Buy when RSI crosses below this level (1-99).
    #[schemars(range(min = 1, max = 99))]
    pub oversold: u32,
    /// Sell when RSI crosses above this level (1-99).
    #[schemars(range(min = 1, max = 99))]
    pub overbought: u32,
}

/// Bollinger-band mean-reversion parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BollingerReversionParams {
    /// Bars in the middle band (a simple moving average).
    #[schemars(range(min = 2, max = 10000))]
    pub period: u32,
    /// Band width in population standard deviations, e.g. "2".
    pub std_devs: PositiveDecimal,
}

/// Grid parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("double(self.lowerPrice) < double(self.upperPrice)").message("lowerPrice must be below upperPrice"))]
pub struct GridParams {
    /// Lowest grid price.
    pub lower_price: PositiveDecimal,
    /// Highest grid price.
    pub upper_price: PositiveDecimal,
    /// Number of price levels, both ends included (at least 2).
    #[schemars(range(min = 2, max = 1000))]
    pub levels: u32,
    /// Base quantity of the order resting at each level.
    pub quantity_per_level: PositiveDecimal,
}

/// Dollar-cost-averaging parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DcaParams {
    /// Buy every this many bars.
    #[schemars(range(min = 1, max = 100000))]
    pub every_bars: u32,
    /// Quote notional bought each time.
    pub notional: PositiveDecimal,
    /// Sell the whole position when it is up this much over its average price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit_percent: Option<Percent>,
}

/// Market-maker parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("double(self.orderQuantity) <= double(self.maxInventory)").message("orderQuantity must not exceed maxInventory"),
    validation = Rule::new("double(self.spreadBps) < 10000.0").message("spreadBps must be below 10000 (100 %)"),
)]
pub struct MarketMakerParams {
    /// Total quoted spread around the mid price, in basis points.
    pub spread_bps: PositiveDecimal,
    /// Base quantity quoted on each side.
    pub order_quantity: PositiveDecimal,
    /// Stop quoting the side that would grow the absolute base inventory past this.
    pub max_inventory: PositiveDecimal,
    /// Re-quote at most every this many bars.
    #[serde(default = "default_refresh_bars")]
    #[schemars(range(min = 1, max = 10000))]
    pub refresh_bars: u32,
}

/// What a model feature computes (on the strategy's bars).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FeatureKind {
    /// Simple return over `period` bars: close / close `period` bars ago − 1.
    Returns,
    /// close / SMA(close, `period`) − 1.
    SmaRatio,
    /// close / EMA(close, `period`) − 1.
    EmaRatio,
    /// Wilder's RSI of closes (0 to 100).
    Rsi,
    /// Bollinger %B: (close − lower) / (upper − lower), bands `stdDevs` wide.
    BollingerPercentB,
    /// Wilder's ATR divided by the close.
    AtrRatio,
    /// (volume − mean) / standard deviation of the last `period` volumes.
    VolumeZScore,
}

/// One named model input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.stdDevs) == (self.kind == 'BollingerPercentB')").message("stdDevs is set for kind BollingerPercentB, and only for it"),
    validation = Rule::new("self.period >= 2 || !(self.kind in ['Rsi', 'BollingerPercentB', 'VolumeZScore'])").message("Rsi, BollingerPercentB and VolumeZScore need a period of at least 2"),
)]
pub struct ModelFeature {
    /// Name: the column in `tradewind-bot features` output, and in messages.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub name: String,
    /// What it computes.
    pub kind: FeatureKind,
    /// Lookback in bars.
    #[schemars(range(min = 1, max = 10000))]
    pub period: u32,
    /// Bollinger band width in standard deviations (BollingerPercentB only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std_devs: Option<PositiveDecimal>,
}

/// A key of a ConfigMap or Secret in the Strategy's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyReference {
    /// Object name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key in it (`binaryData` or `data`).
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

/// Where the model is, and its pinned digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.path), has(self.configMap), has(self.secret), has(self.blobUrl)].filter(x, x).size() == 1").message("set exactly one of path, configMap, secret and blobUrl"))]
pub struct ModelArtifact {
    /// SHA-256 of the ONNX file, 64 lowercase hex digits; any other bytes are refused.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
    /// A file on a volume of the worker (and, for `tradewind-bot backtest` and
    /// `features`, a local file, relative to the working directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub path: Option<String>,
    /// A ConfigMap key (binaryData); at most 1 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<KeyReference>,
    /// A Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<KeyReference>,
    /// A blob in the environment's storage account (https URL). Not fetched yet: a
    /// Strategy naming one is not Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048), regex(pattern = r"^https://"))]
    pub blob_url: Option<String>,
}

/// What the model's output means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ModelOutputKind {
    /// A classifier's probability (0 to 1), traded with thresholds.
    Probability,
    /// A regression score, traded with thresholds.
    Score,
    /// The fraction of equity to hold (0 to 1), traded with targetWeight.
    TargetWeight,
}

/// Which output of the model decides, and what it means.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelOutput {
    /// What the value means.
    pub kind: ModelOutputKind,
    /// Output name; default: the model's last float output (a scikit-learn classifier's
    /// `probabilities`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub name: Option<String>,
    /// Column of a `[batch, k]` output; default 1 for Probability (the positive class of
    /// a binary classifier), else 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub column: Option<u32>,
}

/// Enter above one level, exit below another (hysteresis between them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("double(self.exitBelow) <= double(self.enterAbove)").message("exitBelow must not exceed enterAbove"))]
pub struct ModelThresholds {
    /// Buy (sized by the bot's sizing) when the output rises above this while flat.
    pub enter_above: SignedDecimal,
    /// Sell the position when the output falls below this.
    pub exit_below: SignedDecimal,
}

/// Hold the output's fraction of equity in the base asset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("double(self.rebalanceBand) < 1.0").message("rebalanceBand must be below 1"))]
pub struct ModelTargetWeight {
    /// Rebalance when the held fraction of equity is off by more than this (e.g. "0.05").
    pub rebalance_band: Decimal,
}

/// Model strategy parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.thresholds) != has(self.targetWeight)").message("set exactly one of thresholds and targetWeight"),
    validation = Rule::new("has(self.targetWeight) == (self.output.kind == 'TargetWeight')").message("targetWeight goes with output.kind TargetWeight; thresholds with Probability or Score"),
    validation = Rule::new("self.features.all(f, self.features.exists_one(g, g.name == f.name))").message("feature names must be unique"),
)]
pub struct ModelParams {
    /// The model's inputs, in order: feature i is column i of its input.
    #[schemars(length(min = 1, max = 64))]
    pub features: Vec<ModelFeature>,
    /// The ONNX file.
    pub artifact: ModelArtifact,
    /// Which output decides.
    pub output: ModelOutput,
    /// Decision by levels (Probability or Score).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<ModelThresholds>,
    /// Decision by target weight (TargetWeight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_weight: Option<ModelTargetWeight>,
}

/// What an external signal may ask a Signal strategy to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SignalAction {
    /// Open (or add to) a long position, sized by the bot's sizing.
    Enter,
    /// Close the long position with a market order.
    Exit,
    /// Cancel every working order and close the position.
    Flatten,
}

/// Signal strategy parameters: which signal actions it takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.actions.all(a, self.actions.exists_one(b, b == a))").message("actions must not repeat"))]
pub struct SignalParams {
    /// The actions acted on; a signal asking for another is refused by the webhook.
    #[schemars(length(min = 1, max = 3))]
    pub actions: Vec<SignalAction>,
    /// An entry signal is skipped while the position (base quantity) is at or above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_position: Option<PositiveDecimal>,
}

fn default_refresh_bars() -> u32 {
    1
}

fn default_timeframe() -> Timeframe {
    Timeframe::M1
}

/// What to trade and how: one member per `type`, exactly the matching one set.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "tradewind.dev",
    version = "v1alpha1",
    kind = "Strategy",
    plural = "strategies",
    namespaced,
    status = "StrategyStatus",
    shortname = "strat",
    category = "tradewind",
    doc = "A trading strategy and its parameters; TradingBots reference it and inherit its risk and sizing.",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "Timeframe", type_ = "string", json_path = ".spec.timeframe"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Bots", type_ = "integer", json_path = ".status.boundBots"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.smaCross) == (self.type == 'SmaCross')").message("smaCross must be set when type is SmaCross, and only then"),
    validation = Rule::new("has(self.emaCross) == (self.type == 'EmaCross')").message("emaCross must be set when type is EmaCross, and only then"),
    validation = Rule::new("has(self.rsiReversion) == (self.type == 'RsiReversion')").message("rsiReversion must be set when type is RsiReversion, and only then"),
    validation = Rule::new("has(self.bollingerReversion) == (self.type == 'BollingerReversion')").message("bollingerReversion must be set when type is BollingerReversion, and only then"),
    validation = Rule::new("has(self.grid) == (self.type == 'Grid')").message("grid must be set when type is Grid, and only then"),
    validation = Rule::new("has(self.dca) == (self.type == 'Dca')").message("dca must be set when type is Dca, and only then"),
    validation = Rule::new("has(self.marketMaker) == (self.type == 'MarketMaker')").message("marketMaker must be set when type is MarketMaker, and only then"),
    validation = Rule::new("has(self.model) == (self.type == 'Model')").message("model must be set when type is Model, and only then"),
    validation = Rule::new("has(self.signal) == (self.type == 'Signal')").message("signal must be set when type is Signal, and only then"),
)]
pub struct StrategySpec {
    /// Which strategy runs; the member of the same name (camelCase) carries its parameters.
    #[serde(rename = "type")]
    pub type_: StrategyType,
    /// Bar timeframe.
    #[serde(default = "default_timeframe")]
    pub timeframe: Timeframe,
    /// Parameters for `type: SmaCross`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sma_cross: Option<CrossParams>,
    /// Parameters for `type: EmaCross`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema_cross: Option<CrossParams>,
    /// Parameters for `type: RsiReversion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsi_reversion: Option<RsiReversionParams>,
    /// Parameters for `type: BollingerReversion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bollinger_reversion: Option<BollingerReversionParams>,
    /// Parameters for `type: Grid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<GridParams>,
    /// Parameters for `type: Dca`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dca: Option<DcaParams>,
    /// Parameters for `type: MarketMaker`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_maker: Option<MarketMakerParams>,
    /// Parameters for `type: Model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelParams>,
    /// Default risk limits for bots running this strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskLimits>,
    /// Default position sizing for bots running this strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizing: Option<Sizing>,
    /// Parameters for `type: Signal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<SignalParams>,
}

/// Observed state of a Strategy, written by the operator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrategyStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready says whether the parameters are valid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// How many TradingBots reference this strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_bots: Option<u32>,
}
