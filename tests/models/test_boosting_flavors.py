"""XGBoost and LightGBM: native files, wrappers rebuilt on load, tampered manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lineal.models import MANIFEST_NAME, ModelFormatError, load_model, save_model
from lineal.models.testing import FreshLoad, predict_in_fresh_process

np = pytest.importorskip("numpy")
pytest.importorskip("sklearn")
from sklearn.datasets import load_diabetes, load_iris  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any, Any, Any]:
    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def diabetes() -> tuple[Any, Any, Any, Any]:
    frame = load_diabetes(as_frame=True).frame
    return train_test_split(
        frame.drop(columns="target"), frame["target"], test_size=0.2, random_state=0
    )


def _fresh(root: Path, cases: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    loads = [
        FreshLoad(root / name.split(":")[0], rows, method=method)
        for name, (rows, method) in cases.items()
    ]
    return dict(zip(cases, predict_in_fresh_process(*loads), strict=True))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.fixture(scope="module")
def xgb_round_trip(iris: Any, diabetes: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    xgboost = pytest.importorskip("xgboost")
    X_train, X_test, y_train, _ = iris
    D_train, D_test, t_train, _ = diabetes
    root = tmp_path_factory.mktemp("xgboost")
    models = {
        "classifier": xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(X_train, y_train),
        "regressor": xgboost.XGBRegressor(n_estimators=10).fit(D_train, t_train),
        "booster": xgboost.train(
            {"objective": "reg:squarederror"},
            xgboost.DMatrix(D_train.to_numpy(), label=t_train),
            10,
        ),
    }
    saved = {
        "classifier": save_model(
            models["classifier"], root / "classifier", input_example=X_train[:3]
        ),
        "regressor": save_model(models["regressor"], root / "regressor", format="xgboost_json"),
        "booster": save_model(models["booster"], root / "booster"),
    }
    results = _fresh(
        root,
        {
            "classifier": (X_test, "predict"),
            "classifier:proba": (X_test, "predict_proba"),
            "regressor": (D_test, "predict"),
            "booster": (D_test.to_numpy(), "predict"),
        },
    )
    return {"root": root, "models": models, "saved": saved, "results": results}


class TestXGBoost:
    def test_files_and_manifest(self, xgb_round_trip: Any) -> None:
        saved = xgb_round_trip["saved"]
        assert saved["classifier"].files == ["model.ubj"]
        assert saved["classifier"].extra["class"] == "xgboost.sklearn.XGBClassifier"
        assert saved["classifier"].pickle_based is False
        assert saved["classifier"].signature["outputs"][0]["shape"] == [-1]
        assert saved["regressor"].files == ["model.json"]
        assert saved["booster"].extra["class"] == "xgboost.core.Booster"

    def test_predictions_match_in_a_fresh_process(
        self, xgb_round_trip: Any, iris: Any, diabetes: Any
    ) -> None:
        xgboost = pytest.importorskip("xgboost")
        models, results = xgb_round_trip["models"], xgb_round_trip["results"]
        np.testing.assert_array_equal(results["classifier"], models["classifier"].predict(iris[1]))
        np.testing.assert_allclose(
            results["classifier:proba"], models["classifier"].predict_proba(iris[1]), rtol=1e-6
        )
        np.testing.assert_allclose(
            results["regressor"], models["regressor"].predict(diabetes[1]), rtol=1e-6
        )
        expected = models["booster"].predict(xgboost.DMatrix(diabetes[1].to_numpy()))
        np.testing.assert_allclose(results["booster"], expected, rtol=1e-6)

    def test_wrapper_class_is_rebuilt(self, xgb_round_trip: Any) -> None:
        loaded = load_model(xgb_round_trip["root"] / "classifier")
        assert type(loaded).__name__ == "XGBClassifier"
        np.testing.assert_array_equal(
            loaded.classes_, xgb_round_trip["models"]["classifier"].classes_
        )

    def test_truncated_file(self, xgb_round_trip: Any, tmp_path: Path) -> None:
        save_model(xgb_round_trip["models"]["classifier"], tmp_path / "m")
        _truncate(tmp_path / "m" / "model.ubj")
        with pytest.raises(ModelFormatError, match="cannot load model file .*model.ubj") as caught:
            load_model(tmp_path / "m")
        assert caught.value.__cause__ is not None


@pytest.fixture(scope="module")
def lgbm_round_trip(iris: Any, diabetes: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    lightgbm = pytest.importorskip("lightgbm")
    X_train, X_test, y_train, _ = iris
    D_train, D_test, t_train, _ = diabetes
    names = np.array(["setosa", "versicolor", "virginica"])
    root = tmp_path_factory.mktemp("lightgbm")
    params = {"n_estimators": 10, "num_leaves": 7, "verbose": -1}
    models = {
        # String labels: the rebuilt wrapper must map predictions back to them.
        "classifier": lightgbm.LGBMClassifier(**params).fit(X_train, names[y_train]),
        "binary": lightgbm.LGBMClassifier(**params).fit(X_train, y_train == 2),
        "regressor": lightgbm.LGBMRegressor(**params).fit(D_train, t_train),
        "booster": lightgbm.train(
            {"objective": "regression", "verbose": -1},
            lightgbm.Dataset(D_train.to_numpy(), label=t_train),
            10,
        ),
    }
    saved = {
        name: save_model(model, root / name, input_example=None) for name, model in models.items()
    }
    results = _fresh(
        root,
        {
            "classifier": (X_test, "predict"),
            "classifier:proba": (X_test, "predict_proba"),
            "binary": (X_test, "predict"),
            "binary:proba": (X_test, "predict_proba"),
            "regressor": (D_test, "predict"),
            "booster": (D_test.to_numpy(), "predict"),
        },
    )
    return {"root": root, "models": models, "saved": saved, "results": results}


class TestLightGBM:
    def test_files_and_manifest(self, lgbm_round_trip: Any) -> None:
        saved = lgbm_round_trip["saved"]["classifier"]
        assert (saved.flavor, saved.format, saved.files) == (
            "lightgbm",
            "lightgbm_txt",
            ["model.txt"],
        )
        assert saved.extra["class"] == "lightgbm.sklearn.LGBMClassifier"
        assert saved.extra["wrapper"]["classes"] == ["setosa", "versicolor", "virginica"]
        assert lgbm_round_trip["saved"]["booster"].extra["class"] == "lightgbm.basic.Booster"

    def test_predictions_match_in_a_fresh_process(
        self, lgbm_round_trip: Any, iris: Any, diabetes: Any
    ) -> None:
        models, results = lgbm_round_trip["models"], lgbm_round_trip["results"]
        for name in ("classifier", "binary"):
            np.testing.assert_array_equal(results[name], models[name].predict(iris[1]))
            np.testing.assert_allclose(
                results[f"{name}:proba"], models[name].predict_proba(iris[1]), rtol=1e-6
            )
        np.testing.assert_allclose(
            results["regressor"], models["regressor"].predict(diabetes[1]), rtol=1e-6
        )
        np.testing.assert_allclose(
            results["booster"], models["booster"].predict(diabetes[1].to_numpy()), rtol=1e-6
        )

    def test_rebuilt_wrapper_behaves_like_the_original(
        self, lgbm_round_trip: Any, diabetes: Any
    ) -> None:
        loaded = load_model(lgbm_round_trip["root"] / "regressor")
        original = lgbm_round_trip["models"]["regressor"]
        assert type(loaded) is type(original)
        assert loaded.get_params() == original.get_params()
        assert list(loaded.feature_names_in_) == list(original.feature_names_in_)
        assert loaded.n_features_in_ == original.n_features_in_
        classifier = load_model(lgbm_round_trip["root"] / "classifier")
        assert list(classifier.classes_) == ["setosa", "versicolor", "virginica"]

    # LightGBM's parser aborts the process on these files; the flavor must refuse them first.
    def test_truncated_file(self, lgbm_round_trip: Any, tmp_path: Path) -> None:
        save_model(lgbm_round_trip["models"]["regressor"], tmp_path / "m")
        _truncate(tmp_path / "m" / "model.txt")
        with pytest.raises(
            ModelFormatError, match=r"model.txt: no '(Tree=\d+|end of trees)' line .*truncated"
        ):
            load_model(tmp_path / "m")

    def test_file_missing_a_tree_chunk(self, lgbm_round_trip: Any, tmp_path: Path) -> None:
        save_model(lgbm_round_trip["models"]["regressor"], tmp_path / "m")
        target = tmp_path / "m" / "model.txt"
        text = target.read_bytes()
        start = text.index(b"\nTree=1")
        target.write_bytes(text[:start] + text[start + 200 :])
        with pytest.raises(ModelFormatError, match="model.txt: no 'Tree=1' line"):
            load_model(tmp_path / "m")

    def test_garbage_file(self, lgbm_round_trip: Any, tmp_path: Path) -> None:
        save_model(lgbm_round_trip["models"]["regressor"], tmp_path / "m")
        (tmp_path / "m" / "model.txt").write_bytes(b"\x00garbage")
        with pytest.raises(ModelFormatError, match="model.txt: it does not start with"):
            load_model(tmp_path / "m")


@pytest.mark.parametrize(
    ("package", "forged"), [("xgboost", "os.system"), ("lightgbm", "lightgbm.basic.Dataset")]
)
def test_manifest_cannot_name_an_arbitrary_class(
    package: str, forged: str, tmp_path: Path, diabetes: Any
) -> None:
    framework = pytest.importorskip(package)
    model = (
        framework.XGBRegressor(n_estimators=2)
        if package == "xgboost"
        else framework.LGBMRegressor(n_estimators=2, verbose=-1)
    ).fit(diabetes[0], diabetes[2])
    save_model(model, tmp_path / "m")
    manifest = tmp_path / "m" / MANIFEST_NAME
    data = json.loads(manifest.read_text())
    data["extra"]["class"] = forged
    manifest.write_text(json.dumps(data))
    with pytest.raises(ModelFormatError, match="refusing to rebuild"):
        load_model(tmp_path / "m")
