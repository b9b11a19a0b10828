"""Hash and write received bytes in threads of their own while the caller receives more.

Every large body lineal receives goes through :class:`HashingSink`: the server's uploads
(``server/upload_routes.py``) and the HTTP client's downloads, on the plain socket and through
httpx (``store/http/``). The caller hands it batches; a hashing thread and a writing thread
form a pipeline (batch ``k`` is written while batch ``k + 1`` is hashed and ``k + 2``
received). hashlib and file writes release the GIL, so on two cores the three overlap instead
of taking turns: writing into page-cache pages the kernel has not used lately costs as much
CPU as SHA-256 does on a virtual machine (the host backs each page on first touch), and in one
thread the two added up.

A batch is a buffer or a list of them (the pieces a server hands a body over in: no copy to
join them). ``done`` is called once a batch is hashed and written, so that a reused receive
buffer can be filled again. The first error in either thread is raised to the caller at its
next call; the threads go on draining (calling ``done``) so that a caller waiting for a buffer
is never stuck.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Sequence

__all__ = ["Batch", "HashingSink", "Piece"]

Piece = bytes | bytearray | memoryview
Batch = Piece | Sequence[Piece]
_Item = tuple[Sequence[Piece], Callable[[], None] | None]

DEPTH = 4
"""Batches waiting at each stage: what bounds the memory a fast sender can fill."""


class HashingSink:
    """Hashes (SHA-256, unless ``hash=False``) and writes, in order, the batches it is given;
    ``write`` is called with each piece, in the writing thread."""

    def __init__(self, write: Callable[[Piece], object], *,
                 hash: bool = True, name: str = "lineal-sink") -> None:
        self.write = write
        self.sha = hashlib.sha256() if hash else None
        self.received = 0
        self.error: BaseException | None = None
        self._digest: str | None = None
        self._hashing: queue.Queue[_Item | None] = queue.Queue(maxsize=DEPTH)
        self._writing: queue.Queue[_Item | None] = queue.Queue(maxsize=DEPTH)
        self._threads = [threading.Thread(target=self._hash, name=f"{name}-hash", daemon=True),
                         threading.Thread(target=self._write, name=f"{name}-write",
                                          daemon=True)]
        for thread in self._threads:
            thread.start()

    def put(self, data: Batch, done: Callable[[], None] | None = None) -> None:
        """Hand over ``data`` (waits while the pipeline is full); the error of an earlier
        batch, if any, is raised instead."""
        item = self._item(data, done)
        self._hashing.put(item)

    def offer(self, data: Batch) -> bool:
        """Hand over ``data`` if there is room now (an event loop must not wait); False if not
        (nothing was taken)."""
        item = self._item(data, None)
        try:
            self._hashing.put_nowait(item)
        except queue.Full:
            self.received -= _size(item[0])
            return False
        return True

    def _item(self, data: Batch, done: Callable[[], None] | None) -> _Item:
        if self.error is not None:
            raise self.error
        pieces = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
        self.received += _size(pieces)
        return pieces, done

    def _hash(self) -> None:
        while (item := self._hashing.get()) is not None:
            if self.sha is not None and self.error is None:
                try:
                    for piece in item[0]:
                        self.sha.update(piece)
                except BaseException as exc:  # re-raised in the caller's thread
                    self.error = exc
            self._writing.put(item)
        self._writing.put(None)

    def _write(self) -> None:
        while (item := self._writing.get()) is not None:
            pieces, done = item
            if self.error is None:
                try:
                    for piece in pieces:
                        self.write(piece)
                except BaseException as exc:  # re-raised in the caller's thread
                    self.error = exc
            if done is not None:
                done()

    def _stop(self) -> None:
        if self._threads[0].is_alive():
            self._hashing.put(None)
        for thread in self._threads:
            thread.join()

    def finish(self) -> str | None:
        """Wait until every batch is hashed and written; the hex SHA-256 of all of them (None
        when not hashing). Raises the first error either thread met."""
        self._stop()
        if self.error is not None:
            raise self.error
        if self._digest is None and self.sha is not None:
            self._digest = self.sha.hexdigest()
        return self._digest

    def close(self) -> None:
        """Stop the threads, after an error of the caller's: what they met is not raised."""
        self._stop()


def _size(pieces: Sequence[Piece]) -> int:
    return sum(piece.nbytes if isinstance(piece, memoryview) else len(piece) for piece in pieces)
