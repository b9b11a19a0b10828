"""OpenLineage run events in: what Airflow, Spark, dbt (any ``openlineage-python`` transport)
report about data pipelines becomes lineal runs, artifact versions and edges.

    summary = ingest_events(store, events)      # a batch: all or nothing
    summary = ingest_event(store, event)        # what ``POST /api/v1/lineage`` receives

How OpenLineage maps onto lineal (``docs/openlineage.md`` has it with examples):

- **Names.** A namespace becomes a project and a name stays a name, for jobs and datasets alike:
  job ``analytics``/``daily.features`` is run ``daily.features`` of project ``analytics``;
  dataset ``warehouse``/``features`` is artifact ``warehouse/features``. A text that is not a
  valid lineal name (``s3://bucket``, ``/data/raw.csv``) has every run of other characters
  replaced by ``-`` and the first 8 hex digits of its sha256 appended
  (``s3-bucket-4f1d2c3b``), so two texts never share a name; ``lineal://<project>`` (lineal's
  own export) is ``<project>``. :func:`dataset_ref` gives the reference of a dataset.
- **Runs.** ``run.runId`` is the lineal run id: the ULID with the same 128 bits (a runId made by
  ``openlineage-python`` is a UUIDv7, whose time prefix is the ULID's). Every event of a runId
  updates that one run: its start is the earliest event, ``COMPLETE``/``FAIL``/``ABORT`` end it
  as finished/failed/killed (never undone by a late ``START`` or ``RUNNING``), the
  ``errorMessage`` facet is its error. The kind is the ``jobType`` facet's ``jobType`` in lower
  case (``task``, ``dag``, ``query``), else ``job``. The ``parent`` facet makes the parent run
  the lineal parent; a parent known only from that facet is recorded as a running run (of kind
  ``job``, no ``openlineage.eventType`` tag) until its own events arrive.
- **Datasets** are reference artifact versions (no bytes), kind ``dataset``. Their version is
  identified by the facets that say what the data is: ``schema``, ``version`` and
  ``dataSource`` (without ``_producer``/``_schemaURL``), with namespace and name; the same
  facets give the same version, a changed schema or dataset version a new one. Every facet of
  the first event naming a version is kept in its metadata (``metadata["openlineage"]``).
- **Edges.** Inputs are ``input`` edges (role ``input``); outputs are ``output`` edges (role
  ``output``), recorded from every event but ``START``, whose outputs are only planned.
- **Facets** of the run and job are kept as run tags ``openlineage.run.<facet>`` and
  ``openlineage.job.<facet>`` (JSON text, the latest event's), per-run dataset facets
  (``inputFacets``/``outputFacets``) as ``openlineage.input.<ref>``/``openlineage.output.<ref>``;
  ``openlineage.runId``, ``openlineage.job`` (namespace/name), ``openlineage.eventType`` and
  ``openlineage.producer`` say where the run came from. A facet over 64 KiB of JSON is kept as
  ``{"_omitted": ..., "bytes": n, "sha256": ...}`` and named in the summary's warnings.
- **lineal's own export** (``lineal lineage --format openlineage``) carries lineal facets (see
  :mod:`lineal.lineage.export_openlineage`): run ids, kinds, versions, digests, roles, code and
  environment come back exactly.

To link a lineal training run to a dataset a pipeline reported, consume its version by
reference: ``run.use_version(lineal.resolve(dataset_ref("warehouse", "features") + "@latest"))``
or ``run.use_dataset("warehouse/features@latest")``; ``lineal lineage`` and ``lineal taint``
then walk from the pipeline's raw data to the model.

A batch is checked whole before anything is written; a bad event raises InvalidArgument naming
it and the field (``event 3: run.runId 'x' is not a UUID``), and nothing is written. Ingesting
the same events again changes nothing.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..canonical import canonical_json
from ..entities import ULID_ALPHABET, RunError, datetime_to_us
from ..errors import InvalidArgument
from ..identity import current_principal
from ..lineage.export_openlineage import facet_schema_url
from ..refs import _NAME_RE
from ..run_data import MAX_KEY, MAX_TEXT_BYTES
from ..store import Store
from ..store.import_check import merge_run
from ..store.lineage_base import ImportArtifact, ImportBatch, ImportEdge, ImportRun
from ..store.types import BadImport

__all__ = ["EVENT_TYPES", "IngestSummary", "dataset_ref", "ingest_event", "ingest_events",
           "lineal_name", "project_of", "run_id_of"]

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER")
_STATUS = {"COMPLETE": "finished", "FAIL": "failed", "ABORT": "killed"}
_IDENTITY_FACETS = ("schema", "version", "dataSource")
_LINEAL_DATASET = facet_schema_url("LinealDatasetFacet")
_LINEAL_RUN = facet_schema_url("LinealRunFacet")
_LINEAL_ENV = facet_schema_url("LinealEnvironmentRunFacet")
_LINEAL_EDGE = facet_schema_url("LinealEdgeFacet")
_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
_OTHER_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


# -- names -----------------------------------------------------------------------------------
def lineal_name(text: str) -> str:
    """``text`` as a lineal name: itself when valid, else cleaned and suffixed with 8 hex
    digits of its sha256 (``/data/raw.csv`` -> ``data-raw.csv-1c9e8f3a``)."""
    if _NAME_RE.fullmatch(text):
        return text
    suffix = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    cleaned = _OTHER_CHARS.sub("-", text).strip("-._")[: 128 - 9].rstrip("-._")
    return f"{cleaned}-{suffix}" if cleaned else suffix


def project_of(namespace: str) -> str:
    """The lineal project of an OpenLineage namespace (``lineal://P`` is ``P``)."""
    if namespace.startswith("lineal://") and _NAME_RE.fullmatch(namespace[9:]):
        return namespace[9:]
    return lineal_name(namespace)


def dataset_ref(namespace: str, name: str) -> str:
    """The lineal artifact (``project/name``) an OpenLineage dataset becomes; add ``@latest`` or
    ``@v2`` for a version."""
    return f"{project_of(namespace)}/{lineal_name(name)}"


def run_id_of(run_uuid: str) -> str:
    """The lineal run id of an OpenLineage runId: the ULID with the same 128 bits."""
    value = uuid.UUID(run_uuid).int
    return "".join(ULID_ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))


