"""Reading a lineage graph from JSON Lines and bulk-loading it (``lineal import FILE.jsonl``).

One JSON object per line; blank lines and lines starting with ``#`` are skipped::

    {"type": "artifact", "key": "raw", "name": "churn-raw", "kind": "dataset",
     "digest": "sha256:9f2c...", "uri": "s3://bucket/raw.csv", "size": 10240}
    {"type": "run", "key": "train-1", "name": "train", "kind": "train",
     "started_at": "2024-05-01T10:00:00Z", "params": {"C": 1.0}, "metrics": {"auc": 0.91}}
    {"type": "edge", "run": "train-1", "artifact": "raw", "direction": "input", "role": "train_data"}

See docs/lineage.md for every field. The whole file is one transaction: any bad line is reported
with its line number and nothing is written.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import setting
from ..entities import datetime_to_us, now_us
from ..errors import InvalidArgument
from ..identity import current_principal
from ..store import Store, default_store
from ..store.lineage_base import ImportArtifact, ImportBatch, ImportEdge, ImportRun

__all__ = ["ImportResult", "import_jsonl", "read_jsonl"]

_FIELDS = {
    "run": {"type", "key", "project", "name", "kind", "status", "started_at", "ended_at",
            "params", "metrics", "tags", "parent"},
    "artifact": {"type", "key", "project", "name", "kind", "digest", "uri", "size", "version",
                 "created_at", "metadata"},
    "edge": {"type", "run", "artifact", "direction", "role"},
}
_REQUIRED = {"run": ("key", "name"), "artifact": ("key", "name", "kind", "digest"),
             "edge": ("run", "artifact", "direction")}


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import wrote."""

    runs: int
    artifacts: int
    edges: int
    seconds: float
    ids: dict[str, str] = field(default_factory=dict)
    """``{key: stored id}`` for every run and artifact of the file."""
    format: str = "lineal-jsonl"
    """What the file held (see :data:`lineal.lineage.file_import.FILE_FORMATS`)."""
    skipped: tuple[str, ...] = ()
    """What was read but not imported, and why."""

    @property
    def rows_per_second(self) -> float:
        return (self.runs + self.artifacts + self.edges) / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "runs": self.runs, "artifacts": self.artifacts,
                "edges": self.edges, "seconds": round(self.seconds, 3), "ids": self.ids,
                "skipped": list(self.skipped)}


class _Lines:
    """Where each item of the batch came from, to name the line in an error."""

    def __init__(self) -> None:
        self.at: dict[str, list[int]] = {"runs": [], "artifacts": [], "edges": []}


def _time(value: Any, line: int, field: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidArgument(f"line {line}: {field} must be ISO-8601 text or epoch seconds")
    try:
        return datetime_to_us(value)
    except (ValueError, OverflowError):
        raise InvalidArgument(f"line {line}: {field} {value!r} is not a time",
                              hint="use ISO-8601 such as 2024-05-01T10:00:00Z, or epoch seconds") from None


def _mapping(value: Any, line: int, field: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"line {line}: {field} must be a JSON object")
    return value


def _item(obj: Any, line: int, project: str, now: int) -> ImportRun | ImportArtifact | ImportEdge:
    if not isinstance(obj, dict):
        raise InvalidArgument(f"line {line}: expected a JSON object")
    kind = obj.get("type")
    if kind not in _FIELDS:
        raise InvalidArgument(f"line {line}: type {kind!r} is not one of run, artifact, edge")
    unknown = set(obj) - _FIELDS[kind]
    if unknown:
        raise InvalidArgument(f"line {line}: unknown field(s) {', '.join(sorted(unknown))} for "
                              f"a {kind}", hint=f"a {kind} has {', '.join(sorted(_FIELDS[kind]))}")
    missing = [f for f in _REQUIRED[kind] if obj.get(f) in (None, "")]
    if missing:
        raise InvalidArgument(f"line {line}: a {kind} needs {', '.join(missing)}")
    if kind == "edge":
        return ImportEdge(
            run=obj["run"], artifact=obj["artifact"], direction=obj["direction"],
            role=obj.get("role") or obj["direction"],
        )
    if kind == "run":
        return ImportRun(
            key=obj["key"],
            project=obj.get("project") or project,
            name=obj["name"],
            kind=obj.get("kind") or "run",
            status=obj.get("status") or "finished",
            started_at_us=_time(obj.get("started_at"), line, "started_at", now),
            ended_at_us=None if obj.get("ended_at") is None else _time(obj["ended_at"], line, "ended_at", now),
            params=_mapping(obj.get("params"), line, "params"),
            metrics=_mapping(obj.get("metrics"), line, "metrics"),
            tags=_mapping(obj.get("tags"), line, "tags"),
            parent=obj.get("parent"),
        )
    return ImportArtifact(
        key=obj["key"],
        project=obj.get("project") or project,
        name=obj["name"],
        kind=obj["kind"],
        digest=obj["digest"],
        uri=obj.get("uri") or "",
        size=obj.get("size", 0),
        created_at_us=_time(obj.get("created_at"), line, "created_at", now),
        version=obj.get("version"),
        metadata=_mapping(obj.get("metadata"), line, "metadata"),
    )


def read_jsonl(
    lines: Iterable[str], *, project: str | None = None
) -> tuple[ImportBatch, dict[str, list[int]]]:
    """Parse JSON Lines into a batch; also returns the line number of each run, artifact and
    edge (by section and position), for error messages."""
    default_project = project or setting("project") or "default"
    now = now_us()
    runs: list[ImportRun] = []
    artifacts: list[ImportArtifact] = []
    edges: list[ImportEdge] = []
    where = _Lines()
    loads = json.loads
    for number, text in enumerate(lines, 1):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            obj = loads(stripped)
        except json.JSONDecodeError as error:
            raise InvalidArgument(f"line {number}: not JSON ({error.msg} at column {error.colno})") from None
        item = _item(obj, number, default_project, now)
        if isinstance(item, ImportEdge):
            edges.append(item)
            where.at["edges"].append(number)
        elif isinstance(item, ImportRun):
            runs.append(item)
            where.at["runs"].append(number)
        else:
            artifacts.append(item)
            where.at["artifacts"].append(number)
    return ImportBatch(runs, artifacts, edges), where.at


def import_jsonl(
    path: str | os.PathLike[str],
    *,
    project: str | None = None,
    store: Store | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Load a JSON Lines lineage file into the store in one transaction (all or nothing).

    Returns counts, the time taken and ``ids`` (``{key: stored id}``). A bad line raises
    InvalidArgument naming the line, and nothing is written. ``progress(done, total)`` is called
    as rows are written.

        result = lineal.lineage.import_jsonl("graph.jsonl")
        run_id = result.ids["train-1"]
    """
    from ..store.types import BadImport

    started = time.perf_counter()
    file = Path(path)
    if not file.is_file():
        raise InvalidArgument(f"no file {str(file)!r} to import", hint="give a .jsonl file")
    with file.open(encoding="utf-8") as handle:
        batch, lines = read_jsonl(handle, project=project)
    target = store or default_store(write=True)
    try:
        ids = target.metadata.import_lineage(batch, current_principal(), progress)
        return ImportResult(len(batch.runs), len(batch.artifacts), len(batch.edges),
                            time.perf_counter() - started, ids)
    except BadImport as error:
        line = lines[error.section][error.index]
        raise InvalidArgument(f"{file.name} line {line}: {error.message}", hint=error.hint) from None
