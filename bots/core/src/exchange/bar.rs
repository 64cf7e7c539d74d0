//! Bar-mode fills (see the [module docs](super) for the rules in prose).

use crate::data::{Bar, Side};
use crate::fixed::{Price, Quantity};
use crate::orders::{Liquidity, OrderKind, RejectReason, TimeInForce};

use super::engine::{BarFillModel, Ctx, MatchingEngine, SideExt, through, within};
use super::fees::{Bps, FEE_DENOM};
use super::own_book::{Order, Slot};

/// `price` moved against a `side` trader by `slippage` (buy higher, sell lower) and
/// rounded to a multiple of `tick` in the trader's disfavour (buy up, sell down).
///
/// Exact: `price ± |price| × bps / 10_000` is computed as one rational and rounded once.
/// With zero slippage an on-tick price is returned unchanged. Saturates at the largest
/// tick multiple `Price` can hold instead of overflowing.
pub fn slipped_price(price: Price, side: Side, slippage: Bps, tick: Price) -> Price {
    let p = i128::from(price.raw());
    let t = i128::from(tick.raw().max(1));
    let amount = p.abs() * i128::from(slippage.raw()); // at 10^-13 of a raw unit
    // |p| ≤ 9.3e18 and bps_raw ≤ 1e13, so every product here fits i128 comfortably.
    let (num, up) = match side {
        Side::Buy => (p * FEE_DENOM + amount, true),
        Side::Sell => (p * FEE_DENOM - amount, false),
    };
    let den = FEE_DENOM * t;
    let ticks = if up {
        -(-num).div_euclid(den)
    } else {
        num.div_euclid(den)
    };
    let raw = ticks * t;
    let tick_raw = tick.raw().max(1);
    let raw = i64::try_from(raw).unwrap_or(if raw > 0 {
        (i64::MAX / tick_raw) * tick_raw
    } else {
        (i64::MIN / tick_raw) * tick_raw
    });
    // A tick multiple is always exact at the tick's precision.
    Price::from_raw_unchecked(raw, tick.precision())
}

impl MatchingEngine {
    /// Slipped and tick-rounded taker price at reference `price`, never worse than the
    /// order's limit (if it has one).
    fn taker_price(&self, order: &Order, price: Price, slippage: Bps) -> Price {
        let p = slipped_price(price, order.side, slippage, self.instrument.tick_size());
        // `order.limit` is the limit at the instrument's precision (set on submit).
        match order.kind.limit_price() {
            Some(_) if !within(order.side, p, order.limit) => order.limit,
            _ => p,
        }
    }

    /// Fill the whole remainder of an order that is not in the book (new, pending or a
    /// just-triggered stop).
    fn fill_all(&self, order: &mut Order, price: Price, liquidity: Liquidity, ctx: &mut Ctx) {
        let qty = Quantity::from_raw_unchecked(order.remaining(), order.precision);
        order.filled = order.quantity;
        ctx.fill(self.index, order, price, qty, liquidity);
    }

    /// Emit the cancellation of an order's unfilled remainder.
    fn cancel_rest(order: &Order, ctx: &mut Ctx) {
        ctx.canceled(
            order.id,
            Quantity::from_raw_unchecked(order.remaining(), order.precision),
        );
    }

