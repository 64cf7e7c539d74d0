//! Watch semantics over the wire: initial events, resourceVersion replay, bookmarks,
//! streaming lists (sendInitialEvents), 410 Gone, timeouts, selectors and faults.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use tradewind_apiserver::{Config, TestServer};

const CM: &str = "/api/v1/namespaces/default/configmaps";
const T: Duration = Duration::from_secs(5);

fn server() -> TestServer {
    TestServer::start_with(Config {
        history: 50,
        bookmark_interval: Duration::from_millis(200),
        // Counts ConfigMaps: no kube-root-ca.crt.
        namespace_defaults: false,
        ..Config::default()
    })
    .expect("server starts")
}

fn rv_of(v: &Value) -> String {
    v["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_owned()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn watch_without_rv_sends_current_objects_then_changes() {
    let s = server();
    create(&s, CM, configmap("a", json!({}), json!({})));
    let mut w = Watch::open(&s, &format!("{CM}?watch=true"));
    assert_eq!(w.code, 200);
    assert_eq!(summary(&w.take(1, T)), pairs(&[("ADDED", "a")]));
    create(&s, CM, configmap("b", json!({}), json!({})));
    patch(
        &s,
        &format!("{CM}/a"),
        "application/merge-patch+json",
        r#"{"data":{"x":"1"}}"#,
    );
    request(&s, "DELETE", &format!("{CM}/b"), &Value::Null);
    let evs = w.take(3, T);
    assert_eq!(
        summary(&evs),
        pairs(&[("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")])
    );
    assert_eq!(evs[0]["object"]["kind"], "ConfigMap");
    assert_eq!(evs[0]["object"]["apiVersion"], "v1");
}

#[test]
fn watch_from_rv_replays_history_and_legacy_path() {
    let s = server();
    let a = create(&s, CM, configmap("a", json!({}), json!({})));
    create(&s, CM, configmap("b", json!({}), json!({})));
    patch(
        &s,
        &format!("{CM}/a"),
        "application/merge-patch+json",
        r#"{"data":{"x":"1"}}"#,
    );
    let mut w = Watch::open(&s, &format!("{CM}?watch=1&resourceVersion={}", rv_of(&a)));
    assert_eq!(
        summary(&w.take(2, T)),
        pairs(&[("ADDED", "b"), ("MODIFIED", "a")])
    );
    let mut legacy = Watch::open(
        &s,
        &format!(
            "/api/v1/watch/namespaces/default/configmaps?resourceVersion={}",
            rv_of(&a)
        ),
    );
    assert_eq!(
        summary(&legacy.take(2, T)),
        pairs(&[("ADDED", "b"), ("MODIFIED", "a")])
    );
    // Watching one object by name through the legacy path.
    let mut one = Watch::open(&s, "/api/v1/watch/namespaces/default/configmaps/b");
    assert_eq!(summary(&one.take(1, T)), pairs(&[("ADDED", "b")]));
}

#[test]
fn bookmarks_and_streaming_list() {
    let s = server();
    create(&s, CM, configmap("a", json!({}), json!({})));
    create(&s, CM, configmap("b", json!({}), json!({})));
    let mut w = Watch::open(
        &s,
        &format!(
            "{CM}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
        ),
    );
    let evs = w.take(3, T);
    assert_eq!(
        summary(&evs)[..2],
        pairs(&[("ADDED", "a"), ("ADDED", "b")])[..]
    );
    assert_eq!(evs[2]["type"], "BOOKMARK");
    assert_eq!(
        evs[2]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(evs[2]["object"]["kind"], "ConfigMap");
    // Periodic bookmarks carry the latest resourceVersion.
    let c = create(&s, CM, configmap("c", json!({}), json!({})));
    let next = w.take(2, T);
    assert_eq!(summary(&next)[0], ("ADDED".to_owned(), "c".to_owned()));
    assert_eq!(next[1]["type"], "BOOKMARK");
    let bm_rv: u64 = next[1]["object"]["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .expect("rv");
    assert!(bm_rv >= rv_of(&c).parse::<u64>().expect("rv"));
    // sendInitialEvents without NotOlderThan is rejected.
    let bad = get(
        &s,
        &format!("{CM}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"),
    );
    assert_eq!(bad.code, 422);
    // sendInitialEvents=false: only changes.
    let mut quiet = Watch::open(
        &s,
        &format!("{CM}?watch=true&sendInitialEvents=false&resourceVersionMatch=NotOlderThan"),
    );
    create(&s, CM, configmap("d", json!({}), json!({})));
    assert_eq!(summary(&quiet.take(1, T)), pairs(&[("ADDED", "d")]));
}

#[test]
fn expired_resource_version_is_410_gone() {
    let s = TestServer::start_with(Config {
        history: 5,
        // Counts ConfigMaps: no kube-root-ca.crt.
        namespace_defaults: false,
        ..Config::default()
    })
    .expect("server");
    let first = create(&s, CM, configmap("first", json!({}), json!({})));
    for i in 0..10 {
        create(&s, CM, configmap(&format!("c{i}"), json!({}), json!({})));
    }
    let mut w = Watch::open(
        &s,
        &format!("{CM}?watch=true&resourceVersion={}", rv_of(&first)),
    );
    let evs = w.take(1, T);
    assert_eq!(evs[0]["type"], "ERROR");
    assert_eq!(evs[0]["object"]["kind"], "Status");
    assert_eq!(evs[0]["object"]["code"], 410);
    assert_eq!(evs[0]["object"]["reason"], "Expired");
    assert!(
        w.next(Duration::from_millis(500)).is_none(),
        "stream ends after the error"
    );
}

#[test]
fn timeout_seconds_ends_the_stream() {
    let s = server();
    let mut w = Watch::open(&s, &format!("{CM}?watch=true&timeoutSeconds=1"));
    let start = Instant::now();
    assert!(w.next(Duration::from_secs(5)).is_none());
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[test]
fn label_selector_transitions_become_added_and_deleted() {
    let s = server();
    create(&s, CM, configmap("a", json!({"app": "web"}), json!({})));
    create(&s, CM, configmap("b", json!({"app": "db"}), json!({})));
    let mut w = Watch::open(&s, &format!("{CM}?watch=true&labelSelector=app%3Dweb"));
    assert_eq!(summary(&w.take(1, T)), pairs(&[("ADDED", "a")]));
    patch(
        &s,
        &format!("{CM}/b"),
        "application/merge-patch+json",
        r#"{"metadata":{"labels":{"app":"web"}}}"#,
    );
    patch(
        &s,
        &format!("{CM}/a"),
        "application/merge-patch+json",
        r#"{"metadata":{"labels":{"app":"db"}}}"#,
    );
    patch(
        &s,
        &format!("{CM}/a"),
        "application/merge-patch+json",
        r#"{"data":{"ignored":"yes"}}"#,
    );
    patch(
        &s,
        &format!("{CM}/b"),
        "application/merge-patch+json",
        r#"{"data":{"x":"1"}}"#,
    );
    assert_eq!(
        summary(&w.take(3, T)),
        pairs(&[("ADDED", "b"), ("DELETED", "a"), ("MODIFIED", "b")])
    );
    let mut f = Watch::open(
        &s,
        &format!("{CM}?watch=true&fieldSelector=metadata.name%3Db"),
    );
    assert_eq!(summary(&f.take(1, T)), pairs(&[("ADDED", "b")]));
}

#[test]
fn watches_are_per_namespace_and_across_namespaces() {
    let s = server();
    create(
        &s,
        "/api/v1/namespaces",
        json!({"metadata": {"name": "other"}}),
    );
    let mut all = Watch::open(&s, "/api/v1/configmaps?watch=true");
    let mut def = Watch::open(&s, &format!("{CM}?watch=true"));
    create(
        &s,
        "/api/v1/namespaces/other/configmaps",
        configmap("x", json!({}), json!({})),
    );
    create(&s, CM, configmap("y", json!({}), json!({})));
    assert_eq!(
        summary(&all.take(2, T)),
        pairs(&[("ADDED", "x"), ("ADDED", "y")])
    );
    assert_eq!(summary(&def.take(1, T)), pairs(&[("ADDED", "y")]));
}

#[test]
fn faults_close_watches_and_answer_next_with_gone() {
    let s = server();
    let mut w = Watch::open(&s, &format!("{CM}?watch=true"));
    s.close_watches();
    assert!(w.next(T).is_none(), "closed");
    s.gone_next_watch();
    let mut gone = Watch::open(&s, &format!("{CM}?watch=true&resourceVersion=1"));
    let ev = gone.take(1, T);
    assert_eq!(ev[0]["type"], "ERROR");
    assert_eq!(ev[0]["object"]["code"], 410);
    let mut fine = Watch::open(&s, &format!("{CM}?watch=true"));
    create(&s, CM, configmap("z", json!({}), json!({})));
    assert_eq!(summary(&fine.take(1, T)), pairs(&[("ADDED", "z")]));
    // Through the HTTP endpoint as well.
    let r = request(&s, "POST", "/debug/faults", &json!({"closeWatches": true}));
    assert_eq!(r.code, 200);
    assert!(fine.next(T).is_none());
    assert_eq!(s.count("watch", "configmaps"), 3);
}

#[test]
fn table_watch_for_kubectl_get_w() {
    let s = server();
    create(&s, CM, configmap("a", json!({}), json!({})));
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let mut w = Watch::open_with(&s, &format!("{CM}?watch=true"), &[("Accept", accept)]);
    let ev = w.take(1, T);
    assert_eq!(ev[0]["type"], "ADDED");
    assert_eq!(ev[0]["object"]["kind"], "Table");
    assert_eq!(ev[0]["object"]["rows"][0]["cells"][0], "a");
}
