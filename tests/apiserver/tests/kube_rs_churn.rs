//! Proof against kube-rs: a `watcher` feeding a `reflector` store stays exactly in step
//! with the server through sustained churn, dropped watches and a 410 Gone — no missed
//! and no duplicated event — and a `Controller` over the same objects reconciles each
//! change. Churn lasts `TRADEWIND_CHURN_SECONDS` (default 10; run it for minutes with e.g. 180).
//!
//! Both watches are answered 410 once, so both relist every run. kube-runtime's
//! `Controller` swaps its store only at the relist's end (`InitDone`) but schedules each
//! listed object as it arrives; an object created while its watch was down can reach the
//! runner before the swap and is dropped as `ObjectNotFound` (a real API server's 410
//! does the same). Such an object must still be in the controller's store at the server's
//! resourceVersion; it is reconciled at its next change.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::watcher::{self, Event};
use kube::runtime::{Controller, WatchStreamExt, reflector};
use kube::{Api, Client, ResourceExt};
use tradewind_apiserver::TestServer;

fn client(server: &TestServer) -> Client {
    let config = kube::Config::new(server.url().parse().expect("url"));
    Client::try_from(config).expect("client")
}

fn churn_seconds() -> u64 {
    std::env::var("TRADEWIND_CHURN_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

fn cm(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("churn".into(), "yes".into())])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("v".into(), "0".into())])),
        ..ConfigMap::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_reflector_and_controller_survive_churn_drops_and_410() {
    let server = TestServer::start().expect("server");
    let api: Api<ConfigMap> = Api::namespaced(client(&server), "default");

    // Live `Apply` events seen, as (name, resourceVersion): must never repeat.
    let applied: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let (reader, writer) = reflector::store();
    let seen = applied.clone();
    let stream = reflector(
        writer,
        watcher::watcher(api.clone(), watcher::Config::default().labels("churn=yes"))
            .default_backoff(),
    );
    let watch_task = tokio::spawn(stream.for_each(move |event| {
        if let Ok(Event::Apply(obj)) = &event {
            seen.lock()
                .unwrap()
                .push((obj.name_any(), obj.resource_version().unwrap_or_default()));
        }
        futures::future::ready(())
    }));

    // A controller over the same objects: every object it last saw must be reconciled.
    let reconciled: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let rec = reconciled.clone();
    // Objects the controller's runner dropped as not (yet) in its store, by name.
    let dropped_by_runner: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let not_found = dropped_by_runner.clone();
    let controller = Controller::new(api.clone(), watcher::Config::default().labels("churn=yes"));
    let controller_store = controller.store();
    let controller = controller
        .run(
            move |obj: Arc<ConfigMap>, ctx: Arc<Mutex<BTreeMap<String, String>>>| async move {
                ctx.lock()
                    .unwrap()
                    .insert(obj.name_any(), obj.resource_version().unwrap_or_default());
                Ok::<_, kube::Error>(Action::await_change())
            },
            |_, _, _| Action::requeue(Duration::from_secs(1)),
            rec,
        )
        .for_each(move |res| {
            if let Err(kube::runtime::controller::Error::ObjectNotFound(obj)) = res {
                not_found.lock().unwrap().insert(obj.name);
            }
            futures::future::ready(())
        });
    let controller_task = tokio::spawn(controller);

    reader.wait_until_ready().await.expect("store ready");
    let started = Instant::now();
    let deadline = Duration::from_secs(churn_seconds());
    let (mut i, mut live) = (0u64, BTreeSet::new());
    let (mut dropped, mut gone) = (false, false);
    while started.elapsed() < deadline {
        let name = format!("cm-{i}");
        api.create(&PostParams::default(), &cm(&name))
            .await
            .expect("create");
        live.insert(name);
        if i % 3 == 2 {
            let target = format!("cm-{}", i - 1);
            if live.contains(&target) {
                let patch = serde_json::json!({"data": {"v": i.to_string()}});
                api.patch(&target, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .expect("patch");
            }
        }
        if i % 5 == 4 {
            let target = format!("cm-{}", i - 2);
            if live.remove(&target) {
                api.delete(&target, &DeleteParams::default())
                    .await
                    .expect("delete");
            }
        }
        let t = started.elapsed().as_secs_f64() / deadline.as_secs_f64();
        if t > 0.3 && !dropped {
            server.handle().close_watches();
            dropped = true;
        }
        if t > 0.6 && !gone {
            // One 410 for each of the two watches (the reflector's and the controller's).
            server.handle().gone_next_watch();
            server.handle().gone_next_watch();
            server.handle().close_watches();
            gone = true;
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The store converges to exactly what the server holds.
    let expected: BTreeMap<String, String> = api
        .list(&ListParams::default().labels("churn=yes"))
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|o| (o.name_any(), o.resource_version().unwrap_or_default()))
        .collect();
    assert_eq!(
        expected.keys().cloned().collect::<BTreeSet<_>>(),
        live,
        "server state is what the test wrote"
    );
    // What differs from the server: (reflector store, controller store, unreconciled).
    let differences = || {
        let names = |objs: Vec<Arc<ConfigMap>>| -> BTreeMap<String, String> {
            objs.iter()
                .map(|o| (o.name_any(), o.resource_version().unwrap_or_default()))
                .collect()
        };
        let off = |have: &BTreeMap<String, String>| -> Vec<String> {
            let mut d: Vec<String> = expected
                .iter()
                .filter(|(k, v)| have.get(*k) != Some(*v))
                .map(|(k, v)| format!("{k}@{v}: {:?}", have.get(k)))
                .collect();
            d.extend(
                have.keys()
                    .filter(|k| !expected.contains_key(*k))
                    .map(|k| format!("{k}: not on the server")),
            );
            d
        };
        let rec = reconciled.lock().unwrap().clone();
        let dropped = dropped_by_runner.lock().unwrap().clone();
        let unreconciled: Vec<String> = expected
            .iter()
            .filter(|(k, v)| rec.get(*k) != Some(*v) && !dropped.contains(*k))
            .map(|(k, v)| format!("{k}@{v}: last reconciled {:?}", rec.get(k)))
            .collect();
        (
            off(&names(reader.state())),
            off(&names(controller_store.state())),
            unreconciled,
        )
    };
    let converged = async {
        loop {
            let (store, controller, unreconciled) = differences();
            if store.is_empty() && controller.is_empty() && unreconciled.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(15), converged)
        .await
        .is_err()
    {
        let (store, controller, unreconciled) = differences();
        panic!(
            "no convergence on the server's state:\nreflector store: {store:?}\ncontroller store: {controller:?}\nnot reconciled: {unreconciled:?}"
        );
    }

    let events = applied.lock().unwrap().clone();
    let unique: BTreeSet<&(String, String)> = events.iter().collect();
    assert_eq!(
        unique.len(),
        events.len(),
        "a watch event was delivered twice"
    );
    assert!(i > 100, "churn made only {i} objects");
    eprintln!(
        "{i} objects created over {:?}, {} live watch events, watches dropped once and answered 410 once",
        started.elapsed(),
        events.len()
    );
    watch_task.abort();
    controller_task.abort();
}
