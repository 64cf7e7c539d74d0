#!/usr/bin/env python3
"""Model-strategy benchmarks for BENCHMARKS.md, in one run on the same data:

1. `tradewind-bot backtest` of the example Model bot over the SPY quarter (release
   build): engine bars/s (features, tract inference, decisions, matching, accounting;
   from the binary's own log line), wall time and peak RSS;
2. the same decision loop in Python with onnxruntime (one thread) over the same feature
   rows, which `tradewind-bot features` wrote: one inference per bar on a [1, 9] input and
   the threshold rule. It computes no features and no accounting, so it is the lighter
   loop; per-call latency p50/p99 and bars/s;
3. the worker (`tradewind-bot run --paper`, replaying the bundled Binance trades) with the
   model loaded: peak RSS, against the same worker running an SmaCross bot.

    python tools/ml/bench.py --tradewind-bin target/release/tradewind-bot

With `--bench-bin` (the compiled `cargo bench -p tradewind-core --bench model`
executable) instead: that bench runs (tract p50/p99 per decision, the core's backtest
loop with the Model strategy in bars/s over its 50,000-bar random walk) and writes the
feature rows it fed the model; the same onnxruntime loop then runs on those rows, in the
same run.

    python tools/ml/bench.py --bench-bin "$(ls -t $CARGO_TARGET_DIR/release/deps/model-* | grep -v '\.d$' | head -1)"
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
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/models/spy-gbm.yaml"
MODEL = "examples/models/spy-gbm.onnx"
SPY = "examples/data/spy_1m_2019q2.csv"


def run(cmd, env=None, **kw):
    return subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=True, **kw)


def peak_rss(cmd, seconds=None):
    """Runs cmd in a wrapper Python that reports the child's own peak RSS (MiB)."""
    wrapper = (
        "import resource,subprocess,sys,json,signal,time\n"
        "p=subprocess.Popen(json.loads(sys.argv[1]),stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)\n"
        "t=float(sys.argv[2])\n"
        "if t>0:\n    time.sleep(t); p.send_signal(signal.SIGTERM)\n"
        "p.wait()\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024)\n"
    )
    out = run([sys.executable, "-c", wrapper, json.dumps(cmd), str(seconds or 0)])
    return float(out.stdout.strip())


def onnxruntime_loop(rows):
    """One inference per row on a [1, n] float input (one thread) and the threshold rule."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(ROOT / MODEL), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    lat = []
    long = False
    entries = 0
    t0 = time.perf_counter()
    for row in rows:
        if not np.all(np.isfinite(row)):
            continue
        x = row.astype(np.float32).reshape(1, -1)
        t = time.perf_counter_ns()
        p = sess.run(["probabilities"], {name: x})[0][0, 1]
        lat.append(time.perf_counter_ns() - t)
        if p > 0.55 and not long:
            long, entries = True, entries + 1
        elif p < 0.45 and long:
            long = False
    loop = time.perf_counter() - t0
    lat = np.array(lat) / 1000
    print(f"python onnxruntime loop: {len(lat)} decisions in {loop*1e3:.1f} ms ({len(rows)/loop:,.0f} rows/s), "
          f"inference p50 {np.percentile(lat, 50):.1f} µs p99 {np.percentile(lat, 99):.1f} µs, {entries} entries")


def from_bench(bench_bin, tmp):
    """The core's model bench and the onnxruntime loop on the rows it wrote."""
    rows_csv = tmp / "bench-rows.csv"
    out = run([bench_bin, "--bench", "--warm-up-time", "1", "--measurement-time", "3"],
              env={"TW_MODEL_BENCH_ROWS": str(rows_csv)})
    for line in out.stdout.splitlines():
        if line.startswith("model/"):
            print(f"tract (cargo bench): {line}")
    rows = np.genfromtxt(rows_csv, delimiter=",", skip_header=1)
    onnxruntime_loop(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tradewind-bin")
    ap.add_argument("--bench-bin")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tw-model-bench-"))
    if args.bench_bin:
        from_bench(str(Path(args.bench_bin).resolve()), tmp)
        return
    if not args.tradewind_bin:
        ap.error("give --tradewind-bin or --bench-bin")
    bin_ = str(Path(args.tradewind_bin).resolve())

    # 1. Tradewind backtest.
    t = time.perf_counter()
    out = run([bin_, "backtest", "-f", EXAMPLE, "--bot", "spy-model", "--data", SPY, "--out", str(tmp / "bt")],
              env={"RUST_LOG": "info", "NO_COLOR": "1"})
    wall = time.perf_counter() - t
    log = re.sub(r"\x1b\[[0-9;]*m", "", out.stderr)
    m = re.search(r"bars=(\d+) engine_seconds=([0-9.e-]+) bars_per_second=([0-9.e+-]+)", log)
    bars, engine_s, bps = int(m.group(1)), float(m.group(2)), float(m.group(3))
    rss_bt = peak_rss([bin_, "backtest", "-f", str(ROOT / EXAMPLE), "--bot", "spy-model", "--data", str(ROOT / SPY), "--out", str(tmp / "bt2")])
    print(f"tradewind backtest: {bars} bars in {engine_s*1e3:.1f} ms engine ({bps:,.0f} bars/s), wall {wall:.3f} s, peak RSS {rss_bt:.1f} MiB")

    # 2. Python + onnxruntime, same rows.
    feats = tmp / "features.csv"
    run([bin_, "features", "-f", EXAMPLE, "--bot", "spy-model", "--data", SPY, "--horizon", "12", "--out", str(feats)])
    rows = np.genfromtxt(feats, delimiter=",", skip_header=1)[:, 2:-1]
    onnxruntime_loop(rows)

    # 3. Worker RSS with the model loaded vs a rule bot, paper on the bundled replay.
    model_bot = (ROOT / EXAMPLE).read_text()
    strategy = model_bot.split("---")[0].replace(f"path: {MODEL}", f"path: {ROOT / MODEL}")
    paper = strategy + """---
apiVersion: tradewind.dev/v1alpha1
kind: TradingBot
metadata:
  name: model-paper
spec:
  mode: Paper
  strategyRef:
    name: spy-gbm-5m
  accountRef:
    name: demo
  venue:
    exchange: Binance
  symbols: [BTCUSDT]
  capital:
    amount: "10000"
    currency: USDT
"""
    (tmp / "paper.yaml").write_text(paper)
    replay = ["--paper", "--kubernetes", "off", "--market-data", "replay", "--replay-file",
              str(ROOT / "examples/data/binance_spot_btcusdt_l1_trades.jsonl"), "--replay-speed", "1000",
              "--metrics-addr", "127.0.0.1:0"]
    rss_model = peak_rss([bin_, "run", "-f", str(tmp / "paper.yaml"), "--state-dir", str(tmp / "s1")] + replay, seconds=3)
    rss_rule = peak_rss([bin_, "run", "-f", str(ROOT / "examples/demo/btc-scalper.yaml"), "--state-dir", str(tmp / "s2")] + replay, seconds=3)
    print(f"worker peak RSS: Model bot {rss_model:.1f} MiB, btc-scalper rule bot {rss_rule:.1f} MiB")


if __name__ == "__main__":
    main()
