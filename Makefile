# Developer and CI entry points; every tool runs from the project virtualenv in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv run test lint bench chaos clean

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Order-only on the interpreter: only a newer pyproject.toml re-runs the install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

run: venv
	$(BIN)/leadgen run --customer demo --query "dentists" --location "Austin, TX" \
		--max-leads 12 --max-dossiers 5

# pytest exits 5 when it collects no tests; make treats that as a failure, so keep it unmasked.
test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: venv
	$(BIN)/leadgen bench $(BENCH_ARGS)

chaos: venv
	$(BIN)/python -m chaos

# Leaves .venv alone; remove it by hand for a from-scratch install.
clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o \( -name '*.egg-info' -o -name __pycache__ \) -prune \
		-exec rm -rf {} +
