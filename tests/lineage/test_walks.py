"""Closures, depth limits, filters, pagination, paths and subgraphs on SQLite, PostgreSQL and
MariaDB: each walk is one recursive query, so these also pin that query's semantics."""

from __future__ import annotations

import pytest

from lineal import lineage
from lineal.entities import EdgeDirection
from lineal.errors import InvalidArgument, NotFound
from lineal.lineage import Direction, NodeType
from lineal.store import Store

from .conftest import chain, count_selects, make_graph


def labels(closure: lineage.Closure) -> list[tuple[int, str]]:
    return [(n.depth, n.name) for n in closure.nodes]


def test_chain_up_and_down(backend_store: Store) -> None:
    chain(backend_store, 4)
    up = lineage.upstream("a4@v1")
    assert labels(up) == [(1, "r4"), (2, "a3"), (3, "r3"), (4, "a2"), (5, "r2"), (6, "a1"),
                          (7, "r1"), (8, "a0")]
    assert (up.total, up.truncated, up.next_cursor, up.depth_limited) == (8, False, None, False)
    assert [n.type for n in up.nodes[:2]] == [NodeType.RUN, NodeType.ARTIFACT]
    down = lineage.downstream("a1@v1")
    assert labels(down) == [(1, "r2"), (2, "a2"), (3, "r3"), (4, "a3"), (5, "r4"), (6, "a4")]
    # how each node was reached: the artifact before the run, and the run in between
    a2 = down.nodes[1]
    assert a2.via == down.nodes[0].id and a2.parent == down.start.id
    assert lineage.downstream("a4@v1").nodes == []


def test_walk_from_a_run(backend_store: Store) -> None:
    ids = chain(backend_store, 3)
    up = lineage.upstream(f"run:{ids['r2']}")
    assert labels(up) == [(1, "a1"), (2, "r1"), (3, "a0")]
    down = lineage.downstream(ids["r2"])  # a bare id finds the run
    assert labels(down) == [(1, "a2"), (2, "r3"), (3, "a3")]


def test_diamond_each_node_once_at_its_shortest_depth(backend_store: Store) -> None:
    make_graph(backend_store, {
        "split": (["raw"], ["left", "right"]),
        "fe": (["left"], ["feat"]),
        "train": (["feat", "right", "raw"], ["model"]),  # raw also used directly: 2 hops away
    })
    up = lineage.upstream("model@v1")
    names = [n.name for n in up.nodes]
    assert sorted(names) == sorted(set(names)) == sorted(
        ["train", "feat", "right", "raw", "fe", "left", "split"])
    depth = {n.name: n.depth for n in up.nodes}
    assert depth == {"train": 1, "feat": 2, "right": 2, "raw": 2, "fe": 3, "split": 3, "left": 4}
    assert up.total == 7


def test_cycle_from_hand_made_edges_terminates(backend_store: Store) -> None:
    ids = chain(backend_store, 2)  # a0 -> r1 -> a1 -> r2 -> a2
    # r2 also "consumed" a2 and r1 "consumed" a2: cycles a2 -> r1 -> a1 -> r2 -> a2
    backend_store.metadata.add_edge(ids["r1"], ids["a2"], EdgeDirection.INPUT, "loop", "tester")
    down = lineage.downstream("a0@v1")
    assert sorted(labels(down)) == [(1, "r1"), (2, "a1"), (3, "r2"), (4, "a2")]
    assert down.depth_limited is False  # the walk ended, nothing was cut
    up = lineage.upstream("a1@v1")
    assert sorted(labels(up)) == [(1, "r1"), (2, "a0"), (2, "a2"), (3, "r2")]
    graph = lineage.subgraph("a1@v1")
    assert {n.name for n in graph.nodes} == {"a0", "a1", "a2", "r1", "r2"}
    assert len(graph.edges) == len(set(graph.edges)) == 5  # 4 chain edges + the loop


def test_depth_limit_says_it_cut(backend_store: Store) -> None:
    chain(backend_store, 5)
    cut = lineage.upstream("a5@v1", depth=3)
    assert labels(cut) == [(1, "r5"), (2, "a4"), (3, "r4")]
    assert cut.depth_limited is True and cut.max_depth == 3
    assert [n.beyond_depth for n in cut.nodes] == [False, False, True]
    exact = lineage.upstream("a5@v1", depth=10)
    assert exact.depth_limited is False and len(exact.nodes) == 10
    edge = lineage.upstream("a5@v1", depth=9)  # a0 at depth 10 is cut; r1 at 9 has inputs
    assert edge.depth_limited is True and edge.nodes[-1].name == "r1"
    with pytest.raises(InvalidArgument):
        lineage.upstream("a5@v1", depth=0)


