"""The body of one process of the concurrent-open test (a module of its own, so that
``multiprocessing`` with the spawn start method can import it in a fresh interpreter)."""

from __future__ import annotations

import traceback
from typing import Any


def open_and_write(uri: str, artifacts: str, worker: int, barrier: Any, results: Any) -> None:
    """Open the (empty) store at the same moment as the other workers, then record a run."""
    try:
        import lineal
        from lineal.store import open_store

        barrier.wait(timeout=120)
        store = open_store(uri, artifacts=artifacts)
        with lineal.run(f"opener-{worker}", store=store, capture=False):
            pass
        store.close()
        results.put((worker, None))
    except BaseException:  # noqa: BLE001 - report everything to the parent
        results.put((worker, traceback.format_exc()))
