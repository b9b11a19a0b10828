"""The statements of the SQL store's lineage walks (the store methods are in ``lineage.py``).

Every walk is ONE statement with one recursive common table expression, the same text on
SQLite, PostgreSQL and MySQL/MariaDB (SQLAlchemy Core renders the dialect's casts; SQLite
alone keeps each node's shallowest row with a ``GROUP BY``, see :func:`_best`):

``reach(node, via, parent, depth, role)`` holds artifact versions (``role``: of the edge from
``via`` into ``node``). Because the
graph is bipartite, one recursive step jumps two hops at once, artifact -> run -> artifact,
through two index lookups on ``edges`` (``(version_id, direction)`` then ``(run_id,
direction)``); the run in the middle is kept in ``via``. Jumping two hops is what lets the
recursive term mention the CTE once (PostgreSQL and MariaDB forbid more). Runs that end a walk
(a deploy run with no output, an ingest run with no input) are picked up after the recursion by
one more join, and so are registered model versions and deployment records.

``UNION`` (not ``UNION ALL``) discards rows already produced, so a node reached along many equal
paths at the same depth is kept once; ``depth`` is a column, and the recursive term stops at
the depth limit, which also ends any walk around a cycle. The outer query keeps each node's
shallowest row (``ROW_NUMBER()``), joins what describes each node (its own table only), filters,
counts all matches (``COUNT(*) OVER ()``, only when the answer is paged) and pages with a keyset
cursor on ``(depth, type, id)``: the rows come back complete, nothing is looked up per node.

A closure asked for whole (no page, :func:`_whole_statement`) needs no count and no cursor:
its statement describes each part of the walk (the artifacts of ``reach``, the runs of the hop
after it, model versions, deployments) straight from those rows, and the store keeps each
node's shallowest row and orders them in Python (``lineage._ranked``), by the same rule.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ...entities import Direction
from ..lineage_base import ClosureQuery
from . import tables as t
from . import tables_lineage as tl

# ``WITH name AS MATERIALIZED (...)``: SQLite 3.35 and later.
_SQLITE_MATERIALIZES = sqlite3.sqlite_version_info >= (3, 35)
av = t.artifact_versions
runs = t.runs
edges = t.edges
ID = sa.String(t.ID)
ROLE = sa.String(t.NAME)

def _lit(text: str) -> sa.ColumnElement[Any]:
    # Constant strings inline (not bound), so every walk of one shape compiles to one cached
    # statement and the planner sees them.
    return sa.literal_column(f"'{text}'", sa.String(16))


def _null(type_: sa.types.TypeEngine[Any]) -> sa.ColumnElement[Any]:
    return sa.cast(sa.null(), type_)


def _registry() -> tuple[sa.Table, sa.Table, sa.Table] | None:
    """The registry's tables, when this schema has them."""
    tables = t.metadata.tables
    if {"model_versions", "registered_models", "deployments"} <= set(tables):
        return tables["model_versions"], tables["registered_models"], tables["deployments"]
    return None


def _hops(direction: Direction) -> tuple[str, str]:
    """Which edge direction leads from an artifact to the next run, and from a run to the next
    artifact, walking ``direction``."""
    return ("output", "input") if direction is Direction.UP else ("input", "output")


@dataclass(frozen=True, slots=True)
class _Anchor:
    """Where the recursion starts. ``kind`` "artifact": from artifact ``id`` at ``depth``;
    "run": from the artifacts of run ``id``, which sits at ``depth``; "none": no recursion.
    ``parent`` is what the anchor row was reached from; ``head`` are fixed rows (id, type,
    depth, parent) added to the result: the deploy run of a deployment, the deployments of a
    model version."""

    kind: str
    id: str = ""
    depth: int = 0
    parent: str | None = None
    head: tuple[tuple[str, str, int, str], ...] = ()


def _bound(name: str, type_: sa.types.TypeEngine[Any]) -> sa.ColumnElement[Any]:
    # Cast, so that every backend knows the type of a parameter in a select list (PostgreSQL
    # cannot infer it, and a recursive CTE takes its column types from the seed row).
    return sa.cast(sa.bindparam(name, type_=type_), type_)


