"""Large metric batches through the store: multi-row statements on SQLite (several per
batch), COPY on PostgreSQL, PyMySQL's multi-row INSERT on MariaDB."""

from __future__ import annotations

import lineal
from lineal.entities import MetricPoint
from lineal.store import Store


def test_a_large_batch_of_tuples_and_points_is_stored_and_verifies(backend_store: Store) -> None:
    with lineal.run("big", capture=False, store=backend_store) as run:
        pass
    points = [("loss", 1.0 / (i + 1), i, 1_000 + i) for i in range(12_000)]  # > 32766 / 6
    points += [MetricPoint("acc", 0.5, 0, 7), MetricPoint("acc", float("nan"), 1, 8)]
    backend_store.metadata.log_batch(run.id, "tester", metrics=points)
    stored = lineal.metric_history(run.id, "loss", store=backend_store)
    assert [(p.step, p.value, p.timestamp_us) for p in stored] == [
        (s, v, ts) for _, v, s, ts in points[:12_000]]
    assert len(lineal.metric_history(run.id, "acc", store=backend_store)) == 2
    assert lineal.get_run(run.id, store=backend_store).metrics["loss"] == 1.0 / 12_000
    assert backend_store.metadata.verify_ledger().ok
