"""Recording runs: ``lineal.run(...)`` and the :class:`ActiveRun` handle.

    with lineal.run("train", kind="train", params={"lr": 0.1}) as run:
        run.log_metric("loss", 0.3)
        model = run.log_artifact("model.pkl", kind="model")

The active run is held in a ``ContextVar``, so it is per thread and per asyncio task; a run
started inside another becomes its child (a pipeline nests its steps). Params, metrics and tags
are buffered and written in batches: at run end, on ``run.flush()``, when the buffer grows past
``FLUSH_POINTS`` or ``FLUSH_SECONDS``, and at interpreter exit. An exception inside the block
marks the run failed with its traceback and propagates; Ctrl-C marks it killed.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import functools
import math
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from .entities import (
    ArtifactVersion,
    EdgeDirection,
    MetricPoint,
    Run,
    RunError,
    RunStatus,
    default_actor,
    new_id,
    now_us,
    us_to_datetime,
)
from .errors import InvalidArgument, LinealError
from .inputs import check_params
from .refs import parse_ref, validate_display_name, validate_name
from .store import Store, default_store

__all__ = ["ActiveRun", "RunContext", "active_run", "run"]

FLUSH_POINTS = 20_000
FLUSH_SECONDS = 2.0
F = TypeVar("F", bound=Callable[..., Any])

_current: contextvars.ContextVar[ActiveRun | None] = contextvars.ContextVar(
    "lineal_active_run", default=None
)
_open_runs: weakref.WeakSet[ActiveRun] = weakref.WeakSet()


def active_run() -> ActiveRun | None:
    """The run active in this thread or task, if any."""
    return _current.get()


class ActiveRun:
    """A run being recorded. Obtain one from :func:`run`; do not construct it directly."""

    def __init__(self, store: Store, record: Run, actor: str) -> None:
        self.store = store
        self.record = record
        self.actor = actor
        self._lock = threading.Lock()
        self._metrics: list[MetricPoint] = []
        self._params: dict[str, Any] = {}
        self._tags: dict[str, str] = {}
        self._steps: dict[str, int] = {}
        self._last_flush = time.monotonic()
        self._ended = False
        self.inputs: list[ArtifactVersion] = []
        self.outputs: list[ArtifactVersion] = []

    # -- identity --------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def project(self) -> str:
        return self.record.project

    def __repr__(self) -> str:
        return f"<ActiveRun {self.record.name} {self.id} {self.record.kind}>"

    # -- params, metrics, tags -------------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record hyperparameters; a param cannot change once logged (Conflict)."""
        with self._lock:
            for key, value in params.items():
                if key in self._params and self._params[key] != value:
                    raise InvalidArgument(f"param {key!r} already logged as {self._params[key]!r}")
                self._params[key] = value
        self._maybe_flush()

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Append one point to the metric ``key``; ``step`` defaults to the next step of that key."""
        if not isinstance(key, str) or not key:
            raise InvalidArgument(f"metric key must be a non-empty string, got {key!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidArgument(f"metric {key!r} value {value!r} is not a number") from None
        ts = time.time_ns() // 1000
        with self._lock:
            if step is None:
                step = self._steps.get(key, -1) + 1
            self._steps[key] = step
            self._metrics.append(MetricPoint(key, number, step, ts))
            due = len(self._metrics) >= FLUSH_POINTS
        if due or time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        with self._lock:
            self._tags.update({k: str(v) for k, v in tags.items()})
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write everything buffered so far; returns once it is durable."""
        with self._written() as (params, metrics, tags):
            if metrics or params or tags:
                self.store.metadata.log_batch(self.id, self.actor, params, metrics, tags)

    @contextlib.contextmanager
    def _written(
        self,
    ) -> Iterator[tuple[dict[str, Any], list[MetricPoint], dict[str, str]]]:
        """Take the buffered params, metrics and tags for writing; if the write fails, put back
        what was not written, so that a retry writes it."""
        with self._lock:
            metrics, self._metrics = self._metrics, []
            params, self._params = self._params, {}
            tags, self._tags = self._tags, {}
            self._last_flush = time.monotonic()
        try:
            yield params, metrics, tags
        except BaseException:
            with self._lock:
                self._metrics[:0] = metrics
                self._params = {**params, **self._params}
                self._tags = {**tags, **self._tags}
            raise

    # -- artifacts -------------------------------------------------------------------------------
    def log_artifact(
        self,
        path: str | Path,
        name: str | None = None,
        *,
        kind: str = "file",
        metadata: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        aliases: Iterable[str] = (),
        reference: bool = False,
        role: str = "output",
    ) -> ArtifactVersion:
        """Store a file or directory (or, with ``reference=True``, record a path or URL without
        copying it) as a new version of ``name``, produced by this run.

        Logging content identical to an existing version of ``name`` returns that version and
        stores no new bytes. ``role`` names the run's one output edge to the version (the
        default is ``output``).
        """
        from . import artifacts

        version = artifacts.log_content(
            self.store,
            path,
            name=name,
            project=self.project,
            kind=kind,
            metadata=metadata,
            tags=tags,
            aliases=aliases,
            reference=reference,
            producer_run_id=self.id,
            actor=self.actor,
            role=role,
        )
        self.outputs.append(version)
        return version

    def use_artifact(self, ref: str | ArtifactVersion, *, role: str = "input") -> Path:
        """Record that this run consumes ``ref`` and return a local path to its content."""
        from . import artifacts

        version = ref if isinstance(ref, ArtifactVersion) else self._resolve(ref)
        # The content first: a version whose bytes cannot be had is not recorded as used.
        path = artifacts.local_path(self.store, version)
        self.use_version(version, role=role)
        return path

    def _resolve(self, ref: str) -> ArtifactVersion:
        return self.store.metadata.resolve(parse_ref(ref, self.project))

    def use_version(self, ref: str | ArtifactVersion, *, role: str = "input") -> ArtifactVersion:
        """Record the input edge and return the version, without fetching its bytes."""
        version = ref if isinstance(ref, ArtifactVersion) else self._resolve(ref)
        self.store.metadata.add_edge(self.id, version.id, EdgeDirection.INPUT, role, self.actor)
        self.inputs.append(version)
        return version

    def log_dataset(self, data: Any, name: str, **kwargs: Any) -> ArtifactVersion:
        """Record a dataset version this run produced; see :func:`lineal.datasets.log_dataset`."""
        from .datasets.tracking import log_dataset

        return log_dataset(self, data, name=name, **kwargs)

    def use_dataset(self, data: Any, name: str | None = None, **kwargs: Any) -> ArtifactVersion:
        """Record a dataset version this run consumed (a reference, or data to fingerprint)."""
        from .datasets.tracking import use_dataset

        return use_dataset(self, data, name=name, **kwargs)

    def log_model(self, model: Any, name: str, **kwargs: Any) -> ArtifactVersion:
        """Serialise a model in its framework's format and log it; see :mod:`lineal.models`."""
        from .models.tracking import log_model

        return log_model(self, model, name=name, **kwargs)

    # -- lifecycle -------------------------------------------------------------------------------
    def end(self, status: RunStatus | str = RunStatus.FINISHED, error: RunError | None = None) -> None:
        """Flush and set the final status (idempotent)."""
        if self._ended:
            return
        self._ended = True
        ended = now_us()
        try:
            # The last batch and the final status in one transaction.
            with self._written() as (params, metrics, tags):
                self.store.metadata.finish_run(
                    self.id, RunStatus(status), ended, error, self.actor,
                    params=params, metrics=metrics, tags=tags,
                )
        except BaseException:
            # The batch could not be written (a bad param, say): still record how the run
            # ended, so it is not left 'running'; the failure propagates.
            self.store.metadata.finish_run(self.id, RunStatus(status), ended, error, self.actor)
            raise
        finally:
            self.record = _replace(self.record, status=RunStatus(status), ended_at=us_to_datetime(ended), error=error)
            _open_runs.discard(self)

    def refresh(self) -> Run:
        """The run as stored now."""
        self.flush()
        return self.store.metadata.get_run(self.id)


