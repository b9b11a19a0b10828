"""Run heartbeats: telling a run whose process died from one still at work.

A process killed with SIGKILL (or the OOM killer, or a power cut) never gets to end its run, which
would then say ``running`` forever. So while a run is active, a daemon thread of its process
(one per process, for all its runs) records a heartbeat every :func:`interval_s` seconds (``LINEAL_HEARTBEAT_INTERVAL``, default
30; 0 turns it off), and every flush records one too. The heartbeat is one UPDATE of one
column (``runs.heartbeat_at``), outside the audit ledger: it says nothing about the run's
results, and ledgering it would add an entry every 30 s per run.

A running run with no heartbeat (or, before its first, no start) for longer than
:func:`stale_after_s` (three intervals) shows as ``stale``: a display state computed on read,
never stored. :func:`close_stale_runs` (``lineal runs close --stale``) ends such runs as
``killed``, with the reason "heartbeat stopped at <time>".
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .entities import Run, RunStatus, datetime_to_us, default_actor, now_us, us_to_datetime
from .errors import InvalidArgument

if TYPE_CHECKING:
    from .store import Store
    from .store.base import MetadataStore

__all__ = ["Heartbeat", "beating", "close_stale_runs", "interval_s", "is_stale", "stale_after_s"]

ENV_INTERVAL = "LINEAL_HEARTBEAT_INTERVAL"
DEFAULT_INTERVAL_S = 30.0
STALE_AFTER_BEATS = 3


def interval_s() -> float:
    """Seconds between heartbeats: ``LINEAL_HEARTBEAT_INTERVAL`` (0 means none), default 30."""
    text = os.environ.get(ENV_INTERVAL, "").strip()
    if not text:
        return DEFAULT_INTERVAL_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e9:
        raise InvalidArgument(f"{ENV_INTERVAL}={text!r} is not a number of seconds",
                              hint="use e.g. 30 (seconds), or 0 to record no heartbeats")
    return value


def stale_after_s() -> float:
    """How long without a heartbeat makes a running run stale: three intervals (of the default
    when heartbeats are off here: the reader cannot know the writer's setting, so a run of a
    process with heartbeats off shows as stale once it has not flushed for that long)."""
    return STALE_AFTER_BEATS * (interval_s() or DEFAULT_INTERVAL_S)


def last_sign_of_life(run: Run) -> datetime:
    """The last heartbeat of a run, or its start if it has none yet."""
    return run.heartbeat_at or run.started_at


def is_stale(run: Run, older_than_s: float | None = None, now: datetime | None = None) -> bool:
    """Whether ``run`` is running with no sign of life for ``older_than_s`` seconds (default
    :func:`stale_after_s`)."""
    if run.status != RunStatus.RUNNING:
        return False
    limit = stale_after_s() if older_than_s is None else older_than_s
    now_value = now_us() if now is None else datetime_to_us(now)
    return now_value - datetime_to_us(last_sign_of_life(run)) > limit * 1_000_000


class Heartbeat:
    """One active run's heartbeat: every ``interval`` seconds until :meth:`stop`, the process's
    heartbeat thread records it. A failed beat (database briefly unreachable) is retried at the
    next one: the heartbeat must never disturb the run it reports on."""

    def __init__(self, metadata: MetadataStore, run_id: str, interval: float) -> None:
        self.metadata = metadata
        self.run_id = run_id
        self.interval = interval
        self.failures = 0

    def start(self) -> Heartbeat:
        _THREAD.add(self)
        return self

    def stop(self) -> None:
        _THREAD.discard(self)

    def beat(self) -> None:
        try:
            self.metadata.heartbeat(self.run_id, now_us())
        except Exception:  # noqa: BLE001 - best effort by contract: retried next beat
            self.failures += 1


class _HeartbeatThread:
    """One daemon thread per process beats for every active run, so starting a run costs a
    dictionary insert rather than a thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[Heartbeat, float] = {}
        self._thread: threading.Thread | None = None
        self._wake_at: float | None = None  # when the waiting thread wakes anyway (None: never)

    def add(self, heartbeat: Heartbeat) -> None:
        with self._cond:
            due = self._due[heartbeat] = time.monotonic() + heartbeat.interval
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(target=self._run, name="lineal-heartbeat",
                                                daemon=True)
                self._wake_at = None  # a thread of the parent process's is not waiting here
                self._thread.start()
            # Woken only if it would sleep past this beat: runs that start one after the other
            # (a sweep) each came a few milliseconds after the last, and waking the thread for
            # each to compute the same deadline cost a thread switch per run.
            if self._wake_at is None or self._wake_at > due:
                self._cond.notify()

    def discard(self, heartbeat: Heartbeat) -> None:
        with self._cond:
            self._due.pop(heartbeat, None)

    def beating(self) -> set[str]:
        """Ids of the runs this process is beating for."""
        with self._cond:
            return {h.run_id for h in self._due}

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    due = [h for h, at in self._due.items() if at <= now]
                    if due:
                        for heartbeat in due:
                            self._due[heartbeat] = now + heartbeat.interval
                        break
                    timeout = min(self._due.values()) - now if self._due else None
                    self._wake_at = None if timeout is None else now + timeout
                    self._cond.wait(timeout)
                    self._wake_at = None
            for heartbeat in due:  # outside the lock: a slow database delays no run's start
                heartbeat.beat()


_THREAD = _HeartbeatThread()
beating = _THREAD.beating


def close_stale_runs(
    older_than: float | timedelta | None = None,
    *,
    project: str | None = None,
    dry_run: bool = False,
    store: Store | None = None,
) -> list[Run]:
    """End as ``killed`` every running run with no heartbeat for ``older_than`` (seconds or a
    timedelta; default :func:`stale_after_s`), with the error "heartbeat stopped at <time>".
    Returns those runs as they now are (as they were, with ``dry_run=True``, which changes
    nothing).

        lineal.close_stale_runs(older_than=600)  # no sign of life for 10 minutes
    """
    from .store import default_store

    seconds = older_than.total_seconds() if isinstance(older_than, timedelta) else older_than
    if seconds is None:
        seconds = stale_after_s()
    if not 0 <= seconds < 1e11:
        raise InvalidArgument(f"older_than={older_than!r} is not a positive age",
                              hint="give seconds or a timedelta, e.g. 600")
    store = store or default_store()
    cutoff = now_us() - int(seconds * 1_000_000)
    return store.metadata.close_stale_runs(cutoff, default_actor(), project=project,
                                           dry_run=dry_run)


def stopped_reason(heartbeat_us: int) -> str:
    """The error message of a run closed as stale."""
    return f"heartbeat stopped at {us_to_datetime(heartbeat_us).isoformat(timespec='seconds')}"  # type: ignore[union-attr]
