"""Export formats checked against their grammars and specs: DOT (tokenised and cross-checked),
Mermaid (line grammar), PROV-JSON (PROV keys and references), OpenLineage (RunEvent schema with
the 2-0-2 spec's required fields and formats, the standard facets' required fields, lineal's
published facet schemas: tests/interop/ol_spec.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from interop.ol_spec import check_event
from lineal import lineage
from lineal.errors import InvalidArgument
from lineal.lineage.export import export_graph, openlineage_events, to_prov
from lineal.lineage.export_openlineage import RUN_UUID_NAMESPACE, run_uuid
from lineal.store import Store

from .test_taint_impact import Pipeline, build_pipeline


@pytest.fixture
def graph(backend_store: Store, tmp_path: Path) -> tuple[lineage.Graph, Pipeline]:
    pipeline = build_pipeline(backend_store, tmp_path / "work")
    lineage.taint("churn-raw@v1", 'a "quoted" reason')
    return lineage.subgraph("churn-features@v1", direction="both"), pipeline


_DOT_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(->)|([{}\[\];,=])|([A-Za-z_][A-Za-z0-9_]*))')


def dot_tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _DOT_TOKEN.match(text, pos)
        assert match is not None, f"DOT does not tokenise at: {text[pos:pos + 40]!r}"
        tokens.append(next(g for g in match.groups() if g is not None))
        pos = match.end()
    return tokens


def test_dot_parses_and_matches_the_graph(graph: tuple[lineage.Graph, Pipeline]) -> None:
    g, pipeline = graph
    text = export_graph(g, "dot")
    tokens = dot_tokens(text)
    assert tokens[:3] == ["digraph", "lineage", "{"] and tokens[-1] == "}"
    assert tokens.count("{") == tokens.count("}") == 1
    assert tokens.count("[") == tokens.count("]") == len(g.nodes) + len(g.edges) + 1
    declared = set(re.findall(r'^  "([0-9A-Z]{26})" \[', text, re.M))
    edges = re.findall(r'^  "([0-9A-Z]{26})" -> "([0-9A-Z]{26})" \[label="([^"]*)"\];$', text, re.M)
    assert declared == {n.id for n in g.nodes}
    assert len(edges) == len(g.edges) and all(a in declared and b in declared for a, b, _ in edges)
    assert f'"{pipeline.raw}" [label="default/churn-raw@v1", shape="box", color="red"' in text
    assert 'fillcolor="palegreen"' in text  # live deployments
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg"], input=text, text=True, check=True, capture_output=True)


def test_mermaid_line_grammar(graph: tuple[lineage.Graph, Pipeline]) -> None:
    g, _ = graph
    lines = export_graph(g, "mermaid").splitlines()
    assert lines[0] == "flowchart LR"
    node = re.compile(r'^  (n\d+)(\["[^"]*"\]|\(\["[^"]*"\]\)|\[\["[^"]*"\]\]|\{\{"[^"]*"\}\})$')
    edge = re.compile(r"^  (n\d+) -->\|([^|\"]+)\| (n\d+)$")
    declared: set[str] = set()
    edges = 0
    for line in lines[1:]:
        if m := node.match(line):
            declared.add(m.group(1))
        elif m := edge.match(line):
            assert m.group(1) in declared and m.group(3) in declared
            edges += 1
        else:
            assert re.match(r"^  (classDef \w+ \S+|class (n\d+,?)+ \w+)$", line), line
    assert len(declared) == len(g.nodes) and edges == len(g.edges)
    assert any(line.startswith("  class ") and line.endswith(" live") for line in lines)


def test_prov_json(graph: tuple[lineage.Graph, Pipeline]) -> None:
    g, pipeline = graph
    doc = json.loads(export_graph(g, "prov"))
    assert set(doc) == {"prefix", "entity", "activity", "used", "wasGeneratedBy", "wasDerivedFrom"}
    assert doc["prefix"]["lineal"] == "urn:lineal:"
    entities, activities = set(doc["entity"]), set(doc["activity"])
    runs = [n for n in g.nodes if n.type.value == "run"]
    assert activities == {f"lineal:{n.id}" for n in runs}
    assert len(entities) == len(g.nodes) - len(runs)
    for used in doc["used"].values():
        assert used["prov:activity"] in activities and used["prov:entity"] in entities
    for made in doc["wasGeneratedBy"].values():
        assert made["prov:entity"] in entities and made["prov:activity"] in activities
    for derived in doc["wasDerivedFrom"].values():
        assert {derived["prov:generatedEntity"], derived["prov:usedEntity"]} <= entities
    raw = doc["entity"][f"lineal:{pipeline.raw}"]
    assert raw["lineal:tainted"] is True and raw["prov:type"] == "lineal:artifact"
    assert len(doc["used"]) + len(doc["wasGeneratedBy"]) + len(doc["wasDerivedFrom"]) == len(g.edges)
    assert to_prov(g) == doc


def test_openlineage_run_events(graph: tuple[lineage.Graph, Pipeline], backend_store: Store) -> None:
    g, pipeline = graph
    events = json.loads(export_graph(g, "openlineage", backend_store))
    for event in events:
        check_event(event)
    runs = [n for n in g.nodes if n.type.value == "run"]
    assert len(events) == 2 * len(runs)  # every run finished: START + COMPLETE
    by_run: dict[str, list[str]] = {}
    for event in events:
        by_run.setdefault(event["run"]["runId"], []).append(event["eventType"])
    assert all(kinds == ["START", "COMPLETE"] for kinds in by_run.values())
    assert set(by_run) == {run_uuid(n.id) for n in runs}
    assert all(uuid.UUID(run_id).version == 5 for run_id in by_run)
    prepare = [e for e in events if e["job"]["name"] == "prepare"]
    assert [d["name"] for d in prepare[0]["inputs"]] == ["churn-raw"]
    assert prepare[0]["outputs"] == []  # a START lists what the run read, not what it made
    assert [d["name"] for d in prepare[1]["outputs"]] == ["churn-features"]  # once, not twice
    assert prepare[1]["outputs"][0]["outputFacets"]["lineal"]["role"] == "output"
    assert prepare[0]["inputs"][0]["inputFacets"]["lineal"]["role"] == "raw_data"
    assert prepare[0]["inputs"][0]["facets"]["version"]["datasetVersion"] == "1"
    assert prepare[0]["inputs"][0]["facets"]["lineal"]["tainted"] is True
    assert prepare[0]["job"]["facets"]["jobType"]["jobType"] == "preprocess"
    (prepare_run,) = [n for n in runs if n.name == "prepare"]
    assert prepare[0]["run"]["facets"]["lineal"]["id"] == prepare_run.id
    assert [e["eventTime"] for e in events] == sorted(e["eventTime"] for e in events)
    assert openlineage_events(g, backend_store) == events


def test_run_uuids_are_uuid5_of_the_lineal_id() -> None:
    assert uuid.uuid5(uuid.NAMESPACE_URL, "urn:lineal:run") == RUN_UUID_NAMESPACE
    assert str(RUN_UUID_NAMESPACE) == "24c84fbc-6399-55b3-a7d5-ad32d4c1f5e1"  # as documented
    assert run_uuid("01HX0000000000000000000000") == str(
        uuid.uuid5(RUN_UUID_NAMESPACE, "01HX0000000000000000000000"))
    assert run_uuid("01HX0000000000000000000000") != run_uuid("01HX0000000000000000000001")


def test_unknown_format(graph: tuple[lineage.Graph, Pipeline]) -> None:
    with pytest.raises(InvalidArgument, match="unknown export format"):
        export_graph(graph[0], "svg")
    assert json.loads(export_graph(graph[0], "json"))["start"] == graph[0].start.id
