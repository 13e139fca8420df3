# TaskPilot developer commands. Every target bootstraps what it needs (idempotently), so on a
# fresh clone `make run` or `make test` is the only command to type. Needs Python 3.11+
# (`python3`) and npm; no virtualenv activation: tools are called by their .venv/bin paths.
#
#   make run        the app in dev mode: pages on http://localhost:3000, API on :8000
#   make run-prod   the production build, pages + API + /mcp on one port (http://localhost:3000)
#   make run-workers  production with WORKERS workers (PostgreSQL + Redis; docs/deploy.md)
#   make test       the test suite with coverage (the same command CI runs, see .ci/run)

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
TOOLS ?= .tools
# Reflex 0.10.1 wants bun >= 1.4.4 and Node >= 22.22; both come from the npm registry because
# Reflex's own bun download (from GitHub) is not reachable everywhere.
BUN_VERSION ?= 1.4.4
NODE_VERSION ?= 22.23.3
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=
COV_FAIL_UNDER ?= 95
CHROMIUM ?= /usr/bin/chromium

PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.requirements.stamp
TOOLS_STAMP := $(TOOLS)/.bun-$(BUN_VERSION)-node-$(NODE_VERSION).stamp
LINT_PATHS := $(wildcard taskpilot tests bench alembic rxconfig.py)
# Reflex otherwise times registry.npmjs.org against a mirror before its first install; use the
# registry npm is configured with.
REFLEX := NPM_CONFIG_REGISTRY="$${NPM_CONFIG_REGISTRY:-$$(npm config get registry 2>/dev/null)}" \
	$(VENV)/bin/reflex

# Reflex runs with the pinned bun and node first on PATH and never phones home.
export PATH := $(abspath $(TOOLS))/node_modules/.bin:$(PATH)
export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false

ifneq ($(filter migration,$(MAKECMDGOALS)),)
ifeq ($(strip $(m)),)
$(error usage: make migration m="what changed")
endif
endif

.PHONY: help install tools migrate run run-prod run-workers test chromium lint bench bench-load \
	bench-frontend bench-understanding migration \
	clean distclean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(VENV_STAMP) $(TOOLS_STAMP) ## Create .venv with requirements-dev.txt; bun + node 22 into .tools

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-runs only when a requirements file changes.
$(VENV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

tools: $(TOOLS_STAMP) ## Install the pinned bun and node into .tools (from the npm registry)

$(TOOLS_STAMP):
	@mkdir -p $(TOOLS)
	npm install --prefix $(TOOLS) --save-exact --no-audit --no-fund --no-update-notifier \
		--loglevel=error bun@$(BUN_VERSION) node@$(NODE_VERSION)
	@test "$$($(TOOLS)/node_modules/.bin/bun --version)" = "$(BUN_VERSION)"
	@test "$$($(TOOLS)/node_modules/.bin/node --version)" = "v$(NODE_VERSION)"
	@rm -f $(TOOLS)/.bun-*.stamp && touch $@

migrate: $(VENV_STAMP) ## Apply database migrations (DATABASE_URL, SQLite file by default)
	$(PY) -c "from taskpilot.core.db import migrate; migrate()"

run: install migrate ## Run TaskPilot in dev mode: pages :3000, API :8000 (SQLite, offline model)
	$(REFLEX) run

run-prod: install migrate ## Run the production build on one port (:3000)
	$(REFLEX) run --env prod

# Several workers on one port: migrations once, then Granian forks WORKERS processes. Needs
# REFLEX_REDIS_URL when WORKERS > 1, and a PostgreSQL DATABASE_URL for other machines to join.
WORKERS ?= 2
HOST ?= 0.0.0.0
PORT ?= 3000
run-workers: install ## Production: migrate once, then WORKERS workers on HOST:PORT (docs/deploy.md)
	$(PY) -m taskpilot.serve --workers $(WORKERS) --host $(HOST) --port $(PORT) $(SERVE_ARGS)

test: install chromium ## Run the tests with coverage (PostgreSQL tests use TASKPILOT_TEST_POSTGRES_URL)
	TASKPILOT_TEST_POSTGRES_URL="$${TASKPILOT_TEST_POSTGRES_URL:-$(TEST_POSTGRES_URL)}" \
		$(PY) -m pytest --cov=taskpilot --cov-report=term-missing \
		--cov-fail-under=$(COV_FAIL_UNDER) $(PYTEST_ARGS)

# Browser tests drive Debian's Chromium (no Playwright browser download). Without root the
# install is skipped with a message and those tests skip themselves.
chromium: ## Install Debian's chromium for the browser tests, if missing
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; \
	else echo "note: $(CHROMIUM) is missing and installing it needs root;" \
		"run 'sudo apt-get install -y chromium' (browser tests skip without it)."; exit 0; fi; \
	echo "Installing Debian's chromium for the browser tests..."; \
	$$SUDO apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || \
	echo "note: installing chromium failed; browser tests will skip."

lint: $(VENV_STAMP) ## ruff check + ruff format --check
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)

bench: install ## Run the server benchmarks (python -m bench → bench/RESULTS.md)
	$(PY) -m bench $(BENCH_ARGS)

bench-load: install ## Load: 50/200/500 conversations on 2 workers + PostgreSQL (bench/LOAD.md)
	$(PY) -m bench.load $(BENCH_ARGS)

bench-frontend: install chromium ## Chat page: bundle size, cold load, first token (bench/FRONTEND.md)
	$(PY) -m bench.frontend $(BENCH_ARGS)

bench-understanding: install ## Offline model: its corpora through the API and MCP (bench/UNDERSTANDING.md)
	$(PY) -m bench.understanding

migration: migrate ## New migration from the models: make migration m="add task colour"
	$(VENV)/bin/alembic revision --autogenerate -m "$(m)"

clean: ## Remove build output and caches (keeps .venv, .tools and your database)
	rm -rf .web .states .pytest_cache .ruff_cache .mypy_cache htmlcov test-artifacts \
		.coverage .coverage.* coverage.xml
	find . -path ./$(VENV) -prune -o -path ./$(TOOLS) -prune -o \
		-name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## Also remove .venv and .tools
	rm -rf $(VENV) $(TOOLS)
