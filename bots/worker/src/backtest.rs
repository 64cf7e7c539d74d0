//! `tradewind-bot backtest`: one bot, its strategy and plan, over one market-data file.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use tradewind_core::backtest::{Backtest, Outcome};
use tradewind_core::data::Bar;
use tradewind_core::fixed::{Money, Price, Quantity};
use tradewind_core::instrument::Instrument;
use tradewind_core::statistics::{Statistics, StatsConfig};
use tradewind_crds::Mode;
use tradewind_crds::resolved::BotConfig;

use crate::market_data;
use crate::report::{Counts, ReportView};
use tradewind_crds::bundle;

/// Instrument rules that the data cannot tell.
#[derive(Clone, Debug, Default)]
pub struct InstrumentOverrides {
    /// Price tick; default: one unit of the data's last price decimal.
    pub tick_size: Option<String>,
    /// Quantity lot; default: one unit of the data's last volume decimal.
    pub lot_size: Option<String>,
    /// Minimum order notional; default 0.
    pub min_notional: Option<String>,
}

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

fn unit(precision: u8) -> String {
    if precision == 0 {
        "1".to_owned()
    } else {
        format!("0.{}1", "0".repeat(usize::from(precision) - 1))
    }
}

/// The instrument: symbol from the bot, rules from the data unless overridden.
pub fn instrument(cfg: &BotConfig, bars: &[Bar], o: &InstrumentOverrides) -> Result<Instrument> {
    let symbol = cfg.bot.symbols[0].clone();
    let quote = cfg.bot.capital.currency.clone();
    let base = symbol
        .strip_suffix(quote.as_str())
        .filter(|b| !b.is_empty())
        .unwrap_or(&symbol)
        .to_owned();
    let price_prec = bars.iter().map(|b| b.close.precision()).max().unwrap_or(2);
    let size_prec = bars.iter().map(|b| b.volume.precision()).max().unwrap_or(0);
    let tick_text = o.tick_size.clone().unwrap_or_else(|| unit(price_prec));
    let lot_text = o.lot_size.clone().unwrap_or_else(|| unit(size_prec));
    let tick = Price::parse(&tick_text, decimals(&tick_text).max(price_prec))
        .with_context(|| format!("--tick-size {tick_text}"))?;
    let lot = Quantity::parse(&lot_text, decimals(&lot_text))
        .with_context(|| format!("--lot-size {lot_text}"))?;
    let min_notional =
        Money::parse(o.min_notional.as_deref().unwrap_or("0")).context("--min-notional")?;
    Ok(Instrument::new(
        symbol,
        base,
        quote,
        tick,
        lot,
        lot,
        min_notional,
    )?)
}

fn decimals(text: &str) -> u8 {
    text.split_once('.')
        .map(|(_, f)| f.len() as u8)
        .unwrap_or(0)
}

/// Runs a backtest and returns the report view (nothing written yet).
pub fn run(req: &Request) -> Result<ReportView> {
    let cfg = bundle::load(&req.files, req.bot.as_deref())?.config;
    if cfg.bot.mode != Mode::Backtest {
        tracing::info!(mode = ?cfg.bot.mode, "running a backtest of a bot whose mode is not Backtest");
    }
    // The resources translated before the data is read: a bad bot is named first.
    let bot = tradewind_config::bot(&cfg)?;
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
    Ok(view(&cfg, &req.data, outcome))
}

fn view(cfg: &BotConfig, data: &Path, outcome: Outcome) -> ReportView {
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
        notes: outcome.notes,
    }
}
