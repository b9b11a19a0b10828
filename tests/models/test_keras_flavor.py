"""Keras: the .keras format, when Keras is installed (it is an optional framework)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from lineal.models import ModelFormatError, detect_flavor, load_model, save_model
from lineal.models.testing import FreshLoad, predict_in_fresh_process

np = pytest.importorskip("numpy")
# Keras 3 runs on a backend of the user's choice; torch is the one installed with the dev extras.
# Set before keras is imported here, and inherited by the fresh processes that load the model.
os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip(
    "keras", reason="Keras is not installed; the keras flavor is optional and untested here"
)


def _model() -> Any:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype("float32")
    y = (X[:, 0] > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(X, y, epochs=2, verbose=0)
    return model, X


def test_keras_round_trip_in_a_fresh_process(tmp_path: Path) -> None:
    model, X = _model()
    assert detect_flavor(model) == "keras"
    saved = save_model(model, tmp_path / "m", input_example=X[:2])
    assert (saved.format, saved.files, saved.pickle_based) == ("keras", ["model.keras"], False)
    [predicted] = predict_in_fresh_process(FreshLoad(tmp_path / "m", X))
    np.testing.assert_allclose(predicted, model.predict(X, verbose=0), rtol=1e-5, atol=1e-6)


def test_lambda_layers_need_trust(tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: t * 2)])
    save_model(model, tmp_path / "m")
    with pytest.raises(ModelFormatError):
        load_model(tmp_path / "m")
    assert load_model(tmp_path / "m", trust=True) is not None


def test_truncated_file(tmp_path: Path) -> None:
    model, _ = _model()
    save_model(model, tmp_path / "m")
    target = tmp_path / "m" / "model.keras"
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    with pytest.raises(ModelFormatError, match="model.keras"):
        load_model(tmp_path / "m")
