//! Proof against kube-rs (the client the operator uses): its watcher and reflector follow
//! churn — creates, patches, deletes, dropped watches and a 410 Gone relist — and end
//! up exactly matching the server, without seeing any resourceVersion of an object twice
//! outside a relist (both list strategies: list-then-watch and streaming lists); and a
//! `Controller` owning children through server-side apply converges through the same
//! churn, with garbage collection removing the children of deleted parents.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use tradewind_apiserver::{Config, TestServer};

type Seen = Arc<Mutex<Vec<(String, String, u64)>>>;

fn rv(cm: &ConfigMap) -> u64 {
    cm.metadata
        .resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn name(cm: &ConfigMap) -> String {
    cm.metadata.name.clone().unwrap_or_default()
}

async fn churn_and_compare(streaming: bool) {
    let server = TestServer::start_with(Config {
        bookmark_interval: Duration::from_millis(300),
        // Counts ConfigMaps: no kube-root-ca.crt.
        namespace_defaults: false,
        ..Config::default()
    })
    .expect("server");
    let kubeconfig = Kubeconfig::from_yaml(&server.kubeconfig_yaml()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client, "default");

    let (reader, writer) = reflector::store::<ConfigMap>();
    let mut wc = watcher::Config::default();
    if streaming {
        wc = wc.streaming_lists();
    }
    let seen: Seen = Arc::default();
    let seen2 = seen.clone();
    let stream = reflector(writer, watcher(api.clone(), wc)).default_backoff();
    let consumer = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(ev) = stream.next().await {
            let mut s = seen2.lock().unwrap_or_else(|p| p.into_inner());
            match ev {
                Ok(watcher::Event::Apply(cm)) => s.push(("Apply".into(), name(&cm), rv(&cm))),
                Ok(watcher::Event::Delete(cm)) => s.push(("Delete".into(), name(&cm), rv(&cm))),
                Ok(watcher::Event::Init) => s.push(("Init".into(), String::new(), 0)),
                Ok(watcher::Event::InitApply(cm)) => {
                    s.push(("InitApply".into(), name(&cm), rv(&cm)))
                }
                Ok(watcher::Event::InitDone) => s.push(("InitDone".into(), String::new(), 0)),
                Err(e) => s.push(("Error".into(), e.to_string(), 0)),
            }
        }
    });
    reader.wait_until_ready().await.expect("reflector ready");

    for i in 0..60 {
        let cm: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("cm-{i}"), "labels": {"n": i.to_string()}},
            "data": {"v": "0"}
        }))
        .expect("configmap");
        api.create(&PostParams::default(), &cm)
            .await
            .expect("create");
        if i % 3 == 0 {
            let p = serde_json::json!({"data": {"v": "1"}});
            api.patch(
                &format!("cm-{i}"),
                &PatchParams::default(),
                &Patch::Merge(&p),
            )
            .await
            .expect("patch");
        }
        if i % 5 == 0 {
            api.delete(&format!("cm-{i}"), &DeleteParams::default())
                .await
                .expect("delete");
        }
        if i == 20 {
            server.close_watches();
        }
        if i == 40 {
            server.gone_next_watch();
            server.close_watches();
        }
    }

    // Converge: the reflector's store equals the server's list.
    let want: BTreeMap<String, u64> = api
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .iter()
        .map(|c| (name(c), rv(c)))
        .collect();
    assert_eq!(want.len(), 48);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let have: BTreeMap<String, u64> = reader.state().iter().map(|c| (name(c), rv(c))).collect();
        if have == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "reflector did not converge: {} vs {} objects",
            have.len(),
            want.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    consumer.abort();

    // Outside relists, each object's resourceVersions only go up: nothing is seen twice.
    let events = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let relists = events.iter().filter(|e| e.0 == "Init").count();
    assert!(relists >= 2, "the 410 forced a relist: {relists}");
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for (kind, n, v) in &events {
        match kind.as_str() {
            "Init" => last.clear(),
            "Apply" | "Delete" | "InitApply" => {
                if let Some(prev) = last.get(n) {
                    assert!(
                        v > prev,
                        "{kind} {n} at {v} after {prev}: duplicated or reordered"
                    );
                }
                last.insert(n.clone(), *v);
            }
            _ => {}
        }
    }
    assert!(
        server.count("watch", "configmaps") >= 3,
        "re-watched after drops"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_reflector_follows_churn_list_watch() {
    churn_and_compare(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_reflector_follows_churn_streaming_lists() {
    churn_and_compare(true).await;
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ReconcileError(String);

async fn reconcile(
    parent: Arc<ConfigMap>,
    api: Arc<Api<Secret>>,
) -> Result<Action, ReconcileError> {
    let owner = parent
        .controller_owner_ref(&())
        .ok_or_else(|| ReconcileError("no owner ref".into()))?;
    let value = parent
        .data
        .as_ref()
        .and_then(|d| d.get("v"))
        .cloned()
        .unwrap_or_default();
    let child = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": format!("{}-child", name(&parent)), "ownerReferences": [owner]},
        "stringData": {"v": value}
    });
    api.patch(
        &format!("{}-child", name(&parent)),
        &PatchParams::apply("test-controller").force(),
        &Patch::Apply(&child),
    )
    .await
    .map_err(|e| ReconcileError(e.to_string()))?;
    Ok(Action::await_change())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_controller_converges_through_churn() {
    let server = TestServer::start().expect("server");
    let kubeconfig = Kubeconfig::from_yaml(&server.kubeconfig_yaml()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let parents: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let children: Api<Secret> = Api::namespaced(client, "default");
    let ctx = Arc::new(children.clone());
    let controller = Controller::new(
        parents.clone(),
        watcher::Config::default().labels("role=parent"),
    )
    .owns(children.clone(), watcher::Config::default())
    .run(
        reconcile,
        |_, _, _| Action::requeue(Duration::from_millis(200)),
        ctx,
    )
    .for_each(|_| futures::future::ready(()));
    let task = tokio::spawn(controller);

    for i in 0..30 {
        let cm: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("p-{i}"), "labels": {"role": "parent"}},
            "data": {"v": "0"}
        }))
        .expect("configmap");
        parents
            .create(&PostParams::default(), &cm)
            .await
            .expect("create");
        if i % 2 == 0 {
            let p = serde_json::json!({"data": {"v": format!("changed-{i}")}});
            parents
                .patch(
                    &format!("p-{i}"),
                    &PatchParams::default(),
                    &Patch::Merge(&p),
                )
                .await
                .expect("patch");
        }
        if i == 10 {
            server.close_watches();
        }
        if i == 20 {
            server.gone_next_watch();
            server.close_watches();
        }
        if i % 7 == 6 {
            parents
                .delete(&format!("p-{i}"), &DeleteParams::default())
                .await
                .expect("delete");
        }
    }

    let want: BTreeMap<String, String> = (0..30)
        .filter(|i| i % 7 != 6)
        .map(|i| {
            let v = if i % 2 == 0 {
                format!("changed-{i}")
            } else {
                "0".to_owned()
            };
            (format!("p-{i}-child"), v)
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let have: BTreeMap<String, String> = children
            .list(&Default::default())
            .await
            .expect("list")
            .items
            .into_iter()
            .filter(|s| name_of(s).ends_with("-child"))
            .map(|s| {
                let v = s
                    .data
                    .as_ref()
                    .and_then(|d| d.get("v"))
                    .map(|b| String::from_utf8_lossy(&b.0).into_owned())
                    .unwrap_or_default();
                (name_of(&s), v)
            })
            .collect();
        if have == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "controller did not converge:\nhave {have:?}\nwant {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    task.abort();
    assert!(server.count("patch", "secrets") >= 25);
}

fn name_of(s: &Secret) -> String {
    s.metadata.name.clone().unwrap_or_default()
}
