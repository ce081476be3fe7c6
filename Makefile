# Two commands for users: `make run` and `make test`. Both install what a fresh Debian/Ubuntu machine lacks.
SHELL := /bin/bash
SWIFT ?= swift
APT_PACKAGES := pkg-config libsqlite3-dev libcurl4-openssl-dev libssl-dev
# PostgreSQL's server and psql, for the second run of the suites (`make test`), and Prometheus, whose
# `promtool check metrics` validates GET /metrics (UsageQuotaTests), python3-venv for the openai SDK and browser
# checks, and Debian's chromium and chromium-driver (headless, driven by selenium) for the browser tests
# (Tests/browser); none is needed to run the server.
TEST_APT_PACKAGES := postgresql postgresql-client prometheus python3-venv chromium chromium-driver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SWIFT_FORMAT_PATHS := Package.swift Sources Tests Benchmarks
# Release binaries link the Swift runtime and Foundation statically: no shared-library relocations at start,
# about 3.5 MB less resident memory at idle, and a binary that runs without a Swift toolchain installed.
RELEASE_BUILD := $(SWIFT) build -c release --static-swift-stdlib

.PHONY: help deps test-deps install-packages build release run demo test bench fuzz-api docs-assets console-screenshots lint format clean

help:
	@echo "make run     install missing system packages, build (release) and start the server on ./ai_chat.db"
	@echo "make demo    like run, with AI replies from the in-repo mock Groq server (offline, ./demo.db)"
	@echo "make test    install missing system packages, build and run the test suites (on SQLite, then PostgreSQL)"
	@echo "make bench   build (release) and run chat-bench against the real binary (docs/performance.md)"
	@echo "make fuzz-api  run schemathesis against the running API's OpenAPI document (in a virtualenv)"
	@echo "make docs-assets  refresh Swagger UI and ReDoc (served by /docs, /redoc) from the pinned PyPI package"
	@echo "make console-screenshots  redraw the README's screenshots of the web console (docs/console-*.png)"
	@echo "make lint    check formatting with swift format (.swift-format)"
	@echo "make format  format the sources in place"

# System libraries the C shims link against (see Package.swift: CSQLite, CCurl, CCrypto).
deps: PACKAGES = $(APT_PACKAGES)
deps: install-packages

test-deps: PACKAGES = $(APT_PACKAGES) $(TEST_APT_PACKAGES)
test-deps: install-packages

install-packages:
	@command -v $(SWIFT) >/dev/null || { echo "error: swift is not on PATH (Swift 6.2 or newer is required)"; exit 1; }
	@missing=""; \
	for package in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if ! command -v apt-get >/dev/null; then \
	    echo "error: missing system packages:$$missing (install the equivalents with your package manager)"; exit 1; \
	  fi; \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(RELEASE_BUILD) --product chat-server

run: release
	.build/release/chat-server serve

# The server wired to the in-repo mock upstream (mock-groq on 127.0.0.1:9090): streaming, long-poll and
# cancel can be tried offline. The mock's replies say that they come from the mock.
demo: release
	$(RELEASE_BUILD) --product mock-groq
	@.build/release/mock-groq --port 9090 & mock=$$!; \
	trap "kill $$mock 2>/dev/null" EXIT INT TERM; \
	GROQ_API_KEY=mock-key GROQ_BASE_URL=http://127.0.0.1:9090/openai/v1 DATABASE_URL=sqlite:///./demo.db \
	  .build/release/chat-server serve

# Suites run one after another: several measure the server's timing (wake-ups within 100 ms, timeouts within
# 1 s) or load it with thousands of connections, and on two cores they would measure each other instead.
# The whole suite runs twice: on SQLite files, then on a throwaway PostgreSQL server that
# Tests/scripts/with-postgres starts (initdb in a temporary directory, a Unix socket, removed afterwards).
# Then the official openai Python SDK (in a throwaway virtualenv) against the real binary's /v1 door, on each,
# and the browser tests (Tests/browser: pytest + selenium, headless Chromium) against the real binary, on each.
test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --no-parallel
	Tests/scripts/with-postgres $(SWIFT) test --skip-build --no-parallel
	Tests/scripts/openai-sdk-check
	Tests/scripts/with-postgres Tests/scripts/openai-sdk-check
	Tests/scripts/browser-check
	Tests/scripts/with-postgres Tests/scripts/browser-check

# Every scenario at its budget's concurrency, against the real chat-server binary as a child process; then the
# read path under wrk (installed with apt-get when missing).
bench: release
	$(RELEASE_BUILD) --product chat-bench
	$(RELEASE_BUILD) --product mock-groq
	.build/release/chat-bench --spawn-server $(BENCH_ARGS)
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk; }
	$(RELEASE_BUILD) --product bare-route
	Benchmarks/wrk/read-path .build/release/chat-server .build/release/mock-groq .build/release/bare-route

# schemathesis against a fresh server's /openapi.json (installs schemathesis into .build/fuzz-venv).
fuzz-api: release
	$(RELEASE_BUILD) --product mock-groq
	.ci/fuzz-api

# Swagger UI and ReDoc, compiled into the binary for /docs and /redoc (Sources/CDocsAssets/assets, with their
# licences and VERSIONS), from PyPI's drf-spectacular-sidecar at this version (pip in a throwaway virtualenv).
DOCS_ASSETS_VERSION := 2026.10.1
docs-assets:
	SIDECAR_VERSION=$(DOCS_ASSETS_VERSION) .ci/docs-assets

# The README's screenshots of the web console at /app (docs/console-*.png), drawn in headless Chromium against a
# fresh server on SQLite by Tests/browser/test_console_account.py.
console-screenshots: test-deps build
	CONSOLE_SCREENSHOTS=$(CURDIR)/docs Tests/scripts/browser-check -k screenshots

lint:
	$(SWIFT) format lint --strict --recursive $(SWIFT_FORMAT_PATHS)
	.ci/long-functions Sources Benchmarks
	@# The turn machinery knows no HTTP (SwiftPM would let an undeclared module be imported once it is built).
	@! grep -rnE '^[^/]*import (Hummingbird|HTTPTypes|NIOHTTP1|NIOHTTPTypes)' Sources/ChatTurns \
		|| { echo "Sources/ChatTurns must not import the HTTP stack"; exit 1; }

format:
	$(SWIFT) format --in-place --recursive $(SWIFT_FORMAT_PATHS)

clean:
	rm -rf .build
