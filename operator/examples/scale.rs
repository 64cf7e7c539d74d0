//! Scale benchmark: N TradingBots (default 1,000) brought to Ready by the operator running
//! as its own process against the test API server (in this process); reports the time,
//! each process's peak RSS and CPU, the API writes per bot, then a no-op resync's writes.
//! Progress goes to stderr. Not a test.
//!
//! Run: `cargo run --release -p tradewind-operator --example scale -- 1000`
//! (build the operator first: `cargo build --release -p tradewind-operator`).

use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use tradewind_apiserver::TestServer;
use tradewind_crds::validation::load_documents;
use tradewind_crds::{CommissionPlan, Strategy, TradingBot, manifests};

fn example<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(file);
    serde_json::from_value(load_documents(&path).unwrap().remove(0).value).unwrap()
}

/// A `/proc/PID/status` figure in KiB (`VmHWM`, `VmRSS`) as MiB.
fn status_mib(pid: &str, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_owned))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// CPU seconds (user + system) a process has used, from `/proc/PID/stat` (clock ticks of
/// 1/100 s, the Linux `USER_HZ`).
fn cpu_seconds(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces) start at `state`.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn writes(server: &TestServer) -> u64 {
    server
        .handle()
        .counters()
        .iter()
        .filter(|((v, _), _)| {
            matches!(
                v.as_str(),
                "create" | "update" | "patch" | "delete" | "deletecollection"
            )
        })
        .map(|(_, n)| n)
        .sum()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1000);
    let server = TestServer::start()?;
    let client = Client::try_from(kube::Config::new(server.url().parse()?))?;
    for (_, crd) in manifests::all() {
        Api::<CustomResourceDefinition>::all(client.clone())
            .create(&PostParams::default(), &crd)
            .await?;
    }
    Api::<Strategy>::namespaced(client.clone(), "default")
        .create(
            &PostParams::default(),
            &example("examples/strategies/rsi-reversion.yaml"),
        )
        .await?;
    Api::<CommissionPlan>::namespaced(client.clone(), "default")
        .create(
            &PostParams::default(),
            &example("examples/commission-plans/tiered-referral.yaml"),
        )
        .await?;
    let dir = std::env::temp_dir().join(format!("tw-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let kubeconfig = dir.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig)?;
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("tradewind-operator"))
        .expect("target dir");
    let mut operator = std::process::Command::new(&bin)
        .args([
            "run",
            "--no-leader-election",
            "--metrics-addr",
            "127.0.0.1:0",
            "--namespace",
            "default",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .env("RUST_LOG", "warn")
        .spawn()?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let bots: Api<TradingBot> = Api::namespaced(client.clone(), "default");
    let template: TradingBot = example("examples/bots/paper.yaml");
    server.handle().reset_counters();
    let op_pid = operator.id().to_string();
    // The test API server runs in this process (its own thread and runtime); this
    // process's own client work (creating the bots, polling for Ready) is small beside it.
    let (server_cpu0, op_cpu0) = (cpu_seconds("self"), cpu_seconds(&op_pid));
    let mut server_rss_peak = 0f64;
    let mut polls = 0u64;
    let started = Instant::now();
    stream::iter(0..n)
        .map(|i| {
            let bots = bots.clone();
            let mut bot = template.clone();
            bot.metadata.name = Some(format!("bot-{i:05}"));
            async move { bots.create(&PostParams::default(), &bot).await }
        })
        .buffer_unordered(16)
        .for_each(|r| {
            r.expect("create bot");
            futures::future::ready(())
        })
        .await;
    let created = started.elapsed();
    loop {
        let ready = bots
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|b| {
                b.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                })
            })
            .count();
        server_rss_peak = server_rss_peak.max(status_mib("self", "VmRSS:"));
        if ready == n {
            break;
        }
        polls += 1;
        let secs = started.elapsed().as_secs_f64();
        if polls.is_multiple_of(8) {
            eprintln!(
                "{secs:7.1} s  ready {ready}/{n}  server RSS {:.0} MiB, CPU {:.1} s  operator RSS {:.0} MiB, CPU {:.1} s",
                status_mib("self", "VmRSS:"),
                cpu_seconds("self") - server_cpu0,
                status_mib(&op_pid, "VmRSS:"),
                cpu_seconds(&op_pid) - op_cpu0,
            );
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "only {ready}/{n} Ready after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let all_ready = started.elapsed();
    let (server_cpu, op_cpu) = (
        cpu_seconds("self") - server_cpu0,
        cpu_seconds(&op_pid) - op_cpu0,
    );
    let server_hwm = status_mib("self", "VmHWM:");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let total_writes = writes(&server) - n as u64; // minus the benchmark's own creates
    let rss = status_mib(&op_pid, "VmHWM:");

    // No-op resync: restart nothing, just let the operator see every bot again.
    server.handle().reset_counters();
    server.handle().close_watches(); // forces relists: every bot is reconciled again
    tokio::time::sleep(Duration::from_secs(10)).await;
    let resync_writes = writes(&server);
    let _ = operator.kill();
    let _ = operator.wait();

    println!("bots:                        {n}");
    println!(
        "created in:                  {:.2} s",
        created.as_secs_f64()
    );
    println!(
        "all Ready after:             {:.2} s",
        all_ready.as_secs_f64()
    );
    println!(
        "operator API writes per bot: {:.2} (incl. Strategy/CommissionPlan status updates)",
        total_writes as f64 / n as f64
    );
    println!("operator peak RSS (VmHWM):   {rss:.1} MiB");
    println!(
        "operator CPU until Ready:    {op_cpu:.1} s ({:.0} % of one core)",
        100.0 * op_cpu / all_ready.as_secs_f64()
    );
    println!(
        "server process peak RSS:     {server_hwm:.1} MiB (VmHWM; {server_rss_peak:.1} MiB sampled while polling)"
    );
    println!(
        "server process CPU until Ready: {server_cpu:.1} s ({:.0} % of one core)",
        100.0 * server_cpu / all_ready.as_secs_f64()
    );
    println!("writes in a no-op resync after all watches dropped: {resync_writes}");
    Ok(())
}
