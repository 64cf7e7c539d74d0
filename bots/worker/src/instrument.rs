//! The instrument a bot trades on recorded data (a backtest, a paper replay): the
//! symbol from the bot, the tick and lot from the data's precision unless overridden.

use anyhow::{Context as _, Result};
use tradewind_core::data::Bar;
use tradewind_core::fixed::{Money, Price, Quantity};
use tradewind_core::instrument::Instrument;
use tradewind_crds::resolved::BotConfig;

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

fn unit(precision: u8) -> String {
    if precision == 0 {
        "1".to_owned()
    } else {
        format!("0.{}1", "0".repeat(usize::from(precision) - 1))
    }
}

/// The instrument: symbol from the bot, rules from the data unless overridden.
pub fn instrument(cfg: &BotConfig, bars: &[Bar], o: &InstrumentOverrides) -> Result<Instrument> {
    let price_prec = bars.iter().map(|b| b.close.precision()).max().unwrap_or(2);
    let size_prec = bars.iter().map(|b| b.volume.precision()).max().unwrap_or(0);
    instrument_at(cfg, price_prec, size_prec, o)
}

/// [`instrument`] for data whose prices have `price_prec` decimals and sizes `size_prec`.
pub fn instrument_at(
    cfg: &BotConfig,
    price_prec: u8,
    size_prec: u8,
    o: &InstrumentOverrides,
) -> Result<Instrument> {
    let symbol = cfg.bot.symbols[0].clone();
    let quote = cfg.bot.capital.currency.clone();
    let base = symbol
        .strip_suffix(quote.as_str())
        .filter(|b| !b.is_empty())
        .unwrap_or(&symbol)
        .to_owned();
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
