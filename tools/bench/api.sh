#!/usr/bin/env bash
# The user API's read endpoints under load (BENCHMARKS.md, "The user API"): the bot list
# of an account with 100 bots, and one bot's performance over a month of equity
# snapshots, with the ledger on SQLite and on a real PostgreSQL. `tradewind-platform
# serve` runs pinned to one core (taskset -c $CORE), wrk on the other ($LOAD_CORE); the
# test API server (tests/apiserver) holds the TradingBots, PostgreSQL runs as `nobody`
# when we are root (as tools/bench/ledger.sh starts it) on $LOAD_CORE. Callers sign in
# with an OIDC bearer token (RS256, made here with openssl; the JWKS served by
# python3 -m http.server): a signed API-key request is single-use and wrk cannot sign.
#
#   tools/bench/api.sh [SECONDS] [CONNECTIONS]
#
# Environment: PROFILE (release), ENGINES ("sqlite postgres"), BOTS (100),
# SNAPSHOT_EVERY (seconds between a bot's equity snapshots, 60: 43,200 in 30 days).
set -euo pipefail

SECONDS_RUN=${1:-20}
CONNS=${2:-32}
CORE=${CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
PROFILE=${PROFILE:-release}
ENGINES=${ENGINES:-"sqlite postgres"}
BOTS=${BOTS:-100}
SNAPSHOT_EVERY=${SNAPSHOT_EVERY:-60}

cd "$(dirname "$0")/../.."
for c in wrk openssl python3 kubectl taskset; do
  command -v "$c" >/dev/null || { echo "api.sh: $c is needed (apt-get install wrk openssl python3)" >&2; exit 1; }
done
flag=(); [ "$PROFILE" = release ] && flag=(--release)
# The workspace selection (as the tests build), so features unify the same way.
cargo build "${flag[@]}" -q --workspace --all-features --bin tradewind-platform --bin tradewind-apiserver
BIN="${CARGO_TARGET_DIR:-target}/$PROFILE"

WORK=$(mktemp -d /tmp/tradewind-api-bench.XXXXXX)
chmod 755 "$WORK" # PostgreSQL runs as nobody when we are root
PG_BIN=${TRADEWIND_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
PIDS=()
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -f "$WORK/pg/data/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w stop >/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port: until something accepts on it
  for _ in $(seq 200); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "api.sh: nothing listens on port $1" >&2; exit 1
}
b64url() { python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).rstrip(b"=").decode())'; }

# --- the OIDC issuer: an RSA key, its JWKS served over HTTP, a token for `bench` -------
mkdir -p "$WORK/issuer"
openssl genrsa -out "$WORK/key.pem" 2048 2>/dev/null
N=$(openssl rsa -in "$WORK/key.pem" -noout -modulus | cut -d= -f2 | python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read().strip()))' | b64url)
echo "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"bench\",\"alg\":\"RS256\",\"use\":\"sig\",\"n\":\"$N\",\"e\":\"AQAB\"}]}" >"$WORK/issuer/jwks.json"
ISSUER_PORT=$(free_port)
(cd "$WORK/issuer" && exec taskset -c "$LOAD_CORE" python3 -m http.server -b 127.0.0.1 "$ISSUER_PORT" >/dev/null 2>&1) &
PIDS+=($!)
ISSUER="http://127.0.0.1:$ISSUER_PORT"
NOW=$(date +%s)
HEADER=$(printf '{"alg":"RS256","typ":"JWT","kid":"bench"}' | b64url)
CLAIMS=$(printf '{"iss":"%s","aud":"tradewind-api","sub":"bench","iat":%d,"exp":%d}' "$ISSUER" "$NOW" $((NOW + 3600)) | b64url)
SIG=$(printf '%s.%s' "$HEADER" "$CLAIMS" | openssl dgst -sha256 -sign "$WORK/key.pem" | b64url)
TOKEN="$HEADER.$CLAIMS.$SIG"

# --- the Kubernetes API: the CRDs and $BOTS TradingBots of account `acme` --------------
APISERVER_PORT=$(free_port)
taskset -c "$LOAD_CORE" "$BIN/tradewind-apiserver" --port "$APISERVER_PORT" --kubeconfig "$WORK/kubeconfig" >"$WORK/apiserver.log" 2>&1 &
PIDS+=($!)
wait_port "$APISERVER_PORT"
export KUBECONFIG="$WORK/kubeconfig"
kubectl apply -f crds/manifests/ >/dev/null
kubectl create namespace tw-acme >/dev/null
for i in $(seq -w 1 "$BOTS"); do
  cat <<EOF
---
apiVersion: tradewind.dev/v1alpha1
kind: TradingBot
metadata: {name: bot-$i, namespace: tw-acme}
spec:
  accountRef: {name: acme}
  mode: Paper
  strategyRef: {name: sma}
  venue: {exchange: Binance, market: Spot, testnet: false}
  symbols: [BTCUSDT]
  capital: {amount: "5000", currency: USDT}
