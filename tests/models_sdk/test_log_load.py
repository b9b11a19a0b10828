"""run.log_model and lineal.load_model through the store, with real frameworks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lineal
from lineal.errors import (
    IntegrityError,
    InvalidArgument,
    UnsupportedModelError,
    UntrustedModelError,
)
from lineal.store import Store


@pytest.fixture
def iris():  # type: ignore[no-untyped-def]
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    return frame.drop(columns="target"), frame["target"]


def test_sklearn_model_round_trips_with_signature_and_lineage(store: Store, iris) -> None:  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    x, y = iris
    model = LogisticRegression(max_iter=500).fit(x[:120], y[:120])
    with lineal.run("train", kind="train", capture=False) as run:
        version = run.log_model(model, "iris-clf", input_example=x.head(3))
    assert version.kind == "model" and version.is_directory
    meta = version.metadata
    assert meta["flavor"] == "sklearn" and meta["format"] == "skops"
    assert meta["framework_version"]
    assert [i["name"] for i in meta["signature"]["inputs"]][:2] == ["sepal length (cm)", "sepal width (cm)"]
    assert len(meta["input_example"]) == 3
    assert version.producer_run_id == run.id

    with lineal.run("evaluate", capture=False) as evaluation:
        loaded = lineal.load_model("iris-clf@v1")
    np.testing.assert_array_equal(loaded.predict(x[120:]), model.predict(x[120:]))
    inputs = [e for e in store.metadata.list_edges(run_id=evaluation.id) if str(e.direction) == "input"]
    assert [(e.artifact_id, e.role) for e in inputs] == [(version.id, "model")]


def test_load_in_a_fresh_process(store: Store, iris, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sklearn.ensemble import RandomForestClassifier

    x, y = iris
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    with lineal.run("train", capture=False) as run:
        run.log_model(model, "forest")
    out = tmp_path / "pred.npy"
    code = (
        "import lineal, numpy as np\n"
        "from sklearn.datasets import load_iris\n"
        "x = load_iris(as_frame=True).frame.drop(columns='target')\n"
        f"np.save({str(out)!r}, lineal.load_model('forest@latest').predict(x))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={**__import__("os").environ, "LINEAL_URI": store.location})
    np.testing.assert_array_equal(np.load(out), model.predict(x))


def test_pickle_based_formats_need_trust(store: Store, iris) -> None:  # type: ignore[no-untyped-def]
    from sklearn.tree import DecisionTreeClassifier

    x, y = iris
    with lineal.run("train", capture=False) as run:
        run.log_model(DecisionTreeClassifier().fit(x, y), "tree", format="joblib")
    with pytest.raises(UntrustedModelError, match="trust=True"):
        lineal.load_model("tree")
    assert lineal.load_model("tree", trust=True).predict(x[:2]).shape == (2,)


def test_torch_model(store: Store) -> None:
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    example = torch.randn(5, 4)
    with lineal.run("train", capture=False) as run:
        version = run.log_model(net, "net", input_example=example)
    assert version.metadata["flavor"] == "torch"
    loaded = lineal.load_model("net")
    torch.testing.assert_close(loaded(example), net(example))


def test_tampered_model_bytes_are_refused(store: Store, iris) -> None:  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    x, y = iris
    with lineal.run("train", capture=False) as run:
        version = run.log_model(LogisticRegression(max_iter=300).fit(x, y), "clf")
    files = {e["path"]: e["digest"] for e in __import__("lineal.content", fromlist=["x"]).read_manifest(store.blobs, version.digest)}
    blob = Path(store.blobs.uri(files["model.skops"]).removeprefix("file://"))
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(IntegrityError):
        lineal.load_model("clf")


def test_bad_input(store: Store, tmp_path: Path) -> None:
    with lineal.run("train", capture=False) as run:
        with pytest.raises(UnsupportedModelError):
            run.log_model("not a model", "x")
        data = tmp_path / "d.csv"
        data.write_text("a\n1\n")
        run.log_artifact(data, name="d", kind="dataset")
    with pytest.raises(InvalidArgument, match="not a model"):
        lineal.load_model("d")
    assert lineal.list_artifacts(name="x") == []
