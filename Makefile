# `make demo` and `make test` set everything up themselves (engine, compose, images, venv).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup venv engine images test-tools demo test unit lint bench clean

setup: venv engine images

# An editable install writes no .pyc files; under PYTHONDONTWRITEBYTECODE (CI images set
# it) every fresh runner process (a hook's worker, `runner build`) would compile ~60
# modules again, ~70 ms. Compiling is a no-op for modules whose .pyc is current.
venv: $(STAMP)
	@$(BIN)/python -m compileall -q runner

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

# What some tests drive, from Debian: chromium for the dashboard's browser tests (Playwright
# uses /usr/bin/chromium; nothing comes from a browser CDN) and docker-registry for the
# registry test. A no-op when they are installed.
test-tools:
	@scripts/debian-packages.sh chromium:chromium docker-registry:docker-registry

test: setup test-tools lint
	CI=$${CI:-} $(BIN)/pytest -q tests

demo: setup
	$(BIN)/python scripts/demo.py

# The flip figure drives the router with Debian's wrk (a no-op when it is installed).
# One figure alone: make bench BENCH_ARGS="--only flip" (python -m bench --list names them).
bench: setup
	@scripts/debian-packages.sh wrk:wrk
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .runner .mypy_cache .ruff_cache .pytest_cache
