"""scikit-learn: skops, joblib and pickle round trips, trust rules, ONNX export, corrupt files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lineal.models import ModelFormatError, UntrustedModelError, load_model, save_model
from lineal.models.testing import FreshLoad, predict_in_fresh_process

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")
pytest.importorskip("skops")

from sklearn.base import BaseEstimator, RegressorMixin  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_diabetes, load_iris  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler  # noqa: E402


class MeanRegressor(RegressorMixin, BaseEstimator):
    """An estimator defined outside scikit-learn, so skops does not trust it."""

    def fit(self, X: Any, y: Any) -> MeanRegressor:
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X: Any) -> Any:
        return np.full(len(X), self.mean_)


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any, Any, Any]:
    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def frame() -> tuple[Any, Any, Any, Any]:
    data = load_diabetes(as_frame=True).frame
    data["sex"] = np.where(data["sex"] > 0, "f", "m")
    X, y = data.drop(columns="target"), data["target"]
    return train_test_split(X, y, test_size=0.2, random_state=0)


@pytest.fixture(scope="module")
def round_trip(iris: Any, frame: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Train, save every format, load all in one fresh process; keep models and results."""
    X_train, X_test, y_train, _ = iris
    F_train, F_test, t_train, _ = frame
    root = tmp_path_factory.mktemp("sklearn")
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        X_train, y_train
    )
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X_train, y_train)
    mixed = make_pipeline(
        ColumnTransformer([("sex", OneHotEncoder(), ["sex"])], remainder="passthrough"), Ridge()
    ).fit(F_train, t_train)
    saved = {
        "pipeline": save_model(
            pipeline, root / "pipeline", input_example=X_train[:5], export_onnx=True
        ),
        "forest": save_model(forest, root / "forest"),
        "mixed": save_model(mixed, root / "mixed", input_example=F_train.head(3)),
        "joblib": save_model(pipeline, root / "joblib", format="joblib"),
        "pickle": save_model(pipeline, root / "pickle", format="pickle"),
    }
    loads = [
        FreshLoad(root / "pipeline", X_test),
        FreshLoad(root / "pipeline", X_test, method="predict_proba"),
        FreshLoad(root / "pipeline", X_test.astype(np.float32), method="onnx"),
        FreshLoad(root / "forest", X_test, method="predict_proba"),
        FreshLoad(root / "mixed", F_test),
        FreshLoad(root / "joblib", X_test, trust=True),
        FreshLoad(root / "pickle", X_test, trust=True),
    ]
    names = ["pipeline", "pipeline_proba", "pipeline_onnx", "forest", "mixed", "joblib", "pickle"]
    results = dict(zip(names, predict_in_fresh_process(*loads), strict=True))
    return {
        "root": root,
        "saved": saved,
        "results": results,
        "models": {"pipeline": pipeline, "forest": forest, "mixed": mixed},
    }


def test_skops_is_the_default_and_not_pickle_based(round_trip: dict[str, Any]) -> None:
    saved = round_trip["saved"]["pipeline"]
    assert (saved.flavor, saved.format, saved.pickle_based) == ("sklearn", "skops", False)
    assert saved.files == ["model.skops", "model.onnx"]
    assert saved.extra["class"] == "sklearn.pipeline.Pipeline"
    assert saved.signature["inputs"] == [{"name": None, "type": "float64", "shape": [-1, 4]}]


def test_skops_pipeline_predicts_the_same_in_a_fresh_process(
    round_trip: dict[str, Any], iris: Any
) -> None:
    X_test = iris[1]
    model, results = round_trip["models"]["pipeline"], round_trip["results"]
    np.testing.assert_array_equal(results["pipeline"], model.predict(X_test))
    np.testing.assert_allclose(results["pipeline_proba"], model.predict_proba(X_test))


def test_forest_loads_without_trust(round_trip: dict[str, Any], iris: Any) -> None:
    # Forests hold sklearn.tree._tree.Tree, which skops does not trust by default: lineal vouches
    # for scikit-learn classes, so the fresh process loaded it with trust=False.
    expected = round_trip["models"]["forest"].predict_proba(iris[1])
    np.testing.assert_allclose(round_trip["results"]["forest"], expected)


