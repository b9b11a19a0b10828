"""Nothing valid is lost: a value the store cannot hold is refused where it is logged, a batch the
store refuses anyway never blocks later writes, and a run whose data could not all be stored
does not end ``finished``. On SQLite, PostgreSQL and MariaDB (``backend_store``)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest

import lineal
from lineal import run_data
from lineal.entities import MetricPoint
from lineal.errors import Conflict, InvalidArgument
from lineal.store import Store
from lineal.store.sql import tables

BAD_METRICS: list[tuple[str, Any, Any, str]] = [
    ("k" * 251, 1.0, None, "251 characters"),
    ("a\x00b", 1.0, None, "NUL"),
    ("", 1.0, None, "non-empty"),
    ("loss", 1.0, 2**63, "64 bits"),
    ("loss", 1.0, -(2**63) - 1, "64 bits"),
    ("loss", 1.0, 1.5, "not an integer"),
    ("loss", 10**400, None, "too large"),
    ("loss", "0.5", None, "not a number"),
    ("loss", object(), None, "not a number"),
    ("loss", 1 + 2j, None, "not a number"),
]


def test_the_key_limit_is_the_columns() -> None:
    assert run_data.MAX_KEY == tables.KEY


@pytest.mark.parametrize(("key", "value", "step", "problem"), BAD_METRICS)
def test_a_bad_metric_is_refused_where_it_is_logged(
    backend_store: Store, key: str, value: Any, step: Any, problem: str
) -> None:
    with lineal.run("t", capture=False, store=backend_store) as run:
        run.log_metric("loss", 0.5)
        with pytest.raises(InvalidArgument, match=problem) as raised:
            run.log_metric(key, value, step=step)
        if key:
            assert repr(key)[:20] in str(raised.value), "the error names the key"
        with pytest.raises(InvalidArgument, match=problem):
            run.log_metrics({"good": 1.0, key: value}, step=step)
        run.log_metric("loss", 0.25)
    record = lineal.get_run(run.id, store=backend_store)
    assert record.status == lineal.RunStatus.FINISHED
    assert [p.value for p in lineal.metric_history(run.id, "loss", store=backend_store)] == [0.5, 0.25]
    assert "good" not in record.metrics, "a refused log_metrics logs none of its metrics"


@pytest.mark.parametrize(("params", "tags", "problem"), [
    ({"k" * 251: 1}, {}, "251 characters"),
    ({"a\x00": 1}, {}, "NUL"),
    ({"lr": math.nan}, {}, "finite"),
    ({"lr": [1.0, math.inf]}, {}, "finite"),
    ({"lr": object()}, {}, "not JSON"),
    ({"big": "x" * 70_000}, {}, "bytes"),
    ({"bad": "\udc80"}, {}, "Unicode"),
    ({}, {"t": "a\x00b"}, "NUL"),
    ({}, {"t" * 251: "v"}, "251 characters"),
    ({}, {"t": "y" * 70_000}, "bytes"),
])
def test_a_bad_param_or_tag_is_refused_where_it_is_logged(
    backend_store: Store, params: dict[str, Any], tags: dict[str, Any], problem: str
) -> None:
    with lineal.run("t", capture=False, store=backend_store) as run:
        with pytest.raises(InvalidArgument, match=problem):
            if params:
                run.log_params({"ok": 1, **params})
            else:
                run.set_tags({"ok": "1", **tags})
        run.log_param("lr", 0.1)
        run.set_tag("team", "ml")
    record = lineal.get_run(run.id, store=backend_store)
    assert record.status == lineal.RunStatus.FINISHED
    assert record.params == {"lr": 0.1} and record.tags == {"team": "ml"}
    with pytest.raises(InvalidArgument, match=problem):
        lineal.start_run("t2", capture=False, store=backend_store, params=params, tags=tags)


def test_non_finite_metrics_round_trip_through_the_sdk(backend_store: Store) -> None:
    with lineal.run("t", capture=False, store=backend_store) as run:
        for step, value in enumerate([1.0, math.inf, -math.inf, math.nan]):
            run.log_metric("x", value, step=step)
        run.log_metrics({"up": math.inf, "down": -math.inf, "none": math.nan})
    values = [p.value for p in lineal.metric_history(run.id, "x", store=backend_store)]
    assert values[:3] == [1.0, math.inf, -math.inf] and math.isnan(values[3])
    latest = lineal.get_run(run.id, store=backend_store).metrics
    assert latest["up"] == math.inf and latest["down"] == -math.inf
    assert math.isnan(latest["none"]) and math.isnan(latest["x"])
    assert backend_store.metadata.verify_ledger().ok


def test_a_batch_the_store_refuses_is_set_aside_and_later_points_are_written(
    backend_store: Store,
) -> None:
    """A point that slipped past the checks (put in the buffer directly) makes the store refuse
    its batch: the rest of that batch and every later one are still written, the flush says
    so, and the run ends failed naming the count."""
    with lineal.run("t", capture=False, store=backend_store) as run:
        for i in range(100):
            run.log_metric("loss", 1.0 / (i + 1))
        run._metrics.insert(37, MetricPoint("k" * 300, 1.0, 0, 1))  # noqa: SLF001
        with pytest.raises(InvalidArgument, match="1 logged value"):
            run.flush()
        for i in range(100, 110):
            run.log_metric("loss", 1.0 / (i + 1))
        run.flush()  # not poisoned: the refused point is gone from the buffer
        run.log_metric("loss", 0.0)
    record = lineal.get_run(run.id, store=backend_store)
    assert len(lineal.metric_history(run.id, "loss", store=backend_store)) == 111
    assert record.status == lineal.RunStatus.FAILED
    assert record.error is not None and record.error.type == "lineal.DataNotStored"
    assert "1 logged value(s) could not be stored" in record.error.message
    assert "metric 'kkkk" in record.error.message
    assert backend_store.metadata.verify_ledger().ok


def test_a_param_written_elsewhere_refuses_the_last_batch_but_the_run_ends(
    backend_store: Store,
) -> None:
    """The store refuses the run's last batch (another writer set the param first): the other
    values of that batch are written, the run ends failed, and the end does not raise."""
    with lineal.run("t", capture=False, store=backend_store) as run:
        backend_store.metadata.log_batch(run.id, "other", params={"lr": 0.3})
        run.log_params({"lr": 0.1, "layers": 3})
        run.log_metric("acc", 0.9)
        run.set_tag("team", "ml")
    record = lineal.get_run(run.id, store=backend_store)
    assert record.status == lineal.RunStatus.FAILED
    assert record.error is not None and "param 'lr'" in record.error.message
    assert record.params == {"lr": 0.3, "layers": 3}
    assert record.metrics == {"acc": 0.9} and record.tags == {"team": "ml"}


def test_an_automatic_flush_warns_about_what_it_set_aside(backend_store: Store,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lineal.tracking, "FLUSH_SECONDS", 0.0)
    with lineal.run("t", capture=False, store=backend_store) as run:
        backend_store.metadata.log_batch(run.id, "other", params={"lr": 0.3})
        run.log_params({"lr": 0.1})  # handed to the background writer, which salvages it
        run._writer.drain()  # noqa: SLF001  (the writer has found it by now)
        with pytest.warns(RuntimeWarning, match="could not be stored"):
            run.log_metric("acc", 0.8)  # the next call reports it
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            run.log_metric("acc", 0.9)  # flushed at once, and nothing to warn about
    assert lineal.get_run(run.id, store=backend_store).status == lineal.RunStatus.FAILED
    assert lineal.get_run(run.id, store=backend_store).metrics == {"acc": 0.9}


def test_a_failed_run_keeps_its_error_and_says_what_was_lost(store: Store) -> None:
    with pytest.raises(ZeroDivisionError), lineal.run("t", capture=False) as run:
        store.metadata.log_batch(run.id, "other", params={"lr": 0.3})
        run.log_params({"lr": 0.1})
        1 / 0  # noqa: B018
    record = lineal.get_run(run.id)
    assert record.status == lineal.RunStatus.FAILED
    assert record.error is not None and record.error.type == "ZeroDivisionError"
    assert "also: 1 logged value(s) could not be stored" in record.error.message


def test_a_param_change_is_a_conflict_even_after_a_flush(store: Store) -> None:
    with lineal.run("t", capture=False) as run:
        run.log_params({"lr": 0.1})
        run.flush()
        with pytest.raises(Conflict, match="immutable"):
            run.log_params({"lr": 0.2, "other": 1})
        run.log_params({"lr": 0.1, "other": 1})
    assert lineal.get_run(run.id).params == {"lr": 0.1, "other": 1}
