"""A lineage subgraph as OpenLineage run events (spec 2-0-2), and the names both directions share.

    events = openlineage_events(lineage.subgraph("churn-model@v3"), store=store)

Each run gives a START event (its inputs) and, once it ended, a COMPLETE, FAIL or ABORT event
(its inputs and outputs); a run still running with outputs gives a RUNNING event instead.
Model versions and deployments have no OpenLineage equivalent and are left out.

- Run ids are standard UUIDs, deterministic from lineal's ids: ``uuid5(RUN_UUID_NAMESPACE,
  run_id)`` where ``RUN_UUID_NAMESPACE = uuid5(NAMESPACE_URL, "urn:lineal:run")`` =
  ``24c84fbc-6399-55b3-a7d5-ad32d4c1f5e1``. Exporting twice gives the same ids.
- Job and dataset namespaces are ``lineal://<project>``; names are lineal names.
- A run's ``code`` and ``environment`` inputs are not datasets: the code becomes the standard
  ``sourceCodeLocation`` job facet (when a git remote is known) and the ``lineal`` run facet's
  ``code``; the environment becomes the ``linealEnvironment`` run facet.
- Standard facets: ``nominalTime``, ``parent`` (the parent run), ``errorMessage`` (failed runs),
  ``jobType``, ``sourceCodeLocation``, dataset ``version`` and ``schema`` (from the schema lineal
  recorded for a dataset version).
- lineal's own facets (``lineal`` on runs, datasets and input/output edges,
  ``linealEnvironment`` on runs) have JSON schemas in ``docs/openlineage/``; their
  ``_schemaURL`` is ``FACET_SCHEMA_BASE + "<Facet>.json#/$defs/<Facet>"``, the raw file in the
  repository. A change that is not backwards compatible gets a new file name.

Facets that need stored data (parent, errorMessage, schema, code, environment) are written when
a ``store`` is given; without one the events carry what the graph nodes hold.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..entities import Graph, Node, NodeType

if TYPE_CHECKING:
    from ..entities import ArtifactVersion, Run
    from ..store import Store

__all__ = [
    "FACET_SCHEMA_BASE",
    "LINEAL_FACETS",
    "OPENLINEAGE_SCHEMA",
    "RUN_UUID_NAMESPACE",
    "facet_schema_url",
    "openlineage_events",
    "run_uuid",
]

OPENLINEAGE_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACETS = "https://openlineage.io/spec/facets"

RUN_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:lineal:run")
"""The namespace of the UUIDs lineal's runs are exported under (see :func:`run_uuid`)."""

FACET_SCHEMA_BASE = "https://raw.githubusercontent.com/lineal/lineal/main/docs/openlineage/"
"""Where lineal's facet schemas are published: the ``docs/openlineage/`` folder of the
repository, read raw from its main branch."""

LINEAL_FACETS = ("LinealRunFacet", "LinealEnvironmentRunFacet", "LinealDatasetFacet",
                 "LinealEdgeFacet")
"""lineal's custom facets, each with ``docs/openlineage/<name>.json``."""

_END_EVENT = {"finished": "COMPLETE", "failed": "FAIL", "killed": "ABORT"}
_CAPTURED = ("code", "environment")  # kinds recorded by capture: facets, not datasets


def run_uuid(run_id: str) -> str:
    """The OpenLineage runId of lineal run ``run_id``: ``uuid5(RUN_UUID_NAMESPACE, run_id)``."""
    return str(uuid.uuid5(RUN_UUID_NAMESPACE, run_id))


def facet_schema_url(name: str) -> str:
    """The ``_schemaURL`` of lineal facet ``name`` (one of :data:`LINEAL_FACETS`)."""
    return f"{FACET_SCHEMA_BASE}{name}.json#/$defs/{name}"


def _producer() -> str:
    from .. import __version__

    return f"urn:lineal:{__version__}"


def _facet(name: str, spec: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": _producer(), "_schemaURL": f"{_FACETS}/{spec}/{name}.json#/$defs/{name}",
            **fields}


def _lineal_facet(facet: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": _producer(), "_schemaURL": facet_schema_url(facet),
            **{k: v for k, v in fields.items() if v is not None}}


def _namespace(project: str) -> str:
    return f"lineal://{project}"


