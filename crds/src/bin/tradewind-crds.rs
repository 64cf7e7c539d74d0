//! `tradewind-crds`: writes the CRD manifests and validates resource files against them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tradewind_crds::validation::{Document, SchemaSet, load_documents};
use tradewind_crds::{CommissionPlan, Strategy, TradingBot, manifests, resolved};

#[derive(Parser)]
#[command(version, about = "Tradewind CRD tooling")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write one YAML file per CRD into DIR (what `make crds` runs).
    Manifests {
        /// Output directory.
        #[arg(long, default_value = "crds/manifests")]
        out: PathBuf,
    },
    /// Validate Tradewind resources in YAML files against the CRD schemas and CEL rules.
    Validate {
        /// YAML files (multi-document allowed). Non-Tradewind kinds are listed and skipped.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Validate, then print what the resources declare, each bot resolved against its
    /// Strategy and CommissionPlan as the operator will resolve it.
    Describe {
        /// YAML files holding the bots together with the strategies and plans they use.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Manifests { out } => {
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            for (file, crd) in manifests::all() {
                let path = out.join(file);
                std::fs::write(&path, manifests::render(&crd)?)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { files } => validate(&files),
        Command::Describe { files } => describe(&files),
    }
}

fn describe(files: &[PathBuf]) -> Result<ExitCode> {
    if validate(files)? != ExitCode::SUCCESS {
        return Ok(ExitCode::FAILURE);
    }
    let mut docs: Vec<Document> = Vec::new();
    for file in files {
        docs.extend(load_documents(file)?);
    }
    let strategies: Vec<Strategy> = typed(&docs, "Strategy")?;
    let plans: Vec<CommissionPlan> = typed(&docs, "CommissionPlan")?;
    let bots: Vec<TradingBot> = typed(&docs, "TradingBot")?;

    println!("\nStrategies");
    for s in &strategies {
        println!("  {:<22} {}", name(&s.metadata), describe_strategy(&s.spec));
    }
    println!("\nCommission plans");
    for p in &plans {
        let tiers = tiers_text(&p.spec.trading_fees);
        let shares: Vec<String> = p
            .spec
            .distribution
            .iter()
            .map(|s| match s.level {
                Some(l) => format!("{:?} L{l} {}", s.recipient, bps_percent(s.share_bps)),
                None => format!("{:?} {}", s.recipient, bps_percent(s.share_bps)),
            })
            .collect();
        println!(
            "  {:<22} platform commission in {}: fees (maker/taker by 30d volume) {}",
            name(&p.metadata),
            p.spec.currency(),
            tiers
        );
        if let Some(f) = &p.spec.performance_fee {
            println!(
                "  {:<22} performance fee {} of {:?} profit over high-water mark, settled {:?}",
                "",
                f.percent,
                f.basis.unwrap_or_default(),
                f.settlement_period
            );
        }
        println!("  {:<22} shared: {}", "", shares.join(", "));
    }
    println!("\nTrading bots (resolved)");
    let mut unresolved = 0;
    for b in &bots {
        let strategy = strategies
            .iter()
            .find(|s| name(&s.metadata) == b.spec.strategy_ref.name);
        let plan_name = b.spec.commission_plan_ref.as_ref().map(|r| r.name.as_str());
        let plan = plan_name.and_then(|n| plans.iter().find(|p| name(&p.metadata) == n));
        let Some(strategy) = strategy else {
            unresolved += 1;
            println!(
                "  {:<22} Strategy {:?} not found in the given files",
                name(&b.metadata),
                b.spec.strategy_ref.name
            );
            continue;
        };
        if plan_name.is_some() && plan.is_none() {
            unresolved += 1;
            println!(
                "  {:<22} CommissionPlan {:?} not found in the given files",
                name(&b.metadata),
                plan_name.unwrap_or_default()
            );
            continue;
        }
        let cfg = resolved::resolve(b, strategy, plan)?;
        println!(
            "  {:<22} {:?} {} on {:?} {:?}{}, capital {} {}, account {}",
            cfg.name,
            cfg.bot.mode,
            cfg.bot.symbols.join(","),
            cfg.bot.venue.exchange,
            cfg.bot.venue.market,
            if cfg.bot.venue.testnet {
                " testnet"
            } else {
                ""
            },
            cfg.bot.capital.amount,
            cfg.bot.capital.currency,
            cfg.bot.account_ref.name,
        );
        println!(
            "  {:<22} strategy {} ({})",
            "",
            cfg.strategy_name,
            describe_strategy(&cfg.strategy)
        );
        println!("  {:<22} sizing: {}", "", cfg.sizing);
        let risk = cfg.risk.describe();
        println!(
            "  {:<22} risk: {}",
            "",
            if risk.is_empty() {
                "none".to_owned()
            } else {
                risk.join(", ")
            }
        );
        let venue_fees = cfg
            .bot
            .backtest
            .as_ref()
            .and_then(|b| b.venue_fees.as_ref());
        println!(
            "  {:<22} venue fees (simulated): {}",
            "",
            venue_fees.map_or_else(|| "the venue's default".to_owned(), tiers_text)
        );
        if let Some(p) = &cfg.commission_plan_name {
            println!("  {:<22} commission plan: {p}", "");
        }
        if let Some(c) = &cfg.bot.credentials {
            // Only where the credentials live, never their values.
            println!("  {:<22} credentials: Secret {}", "", c.secret_ref.name);
        }
        if let Some(cloud) = &cfg.bot.cloud {
            println!(
                "  {:<22} cloud: cosmos={} keyVault={} serviceBus={} deletionPolicy={:?}",
                "", cloud.cosmos, cloud.key_vault, cloud.service_bus, cloud.deletion_policy
            );
        }
    }
    Ok(if unresolved == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `>= 0: 10/10 bps, >= 1000000: 8/9 bps`.
fn tiers_text(fees: &tradewind_crds::TradingFees) -> String {
    let tiers: Vec<String> = fees
        .tiers
        .iter()
        .map(|t| {
            format!(
                ">= {}: {}/{} bps",
                t.min_volume_30d, t.maker_bps, t.taker_bps
            )
        })
        .collect();
    tiers.join(", ")
}

/// Deserialises every document of `kind` into its Rust type.
fn typed<T: serde::de::DeserializeOwned>(docs: &[Document], kind: &str) -> Result<Vec<T>> {
    docs.iter()
        .filter(|d| d.value["kind"] == kind)
        .map(|d| serde_json::from_value(d.value.clone()).with_context(|| d.describe()))
        .collect()
}

fn name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn bps_percent(bps: u32) -> String {
    format!("{}.{:02}%", bps / 100, bps % 100)
}

fn describe_strategy(s: &tradewind_crds::StrategySpec) -> String {
    let tf = serde_json::to_value(s.timeframe).unwrap_or_default();
    let tf = tf.as_str().unwrap_or("?");
    let params = match (s.type_, s) {
        (
            _,
            tradewind_crds::StrategySpec {
                sma_cross: Some(p), ..
            },
        )
        | (
            _,
            tradewind_crds::StrategySpec {
                ema_cross: Some(p), ..
            },
        ) => {
            format!("fast {} / slow {}", p.fast_period, p.slow_period)
        }
        (
            _,
            tradewind_crds::StrategySpec {
                rsi_reversion: Some(p),
                ..
            },
        ) => {
            format!(
                "RSI({}) buy < {}, sell > {}",
                p.period, p.oversold, p.overbought
            )
        }
        (
            _,
            tradewind_crds::StrategySpec {
                bollinger_reversion: Some(p),
                ..
            },
        ) => {
            format!("bands({}, {} sd)", p.period, p.std_devs)
        }
        (_, tradewind_crds::StrategySpec { grid: Some(p), .. }) => format!(
            "{} levels {}..{}, {} per level",
            p.levels, p.lower_price, p.upper_price, p.quantity_per_level
        ),
        (_, tradewind_crds::StrategySpec { dca: Some(p), .. }) => format!(
            "buy {} every {} bars{}",
            p.notional,
            p.every_bars,
            p.take_profit_percent
                .as_ref()
                .map(|t| format!(", take profit at {t}"))
                .unwrap_or_default()
        ),
        (
            _,
            tradewind_crds::StrategySpec {
                market_maker: Some(p),
                ..
            },
        ) => format!(
            "spread {} bps, {} per side, max inventory {}",
            p.spread_bps, p.order_quantity, p.max_inventory
        ),
        (_, tradewind_crds::StrategySpec { model: Some(p), .. }) => format!(
            "{} features -> {:?} (sha256 {}…)",
            p.features.len(),
            p.output.kind,
            p.artifact.sha256.get(..12).unwrap_or_default()
        ),
        (
            _,
            tradewind_crds::StrategySpec {
                signal: Some(p), ..
            },
        ) => format!(
            "takes {}{}",
            p.actions
                .iter()
                .map(|a| serde_json::to_value(a)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", "),
            p.max_position
                .as_ref()
                .map(|m| format!(", max position {m}"))
                .unwrap_or_default()
        ),
        _ => "parameters missing".to_owned(),
    };
    format!("{:?} {params} on {tf} bars", s.type_)
}

fn validate(files: &[PathBuf]) -> Result<ExitCode> {
    let schemas = SchemaSet::tradewind()?;
    let (mut valid, mut invalid, mut skipped) = (0, 0, 0);
    for file in files {
        for doc in load_documents(file)? {
            let api_version = doc
                .value
                .get("apiVersion")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let kind = doc.value.get("kind").and_then(|v| v.as_str()).unwrap_or("");
            if !schemas.knows(api_version, kind) {
                if let Some(reason) = tradewind_crds::validation::near_miss(api_version, kind) {
                    invalid += 1;
                    println!("INVALID  {}  {}", file.display(), doc.describe());
                    println!("         - {reason}");
                    continue;
                }
                skipped += 1;
                println!(
                    "skip     {}  {}  (not a Tradewind kind)",
                    file.display(),
                    doc.describe()
                );
                continue;
            }
            match schemas.validate(&doc.value) {
                Ok(()) => {
                    valid += 1;
                    println!("valid    {}  {}", file.display(), doc.describe());
                }
                Err(issues) => {
                    invalid += 1;
                    println!("INVALID  {}  {}", file.display(), doc.describe());
                    for issue in issues {
                        println!("         - {issue}");
                    }
                }
            }
        }
    }
    println!("{valid} valid, {invalid} invalid, {skipped} skipped");
    if valid + invalid == 0 {
        // Exit 0 here would tell CI that files were checked when none was.
        eprintln!("error: no Tradewind resource in the given files: nothing was validated");
        return Ok(ExitCode::FAILURE);
    }
    Ok(if invalid == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
