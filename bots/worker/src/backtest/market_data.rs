//! Reading market data for a backtest: picks the loader from the file's extension and
//! content, then brings the bars to the strategy's timeframe.

use std::path::Path;

use tradewind_core::data::aggregate::{bars_from_trades, resample};
use tradewind_core::data::load::{L1Event, LoadError, binance_klines, l1_jsonl, ohlcv_csv};
use tradewind_core::data::{Bar, Trade};

/// The formats the backtest reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Generic OHLCV CSV with a header.
    OhlcvCsv,
    /// Binance kline CSV: 12 columns, no header.
    BinanceKlines,
    /// Trade/quote JSON Lines; trades are aggregated into bars.
    TradesJsonl,
}

/// Why the data cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// File.
        file: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A row is bad.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Bars could not be aggregated.
    #[error("{file}: {reason}")]
    Aggregate {
        /// File.
        file: String,
        /// Why.
        reason: String,
    },
    /// Nothing to trade on.
    #[error("{file}: no bars (no data rows, or no trades in a JSONL file)")]
    Empty {
        /// File.
        file: String,
    },
    /// The data's bars are longer than the strategy's timeframe.
    #[error(
        "{file}: bars are {data_secs}s apart but the strategy's timeframe is {want_secs}s; use finer data"
    )]
    TooCoarse {
        /// File.
        file: String,
        /// Spacing of the data.
        data_secs: i64,
        /// Strategy timeframe.
        want_secs: i64,
    },
}

/// Detects the format: `.jsonl` is trades; a CSV whose first field is an integer and that
/// has 12 columns is Binance klines; any other CSV must have an OHLCV header.
pub fn detect(path: &Path, text: &str) -> Format {
    if path
        .extension()
        .is_some_and(|e| e == "jsonl" || e == "ndjson")
    {
        return Format::TradesJsonl;
    }
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let fields: Vec<&str> = first.split(',').collect();
    if fields.len() == 12 && fields[0].trim().parse::<i64>().is_ok() {
        Format::BinanceKlines
    } else {
        Format::OhlcvCsv
    }
}

/// Smallest spacing between consecutive bars, in seconds (None for fewer than two bars).
fn spacing_secs(bars: &[Bar]) -> Option<i64> {
    bars.windows(2)
        .map(|w| (w[1].ts - w[0].ts) / 1_000_000_000)
        .filter(|d| *d > 0)
        .min()
}

/// Loads `path` and returns bars of `timeframe_secs`.
pub fn load_bars(path: &Path, timeframe_secs: u64) -> Result<(Vec<Bar>, Format), DataError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        file: file.clone(),
        source,
    })?;
    let format = detect(path, &text);
    let period_ns = timeframe_secs as i64 * 1_000_000_000;
    let agg_err = |e: tradewind_core::data::aggregate::AggregateError| DataError::Aggregate {
        file: file.clone(),
        reason: e.to_string(),
    };
    let bars = match format {
        Format::TradesJsonl => {
            let trades: Vec<Trade> = l1_jsonl(&file, &text)?
                .into_iter()
                .filter_map(|e| match e {
                    L1Event::Trade(t) => Some(t),
                    L1Event::Quote(_) => None,
                })
                .collect();
            bars_from_trades(&trades, period_ns).map_err(agg_err)?
        }
        Format::BinanceKlines | Format::OhlcvCsv => {
            let bars = if format == Format::BinanceKlines {
                binance_klines(&file, &text)?
            } else {
                ohlcv_csv(&file, &text)?
            };
            match spacing_secs(&bars) {
                Some(d) if d > timeframe_secs as i64 => {
                    return Err(DataError::TooCoarse {
                        file,
                        data_secs: d,
                        want_secs: timeframe_secs as i64,
                    });
                }
                Some(d) if d < timeframe_secs as i64 => {
                    resample(&bars, period_ns).map_err(agg_err)?
                }
                _ => bars,
            }
        }
    };
    if bars.is_empty() {
        return Err(DataError::Empty { file });
    }
    Ok((bars, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(detect(Path::new("x.jsonl"), ""), Format::TradesJsonl);
        let kline = "1742944020000,87232.00,87232.01,87232.00,87232.01,0.02038,1742944020999,1777.78,2,0.02,1767.32,0";
        assert_eq!(detect(Path::new("k.csv"), kline), Format::BinanceKlines);
        assert_eq!(
            detect(Path::new("g.csv"), ",Open,High,Low,Close,Volume\n"),
            Format::OhlcvCsv
        );
    }
}
