//! Deployments, ReplicaSets and pods, driven with the real `kubectl`: simulated pods
//! (image not mapped) through `rollout status/restart/undo`, and real processes run by
//! the process kubelet (bubblewrap + a network namespace): env, volumes, the API reachable
//! from inside the pod, `kubectl logs` (and `--previous`), a killed process restarted,
//! CrashLoopBackOff with its exit code, and deletion ending the processes. Every wait
//! is `kubectl rollout status` or `kubectl wait` (watches) with a timeout.
//!
//! Skipped with a printed reason when kubectl is missing; the process tests also when
//! not root or when `bwrap`, `ip` or `nsenter` is missing (`make prereqs` installs them).

mod kubectl_env;
use kubectl_env::Kube;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tradewind_apiserver::{Config, ImageMap, KubeletConfig};

fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

fn kubectl_present() -> bool {
    let ok = have("kubectl");
    if !ok {
        eprintln!("SKIPPED: kubectl is not installed on this machine");
    }
    ok
}

fn processes_possible() -> bool {
    // SAFETY: getuid(2) has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    let missing: Vec<&str> = ["bwrap", "ip", "nsenter"]
        .into_iter()
        .filter(|p| !have(p))
        .collect();
    if !root || !missing.is_empty() {
        eprintln!(
            "SKIPPED: the process kubelet needs root (root: {root}) and bwrap, ip, nsenter (missing: {missing:?})"
        );
        return false;
    }
    true
}

impl Kube {
    fn jsonpath(&self, what: &str, path: &str) -> String {
        let format = format!("jsonpath={path}");
        let mut args = vec!["get"];
        args.extend(what.split_whitespace());
        args.extend(["-o", &format]);
        self.ok(&args)
    }

    fn wait(&self, what: &str, condition: &str) {
        self.ok(&["wait", &format!("--for={condition}"), what, "--timeout=60s"]);
    }
}

const SIMULATED: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: c, image: "nginx:1"}
"#;

#[test]
fn simulated_pods_roll_out_restart_and_undo() {
    if !kubectl_present() {
        return;
    }
    let k = Kube::new("sim");
    k.apply("web.yaml", SIMULATED);
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    let pods = k.ok(&["get", "pods", "-l", "app=web"]);
    assert_eq!(pods.matches("Running").count(), 3, "{pods}");
    assert!(pods.contains("1/1"), "{pods}");
    // Marked as simulated, with a made-up containerID.
    let message = k.jsonpath("pods", "{.items[0].status.message}");
    assert!(message.starts_with("simulated:"), "{message}");
    assert!(message.contains("nginx:1"), "{message}");
    let id = k.jsonpath(
        "pods",
        "{.items[0].status.containerStatuses[0].containerID}",
    );
    assert!(id.starts_with("simulated://"), "{id}");
    // The pods belong to a ReplicaSet named after the template hash, at revision 1.
    let rs1 = k.jsonpath("rs", "{.items[0].metadata.name}");
    let hash = k.jsonpath("rs", "{.items[0].metadata.labels.pod-template-hash}");
    assert_eq!(rs1, format!("web-{hash}"));
    let owner = k.jsonpath("pods", "{.items[0].metadata.ownerReferences[0].name}");
    assert_eq!(owner, rs1);
    assert_eq!(
        k.jsonpath(
            "deployment/web",
            "{.metadata.annotations.deployment\\.kubernetes\\.io/revision}"
        ),
        "1"
    );

    k.ok(&["rollout", "restart", "deployment/web"]);
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    let history = k.ok(&["rollout", "history", "deployment/web"]);
    assert!(
        history.contains("\n1 ") && history.contains("\n2 "),
        "{history}"
    );
    assert_eq!(k.jsonpath(&format!("rs/{rs1}"), "{.spec.replicas}"), "0");

    // Undo goes back to the first template: its ReplicaSet (same hash) becomes revision 3.
    k.ok(&["rollout", "undo", "deployment/web"]);
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert_eq!(k.jsonpath(&format!("rs/{rs1}"), "{.spec.replicas}"), "3");
    assert_eq!(
        k.jsonpath(
            &format!("rs/{rs1}"),
            "{.metadata.annotations.deployment\\.kubernetes\\.io/revision}"
        ),
        "3"
    );
    let names = k.jsonpath("rs", "{.items[*].metadata.name}");
    assert_eq!(names.split_whitespace().count(), 2, "{names}");

    // Scaling down removes pods; deleting the Deployment collects ReplicaSets and pods.
    k.ok(&[
        "patch",
        "deployment/web",
        "-p",
        r#"{"spec":{"replicas":1}}"#,
    ]);
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert_eq!(k.jsonpath("deployment/web", "{.status.replicas}"), "1");
    // Foreground: kubectl returns once the ReplicaSets and pods are gone too.
    k.ok(&[
        "delete",
        "deployment/web",
        "--cascade=foreground",
        "--timeout=60s",
    ]);
    assert_eq!(k.ok(&["get", "rs,pods", "-o", "name"]).trim(), "");
}

