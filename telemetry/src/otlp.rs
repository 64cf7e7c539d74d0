//! The subscriber and the OTLP exporters: the decision from the environment (pure), the
//! wiring (thin).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::prometheus::{self, Kind};

/// The variable selecting which spans are exported (a `RUST_LOG`-style filter, default
/// `info`); the log on stderr keeps `RUST_LOG`.
pub const TRACES_FILTER: &str = "TRADEWIND_TRACES_FILTER";

/// What a program tells [`init`] about itself.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `service.name` unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` set one.
    pub service: &'static str,
    /// The log filter when `RUST_LOG` is unset.
    pub default_filter: &'static str,
    /// Log lines as JSON instead of text.
    pub json: bool,
}

/// Why telemetry could not start; names the variable at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A variable holds something this build cannot honour.
    #[error("{var}={value:?}: {reason}")]
    Variable {
        /// The variable.
        var: &'static str,
        /// What it holds.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The exporter could not be built (e.g. an endpoint that is no URL).
    #[error("OpenTelemetry: {0}")]
    Exporter(String),
    /// The log subscriber could not be installed (one was already).
    #[error("logging: {0}")]
    Subscriber(String),
}

/// Which signals the environment asks to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Signals {
    /// Spans.
    pub traces: bool,
    /// Metrics.
    pub metrics: bool,
}

/// Decides from the variables (read through `var`) what to export, per the OpenTelemetry
/// specification's environment variables: a signal is exported when its endpoint or the
/// common one is set and its exporter is not `none`; `OTEL_SDK_DISABLED=true` turns all
/// off. Only OTLP over `http/protobuf` is built in; anything else is refused by name.
pub fn signals(var: impl Fn(&str) -> Option<String>) -> Result<Signals, Error> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(Signals::default());
    }
    for name in [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    ] {
        if let Some(v) = set(name).filter(|v| v.trim() != "http/protobuf") {
            return Err(Error::Variable {
                var: static_name(name),
                value: v,
                reason: "only http/protobuf is supported (OTLP over HTTP; no gRPC, no JSON)",
            });
        }
    }
    let common = set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
    let signal = |exporter: &'static str, endpoint: &str| -> Result<bool, Error> {
        match set(exporter).as_deref().map(str::trim) {
            None | Some("otlp") => Ok(common || set(endpoint).is_some()),
            Some("none") => Ok(false),
            Some(other) => Err(Error::Variable {
                var: exporter,
                value: other.to_owned(),
                reason: "only otlp or none is supported",
            }),
        }
    };
    Ok(Signals {
        traces: signal("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")?,
        metrics: signal(
            "OTEL_METRICS_EXPORTER",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        )?,
    })
}

fn static_name(name: &str) -> &'static str {
    match name {
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" => "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL" => "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        _ => "OTEL_EXPORTER_OTLP_PROTOCOL",
    }
}

/// Whether the variables leave `service.name` to the program.
fn service_name_unset(var: impl Fn(&str) -> Option<String>) -> bool {
    let named = var("OTEL_SERVICE_NAME").is_some_and(|v| !v.trim().is_empty());
    let in_attributes = var("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|v| {
        v.split(',')
            .any(|kv| kv.trim_start().starts_with("service.name="))
    });
    !named && !in_attributes
}

/// The exporters [`init`] started. Dropping it flushes what is buffered (the last spans,
/// a final metric export) and stops them: keep it until the program ends.
#[must_use = "dropping it stops the export"]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
    metrics: Option<SdkMeterProvider>,
}

