# Thin wrappers over cargo. Everything here also works as the plain command shown.
SHELL := /bin/bash
CARGO ?= cargo
# nextest when installed (CI installs it), else cargo's own runner.
TEST_RUNNER := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo "nextest run" || echo test)
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# Python tools the tests compare against live in a virtualenv of their own.
VENV ?= $(HOME)/.cache/tradewind-venv
PYTHON ?= python3

.PHONY: demo test lint crds bench e2e venv

## demo: validate the examples, then backtest the demo bot on real Binance data
demo:
	$(CARGO) run -q -p tradewind-crds --features cli -- describe examples/strategies/*.yaml examples/commission-plans/*.yaml examples/bots/*.yaml
	$(CARGO) run -q -p tradewind-bot -- backtest -f examples/demo/btc-scalper.yaml --data examples/data/binance_spot_btcusdt_l1_trades.jsonl --out $(TARGET_DIR)/demo

## test: every Rust test, then the comparison with backtesting.py
test: $(VENV)/.installed
	TRADEWIND_PYTHON=$(VENV)/bin/python $(CARGO) $(TEST_RUNNER) --workspace --all-features
	$(CARGO) build -q -p tradewind-bot
	$(VENV)/bin/python tools/compare/backtesting_goog.py $(TARGET_DIR)/debug/tradewind-bot

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

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

## e2e: end-to-end suite; against the cluster E2E_KUBECONFIG names, else the test API server
e2e:
	$(CARGO) build -q -p tradewind-operator
	$(CARGO) $(TEST_RUNNER) -p tradewind-e2e