class _Stored:
    """What the events need beyond the graph nodes, read in bulk (nothing without a store)."""

    def __init__(self, graph: Graph, store: Store | None) -> None:
        self.runs: dict[str, Run] = {}
        self.versions: dict[str, ArtifactVersion] = {}
        if store is None:
            return
        meta = store.metadata
        self.runs = meta.runs_by_id(n.id for n in graph.nodes if n.type is NodeType.RUN)
        parents = {r.parent_id for r in self.runs.values() if r.parent_id} - set(self.runs)
        self.runs.update(meta.runs_by_id(parents))
        self.versions = meta.artifact_versions_by_id(
            n.id for n in graph.nodes if n.type is NodeType.ARTIFACT)


def _schema_facet(version: ArtifactVersion | None) -> dict[str, Any] | None:
    """The columns lineal recorded for a dataset version, or the schema facet it came in with
    (a version ingested from OpenLineage)."""
    metadata = (version.metadata or {}) if version is not None else {}
    received = metadata.get("openlineage")
    if isinstance(received, Mapping) and isinstance(received.get("facets"), Mapping):
        schema = received["facets"].get("schema")
        if isinstance(schema, Mapping) and isinstance(schema.get("fields"), list):
            return dict(schema)
    dataset = metadata.get("dataset")
    columns = dataset.get("schema") if isinstance(dataset, Mapping) else None
    if not isinstance(columns, list) or not columns:
        return None
    fields = [{"name": str(c["name"]), "type": str(c.get("type"))}
              for c in columns if isinstance(c, Mapping) and "name" in c]
    return _facet("SchemaDatasetFacet", "1-2-0", fields=fields)


def _dataset(n: Node, role: str, direction: str, stored: _Stored) -> dict[str, Any]:
    version = stored.versions.get(n.id)
    facets: dict[str, Any] = {
        "version": _facet("DatasetVersionDatasetFacet", "1-0-1", datasetVersion=str(n.version)),
        "lineal": _lineal_facet("LinealDatasetFacet", id=n.id, kind=n.kind, digest=n.digest,
                                version=n.version, ref=n.ref, tainted=n.tainted,
                                uri=version.uri if version else None,
                                size=version.size if version else None),
    }
    schema = _schema_facet(version)
    if schema is not None:
        facets["schema"] = schema
    edge = "inputFacets" if direction == "input" else "outputFacets"
    return {"namespace": _namespace(n.project), "name": n.name, "facets": facets,
            edge: {"lineal": _lineal_facet("LinealEdgeFacet", role=role)}}


def _artifact_ref(n: Node) -> dict[str, Any]:
    return {"project": n.project, "name": n.name, "version": n.version, "digest": n.digest,
            "kind": n.kind}


def _source_code_location(code: ArtifactVersion | None) -> dict[str, Any] | None:
    git = (code.metadata or {}).get("git") if code is not None else None
    if not isinstance(git, Mapping) or not git.get("remote_url") or not git.get("commit"):
        return None
    entry = (code.metadata or {}).get("entry_point")  # type: ignore[union-attr]
    path = entry.get("path") if isinstance(entry, Mapping) else None
    return _facet("SourceCodeLocationJobFacet", "1-1-0", type="git", url=git["remote_url"],
                  repoUrl=git["remote_url"], version=git["commit"],
                  **({"branch": git["branch"]} if git.get("branch") else {}),
                  **({"path": path} if path else {}))


def _environment_facet(n: Node, env: ArtifactVersion | None) -> dict[str, Any]:
    body: Mapping[str, Any] = env.metadata if env is not None else {}
    python, system = body.get("python"), body.get("os")
    if not isinstance(python, Mapping):
        python = {}
    if not isinstance(system, Mapping):
        system = {}
    packages = body.get("packages")
    return _lineal_facet(
        "LinealEnvironmentRunFacet", **_artifact_ref(n),
        python=python.get("version"), implementation=python.get("implementation"),
        os=system.get("system") or system.get("name"), release=system.get("release"),
        machine=system.get("machine"),
        packages=len(packages) if isinstance(packages, (list, Mapping)) else None,
    )


