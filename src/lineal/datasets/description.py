"""``describe()``: digest, schema and profile of a dataset in one pass over its columns.

Each column is read once, piece by piece: every normalised piece feeds the column's digest
streams and its distinct counter; the remaining statistics are single vectorised kernels over
the column. Columns are processed in parallel threads, one column per task, which keeps the
extra memory to a few pieces plus, for numeric columns, one copy of the column being
quantiled per thread.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .canonical import iter_pieces, missing_mask
from .convert import to_arrow
from .digest import ColumnHasher, check_byte_order, column_canonical_type, combine
from .distinct import DistinctCounter, supports_distinct
from .profile import ColumnProfile, profile_column
from .schema import ColumnSchema, column_schema

__all__ = ["DatasetDescription", "describe"]


@dataclass(frozen=True)
class DatasetDescription:
    """What lineal records about one dataset version.

    ``digest`` identifies the content (rules in :mod:`lineal.datasets.digest`);
    ``nbytes`` is the Arrow memory the table's buffers use; ``columns`` holds one
    :class:`ColumnProfile` per column, or is empty when described with ``profile=False``.
    """

    digest: str
    schema: list[ColumnSchema]
    num_rows: int
    num_columns: int
    nbytes: int
    columns: list[ColumnProfile] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<DatasetDescription {self.num_rows} rows x {self.num_columns} columns {self.digest[:15]}>"

    def column(self, name: str) -> ColumnProfile:
        """The profile of the column called ``name`` (KeyError if there is none)."""
        for profile in self.columns:
            if profile.name == name:
                return profile
        raise KeyError(name)

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (``json.dumps(d, allow_nan=False)`` accepts it)."""
        return {
            "digest": self.digest,
            "num_rows": self.num_rows,
            "num_columns": self.num_columns,
            "nbytes": self.nbytes,
            "schema": [c.to_dict() for c in self.schema],
            "columns": [c.to_dict() for c in self.columns],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetDescription:
        """Inverse of :meth:`to_dict`."""
        return cls(
            digest=str(d["digest"]),
            schema=[ColumnSchema.from_dict(c) for c in d["schema"]],
            num_rows=int(d["num_rows"]),
            num_columns=int(d["num_columns"]),
            nbytes=int(d["nbytes"]),
            columns=[ColumnProfile.from_dict(c) for c in d.get("columns", [])],
        )


@dataclass(frozen=True)
class _ColumnResult:
    digest: bytes
    schema: ColumnSchema
    profile: ColumnProfile | None


def describe(data: Any, *, profile: bool = True, threads: int | None = None) -> DatasetDescription:
    """Digest, schema and (unless ``profile=False``) column profiles of ``data``.

    ``data`` is anything :func:`lineal.datasets.to_arrow` accepts. ``threads`` caps the worker
    threads (default: one per CPU).

    >>> d = describe(pandas.read_csv("train.csv"))  # doctest: +SKIP
    >>> d.digest, d.column("weight").mean  # doctest: +SKIP
    """
    table = to_arrow(data)
    check_byte_order()
    fields = list(table.schema)
    columns = table.columns
    workers = max(1, min(threads or os.cpu_count() or 1, len(columns)))

    def run(i: int) -> _ColumnResult:
        return _describe_column(fields[i], columns[i], profile)

    if workers == 1:
        results = [run(i) for i in range(len(columns))]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lineal-describe") as pool:
            results = list(pool.map(run, range(len(columns))))
    return DatasetDescription(
        digest=combine(table.num_rows, table.column_names, [r.digest for r in results]),
        schema=[r.schema for r in results],
        num_rows=table.num_rows,
        num_columns=table.num_columns,
        nbytes=table.nbytes,
        columns=[r.profile for r in results if r.profile is not None],
    )


def _describe_column(arrow_field: pa.Field, column: pa.ChunkedArray, profile: bool) -> _ColumnResult:
    canonical = column_canonical_type(column)
    hasher = ColumnHasher(canonical)
    distinct = DistinctCounter(canonical) if profile and supports_distinct(canonical) else None
    missing = 0
    encoded = pa.types.is_dictionary(column.type)
    for piece in iter_pieces(column):
        normal = piece.cast(canonical)
        mask = missing_mask(normal)
        hasher.update(normal, mask)
        if mask is not None:
            # Only float masks hold more than the nulls (NaN), so only they need counting.
            floating = pa.types.is_floating(canonical)
            missing += int(pc.sum(mask).as_py()) if floating else normal.null_count
        if distinct is not None:
            distinct.update(normal, mask, raw=piece if encoded else None)
    schema = column_schema(arrow_field, missing)
    column_profile = (
        profile_column(arrow_field.name, schema.type, column, missing, distinct) if profile else None
    )
    return _ColumnResult(hasher.finish(), schema, column_profile)
