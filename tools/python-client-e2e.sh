#!/bin/sh
# Runs the Python `kubernetes` client's own end-to-end suite (kubernetes/e2e_test in
# github.com/kubernetes-client/python; its code is not copied into this repository) against
# the test API server (tests/apiserver), with the client from the same checkout.
#
#   tools/python-client-e2e.sh CHECKOUT [pytest arguments...]
#
# CHECKOUT: a checkout of kubernetes-client/python, at the commit tests/apiserver/README.md
# names (another commit runs too, with a warning). Needs a Python with pytest and the
# client's dependencies ($TRADEWIND_PYTHON, else ~/.cache/tradewind-venv/bin/python, which
# `make test` fills from requirements-test.txt, else python3) and cargo.
set -eu

PINNED=67e7d9abfc6fe6629fa650d9b0abf4c99ef8c39c

if [ $# -lt 1 ] || [ ! -d "$1/kubernetes/e2e_test" ]; then
    echo "usage: $0 CHECKOUT [pytest arguments...]" >&2
    echo "  CHECKOUT: a checkout of github.com/kubernetes-client/python (kubernetes/e2e_test)" >&2
    exit 2
fi
checkout=$(cd "$1" && pwd)
shift

if commit=$(git -C "$checkout" rev-parse HEAD 2>/dev/null); then
    if [ "$commit" != "$PINNED" ]; then
        echo "warning: $checkout is at $commit; the results in tests/apiserver/README.md are for $PINNED" >&2
    fi
fi

py=${TRADEWIND_PYTHON:-}
if [ -z "$py" ]; then
    if [ -x "$HOME/.cache/tradewind-venv/bin/python" ]; then
        py=$HOME/.cache/tradewind-venv/bin/python
    else
        py=python3
    fi
fi
if ! "$py" -c 'import pytest, six, urllib3, yaml, dateutil, websocket' 2>/dev/null; then
    echo "$py lacks pytest or the client's dependencies (pip install -r requirements-test.txt)" >&2
    exit 2
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
(cd "$repo" && cargo build -q -p tradewind-apiserver --bin tradewind-apiserver)
server_bin=$target/debug/tradewind-apiserver

work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$server_bin" --kubeconfig "$work/kubeconfig" >"$work/url" 2>"$work/server.log" &
server_pid=$!
# The server writes the kubeconfig once it listens.
tries=0
while [ ! -s "$work/kubeconfig" ]; do
    tries=$((tries + 1))
    if [ $tries -gt 300 ] || ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the test API server did not start:" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
echo "test API server at $(cat "$work/url"); suite from $checkout" >&2

cd "$checkout"
status=0
KUBECONFIG=$work/kubeconfig PYTHONPATH=$checkout \
    "$py" -m pytest -p no:cacheprovider -rA kubernetes/e2e_test "$@" || status=$?
exit $status
