"""Automatic capture of the code and environment a run starts from.

A model version is the product of data, code, hyperparameters, library
versions, container image and hardware. :func:`capture` records the code and
environment parts in one call; :func:`start_capture` runs it in the background,
which is how every run captures without its start waiting for it:

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

``LINEAL_CAPTURE_TIMEOUT``
    The bound, in seconds, on a whole capture (default 30). Capture runs in the
    background from run start and is joined when the run ends, so the bound only
    costs time when a probe hangs; it is generous so that git and the package
    scan finish on a loaded machine.

Failure handling
----------------
Probes run concurrently in daemon threads under one deadline; subprocesses (git,
nvidia-smi) are killed when they overrun. A probe that fails or times out is
recorded explicitly in its place as :func:`not_captured` (``{"captured": false,
"reason": "timed out after 30s"}``), and its reason is also listed in
``probe_errors``. That marker is distinct from a captured fact such as "not in a
git checkout" (``code["git"] is None``): readers treat a field not captured as
unknown, never as a difference (:func:`not_captured_reason` tells the two apart).
:func:`capture` itself does not raise, except for a malformed
``LINEAL_CAPTURE_TIMEOUT``.

Within a process, what cannot change (installed packages, hardware, OS, Python,
GPUs) is probed once and reused; the git state and the entry point are probed at
every capture.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..canonical import canonical_bytes as canonical_json  # the capture's public name: bytes
from . import _container, _entry_point, _git, _hardware, _packages, _system
from ._runner import Deadline, ProcessOnce, describe_exception, format_seconds, run_probes

__all__ = [
    "CapturedEnvironment",
    "PendingCapture",
    "canonical_json",
    "capture",
    "capture_timeout",
    "not_captured",
    "not_captured_reason",
    "start_capture",
]

#: Seconds a capture may take in all when ``LINEAL_CAPTURE_TIMEOUT`` is not set.
DEFAULT_TIMEOUT_S = 30.0
TIMEOUT_VARIABLE = "LINEAL_CAPTURE_TIMEOUT"
# How long past its deadline a background capture is awaited: capture() returns at its
# deadline, plus the time to assemble the result, which a starved thread may need.
_JOIN_GRACE_S = 5.0
# The probes whose answer cannot change within a process, cached per probe function (a
# monkeypatched probe is a different function, so a test never sees another's answer).
_process_facts: dict[str, ProcessOnce[Any]] = {
    name: ProcessOnce() for name in ("python", "os", "hardware")
}


def not_captured(reason: str) -> dict[str, Any]:
    """The marker recorded in place of a value that could not be captured.

    >>> not_captured("timed out after 30s")
    {'captured': False, 'reason': 'timed out after 30s'}
    """
    return {"captured": False, "reason": reason}


def not_captured_reason(value: Any) -> str | None:
    """The reason when ``value`` is a :func:`not_captured` marker, else None.

    None, an empty mapping or any other value is something that *was* captured
    (``code["git"] is None`` means "not in a git checkout").

    >>> not_captured_reason({"captured": False, "reason": "git executable not found"})
    'git executable not found'
    >>> not_captured_reason(None) is None
    True
    """
    if isinstance(value, dict) and value.get("captured") is False:
        reason = value.get("reason")
        return reason if isinstance(reason, str) and reason else "unknown reason"
    return None


def capture_timeout(value: str | float | None = None) -> float:
    """The capture bound in seconds: ``value``, else ``LINEAL_CAPTURE_TIMEOUT``, else
    ``capture_timeout`` in the config file (:mod:`lineal.config`), else 30.

    Raises :class:`lineal.InvalidArgument` when it is not a non-negative number.
    """
    if value is None:
        from ..config import load_config

        raw = os.environ.get(TIMEOUT_VARIABLE, "")
        configured = load_config().values.get("capture_timeout") if not raw.strip() else None
        if not raw.strip() and configured is None:
            return DEFAULT_TIMEOUT_S
        if configured is not None:
            value, source = configured, f"capture_timeout = {configured!r} in the config file"
        else:
            value, source = raw, f"{TIMEOUT_VARIABLE}={raw!r}"
    else:
        source = f"capture timeout {value!r}"
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        from ..errors import InvalidArgument

        raise InvalidArgument(f"{source} is not a number of seconds",
                              hint=f"set {TIMEOUT_VARIABLE} to e.g. 30, or unset it")
    return seconds


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
    timeout: float | None = None,
    include_packages: bool = True,
) -> CapturedEnvironment:
    """Capture the code and environment of the current process.

    ``cwd`` is the directory whose git checkout describes the code (default:
    the current directory). ``timeout`` is the overall deadline in seconds for
    all probes together (default: :func:`capture_timeout`, 30 unless
    ``LINEAL_CAPTURE_TIMEOUT`` says otherwise). ``include_packages=False`` skips
    the installed-package scan and leaves ``packages`` out of ``environment``
    (which changes its digest).

    Does not raise (but for a malformed ``LINEAL_CAPTURE_TIMEOUT``): a probe that
    failed or timed out is recorded as :func:`not_captured` with its reason, and
    listed in ``probe_errors``.
    """
    started = time.perf_counter()
    deadline = Deadline.after(capture_timeout(timeout))
    errors: dict[str, str] = {}

    probes: dict[str, Any] = {
        "entry_point": _entry_point.probe_entry_point,
        "python": partial(_once, "python", _system.probe_python),
        "os": partial(_once, "os", _system.probe_os),
        "host": _system.probe_host,
        "container": _container.probe_container,
        "conda": _container.probe_conda,
        "hardware": partial(_once, "hardware", _hardware.probe_hardware),
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
    environment = _assemble_environment(values, errors, include_packages)
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


def _once(name: str, probe: Callable[[], Any]) -> Any:
    return _process_facts[name].get(probe, probe)


class PendingCapture:
    """A :func:`capture` running in a background thread; :meth:`result` joins it.

    This is how a run captures without making its start wait: the probes run
    while the run does its work, and the run's record is completed with the
    result when it ends.
    """

    def __init__(self, timeout: float, kwargs: dict[str, Any]) -> None:
        self.timeout = timeout
        self._kwargs = {**kwargs, "timeout": timeout}
        self._started = time.monotonic()
        self._result: CapturedEnvironment | None = None
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, name="lineal-capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            # Looked up at call time, so that a wrapped capture (tests do this) is the one used.
            self._result = capture(**self._kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported as "not captured" by result()
            self._error = describe_exception(exc)

    def done(self) -> bool:
        """Whether the capture has finished (so :meth:`result` will not wait)."""
        return not self._thread.is_alive()

    def result(self, *, join: bool = True, unfinished: str | None = None) -> CapturedEnvironment:
        """The captured code and environment, waiting for them if need be (at most until the
        deadline, plus a few seconds). If even that passes, everything is recorded as not
        captured, with the reason: the record says what it does not know.

        ``join=False`` does not wait: an unfinished capture is reported as not captured with
        the reason ``unfinished`` (a killed run must end before its grace period does).
        """
        if join:
            remaining = self._started + self.timeout + _JOIN_GRACE_S - time.monotonic()
            self._thread.join(max(0.0, remaining))
        if self._result is not None:
            return self._result
        if not join and self._error is None and not self.done():
            return _nothing_captured(unfinished or "not finished",
                                     self._kwargs.get("include_packages", True))
        reason = self._error or f"timed out after {format_seconds(self.timeout)}"
        return _nothing_captured(reason, self._kwargs.get("include_packages", True))


def start_capture(
    *,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    include_packages: bool = True,
) -> PendingCapture:
    """Start :func:`capture` in the background and return at once.

    The working directory is taken now, not when the thread gets to it, so that a
    program that changes directory right after starting a run is still described
    by the checkout it started in. Raises InvalidArgument for a malformed timeout
    (before anything is started).

    >>> pending = start_capture()           # doctest: +SKIP
    >>> captured = pending.result()         # at run end  # doctest: +SKIP
    """
    bound = capture_timeout(timeout)
    if cwd is None:
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = None  # capture() records why there is no working directory
    return PendingCapture(bound, {"cwd": cwd, "include_packages": include_packages})


def _nothing_captured(reason: str, include_packages: bool) -> CapturedEnvironment:
    names = ["git", "entry_point", "python", "os", "host", "container", "conda", "hardware"]
    environment: dict[str, Any] = {
        name: not_captured(reason) for name in ("python", "os", "host", "container", "conda")
    }
    environment["hardware"] = {**not_captured(reason), "gpus": not_captured(reason)}
    if include_packages:
        names.append("packages")
        environment["packages"] = not_captured(reason)
        environment["editable_packages"] = not_captured(reason)
    return CapturedEnvironment(
        code={"git": not_captured(reason), "entry_point": not_captured(reason)},
        environment=environment,
        frameworks={},
        probe_errors=dict.fromkeys(sorted(names), reason),
        duration_s=0.0,
    )


def _value(values: dict[str, Any], errors: dict[str, str], name: str) -> Any:
    """The probe's value, or the marker saying why there is none."""
    if name in values:
        return values[name]
    return not_captured(errors.get(name, "not probed"))


