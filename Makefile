# The documented entry points: `make demo` to see it work, `make test` to test it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# pytest workers for `make test`; each test file stays on one worker.
# TEST_WORKERS=0 runs the tests in one process (for -s or --pdb).
TEST_WORKERS ?= 2

.PHONY: demo test lint bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime-installed

install-dev: $(VENV)/.dev-installed

## demo: local PostgreSQL + Kasho data + workload + collectors + dashboard on 127.0.0.1:8501
demo: install
	$(BIN)/kasho-ops demo $(DEMO_ARGS)

## test: lint and type checks, then unit + integration + browser tests on throwaway clusters
test: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

## bench: benchmarks (not part of `make test`); they print their numbers
bench: install-dev
	$(BIN)/pytest -m bench -s -p no:cacheprovider tests/bench $(PYTEST_ARGS)

clean:
	rm -rf .kasho-ops test-artifacts .pytest_cache .ruff_cache
