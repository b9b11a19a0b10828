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
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from ..errors import InvalidArgument

if TYPE_CHECKING:
    from rich.console import Console

    from ..store import Store

# -- the store -----------------------------------------------------------------------------------
def open_store_from_ctx(ctx: click.Context, *, create: bool = False) -> Store:
    """The store named by ``--uri``/``--artifacts`` (or ``LINEAL_URI``/``LINEAL_ARTIFACTS``, or
    the config file, or the nearest ``.lineal/`` upward).

    Commands that only read pass ``create=False``: the read path
    (:func:`lineal.store.open_store_for_reading`) refuses a store that does not exist instead of
    creating it empty, so a mistyped ``--uri`` is noticed. Commands that write pass ``True``.
    """
    from .startup import loading

    obj = ctx.find_root().obj or {}
    with loading():  # the SQL store's modules and SQLAlchemy's dialect are imported here
        from ..store import open_store_for_reading, open_store_for_writing

        opener = open_store_for_writing if create else open_store_for_reading
        store = opener(obj.get("uri"), obj.get("artifacts"))
    return remember_store(ctx, store)


def remember_store(ctx: click.Context, store: Store) -> Store:
    """Note the command's store, so that tables can check that the id prefixes they print
    name one run in the whole store, not only among the rows shown."""
    ctx.meta[_STORE_KEY] = store
    return store


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
    :func:`lineal.times.parse_when`, with the option named in its errors."""
    from ..times import parse_when, us_datetime

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
    from ..times import age_seconds

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
    """A metric or param value, short: 4 significant digits for floats (a table given the
    float itself shows more digits where two rows would otherwise look the same)."""
    if isinstance(value, float):
        return significant([value])[0]
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


#: Columns of free text: they wrap between words (never inside one) when a table is too wide.
WRAPPING = frozenset({
    "path", "outputs", "inputs", "note", "reason", "error", "message", "value", "change",
    "description", "tags", "metrics", "params", "aliases", "last good", "failed", "a", "b",
    "top values", "registered", "flags", "status", "policy", "schema", "mean", "std",
    "comment",
})
#: Columns never shortened, whatever they hold (ids and times people copy into commands).
WHOLE = ("id", "started", "ended", "created", "time", "from", "until", "run", "updated", "digest")
#: A name or reference is cut to no fewer characters than this (or its header) before the
#: table gives up and prints one record per block.
NAME_MIN = 12
#: Free text keeps at least this many characters a line.
TEXT_MIN = 10
#: Ids shown in tables are prefixes at least this long (any unique prefix names a run).
SHORT_ID = 8
#: The space between two columns.
GAP = "  "

_REF = re.compile(r"^[\w.-]+/[\w.-]+@[\w.:-]+$")
_ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
_TIME = re.compile(r"^(\d{4})-(\d{2}-\d{2} \d{2}:\d{2}):\d{2}$")
_NUMERIC = re.compile(
    r"^[-+]?(\d[\d,]*(\.\d+)?([eE][-+]?\d+)?|nan|inf)( ?(B|KiB|MiB|GiB|TiB|ms|s|m|h|d|%))?"
    r"( \d+(ms|s|m|h|d))?$"
)
_WIDE_KEY = "lineal.wide"
_STORE_KEY = "lineal.store"


def _set_wide(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_WIDE_KEY] = True


#: ``--wide`` for listing commands: full ids and times (which may push a table into the
#: one-record-per-block layout on a narrow terminal).
wide_option = click.option(
    "--wide", is_flag=True, expose_value=False, callback=_set_wide,
    help="Full ids and times instead of short ones.",
)


def _wide_requested() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(_WIDE_KEY))


def terminal_width() -> int:
    """``$COLUMNS``, else the terminal's width, else 200 for pipes and files (a pipe has no
    width, and scripts that grep a table want whole rows)."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    if sys.stdout.isatty():
        import shutil

        return shutil.get_terminal_size().columns
    return 200