def _working_directory(cwd: str | os.PathLike[str] | None, errors: dict[str, str]) -> str | None:
    try:
        return os.fspath(cwd) if cwd is not None else os.getcwd()
    except (OSError, TypeError) as exc:  # the process's directory was deleted, or a bad argument
        errors["git"] = f"no working directory: {describe_exception(exc)}"
        return None


def _assemble_code(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    git = _value(values, errors, "git")
    entry_point = _value(values, errors, "entry_point")
    if not_captured_reason(entry_point) is None and entry_point is not None:
        root = git["root"] if git and not_captured_reason(git) is None else None
        try:
            entry_point = _entry_point.relative_to_root(entry_point, root)
        except Exception as exc:  # noqa: BLE001 - keep the absolute path rather than nothing
            errors["entry_point"] = describe_exception(exc)
    return {"git": git, "entry_point": entry_point}


def _assemble_environment(
    values: dict[str, Any], errors: dict[str, str], include_packages: bool
) -> dict[str, Any]:
    environment: dict[str, Any] = {
        name: _value(values, errors, name)
        for name in ("python", "os", "host", "container", "conda")
    }
    # A failed hardware probe leaves its marker beside the GPUs, which are probed apart.
    environment["hardware"] = {**(_value(values, errors, "hardware") or {}),
                               "gpus": _value(values, errors, "gpus")}
    if include_packages:
        packages = _value(values, errors, "packages")
        if isinstance(packages, _packages.InstalledPackages):
            environment["packages"] = packages.versions
            environment["editable_packages"] = packages.editable
        else:
            environment["packages"] = environment["editable_packages"] = packages
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
