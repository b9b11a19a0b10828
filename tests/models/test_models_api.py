"""The public surface of lineal.models: exports, detection, folders, manifests, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

import lineal.models
from lineal.models import (
    MANIFEST_NAME,
    ModelFormatError,
    SavedModel,
    UnsupportedModelError,
    UntrustedModelError,
    detect_flavor,
    load_model,
    save_model,
)

SRC = Path(lineal.models.__file__).resolve().parents[2]
FRAMEWORKS = (
    "cloudpickle",
    "keras",
    "lightgbm",
    "onnx",
    "onnxruntime",
    "safetensors",
    "skl2onnx",
    "skops",
    "tensorflow",
    "torch",
    "xgboost",
)


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter that can import this lineal; return its stdout."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    )
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_exports_are_exactly_the_public_api() -> None:
    assert lineal.models.__all__ == [
        "MANIFEST_NAME",
        "MissingFrameworkError",
        "ModelFormatError",
        "SavedModel",
        "UnsupportedModelError",
        "UntrustedModelError",
        "detect_flavor",
        "infer_signature",
        "load_model",
        "save_model",
    ]
    assert issubclass(UntrustedModelError, ModelFormatError)
    assert issubclass(UnsupportedModelError, ModelFormatError)
    assert issubclass(lineal.models.MissingFrameworkError, ImportError)


def test_importing_lineal_models_imports_no_framework() -> None:
    out = run_python(f"""
        import json, sys
        import lineal.models, lineal.models.flavors
        heavy = {FRAMEWORKS + ("numpy", "pandas", "sklearn", "joblib")!r}
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
    """)
    assert json.loads(out) == []


def test_detect_flavor_imports_no_framework_beyond_the_models_own() -> None:
    out = run_python(f"""
        import json, sys
        import numpy as np
        from sklearn.linear_model import LinearRegression
        from lineal.models import UnsupportedModelError, detect_flavor

        class Scorer:
            def predict(self, rows):
                return rows

        before = set(sys.modules)
        found = [detect_flavor(LinearRegression()), detect_flavor({{"w": np.zeros(2)}}),
                 detect_flavor(Scorer()), detect_flavor(len)]
        try:
            detect_flavor("not a model")
        except UnsupportedModelError:
            found.append("unsupported")
        print(json.dumps({{
            "found": found,
            "new_modules": sorted(set(sys.modules) - before),
            # sklearn itself imports cloudpickle (through joblib), so it is not checked here.
            "frameworks": sorted(m for m in sys.modules
                                 if m.split(".")[0] in {FRAMEWORKS!r} and "cloudpickle" not in m),
        }}))
    """)
    assert json.loads(out) == {
        "found": ["sklearn", "safetensors", "pyfunc", "pyfunc", "unsupported"],
        "new_modules": [],
        "frameworks": [],
    }


def _sklearn_pipeline() -> Any:
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression())


def _xgb_classifier() -> Any:
    return pytest.importorskip("xgboost").XGBClassifier(n_estimators=2)


def _lgbm_regressor() -> Any:
    return pytest.importorskip("lightgbm").LGBMRegressor(n_estimators=2)


def _torch_module() -> Any:
    return pytest.importorskip("torch").nn.Linear(3, 1)


def _torch_script() -> Any:
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated, still used
        return torch.jit.script(torch.nn.Linear(3, 1))


def _onnx_proto() -> Any:
    helper = pytest.importorskip("onnx").helper
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "relu",
        [helper.make_tensor_value_info("x", 1, [None, 3])],
        [helper.make_tensor_value_info("y", 1, [None, 3])],
    )
    return helper.make_model(graph)


def _torch_tensors() -> Any:
    return {"weight": pytest.importorskip("torch").zeros(2, 2)}


def _numpy_arrays() -> Any:
    return {"weight": pytest.importorskip("numpy").zeros((2, 2))}


class _Predictor:
    def predict(self, rows: Any) -> Any:
        return rows


@pytest.mark.parametrize(
    ("make", "flavor"),
    [
        (_sklearn_pipeline, "sklearn"),
        (_xgb_classifier, "xgboost"),
        (_lgbm_regressor, "lightgbm"),
        (_torch_module, "torch"),
        (_torch_script, "torch"),
        (_onnx_proto, "onnx"),
        (_torch_tensors, "safetensors"),
        (_numpy_arrays, "safetensors"),
        (lambda: _Predictor(), "pyfunc"),
        (lambda: lambda rows: rows, "pyfunc"),
    ],
    ids=[
        "sklearn",
        "xgboost-wrapper",
        "lightgbm-wrapper",
        "torch",
        "torchscript",
        "onnx",
        "torch-tensors",
        "numpy-arrays",
        "predict-object",
        "callable",
    ],
)
def test_detect_flavor(make: Any, flavor: str) -> None:
    assert detect_flavor(make()) == flavor


@pytest.mark.parametrize(
    "obj",
    ["a string", 42, 3.5, None, {}, {"w": [1, 2]}, _Predictor],
    ids=["str", "int", "float", "none", "empty-dict", "dict-of-lists", "class"],
)
def test_unsupported_objects_name_their_type_and_the_flavors(obj: Any, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModelError) as caught:
        save_model(obj, tmp_path / "model")
    message = str(caught.value)
    assert f"{type(obj).__module__}.{type(obj).__qualname__}" in message
    for expected in (
        "sklearn",
        "torch",
        "onnx",
        "xgboost",
        "lightgbm",
        "keras",
        "safetensors",
        "pyfunc",
        "pip install 'lineal[sklearn]'",
    ):
        assert expected in message
    assert not (tmp_path / "model").exists()


def test_mixed_tensor_dict_is_unsupported() -> None:
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    with pytest.raises(UnsupportedModelError):
        detect_flavor({"a": np.zeros(1), "b": torch.zeros(1)})


def test_saved_model_round_trips_through_a_dict() -> None:
    saved = SavedModel(
        flavor="sklearn",
        format="skops",
        framework="sklearn",
        framework_version="1.5.0",
        files=["model.skops"],
        pickle_based=False,
        signature={"inputs": [], "outputs": []},
        extra={"class": "x.Y"},
    )
    data = json.loads(json.dumps(saved.to_dict()))
    assert SavedModel.from_dict(data) == saved


def test_manifest_from_a_newer_lineal_is_refused() -> None:
    data = {
        "flavor": "sklearn",
        "format": "skops",
        "framework": "sklearn",
        "framework_version": "1",
        "files": [],
        "pickle_based": False,
        "manifest_version": 99,
    }
    with pytest.raises(ModelFormatError, match="newer"):
        SavedModel.from_dict(data)
    with pytest.raises(ModelFormatError, match="missing files, pickle_based"):
        SavedModel.from_dict(
            {k: data[k] for k in ("flavor", "format", "framework", "framework_version")}
        )


def _save_pipeline(folder: Path) -> SavedModel:
    np = pytest.importorskip("numpy")
    rows = np.random.default_rng(0).normal(size=(20, 3))
    return save_model(_sklearn_pipeline().fit(rows, rows[:, 0] > 0), folder)


def test_manifest_is_written_beside_the_files(tmp_path: Path) -> None:
    saved = _save_pipeline(tmp_path / "m")
    on_disk = json.loads((tmp_path / "m" / MANIFEST_NAME).read_text())
    assert SavedModel.from_dict(on_disk) == saved
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == sorted(
        [MANIFEST_NAME, *saved.files]
    )


def test_saving_into_a_non_empty_folder_fails(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        _save_pipeline(tmp_path / "m")
    assert (tmp_path / "m" / "keep.txt").read_text() == "mine"


def test_saving_into_an_existing_empty_folder_works(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    assert _save_pipeline(tmp_path / "m").files == ["model.skops"]


def test_a_failed_save_leaves_nothing_behind(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    rows = np.random.default_rng(0).normal(size=(20, 3))
    model = _sklearn_pipeline().fit(rows, rows[:, 0] > 0)
    with pytest.raises(TypeError, match="does not take option"):
        save_model(model, tmp_path / "new", colour="blue")
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(TypeError):
        save_model(model, tmp_path / "empty", colour="blue")
    assert list((tmp_path / "empty").iterdir()) == []


def test_explicit_flavor_and_format_are_checked(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    rows = np.random.default_rng(0).normal(size=(20, 3))
    model = _sklearn_pipeline().fit(rows, rows[:, 0] > 0)
    with pytest.raises(UnsupportedModelError, match="torch flavor does not handle"):
        save_model(model, tmp_path / "a", flavor="torch")
    with pytest.raises(ValueError, match="known flavors"):
        save_model(model, tmp_path / "b", flavor="tensorflow-lite")
    with pytest.raises(ValueError, match="not format='onnx'"):
        save_model(model, tmp_path / "c", format="onnx")
    saved = save_model(model, tmp_path / "d", flavor="pyfunc")  # any predict() object qualifies
    assert (saved.flavor, saved.pickle_based) == ("pyfunc", True)


def test_loading_checks_folder_and_manifest(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFormatError, match="not written by lineal"):
        load_model(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(ModelFormatError, match="cannot read model manifest"):
        load_model(tmp_path / "bad")


def test_manifest_paths_cannot_leave_the_folder(tmp_path: Path) -> None:
    saved = _save_pipeline(tmp_path / "m")
    data = saved.to_dict() | {"files": ["../../etc/passwd"]}
    (tmp_path / "m" / MANIFEST_NAME).write_text(json.dumps(data))
    with pytest.raises(ModelFormatError, match="outside the folder"):
        load_model(tmp_path / "m")


def test_flavor_hint_must_match_and_can_replace_a_missing_manifest(tmp_path: Path) -> None:
    _save_pipeline(tmp_path / "m")
    with pytest.raises(ModelFormatError, match="holds a sklearn model, not torch"):
        load_model(tmp_path / "m", flavor_hint="torch")
    (tmp_path / "m" / MANIFEST_NAME).unlink()
    assert type(load_model(tmp_path / "m", flavor_hint="sklearn")).__name__ == "Pipeline"
    with pytest.raises(ModelFormatError, match="none of the onnx files"):
        load_model(tmp_path / "m", flavor_hint="onnx")


def test_unknown_load_options_are_rejected(tmp_path: Path) -> None:
    _save_pipeline(tmp_path / "m")
    with pytest.raises(TypeError, match="model_class"):
        load_model(tmp_path / "m", model_class=object)


def test_untrusted_error_says_why_and_how(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    rows = np.random.default_rng(0).normal(size=(20, 3))
    save_model(_sklearn_pipeline().fit(rows, rows[:, 0] > 0), tmp_path / "m", format="pickle")
    with pytest.raises(UntrustedModelError) as caught:
        load_model(tmp_path / "m")
    assert "arbitrary code" in str(caught.value)
    assert "trust=True" in str(caught.value)
    assert "model.pkl" in str(caught.value)


def _fake_class(module: str, name: str, *bases: type) -> type:
    """A class that claims to live in ``module``: detection reads module names, nothing else."""
    return type(name, bases, {"__module__": module})


def test_keras_is_detected_without_keras_and_before_torch() -> None:
    keras_model = _fake_class("keras.src.models.model", "Model")
    assert detect_flavor(keras_model()) == "keras"
    # Under Keras 3's torch backend a Keras model is also a torch.nn.Module: Keras must win.
    torch_module = _fake_class("torch.nn.modules.module", "Module")
    both = _fake_class("keras.src.models.sequential", "Sequential", keras_model, torch_module)
    assert detect_flavor(both()) == "keras"


def test_missing_framework_names_what_to_install(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Keras is installed with the dev extras: hide it (a None entry makes `import keras` fail).
    for name in [m for m in sys.modules if m == "keras" or m.startswith("keras.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "keras", None)
    fake = _fake_class("keras.src.models.model", "Model")()
    with pytest.raises(lineal.models.MissingFrameworkError, match="pip install 'keras'"):
        save_model(fake, tmp_path / "m")
    with pytest.raises(ImportError):  # MissingFrameworkError is an ImportError too
        save_model(fake, tmp_path / "m")
    assert not (tmp_path / "m").exists()
