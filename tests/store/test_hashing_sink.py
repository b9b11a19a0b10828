"""HashingSink: what the server's uploads and the HTTP client's downloads receive into."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from lineal.store.blobs.sink import HashingSink


def test_batches_are_written_in_order_and_hashed() -> None:
    written: list[bytes] = []
    sink = HashingSink(lambda piece: written.append(bytes(piece)))
    data = [os.urandom(n) for n in (1, 70_000, 0, 300_000, 5)]
    sink.put(data[0])
    sink.put(data[1:4])  # a list of pieces, as the server hands them over
    assert sink.offer(memoryview(data[4]))
    assert sink.finish() == hashlib.sha256(b"".join(data)).hexdigest()
    assert b"".join(written) == b"".join(data)
    assert sink.received == sum(len(d) for d in data)


def test_without_hashing_it_only_writes() -> None:
    written = bytearray()
    sink = HashingSink(written.extend, hash=False)
    sink.put(b"abc")
    assert sink.finish() is None and bytes(written) == b"abc"


def test_every_buffer_is_given_back_once_written() -> None:
    given_back: list[int] = []
    sink = HashingSink(lambda piece: None)
    for index in range(10):
        sink.put(bytearray(10), lambda index=index: given_back.append(index))
    sink.finish()
    assert given_back == list(range(10))


def test_a_write_error_reaches_the_caller_and_buffers_still_come_back() -> None:
    given_back: list[int] = []

    def write(piece: object) -> None:
        raise OSError(28, "No space left on device")

    sink = HashingSink(write)
    sink.put(b"first", lambda: given_back.append(1))
    sink.put(b"second", lambda: given_back.append(2))
    with pytest.raises(OSError, match="No space left"):
        sink.finish()
    assert given_back == [1, 2]  # a caller waiting for a buffer is never stuck
    with pytest.raises(OSError, match="No space left"):
        sink.put(b"third")
    sink.close()


def test_offer_refuses_without_waiting_when_full() -> None:
    release = threading.Event()
    sink = HashingSink(lambda piece: release.wait(5))
    offered = [sink.offer(b"x") for _ in range(20)]
    assert offered.count(False) > 0  # the pipeline holds a few batches, then says no
    assert sink.received == offered.count(True)
    release.set()
    sink.finish()
