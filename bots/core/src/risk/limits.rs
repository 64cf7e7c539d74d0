//! [`RiskLimits`]: the risk block of a Strategy/TradingBot, in core types.

use crate::fixed::Money;

use super::Percent;

/// Risk limits in exact core types. Every limit is optional; `None` disables the check.
///
/// Field names follow the custom resources' risk block (`maxOrderNotional`, ...);
/// notionals and the daily loss limit are in the portfolio's quote currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RiskLimits {
    /// `maxOrderNotional`: largest |price × quantity| of one order.
    pub max_order_notional: Option<Money>,
    /// `maxPositionNotional`: largest |position × price| an order may lead to.
    pub max_position_notional: Option<Money>,
    /// `priceBandPercent`: how far a limit price may be from the last price.
    pub price_band: Option<Percent>,
    /// `stopLossPercent`: close a position once it has lost this share of its entry value.
    pub stop_loss: Option<Percent>,
    /// `dailyLossLimit`: halt once equity has fallen this much since the UTC day began.
    pub daily_loss_limit: Option<Money>,
    /// `maxDrawdownPercent`: halt once equity is this far below its peak.
    pub max_drawdown: Option<Percent>,
}

/// The risk block as decimal strings, as written in the custom resource (`"2.5"` is
/// 2.5 % for the percent fields). `Default` leaves every limit unset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RiskLimitsText<'a> {
    /// `maxOrderNotional`.
    pub max_order_notional: Option<&'a str>,
    /// `maxPositionNotional`.
    pub max_position_notional: Option<&'a str>,
    /// `priceBandPercent`.
    pub price_band_percent: Option<&'a str>,
    /// `stopLossPercent`.
    pub stop_loss_percent: Option<&'a str>,
    /// `dailyLossLimit`.
    pub daily_loss_limit: Option<&'a str>,
    /// `maxDrawdownPercent`.
    pub max_drawdown_percent: Option<&'a str>,
}

/// A risk limit that could not be built; names the resource field and its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("risk limit {field} = {value:?}: {reason}")]
pub struct RiskLimitsError {
    /// Field name as in the custom resource, e.g. `maxOrderNotional`.
    pub field: &'static str,
    /// The text given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

fn error(field: &'static str, value: &str, reason: impl Into<String>) -> RiskLimitsError {
    RiskLimitsError {
        field,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// A notional or loss amount: a decimal greater than zero.
fn positive_money(
    field: &'static str,
    text: Option<&str>,
) -> Result<Option<Money>, RiskLimitsError> {
    let Some(text) = text else { return Ok(None) };
    let value = Money::parse(text).map_err(|e| error(field, text, e.to_string()))?;
    if value.raw() <= 0 {
        return Err(error(field, text, "must be greater than zero"));
    }
    Ok(Some(value))
}

/// A percentage in (0, 100], like the resources' `Percent` type.
fn percent(field: &'static str, text: Option<&str>) -> Result<Option<Percent>, RiskLimitsError> {
    let Some(text) = text else { return Ok(None) };
    let value = Percent::parse(text).map_err(|e| error(field, text, e.to_string()))?;
    if value == Percent::ZERO || value > Percent::HUNDRED {
        return Err(error(
            field,
            text,
            "must be a percentage greater than 0 and at most 100",
        ));
    }
    Ok(Some(value))
}

impl RiskLimits {
    /// No limits at all.
    pub const NONE: RiskLimits = RiskLimits {
        max_order_notional: None,
        max_position_notional: None,
        price_band: None,
        stop_loss: None,
        daily_loss_limit: None,
        max_drawdown: None,
    };

    /// Build from the resource's decimal strings. Amounts must be > 0, percentages in
    /// (0, 100], and `maxOrderNotional` must not exceed `maxPositionNotional` (the same
    /// rules the CRD's CEL validation applies). The error names the field.
    pub fn parse(text: &RiskLimitsText<'_>) -> Result<Self, RiskLimitsError> {
        let limits = RiskLimits {
            max_order_notional: positive_money("maxOrderNotional", text.max_order_notional)?,
            max_position_notional: positive_money(
                "maxPositionNotional",
                text.max_position_notional,
            )?,
            price_band: percent("priceBandPercent", text.price_band_percent)?,
            stop_loss: percent("stopLossPercent", text.stop_loss_percent)?,
            daily_loss_limit: positive_money("dailyLossLimit", text.daily_loss_limit)?,
            max_drawdown: percent("maxDrawdownPercent", text.max_drawdown_percent)?,
        };
        if let (Some(order), Some(position)) =
            (limits.max_order_notional, limits.max_position_notional)
            && order > position
        {
            return Err(error(
                "maxOrderNotional",
                text.max_order_notional.unwrap_or_default(),
                format!("must not exceed maxPositionNotional {position}"),
            ));
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_field() {
        let limits = RiskLimits::parse(&RiskLimitsText {
            max_order_notional: Some("1000"),
            max_position_notional: Some("5000.5"),
            price_band_percent: Some("2.5"),
            stop_loss_percent: Some("3"),
            daily_loss_limit: Some("250"),
            max_drawdown_percent: Some("15"),
        })
        .expect("valid");
        assert_eq!(
            limits.max_order_notional,
            Some(Money::parse("1000").expect("ok"))
        );
        assert_eq!(
            limits.max_position_notional,
            Some(Money::parse("5000.5").expect("ok"))
        );
        assert_eq!(limits.price_band, Some(Percent::from_bps(250)));
        assert_eq!(limits.stop_loss, Some(Percent::from_bps(300)));
        assert_eq!(
            limits.daily_loss_limit,
            Some(Money::parse("250").expect("ok"))
        );
        assert_eq!(limits.max_drawdown, Some(Percent::from_bps(1500)));
        assert_eq!(
            RiskLimits::parse(&RiskLimitsText::default()),
            Ok(RiskLimits::NONE)
        );
    }

    #[test]
    fn errors_name_the_field() {
        let cases: [(RiskLimitsText<'_>, &str); 6] = [
            (
                RiskLimitsText {
                    max_order_notional: Some("abc"),
                    ..Default::default()
                },
                "risk limit maxOrderNotional = \"abc\": cannot parse",
            ),
            (
                RiskLimitsText {
                    max_position_notional: Some("0"),
                    ..Default::default()
                },
                "risk limit maxPositionNotional = \"0\": must be greater than zero",
            ),
            (
                RiskLimitsText {
                    price_band_percent: Some("100.5"),
                    ..Default::default()
                },
                "risk limit priceBandPercent = \"100.5\": must be a percentage",
            ),
            (
                RiskLimitsText {
                    stop_loss_percent: Some("-3"),
                    ..Default::default()
                },
                "risk limit stopLossPercent = \"-3\": ",
            ),
            (
                RiskLimitsText {
                    daily_loss_limit: Some("-1"),
                    ..Default::default()
                },
                "risk limit dailyLossLimit = \"-1\": must be greater than zero",
            ),
            (
                RiskLimitsText {
                    max_order_notional: Some("10"),
                    max_position_notional: Some("5"),
                    ..Default::default()
                },
                "risk limit maxOrderNotional = \"10\": must not exceed maxPositionNotional 5.00",
            ),
        ];
        for (text, want) in cases {
            let err = RiskLimits::parse(&text).expect_err(want);
            assert!(err.to_string().starts_with(want), "{err} vs {want}");
        }
        let err = RiskLimits::parse(&RiskLimitsText {
            max_drawdown_percent: Some("0"),
            ..Default::default()
        })
        .expect_err("zero");
        assert_eq!(err.field, "maxDrawdownPercent");
    }
}
