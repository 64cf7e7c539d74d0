"""Drives the Helm engine (PyPI `helm-python-sdk`, which bundles Helm's Go SDK) for
tests/deploy. Every command prints one JSON document on stdout.

  chart.py lint CHART VALUES_JSON
  chart.py render CHART VALUES_JSON RELEASE NAMESPACE
  chart.py install KUBECONFIG CHART VALUES_JSON RELEASE NAMESPACE [WAIT]
  chart.py uninstall KUBECONFIG RELEASE NAMESPACE

WAIT is Helm's wait strategy (`legacy`: Deployments' ReplicaSets and pods ready, as
`helm install --wait`; `watcher`: kstatus); without it the install does not wait.
`render` prints {"objects": [...every rendered object...], "notes": "..."} or
{"error": {"type": ..., "message": ...}} when Helm refuses the values or the templates.
"""

import json
import sys

import helm_python as helm
import yaml


def objects(rendered):
    out, notes = [], ""
    for path in sorted(rendered):
        if path.endswith("NOTES.txt"):
            notes = rendered[path]
            continue
        for doc in yaml.safe_load_all(rendered[path]):
            if doc:
                doc.setdefault("metadata", {}).setdefault("annotations", {})
                doc["metadata"]["annotations"]["test.tradewind.dev/template"] = path
                out.append(doc)
    return out, notes


def main(cmd, *args):
    if cmd == "lint":
        chart, values = args
        return helm.lint(chart, json.loads(values), strict=True, kube_version="v1.33.0")
    if cmd == "render":
        chart, values, release, namespace = args
        try:
            rendered = helm.Chart.load(chart).render(
                json.loads(values), name=release, namespace=namespace, is_install=True
            )
        except helm.HelmError as e:
            return {"error": {"type": type(e).__name__, "message": str(e)}}
        objs, notes = objects(rendered)
        return {"objects": objs, "notes": notes}
    if cmd == "install":
        kubeconfig, chart, values, release, namespace, *wait = args
        with helm.Config(kubeconfig_path=kubeconfig, namespace=namespace) as cfg:
            rel = cfg.install(
                chart, release, json.loads(values), namespace=namespace,
                create_namespace=True, wait=wait[0] if wait else None, timeout=120,
            )
            return {"status": rel["status"], "revision": rel["revision"]}
    if cmd == "uninstall":
        kubeconfig, release, namespace = args
        with helm.Config(kubeconfig_path=kubeconfig, namespace=namespace) as cfg:
            gone = cfg.uninstall(release, wait="hookOnly", timeout=60)
            return {"status": gone["release"]["status"]}
    raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
