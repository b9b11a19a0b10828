"""Column schemas: name, declared type and whether missing values occur."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from .canonical import display_type

__all__ = ["ColumnSchema", "column_schema"]


@dataclass(frozen=True)
class ColumnSchema:
    """One column of a dataset's schema.

    ``type`` is the Arrow type string as declared (``int32``, ``double``,
    ``timestamp[us, tz=UTC]``), minus representation-only differences: every string encoding
    shows as ``string``, a categorical as its values' type, ``large_list`` as ``list`` (see
    :func:`lineal.datasets.canonical.display_type`).

    ``nullable`` is True when the column holds at least one missing value (null, or NaN in a
    float column), as observed in the data: pandas and polars declare every column nullable,
    so the declared flag says nothing. A field declared non-nullable is never nullable.
    """

    name: str
    type: str
    nullable: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {"name": self.name, "type": self.type, "nullable": self.nullable}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnSchema:
        """Inverse of :meth:`to_dict`."""
        return cls(name=str(d["name"]), type=str(d["type"]), nullable=bool(d["nullable"]))


def column_schema(field: pa.Field, missing: int) -> ColumnSchema:
    """The schema entry of ``field`` given how many of its values are missing."""
    return ColumnSchema(
        name=field.name, type=display_type(field.type), nullable=field.nullable and missing > 0
    )
