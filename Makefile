# polyact: two set-up-free commands.
#   make demo   the end-to-end show on all four backends
#   make test   the whole suite in both environments, and the docs site's checks
#   make docs   the documentation site (build/docs/site), generated from the registry
# Both create or update .venv (Python 3.11: torch CPU, jax, flax, ...) and
# .venv-megengine (Python 3.9 from Debian 11, MegEngine 1.13.0) first.

SHELL := /bin/bash
MAIN := .venv/bin/python
MGE := .venv-megengine/bin/python
PYTEST_FLAGS ?= -q -p no:cacheprovider
CROSS_DIR := build/cross

.PHONY: demo test env env-main env-megengine env-docs test-main test-megengine test-cross cross-dump-main \
	cross-dump-megengine cross-compare test-docs docs lint format

env: env-main env-megengine

env-main:
	@bash scripts/setup_env.sh main

# Outside CI a machine that cannot build the MegEngine environment (no root for
# apt, say) still runs the main suite, loudly; under CI=true it is a failure.
env-megengine:
	@bash scripts/setup_env.sh megengine || { \
		if [ "$${CI:-}" = "true" ]; then echo "MegEngine environment could not be set up (CI=true: failing)" >&2; exit 1; fi; \
		echo "WARNING: MegEngine environment could not be set up; its tests will not run here" >&2; }

# KaTeX (from npm) and Debian's chromium for the docs; under CI=true a failure fails.
env-docs:
	@bash scripts/setup_env.sh docs || { \
		if [ "$${CI:-}" = "true" ]; then echo "docs tools could not be set up (CI=true: failing)" >&2; exit 1; fi; \
		echo "WARNING: docs tools (KaTeX, chromium) could not be set up" >&2; }

demo: env
	@if [ -x $(MGE) ]; then $(MAIN) -m polyact.demo --peer $(MGE); else $(MAIN) -m polyact.demo; fi

# The two environments' suites run side by side (one process each: CI has two
# cores); the MegEngine lane then dumps MegEngine's values for the cross-backend
# comparison and runs some of the main environment's modules (the
# inductor-compiled kernels, the property tests, plots and docs), and the main
# lane ends with the numpy/torch/jax dump, so that the lanes end together
# (measured in a fresh clone, cold reference cache, CI=true: the main lane done
# after 1651 s, the MegEngine lane after 1705 s, 1751 s in all, 31 min from clone
# to exit with both environments built).
# The second lane's output is shown when both have finished.
SECOND_LANE := tests/test_compiled.py tests/test_properties.py tests/test_plot.py tests/test_docsite.py \
	tests/test_plugin_example.py tests/test_onnx.py

test: env env-docs
	@status=0; mkdir -p build; SECONDS=0; rm -rf $(CROSS_DIR); \
	$(MAKE) --no-print-directory lint || status=1; \
	{ s=0; $(MAKE) --no-print-directory test-megengine || s=1; \
	  $(MAKE) --no-print-directory cross-dump-megengine || s=1; \
	  $(MAKE) --no-print-directory test-main TESTS="$(SECOND_LANE)" || s=1; \
	  echo "[make test] MegEngine lane done after $${SECONDS}s"; exit $$s; } \
		> build/test-second-lane.log 2>&1 & lane=$$!; \
	$(MAKE) --no-print-directory test-main TESTS="tests $(addprefix --ignore=,$(SECOND_LANE))" || status=1; \
	$(MAKE) --no-print-directory cross-dump-main || status=1; \
	echo "[make test] main lane done after $${SECONDS}s"; \
	wait $$lane || status=1; \
	grep -v '^\(info\|debug\):' build/test-second-lane.log; \
	echo "[make test] both lanes done after $${SECONDS}s"; \
	$(MAKE) --no-print-directory test-docs > build/test-docs.log 2>&1 & docs=$$!; \
	$(MAKE) --no-print-directory cross-compare || status=1; \
	wait $$docs || status=1; \
	cat build/test-docs.log; \
	echo "[make test] done after $${SECONDS}s"; \
	exit $$status

TESTS ?= tests

test-main: env-main
	@echo "== main environment (numpy, torch, jax): $$($(MAIN) --version)"
	POLYACT_TEST_BACKENDS=numpy,torch,jax POLYACT_REQUIRE_BACKENDS=numpy,torch,jax \
		$(MAIN) -m pytest $(TESTS) $(PYTEST_FLAGS)

