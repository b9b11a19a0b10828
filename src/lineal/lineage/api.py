"""The lineage SDK: closures, paths, subgraphs, taints and impact reports over the default store
(or an explicit one). Every walk is one recursive SQL query in the store.

A reference names a node, by the one reference rule of :mod:`lineal.resolve`:

- a registered model version: ``churn@prod``, ``churn@v2`` when a registered model ``churn``
  exists in the project (explicitly ``model:churn@prod``);
- else an artifact version: ``churn-data@v3``, ``name@latest``, ``project/name@alias``; and
  ``name@sha256:ab12`` always (explicitly ``artifact:churn@v3``);
- a run or deployment id (``01J...``), or explicitly ``run:ID``, ``deployment:ID``; a run also
  by a unique id prefix of 6 or more characters (``run:01JC3K``);
- a :class:`~lineal.entities.Node` from an earlier answer.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..api import RUN_PREFIX, ULID, get_run
from ..entities import Closure, Direction, Graph, GraphEdge, Node, NodeType, Path, Taint
from ..errors import InvalidArgument, NotFound
from ..gcpause import gc_paused
from ..identity import current_principal
from ..inputs import check_limit
from ..refs import parse_ref
from ..store import Store, default_store
from ..store.lineage_base import ClosureQuery, LineageStore
from ..times import to_us

__all__ = [
    "Impact",
    "ImpactItem",
    "Paths",
    "downstream",
    "impact",
    "node",
    "paths",
    "subgraph",
    "taint",
    "taints",
    "untaint",
    "upstream",
]

TimeLike = datetime | float | str
_PREFIXES = {"run": NodeType.RUN, "deployment": NodeType.DEPLOYMENT,
             "artifact": NodeType.ARTIFACT, "model": NodeType.MODEL_VERSION}


def _lineage(store: Store | None) -> tuple[Store, LineageStore]:
    store = store or default_store()
    return store, store.metadata


# -- references ----------------------------------------------------------------------------------
def node(ref: str | Node, *, project: str | None = None, store: Store | None = None) -> Node:
    """The graph node a reference names (see the module docstring)."""
    if isinstance(ref, Node):
        return ref
    store, meta = _lineage(store)
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidArgument(f"empty reference {ref!r}", hint="e.g. churn-data@v3 or a run id")
    text = ref.strip()
    prefix, sep, rest = text.partition(":")
    if sep and prefix in _PREFIXES:
        return _typed(store, meta, _PREFIXES[prefix], rest, project)
    if ULID.fullmatch(text):
        for ntype in (NodeType.RUN, NodeType.ARTIFACT, NodeType.DEPLOYMENT, NodeType.MODEL_VERSION):
            try:
                return meta.lineage_node(text, ntype)
            except NotFound:
                continue
        raise NotFound(f"no run, artifact version, deployment or model version with id {text!r}")
    plain = _plain_artifact(store, text, project)
    if plain is not None:
        return plain
    from ..resolve import names_nothing, resolve

    try:
        found = resolve(text, store, project=project)
    except NotFound as error:
        if not names_nothing(error):
            raise
        if RUN_PREFIX.fullmatch(text):  # a run id prefix, as `lineal runs list` prints them
            with contextlib.suppress(NotFound):
                return _typed(store, meta, NodeType.RUN, text, project)
        raise NotFound(
            f"nothing named {text!r}: no artifact, registered model, run or deployment",
            hint="list artifacts with `lineal artifacts list`, models with "
            "`lineal registry models`",
        ) from None
    if found.model_version is not None:
        return meta.lineage_node(found.model_version.id, NodeType.MODEL_VERSION)
    if found.artifact is not None:
        return meta.lineage_node(found.artifact.id, NodeType.ARTIFACT)
    assert found.run is not None
    return meta.lineage_node(found.run.id, NodeType.RUN)


def _plain_artifact(store: Store, text: str, project: str | None) -> Node | None:
    """The artifact version a reference names when no registered model has its name (the
    common case), else None: then :func:`lineal.resolve.resolve` decides, and words any error.

    Three statements (is there such a model? which version? its node) where resolving the full
    entity takes eight (its tags, aliases, purge...), which a walk of a hundred nodes would
    spend more time on than on the walk itself."""
    from ..config import default_project

    # The default project is read from the environment or a config file found upwards from the
    # working directory: only when the reference names no project.
    named = "/" in text.partition("@")[0]
    try:
        parsed = parse_ref(text, None if named else default_project(project))
    except InvalidArgument:
        return None
    if store.metadata.find_registered_model(parsed.project, parsed.name) is not None:
        return None
    try:
        return store.metadata.lineage_node_by_ref(parsed)
    except NotFound:
        return None


def _typed(store: Store, meta: LineageStore, ntype: NodeType, text: str, project: str | None) -> Node:
    if ntype is NodeType.ARTIFACT:
        if ULID.fullmatch(text):
            return meta.lineage_node(text, ntype)
        return meta.lineage_node_by_ref(parse_ref(text, project))
    if ntype is NodeType.MODEL_VERSION:
        if ULID.fullmatch(text):
            return meta.lineage_node(text, ntype)
        from ..registry.api import resolve_model_ref

        model_version, _artifact = resolve_model_ref(text, project=project, store=store)
        if model_version is None:
            raise NotFound(f"{text!r} is a model artifact, not a registered model version",
                           hint=f"refer to the artifact itself: {text}")
        return meta.lineage_node(model_version.id, ntype)
    if ntype is NodeType.RUN and not ULID.fullmatch(text):
        return meta.lineage_node(get_run(text, store=store).id, ntype)  # a unique id prefix
    return meta.lineage_node(text, ntype)


# -- closures ------------------------------------------------------------------------------------
def _types(types: Sequence[NodeType | str] | NodeType | str | None) -> tuple[NodeType, ...]:
    if types is None:
        return ()
    if isinstance(types, (str, NodeType)):
        types = [types]
    try:
        return tuple(NodeType(t) for t in types)
    except ValueError:
        raise InvalidArgument(f"unknown node type in {list(types)!r}",
                              hint=f"use {', '.join(t.value for t in NodeType)}") from None


def _closure(
    ref: str | Node, direction: Direction, depth: int | None, kind: str | Sequence[str] | None,
    name: str | None, since: TimeLike | None, until: TimeLike | None,
    types: Sequence[NodeType | str] | NodeType | str | None, limit: int | None,
    cursor: str | None, project: str | None, store: Store | None,
) -> Closure:
    store, meta = _lineage(store)
    start = node(ref, project=project, store=store)
    kinds = (kind,) if isinstance(kind, str) else tuple(kind or ())
    query = ClosureQuery(
        max_depth=depth, kinds=kinds, name=name, types=_types(types),
        since_us=None if since is None else to_us(since),
        until_us=None if until is None else to_us(until),
        limit=None if limit is None else check_limit(limit), cursor=cursor,
    )
    return meta.lineage_closure(start, direction, query)


def upstream(
    ref: str | Node,
    *,
    depth: int | None = None,
    kind: str | Sequence[str] | None = None,
    name: str | None = None,
    since: TimeLike | None = None,
    until: TimeLike | None = None,
    types: Sequence[NodeType | str] | NodeType | str | None = None,
    limit: int | None = 1000,
    cursor: str | None = None,
    project: str | None = None,
    store: Store | None = None,
) -> Closure:
    """Everything ``ref`` was made from: the runs that produced it, their inputs, the runs that
    produced those, ... nearest first, each node at its shortest distance (``depth`` in hops).

    Filters: ``kind`` (artifact or run kind, e.g. "dataset"), ``name`` (``*`` wildcards),
    ``since``/``until`` (creation or start time), ``types`` ("artifact", "run", ...). A page
    holds at most ``limit`` nodes: ``closure.truncated`` says there are more and
    ``closure.next_cursor`` gets them; ``closure.depth_limited`` says ``depth`` cut the walk.

        for n in lineage.upstream("churn-model@v3", kind="dataset").nodes:
            print(n.depth, n.label, n.digest)
    """
    return _closure(ref, Direction.UP, depth, kind, name, since, until, types, limit, cursor,
                    project, store)


def downstream(
    ref: str | Node,
    *,
    depth: int | None = None,
    kind: str | Sequence[str] | None = None,
    name: str | None = None,
    since: TimeLike | None = None,
    until: TimeLike | None = None,
    types: Sequence[NodeType | str] | NodeType | str | None = None,
    limit: int | None = 1000,
    cursor: str | None = None,
    project: str | None = None,
    store: Store | None = None,
) -> Closure:
    """Everything made from ``ref``: runs that consumed it, their outputs, ... and the registered
    model versions and deployment records of those outputs. Same options as :func:`upstream`."""
    return _closure(ref, Direction.DOWN, depth, kind, name, since, until, types, limit, cursor,
                    project, store)


# -- subgraphs and paths -------------------------------------------------------------------------
def subgraph(
    ref: str | Node,
    direction: Direction | str = "both",
    depth: int | None = None,
    *,
    project: str | None = None,
    store: Store | None = None,
) -> Graph:
    """The nodes and edges around ``ref``: upstream, downstream or both, to ``depth`` hops. For
    drawing and exporting (:func:`lineal.lineage.export_graph`)."""
    store, meta = _lineage(store)
    try:
        way = Direction(direction)
    except ValueError:
        raise InvalidArgument(f"direction {direction!r}", hint="use up, down or both") from None
    start = node(ref, project=project, store=store)
    nodes, edges, cut = meta.lineage_walk(start, way, depth)
    others = [n for n in nodes if n.id != start.id]
    return Graph(start=start, nodes=[start, *others], edges=edges, depth_limited=cut)


@dataclass(frozen=True, slots=True)
class Paths:
    """Paths between two nodes in the direction data flows, shortest first. ``truncated``: there
    are more than ``max_paths`` (a diamond-rich graph has exponentially many)."""

    source: Node
    target: Node
    paths: list[Path]
    truncated: bool

    def __repr__(self) -> str:
        return f"<Paths {self.source.label} -> {self.target.label}: {len(self.paths)} paths>"

    def __iter__(self) -> Iterator[Path]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source.ref, "target": self.target.ref, "truncated": self.truncated,
                "paths": [p.to_dict() for p in self.paths]}


def paths(
    a: str | Node,
    b: str | Node,
    *,
    max_paths: int = 100,
    project: str | None = None,
    store: Store | None = None,
) -> Paths:
    """The paths from ``a`` to ``b`` (or from ``b`` to ``a`` if data flows that way); empty when
    neither is downstream of the other.

        for p in lineage.paths("raw@v1", "churn-model@v3"):
            print(p.text())
    """
    store, meta = _lineage(store)
    first, second = node(a, project=project, store=store), node(b, project=project, store=store)
    for source, target in ((first, second), (second, first)):
        nodes, edges, _cut = meta.lineage_walk(source, Direction.DOWN, None)
        if any(n.id == target.id for n in nodes):
            by_id = {n.id: n for n in nodes}
            by_id[source.id] = source
            found, truncated = _enumerate(source.id, target.id, edges, max_paths)
            return Paths(source, target, [
                Path(tuple(by_id[i] for i in ids), tuple(roles)) for ids, roles in found
            ], truncated)
    return Paths(first, second, [], False)


def _enumerate(
    source: str, target: str, edges: Sequence[GraphEdge], max_paths: int
) -> tuple[list[tuple[list[str], list[str | None]]], bool]:
    """Simple paths source -> target over ``edges``, shortest first, at most ``max_paths``."""
    out_edges: dict[str, list[GraphEdge]] = defaultdict(list)
    in_edges: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        out_edges[edge.source].append(edge)
        in_edges[edge.target].append(edge.source)
    # Only nodes that can still reach the target are worth exploring.
    useful, stack = {target}, [target]
    while stack:
        for prev in in_edges[stack.pop()]:
            if prev not in useful:
                useful.add(prev)
                stack.append(prev)
    found: list[tuple[list[str], list[str | None]]] = []
    # Breadth-first over partial paths gives shortest first.
    frontier: list[tuple[list[str], list[str | None]]] = [([source], [])]
    while frontier and len(found) <= max_paths:
        nxt: list[tuple[list[str], list[str | None]]] = []
        for ids, roles in frontier:
            for edge in out_edges[ids[-1]]:
                if edge.target not in useful or edge.target in ids:
                    continue
                step = (ids + [edge.target], roles + [edge.role or edge.type])
                if edge.target == target:
                    found.append(step)
                else:
                    nxt.append(step)
        frontier = nxt
    return found[:max_paths], len(found) > max_paths or bool(frontier and len(found) >= max_paths)


# -- taints and impact ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ImpactItem:
    """One node reached downstream, with the path that reaches it and why it matters."""

    node: Node
    path: Path
    flags: tuple[str, ...]
    """``live`` (a deployment serving now), ``production``/``staging`` (a model version's
    stage), ``tainted`` (itself marked)."""

    def __repr__(self) -> str:
        return f"<ImpactItem {self.node.label}, {len(self.path)} hops>"

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {**self.node.to_dict(), "flags": list(self.flags), "path": self.path.to_dict()}


@dataclass(frozen=True, slots=True)
class Impact:
    """What a (possibly bad) node reaches downstream: every artifact version, registered model
    version and deployment, each with a path from the start."""

    start: Node
    artifacts: list[ImpactItem]
    model_versions: list[ImpactItem]
    deployments: list[ImpactItem]
    runs: int
    """Runs in between (not listed: they are on the paths)."""
    taint: Taint | None = None
    depth_limited: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"<Impact of {self.start.label}: {len(self.artifacts)} artifact versions, "
                f"{len(self.model_versions)} model versions, {len(self.deployments)} deployments>")

    @property
    def live_deployments(self) -> list[ImpactItem]:
        return [item for item in self.deployments if item.node.is_live]

    @property
    def items(self) -> list[ImpactItem]:
        return [*self.artifacts, *self.model_versions, *self.deployments]

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.to_dict(),
            "taint": self.taint.to_dict() if self.taint else None,
            "counts": {"artifacts": len(self.artifacts), "model_versions": len(self.model_versions),
                       "deployments": len(self.deployments),
                       "live_deployments": len(self.live_deployments), "runs": self.runs},
            "depth_limited": self.depth_limited,
            "artifacts": [i.to_dict() for i in self.artifacts],
            "model_versions": [i.to_dict() for i in self.model_versions],
            "deployments": [i.to_dict() for i in self.deployments],
        }


_EDGE_TYPE = {NodeType.MODEL_VERSION: "registered", NodeType.DEPLOYMENT: "deployed"}


def _path_to(target: Node, start: Node, by_id: dict[str, Node]) -> Path:
    """The path start -> ... -> target along the way the closure first reached each node: an
    artifact through the run in ``via``, anything else from ``parent``."""
    chain = [target]
    current = target
    while current.id != start.id:
        pred = current.via if current.type is NodeType.ARTIFACT and current.via else current.parent
        if pred is None:
            break
        current = start if pred == start.id else by_id[pred]
        chain.append(current)
        if len(chain) > len(by_id) + 2:  # defensive: a parent loop would be a store bug
            raise RuntimeError(f"parent chain of {target.id} does not end at {start.id}")
    chain.reverse()
    roles = tuple(n.role or _EDGE_TYPE.get(n.type) for n in chain[1:])
    return Path(tuple(chain), roles)


def _flags(n: Node) -> tuple[str, ...]:
    flags = []
    if n.is_live:
        flags.append("live")
    if n.type is NodeType.MODEL_VERSION and n.status in ("production", "staging"):
        flags.append(n.status)
    if n.tainted:
        flags.append("tainted")
    return tuple(flags)


def impact(
    ref: str | Node,
    *,
    depth: int | None = None,
    project: str | None = None,
    store: Store | None = None,
) -> Impact:
    """Every artifact version, registered model version and deployment downstream of ``ref``,
    each with the path that reaches it; live deployments flagged. Marks nothing (see
    :func:`taint`).

        report = lineage.impact("churn-raw@v2")
        for item in report.live_deployments:
            print(item.node.label, "<-", item.path.text())
    """
    store, meta = _lineage(store)
    start = node(ref, project=project, store=store)
    closure = meta.lineage_closure(
        start, Direction.DOWN, ClosureQuery(max_depth=depth, limit=None)
    )
    by_id = {n.id: n for n in closure.nodes}
    groups: dict[NodeType, list[ImpactItem]] = defaultdict(list)
    runs = 0
    with gc_paused():  # an item and a path per node: see lineal.gcpause
        for n in closure.nodes:
            if n.type is NodeType.RUN:
                runs += 1
                continue
            groups[n.type].append(ImpactItem(n, _path_to(n, start, by_id), _flags(n)))
    tainted = None
    if start.type is NodeType.ARTIFACT and start.tainted:
        tainted = next((t for t in meta.list_taints() if t.version_id == start.id), None)
    return Impact(
        start=start,
        artifacts=groups[NodeType.ARTIFACT],
        model_versions=groups[NodeType.MODEL_VERSION],
        deployments=sorted(groups[NodeType.DEPLOYMENT], key=lambda i: (not i.node.is_live,
                                                                         i.node.depth, i.node.id)),
        runs=runs,
        taint=tainted,
        depth_limited=closure.depth_limited,
    )


def _artifact_node(ref: str | Node, project: str | None, store: Store) -> Node:
    target = node(ref, project=project, store=store)
    if target.type is NodeType.MODEL_VERSION:
        _s, meta = _lineage(store)
        from ..registry.api import registry_store

        _st, registry = registry_store(store)
        version = registry.get_model_version_by_id(target.id)
        return meta.lineage_node(version.artifact_version_id, NodeType.ARTIFACT)
    if target.type is not NodeType.ARTIFACT:
        raise InvalidArgument(f"{target.label} is a {target.type.value}; only artifact versions "
                              "can be tainted", hint="taint the data or model it used or made")
    return target


def taint(
    ref: str | Node,
    reason: str,
    *,
    project: str | None = None,
    store: Store | None = None,
) -> Impact:
    """Mark an artifact version tainted (bad data, leaked labels, a broken model...) and return
    the impact report of everything downstream of it. A registered model reference taints its
    model artifact. Recorded in the audit ledger; :func:`untaint` clears it."""
    store, meta = _lineage(store)
    target = _artifact_node(ref, project, store)
    meta.set_taint(target.id, reason, current_principal())
    return impact(f"artifact:{target.id}", store=store)


def untaint(
    ref: str | Node, *, project: str | None = None, store: Store | None = None
) -> None:
    """Clear the taint of an artifact version (NotFound if it is not tainted)."""
    store, meta = _lineage(store)
    target = _artifact_node(ref, project, store)
    meta.clear_taint(target.id, current_principal())


def taints(*, project: str | None = None, store: Store | None = None) -> list[Taint]:
    """Every tainted artifact version, newest taint first."""
    _store, meta = _lineage(store)
    from ..notebook import Records

    return Records(meta.list_taints(project))
