"""Importing an MLflow history into lineal (``lineal import mlflow``, :func:`import_mlflow`).

    summary = lineal.import_mlflow("sqlite:///mlflow.db")        # or "./mlruns", "http://host:5000"
    print(summary.imported["runs"], summary.not_imported)

The MLflow store is read with MLflow's own client (the ``interop`` extra), never by parsing its
files or tables; lineal is written only through its store contract, so what is imported is
ordinary lineal data and every question (``lineal lineage``, ``trained-on``, ``diff``...) works
on it. How MLflow's records become lineal's:

- an experiment becomes the ``experiment`` of its runs (its name, made a valid lineal name;
  the original is the tag ``lineal.mlflow.experiment``);
- a run becomes a run of the same name with its original start and end times, params (as the
  strings MLflow holds), tags (MLflow's own ``mlflow.*`` tags included, so ``mlflow.user``
  keeps who ran it) and every point of every metric with its step and time; a nested run's
  parent is the imported parent;
- each top-level entry of a run's artifacts becomes a version of the artifact of that name
  (kind ``model`` for an MLflow model folder, else ``file``), produced by the run. Bytes are
  stored content-addressed: what several runs logged identically is stored once, and one
  version of a name holds it;
- a dataset input (``mlflow.log_input``) becomes a ``dataset`` version recorded by reference
  (MLflow keeps no rows, so lineal cannot either), consumed by the run in the role of its
  context (``training``...), with MLflow's digest, source, schema and profile as metadata;
- a logged model (MLflow 3) becomes a ``model`` version produced by its source run; a run's
  model inputs become ``model`` input edges;
- a registered model, its versions (linked to the imported model versions), their stage and
  the model's aliases go to lineal's registry. MLflow keeps only each version's current stage,
  not its history, so that is what is imported.

The import is idempotent: each imported run carries the tag ``lineal.mlflow.run_id``, each
model version ``lineal.mlflow.version``, each logged model's version
``lineal.mlflow.model_id``, each registered model ``lineal.mlflow.registered_model``, and
everything found is left as it is, so a second import writes nothing. A run is created first
with the marker ``lineal.mlflow.import=incomplete`` and gets its final status together with
``complete`` in one transaction: an interrupted import is resumed (the metric points already
written are not written again), never mistaken for a finished one.

What cannot be imported is said, with why, in :attr:`ImportSummary.not_imported`: runs still
running or deleted in MLflow, logged models that are not ready, a registered model whose name
lineal already uses for another model, content MLflow could not hand over. Nothing is skipped
silently. Every change is recorded as :func:`lineal.identity.current_principal` (the OS account
running the import); MLflow's user stays a tag.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..canonical import canonical_json
from ..entities import (
    ArtifactVersion,
    EdgeDirection,
    MetricPoint,
    Run,
    RunStatus,
    Storage,
    us_to_datetime,
)
from ..errors import InvalidArgument, LinealError, NotFound, StoreError
from ..identity import current_principal
from ..store import Store, default_store
from ..store.base import ArtifactFilter, NewArtifactVersion, RunFilter

__all__ = ["ImportSummary", "NotImported", "import_into", "import_mlflow", "tracking_uri"]

#: The tags and metadata keys that map lineal's records back to MLflow's.
RUN_ID_TAG = "lineal.mlflow.run_id"
STATE_TAG = "lineal.mlflow.import"
MODEL_ID_TAG = "lineal.mlflow.model_id"
VERSION_TAG = "lineal.mlflow.version"
REGISTERED_TAG = "lineal.mlflow.registered_model"

Progress = Callable[[str, int, int], None]
"""Called with (what is being imported, items done, items in all)."""

_PAGE = 1000
_METRIC_CHUNK = 50_000
_MLFLOW_STATUS = {"FINISHED": RunStatus.FINISHED, "FAILED": RunStatus.FAILED,
                  "KILLED": RunStatus.KILLED}
_COUNTS = ("runs", "params", "tags", "metric_points", "artifacts",
           "artifacts_reused", "datasets", "logged_models", "edges", "registered_models",
           "model_versions", "aliases", "stages")


@dataclass(frozen=True, slots=True)
class NotImported:
    """One MLflow record that was not imported, and why."""

    kind: str
    """``experiment``, ``run``, ``artifact``, ``dataset``, ``logged_model``,
    ``registered_model``, ``model_version`` or ``alias``."""
    mlflow_id: str
    reason: str
    failed: bool = False
    """True when importing it was attempted and failed (an error); False when it was left out
    on purpose (deleted or still running in MLflow, not selected...)."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "mlflow_id": self.mlflow_id, "reason": self.reason,
                "failed": self.failed}


