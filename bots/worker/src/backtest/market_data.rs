//! Reading market data for a backtest: picks the loader from the file's content and
//! extension, then brings the bars to the strategy's timeframe; and writing the columnar
//! binary format (`tradewind-bot data convert`).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use tradewind_core::data::Bar;
use tradewind_core::data::aggregate::BarAggregator;
use tradewind_core::data::columnar::{self, BarsReader, BarsWriter, ColumnarError};
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
    /// Tradewind columnar bars (`tradewind_core::data::columnar`), by its magic bytes.
    Columnar,
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
    /// A columnar file is damaged, or cannot be written.
    #[error(transparent)]
    Columnar(#[from] ColumnarError),
    /// Trades become bars only of a given length.
    #[error("{file}: trades need a timeframe to become bars (--timeframe)")]
    NeedsTimeframe {
        /// File.
        file: String,
    },
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
    /// Data rows (bars, or trade and quote records); of the first bars only when the
    /// plan is not `checked`.
    pub rows: u64,
    /// Whether the whole file was read to make this plan ([`scan`]); a plan from its
    /// first bars ([`plan`]) is confirmed while it streams.
    pub checked: bool,
    /// Aggregate into bars of this many nanoseconds (finer bars, or trades).
    aggregate_ns: Option<i64>,
    /// The strategy's timeframe, in seconds (what the bars' spacing is checked against).
    timeframe_secs: Option<u64>,
}

/// What the spacing of bars decides: keep them, aggregate them, or refuse the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spacing {
    Keep,
    Aggregate(i64),
    TooCoarse(i64),
}

/// The decision for bars at least `spacing` whole seconds apart (`None`: no two bars at
/// different times) and the strategy's timeframe.
fn spacing_decision(spacing: Option<i64>, timeframe_secs: Option<u64>) -> Spacing {
    match (spacing, timeframe_secs) {
        (Some(d), Some(want)) if d > want as i64 => Spacing::TooCoarse(d),
        (Some(d), Some(want)) if d < want as i64 => Spacing::Aggregate(want as i64 * 1_000_000_000),
        _ => Spacing::Keep,
    }
}

/// The smallest spacing of bars in whole seconds, updated bar by bar.
#[derive(Clone, Copy, Debug, Default)]
struct MinSpacing {
    prev: Option<i64>,
    min: Option<i64>,
}

