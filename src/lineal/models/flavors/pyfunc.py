"""Any other object with a callable ``predict``, or any plain callable, pickled.

Formats and files: ``pyfunc_cloudpickle`` (default when cloudpickle is installed) or
``pyfunc_pickle``, both ``model.pkl``. Both are pickle-based: loading needs ``trust=True``.

cloudpickle stores functions and classes defined in ``__main__``, in a notebook or inside
another function by value, so they load in a process that lacks them; objects from importable
modules are stored by reference, so their module must be importable where the model loads.
List modules to store by value with the ``by_value`` option (modules, not names).
"""

from __future__ import annotations

import pickle
import platform
from pathlib import Path
from types import ModuleType
from typing import Any

from ..frameworks import class_path, require
from ..saved_model import SavedModel
from .base import example_signature, loading, model_file, require_trust, saving

NAME = "pyfunc"
FRAMEWORK = "python"
INSTALL = "cloudpickle"
FORMATS: tuple[str, ...] = ("pyfunc_cloudpickle", "pyfunc_pickle")
PICKLE_FORMATS = frozenset(FORMATS)
FILE = "model.pkl"
KNOWN_FILES = {FILE: "pyfunc_pickle"}


def default_format() -> str:
    """cloudpickle when installed, because plain pickle cannot store lambdas or local classes."""
    try:
        import cloudpickle  # noqa: F401
    except ImportError:
        return "pyfunc_pickle"
    return "pyfunc_cloudpickle"


def matches(model: Any) -> bool:
    """Objects with a callable ``predict``, and plain callables; classes and modules are not."""
    if isinstance(model, (type, ModuleType)):
        return False
    return callable(getattr(model, "predict", None)) or callable(model)


def save(
    model: Any, folder: Path, fmt: str, input_example: Any, options: dict[str, Any]
) -> SavedModel:
    """Pickle ``model`` into ``model.pkl``."""
    by_value: list[ModuleType] = list(options.pop("by_value", []))
    target = folder / FILE
    extra: dict[str, Any] = {"class": class_path(type(model))}
    with saving(model, fmt), target.open("wb") as handle:
        if fmt == "pyfunc_cloudpickle":
            cloudpickle = require("cloudpickle", flavor=NAME, install=INSTALL)
            extra["cloudpickle_version"] = cloudpickle.__version__
            for module in by_value:
                cloudpickle.register_pickle_by_value(module)
            try:
                cloudpickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
            finally:
                for module in by_value:
                    cloudpickle.unregister_pickle_by_value(module)
        else:
            pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return SavedModel(
        flavor=NAME,
        format=fmt,
        framework=FRAMEWORK,
        # Pickles are tied to the Python version more than to any library.
        framework_version=platform.python_version(),
        files=[FILE],
        pickle_based=True,
        extra=extra,
    )


def load(folder: Path, saved: SavedModel, *, trust: bool, options: dict[str, Any]) -> Any:
    """Unpickle the object, only with ``trust=True``."""
    target = model_file(folder, saved)
    require_trust(target, saved.format, trust)
    # cloudpickle output is ordinary pickle data; pickle imports cloudpickle itself if needed.
    with loading(target), target.open("rb") as handle:
        return pickle.load(handle)


def signature(model: Any, input_example: Any) -> dict[str, Any] | None:
    """Inputs from the example, outputs from ``predict`` (or the call) on it."""
    run = getattr(model, "predict", None)
    if not callable(run):
        run = model
    return example_signature(input_example, lambda: run(input_example))
