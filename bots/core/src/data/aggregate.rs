//! Building bars of a strategy's timeframe from finer bars or from trades.
//!
//! Buckets are aligned to the UNIX epoch (a 1h bar starts on the hour, UTC), so the same
//! data gives the same bars wherever it starts. A bucket is emitted when the first input
//! of a later bucket arrives (its interval is then known to be over), or by `flush` at
//! the end of the data.

use super::{Bar, Trade, UnixNanos};

/// Why input cannot be aggregated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AggregateError {
    /// The period must be positive.
    #[error("aggregation period must be positive, got {0} ns")]
    BadPeriod(i64),
    /// Input went back in time.
    #[error("input at {ts} is older than the bucket starting at {bucket}")]
    OutOfOrder {
        /// Offending timestamp.
        ts: UnixNanos,
        /// Start of the current bucket.
        bucket: UnixNanos,
    },
    /// Volume overflowed the quantity range.
    #[error("volume overflow in the bucket starting at {0}")]
    VolumeOverflow(UnixNanos),
}

/// Streams finer bars (or trades) into bars of `period`.
#[derive(Debug, Clone)]
pub struct BarAggregator {
    period: i64,
    current: Option<Bar>,
}

impl BarAggregator {
    /// An aggregator for bars of `period_ns` nanoseconds.
    pub fn new(period_ns: i64) -> Result<Self, AggregateError> {
        if period_ns <= 0 {
            return Err(AggregateError::BadPeriod(period_ns));
        }
        Ok(Self {
            period: period_ns,
            current: None,
        })
    }

    fn bucket(&self, ts: UnixNanos) -> UnixNanos {
        ts.div_euclid(self.period) * self.period
    }

    /// Adds a finer bar; returns the previous bucket's bar if this one starts a new bucket.
    pub fn push_bar(&mut self, bar: &Bar) -> Result<Option<Bar>, AggregateError> {
        let bucket = self.bucket(bar.ts);
        match &mut self.current {
            Some(cur) if cur.ts == bucket => {
                if bar.high > cur.high {
                    cur.high = bar.high;
                }
                if bar.low < cur.low {
                    cur.low = bar.low;
                }
                cur.close = bar.close;
                cur.volume = cur
                    .volume
                    .checked_add(bar.volume)
                    .ok_or(AggregateError::VolumeOverflow(bucket))?;
                Ok(None)
            }
            Some(cur) if bucket < cur.ts => Err(AggregateError::OutOfOrder {
                ts: bar.ts,
                bucket: cur.ts,
            }),
            _ => Ok(self.current.replace(Bar { ts: bucket, ..*bar })),
        }
    }

    /// Adds a trade; returns the previous bucket's bar if this trade starts a new bucket.
    pub fn push_trade(&mut self, trade: &Trade) -> Result<Option<Bar>, AggregateError> {
        let p = trade.price;
        self.push_bar(&Bar {
            ts: trade.ts,
            open: p,
            high: p,
            low: p,
            close: p,
            volume: trade.size,
        })
    }

    /// The last, possibly partial, bucket.
    pub fn flush(&mut self) -> Option<Bar> {
        self.current.take()
    }
}

/// Aggregates a whole series of finer bars into bars of `period_ns`.
pub fn resample(bars: &[Bar], period_ns: i64) -> Result<Vec<Bar>, AggregateError> {
    let mut agg = BarAggregator::new(period_ns)?;
    let mut out = Vec::with_capacity(bars.len() / 2 + 1);
    for bar in bars {
        if let Some(done) = agg.push_bar(bar)? {
            out.push(done);
        }
    }
    out.extend(agg.flush());
    Ok(out)
}

/// Builds bars of `period_ns` from trades (open/high/low/close of the prices, summed sizes).
pub fn bars_from_trades(trades: &[Trade], period_ns: i64) -> Result<Vec<Bar>, AggregateError> {
    let mut agg = BarAggregator::new(period_ns)?;
    let mut out = Vec::new();
    for t in trades {
        if let Some(done) = agg.push_trade(t)? {
            out.push(done);
        }
    }
    out.extend(agg.flush());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Side;
    use crate::fixed::{Price, Quantity};

    const S: i64 = 1_000_000_000;

    fn bar(ts_s: i64, o: &str, h: &str, l: &str, c: &str, v: &str) -> Bar {
        let p = |s: &str| Price::parse(s, 2).unwrap();
        Bar::new(
            ts_s * S,
            p(o),
            p(h),
            p(l),
            p(c),
            Quantity::parse(v, 3).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn resamples_seconds_into_epoch_aligned_minutes() {
        let bars = [
            bar(59, "9", "9", "9", "9", "1"),
            bar(60, "10", "11", "9.5", "10.5", "1"),
            bar(61, "10.5", "12", "10", "11", "2"),
            bar(119, "11", "11", "8", "9", "0.5"),
            bar(120, "9", "9", "9", "9", "1"),
        ];
        let out = resample(&bars, 60 * S).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], Bar { ts: 0, ..bars[0] });
        assert_eq!(out[1], bar(60, "10", "12", "8", "9", "3.5"));
        assert_eq!(
            out[2],
            Bar {
                ts: 120 * S,
                ..bars[4]
            }
        );
    }

    #[test]
    fn trades_become_bars() {
        let t = |s: i64, p: &str, q: &str| Trade {
            ts: s * S,
            price: Price::parse(p, 2).unwrap(),
            size: Quantity::parse(q, 3).unwrap(),
            aggressor: Side::Buy,
        };
        let out = bars_from_trades(
            &[
                t(0, "10", "1"),
                t(1, "12", "1"),
                t(2, "11", "1"),
                t(60, "13", "2"),
            ],
            60 * S,
        )
        .unwrap();
        assert_eq!(
            out,
            vec![
                bar(0, "10", "12", "10", "11", "3"),
                bar(60, "13", "13", "13", "13", "2")
            ]
        );
    }

    #[test]
    fn refuses_time_travel_and_bad_periods() {
        let mut agg = BarAggregator::new(60 * S).unwrap();
        agg.push_bar(&bar(120, "1", "1", "1", "1", "1")).unwrap();
        assert!(matches!(
            agg.push_bar(&bar(30, "1", "1", "1", "1", "1")),
            Err(AggregateError::OutOfOrder { .. })
        ));
        assert!(BarAggregator::new(0).is_err());
    }
}
