"""Start writing a large file's pages to disk while it is still being written.

A file received over the network is fsynced once complete; by then the kernel may not have
started writing it back, and the fsync waits for all of it. :class:`Writeback` asks the kernel
(Linux ``sync_file_range(SYNC_FILE_RANGE_WRITE)``) to start writing each stretch as soon as it
is written, so the disk works while the rest arrives and the final fsync has little left to
do. It only starts writes: durability still comes from the caller's fsync. Elsewhere, or if
the call is refused, it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any

__all__ = ["STRETCH", "Writeback"]

STRETCH = 8 * 1024 * 1024
"""Bytes written before their write-back is started."""
_WRITE = 2  # SYNC_FILE_RANGE_WRITE


def _libc_call() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


_CALL = _libc_call()


class Writeback:
    """Tracks what was written to ``fd`` from ``start`` and starts its write-back by stretches."""

    def __init__(self, fd: int, start: int = 0) -> None:
        self.fd = fd
        self.done = start  # write-back started up to here
        self.end = start  # written up to here
        self.enabled = _CALL is not None

    def wrote(self, n: int) -> None:
        """``n`` more bytes were written at the end."""
        self.end += n
        if self.enabled and self.end - self.done >= STRETCH:
            if _CALL(self.fd, self.done, self.end - self.done, _WRITE) != 0:
                self.enabled = False  # not supported here: the fsync does it all
            self.done = self.end
