"""Runs, params, tags and metric series in the SQL store."""

from __future__ import annotations

import functools
import json
import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...canonical import canonical_json
from ...entities import (
    MetricPoint,
    MetricTuple,
    Run,
    RunError,
    RunStatus,
    datetime_to_us,
    us_to_datetime,
)
from ...errors import Conflict, InvalidArgument, NotFound
from ...heartbeat import stopped_reason
from ...inputs import check_param_value
from ..base import RunFilter
from . import tables as t
from .database import (
    Database,
    Prepared,
    WriteTx,
    decode_float,
    encode_float,
    ledgered_columns,
    metric_digest,
    storable_float,
)
from .prepared import run_on_driver

_VALUE = operator.itemgetter(4)

# Statements of the run write path, prepared once (see database.Prepared on why).
_PROJECT = Prepared(
    sa.select(t.projects.c.name).where(t.projects.c.name == sa.bindparam("project"))
)
_RUN = sa.select(t.runs.c.id).where(t.runs.c.id == sa.bindparam("run_id"))
_RUN_PREPARED = Prepared(_RUN)
_PARAMS = sa.select(t.run_params.c.key, t.run_params.c.value).where(
    t.run_params.c.run_id == sa.bindparam("run_id"),
    t.run_params.c.key.in_(sa.bindparam("keys", expanding=True)),
)
_TAG = Prepared(
    sa.select(t.run_tags.c.value).where(
        t.run_tags.c.run_id == sa.bindparam("run_id"), t.run_tags.c.key == sa.bindparam("key")
    )
)
_LATEST = Prepared(
    sa.select(t.latest_metrics.c.key, t.latest_metrics.c.step, t.latest_metrics.c.ts).where(
        t.latest_metrics.c.run_id == sa.bindparam("run_id")
    )
)
_LATEST_MOVE = Prepared(
    t.latest_metrics.update()
    .where(
        t.latest_metrics.c.run_id == sa.bindparam("match_run"),
        t.latest_metrics.c.key == sa.bindparam("match_key"),
    )
    .values(value=sa.bindparam("value"), step=sa.bindparam("step"), ts=sa.bindparam("ts"),
            value_nonfinite=sa.bindparam("value_nonfinite"))
)
# A heartbeat: one column of a running run, outside the ledger (see lineal.heartbeat).
_HEARTBEAT = Prepared(
    t.runs.update()
    .where(t.runs.c.id == sa.bindparam("run_id"), t.runs.c.status == "running")
    .values(heartbeat_at=sa.bindparam("at"))
)


