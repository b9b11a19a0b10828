"""Distinct counts over a whole column in bounded memory: exact when small, KMV estimate above.

The rule, as reported by ``ColumnProfile.distinct_is_estimate``:

- up to :data:`EXACT_LIMIT` (16,384) distinct non-missing values the count is exact, and
  per-value counts are kept (they give the top values);
- above that, the count is a K-minimum-values estimate: every value is hashed to 64 bits and
  the :data:`EXACT_LIMIT` smallest distinct hashes are kept; the estimate is
  ``(k - 1) / (k-th smallest hash / 2**64)``, with a relative standard error of about
  ``1 / sqrt(k - 2)``, 0.8%. A KMV sketch holding fewer than k hashes is itself exact, so both
  modes agree on where exactness ends.

Counting starts in exact mode with ``pyarrow.compute.value_counts`` per piece, merged with a
group-by. When a column is evidently high-cardinality (the first rows are mostly distinct) or
the merged table outgrows the limit, it switches to the sketch, so an ID column never builds a
hash table of millions of keys (``count_distinct`` over 10 M unique strings takes seconds and
over a gigabyte). Hashing for the sketch is vectorised with numpy (part of the ``lineal[data]``
extra); without numpy, columns above the limit report ``None``.

Missing values (null, and NaN in float columns) are never counted as a distinct value.
"""

from __future__ import annotations

import threading
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .canonical import missing_mask

__all__ = ["EXACT_LIMIT", "DistinctCounter", "supports_distinct"]

EXACT_LIMIT = 1 << 14
_PROBE_ROWS = 1 << 14
_MERGE_ROWS = 4 * EXACT_LIMIT
_MASK64 = (1 << 64) - 1
# Odd multiplier for the polynomial string hash (odd, so it is invertible modulo 2**64).
_POLY = 0x100000001B3 * 2 + 1
_POLY_INVERSE = pow(_POLY, -1, 1 << 64)
_LENGTH_MIX = 0x9E3779B97F4A7C15
# Byte budget of one string hashing step: its uint64 temporaries are 8x this.
_STRING_BYTES = 1 << 20


def supports_distinct(canonical: pa.DataType) -> bool:
    """Whether distinct values are counted for this canonical type (not for nested types)."""
    return not (
        pa.types.is_nested(canonical) or pa.types.is_null(canonical) or pa.types.is_interval(canonical)
    )


