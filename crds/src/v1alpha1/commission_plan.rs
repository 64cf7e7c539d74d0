//! `CommissionPlan`: how fees are charged and how what is collected is shared.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Decimal, Percent};

/// Basis points in a whole (100 %).
pub const BPS_PER_WHOLE: u32 = 10_000;

/// One trading-fee tier: applies from `minVolume30d` upwards until the next tier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("double(self.makerBps) <= 10000.0").message("makerBps must be at most 10000 (100 %)"),
    validation = Rule::new("double(self.takerBps) <= 10000.0").message("takerBps must be at most 10000 (100 %)"),
)]
pub struct FeeTier {
    /// Smallest 30-day traded notional (quote currency) for this tier.
    #[serde(rename = "minVolume30d")]
    pub min_volume_30d: Decimal,
    /// Fee on fills that added liquidity, in basis points (may be "0").
    pub maker_bps: Decimal,
    /// Fee on fills that took liquidity, in basis points.
    pub taker_bps: Decimal,
}

/// Trading fees by 30-day volume.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("double(self.tiers[0].minVolume30d) == 0.0").message("the first fee tier must start at minVolume30d \"0\" so every account has a fee"),
    validation = Rule::new("self.tiers.map(t, double(t.minVolume30d)).isSorted() && self.tiers.all(a, self.tiers.exists_one(b, double(b.minVolume30d) == double(a.minVolume30d)))").message("fee tiers must be strictly increasing by minVolume30d"),
)]
pub struct TradingFees {
    /// Tiers, lowest volume first.
    #[schemars(length(min = 1, max = 20))]
    pub tiers: Vec<FeeTier>,
}

/// How often the performance fee is settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SettlementPeriod {
    /// Every day at 00:00 UTC.
    Daily,
    /// Every Monday at 00:00 UTC.
    Weekly,
    /// On the first of the month at 00:00 UTC.
    Monthly,
    /// On the first of each quarter at 00:00 UTC.
    Quarterly,
}

impl SettlementPeriod {
    /// The cron schedule (UTC) the settlement CronJob runs on.
    pub fn cron_schedule(self) -> &'static str {
        match self {
            SettlementPeriod::Daily => "0 0 * * *",
            SettlementPeriod::Weekly => "0 0 * * 1",
            SettlementPeriod::Monthly => "0 0 1 * *",
            SettlementPeriod::Quarterly => "0 0 1 1,4,7,10 *",
        }
    }
}

/// Which profit the performance fee is charged on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ProfitBasis {
    /// Realised profit only: open positions count at their cost, so a paper gain is
    /// never charged (as Binance and Bybit copy trading do).
    #[default]
    Realized,
    /// Total profit: open positions marked to market at the end of the period.
    Total,
}

/// A fee on profits above the high-water mark.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceFee {
    /// Share of new profit above the high-water mark, in percent.
    pub percent: Percent,
    /// Settlement period; the high-water mark carries over between periods.
    pub settlement_period: SettlementPeriod,
    /// Realised profit only (`Realized`, when unset) or total profit including open
    /// positions (`Total`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<ProfitBasis>,
}

/// Who receives a share of what is collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Recipient {
    /// The platform operator.
    Platform,
    /// The author of the bot's Strategy.
    StrategyAuthor,
    /// The account's referrer at `level` (1 = direct referrer).
    Referral,
}

/// One share of the distribution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.level) == (self.recipient == 'Referral')").message("level must be set for Referral shares, and only for them"))]
pub struct Share {
    /// Who receives this share.
    pub recipient: Recipient,
    /// Referral level for `recipient: Referral` (1 = the direct referrer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 5))]
    pub level: Option<u32>,
    /// The share in basis points (10000 = 100 %).
    #[schemars(range(min = 1, max = 10000))]
    pub share_bps: u32,
}

