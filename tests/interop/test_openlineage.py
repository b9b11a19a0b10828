"""OpenLineage in and out, with the real ``openlineage-python`` client.

Events are made from the client's own objects (RunEvent, Job, Run, datasets, facets) and sent
through its FileTransport (what the Airflow, Spark and dbt integrations use underneath, one JSON
event per line) or through an in-memory Transport subclass; lineal ingests what the client
wrote. Then: one run per runId, versions by facets, edges, a pipeline upstream of a lineal
training run in ``lineage`` and in the impact of ``taint``, malformed events, idempotency,
``lineal import FILE`` for the three formats, and lineal's export read back into a fresh store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.facet_v2 import (
    dataset_version_dataset,
    datasource_dataset,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
    schema_dataset,
    sql_job,
)
from openlineage.client.serde import Serde
from openlineage.client.transport import Transport
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.uuid import generate_new_uuid

import lineal
from lineage.conftest import assert_one_line_error, cli, ok
from lineage.test_taint_impact import build_pipeline
from lineal import lineage
from lineal.api import get_run, list_runs
from lineal.entities import EdgeDirection, RunStatus, Storage
from lineal.errors import InvalidArgument
from lineal.interop.openlineage import (
    dataset_ref,
    ingest_event,
    ingest_events,
    lineal_name,
    project_of,
    run_id_of,
)
from lineal.lineage.export_openlineage import run_uuid
from lineal.resolve import resolve_artifact
from lineal.store import Store, open_store, set_default_store
from lineal.store.base import ArtifactFilter, NewArtifactVersion

from .ol_spec import check_event

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"


class MemoryTransport(Transport):
    """Keeps what the client emits, as the JSON the HTTP transport would send."""

    kind = "memory"

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, event: Any) -> None:  # noqa: ANN401 - the client's Event union
        self.events.append(json.loads(Serde.to_json(event)))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(str(tmp_path / "store"), artifacts=str(tmp_path / "blobs"))
    set_default_store(s)
    yield s
    s.close()


def _at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def _schema(*columns: str) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(fields=[
        schema_dataset.SchemaDatasetFacetFields(name=c, type="INTEGER") for c in columns])


def _job(name: str, job_type: str = "TASK") -> Job:
    return Job(namespace="pipeline", name=name, facets={
        "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="AIRFLOW",
                                                jobType=job_type),
        "sql": sql_job.SQLJobFacet(query="INSERT INTO features SELECT a, b FROM raw"),
    })


def _dataset(cls: type, name: str, *columns: str, **facets: Any) -> Any:
    return cls(namespace="warehouse", name=name, facets={"schema": _schema(*columns), **facets})


def make_features_run(client: OpenLineageClient, *, columns: tuple[str, ...] = ("a", "b"),
                      minute: float = 0, run_id: str | None = None,
                      parent: parent_run.ParentRunFacet | None = None) -> str:
    """raw -> make_features -> features, as an Airflow task reports it: START, then
    COMPLETE with the output's statistics."""
    run_id = run_id or str(generate_new_uuid())
    facets = {"parent": parent} if parent else {}
    raw = _dataset(InputDataset, "raw", "a", "b", "label")
    features = _dataset(OutputDataset, "features", *columns)
    client.emit(RunEvent(eventType=RunState.START, eventTime=_at(minute),
                         run=Run(runId=run_id, facets=facets), job=_job("make_features"),
                         inputs=[raw], outputs=[features], producer=PRODUCER))
    features_done = _dataset(OutputDataset, "features", *columns)
    features_done.outputFacets = {"outputStatistics": output_statistics_output_dataset.
                                  OutputStatisticsOutputDatasetFacet(rowCount=10, size=400)}
    client.emit(RunEvent(eventType=RunState.COMPLETE, eventTime=_at(minute + 5),
                         run=Run(runId=run_id, facets=facets), job=_job("make_features"),
                         inputs=[raw], outputs=[features_done], producer=PRODUCER))
    return run_id


def file_client(path: Path) -> OpenLineageClient:
    return OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(path),
                                                                append=True)))


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def counts(store: Store) -> tuple[int, int, int]:
    runs = {r.id: r for r in list_runs(store=store, limit=1000)}
    versions = store.metadata.list_artifact_versions(ArtifactFilter())
    edges = store.metadata.edges_of(run_ids=list(runs))
    return len(runs), len(versions), len(edges)


