//! A parameter sweep, shared by the operator (which counts, slices and ranks) and the
//! worker (which runs its slice): the combinations of `spec.backtest.sweep`, the slice of
//! them an Indexed Job's pod runs, a combination applied to the Strategy, the per-pod
//! report (its termination message) and the ranking. Pure: no I/O.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::{
    BacktestSummary, BacktestSweep, MAX_SWEEP_COMBINATIONS, PositiveDecimal, StrategySpec,
    StrategyType, SweepFailure, SweepMetric, SweepParameter, SweepResult,
};

/// One combination: parameter name → value (a decimal string).
pub type Combination = BTreeMap<String, String>;

/// File of the combinations (a JSON array of [`Combination`]) in a sweep Job's ConfigMap.
pub const COMBINATIONS_FILE: &str = "sweep.json";
/// Most combinations one pod runs: a retried index redoes at most this many, and its
/// top results fit a termination message.
pub const MAX_PER_SLICE: usize = 50;

/// What a sweep Job's pods read ([`COMBINATIONS_FILE`] in its ConfigMap): every
/// combination, how many each pod runs and how it ranks its slice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepPlan {
    /// The metric ranked by.
    pub metric: SweepMetric,
    /// Combinations per pod (pod `i` runs [`slice`]`(len, per_slice, i)`).
    pub per_slice: usize,
    /// Results each pod reports (its slice's best).
    pub top: usize,
    /// Every combination, in order.
    pub combinations: Vec<Combination>,
}

impl SweepPlan {
    /// The plan of `sweep` with its (checked) combinations at its parallelism; also the
    /// number of pods.
    pub fn new(sweep: &BacktestSweep, combinations: Vec<Combination>) -> (Self, usize) {
        let (slices, per_slice) = slicing(combinations.len(), sweep.parallelism.max(1) as usize);
        (
            Self {
                metric: sweep.metric,
                per_slice,
                top: sweep.top as usize,
                combinations,
            },
            slices,
        )
    }

    /// The combinations pod `index` runs (none past the end).
    pub fn slice(&self, index: usize) -> &[Combination] {
        &self.combinations[slice(self.combinations.len(), self.per_slice, index)]
    }
}

/// Why a sweep cannot run (or a combination cannot be applied).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SweepError {
    /// A value is not a decimal.
    #[error("sweep parameter {name}: {value:?} is not a decimal")]
    NotDecimal {
        /// The parameter.
        name: &'static str,
        /// The value.
        value: String,
    },
    /// A range without from, to and step, or with a step of zero or `to < from`.
    #[error("sweep parameter {name}: {reason}")]
    BadRange {
        /// The parameter.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// Too many combinations.
    #[error("the sweep has {0} combinations; at most {MAX_SWEEP_COMBINATIONS} are allowed")]
    TooMany(u128),
    /// The bot's Strategy type has no such parameter.
    #[error("sweep parameter {name}: a {strategy:?} Strategy has no such parameter")]
    UnknownParameter {
        /// The parameter.
        name: String,
        /// The Strategy's type.
        strategy: StrategyType,
    },
    /// A combination breaking a rule between the Strategy's parameters.
    #[error("{0}")]
    Conflict(&'static str),
    /// A value the parameter cannot take.
    #[error("sweep parameter {name}: {reason}")]
    BadValue {
        /// The parameter.
        name: String,
        /// Why.
        reason: String,
    },
}

/// A non-negative decimal as an integer mantissa at a scale (digits after the point).
fn parse(name: &'static str, text: &str) -> Result<(i128, u32), SweepError> {
    let bad = || SweepError::NotDecimal {
        name,
        value: text.to_owned(),
    };
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if int.len() + frac.len() > 30 {
        return Err(bad());
    }
    let digits: i128 = format!("{int}{frac}").parse().map_err(|_| bad())?;
    Ok((digits, frac.len() as u32))
}

fn rescale(v: (i128, u32), scale: u32) -> i128 {
    v.0 * 10i128.pow(scale - v.1)
}

fn format(mantissa: i128, scale: u32) -> String {
    if scale == 0 {
        return mantissa.to_string();
    }
    let s = format!("{:0>width$}", mantissa, width = scale as usize + 1);
    let (int, frac) = s.split_at(s.len() - scale as usize);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{frac}")
    }
}

