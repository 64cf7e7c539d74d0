//! Settlement: one plan, one period, every account on the plan, booked in ONE transaction.
//!
//! The commission engine decides every amount ([`tradewind_commission::settle`]); this
//! module reads its inputs from the ledger and books its output: the settlement row
//! (unique per plan and period), charges and their parts, one balanced journal transfer
//! per charge and one per distribution, statements per account and per recipient, and
//! each account's state for the next period. A crash anywhere before the commit leaves
//! nothing; a second run finds the settlement row and changes nothing.
//!
//! What the engine is given per account:
//! - the referral chain in force at the period's start (a referral set mid-period pays
//!   from the next period on);
//! - per bot on the plan: its strategy's author, its closing equity (the last equity
//!   snapshot before the period's end), and — for a bot the plan has not settled before —
//!   its starting capital as a deposit: its value at the last snapshot before the period,
//!   else at its first snapshot in the period (profit made before a bot came under the
//!   plan is not charged);
//! - its fills from the 30 days before the period to the period's end in the plan's
//!   currency (those before the period only count towards the volume tier).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};
use tradewind_commission::{
    AccountPeriod, AccountState, BotPeriod, CapitalFlow, ChargeKind, Crystallised, DAY_NANOS,
    Equity, HighWaterMark, Liquidity, MAX_REFERRAL_LEVEL, Outcome, Part, Payee, Period, PeriodKind,
    Plan, Role, Settlement, history_start,
};
use tradewind_core::data::UnixNanos;
use tradewind_core::data::time::format_iso8601;
use tradewind_core::fixed::Money;

use crate::accounts::referral_chain;
use crate::batch::Buffer;
use crate::statement::{
    AccountStatement, BookedCharge, PayoutLine, PayoutStatement, StatementKind,
};
use crate::{Engine, Ledger, LedgerError, money_from, money_text};

/// The environment variable of the crash test's fault hook: a point name at which a
/// settlement aborts the process (`after-insert`, `after-charges`, `before-commit`).
pub const FAULT_ENV: &str = "TRADEWIND_LEDGER_FAULT";

fn fault(point: &str) {
    if std::env::var(FAULT_ENV).is_ok_and(|p| p == point) {
        tracing::error!(point, "fault hook: aborting the process");
        std::process::abort();
    }
}

/// What a settlement booked, in totals (also stored as the settlement's summary).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettlementSummary {
    /// The settlement's id, `<plan>/<period start>`.
    pub id: String,
    /// The plan.
    pub plan: String,
    /// The period.
    pub period: Period,
    /// The plan's currency.
    pub currency: String,
    /// Accounts with at least one charge.
    pub accounts_charged: usize,
    /// Charges booked.
    pub charges: usize,
    /// Σ trading fees.
    pub trading_fees: Money,
    /// Σ performance fees.
    pub performance_fees: Money,
    /// Σ per recipient class: `platform`, `strategyAuthor`, `referral1`, `referral2`
    /// (unclaimed shares under their own class, paid to the platform).
    pub by_class: BTreeMap<String, Money>,
    /// When it was booked.
    pub settled_at: UnixNanos,
}

impl SettlementSummary {
    /// The JSON stored with the settlement (money as decimal strings).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "plan": self.plan,
            "period": {"kind": period_kind(self.period.kind), "start": format_iso8601(self.period.start), "end": format_iso8601(self.period.end)},
            "currency": self.currency,
            "accountsCharged": self.accounts_charged,
            "charges": self.charges,
            "tradingFees": money_text(self.trading_fees),
            "performanceFees": money_text(self.performance_fees),
            "byRecipientClass": self.by_class.iter().map(|(k, v)| (k.clone(), Value::from(money_text(*v)))).collect::<serde_json::Map<_, _>>(),
            "settledAt": format_iso8601(self.settled_at),
        })
    }
}

/// The result of [`Ledger::settle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettleOutcome {
    /// Booked now.
    Settled(SettlementSummary),
    /// The period was settled before (the stored summary); nothing changed.
    AlreadySettled {
        /// The settlement's id.
        id: String,
        /// When it was booked.
        settled_at: UnixNanos,
        /// Its stored summary.
        summary: Value,
    },
}

/// The result of [`Ledger::check_journal`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalCheck {
    /// Transfers read.
    pub transfers: usize,
    /// Entries read.
    pub entries: usize,
    /// Per ledger (currency): Σ debits and Σ credits.
    pub ledgers: BTreeMap<String, (Money, Money)>,
    /// Transfers whose debits differ from their credits (should be none).
    pub unbalanced: Vec<String>,
}

impl JournalCheck {
    /// Every transfer and every ledger balances.
    pub fn balanced(&self) -> bool {
        self.unbalanced.is_empty() && self.ledgers.values().all(|(d, c)| d == c)
    }
}