def _run_facets(n: Node, captured: Mapping[str, Node], stored: _Stored) -> dict[str, Any]:
    facets: dict[str, Any] = {
        "nominalTime": _facet("NominalTimeRunFacet", "1-0-1", nominalStartTime=_iso(n),
                              **({"nominalEndTime": n.detail} if n.detail else {})),
    }
    run = stored.runs.get(n.id)
    parent = stored.runs.get(run.parent_id) if run is not None and run.parent_id else None
    if parent is not None:
        facets["parent"] = _facet(
            "ParentRunFacet", "1-2-0", run={"runId": run_uuid(parent.id)},
            job={"namespace": _namespace(parent.project), "name": parent.name})
    if run is not None and run.error is not None and n.status == "failed":
        facets["errorMessage"] = _facet(
            "ErrorMessageRunFacet", "1-0-1", message=f"{run.error.type}: {run.error.message}",
            programmingLanguage="PYTHON",
            **({"stackTrace": run.error.traceback} if run.error.traceback else {}))
    code = captured.get("code")
    facets["lineal"] = _lineal_facet(
        "LinealRunFacet", id=n.id, project=n.project, kind=n.kind, status=n.status,
        parent=run.parent_id if run is not None else None,
        code=_artifact_ref(code) if code is not None else None)
    env = captured.get("environment")
    if env is not None:
        facets["linealEnvironment"] = _environment_facet(env, stored.versions.get(env.id))
    return facets


def _iso(n: Node) -> str | None:
    return n.time.isoformat() if n.time else None


def _edges(graph: Graph) -> tuple[dict[str, dict[tuple[str, str], Node]], dict[str, dict[tuple[str, str], Node]]]:
    """Per run, its inputs and outputs keyed by (version id, role): an edge the walk reached
    twice (from both sides of a ``--both`` walk) is one dataset, not two."""
    by_id = {n.id: n for n in graph.nodes}
    inputs: dict[str, dict[tuple[str, str], Node]] = {}
    outputs: dict[str, dict[tuple[str, str], Node]] = {}
    for e in graph.edges:
        source, target = by_id.get(e.source), by_id.get(e.target)
        if source is None or target is None:
            continue
        role = e.role or e.type
        if e.type == "input" and source.type is NodeType.ARTIFACT and target.type is NodeType.RUN:
            inputs.setdefault(target.id, {})[(source.id, role)] = source
        elif e.type == "output" and target.type is NodeType.ARTIFACT and source.type is NodeType.RUN:
            outputs.setdefault(source.id, {})[(target.id, role)] = target
    return inputs, outputs


def _sorted(items: Iterable[tuple[tuple[str, str], Node]]) -> list[tuple[str, Node]]:
    return [(role, n) for (_, role), n in sorted(items, key=lambda item: item[0])]


def openlineage_events(graph: Graph, store: Store | None = None) -> list[dict[str, Any]]:
    """OpenLineage RunEvents for the runs of ``graph``, in time order (see the module docs).
    ``store``: where to read parents, errors, schemas, code and environment from."""
    stored = _Stored(graph, store)
    inputs, outputs = _edges(graph)
    events = []
    for n in graph.nodes:
        if n.type is not NodeType.RUN:
            continue
        captured: dict[str, Node] = {}
        datasets_in = []
        for role, a in _sorted(inputs.get(n.id, {}).items()):
            if a.kind in _CAPTURED and role == a.kind:
                captured[a.kind] = a
            else:
                datasets_in.append(_dataset(a, role, "input", stored))
        datasets_out = [_dataset(a, role, "output", stored)
                        for role, a in _sorted(outputs.get(n.id, {}).items())]
        job_facets: dict[str, Any] = {
            "jobType": _facet("JobTypeJobFacet", "2-0-3", processingType="BATCH",
                              integration="LINEAL", jobType=n.kind),
        }
        code = captured.get("code")
        location = _source_code_location(stored.versions.get(code.id) if code else None)
        if location is not None:
            job_facets["sourceCodeLocation"] = location
        base = {
            "run": {"runId": run_uuid(n.id), "facets": _run_facets(n, captured, stored)},
            "job": {"namespace": _namespace(n.project), "name": n.name, "facets": job_facets},
            "producer": _producer(),
            "schemaURL": OPENLINEAGE_SCHEMA,
        }
        events.append({"eventType": "START", "eventTime": _iso(n), **base,
                       "inputs": datasets_in, "outputs": []})
        end = _END_EVENT.get(n.status or "")
        if end is not None:
            events.append({"eventType": end, "eventTime": n.detail or _iso(n), **base,
                           "inputs": datasets_in, "outputs": datasets_out})
        elif datasets_out:
            events.append({"eventType": "RUNNING", "eventTime": _iso(n), **base,
                           "inputs": datasets_in, "outputs": datasets_out})
    events.sort(key=lambda event: (event["eventTime"] or "", event["eventType"] != "START"))
    return events
