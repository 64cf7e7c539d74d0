//! Logging and telemetry for the three Tradewind programs (`tradewind-operator`,
//! `tradewind-bot`, `tradewind-platform`), defined once.
//!
//! [`init`] installs the `tracing` subscriber every program uses (a formatted log on
//! stderr, filtered by `RUST_LOG`) and, when the standard OpenTelemetry variables ask for
//! it (`OTEL_EXPORTER_OTLP_ENDPOINT` or a signal's own endpoint), exports the program's
//! `tracing` spans and its metrics over OTLP/HTTP with protobuf. Without those variables
//! nothing is exported and nothing else changes.
//!
//! Metrics stay Prometheus metrics (the `/metrics` endpoints are unchanged):
//! [`export_prometheus`] hands a registry's text exposition to OpenTelemetry, which reads
//! it at each export, so one set of names serves both. [`names`] holds the names the
//! environment's alert rules read.

pub mod names;

#[cfg(feature = "otlp")]
mod otlp;
#[cfg(feature = "otlp")]
pub mod prometheus;

#[cfg(feature = "otlp")]
pub use otlp::{
    Counter, Error, Settings, Signals, TRACES_FILTER, Telemetry, command_span, counter,
    export_prometheus, failed, init, signals,
};
