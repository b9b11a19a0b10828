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
    # Datasets carry their fingerprint, schema and profile; features were made from raw.
    raw = lineal.get_artifact("cancer-raw@v1", store=store)
    assert raw.metadata["dataset"]["digest"].startswith("sha256:")
    described = lineal.datasets.get_description("cancer-features-train@v1", store=store)
    assert "target" in [c.name for c in described.schema]

    # The registry part: v1 released, v2 replaced it, the rollback put v1 back live.
    from lineal import deployments, registry

    versions = registry.list_versions("cancer-classifier", store=store)
    assert sorted(v.version for v in versions) == [1, 2]
    timeline = deployments.timeline("cancer-classifier", store=store)
    assert [(d.model_version, str(d.status)) for d in timeline] == [
        (1, "replaced"), (2, "rolled_back"), (1, "live")
    ]
    assert timeline[-1].restores_id == timeline[0].id
    live = deployments.current("prod", store=store)
    assert [d.model_version for d in live] == [1]
    assert all(a.decision == "approved" for v in versions for a in v.approvals)
    failed = lineal.list_runs(status="failed", store=store)
    assert [r.name for r in failed] == ["train-logreg"]
    assert failed[0].error is not None and "C" in failed[0].error.message