pub(crate) fn period_kind(k: PeriodKind) -> &'static str {
    match k {
        PeriodKind::Daily => "Daily",
        PeriodKind::Weekly => "Weekly",
        PeriodKind::Monthly => "Monthly",
        PeriodKind::Quarterly => "Quarterly",
    }
}

/// Stored spelling of a distribution role.
pub(crate) fn role_key(r: Role) -> String {
    match r {
        Role::Platform => "platform".into(),
        Role::StrategyAuthor => "strategyAuthor".into(),
        Role::Referral(l) => format!("referral{l}"),
    }
}

pub(crate) fn payee_key(p: &Payee) -> String {
    match p {
        Payee::Platform => "platform".into(),
        Payee::Account(a) => a.clone(),
    }
}

fn marks_json(state: &AccountState) -> String {
    let marks: serde_json::Map<String, Value> = state
        .marks
        .iter()
        .map(|(bot, m)| {
            (
                bot.clone(),
                json!({"mark": money_text(m.mark()), "units": money_text(m.units())}),
            )
        })
        .collect();
    Value::Object(marks).to_string()
}

fn marks_from(text: &str) -> Result<BTreeMap<String, HighWaterMark>, LedgerError> {
    let v: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_str(text).map_err(|e| LedgerError::corrupt("high-water marks", e))?;
    let mut out = BTreeMap::new();
    for (bot, m) in v {
        let get = |k: &str| {
            m.get(k)
                .ok_or_else(|| LedgerError::corrupt("high-water marks", format!("{bot}: no {k}")))
                .and_then(|t| money_from("high-water mark", t))
        };
        let hwm = HighWaterMark::from_parts(get("mark")?, get("units")?)
            .map_err(|e| LedgerError::corrupt("high-water marks", e))?;
        out.insert(bot, hwm);
    }
    Ok(out)
}

struct Snapshot {
    ts: UnixNanos,
    equity: Equity,
}

async fn snapshot(
    conn: &mut AnyConnection,
    bot: &str,
    sql: &str,
    a: UnixNanos,
    b: UnixNanos,
) -> Result<Option<Snapshot>, LedgerError> {
    let row = sqlx::query(sql)
        .bind(bot)
        .bind(a)
        .bind(b)
        .fetch_optional(conn)
        .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Snapshot {
        ts: r.try_get("ts")?,
        equity: Equity {
            total: money_from("equity", &r.try_get::<String, _>("equity")?)?,
            unrealized: money_from("unrealized PnL", &r.try_get::<String, _>("unrealized_pnl")?)?,
        },
    }))
}

const LAST_BEFORE: &str = "SELECT ts, equity, unrealized_pnl FROM equity_snapshots WHERE bot = $1 AND ts >= $2 AND ts < $3 ORDER BY ts DESC, event_id DESC LIMIT 1";
const FIRST_IN: &str = "SELECT ts, equity, unrealized_pnl FROM equity_snapshots WHERE bot = $1 AND ts >= $2 AND ts < $3 ORDER BY ts, event_id LIMIT 1";