impl MinSpacing {
    /// Notes a bar's time; `true` when the smallest spacing changed.
    #[inline]
    fn note(&mut self, ts: i64) -> bool {
        let mut changed = false;
        if let Some(p) = self.prev {
            let d = (ts - p) / 1_000_000_000;
            if d > 0 && self.min.is_none_or(|m| d < m) {
                self.min = Some(d);
                changed = true;
            }
        }
        self.prev = Some(ts);
        changed
    }
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

/// Whether the file starts with the columnar format's magic bytes.
fn is_columnar(path: &Path) -> Result<bool, DataError> {
    let mut head = [0u8; 8];
    let mut reader = open(path)?;
    let mut got = 0;
    while got < head.len() {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(source) => {
                return Err(DataError::Io {
                    file: file_name(path),
                    source,
                });
            }
        }
    }
    Ok(got == head.len() && head == columnar::MAGIC)
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
/// and finds the precision and bar spacing, in constant memory. With a timeframe, bars
/// are checked against it and finer ones aggregated; without, they stay as they are
/// (trades then cannot become bars).
pub fn scan(path: &Path, timeframe_secs: Option<u64>) -> Result<DataPlan, DataError> {
    let file = file_name(path);
    let format = format_of(path)?;
    let reader = open(path)?;
    let (precision, rows, aggregate_ns) = match format {
        Format::TradesJsonl => {
            let Some(timeframe_secs) = timeframe_secs else {
                return Err(DataError::NeedsTimeframe { file });
            };
            let period_ns = timeframe_secs as i64 * 1_000_000_000;
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
        Format::BinanceKlines | Format::OhlcvCsv | Format::Columnar => {
            let mut bars = bar_rows(format, &file, reader)?;
            let mut rows = 0u64;
            let mut spacing = MinSpacing::default();
            while let Some(bar) = bars.next_bar() {
                spacing.note(bar?.ts);
                rows += 1;
            }
            if rows == 0 {
                return Err(DataError::Empty { file });
            }
            let aggregate = match spacing_decision(spacing.min, timeframe_secs) {
                Spacing::TooCoarse(d) => {
                    return Err(DataError::TooCoarse {
                        file,
                        data_secs: d,
                        want_secs: timeframe_secs.unwrap_or_default() as i64,
                    });
                }
                Spacing::Aggregate(ns) => Some(ns),
                Spacing::Keep => None,
            };
            (bars.precision(), rows, aggregate)
        }
    };
    Ok(DataPlan {
        path: path.to_owned(),
        format,
        precision,
        rows,
        checked: true,
        aggregate_ns,
        timeframe_secs,
    })
}

/// A plan from the file's first bars only (a columnar file's precision is in its
/// header), so the backtest reads the file once: [`stream`] confirms it as the bars go
/// and stops early (`Ok(None)`) if a later bar has more decimals, or their spacing
/// decides otherwise; then a [`scan`] of the whole file makes the plan. Trades always
/// get the whole-file scan. Errors in the first bars are the scan's.
pub fn plan(path: &Path, timeframe_secs: Option<u64>) -> Result<DataPlan, DataError> {
    let file = file_name(path);
    let format = format_of(path)?;
    if format == Format::TradesJsonl {
        return scan(path, timeframe_secs);
    }
    let mut bars = bar_rows(format, &file, open(path)?)?;
    let mut rows = 0u64;
    let mut spacing = MinSpacing::default();
    while rows < CHUNK_BARS as u64
        && let Some(bar) = bars.next_bar()
    {
        spacing.note(bar?.ts);
        rows += 1;
    }
    if rows == 0 {
        return Err(DataError::Empty { file });
    }
    let aggregate_ns = match spacing_decision(spacing.min, timeframe_secs) {
        // Later bars closer together could still make the file usable: decide on all.
        Spacing::TooCoarse(_) => return scan(path, timeframe_secs),
        Spacing::Aggregate(ns) => Some(ns),
        Spacing::Keep => None,
    };
    Ok(DataPlan {
        path: path.to_owned(),
        format,
        precision: bars.precision(),
        rows,
        checked: false,
        aggregate_ns,
        timeframe_secs,
    })
}

fn format_of(path: &Path) -> Result<Format, DataError> {
    Ok(if is_columnar(path)? {
        Format::Columnar
    } else {
        detect(path, &first_line(path)?)
    })
}

/// The bar readers behind one interface (the scan and the stream treat them alike).
trait BarRows {
    fn next_bar(&mut self) -> Option<Result<Bar, DataError>>;
    fn precision(&self) -> SeriesPrecision;
}

fn bar_rows(
    format: Format,
    file: &str,
    reader: BufReader<File>,
) -> Result<Box<dyn BarRows>, DataError> {
    Ok(match format {
        Format::BinanceKlines => Box::new(BinanceKlines::new(file, reader)),
        Format::OhlcvCsv => Box::new(OhlcvCsv::new(file, reader)),
        Format::Columnar => Box::new(ColumnarRows {
            reader: BarsReader::new(reader, file)?,
            block: Vec::new(),
            next: 0,
        }),
        Format::TradesJsonl => unreachable!("trades are not bar rows"),
    })
}

impl<R: BufRead> BarRows for OhlcvCsv<R> {
    fn next_bar(&mut self) -> Option<Result<Bar, DataError>> {
        self.next().map(|r| r.map_err(DataError::from))
    }
    fn precision(&self) -> SeriesPrecision {
        OhlcvCsv::precision(self)
    }
}

impl<R: BufRead> BarRows for BinanceKlines<R> {
    fn next_bar(&mut self) -> Option<Result<Bar, DataError>> {
        self.next().map(|r| r.map_err(DataError::from))
    }
    fn precision(&self) -> SeriesPrecision {
        BinanceKlines::precision(self)
    }
}

/// A columnar file, bar by bar out of its blocks.
struct ColumnarRows<R: Read> {
    reader: BarsReader<R>,
    block: Vec<Bar>,
    next: usize,
}

impl<R: Read> BarRows for ColumnarRows<R> {
    fn next_bar(&mut self) -> Option<Result<Bar, DataError>> {
        if self.next == self.block.len() {
            self.next = 0;
            match self.reader.next_block(&mut self.block) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Err(e.into())),
            }
        }
        self.next += 1;
        Some(Ok(self.block[self.next - 1]))
    }
    fn precision(&self) -> SeriesPrecision {
        SeriesPrecision {
            price: self.reader.price_precision(),
            size: self.reader.size_precision(),
        }
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
        if self.add(bar, file)? {
            self.flush()?;
        }
        Ok(())
    }

