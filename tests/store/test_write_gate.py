"""The write gate of SQLite stores (lineal.store.sql.write_gate): writers of every thread and
process queue on it before SQLite's lock, a writer stuck behind another process gets one clear
error after the timeout, and a folder where the lock file cannot be made still takes writes."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import lineal
from lineal.errors import StoreError
from lineal.store import open_store
from lineal.store.base import RunFilter
from lineal.store.sql.write_gate import WriteGate, gate_for, release

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")


def test_one_gate_per_database_file_until_its_last_user_lets_go(tmp_path: Path) -> None:
    db = tmp_path / "lineal.db"
    first, second = gate_for(db), gate_for(tmp_path / "." / "lineal.db")
    other = gate_for(tmp_path / "other.db")
    assert first is second and first is not other
    assert first.lock_path == Path(os.path.realpath(db) + "-writer")
    with first.held():
        pass
    release(first)
    assert gate_for(db) is first  # still used by `second`
    release(first)
    release(second)
    release(other)
    assert gate_for(db) is not first  # the last user let go: a new gate
    release(gate_for(db))


def _lock_files_open() -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}").endswith("-writer"):
                found.append(fd)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc")
def test_closing_a_store_closes_its_lock_file(tmp_path: Path) -> None:
    before = _lock_files_open()
    store = open_store(tmp_path / "store")
    with lineal.run("one", capture=False, store=store):
        pass
    assert len(_lock_files_open()) == len(before) + 1
    store.close()
    assert _lock_files_open() == before


def test_a_forked_child_writes_though_a_thread_held_the_gate_at_the_fork(
        tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    gate = store.metadata.db.gate  # type: ignore[attr-defined]
    holding, fork_done = threading.Event(), threading.Event()

    def hold() -> None:
        with gate.held():
            holding.set()
            fork_done.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    pid = os.fork()
    if pid == 0:  # the child: its copy of the thread lock was held at the fork
        code = 1
        try:
            with lineal.run("from the child", capture=False, store=open_store(tmp_path / "store")):
                pass
            code = 0
        finally:
            os._exit(code)
    fork_done.set()
    thread.join(10)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [r.name for r in store.metadata.list_runs(RunFilter())] == ["from the child"]


def test_a_file_system_that_cannot_flock_falls_back_to_sqlite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    def refuse(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    gate = WriteGate(str(tmp_path / "lineal.db"))
    monkeypatch.setattr(fcntl, "flock", refuse)
    with gate.held():
        pass
    with gate.held():  # and the file is not tried again
        pass
    assert gate._fd is None


def test_old_request_keys_are_pruned_by_recorded_writes(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from lineal.store.idempotency import applying
    from lineal.store.sql import requests
    from lineal.store.sql import tables as t

    store = open_store(tmp_path / "store")
    with lineal.run("r", capture=False, store=store) as run:
        run_id = run.id
    db = store.metadata.db  # type: ignore[attr-defined]
    with db.writing() as conn, conn.begin():
        conn.execute(t.idempotency_keys.insert().values(key="old", method="log_batch",
                                                         created_at=1))
    requests._pruned_at[0] = float("-inf")
    with applying("new", "log_batch"):
        store.metadata.log_batch(run_id, "me", tags={"t": "1"})
    with db.read() as conn:
        keys = {row[0] for row in conn.execute(sa.select(t.idempotency_keys.c.key))}
    assert keys == {"new"}


def test_threads_take_turns(tmp_path: Path) -> None:
    gate = WriteGate(str(tmp_path / "x"))
    inside: list[int] = []
    most = [0]
    lock = threading.Lock()

    def writer() -> None:
        for _ in range(50):
            with gate.held():
                with lock:
                    inside.append(1)
                    most[0] = max(most[0], len(inside))
                with lock:
                    inside.pop()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == [1]


HOLDER = textwrap.dedent("""
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("held", flush=True)
    sys.stdin.readline()
""")


def _holder(lock_path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock_path)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_another_process_holding_the_gate_times_out_with_one_clear_error(tmp_path: Path) -> None:
    gate = WriteGate(str(tmp_path / "lineal.db"))
    proc = _holder(gate.lock_path)
    try:
        with pytest.raises(StoreError, match="the store is locked: another writer held it"), \
                gate.held(timeout=0.3):
            pytest.fail("entered while another process held the gate")
    finally:
        proc.communicate("\n", timeout=30)
    with gate.held(timeout=5):  # free again once the holder has gone
        pass


def test_a_write_waits_for_the_other_process_then_lands(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    lock_path = Path(os.path.realpath(tmp_path / "store" / "lineal.db") + "-writer")
    proc = _holder(lock_path)
    done = threading.Event()

    def write() -> None:
        with lineal.run("waited", capture=False, store=store):
            pass
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert not done.wait(0.5), "wrote while another process held the gate"
    finally:
        proc.communicate("\n", timeout=30)
    thread.join(timeout=30)
    assert done.is_set()
    assert [r.name for r in store.metadata.list_runs(RunFilter())] == ["waited"]


def test_no_lock_file_means_no_gate_across_processes_but_writes_still_work(
        tmp_path: Path) -> None:
    gate = WriteGate(str(tmp_path / "gone" / "lineal.db"))  # its lock file cannot be made
    # threads of this process still queue
    with gate.held(), pytest.raises(StoreError, match="locked"), gate.held(timeout=0.05):
        pass
    assert not (tmp_path / "gone").exists()