    /// Bar mode submission of a validated order (rules in the module docs).
    pub(super) fn submit_bar(
        &mut self,
        mut order: Order,
        model: BarFillModel,
        slippage: Bps,
        ctx: &mut Ctx,
    ) {
        let close = self.last_bar.map(|b| b.close);
        let is_stop = matches!(
            order.kind,
            OrderKind::StopMarket { .. } | OrderKind::StopLimit { .. }
        );
        // Before the first bar a stop can still wait for its trigger; only orders that
        // would fill at the close need one.
        let model = if close.is_none() && is_stop {
            BarFillModel::NextBarOpen
        } else {
            model
        };
        match model {
            BarFillModel::NextBarOpen => {
                ctx.accepted(order.id);
                match order.kind {
                    OrderKind::StopMarket { trigger } | OrderKind::StopLimit { trigger, .. } => {
                        let slot = self.own.insert(order, Slot::Stop);
                        self.insert_stop(slot, order.side, trigger);
                    }
                    OrderKind::Market | OrderKind::Limit { .. } => {
                        // Arrives at the next open.
                        let slot = self.own.insert(order, Slot::Pending);
                        self.pending.push(slot);
                    }
                }
            }
            BarFillModel::SameBarClose => {
                let Some(close) = close else {
                    ctx.rejected(
                        order.id,
                        RejectReason::Other(
                            "no bar yet: same-bar-close fills need a bar to fill at".to_owned(),
                        ),
                    );
                    return;
                };
                match order.kind {
                    OrderKind::Market => {
                        ctx.accepted(order.id);
                        let price = self.taker_price(&order, close, slippage);
                        self.fill_all(&mut order, price, Liquidity::Taker, ctx);
                    }
                    OrderKind::Limit { price: limit } => {
                        let marketable = within(order.side, close, limit);
                        if marketable && order.post_only {
                            ctx.rejected(order.id, RejectReason::PostOnlyWouldTake);
                            return;
                        }
                        ctx.accepted(order.id);
                        if marketable {
                            let price = self.taker_price(&order, close, slippage);
                            self.fill_all(&mut order, price, Liquidity::Taker, ctx);
                        } else if order.tif == TimeInForce::Gtc {
                            let slot = self.own.insert(order, Slot::Free);
                            self.own.rest(slot);
                        } else {
                            Self::cancel_rest(&order, ctx);
                        }
                    }
                    OrderKind::StopMarket { trigger } | OrderKind::StopLimit { trigger, .. } => {
                        ctx.accepted(order.id);
                        if within(order.side.opposite(), close, trigger) {
                            ctx.triggered(order.id);
                            // At the close there is no later range to look at.
                            if let Some(rest) =
                                self.run_triggered(order, close, None, slippage, ctx)
                            {
                                let slot = self.own.insert(rest, Slot::Free);
                                self.own.rest(slot);
                            }
                        } else {
                            let slot = self.own.insert(order, Slot::Stop);
                            self.insert_stop(slot, order.side, trigger);
                        }
                    }
                }
            }
        }
    }

    /// A stop triggered at reference price `at` (the trigger, or the open/close it gapped
    /// to). `range_low_high` is the part of the bar still to come *after* `at` when that
    /// is known (only when triggered at the open): `(low, high)`.
    ///
    /// Returns the order if it should rest as a limit (GTC stop-limit not filled now).
    fn run_triggered(
        &self,
        mut order: Order,
        at: Price,
        range_after: Option<(Price, Price)>,
        slippage: Bps,
        ctx: &mut Ctx,
    ) -> Option<Order> {
        match order.kind {
            OrderKind::StopMarket { .. } => {
                let price = self.taker_price(&order, at, slippage);
                self.fill_all(&mut order, price, Liquidity::Taker, ctx);
                None
            }
            OrderKind::StopLimit { price: limit, .. } => {
                if within(order.side, at, limit) {
                    if order.post_only {
                        Self::cancel_rest(&order, ctx);
                        return None;
                    }
                    let price = self.taker_price(&order, at, slippage);
                    self.fill_all(&mut order, price, Liquidity::Taker, ctx);
                    return None;
                }
                // Not marketable at the trigger: the rest of the bar can still trade
                // through the limit, but only if we know that part came after.
                let later_through = range_after.is_some_and(|(low, high)| match order.side {
                    Side::Buy => through(Side::Buy, low, limit),
                    Side::Sell => through(Side::Sell, high, limit),
                });
                if later_through {
                    let limit = order.limit; // normalised to the instrument's precision
                    self.fill_all(&mut order, limit, Liquidity::Maker, ctx);
                    None
                } else if order.tif == TimeInForce::Gtc {
                    Some(order)
                } else {
                    Self::cancel_rest(&order, ctx);
                    None
                }
            }
            // Only stops are triggered.
            OrderKind::Market | OrderKind::Limit { .. } => None,
        }
    }

