//! The Deployment simulator: when a Deployment's generation changes it writes a rollout
//! in progress, and after a configurable delay the status a healthy (or, on request,
//! failed) rollout reports, computed by [`semantics::deployment::simulate_status`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::Shared;
use super::registry::GroupResource;
use super::util;
use crate::semantics;

/// Runs the simulator until the server shuts down.
pub async fn run(shared: Arc<Shared>, delay: Duration) {
    let gr = GroupResource {
        group: "apps".into(),
        resource: "deployments".into(),
    };
    let mut seen: HashMap<(String, String), Tracked> = HashMap::new();
    let mut shutdown = shared.shutdown.subscribe();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let mut st = shared.lock();
        // Heads only: cloning every Deployment every tick under the lock made the server
        // crawl with a thousand bots; a full object is cloned only when a status is due.
        let heads = st.heads(&gr);
        let mut live = HashMap::new();
        for (ns, name, uid, generation, deleting) in heads {
            let key = (ns, name);
            let failed = st.failing_deployments.contains(&key);
            let mut t = match seen.remove(&key) {
                Some(t) if t.uid == uid && t.generation == generation => t,
                _ => Tracked {
                    uid,
                    generation,
                    since: Instant::now(),
                    written: Written::Nothing,
                },
            };
            if !deleting {
                let want = if t.since.elapsed() < delay {
                    Written::Progressing
                } else if failed {
                    Written::Failed
                } else {
                    Written::Ready
                };
                if want != t.written
                    && let Some(d) = st.one(&gr, &key.0, &key.1)
                {
                    let now = util::now_rfc3339();
                    let status = semantics::deployment::simulate_status(
                        &d,
                        want == Written::Ready,
                        want == Written::Failed,
                        &now,
                    );
                    st.write_status(&gr, &key.0, &key.1, status);
                    t.written = want;
                }
            }
            live.insert(key, t);
        }
        seen = live;
    }
}

/// What the simulator last wrote for a Deployment generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Written {
    Nothing,
    Progressing,
    Ready,
    Failed,
}

struct Tracked {
    uid: String,
    generation: i64,
    since: Instant,
    written: Written,
}
