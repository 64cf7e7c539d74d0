"""Proof against the Helm engine (PyPI `helm-python-sdk`, which bundles Helm's Go SDK).

Usage: python helm_client.py KUBECONFIG CHART_DIR
Installs the chart with Helm's status watcher waiting for readiness, upgrades it with
new values, lists releases, uninstalls it, and checks the objects and Helm's release
Secrets through the Python `kubernetes` client. Prints "OK" on success.
"""

import sys

import helm_python as helm
from kubernetes import client, config


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def main(kubeconfig, chart):
    config.load_kube_config(config_file=kubeconfig)
    core = client.CoreV1Api()
    with helm.Config(kubeconfig_path=kubeconfig, namespace="default") as cfg:
        rel = cfg.install(chart, "demo", {"level": "debug"}, wait="watcher", timeout=30)
        check(rel["status"] == "deployed" and rel["revision"] == 1, f"install {rel.get('status')}")
        cm = core.read_namespaced_config_map("demo-settings", "default")
        check(cm.data["level"] == "debug", "values rendered into the ConfigMap")
        check(core.read_namespaced_service("demo-svc", "default").spec.ports[0].port == 8080, "service")
        core.read_namespaced_service_account("demo-sa", "default")
        secrets = core.list_namespaced_secret("default", label_selector="owner=helm,name=demo")
        check(len(secrets.items) == 1, "release stored in a Secret (protobuf body from client-go)")

        rel = cfg.upgrade(chart, "demo", {"level": "warn", "port": 9090}, wait="watcher", timeout=30)
        check(rel["status"] == "deployed" and rel["revision"] == 2, f"upgrade {rel.get('revision')}")
        cm = core.read_namespaced_config_map("demo-settings", "default")
        check(cm.data["level"] == "warn", "upgrade changed the ConfigMap")
        check(core.read_namespaced_service("demo-svc", "default").spec.ports[0].port == 9090, "service upgraded")
        check([r["name"] for r in cfg.list()] == ["demo"], "release listed")

        gone = cfg.uninstall("demo", wait="watcher", timeout=30)
        check(gone["release"]["status"] == "uninstalled", f"uninstall {gone}")
        left = [c.metadata.name for c in core.list_namespaced_config_map("default").items]
        check("demo-settings" not in left, f"uninstall removed the ConfigMap: {left}")
        secrets = core.list_namespaced_secret("default", label_selector="owner=helm,name=demo")
        check(len(secrets.items) == 0, "release Secrets removed")
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