def test_filters(backend_store: Store) -> None:
    make_graph(
        backend_store,
        {"ingest": ([], ["raw"]), "prep": (["raw"], ["train-set", "test-set"]),
         "fit": (["train-set"], ["model"]), "eval": (["model", "test-set"], ["report"])},
        kinds={"model": "model", "report": "report", "fit": "train", "eval": "evaluate"},
        times={"raw": 0, "train-set": 10, "test-set": 10, "model": 20, "report": 30,
               "ingest": 0, "prep": 5, "fit": 15, "eval": 25},
    )
    down = lineage.downstream("raw@v1", kind="dataset")
    assert sorted(n.name for n in down.nodes) == ["test-set", "train-set"]
    assert {n.name for n in lineage.downstream("raw@v1", kind=["model", "report"]).nodes} == {
        "model", "report"}
    assert sorted(n.name for n in lineage.downstream("raw@v1", name="*-set").nodes) == [
        "test-set", "train-set"]
    assert [n.name for n in lineage.downstream("raw@v1", name="model").nodes] == ["model"]
    runs = lineage.downstream("raw@v1", types="run")
    assert [n.name for n in runs.nodes] == ["prep", "fit", "eval"]
    late = lineage.downstream("raw@v1", since=1_700_000_000 + 15, until=1_700_000_000 + 30)
    assert sorted(n.name for n in late.nodes) == ["eval", "fit", "model"]
    # a filter narrows what is shown, not the walk: report is reached through filtered-out nodes
    assert lineage.downstream("raw@v1", kind="report").nodes[0].depth == 4


def test_pagination_is_complete_without_duplicates(backend_store: Store) -> None:
    fan = {f"use{i:02d}": (["shared"], [f"out{i:02d}"]) for i in range(23)}
    fan["second"] = (["out00"], ["final"])
    make_graph(backend_store, fan)
    full = lineage.downstream("shared@v1", limit=None)
    assert full.total == len(full.nodes) == 48 and not full.truncated
    seen, cursor, pages = [], None, 0
    while True:
        page = lineage.downstream("shared@v1", limit=7, cursor=cursor)
        pages += 1
        assert page.total == 48
        assert len(page.nodes) == (7 if page.truncated else 48 - 7 * (pages - 1))
        seen.extend(page.nodes)
        if not page.truncated:
            assert page.next_cursor is None
            break
        cursor = page.next_cursor
    assert pages == 7
    assert [n.id for n in seen] == [n.id for n in full.nodes]  # same order, no gap, no repeat
    assert len({n.id for n in seen}) == 48
    # pages keep their filters
    runs = lineage.downstream("shared@v1", types=["run"], limit=10)
    rest = lineage.downstream("shared@v1", types=["run"], limit=10, cursor=runs.next_cursor)
    more = lineage.downstream("shared@v1", types=["run"], limit=10, cursor=rest.next_cursor)
    assert [len(p.nodes) for p in (runs, rest, more)] == [10, 10, 4] and not more.truncated
    with pytest.raises(InvalidArgument):
        lineage.downstream("shared@v1", cursor="nonsense")
    with pytest.raises(InvalidArgument):
        lineage.downstream("shared@v1", limit=0)


@pytest.mark.sql
def test_deep_chain_walks_in_one_select_per_page(backend_store: Store) -> None:
    chain(backend_store, 300)  # 600 hops
    with count_selects(backend_store) as selects:
        closure = lineage.upstream("a300@v1", limit=None)
    assert len(closure.nodes) == 600 and closure.nodes[-1].name == "a0"
    assert closure.nodes[-1].depth == 600 and not closure.depth_limited
    # resolving the reference reads the version and its node; the walk itself is one statement
    walks = [s for s in selects if "RECURSIVE" in s.upper()]
    assert len(walks) == 1, selects
    with count_selects(backend_store) as selects:
        page = lineage.upstream("a300@v1", limit=100, cursor="200.artifact.0")
    assert len([s for s in selects if "RECURSIVE" in s.upper()]) == 1
    assert (page.nodes[0].depth, page.nodes[0].name) == (200, "a200")  # resumes after the cursor
    assert len(page.nodes) == 100 and page.truncated