def _cell_len(text: str) -> int:
    if text.isascii() and text.isprintable():  # one cell a character: no need to load rich
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells with an ellipsis. A reference loses its start instead
    (``…features-train@v1``): the project is mostly the same on every row, while the end of the
    name and the version are what tell two rows apart."""
    if _cell_len(text) <= width:
        return text
    if _REF.match(text):
        tail = text[-(width - 1):]
        while _cell_len(tail) > width - 1:
            tail = tail[1:]
        return "…" + tail
    if text.isascii() and text.isprintable():
        return text[:width - 1] + "…"
    from rich.cells import set_cell_size

    return set_cell_size(text, width - 1) + "…"


def significant(values: Sequence[float], digits: int = 4) -> list[str]:
    """Floats to ``digits`` significant digits, more where two different values would
    otherwise print the same (``0.99771`` and ``0.99774`` need five), up to what ``repr``
    shows (``1.0`` prints ``1``, as any metric does)."""
    def show(value: float, n: int) -> str:
        if not math.isfinite(value):
            return str(value)
        return f"{value:.{n}g}"

    distinct = {v for v in values if not math.isnan(v)}
    for n in range(digits, 18):
        if len({show(v, n) for v in distinct}) == len(distinct):
            return [show(v, n) for v in values]
    return [repr(v) for v in values]


def short_ids(ids: Sequence[str], length: int = SHORT_ID) -> dict[str, str]:
    """Each id cut to the shortest prefix, at least ``length`` long, that no other id of
    ``ids`` shares (ULIDs made in the same second share their first 8 characters)."""
    unique = sorted(set(ids))
    # One length for all, so that a column of ids lines up.
    n = max([length, *(len(os.path.commonprefix([a, b])) + 1
                       for a, b in zip(unique, unique[1:], strict=False))])
    return {value: value[:n] for value in unique}


def _unique_in_store(short: dict[str, str]) -> dict[str, str]:
    """``short`` with prefixes lengthened until none of them matches two runs or deployments of
    the command's store (a filtered listing leaves out records made in the same second, which
    share the first 8 characters). Two indexed queries per id; nothing to do outside a command."""
    ctx = click.get_current_context(silent=True)
    store = ctx.meta.get(_STORE_KEY) if ctx else None
    if store is None or not short:
        return short
    meta = store.metadata
    n = max(map(len, short.values()))
    for full in short:
        while n < len(full) and (len(meta.run_ids_with_prefix(full[:n], limit=2))
                                 + len(meta.deployment_ids_with_prefix(full[:n], limit=2))) > 1:
            n += 1
    return {full: full[:n] for full in short}


def _short_time(cells: list[str]) -> list[str]:
    """``2024-05-01 14:03:12`` -> ``05-01 14:03`` when every time of the column is this
    year, else ``2024-05-01 14:03``."""
    year = str(datetime.now().year)
    matches = [_TIME.match(c) for c in cells]
    this_year = all(m is None or m.group(1) == year for m in matches)
    return [c if m is None else (m.group(2) if this_year else f"{m.group(1)}-{m.group(2)}")
            for c, m in zip(cells, matches, strict=True)]


def _cells(columns: Sequence[str], rows: list[Sequence[Any]], wide: bool) -> list[list[str]]:
    """The rows as strings, column by column: floats to the digits that tell them apart,
    and (unless ``wide``) ids and times shortened: every id of the table to the prefix that
    tells it apart from the others, times to the minute."""
    table = [["" if v is None else v for v in row] for row in rows]
    short: dict[str, str] = {}
    if not wide:
        short = _unique_in_store(short_ids([m for row in table for v in row if isinstance(v, str)
                                            for m in _ULID.findall(v)]))
    for i in range(len(columns)):
        column = [row[i] for row in table]
        floats = [v for v in column if isinstance(v, float)]
        if floats:
            shown = iter(significant(floats))
            column = [next(shown) if isinstance(v, float) else v for v in column]
        column = [str(v) for v in column]
        if not wide:
            if short:
                column = [_ULID.sub(lambda m: short[m.group(0)], v) for v in column]
            if any(_TIME.match(v) for v in column):
                column = _short_time(column)
        for row, value in zip(table, column, strict=True):
            row[i] = value
    return table


def _longest_line(text: str) -> int:
    return max(map(_cell_len, text.splitlines() or [""]))


def _column_kinds(columns: Sequence[str], table: list[list[str]],
                  whole: Sequence[str]) -> list[str]:
    """``fixed`` (ids, times, numbers: never cut, never wrapped), ``text`` (wraps between
    words) or ``name`` (cut with an ellipsis)."""
    kinds = []
    for i, column in enumerate(columns):
        values = [line for row in table for line in row[i].splitlines() if line]
        if column in whole or all(_NUMERIC.match(v) for v in values):
            kinds.append("fixed")
        elif column in WRAPPING:
            kinds.append("text")
        else:
            kinds.append("name")
    return kinds


def column_widths(columns: Sequence[str], table: list[list[str]], kinds: Sequence[str],
                  width: int) -> list[int] | None:
    """The width of each column so that the table fits in ``width``; None when it cannot
    without breaking a word or number (the caller then prints one record per block)."""
    natural = [max([_cell_len(c), *(_longest_line(row[i]) for row in table)])
               for i, c in enumerate(columns)]
    floor = {"fixed": 10**6, "name": NAME_MIN, "text": TEXT_MIN}
    least = [n if kind == "fixed" else min(n, max(_cell_len(c), floor[kind]))
             for c, n, kind in zip(columns, natural, kinds, strict=True)]
    spare = width - sum(least) - len(GAP) * (len(columns) - 1)
    if spare < 0:
        return None
    widths = list(least)
    # Names get their room first (a cut reference is worse than a wrapped sentence), then
    # free text; within each, the space is shared evenly.
    for kind in ("name", "text"):
        growing = [i for i in range(len(columns)) if kinds[i] == kind and natural[i] > widths[i]]
        while spare > 0 and growing:
            share = max(1, spare // len(growing))
            for i in sorted(growing, key=lambda j: natural[j] - widths[j]):
                take = min(share, natural[i] - widths[i], spare)
                widths[i] += take
                spare -= take
            growing = [i for i in growing if natural[i] > widths[i]]
    return widths


def _cell_lines(value: str, width: int, kind: str) -> list[str]:
    import textwrap

    lines: list[str] = []
    for line in value.splitlines() or [""]:
        if kind == "text" and _cell_len(line) > width:
            # Between words only; a word longer than the column is cut, never broken.
            lines += [_fit(part, width) for part in textwrap.wrap(
                line, width, break_long_words=False, break_on_hyphens=False) or [""]]
        elif kind == "fixed":
            lines.append(line)
        else:
            lines.append(_fit(line, width))
    return lines


def table_lines(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, width: int,
                wide: bool = False, whole: Sequence[str] = WHOLE) -> list[str]:
    """A table as lines of at most ``width`` characters: header, rule, rows. Ids, times and
    numbers stay whole; names are cut with an ellipsis; free text wraps between words. When
    even that does not fit, one record per block of ``column: value`` lines."""
    table = _cells(columns, list(rows), wide)
    kinds = _column_kinds(columns, table, whole)
    widths = column_widths(columns, table, kinds, width)
    if widths is None:
        return vertical_lines(columns, table, width, kinds)

    def join(cells: Sequence[str]) -> str:
        return GAP.join(c + " " * (w - _cell_len(c)) for c, w in zip(cells, widths, strict=True)
                        ).rstrip()

    out = [join(columns), "─" * (sum(widths) + len(GAP) * (len(widths) - 1))]
    for row in table:
        cells = [_cell_lines(v, w, k) for v, w, k in zip(row, widths, kinds, strict=True)]
        for n in range(max(map(len, cells))):
            out.append(join([c[n] if n < len(c) else "" for c in cells]))
    return out


def vertical_lines(columns: Sequence[str], table: list[list[str]], width: int,
                   kinds: Sequence[str] | None = None) -> list[str]:
    """One record per block, ``column: value`` a line, a blank line between records: what a
    table becomes when its columns cannot share the terminal. Names are cut with an ellipsis,
    free text wraps between words, ids, times and numbers stay whole."""
    label = max(map(_cell_len, columns)) + 2
    room = max(width - label, TEXT_MIN)
    kinds = kinds or ["text"] * len(columns)
    out: list[str] = []
    for row in table:
        if out:
            out.append("")
        for column, value, kind in zip(columns, row, kinds, strict=True):
            lines = _cell_lines(value, room, kind) if kind != "fixed" else _wrapped(value, room)
            out.append((f"{column}:".ljust(label) + lines[0]).rstrip())
            out += [(" " * label + line).rstrip() for line in lines[1:]]
    return out


def _wrapped(value: str, width: int) -> list[str]:
    """``value``'s lines, those longer than ``width`` wrapped between words (a word longer than
    ``width``, a path or a URL, stays whole on a line of its own)."""
    import textwrap

    out: list[str] = []
    for line in value.splitlines() or [""]:
        if _cell_len(line) <= width:
            out.append(line)
        else:
            out += textwrap.wrap(line, width, break_long_words=False,
                                 break_on_hyphens=False) or [""]
    return out


# -- sentences -----------------------------------------------------------------------------------
#: A label before a value: ``error: ``, ``wrote: ``, or right-aligned ``  digest  ``.
_LABEL = re.compile(r"^(\s*[\w./-]+(?: [\w./-]+)*?(?::\s+| {2,}))\S")


def prose_width(err: bool = False) -> int | None:
    """The width sentences wrap at: ``$COLUMNS``, else the terminal's; None for a pipe or a
    file (no width: a script reading a message gets it on one line)."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    if (sys.stderr if err else sys.stdout).isatty():
        import shutil

        return shutil.get_terminal_size().columns
    return None


