//! The `tradewind-crds` binary as people and `make crds` run it.

use std::process::Command;

/// This package's directory, read when the test runs (cargo and nextest set it), not when
/// it was compiled: a test binary reused from another checkout must not read that tree.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"),
    )
}

fn root() -> std::path::PathBuf {
    manifest_dir().parent().unwrap().to_owned()
}

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tradewind-crds"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn describe_resolves_every_example_bot() {
    let files: Vec<String> = ["strategies", "bots", "commission-plans"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root().join("examples").join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let args: Vec<&str> = std::iter::once("describe")
        .chain(files.iter().map(String::as_str))
        .collect();
    let (ok, out) = run(&args);
    assert!(ok, "{out}");
    assert!(out.contains("0 invalid"), "{out}");
    // Bot risk overrides merged over the strategy's limits.
    assert!(
        out.contains("risk: maxOrderNotional 1000, stopLoss 3%, maxDrawdown 15%"),
        "{out}"
    );
    // The venue's fee a simulation charges is the bot's, apart from the plan's commission.
    assert!(
        out.contains("venue fees (simulated): >= 0: 10/10 bps"),
        "{out}"
    );
    assert!(
        out.contains("venue fees (simulated): the venue's default"),
        "{out}"
    );
    assert!(out.contains("platform commission in USDT"), "{out}");
    // Credentials are named, never printed.
    assert!(
        out.contains("credentials: Secret binance-testnet-alice"),
        "{out}"
    );
    assert!(!out.contains("REPLACE_WITH_TESTNET_API_SECRET"), "{out}");
}

#[test]
fn validate_fails_on_broken_resources_and_names_the_field() {
    let (ok, out) = run(&["validate", "crds/tests/broken/strategies.yaml"]);
    assert!(!ok);
    assert!(
        out.contains("spec.grid: lowerPrice must be below upperPrice"),
        "{out}"
    );
    assert!(out.contains("0 valid"), "{out}");
}

#[test]
fn describe_refuses_a_bot_whose_strategy_is_missing() {
    let (ok, out) = run(&["describe", "examples/bots/backtest.yaml"]);
    assert!(!ok);
    assert!(
        out.contains("Strategy \"sma-cross-10-20\" not found"),
        "{out}"
    );
}