/// Reads what the engine needs for one account.
async fn account_input(
    conn: &mut AnyConnection,
    plan_name: &str,
    plan: &Plan,
    account: &str,
    period: Period,
    state: &AccountState,
    engine: Engine,
) -> Result<AccountPeriod, LedgerError> {
    let referrers =
        referral_chain(conn, account, period.start, usize::from(MAX_REFERRAL_LEVEL)).await?;
    let rows = sqlx::query(
        "SELECT b.bot AS bot, b.quote_currency AS currency, a.author AS author FROM bots b \
         LEFT JOIN strategy_authors a ON a.strategy = b.strategy \
         WHERE b.account = $1 AND b.plan = $2 ORDER BY b.bot",
    )
    .bind(account)
    .bind(plan_name)
    .fetch_all(&mut *conn)
    .await?;
    let state_marks = &state.marks;
    let basis = plan.performance_fee.map(|f| f.basis).unwrap_or_default();
    let mut bots = Vec::with_capacity(rows.len());
    let mut plan_bots = Vec::with_capacity(rows.len());
    for r in rows {
        let bot: String = r.try_get("bot")?;
        let closing = snapshot(conn, &bot, LAST_BEFORE, i64::MIN, period.end)
            .await?
            .map(|s| s.equity)
            .unwrap_or_default();
        let mut flows = Vec::new();
        if !state_marks.contains_key(&bot) {
            let start = match snapshot(conn, &bot, LAST_BEFORE, i64::MIN, period.start).await? {
                Some(s) => Some(Snapshot {
                    ts: period.start,
                    equity: s.equity,
                }),
                None => snapshot(conn, &bot, FIRST_IN, period.start, period.end).await?,
            };
            if let Some(s) = start {
                let value = s.equity.value(basis).map_err(|e| LedgerError::Commission {
                    plan: plan_name.to_owned(),
                    account: account.to_owned(),
                    source: Box::new(e),
                })?;
                if value.raw() > 0 {
                    flows.push(CapitalFlow {
                        id: format!("start/{bot}"),
                        ts: s.ts,
                        amount: value,
                        before: Equity::default(),
                    });
                }
            }
        }
        // Capital added or withdrawn in the period, each with the bot's equity just
        // before it (the last snapshot before the flow).
        let flow_rows = sqlx::query(
            "SELECT id, ts, amount FROM capital_flows WHERE bot = $1 AND ts >= $2 AND ts < $3 ORDER BY ts, id",
        )
        .bind(&bot)
        .bind(period.start)
        .bind(period.end)
        .fetch_all(&mut *conn)
        .await?;
        for f in flow_rows {
            let ts: i64 = f.try_get("ts")?;
            let before = snapshot(conn, &bot, LAST_BEFORE, i64::MIN, ts)
                .await?
                .map(|s| s.equity)
                .unwrap_or_default();
            flows.push(CapitalFlow {
                id: format!("capital/{}", f.try_get::<String, _>("id")?),
                ts,
                amount: money_from("capital flow", &f.try_get::<String, _>("amount")?)?,
                before,
            });
        }
        plan_bots.push(bot.clone());
        bots.push(BotPeriod {
            currency: r.try_get("currency")?,
            strategy_author: r.try_get("author")?,
            bot,
            flows,
            closing,
        });
    }
    // Fills recorded after the period holding them was settled, not charged yet.
    let late_rows = sqlx::query(
        "SELECT f.event_id AS event_id, f.bot AS bot, f.ts AS ts, f.notional AS notional, f.liquidity AS liquidity \
         FROM late_fills l JOIN fills f ON f.event_id = l.event_id \
         WHERE l.plan = $1 AND l.account = $2 AND l.charged_in IS NULL AND f.currency = $3 AND f.ts < $4 \
         ORDER BY f.ts, f.event_id",
    )
    .bind(plan_name)
    .bind(account)
    .bind(&plan.currency)
    .bind(period.start)
    .fetch_all(&mut *conn)
    .await?;
    let mut late_fills = Vec::with_capacity(late_rows.len());
    for r in late_rows {
        let f = fill_of(&r)?;
        // A bot that left the plan: its late fill is not this plan's to charge.
        if plan_bots.contains(&f.bot) {
            late_fills.push(f);
        }
    }
    let late_ids: BTreeSet<&str> = late_fills.iter().map(|f| f.id.as_str()).collect();
    // The tier of a late fill's day reads the 30 days before it.
    let from = late_fills
        .iter()
        .map(|f| history_start(&Period::containing(PeriodKind::Daily, f.ts)))
        .fold(history_start(&period), i64::min);
    // The fills, packed: one row per bot and UTC day carrying all its fills as text
    // (see `unpack_fills`), not one row each. A row crossing from the database's driver
    // costs more than the text it carries (sqlx hands every row across a channel from
    // SQLite's worker thread); a month of 300 fills an account is 30 rows, not 300.
    let agg = match engine {
        Engine::Sqlite => "group_concat",
        Engine::Postgres => "string_agg",
    };
    let fill_rows = sqlx::query(&format!(
        "SELECT bot, {agg}(ts || ' ' || liquidity || ' ' || notional || ' ' || length(event_id) || ' ' || event_id, ' ') AS packed \
         FROM fills WHERE account = $1 AND currency = $2 AND ts >= $3 AND ts < $4 \
         GROUP BY bot, ts / {DAY_NANOS}"
    ))
    .bind(account)
    .bind(&plan.currency)
    .bind(from)
    .bind(period.end)
    .fetch_all(&mut *conn)
    .await?;
    let mut fills = Vec::new();
    for r in fill_rows {
        let bot: String = r.try_get("bot")?;
        let packed: String = r.try_get("packed")?;
        // In the period only the plan's bots are charged; before it every fill of the
        // account in the plan's currency counts towards the tier.
        let on_plan = plan_bots.contains(&bot);
        unpack_fills(&packed, &bot, |fill| {
            if !late_ids.contains(fill.id.as_str()) && (on_plan || !period.contains(fill.ts)) {
                fills.push(fill);
            }
        })?;
    }
    Ok(AccountPeriod {
        account: account.to_owned(),
        period,
        referrers,
        bots,
        fills,
        late_fills,
    })
}