def wrap_prose(text: str, width: int | None) -> str:
    """``text`` with each line wider than ``width`` wrapped between words. A continuation line
    is indented under the value of a ``label: value`` (or ``error: ...``) line, else two
    spaces more than the line. Words are never broken: an id, a reference, a number, a path or a
    URL longer than the room stays whole on a line of its own."""
    if width is None:
        return text
    import textwrap

    out: list[str] = []
    for line in text.split("\n"):
        if _cell_len(line) <= width:
            out.append(line)
            continue
        label = _LABEL.match(line)
        hang = len(label[1]) if label and len(label[1]) <= width // 4 else (
            len(line) - len(line.lstrip()) + 2)
        if label and len(line[len(label[1]):].split()) <= 1:
            out.append(line)  # one word after its label: nothing to wrap between
            continue
        wrapped = textwrap.wrap(line, width, subsequent_indent=" " * hang,
                                break_long_words=False, break_on_hyphens=False) or [line]
        if label and len(wrapped) > 1 and wrapped[0].strip() == label[1].strip():
            # The first value word is too long for the label's line: it stays beside its label
            # (the line holds one word after it), and the rest follows under it.
            first, _, rest = line[len(label[1]):].partition(" ")
            wrapped = [label[1] + first, *textwrap.wrap(
                " " * hang + rest.lstrip(), width, subsequent_indent=" " * hang,
                break_long_words=False, break_on_hyphens=False)]
        out += wrapped
    return "\n".join(out)


