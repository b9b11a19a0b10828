"""Automatic capture of the code and environment a run starts from.

A model version is the product of data, code, hyperparameters, library
versions, container image and hardware. :func:`capture` records the code and
environment parts in one call, cheaply enough to run at every run start:

>>> from lineal.capture import capture
>>> captured = capture()
>>> captured.code["git"]["commit"]                      # doctest: +SKIP
'3f2c1e0...'
>>> captured.environment_digest()                       # doctest: +SKIP
'sha256:9b1d...'

What is captured
----------------
``code``
    ``git``: repository ``root``, ``commit``, ``branch`` (None when detached),
    ``dirty``, ``diff_digest`` (sha256 of ``git diff HEAD`` plus the names of
    untracked files, only when dirty), ``untracked_count``, ``remote_name`` and
    ``remote_url`` with any credentials removed. ``entry_point``: what was run
    (``kind`` is ``script``, ``module``, ``pytest``, ``notebook``,
    ``interactive``, ``command``, ``stdin`` or ``unknown``), its ``path``
    relative to the repository root when inside it, and its ``sha256``.
``environment``
    ``python``, ``os``, ``host`` (hostname and user), ``packages``
    (``{normalized name: version}`` for every installed distribution) and
    ``editable_packages`` (their source locations), ``container``, ``conda``
    and ``hardware`` (CPU count and model, total and cgroup-limited memory, GPUs).
``frameworks``
    Versions of the ML frameworks the process has *already* imported; nothing
    is imported to find out.

Nothing that changes from one run to the next (times, process ids, free
memory, container ids) is recorded in ``code`` or ``environment``, so two
runs in the same environment get the same :meth:`CapturedEnvironment.environment_digest`;
that is how identical environments are stored once. The host name and the
repository root are recorded, so the same image on two machines, or two
clones of a repository, do produce different digests.

Configuration
-------------
``LINEAL_CONTAINER_IMAGE``
    The container image the process runs in, e.g.
    ``registry.example.com/team/train@sha256:...``. Set it in the Dockerfile
    (``ENV LINEAL_CONTAINER_IMAGE=...``) or the job spec: a process cannot
    reliably discover its own image. Without it, ``container`` holds what could
    be detected (runtime, Kubernetes, podman's ``/run/.containerenv``, image
    variables set by platforms such as JupyterHub) and ``image`` may be None.

Failure handling
----------------
Every probe is optional. Probes run concurrently in daemon threads under one
deadline (``timeout``); subprocesses (git, nvidia-smi) are killed when they
overrun. A probe that fails or times out leaves its part of the result as None
(or absent) and records a short reason in ``probe_errors``. :func:`capture`
itself does not raise.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from . import _container, _entry_point, _git, _hardware, _packages, _system
from ._runner import Deadline, describe_exception, run_probes

__all__ = ["CapturedEnvironment", "canonical_json", "capture"]


def canonical_json(obj: Any) -> bytes:
    """Serialize ``obj`` to the one byte string that digests are computed over.

    Keys are sorted, there is no insignificant whitespace and non-ASCII text is
    kept as UTF-8, so equal values always give equal bytes:

    >>> canonical_json({"b": 1, "a": ["é", None]})
    b'{"a":["\\xc3\\xa9",null],"b":1}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _sha256_digest(obj: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(obj)).hexdigest()


@dataclass(frozen=True)
class CapturedEnvironment:
    """The code and environment of a run, as seen by :func:`capture` at run start."""

    code: dict[str, Any]
    environment: dict[str, Any]
    frameworks: dict[str, str]
    probe_errors: dict[str, str]
    duration_s: float

    def code_digest(self) -> str:
        """``"sha256:<hex>"`` of :func:`canonical_json` of ``code``."""
        return _sha256_digest(self.code)

    def environment_digest(self) -> str:
        """``"sha256:<hex>"`` of :func:`canonical_json` of ``environment``.

        Equal digests mean equal environments, which is what lets a store keep
        one copy of an environment shared by many runs.
        """
        return _sha256_digest(self.environment)