/// The container every process test runs: prints what it sees, reaches the API, and then
/// serves (until SIGTERM), crashes, or exits.
const SCRIPT: &str = r#"#!/bin/bash
echo "started $HOSTNAME args=$*"
echo "MODE=$MODE SECRET=$SECRET_VALUE NS=$POD_NS PREFIXED=$CFG_mode"
echo "greeting=$(cat /etc/tw-conf/greeting)"
echo "namespace=$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace)"
echo "token=$(cut -c1-3 /var/run/secrets/kubernetes.io/serviceaccount/token)"
echo "state=$(cat /state/mark 2>/dev/null)"; echo "$HOSTNAME" > /state/mark
if exec 3<>"/dev/tcp/$KUBERNETES_SERVICE_HOST/$KUBERNETES_SERVICE_PORT"; then
  printf 'GET /version HTTP/1.0\r\n\r\n' >&3; echo "api=$(head -1 <&3)"
fi
if exec 4<>"/dev/tcp/$KUBERNETES_SERVICE_HOST/@HOST_PORT@"; then echo "host=$(head -1 <&4)"; fi
case "$1" in
  job) echo "index=$JOB_COMPLETION_INDEX"; exit 0;;
  crash) echo crashing; exit 1;;
  incluster) d=/var/run/secrets/kubernetes.io/serviceaccount
    curl -sS --cacert "$d/ca.crt" -H "Authorization: Bearer $(cat "$d/token")" \
      "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/api/v1/namespaces/$(cat "$d/namespace")/secrets"
    echo "curl=$?"; exit 0;;
  serve) trap 'echo got SIGTERM; [ -d /host ] && echo "$HOSTNAME" >> /host/terminated; exit 0' TERM
    while true; do sleep 0.1; done;;
  http) exec python3 -m http.server 8080 --bind 0.0.0.0;;
  wilting) trap 'exit 0' TERM; touch /tmp/alive
    for i in $(seq 15); do sleep 0.1; done; rm /tmp/alive
    while true; do sleep 0.1; done;;
esac
"#;

const PROCESS_APP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {greeting: hello from a configmap, mode: paper}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {value: s3cr3t}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: state}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bot}
spec:
  replicas: 1
  selector: {matchLabels: {app: bot}}
  template:
    metadata: {labels: {app: bot}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: main
        image: ghcr.io/example/tw-test:1.0
        args: [serve]
        envFrom: [{prefix: CFG_, configMapRef: {name: conf}}]
        env:
        - {name: MODE, valueFrom: {configMapKeyRef: {name: conf, key: mode}}}
        - {name: SECRET_VALUE, valueFrom: {secretKeyRef: {name: creds, key: value}}}
        - {name: POD_NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
        readinessProbe: {exec: {command: [test, -f, /etc/tw-conf/greeting]}, periodSeconds: 1}
        volumeMounts:
        - {name: conf, mountPath: /etc/tw-conf}
        - {name: token, mountPath: /var/run/secrets/kubernetes.io/serviceaccount}
        - {name: state, mountPath: /state}
      volumes:
      - {name: conf, configMap: {name: conf}}
      - {name: state, persistentVolumeClaim: {claimName: state}}
      - name: token
        projected:
          sources:
          - serviceAccountToken: {path: token}
          - downwardAPI: {items: [{path: namespace, fieldRef: {fieldPath: metadata.namespace}}]}
"#;

const STUCK: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck}
spec:
  progressDeadlineSeconds: 2
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec:
      containers:
      - name: c
        image: "tw-test:1"
        args: [serve]
        readinessProbe: {exec: {command: ["false"]}, periodSeconds: 1}
"#;

const CRASHER: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers: [{name: c, image: "tw-test:2", args: [crash]}]
"#;

const JOBS: &str = r#"apiVersion: batch/v1
kind: Job
metadata: {name: indexed}
spec:
  completions: 3
  parallelism: 2
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "tw-test:1", args: [job]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: failing}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "tw-test:1", args: [crash]}]
"#;

