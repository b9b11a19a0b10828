"""XGBoost boosters and their scikit-learn wrappers, in XGBoost's own model format.

Formats and files: ``xgboost_ubj`` (default, ``model.ubj``, binary JSON) or ``xgboost_json``
(``model.json``). Both are data, not pickles. The manifest records the class (``Booster``,
``XGBClassifier``, ...) so that loading rebuilds the same wrapper; XGBoost stores the wrapper's
own attributes (classes, objective) inside the model file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..frameworks import class_path, has_base, import_class, require
from ..saved_model import SavedModel
from .base import example_signature, loading, model_file, saving

NAME = "xgboost"
FRAMEWORK = "xgboost"
INSTALL = "lineal[xgboost]"
FORMATS: tuple[str, ...] = ("xgboost_ubj", "xgboost_json")
PICKLE_FORMATS: frozenset[str] = frozenset()
_FILES = {"xgboost_ubj": "model.ubj", "xgboost_json": "model.json"}
KNOWN_FILES = {file: fmt for fmt, file in _FILES.items()}


def matches(model: Any) -> bool:
    """``xgboost.Booster`` and the ``XGBModel`` wrappers (XGBClassifier, XGBRegressor...)."""
    # Checked before scikit-learn: the wrappers are scikit-learn estimators too.
    return has_base(model, "xgboost", ("Booster", "XGBModel"))


def save(
    model: Any, folder: Path, fmt: str, input_example: Any, options: dict[str, Any]
) -> SavedModel:
    """Write the model with XGBoost's ``save_model``."""
    xgboost = require("xgboost", flavor=NAME, install=INSTALL)
    target = folder / _FILES[fmt]
    with saving(model, fmt):
        model.save_model(str(target))
    return SavedModel(
        flavor=NAME,
        format=fmt,
        framework=FRAMEWORK,
        framework_version=xgboost.__version__,
        files=[target.name],
        pickle_based=False,
        extra={"class": class_path(type(model))},
    )


def load(folder: Path, saved: SavedModel, *, trust: bool, options: dict[str, Any]) -> Any:
    """A new instance of the recorded class with the model file loaded into it."""
    xgboost = require("xgboost", flavor=NAME, install=INSTALL)
    target = model_file(folder, saved)
    cls = import_class(
        saved.extra.get("class", "xgboost.core.Booster"),
        package="xgboost",
        base=(xgboost.Booster, xgboost.XGBModel),
    )
    with loading(target):
        if issubclass(cls, xgboost.Booster):
            return cls(model_file=str(target))
        model = cls()
        model.load_model(str(target))
        return model


def signature(model: Any, input_example: Any) -> dict[str, Any] | None:
    """Inputs from the example, outputs from ``predict`` (through a DMatrix for a Booster)."""
    if has_base(model, "xgboost", ("Booster",)):
        xgboost = require("xgboost", flavor=NAME, install=INSTALL)
        return example_signature(
            input_example, lambda: model.predict(xgboost.DMatrix(input_example))
        )
    return example_signature(input_example, lambda: model.predict(input_example))
