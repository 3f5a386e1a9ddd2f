# footfall: `make demo` runs the main job on the embedded default; `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
GO_FUZZTIME ?= 10s

.PHONY: help demo test test-go test-python lint typecheck clean

help:
	@echo "make demo   set up .venv and run the scripted scene end to end (nats-server -> projection -> chDB)"
	@echo "make test   set up .venv and run Go tests, ruff, mypy and pytest"
	@echo "make clean  remove .venv and .footfall"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(STAMP_DEV): pyproject.toml requirements-peers.txt | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps -r requirements-peers.txt
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/footfall demo

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

test-python: $(STAMP_DEV)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .footfall