    /// Bar mode: everything one bar does, in this order:
    /// 1. pending orders arrive at the open (market fills; limits fill, rest or cancel);
    /// 2. stops reached by the bar fire, in arrival order;
    /// 3. resting limits the bar traded through fill, buys then sells, best price first;
    /// 4. stop-limits fired in step 2 that did not fill start resting (from the next bar).
    pub(super) fn process_bar(&mut self, bar: &Bar, slippage: Bps, ctx: &mut Ctx) {
        // 1. Arrivals at the open.
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            for &slot in &pending {
                let mut order = *self.own.get(slot);
                self.own.release(slot);
                match order.kind.limit_price() {
                    None => {
                        let price = self.taker_price(&order, bar.open, slippage);
                        self.fill_all(&mut order, price, Liquidity::Taker, ctx);
                    }
                    Some(limit) => {
                        let marketable = within(order.side, bar.open, limit);
                        if marketable && !order.post_only {
                            let price = self.taker_price(&order, bar.open, slippage);
                            self.fill_all(&mut order, price, Liquidity::Taker, ctx);
                        } else if !marketable && order.tif == TimeInForce::Gtc {
                            let slot = self.own.insert(order, Slot::Free);
                            self.own.rest(slot);
                        } else {
                            // IOC/FOK that cannot fill at the open, or post-only that would take.
                            Self::cancel_rest(&order, ctx);
                        }
                    }
                }
            }
            self.pending = pending;
            self.pending.clear();
        }

        // 2. Stops: a buy stop fires if the high reaches its trigger, a sell stop if
        // the low does; at the open if the bar gapped through.
        self.deferred.clear();
        if !self.buy_stops.is_empty() || !self.sell_stops.is_empty() {
            self.collect_triggered(Some(bar.high), Some(bar.low));
            let fired = std::mem::take(&mut self.scratch);
            for &slot in &fired {
                let order = *self.own.get(slot);
                self.own.release(slot);
                let Some(trigger) = stop_trigger(&order) else {
                    continue;
                };
                let gapped = within(order.side.opposite(), bar.open, trigger);
                let (at, after) = if gapped {
                    (bar.open, Some((bar.low, bar.high)))
                } else {
                    (trigger, None)
                };
                ctx.triggered(order.id);
                if let Some(rest) = self.run_triggered(order, at, after, slippage, ctx) {
                    self.deferred.push(self.own.insert(rest, Slot::Free));
                }
            }
            self.scratch = fired;
        }

        // 3. Resting limits the bar traded strictly through.
        for side in [Side::Buy, Side::Sell] {
            let (extreme, open) = match side {
                Side::Buy => (bar.low, bar.open),
                Side::Sell => (bar.high, bar.open),
            };
            while let Some(slot) = self.own.best(side) {
                let order = *self.own.get(slot);
                if !through(side, extreme, order.limit) {
                    break;
                }
                let (price, liquidity) = if through(side, open, order.limit) && !order.post_only {
                    (self.taker_price(&order, open, slippage), Liquidity::Taker)
                } else {
                    (order.limit, Liquidity::Maker)
                };
                self.fill_resting(slot, price, order.remaining(), liquidity, ctx);
            }
        }

        // 4. Fired stop-limits start resting now, in arrival order.
        for i in 0..self.deferred.len() {
            let slot = self.deferred[i];
            self.own.rest(slot);
        }
    }
}

/// The trigger price of a stop order.
fn stop_trigger(order: &Order) -> Option<Price> {
    match order.kind {
        OrderKind::StopMarket { trigger } | OrderKind::StopLimit { trigger, .. } => Some(trigger),
        OrderKind::Market | OrderKind::Limit { .. } => None,
    }
}