def _head_rows(count: int) -> list[sa.Select[Any]]:
    """``count`` fixed rows, their values bound as ``head_<i>_<column>`` (see ``_Anchor.head``)."""
    return [
        sa.select(
            _bound(f"head_{i}_id", ID).label("id"), _bound(f"head_{i}_type", sa.String(16)).label("type"),
            _bound(f"head_{i}_depth", sa.Integer()).label("depth"),
            _bound(f"head_{i}_parent", ID).label("parent"), _null(ID).label("via"),
            _null(ROLE).label("role"),
        )
        for i in range(count)
    ]


def _candidates(kind: str, heads: int, direction: Direction, include_registry: bool) -> sa.CTE:
    """Every (node, how it was reached) row of a walk: the recursive CTE plus the runs, model
    versions and deployments hanging off it. Columns: id, type, depth, parent, via, role.

    The statement depends only on the walk's shape (anchor kind, number of fixed head rows,
    direction, registry); where it starts is bound at execution (``anchor_id``,
    ``anchor_depth``, ``anchor_parent``, ``head_*``, ``max_depth``; see :func:`_walk_params`),
    so one statement serves every walk of that shape."""
    parts = [select for _type, select in _walk_parts(kind, heads, direction, include_registry)]
    if not parts:
        empty = sa.select(
            _null(ID).label("id"), _lit("artifact").label("type"),
            sa.cast(sa.literal(0), sa.Integer).label("depth"), _null(ID).label("parent"),
            _null(ID).label("via"), _null(ROLE).label("role"),
        ).where(sa.false())
        return empty.cte("cand")
    return sa.union_all(*parts).cte("cand") if len(parts) > 1 else parts[0].cte("cand")


def _walk_parts(
    kind: str, heads: int, direction: Direction, include_registry: bool
) -> list[tuple[str | None, sa.Select[Any]]]:
    """The rows of :func:`_candidates` in parts, each with the node type of all its rows (None
    for the fixed head rows, whose types are bound values)."""
    to_run, to_artifact = _hops(direction)
    head = _head_rows(heads)
    parts: list[tuple[str | None, sa.Select[Any]]] = [(None, row) for row in head]
    if kind == "none":
        return parts
    if kind == "run":
        first = edges.alias("first")
        seed = sa.select(
            first.c.version_id.label("node"),
            _bound("anchor_id", ID).label("via"),
            _null(ID).label("parent"),
            (_bound("anchor_depth", sa.Integer()) + 1).label("depth"),
            first.c.role.label("role"),
        ).where(first.c.run_id == sa.bindparam("anchor_id", type_=ID),
                first.c.direction == _lit(to_artifact))
    else:
        seed = sa.select(
            _bound("anchor_id", ID).label("node"),
            _null(ID).label("via"),
            _bound("anchor_parent", ID).label("parent"),
            _bound("anchor_depth", sa.Integer()).label("depth"),
            _null(ROLE).label("role"),
        )
    reach = seed.cte("reach", recursive=True)
    prev = reach.alias("prev")
    e1, e2 = edges.alias("e1"), edges.alias("e2")
    step = (
        sa.select(e2.c.version_id, e1.c.run_id, prev.c.node, prev.c.depth + 2, e2.c.role)
        .select_from(
            prev.join(e1, sa.and_(e1.c.version_id == prev.c.node, e1.c.direction == _lit(to_run)))
            .join(e2, sa.and_(e2.c.run_id == e1.c.run_id, e2.c.direction == _lit(to_artifact)))
        )
        .where(prev.c.depth + 2 <= sa.bindparam("max_depth", type_=sa.Integer))
    )
    reach = reach.union(step)

    r = reach.alias("r")
    e = edges.alias("e")
    # The runs one hop past each artifact reached; walking down, their deployment records hang
    # off them too, so both read these rows instead of looking the edges up twice.
    hop = (
        sa.select(e.c.run_id.label("id"), (r.c.depth + 1).label("depth"),
                  r.c.node.label("parent"), e.c.role.label("role"))
        .select_from(r.join(e, sa.and_(e.c.version_id == r.c.node, e.c.direction == _lit(to_run))))
        .where(r.c.depth + 1 <= sa.bindparam("max_depth"))
        .cte("hop")
    )
    if _SQLITE_MATERIALIZES:
        # Read once (walking up), SQLite folds ``hop`` into the query that describes its runs,
        # then scans all of ``edges`` to probe the walk's rows: 50 ms for a 10-hop walk.
        # Materialized, it is read from the walk's rows as intended.
        hop = hop.prefix_with("MATERIALIZED", dialect="sqlite")
    parts += [
        ("artifact", sa.select(
            r.c.node.label("id"), _lit("artifact").label("type"), r.c.depth, r.c.parent,
            r.c.via, r.c.role,
        )),
        ("run", sa.select(hop.c.id, _lit("run").label("type"), hop.c.depth, hop.c.parent,
                          _null(ID).label("via"), hop.c.role)),
    ]
    registry = _registry()
    if include_registry and registry is not None and direction is Direction.DOWN:
        mv, _rm, dep = registry
        parts.append(("model_version", (
            sa.select(mv.c.id, _lit("model_version").label("type"),
                      (r.c.depth + 1).label("depth"), r.c.node.label("parent"),
                      _null(ID).label("via"), _null(ROLE).label("role"))
            .select_from(r.join(mv, mv.c.artifact_version_id == r.c.node))
            .where(r.c.depth + 1 <= sa.bindparam("max_depth"))
        )))
        parts.append(("deployment", (
            sa.select(dep.c.id, _lit("deployment").label("type"),
                      (hop.c.depth + 1).label("depth"), hop.c.id.label("parent"),
                      _null(ID).label("via"), _null(ROLE).label("role"))
            .select_from(hop.join(dep, dep.c.run_id == hop.c.id))
            .where(hop.c.depth + 1 <= sa.bindparam("max_depth"))
        )))
    return parts


