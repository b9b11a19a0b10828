"""The MetadataStore contract for runs, params, tags and metrics, on SQLite, PostgreSQL and
MariaDB (the ``backend_store`` fixture)."""

from __future__ import annotations

import dataclasses
import math
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lineal.entities import MetricPoint, Run, RunError, RunStatus, new_id, now_us
from lineal.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from lineal.identity import os_account
from lineal.store import Store
from lineal.store.base import MetadataStore, RunFilter

# What every backend records: the SQL store the actor it is told, an HTTP store the server's
# principal (here the same OS account).
ACTOR = os_account()
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_run(meta: MetadataStore, name: str = "train", **fields: Any) -> Run:
    values: dict[str, Any] = {
        "id": new_id(),
        "project": "default",
        "name": name,
        "kind": "train",
        "status": RunStatus.RUNNING,
        "started_at": datetime.now(UTC),
    }
    values.update(fields)
    run = Run(**values)
    meta.create_run(run, ACTOR)
    return run


def ledger_size(meta: MetadataStore) -> int:
    entries = meta.ledger_entries(limit=1_000_000)
    return entries[-1].seq if entries else 0


def point(key: str, value: float, step: int, ts: int | None = None) -> MetricPoint:
    return MetricPoint(key, value, step, ts if ts is not None else now_us())


