//! `tradewind-platform`: the platform service's binary. Ledger migrations, settlement of
//! a CommissionPlan's period, plans and account administration. Each subcommand is a thin
//! shell over `tradewind-ledger`; the decisions are in the ledger and the commission
//! engine.

mod entra;
mod serve;
mod status;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use tradewind_commission::{Period, PeriodKind};
use tradewind_core::data::time::{format_iso8601, parse_iso8601};
use tradewind_crds::{CommissionPlan, CommissionPlanSpec};
use tradewind_ledger::accounts::{Role, now_nanos};
use tradewind_ledger::{Ledger, SettleOutcome, StatementKind};

/// The Tradewind platform: ledger, settlement, accounts.
#[derive(Parser, Debug)]
#[command(name = "tradewind-platform", version)]
struct Cli {
    /// The ledger's database: `sqlite:PATH` (a file, created if missing) or
    /// `postgres://USER:PASSWORD@HOST/DB` (give it by the environment, e.g. from a Secret).
    /// A PostgreSQL URL without a password in a pod with a workload identity signs in
    /// with the identity's Entra ID token (Azure Database for PostgreSQL; USER is the
    /// identity's name).
    #[arg(
        long,
        env = "TRADEWIND_DATABASE_URL",
        default_value = "sqlite:ledger.db",
        hide_env_values = true,
        global = true
    )]
    database_url: String,
    /// Azure sign-in, for the Entra ID token of the ledger's PostgreSQL.
    #[command(flatten)]
    azure: tradewind_azure::args::ConnectionArgs,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant (serve's flags) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Applies the ledger's migrations (refuses a database from a newer version).
    Migrate,
    /// Settles one period of a CommissionPlan: charges, distributions and statements,
    /// booked in one transaction. A second run of the same period changes nothing.
    Settle(SettleArgs),
    /// The CommissionPlans the ledger settles.
    #[command(subcommand)]
    Plans(PlansCommand),
    /// Accounts, members, admins, referrals and strategy authors.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Prints a settlement's statement (JSON, or CSV with --csv).
    Statement(StatementArgs),
    /// Serves the workers' ingest (`POST /ingest/v1/events`, authenticated with their
    /// projected ServiceAccount tokens by TokenReview), `/healthz`, `/readyz` (the
    /// ledger reachable) and `/metrics`, recording into the ledger; and the user API
    /// (`/api/v1`) on its own port.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "TRADEWIND_LISTEN", default_value = "0.0.0.0:8080")]
        listen: SocketAddr,
        #[command(flatten)]
        api: serve::ApiArgs,
        #[command(flatten)]
        notify: serve::NotifyArgs,
    },
}

