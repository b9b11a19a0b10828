"""Save a model to a folder, load it back: the three public verbs of ``lineal.models``."""

from __future__ import annotations

import dataclasses
import platform
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

from .errors import ModelFormatError, UnsupportedModelError
from .flavors import FLAVORS, Flavor, default_format, get_flavor
from .saved_model import MANIFEST_NAME, SavedModel, read_manifest, write_manifest

__all__ = ["detect_flavor", "load_model", "save_model"]


def detect_flavor(model: Any) -> str:
    """The name of the flavor that saves ``model`` by default; imports no framework.

    >>> from sklearn.linear_model import LinearRegression
    >>> detect_flavor(LinearRegression())
    'sklearn'

    Raises UnsupportedModelError when no flavor handles the object.
    """
    for name, flavor in FLAVORS.items():
        if flavor.matches(model):
            return name
    raise UnsupportedModelError(_unsupported_message(model))


def save_model(
    model: Any,
    path: Path | str,
    *,
    flavor: str = "auto",
    format: str | None = None,  # noqa: A002 - the public name the manifest uses too
    input_example: Any = None,
    **options: Any,
) -> SavedModel:
    """Write ``model`` and its manifest ``lineal-model.json`` into the new or empty folder ``path``.

    ``flavor`` defaults to :func:`detect_flavor`; ``format`` to the flavor's default (skops for
    scikit-learn, state dict + TorchScript for torch...). ``input_example`` records a signature
    (inputs, and outputs by running the model on it) and lets torch trace modules that do not
    script. ``options`` go to the flavor (see each ``lineal.models.flavors`` module); an option
    the flavor does not use is a TypeError.

    >>> saved = save_model(pipeline, "out/iris", input_example=X[:5])      # doctest: +SKIP
    >>> saved.format, saved.files                                           # doctest: +SKIP
    ('skops', ['model.skops'])

    On failure nothing is left behind: the folder is removed if this call created it, emptied
    otherwise.
    """
    folder = Path(path)
    name = detect_flavor(model) if flavor == "auto" else flavor
    chosen = get_flavor(name)
    if flavor != "auto" and not chosen.matches(model):
        raise UnsupportedModelError(
            f"the {name} flavor does not handle {_type_name(model)}; "
            f"detected flavor: {_detected_or_none(model)}"
        )
    fmt = format or default_format(chosen)
    if fmt not in chosen.FORMATS:
        raise ValueError(
            f"the {name} flavor writes {', '.join(chosen.FORMATS)}, not format={fmt!r}"
        )
    created = _prepare(folder)
    remaining = dict(options)
    try:
        saved = chosen.save(model, folder, fmt, input_example, remaining)
        _reject_unused(remaining, name)
        saved = dataclasses.replace(saved, signature=chosen.signature(model, input_example))
        write_manifest(folder, saved)
    except BaseException:
        _discard(folder, created)
        raise
    return saved


def load_model(
    path: Path | str, *, trust: bool = False, flavor_hint: str | None = None, **options: Any
) -> Any:
    """Load the model saved in folder ``path`` and return the framework object.

    Pickle-based formats (joblib, pickle, pyfunc) load only with ``trust=True``, because
    unpickling can execute arbitrary code; skops, safetensors, ONNX, XGBoost, LightGBM, Keras
    and torch formats load without it. ``flavor_hint`` names the flavor expected: it must match
    the manifest, and lets a folder without manifest load from its well-known file names
    (``model.onnx``, ``model.skops``...). ``options`` go to the flavor, for instance
    ``model_class=`` to rebuild a torch module from its state dict instead of TorchScript.

    >>> model = load_model("out/iris")                      # doctest: +SKIP
    >>> net = load_model("out/net", model_class=Net)        # doctest: +SKIP
    """
    folder = Path(path)
    if not folder.exists():
        raise FileNotFoundError(f"no saved model at {folder}")
    if not folder.is_dir():
        raise ModelFormatError(f"{folder} is a file; load_model takes the folder save_model wrote")
    if flavor_hint is not None and not (folder / MANIFEST_NAME).exists():
        saved = _manifest_from_files(folder, get_flavor(flavor_hint))
    else:
        saved = read_manifest(folder)
    if flavor_hint is not None and saved.flavor != flavor_hint:
        raise ModelFormatError(f"{folder} holds a {saved.flavor} model, not {flavor_hint}")
    if saved.flavor not in FLAVORS:
        raise ModelFormatError(f"{folder} holds a model of unknown flavor {saved.flavor!r}")
    remaining = dict(options)
    model = FLAVORS[saved.flavor].load(folder, saved, trust=trust, options=remaining)
    _reject_unused(remaining, saved.flavor)
    _warn_version_drift(folder, saved)
    return model


def _prepare(folder: Path) -> bool:
    """Make sure ``folder`` is an empty directory; True if it had to be created."""
    if folder.exists():
        if not folder.is_dir():
            raise FileExistsError(f"cannot save a model to {folder}: it is a file")
        if any(folder.iterdir()):
            raise FileExistsError(f"cannot save a model to {folder}: the folder is not empty")
        return False
    folder.mkdir(parents=True)
    return True


def _discard(folder: Path, created: bool) -> None:
    if created:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _reject_unused(options: dict[str, Any], flavor: str) -> None:
    if options:
        raise TypeError(f"the {flavor} flavor does not take option(s) {', '.join(sorted(options))}")


def _manifest_from_files(folder: Path, flavor: Flavor) -> SavedModel:
    for file_name, fmt in flavor.KNOWN_FILES.items():
        if (folder / file_name).is_file():
            return SavedModel(
                flavor=flavor.NAME,
                format=fmt,
                framework=flavor.FRAMEWORK,
                framework_version="unknown",
                files=[file_name],
                pickle_based=fmt in flavor.PICKLE_FORMATS,
            )
    raise ModelFormatError(
        f"{folder} has no {MANIFEST_NAME} and none of the {flavor.NAME} files "
        f"{', '.join(flavor.KNOWN_FILES)}"
    )


def _warn_version_drift(folder: Path, saved: SavedModel) -> None:
    # Only formats that rebuild Python objects attribute by attribute care; native formats
    # (ONNX, XGBoost, LightGBM, safetensors, TorchScript) are read across versions by design.
    if not (saved.pickle_based or saved.format == "skops"):
        return
    installed: str | None
    if saved.framework == "python":
        installed = platform.python_version()
        same = installed.split(".")[:2] == saved.framework_version.split(".")[:2]
    else:
        installed = getattr(sys.modules.get(saved.framework), "__version__", None)
        same = installed is None or installed == saved.framework_version
    if not same and saved.framework_version != "unknown":
        warnings.warn(
            f"{folder} was saved with {saved.framework} {saved.framework_version} and is loaded "
            f"with {installed}; {saved.format} files can behave differently across versions",
            stacklevel=3,
        )


def _type_name(model: Any) -> str:
    return f"{type(model).__module__}.{type(model).__qualname__}"


def _detected_or_none(model: Any) -> str:
    try:
        return detect_flavor(model)
    except UnsupportedModelError:
        return "none"


def _unsupported_message(model: Any) -> str:
    supported = "; ".join(
        f"{name} (pip install '{flavor.INSTALL}')" for name, flavor in sorted(FLAVORS.items())
    )
    return (
        f"no model flavor handles {_type_name(model)}. Supported flavors: {supported}. "
        "Objects with a callable predict(), and plain callables, are saved by the pyfunc flavor."
    )