    /// Adds a bar without handing the chunk on; `true` when the chunk is full.
    #[inline]
    fn add(&mut self, bar: Bar, file: &str) -> Result<bool, DataError> {
        let bar = match &mut self.agg {
            None => Some(bar),
            Some(agg) => agg.push_bar(&bar).map_err(|e| agg_err(file, e))?,
        };
        if let Some(bar) = bar {
            self.buf.push(bar);
        }
        Ok(self.buf.len() >= CHUNK_BARS)
    }

    /// Hands `bars` on as one chunk (nothing may be waiting in the buffer).
    fn pass(&mut self, bars: &[Bar]) -> Result<(), E> {
        debug_assert!(self.buf.is_empty() && self.agg.is_none());
        self.bars += bars.len() as u64;
        (self.sink)(bars)
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

/// Every bar, in order, to `sink` in chunks; returns the number of bars. A plan that is
/// not `checked` ([`plan`]) is confirmed before each chunk reaches `sink`: `Ok(None)`
/// when a bar showed it wrong (what `sink` got so far is to be thrown away).
pub fn stream<E: From<DataError>>(
    plan: &DataPlan,
    mut sink: impl FnMut(&[Bar]) -> Result<(), E>,
) -> Result<Option<u64>, E> {
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
        Format::OhlcvCsv => {
            let rows = OhlcvCsv::new(&file, reader);
            if !stream_rows(plan, &file, rows, &mut out)? {
                return Ok(None);
            }
        }
        Format::BinanceKlines => {
            let rows = BinanceKlines::new(&file, reader);
            if !stream_rows(plan, &file, rows, &mut out)? {
                return Ok(None);
            }
        }
        Format::Columnar if plan.aggregate_ns.is_none() => {
            // Blocks straight to the sink: the decoder's bars are at the file's precision.
            let mut reader = BarsReader::new(reader, &file).map_err(DataError::from)?;
            let mut block = Vec::with_capacity(CHUNK_BARS);
            let mut spacing = MinSpacing::default();
            while reader.next_block(&mut block).map_err(DataError::from)? {
                let mut changed = false;
                for b in &block {
                    changed |= spacing.note(b.ts);
                }
                if changed && !plan_holds(plan, pr, &spacing) {
                    return Ok(None);
                }
                out.pass(&block)?;
            }
        }
        Format::Columnar => {
            let rows = ColumnarRows {
                reader: BarsReader::new(reader, &file).map_err(DataError::from)?,
                block: Vec::new(),
                next: 0,
            };
            if !stream_rows(plan, &file, rows, &mut out)? {
                return Ok(None);
            }
        }
    }
    out.finish().map(Some)
}

/// Whether bars read so far (at `precision`, `spacing` apart) agree with the plan; a
/// checked plan always does.
fn plan_holds(plan: &DataPlan, precision: SeriesPrecision, spacing: &MinSpacing) -> bool {
    let decided = plan.aggregate_ns.map_or(Spacing::Keep, Spacing::Aggregate);
    plan.checked
        || (precision == plan.precision
            && spacing_decision(spacing.min, plan.timeframe_secs) == decided)
}

/// The rows of a bar file through `out`, confirming the plan before each chunk is handed
/// on; `Ok(false)` when a bar showed the plan wrong.
fn stream_rows<E: From<DataError>>(
    plan: &DataPlan,
    file: &str,
    mut bars: impl BarRows,
    out: &mut Chunker<'_, E>,
) -> Result<bool, E> {
    let pr = plan.precision;
    let mut spacing = MinSpacing::default();
    while let Some(bar) = bars.next_bar() {
        let bar = bar?;
        if spacing.note(bar.ts) && !plan_holds(plan, bars.precision(), &spacing) {
            return Ok(false);
        }
        if out.add(pr.bar(bar), file)? {
            if !plan_holds(plan, bars.precision(), &spacing) {
                return Ok(false);
            }
            out.flush()?;
        }
    }
    Ok(plan_holds(plan, bars.precision(), &spacing))
}

/// `tradewind-bot data convert`: the file's bars (trades aggregated to `timeframe_secs`;
/// finer bars too when it is given) written in the columnar format to `to`. Returns the
/// plan of the input and the bars written.
pub fn convert(
    from: &Path,
    to: &Path,
    timeframe_secs: Option<u64>,
) -> Result<(DataPlan, u64), DataError> {
    let plan = scan(from, timeframe_secs)?;
    let name = file_name(to);
    let out = File::create(to).map_err(|source| DataError::Io {
        file: name.clone(),
        source,
    })?;
    let mut writer = BarsWriter::new(
        std::io::BufWriter::with_capacity(1 << 16, out),
        &name,
        plan.precision.price,
        plan.precision.size,
        columnar::DEFAULT_BLOCK_BARS,
    )?;
    // A checked plan streams to the end.
    stream(&plan, |bars: &[Bar]| -> Result<(), DataError> {
        for bar in bars {
            writer.push(bar)?;
        }
        Ok(())
    })?;
    let (_, written) = writer.finish()?;
    Ok((plan, written))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_csv(name: &str, rows: impl Iterator<Item = String>) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tw-md-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("bars.csv");
        let mut text = String::from("timestamp,open,high,low,close,volume\n");
        rows.for_each(|r| text.push_str(&r));
        std::fs::write(&path, text).expect("write");
        path
    }

