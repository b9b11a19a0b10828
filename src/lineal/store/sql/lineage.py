"""Lineage walks, taints and bulk import in the SQL store.

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
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...entities import (
    Closure,
    Direction,
    GraphEdge,
    Node,
    NodeType,
    Taint,
    node_builder,
    us_to_datetime,
)
from ...errors import InvalidArgument, NotFound
from ...refs import ArtifactRef
from ..lineage_base import MAX_DEPTH, ClosureQuery, ImportBatch, LineageStore
from . import tables as t
from . import tables_lineage as tl
from .database import Database
from .lineage_bulk import LineageBulkMixin

av = t.artifact_versions
runs = t.runs
edges = t.edges
ID = sa.String(t.ID)
ROLE = sa.String(t.NAME)
_TYPES = {"artifact": NodeType.ARTIFACT, "run": NodeType.RUN,
          "model_version": NodeType.MODEL_VERSION, "deployment": NodeType.DEPLOYMENT}
_NODE = node_builder()
_CURSOR = re.compile(r"^(\d+)\.(artifact|run|model_version|deployment)\.([0-9A-Za-z_-]{1,64})$")


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
    to_run, to_artifact = _hops(direction)
    head = _head_rows(heads)
    if kind == "none":
        if head:
            return sa.union_all(*head).cte("cand") if len(head) > 1 else head[0].cte("cand")
        empty = sa.select(
            _null(ID).label("id"), _lit("artifact").label("type"),
            sa.cast(sa.literal(0), sa.Integer).label("depth"), _null(ID).label("parent"),
            _null(ID).label("via"), _null(ROLE).label("role"),
        ).where(sa.false())
        return empty.cte("cand")
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
    branches = [
        *head,
        sa.select(
            r.c.node.label("id"), _lit("artifact").label("type"), r.c.depth, r.c.parent,
            r.c.via, r.c.role,
        ),
        sa.select(hop.c.id, _lit("run"), hop.c.depth, hop.c.parent, _null(ID), hop.c.role),
    ]
    registry = _registry()
    if include_registry and registry is not None and direction is Direction.DOWN:
        mv, _rm, dep = registry
        branches.append(
            sa.select(mv.c.id, _lit("model_version"), r.c.depth + 1, r.c.node, _null(ID),
                      _null(ROLE))
            .select_from(r.join(mv, mv.c.artifact_version_id == r.c.node))
            .where(r.c.depth + 1 <= sa.bindparam("max_depth"))
        )
        branches.append(
            sa.select(dep.c.id, _lit("deployment"), hop.c.depth + 1, hop.c.id, _null(ID),
                      _null(ROLE))
            .select_from(hop.join(dep, dep.c.run_id == hop.c.id))
            .where(hop.c.depth + 1 <= sa.bindparam("max_depth"))
        )
    return sa.union_all(*branches).cte("cand")


Filter = Callable[[dict[str, sa.ColumnElement[Any]]], list[sa.ColumnElement[bool]]]


def _described(rows: sa.CTE | sa.Subquery, where: Filter | None = None) -> sa.CompoundSelect:
    """``rows`` (id, type, depth, parent, via, role) with what describes each node: one branch
    per node type, each joined to its own table only (a generic outer join of every table would
    cost five index lookups per row). ``where`` adds conditions on a branch's columns (name,
    kind, ts, taint): filters are applied before counting and paging."""
    a, ru, tn = av.alias("a"), runs.alias("ru"), tl.taints.alias("tn")
    key = [rows.c.id, rows.c.type, rows.c.depth, rows.c.parent, rows.c.via, rows.c.role]

    def branch(ntype: str, source: sa.FromClause, **cols: sa.ColumnElement[Any]) -> sa.Select[Any]:
        full = {name: cols.get(name, _null(_COLUMN_TYPES[name])) for name in _COLUMN_TYPES}
        conditions = [rows.c.type == _lit(ntype)]
        if where is not None:
            conditions += where(full)
        return sa.select(*key, *(col.label(name) for name, col in full.items())).select_from(
            source).where(*conditions)

    branches = [
        branch("artifact",
               rows.join(a, a.c.id == rows.c.id).outerjoin(tn, tn.c.version_id == rows.c.id),
               project=a.c.project, name=a.c.name, kind=a.c.kind, ts=a.c.created_at,
               version=a.c.version, digest=a.c.digest, taint=tn.c.version_id),
        branch("run", rows.join(ru, ru.c.id == rows.c.id),
               project=ru.c.project, name=ru.c.name, kind=ru.c.kind, ts=ru.c.started_at,
               status=ru.c.status, ended_at=ru.c.ended_at),
    ]
    registry = _registry()
    if registry is not None:
        mv, rm, dep = registry
        m, rmod, d = mv.alias("m"), rm.alias("rmod"), dep.alias("d")
        branches.append(branch(
            "model_version",
            rows.join(m, m.c.id == rows.c.id).join(rmod, rmod.c.id == m.c.model_id),
            project=rmod.c.project, name=rmod.c.name, kind=_lit("model_version"),
            ts=m.c.created_at, version=m.c.version, status=m.c.stage))
        branches.append(branch(
            "deployment", rows.join(d, d.c.id == rows.c.id),
            project=d.c.project, name=d.c.name, kind=_lit("deployment"), ts=d.c.started_at,
            status=d.c.status, detail=d.c.environment))
    return sa.union_all(*branches)


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


def _node(row: Any, **overrides: Any) -> Node:
    ntype = _TYPES[row.type]
    detail = row.detail
    if row.ended_at is not None and ntype is NodeType.RUN:
        detail = us_to_datetime(row.ended_at).isoformat()  # type: ignore[union-attr]
    return Node(row.id, ntype, row.project or "", row.name or "", row.kind or "",
                us_to_datetime(row.ts), row.version, row.digest, row.status, detail,
                row.taint is not None, **overrides)


def _nodes(rows: Sequence[Any]) -> list[Node]:
    """Nodes of a closure page, built from row tuples (a closure can hold tens of thousands:
    positional access and no per-row dict keep this a small part of the query's time). Columns:
    id, type, depth, parent, via, role, project, name, kind, ts, version, digest, status,
    detail, ended_at, taint, beyond, total."""
    out: list[Node] = []
    append, types, node, stamp = out.append, _TYPES, _NODE, datetime.fromtimestamp
    for (node_id, ntype, depth, parent, via, role, project, name, kind, ts, version, digest,
         status, detail, ended_at, taint, beyond, _total) in rows:
        # us_to_datetime inlined: two conversions per run, tens of thousands per closure.
        if ended_at is not None and ntype == "run":
            detail = stamp(ended_at / 1_000_000, UTC).isoformat()
        append(node(node_id, types[ntype], project or "", name or "", kind or "",
                    None if ts is None else stamp(ts / 1_000_000, UTC), version, digest, status,
                    detail, taint is not None, depth, parent, via, role, beyond == 1))
    return out


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


@functools.lru_cache(maxsize=64)
def _walk_statement(kind: str, heads: int, direction: Direction) -> sa.Select[Any]:
    """Every hop of a walk (for its edges); bound values: :func:`_walk_params`."""
    cand = _candidates(kind, heads, direction, include_registry=True)
    return sa.select(cand.c.id, cand.c.type, cand.c.parent, cand.c.via, cand.c.role).distinct()


class LineageMixin(LineageBulkMixin, LineageStore):
    db: Database

    # -- nodes -----------------------------------------------------------------------------------
    def lineage_node(self, node_id: str, node_type: NodeType) -> Node:
        with self.db.read() as conn:
            row = conn.execute(_node_statement(str(node_type), _registry() is not None),
                               {"node_id": node_id}).first()
        if row is None:
            raise NotFound(f"no {str(node_type).replace('_', ' ')} with id {node_id!r}")
        return _node(row)

    def lineage_node_by_ref(self, ref: ArtifactRef) -> Node:
        with self.db.read() as conn:
            version_id = self._resolve_id(conn, ref)  # type: ignore[attr-defined]
            row = conn.execute(_node_statement("artifact", _registry() is not None),
                               {"node_id": version_id}).first()
        if row is None:  # pragma: no cover - deleted between the two reads of one snapshot
            raise NotFound(f"no artifact version with id {version_id!r}")
        return _node(row)

    # -- walks -----------------------------------------------------------------------------------
    def _prepare(self, conn: Connection, max_depth: int) -> None:
        if self.db.dialect in ("mysql", "mariadb"):
            # Both stop a recursive CTE after a number of iterations (default 1000): MariaDB's
            # max_recursive_iterations, MySQL's cte_max_recursion_depth. Each of ours advances
            # two hops, so a walk of MAX_DEPTH hops needs MAX_DEPTH / 2 of them.
            limit = max_depth // 2 + 10
            if getattr(conn.dialect, "is_mariadb", False):
                conn.exec_driver_sql(f"SET SESSION max_recursive_iterations = {limit}")
            else:
                conn.exec_driver_sql(f"SET SESSION cte_max_recursion_depth = {limit}")

    def _anchor(self, conn: Connection, start: Node, direction: Direction, max_depth: int) -> _Anchor:
        """How a walk from ``start`` begins. Walks from artifacts and runs need no lookup; a
        deployment walks up through its deploy run, a model version up through its artifact
        and down to its deployment records."""
        if start.type is NodeType.ARTIFACT:
            return _Anchor("artifact", start.id, 0)
        if start.type is NodeType.RUN:
            return _Anchor("run", start.id, 0)
        registry = _registry()
        if registry is None:
            return _Anchor("none")
        mv, _rm, dep = registry
        if start.type is NodeType.DEPLOYMENT:
            if direction is Direction.DOWN:
                return _Anchor("none")
            run_id = conn.execute(sa.select(dep.c.run_id).where(dep.c.id == start.id)).scalar()
            if run_id is None:
                return _Anchor("none")
            head = ((str(run_id), "run", 1, start.id),)
            return _Anchor("run", str(run_id), 1, head=head) if max_depth >= 2 else _Anchor(
                "none", head=head)
        if direction is Direction.UP:
            artifact = conn.execute(
                sa.select(mv.c.artifact_version_id).where(mv.c.id == start.id)
            ).scalar()
            return _Anchor("none") if artifact is None else _Anchor(
                "artifact", str(artifact), 1, parent=start.id)
        found = conn.execute(
            sa.select(dep.c.id).where(dep.c.version_id == start.id).order_by(dep.c.id)
        ).scalars()
        return _Anchor("none", head=tuple((str(d), "deployment", 1, start.id) for d in found))

    def lineage_closure(self, start: Node, direction: Direction, query: ClosureQuery) -> Closure:
        if direction is Direction.BOTH:
            raise InvalidArgument("a closure goes one way: up or down")
        max_depth = _depth(query.max_depth)
        with self.db.read() as conn:
            anchor = self._anchor(conn, start, direction, max_depth)
            return self._closure_page(conn, start, anchor, direction, query, max_depth)

    def _closure_page(
        self, conn: Connection, start: Node, anchor: _Anchor, direction: Direction,
        query: ClosureQuery, max_depth: int,
    ) -> Closure:
        if query.limit is not None and query.limit < 1:
            raise InvalidArgument("limit must be at least 1")
        statement = _closure_statement(
            anchor.kind, len(anchor.head), direction, query.include_registry, bool(query.types),
            _FilterShape.of(query), bool(query.cursor), query.limit, self.db.dialect == "sqlite",
        )
        params = {**_walk_params(anchor, max_depth), **_filter_params(query),
                  "start_id": start.id}
        if query.types:
            params["types"] = [str(x) for x in query.types]
        if query.cursor:
            params["cur_depth"], params["cur_type"], params["cur_id"] = _parse_cursor(query.cursor)
        self._prepare(conn, max_depth)
        rows = conn.execute(statement, params).all()
        truncated = query.limit is not None and len(rows) > query.limit
        if truncated:
            rows = rows[: query.limit]
        nodes = _nodes(rows)
        last = rows[-1] if rows else None
        return Closure(
            start=start,
            direction=direction,
            nodes=nodes,
            total=(int(rows[0].total) if rows[0].total is not None else len(rows)) if rows else 0,
            truncated=truncated,
            next_cursor=f"{last.depth}.{last.type}.{last.id}" if truncated and last else None,
            depth_limited=any(n.beyond_depth for n in nodes),
            max_depth=query.max_depth,
        )

    def lineage_walk(
        self, start: Node, direction: Direction, max_depth: int | None = None
    ) -> tuple[list[Node], list[GraphEdge], bool]:
        if direction is Direction.BOTH:
            up = self.lineage_walk(start, Direction.UP, max_depth)
            down = self.lineage_walk(start, Direction.DOWN, max_depth)
            nodes = {n.id: n for n in [*down[0], *up[0]]}
            return list(nodes.values()), _unique([*up[1], *down[1]]), up[2] or down[2]
        limit = _depth(max_depth)
        with self.db.read() as conn:
            anchor = self._anchor(conn, start, direction, limit)
            closure = self._closure_page(
                conn, start, anchor, direction, ClosureQuery(max_depth=max_depth, limit=None), limit
            )
            statement = _walk_statement(anchor.kind, len(anchor.head), direction)
            self._prepare(conn, limit)
            rows = list(conn.execute(statement, _walk_params(anchor, limit)))
        found: list[GraphEdge] = []
        upward = direction is Direction.UP
        for row in rows:
            if row.parent is not None and row.parent == start.id and start.type in (
                NodeType.DEPLOYMENT, NodeType.MODEL_VERSION
            ):
                # The fixed first hop of a walk from a deployment or a model version.
                if row.type == "run":
                    found.append(GraphEdge(row.id, start.id, "deployed"))
                elif row.type == "artifact":
                    found.append(GraphEdge(row.id, start.id, "registered"))
                else:
                    found.append(GraphEdge(start.id, row.id, "deployed"))
                continue
            if row.type == "artifact":
                # Reached through run ``via``; the hop into ``via`` is the run's own row.
                if row.via is not None:
                    found.append(_flow(row.via, row.id, "input" if upward else "output",
                                       row.role, upward))
            elif row.type == "run":
                found.append(_flow(row.parent, row.id, "output" if upward else "input",
                                   row.role, upward))
            elif row.type == "model_version":
                found.append(GraphEdge(row.parent, row.id, "registered"))
            elif row.type == "deployment":
                found.append(GraphEdge(row.parent, row.id, "deployed"))
        return closure.nodes, _unique(found), closure.depth_limited

    # -- taints ----------------------------------------------------------------------------------
    def set_taint(self, version_id: str, reason: str, actor: str) -> Taint:
        if not reason or not reason.strip():
            raise InvalidArgument("a taint needs a reason", hint="say why: --reason '...'")
        with self.db.write(actor) as tx:
            if tx.conn.execute(sa.select(av.c.id).where(av.c.id == version_id)).first() is None:
                raise NotFound(f"no artifact version with id {version_id!r}")
            present = tx.conn.execute(
                sa.select(tl.taints.c.reason).where(tl.taints.c.version_id == version_id)
            ).first()
            if present is None:
                tx.insert(
                    tl.taints,
                    [{"version_id": version_id, "reason": reason, "actor": actor,
                      "created_at": tx.ts}],
                    "taint.set",
                    version_id,
                )
            elif present[0] != reason:
                tx.update(tl.taints, {"version_id": version_id},
                          {"reason": reason, "actor": actor, "created_at": tx.ts}, "taint.update")
        return self._taints(tl.taints.c.version_id == version_id)[0]

    def clear_taint(self, version_id: str, actor: str) -> None:
        with self.db.write(actor) as tx:
            present = tx.conn.execute(
                sa.select(tl.taints.c.version_id).where(tl.taints.c.version_id == version_id)
            ).first()
            if present is None:
                raise NotFound("that artifact version is not tainted")
            tx.delete(tl.taints, {"version_id": version_id}, "taint.clear.delete")

    def list_taints(self, project: str | None = None) -> list[Taint]:
        return self._taints(av.c.project == project if project else sa.true())

    def _taints(self, condition: sa.ColumnElement[bool]) -> list[Taint]:
        tn = tl.taints
        query = (
            sa.select(tn, av.c.project, av.c.name, av.c.version)
            .join(av, av.c.id == tn.c.version_id)
            .where(condition)
            .order_by(tn.c.created_at.desc(), tn.c.version_id)
        )
        with self.db.read() as conn:
            return [
                Taint(
                    version_id=row.version_id,
                    ref=f"{row.project}/{row.name}@v{row.version}",
                    reason=row.reason,
                    actor=row.actor,
                    created_at=us_to_datetime(row.created_at),  # type: ignore[arg-type]
                )
                for row in conn.execute(query)
            ]

    # -- deployments of an artifact --------------------------------------------------------------
    def deployments_of_artifact(
        self, project: str, name: str, environment: str | None = None, limit: int = 1
    ) -> list[str]:
        """Ids of the deployment records of any version of the artifact ``project/name``, newest
        first (the registry knows deployments by registered model; this finds them by the model
        artifact they serve)."""
        registry = _registry()
        if registry is None:
            return []
        _mv, _rm, dep = registry
        query = (
            sa.select(dep.c.id)
            .join(av, av.c.id == dep.c.artifact_version_id)
            .where(av.c.project == project, av.c.name == name)
            .order_by(dep.c.started_at.desc(), dep.c.id.desc())
            .limit(limit)
        )
        if environment is not None:
            query = query.where(dep.c.environment == environment)
        with self.db.read() as conn:
            return [row[0] for row in conn.execute(query)]

    def import_lineage(
        self,
        batch: ImportBatch,
        actor: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, str]:
        from .lineage_import import import_batch

        return import_batch(self, batch, actor, progress)


def _flow(a: str, b: str, kind: str, role: str | None, up: bool) -> GraphEdge:
    """The edge between ``a`` (nearer the start) and ``b``, oriented the way data flows."""
    return GraphEdge(b, a, kind, role) if up else GraphEdge(a, b, kind, role)


def _unique(found: Sequence[GraphEdge]) -> list[GraphEdge]:
    return list(dict.fromkeys(found))


def _depth(max_depth: int | None) -> int:
    if max_depth is None:
        return MAX_DEPTH
    if not isinstance(max_depth, int) or max_depth < 1:
        raise InvalidArgument(f"depth must be a positive number of hops, got {max_depth!r}")
    return min(max_depth, MAX_DEPTH)


def _parse_cursor(cursor: str) -> tuple[int, str, str]:
    match = _CURSOR.fullmatch(cursor)
    if match is None:
        raise InvalidArgument(f"bad cursor {cursor!r}", hint="pass next_cursor from a previous page")
    return int(match[1]), match[2], match[3]
