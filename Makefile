# The two set-up commands: `make demo` and `make test`. Everything the project needs is
# installed from here, into .venv (and .bench-venv for the benchmarks' peers).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU build of PyTorch; an unpinned torch would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test bench torture lint clean venv dev

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

demo: $(VENV)/.core
	$(PY) examples/demo.py

test: $(VENV)/.dev
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
	$(PY) -m ruff check src tests
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .bench-venv .lineal build dist src/*.egg-info .mypy_cache .import_linter_cache