EOF
done >"$WORK/bots.yaml"
kubectl create -f "$WORK/bots.yaml" >/dev/null

# --- PostgreSQL, as tools/bench/ledger.sh starts it -------------------------------------
start_pg() {
  mkdir -p "$WORK/pg"
  [ "$(id -u)" = 0 ] && chown nobody "$WORK/pg"
  as_pg "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres -A trust -E UTF8 --no-sync -N >/dev/null
  PG_PORT=$(free_port)
  as_pg taskset -c "$LOAD_CORE" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" \
    -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1" -w -t 60 start >/dev/null
  as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -q -c "CREATE DATABASE bench" postgres
}

# A month of equity snapshots of bot-001, one every $SNAPSHOT_EVERY s, ending now (SQL
# both engines take).
snapshots_sql() {
  local n=$((30 * 86400 / SNAPSHOT_EVERY)) start=$(((NOW - 30 * 86400) * 1000000000)) step=$((SNAPSHOT_EVERY * 1000000000))
  cat <<EOF
INSERT INTO bots (bot, account, plan, quote_currency, strategy, updated_at)
  VALUES ('tw-acme/bot-001', 'acme', NULL, 'USDT', NULL, 0);
INSERT INTO events (id, bot, kind, ts, body)
  WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $n - 1)
  SELECT 'snap-' || i, 'tw-acme/bot-001', 'EquitySnapshot', $start + CAST(i AS BIGINT) * $step, '{}' FROM n;
INSERT INTO equity_snapshots (event_id, bot, ts, equity, realized_pnl, unrealized_pnl, venue_fees)
  WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $n - 1)
  SELECT 'snap-' || i, 'tw-acme/bot-001', $start + CAST(i AS BIGINT) * $step,
         CAST(5000 + (i * 37) % 211 - 100 AS TEXT) || '.25', '0', '0', '0' FROM n;
EOF
}

echo "commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg), $PROFILE build"
echo "server on core $CORE; wrk, the Kubernetes API server, the issuer and PostgreSQL on core $LOAD_CORE"
for engine in $ENGINES; do
  case $engine in
    sqlite) DB="sqlite:$WORK/ledger.db" ;;
    postgres) start_pg; DB="postgres://postgres@127.0.0.1:$PG_PORT/bench" ;;
    *) echo "api.sh: unknown engine $engine" >&2; exit 1 ;;
  esac
  P=("$BIN/tradewind-platform" --database-url "$DB")
  "${P[@]}" migrate >/dev/null 2>&1
  "${P[@]}" accounts create acme >/dev/null 2>&1
  "${P[@]}" accounts add-member acme bench --role owner >/dev/null 2>&1
  if [ "$engine" = sqlite ]; then
    snapshots_sql | python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.stdin.read()); c.commit()' "$WORK/ledger.db"
  else
    snapshots_sql | as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -q -v ON_ERROR_STOP=1 bench
  fi
  API_PORT=$(free_port)
  taskset -c "$CORE" "${P[@]}" serve --listen "127.0.0.1:$(free_port)" --api-listen "127.0.0.1:$API_PORT" \
    --oidc-issuer "$ISSUER" --oidc-audience tradewind-api --oidc-jwks-url "$ISSUER/jwks.json" \
    --rate-per-address 1000000/1000000 --rate-per-caller 1000000/1000000 \
    >"$WORK/serve-$engine.log" 2>&1 &
  SERVE=$!
  PIDS+=("$SERVE")
  wait_port "$API_PORT"
  URL="http://127.0.0.1:$API_PORT/api/v1/accounts/acme"
  for path in bots bots/bot-001/performance; do
    body=$(curl -sf -H "Authorization: Bearer $TOKEN" "$URL/$path") \
      || { echo "api.sh: GET $path failed:"; curl -s -H "Authorization: Bearer $TOKEN" "$URL/$path"; tail -20 "$WORK/serve-$engine.log"; exit 1; }
    what=$(printf '%s' "$body" | python3 -c 'import json,sys; v=json.load(sys.stdin); print("%d bots" % len(v) if isinstance(v, list) else "%d points" % sum(len(c["points"]) for c in v["curves"]))')
    echo "== $engine, GET /api/v1/accounts/acme/$path ($what, ${#body} bytes a response)"
    taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNS" -d"${SECONDS_RUN}s" --latency \
      -H "Authorization: Bearer $TOKEN" "$URL/$path" | grep -E "Requests/sec|Latency  |  50%|  99%|requests in|Non-2xx" | sed 's/^/   /'
  done
  kill "$SERVE"; wait "$SERVE" 2>/dev/null || true
done
