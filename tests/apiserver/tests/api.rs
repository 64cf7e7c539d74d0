//! REST semantics over the wire: metadata, verbs, errors, patches, apply, status,
//! finalizers, garbage collection, discovery, CRDs, counters and faults.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use tradewind_apiserver::{Config, TestServer};

const CM: &str = "/api/v1/namespaces/default/configmaps";
const DEPLOY: &str = "/apis/apps/v1/namespaces/default/deployments";

/// A server without per-namespace defaults: these tests count ConfigMaps.
fn server() -> TestServer {
    TestServer::start_with(Config {
        namespace_defaults: false,
        ..Config::default()
    })
    .expect("server starts")
}

fn rv(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("rv")
}

fn deployment(name: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}})
}

#[test]
fn create_sets_metadata_and_rv_is_monotonic() {
    let s = server();
    let a = create(&s, CM, configmap("a", json!({}), json!({"k": "v"})));
    let b = create(&s, CM, configmap("b", json!({}), json!({})));
    assert!(rv(&b) > rv(&a));
    assert_eq!(a["metadata"]["uid"].as_str().map(str::len), Some(36));
    assert!(
        a["metadata"]["creationTimestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(a["metadata"]["namespace"], "default");
    assert_eq!(a["kind"], "ConfigMap");
    let got = get(&s, &format!("{CM}/a"));
    assert_eq!(got.code, 200);
    assert_eq!(got.body, a);
    let g = create(&s, CM, json!({"metadata": {"generateName": "gen-"}}));
    let name = g["metadata"]["name"].as_str().expect("name");
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
}

#[test]
fn errors_are_status_objects() {
    let s = server();
    let nf = get(&s, &format!("{CM}/missing"));
    assert_eq!(nf.code, 404);
    assert_eq!(nf.body["kind"], "Status");
    assert_eq!(nf.body["status"], "Failure");
    assert_eq!(nf.body["reason"], "NotFound");
    assert_eq!(nf.body["code"], 404);
    assert_eq!(nf.body["message"], "configmaps \"missing\" not found");
    create(&s, CM, configmap("a", json!({}), json!({})));
    let dup = request(&s, "POST", CM, &configmap("a", json!({}), json!({})));
    assert_eq!(
        (dup.code, dup.body["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    let no_ns = request(
        &s,
        "POST",
        "/api/v1/namespaces/nope/configmaps",
        &configmap("a", json!({}), json!({})),
    );
    assert_eq!(
        (no_ns.code, no_ns.body["reason"].as_str()),
        (404, Some("NotFound"))
    );
    assert_eq!(no_ns.body["message"], "namespaces \"nope\" not found");
    let bad = request_with(
        &s,
        "POST",
        CM,
        &[("Content-Type", "application/json")],
        "{not json",
    );
    assert_eq!(
        (bad.code, bad.body["reason"].as_str()),
        (400, Some("BadRequest"))
    );
    let method = request(&s, "POST", &format!("{CM}/a"), &json!({}));
    assert_eq!(
        (method.code, method.body["reason"].as_str()),
        (405, Some("MethodNotAllowed"))
    );
    let unknown = get(&s, "/apis/apps/v1/namespaces/default/widgets");
    assert_eq!(unknown.code, 404);
}

#[test]
fn update_conflicts_on_stale_resource_version() {
    let s = server();
    let a = create(&s, CM, configmap("a", json!({}), json!({"k": "1"})));
    let mut next = a.clone();
    next["data"]["k"] = json!("2");
    let ok = request(&s, "PUT", &format!("{CM}/a"), &next);
    assert_eq!(ok.code, 200, "{}", ok.body);
    assert!(rv(&ok.body) > rv(&a));
    // `next` still carries the old resourceVersion.
    let stale = request(&s, "PUT", &format!("{CM}/a"), &next);
    assert_eq!(
        (stale.code, stale.body["reason"].as_str()),
        (409, Some("Conflict"))
    );
    // No-op update keeps the resourceVersion.
    let same = request(&s, "PUT", &format!("{CM}/a"), &ok.body);
    assert_eq!(rv(&same.body), rv(&ok.body));
}

#[test]
fn generation_moves_only_on_spec_and_status_only_through_subresource() {
    let s = TestServer::start_with(Config {
        simulate_deployments: false,
        ..Config::default()
    })
    .expect("server");
    let d = create(&s, DEPLOY, deployment_no_sim("w"));
    assert_eq!(d["metadata"]["generation"], 1);
    // Labels: no generation bump.
    let l = patch(
        &s,
        &format!("{DEPLOY}/w"),
        "application/merge-patch+json",
        r#"{"metadata":{"labels":{"x":"y"}}}"#,
    );
    assert_eq!(l.body["metadata"]["generation"], 1);
    // Status through the main resource is ignored.
    let st = patch(
        &s,
        &format!("{DEPLOY}/w"),
        "application/merge-patch+json",
        r#"{"status":{"replicas":9}}"#,
    );
    assert!(st.body["status"]["replicas"].is_null(), "{}", st.body);
    // Spec: bump.
    let sp = patch(
        &s,
        &format!("{DEPLOY}/w"),
        "application/merge-patch+json",
        r#"{"spec":{"replicas":3}}"#,
    );
    assert_eq!(sp.body["metadata"]["generation"], 2);
    // /status changes only status.
    let ss = patch(
        &s,
        &format!("{DEPLOY}/w/status"),
        "application/merge-patch+json",
        r#"{"spec":{"replicas":7},"status":{"replicas":3}}"#,
    );
    assert_eq!(ss.code, 200, "{}", ss.body);
    assert_eq!(ss.body["status"]["replicas"], 3);
    assert_eq!(ss.body["spec"]["replicas"], 3);
    assert_eq!(ss.body["metadata"]["generation"], 2);
    let put_status = get(&s, &format!("{DEPLOY}/w/status"));
    assert_eq!(put_status.body["status"]["replicas"], 3);
}

fn deployment_no_sim(name: &str) -> Value {
    deployment(name, 1)
}

#[test]
fn list_selectors_limit_and_continue() {
    let s = server();
    for (n, app, tier) in [
        ("a", "web", "front"),
        ("b", "web", "back"),
        ("c", "db", "back"),
        ("d", "db", "front"),
    ] {
        create(
            &s,
            CM,
            configmap(n, json!({"app": app, "tier": tier}), json!({})),
        );
    }
    create(
        &s,
        "/api/v1/namespaces",
        json!({"metadata": {"name": "other"}}),
    );
    create(
        &s,
        "/api/v1/namespaces/other/configmaps",
        configmap("e", json!({"app": "web"}), json!({})),
    );
    let names = |path: &str| -> Vec<String> {
        let r = get(&s, path);
        assert_eq!(r.code, 200, "{path}: {}", r.body);
        assert_eq!(r.body["kind"], "ConfigMapList");
        assert!(r.body["metadata"]["resourceVersion"].as_str().is_some());
        r.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(names(&format!("{CM}?labelSelector=app%3Dweb")), ["a", "b"]);
    assert_eq!(
        names(&format!("{CM}?labelSelector=app%3D%3Dweb,tier!%3Dfront")),
        ["b"]
    );
    assert_eq!(
        names(&format!(
            "{CM}?labelSelector=tier+in+(front),app+notin+(web)"
        )),
        ["d"]
    );
    assert_eq!(
        names(&format!("{CM}?labelSelector=!tier")),
        Vec::<String>::new()
    );
    assert_eq!(
        names("/api/v1/configmaps?labelSelector=app%3Dweb"),
        ["a", "b", "e"]
    );
    assert_eq!(
        names("/api/v1/configmaps?fieldSelector=metadata.namespace%3Dother"),
        ["e"]
    );
    assert_eq!(
        names(&format!("{CM}?fieldSelector=metadata.name%3Dc")),
        ["c"]
    );
    let page1 = get(&s, &format!("{CM}?limit=3"));
    assert_eq!(page1.body["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(page1.body["metadata"]["remainingItemCount"], 1);
    let token = page1.body["metadata"]["continue"]
        .as_str()
        .expect("continue");
    let page2 = get(&s, &format!("{CM}?limit=3&continue={token}"));
    assert_eq!(page2.body["items"][0]["metadata"]["name"], "d");
    assert!(page2.body["metadata"]["continue"].is_null());
    let bad = get(&s, &format!("{CM}?fieldSelector=spec.x%3D1"));
    assert_eq!(bad.code, 400);
}

#[test]
fn patches_merge_json_strategic() {
    let s = server();
    create(
        &s,
        CM,
        configmap("a", json!({}), json!({"k": "1", "drop": "x"})),
    );
    let m = patch(
        &s,
        &format!("{CM}/a"),
        "application/merge-patch+json",
        r#"{"data":{"k":"2","drop":null}}"#,
    );
    assert_eq!(m.body["data"], json!({"k": "2"}));
    let j = patch(
        &s,
        &format!("{CM}/a"),
        "application/json-patch+json",
        r#"[{"op":"test","path":"/data/k","value":"2"},{"op":"add","path":"/data/n","value":"3"}]"#,
    );
    assert_eq!(j.code, 200, "{}", j.body);
    assert_eq!(j.body["data"]["n"], "3");
    let failed = patch(
        &s,
        &format!("{CM}/a"),
        "application/json-patch+json",
        r#"[{"op":"test","path":"/data/k","value":"nope"},{"op":"add","path":"/data/z","value":"1"}]"#,
    );
    assert_eq!(
        (failed.code, failed.body["reason"].as_str()),
        (422, Some("Invalid"))
    );
    assert!(get(&s, &format!("{CM}/a")).body["data"]["z"].is_null());
    create(&s, DEPLOY, deployment_no_sim("w"));
    let smp = patch(
        &s,
        &format!("{DEPLOY}/w"),
        "application/strategic-merge-patch+json",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"s:1"}]}}}}"#,
    );
    let containers: Vec<&str> = smp.body["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    // As in the real server: without $setElementOrder, patch items come first.
    assert_eq!(containers, ["side", "c"]);
    let stale = patch(
        &s,
        &format!("{CM}/a"),
        "application/merge-patch+json",
        r#"{"metadata":{"resourceVersion":"1"},"data":{"k":"x"}}"#,
    );
    assert_eq!(stale.code, 409);
    let media = patch(&s, &format!("{CM}/a"), "text/plain", "x");
    assert_eq!(media.code, 415);
}

#[test]
fn server_side_apply_with_managers_and_conflicts() {
    let s = server();
    let path = format!("{CM}/a?fieldManager=alice");
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: \"1\"\n";
    let created = patch(&s, &path, "application/apply-patch+yaml", yaml);
    assert_eq!(created.code, 201, "{}", created.body);
    let mf = &created.body["metadata"]["managedFields"][0];
    assert_eq!(
        (mf["manager"].as_str(), mf["operation"].as_str()),
        (Some("alice"), Some("Apply"))
    );
    assert_eq!(mf["fieldsV1"]["f:data"]["f:k"], json!({}));
    let bob = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: \"2\"\n";
    let conflict = patch(
        &s,
        &format!("{CM}/a?fieldManager=bob"),
        "application/apply-patch+yaml",
        bob,
    );
    assert_eq!(
        (conflict.code, conflict.body["reason"].as_str()),
        (409, Some("Conflict")),
        "{}",
        conflict.body
    );
    let forced = patch(
        &s,
        &format!("{CM}/a?fieldManager=bob&force=true"),
        "application/apply-patch+yaml",
        bob,
    );
    assert_eq!(forced.code, 200, "{}", forced.body);
    assert_eq!(forced.body["data"]["k"], "2");
    let no_manager = patch(&s, &format!("{CM}/a"), "application/apply-patch+yaml", bob);
    assert_eq!(no_manager.code, 400);
}

#[test]
fn finalizers_hold_deletion_until_removed() {
    let s = server();
    let mut cm = configmap("a", json!({}), json!({}));
    cm["metadata"]["finalizers"] = json!(["example.com/keep"]);
    create(&s, CM, cm);
    let del = request(&s, "DELETE", &format!("{CM}/a"), &Value::Null);
    assert_eq!(del.code, 200);
    assert!(
        del.body["metadata"]["deletionTimestamp"].as_str().is_some(),
        "{}",
        del.body
    );
    assert_eq!(get(&s, &format!("{CM}/a")).code, 200);
    let adding = patch(
        &s,
        &format!("{CM}/a"),
        "application/merge-patch+json",
        r#"{"metadata":{"finalizers":["example.com/keep","x/y"]}}"#,
    );
    assert_eq!(adding.code, 422);
    let done = patch(
        &s,
        &format!("{CM}/a"),
        "application/merge-patch+json",
        r#"{"metadata":{"finalizers":null}}"#,
    );
    assert_eq!(done.code, 200, "{}", done.body);
    assert_eq!(get(&s, &format!("{CM}/a")).code, 404);
}

#[test]
fn deletecollection_and_delete_preconditions() {
    let s = server();
    for n in ["a", "b", "c"] {
        create(
            &s,
            CM,
            configmap(
                n,
                json!({"grp": if n == "c" { "keep" } else { "drop" }}),
                json!({}),
            ),
        );
    }
    let r = request(
        &s,
        "DELETE",
        &format!("{CM}?labelSelector=grp%3Ddrop"),
        &Value::Null,
    );
    assert_eq!(r.code, 200, "{}", r.body);
    assert_eq!(get(&s, CM).body["items"].as_array().map(Vec::len), Some(1));
    let pre = request(
        &s,
        "DELETE",
        &format!("{CM}/c"),
        &json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": "1"}}),
    );
    assert_eq!(pre.code, 409);
    assert_eq!(
        request(&s, "DELETE", &format!("{CM}/c"), &Value::Null).code,
        200
    );
    assert_eq!(
        request(&s, "DELETE", &format!("{CM}/c"), &Value::Null).code,
        404
    );
}

fn owned_cm(name: &str, owner: &Value) -> Value {
    let mut cm = configmap(name, json!({}), json!({}));
    cm["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "apps/v1", "kind": "Deployment", "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "blockOwnerDeletion": true, "controller": true}]);
    cm
}

