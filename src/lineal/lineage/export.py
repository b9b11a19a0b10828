"""A lineage subgraph in other tools' formats: JSON, Graphviz DOT, Mermaid, W3C PROV-JSON and
OpenLineage run events.

    graph = lineage.subgraph("churn-model@v3", direction="up")
    print(lineage.export_graph(graph, "mermaid"))

- ``json``: lineal's own shape (``Graph.to_dict``), nodes and edges with every field.
- ``dot``: a Graphviz digraph, data flowing left to right; tainted artifacts red, live deployments
  green. ``dot -Tsvg`` draws it.
- ``mermaid``: a ``flowchart LR`` for Markdown (GitHub renders it).
- ``prov``: PROV-JSON (https://www.w3.org/submissions/prov-json/): artifact versions, model
  versions and deployments are entities, runs are activities; ``used`` and ``wasGeneratedBy``
  follow the edges, ``wasDerivedFrom`` links a model version to its artifact.
- ``openlineage``: a JSON array of OpenLineage RunEvents (spec 2-0-2), a START and an end event
  (COMPLETE, FAIL or ABORT) per run with its inputs and outputs as datasets, standard UUIDs and
  facets; see :mod:`lineal.lineage.export_openlineage`. ``lineal import`` reads it back.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..entities import Graph, GraphEdge, Node, NodeType
from ..errors import InvalidArgument
from .export_openlineage import openlineage_events

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["FORMATS", "export_graph", "openlineage_events", "to_dot", "to_mermaid", "to_prov"]

FORMATS = ("json", "dot", "mermaid", "prov", "openlineage")


def export_graph(graph: Graph, fmt: str, store: Store | None = None) -> str:
    """``graph`` as text in format ``fmt`` (one of :data:`FORMATS`). ``store``: the store the
    graph was read from; the OpenLineage events then also carry the facets that need stored
    data (parent runs, errors, dataset schemas, code and environment)."""
    if fmt == "json":
        return json.dumps(graph.to_dict(), indent=2)
    if fmt == "dot":
        return to_dot(graph)
    if fmt == "mermaid":
        return to_mermaid(graph)
    if fmt == "prov":
        return json.dumps(to_prov(graph), indent=2)
    if fmt == "openlineage":
        return json.dumps(openlineage_events(graph, store), indent=2)
    raise InvalidArgument(f"unknown export format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")


def _edge_label(edge: GraphEdge) -> str:
    return edge.role or edge.type


# -- Graphviz ------------------------------------------------------------------------------------
def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPES = {NodeType.ARTIFACT: "box", NodeType.RUN: "ellipse",
               NodeType.MODEL_VERSION: "component", NodeType.DEPLOYMENT: "hexagon"}


def to_dot(graph: Graph) -> str:
    """A Graphviz ``digraph``; node names are lineal ids."""
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for n in graph.nodes:
        attrs = {"label": n.label if n.type is not NodeType.RUN else f"{n.name} ({n.kind})\n{n.id}",
                 "shape": _DOT_SHAPES[n.type]}
        if n.tainted:
            attrs.update(color="red", fontcolor="red", style="bold")
        if n.is_live:
            attrs.update(color="darkgreen", style="filled", fillcolor="palegreen")
        if n.id == graph.start.id:
            attrs["penwidth"] = "2"
        body = ", ".join(f"{k}={_dot_string(v)}" for k, v in attrs.items())
        lines.append(f"  {_dot_string(n.id)} [{body}];")
    for e in graph.edges:
        lines.append(f"  {_dot_string(e.source)} -> {_dot_string(e.target)} "
                     f"[label={_dot_string(_edge_label(e))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- Mermaid -------------------------------------------------------------------------------------
def _mermaid_text(text: str) -> str:
    # Inside a quoted label Mermaid reads entity codes; a raw quote would end the label.
    return text.replace('"', "#quot;").replace("\n", " ")


_MERMAID_SHAPES = {NodeType.ARTIFACT: ('["', '"]'), NodeType.RUN: ('(["', '"])'),
                   NodeType.MODEL_VERSION: ('[["', '"]]'), NodeType.DEPLOYMENT: ('{{"', '"}}')}


def to_mermaid(graph: Graph) -> str:
    """A Mermaid ``flowchart LR``; node ids are n0, n1, ... (lineal ids are in the labels of
    runs and deployments)."""
    ids = {n.id: f"n{i}" for i, n in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for n in graph.nodes:
        left, right = _MERMAID_SHAPES[n.type]
        lines.append(f"  {ids[n.id]}{left}{_mermaid_text(n.label)}{right}")
    for e in graph.edges:
        if e.source in ids and e.target in ids:
            label = _mermaid_text(_edge_label(e)).replace("|", "/")
            lines.append(f"  {ids[e.source]} -->|{label}| {ids[e.target]}")
    tainted = [ids[n.id] for n in graph.nodes if n.tainted]
    live = [ids[n.id] for n in graph.nodes if n.is_live]
    if tainted:
        lines.append("  classDef tainted fill:#fdd,stroke:#c00,stroke-width:2px")
        lines.append(f"  class {','.join(tainted)} tainted")
    if live:
        lines.append("  classDef live fill:#dfd,stroke:#080,stroke-width:2px")
        lines.append(f"  class {','.join(live)} live")
    return "\n".join(lines) + "\n"


# -- W3C PROV-JSON -------------------------------------------------------------------------------
def _qn(node_id: str) -> str:
    return f"lineal:{node_id}"


def _iso(n: Node) -> str | None:
    return n.time.isoformat() if n.time else None


def to_prov(graph: Graph) -> dict[str, Any]:
    """The graph as a PROV-JSON document (a dict; ``json.dumps`` it)."""
    doc: dict[str, Any] = {
        "prefix": {"lineal": "urn:lineal:", "xsd": "http://www.w3.org/2001/XMLSchema#"},
        "entity": {}, "activity": {}, "used": {}, "wasGeneratedBy": {}, "wasDerivedFrom": {},
    }
    by_id = {n.id: n for n in graph.nodes}
    for n in graph.nodes:
        if n.type is NodeType.RUN:
            activity: dict[str, Any] = {"prov:label": n.label, "prov:type": "lineal:run",
                                        "lineal:kind": n.kind, "lineal:status": n.status}
            if n.time:
                activity["prov:startTime"] = _iso(n)
            if n.detail:
                activity["prov:endTime"] = n.detail
            doc["activity"][_qn(n.id)] = activity
            continue
        entity: dict[str, Any] = {"prov:label": n.label, "prov:type": f"lineal:{n.type.value}",
                                  "lineal:project": n.project, "lineal:name": n.name,
                                  "lineal:kind": n.kind}
        for key, value in (("lineal:version", n.version), ("lineal:digest", n.digest),
                           ("lineal:status", n.status), ("lineal:environment", n.detail
                                                         if n.type is NodeType.DEPLOYMENT else None)):
            if value is not None:
                entity[key] = value
        if n.tainted:
            entity["lineal:tainted"] = True
        doc["entity"][_qn(n.id)] = entity
    for i, e in enumerate(graph.edges):
        source, target = by_id.get(e.source), by_id.get(e.target)
        if source is None or target is None:
            continue
        if e.type == "input":
            doc["used"][f"_:u{i}"] = {"prov:activity": _qn(e.target), "prov:entity": _qn(e.source),
                                      "prov:role": e.role}
        elif e.type in ("output", "deployed") and source.type is NodeType.RUN:
            doc["wasGeneratedBy"][f"_:g{i}"] = {"prov:entity": _qn(e.target),
                                                "prov:activity": _qn(e.source),
                                                "prov:role": e.role or e.type}
        else:  # registered (artifact -> model version), deployed (model version -> deployment)
            doc["wasDerivedFrom"][f"_:d{i}"] = {"prov:generatedEntity": _qn(e.target),
                                                "prov:usedEntity": _qn(e.source),
                                                "prov:type": f"lineal:{e.type}"}
    return {key: value for key, value in doc.items() if value}