def command_lines(prefix: str, command: str, width: int | None) -> list[str]:
    """``prefix`` then a shell command to copy, wrapped between its arguments with ``\\``
    continuations under its first word when wider than ``width`` (a quoted argument with spaces
    stays whole, so the lines paste into a shell as one command)."""
    import shlex

    if width is None or _cell_len(prefix + command) <= width:
        return [prefix + command]
    words = [shlex.quote(word) for word in shlex.split(command)]
    hang = " " * (_cell_len(prefix) + 2)
    lines, line = [], prefix + words[0]
    for word in words[1:]:
        if _cell_len(f"{line} {word} \\") > width and line.strip():
            lines.append(line + " \\")
            line = hang + word
        else:
            line = f"{line} {word}"
    return [*lines, line]


def say(message: Any = "", *, err: bool = False, nl: bool = True) -> None:
    """``click.echo`` for sentences, hints, warnings and errors: wrapped to the terminal's width
    (:func:`wrap_prose`), never to a pipe's. Tables (:func:`print_table`), ``label: value``
    blocks (:func:`print_fields`) and JSON have their own layout and do not come here."""
    text = message if isinstance(message, str) else str(message)
    click.echo(wrap_prose(text, prose_width(err)), err=err, nl=nl)


def should_page(lines: int, *, is_tty: bool, height: int) -> bool:
    """Page only what a person would scroll past: on a terminal, taller than it."""
    return is_tty and lines > height


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    empty: str = "",
    no_wrap: Sequence[str] = WHOLE,
    wide: bool | None = None,
) -> None:
    """A table on stdout, fitted to the terminal (see ``table_lines``); ``empty`` is printed
    instead when there are no rows. ``wide`` (default: the command's ``--wide``) keeps ids
    and times in full. Output taller than the terminal goes through ``$PAGER``."""
    materialised = list(rows)
    if not materialised and empty:
        say(empty)
        return
    wide = _wide_requested() if wide is None else wide
    lines = table_lines(columns, materialised, width=terminal_width(), wide=wide,
                        whole=tuple(no_wrap))
    is_tty = sys.stdout.isatty()
    if is_tty and lines and not lines[0].endswith(":") and len(lines) > 1 and lines[1][:1] == "─":
        lines[0] = click.style(lines[0], bold=True)
    if title:
        # Above the table rather than centred over it: a narrow table would wrap the title.
        lines = ["", click.style(title, bold=True) if is_tty else title, *lines]
    import shutil

    if should_page(len(lines), is_tty=is_tty, height=shutil.get_terminal_size().lines):
        click.echo_via_pager("\n".join(lines) + "\n")
    else:
        click.echo("\n".join(lines))


