"""Lineage walks, taints and bulk import in the SQL store: the store methods, and the rows of
a walk made into nodes. The statements themselves, and how a walk is one recursive query, are
in :mod:`lineal.store.sql.lineage_statements`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
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
from ...gcpause import gc_paused
from ...refs import ArtifactRef, SelectorKind
from ..lineage_base import MAX_DEPTH, ClosureQuery, ImportBatch, LineageStore
from . import tables_lineage as tl
from .database import Database
from .lineage_bulk import LineageBulkMixin
from .lineage_statements import (
    _Anchor,
    _closure_statement,
    _filter_params,
    _FilterShape,
    _node_by_version_statement,
    _node_statement,
    _registry,
    _walk_params,
    _walk_statement,
    _whole_statement,
    av,
)

_TYPES = {"artifact": NodeType.ARTIFACT, "run": NodeType.RUN,
          "model_version": NodeType.MODEL_VERSION, "deployment": NodeType.DEPLOYMENT}
_NODE = node_builder()
_CURSOR = re.compile(r"^(\d+)\.(artifact|run|model_version|deployment)\.([0-9A-Za-z_-]{1,64})$")


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


_ORDER = operator.itemgetter(2, 1, 0)  # depth, type, id: the order of a closure's nodes


def _ranked(rows: Sequence[Any], start_id: str, types: Sequence[str]) -> list[Any]:
    """Each node of ``rows`` once, in its first row by (depth, parent, via) as :func:`_best`
    keeps it, without ``start_id`` and outside ``types`` (when given); ordered like a page."""
    best: dict[tuple[str, str], Any] = {}
    for row in rows:
        key = (row[1], row[0])
        kept = best.setdefault(key, row)
        if kept is not row and (row[2], row[3] or "", row[4] or "") < (
                kept[2], kept[3] or "", kept[4] or ""):
            best[key] = row
    wanted = set(types)
    out = [row for row in best.values()
           if row[0] != start_id and (not wanted or row[1] in wanted)]
    out.sort(key=_ORDER)
    return out


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
            if ref.kind is SelectorKind.VERSION:
                row = conn.execute(_node_by_version_statement(_registry() is not None), {
                    "project": ref.project, "name": ref.name, "version": ref.value}).first()
                if row is not None:
                    return _node(row)
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
        if query.limit is None and not query.cursor:
            return self._whole_closure(conn, start, anchor, direction, query, max_depth)
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

    def _whole_closure(
        self, conn: Connection, start: Node, anchor: _Anchor, direction: Direction,
        query: ClosureQuery, max_depth: int,
    ) -> Closure:
        statement = _whole_statement(anchor.kind, len(anchor.head), direction,
                                     query.include_registry, _FilterShape.of(query))
        self._prepare(conn, max_depth)
        with gc_paused():
            rows = conn.execute(statement, {**_walk_params(anchor, max_depth),
                                            **_filter_params(query)}).all()
            nodes = _nodes(_ranked(rows, start.id, [str(x) for x in query.types]))
        return Closure(start=start, direction=direction, nodes=nodes, total=len(nodes),
                       truncated=False, next_cursor=None,
                       depth_limited=any(n.beyond_depth for n in nodes),
                       max_depth=query.max_depth)

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
