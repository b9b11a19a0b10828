"""What Python and notebook users see: one-line reprs, HTML cards, a diff table, lineage drawn
as SVG, and DataFrames from lists and answers."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

import lineal
from lineal import deployments, lineage, registry
from lineal.store import Store

VOID = {"br", "hr", "img", "input", "meta", "link"}


class _Balanced(HTMLParser):
    """Fails on a closing tag that does not close the innermost open one."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()


def well_formed(html: str) -> list[str]:
    """The tags of ``html``, after checking every element is closed in order."""
    parser = _Balanced()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], parser.stack
    return parser.tags


@dataclass
class Pipeline:
    raw: lineal.ArtifactVersion
    train_runs: list[lineal.Run]
    models: list[lineal.ArtifactVersion]


@pytest.fixture
def pipeline(store: Store, tmp_path: Path) -> Pipeline:
    """Raw data -> two training runs (other params) -> two models, both registered; the second
    deployed."""
    data = tmp_path / "raw.csv"
    data.write_text("x,y\n1,2\n3,4\n")
    with lineal.run("ingest", kind="ingest", capture=False) as run:
        raw = run.log_artifact(data, name="raw", kind="dataset", tags={"source": "<db>"})
    runs, models = [], []
    for c in (0.5, 1.0):
        weights = tmp_path / f"model-{c}.bin"
        weights.write_bytes(str(c).encode() * 100)
        with lineal.run("train", kind="train", params={"C": c}, capture=False) as run:
            run.use_artifact("raw")
            for step, loss in enumerate((0.9, 0.5, 0.25 * c)):
                run.log_metric("loss", loss, step=step)
            run.log_metrics({"acc": 0.9 + c / 100})
            models.append(run.log_artifact(weights, name="clf", kind="model"))
        runs.append(lineal.get_run(run.id))
        registry.register_model("classifier", models[-1])
    deployments.record_deployment("classifier@v2", name="clf-api", environment="prod",
                                  capture=False)
    return Pipeline(raw, runs, models)


def test_reprs_are_one_short_line(pipeline: Pipeline) -> None:
    run = pipeline.train_runs[0]
    assert repr(run) == f"<Run {run.id[:12]} train finished>"
    version = registry.get_version("classifier@v2")
    diff = lineage.diff("classifier@v1", "classifier@v2")
    shown = [run, pipeline.models[0], version, deployments.current("prod")[0], diff,
             lineage.upstream(pipeline.models[0].ref), lineage.subgraph(pipeline.models[0].ref),
             lineage.leaderboard(pipeline.raw.ref, "acc"),
             lineage.trained_on("classifier@v1"), lineage.params("classifier@v1"),
             lineage.pipeline("classifier@v1"), lineage.impact(pipeline.raw.ref),
             lineage.node("classifier@v1"), lineage.paths(pipeline.raw.ref, "classifier@v1"),
             lineage.last_deployed("classifier", environment="prod"),
             registry.get_model("classifier"), registry.history("classifier")[0],
             registry.compare("classifier@v1", "classifier@v2"),
             deployments.recover("clf-api", "prod")]
    for value in shown:
        text = repr(value)
        assert text.startswith("<") and "\n" not in text and len(text) < 200, text
    assert repr(pipeline.models[0]).startswith("<ArtifactVersion default/clf@v1 model 300 B ")
    assert repr(version) == "<ModelVersion default/classifier@v2 none unreviewed>"
    assert "first divergence at train" in repr(diff)


def test_cards_are_well_formed_html_with_escaped_values(pipeline: Pipeline) -> None:
    run = pipeline.train_runs[1]
    card = run._repr_html_()
    assert "table" in well_formed(card) and run.id in card and "loss" in card
    card = pipeline.raw._repr_html_()
    well_formed(card)
    assert "&lt;db&gt;" in card and "<db>" not in card
    card = registry.get_version("classifier@v1")._repr_html_()
    well_formed(card)
    assert "default/clf@v1" in card


