"""A first check that every backend opens, migrates, and round-trips a run and a version."""

from __future__ import annotations

from pathlib import Path

import lineal
from lineal.store import Store


def test_run_and_artifact_roundtrip(backend_store: Store, tmp_path: Path) -> None:
    file = tmp_path / "data.csv"
    file.write_text("a,b\n1,2\n")
    with lineal.run("step", kind="train", params={"lr": 0.5, "layers": [1, 2]}, capture=False) as run:
        run.log_metric("loss", 0.25)
        run.log_metric("loss", float("nan"))
        version = run.log_artifact(file, kind="dataset", tags={"pii": "no"})
    stored = lineal.get_run(run.id)
    assert stored.status == lineal.RunStatus.FINISHED
    assert stored.params == {"lr": 0.5, "layers": [1, 2]}
    assert version.ref == "default/data.csv@v1"
    again = lineal.get_artifact("data.csv@latest")
    assert again.digest == version.digest and again.tags == {"pii": "no"}
    history = lineal.metric_history(run.id, "loss")
    assert [p.step for p in history] == [0, 1]
