"""Metric points on the wire: a batch encodes to ``[key, value, step, time_us]`` lists and
decodes back to the same points, by the fast path for the usual batch (into the store's plain
tuples) and the general one for the rest (non-finite values, integers, bad input)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from lineal.entities import MetricPoint
from lineal.errors import InvalidArgument
from lineal.store.http.routes import decode_args, encode, encode_args


def _decoded(points: list) -> list[Any]:
    _, rest = encode_args("log_batch", {"run_id": "r1", "metrics": points})
    wire = json.loads(json.dumps(rest, allow_nan=False))  # the wire has no NaN literal
    decoded: list[Any] = decode_args("log_batch", {"run_id": "r1"}, wire)["metrics"]
    return decoded


def _round_trip(points: list) -> list[MetricPoint]:
    return [MetricPoint(*point) for point in _decoded(points)]


def test_tuples_and_points_travel_alike() -> None:
    tuples = [("loss", 0.5, 1, 10), ("loss", 0.25, 2, 20), ("acc", 1.0, 0, 30)]
    points = [MetricPoint(*t) for t in tuples]
    assert encode(tuples) == encode(points) == [list(t) for t in tuples]
    assert _round_trip(tuples) == _round_trip(points) == points


def test_the_usual_batch_decodes_to_the_stores_tuples() -> None:
    tuples = [("loss", 0.5, 1, 10), ("loss", 0.25, 2, 20), ("acc", 1.0, 0, 30)]
    assert _decoded(tuples) == tuples
    assert _decoded([]) == []
    # One point off the usual shape (an integer value) sends the batch down the general path,
    # which gives points with the value as a float.
    mixed = _decoded([*tuples, ("acc", 2, 1, 40)])
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
    got = _round_trip([("a", math.nan, 0, 1), ("a", math.inf, 1, 2), ("a", -math.inf, 2, 3),
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
