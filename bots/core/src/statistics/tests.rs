use super::*;
use crate::fixed::{Price, Quantity};
use crate::orders::InstrumentIndex;
use crate::portfolio::PositionSide;

const DAY: i64 = 86_400 * 1_000_000_000;

fn m(s: &str) -> Money {
    s.parse().expect("valid money")
}

fn curve(values: &[&str]) -> Vec<EquityPoint> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| EquityPoint {
            ts: i as i64 * DAY,
            equity: m(v),
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

fn assert_close(got: Option<f64>, want: f64) {
    let got = got.expect("defined");
    assert!(close(got, want), "got {got}, want {want}");
}

fn trade(pnl: &str, ret: f64) -> ClosedTrade {
    ClosedTrade {
        instrument: InstrumentIndex(0),
        side: PositionSide::Long,
        entry_ts: 0,
        entry_price: Price::ZERO,
        exit_ts: DAY,
        exit_price: Price::ZERO,
        quantity: Quantity::ZERO,
        gross_pnl: m(pnl) + m("1"),
        fees: m("1"),
        pnl: m(pnl),
        return_fraction: ret,
    }
}

const DAILY_252: StatsConfig = StatsConfig {
    periods_per_year: Some(252.0),
    risk_free_rate: 0.0,
};

#[test]
fn return_statistics_by_hand() {
    // Returns 0.1, −0.1, 2/9. mean = 2/27; deviations 7/270, −47/270, 40/270, so the
    // sample variance is (49 + 2209 + 1600) / 72900 / 2 = 1929 / 72900 and the
    // standard deviation √1929 / 270.
    let c = curve(&["100", "110", "99", "121"]);
    let s = Statistics::compute(&c, &[], Exposure::default(), &DAILY_252);
    assert_close(s.total_return, 0.21);
    assert_close(s.volatility, 1929f64.sqrt() / 270.0 * 252f64.sqrt());
    // Sharpe = (2/27) / (√1929/270) × √252 = 20 × √(252/1929).
    assert_close(s.sharpe, 20.0 * (252.0f64 / 1929.0).sqrt());
    // Downside deviation √(0.01/3); Sortino = (2/27) / (0.1/√3) × √252.
    assert_close(s.sortino, 20.0 * 3f64.sqrt() / 27.0 * 252f64.sqrt());
    // Peak 110, trough 99: 10 %; underwater from day 1 to day 3.
    assert_close(s.max_drawdown, 0.1);
    assert_eq!(s.max_drawdown_duration, Some(2 * DAY));
    // CAGR over 3 days of a 365.25-day year.
    let cagr = 1.21f64.powf(365.25 / 3.0) - 1.0;
    assert_close(s.cagr, cagr);
    assert_close(s.calmar, cagr / 0.1);
    assert_eq!(s.initial_equity, Some(m("100")));
    assert_eq!(s.final_equity, Some(m("121")));
    assert_eq!(s.peak_equity, Some(m("121")));
    assert_eq!(
        (s.start, s.end, s.curve_points),
        (Some(0), Some(3 * DAY), 4)
    );
    assert_eq!(s.periods_per_year, Some(252.0));
}

#[test]
fn periods_per_year_inferred_from_periods_over_the_span() {
    // Three returns over 5 days (a weekend inside): 3 / 5 days -> 219.15 periods a year.
    let mut c = curve(&["100", "110", "99", "121"]);
    c[3].ts = 5 * DAY;
    let s = Statistics::compute(&c, &[], Exposure::default(), &StatsConfig::default());
    let ppy = 3.0 * 365.25 / 5.0;
    assert_close(s.periods_per_year, ppy);
    assert_close(s.sharpe, 20.0 * (ppy / 1929.0).sqrt());
    // Daily bars every day of the year: 365.25.
    let daily: Vec<EquityPoint> = (0..=10)
        .map(|i| EquityPoint {
            ts: i * DAY,
            equity: m("1"),
        })
        .collect();
    let s1 = Statistics::compute(&daily, &[], Exposure::default(), &StatsConfig::default());
    assert_close(s1.periods_per_year, 365.25);
    // Weekdays only, two weeks (Mon..Fri, Mon..Fri): 9 returns over 11 days, not 365.25.
    let weekdays: Vec<EquityPoint> = [0, 1, 2, 3, 4, 7, 8, 9, 10, 11]
        .iter()
        .map(|&d| EquityPoint {
            ts: d * DAY,
            equity: m("1"),
        })
        .collect();
    let s2 = Statistics::compute(&weekdays, &[], Exposure::default(), &StatsConfig::default());
    assert_close(s2.periods_per_year, 9.0 * 365.25 / 11.0);
    // A non-positive or non-finite configured value falls back to inference.
    let bad = StatsConfig {
        periods_per_year: Some(0.0),
        risk_free_rate: 0.0,
    };
    let s3 = Statistics::compute(&weekdays, &[], Exposure::default(), &bad);
    assert_close(s3.periods_per_year, 9.0 * 365.25 / 11.0);
}

#[test]
fn risk_free_rate_is_deannualised_geometrically() {
    let c = curve(&["100", "110", "99", "121"]);
    let cfg = StatsConfig {
        periods_per_year: Some(252.0),
        risk_free_rate: 0.03,
    };
    let s = Statistics::compute(&c, &[], Exposure::default(), &cfg);
    let rf = 1.03f64.powf(1.0 / 252.0) - 1.0;
    let mean = 2.0 / 27.0;
    let std = 1929f64.sqrt() / 270.0;
    assert_close(s.sharpe, (mean - rf) / std * 252f64.sqrt());
    let r = [0.1, -0.1, 2.0 / 9.0];
    let downside = (r
        .iter()
        .map(|x: &f64| (x - rf).min(0.0).powi(2))
        .sum::<f64>()
        / 3.0)
        .sqrt();
    assert_close(s.sortino, (mean - rf) / downside * 252f64.sqrt());
}

#[test]
fn drawdown_duration_runs_to_the_end_when_not_recovered() {
    // Peaks 120 at day 1; never recovers: 4 days underwater; deepest 120 -> 90 = 25 %.
    let c = curve(&["100", "120", "110", "90", "100", "119"]);
    let s = Statistics::compute(&c, &[], Exposure::default(), &DAILY_252);
    assert_close(s.max_drawdown, 0.25);
    assert_eq!(s.max_drawdown_duration, Some(4 * DAY));
    // Two spells: 1 day (100 -> 95 -> 100) then 3 days (105 -> 104 -> 103 -> 106).
    let c = curve(&["100", "95", "100", "105", "104", "103", "106"]);
    let s = Statistics::compute(&c, &[], Exposure::default(), &DAILY_252);
    assert_eq!(s.max_drawdown_duration, Some(3 * DAY));
    assert_close(s.max_drawdown, 0.05);
    // New highs every bar: no drawdown, no duration, Calmar undefined.
    let c = curve(&["100", "101", "102"]);
    let s = Statistics::compute(&c, &[], Exposure::default(), &DAILY_252);
    assert_eq!(s.max_drawdown, Some(0.0));
    assert_eq!(s.max_drawdown_duration, Some(0));
    assert_eq!(s.calmar, None);
    // Returns all positive: Sortino undefined (no downside).
    assert_eq!(s.sortino, None);
}

#[test]
fn flat_equity() {
    let c = curve(&["100", "100", "100", "100"]);
    let s = Statistics::compute(&c, &[], Exposure::default(), &DAILY_252);
    assert_eq!(s.total_return, Some(0.0));
    assert_eq!(s.cagr, Some(0.0));
    assert_eq!(s.volatility, Some(0.0));
    assert_eq!(s.sharpe, None);
    assert_eq!(s.sortino, None);
    assert_eq!(s.max_drawdown, Some(0.0));
    assert_eq!(s.max_drawdown_duration, Some(0));
    assert_eq!(s.calmar, None);
}

#[test]
fn single_bar_and_empty_curve() {
    let c = curve(&["100"]);
    let s = Statistics::compute(
        &c,
        &[],
        Exposure {
            steps: 1,
            steps_in_market: 0,
        },
        &DAILY_252,
    );
    assert_eq!(s.total_return, Some(0.0));
    assert_eq!(s.cagr, None, "no time has passed");
    assert_eq!((s.volatility, s.sharpe, s.sortino), (None, None, None));
    assert_eq!(s.max_drawdown, Some(0.0));
    assert_eq!(s.max_drawdown_duration, Some(0));
    assert_eq!(s.exposure, Some(0.0));
    assert_eq!(s.bars, 1);
    // Two points: one return, too few for a standard deviation.
    let s = Statistics::compute(
        &curve(&["100", "110"]),
        &[],
        Exposure::default(),
        &DAILY_252,
    );
    assert_eq!((s.volatility, s.sharpe), (None, None));
    assert_close(s.total_return, 0.1);

    let s = Statistics::compute(&[], &[], Exposure::default(), &StatsConfig::default());
    assert_eq!(s.start, None);
    assert_eq!(s.total_return, None);
    assert_eq!(s.cagr, None);
    assert_eq!(s.max_drawdown, None);
    assert_eq!(s.max_drawdown_duration, None);
    assert_eq!(s.periods_per_year, None);
    assert_eq!(s.exposure, None);
    assert_eq!(s.trades, 0);
}

#[test]
fn non_finite_values_are_undefined() {
    // Doubling in one minute: the CAGR overflows f64 and is reported as undefined,
    // and so is Calmar built from it.
    let minute = 60_000_000_000;
    let c = [
        EquityPoint {
            ts: 0,
            equity: m("100"),
        },
        EquityPoint {
            ts: minute,
            equity: m("90"),
        },
        EquityPoint {
            ts: 2 * minute,
            equity: m("200"),
        },
    ];
    let s = Statistics::compute(&c, &[], Exposure::default(), &StatsConfig::default());
    assert_close(s.total_return, 1.0);
    assert_eq!(s.cagr, None);
    assert_eq!(s.calmar, None);
    assert!(s.sharpe.is_some_and(f64::is_finite));
}

#[test]
fn losing_everything() {
    // Equity to 0 then below: CAGR −1; return statistics undefined past a non-positive point.
    let c = curve(&["100", "50", "0", "-10"]);
    let s = Statistics::compute(&c, &[], Exposure::default(), &DAILY_252);
    assert_close(s.total_return, -1.1);
    assert_eq!(s.cagr, Some(-1.0));
    assert_eq!(s.sharpe, None);
    assert_close(s.max_drawdown, 1.1);
    // Non-positive starting equity: no return at all.
    let s = Statistics::compute(&curve(&["0", "10"]), &[], Exposure::default(), &DAILY_252);
    assert_eq!(s.total_return, None);
    assert_eq!(s.cagr, None);
}

#[test]
fn trade_statistics_by_hand() {
    let trades = [
        trade("30", 0.03),
        trade("-10", -0.01),
        trade("20", 0.02),
        trade("-20", -0.02),
        trade("0", 0.0),
    ];
    let s = Statistics::compute(&[], &trades, Exposure::default(), &StatsConfig::default());
    assert_eq!(s.trades, 5);
    // 2 wins of 5 (a zero-PnL trade is not a win).
    assert_close(s.win_rate, 0.4);
    // (30 + 20) / (10 + 20).
    assert_close(s.profit_factor, 50.0 / 30.0);
    // (30 − 10 + 20 − 20 + 0) / 5 = 4.
    assert_close(s.expectancy, 4.0);
    assert_close(s.avg_trade_return, 0.004);
    assert_eq!(s.best_trade_return, Some(0.03));
    assert_eq!(s.worst_trade_return, Some(-0.02));
    assert_eq!(s.trade_pnl, m("20"));
    assert_eq!(s.trade_fees, m("5"));

    // Only winners: profit factor undefined (no losses), win rate 1.
    let s = Statistics::compute(
        &[],
        &[trade("5", 0.05)],
        Exposure::default(),
        &StatsConfig::default(),
    );
    assert_eq!(s.profit_factor, None);
    assert_eq!(s.win_rate, Some(1.0));
    // Only losers: profit factor 0.
    let s = Statistics::compute(
        &[],
        &[trade("-5", -0.05)],
        Exposure::default(),
        &StatsConfig::default(),
    );
    assert_eq!(s.profit_factor, Some(0.0));
    assert_eq!(s.win_rate, Some(0.0));
    // No trades: all undefined.
    let s = Statistics::compute(&[], &[], Exposure::default(), &StatsConfig::default());
    assert_eq!(
        (s.win_rate, s.profit_factor, s.expectancy),
        (None, None, None)
    );
    assert_eq!((s.best_trade_return, s.worst_trade_return), (None, None));
    assert_eq!(s.trade_pnl, Money::ZERO);
}

#[test]
fn entries_are_ordered_and_printable() {
    let c = curve(&["100", "110", "99", "121"]);
    let s = Statistics::compute(
        &c,
        &[trade("21", 0.21)],
        Exposure {
            steps: 4,
            steps_in_market: 3,
        },
        &DAILY_252,
    );
    let entries = s.entries();
    let keys: Vec<&str> = entries.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            "start",
            "end",
            "duration",
            "bars",
            "curve_points",
            "initial_equity",
            "final_equity",
            "peak_equity",
            "total_return",
            "cagr",
            "periods_per_year",
            "volatility",
            "sharpe",
            "sortino",
            "max_drawdown",
            "max_drawdown_duration",
            "calmar",
            "exposure",
            "trades",
            "win_rate",
            "profit_factor",
            "expectancy",
            "avg_trade_return",
            "best_trade_return",
            "worst_trade_return",
            "trade_pnl",
            "trade_fees",
        ]
    );
    let text: Vec<String> = entries.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert!(text.contains(&"duration=259200000000000".to_owned()));
    assert!(text.contains(&"final_equity=121.00".to_owned()));
    assert!(text.contains(&"exposure=0.75".to_owned()));
    assert!(text.contains(&"trades=1".to_owned()));
    assert!(text.contains(&"profit_factor=n/a".to_owned()));
    assert!(text.contains(&"win_rate=1".to_owned()));
    assert_eq!(StatValue::Money(None).to_string(), "n/a");
    assert_eq!(StatValue::Time(None).to_string(), "n/a");
}

