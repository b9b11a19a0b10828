"""What a run may record: the checks on params, metrics and tags, made when they are logged.

A value the store cannot hold must be refused where it is logged, naming the key and the
problem: once buffered, it would only fail later, in a flush far from the line that logged it.
The limits are those of the strictest backend, so a run that records on SQLite also records on
PostgreSQL and MariaDB:

- keys: 1-250 characters (the indexed key columns), no NUL character (PostgreSQL text cannot
  hold one);
- metric steps: integers that fit in 64 bits (BIGINT);
- metric values: real numbers that fit in a 64-bit float; NaN and +-inf are kept as such;
- param values: JSON (str, int, float, bool, None, lists and dicts of those) with finite numbers;
- param and tag values: at most 65,535 bytes of UTF-8 (a MySQL TEXT column), no NUL in tags.
"""

from __future__ import annotations

import json
import operator
from typing import Any

from .errors import InvalidArgument

__all__ = ["MAX_KEY", "MAX_TEXT_BYTES", "check_key", "metric_step", "metric_value",
           "param_value", "tag_value"]

MAX_KEY = 250  # tables.KEY; a test keeps the two equal
MAX_TEXT_BYTES = 65_535
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def check_key(key: Any, what: str) -> str:
    """``key`` if it can name a ``what`` (metric, param, tag); else InvalidArgument."""
    if not isinstance(key, str) or not key:
        raise InvalidArgument(f"{what} key must be a non-empty string, got {key!r}")
    if len(key) > MAX_KEY:
        raise InvalidArgument(f"{what} key {key[:40]!r}... is {len(key)} characters long",
                              hint=f"use at most {MAX_KEY}")
    if "\x00" in key:
        raise InvalidArgument(f"{what} key {key!r} contains a NUL character",
                              hint="remove the \\x00 from the key")
    _utf8(key, f"{what} key {key!r}")
    return key


def metric_value(key: str, value: Any) -> float:
    """``value`` as the float that will be stored."""
    if isinstance(value, (str, bytes, bytearray)):
        raise InvalidArgument(f"metric {key!r} value {value!r} is a {type(value).__name__}, "
                              "not a number", hint="log a number (int or float)")
    try:
        return float(value)
    except OverflowError:
        raise InvalidArgument(f"metric {key!r} value {_short(value)} is too large for a 64-bit "
                              "float", hint="log a value within +-1.8e308 (or float('inf'))"
                              ) from None
    except (TypeError, ValueError):
        raise InvalidArgument(f"metric {key!r} value {_short(value)} is not a number") from None


def metric_step(key: str, step: Any) -> int:
    """``step`` as the integer that will be stored."""
    try:
        number = operator.index(step)
    except TypeError:
        raise InvalidArgument(f"metric {key!r} step {step!r} is not an integer") from None
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise InvalidArgument(f"metric {key!r} step {_short(number)} does not fit in 64 bits",
                              hint="use a step between -2**63 and 2**63-1")
    return number


def param_value(key: str, value: Any) -> None:
    """Refuse a param value that cannot be stored as JSON text."""
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False, sort_keys=True)
    except ValueError:
        raise InvalidArgument(f"param {key!r} is {_short(value)}; params must be finite",
                              hint="log NaN or infinity as a metric, or as a string") from None
    except TypeError:
        raise InvalidArgument(
            f"param {key!r} has a value of type {type(value).__name__} that is not JSON",
            hint="params must be str, int, float, bool, None, or lists/dicts of those",
        ) from None
    _fits(text, "param", key)


def tag_value(key: str, value: Any) -> str:
    """``value`` as the text that will be stored."""
    text = str(value)
    if "\x00" in text:
        raise InvalidArgument(f"tag {key!r} value contains a NUL character",
                              hint="remove the \\x00 from the value")
    _fits(text, "tag", key)
    return text


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(f"{what} is not valid Unicode (a lone surrogate)",
                              hint="decode the text properly before logging it") from None


def _fits(text: str, what: str, key: str) -> None:
    size = len(_utf8(text, f"{what} {key!r} value"))
    if size > MAX_TEXT_BYTES:
        raise InvalidArgument(f"{what} {key!r} value is {size:,} bytes long",
                              hint=f"keep it under {MAX_TEXT_BYTES:,} bytes, or log the content "
                              "as an artifact")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:20] + "..." + text[-10:]
