"""One writer at a time on a SQLite store, handed over without SQLite's busy sleeps.

SQLite lets one transaction write at a time. A second ``BEGIN IMMEDIATE`` that finds the lock
taken does not wait on it: SQLite's busy handler sleeps and tries again, with sleeps growing to
100 ms. A batch of metric points holds the lock for a few tens of milliseconds, so under
concurrent writers (a server's worker processes and threads, a run's background writer beside
its heartbeat) the lock stood free most of the time while every waiter slept, and one unlucky
call waited a third of a second.

The gate queues writers before they ask SQLite: within a process on a lock (a waiter wakes
when it is released), across processes on an ``flock`` of a file beside the database, polled
every fraction of a millisecond. It only orders writers that would wait anyway; SQLite's own
locking still keeps every transaction whole, so a process that does not take the gate (an
older lineal, the ``sqlite3`` shell) is still safe, and where the lock file cannot be opened
(a read-only folder, no ``fcntl``) writers simply go straight to SQLite as before.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ...errors import StoreError

__all__ = ["WriteGate", "gate_for"]

#: How long a writer waits for the gate before giving up, as SQLite's busy timeout does.
TIMEOUT_S = 60.0
#: The longest sleep between two tries of another process's lock.
_MAX_POLL_S = 0.001

_gates: dict[str, WriteGate] = {}
_gates_lock = threading.Lock()


def gate_for(database: Path) -> WriteGate:
    """The one gate of this process for the SQLite file ``database``."""
    key = os.path.realpath(database)
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = WriteGate(Path(key + "-writer"))
        return gate


class WriteGate:
    """Orders the write transactions of every thread and process on one SQLite file."""

    def __init__(self, lock_path: Path) -> None:
        self.lock_path = lock_path
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None  # the process that opened _fd

    def _lock_fd(self) -> int | None:
        # Opened once, on first use, and kept for the life of the process: it is never the
        # database file, so closing or keeping it cannot touch SQLite's own locks. Read-only
        # suffices for flock, so a store shared by several accounts needs no write permission
        # on the lock file, only on the folder for whoever creates it first.
        # A forked child opens its own: flock belongs to the open file, which fork shares.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            try:
                import fcntl  # noqa: F401  (POSIX only)

                self._fd = os.open(self.lock_path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except (ImportError, OSError):
                self._fd = None  # no gate across processes: SQLite's busy handler orders them
        return self._fd

    @contextlib.contextmanager
    def held(self, timeout: float = TIMEOUT_S) -> Iterator[None]:
        """Hold the gate for the block; StoreError after ``timeout`` seconds of waiting."""
        deadline = time.monotonic() + timeout
        if not self._threads.acquire(timeout=timeout):
            raise _timed_out(timeout)
        try:
            fd = self._lock_fd()
            if fd is None:
                yield
                return
            import fcntl

            _flock(fcntl, fd, deadline, timeout)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


def _flock(fcntl: object, fd: int, deadline: float, timeout: float) -> None:
    flock, exclusive = fcntl.flock, fcntl.LOCK_EX | fcntl.LOCK_NB  # type: ignore[attr-defined]
    pause = 0.00005
    while True:
        try:
            flock(fd, exclusive)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise _timed_out(timeout) from None
            time.sleep(pause)
            pause = min(pause * 2, _MAX_POLL_S)


def _timed_out(timeout: float) -> StoreError:
    return StoreError(f"the store is locked: another writer held it for over {timeout:.0f} s",
                      hint="look for a stuck lineal process writing to this store, then retry")
