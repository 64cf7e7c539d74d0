# Thin wrappers over cargo. Everything here also works as the plain command shown.
SHELL := /bin/bash
CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# Python tools the tests compare against live in a virtualenv of their own; the report
# test's browser driver (playwright-core) in a node_modules of its own. tools/prereqs.sh
# installs both, and everything else the tests need.
VENV ?= $(HOME)/.cache/tradewind-venv
NODE_DIR ?= $(HOME)/.cache/tradewind-node
PYTHON ?= python3
export VENV NODE_DIR PYTHON

# The demo: five strategies (examples/demo/compare) on two real data sets
# (examples/data/README.md): two weeks of BTC/USD and a quarter of SPY, minute bars.
DEMO_DATA := examples/data/bitstamp_btcusd_1m.csv
DEMO_BOTS := trend-ema trend-sma mean-reversion-bollinger mean-reversion-rsi dca
SPY_DATA := examples/data/spy_1m_2019q2.csv
BOT := $(CARGO) run -q -p tradewind-bot --

.PHONY: demo demo-worker prereqs test report-check lint crds bench bench-compare e2e images fuzz model-train model-demo

## demo: five strategies backtested on two weeks of real BTC/USD minute bars and on a
## quarter of SPY minute bars, compared in a table per data set, with an HTML report each
demo:
	$(BOT) backtest $(addprefix -f ,$(wildcard examples/demo/compare/*.yaml)) \
		$(addprefix --bot ,$(DEMO_BOTS)) --data $(DEMO_DATA) --out $(TARGET_DIR)/demo
	@echo
	$(BOT) backtest $(addprefix -f ,$(wildcard examples/demo/compare/*.yaml)) -f examples/demo/spy/bots.yaml \
		$(addprefix --bot spy-,$(DEMO_BOTS)) --data $(SPY_DATA) --out $(TARGET_DIR)/demo

## demo-worker: the worker paper trading three minutes of real Binance trades replayed
## at 20x (events as JSON lines on stdout)
demo-worker:
	rm -rf $(TARGET_DIR)/demo-worker
	$(BOT) run -f examples/demo/btc-scalper.yaml --paper --kubernetes off \
		--market-data replay --replay-file examples/data/binance_spot_btcusdt_l1_trades.jsonl --replay-speed 20 \
		--state-dir $(TARGET_DIR)/demo-worker --metrics-addr 127.0.0.1:0

## model-train: the example Model strategy's features (tradewind-bot features), its
## classifier trained with walk-forward splits (tools/ml, in the test venv) and exported
## to examples/models/spy-gbm.onnx with its model card; prints the sha256 to pin
MODEL_DIR := $(TARGET_DIR)/model
model-train:
	mkdir -p $(MODEL_DIR)
	$(BOT) features -f examples/models/spy-gbm.yaml --bot spy-model --data $(SPY_DATA) \
		--horizon 12 --out $(MODEL_DIR)/features.csv
	$(VENV)/bin/python tools/ml/train.py --features $(MODEL_DIR)/features.csv \
		--model examples/models/spy-gbm.onnx --card examples/models/spy-gbm.md

## model-demo: the example model backtested out of sample (June 2019, a month its
## training never saw) against buy-and-hold and an RSI rule, with the usual reports
model-demo:
	mkdir -p $(MODEL_DIR)
	$(PYTHON) tools/ml/month.py $(SPY_DATA) 2019-06 $(MODEL_DIR)/spy_2019_06.csv
	$(BOT) backtest -f examples/models/spy-gbm.yaml --bot spy-model --bot spy-buy-and-hold \
		--bot spy-rsi --data $(MODEL_DIR)/spy_2019_06.csv --out $(MODEL_DIR)/demo

## prereqs: install or check what test and lint need (apt packages, nextest, the musl
## target, the venv, playwright-core); quick when all is there
prereqs:
	@tools/prereqs.sh

## test: that every command the tests start is provided, every Rust test, the comparison
## with backtesting.py, the report in Chromium, then the images built and checked
test: prereqs
	tools/fresh_check.sh --commands-only
	TRADEWIND_PYTHON=$(VENV)/bin/python $(CARGO) nextest run --workspace --all-features
	$(CARGO) build -q -p tradewind-bot
	$(VENV)/bin/python tools/compare/backtesting_goog.py $(TARGET_DIR)/debug/tradewind-bot
	$(MAKE) report-check
	$(MAKE) images

## report-check: one demo report opened in headless Chromium and checked as a reader
## sees it; the screenshot stays in $(TARGET_DIR)/report-check/
report-check:
	rm -rf $(TARGET_DIR)/report-check
	$(BOT) backtest -f examples/demo/compare/plan.yaml -f examples/demo/compare/trend-ema.yaml \
		--data $(DEMO_DATA) --out $(TARGET_DIR)/report-check >/dev/null
	node tools/report_check/check.mjs $(TARGET_DIR)/report-check $(TARGET_DIR)/report-check/screenshot.png

## lint: formatting check and clippy with warnings as errors
lint: prereqs
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

## fuzz: every cargo-fuzz target (journal, market data, exchange JSON, bot.json, resource
## YAML) for FUZZ_SECONDS each on nightly; `make test` replays their corpus (tools/fuzz)
FUZZ_SECONDS ?= 60
fuzz:
	tools/fuzz/run.sh $(FUZZ_SECONDS)

## crds: regenerate crds/manifests/*.yaml and the chart's charts/tradewind/crds/ from the Rust types
crds:
	$(CARGO) run -q -p tradewind-crds --features cli -- manifests --out crds/manifests
	$(CARGO) run -q -p tradewind-crds --features cli -- manifests --out charts/tradewind/crds

## images: the operator, worker and platform images (static musl binaries, FROM scratch) built with
## buildah from images/Dockerfile, checked, and written as OCI archives to $(TARGET_DIR)/images
IMAGE_TARGET := x86_64-unknown-linux-musl
IMAGE_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
IMAGE_DIR := $(TARGET_DIR)/images
BUILDAH := buildah --storage-driver vfs
images:
	CC_x86_64_unknown_linux_musl=musl-gcc $(CARGO) build --release --locked --target $(IMAGE_TARGET) \
		-p tradewind-operator --bin tradewind-operator -p tradewind-bot --bin tradewind-bot \
		-p tradewind-platform --bin tradewind-platform
	rm -rf $(IMAGE_DIR) && mkdir -p $(IMAGE_DIR)/context/out
	cp $(TARGET_DIR)/$(IMAGE_TARGET)/release/tradewind-operator $(TARGET_DIR)/$(IMAGE_TARGET)/release/tradewind-bot \
		$(TARGET_DIR)/$(IMAGE_TARGET)/release/tradewind-platform $(IMAGE_DIR)/context/out/
	for image in operator bot platform; do \
		$(BUILDAH) bud --isolation chroot --quiet -f images/Dockerfile --target $$image \
			--build-arg BINARIES=prebuilt --build-arg VERSION=$(IMAGE_VERSION) \
			--build-arg REVISION=$$(git rev-parse HEAD) --build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
			-t localhost/tradewind-$$image:$(IMAGE_VERSION) $(IMAGE_DIR)/context && \
		$(BUILDAH) push --quiet localhost/tradewind-$$image:$(IMAGE_VERSION) oci-archive:$(IMAGE_DIR)/tradewind-$$image.oci.tar || exit 1; \
	done
	$(PYTHON) images/check.py --buildah "$(BUILDAH)" $(IMAGE_DIR)/tradewind-operator.oci.tar localhost/tradewind-operator:$(IMAGE_VERSION) /tradewind-operator
	$(PYTHON) images/check.py --buildah "$(BUILDAH)" $(IMAGE_DIR)/tradewind-bot.oci.tar localhost/tradewind-bot:$(IMAGE_VERSION) /tradewind-bot
	$(PYTHON) images/check.py --buildah "$(BUILDAH)" $(IMAGE_DIR)/tradewind-platform.oci.tar localhost/tradewind-platform:$(IMAGE_VERSION) /tradewind-platform

## bench: criterion benchmarks (figures go to BENCHMARKS.md)
bench:
	$(CARGO) bench --workspace

## bench-compare: the same backtest in Tradewind, backtesting.py and vectorbt side by side
## (the Python engines in a venv of their own, from PyPI), then Tradewind's whole process
## from CSV and from the columnar format (hyperfine; needs hyperfine and valgrind)
BENCH_VENV ?= $(HOME)/.cache/tradewind-bench-venv
bench-compare:
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q -r tools/bench/requirements.txt
	$(CARGO) build --release -q -p tradewind-bot
	$(BENCH_VENV)/bin/python tools/bench/compare_engines.py --skip nautilus \
		--tradewind-bin $(TARGET_DIR)/release/tradewind-bot
	$(BENCH_VENV)/bin/python tools/bench/whole_process.py --callgrind \
		--tradewind-bin $(TARGET_DIR)/release/tradewind-bot

## e2e: end-to-end suite; against the cluster E2E_KUBECONFIG names, else the test API server
e2e: prereqs
	$(CARGO) build -q -p tradewind-operator
	$(CARGO) nextest run -p tradewind-e2e
