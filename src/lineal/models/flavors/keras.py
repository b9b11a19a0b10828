"""Keras models, in the native ``.keras`` zip format (``model.keras``).

Loading uses ``keras.saving.load_model`` with ``safe_mode=True`` unless ``trust=True``: safe mode
refuses to deserialise Python lambdas (``Lambda`` layers), which would run arbitrary bytecode.
So a model without lambdas loads without trust and is recorded as not pickle-based.

Options when loading:
    custom_objects (dict): classes and functions the model refers to by name.
    compile (bool, default True): also restore the optimizer and loss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..frameworks import has_base, require
from ..saved_model import SavedModel
from .base import example_signature, loading, model_file, saving

NAME = "keras"
FRAMEWORK = "keras"
INSTALL = "keras"
FORMATS: tuple[str, ...] = ("keras",)
PICKLE_FORMATS: frozenset[str] = frozenset()
FILE = "model.keras"
KNOWN_FILES = {FILE: "keras"}


def matches(model: Any) -> bool:
    """Keras models (Keras 3, or tf.keras / tf_keras); checked before torch, since with the
    torch backend a Keras model is also a ``torch.nn.Module``."""
    return any(
        has_base(model, package, ("Model", "Functional", "Sequential"))
        for package in ("keras", "tf_keras")
    ) or _tf_keras_model(model)


def save(
    model: Any, folder: Path, fmt: str, input_example: Any, options: dict[str, Any]
) -> SavedModel:
    """Write ``model.keras`` with ``model.save``."""
    keras = require("keras", flavor=NAME, install=INSTALL)
    with saving(model, fmt):
        model.save(str(folder / FILE))
    return SavedModel(
        flavor=NAME,
        format=fmt,
        framework=FRAMEWORK,
        framework_version=keras.__version__,
        files=[FILE],
        pickle_based=False,
        extra={"backend": _backend(keras)},
    )


def load(folder: Path, saved: SavedModel, *, trust: bool, options: dict[str, Any]) -> Any:
    """The Keras model; lambdas in it only load with ``trust=True``."""
    keras = require("keras", flavor=NAME, install=INSTALL)
    target = model_file(folder, saved)
    custom_objects = options.pop("custom_objects", None)
    compile_model = bool(options.pop("compile", True))
    with loading(target):
        return keras.saving.load_model(
            str(target), custom_objects=custom_objects, compile=compile_model, safe_mode=not trust
        )


def signature(model: Any, input_example: Any) -> dict[str, Any] | None:
    """Inputs from the example, outputs from ``model.predict`` on it."""
    return example_signature(input_example, lambda: model.predict(input_example, verbose=0))


def _tf_keras_model(model: Any) -> bool:
    # tf.keras classes live under tensorflow (tensorflow.python.keras / keras.src when aliased).
    return any(
        cls.__module__.startswith(("tensorflow.python.keras", "tensorflow.keras"))
        and cls.__name__ in ("Model", "Functional", "Sequential")
        for cls in type(model).__mro__
    )


def _backend(keras: Any) -> str:
    try:
        return str(keras.backend.backend())
    except Exception:  # Keras 2 has no backend(): it is always TensorFlow
        return "tensorflow"
