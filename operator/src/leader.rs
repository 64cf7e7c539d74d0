//! Lease-based leader election: of several operator replicas only the lease holder runs
//! the controllers; a replica that loses the lease stops at once (the process exits and
//! Kubernetes restarts it as a standby), so two replicas never both act.

use std::sync::Arc;
use std::time::Duration;

use kube_lease_manager::LeaseManagerBuilder;

use crate::controller::{self, Context};

/// Leader-election settings.
#[derive(Clone, Debug)]
pub struct LeaderConfig {
    /// Namespace of the Lease (the operator's own).
    pub namespace: String,
    /// Lease name, shared by all replicas.
    pub lease_name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a lease lasts without renewal.
    pub duration: Duration,
}

/// Why leading stopped.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The lease could not be managed.
    #[error("leader election: {0}")]
    Lease(#[from] kube_lease_manager::LeaseManagerError),
    /// Another replica took the lease.
    #[error("leadership lost to another replica")]
    Lost,
}

/// Waits for the lease, then runs the controllers until they stop or the lease is lost.
pub async fn run_when_leader(
    ctx: Arc<Context>,
    namespace: Option<&str>,
    cfg: LeaderConfig,
) -> Result<(), LeaderError> {
    let secs = cfg.duration.as_secs().max(2);
    let manager = LeaseManagerBuilder::new(ctx.client.clone(), &cfg.lease_name)
        .with_namespace(&cfg.namespace)
        .with_identity(&cfg.identity)
        .with_duration(secs)
        .with_grace((secs / 3).max(1))
        // One field manager per replica: server-side-apply conflicts on the Lease are
        // what keeps two replicas from both taking it.
        .with_field_manager(format!("{}-{}", controller::FIELD_MANAGER, cfg.identity))
        .build()
        .await?;
    let (mut leading, _task) = manager.watch().await;
    // Standby replicas are healthy and ready; they just wait.
    ctx.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    while !*leading.borrow_and_update() {
        tracing::info!(identity = %cfg.identity, "standby: waiting for the leader lease");
        if leading.changed().await.is_err() {
            return Err(LeaderError::Lost);
        }
    }
    tracing::info!(identity = %cfg.identity, "acquired the leader lease; starting controllers");
    ctx.metrics.set_leader(true);
    let lost = async {
        loop {
            if leading.changed().await.is_err() || !*leading.borrow_and_update() {
                return;
            }
        }
    };
    tokio::select! {
        () = controller::run(ctx.clone(), namespace) => Ok(()),
        () = lost => {
            ctx.metrics.set_leader(false);
            Err(LeaderError::Lost)
        }
    }
}