def test_create_and_get_round_trip(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(
        meta, "prep", kind="preprocess", project="churn", experiment="exp-1",
        started_at=T0, params={"lr": 0.1}, tags={"team": "ml"},
    )
    stored = meta.get_run(run.id)
    assert (stored.id, stored.project, stored.name, stored.kind) == (run.id, "churn", "prep", "preprocess")
    assert stored.status is RunStatus.RUNNING and stored.ended_at is None
    assert stored.started_at == T0 and stored.experiment == "exp-1"
    assert stored.params == {"lr": 0.1} and stored.tags == {"team": "ml"}
    assert stored.created_by == ACTOR and stored.parent_id is None and stored.error is None


def test_unknown_run_is_not_found(backend_store: Store) -> None:
    meta = backend_store.metadata
    with pytest.raises(NotFound, match="lineal runs list"):
        meta.get_run(new_id())
    before = ledger_size(meta)
    for call in (
        lambda: meta.finish_run(new_id(), RunStatus.FINISHED, now_us(), None, ACTOR),
        lambda: meta.log_batch(new_id(), ACTOR, metrics=[point("x", 1, 0)]),
        lambda: meta.metric_history(new_id(), "x"),
    ):
        with pytest.raises(NotFound):
            call()
    assert ledger_size(meta) == before


def test_nested_runs_record_their_parent(backend_store: Store) -> None:
    meta = backend_store.metadata
    pipeline = make_run(meta, "pipeline", kind="pipeline")
    step = make_run(meta, "step", parent_id=pipeline.id)
    assert meta.get_run(step.id).parent_id == pipeline.id
    before = ledger_size(meta)
    with pytest.raises(NotFound):
        make_run(meta, "orphan", parent_id=new_id())
    assert ledger_size(meta) == before
    assert meta.list_runs(RunFilter(name="orphan")) == []


def test_finish_with_error(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta)
    ended = now_us()
    error = RunError("ValueError", "bad input", "Traceback (most recent call last):\n  ...")
    meta.finish_run(run.id, RunStatus.FAILED, ended, error, ACTOR)
    stored = meta.get_run(run.id)
    assert stored.status is RunStatus.FAILED and stored.error == error
    assert stored.ended_at is not None and abs(stored.ended_at.timestamp() * 1e6 - ended) < 2


def test_finish_writes_the_last_batch_with_the_status(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta, params={"lr": 0.1})
    meta.log_batch(run.id, ACTOR, metrics=[point("loss", 0.9, 0)])
    before = ledger_size(meta)
    meta.finish_run(
        run.id, RunStatus.FINISHED, now_us(), None, ACTOR,
        params={"epochs": 3}, metrics=[point("loss", 0.2, 1), point("acc", 0.8, 0)],
        tags={"stage": "eval"},
    )
    stored = meta.get_run(run.id)
    assert stored.status is RunStatus.FINISHED and stored.ended_at is not None
    assert stored.params == {"lr": 0.1, "epochs": 3} and stored.tags == {"stage": "eval"}
    assert stored.metrics == {"loss": 0.2, "acc": 0.8}
    assert [p.value for p in meta.metric_history(run.id, "loss")] == [0.9, 0.2]
    # One transaction, each change its own ledger entry: status, params, tag, metrics.
    assert ledger_size(meta) == before + 4


def test_finish_with_a_rejected_batch_writes_nothing(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta, params={"lr": 0.1})
    before = ledger_size(meta)
    with pytest.raises(Conflict, match="immutable"):
        meta.finish_run(
            run.id, RunStatus.FINISHED, now_us(), None, ACTOR,
            params={"lr": 0.5}, metrics=[point("loss", 0.2, 0)],
        )
    assert ledger_size(meta) == before
    stored = meta.get_run(run.id)
    assert stored.status is RunStatus.RUNNING and stored.ended_at is None
    assert stored.metrics == {} and stored.params == {"lr": 0.1}
    with pytest.raises(NotFound):
        meta.finish_run(new_id(), RunStatus.FINISHED, now_us(), None, ACTOR,
                        metrics=[point("x", 1.0, 0)])
    assert ledger_size(meta) == before


def test_params_are_immutable(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta, params={"lr": 0.1})
    meta.log_batch(run.id, ACTOR, params={"lr": 0.1, "epochs": 3})  # same value: idempotent
    before = ledger_size(meta)
    with pytest.raises(Conflict, match="immutable"):
        meta.log_batch(
            run.id, ACTOR, params={"lr": 0.2, "new": 1}, metrics=[point("loss", 1.0, 0)],
            tags={"t": "v"},
        )
    assert ledger_size(meta) == before, "a rejected batch writes nothing"
    stored = meta.get_run(run.id)
    assert stored.params == {"lr": 0.1, "epochs": 3}
    assert stored.metrics == {} and stored.tags == {}


PARAMS: dict[str, Any] = {
    "int": 3,
    "big": 2**53 + 1,
    "float": 0.1,
    "whole_float": 2.0,
    "str": "adam",
    "unicode": "été ✓",
    "true": True,
    "false": False,
    "none": None,
    "list": [1, "two", 3.0, None],
    "dict": {"b": [1, 2], "a": {"nested": True}},
}


def test_params_keep_their_type(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta, params={"first": 1})
    meta.log_batch(run.id, ACTOR, params=PARAMS)
    stored = meta.get_run(run.id).params
    assert stored == {"first": 1, **PARAMS}
    for key, value in PARAMS.items():
        assert type(stored[key]) is type(value), key
    assert type(stored["list"][2]) is float


def test_non_json_param_is_invalid(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta)
    with pytest.raises(InvalidArgument, match="not JSON"):
        meta.log_batch(run.id, ACTOR, params={"fn": object()})
    with pytest.raises(InvalidArgument):
        meta.log_batch(run.id, ACTOR, params={"": 1})
    assert meta.get_run(run.id).params == {}


def test_tags_upsert(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta, tags={"stage": "dev", "owner": "ana"})
    meta.log_batch(run.id, ACTOR, tags={"stage": "prod", "reviewed": "yes"})
    meta.log_batch(run.id, ACTOR, tags={"stage": "prod"})  # unchanged value: no new entry
    assert meta.get_run(run.id).tags == {"stage": "prod", "owner": "ana", "reviewed": "yes"}
    tag_entries = meta.ledger_entries(limit=1000, entity_id=f"{run.id}/stage")
    assert [e.action for e in tag_entries] == ["run.tag", "run.tag"]


def test_metric_batches_and_history(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta)
    meta.log_batch(run.id, ACTOR, metrics=[point("loss", 1.0 / (s + 1), s) for s in range(5)])
    meta.log_batch(run.id, ACTOR, metrics=[point("acc", 0.5, 0), point("loss", 0.1, 5)])
    history = meta.metric_history(run.id, "loss")
    assert [p.step for p in history] == [0, 1, 2, 3, 4, 5]
    assert [p.value for p in history] == [1.0, 0.5, 1 / 3, 0.25, 0.2, 0.1]
    assert meta.metric_history(run.id, "acc")[0].value == 0.5
    assert meta.metric_history(run.id, "absent") == []


def test_latest_metric_is_the_highest_step(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta)
    meta.log_batch(run.id, ACTOR, metrics=[point("loss", 0.9, 0), point("loss", 0.3, 10)])
    meta.log_batch(run.id, ACTOR, metrics=[point("loss", 0.7, 4)])  # a late, earlier step
    meta.log_batch(run.id, ACTOR, metrics=[point("lr", 0.01, 0)])
    assert meta.get_run(run.id).metrics == {"loss": 0.3, "lr": 0.01}
    meta.log_batch(run.id, ACTOR, metrics=[point("loss", 0.2, 11)])
    assert meta.get_run(run.id).metrics["loss"] == 0.2


def test_nan_and_infinite_metrics(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta)
    meta.log_batch(
        run.id, ACTOR,
        metrics=[point("loss", 1.0, 0), point("loss", math.nan, 1), point("grad", math.inf, 0)],
    )
    values = [p.value for p in meta.metric_history(run.id, "loss")]
    assert values[0] == 1.0 and math.isnan(values[1])
    latest = meta.get_run(run.id).metrics
    assert math.isnan(latest["loss"])
    grad = meta.metric_history(run.id, "grad")[0].value
    # MySQL cannot store infinities (nor NaN): once read back as NaN, now kept as NULL plus a
    # code and given back as logged, on every backend.
    assert grad == math.inf and latest["grad"] == math.inf
    meta.log_batch(run.id, ACTOR, metrics=[point("grad", -math.inf, 1), point("ok", 2.5, 0)])
    assert [p.value for p in meta.metric_history(run.id, "grad")] == [math.inf, -math.inf]
    assert meta.get_run(run.id).metrics["grad"] == -math.inf
    assert meta.verify_ledger().ok


@pytest.mark.sql
def test_a_non_finite_value_changed_behind_the_ledger_is_detected(backend_store: Store) -> None:
    import sqlalchemy as sa

    meta = backend_store.metadata
    run = make_run(meta)
    meta.log_batch(run.id, ACTOR, metrics=[point("grad", math.inf, 0)])
    assert meta.verify_ledger().ok
    with meta.db.write_engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.text("UPDATE metrics SET value = NULL, value_nonfinite = '-inf' "
                             "WHERE run_id = :r"), {"r": run.id})
    assert meta.metric_history(run.id, "grad")[0].value == -math.inf
    assert any(p.kind == "row-altered" for p in meta.verify_ledger().problems)


