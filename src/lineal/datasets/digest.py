"""Content digests of tables: ``"sha256:<hex>"``, the identity of a dataset version.

The digest contract (version 1). It is public: stored digests are compared across machines,
processes and lineal releases, so any change to these rules must bump the version string.

**What is hashed.** The WHOLE table, every row and every column, never a sample. SHA-256 is
used throughout (hardware-accelerated on current CPUs, faster here than BLAKE2).

**What is part of the digest, so changing it changes the digest:**

- every value, and which slots are missing;
- the row order, and the column order;
- the column names (UTF-8);
- the number of rows and columns;
- each column's type *family* (below): e.g. int -> float, int -> string, naive -> UTC
  timestamps, signed -> unsigned all change it.

**What is not part of it, so the same data from pandas, polars or Arrow agrees:**

- memory layout: chunking, slice offsets, buffer padding, and the bytes under null slots;
- representation-only type differences, normalised to one canonical type per family:

  ============================================  ======================================
  Arrow types                                   canonical family (hashed as)
  ============================================  ======================================
  int8, int16, int32, int64                     int64 (little-endian)
  uint8, uint16, uint32, uint64                 uint64
  float16, float32, float64                     float64 (float32 widened exactly)
  string, large_string, string_view             large_string (UTF-8 bytes + lengths)
  binary, large_binary, binary_view             large_binary
  dictionary<values=T> (categoricals)           the family of T: the decoded values
  timestamp[s|ms|us|ns, tz]                     timestamp[u*, tz] (see below)
  duration[s|ms|us|ns]                          duration[u*]
  date32, date64                                date32 (days)
  time32, time64                                time64[ns]
  list, large_list, fixed_size_list, list_view  large_list of the canonical child type
  map<K, V>                                     large_list<struct<key: K, value: V>>
  struct                                        struct of canonical child types
  decimal128(p, s), decimal256(p, s)            decimal256(76, s): precision is a width,
                                                the scale is kept
  extension types                               their storage type
  bool, null, fixed_size_binary, intervals      themselves
  ============================================  ======================================

  So widths (int32 vs int64, float32 vs float64), string/categorical encodings and
  timestamp units do not change the digest when the values are the same. Schemas
  (:mod:`lineal.datasets.schema`) still show the declared widths and units.

- **Timestamps and durations:** ``u*`` is the finest unit (ns, us, ms, s) in which every value
  of the column fits in int64, so it depends only on the instants, never on the declared
  unit. The time zone string is part of the family (``UTC`` and naive differ). Inside nested
  types timestamps keep their declared unit.
- **Missing values:** a null, and a NaN in a float column, are both *missing* (pandas uses NaN
  as its missing marker and converts it to null on the way to Arrow; polars keeps NaN). So NaN
  and null hash alike, and both differ from 0, "" and False. Missing slots are hashed as their
  row positions (uint64) and the value bytes under them as zeros, so whatever garbage a
  library leaves under a null never reaches the digest. A null list or string counts as
  length 0; a null struct makes its children missing at that row.
- **The pandas index is dropped** (:func:`lineal.datasets.convert.to_arrow`): call
  ``df.reset_index()`` first if it carries data. Schema metadata (pandas metadata, field
  metadata) is ignored. ``-0.0`` and ``0.0`` are different values and hash differently.

**How.** Each column is read in zero-copy pieces; each piece is cast to its canonical type and
its buffers fed to streams, one per node of the type tree: missing positions (uint64), lengths
(int64, for strings and lists), values (fixed-width little-endian bytes; UTF-8 bytes for
strings; 0/1 bytes for bools). Streams are position-based, so piece boundaries never matter.
A column digest is SHA-256 over its canonical type string and its streams' digests; the table
digest is SHA-256 over ``lineal-dataset-digest/1``, the row and column counts, and each
column's name and digest. Columns are hashed in parallel threads (hashlib and pyarrow release
the GIL). Encodings are little-endian; a big-endian host raises rather than disagree.
"""

