"""Canonical logical types: the normal form that the digest hashes and the profile measures.

pandas, polars and Arrow store the same column in different physical types: ``large_string``
or ``string_view`` for ``string``, a dictionary for a categorical, ``int32`` from ``.dt.year``
where another library gives ``int64``. :func:`canonical_type` maps every Arrow type to one
representative of its *family*, and each column is cast to it piece by piece. The families and
the rules are listed in the docstring of :mod:`lineal.datasets.digest`, which is where the
contract is published.

Columns are processed in pieces of at most :data:`PIECE_ROWS` rows, cut from the column's own
chunks (zero-copy slices), so that one normalised piece, never a normalised column, is in
memory at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "PIECE_ROWS",
    "TIME_UNITS",
    "canonical_type",
    "display_type",
    "is_float",
    "iter_pieces",
    "missing_mask",
    "timestamp_unit_for",
]

# 256 Ki rows: 2 MiB per 8-byte column piece. Big enough that per-call overhead is noise,
# small enough that a few normalised pieces per thread stay far below the frame's size.
PIECE_ROWS = 1 << 18

# Units from finest to coarsest, with how many of each make one second.
TIME_UNITS: tuple[tuple[str, int], ...] = (("ns", 10**9), ("us", 10**6), ("ms", 10**3), ("s", 1))
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def iter_pieces(column: pa.ChunkedArray, rows: int = PIECE_ROWS) -> Iterator[pa.Array]:
    """Yield the column as consecutive zero-copy slices of at most ``rows`` rows."""
    for chunk in column.chunks:
        for start in range(0, len(chunk), rows):
            yield chunk.slice(start, rows)


def is_float(arrow_type: pa.DataType) -> bool:
    """True for float16/32/64, the types whose NaN counts as missing."""
    return pa.types.is_floating(arrow_type)


def missing_mask(piece: pa.Array) -> pa.BooleanArray | None:
    """Boolean mask of missing slots (null, or NaN in a float column), or None if none are.

    NaN counts as missing because pandas uses it as its missing marker and converts it to null
    on the way to Arrow, while polars keeps it: treating both alike is what lets the same data
    from either library agree.
    """
    if is_float(piece.type):
        mask = pc.is_null(piece, nan_is_null=True)
        return mask if pc.any(mask).as_py() else None
    if piece.null_count == 0:
        return None
    return pc.is_null(piece)


def timestamp_unit_for(column: pa.ChunkedArray) -> str:
    """The finest unit (ns, us, ms, s) in which every value of a timestamp/duration column fits.

    This is a property of the instants, not of the declared unit, so the same instants stored
    as ``timestamp[ns]`` by pandas and ``timestamp[us]`` by polars get the same canonical unit,
    and a far-future sentinel such as 9999-12-31 (beyond the nanosecond range) still hashes
    exactly.
    """
    declared = column.type.unit
    factor = dict(TIME_UNITS)[declared]
    stats = pc.min_max(column.cast(pa.int64()) if len(column) else pa.array([], pa.int64()))
    low, high = stats["min"].as_py(), stats["max"].as_py()
    if low is None:
        return "ns"
    for unit, per_second in TIME_UNITS:
        if per_second < factor:
            return declared
        scale = per_second // factor
        if low * scale >= _INT64_MIN and high * scale <= _INT64_MAX:
            return unit
    return declared


def canonical_type(arrow_type: pa.DataType, *, time_unit: str | None = None) -> pa.DataType:
    """The canonical representative of ``arrow_type``'s family.

    ``time_unit`` overrides the unit of a top-level timestamp/duration (see
    :func:`timestamp_unit_for`); nested timestamps keep their declared unit.
    """
    t = arrow_type
    if pa.types.is_dictionary(t):
        return canonical_type(t.value_type, time_unit=time_unit)
    if isinstance(t, pa.ExtensionType):
        return canonical_type(t.storage_type, time_unit=time_unit)
    if pa.types.is_signed_integer(t):
        return pa.int64()
    if pa.types.is_unsigned_integer(t):
        return pa.uint64()
    if pa.types.is_floating(t):
        return pa.float64()
    if pa.types.is_string(t) or pa.types.is_large_string(t) or _is(t, "is_string_view"):
        return pa.large_string()
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or _is(t, "is_binary_view"):
        return pa.large_binary()
    if pa.types.is_timestamp(t):
        return pa.timestamp(time_unit or t.unit, tz=t.tz)
    if pa.types.is_duration(t):
        return pa.duration(time_unit or t.unit)
    if pa.types.is_date(t):
        return pa.date32()
    if pa.types.is_time(t):
        return pa.time64("ns")
    if pa.types.is_decimal(t):
        # Precision is a width (pandas infers the smallest that fits, polars declares 38);
        # the scale says what the digits mean, so it stays part of the family.
        return pa.decimal256(76, t.scale)
    if pa.types.is_map(t):
        entry = pa.struct(
            [
                pa.field("key", canonical_type(t.key_type), nullable=False),
                pa.field("value", canonical_type(t.item_type)),
            ]
        )
        return pa.large_list(pa.field("entries", entry, nullable=False))
    if (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or _is(t, "is_list_view")
        or _is(t, "is_large_list_view")
    ):
        return pa.large_list(canonical_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct(
            [pa.field(t.field(i).name, canonical_type(t.field(i).type)) for i in range(t.num_fields)]
        )
    # bool, null, fixed_size_binary, intervals: already one representation each.
    return t


def _is(arrow_type: pa.DataType, predicate: str) -> bool:
    # Older pyarrow releases lack the *_view predicates; such types cannot occur there anyway.
    check = getattr(pa.types, predicate, None)
    return bool(check and check(arrow_type))


def display_type(arrow_type: pa.DataType) -> str:
    """The type string shown in schemas: Arrow's, minus representation-only differences.

    ``large_string``/``string_view`` show as ``string``, a dictionary shows as its values'
    type, ``large_list``/``list_view`` as ``list``. Widths and units are kept (``int32``,
    ``timestamp[ns, tz=UTC]``) because they are what the producer declared.
    """
    t = arrow_type
    if pa.types.is_dictionary(t):
        return display_type(t.value_type)
    if isinstance(t, pa.ExtensionType):
        return display_type(t.storage_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or _is(t, "is_string_view"):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or _is(t, "is_binary_view"):
        return "binary"
    if pa.types.is_map(t):
        return f"map<{display_type(t.key_type)}, {display_type(t.item_type)}>"
    if pa.types.is_fixed_size_list(t):
        return f"fixed_size_list<{display_type(t.value_type)}>[{t.list_size}]"
    if (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or _is(t, "is_list_view")
        or _is(t, "is_large_list_view")
    ):
        return f"list<{display_type(t.value_type)}>"
    if pa.types.is_struct(t):
        inner = ", ".join(f"{t.field(i).name}: {display_type(t.field(i).type)}" for i in range(t.num_fields))
        return f"struct<{inner}>"
    return str(t)
