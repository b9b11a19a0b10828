"""Times as people type them, for as-of questions: "what was live last Tuesday".

    parse_when("2026-11-17T14:30")     an instant (naive means local time)
    parse_when("2026-11-17")           the whole local day
    parse_when("last tuesday")         the whole local day, the most recent Tuesday before today
    parse_when("yesterday"), ("today")
    parse_when("3d"), ("3d ago"), ("90m")   an instant that long ago (s, m, h, d, w; m is minutes)
    parse_when("3 days ago"), ("an hour ago"), ("2 weeks ago")    the same in words
    parse_when("now")

Returns a :class:`When`: ``start_us`` and, for a day, ``end_us`` (exclusive).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ..entities import datetime_to_us, now_us
from ..errors import InvalidArgument

__all__ = ["When", "age_seconds", "datetime_us", "end_us", "parse_when", "to_us", "us_datetime"]

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]+)(?:\s+ago)?$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Words for the units; months and years are left out on purpose (their length varies, and "m"
# already means minutes).
_UNIT_WORDS = {
    **{w: "s" for w in ("s", "sec", "secs", "second", "seconds")},
    **{w: "m" for w in ("m", "min", "mins", "minute", "minutes")},
    **{w: "h" for w in ("h", "hr", "hrs", "hour", "hours")},
    **{w: "d" for w in ("d", "day", "days")},
    **{w: "w" for w in ("w", "wk", "wks", "week", "weeks")},
}
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
TimeLike = datetime | date | float | int | str


@dataclass(frozen=True, slots=True)
class When:
    start_us: int
    end_us: int | None = None
    """Exclusive end when the text named a whole day; None for an instant."""

    @property
    def is_span(self) -> bool:
        return self.end_us is not None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def age_seconds(text: str) -> float:
    """An age such as ``90s``, ``10m``, ``12h``, ``3 days`` or ``2w``, in seconds (the relative
    forms :func:`parse_when` takes, without the time they count back from)."""
    match = _AGO.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    unit = _UNIT_WORDS.get(match.group(2)) if match else None
    if match is None or unit is None:
        raise InvalidArgument(f"{text!r} is not an age",
                              hint="use a number and a unit: 90s, 10m, 12h, 3d, 2w")
    return float(match.group(1)) * _UNITS[unit]


def datetime_us(value: datetime) -> int:
    """Exact microseconds of a datetime (naive means local time); no float rounding."""
    if value.tzinfo is None:
        value = value.astimezone()
    return (value - _EPOCH) // timedelta(microseconds=1)


def us_datetime(value: int) -> datetime:
    """The UTC datetime of integer microseconds, exactly (the inverse of :func:`datetime_us`)."""
    return _EPOCH + timedelta(microseconds=value)


def _day(day: date) -> When:
    start = datetime.combine(day, time()).astimezone()
    end = datetime.combine(day + timedelta(days=1), time()).astimezone()  # 23 or 25 hours on DST days
    return When(datetime_us(start), datetime_us(end))


def parse_when(value: TimeLike, *, today: date | None = None) -> When:
    """Parse a time expression (see the module docstring); InvalidArgument if it is not one."""
    if isinstance(value, datetime):
        return When(datetime_us(value))
    if isinstance(value, date):
        return _day(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return _checked(When(datetime_to_us(value)), value)
        except (ValueError, OverflowError):  # NaN, infinity
            raise InvalidArgument(f"time {value!r} is out of range",
                                  hint="give epoch seconds, a datetime or an ISO-8601 string") from None
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"not a time: {value!r}")
    text = " ".join(value.strip().lower().split())
    today = today or date.today()
    if text == "now":
        return When(now_us())
    if text in ("today", "yesterday"):
        return _day(today - timedelta(days=0 if text == "today" else 1))
    if text.startswith("last ") and text[5:] in _DAYS:
        back = (today.weekday() - _DAYS.index(text[5:])) % 7 or 7
        return _day(today - timedelta(days=back))
    if text.startswith(("a ", "an ")):
        text = "1 " + text.partition(" ")[2]  # "an hour ago"
    if (match := _AGO.fullmatch(text)) and match.group(2) in _UNIT_WORDS:
        seconds = float(match.group(1)) * _UNITS[_UNIT_WORDS[match.group(2)]]
        return _checked(When(now_us() - int(seconds * 1_000_000)), value)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return _checked(_day(date.fromisoformat(text)), value)
        return _checked(When(datetime_us(datetime.fromisoformat(value.strip()))), value)
    except (ValueError, OverflowError):
        raise InvalidArgument(
            f"not a time: {value!r}",
            hint="use ISO-8601 (2026-11-17T14:30, 2026-11-17), 'yesterday', 'last tuesday', "
            "'3 days ago', '3d' or 'now'",
        ) from None


def _checked(when: When, value: TimeLike) -> When:
    """``when`` if it lies within the years 1 to 9999 (what a datetime can hold, and so what a
    stored time can be compared with); "99999999d" ago is not a time."""
    if not _MIN_US <= when.start_us <= _MAX_US:
        raise InvalidArgument(
            f"time {value!r} is out of range",
            hint="use a time between the years 1 and 9999, e.g. '3d' or '2026-11-17'",
        )
    return when


_MIN_US = datetime_us(datetime(1, 1, 2, tzinfo=UTC))
_MAX_US = datetime_us(datetime(9999, 12, 30, tzinfo=UTC))


def to_us(value: TimeLike) -> int:
    """An instant in microseconds; a day means its start."""
    return parse_when(value).start_us


def end_us(value: TimeLike) -> int:
    """The end of an interval given as ``value``: an instant as is, a day through its last
    moment (exclusive end), so that "until 2026-11-17" includes the 17th."""
    when = parse_when(value)
    return when.start_us if when.end_us is None else when.end_us
