"""One JSON codec for every entity: ``from_dict(cls, entity.to_dict())`` rebuilds the entity.

Each entity's ``to_dict`` writes its fields under their own names (datetimes as ISO-8601 text,
enums as their values, nested entities as dicts, tuples as lists) and may add derived keys
(``ref``, ``ok``...). :func:`from_dict` reads those dicts back by the dataclass's fields and type
hints, so a remote store (the lineal server's HTTP client) and any reader of ``--json`` output
decode every entity the same way, with no converter per class: one representation per entity.
An entity whose ``to_dict`` is not shaped like that defines its own ``from_dict`` classmethod,
which :func:`from_dict` uses instead. ``tests/core/test_codec.py`` round-trips every entity.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from .errors import InvalidArgument

__all__ = ["from_dict", "to_dict"]

T = TypeVar("T")
_NONFINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def to_dict(entity: Any) -> dict[str, Any]:
    """The JSON-ready dict of an entity (its own ``to_dict``)."""
    result: dict[str, Any] = entity.to_dict()
    return result


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """The ``cls`` entity that ``data`` (a ``to_dict`` result, or its JSON read back) holds.

    >>> from lineal.entities import Purge
    >>> purge = from_dict(Purge, {"purged_at": "2026-01-02T03:04:05+00:00",
    ...                           "purged_by": "ana", "reason": "GDPR request"})
    >>> purge.purged_by
    'ana'

    InvalidArgument names the field when ``data`` does not fit the entity.
    """
    own = cls.__dict__.get("from_dict")
    if own is not None:
        return typing.cast(T, cls.from_dict(data))  # type: ignore[attr-defined]
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__qualname__} is not an entity (a dataclass)")
    if not isinstance(data, Mapping):
        raise InvalidArgument(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    hints = _hints(cls)
    values: dict[str, Any] = {}
    late: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise InvalidArgument(f"{cls.__name__}: missing field {f.name!r}")
            continue
        try:
            value = decode(hints.get(f.name, Any), data[f.name])
        except (TypeError, ValueError, KeyError) as error:
            raise InvalidArgument(f"{cls.__name__}.{f.name}: {error}") from error
        (values if f.init else late)[f.name] = value
    entity = cls(**values)
    for name, value in late.items():
        object.__setattr__(entity, name, value)
    return entity


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # Entities imported only for type checking are not in their module's namespace: the entity
    # modules supply them (any name the module defines itself wins).
    from .entities import _core, _lineage, _registry, _webhooks

    namespace: dict[str, Any] = {"Any": Any, "datetime": datetime, "Path": Path}
    for source in (_core, _lineage, _registry, _webhooks, sys.modules.get(cls.__module__)):
        if source is not None:
            namespace.update(vars(source))
    return typing.get_type_hints(cls, globalns=namespace)


def decode(tp: Any, value: Any) -> Any:
    """``value`` (JSON-shaped) as an instance of the type ``tp``; TypeError or ValueError when it
    is not one."""
    if tp is Any or tp is object:
        return value
    if value is None:
        if tp is type(None) or _optional(tp):
            return None
        raise TypeError(f"null where {_name(tp)} is required")
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _union(typing.get_args(tp), value)
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise ValueError(f"{value!r} is not one of {typing.get_args(tp)}")
        return value
    if origin is typing.ClassVar:
        return value
    if origin is not None:
        return _generic(origin, typing.get_args(tp), value)
    if isinstance(tp, type):
        return _plain(tp, value)
    return value  # a TypeVar or an unresolvable annotation: as it is


def _optional(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return (origin is typing.Union or origin is types.UnionType) and type(None) in typing.get_args(tp)


def _union(args: tuple[Any, ...], value: Any) -> Any:
    errors = []
    # The arm whose JSON shape matches first: a str stays a str where str is allowed.
    for arg in sorted((a for a in args if a is not type(None)), key=_preference(value)):
        try:
            return decode(arg, value)
        except (TypeError, ValueError, KeyError, InvalidArgument) as error:
            errors.append(str(error))
    raise TypeError("; ".join(errors) or f"cannot decode {value!r}")


def _preference(value: Any) -> Any:
    def rank(arg: Any) -> int:
        if isinstance(arg, type) and not issubclass(arg, enum.Enum) and isinstance(value, arg):
            return 0
        return 1
    return rank


def _generic(origin: Any, args: tuple[Any, ...], value: Any) -> Any:
    if origin in (list, set, frozenset, Sequence):
        if not isinstance(value, (list, tuple, set, frozenset)):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        items = [decode(args[0] if args else Any, v) for v in value]
        return origin(items) if origin in (set, frozenset) else items
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in value)
        if args and len(args) != len(value):
            raise ValueError(f"expected {len(args)} items, got {len(value)}")
        return tuple(decode(a, v) for a, v in zip(args or (Any,) * len(value), value, strict=True))
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise TypeError(f"expected an object, got {type(value).__name__}")
        key_type, value_type = args or (Any, Any)
        return {decode(key_type, k): decode(value_type, v) for k, v in value.items()}
    return value


def _plain(tp: type[Any], value: Any) -> Any:
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise TypeError(f"expected an object for {tp.__name__}, got {type(value).__name__}")
        return from_dict(tp, value)
    if issubclass(tp, enum.Enum):
        return value if isinstance(value, tp) else tp(value)
    if tp is datetime:
        if isinstance(value, datetime):
            return value
        if not isinstance(value, str):
            raise TypeError(f"expected an ISO-8601 time, got {value!r}")
        return datetime.fromisoformat(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {value!r}")
        if not -(2**63) <= value < 2**63:  # what every database stores
            raise ValueError(f"{value} is out of the 64-bit integer range")
        return value
    if tp is float:
        if isinstance(value, str) and value in _NONFINITE:
            return _NONFINITE[value]  # JSON has no NaN or infinity: the wire spells them
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise TypeError(f"expected text, got {value!r}")
        return value
    if tp is Path:
        return Path(value)
    if isinstance(value, tp):
        return value
    return tp(value)


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))
