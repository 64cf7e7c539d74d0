//! Reading the OpenMetrics text exposition the programs' registries write (pure, no I/O):
//! which families exist, their kind, and each sample's labels and value.

/// A metric family's kind, as `# TYPE` declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A monotonic counter (samples `{name}_total`).
    Counter,
    /// A gauge (samples `{name}`).
    Gauge,
    /// Histograms, summaries and the rest: not exported over OTLP (OpenTelemetry has no
    /// asynchronous histogram); they stay on `/metrics`.
    Other,
}

/// One sample: its labels, in exposition order, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Label names and values.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

/// The families the exposition declares, in order, with their kind.
pub fn families(text: &str) -> Vec<(String, Kind)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| {
            let (name, kind) = rest.split_once(' ')?;
            let kind = match kind.trim() {
                "counter" => Kind::Counter,
                "gauge" => Kind::Gauge,
                _ => Kind::Other,
            };
            Some((name.to_owned(), kind))
        })
        .collect()
}

/// The samples of `family` of `kind` in `text`; lines that do not parse are skipped.
pub fn samples(text: &str, family: &str, kind: Kind) -> Vec<Sample> {
    let sample_name = match kind {
        Kind::Counter => format!("{family}_total"),
        Kind::Gauge => family.to_owned(),
        Kind::Other => return vec![],
    };
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| parse_line(l, &sample_name))
        .collect()
}

/// `name{a="x",b="y"} value [timestamp]` or `name value`, if `name` is `sample_name`.
fn parse_line(line: &str, sample_name: &str) -> Option<Sample> {
    let rest = line.strip_prefix(sample_name)?;
    let (labels, rest) = match rest.strip_prefix('{') {
        Some(inner) => parse_labels(inner)?,
        None => (vec![], rest),
    };
    // A different family whose name merely starts with this one has no space here.
    let rest = rest.strip_prefix(' ')?;
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample { labels, value })
}

/// Labels up to the closing `}`; returns them and what follows.
fn parse_labels(mut s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = vec![];
    loop {
        if let Some(rest) = s.strip_prefix('}') {
            return Some((labels, rest));
        }
        let (name, rest) = s.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((name.to_owned(), value));
        s = &rest[end + 1..];
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP tradewind_bot_orders Orders submitted.
# TYPE tradewind_bot_orders counter
tradewind_bot_orders_total{symbol="BTCUSDT",side="buy"} 2
tradewind_bot_orders_total{symbol="ETH\"USDT",side="sell"} 1
# TYPE tradewind_bot_feed_lag_seconds gauge
tradewind_bot_feed_lag_seconds{feed="binance"} 0.25
# TYPE tradewind_bot_feed_lag_seconds_max gauge
tradewind_bot_feed_lag_seconds_max 9.5
# TYPE tradewind_bot_decision_latency_seconds histogram
tradewind_bot_decision_latency_seconds_sum 0.002
tradewind_bot_decision_latency_seconds_bucket{le="+Inf"} 2
# TYPE tradewind_bot_lease_held gauge
tradewind_bot_lease_held 1
# EOF
"#;

    #[test]
    fn reads_families_and_their_kinds() {
        assert_eq!(
            families(TEXT),
            vec![
                ("tradewind_bot_orders".to_owned(), Kind::Counter),
                ("tradewind_bot_feed_lag_seconds".to_owned(), Kind::Gauge),
                ("tradewind_bot_feed_lag_seconds_max".to_owned(), Kind::Gauge),
                (
                    "tradewind_bot_decision_latency_seconds".to_owned(),
                    Kind::Other
                ),
                ("tradewind_bot_lease_held".to_owned(), Kind::Gauge),
            ]
        );
    }

    #[test]
    fn reads_samples_with_escaped_labels_and_only_their_own_family() {
        let orders = samples(TEXT, "tradewind_bot_orders", Kind::Counter);
        assert_eq!(orders.len(), 2);
        assert_eq!(
            orders[1].labels,
            vec![
                ("symbol".to_owned(), "ETH\"USDT".to_owned()),
                ("side".to_owned(), "sell".to_owned())
            ]
        );
        assert_eq!(orders[0].value, 2.0);
        // `_max` is another family: not a sample of this one.
        let lag = samples(TEXT, "tradewind_bot_feed_lag_seconds", Kind::Gauge);
        assert_eq!(
            lag,
            vec![Sample {
                labels: vec![("feed".to_owned(), "binance".to_owned())],
                value: 0.25
            }]
        );
        assert_eq!(
            samples(TEXT, "tradewind_bot_lease_held", Kind::Gauge)[0].value,
            1.0
        );
        assert!(samples(TEXT, "tradewind_bot_decision_latency_seconds", Kind::Other).is_empty());
    }
}