@dataclass
class ImportSummary:
    """What an MLflow import wrote (or, with ``dry_run``, would write), what it found already
    imported, and what it could not import."""

    source: str
    project: str
    dry_run: bool = False
    experiments: int = 0
    """Experiments read (MLflow experiments are not lineal records: each run keeps its own as
    ``Run.experiment``)."""
    imported: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTS, 0))
    """Counts of what was written: ``runs``, ``metric_points``, ``artifacts`` (new versions),
    ``artifacts_reused`` (content already stored under that name), ``datasets``,
    ``logged_models``, ``edges``, ``registered_models``, ``model_versions``, ``aliases``,
    ``stages``..."""
    already: dict[str, int] = field(default_factory=dict)
    """Counts of what an earlier import brought in, left unchanged."""
    not_imported: list[NotImported] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[NotImported]:
        """What could not be imported because of an error (a second import retries it)."""
        return [item for item in self.not_imported if item.failed]

    @property
    def nothing_new(self) -> bool:
        return not any(self.imported.values())

    def count(self, key: str, by: int = 1) -> None:
        self.imported[key] = self.imported.get(key, 0) + by

    def found(self, key: str) -> None:
        self.already[key] = self.already.get(key, 0) + 1

    def skip(self, kind: str, mlflow_id: str, reason: str, *, failed: bool = False) -> None:
        self.not_imported.append(NotImported(kind, mlflow_id, reason, failed))

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "project": self.project, "dry_run": self.dry_run,
                "experiments": self.experiments, "imported": dict(self.imported), "already": dict(self.already),
                "not_imported": [item.to_dict() for item in self.not_imported],
                "seconds": round(self.seconds, 3)}


# -- the source ----------------------------------------------------------------------------------
def tracking_uri(source: str | os.PathLike[str]) -> str:
    """The MLflow tracking URI ``source`` names: a URI as given (``sqlite:///...``,
    ``http://host:5000``, ``postgresql://...``), an MLflow SQLite file, or an ``mlruns``
    folder. InvalidArgument, before MLflow is even imported, for a path that is neither: MLflow
    would silently create an empty store there; StoreError for a tracking server that does not
    answer."""
    text = str(source).strip()
    hint = "give a tracking URI (sqlite:///mlflow.db, http://host:5000) or an mlruns folder"
    if not text:
        raise InvalidArgument("no MLflow source given", hint=hint)
    if "://" in text and not text.startswith("file:"):
        if text.startswith("sqlite:"):
            path = Path(text.split(":///", 1)[-1]) if ":///" in text else None
            if path is None or not path.is_file():
                raise InvalidArgument(f"no MLflow database at {text}", hint=hint)
        _check_reachable(text)
        return text
    path = Path(text.removeprefix("file://")).expanduser()
    if path.is_file():
        with path.open("rb") as stream:
            if stream.read(16) == b"SQLite format 3\x00":
                return f"sqlite:///{path.resolve()}"
        raise InvalidArgument(f"{path} is not an MLflow database (not SQLite)", hint=hint)
    if path.is_dir():
        if any(path.glob("*/meta.yaml")) or (path / "models").is_dir():
            return path.resolve().as_uri()
        if (path / "mlflow.db").is_file():
            return f"sqlite:///{(path / 'mlflow.db').resolve()}"
        raise InvalidArgument(f"{path} is not an mlruns folder (no experiment in it)", hint=hint)
    raise InvalidArgument(f"{text}: no such file or folder", hint=hint)


@contextlib.contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """MLflow 3 refuses to open an ``mlruns`` folder unless MLFLOW_ALLOW_FILE_STORE is set;
    reading an old history is exactly the case it allows, so it is set while importing."""
    if not uri.startswith("file:") or os.environ.get("MLFLOW_ALLOW_FILE_STORE"):
        yield
        return
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


def _check_reachable(uri: str, timeout: float = 10.0) -> None:
    """A tracking server that cannot be reached fails at once, in one line: MLflow's client
    would retry with backoff for minutes first. Any HTTP answer (even 401) means reachable."""
    import urllib.error
    import urllib.request

    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            return
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise StoreError(f"cannot reach the MLflow tracking server at {uri}: {reason}",
                         hint="check the URI and that the server is up") from None


