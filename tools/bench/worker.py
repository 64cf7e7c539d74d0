#!/usr/bin/env python3
"""Whole-process benchmark of `tradewind-bot run`: peak RSS and market-event-to-decision
latency, paper and live, one symbol, against the Binance mock (tests/binance) replaying
the real BTCUSDT sample in examples/data.

Latency is measured inside the worker from the moment the WebSocket message that closes
a bar is decoded to the end of the decision: the engine step (paper), or the step plus
every resulting order sent to the exchange and acknowledged (live). The worker logs each
one (`decision_us`, debug level); this script reads them all and reports exact
percentiles. Peak RSS is the kernel's VmHWM of the worker process.

    python3 tools/bench/worker.py [--target-dir DIR] [--seconds 40] [--speed 4]

Build first: cargo build --release -p tradewind-bot -p tradewind-binance-mock -p tradewind-operator
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples/data/binance_spot_btcusdt_l1_trades.jsonl"
DEMO = ROOT / "examples/demo/btc-scalper.yaml"


def percentile(sorted_values, p):
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def start_mock(bin_dir, speed):
    mock = subprocess.Popen(
        [str(bin_dir / "tradewind-binance-mock"), "--port", "0", "--data", str(DATA),
         "--speed", str(speed), "--print-secret"],
        stdout=subprocess.PIPE, text=True)
    info = {}
    while len(info) < 4:
        line = mock.stdout.readline()
        if not line:
            raise SystemExit("mock exited early")
        if "=" in line:
            k, v = line.strip().split("=", 1)
            info[k] = v
    return mock, info


def resolved_config(bin_dir, mode, work):
    """The demo bot as the operator mounts it (bot.json), in `mode`."""
    text = DEMO.read_text().replace("mode: Backtest", f"mode: {mode}")
    if mode == "Live":
        text = text.replace("  symbols: [BTCUSDT]", "  symbols: [BTCUSDT]\n  credentials:\n    secretRef:\n      name: keys")
    bot = work / f"{mode}.yaml"
    bot.write_text(text)
    out = subprocess.run([str(bin_dir / "tradewind-operator"), "render", "-f", str(bot),
                          "--namespace", "bench"], check=True, capture_output=True, text=True).stdout
    # The ConfigMap's bot.json is a YAML block scalar; pull it out without a YAML library.
    m = re.search(r"bot\.json: \|-?\n((?:\s{4}.*\n)+)", out)
    if not m:
        raise SystemExit("no bot.json in the rendered objects")
    body = "\n".join(line[4:] for line in m.group(1).splitlines())
    path = work / f"{mode}.json"
    path.write_text(body)
    json.loads(body)
    return path


def run_worker(bin_dir, mode, info, seconds, work):
    config = resolved_config(bin_dir, mode, work)
    creds = work / "credentials"
    creds.mkdir(exist_ok=True)
    (creds / "apiKey").write_text(info["api_key"])
    (creds / "apiSecret").write_text(info["api_secret"])
    state = work / f"state-{mode}"
    env = dict(os.environ, RUST_LOG="warn,tradewind_bot::run::worker=debug", NO_COLOR="1")
    env.pop("KUBECONFIG", None)
    log = open(work / f"{mode}.log", "w")
    proc = subprocess.Popen(
        [str(bin_dir / "tradewind-bot"), "run", "--config", str(config), "--kubernetes", "off",
         "--state-dir", str(state), "--credentials-dir", str(creds),
         "--metrics-addr", "127.0.0.1:0",
         "--binance-rest", info["rest_base"], "--binance-ws", info["ws_base"]],
        stdout=subprocess.DEVNULL, stderr=log, env=env)
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    status = Path(f"/proc/{proc.pid}/status").read_text() if proc.poll() is None else ""
    hwm = re.search(r"VmHWM:\s+(\d+) kB", status)
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=30)
    log.close()
    if code != 0:
        raise SystemExit(f"{mode} worker exited {code}: see {work / (mode + '.log')}")
    lat = sorted(int(x) for x in re.findall(r"decision_us=(\d+)", (work / f"{mode}.log").read_text()))
    return {
        "mode": mode,
        "peak_rss_mib": round(int(hwm.group(1)) / 1024, 1) if hwm else None,
        "decisions": len(lat),
        "p50_us": percentile(lat, 50),
        "p99_us": percentile(lat, 99),
        "max_us": lat[-1] if lat else None,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target-dir", default=os.environ.get(
        "CARGO_TARGET_DIR", str(Path.home() / ".cache/tradewind-target")))
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--speed", type=float, default=4.0)
    args = ap.parse_args()
    bin_dir = Path(args.target_dir) / "release"
    rows = []
    with tempfile.TemporaryDirectory(prefix="tw-bench-worker-") as tmp:
        work = Path(tmp)
        for mode in ("Paper", "Live"):
            mock, info = start_mock(bin_dir, args.speed)
            try:
                rows.append(run_worker(bin_dir, mode, info, args.seconds, work))
            finally:
                mock.send_signal(signal.SIGTERM)
                mock.wait(timeout=10)
    print(f"{'mode':6} {'peak RSS MiB':>12} {'decisions':>9} {'p50 µs':>8} {'p99 µs':>8} {'max µs':>8}")
    for r in rows:
        print(f"{r['mode']:6} {r['peak_rss_mib']:>12} {r['decisions']:>9} {r['p50_us']:>8} {r['p99_us']:>8} {r['max_us']:>8}")
    print(json.dumps(rows))


if __name__ == "__main__":
    sys.exit(main())
