"""A ``dict[str, tensor]`` of weights (all torch tensors or all numpy arrays), as safetensors.

Format and file: ``safetensors``, ``model.safetensors``: a JSON header and raw little-endian
buffers, the format that cannot carry code. Loading returns a dict of the same kind (torch tensors
on CPU, or numpy arrays) as was saved.

Options when saving:
    metadata (dict[str, str]): stored in the file header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ModelFormatError
from ..frameworks import has_base, require
from ..saved_model import SavedModel
from .base import loading, model_file, saving

NAME = "safetensors"
FRAMEWORK = "safetensors"
INSTALL = "safetensors"
FORMATS: tuple[str, ...] = ("safetensors",)
PICKLE_FORMATS: frozenset[str] = frozenset()
FILE = "model.safetensors"
KNOWN_FILES = {FILE: "safetensors"}


def matches(model: Any) -> bool:
    """A non-empty dict with str keys whose values are all torch tensors or numpy arrays."""
    return _tensor_kind(model) is not None


def save(
    model: Any, folder: Path, fmt: str, input_example: Any, options: dict[str, Any]
) -> SavedModel:
    """Write ``model.safetensors`` with the torch or numpy writer, matching the values."""
    safetensors = require("safetensors", flavor=NAME, install=INSTALL)
    kind = _tensor_kind(model)
    if kind is None:
        raise ModelFormatError(
            "the safetensors flavor needs a dict of str -> tensor, all torch tensors or all "
            "numpy arrays (convert mixed dicts to one kind first)"
        )
    metadata = options.pop("metadata", None)
    target = folder / FILE
    with saving(model, fmt):
        if kind == "torch":
            _save_torch(model, target, metadata)
        else:
            import numpy as np
            from safetensors.numpy import save_file

            save_file({k: np.ascontiguousarray(v) for k, v in model.items()}, str(target), metadata)
    return SavedModel(
        flavor=NAME,
        format=fmt,
        framework=FRAMEWORK,
        framework_version=safetensors.__version__,
        files=[FILE],
        pickle_based=False,
        extra={"tensor_library": kind, "tensors": len(model)},
    )


def load(folder: Path, saved: SavedModel, *, trust: bool, options: dict[str, Any]) -> Any:
    """The dict of tensors, as torch tensors on ``device`` (default "cpu") or numpy arrays."""
    target = model_file(folder, saved)
    device = options.pop("device", "cpu")
    if saved.extra.get("tensor_library") == "torch":
        loader = require("safetensors.torch", flavor=NAME, install=INSTALL)
        with loading(target):
            return loader.load_file(str(target), device=device)
    loader = require("safetensors.numpy", flavor=NAME, install=INSTALL)
    with loading(target):
        return loader.load_file(str(target))


def signature(model: Any, input_example: Any) -> dict[str, Any] | None:
    """Weights have no inputs or outputs to describe."""
    return None


def _save_torch(tensors: dict[str, Any], target: Path, metadata: dict[str, str] | None) -> None:
    from safetensors.torch import save_file

    ready = {k: v.detach().contiguous() for k, v in tensors.items()}
    try:
        save_file(ready, str(target), metadata)
    except RuntimeError as exc:
        if "share memory" not in str(exc):
            raise
        # safetensors refuses tensors that share storage (tied weights); copies do not share.
        save_file({k: v.clone() for k, v in ready.items()}, str(target), metadata)


def _tensor_kind(model: Any) -> str | None:
    if not isinstance(model, dict) or not model:
        return None
    if not all(isinstance(key, str) for key in model):
        return None
    if all(has_base(value, "torch", ("Tensor",)) for value in model.values()):
        return "torch"
    if all(has_base(value, "numpy", ("ndarray",)) for value in model.values()):
        return "numpy"
    return None
