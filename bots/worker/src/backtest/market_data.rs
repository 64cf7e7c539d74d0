//! Reading market data for a backtest: picks the loader from the file's extension and
//! content, then brings the bars to the strategy's timeframe.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use tradewind_core::data::Bar;
use tradewind_core::data::aggregate::BarAggregator;
use tradewind_core::data::load::{
    BinanceKlines, L1Event, L1Jsonl, LoadError, OhlcvCsv, SeriesPrecision,
};

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

/// Detects the format from the path and the first non-blank line: `.jsonl` is trades; a
/// CSV whose first field is an integer and that has 12 columns is Binance klines; any
/// other CSV must have an OHLCV header.
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

/// Bars handed to the engine at a time: the only buffer of bars (constant memory).
pub const CHUNK_BARS: usize = 4_096;

/// What a first pass over the file found, before any bar reaches the strategy: its
/// format, the series' precision (the instrument's tick and lot follow from it) and
/// whether bars are aggregated to the strategy's timeframe.
#[derive(Clone, Debug)]
pub struct DataPlan {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// Decimals of prices and sizes across the whole file.
    pub precision: SeriesPrecision,
    /// Data rows (bars, or trade and quote records).
    pub rows: u64,
    /// Aggregate into bars of this many nanoseconds (finer bars, or trades).
    aggregate_ns: Option<i64>,
}

fn file_name(path: &Path) -> String {
    path.display().to_string()
}

fn open(path: &Path) -> Result<BufReader<File>, DataError> {
    File::open(path)
        .map(|f| BufReader::with_capacity(1 << 16, f))
        .map_err(|source| DataError::Io {
            file: file_name(path),
            source,
        })
}

/// The first non-blank line (for [`detect`]), at most 64 KiB of it.
fn first_line(path: &Path) -> Result<String, DataError> {
    let mut reader = open(path)?;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(1 << 16)
            .read_until(b'\n', &mut line)
            .map_err(|source| DataError::Io {
                file: file_name(path),
                source,
            })?;
        let text = String::from_utf8_lossy(&line);
        if n == 0 || !text.trim().is_empty() {
            return Ok(text.into_owned());
        }
    }
}

/// The first pass: reads and checks every row (errors name the file, line and reason),
/// and finds the precision and bar spacing, in constant memory.
pub fn scan(path: &Path, timeframe_secs: u64) -> Result<DataPlan, DataError> {
    let file = file_name(path);
    let format = detect(path, &first_line(path)?);
    let period_ns = timeframe_secs as i64 * 1_000_000_000;
    let reader = open(path)?;
    let (precision, rows, aggregate_ns) = match format {
        Format::TradesJsonl => {
            let mut events = L1Jsonl::new(&file, reader);
            let (mut rows, mut trades) = (0u64, 0u64);
            for ev in events.by_ref() {
                rows += 1;
                if matches!(ev?, L1Event::Trade(_)) {
                    trades += 1;
                }
            }
            if trades == 0 {
                return Err(DataError::Empty { file });
            }
            (events.precision(), rows, Some(period_ns))
        }
        Format::BinanceKlines | Format::OhlcvCsv => {
            let mut bars: Box<dyn BarRows> = if format == Format::BinanceKlines {
                Box::new(BinanceKlines::new(&file, reader))
            } else {
                Box::new(OhlcvCsv::new(&file, reader))
            };
            let mut rows = 0u64;
            let mut prev: Option<i64> = None;
            // Smallest spacing between consecutive bars, in whole seconds.
            let mut spacing: Option<i64> = None;
            while let Some(bar) = bars.next_bar() {
                let bar = bar?;
                rows += 1;
                if let Some(p) = prev {
                    let d = (bar.ts - p) / 1_000_000_000;
                    if d > 0 {
                        spacing = Some(spacing.map_or(d, |s| s.min(d)));
                    }
                }
                prev = Some(bar.ts);
            }
            if rows == 0 {
                return Err(DataError::Empty { file });
            }
            let aggregate = match spacing {
                Some(d) if d > timeframe_secs as i64 => {
                    return Err(DataError::TooCoarse {
                        file,
                        data_secs: d,
                        want_secs: timeframe_secs as i64,
                    });
                }
                Some(d) if d < timeframe_secs as i64 => Some(period_ns),
                _ => None,
            };
            (bars.precision(), rows, aggregate)
        }
    };
    Ok(DataPlan {
        path: path.to_owned(),
        format,
        precision,
        rows,
        aggregate_ns,
    })
}

