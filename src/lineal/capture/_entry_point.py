"""Entry-point probe: what the user ran to start this process.

The answer is one of these ``kind`` values, recorded honestly rather than
guessed: ``script`` (``python train.py``), ``module`` (``python -m pkg.train``),
``pytest``, ``notebook`` (a Jupyter kernel), ``interactive`` (a REPL or IPython
shell), ``command`` (``python -c``, whose code text Python does not keep),
``stdin`` (``python -``) and ``unknown`` (embedded interpreters, frozen apps).

Scripts and modules also get the sha256 of their file, because a commit sha
says nothing about a script that lives outside the repository or was edited
after the commit.
"""

from __future__ import annotations

import hashlib
import os
import sys
from types import ModuleType
from typing import Any

_PYTEST_MAIN_NAMES = frozenset({"pytest", "py.test", "pytest.exe", "py.test.exe"})


def probe_entry_point() -> dict[str, Any]:
    """Describe the entry point; file paths are absolute here (see :func:`relative_to_root`)."""
    main = sys.modules.get("__main__")
    kind = _kind(main)
    if kind == "notebook":
        # jupyter-server (2.x) tells the kernel which notebook it serves.
        notebook = os.environ.get("JPY_SESSION_NAME")
        return {"kind": kind, "path": os.path.realpath(notebook) if notebook else None}
    if kind == "module":
        spec = getattr(main, "__spec__", None)
        origin = getattr(spec, "origin", None)
        return {"kind": kind, "module": spec.name, **_file_fields(origin)}  # type: ignore[union-attr]
    if kind == "script":
        path = getattr(main, "__file__", None) or sys.argv[0]
        return {"kind": kind, **_file_fields(path)}
    return {"kind": kind}


def relative_to_root(entry_point: dict[str, Any], root: str | None) -> dict[str, Any]:
    """Return ``entry_point`` with its path made relative to the repository ``root``.

    A relative path is what makes two clones of one repository describe the same
    script the same way; paths outside the repository stay absolute.
    """
    path = entry_point.get("path")
    if not path or not root:
        return entry_point
    root = os.path.realpath(root)
    try:
        inside = os.path.commonpath([path, root]) == root
    except ValueError:  # different drives on Windows
        inside = False
    if not inside:
        return entry_point
    # Forward slashes so that Windows and POSIX checkouts agree.
    return {**entry_point, "path": os.path.relpath(path, root).replace(os.sep, "/")}


def _kind(main: ModuleType | None) -> str:
    if main is None:
        return "unknown"
    if "ipykernel" in sys.modules:
        return "notebook"
    if _is_pytest(main):
        return "pytest"
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 == "-c":
        return "command"
    if argv0 == "-":
        return "stdin"
    spec = getattr(main, "__spec__", None)
    # A directory or zipapp run as a script has a spec named "__main__": it is a script.
    if spec is not None and spec.name not in ("__main__", None):
        return "module"
    main_file = getattr(main, "__file__", None)
    # Pseudo file names such as "<stdin>" or "<string>" name no file.
    if main_file and not (main_file.startswith("<") and main_file.endswith(">")):
        return "script"
    if hasattr(sys, "ps1") or sys.flags.interactive or argv0 == "" or "IPython" in sys.modules:
        return "interactive"
    return "unknown"


def _is_pytest(main: ModuleType) -> bool:
    if "_pytest" not in sys.modules:
        return False
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name in ("pytest", "py.test", "pytest.__main__"):
        return True
    main_file = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv else "")
    return os.path.basename(main_file) in _PYTEST_MAIN_NAMES or "PYTEST_CURRENT_TEST" in os.environ


def _file_fields(path: str | None) -> dict[str, Any]:
    if not path:
        return {"path": None, "sha256": None}
    path = os.path.realpath(path)
    return {"path": path, "sha256": _file_sha256(path)}


def _file_sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        # Deleted or unreadable since start-up: the path alone is still worth recording.
        return None