#[derive(Args, Debug)]
struct SettleArgs {
    /// The plan, as stored with `plans set` (`namespace/name`).
    #[arg(long)]
    plan: String,
    /// The period: `previous` (the last one that has ended, and any before it after the
    /// plan's last settlement), or a date or RFC 3339 instant inside it (`2026-11-02`).
    #[arg(long, default_value = "previous")]
    period: String,
    /// Store this CommissionPlan manifest (YAML or JSON) under the plan's name first.
    #[arg(short = 'f', long)]
    file: Option<PathBuf>,
    /// Wall-clock time to settle at (RFC 3339); for re-running and tests.
    #[arg(long, hide = true)]
    now: Option<String>,
    /// Do not write the last settlement into the CommissionPlan's status.
    #[arg(long)]
    no_status: bool,
    /// Write the status through this kubeconfig instead of the in-cluster configuration
    /// (outside a cluster the status is otherwise left alone).
    #[arg(long, conflicts_with = "no_status")]
    status_kubeconfig: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum PlansCommand {
    /// Stores (or replaces) a CommissionPlan manifest (YAML or JSON), checked first.
    Set {
        /// The manifest.
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// Prints a stored plan's spec and its last settlement.
    Show {
        /// `namespace/name`.
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum AccountsCommand {
    /// Creates an account.
    Create {
        /// Its id (letters, digits, `-`, `_`, `.`, `@`).
        id: String,
        /// Its name for people (the id when not given).
        #[arg(long)]
        name: Option<String>,
    },
    /// Adds a member (a user's subject) to an account, or changes their role.
    AddMember {
        /// The account.
        account: String,
        /// The user's subject.
        subject: String,
        /// owner, trader or viewer.
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// Makes a subject a platform admin.
    AddAdmin {
        /// The user's subject.
        subject: String,
    },
    /// Records who referred an account (one referrer at a time; no cycles).
    SetReferrer {
        /// The referred account.
        account: String,
        /// The referrer.
        referrer: String,
        /// From when (date or RFC 3339; now when not given).
        #[arg(long)]
        from: Option<String>,
    },
    /// Ends an account's referral relationship.
    EndReferral {
        /// The referred account.
        account: String,
        /// When (date or RFC 3339; now when not given).
        #[arg(long)]
        at: Option<String>,
    },
    /// Records the author of a Strategy (`namespace/name`).
    SetAuthor {
        /// The Strategy.
        strategy: String,
        /// The author's account.
        account: String,
    },
    /// Lists accounts with their referrer and members (JSON).
    List,
    /// Records capital added to a running bot: its high-water mark moves with it, so the
    /// deposit is never charged as profit.
    Deposit(CapitalArgs),
    /// Records capital withdrawn from a running bot: the mark stays, the performance fee
    /// on the withdrawn fraction's profit is charged at the next settlement.
    Withdraw(CapitalArgs),
}

#[derive(Args, Debug)]
struct CapitalArgs {
    /// The TradingBot, `namespace/name`.
    bot: String,
    /// The amount, positive, in the bot's quote currency (e.g. `500` or `1250.50`).
    amount: String,
    /// When the money moved (date or RFC 3339; now when not given).
    #[arg(long)]
    at: Option<String>,
    /// A unique id, so a retry records nothing twice (default `<bot>/<deposit|withdrawal>/<at>`).
    #[arg(long)]
    id: Option<String>,
    /// Free text for people (who, why).
    #[arg(long, default_value = "")]
    note: String,
}

#[derive(Args, Debug)]
struct StatementArgs {
    /// The settlement (`<plan>/<period start>`, as `settle` prints it).
    #[arg(long)]
    settlement: String,
    /// An account's statement, by account id.
    #[arg(long, conflicts_with = "payout", required_unless_present = "payout")]
    account: Option<String>,
    /// A recipient's payout statement (`platform` or an account id).
    #[arg(long)]
    payout: Option<String>,
    /// CSV instead of JSON.
    #[arg(long)]
    csv: bool,
}

/// A date (`2026-11-02`, its 00:00 UTC) or an RFC 3339 instant.
fn instant(field: &str, text: &str) -> Result<i64> {
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    parse_iso8601(&full)
        .map_err(|e| anyhow::anyhow!("--{field} {text:?}: not a date or RFC 3339 instant: {e}"))
}

/// The period `--period` names for a plan of `kind`, at `now`.
fn period(kind: PeriodKind, text: &str, now: i64) -> Result<Period> {
    if text == "previous" {
        let current = Period::containing(kind, now);
        return Ok(Period::containing(kind, current.start - 1));
    }
    Ok(Period::containing(kind, instant("period", text)?))
}

/// Reads a CommissionPlan manifest and checks it: `(namespace/name, spec)`.
fn read_plan(file: &PathBuf) -> Result<(String, CommissionPlanSpec)> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let plan: CommissionPlan = serde_saphyr::from_str(&text)
        .with_context(|| format!("{}: not a CommissionPlan", file.display()))?;
    let name = plan
        .metadata
        .name
        .clone()
        .with_context(|| format!("{}: metadata.name is missing", file.display()))?;
    let namespace = plan
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    tradewind_config::commission_plan(&plan.spec)
        .map_err(|e| anyhow::anyhow!("{}: {}: {}", file.display(), e.field, e.reason))?;
    Ok((format!("{namespace}/{name}"), plan.spec))
}

async fn store_plan(ledger: &Ledger, file: &PathBuf) -> Result<String> {
    let (name, spec) = read_plan(file)?;
    ledger
        .put_plan(&name, &serde_json::to_string(&spec)?)
        .await?;
    Ok(name)
}

/// The variable the operator's settlement job hands the plan's spec (JSON) in.
const PLAN_SPEC_ENV: &str = "TRADEWIND_PLAN_SPEC";

async fn settle(ledger: &Ledger, args: SettleArgs) -> Result<()> {
    // The operator's CronJob passes the resource's spec, so the ledger settles what the
    // CommissionPlan says now.
    if let Ok(json) = std::env::var(PLAN_SPEC_ENV) {
        let spec: CommissionPlanSpec = serde_json::from_str(&json)
            .with_context(|| format!("{PLAN_SPEC_ENV}: not a CommissionPlan spec"))?;
        tradewind_config::commission_plan(&spec)
            .map_err(|e| anyhow::anyhow!("{PLAN_SPEC_ENV}: {}: {}", e.field, e.reason))?;
        ledger.put_plan(&args.plan, &json).await?;
    }
    if let Some(file) = &args.file {
        let name = store_plan(ledger, file).await?;
        if name != args.plan {
            bail!(
                "{} is plan {name}, not --plan {}",
                file.display(),
                args.plan
            );
        }
    }
    let spec_json = ledger.plan_spec(&args.plan).await?.with_context(|| {
        format!(
            "plan {} is not in the ledger: store it with `tradewind-platform plans set -f PLAN.yaml`",
            args.plan
        )
    })?;
    let spec: CommissionPlanSpec = serde_json::from_str(&spec_json)
        .with_context(|| format!("plan {}: the stored spec does not read", args.plan))?;
    let plan = tradewind_config::commission_plan(&spec)
        .map_err(|e| anyhow::anyhow!("plan {}: {}: {}", args.plan, e.field, e.reason))?;
    let now = match &args.now {
        Some(t) => instant("now", t)?,
        None => now_nanos(),
    };
    let last = period(plan.period, &args.period, now)?;
    // `previous` catches up: every period after the plan's last settlement up to the
    // last one that has ended, in order, each in its own transaction (a CronJob run
    // missed while the platform was down is settled by the next).
    let mut next = last;
    if args.period == "previous"
        && let Some(summary) = ledger.last_settlement(&args.plan).await?
        && let Some(end) = summary["period"]["end"].as_str()
    {
        let end = parse_iso8601(end).map_err(|e| {
            anyhow::anyhow!("plan {}: last settlement's end {end:?}: {e}", args.plan)
        })?;
        if end <= last.start {
            next = Period::containing(plan.period, end);
        }
    }
    let newest = loop {
        let summary = report(ledger.settle(&args.plan, &plan, next, now).await?)?;
        if next == last {
            break summary;
        }
        next = next.next();
    };
    // After the commit: an "already settled" run writes the same values again.
    if args.no_status {
        eprintln!("--no-status: the CommissionPlan's status was not updated");
        return Ok(());
    }
    let totals = status::totals(&newest)?;
    if let Some(client) = status::client(args.status_kubeconfig.as_deref()).await? {
        status::write(client, &args.plan, &totals).await?;
        eprintln!(
            "status.lastSettlement of CommissionPlan {} updated",
            args.plan
        );
    }
    Ok(())
}

/// Prints a settlement's outcome; returns its summary.
fn report(outcome: SettleOutcome) -> Result<serde_json::Value> {
    match outcome {
        SettleOutcome::Settled(s) => {
            let summary = s.to_json();
            println!("{}", serde_json::to_string_pretty(&summary)?);
            eprintln!(
                "settled {}: {} charges to {} accounts, {} {} in trading fees and {} in performance fees",
                s.id, s.charges, s.accounts_charged, s.trading_fees, s.currency, s.performance_fees
            );
            Ok(summary)
        }
        SettleOutcome::AlreadySettled {
            id,
            settled_at,
            summary,
        } => {
            println!("{}", serde_json::to_string_pretty(&summary)?);
            eprintln!(
                "{id} was already settled at {}: nothing changed",
                format_iso8601(settled_at)
            );
            Ok(summary)
        }
    }
}

async fn accounts(ledger: &Ledger, cmd: AccountsCommand) -> Result<()> {
    match cmd {
        AccountsCommand::Create { id, name } => {
            ledger
                .create_account(&id, name.as_deref().unwrap_or(&id))
                .await?;
            eprintln!("account {id} created");
        }
        AccountsCommand::AddMember {
            account,
            subject,
            role,
        } => {
            let role: Role = role.parse()?;
            ledger.add_member(&account, &subject, role).await?;
            eprintln!("{subject} is {} of {account}", role.as_str());
        }
        AccountsCommand::AddAdmin { subject } => {
            ledger.add_admin(&subject).await?;
            eprintln!("{subject} is a platform admin");
        }
        AccountsCommand::SetReferrer {
            account,
            referrer,
            from,
        } => {
            let from = match from {
                Some(t) => instant("from", &t)?,
                None => now_nanos(),
            };
            ledger.set_referrer(&account, &referrer, from).await?;
            eprintln!("{referrer} refers {account} from {}", format_iso8601(from));
        }
        AccountsCommand::EndReferral { account, at } => {
            let at = match at {
                Some(t) => instant("at", &t)?,
                None => now_nanos(),
            };
            ledger.end_referral(&account, at).await?;
            eprintln!("{account}'s referral ends at {}", format_iso8601(at));
        }
        AccountsCommand::SetAuthor { strategy, account } => {
            ledger.set_strategy_author(&strategy, &account).await?;
            eprintln!("{account} is the author of {strategy}");
        }
        AccountsCommand::List => {
            println!(
                "{}",
                serde_json::to_string_pretty(&ledger.list_accounts().await?)?
            );
        }
        AccountsCommand::Deposit(args) => capital(ledger, args, false).await?,
        AccountsCommand::Withdraw(args) => capital(ledger, args, true).await?,
    }
    Ok(())
}

async fn capital(ledger: &Ledger, args: CapitalArgs, withdrawal: bool) -> Result<()> {
    let amount = tradewind_core::fixed::Money::parse(&args.amount)
        .map_err(|e| anyhow::anyhow!("amount: {:?}: {e}", args.amount))?;
    if amount.is_negative() || amount.is_zero() {
        anyhow::bail!(
            "amount: {:?} must be greater than zero (withdraw takes a positive amount too)",
            args.amount
        );
    }
    let ts = match &args.at {
        Some(t) => instant("at", t)?,
        None => now_nanos(),
    };
    let word = if withdrawal { "withdrawal" } else { "deposit" };
    let change = tradewind_ledger::CapitalChange {
        id: args
            .id
            .unwrap_or_else(|| format!("{}/{word}/{}", args.bot, format_iso8601(ts))),
        bot: args.bot,
        ts,
        amount: if withdrawal { -amount } else { amount },
        note: args.note,
    };
    if ledger.record_capital_change(&change).await? {
        eprintln!(
            "{word} of {amount} recorded for {} at {} ({})",
            change.bot,
            format_iso8601(ts),
            change.id
        );
    } else {
        eprintln!("{} was recorded before; nothing changed", change.id);
    }
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // The log, and OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT asks for it; dropped
    // last, so the final spans and metrics (a failed settlement) leave before exit.
    let _telemetry = tradewind_telemetry::init(tradewind_telemetry::Settings {
        service: "tradewind-platform",
        default_filter: "info",
        json: false,
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // `serve` lasts as long as the pod: no span around it. Every other command is one.
    let span = match cli.command {
        Command::Serve { .. } => tracing::Span::none(),
        _ => tradewind_telemetry::command_span("tradewind-platform", cli.command.name()),
    };
    let settlement = match &cli.command {
        Command::Settle(args) => Some(args.plan.clone()),
        _ => None,
    };
    let result = runtime.block_on(tracing::Instrument::instrument(platform(cli), span.clone()));
    if let Err(e) = &result {
        tradewind_telemetry::failed(&span, &format_args!("{e:#}"));
        if let Some(plan) = settlement {
            tradewind_telemetry::counter(
                "tradewind-platform",
                tradewind_telemetry::names::PLATFORM_SETTLEMENT_FAILURES,
                "Settlement runs that failed",
            )
            .add(1, &[(tradewind_telemetry::names::PLAN, plan)]);
        }
    }
    result
}

impl Command {
    /// The subcommand's name, for the span that covers it.
    fn name(&self) -> &'static str {
        match self {
            Command::Migrate => "migrate",
            Command::Settle(_) => "settle",
            Command::Plans(_) => "plans",
            Command::Accounts(_) => "accounts",
            Command::Statement(_) => "statement",
            Command::Serve { .. } => "serve",
        }
    }
}

async fn platform(cli: Cli) -> Result<()> {
    let password: Option<Arc<dyn tradewind_ledger::PasswordSource>> =
        match entra::sign_in(&cli.database_url, |name| std::env::var(name).ok()) {
            entra::SignIn::Url => None,
            entra::SignIn::EntraToken => {
                let azure = cli
                    .azure
                    .connect("AzurePublic")
                    .context("signing in to Azure for the ledger's PostgreSQL")?;
                tracing::info!(
                    "signing in to PostgreSQL with the workload identity's Entra ID token"
                );
                Some(Arc::new(entra::EntraPassword::new(azure.credential)))
            }
        };
    let ledger = Ledger::connect_with(&cli.database_url, password).await?;
    // Every command but `migrate` works on a database at this build's version: the
    // service migrates at start-up, the admin commands too.
    let status = ledger.migrate().await?;
    if matches!(cli.command, Command::Migrate) {
        eprintln!(
            "ledger schema at version {} (was {})",
            status.to, status.from
        );
        ledger.close().await;
        return Ok(());
    }
    let result = match cli.command {
        Command::Migrate => Ok(()),
        Command::Settle(args) => settle(&ledger, args).await,
        Command::Serve {
            listen,
            api,
            notify,
        } => serve::run(ledger.clone(), listen, api, notify).await,
        Command::Plans(PlansCommand::Set { file }) => store_plan(&ledger, &file)
            .await
            .map(|name| eprintln!("plan {name} stored")),
        Command::Plans(PlansCommand::Show { name }) => match ledger.plan_spec(&name).await? {
            Some(spec) => {
                let spec: serde_json::Value = serde_json::from_str(&spec)?;
                let last = ledger.last_settlement(&name).await?;
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"name": name, "spec": spec, "lastSettlement": last})
                    )?
                );
                Ok(())
            }
            None => Err(anyhow::anyhow!("plan {name} is not in the ledger")),
        },
        Command::Accounts(cmd) => accounts(&ledger, cmd).await,
        Command::Statement(args) => {
            let (kind, subject) = match (&args.account, &args.payout) {
                (Some(a), _) => (StatementKind::Account, a.as_str()),
                (None, Some(p)) => (StatementKind::Payout, p.as_str()),
                (None, None) => unreachable!("clap requires one"),
            };
            match ledger.statement(&args.settlement, kind, subject).await? {
                Some((json, csv)) => {
                    if args.csv {
                        print!("{csv}");
                    } else {
                        println!("{json}");
                    }
                    Ok(())
                }
                None => Err(anyhow::anyhow!(
                    "no {} statement of {subject} in settlement {}",
                    kind.as_str(),
                    args.settlement
                )),
            }
        }
    };
    ledger.close().await;
    result
}
