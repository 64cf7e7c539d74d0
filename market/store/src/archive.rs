//! Daily archives in a directory (a volume) or a Blob Storage container, in the layout
//! and formats of [`tradewind_core::data::archive`]; a range of days named by a URL-like
//! spec read back day by day.

use std::path::{Path, PathBuf};

use tradewind_azure::blob::{BlobClient, BlobError};
use tradewind_core::data::archive::{
    self, ArchiveError, BarsDay, Day, Stream, check_name, day_key,
};
use tradewind_core::data::{Bar, Trade};

/// Why an archive cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A name, day or format problem (names the day for a damaged file).
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A day the range needs is not in the archive.
    #[error("day {day} is missing from the archive ({location}/{key})")]
    Missing {
        /// The day.
        day: Day,
        /// Where the archive is.
        location: String,
        /// The file's key.
        key: String,
    },
    /// A file of the directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Blob Storage refused or did not answer.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A `--data` archive spec that cannot be used.
    #[error("archive spec {spec:?}: {reason}")]
    Spec {
        /// The spec.
        spec: String,
        /// Why.
        reason: String,
    },
}

/// Where an archive lives.
#[derive(Clone, Debug)]
pub enum Archive {
    /// Files under a directory (a volume).
    Dir(PathBuf),
    /// Blobs in a container.
    Blob {
        /// The account's Blob service.
        client: BlobClient,
        /// The container.
        container: String,
    },
}

impl Archive {
    /// For messages: the directory, or `blob:{container}`.
    pub fn location(&self) -> String {
        match self {
            Self::Dir(d) => d.display().to_string(),
            Self::Blob { container, .. } => format!("blob:{container}"),
        }
    }

    /// Writes one file (replacing it). A directory gets a temporary file renamed into
    /// place, a blob one commit, so a reader never sees half a day.
    pub async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        match self {
            Self::Dir(dir) => {
                let path = dir.join(key);
                let io = |source| StoreError::Io {
                    path: path.display().to_string(),
                    source,
                };
                if let Some(parent) = path.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(io)?;
                }
                let tmp = path.with_extension("partial");
                tokio::fs::write(&tmp, bytes).await.map_err(io)?;
                tokio::fs::rename(&tmp, &path).await.map_err(io)?;
                Ok(())
            }
            Self::Blob { client, container } => Ok(client.put(container, key, bytes).await?),
        }
    }

    /// Reads one file; `None` when absent.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Self::Dir(dir) => {
                let path = dir.join(key);
                match tokio::fs::read(&path).await {
                    Ok(b) => Ok(Some(b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(StoreError::Io {
                        path: path.display().to_string(),
                        source,
                    }),
                }
            }
            Self::Blob { client, container } => Ok(client.get(container, key).await?),
        }
    }

    /// Archives a day of closed bars of `venue`/`symbol`.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_bars(
        &self,
        venue: &str,
        symbol: &str,
        timeframe_secs: u64,
        day: Day,
        bars: &[Bar],
        price_precision: u8,
        size_precision: u8,
    ) -> Result<String, StoreError> {
        check_name("venue", venue)?;
        check_name("symbol", symbol)?;
        let key = day_key(venue, symbol, Stream::Bars { timeframe_secs }, day);
        let bytes = archive::encode_bars(day, bars, price_precision, size_precision)?;
        self.put(&key, &bytes).await?;
        Ok(key)
    }

    /// Archives a day of trades of `venue`/`symbol`.
    pub async fn put_trades(
        &self,
        venue: &str,
        symbol: &str,
        day: Day,
        trades: &[Trade],
        price_precision: u8,
        size_precision: u8,
    ) -> Result<String, StoreError> {
        check_name("venue", venue)?;
        check_name("symbol", symbol)?;
        let key = day_key(venue, symbol, Stream::Trades, day);
        let bytes = archive::encode_trades(day, trades, price_precision, size_precision)?;
        self.put(&key, &bytes).await?;
        Ok(key)
    }

    async fn get_day(&self, key: &str, day: Day) -> Result<Vec<u8>, StoreError> {
        self.get(key).await?.ok_or_else(|| StoreError::Missing {
            day,
            location: self.location(),
            key: key.to_owned(),
        })
    }

    /// A day of bars; a missing or damaged day is an error naming it.
    pub async fn bars_day(
        &self,
        venue: &str,
        symbol: &str,
        timeframe_secs: u64,
        day: Day,
    ) -> Result<BarsDay, StoreError> {
        let key = day_key(venue, symbol, Stream::Bars { timeframe_secs }, day);
        let bytes = self.get_day(&key, day).await?;
        Ok(archive::decode_bars(day, &key, &bytes)?)
    }

    /// A day of trades; a missing or damaged day is an error naming it.
    pub async fn trades_day(
        &self,
        venue: &str,
        symbol: &str,
        day: Day,
    ) -> Result<Vec<Trade>, StoreError> {
        let key = day_key(venue, symbol, Stream::Trades, day);
        let bytes = self.get_day(&key, day).await?;
        Ok(archive::decode_trades(day, &key, &bytes)?)
    }
}