def _client(uri: str) -> Any:
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise InvalidArgument("importing from MLflow needs the mlflow client",
                              hint="pip install 'lineal[interop]'") from None
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _reason(error: BaseException) -> str:
    """One line saying what went wrong (MLflow's messages run over many lines)."""
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    line = str(text).strip().splitlines()[0] if str(text).strip() else type(error).__name__
    return line if len(line) <= 300 else line[:299] + "…"


def _pages(call: Callable[..., Any], **query: Any) -> Iterator[Any]:
    """Every item of a paginated MLflow search."""
    token = None
    while True:
        page = call(**query, page_token=token)
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


def _all_pages(call: Callable[..., Any], **query: Any) -> list[Any]:
    """Every item of a paginated MLflow search, as a list."""
    return list(_pages(call, **query))


# -- names ---------------------------------------------------------------------------------------
def lineal_name(text: str, fallback: str) -> str:
    """``text`` as a valid lineal name (letters, digits, ``.``, ``_``, ``-``; 128 at most)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text or "").lstrip("._-")[:128].rstrip("-")
    return name or fallback


def _display_name(text: str | None, fallback: str) -> str:
    name = "".join(c if c.isprintable() else " " for c in (text or "")).strip()[:128].strip()
    return name or fallback


def _us(ms: int | None) -> int | None:
    return None if ms is None else int(ms) * 1000


# -- the import ----------------------------------------------------------------------------------
def import_mlflow(
    source: str | os.PathLike[str],
    *,
    experiments: Sequence[str] | None = None,
    project: str | None = None,
    dry_run: bool = False,
    store: Store | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import an MLflow history: experiments, runs, metric histories, artifacts, dataset inputs,
    logged models and the model registry, with the edges between them.

    ``source`` is a tracking URI (``sqlite:///mlflow.db``, ``http://host:5000``...), an MLflow
    SQLite file or an ``mlruns`` folder. ``experiments`` selects experiments by name or id
    (default: all); the registry then brings in only versions whose run or logged model is in
    them. ``project`` is the lineal project everything goes to (default ``LINEAL_PROJECT`` or
    ``default``). ``dry_run`` reads both sides and counts what would be written, writing
    nothing. Running it again imports nothing twice; see the module docstring for the mapping.

    >>> summary = lineal.import_mlflow("./mlruns")                 # doctest: +SKIP
    >>> summary.imported["runs"], [n.reason for n in summary.not_imported]  # doctest: +SKIP
    """
    tracking_uri(source)  # a bad source fails before any store is opened, let alone created
    if store is None:
        try:
            store = default_store(write=not dry_run)
        except NotFound:
            if not dry_run:
                raise
            store = None  # a dry run into a store not created yet: everything is new
    return import_into(store, source, experiments=experiments, project=project,
                       dry_run=dry_run, progress=progress)