def note_limit(shown: int, limit: int, what: str) -> None:
    """On stderr, when a listing stopped at ``--limit``: there may be more than the table shows."""
    if shown >= limit:
        sys.stdout.flush()  # after the table, not in the middle of it, on a shared terminal
        say(f"(the {limit} newest {what}; there may be more: --limit N)", err=True)


def print_fields(fields: Sequence[tuple[str, Any]]) -> None:
    """``label: value`` lines with aligned labels, values wrapped between words to the
    terminal's width under their first line; None values are skipped."""
    lines = field_lines(fields, terminal_width())
    if lines:
        click.echo("\n".join(lines))


def field_lines(fields: Sequence[tuple[str, Any]], width: int) -> list[str]:
    """The lines of :func:`print_fields` for a terminal ``width`` columns wide."""
    shown = [(label, str(value)) for label, value in fields if value is not None and value != ""]
    indent = max((_cell_len(label) for label, _ in shown), default=0) + 2
    out: list[str] = []
    for label, value in shown:
        lines = _wrapped(value, max(width - indent, TEXT_MIN))
        out.append(f"{label + ':':<{indent}}{lines[0]}".rstrip())
        out += [(" " * indent + line).rstrip() for line in lines[1:]]
    return out


@contextlib.contextmanager
def byte_progress(
    total: int, description: str, *, out: Console | None = None
) -> Iterator[Callable[[int], None]]:
    """A callback advancing a progress bar over ``total`` bytes: the SDK's
    :func:`lineal.progress.transfer`, drawn on stderr, only on a terminal and only for at least
    :data:`lineal.progress.MIN_BYTES`. ``out`` overrides the console (tests pass one that
    records)."""
    from ..progress import transfer

    target = out or console(stderr=True)
    if not target.is_terminal:  # a CLI in a notebook cell is still a pipe
        yield lambda _n: None
        return
    with transfer(total, description, True, out=target) as advance:
        yield advance
