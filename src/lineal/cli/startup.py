"""A command's start without the cyclic garbage collector.

Starting a command imports a few hundred modules and opens the store: a few hundred thousand
objects (modules, classes, functions, SQLAlchemy's tables and their columns) that live until the
process ends and form no garbage. As they pile up the collector keeps running collections of
the older generations over all of them, which free nothing: about a twentieth of the
instructions of ``lineal runs list`` on a small store. :func:`loading` pauses it around such a
block (the lazy import of a command group, the opening of the store); the collector is back on
after the block, so a command that runs long (``server``, ``ui``, an import) collects as usual.

In the ``lineal`` process itself (:func:`lineal.cli.main` called without arguments, as the
``lineal`` script and ``python -m lineal.cli`` call it, sets :data:`FREEZE`), what the block
made is also moved to the permanent generation (:func:`gc.freeze`), which later collections
skip. Not when another program runs the CLI in-process with its arguments (the tests): that
would keep the caller's pending garbage forever.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..gcpause import gc_paused

__all__ = ["FREEZE", "loading"]

#: Whether :func:`loading` freezes what its block made (set in the ``lineal`` process only).
FREEZE = False


@contextlib.contextmanager
def loading() -> Iterator[None]:
    """Run the block with the cyclic garbage collector paused (see the module docstring)."""
    with gc_paused(freeze=FREEZE):
        yield
