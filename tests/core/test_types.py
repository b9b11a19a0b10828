"""mypy finds no error in ``src/lineal``, with the settings of ``[tool.mypy]`` in
pyproject.toml (the same check as ``make lint``). CI runs ``make test``, so a type error
fails CI here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a cold cache on a loaded machine; warm it takes seconds
def test_mypy_finds_no_error() -> None:
    # The cache under the checkout (.mypy_cache, ignored by git) keeps reruns incremental.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-color-output", "--no-error-summary"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, f"mypy reports:\n{done.stdout}{done.stderr}"
    assert not done.stdout.strip(), done.stdout