# -- in ------------------------------------------------------------------------------------------
def test_client_events_become_one_run_with_versions_and_edges(
    backend_store: Store, tmp_path: Path
) -> None:
    log = tmp_path / "events.jsonl"
    run_uuid_ = make_features_run(file_client(log))
    events = read_lines(log)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    summary = ingest_events(backend_store, events)
    assert summary.events == 2 and summary.new_runs == 1 and summary.edges == 2
    (run_id,) = summary.runs
    assert run_id == run_id_of(run_uuid_)
    run = backend_store.metadata.get_run(run_id)
    assert (run.project, run.name, run.kind, run.status) == (
        "pipeline", "make_features", "task", RunStatus.FINISHED)
    assert run.started_at == T0 and run.ended_at == T0 + timedelta(minutes=5)
    assert run.tags["openlineage.runId"] == run_uuid_
    assert run.tags["openlineage.eventType"] == "COMPLETE"
    assert json.loads(run.tags["openlineage.job.sql"])["query"].startswith("INSERT INTO")
    stats = json.loads(run.tags["openlineage.output.warehouse/features"])
    assert stats["outputStatistics"]["rowCount"] == 10
    edges = backend_store.metadata.list_edges(run_id=run_id)
    by_direction = {e.direction: e for e in edges}
    assert len(edges) == 2 and set(by_direction) == {EdgeDirection.INPUT, EdgeDirection.OUTPUT}
    raw = backend_store.metadata.get_artifact_version(by_direction[EdgeDirection.INPUT].artifact_id)
    features = backend_store.metadata.get_artifact_version(
        by_direction[EdgeDirection.OUTPUT].artifact_id)
    assert (raw.project, raw.name, raw.version, raw.kind) == ("warehouse", "raw", 1, "dataset")
    assert raw.storage is Storage.REFERENCE and raw.uri == "warehouse/raw"
    assert features.producer_run_id == run_id
    kept = features.metadata["openlineage"]
    assert kept["namespace"] == "warehouse" and kept["name"] == "features"
    assert [f["name"] for f in kept["facets"]["schema"]["fields"]] == ["a", "b"]
    # Re-sent events change nothing: one run, the same versions, no new edge.
    before = counts(backend_store)
    again = ingest_events(backend_store, events)
    assert again.runs == summary.runs and again.versions == summary.versions
    assert again.new_runs == 0 and counts(backend_store) == before
    for event in events:  # one at a time, as the HTTP transport posts them
        ingest_event(backend_store, event)
    assert counts(backend_store) == before
    report = backend_store.metadata.verify_ledger()
    assert report.ok, report.problems[:5]


def test_events_in_any_order_and_one_per_call_end_in_one_run(store: Store) -> None:
    transport = MemoryTransport()
    client = OpenLineageClient(transport=transport)
    make_features_run(client)
    start, complete = transport.events
    ingest_event(store, complete)  # the end arrives first
    ingest_event(store, start)     # a late START does not reopen it
    (run,) = list_runs(store=store)
    assert run.status is RunStatus.FINISHED and run.started_at == T0
    assert run.ended_at == T0 + timedelta(minutes=5)
    running = {**start, "eventType": "RUNNING", "eventTime": _at(3)}
    ingest_event(store, running)
    assert get_run(run.id, store=store).status is RunStatus.FINISHED


def test_dataset_versions_follow_their_facets(store: Store) -> None:
    transport = MemoryTransport()
    client = OpenLineageClient(transport=transport)
    make_features_run(client, minute=0)
    make_features_run(client, minute=10)  # same schema: the same version
    make_features_run(client, minute=20, columns=("a", "b", "c"))  # a new column: a new version
    ingest_events(store, transport.events)
    versions = {(v.name, v.version) for v in
                store.metadata.list_artifact_versions(ArtifactFilter())}
    assert versions == {("raw", 1), ("features", 1), ("features", 2)}
    transport.events.clear()
    source = datasource_dataset.DatasourceDatasetFacet(name="pg", uri="postgres://db:5432")
    client.emit(RunEvent(eventType=RunState.COMPLETE, eventTime=_at(30),
                         run=Run(runId=str(generate_new_uuid())), job=_job("read_raw"),
                         inputs=[_dataset(InputDataset, "raw", "a", "b", "label",
                                          dataSource=source)], producer=PRODUCER))
    ingest_events(store, transport.events)
    assert resolve_artifact("warehouse/raw@latest", store=store).version == 2
    transport.events.clear()
    for minute in (40, 41):  # a version facet names the version: twice the same, one new version
        client.emit(RunEvent(eventType=RunState.COMPLETE, eventTime=_at(minute),
                             run=Run(runId=str(generate_new_uuid())), job=_job("read_raw"),
                             inputs=[_dataset(InputDataset, "raw", "a", "b", "label",
                                              dataSource=source, version=dataset_version_dataset.
                                              DatasetVersionDatasetFacet(datasetVersion="42"))],
                             producer=PRODUCER))
    ingest_events(store, transport.events)
    assert resolve_artifact("warehouse/raw@latest", store=store).version == 3