# -- validation ------------------------------------------------------------------------------
class _Bad(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)
        self.path, self.problem = path, problem


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Bad(path, f"must be a JSON object, got {type(value).__name__}")
    return value


def _text(parent: Mapping[str, Any], key: str, path: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{path}{key}", "is missing" if value is None else "must be non-empty text")
    return value


def _facets(parent: Mapping[str, Any], key: str, path: str) -> dict[str, Mapping[str, Any]]:
    value = parent.get(key)
    if value is None:
        return {}
    facets = _object(value, f"{path}{key}")
    for name, facet in facets.items():
        _object(facet, f"{path}{key}.{name}")
    return dict(facets)


def _time(value: Any, path: str) -> int:
    if not isinstance(value, str):
        raise _Bad(path, "is missing" if value is None else "must be ISO-8601 text")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(path, f"{value!r} is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise _Bad(path, f"{value!r} has no time zone (the spec wants an offset, e.g. Z)")
    return datetime_to_us(moment)


@dataclass
class _Dataset:
    namespace: str
    name: str
    facets: dict[str, Mapping[str, Any]]
    edge_facets: dict[str, Mapping[str, Any]]


@dataclass
class _Event:
    number: int
    type: str
    time_us: int
    run_uuid: str
    run_id: str
    job_namespace: str
    job_name: str
    producer: str
    run_facets: dict[str, Mapping[str, Any]]
    job_facets: dict[str, Mapping[str, Any]]
    inputs: list[_Dataset]
    outputs: list[_Dataset]


def _datasets(event: Mapping[str, Any], key: str) -> list[_Dataset]:
    value = event.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(key, "must be a JSON array")
    edge_key = "inputFacets" if key == "inputs" else "outputFacets"
    found = []
    for i, item in enumerate(value):
        path = f"{key}[{i}]."
        data = _object(item, f"{key}[{i}]")
        found.append(_Dataset(_text(data, "namespace", path), _text(data, "name", path),
                              _facets(data, "facets", path), _facets(data, edge_key, path)))
    return found


def _lineal_id(facets: Mapping[str, Mapping[str, Any]], key: str, schema: str) -> str | None:
    facet = facets.get(key)
    if facet is None or facet.get("_schemaURL") != schema:
        return None
    value = facet.get("id")
    return value if isinstance(value, str) and _ULID.fullmatch(value) else None


def _parse(raw: Any, number: int) -> _Event:
    event = _object(raw, "the event")
    if "run" not in event and ("job" in event or "dataset" in event):
        raise _Bad("run", "is missing: a job or dataset event (no run) is not a run event; "
                   "only run events are ingested")
    kind = event.get("eventType", "OTHER")
    if kind not in EVENT_TYPES:
        raise _Bad("eventType", f"{kind!r} is not one of {', '.join(EVENT_TYPES)}")
    time_us = _time(event.get("eventTime"), "eventTime")
    producer = _text(event, "producer", "")
    _text(event, "schemaURL", "")
    run = _object(event.get("run"), "run")
    run_uuid = _text(run, "runId", "run.")
    try:
        canonical_uuid = str(uuid.UUID(run_uuid))
    except ValueError:
        raise _Bad("run.runId", f"{run_uuid!r} is not a UUID") from None
    job = _object(event.get("job"), "job")
    run_facets = _facets(run, "facets", "run.")
    parsed = _Event(
        number=number, type=kind, time_us=time_us, run_uuid=canonical_uuid,
        run_id=_lineal_id(run_facets, "lineal", _LINEAL_RUN) or run_id_of(canonical_uuid),
        job_namespace=_text(job, "namespace", "job."), job_name=_text(job, "name", "job."),
        producer=producer, run_facets=run_facets, job_facets=_facets(job, "facets", "job."),
        inputs=_datasets(event, "inputs"), outputs=_datasets(event, "outputs"),
    )
    parent = run_facets.get("parent")
    if parent is not None:
        _text(_object(parent.get("run"), "run.facets.parent.run"), "runId",
              "run.facets.parent.run.")
        try:
            uuid.UUID(parent["run"]["runId"])
        except ValueError:
            raise _Bad("run.facets.parent.run.runId",
                       f"{parent['run']['runId']!r} is not a UUID") from None
        parent_job = _object(parent.get("job"), "run.facets.parent.job")
        _text(parent_job, "namespace", "run.facets.parent.job.")
        _text(parent_job, "name", "run.facets.parent.job.")
    return parsed


# -- building the batch ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class IngestSummary:
    """What an ingest did: events read, runs touched (lineal ids, first seen first) and how many
    of them were new, the artifact versions the events named, edges named, and warnings (facets
    too large to keep whole)."""

    events: int
    runs: tuple[str, ...]
    new_runs: int
    versions: tuple[str, ...]
    edges: int
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"events": self.events, "runs": list(self.runs), "new_runs": self.new_runs,
                "versions": list(self.versions), "edges": self.edges,
                "warnings": list(self.warnings)}


@dataclass
class _RunState:
    """One run folded from its events: a ``runs`` row (the shape :func:`merge_run` reads)."""

    key: str
    row: dict[str, Any]
    error: RunError | None = None
    tags: dict[str, str] = field(default_factory=dict)
    parent: tuple[str, str, str] | None = None  # lineal id, namespace, name
    placeholder: bool = False

    def import_run(self, parent: str | None) -> ImportRun:
        row = self.row
        return ImportRun(key=self.key, project=row["project"], name=row["name"],
                         kind=row["kind"], status=row["status"], started_at_us=row["started_at"],
                         ended_at_us=row["ended_at"], tags=self.tags, parent=parent, id=self.key,
                         error=self.error, placeholder=self.placeholder)


class _Builder:
    """Folds parsed events into one :class:`ImportBatch`: a run per runId, a version per
    dataset identity, an edge per (run, version, direction, role)."""

    def __init__(self, stored: Mapping[str, Any]) -> None:
        self.stored = stored
        """The runs the events name that are already stored, by id."""
        self.runs: dict[str, _RunState] = {}
        self.artifacts: dict[str, ImportArtifact] = {}
        self.edges: dict[tuple[str, str, str, str], ImportEdge] = {}
        self.warnings: list[str] = []

    # facets kept as tags
    def _json(self, value: Any, what: str) -> Any:
        text = canonical_json(value)
        size = len(text.encode("utf-8"))
        if size <= MAX_TEXT_BYTES:
            return value
        self.warnings.append(f"{what}: {size:,} bytes of JSON, kept as its size and sha256")
        return {"_omitted": f"larger than {MAX_TEXT_BYTES:,} bytes", "bytes": size,
                "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}

    def _tag(self, tags: dict[str, str], key: str, value: Any, what: str) -> None:
        if len(key) > MAX_KEY:
            digest = hashlib.sha256(key.encode()).hexdigest()[:8]
            key = f"{key[: MAX_KEY - 9]}-{digest}"
        tags[key] = value if isinstance(value, str) else canonical_json(self._json(value, what))

    def fold(self, event: _Event) -> None:
        state = self.runs.get(event.run_id)
        kind = _kind(event.job_facets)
        status = _STATUS.get(event.type, "running")
        incoming = ImportRun(
            key=event.run_id, project=project_of(event.job_namespace),
            name=lineal_name(event.job_name), kind=kind or "job", status=status,
            started_at_us=event.time_us,
            ended_at_us=event.time_us if status != "running" else None,
            id=event.run_id, error=self._error(event) if status == "failed" else None,
        )
        if state is None:
            stored = self.stored.get(event.run_id)
            row = {"project": incoming.project, "name": incoming.name,
                   "kind": kind or (stored.kind if stored is not None else "job"),
                   "status": status, "started_at": incoming.started_at_us,
                   "ended_at": incoming.ended_at_us, "parent_id": None}
            state = _RunState(event.run_id, row, incoming.error)
            self.runs[event.run_id] = state
        else:
            if kind is None:
                incoming = replace(incoming, kind=state.row["kind"])
            try:
                changes = merge_run(state.row, incoming, 0, None)
            except BadImport as error:
                raise InvalidArgument(f"event {event.number}: job.name: {error.message}") from None
            state.row.update(changes)
            if "error_message" in changes:
                state.error = incoming.error
        self._tags(state, event)
        self._parent(state, event)
        self._edges(event)

    def _error(self, event: _Event) -> RunError | None:
        """The ``errorMessage`` facet as a run error; ``Type: message`` is split in two."""
        facet = event.run_facets.get("errorMessage")
        if facet is None:
            return None
        message = str(facet.get("message") or "")
        head, sep, rest = message.partition(": ")
        if sep and len(head) <= 256 and re.fullmatch(r"[A-Za-z_][\w.$]*", head):
            kind, message = head, rest
        else:
            kind = f"{str(facet.get('programmingLanguage') or 'unknown')[:200]} error"
        where = f"event {event.number}: run.facets.errorMessage"
        return RunError(kind, self._clip(message, f"{where}.message"),
                        self._clip(str(facet.get("stackTrace") or ""), f"{where}.stackTrace"))

    def _clip(self, text: str, what: str) -> str:
        data = text.encode("utf-8", "surrogatepass")
        if len(data) <= MAX_TEXT_BYTES:
            return text
        self.warnings.append(f"{what}: {len(data):,} bytes, kept to the first "
                             f"{MAX_TEXT_BYTES // 2:,}")
        head = data[: MAX_TEXT_BYTES // 2].decode("utf-8", "ignore")
        return f"{head}\n[... {len(data) - len(head.encode()):,} more bytes not kept]"

    def _tags(self, state: _RunState, event: _Event) -> None:
        tags = state.tags
        tags.update({"openlineage.runId": event.run_uuid,
                     "openlineage.job": f"{event.job_namespace}/{event.job_name}",
                     "openlineage.eventType": event.type, "openlineage.producer": event.producer})
        for scope, facets in (("run", event.run_facets), ("job", event.job_facets)):
            for name, facet in facets.items():
                self._tag(tags, f"openlineage.{scope}.{name}", facet,
                          f"event {event.number}: {scope}.facets.{name}")
        for direction, datasets in (("input", event.inputs), ("output", event.outputs)):
            for i, data in enumerate(datasets):
                if data.edge_facets:
                    ref = dataset_ref(data.namespace, data.name)
                    self._tag(tags, f"openlineage.{direction}.{ref}", data.edge_facets,
                              f"event {event.number}: {direction}s[{i}] facets")

    def _parent(self, state: _RunState, event: _Event) -> None:
        lineal = event.run_facets.get("lineal")
        parent_id = None
        if lineal is not None and lineal.get("_schemaURL") == _LINEAL_RUN:
            parent_id = lineal.get("parent") if isinstance(lineal.get("parent"), str) else None
        facet = event.run_facets.get("parent")
        if facet is not None:
            parent_id = parent_id if parent_id and _ULID.fullmatch(parent_id) else (
                run_id_of(facet["run"]["runId"]))
            state.parent = (parent_id, facet["job"]["namespace"], facet["job"]["name"])
        elif parent_id and _ULID.fullmatch(parent_id):
            state.parent = (parent_id, "", "")

    def _artifact(self, data: _Dataset, time_us: int) -> str:
        project, name = project_of(data.namespace), lineal_name(data.name)
        lineal = data.facets.get("lineal")
        version = None
        kind, uri, size = "dataset", f"{data.namespace}/{data.name}", 0
        if lineal is not None and lineal.get("_schemaURL") == _LINEAL_DATASET:
            digest = str(lineal.get("digest"))
            version = lineal.get("version")
            kind = str(lineal.get("kind") or kind)
            uri = str(lineal.get("uri") or uri)
            given = lineal.get("size")
            size = given if isinstance(given, int) else 0
        else:
            identity: dict[str, Any] = {"namespace": data.namespace, "name": data.name}
            for key in _IDENTITY_FACETS:
                facet = data.facets.get(key)
                if facet is not None:
                    identity[key] = {k: v for k, v in facet.items()
                                     if k not in ("_producer", "_schemaURL")}
            digest = "sha256:" + hashlib.sha256(canonical_json(identity).encode()).hexdigest()
        key = f"{project}/{name}@{digest}"
        if key not in self.artifacts:
            facets = {k: self._json(v, f"dataset {data.namespace}/{data.name} facet {k}")
                      for k, v in data.facets.items()}
            self.artifacts[key] = ImportArtifact(
                key=key, project=project, name=name, kind=kind, digest=digest, uri=uri,
                size=size, created_at_us=time_us, version=version,
                metadata={"openlineage": {"namespace": data.namespace, "name": data.name,
                                          "facets": facets}})
        return key

    def _edges(self, event: _Event) -> None:
        for direction, datasets in (("input", event.inputs), ("output", event.outputs)):
            if direction == "output" and event.type == "START":
                continue  # planned outputs: recorded once the run reports them written
            for data in datasets:
                artifact = self._artifact(data, event.time_us)
                role = direction
                edge = data.edge_facets.get("lineal")
                if edge is not None and edge.get("_schemaURL") == _LINEAL_EDGE:
                    role = str(edge.get("role") or direction)
                mark = (event.run_id, artifact, direction, role)
                self.edges.setdefault(mark, ImportEdge(event.run_id, artifact, direction, role))
        self._captured(event)

    def _captured(self, event: _Event) -> None:
        """lineal's own export: the code and environment a run consumed, from its facets."""
        lineal = event.run_facets.get("lineal")
        pieces = []
        if lineal is not None and lineal.get("_schemaURL") == _LINEAL_RUN:
            pieces.append(("code", lineal.get("code")))
        env = event.run_facets.get("linealEnvironment")
        if env is not None and env.get("_schemaURL") == _LINEAL_ENV:
            pieces.append(("environment", env))
        for role, ref in pieces:
            if not isinstance(ref, Mapping) or not isinstance(ref.get("digest"), str):
                continue
            facet: dict[str, Mapping[str, Any]] = {
                "lineal": {"_schemaURL": _LINEAL_DATASET, "kind": ref.get("kind", role),
                           "digest": ref["digest"], "version": ref.get("version")}}
            data = _Dataset(f"lineal://{ref.get('project')}", str(ref.get("name")), facet, {})
            artifact = self._artifact(data, event.time_us)
            mark = (event.run_id, artifact, "input", role)
            self.edges.setdefault(mark, ImportEdge(event.run_id, artifact, "input", role))

    def batch(self) -> ImportBatch:
        runs = []
        placeholders: dict[str, ImportRun] = {}
        for state in self.runs.values():
            parent = None
            if state.parent is not None:
                parent, namespace, name = state.parent
                if parent not in self.runs and parent not in self.stored:
                    if not namespace:
                        parent = None  # lineal's own parent, not exported: nothing to point at
                    else:
                        placeholders.setdefault(parent, _RunState(
                            parent, {"project": project_of(namespace), "name": lineal_name(name),
                                     "kind": "job", "status": "running",
                                     "started_at": state.row["started_at"], "ended_at": None},
                            placeholder=True).import_run(None))
            runs.append(state.import_run(parent))
        return ImportBatch([*placeholders.values(), *runs], list(self.artifacts.values()),
                           list(self.edges.values()))


def _kind(job_facets: Mapping[str, Mapping[str, Any]]) -> str | None:
    facet = job_facets.get("jobType") or {}
    value = facet.get("jobType")
    if isinstance(value, str) and value.strip():
        return value.strip().lower()[:64]
    return None


# -- entry points ----------------------------------------------------------------------------
def _parse_all(events: Iterable[Mapping[str, Any]]) -> list[_Event]:
    parsed = []
    for number, raw in enumerate(events, 1):
        try:
            parsed.append(_parse(raw, number))
        except _Bad as bad:
            raise InvalidArgument(f"event {number}: {bad.path} {bad.problem}",
                                  hint="see https://openlineage.io/spec/2-0-2/OpenLineage.json"
                                  ) from None
    return parsed


def ingest_events(store: Store, events: Iterable[Mapping[str, Any]]) -> IngestSummary:
    """Record OpenLineage run events (dicts, as JSON decodes them) in ``store``, all in one
    transaction: each runId is one lineal run, each dataset version one reference artifact
    version, inputs and outputs edges (the mapping is in the module docs). Raises
    InvalidArgument naming the event and field of the first bad event, and writes nothing.
    Idempotent: the same events again change nothing.

        summary = ingest_events(store, [start_event, complete_event])
        summary.runs        # ('01J9...',): the one lineal run of that runId
    """
    parsed = _parse_all(events)
    wanted = {e.run_id for e in parsed}
    for e in parsed:
        parent = e.run_facets.get("parent")
        if parent is not None:
            wanted.add(run_id_of(parent["run"]["runId"]))
        lineal = e.run_facets.get("lineal")
        if lineal is not None and isinstance(lineal.get("parent"), str):
            wanted.add(lineal["parent"])
    builder = _Builder(store.metadata.runs_by_id(w for w in wanted if _ULID.fullmatch(w)))
    for e in sorted(parsed, key=lambda e: (e.time_us, e.number)):
        builder.fold(e)
    batch = builder.batch()
    if batch.size == 0:
        return IngestSummary(0, (), 0, (), 0)
    try:
        ids = store.metadata.import_lineage(batch, current_principal())
    except BadImport as error:
        raise InvalidArgument(f"OpenLineage events: {error.message}", hint=error.hint) from None
    runs = tuple(dict.fromkeys(e.run_id for e in parsed))
    return IngestSummary(
        events=len(parsed), runs=runs,
        new_runs=sum(1 for r in runs if r not in builder.stored),
        versions=tuple(dict.fromkeys(ids[a.key] for a in batch.artifacts)),
        edges=len(batch.edges), warnings=tuple(builder.warnings),
    )


def ingest_event(store: Store, event: Mapping[str, Any]) -> IngestSummary:
    """Record one OpenLineage run event (see :func:`ingest_events`)."""
    return ingest_events(store, [event])
