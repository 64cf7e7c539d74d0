//! Pre-trade checks on an [`OrderRequest`].

use crate::data::Side;
use crate::fixed::{FIXED_SCALAR, Money, Price, RoundingMode};
use crate::instrument::Instrument;
use crate::orders::{OrderKind, OrderRequest};
use crate::portfolio::Portfolio;

use super::percent::HUNDRED_PERCENT_RAW;
use super::{Approved, Refused, RiskCheck, RiskLimits, RiskRefusal};

/// What the pre-trade checks look at besides the order itself.
#[derive(Debug, Clone, Copy)]
pub struct OrderContext<'a> {
    /// The order's instrument (for its minimum notional).
    pub instrument: &'a Instrument,
    /// The account (for the position the order would change).
    pub portfolio: &'a Portfolio,
    /// Last traded (or mark) price of the instrument.
    pub last_price: Price,
}

/// The price an order's notional is valued at: the limit price of a limit or stop-limit
/// order, the trigger of a stop-market order, and the last price for a market order.
pub fn reference_price(order: &OrderRequest, last_price: Price) -> Price {
    match order.kind {
        OrderKind::Limit { price } | OrderKind::StopLimit { price, .. } => price,
        OrderKind::StopMarket { trigger } => trigger,
        OrderKind::Market => last_price,
    }
}

fn refuse(order: OrderRequest, reason: RiskRefusal) -> RiskCheck<OrderRequest> {
    Err(Refused::new(order, reason))
}

/// `|price| × qty_raw` in money, saturating at the `Money` range (only absurd sizes
/// can get there, and a saturated value still fails any limit).
fn abs_notional(price: Price, qty_raw: u128) -> Money {
    let qty = i128::try_from(qty_raw).unwrap_or(i128::MAX);
    Money::from_raw(i128::from(price.raw()).abs())
        .mul_ratio(qty, i128::from(FIXED_SCALAR), RoundingMode::HalfEven)
        .unwrap_or(Money::from_raw(i128::MAX))
}

impl RiskLimits {
    /// Run every pre-trade check, in this order: instrument minimum notional,
    /// `maxOrderNotional`, `priceBandPercent`, `maxPositionNotional`. Returns the first
    /// refusal, or the order approved.
    pub fn check_order(
        &self,
        order: OrderRequest,
        ctx: &OrderContext<'_>,
    ) -> RiskCheck<OrderRequest> {
        let order = check_min_notional(order, ctx)?.into_item();
        let order = self.check_order_notional(order, ctx)?.into_item();
        let order = self.check_price_band(order, ctx)?.into_item();
        self.check_position_notional(order, ctx)
    }

    /// Refuse if `|reference price| × quantity` exceeds `maxOrderNotional`.
    pub fn check_order_notional(
        &self,
        order: OrderRequest,
        ctx: &OrderContext<'_>,
    ) -> RiskCheck<OrderRequest> {
        let Some(limit) = self.max_order_notional else {
            return Ok(Approved::new(order));
        };
        let price = reference_price(&order, ctx.last_price);
        if !price.is_positive() {
            return refuse(
                order,
                RiskRefusal::NoLastPrice {
                    check: "maxOrderNotional",
                    last: ctx.last_price,
                },
            );
        }
        let notional = abs_notional(price, u128::from(order.quantity.raw()));
        if notional > limit {
            return refuse(order, RiskRefusal::MaxOrderNotional { notional, limit });
        }
        Ok(Approved::new(order))
    }

    /// Refuse if the position after the order, valued at the order's reference price,
    /// exceeds `maxPositionNotional`. Orders that do not increase the absolute position
    /// always pass: reducing risk must stay possible when prices moved a position over
    /// the limit.
    pub fn check_position_notional(
        &self,
        order: OrderRequest,
        ctx: &OrderContext<'_>,
    ) -> RiskCheck<OrderRequest> {
        let Some(limit) = self.max_position_notional else {
            return Ok(Approved::new(order));
        };
        let Some(position) = ctx.portfolio.position(order.instrument) else {
            let index = order.instrument.0;
            return refuse(order, RiskRefusal::UnknownInstrument { index });
        };
        let before = position.signed_quantity_raw();
        let qty = i128::from(order.quantity.raw());
        let after = match order.side {
            Side::Buy => before + qty,
            Side::Sell => before - qty,
        };
        if after.unsigned_abs() <= before.unsigned_abs() {
            return Ok(Approved::new(order));
        }
        let price = reference_price(&order, ctx.last_price);
        if !price.is_positive() {
            return refuse(
                order,
                RiskRefusal::NoLastPrice {
                    check: "maxPositionNotional",
                    last: ctx.last_price,
                },
            );
        }
        let notional = abs_notional(price, after.unsigned_abs());
        if notional > limit {
            return refuse(order, RiskRefusal::MaxPositionNotional { notional, limit });
        }
        Ok(Approved::new(order))
    }

    /// Refuse a limit or stop-limit order whose limit price is more than
    /// `priceBandPercent` away from the last price (exactly at the band passes).
    /// Market and stop-market orders have no limit price and pass.
    pub fn check_price_band(
        &self,
        order: OrderRequest,
        ctx: &OrderContext<'_>,
    ) -> RiskCheck<OrderRequest> {
        let (Some(band), Some(price)) = (self.price_band, order.kind.limit_price()) else {
            return Ok(Approved::new(order));
        };
        let last = ctx.last_price;
        if !last.is_positive() {
            return refuse(
                order,
                RiskRefusal::NoLastPrice {
                    check: "priceBandPercent",
                    last,
                },
            );
        }
        // i128: the difference of two i64 cannot overflow.
        let diff = (i128::from(price.raw()) - i128::from(last.raw())).unsigned_abs();
        let whole = u128::from(last.raw().unsigned_abs());
        // diff / last > band / 100 %, exactly: diff < 2^65 and band < 2^64, so neither
        // product below can overflow u128.
        if diff * HUNDRED_PERCENT_RAW > whole * u128::from(band.raw()) {
            return refuse(order, RiskRefusal::PriceBand { price, last, band });
        }
        Ok(Approved::new(order))
    }
}

/// Refuse if `reference price × quantity` is below the instrument's minimum notional
/// (the check runs whatever the [`RiskLimits`]; an instrument without a minimum passes).
pub fn check_min_notional(order: OrderRequest, ctx: &OrderContext<'_>) -> RiskCheck<OrderRequest> {
    let min = ctx.instrument.min_notional();
    if min.raw() <= 0 {
        return Ok(Approved::new(order));
    }
    let price = reference_price(&order, ctx.last_price);
    let notional = price.notional(order.quantity);
    if notional < min {
        return refuse(order, RiskRefusal::BelowMinNotional { notional, min });
    }
    Ok(Approved::new(order))
}