#[test]
fn garbage_collection_background_foreground_orphan() {
    let s = server();
    // Background: dependents go after the owner.
    let owner = create(&s, DEPLOY, deployment_no_sim("bg"));
    create(&s, CM, owned_cm("bg-dep", &owner));
    assert_eq!(
        request(&s, "DELETE", &format!("{DEPLOY}/bg"), &Value::Null).code,
        200
    );
    assert_eq!(get(&s, &format!("{CM}/bg-dep")).code, 404);
    // Foreground: the owner waits for a dependent that has a finalizer.
    let owner = create(&s, DEPLOY, deployment_no_sim("fg"));
    let mut dep = owned_cm("fg-dep", &owner);
    dep["metadata"]["finalizers"] = json!(["example.com/slow"]);
    create(&s, CM, dep);
    let del = request(
        &s,
        "DELETE",
        &format!("{DEPLOY}/fg?propagationPolicy=Foreground"),
        &Value::Null,
    );
    assert_eq!(
        del.body["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    let waiting = get(&s, &format!("{DEPLOY}/fg"));
    assert_eq!(waiting.code, 200);
    assert!(get(&s, &format!("{CM}/fg-dep")).body["metadata"]["deletionTimestamp"].is_string());
    patch(
        &s,
        &format!("{CM}/fg-dep"),
        "application/merge-patch+json",
        r#"{"metadata":{"finalizers":null}}"#,
    );
    assert_eq!(get(&s, &format!("{CM}/fg-dep")).code, 404);
    assert_eq!(get(&s, &format!("{DEPLOY}/fg")).code, 404);
    // Orphan: dependents stay, without the owner reference.
    let owner = create(&s, DEPLOY, deployment_no_sim("or"));
    create(&s, CM, owned_cm("or-dep", &owner));
    let body = json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"});
    assert_eq!(
        request(&s, "DELETE", &format!("{DEPLOY}/or"), &body).code,
        200
    );
    assert_eq!(get(&s, &format!("{DEPLOY}/or")).code, 404);
    let orphan = get(&s, &format!("{CM}/or-dep"));
    assert_eq!(orphan.code, 200);
    assert!(orphan.body["metadata"]["ownerReferences"].is_null());
    // A dependent created after its owner is gone is collected.
    let late = request(&s, "POST", CM, &owned_cm("late", &owner));
    assert_eq!(late.code, 201);
    assert_eq!(get(&s, &format!("{CM}/late")).code, 404);
}

#[test]
fn namespace_deletion_removes_its_content() {
    let s = server();
    create(
        &s,
        "/api/v1/namespaces",
        json!({"metadata": {"name": "tmp"}}),
    );
    create(
        &s,
        "/api/v1/namespaces/tmp/configmaps",
        configmap("a", json!({}), json!({})),
    );
    assert_eq!(
        request(&s, "DELETE", "/api/v1/namespaces/tmp", &Value::Null).code,
        200
    );
    assert_eq!(get(&s, "/api/v1/namespaces/tmp").code, 404);
    assert_eq!(get(&s, "/api/v1/namespaces/tmp/configmaps/a").code, 404);
}

#[test]
fn discovery_documents() {
    let s = server();
    let v = get(&s, "/version");
    assert_eq!(v.body["major"], "1");
    let core = get(&s, "/api/v1");
    let names: Vec<&str> = core.body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    for n in [
        "namespaces",
        "namespaces/status",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "services",
        "events",
    ] {
        assert!(names.contains(&n), "{n}");
    }
    let groups = get(&s, "/apis");
    assert_eq!(groups.body["kind"], "APIGroupList");
    let gnames: Vec<&str> = groups.body["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    for g in [
        "apps",
        "rbac.authorization.k8s.io",
        "coordination.k8s.io",
        "batch",
        "networking.k8s.io",
        "policy",
        "apiextensions.k8s.io",
        "events.k8s.io",
    ] {
        assert!(gnames.contains(&g), "{g}");
    }
    let batch = get(&s, "/apis/batch/v1");
    assert_eq!(batch.body["groupVersion"], "batch/v1");
    let accept =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let agg = request_with(&s, "GET", "/apis", &[("Accept", accept)], "");
    assert_eq!(
        agg.content_type,
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    assert_eq!(agg.body["kind"], "APIGroupDiscoveryList");
    let apps = agg.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|g| g["metadata"]["name"] == "apps")
        .expect("apps");
    let dep = &apps["versions"][0]["resources"][0];
    assert_eq!(
        (dep["resource"].as_str(), dep["scope"].as_str()),
        (Some("deployments"), Some("Namespaced"))
    );
    assert_eq!(dep["shortNames"], json!(["deploy"]));
    assert_eq!(dep["subresources"][0]["subresource"], "status");
    let core_agg = request_with(&s, "GET", "/api", &[("Accept", accept)], "");
    assert_eq!(core_agg.body["items"][0]["metadata"]["name"], "");
    let ns = core_agg.body["items"][0]["versions"][0]["resources"]
        .as_array()
        .expect("r")
        .iter()
        .find(|r| r["resource"] == "namespaces")
        .cloned()
        .expect("ns");
    assert_eq!(ns["scope"], "Cluster");
}

#[test]
fn deployment_simulator_reports_ready_or_failed() {
    let s = server();
    create(&s, DEPLOY, deployment("ok", 3));
    s.fail_deployment("default", "bad");
    create(&s, DEPLOY, deployment("bad", 2));
    let wait = |name: &str, pred: &dyn Fn(&Value) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let d = get(&s, &format!("{DEPLOY}/{name}")).body;
            if pred(&d) {
                return d;
            }
            assert!(Instant::now() < deadline, "timed out: {d}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let ok = wait("ok", &|d| d["status"]["readyReplicas"] == 3);
    assert_eq!(ok["status"]["observedGeneration"], 1);
    assert_eq!(ok["status"]["availableReplicas"], 3);
    let cond = |d: &Value, t: &str| {
        d["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == t).cloned())
            .unwrap_or(Value::Null)
    };
    assert_eq!(cond(&ok, "Available")["status"], "True");
    assert_eq!(cond(&ok, "Progressing")["status"], "True");
    let bad = wait("bad", &|d| {
        d["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["reason"] == "ProgressDeadlineExceeded"))
    });
    assert_eq!(
        cond(&bad, "Progressing")["reason"],
        "ProgressDeadlineExceeded"
    );
    assert_eq!(cond(&bad, "Available")["status"], "False");
    patch(
        &s,
        &format!("{DEPLOY}/ok"),
        "application/merge-patch+json",
        r#"{"spec":{"replicas":5}}"#,
    );
    let scaled = wait("ok", &|d| d["status"]["readyReplicas"] == 5);
    assert_eq!(scaled["status"]["observedGeneration"], 2);
}

#[test]
fn counters_and_fault_injection() {
    let s = server();
    create(&s, CM, configmap("a", json!({}), json!({})));
    get(&s, &format!("{CM}/a"));
    get(&s, CM);
    patch(
        &s,
        &format!("{CM}/a"),
        "application/merge-patch+json",
        r#"{"data":{"x":"1"}}"#,
    );
    assert_eq!(s.count("create", "configmaps"), 1);
    assert_eq!(s.count("get", "configmaps"), 1);
    assert_eq!(s.count("list", "configmaps"), 1);
    assert_eq!(s.writes("configmaps"), 2);
    let over_http = get(&s, "/debug/counters");
    assert!(
        over_http.body["counters"]
            .as_array()
            .expect("counters")
            .iter()
            .any(|c| c["verb"] == "create" && c["resource"] == "configmaps" && c["count"] == 1)
    );
    s.fail_next(Some("get"), Some("configmaps"), 503, 2);
    assert_eq!(get(&s, &format!("{CM}/a")).code, 503);
    let second = get(&s, &format!("{CM}/a"));
    assert_eq!(
        (second.code, second.body["reason"].as_str()),
        (503, Some("ServiceUnavailable"))
    );
    assert_eq!(get(&s, &format!("{CM}/a")).code, 200);
    let posted = request(
        &s,
        "POST",
        "/debug/faults",
        &json!({"fail": {"verb": "create", "resource": "configmaps", "code": 500, "count": 1}}),
    );
    assert_eq!(posted.code, 200);
    assert_eq!(
        request(&s, "POST", CM, &configmap("b", json!({}), json!({}))).code,
        500
    );
    assert_eq!(
        request(&s, "POST", CM, &configmap("b", json!({}), json!({}))).code,
        201
    );
}

fn crd(scope: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": scope,
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wg"]},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                                             {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}],
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "required": ["size"],
                        "x-kubernetes-validations": [{"rule": "self.size <= self.max", "message": "size must not exceed max"}],
                        "properties": {"size": {"type": "integer", "minimum": 1}, "max": {"type": "integer", "default": 10},
                                       "color": {"type": "string", "enum": ["red", "blue"]}}},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}
    })
}

#[test]
fn crds_register_validate_default_prune_and_print() {
    let s = server();
    let c = create(
        &s,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        crd("Namespaced"),
    );
    let conds = c["status"]["conditions"].as_array().expect("conditions");
    assert!(
        conds
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    );
    assert!(
        conds
            .iter()
            .any(|c| c["type"] == "NamesAccepted" && c["status"] == "True")
    );
    assert_eq!(c["status"]["acceptedNames"]["kind"], "Widget");
    let rl = get(&s, "/apis/example.com/v1");
    assert_eq!(rl.body["resources"][0]["name"], "widgets");
    let path = "/apis/example.com/v1/namespaces/default/widgets";
    let w = create(
        &s,
        path,
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3, "junk": true}, "status": {"x": 1}}),
    );
    assert_eq!(
        w["spec"],
        json!({"size": 3, "max": 10}),
        "defaulted and pruned"
    );
    assert!(w["status"].is_null(), "status is dropped on create");
    let cel = request(
        &s,
        "POST",
        path,
        &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w2"}, "spec": {"size": 30}}),
    );
    assert_eq!(
        (cel.code, cel.body["reason"].as_str()),
        (422, Some("Invalid"))
    );
    assert!(
        cel.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("size must not exceed max")),
        "{}",
        cel.body
    );
    let schema = request(
        &s,
        "POST",
        path,
        &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w3"}, "spec": {"size": 0, "color": "green"}}),
    );
    assert_eq!(schema.code, 422, "{}", schema.body);
    patch(
        &s,
        &format!("{path}/w1/status"),
        "application/merge-patch+json",
        r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#,
    );
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let table = request_with(&s, "GET", path, &[("Accept", accept)], "");
    assert_eq!(
        table.content_type,
        "application/json;as=Table;v=v1;g=meta.k8s.io"
    );
    assert_eq!(table.body["kind"], "Table");
    let cols: Vec<&str> = table.body["columnDefinitions"]
        .as_array()
        .expect("cols")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(cols, ["Name", "Size", "Ready"]);
    assert_eq!(table.body["rows"][0]["cells"], json!(["w1", 3, "True"]));
    // Cluster-scoped CRDs are served without namespaces; deleting the CRD stops serving.
    assert_eq!(
        request(
            &s,
            "DELETE",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
            &Value::Null
        )
        .code,
        200
    );
    assert_eq!(get(&s, path).code, 404);
    create(
        &s,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        crd("Cluster"),
    );
    create(
        &s,
        "/apis/example.com/v1/widgets",
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "c1"}, "spec": {"size": 1}}),
    );
    assert_eq!(get(&s, "/apis/example.com/v1/widgets/c1").code, 200);
}

