//! The closed trades of a backtest, kept out of memory: the first few for the HTML
//! table, every one as report.json text in an unlinked temporary file that
//! [`json::write`](super::json::write) copies into place.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};

use serde_json::{Value, json};
use tradewind_core::portfolio::ClosedTrade;

use super::{iso8601, json::stat};

/// Rows of the HTML trade table; report.json has every trade.
pub const MAX_TRADE_ROWS: usize = 1_000;

/// Closed round trips: a count, the first [`MAX_TRADE_ROWS`], and all of them as JSON
/// text in a file that disappears with the process.
#[derive(Debug, Default)]
pub struct TradeLog {
    head: Vec<ClosedTrade>,
    count: usize,
    file: Option<BufWriter<File>>,
}

/// A trade as report.json writes it.
pub fn trade_json(t: &ClosedTrade) -> Value {
    json!({
        "side": format!("{:?}", t.side),
        "entryTime": iso8601(t.entry_ts),
        "entryPrice": t.entry_price.to_string(),
        "exitTime": iso8601(t.exit_ts),
        "exitPrice": t.exit_price.to_string(),
        "quantity": t.quantity.to_string(),
        "grossPnl": t.gross_pnl.to_string(),
        "fees": t.fees.to_string(),
        "pnl": t.pnl.to_string(),
        "returnFraction": stat(Some(t.return_fraction)),
    })
}

/// A file in the temporary directory that no other process can open by name: created
/// new, then unlinked at once (the open handle keeps it until it is dropped).
fn anonymous_file() -> io::Result<File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir();
    let path = dir.join(format!(
        "tradewind-trades-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot create a file for the trade list in {}: {e}",
                    dir.display()
                ),
            )
        })?;
    let _ = std::fs::remove_file(&path);
    Ok(file)
}

impl TradeLog {
    /// Records the next trade.
    pub fn push(&mut self, t: &ClosedTrade) -> io::Result<()> {
        if self.head.len() < MAX_TRADE_ROWS {
            self.head.push(*t);
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(BufWriter::new(anonymous_file()?)),
        };
        if self.count > 0 {
            file.write_all(b",\n")?;
        }
        // Indented as an element of the top-level "trades" array.
        let text = serde_json::to_string_pretty(&trade_json(t)).map_err(io::Error::other)?;
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                file.write_all(b"\n")?;
            }
            file.write_all(b"    ")?;
            file.write_all(line.as_bytes())?;
        }
        self.count += 1;
        Ok(())
    }

    /// Flushes the file (call once the last trade is in).
    pub fn finish(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }

    /// Number of trades.
    pub fn len(&self) -> usize {
        self.count
    }

    /// No trades.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The first [`MAX_TRADE_ROWS`] trades.
    pub fn head(&self) -> &[ClosedTrade] {
        &self.head
    }

    /// Copies the JSON array elements (comma-separated, indented, no brackets) to `out`;
    /// after [`TradeLog::finish`].
    pub fn copy_json_to(&self, out: &mut impl Write) -> io::Result<()> {
        let Some(f) = &self.file else {
            return Ok(());
        };
        let mut file: &File = f.get_ref();
        file.seek(SeekFrom::Start(0))?;
        io::copy(&mut file, out)?;
        // Reading moved the shared offset; put it back at the end for later pushes.
        file.seek(SeekFrom::End(0))?;
        Ok(())
    }
}
