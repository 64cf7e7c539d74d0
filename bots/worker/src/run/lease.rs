//! The worker trades only while it holds its bot's Lease (`{bot}-lease`, created by the
//! operator). The worker's Role allows exactly get/update/patch on that one Lease, so
//! this is a small client-go-style lock on get + replace with `resourceVersion`
//! (optimistic concurrency); kube-lease-manager would need `create` and gives no
//! conflict-checked renewals.
//!
//! Expiry of another holder is judged by our own clock since we last saw its record
//! change (as client-go does), so clock skew between pods cannot let two hold it.
//! The holder reports `false` as soon as one renewal fails or someone else is seen
//! holding it, and at the latest `duration / 3` before the lease would expire.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;
use tokio::time::Instant;

/// Why a lease operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The API server refused or could not be reached.
    #[error("lease {namespace}/{name}: {source}")]
    Kube {
        /// Namespace of the Lease.
        namespace: String,
        /// Name of the Lease.
        name: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
}

/// Holds (or waits for) a Lease in the background; see the module docs.
pub struct LeaseGuard {
    api: Api<Lease>,
    namespace: String,
    name: String,
    identity: String,
    held: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl LeaseGuard {
    /// Starts acquiring and renewing `lease_name` in `namespace` as `identity` (call
    /// inside a Tokio runtime). The receiver is `true` only while the lease is held.
    pub fn start(
        client: kube::Client,
        namespace: &str,
        lease_name: &str,
        identity: &str,
        duration: Duration,
    ) -> (LeaseGuard, watch::Receiver<bool>) {
        let api = Api::<Lease>::namespaced(client, namespace);
        let (held, rx) = watch::channel(false);
        let duration = Duration::from_secs(duration.as_secs().max(1));
        let task = tokio::spawn(run(
            api.clone(),
            lease_name.to_owned(),
            identity.to_owned(),
            duration,
            held.clone(),
        ));
        let guard = LeaseGuard {
            api,
            namespace: namespace.to_owned(),
            name: lease_name.to_owned(),
            identity: identity.to_owned(),
            held,
            task,
        };
        (guard, rx)
    }

    /// Stops renewing and clears `holderIdentity` (if still ours) so a successor takes
    /// over at once. Reports `false` before touching the API.
    pub async fn release(self) -> Result<(), LeaseError> {
        self.task.abort();
        self.held.send_replace(false);
        let err = |source| LeaseError::Kube {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source,
        };
        // A conflict means someone wrote in between: read again and retry.
        for _ in 0..5 {
            let mut lease = self.api.get(&self.name).await.map_err(err)?;
            let spec = lease.spec.get_or_insert_with(Default::default);
            if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
                return Ok(());
            }
            spec.holder_identity = None;
            spec.renew_time = None;
            spec.acquire_time = None;
            match self
                .api
                .replace(&self.name, &PostParams::default(), &lease)
                .await
            {
                Ok(_) => {
                    tracing::info!(lease = %self.name, "lease released");
                    return Ok(());
                }
                Err(kube::Error::Api(e)) if e.code == 409 => continue,
                Err(e) => return Err(err(e)),
            }
        }
        Ok(())
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.task.abort();
        self.held.send_replace(false);
    }
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

/// What we last saw of the lease record, and when (by our clock).
struct Observed {
    holder: Option<String>,
    renew: Option<MicroTime>,
    at: Instant,
}

async fn run(
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
    held: watch::Sender<bool>,
) {
    let period = duration / 3;
    let secs = i32::try_from(duration.as_secs()).unwrap_or(i32::MAX);
    let mut observed: Option<Observed> = None;
    // When our hold lapses if no renewal succeeds (counted from the renewal's start).
    let mut held_until: Option<Instant> = None;
    loop {
        let started = Instant::now();
        let attempt = tokio::time::timeout(
            period,
            try_acquire_or_renew(&api, &name, &identity, secs, duration, &mut observed),
        )
        .await;
        let now_held = match attempt {
            Ok(Ok(true)) => {
                held_until = Some(started + duration - period);
                true
            }
            Ok(Ok(false)) => false,
            Ok(Err(e)) => {
                tracing::warn!(lease = %name, error = %e, "lease renewal failed");
                false
            }
            Err(_) => {
                tracing::warn!(lease = %name, "lease renewal timed out");
                false
            }
        };
        if *held.borrow() != now_held {
            tracing::info!(lease = %name, %identity, held = now_held, "lease state changed");
        }
        held.send_replace(now_held);
        if !now_held {
            held_until = None;
        }
        let next = started + period;
        match held_until {
            Some(until) if until < next => {
                tokio::time::sleep_until(until).await;
            }
            _ => tokio::time::sleep_until(next).await,
        }
        if held_until.is_some_and(|u| Instant::now() >= u) {
            held.send_replace(false);
        }
    }
}

/// One round: `Ok(true)` if we hold the lease afterwards.
async fn try_acquire_or_renew(
    api: &Api<Lease>,
    name: &str,
    identity: &str,
    secs: i32,
    duration: Duration,
    observed: &mut Option<Observed>,
) -> Result<bool, kube::Error> {
    let mut lease = api.get(name).await?;
    let spec = lease.spec.get_or_insert_with(Default::default);
    let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
    let changed = observed
        .as_ref()
        .is_none_or(|o| o.holder != holder || o.renew != spec.renew_time);
    if changed {
        *observed = Some(Observed {
            holder: holder.clone(),
            renew: spec.renew_time.clone(),
            at: Instant::now(),
        });
    }
    let mine = holder.as_deref() == Some(identity);
    let expired = observed.as_ref().is_some_and(|o| {
        let d = spec.lease_duration_seconds.map_or(duration, |s| {
            Duration::from_secs(u64::try_from(s).unwrap_or(0))
        });
        o.at.elapsed() > d
    });
    if !mine && holder.is_some() && !expired {
        return Ok(false);
    }
    let t = now();
    if !mine {
        spec.holder_identity = Some(identity.to_owned());
        spec.acquire_time = Some(t.clone());
        // Saturating: the count comes from the API server (any client may write it).
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
    }
    spec.renew_time = Some(t);
    spec.lease_duration_seconds = Some(secs);
    // The resourceVersion from the get makes this fail with 409 if anyone wrote since.
    match api.replace(name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;
    use tradewind_apiserver::TestServer;

    async fn setup() -> (TestServer, kube::Client, Api<Lease>) {
        let server = TestServer::start().expect("server");
        let client = kube::Client::try_from(kube::Config::new(server.url().parse().expect("url")))
            .expect("client");
        let api = Api::<Lease>::namespaced(client.clone(), "default");
        api.create(
            &PostParams::default(),
            &Lease {
                metadata: ObjectMeta {
                    name: Some("bot-lease".into()),
                    ..Default::default()
                },
                spec: Some(Default::default()),
            },
        )
        .await
        .expect("lease");
        (server, client, api)
    }

    async fn wait_for(rx: &mut watch::Receiver<bool>, want: bool) {
        rx.wait_for(|h| *h == want).await.expect("guard alive");
    }

    async fn holder(api: &Api<Lease>) -> Option<String> {
        api.get("bot-lease")
            .await
            .expect("get")
            .spec
            .and_then(|s| s.holder_identity)
    }

    const D: Duration = Duration::from_secs(1);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_of_two_holds_and_the_other_takes_over_after_expiry() {
        let (_server, client, api) = setup().await;
        let (a, mut a_rx) = LeaseGuard::start(client.clone(), "default", "bot-lease", "a", D);
        wait_for(&mut a_rx, true).await;
        let (b, mut b_rx) = LeaseGuard::start(client.clone(), "default", "bot-lease", "b", D);
        // b has looked at least twice and still does not hold it.
        for _ in 0..2 {
            b_rx.changed().await.ok();
            tokio::time::sleep(D / 2).await;
        }
        assert!(!*b_rx.borrow());
        assert!(*a_rx.borrow());
        assert_eq!(holder(&api).await.as_deref(), Some("a"));
        // The holder dies without releasing: b takes over once the lease expires.
        drop(a);
        assert!(!*a_rx.borrow(), "a dropped guard reports false");
        wait_for(&mut b_rx, true).await;
        assert_eq!(holder(&api).await.as_deref(), Some("b"));
        let lease = api.get("bot-lease").await.expect("get");
        assert_eq!(lease.spec.and_then(|s| s.lease_transitions), Some(2));
        drop(b);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn release_hands_over_at_once() {
        let (_server, client, api) = setup().await;
        let long = Duration::from_secs(30);
        let (a, mut a_rx) = LeaseGuard::start(client.clone(), "default", "bot-lease", "a", long);
        wait_for(&mut a_rx, true).await;
        // b would wait 30 s for an unreleased lease; a release lets it in at its next look.
        let (b, mut b_rx) = LeaseGuard::start(client.clone(), "default", "bot-lease", "b", D);
        a.release().await.expect("release");
        assert!(!*a_rx.borrow());
        wait_for(&mut b_rx, true).await;
        assert_eq!(holder(&api).await.as_deref(), Some("b"));
        b.release().await.expect("release");
        assert_eq!(holder(&api).await, None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_holder_whose_lease_is_taken_sees_false() {
        let (_server, client, api) = setup().await;
        let (_a, mut a_rx) = LeaseGuard::start(
            client.clone(),
            "default",
            "bot-lease",
            "a",
            Duration::from_secs(3),
        );
        wait_for(&mut a_rx, true).await;
        let mut lease = api.get("bot-lease").await.expect("get");
        if let Some(spec) = lease.spec.as_mut() {
            spec.holder_identity = Some("intruder".into());
            spec.renew_time = Some(now());
        }
        api.replace("bot-lease", &PostParams::default(), &lease)
            .await
            .expect("steal");
        // At the next renewal (a third of the duration) a sees the other holder.
        wait_for(&mut a_rx, false).await;
        assert_eq!(holder(&api).await.as_deref(), Some("intruder"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_renewal_reports_false_at_once() {
        let (server, client, _api) = setup().await;
        let (_a, mut a_rx) = LeaseGuard::start(
            client.clone(),
            "default",
            "bot-lease",
            "a",
            Duration::from_secs(3),
        );
        wait_for(&mut a_rx, true).await;
        server.handle().fail_next(None, Some("leases"), 500, 1_000);
        wait_for(&mut a_rx, false).await;
    }
}