/// The values of one parameter, exactly (a range is `from, from+step, …` up to `to`).
pub fn values(p: &SweepParameter) -> Result<Vec<String>, SweepError> {
    let name = p.name.as_str();
    if let Some(values) = &p.values {
        return values
            .iter()
            .map(|v| parse(name, &v.0).map(|(m, s)| format(m, s)))
            .collect();
    }
    let (Some(from), Some(to), Some(step)) = (&p.from, &p.to, &p.step) else {
        return Err(SweepError::BadRange {
            name,
            reason: "give either values or from, to and step".into(),
        });
    };
    let (from, to, step) = (
        parse(name, &from.0)?,
        parse(name, &to.0)?,
        parse(name, &step.0)?,
    );
    let scale = from.1.max(to.1).max(step.1);
    let (from, to, step) = (
        rescale(from, scale),
        rescale(to, scale),
        rescale(step, scale),
    );
    if step == 0 {
        return Err(SweepError::BadRange {
            name,
            reason: "step must be greater than zero".into(),
        });
    }
    if to < from {
        return Err(SweepError::BadRange {
            name,
            reason: "to must not be below from".into(),
        });
    }
    let count = (to - from) / step + 1;
    if count > MAX_SWEEP_COMBINATIONS as i128 {
        return Err(SweepError::TooMany(count as u128));
    }
    Ok((0..count).map(|i| format(from + i * step, scale)).collect())
}

/// Every combination, the first parameter varying slowest.
pub fn combinations(sweep: &BacktestSweep) -> Result<Vec<Combination>, SweepError> {
    let lists = sweep
        .parameters
        .iter()
        .map(|p| values(p).map(|v| (p.name.as_str(), v)))
        .collect::<Result<Vec<_>, _>>()?;
    let total = lists
        .iter()
        .fold(1u128, |n, (_, v)| n.saturating_mul(v.len() as u128));
    if total > MAX_SWEEP_COMBINATIONS as u128 {
        return Err(SweepError::TooMany(total));
    }
    let mut out = vec![Combination::new()];
    for (name, vals) in &lists {
        out = out
            .into_iter()
            .flat_map(|c| {
                vals.iter().map(move |v| {
                    let mut c = c.clone();
                    c.insert((*name).to_owned(), v.clone());
                    c
                })
            })
            .collect();
    }
    Ok(out)
}

/// Pods (an Indexed Job's completions) for `total` combinations at `parallelism`, and
/// the combinations each runs: every pod of the first wave busy, none over
/// [`MAX_PER_SLICE`].
pub fn slicing(total: usize, parallelism: usize) -> (usize, usize) {
    if total == 0 {
        return (0, 0);
    }
    let per = total.div_ceil(parallelism.max(1)).clamp(1, MAX_PER_SLICE);
    (total.div_ceil(per), per)
}

/// The combinations pod `index` runs.
pub fn slice(total: usize, per_slice: usize, index: usize) -> Range<usize> {
    let start = (index * per_slice).min(total);
    start..(start + per_slice).min(total)
}

fn integer(name: &str, value: &str, min: u32, max: u32) -> Result<u32, SweepError> {
    let n: u32 = value.parse().map_err(|_| SweepError::BadValue {
        name: name.to_owned(),
        reason: format!("{value} is not a whole number"),
    })?;
    if !(min..=max).contains(&n) {
        return Err(SweepError::BadValue {
            name: name.to_owned(),
            reason: format!("{value} is outside {min}..={max}"),
        });
    }
    Ok(n)
}

fn positive(name: &str, value: &str) -> Result<PositiveDecimal, SweepError> {
    if value.bytes().all(|b| b == b'0' || b == b'.') {
        return Err(SweepError::BadValue {
            name: name.to_owned(),
            reason: "must be greater than zero".into(),
        });
    }
    Ok(PositiveDecimal::from(value))
}

fn bad(name: &str, reason: &str) -> SweepError {
    SweepError::BadValue {
        name: name.to_owned(),
        reason: reason.to_owned(),
    }
}

