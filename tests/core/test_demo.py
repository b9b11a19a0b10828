"""`make demo` runs examples/demo.py: it must work end to end on a fresh embedded store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import lineal
from lineal.store import open_store

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"


@pytest.mark.slow
def test_demo_records_the_whole_pipeline(tmp_path: Path) -> None:
    store_dir = tmp_path / "demo-store"
    env = {**os.environ, "LINEAL_URI": str(store_dir)}
    out = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "cancer-pipeline" in out.stdout
    store = open_store(store_dir)
    pipeline = lineal.list_runs(kind="pipeline", store=store)[0]
    steps = {r.name: r for r in lineal.list_runs(parent_id=pipeline.id, store=store)}
    assert set(steps) >= {"ingest", "validate", "features", "train-logreg", "train-forest", "evaluate"}
    assert all(r.status == lineal.RunStatus.FINISHED for r in steps.values())
    kinds = {v.kind for v in lineal.list_artifacts(store=store, limit=1000)}
    assert {"dataset", "model", "report", "environment", "code"} <= kinds
    assert lineal.audit.verify(store=store).ok
