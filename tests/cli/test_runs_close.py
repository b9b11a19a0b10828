"""Stale runs: a process killed with SIGKILL leaves its run 'running'; its heartbeat stops, the
run shows as stale, and ``lineal runs close --stale`` ends it as killed with the reason."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import lineal
from lineal.store import open_store

from .conftest import assert_one_line_error, cli

INTERVAL = 0.2


def _killed_run(tmp_path: Path, uri: Path) -> tuple[str, float]:
    """A real process that records a run, beats, and is killed with SIGKILL mid-run; returns
    the run id and the time of the kill."""
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent("""
        import time, lineal
        with lineal.run("long", capture=False) as run:
            run.log_metric("i", 1)
            run.flush()
            print(run.id, flush=True)
            while True:
                time.sleep(0.05)
    """))
    env = {**os.environ, "LINEAL_URI": str(uri), "LINEAL_HEARTBEAT_INTERVAL": str(INTERVAL)}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    store = open_store(uri)
    first = lineal.get_run(run_id, store=store).heartbeat_at
    deadline = time.monotonic() + 30
    while lineal.get_run(run_id, store=store).heartbeat_at == first:  # the thread beats
        assert time.monotonic() < deadline, "no heartbeat from the running process"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    store.close()
    return run_id, time.time()


def _names(line: str, run_id: str) -> bool:
    """Whether a table line starts with (a short form of) ``run_id``."""
    first = line.split(maxsplit=1)[0] if line.strip() else ""
    return len(first) >= 8 and run_id.startswith(first)


def test_a_run_killed_with_sigkill_shows_stale_and_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = tmp_path / "s"
    monkeypatch.setenv("LINEAL_HEARTBEAT_INTERVAL", str(INTERVAL))
    run_id, killed_at = _killed_run(tmp_path, uri)
    store = open_store(uri)
    # A live run in this process, beating too: it must never be closed.
    live = lineal.start_run("live", capture=False, store=store)
    time.sleep(max(0.0, killed_at + 4 * INTERVAL - time.time()))

    record = lineal.get_run(run_id, store=store)
    assert record.status == lineal.RunStatus.RUNNING and record.stale and record.state == "stale"
    assert not lineal.get_run(live.id, store=store).stale
    listed = cli("runs", "list", uri=uri)
    line = next(li for li in listed.out.splitlines() if _names(li, run_id))
    assert " stale " in line
    assert " running " in next(li for li in listed.out.splitlines() if _names(li, live.id))
    assert "stale" in cli("runs", "show", run_id, uri=uri).out
    assert cli("runs", "show", run_id, "--json", uri=uri).json()["run"]["stale"] is True

    preview = cli("runs", "close", "--stale", "--dry-run", uri=uri)
    assert preview.code == 0 and "would close 1" in preview.out
    assert any(_names(li, run_id) for li in preview.out.splitlines())
    assert lineal.get_run(run_id, store=store).status == lineal.RunStatus.RUNNING

    assert cli("runs", "close", "--stale", "--older-than", "1h", uri=uri).out.strip() == "no stale runs"
    done = cli("runs", "close", "--stale", "--json", uri=uri)
    assert [r["id"] for r in done.json()["runs"]] == [run_id]
    record = lineal.get_run(run_id, store=store)
    assert record.status == lineal.RunStatus.KILLED and not record.stale
    assert record.error is not None and record.error.message.startswith("heartbeat stopped at 20")
    assert record.ended_at is not None and record.ended_at.timestamp() <= killed_at
    assert lineal.metric_history(run_id, "i", store=store)[0].value == 1.0
    assert lineal.get_run(live.id, store=store).status == lineal.RunStatus.RUNNING
    live.end()
    assert lineal.get_run(live.id, store=store).status == lineal.RunStatus.FINISHED
    assert store.metadata.verify_ledger().ok


def test_close_needs_stale_and_a_valid_age(tmp_path: Path) -> None:
    result = cli("runs", "close", uri=tmp_path / "s")
    assert result.code != 0 and "--stale" in result.err
    bad = cli("runs", "close", "--stale", "--older-than", "soon", uri=tmp_path / "s")
    assert_one_line_error(bad, 2, "--older-than 'soon' is not an age")


def test_the_library_function(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s")
    run = lineal.start_run("r", capture=False, store=store)
    run._stop_heartbeat()  # noqa: SLF001 - as if its process had died
    assert lineal.close_stale_runs(older_than=3600, store=store) == []
    time.sleep(0.05)
    closed = lineal.close_stale_runs(older_than=0.01, dry_run=True, store=store)
    assert [r.id for r in closed] == [run.id]
    assert lineal.get_run(run.id, store=store).status == lineal.RunStatus.RUNNING
    assert [r.id for r in lineal.close_stale_runs(older_than=0.01, store=store)] == [run.id]
    assert lineal.get_run(run.id, store=store).status == lineal.RunStatus.KILLED
    with pytest.raises(lineal.InvalidArgument, match="older_than"):
        lineal.close_stale_runs(older_than=-1, store=store)
