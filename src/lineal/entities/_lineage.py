"""What lineage queries return: nodes of the graph, edges between them, paths, pages of results.

The graph is bipartite: runs on one side, artifact versions on the other. A run consumed
(``input`` edge) or produced (``output`` edge) an artifact version. The registry adds two node
types reached from the graph: a registered model version links one artifact version, and a
deployment record belongs to the ``deploy`` run that consumed the model artifact.

Re-exported by :mod:`lineal.entities` and :mod:`lineal.lineage`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "Closure",
    "Direction",
    "Graph",
    "GraphEdge",
    "Node",
    "NodeType",
    "Path",
    "Taint",
]


class NodeType(StrEnum):
    ARTIFACT = "artifact"
    RUN = "run"
    MODEL_VERSION = "model_version"
    DEPLOYMENT = "deployment"


class Direction(StrEnum):
    UP = "up"
    """Towards what a node was made from (inputs, their producers, ...)."""
    DOWN = "down"
    """Towards what was made from a node (consumers, their outputs, deployments, ...)."""
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class Node:
    """One node of the lineage graph, as reached by a query.

    ``depth`` counts edges from the start node (a run and an artifact version are one hop apart).
    ``parent`` and ``via`` say how the query reached it first: an artifact version reached through
    a run has ``parent`` = the artifact version before that run and ``via`` = the run.
    """

    id: str
    type: NodeType
    project: str
    name: str
    kind: str
    time: datetime | None
    """An artifact version's creation, a run's start, a model version's registration, a
    deployment's start."""
    version: int | None = None
    """Artifact version or registered model version number."""
    digest: str | None = None
    status: str | None = None
    """A run's status, a model version's stage, a deployment's status."""
    detail: str | None = None
    """A deployment's environment; a run's end time (ISO-8601) if it ended."""
    tainted: bool = False
    """The artifact version itself is marked tainted (see :func:`lineal.lineage.taint`)."""
    depth: int = 0
    parent: str | None = None
    via: str | None = None
    role: str | None = None
    """The role of the edge that reached this node."""
    beyond_depth: bool = False
    """The depth limit stopped the query here: this node has neighbours that were not followed."""

    def __repr__(self) -> str:
        return f"<Node {self.label}>"

    @property
    def label(self) -> str:
        """How people name the node: ``default/churn@v3``, ``run train 01J...``,
        ``registered default/churn@v2``, ``deployment churn-api in prod``."""
        if self.type is NodeType.ARTIFACT:
            return f"{self.project}/{self.name}@v{self.version}"
        if self.type is NodeType.RUN:
            return f"run {self.name} {self.id}"
        if self.type is NodeType.MODEL_VERSION:
            return f"registered {self.project}/{self.name}@v{self.version}"
        return f"deployment {self.name} in {self.detail}"

    @property
    def ref(self) -> str:
        """A reference the SDK and CLI accept for this node."""
        if self.type is NodeType.ARTIFACT:
            return f"{self.project}/{self.name}@v{self.version}"
        if self.type is NodeType.RUN:
            return f"run:{self.id}"
        if self.type is NodeType.MODEL_VERSION:
            return f"model:{self.project}/{self.name}@v{self.version}"
        return f"deployment:{self.id}"

    @property
    def is_live(self) -> bool:
        """For a deployment: serving now."""
        return self.type is NodeType.DEPLOYMENT and self.status == "live"

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": str(self.type),
            "ref": self.ref,
            "label": self.label,
            "project": self.project,
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "digest": self.digest,
            "status": self.status,
            "detail": self.detail,
            "time": self.time.isoformat() if self.time else None,
            "tainted": self.tainted,
            "depth": self.depth,
            "parent": self.parent,
            "via": self.via,
            "role": self.role,
            "beyond_depth": self.beyond_depth,
        }


def node_builder() -> Any:
    """A callable taking :class:`Node`'s fields positionally, all 16 of them, and returning a
    Node: several times cheaper than ``Node(...)`` for the tens of thousands of nodes of a
    large closure.

    A frozen dataclass sets each field through ``object.__setattr__`` (about 1.3 us for 16
    fields, more than the SQL costs per node). The builder fills a plain class with the same
    slots and then gives the object Node's class: the result is an ordinary, frozen, hashable
    Node. Where the layouts cannot be swapped it falls back to ``Node``."""
    names = [f.name for f in fields(Node)]
    if tuple(getattr(Node, "__slots__", ())) != tuple(names):  # pragma: no cover - layout changed
        return Node
    params = ", ".join(names)
    body = "".join(f"        self.{name} = {name}\n" for name in names)
    namespace: dict[str, Any] = {}
    exec(  # noqa: S102 - generated from Node's own field names, like dataclasses does
        f"class _Plain:\n    __slots__ = {tuple(names)!r}\n"
        f"    def __init__(self, {params}):\n{body}", namespace)
    plain = namespace["_Plain"]

    def build(*values: Any) -> Node:
        made = plain(*values)
        made.__class__ = Node
        return made

    try:
        probe = build(*([None] * len(names)))
    except TypeError:  # pragma: no cover - an interpreter that refuses the swap
        return Node
    return build if type(probe) is Node else Node


