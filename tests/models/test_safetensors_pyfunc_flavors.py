"""safetensors dicts of tensors, and pyfunc: pickled objects with predict() and callables."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import pytest

from lineal.models import ModelFormatError, UntrustedModelError, load_model, save_model
from lineal.models.testing import FreshLoad, predict_in_fresh_process

np = pytest.importorskip("numpy")
pytest.importorskip("safetensors")


class Threshold:
    """Defined at module level: pickled by reference unless its module is stored by value."""

    def __init__(self, cut: float) -> None:
        self.cut = cut

    def predict(self, rows: Any) -> Any:
        return (rows.sum(axis=1) > self.cut).astype(np.int64)


@pytest.fixture(scope="module")
def rows() -> Any:
    return np.random.default_rng(0).normal(size=(30, 3))


@pytest.fixture(scope="module")
def round_trip(rows: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    torch = pytest.importorskip("torch")
    pytest.importorskip("cloudpickle")
    root = tmp_path_factory.mktemp("safetensors-pyfunc")
    weights = np.random.default_rng(1).normal(size=(3, 2))

    class LocalScorer:  # local classes cannot be imported, so cloudpickle stores them by value
        def __init__(self, w: Any) -> None:
            self.w = w

        def predict(self, X: Any) -> Any:
            return X @ self.w

    shared = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    tensors = {
        "torch": {
            "weight": torch.randn(4, 3),
            "steps": torch.arange(5),
            "tied_a": shared,
            "tied_b": shared,
        },
        "numpy": {"weight": np.ones((2, 2), dtype=np.float16), "ids": np.arange(4)},
    }
    models = {
        "closure": lambda X: np.tanh(X @ weights),
        "local": LocalScorer(weights),
        "by_value": Threshold(0.5),
        "plain_pickle": functools.partial(np.multiply, 2.0),
    }
    saved = {
        "torch": save_model(tensors["torch"], root / "torch", metadata={"source": "test"}),
        "numpy": save_model(tensors["numpy"], root / "numpy"),
        "closure": save_model(models["closure"], root / "closure", input_example=rows[:2]),
        "local": save_model(models["local"], root / "local"),
        "by_value": save_model(
            models["by_value"], root / "by_value", by_value=[sys.modules[__name__]]
        ),
        "plain_pickle": save_model(
            models["plain_pickle"], root / "plain_pickle", format="pyfunc_pickle"
        ),
    }
    results = predict_in_fresh_process(
        FreshLoad(root / "torch", method="tensors"),
        FreshLoad(root / "numpy", method="tensors"),
        FreshLoad(root / "closure", rows, method="__call__", trust=True),
        FreshLoad(root / "local", rows, trust=True),
        FreshLoad(root / "by_value", rows, trust=True),
        FreshLoad(root / "plain_pickle", rows, method="__call__", trust=True),
    )
    return {
        "root": root,
        "saved": saved,
        "tensors": tensors,
        "models": models,
        "results": dict(zip(saved, results, strict=True)),
    }


def test_safetensors_manifest(round_trip: dict[str, Any]) -> None:
    saved = round_trip["saved"]["torch"]
    assert (saved.flavor, saved.format, saved.files, saved.pickle_based) == (
        "safetensors",
        "safetensors",
        ["model.safetensors"],
        False,
    )
    assert saved.extra == {"tensor_library": "torch", "tensors": 4}
    assert round_trip["saved"]["numpy"].extra["tensor_library"] == "numpy"


def test_tensors_are_identical_in_a_fresh_process(round_trip: dict[str, Any]) -> None:
    for kind in ("torch", "numpy"):
        original = round_trip["tensors"][kind]
        loaded = round_trip["results"][kind]
        assert sorted(loaded) == sorted(original)
        for name, value in original.items():
            expected = value.numpy() if hasattr(value, "numpy") else value
            assert loaded[name].dtype == expected.dtype
            np.testing.assert_array_equal(loaded[name], expected)


def test_load_returns_the_same_tensor_library(round_trip: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    loaded = load_model(round_trip["root"] / "torch")
    assert all(isinstance(t, torch.Tensor) for t in loaded.values())
    assert all(isinstance(a, np.ndarray) for a in load_model(round_trip["root"] / "numpy").values())


def test_bfloat16_survives(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    original = {"w": torch.randn(3, 3).to(torch.bfloat16)}
    save_model(original, tmp_path / "m")
    assert torch.equal(load_model(tmp_path / "m")["w"], original["w"])


def test_truncated_safetensors_file(tmp_path: Path) -> None:
    save_model({"w": np.zeros((64, 64))}, tmp_path / "m")
    target = tmp_path / "m" / "model.safetensors"
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    with pytest.raises(
        ModelFormatError, match="cannot load model file .*model.safetensors"
    ) as caught:
        load_model(tmp_path / "m")
    assert caught.value.__cause__ is not None


def test_pyfunc_is_pickle_based_cloudpickle(round_trip: dict[str, Any]) -> None:
    saved = round_trip["saved"]["closure"]
    assert (saved.flavor, saved.format, saved.files, saved.pickle_based) == (
        "pyfunc",
        "pyfunc_cloudpickle",
        ["model.pkl"],
        True,
    )
    assert saved.framework == "python"
    assert saved.signature["outputs"] == [{"name": None, "type": "float64", "shape": [-1, 2]}]
    assert round_trip["saved"]["plain_pickle"].format == "pyfunc_pickle"


def test_pyfunc_predictions_match_in_a_fresh_process(round_trip: dict[str, Any], rows: Any) -> None:
    models, results = round_trip["models"], round_trip["results"]
    np.testing.assert_allclose(results["closure"], models["closure"](rows))
    np.testing.assert_allclose(results["local"], models["local"].predict(rows))
    np.testing.assert_array_equal(results["by_value"], models["by_value"].predict(rows))
    np.testing.assert_allclose(results["plain_pickle"], models["plain_pickle"](rows))


def test_pyfunc_needs_trust(round_trip: dict[str, Any]) -> None:
    with pytest.raises(UntrustedModelError, match="arbitrary code"):
        load_model(round_trip["root"] / "local")
    assert callable(load_model(round_trip["root"] / "closure", trust=True))


def test_module_level_class_without_by_value_fails_elsewhere(tmp_path: Path, rows: Any) -> None:
    # The trap by_value exists for: pickled by reference to a module the other process lacks.
    save_model(Threshold(0.0), tmp_path / "m")
    with pytest.raises(RuntimeError, match="ModuleNotFoundError|ModelFormatError"):
        predict_in_fresh_process(FreshLoad(tmp_path / "m", rows, trust=True))


def test_truncated_pickle(tmp_path: Path) -> None:
    save_model(Threshold(0.0), tmp_path / "m")
    target = tmp_path / "m" / "model.pkl"
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    with pytest.raises(ModelFormatError, match="cannot load model file .*model.pkl") as caught:
        load_model(tmp_path / "m", trust=True)
    assert caught.value.__cause__ is not None