def _replace(run: Run, **changes: Any) -> Run:
    from dataclasses import replace

    return replace(run, **changes)


class RunContext:
    """What :func:`run` returns: a context manager, and a decorator that records each call."""

    def __init__(self, name: str, **options: Any) -> None:
        self.name = validate_display_name(name, "run name")
        self.options = options
        self._tokens: list[tuple[ActiveRun, contextvars.Token[ActiveRun | None]]] = []

    def __enter__(self) -> ActiveRun:
        handle = start_run(self.name, **self.options)
        self._tokens.append((handle, _current.set(handle)))
        return handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        handle, token = self._tokens.pop()
        _current.reset(token)
        if exc is None or (isinstance(exc, SystemExit) and not exc.code):
            handle.end(RunStatus.FINISHED)
        elif isinstance(exc, KeyboardInterrupt):
            handle.end(RunStatus.KILLED, RunError("KeyboardInterrupt", "interrupted", ""))
        elif isinstance(exc, Terminated):
            handle.end(RunStatus.KILLED, RunError("SIGTERM", "terminated by a signal", ""))
        else:
            handle.end(RunStatus.FAILED, error_of(exc, tb))

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with RunContext(self.name, **self.options):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM (when the program set no handler of its own), so
    runs unwind, flush and are marked killed instead of being left 'running'."""


def _install_sigterm_handler() -> None:
    import signal

    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # the program handles SIGTERM itself: leave it alone

        def _on_sigterm(signum: int, frame: Any) -> None:
            raise Terminated(128 + signum)

        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):  # no signals here (some embedded runtimes)
        pass


def error_of(exc: BaseException, tb: TracebackType | None) -> RunError:
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return RunError(f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins."),
                    str(exc), text)


def run(
    name: str,
    *,
    kind: str = "run",
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    project: str | None = None,
    experiment: str | None = None,
    parent: ActiveRun | str | None = None,
    capture: bool = True,
    store: Store | None = None,
) -> RunContext:
    """Record a run: ``with lineal.run("train", kind="train") as run: ...`` or ``@lineal.run("train")``.

    ``name`` is a display name: any printable text up to 128 characters ("baseline lr=0.1").
    ``params`` is a mapping of names to JSON values, nested at most 64 levels deep.
    ``project`` defaults to the parent's project, else ``LINEAL_PROJECT``, else ``default``.
    ``capture`` records the code (git commit, dirty diff, entry point) and the environment
    (packages, Python, OS, container, hardware) as artifacts the run consumes.
    """
    return RunContext(
        name,
        kind=kind,
        params=params,
        tags=tags,
        project=project,
        experiment=experiment,
        parent=parent,
        capture=capture,
        store=store,
    )


def start_run(
    name: str,
    *,
    kind: str = "run",
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    project: str | None = None,
    experiment: str | None = None,
    parent: ActiveRun | str | None = None,
    capture: bool = True,
    store: Store | None = None,
    cache_key: str | None = None,
) -> ActiveRun:
    """Start a run without a ``with`` block; call ``run.end()`` when done (or it is ended at
    interpreter exit)."""
    import os

    parent_handle = parent if isinstance(parent, ActiveRun) else _current.get() if parent is None else None
    parent_id = parent if isinstance(parent, str) else parent_handle.id if parent_handle else None
    store = store or (parent_handle.store if parent_handle else default_store())
    project = project or (parent_handle.project if parent_handle else None)
    project = validate_name(project or os.environ.get("LINEAL_PROJECT") or "default", "project")
    validate_display_name(name, "run name")
    validate_name(kind, "run kind")
    if experiment is not None:
        validate_name(experiment, "experiment")
    record = Run(
        id=new_id(),
        project=project,
        name=name,
        kind=kind,
        status=RunStatus.RUNNING,
        started_at=us_to_datetime(now_us()),  # type: ignore[arg-type]
        parent_id=parent_id,
        experiment=experiment or (parent_handle.record.experiment if parent_handle else None),
        params=check_params(params),
        tags={k: str(v) for k, v in (tags or {}).items()},
        cache_key=cache_key,
    )
    actor = default_actor()
    for key, value in record.params.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidArgument(f"param {key!r} is {value}; params must be finite")
    store.metadata.create_run(record, actor)
    _install_sigterm_handler()
    handle = ActiveRun(store, record, actor)
    _open_runs.add(handle)
    if capture:
        _capture_into(handle)
    return handle


def _capture_into(handle: ActiveRun) -> None:
    """Record code and environment as inputs; never fails the run."""
    try:
        from . import artifacts
        from .capture import capture

        captured = capture()
        artifacts.record_capture(handle, captured)
    except LinealError:
        raise
    except Exception as exc:  # capture is best effort by contract
        handle.set_tags({"lineal.capture_error": f"{type(exc).__name__}: {exc}"})


@atexit.register
def _flush_open_runs() -> None:
    """At interpreter exit, write what is buffered and end runs nobody ended."""
    for handle in list(_open_runs):
        with contextlib.suppress(Exception):
            handle.end(RunStatus.FINISHED)

