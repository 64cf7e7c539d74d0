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
    // The data's prices step by one unit of their last decimal: a coarser tick would put
    // every order off the data's price grid (rounded to a price the market never showed).
    let data_unit = Price::parse(&unit(price_prec), price_prec).context("price precision")?;
    if tick > data_unit {
        anyhow::bail!(
            "--tick-size {tick_text}: coarser than the data's prices, which step by {data_unit} ({price_prec} decimals)"
        );
    }
    let min_notional =
        Money::parse(o.min_notional.as_deref().unwrap_or("0")).context("--min-notional")?;
    if min_notional.is_negative() {
        anyhow::bail!("--min-notional {min_notional}: must be zero or positive");
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BotConfig {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let files = [root.join("examples/demo/btc-scalper.yaml")];
        tradewind_crds::bundle::load(&files, None)
            .expect("demo bot")
            .config
    }

    /// `--tick-size 1000` and a negative `--min-notional` were accepted; each is now
    /// refused naming the flag.
    #[test]
    fn flags_that_contradict_the_data_are_refused() {
        let o = |tick: Option<&str>, min: Option<&str>| InstrumentOverrides {
            tick_size: tick.map(str::to_owned),
            lot_size: None,
            min_notional: min.map(str::to_owned),
        };
        assert!(instrument_at(&cfg(), 2, 5, &o(None, None)).is_ok());
        assert!(instrument_at(&cfg(), 2, 5, &o(Some("0.01"), Some("5"))).is_ok());
        assert!(instrument_at(&cfg(), 2, 5, &o(Some("0.001"), None)).is_ok());
        let e = instrument_at(&cfg(), 2, 5, &o(Some("1000"), None)).unwrap_err();
        assert!(
            e.to_string().starts_with("--tick-size 1000: coarser"),
            "{e}"
        );
        let e = instrument_at(&cfg(), 2, 5, &o(None, Some("-5"))).unwrap_err();
        assert!(e.to_string().starts_with("--min-notional -5"), "{e}");
    }
}