/// How fees are charged and shared.
///
/// The CEL rules use only functions every supported API server (1.33+) has: standard CEL
/// macros, `double()`, `matches()`, and the Kubernetes list library's `isSorted()`/`sum()`.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "tradewind.dev",
    version = "v1alpha1",
    kind = "CommissionPlan",
    namespaced,
    status = "CommissionPlanStatus",
    shortname = "cplan",
    category = "tradewind",
    doc = "Trading-fee tiers, a performance fee over a high-water mark, and how collected fees are shared.",
    printcolumn(
        name = "PerfFee%",
        type_ = "string",
        json_path = ".spec.performanceFee.percent"
    ),
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
    validation = Rule::new("self.distribution.map(s, s.shareBps).sum() == 10000").message("distribution shares must sum to exactly 100 % (10000 bps)"),
    validation = Rule::new("self.distribution.filter(s, s.recipient == 'Platform').size() == 1").message("distribution must have exactly one Platform share"),
    validation = Rule::new("self.distribution.filter(s, s.recipient == 'StrategyAuthor').size() <= 1").message("distribution may have at most one StrategyAuthor share"),
    validation = Rule::new("self.distribution.all(a, !has(a.level) || self.distribution.exists_one(b, has(b.level) && b.level == a.level))").message("each referral level may appear only once in distribution"),
)]
pub struct CommissionPlanSpec {
    /// The currency the plan charges in and counts 30-day volume in (tier minimums are
    /// in it); `USDT` when unset. A bot whose capital is in another currency cannot be
    /// charged by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 12), regex(pattern = r"^[A-Z0-9]{2,12}$"))]
    pub currency: Option<String>,
    /// Maker/taker fees by 30-day volume.
    pub trading_fees: TradingFees,
    /// Optional performance fee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_fee: Option<PerformanceFee>,
    /// How collected fees are shared; shares sum to 100 %.
    #[schemars(length(min = 1, max = 10))]
    pub distribution: Vec<Share>,
}

/// The currency of a plan that names none.
pub const DEFAULT_PLAN_CURRENCY: &str = "USDT";

impl CommissionPlanSpec {
    /// The currency the plan charges in: `spec.currency`, else [`DEFAULT_PLAN_CURRENCY`].
    pub fn currency(&self) -> &str {
        self.currency.as_deref().unwrap_or(DEFAULT_PLAN_CURRENCY)
    }

    /// The settlement period: the performance fee's, else monthly (trading fees alone).
    pub fn settlement_period(&self) -> SettlementPeriod {
        self.performance_fee
            .as_ref()
            .map_or(SettlementPeriod::Monthly, |f| f.settlement_period)
    }
}

/// Totals of the last settlement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettlementTotals {
    /// End of the settled period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_end: Option<Time>,
    /// Trading fees collected in the period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trading_fees: Option<Decimal>,
    /// Performance fees collected in the period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_fees: Option<Decimal>,
    /// Start of the settled period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_start: Option<Time>,
    /// The currency the totals are in (the plan's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 12), regex(pattern = r"^[A-Z0-9]{2,12}$"))]
    pub currency: Option<String>,
    /// The fees shared out per recipient class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_recipient_class: Option<RecipientTotals>,
    /// Accounts with at least one charge in the period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts_charged: Option<u32>,
    /// Charges booked in the period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charges: Option<u32>,
    /// When the settlement was booked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<Time>,
}

/// A settlement's fees per recipient class. A referral level without a referrer is paid
/// to the platform but still counted under its own level.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecipientTotals {
    /// The platform's share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Decimal>,
    /// The strategy authors' share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_author: Option<Decimal>,
    /// The first referral level's share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral1: Option<Decimal>,
    /// The second referral level's share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral2: Option<Decimal>,
}

/// Observed state of a CommissionPlan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommissionPlanStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready says whether the plan is valid and its settlement job is in place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// How many TradingBots reference this plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_bots: Option<u32>,
    /// Totals of the last settlement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_settlement: Option<SettlementTotals>,
}
