#!/usr/bin/env bash
# Runs every cargo-fuzz target of tools/fuzz/libfuzzer for a bounded time each
# (`make fuzz`; default 60 s a target, or the first argument). Needs the nightly toolchain
# and cargo-fuzz (installed here if missing). New inputs and crashes go under
# $CARGO_TARGET_DIR/fuzz (or target/fuzz); the checked-in corpus is only read. A crash
# stops the run: add the input to tools/fuzz/corpus/<target>/ with the fix, so the
# regression test of `make test` replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
targets=(journal market_data exchange_json bot_json resources_yaml onnx_model)
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
out="${CARGO_TARGET_DIR:-target}/fuzz"
mkdir -p "$out"
for t in "${targets[@]}"; do
    mkdir -p "$out/corpus/$t"
    echo "== $t (${seconds}s)"
    cargo +nightly fuzz run --fuzz-dir tools/fuzz/libfuzzer "$t" \
        "$out/corpus/$t" "tools/fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -artifact_prefix="$out/$t-" -print_final_stats=1
done