/// Where the archive of a [`RangeSpec`] is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeSource {
    /// `archive:{dir}/...`.
    Dir(PathBuf),
    /// `blob://{account}/{container}/...`.
    Blob {
        /// Storage account.
        account: String,
        /// Container.
        container: String,
    },
}

/// Where one symbol's archive is, without a range: `blob://{account}/{container}/{venue}/{symbol}`
/// or `archive:{dir}/{venue}/{symbol}` (what `tradewind-bot data archive --to` takes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveTarget {
    /// Where the archive is.
    pub source: RangeSource,
    /// Venue segment.
    pub venue: String,
    /// Symbol segment.
    pub symbol: String,
}

impl ArchiveTarget {
    /// Parses a target; errors name the part that is wrong.
    pub fn parse(spec: &str) -> Result<Self, StoreError> {
        if spec.contains('?') {
            return Err(StoreError::Spec {
                spec: spec.to_owned(),
                reason: "a target takes no ?from/to".into(),
            });
        }
        Self::parse_in(spec, spec)
    }

    fn parse_in(spec: &str, path: &str) -> Result<Self, StoreError> {
        let err = |reason: String| StoreError::Spec {
            spec: spec.to_owned(),
            reason,
        };
        let (source, venue, symbol) = if let Some(rest) = path.strip_prefix("blob://") {
            let parts: Vec<&str> = rest.split('/').collect();
            let [account, container, venue, symbol] = parts[..] else {
                return Err(err(
                    "expected blob://{account}/{container}/{venue}/{symbol}".into(),
                ));
            };
            let ok = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            };
            if !ok(account) || !ok(container) {
                return Err(err(
                    "account and container are lower-case letters, digits and '-'".into(),
                ));
            }
            (
                RangeSource::Blob {
                    account: account.into(),
                    container: container.into(),
                },
                venue,
                symbol,
            )
        } else if let Some(rest) = path.strip_prefix("archive:") {
            let p = Path::new(rest);
            let symbol = p.file_name().and_then(|s| s.to_str());
            let venue_path = p.parent();
            let venue = venue_path
                .and_then(|v| v.file_name())
                .and_then(|s| s.to_str());
            let (Some(venue), Some(symbol), Some(dir)) =
                (venue, symbol, venue_path.and_then(Path::parent))
            else {
                return Err(err("expected archive:{dir}/{venue}/{symbol}".into()));
            };
            let dir = if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir.to_path_buf()
            };
            (RangeSource::Dir(dir), venue, symbol)
        } else {
            return Err(err("expected blob:// or archive:".into()));
        };
        check_name("venue", venue)?;
        check_name("symbol", symbol)?;
        Ok(Self {
            source,
            venue: venue.into(),
            symbol: symbol.into(),
        })
    }
}

/// A range of archived days of one symbol's bars:
///
/// ```text
/// blob://{account}/{container}/{venue}/{symbol}?from=YYYY-MM-DD&to=YYYY-MM-DD[&timeframe=1m]
/// archive:{dir}/{venue}/{symbol}?from=YYYY-MM-DD&to=YYYY-MM-DD[&timeframe=1m]
/// ```
///
/// `to` is inclusive; `timeframe` is the archived bars' length (default `1m`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeSpec {
    /// Where the archive is.
    pub source: RangeSource,
    /// Venue segment (`binance-spot`).
    pub venue: String,
    /// Symbol segment (`BTCUSDT`).
    pub symbol: String,
    /// First day.
    pub from: Day,
    /// Last day (inclusive).
    pub to: Day,
    /// Length of the archived bars, in seconds.
    pub timeframe_secs: u64,
}

