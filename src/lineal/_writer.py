"""The background writer of a run: batches go to the store in a thread, in order, bounded.

A training loop must not stall while a batch of metric points is written (a transaction of
20,000 points takes a good part of a second on a slow disk). So :class:`ActiveRun` hands each
full batch to its writer, which writes it in a daemon thread, and goes on logging. The queue
between them holds at most :data:`QUEUE_DEPTH` batches: when the store cannot keep up, the
hand-off waits (back-pressure) instead of letting memory grow without bound.

A batch the writer could not write (the store failed) is kept, with every batch handed off
after it, in order, and the error is kept for the run to raise at its next call
(:meth:`BatchWriter.take_failure`): the run puts those batches back at the front of its
buffer, so that the next flush writes them again and a later tag value never lands before an
earlier one. The thread is a daemon so that it never holds up interpreter exit; the run's
atexit hook drains it before the interpreter stops it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["QUEUE_DEPTH", "BatchWriter"]

#: Batches waiting to be written, besides the one being written: what back-pressure allows.
QUEUE_DEPTH = 2
B = TypeVar("B")


class BatchWriter(Generic[B]):
    """Writes batches with ``write`` in one thread, in the order they were put."""

    def __init__(self, write: Callable[[B], None], name: str, depth: int = QUEUE_DEPTH) -> None:
        self._write = write
        self._name = name
        self._queue: queue.Queue[B | None] = queue.Queue(depth)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._error: BaseException | None = None
        self._held: list[B] = []  # the failed batch and those after it, in order
        self.on_failure: Callable[[], None] = lambda: None
        """Called in the writer thread when a write fails (to flag the run)."""

    def put(self, batch: B) -> None:
        """Queue ``batch``; waits while :data:`QUEUE_DEPTH` batches are already waiting."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                    thread.start()
                    self._thread = thread
        self._queue.put(batch)

    def drain(self) -> None:
        """Wait until every batch put so far is written (or held after a failure)."""
        if self._thread is not None:
            self._queue.join()

    @property
    def failed(self) -> bool:
        return self._error is not None

    def take_failure(self) -> tuple[BaseException, list[B]] | None:
        """After :meth:`drain`: the error of a failed write and the batches not written, oldest
        first; the writer then writes again."""
        if self._error is None:
            return None
        error, held = self._error, self._held
        self._error, self._held = None, []
        return error, held

    def close(self) -> None:
        """Drain and stop the thread (a later :meth:`put` starts a new one)."""
        thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join()
        self._thread = None

    def _loop(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                if self._error is not None:
                    self._held.append(batch)  # behind a failed batch: kept, in order
                    continue
                try:
                    self._write(batch)
                except BaseException as error:  # kept for the run to raise in its thread
                    self._held.append(batch)
                    self._error = error
                    self.on_failure()
            finally:
                self._queue.task_done()
