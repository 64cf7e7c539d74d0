# Thin wrappers over cargo. Everything here also works as the plain cargo command shown.
SHELL := /bin/bash
CARGO ?= cargo
# nextest when installed (CI installs it), else cargo's own runner.
TEST_RUNNER := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo "nextest run" || echo test)

.PHONY: demo test lint crds bench e2e

## demo: validate the examples and print what they declare, each bot resolved
demo:
	$(CARGO) run -q -p tradewind-crds --features cli -- describe examples/strategies/*.yaml examples/commission-plans/*.yaml examples/bots/*.yaml

## test: every test in the workspace
test:
	$(CARGO) $(TEST_RUNNER) --workspace --all-features

## lint: formatting check and clippy with warnings as errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

## crds: regenerate crds/manifests/*.yaml from the Rust types
crds:
	$(CARGO) run -q -p tradewind-crds --features cli -- manifests --out crds/manifests

## bench: criterion benchmarks (figures go to BENCHMARKS.md)
bench:
	$(CARGO) bench --workspace

## e2e: end-to-end suite against the cluster KUBECONFIG names
e2e:
	$(CARGO) $(TEST_RUNNER) -p tradewind-e2e
