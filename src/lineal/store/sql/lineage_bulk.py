"""Entities of a lineage answer, read in bulk.

A walk returns graph nodes; the questions (:mod:`lineal.lineage.questions` and friends) then
need the runs and artifact versions behind some of them. Reading those one by one cost four
statements per node (the row, then its tags, aliases, params...): 45 statements for a model
trained on 6 datasets, 145 for 31. Here each entity type is read with one ``IN`` query per
chunk of ids (plus the same fixed number of hydrating queries), so an answer takes the same
few statements whatever its size.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from ...entities import ArtifactVersion, Edge, EdgeDirection, Run, us_to_datetime
from . import tables as t
from .database import Database

CHUNK = 500
"""Ids per ``IN`` list: well under every backend's limit on bound parameters (SQLite's is
32,766 since 3.32, 999 before)."""


def _chunks(ids: Iterable[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    return [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]


class LineageBulkMixin:
    """``runs_by_id``, ``artifact_versions_by_id`` and ``edges_of`` of the lineage contract.
    Uses the hydrating helpers of the runs and artifacts mixins it is composed with."""

    db: Database
    _hydrate: Any
    _hydrate_versions: Any

    def runs_by_id(self, ids: Iterable[str]) -> dict[str, Run]:
        out: dict[str, Run] = {}
        with self.db.read() as conn:
            for chunk in _chunks(ids):
                rows = list(conn.execute(sa.select(t.runs).where(t.runs.c.id.in_(chunk))).mappings())
                if rows:
                    out.update((run.id, run) for run in self._hydrate(conn, rows))
        return out

    def artifact_versions_by_id(self, ids: Iterable[str]) -> dict[str, ArtifactVersion]:
        av = t.artifact_versions
        out: dict[str, ArtifactVersion] = {}
        with self.db.read() as conn:
            for chunk in _chunks(ids):
                rows = list(conn.execute(sa.select(av).where(av.c.id.in_(chunk))).mappings())
                if rows:
                    out.update((v.id, v) for v in self._hydrate_versions(conn, rows))
        return out

    def edges_of(
        self, *, run_ids: Iterable[str] = (), version_ids: Iterable[str] = ()
    ) -> list[Edge]:
        e = t.edges
        found: dict[tuple[str, str, str, str], Edge] = {}
        with self.db.read() as conn:
            for column, ids in ((e.c.run_id, run_ids), (e.c.version_id, version_ids)):
                for chunk in _chunks(ids):
                    for row in conn.execute(sa.select(e).where(column.in_(chunk))):
                        key = (row.run_id, row.version_id, row.direction, row.role)
                        found[key] = Edge(row.run_id, row.version_id, EdgeDirection(row.direction),
                                          row.role, us_to_datetime(row.created_at))  # type: ignore[arg-type]
        return sorted(found.values(), key=lambda edge: edge.created_at)
