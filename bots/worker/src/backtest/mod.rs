//! `tradewind-bot backtest`: one bot, its strategy and plan, over one market-data file.

mod market_data;

pub use tradewind_bot::instrument::{InstrumentOverrides, instrument};

use std::path::{Path, PathBuf};

use anyhow::Result;
use tradewind_core::backtest::{Backtest, Outcome};
use tradewind_core::data::{Bar, Side};
use tradewind_core::statistics::{Statistics, StatsConfig};
use tradewind_crds::Mode;
use tradewind_crds::resolved::BotConfig;

use crate::report::{Counts, FillMark, ReportView};
use tradewind_crds::bundle;

/// One backtest's inputs.
#[derive(Clone, Debug)]
pub struct Request {
    /// YAML files with the bot, its Strategy and optional CommissionPlan.
    pub files: Vec<PathBuf>,
    /// Which bot, if the files hold several.
    pub bot: Option<String>,
    /// Market-data file.
    pub data: PathBuf,
    /// Instrument rules.
    pub instrument: InstrumentOverrides,
}

/// Runs a backtest and returns the report view (nothing written yet).
pub fn run(req: &Request) -> Result<ReportView> {
    let cfg = bundle::load(&req.files, req.bot.as_deref())?.config;
    if cfg.bot.mode != Mode::Backtest {
        tracing::info!(mode = ?cfg.bot.mode, "running a backtest of a bot whose mode is not Backtest");
    }
    // The resources translated before the data is read: a bad bot is named first.
    let bot = tradewind_config::bot(&cfg)?;
    let venue_fees = bot.venue_fees.to_string();
    let timeframe = cfg.strategy.timeframe.seconds();
    let (bars, format) = market_data::load_bars(&req.data, timeframe)?;
    tracing::info!(bars = bars.len(), ?format, data = %req.data.display(), "market data loaded");
    let instrument = instrument(&cfg, &bars, &req.instrument)?;
    let (strategy, settings) = bot.engine(&instrument)?;
    let started = std::time::Instant::now();
    let outcome = Backtest::new(settings, strategy).run(&bars)?;
    let secs = started.elapsed().as_secs_f64();
    // Engine time only (no parsing or report writing); tools/bench reads this line.
    tracing::info!(
        bars = outcome.bars,
        engine_seconds = secs,
        bars_per_second = outcome.bars as f64 / secs.max(1e-12),
        "backtest finished"
    );
    Ok(view(&cfg, &req.data, &bars, outcome, venue_fees))
}

fn view(
    cfg: &BotConfig,
    data: &Path,
    bars: &[Bar],
    outcome: Outcome,
    venue_fee_schedule: String,
) -> ReportView {
    let p = &outcome.portfolio;
    ReportView {
        bot: cfg.name.clone(),
        strategy: format!("{} ({})", cfg.strategy_name, outcome.strategy),
        symbol: cfg.bot.symbols[0].clone(),
        currency: cfg.bot.capital.currency.clone(),
        data_source: data
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bars: outcome.bars,
        span: outcome.span,
        initial_equity: p.initial_cash(),
        final_equity: p.equity(),
        realized_pnl: p.realized_pnl(),
        unrealized_pnl: p.unrealized_pnl(),
        fees: p.fees_paid(),
        venue_fee_schedule,
        counts: Counts {
            orders: outcome.counts.orders,
            fills: outcome.counts.fills,
            rejected: outcome.counts.rejected,
            refused: outcome.counts.refused,
            dropped: outcome.counts.dropped,
            stop_losses: outcome.counts.stop_losses,
        },
        halt: outcome.halt.as_ref().map(ToString::to_string),
        statistics: Statistics::from_portfolio(p, &StatsConfig::default())
            .entries()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        equity_curve: p.equity_curve().to_vec(),
        trades: p.closed_trades().to_vec(),
        prices: bars.iter().map(|b| (b.ts, b.close)).collect(),
        fills: outcome
            .fills
            .iter()
            .map(|f| FillMark {
                ts: f.ts,
                buy: f.side == Side::Buy,
                price: f.price,
            })
            .collect(),
        notes: outcome.notes,
    }
}