def test_a_lineage_diff_is_a_table_of_what_changed(pipeline: Pipeline) -> None:
    diff = lineage.diff("classifier@v1", "classifier@v2")
    card = diff._repr_html_()
    well_formed(card)
    assert "<td>C</td><td>0.5</td><td>1</td>" in card
    assert len(card) < 5000


def test_lineage_answers_draw_as_svg(pipeline: Pipeline) -> None:
    for answer in (lineage.upstream(pipeline.models[0].ref),
                   lineage.downstream(pipeline.raw.ref),
                   lineage.subgraph(pipeline.models[1].ref)):
        svg = answer._repr_html_()
        root = ET.fromstring(svg)  # well-formed XML
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        boxes = root.findall(".//{http://www.w3.org/2000/svg}rect")
        texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        assert len(boxes) == len(texts) >= 3
        assert root.findall(".//{http://www.w3.org/2000/svg}line")
    # Left to right the way data flowed: the raw data is left of the model it made.
    svg = ET.fromstring(lineage.upstream(pipeline.models[0].ref)._repr_html_())
    x = {g.find("{http://www.w3.org/2000/svg}title").text:
         float(g.find("{http://www.w3.org/2000/svg}rect").get("x"))
         for g in svg.iter("{http://www.w3.org/2000/svg}g")}
    assert x["default/raw@v1"] < x["default/clf@v1"]


def test_lists_and_answers_convert_to_pandas(pipeline: Pipeline) -> None:
    runs = lineal.list_runs()
    assert isinstance(runs, list) and len(runs) == 4  # ingest, two trains, the deploy run
    frame = runs.to_pandas()
    assert list(frame.columns[:8]) == ["run_id", "name", "status", "start_time", "end_time",
                                       "experiment", "project", "kind"]
    assert {"metrics.acc", "metrics.loss", "params.C"} <= set(frame.columns)
    well_formed(runs._repr_html_())
    artifacts = lineal.list_artifacts().to_pandas()
    assert list(artifacts.columns) == ["ref", "project", "name", "version", "kind", "digest",
                                       "size", "storage", "aliases", "tainted",
                                       "producer_run_id", "created_at", "created_by"]
    assert set(artifacts["ref"]) >= {"default/clf@v1", "default/clf@v2"}
    versions = registry.list_versions("classifier").to_pandas()
    assert list(versions["ref"]) == ["default/classifier@v2", "default/classifier@v1"]
    assert {"stage", "status", "aliases", "artifact_ref", "run_id"} <= set(versions.columns)
    history = lineal.metric_history(pipeline.train_runs[0].id, "loss")
    frame = history.to_pandas()
    assert list(frame.columns) == ["key", "step", "value", "timestamp"]
    assert list(frame["value"]) == [0.9, 0.5, 0.125] and list(frame["step"]) == [0, 1, 2]
    board = lineage.leaderboard(pipeline.raw.ref, "acc").to_pandas()
    assert list(board.columns[:3]) == ["rank", "model", "acc"]
    assert list(board["model"]) == ["default/clf@v2", "default/clf@v1"]
    page = lineal.search_runs("params.C = '0.5'")
    assert list(page.to_pandas()["run_id"]) == [pipeline.train_runs[0].id]