test-megengine: env-megengine
	@if [ ! -x $(MGE) ] && [ "$${CI:-}" != "true" ]; then echo "SKIPPED: no MegEngine environment" >&2; exit 0; fi; \
	echo "== MegEngine environment: $$($(MGE) --version)"; \
	POLYACT_TEST_BACKENDS=megengine POLYACT_REQUIRE_BACKENDS=megengine \
		$(MGE) -m pytest tests $(PYTEST_FLAGS)

# Cross-backend agreement: each environment dumps its values and gradients on
# one fixed input set into $(CROSS_DIR), then every pair of backends and kernels
# is compared in the main environment. Under CI=true a missing MegEngine dump
# fails; outside CI the main backends are compared alone, loudly. (make test
# runs each dump at the end of its environment's lane, then the comparison.)
test-cross: env
	@status=0; rm -rf $(CROSS_DIR); \
	$(MAKE) --no-print-directory cross-dump-main || status=1; \
	$(MAKE) --no-print-directory cross-dump-megengine || status=1; \
	$(MAKE) --no-print-directory cross-compare || status=1; \
	exit $$status

cross-dump-main: env-main
	@mkdir -p $(CROSS_DIR); echo "== cross-backend dumps (numpy, torch, jax) into $(CROSS_DIR)"; \
	$(MAIN) -m polyact._crossdump $(CROSS_DIR) --backend numpy --backend torch --backend jax

cross-dump-megengine: env-megengine
	@mkdir -p $(CROSS_DIR); \
	if [ -x $(MGE) ]; then \
		echo "== cross-backend dump (megengine) into $(CROSS_DIR)"; \
		$(MGE) -m polyact._crossdump $(CROSS_DIR) --backend megengine 2>&1 | grep -v '^\(info\|debug\):' ; \
		exit $${PIPESTATUS[0]}; \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "no MegEngine environment: cannot dump the megengine backend (CI=true: failing)" >&2; exit 1; \
	else \
		echo "WARNING: no MegEngine environment: cross-backend agreement covers numpy, torch and jax only" >&2; \
	fi

cross-compare: env-main
	@echo "== cross-backend agreement"; \
	POLYACT_CROSS_DIR=$(CROSS_DIR) $(MAIN) -m pytest tests/test_cross_backend.py $(PYTEST_FLAGS)

lint: env-main
	@echo "== ruff"
	@$(MAIN) -m ruff check polyact tests scripts
	@$(MAIN) -m ruff format --check polyact tests scripts

format: env-main
	$(MAIN) -m ruff format polyact tests scripts
	$(MAIN) -m ruff check --fix polyact tests scripts

# The documentation site, generated from the registry (polyact/docsite.py) with
# the guide in docs/, the accuracy measured by `polyact check` (kernel='auto', the
# default parameters) in both environments, and KaTeX served from the site itself.
DOCS_OUT := build/docs
DOCS_CHECK := --kernel auto --defaults --no-progress

docs: env env-docs
	@mkdir -p build; \
	echo "== accuracy for the docs: polyact check $(DOCS_CHECK)"; \
	$(MAIN) -m polyact check $(DOCS_CHECK) --backend numpy --backend torch --backend jax \
		--report build/check-main.json > build/check-main.txt; [ $$? -le 1 ] || exit 1; \
	if [ -x $(MGE) ]; then $(MGE) -m polyact check $(DOCS_CHECK) --backend megengine \
		--report build/check-megengine.json 2>&1 | grep -v '^\(info\|debug\):' > build/check-megengine.txt; \
		[ "$${PIPESTATUS[0]}" -le 1 ] || exit 1; fi; \
	$(MAIN) -m polyact.docsite --out $(DOCS_OUT) --guide docs --katex build/vendor/katex \
		--accuracy build/check-main.json $$([ -f build/check-megengine.json ] && echo --accuracy build/check-megengine.json)
	@echo "site: $(DOCS_OUT)/site/index.html"

# make test's docs check: the same site without the accuracy runs (the suite has
# just checked every kernel), then a page and a plot per activation, the
# catalogue, and KaTeX's rendering in headless Chromium (screenshot in build/docs-check).
test-docs: env-main env-docs
	@echo "== docs site (strict build)"; \
	$(MAIN) -m polyact.docsite --out build/docs-test --guide docs --katex build/vendor/katex || exit 1; \
	POLYACT_DOCS_SITE=build/docs-test POLYACT_DOCS_SHOTS=build/docs-check \
		$(MAIN) -m pytest tests/test_docs_site.py $(PYTEST_FLAGS)
