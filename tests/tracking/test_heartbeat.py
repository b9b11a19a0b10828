"""The heartbeat thread of an active run: it beats, it stops when the run ends, and its
interval is a setting that is checked before anything is written."""

from __future__ import annotations

import threading
import time

import pytest

import lineal
from lineal import heartbeat
from lineal.store import Store


def _beating(run_id: str) -> bool:
    return run_id in heartbeat.beating()


def test_the_thread_beats_and_stops_with_the_run(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAL_HEARTBEAT_INTERVAL", "0.05")
    with lineal.run("r", capture=False) as run:
        assert _beating(run.id)
        deadline = time.monotonic() + 10
        while lineal.get_run(run.id).heartbeat_at is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert not lineal.get_run(run.id).stale
        with lineal.run("second", capture=False) as second:  # one thread beats for both
            assert _beating(run.id) and _beating(second.id)
            threads = [t for t in threading.enumerate() if t.name == "lineal-heartbeat"]
            assert len(threads) == 1
        assert not _beating(second.id)
    assert not _beating(run.id)
    assert lineal.get_run(run.id).status == lineal.RunStatus.FINISHED


def test_zero_turns_heartbeats_off(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAL_HEARTBEAT_INTERVAL", "0")
    with lineal.run("r", capture=False) as run:
        assert not _beating(run.id)


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bad_interval_is_refused_before_the_run_is_written(
    store: Store, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("LINEAL_HEARTBEAT_INTERVAL", value)
    with pytest.raises(lineal.InvalidArgument, match="LINEAL_HEARTBEAT_INTERVAL"):
        lineal.start_run("r", capture=False)
    assert lineal.list_runs() == []


class _Beats:
    """A metadata store that only counts heartbeats."""

    def __init__(self) -> None:
        self.runs: list[str] = []

    def heartbeat(self, run_id: str, at_us: int) -> None:
        self.runs.append(run_id)


def test_runs_one_after_another_do_not_wake_the_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep starts a run every few milliseconds: the thread, asleep until the first beat
    due, is woken only by a run whose beat comes before that (waking it for each run cost a
    thread switch per run); every run still gets its beats."""
    beats = _Beats()
    thread = heartbeat._HeartbeatThread()
    first = heartbeat.Heartbeat(beats, "first", 30.0)  # type: ignore[arg-type]
    thread.add(first)
    deadline = time.monotonic() + 10
    while thread._wake_at is None:  # asleep, until the first beat is due
        assert time.monotonic() < deadline
        time.sleep(0.01)
    woken: list[int] = []
    real_notify = thread._cond.notify
    monkeypatch.setattr(thread._cond, "notify", lambda n=1: (woken.append(n), real_notify(n)))
    for i in range(20):
        later = heartbeat.Heartbeat(beats, f"later-{i}", 30.0)  # type: ignore[arg-type]
        thread.add(later)
        thread.discard(later)
    assert woken == []
    soon = heartbeat.Heartbeat(beats, "soon", 0.05)  # type: ignore[arg-type]
    thread.add(soon)
    assert woken == [1]
    while "soon" not in beats.runs:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    thread.discard(soon)
    thread.discard(first)
