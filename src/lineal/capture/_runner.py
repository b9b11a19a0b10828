"""Machinery shared by the probes: deadlines, concurrent execution, subprocesses.

Every probe is a zero-argument callable. :func:`run_probes` starts each one in
its own daemon thread and collects whatever has finished when the deadline
passes; a probe still running then is reported as timed out, with the bound, so
that the record can say "not captured (timed out after 30s)". Daemon threads
(rather than a ``ThreadPoolExecutor``) are deliberate: the executor joins its
workers at interpreter exit, so one hung probe (an NFS stat, an LDAP user
lookup) would hang the user's program on the way out.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# Long enough for any real reason, short enough that a log line stays readable.
_MAX_REASON_CHARS = 200


class ProbeError(Exception):
    """A probe could not produce its value; the message is the short reason recorded."""


def format_seconds(seconds: float) -> str:
    """``30s``, ``0.5s``: how a bound reads in a recorded reason."""
    return f"{seconds:g}s"


@dataclass(frozen=True)
class Deadline:
    """A point in ``time.monotonic()`` time after which results are no longer awaited."""

    at: float
    seconds: float = 0.0
    """The bound it was made from, for the reason recorded when it passes."""

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """Return the deadline ``seconds`` from now."""
        seconds = max(0.0, seconds)
        return cls(time.monotonic() + seconds, seconds)

    def timed_out(self, what: str = "") -> str:
        """The reason recorded for something still running when the deadline passed."""
        return f"{what} timed out after {format_seconds(self.seconds)}".strip()

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.at - time.monotonic())


def describe_exception(exc: BaseException) -> str:
    """Turn an exception into the short, single-line reason stored in ``probe_errors``."""
    if isinstance(exc, ProbeError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = " ".join(text.split())
    if len(text) > _MAX_REASON_CHARS:
        text = text[: _MAX_REASON_CHARS - 3] + "..."
    return text


class _Slot:
    """Where one probe thread leaves its result; read only after the thread has ended."""

    def __init__(self, probe: Callable[[], Any]) -> None:
        self.probe = probe
        self.value: Any = None
        self.error: str | None = None

    def run(self) -> None:
        try:
            self.value = self.probe()
        except BaseException as exc:  # noqa: BLE001 - a probe must never take capture down
            self.error = describe_exception(exc)


def run_probes(
    probes: Mapping[str, Callable[[], Any]], deadline: Deadline
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run ``probes`` concurrently; return ``(values, errors)`` keyed by probe name.

    A probe that raises is reported in ``errors`` with a short reason; one still
    running at the deadline is reported as timed out and left to finish on its
    own in the background (its late result is discarded).
    """
    started: list[tuple[str, threading.Thread, _Slot]] = []
    for name, probe in probes.items():
        slot = _Slot(probe)
        thread = threading.Thread(target=slot.run, name=f"lineal-capture-{name}", daemon=True)
        thread.start()
        started.append((name, thread, slot))

    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, thread, slot in started:
        thread.join(deadline.remaining())
        if thread.is_alive():
            errors[name] = deadline.timed_out()
        elif slot.error is not None:
            errors[name] = slot.error
        else:
            values[name] = slot.value
    return values, errors


class ProcessOnce(Generic[T]):
    """A value computed at most once per process per ``key``, for facts that cannot change.

    The lock is held while computing on purpose: a second capture that starts
    while a slow first computation is still running (say, after the first
    capture gave up on it) waits for that result instead of starting another.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: object = None
        self._value: T | None = None
        self._filled = False

    def get(self, key: object, compute: Callable[[], T]) -> T:
        """Return the cached value for ``key``, computing it first if needed."""
        with self._lock:
            if self._filled and self._key == key:
                return self._value  # type: ignore[return-value]
            value = compute()
            self._key, self._value, self._filled = key, value, True
            return value

    def clear(self) -> None:
        """Forget the cached value (tests use this to measure a cold scan)."""
        with self._lock:
            self._key, self._value, self._filled = None, None, False


@dataclass(frozen=True)
class CommandResult:
    """What a finished subprocess produced."""

    returncode: int
    stdout: bytes
    stderr: bytes

    def first_error_line(self) -> str:
        """The first non-empty stderr line, which for git and nvidia-smi is the useful one."""
        for line in self.stderr.decode("utf-8", "replace").splitlines():
            if line.strip():
                return line.strip()
        return f"exit status {self.returncode}"


def _command_environment(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    # A fixed locale keeps messages parseable; GIT_TERMINAL_PROMPT stops git from
    # ever waiting for a human (stdin is closed too, but git prompts on the tty).
    env.update({"LC_ALL": "C", "LANG": "C", "GIT_TERMINAL_PROMPT": "0"})
    env.update(extra)
    return env


def start_command(
    args: Sequence[str], *, cwd: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``args`` with stdin closed and output captured, without waiting for it."""
    try:
        return subprocess.Popen(
            list(args),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_command_environment(env or {}),
        )
    except OSError as exc:
        raise ProbeError(f"cannot run {args[0]}: {exc.strerror or exc}") from exc


def finish_command(
    proc: subprocess.Popen[bytes], timeout: float, *, bound: float | None = None
) -> CommandResult:
    """Wait up to ``timeout`` seconds for ``proc``; kill it and raise ProbeError if it overruns.

    ``bound`` is the overall limit the wait is part of (a capture's deadline), named in the
    reason instead of what happened to be left of it.
    """
    try:
        stdout, stderr = proc.communicate(timeout=max(timeout, 0.001))
    except subprocess.TimeoutExpired:
        kill_command(proc)
        limit = format_seconds(bound if bound is not None else timeout)
        raise ProbeError(f"{_command_name(proc)} timed out after {limit}") from None
    return CommandResult(proc.returncode, stdout, stderr)


def _command_name(proc: subprocess.Popen[bytes]) -> str:
    """``git status`` rather than the whole argument list, for error messages."""
    args = [str(arg) for arg in proc.args] if isinstance(proc.args, list) else [str(proc.args)]
    words = [os.path.basename(args[0])]
    words += [arg for arg in args[1:] if not arg.startswith("-")][:1]
    return " ".join(words)


def kill_command(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` if still running and reap it, so no zombie or orphan is left behind."""
    if proc.poll() is None:
        with contextlib.suppress(OSError):  # it may exit between poll() and kill()
            proc.kill()
    # communicate() both reaps the process and closes its pipes; skip it when a
    # previous communicate() already did both.
    pipes_open = any(pipe is not None and not pipe.closed for pipe in (proc.stdout, proc.stderr))
    if pipes_open or proc.returncode is None:
        with contextlib.suppress(subprocess.TimeoutExpired, OSError, ValueError):
            proc.communicate(timeout=1.0)


def run_command(
    args: Sequence[str],
    *,
    timeout: float,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
) -> CommandResult:
    """Run ``args`` to completion within ``timeout`` seconds (see :func:`finish_command`)."""
    return finish_command(start_command(args, cwd=cwd, env=env), timeout)
