# homescope: `make demo` brings up a working system; `make test` runs every check CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help demo test lint bench system-deps clean

help:
	@echo "make demo   - set up everything, start broker + collector + emulated fleet + a real agent"
	@echo "make test   - set up everything, then lint, type-check, import contracts and the test suite"
	@echo "make bench  - run the benchmarks (print JSON figures)"
	@echo "make lint   - ruff, mypy and import-linter only"

system-deps:
	@bash scripts/system-deps.sh

$(STAMP): pyproject.toml
	@bash scripts/system-deps.sh python
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	HOMESCOPE_REQUIRE_C=1 $(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check agent collector protocol emulator tests bench scripts
	$(VENV)/bin/ruff format --check agent collector protocol emulator tests bench scripts
	$(VENV)/bin/mypy agent collector protocol emulator
	$(VENV)/bin/lint-imports

test: system-deps $(STAMP) lint
	$(PY) -m pytest $(PYTEST_ARGS)

demo: system-deps $(STAMP)
	@bash scripts/demo.sh

bench: system-deps $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b --json || exit 1; done

clean:
	rm -rf $(VENV) .demo .mypy_cache .ruff_cache

# A 32-bit CPython (Debian's i386 packages, unpacked into .python32/) for bench/agent.py's footprint figures.
.PHONY: python32
python32:
	@bash scripts/python32.sh .python32
