# patgate: `make dev` serves console + gateway at http://localhost:8787 with a local OpenID
# provider; `make test` runs everything. Both install whatever is missing first, from the package
# registries only.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PORT ?= 8787
# The local OpenID provider of `make dev` (tests/oidc/provider.mjs): test only.
OIDC_PORT ?= 8788
WORKER_BUILD_VERSION := 0.8.7
# The wasm-bindgen CLI must match the wasm-bindgen crate exactly: read it from Cargo.lock.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ { getline; gsub(/"/, "", $$3); print $$3 }' Cargo.lock)

CARGO_HOME ?= $(HOME)/.cargo
CARGO_BIN := $(CARGO_HOME)/bin
NODE_BIN := $(CURDIR)/node_modules/.bin
# With these set, worker-build downloads nothing (otherwise it fetches binaries from GitHub).
export WASM_BINDGEN_BIN := $(CARGO_BIN)/wasm-bindgen
export ESBUILD_BIN := $(NODE_BIN)/esbuild
export WASM_OPT_BIN := $(NODE_BIN)/wasm-opt
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false
export PATH := $(CARGO_BIN):$(NODE_BIN):$(PATH)

WORKER_BUNDLE := worker/build/entry.mjs
# The test build (features `simulated-lag` and `simulated-faults`: stale KV and injected faults),
# for tests/e2e/lag.test.mjs and tests/e2e/faults.test.mjs only. Never deployed: see those tests.
LAG_BUNDLE := worker/build-lag/entry.mjs
WORKER_SOURCES := $(shell find worker/src crates/patgate-core/src -name '*.rs') worker/entry.mjs \
	worker/Cargo.toml crates/patgate-core/Cargo.toml Cargo.toml Cargo.lock

.PHONY: help bootstrap bootstrap-browser bootstrap-fuzz build dev test test-rust test-e2e \
	test-browser test-contract lint vectors nostd deploy-check bench fuzz load bootstrap-wrk clean

help:
	@echo "make dev    build and serve console + gateway at http://localhost:$(PORT)"
	@echo "make test   run every test (installs what is missing first)"
	@echo "make build  build the Worker bundle (worker/build/) and the reis CLI"
	@echo "make bench  load, CPU-per-request and bundle-size benchmarks"
	@echo "make fuzz   coverage-guided fuzzing of every network parser (FUZZ_SECONDS=180 each)"
	@echo "make load   60 s of mixed gateway and console load under workerd, with correctness checks"

# ---- installing what is missing (idempotent) -------------------------------------------

bootstrap: node_modules/.installed
	@for target in wasm32-unknown-unknown wasm32v1-none; do \
		rustup target list --installed | grep -qx "$$target" || rustup target add "$$target"; \
	done
	@if ! worker-build --version 2>/dev/null | grep -q "$(WORKER_BUILD_VERSION)"; then \
		echo "installing worker-build $(WORKER_BUILD_VERSION) (a few minutes, once)"; \
		cargo install --locked "worker-build@$(WORKER_BUILD_VERSION)"; \
	fi
	@if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $(WASM_BINDGEN_VERSION)"; then \
		echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (a few minutes, once)"; \
		cargo install --locked --force wasm-bindgen-cli --version "$(WASM_BINDGEN_VERSION)" || \
		{ echo "its lockfile pins crates the registry no longer serves; resolving afresh"; \
		  cargo install --force wasm-bindgen-cli --version "$(WASM_BINDGEN_VERSION)"; }; \
	fi

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# Debian's chromium drives the browser tests (playwright cannot download its own here).
bootstrap-browser:
	@command -v chromium >/dev/null || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# cargo-fuzz (libFuzzer); its nightly flags are accepted on stable with RUSTC_BOOTSTRAP=1.
CARGO_FUZZ_VERSION := 0.13.2
bootstrap-fuzz:
	@if ! cargo fuzz --version 2>/dev/null | grep -q "$(CARGO_FUZZ_VERSION)"; then \
		echo "installing cargo-fuzz $(CARGO_FUZZ_VERSION) (a few minutes, once)"; \
		cargo install --locked "cargo-fuzz@$(CARGO_FUZZ_VERSION)"; \
	fi

# ---- building ---------------------------------------------------------------------------

# worker-build's bundle (index.js, index_bg.wasm) and the entry module beside it (entry.mjs).
# worker-build keeps the wasm's name section (wasm-opt --debuginfo), a tenth of the gzipped
# bundle, for function names in panic stack traces. The release bundle drops it: a panic still
# logs its message, with `wasm-function[N]` frames. The test build keeps the names, and so does
# a copy of the release wasm from before the strip (NAMED_WASM).
# The features are worker-build's own list: none newer than workerd reads.
WASM_FEATURES := --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
	--enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling

# The release wasm before the strip, with its names, for the bundle's profile (`make bench`).
NAMED_WASM := build/index_bg.named.wasm

$(WORKER_BUNDLE) $(NAMED_WASM) &: $(WORKER_SOURCES)
	cd worker && worker-build --release
	mkdir -p build && cp worker/build/index_bg.wasm $(NAMED_WASM)
	$(WASM_OPT_BIN) $(WASM_FEATURES) --strip-debug --strip-producers worker/build/index_bg.wasm \
		-o worker/build/index_bg.wasm
	cp worker/entry.mjs $(WORKER_BUNDLE)

