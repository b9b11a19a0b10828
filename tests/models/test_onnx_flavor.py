"""ONNX: ModelProto round trip, graph signature, external data, onnxruntime sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lineal.models import ModelFormatError, load_model, save_model
from lineal.models.testing import FreshLoad, predict_in_fresh_process

np = pytest.importorskip("numpy")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from lineal.models.flavors.onnx import inference_session  # noqa: E402


@pytest.fixture(scope="module")
def linear() -> dict[str, Any]:
    """A linear model fitted by least squares on generated data, written as an ONNX graph."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = X @ np.array([[1.0, -2.0], [0.5, 0.0], [0.0, 3.0], [2.0, 1.0]], dtype=np.float32) + 0.1
    X_train, X_test = X[:150], X[150:]
    design = np.hstack([X_train, np.ones((150, 1), dtype=np.float32)])
    solution, *_ = np.linalg.lstsq(design, y[:150], rcond=None)
    weight, bias = solution[:4].astype(np.float32), solution[4].astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "W"], ["XW"]),
            helper.make_node("Add", ["XW", "B"], ["Y"]),
        ],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 2])],
        initializer=[numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return {"model": model, "X_test": X_test, "expected": X_test @ weight + bias}


@pytest.fixture(scope="module")
def round_trip(linear: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("onnx")
    saved = {
        "plain": save_model(linear["model"], root / "plain"),
        "external": save_model(linear["model"], root / "external", external_data=True),
    }
    results = predict_in_fresh_process(
        FreshLoad(root / "plain", linear["X_test"], method="onnx"),
        FreshLoad(root / "external", linear["X_test"], method="onnx"),
    )
    return {"root": root, "saved": saved, "results": dict(zip(saved, results, strict=True))}


def test_manifest_and_graph_signature(round_trip: dict[str, Any]) -> None:
    saved = round_trip["saved"]["plain"]
    assert (saved.flavor, saved.format, saved.files, saved.pickle_based) == (
        "onnx",
        "onnx",
        ["model.onnx"],
        False,
    )
    assert saved.extra["opset"] == {"ai.onnx": 17}
    # Initializers (weights) are not inputs a caller feeds.
    assert saved.signature == {
        "inputs": [{"name": "X", "type": "float32", "shape": [-1, 4]}],
        "outputs": [{"name": "Y", "type": "float32", "shape": [-1, 2]}],
    }


def test_onnxruntime_predictions_match_in_a_fresh_process(
    round_trip: dict[str, Any], linear: dict[str, Any]
) -> None:
    for name in ("plain", "external"):
        np.testing.assert_allclose(
            round_trip["results"][name], linear["expected"], rtol=1e-5, atol=1e-5
        )


def test_load_returns_the_same_model_proto(
    round_trip: dict[str, Any], linear: dict[str, Any]
) -> None:
    loaded = load_model(round_trip["root"] / "plain")
    assert isinstance(loaded, onnx.ModelProto)
    assert loaded.SerializeToString() == linear["model"].SerializeToString()


def test_external_data_leaves_the_caller_model_intact(
    round_trip: dict[str, Any], linear: dict[str, Any]
) -> None:
    assert round_trip["saved"]["external"].files == ["model.onnx", "model.onnx.data"]
    assert all(t.HasField("raw_data") for t in linear["model"].graph.initializer)
    loaded = load_model(round_trip["root"] / "external")
    assert numpy_helper.to_array(loaded.graph.initializer[0]).shape == (4, 2)


def test_inference_session_takes_a_file_too(
    round_trip: dict[str, Any], linear: dict[str, Any]
) -> None:
    session = inference_session(round_trip["root"] / "plain" / "model.onnx")
    [out] = session.run(None, {"X": linear["X_test"]})
    np.testing.assert_allclose(out, linear["expected"], rtol=1e-5, atol=1e-5)


def test_inference_session_needs_an_onnx_file(tmp_path: Path) -> None:
    save_model(lambda rows: rows, tmp_path / "m")
    with pytest.raises(ModelFormatError, match="no ONNX export"):
        inference_session(tmp_path / "m")


def test_truncated_file(tmp_path: Path, linear: dict[str, Any]) -> None:
    save_model(linear["model"], tmp_path / "m")
    target = tmp_path / "m" / "model.onnx"
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    with pytest.raises(ModelFormatError, match="cannot load model file .*model.onnx") as caught:
        load_model(tmp_path / "m")
    assert caught.value.__cause__ is not None


def test_invalid_graph_is_refused_at_save(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("NoSuchOp", ["x"], ["y"])],
        "bad",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    with pytest.raises(ModelFormatError, match="cannot save"):
        save_model(helper.make_model(graph), tmp_path / "m")
    assert not (tmp_path / "m").exists()