/// Whether `data` is an archive spec rather than a file path.
pub fn is_range_spec(data: &str) -> bool {
    data.starts_with("blob://") || data.starts_with("archive:")
}

fn timeframe_secs(s: &str) -> Option<u64> {
    let (n, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    n.checked_mul(match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    })
}

impl RangeSpec {
    /// Parses a spec (see the type's docs); errors name the part that is wrong.
    pub fn parse(spec: &str) -> Result<Self, StoreError> {
        let err = |reason: String| StoreError::Spec {
            spec: spec.to_owned(),
            reason,
        };
        let (path, query) = spec
            .split_once('?')
            .ok_or_else(|| err("needs ?from=YYYY-MM-DD&to=YYYY-MM-DD".into()))?;
        let ArchiveTarget {
            source,
            venue,
            symbol,
        } = ArchiveTarget::parse_in(spec, path)?;
        let (mut from, mut to, mut tf) = (None, None, 60);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "from" => from = Some(Day::parse("from", v)?),
                "to" => to = Some(Day::parse("to", v)?),
                "timeframe" => {
                    tf = timeframe_secs(v)
                        .ok_or_else(|| err(format!("timeframe {v:?}: expected e.g. 1m, 1h")))?
                }
                other => return Err(err(format!("unknown parameter {other:?}"))),
            }
        }
        let (Some(from), Some(to)) = (from, to) else {
            return Err(err("needs both from and to".into()));
        };
        if to < from {
            return Err(err(format!("to {to} is before from {from}")));
        }
        Ok(Self {
            source,
            venue,
            symbol,
            from,
            to,
            timeframe_secs: tf,
        })
    }

    /// The days of the range, in order.
    pub fn days(&self) -> impl Iterator<Item = Day> + use<> {
        (self.from.0..=self.to.0).map(Day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_are_named() {
        let s = RangeSpec::parse(
            "blob://twarchive/marketdata/binance-spot/BTCUSDT?from=2026-01-01&to=2026-01-31",
        )
        .unwrap();
        assert_eq!(
            s.source,
            RangeSource::Blob {
                account: "twarchive".into(),
                container: "marketdata".into()
            }
        );
        assert_eq!(
            (s.venue.as_str(), s.symbol.as_str()),
            ("binance-spot", "BTCUSDT")
        );
        assert_eq!(s.days().count(), 31);
        assert_eq!(s.timeframe_secs, 60);
        let d = RangeSpec::parse(
            "archive:/data/a/binance-spot/ETHUSDT?from=2026-01-01&to=2026-01-01&timeframe=1s",
        )
        .unwrap();
        assert_eq!(d.source, RangeSource::Dir("/data/a".into()));
        assert_eq!(d.timeframe_secs, 1);
        let rel = RangeSpec::parse("archive:v/s?from=2026-01-01&to=2026-01-02").unwrap();
        assert_eq!(rel.source, RangeSource::Dir(".".into()));
        for (spec, msg) in [
            ("blob://a/c/v/s", "needs ?from=YYYY-MM-DD&to=YYYY-MM-DD"),
            (
                "blob://a/c/v?from=2026-01-01&to=2026-01-02",
                "expected blob://{account}/{container}/{venue}/{symbol}",
            ),
            (
                "blob://a/c/v/s?from=2026-01-02&to=2026-01-01",
                "to 2026-01-01 is before from 2026-01-02",
            ),
            ("blob://a/c/v/s?from=2026-01-01", "needs both from and to"),
            (
                "blob://a/c/v/s?from=2026-01-01&to=2026-01-01&tf=1m",
                "unknown parameter \"tf\"",
            ),
        ] {
            let e = RangeSpec::parse(spec).unwrap_err();
            assert_eq!(e.to_string(), format!("archive spec {spec:?}: {msg}"));
        }
        let e = RangeSpec::parse("archive:d/v/s?from=2026-02-30&to=2026-03-01").unwrap_err();
        assert_eq!(
            e.to_string(),
            "from: \"2026-02-30\" is not a date (YYYY-MM-DD)"
        );
        let e = RangeSpec::parse("archive:d/v/BTC USDT?from=2026-01-01&to=2026-03-01").unwrap_err();
        assert!(e.to_string().starts_with("symbol: \"BTC USDT\""), "{e}");
    }
}