#[test]
fn jobs_run_indexed_pods_to_completion_or_fail_past_their_backoff_limit() {
    if !kubectl_present() || !processes_possible() {
        return;
    }
    let k = process_server("jobs");
    k.apply("jobs.yaml", JOBS);
    k.wait("job/indexed", "condition=complete");
    let shown = k.ok(&["get", "job", "indexed"]);
    assert!(
        shown.contains("Complete") && shown.contains("3/3"),
        "{shown}"
    );
    assert_eq!(
        k.jsonpath("job/indexed", "{.status.completedIndexes}"),
        "0-2"
    );
    assert_eq!(k.jsonpath("job/indexed", "{.status.succeeded}"), "3");
    for i in 0..3 {
        let pod = k.jsonpath(
            &format!("pods -l batch.kubernetes.io/job-completion-index={i},job-name=indexed"),
            "{.items[0].metadata.name}",
        );
        assert!(pod.starts_with(&format!("indexed-{i}-")), "{pod}");
        assert_eq!(
            k.jsonpath(&format!("pod/{pod}"), "{.status.phase}"),
            "Succeeded"
        );
        assert!(k.ok(&["logs", &pod]).contains(&format!("index={i}")));
    }

    k.wait("job/failing", "condition=failed");
    assert_eq!(
        k.jsonpath("job/failing", "{.status.conditions[0].reason}"),
        "BackoffLimitExceeded"
    );
    assert_eq!(k.jsonpath("job/failing", "{.status.failed}"), "2");
    let pods = k.ok(&["get", "pods", "-l", "job-name=failing"]);
    assert_eq!(pods.matches("Error").count(), 2, "{pods}");
}

const IN_CLUSTER: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: incluster}
spec:
  restartPolicy: Never
  containers: [{name: c, image: "tw-test:1", args: [incluster]}]
"#;

/// A pod that mounts nothing gets the ServiceAccount admission's volume, and an in-cluster
/// client verifies the server's certificate at `KUBERNETES_SERVICE_HOST` (the pod's
/// gateway) with that `ca.crt`, authenticating as the namespace's `default` account.
#[test]
fn a_pod_reaches_the_api_in_cluster_as_its_service_account() {
    if !kubectl_present() || !processes_possible() || !have("curl") {
        return;
    }
    let k = process_server("incluster");
    k.apply("incluster.yaml", IN_CLUSTER);
    k.wait("pod/incluster", "jsonpath={.status.phase}=Succeeded");
    let volume = k.jsonpath("pod/incluster", "{.spec.volumes[0].name}");
    assert!(volume.starts_with("kube-api-access-"), "{volume}");
    assert_eq!(
        k.jsonpath(
            "pod/incluster",
            "{.spec.containers[0].volumeMounts[0].mountPath}"
        ),
        "/var/run/secrets/kubernetes.io/serviceaccount"
    );
    let logs = k.ok(&["logs", "incluster"]);
    // TLS verified (curl exits 0) and RBAC applied to the ServiceAccount: 403.
    assert!(logs.contains("curl=0"), "{logs}");
    assert!(
        logs.contains(
            r#"User \"system:serviceaccount:default:default\" cannot list resource \"secrets\""#
        ),
        "{logs}"
    );
}

