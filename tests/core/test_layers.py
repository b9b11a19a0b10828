"""The layering contracts of ``[tool.importlinter]`` in pyproject.toml hold (``lint-imports``,
as ``make lint`` runs it): the entities and errors import no store, CLI or server, the store no
CLI or server, nothing imports the CLI, the SQL implementation is reached only through
``lineal.store``, the store uses nothing of lineage or the registry (their entities are in
``lineal.entities``), and ``lineal.reproduce._plan`` does not import ``_execute`` (no cycle)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the ``lineal`` package under ``src``, with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": str(src)}  # the package checked is this one, not an install
    code = "import sys; from importlinter.cli import lint_imports_command; " \
           "sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", code, "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )


def test_the_layering_contracts_hold() -> None:
    done = lint_imports(ROOT / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_a_lower_layer_importing_a_higher_one_is_caught(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "lineal", src / "lineal",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(src / "lineal" / "errors.py", "a") as module:
        module.write("\n\ndef _upward() -> None:\n    from .store.sql import store  # noqa\n")
    done = lint_imports(src)
    assert done.returncode != 0
    assert "lineal.errors is not allowed to import lineal.store" in done.stdout, done.stdout
    assert "lineal.errors is not allowed to import lineal.store.sql" in done.stdout, done.stdout


def test_the_store_contract_has_no_exceptions() -> None:
    # The entities, the time parser and the version matcher the store needs are below it: an
    # exception added back here would hide a new upward import.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    store = [c for c in contracts if c.get("source_modules") == ["lineal.store"]
             and "lineal.registry" in c.get("forbidden_modules", [])]
    assert len(store) == 1
    assert store[0].get("ignore_imports", []) == []


def test_an_import_cycle_in_reproduce_is_caught(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "lineal", src / "lineal",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(src / "lineal" / "reproduce" / "_plan.py", "a") as module:
        module.write("\n\ndef _back() -> None:\n    from . import _execute  # noqa\n")
    done = lint_imports(src)
    assert done.returncode != 0
    assert "lineal.reproduce._plan -> lineal.reproduce._execute" in done.stdout, done.stdout
