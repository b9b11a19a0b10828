"""ruff finds nothing in ``src``, ``tests`` and ``bench`` with the settings of ``[tool.ruff]`` in
pyproject.toml (what ``make lint`` runs first). CI runs ``make test``, so with this test, mypy's
(test_types.py) and the layering contracts' (test_layers.py), all of ``make lint`` gates CI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_finds_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
         "src", "tests", "bench"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, f"ruff reports:\n{done.stdout}{done.stderr}"
