"""The lineage contract: graph walks, taints and bulk import.

One part of the metadata contract, :class:`~lineal.store.base.MetadataStore`, which every
implementation implements whole. ``SqlMetadataStore`` implements it with one recursive SQL
query per walk (SQLite, PostgreSQL, MySQL/MariaDB); a remote server client would
implement the same methods over HTTP. The SDK (:mod:`lineal.lineage`) speaks only this.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..entities import (
    ArtifactVersion,
    Closure,
    Direction,
    Edge,
    GraphEdge,
    Node,
    NodeType,
    Run,
    RunError,
    Taint,
)
from ..refs import ArtifactRef

__all__ = [
    "ClosureQuery",
    "ImportArtifact",
    "ImportBatch",
    "ImportEdge",
    "ImportRun",
    "LineageStore",
    "MAX_DEPTH",
]

MAX_DEPTH = 10_000
"""The deepest walk, in hops, when no depth is given: 5,000 run steps. A walk stopped by it says
so (``depth_limited``); it also bounds a walk through a cycle, which a DAG never has but
hand-made edges can create."""


@dataclass(frozen=True, slots=True)
class ClosureQuery:
    """Options of an upstream or downstream closure; see :func:`lineal.lineage.upstream`."""

    max_depth: int | None = None
    kinds: Sequence[str] = ()
    name: str | None = None
    """Exact name, or a pattern with ``*`` wildcards."""
    types: Sequence[NodeType] = ()
    since_us: int | None = None
    until_us: int | None = None
    tainted_only: bool = False
    include_registry: bool = True
    """Downstream walks also reach registered model versions and deployment records."""
    limit: int | None = 1000
    """Page size; None returns every node in one page."""
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class ImportRun:
    key: str
    project: str
    name: str
    kind: str
    status: str
    started_at_us: int
    ended_at_us: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    parent: str | None = None
    """A key of this batch or the id of a stored run."""
    id: str | None = None
    """The id to store the run under (a ULID) instead of a fresh one. A run whose id is already
    stored is merged into it rather than inserted (the rules are
    :func:`lineal.store.import_check.merge_run`): a re-sent event, or an OpenLineage START then
    COMPLETE of one run, updates one run."""
    error: RunError | None = None
    """Why a failed run failed."""
    placeholder: bool = False
    """The run is known only by reference (an OpenLineage parent facet): inserted when its
    ``id`` is not stored, and never changes a stored run."""


@dataclass(frozen=True, slots=True)
class ImportArtifact:
    key: str
    project: str
    name: str
    kind: str
    digest: str
    uri: str
    size: int
    created_at_us: int
    version: int | None = None
    """None: the next free version number of ``name``."""
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImportEdge:
    run: str
    """A run key of this batch, or the id of a stored run."""
    artifact: str
    """An artifact key of this batch, the id of a stored version, or a reference (``name@v3``)."""
    direction: str
    role: str


@dataclass(frozen=True, slots=True)
class ImportBatch:
    runs: Sequence[ImportRun] = ()
    artifacts: Sequence[ImportArtifact] = ()
    edges: Sequence[ImportEdge] = ()

    @property
    def size(self) -> int:
        return len(self.runs) + len(self.artifacts) + len(self.edges)


class LineageStore(abc.ABC):
    """Walks over the lineage graph, taints, bulk import."""

    @abc.abstractmethod
    def lineage_node(self, node_id: str, node_type: NodeType) -> Node:
        """A run or an artifact version as a graph node; NotFound if absent."""

    @abc.abstractmethod
    def lineage_node_by_ref(self, ref: ArtifactRef) -> Node:
        """The artifact version ``ref`` names, as a graph node, read in one go (a walk from a
        reference should not first build the whole version). Errors as ``resolve``."""

    @abc.abstractmethod
    def lineage_closure(self, start: Node, direction: Direction, query: ClosureQuery) -> Closure:
        """One page of the nodes upstream or downstream of ``start`` (not including it), nearest
        first, each at its shortest distance and with the node it was first reached from."""

    @abc.abstractmethod
    def lineage_walk(
        self, start: Node, direction: Direction, max_depth: int | None = None
    ) -> tuple[list[Node], list[GraphEdge], bool]:
        """Every node reached (not including ``start``), every edge followed, and whether the
        depth limit stopped the walk. For subgraphs and paths."""

    @abc.abstractmethod
    def runs_by_id(self, ids: Iterable[str]) -> dict[str, Run]:
        """The runs of ``ids`` that exist, in a few statements whatever their number: the
        answers built from a walk read their entities in bulk, never one per node."""

    @abc.abstractmethod
    def artifact_versions_by_id(self, ids: Iterable[str]) -> dict[str, ArtifactVersion]:
        """The artifact versions of ``ids`` that exist, in bulk (see :meth:`runs_by_id`)."""

    @abc.abstractmethod
    def edges_of(
        self, *, run_ids: Iterable[str] = (), version_ids: Iterable[str] = ()
    ) -> list[Edge]:
        """Every edge touching one of the runs or versions, oldest first, in bulk."""

    @abc.abstractmethod
    def set_taint(self, version_id: str, reason: str, actor: str) -> Taint:
        """Mark an artifact version tainted (or update the reason of an existing taint)."""

    @abc.abstractmethod
    def clear_taint(self, version_id: str, actor: str) -> None:
        """Remove a taint; NotFound if the version is not tainted."""

    @abc.abstractmethod
    def list_taints(self, project: str | None = None) -> list[Taint]:
        """Every tainted version, newest taint first."""

    @abc.abstractmethod
    def import_lineage(
        self,
        batch: ImportBatch,
        actor: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, str]:
        """Write a batch of runs, artifact versions and edges in one transaction (all or
        nothing); returns ``{key: stored id}``. ``progress(done, total)`` is called as rows are
        written. Bad input raises InvalidArgument naming the item, and writes nothing."""
