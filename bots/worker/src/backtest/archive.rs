//! Backtests over a range of archived days (`--data blob://…` or `--data archive:…`),
//! streamed a day at a time with the next day fetched while the engine runs the current
//! one; and `tradewind-bot data archive`, which writes a file's bars as daily archives.

use std::path::Path;

use anyhow::{Context, Result, bail};
use tradewind_azure::args::ConnectionArgs;
use tradewind_azure::blob::{BlobClient, BlobOptions, endpoint_for};
use tradewind_core::data::Bar;
use tradewind_core::data::aggregate::BarAggregator;
use tradewind_core::data::archive::{BarsDay, Day};
use tradewind_core::data::load::SeriesPrecision;
use tradewind_market_store::archive::{Archive, ArchiveTarget, RangeSource, RangeSpec, StoreError};

use super::market_data::{self, CHUNK_BARS};

/// How to reach a Blob archive: the Azure flags, and an endpoint override (Azurite, a
/// private endpoint) for `blob://` specs.
#[derive(Clone, Debug, clap::Args)]
pub struct BlobArgs {
    /// Blob service endpoint for `blob://` data (default: the account's in the cloud,
    /// `https://{account}.blob.core.windows.net/`).
    #[arg(long, env = "TRADEWIND_BLOB_ENDPOINT")]
    pub blob_endpoint: Option<String>,
    /// Azure sign-in for `blob://` data.
    #[command(flatten)]
    pub azure: ConnectionArgs,
}

