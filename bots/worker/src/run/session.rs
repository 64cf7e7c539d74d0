//! One trading session, the same loop for paper and live: each closed bar is journaled,
//! goes through the engine, the engine's decisions go to the execution (the simulated
//! exchange for paper, the Binance client for live), and what happened is published and
//! reported. The venue's own reports (live) and the worker's troubles go the same way.
//!
//! The session knows nothing of Kubernetes, files or flags: the wiring around it
//! (`super::worker`) builds the engine, the execution, the sinks and the status reporter,
//! and hands it its market data, the venue's reports, the Lease and the shutdown signal.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tokio::sync::watch;
use tradewind_core::data::Bar;
use tradewind_core::engine::{Engine, Venue};
use tradewind_core::exchange::MatchingEngine;
use tradewind_core::fixed::Money;
use tradewind_events::{Body, Event, HaltCause, Mode, Performance, StopReason, Trouble};

use super::events::EventSink;
use super::feed::{SourceError, Tick};
use super::holdings::{Holdings, Refusal};
use super::journal::Journal;
use super::metrics::WorkerMetrics;
use super::record::Record;
use super::recorder::Recorder;
use super::status::{ConditionReport, PositionSnapshot, StatusReporter, StatusSnapshot};
use super::trader::{Identity, Trader, TraderError};
use crate::venue::binance::{FeedError, VenueError};

/// Why a session stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The engine or its journal failed.
    #[error(transparent)]
    Trader(#[from] TraderError),
    /// The exchange failed in a way that needs a person (auth, config).
    #[error("exchange: {0}")]
    Venue(#[from] VenueError),
    /// This worker no longer holds the bot's Lease: nothing more is sent.
    #[error("the bot's Lease was lost: stopped sending orders")]
    LostLease,
    /// The market data source failed.
    #[error("market data: {0}")]
    Source(#[from] SourceError),
    /// The venue's report stream failed.
    #[error("user data stream: {0}")]
    Reports(#[from] FeedError),
    /// A stream that never ends on its own ended.
    #[error("the {0} stream ended")]
    Ended(&'static str),
    /// A new live session found the account holding the base asset and will not trade.
    #[error("not trading: {0}")]
    UnexpectedHoldings(Refusal),
    /// The platform delivered a signal the worker cannot read.
    #[error("a signal from the platform: {0}")]
    Signal(String),
}

impl From<Infallible> for SessionError {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}

/// Whether this worker holds the bot's Lease, asked before every order leaves.
pub type Leading<'a> = &'a dyn Fn() -> bool;

/// Where the engine's decisions are executed. Paper trading needs nothing beyond the
/// engine's own simulated exchange; live trading sends them to the venue and feeds the
/// venue's reports back.
// The session runs on one task (never spawned), so its futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Execution {
    /// The engine's venue: the simulated exchange, or an outbox of commands to send.
    type Venue: Venue;
    /// What the venue reports between bars (live: the user data stream's events).
    type Report;

    /// Learns from a journal record while the engine replays it.
    fn learn(&mut self, _record: &Record) {}

    /// After the replay, before the start is journaled: settles decisions the replay
    /// made again (e.g. drops orders the journal shows were sent already).
    fn recovered(&mut self, _trader: &mut Trader<Self::Venue>) -> Result<Vec<Event>, SessionError> {
        Ok(Vec::new())
    }

    /// At the start of a new session: cancels what an earlier session left open at the
    /// venue, while `leading`; returns those orders' client order ids.
    async fn cancel_orphans(&mut self, _leading: Leading<'_>) -> Result<Vec<String>, SessionError> {
        Ok(Vec::new())
    }

    /// At the start of a new session (after `cancel_orphans`): what to do with what the
    /// account already holds, for a bot with `capital`.
    async fn holdings(&mut self, _capital: Money) -> Result<Holdings, SessionError> {
        Ok(Holdings::Flat)
    }

    /// Before the first bar: brings the engine up to date with the venue.
    async fn reconcile(
        &mut self,
        _trader: &mut Trader<Self::Venue>,
        _leading: Leading<'_>,
    ) -> Result<Vec<Event>, SessionError> {
        Ok(Vec::new())
    }

    /// After each bar: sends what the engine decided.
    async fn flush(
        &mut self,
        _trader: &mut Trader<Self::Venue>,
        _leading: Leading<'_>,
    ) -> Result<Vec<Event>, SessionError> {
        Ok(Vec::new())
    }

    /// A report from the venue.
    async fn on_report(
        &mut self,
        trader: &mut Trader<Self::Venue>,
        report: Self::Report,
        leading: Leading<'_>,
    ) -> Result<Vec<Event>, SessionError>;

    /// At a clean stop (e.g. cancels open orders when configured to, while `leading`).
    async fn stop(
        &mut self,
        _trader: &mut Trader<Self::Venue>,
        _leading: Leading<'_>,
    ) -> Result<Vec<Event>, SessionError> {
        Ok(Vec::new())
    }
}

/// Paper trading: the engine's simulated exchange fills its orders on the bars.
pub struct Paper;

impl Execution for Paper {
    type Venue = MatchingEngine;
    type Report = Infallible;

    async fn on_report(
        &mut self,
        _trader: &mut Trader<MatchingEngine>,
        report: Infallible,
        _leading: Leading<'_>,
    ) -> Result<Vec<Event>, SessionError> {
        match report {}
    }
}

/// Where a session's events and performance go.
pub struct Outputs {
    /// The symbol traded (metric labels, status).
    pub symbol: String,
    /// Paper or live.
    pub mode: Mode,
    /// The events' sink.
    pub sink: Arc<dyn EventSink>,
    /// The worker's metrics.
    pub metrics: Arc<WorkerMetrics>,
    /// The TradingBot's status, when there is a cluster.
    pub status: Option<StatusReporter>,
    /// The platform recorder, when the platform is installed.
    pub recorder: Option<Arc<Recorder>>,
    /// Signals from the platform, for a Signal strategy's worker.
    pub signals: Option<super::signals::Inbox>,
}

/// How a session ended without an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Why it stopped.
    pub reason: StopReason,
    /// Its performance then.
    pub performance: Performance,
}

/// The name of the market-data feed in metrics and events.
pub const MARKET_FEED: &str = "binance-market";

/// Wall-clock time, RFC 3339 (for the worker's own facts).
pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Millisecond)
        .unwrap_or_else(|_| k8s_openapi::jiff::Timestamp::now())
        .to_string()
}