Filter = Callable[[dict[str, sa.ColumnElement[Any]]], list[sa.ColumnElement[bool]]]


def _described(
    rows: sa.CTE | sa.Subquery, where: Filter | None = None, only: str | None = None
) -> sa.CompoundSelect | sa.Select[Any]:
    """``rows`` (id, type, depth, parent, via, role) with what describes each node: one branch
    per node type, each joined to its own table only (a generic outer join of every table would
    cost five index lookups per row). ``where`` adds conditions on a branch's columns (name,
    kind, ts, taint): filters are applied before counting and paging. ``only``: every row is
    of that type, and only its branch is needed."""
    a, ru, tn = av.alias("a"), runs.alias("ru"), tl.taints.alias("tn")
    key = [rows.c.id, rows.c.type, rows.c.depth, rows.c.parent, rows.c.via, rows.c.role]

    def branch(ntype: str, source: sa.FromClause, **cols: sa.ColumnElement[Any]) -> sa.Select[Any]:
        full = {name: cols.get(name, _null(_COLUMN_TYPES[name])) for name in _COLUMN_TYPES}
        conditions = [] if only else [rows.c.type == _lit(ntype)]
        if where is not None:
            conditions += where(full)
        return sa.select(*key, *(col.label(name) for name, col in full.items())).select_from(
            source).where(*conditions)

    branches = {
        "artifact": branch(
            "artifact",
            rows.join(a, a.c.id == rows.c.id).outerjoin(tn, tn.c.version_id == rows.c.id),
            project=a.c.project, name=a.c.name, kind=a.c.kind, ts=a.c.created_at,
            version=a.c.version, digest=a.c.digest, taint=tn.c.version_id),
        "run": branch(
            "run", rows.join(ru, ru.c.id == rows.c.id),
            project=ru.c.project, name=ru.c.name, kind=ru.c.kind, ts=ru.c.started_at,
            status=ru.c.status, ended_at=ru.c.ended_at),
    }
    registry = _registry()
    if registry is not None:
        mv, rm, dep = registry
        m, rmod, d = mv.alias("m"), rm.alias("rmod"), dep.alias("d")
        branches["model_version"] = branch(
            "model_version",
            rows.join(m, m.c.id == rows.c.id).join(rmod, rmod.c.id == m.c.model_id),
            project=rmod.c.project, name=rmod.c.name, kind=_lit("model_version"),
            ts=m.c.created_at, version=m.c.version, status=m.c.stage)
        branches["deployment"] = branch(
            "deployment", rows.join(d, d.c.id == rows.c.id),
            project=d.c.project, name=d.c.name, kind=_lit("deployment"), ts=d.c.started_at,
            status=d.c.status, detail=d.c.environment)
    return branches[only] if only is not None else sa.union_all(*branches.values())


