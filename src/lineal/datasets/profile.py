"""Column profiles: missing values, distinct counts, range, moments, quantiles and top values.

Every statistic covers the whole column and is computed with vectorised pyarrow.compute
kernels. Conventions, chosen to match what pandas reports for the same data:

- missing values are nulls plus NaN in float columns (see
  :func:`lineal.datasets.canonical.missing_mask`); all other statistics skip them;
- ``std`` is the sample standard deviation (``ddof=1``), as ``pandas.Series.std``;
- quantiles ``p5``..``p95`` use linear interpolation (numpy's and pandas' default). They are
  exact up to :data:`QUANTILE_EXACT_ROWS` (1,048,576) rows; above that they are the quantiles
  of a fixed stratified sample of that many rows (one at a pseudo-random offset in each of that
  many equal stretches of rows: the same rows for the same row count, in every process), ``quantiles_estimated`` says so, and their error is about 0.1% of the
  standard deviation (a selection over the whole column cost more than the rest of the
  profile together). min, max, mean and std are always exact, over every row;
- numbers (integers, floats, decimals) get min, max, mean, std and quantiles; timestamps,
  dates and times get min and max as ISO-8601 strings; everything else gets none of these;
- ``top_values``: the 10 most frequent values with their counts for strings, booleans and
  categoricals, ties broken by value; empty when the column has more than
  :data:`lineal.datasets.distinct.EXACT_LIMIT` distinct values (frequencies are only kept
  while counting exactly) and for other types;
- ``distinct_count`` is exact up to that limit, then an estimate (``distinct_is_estimate``);
  None for nested types.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .distinct import DistinctCounter

__all__ = ["QUANTILES", "QUANTILE_EXACT_ROWS", "TOP_VALUES", "ColumnProfile", "profile_column"]

TOP_VALUES = 10
QUANTILE_EXACT_ROWS = 1 << 20
_SAMPLE_SEED = 0x6C696E6561  # "linea": any fixed seed; it only has to be the same everywhere
QUANTILES: tuple[tuple[str, float], ...] = (
    ("p5", 0.05),
    ("p25", 0.25),
    ("p50", 0.5),
    ("p75", 0.75),
    ("p95", 0.95),
)


@dataclass(frozen=True)
class ColumnProfile:
    """Summary statistics of one column (conventions in the module docstring)."""

    name: str
    type: str
    null_count: int
    distinct_count: int | None
    distinct_is_estimate: bool
    min: float | int | str | None = None
    max: float | int | str | None = None
    mean: float | None = None
    std: float | None = None
    p5: float | None = None
    p25: float | None = None
    p50: float | None = None
    p75: float | None = None
    p95: float | None = None
    top_values: list[tuple[Any, int]] = field(default_factory=list)
    quantiles_estimated: bool = False

    @property
    def is_numeric(self) -> bool:
        """True when the column got numeric statistics (mean, std, quantiles)."""
        return self.mean is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict: non-finite floats become None, values JSON scalars."""
        return {
            "name": self.name,
            "type": self.type,
            "null_count": self.null_count,
            "distinct_count": self.distinct_count,
            "distinct_is_estimate": self.distinct_is_estimate,
            "min": json_value(self.min),
            "max": json_value(self.max),
            "mean": json_value(self.mean),
            "std": json_value(self.std),
            **{name: json_value(getattr(self, name)) for name, _ in QUANTILES},
            "top_values": [[json_value(v), c] for v, c in self.top_values],
            "quantiles_estimated": self.quantiles_estimated,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnProfile:
        """Inverse of :meth:`to_dict` (non-finite floats come back as None)."""
        return cls(
            name=str(d["name"]),
            type=str(d["type"]),
            null_count=int(d["null_count"]),
            distinct_count=None if d.get("distinct_count") is None else int(d["distinct_count"]),
            distinct_is_estimate=bool(d.get("distinct_is_estimate", False)),
            min=d.get("min"),
            max=d.get("max"),
            mean=d.get("mean"),
            std=d.get("std"),
            **{name: d.get(name) for name, _ in QUANTILES},
            top_values=[(v, int(c)) for v, c in d.get("top_values", [])],
            quantiles_estimated=bool(d.get("quantiles_estimated", False)),
        )


def json_value(value: Any) -> Any:
    """``value`` as a JSON-safe scalar: NaN/inf -> None, dates -> ISO strings, bytes -> hex."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _is_temporal(t: pa.DataType) -> bool:
    return pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t)


def _has_top_values(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return True
    return (
        pa.types.is_boolean(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or (getattr(pa.types, "is_string_view", None) or (lambda _t: False))(t)
    )


def profile_column(
    name: str,
    type_name: str,
    column: pa.ChunkedArray,
    missing: int,
    distinct: DistinctCounter | None,
) -> ColumnProfile:
    """Profile one column, given its missing count and the distinct counter fed while hashing."""
    declared = column.type
    value_type = declared.value_type if pa.types.is_dictionary(declared) else declared
    stats: dict[str, Any] = {}
    if _is_numeric(value_type) and missing < len(column):
        stats = _numeric_stats(_clean_numbers(column, value_type, missing))
    elif _is_temporal(value_type) and missing < len(column):
        values = column.cast(value_type) if value_type != declared else column
        low_high = pc.min_max(values)
        stats = {"min": _iso(low_high["min"]), "max": _iso(low_high["max"])}
    top = distinct.top(TOP_VALUES) if distinct is not None and _has_top_values(declared) else []
    return ColumnProfile(
        name=name,
        type=type_name,
        null_count=missing,
        distinct_count=distinct.count if distinct is not None else None,
        distinct_is_estimate=distinct.is_estimate if distinct is not None else False,
        top_values=top,
        **stats,
    )


def _clean_numbers(column: pa.ChunkedArray, value_type: pa.DataType, missing: int) -> pa.ChunkedArray:
    """The column as plain numbers with NaN turned into null (only copies when needed)."""
    if value_type != column.type:
        column = column.cast(value_type)
    if pa.types.is_decimal(value_type):
        return column.cast(pa.float64())
    if pa.types.is_floating(value_type) and missing > column.null_count:
        # NaN is missing; pyarrow's mean and quantile would otherwise propagate or misplace it.
        chunks = [pc.if_else(pc.is_nan(c), pa.scalar(None, c.type), c) for c in column.chunks]
        return pa.chunked_array(chunks, type=value_type)
    return column


def _quantile_input(values: pa.ChunkedArray) -> tuple[pa.ChunkedArray | pa.Array, bool]:
    """The column, or a fixed sample of :data:`QUANTILE_EXACT_ROWS` of its rows when longer."""
    if len(values) <= QUANTILE_EXACT_ROWS:
        return values, False
    try:
        positions = _sample_positions(len(values))
    except ImportError:  # no numpy to draw the sample: exact, only slower
        return values, False
    return values.take(positions), True


@functools.lru_cache(maxsize=4)
def _sample_positions(rows: int) -> pa.Array:
    """A stratified sample of row positions: one at a random offset in each of
    QUANTILE_EXACT_ROWS equal strata. Sorted by construction (no sort to pay for), better
    spread than a simple random sample, and the same for every column of a table (cached)."""
    import numpy as np

    rng = np.random.default_rng(_SAMPLE_SEED)
    count = QUANTILE_EXACT_ROWS
    positions = (np.arange(count) + rng.random(count)) * (rows / count)
    return pa.array(np.minimum(positions.astype(np.int64), rows - 1))


def _min_max(values: pa.ChunkedArray) -> tuple[Any, Any]:
    if pa.types.is_floating(values.type) and values.null_count == 0:
        # pyarrow's float min_max skips NaN slot by slot and is ten times slower than numpy;
        # without nulls (NaN became null in _clean_numbers) numpy's plain reduction is exact.
        try:
            import numpy as np
        except ImportError:
            pass
        else:
            chunks = [c.to_numpy(zero_copy_only=True) for c in values.chunks if len(c)]
            return min(np.min(c) for c in chunks).item(), max(np.max(c) for c in chunks).item()
    low_high = pc.min_max(values)
    return low_high["min"].as_py(), low_high["max"].as_py()


def _numeric_stats(values: pa.ChunkedArray) -> dict[str, Any]:
    low, high = _min_max(values)
    sample, estimated = _quantile_input(values)
    quantiles = pc.quantile(sample, q=[q for _, q in QUANTILES], interpolation="linear")
    if pa.types.is_floating(values.type):
        low, high = _float(low), _float(high)
    stats: dict[str, Any] = {
        "min": low,
        "max": high,
        "mean": _float(pc.mean(values).as_py()),
        "std": _float(pc.stddev(values, ddof=1).as_py()),
    }
    for (name, _), value in zip(QUANTILES, quantiles.to_pylist(), strict=True):
        stats[name] = _float(value)
    stats["quantiles_estimated"] = estimated
    return stats


def _float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _iso(scalar: pa.Scalar) -> str | None:
    """ISO-8601 text of a temporal scalar, at its own precision (nanoseconds included)."""
    if not scalar.is_valid:
        return None
    # Arrow's own cast keeps nanoseconds, which datetime.isoformat() would drop.
    text = pc.cast(pa.array([scalar], scalar.type), pa.string())[0].as_py()
    return text.replace(" ", "T", 1)
