"""``lineal models list|show`` and the library calls behind them."""

from __future__ import annotations

from pathlib import Path

import pytest

import lineal
from lineal.models.listing import get_model, list_models
from lineal.store import open_store

from .conftest import World, assert_one_line_error, ok


def refs(found: list[dict]) -> list[str]:
    return [m["ref"] for m in found]


def test_list_table(world: World) -> None:
    out = world.ok("models", "list", "--wide").out
    lines = {line.split()[0]: line for line in out.splitlines()
             if line.startswith("default/")}
    assert set(lines) == {"default/iris@v1", "default/iris-tree@v1"}
    import sklearn

    iris = lines["default/iris@v1"]
    assert "skops" in iris and f"sklearn {sklearn.__version__}" in iris
    assert "float64[-1, 4]" in iris  # the input signature of a numpy example
    assert f"{world.runs['train']} train" in iris
    assert "acc=0.96 f1=0.95 loss=0.25" in iris  # the producing run's metrics
    tree = lines["default/iris-tree@v1"]
    assert "joblib" in tree and "4 columns: float64" in tree  # a DataFrame example


def test_list_json_fields(world: World) -> None:
    found = {m["ref"]: m for m in world.ok("models", "list", "--json").json()}
    iris = found["default/iris@v1"]
    version = world.versions["iris"]
    assert iris["format"] == "skops" and iris["flavor"] == "sklearn"
    assert iris["framework"] == "sklearn" and iris["framework_version"]
    assert iris["pickle_based"] is False
    assert iris["signature"]["inputs"] == [{"name": None, "type": "float64", "shape": [-1, 4]}]
    assert iris["size"] == version.size and iris["digest"] == version.digest
    assert iris["files"] == ["model.skops"]
    assert iris["input_example"][0] == [5.1, 3.5, 1.4, 0.2]
    run = iris["run"]
    assert run["id"] == world.runs["train"] and run["name"] == "train"
    assert run["metrics"] == {"acc": 0.96, "f1": 0.95, "loss": 0.25}
    assert run["params"] == {"C": 0.5, "solver": "lbfgs"}
    assert found["default/iris-tree@v1"]["pickle_based"] is True


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--name", "iris"), ["default/iris@v1"]),
        (("--framework", "SKLEARN"), ["default/iris-tree@v1", "default/iris@v1"]),
        (("--framework", "torch"), []),
        (("--flavor", "sklearn", "--limit", "1"), ["default/iris-tree@v1"]),
        (("--project", "other"), []),
        (("--tag", "team=ml"), []),
    ],
)
def test_list_filters(world: World, args: tuple[str, ...], expected: list[str]) -> None:
    assert refs(world.ok("models", "list", *args, "--json").json()) == expected


def test_list_by_run_and_time(world: World) -> None:
    assert len(world.ok("models", "list", "--run", world.runs["train"], "--json").json()) == 2
    assert world.ok("models", "list", "--run", world.runs["ingest"], "--json").json() == []
    assert world.cutoff is not None
    assert world.ok("models", "list", "--since", world.cutoff.isoformat(), "--json").json() == []
    assert world.ok("models", "list", "--since", world.cutoff.isoformat()).out.strip() == (
        "no model versions match")


def test_show_text(world: World) -> None:
    out = world.ok("models", "show", "iris-tree").out
    assert "model:       default/iris-tree@v1" in out
    assert "format:      joblib" in out
    assert "needs trust: yes" in out
    assert "files:       model.joblib" in out
    assert "Signature inputs" in out and "petal width (cm)" in out
    assert "input example:" in out
    assert f"Metrics of run {world.runs['train']}" in out
    assert "Trained from" in out and "default/features@v1" in out and "train_data" in out


def test_show_json_has_consumers(world: World) -> None:
    shown = world.ok("models", "show", "iris@v1", "--json").json()
    assert shown["ref"] == "default/iris@v1" and shown["format"] == "skops"
    assert shown["run"]["id"] == world.runs["train"]
    assert [(i["role"], i["ref"]) for i in shown["run_inputs"]] == [("train_data",
                                                                     "default/features@v1")]
    # lineal.load_model inside the evaluate run recorded it as an input of that run.
    assert [(c["id"], c["role"]) for c in shown["consumers"]] == [(world.runs["evaluate"],
                                                                  "model")]


def test_show_errors(world: World) -> None:
    assert_one_line_error(world.cli("models", "show", "raw"), 2, "not a model")
    assert_one_line_error(world.cli("models", "show", "ghost"), 3, "ghost")
    assert_one_line_error(world.cli("models", "show", "iris@@v1"), 2)
    assert_one_line_error(world.cli("models", "list", "--run", "01ZZZZZZZZZZ"), 3)


def test_a_model_logged_by_hand_lists_without_format(tmp_path: Path) -> None:
    """A folder logged with kind="model" has no manifest in its metadata: listed, with '-'."""
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "w.bin").write_bytes(b"\0" * 64)
    uri = tmp_path / "store"
    ok("artifacts", "log", str(folder), "--kind", "model", uri=uri)
    [model] = ok("models", "list", "--json", uri=uri).json()
    assert model["ref"] == "default/weights@v1" and model["format"] is None
    assert model["run"] is None
    assert "default/weights@v1" in ok("models", "list", uri=uri).out
    assert "unknown (not logged with run.log_model)" in ok("models", "show", "weights",
                                                           uri=uri).out


def test_library_listing_pages_past_filtered_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--framework filters after the query: the limit counts matches, however many newer
    versions of other frameworks must be read past first."""
    import numpy as np
    from sklearn.dummy import DummyClassifier

    import lineal.models.listing as listing

    monkeypatch.setattr(listing, "_PAGE", 2)
    store = open_store(tmp_path / "store")
    x, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with lineal.run("train", capture=False, store=store) as run:
        for i in range(2):
            run.log_model({"w": np.full(4, i, dtype="float32")}, f"tensors-{i}")
        for i in range(3):
            run.log_model(DummyClassifier(constant=i % 2, strategy="constant").fit(x, y),
                          f"dummy-{i}")
    found = list_models(framework="safetensors", limit=2, store=store)
    assert [m.ref for m in found] == ["default/tensors-1@v1", "default/tensors-0@v1"]
    assert [m.framework for m in found] == ["safetensors", "safetensors"]
    assert len(list_models(framework="sklearn", limit=10, store=store)) == 3
    assert len(list_models(limit=10, store=store)) == 5
    assert get_model("tensors-0", store=store).run.id == run.id  # type: ignore[union-attr]
    store.close()


def test_show_takes_a_registry_reference_in_another_project(tmp_path: Path) -> None:
    """``churn@prod`` resolves through the registry, in the project --project names (the
    project used to be dropped on the way to the registry)."""
    from sklearn.dummy import DummyClassifier

    from lineal.registry.api import register_model

    store = open_store(tmp_path / "store")
    with lineal.run("train", project="team-b", capture=False, store=store) as run:
        version = run.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), "churn-model")
    register_model("churn", "churn-model@v1", aliases=["prod"], project="team-b", store=store)
    store.close()
    uri = tmp_path / "store"
    shown = ok("models", "show", "churn@prod", "--project", "team-b", "--json", uri=uri).json()
    assert shown["id"] == version.id and shown["run"]["id"] == run.id
    assert ok("models", "show", "team-b/churn@prod", "--json", uri=uri).json()["id"] == version.id
    from .conftest import cli

    assert_one_line_error(cli("models", "show", "churn@prod", uri=uri), 3)
