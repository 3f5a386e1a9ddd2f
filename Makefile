# footfall: `make demo` runs the main job on the embedded default; `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_EVAL := $(VENV)/.installed-eval
STAMP_DEV := $(VENV)/.installed-dev
# A count, not a duration: on CI's VMs a timed run (-fuzztime=10s) stalled at 0 execs/s and ended in
# "context deadline exceeded", while counted runs go at ~5,000 execs/s.
GO_FUZZTIME ?= 50000x

.PHONY: help demo eval test test-go test-python lint typecheck clean dashboard browser
DASHBOARD := ops/serve/dashboard
DASHBOARD_BUILT := $(DASHBOARD)/static/app.js

help:
	@echo "make demo   set up .venv and run the scripted scene end to end (nats-server -> projection -> chDB)"
	@echo "make eval   add the tracking peers (trackers, supervision) for footfall eval mot / bench tracker"
	@echo "make test   set up .venv and run Go tests, ruff, mypy and pytest"
	@echo "make dashboard  build serve's dashboard assets from the pinned npm packages (npm ci, esbuild)"
	@echo "make clean  remove .venv and .footfall"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# The peers pin opencv-python, which would overwrite opencv-python-headless's cv2: --no-deps, and
# their other requirements come from the `eval` extra.
$(STAMP_EVAL): pyproject.toml requirements-peers.txt | $(BIN)/python
	$(BIN)/pip install -q -e '.[eval]'
	$(BIN)/pip install -q --no-deps -r requirements-peers.txt
	touch $@ $(STAMP_RUN)

$(STAMP_DEV): pyproject.toml requirements-peers.txt | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps -r requirements-peers.txt
	touch $@ $(STAMP_EVAL) $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/footfall demo

eval: $(STAMP_EVAL)

test: test-go lint typecheck test-python

test-go:
	cd go-ingest && test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	cd go-ingest && go vet ./... && go test ./...
	cd go-ingest && go test -run='^$$' -fuzz=FuzzDecodeBatch -fuzztime=$(GO_FUZZTIME) ./internal/fuzz

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

# The dashboard's front end: the npm packages of package-lock.json, bundled into static/ (served by serve).
dashboard: $(DASHBOARD_BUILT)

$(DASHBOARD_BUILT): $(DASHBOARD)/frontend/package.json $(DASHBOARD)/frontend/package-lock.json \
		$(DASHBOARD)/frontend/build.mjs $(wildcard $(DASHBOARD)/frontend/src/*)
	cd $(DASHBOARD)/frontend && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

# Browser tests and the report's PDF: Debian's chromium, and pdftoppm (poppler-utils) to read PDF pages.
browser:
	@command -v chromium >/dev/null && command -v pdftoppm >/dev/null || { \
		$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y -q \
			--no-install-recommends chromium poppler-utils fonts-dejavu-core; }

test-python: $(STAMP_DEV) dashboard browser
	$(BIN)/python -m pytest
	@echo "consumer tests again on nats-py's stock receive path (stream/inbox.py's fallback):"
	FOOTFALL_NATS_FAST_PATH=0 $(BIN)/python -m pytest -q tests/stream/test_publish_consume.py \
		tests/stream/test_consume_replay.py tests/stream/test_acks.py tests/stream/test_inbox.py

clean:
	rm -rf $(VENV) .footfall $(DASHBOARD)/frontend/node_modules $(DASHBOARD)/static