def test_parent_run_then_its_own_events(store: Store) -> None:
    transport = MemoryTransport()
    client = OpenLineageClient(transport=transport)
    dag_run = str(generate_new_uuid())
    parent = parent_run.ParentRunFacet(run=parent_run.Run(runId=dag_run),
                                       job=parent_run.Job(namespace="pipeline", name="daily"))
    task = make_features_run(client, parent=parent, minute=1)
    ingest_events(store, transport.events)
    child = store.metadata.get_run(run_id_of(task))
    assert child.parent_id == run_id_of(dag_run)
    placeholder = store.metadata.get_run(run_id_of(dag_run))
    assert (placeholder.name, placeholder.kind, placeholder.status) == ("daily", "job",
                                                                         RunStatus.RUNNING)
    assert "openlineage.eventType" not in placeholder.tags
    transport.events.clear()
    for state, minute in ((RunState.START, 0), (RunState.COMPLETE, 9)):
        client.emit(RunEvent(eventType=state, eventTime=_at(minute), run=Run(runId=dag_run),
                             job=_job("daily", "DAG"), producer=PRODUCER))
    ingest_events(store, transport.events)
    dag = store.metadata.get_run(run_id_of(dag_run))
    assert (dag.kind, dag.status, dag.started_at) == ("dag", RunStatus.FINISHED, T0)
    assert len(list_runs(store=store)) == 2


def test_a_failed_run_keeps_its_error(store: Store) -> None:
    transport = MemoryTransport()
    client = OpenLineageClient(transport=transport)
    run_id = str(generate_new_uuid())
    error = error_message_run.ErrorMessageRunFacet(
        message="org.apache.spark.sql.AnalysisException: Table or view not found: raw",
        programmingLanguage="JAVA", stackTrace="at org.apache.spark...")
    client.emit(RunEvent(eventType=RunState.FAIL, eventTime=_at(2),
                         run=Run(runId=run_id, facets={"errorMessage": error}),
                         job=_job("make_features"), producer=PRODUCER))
    ingest_events(store, transport.events)
    run = store.metadata.get_run(run_id_of(run_id))
    assert run.status is RunStatus.FAILED and run.error is not None
    assert run.error.type == "org.apache.spark.sql.AnalysisException"
    assert run.error.message == "Table or view not found: raw"
    assert lineage.why_failed(f"run:{run.id}", store=store) is not None


def test_pipeline_upstream_of_training_in_lineage_and_taint(store: Store, tmp_path: Path) -> None:
    """An Airflow task writes raw -> features; a lineal run trains on that features version."""
    log = tmp_path / "events.jsonl"
    make_features_run(file_client(log))
    ingest_events(store, read_lines(log))
    features_ref = dataset_ref("warehouse", "features")
    assert features_ref == "warehouse/features"
    model_file = tmp_path / "model.bin"
    model_file.write_text("weights")
    with lineal.run("train", kind="train", capture=False, store=store) as run:
        run.use_version(resolve_artifact(f"{features_ref}@v1", store=store), role="train_data")
        model = run.log_artifact(model_file, name="churn-model", kind="model")
    up = lineage.upstream(model.ref, store=store)
    names = [n.name for n in up.nodes]
    assert names == ["train", "features", "make_features", "raw"]
    table = ok("lineage", model.ref, uri=str(store.location), artifacts=str(tmp_path / "blobs"))
    assert "warehouse/raw@v1" in table.out and "make_features" in table.out
    args = {"uri": str(store.location), "artifacts": str(tmp_path / "blobs")}
    text = ok("taint", "warehouse/raw@v1", "--reason", "labels leaked", **args).out
    assert "TAINTED warehouse/raw@v1: labels leaked" in text and "through 2 run(s)" in text
    reached = ok("impact", "warehouse/raw@v1", "--json", **args).json()["artifacts"]
    assert [item["ref"] for item in reached] == ["warehouse/features@v1", model.ref]
    exported = json.loads(lineage.export_graph(lineage.subgraph(model.ref, "up", store=store),
                                               "openlineage", store))
    for event in exported:
        check_event(event)
    train_end = next(e for e in exported if e["job"]["name"] == "train" and e["outputs"])
    (features_in,) = train_end["inputs"]
    assert (features_in["namespace"], features_in["name"]) == ("lineal://warehouse", "features")
    assert [f["name"] for f in features_in["facets"]["schema"]["fields"]] == ["a", "b"]
    report = lineage.impact("warehouse/raw@v1", store=store)
    assert [i.node.ref for i in report.artifacts] == ["warehouse/features@v1", model.ref]
    assert report.artifacts[1].path.text().startswith(
        "warehouse/raw@v1 -[input]-> run make_features")


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventType": "COMPLETE", "eventTime": _at(0), "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(generate_new_uuid())}, "job": {"namespace": "p", "name": "j"},
        "inputs": [{"namespace": "warehouse", "name": "raw"}], "outputs": [],
    }
    for path, value in changes.items():
        target = event
        *parents, last = path.split("__")
        for key in parents:
            target = target[key] if not key.isdigit() else target[int(key)]  # type: ignore[index]
        if value is _DROP:
            del target[last]
        else:
            target[last] = value
    return event


