"""The layering contracts of ``[tool.importlinter]`` in pyproject.toml hold (``lint-imports``,
as ``make lint`` runs it): the entities and errors import no store, SDK, CLI or server, the store
no CLI or server, nothing imports the CLI, the SQL implementation is reached only through
``lineal.store``, the store uses nothing above it (lineage, the registry, webhooks, the SDK: their
entities are in ``lineal.entities``), and ``lineal.reproduce._plan`` does not import ``_execute``
(no cycle). Every module of ``lineal`` is placed: a new one is either named below the store here
or forbidden to it in the contracts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

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


def _copy_with(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of the ``lineal`` package with ``line`` appended to ``module`` (a path under it)."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "lineal", src / "lineal",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(src / "lineal" / module, "a") as handle:
        handle.write(line)
    return src


# (module changed, the upward import added to it, what lint-imports must report)
UPWARD = [
    ("errors.py", "from .store.sql import store  # noqa",
     ["lineal.errors is not allowed to import lineal.store",
      "lineal.errors is not allowed to import lineal.store.sql"]),
    ("store/webhooks_base.py", "from ..webhooks import dispatcher  # noqa",
     ["lineal.store is not allowed to import lineal.webhooks",
      "lineal.store.webhooks_base -> lineal.webhooks.dispatcher"]),
    ("store/sql/runs.py", "from ...tracking import ActiveRun  # noqa",
     ["lineal.store is not allowed to import lineal.tracking"]),
    ("entities/_webhooks.py", "from ..webhooks import signing  # noqa",
     ["lineal.entities is not allowed to import lineal.webhooks"]),
]


@pytest.mark.parametrize(("module", "line", "reported"), UPWARD, ids=[u[0] for u in UPWARD])
def test_a_lower_layer_importing_a_higher_one_is_caught(
    tmp_path: Path, module: str, line: str, reported: list[str],
) -> None:
    src = _copy_with(tmp_path, module, f"\n\ndef _upward() -> None:\n    {line}\n")
    done = lint_imports(src)
    assert done.returncode != 0
    for text in reported:
        assert text in done.stdout, done.stdout


def _contract(config: dict[str, Any], source: str, forbidding: str) -> dict[str, Any]:
    contracts = config["tool"]["importlinter"]["contracts"]
    found = [c for c in contracts if source in c.get("source_modules", [])
             and forbidding in c.get("forbidden_modules", [])]
    assert len(found) == 1, found
    return found[0]


# Modules the store may use: the bottom layer's sources (from the contract) and these, which
# import nothing above the store (the contracts check it, since the store imports them).
BELOW_THE_STORE = {
    "lineal._lazy", "lineal.auth", "lineal.auth.principal", "lineal.auth.roles", "lineal.config",
    "lineal.gcpause", "lineal.heartbeat", "lineal.identity", "lineal.inputs", "lineal.notebook",
    "lineal.run_data",
    "lineal.search", "lineal.search.filter", "lineal.search.page",
}


def test_every_module_is_below_or_above_the_store() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    above = set(_contract(config, "lineal.store", "lineal.webhooks")["forbidden_modules"])
    bottom = set(_contract(config, "lineal.entities", "lineal.store")["source_modules"])
    own = {"lineal.store", "lineal.cli", "lineal.server"}

    def placed(name: str) -> bool:
        return any(name == p or name.startswith(p + ".")
                   for p in above | bottom | own | BELOW_THE_STORE)

    lineal_dir = ROOT / "src" / "lineal"
    names = [f"lineal.{p.stem}" for p in lineal_dir.iterdir()
             if p.suffix == ".py" and p.stem != "__init__" or (p / "__init__.py").exists()]
    names += [f"lineal.auth.{p.stem}" for p in (lineal_dir / "auth").glob("*.py")
              if p.stem != "__init__"]
    unplaced = sorted(n for n in names if not placed(n))
    assert unplaced == [], f"place these in pyproject.toml's store contract or BELOW_THE_STORE: {unplaced}"
    # The bottom layer may import nothing the store may not: the same modules are forbidden.
    assert above <= set(_contract(config, "lineal.entities", "lineal.store")["forbidden_modules"])


def test_the_store_contract_has_no_exceptions() -> None:
    # The entities, the time parser and the version matcher the store needs are below it: an
    # exception added back here would hide a new upward import.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    store = _contract(config, "lineal.store", "lineal.registry")
    assert store["source_modules"] == ["lineal.store"]
    assert "lineal.webhooks" in store["forbidden_modules"]
    assert store.get("ignore_imports", []) == []


def test_an_import_cycle_in_reproduce_is_caught(tmp_path: Path) -> None:
    src = _copy_with(tmp_path, "reproduce/_plan.py",
                     "\n\ndef _back() -> None:\n    from . import _execute  # noqa\n")
    done = lint_imports(src)
    assert done.returncode != 0
    assert "lineal.reproduce._plan -> lineal.reproduce._execute" in done.stdout, done.stdout
