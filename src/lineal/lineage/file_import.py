"""``lineal import FILE``: a lineage file in any format lineal reads, told apart by its content.

- lineal JSON Lines (``{"type": "run" | "artifact" | "edge", ...}`` per line; :mod:`.jsonl`);
- OpenLineage JSON Lines, one run event per line (what ``openlineage-python``'s file transport
  writes), or a JSON array of events (``lineal lineage --format openlineage``), or one event;
  ingested as :mod:`lineal.interop.openlineage` ingests events;
- lineal's graph JSON (``lineal lineage --format json --both``: ``{"start", "nodes",
  "edges"}``): runs keep their ids, artifact versions their names, versions and digests (as
  reference versions). Registered model versions and deployments are not lineage rows and are
  reported as skipped.

Every format is one transaction: a bad line or event is named and nothing is written.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..config import setting
from ..entities import datetime_to_us, now_us
from ..errors import InvalidArgument
from ..identity import current_principal
from ..store import Store, default_store
from ..store.lineage_base import ImportArtifact, ImportBatch, ImportEdge, ImportRun
from ..store.types import BadImport
from .jsonl import ImportResult, import_jsonl

__all__ = ["FILE_FORMATS", "detect_format", "import_file"]

FILE_FORMATS = ("lineal-jsonl", "openlineage-jsonl", "openlineage-json", "lineal-graph-json")
_LINEAL_TYPES = {"run", "artifact", "edge"}


def _first_line(file: Path) -> str | None:
    with file.open(encoding="utf-8") as handle:
        for line in handle:
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                return stripped
    return None


def _kind_of(obj: Any) -> str | None:
    if isinstance(obj, list):
        return "openlineage-json"
    if not isinstance(obj, Mapping):
        return None
    if obj.get("type") in _LINEAL_TYPES:
        return "lineal-jsonl"
    if "nodes" in obj and "edges" in obj:
        return "lineal-graph-json"
    if "eventTime" in obj or "run" in obj:
        return "openlineage-json"
    return None


def detect_format(path: str | os.PathLike[str]) -> str:
    """Which of :data:`FILE_FORMATS` the file at ``path`` holds, from its content."""
    file = Path(path)
    first = _first_line(file)
    if first is None:
        raise InvalidArgument(f"{file.name} is empty", hint="nothing to import")
    try:
        kind = _kind_of(json.loads(first))
        if kind == "openlineage-json" and not first.startswith("["):
            return "openlineage-jsonl"
        if kind is not None:
            return kind
    except json.JSONDecodeError:
        pass  # a document spread over lines (indented JSON): read it whole
    try:
        kind = _kind_of(json.loads(file.read_text(encoding="utf-8")))
    except json.JSONDecodeError as error:
        raise InvalidArgument(f"{file.name} is neither JSON Lines nor a JSON document "
                              f"(line {error.lineno}: {error.msg})") from None
    if kind is None:
        raise InvalidArgument(f"{file.name} is JSON lineal does not know how to import",
                              hint="give lineal JSON Lines (docs/lineage.md), OpenLineage "
                              "events, or a `lineal lineage --format json` export")
    return kind


def _ol_events(file: Path, kind: str) -> Iterator[Any]:
    if kind == "openlineage-json":
        doc = json.loads(file.read_text(encoding="utf-8"))
        yield from doc if isinstance(doc, list) else [doc]
        return
    with file.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            try:
                yield json.loads(stripped)
            except json.JSONDecodeError as error:
                raise InvalidArgument(f"{file.name} line {number}: not JSON ({error.msg})") from None


def import_file(
    path: str | os.PathLike[str],
    *,
    project: str | None = None,
    store: Store | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Import the lineage file at ``path`` in one transaction, whichever format it holds:
    lineal JSON Lines (docs/lineage.md), OpenLineage run events as JSON lines (the
    ``openlineage-python`` file transport) or as a JSON array (``lineal lineage --format
    openlineage``), or lineal's graph JSON (``--format json``). ``project`` is for lineal JSON
    Lines that name none (the other formats name their projects). ``result.format`` says what
    was read, ``result.skipped`` what was not imported and why. A bad line or event raises
    InvalidArgument naming it, and nothing is written.

        result = lineal.lineage.import_file("events.jsonl")   # OpenLineage file transport
    """
    file = Path(path)
    if not file.is_file():
        raise InvalidArgument(f"no file {str(file)!r} to import",
                              hint="give a .jsonl or .json file")
    kind = detect_format(file)
    if kind == "lineal-jsonl":
        return import_jsonl(file, project=project, store=store, progress=progress)
    target = store or default_store(write=True)
    started = time.perf_counter()
    if kind == "lineal-graph-json":
        return _import_graph(file, target, progress, started)
    from ..interop.openlineage import ingest_events

    try:
        summary = ingest_events(target, list(_ol_events(file, kind)))
    except InvalidArgument as error:
        if error.message.startswith(file.name):
            raise
        raise InvalidArgument(f"{file.name}: {error.message}", hint=error.hint) from None
    return ImportResult(len(summary.runs), len(summary.versions), summary.edges,
                        time.perf_counter() - started, format=kind,
                        skipped=summary.warnings)