/// A new session that will not trade: nothing is journaled (the next start looks
/// again); the refusal is published as an `UnexpectedHoldings` event of a session that
/// never started (sequence 0) and written into the bot's `Trading` condition.
async fn refuse(out: &mut Outputs, bot: &str, session: &str, capital: Money, r: &Refusal) {
    tracing::error!(asset = %r.asset, quantity = %r.quantity, "{}", r.message);
    let event = Event::new(
        bot,
        session,
        0,
        now(),
        Body::UnexpectedHoldings {
            asset: r.asset.clone(),
            quantity: r.quantity.clone(),
            value: r.value.map(|v| v.to_string()).unwrap_or_default(),
            message: r.message.clone(),
        },
    );
    if let Some(status) = &mut out.status {
        let snap = refused_status(capital, r);
        if let Err(e) = status.report(&snap).await {
            tracing::warn!(error = %e, "could not report the refusal in the bot's status");
        }
    }
    out.metrics.observe(&out.symbol, &event);
    out.sink.publish(&event);
    if let Err(e) = out.sink.flush().await {
        tracing::warn!(error = %e, "the refusal's event may not have been delivered");
    }
}

/// The status of a bot whose new session refused to trade: flat at its capital, the
/// `Trading` condition False with reason `UnexpectedHoldings`.
pub fn refused_status(capital: Money, r: &Refusal) -> StatusSnapshot {
    StatusSnapshot {
        equity: capital,
        realized_pnl: Money::ZERO,
        unrealized_pnl: Money::ZERO,
        fees: Money::ZERO,
        drawdown_percent: "0.00".into(),
        positions: Vec::new(),
        trading: ConditionReport::new(false, "UnexpectedHoldings", r.message.clone()),
        halted: ConditionReport::new(false, "WithinLimits", "no risk limit breached"),
    }
}

/// A session trading on `X`.
pub struct Session<X: Execution> {
    trader: Trader<X::Venue>,
    execution: X,
    out: Outputs,
    leading: watch::Receiver<bool>,
    /// New bars are not traded: the recorder's backlog is at its bound.
    paused: bool,
}