$(LAG_BUNDLE): $(WORKER_SOURCES)
	cd worker && worker-build --release --out-dir build-lag --features simulated-faults
	cp worker/entry.mjs $@

build: bootstrap $(WORKER_BUNDLE)
	cargo build --release -p reis

# ---- running ----------------------------------------------------------------------------

# Local secrets for `make dev`, random, made once and never committed (.gitignore). The local
# provider and the Worker share OIDC_CLIENT_SECRET. A secret added later (ADMIN_API_SECRET) is
# appended to an existing file.
DEV_SECRETS := COOKIE_SECRET OIDC_CLIENT_SECRET ADMIN_API_SECRET
.dev.vars: Makefile
	@touch $@
	@for name in $(DEV_SECRETS); do \
		grep -q "^$$name=" $@ || node -e "console.log('$$name=' + \
			require('crypto').randomBytes(32).toString('hex'))" >> $@; \
	done
	@echo "wrote .dev.vars: local secrets for make dev"

# The Worker, and the local OpenID provider it signs in with (stopped with it).
dev: bootstrap $(WORKER_BUNDLE) .dev.vars
	@echo "console:         http://localhost:$(PORT)/console/  (sign in with any email at the local provider)"
	@echo "OpenID provider: http://127.0.0.1:$(OIDC_PORT)  (test only; development sign-in is enabled too)"
	@set -a; . ./.dev.vars; set +a; \
	node tests/oidc/provider.mjs --port $(OIDC_PORT) \
		--redirect-uri http://localhost:$(PORT)/console/auth/callback & provider=$$!; \
	trap 'kill $$provider 2>/dev/null' EXIT; \
	wrangler dev --ip 127.0.0.1 --port $(PORT) --var DEV_LOGIN:enabled \
		--var OIDC_ISSUER:http://127.0.0.1:$(OIDC_PORT) --persist-to .wrangler/state

# ---- testing ----------------------------------------------------------------------------

test: bootstrap bootstrap-browser lint test-rust vectors nostd $(WORKER_BUNDLE) $(LAG_BUNDLE) \
	deploy-check test-e2e test-contract test-browser
	@echo "make test: all green"

lint:
	cargo fmt --all --check
	cargo fmt --manifest-path tests/bench/bundle-floor/Cargo.toml --check
	cargo metadata --locked --all-features --format-version 1 \
		--manifest-path tests/bench/bundle-floor/Cargo.toml >/dev/null
	node tests/bench/bundle-floor/check-lock.mjs
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo clippy -p patgate-worker --all-targets --features simulated-faults --locked -- -D warnings

test-rust:
	cargo test --workspace --locked
	cargo test -p patgate-worker --features simulated-faults --locked -- config:: platform::faults

# The golden vectors are regenerated by an independent implementation and must not change.
vectors:
	python3 tests/vectors/generate_golden.py > tests/vectors/golden-tokens.json
	git diff --exit-code -- tests/vectors/golden-tokens.json

# Proof that the core needs no std: build it for a target that has none.
nostd:
	cargo build -p patgate-core --target wasm32v1-none --locked

# The production environment's bundle, built as `wrangler deploy --env production` builds it,
# uploading nothing; it must carry this very wasm.
deploy-check: $(WORKER_BUNDLE)
	rm -rf build/deploy-check
	wrangler deploy --dry-run --env production --outdir build/deploy-check
	test -s build/deploy-check/entry.js
	cmp build/deploy-check/*-index_bg.wasm worker/build/index_bg.wasm
	@echo "deploy-check: the production bundle builds"

test-e2e: $(WORKER_BUNDLE) $(LAG_BUNDLE)
	cargo build -p reis --locked
	node --test --test-concurrency=1 tests/e2e/

# The contract: schemathesis (pinned, from PyPI, in a private virtualenv) against the running
# Worker with docs/openapi.yaml.
CONTRACT_VENV := .venv/contract
$(CONTRACT_VENV)/.installed: tests/contract/requirements.txt
	python3 -m venv $(CONTRACT_VENV)
	$(CONTRACT_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/contract/requirements.txt
	@touch $@

test-contract: $(WORKER_BUNDLE) $(CONTRACT_VENV)/.installed
	node tests/contract/run.mjs

test-browser: $(WORKER_BUNDLE) bootstrap-browser
	node --test --test-concurrency=1 tests/browser/

# ---- benchmarks ---------------------------------------------------------------------------

bootstrap-wrk:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

bench: bootstrap bootstrap-wrk $(WORKER_BUNDLE) $(NAMED_WASM)
	cargo run --release -q -p patgate-core --example core_bench
	cargo run --release -q -p patgate-worker --example feed_bench
	node tests/bench/bench.mjs
	node tests/bench/bundle-profile.mjs $(NAMED_WASM)
	tests/bench/bundle-floor/measure.sh
	tests/bench/bundle-floor/measure.sh --core

# ---- load (not part of `make test`) -------------------------------------------------------

load: bootstrap bootstrap-wrk $(WORKER_BUNDLE)
	node tests/load/load.mjs

# ---- fuzzing (not part of `make test`) --------------------------------------------------

fuzz: bootstrap-fuzz
	fuzz/run.sh

clean:
	cargo clean
	rm -rf worker/build worker/build-lag build .wrangler test-artifacts fuzz/target fuzz/artifacts fuzz/logs \
		tests/bench/bundle-floor/target
