use serde_json::{Value, json};
use tradewind_core::fixed::Money;
use tradewind_crds::resolved::BotConfig;

use super::*;

/// A resolved Paper grid bot on BTCUSDT; `edit` changes its JSON first.
fn config(edit: impl FnOnce(&mut Value)) -> BotConfig {
    let mut v = json!({
        "name": "b",
        "bot": {
            "strategyRef": {"name": "s"},
            "accountRef": {"name": "alice"},
            "venue": {"exchange": "Binance"},
            "symbols": ["BTCUSDT"],
            "mode": "Paper",
            "capital": {"amount": "1000", "currency": "USDT"}
        },
        "strategyName": "s",
        "strategy": {
            "type": "Grid",
            "grid": {"lowerPrice": "100", "upperPrice": "110", "levels": 3, "quantityPerLevel": "0.001000000000"}
        },
        "risk": {"maxOrderNotional": "500"},
        "sizing": {"type": "AllIn"}
    });
    edit(&mut v);
    serde_json::from_value(v).unwrap()
}

fn err(edit: impl FnOnce(&mut Value)) -> String {
    bot(&config(edit)).unwrap_err().to_string()
}

fn instrument() -> Instrument {
    Instrument::new(
        "BTCUSDT",
        "BTC",
        "USDT",
        Price::parse("0.01", 2).unwrap(),
        Quantity::parse("0.001", 3).unwrap(),
        Quantity::parse("0.001", 3).unwrap(),
        Money::ZERO,
    )
    .unwrap()
}

#[test]
fn a_valid_bot_translates_to_core_settings() {
    let s = bot(&config(|_| {})).unwrap();
    assert_eq!(s.capital, Money::parse("1000").unwrap());
    assert_eq!(s.risk.max_order_notional, Money::parse("500").ok());
    assert_eq!(s.sizing, Sizing::AllIn);
    let StrategyConfig::Grid(g) = s.strategy else {
        panic!("{:?}", s.strategy)
    };
    // Trailing zeros beyond nine places are exact, so accepted.
    assert_eq!(g.quantity_per_level.to_string(), "0.001");
    let (strategy, settings) = s.engine(&instrument()).unwrap();
    assert_eq!(strategy.name(), "Grid");
    assert_eq!(settings.capital, s.capital);
}

#[test]
fn errors_name_the_resource_and_its_field() {
    assert_eq!(
        err(|v| v["risk"]["maxOrderNotional"] = json!("0.0000000001")),
        "TradingBot b: spec.risk.maxOrderNotional: money \"0.0000000001\" has 10 significant \
         decimals but precision is 9"
    );
    assert_eq!(
        err(|v| v["strategy"]["grid"]["lowerPrice"] = json!("100.0000000001")),
        "Strategy s: spec.grid.lowerPrice: price \"100.0000000001\" has 10 significant \
         decimals but precision is 9; the engine represents at most 9 decimal places"
    );
    assert_eq!(
        err(|v| v["strategy"]["grid"]["upperPrice"] = json!("9300000000")),
        "Strategy s: spec.grid.upperPrice: price \"9300000000\" is out of range; the largest \
         price the engine represents is 9223372036.854775807"
    );
    assert_eq!(
        err(|v| v["strategy"]["grid"]["quantityPerLevel"] = json!("18446744074")),
        "Strategy s: spec.grid.quantityPerLevel: quantity \"18446744074\" is out of range; the \
         largest quantity the engine represents is 18446744073.709551615"
    );
    assert_eq!(
        err(|v| v["strategy"]["grid"]["lowerPrice"] = json!("120")),
        "Strategy s: spec.grid.lowerPrice: must be below upperPrice (120 >= 110)"
    );
    assert_eq!(
        err(|v| v["bot"]["symbols"] = json!(["BTCUSDT", "ETHUSDT"])),
        "TradingBot b: spec.symbols: a bot trades exactly one symbol, got 2"
    );
    assert_eq!(
        err(|v| v["bot"]["capital"]["currency"] = json!("EUR")),
        "TradingBot b: spec.capital.currency: EUR is not the quote currency of BTCUSDT"
    );
    // A backtest may run on another market's data, e.g. a stock in USD.
    let stock = config(|v| {
        v["bot"]["mode"] = json!("Backtest");
        v["bot"]["symbols"] = json!(["GOOG"]);
        v["bot"]["capital"]["currency"] = json!("USD");
    });
    assert!(bot(&stock).is_ok());
    // But not a symbol quoted in another asset: the report showed USDT amounts as EUR.
    for (symbol, currency) in [("BTCUSDT", "EUR"), ("BTCUSDT", "USD"), ("ETHBTC", "USDT")] {
        let e = bot(&config(|v| {
            v["bot"]["mode"] = json!("Backtest");
            v["bot"]["symbols"] = json!([symbol]);
            v["bot"]["capital"]["currency"] = json!(currency);
        }))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(&format!(
                "spec.capital.currency: {currency} is not the quote currency of {symbol}"
            )),
            "{e}"
        );
    }
    for (symbol, currency) in [("BTCUSD", "USD"), ("SPY", "USD"), ("ETHBTC", "BTC")] {
        let ok = config(|v| {
            v["bot"]["mode"] = json!("Backtest");
            v["bot"]["symbols"] = json!([symbol]);
            v["bot"]["capital"]["currency"] = json!(currency);
        });
        assert!(bot(&ok).is_ok(), "{symbol} in {currency}");
    }
    assert_eq!(
        err(|v| v["sizing"] =
            json!({"type": "PercentOfEquity", "percentOfEquity": {"percent": "0"}})),
        "TradingBot b: spec.sizing.percentOfEquity.percent: must be in (0, 100]"
    );
    assert_eq!(
        err(|v| v["bot"]["backtest"] = json!({"slippageBps": "10000.5"})),
        "TradingBot b: spec.backtest.slippageBps: basis points 10000.5 are above 10000 (100 %)"
    );
}