def import_into(
    store: Store | None,
    source: str | os.PathLike[str],
    *,
    experiments: Sequence[str] | None = None,
    project: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportSummary:
    """:func:`import_mlflow` into ``store``; None only for a dry run against a store that does
    not exist yet (nothing is imported, so everything would be new)."""
    from ..config import default_project
    from ..refs import validate_name

    uri = tracking_uri(source)
    proj = validate_name(default_project(project), "project")
    if store is None and not dry_run:
        raise InvalidArgument("an import needs a store to write to")
    started = time.monotonic()
    summary = ImportSummary(source=uri, project=proj, dry_run=dry_run)
    with _file_store_allowed(uri):
        importer = _Importer(_client(uri), store, proj, summary, progress)
        importer.run(experiments)
    summary.seconds = time.monotonic() - started
    return summary


class _Importer:
    """One import: the MLflow client, the lineal store, and the maps from MLflow ids to what
    they became in lineal."""

    def __init__(self, client: Any, store: Store | None, project: str, summary: ImportSummary,
                 progress: Progress | None) -> None:
        self.client, self.store, self.project, self.summary = client, store, project, summary
        self.dry_run = summary.dry_run
        self.actor = current_principal()
        self.progress = progress
        self.done = 0
        self.total = 0
        self.runs: dict[str, str] = {}  # MLflow run id -> lineal run id
        self.run_artifacts: dict[tuple[str, str], str] = {}  # (run id, top path) -> version id
        self.models: dict[str, str] = {}  # MLflow model id -> lineal artifact version id
        self.model_inputs: list[tuple[str, str]] = []  # (MLflow run id, model id)
        self.selected = False  # experiments were chosen: the registry follows the choice

    # -- plumbing --------------------------------------------------------------------------------
    def _step(self, what: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(what, self.done, max(self.total, self.done))

    def _read(self, what: str, call: Callable[[], Any]) -> Any:
        """A read from MLflow whose failure stops the import (nothing can be done without it):
        one clear line instead of MLflow's traceback."""
        try:
            return call()
        except LinealError:
            raise
        except Exception as error:
            raise StoreError(f"cannot read {what} from MLflow at {self.summary.source}: "
                             f"{_reason(error)}") from error

    def run(self, selected: Sequence[str] | None) -> None:
        from mlflow.entities import ViewType

        experiments = self._read("the experiments", lambda: list(
            _pages(self.client.search_experiments, view_type=ViewType.ALL, max_results=_PAGE)))
        chosen = self._choose(experiments, selected)
        runs_by_exp = {}
        for exp in chosen:
            runs_by_exp[exp.experiment_id] = self._read(
                f"the runs of experiment {exp.name!r}", functools.partial(
                    _all_pages, self.client.search_runs, experiment_ids=[exp.experiment_id],
                    run_view_type=ViewType.ALL, max_results=_PAGE))
        models_by_exp = {}
        for exp in chosen:
            models_by_exp[exp.experiment_id] = self._read(
                f"the logged models of experiment {exp.name!r}", functools.partial(
                    _all_pages, self.client.search_logged_models,
                    experiment_ids=[exp.experiment_id], max_results=_PAGE))
        registered = self._read("the registered models", lambda: list(
            _pages(self.client.search_registered_models, max_results=_PAGE)))
        self.total = (sum(map(len, runs_by_exp.values())) + sum(map(len, models_by_exp.values()))
                      + len(registered))
        self.summary.experiments = len(chosen)
        by_id = {e.experiment_id: e for e in chosen}
        # All runs in one order, parents first: a nested run may sit in another experiment.
        for run in _parents_first(r for runs in runs_by_exp.values() for r in runs):
            exp = by_id[run.info.experiment_id]
            self._guard("run", run.info.run_id, functools.partial(self._run, run, exp))
            self._step("runs")
        for exp in chosen:
            # Oldest first (MLflow lists newest first), so version numbers follow history.
            for model in sorted(models_by_exp[exp.experiment_id],
                                key=lambda m: (m.creation_timestamp or 0, m.model_id)):
                self._guard("logged_model", model.model_id,
                            functools.partial(self._logged_model, model))
                self._step("logged models")
        self._model_inputs()
        for model in registered:
            self._guard("registered_model", model.name, functools.partial(self._registered, model))
            self._step("registered models")

    def _guard(self, kind: str, mlflow_id: str, call: Callable[[], None]) -> None:
        """Import one record; an error is noted against it and the import goes on."""
        try:
            call()
        except Exception as error:  # noqa: BLE001 - every failure is reported in the summary
            self.summary.skip(kind, mlflow_id, _reason(error), failed=True)

    def _choose(self, experiments: list[Any], selected: Sequence[str] | None) -> list[Any]:
        self.selected = bool(selected)
        if selected:
            wanted = {s.strip() for item in selected for s in str(item).split(",") if s.strip()}
            chosen = [e for e in experiments if e.experiment_id in wanted or e.name in wanted]
            known = {e.experiment_id for e in chosen} | {e.name for e in chosen}
            missing = sorted(wanted - known)
            if missing:
                raise InvalidArgument(
                    f"no MLflow experiment named or numbered {', '.join(map(repr, missing))}",
                    hint="experiments: " + ", ".join(sorted(e.name for e in experiments)))
        else:
            chosen = list(experiments)
        live = []
        for exp in sorted(chosen, key=lambda e: e.experiment_id):
            if exp.lifecycle_stage == "deleted":
                self.summary.skip("experiment", exp.experiment_id,
                                  f"experiment {exp.name!r} is deleted in MLflow")
                continue
            live.append(exp)
        return live

    # -- runs ------------------------------------------------------------------------------------
    def _find_run(self, mlflow_run_id: str) -> Run | None:
        if self.store is None:
            return None
        found = self.store.metadata.list_runs(RunFilter(
            project=self.project, tags={RUN_ID_TAG: mlflow_run_id}, limit=1))
        return found[0] if found else None

    def _run(self, run: Any, exp: Any) -> None:
        info = run.info
        if info.lifecycle_stage == "deleted":
            self.summary.skip("run", info.run_id, "deleted in MLflow")
            return
        status = _MLFLOW_STATUS.get(info.status)
        if status is None:
            self.summary.skip("run", info.run_id, f"still {info.status.lower()} in MLflow; "
                              "import again once it has ended")
            return
        existing = self._find_run(info.run_id)
        if existing is not None and existing.tags.get(STATE_TAG) == "complete":
            self.runs[info.run_id] = existing.id
            self._note_outputs(run)
            self.summary.found("runs")
            return
        history = self._metric_history(run)
        if self.dry_run:
            self._count_run(run, exp, history)
            return
        assert self.store is not None
        meta = self.store.metadata
        if existing is None:
            record = self._record(run, exp)
            meta.create_run(record, self.actor)
            run_id = record.id
            self.summary.count("runs")
            self.summary.count("params", len(record.params))
            self.summary.count("tags", len(record.tags))
        else:  # an import interrupted after the run was created: finish it
            run_id = existing.id
            history = self._missing_points(run_id, history)
        self.runs[info.run_id] = run_id
        # Long histories go in chunks; the last chunk is written with the final status.
        split = max(len(history) - _METRIC_CHUNK, 0)
        for start in range(0, split, _METRIC_CHUNK):
            chunk = history[start : min(start + _METRIC_CHUNK, split)]
            meta.log_batch(run_id, self.actor, metrics=chunk)
        last = history[split:]
        trouble = self._artifacts(run, run_id) + self._datasets(run, run_id)
        self._note_outputs(run)
        self.summary.count("metric_points", len(history))
        state = "complete" if not trouble else "partial"
        if existing is None or existing.status is RunStatus.RUNNING:
            ended = _us(info.end_time) or _us(info.start_time) or 0
            meta.finish_run(run_id, status, ended, None, self.actor, metrics=last,
                            tags={STATE_TAG: state})
        else:
            meta.log_batch(run_id, self.actor, metrics=last, tags={STATE_TAG: state})

    def _record(self, run: Any, exp: Any) -> Run:
        from ..entities import new_id
        from ..run_data import tag_value

        info = run.info
        tags = {key: tag_value(key, value) for key, value in run.data.tags.items()}
        tags.setdefault("mlflow.user", info.user_id or "")
        tags.update({RUN_ID_TAG: info.run_id, "lineal.mlflow.experiment_id": exp.experiment_id,
                     "lineal.mlflow.experiment": exp.name, STATE_TAG: "incomplete"})
        parent = self.runs.get(run.data.tags.get("mlflow.parentRunId", ""))
        return Run(
            id=new_id(), project=self.project,
            name=_display_name(info.run_name, info.run_id), kind="run",
            status=RunStatus.RUNNING,
            started_at=us_to_datetime(_us(info.start_time) or 0),  # type: ignore[arg-type]
            parent_id=parent,
            experiment=lineal_name(exp.name, f"mlflow-{exp.experiment_id}"),
            params=dict(run.data.params), tags=tags,
        )

    def _metric_history(self, run: Any) -> list[MetricPoint]:
        points = []
        for key in sorted(run.data.metrics):
            for m in self.client.get_metric_history(run.info.run_id, key):
                points.append(MetricPoint(key, float(m.value), int(m.step), int(m.timestamp) * 1000))
        return points

    def _missing_points(self, run_id: str, history: list[MetricPoint]) -> list[MetricPoint]:
        assert self.store is not None
        stored: set[tuple[Any, ...]] = set()
        for key in {p.key for p in history}:
            stored.update(tuple(p) for p in self.store.metadata.metric_history(run_id, key))
        return [p for p in history if tuple(p) not in stored]

    def _count_run(self, run: Any, exp: Any, history: list[MetricPoint]) -> None:
        record = self._record(run, exp)
        self.summary.count("runs")
        self.summary.count("params", len(record.params))
        self.summary.count("tags", len(record.tags))
        self.summary.count("metric_points", len(history))
        top = self._read(f"the artifacts of run {run.info.run_id}",
                         lambda: self.client.list_artifacts(run.info.run_id))
        self.summary.count("artifacts", len(top))
        self.summary.count("datasets", len(run.inputs.dataset_inputs if run.inputs else ()))

    def _note_outputs(self, run: Any) -> None:
        for item in getattr(run.inputs, "model_inputs", None) or ():
            self.model_inputs.append((run.info.run_id, item.model_id))

    def _artifacts(self, run: Any, run_id: str) -> int:
        """Each top-level entry of the run's artifacts as a version produced by the run; the
        number that could not be imported."""
        from ..artifacts import default_name, log_content

        assert self.store is not None
        mlflow_id = run.info.run_id
        try:
            top = self.client.list_artifacts(mlflow_id)
        except Exception as error:  # noqa: BLE001
            self.summary.skip("artifact", mlflow_id, f"cannot list the artifacts: "
                              f"{_reason(error)}", failed=True)
            return 1
        trouble = 0
        with tempfile.TemporaryDirectory(prefix="lineal-mlflow-") as tmp:
            for entry in top:
                where = f"{mlflow_id}/{entry.path}"
                try:
                    local = Path(self.client.download_artifacts(mlflow_id, entry.path, tmp))
                    kind = "model" if (local / "MLmodel").is_file() else "file"
                    version = log_content(
                        self.store, local, name=default_name(entry.path), project=self.project,
                        kind=kind, metadata={"mlflow": {"run_id": mlflow_id, "path": entry.path}},
                        tags=None, aliases=(), reference=False, producer_run_id=run_id,
                        actor=self.actor)
                except Exception as error:  # noqa: BLE001
                    self.summary.skip("artifact", where, _reason(error), failed=True)
                    trouble += 1
                    continue
                self.run_artifacts[(mlflow_id, entry.path)] = version.id
                self._count_version(version, run_id)
                self.summary.count("edges")  # the run's output edge, new or already there
        return trouble

    def _count_version(self, version: ArtifactVersion, run_id: str | None) -> None:
        new = run_id is not None and version.producer_run_id == run_id
        self.summary.count("artifacts" if new else "artifacts_reused")

    def _datasets(self, run: Any, run_id: str) -> int:
        assert self.store is not None
        trouble = 0
        for item in (run.inputs.dataset_inputs if run.inputs else ()):
            ds = item.dataset
            context = next((t.value for t in item.tags if t.key == "mlflow.data.context"), None)
            try:
                spec = _dataset_spec(ds, self.project, run.info.run_id)
                version, created = self.store.metadata.create_artifact_version(spec, self.actor)
                self.summary.count("datasets" if created else "artifacts_reused")
                self.store.metadata.add_edge(run_id, version.id, EdgeDirection.INPUT,
                                             lineal_name(context or "", "input"), self.actor)
                self.summary.count("edges")
            except Exception as error:  # noqa: BLE001
                self.summary.skip("dataset", f"{run.info.run_id}/{ds.name}", _reason(error),
                                  failed=True)
                trouble += 1
        return trouble

    # -- logged models ---------------------------------------------------------------------------
    def _find_model(self, model_id: str) -> ArtifactVersion | None:
        if self.store is None:
            return None
        found = self.store.metadata.list_artifact_versions(ArtifactFilter(
            project=self.project, tags={MODEL_ID_TAG: model_id}, limit=1))
        return found[0] if found else None

    def _logged_model(self, model: Any) -> None:
        status = str(getattr(model.status, "value", model.status))
        existing = self._find_model(model.model_id)
        if existing is not None:
            self.models[model.model_id] = existing.id
            self.summary.found("logged_models")
            return
        if status != "READY":
            self.summary.skip("logged_model", model.model_id,
                              f"logged model {model.name!r} is {status.lower()} in MLflow")
            return
        producer = self.runs.get(model.source_run_id or "")
        if self.dry_run:
            self.summary.count("logged_models")
            return
        from mlflow.artifacts import download_artifacts

        metadata = {"mlflow": {
            "model_id": model.model_id, "name": model.name, "source_run_id": model.source_run_id,
            "created_at_ms": model.creation_timestamp, "model_type": model.model_type,
            "params": dict(model.params or {}), "tags": dict(model.tags or {}),
        }}
        with tempfile.TemporaryDirectory(prefix="lineal-mlflow-") as tmp:
            local = download_artifacts(artifact_uri=model.artifact_location, dst_path=tmp,
                                       tracking_uri=self.summary.source)
            version = self._log_model_content(
                Path(local), lineal_name(model.name, "model"), metadata,
                {MODEL_ID_TAG: model.model_id}, producer)
        self.models[model.model_id] = version.id
        self.summary.count("logged_models")

    def _log_model_content(self, path: Path, name: str, metadata: Mapping[str, Any],
                           tags: Mapping[str, str], producer: str | None) -> ArtifactVersion:
        from ..artifacts import log_content

        assert self.store is not None
        version = log_content(self.store, path, name=name, project=self.project, kind="model",
                              metadata=metadata, tags=tags, aliases=(), reference=False,
                              producer_run_id=producer, actor=self.actor)
        if producer is not None:
            self.summary.count("edges")
        return version

    def _model_inputs(self) -> None:
        for mlflow_run, model_id in self.model_inputs:
            run_id, version_id = self.runs.get(mlflow_run), self.models.get(model_id)
            if run_id is None or version_id is None:
                if version_id is None:
                    self.summary.skip("logged_model", model_id, f"used by run {mlflow_run} but "
                                      "not imported (outside the selected experiments?)")
                continue
            if self.dry_run or self._has_edge(run_id, version_id):
                continue
            assert self.store is not None
            self.store.metadata.add_edge(run_id, version_id, EdgeDirection.INPUT, "model",
                                         self.actor)
            self.summary.count("edges")

    def _has_edge(self, run_id: str, version_id: str) -> bool:
        assert self.store is not None
        return any(e.artifact_id == version_id and e.direction is EdgeDirection.INPUT
                   for e in self.store.metadata.list_edges(run_id=run_id))

    # -- the registry ----------------------------------------------------------------------------
    def _registered(self, model: Any) -> None:
        from .mlflow_registry import import_registered_model

        import_registered_model(self, model)


def _dataset_spec(ds: Any, project: str, mlflow_run_id: str) -> NewArtifactVersion:
    """A dataset input as a version recorded by reference: MLflow holds its digest, source,
    schema and profile, not its rows. Its identity is MLflow's (name, digest, source), so the
    same dataset used by several runs is one version."""
    import json

    def parsed(text: str | None) -> Any:
        try:
            return json.loads(text) if text else None
        except ValueError:
            return text

    source, schema, profile = parsed(ds.source), parsed(ds.schema), parsed(ds.profile)
    identity = {"name": ds.name, "digest": ds.digest, "source_type": ds.source_type,
                "source": source}
    digest = "sha256:" + hashlib.sha256(canonical_json(identity).encode()).hexdigest()
    columns = schema.get("mlflow_colspec") if isinstance(schema, dict) else None
    metadata: dict[str, Any] = {
        "mlflow": {**identity, "schema": schema, "profile": profile, "first_run_id": mlflow_run_id},
    }
    if isinstance(columns, list):
        metadata["schema"] = [{"name": c.get("name"), "type": c.get("type")}
                              for c in columns if isinstance(c, dict)]
    if isinstance(profile, dict) and isinstance(profile.get("num_rows"), int):
        metadata["rows"] = profile["num_rows"]
    remote = source.get("uri") or source.get("url") if isinstance(source, dict) else None
    uri = remote if isinstance(remote, str) and "://" in remote and not remote.startswith(
        "file:") else f"mlflow-dataset:{ds.digest}"
    return NewArtifactVersion(
        project=project, name=lineal_name(ds.name, f"dataset-{ds.digest}"), kind="dataset",
        digest=digest, uri=uri, size=0, storage=Storage.REFERENCE,
        metadata=metadata, tags={"mlflow.dataset.digest": str(ds.digest)},
    )


def _parents_first(runs: Iterable[Any]) -> list[Any]:
    """Runs by start time, a parent always before its children (so the child can name it)."""
    ordered = sorted(runs, key=lambda r: (r.info.start_time or 0, r.info.run_id))
    by_id = {r.info.run_id: r for r in ordered}
    placed: set[str] = set()
    out: list[Any] = []

    def place(run: Any, seen: frozenset[str]) -> None:
        rid = run.info.run_id
        if rid in placed or rid in seen:
            return
        parent = by_id.get(run.data.tags.get("mlflow.parentRunId", ""))
        if parent is not None:
            place(parent, seen | {rid})
        placed.add(rid)
        out.append(run)

    for run in ordered:
        place(run, frozenset())
    return out
