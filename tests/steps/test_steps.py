"""@lineal.step: executes once, serves identical calls from cache, and explains its misses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import lineal
from lineal.cli import cli
from lineal.errors import InvalidArgument
from lineal.steps import environment_part, explain
from lineal.store import Store

CALLS: list[dict[str, object]] = []


def make_raw(tmp_path: Path, text: str) -> lineal.ArtifactVersion:
    path = tmp_path / "raw.csv"
    path.write_text(text)
    with lineal.run("ingest", capture=False) as run:
        return run.log_artifact(path, name="raw", kind="dataset")


def scale_step(tmp_path: Path, code: str = "v1", cache: bool = True):  # type: ignore[no-untyped-def]
    @lineal.step("scale", kind="preprocess", inputs=["raw"], outputs={"scaled": "dataset"},
                 code=code, cache=cache)
    def scale(run: lineal.ActiveRun, raw: Path, factor: float = 2.0) -> dict[str, Path]:
        CALLS.append({"raw": raw.read_text(), "factor": factor})
        values = [float(v) * factor for v in raw.read_text().split()]
        out = tmp_path / f"scaled-{len(CALLS)}.txt"
        out.write_text(" ".join(map(str, values)))
        run.log_metric("n", len(values))
        return {"scaled": out}

    return scale


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    CALLS.clear()


def test_second_identical_call_is_served_from_cache(store: Store, tmp_path: Path) -> None:
    raw = make_raw(tmp_path, "1 2 3")
    scale = scale_step(tmp_path)
    first = scale(raw="raw@v1", factor=2.0)
    assert not first.cached and len(CALLS) == 1
    assert first.outputs["scaled"].kind == "dataset"
    second = scale(raw="raw@v1", factor=2.0)
    assert second.cached and len(CALLS) == 1, "the function must not run again"
    assert second.run.cached_from == first.run.id
    assert second.outputs["scaled"].id == first.outputs["scaled"].id
    edges = {(e.direction, e.role, e.artifact_id) for e in store.metadata.list_edges(run_id=second.run.id)}
    assert ("input", "raw", raw.id) in {(str(d), r, a) for d, r, a in edges}
    assert ("output", "scaled", first.outputs["scaled"].id) in {(str(d), r, a) for d, r, a in edges}
    report = explain(second.run.id)
    assert report["cached"] and first.run.id in report["reason"]


def test_changed_param_input_or_code_executes_and_is_explained(store: Store, tmp_path: Path) -> None:
    make_raw(tmp_path, "1 2 3")
    scale_step(tmp_path)(raw="raw@v1", factor=2.0)
    third = scale_step(tmp_path)(raw="raw@v1", factor=3.0)
    assert not third.cached and len(CALLS) == 2
    assert explain(third.run.id)["changes"] == {"params": {"factor": {"from": 2.0, "to": 3.0}}}

    new_raw = make_raw(tmp_path, "4 5 6")
    fourth = scale_step(tmp_path)(raw="raw@latest", factor=3.0)
    assert not fourth.cached
    changes = explain("scale")["changes"]
    assert set(changes) == {"inputs"}
    assert changes["inputs"]["raw"]["to"] == new_raw.digest

    fifth = scale_step(tmp_path, code="v2")(raw="raw@latest", factor=3.0)
    assert not fifth.cached
    assert set(explain(fifth.run.id)["changes"]) == {"code"}


def test_missing_outputs_force_execution(store: Store, tmp_path: Path) -> None:
    make_raw(tmp_path, "1 2 3")
    first = scale_step(tmp_path)(raw="raw@v1")
    blob = Path(store.blobs.uri(first.outputs["scaled"].digest).removeprefix("file://"))
    blob.unlink()
    again = scale_step(tmp_path)(raw="raw@v1")
    assert not again.cached and len(CALLS) == 2


def test_cache_false_always_executes(store: Store, tmp_path: Path) -> None:
    make_raw(tmp_path, "1 2 3")
    scale_step(tmp_path, cache=False)(raw="raw@v1")
    scale_step(tmp_path, cache=False)(raw="raw@v1")
    assert len(CALLS) == 2


def test_steps_nest_under_a_pipeline_run(store: Store, tmp_path: Path) -> None:
    make_raw(tmp_path, "1 2 3")
    with lineal.run("pipeline", kind="pipeline", capture=False) as pipeline:
        first = scale_step(tmp_path)(raw="raw@v1")
        second = scale_step(tmp_path)(raw="raw@v1")
    assert first.run.parent_id == pipeline.id and second.run.parent_id == pipeline.id


def test_bad_step_definitions_and_calls(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        lineal.step(inputs=["nope"])(lambda raw: None)
    scale = scale_step(tmp_path)
    with pytest.raises(lineal.NotFound):
        scale(raw="never-logged@v1")
    with pytest.raises(InvalidArgument):
        scale(raw=42)


def test_environment_part_names_package_versions() -> None:
    part = environment_part(["sqlalchemy", "surely-not-installed-pkg"])
    assert part["python"].count(".") == 2
    assert part["sqlalchemy"][0].isdigit()
    assert part["surely-not-installed-pkg"] == "not installed"


def test_cli_cache_explain(store: Store, tmp_path: Path) -> None:
    make_raw(tmp_path, "1 2 3")
    scale_step(tmp_path)(raw="raw@v1", factor=2.0)
    scale_step(tmp_path)(raw="raw@v1", factor=5.0)
    result = CliRunner().invoke(cli, ["--uri", store.location, "cache", "explain", "scale"])
    assert result.exit_code == 0, result.output
    assert "params.factor: 2.0 -> 5.0" in result.output
    result = CliRunner().invoke(cli, ["--uri", store.location, "cache", "explain", "scale", "--json"])
    assert json.loads(result.output)["changes"]["params"]["factor"]["to"] == 5.0
