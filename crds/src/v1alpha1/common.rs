//! Types shared by the three resources: decimal strings, percentages, references,
//! risk limits and position sizing.

use std::borrow::Cow;

use kube::KubeSchema;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Longest decimal string accepted. It bounds the cost of CEL rules on these fields.
pub const MAX_DECIMAL_LEN: u64 = 40;

/// CEL regex for a non-negative decimal: digits, optionally a point and more digits, at
/// most 9 of them significant (the trading core's fixed point is 1e-9; zeros after
/// them are exact). No sign, exponent, spaces or thousands separators, so every client
/// parses it the same way.
const DECIMAL_RE: &str = r"^[0-9]{1,20}(\\.[0-9]{1,9}0{0,9})?$";
/// The same with an optional leading minus, for amounts such as PnL.
const SIGNED_DECIMAL_RE: &str = r"^-?[0-9]{1,20}(\\.[0-9]{1,9}0{0,9})?$";

fn decimal_schema(signed: bool, positive: bool, description: &str) -> Schema {
    let rule = if signed {
        serde_json::json!({
            "rule": format!("self.matches('{SIGNED_DECIMAL_RE}')"),
            "message": "must be a decimal string such as \"-12.5\": an optional '-', digits, an optional '.' and fraction of at most 9 significant places, no exponent or spaces",
        })
    } else {
        serde_json::json!({
            "rule": format!("self.matches('{DECIMAL_RE}')"),
            "message": "must be a decimal string such as \"5000.25\": digits with an optional '.' and fraction of at most 9 significant places, no sign, exponent or spaces",
        })
    };
    let mut rules = vec![rule];
    if positive {
        rules.push(serde_json::json!({
            "rule": "!self.matches('^[0.]*$')",
            "message": "must be greater than zero",
        }));
    }
    json_schema!({
        "type": "string",
        "description": description,
        "maxLength": MAX_DECIMAL_LEN,
        "x-kubernetes-validations": rules,
    })
}

macro_rules! decimal_newtype {
    ($(#[$doc:meta])* $name:ident, signed = $signed:expr, positive = $positive:expr, $description:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The decimal as written in the resource.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                decimal_schema($signed, $positive, $description)
            }
        }
    };
}

decimal_newtype!(
    /// A decimal amount that may be zero, written as a string (`"0"`, `"1500.5"`).
    /// Money and prices are never floats in this API.
    Decimal,
    signed = false,
    positive = false,
    "Non-negative decimal written as a string, e.g. \"0\" or \"1500.5\"."
);

decimal_newtype!(
    /// A decimal amount greater than zero, written as a string (`"5000.25"`).
    PositiveDecimal,
    signed = false,
    positive = true,
    "Decimal greater than zero written as a string, e.g. \"5000.25\"."
);

decimal_newtype!(
    /// A decimal that may be negative, written as a string (`"-12.5"`), e.g. profit and loss.
    SignedDecimal,
    signed = true,
    positive = false,
    "Decimal that may be negative written as a string, e.g. \"-12.5\"."
);

/// A percentage in (0, 100], written as a decimal string (`"2.5"` means 2.5 %).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Percent(pub String);

impl Percent {
    /// The percentage as written in the resource.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Percent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl From<&str> for Percent {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl JsonSchema for Percent {
    fn schema_name() -> Cow<'static, str> {
        "Percent".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Percentage in (0, 100] written as a decimal string, e.g. \"2.5\" for 2.5 %.",
            "maxLength": 12,
            "x-kubernetes-validations": [{
                // Exact, no floating point: 100 (with any zero fraction), or 0-99 with up to 6 decimals.
                "rule": "self.matches('^(100(\\\\.0{1,6})?|[0-9]{1,2}(\\\\.[0-9]{1,6})?)$') && !self.matches('^[0.]*$')",
                "message": "must be a percentage greater than 0 and at most 100, written as a decimal string such as \"2.5\"",
            }],
        })
    }
}

/// A reference to another object in the same namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LocalObjectReference {
    /// Name of the object.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Pre- and post-trade risk limits. Every limit is optional; a bot's limits override its
/// strategy's field by field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "!has(self.maxOrderNotional) || !has(self.maxPositionNotional) || double(self.maxOrderNotional) <= double(self.maxPositionNotional)"
).message("maxOrderNotional must not exceed maxPositionNotional"))]
pub struct RiskLimits {
    /// Largest notional (price x quantity, in quote currency) of a single order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_order_notional: Option<PositiveDecimal>,
    /// Largest absolute notional of the position in one symbol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_position_notional: Option<PositiveDecimal>,
    /// Refuse limit orders priced further than this from the last trade price, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_band_percent: Option<Percent>,
    /// Close a position that has lost this much of its entry value, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss_percent: Option<Percent>,
    /// Halt the bot when the day's realized plus unrealized loss reaches this amount (quote currency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_loss_limit: Option<PositiveDecimal>,
    /// Kill switch: halt the bot when equity falls this far below its peak, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_drawdown_percent: Option<Percent>,
}

