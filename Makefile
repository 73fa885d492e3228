# One entry point for the project. `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS  := $(CURDIR)/.tools
UV_VERSION := 0.13.8
UV     := $(TOOLS)/uv-venv/bin/uv
VENV   := $(CURDIR)/.venv
RUN    := $(VENV)/bin
PYTEST_ARGS ?=

export UV_COMPILE_BYTECODE := 1
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install lint format test test-fast evaluate bench-ingest pipeline-ingest \
        pipeline-clean pipeline-train clean

help: ## List every target with its one-line description
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	@echo "==> installing uv $(UV_VERSION) into $(TOOLS)"
	@$(PYTHON) -m venv $(TOOLS)/uv-venv
	@$(TOOLS)/uv-venv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	@echo "==> creating the environment in .venv (uv sync --frozen)"
	@$(UV) sync --frozen --quiet
	@touch $@

install: $(VENV)/.synced ## Create .venv with every dependency from uv.lock (idempotent)

lint: install ## ruff lint and format check
	$(RUN)/ruff check .
	$(RUN)/ruff format --check .

format: install ## Apply ruff's formatting and safe fixes
	$(RUN)/ruff format .
	$(RUN)/ruff check --fix .

test: install ## Run the whole test suite (starts real Postgres, S3, MLflow, Airflow itself)
	$(RUN)/python -m pytest $(PYTEST_ARGS)

test-fast: install ## Only the tests that need no service (unit + data-set checks)
	$(RUN)/python -m pytest tests/unit tests/data/test_dataset.py $(PYTEST_ARGS)

evaluate: install ## Throwaway stack: all batches through ingest→clean→train→promote; prints JSON metrics
	$(RUN)/python -m readmission evaluate

bench-ingest: install ## Benchmark batch ingest against psql \copy of the same CSV; prints JSON
	$(RUN)/python -m tests.bench.bench_ingest

pipeline-ingest: install ## Load the next batch into DATA_DB_URL (same code as the DAG)
	$(RUN)/python -m readmission ingest

pipeline-clean: install ## Clean the pending raw batches in DATA_DB_URL
	$(RUN)/python -m readmission clean

pipeline-train: install ## Train, log to MLFLOW_TRACKING_URI, register, maybe promote
	$(RUN)/python -m readmission train

clean: ## Remove caches and the virtual environment (keeps .local data)
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