def test_dataframe_pipeline_round_trip(round_trip: dict[str, Any], frame: Any) -> None:
    expected = round_trip["models"]["mixed"].predict(frame[1])
    np.testing.assert_allclose(round_trip["results"]["mixed"], expected)
    inputs = round_trip["saved"]["mixed"].signature["inputs"]
    assert {"name": "sex", "type": "string", "shape": [-1]} in inputs


def test_onnx_export_matches_sklearn_on_held_out_rows(
    round_trip: dict[str, Any], iris: Any
) -> None:
    onnx_info = round_trip["saved"]["pipeline"].extra["onnx"]
    assert onnx_info["file"] == "model.onnx"
    assert onnx_info["float64_inputs_as_float32"] is True
    np.testing.assert_array_equal(
        round_trip["results"]["pipeline_onnx"], round_trip["models"]["pipeline"].predict(iris[1])
    )


def test_onnx_export_of_a_regressor_is_allclose(tmp_path: Path, frame: Any) -> None:
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    numeric_train, numeric_test = frame[0].drop(columns="sex"), frame[1].drop(columns="sex")
    model = make_pipeline(StandardScaler(), Ridge()).fit(numeric_train.to_numpy(), frame[2])
    save_model(model, tmp_path / "m", input_example=numeric_train.to_numpy()[:2], export_onnx=True)
    session = ort.InferenceSession(
        str(tmp_path / "m" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    rows = numeric_test.to_numpy()
    [onnx_out] = session.run(None, {session.get_inputs()[0].name: rows.astype(np.float32)})
    np.testing.assert_allclose(onnx_out.ravel(), model.predict(rows), rtol=1e-4, atol=1e-3)


def test_export_onnx_needs_an_input_example(tmp_path: Path, round_trip: dict[str, Any]) -> None:
    with pytest.raises(ModelFormatError, match="needs input_example"):
        save_model(round_trip["models"]["pipeline"], tmp_path / "m", export_onnx=True)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("fmt", ["joblib", "pickle"])
def test_pickle_formats_need_trust(fmt: str, round_trip: dict[str, Any], iris: Any) -> None:
    saved = round_trip["saved"][fmt]
    assert saved.pickle_based is True
    with pytest.raises(UntrustedModelError, match="arbitrary code"):
        load_model(round_trip["root"] / fmt)
    expected = round_trip["models"]["pipeline"].predict(iris[1])
    np.testing.assert_array_equal(round_trip["results"][fmt], expected)
    assert type(load_model(round_trip["root"] / fmt, trust=True)).__name__ == "Pipeline"


def test_skops_with_a_foreign_class_needs_trust(tmp_path: Path, iris: Any) -> None:
    X_train, X_test, y_train, _ = iris
    model = MeanRegressor().fit(X_train, y_train)
    save_model(model, tmp_path / "m")
    with pytest.raises(UntrustedModelError, match="MeanRegressor"):
        load_model(tmp_path / "m")
    np.testing.assert_array_equal(
        load_model(tmp_path / "m", trust=True).predict(X_test), model.predict(X_test)
    )


def test_skops_with_a_function_reference_needs_trust(tmp_path: Path, iris: Any) -> None:
    # Functions, unlike classes, get called on predict: even numpy ones are not vouched for.
    X_train, X_test, y_train, _ = iris
    model = make_pipeline(FunctionTransformer(np.round), LogisticRegression(max_iter=500))
    model.fit(X_train, y_train)
    save_model(model, tmp_path / "m")
    with pytest.raises(UntrustedModelError, match="numpy.round"):
        load_model(tmp_path / "m")
    np.testing.assert_array_equal(
        load_model(tmp_path / "m", trust=True).predict(X_test), model.predict(X_test)
    )


@pytest.mark.parametrize("fmt", ["skops", "joblib"])
def test_truncated_file_is_a_model_format_error(
    fmt: str, tmp_path: Path, round_trip: dict[str, Any]
) -> None:
    saved = save_model(round_trip["models"]["pipeline"], tmp_path / "m", format=fmt)
    target = tmp_path / "m" / saved.files[0]
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    with pytest.raises(ModelFormatError, match=f"cannot load model file .*{target.name}") as caught:
        load_model(tmp_path / "m", trust=True)
    assert caught.value.__cause__ is not None


def test_missing_model_file_is_named(tmp_path: Path, round_trip: dict[str, Any]) -> None:
    save_model(round_trip["models"]["pipeline"], tmp_path / "m")
    (tmp_path / "m" / "model.skops").unlink()
    with pytest.raises(ModelFormatError, match="model.skops is missing"):
        load_model(tmp_path / "m")


def test_skops_bytes_are_the_same_for_the_same_model_in_any_process(tmp_path: Path) -> None:
    """Same model, same bytes: the store dedupes it and a reproduced run can match its digest."""
    import hashlib
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from sklearn.datasets import load_iris\n"
        "from sklearn.ensemble import RandomForestClassifier\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler\n"
        "from lineal.models import save_model, load_model\n"
        "x, y = load_iris(return_X_y=True)\n"
        "model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)\n"
        "save_model(model, sys.argv[1] + '/logreg')\n"
        "save_model(RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y),"
        " sys.argv[1] + '/forest')\n"
        "assert (load_model(sys.argv[1] + '/logreg').predict(x) == model.predict(x)).all()\n"
    )
    digests = []
    for attempt in ("a", "b"):
        folder = tmp_path / attempt
        folder.mkdir()
        subprocess.run([sys.executable, "-c", script, str(folder)], check=True)
        digests.append({
            name: hashlib.sha256((folder / name / "model.skops").read_bytes()).hexdigest()
            for name in ("logreg", "forest")
        })
    assert digests[0] == digests[1]


def test_skops_with_a_hostile_numpy_class_needs_trust_and_deletes_nothing(
    tmp_path: Path, iris: Any
) -> None:
    # numpy.lib._datasource.DataSource removes its folder when garbage collected, and skops
    # restores that folder from the file: trusting "any numpy class" deleted a folder of the
    # file author's choosing. Only listed types load without trust.
    import gc

    from numpy.lib._datasource import DataSource

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    X_train, _, y_train, _ = iris
    model = LogisticRegression(max_iter=500).fit(X_train, y_train)
    hostile = DataSource()
    own_folder = hostile._destpath
    hostile._destpath = str(victim)
    model.cache_ = hostile
    try:
        save_model(model, tmp_path / "m")
    finally:
        hostile._destpath = own_folder  # this test's own object must not delete the victim
    del model, hostile
    with pytest.raises(UntrustedModelError, match="DataSource"):
        load_model(tmp_path / "m")
    gc.collect()
    assert (victim / "keep.txt").read_text() == "precious"


def test_every_trusted_type_name_exists_in_the_installed_packages() -> None:
    # A misspelt or renamed entry would silently stop trusting a type estimators need.
    import importlib

    from lineal.models.flavors.sklearn import TRUSTED_TYPES

    missing = []
    for name in sorted(TRUSTED_TYPES):
        module, _, attribute = name.rpartition(".")
        try:
            getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError):
            missing.append(name)
    assert missing == []