@dataclass(frozen=True, slots=True)
class GraphEdge:
    """A directed edge in the direction data flows: artifact -> run that used it, run -> artifact
    it produced, artifact -> its registered model version, deploy run -> deployment record."""

    source: str
    target: str
    type: str
    """``input``, ``output``, ``registered`` or ``deployed``."""
    role: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "type": self.type, "role": self.role}


@dataclass(frozen=True, slots=True)
class Closure:
    """One page of an upstream or downstream closure.

    Never silently cut: ``truncated`` says more nodes match than this page holds, and
    ``next_cursor`` fetches the next page; ``depth_limited`` says the depth limit stopped the walk
    somewhere (the nodes where it stopped have ``beyond_depth``), which is final on the last page.
    """

    start: Node
    direction: Direction
    nodes: list[Node]
    total: int
    """Nodes matching the filters, over all pages."""
    truncated: bool
    next_cursor: str | None
    depth_limited: bool
    max_depth: int | None

    def __repr__(self) -> str:
        more = f" of {self.total}" if self.total > len(self.nodes) else ""
        way = {"up": "upstream", "down": "downstream"}.get(str(self.direction), "lineage")
        return f"<{way} of {self.start.label}: {len(self.nodes)}{more} nodes>"

    def _repr_html_(self) -> str:
        """The answer drawn left to right, the way data flowed, as inline SVG."""
        from ..notebook import closure_html

        return closure_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.to_dict(),
            "direction": str(self.direction),
            "total": self.total,
            "truncated": self.truncated,
            "next_cursor": self.next_cursor,
            "depth_limited": self.depth_limited,
            "max_depth": self.max_depth,
            "nodes": [n.to_dict() for n in self.nodes],
        }


@dataclass(frozen=True, slots=True)
class Graph:
    """A subgraph: nodes (the start first) and the edges among them that the walk followed."""

    start: Node
    nodes: list[Node]
    edges: list[GraphEdge]
    depth_limited: bool = False

    def __repr__(self) -> str:
        return (f"<Graph of {self.start.label}: {len(self.nodes)} nodes, "
                f"{len(self.edges)} edges>")

    def _repr_html_(self) -> str:
        """The graph drawn left to right as inline SVG (see :mod:`lineal.notebook`)."""
        from ..notebook import graph_html

        return graph_html(self)

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.id,
            "depth_limited": self.depth_limited,
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [e.to_dict() for e in self.edges],
        }


@dataclass(frozen=True, slots=True)
class Path:
    """A path in the direction data flows; ``roles[i]`` labels the edge nodes[i] -> nodes[i+1]."""

    nodes: tuple[Node, ...]
    roles: tuple[str | None, ...] = field(default=())

    def __repr__(self) -> str:
        return f"<Path {len(self.nodes)} nodes: {_clip(self.text())}>"

    def __len__(self) -> int:
        return len(self.nodes)

    def text(self) -> str:
        """``default/raw@v1 -[raw_data]-> run features 01J... -[output]-> default/train@v1``"""
        parts = [self.nodes[0].label]
        for role, node in zip(self.roles, self.nodes[1:], strict=False):
            parts.append(f"-[{role}]->" if role else "->")
            parts.append(node.label)
        return " ".join(parts)

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": [n.ref for n in self.nodes], "roles": list(self.roles), "text": self.text()}


@dataclass(frozen=True, slots=True)
class Taint:
    """An artifact version marked bad: by whom, when and why."""

    version_id: str
    ref: str
    reason: str
    actor: str
    created_at: datetime

    def __repr__(self) -> str:
        reason = self.reason if len(self.reason) <= 60 else self.reason[:59] + "…"
        return f"<Taint {self.ref} by {self.actor}: {reason}>"

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version_id": self.version_id,
            "ref": self.ref,
            "reason": self.reason,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
        }


def _clip(text: str, width: int = 80) -> str:
    """One line of at most ``width`` characters, for a repr."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"
