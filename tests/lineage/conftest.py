"""Graph builders for the lineage tests: graphs are bulk-imported (fast, and it exercises the
import path), cycles are added edge by edge as a user or a buggy tool could."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from tests.cli.conftest import messages

from lineal.store import Store
from lineal.store.lineage_base import ImportArtifact, ImportBatch, ImportEdge, ImportRun

T0 = 1_700_000_000_000_000  # 2023-11-14, in microseconds

Build = Callable[..., dict[str, str]]


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def make_graph(
    store: Store,
    runs: Mapping[str, tuple[Sequence[str], Sequence[str]]],
    *,
    kinds: Mapping[str, str] | None = None,
    times: Mapping[str, int] | None = None,
    project: str = "default",
) -> dict[str, str]:
    """``runs = {"train": (["data"], ["model"])}``: run ``train`` consumed artifact ``data`` and
    produced ``model``. Artifacts are named by their key; ``kinds`` gives artifact and run kinds
    (default: artifacts "dataset", runs "step"); ``times`` their times in seconds after T0."""
    kinds, times = kinds or {}, times or {}
    names: list[str] = []
    for inputs, outputs in runs.values():
        for name in [*inputs, *outputs]:
            if name not in names:
                names.append(name)
    batch = ImportBatch(
        runs=[ImportRun(key, project, key, kinds.get(key, "step"), "finished",
                        T0 + times.get(key, 0) * 1_000_000) for key in runs],
        artifacts=[ImportArtifact(name, project, name, kinds.get(name, "dataset"), digest(name),
                                  f"s3://bucket/{name}", 1, T0 + times.get(name, 0) * 1_000_000)
                   for name in names],
        edges=[ImportEdge(key, name, direction, direction)
               for key, (inputs, outputs) in runs.items()
               for direction, group in (("input", inputs), ("output", outputs)) for name in group],
    )
    return store.metadata.import_lineage(batch, "tester")


def chain(store: Store, steps: int, prefix: str = "") -> dict[str, str]:
    """a0 -> r1 -> a1 -> r2 -> ... -> a{steps}: 2 * steps hops."""
    return make_graph(store, {f"{prefix}r{i}": ([f"{prefix}a{i - 1}"], [f"{prefix}a{i}"])
                              for i in range(1, steps + 1)})


@contextmanager
def count_selects(store: Store) -> Iterator[list[str]]:
    """Every SELECT (or WITH ... SELECT) statement the store's read engine runs meanwhile."""
    seen: list[str] = []
    engine = store.metadata.db.read_engine  # type: ignore[attr-defined]

    def _count(_conn, _cursor, statement: str, *_args: object) -> None:
        head = statement.lstrip().split(None, 1)[0].upper()
        if head in ("SELECT", "WITH"):
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", _count)


@pytest.fixture
def ledger_ok() -> Callable[[Store], None]:
    def _check(store: Store) -> None:
        report = store.metadata.verify_ledger()
        assert report.ok, report.problems[:5]

    return _check


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(*args: str, uri: str | None = None, artifacts: str | None = None) -> CliResult:
    """``lineal [--uri URI] [--artifacts DIR] ARGS...`` in-process through ``lineal.cli.main``,
    the console script's entry point (so errors go through its one-line handler)."""
    from click.testing import CliRunner

    from lineal.cli import main

    argv = [*(["--uri", uri] if uri else []), *(["--artifacts", artifacts] if artifacts else []),
            *args]
    with CliRunner().isolation() as (out, err, _):
        try:
            main(argv)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        return CliResult(code, out.getvalue().decode(), err.getvalue().decode())


def ok(*args: str, **kwargs: Any) -> CliResult:
    result = cli(*args, **kwargs)
    assert result.code == 0, f"lineal {' '.join(args)} exited {result.code}: {result.err}"
    return result


def assert_one_line_error(result: CliResult, code: int, *fragments: str) -> None:
    """A user error: this exit code, nothing on stdout, one line on stderr, no traceback."""
    assert result.code == code, (result.code, result.out, result.err)
    assert result.out == ""
    lines = messages(result.err)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