@pytest.mark.parametrize("make", [
    lambda: __import__("sklearn.ensemble", fromlist=["x"]).HistGradientBoostingClassifier(max_iter=5),
    lambda: __import__("sklearn.neighbors", fromlist=["x"]).KNeighborsClassifier(metric="manhattan"),
    lambda: __import__("sklearn.gaussian_process", fromlist=["x"]).GaussianProcessClassifier(),
    lambda: __import__("sklearn.neural_network", fromlist=["x"]).MLPClassifier(max_iter=20),
    lambda: __import__("sklearn.feature_selection", fromlist=["x"]).SelectKBest(k=2),
])
def test_fitted_scikit_learn_internals_load_without_trust(
    make: Any, tmp_path: Path, iris: Any
) -> None:
    import warnings

    X_train, X_test, y_train, _ = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make().fit(X_train, y_train)
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(model)


def test_every_public_estimator_is_trusted_and_nothing_outside_scikit_learn() -> None:
    from sklearn.utils import all_estimators

    from lineal.models.flavors.sklearn import _public_estimator

    assert all(_public_estimator(f"{cls.__module__}.{cls.__name__}") for _, cls in all_estimators())
    assert not _public_estimator("numpy.lib.npyio.DataSource")
    assert not _public_estimator("sklearn.utils._testing.MinimalClassifier")
