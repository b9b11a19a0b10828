"""Times as people type them, for as-of questions: "what was live last Tuesday".

    parse_when("2026-11-17T14:30")     an instant (naive means local time)
    parse_when("2026-11-17T14:30Z"), ("2026-11-17T14:30+01:00")   an instant with its zone
    parse_when("2026-11-17")           the whole local day
    parse_when("last tuesday")         the whole local day, the most recent Tuesday before today
    parse_when("yesterday"), ("today")
    parse_when("yesterday 15:00"), ("today 09:30"), ("last tuesday 14:00")   a time on that day
    parse_when("3d"), ("3d ago"), ("90m"), ("2h")   that long ago (s, m, h, d, w; m is minutes)
    parse_when("3 days ago"), ("an hour ago"), ("2 weeks ago")    the same in words
    parse_when("1764000000"), ("1764000000.5")   epoch seconds (9 digits or more)
    parse_when("now")

This is the one time parser of lineal: every ``--since``, ``--until``, ``--at``, as-of argument
and SDK time argument goes through it, so each accepts every form above.

Returns a :class:`When`: ``start_us`` and, for a day, ``end_us`` (exclusive).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from .entities import datetime_to_us, now_us
from .errors import InvalidArgument

__all__ = ["EXAMPLES", "When", "age_seconds", "datetime_us", "end_us", "parse_when", "to_us", "us_datetime"]

_CLOCK = re.compile(r"^(?:at\s+)?(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_EPOCH_TEXT = re.compile(r"^\d{9,}(?:\.\d+)?$")
#: The examples every "not a time" error shows.
EXAMPLES = "2026-11-03, 2026-11-03T14:00, yesterday 15:00, last tuesday, 3 days ago, 2h"
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
        raise _not_a_time(value)
    text = " ".join(value.strip().lower().split())
    today = today or date.today()
    if text == "now":
        return When(now_us())
    day, clock = _named_day(text, today)
    if day is not None:
        if clock is None:
            return _day(day)
        return When(datetime_us(datetime.combine(day, _clock(clock, value))))
    if text.startswith(("a ", "an ")):
        text = "1 " + text.partition(" ")[2]  # "an hour ago"
    if (match := _AGO.fullmatch(text)) and match.group(2) in _UNIT_WORDS:
        seconds = float(match.group(1)) * _UNITS[_UNIT_WORDS[match.group(2)]]
        return _checked(When(now_us() - int(seconds * 1_000_000)), value)
    if _EPOCH_TEXT.fullmatch(text):
        return parse_when(float(text))
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return _checked(_day(date.fromisoformat(text)), value)
        return _checked(When(datetime_us(datetime.fromisoformat(value.strip()))), value)
    except (ValueError, OverflowError):
        raise _not_a_time(value) from None


def _not_a_time(value: object) -> InvalidArgument:
    return InvalidArgument(f"not a time: {value!r}", hint=f"use e.g. {EXAMPLES}")


def _named_day(text: str, today: date) -> tuple[date | None, str | None]:
    """``(day, rest)`` for text starting with today, yesterday or last <weekday>; the rest is
    the time of day, if any."""
    for word in ("today", "yesterday"):
        if text == word or text.startswith(word + " "):
            back = 0 if word == "today" else 1
            return today - timedelta(days=back), text[len(word):].strip() or None
    words = text.split(" ", 2)
    if len(words) >= 2 and words[0] == "last" and words[1] in _DAYS:
        back = (today.weekday() - _DAYS.index(words[1])) % 7 or 7
        return today - timedelta(days=back), (words[2] if len(words) == 3 else None)
    return None, None


def _clock(text: str, value: object) -> time:
    """A time of day, ``HH:MM`` or ``HH:MM:SS`` (24-hour), optionally after ``at``."""
    match = _CLOCK.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        return time(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))
    except ValueError:
        raise InvalidArgument(f"not a time: {value!r} (the time of day must be HH:MM)",
                              hint=f"use e.g. {EXAMPLES}") from None


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
