# `make demo` and `make test` set everything up themselves (engine, compose, images, venv).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup venv engine images browser demo test unit lint bench clean

setup: venv engine images

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
	@$(BIN)/python -c 'import runner, docker, yaml, git, watchdog, fastapi, uvicorn' 
	@touch $@

engine:
	@scripts/engine.sh

images: venv engine
	@$(BIN)/runner images bootstrap

lint: venv
	$(BIN)/ruff check runner tests bench
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q -m 'not docker' tests

# Debian's chromium for the dashboard's browser tests (Playwright drives /usr/bin/chromium;
# nothing is downloaded from a browser CDN). A no-op when it is installed.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

test: setup browser lint
	CI=$${CI:-} $(BIN)/pytest -q tests

demo: setup
	$(BIN)/python scripts/demo.py

# The flip figure drives the router with Debian's wrk (a no-op when it is installed).
# One figure alone: make bench BENCH_ARGS="--only flip" (python -m bench --list names them).
bench: setup
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .runner .mypy_cache .ruff_cache .pytest_cache
