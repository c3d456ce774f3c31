# `make demo` and `make test` set everything up themselves (engine, compose, images, venv).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup venv engine images demo test unit lint bench clean

setup: venv engine images

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
	@$(BIN)/python -c 'import runner, docker, yaml, git, watchdog' 
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

test: setup lint
	CI=$${CI:-} $(BIN)/pytest -q tests

demo: setup
	$(BIN)/python scripts/demo.py

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .runner .mypy_cache .ruff_cache .pytest_cache
