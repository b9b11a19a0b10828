"""Save trained models to a folder and load them back, one flavor per framework.

    >>> from lineal.models import save_model, load_model
    >>> saved = save_model(pipeline, "out/iris", input_example=X_test[:5])   # doctest: +SKIP
    >>> model = load_model("out/iris")                                        # doctest: +SKIP

A saved folder holds the model files and ``lineal-model.json`` (a :class:`SavedModel`).
Flavors: sklearn (skops, joblib, pickle; optional ONNX export), torch (state dict + TorchScript,
or TorchScript only), onnx, xgboost, lightgbm, keras, safetensors (dicts of tensors) and pyfunc
(anything with ``predict`` or a callable, pickled). Importing this package imports no framework;
each flavor imports its own when it saves or loads.
"""

from __future__ import annotations

from .errors import (
    MissingFrameworkError,
    ModelFormatError,
    UnsupportedModelError,
    UntrustedModelError,
)
from .saved_model import MANIFEST_NAME, SavedModel
from .serialization import detect_flavor, load_model, save_model
from .signature import infer_signature

__all__ = [
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