#[test]
fn plan_errors_name_the_tier() {
    let e = err(|v| {
        v["commissionPlanName"] = json!("flat");
        v["commissionPlan"] = json!({
            "tradingFees": {"tiers": [
                {"minVolume30d": "0", "makerBps": "7.5", "takerBps": "10"},
                {"minVolume30d": "1000", "makerBps": "10000.1", "takerBps": "10"}
            ]},
            "distribution": [{"recipient": "Platform", "shareBps": 10000}]
        });
    });
    assert_eq!(
        e,
        "CommissionPlan flat: spec.tradingFees.tiers[1].makerBps: basis points \"10000.1\" is \
         above 100 %"
    );
}

#[test]
fn the_simulation_charges_the_venues_fee_never_the_plans() {
    // A plan of 50 bp is the platform's commission: the simulation keeps Binance's 10 bp.
    let with_plan = bot(&config(|v| {
        v["commissionPlanName"] = json!("steep");
        v["commissionPlan"] = json!({
            "tradingFees": {"tiers": [{"minVolume30d": "0", "makerBps": "50", "takerBps": "50"}]},
            "distribution": [{"recipient": "Platform", "shareBps": 10000}]
        });
    }))
    .unwrap();
    let ten = Bps::from_whole(10).unwrap();
    assert_eq!(with_plan.venue_fees.schedule, FeeSchedule::flat(ten, ten));
    assert_eq!(with_plan.venue_fees.source, VenueFeeSource::Default);
    assert_eq!(
        with_plan.venue_fees.to_string(),
        "maker 10bp, taker 10bp (Binance spot VIP 0)"
    );
    let plan = with_plan.commission.as_ref().unwrap();
    assert_eq!(
        plan.trading_fees.tiers()[0].taker,
        tradewind_commission::Rate::from_whole_bps(50).unwrap()
    );
    let (_, settings) = with_plan.engine(&instrument()).unwrap();
    assert_eq!(settings.fees, FeeSchedule::flat(ten, ten));
    assert!(bot(&config(|_| {})).unwrap().commission.is_none());

    // The bot's own venue schedule.
    let own = bot(&config(|v| {
        v["bot"]["backtest"] = json!({"venueFees": {"tiers": [
            {"minVolume30d": "0", "makerBps": "7.5", "takerBps": "7.5"},
            {"minVolume30d": "1000000", "makerBps": "6", "takerBps": "7"}
        ]}});
    }))
    .unwrap();
    assert_eq!(own.venue_fees.source, VenueFeeSource::Spec);
    assert_eq!(own.venue_fees.schedule.tiers().len(), 2);
    assert_eq!(
        own.venue_fees.to_string(),
        "2 tiers from maker 7.5bp, taker 7.5bp (spec.backtest)"
    );
    assert_eq!(
        err(|v| v["bot"]["backtest"] = json!({"venueFees": {"tiers": [
            {"minVolume30d": "0", "makerBps": "10", "takerBps": "-1"}
        ]}})),
        "TradingBot b: spec.backtest.venueFees.tiers[0].takerBps: \"-1\": basis points -1 are \
         negative"
    );
    assert_eq!(
        err(|v| v["bot"]["backtest"] = json!({"venueFees": {"tiers": [
            {"minVolume30d": "5", "makerBps": "10", "takerBps": "10"}
        ]}})),
        "TradingBot b: spec.backtest.venueFees.tiers[0].minVolume30d: fee tier 0: \
         minVolume30d must be 0, got 5.00"
    );
}

