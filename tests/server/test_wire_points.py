"""Metric points on the wire: a batch travels in columns (:mod:`lineal.store.http.points`) when
every point has the usual types, else as ``[key, value, step, time_us]`` lists; both decode back
to the same points, the usual batch into the store's plain tuples, the rest by the general path
(non-finite values spelled out, integers, bad input)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from lineal.entities import MetricPoint
from lineal.errors import InvalidArgument
from lineal.store.http.points import encode_columns
from lineal.store.http.routes import decode_args, encode, encode_args


def _decoded(points: list, *, lists: bool = False) -> list[Any]:
    """``points`` sent as the HTTP store sends them (columns where it can), or as lists."""
    if lists:
        rest = {"metrics": encode(points)}
    else:
        _, rest = encode_args("log_batch", {"run_id": "r1", "metrics": points})
    wire = json.loads(json.dumps(rest, allow_nan=False))  # the wire has no NaN literal
    decoded: list[Any] = decode_args("log_batch", {"run_id": "r1"}, wire)["metrics"]
    return decoded


def _round_trip(points: list, lists: bool = False) -> list[MetricPoint]:
    return [MetricPoint(*point) for point in _decoded(points, lists=lists)]


def test_tuples_and_points_travel_alike() -> None:
    tuples = [("loss", 0.5, 1, 10), ("loss", 0.25, 2, 20), ("acc", 1.0, 0, 30)]
    points = [MetricPoint(*t) for t in tuples]
    assert encode(tuples) == encode(points) == [list(t) for t in tuples]
    assert _round_trip(tuples) == _round_trip(points) == points


def test_the_usual_batch_travels_in_columns() -> None:
    tuples = [("loss", 0.5, 1, 10), ("loss", 0.25, 2, 20), ("acc", 1.0, -3, 30)]
    _, rest = encode_args("log_batch", {"run_id": "r1", "metrics": tuples})
    assert rest["metrics"]["keys"] == ["loss", "acc"]  # each name once
    assert _decoded(tuples) == tuples
    # An integer value travels as a float; non-finite values need no spelling out.
    odd = [("a", 3, 0, 1), ("a", math.nan, 1, 2), ("b", -math.inf, 2, 3)]
    got = _decoded(odd)
    assert [type(p[1]) for p in got] == [float] * 3 and got[0] == ("a", 3.0, 0, 1)
    assert math.isnan(got[1][1]) and got[2] == ("b", -math.inf, 2, 3)


@pytest.mark.parametrize("odd", [MetricPoint("k", 1.0, 1, 1), ("k", True, 1, 1), ("k", 1.0, 1.5, 1),
                                 ("k", 1.0, 2**70, 1), (1, 1.0, 1, 1)])
def test_a_batch_with_odd_points_travels_as_lists(odd: Any) -> None:
    """Columns only for the usual types: anything else goes as lists, whose decoding accepts or
    names the bad point exactly as before."""
    assert encode_columns([("ok", 1.0, 0, 1), odd]) is None
    _, rest = encode_args("log_batch", {"run_id": "r1", "metrics": [("ok", 1.0, 0, 1), odd]})
    assert isinstance(rest["metrics"], list)


def test_the_usual_batch_of_lists_decodes_to_the_stores_tuples() -> None:
    tuples = [("loss", 0.5, 1, 10), ("loss", 0.25, 2, 20), ("acc", 1.0, 0, 30)]
    assert _decoded(tuples, lists=True) == tuples
    assert _decoded([]) == []
    # One point off the usual shape (an integer value) sends the batch down the general path,
    # which gives points with the value as a float.
    mixed = _decoded([*tuples, ("acc", 2, 1, 40)], lists=True)
    assert mixed == [MetricPoint(*t) for t in tuples] + [MetricPoint("acc", 2.0, 1, 40)]
    assert type(mixed[-1].value) is float


def test_a_batch_reaches_the_store_whole(tmp_path: Path) -> None:
    import lineal
    from lineal.store import open_store

    store = open_store(str(tmp_path / "store"))
    points = [(f"m{i % 3}", i / 7, i, 100 + i) for i in range(300)]
    with lineal.run("r", capture=False, store=store) as run:
        store.metadata.log_batch(run.id, "tester", metrics=_decoded(points))
    history = store.metadata.metric_history(run.id, "m1")
    assert [tuple(p) for p in history] == [p for p in points if p[0] == "m1"]
    store.close()


def test_non_finite_and_integer_values_survive() -> None:
    got = _round_trip(lists=True, points=[("a", math.nan, 0, 1), ("a", math.inf, 1, 2), ("a", -math.inf, 2, 3),
                       ("a", 3, 3, 4), MetricPoint("b", 2.5, 4, 5)])
    assert math.isnan(got[0].value)
    assert [p.value for p in got[1:]] == [math.inf, -math.inf, 3.0, 2.5]
    assert all(type(p.value) is float for p in got)
    assert encode([("a", math.nan, 0, 1)]) == [["a", "NaN", 0, 1]]


@pytest.mark.parametrize("bad", [["k", 1.0, True, 1], ["k", "x", 1, 1], [1, 1.0, 1, 1],
                                 ["k", 1.0, 1], ["k", 1.0, 1.5, 1], "k"])
def test_a_bad_point_is_refused(bad: object) -> None:
    with pytest.raises(InvalidArgument):
        decode_args("log_batch", {"run_id": "r1"}, {"metrics": [["ok", 1.0, 0, 1], bad]})


GOOD = encode_columns([("loss", 0.5, 1, 10), ("acc", 1.0, 2, 20)])


@pytest.mark.parametrize(("change", "named"), [
    ({"key": "not base64!"}, "metric column 'key' is not valid base64"),
    ({"value": "AAAA"}, "metric column 'value' holds 3 bytes"),
    ({"step": ""}, "metric columns differ in length"),
    ({"keys": ["loss"]}, "key index 1 is beyond the 1 names"),
    ({"keys": "loss"}, "'keys' must be a list of metric names"),
    ({"timestamp_us": 5}, "metric column 'timestamp_us' must be base64 text"),
    ({"extra": "x"}, "unknown field 'extra'"),
    ({"value": None, "drop": "value"}, "missing field 'value'"),
])
def test_bad_columns_are_named(change: dict, named: str) -> None:
    columns = {**(GOOD or {}), **change}
    for name in (change.get("drop"), "drop"):
        columns.pop(name, None)
    with pytest.raises(InvalidArgument, match=named.replace("(", r"\(")):
        decode_args("log_batch", {"run_id": "r1"}, {"metrics": columns})


def test_the_server_answers_bad_columns_with_a_400(tmp_path: Path) -> None:
    import lineal
    from lineal.server.testing import in_process
    from lineal.store import open_store

    store = open_store(str(tmp_path / "store"))
    with lineal.run("r", capture=False, store=store) as run:
        pass
    with in_process(store) as remote:
        client = remote.metadata.transport.client  # type: ignore[attr-defined]
        answer = client.post(f"/api/v1/runs/{run.id}/batch",
                             json={"metrics": {**(GOOD or {}), "step": ""}})
        assert answer.status_code == 400, answer.text
        assert "metric columns differ in length" in answer.json()["error"]["message"]
        # Nothing was written; the columns a client sends are stored point for point.
        assert store.metadata.metric_history(run.id, "loss") == []
        remote.metadata.log_batch(run.id, "ignored", metrics=[("loss", 0.5, 7, 70)])
    assert [tuple(p) for p in store.metadata.metric_history(run.id, "loss")] == [("loss", 0.5, 7, 70)]
    store.close()
