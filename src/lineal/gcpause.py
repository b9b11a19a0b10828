"""Cyclic garbage collection paused while a large answer is built.

A closure of 20,000 nodes allocates some 60,000 container objects (rows, nodes, paths) that
all stay alive until the answer is returned. Each 700 allocations start a young collection,
and the growing heap soon triggers full ones that traverse every object made so far: about
a sixth of a large walk's time, to find no garbage (the objects form no cycles). Reference
counting still frees everything as usual meanwhile; only cycles wait until the end.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused(*, freeze: bool = False) -> Iterator[None]:
    """Pause cyclic collection for the ``with`` block (nested or concurrent uses are fine: it
    is switched back on only by the block that switched it off). ``freeze``: move what the
    block made to the permanent generation before collection resumes, so later collections
    never walk it again (for objects that live as long as the process)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        gc.enable()