_COLUMN_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "project": sa.String(t.NAME), "name": sa.String(t.NAME), "kind": sa.String(64),
    "ts": sa.BigInteger(), "version": sa.Integer(), "digest": sa.String(71),
    "status": sa.String(16), "detail": sa.String(t.NAME), "ended_at": sa.BigInteger(),
    "taint": ID,
}


@dataclass(frozen=True, slots=True)
class _FilterShape:
    """Which filters a closure has (their values are bound: ``f_kinds``, ``f_name``, ``f_since``,
    ``f_until``)."""

    kinds: bool = False
    name: str | None = None  # "eq" or "like"
    since: bool = False
    until: bool = False
    tainted: bool = False

    @classmethod
    def of(cls, query: ClosureQuery) -> _FilterShape:
        return cls(bool(query.kinds), None if not query.name else "like" if "*" in query.name
                   else "eq", query.since_us is not None, query.until_us is not None,
                   query.tainted_only)


def _filter_params(query: ClosureQuery) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if query.kinds:
        params["f_kinds"] = list(query.kinds)
    if query.name:
        params["f_name"] = (
            query.name.replace("%", r"\%").replace("_", r"\_").replace("*", "%")
            if "*" in query.name else query.name
        )
    if query.since_us is not None:
        params["f_since"] = query.since_us
    if query.until_us is not None:
        params["f_until"] = query.until_us
    return params


def _filters(shape: _FilterShape) -> Filter:
    """The closure's filters as conditions on one branch's columns."""

    def conditions(col: dict[str, sa.ColumnElement[Any]]) -> list[sa.ColumnElement[bool]]:
        out: list[sa.ColumnElement[bool]] = []
        if shape.kinds:
            out.append(col["kind"].in_(sa.bindparam("f_kinds", expanding=True)))
        if shape.name == "like":
            out.append(col["name"].like(sa.bindparam("f_name", type_=sa.String()), escape="\\"))
        elif shape.name == "eq":
            out.append(col["name"] == sa.bindparam("f_name", type_=sa.String()))
        if shape.since:
            out.append(col["ts"] >= sa.bindparam("f_since", type_=sa.BigInteger()))
        if shape.until:
            out.append(col["ts"] < sa.bindparam("f_until", type_=sa.BigInteger()))
        if shape.tainted:
            out.append(col["taint"].is_not(None))
        return out

    return conditions


def _beyond(rows: sa.Subquery, direction: Direction, include_registry: bool) -> sa.Case[Any]:
    """1 for a node at the depth limit that has neighbours the walk did not follow."""
    to_run, to_artifact = _hops(direction)
    nxt = edges.alias("nxt")
    more = [
        sa.and_(rows.c.type == _lit("artifact"), sa.exists().where(
            nxt.c.version_id == rows.c.id, nxt.c.direction == _lit(to_run))),
        sa.and_(rows.c.type == _lit("run"), sa.exists().where(
            nxt.c.run_id == rows.c.id, nxt.c.direction == _lit(to_artifact))),
    ]
    registry = _registry()
    if include_registry and registry is not None and direction is Direction.DOWN:
        # A model version or deployment record one hop past the limit was cut too.
        mv, _rm, dep = registry
        more.append(sa.and_(rows.c.type == _lit("artifact"), sa.exists().where(
            mv.c.artifact_version_id == rows.c.id)))
        more.append(sa.and_(rows.c.type == _lit("run"), sa.exists().where(
            dep.c.run_id == rows.c.id)))
    return sa.case((sa.and_(rows.c.depth >= sa.bindparam("max_depth"), sa.or_(*more)), 1),
                   else_=0)


