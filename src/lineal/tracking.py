"""Recording runs: ``lineal.run(...)`` and the :class:`ActiveRun` handle.

    with lineal.run("train", kind="train", params={"lr": 0.1}) as run:
        run.log_metric("loss", 0.3)
        model = run.log_artifact("model.pkl", kind="model")

The active run is held in a ``ContextVar``, so it is per thread and per asyncio task; a run
started inside another becomes its child (a pipeline nests its steps). Params, metrics and tags
are buffered and written in batches: at run end, on ``run.flush()``, when the buffer grows past
``FLUSH_POINTS`` or ``FLUSH_SECONDS``, and at interpreter exit. A full batch is written by the
run's background writer (:mod:`lineal._writer`) while logging goes on; at most a few batches
wait for it, so a store that cannot keep up slows logging down rather than filling memory. A
failure of the writer is raised by the run's next call (log, ``flush()`` or the end). An
exception inside the block marks the run failed with its traceback and propagates; Ctrl-C marks
it killed.

Values are checked when logged (:mod:`lineal.run_data`), so a bad one fails on its own line and
never reaches the buffer; a batch the store refuses anyway is salvaged (what it accepts is
written) and the run ends failed, never finished with data missing. A daemon thread records the
run's heartbeat (:mod:`lineal.heartbeat`), so a run whose process was killed shows as stale.

Capture (code and environment, :mod:`lineal.capture`) starts in the background when the run
starts and is joined before the run's final status is written; it is recorded as the run's
``code`` and ``environment`` inputs at the first flush after it finished, or at the end.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import functools
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from . import run_data
from ._writer import BatchWriter
from .entities import (
    ArtifactVersion,
    EdgeDirection,
    MetricTuple,
    Run,
    RunError,
    RunStatus,
    default_actor,
    new_id,
    now_us,
    us_to_datetime,
)
from .errors import Conflict, InvalidArgument, LinealError, StoreError
from .heartbeat import Heartbeat
from .heartbeat import interval_s as heartbeat_interval_s
from .inputs import check_params
from .progress import Progress, ProgressOption
from .refs import validate_display_name, validate_name
from .store import Store, default_store

__all__ = ["ActiveRun", "RunContext", "active_run", "run"]

FLUSH_POINTS = 20_000
FLUSH_SECONDS = 2.0
F = TypeVar("F", bound=Callable[..., Any])
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
Batch = tuple[dict[str, Any], list[MetricTuple], dict[str, str]]
"""What a flush writes: params, metric points ``(key, value, step, ts)`` and tags."""

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
        self._metrics: list[MetricTuple] = []
        self._metric_keys: set[str] = set()  # keys already checked: not checked again
        self._params: dict[str, Any] = {}
        self._tags: dict[str, str] = {}
        self._steps: dict[str, int] = {}
        self._logged_params: dict[str, Any] = dict(record.params)  # buffered or written
        self._unstored: list[str] = []  # what the store refused: the run cannot end finished
        self._unstored_count = 0
        self._lost: list[tuple[int, str]] = []  # set aside by the writer, not yet reported
        self._trouble = False  # the writer failed or set values aside: the next call reports it
        self._handoff = threading.Lock()  # batches reach the writer in the order they were taken
        self._writer: BatchWriter[Batch] = BatchWriter(self._write_batch, f"lineal-writer-{self.id}")
        self._writer.on_failure = self._flag_trouble
        self._last_flush = time.monotonic()
        self._ended = False
        self._heartbeat: Heartbeat | None = None
        self._tag_keys: set[str] = set(record.tags)
        self._capture_lock = threading.RLock()
        self._pending_capture: Any = None
        """A :class:`lineal.capture.PendingCapture` until recorded, with the invocation facts."""
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
        """Record hyperparameters; a param cannot change once logged (Conflict). A key or value
        the store cannot hold is refused here (InvalidArgument), and none of ``params`` is
        taken."""
        if self._trouble:
            self._surface(automatic=True)
        for key, value in params.items():
            run_data.check_key(key, "param")
            run_data.param_value(key, value)
        with self._lock:
            for key, value in params.items():
                if key in self._logged_params and self._logged_params[key] != value:
                    raise Conflict(f"param {key!r} already logged as {self._logged_params[key]!r}, "
                                   f"not {value!r}",
                                   hint="params are immutable once logged; log a new run to change them")
            for key, value in params.items():
                self._params[key] = self._logged_params[key] = value
        self._maybe_flush()

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Append one point to the metric ``key``; ``step`` defaults to the next step of that key.
        NaN and infinities are kept; a key, value or step the store cannot hold is refused here
        (InvalidArgument) and nothing is buffered. A failure of the background writer since the
        last call is raised here (see :meth:`flush`).

        The hot path of a training loop: the usual key, value and step are checked by type
        before the full checks of :mod:`lineal.run_data`, and the point is buffered as a tuple.
        """
        if self._trouble:
            self._surface(automatic=True)
        if type(key) is not str or key not in self._metric_keys:
            run_data.check_key(key, "metric")
            if type(key) is str:
                self._metric_keys.add(key)
        number = value if type(value) is float else run_data.metric_value(key, value)
        if step is not None and not (type(step) is int and _INT64_MIN <= step <= _INT64_MAX):
            step = run_data.metric_step(key, step)
        ts = time.time_ns() // 1000
        with self._lock:
            if step is None:
                step = self._steps.get(key, -1) + 1
                if step > _INT64_MAX:
                    step = run_data.metric_step(key, step)
            self._steps[key] = step
            self._metrics.append((key, number, step, ts))
            due = len(self._metrics) >= FLUSH_POINTS
        if due or time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self._flush(automatic=True)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log several metrics at one step; if one is refused (InvalidArgument), none is logged."""
        for key, value in metrics.items():
            run_data.check_key(key, "metric")
            run_data.metric_value(key, value)
            if step is not None:
                run_data.metric_step(key, step)
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags (a later value replaces an earlier one); a key or value the store cannot
        hold is refused here (InvalidArgument), and none of ``tags`` is taken."""
        if self._trouble:
            self._surface(automatic=True)
        texts = {run_data.check_key(k, "tag"): run_data.tag_value(k, v) for k, v in tags.items()}
        with self._lock:
            self._tags.update(texts)
            self._tag_keys.update(texts)
        self._maybe_flush()

    def _set_default_tags(self, tags: Mapping[str, Any]) -> None:
        """Set the tags this run has not set itself: capture is recorded late (at the end of a
        short run), and must not overwrite a ``lineal.user`` the program chose."""
        with self._lock:
            fresh = {k: v for k, v in tags.items() if k not in self._tag_keys}
        self.set_tags(fresh)

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self._flush(automatic=True)

    def flush(self) -> None:
        """Write everything buffered so far; returns once it is durable (the background writer
        has written every batch handed to it).

        If the store refuses part of the buffer, the rest is still written, the refused part is
        set aside (never retried, so it cannot block later writes), the run will end ``failed``
        saying how many values were not stored, and this raises InvalidArgument (when the
        writer found it while logging went on, the next log call warns instead). If the store
        itself failed (StoreError), that error is raised and nothing is lost: the batches not
        written are kept, in order, and the next flush or the run's end writes them.
        """
        self._flush(automatic=False)

    def _flush(self, automatic: bool) -> None:
        """Hand the buffer to the writer; unless ``automatic``, wait until it is written."""
        if self._pending_capture is not None:
            self._record_capture(wait=False)
        with self._handoff:
            with self._lock:
                batch = self._metrics, self._params, self._tags
                self._metrics, self._params, self._tags = [], {}, {}
                self._last_flush = time.monotonic()
            if batch[0] or batch[1] or batch[2]:
                # Blocks while the writer is QUEUE_DEPTH batches behind: back-pressure.
                self._writer.put((batch[1], batch[0], batch[2]))
        if not automatic:
            self._surface(automatic=False)

    def _write_batch(self, batch: Batch) -> None:
        """Write one batch (in the writer's thread). A batch the store refuses is salvaged and
        what was set aside is reported by the run's next call; a StoreError propagates, to the
        writer, which keeps the batch."""
        params, metrics, tags = batch
        try:
            # MetricTuples, which every store takes (see MetricPoint); the contract's hint stays
            # MetricPoint because the HTTP layer decodes arguments and builds its schema from it.
            self.store.metadata.log_batch(
                self.id, self.actor, params, metrics, tags)  # type: ignore[arg-type]
        except StoreError:
            raise  # the backend failed, not the data: keep the batch for a retry
        except LinealError:
            lost = self._salvage(params, metrics, tags)
            if lost:
                with self._lock:
                    self._lost += lost
                self._flag_trouble()

    def _flag_trouble(self) -> None:
        self._trouble = True

    def _surface(self, automatic: bool) -> None:
        """Wait for the writer; raise its failure (the batches it did not write go back to
        the front of the buffer, for the next flush), or report what it set aside."""
        with self._handoff:  # nothing handed off while the held batches are put back
            self._trouble = False
            self._writer.drain()
            failure = self._writer.take_failure()
            if failure is not None:
                self._restore(failure[1])
        if failure is not None:
            self._trouble = bool(self._lost)
            raise failure[0]
        with self._lock:
            lost, self._lost = self._lost, []
        self._report_unstored(lost, automatic)

    def _restore(self, batches: list[Batch]) -> None:
        """Put batches not written (oldest first) back before what was logged since."""
        with self._lock:
            metrics = [point for batch in batches for point in batch[1]]
            params = {k: v for batch in batches for k, v in batch[0].items()}
            tags = {k: v for batch in batches for k, v in batch[2].items()}
            self._metrics[:0] = metrics
            self._params = {**params, **self._params}
            self._tags = {**tags, **self._tags}

    def _salvage(
        self, params: dict[str, Any], metrics: list[MetricTuple], tags: dict[str, str]
    ) -> list[tuple[int, str]]:
        """Write what the store accepts of a refused batch, halving it until each refused part
        is one value; returns ``(count, reason)`` of what was set aside."""
        items: list[tuple[str, Any, Any]] = [
            *[("param", k, v) for k, v in params.items()],
            *[("tag", k, v) for k, v in tags.items()],
            *[("metric", tuple(p)[0], p) for p in metrics],  # tuples, or MetricPoints
        ]
        lost: list[tuple[int, str]] = []
        pending = [items]
        while pending:
            part = pending.pop()
            try:
                self.store.metadata.log_batch(
                    self.id, self.actor,
                    {k: v for kind, k, v in part if kind == "param"},
                    [v for kind, _, v in part if kind == "metric"],
                    {k: v for kind, k, v in part if kind == "tag"},
                )
            except StoreError:
                # The backend itself failed while salvaging: count the rest as not stored
                # rather than loop; the run will say so.
                lost.append((len(part), "the store failed while writing them"))
            except LinealError as error:
                if len(part) == 1:
                    kind, key, _ = part[0]
                    lost.append((1, f"{kind} {key!r}: {error}"))
                else:
                    half = len(part) // 2
                    pending += [part[half:], part[:half]]
        with self._lock:
            for count, reason in lost:
                self._unstored_count += count
                if len(self._unstored) < 5:
                    self._unstored.append(reason)
        return lost

    def _report_unstored(self, lost: list[tuple[int, str]], automatic: bool) -> None:
        if not lost:
            return
        count = sum(n for n, _ in lost)
        message = (f"run {self.id}: {count} logged value(s) could not be stored and were set "
                   f"aside ({lost[0][1]}); the run will end failed")
        if automatic:
            import warnings

            warnings.warn(message, RuntimeWarning, stacklevel=4)
        else:
            raise InvalidArgument(message)

    @contextlib.contextmanager
    def _written(
        self,
    ) -> Iterator[tuple[dict[str, Any], list[MetricTuple], dict[str, str]]]:
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
        progress: ProgressOption = True,
    ) -> ArtifactVersion:
        """Store a file or directory (or, with ``reference=True``, record a path or URL without
        copying it) as a new version of ``name``, produced by this run.

        Logging content identical to an existing version of ``name`` returns that version and
        stores no new bytes. ``role`` names the run's one output edge to the version (the
        default is ``output``). ``progress``: a bar for large content in a terminal or notebook
        (``True``), none (``False``), or a callback given the bytes stored as they are; see
        :mod:`lineal.progress`.
        """
        from .content import content_size
        from .progress import transfer

        text = str(path)
        total = 0 if reference or ("://" in text and not text.startswith("file://")) \
            else content_size(Path(text.removeprefix("file://")))
        with transfer(total, f"storing {name or Path(text).name}", progress) as advance:
            version = self._log_content(path, name, kind, metadata, tags, aliases, reference,
                                        role, advance)
        self.outputs.append(version)
        return version

    def _log_content(self, path: str | Path, name: str | None, kind: str,
                     metadata: Mapping[str, Any] | None, tags: Mapping[str, str] | None,
                     aliases: Iterable[str], reference: bool, role: str,
                     progress: Progress) -> ArtifactVersion:
        from . import artifacts

        return artifacts.log_content(
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
            progress=progress,
        )

    def use_artifact(self, ref: str | ArtifactVersion, *, role: str = "input") -> Path:
        """Record that this run consumes ``ref`` and return a local path to its content."""
        from . import artifacts

        version = ref if isinstance(ref, ArtifactVersion) else self._resolve(ref)
        # The content first: a version whose bytes cannot be had is not recorded as used.
        path = artifacts.local_path(self.store, version)
        self.use_version(version, role=role)
        return path

    def _resolve(self, ref: str) -> ArtifactVersion:
        from .resolve import resolve_artifact

        return resolve_artifact(ref, self.store, project=self.project)

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

    # -- capture ---------------------------------------------------------------------------------
    def _start_capture(self, timeout: float) -> None:
        from .artifacts import invocation_facts
        from .capture import start_capture

        # How the process was started is read now: the program may chdir or change its
        # environment variables before the capture is recorded.
        self._pending_capture = (start_capture(timeout=timeout), invocation_facts())

    def _record_capture(self, *, wait: bool, join: bool = True) -> None:
        """Record the background capture as the run's code and environment inputs: now if it has
        finished, or (``wait``) after joining it, or (``wait`` without ``join``) at once: a capture
        still running is then recorded as not captured, all of it. A failure other than the store's is recorded as
        the tag ``lineal.capture_error`` and does not fail the run."""
        # Held while recording, so that end() never writes the final status while another
        # thread's flush is still recording the capture; a flush does not wait for it.
        if not self._capture_lock.acquire(blocking=wait):
            return
        try:
            pending = self._pending_capture
            if pending is None or (not wait and not pending[0].done()):
                return
            self._pending_capture = None  # taken: recorded once (set_tags below may flush)
            try:
                from . import artifacts

                captured = pending[0].result(
                    join=join, unfinished="the run was killed before capture finished")
                artifacts.record_capture(self, captured, pending[1])
            except LinealError:
                self._pending_capture = pending  # the store failed: a later attempt retries
                raise
            except Exception as exc:  # recording capture is best effort by contract
                self.set_tags({"lineal.capture_error": f"{type(exc).__name__}: {exc}"})
        finally:
            self._capture_lock.release()

    # -- lifecycle -------------------------------------------------------------------------------
    def end(self, status: RunStatus | str = RunStatus.FINISHED, error: RunError | None = None) -> None:
        """Record the capture (joining it), flush and set the final status (idempotent).

        A run some of whose logged values could not be stored does not end ``finished``: it
        ends ``failed`` with a ``lineal.DataNotStored`` error saying how many (a run that failed
        or was killed keeps its status, and the count is added to its error message).

        The background writer is drained first; batches it could not write (the store failed)
        are written again here with the final status, and if the store fails again the error
        propagates after the run was marked as ending with data not stored.
        """
        if self._ended:
            return
        self._ended = True
        ended = now_us()
        capture_failure: BaseException | None = None
        try:
            # A killed run (Ctrl-C, SIGTERM) ends now: a pod's grace period is no time to wait
            # for a hung probe. Otherwise the capture is joined, within its bound.
            self._record_capture(wait=True, join=RunStatus(status) is not RunStatus.KILLED)
        except BaseException as exc:  # the store failed, or Ctrl-C while waiting: end anyway
            capture_failure = exc
        status = RunStatus(status)
        finished = False
        try:
            self._settle_writer()
            # The last batch and the final status in one transaction, when nothing was lost.
            with self._written() as (params, metrics, tags):
                if not self._unstored_count:
                    try:
                        self.store.metadata.finish_run(
                            self.id, status, ended, error, self.actor,
                            params=params, metrics=metrics,  # type: ignore[arg-type] # as above
                            tags=tags,
                        )
                        finished = True
                    except StoreError:
                        raise
                    except LinealError:
                        pass  # refused: write what can be written, then end below
                if not finished:
                    self._salvage(params, metrics, tags)
            if not finished:
                status, error = self._final_status(status, error)
                self.store.metadata.finish_run(self.id, status, ended, error, self.actor)
        except BaseException:
            # The store failed: still try to record how the run ended, so it is not left
            # 'running'; the failure propagates.
            status, error = self._final_status(status, error, extra="the last batch")
            self.store.metadata.finish_run(self.id, status, ended, error, self.actor)
            raise
        finally:
            self._stop_heartbeat()
            self.record = _replace(self.record, status=status, ended_at=us_to_datetime(ended), error=error)
            _open_runs.discard(self)
        if capture_failure is not None:
            raise capture_failure

    def _settle_writer(self) -> None:
        """Wait for the writer and stop it; what it could not write goes back to the buffer
        (the end writes it) and what it set aside is counted already."""
        with self._handoff:
            try:
                self._writer.drain()
            finally:
                failure = self._writer.take_failure()
                if failure is not None:
                    self._restore(failure[1])
                self._writer.close()
        with self._lock:
            self._lost = []
        self._trouble = False

    def _final_status(
        self, status: RunStatus, error: RunError | None, extra: str | None = None
    ) -> tuple[RunStatus, RunError | None]:
        """The status and error a run ends with, given what could not be stored."""
        if not self._unstored_count and extra is None:
            return status, error
        what = f"{self._unstored_count} logged value(s)" if self._unstored_count else ""
        if extra:
            what = f"{what} and {extra}" if what else extra
        text = f"{what} could not be stored: " + "; ".join(self._unstored or ["the store failed"])
        if status is RunStatus.FINISHED:
            return RunStatus.FAILED, RunError("lineal.DataNotStored", text, "")
        if error is None:
            return status, RunError("lineal.DataNotStored", text, "")
        return status, RunError(error.type, f"{error.message} (also: {text})", error.traceback)

    def _start_heartbeat(self, interval: float) -> None:
        if interval > 0:
            self._heartbeat = Heartbeat(self.store.metadata, self.id, interval).start()

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()

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
    (packages, Python, OS, container, hardware) as artifacts the run consumes. It runs in the
    background from the start of the run and is joined when the run ends, within
    ``LINEAL_CAPTURE_TIMEOUT`` seconds of its start (default 30); what could not be captured in
    time is recorded as not captured, with the reason.
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
    from .config import capture_enabled, default_project

    parent_handle = parent if isinstance(parent, ActiveRun) else _current.get() if parent is None else None
    parent_id = parent if isinstance(parent, str) else parent_handle.id if parent_handle else None
    store = store or (parent_handle.store if parent_handle else default_store(write=True))
    project = project or (parent_handle.project if parent_handle else None)
    project = validate_name(default_project(project), "project")
    validate_display_name(name, "run name")
    validate_name(kind, "run kind")
    if experiment is not None:
        validate_name(experiment, "experiment")
    capture_bound = _capture_bound() if capture and capture_enabled() else None
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
        tags={run_data.check_key(k, "tag"): run_data.tag_value(k, v) for k, v in (tags or {}).items()},
        cache_key=cache_key,
    )
    actor = default_actor()
    for key, value in record.params.items():
        run_data.check_key(key, "param")
        run_data.param_value(key, value)
    beat_every = heartbeat_interval_s()  # a bad setting fails before anything is written
    store.metadata.create_run(record, actor)
    _install_sigterm_handler()
    handle = ActiveRun(store, record, actor)
    handle._start_heartbeat(beat_every)
    _open_runs.add(handle)
    if capture_bound is not None:
        try:
            handle._start_capture(capture_bound)
        except Exception as exc:  # capture is best effort by contract
            handle.set_tags({"lineal.capture_error": f"{type(exc).__name__}: {exc}"})
    return handle


def _capture_bound() -> float:
    """``LINEAL_CAPTURE_TIMEOUT``, checked before the run is created: a malformed value is an
    error the user sees at once, not a run recorded without its code."""
    from .capture import capture_timeout

    return capture_timeout()


@atexit.register
def _flush_open_runs() -> None:
    """At interpreter exit, write what is buffered and end runs nobody ended."""
    for handle in list(_open_runs):
        with contextlib.suppress(Exception):
            handle.end(RunStatus.FINISHED)