/// Everything a session starts from.
pub struct Start<X: Execution> {
    /// The engine, before the replay.
    pub engine: Engine<X::Venue>,
    /// The session's journal and what it held.
    pub journal: (Journal<Record>, Vec<Record>),
    /// The bot (the session is taken from the journal, or `now` for a new one).
    pub bot: String,
    /// The resolved configuration's hash, journaled with the start.
    pub config_hash: String,
    /// Length of a bar (the strategy's timeframe), ns.
    pub bar_nanos: i64,
    /// The execution.
    pub execution: X,
    /// The outputs.
    pub outputs: Outputs,
    /// Whether this worker holds the bot's Lease.
    pub leading: watch::Receiver<bool>,
}

impl<X: Execution> Session<X> {
    /// Replays the journal, publishes what was not yet delivered, and journals and
    /// publishes the (re)start.
    pub async fn start(s: Start<X>) -> Result<Self, SessionError> {
        let Start {
            engine,
            journal: (journal, records),
            bot,
            config_hash,
            bar_nanos,
            mut execution,
            outputs,
            leading,
        } = s;
        let session = super::trader::session_of(&records).unwrap_or_else(now);
        let (orphans, holdings) = if records.is_empty() {
            let flag = leading.clone();
            let orphans = execution.cancel_orphans(&move || *flag.borrow()).await?;
            let capital = engine.settings().capital;
            (orphans, execution.holdings(capital).await?)
        } else {
            (Vec::new(), Holdings::Flat)
        };
        let mut outputs = outputs;
        let adopt = match holdings {
            Holdings::Flat => None,
            Holdings::Adopt {
                asset,
                quantity,
                price,
            } => Some((asset, quantity, price)),
            Holdings::Refuse(refusal) => {
                refuse(
                    &mut outputs,
                    &bot,
                    &session,
                    engine.settings().capital,
                    &refusal,
                )
                .await;
                return Err(SessionError::UnexpectedHoldings(refusal));
            }
        };
        let (trader, pending) = Trader::recover(
            engine,
            journal,
            &records,
            Identity {
                bot,
                session,
                bar_nanos,
            },
            outputs.recorder.is_some(),
            |_, r| execution.learn(r),
        )?;
        let mut this = Self {
            trader,
            execution,
            out: outputs,
            leading,
            paused: false,
        };
        if let Some(inbox) = &this.out.signals {
            // The fetcher asks for what comes after the journal's last signal.
            inbox.cursor.send_replace(this.trader.signal_cursor());
        }
        let published = this.trader.published();
        if let Some(recorder) = &this.out.recorder {
            let from = this.trader.acknowledged_mark().unwrap_or(0);
            recorder.resume_from(from);
            let resend = pending.iter().filter(|e| e.sequence >= from).count();
            if resend > 0 {
                tracing::info!(
                    events = resend,
                    from,
                    "sending the platform the events it had not confirmed before the restart"
                );
            }
            for e in &pending {
                recorder.publish(e);
            }
        }
        let pending: Vec<Event> = pending
            .into_iter()
            .filter(|e| e.sequence >= published)
            .collect();
        if !pending.is_empty() {
            tracing::info!(
                events = pending.len(),
                "publishing events not known to be delivered before the restart"
            );
        }
        this.publish(pending);
        let settled = this.execution.recovered(&mut this.trader)?;
        this.publish(settled);
        let mode = this.out.mode;
        let started = this
            .trader
            .start(now(), mode, config_hash, orphans, adopt)?;
        this.publish(started);
        Ok(this)
    }

    /// Primes the strategy with closed bars from before the session (see
    /// [`Trader::warm_up`]); only for a session that starts with an empty journal.
    pub fn warm_up(&mut self, source: &str, bars: &[Bar]) -> Result<(), SessionError> {
        Ok(self.trader.warm_up(source, bars)?)
    }

    /// The trader (tests and the wiring read its state).
    pub fn trader(&self) -> &Trader<X::Venue> {
        &self.trader
    }

