"""Bounds on values users pass in that are neither names nor references (those are checked in
:mod:`lineal.refs`): result limits and run params.

Each check raises :class:`~lineal.errors.InvalidArgument` naming the value and the bound, before
anything reaches the database: an out-of-range integer or a parameter nested thousands deep
would otherwise surface as a driver overflow or a ``RecursionError`` halfway through a write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import InvalidArgument

__all__ = [
    "MAX_LIMIT",
    "MAX_PARAM_DEPTH",
    "check_limit",
    "check_page",
    "check_param_value",
    "check_params",
]

#: The most rows one listing returns. Far more than a page, far less than the 64-bit integer
#: the databases accept, so a mistyped limit fails here rather than as a driver overflow.
MAX_LIMIT = 10_000_000
#: How deeply lists and dicts may nest inside one param value.
MAX_PARAM_DEPTH = 64


def check_limit(limit: int, what: str = "limit") -> int:
    """Return ``limit`` if it is an integer from 1 to :data:`MAX_LIMIT`, else raise."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument(
            f"{what} must be a whole number from 1 to {MAX_LIMIT:,}, got {limit!r}",
            hint="page through larger results with offset",
        )
    return limit


def check_page(limit: int, offset: int) -> None:
    """A listing's ``limit`` and ``offset``: both must fit the database's 64-bit integers."""
    check_limit(limit)
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < 2**63:
        raise InvalidArgument(f"offset must be a whole number from 0, got {offset!r}")


def check_params(params: Any) -> dict[str, Any]:
    """``params`` as a dict, if it is a mapping of string keys to JSON-like values."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidArgument(
            f"params must be a mapping of names to values, got {type(params).__name__}",
            hint="pass a dict, e.g. params={'lr': 0.1}",
        )
    out = dict(params)
    for key, value in out.items():
        if not isinstance(key, str):
            raise InvalidArgument(
                f"param names must be strings, got {key!r}", hint="e.g. params={'lr': 0.1}"
            )
        check_param_value(key, value)
    return out


def check_param_value(key: str, value: Any) -> None:
    """Refuse a value whose lists and dicts nest deeper than :data:`MAX_PARAM_DEPTH` (walked
    without recursion, so the check itself cannot overflow the stack)."""
    if not isinstance(value, (dict, list, tuple)):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_PARAM_DEPTH:
            raise InvalidArgument(
                f"param {key!r} nests lists or dicts more than {MAX_PARAM_DEPTH} levels deep",
                hint=f"flatten it (e.g. 'model.layer.size') to at most {MAX_PARAM_DEPTH} levels",
            )
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list, tuple)))