def capture(
    *,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 0.15,
    include_packages: bool = True,
) -> CapturedEnvironment:
    """Capture the code and environment of the current process.

    ``cwd`` is the directory whose git checkout describes the code (default:
    the current directory). ``timeout`` is the overall deadline in seconds for
    all probes together. ``include_packages=False`` skips the installed-package
    scan and leaves ``packages`` out of ``environment`` (which changes its digest).

    Never raises: failed or timed-out probes are listed in ``probe_errors``.
    """
    started = time.perf_counter()
    deadline = Deadline.after(timeout)
    errors: dict[str, str] = {}

    probes: dict[str, Any] = {
        "entry_point": _entry_point.probe_entry_point,
        "python": _system.probe_python,
        "os": _system.probe_os,
        "host": _system.probe_host,
        "container": _container.probe_container,
        "conda": _container.probe_conda,
        "hardware": _hardware.probe_hardware,
        "gpus": _hardware.probe_gpus,
    }
    workdir = _working_directory(cwd, errors)
    if workdir is not None:
        probes["git"] = partial(_git.probe_git, workdir, deadline)
    if include_packages:
        probes["packages"] = _packages.probe_packages

    values, probe_errors = run_probes(probes, deadline)
    errors.update(probe_errors)

    code = _assemble_code(values, errors)
    environment = _assemble_environment(values, include_packages)
    packages = values.get("packages")
    try:
        frameworks = _packages.imported_frameworks(
            sys.modules, packages.versions if packages is not None else None
        )
    except Exception as exc:  # noqa: BLE001 - frameworks are one probe among others
        frameworks = {}
        errors["frameworks"] = describe_exception(exc)

    return CapturedEnvironment(
        code=_encodable(code),
        environment=_encodable(environment),
        frameworks=frameworks,
        probe_errors=dict(sorted(errors.items())),
        duration_s=time.perf_counter() - started,
    )


def _working_directory(cwd: str | os.PathLike[str] | None, errors: dict[str, str]) -> str | None:
    try:
        return os.fspath(cwd) if cwd is not None else os.getcwd()
    except (OSError, TypeError) as exc:  # the process's directory was deleted, or a bad argument
        errors["git"] = f"no working directory: {describe_exception(exc)}"
        return None


def _assemble_code(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    git = values.get("git")
    entry_point = values.get("entry_point")
    if entry_point is not None:
        try:
            entry_point = _entry_point.relative_to_root(entry_point, git["root"] if git else None)
        except Exception as exc:  # noqa: BLE001 - keep the absolute path rather than nothing
            errors["entry_point"] = describe_exception(exc)
    return {"git": git, "entry_point": entry_point}


def _assemble_environment(values: dict[str, Any], include_packages: bool) -> dict[str, Any]:
    environment: dict[str, Any] = {
        "python": values.get("python"),
        "os": values.get("os"),
        "host": values.get("host"),
        "container": values.get("container"),
        "conda": values.get("conda"),
        "hardware": {**(values.get("hardware") or {}), "gpus": values.get("gpus")},
    }
    if include_packages:
        packages = values.get("packages")
        environment["packages"] = packages.versions if packages is not None else None
        environment["editable_packages"] = packages.editable if packages is not None else None
    return environment


def _encodable(obj: dict[str, Any]) -> dict[str, Any]:
    """Return ``obj``, with undecodable file names made UTF-8-safe if there are any.

    Paths from the OS can hold lone surrogates (bytes that were not UTF-8); left
    alone they would make :func:`canonical_json` raise long after capture returned.
    """
    try:
        canonical_json(obj)
        return obj
    except (UnicodeEncodeError, TypeError, ValueError):
        text = json.dumps(obj, ensure_ascii=False, default=repr)
        sanitized: dict[str, Any] = json.loads(text.encode("utf-8", "replace").decode("utf-8"))
        return sanitized