/// The Strategy with `combination`'s values; the Strategy's own rules (e.g. fastPeriod
/// below slowPeriod) hold or the combination is refused, naming the rule.
pub fn apply(
    strategy: &StrategySpec,
    combination: &Combination,
) -> Result<StrategySpec, SweepError> {
    let mut s = strategy.clone();
    let unknown = |name: &str| SweepError::UnknownParameter {
        name: name.to_owned(),
        strategy: strategy.type_,
    };
    for (name, value) in combination {
        let v = value.as_str();
        let n = name.as_str();
        let cross = match s.type_ {
            StrategyType::SmaCross => s.sma_cross.as_mut(),
            StrategyType::EmaCross => s.ema_cross.as_mut(),
            _ => None,
        };
        match (n, cross) {
            ("fastPeriod", Some(c)) => c.fast_period = integer(n, v, 1, 10_000)?,
            ("slowPeriod", Some(c)) => c.slow_period = integer(n, v, 2, 10_000)?,
            ("fastPeriod" | "slowPeriod", None) => return Err(unknown(n)),
            ("period", _) => match s.type_ {
                StrategyType::RsiReversion => {
                    s.rsi_reversion.as_mut().ok_or_else(|| unknown(n))?.period =
                        integer(n, v, 2, 1000)?
                }
                StrategyType::BollingerReversion => {
                    s.bollinger_reversion
                        .as_mut()
                        .ok_or_else(|| unknown(n))?
                        .period = integer(n, v, 2, 10_000)?
                }
                _ => return Err(unknown(n)),
            },
            ("oversold", _) => {
                s.rsi_reversion.as_mut().ok_or_else(|| unknown(n))?.oversold = integer(n, v, 1, 99)?
            }
            ("overbought", _) => {
                s.rsi_reversion
                    .as_mut()
                    .ok_or_else(|| unknown(n))?
                    .overbought = integer(n, v, 1, 99)?
            }
            ("stdDevs", _) => {
                s.bollinger_reversion
                    .as_mut()
                    .ok_or_else(|| unknown(n))?
                    .std_devs = positive(n, v)?
            }
            ("levels", _) => {
                s.grid.as_mut().ok_or_else(|| unknown(n))?.levels = integer(n, v, 2, 1000)?
            }
            ("everyBars", _) => {
                s.dca.as_mut().ok_or_else(|| unknown(n))?.every_bars = integer(n, v, 1, 100_000)?
            }
            ("spreadBps", _) => {
                s.market_maker
                    .as_mut()
                    .ok_or_else(|| unknown(n))?
                    .spread_bps = positive(n, v)?
            }
            ("refreshBars", _) => {
                s.market_maker
                    .as_mut()
                    .ok_or_else(|| unknown(n))?
                    .refresh_bars = integer(n, v, 1, 10_000)?
            }
            _ => return Err(unknown(n)),
        }
    }
    // The Strategy's CEL rules, for the values a sweep may change.
    if let Some(c) = s.sma_cross.as_ref().or(s.ema_cross.as_ref())
        && c.fast_period >= c.slow_period
    {
        return Err(SweepError::Conflict(
            "fastPeriod must be smaller than slowPeriod",
        ));
    }
    if let Some(r) = &s.rsi_reversion
        && r.oversold >= r.overbought
    {
        return Err(SweepError::Conflict("oversold must be below overbought"));
    }
    if let Some(m) = &s.market_maker
        && m.spread_bps.0.parse::<f64>().is_ok_and(|b| b >= 10_000.0)
    {
        return Err(bad("spreadBps", "must be below 10000 (100 %)"));
    }
    Ok(s)
}

