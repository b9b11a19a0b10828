"""Turn the objects people train on into one ``pyarrow.Table``.

Accepted inputs, checked in this order:

- ``pyarrow.Table`` (returned as is) and ``pyarrow.RecordBatch``;
- a pandas ``DataFrame``: the index is dropped (``preserve_index=False``), because a default
  ``RangeIndex`` carries no data and a meaningful index differs in meaning between libraries;
  call ``df.reset_index()`` first to keep it as a column. Float ``NaN`` becomes null, as pandas
  itself treats it as missing;
- a polars ``DataFrame`` (``DataFrame.to_arrow()``; a ``LazyFrame`` must be collected first);
- a numpy array, 1-D (one column) or 2-D (one column per array column), named ``col_0``,
  ``col_1``...;
- a path (``str`` or ``os.PathLike``) to a ``.csv``, ``.parquet`` (``.pq``) or JSON-lines
  (``.jsonl``, ``.ndjson``, ``.json``) file, compressed CSV/JSON included (``.csv.gz``...), or
  to a folder of such files, all of one format: the files are read in name order and
  concatenated. Names starting with ``.`` or ``_`` (``_SUCCESS``, ``.crc``) are skipped;
- any other object exposing the Arrow PyCapsule stream interface (``__arrow_c_stream__``).

pandas, polars and numpy are imported only when such an object is passed, so none of them is
needed to use the rest of this package.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from .errors import DatasetReadError, EmptyDatasetError, UnsupportedDataError

__all__ = ["ACCEPTED_TYPES", "file_format", "read_file", "to_arrow"]

ACCEPTED_TYPES = (
    "pandas.DataFrame, polars.DataFrame, pyarrow.Table, pyarrow.RecordBatch, "
    "numpy.ndarray (1-D or 2-D), a path (str or os.PathLike) to a CSV, Parquet or JSON-lines "
    "file or a folder of them, or an object with __arrow_c_stream__"
)

# Suffix (lower case, compression suffix stripped) -> format name.
_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".parq": "parquet",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
}
_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zst", ".lz4")


def to_arrow(data: Any) -> pa.Table:
    """Return ``data`` as a ``pyarrow.Table``; see the module docstring for accepted inputs.

    Raises ``UnsupportedDataError`` (a ``TypeError``) for any other object,
    ``EmptyDatasetError`` (a ``ValueError``) for a table without columns, ``DatasetReadError``
    (a ``ValueError``) when a file cannot be parsed, and ``FileNotFoundError`` for a missing
    path.

    >>> to_arrow("data/train.parquet").num_rows  # doctest: +SKIP
    """
    table = _convert(data)
    if table.num_columns == 0:
        raise EmptyDatasetError(
            f"the {type(data).__name__} has no columns: there is nothing to describe",
            hint="pass a frame with at least one column",
        )
    return table


def _convert(data: Any) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, str | os.PathLike):
        return _read_path(Path(data))
    module = type(data).__module__.split(".")[0]
    # Checking the defining module first means pandas/polars/numpy are imported only when the
    # caller already has them loaded (they made the object), never speculatively.
    if module == "pandas":
        return _from_pandas(data)
    if module == "polars":
        return _from_polars(data)
    if module == "numpy":
        return _from_numpy(data)
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise UnsupportedDataError(
        f"cannot describe an object of type {_type_name(data)}",
        hint=f"accepted: {ACCEPTED_TYPES}",
    )


def _type_name(data: Any) -> str:
    cls = type(data)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _from_pandas(data: Any) -> pa.Table:
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise UnsupportedDataError(
            f"cannot describe an object of type {_type_name(data)}",
            hint=f"accepted: {ACCEPTED_TYPES} (for a Series, use series.to_frame())",
        )
    try:
        return pa.Table.from_pandas(data, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        # Typically an object column mixing types (ints and strings): say which one.
        raise UnsupportedDataError(
            f"cannot convert the pandas DataFrame to Arrow: {exc}",
            hint="give each column a single type, e.g. df[col].astype(str)",
        ) from exc


def _from_polars(data: Any) -> pa.Table:
    import polars as pl

    if isinstance(data, pl.LazyFrame):
        raise UnsupportedDataError(
            "cannot describe a polars LazyFrame", hint="call .collect() on it first"
        )
    if not isinstance(data, pl.DataFrame):
        raise UnsupportedDataError(
            f"cannot describe an object of type {_type_name(data)}",
            hint=f"accepted: {ACCEPTED_TYPES} (for a Series, use series.to_frame())",
        )
    return data.to_arrow()


def _from_numpy(data: Any) -> pa.Table:
    import numpy as np

    if not isinstance(data, np.ndarray):
        raise UnsupportedDataError(
            f"cannot describe an object of type {_type_name(data)}",
            hint=f"accepted: {ACCEPTED_TYPES}",
        )
    if data.dtype.names is not None or data.ndim not in (1, 2):
        raise UnsupportedDataError(
            f"cannot describe a numpy array with {data.ndim} dimension(s) and dtype {data.dtype}",
            hint="pass a plain 1-D or 2-D array, or a DataFrame",
        )
    columns = [data] if data.ndim == 1 else [data[:, i] for i in range(data.shape[1])]
    try:
        arrays = [pa.array(np.ascontiguousarray(column)) for column in columns]
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise UnsupportedDataError(
            f"cannot convert a numpy array of dtype {data.dtype} to Arrow: {exc}",
            hint="convert it to a numeric, boolean or string dtype first",
        ) from exc
    return pa.Table.from_arrays(arrays, names=[f"col_{i}" for i in range(len(arrays))])


def file_format(path: Path) -> str | None:
    """``"csv"``, ``"parquet"`` or ``"json"`` for a data file or a folder of them, else None."""
    if path.is_dir():
        kinds = {
            _file_format(p) for p in path.iterdir() if p.is_file() and not p.name.startswith((".", "_"))
        }
        return kinds.pop() if len(kinds) == 1 else None
    return _file_format(path)


def _file_format(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return _FORMATS.get(os.path.splitext(name)[1])


def _read_path(path: Path) -> pa.Table:
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if path.is_dir():
        return _read_folder(path)
    fmt = _file_format(path)
    if fmt is None:
        raise UnsupportedDataError(
            f"cannot tell the format of {path} from its name",
            hint="use a .csv, .parquet, .pq, .jsonl, .ndjson or .json file",
        )
    return _read_file(path, fmt)


def _read_folder(folder: Path) -> pa.Table:
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "_"))),
        key=lambda p: p.name,
    )
    if not files:
        raise EmptyDatasetError(
            f"the folder {folder} holds no data files",
            hint="files whose names start with '.' or '_' are skipped",
        )
    formats = {p.name: _file_format(p) for p in files}
    unknown = sorted(name for name, fmt in formats.items() if fmt is None)
    if unknown:
        raise UnsupportedDataError(
            f"the folder {folder} holds files of unknown format: {', '.join(unknown[:5])}",
            hint="a dataset folder holds only .csv, .parquet or JSON-lines files",
        )
    kinds = set(formats.values())
    if len(kinds) > 1:
        raise UnsupportedDataError(
            f"the folder {folder} mixes formats ({', '.join(sorted(str(k) for k in kinds))})",
            hint="keep one format per dataset folder",
        )
    fmt = kinds.pop()
    assert fmt is not None
    tables = [_read_file(p, fmt) for p in files]
    first = tables[0].schema
    for p, table in zip(files[1:], tables[1:], strict=True):
        if not table.schema.equals(first):
            raise DatasetReadError(
                f"{p} does not have the same columns and types as {files[0].name}: "
                f"{_schema_text(table.schema)} vs {_schema_text(first)}",
                hint="every part of a dataset folder must have the same schema",
            )
    return pa.concat_tables(tables)


def _schema_text(schema: pa.Schema) -> str:
    return "(" + ", ".join(f"{f.name}: {f.type}" for f in schema) + ")"


def read_file(path: Path, fmt: str) -> pa.Table:
    """Read one file in a known format (``csv``, ``parquet``, ``json``) whatever its name."""
    return _read_file(path, fmt)


def _read_file(path: Path, fmt: str) -> pa.Table:
    readers: dict[str, Callable[[Path], pa.Table]] = {
        "csv": _read_csv,
        "parquet": _read_parquet,
        "json": _read_json,
    }
    try:
        return readers[fmt](path)
    except (pa.ArrowException, OSError) as exc:
        if isinstance(exc, FileNotFoundError | PermissionError):
            raise
        label = {"csv": "CSV", "parquet": "Parquet", "json": "JSON lines"}[fmt]
        raise DatasetReadError(
            f"cannot read {path} as {label}: {exc}",
            hint=f"check that the file is complete and really {label}",
        ) from exc


def _read_csv(path: Path) -> pa.Table:
    from pyarrow import csv

    # An empty field is missing, as pandas.read_csv and polars.read_csv read it (pyarrow alone
    # reads it as "" in string columns): without this, a frame written with to_csv and read
    # back here would not have the frame's digest.
    return csv.read_csv(path, convert_options=csv.ConvertOptions(strings_can_be_null=True))


def _read_parquet(path: Path) -> pa.Table:
    from pyarrow import parquet

    return parquet.read_table(path)


def _read_json(path: Path) -> pa.Table:
    from pyarrow import json

    return json.read_json(path)
