"""What every core command shares: opening the store named by the global options, parsing times
and ``KEY=VALUE`` pairs, and rendering (rich tables for people, ``--json`` for scripts).

Times: tables show local time (``2024-05-01 14:03:12``); JSON carries ISO-8601 in UTC. Progress
bars go to stderr and only when it is a terminal, so stdout stays clean for pipes and ``--json``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import InvalidArgument

if TYPE_CHECKING:
    from rich.console import Console

    from ..store import Store

#: Content at least this large gets a progress bar (on a terminal).
PROGRESS_MIN_BYTES = 8 * 1024 * 1024



# -- the store -----------------------------------------------------------------------------------
def open_store_from_ctx(ctx: click.Context, *, create: bool = False) -> Store:
    """The store named by ``--uri``/``--artifacts`` (or ``LINEAL_URI``/``LINEAL_ARTIFACTS``, or
    the config file, or the nearest ``.lineal/`` upward).

    Commands that only read pass ``create=False``: the read path
    (:func:`lineal.store.open_store_for_reading`) refuses a store that does not exist instead of
    creating it empty, so a mistyped ``--uri`` is noticed. Commands that write pass ``True``.
    """
    from ..store import open_store_for_reading, open_store_for_writing

    obj = ctx.find_root().obj or {}
    opener = open_store_for_writing if create else open_store_for_reading
    return opener(obj.get("uri"), obj.get("artifacts"))


def sqlite_file(database_url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL; None for in-memory or server databases."""
    if not database_url.startswith("sqlite:"):
        return None
    path = database_url.removeprefix("sqlite:///")
    if not path or path == ":memory:" or path == database_url:
        return None
    return Path(path)


#: ``--project`` of every command that takes references: the questions, ``registry`` and
#: ``deploy`` alike.
PROJECT_OPTION = click.option(
    "--project", default=None,
    help="Project of references that name none [default: LINEAL_PROJECT, else `project` in "
    "lineal.toml, else 'default'].")


# -- parsing -------------------------------------------------------------------------------------
def parse_time(text: str | None, option: str = "--since") -> datetime | None:
    """``3d``, ``12h``, ``30m``, ``45s``, ``2w`` (that long ago), ``yesterday 15:00``, ``last
    tuesday``, epoch seconds or an ISO-8601 date/time (naive means local time) as an aware UTC
    datetime (for ``--until``, a day means its end): the one time parser of lineal,
    :func:`lineal.registry.times.parse_when`, with the option named in its errors."""
    from ..registry.times import parse_when, us_datetime

    if text is None:
        return None
    try:
        when = parse_when(text)
        # "--until 2026-11-17" includes the 17th: a day ends at its (exclusive) end.
        end = when.end_us if option == "--until" else None
        return us_datetime(end if end is not None else when.start_us)
    except InvalidArgument as error:
        raise InvalidArgument(f"{option}: {error.message}", hint=error.hint) from None


class LimitType(click.ParamType):
    """``--limit``: a whole number from 1 to :data:`lineal.inputs.MAX_LIMIT`. A bad value is a
    one-line InvalidArgument naming the option, like every other bad input."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        from ..inputs import check_limit

        option = max(param.opts, key=len) if param is not None and param.opts else "limit"
        if isinstance(value, int) and not isinstance(value, bool):
            return check_limit(value, option)
        try:
            number = int(str(value).strip())
        except ValueError:
            number = value  # check_limit names it in its message
        return check_limit(number, option)


LIMIT = LimitType()


def parse_age(text: str, option: str) -> float:
    """An age (``90s``, ``10m``, ``12h``, ``3d``, ``2w``) in seconds, for ``option``."""
    from ..registry.times import age_seconds

    try:
        return age_seconds(text)
    except InvalidArgument as error:
        raise InvalidArgument(f"{option} {error.message}", hint=error.hint) from None


def parse_pairs(pairs: Iterable[str], what: str = "tag") -> dict[str, str]:
    """``("k=v", ...)`` as a dict; InvalidArgument naming the bad pair otherwise."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidArgument(f"bad {what} {pair!r}", hint="use KEY=VALUE")
        out[key.strip()] = value
    return out


# -- formatting ----------------------------------------------------------------------------------
def local_time(value: datetime | None) -> str:
    """A time for a table: local, to the second."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def iso_utc(value: datetime | None) -> str | None:
    """A time for JSON: ISO-8601 in UTC."""
    return value.astimezone(UTC).isoformat() if value else None


def human_size(size: int | None) -> str:
    """``1536`` -> ``1.5 KiB``."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # unreachable; keeps type checkers content


def human_duration(seconds: float | None) -> str:
    """``3725.2`` -> ``1h 2m 5s``; sub-second durations keep milliseconds."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{u}" for n, u in parts if n]
    return " ".join(shown[:2])


def number(value: Any) -> str:
    """A metric or param value, short: 4 significant digits for floats."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}"
    return str(value)


def short_digest(digest: str, length: int = 12) -> str:
    """``sha256:3f2a9c...`` cut to ``length`` hex digits, still usable as a ``@sha256:`` ref."""
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:length]}" if hexpart else digest[:length]