/// The bar readers behind one interface (the scan and the stream treat them alike).
trait BarRows {
    fn next_bar(&mut self) -> Option<Result<Bar, LoadError>>;
    fn precision(&self) -> SeriesPrecision;
}

impl<R: BufRead> BarRows for OhlcvCsv<R> {
    fn next_bar(&mut self) -> Option<Result<Bar, LoadError>> {
        self.next()
    }
    fn precision(&self) -> SeriesPrecision {
        OhlcvCsv::precision(self)
    }
}

impl<R: BufRead> BarRows for BinanceKlines<R> {
    fn next_bar(&mut self) -> Option<Result<Bar, LoadError>> {
        self.next()
    }
    fn precision(&self) -> SeriesPrecision {
        BinanceKlines::precision(self)
    }
}

/// Bars at the plan's precision and the strategy's timeframe, gathered into chunks of
/// at most [`CHUNK_BARS`].
struct Chunker<'f, E> {
    agg: Option<BarAggregator>,
    buf: Vec<Bar>,
    sink: &'f mut dyn FnMut(&[Bar]) -> Result<(), E>,
    bars: u64,
}

impl<E: From<DataError>> Chunker<'_, E> {
    fn push(&mut self, bar: Bar, file: &str) -> Result<(), E> {
        let bar = match &mut self.agg {
            None => Some(bar),
            Some(agg) => agg.push_bar(&bar).map_err(|e| agg_err(file, e))?,
        };
        if let Some(bar) = bar {
            self.buf.push(bar);
            if self.buf.len() == CHUNK_BARS {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), E> {
        self.bars += self.buf.len() as u64;
        (self.sink)(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<u64, E> {
        if let Some(last) = self.agg.as_mut().and_then(BarAggregator::flush) {
            self.buf.push(last);
        }
        self.flush()?;
        Ok(self.bars)
    }
}

fn agg_err(file: &str, e: tradewind_core::data::aggregate::AggregateError) -> DataError {
    DataError::Aggregate {
        file: file.to_owned(),
        reason: e.to_string(),
    }
}

/// The second pass: every bar, in order, to `sink` in chunks; returns the number of bars.
pub fn stream<E: From<DataError>>(
    plan: &DataPlan,
    mut sink: impl FnMut(&[Bar]) -> Result<(), E>,
) -> Result<u64, E> {
    let file = file_name(&plan.path);
    let reader = open(&plan.path)?;
    let agg = match plan.aggregate_ns {
        Some(ns) => Some(BarAggregator::new(ns).map_err(|e| agg_err(&file, e))?),
        None => None,
    };
    let mut out = Chunker {
        agg,
        buf: Vec::with_capacity(CHUNK_BARS),
        sink: &mut sink,
        bars: 0,
    };
    let pr = plan.precision;
    match plan.format {
        Format::TradesJsonl => {
            for ev in L1Jsonl::new(&file, reader) {
                if let L1Event::Trade(t) = pr.event(ev.map_err(DataError::from)?) {
                    let p = t.price;
                    let bar = Bar {
                        ts: t.ts,
                        open: p,
                        high: p,
                        low: p,
                        close: p,
                        volume: t.size,
                    };
                    out.push(bar, &file)?;
                }
            }
        }
        Format::BinanceKlines | Format::OhlcvCsv => {
            let mut bars: Box<dyn BarRows> = if plan.format == Format::BinanceKlines {
                Box::new(BinanceKlines::new(&file, reader))
            } else {
                Box::new(OhlcvCsv::new(&file, reader))
            };
            while let Some(bar) = bars.next_bar() {
                out.push(pr.bar(bar.map_err(DataError::from)?), &file)?;
            }
        }
    }
    out.finish()
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
