#!/usr/bin/env python3
"""The OTLP exporter's overhead on a whole worker process (BENCHMARKS.md, "OpenTelemetry
export overhead"): a paper worker replays the example data at --speed, alternately
without OTLP and with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a local sink that accepts
every OTLP/HTTP request (the export interval shortened to --interval-ms so the exporter
works many times per run). Prints each run's CPU (user, system), wall time and peak RSS.

Usage: tools/bench/otlp_overhead.py [--bin-dir target/release] [--config bot.json]
       [--runs 3] [--speed 6] [--interval-ms 1000]
Without --config the demo bot is rendered by `tradewind-operator render` (worker.py's
resolved_config), so --bin-dir must hold tradewind-operator too.
"""

import argparse
import http.server
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import worker  # noqa: E402  (the demo bot's config, as the operator mounts it)


class Sink(http.server.BaseHTTPRequestHandler):
    posts = 0

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Sink.posts += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def run(bin_dir, config, speed, env, work):
    state = tempfile.mkdtemp(dir=work)
    cmd = [str(bin_dir / "tradewind-bot"), "run", "--config", str(config), "--state-dir", state,
           "--kubernetes", "off", "--market-data", "replay", "--replay-file", str(worker.DATA),
           "--replay-speed", str(speed), "--metrics-addr", "127.0.0.1:0"]
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = os.times().elapsed
    _, status, usage = os.wait4(child.pid, 0)
    wall = os.times().elapsed - start
    if status != 0:
        raise SystemExit(f"worker failed: {status}")
    return usage.ru_utime, usage.ru_stime, wall, usage.ru_maxrss / 1024


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin-dir", default="target/release")
    p.add_argument("--config")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--speed", type=float, default=6)
    p.add_argument("--interval-ms", type=int, default=1000)
    a = p.parse_args()
    bin_dir = Path(a.bin_dir)
    work = Path(tempfile.mkdtemp(prefix="tw-otlp-bench-"))
    config = Path(a.config) if a.config else worker.resolved_config(bin_dir, "Paper", work)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    off = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    on = dict(off, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{server.server_port}",
              OTEL_METRIC_EXPORT_INTERVAL=str(a.interval_ms))
    print("otlp user_s sys_s wall_s peak_rss_mib load1")
    for _ in range(a.runs):
        for name, env in (("off", off), ("on", on)):
            u, s, w, rss = run(bin_dir, config, a.speed, env, work)
            load = os.getloadavg()[0]
            print(f"{name} {u:.2f} {s:.2f} {w:.1f} {rss:.1f} {load:.1f}")
    print(f"sink requests: {Sink.posts}")


if __name__ == "__main__":
    main()
