//! The GitOps examples: the Argo CD Lua health checks in examples/gitops/argocd/argocd-cm.yaml
//! run by a real Lua 5.1 interpreter (Argo CD embeds gopher-lua, a Lua 5.1) against
//! objects a real operator produced on the test API server; and the Helm values in the
//! Flux HelmRelease and the Argo CD Application pass the chart's schema and render.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tradewind_apiserver::TestServer;
use tradewind_deploy_tests::*;

const NS: &str = "trading";

fn lua() -> PathBuf {
    for candidate in ["lua5.1", "lua"] {
        if Command::new(candidate).arg("-v").output().is_ok_and(|o| {
            String::from_utf8_lossy(&o.stderr).contains("Lua 5.1")
                || String::from_utf8_lossy(&o.stdout).contains("Lua 5.1")
        }) {
            return PathBuf::from(candidate);
        }
    }
    panic!("Lua 5.1 is required (apt-get install lua5.1; tools/prereqs.sh installs it)");
}

/// A JSON value as a Lua table constructor (what Argo CD hands the script as `obj`).
fn lua_literal(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let mut out = String::from("\"");
            for ch in s.chars() {
                match ch {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\{}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Array(a) => format!(
            "{{{}}}",
            a.iter().map(lua_literal).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!(
                    "[{}] = {}",
                    lua_literal(&Value::String(k.clone())),
                    lua_literal(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The health script Argo CD would run for `kind`, from the shipped argocd-cm.yaml.
fn script(kind: &str) -> String {
    let text =
        std::fs::read_to_string(repo().join("examples/gitops/argocd/argocd-cm.yaml")).unwrap();
    let cm: Value = serde_saphyr::from_str(&text).unwrap();
    cm["data"][format!("resource.customizations.health.tradewind.dev_{kind}")]
        .as_str()
        .unwrap_or_else(|| panic!("no health check for {kind}"))
        .to_owned()
}

/// Runs the `kind` health check on `obj`: (status, message).
fn health(kind: &str, obj: &Value) -> (String, String) {
    let program = format!(
        "obj = {}\nlocal hs = (function()\n{}\nend)()\nio.write(hs.status, \"\\n\", hs.message or \"\", \"\\n\")\n",
        lua_literal(obj),
        script(kind)
    );
    let dir = std::env::temp_dir().join(format!("tw-deploy-lua-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{kind}.lua"));
    std::fs::write(&file, program).unwrap();
    let out = Command::new(lua()).arg(&file).output().expect("lua runs");
    assert!(
        out.status.success(),
        "lua failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    (
        lines.next().unwrap_or_default().to_owned(),
        lines.next().unwrap_or_default().to_owned(),
    )
}

fn get(kc: &Path, kind: &str, name: &str) -> Value {
    get_json(kc, &[kind, name, "-n", NS])
}

fn reason(obj: &Value) -> String {
    condition(obj, "Ready").map_or(String::new(), |c| c["reason"].as_str().unwrap().to_owned())
}

fn assert_health(kind: &str, obj: &Value, status: &str, message: &str) {
    let (s, m) = health(kind, obj);
    assert_eq!(
        (s.as_str(), m.contains(message)),
        (status, true),
        "{kind} {}: got {s} {m:?}, want {status} {message:?}",
        obj["metadata"]["name"]
    );
}

#[test]
fn argocd_health_checks_on_statuses_the_operator_writes() {
    let server = TestServer::start().expect("test API server");
    let dir = std::env::temp_dir().join(format!("tw-deploy-gitops-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kc = dir.join("kubeconfig");
    server.write_kubeconfig(&kc).unwrap();
    kubectl(&kc, &["apply", "--server-side", "-f", "crds/manifests/"]);
    kubectl(
        &kc,
        &[
            "wait",
            "--for=condition=Established",
            "crd/tradingbots.tradewind.dev",
            "crd/strategies.tradewind.dev",
            "crd/commissionplans.tradewind.dev",
        ],
    );
    kubectl(&kc, &["create", "namespace", NS]);
    // The GitOps bots directory, before any operator runs: nothing observed yet.
    kubectl(&kc, &["apply", "-n", NS, "-k", "examples/gitops/bots"]);
    let bot = get(&kc, "tradingbot", "eth-rsi-paper");
    assert_health(
        "TradingBot",
        &bot,
        "Progressing",
        "Waiting for the operator to observe generation 1",
    );
    assert_health(
        "Strategy",
        &get(&kc, "strategy", "rsi-reversion-14"),
        "Progressing",
        "Waiting for the operator",
    );
    assert_health(
        "CommissionPlan",
        &get(&kc, "commissionplan", "flat-10bps"),
        "Progressing",
        "Waiting for the operator",
    );

    let _op = start_operator(
        &kc,
        &[
            "run".into(),
            "--metrics-addr".into(),
            "127.0.0.1:0".into(),
            "--no-leader-election".into(),
        ],
        &[("RUST_LOG".into(), "warn".into())],
    );
    eventually(60, "the bots are Ready", || {
        reason(&get(&kc, "tradingbot", "eth-rsi-paper")) == "Reconciled"
            && reason(&get(&kc, "tradingbot", "btc-sma-backtest")) == "BacktestOnly"
    });
    let bot = get(&kc, "tradingbot", "eth-rsi-paper");
    assert_health(
        "TradingBot",
        &bot,
        "Healthy",
        "the worker is running with the current configuration",
    );
    // A Backtest bot runs no worker: Healthy, saying how to run it.
    assert_health(
        "TradingBot",
        &get(&kc, "tradingbot", "btc-sma-backtest"),
        "Healthy",
        "run the backtest with `tradewind-bot backtest -f FILE",
    );
    assert_health(
        "Strategy",
        &get(&kc, "strategy", "rsi-reversion-14"),
        "Healthy",
        "parameters are valid",
    );
    assert_health(
        "CommissionPlan",
        &get(&kc, "commissionplan", "tiered-with-referrals"),
        "Healthy",
        "fees are charged on every fill",
    );

    // Suspended.
    kubectl(
        &kc,
        &[
            "patch",
            "tradingbot",
            "btc-sma-backtest",
            "-n",
            NS,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"suspend":true}}"#,
        ],
    );
    eventually(60, "the bot is suspended", || {
        reason(&get(&kc, "tradingbot", "btc-sma-backtest")) == "Suspended"
    });
    assert_health(
        "TradingBot",
        &get(&kc, "tradingbot", "btc-sma-backtest"),
        "Suspended",
        "spec.suspend is true",
    );

    // A bot whose Strategy does not exist: Degraded, saying which.
    let paper = std::fs::read_to_string(repo().join("examples/gitops/bots/paper.yaml")).unwrap();
    let lost = paper
        .replacen("name: eth-rsi-paper\n", "name: lost\n", 1)
        .replacen("name: rsi-reversion-14\n", "name: nowhere\n", 1);
    kubectl_stdin(&kc, &["apply", "-n", NS, "-f", "-"], &lost);
    eventually(60, "StrategyNotFound", || {
        reason(&get(&kc, "tradingbot", "lost")) == "StrategyNotFound"
    });
    assert_health(
        "TradingBot",
        &get(&kc, "tradingbot", "lost"),
        "Degraded",
        "StrategyNotFound: ",
    );

    // A Strategy the engine cannot represent (CEL accepts it; the operator refuses it),
    // and a bot using it.
    // Above QUANTITY_MAX, the largest quantity the core represents.
    let fine = example_strategy_renamed("btc-grid-60k-70k", "too-fine").replace(
        "quantityPerLevel: \"0.001\"",
        "quantityPerLevel: \"18446744074\"",
    );
    assert!(
        fine.contains("18446744074"),
        "examples/strategies/grid.yaml changed; update the test"
    );
    kubectl_stdin(&kc, &["apply", "-n", NS, "-f", "-"], &fine);
    eventually(60, "the Strategy is refused", || {
        reason(&get(&kc, "strategy", "too-fine")) == "InvalidParameters"
    });
    assert_health(
        "Strategy",
        &get(&kc, "strategy", "too-fine"),
        "Degraded",
        "InvalidParameters: spec.grid.quantityPerLevel",
    );
    let user = paper
        .replacen("name: eth-rsi-paper\n", "name: too-fine-bot\n", 1)
        .replacen("name: rsi-reversion-14\n", "name: too-fine\n", 1);
    kubectl_stdin(&kc, &["apply", "-n", NS, "-f", "-"], &user);
    eventually(60, "InvalidStrategy", || {
        reason(&get(&kc, "tradingbot", "too-fine-bot")) == "InvalidStrategy"
    });
    assert_health(
        "TradingBot",
        &get(&kc, "tradingbot", "too-fine-bot"),
        "Degraded",
        "InvalidStrategy: ",
    );

    // A new generation the operator has not seen yet is Progressing, never the old health
    // (the operator is stopped so the status stays at the old generation).
    drop(_op);
    kubectl(
        &kc,
        &[
            "patch",
            "tradingbot",
            "eth-rsi-paper",
            "-n",
            NS,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"risk":{"maxOrderNotional":"900"}}}"#,
        ],
    );
    let bot = get(&kc, "tradingbot", "eth-rsi-paper");
    assert_eq!(bot["metadata"]["generation"], 2);
    assert_health("TradingBot", &bot, "Progressing", "observe generation 2");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gitops_helm_values_pass_the_chart_schema() {
    let read = |p: &str| -> Vec<Value> {
        let text = std::fs::read_to_string(repo().join(p)).unwrap();
        text.split("\n---\n")
            .map(|d| serde_saphyr::from_str(d).unwrap())
            .collect()
    };
    let flux = read("examples/gitops/flux/helmrelease.yaml");
    assert_eq!(
        flux[0]["spec"]["chart"]["spec"]["chart"],
        "./charts/tradewind"
    );
    let argo = read("examples/gitops/argocd/application.yaml");
    assert_eq!(argo[0]["spec"]["source"]["path"], "charts/tradewind");
    for values in [
        &flux[0]["spec"]["values"],
        &argo[0]["spec"]["source"]["helm"]["valuesObject"],
    ] {
        let objects =
            render(values, "tradewind", "tradewind-system").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(one(&objects, "Deployment")["spec"]["replicas"], 2);
    }
    // Both point at what the repository holds.
    assert!(chart_dir().join("Chart.yaml").exists());
    let bots = &argo[1]["spec"]["source"]["path"];
    assert!(
        repo()
            .join(bots.as_str().unwrap())
            .join("kustomization.yaml")
            .exists()
    );
    let ks = read("examples/gitops/flux/kustomization.yaml");
    assert_eq!(ks[0]["spec"]["path"], "./examples/gitops/bots");
}
