#!/usr/bin/env bash
# Proves that the README's two commands stand alone on a Debian machine with Rust.
#
# 1. Commands: every program the Makefile's recipes (`make -n demo test lint`), the report
#    check and the Rust tests (`Command::new("…")`) start is either part of Debian's
#    Essential set or installed/checked by tools/prereqs.sh. Takes seconds.
# 2. Fresh clone (unless --commands-only): clones HEAD into a temporary directory and runs
#    `make demo` and then `make test` there with an empty CARGO_TARGET_DIR, timing each.
#    --demo-only stops after `make demo` (the first-build time the README states).
#
# Measured 2026-12-06 with --demo-only on the project's 2-core machine while three other
# workspace builds ran on it (load average about 10): `make demo` from an empty target
# directory took 2,694 s of wall-clock time and 770 s of CPU time (rustc's user + system
# time, read from cargo's /proc/<pid>/stat), i.e. about 6.5 minutes of two idle cores.
#
# usage: tools/fresh_check.sh [--commands-only | --demo-only]
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-all}"

echo "== 1. every command the Makefile and the tests start is provided"
python3 - <<'PY'
import pathlib, re, subprocess, sys

# Debian's Essential packages (always installed) and shell builtins.
essential = {"rm", "mkdir", "cp", "date", "sed", "cat", "echo", "true", "test", "[", "for",
             "do", "done", "if", "then", "fi", "cd", "exit", "touch", "set", "bash", "sh",
             "env", "grep", "head", "tail", "id", "mktemp", "tee", "wc", "sort"}
prereqs = pathlib.Path("tools/prereqs.sh").read_text()
provided = set(re.findall(r"^want (\S+) ", prereqs, re.M))
provided |= {"cargo", "rustup", "python3", "node", "chromium"}

dry = subprocess.run(["make", "-n", "demo", "test", "lint", "report-check", "images"],
                     capture_output=True, text=True, check=True).stdout
used = {}
dry = dry.replace("\\\n", " ")
for line in dry.splitlines():
    if line.startswith("make["):
        continue
    for sub in re.findall(r"\$\(([a-z][\w.-]*)", line) + re.findall(r"\bCC_\w+=(\S+)", line):
        used.setdefault(sub, "Makefile")
    for part in re.split(r"&&|\|\||;|\||\bdo\b|\bthen\b", line):
        words = [w for w in part.split() if "=" not in w.split("/")[0] or w.startswith("/")]
        if words:
            used.setdefault(words[0], "Makefile")
for path in pathlib.Path(".").rglob("*.rs"):
    if "target" in path.parts:
        continue
    for cmd in re.findall(r'Command::new\("([^"]+)"\)', path.read_text(errors="replace")):
        used.setdefault(cmd, str(path))
for cand in re.findall(r'for candidate in \[([^\]]+)\]', pathlib.Path("tests/deploy/tests/gitops.rs").read_text()):
    for c in re.findall(r'"([^"]+)"', cand):
        used.setdefault(c, "tests/deploy/tests/gitops.rs")
used.setdefault("chromium", "tools/report_check/check.mjs")

missing = []
for cmd, where in sorted(used.items()):
    name = cmd.rsplit("/", 1)[-1]
    if cmd.startswith(("tools/", "./", "$")) or "/tradewind-venv/" in cmd or "/debug/" in cmd:
        status = "project file"
    elif name in essential:
        status = "Debian Essential / shell"
    elif name in provided or cmd in provided:
        status = "tools/prereqs.sh"
    elif name == "lua":
        status = "alternative to lua5.1 (tools/prereqs.sh)"
    else:
        status = "NOT PROVIDED"
        missing.append(cmd)
    print(f"  {cmd:<45} {status:<28} (from {where})")
if missing:
    sys.exit(f"commands nobody installs: {', '.join(missing)}")
PY
[ "$mode" = --commands-only ] && exit 0
tools/prereqs.sh

echo "== 2. the README's commands in a fresh clone, empty target directory"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
git clone --quiet "$PWD" "$tmp/clone"
export CARGO_TARGET_DIR="$tmp/target" CARGO_INCREMENTAL=0
cd "$tmp/clone"
start=$SECONDS
make demo
echo "== make demo: $((SECONDS - start)) s from an empty target directory"
[ "$mode" = --demo-only ] && exit 0
start=$SECONDS
make test
echo "== make test: $((SECONDS - start)) s"