def test_to_pandas_without_pandas_names_the_extra(pipeline: Pipeline,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # what an environment without it sees
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'lineal\[data\]'"):
        lineal.list_runs().to_pandas()


def test_import_lineal_does_not_import_the_display_module() -> None:
    import subprocess

    code = "import lineal, sys; print('lineal.notebook' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_every_entity_and_answer_has_a_short_repr_and_a_card(pipeline: Pipeline,
                                                            store: Store) -> None:
    # One of each kind of entity and answer a Python user gets back (beyond those above).
    import pandas as pd

    from lineal import audit, datasets, tokens
    from lineal.lineage._snapshot import compare_runs, snapshot

    with lineal.run("weigh", kind="ingest") as captured:  # captures its environment
        first = captured.log_dataset(pd.DataFrame({"w": [70.0, 80.0, 90.0]}), name="patients")
        captured.log_dataset(pd.DataFrame({"w": [150.0, 170.0, 200.0]}), name="patients")
    try:
        with lineal.run("crash", capture=False):
            raise RuntimeError("out of memory <gpu>")
    except RuntimeError:
        pass
    tokens.create_token("reader", name="notebook")
    lineage.taint(first.ref, "units <mixed>")
    a, b = pipeline.train_runs
    answers = [
        registry.get_model("classifier"), registry.history("classifier")[0],
        registry.compare("classifier@v1", "classifier@v2"), deployments.current("prod")[0],
        deployments.recover("clf-api", "prod"), lineage.trained_on("classifier@v1"),
        lineage.params("classifier@v1"), lineage.pipeline("classifier@v1"),
        lineage.environment(lineal.get_run(captured.id)), lineage.why_failed("crash"),
        lineage.runs_using("pytest"), lineage.last_deployed("classifier", environment="prod"),
        lineage.node("classifier@v1"), lineage.paths(pipeline.raw.ref, "classifier@v1"),
        lineage.paths(pipeline.raw.ref, "classifier@v1").paths[0], lineage.impact(pipeline.raw.ref),
        lineage.impact(pipeline.raw.ref).items[0],
        lineage.taints()[0], datasets.get_dataset("patients@v1"),
        datasets.diff_versions("patients@v1", "patients@v2"),
        datasets.get_dataset("patients@v2").description,
        compare_runs(snapshot(store, a.id), snapshot(store, b.id)),
        store.metadata.list_edges(run_id=a.id)[0], audit.log(limit=1)[0],
        tokens.list_tokens()[0], lineage.trained_on("classifier@v1").datasets[0],
    ]
    for answer in answers:
        text = repr(answer)
        assert text.startswith("<") and "\n" not in text and len(text) < 200, text
        card = answer._repr_html_()
        well_formed(card)
        assert html_escape(text) in card and len(card) < 100_000, type(answer)
    # Values are escaped, not markup.
    card = lineage.taints()[0]._repr_html_()
    assert "units &lt;mixed&gt;" in card and "<mixed>" not in card


def html_escape(text: str) -> str:
    import html

    return html.escape(text)


def test_every_list_answer_converts_to_pandas_and_shows_as_a_table(pipeline: Pipeline) -> None:
    import pandas as pd

    from lineal import datasets, tokens

    with lineal.run("weigh", capture=False) as run:
        run.log_dataset(pd.DataFrame({"w": [70.0, 80.0]}), name="patients")
    tokens.create_token("reader", name="notebook")
    lineage.taint(pipeline.raw.ref, "rows duplicated")
    expected = {
        "deployments.timeline": (deployments.timeline("classifier"), "model_ref"),
        "deployments.current": (deployments.current("prod"), "environment"),
        "deployments.list_deployments": (deployments.list_deployments(), "name"),
        "registry.history": (registry.history("classifier"), "action"),
        "registry.list_models": (registry.list_models(), "name"),
        "lineage.taints": (lineage.taints(), "reason"),
        "tokens.list_tokens": (tokens.list_tokens(), "role"),
        "datasets.list_datasets": (datasets.list_datasets(), "digest"),
        "lineage.runs_using": (lineage.runs_using("pytest"), None),
    }
    for name, (answer, column) in expected.items():
        frame = answer.to_pandas()  # type: ignore[attr-defined]
        assert len(frame) == len(answer), name
        assert column is None or column in frame.columns, (name, list(frame.columns))
        well_formed(answer._repr_html_())  # type: ignore[attr-defined]
    assert isinstance(registry.list_models(), list)  # still a plain list to every caller
