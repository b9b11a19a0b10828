"""Canonical JSON: the one text every digest, ledger entry and stored JSON column is made of.

Equal values always give equal text (sorted keys, no insignificant whitespace, non-ASCII kept
as UTF-8), so a digest over it identifies the value, not the way it happened to be written.
Defined once here and used by the SQL store, the capture of code and environment, memoised
steps and artifact bodies: two encoders would be two definitions of "the same value".
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["canonical_bytes", "canonical_json"]

_json_string = json.encoder.encode_basestring  # C, ensure_ascii=False


def canonical_json(value: Any) -> str:
    """The canonical text of a JSON value: sorted keys, no spaces, UTF-8 kept as is.

    >>> canonical_json({"b": 1, "a": ["é", None]})
    '{"a":["é",null],"b":1}'
    """
    # Scalars (nearly every param) directly, as json.dumps would write them: a run start
    # canonicalises each of its params, and the general encoder costs several times more.
    kind = type(value)
    if kind is str:
        return _json_string(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_bytes(value: Any) -> bytes:
    """:func:`canonical_json` encoded as UTF-8: the bytes digests are computed over.

    >>> canonical_bytes({"b": 1, "a": ["é", None]})
    b'{"a":["\\xc3\\xa9",null],"b":1}'
    """
    return canonical_json(value).encode("utf-8")