class RunsMixin:
    db: Database

    def _ensure_project(self, tx: WriteTx, project: str) -> None:
        if tx.fetchone(_PROJECT, {"project": project}) is None:
            tx.insert(t.projects, [{"name": project, "created_at": tx.ts}], "project.create", project)

    def create_run(self, run: Run, actor: str) -> None:
        with self.db.write(actor) as tx:
            self._ensure_project(tx, run.project)
            if run.parent_id is not None:
                self._require_written_run(tx, run.parent_id)
            tx.insert(
                t.runs,
                [
                    {
                        "id": run.id,
                        "project": run.project,
                        "name": run.name,
                        "kind": run.kind,
                        "status": str(run.status),
                        "started_at": datetime_to_us(run.started_at),
                        "ended_at": datetime_to_us(run.ended_at) if run.ended_at else None,
                        "parent_id": run.parent_id,
                        "experiment": run.experiment,
                        "created_by": actor,
                        "cache_key": run.cache_key,
                        "cached_from": run.cached_from,
                    }
                ],
                "run.create",
                run.id,
            )
            self._insert_params(tx, run.id, run.params, fresh=True)
            self._upsert_tags(tx, run.id, run.tags)

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        ended_at_us: int,
        error: RunError | None,
        actor: str,
        *,
        params: Mapping[str, Any] | None = None,
        metrics: Sequence[MetricPoint] = (),
        tags: Mapping[str, str] | None = None,
    ) -> None:
        with self.db.write(actor) as tx:
            values: dict[str, Any] = {"status": str(status), "ended_at": ended_at_us}
            if error is not None:
                values.update(
                    error_type=error.type,
                    error_message=error.message,
                    error_traceback=error.traceback,
                )
            tx.update(t.runs, {"id": run_id}, values, f"run.{status}", missing=_no_run(run_id))
            self._write_batch(tx, run_id, params, metrics, tags)

    def log_batch(
        self,
        run_id: str,
        actor: str,
        params: Mapping[str, Any] | None = None,
        metrics: Sequence[MetricPoint] = (),
        tags: Mapping[str, str] | None = None,
    ) -> None:
        if not (params or metrics or tags):
            return
        with self.db.write(actor) as tx:
            self._require_written_run(tx, run_id)
            self._write_batch(tx, run_id, params, metrics, tags)
            # A flush is a sign of life too (and costs no extra commit).
            tx.execute(_HEARTBEAT, {"run_id": run_id, "at": tx.ts})

    def heartbeat(self, run_id: str, at_us: int) -> None:
        self.db.execute_unledgered(_HEARTBEAT, {"run_id": run_id, "at": int(at_us)})

    def close_stale_runs(
        self, cutoff_us: int, actor: str, *, project: str | None = None, dry_run: bool = False
    ) -> list[Run]:
        r = t.runs
        last = sa.func.coalesce(r.c.heartbeat_at, r.c.started_at)
        query = (
            sa.select(r.c.id, last.label("last"))
            .where(r.c.status == str(RunStatus.RUNNING), last < int(cutoff_us),
                   *([r.c.project == project] if project is not None else []))
            .order_by(last, r.c.id)
        )
        if dry_run:
            with self.db.read() as conn:
                ids = [row.id for row in conn.execute(query)]
            return self._runs_by_id(ids)
        with self.db.write(actor) as tx:
            # Locked as read: a heartbeat that lands first moves the run out of the answer, one
            # that comes after waits and then finds the run ended (it only touches running runs).
            stale = tx.conn.execute(query.with_for_update()).all()
            for run_id, last_us in stale:
                tx.update(r, {"id": run_id}, {
                    "status": str(RunStatus.KILLED),
                    "ended_at": int(last_us),
                    "error_type": "lineal.Stale",
                    "error_message": stopped_reason(int(last_us)),
                    "error_traceback": "",
                }, "run.killed")
        return self._runs_by_id([row[0] for row in stale])

    def _runs_by_id(self, ids: list[str]) -> list[Run]:
        if not ids:
            return []
        with self.db.read() as conn:
            rows = []
            for chunk in _chunks(ids, 500):
                rows += list(conn.execute(sa.select(t.runs).where(t.runs.c.id.in_(chunk))).mappings())
            by_id = {run.id: run for run in self._hydrate(conn, rows)}
        return [by_id[i] for i in ids if i in by_id]

    def _write_batch(
        self,
        tx: WriteTx,
        run_id: str,
        params: Mapping[str, Any] | None,
        metrics: Sequence[MetricPoint],
        tags: Mapping[str, str] | None,
    ) -> None:
        if params:
            self._insert_params(tx, run_id, params)
        if tags:
            self._upsert_tags(tx, run_id, tags)
        if metrics:
            self._insert_metrics(tx, run_id, metrics)

    def _insert_params(
        self, tx: WriteTx, run_id: str, params: Mapping[str, Any], fresh: bool = False
    ) -> None:
        """``fresh``: the run is being created in this transaction, so it has no params yet."""
        if not params:
            return
        existing: dict[str, str] = {}
        if not fresh:
            existing = dict(tx.conn.execute(_PARAMS, {"run_id": run_id, "keys": list(params)}).all())
        rows = []
        for key, value in params.items():
            _check_key(key, "param")
            text = _param_json(key, value)
            if key in existing:
                if existing[key] != text:
                    raise Conflict(
                        f"param {key!r} of run {run_id} is already {existing[key]}, not {text}",
                        hint="params are immutable once logged; log a new run to change them",
                    )
                continue
            rows.append((run_id, key, text))
        # Column order of `run_params`: run_id, key, value (all strings: already normalised).
        tx.insert_tuples(t.run_params, rows, "run.params", run_id)

    def _upsert_tags(self, tx: WriteTx, run_id: str, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            _check_key(key, "tag")
            row_key = {"run_id": run_id, "key": key}
            present = tx.fetchone(_TAG, row_key)
            if present is None:
                tx.insert(t.run_tags, [{**row_key, "value": str(value)}], "run.tag", run_id)
            elif present[0] != str(value):
                tx.update(t.run_tags, row_key, {"value": str(value)}, "run.tag")

    def _insert_metrics(
        self, tx: WriteTx, run_id: str, points: Sequence[MetricPoint | MetricTuple]
    ) -> None:
        # Each row is built once, already stamped with its ledger entry's sequence number, in
        # the column order of `metrics`: run_id, key, step, ts, value, ledger_seq. A float
        # column gives back 3.0 for an int 3; the ledger digest must hash what a verifier will
        # read back, so store and hash the float.
        seq = tx.next_seq()
        try:
            rows: list[tuple[Any, ...]] = [
                (run_id, key, step, ts, float(value), seq) for key, value, step, ts in points]
        except (TypeError, ValueError) as error:
            raise InvalidArgument(f"a metric point of run {run_id} is not a number: {error}"
                                  ) from None
        # Sorted by key, step, ts (the digest's order, so its own sort finds it done), the
        # last row of each key is its latest point (on a tie of all three, the larger value).
        rows.sort()
        latest = {row[1]: row for row in rows}
        for key in latest:  # each distinct key once; SQLite would not enforce the length
            _check_key(key, "metric")
        digest = metric_digest(rows)
        columns = None
        if any(storable_float(v, tx.dialect) is None for v in _nonfinite(rows)):
            # A value the backend cannot hold: NULL plus its code; the digest covers the value.
            columns = [*ledgered_columns("metrics"), t.NONFINITE]
            rows = [(*row[:4], *encode_float(row[4], tx.dialect), seq) for row in rows]
        tx.insert_stamped(t.metrics, rows, digest, "run.metrics", run_id, columns)
        self._update_latest(tx, run_id, latest)

    def _update_latest(
        self, tx: WriteTx, run_id: str, latest: dict[str, tuple[Any, ...]]
    ) -> None:
        # All of the run's keys (a few, usually): a prepared statement cannot take an IN list.
        # ``latest``: key -> row (run_id, key, step, ts, value, ...).
        current = {
            key: (step, ts)
            for key, step, ts in tx.execute(_LATEST, {"run_id": run_id}).fetchall()
        }
        inserts = []
        for key, row in latest.items():
            step, ts = row[2], row[3]
            value, code = encode_float(row[4], tx.dialect)
            values = {"value": value, "value_nonfinite": code, "step": step, "ts": ts}
            if key not in current:
                inserts.append({"run_id": run_id, "key": key, **values})
            elif (step, ts) >= current[key]:
                tx.execute(_LATEST_MOVE, {"match_run": run_id, "match_key": key, **values})
        tx.insert_unledgered(t.latest_metrics, inserts)

    # -- reads -----------------------------------------------------------------------------------
    def _require_run(self, conn: Connection, run_id: str) -> None:
        if conn.execute(_RUN, {"run_id": run_id}).first() is None:
            raise _no_run(run_id)

    def _require_written_run(self, tx: WriteTx, run_id: str) -> None:
        if tx.fetchone(_RUN_PREPARED, {"run_id": run_id}) is None:
            raise _no_run(run_id)

    def get_run(self, run_id: str) -> Run:
        with self.db.read() as conn:
            row = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).mappings().first()
            if row is None:
                raise NotFound(f"no run with id {run_id!r}", hint="list runs with `lineal runs list`")
            return self._hydrate(conn, [row])[0]

    def run_ids_with_prefix(self, prefix: str, limit: int = 5) -> list[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = (
            sa.select(t.runs.c.id)
            .where(t.runs.c.id.like(escaped + "%", escape="\\"))
            .order_by(t.runs.c.id)
            .limit(limit)
        )
        with self.db.read() as conn:
            return [row[0] for row in conn.execute(query)]

    def list_runs(self, flt: RunFilter) -> list[Run]:
        r = t.runs
        query = sa.select(r)
        conditions = []
        for column, value in (
            (r.c.project, flt.project),
            (r.c.name, flt.name),
            (r.c.kind, flt.kind),
            (r.c.status, str(flt.status) if flt.status else None),
            (r.c.experiment, flt.experiment),
            (r.c.parent_id, flt.parent_id),
            (r.c.cache_key, flt.cache_key),
        ):
            if value is not None:
                conditions.append(column == value)
        if flt.started_after_us is not None:
            conditions.append(r.c.started_at >= flt.started_after_us)
        if flt.started_before_us is not None:
            conditions.append(r.c.started_at < flt.started_before_us)
        for key, value in flt.tags.items():
            tag = t.run_tags.alias()
            conditions.append(
                sa.exists().where(tag.c.run_id == r.c.id, tag.c.key == key, tag.c.value == value)
            )
        query = query.where(*conditions).order_by(r.c.started_at.desc(), r.c.id.desc())
        query = query.limit(flt.limit).offset(flt.offset)
        with self.db.read() as conn:
            rows = list(conn.execute(query).mappings())
            return self._hydrate(conn, rows)

    def _hydrate(self, conn: Connection, rows: Sequence[Any]) -> list[Run]:
        """``rows`` of ``runs`` (mappings) as Runs with their params, tags and latest metrics.

        A page of 100 runs brings some 3,000 child rows: they are read in three statements
        (one per table, ``run_id IN`` the page's ids) compiled once per dialect and run on the
        driver's cursor, in the caller's read transaction (its snapshot). Building, compiling
        and expanding the ``IN`` of a Core statement at each call, and wrapping each row, took
        more than SQLite's work; the usual param values are decoded without json.loads."""
        ids = [row["id"] for row in rows]
        params: dict[str, dict[str, Any]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
        if ids:
            if not conn.in_transaction():
                conn.begin()  # the three reads share one snapshot
            cursor = conn.connection.cursor()
            try:
                for chunk in _chunks(ids, _ID_BUCKETS[-1]):
                    for run_id, key, value in _child_rows(conn, cursor, "run_params", chunk):
                        params[run_id][key] = _param_value(value)
                    for run_id, key, value in _child_rows(conn, cursor, "run_tags", chunk):
                        tags[run_id][key] = value
                    for run_id, key, value, code in _child_rows(conn, cursor, "latest_metrics",
                                                                chunk):
                        metrics[run_id][key] = decode_float(value, code)
            finally:
                cursor.close()
        return [_run_from_row(row, params[row["id"]], tags[row["id"]], metrics[row["id"]])
                for row in rows]

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        m = t.metrics
        query = (
            sa.select(m.c.key, m.c.value, m.c.step, m.c.ts, m.c.value_nonfinite)
            .where(m.c.run_id == run_id, m.c.key == key)
            .order_by(m.c.step, m.c.ts)
        )
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            return [
                MetricPoint(k, decode_float(v, code), s, ts)
                for k, v, s, ts, code in conn.execute(query)
            ]


def _nonfinite(rows: list[tuple[Any, ...]]) -> list[float]:
    """The values of ``rows`` (field 4) that are NaN or infinite: a sum in C finds that there
    are none, the usual case; only a sum that is not finite looks at each value."""
    if math.isfinite(sum(map(_VALUE, rows))):
        return []
    return [row[4] for row in rows if not math.isfinite(row[4])]


def _run_from_row(
    row: Any, params: dict[str, Any], tags: dict[str, str], metrics: dict[str, float]
) -> Run:
    error = None
    if row["error_type"]:
        error = RunError(row["error_type"], row["error_message"] or "", row["error_traceback"] or "")
    return Run(
        id=row["id"],
        project=row["project"],
        name=row["name"],
        kind=row["kind"],
        status=RunStatus(row["status"]),
        started_at=us_to_datetime(row["started_at"]),  # type: ignore[arg-type]
        ended_at=us_to_datetime(row["ended_at"]),
        parent_id=row["parent_id"],
        experiment=row["experiment"],
        params=params,
        tags=tags,
        metrics=metrics,
        error=error,
        created_by=row["created_by"],
        cache_key=row["cache_key"],
        cached_from=row["cached_from"],
        heartbeat_at=us_to_datetime(row["heartbeat_at"]),
    )


def _param_value(text: str) -> Any:
    """A param's stored canonical JSON decoded: a string without escapes and a non-negative
    integer (most params) directly, anything else by json.loads."""
    if text[:1] == '"' and "\\" not in text:
        return text[1:-1]
    if text.isdigit() and text.isascii():
        return int(text)
    return json.loads(text)


def _no_run(run_id: str) -> NotFound:
    return NotFound(f"no run with id {run_id!r}", hint="list runs with `lineal runs list`")


def _param_json(key: str, value: Any) -> str:
    check_param_value(key, value)  # before json.dumps, which would recurse past the stack
    try:
        return canonical_json(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(
            f"param {key!r} has a value of type {type(value).__name__} that is not JSON",
            hint="params must be str, int, float, bool, None, or lists/dicts of those",
        ) from exc


def _check_key(key: str, what: str) -> None:
    if not isinstance(key, str) or not key or len(key) > t.KEY or "\x00" in key:
        raise InvalidArgument(f"invalid {what} key {repr(key)[:60]}",
                              hint=f"use 1-{t.KEY} characters, no NUL")


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


#: Sizes a page's run ids are padded to (repeating the last id, which IN ignores), so that each
#: child table has a few statements compiled once per dialect whatever the page size.
_ID_BUCKETS = (1, 8, 32, 128, 512)
#: The columns a run's children are read with, by table (the run id first).
_CHILD_COLUMNS = {
    "run_params": ("run_id", "key", "value"),
    "run_tags": ("run_id", "key", "value"),
    "latest_metrics": ("run_id", "key", "value", "value_nonfinite"),
}


@functools.cache
def _children_of(table: str, size: int) -> Prepared:
    """``SELECT <_CHILD_COLUMNS> FROM table WHERE run_id IN (:id0, ..., :id<size-1>)``."""
    columns = t.metadata.tables[table].c
    return Prepared(sa.select(*[columns[name] for name in _CHILD_COLUMNS[table]]).where(
        columns.run_id.in_([sa.bindparam(f"id{i}") for i in range(size)])))


def _child_rows(conn: Connection, cursor: Any, table: str, ids: list[str]) -> list[Any]:
    """The rows of ``table`` (a run's params, tags or latest metrics) whose run is in ``ids``
    (at most ``_ID_BUCKETS[-1]``), as the driver's tuples."""
    size = next(b for b in _ID_BUCKETS if b >= len(ids))
    padded = ids + [ids[-1]] * (size - len(ids))
    sql, args = _children_of(table, size).arguments(
        conn.dialect, {f"id{i}": run_id for i, run_id in enumerate(padded)})
    return list(run_on_driver(conn, cursor, "execute", sql, args).fetchall())
