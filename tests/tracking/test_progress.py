"""Long transfers show progress in the SDK and the CLI alike: the bar moves with the bytes of a
single large file, appears only where someone watches (a terminal, a notebook), and
``progress=False`` turns it off."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rich.console import Console

import lineal
from lineal import progress as progress_module
from lineal.store import Store, open_store

SIZE = 9 * 1024 * 1024 + 7  # above progress.MIN_BYTES, several chunks of every blob store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(tmp_path / "store")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


def test_log_and_download_report_bytes_as_they_move(store: Store, big_file: Path,
                                                    tmp_path: Path) -> None:
    stored: list[int] = []
    with lineal.run("train", capture=False, store=store) as run:
        version = run.log_artifact(big_file, name="weights", kind="model", progress=stored.append)
    assert sum(stored) == SIZE and len(stored) > 1, stored
    fetched: list[int] = []
    lineal.download_artifact("weights@v1", tmp_path / "copy.bin", store=store,
                             progress=fetched.append)
    assert sum(fetched) == version.size == SIZE and len(fetched) > 1, fetched


def test_a_dataframe_stored_by_default_reports_its_bytes(store: Store) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": range(1000), "y": [f"row {i}" for i in range(1000)]})
    stored: list[int] = []
    with lineal.run("ingest", capture=False, store=store) as run:
        version = run.log_dataset(frame, name="rows", progress=stored.append)
    assert sum(stored) == version.size > 0


def _terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=100), out


def test_a_bar_is_drawn_on_a_terminal_for_large_transfers_only() -> None:
    console, out = _terminal()
    with progress_module.transfer(SIZE, "storing weights.bin", True, out=console) as advance:
        advance(SIZE)
    assert "storing weights.bin" in out.getvalue()
    for total, option in ((SIZE, False), (1024, True)):
        console, out = _terminal()
        with progress_module.transfer(total, "storing", option, out=console) as advance:
            advance(total)
        assert out.getvalue() == "", (total, option)
    # Not a terminal (a pipe, a log file, CI): nothing.
    piped = io.StringIO()
    with progress_module.transfer(SIZE, "storing", True,
                                  out=Console(file=piped, force_terminal=False)) as advance:
        advance(SIZE)
    assert piped.getvalue() == ""


def test_the_sdk_draws_by_default_and_not_with_progress_false(
        store: Store, big_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[int] = []
    real = progress_module.transfer

    @contextmanager
    def recording(total: int, description: str, option: progress_module.ProgressOption = True,
                  **kwargs: object) -> Iterator[Callable[[int], None]]:
        console, _ = _terminal()  # as if stderr were a terminal
        with real(total, description, option, out=console) as advance:
            def counted(n: int) -> None:
                drawn.append(n)
                advance(n)

            yield counted if advance is not progress_module._ignore else advance

    monkeypatch.setattr(progress_module, "transfer", recording)
    with lineal.run("train", capture=False, store=store) as run:
        run.log_artifact(big_file, name="weights")
        assert sum(drawn) == SIZE and len(drawn) > 1
        drawn.clear()
        big_file.write_bytes(os.urandom(SIZE))
        run.log_artifact(big_file, name="weights", progress=False)
        assert drawn == []


def test_the_cli_bar_moves_while_one_large_file_is_stored(
        tmp_path: Path, big_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.cli.conftest import ok

    from lineal.cli import render

    moves: list[int] = []
    real = progress_module.transfer

    @contextmanager
    def recording(*args: object, **kwargs: object) -> Iterator[Callable[[int], None]]:
        with real(*args, **kwargs) as advance:  # type: ignore[arg-type]
            def counted(n: int) -> None:
                moves.append(n)
                advance(n)

            yield counted

    monkeypatch.setattr(progress_module, "transfer", recording)
    monkeypatch.setattr(render, "console", lambda stderr=False: _terminal()[0])
    ok("artifacts", "log", str(big_file), "--name", "weights", uri=tmp_path / "cli-store")
    assert sum(moves) == SIZE and len(moves) > 1, moves
