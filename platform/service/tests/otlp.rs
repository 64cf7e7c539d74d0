//! `tradewind-platform` exporting over OTLP to a local receiver: a command's span with
//! the resource the variables describe, and a failed settlement counted under the name
//! the environment's alert rule reads.

use std::path::PathBuf;
use std::process::Command;

use tradewind_telemetry::names;
use tradewind_test_support::otlp::OtlpServer;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tw-platform-otlp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn platform(receiver: &OtlpServer, db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tradewind-platform"))
        .args(["--database-url", db])
        .args(args)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env(
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=test",
        )
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_SDK_DISABLED")
        .output()
        .unwrap()
}

#[test]
fn migrate_exports_its_span_and_a_failed_settlement_is_counted() {
    let receiver = OtlpServer::start().unwrap();
    let dir = scratch("migrate");
    let db = format!("sqlite:{}", dir.join("ledger.db").display());

    let out = platform(&receiver, &db, &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The exporter flushed before the process ended: everything is here already.
    let spans = receiver.spans();
    let migrate = spans
        .iter()
        .find(|s| s.name == "tradewind-platform migrate")
        .unwrap_or_else(|| panic!("no migrate span in {spans:?}"));
    assert_eq!(migrate.attribute("command"), Some("migrate"));
    assert_eq!(
        migrate.resource_attribute("service.name"),
        Some("tradewind-platform")
    );
    assert_eq!(
        migrate.resource_attribute("deployment.environment.name"),
        Some("test")
    );
    assert_eq!(migrate.error, None);

    let out = platform(&receiver, &db, &["settle", "--plan", "trading/missing"]);
    assert!(!out.status.success());
    let failures = receiver.points_of(names::PLATFORM_SETTLEMENT_FAILURES);
    assert_eq!(failures.len(), 1, "{:?}", receiver.points());
    let p = &failures[0];
    assert_eq!((p.kind, p.monotonic, p.value), ("sum", true, 1.0));
    assert_eq!(p.attribute(names::PLAN), Some("trading/missing"));
    let settle = receiver
        .spans()
        .into_iter()
        .find(|s| s.name == "tradewind-platform settle")
        .expect("the settle span");
    let error = settle.error.expect("the span's status is an error");
    assert!(error.contains("trading/missing"), "{error}");
    assert_eq!(receiver.refused(), Vec::<String>::new());
}

/// A protocol this build does not speak stops the program with the variable's name.
#[test]
fn an_unsupported_protocol_is_refused_by_name() {
    let receiver = OtlpServer::start().unwrap();
    let dir = scratch("grpc");
    let db = format!("sqlite:{}", dir.join("ledger.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_tradewind-platform"))
        .args(["--database-url", &db, "migrate"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL"), "{stderr}");
    assert!(receiver.spans().is_empty());
}
