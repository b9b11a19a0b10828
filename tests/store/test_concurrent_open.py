"""Several processes opening the same empty database at once: one creates the schema (under
the migration lock), the others wait for it and then use it. Before the lock, all but one
failed with raw "relation already exists" / "table already exists" errors."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

import lineal
from lineal.store import open_store
from lineal.store.sql.store import SCHEMA_REVISION

from ._concurrent_opener import open_and_write

pytestmark = pytest.mark.sql  # the SQL implementation itself, not the contract

PROCESSES = 4


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mysql"])
def test_processes_opening_an_empty_database_at_once_all_succeed(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "sqlite":
        uri = str(tmp_path / "store")
    else:
        uri = request.getfixturevalue("pg_url" if backend == "postgres" else "mysql_url")
    artifacts = str(tmp_path / "blobs")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    workers = [ctx.Process(target=open_and_write, args=(uri, artifacts, w, barrier, results))
               for w in range(PROCESSES)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    failures = [f"worker {w}:\n{error}" for w, error in outcomes if error]
    assert not failures, "\n".join(failures)

    store = open_store(uri, artifacts=artifacts)
    try:
        assert store.metadata.schema_revision() == SCHEMA_REVISION
        names = sorted(r.name for r in lineal.list_runs(store=store))
        assert names == [f"opener-{w}" for w in range(PROCESSES)]
        assert lineal.audit.verify(store=store).ok
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["postgres", "mysql"])
def test_an_opener_waits_for_a_migration_in_progress(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A database part-way through its migrations (MySQL commits each DDL statement) while
    another process holds the migration lock: opening it waits for that process instead of
    reporting the part-way revision as an outdated schema."""
    import threading
    import time

    import sqlalchemy as sa

    from lineal.store.sql.migrate import upgrade
    from lineal.store.sql.opening import migration_lock

    uri = request.getfixturevalue("pg_url" if backend == "postgres" else "mysql_url")
    engine = sa.create_engine(uri)
    upgrade(engine, "0001")
    held, done = threading.Event(), threading.Event()

    def migrate_slowly() -> None:
        with migration_lock(engine, None):
            held.set()
            time.sleep(1.5)
            upgrade(engine)
        done.set()

    thread = threading.Thread(target=migrate_slowly)
    thread.start()
    try:
        assert held.wait(30)
        store = open_store(uri, artifacts=str(tmp_path / "blobs"))  # waits for the lock
        assert done.is_set()
        assert store.metadata.schema_revision() == SCHEMA_REVISION
        store.close()
    finally:
        thread.join(60)
        engine.dispose()
