"""The lineage commands through the real entry point (``lineal.cli.main``), on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lineal.cli import COMMANDS
from lineal.store import Store

from .conftest import assert_one_line_error, cli, digest, ok
from .test_taint_impact import Pipeline, build_pipeline


@pytest.fixture
def world(backend_store: Store, tmp_path: Path) -> tuple[Store, Pipeline, str, str]:
    pipeline = build_pipeline(backend_store, tmp_path / "work")
    uri = getattr(backend_store.metadata, "url", None) or backend_store.location
    return backend_store, pipeline, str(uri), str(tmp_path / "blobs")


def run(world: tuple[Store, Pipeline, str, str], *args: str, good: bool = True):  # noqa: ANN201
    _store, _pipeline, uri, blobs = world
    return (ok if good else cli)(*args, uri=uri, artifacts=blobs)


def test_commands_registered_with_help() -> None:
    for name in ("lineage", "taint", "untaint", "taints", "impact", "import"):
        # `lineal import` is the group that hands FILE to lineal.cli.lineage:import_command.
        assert COMMANDS[name].startswith("lineal.cli.lineage:") or name == "import"
        result = ok(name, "--help")
        assert "Usage:" in result.out and len(result.out.splitlines()) > 4


def test_lineage_table_json_and_pages(world: tuple[Store, Pipeline, str, str]) -> None:
    table = run(world, "lineage", "churn-model@v1").out
    assert "upstream of default/churn-model@v1" in table and "churn-raw@v1" in table
    assert "5 of 5 node(s)" in table
    page = run(world, "lineage", "churn-model@v1", "--up", "--limit", "2", "--json").json()
    assert page["truncated"] and page["total"] == 5 and len(page["nodes"]) == 2
    rest = run(world, "lineage", "churn-model@v1", "--limit", "10", "--cursor",
               page["next_cursor"], "--json").json()
    assert [n["id"] for n in page["nodes"] + rest["nodes"]] == [
        n["id"] for n in run(world, "lineage", "churn-model@v1", "--json").json()["nodes"]]
    down = run(world, "lineage", "churn-raw@v1", "--down", "--depth", "2").out
    assert "cut" in down and "the depth limit 2 cut the walk" in down
    kinds = run(world, "lineage", "churn-raw@v1", "--down", "--type", "deployment", "--json").json()
    assert len(kinds["nodes"]) == 3 and {n["type"] for n in kinds["nodes"]} == {"deployment"}
    named = run(world, "lineage", "churn-model@v1", "--name", "churn-*", "--kind", "dataset",
                "--json").json()
    assert [n["name"] for n in named["nodes"]] == ["churn-features", "churn-raw"]


@pytest.mark.parametrize("fmt", ["dot", "mermaid", "prov", "openlineage", "json"])
def test_lineage_graph_formats(world: tuple[Store, Pipeline, str, str], fmt: str) -> None:
    out = run(world, "lineage", "churn-features@v1", "--both", "--format", fmt).out
    if fmt == "dot":
        assert out.startswith("digraph lineage {") and out.rstrip().endswith("}")
    elif fmt == "mermaid":
        assert out.startswith("flowchart LR")
    else:
        data = json.loads(out)
        assert data if fmt != "json" else data["edges"]


def test_lineage_errors(world: tuple[Store, Pipeline, str, str]) -> None:
    assert_one_line_error(run(world, "lineage", "nothing@v1", good=False), 3, "nothing")
    assert_one_line_error(run(world, "lineage", "churn-raw@v1", "--both", good=False), 2,
                          "one way")
    assert_one_line_error(run(world, "lineage", "churn-raw@v1", "--format", "dot", "--kind", "x",
                              good=False), 2, "exports the whole subgraph")
    assert_one_line_error(run(world, "lineage", "churn-raw@v1", "--cursor", "x", good=False), 2,
                          "bad cursor")


def test_taint_impact_untaint(world: tuple[Store, Pipeline, str, str]) -> None:
    store, pipeline, _uri, _blobs = world
    impact = run(world, "impact", "churn-raw@v1").out
    assert "nothing marked" in impact and "2 LIVE deployment(s)" in impact
    assert ("default/churn-raw@v1 → prepare → default/churn-features@v1 → train → "
            "default/churn-model@v1") in impact  # references name their project, default/ too
    assert run(world, "taints").out.strip() == "no tainted artifact versions"
    tainted = run(world, "taint", "churn-raw@v1", "--reason", "PII in column email").out
    assert "TAINTED default/churn-raw@v1: PII in column email" in tainted
    assert "LIVE deployment churn-api (prod, live)" in tainted
    assert "Deployments (3)" in tainted and "Registered model versions (1)" in tainted
    assert "3 deployment(s) (2 live) through 5 run(s)" in tainted
    listed = run(world, "taints", "--json").json()
    assert [(t["ref"], t["reason"]) for t in listed] == [("default/churn-raw@v1", "PII in column email")]
    report = run(world, "impact", "churn-raw@v1", "--json").json()
    assert report["taint"]["reason"] == "PII in column email"
    assert report["counts"] == {"artifacts": 2, "model_versions": 1, "deployments": 3,
                                "live_deployments": 2, "runs": 5}
    assert all(d["path"]["nodes"][0] == "default/churn-raw@v1" for d in report["deployments"])
    assert run(world, "untaint", "churn-raw@v1").out.strip() == "untainted default/churn-raw@v1"
    assert_one_line_error(run(world, "untaint", "churn-raw@v1", good=False), 3, "not tainted")
    missing = run(world, "taint", "churn-raw@v1", good=False)  # click's usage error
    assert missing.code == 2 and "Missing option '--reason'" in missing.err
    assert store.metadata.verify_ledger().ok
    assert pipeline.raw in json.dumps(report)


def test_import_command(world: tuple[Store, Pipeline, str, str], tmp_path: Path) -> None:
    good = tmp_path / "g.jsonl"
    good.write_text("\n".join(json.dumps(obj) for obj in [
        {"type": "run", "key": "r", "name": "retrain", "kind": "train"},
        {"type": "artifact", "key": "m", "name": "churn-model", "kind": "model",
         "digest": digest("retrained")},
        {"type": "edge", "run": "r", "artifact": "churn-features@v1", "direction": "input",
         "role": "train_data"},
        {"type": "edge", "run": "r", "artifact": "m", "direction": "output", "role": "model"},
    ]) + "\n")
    text = run(world, "import", str(good)).out
    assert text.startswith("imported 1 runs, 1 artifact versions and 2 edges from g.jsonl")
    down = run(world, "lineage", "churn-features@v1", "--down", "--name", "churn-model",
               "--json").json()
    assert sorted(n["version"] for n in down["nodes"]) == [1, 2]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "edge", "run": "x", "artifact": "y", "direction": "input"}\n')
    assert_one_line_error(run(world, "import", str(bad), good=False), 2,
                          "bad.jsonl line 1", "names run 'x'")
    as_json = run(world, "import", str(good), "--json").json()
    assert as_json["runs"] == 1 and set(as_json["ids"]) == {"r", "m"}
