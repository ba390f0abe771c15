# The stable interface: `make run` and `make test` work on a fresh clone.
# They bootstrap uv (pinned) into .tools/, create .venv and install exactly uv.lock.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(VENV)
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export GX_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 90

.PHONY: setup setup-dev run test lint format bench sample docs clean check-clients

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --compile-bytecode: Python's bytecode is written at install, not on first import. Where
# PYTHONDONTWRITEBYTECODE is set (containers, CI images) nothing is ever cached otherwise, and
# every command spent about 20 s compiling Prefect, Great Expectations and scikit-learn anew.
SYNC := $(UV) sync --frozen --compile-bytecode --python $(PYTHON)

# The runtime: what `make run` needs, without pytest, mypy, ruff or the benchmark baseline.
# --inexact keeps the development tools when they are already there (after `make test`).
$(VENV)/.runtime: uv.lock pyproject.toml Makefile | $(UV)
	$(SYNC) --no-dev --inexact
	touch $@

# The runtime plus the dev group (tests, linters, benchmarks).
$(VENV)/.development: uv.lock pyproject.toml Makefile | $(UV)
	$(SYNC)
	touch $@ $(VENV)/.runtime

setup: $(VENV)/.runtime ## create .venv and install the locked runtime dependencies

setup-dev: $(VENV)/.development ## the runtime plus the development tools (make test, lint, bench)

run: setup ## run the audit on the embedded sample -> data/welfare_audit.duckdb
	$(BIN)/welfare-audit run --config data/sample/audit.toml --warehouse data/welfare_audit.duckdb

# Two workers (pytest-xdist), one test file each at a time: a serial suite kept one of two
# cores idle half the time, waiting on child processes and servers. TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 2
test: setup-dev lint ## lint, type-check and run the test suite
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

lint: setup-dev ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup-dev ## benchmarks at 1M households (BENCH_ARGS=--scale 10m for the large cases)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

sample: setup ## regenerate the embedded sample (deterministic: same bytes)
	$(BIN)/welfare-audit generate --households 20000 --seed 20261127 --format parquet --out data/sample \
		--warehouse ../welfare_audit.duckdb --output-directory ../output

docs: setup ## regenerate the generated docs: output and input data dictionaries, configuration reference and its JSON Schema
	$(BIN)/python -c "from transforms.contract import data_dictionary_markdown as d; open('docs/data-dictionary.md', 'w', encoding='utf-8').write(d())"
	$(BIN)/python -c "from transforms.inputs import input_dictionary_markdown as d; open('docs/input-dictionary.md', 'w', encoding='utf-8').write(d())"
	$(BIN)/python -c "from transforms.report.config_reference import configuration_reference_markdown as c; open('docs/configuration.md', 'w', encoding='utf-8').write(c())"
	$(BIN)/python -c "from transforms.report.config_reference import config_json_schema_text as s; open('docs/audit.schema.json', 'w', encoding='utf-8').write(s())"

check-clients: setup ## open the sample's warehouse with DuckDB 1.x clients from PyPI and run every analyst query (#18)
	bash .ci/check_duckdb_clients.sh

clean:
	rm -rf $(VENV) $(TOOLS) data/welfare_audit.duckdb data/welfare_audit.duckdb.files data/output .pytest_cache .mypy_cache .ruff_cache