/// The archive a source names; signs in to Azure only for a Blob one.
pub fn open(source: &RangeSource, blob: &BlobArgs) -> Result<Archive> {
    Ok(match source {
        RangeSource::Dir(d) => Archive::Dir(d.clone()),
        RangeSource::Blob { account, container } => {
            let connection = blob
                .azure
                .connect("AzurePublic")
                .context("signing in to Azure for the blob archive")?;
            let endpoint = blob
                .blob_endpoint
                .clone()
                .unwrap_or_else(|| endpoint_for(&connection.cloud, account));
            let client = BlobClient::new(
                &endpoint,
                connection.credential.clone(),
                &connection.transport,
                BlobOptions::default(),
            )?;
            Archive::Blob {
                client,
                container: container.clone(),
            }
        }
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// A range of archived bars, ready to stream.
pub struct ArchiveData {
    spec: RangeSpec,
    archive: Archive,
    rt: tokio::runtime::Runtime,
}

impl ArchiveData {
    /// Parses `spec` and opens its archive.
    pub fn open(spec: &str, blob: &BlobArgs) -> Result<Self> {
        let spec = RangeSpec::parse(spec)?;
        let archive = open(&spec.source, blob)?;
        Ok(Self {
            spec,
            archive,
            rt: runtime()?,
        })
    }

    fn fetch(&self, day: Day) -> tokio::task::JoinHandle<Result<BarsDay, StoreError>> {
        let (archive, s) = (self.archive.clone(), self.spec.clone());
        self.rt.spawn(async move {
            archive
                .bars_day(&s.venue, &s.symbol, s.timeframe_secs, day)
                .await
        })
    }

    fn wait(&self, h: tokio::task::JoinHandle<Result<BarsDay, StoreError>>) -> Result<BarsDay> {
        Ok(self.rt.block_on(h).context("archive fetch task")??)
    }

    /// The precision of the range's first day: the plan until a day says otherwise.
    pub fn first_precision(&self) -> Result<SeriesPrecision> {
        let d = self.wait(self.fetch(self.spec.from))?;
        Ok(SeriesPrecision {
            price: d.price_precision,
            size: d.size_precision,
        })
    }

    /// Streams the range's bars, aggregated to `timeframe_secs`, in chunks to `sink`.
    /// `Ok(None)` when a day carries more decimals than `precision` (the caller runs
    /// again at the precision it returns through `wider`).
    pub fn stream(
        &self,
        precision: SeriesPrecision,
        timeframe_secs: u64,
        wider: &mut Option<SeriesPrecision>,
        sink: &mut dyn FnMut(&[Bar]) -> Result<()>,
    ) -> Result<Option<u64>> {
        let archived = self.spec.timeframe_secs;
        if archived > timeframe_secs {
            bail!(
                "{}: the archive's bars are {archived}s but the strategy's timeframe is {timeframe_secs}s; use finer data",
                self.spec.symbol
            );
        }
        let mut agg = (archived < timeframe_secs)
            .then(|| BarAggregator::new(timeframe_secs as i64 * 1_000_000_000))
            .transpose()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut buf: Vec<Bar> = Vec::with_capacity(CHUNK_BARS);
        let mut total = 0u64;
        let days: Vec<Day> = self.spec.days().collect();
        let mut next = Some(self.fetch(days[0]));
        for (i, _) in days.iter().enumerate() {
            let day = self.wait(next.take().context("prefetch")?)?;
            next = days.get(i + 1).map(|d| self.fetch(*d));
            if day.price_precision > precision.price || day.size_precision > precision.size {
                *wider = Some(SeriesPrecision {
                    price: precision.price.max(day.price_precision),
                    size: precision.size.max(day.size_precision),
                });
                return Ok(None);
            }
            let differs =
                day.price_precision != precision.price || day.size_precision != precision.size;
            for mut bar in day.bars {
                if differs {
                    bar = retag(&bar, precision)?;
                }
                let out = match &mut agg {
                    None => Some(bar),
                    Some(a) => a.push_bar(&bar).map_err(|e| anyhow::anyhow!("{e}"))?,
                };
                if let Some(b) = out {
                    buf.push(b);
                    if buf.len() == CHUNK_BARS {
                        total += buf.len() as u64;
                        sink(&buf)?;
                        buf.clear();
                    }
                }
            }
        }
        if let Some(last) = agg.as_mut().and_then(BarAggregator::flush) {
            buf.push(last);
        }
        total += buf.len() as u64;
        if !buf.is_empty() {
            sink(&buf)?;
        }
        Ok(Some(total))
    }

    /// The spec's label for the report (`BTCUSDT 2026-01-01..2026-01-31`).
    pub fn label(&self) -> String {
        format!(
            "{}/{} {}..{}",
            self.spec.venue, self.spec.symbol, self.spec.from, self.spec.to
        )
    }
}

/// The bar with its prices and volume carried at `p`'s decimals (never fewer than it has).
fn retag(bar: &Bar, p: SeriesPrecision) -> Result<Bar> {
    let price = |x: tradewind_core::fixed::Price| x.with_precision(p.price);
    Ok(Bar {
        ts: bar.ts,
        open: price(bar.open)?,
        high: price(bar.high)?,
        low: price(bar.low)?,
        close: price(bar.close)?,
        volume: bar.volume.with_precision(p.size)?,
    })
}

/// `tradewind-bot data archive`: the bars of `from` (any format `backtest --data` reads)
/// at `timeframe_secs`, written as one archive file a UTC day to `to`. Returns the days
/// written and the bars.
pub fn write_file(
    from: &Path,
    to: &str,
    timeframe_secs: u64,
    blob: &BlobArgs,
) -> Result<(Vec<Day>, u64)> {
    let target = ArchiveTarget::parse(to)?;
    let archive = open(&target.source, blob)?;
    let rt = runtime()?;
    let plan = market_data::scan(from, Some(timeframe_secs))?;
    let (pp, sp) = (plan.precision.price, plan.precision.size);
    let mut days = Vec::new();
    let mut current: Option<(Day, Vec<Bar>)> = None;
    let mut put = |day: Day, bars: &[Bar]| -> Result<()> {
        rt.block_on(archive.put_bars(
            &target.venue,
            &target.symbol,
            timeframe_secs,
            day,
            bars,
            pp,
            sp,
        ))?;
        days.push(day);
        Ok(())
    };
    let bars = market_data::stream(&plan, |chunk: &[Bar]| -> Result<()> {
        for b in chunk {
            let d = Day::of(b.ts);
            match &mut current {
                Some((day, bars)) if *day == d => bars.push(*b),
                _ => {
                    if let Some((day, bars)) = current.take() {
                        put(day, &bars)?;
                    }
                    current = Some((d, vec![*b]));
                }
            }
        }
        Ok(())
    })?
    .context("the file's bars changed precision while streaming")?;
    if let Some((day, bars)) = current.take() {
        put(day, &bars)?;
    }
    Ok((days, bars))
}

/// Uploads `files` (blob name, local path) into the Blob Storage directory `target`,
/// `blob://{account}/{container}[/{prefix}]` (`backtest --report-to`).
pub fn upload(target: &str, files: &[(&str, &Path)], blob: &BlobArgs) -> Result<()> {
    let rest = target.strip_prefix("blob://").with_context(|| {
        format!("--report-to {target}: expected blob://ACCOUNT/CONTAINER[/PREFIX]")
    })?;
    let mut parts = rest.splitn(3, '/');
    let (Some(account), Some(container)) = (
        parts.next().filter(|a| !a.is_empty()),
        parts.next().filter(|c| !c.is_empty()),
    ) else {
        bail!("--report-to {target}: expected blob://ACCOUNT/CONTAINER[/PREFIX]");
    };
    let prefix = parts.next().unwrap_or_default().trim_matches('/');
    let source = RangeSource::Blob {
        account: account.to_owned(),
        container: container.to_owned(),
    };
    let Archive::Blob { client, container } = open(&source, blob)? else {
        bail!("--report-to {target}: not a Blob Storage location");
    };
    runtime()?.block_on(async {
        for (name, path) in files {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let key = if prefix.is_empty() {
                (*name).to_owned()
            } else {
                format!("{prefix}/{name}")
            };
            client
                .put(&container, &key, &bytes)
                .await
                .with_context(|| format!("uploading {name} to {target}"))?;
        }
        Ok(())
    })
}
