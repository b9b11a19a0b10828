"""LightGBM boosters and their scikit-learn wrappers, in LightGBM's text model format.

Format and file: ``lightgbm_txt``, ``model.txt`` (``Booster.save_model``), which is data, not a
pickle. For a wrapper (LGBMClassifier, LGBMRegressor, LGBMRanker) the manifest also records the
class, its JSON-representable parameters and, for classifiers, the class labels; loading builds
the wrapper around the loaded Booster so ``predict`` and ``predict_proba`` behave as before.

LightGBM has no public "wrap a Booster" constructor, so rebuilding sets the attributes its
``fit`` sets; the test suite checks predictions after a round trip, which is what catches a
LightGBM release that renames them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import ModelFormatError
from ..frameworks import class_path, has_base, import_class, require
from ..saved_model import SavedModel
from .base import example_signature, loading, model_file, saving

NAME = "lightgbm"
FRAMEWORK = "lightgbm"
INSTALL = "lineal[lightgbm]"
FORMATS: tuple[str, ...] = ("lightgbm_txt",)
PICKLE_FORMATS: frozenset[str] = frozenset()
FILE = "model.txt"
KNOWN_FILES = {FILE: "lightgbm_txt"}


def matches(model: Any) -> bool:
    """``lightgbm.Booster`` and the ``LGBMModel`` wrappers."""
    # Checked before scikit-learn: the wrappers are scikit-learn estimators too.
    return has_base(model, "lightgbm", ("Booster", "LGBMModel"))


def save(
    model: Any, folder: Path, fmt: str, input_example: Any, options: dict[str, Any]
) -> SavedModel:
    """Write the booster as text; for a wrapper, record what rebuilding it needs."""
    lightgbm = require("lightgbm", flavor=NAME, install=INSTALL)
    extra: dict[str, Any] = {"class": class_path(type(model))}
    booster = model
    if isinstance(model, lightgbm.LGBMModel):
        booster = model.booster_  # raises if the wrapper was never fitted
        extra["wrapper"] = _wrapper_state(model)
    with saving(model, fmt):
        booster.save_model(str(folder / FILE))
    return SavedModel(
        flavor=NAME,
        format=fmt,
        framework=FRAMEWORK,
        framework_version=lightgbm.__version__,
        files=[FILE],
        pickle_based=False,
        extra=extra,
    )


def load(folder: Path, saved: SavedModel, *, trust: bool, options: dict[str, Any]) -> Any:
    """The Booster, or the recorded wrapper class around it."""
    lightgbm = require("lightgbm", flavor=NAME, install=INSTALL)
    target = model_file(folder, saved)
    cls = import_class(
        saved.extra.get("class", "lightgbm.basic.Booster"),
        package="lightgbm",
        base=(lightgbm.Booster, lightgbm.LGBMModel),
    )
    _check_complete(target)
    with loading(target):
        booster = lightgbm.Booster(model_file=str(target))
    if issubclass(cls, lightgbm.Booster):
        return booster
    state = saved.extra.get("wrapper")
    if not isinstance(state, dict):
        raise ModelFormatError(f"model manifest in {folder} lacks the state of {cls.__name__}")
    with loading(target):
        return _rebuild(cls, booster, state)


def signature(model: Any, input_example: Any) -> dict[str, Any] | None:
    """Inputs from the example, outputs from ``predict`` on it."""
    return example_signature(input_example, lambda: model.predict(input_example))


def _check_complete(target: Path) -> None:
    """Refuse a truncated or spliced model file before LightGBM parses it.

    LightGBM's C++ parser aborts the whole Python process on such files instead of raising. Its
    header lists the byte size of every tree (``tree_sizes``), so each ``Tree=i`` line, and the
    ``end of trees`` line after the last one, must sit exactly where those sizes put them. This
    catches truncation and lost or added bytes between trees; it cannot vouch for every byte.
    """
    with loading(target):
        text = target.read_bytes()
    if not text.startswith(b"tree\n"):
        raise ModelFormatError(
            f"cannot load model file {target}: it does not start with a LightGBM model header"
        )
    sizes = re.search(rb"^tree_sizes=([0-9 ]*)$", text, re.MULTILINE)
    offset = text.find(b"\nTree=") + 1
    if sizes is None or offset == 0:
        expected = [(text.find(b"\nend of trees") + 1, b"end of trees")]
    else:
        expected = []
        for index, size in enumerate(int(s) for s in sizes[1].split()):
            expected.append((offset, b"Tree=%d\n" % index))
            offset += size
        expected.append((offset, b"end of trees"))
    for position, marker in expected:
        if position <= 0 or not text.startswith(marker, position):
            raise ModelFormatError(
                f"cannot load model file {target}: no {marker.decode().strip()!r} line where "
                "its header says (truncated or altered file)"
            )


def _wrapper_state(model: Any) -> dict[str, Any]:
    params, skipped = {}, []
    for key, value in model.get_params(deep=False).items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            skipped.append(key)  # callables, RandomState objects...: defaults are used instead
        else:
            params[key] = value
    state: dict[str, Any] = {
        "params": params,
        "params_not_saved": skipped,
        "objective": model._objective if isinstance(model._objective, str) else None,
        "fitted_with_feature_names": bool(getattr(model, "_fitted_with_feature_names", False)),
    }
    classes = getattr(model, "_classes", None)
    if classes is not None:
        state["classes"] = classes.tolist()
        state["classes_dtype"] = str(classes.dtype)
    return state


def _rebuild(cls: type, booster: Any, state: dict[str, Any]) -> Any:
    import numpy as np  # a dependency of lightgbm, so present whenever this runs

    model = cls(**state.get("params", {}))
    # The attributes LGBMModel.fit sets (lightgbm 4.x); predict reads these and nothing else.
    model._Booster = booster
    model._n_features = booster.num_feature()
    model._n_features_in = booster.num_feature()
    model._fitted_with_feature_names = state.get("fitted_with_feature_names", False)
    model._objective = state.get("objective") or booster.params.get("objective")
    model._best_iteration = booster.best_iteration
    model._best_score = {}
    model._evals_result = {}
    if "classes" in state:
        from lightgbm.compat import _LGBMLabelEncoder

        classes = np.asarray(state["classes"], dtype=state.get("classes_dtype"))
        model._le = _LGBMLabelEncoder().fit(classes)
        model._classes = model._le.classes_
        model._n_classes = len(model._classes)
        model._class_map = dict(
            zip(model._classes, model._le.transform(model._classes), strict=True)
        )
    model.fitted_ = True
    return model