/// Reads fills packed by the settlement's query: `<ts> <liquidity> <notional> <n> <id>`
/// per fill, joined by single spaces, where `<n>` is the id's length in characters (so an
/// id may hold any character, spaces included).
fn unpack_fills(
    packed: &str,
    bot: &str,
    mut each: impl FnMut(tradewind_commission::Fill),
) -> Result<(), LedgerError> {
    let corrupt = |why: &str| LedgerError::corrupt("fills", format!("bot {bot}: {why}"));
    let mut rest = packed;
    let word = |rest: &mut &str| -> Result<String, LedgerError> {
        let (w, r) = rest
            .split_once(' ')
            .ok_or_else(|| corrupt("a fill is cut short"))?;
        *rest = r;
        Ok(w.to_owned())
    };
    while !rest.is_empty() {
        let ts: i64 = word(&mut rest)?
            .parse()
            .map_err(|_| corrupt("a fill's instant is not an integer"))?;
        let liquidity = match word(&mut rest)?.as_str() {
            "maker" => Liquidity::Maker,
            "taker" => Liquidity::Taker,
            other => return Err(corrupt(&format!("liquidity {other:?}"))),
        };
        let notional = money_from("notional", &word(&mut rest)?)?;
        let chars: usize = word(&mut rest)?
            .parse()
            .map_err(|_| corrupt("an id's length is not an integer"))?;
        let end = rest
            .char_indices()
            .nth(chars)
            .map_or(rest.len(), |(i, _)| i);
        if rest[..end].chars().count() != chars {
            return Err(corrupt("an id is cut short"));
        }
        let id = rest[..end].to_owned();
        rest = rest[end..].strip_prefix(' ').unwrap_or(&rest[end..]);
        each(tradewind_commission::Fill {
            id,
            bot: bot.to_owned(),
            ts,
            notional,
            liquidity,
        });
    }
    Ok(())
}

fn fill_of(r: &sqlx::any::AnyRow) -> Result<tradewind_commission::Fill, LedgerError> {
    let liquidity: String = r.try_get("liquidity")?;
    Ok(tradewind_commission::Fill {
        id: r.try_get("event_id")?,
        bot: r.try_get("bot")?,
        ts: r.try_get("ts")?,
        notional: money_from("notional", &r.try_get::<String, _>("notional")?)?,
        liquidity: if liquidity == "maker" {
            Liquidity::Maker
        } else {
            Liquidity::Taker
        },
    })
}

fn charge_detail(kind: &ChargeKind) -> (&'static str, Value) {
    match kind {
        ChargeKind::TradingFee(f) => (
            "trading",
            json!({
                "fill": f.fill, "notional": money_text(f.notional),
                "liquidity": liquidity_key(f.liquidity),
                "volume30d": money_text(f.volume_30d), "tier": f.tier, "rate": f.rate.to_string(),
            }),
        ),
        ChargeKind::PerformanceFee {
            on,
            basis,
            value,
            mark_before,
            mark_after,
            rate,
        } => (
            "performance",
            json!({
                "on": match on { Crystallised::PeriodEnd => "periodEnd".to_owned(), Crystallised::Withdrawal(f) => format!("withdrawal {f}") },
                "basis": format!("{basis:?}"), "value": money_text(*value),
                "markBefore": money_text(*mark_before), "markAfter": money_text(*mark_after),
                "rate": rate.to_string(),
            }),
        ),
    }
}

/// The rows of a settlement, buffered across accounts and written as multi-row
/// statements (in the order the foreign keys need) whenever one table has a statement's
/// worth, and at the end.
struct Booking {
    charges: Buffer,
    parts: Buffer,
    fee_days: Buffer,
    transfers: Buffer,
    entries: Buffer,
    statements: Buffer,
    states: Buffer,
}

impl Booking {
    fn new() -> Self {
        Booking {
            charges: Buffer::new(
                "INSERT INTO charges (id, settlement, account, bot, kind, ts, amount, currency, detail)",
                "",
                9,
            ),
            parts: Buffer::new(
                "INSERT INTO charge_parts (charge, idx, role, share_bps, payee, unclaimed, amount)",
                "",
                7,
            ),
            fee_days: crate::schema::fee_days_buffer(),
            transfers: Buffer::new(
                "INSERT INTO journal_transfers (id, ledger, ts, settlement, charge, memo)",
                "",
                6,
            ),
            entries: Buffer::new(
                "INSERT INTO journal_entries (transfer, line, ledger, book_account, debit, credit)",
                "",
                6,
            ),
            statements: Buffer::new(
                "INSERT INTO statements (settlement, kind, subject, body_json, body_csv)",
                "",
                5,
            ),
            states: Buffer::new(
                "INSERT INTO plan_account_state (plan, account, settled_through, marks)",
                "ON CONFLICT (plan, account) DO UPDATE SET settled_through = excluded.settled_through, marks = excluded.marks",
                4,
            ),
        }
    }

    fn buffers(&mut self) -> [&mut Buffer; 7] {
        [
            &mut self.charges,
            &mut self.parts,
            &mut self.fee_days,
            &mut self.transfers,
            &mut self.entries,
            &mut self.statements,
            &mut self.states,
        ]
    }