const PROBED: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: c
    image: "tw-test:1"
    args: [http]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: wilting}
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - name: c
    image: "tw-test:1"
    args: [wilting]
    livenessProbe:
      exec: {command: [test, -f, /tmp/alive]}
      initialDelaySeconds: 1
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {name: graceful}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: c
    image: "tw-test:1"
    args: [serve]
    volumeMounts: [{name: host, mountPath: /host}]
  volumes: [{name: host, hostPath: {path: HOSTDIR}}]
"#;

#[test]
fn probes_drive_readiness_and_restarts_and_deletion_sends_sigterm() {
    if !kubectl_present() || !processes_possible() {
        return;
    }
    let k = process_server("probes");
    let host_dir = k.dir.join("host");
    std::fs::create_dir_all(&host_dir).expect("host dir");
    k.apply(
        "probed.yaml",
        &PROBED.replace("HOSTDIR", &host_dir.display().to_string()),
    );
    // An HTTP readiness probe against the pod's own address (its network namespace).
    k.wait("pod/web", "condition=Ready");
    // An exec liveness probe that starts failing (it runs in the container's own mount
    // view: /tmp/alive is the container's): the kubelet restarts the container.
    k.wait(
        "pod/wilting",
        "jsonpath={.status.containerStatuses[0].restartCount}=1",
    );
    assert_eq!(
        k.jsonpath(
            "pod/wilting",
            "{.status.containerStatuses[0].lastState.terminated.exitCode}"
        ),
        "0",
        "stopped with SIGTERM, which it handles by exiting 0"
    );
    // Deletion: SIGTERM first (the script records it), well within the grace period;
    // `kubectl logs -f` follows the run to its end.
    k.wait("pod/graceful", "condition=Ready");
    let mut follow = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&k.kubeconfig)
        .args(["logs", "-f", "graceful"])
        .env("KUBECACHEDIR", k.dir.join("cache"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl logs -f");
    let stdout = follow.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The first line means the stream is open; then delete.
    let mut followed = vec![
        rx.recv_timeout(Duration::from_secs(60))
            .expect("a first line"),
    ];
    k.ok(&["delete", "pod/graceful", "--timeout=60s"]);
    // The stream ends (the sender goes) when the run has ended.
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        followed.push(line);
    }
    assert!(follow.wait().expect("kubectl logs -f").success());
    let followed = followed.join("\n");
    assert!(followed.contains("args=serve"), "{followed}");
    assert!(followed.contains("got SIGTERM"), "{followed}");
    let terminated = std::fs::read_to_string(host_dir.join("terminated")).unwrap_or_default();
    assert_eq!(terminated.trim(), "graceful");
}

fn process_server(tag: &str) -> Kube {
    let dir = std::env::temp_dir().join(format!("tw-workloads-exe-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    // A service on the host's loopback that pods reach through their gateway's relay.
    let host = std::net::TcpListener::bind("127.0.0.1:0").expect("host service");
    let host_port = host.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut conn in host.incoming().flatten() {
            let _ = std::io::Write::write_all(&mut conn, b"relayed from the host\n");
        }
    });
    let script = dir.join("tw-test.sh");
    std::fs::write(
        &script,
        SCRIPT.replace("@HOST_PORT@", &host_port.to_string()),
    )
    .expect("script");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let config = Config {
        kubelet: KubeletConfig {
            images: ImageMap::parse(&format!("tw-test:*={}", script.display())).expect("map"),
            runtime_dir: None,
            crash_backoff: Duration::from_secs(10),
            host_ports: vec![host_port],
        },
        ..Config::default()
    };
    Kube::with_config(tag, config)
}

