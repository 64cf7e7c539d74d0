#!/usr/bin/env python3
"""Proof against the real Helm engine (PyPI `helm-python-sdk`, Helm v4's Go SDK behind a C
ABI): render a small chart, install it (release stored in a Secret, as Helm does),
list it, upgrade it and uninstall it; the objects must appear and disappear.

Usage: helm_chart.py KUBECONFIG
"""
import os
import sys
import tempfile

import helm_python as helm

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: proof\nversion: 0.1.0\n",
    "values.yaml": "greeting: hello\nport: 8080\n",
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"),
    "templates/service.yaml": (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-svc\n"
        "spec:\n  selector:\n    app: proof\n  ports:\n    - name: http\n      port: {{ .Values.port }}\n"),
}


def expect(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")


def main():
    kubeconfig = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        chart_dir = os.path.join(tmp, "proof")
        for path, text in CHART.items():
            full = os.path.join(chart_dir, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        with helm.Chart.load(chart_dir) as chart:
            rendered = chart.render({}, name="demo", namespace="default")
            expect(any("demo-cfg" in m for m in rendered.values()), "chart renders")
        with helm.Config(namespace="default", kubeconfig_path=kubeconfig) as cfg:
            release = cfg.install(chart_dir, "demo", {"greeting": "hi"})
            expect(release["status"] == "deployed", f"install deployed ({release['status']})")
            names = [r["name"] for r in cfg.list()]
            expect("demo" in names, f"release listed ({names})")
            up = cfg.upgrade(chart_dir, "demo", {"greeting": "hey"})
            expect(up["revision"] == 2, f"upgrade is revision 2 ({up['revision']})")
            expect(cfg.get_values("demo") == {"greeting": "hey"}, "upgraded values")
            cfg.uninstall("demo")
            expect("demo" not in [r["name"] for r in cfg.list()], "uninstalled")
    print("helm: all checks passed")


if __name__ == "__main__":
    main()
