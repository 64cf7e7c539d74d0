//! `tradewind-operator render` against a committed golden file: a change to what a bot
//! produces must be a reviewed change. Regenerate with `UPDATE_GOLDEN=1 cargo test -p tradewind-operator --test render`.

use std::process::Command;

/// This package's directory, read when the test runs (cargo and nextest set it), not when
/// it was compiled: a test binary reused from another checkout must not read that tree.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"),
    )
}

#[test]
fn render_of_the_live_example_matches_the_golden_file() {
    let root = manifest_dir().join("..");
    let out = Command::new(env!("CARGO_BIN_EXE_tradewind-operator"))
        .args([
            "render",
            "-f",
            "examples/bots/live.yaml",
            "-f",
            "examples/strategies/grid.yaml",
            "-f",
            "examples/commission-plans/tiered-referral.yaml",
            "--namespace",
            "trading",
            "--worker-image",
            "ghcr.io/tradewind-dev/tradewind-bot:0.1.0",
            "--worker-metrics-namespace",
            "monitoring",
        ])
        .env_remove("TRADEWIND_WORKLOAD_IDENTITY_CLIENT_ID")
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = String::from_utf8(out.stdout).unwrap();
    let golden = manifest_dir().join("tests/fixtures/live-render.yaml");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &rendered).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap();
    assert!(
        rendered == expected,
        "render output changed; review and regenerate with UPDATE_GOLDEN=1"
    );
    for kind in [
        "ConfigMap",
        "ServiceAccount",
        "Lease",
        "Role",
        "RoleBinding",
        "Deployment",
        "Service",
        "NetworkPolicy",
    ] {
        assert!(
            rendered.contains(&format!("\nkind: {kind}\n")),
            "{kind} missing"
        );
    }
    assert!(
        !rendered.contains("REPLACE_WITH"),
        "secret values never rendered"
    );
}

#[test]
fn render_refuses_an_invalid_bot_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("tw-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = manifest_dir().join("..");
    let bot = std::fs::read_to_string(root.join("examples/bots/live.yaml")).unwrap();
    let broken = bot.replace("  credentials:\n    secretRef:\n      name: binance-testnet-alice\n      apiKeyKey: apiKey\n      apiSecretKey: apiSecret\n", "");
    assert_ne!(bot, broken);
    std::fs::write(dir.join("bot.yaml"), broken).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tradewind-operator"))
        .args(["render", "-f"])
        .arg(dir.join("bot.yaml"))
        .args([
            "-f",
            "examples/strategies/grid.yaml",
            "-f",
            "examples/commission-plans/tiered-referral.yaml",
        ])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mode Live requires credentials"), "{err}");
}