impl RiskLimits {
    /// The limits a bot runs with: each field set in `overrides` wins over `self`.
    pub fn overlay(&self, overrides: Option<&RiskLimits>) -> RiskLimits {
        let Some(o) = overrides else {
            return self.clone();
        };
        RiskLimits {
            max_order_notional: o
                .max_order_notional
                .clone()
                .or_else(|| self.max_order_notional.clone()),
            max_position_notional: o
                .max_position_notional
                .clone()
                .or_else(|| self.max_position_notional.clone()),
            price_band_percent: o
                .price_band_percent
                .clone()
                .or_else(|| self.price_band_percent.clone()),
            stop_loss_percent: o
                .stop_loss_percent
                .clone()
                .or_else(|| self.stop_loss_percent.clone()),
            daily_loss_limit: o
                .daily_loss_limit
                .clone()
                .or_else(|| self.daily_loss_limit.clone()),
            max_drawdown_percent: o
                .max_drawdown_percent
                .clone()
                .or_else(|| self.max_drawdown_percent.clone()),
        }
    }

    /// `name value` pairs of the limits that are set, in declaration order.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut push = |name: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push(format!("{name} {v}"));
            }
        };
        push(
            "maxOrderNotional",
            self.max_order_notional.as_ref().map(ToString::to_string),
        );
        push(
            "maxPositionNotional",
            self.max_position_notional.as_ref().map(ToString::to_string),
        );
        push(
            "priceBand",
            self.price_band_percent.as_ref().map(ToString::to_string),
        );
        push(
            "stopLoss",
            self.stop_loss_percent.as_ref().map(ToString::to_string),
        );
        push(
            "dailyLossLimit",
            self.daily_loss_limit.as_ref().map(ToString::to_string),
        );
        push(
            "maxDrawdown",
            self.max_drawdown_percent.as_ref().map(ToString::to_string),
        );
        out
    }
}

/// How a strategy turns a signal into an order size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SizingType {
    /// The same base quantity for every order.
    FixedQuantity,
    /// The same quote notional for every order.
    FixedNotional,
    /// A percentage of current equity per order.
    PercentOfEquity,
    /// All available cash (useful for comparisons with other backtesters).
    AllIn,
}

/// Fixed base quantity per order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FixedQuantitySizing {
    /// Base-asset quantity, e.g. "0.01" BTC.
    pub quantity: PositiveDecimal,
}

/// Fixed quote notional per order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FixedNotionalSizing {
    /// Quote-currency notional, e.g. "250" USDT.
    pub notional: PositiveDecimal,
}

/// A share of equity per order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PercentOfEquitySizing {
    /// Percent of equity committed per order.
    pub percent: Percent,
}

impl Sizing {
    /// Sizing used when neither the bot nor its strategy sets one: all available cash.
    pub fn all_in() -> Self {
        Sizing {
            type_: SizingType::AllIn,
            fixed_quantity: None,
            fixed_notional: None,
            percent_of_equity: None,
        }
    }
}

impl std::fmt::Display for Sizing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (
            self.type_,
            &self.fixed_quantity,
            &self.fixed_notional,
            &self.percent_of_equity,
        ) {
            (SizingType::FixedQuantity, Some(q), _, _) => {
                write!(f, "{} base per order", q.quantity)
            }
            (SizingType::FixedNotional, _, Some(n), _) => {
                write!(f, "{} quote per order", n.notional)
            }
            (SizingType::PercentOfEquity, _, _, Some(p)) => {
                write!(f, "{} of equity per order", p.percent)
            }
            (SizingType::AllIn, ..) => f.write_str("all available cash"),
            (t, ..) => write!(f, "{t:?} (parameters missing)"),
        }
    }
}

/// Position sizing: a discriminated union on `type`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.fixedQuantity) == (self.type == 'FixedQuantity')").message("fixedQuantity must be set when type is FixedQuantity, and only then"),
    validation = Rule::new("has(self.fixedNotional) == (self.type == 'FixedNotional')").message("fixedNotional must be set when type is FixedNotional, and only then"),
    validation = Rule::new("has(self.percentOfEquity) == (self.type == 'PercentOfEquity')").message("percentOfEquity must be set when type is PercentOfEquity, and only then"),
)]
pub struct Sizing {
    /// Which sizing rule applies; the member of the same name carries its parameters.
    #[serde(rename = "type")]
    pub type_: SizingType,
    /// Parameters for `type: FixedQuantity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_quantity: Option<FixedQuantitySizing>,
    /// Parameters for `type: FixedNotional`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_notional: Option<FixedNotionalSizing>,
    /// Parameters for `type: PercentOfEquity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent_of_equity: Option<PercentOfEquitySizing>,
}
