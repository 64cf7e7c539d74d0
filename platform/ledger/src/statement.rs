//! Statements of a settlement, rendered once when it is booked and stored as JSON and
//! CSV: one per charged account (what it paid, for what, and to whom) and one per
//! recipient (what it is paid, from which charges; the platform's shows the shares it
//! took for nobody, e.g. "referral level 2 → platform").

use serde_json::{Value, json};
use tradewind_commission::{Part, Settlement};
use tradewind_core::data::UnixNanos;
use tradewind_core::data::time::format_iso8601;
use tradewind_core::fixed::Money;

use crate::money_text;
use crate::settle::{payee_key, role_key};

/// Which statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatementKind {
    /// A charged account's.
    Account,
    /// A recipient's payout.
    Payout,
}

impl StatementKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StatementKind::Account => "account",
            StatementKind::Payout => "payout",
        }
    }
}

/// A CSV field, quoted when it must be.
fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

fn csv_row(fields: &[&str]) -> String {
    let mut row = fields.iter().map(|f| csv(f)).collect::<Vec<_>>().join(",");
    row.push('\n');
    row
}

/// One charge as the ledger books it: a performance fee as the engine decided it, or
/// the trading fees of one bot in one settlement summed into one charge (each fill's fee
/// summed per day in `trading_fee_days`; the parts are the sums of the fills' exact parts, so they
/// still sum to the charge).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookedCharge {
    /// `trading/<account>/<bot>/<period end>` or the engine's performance charge id.
    pub id: String,
    /// The bot.
    pub bot: String,
    /// `trading` or `performance`.
    pub kind: &'static str,
    /// When it arose (a trading charge: the period's end).
    pub ts: UnixNanos,
    /// The amount.
    pub amount: Money,
    /// How it was found (JSON).
    pub detail: Value,
    /// Its distribution.
    pub parts: Vec<Part>,
}

/// One account's statement of a settlement.
#[derive(Clone, Debug)]
pub struct AccountStatement<'a> {
    settlement: &'a str,
    plan: &'a str,
    currency: &'a str,
    s: &'a Settlement,
    charges: &'a [BookedCharge],
}

impl<'a> AccountStatement<'a> {
    /// The statement of `s`, booked as `charges`.
    pub fn new(
        settlement: &'a str,
        plan: &'a str,
        currency: &'a str,
        s: &'a Settlement,
        charges: &'a [BookedCharge],
    ) -> Self {
        Self {
            settlement,
            plan,
            currency,
            s,
            charges,
        }
    }

    /// As JSON (money as decimal strings).
    pub fn to_json(&self) -> String {
        let s = self.s;
        let charges: Vec<Value> = self
            .charges
            .iter()
            .map(|c| {
                json!({
                    "id": c.id, "bot": c.bot, "ts": format_iso8601(c.ts), "amount": money_text(c.amount),
                    "kind": c.kind, "detail": c.detail,
                    "parts": c.parts.iter().map(|p| json!({
                        "role": role_key(p.role), "shareBps": p.share_bps, "payee": payee_key(&p.payee),
                        "unclaimed": p.unclaimed, "amount": money_text(p.amount),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "settlement": self.settlement, "plan": self.plan, "account": s.account,
            "period": {"start": format_iso8601(s.period.start), "end": format_iso8601(s.period.end)},
            "currency": self.currency,
            "tradingFees": money_text(s.trading_fees), "performanceFees": money_text(s.performance_fees),
            "total": money_text(s.trading_fees + s.performance_fees),
            "charges": charges,
        })
        .to_string()
    }

    /// As CSV: one row per part of every charge.
    pub fn to_csv(&self) -> String {
        let mut out = csv_row(&[
            "charge",
            "bot",
            "kind",
            "ts",
            "charge_amount",
            "role",
            "share_bps",
            "payee",
            "unclaimed",
            "amount",
            "currency",
        ]);
        for c in self.charges {
            for p in &c.parts {
                out.push_str(&csv_row(&[
                    &c.id,
                    &c.bot,
                    c.kind,
                    &format_iso8601(c.ts),
                    &money_text(c.amount),
                    &role_key(p.role),
                    &p.share_bps.to_string(),
                    &payee_key(&p.payee),
                    if p.unclaimed { "true" } else { "false" },
                    &money_text(p.amount),
                    self.currency,
                ]));
            }
        }
        out
    }
}

/// One part paid to a recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutLine {
    /// The charge.
    pub charge: String,
    /// The charged account.
    pub account: String,
    /// The charged bot.
    pub bot: String,
    /// `trading` or `performance`.
    pub kind: String,
    /// When the charge arose.
    pub ts: UnixNanos,
    /// The share it comes from.
    pub role: String,
    /// Taken by the platform for nobody.
    pub unclaimed: bool,
    /// The amount.
    pub amount: Money,
}

/// A recipient's payout statement of a settlement.
#[derive(Clone, Debug)]
pub struct PayoutStatement {
    settlement: String,
    plan: String,
    currency: String,
    recipient: String,
    lines: Vec<PayoutLine>,
}

impl PayoutStatement {
    /// The statement of `lines` paid to `recipient` (`platform` or an account).
    pub fn new(
        settlement: &str,
        plan: &str,
        currency: &str,
        recipient: &str,
        lines: Vec<PayoutLine>,
    ) -> Self {
        Self {
            settlement: settlement.into(),
            plan: plan.into(),
            currency: currency.into(),
            recipient: recipient.into(),
            lines,
        }
    }

    /// As JSON.
    pub fn to_json(&self) -> String {
        let total: Money = self.lines.iter().map(|l| l.amount).sum();
        let mut by_role = std::collections::BTreeMap::<String, Money>::new();
        for l in &self.lines {
            let key = if l.unclaimed {
                format!("{} (unclaimed)", l.role)
            } else {
                l.role.clone()
            };
            *by_role.entry(key).or_default() += l.amount;
        }
        json!({
            "settlement": self.settlement, "plan": self.plan, "recipient": self.recipient,
            "currency": self.currency, "total": money_text(total),
            "byRole": by_role.iter().map(|(k, v)| (k.clone(), Value::from(money_text(*v)))).collect::<serde_json::Map<_, _>>(),
            "lines": self.lines.iter().map(|l| json!({
                "charge": l.charge, "account": l.account, "bot": l.bot, "kind": l.kind,
                "ts": format_iso8601(l.ts), "role": l.role, "unclaimed": l.unclaimed,
                "amount": money_text(l.amount),
            })).collect::<Vec<_>>(),
        })
        .to_string()
    }

    /// As CSV: one row per part.
    pub fn to_csv(&self) -> String {
        let mut out = csv_row(&[
            "charge",
            "account",
            "bot",
            "kind",
            "ts",
            "role",
            "unclaimed",
            "amount",
            "currency",
        ]);
        for l in &self.lines {
            out.push_str(&csv_row(&[
                &l.charge,
                &l.account,
                &l.bot,
                &l.kind,
                &format_iso8601(l.ts),
                &l.role,
                if l.unclaimed { "true" } else { "false" },
                &money_text(l.amount),
                &self.currency,
            ]));
        }
        out
    }
}