#[test]
fn from_portfolio_reads_curve_trades_and_exposure() {
    use crate::data::Side;
    use crate::orders::{ClientOrderId, Fill, Liquidity};
    let mut pf = Portfolio::new(m("1000"), 1);
    let price = |s: &str| s.parse::<Price>().expect("valid");
    pf.mark(InstrumentIndex(0), price("10"), 0).expect("mark");
    pf.apply_fill(&Fill {
        id: ClientOrderId(1),
        instrument: InstrumentIndex(0),
        ts: DAY,
        side: Side::Buy,
        price: price("10"),
        quantity: "10".parse().expect("valid"),
        fee: m("1"),
        liquidity: Liquidity::Taker,
    })
    .expect("fill");
    pf.mark(InstrumentIndex(0), price("12"), DAY).expect("mark");
    let s = Statistics::from_portfolio(&pf, &StatsConfig::default());
    assert_eq!(s.bars, 2);
    assert_eq!(s.exposure, Some(0.5));
    assert_eq!(s.final_equity, Some(m("1019")));
    assert_close(s.total_return, 0.019);
    assert_eq!(s.trades, 0);
}

#[test]
fn streaming_matches_the_two_pass_definitions() {
    // A wiggly curve with a drawdown spell, equal-time steps excluded.
    let c: Vec<EquityPoint> = (0..500)
        .map(|i| EquityPoint {
            ts: i * DAY / 24,
            equity: Money::from_raw(
                1_000_000_000_000 + ((i * 7_919) % 311) as i128 * 1_000_000_000
                    - i as i128 * 1_000_000,
            ),
        })
        .collect();
    let s = Statistics::compute(&c, &[], Exposure::default(), &StatsConfig::default());
    let mut acc = StatsAccumulator::new(&StatsConfig::default());
    c.iter().for_each(|p| acc.push_point(*p));
    assert_eq!(acc.finish(Exposure::default()), s);
    // The two-pass formulas the module docs give.
    let r: Vec<f64> = c
        .windows(2)
        .map(|w| w[1].equity.raw() as f64 / w[0].equity.raw() as f64 - 1.0)
        .collect();
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let std = (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let ppy = s.periods_per_year.expect("inferred");
    assert_close(s.volatility, std * ppy.sqrt());
    assert_close(s.sharpe, mean / std * ppy.sqrt());
    let down = (r.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / n).sqrt();
    assert_close(s.sortino, mean / down * ppy.sqrt());
}

#[test]
fn streaming_sortino_needs_the_risk_free_rate_per_period_up_front() {
    let c = curve(&["100", "110", "99", "121"]);
    let cfg = StatsConfig {
        periods_per_year: None,
        risk_free_rate: 0.03,
    };
    let mut acc = StatsAccumulator::new(&cfg);
    c.iter().for_each(|p| acc.push_point(*p));
    let streamed = acc.finish(Exposure::default());
    assert_eq!(streamed.sortino, None);
    assert!(streamed.sharpe.is_some());
    // The whole curve infers the periods first, so the slice form has it.
    let whole = Statistics::compute(&c, &[], Exposure::default(), &cfg);
    assert!(whole.sortino.is_some());
    assert_eq!(whole.sharpe, streamed.sharpe);
}
