"""Taint and impact over a real pipeline: runs recorded with lineal.run, a registered model and
deployments (live, replaced) recorded with lineal.registry / lineal.deployments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import lineal
from lineal import deployments, lineage, registry
from lineal.errors import InvalidArgument, NotFound
from lineal.lineage import NodeType
from lineal.store import Store


@dataclass
class Pipeline:
    raw: str
    features: str
    model: str
    other: str
    prod: str
    staging_old: str
    staging_new: str


def build_pipeline(store: Store, folder: Path) -> Pipeline:
    """ingest -> churn-raw -> prepare -> churn-features -> train -> churn-model, registered as
    churn@v1 and deployed to prod (live) and twice to staging (the first one replaced)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "raw.csv").write_text("a,b\n1,2\n3,4\n")
    (folder / "features.csv").write_text("a,b,c\n1,2,3\n")
    (folder / "model.bin").write_text("weights")
    (folder / "other.csv").write_text("unrelated\n")
    with lineal.run("ingest", kind="ingest", capture=False, store=store) as run:
        raw = run.log_artifact(folder / "raw.csv", name="churn-raw", kind="dataset")
        other = run.log_artifact(folder / "other.csv", name="other-data", kind="dataset")
    with lineal.run("prepare", kind="preprocess", capture=False, store=store) as run:
        run.use_version(raw, role="raw_data")
        features = run.log_artifact(folder / "features.csv", name="churn-features", kind="dataset")
    with lineal.run("train", kind="train", capture=False, store=store) as run:
        run.use_version(features, role="train_data")
        model = run.log_artifact(folder / "model.bin", name="churn-model", kind="model")
    registry.register_model("churn", model.ref, store=store)
    prod = deployments.record_deployment("churn@v1", name="churn-api", environment="prod",
                                         capture=False, store=store)
    old = deployments.record_deployment("churn@v1", name="churn-api", environment="staging",
                                        capture=False, store=store)
    new = deployments.record_deployment("churn@v1", name="churn-api", environment="staging",
                                        capture=False, store=store)
    return Pipeline(raw.id, features.id, model.id, other.id, prod.id, old.id, new.id)


@pytest.fixture
def pipeline(backend_store: Store, tmp_path: Path) -> Pipeline:
    return build_pipeline(backend_store, tmp_path / "work")


def test_taint_reports_artifacts_model_versions_and_live_deployments(
    backend_store: Store, pipeline: Pipeline, ledger_ok: Callable[[Store], None]
) -> None:
    report = lineage.taint("churn-raw@v1", "labels leaked into a feature")
    assert report.taint is not None and report.taint.reason == "labels leaked into a feature"
    assert report.start.tainted
    assert [i.node.id for i in report.artifacts] == [pipeline.features, pipeline.model]
    assert report.artifacts[1].path.text().startswith("default/churn-raw@v1 -[raw_data]-> run prepare")
    assert report.artifacts[1].path.nodes[-1].id == pipeline.model
    (version,) = report.model_versions
    assert version.node.type is NodeType.MODEL_VERSION and version.node.label == "registered default/churn@v1"
    assert [n.name for n in version.path.nodes] == [
        "churn-raw", "prepare", "churn-features", "train", "churn-model", "churn"]
    assert version.path.roles[-1] == "registered"
    deployed = {i.node.id: i for i in report.deployments}
    assert set(deployed) == {pipeline.prod, pipeline.staging_old, pipeline.staging_new}
    assert {i.node.id for i in report.live_deployments} == {pipeline.prod, pipeline.staging_new}
    assert "live" in deployed[pipeline.prod].flags and "live" not in deployed[pipeline.staging_old].flags
    assert deployed[pipeline.staging_old].node.status == "replaced"
    # live first; every deployment is reached through its deploy run
    assert [i.node.is_live for i in report.deployments] == [True, True, False]
    prod_path = deployed[pipeline.prod].path
    assert prod_path.nodes[-2].type is NodeType.RUN and prod_path.nodes[-2].kind == "deploy"
    assert prod_path.nodes[-3].id == pipeline.model and prod_path.roles[-1] == "deployed"
    assert report.runs == 5  # prepare, train, three deploy runs
    assert pipeline.other not in {i.node.id for i in report.items}
    assert [t.ref for t in lineage.taints()] == ["default/churn-raw@v1"]
    ledger_ok(backend_store)
    # the taint shows wherever the node appears
    assert lineage.upstream("churn-model@v1", name="churn-raw").nodes[0].tainted
    lineage.untaint("churn-raw@v1")
    assert lineage.taints() == []
    with pytest.raises(NotFound):
        lineage.untaint("churn-raw@v1")
    ledger_ok(backend_store)


def test_impact_marks_nothing_and_answers_from_registry_refs(
    backend_store: Store, pipeline: Pipeline
) -> None:
    before = backend_store.metadata.ledger_entries(limit=1_000_000)[-1].seq
    report = lineage.impact("churn-features@v1")
    assert report.taint is None and len(report.live_deployments) == 2
    assert backend_store.metadata.ledger_entries(limit=1_000_000)[-1].seq == before
    # a registered model version reaches its deployment records
    by_version = lineage.impact("churn@v1")
    assert by_version.start.type is NodeType.MODEL_VERSION
    assert {i.node.id for i in by_version.deployments} == {
        pipeline.prod, pipeline.staging_old, pipeline.staging_new}
    assert by_version.artifacts == [] and by_version.model_versions == []
    # a depth limit that cuts the report says so
    shallow = lineage.impact("churn-raw@v1", depth=3)
    assert shallow.depth_limited and shallow.deployments == []


def test_upstream_of_deployments_and_model_versions(backend_store: Store, pipeline: Pipeline) -> None:
    up = lineage.upstream(f"deployment:{pipeline.prod}")
    assert [(n.depth, n.type.value, n.name) for n in up.nodes[:3]] == [
        (1, "run", "deploy-churn-api"), (2, "artifact", "churn-model"), (3, "run", "train")]
    assert [(n.depth, n.name) for n in up.nodes[-2:]] == [(6, "churn-raw"), (7, "ingest")]
    assert lineage.upstream(pipeline.prod, depth=1).depth_limited
    assert lineage.downstream(f"deployment:{pipeline.prod}").nodes == []
    by_model = lineage.upstream("churn@v1")
    assert [(n.depth, n.name) for n in by_model.nodes[:2]] == [(1, "churn-model"), (2, "train")]
    graph = lineage.subgraph(f"deployment:{pipeline.prod}", direction="up")
    assert {(e.type) for e in graph.edges} >= {"deployed", "input", "output"}
    down = lineage.subgraph("churn-model@v1", direction="down")
    assert {e.type for e in down.edges} == {"registered", "input", "deployed"}


def test_taint_rejects_what_is_not_an_artifact(backend_store: Store, pipeline: Pipeline) -> None:
    before = backend_store.metadata.ledger_entries(limit=1_000_000)[-1].seq
    with pytest.raises(InvalidArgument):
        lineage.taint(f"deployment:{pipeline.prod}", "bad")
    with pytest.raises(InvalidArgument):
        lineage.taint("churn-raw@v1", "   ")
    assert backend_store.metadata.ledger_entries(limit=1_000_000)[-1].seq == before
    # a registry reference taints its model artifact
    report = lineage.taint("churn@v1", "trained with a bug")
    assert report.start.id == pipeline.model and len(report.model_versions) == 1
    again = lineage.taint("churn-model@v1", "trained with a bug, confirmed")
    assert again.taint is not None and again.taint.reason == "trained with a bug, confirmed"
    assert len(lineage.taints()) == 1