_DROP = object()


@pytest.mark.parametrize(("changes", "message"), [
    ({"run__runId": "run-42"}, "event 2: run.runId 'run-42' is not a UUID"),
    ({"run": _DROP}, "event 2: run is missing"),
    ({"eventType": "DONE"}, "event 2: eventType 'DONE' is not one of START, RUNNING"),
    ({"eventTime": _DROP}, "event 2: eventTime is missing"),
    ({"eventTime": "yesterday"}, "event 2: eventTime 'yesterday' is not an ISO-8601 time"),
    ({"eventTime": "2026-05-01T08:00:00"}, "event 2: eventTime '2026-05-01T08:00:00' has no time zone"),
    ({"job__namespace": ""}, "event 2: job.namespace must be non-empty text"),
    ({"job__name": _DROP}, "event 2: job.name is missing"),
    ({"producer": _DROP}, "event 2: producer is missing"),
    ({"inputs": {"name": "raw"}}, "event 2: inputs must be a JSON array"),
    ({"inputs__0__name": 7}, "event 2: inputs[0].name must be non-empty text"),
    ({"inputs__0__facets": {"schema": "a,b"}}, "event 2: inputs[0].facets.schema must be a JSON object"),
    ({"run__facets": {"parent": {"run": {"runId": "x"}, "job": {"namespace": "p", "name": "d"}}}},
     "event 2: run.facets.parent.run.runId 'x' is not a UUID"),
])
def test_a_bad_event_names_its_field_and_nothing_is_written(
    store: Store, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        ingest_events(store, [_event(), _event(**changes)])
    assert message in caught.value.message
    assert list_runs(store=store) == []
    assert store.metadata.list_artifact_versions(ArtifactFilter()) == []


def test_a_dataset_event_is_refused_by_name(store: Store) -> None:
    event = {"eventTime": _at(0), "producer": PRODUCER, "schemaURL": "x",
             "dataset": {"namespace": "warehouse", "name": "raw"}}
    with pytest.raises(InvalidArgument, match="event 1: run is missing: a job or dataset event"):
        ingest_event(store, event)


def test_a_run_id_names_one_job(store: Store) -> None:
    first = _event()
    ingest_event(store, first)
    other = _event(run__runId=first["run"]["runId"], job__name="another")
    with pytest.raises(InvalidArgument, match="is stored as p/j, not p/another"):
        ingest_event(store, other)


def test_a_huge_facet_is_kept_as_its_digest(store: Store) -> None:
    event = _event(run__facets={"spark_logicalPlan": {
        "_producer": PRODUCER, "_schemaURL": "https://example.com/plan.json",
        "plan": "x" * 70_000}})
    summary = ingest_event(store, event)
    assert summary.warnings and "run.facets.spark_logicalPlan" in summary.warnings[0]
    kept = json.loads(store.metadata.get_run(summary.runs[0]).tags[
        "openlineage.run.spark_logicalPlan"])
    assert kept["bytes"] > 70_000 and len(kept["sha256"]) == 64


def test_names_that_are_not_lineal_names() -> None:
    assert project_of("warehouse") == "warehouse" and project_of("lineal://churn") == "churn"
    assert lineal_name("/data/raw.csv").startswith("data-raw.csv-")
    assert lineal_name("/data/raw.csv") != lineal_name("data/raw.csv")
    assert dataset_ref("s3://bucket", "a/b").startswith("s3-bucket-")
    long = lineal_name("x" * 300)
    assert len(long) == 128 and long.startswith("x" * 100)
    uuid_text = "0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5b"
    assert len(run_id_of(uuid_text)) == 26 and run_id_of(uuid_text.upper()) == run_id_of(uuid_text)


# -- lineal import FILE --------------------------------------------------------------------------
def test_import_reads_the_openlineage_file_transport(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "ol.jsonl"
    make_features_run(file_client(log))
    args = {"uri": str(store.location), "artifacts": str(tmp_path / "blobs")}
    out = ok("import", str(log), **args).out
    assert "from ol.jsonl (openlineage-jsonl)" in out and out.startswith("imported 1 runs")
    assert ok("import", str(log), "--json", **args).json()["runs"] == 1
    assert len(list_runs(store=store)) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text(log.read_text().replace('"runId": "', '"runId": "not-a-uuid-', 1))
    assert_one_line_error(cli("import", str(bad), **args), 2, "bad.jsonl: event 1: run.runId")


def _captured_pipeline(store: Store, tmp_path: Path) -> str:
    """build_pipeline, plus a failed child run of `train` with captured code (a git remote)
    and environment (recorded as capture records them). Returns the failed run's id."""
    pipeline = build_pipeline(store, tmp_path / "work")
    train = next(r for r in list_runs(store=store) if r.name == "train")
    with pytest.raises(ValueError), lineal.run("evaluate", kind="evaluate", parent=train.id,
                                               capture=False, store=store) as run:
        run.use_version(store.metadata.get_artifact_version(pipeline.model), role="model")
        actor = run.actor
        for name, body in (("code", {"git": {"commit": "ab" * 20, "branch": "main",
                                             "remote_url": "https://example.com/churn.git"},
                                     "entry_point": {"kind": "script", "path": "eval.py"}}),
                           ("environment", {"python": {"version": "3.11.7"},
                                            "os": {"system": "Linux"}, "packages": {"a": "1"}})):
            blob = store.blobs.put_bytes(json.dumps(body).encode())
            version, _ = store.metadata.create_artifact_version(NewArtifactVersion(
                project="default", name=name, kind=name, digest=blob.digest, uri=blob.uri,
                size=blob.size, storage=Storage.STORED, metadata=body), actor)
            store.metadata.add_edge(run.id, version.id, EdgeDirection.INPUT, name, actor)
        raise ValueError("AUC below the bar")
    return run.id


def _shape(graph: lineage.Graph) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """Nodes and edges as lineal would print them, ids aside for artifact versions (a fresh
    store numbers its own) but kept for runs (the export carries them)."""
    label = {n.id: (n.ref if n.type.value != "run" else n.id) for n in graph.nodes}
    nodes = {(n.type.value, n.project, n.name, n.kind, n.version, n.digest, n.status,
              n.id if n.type.value == "run" else None, n.time if n.type.value == "run" else None,
              n.detail if n.type.value == "run" else None)
             for n in graph.nodes if n.type.value in ("run", "artifact")}
    edges = {(label[e.source], label[e.target], e.type, e.role) for e in graph.edges
             if e.type in ("input", "output")}
    return nodes, edges


def test_export_then_import_gives_back_the_same_graph(tmp_path: Path, store: Store) -> None:
    failed = _captured_pipeline(store, tmp_path)
    start = failed  # upstream of the failed run: its code, environment and the whole pipeline
    graph = lineage.subgraph(start, "up", store=store)
    text = lineage.export_graph(graph, "openlineage", store)
    events = json.loads(text)
    for event in events:
        check_event(event)
    evaluate = [e for e in events if e["job"]["name"] == "evaluate"]
    assert [e["eventType"] for e in evaluate] == ["START", "FAIL"]
    assert [d["name"] for d in evaluate[0]["inputs"]] == ["churn-model"]  # no code, no environment
    facets = evaluate[1]["run"]["facets"]
    assert facets["errorMessage"]["message"] == "ValueError: AUC below the bar"
    train = next(n for n in graph.nodes if n.name == "train")
    assert facets["parent"]["run"]["runId"] == run_uuid(train.id)
    assert facets["lineal"]["code"]["name"] == "code"
    assert facets["linealEnvironment"]["python"] == "3.11.7"
    location = evaluate[0]["job"]["facets"]["sourceCodeLocation"]
    assert (location["url"], location["version"], location["path"]) == (
        "https://example.com/churn.git", "ab" * 20, "eval.py")
    outputs = [d["name"] for e in events for d in e["outputs"]]
    assert len(outputs) == len(set(outputs))  # each output once, in its run's end event
    file = tmp_path / "export.json"
    file.write_text(text)
    fresh = open_store(str(tmp_path / "fresh"), artifacts=str(tmp_path / "fresh-blobs"))
    args = {"uri": str(fresh.location), "artifacts": str(tmp_path / "fresh-blobs")}
    assert "(openlineage-json)" in ok("import", str(file), **args).out
    ok("import", str(file), **args)  # twice: nothing new
    copy = lineage.subgraph(start, "up", store=fresh)
    assert _shape(copy) == _shape(graph)
    copied = fresh.metadata.get_run(failed)
    assert copied.status is RunStatus.FAILED and copied.parent_id == train.id
    assert copied.error is not None and copied.error.message == "AUC below the bar"
    fresh.close()


def test_graph_json_export_imports_too(tmp_path: Path, store: Store) -> None:
    _captured_pipeline(store, tmp_path)
    start = "churn-features@v1"
    graph = lineage.subgraph(start, "both", store=store)
    file = tmp_path / "graph.json"
    file.write_text(lineage.export_graph(graph, "json"))
    fresh = open_store(str(tmp_path / "fresh"), artifacts=str(tmp_path / "fresh-blobs"))
    args = {"uri": str(fresh.location), "artifacts": str(tmp_path / "fresh-blobs")}
    out = ok("import", str(file), **args).out
    assert "(lineal-graph-json)" in out
    assert "not imported: 3 deployed edge(s)" in out and "1 model_version(s)" in out
    assert _shape(lineage.subgraph(start, "both", store=fresh)) == _shape(graph)
    fresh.close()


def test_the_published_facet_schemas_are_where_their_urls_point() -> None:
    from jsonschema.exceptions import ValidationError

    from lineal.lineage.export_openlineage import FACET_SCHEMA_BASE, LINEAL_FACETS, facet_schema_url

    from .ol_spec import DOCS, lineal_schema

    assert sorted(p.name for p in DOCS.glob("*.json")) == sorted(f"{n}.json" for n in LINEAL_FACETS)
    for name in LINEAL_FACETS:
        schema = lineal_schema(name)
        assert schema["$id"] == f"{FACET_SCHEMA_BASE}{name}.json"
        assert facet_schema_url(name) == f"{schema['$id']}#/$defs/{name}"
        assert name in schema["$defs"]
    run_facet = {"_producer": "urn:lineal:1", "_schemaURL": facet_schema_url("LinealRunFacet"),
                 "id": "01J00000000000000000000001", "project": "default", "kind": "train",
                 "status": "finished"}
    check_event(_exported_with(run_facet))
    with pytest.raises(ValidationError):
        check_event(_exported_with({**run_facet, "status": "done"}))
    with pytest.raises(ValidationError):
        check_event(_exported_with({k: v for k, v in run_facet.items() if k != "id"}))


def _exported_with(run_facet: dict[str, Any]) -> dict[str, Any]:
    event = _event()
    event["run"]["facets"] = {"lineal": run_facet}
    return event


def test_a_huge_stack_trace_is_cut_and_said_so(store: Store) -> None:
    error = {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/"
             "ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
             "message": "boom", "programmingLanguage": "PYTHON", "stackTrace": "frame\n" * 20_000}
    summary = ingest_event(store, _event(eventType="FAIL", run__facets={"errorMessage": error}))
    assert set(summary.warnings) == {
        "event 1: run.facets.errorMessage.stackTrace: 120,000 bytes, kept to the first 32,767",
        "event 1: run.facets.errorMessage: 140,258 bytes of JSON, kept as its size and sha256"}
    run = store.metadata.get_run(summary.runs[0])
    assert run.error is not None and (run.error.type, run.error.message) == ("PYTHON error", "boom")
    assert run.error.traceback.endswith("more bytes not kept]")
    assert len(run.error.traceback) < 33_000


def test_import_file_stays_the_function_once_its_module_is_loaded() -> None:
    from lineal.lineage import file_import

    assert lineage.import_file is file_import.import_file  # a module of the same name would shadow it