@functools.cache
def _node_statement(node_type: str, with_registry: bool) -> sa.Select[Any]:
    """One node described, the id a bound parameter: built once per type, since building the
    five-branch UNION costs more than running it (every walk starts with this lookup)."""
    one = sa.select(
        sa.cast(sa.bindparam("node_id", type_=ID), ID).label("id"), _lit(node_type).label("type"),
        sa.cast(sa.literal(0), sa.Integer).label("depth"), _null(ID).label("parent"),
        _null(ID).label("via"), _null(ROLE).label("role"),
    ).cte("one")
    return sa.select(_described(one).subquery())


@functools.cache
def _node_by_version_statement(with_registry: bool) -> sa.Select[Any]:
    """The node of artifact version ``project``/``name``@v``version``, found and described in
    one statement (a walk from ``name@v3`` starts with it)."""
    version_id = sa.select(av.c.id).where(
        av.c.project == sa.bindparam("project", type_=sa.String()),
        av.c.name == sa.bindparam("name", type_=sa.String()),
        av.c.version == sa.bindparam("version", type_=sa.Integer()),
    ).scalar_subquery()
    one = sa.select(
        version_id.label("id"), _lit("artifact").label("type"),
        sa.cast(sa.literal(0), sa.Integer).label("depth"), _null(ID).label("parent"),
        _null(ID).label("via"), _null(ROLE).label("role"),
    ).cte("one")
    return sa.select(_described(one).subquery())


def _walk_params(anchor: _Anchor, max_depth: int) -> dict[str, Any]:
    """The bound values of :func:`_candidates` for a walk from ``anchor``."""
    params: dict[str, Any] = {"anchor_id": anchor.id, "anchor_depth": anchor.depth,
                              "anchor_parent": anchor.parent, "max_depth": max_depth}
    for i, (node_id, ntype, depth, parent) in enumerate(anchor.head):
        params.update({f"head_{i}_id": node_id, f"head_{i}_type": ntype,
                       f"head_{i}_depth": depth, f"head_{i}_parent": parent})
    return params


def _best(cand: sa.CTE, types: bool, sqlite: bool) -> sa.CTE:
    """Each node of ``cand`` once, in its first row by (depth, parent, via): the shallowest.
    Bound values: ``start_id`` (left out), ``types``.

    The other backends rank with ``ROW_NUMBER()``. On SQLite that window was a fifth of a
    10,000-node walk; a ``GROUP BY`` with ``min()`` of the same order spelled as one string
    costs a third less, and SQLite documents that the other (bare) columns of such a query
    come from the row holding the minimum. Ids have no ``|``, and depths fit ten digits."""
    if sqlite:
        order = (sa.func.printf("%010d", cand.c.depth, type_=sa.String())
                 + sa.func.coalesce(cand.c.parent, "") + "|" + sa.func.coalesce(cand.c.via, ""))
        rows = sa.select(cand, sa.func.min(order).label("first")).group_by(
            cand.c.type, cand.c.id).subquery("ranked")
        keep = []
    else:
        rows = sa.select(
            cand,
            sa.func.row_number()
            .over(partition_by=(cand.c.type, cand.c.id),
                  order_by=(cand.c.depth, cand.c.parent, cand.c.via))
            .label("rn"),
        ).subquery("ranked")
        keep = [rows.c.rn == 1]
    keep.append(rows.c.id != sa.bindparam("start_id", type_=ID))
    if types:
        keep.append(rows.c.type.in_(sa.bindparam("types", expanding=True)))
    return sa.select(rows.c.id, rows.c.type, rows.c.depth, rows.c.parent, rows.c.via,
                     rows.c.role).where(*keep).cte("best")


