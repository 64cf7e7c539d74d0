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

/// `validate` exited 0 when every document was skipped (a typo'd apiVersion or kind);
/// now a near miss is INVALID, saying what it resembles, and validating nothing fails.
#[test]
fn validate_refuses_typos_and_files_with_nothing_to_validate() {
    let (ok, out) = run(&["validate", "crds/tests/typos/typos.yaml"]);
    assert!(!ok, "{out}");
    assert!(out.contains("0 valid, 2 invalid, 0 skipped"), "{out}");
    assert!(
        out.contains("apiVersion \"tradewind.dev/v1alpah1\" is not \"tradewind.dev/v1alpha1\""),
        "{out}"
    );
    assert!(out.contains("did you mean Strategy?"), "{out}");
    let (ok, out) = run(&["validate", "crds/tests/typos/not-tradewind.yaml"]);
    assert!(!ok, "{out}");
    assert!(out.contains("0 valid, 0 invalid, 1 skipped"), "{out}");
    // A Secret beside the bots is still skipped, as before.
    let (ok, out) = run(&[
        "validate",
        "examples/bots/live.yaml",
        "examples/bots/live-credentials-secret.yaml",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("1 skipped"), "{out}");
}

/// The bundle loader skipped a typo'd Strategy, which then surfaced as "not in the given
/// files"; now the typo is named.
#[test]
fn describe_names_a_typod_strategy() {
    let err = Command::new(env!("CARGO_BIN_EXE_tradewind-crds"))
        .args([
            "describe",
            "examples/bots/backtest.yaml",
            "crds/tests/typos/typos.yaml",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(!err.status.success());
    let text =
        String::from_utf8_lossy(&err.stderr).into_owned() + &String::from_utf8_lossy(&err.stdout);
    assert!(text.contains("tradewind.dev/v1alpah1"), "{text}");
    assert!(!text.contains("not found"), "{text}");
}
