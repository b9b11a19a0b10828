"""Times as people type them in as-of questions (lineal.times)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from lineal.entities import now_us
from lineal.errors import InvalidArgument
from lineal.times import datetime_us, end_us, parse_when, to_us, us_datetime


@pytest.mark.parametrize(("text", "seconds"), [
    ("3d", 3 * 86400), ("3d ago", 3 * 86400), ("3 days ago", 3 * 86400), ("1 day ago", 86400),
    ("90m", 5400), ("90 minutes ago", 5400), ("an hour ago", 3600), ("2 hours ago", 7200),
    ("1.5 hours ago", 5400), ("2 weeks ago", 14 * 86400), ("a week ago", 7 * 86400),
    ("45s", 45), ("  3  Days  Ago ", 3 * 86400),
])
def test_durations_ago(text: str, seconds: int) -> None:
    before = now_us()
    when = parse_when(text)
    assert when.end_us is None
    assert before - seconds * 1_000_000 - 1_000_000 <= when.start_us <= now_us() - seconds * 1_000_000


def test_days_are_spans_and_instants_are_not() -> None:
    tuesday = parse_when("2026-11-17")
    start = datetime(2026, 11, 17).astimezone()
    assert tuesday.start_us == datetime_us(start)
    assert tuesday.end_us == datetime_us(datetime(2026, 11, 18).astimezone())
    assert parse_when("2026-11-17T14:00") == parse_when("2026-11-17 14:00")
    # A naive time is local time, like a bare date.
    assert parse_when("2026-11-17T14:00").start_us == datetime_us(datetime(2026, 11, 17, 14, 0))
    assert tuesday.start_us < parse_when("2026-11-17T14:00").start_us < tuesday.end_us  # type: ignore[operator]
    assert parse_when("2026-11-17T14:00:00+00:00").start_us == datetime_us(
        datetime(2026, 11, 17, 14, tzinfo=UTC))
    assert parse_when("2026-11-17T14:00Z") == parse_when("2026-11-17T14:00:00+00:00")
    # "last tuesday" is the most recent Tuesday strictly before today.
    wednesday = date(2026, 11, 18)
    assert parse_when("last tuesday", today=wednesday) == tuesday
    assert parse_when("last wednesday", today=wednesday) == parse_when("2026-11-11")
    assert parse_when("yesterday", today=wednesday) == tuesday
    assert parse_when("today", today=date(2026, 11, 17)) == tuesday
    assert parse_when(date(2026, 11, 17)) == tuesday
    # to_us: a day means its first moment; end_us, as the end of an interval, its last.
    assert to_us("2026-11-17") == tuesday.start_us
    assert end_us("2026-11-17") == tuesday.end_us
    assert end_us("2026-11-17T14:00") == to_us("2026-11-17T14:00")


def test_exact_microseconds_round_trip() -> None:
    value = datetime(2026, 11, 17, 14, 0, 0, 123457, tzinfo=UTC)
    assert us_datetime(datetime_us(value)) == value
    assert us_datetime(datetime_us(value) + 1) == value + timedelta(microseconds=1)


@pytest.mark.parametrize("text", ["someday", "3 months ago", "3 years ago", "last funday", "", "  ",
                                  "2026-13-01", "3x"])
def test_not_a_time(text: str) -> None:
    with pytest.raises(InvalidArgument, match="not a time"):
        parse_when(text)