    /// Writes everything when any table has a statement's worth (bounding memory).
    async fn flush_if_full(
        &mut self,
        conn: &mut AnyConnection,
        engine: Engine,
    ) -> Result<(), LedgerError> {
        if self.buffers().iter().any(|b| b.full()) {
            self.flush(conn, engine).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, conn: &mut AnyConnection, engine: Engine) -> Result<(), LedgerError> {
        for b in self.buffers() {
            b.flush(conn, engine).await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &mut self,
        id: String,
        ledger: &str,
        ts: UnixNanos,
        settlement: &str,
        charge: &str,
        memo: String,
        lines: &[(String, Money, Money)],
    ) -> Result<(), LedgerError> {
        let debits: i128 = lines.iter().map(|l| l.1.raw()).sum();
        let credits: i128 = lines.iter().map(|l| l.2.raw()).sum();
        if debits != credits {
            // The engine's parts always sum to the charge; this guards the booking code.
            return Err(LedgerError::corrupt(
                format!("transfer {id}"),
                format!("debits {debits} ≠ credits {credits} (nano-units)"),
            ));
        }
        for (i, (book, debit, credit)) in lines.iter().enumerate() {
            self.entries.push(vec![
                id.as_str().into(),
                (i as i64).into(),
                ledger.into(),
                book.as_str().into(),
                money_text(*debit).into(),
                money_text(*credit).into(),
            ]);
        }
        self.transfers.push(vec![
            id.into(),
            ledger.into(),
            ts.into(),
            settlement.into(),
            charge.into(),
            memo.into(),
        ]);
        Ok(())
    }
}

/// Adds `parts` into `sum`, part by part (same role, share, payee and claim).
fn add_parts(sum: &mut Vec<Part>, parts: &[Part]) -> Result<(), LedgerError> {
    for p in parts {
        match sum.iter_mut().find(|q| {
            q.role == p.role
                && q.share_bps == p.share_bps
                && q.payee == p.payee
                && q.unclaimed == p.unclaimed
        }) {
            Some(q) => {
                q.amount = q
                    .amount
                    .checked_add(p.amount)
                    .ok_or_else(|| LedgerError::invalid("settlement", "a part overflows"))?;
            }
            None => sum.push(p.clone()),
        }
    }
    Ok(())
}

/// The fills of one bot's trading charge that share a UTC day, liquidity, lateness and
/// tier (so one rate): one `trading_fee_days` row.
struct FeeDay {
    volume_30d: Money,
    rate: String,
    fills: i64,
    notional: Money,
    fee: Money,
}

/// The charges of one account's settlement as booked: per bot, its fills' trading fees
/// summed into one charge (the fills' fees summed per day, liquidity and tier as its
/// `trading_fee_days` rows), then the performance fees.
fn booked_charges(
    s: &Settlement,
    late: &BTreeSet<String>,
    booking: &mut Booking,
) -> Result<Vec<BookedCharge>, LedgerError> {
    struct Sum {
        amount: Money,
        notional: Money,
        fills: usize,
        late: usize,
        parts: Vec<Part>,
        days: BTreeMap<(i64, Liquidity, bool, usize), FeeDay>,
    }
    let mut trading: BTreeMap<&str, Sum> = BTreeMap::new();
    let mut out = Vec::new();
    let overflow = || LedgerError::invalid("settlement", "a total overflows");
    for c in &s.charges {
        match &c.kind {
            ChargeKind::TradingFee(f) => {
                let sum = trading.entry(c.bot.as_str()).or_insert(Sum {
                    amount: Money::ZERO,
                    notional: Money::ZERO,
                    fills: 0,
                    late: 0,
                    parts: Vec::new(),
                    days: BTreeMap::new(),
                });
                sum.amount = sum.amount.checked_add(c.amount).ok_or_else(overflow)?;
                sum.notional = sum.notional.checked_add(f.notional).ok_or_else(overflow)?;
                sum.fills += 1;
                let is_late = late.contains(&f.fill);
                sum.late += usize::from(is_late);
                add_parts(&mut sum.parts, &c.parts)?;
                let day = f.ts.div_euclid(DAY_NANOS) * DAY_NANOS;
                let d = sum
                    .days
                    .entry((day, f.liquidity, is_late, f.tier))
                    .or_insert_with(|| FeeDay {
                        volume_30d: f.volume_30d,
                        rate: f.rate.to_string(),
                        fills: 0,
                        notional: Money::ZERO,
                        fee: Money::ZERO,
                    });
                d.fills += 1;
                d.notional = d.notional.checked_add(f.notional).ok_or_else(overflow)?;
                d.fee = d.fee.checked_add(f.fee).ok_or_else(overflow)?;
            }
            ChargeKind::PerformanceFee { .. } => {
                let (kind, detail) = charge_detail(&c.kind);
                out.push(BookedCharge {
                    id: c.id.clone(),
                    bot: c.bot.clone(),
                    kind,
                    ts: c.ts,
                    amount: c.amount,
                    detail,
                    parts: c.parts.clone(),
                });
            }
        }
    }
    let mut charges = Vec::with_capacity(trading.len() + out.len());
    for (bot, sum) in trading {
        let id = format!("trading/{}/{bot}/{}", s.account, s.period.end);
        for ((day, liquidity, is_late, tier), d) in sum.days {
            booking.fee_days.push(vec![
                id.as_str().into(),
                bot.into(),
                day.into(),
                liquidity_key(liquidity).into(),
                i64::from(is_late).into(),
                (tier as i64).into(),
                d.rate.into(),
                money_text(d.volume_30d).into(),
                d.fills.into(),
                money_text(d.notional).into(),
                money_text(d.fee).into(),
            ]);
        }
        charges.push(BookedCharge {
            id,
            bot: bot.to_owned(),
            kind: "trading",
            ts: s.period.end,
            amount: sum.amount,
            detail: json!({
                "fills": sum.fills, "lateFills": sum.late, "notional": money_text(sum.notional),
            }),
            parts: sum.parts,
        });
    }
    charges.append(&mut out);
    Ok(charges)
}

fn liquidity_key(l: Liquidity) -> &'static str {
    match l {
        Liquidity::Maker => "maker",
        Liquidity::Taker => "taker",
    }
}

/// Books one account's settlement: charges, parts, journal, its statement.
fn book(
    booking: &mut Booking,
    settlement_id: &str,
    plan_name: &str,
    currency: &str,
    s: &Settlement,
    late: &BTreeSet<String>,
    payouts: &mut BTreeMap<String, Vec<PayoutLine>>,
) -> Result<usize, LedgerError> {
    let clearing = format!("clearing/{plan_name}");
    let charges = booked_charges(s, late, booking)?;
    for c in &charges {
        booking.charges.push(vec![
            c.id.as_str().into(),
            settlement_id.into(),
            s.account.as_str().into(),
            c.bot.as_str().into(),
            c.kind.into(),
            c.ts.into(),
            money_text(c.amount).into(),
            currency.into(),
            c.detail.to_string().into(),
        ]);
        for (i, p) in c.parts.iter().enumerate() {
            booking.parts.push(vec![
                c.id.as_str().into(),
                (i as i64).into(),
                role_key(p.role).into(),
                i64::from(p.share_bps).into(),
                payee_key(&p.payee).into(),
                i64::from(p.unclaimed).into(),
                money_text(p.amount).into(),
            ]);
            payouts
                .entry(payee_key(&p.payee))
                .or_default()
                .push(PayoutLine {
                    charge: c.id.clone(),
                    account: s.account.clone(),
                    bot: c.bot.clone(),
                    kind: c.kind.to_owned(),
                    ts: c.ts,
                    role: role_key(p.role),
                    unclaimed: p.unclaimed,
                    amount: p.amount,
                });
        }
        // The account owes the charge: receivable from it, into the plan's clearing.
        booking.transfer(
            format!("charge/{}", c.id),
            currency,
            c.ts,
            settlement_id,
            &c.id,
            format!("{} fee of {} ({})", c.kind, s.account, c.bot),
            &[
                (format!("receivable/{}", s.account), c.amount, Money::ZERO),
                (clearing.clone(), Money::ZERO, c.amount),
            ],
        )?;
        // The clearing pays it out, part by part.
        let mut lines = vec![(clearing.clone(), c.amount, Money::ZERO)];
        for p in &c.parts {
            lines.push((
                format!("payable/{}", payee_key(&p.payee)),
                Money::ZERO,
                p.amount,
            ));
        }
        booking.transfer(
            format!("distribution/{}", c.id),
            currency,
            c.ts,
            settlement_id,
            &c.id,
            format!("distribution of {}", c.id),
            &lines,
        )?;
    }
    let st = AccountStatement::new(settlement_id, plan_name, currency, s, &charges);
    booking.statements.push(vec![
        settlement_id.into(),
        StatementKind::Account.as_str().into(),
        s.account.as_str().into(),
        st.to_json().into(),
        st.to_csv().into(),
    ]);
    Ok(charges.len())
}

impl Ledger {
    /// Settles `period` of the plan `plan_name` (`plan`, translated from its spec) for
    /// every account with a bot on it, at wall-clock `now`. A period that has not ended is
    /// refused; a period settled before returns [`SettleOutcome::AlreadySettled`] and
    /// changes nothing. All or nothing: one transaction.
    pub async fn settle(
        &self,
        plan_name: &str,
        plan: &Plan,
        period: Period,
        now: UnixNanos,
    ) -> Result<SettleOutcome, LedgerError> {
        if Period::containing(plan.period, period.start) != period {
            return Err(LedgerError::invalid(
                "period",
                format!(
                    "[{}, {}) is not one {} period of plan {plan_name}",
                    format_iso8601(period.start),
                    format_iso8601(period.end),
                    period_kind(plan.period)
                ),
            ));
        }
        if period.end > now {
            return Err(LedgerError::invalid(
                "period",
                format!(
                    "the {} period from {} ends at {}, after now ({}): it cannot be settled yet",
                    period_kind(period.kind),
                    format_iso8601(period.start),
                    format_iso8601(period.end),
                    format_iso8601(now)
                ),
            ));
        }
        let id = format!("{plan_name}/{}", format_iso8601(period.start));
        let mut tx = self.pool().begin().await?;
        if let Some(done) = already(&mut tx, plan_name, period.start).await? {
            return Ok(done);
        }
        // Inserted first: a concurrent run of the same period waits on this key and then
        // fails, so two runs never book one period twice.
        let inserted = sqlx::query(
            "INSERT INTO settlements (id, plan, period_kind, period_start, period_end, currency, settled_at, summary) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, '{}')",
        )
        .bind(&id)
        .bind(plan_name)
        .bind(period_kind(period.kind))
        .bind(period.start)
        .bind(period.end)
        .bind(&plan.currency)
        .bind(now)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            // PostgreSQL: a concurrent run of this period committed while we waited.
            drop(tx);
            return match is_unique_violation(&e) {
                true => self.already_settled(plan_name, period.start, e).await,
                false => Err(e.into()),
            };
        }
        fault("after-insert");
        if self.engine() == Engine::Postgres {
            // A batch being recorded for one of these bots holds its row (its upsert):
            // wait for it, so its fills are read below or, once this commits, flagged late.
            sqlx::query("SELECT bot FROM bots WHERE plan = $1 ORDER BY bot FOR UPDATE")
                .bind(plan_name)
                .fetch_all(&mut *tx)
                .await?;
        }
        let accounts: Vec<String> =
            sqlx::query("SELECT DISTINCT account FROM bots WHERE plan = $1 ORDER BY account")
                .bind(plan_name)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get("account"))
                .collect::<Result<_, _>>()?;
        let mut summary = SettlementSummary {
            id: id.clone(),
            plan: plan_name.to_owned(),
            period,
            currency: plan.currency.clone(),
            accounts_charged: 0,
            charges: 0,
            trading_fees: Money::ZERO,
            performance_fees: Money::ZERO,
            by_class: BTreeMap::new(),
            settled_at: now,
        };
        let mut payouts: BTreeMap<String, Vec<PayoutLine>> = BTreeMap::new();
        let mut booking = Booking::new();
        for account in &accounts {
            let commission = |e| LedgerError::Commission {
                plan: plan_name.to_owned(),
                account: account.clone(),
                source: Box::new(e),
            };
            let prior = sqlx::query(
                "SELECT settled_through, marks FROM plan_account_state WHERE plan = $1 AND account = $2",
            )
            .bind(plan_name)
            .bind(account)
            .fetch_optional(&mut *tx)
            .await?;
            let state = match prior {
                Some(r) => AccountState {
                    settled_through: Some(r.try_get("settled_through")?),
                    marks: marks_from(&r.try_get::<String, _>("marks")?)?,
                },
                None => AccountState::default(),
            };
            let input = account_input(
                &mut tx,
                plan_name,
                plan,
                account,
                period,
                &state,
                self.engine(),
            )
            .await?;
            let late: BTreeSet<String> = input.late_fills.iter().map(|f| f.id.clone()).collect();
            let (settlement, next) = match tradewind_commission::settle(plan, &state, &input, now)
                .map_err(commission)?
            {
                Outcome::AlreadySettled => continue,
                Outcome::Settled { settlement, state } => (settlement, state),
            };
            drop(input);
            let booked = book(
                &mut booking,
                &id,
                plan_name,
                &plan.currency,
                &settlement,
                &late,
                &mut payouts,
            )?;
            booking.states.push(vec![
                plan_name.into(),
                account.as_str().into(),
                next.settled_through.unwrap_or(period.end).into(),
                marks_json(&next).into(),
            ]);
            booking.flush_if_full(&mut tx, self.engine()).await?;
            for fill in &late {
                sqlx::query("UPDATE late_fills SET charged_in = $1 WHERE event_id = $2")
                    .bind(&id)
                    .bind(fill)
                    .execute(&mut *tx)
                    .await?;
            }
            if booked > 0 {
                summary.accounts_charged += 1;
            }
            summary.charges += booked;
            let add = |a: Money, b: Money| {
                a.checked_add(b)
                    .ok_or_else(|| LedgerError::invalid("settlement", "a total overflows"))
            };
            summary.trading_fees = add(summary.trading_fees, settlement.trading_fees)?;
            summary.performance_fees = add(summary.performance_fees, settlement.performance_fees)?;
            for (role, amount) in &settlement.by_role {
                let e = summary.by_class.entry(role_key(*role)).or_default();
                *e = add(*e, *amount)?;
            }
        }
        booking.flush(&mut tx, self.engine()).await?;
        fault("after-charges");
        for (payee, lines) in payouts {
            let st = PayoutStatement::new(&id, plan_name, &plan.currency, &payee, lines);
            booking.statements.push(vec![
                id.as_str().into(),
                StatementKind::Payout.as_str().into(),
                payee.as_str().into(),
                st.to_json().into(),
                st.to_csv().into(),
            ]);
            booking.flush_if_full(&mut tx, self.engine()).await?;
        }
        booking.flush(&mut tx, self.engine()).await?;
        sqlx::query("UPDATE settlements SET summary = $2 WHERE id = $1")
            .bind(&id)
            .bind(summary.to_json().to_string())
            .execute(&mut *tx)
            .await?;
        crate::notify::enqueue_settlement(&mut tx, &id, now).await?;
        fault("before-commit");
        match tx.commit().await {
            Ok(()) => Ok(SettleOutcome::Settled(summary)),
            // A concurrent run committed the same period first.
            Err(e) if is_unique_violation(&e) => {
                self.already_settled(plan_name, period.start, e).await
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn already_settled(
        &self,
        plan: &str,
        start: UnixNanos,
        e: sqlx::Error,
    ) -> Result<SettleOutcome, LedgerError> {
        let mut conn = self.pool().acquire().await?;
        already(&mut conn, plan, start)
            .await?
            .ok_or(LedgerError::Database(e))
    }

    /// Verifies the journal: every transfer balances, and per ledger Σ debits = Σ credits.
    pub async fn check_journal(&self) -> Result<JournalCheck, LedgerError> {
        let rows = sqlx::query(
            "SELECT transfer, ledger, debit, credit FROM journal_entries ORDER BY transfer, line",
        )
        .fetch_all(self.pool())
        .await?;
        let mut check = JournalCheck::default();
        let mut per_transfer: BTreeMap<String, i128> = BTreeMap::new();
        for r in rows {
            let transfer: String = r.try_get("transfer")?;
            let ledger: String = r.try_get("ledger")?;
            let d = money_from("debit", &r.try_get::<String, _>("debit")?)?;
            let c = money_from("credit", &r.try_get::<String, _>("credit")?)?;
            let e = check.ledgers.entry(ledger).or_default();
            e.0 += d;
            e.1 += c;
            *per_transfer.entry(transfer).or_default() += d.raw() - c.raw();
            check.entries += 1;
        }
        check.transfers = per_transfer.len();
        check.unbalanced = per_transfer
            .into_iter()
            .filter(|(_, v)| *v != 0)
            .map(|(k, _)| k)
            .collect();
        Ok(check)
    }

    /// A stored statement: JSON and CSV, of a settlement (`<plan>/<period start>`).
    pub async fn statement(
        &self,
        settlement: &str,
        kind: StatementKind,
        subject: &str,
    ) -> Result<Option<(String, String)>, LedgerError> {
        let row = sqlx::query(
            "SELECT body_json, body_csv FROM statements WHERE settlement = $1 AND kind = $2 AND subject = $3",
        )
        .bind(settlement)
        .bind(kind.as_str())
        .bind(subject)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            Some(r) => Some((r.try_get("body_json")?, r.try_get("body_csv")?)),
            None => None,
        })
    }

    /// The latest settlement of a plan, as its stored summary JSON.
    pub async fn last_settlement(&self, plan: &str) -> Result<Option<Value>, LedgerError> {
        let row = sqlx::query(
            "SELECT summary FROM settlements WHERE plan = $1 ORDER BY period_start DESC LIMIT 1",
        )
        .bind(plan)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            let text: String = r.try_get("summary")?;
            serde_json::from_str(&text).map_err(|e| LedgerError::corrupt("settlement summary", e))
        })
        .transpose()
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

async fn already(
    conn: &mut AnyConnection,
    plan: &str,
    start: UnixNanos,
) -> Result<Option<SettleOutcome>, LedgerError> {
    let row = sqlx::query(
        "SELECT id, settled_at, summary FROM settlements WHERE plan = $1 AND period_start = $2",
    )
    .bind(plan)
    .bind(start)
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let text: String = r.try_get("summary")?;
    Ok(Some(SettleOutcome::AlreadySettled {
        id: r.try_get("id")?,
        settled_at: r.try_get("settled_at")?,
        summary: serde_json::from_str(&text)
            .map_err(|e| LedgerError::corrupt("settlement summary", e))?,
    }))
}
