"""Describe a model's inputs and outputs from an example, as plain JSON.

A signature is ``{"inputs": [...], "outputs": [...]}``; each entry is
``{"name": str | None, "type": str, "shape": list[int]}``. ``-1`` in a shape marks the batch
dimension: the example had some number of rows, the model accepts any. ``outputs`` is empty when
no output example was given.

Recognises numpy arrays, pandas DataFrames and Series, torch (and other) tensors, dicts of any of
these, lists of records, nested lists and Python scalars, all by duck typing so that this module
imports no framework.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["describe", "infer_signature"]

_PYTHON_TYPES: tuple[tuple[type, str], ...] = (
    # bool before int: True is an int too.
    (bool, "bool"),
    (int, "int64"),
    (float, "float64"),
    (str, "string"),
    (bytes, "binary"),
)

# numpy dtype kinds whose dtype.name says little ("str160", "bytes40", "object").
_NUMPY_KINDS = {"U": "string", "S": "binary", "O": "object"}


def infer_signature(input_example: Any, output: Any = None) -> dict[str, list[dict[str, Any]]]:
    """Describe ``input_example`` (and ``output`` if given) as a JSON-ready signature.

    >>> import numpy as np
    >>> infer_signature(np.zeros((3, 4), dtype="float32"), np.zeros(3, dtype="int64"))
    {'inputs': [{'name': None, 'type': 'float32', 'shape': [-1, 4]}], \
'outputs': [{'name': None, 'type': 'int64', 'shape': [-1]}]}

    Raises TypeError for objects it cannot describe.
    """
    return {
        "inputs": describe(input_example),
        "outputs": [] if output is None else describe(output),
    }


def describe(value: Any) -> list[dict[str, Any]]:
    """The signature entries of one value: one per column, per dict key, or a single entry."""
    kind = _kind(value)
    if kind == "dataframe":
        return [_column_entry(value[column], column) for column in value.columns]
    if kind == "series":
        return [_column_entry(value, value.name)]
    if isinstance(value, Mapping):
        return [_entry(item, key) for key, item in value.items()]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
        return _records(value)
    if isinstance(value, tuple) and value and all(_kind(v) == "array" for v in value):
        # A tuple of tensors is how multi-input models (torch forward(x, y)) take their inputs.
        return [_entry(item, None) for item in value]
    return [_entry(value, None)]


def _kind(value: Any) -> str:
    type_name = type(value).__name__
    module = type(value).__module__.split(".", 1)[0]
    if module == "pandas" and type_name == "DataFrame":
        return "dataframe"
    if module == "pandas" and type_name == "Series":
        return "series"
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        return "array"
    return "other"


def _entry(value: Any, name: Any) -> dict[str, Any]:
    label = None if name is None else str(name)
    kind = _kind(value)
    if kind in ("dataframe", "series"):
        raise TypeError(f"cannot describe a nested pandas {type(value).__name__} in {label!r}")
    if kind == "array":
        return {"name": label, "type": _dtype_name(value), "shape": _batch_shape(value.shape)}
    scalar = _python_type(value)
    if scalar is not None:
        return {"name": label, "type": scalar, "shape": []}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        shape, leaf = _nested_shape(value)
        return {"name": label, "type": leaf, "shape": _batch_shape(shape)}
    raise TypeError(
        f"cannot infer a signature from {type(value).__module__}.{type(value).__qualname__}; "
        "pass a numpy array, pandas DataFrame, tensor, list or dict of those"
    )


def _records(rows: Sequence[Mapping[Any, Any]]) -> list[dict[str, Any]]:
    columns: dict[Any, str] = {}
    for row in rows:
        for key, item in row.items():
            found = _python_type(item) or (_dtype_name(item) if _kind(item) == "array" else None)
            if found is not None:
                columns.setdefault(key, found)
    return [{"name": str(key), "type": kind, "shape": [-1]} for key, kind in columns.items()]


def _column_entry(series: Any, name: Any) -> dict[str, Any]:
    dtype = series.dtype
    text = str(dtype)
    if text in ("str", "string") or text.startswith("string"):
        kind = "string"
    elif text == "category":
        kind = "category"
    elif getattr(dtype, "kind", "") == "O":
        kind = _object_column_type(series)
    else:
        kind = text.lower()  # "Int64" (nullable) and "int64" mean the same to a consumer
    return {"name": None if name is None else str(name), "type": kind, "shape": [-1]}


def _object_column_type(series: Any) -> str:
    for item in series:
        if item is not None and item == item:  # skip None and NaN
            return _python_type(item) or "object"
    return "object"


def _dtype_name(array: Any) -> str:
    dtype = array.dtype
    if type(dtype).__module__.split(".", 1)[0] == "torch":
        return str(dtype).removeprefix("torch.")
    kind = getattr(dtype, "kind", None)
    if kind in _NUMPY_KINDS:
        return _NUMPY_KINDS[kind]
    return str(getattr(dtype, "name", dtype))


def _python_type(value: Any) -> str | None:
    for python_type, name in _PYTHON_TYPES:
        if isinstance(value, python_type):
            return name
    # numpy scalars (np.float32(1.0)) carry a dtype but no shape worth a batch dimension.
    if hasattr(value, "dtype") and getattr(value, "shape", None) == ():
        return _dtype_name(value)
    return None


def _nested_shape(value: Sequence[Any]) -> tuple[list[int], str]:
    shape = [len(value)]
    if not value:
        return shape, "unknown"
    first = value[0]
    if isinstance(first, Sequence) and not isinstance(first, (str, bytes)):
        inner, leaf = _nested_shape(first)
        return shape + inner, leaf
    if _kind(first) == "array":
        return shape + [int(d) for d in first.shape], _dtype_name(first)
    return shape, _python_type(first) or "object"


def _batch_shape(shape: Sequence[int]) -> list[int]:
    dims = [int(d) for d in shape]
    return [-1, *dims[1:]] if dims else []