/// Refuses a sweep the bot's Strategy cannot take: a parameter its type does not have, or
/// a value the parameter cannot take (each value checked alone; a combination breaking a
/// rule between parameters, e.g. fastPeriod ≥ slowPeriod, fails by name when run).
pub fn check(
    sweep: &BacktestSweep,
    strategy: &StrategySpec,
) -> Result<Vec<Combination>, SweepError> {
    let all = combinations(sweep)?;
    for p in &sweep.parameters {
        for v in values(p)? {
            let one = Combination::from([(p.name.as_str().to_owned(), v)]);
            match apply(strategy, &one) {
                Ok(_) | Err(SweepError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(all)
}

/// The metric's value in a summary.
pub fn metric_value(summary: &BacktestSummary, metric: SweepMetric) -> Option<String> {
    match metric {
        SweepMetric::Sharpe => summary.sharpe.clone(),
        SweepMetric::TotalReturn => summary.total_return.clone(),
        SweepMetric::Cagr => summary.cagr.clone(),
        SweepMetric::Sortino => summary.sortino.clone(),
        SweepMetric::MaxDrawdown => summary.max_drawdown.clone(),
        SweepMetric::ProfitFactor => summary.profit_factor.clone(),
        SweepMetric::WinRate => summary.win_rate.clone(),
    }
}

/// One combination's row in a ranking.
pub fn result_of(
    combination: &Combination,
    summary: &BacktestSummary,
    metric: SweepMetric,
) -> SweepResult {
    SweepResult {
        parameters: combination.clone(),
        value: metric_value(summary, metric),
        trades: summary.trades,
        total_return: summary.total_return.clone(),
        max_drawdown: summary.max_drawdown.clone(),
    }
}

/// Orders two results best first; a result without the metric ranks last. The values
/// are ratios, not money: their order is read as numbers.
fn better(metric: SweepMetric, a: &SweepResult, b: &SweepResult) -> Ordering {
    let num = |r: &SweepResult| r.value.as_deref().and_then(|v| v.parse::<f64>().ok());
    match (num(a), num(b)) {
        (Some(x), Some(y)) => {
            let o = y.partial_cmp(&x).unwrap_or(Ordering::Equal);
            if metric == SweepMetric::MaxDrawdown {
                o.reverse()
            } else {
                o
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| a.parameters.cmp(&b.parameters))
}

/// The best `top` results, best first (ties in parameter order).
pub fn rank(mut results: Vec<SweepResult>, metric: SweepMetric, top: usize) -> Vec<SweepResult> {
    results.sort_by(|a, b| better(metric, a, b));
    results.truncate(top);
    results
}

/// What a sweep pod leaves as its termination message: its slice's best results and
/// every failure, by combination.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SliceReport {
    /// The pod's completion index.
    pub index: u32,
    /// Combinations in the slice.
    pub combinations: u32,
    /// Combinations that ran to their end.
    pub completed: u32,
    /// The slice's best results, best first.
    #[serde(default)]
    pub top: Vec<SweepResult>,
    /// Combinations that failed.
    #[serde(default)]
    pub failed: Vec<SweepFailure>,
}

impl SliceReport {
    /// The report as JSON of at most `max` bytes: the lowest-ranked results go first,
    /// then the failures' errors are shortened (failures stay named).
    pub fn message(&self, max: usize) -> String {
        let mut r = self.clone();
        loop {
            let text = serde_json::to_string(&r).unwrap_or_default();
            if text.len() <= max {
                return text;
            }
            if r.top.pop().is_some() {
                continue;
            }
            if let Some(f) = r
                .failed
                .iter_mut()
                .find(|f| f.error.len() > 40 && !f.error.ends_with('…'))
            {
                let mut cut = 40;
                while !f.error.is_char_boundary(cut) {
                    cut -= 1;
                }
                f.error.truncate(cut);
                f.error.push('…');
                continue;
            }
            if r.failed.pop().is_some() {
                continue;
            }
            return text;
        }
    }
}

/// The sweep's outcome from its pods' reports: `missing` slices (failed for good without
/// a report) name their combinations.
pub fn outcome(
    combinations: &[Combination],
    per_slice: usize,
    reports: &[SliceReport],
    missing_slices: &[usize],
    metric: SweepMetric,
    top: usize,
) -> crate::SweepOutcome {
    let completed = reports.iter().map(|r| r.completed).sum();
    let results = reports.iter().flat_map(|r| r.top.iter().cloned()).collect();
    let failed = reports
        .iter()
        .flat_map(|r| r.failed.iter().cloned())
        .collect();
    let missing = missing_slices
        .iter()
        .flat_map(|&i| {
            combinations[slice(combinations.len(), per_slice, i)]
                .iter()
                .cloned()
        })
        .collect();
    crate::SweepOutcome {
        metric,
        combinations: combinations.len() as u32,
        completed,
        ranking: rank(results, metric, top),
        failed,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decimal, StrategyParameter};

    fn range(name: StrategyParameter, from: &str, to: &str, step: &str) -> SweepParameter {
        SweepParameter {
            name,
            from: Some(Decimal::from(from)),
            to: Some(Decimal::from(to)),
            step: Some(Decimal::from(step)),
            values: None,
        }
    }

    fn sweep(parameters: Vec<SweepParameter>) -> BacktestSweep {
        BacktestSweep {
            parameters,
            metric: SweepMetric::Sharpe,
            parallelism: 2,
            top: 10,
        }
    }

    fn strategy(yaml: &str) -> StrategySpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn ranges_are_exact_decimals() {
        let p = range(StrategyParameter::StdDevs, "1.5", "2.5", "0.25");
        assert_eq!(values(&p).unwrap(), ["1.5", "1.75", "2", "2.25", "2.5"]);
        // `to` not a whole number of steps away: the last step below it.
        let p = range(StrategyParameter::FastPeriod, "5", "21", "5");
        assert_eq!(values(&p).unwrap(), ["5", "10", "15", "20"]);
        let p = range(StrategyParameter::FastPeriod, "0.1", "0.3", "0.1");
        assert_eq!(values(&p).unwrap(), ["0.1", "0.2", "0.3"]);
        let p = range(StrategyParameter::FastPeriod, "5", "4", "1");
        assert!(matches!(values(&p), Err(SweepError::BadRange { .. })));
        let p = range(StrategyParameter::FastPeriod, "5", "6", "0.0");
        assert!(matches!(values(&p), Err(SweepError::BadRange { .. })));
        let p = range(StrategyParameter::FastPeriod, "5", "x", "1");
        assert_eq!(
            values(&p).unwrap_err().to_string(),
            "sweep parameter fastPeriod: \"x\" is not a decimal"
        );
    }

    #[test]
    fn combinations_are_the_product_first_parameter_slowest() {
        let s = sweep(vec![
            range(StrategyParameter::FastPeriod, "5", "10", "5"),
            range(StrategyParameter::SlowPeriod, "20", "30", "10"),
        ]);
        let all = combinations(&s).unwrap();
        let pairs: Vec<(&str, &str)> = all
            .iter()
            .map(|c| (c["fastPeriod"].as_str(), c["slowPeriod"].as_str()))
            .collect();
        assert_eq!(
            pairs,
            [("5", "20"), ("5", "30"), ("10", "20"), ("10", "30")]
        );
        // The bound holds on the product.
        let big = sweep(vec![
            range(StrategyParameter::FastPeriod, "1", "200", "1"),
            range(StrategyParameter::SlowPeriod, "1", "51", "1"),
        ]);
        assert_eq!(combinations(&big).unwrap_err(), SweepError::TooMany(10_200));
    }

    #[test]
    fn slices_cover_every_combination_once() {
        assert_eq!(slicing(4, 2), (2, 2));
        assert_eq!(slicing(5, 2), (2, 3));
        assert_eq!(slicing(1, 8), (1, 1));
        assert_eq!(slicing(10_000, 10), (200, 50));
        assert_eq!(slicing(0, 2), (0, 0));
        for (total, par) in [(4, 2), (5, 2), (7, 3), (10_000, 10), (101, 64)] {
            let (n, per) = slicing(total, par);
            let covered: Vec<usize> = (0..n).flat_map(|i| slice(total, per, i)).collect();
            assert_eq!(covered, (0..total).collect::<Vec<_>>(), "{total} at {par}");
            assert!((0..n).all(|i| !slice(total, per, i).is_empty()));
        }
    }

    const SMA: &str = "{type: SmaCross, timeframe: 1m, smaCross: {fastPeriod: 5, slowPeriod: 20}}";

    #[test]
    fn a_combination_changes_the_strategy_within_its_rules() {
        let s = strategy(SMA);
        let c = Combination::from([
            ("fastPeriod".to_owned(), "10".to_owned()),
            ("slowPeriod".to_owned(), "30".to_owned()),
        ]);
        let applied = apply(&s, &c).unwrap();
        let cross = applied.sma_cross.unwrap();
        assert_eq!((cross.fast_period, cross.slow_period), (10, 30));
        let c = Combination::from([("fastPeriod".to_owned(), "20".to_owned())]);
        assert_eq!(
            apply(&s, &c).unwrap_err().to_string(),
            "fastPeriod must be smaller than slowPeriod"
        );
        let c = Combination::from([("fastPeriod".to_owned(), "2.5".to_owned())]);
        assert_eq!(
            apply(&s, &c).unwrap_err().to_string(),
            "sweep parameter fastPeriod: 2.5 is not a whole number"
        );
        let c = Combination::from([("stdDevs".to_owned(), "2".to_owned())]);
        assert_eq!(
            apply(&s, &c).unwrap_err().to_string(),
            "sweep parameter stdDevs: a SmaCross Strategy has no such parameter"
        );
        let bb = strategy(
            "{type: BollingerReversion, timeframe: 1m, bollingerReversion: {period: 20, stdDevs: '2'}}",
        );
        let c = Combination::from([("stdDevs".to_owned(), "1.5".to_owned())]);
        assert_eq!(
            apply(&bb, &c)
                .unwrap()
                .bollinger_reversion
                .unwrap()
                .std_devs
                .0,
            "1.5"
        );
    }

    #[test]
    fn check_refuses_what_the_strategy_cannot_take_and_keeps_cross_rules_for_the_run() {
        let s = strategy(SMA);
        let ok = sweep(vec![
            range(StrategyParameter::FastPeriod, "5", "25", "10"),
            range(StrategyParameter::SlowPeriod, "20", "30", "10"),
        ]);
        // fastPeriod 25 ≥ slowPeriod: those combinations fail by name when run.
        assert_eq!(check(&ok, &s).unwrap().len(), 6);
        let other = sweep(vec![range(StrategyParameter::Oversold, "20", "30", "10")]);
        assert!(matches!(
            check(&other, &s),
            Err(SweepError::UnknownParameter { .. })
        ));
        let zero = sweep(vec![range(StrategyParameter::FastPeriod, "0", "10", "5")]);
        assert_eq!(
            check(&zero, &s).unwrap_err().to_string(),
            "sweep parameter fastPeriod: 0 is outside 1..=10000"
        );
    }

    fn result(fast: &str, value: Option<&str>) -> SweepResult {
        SweepResult {
            parameters: Combination::from([("fastPeriod".to_owned(), fast.to_owned())]),
            value: value.map(str::to_owned),
            ..SweepResult::default()
        }
    }

    #[test]
    fn ranking_is_best_first_and_drawdown_is_smallest_first() {
        let rs = vec![
            result("5", Some("0.5")),
            result("10", None),
            result("15", Some("1.25")),
            result("20", Some("-0.3")),
        ];
        let fast = |v: Vec<SweepResult>| -> Vec<String> {
            v.into_iter()
                .map(|r| r.parameters["fastPeriod"].clone())
                .collect()
        };
        assert_eq!(
            fast(rank(rs.clone(), SweepMetric::Sharpe, 10)),
            ["15", "5", "20", "10"]
        );
        assert_eq!(fast(rank(rs.clone(), SweepMetric::Sharpe, 2)), ["15", "5"]);
        assert_eq!(
            fast(rank(rs, SweepMetric::MaxDrawdown, 10)),
            ["20", "5", "15", "10"]
        );
    }

    #[test]
    fn a_slice_report_fits_its_message_and_keeps_failures_named() {
        let report = SliceReport {
            index: 3,
            combinations: 50,
            completed: 40,
            top: (0..40)
                .map(|i| result(&i.to_string(), Some("1.0")))
                .collect(),
            failed: (0..10)
                .map(|i| SweepFailure {
                    parameters: Combination::from([("fastPeriod".to_owned(), format!("{i}"))]),
                    error: "x".repeat(2000),
                })
                .collect(),
        };
        let text = report.message(4096);
        assert!(text.len() <= 4096, "{}", text.len());
        let back: SliceReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back.completed, 40);
        assert_eq!(back.failed.len(), 10, "every failure still named");
        // Small enough: unchanged.
        let small = SliceReport {
            top: vec![result("5", Some("1"))],
            ..SliceReport::default()
        };
        assert_eq!(
            serde_json::from_str::<SliceReport>(&small.message(4096)).unwrap(),
            small
        );
    }

    #[test]
    fn the_outcome_ranks_across_slices_and_names_what_is_missing() {
        let s = sweep(vec![
            range(StrategyParameter::FastPeriod, "5", "10", "5"),
            range(StrategyParameter::SlowPeriod, "20", "30", "10"),
        ]);
        let all = combinations(&s).unwrap();
        let (_, per) = slicing(all.len(), 2);
        let r0 = SliceReport {
            index: 0,
            combinations: 2,
            completed: 1,
            top: vec![SweepResult {
                parameters: all[1].clone(),
                value: Some("0.8".into()),
                ..SweepResult::default()
            }],
            failed: vec![SweepFailure {
                parameters: all[0].clone(),
                error: "boom".into(),
            }],
        };
        let o = outcome(&all, per, &[r0], &[1], SweepMetric::Sharpe, 10);
        assert_eq!(o.combinations, 4);
        assert_eq!(o.completed, 1);
        assert_eq!(o.ranking.len(), 1);
        assert_eq!(o.failed[0].parameters, all[0]);
        assert_eq!(o.missing, vec![all[2].clone(), all[3].clone()]);
    }
}