from __future__ import annotations

import hashlib
import struct
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .canonical import canonical_type, iter_pieces, missing_mask, timestamp_unit_for
from .errors import UnsupportedDataError

__all__ = ["DIGEST_VERSION", "ColumnHasher", "column_canonical_type", "combine", "fingerprint"]

DIGEST_VERSION = b"lineal-dataset-digest/1"
_ZERO_DIGEST = b"\0" * 32


def _u64(value: int) -> bytes:
    return struct.pack("<Q", value)


def _text(value: str) -> bytes:
    raw = value.encode("utf-8")
    return _u64(len(raw)) + raw


def column_canonical_type(column: pa.ChunkedArray) -> pa.DataType:
    """The canonical type a column is hashed as (content-dependent only for time units)."""
    arrow_type = column.type
    value_type = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    if pa.types.is_timestamp(value_type) or pa.types.is_duration(value_type):
        return canonical_type(arrow_type, time_unit=timestamp_unit_for(column.cast(value_type)))
    return canonical_type(arrow_type)


class _Node:
    """The streams of one node of a canonical type tree (a column, or a nested child)."""

    def __init__(self, arrow_type: pa.DataType) -> None:
        self.type = arrow_type
        self.rows = 0
        self.missing = hashlib.sha256()
        self.lengths = hashlib.sha256()
        self.values = hashlib.sha256()
        self.children: list[_Node] = []
        if pa.types.is_large_list(arrow_type):
            self.children = [_Node(arrow_type.value_type)]
        elif pa.types.is_struct(arrow_type):
            self.children = [_Node(arrow_type.field(i).type) for i in range(arrow_type.num_fields)]
        self._zero = _zero_scalar(arrow_type)

    def update(self, piece: pa.Array, mask: pa.BooleanArray | None) -> None:
        """Feed one canonical piece; ``mask`` marks its missing slots (None: none missing)."""
        if mask is not None:
            positions = pc.indices_nonzero(mask)
            if self.rows:
                positions = pc.add(positions, pa.scalar(self.rows, pa.uint64()))
            _feed_fixed(self.missing, positions)
        self.rows += len(piece)
        t = self.type
        if pa.types.is_null(t):
            return
        if pa.types.is_boolean(t):
            filled = pc.if_else(mask, False, piece) if mask is not None else piece
            _feed_fixed(self.values, pc.cast(filled, pa.uint8()))
        elif pa.types.is_large_string(t) or pa.types.is_large_binary(t):
            filled = pc.if_else(mask, self._zero, piece) if mask is not None else piece
            _feed_fixed(self.lengths, pc.binary_length(filled))
            _feed_string_bytes(self.values, filled)
        elif pa.types.is_large_list(t):
            lengths = pc.list_value_length(piece)
            if mask is not None:
                lengths = pc.fill_null(lengths, 0)
            _feed_fixed(self.lengths, lengths)
            # flatten() skips the children hidden under null lists.
            child = piece.flatten()
            self.children[0].update(child, missing_mask(child))
        elif pa.types.is_struct(t):
            # flatten() merges the struct's own nulls into each child.
            for node, child in zip(self.children, piece.flatten(), strict=True):
                node.update(child, missing_mask(child))
        else:
            filled = pc.if_else(mask, self._zero, piece) if mask is not None else piece
            _feed_fixed(self.values, filled)

    def digests(self) -> list[bytes]:
        """Stream digests of this node and its children, in preorder."""
        out = [self.missing.digest(), self.lengths.digest(), self.values.digest()]
        for child in self.children:
            out.extend(child.digests())
        return out


