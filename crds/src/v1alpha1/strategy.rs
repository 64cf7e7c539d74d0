//! `Strategy`: what to trade and how. Bots reference a Strategy and inherit its risk and sizing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Percent, PositiveDecimal, RiskLimits, Sizing};

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
}

impl StrategyType {
    /// Every built-in strategy type, in declaration order.
    pub const ALL: [StrategyType; 7] = [
        StrategyType::SmaCross,
        StrategyType::EmaCross,
        StrategyType::RsiReversion,
        StrategyType::BollingerReversion,
        StrategyType::Grid,
        StrategyType::Dca,
        StrategyType::MarketMaker,
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
    /// Default risk limits for bots running this strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskLimits>,
    /// Default position sizing for bots running this strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizing: Option<Sizing>,
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
