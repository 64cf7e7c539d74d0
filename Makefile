# Thin wrappers over cargo. Everything here also works as the plain command shown.
SHELL := /bin/bash
CARGO ?= cargo
# nextest when installed (CI installs it), else cargo's own runner.
TEST_RUNNER := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo "nextest run" || echo test)
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# Python tools the tests compare against live in a virtualenv of their own.
VENV ?= $(HOME)/.cache/tradewind-venv
PYTHON ?= python3

.PHONY: demo test lint crds bench e2e venv images

## demo: validate the examples, then backtest the demo bot on real Binance data
demo:
	$(CARGO) run -q -p tradewind-crds --features cli -- describe examples/strategies/*.yaml examples/commission-plans/*.yaml examples/bots/*.yaml
	$(CARGO) run -q -p tradewind-bot -- backtest -f examples/demo/btc-scalper.yaml --data examples/data/binance_spot_btcusdt_l1_trades.jsonl --out $(TARGET_DIR)/demo
	@echo "== the same bot as a worker, paper trading the same trades replayed at 20x (events on stdout)"
	rm -rf $(TARGET_DIR)/demo/worker-state
	$(CARGO) run -q -p tradewind-bot -- run -f examples/demo/btc-scalper.yaml --paper --kubernetes off \
		--market-data replay --replay-file examples/data/binance_spot_btcusdt_l1_trades.jsonl --replay-speed 20 \
		--state-dir $(TARGET_DIR)/demo/worker-state --metrics-addr 127.0.0.1:0

## test: every Rust test, the comparison with backtesting.py, then the images built and checked
test: $(VENV)/.installed
	TRADEWIND_PYTHON=$(VENV)/bin/python $(CARGO) $(TEST_RUNNER) --workspace --all-features
	$(CARGO) build -q -p tradewind-bot
	$(VENV)/bin/python tools/compare/backtesting_goog.py $(TARGET_DIR)/debug/tradewind-bot
	$(MAKE) images

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

## lint: formatting check and clippy with warnings as errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

## crds: regenerate crds/manifests/*.yaml and the chart's charts/tradewind/crds/ from the Rust types
crds:
	$(CARGO) run -q -p tradewind-crds --features cli -- manifests --out crds/manifests
	$(CARGO) run -q -p tradewind-crds --features cli -- manifests --out charts/tradewind/crds

## images: the operator and worker images (static musl binaries, FROM scratch) built with
## buildah from images/Dockerfile, checked, and written as OCI archives to $(TARGET_DIR)/images
IMAGE_TARGET := x86_64-unknown-linux-musl
IMAGE_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
IMAGE_DIR := $(TARGET_DIR)/images
BUILDAH := buildah --storage-driver vfs
images:
	CC_x86_64_unknown_linux_musl=musl-gcc $(CARGO) build --release --locked --target $(IMAGE_TARGET) \
		-p tradewind-operator --bin tradewind-operator -p tradewind-bot --bin tradewind-bot
	rm -rf $(IMAGE_DIR) && mkdir -p $(IMAGE_DIR)/context/out
	cp $(TARGET_DIR)/$(IMAGE_TARGET)/release/tradewind-operator $(TARGET_DIR)/$(IMAGE_TARGET)/release/tradewind-bot $(IMAGE_DIR)/context/out/
	for image in operator bot; do \
		$(BUILDAH) bud --isolation chroot --quiet -f images/Dockerfile --target $$image \
			--build-arg BINARIES=prebuilt --build-arg VERSION=$(IMAGE_VERSION) \
			--build-arg REVISION=$$(git rev-parse HEAD) --build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
			-t localhost/tradewind-$$image:$(IMAGE_VERSION) $(IMAGE_DIR)/context && \
		$(BUILDAH) push --quiet localhost/tradewind-$$image:$(IMAGE_VERSION) oci-archive:$(IMAGE_DIR)/tradewind-$$image.oci.tar || exit 1; \
	done
	$(PYTHON) images/check.py --buildah "$(BUILDAH)" $(IMAGE_DIR)/tradewind-operator.oci.tar localhost/tradewind-operator:$(IMAGE_VERSION) /tradewind-operator
	$(PYTHON) images/check.py --buildah "$(BUILDAH)" $(IMAGE_DIR)/tradewind-bot.oci.tar localhost/tradewind-bot:$(IMAGE_VERSION) /tradewind-bot

## bench: criterion benchmarks (figures go to BENCHMARKS.md)
bench:
	$(CARGO) bench --workspace

## e2e: end-to-end suite; against the cluster E2E_KUBECONFIG names, else the test API server
e2e:
	$(CARGO) build -q -p tradewind-operator
	$(CARGO) $(TEST_RUNNER) -p tradewind-e2e
