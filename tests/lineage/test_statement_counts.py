"""Answers take a constant number of SQL statements, whatever their size.

A walk is one recursive statement that returns the node rows it needs; the questions then read
the runs and artifact versions behind those nodes in bulk. Before, ``trained_on`` read each
dataset again as its entity: 45 statements for 6 datasets, 145 for 31.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from lineal import lineage
from lineal.store import Store

from .conftest import chain, make_graph

pytestmark = pytest.mark.sql  # counts the SQL statements the store runs


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """Every statement the store's engines send meanwhile (reads and writes)."""
    seen: list[str] = []
    db = store.metadata.db  # type: ignore[attr-defined]
    engines = {id(e): e for e in (db.read_engine, db.write_engine)}.values()

    def _count(_conn: Any, _cursor: Any, statement: str, *_args: object) -> None:
        seen.append(statement)

    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", _count)


def count(store: Store, call: Callable[[], Any]) -> tuple[int, Any]:
    call()  # warm: the first call may read the schema or the registry once
    with statements(store) as seen:
        answer = call()
    return len(seen), answer


def trained(store: Store, datasets: int, prefix: str) -> str:
    """A model whose training run read ``datasets`` datasets, half of them made by a prep run
    from a raw dataset each (so the answer holds 1.5 x ``datasets`` versions)."""
    half = datasets // 2
    runs: dict[str, tuple[list[str], list[str]]] = {
        f"{prefix}prep{i}": ([f"{prefix}raw{i}"], [f"{prefix}d{i}"]) for i in range(half)
    }
    runs[f"{prefix}train"] = ([f"{prefix}d{i}" for i in range(datasets)], [f"{prefix}model"])
    make_graph(store, runs, kinds={f"{prefix}model": "model"})
    return f"{prefix}model@v1"


def test_trained_on_takes_the_same_statements_for_6_and_31_datasets(backend_store: Store) -> None:
    small, large = trained(backend_store, 6, "s-"), trained(backend_store, 31, "l-")
    few, answer = count(backend_store, lambda: lineage.trained_on(small))
    many, big = count(backend_store, lambda: lineage.trained_on(large))
    assert (len(answer), len(big)) == (9, 46)
    assert few == many <= 25, (few, many)


def test_params_and_pipeline_take_constant_statements(backend_store: Store) -> None:
    small, large = trained(backend_store, 6, "s-"), trained(backend_store, 31, "l-")
    assert count(backend_store, lambda: lineage.params(small))[0] == count(
        backend_store, lambda: lineage.params(large))[0]
    few, report = count(backend_store, lambda: lineage.pipeline(small))
    many, big = count(backend_store, lambda: lineage.pipeline(large))
    assert len(report.upstream_elsewhere) == 3 and len(big.upstream_elsewhere) == 15
    assert few == many, (few, many)


def test_upstream_walk_of_depth_10_and_100_is_one_statement(backend_store: Store) -> None:
    chain(backend_store, 60)  # 120 hops
    few, near = count(backend_store, lambda: lineage.upstream("a60@v1", depth=10, limit=None))
    many, far = count(backend_store, lambda: lineage.upstream("a60@v1", depth=100, limit=None))
    assert (len(near.nodes), len(far.nodes)) == (10, 100)
    assert few == many <= 12, (few, many)
    with statements(backend_store) as seen:
        lineage.upstream("a60@v1", depth=100, limit=None)
    assert len([s for s in seen if s.upper().startswith("WITH RECURSIVE")]) == 1


def test_impact_and_leaderboard_take_constant_statements(backend_store: Store) -> None:
    for prefix, fan in (("s-", 5), ("l-", 60)):
        make_graph(
            backend_store,
            {f"{prefix}train{i}": ([f"{prefix}hub"], [f"{prefix}m{i}"]) for i in range(fan)},
            kinds={f"{prefix}m{i}": "model" for i in range(fan)},
        )
    few, small = count(backend_store, lambda: lineage.impact("s-hub@v1"))
    many, large = count(backend_store, lambda: lineage.impact("l-hub@v1"))
    assert (len(small.artifacts), len(large.artifacts)) == (5, 60)
    assert few == many <= 12, (few, many)
    few, board = count(backend_store, lambda: lineage.leaderboard("s-hub@v1", "auc"))
    many, big = count(backend_store, lambda: lineage.leaderboard("l-hub@v1", "auc"))
    assert (len(board.entries), len(big.entries)) == (5, 60)
    assert few == many, (few, many)