/// A non-apply write that removes a field also removes every manager's ownership of it
/// (the real managedFields updater does), so a later apply by another manager does not
/// conflict over a field that no longer exists. Leader election relies on this: a
/// standby releases an expired Lease with a strategic patch, then applies its own holder.
#[test]
fn an_update_that_removes_a_field_drops_its_owners() {
    let server = TestServer::start().expect("server");
    let path = "/api/v1/namespaces/default/configmaps/ssa";
    let apply = |manager: &str, value: &str, expect: u16| {
        let body = format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"ssa"}},"data":{{"k":"{value}"}}}}"#
        );
        let r = patch(
            &server,
            &format!("{path}?fieldManager={manager}"),
            "application/apply-patch+yaml",
            &body,
        );
        assert_eq!(r.code, expect, "{manager}: {}", r.body);
    };
    apply("m1", "a", 201);
    apply("m2", "b", 409);
    let r = patch(
        &server,
        &format!("{path}?fieldManager=releaser"),
        "application/strategic-merge-patch+json",
        r#"{"data":{"k":null}}"#,
    );
    assert_eq!(r.code, 200, "{}", r.body);
    let managers: Vec<String> = r.body["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !managers.contains(&"m1".to_owned()),
        "m1 still owns the removed field: {managers:?}"
    );
    apply("m2", "b", 200);
}

