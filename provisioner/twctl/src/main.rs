//! `twctl`: provisions Tradewind environments on Azure.
//!
//! `twctl env plan|apply|destroy|status -f environment.yaml`. Progress goes to stderr;
//! results (text, or JSON with `--output json`) to stdout. Exit codes: 0 success (plan:
//! no changes), 2 plan has changes, 1 error.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use tradewind_azure::args::ConnectionArgs;
use tradewind_azure::arm::{ArmClient, ArmOptions, ResourceId};
use tradewind_twctl::env::cost;
use tradewind_twctl::env::engine::{self, Event, Outcome, ResourceResult};
use tradewind_twctl::env::failover::{self, FailoverAction};
use tradewind_twctl::env::outputs::{credentials_command, outputs};
use tradewind_twctl::env::plan::{self, Action, Step};
use tradewind_twctl::env::resources::{self, Ids, Resource, ResourceKind};
use tradewind_twctl::env::spec::Environment;

#[derive(Parser, Debug)]
#[command(
    name = "twctl",
    version,
    about = "Provision Tradewind environments on Azure",
    // On a laptop the signed-in Azure CLI, not a pod's workload identity.
    mut_arg("azure_auth", |a| a.default_value("azure-cli").global(true)),
    mut_arg("azure_cloud", |a| a.global(true).help("Azure cloud override (default: the spec's `cloud`)")),
    mut_arg("arm_endpoint", |a| a.global(true)),
    mut_arg("authority_host", |a| a.global(true)),
    mut_arg("extra_ca_file", |a| a.global(true)),
)]
struct Cli {
    #[command(flatten)]
    azure: ConnectionArgs,
    /// Output format on stdout.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    output: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Environments: plan, apply, destroy, status.
    Env {
        #[command(subcommand)]
        command: EnvCommand,
    },
}