fn container_pid(k: &Kube, pod: &str) -> i32 {
    let id = k.jsonpath(
        &format!("pod/{pod}"),
        "{.status.containerStatuses[0].containerID}",
    );
    let sandbox: u32 = id
        .strip_prefix("process://")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("a process containerID: {id:?}"));
    // bwrap's child is the container's main process.
    let children = std::fs::read_to_string(format!("/proc/{sandbox}/task/{sandbox}/children"))
        .expect("the sandbox process exists");
    children
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the container's process")
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn process_pods_run_restart_log_and_stop() {
    if !kubectl_present() || !processes_possible() {
        return;
    }
    let k = process_server("proc");
    k.apply("app.yaml", PROCESS_APP);
    k.ok(&["rollout", "status", "deployment/bot", "--timeout=60s"]);
    let pods = k.ok(&["get", "pods"]);
    assert!(pods.contains("1/1") && pods.contains("Running"), "{pods}");
    let pod = k.jsonpath("pods", "{.items[0].metadata.name}");
    let ip = k.jsonpath(&format!("pod/{pod}"), "{.status.podIP}");
    assert!(ip.starts_with("10.77."), "{ip}");
    assert!(
        k.jsonpath(&format!("pod/{pod}"), "{.status.message}")
            .is_empty()
    );
    assert_eq!(k.jsonpath("pvc/state", "{.status.phase}"), "Bound");

    // What the process saw: env from every source, volumes, the API at its gateway.
    let logs = k.ok(&["logs", &pod]);
    for want in [
        "args=serve",
        "MODE=paper SECRET=s3cr3t NS=default PREFIXED=paper",
        "greeting=hello from a configmap",
        "namespace=default",
        "token=eyJ",
        "api=HTTP/1.0 200 OK",
        "host=relayed from the host",
    ] {
        assert!(logs.contains(want), "{want:?} not in:\n{logs}");
    }

    // Killed: the kubelet restarts it; the previous run's output stays readable, and the
    // claim's directory outlives the run.
    let pid = container_pid(&k, &pod);
    // SAFETY: kill(2) on the container's process started by this test's server.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    k.wait(
        &format!("pod/{pod}"),
        "jsonpath={.status.containerStatuses[0].restartCount}=1",
    );
    k.wait(&format!("pod/{pod}"), "condition=Ready");
    let last = k.jsonpath(
        &format!("pod/{pod}"),
        "{.status.containerStatuses[0].lastState.terminated.exitCode}",
    );
    assert_eq!(last, "137");
    assert!(k.ok(&["logs", "--previous", &pod]).contains("args=serve"));
    assert!(k.ok(&["logs", &pod]).contains(&format!("state={pod}")));

    // A container that exits 1 goes into CrashLoopBackOff.
    k.apply("crasher.yaml", CRASHER);
    k.wait(
        "pod/crasher",
        "jsonpath={.status.containerStatuses[0].state.waiting.reason}=CrashLoopBackOff",
    );
    let status = k.ok(&["get", "pod", "crasher"]);
    assert!(status.contains("CrashLoopBackOff"), "{status}");
    assert_eq!(
        k.jsonpath(
            "pod/crasher",
            "{.status.containerStatuses[0].lastState.terminated.exitCode}"
        ),
        "1"
    );
    let restarts: i64 = k
        .jsonpath("pod/crasher", "{.status.containerStatuses[0].restartCount}")
        .parse()
        .expect("restartCount");
    assert!(restarts > 0);
    assert!(k.ok(&["logs", "crasher"]).contains("crashing"));

    // A rollout whose pod never becomes ready (its readiness probe fails) passes its progress deadline, and
    // `kubectl rollout status` says so.
    k.apply("stuck.yaml", STUCK);
    let out = k.run(&["rollout", "status", "deployment/stuck", "--timeout=60s"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("exceeded its progress deadline"), "{err}");

    // Deleting the Deployment ends its process (SIGTERM, within the grace period).
    let pid = container_pid(&k, &pod);
    k.ok(&["delete", "deployment/bot"]);
    k.wait(&format!("pod/{pod}"), "delete");
    assert!(!alive(pid), "process {pid} outlived its pod");

    // Stopping the server kills the rest and removes its network namespaces.
    let crasher_ip = k.jsonpath("pod/crasher", "{.status.podIP}");
    let octets: Vec<u32> = crasher_ip
        .split('.')
        .filter_map(|o| o.parse().ok())
        .collect();
    let idx = ((octets[2] << 8) + octets[3]) / 4;
    k.server.handle().shutdown();
    let netns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip");
    let listed = String::from_utf8_lossy(&netns.stdout);
    assert!(
        !listed.split_whitespace().any(|n| n == format!("tw-{idx}")),
        "tw-{idx} left behind: {listed}"
    );
}