def _seed_runs(meta: MetadataStore) -> dict[str, Run]:
    runs: dict[str, Run] = {}
    runs["a"] = make_run(meta, "ingest", kind="ingest", started_at=T0, tags={"team": "data"})
    runs["b"] = make_run(meta, "train", started_at=T0 + timedelta(minutes=1), experiment="e1",
                         tags={"team": "ml", "gpu": "a100"})
    runs["c"] = make_run(meta, "train", started_at=T0 + timedelta(minutes=2), experiment="e1",
                         parent_id=runs["a"].id, tags={"team": "ml"})
    runs["d"] = make_run(meta, "train", started_at=T0 + timedelta(minutes=3), project="other")
    runs["e"] = make_run(meta, "eval", kind="evaluate", started_at=T0 + timedelta(minutes=4),
                         experiment="e2", parent_id=runs["a"].id)
    meta.finish_run(runs["b"].id, RunStatus.FINISHED, now_us(), None, ACTOR)
    meta.finish_run(runs["c"].id, RunStatus.FAILED, now_us(), RunError("E", "m", "tb"), ACTOR)
    return runs


def test_list_runs_filters(backend_store: Store) -> None:
    meta = backend_store.metadata
    runs = _seed_runs(meta)
    key_of = {r.id: key for key, r in runs.items()}

    def names(**fields: Any) -> list[str]:
        return [key_of[r.id] for r in meta.list_runs(RunFilter(**fields))]

    assert names() == ["e", "d", "c", "b", "a"], "newest first"
    assert names(project="default") == ["e", "c", "b", "a"]
    assert names(project="nope") == []
    assert names(name="train") == ["d", "c", "b"]
    assert names(kind="evaluate") == ["e"]
    assert names(status=RunStatus.FAILED) == ["c"]
    assert names(status="running") == ["e", "d", "a"]
    assert names(experiment="e1") == ["c", "b"]
    assert names(parent_id=runs["a"].id) == ["e", "c"]
    assert names(tags={"team": "ml"}) == ["c", "b"]
    assert names(tags={"team": "ml", "gpu": "a100"}) == ["b"]
    assert names(tags={"team": "nobody"}) == []
    after, before = T0 + timedelta(minutes=1), T0 + timedelta(minutes=3)
    assert names(
        started_after_us=int(after.timestamp() * 1e6),
        started_before_us=int(before.timestamp() * 1e6),
    ) == ["c", "b"], "after is inclusive, before exclusive"
    assert names(limit=2) == ["e", "d"]
    assert names(limit=2, offset=2) == ["c", "b"]
    assert names(limit=2, offset=4) == ["a"]
    assert names(name="train", project="default", experiment="e1", limit=1) == ["c"]


