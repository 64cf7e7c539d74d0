//! Prometheus metrics (controller-rs style, in their own module): reconciles, errors by
//! reason, reconcile duration, and objects managed, per controller.

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label set: which controller.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabel {
    /// `tradingbot`, `strategy` or `commissionplan`.
    pub controller: String,
}

/// Label set: controller and error reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Which controller.
    pub controller: String,
    /// Error class (`kube`, `build`, `cloud`, `finalizer`, `serialise`).
    pub reason: String,
}

/// Every metric the operator exports.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ControllerLabel, Counter>,
    errors: Family<ErrorLabels, Counter>,
    duration: Family<ControllerLabel, Histogram>,
    managed: Family<ControllerLabel, Gauge<i64, std::sync::atomic::AtomicI64>>,
    leader: Gauge<i64, std::sync::atomic::AtomicI64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tradewind_operator");
        let reconciles = Family::<ControllerLabel, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let duration = Family::<ControllerLabel, Histogram>::new_with_constructor(|| {
            Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
        });
        let managed =
            Family::<ControllerLabel, Gauge<i64, std::sync::atomic::AtomicI64>>::default();
        let leader = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        registry.register("reconciles", "Reconciles run", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconciles that failed, by reason",
            errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time spent in one reconcile",
            duration.clone(),
        );
        registry.register(
            "managed_objects",
            "Objects each controller manages",
            managed.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader lease",
            leader.clone(),
        );
        Self {
            registry,
            reconciles,
            errors,
            duration,
            managed,
            leader,
        }
    }
}

impl Metrics {
    /// Starts timing a reconcile of `controller`.
    pub fn start(&self, controller: &str) -> ReconcileTimer<'_> {
        let label = ControllerLabel {
            controller: controller.to_owned(),
        };
        self.reconciles.get_or_create(&label).inc();
        ReconcileTimer {
            metrics: self,
            label,
            started: Instant::now(),
        }
    }

    /// Counts a failed reconcile.
    pub fn error(&self, controller: &str, reason: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                controller: controller.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Sets how many objects `controller` manages.
    pub fn set_managed(&self, controller: &str, count: i64) {
        self.managed
            .get_or_create(&ControllerLabel {
                controller: controller.to_owned(),
            })
            .set(count);
    }

    /// Records leadership.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Observes the reconcile duration when dropped.
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    label: ControllerLabel,
    started: Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .duration
            .get_or_create(&self.label)
            .observe(self.started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_counters_errors_histogram_and_gauges() {
        let m = Metrics::default();
        {
            let _t = m.start("tradingbot");
        }
        m.error("tradingbot", "kube");
        m.set_managed("tradingbot", 3);
        m.set_leader(true);
        let text = m.encode();
        assert!(
            text.contains("tradewind_operator_reconciles_total{controller=\"tradingbot\"} 1"),
            "{text}"
        );
        assert!(text.contains(
            "tradewind_operator_reconcile_errors_total{controller=\"tradingbot\",reason=\"kube\"} 1"
        ));
        assert!(text.contains(
            "tradewind_operator_reconcile_duration_seconds_count{controller=\"tradingbot\"} 1"
        ));
        assert!(text.contains("tradewind_operator_managed_objects{controller=\"tradingbot\"} 3"));
        assert!(text.contains("tradewind_operator_leader 1"));
    }
}
