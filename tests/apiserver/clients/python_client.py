"""Proof against the Python `kubernetes` client (PyPI), which nobody here wrote.

Usage: python python_client.py KUBECONFIG
Exercises create, get, list with selectors, a watch stream, merge and strategic patches,
a status read after the Deployment simulator, a 404/409 ApiException, and delete.
Prints "OK" and exits 0 when every check passes.
"""

import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def main(kubeconfig):
    config.load_kube_config(config_file=kubeconfig)
    core = client.CoreV1Api()
    apps = client.AppsV1Api()
    ns = "py"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))

    # Watch stream in the background, started before the changes.
    events = []
    started = threading.Event()

    def run_watch():
        w = watch.Watch()
        started.set()
        for ev in w.stream(core.list_namespaced_config_map, namespace=ns, timeout_seconds=5):
            events.append((ev["type"], ev["object"].metadata.name))
            if len(events) >= 3:
                w.stop()

    t = threading.Thread(target=run_watch)
    t.start()
    started.wait()
    time.sleep(0.5)

    cm = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings", labels={"app": "web"}),
        data={"level": "info"},
    )
    created = core.create_namespaced_config_map(ns, cm)
    check(created.metadata.uid and created.metadata.resource_version, "create sets uid and rv")
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="other", labels={"app": "db"}))
    )
    listed = core.list_namespaced_config_map(ns, label_selector="app=web")
    check([i.metadata.name for i in listed.items] == ["settings"], "label selector list")
    check(listed.metadata.resource_version, "list resourceVersion")

    patched = core.patch_namespaced_config_map("settings", ns, {"data": {"level": "debug"}})
    check(patched.data["level"] == "debug", "strategic merge patch via the client")

    try:
        core.create_namespaced_config_map(ns, cm)
        check(False, "duplicate create must fail")
    except ApiException as e:
        check(e.status == 409, f"AlreadyExists is 409, got {e.status}")
    try:
        core.read_namespaced_config_map("missing", ns)
        check(False, "missing read must fail")
    except ApiException as e:
        check(e.status == 404, f"NotFound is 404, got {e.status}")

    t.join(timeout=10)
    check(events[:3] == [("ADDED", "settings"), ("ADDED", "other"), ("MODIFIED", "settings")],
          f"watch events {events}")

    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx:1")]),
            ),
        ),
    )
    apps.create_namespaced_deployment(ns, dep)
    deadline = time.time() + 10
    ready = None
    while time.time() < deadline:
        ready = apps.read_namespaced_deployment_status("web", ns).status.ready_replicas
        if ready == 2:
            break
        time.sleep(0.1)
    check(ready == 2, f"simulator readyReplicas {ready}")

    core.delete_namespaced_config_map("settings", ns)
    left = [i.metadata.name for i in core.list_namespaced_config_map(ns).items]
    check(left == ["other"], f"after delete {left}")
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1])
