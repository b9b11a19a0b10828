"""The write gate of SQLite stores (lineal.store.sql.write_gate): writers of every thread and
process queue on it before SQLite's lock, a writer stuck behind another process gets one clear
error after the timeout, and a folder where the lock file cannot be made still takes writes."""

from __future__ import annotations

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
from lineal.store.sql.write_gate import WriteGate, gate_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")


def test_one_gate_per_database_file(tmp_path: Path) -> None:
    db = tmp_path / "lineal.db"
    assert gate_for(db) is gate_for(tmp_path / "." / "lineal.db")
    assert gate_for(db) is not gate_for(tmp_path / "other.db")
    assert gate_for(db).lock_path == Path(os.path.realpath(db) + "-writer")


def test_threads_take_turns(tmp_path: Path) -> None:
    gate = WriteGate(tmp_path / "x-writer")
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
    gate = WriteGate(tmp_path / "lineal.db-writer")
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
    gate = WriteGate(tmp_path / "gone" / "lineal.db-writer")  # cannot be created
    # threads of this process still queue
    with gate.held(), pytest.raises(StoreError, match="locked"), gate.held(timeout=0.05):
        pass
    assert not (tmp_path / "gone").exists()