def test_deeper_than_the_database_recursion_defaults(backend_store: Store) -> None:
    # 1,100 runs: 2,200 hops, 1,100 recursive iterations, past MariaDB's default of 1,000.
    chain(backend_store, 1100)
    up = lineage.upstream("a1100@v1", limit=5, types="artifact", kind="dataset")
    assert up.total == 1100 and up.truncated
    assert lineage.upstream("a1100@v1", name="a0").nodes[0].depth == 2200
    assert lineage.downstream("a0@v1", depth=2000, name="a1000").nodes[0].depth == 2000


def test_paths_both_ways_and_none(backend_store: Store) -> None:
    make_graph(backend_store, {
        "split": (["raw"], ["left", "right"]),
        "fe": (["left"], ["feat"]),
        "train": (["feat", "right"], ["model"]),
        "other": (["x"], ["y"]),
    })
    found = lineage.paths("raw@v1", "model@v1")
    texts = [p.text() for p in found]
    assert len(found) == 2 and not found.truncated
    assert [len(p) for p in found] == [5, 7]  # shortest first
    assert texts[0].startswith("default/raw@v1 -[input]-> run split")
    assert texts[0].endswith("-[output]-> default/model@v1")
    assert [p.text() for p in lineage.paths("model@v1", "raw@v1")] == texts  # either order
    assert len(lineage.paths("raw@v1", "y@v1")) == 0
    assert lineage.paths("raw@v1", "model@v1", max_paths=1).truncated


def test_subgraph_nodes_and_edges(backend_store: Store) -> None:
    ids = make_graph(backend_store, {"prep": (["raw"], ["feat"]), "fit": (["feat"], ["model"])})
    graph = lineage.subgraph("feat@v1")
    assert graph.start.name == "feat" and graph.nodes[0] is graph.start
    assert {n.name for n in graph.nodes} == {"raw", "prep", "feat", "fit", "model"}
    edges = {(e.source, e.target, e.type) for e in graph.edges}
    assert edges == {
        (ids["raw"], ids["prep"], "input"), (ids["prep"], ids["feat"], "output"),
        (ids["feat"], ids["fit"], "input"), (ids["fit"], ids["model"], "output"),
    }
    up = lineage.subgraph("feat@v1", direction="up", depth=1)
    assert {n.name for n in up.nodes} == {"feat", "prep"} and up.depth_limited
    assert {(e.source, e.target) for e in up.edges} == {(ids["prep"], ids["feat"])}
    with pytest.raises(InvalidArgument):
        lineage.subgraph("feat@v1", direction="sideways")


def test_references(backend_store: Store) -> None:
    ids = chain(backend_store, 1)
    assert lineage.node("a1").id == ids["a1"]  # latest
    assert lineage.node("default/a1@latest").id == ids["a1"]
    assert lineage.node(f"a1@{lineage.node('a1').digest[:13]}").id == ids["a1"]
    assert lineage.node(ids["a0"]).type is NodeType.ARTIFACT
    with pytest.raises(NotFound):
        lineage.node("nothing@v1")
    with pytest.raises(NotFound):
        lineage.node("run:01HZZZZZZZZZZZZZZZZZZZZZZZ")
    with pytest.raises(InvalidArgument):
        lineage.upstream("a1@v1", types="planet")
    with pytest.raises(InvalidArgument):
        backend_store.metadata.lineage_closure(lineage.node("a1"), Direction.BOTH,
                                               __import__("lineal").store.lineage_base.ClosureQuery())


def test_nodes_built_in_bulk_are_ordinary_frozen_nodes() -> None:
    import dataclasses
    from datetime import UTC, datetime

    import pytest

    from lineal.entities import Node, node_builder

    values = ("01J0000000000000000000000A", NodeType.RUN, "p", "train", "step",
              datetime(2024, 1, 1, tzinfo=UTC), None, None, "finished", None, False, 1, "x",
              None, "input", False)
    built, plain = node_builder()(*values), Node(*values)
    assert type(built) is Node and built == plain and hash(built) == hash(plain)
    assert dataclasses.asdict(built) == dataclasses.asdict(plain) and repr(built) == repr(plain)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.name = "other"  # type: ignore[misc]
