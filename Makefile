# Tessera: the two commands a newcomer needs are `make run` and `make test`.
# Both install what is missing first (scripts/ensure-tools.sh) and skip it
# quickly when it is there.

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
# cargo-leptos builds debug code with this flag; cargo test uses the same,
# so the two share one target directory without rebuilding each other.
export RUSTFLAGS := --cfg erase_components

.PHONY: run run-tls cluster tls-check test test-rust test-e2e build tools e2e-tools bench bench-cluster soak bench-micro fmt lint clean-data

run: tools ## Build and serve at http://127.0.0.1:3000 (database in data/)
	@scripts/dev-mfa-key.sh
	@echo "Tessera will be at http://127.0.0.1:3000 once built."
	TESSERA_JWT_CREATE_KEY_IF_MISSING=true cargo leptos serve

# The same over HTTPS with built-in TLS: https://localhost:3443, a self-signed
# certificate for localhost made on first use in data/tls/ (docs/deployment.md, "Trying
# HTTPS locally"); http://127.0.0.1:3080 only redirects there.
TLS_ENV := TESSERA_TLS_CERT_PATH=data/tls/localhost.pem \
	TESSERA_TLS_KEY_PATH=data/tls/localhost-key.pem TESSERA_TLS_SELF_SIGNED=true
run-tls: tools
	@scripts/dev-mfa-key.sh
	@echo "Tessera will be at https://localhost:3443 once built."
	$(TLS_ENV) TESSERA_TLS_REDIRECT_ADDR=127.0.0.1:3080 TESSERA_JWT_CREATE_KEY_IF_MISSING=true \
	  TESSERA_WEBAUTHN_ORIGINS=https://localhost:3443 \
	  LEPTOS_SITE_ADDR=127.0.0.1:3443 cargo leptos serve

# testssl.sh against the TLS listener (protocols, ciphers, server defaults,
# known vulnerabilities); summary in bench/out/tls-check.txt.
tls-check: build
	@scripts/ensure-tools.sh tls
	scripts/tls-check.sh

test: e2e-tools test-rust test-e2e ## Unit + HTTP tests, then Playwright in Chromium

# `frontend` is left out so `app` is not built with ssr and hydrate at once.
# The HTTP suite runs its tests in parallel: each test has its own app, port
# and database, and stops its server when it ends (docs/testing.md). The
# binaries that time a real server process (shutdown, cluster) or read the
# process's one log subscriber keep to two threads. Everything on a
# throwaway PostgreSQL too (scripts/postgres.sh: Debian's package, loopback
# only, deleted afterwards): the store conformance suite, the schema
# comparison, the cluster tests, then the whole HTTP suite a second time
# with PostgreSQL as the app's database. TESSERA_REQUIRE_POSTGRES makes a
# missing PostgreSQL a failure, not a skip. server/tests/architecture.rs
# checks that every test binary is named in one of these two lines.
HTTP_TEST_THREADS ?= 8
SERIAL_TESTS := --test store_conformance --test logs --test json_logs --test aborted_requests --test shutdown --test cluster --test faults
test-rust:
	scripts/postgres.sh run env TESSERA_REQUIRE_POSTGRES=1 sh -c '\
	  cargo test --workspace --exclude frontend --lib --bins --test http --test architecture -- --test-threads=$(HTTP_TEST_THREADS) && \
	  cargo test -p server $(SERIAL_TESTS) -- --test-threads=2 && \
	  TESSERA_TEST_ENGINE=postgres cargo test -p server --test http -- --test-threads=$(HTTP_TEST_THREADS)'


# Playwright starts the just-built server on 127.0.0.1:3100 with its own
# temporary database (end2end/playwright.config.ts).
test-e2e: build
	mkdir -p target/e2e-geoip && cargo run -q -p testkit --bin geoip-fixture -- target/e2e-geoip/GeoLite2-City.mmdb
	cd end2end && CI=$${CI:-} E2E_START_SERVER=1 npx playwright test

build: tools
	cargo leptos build

# Two instances on a throwaway PostgreSQL behind haproxy, at
# http://127.0.0.1:3300 until Ctrl-C (docs/deployment.md, "More than one server").
cluster: build
	scripts/cluster.sh run

tools:
	@scripts/ensure-tools.sh

e2e-tools:
	@scripts/ensure-tools.sh e2e

# The performance budget of issues 4 and 9, against the release server with oha
# (BENCH_SECONDS per workload, default 10; BENCH_SCALE_SESSIONS, default
# 1,000,000). About 3 minutes once built. Results in bench/out/.
bench:
	@scripts/ensure-tools.sh bench
	RUSTFLAGS= cargo leptos build --release
	python3 bench/run.py

# W1 and W3 through haproxy on two release instances sharing PostgreSQL,
# against one instance on SQLite, in one run (bench/cluster.py).
bench-cluster:
	@scripts/ensure-tools.sh bench
	RUSTFLAGS= cargo leptos build --release
	python3 bench/cluster.py

# Ten minutes (SOAK_SECONDS) of mixed use through haproxy on two release
# instances, one restarted midway: 0 errors and no revoked session answered
# as live, or it fails (bench/soak.py; issue 24).
soak:
	@scripts/ensure-tools.sh bench
	RUSTFLAGS= cargo leptos build --release
	python3 bench/soak.py

# Criterion micro-benchmarks: session store operations and ID hashing.
bench-micro:
	RUSTFLAGS= cargo bench -p server --bench session_store

fmt:
	cargo fmt --all

lint:
	cargo test -p server --test architecture
	cargo clippy --workspace --exclude frontend --all-targets -- -D warnings
	RUSTFLAGS= cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

clean-data: ## Delete the development database
	rm -rf data