#[test]
fn instrument_checks_name_the_field() {
    let on = |edit: fn(&mut Value)| {
        bot(&config(edit))
            .unwrap()
            .engine(&instrument())
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(
        on(|v| v["strategy"]["grid"]["lowerPrice"] = json!("100.001")),
        Some(
            "Strategy s: spec.grid.lowerPrice: 100.001 has more decimals than the instrument's \
             price precision (2)"
                .into()
        )
    );
    assert_eq!(
        on(|v| v["strategy"]["grid"]["quantityPerLevel"] = json!("0.0001")),
        Some(
            "Strategy s: spec.grid.quantityPerLevel: 0.0001 has more decimals than the \
             instrument's size precision (3)"
                .into()
        )
    );
    assert_eq!(
        on(|v| v["sizing"] =
            json!({"type": "FixedQuantity", "fixedQuantity": {"quantity": "0.0004"}})),
        Some(
            "TradingBot b: spec.sizing.fixedQuantity.quantity: 0.0004 has more decimals than \
             the instrument's size precision (3)"
                .into()
        )
    );
}

#[test]
fn every_strategy_type_translates() {
    let specs = [
        json!({"type": "SmaCross", "smaCross": {"fastPeriod": 2, "slowPeriod": 5}}),
        json!({"type": "EmaCross", "emaCross": {"fastPeriod": 2, "slowPeriod": 5}}),
        json!({"type": "RsiReversion", "rsiReversion": {"period": 14, "oversold": 30, "overbought": 70}}),
        json!({"type": "BollingerReversion", "bollingerReversion": {"period": 20, "stdDevs": "2.5"}}),
        json!({"type": "Dca", "dca": {"everyBars": 3, "notional": "100", "takeProfitPercent": "5"}}),
        json!({"type": "MarketMaker", "marketMaker": {"spreadBps": "10", "orderQuantity": "0.002", "maxInventory": "0.004"}}),
        json!({"type": "Signal", "signal": {"actions": ["enter", "exit", "flatten"], "maxPosition": "0.01"}}),
    ];
    for spec in specs {
        let spec: StrategySpec = serde_json::from_value(spec).unwrap();
        let config = strategy(&spec).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
        assert!(strategy::build(&config, &instrument()).is_ok(), "{spec:?}");
    }
    let spec: StrategySpec = serde_json::from_value(
        json!({"type": "RsiReversion", "rsiReversion": {"period": 14, "oversold": 70, "overbought": 30}}),
    )
    .unwrap();
    assert_eq!(
        strategy(&spec).unwrap_err().to_string(),
        "spec.rsiReversion.oversold: must be below overbought (70 >= 30)"
    );
    let spec: StrategySpec =
        serde_json::from_value(json!({"type": "Signal", "signal": {"actions": []}})).unwrap();
    assert_eq!(
        strategy(&spec).unwrap_err().to_string(),
        "spec.signal.actions: must list at least one of enter, exit, flatten"
    );
}
