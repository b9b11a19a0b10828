# The two set-up commands: `make demo` and `make test`. Everything the project needs is
# installed from here, into .venv (and .bench-venv for the benchmarks' peers).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU build of PyTorch; an unpinned torch would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test bench torture lint clean venv dev ui ui-if-npm

$(VENV)/.core: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[demo]"
	touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.core
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[dev]"
	touch $@

venv: $(VENV)/.core
dev: $(VENV)/.dev

# The web UI (ui/, Vite + React): npm ci when the lock changed, a build when a source did. The
# bundle lands in src/lineal/server/ui/ (served by `lineal server` and `lineal ui`), never
# committed.
NPM ?= npm
UI_BUNDLE := src/lineal/server/ui/index.html
UI_SOURCES := $(shell find ui/src -type f 2>/dev/null) ui/index.html ui/package.json \
	ui/tsconfig.json ui/vite.config.ts

ui/node_modules/.package-lock.json: ui/package-lock.json
	cd ui && $(NPM) ci --no-audit --no-fund

$(UI_BUNDLE): ui/node_modules/.package-lock.json $(UI_SOURCES)
	cd ui && $(NPM) run build

ui: $(UI_BUNDLE)

# Without npm the demo and the tests still run, minus the web UI (its browser tests skip,
# except in CI where they fail).
ui-if-npm:
	@if command -v $(NPM) >/dev/null 2>&1; then $(MAKE) --no-print-directory ui; \
	else echo "npm not found: skipping the web UI build (install Node.js 20+ and run make ui)"; fi

# In a terminal the demo ends by serving the UI on its store until Ctrl-C; otherwise it exits
# after printing how to open it.
demo: $(VENV)/.core ui-if-npm
	$(PY) examples/demo.py
	@if [ -f $(UI_BUNDLE) ] && [ -t 0 ] && [ -t 1 ]; then $(PY) -m lineal.cli ui; \
	elif [ -f $(UI_BUNDLE) ]; then echo "Web UI: run '$(VENV)/bin/lineal ui' (http://127.0.0.1:8765/)"; fi

test: $(VENV)/.dev ui-if-npm
	@if command -v $(NPM) >/dev/null 2>&1; then cd ui && $(NPM) test; fi
	$(PY) -m pytest -n 2 --dist loadgroup -q

bench: $(VENV)/.dev
	$(PY) bench/run.py

# The reliability campaigns (SIGKILL, concurrent writers, bad input, tampering) on SQLite,
# PostgreSQL and MariaDB; writes docs/reliability.md. Not part of `make test`, which runs a
# short version of each campaign (tests/torture/).
TORTURE_ARGS ?= --sqlite 200 --postgres 50 --mariadb 20 --writers 8
torture: $(VENV)/.dev
	$(PY) torture/run.py $(TORTURE_ARGS)

# ruff, mypy ([tool.mypy]) and the layering contracts ([tool.importlinter]); `make test` runs
# the last two too (tests/core/test_types.py, tests/core/test_layers.py).
lint: $(VENV)/.dev
	$(PY) -m ruff check src tests bench
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .bench-venv .lineal build dist src/*.egg-info ui/node_modules src/lineal/server/ui \
		.mypy_cache .import_linter_cache
