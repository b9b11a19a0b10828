"""``log_artifact(..., role=...)`` records one output edge carrying that role. It used to record
two (``output`` and the role), so every export and edge listing showed the artifact twice."""

from __future__ import annotations

import json
from pathlib import Path

import lineal
from lineal import lineage
from lineal.entities import EdgeDirection
from lineal.lineage import export_graph
from lineal.store import Store


def test_a_role_gives_one_output_edge_that_walks_and_exports_treat_as_output(
    store: Store, tmp_path: Path
) -> None:
    data = tmp_path / "raw.csv"
    data.write_text("a\n1\n")
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"weights")
    with lineal.run("ingest", store=store, capture=False) as ingest:
        raw = ingest.log_artifact(data, name="raw")
    with lineal.run("train", store=store, capture=False) as train:
        train.use_version(raw)
        model = train.log_artifact(weights, name="model", kind="model", role="weights")

    edges = [e for e in store.metadata.list_edges(run_id=train.id)
             if e.direction is EdgeDirection.OUTPUT]
    assert [(e.artifact_id, e.role) for e in edges] == [(model.id, "weights")]
    plain = store.metadata.list_edges(run_id=ingest.id)
    assert [(e.direction, e.role) for e in plain] == [(EdgeDirection.OUTPUT, "output")]

    # Walks still see the model downstream of the data, through the run that produced it.
    down = {n.name for n in lineage.downstream("raw@v1", store=store).nodes}
    assert "model" in down
    up = {n.name for n in lineage.upstream("model@v1", store=store).nodes}
    assert {"train", "raw"} <= up

    graph = lineage.subgraph(f"run:{train.id}", store=store)
    outputs = [e for e in graph.edges if e.type == "output" and e.source == train.id]
    assert len(outputs) == 1 and outputs[0].role == "weights"
    body = json.loads(export_graph(graph, "json"))
    assert [e["role"] for e in body["edges"]
            if e["type"] == "output" and e["source"] == train.id] == ["weights"]
    assert export_graph(graph, "dot").count("weights") == 1

    # Logging the same bytes again from another run gives that run one edge too.
    with lineal.run("train-again", store=store, capture=False) as again:
        same = again.log_artifact(weights, name="model", kind="model", role="weights")
    assert same.id == model.id
    assert [(e.direction, e.role) for e in store.metadata.list_edges(run_id=again.id)] == [
        (EdgeDirection.OUTPUT, "weights")
    ]


def test_a_bad_role_is_refused_before_anything_is_stored(store: Store, tmp_path: Path) -> None:
    file = tmp_path / "x.bin"
    file.write_bytes(b"x")
    with lineal.run("r", store=store, capture=False) as run:
        try:
            run.log_artifact(file, name="x", role="bad role")
        except lineal.errors.InvalidArgument as error:
            assert "invalid role" in str(error)
        else:
            raise AssertionError("a role with a space was accepted")
    assert lineal.list_artifacts(name="x", store=store) == []
    assert list(store.blobs.iter_digests()) == []