class DistinctCounter:
    """Feed canonical pieces with their missing masks; read ``count``/``is_estimate``/``top``."""

    def __init__(self, canonical: pa.DataType) -> None:
        self.type = canonical
        self._counts: pa.Table | None = None  # exact mode: columns "values", "counts"
        # Per-piece counts not merged yet: merging is a group-by with a fixed cost, so it runs
        # once per _MERGE_ROWS rows of counts rather than once per piece.
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._sketch: _KMV | None = None
        self._unavailable = False
        self._probed = False

    def update(
        self, piece: pa.Array, mask: pa.BooleanArray | None, raw: pa.Array | None = None
    ) -> None:
        """Count the non-missing values of one piece.

        ``raw``, when given, is the same piece before its cast to the canonical type: for a
        dictionary-encoded piece, counting its indices and decoding only the distinct values is
        several times faster than counting the decoded strings.
        """
        if self._unavailable:
            return
        values = pc.filter(piece, pc.invert(mask)) if mask is not None else piece
        if len(values) == 0:
            return
        if self._sketch is not None:
            self._sketch.add(_hash_values(values))
            return
        if not self._probed:
            self._probed = True
            probe = values.slice(0, _PROBE_ROWS)
            if len(probe) == _PROBE_ROWS and pc.count_distinct(probe).as_py() > _PROBE_ROWS // 2:
                self._switch_to_sketch(values)
                return
        if raw is not None and pa.types.is_dictionary(raw.type):
            counts = pc.value_counts(raw.drop_null())
            distinct = counts.field(0).cast(self.type)
            mask = missing_mask(distinct)
            frequencies = counts.field(1)
            if mask is not None:  # a NaN among a float dictionary's values
                distinct, frequencies = distinct.filter(pc.invert(mask)), frequencies.filter(pc.invert(mask))
            table = pa.Table.from_arrays([distinct, frequencies], names=["values", "counts"])
        else:
            counts = pc.value_counts(values)
            table = pa.Table.from_arrays([counts.field(0), counts.field(1)], names=["values", "counts"])
        if table.num_rows > EXACT_LIMIT:
            self._pending.append(table)
            self._switch_to_sketch(None)
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows > _MERGE_ROWS:
            self._merge()

    def _merge(self) -> None:
        """Fold the pending per-piece counts into the exact table (or switch to the sketch)."""
        if not self._pending or self._sketch is not None:
            return
        tables = ([self._counts] if self._counts is not None else []) + self._pending
        self._pending, self._pending_rows = [], 0
        if len(tables) == 1:
            table = tables[0]
        else:
            merged = pa.concat_tables(tables)
            table = merged.group_by("values").aggregate([("counts", "sum")])
            table = table.rename_columns(["values", "counts"])
        self._counts = table
        if table.num_rows > EXACT_LIMIT:
            self._switch_to_sketch(None)

    def _switch_to_sketch(self, pending: pa.Array | None) -> None:
        try:
            import numpy  # noqa: F401
        except ImportError:
            self._unavailable = True
            self._counts, self._pending = None, []
            return
        sketch = _KMV(EXACT_LIMIT)
        for table in ([self._counts] if self._counts is not None else []) + self._pending:
            sketch.add(_hash_values(table.column("values").combine_chunks()))
        if pending is not None:
            sketch.add(_hash_values(pending))
        self._counts, self._pending, self._pending_rows = None, [], 0
        self._sketch = sketch

    @property
    def count(self) -> int | None:
        """Distinct non-missing values (exact or estimated), or None if it could not be had."""
        if self._unavailable:
            return None
        self._merge()
        if self._sketch is not None:
            return self._sketch.estimate()
        return 0 if self._counts is None else self._counts.num_rows

    @property
    def is_estimate(self) -> bool:
        """True when :attr:`count` is a sketch estimate rather than an exact count."""
        self._merge()
        return self._sketch is not None and self._sketch.full

    def top(self, n: int) -> list[tuple[Any, int]]:
        """The ``n`` most frequent values with their counts (ties by value); [] above the limit."""
        self._merge()
        if self._counts is None or self._counts.num_rows == 0:
            return []
        order = pc.sort_indices(
            self._counts, sort_keys=[("counts", "descending"), ("values", "ascending")]
        )
        top = self._counts.take(order.slice(0, n))
        return list(
            zip(top.column("values").to_pylist(), top.column("counts").to_pylist(), strict=True)
        )


class _KMV:
    """The k smallest distinct 64-bit hashes seen (sorted numpy uint64 array)."""

    def __init__(self, k: int) -> None:
        import numpy as np

        self.k = k
        self.values = np.empty(0, dtype=np.uint64)
        # Hashes below the k-th smallest, not merged yet: merging re-sorts about k values, so
        # it waits until about k candidates have gathered instead of running once per piece.
        self._buffer: list[Any] = []
        self._buffered = 0

    @property
    def full(self) -> bool:
        self._flush()
        return len(self.values) >= self.k

    def add(self, hashes: Any) -> None:
        import numpy as np

        if len(self.values) >= self.k:
            # Only hashes below the current k-th smallest can enter: usually a handful.
            hashes = hashes[hashes < self.values[-1]]
            if len(hashes):
                self._buffer.append(hashes)
                self._buffered += len(hashes)
            if self._buffered >= self.k:
                self._flush()
            return
        if len(hashes) == 0:
            return
        if len(hashes) > 4 * self.k:
            # Only the k smallest distinct can be kept: select the 2k smallest in linear time
            # before sorting. Every hash up to the 2k-th smallest, t, is among them, so when
            # they hold at least k distinct values the k smallest distinct are all there;
            # otherwise (many duplicates) fall back to sorting everything.
            selected = _sorted_unique(np.partition(hashes, 2 * self.k - 1)[: 2 * self.k])
            if len(selected) >= self.k:
                hashes = selected
        self.values = _sorted_unique(np.concatenate([self.values, hashes]))[: self.k]

    def _flush(self) -> None:
        import numpy as np

        if self._buffer:
            pending, self._buffer, self._buffered = self._buffer, [], 0
            self.values = _sorted_unique(np.concatenate([self.values, *pending]))[: self.k]

    def estimate(self) -> int:
        self._flush()
        if not self.full:
            return len(self.values)
        fraction = (int(self.values[-1]) + 1) / 2.0**64
        return round((self.k - 1) / fraction)


