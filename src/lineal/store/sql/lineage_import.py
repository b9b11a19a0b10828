"""Bulk import of runs, artifact versions and edges: one transaction, all or nothing.

The batch is checked completely before anything is written (:mod:`lineal.store.import_check`:
keys, names, statuses, directions, versions, digests; here: references to stored nodes), so bad
input raises :class:`~lineal.store.types.BadImport` naming the item and writes nothing; a problem only the database can see (a version number taken
meanwhile) rolls the whole transaction back.

Speed comes from writing each table with batched statements (``executemany``, which the drivers
turn into multi-row inserts) and from ledgering append-only rows (versions, edges, params,
metrics) one ledger entry per chunk. Runs, artifact names and tags are mutable rows, which the
ledger verifier requires to have one entry each; those entries are still computed in Python and
written in one batched statement (:meth:`WriteTx.insert_each`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...entities import MetricPoint
from ...errors import InvalidArgument, NotFound, StoreError
from ...refs import parse_ref
from ..import_check import ImportPlan, bulk_ids, check_batch, fail, merge_run
from ..lineage_base import ImportArtifact, ImportBatch, ImportRun
from . import tables as t
from .database import WriteTx, encode_float, ledgered_columns

if TYPE_CHECKING:
    from .lineage import LineageMixin

__all__ = ["Progress", "import_batch"]

CHUNK = 5000
"""Rows per statement and per ledger entry of an append-only table."""
Progress = Callable[[int, int], None]
"""Called with (rows written, rows in the batch) as the import advances."""



# Rows are built as tuples in these column orders (the fast path of WriteTx.insert_tuples);
# _layout_ok() checks them against the schema once, so a schema change cannot skew them silently.
_LAYOUTS = {
    "runs": ("id", "project", "name", "kind", "status", "started_at", "ended_at", "parent_id",
             "experiment", "error_type", "error_message", "error_traceback", "created_by",
             "cache_key", "cached_from"),
    "artifacts": ("id", "project", "name", "kind", "created_at", "latest_version"),
    "artifact_versions": ("id", "artifact_id", "project", "name", "version", "kind", "digest",
                          "uri", "size", "storage", "is_directory", "metadata", "created_at",
                          "created_by", "producer_run_id"),
    "edges": ("run_id", "version_id", "direction", "role", "created_at"),
    "run_params": ("run_id", "key", "value"),
    "run_tags": ("run_id", "key", "value"),
    "metrics": ("run_id", "key", "step", "ts", "value"),
}


def _layout_ok() -> None:
    for table, columns in _LAYOUTS.items():
        if tuple(ledgered_columns(table)) != columns:
            raise StoreError(f"bulk import does not know the columns of {table!r} in this schema",
                             hint="update lineal.store.sql.lineage_import._LAYOUTS")


def _resolve_stored(store: LineageMixin, conn: Connection, batch: ImportBatch, plan: ImportPlan) -> None:
    """References to runs and artifact versions already in the store."""
    run_refs: dict[str, tuple[str, int]] = {}
    for index, run in enumerate(batch.runs):
        if run.parent is not None and run.parent not in plan.ids:
            run_refs.setdefault(run.parent, ("runs", index))
    for index, edge in enumerate(batch.edges):
        if edge.run not in plan.ids:
            run_refs.setdefault(edge.run, ("edges", index))
    found = _existing(conn, t.runs, list(run_refs))
    for ref, (section, index) in run_refs.items():
        if ref not in found:
            raise fail(section, index, f"{_where(section, index)} names run {ref!r}, which is "
                        "neither a run key of this file nor a stored run id",
                        "define the run before using it, or give the id of a stored run")
    plan.stored_runs = found
    art_refs: dict[str, int] = {}
    for index, edge in enumerate(batch.edges):
        if edge.artifact not in plan.ids:
            art_refs.setdefault(edge.artifact, index)
    plain = [ref for ref in art_refs if "@" not in ref]
    stored = _existing(conn, t.artifact_versions, plain)
    for ref, index in art_refs.items():
        if ref in stored:
            plan.stored_versions[ref] = ref
            continue
        if "@" in ref:
            try:
                plan.stored_versions[ref] = store._resolve(conn, parse_ref(ref)).id  # type: ignore[attr-defined]
                continue
            except (NotFound, InvalidArgument) as error:
                raise fail("edges", index, f"edge #{index + 1}: artifact {ref!r} does not "
                            f"resolve: {error.message}") from None
        raise fail("edges", index, f"edge #{index + 1} names artifact {ref!r}, which is not an "
                    "artifact key of this file, a stored version id or a reference",
                    "define the artifact before the edge, or write a reference such as name@v3")


def _where(section: str, index: int) -> str:
    return f"edge #{index + 1}" if section == "edges" else f"run #{index + 1}"


def _existing(conn: Connection, table: sa.Table, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(row[0] for row in conn.execute(sa.select(table.c.id).where(table.c.id.in_(chunk))))
    return found


def import_batch(
    store: LineageMixin, batch: ImportBatch, actor: str, progress: Progress | None = None
) -> dict[str, str]:
    """Write ``batch`` in one transaction; returns ``{key: stored id}`` (an artifact whose name
    and digest are already stored maps to the stored version, which is not written again)."""
    _layout_ok()
    plan = check_batch(batch)
    with store.db.read() as conn:
        _resolve_stored(store, conn, batch, plan)
    total = batch.size
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    with store.db.write(actor) as tx:
        _bulk_settings(tx, batch.size)
        writer = _Writer(tx, plan, batch, actor, advance, store)
        for project in sorted({*(r.project for r in batch.runs), *(a.project for a in batch.artifacts)}):
            store._ensure_project(tx, project)  # type: ignore[attr-defined]
        writer.runs()
        writer.artifacts()
        writer.edges()
    return dict(plan.ids)


#: SQLite page cache during a big import. The indexes on content digests take keys in random
#: order, so each insert lands on any page of an index as large as the store: a cache sized to
#: the batch (as it once was) made the load rate fall from 90k to 27k items/s between a 10k- and
#: a 1M-node store. Pages are allocated only as they are read, so a small store uses little.
CACHE_KIB = 256 * 1024
BULK_CHECKPOINT_PAGES = 100_000  # 390 MiB of WAL


def _bulk_settings(tx: WriteTx, rows: int) -> None:
    """On SQLite, for a big batch (``rows``): a page cache large enough for the indexes being
    extended (the default 2 MB makes every index insert a read from the file), and no WAL
    checkpoint at its commit unless the WAL passes BULK_CHECKPOINT_PAGES. A batch dirties pages
    all over the random-keyed indexes (digests), more than the usual checkpoint threshold, so
    each batch of a series would otherwise pay a checkpoint and its fsyncs; this way a series
    of batches checkpoints every few hundred MiB. Both are restored once the transaction has
    ended, because the connection goes back to the pool (a later ordinary commit then
    checkpoints as usual)."""
    if tx.dialect != "sqlite" or rows < 10_000:
        return
    # On the driver's connection: a statement through SQLAlchemy after the transaction ended
    # would begin another one (BEGIN IMMEDIATE, the write lock) just to set a pragma.
    raw = tx.conn.connection.driver_connection
    assert raw is not None  # a connection in a transaction is checked out: never detached
    cache = raw.execute("PRAGMA cache_size").fetchone()[0]
    checkpoint = raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    raw.execute(f"PRAGMA cache_size = {-CACHE_KIB}")
    raw.execute(f"PRAGMA wal_autocheckpoint = {BULK_CHECKPOINT_PAGES}")

    def restore() -> None:
        raw.execute(f"PRAGMA cache_size = {int(cache)}")
        raw.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint)}")

    tx.on_release.append(restore)


class _Writer:
    def __init__(self, tx: WriteTx, plan: ImportPlan, batch: ImportBatch, actor: str,
                 advance: Callable[[int], None], store: LineageMixin) -> None:
        self.tx, self.plan, self.batch, self.actor, self.advance = tx, plan, batch, actor, advance
        self.store = store
        self.merged: set[str] = set()
        """Ids of runs of the batch that were already stored (merged, not inserted)."""
        self.fresh: set[str] = set()
        """Keys of the artifacts whose versions this batch writes (not already stored)."""
        self.entity = f"import:{plan.ids[next(iter(plan.ids))] if plan.ids else 'empty'}"
        self.producer: dict[str, str] = {}
        for edge in batch.edges:
            if edge.direction == "output" and edge.artifact in plan.ids:
                self.producer.setdefault(edge.artifact, self._run_id(edge.run))

    def _run_id(self, ref: str) -> str:
        return self.plan.ids.get(ref, ref)

    def _append_only(self, table: sa.Table, rows: list[tuple[Any, ...]], action: str,
                     counts: bool = True) -> None:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            self.tx.insert_tuples(table, chunk, action, self.entity)
            if counts:
                self.advance(len(chunk))

    def _metrics(self, rows: list[tuple[Any, ...]]) -> None:
        """Metric rows as the run path writes them: the digest covers the value, and a value
        the backend cannot hold is stored as NULL plus its code (see tables.NONFINITE)."""
        dialect = self.tx.dialect
        columns = [*ledgered_columns("metrics"), t.NONFINITE]
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            coded = [(*row[:4], *encode_float(row[4], dialect)) for row in chunk]
            stored = (columns, coded) if any(row[5] is not None for row in coded) else None
            self.tx.insert_tuples(t.metrics, chunk, "import.run.metrics", self.entity, stored)

    def _stored_runs(self) -> dict[str, Any]:
        """The stored rows of the runs the batch gives an id, locked (they are merged)."""
        wanted = sorted({run.id for run in self.batch.runs if run.id is not None})
        found: dict[str, Any] = {}
        for start in range(0, len(wanted), 500):
            query = (sa.select(t.runs).where(t.runs.c.id.in_(wanted[start : start + 500]))
                     .with_for_update())
            found.update((row.id, row._mapping) for row in self.tx.conn.execute(query))
        return found

    def _merge(self, run: ImportRun, stored: Any, parent: str | None) -> None:
        index = self.batch.runs.index(run)
        changes = merge_run(stored, run, index, parent)
        if changes:
            self.tx.update(t.runs, {"id": run.id}, changes, "import.run.merge")
        if run.placeholder:
            return
        points = [MetricPoint(key, float(value), 0, run.ended_at_us or run.started_at_us)
                  for key, value in run.metrics.items()]
        self.store._write_batch(self.tx, stored["id"], run.params, points, run.tags)  # type: ignore[attr-defined]

    def runs(self) -> None:
        ids, dialect, actor = self.plan.ids, self.tx.dialect, self.actor
        rows: list[tuple[Any, ...]] = []
        params: list[tuple[str, str, str]] = []
        tags: list[tuple[str, str, str]] = []
        metrics: list[tuple[str, str, int, int, float]] = []
        latest: list[dict[str, Any]] = []
        stored = self._stored_runs() if any(r.id is not None for r in self.batch.runs) else {}
        for run in self.plan.runs:
            run_id = ids[run.key]
            parent = None if run.parent is None else ids.get(run.parent, run.parent)
            if run_id in stored:
                self.merged.add(run_id)
                self._merge(run, stored[run_id], parent)
                self.advance(1)
                continue
            error = run.error
            rows.append((run_id, run.project, run.name, run.kind, run.status, run.started_at_us,
                         run.ended_at_us, parent, None, error and error.type,
                         error and error.message, error and error.traceback, actor, None, None))
            if run.params:
                params.extend((run_id, k, text) for k, text in self.plan.params[run.key])
            if run.tags:
                tags.extend((run_id, k, str(v)) for k, v in run.tags.items())
            ts = run.ended_at_us if run.ended_at_us is not None else run.started_at_us
            for key, value in run.metrics.items():
                number = float(value)
                # Not `stored`: that is the stored runs, asked again for the next run.
                column, code = encode_float(number, dialect)
                metrics.append((run_id, key, 0, ts, number))
                latest.append({"run_id": run_id, "key": key, "value": column,
                               t.NONFINITE: code, "step": 0, "ts": ts})
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            self.tx.insert_each(t.runs, chunk, "import.run")
            self.advance(len(chunk))
        self._append_only(t.run_params, params, "import.run.params", counts=False)
        for start in range(0, len(tags), CHUNK):
            self.tx.insert_each(t.run_tags, tags[start : start + CHUNK], "import.run.tag")
        self._metrics(metrics)
        for start in range(0, len(latest), CHUNK):
            self.tx.insert_unledgered(t.latest_metrics, latest[start : start + CHUNK])

    def artifacts(self) -> None:
        arts = self.batch.artifacts
        if not arts:
            return
        names = _lock_names(self.tx.conn, {(a.project, a.name) for a in arts})
        stored = _stored_versions(self.tx.conn, names, arts)
        next_version = {key: info[1] for key, info in names.items()}
        new_names: dict[tuple[str, str], tuple[str, str]] = {}
        fresh = iter(bulk_ids(len({(a.project, a.name) for a in arts} - set(names))))
        rows = []
        skipped = 0
        for index, art in enumerate(arts):
            where = (art.project, art.name)
            if where not in names and where not in new_names:
                new_names[where] = (next(fresh), art.kind)
                next_version[where] = 0
            artifact_id = names[where][0] if where in names else new_names[where][0]
            same = stored["digests"].get((artifact_id, art.digest))
            if same is not None:
                if art.version is not None and art.version != same[1]:
                    raise fail("artifacts", index, f"artifact {art.key!r}: {art.project}/"
                                f"{art.name} already has this digest as v{same[1]}, not "
                                f"v{art.version}")
                self.plan.ids[art.key] = same[0]
                skipped += 1
                continue
            version = art.version
            if version is None:
                version = next_version[where] + 1
            elif (artifact_id, version) in stored["versions"]:
                raise fail("artifacts", index, f"artifact {art.key!r}: {art.project}/{art.name}"
                            f"@v{version} is already stored with another digest",
                            "leave out 'version' to append as the next version")
            next_version[where] = max(next_version[where], version)
            self.fresh.add(art.key)
            rows.append((
                self.plan.ids[art.key], artifact_id, art.project, art.name, version, art.kind,
                art.digest, art.uri, art.size, "reference", 0, self.plan.metadata[index],
                art.created_at_us, self.actor, self.producer.get(art.key),
            ))
        self._check_version_clash(rows)
        self.tx.insert_each(t.artifacts, [
            (aid, p, n, kind, self.tx.ts, next_version[(p, n)])
            for (p, n), (aid, kind) in new_names.items()
        ], "import.artifact")
        self.tx.update_each(t.artifacts, {
            artifact_id: {"latest_version": next_version[where]}
            for where, (artifact_id, latest) in names.items() if next_version[where] > latest
        }, "import.artifact.version")
        self.advance(skipped)
        self._append_only(t.artifact_versions, rows, "import.artifact.versions")

    def _check_version_clash(self, rows: list[tuple[Any, ...]]) -> None:
        seen: dict[tuple[str, int], int] = {}
        for i, row in enumerate(rows):
            mark = (row[1], row[4])  # artifact_id, version
            if mark in seen:
                # An explicit version equal to one numbered automatically earlier in the file.
                index = next(j for j, a in enumerate(self.batch.artifacts)
                             if self.plan.ids.get(a.key) == row[0])
                raise fail("artifacts", index, f"artifact {self.batch.artifacts[index].key!r}: "
                            f"version {row[4]} of {row[2]}/{row[3]} is given twice",
                            "number every version of a name explicitly, or none")
            seen[mark] = i

    def edges(self) -> None:
        ids, ts = self.plan.ids, self.tx.ts
        rows = []
        between_stored = []
        for edge in self.batch.edges:
            run_id = ids.get(edge.run, edge.run)
            version_id = ids.get(edge.artifact) or self.plan.stored_versions[edge.artifact]
            rows.append((run_id, version_id, edge.direction, edge.role, ts))
            if (edge.run not in ids or run_id in self.merged) and edge.artifact not in self.fresh:
                between_stored.append(rows[-1])
        if between_stored:
            # Re-importing an edge that is already stored is not an error; it is not written twice.
            present = _present_edges(self.tx.conn, between_stored)
            skipped = len(rows)
            rows = [row for row in rows if row[:4] not in present]
            self.advance(skipped - len(rows))
        self._append_only(t.edges, rows, "import.edges")


def _lock_names(conn: Connection, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, int]]:
    """The stored artifacts among ``wanted`` names, locked: ``{(project, name): (id, latest)}``."""
    a = t.artifacts
    by_project: dict[str, list[str]] = defaultdict(list)
    for project, name in wanted:
        by_project[project].append(name)
    found: dict[tuple[str, str], tuple[str, int]] = {}
    for project, names in by_project.items():
        for start in range(0, len(names), 500):
            query = (
                sa.select(a.c.id, a.c.name, a.c.latest_version)
                .where(a.c.project == project, a.c.name.in_(names[start : start + 500]))
                .with_for_update()
            )
            for row in conn.execute(query):
                found[(project, row.name)] = (row.id, int(row.latest_version))
    return found


def _stored_versions(
    conn: Connection, names: dict[tuple[str, str], tuple[str, int]], arts: Sequence[ImportArtifact]
) -> dict[str, dict[Any, tuple[str, int]]]:
    """Stored versions of the locked names that the batch could collide with, by digest and by
    explicit version number."""
    av = t.artifact_versions
    ids = {info[0] for info in names.values()}
    out: dict[str, dict[Any, tuple[str, int]]] = {"digests": {}, "versions": {}}
    if not ids:
        return out
    digests = sorted({a.digest for a in arts if (a.project, a.name) in names})
    for start in range(0, len(digests), 500):
        query = sa.select(av.c.artifact_id, av.c.digest, av.c.id, av.c.version).where(
            av.c.digest.in_(digests[start : start + 500])
        )
        for row in conn.execute(query):
            if row.artifact_id in ids:
                out["digests"][(row.artifact_id, row.digest)] = (row.id, int(row.version))
    versions = sorted({a.version for a in arts if a.version is not None and (a.project, a.name) in names})
    id_list = sorted(ids)
    for start in range(0, len(id_list), 500):
        for vstart in range(0, len(versions), 500):
            query = sa.select(av.c.artifact_id, av.c.id, av.c.version).where(
                av.c.artifact_id.in_(id_list[start : start + 500]),
                av.c.version.in_(versions[vstart : vstart + 500]),
            )
            for taken in conn.execute(query):
                out["versions"][(taken.artifact_id, int(taken.version))] = (
                    taken.id, int(taken.version))
    return out


def _present_edges(conn: Connection, rows: list[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    e = t.edges
    present: set[tuple[Any, ...]] = set()
    run_ids = sorted({row[0] for row in rows})
    for start in range(0, len(run_ids), 500):
        query = sa.select(e.c.run_id, e.c.version_id, e.c.direction, e.c.role).where(
            e.c.run_id.in_(run_ids[start : start + 500])
        )
        present.update(tuple(row) for row in conn.execute(query))
    return present
