"""Run search gives the same pages whichever plan runs it (store/sql/search_plan.py).

On SQLite the search walks an order index or drives from the filter's indexes, chosen from
counts; both plans are forced here and their pages compared with each other and with the answer
computed in Python from the runs as made. On PostgreSQL and MariaDB the planner chooses; the
pages are compared with the same answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from lineal.entities import RunStatus
from lineal.store import Store
from lineal.store.sql.search_plan import choose_plan, forced_plan

from .test_search import make_run

pytestmark = pytest.mark.sql  # query plans of the SQL store

N = 48


def _data(i: int) -> dict[str, Any]:
    rng = random.Random(i)
    metrics: dict[str, float] = {"m0": round(rng.random(), 2), "m2": round(rng.random(), 1)}
    if i % 5:  # some runs never logged m1: they sort last, either direction
        metrics["m1"] = round(rng.random(), 1)  # ties, so the id decides
    params: dict[str, Any] = {"p0": f"a{rng.randrange(20)}", "p1": f"v{rng.randrange(4)}"}
    if i % 6 == 0:
        params["p1"] = 1  # a number: params.p1 = '1' matches it as the text shown
    return {"metrics": metrics, "params": params,
            "tags": {"team": ("ml", "data", "infra")[i % 3]},
            "status": RunStatus.FAILED if i % 7 == 0 else RunStatus.FINISHED}


@pytest.fixture
def many(backend_store: Store) -> list[dict[str, Any]]:
    meta = backend_store.metadata
    made = []
    for i in range(N):
        data = _data(i)
        run = make_run(meta, f"r{i:02d}", i, metrics=data["metrics"], params=data["params"],
                       tags=data["tags"], status=data["status"])
        made.append({**data, "id": run.id, "name": run.name, "minute": i})
    return made


def _metric(run: dict[str, Any], key: str) -> float | None:
    value: float | None = run["metrics"].get(key)
    return value


# (filter, order, the filter in Python, the sort key in Python (missing last), descending)
CASES: list[tuple[str, list[str], Callable[[dict[str, Any]], bool], str, bool]] = [
    ("metrics.m0 > 0.3 and params.p1 = 'v2'", ["metrics.m1 DESC"],
     lambda r: r["metrics"]["m0"] > 0.3 and r["params"]["p1"] == "v2", "m1", True),
    ("metrics.m0 >= 0.2 and tags.team = 'ml'", ["metrics.m1 ASC"],
     lambda r: r["metrics"]["m0"] >= 0.2 and r["tags"]["team"] == "ml", "m1", False),
    ("tags.team = 'ml' and attributes.status = 'finished'", ["attributes.start_time DESC"],
     lambda r: r["tags"]["team"] == "ml" and r["status"] is RunStatus.FINISHED, "start", True),
    ("params.p0 LIKE 'a1%'", ["metrics.m2 ASC"],
     lambda r: r["params"]["p0"].startswith("a1"), "m2", False),
    ("params.p1 = '1'", ["attributes.start_time ASC"],
     lambda r: str(r["params"]["p1"]) == "1", "start", False),
    ("params.p1 IN ('v0', 'v3') and metrics.m2 < 0.5", ["metrics.m0 DESC"],
     lambda r: r["params"]["p1"] in ("v0", "v3") and r["metrics"]["m2"] < 0.5, "m0", True),
    ("attributes.status = 'failed'", ["metrics.m1 DESC"],
     lambda r: r["status"] is RunStatus.FAILED, "m1", True),
    ("attributes.start_time >= '2026-11-01T12:20:00+00:00' and metrics.m0 < 0.5",
     ["metrics.m1 DESC"], lambda r: r["minute"] >= 20 and r["metrics"]["m0"] < 0.5, "m1", True),
    ("attributes.start_time < '2026-11-01T12:30:00+00:00' and params.p1 = 'v1'",
     ["attributes.start_time DESC"], lambda r: r["minute"] < 30 and r["params"]["p1"] == "v1",
     "start", True),
    ("metrics.m0 > 2", ["metrics.m1 DESC"], lambda r: False, "m1", True),
    ("", ["metrics.m1 DESC"], lambda r: True, "m1", True),
    ("", ["attributes.start_time DESC"], lambda r: True, "start", True),
]


def _expected(many: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool], key: str,
              descending: bool) -> list[str]:
    chosen = [r for r in many if keep(r)]
    if key == "start":
        chosen.sort(key=lambda r: (r["minute"], r["id"]), reverse=descending)
        return [r["name"] for r in chosen]
    present = [r for r in chosen if _metric(r, key) is not None]
    missing = [r for r in chosen if _metric(r, key) is None]
    present.sort(key=lambda r: (_metric(r, key), r["id"]), reverse=descending)
    missing.sort(key=lambda r: r["id"], reverse=descending)
    return [r["name"] for r in present + missing]


def _all_pages(store: Store, flt: str, order: list[str], limit: int) -> list[str]:
    seen: list[str] = []
    token = None
    for _ in range(N + 2):
        page = store.metadata.search_runs(flt, order, limit=limit, page_token=token)
        seen += [run.name for run in page]
        token = page.next_page_token
        if token is None:
            return seen
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize(("flt", "order", "keep", "key", "descending"), CASES,
                         ids=[f"{c[0] or 'all'} by {c[1][0]}" for c in CASES])
def test_every_plan_gives_the_same_pages(
    backend_store: Store, many: list[dict[str, Any]], flt: str, order: list[str],
    keep: Callable[[dict[str, Any]], bool], key: str, descending: bool,
) -> None:
    expected = _expected(many, keep, key, descending)
    assert _all_pages(backend_store, flt, order, 100) == expected
    assert _all_pages(backend_store, flt, order, 3) == expected
    if backend_store.metadata.db.dialect == "sqlite":  # type: ignore[attr-defined]
        for kind in ("walk", "drive"):
            with forced_plan(kind):
                assert _all_pages(backend_store, flt, order, 4) == expected, kind


@pytest.mark.parametrize("backend_store", ["sqlite"], indirect=True)
def test_sqlite_walks_a_broad_filter_and_drives_a_narrow_one(
    backend_store: Store, many: list[dict[str, Any]]
) -> None:
    from lineal.search.filter import parse_filter, parse_order_by

    def plan(flt: str, order: str, limit: int = 5) -> Any:
        with backend_store.metadata.db.read() as conn:  # type: ignore[attr-defined]
            return choose_plan(conn, parse_filter(flt), parse_order_by([order]), limit)

    # Half the runs match: reading them newest first fills a page of 5 after about 10.
    assert plan("metrics.m0 > 0.5", "attributes.start_time DESC").walk
    # One run in 48 has that name: a walk would read all of them to fill the page.
    rare = many[0]["params"]["p0"]
    narrow = plan(f"params.p0 = '{rare}' and metrics.m0 >= 0", "metrics.m1 DESC")
    assert not narrow.walk and narrow.driver is not None and narrow.driver.entity == "params"
    # No term an index can count (LIKE): the walk is the only plan with a bound.
    assert plan("params.p0 LIKE 'a1%'", "metrics.m2 ASC").walk


def test_long_values_are_stored_and_found(backend_store: Store) -> None:
    # Index entries are bounded (PostgreSQL about 2.7 KB, MySQL indexes a prefix): a value of
    # 60 KB is still written, and an equality term on it still finds its run.
    meta = backend_store.metadata
    long_value = "x" * 60_000
    make_run(meta, "long", 1, metrics={"m0": 0.5}, params={"blob": long_value, "p": "short"},
             tags={"note": long_value})
    make_run(meta, "other", 2, metrics={"m0": 0.6}, params={"blob": "y", "p": "short"},
             tags={"note": "y"})
    for flt in (f"params.blob = '{long_value}'", f"tags.note = '{long_value}'",
                f"params.blob = '{long_value}' and params.p = 'short'"):
        assert [r.name for r in meta.search_runs(flt)] == ["long"], flt[:40]
        assert [r.name for r in meta.search_runs(flt, ["metrics.m0 DESC"])] == ["long"]
    assert meta.search_runs("params.blob = 'y'")[0].params["blob"] == "y"


@pytest.mark.parametrize("backend_store", ["sqlite"], indirect=True)
@pytest.mark.parametrize("order", ["metrics.m1 DESC", "metrics.m1 ASC"])
def test_a_metric_walk_reads_the_metric_index_in_order(
    backend_store: Store, many: list[dict[str, Any]], order: str
) -> None:
    import sqlalchemy as sa

    engine = backend_store.metadata.db.read_engine  # type: ignore[attr-defined]
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM latest_metrics AS order_0" in statement:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with forced_plan("walk"):
            backend_store.metadata.search_runs("tags.team = 'ml'", [order], limit=3)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert len(seen) == 1
    with engine.connect() as conn:
        plan = "\n".join(str(row[-1]) for row in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + seen[0][0], seen[0][1]))
    assert "ix_latest_metrics_key_value_run_id" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # not even for the ties (run ids)