#[test]
fn server_side_apply_respects_the_status_subresource() {
    let s = server();
    create(
        &s,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        crd("Namespaced"),
    );
    let path = "/apis/example.com/v1/namespaces/default/widgets/w";
    let apply = |manager: &str, status: bool, body: Value| {
        let sub = if status { "/status" } else { "" };
        let r = patch(
            &s,
            &format!("{path}{sub}?fieldManager={manager}&force=true"),
            "application/apply-patch+yaml",
            &body.to_string(),
        );
        assert!(r.code == 200 || r.code == 201, "{}", r.body);
        r.body
    };
    // Main endpoint: the applied status is ignored (not stored, not owned).
    let main = apply(
        "operator",
        false,
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
               "spec": {"size": 2}, "status": {"phase": "Pending"}}),
    );
    assert_eq!(main["spec"]["size"], 2);
    assert!(main["status"].is_null(), "{main}");
    let owned = |obj: &Value, manager: &str| -> Value {
        obj["metadata"]["managedFields"]
            .as_array()
            .expect("managedFields")
            .iter()
            .find(|e| e["manager"] == manager)
            .map(|e| e["fieldsV1"].clone())
            .unwrap_or(Value::Null)
    };
    assert!(owned(&main, "operator").get("f:status").is_none(), "{main}");
    // /status: the applied spec is ignored (not stored, not owned); status lands.
    let st = apply(
        "worker",
        true,
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
               "spec": {"size": 9}, "status": {"equity": "10.00"}}),
    );
    assert_eq!(st["spec"]["size"], 2, "{st}");
    assert_eq!(st["status"]["equity"], "10.00");
    let worker = owned(&st, "worker");
    assert!(worker.get("f:spec").is_none(), "{st}");
    assert_eq!(worker["f:status"]["f:equity"], json!({}), "{st}");
    let entry = st["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .find(|e| e["manager"] == "worker")
        .cloned()
        .expect("worker entry");
    assert_eq!(entry["subresource"], "status");
    // The operator re-applies its spec (with a status again): the worker's status stays.
    let again = apply(
        "operator",
        false,
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
               "spec": {"size": 3}, "status": {"equity": "0"}}),
    );
    assert_eq!(again["spec"]["size"], 3);
    assert_eq!(again["status"]["equity"], "10.00", "{again}");
    // The worker re-applies a status without spec: the operator's spec stays.
    let again = apply(
        "worker",
        true,
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
               "status": {"equity": "11.00"}}),
    );
    assert_eq!(again["spec"]["size"], 3, "{again}");
    assert_eq!(again["status"]["equity"], "11.00");
}
