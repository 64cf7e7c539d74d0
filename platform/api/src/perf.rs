//! Performance from equity snapshots: the curve, PnL over the range and the largest
//! drawdown. Pure: decimal money in, decimal money out.

use std::collections::BTreeMap;

use tradewind_core::fixed::{Money, RoundingMode};

/// What a range of an equity curve says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The first point's equity.
    pub start: Money,
    /// The last point's equity.
    pub end: Money,
    /// `end - start`.
    pub pnl: Money,
    /// The largest fall from a running peak.
    pub max_drawdown: Money,
    /// That fall as a fraction of its peak (6 decimals); `None` when the peak is not
    /// positive.
    pub max_drawdown_ratio: Option<Money>,
}

/// The summary of a curve in time order; `None` for an empty one or on overflow.
pub fn summarize(curve: &[(i64, Money)]) -> Option<Summary> {
    let (&(_, start), &(_, end)) = (curve.first()?, curve.last()?);
    let mut peak = start;
    let mut worst = Money::ZERO;
    let mut worst_peak = start;
    for &(_, equity) in curve {
        if equity > peak {
            peak = equity;
        }
        let fall = peak.checked_sub(equity)?;
        if fall > worst {
            worst = fall;
            worst_peak = peak;
        }
    }
    let ratio = if worst_peak.raw() > 0 {
        worst
            .mul_ratio(1_000_000_000, worst_peak.raw(), RoundingMode::HalfEven)
            .and_then(|r| r.round_dp(6, RoundingMode::HalfEven))
    } else {
        None
    };
    Some(Summary {
        start,
        end,
        pnl: end.checked_sub(start)?,
        max_drawdown: worst,
        max_drawdown_ratio: ratio,
    })
}

/// An account's curve from its bots' snapshots `(bot, ts, equity)` in time order: at
/// each snapshot, the sum of every bot's latest equity so far. `None` on overflow.
pub fn account_curve(snapshots: &[(String, i64, Money)]) -> Option<Vec<(i64, Money)>> {
    let mut latest: BTreeMap<&str, Money> = BTreeMap::new();
    let mut out: Vec<(i64, Money)> = Vec::with_capacity(snapshots.len());
    for (bot, ts, equity) in snapshots {
        latest.insert(bot, *equity);
        let mut total = Money::ZERO;
        for m in latest.values() {
            total = total.checked_add(*m)?;
        }
        // Snapshots at one instant make one point.
        match out.last_mut() {
            Some(last) if last.0 == *ts => last.1 = total,
            _ => out.push((*ts, total)),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn pnl_and_the_largest_drawdown_from_its_peak() {
        let curve = [
            (1, m("1000")),
            (2, m("1200")),
            (3, m("900")),
            (4, m("1300")),
            (5, m("1250")),
        ];
        let s = summarize(&curve).unwrap();
        assert_eq!(s.pnl, m("250"));
        assert_eq!(s.max_drawdown, m("300"));
        assert_eq!(s.max_drawdown_ratio, Some(m("0.25")));
        assert_eq!(summarize(&[]), None);
        let flat = summarize(&[(1, m("5"))]).unwrap();
        assert_eq!((flat.pnl, flat.max_drawdown), (Money::ZERO, Money::ZERO));
    }

    #[test]
    fn the_account_sums_each_bots_latest_equity() {
        let snaps = vec![
            ("a".to_string(), 1, m("100")),
            ("b".to_string(), 1, m("50")),
            ("a".to_string(), 2, m("110")),
            ("b".to_string(), 3, m("40")),
        ];
        assert_eq!(
            account_curve(&snaps).unwrap(),
            vec![(1, m("150")), (2, m("160")), (3, m("150"))]
        );
    }
}