def test_listed_runs_carry_params_tags_and_metrics(backend_store: Store) -> None:
    meta = backend_store.metadata
    ids = []
    for i in range(3):
        run = make_run(meta, params={"i": i}, tags={"n": str(i)})
        meta.log_batch(run.id, ACTOR, metrics=[point("m", float(i), 0)])
        ids.append(run.id)
    listed = {r.id: r for r in meta.list_runs(RunFilter())}
    for i, run_id in enumerate(ids):
        assert listed[run_id].params == {"i": i} and listed[run_id].tags == {"n": str(i)}
        assert listed[run_id].metrics == {"m": float(i)}


def test_run_ids_with_prefix(backend_store: Store) -> None:
    meta = backend_store.metadata
    a, b = make_run(meta, "a"), make_run(meta, "b")
    assert meta.run_ids_with_prefix(a.id) == [a.id]
    common = os.path.commonprefix([a.id, b.id])
    assert meta.run_ids_with_prefix(common) == sorted([a.id, b.id])
    assert meta.run_ids_with_prefix(common, limit=1) == [min(a.id, b.id)]
    # LIKE wildcards in the prefix are matched literally.
    assert meta.run_ids_with_prefix("%") == [] and meta.run_ids_with_prefix("_") == []
    assert meta.run_ids_with_prefix(a.id[:10] + "%") == []


def test_a_driver_error_on_the_prepared_path_is_a_lineal_error(backend_store: Store) -> None:
    # create_run's INSERT runs on the driver's cursor (database.Prepared); the duplicate key
    # must still come back as AlreadyExists, with nothing written.
    meta = backend_store.metadata
    run = make_run(meta, params={"lr": 0.1})
    before = ledger_size(meta)
    with pytest.raises(AlreadyExists, match="already exists"):
        meta.create_run(dataclasses.replace(run, params={"other": 1}), ACTOR)
    assert ledger_size(meta) == before
    assert meta.get_run(run.id).params == {"lr": 0.1}