impl Telemetry {
    /// What is exported.
    pub fn signals(&self) -> Signals {
        Signals {
            traces: self.traces.is_some(),
            metrics: self.metrics.is_some(),
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        // The subscriber may be gone by now: say it on stderr.
        if let Some(t) = self.traces.take()
            && let Err(e) = t.shutdown()
        {
            eprintln!("OpenTelemetry: flushing spans: {e}");
        }
        // The final export includes families that appeared since the last one.
        rescan();
        if let Some(m) = self.metrics.take()
            && let Err(e) = m.shutdown()
        {
            eprintln!("OpenTelemetry: flushing metrics: {e}");
        }
    }
}

/// Installs the program's `tracing` subscriber: the log on stderr (`RUST_LOG`, else
/// `settings.default_filter`) and, when the OpenTelemetry variables ask for it, the OTLP
/// span and metric exporters (see [`signals`]). Call it first thing in `main`, outside
/// an async runtime or inside one alike.
pub fn init(settings: Settings) -> Result<Telemetry, Error> {
    let env = |name: &str| std::env::var(name).ok();
    let wanted = signals(env)?;
    let resource = (wanted.traces || wanted.metrics).then(|| {
        let b = Resource::builder();
        if service_name_unset(env) {
            b.with_service_name(settings.service).build()
        } else {
            b.build()
        }
    });
    let client = match &resource {
        Some(_) => Some(http_client()?),
        None => None,
    };
    let traces = match (&resource, &client) {
        (Some(r), Some(c)) if wanted.traces => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_http_client(c.clone())
                .build()
                .map_err(|e| Error::Exporter(e.to_string()))?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(r.clone())
                    .build(),
            )
        }
        _ => None,
    };
    let metrics = match (&resource, &client) {
        (Some(r), Some(c)) if wanted.metrics => {
            let exporter = opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_http_client(c.clone())
                .build()
                .map_err(|e| Error::Exporter(e.to_string()))?;
            let provider = SdkMeterProvider::builder()
                .with_periodic_exporter(Rescanning(exporter))
                .with_resource(r.clone())
                .build();
            opentelemetry::global::set_meter_provider(provider.clone());
            Some(provider)
        }
        _ => None,
    };

    let log_filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| settings.default_filter.into());
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if settings.json {
        fmt.json().with_filter(log_filter).boxed()
    } else {
        fmt.with_filter(log_filter).boxed()
    };
    let spans = match &traces {
        Some(provider) => {
            let filter = match std::env::var(TRACES_FILTER) {
                Ok(f) => {
                    tracing_subscriber::EnvFilter::try_new(&f).map_err(|_| Error::Variable {
                        var: TRACES_FILTER,
                        value: f,
                        reason: "not a filter (e.g. info or tradewind_operator=debug)",
                    })?
                }
                Err(_) => tracing_subscriber::EnvFilter::new("info"),
            };
            Some(
                tracing_opentelemetry::layer()
                    .with_tracer(provider.tracer(settings.service))
                    .with_filter(filter),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(fmt)
        .with(spans)
        .try_init()
        .map_err(|e| Error::Subscriber(e.to_string()))?;
    Ok(Telemetry { traces, metrics })
}

/// The exporters' HTTP client: reqwest's blocking client (the SDK exports from its own
/// threads, outside any async runtime) over rustls with `ring`, trusting the system's
/// roots and `OTEL_EXPORTER_OTLP_CERTIFICATE` (a PEM file), timing out after
/// `OTEL_EXPORTER_OTLP_TIMEOUT` milliseconds (default 10 s). Built on a thread of its own
/// because a blocking client may not be built inside an async runtime.
fn http_client() -> Result<reqwest::blocking::Client, Error> {
    let timeout = match std::env::var("OTEL_EXPORTER_OTLP_TIMEOUT") {
        Ok(v) => Duration::from_millis(v.trim().parse().map_err(|_| Error::Variable {
            var: "OTEL_EXPORTER_OTLP_TIMEOUT",
            value: v,
            reason: "not a whole number of milliseconds",
        })?),
        Err(_) => Duration::from_secs(10),
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Ok(file) = std::env::var("OTEL_EXPORTER_OTLP_CERTIFICATE") {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let refused = |reason| Error::Variable {
            var: "OTEL_EXPORTER_OTLP_CERTIFICATE",
            value: file.clone(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(&file)
            .map_err(|_| refused("cannot read a PEM file there"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| refused("not PEM certificates"))?;
        if certs.is_empty() {
            return Err(refused("holds no certificate"));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|_| refused("holds a certificate rustls refuses"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Exporter(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    std::thread::spawn(move || {
        reqwest::blocking::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(timeout)
            .build()
    })
    .join()
    .map_err(|_| Error::Exporter("building the HTTP client panicked".into()))?
    .map_err(|e| Error::Exporter(format!("HTTP client: {e}")))
}

/// Exports the metrics of a Prometheus registry over OTLP: `encode` returns the
/// registry's text exposition (what `/metrics` serves); every counter and gauge family it
/// declares becomes an OpenTelemetry observable counter or gauge of the same name, read
/// at each export, its labels as attributes. The exposition is scanned again after each
/// export and before the final one, so a family that shows its first series later (a
/// labelled family is absent while empty) is exported from the next collection on.
/// Histograms stay on `/metrics` only. Does nothing unless [`init`] started a metric
/// exporter.
pub fn export_prometheus(scope: &'static str, encode: impl Fn() -> String + Send + Sync + 'static) {
    let mut source = Source {
        scope,
        encode: Arc::new(encode),
        registered: HashSet::new(),
    };
    source.register_new();
    sources().push(source);
}

/// A registry handed to [`export_prometheus`]: how to read it, and which of its families
/// already have an instrument.
struct Source {
    scope: &'static str,
    encode: Arc<dyn Fn() -> String + Send + Sync>,
    registered: HashSet<String>,
}

/// Every registry being exported (read again by [`rescan`]).
static SOURCES: Mutex<Vec<Source>> = Mutex::new(Vec::new());

fn sources() -> std::sync::MutexGuard<'static, Vec<Source>> {
    SOURCES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Registers the families that appeared since the last scan. Called outside any
/// collection: the SDK runs observable callbacks under the lock that registering an
/// instrument takes, so a callback may not register one.
fn rescan() {
    for source in sources().iter_mut() {
        source.register_new();
    }
}

/// The families of `text` worth an instrument (counters and gauges) not in `registered`.
fn unregistered(text: &str, registered: &HashSet<String>) -> Vec<(String, Kind)> {
    prometheus::families(text)
        .into_iter()
        .filter(|(name, kind)| *kind != Kind::Other && !registered.contains(name))
        .collect()
}

impl Source {
    fn register_new(&mut self) {
        let meter = opentelemetry::global::meter(self.scope);
        for (family, kind) in unregistered(&(self.encode)(), &self.registered) {
            self.registered.insert(family.clone());
            let name = family.clone();
            let read = self.encode.clone();
            let observe = move |kind| {
                prometheus::samples(&read(), &name, kind)
                    .into_iter()
                    .map(|s| {
                        let attrs: Vec<KeyValue> = s
                            .labels
                            .into_iter()
                            .map(|(k, v)| KeyValue::new(k, v))
                            .collect();
                        (s.value, attrs)
                    })
                    .collect::<Vec<_>>()
            };
            match kind {
                Kind::Counter => {
                    meter
                        .f64_observable_counter(family)
                        .with_callback(move |o| {
                            for (v, attrs) in observe(Kind::Counter) {
                                o.observe(v, &attrs);
                            }
                        })
                        .build();
                }
                Kind::Gauge => {
                    meter
                        .f64_observable_gauge(family)
                        .with_callback(move |o| {
                            for (v, attrs) in observe(Kind::Gauge) {
                                o.observe(v, &attrs);
                            }
                        })
                        .build();
                }
                Kind::Other => {}
            }
        }
    }
}

/// The OTLP metric exporter, scanning the registries for new families after each export
/// (the periodic reader's thread, between collections).
struct Rescanning<E>(E);

impl<E: PushMetricExporter> PushMetricExporter for Rescanning<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.0.export(metrics).await;
        rescan();
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.0.temporality()
    }
}

/// The span covering one run of a finite command (`backtest`, `migrate`, `settle`): the
/// trace's root, named after the program, with the command as attribute `command`. Mark
/// a failure with [`failed`].
pub fn command_span(program: &'static str, command: &'static str) -> tracing::Span {
    tracing::info_span!(
        "command",
        program,
        command,
        otel.name = %format!("{program} {command}"),
        otel.status_description = tracing::field::Empty,
    )
}

/// Marks `span` (from [`command_span`]) as failed with `error`'s message (its status
/// becomes an error with that description).
pub fn failed(span: &tracing::Span, error: &dyn std::fmt::Display) {
    span.record("otel.status_description", error.to_string().as_str());
}

/// A counter only OpenTelemetry sees: for what a short-lived command counts (a failed
/// settlement), which no scrape would ever read. [`Telemetry`]'s drop exports it.
#[derive(Clone)]
pub struct Counter(opentelemetry::metrics::Counter<u64>);

impl Counter {
    /// Adds `n` with these attributes.
    pub fn add(&self, n: u64, attributes: &[(&'static str, String)]) {
        let attrs: Vec<KeyValue> = attributes
            .iter()
            .map(|(k, v)| KeyValue::new(*k, v.clone()))
            .collect();
        self.0.add(n, &attrs);
    }
}

/// The counter `name` in `scope` (a no-op unless [`init`] started a metric exporter).
pub fn counter(scope: &'static str, name: &'static str, description: &'static str) -> Counter {
    Counter(
        opentelemetry::global::meter(scope)
            .u64_counter(name)
            .with_description(description)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn a_scan_finds_only_the_counters_and_gauges_not_yet_registered() {
        let at_start = "# TYPE tradewind_bot_halted gauge\ntradewind_bot_halted{bot=\"a\"} 0\n\
                        # TYPE tradewind_bot_decision_latency_seconds histogram\n# EOF\n";
        let mut registered = HashSet::new();
        let first = unregistered(at_start, &registered);
        assert_eq!(
            first,
            vec![("tradewind_bot_halted".to_owned(), Kind::Gauge)]
        );
        registered.extend(first.into_iter().map(|(n, _)| n));
        // Later the orders family shows its first series: only it is new.
        let later = format!(
            "# TYPE tradewind_bot_orders counter\ntradewind_bot_orders_total{{side=\"buy\"}} 1\n{at_start}"
        );
        assert_eq!(
            unregistered(&later, &registered),
            vec![("tradewind_bot_orders".to_owned(), Kind::Counter)]
        );
        assert!(unregistered(at_start, &registered).is_empty());
    }

    #[test]
    fn nothing_is_exported_without_an_endpoint() {
        assert_eq!(signals(vars(&[])).unwrap(), Signals::default());
        assert_eq!(
            signals(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])).unwrap(),
            Signals::default()
        );
        // The service name alone exports nothing.
        assert_eq!(
            signals(vars(&[("OTEL_SERVICE_NAME", "x")])).unwrap(),
            Signals::default()
        );
    }

    #[test]
    fn the_common_or_a_signals_endpoint_turns_export_on() {
        let both = Signals {
            traces: true,
            metrics: true,
        };
        assert_eq!(
            signals(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")])).unwrap(),
            both
        );
        assert_eq!(
            signals(vars(&[(
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://c:4318/v1/metrics"
            )]))
            .unwrap(),
            Signals {
                traces: false,
                metrics: true
            }
        );
        assert_eq!(
            signals(vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_TRACES_EXPORTER", "none"),
            ]))
            .unwrap(),
            Signals {
                traces: false,
                metrics: true
            }
        );
        assert_eq!(
            signals(vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_SDK_DISABLED", "TRUE"),
            ]))
            .unwrap(),
            Signals::default()
        );
    }

    #[test]
    fn what_this_build_cannot_do_is_refused_by_name() {
        let e = signals(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("OTEL_EXPORTER_OTLP_PROTOCOL=\"grpc\": only http/protobuf"),
            "{e}"
        );
        let e = signals(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("OTEL_METRICS_EXPORTER=\"prometheus\""), "{e}");
        // http/protobuf is the one accepted.
        assert!(
            signals(vars(&[(
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "http/protobuf"
            )]))
            .is_ok()
        );
    }

    #[test]
    fn the_program_names_the_service_unless_the_variables_do() {
        assert!(service_name_unset(vars(&[])));
        assert!(service_name_unset(vars(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "k8s.namespace.name=trading"
        )])));
        assert!(!service_name_unset(vars(&[("OTEL_SERVICE_NAME", "bot-a")])));
        assert!(!service_name_unset(vars(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "k8s.namespace.name=trading, service.name=bot-a"
        )])));
    }
}
