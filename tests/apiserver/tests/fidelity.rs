//! Fidelity proofs with clients nobody here wrote: the `scale` subresource (kubectl and
//! kube-rs) and field selectors (kubectl `events --for`, `describe`). kubectl tests are
//! skipped, with a printed reason, when kubectl is not installed.

mod kubectl_env;
use kubectl_env::Kube;

use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;
use tradewind_apiserver::TestServer;

fn kubectl_present() -> bool {
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: kubectl is not installed on this machine");
    }
    found
}

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
    matchExpressions: [{key: tier, operator: In, values: [front]}]
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers: [{name: c, image: nginx:1}]
"#;

const WIDGET_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.workers
        statusReplicasPath: .status.workers
        labelSelectorPath: .status.selector
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              workers: {type: integer}
          status:
            type: object
            properties:
              workers: {type: integer}
              selector: {type: string}
"#;

#[test]
fn kubectl_scales_deployments_and_custom_resources() {
    if !kubectl_present() {
        return;
    }
    let k = Kube::new("scale");
    k.apply("deploy.yaml", DEPLOYMENT);
    k.ok(&["scale", "deployment", "web", "--replicas=3"]);
    let d = k.json(&["get", "deployment", "web", "-o", "json"]);
    assert_eq!(d["spec"]["replicas"], 3);
    let scale = k.json(&[
        "get",
        "--raw",
        "/apis/apps/v1/namespaces/default/deployments/web/scale",
    ]);
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"]["replicas"], 3);
    assert_eq!(scale["status"]["selector"], "app=web,tier in (front)");
    // A precondition that does not hold is refused, as by the real server.
    let out = k.run(&[
        "scale",
        "deployment",
        "web",
        "--current-replicas=5",
        "--replicas=1",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Expected replicas to be 5, was 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The ReplicaSet the controller made scales too.
    let rs = k.json(&["get", "replicasets", "-o", "json"]);
    let rs_name = rs["items"][0]["metadata"]["name"]
        .as_str()
        .expect("a ReplicaSet")
        .to_owned();
    let scale = k.json(&[
        "get",
        "--raw",
        &format!("/apis/apps/v1/namespaces/default/replicasets/{rs_name}/scale"),
    ]);
    assert_eq!(scale["spec"]["replicas"], 3);

    // A CRD declaring subresources.scale.
    k.apply("crd.yaml", WIDGET_CRD);
    k.apply(
        "widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {workers: 1}\n",
    );
    k.ok(&["scale", "widget", "w", "--replicas=5"]);
    let w = k.json(&["get", "widget", "w", "-o", "json"]);
    assert_eq!(w["spec"]["workers"], 5);
    // Discovery lists the subresource (kubectl api-resources does not show it; the raw
    // document does).
    let gv = k.json(&["get", "--raw", "/apis/example.com/v1"]);
    assert!(
        gv["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .any(|r| r["name"] == "widgets/scale" && r["kind"] == "Scale"),
        "{gv}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_reads_replaces_and_patches_scale() {
    let server = TestServer::start().expect("server");
    let kubeconfig = Kubeconfig::from_yaml(&server.kubeconfig_yaml()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let api: Api<Deployment> = Api::namespaced(client, "default");
    let d: Deployment = serde_saphyr::from_str(DEPLOYMENT).expect("deployment");
    api.create(&PostParams::default(), &d)
        .await
        .expect("create");

    let s = api.get_scale("web").await.expect("get scale");
    assert_eq!(s.spec.as_ref().and_then(|s| s.replicas), Some(1));
    let rv = s.metadata.resource_version.clone();

    // Replace with the resourceVersion read: accepted.
    let mut next = s.clone();
    next.spec.as_mut().expect("spec").replicas = Some(2);
    let replaced = api
        .replace_scale("web", &PostParams::default(), &next)
        .await
        .expect("replace scale");
    assert_eq!(replaced.spec.and_then(|s| s.replicas), Some(2));
    assert_ne!(replaced.metadata.resource_version, rv);

    // Again with the now stale resourceVersion: 409 Conflict.
    let err = api
        .replace_scale("web", &PostParams::default(), &next)
        .await
        .expect_err("stale resourceVersion");
    match err {
        kube::Error::Api(e) => assert_eq!(e.code, 409, "{e:?}"),
        other => panic!("unexpected {other:?}"),
    }

    // Merge patch; negative replicas are 422 Invalid naming the field.
    let patched = api
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .expect("patch scale");
    assert_eq!(patched.spec.and_then(|s| s.replicas), Some(4));
    let d = api.get("web").await.expect("get");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(4));
    let err = api
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": -1}})),
        )
        .await
        .expect_err("negative replicas");
    match err {
        kube::Error::Api(e) => {
            assert_eq!(e.code, 422);
            assert!(e.message.contains("spec.replicas"), "{}", e.message);
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn event(name: &str, pod: &str, uid: &str, reason: &str, kind: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Event
metadata: {{name: {name}, namespace: default}}
involvedObject: {{kind: Pod, name: {pod}, namespace: default, uid: "{uid}", apiVersion: v1}}
reason: {reason}
message: "{reason} happened to {pod}"
type: {kind}
source: {{component: kubelet}}
firstTimestamp: "2026-01-01T00:00:00Z"
lastTimestamp: "2026-01-01T00:00:00Z"
count: 1
"#
    )
}

#[test]
fn kubectl_events_for_and_describe_use_field_selectors() {
    if !kubectl_present() {
        return;
    }
    let k = Kube::new("events");
    k.ok(&["run", "x", "--image", "nginx:1", "--restart", "Never"]);
    k.ok(&["run", "y", "--image", "nginx:1", "--restart", "Never"]);
    let uid = |p: &str| {
        k.ok(&["get", "pod", p, "-o", "jsonpath={.metadata.uid}"])
            .trim()
            .to_owned()
    };
    let (ux, uy) = (uid("x"), uid("y"));
    k.apply("ex.yaml", &event("x.1", "x", &ux, "Pulled", "Normal"));
    k.apply("ex2.yaml", &event("x.2", "x", &ux, "BackOff", "Warning"));
    k.apply("ey.yaml", &event("y.1", "y", &uy, "Killing", "Normal"));

    let out = k.ok(&["events", "--for", "pod/x"]);
    assert!(out.contains("Pulled") && out.contains("BackOff"), "{out}");
    assert!(!out.contains("Killing"), "{out}");
    let out = k.ok(&["events", "--for", "pod/x", "--types", "Warning"]);
    assert!(out.contains("BackOff") && !out.contains("Pulled"), "{out}");

    let out = k.ok(&["describe", "pod", "x"]);
    assert!(out.contains("Pulled happened to x"), "{out}");
    assert!(!out.contains("Killing"), "{out}");

    // Selectors on other kinds' fields.
    let names = |args: &[&str]| {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "jsonpath={.items[*].metadata.name}"]);
        k.ok(&a).trim().to_owned()
    };
    assert_eq!(
        names(&["events", "--field-selector", "reason=Killing"]),
        "y.1"
    );
    assert_eq!(
        names(&[
            "pods",
            "--field-selector",
            "spec.serviceAccountName=default,metadata.name=x"
        ]),
        "x"
    );
    k.ok(&["create", "secret", "generic", "s1", "--from-literal=a=b"]);
    k.ok(&[
        "create",
        "secret",
        "docker-registry",
        "s2",
        "--docker-server=r",
        "--docker-username=u",
        "--docker-password=p",
    ]);
    assert_eq!(
        names(&[
            "secrets",
            "--field-selector",
            "type=kubernetes.io/dockerconfigjson"
        ]),
        "s2"
    );

    // An unsupported field label: the real server's 400.
    let out = k.run(&["get", "configmaps", "--field-selector", "type=x"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("field label not supported: type"), "{err}");
}

const CRONJOB: &str = r#"apiVersion: batch/v1
kind: CronJob
metadata: {name: tick, namespace: default}
spec:
  schedule: "* * * * *"
  suspend: true
  concurrencyPolicy: Forbid
  jobTemplate:
    metadata: {labels: {from: tick}}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox:1}]
"#;

#[test]
fn kubectl_cronjob_manual_run_and_replace() {
    if !kubectl_present() {
        return;
    }
    let k = Kube::new("cron");
    k.apply("cj.yaml", CRONJOB);
    // A manual run is a Job the CronJob controls (the Job `kubectl create job
    // --from=cronjob/tick` writes; that command sends it as protobuf, which this server
    // does not decode for Jobs): it shows in status.active even while suspended.
    let cj_uid = k
        .ok(&["get", "cronjob", "tick", "-o", "jsonpath={.metadata.uid}"])
        .trim()
        .to_owned();
    k.apply(
        "manual.yaml",
        &format!(
            r#"apiVersion: batch/v1
kind: Job
metadata:
  name: manual
  annotations: {{cronjob.kubernetes.io/instantiate: manual}}
  ownerReferences: [{{apiVersion: batch/v1, kind: CronJob, name: tick, uid: "{cj_uid}", controller: true}}]
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: c, image: busybox:1}}]
"#
        ),
    );
    k.ok(&[
        "wait",
        "cronjob/tick",
        "--for=jsonpath={.status.active[0].name}=manual",
        "--timeout=60s",
    ]);

    // Its last schedule two minutes ago: a run is due now; Replace deletes the manual run.
    let past = k
        .ok(&[
            "get",
            "cronjob",
            "tick",
            "-o",
            "jsonpath={.metadata.creationTimestamp}",
        ])
        .trim()
        .to_owned();
    let t0 = k8s_openapi::jiff::Timestamp::from_second(
        past.parse::<k8s_openapi::jiff::Timestamp>()
            .expect("timestamp")
            .as_second()
            - 120,
    )
    .expect("time")
    .to_string();
    k.ok(&[
        "patch",
        "cronjob",
        "tick",
        "--subresource=status",
        "--type=merge",
        "-p",
        &json!({"status": {"lastScheduleTime": t0}}).to_string(),
    ]);
    k.ok(&[
        "patch",
        "cronjob",
        "tick",
        "--type=merge",
        "-p",
        r#"{"spec": {"suspend": false, "concurrencyPolicy": "Replace"}}"#,
    ]);
    k.ok(&["wait", "--for=delete", "job/manual", "--timeout=60s"]);
    k.ok(&[
        "wait",
        "cronjob/tick",
        "--for=jsonpath={.status.active[0].kind}=Job",
        "--timeout=60s",
    ]);
    let cj = k.json(&["get", "cronjob", "tick", "-o", "json"]);
    let name = cj["status"]["active"][0]["name"].as_str().expect("active");
    let minutes: i64 = name
        .strip_prefix("tick-")
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("a scheduled name, got {name}"));
    let last = cj["status"]["lastScheduleTime"]
        .as_str()
        .expect("lastScheduleTime");
    let last_s = last
        .parse::<k8s_openapi::jiff::Timestamp>()
        .expect("time")
        .as_second();
    assert_eq!(last_s, minutes * 60, "{cj}");
    let job = k.json(&["get", "job", name, "-o", "json"]);
    assert_eq!(job["metadata"]["labels"]["from"], "tick");
    assert_eq!(
        job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"],
        last
    );
    let owner = &job["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "CronJob");
    assert_eq!(owner["uid"], cj["metadata"]["uid"]);
    // Deleting the CronJob garbage-collects its Jobs.
    k.ok(&["delete", "cronjob", "tick"]);
    k.ok(&[
        "wait",
        "--for=delete",
        &format!("job/{name}"),
        "--timeout=60s",
    ]);
}

