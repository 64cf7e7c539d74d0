#!/usr/bin/env bash
# The ledger's measurements (BENCHMARKS.md, "The ledger"): ingest of fills, batched, and
# the settlement of a month, on SQLite and on a real PostgreSQL started here with
# initdb/pg_ctl in a temporary directory (as `nobody` when run as root), everything
# pinned to one core (taskset -c $CORE: the bench and the PostgreSQL server share it).
# Each run is under /usr/bin/time -v: CPU time (user + sys) and peak RSS.
#
#   tools/bench/ledger.sh [FILLS_INGEST] [ACCOUNTS] [FILLS_SETTLE]
#
# Defaults: 1,000,000 fills ingested; 10,000 accounts holding 3,000,000 fills settled.
set -euo pipefail

FILLS=${1:-1000000}
ACCOUNTS=${2:-10000}
SETTLE_FILLS=${3:-3000000}
CORE=${CORE:-0}
BATCH=${BATCH:-1000}
ENGINES=${ENGINES:-"sqlite postgres"}

cd "$(dirname "$0")/../.."
cargo build --release -q -p tradewind-ledger --example ledger_bench
BIN="${CARGO_TARGET_DIR:-target}/release/examples/ledger_bench"

WORK=$(mktemp -d /tmp/tradewind-ledger-bench.XXXXXX)
chmod 755 "$WORK" # PostgreSQL runs as nobody when we are root
PG_BIN=${TRADEWIND_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}
cleanup() {
  if [ -f "$WORK/pg/data/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w stop >/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# CPU seconds (user + sys) the PostgreSQL server has used: the postmaster and its
# reaped children, plus its live children. 0 when no server runs.
pg_cpu() {
  local pid
  pid=$(head -1 "$WORK/pg/data/postmaster.pid" 2>/dev/null) || { echo 0; return; }
  { awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat"
    for c in $(cat /proc/"$pid"/task/*/children); do awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || true; done
  } | awk -v hz="$(getconf CLK_TCK)" '{s += $1} END {printf "%.2f", s / hz}'
}

measure() { # label, then the command
  local label=$1
  shift
  echo "== $label"
  local before
  before=$(pg_cpu)
  /usr/bin/time -v taskset -c "$CORE" "$@" 2>"$WORK/time" | sed 's/^/   /'
  grep -E "User time|System time|Elapsed|Maximum resident" "$WORK/time" | sed 's/^\s*/   /'
  if [ -f "$WORK/pg/data/postmaster.pid" ]; then
    echo "   PostgreSQL server CPU (user + sys): $(awk -v a="$(pg_cpu)" -v b="$before" 'BEGIN {printf "%.2f", a - b}') s"
  fi
}

start_pg() {
  mkdir -p "$WORK/pg"
  [ "$(id -u)" = 0 ] && chown nobody "$WORK/pg"
  as_pg "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres -A trust -E UTF8 --no-sync -N >/dev/null
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # The benchmark's server: durable commits (fsync on, as in production), one core.
  as_pg taskset -c "$CORE" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" \
    -o "-p $PORT -k $WORK/pg -c listen_addresses=127.0.0.1" -w -t 60 start >/dev/null
}

createdb() {
  as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -q -c "CREATE DATABASE $1" postgres
  echo "postgres://postgres@127.0.0.1:$PORT/$1"
}

echo "commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
for engine in $ENGINES; do
  case $engine in
    sqlite)
      ingest="sqlite:$WORK/ingest.db"
      settle="sqlite:$WORK/settle.db"
      ;;
    postgres)
      start_pg
      ingest=$(createdb ingest)
      settle=$(createdb settle)
      ;;
  esac
  measure "$engine: ingest $FILLS fills, batches of $BATCH" "$BIN" ingest --url "$ingest" --fills "$FILLS" --batch "$BATCH"
  measure "$engine: populate $ACCOUNTS accounts, $SETTLE_FILLS fills" "$BIN" populate --url "$settle" --accounts "$ACCOUNTS" --fills "$SETTLE_FILLS"
  measure "$engine: settle one month" "$BIN" settle --url "$settle"
done
