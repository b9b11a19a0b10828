"""Progress of long transfers, for the SDK and the CLI alike.

Every call that moves bytes (``ActiveRun.log_artifact``, ``ActiveRun.log_dataset``,
``lineal.download_artifact``, ``lineal artifacts log/get``) takes ``progress``:

- ``True`` (the default): a bar on stderr when stderr is a terminal or the code runs in a
  Jupyter kernel, for transfers of at least :data:`MIN_BYTES`; nothing otherwise (pipes, logs,
  CI, small files);
- ``False``: nothing;
- a callable: called with the number of bytes moved since its last call (the calls add up to
  the transfer's size). It may be called from a worker thread.

The blob stores report bytes as they move (``BlobStore.put_file(..., progress=)`` and
``get_file``), so the bar of a single 1 GiB file advances while it is copied.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["MIN_BYTES", "Progress", "ProgressOption", "in_notebook", "transfer"]

#: A callback receiving the number of bytes moved since its last call.
Progress = Callable[[int], None]
#: What ``progress=`` accepts: True (a bar where someone watches), False, or a callback.
ProgressOption = bool | Progress
#: Transfers smaller than this show no bar: they are over before it would be read.
MIN_BYTES = 8 * 1024 * 1024


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter (IPython) kernel, where a bar is drawn in the cell."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    ip = get() if get is not None else None
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def _ignore(_n: int) -> None:
    return None


@contextlib.contextmanager
def transfer(total: int, description: str, progress: ProgressOption = True, *,
             out: Console | None = None) -> Iterator[Progress]:
    """The callback to hand to a transfer of ``total`` bytes, per ``progress`` (see the module
    docstring). ``out`` is the console to draw on (default: stderr; tests pass one that
    records).

    >>> with transfer(size, "uploading model.pt") as advance:  # doctest: +SKIP
    ...     blobs.put_file(path, progress=advance)
    """
    if callable(progress):
        yield progress
        return
    if progress is not True or total < MIN_BYTES:
        yield _ignore
        return
    from rich.console import Console

    target = out or Console(stderr=True, highlight=False)
    if not (target.is_terminal or target.is_jupyter or in_notebook()):
        yield _ignore
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as Bar

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Bar(*columns, console=target, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