# -- lineal's graph JSON -------------------------------------------------------------------------
def _value(obj: Mapping[str, Any], key: str) -> Any:
    """``obj[key]``, or None when absent: any JSON value. The batch passes it on unchecked;
    the store's :func:`~lineal.store.import_check.check_batch` refuses a wrong one."""
    return obj.get(key)


def _graph_batch(doc: Mapping[str, Any], name: str) -> tuple[ImportBatch, list[str]]:
    nodes, edges = doc.get("nodes"), doc.get("edges")
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise InvalidArgument(f"{name}: 'nodes' and 'edges' must be JSON arrays")
    now = now_us()
    runs: list[ImportRun] = []
    artifacts: list[ImportArtifact] = []
    skipped: dict[str, int] = {}
    kinds: dict[str, str] = {}
    default_project = setting("project") or "default"
    for i, node in enumerate(nodes):
        if not isinstance(node, Mapping) or not isinstance(node.get("id"), str):
            raise InvalidArgument(f"{name}: node #{i + 1} is not an object with an id")
        kind = node.get("type")
        project = node.get("project") or default_project
        when = _time(node.get("time"), f"{name}: node #{i + 1} time", now)
        if kind == "run":
            end = node.get("detail")
            runs.append(ImportRun(
                key=node["id"], id=node["id"], project=project, name=_value(node, "name"),
                kind=node.get("kind") or "run", status=node.get("status") or "finished",
                started_at_us=when,
                ended_at_us=_time(end, f"{name}: node #{i + 1} detail", now) if end else None))
        elif kind == "artifact":
            artifacts.append(ImportArtifact(
                key=node["id"], project=project, name=_value(node, "name"),
                kind=_value(node, "kind"), digest=_value(node, "digest"), uri="", size=0,
                created_at_us=when,
                version=node.get("version")))
        else:
            skipped[str(kind)] = skipped.get(str(kind), 0) + 1
            continue
        kinds[node["id"]] = str(kind)
    batch_edges = []
    for i, edge in enumerate(edges):
        if not isinstance(edge, Mapping):
            raise InvalidArgument(f"{name}: edge #{i + 1} is not an object")
        way = edge.get("type")
        if way == "input" and kinds.get(_value(edge, "target")) == "run":
            batch_edges.append(ImportEdge(edge["target"], _value(edge, "source"), "input",
                                          edge.get("role") or "input"))
        elif way == "output" and kinds.get(_value(edge, "source")) == "run":
            batch_edges.append(ImportEdge(edge["source"], _value(edge, "target"), "output",
                                          edge.get("role") or "output"))
        else:
            skipped[f"{way} edge"] = skipped.get(f"{way} edge", 0) + 1
    notes = [f"{count} {what}(s): the registry is not part of a lineage import"
             for what, count in sorted(skipped.items())]
    return ImportBatch(runs, artifacts, batch_edges), notes


def _time(value: Any, what: str, default: int) -> int:
    if value is None:
        return default
    try:
        return datetime_to_us(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{what} {value!r} is not a time") from None


def _import_graph(file: Path, store: Store, progress: Callable[[int, int], None] | None,
                  started: float) -> ImportResult:
    doc = json.loads(file.read_text(encoding="utf-8"))
    batch, notes = _graph_batch(doc, file.name)
    try:
        ids = store.metadata.import_lineage(batch, current_principal(), progress)
    except BadImport as error:
        raise InvalidArgument(f"{file.name}: {error.message}", hint=error.hint) from None
    return ImportResult(len(batch.runs), len(batch.artifacts), len(batch.edges),
                        time.perf_counter() - started, ids, format="lineal-graph-json",
                        skipped=tuple(notes))
