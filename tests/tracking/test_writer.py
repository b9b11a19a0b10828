"""The background writer: logging goes on while batches are written, within a bound; what the
writer could not write is never lost, and its failures surface in the run's own calls."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import lineal
import lineal.tracking
from lineal._writer import QUEUE_DEPTH
from lineal.errors import StoreError
from lineal.store import Store, open_store


class Wrapped:
    """The real metadata store, with ``log_batch`` slowed down or failing (and counted)."""

    def __init__(self, inner: Any, delay: float = 0.0, failures: int = 0,
                 finish_fails: bool = False) -> None:
        self.inner, self.delay, self.failures, self.finish_fails = inner, delay, failures, finish_fails
        self.written = 0  # metric points the store has taken
        self.calls = 0
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def log_batch(self, run_id: str, actor: str, params: Any = None, metrics: Any = (),
                  tags: Any = None) -> None:
        with self.lock:
            self.calls += 1
            fail = self.failures != 0
            self.failures -= fail
        time.sleep(self.delay)
        if fail:
            raise StoreError("the database went away (test)")
        self.inner.log_batch(run_id, actor, params, metrics, tags)
        with self.lock:
            self.written += len(metrics)

    def finish_run(self, *args: Any, **kwargs: Any) -> None:
        if self.finish_fails and kwargs.get("metrics"):
            raise StoreError("the database went away at the end (test)")
        self.inner.finish_run(*args, **kwargs)


def wrapped(store: Store, **options: Any) -> tuple[Store, Wrapped]:
    metadata = Wrapped(store.metadata, **options)
    return dataclasses.replace(store, metadata=metadata), metadata  # type: ignore[arg-type]


def history(store: Store, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(p.step, p.value) for p in lineal.metric_history(run_id, key, store=store)]


def test_a_slow_store_makes_logging_wait_instead_of_queueing_without_bound(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lineal.tracking, "FLUSH_POINTS", 10)
    slow, metadata = wrapped(store, delay=0.1)
    bound = (QUEUE_DEPTH + 2) * 10  # queued, being written, and the buffer
    most_pending, slowest = 0, 0.0
    started = time.monotonic()
    with lineal.run("slow", capture=False, store=slow) as run:
        for i in range(100):
            t0 = time.monotonic()
            run.log_metric("loss", float(i))
            slowest = max(slowest, time.monotonic() - t0)
            most_pending = max(most_pending, i + 1 - metadata.written)
    elapsed = time.monotonic() - started
    assert most_pending <= bound
    assert slowest >= 0.05  # a hand-off waited for the writer
    assert elapsed >= (10 - QUEUE_DEPTH - 1) * 0.1
    assert len(history(store, run.id, "loss")) == 100


def test_logging_does_not_wait_for_a_batch_being_written(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lineal.tracking, "FLUSH_POINTS", 10)
    slow, metadata = wrapped(store, delay=0.5)
    with lineal.run("slow", capture=False, store=slow) as run:
        t0 = time.monotonic()
        for i in range(20):  # two batches: within the queue's depth
            run.log_metric("loss", float(i))
        assert time.monotonic() - t0 < 0.4
        assert metadata.written == 0
        run.flush()  # waits until they are written
        assert metadata.written == 20
    assert len(history(store, run.id, "loss")) == 20


def _wait_for_trouble(run: lineal.tracking.ActiveRun) -> None:
    deadline = time.monotonic() + 10
    while not run._trouble and time.monotonic() < deadline:  # noqa: SLF001
        time.sleep(0.01)


def test_a_writer_failure_surfaces_at_the_next_log_call_and_nothing_is_lost(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lineal.tracking, "FLUSH_POINTS", 5)
    failing, _ = wrapped(store, failures=1)
    with lineal.run("flaky", capture=False, store=failing) as run:
        run.set_tag("phase", "a")
        for i in range(5):  # the fifth hands the batch to the writer, which fails
            run.log_metric("loss", float(i))
        _wait_for_trouble(run)
        with pytest.raises(StoreError, match="went away"):
            run.log_metric("loss", 5.0)  # not taken: the error is raised first
        run.set_tag("phase", "b")
        for i in range(5, 12):
            run.log_metric("loss", float(i))
        run.flush()
    assert history(store, run.id, "loss") == [(i, float(i)) for i in range(12)]
    record = lineal.get_run(run.id, store=store)
    assert record.status == lineal.RunStatus.FINISHED
    assert record.tags["phase"] == "b"  # the retried older batch did not overwrite it
    assert store.metadata.verify_ledger().ok


def test_flush_raises_a_writer_failure_and_a_second_flush_writes_the_batch(
    store: Store,
) -> None:
    failing, metadata = wrapped(store, failures=1)
    with lineal.run("flaky", capture=False, store=failing) as run:
        for i in range(3):
            run.log_metric("loss", float(i))
        with pytest.raises(StoreError, match="went away"):
            run.flush()
        assert metadata.written == 0
        run.flush()
        assert metadata.written == 3
    assert history(store, run.id, "loss") == [(0, 0.0), (1, 1.0), (2, 2.0)]


def test_the_end_writes_what_the_writer_could_not(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lineal.tracking, "FLUSH_POINTS", 5)
    failing, _ = wrapped(store, failures=-1)  # log_batch always fails; finish_run works
    with lineal.run("flaky", capture=False, store=failing) as run:
        for i in range(12):
            run.log_metric("loss", float(i))
        _wait_for_trouble(run)
    assert history(store, run.id, "loss") == [(i, float(i)) for i in range(12)]
    assert lineal.get_run(run.id, store=store).status == lineal.RunStatus.FINISHED


def test_the_end_raises_when_the_store_keeps_failing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lineal.tracking, "FLUSH_POINTS", 5)
    failing, _ = wrapped(store, failures=-1, finish_fails=True)
    run = lineal.start_run("down", capture=False, store=failing)
    for i in range(7):
        run.log_metric("loss", float(i))
    _wait_for_trouble(run)
    with pytest.raises(StoreError, match="went away"):
        run.end()
    record = lineal.get_run(run.id, store=store)
    assert record.status == lineal.RunStatus.FAILED
    assert record.error is not None and "could not be stored" in record.error.message


def test_several_threads_log_to_one_run(
    backend_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lineal.tracking, "FLUSH_POINTS", 50)
    with lineal.run("threads", capture=False, store=backend_store) as run:
        def work(k: int) -> None:
            for i in range(500):
                run.log_metric(f"m{k}", float(i), step=i)
                if i % 100 == 0:
                    run.set_tag(f"t{k}", str(i))

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for k in range(4):
        assert history(backend_store, run.id, f"m{k}") == [(i, float(i)) for i in range(500)]
    assert lineal.get_run(run.id, store=backend_store).tags["t3"] == "400"
    assert backend_store.metadata.verify_ledger().ok


def test_points_queued_for_the_writer_are_stored_at_interpreter_exit(tmp_path: Path) -> None:
    uri = tmp_path / "s"
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        import lineal, lineal.tracking
        lineal.tracking.FLUSH_POINTS = 1000  # many batches queued when the program exits
        run = lineal.start_run("forgotten", capture=False)
        for i in range(30_000):
            run.log_metric("i", i)
        print(run.id)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         check=True, env={**os.environ, "LINEAL_URI": str(uri)})
    store = open_store(uri)
    record = lineal.get_run(out.stdout.strip(), store=store)
    assert record.status == lineal.RunStatus.FINISHED
    assert len(lineal.metric_history(record.id, "i", store=store)) == 30_000