def _zero_scalar(arrow_type: pa.DataType) -> pa.Scalar | None:
    t = arrow_type
    if pa.types.is_large_string(t):
        return pa.scalar("", t)
    if pa.types.is_large_binary(t):
        return pa.scalar(b"", t)
    if pa.types.is_fixed_size_binary(t):
        return pa.scalar(b"\0" * t.byte_width, t)
    if pa.types.is_decimal(t):
        return pa.scalar(Decimal(0), t)
    if pa.types.is_interval(t):
        return pa.scalar((0, 0, 0), t)
    if (
        pa.types.is_null(t)
        or pa.types.is_boolean(t)
        or pa.types.is_large_list(t)
        or pa.types.is_struct(t)
    ):
        return None
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_temporal(t):
        return pa.scalar(0, t)
    raise UnsupportedDataError(f"cannot fingerprint a column of type {t}")


def _feed_fixed(hasher: Any, array: pa.Array) -> None:
    """Hash the value bytes of a fixed-width array without nulls, honouring its offset."""
    if len(array) == 0:
        return
    width = array.type.bit_width // 8
    buffer = array.buffers()[1]
    hasher.update(buffer.slice(array.offset * width, len(array) * width))


def _feed_string_bytes(hasher: Any, array: pa.Array) -> None:
    """Hash the concatenated value bytes of a large_string/large_binary array."""
    if len(array) == 0:
        return
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = pa.Array.from_buffers(
        pa.int64(), len(array) + 1, [None, offsets_buffer], offset=array.offset
    )
    start, end = offsets[0].as_py(), offsets[len(array)].as_py()
    if end > start:
        hasher.update(data_buffer.slice(start, end - start))


class ColumnHasher:
    """Incremental digest of one column; feed canonical pieces in row order, then finish()."""

    def __init__(self, canonical: pa.DataType) -> None:
        self.canonical = canonical
        self._root = _Node(canonical)

    def update(self, piece: pa.Array, mask: pa.BooleanArray | None) -> None:
        """Feed the next piece, already cast to the canonical type."""
        self._root.update(piece, mask)

    def finish(self) -> bytes:
        """The 32-byte column digest (type family + every stream)."""
        h = hashlib.sha256(_text(str(self.canonical)))
        for digest in self._root.digests():
            h.update(digest)
        return h.digest()


def hash_column(column: pa.ChunkedArray) -> bytes:
    """Digest of one column on its own (no name): used by :func:`fingerprint`."""
    canonical = column_canonical_type(column)
    hasher = ColumnHasher(canonical)
    for piece in iter_pieces(column):
        normal = piece.cast(canonical)
        hasher.update(normal, missing_mask(normal))
    return hasher.finish()


def combine(num_rows: int, names: Sequence[str], column_digests: Sequence[bytes]) -> str:
    """The table digest from its column names and column digests, as ``sha256:<hex>``."""
    h = hashlib.sha256(DIGEST_VERSION)
    h.update(_u64(num_rows) + _u64(len(names)))
    for name, digest in zip(names, column_digests, strict=True):
        h.update(_text(name))
        h.update(digest)
    return "sha256:" + h.hexdigest()


def check_byte_order() -> None:
    """Refuse to hash on a big-endian host instead of producing digests that disagree."""
    if sys.byteorder != "little":
        raise NotImplementedError("lineal dataset digests are only computed on little-endian hosts")


def fingerprint(table: pa.Table, *, threads: int | None = None) -> str:
    """The content digest ``"sha256:<hex>"`` of a whole table (rules: module docstring).

    >>> fingerprint(pa.table({"x": [1, 2, 3]}))  # doctest: +ELLIPSIS
    'sha256:...'
    """
    check_byte_order()
    columns = table.columns
    workers = max(1, min(threads or _default_threads(), len(columns)))
    if workers == 1:
        digests = [hash_column(c) for c in columns]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lineal-digest") as pool:
            digests = list(pool.map(hash_column, columns))
    return combine(table.num_rows, table.column_names, digests)


def _default_threads() -> int:
    import os

    return os.cpu_count() or 1
