"""A closure asked for whole (``limit=None``) keeps each node's shallowest row and orders the
nodes in Python; a page does both in SQL. Both must give the same nodes, reached the same way
(depth, parent, via, role), flagged the same way, in the same order, on every backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lineal import lineage
from lineal.entities import EdgeDirection
from lineal.store import Store

from .conftest import T0, chain, count_selects, make_graph
from .test_taint_impact import build_pipeline

Walk = Callable[..., lineage.Closure]


def same_both_ways(walk: Walk, ref: str, **options: Any) -> lineage.Closure:
    whole = walk(ref, limit=None, **options)
    page = walk(ref, limit=10_000, **options)
    assert not page.truncated
    assert whole.nodes == page.nodes  # every field: depth, parent, via, role, beyond_depth...
    assert (whole.total, whole.depth_limited, whole.truncated, whole.next_cursor) == (
        page.total, page.depth_limited, False, None)
    return whole


def test_fan_in_reached_along_two_paths_at_the_same_depth(backend_store: Store) -> None:
    ids = make_graph(backend_store, {
        "split": (["raw"], ["left", "right"]),
        "join": (["left", "right"], ["model"]),
        "use": (["raw", "model"], ["report"]),  # report: 2 hops from raw, and 6 through model
    })
    down = same_both_ways(lineage.downstream, "raw@v1")
    by_name = {n.name: n for n in down.nodes}
    assert by_name["join"].depth == 3 and by_name["join"].parent == min(ids["left"], ids["right"])
    assert by_name["report"].depth == 2 and by_name["report"].via == ids["use"]
    assert len(down.nodes) == len({n.id for n in down.nodes}) == 7
    same_both_ways(lineage.upstream, "report@v1")


def test_cycles_depth_limits_and_filters(backend_store: Store) -> None:
    ids = chain(backend_store, 5)
    backend_store.metadata.add_edge(ids["r1"], ids["a4"], EdgeDirection.INPUT, "loop", "tester")
    for depth in (None, 1, 3, 4, 9):
        same_both_ways(lineage.downstream, "a0@v1", depth=depth)
        same_both_ways(lineage.upstream, "a5@v1", depth=depth)
    assert same_both_ways(lineage.upstream, "a5@v1", depth=3).depth_limited
    same_both_ways(lineage.downstream, "a0@v1", types="run")
    same_both_ways(lineage.downstream, "a0@v1", types=["artifact"], name="a*")
    same_both_ways(lineage.downstream, "a0@v1", kind="step", since=T0 / 1e6)
    same_both_ways(lineage.downstream, f"run:{ids['r2']}")
    same_both_ways(lineage.upstream, f"run:{ids['r2']}", depth=2)


def test_walks_through_the_registry(backend_store: Store, tmp_path: Path) -> None:
    pipeline = build_pipeline(backend_store, tmp_path / "work")
    down = same_both_ways(lineage.downstream, f"artifact:{pipeline.raw}")
    assert {pipeline.prod, pipeline.staging_old, pipeline.staging_new} <= {n.id for n in down.nodes}
    same_both_ways(lineage.downstream, f"artifact:{pipeline.raw}", depth=5)
    same_both_ways(lineage.downstream, "churn@v1")  # a model version: its deployments
    same_both_ways(lineage.upstream, "churn@v1")
    same_both_ways(lineage.upstream, f"deployment:{pipeline.prod}")
    same_both_ways(lineage.upstream, f"deployment:{pipeline.prod}", depth=1)
    same_both_ways(lineage.downstream, f"deployment:{pipeline.prod}")
    same_both_ways(lineage.downstream, f"artifact:{pipeline.raw}", types=["deployment"])


@pytest.mark.sql
def test_a_whole_downstream_takes_three_selects_whatever_its_size(backend_store: Store) -> None:
    """Two to find the start (is ``name`` a registered model? then the version's node), one for
    the walk. Resolving the start as a full artifact version took eight."""
    for prefix, fan in (("s-", 5), ("l-", 60)):
        make_graph(backend_store, {f"{prefix}use{i}": ([f"{prefix}hub"], [f"{prefix}out{i}"])
                                   for i in range(fan)})
    counts = []
    for ref, size in (("s-hub@v1", 10), ("l-hub@v1", 120), ("default/l-hub@v1", 120)):
        lineage.downstream(ref, limit=None)  # warm
        with count_selects(backend_store) as seen:
            assert len(lineage.downstream(ref, limit=None).nodes) == size
        counts.append(len(seen))
    assert counts == [3, 3, 3], counts


def test_sqlite_plans_read_the_walk_not_whole_tables(store: Store) -> None:
    """Every table a whole walk reads is searched through an index, from the walk's own rows.
    Walking up, the hop after the walk is read once, and SQLite folded it into the query that
    describes its runs, then scanned all of ``edges`` (50 ms for 10 hops in a 100k store)."""
    from lineal.lineage import Direction
    from lineal.store.lineage_base import ClosureQuery
    from lineal.store.sql import lineage_statements as ls

    ids = chain(store, 3)
    for direction in (Direction.UP, Direction.DOWN):
        statement = ls._whole_statement("artifact", 0, direction, True,
                                        ls._FilterShape.of(ClosureQuery(limit=None)))
        params = ls._walk_params(ls._Anchor("artifact", ids["a2"], 0), 10)
        db = store.metadata.db  # type: ignore[attr-defined]
        with db.read() as conn:
            compiled = statement.compile(dialect=conn.dialect)
            values = compiled.construct_params(params)
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + str(compiled),
                tuple(values[name] for name in compiled.positiontup or ())).all()
        scans = [row[3] for row in plan if row[3].startswith("SCAN ")
                 and row[3].split()[1] not in ("r", "prev", "hop", "CONSTANT")]
        assert scans == [], (direction, scans)