def _sorted_unique(values: Any) -> Any:
    """Sorted distinct values of a uint64 array: np.sort (SIMD) then an adjacent-difference
    dedupe, much faster than np.unique or np.union1d, whose hashing dominated the profile."""
    import numpy as np

    merged = np.sort(values)
    if len(merged) > 1:
        keep = np.empty(len(merged), dtype=bool)
        keep[0] = True
        np.not_equal(merged[1:], merged[:-1], out=keep[1:])
        merged = merged[keep]
    return merged


def _mix(h: Any) -> Any:
    """splitmix64's finaliser, in place on a uint64 array (numpy wraps modulo 2**64)."""
    import numpy as np

    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


def _hash_values(values: pa.Array) -> Any:
    """64-bit hashes of a canonical array without missing values."""
    import numpy as np

    t = values.type
    if pa.types.is_large_string(t) or pa.types.is_large_binary(t):
        return _hash_strings(values)
    if pa.types.is_boolean(t):
        return _mix(np.asarray(pc.cast(values, pa.uint64())).copy())
    width = t.bit_width // 8
    buffer = values.buffers()[1]
    if width in (4, 8):
        dtype = np.uint32 if width == 4 else np.uint64
        raw = np.frombuffer(buffer, dtype=dtype, count=len(values), offset=values.offset * width)
        return _mix(raw.astype(np.uint64))
    # Decimals and fixed-size binaries: hash their bytes like strings of one width.
    offsets = pa.array(range(0, (len(values) + 1) * width, width), pa.int64())
    data = buffer.slice(values.offset * width, len(values) * width)
    as_binary = pa.Array.from_buffers(pa.large_binary(), len(values), [None, offsets.buffers()[1], data])
    return _hash_strings(as_binary)


class _PowerTables:
    """Cached P**j and P**-j modulo 2**64, grown on demand (shared by all threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.powers: Any = None
        self.inverses: Any = None

    def get(self, size: int) -> tuple[Any, Any]:
        if size > _STRING_BYTES + 1:
            # Only a single huge string gets here: build its tables, but do not keep them.
            return _power_table(_POLY, size), _power_table(_POLY_INVERSE, size)
        with self._lock:
            if self.powers is None:
                self.powers = _power_table(_POLY, _STRING_BYTES + 1)
                self.inverses = _power_table(_POLY_INVERSE, _STRING_BYTES + 1)
            return self.powers, self.inverses


def _power_table(base: int, size: int) -> Any:
    import numpy as np

    table = np.full(size, base, dtype=np.uint64)
    table[0] = 1
    np.cumprod(table, out=table)
    return table


_TABLES = _PowerTables()


def _hash_strings(values: pa.Array) -> Any:
    import numpy as np

    n = len(values)
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64, count=n + 1, offset=values.offset * 8)
    nbytes = int(offsets[-1] - offsets[0])
    if nbytes > _STRING_BYTES and n > 1:
        # Bound the 8-bytes-per-byte temporaries: hash halves separately.
        half = n // 2
        return np.concatenate(
            [_hash_strings(values.slice(0, half)), _hash_strings(values.slice(half))]
        )
    relative = offsets - offsets[0]
    starts, ends = relative[:-1], relative[1:]
    powers, inverses = _TABLES.get(nbytes + 1)
    prefix = np.zeros(nbytes + 1, dtype=np.uint64)
    if nbytes:
        data = np.frombuffer(data_buffer, dtype=np.uint8, count=nbytes, offset=int(offsets[0]))
        terms = data.astype(np.uint64)
        terms *= powers[:nbytes]
        np.cumsum(terms, out=prefix[1:])
    # sum(byte_j * P**j) over the string, shifted to start at P**0 so position does not matter.
    h = prefix[ends] - prefix[starts]
    h *= inverses[starts]
    h ^= (ends - starts).astype(np.uint64) * np.uint64(_LENGTH_MIX)
    return _mix(h)
