#!/usr/bin/env python3
"""Whole-process cost of `tradewind-bot backtest` as users run it: SmaCross(10, 20) over
the 1,000,000-bar series of compare_engines.py (same bundle, same data), read from CSV and
from the columnar binary format (`tradewind-bot data convert`), report written.

Prints, per input: wall time (hyperfine, warm page cache), peak RSS of the process
(getrusage of the child), and with --callgrind the instructions per bar (valgrind
--tool=callgrind, total and inside the engine's `Engine::step`). Also the input sizes and
the conversion time.

Usage: python3 tools/bench/whole_process.py --tradewind-bin PATH [--bars N]
       [--runs N] [--callgrind] [--callgrind-bars N]
Needs: numpy (the venv of compare_engines.py), hyperfine, valgrind for --callgrind.
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
try:
    import compare_engines  # noqa: E402  (re-executes in the bench venv if numpy is missing)
except SystemExit:
    raise


def backtest_args(binary, bundle, data, out):
    return [binary, "backtest", "-f", bundle, "--data", data, "--out", out]


def peak_rss_kib(cmd):
    """Peak RSS of `cmd` alone: run it from a fresh Python child so RUSAGE_CHILDREN sees only it."""
    probe = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe] + cmd, capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def hyperfine(cmds, runs, workdir):
    path = os.path.join(workdir, "hyperfine.json")
    args = ["hyperfine", "--warmup", "2", "--runs", str(runs), "--export-json", path, "-N"]
    for name, cmd in cmds:
        args += ["--command-name", name, " ".join(cmd)]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        return {r["command"]: r for r in json.load(f)["results"]}


def callgrind(cmd, workdir, name):
    """(instructions of the whole process, instructions inside Engine::step)."""
    out = os.path.join(workdir, f"callgrind.{name}")
    run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + cmd,
                         capture_output=True, text=True, check=True)
    total = int(re.search(r"Collected : (\d+)", run.stderr).group(1))
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", out], capture_output=True, text=True, check=True)
    step = 0
    for line in ann.stdout.splitlines():
        m = re.match(r"\s*([\d,]+) .*Engine<.*>::step\b", line)
        if m:
            step = max(step, int(m.group(1).replace(",", "")))
    return total, step


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tradewind-bin", required=True)
    p.add_argument("--bars", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--callgrind", action="store_true")
    p.add_argument("--callgrind-bars", type=int, default=200_000)
    a = p.parse_args()
    binary = os.path.abspath(a.tradewind_bin)
    with tempfile.TemporaryDirectory(prefix="tw-whole-") as work:
        bundle = os.path.join(work, "bot.yaml")
        with open(bundle, "w") as f:
            f.write(compare_engines.BUNDLE)
        csv = os.path.join(work, "bars.csv")
        compare_engines.write_csv(csv, a.bars)
        twb = os.path.join(work, "bars.twb")
        t = time.perf_counter()
        subprocess.run([binary, "data", "convert", "--from", csv, "--to", twb], check=True, stdout=subprocess.DEVNULL)
        convert = time.perf_counter() - t
        print(f"{a.bars:,} bars: CSV {os.path.getsize(csv):,} bytes, columnar {os.path.getsize(twb):,} bytes"
              f" ({os.path.getsize(twb) / a.bars:.2f} B/bar); convert {convert:.2f} s")
        cmds = [(name, backtest_args(binary, bundle, data, os.path.join(work, "out-" + name)))
                for name, data in (("csv", csv), ("columnar", twb))]
        results = hyperfine(cmds, a.runs, work)
        reports = {}
        for name, _ in cmds:
            with open(os.path.join(work, "out-" + name, "report.json")) as f:
                r = json.load(f)
            reports[name] = (r["bars"], len(r["trades"]), r["finalEquity"])
        print("| input | wall mean ± sd (s) | min (s) | bars/s (mean) | peak RSS (MiB) | trades | final equity |")
        print("|---|---|---|---|---|---|---|")
        for name, cmd in cmds:
            h = results[name]
            rss = peak_rss_kib(cmd) / 1024
            bars, trades, equity = reports[name]
            print(f"| {name} | {h['mean']:.3f} ± {h['stddev']:.3f} | {h['min']:.3f} | "
                  f"{bars / h['mean']:,.0f} | {rss:.1f} | {trades} | {equity} |")
        if a.callgrind:
            small_csv = os.path.join(work, "small.csv")
            compare_engines.write_csv(small_csv, a.callgrind_bars)
            small_twb = os.path.join(work, "small.twb")
            subprocess.run([binary, "data", "convert", "--from", small_csv, "--to", small_twb], check=True,
                           stdout=subprocess.DEVNULL)
            n = a.callgrind_bars
            print(f"\ninstructions per bar (callgrind, {n:,} bars):")
            print("| input | whole process | inside Engine::step | outside the engine |")
            print("|---|---|---|---|")
            for name, data in (("csv", small_csv), ("columnar", small_twb)):
                total, step = callgrind(backtest_args(binary, bundle, data, os.path.join(work, "cg-" + name)), work, name)
                print(f"| {name} | {total / n:,.0f} | {step / n:,.0f} | {(total - step) / n:,.0f} |")


if __name__ == "__main__":
    main()
