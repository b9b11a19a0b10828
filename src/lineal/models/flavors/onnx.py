"""ONNX models (``onnx.ModelProto``), saved as ``model.onnx``.

Loading returns the ``ModelProto``; :func:`inference_session` opens an onnxruntime session on a
saved folder, including the ``model.onnx`` exported beside a scikit-learn model.

Options when saving:
    external_data (bool): write the weights to ``model.onnx.data`` beside the graph; needed for
        models over 2 GB, the protobuf size limit.
    check (bool, default True): run ``onnx.checker`` before writing.
Options when loading:
    check (bool, default True): run ``onnx.checker`` after reading, which catches a truncated
        file that still happens to parse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ModelFormatError
from ..frameworks import has_base, require
from ..saved_model import SavedModel, read_manifest
from .base import loading, model_file, saving

NAME = "onnx"
FRAMEWORK = "onnx"
INSTALL = "lineal[onnx]"
FORMATS: tuple[str, ...] = ("onnx",)
PICKLE_FORMATS: frozenset[str] = frozenset()
FILE = "model.onnx"
DATA_FILE = "model.onnx.data"
KNOWN_FILES = {FILE: "onnx"}


def matches(model: Any) -> bool:
    """Instances of ``onnx.ModelProto``."""
    return has_base(model, "onnx", ("ModelProto",))


def save(
    model: Any, folder: Path, fmt: str, input_example: Any, options: dict[str, Any]
) -> SavedModel:
    """Write ``model.onnx`` (and ``model.onnx.data`` with ``external_data=True``)."""
    onnx = require("onnx", flavor=NAME, install=INSTALL)
    external = bool(options.pop("external_data", False))
    check = bool(options.pop("check", True))
    files = [FILE]
    with saving(model, fmt):
        if check:
            onnx.checker.check_model(model)
        if external:
            # convert_model_to_external_data rewrites the proto in place; work on a copy.
            copy = onnx.ModelProto()
            copy.CopyFrom(model)
            onnx.save_model(
                copy,
                str(folder / FILE),
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=DATA_FILE,
            )
            files.append(DATA_FILE)
        else:
            onnx.save_model(model, str(folder / FILE))
    return SavedModel(
        flavor=NAME,
        format=fmt,
        framework=FRAMEWORK,
        framework_version=onnx.__version__,
        files=files,
        pickle_based=False,
        extra={
            "ir_version": int(model.ir_version),
            "opset": {
                entry.domain or "ai.onnx": int(entry.version) for entry in model.opset_import
            },
            "producer": f"{model.producer_name} {model.producer_version}".strip(),
        },
    )


def load(folder: Path, saved: SavedModel, *, trust: bool, options: dict[str, Any]) -> Any:
    """The ``onnx.ModelProto``."""
    onnx = require("onnx", flavor=NAME, install=INSTALL)
    check = bool(options.pop("check", True))
    target = model_file(folder, saved)
    with loading(target):
        model = onnx.load(str(target))
        if check:
            onnx.checker.check_model(model)
    return model


def signature(model: Any, input_example: Any) -> dict[str, Any] | None:
    """Read from the graph itself, which names and types every input and output."""
    onnx = require("onnx", flavor=NAME, install=INSTALL)
    initializers = {tensor.name for tensor in model.graph.initializer}
    return {
        # Older exporters list weights among the inputs; they are not something callers feed.
        "inputs": [_value_info(onnx, v) for v in model.graph.input if v.name not in initializers],
        "outputs": [_value_info(onnx, v) for v in model.graph.output],
    }


def inference_session(path: Path | str, *, providers: list[str] | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` on a saved folder or on an ``.onnx`` file.

    A folder saved from scikit-learn with ``export_onnx=True`` works too: the session opens the
    exported ``model.onnx``. Runs on CPU unless ``providers`` says otherwise.

    >>> session = inference_session("models/iris")          # doctest: +SKIP
    >>> session.run(None, {"X": rows.astype("float32")})    # doctest: +SKIP
    """
    path = Path(path)
    target = _onnx_file(path) if path.is_dir() else path
    ort = require("onnxruntime", flavor=NAME, install=INSTALL)
    with loading(target):
        return ort.InferenceSession(str(target), providers=providers or ["CPUExecutionProvider"])


def _onnx_file(folder: Path) -> Path:
    saved = read_manifest(folder)
    if saved.flavor == NAME:
        return model_file(folder, saved)
    exported = saved.extra.get("onnx")
    if isinstance(exported, dict) and exported.get("file"):
        return model_file(folder, saved, exported["file"])
    raise ModelFormatError(f"{folder} holds a {saved.flavor} model with no ONNX export")


def _value_info(onnx: Any, value: Any) -> dict[str, Any]:
    if not value.type.HasField("tensor_type"):
        return {
            "name": value.name,
            "type": value.type.WhichOneof("value") or "unknown",
            "shape": [],
        }
    tensor = value.type.tensor_type
    kind = "unknown"
    if tensor.elem_type:
        element = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)
        # ONNX STRING tensors map to numpy's object dtype; "string" says what they hold.
        kind = "string" if element.kind == "O" else str(element)
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
    return {"name": value.name, "type": kind, "shape": dims}
