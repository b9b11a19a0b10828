"""The one time grammar (lineal.times): every form it accepts, and its errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from lineal.entities import now_us
from lineal.errors import InvalidArgument
from lineal.times import EXAMPLES, age_seconds, datetime_us, end_us, parse_when, to_us

TODAY = date(2026, 11, 5)  # a Thursday


def local(day: date, at: time = time()) -> int:
    return datetime_us(datetime.combine(day, at))


def test_named_days_are_whole_days() -> None:
    assert parse_when("today", today=TODAY).start_us == local(TODAY)
    y = parse_when("yesterday", today=TODAY)
    assert (y.start_us, y.end_us) == (local(date(2026, 11, 4)), local(TODAY))
    assert parse_when("last tuesday", today=TODAY).start_us == local(date(2026, 11, 3))
    assert parse_when("last thursday", today=TODAY).start_us == local(date(2026, 10, 29))


@pytest.mark.parametrize("text, day, at", [
    ("yesterday 15:00", date(2026, 11, 4), time(15)),
    ("today 09:30", TODAY, time(9, 30)),
    ("Today 9:30:15", TODAY, time(9, 30, 15)),
    ("last tuesday 14:00", date(2026, 11, 3), time(14)),
    ("yesterday at 23:59", date(2026, 11, 4), time(23, 59)),
])
def test_a_time_on_a_named_day_is_an_instant(text: str, day: date, at: time) -> None:
    when = parse_when(text, today=TODAY)
    assert when.start_us == local(day, at) and when.end_us is None


@pytest.mark.parametrize("text, seconds", [
    ("3 days ago", 3 * 86400), ("2h", 7200), ("90m", 5400), ("3d ago", 3 * 86400),
    ("an hour ago", 3600), ("2 weeks ago", 14 * 86400), ("45s", 45),
])
def test_relative(text: str, seconds: int) -> None:
    got = parse_when(text).start_us
    assert abs((now_us() - got) / 1e6 - seconds) < 5


def test_iso_with_and_without_zone() -> None:
    assert to_us("2026-11-03T14:00Z") == datetime_us(datetime(2026, 11, 3, 14, tzinfo=UTC))
    assert to_us("2026-11-03T14:00+01:00") == datetime_us(datetime(2026, 11, 3, 13, tzinfo=UTC))
    assert to_us("2026-11-03T14:00") == datetime_us(datetime(2026, 11, 3, 14))  # local
    assert to_us("2026-11-03 14:00") == datetime_us(datetime(2026, 11, 3, 14))
    day = parse_when("2026-11-03")
    assert day.end_us is not None and end_us("2026-11-03") == day.end_us
    assert day.end_us - day.start_us in (23 * 3600e6, 24 * 3600e6, 25 * 3600e6)


def test_epoch_seconds() -> None:
    assert to_us("1764000000") == 1_764_000_000_000_000
    assert to_us("1764000000.5") == 1_764_000_000_500_000
    assert to_us(1764000000) == 1_764_000_000_000_000


def test_datetime_and_date_objects() -> None:
    assert to_us(datetime(2026, 1, 1, tzinfo=UTC)) == datetime_us(datetime(2026, 1, 1, tzinfo=UTC))
    assert parse_when(date(2026, 1, 1)).end_us == local(date(2026, 1, 2))


@pytest.mark.parametrize("bad", ["tomorrowish", "yesterday 25:00", "last funday", "3 parsecs",
                                 "2026-13-01", "12345", "", "today 3pm"])
def test_errors_show_examples(bad: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_when(bad, today=TODAY)
    assert EXAMPLES in (caught.value.hint or "")


def test_examples_text_is_the_documented_one() -> None:
    assert EXAMPLES == "2026-11-03, 2026-11-03T14:00, yesterday 15:00, last tuesday, 3 days ago, 2h"
    for example in EXAMPLES.split(", "):
        parse_when(example)


def test_age_seconds() -> None:
    assert age_seconds("3 days") == 3 * 86400 and age_seconds("2h") == 7200
    with pytest.raises(InvalidArgument):
        age_seconds("yesterday")


def test_cli_until_a_day_includes_that_day() -> None:
    from lineal.cli.render import parse_time

    until = parse_time("2026-11-03", "--until")
    since = parse_time("2026-11-03", "--since")
    assert until is not None and since is not None
    assert until - since >= timedelta(hours=23)
    with pytest.raises(InvalidArgument, match="--since"):
        parse_time("someday", "--since")