    fn count(plan: &DataPlan) -> Option<u64> {
        stream(plan, |_: &[Bar]| -> Result<(), DataError> { Ok(()) }).expect("stream")
    }

    /// A plan from the first bars holds, or streaming says it does not before any bar
    /// it got wrong reaches the sink; the whole-file scan then decides.
    #[test]
    fn a_plan_from_the_first_bars_is_confirmed_or_refused_while_streaming() {
        let n = 3 * CHUNK_BARS as u64;
        let row = |i: u64, step: u64, price: &str| {
            format!(
                "{},{price},{price},{price},{price},1\n",
                1_700_000_000 + step * i
            )
        };
        // The same precision and spacing throughout: one pass.
        let even = temp_csv("even", (0..n).map(|i| row(i, 60, "10.5")));
        let p = plan(&even, Some(60)).expect("plan");
        assert!(!p.checked);
        assert_eq!(count(&p), Some(n));

        // A third decimal late in the file.
        let late = temp_csv(
            "late-decimals",
            (0..n).map(|i| row(i, 60, if i == n - 10 { "10.125" } else { "10.5" })),
        );
        let p = plan(&late, Some(60)).expect("plan");
        assert_eq!((p.precision.price, p.checked), (1, false));
        let mut handed = 0u64;
        let got = stream(&p, |bars: &[Bar]| -> Result<(), DataError> {
            assert!(bars.iter().all(|b| b.close.precision() == 1));
            handed += bars.len() as u64;
            Ok(())
        })
        .expect("stream");
        assert_eq!((got, handed), (None, 2 * CHUNK_BARS as u64));
        let p = scan(&late, Some(60)).expect("scan");
        assert_eq!((p.precision.price, p.checked), (3, true));
        assert_eq!(count(&p), Some(n));

        // Bars closer together late in the file: aggregated to the timeframe after all.
        let closer = temp_csv(
            "closer",
            (0..n).map(|i| row(if i + 1 == n { 2 * i - 1 } else { 2 * i }, 30, "10.5")),
        );
        let p = plan(&closer, Some(60)).expect("plan");
        assert_eq!(p.aggregate_ns, None);
        assert_eq!(count(&p), None);
        let p = scan(&closer, Some(60)).expect("scan");
        assert_eq!(p.aggregate_ns, Some(60_000_000_000));
        assert_eq!(count(&p), Some(n - 1));

        // Bars too far apart at first but not later: the whole file decides.
        let coarse = temp_csv(
            "coarse",
            (0..n).map(|i| {
                let k = CHUNK_BARS as u64 + 10;
                row(if i < k { 2 * i } else { i + k }, 60, "10.5")
            }),
        );
        let p = plan(&coarse, Some(60)).expect("plan");
        assert!(p.checked);
        assert_eq!(count(&p), Some(n));
    }

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