    /// Trades until the market data ends, `shutdown` resolves, the Lease is lost or an
    /// error; then publishes `Stopped` (with the error, if any) and journals how far the
    /// sinks delivered.
    pub async fn run<M, R, E>(
        mut self,
        market: M,
        reports: R,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Outcome, SessionError>
    where
        M: Stream<Item = Result<(Tick, Option<Duration>), SourceError>>,
        R: Stream<Item = Result<X::Report, E>>,
        E: Into<SessionError>,
    {
        let ended = self.trade(market, reports, shutdown).await;
        let (reason, message) = match &ended {
            Ok(reason) => (*reason, "stopped".to_owned()),
            Err(SessionError::LostLease) => {
                (StopReason::LeaseLost, SessionError::LostLease.to_string())
            }
            Err(e) => (StopReason::Failed, e.to_string()),
        };
        if reason == StopReason::LeaseLost {
            self.note(Body::Halted {
                cause: HaltCause::LeaseLost,
                message: message.clone(),
            });
        }
        self.report().await;
        let performance = self.trader.performance();
        self.note(Body::Stopped {
            reason,
            message,
            performance: performance.clone(),
        });
        if let Err(e) = self.out.sink.flush().await {
            tracing::warn!(error = %e, "events not all delivered before the stop");
        }
        self.trader.delivered(self.out.sink.delivered());
        if let Some(recorder) = &self.out.recorder {
            if let Err(e) = recorder.flush().await {
                tracing::warn!(error = %e, "the platform's backlog is kept for the next start");
            }
            self.trader.acknowledged(recorder.acknowledged());
        }
        if let Err(e) = self.trader.journal_delivered() {
            tracing::warn!(error = %e, "cannot journal how far events were delivered");
        }
        match ended {
            Ok(reason) => Ok(Outcome {
                reason,
                performance,
            }),
            Err(e) => Err(e),
        }
    }

    async fn trade<M, R, E>(
        &mut self,
        market: M,
        reports: R,
        shutdown: impl Future<Output = ()>,
    ) -> Result<StopReason, SessionError>
    where
        M: Stream<Item = Result<(Tick, Option<Duration>), SourceError>>,
        R: Stream<Item = Result<X::Report, E>>,
        E: Into<SessionError>,
    {
        let flag = self.leading.clone();
        let leading = move || *flag.borrow();
        let events = self.execution.reconcile(&mut self.trader, &leading).await?;
        self.publish(events);
        self.report().await;
        tokio::pin!(market);
        tokio::pin!(reports);
        tokio::pin!(shutdown);
        let mut lease = self.leading.clone();
        let mut inbox = self.out.signals.take();
        loop {
            let signal = async {
                match &mut inbox {
                    Some(i) => i.signals.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(wire) = signal => {
                    let signal = super::trader::signal(&wire.id, &wire.action, wire.ts)
                        .map_err(SessionError::Signal)?;
                    let mut events = self.trader.on_signal(wire.seq, &signal)?;
                    events.extend(self.execution.flush(&mut self.trader, &leading).await?);
                    if let Some(i) = &inbox {
                        i.cursor.send_replace(self.trader.signal_cursor());
                    }
                    self.publish(events);
                    self.report().await;
                }
                tick = market.next() => {
                    let (tick, lag) = tick.ok_or(SessionError::Ended("market data"))??;
                    match tick {
                        Tick::Bar { bar, received } => {
                            // Bars the journal already holds (a replay restarted from its file).
                            if self.trader.seen(&bar) {
                                continue;
                            }
                            if self.backlog_full().await {
                                continue;
                            }
                            let mut events = self.trader.on_bar(&bar)?;
                            events.extend(self.execution.flush(&mut self.trader, &leading).await?);
                            let took = received.elapsed();
                            self.out.metrics.observe_decision(took);
                            // One line per decision: tools/bench/worker.py reads the exact latencies.
                            tracing::debug!(decision_us = took.as_micros() as u64, "decision");
                            if let Some(lag) = lag {
                                self.out.metrics.set_feed_lag(MARKET_FEED, lag);
                            }
                            self.publish(events);
                            self.report().await;
                        }
                        Tick::Reconnected => self.trouble(MARKET_FEED, Trouble::Reconnected)?,
                        Tick::Resync => self.trouble(MARKET_FEED, Trouble::BookResync)?,
                        Tick::End => {
                            let events = self.execution.stop(&mut self.trader, &leading).await?;
                            self.publish(events);
                            return Ok(StopReason::EndOfData);
                        }
                    }
                }
                report = reports.next() => {
                    let report = report
                        .ok_or(SessionError::Ended("venue report"))?
                        .map_err(Into::into)?;
                    let events = self.execution.on_report(&mut self.trader, report, &leading).await?;
                    self.publish(events);
                    self.report().await;
                }
                changed = lease.changed() => {
                    if changed.is_err() || !*lease.borrow() {
                        return Err(SessionError::LostLease);
                    }
                }
                () = &mut shutdown => {
                    let events = self.execution.stop(&mut self.trader, &leading).await?;
                    self.publish(events);
                    return Ok(StopReason::Shutdown);
                }
            }
        }
    }

    fn trouble(&mut self, feed: &str, trouble: Trouble) -> Result<(), SessionError> {
        let e = self.trader.note(
            now(),
            Body::FeedTrouble {
                feed: feed.to_owned(),
                trouble,
            },
        )?;
        self.publish(vec![e]);
        Ok(())
    }

    /// A fact of the worker's, journaled and published; a journal that fails here is
    /// only logged (the session is ending anyway).
    fn note(&mut self, body: Body) {
        match self.trader.note(now(), body) {
            Ok(e) => self.publish(vec![e]),
            Err(e) => tracing::error!(error = %e, "cannot journal the worker's event"),
        }
    }

    /// Counts and publishes `events` (to the sinks and the platform recorder), and
    /// remembers how far the sinks delivered and the platform confirmed.
    fn publish(&mut self, events: Vec<Event>) {
        for e in &events {
            self.out.metrics.observe(&self.out.symbol, e);
            self.out.sink.publish(e);
            if let Some(recorder) = &self.out.recorder {
                recorder.publish(e);
            }
        }
        self.trader.delivered(self.out.sink.delivered());
        if let Some(recorder) = &self.out.recorder {
            self.trader.acknowledged(recorder.acknowledged());
        }
    }

    /// Whether the recorder's backlog is at its bound: then the bar is not traded (nor
    /// journaled), so the backlog stops growing; the pause and its end are reported.
    async fn backlog_full(&mut self) -> bool {
        let Some(recorder) = self.out.recorder.clone() else {
            return false;
        };
        let full = recorder.full();
        if full != self.paused {
            self.paused = full;
            self.out.metrics.set_recording_paused(full);
            if full {
                tracing::error!(
                    backlog = recorder.backlog(),
                    bound = recorder.max_backlog(),
                    "the platform has not confirmed the backlog's bound of events: trading no \
                     new bars until it does"
                );
            } else {
                tracing::info!("the platform's backlog drained: trading again");
            }
            self.report().await;
        }
        if !full {
            self.trader.acknowledged(recorder.acknowledged());
        }
        full
    }

    /// Performance to the metrics and (rate-limited) the TradingBot's status.
    async fn report(&mut self) {
        let snap = self.trader.snapshot();
        let drawdown: f64 = snap.drawdown_percent.parse().unwrap_or(0.0);
        self.out.metrics.set_performance(
            snap.equity,
            snap.realized_pnl,
            snap.unrealized_pnl,
            drawdown,
        );
        let leading = *self.leading.borrow();
        self.out.metrics.set_lease_held(leading);
        let Some(status) = &mut self.out.status else {
            return;
        };
        let mode = match self.out.mode {
            Mode::Paper => "paper",
            Mode::Live => "live",
        };
        let trading = match (&snap.halted, leading) {
            (Some(_), _) => ConditionReport::new(false, "Halted", "trading halted by a risk limit"),
            (None, _) if self.paused => {
                let (backlog, bound, refused) = self
                    .out
                    .recorder
                    .as_ref()
                    .map_or((0, 0, None), |r| (r.backlog(), r.max_backlog(), r.failed()));
                let why = refused.map_or_else(
                    || "the platform is unreachable or refusing".to_owned(),
                    |p| format!("the platform refused events for good: {p}"),
                );
                ConditionReport::new(
                    false,
                    "RecordingBacklog",
                    format!(
                        "{backlog} events not yet recorded by the platform (bound {bound}): \
                         {why}; new bars are not traded until the backlog drains"
                    ),
                )
            }
            (None, true) => ConditionReport::new(
                true,
                "Trading",
                format!("{mode} {} (holding the bot's Lease)", self.out.symbol),
            ),
            (None, false) => ConditionReport::new(false, "Standby", "waiting for the bot's Lease"),
        };
        let halted = match &snap.halted {
            Some(why) => ConditionReport::new(true, "RiskLimit", why.clone()),
            None => ConditionReport::new(false, "WithinLimits", "no risk limit breached"),
        };
        let report = StatusSnapshot {
            equity: snap.equity,
            realized_pnl: snap.realized_pnl,
            unrealized_pnl: snap.unrealized_pnl,
            fees: snap.fees,
            drawdown_percent: snap.drawdown_percent.clone(),
            positions: snap
                .position
                .iter()
                .map(|(q, avg)| PositionSnapshot {
                    symbol: self.out.symbol.clone(),
                    quantity: q.clone(),
                    average_price: avg.clone(),
                })
                .collect(),
            trading,
            halted,
        };
        if let Err(e) = status.report(&report).await {
            tracing::warn!(error = %e, "status report failed; will retry with the next one");
        }
    }
}