#[derive(clap::Args, Debug)]
struct SpecArg {
    /// The environment spec (YAML).
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
    /// Resources worked on at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

#[derive(Subcommand, Debug)]
enum EnvCommand {
    /// Show what apply (or, with --destroy, destroy) would do. Reads only.
    /// Exit code 0: no changes, 2: changes, 1: error.
    Plan {
        #[command(flatten)]
        spec: SpecArg,
        /// Show the destroy plan instead.
        #[arg(long)]
        destroy: bool,
    },
    /// Create or update everything, dependencies first, independent resources in parallel.
    Apply {
        #[command(flatten)]
        spec: SpecArg,
        /// Where to write helm-values.yaml and outputs.json (default
        /// twctl-outputs/<environment>).
        #[arg(long)]
        outputs: Option<PathBuf>,
    },
    /// Delete the environment (the resource group if the spec owns it).
    Destroy {
        #[command(flatten)]
        spec: SpecArg,
        /// Do not ask for confirmation (required without a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Provisioning state and endpoints of every resource.
    Status {
        #[command(flatten)]
        spec: SpecArg,
    },
    /// Move the data services to the secondary region (Cosmos DB write region, storage
    /// account failover, PostgreSQL geo-restore). What is done already is skipped.
    Failover {
        #[command(flatten)]
        spec: SpecArg,
        /// Move Cosmos DB's write region back to the primary region.
        #[arg(long)]
        back: bool,
        /// Do not ask for confirmation (required without a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Estimated monthly cost per resource from the price table shipped with twctl
    /// (reads nothing from Azure).
    Cost {
        /// The environment spec (YAML).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TWCTL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

struct Ctx {
    env: Environment,
    resources: Vec<Resource>,
    client: ArmClient,
    format: Format,
    concurrency: usize,
}

fn poll_interval() -> Duration {
    // Hidden knob for tests: the fake finishes operations in milliseconds.
    std::env::var("TWCTL_POLL_INTERVAL_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(5))
}

fn context(cli: &Cli, spec: &SpecArg) -> anyhow::Result<Ctx> {
    // The spec (names included) is checked before anything talks to Azure.
    let env = Environment::load(&spec.file)?;
    let resources = resources::build(&env);
    let azure = cli.azure.connect(env.spec.cloud.as_str())?;
    let poll = poll_interval();
    let options = ArmOptions {
        poll_interval: poll,
        initial_retry_delay: poll.min(ArmOptions::default().initial_retry_delay),
        ..ArmOptions::default()
    };
    let client = azure.arm(options)?;
    Ok(Ctx {
        env,
        resources,
        client,
        format: cli.output,
        concurrency: spec.concurrency.max(1),
    })
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let Command::Env { command } = &cli.command;
    match command {
        EnvCommand::Plan { spec, destroy } => cmd_plan(context(&cli, spec)?, *destroy).await,
        EnvCommand::Apply { spec, outputs } => {
            cmd_apply(context(&cli, spec)?, outputs.clone()).await
        }
        EnvCommand::Destroy { spec, yes } => cmd_destroy(context(&cli, spec)?, *yes).await,
        EnvCommand::Status { spec } => cmd_status(context(&cli, spec)?).await,
        EnvCommand::Failover { spec, yes, back } => {
            cmd_failover(context(&cli, spec)?, *yes, *back).await
        }
        EnvCommand::Cost { file } => cmd_cost(&Environment::load(file)?, cli.output),
    }
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

fn label(kind: ResourceKind, id: &str) -> String {
    format!("{kind} {}", id.rsplit('/').next().unwrap_or(id))
}

fn print_steps(ctx: &Ctx, steps: &[Step], destroy: bool) {
    let s = &ctx.env.spec;
    println!(
        "{} plan for environment {} (subscription {}, resource group {}):",
        if destroy { "Destroy" } else { "Apply" },
        ctx.env.metadata.name,
        s.subscription_id,
        s.resource_group.name
    );
    for step in steps {
        let (mark, word) = match step.action {
            Action::Create => ("+", "create"),
            Action::Update => ("~", "update"),
            Action::NoOp => ("=", "no-op "),
            Action::Delete => ("-", "delete"),
        };
        println!("  {mark} {word}  {}", label(step.kind, &step.id));
        for c in &step.changes {
            println!("        {c}");
        }
        if let Some(note) = &step.note {
            println!("        ({note})");
        }
    }
    let count = |a| steps.iter().filter(|s| s.action == a).count();
    if destroy {
        println!("{} to delete.", count(Action::Delete));
    } else {
        println!(
            "{} to create, {} to update, {} unchanged.",
            count(Action::Create),
            count(Action::Update),
            count(Action::NoOp)
        );
    }
}

async fn cmd_plan(ctx: Ctx, destroy: bool) -> anyhow::Result<u8> {
    let live = engine::read_all(&ctx.client, &ctx.resources, ctx.concurrency).await?;
    let steps = if destroy {
        let order = resources::topological_order(&ctx.resources)?;
        plan::destroy_plan(
            &ctx.resources,
            &order,
            &live,
            ctx.env.spec.resource_group.owned,
        )
    } else {
        plan::plan(&ctx.resources, &live)
    };
    let changes = plan::has_changes(&steps);
    match ctx.format {
        Format::Json => print_json(&json!({
            "environment": ctx.env.metadata.name,
            "kind": if destroy { "destroy" } else { "apply" },
            "changes": changes,
            "steps": steps,
        }))?,
        Format::Text => print_steps(&ctx, &steps, destroy),
    }
    Ok(if changes { 2 } else { 0 })
}

fn progress(started: Instant) -> impl FnMut(Event<'_>) {
    move |event| {
        let t = started.elapsed().as_secs_f64();
        match event {
            Event::Started(r) => eprintln!("[{t:6.1}s] started    {}", r.label()),
            Event::Finished(r, res) => {
                let word = match res.outcome {
                    Outcome::Created => "created",
                    Outcome::Updated => "updated",
                    Outcome::Unchanged => "unchanged",
                    Outcome::Deleted => "deleted",
                    Outcome::Failed => "FAILED",
                    Outcome::Skipped => "skipped",
                };
                match &res.error {
                    Some(e) => eprintln!(
                        "[{t:6.1}s] {word:<10} {} ({:.1}s): {e}",
                        r.label(),
                        res.seconds
                    ),
                    None => eprintln!("[{t:6.1}s] {word:<10} {} ({:.1}s)", r.label(), res.seconds),
                }
            }
        }
    }
}

fn count(results: &[ResourceResult], o: Outcome) -> usize {
    results.iter().filter(|r| r.outcome == o).count()
}

fn write_outputs(dir: &Path, helm: &Value, outputs_json: &Value) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let yaml = serde_saphyr::to_string(helm).context("serialising Helm values")?;
    let helm_path = dir.join("helm-values.yaml");
    std::fs::write(&helm_path, yaml).with_context(|| format!("writing {}", helm_path.display()))?;
    let out_path = dir.join("outputs.json");
    std::fs::write(
        &out_path,
        serde_json::to_string_pretty(outputs_json)? + "\n",
    )
    .with_context(|| format!("writing {}", out_path.display()))?;
    Ok(())
}

async fn cmd_apply(ctx: Ctx, outputs_dir: Option<PathBuf>) -> anyhow::Result<u8> {
    let started = Instant::now();
    eprintln!(
        "Applying environment {} ({} resources, {} at a time)",
        ctx.env.metadata.name,
        ctx.resources.len(),
        ctx.concurrency
    );
    let mut on_event = progress(started);
    let report = engine::apply(&ctx.client, &ctx.resources, ctx.concurrency, &mut on_event).await?;
    let writes = ctx.client.writes();
    let summary = json!({
        "created": count(&report.resources, Outcome::Created),
        "updated": count(&report.resources, Outcome::Updated),
        "unchanged": count(&report.resources, Outcome::Unchanged),
        "failed": count(&report.resources, Outcome::Failed),
        "skipped": count(&report.resources, Outcome::Skipped),
        "writes": writes,
        "seconds": started.elapsed().as_secs_f64(),
    });
    if !report.ok() {
        let failures: Vec<&ResourceResult> = report
            .resources
            .iter()
            .filter(|r| r.outcome == Outcome::Failed)
            .collect();
        if ctx.format == Format::Json {
            print_json(&json!({
                "environment": ctx.env.metadata.name,
                "ok": false,
                "summary": summary,
                "resources": report.resources,
            }))?;
        }
        let lines: Vec<String> = failures
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    label(f.kind, &f.id),
                    f.error.as_deref().unwrap_or("failed")
                )
            })
            .collect();
        bail!(
            "apply failed ({} failed, {} not attempted; re-run apply to resume):\n  {}",
            failures.len(),
            count(&report.resources, Outcome::Skipped),
            lines.join("\n  ")
        );
    }
    let out = outputs(&ctx.env, &report.bodies)?;
    let dir =
        outputs_dir.unwrap_or_else(|| PathBuf::from("twctl-outputs").join(&ctx.env.metadata.name));
    let outputs_json = serde_json::to_value(&out)?;
    write_outputs(&dir, &out.helm_values, &outputs_json)?;
    match ctx.format {
        Format::Json => print_json(&json!({
            "environment": ctx.env.metadata.name,
            "ok": true,
            "summary": summary,
            "resources": report.resources,
            "outputsDir": dir.display().to_string(),
            "outputs": outputs_json,
        }))?,
        Format::Text => {
            println!(
                "Apply complete: {} created, {} updated, {} unchanged ({} writes, {:.1}s).",
                summary["created"],
                summary["updated"],
                summary["unchanged"],
                writes,
                started.elapsed().as_secs_f64()
            );
            println!(
                "Outputs written to {} (helm-values.yaml, outputs.json).",
                dir.display()
            );
            println!(
                "Fetch AKS credentials with:\n  {}",
                out.aks_credentials_command
            );
        }
    }
    Ok(0)
}

fn confirm(env: &Environment, steps: &[Step]) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "refusing to destroy without confirmation: standard input is not a terminal (pass --yes)"
        );
    }
    eprint!(
        "This deletes {} resource(s) of environment {}. Type the environment name to confirm: ",
        steps.len(),
        env.metadata.name
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if answer.trim() != env.metadata.name {
        bail!("destroy cancelled");
    }
    Ok(())
}

async fn cmd_destroy(ctx: Ctx, yes: bool) -> anyhow::Result<u8> {
    let live = engine::read_all(&ctx.client, &ctx.resources, ctx.concurrency).await?;
    let order = resources::topological_order(&ctx.resources)?;
    let steps = plan::destroy_plan(
        &ctx.resources,
        &order,
        &live,
        ctx.env.spec.resource_group.owned,
    );
    if ctx.format == Format::Text {
        print_steps(&ctx, &steps, true);
    }
    if !steps.is_empty() && !yes {
        confirm(&ctx.env, &steps)?;
    }
    let started = Instant::now();
    let mut on_event = progress(started);
    let results = engine::destroy(&ctx.client, &ctx.resources, &steps, &live, &mut on_event).await;
    let failed: Vec<&ResourceResult> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .collect();
    if ctx.format == Format::Json {
        print_json(&json!({
            "environment": ctx.env.metadata.name,
            "ok": failed.is_empty(),
            "deleted": count(&results, Outcome::Deleted),
            "writes": ctx.client.writes(),
            "resources": results,
        }))?;
    }
    if let Some(f) = failed.first() {
        bail!(
            "destroy failed: {}: {}",
            label(f.kind, &f.id),
            f.error.as_deref().unwrap_or("failed")
        );
    }
    if ctx.format == Format::Text {
        println!(
            "Destroy complete: {} deleted.",
            count(&results, Outcome::Deleted)
        );
    }
    Ok(0)
}

async fn cmd_status(ctx: Ctx) -> anyhow::Result<u8> {
    let live = engine::read_all(&ctx.client, &ctx.resources, ctx.concurrency).await?;
    let ids = Ids::of(&ctx.env);
    // Endpoints worth showing; never keys, connection strings or instrumentation keys.
    let endpoints: HashMap<&ResourceId, &str> = [
        (&ids.aks, "/properties/fqdn"),
        (&ids.acr, "/properties/loginServer"),
        (&ids.cosmos, "/properties/documentEndpoint"),
        (&ids.key_vault, "/properties/vaultUri"),
        (&ids.service_bus, "/properties/serviceBusEndpoint"),
        (&ids.operator_identity, "/properties/clientId"),
    ]
    .into_iter()
    .chain(
        [
            (
                ids.postgres.as_ref(),
                "/properties/fullyQualifiedDomainName",
            ),
            (ids.apim.as_ref(), "/properties/gatewayUrl"),
            (ids.platform_identity.as_ref(), "/properties/clientId"),
        ]
        .into_iter()
        .filter_map(|(id, p)| id.map(|id| (id, p))),
    )
    .collect();
    let mut rows = Vec::new();
    for r in &ctx.resources {
        let body = live.get(&r.id).and_then(Option::as_ref);
        let state = match body {
            None => "Absent".to_string(),
            Some(b) => tradewind_azure::arm::lro::provisioning_state(b)
                .unwrap_or("Exists")
                .to_string(),
        };
        let endpoint = body
            .zip(endpoints.get(&r.id))
            .and_then(|(b, p)| b.pointer(p))
            .and_then(Value::as_str)
            .map(str::to_string);
        rows.push(
            json!({"id": r.id.as_str(), "kind": r.kind, "state": state, "endpoint": endpoint}),
        );
    }
    match ctx.format {
        Format::Json => {
            print_json(&json!({"environment": ctx.env.metadata.name, "resources": rows}))?
        }
        Format::Text => {
            println!("Environment {}:", ctx.env.metadata.name);
            for (r, row) in ctx.resources.iter().zip(&rows) {
                let endpoint = row["endpoint"]
                    .as_str()
                    .map(|e| format!("  {e}"))
                    .unwrap_or_default();
                println!(
                    "  {:<12} {}{endpoint}",
                    row["state"].as_str().unwrap_or(""),
                    r.label()
                );
            }
            if matches!(live.get(&ids.aks), Some(Some(_))) {
                println!(
                    "Fetch AKS credentials with:\n  {}",
                    credentials_command(&ctx.env)
                );
            }
        }
    }
    Ok(0)
}

fn cmd_cost(env: &Environment, format: Format) -> anyhow::Result<u8> {
    let lines = cost::estimate(env);
    let total = cost::total(&lines);
    match format {
        Format::Json => print_json(&json!({
            "environment": env.metadata.name,
            "currency": "USD",
            "pricesAsOf": cost::PRICES_AS_OF,
            "totalMonthlyCents": total,
            "lines": lines,
        }))?,
        Format::Text => {
            println!(
                "Estimated monthly cost of environment {} (USD, list prices as of {}; usage extra):",
                env.metadata.name,
                cost::PRICES_AS_OF
            );
            for l in &lines {
                let amount = l
                    .monthly_cents
                    .map(cost::dollars)
                    .unwrap_or_else(|| "(not in the price table)".into());
                println!("  {:<40} {:>14}  {}", l.resource, amount, l.sku);
                if !l.note.is_empty() {
                    println!("  {:<40} {:>14}  ({})", "", "", l.note);
                }
            }
            println!(
                "  {:<40} {:>14}",
                "Total (fixed charges)",
                cost::dollars(total)
            );
        }
    }
    Ok(0)
}

async fn cmd_failover(ctx: Ctx, yes: bool, back: bool) -> anyhow::Result<u8> {
    let (cosmos, storage, restored) = failover::read(&ctx.client, &ctx.env).await?;
    let steps = failover::plan(&ctx.env, cosmos.as_ref(), storage.as_ref(), restored, back)?;
    if ctx.format == Format::Text {
        println!("Failover plan for environment {}:", ctx.env.metadata.name);
        for step in &steps {
            let what = match &step.action {
                FailoverAction::CosmosPriorityChange {
                    new_write_region, ..
                } => {
                    format!("make {new_write_region} the write region")
                }
                FailoverAction::StorageFailover => "fail the account over to its secondary".into(),
                FailoverAction::PostgresGeoRestore { target, .. } => format!(
                    "geo-restore the latest backup into {}",
                    target.rsplit('/').next().unwrap_or(target)
                ),
            };
            println!(
                "  ! {}: {what}",
                step.id.rsplit('/').next().unwrap_or(&step.id)
            );
        }
    }
    if !yes && !steps.is_empty() {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            bail!(
                "refusing to fail over without confirmation: standard input is not a terminal (pass --yes)"
            );
        }
        eprint!(
            "Type the environment name ({}) to fail over: ",
            ctx.env.metadata.name
        );
        std::io::stderr().flush()?;
        let mut answer = String::new();
        stdin.lock().read_line(&mut answer)?;
        if answer.trim() != ctx.env.metadata.name {
            bail!("failover cancelled");
        }
    }
    let started = Instant::now();
    let mut done = Vec::new();
    for step in &steps {
        let name = step.id.rsplit('/').next().unwrap_or(&step.id).to_string();
        eprintln!(
            "[{:6.1}s] started    {name}",
            started.elapsed().as_secs_f64()
        );
        match failover::run(&ctx.client, step).await {
            Ok(body) => {
                eprintln!(
                    "[{:6.1}s] done       {name}",
                    started.elapsed().as_secs_f64()
                );
                done.push(json!({"id": step.id, "action": step.action, "ok": true,
                    "host": body.as_ref().and_then(|b| b.pointer("/properties/fullyQualifiedDomainName")).cloned()}));
            }
            Err(e) => {
                if ctx.format == Format::Json {
                    done.push(json!({"id": step.id, "action": step.action, "ok": false, "error": e.to_string()}));
                    print_json(
                        &json!({"environment": ctx.env.metadata.name, "ok": false, "steps": done}),
                    )?;
                }
                // Steps are independent; stopping leaves the rest for a re-run, which skips
                // what is already done.
                bail!("failover stopped at {name}: {e} (re-run failover to continue)");
            }
        }
    }
    match ctx.format {
        Format::Json => {
            print_json(&json!({"environment": ctx.env.metadata.name, "ok": true, "steps": done}))?
        }
        Format::Text => {
            println!("Failover complete ({} step(s)).", done.len());
            if let Some(host) = done.iter().find_map(|d| d["host"].as_str()) {
                println!(
                    "Point the ledger at the restored server: set azure.postgres.host to {host} in the Helm values and upgrade the release."
                );
            }
            if steps
                .iter()
                .any(|s| s.action == FailoverAction::StorageFailover)
            {
                println!(
                    "Run `twctl env apply` afterwards: it makes the storage account geo-redundant again."
                );
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["twctl", "env", "plan", "-f", "x.yaml", "--output", "json"])
            .unwrap();
        assert_eq!(cli.output, Format::Json);
    }
}
