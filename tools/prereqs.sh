#!/usr/bin/env bash
# Installs, or checks, everything `make test` and `make lint` need on a Debian machine
# that has Rust (rustup): the apt packages, clippy and rustfmt, cargo-nextest, the musl
# target, the Python virtualenv and the npm package the report test drives Chromium with.
# `make test` and `make lint` run it first; it is quick when everything is there.
#
# Environment: VENV (default ~/.cache/tradewind-venv), NODE_DIR (default
# ~/.cache/tradewind-node), PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-$HOME/.cache/tradewind-venv}"
NODE_DIR="${NODE_DIR:-$HOME/.cache/tradewind-node}"
# The storage emulators' npm packages (the tests read TRADEWIND_STORE_NODE_DIR too).
STORE_NODE_DIR="${TRADEWIND_STORE_NODE_DIR:-$HOME/.cache/tradewind-store-node}"
PYTHON="${PYTHON:-python3}"
# The report test's browser driver; it never downloads a browser, it drives Debian's.
PLAYWRIGHT_CORE_VERSION=1.65.2

say() { echo "prereqs: $*"; }

# --- apt packages: a command each, the package that provides it -----------------------
# make/gcc build; python3-venv for the reference tools; lua5.1 runs the Argo CD health
# checks (tests/deploy); buildah and musl-gcc build the images (`make images`); chromium,
# node and npm run the report test (tools/report_check); git names the image revision;
# kubectl is driven by tests/apiserver and tests/deploy; kill (procps) by the worker's tests.
apt_need=()
# `type -P`: a program on PATH, not a shell builtin (bash has its own `kill`).
want() { type -P "$1" >/dev/null 2>&1 || apt_need+=("$2"); }
want make make
want gcc gcc
want git git
want kill procps
want "$PYTHON" python3
"$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || apt_need+=(python3-venv)
want lua5.1 lua5.1
want buildah buildah
want musl-gcc musl-tools
want chromium chromium
want node nodejs
want npm npm
# The test API server's process kubelet runs pods in bubblewrap (bwrap) inside network
# namespaces made with iproute2 (ip) and entered with util-linux (nsenter).
want bwrap bubblewrap
want ip iproute2
want nsenter util-linux
# kubectl comes with the project's machine image; Debian's own package is the fallback.
want kubectl kubernetes-client
# The ledger's conformance suite starts a real PostgreSQL (initdb/pg_ctl, as `nobody`
# via runuser when root); Debian keeps its programs in /usr/lib/postgresql/<major>/bin.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || apt_need+=(postgresql)
want runuser util-linux
# The market-data feed's tests run a real NATS server with JetStream.
want nats-server nats-server
# The notification tests make their SMTP server's certificate with openssl.
want openssl openssl
if ((${#apt_need[@]})); then
  say "installing ${apt_need[*]}"
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "prereqs: run as root or install sudo to install ${apt_need[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${apt_need[@]}" ca-certificates >/dev/null
fi

# --- Rust -------------------------------------------------------------------------------
command -v cargo >/dev/null || { echo "prereqs: cargo not found: install Rust with rustup first" >&2; exit 1; }
if command -v rustup >/dev/null; then
  installed="$(rustup component list --installed)"
  for c in clippy rustfmt; do
    grep -q "^$c" <<<"$installed" || { say "rustup component add $c"; rustup component add "$c"; }
  done
  rustup target list --installed | grep -qx x86_64-unknown-linux-musl \
    || { say "rustup target add x86_64-unknown-linux-musl"; rustup target add x86_64-unknown-linux-musl; }
fi
cargo nextest --version >/dev/null 2>&1 \
  || { say "cargo install cargo-nextest"; cargo install --locked cargo-nextest; }

# --- Python virtualenv (requirements-test.txt) ------------------------------------------
if [ ! -e "$VENV/.installed" ] || [ requirements-test.txt -nt "$VENV/.installed" ]; then
  say "virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements-test.txt
  touch "$VENV/.installed"
fi

# --- npm: playwright-core, into a cache directory (nothing is committed) ----------------
if [ "$(cat "$NODE_DIR/.installed" 2>/dev/null)" != "$PLAYWRIGHT_CORE_VERSION" ]; then
  say "npm playwright-core@$PLAYWRIGHT_CORE_VERSION into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund --no-save \
    --prefix "$NODE_DIR" "playwright-core@$PLAYWRIGHT_CORE_VERSION"
  echo "$PLAYWRIGHT_CORE_VERSION" >"$NODE_DIR/.installed"
fi

# --- npm: the storage emulators the market-data store's tests run (tests/store) ---------
# Azurite (Blob Storage, over HTTPS with OAuth) and @vercel/cosmosdb-server (Cosmos DB's
# REST API without Docker), pinned, into a directory of their own.
STORE_NPM="azurite@3.37.0 @vercel/cosmosdb-server@1.0.1"
if [ "$(cat "$STORE_NODE_DIR/.installed" 2>/dev/null)" != "$STORE_NPM" ]; then
  say "npm $STORE_NPM into $STORE_NODE_DIR"
  mkdir -p "$STORE_NODE_DIR"
  # shellcheck disable=SC2086
  npm install --silent --no-audit --no-fund --no-save --prefix "$STORE_NODE_DIR" $STORE_NPM
  echo "$STORE_NPM" >"$STORE_NODE_DIR/.installed"
fi

# --- everything the Makefile and the tests call, present now ----------------------------
missing=()
for c in make gcc git kill "$PYTHON" lua5.1 buildah musl-gcc chromium node npm kubectl cargo; do
  type -P "$c" >/dev/null 2>&1 || missing+=("$c")
done
cargo nextest --version >/dev/null 2>&1 || missing+=(cargo-nextest)
cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
[ -x "$VENV/bin/python" ] || missing+=("$VENV")
[ -d "$NODE_DIR/node_modules/playwright-core" ] || missing+=(playwright-core)
[ -e "$STORE_NODE_DIR/node_modules/azurite/dist/src/blob/main.js" ] || missing+=(azurite)
[ -e "$STORE_NODE_DIR/node_modules/@vercel/cosmosdb-server/lib/cli.js" ] || missing+=(@vercel/cosmosdb-server)
if ((${#missing[@]})); then
  echo "prereqs: still missing: ${missing[*]}" >&2
  exit 1
fi
# tests/apiserver drives `kubectl patch --subresource` (1.24+); Debian 12's
# kubernetes-client is 1.20.
kubectl_minor="$(kubectl version --client -o json 2>/dev/null | "$PYTHON" -c \
  'import json, sys; v = json.load(sys.stdin)["clientVersion"]; print(int(v["major"]) * 1000 + int(v["minor"].rstrip("+")))' \
  2>/dev/null || echo 0)"
if [ "$kubectl_minor" -lt 1024 ]; then
  echo "prereqs: kubectl 1.24 or newer is needed; found: $(kubectl version --client 2>&1 | head -n 1)." >&2
  echo "prereqs: install a current kubectl (e.g. from pkgs.k8s.io) and run again." >&2
  exit 1
fi
say "all present"
