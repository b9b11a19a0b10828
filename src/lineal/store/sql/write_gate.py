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

try:
    import fcntl
except ImportError:  # Windows: no gate across processes, SQLite's busy handler orders them
    fcntl = None  # type: ignore[assignment]

__all__ = ["WriteGate", "gate_for", "release"]

#: How long a writer waits for the gate before giving up, as SQLite's busy timeout does.
TIMEOUT_S = 60.0
#: The longest sleep between two tries of another process's lock.
_MAX_POLL_S = 0.001

_gates: dict[str, WriteGate] = {}
_gates_lock = threading.Lock()


def gate_for(database: Path) -> WriteGate:
    """The gate of this process for the SQLite file ``database``, shared by every open
    :class:`~lineal.store.sql.database.Database` of that file; give it back with
    :func:`release` when the database is disposed."""
    key = os.path.realpath(database)
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = WriteGate(key)
        gate.users += 1
        return gate


def release(gate: WriteGate) -> None:
    """One user fewer; the last one closes the lock file (a disposed store keeps nothing)."""
    with _gates_lock:
        gate.users -= 1
        if gate.users <= 0:
            if _gates.get(gate.key) is gate:
                del _gates[gate.key]
            gate.close()


def _after_fork_in_child() -> None:
    # A forked child inherits each gate's thread lock as it was at the fork (held, if another
    # thread was writing) and the parent's open lock file, whose flock it would share. It
    # starts with fresh locks and opens its own file on its first write.
    global _gates_lock
    _gates_lock = threading.Lock()
    for gate in _gates.values():
        gate._threads = threading.Lock()
        gate._forget_fd()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class WriteGate:
    """Orders the write transactions of every thread and process on one SQLite file."""

    def __init__(self, database: str) -> None:
        self.key = database
        """The database file's real path."""
        self.lock_path = Path(database + "-writer")
        self.users = 0
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._opened = False

    def _lock_fd(self) -> int | None:
        # Opened on first use and kept until the last store of the file is disposed: it is
        # never the database file, so closing it cannot touch SQLite's own locks. Read-only
        # suffices for flock, so a store shared by several accounts needs no write permission
        # on the lock file, only on the folder for whoever creates it first.
        if not self._opened and fcntl is not None:
            self._opened = True
            try:
                self._fd = os.open(self.lock_path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError:
                self._fd = None  # no gate across processes: SQLite's busy handler orders them
        return self._fd

    def _forget_fd(self) -> None:
        fd, self._fd, self._opened = self._fd, None, False
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def close(self) -> None:
        with self._threads:
            self._forget_fd()

    @contextlib.contextmanager
    def held(self, timeout: float = TIMEOUT_S) -> Iterator[None]:
        """Hold the gate for the block; StoreError after ``timeout`` seconds of waiting."""
        deadline = time.monotonic() + timeout
        threads = self._threads
        taken = flocked = None
        try:
            taken = threads.acquire(timeout=timeout)
            if not taken:
                raise _timed_out(timeout)
            fd = self._lock_fd()
            if fd is not None:
                flocked = self._flock(fd, deadline, timeout)
            yield
        finally:
            if flocked is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(flocked, fcntl.LOCK_UN)
            if taken:
                threads.release()

    def _flock(self, fd: int, deadline: float, timeout: float) -> int | None:
        """Take the flock of ``fd``; the fd locked, or None where the file system cannot lock
        it (then SQLite alone orders the processes, as without a gate)."""
        pause = 0.00005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _timed_out(timeout) from None
                time.sleep(pause)
                pause = min(pause * 2, _MAX_POLL_S)
            except OSError:  # ENOLCK, EOPNOTSUPP...: some FUSE, SMB and 9p mounts
                self._forget_fd()
                self._opened = True  # not tried again: SQLite alone orders the processes
                return None


def _timed_out(timeout: float) -> StoreError:
    return StoreError(f"the store is locked: another writer held it for over {timeout:.0f} s",
                      hint="look for a stuck lineal process writing to this store, then retry")