#[test]
fn kubectl_explain_and_strict_validation_read_the_schemas() {
    if !kubectl_present() {
        return;
    }
    let k = Kube::new("openapi");
    let out = k.ok(&["explain", "deployment.spec.replicas"]);
    assert!(out.contains("Number of desired pods"), "{out}");
    assert!(out.contains("integer"), "{out}");
    let out = k.ok(&["explain", "pods.spec.containers.image"]);
    assert!(out.contains("Container image name"), "{out}");

    // A CRD's schema: the repository's TradingBot.
    let root = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo"))
        .join("../../crds/manifests");
    k.ok(&["apply", "-f", &root.display().to_string()]);
    let out = k.ok(&["explain", "tradingbots.spec"]);
    assert!(out.contains("KIND:") && out.contains("TradingBot"), "{out}");
    assert!(out.contains("FIELDS:"), "{out}");

    // kubectl's default --validate=strict: an unknown field is refused by name.
    let bad = DEPLOYMENT.replace("replicas: 1", "replicas: 1\n  replicaz: 2");
    let p = k.dir.join("bad.yaml");
    std::fs::write(&p, bad).expect("write");
    let out = k.run(&["apply", "--validate=strict", "-f", &p.display().to_string()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(r#"unknown field "spec.replicaz""#), "{err}");
    // --validate=false lets the server drop it, as a real one does.
    k.ok(&["apply", "--validate=false", "-f", &p.display().to_string()]);

    // /openapi/v2 (JSON) carries the same definitions.
    let v2 = k.json(&["get", "--raw", "/openapi/v2"]);
    assert_eq!(v2["swagger"], "2.0");
    assert_eq!(
        v2["definitions"]["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"][0]["kind"],
        "Deployment"
    );
}

#[test]
fn kubectl_moves_from_client_side_to_server_side_apply() {
    if !kubectl_present() {
        return;
    }
    let k = Kube::new("csa");
    k.apply("d.yaml", DEPLOYMENT);
    let two = DEPLOYMENT.replace("replicas: 1", "replicas: 2");
    let p = k.dir.join("d2.yaml");
    std::fs::write(&p, two).expect("write");
    // The changed replicas is owned by client-side apply, but its live value is the
    // last-applied one: kubectl takes it over without --force-conflicts.
    k.ok(&["apply", "--server-side", "-f", &p.display().to_string()]);
    let d = k.json(&[
        "get",
        "deployment",
        "web",
        "-o",
        "json",
        "--show-managed-fields",
    ]);
    assert_eq!(d["spec"]["replicas"], 2);
    let kubectl_apply = d["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .find(|e| e["manager"] == "kubectl" && e["operation"] == "Apply")
        .unwrap_or_else(|| panic!("no kubectl Apply entry: {d}"))
        .clone();
    assert!(
        kubectl_apply["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_some(),
        "{kubectl_apply}"
    );
}

#[test]
fn kubectl_serves_more_kinds_and_the_node() {
    if !kubectl_present() {
        return;
    }
    let k = Kube::new("kinds");
    // Tables of built-ins have Name and Age only: read the status itself.
    let out = k.ok(&[
        "get",
        "node",
        "tradewind-node",
        "-o",
        "jsonpath={.status.conditions[0].type}={.status.conditions[0].status}",
    ]);
    assert_eq!(out, "Ready=True");
    k.apply(
        "sts.yaml",
        &DEPLOYMENT
            .replace("kind: Deployment", "kind: StatefulSet")
            .replace(
                "spec:\n  replicas: 1",
                "spec:\n  serviceName: web\n  replicas: 1",
            ),
    );
    k.ok(&["scale", "statefulset", "web", "--replicas=2"]);
    let sts = k.json(&["get", "sts", "web", "-o", "json"]);
    assert_eq!(sts["spec"]["replicas"], 2);
    k.apply(
        "hpa.yaml",
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: web}\n  minReplicas: 1\n  maxReplicas: 3\n",
    );
    k.apply(
        "ing.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  defaultBackend: {service: {name: web, port: {number: 80}}}\n",
    );
    let out = k.ok(&["get", "hpa,ingress,sts", "-o", "name"]);
    for want in [
        "horizontalpodautoscaler.autoscaling/web",
        "ingress.networking.k8s.io/web",
        "statefulset.apps/web",
    ] {
        assert!(out.contains(want), "{out}");
    }
}
