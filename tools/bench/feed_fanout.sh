#!/usr/bin/env bash
# Fan-out of one symbol's stream to SUBSCRIBERS JetStream subscribers (BENCHMARKS.md,
# "Market-data fan-out"): a nats-server with JetStream on a temporary store, the
# subscribers in one process, the publisher (the feed's Publisher) in another.
# Usage: tools/bench/feed_fanout.sh [SUBSCRIBERS=1000] [RATE=50] [MESSAGES=600]
set -euo pipefail
cd "$(dirname "$0")/../.."
SUBSCRIBERS="${1:-1000}"; RATE="${2:-50}"; MESSAGES="${3:-600}"
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build -q --release -p tradewind-feed --example fanout
BIN="$TARGET/release/examples/fanout"
store="$(mktemp -d)"; log="$store/nats.log"; out="$store/subscribers.out"
nats-server -js -a 127.0.0.1 -p 4333 -sd "$store" 2>"$log" &
nats=$!
trap 'kill $nats 2>/dev/null || true; rm -rf "$store"' EXIT
until grep -q "Server is ready" "$log"; do sleep 0.1; done
"$BIN" subscribe nats://127.0.0.1:4333 "$SUBSCRIBERS" "$MESSAGES" >"$out" &
subs=$!
until grep -q ready "$out"; do sleep 0.2; done
cpu0=$(awk '{print $14+$15}' /proc/$nats/stat)
"$BIN" publish nats://127.0.0.1:4333 "$RATE" "$MESSAGES"
wait $subs
cpu1=$(awk '{print $14+$15}' /proc/$nats/stat)
grep -v ready "$out"
echo "nats_server_cpu_s_during_publish=$(echo "scale=2; ($cpu1-$cpu0)/100" | bc) nats_server_rss_peak_mib=$(awk '/VmHWM/{printf "%.1f", $2/1024}' /proc/$nats/status)"
