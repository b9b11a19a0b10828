"""The data layer of datasets: content digests, schemas, profiles and diffs, as pure functions.

    from lineal.datasets import describe, diff

    before = describe(train_df)            # pandas, polars, Arrow, numpy, or a path
    after = describe("data/train-v2/")     # a folder of Parquet/CSV/JSON-lines parts
    before.digest                          # 'sha256:...', over the whole data
    change = diff(before, after)
    [(s.name, s.reason) for s in change.flagged]

Recording datasets in the store: ``run.log_dataset`` / ``run.use_dataset``
(:mod:`lineal.datasets.tracking`); reading them back: ``get_dataset``, ``get_description``,
``list_datasets``, ``diff_versions``, ``load_dataset`` (:mod:`lineal.datasets.versions`).

The data layer (describe, diff, fingerprint, to_arrow) stores nothing. pyarrow
is the one requirement (the ``lineal[data]`` extra, with numpy for distinct-count sketches);
pandas and polars are only imported when their objects are passed in.

The digest rules are a public contract, documented in :mod:`lineal.datasets.digest`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Loaded on first use (PEP 562), like lineal/__init__.py: importing lineal.datasets must not
# import pyarrow, so modules that only pass datasets along work without the data extra.
_EXPORTS: dict[str, str] = {
    "ColumnProfile": ".profile",
    "ColumnSchema": ".schema",
    "ColumnShift": ".compare",
    "DatasetDescription": ".description",
    "DatasetDiff": ".compare",
    "DatasetVersion": ".versions",
    "DatasetReadError": ".errors",
    "EmptyDatasetError": ".errors",
    "UnsupportedDataError": ".errors",
    "describe": ".description",
    "diff": ".compare",
    "diff_versions": ".versions",
    "fingerprint": ".digest",
    "get_dataset": ".versions",
    "get_description": ".versions",
    "list_datasets": ".versions",
    "load_dataset": ".versions",
    "log_dataset": ".tracking",
    "to_arrow": ".convert",
    "use_dataset": ".tracking",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lineal.datasets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .compare import ColumnShift, DatasetDiff, diff
    from .convert import to_arrow
    from .description import DatasetDescription, describe
    from .digest import fingerprint
    from .errors import DatasetReadError, EmptyDatasetError, UnsupportedDataError
    from .profile import ColumnProfile
    from .schema import ColumnSchema
    from .tracking import log_dataset, use_dataset
    from .versions import (
        DatasetVersion,
        diff_versions,
        get_dataset,
        get_description,
        list_datasets,
        load_dataset,
    )