# Closure statements are built once per shape and reused with new bound values: building and
# compiling the recursive CTE with its five described branches took ~3 ms, several times what
# running it takes on a small graph.
@functools.lru_cache(maxsize=256)
def _closure_statement(
    kind: str, heads: int, direction: Direction, include_registry: bool, types: bool,
    filters: _FilterShape, cursor: bool, limit: int | None, sqlite: bool = False,
) -> sa.Select[Any]:
    """One page of a closure; bound values: :func:`_walk_params`, ``start_id``, ``types``,
    :func:`_filter_params`, ``cur_depth``/``cur_type``/``cur_id``."""
    cand = _candidates(kind, heads, direction, include_registry)
    best = _best(cand, types, sqlite)
    described = _described(best, _filters(filters)).subquery("described")
    beyond = _beyond(described, direction, include_registry)
    # Counting every match (a window over all rows) is only needed when a page can hide some:
    # the whole closure in one page counts itself.
    paged = cursor or limit is not None
    total = sa.func.count().over() if paged else sa.cast(sa.null(), sa.Integer())
    matched = sa.select(described, beyond.label("beyond"), total.label("total")).subquery("matched")
    page = sa.select(matched).order_by(matched.c.depth, matched.c.type, matched.c.id)
    if cursor:
        page = page.where(
            sa.tuple_(matched.c.depth, matched.c.type, matched.c.id)
            > sa.tuple_(sa.bindparam("cur_depth", type_=sa.Integer()),
                        sa.bindparam("cur_type", type_=sa.String(16)),
                        sa.bindparam("cur_id", type_=ID))
        )
    if limit is not None:
        page = page.limit(limit + 1)
    return page


@functools.lru_cache(maxsize=128)
def _whole_statement(
    kind: str, heads: int, direction: Direction, include_registry: bool, filters: _FilterShape,
) -> sa.Select[Any]:
    """Every row of a walk, described and filtered but neither ranked nor ordered: a closure
    asked for whole (no page) keeps each node's shallowest row and orders them in Python
    (:func:`_ranked`). SQLite's ``GROUP BY`` and ``ORDER BY`` over a 20,000-node walk were a
    third of the statement's time; without a page to cut, nothing needs them in SQL. The
    filters stay in SQL: they depend on the node alone, so they commute with the ranking.
    Bound values: :func:`_walk_params`, :func:`_filter_params`."""
    parts = _walk_parts(kind, heads, direction, include_registry)
    fixed = [select for ntype, select in parts if ntype is None]
    typed = [(ntype, select) for ntype, select in parts if ntype is not None]
    sources: list[tuple[str | None, sa.Subquery | sa.CTE]] = [
        (ntype, select.subquery(f"part_{ntype}")) for ntype, select in typed]
    if fixed:
        sources.append((None, (sa.union_all(*fixed) if len(fixed) > 1 else fixed[0])
                        .subquery("part_head")))
    if not sources:
        sources.append((None, _candidates(kind, heads, direction, include_registry)))
    # Each part is described from its own rows (the artifacts straight from the recursive CTE,
    # the runs from the hop after it), not from one union of them all: that union was
    # materialized, then scanned once per node type.
    selects = []
    for ntype, rows in sources:
        described = _described(rows, _filters(filters), only=ntype).subquery(
            f"described_{ntype or 'head'}")
        selects.append(sa.select(described,
                                 _beyond(described, direction, include_registry).label("beyond"),
                                 sa.cast(sa.null(), sa.Integer()).label("total")))
    return sa.union_all(*selects) if len(selects) > 1 else selects[0]  # type: ignore[return-value]


@functools.lru_cache(maxsize=64)
def _walk_statement(kind: str, heads: int, direction: Direction) -> sa.Select[Any]:
    """Every hop of a walk (for its edges); bound values: :func:`_walk_params`."""
    cand = _candidates(kind, heads, direction, include_registry=True)
    return sa.select(cand.c.id, cand.c.type, cand.c.parent, cand.c.via, cand.c.role).distinct()
