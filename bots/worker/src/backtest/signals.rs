//! `--signals FILE.jsonl`: the external signals a Signal strategy is backtested on, one
//! JSON object per line as the webhook takes them (without the secret):
//! `{"id": "tv-1", "action": "enter", "time": "2024-01-02T03:04:05Z"}`.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use tradewind_core::data::time::parse_iso8601;
use tradewind_core::strategy::{Signal, SignalAction};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: String,
    action: String,
    time: String,
    /// Ignored: the webhook's, allowed so a recorded alert can be replayed as sent.
    #[serde(default)]
    #[allow(dead_code)]
    ticker: Option<String>,
}

/// The signals of a file, in time order (ties in file order). Each line's fault is
/// named with its line number; an id used twice is refused, as the webhook would.
pub fn load(path: &Path) -> Result<Vec<Signal>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--signals {}: cannot read", path.display()))?;
    parse(&text).with_context(|| format!("--signals {}", path.display()))
}

fn parse(text: &str) -> Result<Vec<Signal>> {
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let l: Line =
            serde_json::from_str(line).with_context(|| format!("line {n}: not a signal"))?;
        let action: SignalAction = l
            .action
            .parse()
            .map_err(|e| anyhow::anyhow!("line {n}: action: {e}"))?;
        let ts = parse_iso8601(&l.time).map_err(|e| anyhow::anyhow!("line {n}: time: {e}"))?;
        if l.id.is_empty() {
            bail!("line {n}: id: must not be empty");
        }
        if !ids.insert(l.id.clone()) {
            bail!(
                "line {n}: id: {:?} is used twice (a repeat is the same signal)",
                l.id
            );
        }
        out.push(Signal {
            id: l.id,
            ts,
            action,
        });
    }
    out.sort_by_key(|s| s.ts);
    Ok(out)
}

/// Hands the engine its signals in time order as bars stream: each signal goes in
/// after every bar that opened at or before its time, so a decision on it uses no
/// price from before the signal (it fills at the next open, or at the close of the bar
/// it came in under the same-bar-close model).
pub struct Feed {
    signals: Vec<Signal>,
    next: usize,
}

impl Feed {
    /// A feed of `signals` (in time order).
    pub fn new(signals: Vec<Signal>) -> Self {
        Feed { signals, next: 0 }
    }

    /// The signals due before a bar opening at `bar_ts`.
    pub fn before(&mut self, bar_ts: i64) -> &[Signal] {
        let start = self.next;
        while self.next < self.signals.len() && self.signals[self.next].ts < bar_ts {
            self.next += 1;
        }
        &self.signals[start..self.next]
    }

    /// The signals after the last bar.
    pub fn rest(&mut self) -> &[Signal] {
        let start = self.next;
        self.next = self.signals.len();
        &self.signals[start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_sort_by_time_and_name_the_faulty_line() {
        let s = parse(
            "{\"id\":\"b\",\"action\":\"exit\",\"time\":\"2024-01-02T00:00:00Z\"}\n\n\
             {\"id\":\"a\",\"action\":\"buy\",\"time\":\"2024-01-01T00:00:00Z\",\"ticker\":\"X\"}\n",
        )
        .unwrap();
        assert_eq!(
            s.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(s[0].action, SignalAction::Enter);
        let e = parse("{\"id\":\"a\",\"action\":\"hold\",\"time\":\"2024-01-01T00:00:00Z\"}")
            .unwrap_err();
        assert!(e.to_string().starts_with("line 1: action:"), "{e}");
        let e = parse(
            "{\"id\":\"a\",\"action\":\"exit\",\"time\":\"2024-01-01T00:00:00Z\"}\n\
             {\"id\":\"a\",\"action\":\"exit\",\"time\":\"2024-01-01T00:00:01Z\"}",
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 2: id"), "{e}");
    }

    #[test]
    fn the_feed_hands_out_signals_before_the_first_bar_opening_after_them() {
        let sig = |id: &str, ts| Signal {
            id: id.into(),
            ts,
            action: SignalAction::Enter,
        };
        let mut f = Feed::new(vec![sig("a", 5), sig("b", 10), sig("c", 25)]);
        assert!(f.before(0).is_empty());
        assert_eq!(
            f.before(10).len(),
            1,
            "a signal at a bar's open waits for it"
        );
        assert_eq!(f.before(20)[0].id, "b");
        assert_eq!(f.rest()[0].id, "c");
    }
}