def plural(count: int, word: str) -> str:
    """``1 problem``, ``3 problems``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def truncate(text: str, width: int = 80) -> str:
    """``text`` cut to ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def metric_summary(metrics: dict[str, float], shown: int = 4) -> str:
    """``acc=0.93 loss=0.21 (+3)``: the first ``shown`` metrics by name, and how many more."""
    keys = sorted(metrics)
    text = " ".join(f"{k}={number(metrics[k])}" for k in keys[:shown])
    if len(keys) > shown:
        text += f" (+{len(keys) - shown})"
    return text


# -- output --------------------------------------------------------------------------------------
def json_ready(value: Any) -> Any:
    """``value`` with datetimes as ISO-8601 UTC and NaN/infinity as null (strict JSON)."""
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def emit_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    click.echo(json.dumps(json_ready(value), indent=2, default=str, allow_nan=False))


def console(stderr: bool = False) -> Console:
    """A rich console; when output goes to a pipe or file it is 200 columns wide (or
    ``$COLUMNS``) rather than rich's 80, so table rows are not wrapped mid-id."""
    from rich.console import Console

    out = Console(stderr=stderr, highlight=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 200
    return out


#: Columns of free text, which wrap first when a table is wider than the terminal.
WRAPPING = frozenset({
    "path", "outputs", "inputs", "note", "reason", "error", "message", "value", "change",
    "description", "tags", "metrics", "params", "aliases", "last good", "failed", "a", "b",
    "top values", "registered", "flags", "status",
})


def _kept_whole(
    columns: Sequence[str], rows: list[Sequence[Any]], no_wrap: Sequence[str], width: int
) -> set[str]:
    """Columns never broken across lines.

    All but free text when that fits in ``width`` (a ``train-logr`` / ``eg`` reads badly).
    Otherwise ``no_wrap`` (ids, times) plus as many of the other non-text columns as still
    fit, narrowest first, after reserving a few characters for every column left to wrap: on a
    narrow terminal the short columns stay whole and only the long names and free text fold.
    """
    def longest_line(value: Any) -> int:
        return max(map(len, str("" if value is None else value).splitlines() or [""]))

    natural = {c: max([len(c), *(longest_line(r[i]) for r in rows)]) for i, c in enumerate(columns)}
    gaps = 3 * (len(columns) - 1)
    needed = sum(n if c not in WRAPPING or c in no_wrap else min(n, 12)
                 for c, n in natural.items()) + gaps
    if needed <= width:
        return {c for c in columns if c not in WRAPPING} | set(no_wrap)
    keep = {c for c in columns if c in no_wrap}
    # Free text keeps up to 12 characters a line, other columns fold at 6 if they must.
    reserve = {c: min(n, 12 if c in WRAPPING else 6) for c, n in natural.items() if c not in keep}
    budget = width - gaps - sum(natural[c] for c in keep) - sum(reserve.values())
    candidates = sorted((c for c in reserve if c not in WRAPPING), key=natural.__getitem__)
    for column in candidates:
        extra = natural[column] - reserve[column]
        if extra > budget:
            break
        keep.add(column)
        budget -= extra
    return keep


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    empty: str = "",
    no_wrap: Sequence[str] = ("id", "started", "ended", "created", "time", "from", "until", "run"),
) -> None:
    """A rich table on stdout; ``empty`` is printed instead when there are no rows. Columns
    named in ``no_wrap`` (ids, times) are never broken across lines."""
    from rich.table import Table

    materialised = list(rows)
    if not materialised and empty:
        click.echo(empty)
        return
    from rich import box
    from rich.text import Text

    # Light borders: on an 80-column terminal every character counts.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    out = console()
    whole = _kept_whole(columns, materialised, no_wrap, out.width)
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in whole)
    for row in materialised:
        # Text, not markup: a value such as "[red]" or "a[0]" must print as it is.
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    if title:
        # Printed above rather than as the table's title, which rich wraps to the table's
        # width: a two-column table would break "Metrics (latest)" over two lines.
        out.print()
        out.print(Text(title, style="bold"))
    out.print(table)


def note_limit(shown: int, limit: int, what: str) -> None:
    """On stderr, when a listing stopped at ``--limit``: there may be more than the table shows."""
    if shown >= limit:
        sys.stdout.flush()  # after the table, not in the middle of it, on a shared terminal
        click.echo(f"(the {limit} newest {what}; there may be more: --limit N)", err=True)


def print_fields(fields: Sequence[tuple[str, Any]]) -> None:
    """``label: value`` lines with aligned labels; None values are skipped."""
    shown = [(label, value) for label, value in fields if value is not None and value != ""]
    width = max((len(label) for label, _ in shown), default=0)
    for label, value in shown:
        click.echo(f"{label + ':':<{width + 1}} {value}")


@contextlib.contextmanager
def byte_progress(
    total: int, description: str, *, out: Console | None = None
) -> Iterator[Callable[[int], None]]:
    """A callback advancing a progress bar over ``total`` bytes.

    The bar is drawn on stderr, only on a terminal and only for at least
    ``PROGRESS_MIN_BYTES``; otherwise the callback does nothing. ``out`` overrides the console
    (tests pass one that records).
    """
    target = out or console(stderr=True)
    if total < PROGRESS_MIN_BYTES or not target.is_terminal:
        yield lambda _n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=target, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)
