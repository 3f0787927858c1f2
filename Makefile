# polyact: two set-up-free commands.
#   make demo   the end-to-end show on all four backends
#   make test   the whole suite in both environments
# Both create or update .venv (Python 3.11: torch CPU, jax, flax, ...) and
# .venv-megengine (Python 3.9 from Debian 11, MegEngine 1.13.0) first.

SHELL := /bin/bash
MAIN := .venv/bin/python
MGE := .venv-megengine/bin/python
PYTEST_FLAGS ?= -q -p no:cacheprovider

.PHONY: demo test env env-main env-megengine test-main test-megengine lint format

env: env-main env-megengine

env-main:
	@bash scripts/setup_env.sh main

# Outside CI a machine that cannot build the MegEngine environment (no root for
# apt, say) still runs the main suite, loudly; under CI=true it is a failure.
env-megengine:
	@bash scripts/setup_env.sh megengine || { \
		if [ "$${CI:-}" = "true" ]; then echo "MegEngine environment could not be set up (CI=true: failing)" >&2; exit 1; fi; \
		echo "WARNING: MegEngine environment could not be set up; its tests will not run here" >&2; }

demo: env
	@if [ -x $(MGE) ]; then $(MAIN) -m polyact.demo --peer $(MGE); else $(MAIN) -m polyact.demo; fi

test: env
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory test-main || status=1; \
	$(MAKE) --no-print-directory test-megengine || status=1; \
	exit $$status

test-main: env-main
	@echo "== main environment (numpy, torch, jax): $$($(MAIN) --version)"
	POLYACT_TEST_BACKENDS=numpy,torch,jax POLYACT_REQUIRE_BACKENDS=numpy,torch,jax \
		$(MAIN) -m pytest tests $(PYTEST_FLAGS)

test-megengine: env-megengine
	@if [ ! -x $(MGE) ] && [ "$${CI:-}" != "true" ]; then echo "SKIPPED: no MegEngine environment" >&2; exit 0; fi; \
	echo "== MegEngine environment: $$($(MGE) --version)"; \
	POLYACT_TEST_BACKENDS=megengine POLYACT_REQUIRE_BACKENDS=megengine \
		$(MGE) -m pytest tests $(PYTEST_FLAGS)

lint: env-main
	@echo "== ruff"
	@$(MAIN) -m ruff check polyact tests scripts
	@$(MAIN) -m ruff format --check polyact tests scripts

format: env-main
	$(MAIN) -m ruff format polyact tests scripts
	$(MAIN) -m ruff check --fix polyact tests scripts
